/* Cloudflare API v4: find the zone and the record, PATCH its content (API token). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"

/* A minimal JSON walker: enough to read result[0].id and .content from Cloudflare's answers. */
static const char *ws(const char *p) { while (*p && isspace((unsigned char)*p)) p++; return p; }

static const char *
skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

static const char *
skip_value(const char *p, int depth)
{
	p = ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || (p = skip_string(p)) == NULL || *(p = ws(p)) != ':')
					return NULL;
				p++;
			}
			if ((p = skip_value(p, depth + 1)) == NULL)
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = ws(p + 1);
		}
	}
	while (*p && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
		p++;
	return p;
}

/* In the object at p, the value of key (pointer to it), NULL if absent. */
static const char *
member(const char *p, const char *key)
{
	size_t klen = strlen(key);

	p = ws(p);
	if (*p != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *e = skip_string(p);
		if (e == NULL || *(p = ws(e)) != ':')
			return NULL;
		p = ws(p + 1);
		if ((size_t)(e - 1 - k) == klen && memcmp(k, key, klen) == 0)
			return p;
		if ((p = skip_value(p, 0)) == NULL)
			return NULL;
		p = ws(p);
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

/* A JSON string value (no escapes expected in ids/addresses). Caller frees; NULL if not a string. */
static char *
string_at(const char *p)
{
	const char *e;

	if (p == NULL || *(p = ws(p)) != '"' || (e = skip_string(p)) == NULL)
		return NULL;
	return pp_xstrndup(p + 1, (size_t)(e - p - 2));
}

static bool
success(const char *body)
{
	const char *v = member(body, "success");
	return v && strncmp(v, "true", 4) == 0;
}

/* result[0].field of a list answer; NULL when the list is empty. */
static char *
first_result(const char *body, const char *field)
{
	const char *r = member(body, "result");

	if (r == NULL || *(r = ws(r)) != '[')
		return NULL;
	return string_at(member(ws(r + 1), field));
}

struct cf {
	struct ddns_job *j;
	char *base, *auth;
	struct pp_buf det;
};

/* One API call; returns the code its HTTP status means, body in rs. */
static enum pp_ddns_code
call(struct cf *cf, const char *method, const char *url, const char *body, struct ddns_http_resp *rs)
{
	struct ddns_http_req rq = {
		.method = method, .url = url, .body = body, .ca_file = cf->j->dc->ca_file,
		.headers = { cf->auth },
	};
	int rc = ddns_http(&rq, rs);

	pp_buf_printf(&cf->det, "%s%s %s -> %s", cf->det.len ? "; " : "", method ? method : "GET",
	              url, rs->outcome);
	if (rc < 0)
		return PP_DC_NETWORK;
	enum pp_ddns_code c = pp_http_status_code(rs->status);
	if (c == PP_DC_GOOD && !success(rs->body.data))
		c = PP_DC_UNKNOWN;
	return c;
}

static enum pp_ddns_code
one_type(struct cf *cf, const char *zid, const char *host, const char *type, const char *addr)
{
	struct ddns_http_resp rs;
	char *h = ddns_urlenc(host);
	char *url = pp_xasprintf("%s/zones/%s/dns_records?type=%s&name=%s", cf->base, zid, type, h);
	enum pp_ddns_code c = call(cf, NULL, url, NULL, &rs);
	char *rid = NULL, *content = NULL;

	free(url);
	free(h);
	if (c == PP_DC_GOOD) {
		rid = first_result(rs.body.data, "id");
		content = first_result(rs.body.data, "content");
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
one_host(struct cf *cf, const char *host)
{
	struct ddns_http_resp rs;
	char *zone = ddns_zone_of(cf->j->dc, host), *z = ddns_urlenc(zone);
	char *url = pp_xasprintf("%s/zones?name=%s", cf->base, z);
	enum pp_ddns_code c = call(cf, NULL, url, NULL, &rs);
	char *zid = c == PP_DC_GOOD ? first_result(rs.body.data, "id") : NULL;

	ddns_http_resp_free(&rs);
	free(url);
	free(z);
	free(zone);
	if (c == PP_DC_GOOD && zid == NULL)
		c = PP_DC_NOHOST;
	if (c == PP_DC_GOOD)
		c = one_type(cf, zid, host, "A", cf->j->addr4);
	if ((c == PP_DC_GOOD || c == PP_DC_NOCHG) && cf->j->addr6) {
		enum pp_ddns_code c6 = one_type(cf, zid, host, "AAAA", cf->j->addr6);
		if (c6 != PP_DC_NOCHG)
			c = c6 == PP_DC_GOOD ? PP_DC_GOOD : c6;
	}
	free(zid);
	return c;
}

void
ddns_cloudflare(struct ddns_job *j)
{
	struct cf cf = { .j = j };

	cf.base = ddns_base_url(j->dc->server, "api.cloudflare.com/client/v4");
	cf.auth = pp_xasprintf("Authorization: Bearer %s", j->cr->token ? j->cr->token : "");
	pp_buf_add(&cf.det, "", 0);
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = one_host(&cf, j->hosts[i]);
	/* URLs here hold no secret: the token travels in the Authorization header only. */
	snprintf(j->detail, sizeof j->detail, "%s", cf.det.data);
	explicit_bzero(cf.auth, strlen(cf.auth));
	free(cf.auth);
	free(cf.base);
	pp_buf_free(&cf.det);
}
