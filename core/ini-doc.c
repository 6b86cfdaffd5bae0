/* Classifies INI lines exactly as libiniparser 4.1 does, keeping positions for edits. */
#include <ctype.h>
#include <string.h>

#include "portpilot/util.h"
#include "ini-doc.h"

/* libiniparser's line buffer: longer lines make it fail the whole file. */
#define INI_MAX_LINE 1000

static void
classify(struct pp_ini_line *l)
{
	const char *s = l->s + l->bom, *e = l->s + l->len, *eq, *v, *ve;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	/* Before the length test: a CR-only file is one line to libiniparser, not a long value. */
	if (pp_lone_cr(l->s + l->bom, l->len - l->bom)) {
		l->kind = PP_INI_BAD;
		l->why = PP_LONE_CR_WHY;
		return;
	}
	if (l->len > INI_MAX_LINE) {
		l->kind = PP_INI_BAD;
		l->why = "line longer than 1000 characters; shorten the value";
		return;
	}
	if (s == e) {
		l->kind = PP_INI_BLANK;
		return;
	}
	/* Before the comment test: libiniparser joins even a comment with the next line. */
	if (e[-1] == '\\') {
		l->kind = PP_INI_BAD;
		l->why = *s == '#' || *s == ';'
		             ? "a comment ending in '\\' swallows the next line (libiniparser joins them); remove the '\\'"
		             : "line continuation ('\\' at the end) is not supported; write the value on one line";
		return;
	}
	if (*s == '#' || *s == ';') {
		l->kind = PP_INI_COMMENT;
		return;
	}
	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(e - s));
		if (e[-1] != ']') {
			l->kind = PP_INI_BAD;
			l->why = "a section header must be alone on its line: [name] (move the comment to its own line)";
			return;
		}
		s++;
		while (s < close && isspace((unsigned char)*s))
			s++;
		while (close > s && isspace((unsigned char)close[-1]))
			close--;
		if (close == s) {
			/* libiniparser would keep the section before it and merge the keys into it. */
			l->kind = PP_INI_BAD;
			l->why = "a section header needs a name: [name]";
			return;
		}
		l->kind = PP_INI_SECTION;
		l->name = s;
		l->name_len = (size_t)(close - s);
		return;
	}
	eq = memchr(s, '=', (size_t)(e - s));
	if (eq == NULL || eq == s) {
		l->kind = PP_INI_BAD;
		l->why = eq ? "a key is missing before '='; write key = value"
		            : "not a section, key = value or comment; write key = value, or start the line with ';' to comment it out";
		return;
	}
	l->kind = PP_INI_KEY;
	l->name = s;
	for (ve = eq; ve > s && isspace((unsigned char)ve[-1]); ve--)
		;
	l->name_len = (size_t)(ve - s);
	for (v = eq + 1; v < e && isspace((unsigned char)*v); v++)
		;
	ve = v;
	if (v + 1 < e && (*v == '"' || *v == '\'') && v[1] != *v) {
		/* libiniparser takes what follows the quote up to the next one, or to the end. */
		const char *q = memchr(v + 1, *v, (size_t)(e - v - 1));
		ve = q ? q + 1 : e;
		goto done;
	}
	while (ve < e && *ve != ';' && *ve != '#')
		ve++;
	while (ve > v && isspace((unsigned char)ve[-1]))
		ve--;
done:
	l->vstart = (size_t)(v - l->s);
	l->vend = (size_t)(ve - l->s);
}

/* Classify the line starting at text[i]; returns the offset after it. */
static size_t
one_line(const char *text, size_t len, size_t i, struct pp_ini_line *l)
{
	const char *nl = memchr(text + i, '\n', len - i);
	size_t end = nl ? (size_t)(nl - text) : len;

	memset(l, 0, sizeof *l);
	l->s = text + i;
	l->len = end - i;
	l->eol = nl ? 1 : 0;
	if (l->len > 0 && l->s[l->len - 1] == '\r') {
		l->len--;
		l->eol++;
	}
	if (i == 0 && l->len >= 3 && memcmp(l->s, PP_UTF8_BOM, 3) == 0)
		l->bom = 3;
	classify(l);
	return nl ? end + 1 : len;
}

size_t
pp_ini_scan_next(const char *text, size_t len, size_t *pos, size_t max_sections,
                 struct pp_ini_line **buf, size_t *cap)
{
	size_t n = 0, sections = 0, i = *pos;

	while (i < len) {
		struct pp_ini_line l;
		size_t next = one_line(text, len, i, &l);
		if (l.kind == PP_INI_SECTION && ++sections > max_sections)
			break;
		if (n == *cap)
			*buf = pp_xrealloc(*buf, (*cap = *cap ? *cap * 2 : 256) * sizeof **buf);
		(*buf)[n++] = l;
		i = next;
	}
	*pos = i;
	return n;
}

size_t
pp_ini_scan(const char *text, size_t len, struct pp_ini_line **out)
{
	size_t n = 0, cap = 1, i = 0;
	struct pp_ini_line *v;

	/* One allocation: counting line ends is far cheaper than growing the array. */
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++)
		cap++;
	v = pp_xmalloc(cap * sizeof *v);
	while (i < len)
		i = one_line(text, len, i, &v[n++]);
	*out = v;
	return n;
}

/*
 * A key line's value as libiniparser 4.1 reads it: a quoted value without its quotes
 * (up to the closing quote, or to the end without one), "" and '' as empty, else the
 * span itself (cut at ';' or '#', blanks stripped by the scan).
 */
size_t
pp_ini_value(const struct pp_ini_line *l, const char **v)
{
	const char *s = l->s + l->vstart;
	size_t n = l->vend - l->vstart;

	*v = s;
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[1] != s[0]) {
		const char *q = memchr(s + 1, s[0], n - 1);
		*v = s + 1;
		return q ? (size_t)(q - s - 1) : n - 1;
	}
	if (n == 2 && (s[0] == '"' || s[0] == '\'') && s[1] == s[0])
		return 0;
	return n;
}

/*
 * The quote a value needs so that libiniparser reads it back unchanged: 0 for none,
 * '"' or '\'', or -1 when no quoting can carry it (it must be quoted and holds both).
 * Unquoted, libiniparser cuts at ';' or '#', strips white space, takes a leading
 * quote as the start of a quoted value and a trailing '\\' as a line continuation.
 */
int
pp_ini_quote(const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || (strpbrk(value, ";#") == NULL && !isspace((unsigned char)value[0]) &&
	               !isspace((unsigned char)value[n - 1]) && value[n - 1] != '\\' && value[0] != '\'' &&
	               value[0] != '"'))
		return 0;
	if (strchr(value, '"') == NULL)
		return '"';
	if (strchr(value, '\'') == NULL)
		return '\'';
	return -1;
}
