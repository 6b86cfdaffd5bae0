/* The relay: a WireGuard tunnel from a site without a public address to an edge host that is its public face. */
#ifndef PORTPILOT_RELAY_H
#define PORTPILOT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portpilot/error.h"
#include "portpilot/table.h"

/*
 * Marks (one bit each, under a mask, clear of OWN_MARK 0x10000000 of the
 * DNAT tree and of the low bytes other tools use). On the site: a
 * connection that came in through the tunnel; its replies get the fwmark
 * and the policy rule sends them back into the tunnel. On the edge: a
 * connection the edge's own DNAT sent into a site's tunnel.
 */
#define PP_RELAY_MARK     "0x20000000"
#define PP_RELAY_TABLE    "5207"       /* routing table of the replies; also the rule's priority */
#define PP_RELAY_IF       "pp-relay"
#define PP_EDGE_IF        "pp-edge"
#define PP_EDGE_CONF      "/etc/portpilot/edge.ini"
#define PP_WG_PORT        51820
#define PP_WG_KEY_LEN     44           /* base64 of 32 bytes */

/* [site] relay = HOST:PORT and its companions, parsed. */
struct pp_relay_site {
	bool on;
	char host[254];                  /* the edge: IPv4 address or DNS name */
	uint16_t port;
	char edge_key[PP_WG_KEY_LEN + 1];
	uint32_t address;                /* the site's tunnel address (host order) */
	char ifname[16];
	int keepalive;                   /* seconds; keeps the carrier NAT's mapping open */
	bool all;                        /* relay_mappings = all (the default) */
	char *names;                     /* else the comma-separated names, as written */
};

/* A [site] key of the relay: NULL when value is good, else what is wrong and the fix. */
const char *pp_relay_field_problem(enum pp_site_field f, const char *value);
/* The relay settings of t's [site]; r->on false when relay is absent or "no". -1 with err. */
int pp_relay_site_parse(const struct pp_table *t, struct pp_relay_site *r, struct pp_error *err);
void pp_relay_site_free(struct pp_relay_site *r);
/* Whether mapping m goes through the relay. */
bool pp_relay_maps(const struct pp_relay_site *r, const struct pp_mapping *m);

/* The edge's own configuration (edge.ini). */
struct pp_edge_port {
	enum pp_proto proto;             /* PP_TCP or PP_UDP */
	uint16_t lo, hi;
};

struct pp_edge_site {
	char *name;
	int line;
	char key[PP_WG_KEY_LEN + 1];
	uint32_t address;
	struct pp_edge_port *ports;
	size_t nports;
};

struct pp_edge_conf {
	char *path;
	char ifname[16];
	uint16_t listen_port;
	uint32_t address;                /* the edge's tunnel address */
	uint8_t prefix;                  /* the tunnel network's length */
	char public_if[16];              /* "" = any interface but the tunnel */
	bool forward_other;              /* leave other forwarded traffic alone (default: drop it) */
	struct pp_edge_site *sites;
	size_t n;
};

#define PP_EDGE_MAX_SITES 1000
#define PP_EDGE_MAX_PORTS 64           /* port entries of one site */

int pp_edge_conf_load(const char *path, struct pp_edge_conf **out, struct pp_error *err);
int pp_edge_conf_parse(const char *path, const char *text, size_t len, struct pp_edge_conf **out,
                       struct pp_error *err);
void pp_edge_conf_free(struct pp_edge_conf *c);

/* Keys: the private key lives in a 0600 file and is never printed; only its public half is. */
/* Make dir/name with a new key unless it exists; pub gets the public key. created says which. */
int pp_wg_key_ensure(const char *dir, const char *name, char pub[PP_WG_KEY_LEN + 1], bool *created,
                     struct pp_error *err);
/* The public key of the private key file at path (checked: a regular file, 0600, not a link). */
int pp_wg_key_public(const char *path, char pub[PP_WG_KEY_LEN + 1], struct pp_error *err);
/* True when s is a base64 WireGuard key (44 characters, ending in '='). */
bool pp_wg_key_valid(const char *s);

/* A WireGuard interface: kernel WireGuard where the kernel has it, wireguard-go otherwise. */
int pp_wg_link_up(const char *ifname, bool *userspace, struct pp_error *err);
int pp_wg_link_down(const char *ifname, struct pp_error *err);
bool pp_wg_link_exists(const char *ifname);

/* What `wg show` says of one peer. */
struct pp_wg_peer {
	char key[PP_WG_KEY_LEN + 1];
	char endpoint[64];               /* "" when never heard from */
	time_t handshake;                /* 0 = never */
	unsigned long long rx, tx;
};
/* The peers of ifname (*out allocated, caller frees). -1 with err when the interface is not there. */
int pp_wg_peers(const char *ifname, struct pp_wg_peer **out, size_t *n, struct pp_error *err);
/* A handshake younger than this: the peer is connected (WireGuard's REJECT_AFTER_TIME). */
#define PP_WG_ALIVE_S 180

/* Rules: iptables-restore --noflush text of the PP-RELAY* (site) and PP-EDGE* (edge) chains. */
char *pp_relay_rules(const struct pp_table *t, const struct pp_relay_site *r, time_t now);
char *pp_edge_rules(const struct pp_edge_conf *c);

/* Site: bring the relay up (key, tunnel, routing, rules) or take it down. */
int pp_relay_up(const struct pp_table *t, const char *state_dir, struct pp_error *err);
int pp_relay_down(const struct pp_table *t, struct pp_error *err);
/* The site's PP-RELAY hooks, the policy rule and the tunnel route are all there. */
bool pp_relay_in_place(const char *ifname);
/* Edge: the same for the edge host. */
int pp_edge_up(const struct pp_edge_conf *c, const char *state_dir, struct pp_error *err);
int pp_edge_down(const struct pp_edge_conf *c, struct pp_error *err);
/* The edge's PPEDGE hooks are all there (the walls stand). */
bool pp_edge_in_place(const struct pp_edge_conf *c);

/* core/cli-relay.c */
struct pp_cli;
int pp_cmd_relay(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_edge(struct pp_cli *cli, int argc, char **argv);

#endif
