/* The AAAA of a LAN server (issue 15): the LAN's current prefix + hostid6, or a mapping's internal_ip6. */
#include <stdio.h>
#include <string.h>

#include "ddns-internal.h"
#include "portpilot/ipv6.h"
#include "portpilot/table.h"

/* The table, when the section needs it: mapping =, or no lan_interface = of its own. */
static int
table_of(const struct pp_ddns_conf *dc, const char *table_path, struct pp_table **t, char *why, size_t n)
{
	struct pp_error e;

	if (dc->lan_interface && !dc->mapping)
		return 0;
	if (table_path == NULL) {
		snprintf(why, n, "%s: no table to read %s from; no AAAA is published (set lan_interface = in "
		         "[ddns %.100s], or run with -f TABLE)", dc->mapping ? "mapping" : "hostid6",
		         dc->mapping ? "the mapping" : "[site] lan_interface", dc->name);
		return -1;
	}
	if (pp_table_load(table_path, false, t, &e) < 0) {
		snprintf(why, n, "%s: %.400s; no AAAA is published", dc->mapping ? "mapping" : "hostid6", e.msg);
		return -1;
	}
	return 0;
}

/* The mapping whose address is published, NULL with why. */
static const struct pp_mapping *
mapping_of(const struct pp_ddns_conf *dc, const struct pp_table *t, char *why, size_t n)
{
	const struct pp_mapping *m = pp_table_find(t, dc->mapping);

	if (m == NULL)
		snprintf(why, n, "mapping = %.100s: %.200s has no [%.100s]; no AAAA is published (set mapping = a "
		         "mapping of the table)", dc->mapping, t->path, dc->mapping);
	else if (!pp_mapping_wants_ip6(m))
		snprintf(why, n, "mapping = %.100s: [%.100s] opens nothing over IPv6 (no internal_ip6, or ipv6 = "
		         "no); no AAAA is published (give the mapping internal_ip6 =)", dc->mapping, dc->mapping);
	else
		return m;
	return NULL;
}

int
ddns_service_v6(const struct pp_ddns_conf *dc, const char *table_path, char out[46], char *why, size_t n)
{
	struct pp_table *t = NULL;
	struct pp_mapping host = { 0 };
	const struct pp_mapping *m = &host;
	struct pp_error e;
	uint8_t a[16];
	bool hostid;
	int rc = -1;

	if (table_of(dc, table_path, &t, why, n) < 0)
		return -1;
	const char *lan = dc->lan_interface ? dc->lan_interface : t->site.val[PP_S_LAN_INTERFACE];
	if (dc->mapping) {
		m = mapping_of(dc, t, why, n);
	} else {
		/* A mapping of the host id alone: the same prefix rules (and messages) as a pinhole's. */
		pp_parse_ip6_target(dc->hostid6, host.internal_ip6, &hostid, &e);
		host.ip6_hostid = true;
		host.val[PP_F_INTERNAL_IP6] = dc->hostid6;
	}
	if (m && pp_mapping_ip6(m, lan, a, &e) == 0) {
		pp_format_ipv6(a, out);
		rc = 0;
	} else if (m) {
		snprintf(why, n, "%s = %.100s: %.300s; no AAAA is published", dc->mapping ? "mapping" : "hostid6",
		         dc->mapping ? dc->mapping : dc->hostid6, e.msg);
	}
	pp_table_free(t);
	return rc;
}
