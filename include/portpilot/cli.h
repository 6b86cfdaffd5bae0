/* The command line: global options and the subcommands every module provides. */
#ifndef PORTPILOT_CLI_H
#define PORTPILOT_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command. */
enum { PP_EXIT_OK = 0, PP_EXIT_FAIL = 1, PP_EXIT_USAGE = 2 };

struct pp_args;
struct pp_cmd_spec;

struct pp_cli {
	const char *table_path;   /* -f */
	const char *conf_path;    /* -c */
	const char *state_dir;    /* --state-dir */
	bool json;                /* --json anywhere on the line */
	FILE *out, *err;
	const struct pp_args *args; /* the command's parsed options (portpilot/cli-opts.h) */
};

/* A subcommand: argv[0] is its name; returns an exit code. */
typedef int (*pp_cmd_fn)(struct pp_cli *cli, int argc, char **argv);

struct pp_cmd {
	const char *name;
	pp_cmd_fn fn;
	const char *summary;
	const struct pp_cmd_spec *spec; /* its options and usage (portpilot/cli-opts.h) */
};

/* core/cli-*.c */
int pp_cmd_check(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_list(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_export(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_add(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_set(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_del(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_enable(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_disable(struct pp_cli *cli, int argc, char **argv);

/* core/cli-init.c: a first table from the routing table; core/cli-complete.c: the words
   the bash completion offers (a hidden command). */
int pp_cmd_init(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_complete(struct pp_cli *cli, int argc, char **argv);
/* core/cli-watch6.c: the IPv6 pinholes follow the LAN's delegated prefix (rtnetlink). */
int pp_cmd_watch6(struct pp_cli *cli, int argc, char **argv);

/* core/paths.c: the commented example portpilot.conf shipped with this binary, NULL when
   it is not installed (a static buffer). */
const char *pp_example_conf(void);

/* Print "portpilot CMD: message" to cli->err and return PP_EXIT_USAGE. */
int pp_cli_usage(struct pp_cli *cli, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
