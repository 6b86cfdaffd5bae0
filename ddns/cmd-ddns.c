/* `portpilot ddns run | --once | status`: the command line of the DDNS updater. */
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"
#include "portpilot/cli-opts.h"
#include "portpilot/table.h"

static void usage(FILE *f);

static const struct pp_opt ddns_opts[] = {
	{ "once", 0, NULL, "check every [ddns NAME] section once and exit (1 if something failed)" },
	{ "force", 0, NULL, "run, --once: update even when the published address is right" },
	{ "name", 0, "NAME", "run, --once: only the section [ddns NAME]" },
	{ "json", 0, NULL, "status, --once: machine-readable output" },
	{ NULL, 'c', "CONF", NULL },
	{ "state-dir", 0, "DIR", NULL },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_ddns = {
	.globals = "[-c CONF] [--state-dir DIR]", .args = "run|status", .max = 1, .words = "run status",
	.complete = "words", .opts = ddns_opts, .more = usage,
	.doc = "  run      stay in the foreground: check on WAN address events, SIGHUP reloads,\n"
	       "           SIGUSR1 forces an update, polling every `interval` seconds as a backstop\n"
	       "  status   per host: published address, last result, reason, next attempt\n",
};

static void
usage(FILE *f)
{
	fputs("keys of a [ddns NAME] section in portpilot.conf (-c, default " PP_DEFAULT_CONF "):\n", f);
	/* The provider names come from the table, so a new provider is listed here by its row. */
	fprintf(f, "  provider (%s), server, hostname,\n", ddns_provider_list());
	fputs("  credentials_file (mode 0600), ip_source (auto | interface | web | reflector),\n"
	      "  interface, checkip, ipv6, ca_file, zone, url, success, ttl, interval,\n"
	      "  hostid6 (a LAN server's AAAA: host id on the LAN prefix) or mapping (a table\n"
	      "  mapping's internal_ip6), lan_interface; watch6 -c CONF follows prefix changes\n", f);
	/* The example is looked up where this binary is installed. */
	fprintf(f, "a commented example of each provider: %s\n",
	        pp_example_conf() ? pp_example_conf() : "examples/portpilot.conf in the source, man portpilot (DDNS)");
}

static void
fmt_time(time_t t, char out[20])
{
	if (t == 0)
		strcpy(out, "-");
	else
		pp_format_datetime(t, out);
}

/* A retry after a backoff, or a re-check of a record still propagating. */
static bool
waiting(const struct pp_ddns_host *h)
{
	return h->status == PP_HS_RETRY || h->status == PP_HS_PENDING;
}

static void
status_text(FILE *f, const struct pp_ddns_status *r, size_t n)
{
	fprintf(f, "%-10s %-28s %-10s %-11s %-16s %-10s %s\n", "NAME", "HOST", "PROVIDER", "STATUS",
	        "PUBLISHED", "LAST", "NEXT ATTEMPT");
	for (size_t i = 0; i < n; i++) {
		const struct pp_ddns_host *h = &r[i].host;
		char next[20];
		fmt_time(waiting(h) ? h->next_attempt : 0, next);
		/* The state file's text reaches the terminal only as text. */
		char *published = pp_text_safe_dup(h->published[0] ? h->published : "-");
		char *name = pp_text_safe_dup(r[i].conf->name);   /* [ddns NAME] is free text */
		fprintf(f, "%-10s %-28s %-10s %-11s %-16s %-10s %s\n", name, h->host,
		        pp_provider_name(r[i].conf->provider), pp_host_status_name(h->status),
		        published, pp_ddns_code_name(h->last_code), next);
		free(published);
		free(name);
		if (h->reason[0]) {
			fputs("  reason: ", f);
			pp_fputs_safe(h->reason, f);
			fputc('\n', f);
		}
		if (r[i].verdict[0] && (i == 0 || r[i - 1].conf != r[i].conf)) {
			fputs("  public address: ", f);
			pp_fputs_safe(r[i].verdict, f);
			fputc('\n', f);
		}
	}
}

static void
json_time(FILE *f, const char *key, time_t t)
{
	char buf[20];

	fprintf(f, ",\"%s\":", key);
	if (t == 0) {
		fputs("null", f);
	} else {
		pp_format_datetime(t, buf);
		pp_json_str(f, buf);
		fprintf(f, ",\"%s_unix\":%lld", key, (long long)t);
	}
}

static void
status_json(FILE *f, const struct pp_ddns_status *r, size_t n)
{
	fputs("{\"ddns\":[", f);
	for (size_t i = 0; i < n; i++) {
		const struct pp_ddns_host *h = &r[i].host;
		fprintf(f, "%s{\"name\":", i ? "," : "");
		pp_json_str(f, r[i].conf->name);
		fputs(",\"host\":", f);
		pp_json_str(f, h->host);
		fprintf(f, ",\"provider\":\"%s\",\"status\":\"%s\",\"published\":",
		        pp_provider_name(r[i].conf->provider), pp_host_status_name(h->status));
		pp_json_str(f, h->published[0] ? h->published : NULL);
		fputs(",\"last_result\":", f);
		pp_json_str(f, pp_ddns_code_name(h->last_code));
		fputs(",\"reason\":", f);
		pp_json_str(f, h->reason[0] ? h->reason : NULL);
		fputs(",\"public_address_problem\":", f);
		pp_json_str(f, r[i].verdict[0] ? r[i].verdict : NULL);
		json_time(f, "published_at", h->published_at);
		json_time(f, "last_attempt", h->last_attempt);
		json_time(f, "next_attempt", waiting(h) ? h->next_attempt : 0);
		fprintf(f, ",\"failures\":%d}", h->failures);
	}
	fputs("]}\n", f);
}

static int
cmd_status(struct pp_cli *cli, const struct pp_ddns_opts *o)
{
	struct pp_conf *conf;
	struct pp_ddns_status *rows;
	struct pp_error err;
	size_t n;

	/* An unreadable or invalid portpilot.conf is bad input (exit 2, as the README says);
	   a state directory that cannot be read is a failure (1). */
	if (pp_conf_load(o->conf_path, false, &conf, &err) < 0) {
		fputs("portpilot ddns: ", cli->err);
		pp_fputs_safe(err.msg, cli->err);   /* it may quote the file */
		fputc('\n', cli->err);
		return PP_EXIT_USAGE;
	}
	if (pp_ddns_status_load(conf, o->state_dir, &rows, &n, &err) < 0) {
		fputs("portpilot ddns: ", cli->err);
		pp_fputs_safe(err.msg, cli->err);
		fputc('\n', cli->err);
		pp_conf_free(conf);
		return PP_EXIT_FAIL;
	}
	/* status is where a configuration is checked: say what it sends in clear. */
	for (size_t i = 0; i < conf->nddns; i++) {
		char why[512];
		if (ddns_cleartext_secret(&conf->ddns[i], conf, why, sizeof why)) {
			char *msg = pp_xasprintf("portpilot ddns: warning: [ddns %s]: %s", conf->ddns[i].name, why);
			pp_fputs_safe(msg, cli->err);
			fputc('\n', cli->err);
			free(msg);
		}
	}
	if (cli->json)
		status_json(cli->out, rows, n);
	else if (n == 0)
		fprintf(cli->out, "no [ddns NAME] section in %s\n", o->conf_path);
	else
		status_text(cli->out, rows, n);
	int rc = PP_EXIT_OK;
	for (size_t i = 0; i < n; i++)
		if (rows[i].host.status == PP_HS_STOPPED || rows[i].host.status == PP_HS_RETRY ||
		    rows[i].verdict[0])
			rc = PP_EXIT_FAIL;
	free(rows);
	pp_conf_free(conf);
	return rc;
}

int
pp_cmd_ddns(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_ddns_opts o = {
		.conf_path = cli->conf_path ? cli->conf_path : PP_DEFAULT_CONF,
		.state_dir = cli->state_dir ? cli->state_dir : PP_DEFAULT_STATE,
		.table_path = cli->table_path,
	};
	const char *mode = NULL;
	struct pp_error err;

	o.force = pp_opt(cli, "force") != NULL;
	o.only = pp_opt(cli, "name");
	o.conf_path = pp_opt(cli, "c") ? pp_opt(cli, "c") : o.conf_path;
	o.state_dir = pp_opt(cli, "state-dir") ? pp_opt(cli, "state-dir") : o.state_dir;
	mode = argc > 1 ? argv[1] : NULL;
	if (pp_opt(cli, "once") && mode)
		return pp_cli_usage(cli, "ddns", "--once is a mode of its own: not with '%s'", mode);
	if (pp_opt(cli, "once"))
		mode = "--once";
	if (mode == NULL)
		return pp_cli_usage(cli, "ddns", "say run, --once or status; see portpilot ddns --help");
	if (strcmp(mode, "status") == 0)
		return cmd_status(cli, &o);
	/* A missing or invalid portpilot.conf is bad input (exit 2), not a failed update. */
	struct pp_conf *conf;
	if (pp_conf_load(o.conf_path, false, &conf, &err) < 0) {
		fputs("portpilot ddns: ", cli->err);
		pp_fputs_safe(err.msg, cli->err);
		fputc('\n', cli->err);
		return PP_EXIT_USAGE;
	}
	pp_conf_free(conf);
	int rc = strcmp(mode, "run") == 0 ? pp_ddns_run(&o, &err) : pp_ddns_once(&o, &err);
	if (rc < 0) {
		fputs("portpilot ddns: ", cli->err);
		pp_fputs_safe(err.msg, cli->err);
		fputc('\n', cli->err);
	}
	if (strcmp(mode, "--once") == 0 && cli->json)
		cmd_status(cli, &o);
	return rc < 0 ? PP_EXIT_FAIL : PP_EXIT_OK;
}
