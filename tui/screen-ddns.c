/* The DDNS panel and the header's "name resolves to the public IP": status read in idle time, names resolved in a child. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portpilot/ddns.h"
#include "portpilot/util.h"
#include "tui-internal.h"

#define STATUS_MS 2000                /* state files are re-read this often */
#define RESOLVE_EVERY_S 30            /* names are looked up again this often */
#define RESOLVE_MAX_S 10              /* a lookup child older than this is ended */

enum lookup { L_PENDING, L_FOUND, L_NONE };

struct name {
	char host[256];
	char addr[46];
	enum lookup state;
};

static struct {
	struct pp_conf *conf;
	char conf_err[1024];
	struct stat conf_st;              /* of the file when loaded: a change reloads */
	bool conf_tried;
	struct pp_ddns_status *rows;
	size_t n;
	char status_err[1024];
	char (*echo)[46];                 /* per section: what the echo services last agreed on */
	struct name *names;
	size_t nnames;
	struct tui_job job;
	struct timespec loaded_at, resolve_at;
	bool loaded_once, resolved_once;
} D;

static long
ms_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) * 1000L + (now.tv_nsec - a->tv_nsec) / 1000000L;
}

static const char *
conf_path(const struct tui *t)
{
	return t->cli->conf_path ? t->cli->conf_path : PP_DEFAULT_CONF;
}

static const char *
state_dir(const struct tui *t)
{
	return t->cli->state_dir ? t->cli->state_dir : PP_DEFAULT_STATE;
}

static struct name *
find_name(const char *host)
{
	for (size_t i = 0; i < D.nnames; i++)
		if (strcmp(D.names[i].host, host) == 0)
			return &D.names[i];
	return NULL;
}

/* The names to look up: every host of every section, once; known answers are kept. */
static void
rebuild_names(void)
{
	struct name *old = D.names;
	size_t nold = D.nnames;

	D.names = NULL;
	D.nnames = 0;
	for (size_t s = 0; D.conf && s < D.conf->nddns; s++)
		for (size_t h = 0; h < D.conf->ddns[s].nhosts; h++) {
			const char *host = D.conf->ddns[s].hosts[h];
			struct name *n;

			if (find_name(host))
				continue;
			D.names = pp_xrealloc(D.names, (D.nnames + 1) * sizeof *D.names);
			n = &D.names[D.nnames++];
			memset(n, 0, sizeof *n);
			snprintf(n->host, sizeof n->host, "%s", host);
			for (size_t i = 0; i < nold; i++)
				if (strcmp(old[i].host, host) == 0)
					*n = old[i];
		}
	free(old);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* (Re)load portpilot.conf when it is new or changed; true when it was. */
static bool
load_conf(struct tui *t)
{
	struct stat st;
	struct pp_error err;

	if (stat(conf_path(t), &st) < 0)
		memset(&st, 0, sizeof st);
	if (D.conf_tried && same_file(&st, &D.conf_st))
		return false;
	D.conf_tried = true;
	D.conf_st = st;
	pp_conf_free(D.conf);
	D.conf = NULL;
	D.conf_err[0] = '\0';
	if (pp_conf_load(conf_path(t), true, &D.conf, &err) < 0) {
		D.conf = NULL;
		snprintf(D.conf_err, sizeof D.conf_err, "%s", err.msg);
	}
	free(D.echo);
	D.echo = D.conf ? pp_xcalloc(D.conf->nddns + 1, sizeof *D.echo) : NULL;
	rebuild_names();
	memset(&D.resolve_at, 0, sizeof D.resolve_at);   /* look the names up at once */
	D.resolved_once = false;
	return true;
}

/* Status rows and echo addresses from the state directory; true when they changed. */
static bool
load_status(struct tui *t)
{
	struct pp_ddns_status *rows = NULL;
	struct pp_error err;
	size_t n = 0;
	bool changed;

	D.status_err[0] = '\0';
	if (D.conf == NULL) {
		free(D.rows);
		D.rows = NULL;
		changed = D.n != 0;
		D.n = 0;
		return changed;
	}
	if (pp_ddns_status_load(D.conf, state_dir(t), &rows, &n, &err) < 0)
		snprintf(D.status_err, sizeof D.status_err, "%s", err.msg);
	changed = n != D.n || (n && memcmp(rows, D.rows, n * sizeof *rows) != 0);
	free(D.rows);
	D.rows = rows;
	D.n = n;
	for (size_t s = 0; s < D.conf->nddns; s++) {
		struct pp_ddns_state st;

		if (pp_ddns_state_load(state_dir(t), D.conf->ddns[s].name, &st, &err) < 0)
			continue;
		if (strcmp(D.echo[s], st.echo.addr) != 0)
			changed = true;
		snprintf(D.echo[s], sizeof D.echo[s], "%s", st.echo.addr);
		pp_ddns_state_free(&st);
	}
	return changed;
}

/* In the child: one "HOST<TAB>ADDRESS" line per name (ADDRESS empty when it does not resolve). */
static void
resolve_child(FILE *out, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < D.nnames; i++) {
		char addr[46] = "";

		if (pp_ddns_resolve(D.names[i].host, addr) < 0)
			addr[0] = '\0';
		fprintf(out, "%s\t%s\n", D.names[i].host, addr);
	}
}

static void
resolve_line(void *ctx, char *text)
{
	char *tab = strchr(text, '\t');
	struct name *n;

	(void)ctx;
	if (tab == NULL)
		return;
	*tab++ = '\0';
	if ((n = find_name(text)) == NULL)
		return;
	snprintf(n->addr, sizeof n->addr, "%s", tab);
	n->state = *tab ? L_FOUND : L_NONE;
}

static bool
resolve_idle(void)
{
	struct pp_error err;
	bool dirty = false;

	if (D.job.pid > 0) {
		dirty = tui_job_poll(&D.job, resolve_line, NULL);
		if (tui_job_running(&D.job) && ms_since(&D.resolve_at) > RESOLVE_MAX_S * 1000)
			tui_job_cancel(&D.job);
		if (!tui_job_running(&D.job) && D.job.fd < 0) {
			D.job.pid = 0;
			D.resolved_once = true;
			for (size_t i = 0; i < D.nnames; i++)
				if (D.names[i].state == L_PENDING)
					D.names[i].state = L_NONE;   /* ended (or was ended) without an answer */
			dirty = true;
		}
		return dirty;
	}
	if (D.nnames == 0 || (D.resolve_at.tv_sec && ms_since(&D.resolve_at) < RESOLVE_EVERY_S * 1000))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &D.resolve_at);
	if (tui_job_start(&D.job, resolve_child, NULL, &err) < 0)
		D.job.pid = 0;
	return false;
}

bool
tui_ddns_idle(struct tui *t)
{
	bool dirty = false;

	if (!D.loaded_once || ms_since(&D.loaded_at) >= STATUS_MS) {
		dirty |= load_conf(t);
		dirty |= load_status(t);
		clock_gettime(CLOCK_MONOTONIC, &D.loaded_at);
		D.loaded_once = true;
	}
	dirty |= resolve_idle();
	return dirty;
}

void
tui_ddns_free(void)
{
	tui_job_stop(&D.job, 0);          /* a lookup has nothing to clean up */
	pp_conf_free(D.conf);
	free(D.rows);
	free(D.echo);
	free(D.names);
	memset(&D, 0, sizeof D);
}

#define NO_SECTION ((size_t)-1)

static size_t section_of(const struct pp_ddns_status *r);

/* The address the name should resolve to, and where it comes from; NULL when unknown. */
static const char *
public_ip(const struct tui *t, size_t section, char buf[46], const char **from)
{
	uint32_t a;

	if (t->table->site.public_ip) {
		pp_format_ipv4(t->table->site.public_ip, buf);
		*from = "fixed in [site]";
		return buf;
	}
	if (D.echo && section != NO_SECTION && D.echo[section][0]) {
		snprintf(buf, 46, "%s", D.echo[section]);
		*from = "seen by the echo services";
		return buf;
	}
	if (tui_live_wan()[0] && pp_parse_ipv4(tui_live_wan(), &a) == 0 &&
	    pp_ipv4_kind(a) == PP_AK_PUBLIC) {
		snprintf(buf, 46, "%s", tui_live_wan());
		*from = "on the WAN interface";
		return buf;
	}
	return NULL;
}

const char *
tui_public_ip(const struct tui *t, char buf[46])
{
	const char *from;

	return public_ip(t, D.n ? section_of(&D.rows[0]) : NO_SECTION, buf, &from);
}

static size_t
section_of(const struct pp_ddns_status *r)
{
	return (size_t)(r->conf - D.conf->ddns);
}

/* ✓ / ✗ / … / ? for one host: does it resolve to the public IP? */
static const char *
mark(const struct tui *t, const struct pp_ddns_status *r)
{
	const struct name *n = find_name(r->host.host);
	char pub[46];
	const char *from;

	if (n == NULL || n->state == L_PENDING)
		return tui_glyph(G_ELLIPSIS);
	if (n->state == L_NONE)
		return tui_glyph(G_NO);
	if (public_ip(t, section_of(r), pub, &from) == NULL)
		return "?";
	return strcmp(n->addr, pub) == 0 ? tui_glyph(G_YES) : tui_glyph(G_NO);
}

const char *
tui_ddns_summary(const struct tui *t, char *buf, size_t n)
{
	if (D.conf_err[0])
		snprintf(buf, n, "DDNS conf error");
	else if (D.n == 0)
		snprintf(buf, n, "DDNS -");
	else
		snprintf(buf, n, "DDNS %s %s", D.rows[0].host.host, mark(t, &D.rows[0]));
	return buf;
}

static const char *
fmt_time(time_t when, char out[20])
{
	if (when == 0)
		return "-";
	pp_format_datetime(when, out);
	return out;
}

static enum tui_role
status_role(enum pp_host_status s)
{
	switch (s) {
	case PP_HS_OK: return TR_OK;
	case PP_HS_RETRY: return TR_WARNING;
	case PP_HS_PENDING: return TR_DIM;
	case PP_HS_STOPPED: return TR_ERROR;
	default: return TR_NORMAL;
	}
}

static void
fill_dns(struct tui_pager *pg, struct tui *t, const struct pp_ddns_status *r, int w)
{
	const struct name *n = find_name(r->host.host);
	char pub[46], line[300];
	const char *from;
	enum tui_role role = TR_ERROR;

	if (n == NULL || n->state == L_PENDING) {
		snprintf(line, sizeof line, "looking it up %s", tui_glyph(G_ELLIPSIS));
		role = TR_DIM;
	} else if (n->state == L_NONE) {
		snprintf(line, sizeof line, "%s does not resolve (no A record seen by this router)",
		         tui_glyph(G_NO));
	} else if (public_ip(t, section_of(r), pub, &from) == NULL) {
		snprintf(line, sizeof line, "? resolves to %s; the public IP is not known yet", n->addr);
		role = TR_NORMAL;
	} else if (strcmp(n->addr, pub) == 0) {
		snprintf(line, sizeof line, "%s resolves to %s, the public IP (%s)", tui_glyph(G_YES),
		         n->addr, from);
		role = TR_OK;
	} else {
		snprintf(line, sizeof line, "%s resolves to %s, but the public IP is %s (%s)",
		         tui_glyph(G_NO), n->addr, pub, from);
	}
	tui_pager_wrap(pg, role, w, "    DNS          ", line);
}

static const char *
next_text(const struct pp_ddns_host *h, char *buf, size_t n)
{
	char when[20];

	switch (h->status) {
	case PP_HS_RETRY:
		snprintf(buf, n, "%s (backing off after %d failure%s)", fmt_time(h->next_attempt, when),
		         h->failures, h->failures == 1 ? "" : "s");
		break;
	case PP_HS_PENDING:
		snprintf(buf, n, "re-check of the authoritative servers at %s (no request to the provider)",
		         fmt_time(h->next_attempt, when));
		break;
	case PP_HS_STOPPED:
		snprintf(buf, n, "none: stopped until its configuration or credentials change");
		break;
	case PP_HS_OK:
		snprintf(buf, n, "when the address changes; refresh by %s",
		         fmt_time(h->published_at + PP_DDNS_REFRESH, when));
		break;
	default:
		snprintf(buf, n, "at the next check");
	}
	return buf;
}

static void
fill_host(struct tui_pager *pg, struct tui *t, const struct pp_ddns_status *r, int w)
{
	const struct pp_ddns_host *h = &r->host;
	enum pp_ddns_class cls = pp_ddns_code_class(h->last_code);
	char when[20], buf[300];

	tui_pager_add(pg, TR_KEY, "  %s", h->host);
	tui_pager_add(pg, status_role(h->status), "    %-12s %s", "status", pp_host_status_name(h->status));
	tui_pager_add(pg, TR_NORMAL, "    %-12s %s%s%s%s", "published", h->published[0] ? h->published : "-",
	              h->published_at ? " (since " : "", h->published_at ? fmt_time(h->published_at, when) : "",
	              h->published_at ? ")" : "");
	tui_pager_add(pg, cls == PP_CLS_FATAL ? TR_ERROR : cls == PP_CLS_RETRY ? TR_WARNING : TR_NORMAL,
	              "    %-12s %s", "last result", pp_ddns_code_name(h->last_code));
	tui_pager_add(pg, TR_NORMAL, "    %-12s %s", "last try", fmt_time(h->last_attempt, when));
	tui_pager_add(pg, TR_NORMAL, "    %-12s %s", "next try", next_text(h, buf, sizeof buf));
	if (h->reason[0])
		tui_pager_wrap(pg, status_role(h->status), w, "    reason       ", h->reason);
	fill_dns(pg, t, r, w);
}

static void
fill_ddns(struct tui_pager *pg, struct tui *t)
{
	int w = t->cols - 3;
	char sum[160];

	tui_ddns_summary(t, sum, sizeof sum);
	snprintf(pg->status, sizeof pg->status, "%s", strncmp(sum, "DDNS ", 5) == 0 ? sum + 5 : sum);
	if (D.conf_err[0]) {
		tui_pager_wrap(pg, TR_ERROR, w, "", D.conf_err);
		return;
	}
	tui_pager_add(pg, TR_DIM, "config %s   state %s", conf_path(t), state_dir(t));
	if (D.status_err[0])
		tui_pager_wrap(pg, TR_ERROR, w, "", D.status_err);
	if (D.n == 0) {
		tui_pager_add(pg, TR_NORMAL, "%s", "");
		tui_pager_add(pg, TR_NORMAL, "No [ddns NAME] section: nothing is published.");
		const char *ex = pp_example_conf();
		tui_pager_wrap(pg, TR_NORMAL, w, "", ex ? "A commented example of every provider and key: " :
		               "Every key: portpilot ddns --help, man portpilot (DDNS).");
		if (ex)
			tui_pager_wrap(pg, TR_NORMAL, w, "  ", ex);
		tui_pager_add(pg, TR_DIM, "Copy a section into %s (or remove its ';' there),", conf_path(t));
		tui_pager_add(pg, TR_DIM, "then run portpilot ddns run (or systemctl enable --now portpilot-ddns).");
		return;
	}
	for (size_t i = 0; i < D.n; i++) {
		const struct pp_ddns_status *r = &D.rows[i];

		if (i == 0 || r->conf != D.rows[i - 1].conf) {
			tui_pager_add(pg, TR_NORMAL, "%s", "");
			tui_pager_add(pg, TR_HEADER, "[ddns %s]  %s  server %s  address from %s", r->conf->name,
			              pp_provider_name(r->conf->provider), r->conf->server ? r->conf->server : "-",
			              pp_ip_source_name(r->conf->ip_source));
			if (r->verdict[0])
				tui_pager_wrap(pg, TR_ERROR, w, "  ! ", r->verdict);
		}
		fill_host(pg, t, r, w);
	}
}

struct tui_panel *
tui_ddns_panel(struct tui *t)
{
	struct tui_pager *pg = tui_pager_new("DDNS", NULL, fill_ddns);

	/* fresh numbers when the panel opens, the lookups keep their pace */
	D.loaded_once = false;
	tui_ddns_idle(t);
	return &pg->p;
}
