/* The screen manager: panel stack, event loop, resize, status message and session log. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/util.h"
#include "tui-internal.h"

#define MIN_ROWS 15                   /* an SSH client on a phone */
#define MIN_COLS 60
#define TICK_MS 250                   /* how often signals and the clock are looked at */
#define LIVE_MS 2000                  /* counters and the file on disk */

extern volatile sig_atomic_t tui_signal;

void
tui_push(struct tui *t, struct tui_panel *p)
{
	if (t->depth == TUI_MAX_PANELS) {
		p->free(p);
		return;
	}
	t->stack[t->depth++] = p;
}

void
tui_pop(struct tui *t)
{
	struct tui_panel *p;

	if (t->depth <= 1)                /* the table screen stays */
		return;
	p = t->stack[--t->depth];
	p->free(p);
}

void
tui_message(struct tui *t, enum tui_role r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_role = r;
}

void
tui_logf(struct tui *t, const char *fmt, ...)
{
	char when[20], text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	pp_format_datetime(time(NULL), when);
	if (t->nlog == TUI_LOG_MAX) {
		free(t->log[0]);
		memmove(t->log, t->log + 1, (TUI_LOG_MAX - 1) * sizeof *t->log);
		t->nlog--;
	}
	t->log[t->nlog++] = pp_xasprintf("%s  %s", when + 11, text);
}

void
tui_frame(struct tui *t, const char *title, int h, int w, int *y, int *x)
{
	if (w > t->cols - 2)
		w = t->cols - 2;
	if (h > t->rows - 2)
		h = t->rows - 2;
	*y = (t->rows - h) / 2;
	*x = (t->cols - w) / 2;
	tui_draw_box(*y, *x, h, w, TR_FRAME);
	if (title) {
		char buf[128];

		snprintf(buf, sizeof buf, " %s ", title);
		tui_draw_str(*y, *x + 2, w - 4, TR_HEADER, buf);
	}
	*y += 1;
	*x += 2;
}

void
tui_hints(struct tui *t, int y, const char *const *pairs)
{
	int x = 0;

	tui_draw_text(y, 0, t->cols, TR_NORMAL, "");
	for (size_t i = 0; pairs[i] && pairs[i + 1] && x < t->cols; i += 2) {
		/* whole pairs only: a narrow screen drops the last ones (F1 lists every key) */
		if (x + tui_text_width(pairs[i]) + 1 + tui_text_width(pairs[i + 1]) > t->cols)
			break;
		x += tui_draw_str(y, x, t->cols - x, TR_KEY, pairs[i]);
		x += tui_draw_str(y, x, t->cols - x, TR_NORMAL, " ");
		x += tui_draw_str(y, x, t->cols - x, TR_NORMAL, pairs[i + 1]);
		x += tui_draw_str(y, x, t->cols - x, TR_NORMAL, "  ");
	}
}

static void
draw_too_small(struct tui *t)
{
	char buf[96];

	snprintf(buf, sizeof buf, "Terminal too small: %dx%d, need %dx%d.", t->cols, t->rows,
	         MIN_COLS, MIN_ROWS);
	tui_draw_str(0, 0, t->cols, TR_ERROR, buf);
	if (t->rows > 1)
		tui_draw_str(1, 0, t->cols, TR_NORMAL, "Enlarge the window, or q to quit.");
}

void
tui_redraw(struct tui *t)
{
	int base = 0;

	tui_draw_size(&t->rows, &t->cols);
	tui_draw_erase();
	if (t->rows < MIN_ROWS || t->cols < MIN_COLS) {
		draw_too_small(t);
		tui_draw_flush();
		return;
	}
	for (int i = t->depth - 1; i > 0; i--)
		if (t->stack[i]->opaque) {
			base = i;
			break;
		}
	for (int i = base; i < t->depth; i++)
		t->stack[i]->draw(t->stack[i], t);
	tui_draw_flush();
}

static long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L + (b->tv_nsec - a->tv_nsec) / 1000000L;
}

/* PP_TUI_TRACE: one line per frame, "key KEY MICROSECONDS", for bench/tui. */
void
tui_trace(struct tui *t, const char *what, int key, const struct timespec *from)
{
	struct timespec now;
	char line[80];
	int n;

	if (t->trace_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	n = snprintf(line, sizeof line, "%s %d %ld\n", what, key,
	             (now.tv_sec - from->tv_sec) * 1000000L + (now.tv_nsec - from->tv_nsec) / 1000L);
	if (write(t->trace_fd, line, (size_t)n) < 0)
		t->trace_fd = -1;
}

static void
dispatch(struct tui *t, int key)
{
	struct tui_panel *top = t->stack[t->depth - 1];

	if (key == TK_RESIZE)
		return;
	if (t->rows < MIN_ROWS || t->cols < MIN_COLS) {
		if (key == 'q' || key == TK_F(10))
			top = t->stack[0];    /* quitting is still possible */
		else
			return;
	}
	t->msg[0] = '\0';
	top->key(top, t, key);
}

/*
 * Idle work: counters and the file on disk, every LIVE_MS, or ten times as
 * long as the last kernel read took (a 20,000-rule read must not make the
 * keys stutter every two seconds). True when it ran.
 */
static bool
tick(struct tui *t, struct timespec *last)
{
	static long every = LIVE_MS;
	struct timespec now, done;
	time_t deadline;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ms_between(last, &now) < every)
		return false;
	deadline = tui_live_deadline();
	tui_live_refresh(t);
	tui_health_refresh(t);
	clock_gettime(CLOCK_MONOTONIC, &done);
	every = 10 * ms_between(&now, &done);
	if (every < LIVE_MS)
		every = LIVE_MS;
	*last = done;
	if (deadline && tui_live_deadline() == 0 && time(NULL) >= deadline) {
		tui_message(t, TR_ERROR, "Rolled back: the apply was not confirmed in time.");
		tui_logf(t, "rolled back by the timer (not confirmed in time)");
	}
	t->disk_changed = tui_file_changed(t);
	return true;
}

/* Idle work of the panels on the stack (the table's keeps the DDNS header fresh); true when something changed. */
static bool
idle_panels(struct tui *t)
{
	bool dirty = false;

	for (int i = 0; i < t->depth; i++)
		if (t->stack[i]->idle && t->stack[i]->idle(t->stack[i], t))
			dirty = true;
	return dirty;
}

int
tui_loop(struct tui *t)
{
	struct timespec last, start;
	int key;

	memset(&last, 0, sizeof last);    /* the first idle moment reads the kernel */
	tui_redraw(t);
	tui_trace(t, "start", 0, &t->t0);
	while (!t->quit && !tui_signal) {
		key = tui_draw_key(TICK_MS);
		clock_gettime(CLOCK_MONOTONIC, &start);
		if (key == TK_NONE) {
			bool dirty = idle_panels(t);

			tui_view_prepare(t);
			/* a countdown on screen moves every second */
			if (tick(t, &last) || tui_live_deadline() || dirty)
				tui_redraw(t);
			continue;
		}
		dispatch(t, key);
		if (t->quit)
			break;
		tui_redraw(t);
		tui_trace(t, "key", key, &start);
	}
	return tui_signal ? -1 : 0;
}
