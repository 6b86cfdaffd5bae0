/* `portpilot complete WHAT`: the words the bash completion offers, from the table and the model. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli.h"
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

/* One word a line, nothing on an unreadable table: a completion must never print an error
   into the middle of the user's command line. Always exit 0 for the same reason. */
int
pp_cmd_complete(struct pp_cli *cli, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (strcmp(what, "names") == 0) {
		struct pp_table *t;
		struct pp_error err;
		if (pp_table_load(cli->table_path, false, &t, &err) == 0) {
			for (size_t i = 0; i < t->n; i++)
				fprintf(cli->out, "%s\n", t->maps[i].name);
			pp_table_free(t);
		}
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
				for (const char *p = fixed[i].values; *p;) {
					size_t n = strcspn(p, " ");
					fprintf(cli->out, "%.*s\n", (int)n, p);
					p += n + (p[n] == ' ');
				}
	} else {
		fprintf(cli->err, "usage: portpilot [-f TABLE] [-c CONF] complete names | ddns-names | keys | site-keys | values KEY\n"
		        "(the bash completion's helper)\n");
	}
	return PP_EXIT_OK;
}
