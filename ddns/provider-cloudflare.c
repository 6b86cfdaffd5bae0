/* Cloudflare API v4: find the zone and the record, PATCH its content (API token). */
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"

/* One API call; returns the code its HTTP status and "success" mean, body in rs. */
static enum pp_ddns_code
call(struct ddns_api *cf, const char *method, const char *url, const char *body, struct ddns_http_resp *rs)
{
	int rc = ddns_api_call(cf, method, url, body, rs);

	return rc < 0 ? ddns_http_fail_code(rs) : ddns_cf_answer(rs->status, rs->body.data);
}

static enum pp_ddns_code
one_type(struct ddns_api *cf, const char *zid, const char *host, const char *type, const char *addr,
         bool *proxied)
{
	struct ddns_http_resp rs;
	char *h = ddns_urlenc(host);
	char *url = pp_xasprintf("%s/zones/%s/dns_records?type=%s&name=%s", cf->base, zid, type, h);
	enum pp_ddns_code c = call(cf, NULL, url, NULL, &rs);
	char *rid = NULL, *content = NULL;

	free(url);
	free(h);
	if (c == PP_DC_GOOD) {
		rid = ddns_cf_first(rs.body.data, "id");
		content = ddns_cf_first(rs.body.data, "content");
		if (proxied && ddns_cf_first_true(rs.body.data, "proxied"))
			*proxied = true;
		if (rid == NULL)
			c = PP_DC_NOHOST;      /* portpilot updates records, it does not create them */
		else if (content && strcmp(content, addr) == 0)
			c = PP_DC_NOCHG;
	}
	ddns_http_resp_free(&rs);
	if (c == PP_DC_GOOD) {
		url = pp_xasprintf("%s/zones/%s/dns_records/%s", cf->base, zid, rid);
		char *body = pp_xasprintf("{\"content\":\"%s\"}", addr);
		c = call(cf, "PATCH", url, body, &rs);
		ddns_http_resp_free(&rs);
		free(body);
		free(url);
	}
	free(rid);
	free(content);
	return c;
}

static enum pp_ddns_code
one_host(struct ddns_api *cf, size_t i)
{
	const char *host = cf->j->hosts[i];
	bool *proxied = cf->j->proxied ? &cf->j->proxied[i] : NULL;
	struct ddns_http_resp rs;
	char *zone = ddns_zone_of(cf->j->dc, host), *z = ddns_urlenc(zone);
	char *url = pp_xasprintf("%s/zones?name=%s", cf->base, z);
	enum pp_ddns_code c = call(cf, NULL, url, NULL, &rs);
	char *zid = c == PP_DC_GOOD ? ddns_cf_first(rs.body.data, "id") : NULL;

	ddns_http_resp_free(&rs);
	free(url);
	free(z);
	free(zone);
	if (c == PP_DC_GOOD && zid == NULL)
		c = PP_DC_NOHOST;
	if (c == PP_DC_GOOD && cf->j->addr4)
		c = one_type(cf, zid, host, "A", cf->j->addr4, proxied);
	if ((c == PP_DC_GOOD || c == PP_DC_NOCHG) && cf->j->addr6) {
		enum pp_ddns_code c6 = one_type(cf, zid, host, "AAAA", cf->j->addr6,
		                                cf->j->addr4 ? NULL : proxied);
		if (c6 != PP_DC_NOCHG || cf->j->addr4 == NULL)
			c = c6;
	}
	free(zid);
	return c;
}

void
ddns_cloudflare(struct ddns_job *j)
{
	ddns_api_each(j, one_host);
}
