/* Loads the mapping table: the line scanner reads and places the values as libiniparser 4.1 would. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "portpilot/table.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"
#include "ini-doc.h"
#include "table-internal.h"

/*
 * The values are read from the line scan, which follows libiniparser 4.1's
 * rules (the fuzz target checks them against libiniparser itself): feeding
 * libiniparser the file cost most of a 20,000-mapping load (its sscanf and
 * dictionary, and a memfd per chunk), and one iniparser_load() of the whole
 * file is quadratic. Lines are scanned this many sections at a time, so the
 * line array stays small.
 */
#define CHUNK_SECTIONS 16

/* Case-insensitive name → mapping index, open addressing (names are ASCII). */
struct name_index {
	int *slot;
	size_t mask;
	int section_line;       /* line of the section header being read (a repeated one too) */
};

static size_t
name_hash(const char *s, size_t n)
{
	size_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)tolower((unsigned char)s[i])) * 16777619u;
	return h;
}

static int
index_find(const struct name_index *ix, const struct pp_table *t, const char *s, size_t n, bool insert, int add)
{
	size_t i = name_hash(s, n) & ix->mask;

	for (;; i = (i + 1) & ix->mask) {
		int k = ix->slot[i];
		if (k < 0) {
			if (insert)
				ix->slot[i] = add;
			return -1;
		}
		if (strlen(t->maps[k].name) == n && strncasecmp(t->maps[k].name, s, n) == 0)
			return k;
	}
}

static void
index_init(struct name_index *ix, size_t nlines)
{
	size_t cap = 16;

	while (cap < nlines * 2)
		cap <<= 1;
	ix->slot = pp_xmalloc(cap * sizeof *ix->slot);
	memset(ix->slot, 0xff, cap * sizeof *ix->slot);
	ix->mask = cap - 1;
	ix->section_line = 0;
}

static bool
is_site(const char *s, size_t n)
{
	return n == 4 && strncasecmp(s, "site", 4) == 0;
}

int
pp_site_field_lookup(const char *k, size_t n)
{
	for (int i = 0; i < PP_S__COUNT; i++) {
		const char *name = pp_site_field_name(i);
		if (strlen(name) == n && strncasecmp(name, k, n) == 0)
			return i;
	}
	return -1;
}

static int
field_lookup_n(const char *k, size_t n)
{
	char buf[64];

	if (n >= sizeof buf)
		return -1;
	memcpy(buf, k, n);
	buf[n] = '\0';
	return pp_field_lookup(buf);
}

/* The known key nearest to a misspelt one, for "did you mean" (check and edits). */
const char *
pp_nearest_key(const char *k, size_t n, bool site)
{
	const char *best = NULL;
	size_t bestd = 3;
	int count = site ? PP_S__COUNT : PP_F__COUNT;

	for (int f = 0; f < count; f++) {
		const char *name = site ? pp_site_field_name(f) : pp_field_name(f);
		size_t m = strlen(name), d[64], prev, tmp;
		if (m >= 64 || n >= 64)
			continue;
		for (size_t j = 0; j <= m; j++)
			d[j] = j;
		for (size_t i = 1; i <= n; i++) {
			prev = d[0];
			d[0] = i;
			for (size_t j = 1; j <= m; j++) {
				tmp = d[j];
				size_t sub = prev + (tolower((unsigned char)k[i - 1]) != name[j - 1]);
				d[j] = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
				if (sub < d[j])
					d[j] = sub;
				prev = tmp;
			}
		}
		if (d[m] < bestd) {
			bestd = d[m];
			best = name;
		}
	}
	return best;
}

static struct pp_mapping *
add_mapping(struct pp_table *t, const char *name, size_t n, int line)
{
	struct pp_mapping *m;

	if (t->n == t->cap)
		t->maps = pp_xrealloc(t->maps, (t->cap = t->cap ? t->cap * 2 : 16) * sizeof *t->maps);
	m = &t->maps[t->n++];
	memset(m, 0, sizeof *m);
	m->name = pp_xstrndup(name, n);
	m->line = line;
	return m;
}

/* The value a key line gives field f of vals, the last line winning as in libiniparser. */
static void
set_value(char **vals, int f, const struct pp_ini_line *l)
{
	const char *v;
	size_t n = pp_ini_value(l, &v);

	free(vals[f]);
	vals[f] = pp_xstrndup(v, n);
}

/* One key line under section cur (-2 none, -1 [site], else a mapping index). */
static void
place_key(struct pp_table *t, const struct name_index *ix, int cur, const struct pp_ini_line *l, int line)
{
	int f = cur == -1 ? pp_site_field_lookup(l->name, l->name_len) : field_lookup_n(l->name, l->name_len);
	char *key = pp_xstrndup(l->name, l->name_len);

	if (cur == -2) {
		pp_findings_add(&t->parse, PP_ERROR, line, NULL, key, "put it under [site] or under a mapping's [name]",
		                "key '%s' stands before any section", key);
	} else if (f < 0) {
		const char *near = pp_nearest_key(l->name, l->name_len, cur == -1);
		char *fix = near ? pp_xasprintf("did you mean '%s'?", near)
		                 : pp_xasprintf("remove it, or comment it out with ';'");
		pp_findings_add(&t->parse, PP_ERROR, line, cur == -1 ? "site" : t->maps[cur].name, key, fix,
		                "unknown key '%s'", key);
		free(fix);
	} else {
		int *kl = cur == -1 ? &t->site.key_line[f] : &t->maps[cur].key_line[f];
		/* A key first set under an earlier copy of a repeated section is
		 * covered by the repeated-section finding. */
		if (*kl > ix->section_line)
			pp_findings_add(&t->parse, PP_ERROR, line, cur == -1 ? "site" : t->maps[cur].name, key,
			                "keep one of the two lines and delete the other",
			                "key '%s' appears again in this section (first at line %d); "
			                "libiniparser keeps only the last value silently", key, *kl);
		*kl = line;
		set_value(cur == -1 ? t->site.val : t->maps[cur].val, f, l);
	}
	free(key);
}

/*
 * Sections, key lines, values, unknown keys, syntax errors of one chunk of lines
 * (the first is line base + 1), read as libiniparser 4.1 would read them.
 * *cur is the open section: -2 before any, -1 [site], else a mapping index.
 */
static void
place_lines(struct pp_table *t, struct name_index *ix, int *curp, const struct pp_ini_line *lines, size_t n,
            size_t base)
{
	int cur = *curp;

	for (size_t i = 0; i < n; i++) {
		const struct pp_ini_line *l = &lines[i];
		int line = (int)(base + i) + 1;
		char *name;

		switch (l->kind) {
		case PP_INI_BAD:
			pp_findings_add(&t->parse, PP_ERROR, line, NULL, NULL, NULL, "%s", l->why);
			break;
		case PP_INI_SECTION:
			ix->section_line = line;
			if (is_site(l->name, l->name_len)) {
				if (t->site.line)
					pp_findings_add(&t->parse, PP_ERROR, line, "site", NULL,
					                "merge the two [site] sections into one",
					                "[site] appears again (first at line %d); libiniparser merges them silently",
					                t->site.line);
				else
					t->site.line = line;
				cur = -1;
				break;
			}
			cur = index_find(ix, t, l->name, l->name_len, false, 0);
			if (cur >= 0) {
				name = pp_xstrndup(l->name, l->name_len);
				pp_findings_add(&t->parse, PP_ERROR, line, name, NULL,
				                "rename one of them, or merge them into one section",
				                "section [%s] appears again (first at line %d); libiniparser merges them silently",
				                name, t->maps[cur].line);
				free(name);
				break;
			}
			add_mapping(t, l->name, l->name_len, line);
			cur = (int)t->n - 1;
			index_find(ix, t, l->name, l->name_len, true, cur);
			break;
		case PP_INI_KEY:
			place_key(t, ix, cur, l, line);
			break;
		default:
			break;
		}
	}
	*curp = cur;
}

static void
parse_values(struct pp_table *t)
{
	struct pp_site *s = &t->site;

	for (size_t i = 0; i < t->n; i++) {
		struct pp_mapping *m = &t->maps[i];
		m->proto = PP_TCP;
		m->enabled = true;
		for (int f = 0; f < PP_F__COUNT; f++)
			if (m->val[f] && pp_mapping_parse_field(m, f, m->val[f], NULL) < 0)
				m->bad |= 1u << f;
		if (m->val[PP_F_INTERNAL_PORT] == NULL) {
			m->in_lo = m->pub_lo;
			m->in_hi = m->pub_hi;
		}
		/* Giving the server's IPv6 address is asking for IPv6; ipv6 = no still says no. */
		if (m->val[PP_F_IPV6] == NULL && m->val[PP_F_INTERNAL_IP6] && *m->val[PP_F_INTERNAL_IP6])
			m->ipv6 = PP_V6_YES;
	}
	if (s->val[PP_S_PUBLIC_IP] && *s->val[PP_S_PUBLIC_IP] &&
	    strcasecmp(s->val[PP_S_PUBLIC_IP], "auto") != 0 &&
	    pp_parse_ipv4(s->val[PP_S_PUBLIC_IP], &s->public_ip) < 0)
		s->bad |= 1u << PP_S_PUBLIC_IP;
	if (s->val[PP_S_HAIRPIN] && pp_parse_bool(s->val[PP_S_HAIRPIN], &s->hairpin) < 0)
		s->bad |= 1u << PP_S_HAIRPIN;
	if (s->val[PP_S_BACKEND] && strcmp(s->val[PP_S_BACKEND], "auto") != 0 &&
	    strcmp(s->val[PP_S_BACKEND], "iptables") != 0 && strcmp(s->val[PP_S_BACKEND], "nftables") != 0)
		s->bad |= 1u << PP_S_BACKEND;
	if (s->val[PP_S_LAN_SUBNET]) {
		if (pp_parse_cidr(s->val[PP_S_LAN_SUBNET], &s->lan_subnet.addr, &s->lan_subnet.len) < 0)
			s->bad |= 1u << PP_S_LAN_SUBNET;
		else
			s->has_lan_subnet = true;
	}
	for (int f = PP_S_RELAY; f < PP_S__COUNT; f++)
		if (s->val[f] && pp_relay_field_problem(f, s->val[f]))
			s->bad |= 1u << f;
}

/* Build t's model from text in one pass over its lines, a chunk of sections at a time. */
int
pp_table_parse(struct pp_table *t, const char *text, size_t len, struct pp_error *err)
{
	struct pp_ini_line *lines = NULL;
	struct name_index ix;
	size_t cap = 0, pos = 0, base = 0, brackets = 1, n;
	int cur = -2;

	(void)err;
	/* Every section header holds a '[': enough room for the model and the index. */
	for (const char *p = text; (p = memchr(p, '[', len - (size_t)(p - text))) != NULL; p++)
		brackets++;
	t->maps = pp_xrealloc(t->maps, brackets * sizeof *t->maps);
	t->cap = brackets;
	index_init(&ix, brackets);
	while ((n = pp_ini_scan_next(text, len, &pos, CHUNK_SECTIONS, &lines, &cap)) > 0) {
		place_lines(t, &ix, &cur, lines, n, base);
		base += n;
	}
	free(ix.slot);
	free(lines);
	parse_values(t);
	return 0;
}

static struct pp_table *
table_new(const char *path)
{
	struct pp_table *t = pp_xcalloc(1, sizeof *t);

	t->path = pp_xstrdup(path);
	return t;
}

/* Load from text, taking ownership of it (allocated with len + 1 bytes, NUL-terminated). */
static int
load_owned(const char *path, char *text, size_t len, struct pp_table **out, struct pp_error *err)
{
	struct pp_table *t = table_new(path);

	/* text aliases loaded until the first edit: a 20,000-mapping file is megabytes. */
	t->loaded = t->text = text;
	t->loaded_len = t->text_len = len;
	t->existed = true;
	if (pp_table_parse(t, t->text, len, err) < 0) {
		pp_table_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

int
pp_table_load_mem(const char *path, const char *text, size_t len, struct pp_table **out, struct pp_error *err)
{
	return load_owned(path, pp_xstrndup(text, len), len, out, err);
}

/*
 * Why the table cannot be read, and the fix for that cause: the -f hint only for
 * the default path (with -f given, "give the table with -f" misleads).
 */
static int
read_error(const char *path, int e, const char *msg, struct pp_error *err)
{
	bool dflt = strcmp(path, PP_DEFAULT_TABLE) == 0;

	switch (e) {
	case ENOENT:
		return dflt ? pp_error_set(err, "%.900s: cannot read: not found; start a table with `portpilot init`, "
		                           "or give the table with -f FILE", path)
		            : pp_error_set(err, "%.900s: cannot read: not found; check the path, or start a table "
		                           "there with `portpilot -f %.900s init`", path, path);
	case ENOTDIR:
		return pp_error_set(err, "%.900s: cannot read: a part of the path is not a directory; check the path",
		                    path);
	case EISDIR:
		return pp_error_set(err, "%.900s: cannot read: it is a directory, not a table file; name the file "
		                    "itself, e.g. %.900s/mappings.ini", path, path);
	case EACCES:
	case EPERM:
		return pp_error_set(err, "%.900s: cannot read: permission denied; run as root (sudo portpilot ...), "
		                    "or make the file readable", path);
	default:
		return pp_error_set(err, "%.900s%s", msg, dflt ? "; give the table as a regular file with -f FILE" : "");
	}
}

int
pp_table_load(const char *path, bool missing_ok, struct pp_table **out, struct pp_error *err)
{
	size_t len;
	struct pp_error e;
	char *text = pp_read_file_max(path, PP_TABLE_MAX, &len, &e);

	if (text == NULL) {
		if (errno == ENOENT && missing_ok) {
			struct pp_table *t = table_new(path);
			t->loaded = t->text = pp_xstrdup("");
			*out = t;
			return 0;
		}
		return read_error(path, errno, e.msg, err);
	}
	if (memchr(text, '\0', len) != NULL) {
		free(text);
		return pp_error_set(err, "%s: cannot read: the file holds NUL bytes, it is not a text INI file", path);
	}
	return load_owned(path, text, len, out, err);
}

static void
mapping_clear(struct pp_mapping *m)
{
	free(m->name);
	for (int f = 0; f < PP_F__COUNT; f++)
		free(m->val[f]);
	pp_mapping_parsed_free(m);
}

/* Drop the model but keep path and loaded bytes (for a re-parse after an edit). */
void
pp_table_clear_model(struct pp_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		mapping_clear(&t->maps[i]);
	free(t->maps);
	for (int f = 0; f < PP_S__COUNT; f++)
		free(t->site.val[f]);
	pp_findings_free(&t->parse);
	memset(&t->site, 0, sizeof t->site);
	t->maps = NULL;
	t->n = t->cap = 0;
}

void
pp_table_free(struct pp_table *t)
{
	if (t == NULL)
		return;
	pp_table_journal_clear(t);
	pp_table_clear_model(t);
	if (t->text != t->loaded)
		free(t->text);
	free(t->loaded);
	free(t->path);
	free(t);
}

struct pp_mapping *
pp_table_find(const struct pp_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcasecmp(t->maps[i].name, name) == 0)
			return &t->maps[i];
	return NULL;
}
