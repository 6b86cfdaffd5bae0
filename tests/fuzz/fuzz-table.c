/* libFuzzer target: load + validate any bytes; the line scanner must agree with libiniparser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	check_spans(t);
	/* An edit through the core must read back exactly, or be refused. */
	if (t->n > 0 && t->parse.n == 0) {
		char *name = pp_xstrdup(t->maps[0].name);
		const char *d = t->maps[t->n - 1].val[PP_F_DESCRIPTION];
		char *value = d ? pp_xstrdup(d) : NULL; /* the edit re-reads the model */
		if (value && pp_table_set(t, name, "owner", value, &err) == 0) {
			struct pp_mapping *m = pp_table_find(t, name);
			if (m == NULL || m->val[PP_F_OWNER] == NULL || strcmp(m->val[PP_F_OWNER], value) != 0)
				abort();
			check_spans(t);
		}
		free(name);
		free(value);
	}
	pp_findings_free(&fs);
	pp_table_free(t);
	return 0;
}
