/* The INI file as lines: what libiniparser reads, with positions, for line numbers and in-place edits. */
#ifndef PORTPILOT_INI_DOC_H
#define PORTPILOT_INI_DOC_H

#include <stdbool.h>
#include <stddef.h>

enum pp_ini_kind { PP_INI_BLANK, PP_INI_COMMENT, PP_INI_SECTION, PP_INI_KEY, PP_INI_BAD };

struct pp_ini_line {
	const char *s;          /* into the scanned text; not NUL-terminated */
	size_t len;             /* without the line ending */
	size_t eol;             /* length of the line ending (0, 1 or 2) */
	enum pp_ini_kind kind;
	const char *name;       /* section name or key, as written */
	size_t name_len;
	size_t vstart, vend;    /* KEY: value span within s, quotes included */
	const char *why;        /* BAD: what is wrong, and the fix */
	size_t bom;             /* 3 on the file's first line when it starts with a UTF-8 BOM (Notepad
	                           writes one): part of s, so a save keeps it, but not of the line */
};

/* The UTF-8 byte order mark. */
#define PP_UTF8_BOM "\xef\xbb\xbf"


/* Split text into classified lines (the same rules as libiniparser 4.1). Caller frees *out. */
size_t pp_ini_scan(const char *text, size_t len, struct pp_ini_line **out);

/*
 * Scan on from *pos up to (not including) the (max_sections + 1)-th section
 * header, into *buf (grown as needed, capacity *cap). Returns the number of
 * lines, 0 at the end; *pos moves past them.
 */
size_t pp_ini_scan_next(const char *text, size_t len, size_t *pos, size_t max_sections,
                        struct pp_ini_line **buf, size_t *cap);

/* A KEY line's value as libiniparser reads it (into l->s, not NUL-terminated): its length. */
size_t pp_ini_value(const struct pp_ini_line *l, const char **v);

/* The quote a value needs to read back the same: 0 none, a quote char, -1 impossible. */
int pp_ini_quote(const char *value);

#endif
