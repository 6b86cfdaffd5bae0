/* portpilot monitor: the check loop, diagnosis of every change, the state file that
 * portpilot health (probe/cli-health.c) reads. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/ipv6.h"
#include "portpilot/probe.h"
#include "portpilot/relay.h"
#include "portpilot/cli-opts.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

#define MAX_INFLIGHT 256       /* checks at once: a bound on descriptors, not on mappings */
#define MAX_PROBES 2           /* diagnoses at once: each captures on two interfaces */
#define MAX_PENDING 16         /* changes waiting for a diagnosis; beyond, sent without one */
#define PROBE_TIMEOUT_MS 30000

static const struct pp_opt monitor_opts[] = {
	{ "interval", 0, "SECONDS", "check every SECONDS (1..86400)" },
	{ "timeout", 0, "SECONDS", "a check's time limit (1..60)" },
	{ "fail-after", 0, "N", "down after N failures in a row (1..100)" },
	{ "recover-after", 0, "N", "up after N successes in a row (1..100)" },
	{ "once", 0, NULL, "check once, print the states, exit 1 if any is down" },
	{ "no-diagnose", 0, NULL, "do not run the probe on a change" },
	{ "metrics-file", 0, "F", "write Prometheus text to F" },
	{ "metrics", 0, "ADDR:PORT", "serve it on http://ADDR:PORT/metrics" },
	{ "metrics-remote", 0, NULL, "allow a --metrics address that is not loopback" },
	PP_OPT_JSON,
	{ 0 },
};
const struct pp_cmd_spec pp_spec_monitor = {
	.opts = monitor_opts,
	.doc =
	"Checks every enabled mapping's service from the router (check = tcp | udp | http | https |\n"
	"rtsp | sip | tls | none, default from the internal port) and keeps each one's state: down\n"
	"after fail_after failures in a row, up again after recover_after successes. Every change is\n"
	"diagnosed with the probe and goes to journald, the history file, the hook and the webhook\n"
	"of [monitor] in portpilot.conf. Runs until SIGINT/SIGTERM. ipv6 = only mappings are checked\n"
	"at the server's IPv6 address (a host id on lan_interface's prefix now), ipv6 = yes ones on\n"
	"both families, up only when both pass.\n"
	"--once checks every mapping once, prints its state (--json: an object) and exits 1 if any is\n"
	"down. --metrics-file F (or [monitor] metrics_file) writes Prometheus text for node_exporter's\n"
	"textfile collector, replaced whole every few seconds; --metrics ADDR:PORT (or [monitor]\n"
	"metrics_listen) serves the same text on http://ADDR:PORT/metrics, a loopback address unless\n"
	"--metrics-remote (metrics_remote = yes). The hosts of the [ddns NAME] sections are looked up\n"
	"every dns_interval (60 s) and must resolve to the site's address.\n",
};

static volatile sig_atomic_t stop_flag, reload_flag;
static void on_stop(int s) { (void)s; stop_flag = 1; }
static void on_hup(int s) { (void)s; reload_flag = 1; }

static void
json_str(FILE *f, const char *k, const char *v)
{
	fprintf(f, ",\"%s\":", k);
	pp_json_str(f, v);
}

/* ---- diagnosis: the probe in a child, so the checks never wait for it ---- */

static struct mon_target *
target_find(struct mon *M, const char *name)
{
	for (size_t i = 0; i < M->n; i++)
		if (strcmp(M->t[i].name, name) == 0)
			return &M->t[i];
	return NULL;
}

/* The parent's checks, pipes and metrics clients are not a child's: holding them would keep a
 * closed check connection open on the server, or a scraper waiting, until the child ends. */
void
mon_close_inherited(struct mon *M, int keep)
{
	for (size_t i = 0; i < M->n; i++)
		if (M->t[i].fd >= 0)
			close(M->t[i].fd);
	for (size_t i = 0; i < M->npend; i++)
		if (M->pend[i].fd >= 0 && M->pend[i].fd != keep)
			close(M->pend[i].fd);
	for (size_t i = 0; i < M->ndns; i++)
		if (M->dns[i].fd >= 0 && M->dns[i].fd != keep)
			close(M->dns[i].fd);
	if (M->hits_pid > 0 && M->hits_fd >= 0 && M->hits_fd != keep)
		close(M->hits_fd);
	mon_http_close_fds(M->http);
	mon_relay_close_fds(M);
}

/* ipv6 = yes and only IPv6 fails: the probe's IPv6 verdict is the diagnosis, not its IPv4 one. */
static bool
v6_alone_failed(const struct mon_target *t)
{
	bool v6_bad = false;

	if (t == NULL || t->npub == 0 || t->npub == t->nports)
		return false;                 /* one family: the probe's verdict is about it */
	for (size_t i = 0; i < t->nports; i++) {
		if (!t->ports[i].v6 && !t->ports[i].ok)
			return false;
		v6_bad |= t->ports[i].v6 && !t->ports[i].ok;
	}
	return v6_bad;
}

static void
probe_child(struct mon *M, const char *name, bool outside, int fd)
{
	bool v6 = v6_alone_failed(target_find(M, name));
	struct pp_probe_result *r = NULL;
	struct pp_error e;
	struct pp_probe_opts o = { .table = M->table, .name = name, .drop_privs = true,
	                           .reflector_url = outside ? M->mc.reflector : NULL, .token = M->token };
	FILE *f = fdopen(fd, "w");

	if (f == NULL)
		_exit(1);
	mon_close_inherited(M, fd);
	if (pp_probe_run(&o, &r, &e) < 0) {
		fprintf(f, "{\"summary\":");
		pp_json_str(f, e.msg);
		fprintf(f, "}\n");
	} else {
		bool six = v6 && r->v6_tested;
		fprintf(f, "{\"cause\":");
		pp_json_str(f, pp_cause_name(six ? r->cause6 : r->cause));
		json_str(f, "summary", six ? r->summary6 : r->summary);
		json_str(f, "fix", six ? r->fix6 : r->fix);
		fprintf(f, "}\n");
	}
	fclose(f);
	_exit(0);
}

static void
probe_start(struct mon *M, struct pending *p)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0) {
		p->pid = -1;
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		probe_child(M, p->ev.mapping, p->outside, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		p->pid = -1;
		return;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	p->pid = pid;
	p->fd = fds[0];
	p->started = pp_now_ms();
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v && *v ? pp_xstrdup(v) : NULL;
}

/* The probe's answer is in: attach it to the event and to the mapping's state. */
static void
probe_done(struct mon *M, struct pending *p, bool timed_out)
{
	char cause[32], *summary = pp_xmalloc(p->out.len + 1), *fix = pp_xmalloc(p->out.len + 1);
	const char *o = p->out.data ? p->out.data : "";

	close(p->fd);
	p->fd = -1;
	if (timed_out) {
		kill(p->pid, SIGKILL);
		set_str(&p->ev.summary, "the probe did not finish within 30 s; run portpilot probe NAME");
	}
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
	if (!timed_out) {
		pp_json_field(o, "cause", cause, sizeof cause);
		pp_json_field(o, "summary", summary, p->out.len + 1);
		pp_json_field(o, "fix", fix, p->out.len + 1);
		set_str(&p->ev.cause, cause);
		set_str(&p->ev.summary, summary);
		set_str(&p->ev.fix, fix);
	}
	/* The mapping shows the diagnosis of its latest change (an older one may finish later). */
	struct mon_target *t = target_find(M, p->ev.mapping);
	if (t && p->ev.public_path) {
		if (p->ev.state == t->psm.state) {
			snprintf(t->pub_cause, sizeof t->pub_cause, "%s", p->ev.cause ? p->ev.cause : "");
			M->dirty = true;
		}
	} else if (t && p->ev.state == t->sm.state) {
		snprintf(t->cause, sizeof t->cause, "%s", p->ev.cause ? p->ev.cause : "");
		set_str(&t->summary, p->ev.summary);
		set_str(&t->fix, p->ev.fix);
		M->dirty = true;
	}
	free(summary);
	free(fix);
	p->ready = true;
}

/* The reflector's requests are spaced by 60 s / reflector_rate, the probe's outside test
 * (whoami and one check) included: the reflector's per-address limit is never reached. */
static double
spacing_ms(const struct mon *M)
{
	return 60000.0 / (M->mc.reflector_rate > 0 ? M->mc.reflector_rate : 1);
}

static void
change(struct mon *M, struct mon_target *t, enum pp_health prev, bool public_path)
{
	if (M->npend == MAX_PENDING * 4) {
		fprintf(M->cli->err, "monitor: too many changes at once; %s %s is not sent\n", t->name,
		        pp_health_name(t->sm.state));
		return;
	}
	M->pend = pp_xrealloc(M->pend, (M->npend + 1) * sizeof *M->pend);
	struct pending *p = &M->pend[M->npend++];
	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->ev.mapping = pp_xstrdup(t->name);
	p->ev.public_path = public_path;
	p->ev.detail = pp_xstrdup(public_path ? t->pub_detail : t->detail);
	p->ev.state = public_path ? t->psm.state : t->sm.state;
	p->ev.previous = prev;
	p->ev.since = public_path ? t->psm.since : t->sm.since;
	/* The new state holds no old diagnosis. */
	if (public_path) {
		t->pub_cause[0] = '\0';
		/* The probe's outside test costs two reflector requests (whoami and one check): the
		 * monitor's own next request waits two more slots for them. */
		double now = pp_now_ms();
		if (M->mc.reflector) {
			p->outside = true;
			M->last_request = (M->last_request > now ? M->last_request : now) + 2 * spacing_ms(M);
		}
	} else {
		t->cause[0] = '\0';
		set_str(&t->summary, NULL);
		set_str(&t->fix, NULL);
	}
	if (!M->mc.diagnose) {
		p->ready = true;
	} else if (M->npend > MAX_PENDING) {
		p->ev.summary = pp_xasprintf("not diagnosed: %zu changes at once; run portpilot probe %s",
		                             M->npend, t->name);
		p->ready = true;
	}
	M->dirty = true;
}

void
mon_dns_event(struct mon *M, struct mon_dns *d, enum pp_health prev)
{
	M->pend = pp_xrealloc(M->pend, (M->npend + 1) * sizeof *M->pend);
	struct pending *p = &M->pend[M->npend++];
	bool down = d->sm.state == PP_HEALTH_DOWN;

	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->ready = true;           /* the lookup is its own diagnosis: no probe to run */
	p->ev.mapping = pp_xstrdup(d->label);
	p->ev.state = d->sm.state;
	p->ev.previous = prev;
	p->ev.since = d->sm.since;
	p->ev.detail = pp_xstrdup(d->detail);
	if (down) {
		p->ev.cause = pp_xstrdup(d->cause);
		p->ev.summary = pp_xstrdup(d->detail);
		/* The authoritative answer says where the old address lives: the provider's record,
		 * or only the resolvers' caches. */
		p->ev.fix = d->auth == 1 ?
			pp_xasprintf("the zone's servers already serve %s: the resolvers still have the old "
			             "answer cached and drop it within the record's TTL (keep the TTL short, "
			             "e.g. 60-300 s, for a dynamic address)", d->want) :
			pp_xasprintf("the record must say %s: portpilot ddns status shows whether the "
			             "updater of [ddns %s] runs and what the provider answered", d->want,
			             d->section);
	}
	M->dirty = true;
}

/* Send every event that is ready and has no older event of the same mapping before it. */
static void
flush_events(struct mon *M)
{
	int running = 0;

	for (size_t i = 0; i < M->npend; i++)
		if (M->pend[i].pid > 0)
			running++;
	for (size_t i = 0; i < M->npend;) {
		struct pending *p = &M->pend[i];
		bool older = false;
		for (size_t k = 0; k < i; k++)
			if (strcmp(M->pend[k].ev.mapping, p->ev.mapping) == 0)
				older = true;
		if (!p->ready && p->pid == 0 && running < MAX_PROBES) {
			probe_start(M, p);
			if (p->pid > 0)
				running++;
			else
				p->ready = true;
		}
		if (p->ready && !older) {
			mon_notify_send(M->notify, &p->ev);
			mon_event_free(&p->ev);
			pp_buf_free(&p->out);
			memmove(p, p + 1, (M->npend - i - 1) * sizeof *p);
			M->npend--;
			continue;
		}
		i++;
	}
}

/* [monitor], the table and the targets, all or nothing: on failure err says the first problem
 * (FILE:LINE) and nothing is returned. */
static int
load_all(struct mon *M, struct pp_mon_conf *mc, struct pp_table **tp, struct mon_target **tv,
         size_t *tn, struct pp_check_timing *dp, struct pp_error *err)
{
	const struct mon_opts *o = &M->opts;
	struct pp_table *t = NULL;
	struct mon_target *v = NULL;
	size_t n = 0;

	if (pp_mon_conf_load(M->cli->conf_path, mc, err) < 0)
		return -1;
	if (pp_table_load(M->cli->table_path, false, &t, err) < 0) {
		pp_mon_conf_free(mc);
		return -1;
	}
	/* The public checks' reflector: its CA (for this process) and its token, read now so a
	 * broken one refuses the whole (re)load. */
	char *token = NULL;
	if (mc->reflector && mc->public_interval_s > 0 &&
	    ((mc->reflector_token_file && !(token = pp_token_read(mc->reflector_token_file, err))) ||
	     pp_reflector_set_ca(mc->reflector_ca, err) < 0)) {
		if (token)
			memset(token, 0, strlen(token)), free(token);
		pp_table_free(t);
		pp_mon_conf_free(mc);
		return -1;
	}
	/* The command line over [monitor]; a mapping's check_timing over both. */
	struct pp_check_timing d = { o->interval ? o->interval : mc->interval_s,
	                             o->timeout ? o->timeout * 1000 : mc->timeout_ms,
	                             o->fail_after ? o->fail_after : mc->fail_after,
	                             o->recover_after ? o->recover_after : mc->recover_after };
	mc->fail_after = d.fail_after;         /* the published names use the same thresholds */
	mc->recover_after = d.recover_after;
	if (o->no_diag)
		mc->diagnose = false;
	if (o->metrics)
		set_str(&mc->metrics_file, o->metrics);
	v = pp_xcalloc(t->n ? t->n : 1, sizeof *v);
	time_t now = time(NULL);
	for (size_t i = 0; i < t->n; i++) {
		if (!mon_watched(&t->maps[i], now))
			continue;
		int r = mon_target_init(&v[n], &t->maps[i], t->path, &d, err);
		/* From outside: TCP (both: its TCP side), and UDP-only mappings by a UDP connect-back,
		 * whose silence is no result (public_step). */
		v[n].pub = mc->reflector && mc->public_interval_s > 0 && v[n].npub > 0;   /* IPv4 */
		v[n].lan_if = t->site.val[PP_S_LAN_INTERFACE];
		if (r < 0) {
			for (size_t k = 0; k <= n; k++)
				mon_target_free(&v[k]);
			free(v);
			pp_table_free(t);
			pp_mon_conf_free(mc);
			if (token)
				memset(token, 0, strlen(token)), free(token);
			return -1;
		}
		n++;
	}
	*tp = t;
	*tv = v;
	*tn = n;
	*dp = d;
	if (M->token)
		memset(M->token, 0, strlen(M->token)), free(M->token);
	M->token = token;
	return 0;
}

/* SIGHUP: the new table and [monitor], or, when either is broken, the old ones kept. A mapping
 * whose target and check stay the same keeps its state; a changed one starts unknown. */
/* The same elements checked the same way: a reloaded list keeps its states. */
static bool
same_ports(const struct mon_target *a, const struct mon_target *b)
{
	if (a->nports != b->nports)
		return false;
	for (size_t k = 0; k < a->nports; k++)
		if (a->ports[k].in != b->ports[k].in || a->ports[k].pub != b->ports[k].pub ||
		    a->ports[k].kind != b->ports[k].kind || a->ports[k].v6 != b->ports[k].v6)
			return false;
	return true;
}

static void
reload(struct mon *M)
{
	struct pp_mon_conf mc;
	struct pp_table *t;
	struct mon_target *v;
	struct pp_check_timing d;
	struct pp_error e;
	size_t n;

	if (load_all(M, &mc, &t, &v, &n, &d, &e) < 0) {
		fprintf(M->cli->err, "monitor: reload refused, the running configuration is kept: %s\n", e.msg);
		return;
	}
	if (mon_notify_reload(M->notify, &mc, M->cli->state_dir, &e) < 0) {
		fprintf(M->cli->err, "monitor: reload refused, the running configuration is kept: %s\n", e.msg);
		for (size_t k = 0; k < n; k++)
			mon_target_free(&v[k]);
		free(v);
		pp_table_free(t);
		pp_mon_conf_free(&mc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct mon_target *old = target_find(M, v[i].name);
		if (old == NULL || old->ip != v[i].ip || old->port != v[i].port || old->kind != v[i].kind ||
		    !same_ports(old, &v[i]))
			continue;
		for (size_t k = 0; k < v[i].nports; k++) {
			v[i].ports[k].ok = old->ports[k].ok;
			v[i].ports[k].pub_ok = old->ports[k].pub_ok;
			v[i].ports[k].latency_ms = old->ports[k].latency_ms;
			memcpy(v[i].ports[k].detail, old->ports[k].detail, sizeof v[i].ports[k].detail);
		}
		v[i].pub_cur = old->pub_cur;
		v[i].sm = old->sm;
		v[i].psm = old->psm;
		v[i].pub_checks = old->pub_checks;
		memcpy(v[i].pub_detail, old->pub_detail, sizeof v[i].pub_detail);
		memcpy(v[i].pub_cause, old->pub_cause, sizeof v[i].pub_cause);
		v[i].last_ok = old->last_ok;
		v[i].latency_ms = old->latency_ms;
		v[i].last_check = old->last_check;
		v[i].checks = old->checks;
		v[i].failures = old->failures;
		memcpy(v[i].detail, old->detail, sizeof v[i].detail);
		memcpy(v[i].cause, old->cause, sizeof v[i].cause);
		set_str(&v[i].summary, old->summary);
		set_str(&v[i].fix, old->fix);
	}
	for (size_t i = 0; i < M->n; i++)
		mon_target_free(&M->t[i]);
	free(M->t);
	pp_table_free(M->table);
	pp_mon_conf_free(&M->mc);
	M->mc = mc;                /* the notifier points at M->mc: it sees the new values */
	M->table = t;
	M->t = v;
	M->n = n;
	M->interval_s = d.interval_s;
	M->dirty = true;
	mon_dns_init(M);
	mon_relay_init(M);
	fprintf(M->cli->err, "monitor: reloaded: %zu mappings, every %d s, down after %d failures, up "
	        "after %d successes\n", n, d.interval_s, d.fail_after, d.recover_after);
}

/* ---- the loop ---- */

static void
result(struct mon *M, struct mon_target *t, bool once)
{
	enum pp_health prev = t->sm.state;

	if (!t->last_ok)
		t->failures++;
	if (once) {
		t->sm.state = t->last_ok ? PP_HEALTH_UP : PP_HEALTH_DOWN;
		t->sm.since = time(NULL);
		return;
	}
	enum pp_mon_change c = pp_mon_sm_feed(&t->sm, t->last_ok, t->tm.fail_after,
	                                      t->tm.recover_after, time(NULL));
	if (c == PP_MON_WENT_DOWN || c == PP_MON_CAME_UP)
		change(M, t, prev, false);
	else if (c == PP_MON_FIRST_UP)
		M->dirty = true;
}

/* The public path: one reflector connect-back at a time, to the mapping most overdue, at most
 * one request every spacing_ms. A reflector that cannot be asked says nothing about the
 * mapping: the state is left as it is. Returns when to look again. */
static double
public_step(struct mon *M, double now)
{
	struct pp_error e;

	if (M->mc.reflector == NULL || M->mc.public_interval_s <= 0)
		return 1e300;
	if (M->job) {
		if (!pp_reflect_step(M->job, NULL, 0, 0))
			return now + 50;
		struct pp_reflect_result r;
		int rc = pp_reflect_finish(M->job, &r, &e);
		struct mon_target *t = target_find(M, M->job_name);
		M->job = NULL;
		if (t && rc < 0) {
			/* Logged when it changes, not at every request. */
			if (strncmp(t->pub_detail, "reflector: ", 11) != 0 || strncmp(t->pub_detail + 11, e.msg, 140) != 0)
				fprintf(M->cli->err, "monitor: public check of %s: %s\n", t->name, e.msg);
			snprintf(t->pub_detail, sizeof t->pub_detail, "reflector: %.140s", e.msg);
		} else if (t && t->m->proto == PP_UDP && strcmp(r.result, "reply") && strcmp(r.result, "refused") &&
		           strcmp(r.result, "unreachable")) {
			/* Silence to the reflector's own datagram: a UDP service that answers only its own
			 * protocol looks like a blocked port. Not a result: the public state stays as it is
			 * (unknown until a reply or an ICMP error says something), and the state file says so. */
			t->pub_checks++;
			snprintf(t->pub_detail, sizeof t->pub_detail, "reflector %.15s: no reply to its UDP datagram "
			         "on port %u (a UDP service may not answer it: up or blocked cannot be told)",
			         r.from_ip, t->ports[t->pub_cur % t->npub].pub);
			t->pub_cur = (t->pub_cur + 1) % t->npub;
			M->dirty = true;
		} else if (t) {
			/* TCP: connected is up. UDP: a reply is up, an ICMP error (refused, unreachable) down. */
			bool ok = strcmp(r.result, t->m->proto == PP_UDP ? "reply" : "connected") == 0;
			enum pp_health prev = t->psm.state;
			unsigned port = t->ports[t->pub_cur % t->npub].pub;
			char bad[PP_PORT_LIST_TEXT];
			/* A list: one element a request in turn; down while any element's last one failed. */
			bool all = mon_pub_result(t, ok, bad, sizeof bad);
			t->pub_checks++;
			bool others = !all && (ok || strchr(bad, ','));   /* more failing than this port */
			snprintf(t->pub_detail, sizeof t->pub_detail, "reflector %.15s: %s to %sport %u (%d ms)%s%.60s",
			         r.from_ip, r.result, t->m->proto == PP_UDP ? "UDP " : "", port, r.ms,
			         others ? "; failing: " : "", others ? bad : "");
			enum pp_mon_change c = pp_mon_sm_feed(&t->psm, all, t->tm.fail_after, t->tm.recover_after,
			                                      time(NULL));
			if (c == PP_MON_WENT_DOWN || c == PP_MON_CAME_UP)
				change(M, t, prev, true);
			else if (c == PP_MON_FIRST_UP)
				M->dirty = true;
		}
		free(M->job_name);
		M->job_name = NULL;
	}
	struct mon_target *next = NULL;
	for (size_t i = 0; i < M->n; i++)
		if (M->t[i].pub && (next == NULL || M->t[i].pub_next_due < next->pub_next_due))
			next = &M->t[i];
	if (next == NULL)
		return 1e300;
	double at = M->last_request + spacing_ms(M);
	if (next->pub_next_due > at)
		at = next->pub_next_due;
	if (now < at)
		return at;
	next->pub_next_due = now + M->mc.public_interval_s * 1000.0;
	M->last_request = now;
	/* A relayed mapping's public face is the edge: the reflector (on the edge) is asked to
	 * connect to the edge's own address, which its DNAT sends through the tunnel (as the probe
	 * does); the carrier's address, which it would see, says nothing of that path. An edge given
	 * by name is not resolved in the loop: plain connect-back then. */
	char edge[16] = "";
	struct pp_relay_site rs;
	memset(&rs, 0, sizeof rs);
	if (M->relay.on && pp_relay_site_parse(M->table, &rs, NULL) == 0) {
		uint32_t a;
		if (pp_relay_maps(&rs, next->m) && pp_parse_ipv4(rs.host, &a) == 0)
			snprintf(edge, sizeof edge, "%.15s", rs.host);
		pp_relay_site_free(&rs);
	}
	M->job = pp_reflect_start_ip(M->mc.reflector, M->token, next->m->proto == PP_UDP ? "udp" : "tcp",
	                             next->ports[next->pub_cur % next->npub].pub, edge[0] ? edge : NULL, next->tm.timeout_ms, &e);
	if (M->job == NULL) {
		fprintf(M->cli->err, "monitor: public check of %s: %s\n", next->name, e.msg);
		return now + spacing_ms(M);
	}
	M->job_name = pp_xstrdup(next->name);
	return now + 50;
}

/* Start the checks that are due (up to MAX_INFLIGHT running); returns when to look again.
 * Starts are gathered into ticks of 1/60 of the shortest interval (25-500 ms): a check half a
 * second late on a 30 s interval costs nothing, while waking the process for every single
 * check costs more than the checks (bench/monitor). */
static double
start_due(struct mon *M, bool once, double now, struct mon_target **fly, size_t *nfly, size_t *done)
{
	double next = 1e300, tick = 500;

	for (size_t i = 0; i < M->n; i++)
		if (M->t[i].tm.interval_s * 1000.0 / 60 < tick)
			tick = M->t[i].tm.interval_s * 1000.0 / 60;
	if (tick < 25)
		tick = 25;

	for (size_t i = 0; i < M->n; i++) {
		struct mon_target *t = &M->t[i];
		if (t->phase != MP_IDLE)
			continue;
		if (t->next_due > now) {
			if (t->next_due < next)
				next = t->next_due;
			continue;
		}
		if (*nfly == MAX_INFLIGHT)
			return now;            /* more are due: look again when some have finished */
		t->next_due = once ? 1e300 : now + t->tm.interval_s * 1000.0;
		if (mon_check_start(t, now)) {
			result(M, t, once);
			(*done)++;
		} else {
			fly[(*nfly)++] = t;
		}
	}
	return once || next >= 1e300 ? next : next > now + tick ? next : now + tick;
}

/* First due times: spread over the interval, so two thousand checks do not start at once. */
static void
schedule(struct mon *M, bool once, double now, size_t *done)
{
	for (size_t i = 0; i < M->n; i++) {
		struct mon_target *t = &M->t[i];
		/* Kept when the loop is entered again (a bench runs it in slices). */
		if (t->next_due == 0) {
			t->next_due = once ? now : now + (double)t->tm.interval_s * 1000.0 * (double)i / (double)M->n;
			t->pub_next_due = now + (double)i;   /* in table order; the spacing spreads them */
		}
		/* No check, no state: it stays unknown rather than pretending to be up. */
		if (t->kind == PP_CK_NONE && t->next_due < 1e300) {
			snprintf(t->detail, sizeof t->detail, "not checked (check = none%s)",
			         t->m->proto == PP_UDP ? "; a UDP service needs check = udp with check_send" : "");
			t->next_due = 1e300;
			(*done)++;
		}
	}
}

int
mon_run(struct mon *M, bool once, double until_ms)
{
	size_t cap = MAX_INFLIGHT + MAX_PENDING + 8 + 32 + M->ndns, nfly = 0, done = 0;
	struct pollfd *pfd = pp_xcalloc(cap, sizeof *pfd);
	struct mon_target **fly = pp_xcalloc(MAX_INFLIGHT, sizeof *fly);
	struct pending **pwho = pp_xcalloc(cap, sizeof *pwho);
	struct mon_dns **dwho = pp_xcalloc(cap, sizeof *dwho);
	double now = pp_now_ms(), next_scan = 0;

	/* Entered again (a bench runs the loop in slices): checks still running stay in flight. */
	for (size_t i = 0; i < M->n && nfly < MAX_INFLIGHT; i++)
		if (M->t[i].phase != MP_IDLE)
			fly[nfly++] = &M->t[i];
	schedule(M, once, now, &done);
	while (!stop_flag && (until_ms <= 0 || pp_now_ms() < until_ms)) {
		int np = 0, npend = 0;

		if (reload_flag && !once) {
			reload_flag = 0;
			reload(M);
			/* The old targets' checks went with them; the new ones start spread out. */
			nfly = 0;
			next_scan = 0;
			schedule(M, false, pp_now_ms(), &done);
			if (MAX_INFLIGHT + MAX_PENDING + 8 + 32 + M->ndns > cap) {   /* more names */
				cap = MAX_INFLIGHT + MAX_PENDING + 8 + 32 + M->ndns;
				pfd = pp_xrealloc(pfd, cap * sizeof *pfd);
				pwho = pp_xrealloc(pwho, cap * sizeof *pwho);
				dwho = pp_xrealloc(dwho, cap * sizeof *dwho);
			}
		}
		now = pp_now_ms();
		if (now >= next_scan)
			next_scan = start_due(M, once, now, fly, &nfly, &done);
		double wake = next_scan < now + 1000 ? next_scan : now + 1000;
		if (!once) {
			double pw = public_step(M, now), dw = mon_dns_step(M, now), rw = mon_relay_step(M, now);
			if (pw < wake)
				wake = pw;
			if (dw < wake)
				wake = dw;
			if (rw < wake)
				wake = rw;
		}
		for (size_t i = 0; i < nfly; i++) {
			pfd[np++] = (struct pollfd){ .fd = fly[i]->fd, .events = mon_check_events(fly[i]) };
			if (fly[i]->deadline < wake)
				wake = fly[i]->deadline;
		}
		for (size_t i = 0; i < M->npend && np < (int)cap; i++)
			if (M->pend[i].pid > 0) {
				pfd[np++] = (struct pollfd){ .fd = M->pend[i].fd, .events = POLLIN };
				pwho[npend++] = &M->pend[i];
			}
		int dbase = np, nd = once ? 0 : mon_dns_pollfds(M, pfd + np, (int)cap - np, dwho);
		np += nd;
		int rbase = np, nr = once || np >= (int)cap ? 0 : mon_relay_pollfd(M, pfd + np);
		np += nr;
		int hbase = np, nh = once ? 0 : mon_http_pollfds(M->http, pfd + np, (int)cap - np, &wake);
		np += nh;
		int kfd = once || np >= (int)cap ? -1 : mon_hits_fd(M, now), kbase = np;
		if (kfd >= 0)
			pfd[np++] = (struct pollfd){ .fd = kfd, .events = POLLIN };
		if (once && done == M->n && M->npend == 0 && !mon_notify_busy(M->notify))
			break;
		int ms = wake - now < 0 ? 0 : (int)(wake - now) + 1;
		mon_notify_poll(M->notify, pfd, np, ms);
		now = pp_now_ms();
		/* Probe answers first: a check result may add a change, which moves M->pend. */
		for (int i = 0; i < npend; i++) {
			struct pending *p = pwho[i];
			char buf[4096];
			ssize_t r;
			while ((r = read(p->fd, buf, sizeof buf)) > 0)
				pp_buf_add(&p->out, buf, (size_t)r);
			if (r == 0)
				probe_done(M, p, false);
			else if (now - p->started > PROBE_TIMEOUT_MS)
				probe_done(M, p, true);
		}
		for (int i = 0; i < nd; i++)
			if (pfd[dbase + i].revents)
				mon_dns_read(M, dwho[i], now);
		if (nr && pfd[rbase].revents)
			mon_relay_read(M, now);
		mon_http_step(M->http, pfd + hbase, nh, now, M->metrics);
		if (kfd >= 0 && (pfd[kbase].revents || now - M->hits_at > 30000))
			mon_hits_read(M, now);
		size_t keep = 0;
		bool full = nfly == MAX_INFLIGHT;
		for (size_t i = 0; i < nfly; i++) {
			struct mon_target *t = fly[i];
			short rev = pfd[i].revents;
			if ((rev || now >= t->deadline) && mon_check_step(t, rev, now)) {
				done++;
				result(M, t, once);
			} else {
				fly[keep++] = t;
			}
		}
		if (full && keep < nfly)
			next_scan = now;           /* a slot is free for the checks still due */
		nfly = keep;
		flush_events(M);
		/* A change shows at once; counters and last checks once an interval (1-30 s). */
		double refresh = M->interval_s < 1 ? 1000 : M->interval_s > 30 ? 30000 : M->interval_s * 1000.0;
		if (!once && (M->dirty ? now - M->last_write > 200 : now - M->last_write > refresh))
			mon_write_state(M);
		if (!once && (M->mc.metrics_file || M->http) && now - M->last_metrics > 5000)
			mon_write_metrics(M);
	}
	for (size_t i = 0; i < M->npend; i++)
		if (M->pend[i].pid > 0)
			probe_done(M, &M->pend[i], true);
	flush_events(M);
	if (M->job && until_ms <= 0) {
		pp_reflect_finish(M->job, NULL, NULL);
		M->job = NULL;
		free(M->job_name);
		M->job_name = NULL;
	}
	if (!once)
		mon_write_state(M);
	if (M->mc.metrics_file)
		mon_write_metrics(M);
	free(pfd);
	free(fly);
	free(pwho);
	free(dwho);
	return 0;
}

static void
print_states(struct mon *M)
{
	FILE *o = M->cli->out;

	if (M->cli->json) {
		fprintf(o, "{\"mappings\":[");
		for (size_t i = 0; i < M->n; i++) {
			struct mon_target *t = &M->t[i];
			fprintf(o, "%s{\"name\":", i ? "," : "");
			pp_json_str(o, t->name);
			json_str(o, "state", pp_health_name(t->sm.state));
			json_str(o, "check", pp_check_kind_name(t->kind));
			json_str(o, "family", mon_family(t));
			json_str(o, "detail", t->detail);
			fprintf(o, ",\"latency_ms\":%.1f}", t->latency_ms);
		}
		fprintf(o, "]}\n");
		return;
	}
	for (size_t i = 0; i < M->n; i++) {
		struct mon_target *t = &M->t[i];
		char ip[PP_IP6_STR + 2], a[PP_IP6_STR];
		if (t->npub)
			pp_format_ipv4(t->ip, ip);
		else if (t->ip6_ok)
			pp_format_ipv6(t->ip6, a), snprintf(ip, sizeof ip, "[%s]", a);
		else
			snprintf(ip, sizeof ip, "[%.*s]", PP_IP6_STR - 1, t->m->val[PP_F_INTERNAL_IP6]);
		fprintf(o, "%-16s %-5s %-5s %s:%u  %s (%.0f ms)\n", t->name,
		        t->sm.state == PP_HEALTH_DOWN ? "DOWN" : pp_health_name(t->sm.state),
		        pp_check_kind_name(t->kind), ip, t->port, t->detail, t->latency_ms);
	}
}

static int
intarg(struct pp_cli *cli, const char *o, const char *v, int max, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < 1 || n > max)
		return pp_cli_usage(cli, "monitor", "%s %s: expected a number from 1 to %d", o, v, max);
	*out = (int)n;
	return 0;
}

int
pp_cmd_monitor(struct pp_cli *cli, int argc, char **argv)
{
	struct mon M = { .cli = cli };
	struct pp_table *t = NULL;
	struct pp_error e;
	bool once = false, no_diag = false, remote = false;
	const char *metrics = NULL, *listen_on = NULL;
	int interval = 0, timeout = 0, fail_after = 0, recover_after = 0, rc = PP_EXIT_USAGE;

	static const struct { const char *name; int max; } nums[] = {
		{ "interval", 86400 }, { "timeout", 60 }, { "fail-after", 100 }, { "recover-after", 100 },
	};
	int *slots[] = { &interval, &timeout, &fail_after, &recover_after };
	(void)argc, (void)argv;
	once = pp_opt(cli, "once") != NULL;
	no_diag = pp_opt(cli, "no-diagnose") != NULL;
	metrics = pp_opt(cli, "metrics-file");
	listen_on = pp_opt(cli, "metrics");
	remote = pp_opt(cli, "metrics-remote") != NULL;
	for (int k = 0; k < 4; k++) {
		char o[32];
		snprintf(o, sizeof o, "--%s", nums[k].name);
		if (pp_opt(cli, nums[k].name) && intarg(cli, o, pp_opt(cli, nums[k].name), nums[k].max, slots[k]))
			return PP_EXIT_USAGE;
	}
	M.opts = (struct mon_opts){ interval, timeout, fail_after, recover_after, no_diag, metrics,
	                            listen_on, remote };
	struct pp_check_timing d;
	if (load_all(&M, &M.mc, &t, &M.t, &M.n, &d, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		return PP_EXIT_USAGE;
	}
	M.table = t;
	/* The metrics address: the command line over [monitor]; bound once (a reload keeps it). */
	const char *spec = listen_on ? listen_on : M.mc.metrics_listen;
	if (!once && spec && (M.http = mon_http_open(spec, remote || M.mc.metrics_remote, &e)) == NULL) {
		if (listen_on)
			fprintf(cli->err, "portpilot: monitor --metrics: %s\n", e.msg);
		else
			fprintf(cli->err, "portpilot: %s:%d: [monitor] metrics_listen: %s\n", cli->conf_path,
			        M.mc.metrics_listen_line, e.msg);
		goto targets;
	}
	mon_dns_init(&M);
	mon_relay_init(&M);
	if (!once && mkdir(cli->state_dir, 0750) < 0 && errno != EEXIST) {
		fprintf(cli->err, "portpilot: cannot create the state directory %s: %s\n", cli->state_dir,
		        strerror(errno));
		rc = PP_EXIT_FAIL;
		goto targets;
	}
	if ((M.notify = mon_notify_new(&M.mc, cli->state_dir, cli->err, &e)) == NULL) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		goto targets;
	}
	if (cli->json && !once)
		mon_notify_json(M.notify, cli->out);
	M.state_path = pp_xasprintf("%s/monitor-state.json", cli->state_dir);
	M.interval_s = d.interval_s;
	struct sigaction sa = { .sa_handler = on_stop }, hup = { .sa_handler = on_hup };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!once)
		fprintf(cli->err, "monitor: %zu mappings, every %d s, down after %d failures, up after %d "
		        "successes%s%s%s\n", M.n, d.interval_s, d.fail_after, d.recover_after,
		        M.http ? "; metrics on http://" : "", M.http ? mon_http_where(M.http) : "",
		        M.http ? "/metrics" : "");
	if (!once && M.relay.on)
		fprintf(cli->err, "monitor: relay tunnel %s to %s, down when its last handshake is older than "
		        "%d s\n", M.relay.ifname, M.relay.edge, M.mc.relay_handshake_max_s);
	if (!once && M.ndns)
		fprintf(cli->err, "monitor: %zu published name%s, each looked up every %d s\n", M.ndns,
		        M.ndns == 1 ? "" : "s", M.mc.dns_interval_s);
	mon_run(&M, once, 0);
	rc = PP_EXIT_OK;
	if (once) {
		print_states(&M);
		for (size_t i = 0; i < M.n; i++)
			if (M.t[i].sm.state == PP_HEALTH_DOWN)
				rc = PP_EXIT_FAIL;
	}
	mon_notify_free(M.notify);
	free(M.state_path);
	free(M.pend);
targets:
	mon_http_free(M.http);
	mon_metrics_free(&M);
	mon_dns_free(&M);
	mon_relay_free(&M);
	for (size_t k = 0; k < M.n; k++)
		mon_target_free(&M.t[k]);
	free(M.t);
	pp_table_free(M.table);
	pp_mon_conf_free(&M.mc);
	if (M.token)
		memset(M.token, 0, strlen(M.token)), free(M.token);
	return rc;
}
