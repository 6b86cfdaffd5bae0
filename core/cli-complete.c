/* `portpilot complete WHAT`: the words the bash completion offers, from the table and the model. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli-opts.h"
#include "portpilot/conf.h"
#include "portpilot/table.h"

/* Values a key takes from a fixed set; keys with free values complete to nothing. */
static const struct {
	const char *key, *values;
} fixed[] = {
	{ "protocol", "tcp udp both" },
	{ "enabled", "yes no" },
	{ "hairpin", "yes no" },
	{ "public_ip", "auto" },
	{ "backend", "auto iptables nftables" },
};

static void
words(FILE *f, const char *p)
{
	while (*p) {
		size_t n = strcspn(p, " ");
		fprintf(f, "%.*s\n", (int)n, p);
		p += n + (p[n] == ' ');
	}
}

static void
names(struct pp_cli *cli)
{
	struct pp_table *t;
	struct pp_error err;

	if (pp_table_load(cli->table_path, false, &t, &err) == 0) {
		for (size_t i = 0; i < t->n; i++)
			fprintf(cli->out, "%s\n", t->maps[i].name);
		pp_table_free(t);
	}
}

/* The words the first positional argument of a command completes to: spec->complete is
   "words" (its spec->words), "names" (the table's mappings) or "names site". */
static void
args_of(struct pp_cli *cli, const struct pp_cmd_spec *s)
{
	if (strcmp(s->complete, "words") == 0) {
		words(cli->out, s->words);
		return;
	}
	if (strcmp(s->complete, "commands") == 0) {
		size_t n;
		const struct pp_cmd *t = pp_commands(&n);
		for (size_t i = 0; i < n; i++)
			if (t[i].summary)
				fprintf(cli->out, "%s\n", t[i].name);
		return;
	}
	if (strstr(s->complete, "site"))
		fputs("site\n", cli->out);
	names(cli);
}

/* From the command table: its commands, a command's options, what its first argument is and
   what an option's value is (the word after the option in its usage, e.g. FILE). */
static bool
from_table(struct pp_cli *cli, int argc, char **argv)
{
	const char *what = argv[1];
	const struct pp_cmd *c = argc > 2 ? pp_command_find(argv[2]) : NULL;
	if (strcmp(what, "commands") == 0) {
		args_of(cli, &(struct pp_cmd_spec){ .complete = "commands" });
		return true;
	}
	if (strcmp(what, "options") == 0 && argc == 2) {
		for (const struct pp_opt *o = pp_spec_global.opts; o->name || o->letter; o++) {
			if (o->letter)
				fprintf(cli->out, "-%c\n", o->letter);
			if (o->name)
				fprintf(cli->out, "--%s\n", o->name);
		}
		return true;
	}
	if (strcmp(what, "value") == 0 && argc == 3) { /* a global option's */
		for (const struct pp_opt *o = pp_spec_global.opts; o->name || o->letter; o++)
			if (o->arg && ((o->name && strcmp(argv[2], o->name) == 0) || (!o->name && argv[2][0] == o->letter)))
				fprintf(cli->out, "%s\n", o->arg);
		return true;
	}
	if (c == NULL || c->spec == NULL)
		return strcmp(what, "options") == 0 || strcmp(what, "args") == 0 || strcmp(what, "value") == 0;
	const struct pp_cmd_spec *s = c->spec;
	for (const struct pp_opt *o = s->opts; o && (o->name || o->letter); o++) {
		if (o->help == NULL)
			continue;
		if (strcmp(what, "options") == 0 && o->name)
			fprintf(cli->out, "--%s%s\n", o->name, o->arg && o->arg[0] == '=' ? "=" : "");
		else if (strcmp(what, "options") == 0)
			fprintf(cli->out, "-%c\n", o->letter);
		else if (strcmp(what, "value") == 0 && argc > 3 && o->arg &&
		         ((o->name && strcmp(argv[3], o->name) == 0) || (!o->name && argv[3][0] == o->letter)))
			fprintf(cli->out, "%s\n", o->arg);
	}
	if (strcmp(what, "options") == 0)
		fputs("--help\n", cli->out); /* every command's; --json is in the spec where it is one */
	if (strcmp(what, "args") == 0 && s->complete)
		args_of(cli, s);
	return strcmp(what, "options") == 0 || strcmp(what, "args") == 0 || strcmp(what, "value") == 0;
}

const struct pp_cmd_spec pp_spec_complete = {
	.args = "commands | options CMD | args CMD | value CMD OPT | names | ddns-names | keys | site-keys | values KEY",
	.max = -1,
};

/* One word a line, nothing on an unreadable table: a completion must never print an error
   into the middle of the user's command line. Always exit 0 for the same reason. */
int
pp_cmd_complete(struct pp_cli *cli, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (argc > 1 && from_table(cli, argc, argv)) {
		;
	} else if (strcmp(what, "names") == 0) {
		names(cli);
	} else if (strcmp(what, "ddns-names") == 0) {
		struct pp_conf *c;
		struct pp_error err;
		if (pp_conf_load(cli->conf_path, true, &c, &err) == 0) {
			for (size_t i = 0; i < c->nddns; i++)
				fprintf(cli->out, "%s\n", c->ddns[i].name);
			pp_conf_free(c);
		}
	} else if (strcmp(what, "keys") == 0) {
		for (int k = 0; k < PP_F__COUNT; k++)
			fprintf(cli->out, "%s\n", pp_field_name(k));
	} else if (strcmp(what, "site-keys") == 0) {
		for (int k = 0; k < PP_S__COUNT; k++)
			fprintf(cli->out, "%s\n", pp_site_field_name(k));
	} else if (strcmp(what, "values") == 0 && argc > 2) {
		for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
			if (strcmp(fixed[i].key, argv[2]) == 0)
				words(cli->out, fixed[i].values);
	} else {
		fprintf(cli->err, "usage: portpilot [-f TABLE] [-c CONF] complete %s\n"
		        "(the bash completion's helper)\n", pp_spec_complete.args);
	}
	return PP_EXIT_OK;
}
