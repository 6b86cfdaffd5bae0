/* Reads a LAN interface's global IPv6 addresses four ways, R rounds each: getifaddrs (libc),
   portpilot's own rtnetlink dump (pp_prefix6_of), libmnl and libnl-route. Usage: addr-bench IF R */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <stdio.h>
#include <stdlib.h>

#include "portpilot/ipv6.h"
#include "portpilot/util.h"

static size_t
via_getifaddrs(const char *ifname)
{
	struct ifaddrs *ifa;
	size_t n = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *a = ifa; a; a = a->ifa_next)
		n += a->ifa_addr && a->ifa_addr->sa_family == AF_INET6 && strcmp(a->ifa_name, ifname) == 0;
	freeifaddrs(ifa);
	return n;
}

static int
mnl_cb(const struct nlmsghdr *h, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	if (ifa->ifa_family == AF_INET6 && ifa->ifa_index == ((unsigned *)data)[0])
		((unsigned *)data)[1]++;
	return MNL_CB_OK;
}

static size_t
via_mnl(unsigned idx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return 0;
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = RTM_GETADDR;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = 1;
	struct ifaddrmsg *m = mnl_nlmsg_put_extra_header(h, sizeof *m);
	m->ifa_family = AF_INET6;
	unsigned d[2] = { idx, 0 };
	unsigned pid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) >= 0) {
		int r;
		ssize_t n;
		while ((n = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0 &&
		       (r = mnl_cb_run(buf, (size_t)n, 1, pid, mnl_cb, d)) > MNL_CB_STOP)
			;
	}
	mnl_socket_close(nl);
	return d[1];
}

static size_t
via_libnl(unsigned idx)
{
	struct nl_sock *s = nl_socket_alloc();
	struct nl_cache *c = NULL;
	size_t n = 0;
	if (nl_connect(s, NETLINK_ROUTE) == 0 && rtnl_addr_alloc_cache(s, &c) == 0) {
		for (struct nl_object *o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
			struct rtnl_addr *a = (struct rtnl_addr *)o;
			n += rtnl_addr_get_family(a) == AF_INET6 && (unsigned)rtnl_addr_get_ifindex(a) == idx;
		}
		nl_cache_free(c);
	}
	nl_socket_free(s);
	return n;
}

int
main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: addr-bench IF ROUNDS\n"), 2;
	unsigned idx = if_nametoindex(argv[1]);
	int r = atoi(argv[2]);
	size_t got[4] = { 0 };
	double t[5];
	struct pp_cidr6 c;
	t[0] = pp_now_ms();
	for (int i = 0; i < r; i++)
		got[0] = via_getifaddrs(argv[1]);
	t[1] = pp_now_ms();
	for (int i = 0; i < r; i++)
		got[1] = pp_prefix6_of(argv[1], &c) == 0;
	t[2] = pp_now_ms();
	for (int i = 0; i < r; i++)
		got[2] = via_mnl(idx);
	t[3] = pp_now_ms();
	for (int i = 0; i < r; i++)
		got[3] = via_libnl(idx);
	t[4] = pp_now_ms();
	const char *name[] = { "getifaddrs", "own rtnetlink (pp_prefix6_of)", "libmnl", "libnl-route" };
	for (int i = 0; i < 4; i++)
		printf("%-30s %8.3f ms/call  %zu address(es)%s\n", name[i], (t[i + 1] - t[i]) / r, got[i],
		       i == 1 ? " (found: 1 = a prefix)" : "");
	return 0;
}
