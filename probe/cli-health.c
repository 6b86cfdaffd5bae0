/* portpilot health: every mapping's state as the running monitor last wrote it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "portpilot/cli-opts.h"
#include "portpilot/monitor.h"
#include "portpilot/util.h"

static const struct pp_opt health_opts[] = { PP_OPT_JSON, { 0 } };
const struct pp_cmd_spec pp_spec_health = {
	.globals = "[--state-dir DIR]", .args = "[NAME]", .max = 1, .complete = "names", .opts = health_opts,
	.doc =
	"The state of every mapping (or NAME) as the running monitor last saw it: up, down or\n"
	"unknown, since when, and the cause of the last failure. Exit 1 when any is down.\n",
};

static void
json_str(FILE *f, const char *k, const char *v)
{
	fprintf(f, ",\"%s\":", k);
	pp_json_str(f, v);
}

int
pp_cmd_health(struct pp_cli *cli, int argc, char **argv)
{
	const char *name = NULL;
	char *path, *text;
	size_t len;
	int rc = PP_EXIT_OK, found = 0;

	if (argc > 1)
		name = argv[1];
	path = pp_xasprintf("%s/monitor-state.json", cli->state_dir);
	text = pp_read_file(path, &len);
	if (text == NULL) {
		fprintf(cli->err, "portpilot: %s: %s; is portpilot monitor running (systemctl start "
		        "portpilot-monitor)?\n", path, strerror(errno));
		free(path);
		return PP_EXIT_FAIL;
	}
	char updated[32], interval[16];
	pp_json_field(text, "updated", updated, sizeof updated);
	pp_json_field(text, "interval", interval, sizeof interval);
	/* The monitor rewrites the file at least every 30 s: an older one means it stopped. */
	long age = (long)(time(NULL) - atoll(updated)), limit = 3L * (atol(interval) > 30 ? atol(interval) : 30);
	if (*updated && age > limit)
		fprintf(cli->err, "portpilot: warning: %s was last written %ld s ago; is portpilot monitor "
		        "still running (systemctl status portpilot-monitor)?\n", path, age);
	if (cli->json)
		fprintf(cli->out, "{\"updated\":%s,\"mappings\":[", *updated ? updated : "null");
	/* One mapping a line: each line is a flat object pp_json_field reads. */
	for (char *l = strchr(text, '\n'); l; l = strchr(l, '\n')) {
		char nm[128], st[16], since[32], cause[32], pub[16], pcause[32], *summary = pp_xmalloc(len + 1);
		l++;
		if (strncmp(l, "{\"name\":", 8) != 0) {
			free(summary);
			continue;
		}
		char *end = strchr(l, '\n');
		if (end)
			*end = '\0';
		pp_json_field(l, "name", nm, sizeof nm);
		pp_json_field(l, "state", st, sizeof st);
		pp_json_field(l, "since", since, sizeof since);
		pp_json_field(l, "cause", cause, sizeof cause);
		pp_json_field(l, "summary", summary, len + 1);
		bool has_pub = pp_json_field(l, "public", pub, sizeof pub);
		pp_json_field(l, "public_cause", pcause, sizeof pcause);
		if (end)
			*end = '\n';
		if (name && strcasecmp(name, nm) != 0) {
			free(summary);
			continue;
		}
		if (!strcmp(st, "down") || (has_pub && !strcmp(pub, "down")))
			rc = PP_EXIT_FAIL;
		bool nul_since = !strcmp(since, "null"), nul_cause = !strcmp(cause, "null");
		if (cli->json) {
			fprintf(cli->out, "%s{\"name\":", found ? "," : "");
			pp_json_str(cli->out, nm);
			json_str(cli->out, "state", st);
			json_str(cli->out, "since", nul_since ? NULL : since);
			json_str(cli->out, "cause", nul_cause ? NULL : cause);
			json_str(cli->out, "summary", strcmp(summary, "null") ? summary : NULL);
			if (has_pub) {
				json_str(cli->out, "public", pub);
				json_str(cli->out, "public_cause", strcmp(pcause, "null") ? pcause : NULL);
			}
			fprintf(cli->out, "}");
		} else {
			fprintf(cli->out, "%-16s %-7s %s%s%s%s%s%s%s%s\n", nm, !strcmp(st, "down") ? "DOWN" : st,
			        nul_since ? "" : "since ", nul_since ? "" : since, nul_cause ? "" : "  ",
			        nul_cause ? "" : cause, has_pub ? "  public " : "",
			        has_pub ? (!strcmp(pub, "down") ? "DOWN" : pub) : "",
			        has_pub && strcmp(pcause, "null") ? " " : "",
			        has_pub && strcmp(pcause, "null") ? pcause : "");
		}
		found++;
		free(summary);
	}
	if (cli->json)
		fprintf(cli->out, "]}\n");
	free(text);
	free(path);
	if (name && !found) {
		fprintf(cli->err, "portpilot: health: the monitor has no mapping named '%s' (enabled "
		        "mappings only)\n", name);
		return PP_EXIT_FAIL;
	}
	return rc;
}
