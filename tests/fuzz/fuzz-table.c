/* libFuzzer target: load + validate any bytes; the line scanner must agree with libiniparser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <iniparser.h>

#include "portpilot/table.h"
#include "portpilot/util.h"
#include "../../core/ini-doc.h"

/* The value span the editor would replace must be what libiniparser read. */
static void
check_spans(const struct pp_table *t)
{
	struct pp_ini_line *lines;
	size_t n;

	if (t->parse.n)
		return; /* duplicates or skipped lines: positions may legitimately differ */
	n = pp_ini_scan(t->text, t->text_len, &lines);
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		for (int f = 0; f < PP_F__COUNT; f++) {
			const struct pp_ini_line *l;
			const char *v;
			size_t len;
			if (!m->key_line[f] || !m->val[f])
				continue;
			if ((size_t)m->key_line[f] > n)
				abort();
			l = &lines[m->key_line[f] - 1];
			v = l->s + l->vstart;
			len = l->vend - l->vstart;
			if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[1] != v[0]) {
				const char *q = memchr(v + 1, v[0], len - 1);
				len = q ? (size_t)(q - v - 1) : len - 1;
				v++;
			} else if (len == 2 && (v[0] == '"' || v[0] == '\'') && v[1] == v[0]) {
				len = 0; /* "" reads as empty */
			}
			if (strlen(m->val[f]) != len || memcmp(v, m->val[f], len) != 0)
				abort();
		}
	}
	free(lines);
}

static int
quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

/* One value as libiniparser itself read it must be the model's (NULL: not in the file). */
static void
same_as_ini(dictionary *d, const char *section, const char *key, const char *val)
{
	char *k = pp_xasprintf("%s:%s", section, key);
	const char *iv = iniparser_getstring(d, k, NULL);

	if ((iv == NULL) != (val == NULL) || (iv && strcmp(iv, val) != 0))
		abort();
	free(k);
}

/* The oracle of the loader's values: libiniparser 4.1 reading the same bytes (without a BOM). */
static void
check_values(const struct pp_table *t, const uint8_t *data, size_t size)
{
	char path[64];
	dictionary *d;
	int fd;

	if (t->parse.n)
		return; /* skipped or repeated lines: libiniparser reads them differently, and says nothing */
	if (size >= 3 && memcmp(data, PP_UTF8_BOM, 3) == 0)
		data += 3, size -= 3;
	fd = memfd_create("fuzz-ini", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	iniparser_set_error_callback(quiet);
	d = iniparser_load(path);
	close(fd);
	if (d == NULL)
		abort();
	for (size_t i = 0; i < t->n; i++)
		for (int f = 0; f < PP_F__COUNT; f++)
			same_as_ini(d, t->maps[i].name, pp_field_name(f), t->maps[i].val[f]);
	for (int f = 0; f < PP_S__COUNT; f++)
		same_as_ini(d, "site", pp_site_field_name(f), t->site.val[f]);
	iniparser_freedict(d);
}

/* Each mapping as one string: name, then every value, one per line (a name has no newline). */
static char **
snapshot(const struct pp_table *t)
{
	char **v = pp_xcalloc(t->n + 1, sizeof *v);
	for (size_t i = 0; i < t->n; i++) {
		struct pp_buf b = { 0 };
		pp_buf_addstr(&b, t->maps[i].name);
		for (int f = 0; f < PP_F__COUNT; f++)
			pp_buf_printf(&b, "\n%s", t->maps[i].val[f] ? t->maps[i].val[f] : "(unset)");
		v[i] = b.data; /* a name is never empty here: data is set */
	}
	return v;
}

static void
free_snapshot(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static bool
named(const char *snap, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return name && strncmp(snap, name, n) == 0 && snap[n] == '\n';
}

/*
 * After an edit, the mappings other than `was` (before) and `now` (after) read the
 * same, in the same order; when both are given (a rename), their values are equal.
 */
static void
same_except(char **before, const struct pp_table *t, const char *was, const char *now)
{
	char **after = snapshot(t);
	const char *wv = NULL, *nv = NULL;
	size_t j = 0;

	for (size_t i = 0; before[i]; i++) {
		if (named(before[i], was)) {
			wv = strchr(before[i], '\n');
			continue;
		}
		while (after[j] && named(after[j], now))
			nv = strchr(after[j++], '\n');
		if (after[j] == NULL || strcmp(before[i], after[j]) != 0)
			abort();
		j++;
	}
	while (after[j] && named(after[j], now))
		nv = strchr(after[j++], '\n');
	if (after[j] != NULL || (was && now && (wv == NULL || nv == NULL || strcmp(wv, nv) != 0)))
		abort();
	free_snapshot(after);
}

/* Set a key through the core: refused, or read back exactly. */
static void
set_reads_back(struct pp_table *t, const char *name, const char *key, const char *value)
{
	struct pp_error err;
	struct pp_mapping *m;
	int f = pp_field_lookup(key);

	if (pp_table_set(t, name, key, value, &err) < 0)
		return;
	m = pp_table_find(t, name);
	if (m == NULL || m->val[f] == NULL || strcmp(m->val[f], value) != 0)
		abort();
	check_spans(t);
}

/* Rename, delete and add through the core: the target changes, nothing else does. */
static void
check_structure_edits(struct pp_table *t)
{
	struct pp_error err;
	char **before;
	char *name;
	size_t n;

	if (t->n == 0 || t->parse.n)
		return;
	name = pp_xstrdup(t->maps[0].name);
	before = snapshot(t);
	n = t->n;
	if (pp_table_rename(t, name, "fuzz-renamed", &err) == 0) {
		if (t->n != n || pp_table_find(t, "fuzz-renamed") == NULL || t->parse.n)
			abort();
		same_except(before, t, name, "fuzz-renamed");
		check_spans(t);
		free(name);
		name = pp_xstrdup("fuzz-renamed");
		free_snapshot(before);
		before = snapshot(t);
	}
	if (pp_table_del(t, name, &err) == 0) {
		if (t->n != n - 1 || pp_table_find(t, name) != NULL || t->parse.n)
			abort();
		same_except(before, t, name, NULL);
		check_spans(t);
	}
	free_snapshot(before);
	before = snapshot(t);
	if (pp_table_find(t, "fuzz-added") == NULL && pp_table_add(t, "fuzz-added", &err) == 0) {
		if (pp_table_find(t, "fuzz-added") == NULL || t->parse.n)
			abort();
		same_except(before, t, NULL, "fuzz-added");
		check_spans(t);
	}
	free_snapshot(before);
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_table *t;
	struct pp_findings fs = { 0 };
	struct pp_error err;

	if (memchr(data, '\0', size) || size > 65536)
		return 0;
	if (pp_table_load_mem("fuzz.ini", (const char *)data, size, &t, &err) < 0)
		return 0;
	pp_table_check(t, 1790000000, &fs);
	check_values(t, data, size);
	check_spans(t);
	/* An edit through the core must read back exactly, or be refused: a value the
	 * file holds (the last mapping's description), and any typed one (the last line). */
	if (t->n > 0 && t->parse.n == 0) {
		char *name = pp_xstrdup(t->maps[0].name);
		const char *d = t->maps[t->n - 1].val[PP_F_DESCRIPTION];
		const char *nl = memrchr(data, '\n', size), *last = nl ? nl + 1 : (const char *)data;
		char *value = d ? pp_xstrdup(d) : NULL; /* the edit re-reads the model */
		if (value)
			set_reads_back(t, name, "owner", value);
		free(value);
		value = pp_xstrndup(last, size - (size_t)(last - (const char *)data));
		set_reads_back(t, name, "owner", value);
		free(name);
		free(value);
	}
	check_structure_edits(t);
	pp_findings_free(&fs);
	pp_table_free(t);
	return 0;
}
