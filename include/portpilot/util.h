/* Small shared helpers: allocation, strings, IPv4 parsing, JSON output. */
#ifndef PORTPILOT_UTIL_H
#define PORTPILOT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

void *pp_xmalloc(size_t n);
void *pp_xcalloc(size_t n, size_t size);
void *pp_xrealloc(void *p, size_t n);
char *pp_xstrdup(const char *s);
char *pp_xstrndup(const char *s, size_t n);
char *pp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer, always NUL-terminated. */
struct pp_buf {
	char *data;
	size_t len, cap;
};
void pp_buf_add(struct pp_buf *b, const char *s, size_t n);
void pp_buf_addstr(struct pp_buf *b, const char *s);
void pp_buf_printf(struct pp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pp_buf_free(struct pp_buf *b);

/* Trim ASCII white space in place; returns s. */
char *pp_trim(char *s);
/* v in decimal at p, no NUL; returns the end (renderers' hot path). */
char *pp_put_uint(char *p, unsigned v);
/* addr (host order) as a.b.c.d at p, no NUL; returns the end. */
char *pp_put_ipv4(char *p, uint32_t addr);

/* Strict parsers: the whole string must match. Return 0 or -1. */
int pp_parse_u16(const char *s, uint16_t *out);            /* 1..65535 */
int pp_parse_ipv4(const char *s, uint32_t *out);           /* host order */
int pp_parse_cidr(const char *s, uint32_t *addr, uint8_t *len);
int pp_parse_bool(const char *s, bool *out);               /* yes/no/true/false/on/off/1/0 */
int pp_parse_datetime(const char *s, time_t *out);         /* YYYY-MM-DD[THH:MM[:SS]], local time */
void pp_format_ipv4(uint32_t addr, char out[16]);
void pp_format_ports(char *out, size_t n, unsigned lo, unsigned hi); /* "80" or "10000-10099" */
void pp_format_datetime(time_t t, char out[20]);           /* YYYY-MM-DDTHH:MM */

/* Milliseconds on the monotonic clock (benchmarks, timeouts). */
double pp_now_ms(void);

/* Read a whole regular file of at most PP_READ_MAX_DEFAULT bytes; NULL with errno set on failure. */
char *pp_read_file(const char *path, size_t *len);
/*
 * The CAs an HTTPS client trusts when given an extra CA file: the system bundle
 * (system_bundle, or $PORTPILOT_SYSTEM_CA in tests) followed by extra, as one PEM
 * text in *pem. A private CA adds to the trusted set, it does not replace it.
 * -1 with errno when extra cannot be read.
 */
int pp_ca_bundle(const char *extra, const char *system_bundle, struct pp_buf *pem);

/* JSON output. */
/*
 * Quoted and escaped, null for NULL. Always valid JSON and valid UTF-8, whatever
 * s holds: controls (C0, DEL, C1) as \uXXXX, each byte of an invalid UTF-8
 * sequence (stray, truncated, overlong, surrogate, > U+10FFFF) as \ufffd.
 */
void pp_json_str(FILE *f, const char *s);
/* Length (1-4) of the well-formed UTF-8 sequence at s, code point in *cp; 0 when invalid or at NUL. */
size_t pp_utf8_next(const char *s, uint32_t *cp);
/*
 * Text for a terminal or a text file: s appended to b with every control
 * character (C0 including tab and ESC, DEL, C1) and every byte of invalid
 * UTF-8 written as \xNN, so a value from a file can never drive the terminal.
 */
void pp_text_safe(struct pp_buf *b, const char *s);
char *pp_text_safe_dup(const char *s);       /* the same as a new string; caller frees */
void pp_fputs_safe(const char *s, FILE *f);  /* fputs of the safe text */
/* The string (unescaped) or number value of "key" in one flat JSON object, cut to fit n;
   false (and out "") when obj has no such key. Enough for portpilot's own JSON and the reflector's. */
bool pp_json_field(const char *obj, const char *key, char *out, size_t n);

/*
 * Bounded reads of files a user names (tables, portpilot.conf, secrets, state):
 * only a regular file (a FIFO, device or directory is refused at once, without
 * waiting for a writer), of at most max bytes. NULL with errno set (EINVAL: not
 * a regular file, EFBIG: too large) and err = "PATH: cannot read: why".
 */
#define PP_READ_MAX_DEFAULT (64u << 20)
#define PP_TABLE_MAX        (64u << 20)   /* 131,070 one-port mappings with comments fit in ~30 MiB */
#define PP_CONF_MAX         (1u << 20)
#define PP_SECRET_MAX       (64u << 10)
struct pp_error;
char *pp_read_file_max(const char *path, size_t max, size_t *len, struct pp_error *err);
/* "a FIFO (named pipe)", "a directory" ... for a st_mode, in messages. */
const char *pp_file_kind(unsigned mode);

/*
 * NULL when s is a usable Linux interface name that iptables reads as one
 * interface: 1-15 characters (IFNAMSIZ), not "." or "..", no '/', ':', white
 * space or control characters (the kernel's dev_valid_name), and no '!'
 * (negation), '+' (wildcard) or quote/backslash (iptables-restore syntax).
 * Else what is wrong, as a phrase.
 */
const char *pp_ifname_problem(const char *s);

/*
 * True when s[0..n) holds a carriage return that does not end it: old Mac
 * (CR-only) line endings, which line readers split on '\n' take for one long
 * line. A CRLF line's final CR is fine.
 */
bool pp_lone_cr(const char *s, size_t n);
#define PP_LONE_CR_WHY "a carriage return (CR) stands inside the line: the file has old Mac (CR-only) line " \
	"endings, which are read as one long line; convert them to LF, e.g. tr '\\r' '\\n' <FILE >FILE.new && " \
	"mv FILE.new FILE"

/* write(2) all of buf (again after EINTR or a short write); -1 with errno on failure. */
int pp_write_all(int fd, const void *buf, size_t n);

/* What an IPv4 address is, for publishing and diagnosing: shared (RFC 6598), private (RFC 1918), reserved. */
enum pp_addr_kind { PP_AK_PUBLIC, PP_AK_CGNAT, PP_AK_PRIVATE, PP_AK_RESERVED };
enum pp_addr_kind pp_ipv4_kind(uint32_t addr);   /* host order */

/* pp_xasprintf with a va_list (the callers' own printf-like helpers). */
char *pp_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
