/* Edits through the core: only the touched lines of the file change, then the model is re-read. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/table.h"
#include "portpilot/util.h"
#include "ini-doc.h"
#include "table-internal.h"

struct scan {
	struct pp_ini_line *l;
	size_t n;
};

static bool
is_header(const struct pp_ini_line *l, const char *name)
{
	return l->kind == PP_INI_SECTION && l->name_len == strlen(name) &&
	       strncasecmp(l->name, name, l->name_len) == 0;
}

/* The section a line belongs to, as the header line's index (SIZE_MAX before any). */
static size_t *
owners(const struct scan *sc)
{
	size_t *o = pp_xmalloc((sc->n + 1) * sizeof *o), cur = SIZE_MAX;

	for (size_t i = 0; i < sc->n; i++) {
		if (sc->l[i].kind == PP_INI_SECTION)
			cur = i;
		o[i] = cur;
	}
	return o;
}

static void
add_line(struct pp_buf *b, const struct pp_ini_line *l)
{
	pp_buf_add(b, l->s, l->len + l->eol);
}

static const char *
eol_of(const struct scan *sc)
{
	return sc->n && sc->l[0].eol == 2 ? "\r\n" : "\n";
}

/* Replace t's text with b's. */
static void
take_text(struct pp_table *t, struct pp_buf *b, struct scan *sc)
{
	free(sc->l);
	if (t->text != t->loaded) /* until the first edit, text is the loaded buffer */
		free(t->text);
	t->text = b->data ? b->data : pp_xstrdup("");
	t->text_len = b->len;
	t->dirty = true;
}

static int
reparse(struct pp_table *t, struct pp_error *err)
{
	pp_table_clear_model(t);
	return pp_table_parse(t, t->text, t->text_len, err);
}

/* Replace t's text with b's and re-read the model from it. */
static int
commit(struct pp_table *t, struct pp_buf *b, struct scan *sc, struct pp_error *err)
{
	take_text(t, b, sc);
	return reparse(t, err);
}

static void
scan_text(const struct pp_table *t, struct scan *sc)
{
	sc->n = pp_ini_scan(t->text, t->text_len, &sc->l);
}

static int
check_value(bool site, int f, const char *value, struct pp_error *err)
{
	struct pp_mapping scratch;
	int rc = 0;

	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return pp_error_set(err, "%s: value holds a line break or control character; write it on one line",
			                    site ? pp_site_field_name(f) : pp_field_name(f));
	if (pp_ini_quote(value) < 0)
		return pp_error_set(err, "%s: this value needs quotes to read back unchanged (';', '#', a leading "
		                    "quote, space at either end, a trailing '\\'), so it cannot hold both ' and \"; "
		                    "drop one kind of quote",
		                    site ? pp_site_field_name(f) : pp_field_name(f));
	if (strlen(value) > 900)
		return pp_error_set(err, "%s: value longer than 900 characters; shorten it",
		                    site ? pp_site_field_name(f) : pp_field_name(f));
	if (site) {
		uint32_t a;
		uint8_t l;
		bool bv;
		if (f == PP_S_PUBLIC_IP && strcasecmp(value, "auto") && *value && pp_parse_ipv4(value, &a) < 0)
			return pp_error_set(err, "public_ip: '%s' is not valid; write auto or an IPv4 address", value);
		if (f == PP_S_HAIRPIN && pp_parse_bool(value, &bv) < 0)
			return pp_error_set(err, "hairpin: '%s' is not yes or no", value);
		if ((f == PP_S_WAN_INTERFACE || f == PP_S_LAN_INTERFACE) && pp_ifname_problem(value))
			return pp_error_set(err, "%s: '%.60s' is not an interface name: %s; write the one interface's "
			                    "name as `ip link` shows it, e.g. %s", pp_site_field_name(f), value,
			                    pp_ifname_problem(value), f == PP_S_WAN_INTERFACE ? "eth0" : "eth1");
		if (f == PP_S_BACKEND && strcmp(value, "auto") && strcmp(value, "iptables") && strcmp(value, "nftables"))
			return pp_error_set(err, "backend: '%.60s' is not auto, iptables or nftables", value);
		if (f == PP_S_LAN_SUBNET && pp_parse_cidr(value, &a, &l) < 0)
			return pp_error_set(err, "lan_subnet: '%s' is not a network; write e.g. 192.168.2.0/24", value);
		return 0;
	}
	memset(&scratch, 0, sizeof scratch);
	if (pp_mapping_parse_field(&scratch, f, value, err) < 0) {
		if (err) {
			char msg[sizeof err->msg];
			memcpy(msg, err->msg, sizeof msg);
			pp_error_set(err, "%s: %.990s", pp_field_name(f), msg);
		}
		rc = -1;
	}
	free(scratch.allow);
	free(scratch.allow6);
	return rc;
}

static void
format_value(struct pp_buf *b, const char *value)
{
	int q = pp_ini_quote(value); /* check_value() refused -1 */

	if (q > 0)
		pp_buf_printf(b, "%c%s%c", q, value, q);
	else
		pp_buf_addstr(b, value);
}

/*
 * Where a new value's replacement ends: the value's span, and after a quoted value
 * also what follows the closing quote up to a comment, since libiniparser ignores
 * it there but would read it as part of an unquoted replacement.
 */
static size_t
replace_end(const struct pp_ini_line *l)
{
	size_t e = l->vend;

	if (e > l->vstart && (l->s[l->vstart] == '"' || l->s[l->vstart] == '\'')) {
		while (e < l->len && l->s[e] != ';' && l->s[e] != '#')
			e++;
		while (e > l->vend && isspace((unsigned char)l->s[e - 1]))
			e--;
	}
	return e;
}

/* How a key line is laid out: indent, the column of its '=', blanks after the '='. */
struct shape {
	size_t indent, eqcol, after;
};

static bool
line_shape(const struct pp_ini_line *l, struct shape *sh)
{
	const char *start = l->s + l->bom, *eq;

	if (l->kind != PP_INI_KEY || (eq = memchr(l->name, '=', l->len - (size_t)(l->name - l->s))) == NULL)
		return false;
	sh->indent = (size_t)(l->name - start);
	sh->eqcol = (size_t)(eq - start);
	sh->after = l->vstart > (size_t)(eq - l->s) + 1 ? l->vstart - (size_t)(eq - l->s) - 1 : 1;
	return true;
}

/*
 * The file's usual layout, for a key in a section without keys yet (a new mapping,
 * a new [site]): the '=' column most key lines share, so an added mapping lines up
 * with the ones written by hand; "key = value" when most lines are written so
 * (one blank before the '=') or there are none. The first 64 key lines decide.
 */
static struct shape
file_shape(const struct scan *sc)
{
	struct shape best = { 0, 0, 1 }, v[64];
	size_t nv = 0, best_n = 0, tight = 0;

	for (size_t i = 0; i < sc->n && nv < 64; i++)
		if (line_shape(&sc->l[i], &v[nv])) {
			if (v[nv].eqcol <= v[nv].indent + sc->l[i].name_len + 1)
				tight++;
			nv++;
		}
	for (size_t i = 0; i < nv; i++) {
		size_t n = 0;
		for (size_t j = 0; j < nv; j++)
			n += v[j].indent == v[i].indent && v[j].eqcol == v[i].eqcol;
		if (n > best_n) {
			best_n = n;
			best = v[i];
		}
	}
	if (tight >= best_n)
		best = (struct shape){ 0, 0, 1 }; /* plain "key = value" */
	return best;
}

/* A new "key = value" line in the given layout (wider when the key is longer). */
static void
new_key_line(struct pp_buf *b, struct shape sh, const char *key, const char *value, const char *eol)
{
	size_t width = strlen(key);

	if (sh.eqcol > sh.indent + width + 1)
		width = sh.eqcol - sh.indent - 1;
	pp_buf_printf(b, "%*s%-*s =%*s", (int)sh.indent, "", (int)width, key, (int)(sh.after ? sh.after : 1), "");
	format_value(b, value);
	pp_buf_addstr(b, eol);
}

/* Change the text only; the model is re-read by the caller. */
static int
set_text(struct pp_table *t, const char *name, const char *key, const char *value, struct pp_error *err)
{
	bool site = strcasecmp(name, "site") == 0;
	int f = -1;
	struct scan sc;
	struct pp_buf b = { 0 };
	size_t *own, last_hdr = SIZE_MAX, last_key = SIZE_MAX, insert_after;

	if (site) {
		f = pp_site_field_lookup(key, strlen(key));
	} else {
		f = pp_field_lookup(key);
		if (pp_table_find(t, name) == NULL)
			return pp_error_set(err, "no mapping named '%s'; see `portpilot list`", name);
	}
	if (f < 0) {
		/* The list from the field table, so a key added there is offered here too. */
		const char *near = pp_nearest_key(key, strlen(key), site);
		char keys[512];
		size_t used = 0;
		for (int k = 0; k < (site ? PP_S__COUNT : PP_F__COUNT) && used < sizeof keys; k++)
			used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", k ? ", " : "",
			                         site ? pp_site_field_name(k) : pp_field_name(k));
		return pp_error_set(err, "[%s]: unknown key '%.100s'; %s%s%s%s keys are: %s", site ? "site" : name, key,
		                    near ? "did you mean '" : "", near ? near : "", near ? "'? " : "",
		                    site ? "[site]" : "mapping", keys);
	}
	if (value && check_value(site, f, value, err) < 0)
		return -1;
	key = site ? pp_site_field_name(f) : pp_field_name(f);
	scan_text(t, &sc);
	own = owners(&sc);
	for (size_t i = 0; i < sc.n; i++) {
		if (own[i] == SIZE_MAX || !is_header(&sc.l[own[i]], name))
			continue;
		if (i == own[i])
			last_hdr = i;
		else if (sc.l[i].kind == PP_INI_KEY && sc.l[i].name_len == strlen(key) &&
		         strncasecmp(sc.l[i].name, key, sc.l[i].name_len) == 0)
			last_key = i;
	}
	if (last_hdr == SIZE_MAX && site) {
		/* No [site] yet: it goes first, after a BOM. */
		size_t bom = sc.n ? sc.l[0].bom : 0;
		pp_buf_add(&b, t->text, bom);
		pp_buf_printf(&b, "[site]%s", eol_of(&sc));
		if (value)
			new_key_line(&b, file_shape(&sc), key, value, eol_of(&sc));
		pp_buf_addstr(&b, eol_of(&sc));
		pp_buf_add(&b, t->text + bom, t->text_len - bom);
		free(own);
		take_text(t, &b, &sc);
		return 0;
	}
	if (last_hdr == SIZE_MAX) {
		free(own);
		free(sc.l);
		return pp_error_set(err, "no section [%s] in the text; reload the table", name);
	}
	insert_after = last_hdr;
	for (size_t i = last_hdr + 1; i < sc.n && own[i] == last_hdr; i++)
		if (sc.l[i].kind == PP_INI_KEY)
			insert_after = i;
	for (size_t i = 0; i < sc.n; i++) {
		const struct pp_ini_line *l = &sc.l[i];
		bool mine = own[i] != SIZE_MAX && is_header(&sc.l[own[i]], name);
		if (mine && l->kind == PP_INI_KEY && l->name_len == strlen(key) &&
		    strncasecmp(l->name, key, l->name_len) == 0) {
			if (value == NULL)
				continue; /* removing the key: drop every copy */
			if (i == last_key) {
				size_t end = replace_end(l);
				pp_buf_add(&b, l->s, l->vstart);
				format_value(&b, value);
				pp_buf_add(&b, l->s + end, l->len - end + l->eol);
				continue;
			}
		}
		add_line(&b, l);
		if (i == insert_after && last_key == SIZE_MAX && value) {
			if (b.data[b.len - 1] != '\n') /* the last line, also one ending in a lone '\r' */
				pp_buf_addstr(&b, eol_of(&sc));
			struct shape sh;
			if (l->kind != PP_INI_KEY || !line_shape(l, &sh))
				sh = file_shape(&sc);
			new_key_line(&b, sh, key, value, eol_of(&sc));
		}
	}
	free(own);
	take_text(t, &b, &sc);
	return 0;
}

/* The value the model holds for name's key now (NULL when unset or unknown). */
const char *
pp_table_model_value(const struct pp_table *t, const char *name, const char *key)
{
	const struct pp_mapping *m;
	int f;

	if (strcasecmp(name, "site") == 0)
		return (f = pp_site_field_lookup(key, strlen(key))) >= 0 ? t->site.val[f] : NULL;
	m = pp_table_find(t, name);
	return m && (f = pp_field_lookup(key)) >= 0 ? m->val[f] : NULL;
}

int
pp_table_set(struct pp_table *t, const char *name, const char *key, const char *value, struct pp_error *err)
{
	struct pp_kv kv = { key, value };

	return pp_table_set_many(t, name, &kv, 1, err);
}

/*
 * All or nothing, and only what reads back as written: after the re-read every key
 * must hold its new value, or the old text comes back (a line the edit made longer
 * than libiniparser reads, with its old comment, say).
 */
int
pp_table_set_many(struct pp_table *t, const char *name, const struct pp_kv *kv, size_t n,
                  struct pp_error *err)
{
	char *old = pp_xstrndup(t->text, t->text_len);
	size_t old_len = t->text_len, i;
	bool old_dirty = t->dirty;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = set_text(t, name, kv[i].key, kv[i].value, err);
	if (rc == 0)
		rc = reparse(t, err);
	for (i = 0; i < n && rc == 0; i++) {
		const char *got = pp_table_model_value(t, name, kv[i].key);
		if (kv[i].value ? got == NULL || strcmp(got, kv[i].value) != 0 : got != NULL)
			rc = pp_error_set(err, "%s: written into this file it would read back as %s%.200s%s, "
			                  "not as typed (is the line with its comment over 1000 characters?)",
			                  kv[i].key, got ? "'" : "", got ? got : "nothing", got ? "'" : "");
	}
	if (rc < 0) {
		if (t->text != t->loaded)
			free(t->text);
		t->text = old;
		t->text_len = old_len;
		t->dirty = old_dirty;
		reparse(t, NULL);
		return -1;
	}
	free(old);
	pp_table_journal_add(t, PP_OP_SET, name, NULL, kv, n);
	return rc;
}

int
pp_table_add(struct pp_table *t, const char *name, struct pp_error *err)
{
	struct scan sc;
	struct pp_buf b = { 0 };
	const char *eol;

	if (strcasecmp(name, "site") == 0)
		return pp_error_set(err, "'site' is reserved for the [site] section; choose another name");
	if (!pp_mapping_name_valid(name))
		return pp_error_set(err, "'%s' is not a usable mapping name; use up to 64 letters, digits, '-', '_' "
		                    "or '.', starting with a letter or digit", name);
	if (pp_table_find(t, name))
		return pp_error_set(err, "a mapping named '%s' exists already; choose another name", name);
	scan_text(t, &sc);
	eol = eol_of(&sc);
	pp_buf_add(&b, t->text, t->text_len);
	if (b.len && b.data[b.len - 1] != '\n')
		pp_buf_addstr(&b, eol);
	if (sc.n && sc.l[sc.n - 1].kind != PP_INI_BLANK)
		pp_buf_addstr(&b, eol);
	pp_buf_printf(&b, "[%s]%s", name, eol);
	if (commit(t, &b, &sc, err) < 0)
		return -1;
	pp_table_journal_add(t, PP_OP_ADD, name, NULL, NULL, 0);
	return 0;
}

int
pp_table_del(struct pp_table *t, const char *name, struct pp_error *err)
{
	struct scan sc;
	struct pp_buf b = { 0 };
	size_t *own;
	bool *drop;

	if (pp_table_find(t, name) == NULL)
		return pp_error_set(err, "no mapping named '%s'; see `portpilot list`", name);
	scan_text(t, &sc);
	own = owners(&sc);
	drop = pp_xcalloc(sc.n + 1, sizeof *drop);
	for (size_t i = 0; i < sc.n; i++) {
		if (own[i] == SIZE_MAX || !is_header(&sc.l[own[i]], name))
			continue;
		drop[i] = true;
		if (i == own[i]) /* the comment block right above the header is the mapping's own */
			for (size_t j = i; j > 0 && sc.l[j - 1].kind == PP_INI_COMMENT && !drop[j - 1]; j--)
				drop[j - 1] = true;
	}
	/* Comments and blank lines that lead into the next section stay with it. */
	for (size_t i = 0; i < sc.n; i++) {
		if (sc.l[i].kind != PP_INI_SECTION || drop[i] || i == 0 || !drop[i - 1])
			continue;
		for (size_t j = i; j > 0 && drop[j - 1] && own[j - 1] != j - 1 &&
		     (sc.l[j - 1].kind == PP_INI_COMMENT || sc.l[j - 1].kind == PP_INI_BLANK); j--)
			drop[j - 1] = false;
	}
	if (sc.n && drop[0] && sc.l[0].bom) /* the BOM belongs to the file, not to the first line */
		pp_buf_add(&b, sc.l[0].s, sc.l[0].bom);
	for (size_t i = 0; i < sc.n; i++)
		if (!drop[i])
			add_line(&b, &sc.l[i]);
	free(drop);
	free(own);
	if (commit(t, &b, &sc, err) < 0)
		return -1;
	pp_table_journal_add(t, PP_OP_DEL, name, NULL, NULL, 0);
	return 0;
}

int
pp_table_rename(struct pp_table *t, const char *name, const char *newname, struct pp_error *err)
{
	struct scan sc;
	struct pp_buf b = { 0 };

	if (pp_table_find(t, name) == NULL)
		return pp_error_set(err, "no mapping named '%s'; see `portpilot list`", name);
	if (strcasecmp(name, newname) != 0 && pp_table_find(t, newname))
		return pp_error_set(err, "a mapping named '%s' exists already; choose another name", newname);
	if (!pp_mapping_name_valid(newname) || strcasecmp(newname, "site") == 0)
		return pp_error_set(err, "'%s' is not a usable mapping name; use up to 64 letters, digits, '-', '_' "
		                    "or '.', starting with a letter or digit", newname);
	scan_text(t, &sc);
	for (size_t i = 0; i < sc.n; i++) {
		const struct pp_ini_line *l = &sc.l[i];
		if (!is_header(l, name)) {
			add_line(&b, l);
			continue;
		}
		pp_buf_add(&b, l->s, (size_t)(l->name - l->s));
		pp_buf_addstr(&b, newname);
		pp_buf_add(&b, l->name + l->name_len, l->len + l->eol - (size_t)(l->name + l->name_len - l->s));
	}
	if (commit(t, &b, &sc, err) < 0)
		return -1;
	pp_table_journal_add(t, PP_OP_RENAME, name, newname, NULL, 0);
	return 0;
}

char *
pp_table_text(const struct pp_table *t, size_t *len)
{
	if (len)
		*len = t->text_len;
	return pp_xstrndup(t->text, t->text_len);
}
