/* The monitor's parts that share a target: check engine, run loop, notifiers. */
#ifndef PORTPILOT_MONITOR_INTERNAL_H
#define PORTPILOT_MONITOR_INTERNAL_H

#include <poll.h>
#include <sys/types.h>

#include "portpilot/cli.h"
#include "portpilot/monitor.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

enum mon_phase { MP_IDLE, MP_CONNECT, MP_TLS, MP_SEND, MP_RECV };

/* One element of a port list (public_port = 80,443,9000-9001); a range by its first port. */
struct mon_port {
	uint16_t in, pub;              /* internal port checked, public port the reflector asks */
	enum pp_check_kind kind;       /* the mapping's check on one element, a connect on the others */
	bool udp, send, expect;        /* over UDP; check_send and check_expect apply */
	bool ok;                       /* its last result */
	char detail[240];
	double latency_ms;
	int pub_ok;                    /* its last public result: 1 reached, 0 not, -1 none yet */
	bool v6;                       /* checked over IPv6, at the server's IPv6 address */
};

struct mon_target {
	const struct pp_mapping *m;
	char *name;
	uint32_t ip;
	uint16_t port;
	enum pp_check_kind kind;
	bool udp;                      /* the check runs over UDP (udp, sip on a UDP mapping) */
	char *send;                    /* check_send decoded, NULL if none */
	size_t send_len;
	char *path;                    /* check_path, "/" by default */
	struct pp_mon_expect expect;
	struct pp_check_timing tm;     /* resolved: mapping over [monitor] over flags */

	/* one check in flight */
	enum mon_phase phase;
	int fd;
	void *ssl;                     /* SSL * */
	struct pp_buf tx, rx;
	size_t txoff;
	double started, deadline, next_due;   /* monotonic ms */

	/* its last result and state */
	bool last_ok;
	char detail[400];
	double latency_ms;
	time_t last_check;
	struct pp_mon_sm sm;
	char cause[32];                /* of the last diagnosed change, "" if none */
	char *summary, *fix;
	unsigned long long checks, failures;

	/* the public path, through the reflector */
	bool pub;                      /* checked from outside (a TCP port, a reflector) */
	struct pp_mon_sm psm;
	double pub_next_due;
	char pub_detail[160];
	char pub_cause[32];
	unsigned long long pub_checks;

	/* every element of a port list, checked in turn each round (one socket at a time) */
	struct mon_port *ports;
	size_t nports, cur;            /* cur: the element in flight; its check's parameters: */
	enum pp_check_kind ckind;
	uint16_t cport;
	bool cudp;
	const char *csend;             /* check_send when it applies, else NULL */
	const struct pp_mon_expect *cexpect;
	double el_started;
	size_t pub_cur;                /* the element the next public request asks for */

	/* IPv6 (ipv6 = yes: every element on both families, IPv4 ones first; only: IPv6 alone) */
	size_t npub;                   /* the elements the reflector asks for: the IPv4 ones */
	const char *lan_if;            /* [site] lan_interface, whose prefix a host id goes on */
	bool ip6_ok;                   /* ip6 is the server's address in this round */
	uint8_t ip6[16];
	char ip6_err[240];             /* why not (no prefix on lan_if now, ...) */
};

/* Fill a target from a mapping with the resolved timing; -1 + err (FILE:LINE: field) when the
 * check keys do not fit together (e.g. check = udp without check_send). */
int mon_target_init(struct mon_target *t, const struct pp_mapping *m, const char *path,
                    const struct pp_check_timing *defaults, struct pp_error *err);
void mon_target_free(struct mon_target *t);
/* Start one check (the socket, connect). 1 when it finished at once (t->last_ok, detail). */
int mon_check_start(struct mon_target *t, double now);
/* The poll events the check waits for. */
short mon_check_events(const struct mon_target *t);
/* Progress on revents (or a timeout when now is past the deadline); 1 when done. */
int mon_check_step(struct mon_target *t, short revents, double now);
void mon_check_abort(struct mon_target *t);
/* A list's public result of element t->pub_cur (then the next one is asked): true when every
 * element's last public result is a success; the failed ones named in bad ("443, 9000"). */
bool mon_pub_result(struct mon_target *t, bool ok, char *bad, size_t n);
/* "80: connected; 443: connect: refused": every element's last result, failures first; with
 * IPv6 each named by family and address ("IPv6 [2001:db8::5]:80: connect: refused"). */
void mon_ports_detail(const struct mon_target *t, char *out, size_t n);
/* The families t checks: "ipv4", "ipv6" or "both". */
const char *mon_family(const struct mon_target *t);
/* The mapping is watched: active over IPv4, or an ipv6 = only one with its IPv6 side set. */
bool mon_watched(const struct pp_mapping *m, time_t now);


/* ---- notifiers (probe/monitor-notify.c) ---- */

/* An event's strings, owned, while the notifiers still have it. */
struct mon_event {
	char *mapping, *detail, *cause, *summary, *fix;
	enum pp_health state, previous;
	time_t since;
	bool public_path;
};
void mon_event_view(const struct mon_event *e, struct pp_mon_event *v);
void mon_event_free(struct mon_event *e);

struct mon_notify;
/* The notifiers of [monitor]; NULL + err when the secret file cannot be read. */
struct mon_notify *mon_notify_new(const struct pp_mon_conf *mc, const char *state_dir, FILE *log,
                                  struct pp_error *err);
void mon_notify_free(struct mon_notify *n);
/* A reloaded [monitor] (the notifier keeps pointing at the same pp_mon_conf, which the caller
 * overwrites on success): re-reads the secret; -1 + err and nothing changed when it cannot. */
int mon_notify_reload(struct mon_notify *n, const struct pp_mon_conf *mc, const char *state_dir,
                      struct pp_error *err);
/* Send an event everywhere (journal, history, hook, webhook); never blocks. */
void mon_notify_send(struct mon_notify *n, const struct mon_event *e);
/* Drive hooks and webhooks; extra fds are waited on too (revents filled). Waits up to ms. */
void mon_notify_poll(struct mon_notify *n, struct pollfd *fds, int nfds, int ms);
/* Also print every event's JSON line to out (monitor --json). */
void mon_notify_json(struct mon_notify *n, FILE *out);
/* Still sending (for --once and a clean stop). */
bool mon_notify_busy(const struct mon_notify *n);

/* ---- the loop (probe/cli-monitor.c) ---- */

/* A change waiting for its diagnosis before it is sent. */
struct pending {
	struct mon_event ev;       /* ev.mapping names the target (targets move on a reload) */
	pid_t pid;                 /* probe child, 0 none yet, -1 not diagnosed */
	int fd;                    /* its result pipe */
	struct pp_buf out;
	double started;
	bool ready;
	bool outside;              /* its probe may use the reflector (the budget had room) */
};

/* The metrics text, shared by the file and every HTTP client still sending it. */
struct mon_blob {
	int refs;
	size_t len;
	char data[];
};
void mon_blob_put(struct mon_blob *b);

/* A mapping's DNAT hit counter as the core's status read gives it (the CLI's list/status). */
struct mon_hits {
	char *name;
	unsigned long long pkts;
};

/* A published name (a [ddns NAME] host): does it still resolve to the site's address? */
struct mon_dns {
	char *label;                   /* "dns:HOST", its name in events and the state file */
	char *host, *section, *interface;
	bool relay;                    /* the section publishes the edge's address (ip_source = relay) */
	struct pp_mon_sm sm;
	char got[46], want[46];        /* last answer ("" none) and the address it should be */
	char where[200];               /* where want comes from */
	int auth;                      /* the authoritative servers on a mismatch: 1 right, 0 wrong, -1 no answer, -2 not asked */
	char detail[512];
	char cause[32];
	pid_t pid;                     /* the resolver child, 0 none */
	int fd;
	struct pp_buf out;
	double started, next_due;
	unsigned long long checks, failures;
};

/* The relay's tunnel to the edge (a [site] relay): a state of its own, "relay:IFNAME". */
struct mon_relay {
	bool on;                       /* [site] relay is set */
	char *label;                   /* "relay:pp-relay", its name in events and the state file */
	char ifname[16], edge[280], key[48];
	struct pp_mon_sm sm;
	int link;                      /* last look: 1 there and up, 0 not, -1 not looked yet */
	long age;                      /* seconds since the last handshake, -1 never */
	unsigned long long rx, tx;
	char detail[400];
	char *summary, *fix;           /* relay_down's, while down */
	pid_t pid;                     /* the child reading the tunnel (wg), 0 none */
	int fd;
	struct pp_buf out;
	double started, next_due;
	unsigned long long checks, failures;
};

/* One monitor: its targets, notifiers and pending changes. */
/* The command line's overrides of [monitor], kept for a reload. */
struct mon_opts {
	int interval, timeout, fail_after, recover_after;   /* 0: not given */
	bool no_diag;
	const char *metrics;
	const char *listen;          /* --metrics ADDR:PORT */
	bool remote;                 /* --metrics-remote */
};

struct mon {
	struct pp_cli *cli;
	struct mon_opts opts;
	struct pp_table *table;
	struct pp_mon_conf mc;
	struct mon_target *t;
	size_t n;
	struct mon_notify *notify;
	struct pending *pend;
	size_t npend;
	char *state_path;
	bool dirty;
	double last_write, last_metrics;
	int interval_s;
	/* the public checks: one reflector request at a time, spaced by 60 s / reflector_rate */
	char *token;                   /* the reflector's, NULL if none */
	struct pp_reflect_job *job;
	char *job_name;
	double job_started, last_request;
	/* metrics: the text (file and HTTP), the kernel's hit counters read at most every 15 s */
	struct mon_blob *metrics;
	struct mon_http *http;
	struct mon_hits *hits;
	size_t nhits;
	double hits_at, hits_every;   /* last read, and 500 x how long it took (ms) */
	bool hits_ok, hits_read;      /* the last read worked; one has finished */
	char hits_err[256];
	pid_t hits_pid;               /* the read runs in a child (iptables-save takes its time) */
	int hits_fd;
	struct pp_buf hits_out;
	/* the published names */
	struct mon_dns *dns;
	size_t ndns;
	/* the relay's tunnel */
	struct mon_relay relay;
};

/* Check until SIGINT/SIGTERM, or until until_ms on the monotonic clock (> 0: a bench);
 * once: one check of each, the thresholds not applied. */
int mon_run(struct mon *M, bool once, double until_ms);

/* probe/monitor-files.c: STATE_DIR/monitor-state.json (one mapping a line). */
void mon_write_state(struct mon *M);
/* probe/monitor-metrics.c: rebuild the Prometheus text (M->metrics) and write metrics_file. */
void mon_write_metrics(struct mon *M);
void mon_metrics_free(struct mon *M);
/* The hit counters' read, in a child when due: its pipe for poll (-1 none), and its answer. */
int mon_hits_fd(struct mon *M, double now);
void mon_hits_read(struct mon *M, double now);
/* In a forked child: close the parent's sockets and pipes but keep (its own pipe). */
void mon_close_inherited(struct mon *M, int keep);

/* probe/monitor-http.c: the metrics on a local address, in the same poll loop: non-blocking,
 * a bounded number of clients, each with a deadline, so no client can hold the checks up. */
struct mon_http;
/* spec "ADDR:PORT", "PORT" (127.0.0.1) or "[::1]:PORT"; a non-loopback address only with
 * remote_ok. NULL + err (what, and the fix). */
struct mon_http *mon_http_open(const char *spec, bool remote_ok, struct pp_error *err);
/* Its descriptors for poll (at most max); *wake lowered to the next client deadline. */
int mon_http_pollfds(struct mon_http *h, struct pollfd *pfd, int max, double *wake);
/* Accept, read requests, send the text; pfd as filled by mon_http_pollfds. */
void mon_http_step(struct mon_http *h, const struct pollfd *pfd, int n, double now, struct mon_blob *b);
/* In a forked child: close every descriptor of it (a client must not wait for the child). */
void mon_http_close_fds(struct mon_http *h);
void mon_http_free(struct mon_http *h);
const char *mon_http_where(const struct mon_http *h);

/* probe/monitor-dns.c: the published names, each resolved in a child (a dead resolver must not
 * hold the checks up) every dns_interval, against the site's address. */
void mon_dns_init(struct mon *M);     /* from M->mc (start and reload; states of kept names kept) */
double mon_dns_step(struct mon *M, double now);   /* start due lookups; returns when to look again */
int mon_dns_pollfds(struct mon *M, struct pollfd *pfd, int max, struct mon_dns **who);
void mon_dns_read(struct mon *M, struct mon_dns *d, double now);
void mon_dns_free(struct mon *M);
/* A name's change goes out as an event, diagnosed by the lookup itself (probe/cli-monitor.c). */
void mon_dns_event(struct mon *M, struct mon_dns *d, enum pp_health prev);

/* probe/monitor-relay.c: the relay's tunnel, read in a child every interval (wg can hang with a
 * hung wireguard-go), judged by presence and handshake age; a change is an event with cause
 * relay_down and the probe's summary and fix. */
void mon_relay_init(struct mon *M);     /* from M->table and M->mc (start and reload) */
double mon_relay_step(struct mon *M, double now);
int mon_relay_pollfd(struct mon *M, struct pollfd *pfd);   /* 1 when its child is to be waited on */
void mon_relay_read(struct mon *M, double now);
void mon_relay_close_fds(struct mon *M);
void mon_relay_free(struct mon *M);

#endif
