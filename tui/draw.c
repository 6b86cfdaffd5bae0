/* The terminal layer: the only file that talks to curses (roles, glyphs, text, keys). */
#include <curses.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui-internal.h"

static SCREEN *scr;
static bool utf8;                     /* text as Unicode (the locale is UTF-8) */
static bool ascii_lines;              /* glyphs as ASCII */
static attr_t role_attr[TR__COUNT];
/* The cursor is placed once per frame, so it does not blink through the drawing. */
static int want_y = -1, want_x;
static bool cursor_on;

static const char *glyph_utf8[G__COUNT] = { "─", "│", "┌", "┐", "└", "┘", "→", "↑", "↓", "…", "✓", "✗", "↪" };
static const char *glyph_ascii[G__COUNT] = { "-", "|", "+", "+", "+", "+", "->", "^", "v", "~", "ok", "NO", ">" };

/* Monochrome attributes; colour adds a pair on top where a role has one. */
static void
set_roles(bool colour)
{
	static const struct { attr_t mono; short fg, bg; attr_t extra; } r[TR__COUNT] = {
		[TR_NORMAL]   = { A_NORMAL, -1, -1, A_NORMAL },
		[TR_TITLE]    = { A_REVERSE | A_BOLD, COLOR_BLACK, COLOR_CYAN, A_NORMAL },
		[TR_HEADER]   = { A_BOLD | A_UNDERLINE, COLOR_CYAN, -1, A_BOLD },
		[TR_SELECTED] = { A_REVERSE, COLOR_BLACK, COLOR_WHITE, A_NORMAL },
		[TR_OK]       = { A_NORMAL, COLOR_GREEN, -1, A_NORMAL },
		[TR_WARNING]  = { A_BOLD, COLOR_YELLOW, -1, A_BOLD },
		[TR_ERROR]    = { A_BOLD, COLOR_RED, -1, A_BOLD },
		[TR_DIM]      = { A_DIM, -1, -1, A_DIM },
		[TR_KEY]      = { A_BOLD, COLOR_CYAN, -1, A_BOLD },
		[TR_INPUT]    = { A_UNDERLINE, -1, -1, A_UNDERLINE },
		[TR_FRAME]    = { A_NORMAL, COLOR_BLUE, -1, A_NORMAL },
	};
	for (int i = 0; i < TR__COUNT; i++) {
		role_attr[i] = r[i].mono;
		if (!colour || (r[i].fg < 0 && r[i].bg < 0))
			continue;
		init_pair((short)(i + 1), r[i].fg, r[i].bg);
		role_attr[i] = COLOR_PAIR(i + 1) | r[i].extra;
	}
}

int
tui_draw_open(struct tui_draw_opts *o, struct pp_error *err)
{
	const char *term = getenv("TERM");

	scr = newterm(NULL, stdout, stdin);
	if (scr == NULL)
		return pp_error_set(err, "cannot start the terminal interface for TERM=%s; "
		                    "set TERM to your terminal's type (e.g. xterm-256color)",
		                    term ? term : "(unset)");
	utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	if (!utf8)
		o->ascii = true;
	ascii_lines = o->ascii;
	raw();                            /* ^C, ^S, ^Q reach the keys: no lost edits, no frozen screen */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	cursor_on = false;
	if (!has_colors())
		o->mono = true;
	if (!o->mono) {
		start_color();
		use_default_colors();
	}
	set_roles(!o->mono);
	return 0;
}

void
tui_draw_close(void)
{
	if (scr == NULL)
		return;
	endwin();
	delscreen(scr);
	scr = NULL;
}

bool tui_draw_is_open(void) { return scr != NULL; }

void
tui_draw_size(int *rows, int *cols)
{
	getmaxyx(stdscr, *rows, *cols);
}

void
tui_draw_erase(void)
{
	erase();
	want_y = -1;
}

void
tui_draw_flush(void)
{
	if (want_y >= 0)
		move(want_y, want_x);
	if ((want_y >= 0) != cursor_on) {
		cursor_on = want_y >= 0;
		curs_set(cursor_on ? 1 : 0);
	}
	refresh();
}

const char *
tui_glyph(enum tui_glyph g)
{
	return ascii_lines ? glyph_ascii[g] : glyph_utf8[g];
}

/*
 * Next character of s: its code point (or '?' for what cannot be shown), its
 * display width and its length in bytes. Without UTF-8 every byte above
 * ASCII shows as '?', so columns always line up.
 */
static size_t
next_char(const char *s, wchar_t *wc, int *w)
{
	mbstate_t st;
	size_t n;

	if ((unsigned char)*s < 0x80 || !utf8) {
		*wc = (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ? L'?' : (wchar_t)*s;
		*w = 1;
		return 1;
	}
	memset(&st, 0, sizeof st);
	n = mbrtowc(wc, s, MB_CUR_MAX, &st);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		*wc = L'?';
		*w = 1;
		return 1;
	}
	*w = wcwidth(*wc);
	if (*w < 0) {
		*wc = L'?';
		*w = 1;
	}
	return n;
}

int
tui_text_width(const char *s)
{
	int total = 0, w;
	wchar_t wc;

	while (*s) {
		s += next_char(s, &wc, &w);
		total += w;
	}
	return total;
}

size_t
tui_text_fit(const char *s, int w)
{
	const char *p = s;
	int used = 0, cw;
	wchar_t wc;
	size_t n;

	while (*p) {
		n = next_char(p, &wc, &cw);
		if (used + cw > w)
			break;
		used += cw;
		p += n;
	}
	return (size_t)(p - s);
}

size_t
tui_text_wrap(const char *s, int w)
{
	size_t n = tui_text_fit(s, w), sp;

	if (s[n] == '\0' || s[n] == ' ')
		return n;
	for (sp = n; sp > 0 && s[sp - 1] != ' '; sp--)
		;
	if (sp > 0)
		return sp;
	if (n > 0)                        /* one word wider than w: cut it */
		return n;
	for (n = 1; s[n] && ((unsigned char)s[n] & 0xc0) == 0x80; n++)
		;                             /* w < one character: still make progress */
	return n;
}

int
tui_draw_str(int y, int x, int w, enum tui_role r, const char *s)
{
	int used = 0, cw;
	wchar_t wc;

	if (w <= 0 || s == NULL)
		return 0;
	attrset(role_attr[r]);
	move(y, x);
	while (*s) {
		s += next_char(s, &wc, &cw);
		if (used + cw > w)
			break;
		if (utf8)
			addnwstr(&wc, 1);
		else
			addch((chtype)wc);
		used += cw;
	}
	return used;
}

int
tui_draw_text(int y, int x, int w, enum tui_role r, const char *s)
{
	int used = tui_draw_str(y, x, w, r, s);

	attrset(role_attr[r]);
	for (int i = used; i < w; i++)
		mvaddch(y, x + i, ' ');
	return used;
}

int
tui_draw_fit(int y, int x, int w, enum tui_role r, const char *s)
{
	char buf[1024];

	if (tui_text_width(s) <= w || w < 1)
		return tui_draw_text(y, x, w, r, s);
	snprintf(buf, sizeof buf, "%.*s%s", (int)tui_text_fit(s, w - 1), s, tui_glyph(G_ELLIPSIS));
	return tui_draw_text(y, x, w, r, buf);
}

void
tui_draw_hline(int y, int x, int w, enum tui_role r)
{
	for (int i = 0; i < w; i++)
		tui_draw_str(y, x + i, 1, r, tui_glyph(G_HLINE));
}

void
tui_draw_box(int y, int x, int h, int w, enum tui_role r)
{
	tui_draw_str(y, x, 1, r, tui_glyph(G_CORNER_TL));
	tui_draw_hline(y, x + 1, w - 2, r);
	tui_draw_str(y, x + w - 1, 1, r, tui_glyph(G_CORNER_TR));
	for (int i = 1; i < h - 1; i++) {
		tui_draw_str(y + i, x, 1, r, tui_glyph(G_VLINE));
		tui_draw_text(y + i, x + 1, w - 2, TR_NORMAL, "");
		tui_draw_str(y + i, x + w - 1, 1, r, tui_glyph(G_VLINE));
	}
	tui_draw_str(y + h - 1, x, 1, r, tui_glyph(G_CORNER_BL));
	tui_draw_hline(y + h - 1, x + 1, w - 2, r);
	tui_draw_str(y + h - 1, x + w - 1, 1, r, tui_glyph(G_CORNER_BR));
}

void
tui_draw_cursor(int y, int x)
{
	want_y = y;
	want_x = x;
}

static int
map_key(int rc, wint_t ch)
{
	static const struct { int curses, tk; } fk[] = {
		{ KEY_UP, TK_UP }, { KEY_DOWN, TK_DOWN }, { KEY_LEFT, TK_LEFT },
		{ KEY_RIGHT, TK_RIGHT }, { KEY_PPAGE, TK_PGUP }, { KEY_NPAGE, TK_PGDN },
		{ KEY_HOME, TK_HOME }, { KEY_END, TK_END }, { KEY_ENTER, TK_ENTER },
		{ KEY_BACKSPACE, TK_BACKSPACE }, { KEY_DC, TK_DELETE }, { KEY_IC, TK_INSERT },
		{ KEY_BTAB, TK_BTAB }, { KEY_RESIZE, TK_RESIZE }, { KEY_A1, TK_HOME },
		{ KEY_C1, TK_END }, { KEY_A3, TK_PGUP }, { KEY_C3, TK_PGDN },
	};

	if (rc == KEY_CODE_YES) {
		if ((int)ch >= KEY_F(1) && (int)ch <= KEY_F(12))
			return TK_F1 + (int)ch - KEY_F(1);
		for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++)
			if (fk[i].curses == (int)ch)
				return fk[i].tk;
		return TK_NONE;
	}
	switch (ch) {
	case '\r': case '\n': return TK_ENTER;
	case 127: case 8: return TK_BACKSPACE;
	case '\t': return TK_TAB;
	case 27: return TK_ESC;
	default: return (int)ch;
	}
}

int
tui_draw_key(int timeout_ms)
{
	wint_t ch;
	int rc;

	timeout(timeout_ms);
	rc = get_wch(&ch);
	if (rc == ERR)
		return TK_NONE;
	return map_key(rc, ch);
}
