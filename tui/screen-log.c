/* The session log: what this TUI session changed, saved, reloaded or applied. */
#include "tui-internal.h"

static void
fill_log(struct tui_pager *pg, struct tui *t)
{
	if (t->nlog == 0)
		tui_pager_add(pg, TR_DIM, "Nothing done yet in this session.");
	for (size_t i = 0; i < t->nlog; i++)
		tui_pager_add(pg, TR_NORMAL, "%s", t->log[i]);
}

struct tui_panel *
tui_log_panel(void)
{
	return &tui_pager_new("session log", NULL, fill_log)->p;
}
