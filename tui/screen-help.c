/* The help screen: every key of every screen, from the same tables the screens use. */
#include <stdio.h>

#include "tui-internal.h"

static void
fill_help(struct tui_pager *pg, struct tui *t)
{
	static const char *const form[][2] = {
		{ "Tab Down ^N", "next field" }, { "S-Tab Up ^P", "previous field" },
		{ "Left Right Home End", "move in the field (^A ^E too)" },
		{ "Backspace Del ^U ^K", "delete (^U: to the start, ^K: to the end)" },
		{ "Space Left Right", "protocol and enabled fields: pick the next value" },
		{ "+ -", "expires field: one day later / earlier (from now when empty)" },
		{ "Enter F2", "accept the form (refused while a field is wrong)" },
		{ "Esc ^G ^C F10", "cancel the form" },
	};
	static const char *const legend[][2] = {
		{ "!", "the row has an error (the status line says which and how to fix it)" },
		{ "*", "the row has a warning" },
		{ "in sync", "applied, the kernel matches the table" },
		{ "pending", "changed in this session, not applied yet" },
		{ "drifted", "the kernel differs from the saved table" },
		{ "off", "disabled (enabled = no)" },
		{ "expired", "its expires time has passed: it is not applied" },
		{ "error", "invalid: it will not be applied until fixed" },
		{ "-", "kernel state unknown (tui --offline, not root, or no iptables)" },
	};
	const struct tui_binding *b;
	size_t n;

	(void)t;
	tui_pager_add(pg, TR_HEADER, "Table screen");
	b = tui_table_bindings(&n);
	for (size_t i = 0; i < n; i++)
		tui_pager_add(pg, TR_NORMAL, "  %-20s %s", b[i].label, b[i].help);
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "1 .. 9", "sort by column N; again: reverse");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Filter line");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "typing", "narrows the rows as you type "
	              "(name, ports, addresses, owner, description)");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "Enter / Esc", "keep the filter / clear it");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Edit form");
	for (size_t i = 0; i < sizeof form / sizeof form[0]; i++)
		tui_pager_add(pg, TR_NORMAL, "  %-20s %s", form[i][0], form[i][1]);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Probe, watch and access log (each runs in a child process)");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "Esc q ^C", "while it runs: stop it (the child is ended)");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "r", "when it is done: run it again");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "Home / End", "stop following / follow the newest lines");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "DDNS (header and D panel)");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", tui_glyph(G_YES), "the name resolves to the public IP");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", tui_glyph(G_NO), "it resolves elsewhere, or not at all");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", tui_glyph(G_ELLIPSIS), "being looked up (in the background)");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "?", "the public IP is not known yet");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Questions");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "letter", "the answer it names");
	tui_pager_add(pg, TR_NORMAL, "  %-20s %s", "Enter / Esc ^G ^C", "the first answer / cancel");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Marks and states");
	for (size_t i = 0; i < sizeof legend / sizeof legend[0]; i++)
		tui_pager_add(pg, TR_NORMAL, "  %-20s %s", legend[i][0], legend[i][1]);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_DIM, "Every function key has a letter; no mouse needed. "
	              "q or Esc leaves this page.");
}

struct tui_panel *
tui_help_panel(void)
{
	return &tui_pager_new("help", NULL, fill_help)->p;
}
