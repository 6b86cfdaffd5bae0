/* Gandi LiveDNS (API v5): PUT the host's A/AAAA rrset of its zone, personal access token. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ddns-internal.h"

/* Gandi refuses a TTL under 300 seconds (its API's minimum). */
#define GANDI_TTL_MIN 300

/* The rrset name of host in zone: "@" for the apex, NULL when host is not in zone. */
static char *
rrset_name(const char *host, const char *zone)
{
	size_t h = strlen(host), z = strlen(zone);

	if (strcasecmp(host, zone) == 0)
		return pp_xstrdup("@");
	if (h > z + 1 && host[h - z - 1] == '.' && strcasecmp(host + h - z, zone) == 0)
		return pp_xstrndup(host, h - z - 1);
	return NULL;
}

int
ddns_gandi_check(const struct pp_conf_sec *s, const struct pp_ddns_conf *dc)
{
	char what[400];

	if (dc->ttl < GANDI_TTL_MIN) {
		snprintf(what, sizeof what, "%d is under Gandi's minimum; write ttl = %d or more", dc->ttl,
		         GANDI_TTL_MIN);
		return pp_conf_sec_bad(s, "ttl", what);
	}
	for (size_t i = 0; dc->zone && i < dc->nhosts; i++) {
		char *name = rrset_name(dc->hosts[i], dc->zone);
		free(name);
		if (name == NULL) {
			snprintf(what, sizeof what, "%.200s is not in zone %.100s; write the domain that holds it in "
			         "zone, or give this host a section of its own", dc->hosts[i], dc->zone);
			return pp_conf_sec_bad(s, "hostname", what);
		}
	}
	return 0;
}

/* One rrset replaced: the code its answer means. */
static enum pp_ddns_code
put(struct ddns_api *g, const char *zone, const char *name, const char *type, const char *addr)
{
	/* name is of the host name's letters (checked when read), "@" and "*" allowed in a path. */
	char *z = ddns_urlenc(zone), *url = pp_xasprintf("%s/domains/%s/records/%s/%s", g->base, z, name, type);
	/* addr is an address portpilot formatted itself: nothing in it needs JSON escaping. */
	char *body = pp_xasprintf("{\"rrset_values\":[\"%s\"],\"rrset_ttl\":%d}", addr, g->j->dc->ttl);
	enum pp_ddns_code c = ddns_api_status(g, "PUT", url, body);

	free(body);
	free(url);
	free(z);
	return c;
}

static enum pp_ddns_code
one_host(struct ddns_api *g, size_t i)
{
	const char *host = g->j->hosts[i];
	char *zone = ddns_zone_of(g->j->dc, host), *name = rrset_name(host, zone);
	enum pp_ddns_code c = name ? PP_DC_GOOD : PP_DC_NOTFQDN;

	if (c == PP_DC_GOOD && g->j->addr4)
		c = put(g, zone, name, "A", g->j->addr4);
	if (c == PP_DC_GOOD && g->j->addr6)
		c = put(g, zone, name, "AAAA", g->j->addr6);
	free(name);
	free(zone);
	return c;
}

void
ddns_gandi(struct ddns_job *j)
{
	ddns_api_each(j, one_host);
}
