/*
 * IPv6 for mappings (issue 15): addresses and networks, the LAN's delegated prefix, and the
 * pinholes of the iptables backend (ip6tables). With IPv6 there is no NAT by default: the server
 * has its own global address and the router accepts forwarded traffic to it (a pinhole), from
 * the allow list's IPv6 sources.
 */
#ifndef PORTPILOT_IPV6_H
#define PORTPILOT_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portpilot/error.h"
#include "portpilot/table.h"

#define PP_IP6_STR 46                   /* INET6_ADDRSTRLEN */

/* "2001:db8::1" -> 16 bytes; -1 when not an IPv6 address. */
int pp_parse_ipv6(const char *s, uint8_t out[16]);
void pp_format_ipv6(const uint8_t a[16], char out[PP_IP6_STR]);
/* "2001:db8:1::/48" or one address (/128); host bits set, a bad address or prefix: -1, err = what + fix. */
int pp_parse_cidr6(const char *s, struct pp_cidr6 *out, struct pp_error *err);
/* internal_ip6's value: a global unicast address, or a host id (its high 64 bits zero, e.g.
   ::1:101) that pp_ip6_combine puts on the LAN's prefix. -1 with err = what + fix. */
int pp_parse_ip6_target(const char *s, uint8_t out[16], bool *hostid, struct pp_error *err);
/* Does c contain a? */
bool pp_cidr6_has(const struct pp_cidr6 *c, const uint8_t a[16]);
/* The prefix's first len bits and the host id's other bits. */
void pp_ip6_combine(const struct pp_cidr6 *prefix, const uint8_t hostid[16], uint8_t out[16]);

/*
 * The LAN interface's current global prefix (2000::/3, not deprecated, not tentative): the
 * delegated prefix the router put on its LAN side (rtnetlink address dump). 0 and *out, -1 when
 * the interface has none (or is unknown). A deprecated one is used only when nothing else is.
 */
int pp_prefix6_of(const char *ifname, struct pp_cidr6 *out);
/* The server address of m on this site: internal_ip6 itself, or the host id on lan_if's prefix.
   -1 with err naming what is missing and the fix (no lan_interface, no prefix on it now). */
int pp_mapping_ip6(const struct pp_mapping *m, const char *lan_if, uint8_t out[16], struct pp_error *err);
/* m asks for IPv6 (ipv6 = yes or only, and not disabled by a bad value). */
bool pp_mapping_wants_ip6(const struct pp_mapping *m);
/* m's IPv6 side is in force at now: it asks for IPv6, and is enabled, valid, unexpired, with a
   public port and internal_ip6 (as pp_mapping_active for IPv4, without internal_ip). */
bool pp_mapping_active6(const struct pp_mapping *m, time_t now);
/* allow opens m to every IPv6 source: no IPv6 entry and no IPv4 one (no list), or ::/0. */
bool pp_mapping_any_source6(const struct pp_mapping *m);
/* m's IPv6 way in is NAT66 (a DNAT on the router's own address), not a pinhole: nat66 = yes,
   or a public port other than the internal one. */
bool pp_mapping_nat66(const struct pp_mapping *m);

struct pp_want;
/* Validation of the IPv6 keys of one mapping (pp_table_check): lan_if is [site] lan_interface. */
void pp_check_ipv6(const struct pp_mapping *m, const char *lan_if, struct pp_findings *out);

/* Two enabled mappings may not open the same server address, protocol and port over IPv6. */
void pp_check_conflicts6(const struct pp_table *t, time_t now, struct pp_findings *out);

/* ---- the model and the iptables backend's pinholes (core/rules-render6.c) ---- */
/*
 * A mapping's IPv6 way in (want->maps[i].v6, NULL when it has none). No NAT: a pinhole lets a
 * new connection arriving on want->wan_if, from an allowed IPv6 source (any_source, else
 * allow[]), to ip:proto and each element's in_lo..in_hi (pp_want_port: a public_port list opens
 * every element) be forwarded, with every packet of those flows (both ways)
 * and nothing else. ipv6 = only also leaves the map's active false (no IPv4 DNAT anywhere).
 */
struct pp_want_v6 {
	bool on;                        /* a pinhole now: enabled, not expired, the address known */
	bool only;                      /* ipv6 = only */
	uint8_t ip[16];                 /* the server's global address (a host id put on the LAN prefix) */
	bool any_source;
	const struct pp_cidr6 *allow;   /* points into the table */
	size_t nallow;
	bool hostid;                    /* ip follows the LAN prefix */
	bool nat66;                     /* a DNAT on the router's own IPv6 address instead of a pinhole: the
	                                   public port differs from internal_port (NAT66, as fw4 allows);
	                                   the map's ports[] say which goes where */
};
/* The IPv6 fields of w->maps[] from t (pp_want_build calls it): lan prefix read once. */
void pp_want_ip6(const struct pp_table *t, struct pp_want *w);
/* w has a mapping with a pinhole. */
bool pp_want_has_ip6(const struct pp_want *w);

/*
 * The iptables backend's IPv6 part: chains in ip6tables' filter table, named like the IPv4 ones
 * (PP-) so the ruleset, plan and counters code serves both:
 *   FORWARD -j PP-FWD (inserted first)
 *   PP-FWD: -m connmark --mark 0x10000000/0x10000000 -j ACCEPT   (flows a pinhole admitted, both ways)
 *           -i WAN [-o LAN] -j PP-PIN
 *   PP-PIN: [-s SRC] -d ADDR/128 -p P -m P --dport PORT[S] -m comment --comment "pp:NAME" -j PP-OK
 *           (one per source, protocol and element of the port list)
 *   PP-OK:  CONNMARK --set-xmark 0x10000000/0x10000000, ACCEPT
 * Nothing at all (no chain, no hook) when no mapping asks for IPv6.
 */
struct pp_ruleset;
struct pp_ipt;
struct pp_map_status;
struct pp_layout_status;
/* The mark line between the IPv4 and the IPv6 part of a saved state or a plan's restore text. */
#define PP_IP6_MARK "# portpilot: ip6tables\n"
/* The second mark in a plan's restore: the IPv6 undo (back to live) when the IPv4 commit fails. */
#define PP_IP6_UNDO "# portpilot: ip6tables undo\n"
/* The third: the pinhole rules that stay after the commit; marked flows none of them admits are
   cut after the commit (pp_ip6_flush), as the IPv4 side's flows of changed mappings are. */
#define PP_IP6_KEEP "# portpilot: ip6 keep\n"
/*
 * NAT66 also takes the router's own connections to its address (nat OUTPUT -j PP-OUT, no allow
 * list, as IPv4's) and, with the mapping's hairpin on, LAN clients at one of the router's
 * addresses other than the LAN side's (PP-PRE -i LAN). Those flows carry a second conntrack mark
 * bit besides portpilot's, PP_IP6_HAIRPIN_MARK: POSTROUTING -j PP-POST masquerades them, so the
 * server answers through the router. The entry interface says what is the LAN, not a prefix.
 * When the last NAT66 mapping goes, so do the ip6 nat table's empty built-in chains and the
 * table (pp_ip6_nat_tidy), so nothing of NAT66 stays behind.
 */
#define PP_IP6_HAIRPIN_MARK 0x08000000u
/* In a keep line (pp_ip6_flush): only hairpin flows (the mark) of that server port are kept. */
#define PP_IP6_HAIRPIN_MASKED "0x8000000/0x8000000"     /* as ip6tables-save prints it */
#define PP_IP6_HAIRPIN_KEEP "-m connmark --mark " PP_IP6_HAIRPIN_MASKED
void pp_ip6_render(const struct pp_want *w, struct pp_ruleset *out);
/* After a commit that took portpilot's last ip6 nat chain away: the ip6 nat table's built-in
   chains, when empty (no rule of anyone's), and then the table itself when nothing is left in
   it (iptables-nft only: a legacy table cannot go). Foreign rules or chains keep them all. */
void pp_ip6_nat_tidy(const struct pp_ipt *v6);
/* NAT66 rules (nat PP-PRE: -j DNAT --to-destination [server]:port) of rs as keep lines for
   pp_ip6_flush, appended to keep. */
struct pp_buf;
void pp_ip6_keep_nat(const struct pp_ruleset *rs, struct pp_buf *keep);
/* Remove the conntrack entries of IPv6 flows a pinhole admitted (the mark) that none of keep's
   rules ("-A PP-PIN ..." lines) admits any more; adds to p's flows_* counts (pp_ct_account). */
struct pp_plan;
void pp_ip6_flush(const char *keep, struct pp_plan *p);
/* An empty ruleset (the hooks' names set, as render leaves them). */
void pp_ip6_empty(struct pp_ruleset *rs);
/* The ip6tables binaries of v4's variant. */
void pp_ipt6_of(const struct pp_ipt *v4, struct pp_ipt *v6);
/* ip6tables-save -c: portpilot's part into own, filter's whole text into *filter (caller frees). */
int pp_ip6_read(const struct pp_ipt *v6, struct pp_ruleset *own, char **filter, struct pp_error *err);
/* The pinhole rules tagged tag to addr in live (PP-PIN), their packets added to *pkts (may be NULL). */
size_t pp_ip6_pinholes(const struct pp_ruleset *live, const char *tag, const char *addr, unsigned long long *pkts);
/* The IPv6 side of status: st[i] of want's maps merged with their pinholes' state in live. */
void pp_ip6_status(const struct pp_want *w, const struct pp_ruleset *want, const struct pp_ruleset *live,
                   const char *filter, struct pp_map_status *st, struct pp_layout_status *ls);
/* Host checks: the ip6 FORWARD policy (ACCEPT: pinholes change nothing, everything is open). */
void pp_ip6_checks(const struct pp_want *w, const char *filter, struct pp_findings *out);

#endif
