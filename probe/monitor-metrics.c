/* Prometheus text exposition: the checks' state, the kernel's hit counters per mapping and the
 * DDNS state, for node_exporter's textfile collector (written whole, by rename) and for
 * --metrics ADDR:PORT (probe/monitor-http.c serves the same text). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/conf.h"
#include "portpilot/ddns.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

/* A read of the kernel's counters runs iptables-save (70 ms with 2,000 mappings here), in a
 * child: at most every 30 s, and never more than 1/500 of the time. */
#define HITS_MIN_EVERY_MS 30000

void
mon_blob_put(struct mon_blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

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

static void
free_hits(struct mon *M)
{
	for (size_t i = 0; i < M->nhits; i++)
		free(M->hits[i].name);
	free(M->hits);
	M->hits = NULL;
	M->nhits = 0;
}

/*
 * The DNAT counters through the core's status read, the one `portpilot status` and `list` use
 * (the backend behind it is the core's business, not the monitor's). It runs iptables-save,
 * tens of milliseconds with thousands of rules: in a child, so no check waits for it. The
 * child prints "ok" and one "NAME PKTS" line a mapping, or "error WHY".
 */
static void
hits_child(struct mon *M, int fd)
{
	struct pp_backend b;
	struct pp_live live;
	struct pp_map_status *st = NULL;
	struct pp_error err;
	FILE *f = fdopen(fd, "w");

	if (f == NULL)
		_exit(1);
	if (pp_backend_open(&b, &err) < 0 || pp_backend_read(&b, &live, &err) < 0) {
		fprintf(f, "error %s\n", err.msg);
	} else {
		if (pp_status_read(M->table, &b, &live, time(NULL), &st, &err) < 0) {
			fprintf(f, "error %s\n", err.msg);
		} else {
			fprintf(f, "ok\n");
			for (size_t i = 0; i < M->table->n; i++)
				if (st[i].sync != PP_SYNC_INACTIVE)
					fprintf(f, "%s %llu\n", M->table->maps[i].name, st[i].pkts);
		}
		pp_live_free(&live);
	}
	fclose(f);
	_exit(0);
}

int
mon_hits_fd(struct mon *M, double now)
{
	int fds[2];

	if (M->mc.metrics_file == NULL && M->http == NULL)
		return -1;
	if (M->hits_pid > 0)
		return M->hits_fd;
	if (M->hits_at && now - M->hits_at < (M->hits_every > HITS_MIN_EVERY_MS ? M->hits_every :
	                                      HITS_MIN_EVERY_MS))
		return -1;
	M->hits_at = now;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		mon_close_inherited(M, fds[1]);
		hits_child(M, fds[1]);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	M->hits_pid = pid;
	M->hits_fd = fds[0];
	return M->hits_fd;
}

static void
hits_stop(struct mon *M)
{
	if (M->hits_pid > 0) {
		kill(M->hits_pid, SIGKILL);
		waitpid(M->hits_pid, NULL, 0);
		close(M->hits_fd);
	}
	M->hits_pid = 0;
	M->hits_fd = -1;
	pp_buf_free(&M->hits_out);
}

void
mon_hits_read(struct mon *M, double now)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(M->hits_fd, buf, sizeof buf)) > 0)
		pp_buf_add(&M->hits_out, buf, (size_t)r);
	if (r != 0 && now - M->hits_at <= 30000)
		return;                        /* more to come */
	pp_buf_add(&M->hits_out, "", 1);
	char *text = M->hits_out.data;
	if (r != 0) {
		M->hits_ok = false;
		snprintf(M->hits_err, sizeof M->hits_err, "the read of the counters took over 30 s");
	} else if (strncmp(text, "ok\n", 3) == 0) {
		free_hits(M);
		size_t n = 0;
		for (char *l = text + 3; *l; l++)
			n += *l == '\n';
		M->hits = pp_xcalloc(n + 1, sizeof *M->hits);
		for (char *l = text + 3, *nl; *l && (nl = strchr(l, '\n')); l = nl + 1) {
			char *sp = memchr(l, ' ', (size_t)(nl - l));
			if (sp == NULL)
				continue;
			M->hits[M->nhits].name = pp_xstrndup(l, (size_t)(sp - l));
			M->hits[M->nhits++].pkts = strtoull(sp + 1, NULL, 10);
		}
		M->hits_ok = true;
		M->hits_err[0] = '\0';
	} else {
		M->hits_ok = false;
		snprintf(M->hits_err, sizeof M->hits_err, "%.250s", strncmp(text, "error ", 6) ? "no answer" : text + 6);
	}
	M->hits_every = 500 * (now - M->hits_at);
	M->hits_read = true;
	M->last_metrics = 0;               /* the new counters in the text at once */
	hits_stop(M);
}

static void
print_hits(struct mon *M, FILE *f)
{
	metric_head(f, "portpilot_mapping_hits_total", "counter", "connections the mapping's DNAT rule "
	            "forwarded (its packet counter: the first packet of each connection), as portpilot status reads it");
	for (size_t i = 0; M->hits_ok && i < M->nhits; i++) {   /* none before the first read */
		fprintf(f, "portpilot_mapping_hits_total{mapping=\"");
		label(f, M->hits[i].name);
		fprintf(f, "\"} %llu\n", M->hits[i].pkts);
	}
	metric_head(f, "portpilot_hits_read_success", "gauge", "1 when the last read of the kernel's "
	            "counters worked (0: needs root in the router's namespace, or the rules are not readable)");
	if (M->hits_read)
		fprintf(f, "portpilot_hits_read_success %d\n", M->hits_ok);
}

/* Every host of every [ddns NAME] section, from the DDNS updater's state in the state directory. */
static void
print_ddns(struct mon *M, FILE *f)
{
	struct pp_conf *c = NULL;
	struct pp_ddns_status *rows = NULL;
	struct pp_error err;
	size_t n = 0;
	bool ok = pp_conf_load(M->cli->conf_path, true, &c, &err) == 0 &&
	          pp_ddns_status_load(c, M->cli->state_dir, &rows, &n, &err) == 0;
	static const struct { const char *name, *type, *help; } ms[] = {
		{ "portpilot_ddns_host_ok", "gauge", "1 when the provider has the current address (status ok), 0 when new, retrying, stopped or pending" },
		{ "portpilot_ddns_host_status", "gauge", "1 for the host's status (new, ok, retry, stopped, pending) and the provider's last answer" },
		{ "portpilot_ddns_last_update_timestamp_seconds", "gauge", "when the provider last confirmed the address (good or nochg)" },
		{ "portpilot_ddns_last_attempt_timestamp_seconds", "gauge", "when the updater last asked the provider" },
		{ "portpilot_ddns_failures", "gauge", "temporary failures in a row" },
	};

	for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
		metric_head(f, ms[k].name, ms[k].type, ms[k].help);
		for (size_t i = 0; ok && i < n; i++) {
			const struct pp_ddns_host *h = &rows[i].host;
			if ((k == 2 && h->published_at == 0) || (k == 3 && h->last_attempt == 0))
				continue;
			fprintf(f, "%s{ddns=\"", ms[k].name);
			label(f, rows[i].conf->name);
			fprintf(f, "\",host=\"");
			label(f, h->host);
			if (k == 1)
				fprintf(f, "\",status=\"%s\",last_answer=\"%s", pp_host_status_name(h->status),
				        pp_ddns_code_name(h->last_code));
			fprintf(f, "\"} ");
			switch (k) {
			case 0: fprintf(f, "%d\n", h->status == PP_HS_OK); break;
			case 1: fprintf(f, "1\n"); break;
			case 2: fprintf(f, "%lld\n", (long long)h->published_at); break;
			case 3: fprintf(f, "%lld\n", (long long)h->last_attempt); break;
			default: fprintf(f, "%d\n", h->failures); break;
			}
		}
	}
	metric_head(f, "portpilot_ddns_state_read_success", "gauge", "1 when portpilot.conf and the DDNS state could be read");
	fprintf(f, "portpilot_ddns_state_read_success %d\n", ok);
	free(rows);
	pp_conf_free(c);
}

static void
print_checks(struct mon *M, FILE *f)
{
	static const struct { const char *name, *type, *help; } ms[] = {
		{ "portpilot_mapping_up", "gauge", "1 when the mapping's service passes its check (after the thresholds), 0 when down; absent while unknown" },
		{ "portpilot_mapping_check_success", "gauge", "1 when the last check passed, 0 when it failed" },
		{ "portpilot_mapping_check_latency_seconds", "gauge", "duration of the last check" },
		{ "portpilot_mapping_state_since_timestamp_seconds", "gauge", "when the mapping entered its current state" },
		{ "portpilot_mapping_checks_total", "counter", "checks run since the monitor started" },
		{ "portpilot_mapping_check_failures_total", "counter", "failed checks since the monitor started" },
	};

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
	/* A port list's elements, one series each (the mapping's own series stay one a mapping). */
	metric_head(f, "portpilot_mapping_port_check_success", "gauge", "1 when the last check of this element of a port list passed, 0 when it failed (a range by its first port)");
	for (size_t i = 0; i < M->n; i++) {
		const struct mon_target *t = &M->t[i];
		for (size_t e = 0; (t->nports > 1 || t->npub == 0) && t->kind != PP_CK_NONE && t->last_check && e < t->nports; e++) {
			fprintf(f, "portpilot_mapping_port_check_success{mapping=\"");
			label(f, t->name);
			fprintf(f, "\",port=\"%u\",check=\"%s\"", t->ports[e].in, pp_check_kind_name(t->ports[e].kind));
			if (t->npub < t->nports)          /* with IPv6: which family the element is */
				fprintf(f, ",family=\"%s\"", t->ports[e].v6 ? "ipv6" : "ipv4");
			fprintf(f, "} %d\n", t->ports[e].ok);
		}
	}
	metric_head(f, "portpilot_mapping_public_up", "gauge", "1 when the reflector reaches the mapping's public port (after the thresholds), 0 when not; absent while unknown");
	for (size_t i = 0; i < M->n; i++)
		if (M->t[i].pub && M->t[i].psm.state != PP_HEALTH_UNKNOWN) {
			fprintf(f, "portpilot_mapping_public_up{mapping=\"");
			label(f, M->t[i].name);
			fprintf(f, "\"} %d\n", M->t[i].psm.state == PP_HEALTH_UP);
		}
	metric_head(f, "portpilot_dns_name_up", "gauge", "1 when the published name resolves to the site's address, 0 when not; absent while unknown");
	for (size_t i = 0; i < M->ndns; i++)
		if (M->dns[i].sm.state != PP_HEALTH_UNKNOWN) {
			fprintf(f, "portpilot_dns_name_up{ddns=\"");
			label(f, M->dns[i].section);
			fprintf(f, "\",host=\"");
			label(f, M->dns[i].host);
			fprintf(f, "\"} %d\n", M->dns[i].sm.state == PP_HEALTH_UP);
		}
	/* the relay's tunnel: its state, and the raw facts behind it for alert rules of one's own */
	const struct mon_relay *r = &M->relay;
	if (r->on && r->sm.state != PP_HEALTH_UNKNOWN) {
		metric_head(f, "portpilot_relay_up", "gauge", "1 when the relay's tunnel is there and the edge answered a handshake lately (after the thresholds), 0 when not");
		fprintf(f, "portpilot_relay_up{interface=\"");
		label(f, r->ifname);
		fprintf(f, "\",edge=\"");
		label(f, r->edge);
		fprintf(f, "\"} %d\n", r->sm.state == PP_HEALTH_UP);
	}
	if (r->on && r->link == 1 && r->age >= 0) {
		metric_head(f, "portpilot_relay_handshake_age_seconds", "gauge", "seconds since the last handshake with the edge");
		fprintf(f, "portpilot_relay_handshake_age_seconds{interface=\"");
		label(f, r->ifname);
		fprintf(f, "\"} %ld\n", r->age);
		metric_head(f, "portpilot_relay_received_bytes", "counter", "bytes received from the edge through the tunnel");
		fprintf(f, "portpilot_relay_received_bytes{interface=\"");
		label(f, r->ifname);
		fprintf(f, "\"} %llu\n", r->rx);
		metric_head(f, "portpilot_relay_sent_bytes", "counter", "bytes sent to the edge through the tunnel");
		fprintf(f, "portpilot_relay_sent_bytes{interface=\"");
		label(f, r->ifname);
		fprintf(f, "\"} %llu\n", r->tx);
	}
}

/* The whole text, then the file (by rename: the collector never reads half of it). */
void
mon_write_metrics(struct mon *M)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	M->last_metrics = pp_now_ms();
	if (f == NULL)
		return;
	print_checks(M, f);
	print_hits(M, f);
	print_ddns(M, f);
	metric_head(f, "portpilot_monitor_last_write_timestamp_seconds", "gauge", "when the monitor wrote this text");
	fprintf(f, "portpilot_monitor_last_write_timestamp_seconds %lld\n", (long long)time(NULL));
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	struct mon_blob *b = pp_xmalloc(sizeof *b + len + 1);
	b->refs = 1;
	b->len = len;
	memcpy(b->data, text, len + 1);
	free(text);
	mon_blob_put(M->metrics);          /* clients still sending the old text keep it */
	M->metrics = b;
	if (M->mc.metrics_file == NULL)
		return;
	char *tmp = pp_xasprintf("%s.tmp", M->mc.metrics_file);
	FILE *o = fopen(tmp, "w");
	if (o == NULL) {
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", tmp, strerror(errno));
		free(tmp);
		return;
	}
	int bad = fwrite(b->data, 1, b->len, o) != b->len;
	bad |= fflush(o) != 0;
	if (fclose(o) != 0 || bad || rename(tmp, M->mc.metrics_file) < 0)
		fprintf(M->cli->err, "monitor: cannot write %s: %s\n", M->mc.metrics_file, strerror(errno));
	free(tmp);
}

void
mon_metrics_free(struct mon *M)
{
	hits_stop(M);
	free_hits(M);
	mon_blob_put(M->metrics);
	M->metrics = NULL;
}
