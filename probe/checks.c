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
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/backend.h"
#include "portpilot/util.h"

void pp_check_add(struct pp_probe_result *r, const struct pp_probe_opts *o, const char *id,
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

void pp_evidence_add(struct pp_probe_result *r, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	r->evidence = pp_xrealloc(r->evidence, (r->nevidence + 1) * sizeof *r->evidence);
	r->evidence[r->nevidence++] = pp_xstrdup(tmp);
}

size_t pp_local_addrs(uint32_t *out, size_t max)
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

int pp_iface_addr(const char *ifname, uint32_t *addr, uint8_t *prefix)
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

int pp_route_iface(uint32_t dst, char *out, size_t n)
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
char *pp_run_cmd(char *const argv[])
{
	char *out = NULL;
	if (pp_run(argv, NULL, &out, NULL) != 0 && (out == NULL || *out == '\0')) {
		free(out);
		return NULL;
	}
	return out ? out : pp_xstrdup("");
}

/* The --dport (or --dports list) of a rule covers port. */
static bool rule_dport(const char *line, uint16_t port)
{
	const char *p = strstr(line, "--dport ");
	unsigned lo, hi;
	if (p) {
		p += 8;
		int k = sscanf(p, "%u:%u", &lo, &hi);
		return k == 2 ? port >= lo && port <= hi : k == 1 && lo == port;
	}
	if (!(p = strstr(line, "--dports ")))
		return false;
	for (p += 9; *p && *p != ' ';) {
		int k = sscanf(p, "%u:%u", &lo, &hi);
		if ((k == 2 && port >= lo && port <= hi) || (k >= 1 && lo == port))
			return true;
		p += strcspn(p, ", ");
		p += *p == ',';
	}
	return false;
}

static bool rule_dnat_to(const char *line, const struct pp_mapping *m, const char *proto)
{
	char ip[16], want[48];
	const char *to = strstr(line, "--to-destination ");
	if (!strstr(line, "-j DNAT") || !to || !rule_dport(line, m->pub_lo))
		return false;
	snprintf(want, sizeof want, "-p %s ", proto);
	if (!strstr(line, want))
		return false;
	pp_format_ipv4(m->internal_ip, ip);
	to += 17;
	size_t il = strlen(ip);
	if (strncmp(to, ip, il) || (to[il] != ':' && to[il] != ' ' && to[il] && to[il] != '\n'))
		return false;
	return to[il] != ':' || (unsigned)atoi(to + il + 1) == m->in_lo;
}

/* Look for the mapping's DNAT in the live nat table (whoever wrote it) and its counter. */
static void check_dnat(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                       const char *nat)
{
	static const char *const protos[] = { "tcp", "udp" };
	const struct pp_mapping *m = f->m;
	f->dnat_rule = PP_YES;
	for (int k = 0; k < 2; k++) {
		if (!(m->proto & (k ? PP_UDP : PP_TCP)))
			continue;
		bool found = false;
		for (const char *l = nat; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			char line[1024];
			snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
			unsigned long long pk = 0, by = 0;
			if (rule_dnat_to(line, m, protos[k])) {
				found = true;
				if (sscanf(line, "[%llu:%llu]", &pk, &by) == 2)
					f->dnat_pkts += pk;
			}
		}
		if (!found) {
			f->dnat_rule = PP_NO;
			snprintf(f->missing_proto, sizeof f->missing_proto, "%s", protos[k]);
		}
	}
	char ip[16];
	pp_format_ipv4(m->internal_ip, ip);
	if (f->dnat_rule == PP_YES)
		pp_check_add(r, o, "dnat_rule", PP_CHECK_PASS,
		             "nat table has DNAT %s %u -> %s:%u (counter %llu packets)",
		             pp_proto_name(m->proto), m->pub_lo, ip, m->in_lo, f->dnat_pkts);
	else
		pp_check_add(r, o, "dnat_rule", PP_CHECK_FAIL,
		             "no DNAT %s %u -> %s:%u in the kernel's nat table (iptables-save -t nat)",
		             f->missing_proto, m->pub_lo, ip, m->in_lo);
}

/* FORWARD policy DROP with no ACCEPT for DNATed traffic or this host: a static block. A rule
 * that drops the traffic before an accept is the foreign-rule check's (it names that rule). */
static void check_forward(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                          const char *filter)
{
	char ip[16], dst[24];
	bool drop = strstr(filter, ":FORWARD DROP") != NULL, accept = false;
	pp_format_ipv4(f->m->internal_ip, ip);
	snprintf(dst, sizeof dst, "-d %s/32 ", ip);
	for (const char *l = filter; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
		if (strstr(line, "-j ACCEPT") && (strstr(line, "DNAT") || strstr(line, dst)))
			accept = true;
	}
	f->forward_static_block = drop && !accept ? PP_YES : PP_NO;
	if (f->forward_static_block == PP_YES)
		pp_check_add(r, o, "forward", PP_CHECK_FAIL,
		             "filter FORWARD policy is DROP and no rule accepts DNATed traffic or %s", ip);
	else if (f->foreign == 2 && !f->foreign_before_routing && !strncmp(f->foreign_where, "filter ", 7))
		pp_check_add(r, o, "forward", PP_CHECK_FAIL, "filter FORWARD: policy %s, but \"%s\" (%s) drops "
		             "the traffic before portpilot's accept", drop ? "DROP" : "ACCEPT", f->foreign_rule,
		             f->foreign_where);
	else
		pp_check_add(r, o, "forward", PP_CHECK_PASS, "filter FORWARD: policy %s%s",
		             drop ? "DROP" : "ACCEPT", accept ? ", an ACCEPT for DNATed traffic exists" : "");
}

/* Other tools' rules on the mapping's path, in the kernel's order (core/rules-foreign.c). */
static void check_foreign(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                          const char *save)
{
	struct pp_foreign *fr = pp_foreign_parse(save);
	struct pp_foreign_query q;
	struct pp_foreign_hit h;
	pp_foreign_query_of(o->table, f->m, f->wan_ip, &q);
	if (*f->wan_if)
		q.wan_if = f->wan_if;
	if (*f->lan_if)
		q.lan_if = f->lan_if;
	if (pp_foreign_first(fr, &q, &h)) {
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
	pp_foreign_free(fr);
}

static void check_ip_forward(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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
static int conf_sysctl(const char *ifname, const char *key)
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
static void check_if_forwarding(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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
static uint32_t reflector_addr(const char *url)
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
static void check_rp_filter(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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
	pp_check_add(r, o, "rp_filter", bad_wan ? PP_CHECK_FAIL : bad_lan ? PP_CHECK_INFO : PP_CHECK_PASS,
	             "rp_filter %d on %s (route back to %s leaves by %s), %d on %s (route to %s leaves by %s)%s",
	             f->rp_wan, *f->wan_if ? f->wan_if : "?", f->rp_client ? cl : "outside clients (default route)",
	             *f->rp_wan_route ? f->rp_wan_route : "?", f->rp_lan, *f->lan_if ? f->lan_if : "?", srv,
	             *f->rp_lan_route ? f->rp_lan_route : "?",
	             bad_wan ? ": strict mode drops the attempts arriving on the WAN interface" :
	             bad_lan ? ": the server is routed by another interface than the LAN one" : "");
}

static void find_interfaces(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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

static bool in_net(uint32_t ip, uint32_t net, int len) { return (ip >> (32 - len)) == (net >> (32 - len)); }

static void check_wan_class(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	char ip[16];
	pp_format_ipv4(f->wan_ip, ip);
	if (!f->wan_ip)
		return;
	if (in_net(f->wan_ip, 0x64400000, 10))
		pp_check_add(r, o, "wan_address", PP_CHECK_FAIL,
		             "WAN address %s is in 100.64.0.0/10: the carrier's NAT (CGNAT) is in front", ip);
	else if (in_net(f->wan_ip, 0x0a000000, 8) || in_net(f->wan_ip, 0xac100000, 12) ||
	         in_net(f->wan_ip, 0xc0a80000, 16))
		pp_check_add(r, o, "wan_address", PP_CHECK_FAIL,
		             "WAN address %s is private: another NAT router is in front of this one", ip);
	else
		pp_check_add(r, o, "wan_address", PP_CHECK_PASS, "WAN address %s is public", ip);
}

void pp_facts_kernel(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	find_interfaces(f, r, o);
	check_wan_class(f, r, o);
	check_ip_forward(f, r, o);
	check_if_forwarding(f, r, o);
	check_rp_filter(f, r, o);
	/* The same iptables variant the backend writes with (nft or legacy); every table at once,
	 * since another tool's rule in raw or mangle stops the traffic as surely as one in filter. */
	struct pp_backend b;
	struct pp_error e;
	const char *save = pp_backend_open(&b, &e) == 0 ? b.save : "iptables-save";
	char *argv[] = { (char *)save, "-c", NULL };
	char *all = pp_run_cmd(argv);
	char *nat = all ? pp_save_section(all, "nat") : NULL, *filter = all ? pp_save_section(all, "filter") : NULL;
	if (nat)
		check_dnat(f, r, o, nat);
	else
		pp_check_add(r, o, "dnat_rule", PP_CHECK_SKIP, "iptables-save failed: run as root");
	if (all)
		check_foreign(f, r, o, all);
	if (filter)
		check_forward(f, r, o, filter);
	free(nat);
	free(filter);
	free(all);
}

static void resolve_expected(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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

void pp_facts_expected(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
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

/* The ICMP error queued on a UDP socket (IP_RECVERR): "administratively prohibited" is a firewall's
 * REJECT, told apart from a closed port's "port unreachable". */
static enum pp_svc udp_error(int fd, int e)
{
	char cbuf[512], data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR)
				continue;
			struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
			if (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == 3 &&
			    (ee->ee_code == 9 || ee->ee_code == 10 || ee->ee_code == 13))
				return PP_SVC_FILTERED;
			if (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == 3 && ee->ee_code == 3)
				return PP_SVC_REFUSED;
		}
	return e == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE;
}

/* One UDP datagram: a reply is open, an ICMP error says refused or filtered, silence is open|dropped. */
static enum pp_svc try_udp(int fd, int ms, bool *replied)
{
	int one = 1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof one);
	if (send(fd, "portpilot probe\n", 16, 0) < 0)
		return udp_error(fd, errno);
	if (poll(&p, 1, ms) <= 0)
		return PP_SVC_OPEN;
	if (recv(fd, buf, sizeof buf, 0) >= 0) {
		*replied = true;
		return PP_SVC_OPEN;
	}
	return udp_error(fd, errno);
}

/* One connection attempt to the server from src; ICMP and RST tell refused from dropped. */
static enum pp_svc try_connect(uint32_t src, uint32_t dst, uint16_t port, bool udp, int ms, bool *replied)
{
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(src) };
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(dst), .sin_port = htons(port) };
	enum pp_svc res = PP_SVC_TIMEOUT;
	bool dummy;
	*(replied ? replied : &dummy) = false;
	if (fd < 0)
		return PP_SVC_UNTESTED;
	if ((src && bind(fd, (struct sockaddr *)&a, sizeof a) < 0) ||
	    (connect(fd, (struct sockaddr *)&b, sizeof b) < 0 && errno != EINPROGRESS)) {
		res = errno == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE;
		close(fd);
		return res;
	}
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	if (udp) {
		res = try_udp(fd, ms, replied ? replied : &dummy);
	} else if (poll(&p, 1, ms) > 0) {
		int e = 0;
		socklen_t el = sizeof e;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		res = e == 0 ? PP_SVC_OPEN : e == ECONNREFUSED ? PP_SVC_REFUSED : PP_SVC_UNREACHABLE;
	}
	close(fd);
	return res;
}

static const char *svc_words(enum pp_svc s)
{
	static const char *const w[] = { "not tested", "answered (connection accepted)",
	                                 "refused the connection", "did not answer (timeout)",
	                                 "is unreachable (no ARP answer / no route)",
	                                 "is rejected by a firewall (ICMP administratively prohibited)" };
	return w[s];
}

/* The neighbour table: did the server answer ARP? */
static enum pp_tri neighbour(uint32_t ip)
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

static const char *udp_words(enum pp_svc s, bool replied)
{
	return s == PP_SVC_OPEN ? (replied ? "answered" : "sent no answer (open and silent, or dropped)")
	                        : svc_words(s);
}

/* protocol = both: the UDP side too, from the LAN and (when the LAN gets an answer) from outside. */
static void service_udp(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                        const char *ip, const char *lip, const char *wip)
{
	const struct pp_mapping *m = f->m;
	f->udp_lan = try_connect(f->lan_ip, m->internal_ip, m->in_lo, true, 1500, &f->udp_lan_reply);
	pp_check_add(r, o, "service_udp", f->udp_lan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "udp %s:%u from the router (%s) %s", ip, m->in_lo, lip, udp_words(f->udp_lan, f->udp_lan_reply));
	/* Only an answer from the LAN makes silence towards a non-LAN source mean something. */
	if (!f->udp_lan_reply)
		return;
	f->udp_wan = try_connect(f->wan_ip, m->internal_ip, m->in_lo, true, 1500, &f->udp_wan_reply);
	pp_check_add(r, o, "return_route_udp", f->udp_wan_reply ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "udp %s:%u from a non-LAN source (%s) %s", ip, m->in_lo, wip,
	             udp_words(f->udp_wan, f->udp_wan_reply));
}

/* UDP only: a datagram from a non-LAN source of the router; only a service that answered the
 * router from the LAN makes silence here mean its answer went elsewhere. */
static void return_route_udp(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                             const char *ip, const char *wip, bool lan_reply)
{
	const struct pp_mapping *m = f->m;
	bool wan_reply = false;
	if (!lan_reply) {
		pp_check_add(r, o, "return_route", PP_CHECK_SKIP, "udp %s:%u did not answer the router's "
		             "datagram, so silence towards a non-LAN source would prove nothing", ip, m->in_lo);
		return;
	}
	f->svc_wan = try_connect(f->wan_ip, m->internal_ip, m->in_lo, true, 1500, &wan_reply);
	if (f->svc_wan == PP_SVC_OPEN && !wan_reply)
		f->svc_wan = PP_SVC_TIMEOUT;
	pp_check_add(r, o, "return_route", f->svc_wan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "udp %s:%u from a non-LAN source (%s) %s", ip, m->in_lo, wip,
	             wan_reply ? "answered" : svc_words(f->svc_wan));
}

void pp_facts_service(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	const struct pp_mapping *m = f->m;
	bool udp = m->proto == PP_UDP, lan_reply = false;
	char ip[16], lip[16], wip[16];
	pp_format_ipv4(m->internal_ip, ip);
	pp_format_ipv4(f->lan_ip, lip);
	pp_format_ipv4(f->wan_ip, wip);
	f->svc_lan = try_connect(f->lan_ip, m->internal_ip, m->in_lo, udp, udp ? 1500 : 3500, &lan_reply);
	f->neigh_ok = neighbour(m->internal_ip);
	pp_check_add(r, o, "service", f->svc_lan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "%s %s:%u from the router (%s) %s%s", udp ? "udp" : "tcp", ip, m->in_lo, lip,
	             udp ? udp_words(f->svc_lan, lan_reply) : svc_words(f->svc_lan),
	             f->neigh_ok == PP_YES ? "; it answers ARP" : f->neigh_ok == PP_NO ? "; no ARP answer" : "");
	if (f->svc_lan != PP_SVC_OPEN || !f->wan_ip)
		return;
	if (udp) {
		return_route_udp(f, r, o, ip, wip, lan_reply);
		return;
	}
	/* A source outside the LAN shows where the server sends replies: back here or elsewhere. */
	f->svc_wan = try_connect(f->wan_ip, m->internal_ip, m->in_lo, false, 2000, NULL);
	pp_check_add(r, o, "return_route", f->svc_wan == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "tcp %s:%u from a non-LAN source (%s) %s", ip, m->in_lo, wip, svc_words(f->svc_wan));
	if (m->proto == PP_BOTH)
		service_udp(f, r, o, ip, lip, wip);
}
