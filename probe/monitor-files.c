/* The monitor's files for others to read: the state (health, the TUI) and Prometheus metrics,
 * each written to a temporary file and renamed over the old one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/util.h"
#include "monitor-internal.h"

/* ---- the state file: one JSON object, one mapping a line, for health and the TUI ---- */

static void
json_str(FILE *f, const char *k, const char *v)
{
	fprintf(f, ",\"%s\":", k);
	pp_json_str(f, v);
}

void
mon_write_state(struct mon *M)
{
	char *tmp = pp_xasprintf("%s.tmp", M->state_path);
	FILE *f = fopen(tmp, "w");
	char since[20], last[20];

	if (f == NULL) {
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return;
	}
	fprintf(f, "{\"updated\":%lld,\"pid\":%d,\"interval\":%d", (long long)time(NULL),
	        (int)getpid(), M->interval_s);
	/* where the events are, for the TUI's history of one mapping */
	if (M->mc.history_file) {
		json_str(f, "history", M->mc.history_file);
	} else {
		char *h = pp_xasprintf("%s/monitor-history.jsonl", M->cli->state_dir);
		json_str(f, "history", h);
		free(h);
	}
	fprintf(f, ",\"mappings\":[\n");
	for (size_t i = 0; i < M->n; i++) {
		struct mon_target *t = &M->t[i];
		pp_format_datetime(t->sm.since, since);
		pp_format_datetime(t->last_check, last);
		fprintf(f, "{\"name\":");
		pp_json_str(f, t->name);
		json_str(f, "state", pp_health_name(t->sm.state));
		json_str(f, "since", t->sm.since ? since : NULL);
		fprintf(f, ",\"since_epoch\":%lld", (long long)t->sm.since);
		json_str(f, "cause", t->cause[0] ? t->cause : NULL);
		json_str(f, "summary", t->summary);
		json_str(f, "fix", t->fix);
		json_str(f, "check", pp_check_kind_name(t->kind));
		json_str(f, "detail", t->detail);
		fprintf(f, ",\"latency_ms\":%.1f", t->latency_ms);
		json_str(f, "last_check", t->last_check ? last : NULL);
		if (t->pub) {
			char ps[20];
			pp_format_datetime(t->psm.since, ps);
			json_str(f, "public", pp_health_name(t->psm.state));
			json_str(f, "public_since", t->psm.since ? ps : NULL);
			fprintf(f, ",\"public_since_epoch\":%lld", (long long)t->psm.since);
			json_str(f, "public_cause", t->pub_cause[0] ? t->pub_cause : NULL);
			json_str(f, "public_detail", t->pub_detail[0] ? t->pub_detail : NULL);
			fprintf(f, ",\"public_checks\":%llu", t->pub_checks);
		}
		fprintf(f, ",\"checks\":%llu,\"failures\":%llu}%s\n", t->checks, t->failures,
		        i + 1 < M->n ? "," : "");
	}
	fprintf(f, "]}\n");
	/* Renamed whole over the old one, so a reader never sees half of it. No fsync: it is
	 * rewritten every interval, and a router's flash need not pay for each time. */
	int bad = fflush(f) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, M->state_path) < 0)
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", M->state_path, strerror(errno));
	free(tmp);
	M->dirty = false;
	M->last_write = pp_now_ms();
}

/* ---- Prometheus text exposition for node_exporter's textfile collector, written whole ---- */

static void
label(FILE *f, const char *v)
{
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
}

static void
metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
mon_write_metrics(struct mon *M)
{
	static const struct { const char *name, *type, *help; } ms[] = {
		{ "portpilot_mapping_up", "gauge", "1 when the mapping's service passes its check (after the thresholds), 0 when down; absent while unknown" },
		{ "portpilot_mapping_check_success", "gauge", "1 when the last check passed, 0 when it failed" },
		{ "portpilot_mapping_check_latency_seconds", "gauge", "duration of the last check" },
		{ "portpilot_mapping_state_since_timestamp_seconds", "gauge", "when the mapping entered its current state" },
		{ "portpilot_mapping_checks_total", "counter", "checks run since the monitor started" },
		{ "portpilot_mapping_check_failures_total", "counter", "failed checks since the monitor started" },
	};
	char *tmp = pp_xasprintf("%s.tmp", M->mc.metrics_file);
	FILE *f = fopen(tmp, "w");

	if (f == NULL) {
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return;
	}
	for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
		metric_head(f, ms[k].name, ms[k].type, ms[k].help);
		for (size_t i = 0; i < M->n; i++) {
			struct mon_target *t = &M->t[i];
			if (t->kind == PP_CK_NONE || (k == 0 && t->sm.state == PP_HEALTH_UNKNOWN) ||
			    ((k == 1 || k == 2) && t->last_check == 0) || (k == 3 && t->sm.since == 0))
				continue;
			fprintf(f, "%s{mapping=\"", ms[k].name);
			label(f, t->name);
			fprintf(f, "\",check=\"%s\"} ", pp_check_kind_name(t->kind));
			switch (k) {
			case 0: fprintf(f, "%d\n", t->sm.state == PP_HEALTH_UP); break;
			case 1: fprintf(f, "%d\n", t->last_ok); break;
			case 2: fprintf(f, "%.4f\n", t->latency_ms / 1000.0); break;
			case 3: fprintf(f, "%lld\n", (long long)t->sm.since); break;
			case 4: fprintf(f, "%llu\n", t->checks); break;
			default: fprintf(f, "%llu\n", t->failures); break;
			}
		}
	}
	metric_head(f, "portpilot_mapping_public_up", "gauge", "1 when the reflector reaches the mapping's public port (after the thresholds), 0 when not; absent while unknown");
	for (size_t i = 0; i < M->n; i++)
		if (M->t[i].pub && M->t[i].psm.state != PP_HEALTH_UNKNOWN) {
			fprintf(f, "portpilot_mapping_public_up{mapping=\"");
			label(f, M->t[i].name);
			fprintf(f, "\"} %d\n", M->t[i].psm.state == PP_HEALTH_UP);
		}
	metric_head(f, "portpilot_monitor_last_write_timestamp_seconds", "gauge", "when the monitor wrote this file");
	fprintf(f, "portpilot_monitor_last_write_timestamp_seconds %lld\n", (long long)time(NULL));
	/* The collector must never read half a file: a new file, then rename over the old one. */
	int bad = fflush(f) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, M->mc.metrics_file) < 0)
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", M->mc.metrics_file, strerror(errno));
	free(tmp);
	M->last_metrics = pp_now_ms();
}
