/* The health monitor: checks every enabled mapping's service, turns results into up/down
 * states with thresholds, diagnoses every change with the probe and sends the event out. */
#ifndef PORTPILOT_MONITOR_H
#define PORTPILOT_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "portpilot/cli.h"
#include "portpilot/error.h"
#include "portpilot/table.h"

/* ---- thresholds and the state machine (probe/monitor-state.c, pure) ---- */

enum pp_health { PP_HEALTH_UNKNOWN, PP_HEALTH_UP, PP_HEALTH_DOWN };
const char *pp_health_name(enum pp_health h);
/* "up" / "down" / "unknown" back to the value; -1 if none. */
int pp_health_lookup(const char *s);

struct pp_mon_sm {
	enum pp_health state;
	int fails, oks;            /* consecutive results against the current state */
	time_t since;              /* of the current state */
};

/* What one result did to the state. */
enum pp_mon_change {
	PP_MON_SAME,               /* no change */
	PP_MON_FIRST_UP,           /* unknown → up: the first look, not an alert */
	PP_MON_WENT_DOWN,          /* unknown or up → down: fail_after failures in a row */
	PP_MON_CAME_UP,            /* down → up: recover_after successes in a row */
};

/* Feed one check result. A state changes only after fail_after failures (recover_after
 * successes) in a row, so a service that answers every other check never alerts. */
enum pp_mon_change pp_mon_sm_feed(struct pp_mon_sm *sm, bool ok, int fail_after, int recover_after,
                                  time_t now);

/* ---- what a check sends and how an answer is judged (probe/monitor-proto.c, pure) ---- */

/* The check a mapping gets: its check key, else from the internal port
 * (554/8554 rtsp, 5060 sip, 443/8443 https, 80/8080/8000/8008 http, a UDP-only mapping
 * without check_send: none, else tcp). */
enum pp_check_kind pp_mon_default_kind(const struct pp_mapping *m);

/* Parse a status line "HTTP/1.1 200 OK", "RTSP/1.0 200 OK", "SIP/2.0 200 OK" at the start of
 * buf (proto "HTTP/", "RTSP/", "SIP/"): 1 and *code when the whole line is there, 0 when more
 * bytes are needed, -1 when it is not such a line. */
int pp_mon_status_line(const char *buf, size_t len, const char *proto, int *code);

/* check_expect for http/https/rtsp/sip: "[CODE[,CODE...]] [TEXT]": status codes (a code may
 * be 2xx) and a body substring. No codes: any status below 400 for http, any answer for
 * rtsp/sip (the server is there and speaking). */
struct pp_mon_expect {
	char codes[8][4];          /* "200", "2xx" */
	int ncodes;
	char *text;                /* body substring, NULL if none; owned */
	size_t text_len;
};
int pp_mon_expect_parse(const char *s, bool with_codes, struct pp_mon_expect *e, struct pp_error *err);
void pp_mon_expect_free(struct pp_mon_expect *e);
bool pp_mon_code_ok(const struct pp_mon_expect *e, enum pp_check_kind k, int code);

/* The verdict on what came back so far: 1 pass, 0 need more, -1 fail; why says what was seen. */
int pp_mon_judge(enum pp_check_kind k, const struct pp_mon_expect *e, const char *rx, size_t len,
                 bool eof, char *why, size_t n);

/* ---- [monitor] in portpilot.conf (probe/monitor-conf.c) ---- */

struct pp_mon_conf {
	int interval_s;            /* default 30 */
	int timeout_ms;            /* default 5000 */
	int fail_after;            /* default 3 */
	int recover_after;         /* default 2 */
	char *hook;                /* command, run by /bin/sh -c; event values only in its environment */
	char *webhook;             /* URL; {token} is replaced by the secret file's token */
	char *webhook_body;        /* template with {mapping} {state} {cause} {summary} {fix} {since} {message} */
	char *webhook_content_type;/* default application/json */
	char *secret_file;         /* mode 0600: token=...; sent as Authorization: Bearer unless {token} in URL */
	char *history_file;        /* default STATE_DIR/monitor-history.jsonl */
	long history_max_bytes;    /* rotate to .1 beyond this; default 1 MiB */
	bool diagnose;             /* run the probe on a change; default yes */
	char *metrics_file;        /* Prometheus textfile; NULL: none */
	/* The public path: the [probe] reflector connects back to each mapping's public port. */
	int public_interval_s;     /* per mapping, default 300; 0 = no public checks */
	int reflector_rate;        /* requests a minute, spaced evenly, default 10 (the reflector allows 30) */
	char *reflector, *reflector_token_file, *reflector_ca;   /* from [probe]; NULL: no public checks */
	/* Prometheus over HTTP: ADDR:PORT (or PORT: 127.0.0.1); a non-loopback address only with
	 * metrics_remote = yes (a router's other addresses face networks that should not see it). */
	char *metrics_listen;
	int metrics_listen_line;
	bool metrics_remote;
	/* The published names: every host of every [ddns NAME] section should resolve to the
	 * site's address; checked every dns_interval seconds (default 60, 0 = off). */
	int dns_interval_s;
	struct pp_mon_dns {
		char *section, *host, *interface;
		bool relay;            /* ip_source = relay: the name says the edge's address */
	} *dns;
	size_t ndns;
	/* The relay's tunnel (a [site] relay): down when it is missing or its last handshake with
	 * the edge is older than relay_handshake_max seconds (default 200: WireGuard rekeys a live
	 * tunnel every 120 s and drops a session at 180 s; 20 s of slack). At least 125: below,
	 * a healthy tunnel would look down between two rekeys. */
	int relay_handshake_max_s;
};

/* Read [monitor] of the conf file (missing file or section: the defaults). -1 with err =
 * "FILE:LINE: [monitor] KEY: what; fix". */
int pp_mon_conf_load(const char *path, struct pp_mon_conf *mc, struct pp_error *err);
void pp_mon_conf_free(struct pp_mon_conf *mc);

/* ---- events (probe/monitor-notify.c) ---- */

struct pp_mon_event {
	const char *mapping;
	enum pp_health state, previous;
	time_t since;
	const char *detail;        /* what the check saw, e.g. "connect refused" */
	const char *cause, *summary, *fix;   /* from the probe; NULL when not diagnosed */
	bool public_path;          /* the state of the path from the internet (reflector), not the LAN check */
};
/* The event as one JSON object on one line (no newline); caller frees. */
char *pp_mon_event_json(const struct pp_mon_event *ev);
/* "web-2 DOWN since 14:03: not_listening: ..." */
char *pp_mon_event_message(const struct pp_mon_event *ev);
/* Fill a webhook body template: values JSON-escaped when json, raw otherwise. Caller frees. */
char *pp_mon_template(const char *tpl, const struct pp_mon_event *ev, bool json);

/* ---- commands (probe/cli-monitor.c) ---- */
int pp_cmd_monitor(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_health(struct pp_cli *cli, int argc, char **argv);

#endif
