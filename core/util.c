/* Small shared helpers: allocation, buffers, strict parsers, JSON strings. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "portpilot/error.h"
#include "portpilot/util.h"

int
pp_error_set(struct pp_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static void *
oom(void *p)
{
	if (p == NULL) {
		/* Nothing sensible can continue without memory. */
		fputs("portpilot: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *pp_xmalloc(size_t n) { return oom(malloc(n ? n : 1)); }
void *pp_xcalloc(size_t n, size_t size) { return oom(calloc(n ? n : 1, size ? size : 1)); }
void *pp_xrealloc(void *p, size_t n) { return oom(realloc(p, n ? n : 1)); }
char *pp_xstrdup(const char *s) { return oom(strdup(s)); }
char *pp_xstrndup(const char *s, size_t n) { return oom(strndup(s, n)); }

char *
pp_xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	return oom(s);
}

char *
pp_xasprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	char *s = pp_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
pp_buf_add(struct pp_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = pp_xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
pp_buf_addstr(struct pp_buf *b, const char *s)
{
	pp_buf_add(b, s, strlen(s));
}

void
pp_buf_printf(struct pp_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(NULL);
	pp_buf_add(b, s, (size_t)n);
	free(s);
}

void
pp_buf_free(struct pp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
pp_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
pp_parse_u16(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
pp_parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	/* inet_pton rejects shorthand like "10.1" and leading junk. */
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

int
pp_parse_cidr(const char *s, uint32_t *addr, uint8_t *len)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	uint32_t a, mask;
	unsigned long l = 32;
	char *end;

	if (slash == NULL) {
		if (strlen(s) >= sizeof ip)
			return -1;
		strcpy(ip, s);
	} else {
		if ((size_t)(slash - s) >= sizeof ip || slash[1] == '\0')
			return -1;
		memcpy(ip, s, (size_t)(slash - s));
		ip[slash - s] = '\0';
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || l > 32 || !isdigit((unsigned char)slash[1]))
			return -1;
	}
	if (pp_parse_ipv4(ip, &a) < 0)
		return -1;
	mask = l == 0 ? 0 : 0xffffffffu << (32 - l);
	if ((a & ~mask) != 0)
		return -1; /* host bits set: almost always a typo */
	*addr = a;
	*len = (uint8_t)l;
	return 0;
}

int
pp_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) { *out = true; return 0; }
		if (strcasecmp(s, no[i]) == 0) { *out = false; return 0; }
	}
	return -1;
}

int
pp_parse_datetime(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || end - s != 10)
		return -1;
	if (*end == 'T' || *end == ' ') {
		const char *e2 = strptime(end + 1, "%H:%M", &tm);
		if (e2 == NULL || e2 - end != 6)
			return -1;
		end = e2;
		if (*end == ':') {
			e2 = strptime(end + 1, "%S", &tm);
			if (e2 == NULL || e2 - end != 3)
				return -1;
			end = e2;
		}
	}
	if (*end != '\0')
		return -1;
	{
		/* strptime accepts 2026-02-31; a round trip through mktime catches it. */
		int mday = tm.tm_mday, mon = tm.tm_mon;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon)
			return -1;
	}
	*out = t;
	return 0;
}

void
pp_format_ipv4(uint32_t addr, char out[16])
{
	*pp_put_ipv4(out, addr) = '\0';
}

void
pp_format_ports(char *out, size_t n, unsigned lo, unsigned hi)
{
	/* By hand, as pp_format_ipv4: the nftables render writes two per element. */
	char buf[24], *p = pp_put_uint(buf, lo);
	if (lo != hi) {
		*p++ = '-';
		p = pp_put_uint(p, hi);
	}
	size_t len = (size_t)(p - buf);
	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(out, buf, len);
	out[len] = '\0';
}

void
pp_format_datetime(time_t t, char out[20])
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, 20, "%Y-%m-%dT%H:%M", &tm);
}

double
pp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *
pp_file_kind(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO (named pipe)";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

/*
 * The descriptor read is the one judged (fstat, not the path), and it is opened
 * O_NONBLOCK so that a FIFO without a writer is refused instead of waiting for
 * one. At most max bytes are read: /dev/zero behind a symlink, a file that grows
 * while read, or a /proc file that says size 0 cannot take all memory.
 */
char *
pp_read_file_max(const char *path, size_t max, size_t *len, struct pp_error *err)
{
	struct pp_buf b = { 0 };
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), e;

	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		pp_error_set(err, "%s: cannot read: %s", path, strerror(e));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		pp_error_set(err, "%s: cannot read: it is %s, not a regular file", path, pp_file_kind(st.st_mode));
		goto fail;
	}
	if ((unsigned long long)st.st_size > max)
		goto too_big;
	pp_buf_add(&b, "", 0);
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			pp_error_set(err, "%s: cannot read: %s", path, strerror(e));
			goto fail;
		}
		if (b.len + (size_t)n > max)
			goto too_big;
		pp_buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	if (len)
		*len = b.len;
	return b.data;
too_big:
	e = EFBIG;
	pp_error_set(err, "%s: cannot read: it is larger than %zu %s, the most portpilot reads from such a file; "
	             "is it the right file?", path, max >= 1 << 20 ? max >> 20 : max >> 10,
	             max >= 1 << 20 ? "MiB" : "KiB");
fail:
	if (fd >= 0)
		close(fd);
	pp_buf_free(&b);
	errno = e;
	return NULL;
}

char *
pp_read_file(const char *path, size_t *len)
{
	return pp_read_file_max(path, PP_READ_MAX_DEFAULT, len, NULL);
}

bool
pp_lone_cr(const char *s, size_t n)
{
	const char *cr = memchr(s, '\r', n);

	return cr != NULL && cr + 1 < s + n;
}

const char *
pp_ifname_problem(const char *s)
{
	size_t n = strlen(s);

	/* The kernel's dev_valid_name(), then what would not stay one iptables-restore token. */
	if (n == 0)
		return "it is empty";
	if (n > 15)
		return "it is longer than 15 characters, the most a Linux interface name can have (IFNAMSIZ)";
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return "'.' and '..' are not interface names";
	if (s[0] == '!')
		return "a leading '!' would match every interface except this one";
	if (s[n - 1] == '+')
		return "a trailing '+' is an iptables wildcard matching every interface that starts so; "
		       "portpilot needs the one interface";
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == 0x7f)
			return "it holds white space or a control character";
		if (c == '/' || c == ':')
			return "the kernel does not allow '/' or ':' in an interface name";
		if (c == '"' || c == '\\' || c == '\'' || c == '!' || c == '+')
			return "it holds a character ('\"', '\\', '\'', '!' or '+') that iptables would read as syntax";
	}
	return NULL;
}

/*
 * Length of the well-formed UTF-8 sequence at s (1-4), its code point in *cp;
 * 0 when s starts no valid sequence: a stray continuation byte, a truncated
 * sequence, an overlong form, a surrogate (U+D800-DFFF), or beyond U+10FFFF.
 * The ranges are those of RFC 3629's table, so nothing decodes two ways.
 */
size_t
pp_utf8_next(const char *str, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t n, i;
	uint32_t v;
	unsigned char lo = 0x80, hi = 0xbf;  /* the allowed range of the second byte */

	if (c < 0x80) {
		*cp = c;
		return c ? 1 : 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;      /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;      /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;      /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;      /* beyond U+10FFFF */
	} else {
		return 0;           /* continuation byte, C0/C1 overlong lead, F5-FF */
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;       /* also stops at the NUL of a cut sequence */
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/* C0, DEL and C1: what a terminal may take as a command rather than text. */
static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

void
pp_json_str(FILE *f, const char *s)
{
	const char *run;
	uint32_t cp;
	size_t n;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	/* Bytes that go out as they are leave in one write a run: a call per character was
	 * most of the time (tools/measure/json-dns.c). */
	for (run = s; *s;) {
		const char *esc = NULL;
		char u[8];
		if ((n = pp_utf8_next(s, &cp)) == 0) {
			/* Not UTF-8: JSON must be; the byte becomes U+FFFD, the rest goes on. */
			esc = "\\ufffd";
			n = 1;
		} else if (cp == '"') {
			esc = "\\\"";
		} else if (cp == '\\') {
			esc = "\\\\";
		} else if (cp == '\n') {
			esc = "\\n";
		} else if (cp == '\t') {
			esc = "\\t";
		} else if (cp == '\r') {
			esc = "\\r";
		} else if (is_control(cp) || cp == 0x2028 || cp == 0x2029) {
			/* DEL and C1 are legal in JSON, escaped anyway: the output may go to a terminal.
			 * U+2028/2029 end a line in JavaScript. */
			snprintf(u, sizeof u, "\\u%04x", (unsigned)cp);
			esc = u;
		}
		if (esc) {
			fwrite(run, 1, (size_t)(s - run), f);
			fputs(esc, f);
			run = s + n;
		}
		s += n;
	}
	fwrite(run, 1, (size_t)(s - run), f);
	fputc('"', f);
}

void
pp_text_safe(struct pp_buf *b, const char *s)
{
	uint32_t cp;
	size_t n;

	pp_buf_add(b, "", 0);
	while (s && *s) {
		n = pp_utf8_next(s, &cp);
		if (n == 0 || is_control(cp)) {
			/* Each byte of it shown as \xNN: visible, and no terminal acts on it. */
			size_t k = n ? n : 1;
			for (size_t i = 0; i < k; i++)
				pp_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
			s += k;
			continue;
		}
		pp_buf_add(b, s, n);
		s += n;
	}
}

char *
pp_text_safe_dup(const char *s)
{
	struct pp_buf b = { 0 };

	pp_text_safe(&b, s);
	return b.data;
}

void
pp_fputs_safe(const char *s, FILE *f)
{
	char *t = pp_text_safe_dup(s);

	fputs(t, f);
	free(t);
}

int
pp_ca_bundle(const char *extra, const char *system_bundle, struct pp_buf *pem)
{
	const char *sys = getenv("PORTPILOT_SYSTEM_CA");
	size_t len;
	char *text = pp_read_file(extra, &len);

	if (text == NULL)
		return -1;
	char *st = pp_read_file(sys ? sys : system_bundle ? system_bundle : "", NULL);
	if (st) {
		pp_buf_addstr(pem, st);
		pp_buf_addstr(pem, "\n");
		free(st);
	}
	pp_buf_add(pem, text, len);
	free(text);
	return 0;
}

bool
pp_json_field(const char *obj, const char *key, char *out, size_t n)
{
	char pat[64];
	const char *p;
	size_t k = 0;

	out[0] = '\0';
	snprintf(pat, sizeof pat, "\"%s\"", key);
	/* The first "key" that a colon follows (JSON allows blanks before it, as writers that
	 * pretty-print put): a string value equal to the key has a ',' ']' or '}' there. */
	for (p = obj ? strstr(obj, pat) : NULL; p; p = strstr(p + 1, pat)) {
		const char *c = p + strlen(pat) + strspn(p + strlen(pat), " \t\r\n");
		if (*c == ':') {
			p = c + 1;
			break;
		}
	}
	if (p == NULL)
		return false;
	for (; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	if (*p != '"') {
		k = strcspn(p, ",} \r\n\t");
		snprintf(out, n, "%.*s", (int)k, p);
		return true;
	}
	for (p++; *p && *p != '"' && k + 1 < n; p++) {
		if (*p == '\\' && p[1])
			p++;                  /* \" and \\ stand for themselves */
		out[k++] = *p;
	}
	out[k] = '\0';
	return true;
}

int
pp_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The one test of what an IPv4 address is (ddns/ipsource.c, probe/checks.c, probe/diagnose.c). */
enum pp_addr_kind
pp_ipv4_kind(uint32_t a)
{
	if ((a & 0xffc00000u) == 0x64400000u)                      /* 100.64.0.0/10 */
		return PP_AK_CGNAT;
	if ((a >> 24) == 10 || (a & 0xfff00000u) == 0xac100000u ||  /* 10/8, 172.16/12 */
	    (a & 0xffff0000u) == 0xc0a80000u)                       /* 192.168/16 */
		return PP_AK_PRIVATE;
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a & 0xffff0000u) == 0xa9fe0000u ||
	    (a >> 28) >= 14)                                        /* 0/8, loopback, link-local, multicast, 240/4 */
		return PP_AK_RESERVED;
	return PP_AK_PUBLIC;
}

/* v in decimal at p, no NUL: the renderers' hot path (snprintf costs 10x). Returns the end. */
char *
pp_put_uint(char *p, unsigned v)
{
	char d[10];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = d[--n];
	return p;
}

/* By hand: inet_ntop's sprintf was most of an nftables render's time at 20,000 mappings. */
char *
pp_put_ipv4(char *p, uint32_t a)
{
	for (int i = 3; i >= 0; i--) {
		p = pp_put_uint(p, (a >> (8 * i)) & 0xff);
		if (i)
			*p++ = '.';
	}
	return p;
}
