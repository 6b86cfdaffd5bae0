/* The system's iptables: variant detection, save/restore (and pp_run, the process helper every backend uses), host checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

/*
 * Pump in into the child's stdin while draining its stdout and stderr (no
 * deadlock on big rulesets); with until_in_done, return once stdin is
 * written and closed (the child works on while the caller does too).
 */
static void
pump(int *in_fd, const char *in, size_t *in_off, int *out_fd, int *err_fd, struct pp_buf *out,
     struct pp_buf *eb, bool until_in_done)
{
	size_t in_len = in ? strlen(in) : 0;
	if (*in_fd >= 0 && *in_off >= in_len) {
		close(*in_fd);
		*in_fd = -1;
	}
	char buf[65536];
	while (*in_fd >= 0 || (!until_in_done && (*out_fd >= 0 || *err_fd >= 0))) {
		struct pollfd p[3] = { { *in_fd, POLLOUT, 0 }, { *out_fd, POLLIN, 0 }, { *err_fd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (*in_fd >= 0 && p[0].revents) {
			ssize_t w = write(*in_fd, in + *in_off, in_len - *in_off);
			if (w > 0)
				*in_off += (size_t)w;
			if (w < 0 || *in_off == in_len) {
				close(*in_fd);
				*in_fd = -1;
			}
		}
		int *fds[2] = { out_fd, err_fd };
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

/* A child process started by proc_start: stdin already written. */
struct pp_proc {
	pid_t pid;
	int out, err;
	struct pp_buf ob, eb;
};

static struct pp_proc *
proc_start(char *const argv[], const char *in)
{
	int pi[2], po[2], pe[2];
	if (pipe2(pi, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return NULL;
	/* posix_spawn (vfork underneath): no copy of a big caller's page tables as fork would. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		int fds[6] = { pi[0], pi[1], po[0], po[1], pe[0], pe[1] };
		for (int i = 0; i < 6; i++)
			close(fds[i]);
		return NULL;
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	struct pp_proc *pr = pp_xcalloc(1, sizeof *pr);
	*pr = (struct pp_proc){ pid, po[0], pe[0], { 0 }, { 0 } };
	int in_fd = pi[1];
	size_t off = 0;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	pump(&in_fd, in, &off, &pr->out, &pr->err, &pr->ob, &pr->eb, true);
	signal(SIGPIPE, old);
	return pr;
}

/* Drain and reap the child; its exit status or -1. */
static int
proc_finish(struct pp_proc *pr, char **out, char **errout)
{
	int in_fd = -1, st = 0;
	size_t off = 0;
	pump(&in_fd, NULL, &off, &pr->out, &pr->err, &pr->ob, &pr->eb, false);
	while (waitpid(pr->pid, &st, 0) < 0 && errno == EINTR)
		;
	pp_buf_addstr(&pr->ob, "");
	pp_buf_addstr(&pr->eb, "");
	if (out)
		*out = pr->ob.data;
	else
		pp_buf_free(&pr->ob);
	if (errout)
		*errout = pr->eb.data;
	else
		pp_buf_free(&pr->eb);
	free(pr);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
pp_run(char *const argv[], const char *in, char **out, char **errout)
{
	struct pp_proc *pr = proc_start(argv, in);
	if (!pr)
		return -1;
	return proc_finish(pr, out, errout);
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
set_variant(struct pp_ipt *b, const char *v)
{
	snprintf(b->variant, sizeof b->variant, "%s", v);
	snprintf(b->save, sizeof b->save, "iptables-%s-save", v);
	snprintf(b->restore, sizeof b->restore, "iptables-%s-restore", v);
	snprintf(b->cmd, sizeof b->cmd, "iptables-%s", v);
}

/*
 * The variant of the iptables in PATH, from where its links lead
 * (/usr/sbin/iptables -> ... -> xtables-nft-multi): no process to start.
 * NULL when the name does not tell.
 */
static const char *
variant_of_path(void)
{
	const char *path = getenv("PATH");
	for (const char *p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		char *cand = pp_xasprintf("%.*s/iptables", (int)n, p), real[PATH_MAX];
		bool found = n > 0 && realpath(cand, real) != NULL;
		free(cand);
		if (found) {
			const char *base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
			return strstr(base, "nft") ? "nft" : strstr(base, "legacy") ? "legacy" : NULL;
		}
		p += n + (p[n] == ':');
	}
	return NULL;
}

/* Legacy tables exist in a namespace only once something loaded them, and /proc lists them. */
static bool
legacy_may_hold_rules(void)
{
	char *s = pp_read_file("/proc/self/net/ip_tables_names", NULL);
	if (!s)
		return errno != ENOENT;
	bool any = *s != '\0';
	free(s);
	return any;
}

bool
pp_iptables_legacy_in_use(char *why, size_t n)
{
	char *out = NULL, *argv[] = { "iptables-legacy-save", NULL };
	bool any = legacy_may_hold_rules() && pp_run(argv, NULL, &out, NULL) == 0 && holds_rules(out);
	free(out);
	if (any)
		snprintf(why, n, "iptables-legacy-save shows rules");
	return any;
}

int
pp_ipt_open(struct pp_ipt *b, struct pp_error *err)
{
	memset(b, 0, sizeof *b);
	const char *env = getenv("PORTPILOT_IPTABLES");
	const char *v = env && (strcmp(env, "nft") == 0 || strcmp(env, "legacy") == 0) ? env : variant_of_path();
	if (v) {
		set_variant(b, v);
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
	bool mixed = false;
	if (strcmp(other, "legacy") != 0 || legacy_may_hold_rules())
		mixed = pp_run(argv, NULL, &out, NULL) == 0 && holds_rules(out);
	free(out);
	if (mixed)
		return pp_error_set(err, "both iptables-%s and iptables-%s hold rules: the kernel runs both and they "
		                    "cannot see each other; move every rule to iptables-%s (the system's variant) "
		                    "and clear the other (iptables-%s-save shows what is there)",
		                    b->variant, other, b->variant, other);
	return 0;
}

/* The "*name ... COMMIT" section of one table in iptables-save text; "" when absent. */
static char *
section(const char *all, const char *name)
{
	char *head = pp_xasprintf("*%s\n", name);
	const char *p = all;
	while ((p = strstr(p, head)) != NULL && p != all && p[-1] != '\n')
		p++;
	free(head);
	if (!p)
		return pp_xstrdup("");
	const char *e = strstr(p, "\nCOMMIT\n");
	return e ? pp_xstrndup(p, (size_t)(e - p) + 8) : pp_xstrdup(p);
}

int
pp_ipt_read(struct pp_ipt *b, struct pp_ipt_live *live, struct pp_error *err)
{
	static const char *names[PP_NF__COUNT] = { "nat", "filter" };
	memset(live, 0, sizeof *live);
	/* One save of every table: iptables-nft-save dumps them all even with -t. */
	char *all = NULL, *e = NULL;
	char *argv[] = { (char *)b->save, "-c", NULL };
	int rc = pp_run(argv, NULL, &all, &e);
	if (rc != 0) {
		pp_error_set(err, "%s failed (exit %d): %s", b->save, rc, e ? e : "");
		free(e);
		free(all);
		return -1;
	}
	free(e);
	for (int t = 0; t < PP_NF__COUNT; t++)
		live->save[t] = section(all, names[t]);
	/* Another tool's DROP in raw or mangle stops a mapping as surely as one in filter. */
	char *raw = section(all, "raw"), *mangle = section(all, "mangle");
	live->save_more = pp_xasprintf("%s%s", raw, mangle);
	free(raw);
	free(mangle);
	b->docker_user = strstr(live->save[PP_FILTER], "\n:DOCKER-USER ") != NULL;
	rc = pp_ruleset_parse_buf(all, &live->own, err);
	if (rc < 0) {
		free(live->save[PP_NAT]);
		free(live->save[PP_FILTER]);
		free(live->save_more);
		memset(live, 0, sizeof *live);
	}
	return rc;
}

/* NFT_MSG_GETGEN over netlink: the generation of this namespace's nf_tables; -1 on failure. */
static int
nft_genid(int fd, unsigned long *gen)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg g;
	} req = { { sizeof req, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST, 1, 0 },
	          { AF_UNSPEC, NFNETLINK_V0, 0 } };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[1024];
	if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	ssize_t n = recv(fd, buf, sizeof buf, 0);
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	if (n < 0 || !NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN))
		return -1;
	size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	while (off + NLA_HDRLEN <= nh->nlmsg_len) {
		struct nlattr a;
		memcpy(&a, buf + off, sizeof a);
		if (a.nla_len < NLA_HDRLEN || off + a.nla_len > nh->nlmsg_len)
			break;
		if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && a.nla_len >= NLA_HDRLEN + 4) {
			uint32_t v;
			memcpy(&v, buf + off + NLA_HDRLEN, 4);
			*gen = ntohl(v);
			return 0;
		}
		off += NLA_ALIGN(a.nla_len);
	}
	return -1;
}

/*
 * The generation socket, kept for the process (per network namespace): closing a netfilter
 * socket right after a commit that deleted objects waits for nf_tables' deferred frees (an
 * RCU grace period, 10-20 ms on the bench machine), which record_gen paid after every apply.
 */
static int
gen_socket(void)
{
	static int fd = -1;
	static struct stat ns;
	struct stat now;
	if (stat("/proc/thread-self/ns/net", &now) < 0)
		return -1;
	if (fd >= 0 && (now.st_ino != ns.st_ino || now.st_dev != ns.st_dev)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
		ns = now;
	}
	return fd;
}

int
pp_ipt_gen(const struct pp_ipt *b, struct pp_gen *g)
{
	memset(g, 0, sizeof *g);
#ifdef SO_NETNS_COOKIE
	if (strcmp(b->variant, "nft") != 0)
		return -1;
	int fd = gen_socket();
	if (fd < 0)
		return -1;
	unsigned long long cookie = 0;
	socklen_t len = sizeof cookie;
	char *boot = pp_read_file("/proc/sys/kernel/random/boot_id", NULL);
	int rc = -1;
	if (boot && getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0 &&
	    nft_genid(fd, &g->gen) == 0) {
		snprintf(g->ns, sizeof g->ns, "%.36s/%llu", pp_trim(boot), cookie);
		rc = 0;
	}
	free(boot);
	return rc;
#else
	(void)b;
	return -1;
#endif
}

void
pp_ipt_live_free(struct pp_ipt_live *live)
{
	pp_ruleset_free(&live->own);
	free(live->save[PP_NAT]);
	free(live->save[PP_FILTER]);
	free(live->save_more);
	memset(live, 0, sizeof *live);
}

struct pp_proc *
pp_ipt_restore_start(const struct pp_ipt *b, const char *text, bool test)
{
	/* --counters: rules written again with the live counters keep them (the plan's "[p:b]"). */
	char *argv[] = { (char *)b->restore, "--noflush", "--counters", test ? "--test" : NULL, NULL };
	return proc_start(argv, text);
}

int
pp_ipt_restore_finish(const struct pp_ipt *b, struct pp_proc *pr, bool test,
                          struct pp_error *err)
{
	char *e = NULL;
	int rc = pr ? proc_finish(pr, NULL, &e) : -1;
	if (rc != 0) {
		/* iptables-restore names the failing line; keep its message short. */
		char *nl = e ? strchr(e, '\n') : NULL;
		if (nl && strchr(nl + 1, '\n'))
			*strchr(nl + 1, '\n') = '\0';
		pp_error_set(err, "%s%s rejected the ruleset (exit %d): %s", b->restore,
		             test ? " --test" : "", rc, e ? pp_trim(e) : "cannot start it");
		free(e);
		return -1;
	}
	free(e);
	return 0;
}

int
pp_ipt_restore(const struct pp_ipt *b, const char *text, bool test, struct pp_error *err)
{
	return pp_ipt_restore_finish(b, pp_ipt_restore_start(b, text, test), test, err);
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

/*
 * Another tool's rule that meets a mapping's traffic before portpilot's (core/rules-foreign.c):
 * an apply cannot change that, since portpilot never touches other rules, so say it before. A
 * few are enough to make the point on a big table.
 */
static void
check_foreign(const struct pp_want *t, const struct pp_foreign *fr, struct pp_findings *out)
{
	enum { MAX_SHOWN = 10 };
	uint32_t wan = pp_iface_addr4(t->wan_if);
	size_t shown = 0;
	for (size_t i = 0; i < t->n && shown < MAX_SHOWN; i++) {
		const struct pp_want_map *m = &t->maps[i];
		struct pp_foreign_query q = { .proto = m->proto, .pub_lo = m->pub_lo, .pub_hi = m->pub_hi,
		                              .in_lo = m->in_lo, .in_hi = m->in_hi, .internal_ip = m->internal_ip,
		                              .public_ip = t->public_ip ? t->public_ip : wan,
		                              .wan_if = t->wan_if, .lan_if = t->lan_if };
		struct pp_foreign_hit h;
		/* every element of a port list: the first one another tool's rule meets */
		bool hit = false;
		for (size_t e = 0; m->active && !hit && e < pp_want_nports(m); e++) {
			struct pp_port_pair pr = pp_want_port(m, e);
			q.pub_lo = pr.pub_lo, q.pub_hi = pr.pub_hi, q.in_lo = pr.in_lo, q.in_hi = pr.in_hi;
			hit = pp_foreign_first(fr, &q, &h) != 0;
		}
		if (!hit)
			continue;
		pp_foreign_finding(out, m->line, m->name, &h);
		shown++;
	}
}

void
pp_ipt_checks(const struct pp_want *t, const char *filter_save, const struct pp_foreign *fr,
              struct pp_findings *out)
{
	pp_host_checks(t->wan_if, out);
	check_forward(filter_save, out);
	if (fr)
		check_foreign(t, fr, out);
}
