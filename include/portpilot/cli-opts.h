/* The command line of every subcommand as data (tmux's cmd_entry): its options, its
   positional arguments and its help, parsed in one place (core/cli-opts.c). */
#ifndef PORTPILOT_CLI_OPTS_H
#define PORTPILOT_CLI_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "portpilot/cli.h"

/* One option. arg NULL: a flag; "NAME": takes a value (--opt V or --opt=V); "=NAME": an
   optional value, only as --opt=V. help NULL hides the option (plumbing). */
struct pp_opt {
	const char *name;       /* long name without "--", NULL when it has only a letter */
	char letter;            /* -x, or 0 */
	const char *arg;
	const char *help;
};

#define PP_OPTS_MAX 24

/* The --json row of a command with JSON output (main.c also takes --json anywhere on the line
   for it); a command without the row refuses --json, saying so. */
#define PP_OPT_JSON { "json", 0, NULL, "machine-readable output" }

struct pp_cmd_spec {
	const char *globals;    /* the global options it reads, for its usage line: "[-f TABLE]" */
	const char *args;       /* its positional arguments in the usage line: "NAME [KEY=VALUE...]" */
	int min, max;           /* how many positional arguments (max -1: any number) */
	const char *words;      /* "up down": the first positional is one of these; NULL any word */
	const char *missing;    /* the error when fewer than min are given; NULL a generic one */
	const char *complete;   /* what the first positional completes to: "names", "words", NULL */
	const struct pp_opt *opts; /* ends with an all-zero row */
	const char *doc;        /* the text under the usage line */
	void (*more)(FILE *f);  /* prints what follows the options in its help, or NULL */
	bool leading;           /* options only before the first argument, which ends the parse
	                           (the global options: the command word ends them) */
	const char *no_json;    /* why --json is refused and what instead, when there is no json
	                           row; NULL: "CMD has no JSON output; drop --json" */
};

/* What the parser found: each option's value by its row in spec->opts (NULL not given,
   "" a flag given), and the positional arguments with the command's name as pos[0]. */
struct pp_args {
	const struct pp_cmd_spec *spec;
	const char *val[PP_OPTS_MAX];
	int npos;
	char **pos;
	int next;               /* spec->leading: the index of the first argument, argc when none */
};

/* Parse argv (argv[0] the command's name, or the program's: cmd NULL for the global options) by spec. Returns 0, or PP_EXIT_USAGE after
   printing the error (naming the option and its fix) to cli->err, or -1 when argv asks for
   the help (-h, --help). a->pos is argv's own storage reordered; nothing to free. */
int pp_args_parse(struct pp_cli *cli, const char *cmd, const struct pp_cmd_spec *spec, int argc,
                  char **argv, struct pp_args *a);
/* Run cmd on argv (argv[0] its name): parse by its spec, print the help for -h/--help, else
   call its function with the positional arguments and the options in cli->args. The one
   way to run a command (core/main.c, the TUI's export). argv is reordered in place. */
int pp_cmd_call(struct pp_cli *cli, const struct pp_cmd *cmd, int argc, char **argv);

/* The value of option NAME (long name, or the letter as "x") of the parsed command line:
   NULL when not given (or not in the command's spec: commands sharing code ask for options
   of each other's), "" for a flag given. */
const char *pp_opt(const struct pp_cli *cli, const char *name);

/* A command's help from its spec: usage line, text, options. */
void pp_spec_help(FILE *f, const char *cmd, const struct pp_cmd_spec *spec);
/* The usage line's arguments after the command's name: "[--dry-run] [--confirm SECONDS]".
   col: the column the line is at already; width 0: one line, else folded before width with
   indent on the next lines. */
void pp_spec_synopsis(FILE *f, const struct pp_cmd_spec *spec, int col, int width, const char *indent);
/* Help text with every line longer than width folded at spaces; a folded line goes on under
   the text of its first line ("  --for DURATION   4h ...": under "4h"; else its own indent). */
void pp_fold_print(FILE *f, const char *text, int width);
/* fn's help text, folded by pp_fold_print() (pp_spec_help, pp_usage). */
typedef void pp_help_fn(FILE *f, const char *cmd, const struct pp_cmd_spec *spec);
void pp_help_folded(FILE *f, pp_help_fn *fn, const char *cmd, const struct pp_cmd_spec *spec);
/* The help is read on 80-column terminals (test-help-width checks every command's). */
#define PP_HELP_WIDTH 80

/* Edit distance (case-insensitive, a transposition counts one), (size_t)-1 past 31 bytes;
   0 for a start of name ("stat" for status) of two or more letters. */
size_t pp_near_distance(const char *word, const char *name);

/* The command table (core/cli-commands.c). */
const struct pp_cmd *pp_commands(size_t *n);
const struct pp_cmd *pp_command_find(const char *name);

/* `portpilot help [COMMAND]`, and the global usage it prints. */
int pp_cmd_help(struct pp_cli *cli, int argc, char **argv);
void pp_usage(FILE *f);
/* The options before the command (-f, -c, --state-dir, --json, -h, --version): core/main.c
   parses them by this spec, the usage, the man page and the completion print them from it. */
extern const struct pp_cmd_spec pp_spec_global;

/* Each command's spec, defined beside its command. */
extern const struct pp_cmd_spec
	pp_spec_check, pp_spec_list, pp_spec_export, pp_spec_add, pp_spec_set, pp_spec_del,
	pp_spec_enable, pp_spec_disable, pp_spec_apply, pp_spec_confirm, pp_spec_rollback,
	pp_spec_status, pp_spec_probe, pp_spec_watch, pp_spec_reflector, pp_spec_log, pp_spec_ddns,
	pp_spec_monitor, pp_spec_health, pp_spec_tui, pp_spec_relay, pp_spec_edge, pp_spec_init,
	pp_spec_watch6, pp_spec_help_cmd, pp_spec_complete, pp_spec_nft;

#endif
