/* Small widgets: a UTF-8 line editor, a one-key question and a one-line input. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "portpilot/util.h"
#include "tui-internal.h"

/* ---- line editor ---- */

void
tui_field_set(struct tui_field *f, const char *s)
{
	snprintf(f->buf, sizeof f->buf, "%s", s ? s : "");
	f->len = f->pos = strlen(f->buf);
}

static bool
is_cont(char c)
{
	return ((unsigned char)c & 0xc0) == 0x80;
}

static size_t
prev_pos(const struct tui_field *f, size_t p)
{
	while (p > 0 && is_cont(f->buf[--p]))
		;
	return p;
}

static size_t
next_pos(const struct tui_field *f, size_t p)
{
	if (p < f->len)
		p++;
	while (p < f->len && is_cont(f->buf[p]))
		p++;
	return p;
}

static void
erase_range(struct tui_field *f, size_t a, size_t b)
{
	memmove(f->buf + a, f->buf + b, f->len - b + 1);
	f->len -= b - a;
	f->pos = a;
}

static bool
insert_char(struct tui_field *f, int key)
{
	char enc[8];
	mbstate_t st;
	size_t n;

	memset(&st, 0, sizeof st);
	n = wcrtomb(enc, (wchar_t)key, &st);
	if (n == (size_t)-1 || f->len + n >= sizeof f->buf)
		return false;
	memmove(f->buf + f->pos + n, f->buf + f->pos, f->len - f->pos + 1);
	memcpy(f->buf + f->pos, enc, n);
	f->len += n;
	f->pos += n;
	return true;
}

bool
tui_field_key(struct tui_field *f, int key)
{
	switch (key) {
	case TK_LEFT: f->pos = prev_pos(f, f->pos); return true;
	case TK_RIGHT: f->pos = next_pos(f, f->pos); return true;
	case TK_HOME: case TK_CTRL('a'): f->pos = 0; return true;
	case TK_END: case TK_CTRL('e'): f->pos = f->len; return true;
	case TK_BACKSPACE:
		if (f->pos == 0)
			return false;
		erase_range(f, prev_pos(f, f->pos), f->pos);
		return true;
	case TK_DELETE: case TK_CTRL('d'):
		if (f->pos == f->len)
			return false;
		erase_range(f, f->pos, next_pos(f, f->pos));
		return true;
	case TK_CTRL('u'): erase_range(f, 0, f->pos); return true;
	case TK_CTRL('k'): erase_range(f, f->pos, f->len); return true;
	default:
		if (key < 0x20 || key == 0x7f || key > 0x10ffff)
			return false;
		return insert_char(f, key);
	}
}

int
tui_field_draw(const struct tui_field *f, int y, int x, int w, enum tui_role r)
{
	char before[sizeof f->buf];
	size_t skip = 0;
	int cw;

	memcpy(before, f->buf, f->pos);
	before[f->pos] = '\0';
	/* Scroll so the cursor stays inside: drop characters from the left. */
	while ((cw = tui_text_width(before + skip)) > w - 1)
		skip += next_pos(f, skip) - skip;
	tui_draw_text(y, x, w, r, f->buf + skip);
	return x + cw;
}

/* ---- a question answered with one key ---- */

struct prompt {
	struct tui_panel p;
	char title[64];
	char text[600];
	char keys[16];                    /* the accepted answers */
	tui_answer_fn done;
	void *ctx;
};

/*
 * Each line of s wrapped to w columns, drawn from row y (draw false: only
 * counted); returns the rows it takes. Nothing is cut at the frame.
 */
static int
wrap_text(const char *s, int y, int x, int w, bool draw)
{
	const char *nl;
	int rows = 0;

	for (; s; s = nl ? nl + 1 : NULL) {
		char line[600];
		const char *p = line;

		nl = strchr(s, '\n');
		snprintf(line, sizeof line, "%.*s", (int)(nl ? (size_t)(nl - s) : strlen(s)), s);
		do {
			size_t n = tui_text_wrap(p, w);
			char seg[600];

			snprintf(seg, sizeof seg, "%.*s", (int)n, p);
			if (draw)
				tui_draw_str(y + rows, x, w, TR_NORMAL, seg);
			rows++;
			p += n;
			while (*p == ' ')
				p++;
		} while (*p);
	}
	return rows;
}

/* The widest line of s, in display columns. */
static int
widest_line(const char *s)
{
	int w = 0;

	for (const char *nl; s; s = nl ? nl + 1 : NULL) {
		char line[600];
		int lw;

		nl = strchr(s, '\n');
		snprintf(line, sizeof line, "%.*s", (int)(nl ? (size_t)(nl - s) : strlen(s)), s);
		if ((lw = tui_text_width(line)) > w)
			w = lw;
	}
	return w;
}

/* As wide as its longest line allows (the screen less a margin), the text wrapped inside. */
static void
prompt_draw(struct tui_panel *pp, struct tui *t)
{
	struct prompt *q = (struct prompt *)pp;
	int y, x, w = widest_line(q->text) + 4, lines;

	if (w < 40)
		w = 40;
	if (w > t->cols - 2)
		w = t->cols - 2;
	lines = wrap_text(q->text, 0, 0, w - 4, false);
	tui_frame(t, q->title, lines + 2, w, &y, &x);
	wrap_text(q->text, y, x, w - 4, true);
}

static bool
prompt_key(struct tui_panel *pp, struct tui *t, int key)
{
	struct prompt *q = (struct prompt *)pp;
	tui_answer_fn done = q->done;
	void *ctx = q->ctx;
	int k = key;

	if (key == TK_ENTER)
		k = q->keys[0];               /* the first answer is the default */
	else if (key == TK_CTRL('g') || key == TK_CTRL('c'))
		k = TK_ESC;
	if (k != TK_ESC && (k > 0x7f || k < 0x20 || strchr(q->keys, k) == NULL))
		return false;
	tui_pop(t);                       /* frees q: answer from the copies */
	done(t, k, ctx);
	return true;
}

static void
plain_free(struct tui_panel *p)
{
	free(p);
}

struct tui_panel *
tui_prompt_panel(const char *title, const char *text, const char *keys, tui_answer_fn done,
                 void *ctx)
{
	struct prompt *q = pp_xcalloc(1, sizeof *q);

	q->p = (struct tui_panel){ .name = "prompt", .draw = prompt_draw, .key = prompt_key,
	                           .free = plain_free };
	snprintf(q->title, sizeof q->title, "%s", title);
	snprintf(q->text, sizeof q->text, "%s", text);
	snprintf(q->keys, sizeof q->keys, "%s", keys);
	q->done = done;
	q->ctx = ctx;
	return &q->p;
}

/* ---- a one-line text input ---- */

struct input {
	struct tui_panel p;
	char title[64], label[128];
	struct tui_field f;
	tui_input_fn done;
	void *ctx;
};

static void
input_draw(struct tui_panel *pp, struct tui *t)
{
	struct input *in = (struct input *)pp;
	int y, x, w = t->cols - 2 < 70 ? t->cols - 2 : 70, cx, lines;

	lines = wrap_text(in->label, 0, 0, w - 4, false);   /* a long label wraps, not cut */
	tui_frame(t, in->title, lines + 5, w, &y, &x);
	wrap_text(in->label, y, x, w - 4, true);
	cx = tui_field_draw(&in->f, y + lines + 1, x, w - 4, TR_INPUT);
	tui_draw_str(y + lines + 2, x, w - 4, TR_DIM, "Enter accept  Esc cancel");
	tui_draw_cursor(y + lines + 1, cx);
}

static bool
input_key(struct tui_panel *pp, struct tui *t, int key)
{
	struct input *in = (struct input *)pp;
	tui_input_fn done = in->done;
	void *ctx = in->ctx;
	char text[sizeof in->f.buf];

	if (key == TK_CTRL('c'))
		key = TK_ESC;
	if (key == TK_ENTER || key == TK_ESC || key == TK_CTRL('g')) {
		snprintf(text, sizeof text, "%s", in->f.buf);
		tui_pop(t);
		done(t, key == TK_ENTER ? text : NULL, ctx);
		return true;
	}
	return tui_field_key(&in->f, key);
}

struct tui_panel *
tui_input_panel(const char *title, const char *label, const char *init, tui_input_fn done,
                void *ctx)
{
	struct input *in = pp_xcalloc(1, sizeof *in);

	in->p = (struct tui_panel){ .name = "input", .draw = input_draw, .key = input_key,
	                            .free = plain_free };
	snprintf(in->title, sizeof in->title, "%s", title);
	snprintf(in->label, sizeof in->label, "%s", label);
	tui_field_set(&in->f, init);
	in->done = done;
	in->ctx = ctx;
	return &in->p;
}
