/* Provider answers: names, classes, plain-words reasons, and exact response parsers. */
#include <string.h>

#include "ddns-internal.h"
#include "portpilot/ddns.h"
#include "portpilot/util.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct {
	const char *name;          /* dyndns2 spelling where there is one */
	enum pp_ddns_class cls;
	const char *reason;
} codes[PP_DC__COUNT] = {
	[PP_DC_NONE]      = { "none", PP_CLS_NONE, "no update sent yet" },
	[PP_DC_GOOD]      = { "good", PP_CLS_OK, "updated" },
	[PP_DC_NOCHG]     = { "nochg", PP_CLS_OK, "provider already had this address" },
	[PP_DC_BADAUTH]   = { "badauth", PP_CLS_FATAL,
		"provider refused the credentials; fix the credentials file" },
	[PP_DC_NOHOST]    = { "nohost", PP_CLS_FATAL,
		"host name (or zone/record) does not exist in this account; fix hostname or create it at the provider" },
	[PP_DC_NOTFQDN]   = { "notfqdn", PP_CLS_FATAL,
		"host name is not a fully qualified domain name; fix hostname" },
	[PP_DC_NOTYOURS]  = { "!yours", PP_CLS_FATAL,
		"host name belongs to another account; fix hostname or the credentials" },
	[PP_DC_NODONATOR] = { "!donator", PP_CLS_FATAL,
		"the request uses a feature of paid accounts; remove it or upgrade the account" },
	[PP_DC_BADAGENT]  = { "badagent", PP_CLS_FATAL,
		"provider blocked this client; report it to the portpilot maintainers" },
	[PP_DC_BADSYS]    = { "badsys", PP_CLS_FATAL,
		"provider rejected the system parameter; check server and provider" },
	[PP_DC_ABUSE]     = { "abuse", PP_CLS_FATAL,
		"provider blocked the host for abuse; unblock it in the provider's web interface" },
	[PP_DC_NUMHOST]   = { "numhost", PP_CLS_FATAL,
		"too many host names in one request; split them over several [ddns] sections" },
	[PP_DC_BADREQ]    = { "badrequest", PP_CLS_FATAL,
		"provider rejected the request as invalid; check server, zone, url and hostname" },
	[PP_DC_911]       = { "911", PP_CLS_RETRY,
		"provider has a problem (911); retrying after at least 30 minutes" },
	[PP_DC_DNSERR]    = { "dnserr", PP_CLS_RETRY, "provider DNS error; retrying later" },
	[PP_DC_RATELIMIT] = { "ratelimit", PP_CLS_RETRY,
		"provider rate limit (HTTP 429); retrying after at least 30 minutes" },
	[PP_DC_SERVER]    = { "http-5xx", PP_CLS_RETRY, "provider server error; retrying later" },
	[PP_DC_NETWORK]   = { "network", PP_CLS_RETRY,
		"provider unreachable (connection, TLS or timeout); retrying later" },
	[PP_DC_UNKNOWN]   = { "unknown", PP_CLS_RETRY,
		"provider gave an answer portpilot does not understand; retrying later" },
	[PP_DC_TOOLARGE]  = { "toolarge", PP_CLS_RETRY,
		"answer too large (over " STR(DDNS_BODY_MAX) " bytes), not a DDNS provider's; check server or url "
		"in the [ddns] section; retrying later" },
};

enum pp_ddns_class pp_ddns_code_class(enum pp_ddns_code c) { return codes[c].cls; }
const char *pp_ddns_code_name(enum pp_ddns_code c) { return codes[c].name; }
const char *pp_ddns_code_reason(enum pp_ddns_code c) { return codes[c].reason; }

int
pp_ddns_code_lookup(const char *name)
{
	for (int i = 0; i < PP_DC__COUNT; i++)
		if (strcmp(codes[i].name, name) == 0)
			return i;
	return -1;
}

/* The dyndns2 codes a server may send, exactly as spelled on the wire. */
static enum pp_ddns_code
dyndns2_word(const char *w, size_t n)
{
	static const enum pp_ddns_code wire[] = {
		PP_DC_GOOD, PP_DC_NOCHG, PP_DC_BADAUTH, PP_DC_NOHOST, PP_DC_NOTFQDN,
		PP_DC_NOTYOURS, PP_DC_NODONATOR, PP_DC_BADAGENT, PP_DC_BADSYS, PP_DC_ABUSE,
		PP_DC_NUMHOST, PP_DC_911, PP_DC_DNSERR,
	};
	for (size_t i = 0; i < sizeof wire / sizeof wire[0]; i++)
		if (strlen(codes[wire[i]].name) == n && memcmp(codes[wire[i]].name, w, n) == 0)
			return wire[i];
	return PP_DC_UNKNOWN;
}

/* One answer line: "CODE" or "CODE ADDRESS", nothing else. */
static enum pp_ddns_code
dyndns2_line(const char *line, size_t len)
{
	size_t n = 0;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (n < len && line[n] != ' ')
		n++;
	enum pp_ddns_code c = dyndns2_word(line, n);
	if (c == PP_DC_UNKNOWN || n == len)
		return c;
	/* Only good/nochg carry an address; anything else after a code is not the protocol. */
	if (c != PP_DC_GOOD && c != PP_DC_NOCHG)
		return PP_DC_UNKNOWN;
	/* The address echoed back; for a dual-stack update "IPV4,IPV6", as sent in myip. */
	const char *a = line + n + 1, *end = line + len;
	for (int k = 0; k < 2; k++) {
		const char *comma = memchr(a, ',', (size_t)(end - a));
		size_t alen = (size_t)((comma ? comma : end) - a);
		if (alen == 0 || alen >= 46 || strspn(a, "0123456789abcdefABCDEF.:") < alen)
			return PP_DC_UNKNOWN;
		if (comma == NULL)
			return c;
		a = comma + 1;
	}
	return PP_DC_UNKNOWN;
}

static bool
account_wide(enum pp_ddns_code c)
{
	return c == PP_DC_BADAUTH || c == PP_DC_BADAGENT || c == PP_DC_NODONATOR ||
	       c == PP_DC_ABUSE || c == PP_DC_911 || c == PP_DC_NUMHOST || c == PP_DC_BADSYS;
}

int
pp_dyndns2_parse(const char *body, size_t nhosts, enum pp_ddns_code *codes_out)
{
	size_t i = 0, parsed = 0;
	const char *p = body;

	for (size_t k = 0; k < nhosts; k++)
		codes_out[k] = PP_DC_UNKNOWN;
	while (*p && i < nhosts) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len > 0 && !(len == 1 && p[0] == '\r')) {
			codes_out[i] = dyndns2_line(p, len);
			if (codes_out[i] != PP_DC_UNKNOWN)
				parsed++;
			i++;
		}
		p = e ? e + 1 : p + len;
	}
	if (parsed == 0)
		return -1;
	if (i == 1 && nhosts > 1 && account_wide(codes_out[0]))
		for (size_t k = 1; k < nhosts; k++)
			codes_out[k] = codes_out[0];
	return 0;
}

enum pp_ddns_code
pp_duckdns_parse(const char *body)
{
	size_t n = strcspn(body, "\r\n");

	if (n == 2 && memcmp(body, "OK", 2) == 0)
		return PP_DC_GOOD;
	if (n == 2 && memcmp(body, "KO", 2) == 0)
		return PP_DC_BADAUTH;   /* DuckDNS says KO for a bad token and for a foreign domain alike */
	return PP_DC_UNKNOWN;
}

enum pp_ddns_code
pp_http_status_code(long status)
{
	if (status >= 200 && status < 300)
		return PP_DC_GOOD;
	if (status == 401 || status == 403)
		return PP_DC_BADAUTH;
	if (status == 404)
		return PP_DC_NOHOST;
	if (status == 429)
		return PP_DC_RATELIMIT;
	if (status >= 500 && status < 600)
		return PP_DC_SERVER;
	if (status >= 400 && status < 500)
		return PP_DC_BADREQ;
	return status == 0 ? PP_DC_NETWORK : PP_DC_UNKNOWN;
}
