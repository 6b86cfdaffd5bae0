/* What the providers share: the server's URL, the zone of a host, one code for every host. */
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"

char *
ddns_base_url(const char *server, const char *def)
{
	const char *s = server ? server : def;
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)
		return pp_xstrndup(s, n);
	return pp_xasprintf("https://%.*s", (int)n, s);
}

char *
ddns_zone_of(const struct pp_ddns_conf *dc, const char *host)
{
	const char *dot = strchr(host, '.');

	if (dc->zone)
		return pp_xstrdup(dc->zone);
	return pp_xstrdup(dot ? dot + 1 : host);
}

void
ddns_job_all(struct ddns_job *j, enum pp_ddns_code c)
{
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = c;
}

void
ddns_job_http_fail(struct ddns_job *j, const struct ddns_http_resp *rs, int rc)
{
	ddns_job_all(j, rc < 0 ? ddns_http_fail_code(rs) : pp_http_status_code(rs->status));
	if (rc == 0 && rs->status >= 200 && rs->status < 300)
		ddns_job_all(j, PP_DC_UNKNOWN);
}

int
ddns_api_call(struct ddns_api *a, const char *method, const char *url, const char *body,
              struct ddns_http_resp *rs)
{
	struct ddns_http_req rq = {
		.method = method, .url = url, .body = body, .ca_file = a->j->dc->ca_file, .headers = { a->auth },
	};
	int rc = ddns_http(&rq, rs);

	pp_buf_printf(&a->det, "%s%s %s -> %s", a->det.len ? "; " : "", method ? method : "GET", url,
	              rs->outcome);
	return rc;
}

enum pp_ddns_code
ddns_api_status(struct ddns_api *a, const char *method, const char *url, const char *body)
{
	struct ddns_http_resp rs;
	int rc = ddns_api_call(a, method, url, body, &rs);
	enum pp_ddns_code c = rc < 0 ? ddns_http_fail_code(&rs) : pp_http_status_code(rs.status);

	ddns_http_resp_free(&rs);
	return c;
}

void
ddns_api_each(struct ddns_job *j, enum pp_ddns_code (*one)(struct ddns_api *a, size_t i))
{
	struct ddns_api a = { .j = j };

	a.base = ddns_base_url(j->dc->server, j->api);
	a.auth = pp_xasprintf("Authorization: Bearer %s", j->cr->token ? j->cr->token : "");
	pp_buf_add(&a.det, "", 0);
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = one(&a, i);
	/* The token travels in the Authorization header only: det holds no secret. */
	snprintf(j->detail, sizeof j->detail, "%s", a.det.data);
	explicit_bzero(a.auth, strlen(a.auth));
	free(a.auth);
	free(a.base);
	pp_buf_free(&a.det);
}
