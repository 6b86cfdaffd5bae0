/*
 * portpilot watch6: the pinholes follow the LAN's delegated prefix (issue 15 item 3). It listens
 * to rtnetlink's IPv6 address events (RTMGRP_IPV6_IFADDR) of [site] lan_interface; when the
 * interface's global prefix changes, the table is applied again (no confirm: nobody is there to
 * confirm), so every host-id mapping's pinhole moves to the new address. Then the DDNS records
 * of LAN servers ([ddns NAME] with hostid6 = or mapping =, in -c CONF) are updated to the new
 * prefix: watch6 owns that step, not the ddns daemon, because only it knows when the pinholes are
 * in place (a name must not point at an address whose pinhole is not open yet). Each change is
 * logged with the time from the first address event to the rules, then to the records.
 */
#include <errno.h>
#include <stdarg.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/cli.h"
#include "portpilot/cli-opts.h"
#include "portpilot/ddns.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"


static void logf_(struct pp_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logf_(struct pp_cli *cli, const char *fmt, ...)
{
	va_list ap;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(cli->out, "%s watch6: ", when);
	va_start(ap, fmt);
	vfprintf(cli->out, fmt, ap);
	va_end(ap);
	fputc('\n', cli->out);
	fflush(cli->out);
}

static void
prefix_str(const struct pp_cidr6 *p, bool have, char *out, size_t n)
{
	char a[PP_IP6_STR];
	if (!have) {
		snprintf(out, n, "none");
		return;
	}
	pp_format_ipv6(p->addr, a);
	snprintf(out, n, "%s/%u", a, p->len);
}

/* The names of the [ddns] sections that publish a LAN server's AAAA, "" when none (or no CONF). */
static void
service6_names(const struct pp_cli *cli, char *out, size_t n)
{
	struct pp_conf *conf;
	struct pp_error err;

	out[0] = '\0';
	if (access(cli->conf_path, F_OK) != 0 || pp_conf_load(cli->conf_path, false, &conf, &err) < 0)
		return;
	for (size_t i = 0; i < conf->nddns; i++)
		if (pp_ddns_is_service6(&conf->ddns[i]) && strlen(out) + strlen(conf->ddns[i].name) + 3 < n)
			snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? ", " : "", conf->ddns[i].name);
	pp_conf_free(conf);
}

/* The earliest time a host of the LAN-server sections backs off to after a temporary failure
   (the state's next_attempt, the same backoff `ddns run` keeps), 0 when none is retrying. */
static time_t
retry_due(const struct pp_cli *cli)
{
	struct pp_conf *conf;
	struct pp_error err;
	time_t due = 0;

	if (pp_conf_load(cli->conf_path, false, &conf, &err) < 0)
		return 0;
	for (size_t i = 0; i < conf->nddns; i++) {
		struct pp_ddns_state st;
		if (!pp_ddns_is_service6(&conf->ddns[i]) ||
		    pp_ddns_state_load(cli->state_dir, conf->ddns[i].name, &st, &err) < 0)
			continue;
		for (size_t k = 0; k < st.nhosts; k++)
			if (st.hosts[k].status == PP_HS_RETRY && (due == 0 || st.hosts[k].next_attempt < due))
				due = st.hosts[k].next_attempt > 0 ? st.hosts[k].next_attempt : time(NULL);
		pp_ddns_state_free(&st);
	}
	pp_conf_free(conf);
	return due;
}

#define DDNS_TRIES 8 /* a prefix's records are tried this often (by the state's backoff), then left to ddns run */

/* After the pinholes: the LAN servers' AAAA records follow the new prefix (ddns --once for them).
   Returns when to try again (a temporary failure: the state's backoff), 0 when done or hopeless. */
static time_t
follow_ddns(struct pp_cli *cli, const char *prefix, double first, int try)
{
	char names[256];
	struct pp_error err;

	service6_names(cli, names, sizeof names);
	if (!*names)
		return 0;
	struct pp_ddns_opts o = { .conf_path = cli->conf_path, .state_dir = cli->state_dir,
	                          .table_path = cli->table_path, .service6_only = true };
	int rc = pp_ddns_once(&o, &err);
	double ms = pp_now_ms() - first;
	/* A host still backing off sent nothing this time (and failed nothing): not done either. */
	time_t due = retry_due(cli);
	if (rc == 0 && due)
		snprintf(err.msg, sizeof err.msg, "a host still waits for its backoff");
	if (rc == 0 && !due)
		logf_(cli, "prefix %s followed: DNS records ([ddns %s]) published %.0f ms after the first address "
		      "event%s", prefix, names, ms, try > 1 ? " (after retries)" : "");
	else if (due && try < DDNS_TRIES)
		logf_(cli, "DDNS for prefix %s ([ddns %s]) failed: %s; trying again in %lld s (%d of %d)", prefix,
		      names, err.msg, (long long)(due - time(NULL) > 0 ? due - time(NULL) : 0), try + 1, DDNS_TRIES);
	else
		logf_(cli, "DDNS for prefix %s ([ddns %s]) failed: %s; %s", prefix, names, err.msg,
		      due ? "tried enough for this prefix; the ddns daemon retries at its interval"
		          : "a retry cannot help (see the messages above); the ddns daemon retries at its interval");
	return due && try < DDNS_TRIES ? due : 0;
}

/* Any IPv6 address event of ifindex in the buffer (or a lost one: overflow counts as an event). */
static bool
read_events(int fd, unsigned idx)
{
	char buf[16384] __attribute__((aligned(4)));
	bool hit = false;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0)
			return hit || errno == ENOBUFS;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != RTM_NEWADDR && h->nlmsg_type != RTM_DELADDR)
				continue;
			struct ifaddrmsg *ifa = NLMSG_DATA(h);
			hit |= ifa->ifa_family == AF_INET6 && ifa->ifa_index == idx;
		}
	}
}

static const struct pp_opt watch6_opts[] = {
	{ "once", 0, NULL, "exit after the first prefix change is followed" },
	{ "settle", 0, "MS", "wait for MS quiet milliseconds after an event (a renumbering is a\n"
	                     "burst of events), default 100" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_watch6 = {
	.globals = "[-f TABLE] [-c CONF] [--state-dir DIR]", .opts = watch6_opts,
	.doc = "Follows the LAN's delegated IPv6 prefix: on every change of lan_interface's global\n"
	       "prefix (rtnetlink address events) the table is applied again, so the pinholes of\n"
	       "mappings with a host id (internal_ip6 = ::1:101) move to the new addresses. Applies\n"
	       "without --confirm; the table as saved goes live. Then the DNS records of LAN servers\n"
	       "([ddns NAME] sections of -c CONF with hostid6 = or mapping =) are updated to the new\n"
	       "prefix, once the pinholes are in place. A temporary DNS failure is tried again\n"
	       "(at most 8 times, by the section's backoff, as ddns run keeps it) until it succeeds\n"
	       "or the prefix changes again. Runs until stopped.\n",
};

int
pp_cmd_watch6(struct pp_cli *cli, int argc, char **argv)
{
	int settle = 100;
	bool once = pp_opt(cli, "once") != NULL;
	const char *ms = pp_opt(cli, "settle");
	(void)argc, (void)argv;
	if (ms) {
		char *end;
		long v = strtol(ms, &end, 10);
		if (*end || v < 0 || v > 10000)
			return pp_cli_usage(cli, "watch6", "--settle takes milliseconds (0..10000), not '%s'", ms);
		settle = (int)v;
	}
	struct pp_table *t;
	struct pp_error err;
	if (pp_table_load(cli->table_path, false, &t, &err) < 0) {
		fprintf(cli->err, "portpilot watch6: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	const char *v = t->site.val[PP_S_LAN_INTERFACE];
	char lan[IF_NAMESIZE + 1];
	snprintf(lan, sizeof lan, "%s", v ? v : "");
	int line = t->site.key_line[PP_S_LAN_INTERFACE] ? t->site.key_line[PP_S_LAN_INTERFACE] : t->site.line;
	pp_table_free(t);
	unsigned idx = *lan ? if_nametoindex(lan) : 0;
	if (!idx) {
		fprintf(cli->err, "portpilot watch6: %s:%d: [site] lan_interface %s: %s; set lan_interface = the "
		        "interface that carries the delegated prefix, e.g. eth1\n", cli->table_path, line,
		        *lan ? lan : "(not set)", *lan ? "no such interface here" : "no LAN interface to watch");
		return PP_EXIT_FAIL;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV6_IFADDR };
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(cli->err, "portpilot watch6: cannot listen to rtnetlink address events: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return PP_EXIT_FAIL;
	}
	/* Subscribed before the first read: a change in between is an event, not lost. */
	struct pp_cidr6 cur, now;
	bool have = pp_prefix6_of(lan, &cur) == 0, dirty = false, retry = false;
	char a[80], b[80];
	prefix_str(&cur, have, a, sizeof a);
	logf_(cli, "watching %s: prefix %s", lan, a);
	service6_names(cli, b, sizeof b);
	if (*b)
		logf_(cli, "DNS records of LAN servers follow the prefix: [ddns %s] in %s", b, cli->conf_path);
	double first = 0, last = 0;
	time_t ddns_due = 0; /* the records of prefix cur are to be tried again then (try ddns_try) */
	int ddns_try = 0;
	for (;;) {
		int wait = -1;
		if (dirty)
			wait = (int)(last + settle - pp_now_ms()) > 0 ? (int)(last + settle - pp_now_ms()) : 0;
		if (retry)
			wait = 1000;
		if (ddns_due && !dirty && !retry) {
			time_t left = ddns_due - time(NULL);
			wait = left > 0 ? (int)(left > 3600 ? 3600 : left) * 1000 : 0;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, wait);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && read_events(fd, idx)) {
			if (!dirty)
				first = pp_now_ms();
			dirty = true;
			last = pp_now_ms();
			continue;
		}
		if (ddns_due && !dirty && !retry && time(NULL) >= ddns_due) {
			/* The prefix is as it was: only its records failed (a server down, say). */
			prefix_str(&cur, have, b, sizeof b);
			ddns_due = follow_ddns(cli, b, first, ++ddns_try);
			if (once && !ddns_due)
				break;
			continue;
		}
		if (!dirty && !retry)
			continue;
		dirty = false;
		bool have_now = pp_prefix6_of(lan, &now) == 0;
		bool changed = have_now != have || (have && (now.len != cur.len || memcmp(now.addr, cur.addr, 16)));
		if (!changed && !retry)
			continue;
		prefix_str(&cur, have, a, sizeof a);
		prefix_str(&now, have_now, b, sizeof b);
		if (!have_now) {
			/* check refuses a host id with no prefix: the old pinholes stay until a new one comes. */
			logf_(cli, "%s: prefix %s gone, none now: waiting for a new one (pinholes unchanged)", lan, a);
			have = false;
			retry = false;
			continue;
		}
		if (changed)
			logf_(cli, "%s: prefix %s -> %s: applying the table", lan, a, b);
		struct pp_apply_opts o = { 0 };
		int rc = pp_apply(cli, &o);
		double ms = pp_now_ms() - first;
		cur = now;
		have = true;
		if (rc != PP_EXIT_OK) {
			/* E.g. an apply --confirm awaiting its confirm: try again each second. */
			if (!retry)
				logf_(cli, "apply for prefix %s failed (see above): trying again every second", b);
			retry = true;
			continue;
		}
		retry = false;
		logf_(cli, "prefix %s followed: rules in place %.0f ms after the first address event", b, ms);
		/* A new prefix starts its records' tries afresh: the last one's are moot. */
		ddns_try = 1;
		ddns_due = follow_ddns(cli, b, first, ddns_try);
		if (once && !ddns_due)
			break;
	}
	close(fd);
	return PP_EXIT_OK;
}
