/* The apply flow: the kernel diff first, apply with a confirm countdown, confirm or roll back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"
#include "tui-internal.h"

#define DEFAULT_CONFIRM 60

enum phase { P_DIFF, P_WAIT, P_DONE };

struct apply {
	struct tui_panel p;
	enum phase phase;
	int seconds;
	char *text;                       /* what the core printed */
	char *dest;                       /* destinations first: one line per mapping it changes */
	size_t top;                       /* first screen row shown, after wrapping */
	size_t rows, page;                /* rows the wrapped text takes, rows shown (last draw) */
	char result[600];
	enum tui_role result_role;
};

static void
add_findings(struct pp_buf *b, const struct pp_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct pp_finding *f = &fs->v[i];

		pp_buf_printf(b, "%s%s%s%s: %s\n  fix: %s\n", f->sev == PP_ERROR ? "Error" : "Warning",
		              f->mapping ? " (" : "", f->mapping ? f->mapping : "", f->mapping ? ")" : "",
		              f->what, f->fix ? f->fix : "-");
	}
}

/*
 * The screen's own words for an apply's report: the backend's diff, the
 * findings with their fix, the mappings changed by name, the backend and why.
 * Not the CLI's text: the core prints nothing while it applies.
 */
static char *
report_text(const struct pp_apply_report *r)
{
	struct pp_buf b = { 0 };

	if (*r->late)
		pp_buf_printf(&b, "An earlier apply was not confirmed and %s: it was rolled back first.\n",
		              r->late);
	add_findings(&b, &r->table_findings);
	if (*r->restore_failed)
		pp_buf_printf(&b, "Error: restoring the rules from before the apply failed too: %s\n  fix: "
		              "portpilot status shows what the kernel holds now\n",
		              r->restore_failed);
	if (*r->moved_from)
		pp_buf_printf(&b, "Moving the mappings from %s to %s: %s's rules go once %s's are in.\n",
		              r->moved_from, r->backend, r->moved_from, r->backend);
	pp_buf_addstr(&b, r->diff ? r->diff : "");
	if (r->forwarding)
		pp_buf_printf(&b, "%s\n", r->forwarding > 0 ? "net.ipv4.ip_forward set to 1." :
		              "Cannot set net.ipv4.ip_forward.");
	add_findings(&b, &r->warnings);
	if (!r->planned)
		return b.data ? b.data : pp_xstrdup("");
	if (r->unchanged)
		pp_buf_addstr(&b, "nothing to change: the kernel already holds this ruleset\n");
	else
		pp_buf_printf(&b, "%s: %zu mapping(s) change, %zu chain(s) written, %zu dropped, "
		              "%zu hook(s)\n", r->dry_run ? "dry run" : "applied", r->nchanged,
		              r->chains_written, r->chains_dropped, r->hooks_changed);
	if (r->nchanged)
		pp_buf_addstr(&b, "Mappings changed:");
	for (size_t i = 0; i < r->nchanged; i++)
		pp_buf_printf(&b, " %s", r->changed[i] + 3);   /* "pp:" + name */
	if (r->nchanged)
		pp_buf_addstr(&b, "\n");
	if (r->flows_removed)
		pp_buf_printf(&b, "Running flows removed: %zu (they reconnect to the new target)\n",
		              r->flows_removed);
	if (r->flows_unlisted)
		pp_buf_printf(&b, "Warning: the conntrack table could not be read (%s): running flows keep "
		              "their old target\n  fix: modprobe nf_conntrack_netlink, and apply as root\n",
		              strerror(r->flows_errno));
	else if (r->flows_failed)
		pp_buf_printf(&b, "Warning: the kernel kept %zu conntrack entr%s (%s): those flows keep their "
		              "old target\n  fix: apply again as root\n", r->flows_failed,
		              r->flows_failed == 1 ? "y" : "ies", strerror(r->flows_errno));
	pp_buf_printf(&b, "Backend %s (%s), because %s\n", r->backend, r->variant, r->backend_why);
	return b.data ? b.data : pp_xstrdup("");
}

/* Apply (or its dry run) with o; *text is the screen's text for the report. */
static int
apply_report(struct tui *t, const struct pp_apply_opts *o, char **text, char *error, size_t n)
{
	struct pp_cli c = *t->cli;
	struct pp_apply_report r;

	c.json = false;
	c.table_path = t->path;
	int rc = pp_apply_run(&c, o, NULL, &r);

	*text = report_text(&r);
	size_t k = strnlen(r.error, n - 1);

	memcpy(error, r.error, k);        /* cut to the result line's room */
	error[k] = '\0';
	pp_apply_report_free(&r);
	return rc;
}


static void
set_text(struct apply *a, char *text)
{
	free(a->text);
	a->text = text ? text : pp_xstrdup("");
	a->top = 0;
}

/* Why an inactive mapping's rules go: in the words the table screen uses. */
static const char *
gone_why(const struct tui *t, size_t idx)
{
	const struct pp_mapping *m = &t->table->maps[idx];

	if (t->view.notes && t->view.notes[idx].nerr)
		return "  (it has errors)";
	if (!m->enabled)
		return "  (off)";
	return "  (expired)";
}

#define DEST_HEAD "Destinations (+ new, ~ changed, - removed):\n"
#define NAME_PAD 16                   /* longer names push their line, not every line */

/*
 * The destination of every mapping the apply changes, before the rule text:
 * "+ web-1  tcp 8080 -> 192.168.2.101:80". From the table and the core's
 * status (the same comparison the dry run makes), not from the printed diff.
 */
static char *
destinations(struct tui *t)
{
	const struct pp_layout_status *ls = tui_live_layout();
	struct pp_buf b = { 0 };
	int namew = 0;
	size_t n = 0;
	enum pp_sync s;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->table->n; i++) {
			const struct pp_mapping *m = &t->table->maps[i];
			char proto[128], pub[128], in[128];
			int w = tui_text_width(m->name);

			if (!tui_live_sync(t, i, &s) || s == PP_SYNC_OK || s == PP_SYNC_INACTIVE)
				continue;
			if (pass == 0) {          /* the names' width, so the destinations line up */
				if (w > namew && w <= NAME_PAD)
					namew = w;
				continue;
			}
			if (n++ == 0)
				pp_buf_addstr(&b, DEST_HEAD);
			pp_buf_printf(&b, "  %s %s%*s  %s %s %s %s",
			              s == PP_SYNC_MISSING ? "+" : s == PP_SYNC_STALE ? "-" : "~", m->name,
			              w < namew ? namew - w : 0, "", tui_view_cell(t, i, C_PROTO, proto),
			              tui_view_cell(t, i, C_PUBLIC, pub), tui_glyph(G_ARROW),
			              tui_view_cell(t, i, C_INTERNAL, in));
			if (m->val[PP_F_ALLOW])
				pp_buf_printf(&b, " from %s", m->val[PP_F_ALLOW]);
			pp_buf_printf(&b, "%s\n", s == PP_SYNC_STALE ? gone_why(t, i) : "");
		}
	for (size_t i = 0; i < ls->norphans; i++) {
		if (n++ == 0)
			pp_buf_addstr(&b, DEST_HEAD);
		pp_buf_printf(&b, "  - %s  (in the kernel, not in the table)\n", ls->orphans[i]);
	}
	if (n)
		pp_buf_addstr(&b, "\nRules (- in the kernel now, + after the apply):\n");
	return b.data ? b.data : pp_xstrdup("");
}

static void
run_diff(struct apply *a, struct tui *t)
{
	struct pp_apply_opts o = { .dry_run = true };
	char *text, error[sizeof a->result - 64];

	if (apply_report(t, &o, &text, error, sizeof error) != 0)
		snprintf(a->result, sizeof a->result, "The dry run failed; nothing was changed: %s", error);
	tui_live_refresh(t);              /* the status as of this diff, not of the last tick */
	free(a->dest);
	a->dest = destinations(t);
	set_text(a, text);
}

static void
run_apply(struct apply *a, struct tui *t)
{
	struct pp_apply_opts o = { .confirm_seconds = a->seconds };
	char *text, error[sizeof a->result - 64];
	int rc = apply_report(t, &o, &text, error, sizeof error);

	set_text(a, text);
	free(a->dest);
	a->dest = NULL;                   /* the diff is done: what the kernel said now */
	if (rc != 0) {
		a->phase = P_DONE;
		a->result_role = TR_ERROR;
		snprintf(a->result, sizeof a->result, "Apply failed, the kernel was left as it was: %s", error);
		tui_logf(t, "apply failed");
		return;
	}
	a->phase = P_WAIT;
	tui_live_set_deadline(time(NULL) + a->seconds);
	tui_logf(t, "applied %s; rollback in %d s unless confirmed", t->path, a->seconds);
	tui_live_refresh(t);
}

/*
 * The screen's own words for what confirm or rollback did, from the engine's
 * report (never the CLI's text). What to do comes first: the line is cut at
 * the screen's width. U is the table's rollback key.
 */
static void
outcome_message(struct tui *t, const struct pp_confirm_report *r)
{
	char when[20];

	pp_format_datetime(r->deadline, when);
	switch (r->outcome) {
	case PP_CO_CONFIRMED:
		tui_message(t, TR_OK, "Confirmed: the ruleset stays and is persisted for boot (backend %s)%s",
		            r->backend, r->timer_alive ? "." : "; its rollback timer had already ended.");
		break;
	case PP_CO_ROLLED_BACK:
		tui_message(t, TR_WARNING, "Rolled back: the kernel holds the rules from before the apply (%s).",
		            r->backend);
		break;
	case PP_CO_NONE:
		tui_message(t, TR_WARNING, "Nothing awaits confirmation any more (confirmed or rolled back "
		            "from another session).");
		break;
	case PP_CO_LATE:
		if (*r->error)
			tui_message(t, TR_ERROR, "Too late to confirm, and the rollback failed: %s", r->error);
		else
			tui_message(t, TR_ERROR, "Too late to confirm: rolled back to the rules from before the "
			            "apply (its timer was gone; deadline %s). Apply again.", when + 11);
		break;
	case PP_CO_UNFINISHED:
		tui_message(t, TR_ERROR, "Not confirmed: the apply did not finish recording its rules. U rolls "
		            "back now%s%s.", r->timer_alive ? "; the timer does at " : "; its timer is gone",
		            r->timer_alive ? when + 11 : "");
		break;
	case PP_CO_DRIFTED:
		tui_message(t, TR_ERROR, "Not confirmed: %s; its timer is gone. U rolls back to the rules "
		            "from before it.", r->error);
		break;
	default:
		tui_message(t, TR_ERROR, "%s failed: %s", r->rollback ? "Rollback" : "Confirm", r->error);
	}
}

int
tui_apply_confirm(struct tui *t)
{
	struct pp_cli c = *t->cli;
	struct pp_confirm_report r;

	if (tui_live_deadline() == 0) {
		tui_message(t, TR_WARNING, "Nothing awaits confirmation.");
		return -1;
	}
	c.table_path = t->path;
	if (pp_confirm_run(&c, &r) == 0) {
		tui_live_set_deadline(0);
		for (size_t i = 0; i < t->nedited; i++)
			free(t->edited[i]);
		t->nedited = 0;               /* applied and kept: nothing pending any more */
	}
	outcome_message(t, &r);
	tui_logf(t, r.rc == 0 ? "confirmed" : "confirm failed");
	tui_live_refresh(t);
	return r.rc;
}

int
tui_apply_rollback(struct tui *t)
{
	struct pp_cli c = *t->cli;
	struct pp_confirm_report r;

	if (tui_live_deadline() == 0) {
		tui_message(t, TR_WARNING, "Nothing awaits confirmation: no apply to roll back.");
		return -1;
	}
	c.table_path = t->path;
	if (pp_rollback_run(&c, NULL, &r) == 0)
		tui_live_set_deadline(0);
	outcome_message(t, &r);
	tui_logf(t, r.rc == 0 ? "rolled back on request" : "rollback failed");
	tui_live_refresh(t);
	return r.rc;
}

/* ---- drawing ---- */

/*
 * One line wrapped to w columns: the rest goes on the next rows, indented like
 * the line and marked as a continuation, so the end of a rule (its
 * destination) is never cut off. Returns the rows it takes; skips the first
 * *skip of them and draws the others from *y down to y1.
 */
static int
wrap_line(const char *s, size_t n, enum tui_role r, int w, int *y, int y1, size_t *skip)
{
	char *line = pp_xasprintf("%.*s", (int)n, s), lead[64];   /* any length: nothing cut */
	const char *p = line;
	size_t ind = strspn(line, " "), k;
	int rows = 0;

	if (ind > 40)
		ind = 40;
	snprintf(lead, sizeof lead, "%*s%s ", (int)ind + 2, "", tui_glyph(G_CONT));
	do {
		int x = rows ? tui_text_width(lead) : 0;

		k = tui_text_wrap(p, w - x);
		if (*skip) {
			(*skip)--;
		} else if (*y < y1) {
			char *seg = pp_xasprintf("%.*s", (int)k, p);

			if (rows)
				tui_draw_str(*y, 1, x, TR_DIM, lead);
			tui_draw_text(*y, 1 + x, w - x, r, seg);
			free(seg);
			(*y)++;
		}
		rows++;
		p += k;
		while (*p == ' ')
			p++;
	} while (*p);
	free(line);
	return rows;
}

/* Draw s's lines wrapped, the first *skip rows skipped; returns the rows all of s takes. */
static size_t
draw_block(const char *s, struct tui *t, int *y, int y1, size_t *skip, bool diff)
{
	size_t rows = 0;

	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		const char *p = s + strspn(s, " ");
		enum tui_role r = !diff ? (s[0] == ' ' ? TR_NORMAL : TR_HEADER) :
		                  *p == '+' ? TR_OK : *p == '-' ? TR_ERROR : TR_NORMAL;

		rows += (size_t)wrap_line(s, n, r, t->cols - 2, y, y1, skip);
		s = nl ? nl + 1 : NULL;
	}
	return rows;
}

static void
draw_text(struct apply *a, struct tui *t, int y0, int y1)
{
	size_t skip = 0;
	int y = y1;                       /* first pass: count the rows, draw nothing */

	a->rows = draw_block(a->dest, t, &y, y1, &skip, false);
	a->rows += draw_block(a->text, t, &y, y1, &skip, true);
	a->page = (size_t)(y1 - y0);
	if (a->top + a->page > a->rows)   /* no empty rows below the end (also after a resize) */
		a->top = a->rows > a->page ? a->rows - a->page : 0;
	skip = a->top;
	y = y0;
	draw_block(a->dest, t, &y, y1, &skip, false);
	draw_block(a->text, t, &y, y1, &skip, true);
}

static void
draw_state(struct apply *a, struct tui *t, int y)
{
	char line[300];
	long left = (long)(tui_live_deadline() - time(NULL));

	switch (a->phase) {
	case P_DIFF:
		snprintf(line, sizeof line, "Apply this change? The kernel rolls it back after %d s "
		         "unless you confirm.", a->seconds);
		if (tui_text_width(line) > t->cols)   /* a phone's terminal: the same, shorter */
			snprintf(line, sizeof line, "Apply? Rolled back after %d s unless confirmed.",
			         a->seconds);
		tui_draw_fit(y, 0, t->cols, TR_WARNING, line);
		break;
	case P_WAIT:
		if (tui_live_deadline() == 0) {
			a->phase = P_DONE;
			snprintf(a->result, sizeof a->result, "No confirm pending any more (confirmed or "
			         "rolled back elsewhere).");
			a->result_role = TR_WARNING;
			break;
		}
		if (tui_live_timer_gone())
			snprintf(line, sizeof line, "Applied, but the rollback timer is gone: nothing rolls "
			         "back by itself. C confirms, U rolls back.");
		else
			snprintf(line, sizeof line, "Applied. Rollback in %ld s unless confirmed: c confirms.",
			         left > 0 ? left : 0);
		tui_draw_fit(y, 0, t->cols, TR_ERROR, line);
		break;
	case P_DONE:
		tui_draw_fit(y, 0, t->cols, a->result_role, a->result);
		break;
	}
}

static void
apply_draw(struct tui_panel *p, struct tui *t)
{
	static const char *const diff_hints[] = { "a Enter F5", "apply", "+ -", "seconds",
		"Up/Down PgUp/PgDn", "scroll", "Esc q", "cancel", NULL };
	static const char *const wait_hints[] = { "c C F2", "confirm", "r U", "roll back now",
		"Esc", "back to the table (the countdown goes on)", NULL };
	static const char *const done_hints[] = { "any key", "back to the table", NULL };
	struct apply *a = (struct apply *)p;

	tui_draw_text(0, 0, t->cols, TR_TITLE, " portpilot  apply to the kernel");
	tui_draw_hline(1, 0, t->cols, TR_FRAME);
	draw_text(a, t, 2, t->rows - 3);
	draw_state(a, t, t->rows - 2);
	tui_hints(t, t->rows - 1, a->phase == P_DIFF ? diff_hints :
	          a->phase == P_WAIT ? wait_hints : done_hints);
}

/* ---- keys: one table, also what the help screen (and so the man page) lists ---- */

#define PH(p) (1u << (p))
#define ANY_KEY (-2)                  /* keys[0]: every key not listed before */

static void
k_apply(struct apply *a, struct tui *t, int key)
{
	(void)key;
	run_apply(a, t);
}

static void
k_seconds(struct apply *a, struct tui *t, int key)
{
	(void)t;
	a->seconds += key == '+' ? 10 : -10;
	if (a->seconds < 10)
		a->seconds = 10;
}

static void
k_scroll(struct apply *a, struct tui *t, int key)
{
	(void)t;
	if (key == TK_UP || key == 'k')
		a->top -= a->top > 0;
	else if (key == TK_DOWN || key == 'j')
		a->top += a->top + a->page < a->rows;
	else if (key == TK_PGUP)
		a->top = a->top > a->page ? a->top - a->page : 0;
	else if (a->top + a->page < a->rows)
		a->top += a->page;
}

static void
k_back(struct apply *a, struct tui *t, int key)
{
	(void)a;
	(void)key;
	tui_pop(t);
}

static void
k_confirm(struct apply *a, struct tui *t, int key)
{
	(void)key;
	a->phase = P_DONE;
	a->result_role = tui_apply_confirm(t) == 0 ? TR_OK : TR_ERROR;
	snprintf(a->result, sizeof a->result, "%s", t->msg);
}

static void
k_rollback(struct apply *a, struct tui *t, int key)
{
	(void)key;
	a->phase = P_DONE;
	a->result_role = tui_apply_rollback(t) == 0 ? TR_WARNING : TR_ERROR;
	snprintf(a->result, sizeof a->result, "%s", t->msg);
}

static const struct apply_binding {
	unsigned phases;
	int keys[5];
	const char *label, *help;
	void (*fn)(struct apply *a, struct tui *t, int key);
} apply_bindings[] = {
	{ PH(P_DIFF), { 'a', TK_ENTER, TK_F(5) }, "a Enter F5",
	  "diff shown: apply it, with the confirm countdown", k_apply },
	{ PH(P_DIFF), { '+', '-' }, "+ -",
	  "diff shown: 10 seconds more / less before the rollback (at least 10)", k_seconds },
	{ PH(P_DIFF) | PH(P_WAIT) | PH(P_DONE), { TK_UP, TK_DOWN, 'k', 'j' }, "Up Down k j",
	  "scroll the diff a row (long rules wrap, marked at the left)", k_scroll },
	{ PH(P_DIFF) | PH(P_WAIT) | PH(P_DONE), { TK_PGUP, TK_PGDN }, "PgUp PgDn",
	  "scroll the diff a page", k_scroll },
	{ PH(P_DIFF), { TK_ESC, 'q', TK_CTRL('c'), TK_F(10) }, "Esc q ^C F10",
	  "diff shown: cancel, nothing is applied", k_back },
	{ PH(P_WAIT), { 'c', 'C', TK_F(2) }, "c C F2",
	  "countdown running: confirm, the ruleset stays", k_confirm },
	{ PH(P_WAIT), { 'r', 'U' }, "r U",              /* U as on the table screen */
	  "countdown running: roll back now", k_rollback },
	{ PH(P_WAIT), { TK_ESC, 'q', TK_CTRL('c') }, "Esc q ^C",
	  "countdown running: back to the table (the countdown goes on; C confirms from there)",
	  k_back },
	{ PH(P_DONE), { ANY_KEY }, "any key", "after confirm or rollback: back to the table", k_back },
};

const char *
tui_apply_key_row(size_t i, const char **help)
{
	if (i >= sizeof apply_bindings / sizeof apply_bindings[0])
		return NULL;
	*help = apply_bindings[i].help;
	return apply_bindings[i].label;
}

/* Every key is used while the apply screen is up: none falls through to the table. */
static bool
apply_key(struct tui_panel *p, struct tui *t, int key)
{
	struct apply *a = (struct apply *)p;

	for (size_t i = 0; i < sizeof apply_bindings / sizeof apply_bindings[0]; i++) {
		const struct apply_binding *b = &apply_bindings[i];

		if (!(b->phases & PH(a->phase)))
			continue;
		for (int k = 0; k < 5 && b->keys[k]; k++)
			if (b->keys[k] == key || b->keys[k] == ANY_KEY) {
				b->fn(a, t, key);
				return true;
			}
	}
	return true;
}

static void
apply_free(struct tui_panel *p)
{
	struct apply *a = (struct apply *)p;

	free(a->text);
	free(a->dest);
	free(a);
}

static struct tui_panel *
apply_panel(struct tui *t)
{
	struct apply *a = pp_xcalloc(1, sizeof *a);

	a->p = (struct tui_panel){ .name = "apply", .draw = apply_draw, .key = apply_key,
	                           .free = apply_free, .opaque = true };
	a->seconds = DEFAULT_CONFIRM;
	run_diff(a, t);
	return &a->p;
}

static void
save_answer(struct tui *t, int key, void *ctx)
{
	(void)ctx;
	if (key == 's' && tui_save(t) == 0)
		tui_push(t, apply_panel(t));
}

void
tui_apply_start(struct tui *t)
{
	if (!tui_live_available()) {
		tui_message(t, TR_WARNING, "Apply is not possible here: %s", tui_live_why());
		return;
	}
	if (tui_live_deadline()) {
		tui_message(t, TR_WARNING, "An apply awaits confirmation: C confirms it, U rolls it back.");
		return;
	}
	if (t->table->dirty) {
		tui_push(t, tui_prompt_panel("Save first", "Apply works from the saved file.\n\n"
		                             "s save, then show the diff    c cancel", "sc",
		                             save_answer, NULL));
		return;
	}
	tui_push(t, apply_panel(t));
}
