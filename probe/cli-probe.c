/* The probe's commands: probe NAME, watch NAME, reflector. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli-opts.h"
#include "portpilot/conf.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

struct args {
	const char *name, *reflector, *token_file, *hostname, *wan, *lan, *write, *read, *listen;
	const char *cert, *key, *ca, *user;
	int seconds, rate, timeout_ms, max_conns, per_address;
	bool no_drop, insecure_http;
	const char *reflector6;
};

static void help_causes(FILE *f);

static const struct pp_opt probe_opts[] = {
	{ "reflector", 0, "URL", "the outside vantage point (portpilot reflector)" },
	{ "token-file", 0, "F", "the reflector's bearer token" },
	{ "reflector-ca", 0, "F", "a private CA for an https reflector" },
	{ "reflector6", 0, "URL", "a reflector's IPv6 URL: tests the IPv6 way in from outside" },
	{ "hostname", 0, "DDNS-NAME", "the published name to check too" },
	{ "seconds", 0, "N", "capture for N seconds" },
	{ "write", 0, "F.pcap", "save the capture's packet headers" },
	{ "read", 0, "F.pcap", "diagnose a saved capture instead of capturing" },
	{ "wan", 0, "IF", "the WAN interface (default [site] wan_interface)" },
	{ "lan", 0, "IF", "the LAN interface (default [site] lan_interface)" },
	PP_OPT_JSON,
	{ "list-causes", 0, "=man", "list the causes a probe can end in (=man: as roff)" },
	{ "no-drop", 0, NULL, NULL },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_probe = {
	.args = "NAME", .max = 1, .complete = "names", .opts = probe_opts, .more = help_causes,
	.doc =
	"Says why mapping NAME works on the LAN but fails from the internet: checks the table, the\n"
	"kernel's rules and forwarding, the server, asks the reflector to connect back while capturing\n"
	"on WAN and LAN, and ends with one cause, its evidence and the fix. Exit 0 only when ok.\n"
	"[probe] reflector / token_file in portpilot.conf are used when --reflector is not given.\n"
	"An https reflector's certificate is verified against the system CAs plus --reflector-ca F\n"
	"or [probe] ca_file (a private CA).\n"
	"--write F.pcap saves packet headers only (payload cut), mode 0600, never through a link.\n"
	"A mapping with IPv6 also gets an IPv6 verdict (pinholes, the server's IPv6 port and its route\n"
	"back), tested from the router; with --reflector6 URL (an IPv6 address of a reflector, e.g.\n"
	"http://[2001:db8::10]:9443) also from outside, asked from the router's address in the\n"
	"server's /64 while the capture shows where the attempt stops.\n"
	"The router advertisements answering one Router Solicitation on the LAN are evidence for the\n"
	"server's IPv6 default route.\n"
	"usage: portpilot probe --list-causes [--json]\n"
	"Lists the causes a probe can end in: name, what it means, the shape of the fix.\n",
};

static const struct pp_opt watch_opts[] = {
	{ "seconds", 0, "N", "capture for N seconds (default 30)" },
	{ "write", 0, "F.pcap", "save the capture's packet headers" },
	PP_OPT_JSON,
	{ "read", 0, "F.pcap", NULL },
	{ "wan", 0, "IF", NULL },
	{ "lan", 0, "IF", NULL },
	{ "no-drop", 0, NULL, NULL },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_watch = {
	.args = "NAME", .min = 1, .max = 1, .complete = "names",
	.missing = "which mapping? give its NAME (portpilot list)", .opts = watch_opts,
	.doc =
	"Runs the inside checks, then captures for N seconds (default 30) and reports every attempt\n"
	"on the mapping as it happens (try from a phone on mobile data), then the verdict.\n"
	"--write F.pcap saves packet headers only (payload cut), mode 0600, never through a link.\n",
};

static const struct pp_opt reflector_opts[] = {
	{ "listen", 0, "ADDR:PORT", "the address to serve on (required); [ADDR6]:PORT for IPv6, A,B for both" },
	{ "cert", 0, "F", "the certificate (PEM), with --key: serve HTTPS" },
	{ "key", 0, "F", "the certificate's key (PEM, mode 0600)" },
	{ "token-file", 0, "F", "require this bearer token" },
	{ "insecure-http", 0, NULL, "allow a token over plain HTTP (a lab only)" },
	{ "rate", 0, "N", "requests a minute per address (default 30)" },
	{ "timeout", 0, "MS", "the longest check a client may ask for (default 3000)" },
	{ "user", 0, "NAME", "serve as this account once bound (default nobody)" },
	{ "max-conns", 0, "N", "connections at once in all (default 512)" },
	{ "per-address", 0, "N", "connections at once from one address (default 4)" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_reflector = {
	.opts = reflector_opts,
	.doc =
	"The outside vantage point. Serves GET /v1/whoami (the address it sees you from) and\n"
	"GET /v1/check?proto=tcp|udp&port=P (connects back to the requester only, never elsewhere;\n"
	"over IPv6, ip=ADDR may name any address in the requester's own /64, the limits count per /64).\n"
	"--cert/--key (PEM; the key file mode 0600) serve HTTPS, TLS 1.2 or later. With a token file,\n"
	"requests need 'Authorization: Bearer TOKEN'; a token needs --cert/--key, since over plain\n"
	"HTTP it crosses the internet in clear (--insecure-http allows that, for a lab). At most N\n"
	"requests a minute per address (default 30), --per-address N connections at once from one\n"
	"address (default 4), --max-conns N in all (default 512), 2.5 s to send a request. Started\n"
	"as root, it binds, then serves as --user NAME (default nobody).\n"
	"Runs until SIGINT/SIGTERM.\n",
};

static int
parse(struct pp_cli *cli, int argc, char **argv, struct args *a, bool want_name)
{
	static const char *const valued[] = { "--reflector", "--token-file", "--hostname", "--seconds",
	                                      "--write", "--read", "--wan", "--lan", "--listen",
	                                      "--rate", "--timeout", "--cert", "--key", "--reflector-ca",
	                                      "--user", "--max-conns", "--per-address", "--reflector6", NULL };
	a->no_drop = pp_opt(cli, "no-drop") != NULL;
	a->insecure_http = pp_opt(cli, "insecure-http") != NULL;
	a->name = want_name && argc > 1 ? argv[1] : NULL;
	for (int k = 0; valued[k]; k++) {
		const char *o = valued[k], *v = pp_opt(cli, o + 2);
		if (v == NULL)
			continue;
		const char **slot[] = { &a->reflector, &a->token_file, &a->hostname, NULL, &a->write,
		                        &a->read, &a->wan, &a->lan, &a->listen, NULL, NULL, &a->cert,
		                        &a->key, &a->ca, &a->user, NULL, NULL, &a->reflector6 };
		if (slot[k]) {
			*slot[k] = v;
			continue;
		}
		int n = atoi(v);
		if (n <= 0 || n > 86400000)
			return pp_cli_usage(cli, argv[0], "%s %s: expected a positive number", o, v);
		*(k == 3 ? &a->seconds : k == 9 ? &a->rate : k == 15 ? &a->max_conns :
		  k == 16 ? &a->per_address : &a->timeout_ms) = n;
	}
	if (want_name && !a->name)
		return pp_cli_usage(cli, argv[0], "which mapping? give its NAME (portpilot list)");
	return 0;
}

/* [probe] in portpilot.conf fills what the command line left out. */
static void
from_conf(struct pp_cli *cli, struct args *a, struct pp_conf **conf)
{
	struct pp_error e;
	if (pp_conf_load(cli->conf_path, true, conf, &e) < 0) {
		fprintf(cli->err, "portpilot: %s (continuing without it)\n", e.msg);
		*conf = NULL;
		return;
	}
	if (!a->reflector && (*conf)->probe.reflector)
		a->reflector = (*conf)->probe.reflector;
	if (!a->reflector6 && (*conf)->probe.reflector6)
		a->reflector6 = (*conf)->probe.reflector6;
	if (!a->token_file && (a->reflector || a->reflector6) && (*conf)->probe.token_file)
		a->token_file = (*conf)->probe.token_file;
	if (!a->ca && (a->reflector || a->reflector6))
		a->ca = (*conf)->probe.ca_file;
	if (!a->hostname && (*conf)->nddns && (*conf)->ddns[0].nhosts)
		a->hostname = (*conf)->ddns[0].hosts[0];
}

static void
print_packet(const struct pp_packet *p, const struct pp_attempt *att, void *arg)
{
	struct pp_cli *cli = arg;
	char line[200];
	pp_packet_format(p, line, sizeof line);
	if (att && att->router_own)
		fprintf(cli->out, "  (probe) %s\n", line);
	else if (att)
		fprintf(cli->out, "  #%-3d    %s\n", p->attempt + 1, line);
	else
		fprintf(cli->out, "          %s\n", line);
	fflush(cli->out);
}

/* A probe that keeps root's rights is said at once, not only in the report at the end. */
static void
warn_check(const struct pp_check *ck, void *arg)
{
	struct pp_cli *cli = arg;
	if (ck->state == PP_CHECK_FAIL && !strcmp(ck->id, "privileges"))
		fprintf(cli->err, "portpilot: warning: %s\n", ck->text);
}

static int
run_probe(struct pp_cli *cli, struct args *a, int watch_seconds)
{
	struct pp_table *t = NULL;
	struct pp_conf *conf = NULL;
	struct pp_probe_result *r = NULL;
	struct pp_error e;
	char *token = NULL;
	int rc = PP_EXIT_USAGE;
	if (pp_table_load(cli->table_path, false, &t, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		return PP_EXIT_USAGE;
	}
	from_conf(cli, a, &conf);
	if (a->token_file && !(token = pp_token_read(a->token_file, &e))) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		goto out;
	}
	if ((a->reflector || a->reflector6) && pp_reflector_set_ca(a->ca, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		goto out;
	}
	if (token && a->reflector && !strncmp(a->reflector, "http://", 7))
		fprintf(cli->err, "portpilot: warning: the reflector token goes to %s in clear; "
		        "use an https:// reflector (portpilot reflector --cert/--key)\n", a->reflector);
	struct pp_probe_opts o = {
		.table = t, .name = a->name, .reflector_url = a->reflector, .token = token,
		.hostname = a->hostname, .watch_seconds = watch_seconds, .wan_if = a->wan, .lan_if = a->lan,
		.write_path = a->write, .read_path = a->read, .drop_privs = !a->no_drop,
		.on_packet = watch_seconds > 0 && !cli->json ? print_packet : NULL, .on_check = warn_check,
		.arg = cli, .reflector6_url = a->reflector6,
	};
	const struct pp_mapping *m = pp_table_find(t, a->name);
	if (!m) {
		fprintf(cli->err, "portpilot: %s: no mapping named '%s' (portpilot list shows them)\n",
		        cli->table_path ? cli->table_path : "table", a->name);
		goto out;
	}
	if ((m->bad & ((1u << PP_F_INTERNAL_IP) | (1u << PP_F_PUBLIC_PORT) | (1u << PP_F_PROTOCOL)))) {
		fprintf(cli->err, "portpilot: mapping %s has invalid values: fix them first (portpilot check)\n",
		        a->name);
		goto out;
	}
	if (watch_seconds > 0 && !cli->json)
		fprintf(cli->out, "watching %s for %d s: try it from outside now\n", a->name, watch_seconds);
	if (pp_probe_run(&o, &r, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		/* With --read the one thing that can fail is the given file: bad input. The rest
		 * (--write, capture) failed while running. */
		rc = a->read ? PP_EXIT_USAGE : PP_EXIT_FAIL;
		goto out;
	}
	if (cli->json)
		pp_probe_result_json(cli->out, r);
	else
		pp_probe_result_print(cli->out, r);
	rc = r->cause == PP_CAUSE_OK ? PP_EXIT_OK : PP_EXIT_FAIL;
out:
	pp_probe_result_free(r);
	if (token)
		memset(token, 0, strlen(token)), free(token);
	pp_conf_free(conf);
	pp_table_free(t);
	return rc;
}

/* The cause table as text, JSON ({"causes":[{name, summary, fix}...]}), or the man page's list (=man: man/portpilot.8 holds exactly
 * this between its "causes: begin" and "causes: end" lines; tests/cli/test-causes.sh compares). */
static int
list_causes(struct pp_cli *cli, const char *how)
{
	FILE *f = cli->out;
	if (cli->json)
		fputs("{\"causes\":[", f);
	if (!strcmp(how, "man"))
		fputs(".RS\n", f);
	for (int c = 0; c < PP_CAUSE__COUNT; c++) {
		const struct pp_cause_info *i = pp_cause_info((enum pp_cause)c);
		if (!i)
			continue;
		if (cli->json) {
			fprintf(f, "%s{\"name\":", c ? "," : "");
			pp_json_str(f, i->name);
			fputs(",\"summary\":", f);
			pp_json_str(f, i->summary);
			fputs(",\"fix\":", f);
			pp_json_str(f, i->fix);
			fputs("}", f);
		} else if (!strcmp(how, "man")) {
			fprintf(f, ".TP\n.B %s\n%s\n", i->name, i->man);
		} else {
			fprintf(f, "%-19s %s\n%-19s fix: %s\n", i->name, i->summary, "", i->fix);
		}
	}
	fputs(cli->json ? "]}\n" : !strcmp(how, "man") ? ".RE\n" : "", f);
	return PP_EXIT_OK;
}

/* The causes' names, from the table, for probe --help. */
static void
help_causes(FILE *f)
{
	fputs("Causes:", f);
	for (int c = 0, col = 7; c < PP_CAUSE__COUNT; c++) {
		const char *n = pp_cause_name((enum pp_cause)c);
		int w = (int)strlen(n) + 2;
		if (col + w > 92) {
			fputs("\n ", f);
			col = 1;
		}
		fprintf(f, " %s%s", n, c + 1 < PP_CAUSE__COUNT ? "," : "\n");
		col += w;
	}
}

int
pp_cmd_probe(struct pp_cli *cli, int argc, char **argv)
{
	struct args a = { 0 };
	const char *causes = pp_opt(cli, "list-causes");
	if (causes) {
		int given = argc - 1;
		for (int k = 0; probe_opts[k].name; k++) /* --json goes with it */
			given += cli->args && cli->args->val[k] != NULL && strcmp(probe_opts[k].name, "json") != 0;
		if (given != 1)
			return pp_cli_usage(cli, argv[0], "--list-causes takes no mapping or other option");
		if (*causes && strcmp(causes, "man"))
			return pp_cli_usage(cli, argv[0], "--list-causes=%s: say --list-causes or --list-causes=man", causes);
		if (cli->json && *causes)
			return pp_cli_usage(cli, argv[0], "--list-causes=man is roff text: not with --json");
		return list_causes(cli, *causes ? "man" : "text");
	}
	int rc = parse(cli, argc, argv, &a, true);
	if (rc)
		return rc;
	if (a.read && a.write)
		return pp_cli_usage(cli, argv[0], "--read and --write do not go together");
	return run_probe(cli, &a, a.reflector ? 0 : a.seconds);
}

int
pp_cmd_watch(struct pp_cli *cli, int argc, char **argv)
{
	struct args a = { 0 };
	int rc = parse(cli, argc, argv, &a, true);
	if (rc)
		return rc;
	a.reflector = a.reflector6 = NULL;
	return run_probe(cli, &a, a.seconds ? a.seconds : 30);
}

static volatile int stop_flag;
static void on_stop(int sig) { (void)sig; stop_flag = 1; }

int
pp_cmd_reflector(struct pp_cli *cli, int argc, char **argv)
{
	struct args a = { 0 };
	struct pp_error e;
	char *token = NULL;
	int rc = parse(cli, argc, argv, &a, false);
	if (rc)
		return rc;
	if (!a.listen)
		return pp_cli_usage(cli, argv[0], "--listen ADDR:PORT is required");
	if (!a.cert != !a.key)
		return pp_cli_usage(cli, argv[0], "--cert and --key go together: give both for HTTPS");
	if (a.token_file && !a.cert && !a.insecure_http)
		return pp_cli_usage(cli, argv[0], "--token-file without --cert/--key would let the token "
		                    "cross the internet in clear: give --cert FILE --key FILE (PEM), or "
		                    "--insecure-http to accept that (a lab only)");
	struct pp_reflector_tls *tls = NULL;
	if (a.cert && !(tls = pp_reflector_tls_load(a.cert, a.key, &e))) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		return PP_EXIT_USAGE;
	}
	if (a.token_file && !(token = pp_token_read(a.token_file, &e))) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		pp_reflector_tls_free(tls);
		return PP_EXIT_USAGE;
	}
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct pp_reflector_opts o = { .listen = a.listen, .token = token, .tls = tls,
	                               .rate_per_min = a.rate ? a.rate : 30,
	                               .max_timeout_ms = a.timeout_ms ? a.timeout_ms : 3000,
	                               .stop = &stop_flag, .log = cli->err, .user = a.user,
	                               .max_conns = a.max_conns, .per_address = a.per_address };
	if (token && !tls)
		fprintf(cli->err, "reflector: warning: --insecure-http: the token crosses the network in "
		        "clear; give --cert/--key to serve HTTPS\n");
	rc = pp_reflector_serve(&o, &e) < 0 ? PP_EXIT_FAIL : PP_EXIT_OK;
	if (rc)
		fprintf(cli->err, "portpilot: %s\n", e.msg);
	if (token)
		memset(token, 0, strlen(token)), free(token);
	pp_reflector_tls_free(tls);
	return rc;
}
