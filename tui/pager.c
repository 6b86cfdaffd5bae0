/* A scrolling page of text lines for help, details and the session log. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/util.h"
#include "tui-internal.h"

void
tui_pager_add(struct tui_pager *pg, enum tui_role r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = pp_xstrdup("");
	va_end(ap);
	if (pg->n == pg->cap) {
		pg->cap = pg->cap ? pg->cap * 2 : 32;
		pg->line = pp_xrealloc(pg->line, pg->cap * sizeof *pg->line);
		pg->role = pp_xrealloc(pg->role, pg->cap * sizeof *pg->role);
	}
	pg->line[pg->n] = s;
	pg->role[pg->n++] = r;
}

static void
clear_lines(struct tui_pager *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		free(pg->line[i]);
	pg->n = 0;
}

static int
body_rows(const struct tui *t)
{
	return t->rows - 3;
}

/*
 * A line wider than the page (a path, a message added unwrapped) goes on
 * under its own indent instead of being cut: on a 60-column terminal too,
 * every word of every page can be read.
 */
static void
rewrap(struct tui_pager *pg, int w)
{
	char **line = pg->line;
	enum tui_role *role = pg->role;
	size_t n = pg->n, i;

	for (i = 0; i < n && tui_text_width(line[i]) <= w; i++)
		;
	if (i == n || w <= 8)
		return;                       /* the common case: nothing to do, nothing copied */
	pg->line = NULL;
	pg->role = NULL;
	pg->n = pg->cap = 0;
	for (i = 0; i < n; i++) {
		const char *s = line[i];
		int ind = (int)strspn(s, " ");
		bool first = true;

		if (ind > w / 2)
			ind = w / 2;
		do {
			int room = first ? w : w - ind - 2;
			size_t k = tui_text_wrap(s, room);

			tui_pager_add(pg, role[i], "%*s%.*s", first ? 0 : ind + 2, "", (int)k, s);
			first = false;
			s += k;
			while (*s == ' ')
				s++;
		} while (*s);
		free(line[i]);
	}
	free(line);
	free(role);
}

static void
pager_draw(struct tui_panel *p, struct tui *t)
{
	static const char *const hints[] = { "Up/Down PgUp/PgDn", "scroll", "q Esc", "back", NULL };
	struct tui_pager *pg = (struct tui_pager *)p;
	int h = body_rows(t);
	char title[512];

	clear_lines(pg);
	pg->fill(pg, t);
	rewrap(pg, t->cols - 2);
	if (pg->n <= (size_t)h)
		pg->top = 0;
	else if (pg->top > pg->n - (size_t)h)
		pg->top = pg->n - (size_t)h;
	snprintf(title, sizeof title, " portpilot  %s%s%s", pg->title, pg->status[0] ? "  " : "",
	         pg->status);
	tui_draw_fit(0, 0, t->cols, TR_TITLE, title);
	tui_draw_hline(1, 0, t->cols, TR_FRAME);
	for (int i = 0; i < h && pg->top + (size_t)i < pg->n; i++)
		tui_draw_fit(2 + i, 1, t->cols - 2, pg->role[pg->top + i], pg->line[pg->top + i]);
	tui_hints(t, t->rows - 1, pg->hints ? pg->hints : hints);
}

bool
tui_pager_key(struct tui_panel *p, struct tui *t, int key)
{
	struct tui_pager *pg = (struct tui_pager *)p;
	size_t page = (size_t)body_rows(t);

	switch (key) {
	case TK_UP: case 'k': if (pg->top) pg->top--; return true;
	case TK_DOWN: case 'j': pg->top++; return true;
	case TK_PGUP: case 'b': pg->top = pg->top > page ? pg->top - page : 0; return true;
	case TK_PGDN: case 'f': case ' ': pg->top += page; return true;
	case TK_HOME: case 'g': pg->top = 0; return true;
	case TK_END: case 'G': pg->top = (size_t)-1 / 2; return true;
	case 'q': case TK_ESC: case TK_CTRL('c'): case TK_F(10): case TK_F(1): case '?': case 'h': case TK_ENTER:
		tui_pop(t);
		return true;
	}
	return false;
}

void
tui_pager_free(struct tui_panel *p)
{
	struct tui_pager *pg = (struct tui_pager *)p;

	clear_lines(pg);
	free(pg->line);
	free(pg->role);
	free(pg);
}

struct tui_pager *
tui_pager_new(const char *title, const char *arg, void (*fill)(struct tui_pager *, struct tui *))
{
	struct tui_pager *pg = pp_xcalloc(1, sizeof *pg);

	pg->p = (struct tui_panel){ .name = title, .draw = pager_draw, .key = tui_pager_key,
	                            .free = tui_pager_free, .opaque = true };
	snprintf(pg->title, sizeof pg->title, "%s", title);
	snprintf(pg->arg, sizeof pg->arg, "%s", arg ? arg : "");
	pg->fill = fill;
	return pg;
}

void
tui_pager_wrap(struct tui_pager *pg, enum tui_role r, int w, const char *lead, const char *text)
{
	int lw = tui_text_width(lead), room = w - lw;
	bool first = true;

	if (room < 20)
		room = 20;
	do {
		size_t n = tui_text_fit(text, room);

		/* break at the last space that fits, unless the rest fits whole */
		if (text[n] != '\0') {
			size_t sp = n;

			while (sp > 0 && text[sp] != ' ')
				sp--;
			if (sp > 0)
				n = sp;
		}
		if (n == 0)
			n = strlen(text);
		tui_pager_add(pg, r, "%*s%.*s", first ? 0 : lw, first ? lead : "", (int)n, text);
		first = false;
		text += n;
		while (*text == ' ')
			text++;
	} while (*text);
}
