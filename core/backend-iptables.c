/* The system's iptables: variant detection, save/restore, conntrack flush, sysctl and interface facts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"

/* Pump in into the child's stdin while draining its stdout and stderr (no deadlock on big rulesets). */
static void
pump(int in_fd, const char *in, int out_fd, int err_fd, struct pp_buf *out, struct pp_buf *eb)
{
	size_t in_len = in ? strlen(in) : 0, in_off = 0;
	if (in_fd >= 0 && in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	char buf[65536];
	while (in_fd >= 0 || out_fd >= 0 || err_fd >= 0) {
		struct pollfd p[3] = { { in_fd, POLLOUT, 0 }, { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (in_fd >= 0 && p[0].revents) {
			ssize_t w = write(in_fd, in + in_off, in_len - in_off);
			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 || in_off == in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
		int *fds[2] = { &out_fd, &err_fd };
		struct pp_buf *bufs[2] = { out, eb };
		for (int i = 0; i < 2; i++) {
			if (*fds[i] < 0 || !p[i + 1].revents)
				continue;
			ssize_t r = read(*fds[i], buf, sizeof buf);
			if (r > 0) {
				pp_buf_add(bufs[i], buf, (size_t)r);
			} else {
				close(*fds[i]);
				*fds[i] = -1;
			}
		}
	}
}

int
pp_run(char *const argv[], const char *in, char **out, char **errout)
{
	int pi[2], po[2], pe[2];
	if (pipe2(pi, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	struct pp_buf ob = { 0 }, eb = { 0 };
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	pump(pi[1], in, po[0], pe[0], &ob, &eb);
	signal(SIGPIPE, old);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	pp_buf_addstr(&ob, "");
	pp_buf_addstr(&eb, "");
	if (out)
		*out = ob.data;
	else
		pp_buf_free(&ob);
	if (errout)
		*errout = eb.data;
	else
		pp_buf_free(&eb);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* True when save text holds any rule or user chain. */
static bool
holds_rules(const char *save)
{
	for (const char *l = save; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		if (strncmp(l, "-A ", 3) == 0)
			return true;
		if (l[0] == ':' && strstr(l, " - [") && strncmp(l, ":", 1) == 0) {
			/* user chains are printed with policy "-" */
			const char *sp = strchr(l, ' ');
			if (sp && sp[1] == '-')
				return true;
		}
	}
	return false;
}

static void
set_variant(struct pp_backend *b, const char *v)
{
	snprintf(b->variant, sizeof b->variant, "%s", v);
	snprintf(b->save, sizeof b->save, "iptables-%s-save", v);
	snprintf(b->restore, sizeof b->restore, "iptables-%s-restore", v);
}

int
pp_backend_open(struct pp_backend *b, struct pp_error *err)
{
	memset(b, 0, sizeof *b);
	const char *env = getenv("PORTPILOT_IPTABLES");
	if (env && (strcmp(env, "nft") == 0 || strcmp(env, "legacy") == 0)) {
		set_variant(b, env);
	} else {
		char *out = NULL;
		char *argv[] = { "iptables", "-V", NULL };
		if (pp_run(argv, NULL, &out, NULL) != 0) {
			free(out);
			return pp_error_set(err, "cannot run iptables -V: install iptables (apt-get install iptables)");
		}
		set_variant(b, strstr(out, "legacy") ? "legacy" : "nft");
		free(out);
	}
	const char *other = strcmp(b->variant, "nft") == 0 ? "legacy" : "nft";
	char tool[40], *out = NULL;
	snprintf(tool, sizeof tool, "iptables-%s-save", other);
	char *argv[] = { tool, NULL };
	int rc = pp_run(argv, NULL, &out, NULL);
	bool mixed = rc == 0 && holds_rules(out);
	free(out);
	if (mixed)
		return pp_error_set(err, "both iptables-%s and iptables-%s hold rules: the kernel runs both and they "
		                    "cannot see each other; move every rule to iptables-%s (the system's variant) "
		                    "and clear the other (iptables-%s-save shows what is there)",
		                    b->variant, other, b->variant, other);
	return 0;
}

static int
save_table(const struct pp_backend *b, const char *table, char **out, struct pp_error *err)
{
	char *e = NULL;
	char *argv[] = { (char *)b->save, "-c", "-t", (char *)table, NULL };
	int rc = pp_run(argv, NULL, out, &e);
	if (rc != 0) {
		pp_error_set(err, "%s -t %s failed (exit %d): %s", b->save, table, rc, e ? e : "");
		free(e);
		free(*out);
		*out = NULL;
		return -1;
	}
	free(e);
	return 0;
}

int
pp_backend_read(struct pp_backend *b, struct pp_live *live, struct pp_error *err)
{
	memset(live, 0, sizeof *live);
	if (save_table(b, "nat", &live->save[PP_NAT], err) < 0 ||
	    save_table(b, "filter", &live->save[PP_FILTER], err) < 0) {
		pp_live_free(live);
		return -1;
	}
	b->docker_user = strstr(live->save[PP_FILTER], "\n:DOCKER-USER ") != NULL;
	char *all = pp_xasprintf("%s%s", live->save[PP_NAT], live->save[PP_FILTER]);
	int rc = pp_ruleset_parse(all, &live->own, err);
	free(all);
	if (rc < 0) {
		free(live->save[PP_NAT]);
		free(live->save[PP_FILTER]);
		memset(live, 0, sizeof *live);
	}
	return rc;
}

void
pp_live_free(struct pp_live *live)
{
	pp_ruleset_free(&live->own);
	free(live->save[PP_NAT]);
	free(live->save[PP_FILTER]);
	memset(live, 0, sizeof *live);
}

int
pp_backend_restore(const struct pp_backend *b, const char *text, bool test, struct pp_error *err)
{
	char *e = NULL;
	char *argv[] = { (char *)b->restore, "--noflush", test ? "--test" : NULL, NULL };
	int rc = pp_run(argv, text, NULL, &e);
	if (rc != 0) {
		/* iptables-restore names the failing line; keep its message short. */
		char *nl = e ? strchr(e, '\n') : NULL;
		if (nl && strchr(nl + 1, '\n'))
			*strchr(nl + 1, '\n') = '\0';
		pp_error_set(err, "%s%s rejected the ruleset (exit %d): %s", b->restore,
		             test ? " --test" : "", rc, e ? pp_trim(e) : "");
		free(e);
		return -1;
	}
	free(e);
	return 0;
}

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

static int
cmp_flush(const void *a, const void *b)
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

size_t
pp_conntrack_flush(const struct pp_flush *fl, size_t n)
{
	struct pp_flush *f = pp_xcalloc(n + 1, sizeof *f);
	memcpy(f, fl, n * sizeof *f);
	qsort(f, n, sizeof *f, cmp_flush);
	char local[16][INET_ADDRSTRLEN];
	size_t nlocal = local_addrs(local, 16), deleted = 0;
	char *out = NULL;
	char *argv[] = { "conntrack", "-L", NULL };
	if (pp_run(argv, NULL, &out, NULL) != 0) {
		free(out);
		free(f);
		return 0;
	}
	for (char *l = out; l && *l;) {
		char *e = strchr(l, '\n');
		if (e)
			*e = '\0';
		deleted += flush_line(l, f, n, local, nlocal);
		l = e ? e + 1 : NULL;
	}
	free(out);
	free(f);
	return deleted;
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

/* FORWARD policy DROP with a DROP/REJECT rule ahead of portpilot's jump. */
static void
check_forward(const char *save, struct pp_findings *out)
{
	if (!save || !strstr(save, ":FORWARD DROP"))
		return;
	for (const char *l = save; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		const char *r = l[0] == '[' ? strchr(l, ']') : NULL;
		r = r ? r + 2 : l;
		if (strncmp(r, "-A FORWARD ", 11) != 0)
			continue;
		if (strncmp(r, "-A FORWARD -j PP-FWD", 20) == 0)
			return;
		size_t n = strcspn(r, "\n");
		char *rule = pp_xstrndup(r, n);
		if (strstr(rule, " -j DROP") || strstr(rule, " -j REJECT")) {
			pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
			                "insert portpilot's jump above it or remove the rule",
			                "FORWARD policy is DROP and \"%s\" comes before portpilot's accept", rule);
			free(rule);
			return;
		}
		free(rule);
	}
}

void
pp_backend_checks(const struct pp_table *t, const struct pp_live *live, struct pp_findings *out)
{
	if (pp_sysctl_read("net.ipv4.ip_forward") == 0)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "run portpilot apply --enable-forwarding (or set net.ipv4.ip_forward=1 in /etc/sysctl.d)",
		                "net.ipv4.ip_forward is 0: the router does not forward, no mapping can work");
	const char *wan = t->site.val[PP_S_WAN_INTERFACE];
	int all = pp_sysctl_read("net.ipv4.conf.all.rp_filter");
	int one = -1;
	if (wan && !strchr(wan, '.') && !strchr(wan, '/')) {
		char *n = pp_xasprintf("net.ipv4.conf.%s.rp_filter", wan);
		one = pp_sysctl_read(n);
		free(n);
	}
	if (all == 1 || one == 1)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "use loose mode: sysctl net.ipv4.conf.all.rp_filter=2 (and the WAN interface's)",
		                "strict reverse-path filtering (rp_filter=1) drops forwarded replies when routes are asymmetric");
	check_forward(live ? live->save[PP_FILTER] : NULL, out);
}
