/* `portpilot relay` (the site) and `portpilot edge` (the outside host): formats what relay-*.c return. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/cli.h"
#include "portpilot/cli-opts.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

static int
fail(struct pp_cli *cli, const char *cmd, const struct pp_error *err)
{
	fprintf(cli->err, "portpilot %s: ", cmd);
	pp_fputs_safe(err->msg, cli->err);
	fputc('\n', cli->err);
	return PP_EXIT_FAIL;
}

static int
keygen(struct pp_cli *cli, const char *cmd, const char *file)
{
	char pub[PP_WG_KEY_LEN + 1];
	bool created;
	struct pp_error err;
	if (pp_wg_key_ensure(cli->state_dir, file, pub, &created, &err) < 0)
		return fail(cli, cmd, &err);
	/* Only the public half: the private key stays in its 0600 file. */
	if (cli->json)
		fprintf(cli->out, "{\"public_key\":\"%s\",\"created\":%s,\"key_file\":", pub, created ? "true" : "false");
	if (cli->json) {
		char *path = pp_xasprintf("%s/%s", cli->state_dir, file);
		pp_json_str(cli->out, path);
		free(path);
		fputs("}\n", cli->out);
	} else {
		fprintf(cli->out, "%s\n", pub);
	}
	return PP_EXIT_OK;
}

/* One peer as a status line or object; returns whether it is connected. */
static bool
peer_out(struct pp_cli *cli, const char *name, const struct pp_wg_peer *p, bool first, time_t now)
{
	bool alive = p && p->handshake && now - p->handshake < PP_WG_ALIVE_S;
	long age = p && p->handshake ? (long)(now - p->handshake) : -1;
	if (cli->json) {
		fprintf(cli->out, "%s{\"name\":", first ? "" : ",");
		pp_json_str(cli->out, name);
		fprintf(cli->out, ",\"connected\":%s,\"last_handshake_s\":", alive ? "true" : "false");
		if (age >= 0)
			fprintf(cli->out, "%ld", age);
		else
			fputs("null", cli->out);
		fputs(",\"endpoint\":", cli->out);
		pp_json_str(cli->out, p && *p->endpoint ? p->endpoint : NULL);
		fprintf(cli->out, ",\"rx_bytes\":%llu,\"tx_bytes\":%llu}", p ? p->rx : 0, p ? p->tx : 0);
		return alive;
	}
	pp_fputs_safe(name, cli->out);
	fprintf(cli->out, ": %s", alive ? "connected" : "not connected");
	if (age >= 0)
		fprintf(cli->out, ", last handshake %ld s ago", age);
	else
		fputs(", no handshake yet", cli->out);
	if (p && *p->endpoint)
		fprintf(cli->out, ", from %s", p->endpoint);
	fprintf(cli->out, ", received %llu bytes, sent %llu bytes\n", p ? p->rx : 0, p ? p->tx : 0);
	return alive;
}

static const struct pp_wg_peer *
find_peer(const struct pp_wg_peer *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static int
relay_status(struct pp_cli *cli, const struct pp_relay_site *r)
{
	struct pp_wg_peer *v = NULL;
	size_t n = 0;
	struct pp_error err;
	bool up = pp_wg_peers(r->ifname, &v, &n, &err) == 0;
	const struct pp_wg_peer *p = up ? find_peer(v, n, r->edge_key) : NULL;
	char name[300];
	snprintf(name, sizeof name, "edge %s:%u", r->host, r->port);
	bool routed = pp_relay_in_place(r->ifname);
	if (cli->json) {
		fprintf(cli->out, "{\"interface\":\"%s\",\"up\":%s,\"routing\":%s,\"edge\":", r->ifname,
		        up ? "true" : "false", routed ? "true" : "false");
	} else if (!up) {
		fprintf(cli->out, "relay: the tunnel %s is down (portpilot relay up brings it up)\n", r->ifname);
	} else {
		fprintf(cli->out, "relay: tunnel %s up, %s\n", r->ifname, routed ? "rules and policy routing in place"
		        : "rules or policy routing missing (portpilot relay up puts them back)");
	}
	bool alive = peer_out(cli, name, p, true, time(NULL));
	if (cli->json)
		fputs("}\n", cli->out);
	free(v);
	return alive && routed ? PP_EXIT_OK : PP_EXIT_FAIL;
}

/* relay and edge: the same four subcommands, up's --dry-run and status's --json. */
#define RELAY_WORDS                                                                     \
	.args = "keygen|up|down|status", .min = 1, .max = 1, .words = "keygen up down status", \
	.complete = "words", .missing = "say what: keygen, up, down or status"
#define RELAY_OPTS { "dry-run", 0, NULL, "up: print the rules only" }, \
	{ "json", 0, NULL, "status: machine-readable output" }

static const struct pp_opt relay_opts[] = { RELAY_OPTS, { 0 } };
const struct pp_cmd_spec pp_spec_relay = {
	.globals = "[-f TABLE] [--state-dir DIR]", RELAY_WORDS, .opts = relay_opts,
	.doc =
	"The site's tunnel to its edge host ([site] relay = EDGE:PORT, relay_public_key,\n"
	"relay_address, relay_mappings, relay_keepalive, relay_interface).\n"
	"  keygen   make the site's key (DIR/relay.key, 0600) unless it exists; print the public key\n"
	"  up       the tunnel (kernel WireGuard, else wireguard-go), the policy routing of the\n"
	"           replies and the PP-RELAY rules; `portpilot apply` takes the ports from the tunnel;\n"
	"           --dry-run prints the rules only\n"
	"  down     remove all of it\n"
	"  status   the edge: connected, last handshake, bytes; exit 1 when not connected\n",
};

int
pp_cmd_relay(struct pp_cli *cli, int argc, char **argv)
{
	bool dry = pp_opt(cli, "dry-run") != NULL;
	(void)argc;
	if (dry && strcmp(argv[1], "up") != 0)
		return pp_cli_usage(cli, "relay", "--dry-run is for relay up");
	const char *what = argv[1];
	if (strcmp(what, "keygen") == 0)
		return keygen(cli, "relay keygen", "relay.key");
	if (strcmp(what, "up") && strcmp(what, "down") && strcmp(what, "status"))
		return pp_cli_usage(cli, "relay", "unknown '%s': say keygen, up, down or status", what);
	struct pp_table *t;
	struct pp_error err;
	if (pp_table_load(cli->table_path, false, &t, &err) < 0)
		return fail(cli, "relay", &err);
	struct pp_relay_site r;
	int rc;
	if (pp_relay_site_parse(t, &r, &err) < 0) {
		rc = fail(cli, "relay", &err);
	} else if (dry && !r.on) {
		fprintf(cli->err, "portpilot relay up: %s has no [site] relay\n", t->path);
		rc = PP_EXIT_FAIL;
	} else if (dry) {
		/* What up would write, for review: the rules only (keys and tunnel untouched). */
		char *rules = pp_relay_rules(t, &r, time(NULL));
		fputs(rules, cli->out);
		free(rules);
		rc = PP_EXIT_OK;
	} else if (strcmp(what, "up") == 0) {
		rc = pp_relay_up(t, cli->state_dir, &err) < 0 ? fail(cli, "relay up", &err) : PP_EXIT_OK;
		if (rc == PP_EXIT_OK && !cli->json)
			fprintf(cli->out, "relay up: %s to %s:%u as %s\n", r.ifname, r.host, r.port,
			        t->site.val[PP_S_RELAY_ADDRESS]);
	} else if (strcmp(what, "down") == 0) {
		rc = pp_relay_down(t, &err) < 0 ? fail(cli, "relay down", &err) : PP_EXIT_OK;
		if (rc == PP_EXIT_OK && !cli->json)
			fputs("relay down\n", cli->out);
	} else if (!r.on) {
		fprintf(cli->err, "portpilot relay status: %s has no [site] relay\n", t->path);
		rc = PP_EXIT_FAIL;
	} else {
		rc = relay_status(cli, &r);
	}
	pp_relay_site_free(&r);
	pp_table_free(t);
	return rc;
}

static int
edge_status(struct pp_cli *cli, const struct pp_edge_conf *c)
{
	struct pp_wg_peer *v = NULL;
	size_t n = 0;
	struct pp_error err;
	bool up = pp_wg_peers(c->ifname, &v, &n, &err) == 0;
	time_t now = time(NULL);
	size_t alive = 0;
	bool walls = pp_edge_in_place(c);
	if (cli->json)
		fprintf(cli->out, "{\"interface\":\"%s\",\"up\":%s,\"rules\":%s,\"sites\":[", c->ifname,
		        up ? "true" : "false", walls ? "true" : "false");
	else
		fprintf(cli->out, "edge: tunnel %s %s, %zu site%s, %s\n", c->ifname, up ? "up" : "down (portpilot edge up)",
		        c->n, c->n == 1 ? "" : "s", walls ? "rules in place"
		        : "RULES MISSING: nothing filters the tunnel (portpilot edge up puts them back)");
	for (size_t i = 0; i < c->n; i++)
		alive += peer_out(cli, c->sites[i].name, find_peer(v, n, c->sites[i].key), i == 0, now);
	if (cli->json)
		fprintf(cli->out, "],\"connected_sites\":%zu}\n", alive);
	else
		fprintf(cli->out, "edge: %zu of %zu site%s connected\n", alive, c->n, c->n == 1 ? "" : "s");
	free(v);
	return up && walls ? PP_EXIT_OK : PP_EXIT_FAIL;
}

static const struct pp_opt edge_opts[] = {
	{ "config", 0, "FILE", "the edge's configuration (default " PP_EDGE_CONF ")" },
	RELAY_OPTS,
	{ 0 },
};
const struct pp_cmd_spec pp_spec_edge = {
	.globals = "[--state-dir DIR]", RELAY_WORDS, .opts = edge_opts,
	.doc =
	"The edge host: the public face of sites without a public address (default config\n"
	PP_EDGE_CONF ": [edge] interface, listen_port, address, public_interface,\n"
	"forward_other; [site NAME] public_key, address, ports = tcp/8080, udp/5005).\n"
	"  keygen   make the edge's key (DIR/edge.key, 0600) unless it exists; print the public key\n"
	"  up       WireGuard with the configured sites as peers and the PPEDGE rules: only their\n"
	"           ports, to their tunnel, the client's address kept; --dry-run prints the rules only\n"
	"  down     remove all of it\n"
	"  status   per site: connected, last handshake, where from, bytes\n",
};

int
pp_cmd_edge(struct pp_cli *cli, int argc, char **argv)
{
	const char *conf = pp_opt(cli, "config") ? pp_opt(cli, "config") : PP_EDGE_CONF, *what = argv[1];
	bool dry = pp_opt(cli, "dry-run") != NULL;
	(void)argc;
	if (strcmp(what, "keygen") == 0)
		return keygen(cli, "edge keygen", "edge.key");
	if (strcmp(what, "up") && strcmp(what, "down") && strcmp(what, "status"))
		return pp_cli_usage(cli, "edge", "unknown '%s': say keygen, up, down or status", what);
	struct pp_edge_conf *c;
	struct pp_error err;
	if (pp_edge_conf_load(conf, &c, &err) < 0)
		return fail(cli, "edge", &err);
	int rc;
	if (dry && strcmp(what, "up") == 0) {
		char *rules = pp_edge_rules(c);
		fputs(rules, cli->out);
		free(rules);
		rc = PP_EXIT_OK;
	} else if (strcmp(what, "up") == 0) {
		rc = pp_edge_up(c, cli->state_dir, &err) < 0 ? fail(cli, "edge up", &err) : PP_EXIT_OK;
		if (rc == PP_EXIT_OK && !cli->json)
			fprintf(cli->out, "edge up: %s on UDP %u, %zu site%s\n", c->ifname, c->listen_port, c->n,
			        c->n == 1 ? "" : "s");
	} else if (strcmp(what, "down") == 0) {
		rc = pp_edge_down(c, &err) < 0 ? fail(cli, "edge down", &err) : PP_EXIT_OK;
		if (rc == PP_EXIT_OK && !cli->json)
			fputs("edge down\n", cli->out);
	} else {
		rc = edge_status(cli, c);
	}
	pp_edge_conf_free(c);
	return rc;
}
