/* The relay's tunnel (issue 17 item 2): for a site with [site] relay, the monitor watches the
 * WireGuard tunnel to the edge as a state of its own, "relay:IFNAME". Every relayed mapping
 * depends on it, and none of the LAN checks can see it fail (they run from the router to the
 * server, never through the edge). Down when the interface is missing or down, or when the
 * edge has not answered a handshake for relay_handshake_max seconds: a live tunnel rekeys
 * every 120 s (the site's keepalive keeps it busy enough), so an older handshake means the
 * edge stopped answering. The reading runs in a child, since `wg show` asks wireguard-go
 * over its socket and a hung daemon must not hold the checks up. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/relay.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

#define RELAY_TIMEOUT_MS 10000

static void
stop_child(struct mon_relay *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	if (r->fd >= 0)
		close(r->fd);
	r->pid = 0;
	r->fd = -1;
	pp_buf_free(&r->out);
}

static void
set_str(char **p, const char *v)
{
	free(*p);
	*p = v ? pp_xstrdup(v) : NULL;
}

static void
relay_clear(struct mon_relay *r)
{
	stop_child(r);
	free(r->label);
	free(r->summary);
	free(r->fix);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

void
mon_relay_init(struct mon *M)
{
	struct mon_relay *r = &M->relay, old;
	struct pp_relay_site rs;

	/* Zeroed before the first call: only a relay that was set up has a child and strings. */
	if (r->label)
		stop_child(r);
	old = *r;
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->link = -1;
	r->age = -1;
	/* A table whose relay keys do not parse has been refused by load_all's check already;
	 * here it only means: nothing to watch. */
	memset(&rs, 0, sizeof rs);
	bool parsed = M->table && pp_relay_site_parse(M->table, &rs, NULL) == 0;
	if (parsed && rs.on) {
		r->on = true;
		snprintf(r->ifname, sizeof r->ifname, "%s", rs.ifname);
		snprintf(r->edge, sizeof r->edge, "%s:%u", rs.host, rs.port);
		snprintf(r->key, sizeof r->key, "%s", rs.edge_key);
		r->label = pp_xasprintf("relay:%s", rs.ifname);
		r->next_due = pp_now_ms();
		/* A reload keeps what it knew of the same tunnel (no second "first up"). */
		if (old.label && strcmp(old.label, r->label) == 0) {
			r->sm = old.sm;
			r->link = old.link;
			r->age = old.age;
			r->rx = old.rx;
			r->tx = old.tx;
			memcpy(r->detail, old.detail, sizeof r->detail);
			r->summary = old.summary ? pp_xstrdup(old.summary) : NULL;
			r->fix = old.fix ? pp_xstrdup(old.fix) : NULL;
			r->checks = old.checks;
			r->failures = old.failures;
		}
	}
	if (parsed)
		pp_relay_site_free(&rs);
	if (old.label)
		relay_clear(&old);
}

/* In the child: one line, "LINK AGE RX TX" (LINK 1 there and up, AGE -1 never shook hands). */
static void
read_child(const struct mon_relay *r, int fd)
{
	FILE *f = fdopen(fd, "w");
	char path[64], *flags;
	long age = -1;
	unsigned long long rx = 0, tx = 0;

	if (f == NULL)
		_exit(1);
	snprintf(path, sizeof path, "/sys/class/net/%s/flags", r->ifname);
	int link = (flags = pp_read_file(path, NULL)) != NULL && (strtoul(flags, NULL, 16) & 1);
	free(flags);
	struct pp_wg_peer *v = NULL;
	size_t n = 0;
	struct pp_error e;
	if (link && pp_wg_peers(r->ifname, &v, &n, &e) == 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].key, r->key) == 0) {
				if (v[i].handshake)
					age = (long)(time(NULL) - v[i].handshake);
				rx = v[i].rx;
				tx = v[i].tx;
			}
	free(v);
	fprintf(f, "%d %ld %llu %llu\n", link, age, rx, tx);
	fclose(f);
	_exit(0);
}

double
mon_relay_step(struct mon *M, double now)
{
	struct mon_relay *r = &M->relay;

	if (!r->on)
		return 1e300;
	if (r->pid > 0) {
		if (now - r->started > RELAY_TIMEOUT_MS) {
			stop_child(r);
			/* No answer from wg says nothing sure of the tunnel: the state stays. */
			snprintf(r->detail, sizeof r->detail, "wg show %s gave no answer within %d s (wireguard-go "
			         "hung?); the tunnel's state is left as it was", r->ifname, RELAY_TIMEOUT_MS / 1000);
			M->dirty = true;
			return now;
		}
		return r->started + RELAY_TIMEOUT_MS;
	}
	if (r->next_due > now)
		return r->next_due;
	r->next_due = now + 1000.0 * (M->interval_s < 1 ? 1 : M->interval_s);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return r->next_due;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		/* Nothing of the parent's stays open here (as for the DNS lookups). */
		mon_close_inherited(M, fds[1]);
		read_child(r, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return r->next_due;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	r->pid = pid;
	r->fd = fds[0];
	r->started = now;
	return now + RELAY_TIMEOUT_MS;
}

int
mon_relay_pollfd(struct mon *M, struct pollfd *pfd)
{
	if (M->relay.pid <= 0)
		return 0;
	*pfd = (struct pollfd){ .fd = M->relay.fd, .events = POLLIN };
	return 1;
}

/* A change goes out as an event: the reading is its own diagnosis, worded as the probe's. */
static void
relay_event(struct mon *M, enum pp_health prev)
{
	struct mon_relay *r = &M->relay;

	M->pend = pp_xrealloc(M->pend, (M->npend + 1) * sizeof *M->pend);
	struct pending *p = &M->pend[M->npend++];
	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->ready = true;
	p->ev.mapping = pp_xstrdup(r->label);
	p->ev.state = r->sm.state;
	p->ev.previous = prev;
	p->ev.since = r->sm.since;
	p->ev.detail = pp_xstrdup(r->detail);
	if (r->sm.state == PP_HEALTH_DOWN) {
		p->ev.cause = pp_xstrdup("relay_down");
		p->ev.summary = pp_xstrdup(r->summary);
		p->ev.fix = pp_xstrdup(r->fix);
	}
	M->dirty = true;
}

void
mon_relay_read(struct mon *M, double now)
{
	struct mon_relay *r = &M->relay;
	char buf[256];
	ssize_t n;
	int link = -1;
	long age = -1;
	unsigned long long rx = 0, tx = 0;

	(void)now;
	while ((n = read(r->fd, buf, sizeof buf)) > 0)
		pp_buf_add(&r->out, buf, (size_t)n);
	if (n < 0 && errno == EAGAIN)
		return;                        /* more to come */
	bool got = r->out.data && sscanf(r->out.data, "%d %ld %llu %llu", &link, &age, &rx, &tx) == 4;
	stop_child(r);
	if (!got) {
		snprintf(r->detail, sizeof r->detail, "reading the tunnel %s failed; its state is left as "
		         "it was", r->ifname);
		M->dirty = true;
		return;
	}
	int max = M->mc.relay_handshake_max_s;
	bool ok = link == 1 && age >= 0 && age <= max;
	r->link = link;
	r->age = age;
	r->rx = rx;
	r->tx = tx;
	r->checks++;
	if (!ok)
		r->failures++;
	if (ok)
		snprintf(r->detail, sizeof r->detail, "tunnel %s to %s: last handshake %ld s ago (limit %d s), "
		         "rx %llu tx %llu bytes", r->ifname, r->edge, age, max, rx, tx);
	else if (link != 1)
		snprintf(r->detail, sizeof r->detail, "tunnel %s to %s: not there or down", r->ifname, r->edge);
	else if (age < 0)
		snprintf(r->detail, sizeof r->detail, "tunnel %s to %s: up, no handshake with the edge",
		         r->ifname, r->edge);
	else
		snprintf(r->detail, sizeof r->detail, "tunnel %s to %s: last handshake %ld s ago, more than "
		         "%d s", r->ifname, r->edge, age, max);
	enum pp_health prev = r->sm.state;
	enum pp_mon_change c = pp_mon_sm_feed(&r->sm, ok, M->mc.fail_after, M->mc.recover_after, time(NULL));
	if (c == PP_MON_WENT_DOWN) {
		char *s, *f;
		pp_relay_down_text(r->ifname, r->edge, link == 1 ? PP_YES : PP_NO, age, max, &s, &f);
		free(r->summary);
		free(r->fix);
		r->summary = s;
		r->fix = f;
	} else if (c == PP_MON_CAME_UP) {
		set_str(&r->summary, NULL);
		set_str(&r->fix, NULL);
	}
	if (c == PP_MON_WENT_DOWN || c == PP_MON_CAME_UP)
		relay_event(M, prev);
	M->dirty = true;
}

void
mon_relay_close_fds(struct mon *M)
{
	if (M->relay.pid > 0 && M->relay.fd >= 0)
		close(M->relay.fd);
}

void
mon_relay_free(struct mon *M)
{
	if (M->relay.label)
		relay_clear(&M->relay);
}
