/* `portpilot nft render|apply|show|blockers`: the nftables backend's own plumbing, for tests and benches. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portpilot/cli-opts.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

static const struct pp_opt nft_opts[] = { { "dry-run", 0, NULL, "apply: print the plan only" }, { 0 } };
const struct pp_cmd_spec pp_spec_nft = {
	.args = "render|apply|show|counters|blockers", .min = 1, .max = 1,
	.words = "render apply show counters blockers", .complete = "words",
	.missing = "which one: render, apply, show, counters, blockers", .opts = nft_opts,
	.doc =
	"  render    print the table inet portpilot transaction the mapping table renders to\n"
	"  apply     put it into the kernel: element updates when the layout is unchanged, else the\n"
	"            whole table in one transaction; prints what the plan changed\n"
	"  show      portpilot's table as the kernel lists it (\"no table\" when absent)\n"
	"  counters  new connections (packets, bytes) per mapping, from its ports' counters\n"
	"  blockers  other tables' forward base chains that can drop what portpilot accepts\n",
};

static int
load(struct pp_cli *cli, struct pp_table **t, struct pp_nft_state *want)
{
	struct pp_error err;
	if (pp_table_load(cli->table_path, false, t, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_USAGE;
	}
	struct pp_findings fs = { 0 };
	pp_table_check(*t, time(NULL), &fs);
	pp_findings_sort(&fs);
	size_t errors = pp_findings_count(&fs, PP_ERROR);
	if (errors)
		pp_findings_print(cli->err, cli->table_path, &fs);
	pp_findings_free(&fs);
	if (errors) {
		fprintf(cli->err, "portpilot: %s: %zu error(s): fix them first (portpilot check), nothing applied\n",
		        cli->table_path, errors);
		return PP_EXIT_FAIL;
	}
	struct pp_want w;
	if (pp_want_build(*t, time(NULL), &w, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	int rc = pp_nft_render(&w, want, &err);
	pp_want_free(&w);
	if (rc < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	return PP_EXIT_OK;
}

static int
counters(struct pp_cli *cli)
{
	struct pp_table *t = NULL;
	struct pp_error err;
	struct pp_nft_state live;
	if (pp_table_load(cli->table_path, false, &t, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_USAGE;
	}
	if (pp_nft_read(&live, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		pp_table_free(t);
		return PP_EXIT_FAIL;
	}
	for (size_t i = 0; i < t->n; i++) {
		unsigned long long p, b;
		if (pp_nft_counter(&live, &t->maps[i], &p, &b) == 0)
			fprintf(cli->out, "%s\t%llu\t%llu\n", t->maps[i].name, p, b);
	}
	pp_nft_state_free(&live);
	pp_table_free(t);
	return PP_EXIT_OK;
}

static int
blockers(struct pp_cli *cli)
{
	struct pp_nft_blocker *v;
	size_t n;
	struct pp_error err;
	if (pp_nft_blockers(NULL, &v, &n, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(cli->out, "%s %s %s: forward hook, priority %d, policy %s, %zu drop rule(s)%s: %s\n", v[i].family,
		        v[i].table, v[i].chain, v[i].prio, v[i].policy_drop ? "drop" : "accept", v[i].drop_rules,
		        v[i].handled ? ", handled" : "", v[i].fix);
	free(v);
	return PP_EXIT_OK;
}

int
pp_cmd_nft(struct pp_cli *cli, int argc, char **argv)
{
	const char *sub = argv[1];
	bool dry = pp_opt(cli, "dry-run") != NULL;
	(void)argc;
	if (strcmp(sub, "blockers") == 0)
		return blockers(cli);
	struct pp_error err;
	struct pp_nft_state live;
	if (strcmp(sub, "show") == 0) {
		if (pp_nft_read(&live, &err) < 0) {
			fprintf(cli->err, "portpilot: %s\n", err.msg);
			return PP_EXIT_FAIL;
		}
		fputs(live.present ? live.text : "no table\n", cli->out);
		pp_nft_state_free(&live);
		return PP_EXIT_OK;
	}
	if (strcmp(sub, "counters") == 0)
		return counters(cli);
	if (strcmp(sub, "render") != 0 && strcmp(sub, "apply") != 0)
		return pp_cli_usage(cli, "nft", "unknown '%s': render, apply, show, counters, blockers", sub);
	struct pp_table *t = NULL;
	struct pp_nft_state want;
	int rc = load(cli, &t, &want);
	if (rc != PP_EXIT_OK) {
		pp_table_free(t);
		return rc;
	}
	struct pp_nft_plan p;
	if (*sub == 'r') {
		struct pp_nft_state none;
		pp_nft_parse("", &none);
		pp_nft_plan_make(&want, &none, &p);
		fputs(p.text, cli->out);
		pp_nft_plan_free(&p);
		pp_nft_state_free(&none);
	} else if (pp_nft_read(&live, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		rc = PP_EXIT_FAIL;
	} else {
		pp_nft_plan_make(&want, &live, &p);
		if (!p.text)
			fprintf(cli->out, "nothing to change\n");
		else if ((dry ? pp_nft_run(p.text, true, NULL, &err) : pp_nft_commit_text(p.text, &err)) < 0) {
			fprintf(cli->err, "portpilot: %s\n", err.msg);
			rc = PP_EXIT_FAIL;
		} else {
			fprintf(cli->out, "%s%s: %zu element(s) added, %zu deleted\n", dry ? "would apply " : "",
			        p.full ? "whole table" : "element update", p.el_added, p.el_deleted);
		}
		pp_nft_plan_free(&p);
		pp_nft_state_free(&live);
	}
	pp_nft_state_free(&want);
	pp_table_free(t);
	return rc;
}
