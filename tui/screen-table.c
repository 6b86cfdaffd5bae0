/* The table screen: header, one row per mapping, findings, filter, sort and the keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"
#include "tui-internal.h"

/*
 * Columns in screen order (the digit keys sort by this order): the width they
 * start from, the width spare room fills them to when every value fits, the
 * most a long value may claim, and which come first when the screen is
 * narrow (0 first: name, public port, internal address, state).
 */
static const struct colspec {
	enum tui_col c;
	int min, max, cap, prio;
} colspecs[] = {
	{ C_STATE, 7, 7, 7, 3 },       { C_HEALTH, 10, 10, 17, 5 },   { C_NAME, 12, 28, 48, 0 },
	{ C_PROTO, 5, 5, 8, 4 },       { C_PUBLIC, 11, 11, 24, 1 },   { C_INTERNAL, 21, 27, 40, 2 },
	{ C_ALLOW, 9, 18, 60, 6 },     { C_HITS, 5, 8, 20, 6 },       { C_OWNER, 12, 16, 40, 7 },
	{ C_LAST, 9, 16, 16, 8 },      { C_DESC, 16, 40, 80, 9 },     { C_NOTE, 20, 200, 200, 10 },
};
#define NSPEC (sizeof colspecs / sizeof colspecs[0])

/* The digit keys sort by these (1 State ... 0 Description), as before Health came. */
static const enum tui_col digit_cols[10] = { C_DESC, C_STATE, C_NAME, C_PROTO, C_PUBLIC,
	C_INTERNAL, C_ALLOW, C_HITS, C_OWNER, C_LAST };

struct layout {
	int n;
	enum tui_col col[NSPEC];
	int x[NSPEC], w[NSPEC];
	const struct colspec *spec[NSPEC];
};

/* The widest value of a live column on the rows shown (the others' widths are the view's). */
static int
live_width(const struct tui *t, enum tui_col c)
{
	const struct tui_view *v = &t->view;
	char buf[128];
	int w = 0, cw;

	for (size_t i = v->top; v->order && i < v->norder && i < v->top + (size_t)t->rows; i++)
		if ((cw = tui_text_width(tui_view_cell(t, v->order[i], c, buf))) > w)
			w = cw;
	return w;
}

/*
 * The columns that fit, taken by priority and kept in screen order (Finding
 * only when a row has one: an empty column would take the room a cut value
 * needs), at their minimum width; need[i] is what column i lacks to show its
 * widest value. Returns the width used, the marker column included.
 */
static int
pick(const struct tui *t, struct layout *L, int need[])
{
	bool on[NSPEC] = { false };
	int used = 1, want;

	for (int prio = 0; prio < (int)NSPEC; prio++)
		for (size_t i = 0; i < NSPEC; i++)
			if (colspecs[i].prio == prio && used + colspecs[i].min + 1 <= t->cols &&
			    !(colspecs[i].c == C_NOTE && t->view.natural[C_NOTE] == 0) &&
			    !(colspecs[i].c == C_HEALTH && !tui_health_present())) {
				on[i] = true;
				used += colspecs[i].min + 1;
			}
	L->n = 0;
	for (size_t i = 0; i < NSPEC; i++) {
		if (!on[i])
			continue;
		L->spec[L->n] = &colspecs[i];
		L->col[L->n] = colspecs[i].c;
		L->w[L->n] = colspecs[i].min;
		want = colspecs[i].c == C_HITS || colspecs[i].c == C_LAST || colspecs[i].c == C_HEALTH ?
		       live_width(t, colspecs[i].c)
		                                                           : t->view.natural[colspecs[i].c];
		if (want > colspecs[i].cap)
			want = colspecs[i].cap;
		need[L->n] = want > colspecs[i].min ? want - colspecs[i].min : 0;
		L->n++;
	}
	return used;
}

/*
 * Spare width goes first to the columns whose values are cut, in equal
 * shares (so one long name does not take it all from a port range), ties
 * by priority; what is left, as before, to the growable ones in screen order.
 */
static void
widen(struct layout *L, int need[], int spare)
{
	int k, share, add;

	for (;;) {
		k = 0;
		for (int i = 0; i < L->n; i++)
			k += need[i] > 0;
		if (k == 0 || spare <= 0)
			break;
		share = spare / k > 0 ? spare / k : 1;
		for (int prio = 0; prio < (int)NSPEC && spare > 0; prio++)
			for (int i = 0; i < L->n; i++) {
				if (L->spec[i]->prio != prio || need[i] == 0 || spare == 0)
					continue;
				add = share < need[i] ? share : need[i];
				if (add > spare)
					add = spare;
				L->w[i] += add;
				need[i] -= add;
				spare -= add;
			}
	}
	for (int i = 0; i < L->n && spare > 0; i++) {
		add = L->spec[i]->max - L->w[i];
		if (add <= 0)
			continue;
		if (add > spare)
			add = spare;
		L->w[i] += add;
		spare -= add;
	}
}

/* Marker column, then the columns that fit, as wide as the screen allows. */
static void
layout(const struct tui *t, struct layout *L)
{
	int need[NSPEC];

	widen(L, need, t->cols - pick(t, L, need));
	for (int i = 0, x = 2; i < L->n; i++) {
		L->x[i] = x;
		x += L->w[i] + 1;
	}
}

static bool
col_shown(const struct tui *t, enum tui_col c)
{
	struct layout L;

	layout(t, &L);
	for (int i = 0; i < L.n; i++)
		if (L.col[i] == c)
			return true;
	return false;
}

static enum tui_role
state_role(enum tui_state s)
{
	switch (s) {
	case S_SYNC: return TR_OK;
	case S_PENDING: return TR_WARNING;
	case S_DRIFT: case S_ERROR: return TR_ERROR;
	case S_OFF: case S_EXPIRED: return TR_DIM;
	default: return TR_NORMAL;
	}
}

static void
draw_row(struct tui *t, const struct layout *L, int y, size_t pos)
{
	size_t idx = t->view.order[pos];
	const struct tui_note *n = &t->view.notes[idx];
	bool sel = pos == t->view.cur;
	enum tui_role base = sel ? TR_SELECTED : TR_NORMAL;
	struct tui_live live;
	char buf[128];

	tui_draw_text(y, 0, t->cols, base, "");
	if (n->nerr || n->nwarn)
		tui_draw_str(y, 0, 1, sel ? base : n->nerr ? TR_ERROR : TR_WARNING, n->nerr ? "!" : "*");
	for (int i = 0; i < L->n; i++) {
		enum tui_role r = base;

		if (!sel && L->col[i] == C_STATE)
			r = state_role(tui_row_state(t, idx, &live));
		if (!sel && L->col[i] == C_NOTE && n->f)
			r = n->nerr ? TR_ERROR : TR_WARNING;
		if (L->col[i] == C_HEALTH) {  /* its words fit the width: "DOWN since 14:03", "DOWN 14:03" */
			enum tui_role hr;

			tui_health_cell(t->table->maps[idx].name, L->w[i], buf, sizeof buf, &hr);
			tui_draw_fit(y, L->x[i], L->w[i], sel ? r : hr, buf);
			continue;
		}
		tui_draw_fit(y, L->x[i], L->w[i], r, tui_view_cell(t, idx, L->col[i], buf));
	}
}

static void
draw_titles(struct tui *t, const struct layout *L, int y)
{
	char buf[64];

	tui_draw_text(y, 0, t->cols, TR_HEADER, "");
	for (int i = 0; i < L->n; i++) {
		enum tui_col c = L->col[i];

		if (c == t->view.sort)
			snprintf(buf, sizeof buf, "%s%s", tui_col_title(c),
			         tui_glyph(t->view.desc ? G_DOWN : G_UP));
		else
			snprintf(buf, sizeof buf, "%s", tui_col_title(c));
		tui_draw_text(y, L->x[i], L->w[i] + (i + 1 < L->n), TR_HEADER, buf);
	}
}

enum { H_LABEL, H_SITE, H_KERNEL, H_CONFIRM, H_DDNS, H_WAN, H_PUBLIC, H__COUNT };

static int
header_width(char f[][256], int sep)
{
	int w = 0, k = 0;

	for (int i = 0; i < H__COUNT; i++)
		if (f[i][0])
			w += (k++ ? sep : 1) + tui_text_width(f[i]);
	return w;
}

/*
 * The live fields (kernel, countdown, DDNS mark, WAN, public IP) matter most on
 * a narrow terminal: lower-priority text gives way first, one step at a time.
 */
static void
draw_header(struct tui *t)
{
	const struct pp_site *s = &t->table->site;
	const char *site = s->val[PP_S_NAME] ? s->val[PP_S_NAME] : "(no [site] name)";
	const char *wan = tui_live_wan(), *pub, *mark;
	char f[H__COUNT][256], ddns[200], pubbuf[46], line[H__COUNT * 260];
	int sep = 2, room;

	memset(f, 0, sizeof f);
	snprintf(f[H_LABEL], sizeof f[0], "portpilot");
	snprintf(f[H_SITE], sizeof f[0], "%s", site);
	tui_live_summary(t, f[H_KERNEL], sizeof f[0]);
	if (tui_live_timer_gone()) {
		snprintf(f[H_CONFIRM], sizeof f[0], "rollback timer gone: C confirm, U roll back");
	} else if (tui_live_deadline()) {
		long left = (long)(tui_live_deadline() - time(NULL));

		snprintf(f[H_CONFIRM], sizeof f[0], "CONFIRM in %lds (C)", left > 0 ? left : 0);
	}
	snprintf(f[H_DDNS], sizeof f[0], "%s", tui_ddns_summary(t, ddns, sizeof ddns));
	snprintf(f[H_WAN], sizeof f[0], "WAN %s%s%s", s->val[PP_S_WAN_INTERFACE] ?
	         s->val[PP_S_WAN_INTERFACE] : "?", wan[0] ? " " : "", wan);
	pub = tui_public_ip(t, pubbuf);
	snprintf(f[H_PUBLIC], sizeof f[0], "public %s", pub ? pub : "?");
	for (int step = 0; step < 6 && header_width(f, sep) > t->cols; step++) {
		switch (step) {
		case 0:
			f[H_LABEL][0] = '\0';
			break;
		case 1:
			if (pub && strcmp(pub, wan) == 0)
				snprintf(f[H_PUBLIC], sizeof f[0], "public = WAN");
			break;
		case 2:               /* the site name: what is left, or nothing below 8 columns */
			f[H_SITE][0] = '\0';
			room = t->cols - header_width(f, sep) - sep;
			if (room >= 8 && tui_text_width(site) > room)
				snprintf(f[H_SITE], sizeof f[0], "%.*s%s", (int)tui_text_fit(site, room - 1),
				         site, tui_glyph(G_ELLIPSIS));
			else if (room >= 8)
				snprintf(f[H_SITE], sizeof f[0], "%s", site);
			break;
		case 3:               /* the DDNS mark without the name */
			mark = strrchr(ddns, ' ');
			if (mark && mark != strchr(ddns, ' '))
				snprintf(f[H_DDNS], sizeof f[0], "DDNS%s", mark);
			break;
		case 4:
			sep = 1;
			break;
		case 5:
			if (tui_live_timer_gone())
				snprintf(f[H_CONFIRM], sizeof f[0], "TIMER GONE (C/U)");
			else if (f[H_CONFIRM][0])
				snprintf(f[H_CONFIRM], sizeof f[0], "CONFIRM %lds",
				         (long)(tui_live_deadline() - time(NULL)) > 0 ?
				         (long)(tui_live_deadline() - time(NULL)) : 0);
			break;
		}
	}
	line[0] = '\0';
	for (int i = 0, k = 0; i < H__COUNT; i++)
		if (f[i][0])
			snprintf(line + strlen(line), sizeof line - strlen(line), "%*s%s",
			         k++ ? sep : 1, "", f[i]);
	tui_draw_fit(0, 0, t->cols, TR_TITLE, line);
}

static void
draw_fileline(struct tui *t, int y)
{
	const struct tui_view *v = &t->view;
	char line[512];
	int x;

	snprintf(line, sizeof line, "%s  %zu mapping%s", t->path, t->table->n,
	         t->table->n == 1 ? "" : "s");
	if (v->norder != v->nall)
		snprintf(line + strlen(line), sizeof line - strlen(line), ", %zu shown", v->norder);
	x = tui_draw_text(y, 0, t->cols, TR_NORMAL, line);
	if (v->nerr || v->nwarn) {
		snprintf(line, sizeof line, "  %zu error%s", v->nerr, v->nerr == 1 ? "" : "s");
		x += tui_draw_str(y, x, t->cols - x, v->nerr ? TR_ERROR : TR_NORMAL, line);
		snprintf(line, sizeof line, " %zu warning%s", v->nwarn, v->nwarn == 1 ? "" : "s");
		x += tui_draw_str(y, x, t->cols - x, v->nwarn ? TR_WARNING : TR_NORMAL, line);
	}
	if (t->table->dirty)
		x += tui_draw_str(y, x, t->cols - x, TR_WARNING, "  [modified]");
	if (t->disk_changed)
		x += tui_draw_str(y, x, t->cols - x, TR_ERROR, "  [changed on disk: R reload]");
	if (!col_shown(t, v->sort)) {
		snprintf(line, sizeof line, "  sorted by %s%s", tui_col_title(v->sort),
		         tui_glyph(v->desc ? G_DOWN : G_UP));
		x += tui_draw_str(y, x, t->cols - x, TR_KEY, line);
	}
	if (v->filter[0] && !t->filtering) {
		snprintf(line, sizeof line, "  filter: %s", v->filter);
		x += tui_draw_str(y, x, t->cols - x, TR_KEY, line);
	}
	if (tui_health_dns(line + 2, sizeof line - 2)) {     /* the published address is wrong */
		line[0] = line[1] = ' ';
		x += tui_draw_str(y, x, t->cols - x, TR_ERROR, line);
	}
	if (tui_health_stale(line + 2, sizeof line - 2)) {   /* the Health column shows the past */
		line[0] = line[1] = ' ';
		tui_draw_str(y, x, t->cols - x, TR_WARNING, line);
	}
}

/* The core's ruleset drift, else its orphans, in one line; false when there are none. */
static bool
draw_layout(struct tui *t, int y)
{
	const struct pp_layout_status *ls = tui_live_layout();
	char line[1024];
	size_t n;

	if (ls->nproblems) {
		n = (size_t)snprintf(line, sizeof line, "ruleset drifted: %s", ls->problems[0]);
		if (ls->nproblems > 1 && n < sizeof line)
			snprintf(line + n, sizeof line - n, " (+%zu more)", ls->nproblems - 1);
		snprintf(line + strlen(line), sizeof line - strlen(line), "; A repairs it, i lists all");
	} else if (ls->norphans) {
		n = (size_t)snprintf(line, sizeof line, "orphan%s in the kernel, not in the table:",
		                     ls->norphans == 1 ? "" : "s");
		for (size_t i = 0; i < ls->norphans && n < sizeof line; i++)
			n += (size_t)snprintf(line + n, sizeof line - n, "%s %s", i ? "," : "", ls->orphans[i]);
		if (n < sizeof line)
			snprintf(line + n, sizeof line - n, "; A removes their rules");
	} else {
		return false;
	}
	tui_draw_fit(y, 0, t->cols, TR_WARNING, line);
	return true;
}

/* The status line: a message, the filter being typed, or the current row's finding. */
static void
draw_status(struct tui *t, int y)
{
	const struct pp_mapping *m = tui_view_current(t);
	const struct pp_finding *f;
	char line[1024], where[200];
	int cx;

	if (t->filtering) {
		tui_draw_text(y, 0, t->cols, TR_NORMAL, "");
		tui_draw_str(y, 0, 8, TR_KEY, "Filter:");
		cx = tui_field_draw(&t->filter, y, 8, t->cols - 9, TR_INPUT);
		tui_draw_cursor(y, cx);
		return;
	}
	if (t->msg[0]) {
		tui_draw_fit(y, 0, t->cols, t->msg_role, t->msg);
		return;
	}
	if (tui_live_timer_gone()) {      /* above any row's finding: the whole apply is at stake */
		tui_draw_fit(y, 0, t->cols, TR_ERROR, time(NULL) < tui_live_deadline() ?
		             "rollback timer gone: confirm or roll back (C keeps the change, U rolls it "
		             "back); nothing rolls back by itself" :
		             "rollback timer gone and its deadline passed: the apply was not rolled back; "
		             "U rolls it back");
		return;
	}
	f = m ? t->view.notes[tui_map_index(t, m)].f : NULL;
	/* a service down says more than a warning about the row, less than an error in it */
	if (m && (f == NULL || f->sev != PP_ERROR) && tui_health_message(m->name, line, sizeof line)) {
		tui_draw_fit(y, 0, t->cols, TR_ERROR, line);
		return;
	}
	if (f == NULL)
		f = t->view.file_note;        /* [site] and file-level findings have no row */
	if (f == NULL) {
		if (t->view.nall == 0)
			tui_draw_text(y, 0, t->cols, TR_DIM, "No mappings yet: a adds one.");
		else if (t->view.norder == 0)
			tui_draw_text(y, 0, t->cols, TR_DIM, "No mapping matches the filter; Esc clears it.");
		else if (!draw_layout(t, y))
			tui_draw_text(y, 0, t->cols, TR_NORMAL, "");
		return;
	}
	if (f->file) /* not the table's: a [ddns] mapping = of portpilot.conf (core/table-ddns.c) */
		snprintf(where, sizeof where, "%.100s:%d: [%.60s] ", f->file, f->line, f->mapping ? f->mapping : "");
	else if (f->line > 0)
		snprintf(where, sizeof where, "line %d: ", f->line);
	else
		snprintf(where, sizeof where, "%s", f->mapping ? "" : "[site] ");
	snprintf(line, sizeof line, "%s%s%s%s: %s%s%s", where, f->field ? f->field : "",
	         f->field ? " " : "", f->sev == PP_ERROR ? "error" : "warning", f->what,
	         f->fix ? "; " : "", f->fix ? f->fix : "");
	tui_draw_text(y, 0, t->cols, f->sev == PP_ERROR ? TR_ERROR : TR_WARNING, line);
}

static void
table_draw(struct tui_panel *p, struct tui *t)
{
	static const char *const hints[] = { "F1/?", "help", "/", "filter", "Enter", "edit",
		"a", "add", "d", "del", "w", "save", "A", "apply", "q", "quit", NULL };
	struct tui_view *v = &t->view;
	struct layout L;
	int first = 3;

	(void)p;
	t->page = t->rows - first - 2;
	if (v->cur < v->top)
		v->top = v->cur;
	if (v->cur >= v->top + (size_t)t->page)
		v->top = v->cur - (size_t)t->page + 1;
	if (v->norder > (size_t)t->page && v->top > v->norder - (size_t)t->page)
		v->top = v->norder - (size_t)t->page;   /* no empty space below the last row */
	layout(t, &L);
	draw_header(t);
	draw_fileline(t, 1);
	draw_titles(t, &L, 2);
	for (int i = 0; i < t->page && v->top + (size_t)i < v->norder; i++)
		draw_row(t, &L, first + i, v->top + (size_t)i);
	tui_hints(t, t->rows - 1, hints);
	draw_status(t, t->rows - 2);
}

/* ---- actions ---- */

static void act_up(struct tui *t) { tui_view_move(t, -1, 0); }
static void act_down(struct tui *t) { tui_view_move(t, 1, 0); }
static void act_pgup(struct tui *t) { tui_view_move(t, -(long)t->page, 1); }
static void act_pgdn(struct tui *t) { tui_view_move(t, t->page, 1); }
static void act_home(struct tui *t) { tui_view_move(t, -(long)t->view.cur, 0); }
static void act_end(struct tui *t) { tui_view_move(t, (long)t->view.norder, 0); }
static void act_help(struct tui *t) { tui_push(t, tui_help_panel()); }
static void act_log(struct tui *t) { tui_push(t, tui_log_panel()); }
static void act_add(struct tui *t) { tui_push(t, tui_edit_panel(t, NULL, false)); }
static void act_site(struct tui *t) { tui_push(t, tui_site_panel(t)); }

static void
act_filter(struct tui *t)
{
	t->filtering = true;
	tui_field_set(&t->filter, t->view.filter);
}

static void
act_clear_filter(struct tui *t)
{
	if (t->view.filter[0])
		tui_view_set_filter(t, "");
}

/* Any column sorts, also one too wide for the screen: the status line says which. */
static void
sort_by(struct tui *t, enum tui_col c, bool desc)
{
	tui_view_set_sort(t, c, desc);
	tui_message(t, TR_NORMAL, "Sorted by %s, %s%s.", tui_col_title(c),
	            desc ? "descending" : "ascending",
	            col_shown(t, c) ? "" : " (a column not shown at this width)");
}

static void
act_sort_next(struct tui *t)
{
	size_t i;

	for (i = 0; i < NSPEC && colspecs[i].c != t->view.sort; i++)
		;
	sort_by(t, colspecs[(i + 1) % NSPEC].c, false);
}

static void act_sort_rev(struct tui *t) { sort_by(t, t->view.sort, !t->view.desc); }

static const struct pp_mapping *
need_row(struct tui *t)
{
	const struct pp_mapping *m = tui_view_current(t);

	if (m == NULL)
		tui_message(t, TR_WARNING, "No mapping selected.");
	return m;
}

static void
act_edit(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);

	if (m)
		tui_push(t, tui_edit_panel(t, m->name, false));
}

static void
act_dup(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);

	if (m)
		tui_push(t, tui_edit_panel(t, m->name, true));
}

static void
act_detail(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);

	if (m)
		tui_push(t, tui_detail_panel(m->name));
}

static void
act_toggle(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);
	struct pp_error err;
	char *name;
	bool on;

	if (m == NULL)
		return;
	name = pp_xstrdup(m->name);
	on = !m->enabled;
	if (pp_table_set(t->table, name, "enabled", on ? "yes" : "no", &err) < 0) {
		tui_message(t, TR_ERROR, "%s", err.msg);
	} else {
		tui_mark_edited(t, name);
		tui_view_rebuild(t);
		tui_logf(t, "%s %s (not saved yet)", on ? "enabled" : "disabled", name);
		tui_message(t, TR_OK, "%s %s; w saves the file.", name, on ? "enabled" : "disabled");
	}
	free(name);
}

static void
delete_answer(struct tui *t, int key, void *ctx)
{
	char *name = ctx;
	struct pp_error err;

	if (key == 'y') {
		if (pp_table_del(t->table, name, &err) < 0) {
			tui_message(t, TR_ERROR, "%s", err.msg);
		} else {
			tui_view_rebuild(t);
			tui_logf(t, "deleted %s (not saved yet)", name);
			tui_message(t, TR_OK, "Deleted %s; w saves the file.", name);
		}
	}
	free(name);
}

static void
act_delete(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);
	char text[400];

	if (m == NULL)
		return;
	snprintf(text, sizeof text, "Delete mapping %s (%s)?\n\nn keep it    y delete it", m->name,
	         m->val[PP_F_DESCRIPTION] ? m->val[PP_F_DESCRIPTION] : "no description");
	tui_push(t, tui_prompt_panel("Delete", text, "ny", delete_answer, pp_xstrdup(m->name)));
}

static void
act_save(struct tui *t)
{
	tui_save(t);
}

static void
reload_answer(struct tui *t, int key, void *ctx)
{
	(void)ctx;
	if (key == 'r')
		tui_reload(t);
}

static void
act_reload(struct tui *t)
{
	if (!t->table->dirty) {
		tui_reload(t);
		return;
	}
	tui_push(t, tui_prompt_panel("Reload", "Reload the file from disk and drop your unsaved "
	                             "changes?\n\nc cancel    r reload", "cr", reload_answer, NULL));
}

static void
quit_answer(struct tui *t, int key, void *ctx)
{
	(void)ctx;
	if (key == 'd' || (key == 's' && tui_save(t) == 0))
		t->quit = true;
}

static void
act_quit(struct tui *t)
{
	if (!t->table->dirty) {
		t->quit = true;
		return;
	}
	tui_push(t, tui_prompt_panel("Unsaved changes", "The table has changes that are not "
	                             "saved.\n\nc cancel    s save and quit    d discard and quit",
	                             "csd", quit_answer, NULL));
}

static void
act_next_finding(struct tui *t)
{
	struct tui_view *v = &t->view;

	for (size_t i = 1; i <= v->norder; i++) {
		size_t pos = (v->cur + i) % v->norder;

		if (v->notes[v->order[pos]].f) {
			v->cur = pos;
			return;
		}
	}
	tui_message(t, TR_OK, "No findings on the rows shown.");
}

static void act_apply(struct tui *t) { tui_apply_start(t); }
static void act_confirm(struct tui *t) { tui_apply_confirm(t); }
static void act_rollback(struct tui *t) { tui_apply_rollback(t); }

static void
act_ddns(struct tui *t)
{
	struct tui_panel *p = tui_ddns_panel(t);

	if (p)
		tui_push(t, p);
}

static void
act_probe(struct tui *t)
{
	const struct pp_mapping *m = need_row(t);
	struct tui_panel *p = m ? tui_probe_panel(t, m->name) : NULL;

	if (p)
		tui_push(t, p);
}

static void act_export(struct tui *t) { tui_export_start(t); }

/* W and l ask for how long; the mapping's name waits here meanwhile. */
static char ask_name[128];

static void
seconds_answer(struct tui *t, const char *text, void *ctx)
{
	bool watch = ctx != NULL;
	struct tui_panel *p;
	int n;

	if (text == NULL)
		return;
	n = atoi(text);
	if (n <= 0 || n > 86400) {
		tui_message(t, TR_ERROR, "'%s' is not a number of seconds (1 to 86400).", text);
		return;
	}
	p = watch ? tui_watch_panel(t, ask_name, n) : tui_alog_panel(t, ask_name, n);
	if (p)
		tui_push(t, p);
}

static void
ask_seconds(struct tui *t, bool watch)
{
	const struct pp_mapping *m = need_row(t);
	char label[200];

	if (m == NULL)
		return;
	snprintf(ask_name, sizeof ask_name, "%s", m->name);
	snprintf(label, sizeof label, watch ? "Watch %s for how many seconds?" :
	         "Recorded history of %s, then follow it live for how many seconds?", m->name);
	tui_push(t, tui_input_panel(watch ? "watch" : "access log", label, watch ? "30" : "300",
	                            seconds_answer, watch ? (void *)1 : NULL));
}

static void act_watch(struct tui *t) { ask_seconds(t, true); }
static void act_alog(struct tui *t) { ask_seconds(t, false); }

static const struct tui_binding bindings[] = {
	{ { TK_F(1), '?', 'h' }, "F1 ? h", "this help", act_help },
	{ { TK_UP, 'k' }, "Up k", "previous row", act_up },
	{ { TK_DOWN, 'j' }, "Down j", "next row", act_down },
	{ { TK_PGUP, 'b', TK_CTRL('b') }, "PgUp b ^B", "page up", act_pgup },
	{ { TK_PGDN, 'f', TK_CTRL('f') }, "PgDn f ^F", "page down", act_pgdn },
	{ { TK_HOME, 'g' }, "Home g", "first row", act_home },
	{ { TK_END, 'G' }, "End G", "last row", act_end },
	{ { TK_F(3), '/' }, "F3 /", "filter as you type (Enter keeps it, Esc clears it)", act_filter },
	{ { TK_ESC }, "Esc", "clear the filter", act_clear_filter },
	{ { TK_F(6), 'o' }, "F6 o", "sort by the next column, also those not shown", act_sort_next },
	{ { 'O' }, "O", "reverse the sort order", act_sort_rev },
	{ { 'n' }, "n", "next row with a finding", act_next_finding },
	{ { TK_F(4), TK_ENTER, 'e' }, "F4 Enter e", "edit the mapping", act_edit },
	{ { TK_F(7), TK_INSERT, 'a' }, "F7 Ins a", "add a mapping", act_add },
	{ { 'c' }, "c", "duplicate the mapping under a new name", act_dup },
	{ { TK_F(8), TK_DELETE, 'd' }, "F8 Del d", "delete the mapping (asks first)", act_delete },
	{ { ' ', 't' }, "Space t", "enable / disable the mapping", act_toggle },
	{ { 'S' }, "S", "edit the [site] settings (interfaces, LAN, public IP)", act_site },
	{ { TK_F(2), 'w' }, "F2 w", "save the file (atomic, keeps comments)", act_save },
	{ { 'R' }, "R", "reload the file from disk", act_reload },
	{ { TK_F(5), 'A' }, "F5 A", "apply to the kernel (diff, then confirm)", act_apply },
	{ { 'C' }, "C", "confirm a pending apply (before its rollback)", act_confirm },
	{ { 'U' }, "U", "roll a pending apply back now (undo it)", act_rollback },
	{ { TK_F(9), 'i' }, "F9 i", "details of the mapping", act_detail },
	{ { 'x' }, "x", "export the table's documentation to a file", act_export },
	{ { 'D' }, "D", "DDNS panel: published address, status, does the name resolve", act_ddns },
	{ { 'p' }, "p", "probe the mapping (why does it not work?)", act_probe },
	{ { 'W' }, "W", "watch the mapping: every attempt for N seconds", act_watch },
	{ { 'l' }, "l", "access log: who connected (recorded), then who connects (live)", act_alog },
	{ { 'L' }, "L", "log of this session", act_log },
	{ { TK_F(10), 'q', TK_CTRL('c') }, "F10 q ^C", "quit (asks when there are unsaved changes)",
	  act_quit },
};

const struct tui_binding *
tui_table_bindings(size_t *n)
{
	*n = sizeof bindings / sizeof bindings[0];
	return bindings;
}

static bool
filter_key(struct tui *t, int key)
{
	switch (key) {
	case TK_ENTER:
		t->filtering = false;
		return true;
	case TK_ESC: case TK_CTRL('g'):
		t->filtering = false;
		tui_view_set_filter(t, "");
		return true;
	case TK_UP: act_up(t); return true;
	case TK_DOWN: act_down(t); return true;
	case TK_PGUP: act_pgup(t); return true;
	case TK_PGDN: act_pgdn(t); return true;
	}
	if (!tui_field_key(&t->filter, key))
		return false;
	if (strcmp(t->filter.buf, t->view.filter) != 0)
		tui_view_set_filter(t, t->filter.buf);
	return true;
}

static bool
table_key(struct tui_panel *p, struct tui *t, int key)
{
	(void)p;
	if (t->filtering)
		return filter_key(t, key);
	if (key >= '0' && key <= '9') {   /* by the full-width order, shown or not */
		enum tui_col c = digit_cols[key - '0'];

		sort_by(t, c, t->view.sort == c && !t->view.desc);
		return true;
	}
	for (size_t i = 0; i < sizeof bindings / sizeof bindings[0]; i++)
		for (int k = 0; k < 4 && bindings[i].keys[k]; k++)
			if (bindings[i].keys[k] == key) {
				bindings[i].fn(t);
				return true;
			}
	return false;
}

static void
table_free(struct tui_panel *p)
{
	free(p);
}

/* The table's header shows the DDNS status: keeping it fresh is this panel's idle work. */
static bool
table_idle(struct tui_panel *p, struct tui *t)
{
	(void)p;
	return tui_ddns_idle(t);
}

struct tui_panel *
tui_table_panel(void)
{
	struct tui_panel *p = pp_xcalloc(1, sizeof *p);

	*p = (struct tui_panel){ .name = "table", .draw = table_draw, .key = table_key,
	                         .free = table_free, .idle = table_idle, .opaque = true };
	return p;
}
