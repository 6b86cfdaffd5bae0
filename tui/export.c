/* Export: the core's documentation record (md, csv or json by the file's extension) to a file. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/export.h"
#include "portpilot/util.h"
#include "tui-internal.h"

static const char *
format_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot && strcmp(dot, ".csv") == 0)
		return "csv";
	if (dot && strcmp(dot, ".json") == 0)
		return "json";
	return "md";
}

/* The engine writes the saved file's record; its error, with the fix, is the message. */
static void
export_to(struct tui *t, const char *path, void *ctx)
{
	const char *fmt = format_of(path ? path : "");
	struct pp_table *tab;
	struct pp_error err;

	(void)ctx;
	if (path == NULL || path[0] == '\0')
		return;
	if (pp_table_load(t->path, false, &tab, &err) < 0) {
		tui_message(t, TR_ERROR, "Not exported, %s cannot be read: %s", t->path, err.msg);
		return;
	}
	if (pp_export_write(tab, fmt, path, NULL, time(NULL), &err) == 0) {
		tui_message(t, TR_OK, "Exported the table (%s) to %s.", fmt, path);
		tui_logf(t, "exported %s to %s", fmt, path);
	} else {
		tui_message(t, TR_ERROR, "Not exported: %s", err.msg);
		tui_logf(t, "export to %s failed", path);
	}
	pp_table_free(tab);
}

static void
ask_path(struct tui *t)
{
	char *copy = pp_xstrdup(t->path), *def;

	def = pp_xasprintf("%s/mappings-export.md", dirname(copy));
	tui_push(t, tui_input_panel("Export", "File to write (.md, .csv or .json):", def,
	                            export_to, NULL));
	free(def);
	free(copy);
}

static void
save_answer(struct tui *t, int key, void *ctx)
{
	(void)ctx;
	if (key == 's' && tui_save(t) == 0)
		ask_path(t);
}

void
tui_export_start(struct tui *t)
{
	if (t->table->dirty) {
		tui_push(t, tui_prompt_panel("Save first", "Export works from the saved file.\n\n"
		                             "s save, then export    c cancel", "sc", save_answer, NULL));
		return;
	}
	ask_path(t);
}
