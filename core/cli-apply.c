/* Subcommands apply, confirm, rollback, status: argument parsing and output. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply-internal.h"
#include "portpilot/cli-opts.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"

static const struct pp_opt apply_opts[] = {
	{ "dry-run", 0, NULL, "only show the changes" },
	{ "confirm", 0, "SECONDS", "roll back after SECONDS unless `portpilot confirm` runs;\nthe timer survives the end of the session" },
	{ "enable-forwarding", 0, NULL, "set net.ipv4.ip_forward=1 when it is 0" },
	{ "restore", 0, NULL, "apply the persisted (confirmed) ruleset, for boot" },
	{ "expire", 0, NULL, "drop mappings whose `expires` has passed from the persisted\nruleset, and nothing else (the expire timer)" },
	PP_OPT_JSON,
	{ 0 },
};
const struct pp_cmd_spec pp_spec_apply = {
	.globals = "[-f TABLE] [--state-dir DIR]", .opts = apply_opts,
	.doc = "Validates the table, shows what changes in the kernel, tests the ruleset and applies it\n"
	       "in one iptables-restore transaction over portpilot's own chains.\n",
};

int
pp_cmd_apply(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_apply_opts o = { 0 };
	const char *confirm = pp_opt(cli, "confirm");
	(void)argc, (void)argv;
	o.dry_run = pp_opt(cli, "dry-run") != NULL;
	o.enable_forwarding = pp_opt(cli, "enable-forwarding") != NULL;
	o.restore_persisted = pp_opt(cli, "restore") != NULL;
	o.expire_only = pp_opt(cli, "expire") != NULL;
	if (confirm) {
		char *end;
		long s = strtol(confirm, &end, 10);
		if (*end || s < 1 || s > 86400)
			return pp_cli_usage(cli, "apply", "--confirm takes seconds (1..86400), not '%s'", confirm);
		o.confirm_seconds = (int)s;
	}
	return pp_apply(cli, &o);
}

static const struct pp_opt no_opts[] = { PP_OPT_JSON, { 0 } };
const struct pp_cmd_spec pp_spec_confirm = {
	.globals = "[--state-dir DIR]", .opts = no_opts,
	.doc = "Keeps the ruleset of the last apply --confirm, stops its rollback timer and\n"
	       "persists it for boot.\n",
};

int
pp_cmd_confirm(struct pp_cli *cli, int argc, char **argv)
{
	(void)argc, (void)argv;
	return pp_confirm(cli);
}

/* --timer UNIT: the rollback timer's own call (hidden). */
static const struct pp_opt rollback_opts[] = { { "timer", 0, "UNIT", NULL }, PP_OPT_JSON, { 0 } };
const struct pp_cmd_spec pp_spec_rollback = {
	.globals = "[--state-dir DIR]", .opts = rollback_opts,
	.doc = "Restores portpilot's rules exactly as they were before the last apply.\n",
};

int
pp_cmd_rollback(struct pp_cli *cli, int argc, char **argv)
{
	(void)argc, (void)argv;
	return pp_rollback(cli, pp_opt(cli, "timer"));
}

static void
json_list(FILE *f, const char *key, char **v, size_t n)
{
	fprintf(f, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		pp_json_str(f, v[i]);
	}
	fputs("]", f);
}

/* A mapping's IPv6 way in, "[2001:db8:1::1:101]:8080", or its host id when no prefix is known. */
static void
status6_where(const struct pp_table *t, size_t i, const struct pp_map_status *s, char *out, size_t n)
{
	char a[PP_IP6_STR], in[PP_PORT_LIST_TEXT] = "?";
	const struct pp_mapping *m = i < t->n ? &t->maps[i] : NULL;
	if (m)
		pp_mapping_format_ports(m, true, in, sizeof in);
	if (s->addr6_known) {
		pp_format_ipv6(s->ip6, a);
		snprintf(out, n, "[%s]:%s", a, in);
	} else if (m && m->val[PP_F_INTERNAL_IP6] && !(m->bad & (1u << PP_F_INTERNAL_IP6)) && !m->ip6_hostid) {
		pp_format_ipv6(m->internal_ip6, a);     /* no pinhole now (disabled, expired): as written */
		snprintf(out, n, "[%s]:%s", a, in);
	} else if (m && m->val[PP_F_INTERNAL_IP6] && m->ip6_hostid) {
		char *h = pp_text_safe_dup(m->val[PP_F_INTERNAL_IP6]);
		snprintf(out, n, "host id %s (no LAN prefix now)", h);
		free(h);
	} else {
		snprintf(out, n, "(no address)");
	}
	if (m && pp_mapping_nat66(m)) {         /* NAT66: reached at the router's own port, as export says */
		char pub[PP_PORT_LIST_TEXT];
		size_t k = strlen(out);
		pp_mapping_format_ports(m, false, pub, sizeof pub);
		snprintf(out + k, n - k, " (NAT66 from the router's port %s)", pub);
	}
}

static void
status6_json(FILE *f, const struct pp_table *t, size_t i, const struct pp_map_status *s)
{
	char where[PP_IP6_STR + 2 * PP_PORT_LIST_TEXT + 80], a[PP_IP6_STR];
	fputs(",\"ipv6\":", f);
	if (!s->has6) {
		fputs("null", f);
		return;
	}
	fputs("{\"address\":", f);
	if (s->addr6_known) {
		pp_format_ipv6(s->ip6, a);
		pp_json_str(f, a);
	} else {
		fputs("null", f);
	}
	status6_where(t, i, s, where, sizeof where);
	fputs(",\"pinhole\":", f);
	pp_json_str(f, where);
	fprintf(f, ",\"host_id\":%s,\"state\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"way\":\"%s\"}",
	        s->hostid6 ? "true" : "false", pp_sync_name(s->sync6), s->pkts6, s->bytes6,
	        i < t->n && pp_mapping_nat66(&t->maps[i]) ? "nat66" : "pinhole");
}

/* The IPv6 row under a mapping's: where the pinhole leads, its own state and counters; the
   counters go on a line of their own when a long address would pass 80 columns. */
static void
status6_text(FILE *f, const struct pp_table *t, size_t i, const struct pp_map_status *s)
{
	char where[PP_IP6_STR + 2 * PP_PORT_LIST_TEXT + 80], tail[80];
	if (!s->has6)
		return;
	status6_where(t, i, s, where, sizeof where);
	int nt = snprintf(tail, sizeof tail, "%s, %llu packets, %llu bytes", pp_sync_name(s->sync6), s->pkts6,
	                  s->bytes6);
	if (8 + strlen(where) + 1 + (size_t)nt <= 80)
		fprintf(f, "  ipv6  %s %s\n", where, tail);
	else
		fprintf(f, "  ipv6  %s\n        %s\n", where, tail);
}

static void
status_json(struct pp_cli *cli, const struct pp_table *t, const struct pp_backend *b,
            const struct pp_map_status *st, size_t n, const struct pp_layout_status *ls, const struct pp_pending *pd, bool pending)
{
	FILE *f = cli->out;
	char *rolled = pp_state_read(cli->state_dir, PP_ST_ROLLED);
	fprintf(f, "{\"variant\":\"%s\",\"backend\":", b->variant);
	pp_json_str(f, b->ops->name);
	fputs(",\"backend_why\":", f);
	pp_json_str(f, b->why);
	fputs(",\"pending_confirm\":", f);
	if (pending) {
		struct pp_pending_view v;
		pp_pending_view(cli->state_dir, pd, &v);
		/* "timer": running | gone as before; "state" says more (unfinished, waiting_for_lock). */
		fprintf(f, "{\"deadline\":%lld,\"timer\":\"%s\",\"state\":\"%s\",\"lock_holder\":%d}",
		        (long long)pd->deadline, v.state == PP_PEND_GONE ? "gone" : "running",
		        pp_pending_state_name(v.state), (int)v.holder);
	} else {
		fputs("null", f);
	}
	fprintf(f, ",\"timer_rollback\":%lld", rolled ? strtoll(rolled, NULL, 10) : 0LL);
	free(rolled);
	fprintf(f, ",\"ruleset\":\"%s\"", ls->nproblems ? "drifted" : "in_sync");
	json_list(f, "ruleset_drift", ls->problems, ls->nproblems);
	json_list(f, "orphans", ls->orphans, ls->norphans);
	fputs(",\"mappings\":[", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		fputs("{\"name\":", f);
		pp_json_str(f, st[i].name);
		fprintf(f, ",\"state\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"shadowed_by\":",
		        pp_sync_name(st[i].sync), st[i].pkts, st[i].bytes);
		pp_json_str(f, st[i].shadow);
		fputs(",\"shadow\":", f);
		pp_json_str(f, st[i].shadow_words);
		status6_json(f, t, i, &st[i]);
		fputs("}", f);
	}
	fputs("]}\n", f);
}

/* The unconfirmed apply in words: what will happen, and what the engineer can do. */
static void
pending_text(struct pp_cli *cli, const struct pp_pending *pd)
{
	FILE *f = cli->out;
	struct pp_pending_view v;
	char when[20], name[64], who[160];
	pp_pending_view(cli->state_dir, pd, &v);
	pp_format_datetime(pd->deadline, when);
	pp_pending_timer_name(pd, name);
	long long left = (long long)(pd->deadline - time(NULL));
	switch (v.state) {
	case PP_PEND_RUNNING:
		fprintf(f, "pending: rollback in %lld s unless `portpilot confirm`\n", left > 0 ? left : 0);
		break;
	case PP_PEND_UNFINISHED:
		fprintf(f, "pending: an apply --confirm did not finish (killed, or its session hung up, after it "
		        "armed its rollback): %s restores the rules from before it at %s%s. `portpilot "
		        "rollback` does it now; confirm is refused\n", name, when, left > 0 ? "" : " (due now)");
		break;
	case PP_PEND_WAITING:
		pp_pid_name(v.holder, who, sizeof who);
		pp_format_datetime(v.waiting_since, when);
		fprintf(f, "pending: the deadline has passed and %s is waiting to roll back: apply.lock has been "
		        "held by %s since %s. The rollback runs the moment that process lets go; end it if it "
		        "is stuck\n", name, who, when);
		break;
	case PP_PEND_GONE:
		if (left <= 0)
			fprintf(f, "pending: %s is gone (reboot, OOM or killed) and its deadline passed at %s: "
			        "the unconfirmed apply was not rolled back. Run `portpilot rollback` (confirm "
			        "and apply roll it back first too)\n", name, when);
		else
			fprintf(f, "pending: %s is gone (reboot, OOM or killed): nothing will roll back at %s. "
			        "Run `portpilot confirm` to keep the change or `portpilot rollback` to undo it\n",
			        name, when);
		break;
	}
}

static void
status_text(struct pp_cli *cli, const struct pp_table *t, const struct pp_backend *b,
            const struct pp_map_status *st, size_t n, const struct pp_layout_status *ls, const struct pp_pending *pd, bool pending)
{
	FILE *f = cli->out;
	char *rolled = pp_state_read(cli->state_dir, PP_ST_ROLLED);
	char prev[32] = "";
	char *applied = pp_state_read(cli->state_dir, PP_ST_APPLIED);
	/* The record's first line names the backend that wrote it (core/apply-lifecycle.c). */
	if (applied && sscanf(applied, "# portpilot backend=%31s", prev) != 1)
		snprintf(prev, sizeof prev, "iptables");
	free(applied);
	fprintf(f, "%s: %s\n", b->ops->name, b->variant);
	fprintf(f, "backend: %s (%s)\n", b->ops->name, b->why);
	if (*prev && strcmp(prev, b->ops->name) != 0)
		fprintf(f, "the last apply wrote with %s: the table asks for %s, so portpilot apply moves the "
		        "mappings over (%s's rules removed, %s's in place)\n", prev, b->ops->name, prev, b->ops->name);
	if (rolled) {
		char when[20];
		pp_format_datetime((time_t)strtoll(rolled, NULL, 10), when);
		fprintf(f, "rolled back: the last apply was not confirmed in time; the confirm timer restored "
		        "the rules from before it at %s\n", when);
		free(rolled);
	}
	if (pending)
		pending_text(cli, pd);
	if (ls->nproblems) {
		fprintf(f, "ruleset drifted: the rules that lead traffic to the mappings differ from what the "
		        "table renders (changed by hand, or [site] changed since the apply), so the mappings may "
		        "not be reached as the table says; portpilot apply writes them (apply --dry-run lists "
		        "the same lines; the rows below are each mapping's own rules):\n");
		for (size_t i = 0; i < ls->nproblems; i++)
			fprintf(f, "  %s\n", ls->problems[i]);
	}
	for (size_t i = 0; i < ls->norphans; i++)
		fprintf(f, "orphan: %s has rules in the kernel but no section in the table; portpilot apply "
		        "removes them\n", ls->orphans[i]);
	fprintf(f, "%-20s %-9s %12s %14s\n", "MAPPING", "STATE", "PACKETS", "BYTES");
	for (size_t i = 0; i < n; i++) {
		char *name = pp_text_safe_dup(st[i].name);   /* a section name may hold an ESC */
		fprintf(f, "%-20s %-9s %12llu %14llu\n", name, pp_sync_name(st[i].sync), st[i].pkts,
		        st[i].bytes);
		free(name);
		status6_text(f, t, i, &st[i]);
		if (st[i].shadow)
			fprintf(f, "  %s by a rule ahead of portpilot's: %s; remove that rule or narrow it "
			        "(portpilot probe %s shows what the traffic meets)\n",
			        st[i].shadow_drops ? "blocked" : "shadowed", st[i].shadow_words, st[i].name);
	}
}

static const struct pp_opt status_opts[] = { PP_OPT_JSON, { 0 } };
const struct pp_cmd_spec pp_spec_status = {
	.globals = "[-f TABLE] [--state-dir DIR]", .opts = status_opts,
	.doc = "Per mapping: in_sync, missing, drifted (the live rules differ), inactive\n"
	       "(disabled/expired), stale (inactive but still in the kernel); packets and bytes\n"
	       "of its DNAT rules (first packets of connections); shadowed (another tool's rule\n"
	       "takes its public port first) or blocked (another tool's rule in raw, mangle or\n"
	       "filter drops its traffic before portpilot's accept), naming that rule. A mapping\n"
	       "with ipv6 = yes|only has an \"ipv6\" row: its pinhole's [address]:port (a host id\n"
	       "on the LAN's current prefix; NAT66: the server's, and the router's port), the\n"
	       "pinhole's own state and counters (--json: \"way\" pinhole or nat66). Above\n"
	       "them: hooks and jumps of portpilot's layout that are\n"
	       "missing or changed (ruleset drift), and mappings still in the kernel that the table\n"
	       "no longer has (orphans). Exit 1 when a mapping is missing, drifted, stale,\n"
	       "shadowed or blocked, the\n"
	       "ruleset drifted, an orphan is found, or the rollback timer of an unconfirmed apply\n"
	       "is gone or, past its deadline, still waits for apply.lock.\n",
};

int
pp_cmd_status(struct pp_cli *cli, int argc, char **argv)
{
	(void)argc, (void)argv;
	struct pp_error err;
	struct pp_table *t;
	struct pp_backend b;
	struct pp_live live;
	if (pp_table_load(cli->table_path, false, &t, &err) < 0) {
		fprintf(cli->err, "portpilot status: %s\n", err.msg);
		return PP_EXIT_USAGE;
	}
	if (pp_backend_open_for(&b, t, &err) < 0) {
		fprintf(cli->err, "portpilot status: %s\n", err.msg);
		pp_table_free(t);
		return PP_EXIT_FAIL;
	}
	if (pp_backend_read(&b, &live, &err) < 0) {
		fprintf(cli->err, "portpilot status: %s\n", err.msg);
		pp_backend_close(&b);
		pp_table_free(t);
		return PP_EXIT_FAIL;
	}
	struct pp_map_status *st = NULL;
	struct pp_layout_status ls = { 0 };
	int rc = PP_EXIT_OK;
	if (pp_status_read_all(t, &b, &live, time(NULL), &st, &ls, &err) < 0) {
		fprintf(cli->err, "portpilot status: %s\n", err.msg);
		rc = PP_EXIT_FAIL;
	} else {
		struct pp_pending pd;
		bool pending = pp_pending_read(cli->state_dir, &pd) == 0;
		if (cli->json)
			status_json(cli, t, &b, st, t->n, &ls, &pd, pending);
		else
			status_text(cli, t, &b, st, t->n, &ls, &pd, pending);
		struct pp_pending_view v = { 0 };
		if (pending)
			pp_pending_view(cli->state_dir, &pd, &v);
		/* Gone, or past its deadline and still not rolled back: the promise is not being kept. */
		if ((pending && (v.state == PP_PEND_GONE || v.state == PP_PEND_WAITING)) || ls.nproblems ||
		    ls.norphans)
			rc = PP_EXIT_FAIL;
		for (size_t i = 0; i < t->n; i++)
			if (st[i].sync == PP_SYNC_MISSING || st[i].sync == PP_SYNC_DRIFTED ||
			    st[i].sync == PP_SYNC_STALE || st[i].sync == PP_SYNC_SHADOWED ||
			    st[i].sync == PP_SYNC_BLOCKED)
				rc = PP_EXIT_FAIL;
	}
	pp_status_free(st, t->n);
	pp_layout_status_free(&ls);
	pp_live_free(&live);
	pp_backend_close(&b);
	pp_table_free(t);
	return rc;
}
