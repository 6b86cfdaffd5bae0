/* The full-screen ncurses editor: `portpilot` with no command, or `portpilot tui`. */
#ifndef PORTPILOT_TUI_H
#define PORTPILOT_TUI_H

#include <stdbool.h>

#include "portpilot/cli.h"

struct pp_tui_opts {
	bool ascii;        /* ASCII line drawing even in a UTF-8 locale */
	bool no_color;     /* monochrome even when the terminal has colours */
	bool offline;      /* edit only: never read or change the kernel's rules */
};

/*
 * Open the editor on cli->table_path and return an exit code when the
 * engineer quits. Refuses (exit 2, message on cli->err) when stdin or
 * stdout is not a terminal. NO_COLOR in the environment means monochrome;
 * a locale that is not UTF-8 means ASCII lines.
 */
int pp_tui_run(struct pp_cli *cli);
int pp_tui_main(struct pp_cli *cli, const struct pp_tui_opts *opts);
/* `portpilot tui [--ascii] [--no-color]` */
int pp_cmd_tui(struct pp_cli *cli, int argc, char **argv);

#endif
