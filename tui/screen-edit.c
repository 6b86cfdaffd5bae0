/* The edit form: add, edit or duplicate a mapping, checked as you type by the core's validator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/util.h"
#include "tui-internal.h"

/* The name, then every key of the mapping, the IPv6 ones (issue 15) last. */
#define NFIELD (1 + PP_F__COUNT)
#define FNAME 0
#define FKEY(f) ((f) + 1)
#define MAX_NOTES 8

struct form {
	struct tui_panel p;
	char *orig;                       /* name being edited; NULL when adding */
	struct tui_field f[NFIELD];
	char init[NFIELD][256];           /* values the form opened with */
	char err[NFIELD][1100];           /* per field: what is wrong, or "" */
	bool warn[NFIELD];                /* err[] is a warning, not an error */
	bool touched[NFIELD];             /* typed in or left: its message shows */
	bool tried;                       /* accept was pressed: every message shows */
	char notes[MAX_NOTES][1100];       /* findings not tied to one field */
	bool note_warn[MAX_NOTES];
	int nnotes;
	int focus;
	char msg[1100];
};

static const char *protos[] = { "tcp", "udp", "both" };

static const char *
label(int i)
{
	return i == FNAME ? "name" : pp_field_name((enum pp_field)(i - 1));
}

static bool
is_choice(int i)
{
	return i == FKEY(PP_F_PROTOCOL) || i == FKEY(PP_F_ENABLED);
}

/* ---- validation ---- */

static void
add_quoted(struct pp_buf *b, const char *key, const char *v)
{
	if (strpbrk(v, ";#"))
		pp_buf_printf(b, "%s = \"%s\"\n", key, v);
	else
		pp_buf_printf(b, "%s = %s\n", key, v);
}

/*
 * Cross-field checks (missing keys, range lengths, LAN subnet, sensitive
 * ports open to all, expiry) come from pp_table_check on a one-mapping
 * table with the real [site]: the same messages as `portpilot check`.
 */
static void
check_scratch(struct form *fm, struct tui *t, const char *name)
{
	struct pp_buf b = { 0 };
	struct pp_table *tb;
	struct pp_findings fs = { 0 };
	struct pp_error err;

	pp_buf_addstr(&b, "[site]\n");
	for (int s = 0; s < PP_S__COUNT; s++)
		if (t->table->site.val[s])
			add_quoted(&b, pp_site_field_name((enum pp_site_field)s), t->table->site.val[s]);
	pp_buf_printf(&b, "[%s]\n", name);
	for (int i = 1; i < NFIELD; i++)
		if (fm->f[i].len)
			add_quoted(&b, label(i), fm->f[i].buf);
	if (pp_table_load_mem(t->path, b.data, b.len, &tb, &err) == 0) {
		pp_table_check(tb, time(NULL), &fs);
		for (size_t i = 0; i < fs.n; i++) {     /* fs holds the parse findings too */
			const struct pp_finding *f = &fs.v[i];
			int k = f->field ? pp_field_lookup(f->field) : -1;

			if (f->mapping == NULL || strcmp(f->mapping, name) != 0)
				continue;
			if (k >= 0 && fm->err[FKEY(k)][0] == '\0') {
				snprintf(fm->err[FKEY(k)], sizeof fm->err[0], "%s%s%s", f->what,
				         f->fix ? "; " : "", f->fix ? f->fix : "");
				fm->warn[FKEY(k)] = f->sev == PP_WARNING;
			} else if (k < 0 && fm->nnotes < MAX_NOTES) {
				snprintf(fm->notes[fm->nnotes], sizeof fm->notes[0], "%s%s%s", f->what,
				         f->fix ? "; " : "", f->fix ? f->fix : "");
				fm->note_warn[fm->nnotes++] = f->sev == PP_WARNING;
			}
		}
		pp_findings_free(&fs);
		pp_table_free(tb);
	}
	pp_buf_free(&b);
}

static void
check_name(struct form *fm, struct tui *t)
{
	const char *name = fm->f[FNAME].buf;

	if (name[0] == '\0')
		snprintf(fm->err[FNAME], sizeof fm->err[0], "required: the mapping's name, e.g. web-4");
	else if (strcasecmp(name, "site") == 0)
		snprintf(fm->err[FNAME], sizeof fm->err[0], "[site] is reserved; choose another name");
	else if (strpbrk(name, "[]=;#\"") || strchr(name, ' '))
		snprintf(fm->err[FNAME], sizeof fm->err[0],
		         "use letters, digits, '-', '_' or '.' (no spaces or []=;#\")");
	else if ((fm->orig == NULL || strcmp(fm->orig, name) != 0) && pp_table_find(t->table, name))
		snprintf(fm->err[FNAME], sizeof fm->err[0],
		         "a mapping named %.200s already exists; choose another name", name);
}

static void
validate(struct form *fm, struct tui *t)
{
	struct pp_mapping scratch;
	struct pp_error err;

	memset(fm->err, 0, sizeof fm->err);
	memset(fm->warn, 0, sizeof fm->warn);
	fm->nnotes = 0;
	check_name(fm, t);
	for (int i = 1; i < NFIELD; i++) {
		if (fm->f[i].len == 0)
			continue;
		memset(&scratch, 0, sizeof scratch);
		if (pp_mapping_parse_field(&scratch, (enum pp_field)(i - 1), fm->f[i].buf, &err) < 0)
			snprintf(fm->err[i], sizeof fm->err[0], "%s", err.msg);
		pp_mapping_parsed_free(&scratch);
	}
	check_scratch(fm, t, fm->err[FNAME][0] ? "new-mapping" : fm->f[FNAME].buf);
}

static int
first_error(const struct form *fm)
{
	for (int i = 0; i < NFIELD; i++)
		if (fm->err[i][0] && !fm->warn[i])
			return i;
	return -1;
}

/* ---- drawing ---- */

/* Errors show once a field was typed in or accept was tried; warnings always. */
static bool
shown(const struct form *fm, int i)
{
	return fm->err[i][0] && (fm->touched[i] || fm->tried || fm->warn[i]);
}

static void
draw_field(struct form *fm, struct tui *t, int i, int y, int win, int *cx)
{
	bool focus = i == fm->focus;
	char buf[300];
	int x = 2 + 16;

	tui_draw_str(y, 2, 15, focus ? TR_KEY : TR_NORMAL, label(i));
	if (is_choice(i)) {
		snprintf(buf, sizeof buf, "< %s >", fm->f[i].buf);
		tui_draw_text(y, x, win, focus ? TR_SELECTED : TR_INPUT, buf);
	} else if (focus) {
		*cx = tui_field_draw(&fm->f[i], y, x, win, TR_INPUT);
	} else {
		tui_draw_text(y, x, win, TR_INPUT, fm->f[i].buf);
	}
	if (shown(fm, i))
		tui_draw_str(y, x + win + 1, t->cols - x - win - 2, fm->warn[i] ? TR_WARNING : TR_ERROR,
		             fm->err[i]);
}

/* Long text over several lines of w columns, from row y up to row ymax; returns the next row. */
static int
draw_wrapped(int y, int ymax, int x, int w, enum tui_role r, const char *s)
{
	while (*s && y < ymax) {
		size_t n = tui_text_fit(s, w);

		if (s[n] != '\0') {           /* break at a space when there is one */
			size_t sp = n;
			while (sp > 0 && s[sp] != ' ')
				sp--;
			if (sp > 0)
				n = sp;
		}
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)n, s);
		tui_draw_text(y++, x, w, r, line);
		s += n;
		while (*s == ' ')
			s++;
	}
	return y;
}

static void
form_draw(struct tui_panel *p, struct tui *t)
{
	static const char *const hints[] = { "Tab/Up/Down", "field", "Space", "pick",
		"Enter F2", "accept", "Esc F10", "cancel", "F1 ^T", "help", NULL };
	struct form *fm = (struct form *)p;
	/* At 80x24 the fields take the line under the title (no rule there) and the one above the
	   messages: a line for them stays, as does the status line. */
	int top = t->rows >= NFIELD + 6 ? 2 : 1, y0 = top + NFIELD + (top == 2);
	int win = t->cols >= 120 ? 40 : 28, cx = -1, y = y0, ymax = t->rows - 2;
	char title[200];

	if (fm->orig)
		snprintf(title, sizeof title, " portpilot  edit mapping %s", fm->orig);
	else
		snprintf(title, sizeof title, " portpilot  new mapping");
	tui_draw_text(0, 0, t->cols, TR_TITLE, title);
	if (top == 2)
		tui_draw_hline(1, 0, t->cols, TR_FRAME);
	for (int i = 0; i < NFIELD; i++)
		draw_field(fm, t, i, top + i, win, &cx);
	/* Whole messages: the field being typed, then every warning. */
	for (int i = 0; i < NFIELD; i++) {
		char line[1200];

		if (!shown(fm, i) || (i != fm->focus && !fm->warn[i]))
			continue;
		snprintf(line, sizeof line, "%s: %s", label(i), fm->err[i]);
		y = draw_wrapped(y, ymax, 2, t->cols - 4, fm->warn[i] ? TR_WARNING : TR_ERROR, line);
	}
	for (int i = 0; i < fm->nnotes; i++)
		y = draw_wrapped(y, ymax, 2, t->cols - 4, fm->note_warn[i] ? TR_WARNING : TR_ERROR,
		                 fm->notes[i]);
	/* No room below the fields (80x24 and smaller): the status line carries the message of the
	   field being typed, else the first warning (a warning must not go unseen). */
	int sm = shown(fm, fm->focus) ? fm->focus : -1;
	for (int i = 0; sm < 0 && i < NFIELD; i++)
		if (shown(fm, i) && fm->warn[i])
			sm = i;
	if (fm->msg[0] == '\0' && y0 >= ymax && sm >= 0) {
		char line[1200];

		snprintf(line, sizeof line, "%s: %s", label(sm), fm->err[sm]);
		tui_draw_fit(t->rows - 2, 0, t->cols, fm->warn[sm] ? TR_WARNING : TR_ERROR, line);
	} else {
		tui_draw_text(t->rows - 2, 0, t->cols, fm->msg[0] ? TR_ERROR : TR_NORMAL, fm->msg);
	}
	tui_hints(t, t->rows - 1, hints);
	if (cx >= 0)
		tui_draw_cursor(top + fm->focus, cx);
}

/* ---- keys ---- */

static void
cycle_choice(struct form *fm, int key)
{
	struct tui_field *f = &fm->f[fm->focus];
	int step = key == TK_LEFT ? 2 : 1;

	if (fm->focus == FKEY(PP_F_ENABLED)) {
		if (key == 'y' || key == 'n')
			tui_field_set(f, key == 'y' ? "yes" : "no");
		else
			tui_field_set(f, strcmp(f->buf, "yes") == 0 ? "no" : "yes");
		return;
	}
	if (key == 't' || key == 'u' || key == 'b') {
		tui_field_set(f, key == 't' ? "tcp" : key == 'u' ? "udp" : "both");
		return;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(f->buf, protos[i]) == 0) {
			tui_field_set(f, protos[(i + step) % 3]);
			return;
		}
	tui_field_set(f, "tcp");
}

/* + and - in the expires field: one day later or earlier, from now when empty. */
static void
shift_expiry(struct tui_field *f, int days)
{
	time_t when;
	char out[20];

	if (f->len == 0 || pp_parse_datetime(f->buf, &when) < 0)
		when = time(NULL);
	when += (time_t)days * 86400;
	pp_format_datetime(when, out);
	tui_field_set(f, out);
}

static bool submit(struct form *fm, struct tui *t);

static bool
form_key(struct tui_panel *p, struct tui *t, int key)
{
	struct form *fm = (struct form *)p;
	bool changed = false;

	fm->msg[0] = '\0';
	switch (key) {
	case TK_TAB: case TK_DOWN: case TK_CTRL('n'):
		fm->touched[fm->focus] = true;
		fm->focus = (fm->focus + 1) % NFIELD;
		return true;
	case TK_BTAB: case TK_UP: case TK_CTRL('p'):
		fm->touched[fm->focus] = true;
		fm->focus = (fm->focus + NFIELD - 1) % NFIELD;
		return true;
	case TK_ESC: case TK_CTRL('g'): case TK_CTRL('c'): case TK_F(10):
		tui_pop(t);
		return true;
	case TK_ENTER: case TK_F(2):
		return submit(fm, t);
	case TK_F(1): case TK_CTRL('t'):   /* letters are text here: a control key */
		tui_push(t, tui_help_panel());
		return true;
	}
	if (is_choice(fm->focus)) {
		if (key == ' ' || key == TK_LEFT || key == TK_RIGHT || (key > 0 && key < 0x80 && strchr("yntub", key)))
			cycle_choice(fm, key), changed = true;
	} else if (fm->focus == FKEY(PP_F_EXPIRES) && (key == '+' || key == '-')) {
		shift_expiry(&fm->f[fm->focus], key == '+' ? 1 : -1);
		changed = true;
	} else {
		changed = tui_field_key(&fm->f[fm->focus], key);
	}
	if (changed) {
		fm->touched[fm->focus] = true;
		validate(fm, t);
	}
	return changed;
}

/* ---- writing the form into the table ---- */

/* All changed keys in one core edit: one re-read of the table, all or nothing. */
static int
write_fields(struct form *fm, struct tui *t, const char *name, bool fresh, struct pp_error *err)
{
	struct pp_kv kv[NFIELD];
	size_t n = 0;

	for (int i = 1; i < NFIELD; i++) {
		const char *v = fm->f[i].buf;

		if (!fresh && strcmp(v, fm->init[i]) == 0)
			continue;             /* untouched keys keep their line as written */
		if (fresh && v[0] == '\0')
			continue;
		kv[n].key = label(i);
		kv[n++].value = v[0] ? v : NULL;
	}
	return n ? pp_table_set_many(t->table, name, kv, n, err) : 0;
}

static bool
submit(struct form *fm, struct tui *t)
{
	const char *name = fm->f[FNAME].buf;
	struct pp_error err;
	int bad = first_error(fm), rc;

	fm->tried = true;
	if (bad >= 0) {
		fm->focus = bad;
		snprintf(fm->msg, sizeof fm->msg, "Not accepted: %s is wrong (see the message).",
		         label(bad));
		return true;
	}
	if (fm->orig == NULL) {
		rc = pp_table_add(t->table, name, &err);
		if (rc == 0 && (rc = write_fields(fm, t, name, true, &err)) < 0)
			pp_table_del(t->table, name, NULL);
	} else {
		rc = 0;
		if (strcmp(fm->orig, name) != 0)
			rc = pp_table_rename(t->table, fm->orig, name, &err);
		if (rc == 0)
			rc = write_fields(fm, t, name, false, &err);
	}
	if (rc < 0) {
		snprintf(fm->msg, sizeof fm->msg, "%s", err.msg);
		return true;
	}
	tui_mark_edited(t, name);
	tui_logf(t, "%s %s (not saved yet)", fm->orig ? "edited" : "added", name);
	tui_message(t, TR_OK, "%s %s; w saves the file.", fm->orig ? "Changed" : "Added", name);
	name = pp_xstrdup(name);          /* the panel goes away */
	tui_pop(t);
	tui_view_rebuild(t);
	tui_view_goto_name(t, name);
	free((char *)name);
	return true;
}

static void
form_free(struct tui_panel *p)
{
	struct form *fm = (struct form *)p;

	free(fm->orig);
	free(fm);
}

/* A name for a copy that no mapping has yet: NAME-copy, NAME-copy2, ... */
static void
copy_name(struct tui *t, const char *name, struct tui_field *f)
{
	char buf[256];

	for (int i = 1; i < 1000; i++) {
		if (i == 1)
			snprintf(buf, sizeof buf, "%s-copy", name);
		else
			snprintf(buf, sizeof buf, "%s-copy%d", name, i);
		if (pp_table_find(t->table, buf) == NULL)
			break;
	}
	tui_field_set(f, buf);
}

struct tui_panel *
tui_edit_panel(struct tui *t, const char *name, bool copy)
{
	struct form *fm = pp_xcalloc(1, sizeof *fm);
	const struct pp_mapping *m = name ? pp_table_find(t->table, name) : NULL;

	fm->p = (struct tui_panel){ .name = "edit", .draw = form_draw, .key = form_key,
	                            .free = form_free, .opaque = true };
	if (m && !copy)
		fm->orig = pp_xstrdup(m->name);
	tui_field_set(&fm->f[FNAME], m ? m->name : "");
	if (m && copy)
		copy_name(t, m->name, &fm->f[FNAME]);
	for (int i = 1; i < NFIELD; i++)
		tui_field_set(&fm->f[i], m ? m->val[i - 1] : NULL);
	if (fm->f[FKEY(PP_F_PROTOCOL)].len == 0)
		tui_field_set(&fm->f[FKEY(PP_F_PROTOCOL)], "tcp");
	if (fm->f[FKEY(PP_F_ENABLED)].len == 0)
		tui_field_set(&fm->f[FKEY(PP_F_ENABLED)], "yes");
	for (int i = 0; i < NFIELD; i++)
		memcpy(fm->init[i], fm->f[i].buf, sizeof fm->init[i]);
	fm->focus = m && !copy ? 1 : 0;
	validate(fm, t);
	return &fm->p;
}
