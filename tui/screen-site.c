/* The [site] form: name, interfaces, LAN subnet, public IP, hairpin, checked by the core as you type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/util.h"
#include "tui-internal.h"

struct site_form {
	struct tui_panel p;
	struct tui_field f[PP_S__COUNT];
	char init[PP_S__COUNT][256];
	char err[PP_S__COUNT][1100];
	bool warn[PP_S__COUNT];
	int focus;
	char msg[1100];
};

/* The core's findings about [site] alone, from a table holding only the form's [site]. */
static void
validate(struct site_form *sf, struct tui *t)
{
	struct pp_buf b = { 0 };
	struct pp_findings fs = { 0 };
	struct pp_table *tb;
	struct pp_error err;

	memset(sf->err, 0, sizeof sf->err);
	memset(sf->warn, 0, sizeof sf->warn);
	pp_buf_addstr(&b, "[site]\n");
	for (int i = 0; i < PP_S__COUNT; i++)
		if (sf->f[i].len)
			pp_buf_printf(&b, strpbrk(sf->f[i].buf, ";#") ? "%s = \"%s\"\n" : "%s = %s\n",
			              pp_site_field_name((enum pp_site_field)i), sf->f[i].buf);
	if (pp_table_load_mem(t->path, b.data, b.len, &tb, &err) == 0) {
		pp_table_check(tb, time(NULL), &fs);
		for (size_t i = 0; i < fs.n; i++) {     /* fs holds the parse findings too */
			const struct pp_finding *f = &fs.v[i];

			for (int k = 0; f->field && k < PP_S__COUNT; k++)
				if (strcmp(f->field, pp_site_field_name((enum pp_site_field)k)) == 0 &&
				    sf->err[k][0] == '\0') {
					snprintf(sf->err[k], sizeof sf->err[k], "%s%s%s", f->what,
					         f->fix ? "; " : "", f->fix ? f->fix : "");
					sf->warn[k] = f->sev == PP_WARNING;
				}
		}
		pp_findings_free(&fs);
		pp_table_free(tb);
	}
	pp_buf_free(&b);
}

static void
site_draw(struct tui_panel *p, struct tui *t)
{
	static const char *const hints[] = { "Tab/Up/Down", "field", "Space", "hairpin",
		"Enter F2", "accept", "Esc F10", "cancel", NULL };
	struct site_form *sf = (struct site_form *)p;
	int win = t->cols >= 120 ? 40 : 28, x = 18, cx = -1, y = 3 + PP_S__COUNT;

	tui_draw_text(0, 0, t->cols, TR_TITLE, " portpilot  site settings [site]");
	tui_draw_hline(1, 0, t->cols, TR_FRAME);
	for (int i = 0; i < PP_S__COUNT; i++) {
		bool focus = i == sf->focus;

		tui_draw_str(2 + i, 2, 15, focus ? TR_KEY : TR_NORMAL,
		             pp_site_field_name((enum pp_site_field)i));
		if (focus && i != PP_S_HAIRPIN)
			cx = tui_field_draw(&sf->f[i], 2 + i, x, win, TR_INPUT);
		else
			tui_draw_text(2 + i, x, win, focus ? TR_SELECTED : TR_INPUT, sf->f[i].buf);
		if (sf->err[i][0])
			tui_draw_str(2 + i, x + win + 1, t->cols - x - win - 2,
			             sf->warn[i] ? TR_WARNING : TR_ERROR, sf->err[i]);
	}
	if (sf->err[sf->focus][0])
		tui_draw_text(y, 2, t->cols - 4, sf->warn[sf->focus] ? TR_WARNING : TR_ERROR,
		              sf->err[sf->focus]);
	tui_draw_text(t->rows - 2, 0, t->cols, TR_ERROR, sf->msg);
	tui_hints(t, t->rows - 1, hints);
	if (cx >= 0)
		tui_draw_cursor(2 + sf->focus, cx);
}

static bool
submit(struct site_form *sf, struct tui *t)
{
	struct pp_error err;

	for (int i = 0; i < PP_S__COUNT; i++) {
		const char *v = sf->f[i].buf;

		if (strcmp(v, sf->init[i]) == 0)
			continue;
		if (pp_table_set(t->table, "site", pp_site_field_name((enum pp_site_field)i),
		                 v[0] ? v : NULL, &err) < 0) {
			sf->focus = i;
			snprintf(sf->msg, sizeof sf->msg, "%s", err.msg);
			return true;
		}
	}
	tui_logf(t, "edited [site] (not saved yet)");
	tui_message(t, TR_OK, "Changed [site]; w saves the file.");
	tui_pop(t);
	tui_view_rebuild(t);
	return true;
}

static bool
site_key(struct tui_panel *p, struct tui *t, int key)
{
	struct site_form *sf = (struct site_form *)p;
	bool changed;

	sf->msg[0] = '\0';
	switch (key) {
	case TK_TAB: case TK_DOWN: case TK_CTRL('n'):
		sf->focus = (sf->focus + 1) % PP_S__COUNT;
		return true;
	case TK_BTAB: case TK_UP: case TK_CTRL('p'):
		sf->focus = (sf->focus + PP_S__COUNT - 1) % PP_S__COUNT;
		return true;
	case TK_ESC: case TK_CTRL('g'): case TK_CTRL('c'): case TK_F(10):
		tui_pop(t);
		return true;
	case TK_ENTER: case TK_F(2):
		return submit(sf, t);
	}
	if (sf->focus == PP_S_HAIRPIN) {
		if (key != ' ' && key != TK_LEFT && key != TK_RIGHT && key != 'y' && key != 'n')
			return false;
		tui_field_set(&sf->f[PP_S_HAIRPIN], key == 'y' ? "yes" : key == 'n' ? "no" :
		              strcmp(sf->f[PP_S_HAIRPIN].buf, "yes") == 0 ? "no" : "yes");
		changed = true;
	} else {
		changed = tui_field_key(&sf->f[sf->focus], key);
	}
	if (changed)
		validate(sf, t);
	return changed;
}

static void
site_free(struct tui_panel *p)
{
	free(p);
}

struct tui_panel *
tui_site_panel(struct tui *t)
{
	struct site_form *sf = pp_xcalloc(1, sizeof *sf);

	sf->p = (struct tui_panel){ .name = "site", .draw = site_draw, .key = site_key,
	                            .free = site_free, .opaque = true };
	for (int i = 0; i < PP_S__COUNT; i++) {
		tui_field_set(&sf->f[i], t->table->site.val[i]);
		memcpy(sf->init[i], sf->f[i].buf, sizeof sf->init[i]);
	}
	validate(sf, t);
	return &sf->p;
}
