/* The probe's checks: live rule state, forwarding, addresses, and the internal service itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/backend.h"
#include "portpilot/util.h"
#include "portpilot/relay.h"

void
pp_check_add(struct pp_probe_result *r, const struct pp_probe_opts *o, const char *id,
             enum pp_check_state st, const char *fmt, ...)
{
	va_list ap;
	struct pp_buf b = { 0 };
	char tmp[512];
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	pp_buf_addstr(&b, tmp);
	r->checks = pp_xrealloc(r->checks, (r->nchecks + 1) * sizeof *r->checks);
	r->checks[r->nchecks] = (struct pp_check){ .id = id, .state = st, .text = b.data };
	if (o && o->on_check)
		o->on_check(&r->checks[r->nchecks], o->arg);
	r->nchecks++;
}

void
pp_evidence_add(struct pp_probe_result *r, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	r->evidence = pp_xrealloc(r->evidence, (r->nevidence + 1) * sizeof *r->evidence);
	r->evidence[r->nevidence++] = pp_xstrdup(tmp);
}

size_t
pp_local_addrs(uint32_t *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			out[n++] = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
	freeifaddrs(ifa);
	return n;
}

int
pp_iface_addr(const char *ifname, uint32_t *addr, uint8_t *prefix)
{
	struct ifaddrs *ifa, *i;
	int rc = -1;
	if (!ifname || getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, ifname))
			continue;
		*addr = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		uint32_t m = i->ifa_netmask ? ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr) : ~0u;
		*prefix = (uint8_t)__builtin_popcount(m);
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	return rc;
}

int
pp_route_iface(uint32_t dst, char *out, size_t n)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256], ifn[32], best[32] = "";
	int bestlen = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned d, g, fl, m;
		if (sscanf(line, "%31s %x %x %x %*d %*d %*d %x", ifn, &d, &g, &fl, &m) != 5 || !(fl & 1))
			continue;
		uint32_t dd = ntohl(d), mm = ntohl(m);
		int len = __builtin_popcount(mm);
		if ((dst & mm) == dd && len > bestlen) {
			bestlen = len;
			snprintf(best, sizeof best, "%s", ifn);
		}
	}
	fclose(f);
	if (bestlen < 0)
		return -1;
	snprintf(out, n, "%s", best);
	return 0;
}

/* The output of a command (the backend's pp_run); NULL when it failed and printed nothing. */
char *
pp_run_cmd(char *const argv[])
{
	char *out = NULL;
	if (pp_run(argv, NULL, &out, NULL) != 0 && (out == NULL || *out == '\0')) {
		free(out);
		return NULL;
	}
	return out ? out : pp_xstrdup("");
}

/* The mapping's DNAT in the live rules (whoever wrote it) and its counter: the backend's answer. */
static void
check_dnat(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
           struct pp_backend *b, const struct pp_live *live)
{
	const struct pp_mapping *m = f->m;
	struct pp_dnat_answer a;
	if (m->ipv6 == PP_V6_ONLY) {
		pp_check_add(r, o, "dnat_rule", PP_CHECK_INFO, "ipv6 = only: no IPv4 DNAT wanted");
		return;
	}
	b->ops->dnat_present(b, live, m, &a);
	f->dnat_rule = a.present ? PP_YES : PP_NO;
	f->dnat_pkts = a.pkts;
	snprintf(f->missing_proto, sizeof f->missing_proto, "%s", a.missing_proto);
	char ip[16];
	pp_format_ipv4(m->internal_ip, ip);
	if (f->dnat_rule == PP_YES)
		pp_check_add(r, o, "dnat_rule", PP_CHECK_PASS,
		             "%s has DNAT %s %u -> %s:%u (counter %llu packets)", a.where,
		             pp_proto_name(m->proto), m->pub_lo, ip, m->in_lo, f->dnat_pkts);
	else
		pp_check_add(r, o, "dnat_rule", PP_CHECK_FAIL,
		             "no DNAT %s %u -> %s:%u in the kernel's %s (%s)",
		             f->missing_proto, m->pub_lo, ip, m->in_lo, a.where, a.how);
}

/* Forward policy DROP with no ACCEPT for DNATed traffic or this host: a static block. A rule
 * that drops the traffic before an accept is the foreign-rule check's (it names that rule). */
static void
check_forward(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
              struct pp_backend *b, const struct pp_live *live)
{
	char ip[16];
	struct pp_forward_answer a;
	b->ops->forward_state(b, live, f->m->internal_ip, &a);
	pp_format_ipv4(f->m->internal_ip, ip);
	f->forward_static_block = a.policy_drop && !a.accept ? PP_YES : PP_NO;
	if (f->forward_static_block == PP_YES)
		pp_check_add(r, o, "forward", PP_CHECK_FAIL,
		             "%s policy is DROP and no rule accepts DNATed traffic or %s", a.where, ip);
	else if (f->foreign == 2 && !f->foreign_before_routing && !strncmp(f->foreign_where, "filter ", 7))
		pp_check_add(r, o, "forward", PP_CHECK_FAIL, "%s: policy %s, but \"%s\" (%s) drops "
		             "the traffic before portpilot's accept", a.where, a.policy_drop ? "DROP" : "ACCEPT",
		             f->foreign_rule, f->foreign_where);
	else
		pp_check_add(r, o, "forward", PP_CHECK_PASS, "%s: policy %s%s", a.where,
		             a.policy_drop ? "DROP" : "ACCEPT", a.accept ? ", an ACCEPT for DNATed traffic exists" : "");
}

/* Other tools' rules on the mapping's path, in the kernel's order (the backend's answer). */
static void
check_foreign(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
              struct pp_backend *b, const struct pp_live *live)
{
	struct pp_foreign_query q;
	struct pp_foreign_hit h;
	pp_foreign_query_of(o->table, f->m, f->wan_ip, &q);
	if (*f->wan_if)
		q.wan_if = f->wan_if;
	if (*f->lan_if)
		q.lan_if = f->lan_if;
	if (b->ops->foreign_first(b, live, &q, &h) == 1) {
		char *w = pp_foreign_words(&h);
		f->foreign = h.kind == PP_FOREIGN_DNAT ? 1 : 2;
		f->foreign_before_routing = h.before_routing;
		f->foreign_reply = h.reply;
		snprintf(f->foreign_rule, sizeof f->foreign_rule, "%s", h.rule);
		snprintf(f->foreign_where, sizeof f->foreign_where, "%s %s", h.table, h.path);
		snprintf(f->foreign_to, sizeof f->foreign_to, "%s", h.to);
		f->foreign_pkts = h.pkts;
		pp_check_add(r, o, "foreign_rules", PP_CHECK_FAIL, "%s", w);
		free(w);
	} else {
		pp_check_add(r, o, "foreign_rules", PP_CHECK_PASS, "no other rule in raw, mangle, nat or filter "
		             "takes or drops %s port %u before portpilot's", pp_proto_name(f->m->proto), f->m->pub_lo);
	}
}

static void
check_ip_forward(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	size_t len;
	char *v = pp_read_file("/proc/sys/net/ipv4/ip_forward", &len);
	if (!v) {
		pp_check_add(r, o, "ip_forward", PP_CHECK_SKIP, "cannot read net.ipv4.ip_forward");
		return;
	}
	f->ip_forward = v[0] == '1' ? PP_YES : PP_NO;
	pp_check_add(r, o, "ip_forward", f->ip_forward == PP_YES ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "net.ipv4.ip_forward = %c", v[0]);
	free(v);
}

/* An interface's sysctl under net.ipv4.conf, -1 when unreadable (or the name cannot be one).
 * Read by path: a VLAN's name has a dot (eth0.100), which the sysctl's dotted name would split. */
static int
conf_sysctl(const char *ifname, const char *key)
{
	char path[128];
	if (!*ifname || strchr(ifname, '/') || !strcmp(ifname, "..") || !strcmp(ifname, "."))
		return -1;
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
	char *v = pp_read_file(path, NULL);
	int n = v ? atoi(v) : -1;
	free(v);
	return n;
}

/* IPv4 forwards what arrives on an interface only when that interface's forwarding is on: the WAN
 * side carries the attempts in, the LAN side the server's replies out. */
static void
check_if_forwarding(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	int w = conf_sysctl(f->wan_if, "forwarding"), l = conf_sysctl(f->lan_if, "forwarding");
	f->fwd_wan = w < 0 ? PP_UNKNOWN : w ? PP_YES : PP_NO;
	f->fwd_lan = l < 0 ? PP_UNKNOWN : l ? PP_YES : PP_NO;
	if (w < 0 && l < 0)
		return;
	pp_check_add(r, o, "if_forwarding", f->fwd_wan == PP_NO || f->fwd_lan == PP_NO ? PP_CHECK_FAIL : PP_CHECK_PASS,
	             "net.ipv4.conf.%s.forwarding = %d (WAN), net.ipv4.conf.%s.forwarding = %d (LAN)",
	             *f->wan_if ? f->wan_if : "?", w, *f->lan_if ? f->lan_if : "?", l);
}

/* The reflector's address from its URL (the connect-back usually comes from it), 0 if unknown. */
static uint32_t
reflector_addr(const char *url)
{
	char host[256];
	const char *p = url ? strstr(url, "://") : NULL;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	uint32_t ip = 0;
	if (!p)
		return 0;
	p += 3;
	snprintf(host, sizeof host, "%.*s", (int)strcspn(p, ":/"), p);
	if (pp_parse_ipv4(host, &ip) == 0)
		return ip;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return 0;
	ip = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(ai);
	return ip;
}

/* Strict reverse-path filtering (rp_filter = 1; the kernel uses the max of conf.all and the
 * interface's) drops a packet whose source the router would not route back out of the interface
 * it came in on: outside clients on the WAN side, the server on the LAN side. */
static void
check_rp_filter(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	int all = pp_sysctl_read("net.ipv4.conf.all.rp_filter");
	int w = conf_sysctl(f->wan_if, "rp_filter"), l = conf_sysctl(f->lan_if, "rp_filter");
	char cl[16], srv[16];
	f->rp_wan = w < 0 && all < 0 ? -1 : w > all ? w : all;
	f->rp_lan = l < 0 && all < 0 ? -1 : l > all ? l : all;
	f->rp_client = reflector_addr(o->reflector_url);
	if (pp_route_iface(f->rp_client, f->rp_wan_route, sizeof f->rp_wan_route) < 0)
		*f->rp_wan_route = '\0';
	if (pp_route_iface(f->m->internal_ip, f->rp_lan_route, sizeof f->rp_lan_route) < 0)
		*f->rp_lan_route = '\0';
	if (f->rp_wan < 0 && f->rp_lan < 0)
		return;
	pp_format_ipv4(f->rp_client, cl);
	pp_format_ipv4(f->m->internal_ip, srv);
	bool bad_wan = f->rp_wan == 1 && *f->rp_wan_route && *f->wan_if && strcmp(f->rp_wan_route, f->wan_if);
	bool bad_lan = *f->rp_lan_route && *f->lan_if && strcmp(f->rp_lan_route, f->lan_if);
	/* A reject route, or one out of the WAN, is a fault of its own (lan_route), not a second LAN. */
	bool lost_lan = bad_lan && (strcmp(f->rp_lan_route, "*") == 0 || strcmp(f->rp_lan_route, f->wan_if) == 0);
	pp_check_add(r, o, "rp_filter", bad_wan || lost_lan ? PP_CHECK_FAIL : bad_lan ? PP_CHECK_INFO : PP_CHECK_PASS,
	             "rp_filter %d on %s (route back to %s leaves by %s), %d on %s (route to %s leaves by %s)%s",
	             f->rp_wan, *f->wan_if ? f->wan_if : "?", f->rp_client ? cl : "outside clients (default route)",
	             *f->rp_wan_route ? f->rp_wan_route : "?", f->rp_lan, *f->lan_if ? f->lan_if : "?", srv,
	             *f->rp_lan_route ? f->rp_lan_route : "?",
	             bad_wan ? ": strict mode drops the attempts arriving on the WAN interface" :
	             lost_lan ? ": the route to the server does not lead into the LAN" :
	             bad_lan ? ": the server is routed by another interface than the LAN one" : "");
}

static void
find_interfaces(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	const struct pp_site *s = f->site;
	uint8_t pfx;
	char ip[16], lip[16];
	snprintf(f->wan_if, sizeof f->wan_if, "%s", o->wan_if ? o->wan_if :
	         s->val[PP_S_WAN_INTERFACE] ? s->val[PP_S_WAN_INTERFACE] : "");
	snprintf(f->lan_if, sizeof f->lan_if, "%s", o->lan_if ? o->lan_if :
	         s->val[PP_S_LAN_INTERFACE] ? s->val[PP_S_LAN_INTERFACE] : "");
	/* Without [site] names, trust the routes: default route = WAN, route to the server = LAN. */
	if (!*f->wan_if)
		pp_route_iface(0, f->wan_if, sizeof f->wan_if);
	if (!*f->lan_if)
		pp_route_iface(f->m->internal_ip, f->lan_if, sizeof f->lan_if);
	pp_iface_addr(f->wan_if, &f->wan_ip, &pfx);
	pp_iface_addr(f->lan_if, &f->lan_ip, &pfx);
	pp_format_ipv4(f->wan_ip, ip);
	pp_format_ipv4(f->lan_ip, lip);
	pp_check_add(r, o, "interfaces", f->wan_ip && f->lan_ip ? PP_CHECK_INFO : PP_CHECK_FAIL,
	             "WAN %s %s, LAN %s %s", *f->wan_if ? f->wan_if : "?", f->wan_ip ? ip : "(no IPv4)",
	             *f->lan_if ? f->lan_if : "?", f->lan_ip ? lip : "(no IPv4)");
}

static void
check_wan_class(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	char ip[16];
	pp_format_ipv4(f->wan_ip, ip);
	if (!f->wan_ip)
		return;
	if (pp_ipv4_kind(f->wan_ip) == PP_AK_CGNAT)
		pp_check_add(r, o, "wan_address", PP_CHECK_FAIL,
		             "WAN address %s is in 100.64.0.0/10: the carrier's NAT (CGNAT) is in front", ip);
	else if (pp_ipv4_kind(f->wan_ip) == PP_AK_PRIVATE)
		pp_check_add(r, o, "wan_address", PP_CHECK_FAIL,
		             "WAN address %s is private: another NAT router is in front of this one", ip);
	else
		pp_check_add(r, o, "wan_address", PP_CHECK_PASS, "WAN address %s is public", ip);
}

/* Whether the mapping goes through the relay, and the state of its tunnel (relay-wg.c reads it). */
static void
check_relay(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	struct pp_relay_site rl;
	if (!o->table || pp_relay_site_parse(o->table, &rl, NULL) < 0)
		return;
	f->relay = pp_relay_maps(&rl, f->m);
	if (!f->relay) {
		pp_relay_site_free(&rl);
		return;
	}
	snprintf(f->relay_if, sizeof f->relay_if, "%s", rl.ifname);
	snprintf(f->relay_edge, sizeof f->relay_edge, "%s:%u", rl.host, rl.port);
	f->relay_handshake_age = -1;
	char path[64], *flags;
	snprintf(path, sizeof path, "/sys/class/net/%s/flags", rl.ifname);
	f->relay_link = (flags = pp_read_file(path, NULL)) && (strtoul(flags, NULL, 16) & 1) ? PP_YES : PP_NO;
	free(flags);
	struct pp_wg_peer *v = NULL;
	size_t n = 0;
	struct pp_error e;
	if (f->relay_link == PP_YES && pp_wg_peers(rl.ifname, &v, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].key, rl.edge_key) == 0 && v[i].handshake)
				f->relay_handshake_age = (long)(time(NULL) - v[i].handshake);
	free(v);
	if (f->relay_link != PP_YES)
		pp_check_add(r, o, "relay", PP_CHECK_FAIL, "relay tunnel %s to %s: not there or down", f->relay_if,
		             f->relay_edge);
	else if (f->relay_handshake_age < 0)
		pp_check_add(r, o, "relay", PP_CHECK_FAIL, "relay tunnel %s to %s: up, no handshake with the edge",
		             f->relay_if, f->relay_edge);
	else
		pp_check_add(r, o, "relay", f->relay_handshake_age < PP_WG_ALIVE_S ? PP_CHECK_PASS : PP_CHECK_FAIL,
		             "relay tunnel %s to %s: last handshake %ld s ago", f->relay_if, f->relay_edge,
		             f->relay_handshake_age);
	pp_relay_site_free(&rl);
}

/* The router's checks, in the order they run and are reported: the interfaces first (the
 * others read f->wan_if, f->lan_if), then its switches. A new check that needs no rules is a row
 * here; its result goes into a field of struct pp_facts, and the cause it supports is decided in
 * probe/diagnose.c (chain[]) and listed in probe/causes.c. */
static void (*const router_checks[])(struct pp_facts *f, struct pp_probe_result *r,
                                     const struct pp_probe_opts *o) = {
	find_interfaces,
	check_relay,
	check_wan_class,
	check_ip_forward,
	check_if_forwarding,
	check_rp_filter,
};

/* The checks on the live rules, all on one read of every table. */
static void (*const rule_checks[])(struct pp_facts *f, struct pp_probe_result *r,
                                   const struct pp_probe_opts *o, struct pp_backend *b,
                                   const struct pp_live *live) = {
	check_dnat,
	check_foreign,
	check_forward,
	pp_check_pinholes6,
};

void
pp_facts_kernel(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	for (size_t i = 0; i < sizeof router_checks / sizeof router_checks[0]; i++)
		router_checks[i](f, r, o);
	/* The backend the table names reads the live rules, every table at once, since another
	 * tool's rule in raw or mangle stops the traffic as surely as one in filter. */
	struct pp_backend b;
	struct pp_live live;
	struct pp_error e;
	if (pp_backend_open_for(&b, o->table, &e) < 0) {
		pp_check_add(r, o, "dnat_rule", PP_CHECK_SKIP, "%s", e.msg);
		return;
	}
	if (pp_backend_read(&b, &live, &e) < 0) {
		pp_check_add(r, o, "dnat_rule", PP_CHECK_SKIP, "reading the live rules (%s) failed: run as root",
		             b.ops->name);
		pp_backend_close(&b);
		return;
	}
	for (size_t i = 0; i < sizeof rule_checks / sizeof rule_checks[0]; i++)
		rule_checks[i](f, r, o, &b, &live);
	pp_live_free(&live);
	pp_backend_close(&b);
}

static void
resolve_expected(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	int e = getaddrinfo(o->hostname, NULL, &hints, &ai);
	if (e) {
		pp_check_add(r, o, "dns", PP_CHECK_FAIL, "%s does not resolve: %s", o->hostname, gai_strerror(e));
		return;
	}
	f->dns_ip = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(ai);
	char ip[16];
	pp_format_ipv4(f->dns_ip, ip);
	snprintf(f->dns_name, sizeof f->dns_name, "%s", o->hostname);
	pp_check_add(r, o, "dns", PP_CHECK_INFO, "%s resolves to %s", o->hostname, ip);
}

void
pp_facts_expected(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	char ip[16];
	if (f->site->public_ip) {
		f->expected_ip = f->site->public_ip;
		pp_format_ipv4(f->expected_ip, ip);
		pp_check_add(r, o, "public_ip", PP_CHECK_INFO, "[site] public_ip = %s", ip);
	}
	if (o->hostname)
		resolve_expected(f, r, o);
}

/* ---- the service, the return path and host presence ----
 * Every test runs from the router's LAN address and from a non-LAN address it owns, side by
 * side in one bounded wait. What comes back, and from whom, separates the causes: a SYN-ACK, a
 * RST, an echo reply or an ICMP error sent by the server itself all prove its answers reach
 * this router; an ICMP error the router made itself (ARP failed) proves nothing of the kind. */

enum tkind { T_TCP, T_UDP, T_PING };

struct tst {
	enum tkind kind;
	uint32_t src, dst;
	uint16_t port, id;             /* id: the echo identifier (ping) */
	int ms;                        /* this test's own bound */
	int fd;                        /* -1 when done (or, for ping, a socket opened earlier) */
	bool done, replied, own_fd;
	bool key;                      /* a test of the mapped port itself */
	enum pp_svc res;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* The ICMP error queued on a socket (IP_RECVERR), with its sender; 0 when there is none. */
static int
queued_icmp(int fd, uint8_t *type, uint8_t *code, uint32_t *from)
{
	char cbuf[512], data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
			continue;
		struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
		if (ee->ee_origin != SO_EE_ORIGIN_ICMP)
			continue;
		const struct sockaddr_in *off = (const struct sockaddr_in *)SO_EE_OFFENDER(ee);
		*type = ee->ee_type;
		*code = ee->ee_code;
		*from = off->sin_family == AF_INET ? ntohl(off->sin_addr.s_addr) : 0;
		return 1;
	}
	return 0;
}

/* An ICMP error from the server itself is its answer: a closed UDP port (port unreachable) or a
 * REJECT rule (a closed TCP port answers RST, never ICMP). From anyone else it is not. */
static enum pp_svc
icmp_meaning(const struct tst *t, uint8_t type, uint8_t code, uint32_t from)
{
	if (from != t->dst)
		return PP_SVC_UNREACHABLE;
	return type == 3 && code == 3 && t->kind == T_UDP ? PP_SVC_REFUSED : PP_SVC_FILTERED;
}

static void
test_end(struct tst *t, enum pp_svc res)
{
	t->res = res;
	t->done = true;
	if (t->fd >= 0 && t->own_fd)
		close(t->fd);
	t->fd = -1;
}

static uint16_t
icmp_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
test_start(struct tst *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(t->src) };
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(t->dst), .sin_port = htons(t->port) };
	int one = 1;
	t->done = t->replied = false;
	t->res = PP_SVC_UNTESTED;
	if (t->kind == T_PING) {
		/* The raw socket was opened (and bound) while privileged: pp_svc_socks_open. */
		uint8_t pkt[16] = { 8, 0, 0, 0, t->id >> 8, t->id & 255, 0, 1, 'p', 'o', 'r', 't', 'p', 'i', 'l', 'o' };
		uint16_t c = icmp_sum(pkt, sizeof pkt);
		pkt[2] = c >> 8, pkt[3] = c & 255;
		if (t->fd < 0)
			t->done = true;
		else if (sendto(t->fd, pkt, sizeof pkt, 0, (struct sockaddr *)&b, sizeof b) < 0)
			test_end(t, PP_SVC_UNREACHABLE);
		return;
	}
	t->own_fd = true;
	t->fd = socket(AF_INET, (t->kind == T_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || (t->src && bind(t->fd, (struct sockaddr *)&a, sizeof a) < 0)) {
		test_end(t, PP_SVC_UNTESTED);
		return;
	}
	setsockopt(t->fd, SOL_IP, IP_RECVERR, &one, sizeof one);
	if ((connect(t->fd, (struct sockaddr *)&b, sizeof b) < 0 && errno != EINPROGRESS) ||
	    (t->kind == T_UDP && send(t->fd, "portpilot probe\n", 16, 0) < 0))
		test_end(t, errno == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE);
}

/* Our echo's answer on a raw ICMP socket: the reply, or an error quoting it (and who sent it). */
static void
ping_read(struct tst *t)
{
	uint8_t b[1500];
	ssize_t n;
	while ((n = recv(t->fd, b, sizeof b, MSG_DONTWAIT)) > 0) {
		size_t hl = (size_t)(b[0] & 15) * 4, len = (size_t)n;
		if (len < hl + 8)
			continue;
		uint32_t from = rd32(b + 12);
		const uint8_t *ic = b + hl;
		if (ic[0] == 0 && from == t->dst && rd16(ic + 4) == t->id) {
			test_end(t, PP_SVC_OPEN);
			return;
		}
		if ((ic[0] != 3 && ic[0] != 11) || len < hl + 8 + 20)
			continue;
		const uint8_t *q = ic + 8;
		size_t qhl = (size_t)(q[0] & 15) * 4;
		if (len >= hl + 8 + qhl + 8 && q[9] == IPPROTO_ICMP && rd32(q + 16) == t->dst &&
		    q[qhl] == 8 && rd16(q + qhl + 4) == t->id) {
			test_end(t, from == t->dst ? PP_SVC_FILTERED : PP_SVC_UNREACHABLE);
			return;
		}
	}
}

static void
test_settle(struct tst *t, short rev)
{
	uint8_t type, code;
	uint32_t from;
	char buf[256];
	if (t->kind == T_PING) {
		ping_read(t);
		return;
	}
	if (t->kind == T_TCP) {
		int e = 0;
		socklen_t el = sizeof e;
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		/* A refusal is a reset to the SYN itself (ECONNREFUSED); a reset after the handshake
		 * (a server that accepts, then closes with SO_LINGER 0) means the port answered. */
		if ((e == 0 && (rev & POLLOUT)) || e == ECONNRESET || e == EPIPE)
			test_end(t, PP_SVC_OPEN);
		else if (queued_icmp(t->fd, &type, &code, &from))
			test_end(t, icmp_meaning(t, type, code, from));
		else if (e)
			test_end(t, e == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE);
		return;
	}
	if (recv(t->fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
		t->replied = true;
		test_end(t, PP_SVC_OPEN);
	} else if (queued_icmp(t->fd, &type, &code, &from)) {
		test_end(t, icmp_meaning(t, type, code, from));
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		test_end(t, errno == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE);
	}
}

static double
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run the tests side by side until each has its answer or its bound: the slowest one, not
 * their sum, is what a failing probe waits. Silence is TIMEOUT (UDP: open or dropped). */
static void
tests_run(struct tst *t, size_t n)
{
	double t0 = mono_ms();
	for (size_t i = 0; i < n; i++)
		test_start(&t[i]);
	for (;;) {
		struct pollfd p[16];
		size_t idx[16], np = 0;
		double now = mono_ms();
		int wait = 100;
		for (size_t i = 0; i < n && np < 16; i++) {
			if (t[i].done)
				continue;
			if (now - t0 >= t[i].ms) {
				if (t[i].kind == T_UDP)
					t[i].res = PP_SVC_OPEN;
				test_end(&t[i], t[i].kind == T_UDP ? PP_SVC_OPEN : PP_SVC_TIMEOUT);
				continue;
			}
			int left = (int)(t[i].ms - (now - t0)) + 1;
			wait = left < wait ? left : wait;
			p[np] = (struct pollfd){ .fd = t[i].fd, .events = t[i].kind == T_TCP ? POLLOUT : POLLIN };
			idx[np++] = i;
		}
		if (!np)
			return;
		/* The mapped port answered from both sources: the other tests could only explain a
		 * failure there is not, and a healthy verdict must not wait for their silence. */
		bool keys_ok = true;
		for (size_t i = 0; i < n; i++)
			if (t[i].key && !(t[i].done && t[i].res == PP_SVC_OPEN && (t[i].kind == T_TCP || t[i].replied)))
				keys_ok = false;
		if (keys_ok) {
			for (size_t i = 0; i < n; i++)
				if (!t[i].done)
					test_end(&t[i], PP_SVC_UNTESTED);
			return;
		}
		if (poll(p, np, wait) <= 0)
			continue;
		for (size_t k = 0; k < np; k++)
			if (p[k].revents)
				test_settle(&t[idx[k]], p[k].revents);
	}
}

const char *
pp_svc_words(enum pp_svc s)
{
	static const char *const w[] = { "not tested", "answered (connection accepted)",
	                                 "refused the connection (TCP reset)", "did not answer (timeout)",
	                                 "is unreachable (no ARP answer / no route)",
	                                 "is rejected by its firewall (an ICMP error from the server)" };
	return w[s];
}

static const char *
ping_words(enum pp_svc s)
{
	static const char *const w[] = { "not tested", "echo reply", "?", "no answer",
	                                 "unreachable (no ARP answer / no route)",
	                                 "rejected by the server (ICMP error)" };
	return w[s];
}

/* The neighbour cache: a complete (answered) entry for ip, whatever its age. */
static enum pp_tri
neighbour(uint32_t ip)
{
	FILE *fp = fopen("/proc/net/arp", "r");
	char line[256], a[32], want[16];
	unsigned flags;
	enum pp_tri res = PP_UNKNOWN;
	if (!fp)
		return res;
	pp_format_ipv4(ip, want);
	while (fgets(line, sizeof line, fp))
		if (sscanf(line, "%31s %*s %x", a, &flags) == 2 && !strcmp(a, want))
			res = (flags & 2) ? PP_YES : PP_NO;
	fclose(fp);
	return res;
}

/* A fresh ARP request for dst on the LAN interface, answered now or not (up to ms, three
 * tries): a cached entry outlives an unplugged server by minutes. UNKNOWN when the
 * interface is not Ethernet or the socket could not be had. */
static enum pp_tri
arp_request(int fd, const char *ifname, uint32_t src, uint32_t dst, int ms, int *took)
{
	struct ifreq ifr = { 0 };
	uint8_t req[28] = { 0, 1, 8, 0, 6, 4, 0, 1 }, buf[256];
	if (fd < 0 || !*ifname)
		return PP_UNKNOWN;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%.15s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return PP_UNKNOWN;
	int ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return PP_UNKNOWN;
	memcpy(req + 8, ifr.ifr_hwaddr.sa_data, 6);
	for (int i = 0; i < 4; i++) {
		req[14 + i] = (uint8_t)(src >> (24 - 8 * i));
		req[24 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
	                          .sll_ifindex = ifindex, .sll_halen = 6 };
	memset(to.sll_addr, 0xff, 6);
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
	double t0 = mono_ms(), next = t0;
	for (double now; (now = mono_ms()) - t0 < ms;) {
		if (now >= next) {
			sendto(fd, req, sizeof req, 0, (struct sockaddr *)&to, sizeof to);
			next = now + ms / 3.0;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(next - now) + 1) <= 0)
			continue;
		ssize_t n;
		while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 28)
			if (rd16(buf + 6) == 2 && rd32(buf + 14) == dst && rd32(buf + 24) == src) {
				*took = (int)(mono_ms() - t0);
				return PP_YES;
			}
	}
	return PP_NO;
}

/* dst is on the link of ifname (a route without gateway through it): only then does it answer
 * ARP itself; a server behind another LAN router never would. */
static bool
on_link(uint32_t dst, const char *ifname)
{
	FILE *fp = fopen("/proc/net/route", "r");
	char line[256], ifn[32];
	int best = -1;
	bool direct = false;
	if (!fp)
		return false;
	while (fgets(line, sizeof line, fp)) {
		unsigned d, g, fl, m;
		if (sscanf(line, "%31s %x %x %x %*d %*d %*d %x", ifn, &d, &g, &fl, &m) != 5 || !(fl & 1))
			continue;
		uint32_t mm = ntohl(m);
		int len = __builtin_popcount(mm);
		if ((dst & mm) == ntohl(d) && len > best) {
			best = len;
			direct = !(fl & 2) && !strcmp(ifn, ifname);
		}
	}
	fclose(fp);
	return direct;
}

/* The router's non-LAN source: its WAN address, else any address of its own outside the LAN. */
static uint32_t
nonlan_source(const struct pp_facts *f)
{
	uint32_t lan = 0, addrs[16];
	uint8_t pfx = 0;
	uint32_t mask = 0;
	if (pp_iface_addr(f->lan_if, &lan, &pfx) == 0 && pfx)
		mask = ~0u << (32 - pfx);
	bool in_lan = mask && (f->wan_ip & mask) == (lan & mask);
	if (f->wan_ip && !in_lan)
		return f->wan_ip;
	size_t n = pp_local_addrs(addrs, 16);
	for (size_t i = 0; i < n; i++)
		if ((addrs[i] >> 24) != 127 && (!mask || (addrs[i] & mask) != (lan & mask)))
			return addrs[i];
	return 0;
}

void
pp_svc_socks_open(struct pp_svc_socks *s, struct pp_facts *f)
{
	s->ping[0] = s->ping[1] = s->arp = -1;
	f->nonlan_src = nonlan_source(f);
	uint32_t src[2] = { f->lan_ip, f->nonlan_src };
	for (int k = 0; k < 2; k++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(src[k]) };
		if (!src[k])
			continue;
		s->ping[k] = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
		if (s->ping[k] >= 0 && bind(s->ping[k], (struct sockaddr *)&a, sizeof a) < 0) {
			close(s->ping[k]);
			s->ping[k] = -1;
		}
	}
	s->arp = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
}

void
pp_svc_socks_close(struct pp_svc_socks *s)
{
	int *fds[] = { &s->ping[0], &s->ping[1], &s->arp };
	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static const char *
udp_words(enum pp_svc s, bool replied)
{
	if (s == PP_SVC_REFUSED)
		return "refused the datagram (ICMP port unreachable)";
	return s == PP_SVC_OPEN ? (replied ? "answered" : "sent no answer (open and silent, or dropped)")
	                        : pp_svc_words(s);
}

/* A port the server surely does not serve: not the mapping's, high and unassigned. */
uint16_t
pp_closed_port(const struct pp_mapping *m)
{
	uint16_t hi = m->in_hi ? m->in_hi : m->in_lo;
	return m->in_lo <= 65533 && 65533 <= hi ? (uint16_t)(m->in_lo > 1 ? m->in_lo - 1 : 65534) : 65533;
}

/* Where a UDP test stands: an answer or an error says something; silence only when the other
 * side of the comparison answered. */
static enum pp_svc
udp_fact(enum pp_svc s, bool replied, bool meaningful)
{
	if (s != PP_SVC_OPEN)
		return s;
	if (replied)
		return PP_SVC_OPEN;
	return meaningful ? PP_SVC_TIMEOUT : PP_SVC_UNTESTED;
}

void
pp_facts_service(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                 const struct pp_svc_socks *socks)
{
	const struct pp_mapping *m = f->m;
	bool udp = m->proto == PP_UDP, both = m->proto == PP_BOTH;
	char ip[16], lip[16], wip[16];
	int took = 0;
	pp_format_ipv4(m->internal_ip, ip);
	pp_format_ipv4(f->lan_ip, lip);
	pp_format_ipv4(f->nonlan_src, wip);

	/* Presence first, asked now: the cache's word is minutes old. */
	f->arp_cached = neighbour(m->internal_ip) == PP_YES;
	f->arp_now = on_link(m->internal_ip, f->lan_if) ?
	             arp_request(socks->arp, f->lan_if, f->lan_ip, m->internal_ip, 900, &took) : PP_UNKNOWN;
	f->neigh_ok = neighbour(m->internal_ip);
	if (f->arp_now == PP_UNKNOWN)
		pp_check_add(r, o, "arp", PP_CHECK_SKIP, "no fresh ARP request for it on %s (not on that "
		             "link, not Ethernet, or no raw socket)%s", *f->lan_if ? f->lan_if : "?",
		             f->neigh_ok == PP_YES ? "; the neighbour cache has an entry" : "");
	else
		pp_check_add(r, o, "arp", f->arp_now == PP_YES ? PP_CHECK_PASS : PP_CHECK_FAIL,
		             f->arp_now == PP_YES ? "%s answered a fresh ARP request on %s (%d ms)%s"
		                                  : "%s did not answer a fresh ARP request on %s (3 tries, "
		                                    "%d ms)%s", ip, f->lan_if, f->arp_now == PP_YES ? took : 900,
		             f->arp_cached ? (f->arp_now == PP_YES ? "" : "; the neighbour cache still "
		                              "held an entry for it from before") : "");

	/* A gone host would only make every test wait its full bound. */
	int tcp_ms = f->arp_now == PP_NO ? 1000 : 2000, udp_ms = 1500;
	f->closed_port = pp_closed_port(m);
	struct tst t[8] = {
		{ .kind = udp ? T_UDP : T_TCP, .src = f->lan_ip, .port = m->in_lo, .ms = udp ? udp_ms : tcp_ms },
		{ .kind = udp ? T_UDP : T_TCP, .src = f->nonlan_src, .port = m->in_lo, .ms = udp ? udp_ms : tcp_ms },
		{ .kind = T_TCP, .src = f->lan_ip, .port = f->closed_port, .ms = tcp_ms },
		{ .kind = T_TCP, .src = f->nonlan_src, .port = f->closed_port, .ms = tcp_ms },
		{ .kind = T_PING, .src = f->lan_ip, .fd = socks->ping[0], .id = (uint16_t)(getpid() * 2), .ms = 1500 },
		{ .kind = T_PING, .src = f->nonlan_src, .fd = socks->ping[1], .id = (uint16_t)(getpid() * 2 + 1), .ms = 1500 },
		{ .kind = T_UDP, .src = f->lan_ip, .port = m->in_lo, .ms = udp_ms },
		{ .kind = T_UDP, .src = f->nonlan_src, .port = m->in_lo, .ms = udp_ms },
	};
	size_t n = both ? 8 : 6;
	for (size_t i = 0; i < n; i++) {
		t[i].dst = m->internal_ip;
		if (t[i].kind != T_PING)
			t[i].fd = -1;
		if (!t[i].src) { /* no non-LAN source: that half is not tested */
			t[i].done = true;
			t[i].res = PP_SVC_UNTESTED;
		}
	}
	t[0].key = t[1].key = t[6].key = t[7].key = true;
	struct tst run[8];
	size_t nrun = 0, where[8];
	for (size_t i = 0; i < n; i++)
		if (t[i].src)
			where[nrun] = i, run[nrun++] = t[i];
	tests_run(run, nrun);
	for (size_t k = 0; k < nrun; k++)
		t[where[k]] = run[k];

	f->svc_lan = t[0].res;
	f->svc_lan_reply = t[0].replied;
	f->closed_lan = t[2].res, f->closed_wan = t[3].res;
	f->ping_lan = t[4].res, f->ping_wan = t[5].res;
	if (udp) {
		f->svc_wan = udp_fact(t[1].res, t[1].replied, t[0].replied);
	} else {
		f->svc_wan = t[1].res;
	}
	pp_check_add(r, o, "service", f->svc_lan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "%s %s:%u from the router (%s) %s%s", udp ? "udp" : "tcp", ip, m->in_lo, lip,
	             udp ? udp_words(t[0].res, t[0].replied) : pp_svc_words(f->svc_lan),
	             f->neigh_ok == PP_YES ? "; it answers ARP" : f->neigh_ok == PP_NO ? "; no ARP answer" : "");
	if (f->nonlan_src) {
		bool pass = udp ? t[1].replied : f->svc_wan == PP_SVC_OPEN;
		if (f->svc_wan == PP_SVC_UNTESTED)
			pp_check_add(r, o, "return_route", PP_CHECK_SKIP, "udp %s:%u did not answer the router's "
			             "datagram, so silence towards a non-LAN source would prove nothing", ip, m->in_lo);
		else
			pp_check_add(r, o, "return_route", pass ? PP_CHECK_PASS : PP_CHECK_FAIL,
			             "%s %s:%u from a non-LAN source (%s) %s", udp ? "udp" : "tcp", ip, m->in_lo, wip,
			             udp ? udp_words(t[1].res, t[1].replied) : pp_svc_words(f->svc_wan));
		if (f->closed_lan || f->closed_wan || f->ping_lan || f->ping_wan) {
		pp_check_add(r, o, "closed_port", PP_CHECK_INFO, "tcp %s:%u (a port it does not serve) from "
		             "the LAN: %s; from %s: %s", ip, f->closed_port, pp_svc_words(f->closed_lan), wip,
		             pp_svc_words(f->closed_wan));
		pp_check_add(r, o, "ping", PP_CHECK_INFO, "ICMP echo to %s from the LAN: %s; from %s: %s", ip,
		             ping_words(f->ping_lan), wip, ping_words(f->ping_wan));
		}
	} else {
		pp_check_add(r, o, "return_route", PP_CHECK_SKIP, "the router has no address outside the "
		             "LAN to test the server's return path from");
	}
	if (!both)
		return;
	f->udp_lan = t[6].res;
	f->udp_lan_reply = t[6].replied;
	pp_check_add(r, o, "service_udp", f->udp_lan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "udp %s:%u from the router (%s) %s", ip, m->in_lo, lip, udp_words(f->udp_lan, f->udp_lan_reply));
	/* Only an answer from the LAN makes silence towards a non-LAN source mean something. */
	if (!f->udp_lan_reply || !f->nonlan_src)
		return;
	f->udp_wan = t[7].res;
	f->udp_wan_reply = t[7].replied;
	pp_check_add(r, o, "return_route_udp", f->udp_wan_reply ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "udp %s:%u from a non-LAN source (%s) %s", ip, m->in_lo, wip,
	             udp_words(f->udp_wan, f->udp_wan_reply));
}
