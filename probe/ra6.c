/* Router advertisements on the server's LAN: one Router Solicitation from the router, every
 * advertisement that answers (this router's own RA daemon's too), parsed as hostile input. They
 * are the evidence behind a server's IPv6 default route: who offers itself as default router,
 * with which preference and lifetime, for which prefixes. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"

/* RA_WAIT_MS: routers answer a solicitation within 500 ms (RFC 4861 MAX_RA_DELAY_TIME). A router
 * that sent a multicast RA less than 3 s ago (MIN_DELAY_BETWEEN_RAS; radvd keeps to it) answers
 * only when those 3 s are up: when the verdict hangs on the RAs (the server's route back failed), the
 * probe waits that long (its two connects from off the link took most of it already). */
enum { RA_WAIT_MS = 1000, RA_WAIT_LONG_MS = 3600, RA_LATE = 64, RA_HDR = 16, OPT_SLLA = 1, OPT_PIO = 3 };

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A prefix information option (32 bytes, checked by the caller); a prefix length over 128 is
 * not a prefix: skipped. */
static void
parse_pio(const uint8_t *o, struct pp_ra *ra)
{
	if (o[2] > 128)
		return;
	if (ra->nprefix == PP_RA_PFX_MAX) {
		ra->prefix_more = true;
		return;
	}
	struct pp_ra_prefix *p = &ra->prefix[ra->nprefix++];
	p->len = o[2];
	p->onlink = o[3] & 0x80;
	p->autonomous = o[3] & 0x40;
	p->valid = be32(o + 4);
	p->preferred = be32(o + 8);
	memcpy(p->addr, o + 16, 16);
}

int
pp_ra_parse(const uint8_t *d, size_t len, struct pp_ra *ra)
{
	char src[sizeof ra->src];
	memcpy(src, ra->src, sizeof src);
	memset(ra, 0, sizeof *ra);
	memcpy(ra->src, src, sizeof src);
	if (!d || len < RA_HDR || d[0] != ND_ROUTER_ADVERT || d[1] != 0)
		return -1;
	ra->managed = d[5] & 0x80;
	ra->other = d[5] & 0x40;
	int prf = (d[5] >> 3) & 3;          /* RFC 4191: 01 high, 00 medium, 11 low, 10 reserved = medium */
	ra->pref = prf == 1 ? 1 : prf == 3 ? -1 : 0;
	ra->lifetime = (unsigned)d[6] << 8 | d[7];
	for (size_t at = RA_HDR; at < len;) {
		if (len - at < 2)
			return -1;
		size_t olen = (size_t)d[at + 1] * 8;
		if (olen == 0 || olen > len - at)    /* RFC 4861 6.1.2: the whole RA is invalid */
			return -1;
		const uint8_t *o = d + at;
		if (o[0] == OPT_SLLA && olen >= 8) {
			memcpy(ra->mac, o + 2, 6);
			ra->has_mac = true;
		} else if (o[0] == OPT_PIO && olen == 32) {
			parse_pio(o, ra);
		}
		at += olen;
	}
	return 0;
}

static bool
mac_zero(const uint8_t m[6])
{
	static const uint8_t z[6];
	return !memcmp(m, z, 6);
}

/* The router's own addresses on ifname, read once (an RA flood must not cost a getifaddrs each):
 * an RA from one is this router's. The source link-layer option is not asked: anyone on the link
 * can write this router's MAC there. */
static void
own_addrs(struct pp_ra6_sock *s)
{
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i && s->nown < sizeof s->own / sizeof s->own[0]; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 && !strcmp(i->ifa_name, s->ifname))
			s->own[s->nown++] = ((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
	freeifaddrs(ifs);
}

static bool
from_self(const struct pp_ra6_sock *s, const struct in6_addr *src)
{
	for (size_t i = 0; i < s->nown; i++)
		if (!memcmp(&s->own[i], src, sizeof *src))
			return true;
	return false;
}

int
pp_ra6_solicit(const char *ifname, struct pp_ra6_sock *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	snprintf(s->ifname, sizeof s->ifname, "%s", ifname);
	s->ifindex = if_nametoindex(ifname);
	s->lo = if_nametoindex("lo");
	int fd = s->ifindex ? socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6) : -1;
	if (fd < 0)
		return -1;
	struct icmp6_filter flt;
	int on = 1, hops = 255;
	ICMP6_FILTER_SETBLOCKALL(&flt);
	ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &flt);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(s->mac, ifr.ifr_hwaddr.sa_data, 6);
	uint8_t rs[16] = { ND_ROUTER_SOLICIT, 0 };   /* checksum: the kernel's (RFC 3542) */
	rs[8] = OPT_SLLA, rs[9] = 1;
	memcpy(rs + 10, s->mac, 6);
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = s->ifindex };
	inet_pton(AF_INET6, "ff02::2", &to.sin6_addr);
	if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &flt, sizeof flt) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &s->ifindex, sizeof s->ifindex) < 0 ||
	    sendto(fd, rs, mac_zero(s->mac) ? 8 : sizeof rs, 0, (struct sockaddr *)&to, sizeof to) < 0) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	own_addrs(s);
	clock_gettime(CLOCK_MONOTONIC, &s->sent);
	return 0;
}

/* One datagram: an RA on ifname (or to this router's own address through lo), hop limit 255, from
 * a link-local source (RFC 4861 6.1.2), parsed into ra. false: not one to count. */
static bool
recv_ra(const struct pp_ra6_sock *s, struct pp_ra *ra)
{
	uint8_t buf[1500], ctl[256];
	struct sockaddr_in6 from;
	struct iovec iov = { buf, sizeof buf };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = ctl, .msg_controllen = sizeof ctl };
	ssize_t n = recvmsg(s->fd, &mh, 0);
	if (n < 0)
		return false;
	int hops = -1;
	unsigned ifi = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
			memcpy(&hops, CMSG_DATA(c), sizeof hops);
		else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			ifi = ((struct in6_pktinfo *)(void *)CMSG_DATA(c))->ipi6_ifindex;
	}
	if (hops != 255 || !IN6_IS_ADDR_LINKLOCAL(&from.sin6_addr))
		return false;
	pp_format_ipv6(from.sin6_addr.s6_addr, ra->src);
	if (pp_ra_parse(buf, (size_t)n, ra) < 0)
		return false;
	ra->self = from_self(s, &from.sin6_addr);
	return ifi == s->ifindex || (ra->self && ifi == s->lo);
}

/* Keep one RA per router, its last. */
static void
ra_keep(struct pp_facts *f, const struct pp_ra *ra)
{
	size_t i = 0;
	while (i < f->nra && strcmp(f->ra[i].src, ra->src))
		i++;
	if (i == PP_RA_MAX) {
		f->ra_more = true;
		return;
	}
	f->ra[i] = *ra;
	if (i == f->nra)
		f->nra++;
}

static const char *
pref_words(int p)
{
	return p > 0 ? "high" : p < 0 ? "low" : "medium";
}

/* "fe80::1 (02:00:00:00:00:01, this router): default router for 1800 s, preference medium,
 * prefix 2001:db8:1::/64 (on-link, autonomous)" */
void
pp_ra_words(const struct pp_ra *ra, char *out, size_t n)
{
	size_t k = 0;
#define ADD(...) (k += (size_t)snprintf(out + k, k < n ? n - k : 0, __VA_ARGS__))
	ADD("%s", ra->src);
	if (ra->has_mac)
		ADD(" (%02x:%02x:%02x:%02x:%02x:%02x", ra->mac[0], ra->mac[1], ra->mac[2], ra->mac[3], ra->mac[4],
		    ra->mac[5]);
	ADD("%s%s): ", ra->has_mac ? ", " : " (", ra->self ? "this router" : "another router");
	if (ra->lifetime)
		ADD("default router for %u s, preference %s", ra->lifetime, pref_words(ra->pref));
	else
		ADD("router lifetime 0 (not a default router)");
	if (ra->managed || ra->other)
		ADD(", DHCPv6 %s", ra->managed ? "addresses" : "other configuration");
	for (size_t i = 0; i < ra->nprefix; i++) {
		char a[PP_IP6_STR];
		const struct pp_ra_prefix *p = &ra->prefix[i];
		pp_format_ipv6(p->addr, a);
		ADD("%s%s/%u (%s%s%s, valid %u s)", i ? ", " : ", prefix ", a, p->len, p->onlink ? "on-link" : "off-link",
		    p->autonomous ? ", autonomous" : "", p->valid ? "" : ", withdrawn", p->valid);
	}
	if (!ra->nprefix)
		ADD(", no prefix");
	if (ra->prefix_more)
		ADD(", more prefixes");
#undef ADD
	if (k >= n && n > 4)
		memcpy(out + n - 4, "...", 4);
}

static const struct pp_ra *
own_ra(const struct pp_facts *f)
{
	for (size_t i = 0; i < f->nra; i++)
		if (f->ra[i].self)
			return &f->ra[i];
	return NULL;
}

static long
ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The server answered on its link and not from off it: the verdict will reason from the RAs. */
static bool
return_failed(const struct pp_facts *f)
{
	return f->svc6 == PP_SVC_OPEN && f->svc6_off != PP_SVC_UNTESTED && f->svc6_off != PP_SVC_OPEN;
}

void
pp_ra6_collect(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
               struct pp_ra6_sock *s)
{
	if (s->fd < 0) {
		if (f->v6 && f->lan_if[0])
			pp_check_add(r, o, "ipv6_ra", PP_CHECK_SKIP, "no router solicitation sent on %s (a raw "
			             "ICMPv6 socket needs root): router advertisements not seen", f->lan_if);
		return;
	}
	/* Until the deadline; after it, what is queued already, at most RA_LATE datagrams (a flood on
	 * the LAN must not hold the probe). */
	for (int late = 0; late < RA_LATE;) {
		long left = (return_failed(f) ? RA_WAIT_LONG_MS : RA_WAIT_MS) - ms_since(&s->sent);
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		late += left <= 0;
		if (poll(&p, 1, left > 0 ? (int)left : 0) != 1)
			break;
		struct pp_ra ra;
		if (recv_ra(s, &ra))
			ra_keep(f, &ra);
	}
	long waited = ms_since(&s->sent);
	close(s->fd);
	s->fd = -1;
	f->ra_tested = true;
	size_t self = 0, dflt = 0;
	for (size_t i = 0; i < f->nra; i++)
		self += f->ra[i].self, dflt += f->ra[i].lifetime > 0;
	pp_check_add(r, o, "ipv6_ra", PP_CHECK_INFO, "%zu router advertisement(s) on %s within %ld ms of a "
	             "solicitation: %zu default router(s), this router %s", f->nra, f->lan_if, waited,
	             dflt, self ? "among them" : "sent none");
}

void
pp_ra6_evidence(const struct pp_facts *f, struct pp_probe_result *r)
{
	char w[512];
	if (f->ra_tested && !f->nra)
		pp_evidence_add(r, "ra %s: no router advertisement answered the solicitation", f->lan_if);
	for (size_t i = 0; i < f->nra; i++) {
		pp_ra_words(&f->ra[i], w, sizeof w);
		pp_evidence_add(r, "ra %s: %s", f->lan_if, w);
	}
	if (f->ra_more)
		pp_evidence_add(r, "ra %s: more routers advertised than the probe keeps (%d)", f->lan_if, PP_RA_MAX);
}

/* Whether ra carries the /64 of the server's address a. */
static bool
has_prefix(const struct pp_ra *ra, const char *a)
{
	uint8_t srv[16];
	if (pp_parse_ipv6(a, srv) < 0)
		return false;
	for (size_t i = 0; i < ra->nprefix; i++) {
		const struct pp_ra_prefix *p = &ra->prefix[i];
		unsigned bits = p->len < 64 ? p->len : 64, bytes = bits / 8;
		if (p->valid && !memcmp(p->addr, srv, bytes) &&
		    (bits % 8 == 0 || !((p->addr[bytes] ^ srv[bytes]) & (0xff00 >> (bits % 8)))))
			return true;
	}
	return false;
}

/* The other router most likely to hold the server's default route: advertising itself as default,
 * highest preference first. NULL: none does. */
static const struct pp_ra *
rival(const struct pp_facts *f)
{
	const struct pp_ra *best = NULL;
	for (size_t i = 0; i < f->nra; i++)
		if (!f->ra[i].self && f->ra[i].lifetime && (!best || f->ra[i].pref > best->pref))
			best = &f->ra[i];
	return best;
}

/* The server (a) gets no answer back to off-link sources, not even a closed port's: what the RAs
 * on its link say of its default route. false: no RA evidence (none gathered). */
bool
pp_ra6_gateway(const struct pp_facts *f, const char *a, char **summary, char **fix)
{
	if (!f->ra_tested)
		return false;
	const struct pp_ra *o = rival(f), *me = own_ra(f);
	char w[512];
	const char *lead = "answers the router on its link, but nothing comes back to";
	/* A rival below this router's preference is used only while this router seems unreachable to
	 * the server, which it is not (it answered on its link): then it is not the likely cause. */
	bool lower = o && me && me->lifetime && o->pref < me->pref;
	if (o && !lower) {
		pp_ra_words(o, w, sizeof w);
		const char *cmp = !me || !me->lifetime ? "this router does not advertise itself as default"
		                : o->pref > me->pref ? "above this router's preference"
		                : "as this router does, same preference: the server may pick either";
		*summary = pp_xasprintf("%s %s %s (off its link), not even from a closed port: its IPv6 default "
		                        "route leads to another router, likely %s on %s, which advertises itself as "
		                        "the default router (%s): %s", a, lead, f->v6_offsrc, o->src, f->lan_if, cmp, w);
	*fix = pp_xasprintf("stop the router advertisements of %s on %s (or give them router lifetime 0), "
		                    "or make this router's preference high; on %s, ip -6 route show default shows "
		                    "via which router it sends", o->src, f->lan_if, a);
		return true;
	}
	if (!me || !me->lifetime || !has_prefix(me, a)) {
		const char *why = !me ? "sends no router advertisement"
		                : !me->lifetime ? "advertises router lifetime 0 (not a default router)"
		                : "advertises no prefix of the server's /64";
		*summary = pp_xasprintf("%s %s %s (off its link), not even from a closed port: its IPv6 default "
		                        "route leads to another router or nowhere, and this router %s on %s (no "
		                        "other router advertises itself as default either): a server that learns "
		                        "its route from advertisements has none through this router", a, lead,
		                        f->v6_offsrc, why, f->lan_if);
		*fix = pp_xasprintf("make this router advertise itself on %s with the server's prefix (radvd, or "
		                    "dnsmasq enable-ra), or set the server's route by hand (on %s: ip -6 route "
		                    "replace default via this router's LAN address)", f->lan_if, a);
		return true;
	}
	char also[128] = "";
	if (lower)
		snprintf(also, sizeof also, ", above the lower preference %s advertises", o->src);
	*summary = pp_xasprintf("%s %s %s (off its link), not even from a closed port: its IPv6 default "
	                        "route leads to another router, although %sthis router advertises itself as "
	                        "default router on %s (lifetime %u s, preference %s%s): more likely a static "
	                        "route on the server, or its firewall dropping everything from off its link", a,
	                        lead, f->v6_offsrc, lower ? "" : "only ", f->lan_if, me->lifetime,
	                        pref_words(me->pref), also);
	*fix = pp_xasprintf("on %s, ip -6 route show default: remove a static default route that does not "
	                    "lead to this router (ip -6 route replace default via this router's LAN address), "
	                    "or open its IPv6 firewall to sources off its link", a);
	return true;
}
