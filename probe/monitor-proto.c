/* What the monitor's checks expect of an answer: status lines, codes, body text (pure). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/monitor.h"
#include "portpilot/util.h"

enum pp_check_kind
pp_mon_default_kind(const struct pp_mapping *m)
{
	return pp_check_kind_for(m);      /* one rule for check and monitor */
}

int
pp_mon_status_line(const char *buf, size_t len, const char *proto, int *code)
{
	size_t pl = strlen(proto), i;
	const char *eol = memchr(buf, '\n', len);

	/* Judge the prefix as soon as it can be told apart: a server speaking something else
	 * fails at once instead of at the timeout. */
	if (strncasecmp(buf, proto, len < pl ? len : pl) != 0)
		return -1;
	if (eol == NULL)
		return len > 512 ? -1 : 0;
	i = pl;
	if (i >= (size_t)(eol - buf) || !isdigit((unsigned char)buf[i]))
		return -1;
	while (i < (size_t)(eol - buf) && (isdigit((unsigned char)buf[i]) || buf[i] == '.'))
		i++;
	if (buf[i] != ' ')
		return -1;
	i++;
	if (i + 3 > (size_t)(eol - buf) || !isdigit((unsigned char)buf[i]) ||
	    !isdigit((unsigned char)buf[i + 1]) || !isdigit((unsigned char)buf[i + 2]))
		return -1;
	if (i + 3 < (size_t)(eol - buf) && buf[i + 3] != ' ' && buf[i + 3] != '\r')
		return -1;
	*code = (buf[i] - '0') * 100 + (buf[i + 1] - '0') * 10 + (buf[i + 2] - '0');
	return *code >= 100 ? 1 : -1;
}

static bool
is_code(const char *t)
{
	return strlen(t) == 3 && isdigit((unsigned char)t[0]) &&
	       ((isdigit((unsigned char)t[1]) && isdigit((unsigned char)t[2])) ||
	        (tolower((unsigned char)t[1]) == 'x' && tolower((unsigned char)t[2]) == 'x'));
}

int
pp_mon_expect_parse(const char *s, bool with_codes, struct pp_mon_expect *e, struct pp_error *err)
{
	const char *p = s;

	memset(e, 0, sizeof *e);
	while (*p == ' ')
		p++;
	if (with_codes) {
		/* Leading codes, comma separated: "200", "200,301", "2xx". */
		for (;;) {
			size_t k = strcspn(p, ", ");
			char tok[8];
			if (k == 0 || k >= sizeof tok)
				break;
			memcpy(tok, p, k);
			tok[k] = '\0';
			if (!is_code(tok))
				break;
			if (e->ncodes == 8)
				return pp_error_set(err, "'%s': at most 8 status codes", s);
			memcpy(e->codes[e->ncodes++], tok, 4);     /* is_code: three characters and NUL */
			p += k;
			if (*p == ',') {
				p++;
				continue;
			}
			while (*p == ' ')
				p++;
			break;
		}
	}
	if (*p && pp_check_unescape(p, &e->text, &e->text_len, err) < 0)
		return -1;
	return 0;
}

void
pp_mon_expect_free(struct pp_mon_expect *e)
{
	free(e->text);
	e->text = NULL;
}

bool
pp_mon_code_ok(const struct pp_mon_expect *e, enum pp_check_kind k, int code)
{
	char c[12];

	if (e == NULL || e->ncodes == 0)
		return k == PP_CK_HTTP || k == PP_CK_HTTPS ? code < 400 : true;
	snprintf(c, sizeof c, "%03u", (unsigned)code % 1000u);
	for (int i = 0; i < e->ncodes; i++) {
		const char *w = e->codes[i];
		if (w[0] == c[0] && (tolower((unsigned char)w[1]) == 'x' || w[1] == c[1]) &&
		    (tolower((unsigned char)w[2]) == 'x' || w[2] == c[2]))
			return true;
	}
	return false;
}

static bool
has_text(const char *rx, size_t len, const struct pp_mon_expect *e)
{
	return e == NULL || e->text == NULL || memmem(rx, len, e->text, e->text_len) != NULL;
}

/* The answer's first line, printable, for "why". */
static void
first_line(const char *rx, size_t len, char *out, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < len && rx[i] != '\r' && rx[i] != '\n' && k + 1 < n && k < 60; i++)
		out[k++] = isprint((unsigned char)rx[i]) ? rx[i] : '.';
	out[k] = '\0';
}

int
pp_mon_judge(enum pp_check_kind k, const struct pp_mon_expect *e, const char *rx, size_t len,
             bool eof, char *why, size_t n)
{
	const char *proto = k == PP_CK_RTSP ? "RTSP/" : k == PP_CK_SIP ? "SIP/" : "HTTP/";
	char line[64];
	int code = 0, r;

	why[0] = '\0';
	switch (k) {
	case PP_CK_TCP:
	case PP_CK_UDP:
		/* tcp: a banner to wait for (e.g. SSH-); udp: the reply must hold the text. */
		if (has_text(rx, len, e) && (k == PP_CK_TCP || len > 0))
			return snprintf(why, n, "%s", len ? "answered as expected" : "connected"), 1;
		if (eof || len > 65536) {
			first_line(rx, len, line, sizeof line);
			snprintf(why, n, "the answer lacks the expected text (got '%s')", line);
			return -1;
		}
		return 0;
	case PP_CK_HTTP:
	case PP_CK_HTTPS:
	case PP_CK_RTSP:
	case PP_CK_SIP:
		r = pp_mon_status_line(rx, len, proto, &code);
		/* SIP answers 1xx provisional first, maybe in the same segment as the final one:
		 * step over each provisional message (header end; they carry no body). */
		while (r > 0 && code < 200 && k == PP_CK_SIP) {
			const char *end = memmem(rx, len, "\r\n\r\n", 4);
			if (end == NULL || (size_t)(end + 4 - rx) == len)
				break;
			len -= (size_t)(end + 4 - rx);
			rx = end + 4;
			r = pp_mon_status_line(rx, len, proto, &code);
		}
		if (r == 0 && !eof)
			return 0;
		if (r <= 0) {
			first_line(rx, len, line, sizeof line);
			snprintf(why, n, len ? "not a %.*s answer: '%s'" : "closed without an answer",
			         (int)strlen(proto) - 1, proto, line);
			return -1;
		}
		/* SIP and RTSP answer 1xx provisional first: wait for the final one. */
		if (code < 200 && k == PP_CK_SIP) {
			if (!eof)
				return 0;
			snprintf(why, n, "only a provisional answer (status %d)", code);
			return -1;
		}
		if (!pp_mon_code_ok(e, k, code)) {
			snprintf(why, n, "status %d", code);
			return -1;
		}
		if (e && e->text && (k == PP_CK_HTTP || k == PP_CK_HTTPS)) {
			const char *body = memmem(rx, len, "\r\n\r\n", 4);
			size_t off = body ? (size_t)(body - rx) + 4 : len;
			if (memmem(rx + off, len - off, e->text, e->text_len))
				return snprintf(why, n, "status %d, body as expected", code), 1;
			if (!eof && len <= 65536)
				return 0;
			snprintf(why, n, "status %d, but the body lacks the expected text", code);
			return -1;
		}
		snprintf(why, n, "status %d", code);
		return 1;
	case PP_CK_TLS:
		return snprintf(why, n, "TLS handshake done"), 1;
	default:
		return snprintf(why, n, "no check"), 1;
	}
}
