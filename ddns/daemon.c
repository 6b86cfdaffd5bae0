/* `ddns --once` and `ddns run`: checks driven by rtnetlink address events, signals and a slow poll. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ddns-internal.h"
#include "ddns-updater.h"

#define EVENT_DELAY 1          /* seconds to let an address change settle (DAD, routes) */

/* One pass over the sections; counts into total. Returns 0 when every check could run. */
static int
pass(const struct pp_ddns_opts *o, const struct pp_conf *conf, bool force, struct ddns_check *total,
     time_t *next_due)
{
	int rc = 0;
	struct pp_error err;

	*next_due = 0;
	for (size_t i = 0; i < conf->nddns; i++) {
		const struct pp_ddns_conf *dc = &conf->ddns[i];
		if ((o->only && strcasecmp(o->only, dc->name) != 0) || (o->service6_only && !pp_ddns_is_service6(dc)))
			continue;
		struct ddns_check ck = {
			.conf = conf, .dc = dc, .state_dir = o->state_dir, .now = time(NULL), .force = force,
			.table_path = o->table_path,
		};
		if (ddns_check(&ck, &err) < 0) {
			ddns_log(DDNS_ERR, "ddns[%s]: %s", dc->name, err.msg);
			rc = -1;
		}
		total->provider_requests += ck.provider_requests;
		total->echo_requests += ck.echo_requests;
		total->updated += ck.updated;
		total->failed += ck.failed;
		total->stopped += ck.stopped;
		total->unpublishable += ck.unpublishable;
		if (ck.next_due && (*next_due == 0 || ck.next_due < *next_due))
			*next_due = ck.next_due;
	}
	return rc;
}

void
ddns_warn_cleartext(const struct pp_conf *conf, const char *only)
{
	char why[512];

	for (size_t i = 0; i < conf->nddns; i++)
		if ((!only || strcasecmp(only, conf->ddns[i].name) == 0) &&
		    ddns_cleartext_secret(&conf->ddns[i], conf, why, sizeof why))
			ddns_log(DDNS_WARN, "ddns[%s]: warning: %s", conf->ddns[i].name, why);
}

int
pp_ddns_once(const struct pp_ddns_opts *o, struct pp_error *err)
{
	struct pp_conf *conf;
	struct ddns_check total = { 0 };
	time_t due;

	if (pp_conf_load(o->conf_path, false, &conf, err) < 0)
		return -1;
	if (o->only && pp_conf_ddns_find(conf, o->only) == NULL) {
		pp_error_set(err, "%s: no section [ddns %s]", o->conf_path, o->only);
		pp_conf_free(conf);
		return -1;
	}
	ddns_warn_cleartext(conf, o->only);
	int rc = pass(o, conf, o->force, &total, &due);
	pp_conf_free(conf);
	if (rc < 0)
		return pp_error_set(err, "some sections could not be checked (see the messages above)");
	if (total.failed || total.stopped || total.unpublishable)
		return pp_error_set(err, "%d failed, %d stopped, %d without a publishable address",
		                    total.failed, total.stopped, total.unpublishable);
	return 0;
}

static int
netlink_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
	                          .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* True when the messages waiting on fd concern the WAN interface of a section. */
static bool
netlink_relevant(int fd, const struct pp_conf *conf)
{
	char buf[16384] __attribute__((aligned(4)));
	bool hit = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) {
			unsigned idx;
			if (m->nlmsg_type == RTM_NEWADDR || m->nlmsg_type == RTM_DELADDR)
				idx = ((struct ifaddrmsg *)NLMSG_DATA(m))->ifa_index;
			else if (m->nlmsg_type == RTM_NEWLINK || m->nlmsg_type == RTM_DELLINK)
				idx = (unsigned)((struct ifinfomsg *)NLMSG_DATA(m))->ifi_index;
			else
				continue;
			for (size_t i = 0; i < conf->nddns; i++)
				if (conf->ddns[i].interface && if_nametoindex(conf->ddns[i].interface) == idx)
					hit = true;
		}
	}
	/* ENOBUFS: events were lost; a check is the safe answer. */
	if (n < 0 && errno == ENOBUFS)
		hit = true;
	return hit;
}

static int
min_interval(const struct pp_conf *conf)
{
	int m = 3600;

	for (size_t i = 0; i < conf->nddns; i++)
		if (conf->ddns[i].interval < m)
			m = conf->ddns[i].interval;
	return m;
}

static int
signals_open(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct loop {
	const struct pp_ddns_opts *o;
	struct pp_conf *conf;
	time_t next_check;
	bool force, stop;
};

static void
on_signal(struct loop *l, int sfd)
{
	struct signalfd_siginfo si;
	struct pp_error err;

	while (read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			struct pp_conf *c;
			if (pp_conf_load(l->o->conf_path, false, &c, &err) < 0) {
				ddns_log(DDNS_ERR, "reload refused, keeping the running configuration: %s", err.msg);
				continue;
			}
			pp_conf_free(l->conf);
			l->conf = c;
			ddns_log(DDNS_NOTICE, "configuration reloaded from %s", l->o->conf_path);
			ddns_warn_cleartext(c, l->o->only);
		} else if (si.ssi_signo == SIGUSR1) {
			ddns_log(DDNS_NOTICE, "SIGUSR1: forcing an update");
			l->force = true;
		} else {
			l->stop = true;
		}
		l->next_check = time(NULL);
	}
}

static void
loop_once(struct loop *l, int nl, int sfd)
{
	time_t now = time(NULL), due;
	struct ddns_check total = { 0 };

	if (now >= l->next_check) {
		pass(l->o, l->conf, l->force, &total, &due);
		l->force = false;
		now = time(NULL);
		l->next_check = now + min_interval(l->conf);
		if (due > now && due < l->next_check)
			l->next_check = due;
		else if (due && due <= now)
			l->next_check = now + 1;
	}
	struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { nl, POLLIN, 0 } };
	long wait = (long)(l->next_check - now) * 1000;
	if (poll(pfd, nl >= 0 ? 2 : 1, wait < 0 ? 0 : (int)wait) <= 0)
		return;
	if (pfd[0].revents & POLLIN)
		on_signal(l, sfd);
	if (nl >= 0 && (pfd[1].revents & POLLIN) && netlink_relevant(nl, l->conf)) {
		ddns_log(DDNS_INFO, "WAN address event: checking in %d s", EVENT_DELAY);
		if (l->next_check > time(NULL) + EVENT_DELAY)
			l->next_check = time(NULL) + EVENT_DELAY;
	}
}

int
pp_ddns_run(const struct pp_ddns_opts *o, struct pp_error *err)
{
	struct loop l = { .o = o, .force = o->force };
	sigset_t old;
	int sfd, nl;

	if (pp_conf_load(o->conf_path, false, &l.conf, err) < 0)
		return -1;
	if (l.conf->nddns == 0) {
		pp_conf_free(l.conf);
		return pp_error_set(err, "%s: no [ddns NAME] section; nothing to do", o->conf_path);
	}
	if ((sfd = signals_open(&old)) < 0) {
		pp_conf_free(l.conf);
		return pp_error_set(err, "cannot watch signals: %s", strerror(errno));
	}
	if ((nl = netlink_open()) < 0)
		ddns_log(DDNS_WARN, "no rtnetlink events (%s): polling only", strerror(errno));
	ddns_log(DDNS_NOTICE, "portpilot %s ddns: running, %zu section(s)", PP_VERSION, l.conf->nddns);
	ddns_warn_cleartext(l.conf, o->only);
	l.next_check = time(NULL);
	while (!l.stop)
		loop_once(&l, nl, sfd);
	ddns_log(DDNS_NOTICE, "stopping");
	if (nl >= 0)
		close(nl);
	close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	pp_conf_free(l.conf);
	return 0;
}
