/* The help screen: every key of every screen, from the same tables the screens use. */
#include <stdio.h>

#include "tui-internal.h"

#define KEY_COLS 20                   /* the key column, in display columns */

struct help_row {
	const char *key, *what;
};

/* One key row: the key padded by display width (✓ is 3 bytes, 1 column), the text wrapped under itself. */
static void
row(struct tui_pager *pg, int w, const char *key, const char *what)
{
	char lead[128];
	int pad = KEY_COLS - tui_text_width(key);

	snprintf(lead, sizeof lead, "  %s%*s ", key, pad > 0 ? pad : 0, "");
	tui_pager_wrap(pg, TR_NORMAL, w, lead, what);
}

static void
group(struct tui_pager *pg, int w, const char *title, const struct help_row *r, size_t n)
{
	if (pg->n)
		tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_wrap(pg, TR_HEADER, w, "", title);
	for (size_t i = 0; i < n; i++)
		row(pg, w, r[i].key, r[i].what);
}

#define GROUP(pg, w, title, rows) group(pg, w, title, rows, sizeof rows / sizeof rows[0])

static void
fill_help(struct tui_pager *pg, struct tui *t)
{
	static const struct help_row sort[] = {
		{ "1 .. 9  0", "sort by State, Name, Proto, Public, Internal, Allow, Hits, Owner, "
		  "Last hit, Description (0); again: reverse. Columns not shown at this width sort "
		  "too: the file line says which one" },
	};
	static const struct help_row filter[] = {
		{ "typing", "narrows the rows as you type (name, ports, addresses, owner, description)" },
		{ "Up Down PgUp PgDn", "move in the rows while filtering" },
		{ "Enter", "keep the filter and go back to the keys" },
		{ "Esc ^G", "clear the filter" },
	};
	static const struct help_row form[] = {
		{ "Tab Down ^N", "next field" },
		{ "S-Tab Up ^P", "previous field" },
		{ "Left Right Home End", "move in the field (^A ^E too)" },
		{ "Backspace Del ^U ^K", "delete (^U: to the start, ^K: to the end)" },
		{ "Space Left Right", "protocol and enabled fields: pick the next value" },
		{ "t u b  y n", "protocol: tcp, udp, both; enabled: yes, no" },
		{ "+ -", "expires field: one day later / earlier (from now when empty)" },
		{ "Enter F2", "accept the form (refused while a field is wrong)" },
		{ "Esc ^G ^C F10", "cancel the form" },
		{ "F1 ^T", "this help" },
	};
	static const struct help_row site[] = {
		{ "Tab Down ^N", "next field (S-Tab Up ^P: previous)" },
		{ "Space y n", "hairpin field: switch, yes, no" },
		{ "Enter F2", "accept (refused while a field is wrong)" },
		{ "Esc ^G ^C F10", "cancel" },
	};
	static const struct help_row pager[] = {
		{ "Up k / Down j", "one line up / down" },
		{ "PgUp b  PgDn f Space", "one page up / down" },
		{ "Home g / End G", "the top / the end" },
		{ "q Esc Enter ^C F10", "back (F1 ? h too)" },
	};
	static const struct help_row probe[] = {
		{ "Esc q ^C ^G", "while it runs: stop it (the child is ended)" },
		{ "r", "when it is done: run it again" },
		{ "Home / End", "stop following / follow the newest lines" },
	};
	static const struct help_row question[] = {
		{ "letter", "the answer it names" },
		{ "Enter / Esc ^G ^C", "the first answer / cancel" },
	};
	static const struct help_row legend[] = {
		{ "!", "the row has an error (the status line says which and how to fix it)" },
		{ "*", "the row has a warning" },
		{ "in sync", "applied: its rules in the kernel match the table (an apply would not change them)" },
		{ "pending", "changed in this session, not applied yet" },
		{ "drifted", "the kernel differs from the saved table: an apply rewrites its rules" },
		{ "off", "disabled (enabled = no)" },
		{ "expired", "its expires time has passed: it is not applied" },
		{ "error", "invalid: it will not be applied until fixed" },
		{ "-", "kernel state unknown (tui --offline, not root, or no iptables)" },
		{ "before HH:MM", "Last hit: the hits were counted before this session began "
		  "watching at HH:MM (the kernel keeps no time)" },
	};
	const struct help_row ddns[] = {
		{ tui_glyph(G_YES), "the name resolves to the public IP" },
		{ tui_glyph(G_NO), "it resolves elsewhere, or not at all" },
		{ tui_glyph(G_ELLIPSIS), "being looked up (in the background)" },
		{ "?", "the public IP is not known yet" },
	};
	const struct tui_binding *b;
	const char *key, *what;
	int w = t->cols - 2;
	size_t n;

	tui_pager_wrap(pg, TR_HEADER, w, "", "Table screen");
	b = tui_table_bindings(&n);
	for (size_t i = 0; i < n; i++)
		row(pg, w, b[i].label, b[i].help);
	for (size_t i = 0; i < sizeof sort / sizeof sort[0]; i++)
		row(pg, w, sort[i].key, sort[i].what);
	GROUP(pg, w, "Filter line", filter);
	GROUP(pg, w, "Edit form (Enter, a, c)", form);
	GROUP(pg, w, "[site] form (S)", site);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_wrap(pg, TR_HEADER, w, "", "Apply screen (A)");
	for (size_t i = 0; (key = tui_apply_key_row(i, &what)) != NULL; i++)
		row(pg, w, key, what);          /* the apply screen's own key table */
	GROUP(pg, w, "Pages: help, details, session log, DDNS panel", pager);
	GROUP(pg, w, "Probe, watch and access log (each runs in a child process)", probe);
	GROUP(pg, w, "Questions", question);
	GROUP(pg, w, "DDNS marks (header and D panel)", ddns);
	GROUP(pg, w, "Marks and states", legend);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_wrap(pg, TR_DIM, w, "", "Every function key has a letter; no mouse needed. "
	               "q or Esc leaves this page.");
}

struct tui_panel *
tui_help_panel(void)
{
	return &tui_pager_new("help", NULL, fill_help)->p;
}
