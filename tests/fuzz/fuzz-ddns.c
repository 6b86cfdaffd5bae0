/*
 * libFuzzer target: every parser of remote DDNS input (dyndns2, DuckDNS, HTTP status,
 * Cloudflare JSON, echo answers, DNS answers) must not crash or leak, and must agree
 * with simple oracles: exact per-host dyndns2 codes, round trips of well-formed answers.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ddns/ddns-internal.h"

#define MAXH 8

static const enum pp_ddns_code wire[] = {
	PP_DC_GOOD, PP_DC_NOCHG, PP_DC_BADAUTH, PP_DC_NOHOST, PP_DC_NOTFQDN, PP_DC_NOTYOURS,
	PP_DC_NODONATOR, PP_DC_BADAGENT, PP_DC_BADSYS, PP_DC_ABUSE, PP_DC_NUMHOST, PP_DC_911,
	PP_DC_DNSERR,
};
#define NWIRE (sizeof wire / sizeof wire[0])

static void
must(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-ddns oracle failed: %s\n", what);
		abort();
	}
}

static int
is_wire(enum pp_ddns_code c)
{
	for (size_t i = 0; i < NWIRE; i++)
		if (wire[i] == c)
			return 1;
	return 0;
}

/* Answers about the account, not one host: one such line speaks for every host. */
static int
account_wide(enum pp_ddns_code c)
{
	return c == PP_DC_BADAUTH || c == PP_DC_BADAGENT || c == PP_DC_NODONATOR || c == PP_DC_ABUSE ||
	       c == PP_DC_911 || c == PP_DC_NUMHOST || c == PP_DC_BADSYS;
}

/* The i-th non-blank line of body (blank: empty or a lone CR), as the parser counts them. */
static const char *
nth_line(const char *body, size_t i, size_t *len)
{
	for (const char *p = body; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > 0 && !(l == 1 && p[0] == '\r') && i-- == 0) {
			*len = l;
			return p;
		}
		p = e ? e + 1 : p + l;
	}
	return NULL;
}

/* Any body: each host's code is the exact code word of its own line, or unknown. */
static void
dyndns2_any(const char *body, size_t n)
{
	enum pp_ddns_code codes[MAXH + 1];
	size_t len;

	codes[n] = (enum pp_ddns_code)0x5a5a;
	int rc = pp_dyndns2_parse(body, n, codes);
	must(codes[n] == (enum pp_ddns_code)0x5a5a, "dyndns2: wrote past the last host");
	must(rc == 0 || rc == -1, "dyndns2: return value");
	size_t known = 0;
	for (size_t i = 0; i < n; i++) {
		must(codes[i] == PP_DC_UNKNOWN || is_wire(codes[i]), "dyndns2: code not on the wire list");
		known += codes[i] != PP_DC_UNKNOWN;
		if (codes[i] == PP_DC_UNKNOWN)
			continue;
		const char *line = nth_line(body, i, &len);
		if (line == NULL) {
			/* Only one account-wide line may speak for the hosts without a line. */
			must(nth_line(body, 1, &len) == NULL && codes[i] == codes[0] && account_wide(codes[0]),
			     "dyndns2: code for a host without a line");
			continue;
		}
		const char *w = pp_ddns_code_name(codes[i]);
		size_t wl = strlen(w);
		must(len >= wl && memcmp(line, w, wl) == 0 &&
		     (len == wl || strchr(" \r\t", line[wl])), "dyndns2: code is not the line's exact word");
	}
	must(rc == -1 ? known == 0 : known > 0, "dyndns2: -1 exactly when no line parses");
}

/* A well-formed answer for n hosts parses to exactly the codes it was built from. */
static void
dyndns2_roundtrip(const uint8_t *d, size_t sz)
{
	enum pp_ddns_code want[MAXH], got[MAXH];
	char body[MAXH * 64 + 1];
	size_t n = sz ? 1 + d[0] % MAXH : 1, o = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t b = 1 + i < sz ? d[1 + i] : 0;
		want[i] = wire[b % NWIRE];
		if (b & 0x80)
			o += (size_t)snprintf(body + o, sizeof body - o, "\r\n");   /* blank lines are skipped */
		o += (size_t)snprintf(body + o, sizeof body - o, "%s", pp_ddns_code_name(want[i]));
		if ((b & 0x40) && (want[i] == PP_DC_GOOD || want[i] == PP_DC_NOCHG))
			o += (size_t)snprintf(body + o, sizeof body - o, " 203.0.113.%u", b & 0x3f);
		o += (size_t)snprintf(body + o, sizeof body - o, "%s", (b & 0x20) ? "\r\n" : "\n");
	}
	must(pp_dyndns2_parse(body, n, got) == 0, "dyndns2 round trip: well-formed answer refused");
	for (size_t i = 0; i < n; i++)
		must(got[i] == want[i], "dyndns2 round trip: a host got another host's or a wrong code");
}

static void
duckdns(const char *body)
{
	enum pp_ddns_code c = pp_duckdns_parse(body);
	size_t n = strcspn(body, "\r\n");

	must(c == (n == 2 && !memcmp(body, "OK", 2) ? PP_DC_GOOD :
	           n == 2 && !memcmp(body, "KO", 2) ? PP_DC_BADAUTH : PP_DC_UNKNOWN), "duckdns: first line exact");
}

static void
http_status(long st)
{
	enum pp_ddns_class k = pp_ddns_code_class(pp_http_status_code(st));

	if (st >= 200 && st < 300)
		must(k == PP_CLS_OK, "http: 2xx is success");
	else if (st >= 500 && st < 600)
		must(k == PP_CLS_RETRY, "http: 5xx is a retry");
	else if (st == 429)
		must(k == PP_CLS_RETRY, "http: 429 is a retry");
	else if (st >= 400 && st < 500)
		must(k == PP_CLS_FATAL, "http: 4xx is fatal");
	else
		must(k == PP_CLS_RETRY, "http: anything else is a retry, never success or a stop");
}

static void
cloudflare(long st, const char *body)
{
	enum pp_ddns_code c = ddns_cf_answer(st, body);
	char *id = ddns_cf_first(body, "id"), *content = ddns_cf_first(body, "content");

	must(c != PP_DC_GOOD || ddns_cf_success(body), "cloudflare: good without success:true");
	(void)ddns_cf_first_true(body, "proxied");
	must(id == NULL || strchr(id, '"') == NULL || strstr(id, "\\\""), "cloudflare: id runs past its string");
	free(id);
	free(content);
}

/* A well-formed list answer, spaced as the input says, yields its id and content. */
static void
cloudflare_roundtrip(const uint8_t *d, size_t sz)
{
	char id[33], body[512];
	const char *sp[] = { "", " ", "\n", "\t ", "\r\n  " };
	const char *s1 = sp[sz > 0 ? d[0] % 5 : 0], *s2 = sp[sz > 1 ? d[1] % 5 : 0];

	for (size_t i = 0; i < 32; i++)
		id[i] = "0123456789abcdef"[(2 + i < sz ? d[2 + i] : i) & 15];
	id[32] = '\0';
	snprintf(body, sizeof body, "{%s\"errors\":[%s{\"code\":1}],\"result\":%s[{\"name\":\"a.example.net\",%s"
	         "\"id\":%s\"%s\",\"content\":\"203.0.113.%u\",\"meta\":{\"x\":[1,2,{}]},\"proxied\":%s}],"
	         "%s\"success\":%strue}",
	         s1, s2, s1, s2, s1, id, sz > 3 ? d[3] : 7, sz > 4 && (d[4] & 1) ? "true" : "false", s2, s1);
	char *got = ddns_cf_first(body, "id");
	must(got && strcmp(got, id) == 0, "cloudflare round trip: result[0].id");
	must(ddns_cf_answer(200, body) == PP_DC_GOOD, "cloudflare round trip: success:true with 200");
	must(ddns_cf_first_true(body, "proxied") == (sz > 4 && (d[4] & 1)), "cloudflare round trip: proxied");
	free(got);
}

/* Echo services answer with an address in the body; what parses must format back to itself. */
static void
echo_answer(const char *body)
{
	char *t = strdup(body), out[16];
	uint32_t a, b;

	if (pp_parse_ipv4(pp_trim(t), &a) == 0) {
		pp_format_ipv4(a, out);
		must(pp_parse_ipv4(out, &b) == 0 && a == b, "echo: address does not round-trip");
	}
	free(t);
}

static void
dns_any(const uint8_t *d, size_t sz, uint8_t flags)
{
	uint16_t id = sz >= 2 ? (uint16_t)(d[0] << 8 | d[1]) : 0;
	char out[46];
	struct ddns_ns ns[4];
	bool v6 = flags & 1, aa = flags & 2;

	int rc = ddns_dns_parse_addr(d, sz, id, v6, aa, out, sizeof out);
	must(rc >= -1 && rc <= 1, "dns: return value");
	if (rc == 1) {
		unsigned char buf[16];
		must(inet_pton(v6 ? AF_INET6 : AF_INET, out, buf) == 1, "dns: address that does not parse");
	}
	if (aa && sz >= 3 && !(d[2] & 0x04))
		must(rc == -1, "dns: a non-authoritative answer was believed");
	int k = ddns_dns_parse_ns(d, sz, id, ns, 4);
	must(k >= -1 && k <= 4, "dns ns: count");
	for (int i = 0; i < k; i++) {
		struct in_addr a;
		must(ns[i].name[0] && strlen(ns[i].name) < sizeof ns[i].name, "dns ns: name");
		must(ns[i].addr[0] == '\0' || inet_pton(AF_INET, ns[i].addr, &a) == 1, "dns ns: glue address");
	}
}

/* A well-formed authoritative answer (name compressed to the question) yields its address. */
static void
dns_roundtrip(const uint8_t *d, size_t sz)
{
	unsigned char m[512];
	size_t o = 12;
	uint8_t ip[4] = { 203, 0, 113, sz > 0 ? d[0] : 1 };
	char want[16], out[16];

	memset(m, 0, 12);
	m[0] = 0x12, m[1] = 0x34, m[2] = 0x84, m[5] = 1, m[7] = 1;   /* response, AA; 1 question, 1 answer */
	size_t labels = sz > 1 ? 1 + d[1] % 4 : 2;
	for (size_t l = 0; l < labels; l++) {
		size_t len = 1 + (2 + l < sz ? d[2 + l] % 20 : 3);
		m[o++] = (unsigned char)len;
		for (size_t i = 0; i < len; i++)
			m[o++] = (unsigned char)('a' + (i + l) % 26);
	}
	m[o++] = 0;
	memcpy(m + o, "\0\1\0\1", 4), o += 4;
	memcpy(m + o, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4", 12), o += 12;
	memcpy(m + o, ip, 4), o += 4;
	snprintf(want, sizeof want, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	must(ddns_dns_parse_addr(m, o, 0x1234, false, true, out, sizeof out) == 1 && strcmp(out, want) == 0,
	     "dns round trip: A record");
	must(ddns_dns_parse_addr(m, o, 0x1235, false, true, out, sizeof out) == -1, "dns: answer to another id");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t sel = data[0], arg = data[1];
	const uint8_t *d = data + 2;
	size_t sz = size - 2;
	char *s = malloc(sz + 1);

	memcpy(s, d, sz);
	s[sz] = '\0';
	switch (sel % 9) {
	case 0: dyndns2_any(s, 1 + arg % MAXH); break;
	case 1: dyndns2_roundtrip(d, sz); break;
	case 2: duckdns(s); break;
	case 3: http_status((long)(int16_t)(arg << 8 | (sz ? d[0] : 0))); break;
	case 4: cloudflare(sz ? 100 + d[0] * 2 : 200, sz ? s + 1 : s); break;
	case 5: cloudflare_roundtrip(d, sz); break;
	case 6: echo_answer(s); break;
	case 7: dns_any(d, sz, arg); break;
	case 8: dns_roundtrip(d, sz); break;
	}
	free(s);
	return 0;
}
