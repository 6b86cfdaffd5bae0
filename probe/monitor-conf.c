/* [monitor] of portpilot.conf: thresholds and where events go, with FILE:LINE errors. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/conf.h"
#include "portpilot/monitor.h"
#include "portpilot/util.h"

static const char *const keys[] = {
	"interval", "timeout", "fail_after", "recover_after", "hook", "webhook", "webhook_body",
	"webhook_content_type", "secret_file", "history_file", "history_max_bytes", "diagnose",
	"metrics_file", "public_interval", "reflector_rate", "metrics_listen", "metrics_remote",
	"dns_interval", "relay_handshake_max", NULL
};

/* The line of every key under [monitor] (0 when absent), and the first unknown key. */
static int
scan_lines(const char *path, int lines[], struct pp_error *err)
{
	size_t len;
	char *text = pp_read_file(path, &len);
	bool in = false;
	int lineno = 0, rc = 0;

	if (text == NULL)
		return 0;              /* pp_conf_load already judged a missing or unreadable file */
	for (char *l = text, *next; l && rc == 0; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		l = pp_trim(l);
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (end)
				*end = '\0';
			in = strcasecmp(pp_trim(l + 1), "monitor") == 0;
			continue;
		}
		if (!in || *l == '\0' || *l == ';' || *l == '#' || !strchr(l, '='))
			continue;
		*strchr(l, '=') = '\0';
		l = pp_trim(l);
		int k = -1;
		for (int i = 0; keys[i]; i++)
			if (strcasecmp(l, keys[i]) == 0)
				k = i;
		if (k < 0)
			rc = pp_error_set(err, "%s:%d: [monitor] unknown key '%s'; known keys: interval, timeout, "
			                  "fail_after, recover_after, hook, webhook, webhook_body, webhook_content_type, "
			                  "secret_file, history_file, history_max_bytes, diagnose, metrics_file, public_interval, "
			                  "reflector_rate, metrics_listen, metrics_remote, dns_interval, relay_handshake_max",
			                  path, lineno, l);
		else
			lines[k] = lineno;
	}
	free(text);
	return rc;
}

static int
num(const char *path, const int *lines, int k, const char *v, long lo, long hi, long *out,
    struct pp_error *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || (*end && strcmp(end, "s") != 0) || errno || n < lo || n > hi)
		return pp_error_set(err, "%s:%d: [monitor] %s: '%s' is not a number from %ld to %ld",
		                    path, lines[k], keys[k], v, lo, hi);
	*out = n;
	return 0;
}

static char *
dup_nonempty(const char *v)
{
	return v && *v ? pp_xstrdup(v) : NULL;
}

int
pp_mon_conf_load(const char *path, struct pp_mon_conf *mc, struct pp_error *err)
{
	struct pp_conf *c = NULL;
	int lines[sizeof keys / sizeof keys[0]] = { 0 };
	const char *v;
	long n;
	int rc = -1;

	memset(mc, 0, sizeof *mc);
	mc->interval_s = 30;
	mc->timeout_ms = 5000;
	mc->fail_after = 3;
	mc->recover_after = 2;
	mc->history_max_bytes = 1 << 20;
	mc->diagnose = true;
	mc->public_interval_s = 300;
	mc->reflector_rate = 10;
	mc->dns_interval_s = 60;
	mc->relay_handshake_max_s = 200;
	if (pp_conf_load(path, true, &c, err) < 0)
		return -1;
	if (scan_lines(path, lines, err) < 0)
		goto out;
#define GET(k) pp_conf_get(c, "monitor", keys[k])
	if ((v = GET(0)) && *v) {
		if (num(path, lines, 0, v, 1, 86400, &n, err) < 0)
			goto out;
		mc->interval_s = (int)n;
	}
	if ((v = GET(1)) && *v) {
		struct pp_check_timing t;
		char *s = pp_xasprintf("timeout=%s", v);
		int r = pp_check_timing_parse(s, &t, err);
		free(s);
		if (r < 0) {
			pp_error_set(err, "%s:%d: [monitor] timeout: '%s' is not a time; write seconds (2) or "
			             "milliseconds (500ms), at most 60 s", path, lines[1], v);
			goto out;
		}
		mc->timeout_ms = t.timeout_ms;
	}
	for (int k = 2; k <= 3; k++)
		if ((v = GET(k)) && *v) {
			if (num(path, lines, k, v, 1, 100, &n, err) < 0)
				goto out;
			*(k == 2 ? &mc->fail_after : &mc->recover_after) = (int)n;
		}
	mc->hook = dup_nonempty(GET(4));
	mc->webhook = dup_nonempty(GET(5));
	if (mc->webhook && strncmp(mc->webhook, "http://", 7) && strncmp(mc->webhook, "https://", 8)) {
		pp_error_set(err, "%s:%d: [monitor] webhook: not an http:// or https:// URL; write e.g. "
		             "https://ntfy.sh/my-site", path, lines[5]);
		goto out;
	}
	mc->webhook_body = dup_nonempty(GET(6));
	mc->webhook_content_type = dup_nonempty(GET(7));
	mc->secret_file = dup_nonempty(GET(8));
	mc->history_file = dup_nonempty(GET(9));
	if ((v = GET(10)) && *v) {
		if (num(path, lines, 10, v, 4096, 1L << 30, &n, err) < 0)
			goto out;
		mc->history_max_bytes = n;
	}
	if ((v = GET(11)) && *v && pp_parse_bool(v, &mc->diagnose) < 0) {
		pp_error_set(err, "%s:%d: [monitor] diagnose: '%s' is not yes or no", path, lines[11], v);
		goto out;
	}
	mc->metrics_file = dup_nonempty(GET(12));
	if ((v = GET(13)) && *v) {
		if (num(path, lines, 13, v, 0, 86400, &n, err) < 0)
			goto out;
		mc->public_interval_s = (int)n;
	}
	if ((v = GET(14)) && *v) {
		if (num(path, lines, 14, v, 1, 1000, &n, err) < 0)
			goto out;
		mc->reflector_rate = (int)n;
	}
	mc->metrics_listen = dup_nonempty(GET(15));
	mc->metrics_listen_line = lines[15];
	if ((v = GET(16)) && *v && pp_parse_bool(v, &mc->metrics_remote) < 0) {
		pp_error_set(err, "%s:%d: [monitor] metrics_remote: '%s' is not yes or no", path, lines[16], v);
		goto out;
	}
	if ((v = GET(17)) && *v) {
		if (num(path, lines, 17, v, 0, 86400, &n, err) < 0)
			goto out;
		mc->dns_interval_s = (int)n;
	}
	if ((v = GET(18)) && *v) {
		if (num(path, lines, 18, v, 125, 86400, &n, err) < 0)
			goto out;
		mc->relay_handshake_max_s = (int)n;
	}
	/* the names the DDNS sections publish: each should resolve to this site's address */
	for (size_t i = 0; i < c->nddns; i++)
		for (size_t h = 0; h < c->ddns[i].nhosts; h++) {
			mc->dns = pp_xrealloc(mc->dns, (mc->ndns + 1) * sizeof *mc->dns);
			mc->dns[mc->ndns].section = pp_xstrdup(c->ddns[i].name);
			mc->dns[mc->ndns].host = pp_xstrdup(c->ddns[i].hosts[h]);
			mc->dns[mc->ndns].interface = dup_nonempty(c->ddns[i].interface);
			mc->dns[mc->ndns].relay = c->ddns[i].ip_source == PP_IPSRC_RELAY;
			mc->ndns++;
		}
	mc->reflector = dup_nonempty(c->probe.reflector);
	mc->reflector_token_file = dup_nonempty(c->probe.token_file);
	mc->reflector_ca = dup_nonempty(c->probe.ca_file);
	if (mc->secret_file && !mc->webhook) {
		pp_error_set(err, "%s:%d: [monitor] secret_file is only used by a webhook; add webhook = URL "
		             "or remove secret_file", path, lines[8]);
		goto out;
	}
#undef GET
	rc = 0;
out:
	pp_conf_free(c);
	if (rc < 0)
		pp_mon_conf_free(mc);
	return rc;
}

void
pp_mon_conf_free(struct pp_mon_conf *mc)
{
	free(mc->hook);
	free(mc->webhook);
	free(mc->webhook_body);
	free(mc->webhook_content_type);
	free(mc->secret_file);
	free(mc->history_file);
	free(mc->metrics_file);
	free(mc->reflector);
	free(mc->reflector_token_file);
	free(mc->reflector_ca);
	free(mc->metrics_listen);
	for (size_t i = 0; i < mc->ndns; i++) {
		free(mc->dns[i].section);
		free(mc->dns[i].host);
		free(mc->dns[i].interface);
	}
	free(mc->dns);
	memset(mc, 0, sizeof *mc);
}
