/* The monitor's view of each mapping, read from its state file (the TUI runs no checks):
 * the table's Health column and the detail view's history of events. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portpilot/util.h"
#include "tui-internal.h"

/* What the state file says of one mapping: its LAN state, and the public one when checked. */
struct hrow {
	char *name;
	char state[12], pub[12], cause[32], pub_cause[32];
	time_t since, pub_since;
	char *summary, *fix;
	char resolves_to[46], site_address[46];   /* "dns:HOST" rows: the published name */
};

static struct {
	bool present;                     /* a state file was read: the column shows */
	struct hrow *rows;                /* sorted by name */
	size_t n;
	time_t updated;
	int interval, pid;
	char *history;                    /* the monitor's history file, from the state file */
	struct stat st;                   /* of the state file as read */
} H;

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct hrow *)a)->name, ((const struct hrow *)b)->name);
}

static void
free_rows(void)
{
	for (size_t i = 0; i < H.n; i++) {
		free(H.rows[i].name);
		free(H.rows[i].summary);
		free(H.rows[i].fix);
	}
	free(H.rows);
	H.rows = NULL;
	H.n = 0;
}

static const char *
state_dir(const struct tui *t)
{
	return t->cli->state_dir ? t->cli->state_dir : PP_DEFAULT_STATE;
}

static time_t
epoch_of(const char *line, const char *key)
{
	char v[32];

	return pp_json_field(line, key, v, sizeof v) ? (time_t)atoll(v) : 0;
}

/* One mapping a line, as probe/monitor-files.c writes it (the first line is the header). */
static void
parse(char *text)
{
	char v[32], *end, *buf;
	size_t cap = 0;

	pp_json_field(text, "updated", v, sizeof v);
	H.updated = (time_t)atoll(v);
	pp_json_field(text, "interval", v, sizeof v);
	H.interval = atoi(v);
	pp_json_field(text, "pid", v, sizeof v);
	H.pid = atoi(v);
	free(H.history);
	H.history = NULL;
	if ((end = strchr(text, '\n')) != NULL) {
		*end = '\0';
		buf = pp_xmalloc(strlen(text) + 1);
		if (pp_json_field(text, "history", buf, strlen(text) + 1) && buf[0])
			H.history = pp_xstrdup(buf);
		free(buf);
		*end = '\n';
	}
	for (char *l = strchr(text, '\n'); l; l = strchr(l, '\n')) {
		struct hrow r;
		size_t len;

		l++;
		if (strncmp(l, "{\"name\":", 8) != 0)
			continue;
		if ((end = strchr(l, '\n')) != NULL)
			*end = '\0';
		len = strlen(l) + 1;
		memset(&r, 0, sizeof r);
		buf = pp_xmalloc(len);
		pp_json_field(l, "name", buf, len);
		r.name = pp_xstrdup(buf);
		pp_json_field(l, "state", r.state, sizeof r.state);
		r.since = epoch_of(l, "since_epoch");
		if (pp_json_field(l, "cause", r.cause, sizeof r.cause) && !strcmp(r.cause, "null"))
			r.cause[0] = '\0';
		if (pp_json_field(l, "summary", buf, len) && strcmp(buf, "null"))
			r.summary = pp_xstrdup(buf);
		if (pp_json_field(l, "fix", buf, len) && strcmp(buf, "null"))
			r.fix = pp_xstrdup(buf);
		if (strncmp(r.name, "dns:", 4) == 0) {
			pp_json_field(l, "resolves_to", r.resolves_to, sizeof r.resolves_to);
			pp_json_field(l, "site_address", r.site_address, sizeof r.site_address);
		}
		if (pp_json_field(l, "public", r.pub, sizeof r.pub)) {
			r.pub_since = epoch_of(l, "public_since_epoch");
			if (pp_json_field(l, "public_cause", r.pub_cause, sizeof r.pub_cause) &&
			    !strcmp(r.pub_cause, "null"))
				r.pub_cause[0] = '\0';
		}
		free(buf);
		if (end)
			*end = '\n';
		if (H.n == cap) {
			cap = cap ? cap * 2 : 16;
			H.rows = pp_xrealloc(H.rows, cap * sizeof *H.rows);
		}
		H.rows[H.n++] = r;
	}
	if (H.n)
		qsort(H.rows, H.n, sizeof *H.rows, cmp_row);
}

void
tui_health_refresh(struct tui *t)
{
	char *path = pp_xasprintf("%s/monitor-state.json", state_dir(t)), *text;
	struct stat st;
	size_t len;

	if (stat(path, &st) < 0) {
		/* no monitor here (or not yet): no column rather than one full of dashes */
		free_rows();
		H.present = false;
		memset(&H.st, 0, sizeof H.st);
		free(path);
		return;
	}
	if (H.present && st.st_ino == H.st.st_ino && st.st_size == H.st.st_size &&
	    st.st_mtim.tv_sec == H.st.st_mtim.tv_sec && st.st_mtim.tv_nsec == H.st.st_mtim.tv_nsec) {
		free(path);
		return;                       /* the monitor renames a new file in: unchanged */
	}
	text = pp_read_file(path, &len);
	free(path);
	if (text == NULL)
		return;                       /* replaced between the stat and the read: next tick */
	free_rows();
	parse(text);
	free(text);
	H.present = true;
	H.st = st;
}

bool tui_health_present(void) { return H.present; }

/*
 * The monitor rewrites its state at least every 30 s (each interval when shorter): a file
 * older than three of those, or one whose monitor process is gone, shows the past.
 */
bool
tui_health_stale(char *why, size_t n)
{
	long limit = 3L * (H.interval > 30 ? H.interval : 30), age = (long)(time(NULL) - H.updated);
	char at[20];

	if (!H.present)
		return false;
	pp_format_datetime(H.updated, at);
	if (H.pid > 0 && kill(H.pid, 0) < 0 && errno == ESRCH) {
		snprintf(why, n, "health as of %s: the monitor is not running", at);
		return true;
	}
	if (H.updated && age > limit) {
		snprintf(why, n, "health as of %s: state %ld s old, monitor stalled?", at, age);
		return true;
	}
	return false;
}

static const struct hrow *
find(const char *name)
{
	struct hrow key = { .name = (char *)name };

	return H.n ? bsearch(&key, H.rows, H.n, sizeof *H.rows, cmp_row) : NULL;
}

static void
hhmm(time_t when, char *out, size_t n)
{
	struct tm tm, now_tm;
	time_t now = time(NULL);

	localtime_r(&when, &tm);
	localtime_r(&now, &now_tm);
	/* today: the time; before: the day, which says more than a time of another day */
	strftime(out, n, tm.tm_yday == now_tm.tm_yday && tm.tm_year == now_tm.tm_year ? "%H:%M" : "%b %d",
	         &tm);
}

int
tui_health_rank(const char *name)
{
	const struct hrow *r = find(name);

	if (r == NULL)
		return 0;
	if (!strcmp(r->state, "down"))
		return 3;
	if (!strcmp(r->pub, "down"))
		return 2;
	return !strcmp(r->state, "up");
}

/*
 * The Health cell in w columns: "up", "DOWN since 14:03" (the LAN check), "pub DOWN 14:03"
 * (only the path from the internet), "-" unknown or not monitored; shorter forms when
 * narrow, and a "?" after the state when the file is stale.
 */
const char *
tui_health_cell(const char *name, int w, char *buf, size_t n, enum tui_role *role)
{
	const struct hrow *r = H.present ? find(name) : NULL;
	char why[8], at[16];
	bool stale = tui_health_stale(why, sizeof why), pub;
	const char *q = stale ? "?" : "";

	if (role)
		*role = stale ? TR_DIM : TR_NORMAL;
	if (r == NULL || (strcmp(r->state, "down") && strcmp(r->pub, "down") && strcmp(r->state, "up"))) {
		snprintf(buf, n, "-");
		return buf;
	}
	pub = strcmp(r->state, "down") != 0 && !strcmp(r->pub, "down");
	if (!pub && strcmp(r->state, "up") == 0) {
		if (role && !stale)
			*role = TR_OK;
		snprintf(buf, n, "up%s", q);
		return buf;
	}
	if (role && !stale)
		*role = TR_ERROR;
	hhmm(pub ? r->pub_since : r->since, at, sizeof at);
	if (pub)
		snprintf(buf, n, w >= 14 + (int)strlen(q) ? "pub DOWN%s %s" : w >= 10 ? "pDOWN%s %s" : "pDOWN%s",
		         q, at);
	else
		snprintf(buf, n, w >= 16 + (int)strlen(q) ? "DOWN%s since %s" : w >= 10 ? "DOWN%s %s" : "DOWN%s",
		         q, at);
	return buf;
}

/* ---- the detail view: the state now, then the last events of the history file ---- */

#define HIST_TAIL (256 * 1024)        /* of the history file read for one view */
#define HIST_SHOW 10

/* The last HIST_TAIL bytes of path, NUL-terminated; NULL when it cannot be read. */
static char *
read_tail(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *buf;
	ssize_t got;
	off_t from;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	from = st.st_size > HIST_TAIL ? st.st_size - HIST_TAIL : 0;
	buf = pp_xmalloc(HIST_TAIL + 1);
	got = pread(fd, buf, HIST_TAIL, from);
	close(fd);
	if (got < 0) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	return buf;
}

/* The lines of text about name, newest last, at most HIST_SHOW (the file holds one event a line). */
static size_t
pick_events(char *text, const char *name, char **ev)
{
	size_t n = 0, len;
	char *nm;

	for (char *l = text, *end; l && *l; l = end ? end + 1 : NULL) {
		if ((end = strchr(l, '\n')) != NULL)
			*end = '\0';
		len = strlen(l) + 1;
		nm = pp_xmalloc(len);
		if (pp_json_field(l, "mapping", nm, len) && strcmp(nm, name) == 0) {
			if (n == HIST_SHOW) {
				memmove(ev, ev + 1, (HIST_SHOW - 1) * sizeof *ev);
				n--;
			}
			ev[n++] = l;
		}
		free(nm);
	}
	return n;
}

static void
add_event(struct tui_pager *pg, struct tui *t, const char *l)
{
	size_t len = strlen(l) + 1;
	char *v = pp_xmalloc(len), st[12], scope[12], cause[32], at[20], line[1200];
	bool down;

	pp_json_field(l, "state", st, sizeof st);
	pp_json_field(l, "scope", scope, sizeof scope);
	if (!pp_json_field(l, "cause", cause, sizeof cause) || !strcmp(cause, "null"))
		cause[0] = '\0';
	pp_format_datetime(epoch_of(l, "since_epoch"), at);
	down = !strcmp(st, "down");
	if (!pp_json_field(l, "summary", v, len) || !strcmp(v, "null"))
		if (!pp_json_field(l, "detail", v, len) || !strcmp(v, "null"))
			v[0] = '\0';
	snprintf(line, sizeof line, "%s %s%s%s%s%s%s", at, down ? "DOWN" : !strcmp(st, "up") ? "up" : st,
	         !strcmp(scope, "public") ? " from the internet" : "", cause[0] || v[0] ? ": " : "", cause,
	         cause[0] && v[0] ? ": " : "", v);
	tui_pager_wrap(pg, down ? TR_ERROR : TR_OK, t->cols - 3, "  ", line);
	free(v);
}

void
tui_health_detail(struct tui_pager *pg, struct tui *t, const char *name)
{
	const struct hrow *r;
	char why[160], at[20], *path, *text, *ev[HIST_SHOW];
	size_t n;

	if (!H.present)
		return;                       /* no monitor: the section would only say so */
	r = find(name);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Health (portpilot monitor)");
	if (tui_health_stale(why, sizeof why))
		tui_pager_add(pg, TR_WARNING, "  %s", why);
	if (r == NULL) {
		tui_pager_add(pg, TR_DIM, "  not monitored (the monitor checks enabled mappings only)");
	} else {
		pp_format_datetime(r->since, at);
		tui_pager_add(pg, !strcmp(r->state, "down") ? TR_ERROR : TR_NORMAL, "  LAN check %s%s%s",
		              !strcmp(r->state, "down") ? "DOWN" : r->state, r->since ? " since " : "",
		              r->since ? at : "");
		if (!strcmp(r->state, "down") && (r->cause[0] || r->summary)) {
			snprintf(why, sizeof why, "%s%s", r->cause, r->cause[0] && r->summary ? ": " : "");
			path = pp_xasprintf("%s%s", why, r->summary ? r->summary : "");
			tui_pager_wrap(pg, TR_ERROR, t->cols - 5, "    ", path);
			free(path);
			if (r->fix) {
				path = pp_xasprintf("fix: %s", r->fix);
				tui_pager_wrap(pg, TR_NORMAL, t->cols - 5, "    ", path);
				free(path);
			}
		}
		if (r->pub[0]) {
			pp_format_datetime(r->pub_since, at);
			tui_pager_add(pg, !strcmp(r->pub, "down") ? TR_ERROR : TR_NORMAL,
			              "  from the internet %s%s%s%s%s", !strcmp(r->pub, "down") ? "DOWN" : r->pub,
			              r->pub_since ? " since " : "", r->pub_since ? at : "",
			              r->pub_cause[0] ? ": " : "", r->pub_cause);
		}
	}
	path = H.history ? pp_xstrdup(H.history) : pp_xasprintf("%s/monitor-history.jsonl", state_dir(t));
	text = read_tail(path);
	n = text ? pick_events(text, name, ev) : 0;
	tui_pager_add(pg, TR_HEADER, "  last events (%s)", path);
	if (n == 0)
		tui_pager_add(pg, TR_DIM, "    %s", text ? "none yet" : "no history file yet");
	for (size_t i = n; i-- > 0; )        /* newest first */
		add_event(pg, t, ev[i]);
	free(text);
	free(path);
}

void
tui_health_free(void)
{
	free_rows();
	free(H.history);
	memset(&H, 0, sizeof H);
}

/* The status line for a mapping that is down: "web-1 DOWN since 14:03: not_listening: ...". */
bool
tui_health_message(const char *name, char *buf, size_t n)
{
	const struct hrow *r = H.present ? find(name) : NULL;
	char at[16], why[160];
	bool pub;

	if (r == NULL || (strcmp(r->state, "down") && strcmp(r->pub, "down")))
		return false;
	pub = strcmp(r->state, "down") != 0;
	hhmm(pub ? r->pub_since : r->since, at, sizeof at);
	snprintf(buf, n, "%s DOWN%s since %s%s%s%s%s%s%s%s", name, pub ? " from the internet" : "", at,
	         tui_health_stale(why, sizeof why) ? " (monitor not current)" : "",
	         (pub ? r->pub_cause : r->cause)[0] ? ": " : "", pub ? r->pub_cause : r->cause,
	         !pub && r->summary ? ": " : "", !pub && r->summary ? r->summary : "",
	         !pub && r->fix ? "; fix: " : "", !pub && r->fix ? r->fix : "");
	return true;
}

/* A published name (a [ddns] host, "dns:HOST" in the state) that is down, in a few words for
 * the file line: "DNS site3.example.net -> 203.0.113.77, not 203.0.113.1"; false if none. */
bool
tui_health_dns(char *buf, size_t n)
{
	size_t down = 0, first = 0;

	for (size_t i = 0; H.present && i < H.n; i++)
		if (strncmp(H.rows[i].name, "dns:", 4) == 0 && strcmp(H.rows[i].state, "down") == 0 &&
		    down++ == 0)
			first = i;
	if (down == 0)
		return false;
	const struct hrow *r = &H.rows[first];
	char more[32] = "";
	if (down > 1)
		snprintf(more, sizeof more, " (+%zu more)", down - 1);
	if (strcmp(r->resolves_to, "null") && r->resolves_to[0])
		snprintf(buf, n, "DNS %s -> %s, not %s%s", r->name + 4, r->resolves_to,
		         strcmp(r->site_address, "null") ? r->site_address : "?", more);
	else
		snprintf(buf, n, "DNS %s does not resolve%s", r->name + 4, more);
	return true;
}
