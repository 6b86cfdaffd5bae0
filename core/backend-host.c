/* Host facts every backend shares: the conntrack flush of changed ports, sysctls, interface addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/conntrack.h"
#include "portpilot/util.h"

/* The router's own IPv4 addresses, network order. */
static size_t
local_addrs(uint32_t *out, size_t max)
{
	struct ifaddrs *ifa = NULL;
	size_t n = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *a = ifa; a && n < max; a = a->ifa_next)
		if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET)
			out[n++] = ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return n;
}

int
pp_flush_cmp(const void *a, const void *b)
{
	const struct pp_flush *x = a, *y = b;
	if (x->proto != y->proto)
		return (int)x->proto - (int)y->proto;
	return (int)x->lo - (int)y->lo;
}

/* f is sorted by (proto, lo); ranges of one protocol do not overlap. */
static bool
wanted(const struct pp_flush *f, size_t n, enum pp_proto pr, unsigned port)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first entry after (pr, port) */
		size_t mid = (lo + hi) / 2;
		if (f[mid].proto < pr || (f[mid].proto == pr && f[mid].lo <= port))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && f[lo - 1].proto == pr && port <= f[lo - 1].hi;
}

struct changed {
	struct pp_flush *f;             /* sorted by (proto, lo) */
	size_t n;
	uint32_t local[16];
	size_t nlocal;
};

/* A flow of a changed mapping: to one of its ports, and DNATed or addressed to the router. */
static bool
changed_flow(const struct pp_ct_flow *fl, void *arg)
{
	const struct changed *c = arg;
	enum pp_proto pr = fl->proto == IPPROTO_TCP ? PP_TCP : fl->proto == IPPROTO_UDP ? PP_UDP : 0;
	if (!pr || !wanted(c->f, c->n, pr, fl->dport))
		return false;
	bool to_router = false;
	for (size_t i = 0; i < c->nlocal; i++)
		to_router |= memcmp(&c->local[i], fl->odst, 4) == 0;
	return to_router || memcmp(fl->rsrc, fl->odst, 4) != 0;
}

void
pp_ct_account(struct pp_plan *p, const struct pp_ct_result *r)
{
	p->flows_removed += r->removed;
	p->flows_failed += r->failed;
	if ((!r->listed || r->failed) && !p->flows_errno)
		p->flows_errno = r->err;
	p->flows_unlisted |= !r->listed;
}

void
pp_conntrack_flush(struct pp_plan *p)
{
	p->flows_removed = p->flows_failed = 0;
	p->flows_unlisted = false;
	p->flows_errno = 0;
	if (p->nflush == 0)
		return;
	struct changed c = { .f = pp_xcalloc(p->nflush + 1, sizeof *c.f), .n = p->nflush };
	memcpy(c.f, p->flush, c.n * sizeof *c.f);
	qsort(c.f, c.n, sizeof *c.f, pp_flush_cmp);
	c.nlocal = local_addrs(c.local, 16);
	struct pp_ct_result r;
	pp_ct_remove(AF_INET, changed_flow, &c, &r);
	pp_ct_account(p, &r);
	free(c.f);
}

static char *
sysctl_path(const char *name)
{
	char *p = pp_xasprintf("/proc/sys/%s", name);
	for (char *s = p + 10; *s; s++)
		if (*s == '.')
			*s = '/';
	return p;
}

int
pp_sysctl_read(const char *name)
{
	char *p = sysctl_path(name);
	char *s = pp_read_file(p, NULL);
	free(p);
	int v = s ? atoi(s) : -1;
	free(s);
	return v;
}

int
pp_sysctl_write(const char *name, int value)
{
	char *p = sysctl_path(name);
	FILE *f = fopen(p, "w");
	free(p);
	if (!f)
		return -1;
	int rc = fprintf(f, "%d\n", value) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* The host's part of every backend's checks: forwarding off, strict reverse-path filter on
   conf.all or on the WAN interface (wan_if may be NULL). */
void
pp_host_checks(const char *wan_if, struct pp_findings *out)
{
	if (pp_sysctl_read("net.ipv4.ip_forward") == 0)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "run portpilot apply --enable-forwarding (or set net.ipv4.ip_forward=1 in /etc/sysctl.d)",
		                "net.ipv4.ip_forward is 0: the router does not forward, no mapping can work");
	int all = pp_sysctl_read("net.ipv4.conf.all.rp_filter"), one = -1;
	if (wan_if && !strchr(wan_if, '.') && !strchr(wan_if, '/')) {
		char *n = pp_xasprintf("net.ipv4.conf.%s.rp_filter", wan_if);
		one = pp_sysctl_read(n);
		free(n);
	}
	if (all == 1 || one == 1)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "use loose mode: sysctl net.ipv4.conf.all.rp_filter=2 (and the WAN interface's)",
		                "strict reverse-path filtering (rp_filter=1) drops forwarded replies when routes are asymmetric");
}

int
pp_iface_subnet(const char *ifname, struct pp_cidr *out)
{
	struct ifaddrs *ifa = NULL;
	int rc = -1;
	if (!ifname || getifaddrs(&ifa) < 0)
		return -1;
	for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !a->ifa_netmask ||
		    strcmp(a->ifa_name, ifname) != 0)
			continue;
		uint32_t ip = ntohl(((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr);
		uint32_t mask = ntohl(((struct sockaddr_in *)a->ifa_netmask)->sin_addr.s_addr);
		out->addr = ip & mask;
		out->len = (uint8_t)__builtin_popcount(mask);
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	return rc;
}

uint32_t
pp_iface_addr4(const char *ifname)
{
	struct ifaddrs *ifa = NULL;
	uint32_t ip = 0;
	if (!ifname || getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *a = ifa; a && !ip; a = a->ifa_next)
		if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET && strcmp(a->ifa_name, ifname) == 0)
			ip = ntohl(((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr);
	freeifaddrs(ifa);
	return ip;
}

