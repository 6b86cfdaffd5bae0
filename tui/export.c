/* Export: the core's documentation record (md, csv or json by the file's extension) to a file. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli-opts.h"
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

static void
export_to(struct tui *t, const char *path, void *ctx)
{
	struct pp_cli c = *t->cli;
	const char *fmt = format_of(path ? path : "");
	char *errs = NULL, *argv[] = { "export", "--format", (char *)fmt, "-o", (char *)path, NULL };
	size_t len;
	int rc;

	(void)ctx;
	if (path == NULL || path[0] == '\0')
		return;
	c.err = c.out = open_memstream(&errs, &len);
	if (c.out == NULL)
		return;
	c.json = false;
	c.table_path = t->path;
	rc = pp_cmd_call(&c, pp_command_find("export"), 5, argv);
	fclose(c.out);
	if (rc == 0) {
		tui_message(t, TR_OK, "Exported the table (%s) to %s.", fmt, path);
		tui_logf(t, "exported %s to %s", fmt, path);
	} else {
		tui_message(t, TR_ERROR, "Export failed: %s", errs ? errs : "");
	}
	free(errs);
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
