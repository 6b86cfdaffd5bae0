/* IPv6 of mappings: addresses, networks, the LAN's delegated prefix (rtnetlink), and their validation. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portpilot/ipv6.h"
#include "portpilot/util.h"

int
pp_parse_ipv6(const char *s, uint8_t out[16])
{
	struct in6_addr a;
	if (!s || inet_pton(AF_INET6, s, &a) != 1)
		return -1;
	memcpy(out, a.s6_addr, 16);
	return 0;
}

void
pp_format_ipv6(const uint8_t a[16], char out[PP_IP6_STR])
{
	if (!inet_ntop(AF_INET6, a, out, PP_IP6_STR))
		snprintf(out, PP_IP6_STR, "?");
}

static void
mask6(uint8_t a[16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * i : 0;
		a[i] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
	}
}

int
pp_parse_cidr6(const char *s, struct pp_cidr6 *out, struct pp_error *err)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	unsigned long len = 128;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof ip)
		return pp_error_set(err, "'%.60s' is not an IPv6 address or CIDR; write e.g. 2001:db8:1::/48", s);
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (slash) {
		char *end;
		len = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end || len > 128)
			return pp_error_set(err, "'%s': the prefix length must be 0 to 128; write e.g. 2001:db8:1::/48", s);
	}
	uint8_t a[16], m[16];
	if (pp_parse_ipv6(ip, a) < 0)
		return pp_error_set(err, "'%s' is not an IPv6 address or CIDR; write e.g. 2001:db8:1::/48 or "
		                    "2001:db8:1::7", s);
	memcpy(m, a, 16);
	mask6(m, (unsigned)len);
	if (memcmp(m, a, 16) != 0) {
		char net[PP_IP6_STR];
		pp_format_ipv6(m, net);
		return pp_error_set(err, "'%s' has host bits set; write the network %s/%lu, or %s/128 for one host",
		                    s, net, len, ip);
	}
	memcpy(out->addr, a, 16);
	out->len = (uint8_t)len;
	return 0;
}

int
pp_parse_ip6_target(const char *s, uint8_t out[16], bool *hostid, struct pp_error *err)
{
	uint8_t a[16];
	static const uint8_t zero[8];
	if (strchr(s, '/'))
		return pp_error_set(err, "'%s' is a network; write the server's address (2001:db8:2::101) or its "
		                    "host id on the LAN's prefix (::1:101)", s);
	if (pp_parse_ipv6(s, a) < 0)
		return pp_error_set(err, "'%s' is not an IPv6 address; write the server's global address "
		                    "(e.g. 2001:db8:2::101) or a host id on the LAN's prefix (e.g. ::1:101)", s);
	bool id = memcmp(a, zero, 8) == 0;
	if (id && memcmp(a + 8, zero, 8) == 0)
		return pp_error_set(err, "'%s' names no host; write the server's host id, e.g. ::1:101", s);
	/* Only a global unicast address is reachable from outside through a pinhole. */
	if (!id && (a[0] & 0xe0) != 0x20)
		return pp_error_set(err, "'%s' is not a global unicast address (2000::/3): link-local, ULA and "
		                    "multicast addresses cannot be reached from the internet; write the server's "
		                    "global address, or its host id (e.g. ::1:101) to follow the LAN's prefix", s);
	memcpy(out, a, 16);
	*hostid = id;
	return 0;
}

bool
pp_cidr6_has(const struct pp_cidr6 *c, const uint8_t a[16])
{
	uint8_t m[16];
	memcpy(m, a, 16);
	mask6(m, c->len);
	return memcmp(m, c->addr, 16) == 0;
}

void
pp_ip6_combine(const struct pp_cidr6 *prefix, const uint8_t hostid[16], uint8_t out[16])
{
	uint8_t p[16];
	memcpy(p, prefix->addr, 16);
	mask6(p, prefix->len);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix->len >= 8 * (i + 1) ? 8 : prefix->len > 8 * i ? prefix->len - 8 * i : 0;
		uint8_t net = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		out[i] = (uint8_t)((p[i] & net) | (hostid[i] & ~net));
	}
}

/* One RTM_NEWADDR of the dump: a global address of ifindex, its prefix, and whether it is usable. */
static int
addr_of(struct nlmsghdr *h, unsigned ifindex, struct pp_cidr6 *c, bool *deprecated)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 || ifa->ifa_index != ifindex ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return -1;
	uint32_t flags = ifa->ifa_flags;
	const uint8_t *addr = NULL;
	int len = (int)IFA_PAYLOAD(h);
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFA_ADDRESS && RTA_PAYLOAD(a) == 16)
			addr = RTA_DATA(a);
		else if (a->rta_type == IFA_FLAGS && RTA_PAYLOAD(a) == 4)
			memcpy(&flags, RTA_DATA(a), 4);
	}
	if (!addr || (addr[0] & 0xe0) != 0x20 || (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
		return -1;
	memcpy(c->addr, addr, 16);
	c->len = ifa->ifa_prefixlen;
	mask6(c->addr, c->len);
	*deprecated = (flags & IFA_F_DEPRECATED) != 0;
	return 0;
}

int
pp_prefix6_of(const char *ifname, struct pp_cidr6 *out)
{
	unsigned idx = ifname && *ifname ? if_nametoindex(ifname) : 0;
	if (!idx)
		return -1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req = { .h = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_GETADDR,
	                 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
	          .m = { .ifa_family = AF_INET6 } };
	int found = 0;                  /* 2 usable, 1 only deprecated */
	if (send(fd, &req, sizeof req, 0) < 0) {
		close(fd);
		return -1;
	}
	char buf[16384] __attribute__((aligned(4)));
	for (bool done = false; !done;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			struct pp_cidr6 c;
			bool dep;
			if (found == 2 || addr_of(h, idx, &c, &dep) < 0 || (dep && found))
				continue;
			*out = c;
			found = dep ? 1 : 2;
		}
	}
	close(fd);
	return found ? 0 : -1;
}

int
pp_mapping_ip6(const struct pp_mapping *m, const char *lan_if, uint8_t out[16], struct pp_error *err)
{
	char id[PP_IP6_STR];
	if (!m->ip6_hostid) {
		memcpy(out, m->internal_ip6, 16);
		return 0;
	}
	/* As written: inet_ntop would print ::1:101 as ::0.1.1.1. */
	snprintf(id, sizeof id, "%s", m->val[PP_F_INTERNAL_IP6] ? m->val[PP_F_INTERNAL_IP6] : "?");
	if (!lan_if || !*lan_if)
		return pp_error_set(err, "%s is a host id but [site] has no lan_interface to take the "
		                    "prefix from; set lan_interface, or write the server's full address", id);
	struct pp_cidr6 p;
	if (pp_prefix6_of(lan_if, &p) < 0)
		return pp_error_set(err, "%s is a host id but %s has no global IPv6 prefix now; "
		                    "give the LAN interface its delegated prefix (DHCPv6-PD), or write the server's "
		                    "full address", id, lan_if);
	if (p.len > 64) {
		char net[PP_IP6_STR];
		pp_format_ipv6(p.addr, net);
		return pp_error_set(err, "%s is a host id but %s's prefix %s/%u is longer than /64, "
		                    "so a 64-bit host id does not fit; write the server's full address", id, lan_if,
		                    net, p.len);
	}
	pp_ip6_combine(&p, m->internal_ip6, out);
	return 0;
}

bool
pp_mapping_wants_ip6(const struct pp_mapping *m)
{
	return (m->ipv6 == PP_V6_YES || m->ipv6 == PP_V6_ONLY) && !(m->bad & (1u << PP_F_IPV6));
}

bool
pp_mapping_active6(const struct pp_mapping *m, time_t now)
{
	return pp_mapping_wants_ip6(m) && m->enabled && !m->bad && m->pub_lo && m->val[PP_F_INTERNAL_IP6] &&
	       !pp_mapping_expired(m, now);
}

bool
pp_mapping_any_source6(const struct pp_mapping *m)
{
	if (m->nallow == 0 && m->nallow6 == 0)
		return true;
	for (size_t i = 0; i < m->nallow6; i++)
		if (m->allow6[i].len == 0)
			return true;
	return false;
}

bool
pp_mapping_nat66(const struct pp_mapping *m)
{
	bool nat = m->nat66 && !(m->bad & (1u << PP_F_NAT66));
	for (size_t k = 0; k < pp_mapping_nports(m) && !nat; k++) {
		struct pp_port_pair pr = pp_mapping_port(m, k);
		nat = pr.pub_lo != pr.in_lo;
	}
	return nat;
}

static int
kline(const struct pp_mapping *m, enum pp_field f)
{
	return m->key_line[f] ? m->key_line[f] : m->line;
}

void
pp_check_ipv6(const struct pp_mapping *m, const char *lan_if, struct pp_findings *out)
{
	bool v6 = pp_mapping_wants_ip6(m);
	/* IPv6 sources alone leave the IPv4 side with no allow list: open to every IPv4 source. */
	if (m->ipv6 != PP_V6_ONLY && !(m->bad & (1u << PP_F_ALLOW | 1u << PP_F_IPV6)) && m->nallow6 && !m->nallow)
		pp_findings_add(out, PP_ERROR, kline(m, PP_F_ALLOW), m->name, "allow",
		                v6 ? "add the IPv4 sources to allow (0.0.0.0/0 for any), or set ipv6 = only"
		                   : "add the IPv4 sources to allow (0.0.0.0/0 for any)",
		                "allow lists only IPv6 sources, so it says nothing about who may connect over IPv4");
	if (!v6 && m->nat66 && !(m->bad & (1u << PP_F_NAT66 | 1u << PP_F_IPV6)))
		pp_findings_add(out, PP_ERROR, kline(m, PP_F_NAT66), m->name, "nat66",
		                "set internal_ip6 = the server's IPv6 address (and ipv6 = yes or only), or drop nat66",
		                "nat66 = yes but the mapping is not published over IPv6: there is nothing to translate");
	if (!v6) {
		/* Sources that would never be used: the engineer may believe IPv6 is filtered by them. */
		if (m->nallow6 && m->nallow && !(m->bad & (1u << PP_F_IPV6)))
			pp_findings_add(out, PP_WARNING, kline(m, PP_F_ALLOW), m->name, "allow",
			                "set ipv6 = yes and internal_ip6 = the server's address to open it over IPv6, or "
			                "drop the IPv6 sources", "allow lists IPv6 sources but the mapping is not "
			                "published over IPv6 (ipv6 = no): nothing is opened for them");
		return;
	}
	if (m->val[PP_F_INTERNAL_IP6] == NULL) {
		pp_findings_add(out, PP_ERROR, kline(m, PP_F_IPV6), m->name, "internal_ip6",
		                "add internal_ip6 = the server's global address (2001:db8:2::101) or its host id on "
		                "the LAN's prefix (::1:101), or set ipv6 = no",
		                "ipv6 = %s but internal_ip6 is missing: no IPv6 address to open a pinhole to",
		                m->ipv6 == PP_V6_ONLY ? "only" : "yes");
		return;
	}
	if (m->bad & (1u << PP_F_INTERNAL_IP6))
		return;                 /* its parse error is reported already */
	if (m->enabled) {
		uint8_t a[16];
		struct pp_error e;
		if (pp_mapping_ip6(m, lan_if, a, &e) < 0) {
			const char *semi = strstr(e.msg, "; ");
			char *what = semi ? pp_xstrndup(e.msg, (size_t)(semi - e.msg)) : pp_xstrdup(e.msg);
			pp_findings_add(out, PP_ERROR, kline(m, PP_F_INTERNAL_IP6), m->name, "internal_ip6",
			                semi ? semi + 2 : NULL, "%s", what);
			free(what);
		} else if (!m->ip6_hostid && lan_if && *lan_if) {
			struct pp_cidr6 p;
			char net[PP_IP6_STR], ip[PP_IP6_STR];
			if (pp_prefix6_of(lan_if, &p) == 0 && !pp_cidr6_has(&p, a)) {
				pp_format_ipv6(p.addr, net);
				pp_format_ipv6(a, ip);
				char *fix = pp_xasprintf("use an address in %s/%u, or the host id alone (e.g. ::%x:%x) so "
				                         "the pinhole follows the prefix", net, p.len,
				                         a[12] << 8 | a[13], a[14] << 8 | a[15]);
				pp_findings_add(out, PP_WARNING, kline(m, PP_F_INTERNAL_IP6), m->name, "internal_ip6", fix,
				                "%s is not in the LAN's prefix %s/%u (%s): the server may not be there",
				                ip, net, p.len, lan_if);
				free(fix);
			}
		}
	}
	/* A public port other than the server's is NAT66: a DNAT on the router's own IPv6 address
	   (core/rules-render6.c, core/nft-ipv6.c) instead of a pinhole. */
	if (!(m->bad & (1u << PP_F_ALLOW)) && m->nallow && !m->nallow6)
		pp_findings_add(out, PP_ERROR, kline(m, PP_F_ALLOW), m->name, "allow",
		                "add the IPv6 sources to allow (e.g. 2001:db8:1::/48), ::/0 for any, or set ipv6 = no",
		                "allow lists only IPv4 sources, so it says nothing about who may connect over IPv6");
	if (m->enabled && !(m->bad & (1u << PP_F_ALLOW)) && pp_mapping_any_source6(m) && m->pub_lo) {
		const char *svc = NULL;
		for (size_t k = 0; !svc && k < pp_mapping_nports(m); k++) {
			struct pp_port_pair pr = pp_mapping_port(m, k);
			svc = pp_sensitive_service(pr.in_lo, pr.in_hi, m->proto);
		}
		if (svc)
			pp_findings_add(out, PP_WARNING, kline(m, PP_F_ALLOW), m->name, "allow",
			                "set allow = the IPv6 networks that need it (e.g. 2001:db8:1::/48), or reach it "
			                "through a VPN",
			                "%s is open to any IPv6 source", svc);
	}
}

struct claim6 {
	uint8_t a[16];
	uint16_t lo, hi;
	size_t map;
};

static int
by_addr_lo(const void *x, const void *y)
{
	const struct claim6 *a = x, *b = y;
	int c = memcmp(a->a, b->a, 16);
	if (c)
		return c;
	return a->lo != b->lo ? (a->lo < b->lo ? -1 : 1) : (a->map < b->map ? -1 : a->map > b->map);
}

void
pp_check_conflicts6(const struct pp_table *t, time_t now, struct pp_findings *out)
{
	const char *lan = t->site.val[PP_S_LAN_INTERFACE];
	/* An IPv4-only table (most) in one pass: no mapping asks for an IPv6 address. */
	size_t cand = 0;
	for (size_t i = 0; i < t->n; i++)
		cand += t->maps[i].val[PP_F_INTERNAL_IP6] && pp_mapping_wants_ip6(&t->maps[i]);
	if (!cand)
		return;
	struct claim6 *c = pp_xmalloc((cand * PP_PORT_LIST_MAX + 1) * sizeof *c);
	for (unsigned bit = PP_TCP; bit <= PP_UDP; bit++) {
		size_t n = 0;
		for (size_t i = 0; i < t->n; i++) {
			const struct pp_mapping *m = &t->maps[i];
			if (!(m->proto & bit) || !m->enabled || !m->pub_lo || !pp_mapping_wants_ip6(m) ||
			    m->val[PP_F_INTERNAL_IP6] == NULL || pp_mapping_expired(m, now) ||
			    (m->bad & (1u << PP_F_INTERNAL_IP6 | 1u << PP_F_INTERNAL_PORT | 1u << PP_F_PROTOCOL)))
				continue;
			uint8_t a[16];
			if (pp_mapping_ip6(m, lan, a, NULL) < 0)
				continue;
			/* NAT66 claims the router's own public ports, not the server's (as pp_want_ip6 decides) */
			bool nat = m->nat66;
			for (size_t k = 0; k < pp_mapping_nports(m); k++)
				nat |= pp_mapping_port(m, k).pub_lo != pp_mapping_port(m, k).in_lo;
			if (nat)
				memset(a, 0xff, 16);
			for (size_t k = 0; k < pp_mapping_nports(m) && k < PP_PORT_LIST_MAX; k++) {
				struct pp_port_pair pr = pp_mapping_port(m, k);
				memcpy(c[n].a, a, 16);
				c[n].lo = nat ? pr.pub_lo : pr.in_lo;
				c[n].hi = nat ? pr.pub_hi : pr.in_hi;
				c[n++].map = i;
			}
		}
		qsort(c, n, sizeof *c, by_addr_lo);
		for (size_t i = 1, top = 0; i < n; i++) {
			if (memcmp(c[i].a, c[top].a, 16) != 0) {
				top = i;
				continue;
			}
			if (c[i].lo <= c[top].hi && c[i].map != c[top].map) {
				const struct pp_mapping *a = &t->maps[c[top].map], *b = &t->maps[c[i].map];
				char ip[PP_IP6_STR], *fix = pp_xasprintf("give [%s] or [%s] another port, or set ipv6 = no on one",
				                                           a->name, b->name);
				pp_format_ipv6(c[i].a, ip);
				if (c[i].a[0] == 0xff && c[i].a[15] == 0xff)
					snprintf(ip, sizeof ip, "router");   /* ff..ff: NAT66's claim, never a server */
				pp_findings_add(out, PP_ERROR, kline(b, PP_F_INTERNAL_IP6), b->name, "internal_ip6", fix,
				                "%s [%s]:%u over IPv6 is also opened by [%s] (line %d)", bit == PP_TCP ? "tcp" : "udp",
				                ip, c[i].lo, a->name, a->line);
				free(fix);
			}
			if (c[i].hi > c[top].hi)
				top = i;
		}
	}
	free(c);
}
