/* Shared between the TUI's files only: terminal layer, view model, panels. */
#ifndef PP_TUI_INTERNAL_H
#define PP_TUI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "portpilot/backend.h"
#include "portpilot/cli.h"
#include "portpilot/error.h"
#include "portpilot/table.h"

/* ---- draw.c: the only file that talks to curses ---- */

/* Keys: Unicode code points as themselves, the rest above the Unicode range. */
enum {
	TK_NONE = -1,
	TK_UP = 0x110001, TK_DOWN, TK_LEFT, TK_RIGHT, TK_PGUP, TK_PGDN, TK_HOME, TK_END,
	TK_ENTER, TK_BACKSPACE, TK_DELETE, TK_INSERT, TK_TAB, TK_BTAB, TK_ESC, TK_RESIZE,
	TK_F1, /* TK_F1 + n - 1 for Fn, up to F12 */
	TK_F12 = TK_F1 + 11,
};
#define TK_F(n) (TK_F1 + (n) - 1)
#define TK_CTRL(c) ((c) & 0x1f)

/* Colour roles, not colours: draw.c maps them to pairs or to monochrome attributes. */
enum tui_role {
	TR_NORMAL, TR_TITLE, TR_HEADER, TR_SELECTED, TR_OK, TR_WARNING, TR_ERROR,
	TR_DIM, TR_KEY, TR_INPUT, TR_FRAME, TR__COUNT
};

/* Line-drawing and symbol glyphs: Unicode or ASCII. */
enum tui_glyph { G_HLINE, G_VLINE, G_CORNER_TL, G_CORNER_TR, G_CORNER_BL, G_CORNER_BR,
	G_ARROW, G_UP, G_DOWN, G_ELLIPSIS, G_YES, G_NO, G_CONT, G__COUNT };

struct tui_draw_opts {
	bool ascii;    /* --ascii, or a locale that is not UTF-8 */
	bool mono;     /* NO_COLOR, --no-color, or a terminal without colours */
};

int tui_draw_open(struct tui_draw_opts *o, struct pp_error *err);
void tui_draw_close(void);
bool tui_draw_is_open(void);
void tui_draw_size(int *rows, int *cols);
void tui_draw_erase(void);
/* Write s clipped to w display columns and padded with spaces; returns columns used. */
int tui_draw_text(int y, int x, int w, enum tui_role r, const char *s);
/* Like tui_draw_text, but a value wider than w ends in an ellipsis: nothing is cut silently. */
int tui_draw_fit(int y, int x, int w, enum tui_role r, const char *s);
/* Like tui_draw_text, but no padding. */
int tui_draw_str(int y, int x, int w, enum tui_role r, const char *s);
void tui_draw_hline(int y, int x, int w, enum tui_role r);
void tui_draw_box(int y, int x, int h, int w, enum tui_role r);
void tui_draw_cursor(int y, int x);   /* y < 0 hides it */
void tui_draw_flush(void);
int tui_draw_key(int timeout_ms);
const char *tui_glyph(enum tui_glyph g);
/* Display width of s with the same rules tui_draw_text applies. */
int tui_text_width(const char *s);
/* Bytes of s that fit in w columns. */
size_t tui_text_fit(const char *s, int w);
/* Bytes of s for one wrapped line of w columns: broken after the last space that fits, if any. */
size_t tui_text_wrap(const char *s, int w);

/* ---- view.c: the table screen's model, no terminal needed ---- */

enum tui_col { C_STATE, C_NAME, C_PROTO, C_PUBLIC, C_INTERNAL, C_ALLOW, C_HITS,
	C_LAST, C_OWNER, C_DESC, C_NOTE, C_HEALTH, C__COUNT };

/* Row state: what the table, the session and (later) the backend know. */
enum tui_state { S_UNKNOWN, S_SYNC, S_PENDING, S_DRIFT, S_OFF, S_EXPIRED, S_ERROR, S__COUNT };

struct tui_note {                     /* worst finding of one mapping */
	const struct pp_finding *f;
	int nerr, nwarn;
};

struct tui_live {                     /* what the backend reports for one mapping */
	enum tui_state state;
	bool has_hits;
	unsigned long long hits;
	time_t last_hit;                  /* 0: no growth seen in this session */
	time_t since;                     /* the counters were first read then */
};

struct tui_view {
	size_t *all;                      /* every mapping index, sorted */
	size_t *order;                    /* the visible rows: all, filtered */
	size_t nall, norder;
	struct tui_note *notes;           /* per mapping index */
	char *hay;                        /* lower-case text the filter searches, all mappings */
	size_t *hay_at;                   /* per mapping: its offset in hay */
	enum tui_col sort;
	bool desc;
	char filter[128];
	char applied_filter[128];         /* filter that produced order */
	size_t cur, top;                  /* selected row and first row shown, in order */
	struct pp_findings found;         /* pp_table_check's findings */
	size_t nerr, nwarn;               /* over the whole file */
	size_t n_file_notes;              /* findings not tied to a mapping */
	int natural[C__COUNT];            /* widest value of each column that is not live */
	const struct pp_finding *file_note; /* the worst of them */
};

/* A tiny line editor for text fields (form, filter, inputs). */
struct tui_field {
	char buf[256];
	size_t len, pos;                  /* bytes; pos is on a UTF-8 boundary */
};
void tui_field_set(struct tui_field *f, const char *s);
/* Returns true when the key changed or moved the text. */
bool tui_field_key(struct tui_field *f, int key);
/* Draw at (y, x) in w columns, scrolled so the cursor shows; returns the cursor column. */
int tui_field_draw(const struct tui_field *f, int y, int x, int w, enum tui_role r);

/* ---- the application ---- */

struct tui;

/* A panel: a screen or an overlay on the stack; the top one gets the keys. */
struct tui_panel {
	const char *name;
	void (*draw)(struct tui_panel *p, struct tui *t);
	/* Returns true when the key was used. */
	bool (*key)(struct tui_panel *p, struct tui *t, int key);
	void (*free)(struct tui_panel *p);
	/* Optional idle work (a child's output, a timer); true when the screen must be redrawn. */
	bool (*idle)(struct tui_panel *p, struct tui *t);
	bool opaque;                      /* hides the panels below (no need to draw them) */
};

#define TUI_MAX_PANELS 8
#define TUI_LOG_MAX 200

struct tui {
	struct pp_cli *cli;
	struct pp_table *table;
	char *path;
	struct tui_view view;
	struct tui_panel *stack[TUI_MAX_PANELS];
	int depth;
	int rows, cols;
	bool quit;
	bool ascii, mono;
	char msg[512];                    /* one-shot status message */
	enum tui_role msg_role;
	char **edited;                    /* names changed this session (pending) */
	size_t nedited;
	char *log[TUI_LOG_MAX];           /* what this session did */
	size_t nlog;
	time_t disk_mtime;                /* of the file when loaded or saved */
	bool disk_changed;
	int page;                         /* table rows on screen */
	bool filtering;                   /* the filter line has the keys */
	struct tui_field filter;          /* its editor */
	struct timespec t0;               /* process start, for the trace */
	int trace_fd;                     /* PP_TUI_TRACE: key-to-redraw timings */
};

/* panel.c */
void tui_push(struct tui *t, struct tui_panel *p);
void tui_pop(struct tui *t);
void tui_redraw(struct tui *t);
/* PP_TUI_TRACE: append "WHAT KEY MICROSECONDS-SINCE-from" to the trace file. */
void tui_trace(struct tui *t, const char *what, int key, const struct timespec *from);
int tui_loop(struct tui *t);
void tui_message(struct tui *t, enum tui_role r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tui_logf(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frame with a title for overlays, centred; returns the inner origin and size. */
void tui_frame(struct tui *t, const char *title, int h, int w, int *y, int *x);
/* Key hints on the last line: "KEY label  KEY label". */
void tui_hints(struct tui *t, int y, const char *const *pairs);

/* view.c */
void tui_view_free(struct tui_view *v);
/* Rebuild after load or edit: check, notes, sort, filter; keeps the current mapping. */
void tui_view_rebuild(struct tui *t);
void tui_view_set_sort(struct tui *t, enum tui_col c, bool desc);
void tui_view_set_filter(struct tui *t, const char *filter);
/* Idle time: build what the first filter keystroke would otherwise wait for. */
void tui_view_prepare(struct tui *t);
const struct pp_mapping *tui_view_current(const struct tui *t);
void tui_view_move(struct tui *t, long delta, int page);
void tui_view_goto_name(struct tui *t, const char *name);
/* Cell text for one mapping and column; buf must hold 128 bytes. */
const char *tui_view_cell(const struct tui *t, size_t idx, enum tui_col c, char *buf);
const char *tui_col_title(enum tui_col c);
const char *tui_state_name(enum tui_state s);
enum tui_state tui_row_state(const struct tui *t, size_t idx, struct tui_live *live);
bool tui_is_edited(const struct tui *t, const char *name);
void tui_mark_edited(struct tui *t, const char *name);
size_t tui_map_index(const struct tui *t, const struct pp_mapping *m);

/* live.c: the one place that asks the backend (state, hits, apply). */
void tui_live_row(const struct tui *t, size_t idx, struct tui_live *out);
bool tui_live_available(void);
void tui_live_refresh(struct tui *t);
/* The core's sync state of mapping idx from the last read; false when unknown. */
bool tui_live_sync(const struct tui *t, size_t idx, enum pp_sync *out);
/* The pinholes' own state and counters (issue 15): false when the backend reports none. */
bool tui_live_sync6(const struct tui *t, size_t idx, enum pp_sync *sync, unsigned long long *pkts);
const char *tui_live_summary(const struct tui *t, char *buf, size_t n);
void tui_live_offline(void);          /* tui --offline: never read or write the kernel */
bool tui_live_is_offline(void);
const char *tui_live_why(void);       /* why the kernel state is unknown */
time_t tui_live_deadline(void);       /* pending confirm, 0 when none */
void tui_live_set_deadline(time_t d);
/* A confirm is pending but its rollback timer died (kill, OOM, reboot): nothing rolls back by itself. */
bool tui_live_timer_gone(void);
/* Ruleset drift and orphans from the last read (empty when unknown). */
struct pp_layout_status;
const struct pp_layout_status *tui_live_layout(void);
void tui_live_free(void);
const char *tui_live_wan(void);       /* the WAN interface's address, "" when unknown */

/* health.c: the monitor's state file (the TUI runs no checks), read again when it changes. */
void tui_health_refresh(struct tui *t);
bool tui_health_present(void);        /* a state file exists: the Health column shows */
/* The file shows the past (old, or its monitor is gone): why, e.g. for the file line. */
bool tui_health_stale(char *why, size_t n);
/* The Health cell in w columns ("up", "DOWN since 14:03", "-"), and its colour. */
const char *tui_health_cell(const char *name, int w, char *buf, size_t n, enum tui_role *role);
/* The status line's words for a mapping that is down (cause, summary, fix); false if it is not. */
bool tui_health_message(const char *name, char *buf, size_t n);
/* A published name the monitor has down ("DNS site3.example.net -> X, not Y"); false if none. */
bool tui_health_dns(char *buf, size_t n);
int tui_health_rank(const char *name); /* for the sort: down 3, public down 2, up 1, else 0 */
struct tui_pager;
/* The detail view's Health section: the state now and the last events with their cause. */
void tui_health_detail(struct tui_pager *pg, struct tui *t, const char *name);
void tui_health_free(void);

/* A key of the table screen: up to 4 keys, the label help shows, an action. */
struct tui_binding {
	int keys[4];
	const char *label;
	const char *help;
	void (*fn)(struct tui *t);
};
const struct tui_binding *tui_table_bindings(size_t *n);

/* screen-ddns.c: the DDNS panel and the header's "name resolves to the public IP". */
const char *tui_ddns_summary(const struct tui *t, char *buf, size_t n);
struct tui_panel *tui_ddns_panel(struct tui *t);
/* The site's public IP as far as it is known ([site], the echo services, a public WAN address); NULL if not. */
const char *tui_public_ip(const struct tui *t, char buf[46]);
/* Idle work: reload the status, resolve the names in a child; true when the header changed. */
bool tui_ddns_idle(struct tui *t);
void tui_ddns_free(void);

/* screen-probe.c: probe, watch and the access log, each run in a forked child. */
struct tui_panel *tui_probe_panel(struct tui *t, const char *name);
struct tui_panel *tui_watch_panel(struct tui *t, const char *name, int seconds);
struct tui_panel *tui_alog_panel(struct tui *t, const char *name, int seconds);

/* job.c: a function run in a forked child, its output read line by line without blocking. */
struct tui_job {
	int pid;                          /* 0: none */
	int fd;                           /* read end, non-blocking; -1 once at EOF */
	char buf[4096];
	size_t len;
	int status;                       /* waitpid status once reaped */
	bool reaped, cancelled;
	struct timespec term_at;          /* when SIGTERM was sent */
};
/* fn runs in the child with out line-buffered to the pipe; the child then _exits. */
int tui_job_start(struct tui_job *j, void (*fn)(FILE *out, void *ctx), void *ctx,
                  struct pp_error *err);
/* Read what is ready; line() gets every complete line. True when anything happened. */
bool tui_job_poll(struct tui_job *j, void (*line)(void *ctx, char *text), void *ctx);
bool tui_job_running(const struct tui_job *j);
/* SIGTERM now; tui_job_poll sends SIGKILL when it has not ended 2 s later. */
void tui_job_cancel(struct tui_job *j);
/* For free: SIGTERM, up to grace_ms for it to clean up, then SIGKILL; always reaped. */
void tui_job_stop(struct tui_job *j, int grace_ms);

/* pager.c: a scrolling page of lines, refilled before each draw. */
struct tui_pager {
	struct tui_panel p;
	char title[64];
	char arg[128];                    /* e.g. the mapping a detail page shows */
	void (*fill)(struct tui_pager *pg, struct tui *t);
	char **line;
	enum tui_role *role;
	size_t n, cap, top;
	const char *const *hints;         /* NULL: scroll / back */
	char status[320];                 /* shown right of the title, "" for none */
};
bool tui_pager_key(struct tui_panel *p, struct tui *t, int key);
void tui_pager_free(struct tui_panel *p);
/* Add text wrapped to w columns, each line after the first indented like the first. */
void tui_pager_wrap(struct tui_pager *pg, enum tui_role r, int w, const char *lead, const char *text);
struct tui_pager *tui_pager_new(const char *title, const char *arg,
                                void (*fill)(struct tui_pager *pg, struct tui *t));
void tui_pager_add(struct tui_pager *pg, enum tui_role r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Screens. */
struct tui_panel *tui_table_panel(void);
struct tui_panel *tui_help_panel(void);
struct tui_panel *tui_log_panel(void);
struct tui_panel *tui_detail_panel(const char *name);
/* name NULL: add; copy: duplicate name under a new name. */
struct tui_panel *tui_edit_panel(struct tui *t, const char *name, bool copy);
struct tui_panel *tui_site_panel(struct tui *t);

/* A question with one-key answers; done gets the key pressed (TK_ESC on cancel). */
typedef void (*tui_answer_fn)(struct tui *t, int key, void *ctx);
struct tui_panel *tui_prompt_panel(const char *title, const char *text, const char *keys,
                                   tui_answer_fn done, void *ctx);
/* A one-line text input; done gets the text, or NULL on cancel. */
typedef void (*tui_input_fn)(struct tui *t, const char *text, void *ctx);
struct tui_panel *tui_input_panel(const char *title, const char *label, const char *init,
                                  tui_input_fn done, void *ctx);

/* export.c */
void tui_export_start(struct tui *t);

/* screen-apply.c */
void tui_apply_start(struct tui *t);
int tui_apply_confirm(struct tui *t);
int tui_apply_rollback(struct tui *t);    /* roll a pending apply back now */
/* Row i of the apply screen's key table (label, *help) for the help screen; NULL past the end. */
const char *tui_apply_key_row(size_t i, const char **help);

/* tui.c: actions shared by several screens. */
int tui_save(struct tui *t);
int tui_reload(struct tui *t);
bool tui_file_changed(struct tui *t);

#endif
