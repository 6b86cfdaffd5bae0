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
#include "portpilot/util.h"

/* The router's own IPv4 addresses. */
static size_t
local_addrs(char (*out)[INET_ADDRSTRLEN], size_t max)
{
	struct ifaddrs *ifa = NULL;
	size_t n = 0;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *a = ifa; a && n < max; a = a->ifa_next)
		if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, out[n++],
			          INET_ADDRSTRLEN);
	freeifaddrs(ifa);
	return n;
}

/* The value of the k-th (0-based) "key=" field of a conntrack -L line. */
static bool
field(const char *line, const char *key, int k, char *out, size_t sz)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if (p != line && p[-1] != ' ')
			continue;
		if (k-- > 0)
			continue;
		size_t n = strcspn(p + kl, " \n");
		if (n >= sz)
			return false;
		memcpy(out, p + kl, n);
		out[n] = '\0';
		return true;
	}
	return false;
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

/* One conntrack -L line: delete it when it is a flow of a changed mapping. */
static size_t
flush_line(const char *line, const struct pp_flush *f, size_t n, char (*local)[INET_ADDRSTRLEN],
           size_t nlocal)
{
	char proto[8], src[48], dst[48], sp[8], dp[8], rsrc[48];
	if (sscanf(line, "%7s", proto) != 1)
		return 0;
	enum pp_proto pr = strcmp(proto, "tcp") == 0 ? PP_TCP : strcmp(proto, "udp") == 0 ? PP_UDP : 0;
	if (!pr || !field(line, "src=", 0, src, sizeof src) || !field(line, "dst=", 0, dst, sizeof dst) ||
	    !field(line, "sport=", 0, sp, sizeof sp) || !field(line, "dport=", 0, dp, sizeof dp) ||
	    !field(line, "src=", 1, rsrc, sizeof rsrc) || !wanted(f, n, pr, (unsigned)atoi(dp)))
		return 0;
	bool dnat = strcmp(rsrc, dst) != 0, to_router = false;
	for (size_t i = 0; i < nlocal; i++)
		to_router |= strcmp(local[i], dst) == 0;
	if (!dnat && !to_router)
		return 0;
	char *argv[] = { "conntrack", "-D", "-p", proto, "-s", src, "-d", dst, "--sport", sp, "--dport",
	                 dp, NULL };
	return pp_run(argv, NULL, NULL, NULL) == 0;
}

void
pp_conntrack_flush(struct pp_plan *p)
{
	/*
	 * No flows, nothing to do (the common case of a quiet moment, and the
	 * cheap one: no process to start). Otherwise list them from /proc when
	 * the kernel offers it, else with conntrack -L.
	 */
	p->flows_removed = 0;
	p->flows_unlisted = false;
	if (p->nflush == 0 || pp_sysctl_read("net.netfilter.nf_conntrack_count") <= 0)
		return;
	size_t n = p->nflush;
	struct pp_flush *f = pp_xcalloc(n + 1, sizeof *f);
	memcpy(f, p->flush, n * sizeof *f);
	qsort(f, n, sizeof *f, pp_flush_cmp);
	char local[16][INET_ADDRSTRLEN];
	size_t nlocal = local_addrs(local, 16);
	char *out = pp_read_file("/proc/self/net/nf_conntrack", NULL);
	bool proc = out != NULL;
	char *argv[] = { "conntrack", "-L", NULL };
	if (!proc && pp_run(argv, NULL, &out, NULL) != 0) {
		p->flows_unlisted = true;
		free(out);
		free(f);
		return;
	}
	for (char *l = out; l && *l;) {
		char *e = strchr(l, '\n');
		if (e)
			*e = '\0';
		/* /proc lines start with the family: "ipv4     2 tcp      6 ..." */
		if (!proc)
			p->flows_removed += flush_line(l, f, n, local, nlocal);
		else if (strncmp(l, "ipv4 ", 5) == 0 && strstr(l, " 2 "))
			p->flows_removed += flush_line(strstr(l, " 2 ") + 3, f, n, local, nlocal);
		l = e ? e + 1 : NULL;
	}
	free(out);
	free(f);
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

