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
