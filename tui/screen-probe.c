/* The probe, watch and access-log screens: each runs in a forked child whose events fill the page live. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "portpilot/conf.h"
#include "portpilot/probe.h"
#include "portpilot/table.h"
#include "portpilot/util.h"
#include "tui-internal.h"

#define MAX_LIVE 2000                 /* live lines kept; a long watch drops the oldest */

enum kind { K_PROBE, K_WATCH, K_LOG };

struct lines {
	char **s;
	enum tui_role *r;
	size_t n;
};

struct probe {
	struct tui_pager pg;              /* first: the panel is a pager */
	enum kind kind;
	struct tui *t;                    /* the child reads the table and options from it */
	char name[128];
	int seconds;
	struct tui_job job;
	struct timespec start;
	struct lines live, evidence, attempts;
	struct lines history;             /* the access log's recorded part, oldest first */
	long nhistory;                    /* entries recorded; more than history.n when dropped */
	bool history_read, no_history;
	char cause[32], elapsed[16];
	char *summary, *fix;
	char error[1024];
	bool done, follow, top_once;
};

/* ---- the child: events as "TAG<TAB>text" lines ---- */

static void
put(FILE *out, char tag, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	for (char *c = s; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	fprintf(out, "%c\t%s\n", tag, s);
	free(s);
}

static const char *
check_state(enum pp_check_state s)
{
	static const char *const n[] = { "pass", "FAIL", "info", "skip" };

	return n[s];
}

static void
on_check(const struct pp_check *ck, void *arg)
{
	put(arg, 'C', "%s\t%s\t%s", check_state(ck->state), ck->id, ck->text);
}

static void
on_packet(const struct pp_packet *p, const struct pp_attempt *a, void *arg)
{
	char line[200];

	pp_packet_format(p, line, sizeof line);
	if (a && a->router_own)
		put(arg, 'P', "(probe) %s", line);
	else if (a)
		put(arg, 'P', "#%-3d    %s", p->attempt + 1, line);
	else
		put(arg, 'P', "        %s", line);
}

static void
put_attempt(FILE *out, size_t i, const struct pp_attempt *a)
{
	static const char *const ans[] = { "no answer", "SYN-ACK", "RST", "ICMP error", "UDP reply" };
	char c[16];

	pp_format_ipv4(a->client, c);
	put(out, 'A', "#%zu %s %s:%u: %s > %s > %s > %s%s%s%s", i + 1, a->proto == IPPROTO_UDP ? "udp" : "tcp",
	    c, a->cport, a->wan_in ? "WAN in" : a->from_lan || a->router_own ? "from inside" : "not on WAN",
	    a->lan_out ? "LAN out" : "not sent on LAN", a->lan_reply ? ans[a->answer] : "no answer",
	    a->wan_out ? "WAN out" : "no reply out", a->router_own ? " (the probe's own test)" : "",
	    a->from_lan ? " (LAN client, hairpin)" : "",
	    !a->allowed ? " (not in allow)" : a->wrong_proto ? " (wrong protocol)" : "");
}

static void
put_result(FILE *out, const struct pp_probe_result *r)
{
	put(out, 'V', "%s", pp_cause_name(r->cause));
	put(out, 'S', "%s", r->summary ? r->summary : "");
	put(out, 'F', "%s", r->fix ? r->fix : "");
	for (size_t i = 0; i < r->nevidence; i++)
		put(out, 'E', "%s", r->evidence[i]);
	for (size_t i = 0; i < r->trace.natt; i++)
		put_attempt(out, i, &r->trace.att[i]);
	put(out, 'T', "%.1f", r->elapsed_s);
}

static void
probe_child(FILE *out, void *ctx)
{
	struct probe *pr = ctx;
	struct pp_cli *cli = pr->t->cli;
	struct pp_conf *conf = NULL;
	struct pp_probe_result *r = NULL;
	struct pp_error e;
	char *token = NULL;
	struct pp_probe_opts o = {
		.table = pr->t->table, .name = pr->name, .drop_privs = true,
		.watch_seconds = pr->kind == K_WATCH ? pr->seconds : 0,
		.on_check = on_check, .on_packet = on_packet, .arg = out,
	};

	/* [probe] and the first DDNS name, as `portpilot probe` takes them */
	if (pp_conf_load(cli->conf_path ? cli->conf_path : PP_DEFAULT_CONF, true, &conf, &e) < 0) {
		put(out, 'C', "skip\tconfig\t%s (continuing without it)", e.msg);
		conf = NULL;
	}
	if (conf && pr->kind == K_PROBE && (conf->probe.reflector || conf->probe.reflector6)) {
		o.reflector_url = conf->probe.reflector;
		o.reflector6_url = conf->probe.reflector6;
		if (conf->probe.token_file && (token = pp_token_read(conf->probe.token_file, &e)) == NULL)
			put(out, 'C', "skip\ttoken\t%s", e.msg);
		o.token = token;
		if (pp_reflector_set_ca(conf->probe.ca_file, &e) < 0)
			put(out, 'C', "skip\treflector CA\t%s", e.msg);
	}
	if (conf && conf->nddns && conf->ddns[0].nhosts)
		o.hostname = conf->ddns[0].hosts[0];
	if (pp_probe_run(&o, &r, &e) < 0)
		put(out, 'X', "%s", e.msg);
	else
		put_result(out, r);
	pp_probe_result_free(r);
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	pp_conf_free(conf);
}

/* A live connection from the core's reader, in this screen's own line format (L<TAB>fields). */
static void
on_access(const struct pp_access_entry *e, void *arg)
{
	put(arg, 'L', "%d\t%s\t%s\t%s\t%u\t%u\t%s", e->accepted, e->time, e->proto, e->src, e->sport, e->port,
	    e->verdict);
	fflush(arg);
}

/* A note of the core's (the table unreachable, the rules not removed), in this screen's N line. */
static void
on_access_note(const char *text, void *arg)
{
	put(arg, 'N', "%s", text);
	fflush(arg);
}

static void
log_child(FILE *out, void *ctx)
{
	struct probe *pr = ctx;
	struct pp_cli c = *pr->t->cli;
	struct pp_error e;

	c.table_path = pr->t->path;
	c.json = true;                    /* no "logging ... Ctrl-C to stop" line: the page says it */
	if (pp_access_follow(&c, pr->name, pr->seconds, 0, on_access, on_access_note, out, &e) < 0)
		put(out, 'X', "%s", e.msg);
}

/* ---- the parent: lines in, page out ---- */

static void
lines_add(struct lines *l, enum tui_role r, const char *s)
{
	if (l->n == MAX_LIVE) {
		free(l->s[0]);
		memmove(l->s, l->s + 1, (l->n - 1) * sizeof *l->s);
		memmove(l->r, l->r + 1, (l->n - 1) * sizeof *l->r);
		l->n--;
	}
	l->s = pp_xrealloc(l->s, (l->n + 1) * sizeof *l->s);
	l->r = pp_xrealloc(l->r, (l->n + 1) * sizeof *l->r);
	l->s[l->n] = pp_xstrdup(s);
	l->r[l->n++] = r;
}

static void
lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	free(l->r);
}

static enum tui_role
check_role(const char *state)
{
	if (strcmp(state, "pass") == 0)
		return TR_OK;
	if (strcmp(state, "FAIL") == 0)
		return TR_ERROR;
	return strcmp(state, "skip") == 0 ? TR_DIM : TR_NORMAL;
}

/* One connection: when, protocol, who, the public port, its verdict. */
static void
add_entry(struct lines *l, const char *when, const char *proto, const char *src, unsigned sport,
          unsigned port, const char *verdict, bool accepted)
{
	char buf[300];

	bool v6 = strchr(src, ':') != NULL;      /* an IPv6 source in brackets: [2001:db8::10]:40000 */
	snprintf(buf, sizeof buf, "%s  %s %s%s%s:%u -> %u  %s", when, proto, v6 ? "[" : "", src, v6 ? "]" : "", sport,
	         port, verdict);
	lines_add(l, accepted ? TR_NORMAL : TR_WARNING, buf);
}

/* The recorded history, from the core's struct, before the live part starts. */
static void
read_history(struct probe *pr)
{
	struct pp_access_history h;
	struct pp_error e;

	if (pp_access_history_read(pr->t->cli->state_dir, pr->name, &h, &e) < 0)
		lines_add(&pr->history, TR_WARNING, e.msg);
	for (size_t i = 0; i < h.nnotes; i++)
		lines_add(&pr->history, TR_WARNING, h.notes[i]);
	for (size_t i = 0; i < h.n; i++)
		add_entry(&pr->history, h.v[i].time, h.v[i].proto, h.v[i].src, h.v[i].sport, h.v[i].port,
		          h.v[i].verdict, h.v[i].accepted);
	pr->nhistory = (long)h.n;
	pr->history_read = true;
	pr->no_history = !h.recorded && h.n == 0;
	pp_access_history_free(&h);
}

/* The access log's child: L a live connection (its fields), N a note of the core's, X why it
 * could not run. */
static void
on_log_line(struct probe *pr, char *text)
{
	char *f[7], *save = NULL;
	int k = 0;

	if (text[0] == 'X' && text[1] == '\t') {
		snprintf(pr->error, sizeof pr->error, "%s", text + 2);
		return;
	}
	if (text[0] == 'N' && text[1] == '\t') {
		char buf[1200];

		snprintf(buf, sizeof buf, "Note: %s", text + 2);
		lines_add(&pr->live, TR_WARNING, buf);
		return;
	}
	if (text[0] != 'L' || text[1] != '\t')
		return;
	for (char *tok = strtok_r(text + 2, "\t", &save); tok && k < 7; tok = strtok_r(NULL, "\t", &save))
		f[k++] = tok;
	if (k == 7)
		add_entry(&pr->live, f[1], f[2], f[3], (unsigned)atoi(f[4]), (unsigned)atoi(f[5]), f[6], f[0][0] == '1');
}

static void
on_line(void *ctx, char *text)
{
	struct probe *pr = ctx;
	char *rest = text + 2, *id, *what, buf[1200];

	if (pr->kind == K_LOG) {
		on_log_line(pr, text);
		return;
	}
	if (text[0] == '\0' || text[1] != '\t') {
		lines_add(&pr->live, TR_NORMAL, text);
		return;
	}
	switch (text[0]) {
	case 'C':
		id = strchr(rest, '\t');
		what = id ? strchr(id + 1, '\t') : NULL;
		if (what == NULL)
			break;
		*id++ = '\0';
		*what++ = '\0';
		snprintf(buf, sizeof buf, "[%s] %-12s %s", rest, id, what);
		lines_add(&pr->live, check_role(rest), buf);
		break;
	case 'P': lines_add(&pr->live, TR_NORMAL, rest); break;
	case 'V': snprintf(pr->cause, sizeof pr->cause, "%s", rest); break;
	case 'S': free(pr->summary); pr->summary = pp_xstrdup(rest); break;
	case 'F': free(pr->fix); pr->fix = pp_xstrdup(rest); break;
	case 'E': lines_add(&pr->evidence, TR_NORMAL, rest); break;
	case 'A': lines_add(&pr->attempts, TR_NORMAL, rest); break;
	case 'T': snprintf(pr->elapsed, sizeof pr->elapsed, "%s", rest); break;
	case 'X': snprintf(pr->error, sizeof pr->error, "%s", rest); break;
	default: lines_add(&pr->live, TR_NORMAL, text);
	}
}

static double
seconds_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->tv_sec) + (now.tv_nsec - a->tv_nsec) / 1e9;
}

static const char *const hints_running[] = { "Esc q", "cancel", "Up/Down PgUp/PgDn", "scroll", NULL };
static const char *const hints_done[] = { "Up/Down PgUp/PgDn", "scroll", "r", "run again",
	"q Esc", "back", NULL };

/* The child ended: say how, when it left no verdict. */
static void
finish(struct probe *pr)
{
	int st = pr->job.status;

	pr->done = true;
	pr->pg.hints = hints_done;
	/* What it means for the engineer; the child's pid and status are in the session log (L). */
	if (pr->job.cancelled) {
		snprintf(pr->error, sizeof pr->error, "Cancelled: the %s was stopped before it finished; what is "
		         "shown is what it saw until then.",
		         pr->kind == K_LOG ? "access log" : pr->kind == K_WATCH ? "watch" : "probe");
	} else if (pr->kind != K_LOG && !pr->cause[0] && !pr->error[0]) {
		tui_logf(pr->t, "%s: the probe's child %d ended by %s %d", pr->name, pr->job.pid,
		         WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		snprintf(pr->error, sizeof pr->error, "The probe stopped without a verdict: %s; run it again, "
		         "or run `portpilot probe %s` in a shell to see its messages.",
		         WIFSIGNALED(st) ? "it was killed" : "it failed", pr->name);
	}
	pr->top_once = true;              /* the verdict (or why there is none) is at the top */
}

static bool
probe_idle(struct tui_panel *p, struct tui *t)
{
	struct probe *pr = (struct probe *)p;
	bool any;

	(void)t;
	if (pr->done)
		return false;
	any = tui_job_poll(&pr->job, on_line, pr);
	if (!tui_job_running(&pr->job) && pr->job.fd < 0)
		finish(pr);
	if (any && pr->follow)
		pr->pg.top = SIZE_MAX / 2;
	if (pr->top_once) {
		pr->pg.top = 0;
		pr->top_once = false;
	}
	return true;                      /* the clock on the title moves */
}

static void
fill_verdict(struct tui_pager *pg, struct probe *pr, int w)
{
	bool ok = strcmp(pr->cause, "ok") == 0;

	tui_pager_add(pg, ok ? TR_OK : TR_ERROR, "cause: %s", pr->cause);
	if (pr->summary && *pr->summary)
		tui_pager_wrap(pg, TR_NORMAL, w, "  ", pr->summary);
	if (pr->fix && *pr->fix) {
		tui_pager_add(pg, TR_HEADER, "fix");
		tui_pager_wrap(pg, TR_NORMAL, w, "  ", pr->fix);
	}
	if (pr->evidence.n)
		tui_pager_add(pg, TR_HEADER, "evidence");
	for (size_t i = 0; i < pr->evidence.n; i++)
		tui_pager_wrap(pg, TR_NORMAL, w, "  ", pr->evidence.s[i]);
	if (pr->attempts.n)
		tui_pager_add(pg, TR_HEADER, "attempts: in on WAN > out on LAN > the server's answer > reply out on WAN");
	for (size_t i = 0; i < pr->attempts.n; i++)
		tui_pager_wrap(pg, TR_NORMAL, w, "  ", pr->attempts.s[i]);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
}

/* A live line wrapped under its text: a check's "[pass] id" stays a column of its own. */
static void
add_live(struct tui_pager *pg, enum tui_role r, int w, const char *s)
{
	const char *p = s;
	char lead[64];

	if (s[0] == '[' && (p = strchr(s, ']')) != NULL) {
		for (p++; *p == ' '; p++)
			;
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	} else {
		p = s;
	}
	if (p - s > (int)sizeof lead - 4)
		p = s;
	snprintf(lead, sizeof lead, "  %.*s", (int)(p - s), s);
	tui_pager_wrap(pg, r, w, lead, p);
}

/* The access log: what was recorded, a rule, then what arrives while the page is open. */
static void
fill_log(struct tui_pager *pg, struct probe *pr, int w)
{
	const char *g = tui_glyph(G_HLINE);
	char rule[512];
	size_t k;

	if (!pr->history_read && pr->done)
		tui_pager_add(pg, TR_DIM, "the recorded history was not read");
	else if (!pr->history_read)
		tui_pager_add(pg, TR_DIM, "reading the recorded history %s", tui_glyph(G_ELLIPSIS));
	else if (pr->no_history)
		tui_pager_add(pg, TR_WARNING, "no history: the portpilot-log service is not recording; live only");
	else if (pr->nhistory > (long)pr->history.n)
		tui_pager_add(pg, TR_HEADER, "recorded history of %s, newest at the bottom (the last %zu of %ld)",
		              pr->name, pr->history.n, pr->nhistory);
	else
		tui_pager_add(pg, TR_HEADER, "recorded history of %s, newest at the bottom", pr->name);
	for (size_t i = 0; i < pr->history.n; i++)
		tui_pager_wrap(pg, pr->history.r[i], w, "  ", pr->history.s[i]);
	if (pr->history_read && !pr->no_history && pr->nhistory == 0)
		tui_pager_add(pg, TR_DIM, "  no connections to %s recorded yet", pr->name);

	/* a full-width rule, so the recorded part cannot be read as live */
	k = (size_t)snprintf(rule, sizeof rule, "%s%s live ", g, g);
	for (int col = 8; col < w && k + strlen(g) < sizeof rule; col++)
		k += (size_t)snprintf(rule + k, sizeof rule - k, "%s", g);
	tui_pager_add(pg, TR_FRAME, "%s", rule);
	if (!pr->done)
		tui_pager_add(pg, TR_WARNING, "Connections to %s as they arrive (for %d s).", pr->name,
		              pr->seconds);
	for (size_t i = 0; i < pr->live.n; i++)
		tui_pager_wrap(pg, pr->live.r[i], w, "  ", pr->live.s[i]);
	if (!pr->done)
		tui_pager_add(pg, TR_DIM, "  %s (Esc cancels)", tui_glyph(G_ELLIPSIS));
}

static void
fill_probe(struct tui_pager *pg, struct tui *t)
{
	struct probe *pr = (struct probe *)pg;
	static const char *const what[] = { "probe", "watch", "access log" };
	int w = t->cols - 3;

	if (!pr->done)
		snprintf(pg->status, sizeof pg->status, "%s  running %.0f s%s", pr->name,
		         seconds_since(&pr->start), pr->job.cancelled ? ", cancelling" : "");
	else if (pr->cause[0])
		snprintf(pg->status, sizeof pg->status, "%s  %s: %s (%s s)", pr->name, what[pr->kind],
		         pr->cause, pr->elapsed);
	else
		snprintf(pg->status, sizeof pg->status, "%s  %s", pr->name, pr->job.cancelled ? "cancelled" : "ended");
	if (pr->error[0])
		tui_pager_wrap(pg, TR_ERROR, w, "", pr->error);
	if (pr->cause[0])
		fill_verdict(pg, pr, w);
	if (pr->kind == K_LOG) {
		fill_log(pg, pr, w);
		return;
	}
	if (pr->kind == K_WATCH && !pr->done)
		tui_pager_add(pg, TR_WARNING, "Watching %s for %d s: try it from outside now.", pr->name,
		              pr->seconds);
	tui_pager_add(pg, TR_HEADER, "%s", "checks and packets, as they happen");
	for (size_t i = 0; i < pr->live.n; i++)
		add_live(pg, pr->live.r[i], w, pr->live.s[i]);
	if (!pr->done)
		tui_pager_add(pg, TR_DIM, "  %s (Esc cancels)", tui_glyph(G_ELLIPSIS));
}

static void
clear_results(struct probe *pr)
{
	lines_free(&pr->live);
	lines_free(&pr->evidence);
	lines_free(&pr->attempts);
	lines_free(&pr->history);
	memset(&pr->history, 0, sizeof pr->history);
	pr->nhistory = 0;
	pr->history_read = pr->no_history = false;
	memset(&pr->live, 0, sizeof pr->live);
	memset(&pr->evidence, 0, sizeof pr->evidence);
	memset(&pr->attempts, 0, sizeof pr->attempts);
	free(pr->summary);
	free(pr->fix);
	pr->summary = pr->fix = NULL;
	pr->cause[0] = pr->elapsed[0] = pr->error[0] = '\0';
}

static bool
start(struct probe *pr)
{
	struct pp_error err;

	clear_results(pr);
	pr->done = false;
	pr->follow = true;
	pr->pg.hints = hints_running;
	pr->pg.top = 0;
	clock_gettime(CLOCK_MONOTONIC, &pr->start);
	if (pr->kind == K_LOG)
		read_history(pr);
	if (tui_job_start(&pr->job, pr->kind == K_LOG ? log_child : probe_child, pr, &err) < 0) {
		snprintf(pr->error, sizeof pr->error, "%s", err.msg);
		pr->done = true;
		pr->pg.hints = hints_done;
		return false;
	}
	tui_logf(pr->t, "%s %s started (child %d)", pr->kind == K_LOG ? "access log" :
	         pr->kind == K_WATCH ? "watch" : "probe", pr->name, pr->job.pid);
	return true;
}

static bool
probe_key(struct tui_panel *p, struct tui *t, int key)
{
	struct probe *pr = (struct probe *)p;

	if (!pr->done && (key == TK_ESC || key == 'q' || key == TK_CTRL('c') || key == TK_CTRL('g'))) {
		tui_job_cancel(&pr->job);
		tui_logf(t, "%s cancelled (child %d stopped)", pr->name, pr->job.pid);
		return true;
	}
	if (pr->done && key == 'r') {
		tui_job_stop(&pr->job, 0);
		start(pr);
		return true;
	}
	if (key == TK_UP || key == 'k' || key == TK_PGUP || key == 'b' || key == TK_HOME || key == 'g')
		pr->follow = false;
	if (key == TK_END || key == 'G')
		pr->follow = true;
	return tui_pager_key(p, t, key);
}

static void
probe_free(struct tui_panel *p)
{
	struct probe *pr = (struct probe *)p;

	tui_job_stop(&pr->job, 2000);     /* the access log removes its NFLOG rule on SIGTERM */
	clear_results(pr);
	tui_pager_free(p);                /* its lines, and the struct itself */
}

/* The mapping must have the values a probe needs, like `portpilot probe` insists. */
static bool
probe_ready(struct tui *t, const char *name)
{
	const struct pp_mapping *m = pp_table_find(t->table, name);

	if (m == NULL)
		return false;
	if (m->bad & ((1u << PP_F_INTERNAL_IP) | (1u << PP_F_PUBLIC_PORT) | (1u << PP_F_PROTOCOL))) {
		tui_message(t, TR_ERROR, "Mapping %s has invalid values: fix them first (e opens the form).", name);
		return false;
	}
	return true;
}

static struct tui_panel *
new_panel(struct tui *t, const char *name, enum kind kind, int seconds)
{
	static const char *const title[] = { "probe", "watch", "access log" };
	struct probe *pr;
	struct tui_pager *pg;

	if (tui_live_is_offline()) {
		/* it reads the kernel and sends test traffic: what --offline promises not to do */
		tui_message(t, TR_WARNING, "Offline (--offline): no %s here; use portpilot %s %s", title[kind],
		            kind == K_LOG ? "log" : title[kind], name);
		return NULL;
	}
	if (kind != K_LOG && !probe_ready(t, name))
		return NULL;
	pg = tui_pager_new(title[kind], name, fill_probe);
	pr = pp_xcalloc(1, sizeof *pr);
	pr->pg = *pg;                     /* the pager's fields move into the bigger struct */
	free(pg);
	pr->pg.p.key = probe_key;
	pr->pg.p.free = probe_free;
	pr->pg.p.idle = probe_idle;
	pr->kind = kind;
	pr->t = t;
	pr->seconds = seconds;
	snprintf(pr->name, sizeof pr->name, "%s", name);
	start(pr);
	return &pr->pg.p;
}

struct tui_panel *
tui_probe_panel(struct tui *t, const char *name)
{
	return new_panel(t, name, K_PROBE, 0);
}

struct tui_panel *
tui_watch_panel(struct tui *t, const char *name, int seconds)
{
	return new_panel(t, name, K_WATCH, seconds);
}

struct tui_panel *
tui_alog_panel(struct tui *t, const char *name, int seconds)
{
	return new_panel(t, name, K_LOG, seconds);
}
