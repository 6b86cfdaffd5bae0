/* A [ddns NAME] section of portpilot.conf: its keys, checked against the provider's row. */
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"
#include "portpilot/ipv6.h"

static const char *const ddns_keys[] = {
	"provider", "server", "hostname", "credentials_file", "ip_source", "checkip",
	"ipv6", "ca_file", "interface", "zone", "url", "success", "ttl", "interval",
	"hostid6", "mapping", "lan_interface", NULL,
};

static const char *const ipsrc_names[] = { "auto", "interface", "web", "reflector", "relay", NULL };

const char *pp_ip_source_name(enum pp_ip_source s) { return ipsrc_names[s]; }

static char *
dup_or_null(const char *s)
{
	return s ? pp_xstrdup(s) : NULL;
}

/* "a, b, c" of a NULL-terminated list, for the unknown-key fix. */
static const char *
key_list(void)
{
	static char list[512];

	if (list[0] == '\0')
		for (size_t i = 0; ddns_keys[i]; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ddns_keys[i]);
	return list;
}

static int
parse_enums(const struct pp_conf_sec *s, struct pp_ddns_conf *dc)
{
	char what[400];
	const char *v;
	size_t i;

	v = pp_conf_sec_get(s, "provider");
	if (v == NULL) {
		snprintf(what, sizeof what, "missing; set provider = %s", ddns_provider_list());
		return pp_conf_sec_bad(s, "provider", what);
	}
	for (i = 0; i < ddns_nproviders && strcmp(ddns_providers[i].name, v) != 0; i++)
		;
	if (i == ddns_nproviders) {
		snprintf(what, sizeof what, "unknown; use %s", ddns_provider_list());
		return pp_conf_sec_bad(s, "provider", what);
	}
	dc->provider = (enum pp_ddns_provider)i;
	v = pp_conf_sec_get(s, "ip_source");
	for (i = 0; v && ipsrc_names[i] && strcmp(ipsrc_names[i], v) != 0; i++)
		;
	if (v && ipsrc_names[i] == NULL)
		return pp_conf_sec_bad(s, "ip_source", "unknown; use auto | interface | web | reflector | relay");
	dc->ip_source = v ? (enum pp_ip_source)i : PP_IPSRC_AUTO;
	v = pp_conf_sec_get(s, "ipv6");
	if (v && pp_parse_bool(v, &dc->ipv6) < 0)
		return pp_conf_sec_bad(s, "ipv6", "use yes or no");
	return 0;
}

static int
parse_strings(const struct pp_conf_sec *s, struct pp_ddns_conf *dc)
{
	const char *v;

	if ((v = pp_conf_sec_get(s, "hostname")) == NULL)
		return pp_conf_sec_bad(s, "hostname", "missing; set hostname = the name(s) to publish, comma-separated");
	dc->hosts = pp_conf_split_list(v, &dc->nhosts);
	for (size_t i = 0; i < dc->nhosts; i++)
		if (strspn(dc->hosts[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*@")
		    != strlen(dc->hosts[i]))
			return pp_conf_sec_bad(s, "hostname", "contains a character that is not allowed in a host name");
	dc->server = dup_or_null(pp_conf_sec_get(s, "server"));
	dc->credentials_file = dup_or_null(pp_conf_sec_get(s, "credentials_file"));
	dc->ca_file = dup_or_null(pp_conf_sec_get(s, "ca_file"));
	dc->interface = dup_or_null(pp_conf_sec_get(s, "interface"));
	if (dc->interface && pp_ifname_problem(dc->interface)) {
		char what[300];
		snprintf(what, sizeof what, "'%.20s' is not an interface name: %s; write the WAN interface's name, "
		         "e.g. eth0", dc->interface, pp_ifname_problem(dc->interface));
		return pp_conf_sec_bad(s, "interface", what);
	}
	dc->zone = dup_or_null(pp_conf_sec_get(s, "zone"));
	dc->url = dup_or_null(pp_conf_sec_get(s, "url"));
	dc->success = dup_or_null(pp_conf_sec_get(s, "success"));
	if ((v = pp_conf_sec_get(s, "checkip")))
		dc->checkip = pp_conf_split_list(v, &dc->ncheckip);
	return 0;
}

bool
pp_ddns_is_service6(const struct pp_ddns_conf *dc)
{
	return dc->hostid6 || dc->mapping;
}

/* hostid6 = / mapping = / lan_interface =: the AAAA of a LAN server on the current prefix. */
static int
parse_service6(const struct pp_conf_sec *s, struct pp_ddns_conf *dc)
{
	const char *v;
	bool on;

	dc->hostid6 = dup_or_null(pp_conf_sec_get(s, "hostid6"));
	dc->mapping = dup_or_null(pp_conf_sec_get(s, "mapping"));
	dc->lan_interface = dup_or_null(pp_conf_sec_get(s, "lan_interface"));
	if (dc->hostid6 && dc->mapping)
		return pp_conf_sec_bad(s, "mapping", "and hostid6 both name the server; keep one of them");
	if (dc->hostid6) {
		uint8_t id[16];
		bool hostid;
		struct pp_error e;
		if (pp_parse_ip6_target(dc->hostid6, id, &hostid, &e) < 0 || !hostid)
			return pp_conf_sec_bad(s, "hostid6", "is not a host id; write the server's interface id, its "
			                       "first 64 bits zero (e.g. ::1:101): it is put on the LAN's current prefix "
			                       "(for a fixed address use mapping = the table mapping that has it)");
	}
	if (dc->mapping && strspn(dc->mapping, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
	    != strlen(dc->mapping))
		return pp_conf_sec_bad(s, "mapping", "is not a mapping name; write the NAME of a [NAME] of the table");
	if (dc->lan_interface && !pp_ddns_is_service6(dc))
		return pp_conf_sec_bad(s, "lan_interface", "only hostid6 = or mapping = reads it; remove the line");
	if (dc->lan_interface && pp_ifname_problem(dc->lan_interface))
		return pp_conf_sec_bad(s, "lan_interface", "is not an interface name; write the LAN interface "
		                       "that carries the delegated prefix, e.g. eth1");
	v = pp_conf_sec_get(s, "ipv6");
	if (pp_ddns_is_service6(dc) && v && pp_parse_bool(v, &on) == 0 && !on)
		return pp_conf_sec_bad(s, "ipv6", dc->hostid6 ? "= no, but hostid6 publishes an AAAA record; remove "
		                       "one of the two lines" : "= no, but mapping publishes an AAAA record; remove "
		                       "one of the two lines");
	return 0;
}

/* What the provider's row needs, then what the address source needs. */
static int
check_needs(const struct pp_conf_sec *s, const struct pp_ddns_conf *dc)
{
	const struct ddns_provider *p = ddns_provider_of(dc);

	if (dc->success && !(p->needs & DDNS_NEEDS_URL))
		return pp_conf_sec_bad(s, "success", "only provider = custom reads it; remove the line");
	if ((p->needs & DDNS_NEEDS_URL) && dc->url == NULL)
		return pp_conf_sec_bad(s, "url", "missing; provider = custom needs url = a template with {hostname} and {ip}");
	if ((p->needs & DDNS_NEEDS_SERVER) && dc->server == NULL)
		return pp_conf_sec_bad(s, "server", "missing; set server = the provider's host name or URL");
	if ((p->needs & DDNS_NEEDS_CREDS) && dc->credentials_file == NULL)
		return pp_conf_sec_bad(s, "credentials_file", "missing; point it at a mode 0600 file with the secrets");
	if (p->check && p->check(s, dc) < 0)
		return -1;
	if (dc->ip_source == PP_IPSRC_INTERFACE && dc->interface == NULL)
		return pp_conf_sec_bad(s, "interface", "missing; ip_source = interface needs interface = the WAN interface");
	/* The relay carries IPv4 (the edge's address); an AAAA of the site's own would bypass the edge
	 * and its rules, and reach the site by another way than the one its table says. */
	if (dc->ip_source == PP_IPSRC_RELAY && dc->ipv6)
		return pp_conf_sec_bad(s, "ipv6", "ip_source = relay publishes the edge's IPv4 address only; "
		                       "remove ipv6 = yes (or publish the site's IPv6 in a [ddns] section of its own)");
	if (dc->ip_source == PP_IPSRC_WEB && dc->ncheckip == 0)
		return pp_conf_sec_bad(s, "checkip", "missing; ip_source = web needs checkip = one or more echo URLs");
	return 0;
}

int
pp_ddns_conf_read(const struct pp_conf_sec *s, struct pp_ddns_conf *dc)
{
	dc->hash = PP_HASH64_INIT;
	if (pp_conf_sec_unknown(s, ddns_keys, key_list()) < 0 || parse_enums(s, dc) < 0 ||
	    parse_strings(s, dc) < 0 || parse_service6(s, dc) < 0)
		return -1;
	if (pp_conf_sec_int(s, "ttl", 300, 1, 86400, &dc->ttl) < 0 ||
	    pp_conf_sec_int(s, "interval", 300, 1, 86400, &dc->interval) < 0)
		return -1;
	return check_needs(s, dc);
}

void
pp_ddns_conf_free(struct pp_ddns_conf *dc)
{
	free(dc->name);
	for (size_t i = 0; i < dc->nhosts; i++)
		free(dc->hosts[i]);
	free(dc->hosts);
	for (size_t i = 0; i < dc->ncheckip; i++)
		free(dc->checkip[i]);
	free(dc->checkip);
	free(dc->server);
	free(dc->credentials_file);
	free(dc->ca_file);
	free(dc->interface);
	free(dc->zone);
	free(dc->url);
	free(dc->success);
	free(dc->hostid6);
	free(dc->mapping);
	free(dc->lan_interface);
}
