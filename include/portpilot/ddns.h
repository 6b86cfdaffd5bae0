/* DDNS: public-address detection, providers, the updater state machine, status. */
#ifndef PORTPILOT_DDNS_H
#define PORTPILOT_DDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portpilot/cli.h"
#include "portpilot/conf.h"
#include "portpilot/error.h"
#include "portpilot/util.h"

/* ---- provider answers ---- */

/*
 * Every answer a provider can give for one host, whatever the protocol:
 * dyndns2 return codes, HTTP statuses of the API providers, nsupdate's
 * rcodes and transport errors are all mapped onto these.
 */
enum pp_ddns_code {
	PP_DC_NONE,        /* no answer yet */
	PP_DC_GOOD,        /* updated */
	PP_DC_NOCHG,       /* provider already had this address */
	PP_DC_BADAUTH,     /* fatal: wrong user/password/token/TSIG key */
	PP_DC_NOHOST,      /* fatal: host (or zone, record) not in the account */
	PP_DC_NOTFQDN,     /* fatal: not a fully qualified name */
	PP_DC_NOTYOURS,    /* fatal: !yours */
	PP_DC_NODONATOR,   /* fatal: !donator, feature needs a paid account */
	PP_DC_BADAGENT,    /* fatal: client blocked */
	PP_DC_BADSYS,      /* fatal: bad system parameter */
	PP_DC_ABUSE,       /* fatal: host blocked for abuse */
	PP_DC_NUMHOST,     /* fatal: too many hosts in one request */
	PP_DC_BADREQ,      /* fatal: provider rejected the request as malformed (HTTP 4xx) */
	PP_DC_911,         /* retry: provider trouble, not before 30 minutes */
	PP_DC_DNSERR,      /* retry: provider DNS error */
	PP_DC_RATELIMIT,   /* retry: HTTP 429, not before 30 minutes */
	PP_DC_SERVER,      /* retry: HTTP 5xx */
	PP_DC_NETWORK,     /* retry: connection, TLS or timeout */
	PP_DC_UNKNOWN,     /* retry: an answer we cannot parse */
	PP_DC_TOOLARGE,    /* retry: an answer over DDNS_BODY_MAX bytes, no provider's */
	PP_DC__COUNT
};

enum pp_ddns_class { PP_CLS_NONE, PP_CLS_OK, PP_CLS_FATAL, PP_CLS_RETRY };

enum pp_ddns_class pp_ddns_code_class(enum pp_ddns_code c);
const char *pp_ddns_code_name(enum pp_ddns_code c);      /* "good", "badauth", "http-5xx", ... */
int pp_ddns_code_lookup(const char *name);               /* -1 if unknown */
const char *pp_ddns_code_reason(enum pp_ddns_code c);    /* plain words and what to do */

/*
 * dyndns2 body: one answer line per host, in request order, each
 * "CODE[ ADDRESS]" with CODE exact (no substring matching). Fills codes[i]
 * for host i. A body with fewer lines than hosts: the missing ones get
 * PP_DC_UNKNOWN, except that a single account-wide fatal line (badauth,
 * badagent, !donator, abuse, 911) applies to every host. Returns 0, or -1
 * when no line parses.
 */
int pp_dyndns2_parse(const char *body, size_t nhosts, enum pp_ddns_code *codes);
/* DuckDNS body: "OK" or "KO" (first line, exact). */
enum pp_ddns_code pp_duckdns_parse(const char *body);
/* Generic HTTP status mapping for API providers (Cloudflare, custom). */
enum pp_ddns_code pp_http_status_code(long status);

/* ---- the updater state machine (pure: the clock is a parameter) ---- */

#define PP_DDNS_REFRESH     (25 * 86400)   /* forced refresh of an unchanged address */
#define PP_DDNS_AFTER_911   (30 * 60)      /* provider's minimum after 911 / 429 */
#define PP_DDNS_BACKOFF_MIN 60
#define PP_DDNS_BACKOFF_MAX (6 * 3600)
#define PP_DDNS_ECHO_MIN    (10 * 60)      /* echo services asked at most this often */
#define PP_DDNS_PROPAGATION 3600           /* how long authoritative servers may lag an accepted update */

enum pp_host_status {
	PP_HS_NEW,         /* never updated */
	PP_HS_OK,          /* published address is current */
	PP_HS_RETRY,       /* backing off after a temporary failure */
	PP_HS_STOPPED,     /* fatal answer or update loop: waits for a config/credentials change */
	PP_HS_PENDING,     /* provider accepted it; its authoritative servers do not serve it yet */
	PP_HS__COUNT
};

struct pp_ddns_host {
	char host[256];
	char published[96];        /* last address(es) the provider confirmed: "v4", "v4,v6" or "" */
	time_t published_at;       /* last good/nochg: the 25-day refresh counts from here */
	time_t last_attempt;
	time_t next_attempt;       /* no request before this (backoff, 911) */
	int failures;              /* consecutive temporary failures (pending: stale answers) */
	int nochg;                 /* consecutive nochg answers to non-refresh updates */
	enum pp_host_status status;
	enum pp_ddns_code last_code;
	char reason[256];          /* plain words: why stopped / retrying */
	unsigned long long stop_hash; /* config+credentials hash when stopped */
};

enum pp_ddns_action {
	PP_ACT_NONE,       /* published address is current */
	PP_ACT_UPDATE,     /* address differs from the published one */
	PP_ACT_REFRESH,    /* unchanged for 25 days: send it again */
	PP_ACT_WAIT,       /* would update, but backoff/911 says not yet */
	PP_ACT_STOPPED,    /* fatal answer; only a config/credentials change resumes */
	PP_ACT_VERIFY,     /* propagation pending: ask the authoritative servers again, send nothing */
};

const char *pp_ddns_action_name(enum pp_ddns_action a);
const char *pp_host_status_name(enum pp_host_status s);

/*
 * What to do for host h now, given the address that should be published
 * (NULL: unknown, nothing to do). hash is the current config+credentials
 * hash: a stopped host whose hash changed is re-armed here.
 */
enum pp_ddns_action pp_ddns_decide(struct pp_ddns_host *h, const char *addr,
                                   unsigned long long hash, time_t now);
/*
 * Record the provider's answer to an update of h to addr. action is what
 * pp_ddns_decide() said (a nochg after a refresh is normal). rnd is a
 * random number for the backoff jitter (deterministic in tests). Returns
 * the class of the answer.
 */
enum pp_ddns_class pp_ddns_apply(struct pp_ddns_host *h, enum pp_ddns_action action,
                                 enum pp_ddns_code code, const char *addr,
                                 unsigned long long hash, time_t now, uint32_t rnd);
/*
 * The provider accepted an update of h (or h is pending), but the zone's
 * authoritative servers answer NXDOMAIN or another address. Within
 * PP_DDNS_PROPAGATION of the update that is propagation: h becomes pending
 * and the record is re-checked after a growing backoff, nothing is sent.
 * Past it, the record needs an update again, after one backoff. why says
 * what the servers answered.
 */
void pp_ddns_unverified(struct pp_ddns_host *h, const char *why, time_t now, uint32_t rnd);
/* The authoritative servers serve what h published, or (note set) cannot be asked: h is ok. */
void pp_ddns_verified(struct pp_ddns_host *h, const char *note);
/* Backoff for the n-th consecutive failure (n >= 1), before the floor of 911/429. */
time_t pp_ddns_backoff(int n, uint32_t rnd);

/* ---- persisted state: STATE_DIR/ddns-NAME.state, mode 0600 ---- */

struct pp_ddns_echo {
	char addr[46];             /* what this section's echo services last agreed on */
	char wan[46];              /* WAN interface address at that time */
};

struct pp_ddns_state {
	char *name;
	struct pp_ddns_host *hosts;
	size_t nhosts;
	struct pp_ddns_echo echo;
	char verdict[512];         /* last public-address verdict in plain words ("" when fine) */
};

/* Missing file: an empty state. */
int pp_ddns_state_load(const char *state_dir, const char *name, struct pp_ddns_state *st,
                       struct pp_error *err);
int pp_ddns_state_save(const char *state_dir, const struct pp_ddns_state *st, struct pp_error *err);
void pp_ddns_state_free(struct pp_ddns_state *st);
/*
 * The lock of section name's state (flock on STATE_DIR/ddns-NAME.state.lock, as
 * core's apply.lock): held from the load to the save, so watch6 and `ddns run`
 * (or two --once) never both read the old state and write over each other.
 * Waits up to wait_ms for a holder (it may be in an update: seconds); returns
 * the fd to pass to pp_ddns_state_unlock, or -1 with err naming the holder.
 */
int pp_ddns_state_lock(const char *state_dir, const char *name, int wait_ms, struct pp_error *err);
void pp_ddns_state_unlock(int fd);
/* The entry for host, created (status new) when missing. */
struct pp_ddns_host *pp_ddns_state_host(struct pp_ddns_state *st, const char *host);

/* ---- status for the CLI and the TUI panel ---- */

struct pp_ddns_status {
	const struct pp_ddns_conf *conf;     /* the section (points into the pp_conf) */
	struct pp_ddns_host host;            /* copy of the persisted state */
	char verdict[512];                   /* public-address problem in plain words, "" if none */
};

/*
 * One row per (section, host name) of conf, from the state in state_dir;
 * hosts never updated show status new. Caller frees *rows with free().
 */
int pp_ddns_status_load(const struct pp_conf *conf, const char *state_dir,
                        struct pp_ddns_status **rows, size_t *n, struct pp_error *err);

/* ---- public address ---- */

/* enum pp_addr_kind and pp_ipv4_kind(): portpilot/util.h (core), included above. */

/* IPv4 address of interface ifname; -1 when it has none. */
int pp_iface_ipv4(const char *ifname, char out[16]);
/* Stable global IPv6 address (not temporary, not deprecated, not tentative). */
int pp_iface_ipv6(const char *ifname, char out[46]);

/* What the system resolver says host resolves to (IPv4), for "name -> public IP" checks. */
int pp_ddns_resolve(const char *host, char out[46]);

/* ---- simulation: the real updater over 30 days of compressed time (bench/ddns, tests) ---- */

/*
 * The scenario is fixed: 30 days polled every 5 minutes, 12 address
 * changes (ten in days 1-4, a 25-day refresh falls due, two on day 29.5+),
 * 4 temporary provider faults (911, HTTP 5xx, network, dnserr), and the
 * account's password changed on day 29.5 (badauth). The provider, the echo
 * services and the authoritative DNS servers are replaced by hooks; the
 * state machine, the echo rate limit and the state file are the real ones.
 */
struct pp_ddns_sim {
	int stale_auth;            /* in: updates whose record the authoritative servers lag behind */
	int stale_run;             /* in: stale answers in a row each such lag lasts (0: 1) */
	/* out */
	int changes;               /* address changes made */
	int provider, provider_min;
	int unnecessary;           /* provider requests that changed nothing and were not due */
	int after_fatal;           /* provider requests after the badauth */
	int wrong_addr;            /* updates to an address that was not the site's */
	int echo, echo_min, echo_too_soon;
	int auth_checks, auth_min, unverified;
	long worst_latency;        /* seconds from a change to its publication (changes without a fault) */
};

/* Runs in a temporary directory it removes; -1 only when that or the config fails. */
int pp_ddns_sim_run(struct pp_ddns_sim *s, struct pp_error *err);

/* ---- running it ---- */

struct pp_ddns_opts {
	const char *conf_path;
	const char *state_dir;
	bool force;                /* --force / SIGUSR1: update even when unchanged (not past a stop) */
	const char *only;          /* limit to one [ddns NAME] */
	const char *table_path;    /* the site's table: ip_source = relay reads its [site] relay */
	bool service6_only;        /* only the sections of LAN servers' AAAA (hostid6, mapping): watch6 */
};

/* One pass over every section; returns 0 when nothing failed. */
int pp_ddns_once(const struct pp_ddns_opts *o, struct pp_error *err);
/* Foreground daemon: SIGHUP reloads, SIGUSR1 forces, SIGTERM/SIGINT end it. */
int pp_ddns_run(const struct pp_ddns_opts *o, struct pp_error *err);

/* `portpilot ddns run | --once | status [--json]` */
int pp_cmd_ddns(struct pp_cli *cli, int argc, char **argv);

/*
 * Do the authoritative servers of host's zone (the section's zone, else host minus its
 * first label; found through resolv.conf's nameservers) serve addr? The check the updater
 * runs after an update (ddns/authverify.c). 1 yes, 0 they answer something else or
 * NXDOMAIN, -1 none could be asked; detail names the server and its answer. Blocking (a few
 * seconds per server): run it where waiting costs nothing (portpilot monitor: in a child).
 */
int pp_ddns_auth_verify(const struct pp_ddns_conf *dc, const char *host, const char *addr,
                        char *detail, size_t n);

#endif
