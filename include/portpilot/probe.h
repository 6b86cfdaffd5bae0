/* The probe: why a mapping works on the LAN but fails from the internet, with evidence. */
#ifndef PORTPILOT_PROBE_H
#define PORTPILOT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include "portpilot/cli.h"
#include "portpilot/error.h"
#include "portpilot/table.h"

/* The fixed list of verdicts (DESIGN.md, "Probe verdicts"); each has its row in probe/causes.c.
 * Append only: the order is the table's. */
enum pp_cause {
	PP_CAUSE_OK,
	PP_CAUSE_DISABLED,
	PP_CAUSE_EXPIRED,
	PP_CAUSE_RULE_MISSING,
	PP_CAUSE_IP_FORWARD_OFF,
	PP_CAUSE_FORWARD_BLOCKED,
	PP_CAUSE_NOT_LISTENING,
	PP_CAUSE_HOST_UNREACHABLE,
	PP_CAUSE_HOST_FIREWALL,
	PP_CAUSE_SERVER_GATEWAY,
	PP_CAUSE_WRONG_PROTOCOL,
	PP_CAUSE_SOURCE_NOT_ALLOWED,
	PP_CAUSE_HAIRPIN_MISSING,
	PP_CAUSE_PUBLIC_IP_MISMATCH,
	PP_CAUSE_CGNAT,
	PP_CAUSE_DOUBLE_NAT,
	PP_CAUSE_UPSTREAM_BLOCKED,
	PP_CAUSE_FOREIGN_DNAT,         /* another tool's rule takes the public port before portpilot's */
	PP_CAUSE_FOREIGN_DROP,         /* a rule on the router drops the traffic before portpilot's accept */
	PP_CAUSE_RP_FILTER,            /* strict reverse-path filtering drops it: the route back leaves elsewhere */
	PP_CAUSE_LAN_ROUTE,            /* the router's route to the server is a reject route or leaves by the WAN */
	PP_CAUSE_RELAY_DOWN,           /* the mapping goes through the relay and its tunnel to the edge is down */
	PP_CAUSE_FOREIGN_SNAT,         /* a rule rewrites the client's address to one not this router's */
	PP_CAUSE_IPV6_PINHOLE_MISSING, /* the mapping asks for IPv6 and the kernel has no pinhole for it */
	PP_CAUSE_IPV6_NOT_LISTENING,   /* the server's IPv6 address answers the port with a reset */
	PP_CAUSE__COUNT
};
const char *pp_cause_name(enum pp_cause c);

/* ---- trace: one packet seen on the WAN or LAN side, and the attempts they form ---- */

enum pp_side { PP_SIDE_WAN, PP_SIDE_LAN };

/* What a packet is, in the words of the trace. */
enum pp_pkt_kind {
	PP_PKT_SYN, PP_PKT_SYNACK, PP_PKT_RST, PP_PKT_TCP, PP_PKT_UDP,
	PP_PKT_ICMP_UNREACH, PP_PKT_ICMP_OTHER,
	PP_PKT_ARP                     /* an ARP request by the server: src asks for dst */
};

struct pp_packet {
	struct timeval ts;
	enum pp_side side;
	enum pp_pkt_kind kind;
	uint8_t proto;                 /* IPPROTO_TCP / IPPROTO_UDP (of the quoted packet for ICMP) */
	uint32_t src, dst;             /* host order; for ICMP the quoted packet's addresses */
	uint16_t sport, dport;
	uint32_t icmp_from;            /* ICMP: who sent the error */
	uint8_t icmp_code;
	int attempt;                   /* index in the trace's attempts, -1 if none (set by pp_trace_add) */
	/* IPv6 (src, dst and icmp_from are 0): the addresses here. ICMPv6 errors keep the quoted
	 * packet's addresses, as for IPv4; ICMP kinds then mean ICMPv6 (unreachable is type 1). */
	bool v6;
	uint8_t src6[16], dst6[16], icmp_from6[16];
};

/* Where one attempt got to on its way through the router. */
enum pp_answer { PP_ANS_NONE, PP_ANS_SYNACK, PP_ANS_RST, PP_ANS_ICMP, PP_ANS_UDP };

struct pp_attempt {
	uint8_t proto;
	uint32_t client;               /* outside (or LAN, for hairpin) source */
	uint16_t cport;
	bool from_lan;                 /* a LAN client using the public address (hairpin) */
	bool router_own;               /* the probe's own test traffic from the router */
	bool wrong_proto;              /* protocol the mapping does not forward */
	bool allowed;                  /* source inside the mapping's allow list */
	bool wan_in, lan_out, lan_reply, wan_out;
	enum pp_answer answer;         /* what the server (or router) answered */
	struct timeval first;
	int npkts;
};

struct pp_trace {
	struct pp_packet *pkts;
	size_t npkts, cap;
	struct pp_attempt *att;
	size_t natt, attcap;
};

/* What the trace needs to know about the mapping and the router. */
struct pp_trace_ctx {
	uint8_t protos;                /* PP_TCP / PP_UDP bits the mapping forwards */
	uint16_t pub_lo, pub_hi, in_lo, in_hi;
	uint32_t internal_ip;
	uint32_t router_ips[8];        /* the router's own addresses: its test traffic */
	size_t nrouter;
	const struct pp_cidr *allow;
	size_t nallow;
	struct pp_cidr lan;            /* LAN subnet, len 0 when unknown */
};

/* Add one packet; returns the attempt index it belongs to, or -1. */
int pp_trace_add(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p);
void pp_trace_free(struct pp_trace *t);
/* Order the packets by capture time (both sides are read in turns). */
void pp_trace_sort(struct pp_trace *t);
/* One line for a packet, e.g. "12:00:01.123 wan 203.0.113.10:40000 > 203.0.113.1:8080 SYN". */
void pp_packet_format(const struct pp_packet *p, char *out, size_t n);
bool pp_cidr_contains(const struct pp_cidr *v, size_t n, uint32_t ip);

/* A conntrack entry of the mapping: never answered, answered, or answered and established. */
enum pp_ct_state { PP_CT_UNREPLIED, PP_CT_REPLIED, PP_CT_ASSURED };
/* One line of /proc/net/nf_conntrack or `conntrack -L`: 1 when it is a connection to the public
 * port DNATed to the server, with out in words, e.g. "tcp 203.0.113.10:40000 -> 203.0.113.1:8080
 * DNAT to 192.168.2.102:80, SYN_SENT [UNREPLIED]"; 0 for any other line. */
int pp_conntrack_line(const char *line, const struct pp_trace_ctx *c, char *out, size_t n,
                      enum pp_ct_state *state);
/* 1 when the line is a connection to the public port, addressed to the router (c->router_ips)
 * and DNATed somewhere other than the mapping's target: its source in src, where it went in to
 * ("192.168.2.103:80"). 0 for any other line. */
int pp_conntrack_elsewhere(const char *line, const struct pp_trace_ctx *c, uint32_t *src, char *to,
                           size_t n);
/* 1 when the line is a connection to the server's port (c's internal_ip and range) whose source a
 * SNAT rewrote: the reply half goes to *to, not back to the original source. Whether *to is this
 * router's own is the caller's question. */
int pp_conntrack_snat(const char *line, const struct pp_trace_ctx *c, uint32_t *to);

/* ---- capture ---- */

struct pp_capture;

struct pp_capture_opts {
	const char *wan_if, *lan_if;   /* live capture */
	const char *read_path;         /* replay instead of live */
	const char *write_path;        /* save the evidence (pcap, Linux SLL2, if_index 1=WAN 2=LAN) */
};

/* BPF filters derived from the mapping (public port on WAN, internal IP:port on LAN, ICMP errors). */
char *pp_capture_filter(const struct pp_trace_ctx *c, enum pp_side side);
int pp_capture_open(const struct pp_capture_opts *o, const struct pp_trace_ctx *c,
                    struct pp_capture **out, struct pp_error *err);
/* File descriptors to poll (up to 2); -1 entries when not selectable. */
int pp_capture_fds(struct pp_capture *cap, int fds[2]);
/* Read what is ready (non-blocking); calls fn for every packet. Returns packets read or -1 at EOF of a replay. */
int pp_capture_dispatch(struct pp_capture *cap, void (*fn)(const struct pp_packet *p, void *arg), void *arg);
void pp_capture_close(struct pp_capture *cap);
/* Parse one link-layer frame (Ethernet, Linux SLL/SLL2, raw IP) into p; -1 if not IPv4 or IPv6
 * TCP/UDP/ICMP (IPv6: no extension headers; an ICMPv6 error quoting TCP/UDP). */
int pp_packet_parse(int dlt, const uint8_t *data, size_t len, struct pp_packet *p, int *ifindex);

/* Leave root for "nobody" once the handles are open; no-op when not root. */
int pp_drop_privileges(struct pp_error *err);

/* ---- outside vantage: reflector service and its client ---- */

/* The reflector's TLS side: certificate and key loaded once, TLS 1.2 or later only. */
struct pp_reflector_tls;
/* The key file must be a regular file readable by its owner only (else err names the chmod);
 * NULL + err when a file is unreadable, not PEM, or the key does not match the certificate. */
struct pp_reflector_tls *pp_reflector_tls_load(const char *cert, const char *key,
                                               struct pp_error *err);
void pp_reflector_tls_free(struct pp_reflector_tls *t);

struct pp_reflector_opts {
	const char *listen;            /* ADDR:PORT */
	const char *token;             /* NULL: no token required */
	struct pp_reflector_tls *tls;  /* NULL: plain HTTP */
	int rate_per_min;              /* requests per source address per minute */
	int max_timeout_ms;            /* upper bound for one connect-back */
	volatile int *stop;            /* set non-zero to stop serving (tests, signals) */
	FILE *log;
	const char *user;              /* run as this account once bound (root only); NULL: nobody */
	int max_conns;                 /* connections at once in all; 0: 512 (less if few fds) */
	int per_address;               /* connections at once from one address; 0: 4 */
};
/* Serves until *stop: one poll loop, a few connections per address, a deadline for every
 * request, the rate limit applied at accept; as root it binds, then serves as o->user. */
int pp_reflector_serve(const struct pp_reflector_opts *o, struct pp_error *err);

struct pp_reflect_result {
	char seen_ip[46];              /* our address as the reflector sees it (IPv4 or IPv6) */
	char from_ip[46];              /* the address the connect-back came from */
	char result[16];               /* connected | refused | timeout | unreachable | reply | no_reply */
	int ms;
	int http_status;
};
/* An extra CA (PEM) trusted for https reflectors besides the system's, for this process: a
 * private CA. Read at once; -1 + err naming the file when it cannot be read. NULL: none. */
int pp_reflector_set_ca(const char *ca_file, struct pp_error *err);
/* GET /v1/whoami. */
int pp_reflector_whoami(const char *url, const char *token, struct pp_reflect_result *r,
                        struct pp_error *err);

/* A connect-back in progress, driven from the probe's poll loop (curl multi). */
struct pp_reflect_job;
struct pp_reflect_job *pp_reflect_start(const char *url, const char *token, const char *proto,
                                        uint16_t port, int timeout_ms, struct pp_error *err);
/* The same, asking the reflector to connect to ip: its own address (e.g. an edge's public
 * address, which its DNAT sends into a relay's tunnel) or ours; it refuses any other. */
struct pp_reflect_job *pp_reflect_start_ip(const char *url, const char *token, const char *proto,
                                           uint16_t port, const char *ip, int timeout_ms,
                                           struct pp_error *err);
/* The same, the request sent from our address src (NULL: the kernel's choice). Over IPv6 the
 * reflector tests only addresses inside the requester's /64: src is then the router's address
 * on the server's network. */
struct pp_reflect_job *pp_reflect_start_from(const char *url, const char *token, const char *proto,
                                             uint16_t port, const char *ip, const char *src,
                                             int timeout_ms, struct pp_error *err);
/* Wait up to ms for progress, also waking for extra fds; returns 1 when done, 0 not yet. */
int pp_reflect_step(struct pp_reflect_job *j, const int *fds, int nfds, int ms);
int pp_reflect_finish(struct pp_reflect_job *j, struct pp_reflect_result *r, struct pp_error *err);
/* Read a token file (first line, trimmed). Caller frees; NULL + err if unreadable. */
char *pp_token_read(const char *path, struct pp_error *err);

/* ---- checks and diagnosis ---- */

enum pp_check_state { PP_CHECK_PASS, PP_CHECK_FAIL, PP_CHECK_INFO, PP_CHECK_SKIP };

struct pp_check {
	const char *id;                /* stable name: "enabled", "dnat_rule", "ip_forward", ... */
	enum pp_check_state state;
	char *text;                    /* the result in plain words, with the evidence */
};

/* A cause the evidence could not rule out, after the one named: why, and the one test that
 * would tell the two apart. */
struct pp_alternative {
	enum pp_cause cause;
	char *why;
	char *test;
};

struct pp_probe_result {
	char *mapping;
	enum pp_cause cause;
	char *summary;                 /* one line: what is wrong */
	char *fix;                     /* what to do, in plain words */
	struct pp_check *checks;
	size_t nchecks;
	struct pp_trace trace;
	char **evidence;               /* lines: packets, counters, check results behind the cause */
	size_t nevidence;
	bool outside_tested;
	struct pp_reflect_result reflect;
	double elapsed_s;
	struct pp_reflect_result reflect_udp; /* protocol = both: the UDP connect-back (result "" if none) */
	char **conntrack;              /* the mapping's conntrack entries, in words (pp_conntrack_line) */
	size_t nconntrack;
	struct pp_alternative *alternatives; /* ranked after cause; empty when the evidence is decisive */
	size_t nalternatives;
	/* The IPv6 path of a mapping that asks for it (pp_diagnose6): its own verdict beside the
	 * IPv4 one (ipv6 = only: it is the verdict). v6_tested false: no IPv6 side, or no address. */
	bool v6_tested;
	enum pp_cause cause6;
	char *summary6, *fix6;
	/* The IPv6 way in tested from outside (--reflector6): the reflector's answer. */
	bool outside6_tested;
	struct pp_reflect_result reflect6;
};

struct pp_probe_opts {
	const struct pp_table *table;
	const char *name;
	const char *reflector_url;     /* NULL: no outside test */
	const char *token;
	const char *hostname;          /* the DDNS name that should point at this site */
	int watch_seconds;             /* > 0: capture that long for attempts from anyone (watch) */
	const char *wan_if, *lan_if;   /* override [site] / routes */
	const char *write_path, *read_path;
	/* Leave root once the capture is open. It is for the whole process and for good: only for
	 * a process that does nothing privileged afterwards (the CLI); the TUI forks a child for it. */
	bool drop_privs;
	/* Called as things happen, in the caller's thread (the TUI draws the trace live). */
	void (*on_check)(const struct pp_check *ck, void *arg);
	void (*on_packet)(const struct pp_packet *p, const struct pp_attempt *a, void *arg);
	void *arg;
	const char *reflector6_url;    /* a reflector with an IPv6 address: the IPv6 way in from outside */
};

int pp_probe_run(const struct pp_probe_opts *o, struct pp_probe_result **out, struct pp_error *err);
void pp_probe_result_free(struct pp_probe_result *r);
void pp_probe_result_print(FILE *f, const struct pp_probe_result *r);
void pp_probe_result_json(FILE *f, const struct pp_probe_result *r);

/* What the checks found; the input of the diagnosis. */
enum pp_tri { PP_UNKNOWN = 0, PP_YES, PP_NO };
/* How the internal service answered a connection from the router. */
enum pp_svc { PP_SVC_UNTESTED, PP_SVC_OPEN, PP_SVC_REFUSED, PP_SVC_TIMEOUT, PP_SVC_UNREACHABLE,
              PP_SVC_FILTERED /* ICMP administratively prohibited (code 9, 10, 13): a firewall rejects */ };

/* One router advertisement (RFC 4861 4.2), as probe/ra6.c parsed it from the wire. */
enum { PP_RA_MAX = 8, PP_RA_PFX_MAX = 4 };
struct pp_ra_prefix {
	uint8_t addr[16], len;
	bool onlink, autonomous;       /* the PIO's L and A flags */
	uint32_t valid, preferred;     /* lifetimes, s (0xffffffff: infinite) */
};
struct pp_ra {
	char src[46];                  /* the sender's link-local address */
	uint8_t mac[6];
	bool has_mac;                  /* a source link-layer address option came */
	bool self;                     /* sent by this router (from its own address on lan_if) */
	unsigned lifetime;             /* router lifetime, s: 0 = not a default router */
	int pref;                      /* default router preference: 1 high, 0 medium, -1 low */
	bool managed, other;           /* the M and O flags (DHCPv6) */
	size_t nprefix;
	struct pp_ra_prefix prefix[PP_RA_PFX_MAX];
	bool prefix_more;              /* more prefix options than prefix[] holds */
};
/* Parse the ICMPv6 message d (len bytes) as an RA into ra (ra->src is kept): -1 when it is none
 * or invalid (an option of length 0 or past the end, RFC 4861 6.1.2). Options are bounds-checked. */
int pp_ra_parse(const uint8_t *d, size_t len, struct pp_ra *ra);
/* ra in words, one line, cut to n ("fe80::1 (MAC, this router): default router for 1800 s, ..."). */
void pp_ra_words(const struct pp_ra *ra, char *out, size_t n);

struct pp_facts {
	const struct pp_mapping *m;
	const struct pp_site *site;
	bool expired;
	enum pp_tri dnat_rule;         /* a DNAT to internal_ip:port for every protocol */
	char missing_proto[8];         /* which protocol has no DNAT rule */
	unsigned long long dnat_pkts;  /* its counter */
	enum pp_tri ip_forward;
	enum pp_tri forward_static_block; /* FORWARD policy DROP and no accept for DNAT/this host */
	char wan_if[32], lan_if[32];
	uint32_t wan_ip, lan_ip;       /* the router's addresses on those sides */
	uint32_t seen_ip;              /* our address as the reflector saw it, 0 unknown */
	uint32_t expected_ip;          /* [site] public_ip when fixed, 0 = auto */
	uint32_t dns_ip;               /* what the DDNS name resolves to, 0 unknown */
	char dns_name[80];
	enum pp_svc svc_lan;           /* connect from the router's LAN address */
	enum pp_svc svc_wan;           /* connect from a non-LAN source (the WAN address) */
	enum pp_tri neigh_ok;          /* the server answered ARP */
	/* ---- return path and host presence (issue 10, probe side) ----
	 * Each test runs from the router's LAN address and from a non-LAN address it owns. An answer
	 * of any kind (SYN-ACK, RST, echo reply, an ICMP error the server sent) that comes back to the
	 * non-LAN source proves the server routes to it: then silence on the mapped port is its own
	 * filter, not its gateway. For TCP, svc_* REFUSED is a RST and FILTERED any ICMP error sent
	 * by the server itself (a REJECT rule: a closed TCP port answers RST, never ICMP). */
	uint32_t nonlan_src;           /* the non-LAN source used (0: the router has none) */
	uint16_t closed_port;          /* a port taken to be closed on the server (0: not tested) */
	enum pp_svc closed_lan, closed_wan; /* TCP to closed_port from each source */
	enum pp_svc ping_lan, ping_wan; /* ICMP echo: OPEN = echo reply, FILTERED = an ICMP error
	                                 * from the server, TIMEOUT = silence */
	bool svc_lan_reply;            /* UDP: the LAN datagram got data back (svc_lan OPEN is also silence) */
	enum pp_tri arp_now;           /* a fresh ARP request, sent now, was answered (not the cache) */
	bool arp_cached;               /* the neighbour cache held a complete entry before it */
	bool outside_requested;        /* a reflector was given */
	bool outside_tested;           /* and it answered the check */
	bool outside_ok;
	uint32_t reflector_ip;         /* the reflector's connect-back source */
	const struct pp_trace *trace;
	bool captured;                 /* the trace is real: capture ran (else "nothing seen" means nothing) */
	int watched_s;                 /* > 0: attempts were collected by watch for that long */
	/* The UDP side of a protocol = both mapping (svc_lan/svc_wan and outside_* are its TCP side).
	 * A silent UDP port counts as PP_SVC_OPEN (open or dropped); *_reply says data came back. */
	enum pp_svc udp_lan, udp_wan;
	bool udp_lan_reply, udp_wan_reply;
	bool outside_udp_tested, outside_udp_ok;
	char outside_udp[16];          /* the reflector's result: reply | refused | no_reply | unreachable */
	/* The kernel's conntrack entries of the mapping at the end of the probe. */
	bool ct_read;
	int ct_unreplied, ct_replied;  /* DNATed connections never answered / answered */
	char *const *conntrack;        /* their lines, owned by the result */
	size_t nconntrack;
	/* The router's own switches and other tools' rules on the mapping's path (pp_facts_kernel;
	 * the rules are read by core/rules-foreign.c, so no iptables text is parsed here). */
	enum pp_tri fwd_wan, fwd_lan;  /* net.ipv4.conf.<wan_if|lan_if>.forwarding */
	int rp_wan, rp_lan;            /* rp_filter in force (the max of conf.all and the interface's), -1 unknown */
	char rp_wan_route[32];         /* the interface the route back to rp_client leaves by */
	char rp_lan_route[32];         /* the interface the route to the server leaves by */
	uint32_t rp_client;            /* the outside address that route was looked up for, 0 = default route */
	int foreign;                   /* 0 none, 1 a rule takes the port first (DNAT), 2 a rule drops it */
	bool foreign_before_routing;   /* in raw/mangle/nat PREROUTING (else FORWARD or the replies' path) */
	bool foreign_reply;            /* the rule meets the server's replies */
	char foreign_rule[512];        /* the rule as iptables-save prints it */
	char foreign_where[160];       /* "nat PREROUTING > DOCKER" */
	char foreign_to[96];           /* where a foreign DNAT sends the traffic */
	unsigned long long foreign_pkts; /* its packet counter */
	/* Conntrack (pp_facts_conntrack): the reflector's connections to the public port that a
	 * DNAT sent somewhere other than the mapping's target. */
	int ct_elsewhere;
	char ct_elsewhere_to[24];      /* where the first one went, "192.168.2.103:80" */
	/* The relay (include/portpilot/relay.h): the mapping's public face is an edge host, reached
	 * through the site's WireGuard tunnel. */
	bool relay;                    /* the table relays this mapping */
	char relay_if[16];
	char relay_edge[280];          /* "198.51.100.20:51820" */
	enum pp_tri relay_link;        /* the tunnel interface is there and up */
	long relay_handshake_age;      /* seconds since the last handshake with the edge, -1 never */
	/* The reflector on the edge connecting to the edge's public port (through its DNAT and the
	 * tunnel): PP_YES reached the service, PP_NO did not (relay_outside_res says how), unknown
	 * when not asked (no reflector, or one that is not on the edge). */
	enum pp_tri relay_outside;
	char relay_outside_res[16];
	/* Conntrack: connections to the server whose source a SNAT rewrote to an address that is not
	 * this router's (so the server answers that address, not the router), answered or not. */
	int ct_snat_unreplied, ct_snat_replied;
	char ct_snat_to[16];           /* the first such address */
	char ct_snat_line[200];        /* its entry, in words */
	/* IPv6 (pp_facts_ip6): the mapping asks for it; the server's address on this site. */
	bool v6;
	char v6_addr[46];              /* "" when it could not be worked out (no prefix on lan_if) */
	enum pp_tri v6_pinhole;        /* the backend holds the mapping's pinholes (unknown: cannot tell) */
	unsigned long long v6_pkts;    /* their packet counters */
	enum pp_svc svc6;              /* TCP from the router to [v6_addr]:internal_port */
	/* The same from a global address of the router outside the server's /64 (v6_offsrc, "" when
	 * it has none), and to a closed port: an answer back proves the server routes to it. */
	char v6_offsrc[46];
	enum pp_svc svc6_off, closed6_off;
	/* Router advertisements on lan_if (probe/ra6.c): every RA that came within about 1 s of one
	 * Router Solicitation the probe sent there, one per advertising router (the last it sent). */
	bool ra_tested;                /* the solicitation went out and the probe listened */
	size_t nra;
	struct pp_ra ra[PP_RA_MAX];
	bool ra_more;                  /* more routers advertised than ra[] holds */
	/* From outside over IPv6 (the reflector at reflector6_url, asked from v6_src, the router's
	 * address in the server's /64): its result, and what the capture saw of its attempts to
	 * [v6_addr]:port: arriving on the WAN, leaving on the LAN, the server's answer on the LAN. */
	bool outside6_tested, outside6_ok;
	char outside6_res[16], outside6_from[46], v6_src[46];
	bool v6_wan_in, v6_lan_out, v6_lan_reply;
};

/* Choose the cause from the facts (pure: unit-tested); fills cause, summary, fix, evidence. */
void pp_diagnose(const struct pp_facts *f, struct pp_probe_result *r);
/* The IPv6 verdict into r->cause6/summary6 (pure); pp_diagnose calls it. */
void pp_diagnose6(const struct pp_facts *f, struct pp_probe_result *r);
/* relay_down's summary and fix (allocated) for a tunnel that is not there/up (link) or whose
 * last handshake (age s, -1 never) is older than max_age; the monitor's tunnel check uses it too. */
void pp_relay_down_text(const char *ifname, const char *edge, enum pp_tri link, long age, int max_age,
                        char **summary, char **fix);

/* ---- commands (probe/cli-probe.c) ---- */
int pp_cmd_probe(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_watch(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_reflector(struct pp_cli *cli, int argc, char **argv);
/* probe/access-log.c: who connected to each mapping (NFLOG read through libpcap). */
int pp_cmd_log(struct pp_cli *cli, int argc, char **argv);

/* One connection to a mapping, recorded or live: what `portpilot log` prints, as data. */
struct pp_access_entry {
	const char *time;               /* local time, 2026-12-01T18:00:00+0100 */
	const char *mapping, *proto;    /* proto "tcp" / "udp" */
	const char *src;                /* the client's address */
	const char *verdict;            /* "accepted", or "rejected (why)" */
	unsigned sport, port;           /* the client's port, the public port */
	bool accepted;                  /* the kernel forwarded it (verdict "accepted") */
	char *store;                    /* a recorded entry's own copy of its line (fields point into it) */
	const char *internal;           /* the server's address (after DNAT, or the table's), NULL unknown */
	int family;                     /* 4, or 6: src is an IPv6 address (issue 15) */
};
/* The recorded log (STATE/access.log.1, then access.log), oldest first. */
struct pp_access_history {
	struct pp_access_entry *v;
	size_t n, cap;
	bool recorded;                  /* access.log exists: a recorder has written here */
	char **notes;                   /* lines that are no entry: "PATH:LINE: not an access-log line ..." */
	size_t nnotes;
};
/* Read it (only: that mapping's entries, NULL all). Missing files are no error (recorded says
 * whether there is a log); -1 with err when one cannot be read (what was read stays in h). */
int pp_access_history_read(const char *state_dir, const char *only, struct pp_access_history *h,
                           struct pp_error *err);
void pp_access_history_free(struct pp_access_history *h);
/*
 * Live: every new connection to only (NULL: every mapping) for secs seconds (0: until SIGINT or
 * SIGTERM), read from NFLOG group (0: 7) while portpilot's mangle rules for it are in place (root).
 * fn runs in the reader child, as user nobody; so may note, with each of the core's notes while it
 * runs (a warning with its fix; NULL: printed on cli->err). cli gives the table and the state dir.
 * -1 with err when it cannot run.
 */
int pp_access_follow(struct pp_cli *cli, const char *only, int secs, int group,
                     void (*fn)(const struct pp_access_entry *e, void *arg),
                     void (*note)(const char *text, void *arg), void *arg, struct pp_error *err);

/* ---- the cause table (probe/causes.c): one row per cause ---- */

struct pp_cause_info {
	const char *name;              /* stable: JSON, monitor events, scripts ("host_firewall") */
	const char *summary;           /* one line: what every verdict of this cause has in common */
	const char *fix;               /* the fix's shape (the verdict's own fix names rule, port, address) */
	const char *man;               /* its line in man/portpilot.8 (roff) */
};
/* The row of c; NULL when c is out of range or has no row. */
const struct pp_cause_info *pp_cause_info(enum pp_cause c);
/* The cause named name, -1 if none. */
int pp_cause_find(const char *name);

#endif
