/* Validation: every finding names line, mapping, field, what is wrong and the fix. */
#include <ctype.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "portpilot/ipv6.h"
#include "portpilot/table.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"
#include "table-internal.h"

void (*pp_table_check_extra)(const struct pp_table *t, struct pp_findings *out);

static const struct sensitive {
	uint16_t lo, hi;
	unsigned proto; /* PP_TCP / PP_UDP bits */
	const char *name;
} sensitive[] = {
	{ 21, 21, PP_TCP, "FTP" },
	{ 22, 22, PP_TCP, "SSH" },
	{ 23, 23, PP_TCP, "Telnet" },
	{ 69, 69, PP_UDP, "TFTP" },
	{ 111, 111, PP_BOTH, "rpcbind" },
	{ 135, 135, PP_TCP, "MS RPC" },
	{ 137, 139, PP_BOTH, "NetBIOS/SMB" },
	{ 161, 162, PP_UDP, "SNMP" },
	{ 445, 445, PP_TCP, "SMB" },
	{ 623, 623, PP_UDP, "IPMI" },
	{ 873, 873, PP_TCP, "rsync" },
	{ 1433, 1434, PP_BOTH, "Microsoft SQL Server" },
	{ 1521, 1521, PP_TCP, "Oracle database" },
	{ 2049, 2049, PP_BOTH, "NFS" },
	{ 2375, 2376, PP_TCP, "Docker API" },
	{ 3306, 3306, PP_TCP, "MySQL/MariaDB" },
	{ 3389, 3389, PP_BOTH, "RDP" },
	{ 5432, 5432, PP_TCP, "PostgreSQL" },
	{ 5900, 5909, PP_TCP, "VNC" },
	{ 5984, 5984, PP_TCP, "CouchDB" },
	{ 5985, 5986, PP_TCP, "WinRM" },
	{ 6379, 6379, PP_TCP, "Redis" },
	{ 8291, 8291, PP_TCP, "MikroTik Winbox (router management)" },
	{ 8728, 8729, PP_TCP, "MikroTik RouterOS API (router management)" },
	{ 9200, 9300, PP_TCP, "Elasticsearch" },
	{ 11211, 11211, PP_BOTH, "memcached" },
	{ 27017, 27019, PP_TCP, "MongoDB" },
};

const char *
pp_sensitive_service(uint16_t lo, uint16_t hi, enum pp_proto proto)
{
	/* sensitive[] is in port order without overlaps: the first entry ending at or after lo,
	   then on while they start at or before hi (check asks this twice per mapping) */
	size_t a = 0, b = sizeof sensitive / sizeof sensitive[0];
	while (a < b) {
		size_t m = (a + b) / 2;
		if (sensitive[m].hi < lo)
			a = m + 1;
		else
			b = m;
	}
	for (size_t i = a; i < sizeof sensitive / sizeof sensitive[0] && sensitive[i].lo <= hi; i++)
		if (sensitive[i].proto & proto)
			return sensitive[i].name;
	return NULL;
}

/* Add a finding from a "what; fix" message. */
static void
add_split(struct pp_findings *out, enum pp_sev sev, int line, const char *map, const char *field,
          const char *msg)
{
	const char *semi = strstr(msg, "; ");
	char *what = semi ? pp_xstrndup(msg, (size_t)(semi - msg)) : pp_xstrdup(msg);

	pp_findings_add(out, sev, line, map, field, semi ? semi + 2 : NULL, "%s", what);
	free(what);
}

bool
pp_mapping_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static int
key_line(const struct pp_mapping *m, enum pp_field f)
{
	return m->key_line[f] ? m->key_line[f] : m->line;
}

static bool
open_to_all(const struct pp_mapping *m)
{
	if (m->nallow == 0)
		return true;
	for (size_t i = 0; i < m->nallow; i++)
		if (m->allow[i].len == 0)
			return true;
	return false;
}

/*
 * internal_port against public_port: a list needs internal_port left out (the
 * same ports) or a list as long; each element spans as many ports as its public one.
 */
static void
check_port_pairs(const struct pp_mapping *m, struct pp_findings *out)
{
	size_t np = pp_mapping_nports(m);
	if (m->val[PP_F_INTERNAL_PORT] && m->nmore_in + 1 != np) {
		char pub[PP_PORT_LIST_TEXT];
		pp_mapping_format_ports(m, false, pub, sizeof pub);
		char *fix = np == 1
			? pp_xasprintf("give internal_port one port or range, or list as many public ports in "
			               "public_port")
			: pp_xasprintf("leave internal_port out to use the same ports (%s), or list %zu "
			               "internal ports in the same order", pub, np);
		pp_findings_add(out, PP_ERROR, key_line(m, PP_F_INTERNAL_PORT), m->name, "internal_port", fix,
		                "public_port lists %zu element(s) but internal_port %zu", np, m->nmore_in + 1);
		free(fix);
		return;
	}
	for (size_t k = 0; k < np; k++) {
		struct pp_port_pair p = pp_mapping_port(m, k);
		if (p.pub_hi - p.pub_lo == p.in_hi - p.in_lo)
			continue;
		char *fix = pp_xasprintf("give internal_port%s a range of %u ports, e.g. %u-%u", np > 1 ? "'s element" : "",
		                         p.pub_hi - p.pub_lo + 1u, p.in_lo,
		                         (unsigned)p.in_lo + (p.pub_hi - p.pub_lo) > 65535 ? 65535u
		                         : (unsigned)p.in_lo + (p.pub_hi - p.pub_lo));
		char pub[16], in[16];
		pp_format_ports(pub, sizeof pub, p.pub_lo, p.pub_hi);
		pp_format_ports(in, sizeof in, p.in_lo, p.in_hi);
		pp_findings_add(out, PP_ERROR, key_line(m, PP_F_INTERNAL_PORT), m->name, "internal_port", fix,
		                "public_port %s spans %u ports but internal_port %s spans %u", pub,
		                p.pub_hi - p.pub_lo + 1u, in, p.in_hi - p.in_lo + 1u);
		free(fix);
	}
}

static void
check_mapping(const struct pp_mapping *m, const struct pp_site *site, time_t now, struct pp_findings *out)
{
	struct pp_error err;
	struct pp_mapping scratch;

	if (!pp_mapping_name_valid(m->name))
		pp_findings_add(out, PP_ERROR, m->line, m->name, NULL,
		                "use up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
		                "'%s' is not a usable mapping name", m->name);
	for (int f = 0; m->bad && f < PP_F__COUNT; f++) {
		if (!(m->bad & (1u << f)))
			continue;
		memset(&scratch, 0, sizeof scratch);
		pp_mapping_parse_field(&scratch, f, m->val[f], &err);
		pp_mapping_parsed_free(&scratch);
		add_split(out, PP_ERROR, key_line(m, f), m->name, pp_field_name(f), err.msg);
	}
	/* the health-check keys against each other: portpilot monitor refuses these too */
	struct pp_check_misfit mf[PP_CHECK_MISFITS_MAX];
	for (size_t i = 0, n = pp_check_misfits(m, mf); i < n; i++)
		add_split(out, PP_ERROR, key_line(m, mf[i].field), m->name, pp_field_name(mf[i].field),
		          mf[i].msg);
	if (m->val[PP_F_PUBLIC_PORT] == NULL)
		pp_findings_add(out, PP_ERROR, m->line, m->name, "public_port",
		                "add public_port = PORT (or FIRST-LAST)", "public_port is missing");
	if (m->val[PP_F_INTERNAL_IP] == NULL && m->ipv6 != PP_V6_ONLY)
		pp_findings_add(out, PP_ERROR, m->line, m->name, "internal_ip",
		                "add internal_ip = the LAN server's address, e.g. 192.168.2.101",
		                "internal_ip is missing");
	if (!(m->bad & (1u << PP_F_PUBLIC_PORT | 1u << PP_F_INTERNAL_PORT)) && m->pub_lo)
		check_port_pairs(m, out);
	if (pp_mapping_expired(m, now)) {
		char when[20];
		pp_format_datetime(m->expires, when);
		pp_findings_add(out, PP_WARNING, key_line(m, PP_F_EXPIRES), m->name, "expires",
		                "delete the mapping, or move expires later if the access is still needed",
		                "expired at %s; treated as disabled", when);
	}
	if (m->enabled && !(m->bad & (1u << PP_F_ALLOW)) && open_to_all(m) && m->pub_lo && m->ipv6 != PP_V6_ONLY) {
		const char *svc = NULL;
		for (size_t k = 0; k < pp_mapping_nports(m) && !svc; k++) {
			struct pp_port_pair pr = pp_mapping_port(m, k);
			svc = pp_sensitive_service(pr.in_lo, pr.in_hi, m->proto);
			if (svc == NULL)
				svc = pp_sensitive_service(pr.pub_lo, pr.pub_hi, m->proto);
		}
		if (svc)
			pp_findings_add(out, PP_WARNING, key_line(m, PP_F_ALLOW), m->name, "allow",
			                "set allow = the addresses that need it (e.g. 198.51.100.7/32), or reach it through a VPN",
			                "%s is reachable from any address on the internet", svc);
	}
	if (site->has_lan_subnet && m->internal_ip && !(m->bad & (1u << PP_F_INTERNAL_IP))) {
		uint32_t mask = site->lan_subnet.len ? 0xffffffffu << (32 - site->lan_subnet.len) : 0;
		char ip[16], net[16];
		if ((m->internal_ip & mask) != site->lan_subnet.addr) {
			pp_format_ipv4(m->internal_ip, ip);
			pp_format_ipv4(site->lan_subnet.addr, net);
			char *fix = pp_xasprintf("use an address in %s/%u, or check the server's address",
			                         net, site->lan_subnet.len);
			pp_findings_add(out, PP_WARNING, key_line(m, PP_F_INTERNAL_IP), m->name, "internal_ip", fix,
			                "%s is outside the LAN %s/%u", ip, net, site->lan_subnet.len);
			free(fix);
		}
	}
}

struct claim {
	uint16_t lo, hi;
	size_t map;
};

static int
by_lo(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;

	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->map < y->map ? -1 : x->map > y->map);
}

/* The public ports live mappings claim, [0] tcp and [1] udp: collected in check's one pass. */
struct claims {
	struct claim *v[2];
	size_t n[2], cap[2];
};

static void
claim(struct claims *cl, const struct pp_mapping *m, size_t i, time_t now)
{
	if (!(m->proto & PP_BOTH) || !m->enabled || !m->pub_lo || m->ipv6 == PP_V6_ONLY ||
	    (m->bad & (1u << PP_F_PUBLIC_PORT | 1u << PP_F_PROTOCOL)) || pp_mapping_expired(m, now))
		return;
	for (size_t k = 0; k < pp_mapping_nports(m); k++) {
		struct pp_port_pair pr = pp_mapping_port(m, k);
		for (int p = 0; p < 2; p++) {
			if (!(m->proto & (p ? PP_UDP : PP_TCP)))
				continue;
			if (cl->n[p] == cl->cap[p]) {
				cl->cap[p] = cl->cap[p] ? cl->cap[p] * 2 : 256;
				cl->v[p] = pp_xrealloc(cl->v[p], cl->cap[p] * sizeof *cl->v[p]);
			}
			cl->v[p][cl->n[p]++] = (struct claim){ pr.pub_lo, pr.pub_hi, i };
		}
	}
}

/* Two live mappings may not claim one public port of one protocol: sort and sweep. */
static void
check_conflicts(const struct pp_table *t, struct claims *cl, struct pp_findings *out)
{
	struct claim **cv = cl->v;
	size_t *cn = cl->n;
	for (unsigned bit = PP_TCP; bit <= PP_UDP; bit++) {
		struct claim *c = cv[bit == PP_UDP];
		size_t n = cn[bit == PP_UDP], top = 0;
		/* A table written in port order (most are) needs no sort: n comparisons. */
		size_t s = 1;
		while (s < n && by_lo(&c[s - 1], &c[s]) <= 0)
			s++;
		if (s < n)
			qsort(c, n, sizeof *c, by_lo);
		for (size_t i = 1; i < n; i++) {
			if (c[i].lo <= c[top].hi) {
				const struct pp_mapping *a = &t->maps[c[top].map], *b = &t->maps[c[i].map];
				uint16_t hi = c[i].hi < c[top].hi ? c[i].hi : c[top].hi;
				char ports[16];
				pp_format_ports(ports, sizeof ports, c[i].lo, hi);
				char *fix = pp_xasprintf("give [%s] or [%s] another public port, or disable one", a->name, b->name);
				pp_findings_add(out, PP_ERROR, key_line(b, PP_F_PUBLIC_PORT), b->name, "public_port", fix,
				                "%s port %s is also claimed by [%s] (line %d)",
				                bit == PP_TCP ? "tcp" : "udp", ports, a->name, a->line);
				free(fix);
			}
			if (c[i].hi > c[top].hi)
				top = i;
		}
	}
}

/* The LAN interface's subnet, when [site] names one this machine has. */
static void
lan_from_interface(struct pp_site *s)
{
	struct ifaddrs *ifs, *i;

	if (s->has_lan_subnet || s->val[PP_S_LAN_INTERFACE] == NULL || getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_netmask && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, s->val[PP_S_LAN_INTERFACE]) == 0) {
			uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
			uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
			s->lan_subnet.addr = a & m;
			s->lan_subnet.len = (uint8_t)__builtin_popcount(m);
			s->has_lan_subnet = true;
			break;
		}
	}
	freeifaddrs(ifs);
}

static void
check_site(const struct pp_table *t, struct pp_findings *out)
{
	const struct pp_site *s = &t->site;
	static const char *fixes[PP_S__COUNT] = {
		[PP_S_PUBLIC_IP] = "write auto, or the fixed public address, e.g. 203.0.113.5",
		[PP_S_HAIRPIN] = "write yes or no",
		[PP_S_LAN_SUBNET] = "write the LAN network, e.g. 192.168.2.0/24",
		[PP_S_BACKEND] = "write auto, iptables or nftables",
	};
	const char *why;

	for (int f = 0; f < PP_S__COUNT; f++)
		if ((s->bad & (1u << f)) && f >= PP_S_RELAY && (why = pp_relay_field_problem(f, s->val[f])))
			pp_findings_add(out, PP_ERROR, s->key_line[f] ? s->key_line[f] : s->line, "site",
			                pp_site_field_name(f), why, "'%.60s' is not valid here", s->val[f]);
		else if (s->bad & (1u << f))
			pp_findings_add(out, PP_ERROR, s->key_line[f] ? s->key_line[f] : s->line, "site",
			                pp_site_field_name(f), fixes[f], "'%s' is not valid here", s->val[f]);
	/* Both names go into iptables rules: each must be one real interface name, one token. */
	for (int f = PP_S_WAN_INTERFACE; f <= PP_S_LAN_INTERFACE; f++) {
		const char *why = s->val[f] && *s->val[f] ? pp_ifname_problem(s->val[f]) : NULL;
		if (why)
			pp_findings_add(out, PP_ERROR, s->key_line[f] ? s->key_line[f] : s->line, "site",
			                pp_site_field_name(f),
			                f == PP_S_WAN_INTERFACE ? "write the name of the one internet-facing interface, "
			                                          "as `ip link` shows it, e.g. eth0"
			                                        : "write the name of the one LAN interface, as `ip link` "
			                                          "shows it, e.g. eth1",
			                "'%.60s' is not an interface name: %s", s->val[f], why);
	}
	/* The relay's keys each parse; together they must also make a relay (relay-conf.c). */
	struct pp_relay_site rl;
	struct pp_error re;
	if (!(s->bad >> PP_S_RELAY) && pp_relay_site_parse(t, &rl, &re) < 0) {
		/* The message starts with the file, line and section the finding prints itself. */
		const char *m = strstr(re.msg, "[site] ");
		pp_findings_add(out, PP_ERROR, s->key_line[PP_S_RELAY], "site", "relay",
		                "every relay needs relay_public_key and relay_address; relay_mappings names mappings "
		                "of this table", "%s", m ? m + 7 : re.msg);
	}
	else if (!(s->bad >> PP_S_RELAY))
		pp_relay_site_free(&rl);
	if (t->n > 0 && (s->val[PP_S_WAN_INTERFACE] == NULL || *s->val[PP_S_WAN_INTERFACE] == '\0'))
		pp_findings_add(out, PP_ERROR, s->line, "site", "wan_interface",
		                s->line ? "add wan_interface = the router's internet-facing interface, e.g. eth0"
		                        : "add a [site] section with wan_interface = the internet-facing interface, e.g. eth0",
		                "the WAN interface is not set, so no mapping can be applied");
}

void
pp_table_check(const struct pp_table *t, time_t now, struct pp_findings *out)
{
	struct pp_site site = t->site;

	for (size_t i = 0; i < t->parse.n; i++) {
		const struct pp_finding *f = &t->parse.v[i];
		pp_findings_add(out, f->sev, f->line, f->mapping, f->field, f->fix, "%s", f->what);
	}
	check_site(t, out);
	/* A clean check of an empty table reads as "all is well" while nothing would be forwarded
	   (a file that did not parse is not empty: its errors say so). */
	if (t->n == 0 && pp_findings_count(&t->parse, PP_ERROR) == 0)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "add one: portpilot add NAME public_port=PORT internal_ip=ADDRESS [internal_port=PORT]",
		                "the table has no mappings; apply would forward nothing");
	lan_from_interface(&site);
	/* One pass over the mappings: at 20,000 each further pass is cache misses, not work. */
	struct claims cl = { 0 };
	size_t v6 = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		check_mapping(m, &site, now, out);
		pp_check_ipv6(m, t->site.val[PP_S_LAN_INTERFACE], out);
		claim(&cl, m, i, now);
		v6 += m->val[PP_F_INTERNAL_IP6] != NULL;
	}
	check_conflicts(t, &cl, out);
	free(cl.v[0]);
	free(cl.v[1]);
	if (v6) /* an IPv4-only table (most) has no IPv6 claims to compare */
		pp_check_conflicts6(t, now, out);
	if (pp_table_check_extra)
		pp_table_check_extra(t, out);
	pp_findings_sort(out);
}
