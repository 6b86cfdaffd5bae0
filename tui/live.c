/* The one place the TUI asks the backend: per-row sync state, hit counters, pending confirm. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"
#include "tui-internal.h"

struct live_row {
	char *name;                       /* copied: the table's strings move on every edit */
	enum pp_sync sync;
	unsigned long long pkts;
	time_t last_hit;                  /* when this session saw pkts grow */
	time_t since;                     /* first read of the row: older hits came before it */
	bool has6;                        /* the backend reports the IPv6 side (pinholes) */
	enum pp_sync sync6;
	unsigned long long pkts6;
};

static struct {
	bool opened, usable, offline;
	struct pp_backend b;
	char why[300];                    /* why the kernel state is unknown */
	struct live_row *rows;
	size_t n;
	size_t differ;                    /* active mappings not in sync */
	struct pp_layout_status layout;   /* ruleset drift and orphans, as the core reports them */
	time_t deadline;                  /* pending confirm, 0 when none */
	bool timer_gone;                  /* the core says its rollback timer no longer runs */
	char wan_addr[INET_ADDRSTRLEN];   /* the WAN interface's IPv4 address, "" if none */
} L;

void
tui_live_offline(void)
{
	L.offline = true;
	snprintf(L.why, sizeof L.why, "offline (tui --offline)");
}

bool tui_live_is_offline(void) { return L.offline; }

static void
open_backend(void)
{
	struct pp_error err;

	if (L.opened)
		return;
	L.opened = true;
	if (L.offline)
		return;
	if (geteuid() != 0) {
		snprintf(L.why, sizeof L.why, "kernel state needs root");
		return;
	}
	if (pp_backend_open(&L.b, &err) < 0) {
		snprintf(L.why, sizeof L.why, "%.290s", err.msg);
		return;
	}
	L.usable = true;
}

bool
tui_live_available(void)
{
	open_backend();
	return L.usable;
}

const char *
tui_live_why(void)
{
	open_backend();
	return L.why;
}

static const struct live_row *
row_of(const struct tui *t, size_t idx)
{
	/* After an edit the rows no longer line up: unknown until the next read. */
	if (idx < L.n && strcmp(L.rows[idx].name, t->table->maps[idx].name) == 0)
		return &L.rows[idx];
	return NULL;
}

void
tui_live_row(const struct tui *t, size_t idx, struct tui_live *out)
{
	const struct live_row *r = L.usable ? row_of(t, idx) : NULL;

	memset(out, 0, sizeof *out);
	out->state = S_UNKNOWN;
	if (r == NULL)
		return;
	out->has_hits = true;
	out->hits = r->pkts;
	out->last_hit = r->last_hit;
	out->since = r->since;
	switch (r->sync) {
	case PP_SYNC_OK: out->state = S_SYNC; break;
	case PP_SYNC_MISSING: out->state = S_PENDING; break;
	case PP_SYNC_DRIFTED: case PP_SYNC_STALE:
		out->state = tui_is_edited(t, r->name) ? S_PENDING : S_DRIFT;
		break;
	case PP_SYNC_INACTIVE: out->state = S_UNKNOWN; break;
	case PP_SYNC_SHADOWED: case PP_SYNC_BLOCKED: out->state = S_DRIFT; break; /* a foreign rule in the way */
	}
}

bool
tui_live_sync(const struct tui *t, size_t idx, enum pp_sync *out)
{
	const struct live_row *r = L.usable ? row_of(t, idx) : NULL;

	if (r)
		*out = r->sync;
	return r != NULL;
}

bool
tui_live_sync6(const struct tui *t, size_t idx, enum pp_sync *sync, unsigned long long *pkts)
{
	const struct live_row *r = L.usable ? row_of(t, idx) : NULL;

	if (r == NULL || !r->has6)
		return false;
	*sync = r->sync6;
	*pkts = r->pkts6;
	return true;
}

/*
 * When the engineer comes back after losing the session, say that the confirm
 * timer rolled the last apply back. Only at the first read: later rollbacks
 * happen in front of this session, which says so itself.
 */
static void
told_rollback(struct tui *t, time_t when)
{
	static bool checked;
	char buf[20];

	if (checked)
		return;
	checked = true;
	if (when <= 0)
		return;
	pp_format_datetime(when, buf);
	tui_message(t, TR_WARNING, "While you were away: the last apply was not confirmed in time; "
	            "the timer rolled it back at %s.", buf);
	tui_logf(t, "the confirm timer had rolled back the last apply at %s", buf);
}

/* The pending confirm's deadline and whether its rollback timer still runs (the core's state files). */
static time_t
read_deadline(struct tui *t, bool *gone)
{
	struct pp_confirm_state cs;

	pp_confirm_state(t->cli->state_dir, &cs);
	told_rollback(t, cs.timer_rollback);
	*gone = cs.deadline && !cs.timer_alive;
	return cs.deadline;
}

static void
keep_rows(const struct tui *t, struct pp_map_status *st)
{
	struct live_row *rows = pp_xcalloc(t->table->n + 1, sizeof *rows);
	time_t now = time(NULL);

	L.differ = 0;
	for (size_t i = 0; i < t->table->n; i++) {
		const struct live_row *old = row_of(t, i);

		rows[i].name = pp_xstrdup(t->table->maps[i].name);
		rows[i].sync = st[i].sync;
		rows[i].pkts = st[i].pkts;
		rows[i].has6 = st[i].has6;
		rows[i].sync6 = st[i].sync6;
		rows[i].pkts6 = st[i].pkts6;
		rows[i].last_hit = old ? old->last_hit : 0;
		rows[i].since = old ? old->since : now;
		if (old && st[i].pkts > old->pkts)
			rows[i].last_hit = now;
		if (st[i].sync != PP_SYNC_OK && st[i].sync != PP_SYNC_INACTIVE)
			L.differ++;
	}
	for (size_t i = 0; i < L.n; i++)
		free(L.rows[i].name);
	free(L.rows);
	L.rows = rows;
	L.n = t->table->n;
}

/* The WAN interface's first IPv4 address, for the header. */
static void
read_wan(const char *ifname)
{
	struct ifaddrs *ifs, *i;

	L.wan_addr[0] = '\0';
	if (ifname == NULL || getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, ifname) == 0) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, L.wan_addr,
			          sizeof L.wan_addr);
			break;
		}
	freeifaddrs(ifs);
}

const char *
tui_live_wan(void)
{
	return L.wan_addr;
}

void
tui_live_refresh(struct tui *t)
{
	struct pp_live live;
	struct pp_map_status *st = NULL;
	struct pp_error err;

	if (L.offline)
		return;
	read_wan(t->table->site.val[PP_S_WAN_INTERFACE]);
	if (!tui_live_available())
		return;
	if (pp_backend_read(&L.b, &live, &err) < 0) {
		snprintf(L.why, sizeof L.why, "%.290s", err.msg);
		return;
	}
	pp_layout_status_free(&L.layout);
	if (pp_status_read_all(t->table, &L.b, &live, time(NULL), &st, &L.layout, &err) == 0) {
		keep_rows(t, st);
		pp_status_free(st, t->table->n);
		L.why[0] = '\0';
	} else {
		snprintf(L.why, sizeof L.why, "%.290s", err.msg);
	}
	pp_live_free(&live);
	L.deadline = read_deadline(t, &L.timer_gone);
}

time_t tui_live_deadline(void) { return L.deadline; }
bool tui_live_timer_gone(void) { return L.deadline && L.timer_gone; }

void
tui_live_set_deadline(time_t d)
{
	L.deadline = d;
	L.timer_gone = false;
}

const char *
tui_live_summary(const struct tui *t, char *buf, size_t n)
{
	(void)t;
	size_t o = L.layout.norphans;

	if (!L.usable || (L.n == 0 && o == 0 && L.layout.nproblems == 0))
		snprintf(buf, n, "kernel ?");
	else if (L.differ == 0 && o == 0 && L.layout.nproblems == 0)
		snprintf(buf, n, "kernel in sync");
	else if (o == 0 && L.differ)
		snprintf(buf, n, "kernel differs (%zu)", L.differ);
	else if (o == 0)                  /* drift with no active mapping to read drifted */
		snprintf(buf, n, "kernel differs (ruleset)");
	else if (L.differ)
		snprintf(buf, n, "kernel differs (%zu, %zu orphan%s)", L.differ, o, o == 1 ? "" : "s");
	else
		snprintf(buf, n, "kernel differs (%zu orphan%s)", o, o == 1 ? "" : "s");
	return buf;
}

const struct pp_layout_status *
tui_live_layout(void)
{
	return &L.layout;
}

void
tui_live_free(void)
{
	for (size_t i = 0; i < L.n; i++)
		free(L.rows[i].name);
	free(L.rows);
	pp_layout_status_free(&L.layout);
	if (L.usable)
		pp_backend_close(&L.b);
	memset(&L, 0, sizeof L);
}
