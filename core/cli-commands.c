/* The command table: every module's subcommands, one line each, with the spec each file
   defines beside its command (tmux's cmd_table of cmd_entry); `portpilot help`. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli-opts.h"
#include "portpilot/table.h"
#include "portpilot/backend.h"
#include "portpilot/nft.h"
#include "portpilot/ddns.h"
#include "portpilot/probe.h"
#include "portpilot/monitor.h"
#include "portpilot/tui.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

static const struct pp_cmd commands[] = {
	{ "check", pp_cmd_check, "validate the table; exit 0 clean, 1 findings", &pp_spec_check },
	{ "list", pp_cmd_list, "list the mappings", &pp_spec_list },
	{ "export", pp_cmd_export, "documentation record: --format md|csv|json", &pp_spec_export },
	{ "add", pp_cmd_add, "add NAME KEY=VALUE...: add a mapping", &pp_spec_add },
	{ "set", pp_cmd_set, "set NAME KEY=VALUE...: change a mapping (KEY= removes the key)", &pp_spec_set },
	{ "del", pp_cmd_del, "del NAME: delete a mapping", &pp_spec_del },
	{ "enable", pp_cmd_enable, "enable NAME: enable a mapping", &pp_spec_enable },
	{ "disable", pp_cmd_disable, "disable NAME: disable a mapping", &pp_spec_disable },
	{ "apply", pp_cmd_apply, "apply [--dry-run] [--confirm S]: put the table into netfilter", &pp_spec_apply },
	{ "confirm", pp_cmd_confirm, "keep the ruleset of apply --confirm", &pp_spec_confirm },
	{ "rollback", pp_cmd_rollback, "restore the rules from before the last apply", &pp_spec_rollback },
	{ "status", pp_cmd_status, "status [--json]: each mapping against the kernel, counters", &pp_spec_status },
	{ "probe", pp_cmd_probe, "probe NAME [--reflector URL]: why a mapping fails from outside", &pp_spec_probe },
	{ "watch", pp_cmd_watch, "watch NAME [--seconds N]: report attempts on a mapping live", &pp_spec_watch },
	{ "reflector", pp_cmd_reflector, "reflector --listen ADDR:PORT: the outside-check service", &pp_spec_reflector },
	{ "log", pp_cmd_log, "log [NAME] [--record|--follow]: who connected to the mappings, when, accepted or rejected (NFLOG)", &pp_spec_log },
	{ "ddns", pp_cmd_ddns, "ddns run | --once | status [--json]: keep the public IP published", &pp_spec_ddns },
	{ "monitor", pp_cmd_monitor, "monitor [--interval S] [--once]: check every mapping's service, diagnose every change", &pp_spec_monitor },
	{ "health", pp_cmd_health, "health [NAME] [--json]: up/down/unknown of each mapping, from the monitor", &pp_spec_health },
	{ "tui", pp_cmd_tui, "the full-screen editor (the default): --ascii, --no-color, --offline", &pp_spec_tui },
	{ "relay", pp_cmd_relay, "relay keygen|up|down|status: the site's tunnel to its edge host (behind CGNAT)", &pp_spec_relay },
	{ "edge", pp_cmd_edge, "edge keygen|up|down|status [--config FILE]: the public face of relayed sites", &pp_spec_edge },
	{ "init", pp_cmd_init, "init [--wan IF] [--lan IF]: write a first table from the routing table", &pp_spec_init },
	{ "watch6", pp_cmd_watch6, "watch6 [--once]: the IPv6 pinholes follow the LAN's delegated prefix", &pp_spec_watch6 },
	{ "help", pp_cmd_help, "help [COMMAND]: this help, or a command's", &pp_spec_help_cmd },
	/* No summary: hidden from the help, for the shell completion only. */
	{ "complete", pp_cmd_complete, NULL, &pp_spec_complete },
	/* Hidden too: the nftables backend's plumbing (tests, benches). */
	{ "nft", pp_cmd_nft, NULL, &pp_spec_nft },
};

const struct pp_cmd *
pp_commands(size_t *n)
{
	*n = sizeof commands / sizeof commands[0];
	return commands;
}

const struct pp_cmd *
pp_command_find(const char *name)
{
	for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
		if (strcmp(name, commands[c].name) == 0)
			return &commands[c];
	return NULL;
}

/* The options before the command (core/main.c parses them by pp_spec_global). */
static const struct pp_opt global_opts[] = {
	{ NULL, 'f', "TABLE", "the mapping table (default " PP_DEFAULT_TABLE ")" },
	{ NULL, 'c', "CONF", "portpilot.conf (default " PP_DEFAULT_CONF ")" },
	{ "state-dir", 0, "DIR", "state: snapshots, DDNS results (default " PP_DEFAULT_STATE ")" },
	{ "json", 0, NULL, "machine-readable output (also anywhere after the command)" },
	{ "help", 'h', NULL, "this help; COMMAND --help for a command's" },
	{ "version", 0, NULL, "print the version" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_global = {
	.args = "[COMMAND [ARGS]]", .opts = global_opts, .leading = true,
	.doc = "With no command, opens the full-screen editor on the table.\n",
};

static void
usage(FILE *f, const char *cmd, const struct pp_cmd_spec *spec)
{
	(void)cmd, (void)spec;
	fputs("usage: portpilot", f);
	pp_spec_synopsis(f, &pp_spec_global, 16, PP_HELP_WIDTH, "      ");
	fprintf(f, "\n%s\noptions:\n", pp_spec_global.doc);
	for (const struct pp_opt *o = global_opts; o->name || o->letter; o++) {
		char form[48];
		int n = snprintf(form, sizeof form, "%s%c%s%s%s%s%s", o->letter ? "-" : "", o->letter ? o->letter : ' ',
		                 o->letter && o->name ? ", " : "", o->name ? "--" : "", o->name ? o->name : "",
		                 o->arg ? " " : "", o->arg ? o->arg : "");
		const char *p = o->letter ? form : form + 1;
		fprintf(f, "  %s%*s%s\n", p, n - (p - form) < 17 ? 18 - (int)(n - (p - form)) : 1, "", o->help);
	}
	fputs("\ncommands:\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].summary)
			fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nexit codes: 0 ok, 1 findings or failure, 2 usage or unreadable input\n", f);
}

void
pp_usage(FILE *f)
{
	pp_help_folded(f, usage, NULL, &pp_spec_global);
}

/* roff text with '-' as \- */
static void
roff(FILE *f, const char *font, const char *s)
{
	fprintf(f, "\\f%s", font);
	for (; *s; s++)
		fputs(*s == '-' ? "\\-" : *s == '\\' ? "\\e" : (char[2]){ *s, 0 }, f);
	fputs("\\fR", f);
}

/* An option of a man SYNOPSIS line: [\fB--name\fR \fIARG\fR] */
static void
man_option(FILE *f, const struct pp_opt *o)
{
	char name[48];

	if (o->name)
		snprintf(name, sizeof name, "--%s", o->name);
	else
		snprintf(name, sizeof name, "-%c", o->letter);
	fputs("\n[", f);
	roff(f, "B", name);
	if (o->arg && o->arg[0] == '=') {
		fputc('[', f);
		roff(f, "I", o->arg);
		fputc(']', f);
	} else if (o->arg) {
		fputc(' ', f);
		roff(f, "I", o->arg);
	}
	fputc(']', f);
}

/* The man page's SYNOPSIS line of a command (name NULL: the global options'), from its spec. */
static void
man_line(FILE *f, const char *name, const struct pp_cmd_spec *s)
{
	bool args = s->args && *s->args;

	fputs(".br\n", f);
	roff(f, "B", name ? "portpilot " : "portpilot");
	if (name)
		roff(f, "B", name);
	if (args && !s->leading) {
		fputc(' ', f);
		roff(f, "I", s->args);
	}
	for (const struct pp_opt *o = s->opts; o && (o->name || o->letter); o++)
		if (o->help)
			man_option(f, o);
	if (args && s->leading) {
		fputc('\n', f);
		roff(f, "I", s->args);
	}
	fputc('\n', f);
}

static void
man_synopsis(FILE *f)
{
	man_line(f, NULL, &pp_spec_global);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].summary)
			man_line(f, commands[i].name, commands[i].spec);
}

/* JSON help: a string field, then the options that have a help line. */
static void
json_field(FILE *f, const char *key, const char *v)
{
	fprintf(f, "\"%s\":", key);
	pp_json_str(f, v);
	fputc(',', f);
}

static void
json_options(FILE *f, const struct pp_opt *opts)
{
	bool first = true;

	fputs("\"options\":[", f);
	for (const struct pp_opt *o = opts; o && (o->name || o->letter); o++) {
		if (o->help == NULL)
			continue;
		fprintf(f, "%s{", first ? "" : ",");
		first = false;
		json_field(f, "name", o->name);
		json_field(f, "letter", o->letter ? (char[2]){ o->letter, 0 } : NULL);
		json_field(f, "arg", o->arg && o->arg[0] == '=' ? o->arg + 1 : o->arg);
		fprintf(f, "\"arg_optional\":%s,", o->arg && o->arg[0] == '=' ? "true" : "false");
		fputs("\"help\":", f);
		pp_json_str(f, o->help);
		fputc('}', f);
	}
	fputc(']', f);
}

/* {"name","summary","usage","doc","options"} of a command (name NULL: portpilot's own). */
static void
json_command(FILE *f, const char *name, const char *summary, const struct pp_cmd_spec *s)
{
	char *usage = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&usage, &len);

	if (m) {
		fprintf(m, "portpilot%s%s%s%s", s->globals ? " " : "", s->globals ? s->globals : "",
		        name ? " " : "", name ? name : "");
		pp_spec_synopsis(m, s, 0, 0, "");
		fclose(m);
	}
	fputc('{', f);
	json_field(f, "name", name);
	json_field(f, "summary", summary);
	json_field(f, "usage", usage);
	json_field(f, "doc", s->doc);
	json_options(f, s->opts);
	fputc('}', f);
	free(usage);
}

/* portpilot --json help [COMMAND]: the help as data, from the same specs as the text. */
static void
json_help(FILE *f, const struct pp_cmd *c)
{
	if (c) {
		json_command(f, c->name, c->summary, c->spec);
		fputc('\n', f);
		return;
	}
	fputs("{\"program\":", f);
	json_command(f, NULL, NULL, &pp_spec_global);
	fputs(",\"commands\":[", f);
	for (size_t i = 0, n = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].summary) {
			fputs(n++ ? "," : "", f);
			json_command(f, commands[i].name, commands[i].summary, commands[i].spec);
		}
	fputs("],\"exit_codes\":{\"0\":\"ok\",\"1\":\"findings or failure\",\"2\":\"usage or unreadable "
	      "input\"}}\n", f);
}

static const struct pp_opt help_opts[] = {
	{ "man", 0, NULL, NULL }, /* the man page's synopsis lines (tools/man-synopsis.sh) */
	{ "json", 0, NULL, "the help as one JSON object: every command's usage, text and options" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_help_cmd = {
	.args = "[COMMAND]", .max = 1, .complete = "commands", .opts = help_opts,
	.doc = "Prints portpilot's help, or COMMAND's (as portpilot COMMAND --help).\n",
};

int
pp_cmd_help(struct pp_cli *cli, int argc, char **argv)
{
	const struct pp_cmd *c = argc > 1 ? pp_command_find(argv[1]) : NULL;

	if (pp_opt(cli, "man")) {
		man_synopsis(cli->out);
		return PP_EXIT_OK;
	}
	if (argc > 1 && (c == NULL || c->spec == NULL))
		return pp_cli_usage(cli, "help", "no command '%s' (portpilot --help lists them)", argv[1]);
	if (pp_opt(cli, "json"))
		json_help(cli->out, c);
	else if (c)
		pp_spec_help(cli->out, c->name, c->spec);
	else
		pp_usage(cli->out);
	return PP_EXIT_OK;
}
