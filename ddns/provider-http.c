/* The simple HTTP providers: dyndns2 (/nic/update, Basic auth), DuckDNS, custom URL templates. */
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"

static char *
join_hosts(struct ddns_job *j, const char *strip)
{
	struct pp_buf b = { 0 };

	pp_buf_add(&b, "", 0);
	for (size_t i = 0; i < j->n; i++) {
		size_t n = strlen(j->hosts[i]);
		if (strip && n > strlen(strip) && strcmp(j->hosts[i] + n - strlen(strip), strip) == 0)
			n -= strlen(strip);
		char *h = pp_xstrndup(j->hosts[i], n);
		char *e = ddns_urlenc(h);
		pp_buf_printf(&b, "%s%s", i ? "," : "", e);
		free(e);
		free(h);
	}
	return b.data;
}

void
ddns_dyndns2(struct ddns_job *j)
{
	char *base = ddns_base_url(j->dc->server, j->api);
	char *hosts = join_hosts(j, NULL);
	struct pp_buf url = { 0 };
	struct ddns_http_resp rs;

	/*
	 * Both families in one myip, comma-separated: Dyn's reference protocol, also No-IP
	 * and deSEC. Providers that replace both records on each update would drop the
	 * other family if they came in two requests. IPv6 only: myip carries the AAAA
	 * address alone (an absent myip would publish the request's IPv4 source).
	 */
	pp_buf_printf(&url, "%s/nic/update?hostname=%s&myip=%s%s%s", base, hosts,
	              j->addr4 ? j->addr4 : j->addr6, j->addr4 && j->addr6 ? "," : "",
	              j->addr4 && j->addr6 ? j->addr6 : "");
	struct ddns_http_req rq = {
		.url = url.data, .ca_file = j->dc->ca_file,
		.user = j->cr->username ? j->cr->username : "", .password = j->cr->password,
	};
	int rc = ddns_http(&rq, &rs);
	/* dyndns2 servers answer badauth with a 401 and a body; the body decides when it parses. */
	if (rc < 0 || pp_dyndns2_parse(rs.body.data, j->n, j->codes) < 0)
		ddns_job_http_fail(j, &rs, rc);
	/* The URL carries no secret (credentials go in the Authorization header). */
	snprintf(j->detail, sizeof j->detail, "GET %s -> %s", url.data,
	         rs.outcome);
	ddns_http_resp_free(&rs);
	pp_buf_free(&url);
	free(hosts);
	free(base);
}

void
ddns_duckdns(struct ddns_job *j)
{
	char *base = ddns_base_url(j->dc->server, j->api);
	char *hosts = join_hosts(j, ".duckdns.org");
	char *tok = ddns_urlenc(j->cr->token ? j->cr->token : "");
	/* DuckDNS fills an empty ip= from the request's source: IPv6 only goes in ip= itself. */
	const char *ip = j->addr4 ? j->addr4 : j->addr6;
	char *url = pp_xasprintf("%s/update?domains=%s&token=%s&ip=%s%s%s", base, hosts, tok, ip,
	                         j->addr4 && j->addr6 ? "&ipv6=" : "", j->addr4 && j->addr6 ? j->addr6 : "");
	struct ddns_http_req rq = { .url = url, .ca_file = j->dc->ca_file };
	struct ddns_http_resp rs;
	int rc = ddns_http(&rq, &rs);

	if (rc == 0 && rs.status == 200)
		ddns_job_all(j, pp_duckdns_parse(rs.body.data));
	else
		ddns_job_http_fail(j, &rs, rc);
	snprintf(j->detail, sizeof j->detail, "GET %s/update?domains=%s&token=***&ip=%s -> %s",
	         base, hosts, ip, rs.outcome);
	explicit_bzero(url, strlen(url));
	free(url);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	ddns_http_resp_free(&rs);
	free(hosts);
	free(base);
}

/* Expand {hostname} {ip} {ipv6} {username} {password} {token}; redact=true writes *** for secrets. */
static char *
expand(const char *tmpl, const struct ddns_job *j, const char *host, bool redact)
{
	const struct { const char *name; const char *val; bool secret; } ph[] = {
		{ "{hostname}", host, false }, { "{ip}", j->addr4 ? j->addr4 : "", false },
		{ "{ipv6}", j->addr6 ? j->addr6 : "", false },
		{ "{username}", j->cr->username ? j->cr->username : "", true },
		{ "{password}", j->cr->password ? j->cr->password : "", true },
		{ "{token}", j->cr->token ? j->cr->token : "", true },
	};
	struct pp_buf b = { 0 };

	pp_buf_add(&b, "", 0);
	for (const char *p = tmpl; *p;) {
		size_t k;
		for (k = 0; k < sizeof ph / sizeof ph[0]; k++)
			if (strncmp(p, ph[k].name, strlen(ph[k].name)) == 0)
				break;
		if (k == sizeof ph / sizeof ph[0]) {
			pp_buf_add(&b, p++, 1);
			continue;
		}
		if (redact && ph[k].secret) {
			pp_buf_addstr(&b, "***");
		} else {
			char *e = ddns_urlenc(ph[k].val);
			pp_buf_addstr(&b, e);
			free(e);
		}
		p += strlen(ph[k].name);
	}
	return b.data;
}

/* body holds a line equal to want (a trailing CR and blanks ignored). */
static bool
has_line(const char *body, size_t len, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = body, *end = body + len; p && p < end;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((e ? e : end) - p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == wl && memcmp(p, want, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

void
ddns_custom(struct ddns_job *j)
{
	struct pp_buf det = { 0 };

	pp_buf_add(&det, "", 0);
	for (size_t i = 0; i < j->n; i++) {
		char *url = expand(j->dc->url, j, j->hosts[i], false);
		char *shown = expand(j->dc->url, j, j->hosts[i], true);
		struct ddns_http_req rq = { .url = url, .ca_file = j->dc->ca_file };
		struct ddns_http_resp rs;
		int rc = ddns_http(&rq, &rs);

		j->codes[i] = rc < 0 ? ddns_http_fail_code(&rs) : pp_http_status_code(rs.status);
		/* Many such endpoints answer 200 with "KO" or an error text: when the
		 * engineer named the success line, a 2xx without it is no success. */
		bool said = true;
		if (j->codes[i] == PP_DC_GOOD && j->dc->success)
			said = has_line(rs.body.data, rs.body.len, j->dc->success);
		if (!said)
			j->codes[i] = PP_DC_UNKNOWN;
		pp_buf_printf(&det, "%sGET %s -> %s%s", i ? "; " : "", shown, rs.outcome,
		              said ? "" : ", without the success line");
		ddns_http_resp_free(&rs);
		explicit_bzero(url, strlen(url));
		free(url);
		free(shown);
	}
	snprintf(j->detail, sizeof j->detail, "%s", det.data);
	pp_buf_free(&det);
}
