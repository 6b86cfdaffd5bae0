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

/* A port list's elements, as flat strings (the line stays an object pp_json_field reads):
 * "ports" checked, "ports_down" the failed ones, "port_detail" each one's last result. */
static void
ports_fields(FILE *f, const struct mon_target *t)
{
	char list[PP_PORT_LIST_TEXT], down[PP_PORT_LIST_TEXT], *detail;
	size_t kl = 0, kd = 0, n = t->nports * (sizeof t->ports[0].detail + 80) + 1;

	list[0] = down[0] = '\0';
	for (size_t i = 0; i < t->nports; i++) {
		const char *fam = t->ports[i].v6 && t->npub ? "/ipv6" : "";   /* both: "80,80/ipv6" */
		kl += (size_t)snprintf(list + kl, sizeof list - kl, "%s%u%s", kl ? "," : "", t->ports[i].in, fam);
		if (t->last_check && !t->ports[i].ok)
			kd += (size_t)snprintf(down + kd, sizeof down - kd, "%s%u%s", kd ? "," : "", t->ports[i].in, fam);
	}
	json_str(f, "ports", list);
	json_str(f, "ports_down", down);
	detail = pp_xmalloc(n);
	mon_ports_detail(t, detail, n);
	json_str(f, "port_detail", t->last_check ? detail : NULL);
	free(detail);
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
		json_str(f, "family", mon_family(t));
		json_str(f, "detail", t->detail);
		fprintf(f, ",\"latency_ms\":%.1f", t->latency_ms);
		if (t->nports > 1)
			ports_fields(f, t);
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
	/* the published names, as rows of their own ("dns:HOST"): health shows them too */
	for (size_t i = 0; i < M->ndns; i++) {
		struct mon_dns *d = &M->dns[i];
		pp_format_datetime(d->sm.since, since);
		fprintf(f, "%s{\"name\":", M->n || i ? ",\n" : "");
		pp_json_str(f, d->label);
		json_str(f, "state", pp_health_name(d->sm.state));
		json_str(f, "since", d->sm.since ? since : NULL);
		fprintf(f, ",\"since_epoch\":%lld", (long long)d->sm.since);
		json_str(f, "cause", d->sm.state == PP_HEALTH_DOWN && d->cause[0] ? d->cause : NULL);
		json_str(f, "summary", d->sm.state == PP_HEALTH_DOWN ? d->detail : NULL);
		json_str(f, "fix", NULL);
		json_str(f, "check", "dns");
		json_str(f, "detail", d->detail);
		json_str(f, "resolves_to", d->got[0] ? d->got : NULL);
		json_str(f, "site_address", d->want[0] ? d->want : NULL);
		fprintf(f, ",\"checks\":%llu,\"failures\":%llu}", d->checks, d->failures);
	}
	/* the relay's tunnel, a row of its own ("relay:IFNAME") */
	if (M->relay.on) {
		struct mon_relay *r = &M->relay;
		pp_format_datetime(r->sm.since, since);
		fprintf(f, "%s{\"name\":", M->n || M->ndns ? ",\n" : "");
		pp_json_str(f, r->label);
		json_str(f, "state", pp_health_name(r->sm.state));
		json_str(f, "since", r->sm.since ? since : NULL);
		fprintf(f, ",\"since_epoch\":%lld", (long long)r->sm.since);
		bool down = r->sm.state == PP_HEALTH_DOWN;
		json_str(f, "cause", down ? "relay_down" : NULL);
		json_str(f, "summary", down ? r->summary : NULL);
		json_str(f, "fix", down ? r->fix : NULL);
		json_str(f, "check", "relay");
		json_str(f, "detail", r->detail);
		json_str(f, "edge", r->edge);
		fprintf(f, ",\"handshake_age\":%ld,\"rx_bytes\":%llu,\"tx_bytes\":%llu", r->age, r->rx, r->tx);
		fprintf(f, ",\"checks\":%llu,\"failures\":%llu}", r->checks, r->failures);
	}
	fprintf(f, "%s]}\n", M->ndns || M->relay.on ? "\n" : "");
	/* Renamed whole over the old one, so a reader never sees half of it. No fsync: it is
	 * rewritten every interval, and a router's flash need not pay for each time. */
	int bad = fflush(f) != 0;
	if (fclose(f) != 0 || bad || rename(tmp, M->state_path) < 0)
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", M->state_path, strerror(errno));
	free(tmp);
	M->dirty = false;
	M->last_write = pp_now_ms();
}
