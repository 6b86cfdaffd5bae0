/* Shared between the probe's files only: fact gathering and check records. */
#ifndef PP_PROBE_INTERNAL_H
#define PP_PROBE_INTERNAL_H

#include <netinet/in.h>
#include <time.h>

#include "portpilot/probe.h"

/* Record a check in r and tell the caller's on_check. */
void pp_check_add(struct pp_probe_result *r, const struct pp_probe_opts *o, const char *id,
                  enum pp_check_state st, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void pp_evidence_add(struct pp_probe_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The kernel and interface facts, gathered while still privileged. */
void pp_facts_kernel(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o);
/* The expected public address: [site] public_ip, the DDNS name. */
void pp_facts_expected(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o);
/* Sockets the service tests need root for (raw ICMP bound to each source, ARP), opened before
 * the privilege drop; -1 when not had. pp_svc_socks_open also picks f->nonlan_src. */
struct pp_svc_socks {
	int ping[2];                   /* [0] bound to the LAN address, [1] to the non-LAN source */
	int arp;
};
void pp_svc_socks_open(struct pp_svc_socks *s, struct pp_facts *f);
void pp_svc_socks_close(struct pp_svc_socks *s);
/* Test the internal service, a closed port and ICMP echo from the router's LAN address and from
 * a non-LAN one, side by side, after a fresh ARP request (host presence now). */
void pp_facts_service(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                      const struct pp_svc_socks *socks);

/* A port the server surely does not serve: not the mapping's, high and unassigned. */
uint16_t pp_closed_port(const struct pp_mapping *m);
/* How the service answered, in words ("refused the connection (TCP reset)"). */
const char *pp_svc_words(enum pp_svc s);
/* The IPv6 path (probe/checks6.c): the mapping's pinholes, asked of the backend on pp_facts_kernel's
 * one read of the live rules; then TCP from the router to the server's IPv6 address (and from off
 * its link), bounded. */
struct pp_backend;
struct pp_live;
void pp_check_pinholes6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                        struct pp_backend *b, const struct pp_live *live);
void pp_facts_ip6(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o);
/* Router advertisements on the LAN (probe/ra6.c): pp_ra6_solicit opens a raw ICMPv6 socket on
 * ifname (root: before the privilege drop) and sends one Router Solicitation (hop limit 255);
 * pp_ra6_collect reads the RAs until about 1 s after it into f->ra and closes the socket. */
struct pp_ra6_sock {
	int fd;                        /* -1: none (no root, no interface) */
	unsigned ifindex, lo;          /* ifname's and the loopback's */
	char ifname[32];
	uint8_t mac[6];                /* ifname's own */
	struct in6_addr own[16];       /* ifname's addresses */
	size_t nown;
	struct timespec sent;
};
int pp_ra6_solicit(const char *ifname, struct pp_ra6_sock *s);
void pp_ra6_collect(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                    struct pp_ra6_sock *s);
/* The RAs as evidence lines; what they say of a server's route that leads elsewhere (allocated
 * summary and fix; false when no RA was gathered). */
void pp_ra6_evidence(const struct pp_facts *f, struct pp_probe_result *r);
bool pp_ra6_gateway(const struct pp_facts *f, const char *a, char **summary, char **fix);
/* A global IPv6 address of the router inside srv's /64 (in64) or outside it, in out; 0: none. */
int pp_router_addr6(const uint8_t srv[16], bool in64, char out[46]);

/* All local IPv4 addresses (the router's own traffic); returns how many. */
size_t pp_local_addrs(uint32_t *out, size_t max);
/* IPv4 address and prefix of an interface; -1 if none. */
int pp_iface_addr(const char *ifname, uint32_t *addr, uint8_t *prefix);
/* The interface the kernel routes dst through (or the default route with dst 0). */
int pp_route_iface(uint32_t dst, char *out, size_t n);
/* A command's standard output (pp_run), NULL when it failed without output. */
char *pp_run_cmd(char *const argv[]);

/* /proc/net/nf_conntrack opened while privileged (it stays readable after the drop), -1 if absent. */
int pp_conntrack_open(void);
/* The mapping's conntrack entries, read through fd (or the conntrack tool when fd is -1). */
void pp_facts_conntrack(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                        const struct pp_trace_ctx *c, int fd);

/* The --nflog-prefix of an NFLOG frame (DLT_NFLOG); -1 and "" when it has none. */
int pp_nflog_prefix(const uint8_t *d, size_t len, char *out, size_t n);

/* setgroups(0), setgid, setuid, then proof that root cannot come back and no capability is
 * left (capture.c); who prefixes the message ("reflector: "). */
int pp_drop_to(uid_t uid, gid_t gid, const char *name, const char *who, struct pp_error *err);

#endif
