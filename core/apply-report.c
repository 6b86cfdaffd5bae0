/* The CLI's words for the reports of apply, confirm and rollback: text, or JSON with --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"

/* "portpilot CMD: WHY: rolling back to the rules from before that apply now" (apply, confirm). */
static void
late_rollback_say(FILE *f, const char *cmd, const char *why)
{
	fprintf(f, "portpilot %s: %s: rolling back to the rules from before that apply now\n", cmd, why);
}

static void
print_json(FILE *out, const struct pp_apply_report *r)
{
	fprintf(out, "{\"dry_run\":%s,\"applied\":%s,\"chains_written\":%zu,\"chains_dropped\":%zu,"
	        "\"hooks_changed\":%zu,\"changed\":[", r->dry_run ? "true" : "false",
	        r->applied ? "true" : "false", r->chains_written, r->chains_dropped, r->hooks_changed);
	for (size_t i = 0; i < r->nchanged; i++) {
		fputs(i ? "," : "", out);
		pp_json_str(out, r->changed[i] + 3);
	}
	fprintf(out, "],\"flows_removed\":%zu,\"flows_unlisted\":%s,\"flows_failed\":%zu,"
	        "\"confirm_deadline\":%lld,\"backend\":", r->flows_removed, r->flows_unlisted ? "true" : "false",
	        r->flows_failed, (long long)r->confirm_deadline);
	pp_json_str(out, r->backend);
	fputs(",\"backend_why\":", out);
	pp_json_str(out, r->backend_why);
	/* the plan's layout lines: status --json calls them ruleset_drift */
	fputs(",\"layout\":[", out);
	for (size_t i = 0; i < r->nlayout; i++) {
		fputs(i ? "," : "", out);
		pp_json_str(out, r->layout[i]);
	}
	fputs("]}\n", out);
}

static void
print_summary(struct pp_cli *cli, const struct pp_apply_report *r)
{
	if (r->unchanged) {
		fprintf(cli->out, "nothing to change: the kernel already holds this ruleset\n");
		fprintf(cli->out, "backend: %s (%s): %s\n", r->backend, r->variant, r->backend_why);
		return;
	}
	fprintf(cli->out, "%s: %zu mapping(s) changed, %zu chain(s) written, %zu dropped, %zu hook(s)\n",
	        r->dry_run ? "dry run" : "applied", r->nchanged, r->chains_written, r->chains_dropped,
	        r->hooks_changed);
	if (r->flows_removed)
		fprintf(cli->out, "conntrack: %zu running flow(s) of changed mappings removed: they reconnect "
		        "to the new target\n", r->flows_removed);
	/* A flush that could not happen is said, never skipped in silence. */
	if (r->flows_unlisted)
		fprintf(cli->err, "warning: cannot read the conntrack table over netlink (%s): flows already "
		        "running on changed mappings keep their old target until they end; load "
		        "nf_conntrack_netlink (modprobe nf_conntrack_netlink) and apply as root\n",
		        strerror(r->flows_errno));
	else if (r->flows_failed)
		fprintf(cli->err, "warning: the kernel kept %zu conntrack entr%s of changed mappings (%s): those "
		        "flows keep their old target until they end; apply again as root to retry\n",
		        r->flows_failed, r->flows_failed == 1 ? "y" : "ies", strerror(r->flows_errno));
	if (r->confirm_deadline)
		fprintf(cli->out, "rollback in %d s unless confirmed: portpilot confirm (from any session)\n",
		        r->confirm_seconds);
	fprintf(cli->out, "backend: %s (%s): %s\n", r->backend, r->variant, r->backend_why);
}

static void
print_findings(struct pp_cli *cli, const struct pp_findings *fs)
{
	if (fs->n && cli->json)
		pp_findings_json(cli->err, cli->table_path, fs);
	else if (fs->n)
		pp_findings_print(cli->err, cli->table_path, fs);
}

void
pp_apply_report_print(struct pp_cli *cli, const struct pp_apply_report *r)
{
	if (r->nothing_persisted) {
		fprintf(cli->out, "nothing persisted: no mapping to expire\n");
		return;
	}
	if (*r->late)
		late_rollback_say(cli->err, "apply", r->late);
	print_findings(cli, &r->table_findings);
	if (*r->restore_failed)
		fprintf(cli->err, "portpilot: restoring the snapshot failed too: %s\n", r->restore_failed);
	if (r->forwarding > 0)
		fprintf(cli->err, "portpilot: net.ipv4.ip_forward set to 1 (--enable-forwarding)\n");
	else if (r->forwarding < 0)
		fprintf(cli->err, "portpilot: cannot set net.ipv4.ip_forward: %s\n", r->forwarding_err);
	print_findings(cli, &r->warnings);
	if (r->planned && !cli->json) {
		if (*r->moved_from)
			fprintf(cli->out, "moving the mappings from %s to %s: %s's rules are removed once %s's are in\n",
			        r->moved_from, r->backend, r->moved_from, r->backend);
		if (r->diff)
			fputs(r->diff, cli->out);
	}
	if (r->rc == PP_EXIT_OK && r->planned)
		cli->json ? print_json(cli->out, r) : print_summary(cli, r);
	if (*r->error)
		fprintf(cli->err, "portpilot apply: %s\n", r->error);
}

void
pp_apply_report_free(struct pp_apply_report *r)
{
	free(r->diff);
	pp_findings_free(&r->warnings);
	pp_findings_free(&r->table_findings);
	for (size_t i = 0; i < r->nchanged; i++)
		free(r->changed[i]);
	free(r->changed);
	for (size_t i = 0; i < r->nlayout; i++)
		free(r->layout[i]);
	free(r->layout);
	r->diff = NULL, r->changed = NULL, r->layout = NULL, r->nchanged = r->nlayout = 0;
}

/* Confirm refused: the apply that armed the rollback died before it recorded what it wrote. */
static void
print_unfinished(FILE *f, const struct pp_confirm_report *r)
{
	char when[20];
	pp_format_datetime(r->deadline, when);
	fprintf(f, "portpilot confirm: the apply that armed this rollback did not finish (it was "
	        "killed, or its session hung up, before it recorded what it wrote), so there is nothing "
	        "safe to keep. %s%s%s; run portpilot rollback to restore the rules from before it now, "
	        "then apply again\n", r->timer,
	        r->timer_alive ? " restores them at " : " is gone: nothing restores them",
	        r->timer_alive ? when : "");
}

static void
print_confirm(struct pp_cli *cli, const struct pp_confirm_report *r)
{
	switch (r->outcome) {
	case PP_CO_NONE:
		fprintf(cli->err, "portpilot confirm: nothing awaits confirmation (no apply --confirm pending)\n");
		break;
	case PP_CO_LATE:
		late_rollback_say(cli->err, "confirm", r->late);
		if (*r->error)
			fprintf(cli->err, "portpilot confirm: %s\n", r->error);
		else
			fprintf(cli->err, "portpilot confirm: nothing confirmed: apply again to bring the change back\n");
		break;
	case PP_CO_UNFINISHED:
		print_unfinished(cli->err, r);
		break;
	case PP_CO_DRIFTED:
		fprintf(cli->err, "portpilot confirm: %s; %s: nothing confirmed. Run portpilot rollback to "
		        "return to the rules from before that apply, then portpilot apply\n", r->late, r->error);
		break;
	case PP_CO_CONFIRMED:
		if (!r->timer_alive)
			fprintf(cli->err, "portpilot confirm: %s was gone; the kernel still holds the applied "
			        "ruleset, so it is kept\n", r->timer);
		fputs(cli->json ? "{\"confirmed\":true}\n" : "confirmed: the ruleset stays and is persisted for boot\n",
		      cli->out);
		break;
	default:
		fprintf(cli->err, "portpilot confirm: %s\n", r->error);
	}
}

void
pp_confirm_report_print(struct pp_cli *cli, const struct pp_confirm_report *r)
{
	if (!r->rollback)
		print_confirm(cli, r);
	else if (r->outcome == PP_CO_FAILED)
		fprintf(cli->err, "portpilot rollback: %s\n", r->error);
	else if (r->outcome == PP_CO_ROLLED_BACK)
		fputs(cli->json ? "{\"rolled_back\":true}\n" : "rolled back to the rules before the last apply\n",
		      cli->out);
}
