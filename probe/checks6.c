/* The probe's IPv6 checks: the mapping's pinholes (asked of the backend) and the server's IPv6 port. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/backend.h"
#include "portpilot/ipv6.h"

enum { SVC6_MS = 1500 };

/* The server's IPv6 address on this site, once (both entry points may ask). false: none. */
static bool
target6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o, uint8_t a[16])
{
	struct pp_error e;
	if (!pp_mapping_wants_ip6(f->m) || !f->m->enabled)
		return false;
	if (pp_mapping_ip6(f->m, f->lan_if[0] ? f->lan_if : NULL, a, &e) < 0) {
		if (!f->v6)
			pp_check_add(r, o, "ipv6_target", PP_CHECK_SKIP, "%s", e.msg);
		f->v6 = true;
		return false;
	}
	f->v6 = true;
	pp_format_ipv6(a, f->v6_addr);
	return true;
}

void
pp_check_pinholes6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                   struct pp_backend *b, const struct pp_live *live)
{
	uint8_t a[16];
	if (!target6(f, r, o, a))
		return;
	int n = b->ops->pinholes ? b->ops->pinholes(b, live, f->m->name, f->v6_addr, &f->v6_pkts) : -1;
	if (n < 0)
		pp_check_add(r, o, "ipv6_pinhole", PP_CHECK_SKIP, "the %s backend cannot say which pinholes it holds",
		             b->ops->name);
	else if (n > 0)
		pp_check_add(r, o, "ipv6_pinhole", PP_CHECK_PASS, "%d pinhole rule(s) to %s in %s, %llu packets",
		             n, f->v6_addr, b->ops->name, f->v6_pkts);
	else
		pp_check_add(r, o, "ipv6_pinhole", PP_CHECK_FAIL, "no pinhole to %s for %s in the live %s rules",
		             f->v6_addr, f->m->name, b->ops->name);
	f->v6_pinhole = n < 0 ? PP_UNKNOWN : n > 0 ? PP_YES : PP_NO;
}

/* One TCP connect to [addr]:port (from src, NULL: the kernel's choice, on the server's link),
 * bounded: what came back. */
static enum pp_svc
connect6(const char *addr, uint16_t port, const char *src)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in6 s = { .sin6_family = AF_INET6 };
	if (inet_pton(AF_INET6, addr, &a.sin6_addr) != 1 || (src && inet_pton(AF_INET6, src, &s.sin6_addr) != 1))
		return PP_SVC_UNTESTED;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return PP_SVC_UNTESTED;
	if (src && bind(fd, (struct sockaddr *)&s, sizeof s) < 0) {
		close(fd);
		return PP_SVC_UNTESTED;
	}
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a), err = rc == 0 ? 0 : errno;
	if (err == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof err;
		err = ETIMEDOUT;
		if (poll(&p, 1, SVC6_MS) == 1)
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	}
	close(fd);
	switch (err) {
	case 0: return PP_SVC_OPEN;
	case ECONNREFUSED: return PP_SVC_REFUSED;
	case ETIMEDOUT: return PP_SVC_TIMEOUT;
	case EACCES: case EPERM: return PP_SVC_FILTERED;
	default: return PP_SVC_UNREACHABLE;
	}
}

/* A global address of the router outside srv's /64 (its WAN's, typically: replies to it need
 * the server's route through this router, as an outside client's do), or inside it (its LAN
 * address beside the server: the reflector tests only the requester's /64). 0 when it has none. */
int
pp_router_addr6(const uint8_t srv[16], bool in64, char out[PP_IP6_STR])
{
	struct ifaddrs *ifs, *i;
	int found = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6)
			continue;
		const uint8_t *a = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;
		/* global unicast only (2000::/3): not link-local, loopback, ULA or multicast */
		if ((a[0] & 0xe0) != 0x20 || (memcmp(a, srv, 8) == 0) != in64 || memcmp(a, srv, 16) == 0)
			continue;
		pp_format_ipv6(a, out);
		found = 1;
	}
	freeifaddrs(ifs);
	return found;
}

/* The return path: from an off-link source, the mapped port and a closed one. */
static void
check_return6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o, const uint8_t srv[16])
{
	if (!pp_router_addr6(srv, false, f->v6_offsrc)) {
		pp_check_add(r, o, "ipv6_return", PP_CHECK_SKIP, "the router has no global IPv6 address outside "
		             "%s's /64: the server's route back to outside clients is not tested", f->v6_addr);
		return;
	}
	uint16_t closed = pp_closed_port(f->m);
	f->svc6_off = connect6(f->v6_addr, f->m->in_lo, f->v6_offsrc);
	f->closed6_off = f->svc6_off == PP_SVC_OPEN ? PP_SVC_UNTESTED : connect6(f->v6_addr, closed, f->v6_offsrc);
	pp_check_add(r, o, "ipv6_return", f->svc6_off == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "[%s]:%u from %s (not on its link): %s%s%s", f->v6_addr, f->m->in_lo, f->v6_offsrc,
	             pp_svc_words(f->svc6_off), f->closed6_off ? "; a closed port from there: " : "",
	             f->closed6_off ? pp_svc_words(f->closed6_off) : "");
}

void
pp_facts_ip6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	uint8_t a[16];
	bool seen = f->v6;
	if (!target6(f, r, o, a))
		return;
	if (!seen)   /* the live rules could not be read: pp_facts_kernel said why */
		pp_check_add(r, o, "ipv6_pinhole", PP_CHECK_SKIP, "the live rules were not read");
	/* The solicitation goes out first: its answers come while the connects run. */
	struct pp_ra6_sock ras = { .fd = -1 };
	if (f->lan_if[0])
		pp_ra6_solicit(f->lan_if, &ras);
	if (!(f->m->proto & PP_TCP)) {
		pp_check_add(r, o, "ipv6_service", PP_CHECK_SKIP, "UDP only: no IPv6 answer to wait for");
	} else {
		f->svc6 = connect6(f->v6_addr, f->m->in_lo, NULL);
		pp_check_add(r, o, "ipv6_service", f->svc6 == PP_SVC_OPEN ? PP_CHECK_PASS : PP_CHECK_FAIL,
		             "[%s]:%u from the router: %s", f->v6_addr, f->m->in_lo, pp_svc_words(f->svc6));
		if (f->svc6 == PP_SVC_OPEN)
			check_return6(f, r, o, a);
	}
	pp_ra6_collect(f, r, o, &ras);
}
