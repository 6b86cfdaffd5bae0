/* The native nftables backend: one `table inet portpilot`, maps over the public ports, element updates. */
#ifndef PORTPILOT_NFT_H
#define PORTPILOT_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "portpilot/backend.h"
#include "portpilot/error.h"
#include "portpilot/table.h"
#include "portpilot/util.h"

/*
 * Layout (core/backend-nft.c; nothing outside this one table is written):
 *   table inet portpilot
 *     map dnat_to     proto . public port : internal ip . port, one element per port, each
 *                     with its counter (the new connections of that port)
 *     set restricted  proto . public port of the mappings with an allow list
 *     set allowed     proto . public port(s) . source CIDR of those (their lists, the LAN with hairpin)
 *     set masq_to     internal ip . proto . internal port(s) . public port(s)   (masquerade = yes)
 *     set hairpin_off proto . public port of the mappings with hairpin = no on a hairpin site
 *     set hairpin_on  proto . public port of the mappings with hairpin = yes on a site without
 *                     (both, and their rules, only while some mapping needs them; a port list,
 *                     public_port = 80,443, is its elements' ports and ranges in every set)
 *     chain prerouting (nat, dstnat - 1): WAN side to a local address (and LAN side with hairpin,
 *                   or to @hairpin_on's ports) -> map_in
 *     chain map_in: LAN source to @hairpin_off -> return; restricted and not allowed -> return;
 *                   ct mark |= 0x10000000; dnat by @dnat_to; mark off again when the port has
 *                   no mapping (as PP-MARK)
 *     chain output (nat, -101): the router itself, no allow list (as PP-OUT)
 *     chain postrouting (nat, srcnat): hairpin masquerade, @masq_to masquerade; portpilot's flows only
 *     chain forward (filter, filter): accept flows carrying the mark with ct status dnat
 * The mark bit is the iptables backend's (core/rules-render.c OWN_MARK), so a flow keeps its
 * meaning across a backend switch. A new connection costs two hash lookups (and one interval
 * lookup for a restricted port) whatever the number of mappings; a one-mapping change is
 * element adds and deletes, the element's counter carried into its replacement.
 */
#define PP_NFT_TABLE "portpilot"
#define PP_NFT_DNAT_PRIO (-101)         /* nat prerouting/output: dstnat - 1 */

/* PP_NFT_HP_OFF / PP_NFT_HP_ON: ports of the mappings whose own hairpin = differs from [site]
   hairpin (no: LAN sources return from map_in; yes: a LAN entry for those ports only). Both sets
   and their rules exist only while some mapping needs them, so a table without per-mapping
   hairpin keeps the layout it had. */
enum pp_nft_set { PP_NFT_DNAT, PP_NFT_RESTRICTED, PP_NFT_ALLOWED, PP_NFT_MASQ, PP_NFT_HP_OFF, PP_NFT_HP_ON,
                  PP_NFT_PIN6, PP_NFT_NAT6, PP_NFT_OWN6, PP_NFT_HP6, PP_NFT__SETS };
/* PP_NFT_OWN6 / PP_NFT_HP6 (core/nft-ipv6.c): NAT66 by public port alone (proto . port : server .
   port), for the router's own connections (chain output) and for LAN clients at the router's
   address (hairpin, only mappings with hairpin on). Counted, as nat6: the mapping's connections. */

struct pp_strv {
	char **v;
	size_t n, cap;
};

/* A table as nft lists it: what is compared, planned and applied. */
struct pp_nft_state {
	bool present;                   /* the table exists (always true for a rendered one) */
	struct pp_strv skel;            /* set/map definitions and chain rules, "where\tline", in order */
	struct pp_strv el[PP_NFT__SETS];  /* elements as nft prints them (counters left out), sorted */
	unsigned long long *pkts, *bytes; /* per dnat_to element: its counter (rendered: 0) */
	char *text;                     /* the listing it was parsed from (rendered: the table's body) */
	unsigned long long *pkts6, *bytes6; /* per pin6 element: its counter (new connections) */
	unsigned long long *pkts66, *bytes66; /* per nat6 element: its counter (new connections) */
	unsigned long long *pkts_own6, *bytes_own6, *pkts_hp6, *bytes_hp6; /* per own6 / hp6 element */
	void *blk;                      /* where render and parse keep the elements (backend-nft.c) */
	void *inc;                      /* a render's: which elements each mapping made, for a render
	                                   from this one (pp_nft_render_from); NULL once changed */
};

void pp_nft_state_free(struct pp_nft_state *s);
/* Render w's active mappings. -1 if an interface name cannot be written into a rule. */
int pp_nft_render(const struct pp_want *w, struct pp_nft_state *out, struct pp_error *err);
/*
 * The same as pp_nft_render(w), from prev, an earlier render not changed since: the elements
 * of every mapping whose model is the same as then (every field render reads, compared by two
 * 64-bit hashes) are prev's, shared; only the others are rendered. A one-mapping change at
 * 20,000 renders one mapping. Falls back to the whole render when prev is not such a render,
 * the site's part or the number of mappings differs, many changed, or IPv6 is in play.
 */
int pp_nft_render_from(const struct pp_want *w, const struct pp_nft_state *prev, struct pp_nft_state *out,
                       struct pp_error *err);
/* Parse `nft list table inet portpilot` text ("" = no table). Never fails: unknown lines go to skel. */
void pp_nft_parse(const char *listing, struct pp_nft_state *out);

/* The table's body ("table inet portpilot { ... }") of s, counters of live's same keys carried
   (live may be NULL), appended to b: a snapshot, and the second half of a whole-table transaction. */
void pp_nft_state_text(struct pp_buf *b, const struct pp_nft_state *s, const struct pp_nft_state *live);
/* An element's key length (before its comment and a map's " : value"). */
size_t pp_nft_key_len(const char *e);
/* Index of the element of sorted v whose key is key[0..kl), or -1. */
long pp_nft_el_find(const struct pp_strv *v, const char *key, size_t kl);
/* An element's tag (its comment) and its length; "" when it has none. */
const char *pp_nft_el_tag(const char *e, size_t *len);
/* Take the elements tagged tag out of s. */
void pp_nft_drop_tag(struct pp_nft_state *s, const char *tag);
/* "dnat_to", "restricted", "allowed", "masq_to". */
const char *pp_nft_set_name(int set);

/* What a plan changes. */
struct pp_nft_plan {
	char *text;                     /* one nft transaction; NULL when nothing changes */
	bool full;                      /* the whole table is replaced (new, or its layout differs) */
	size_t el_added, el_deleted;
};
/*
 * Plan the move from live to want: element adds/deletes in one transaction
 * when the layout (skel) is the same, else the whole table replaced in one
 * transaction; either way the live counters of ports that stay are carried over.
 */
void pp_nft_plan_make(const struct pp_nft_state *want, const struct pp_nft_state *live,
                      struct pp_nft_plan *p);
void pp_nft_plan_free(struct pp_nft_plan *p);
/* The transaction that puts snapshot (a listing, "" = no table) back in place. Caller frees. */
char *pp_nft_restore_text(const char *snapshot);

/* Run one nft transaction (check: --check, nothing committed); output in *out when out. */
int pp_nft_run(const char *text, bool check, char **out, struct pp_error *err);
/*
 * core/nft-batch.c: text, a transaction of dnat_to's element deletes and adds alone (as
 * pp_nft_plan_make writes them), or a whole table (pp_nft_batch_full), sent as one
 * libnftnl/libmnl batch. 1: committed; 0: not that kind of transaction, or the kernel refused
 * it (nothing changed): run it through pp_nft_run, which commits it or says why not.
 */
int pp_nft_batch_try(const char *text);
/* Is text that kind of transaction? Its element deletes and adds in *deleted, *added. */
bool pp_nft_batch_fits(const char *text, size_t *deleted, size_t *added);
/*
 * A whole-table transaction (pp_nft_plan_make's full text, a restore) is also one batch: the
 * rest of the table as libnftables builds it (a dry run of that text), dnat_to's elements
 * after it. Is text one whose dnat_to elements it reads exactly? Their count in *added.
 */
bool pp_nft_batch_full(const char *text, size_t *added);
/* Commit text: by pp_nft_batch_try when it takes it, else pp_nft_run (the apply's commit).
   Tests: PORTPILOT_NFT_BATCH=off never batches, =only fails what the batch does not commit;
   PORTPILOT_NFT_FAULT=batch makes the kernel refuse a whole-table batch. */
int pp_nft_commit_text(const char *text, struct pp_error *err);
/* Read the live table (absent: present = false). */
int pp_nft_read(struct pp_nft_state *live, struct pp_error *err);
/* Mapping m's packets/bytes (new connections): its ports' counters summed; -1 when it has none. */
int pp_nft_counter(const struct pp_nft_state *live, const struct pp_mapping *m, unsigned long long *pkts,
                   unsigned long long *bytes);

/*
 * Another table's base chain on the forward hook that can drop what
 * portpilot's forward chain accepts: in nftables an accept ends only its own
 * base chain, every other base chain on the hook still sees the packet.
 */
struct pp_nft_blocker {
	char family[8], table[64], chain[64];
	int prio;
	bool policy_drop;               /* the chain's policy is drop */
	size_t drop_rules;              /* rules in it ending in drop or reject */
	bool docker;                    /* iptables-nft's ip filter FORWARD (Docker's, ufw's, the user's): portpilot's
	                                   commit puts its accept at its top (and into DOCKER-USER) */
	bool handled;                   /* portpilot's accept sits in a chain this one consults (DOCKER-USER) */
	char fix[512];                  /* what to do, in words */
	bool ip6;                       /* family ip6: it meets IPv6 only (the pinholes) */
	bool ip6tables;                 /* ip6tables-nft's ip6 filter FORWARD: the commit puts portpilot's accept
	                                   at its top while a mapping has a pinhole */
};
/* The IPv6 side of pp_nft_blockers for b (core/nft-ipv6.c): true when b is ip6tables-nft's
   FORWARD, its fix and handled (ours: portpilot's accept is in it) filled. */
bool pp_nft_blocker6(struct pp_nft_blocker *b, bool ours);
/* The blockers in the current ruleset (listing: `nft list ruleset` text, NULL = read it). */
int pp_nft_blockers(const char *listing, struct pp_nft_blocker **v, size_t *n, struct pp_error *err);

/* ---- other tables' rules in a mapping's way (core/nft-foreign.c) ---- */
struct pp_nft_foreign;
/* Does family/table hold chain, and portpilot's accept in it? */
bool pp_nft_foreign_chain(const struct pp_nft_foreign *f, const char *fam, const char *table, const char *chain,
                          bool *accept_ours);
struct pp_nft_foreign;
/* The chains of other tables from their listing (portpilot's own left out by the caller). */
struct pp_nft_foreign *pp_nft_foreign_parse(const char *listing);
/* "filter", "filter - 10", "-5": a base chain's priority as a number. */
int pp_nft_prio(const char *s);
void pp_nft_foreign_free(struct pp_nft_foreign *f);
/*
 * The first foreign rule that takes q's new connections before portpilot's DNAT (a nat
 * prerouting chain at priority dstnat or before, with a dnat/redirect for the public port) or
 * drops them on the forward hook (any table: a drop or reject that meets the flow, or the
 * chain's policy drop, with policy, when nothing in it accepted the flow first; iptables-nft's
 * ip filter FORWARD is passed over when docker_handled: the commit puts the accept at its top). Rules it cannot judge (source addresses,
 * sets) are passed over; jumps within a table are followed. 1 and *hit, 0 none, -1 f NULL.
 */
int pp_nft_foreign_first(const struct pp_nft_foreign *f, const struct pp_foreign_query *q, bool docker_handled,
                         bool policy, struct pp_foreign_hit *hit);

/*
 * IPv6 pinholes (core/nft-ipv6.c, issue 15), only while some mapping asks for IPv6:
 *   set pin6        source CIDR . server address . proto . internal port(s), counter per element
 *   chain pre6 (filter prerouting, mangle - 1): a new connection from the WAN matching @pin6
 *                   gets the mark: before every forward chain, whatever their order
 *   chain forward:  meta nfproto ipv6 + the mark -> accept (no DNAT: the server's own address)
 *   map nat6        source CIDR . proto . public port : server address . internal port (NAT66:
 *                   the public port differs from the server's), one element per port, counted
 *   chain map6_in:  from prerouting (WAN side, IPv6, to a local address): mark, dnat ip6 by
 *                   @nat6, mark off again when no element took it (as map_in for IPv4)
 * Another table's forward chain still drops them unless it accepts the mark: ip6tables-nft's
 * ip6 filter FORWARD gets portpilot's accept at its top (as ip filter FORWARD for IPv4).
 */
/* Does the set count its elements' packets (dnat_to, pin6)? Their counters, by set. */
bool pp_nft_counted(int set, struct pp_nft_state *s, unsigned long long ***pk, unsigned long long ***by);
/* Append a layout line / an element (owned) to s: the IPv6 part's render uses them. */
void pp_nft_skel_add(struct pp_nft_state *s, const char *where, const char *line);
void pp_nft_el_add(struct pp_nft_state *s, int set, char *owned);
/* The IPv6 part of the render: nothing when no mapping has a pinhole. */
void pp_nft_render6(const struct pp_want *w, struct pp_nft_state *out);
/* The pinholes of s as the iptables side's "-A PP-PIN" lines, for pp_ip6_flush. Caller frees. */
char *pp_nft_keep6(const struct pp_nft_state *s);
/* Does s hold IPv6 pinholes (set pin6)? */
bool pp_nft_has6(const struct pp_nft_state *s);
/* status: the IPv6 side of mapping m (its pin6 and nat6 elements, want against live) into st's
   has6/sync6/pkts6/bytes6/ip6 fields, as the iptables side fills them. */
struct pp_want_map;
struct pp_map_status;
void pp_nft_status6(const struct pp_nft_state *want, const struct pp_nft_state *live,
                    const struct pp_want_map *m, struct pp_map_status *st);
/* The probe: how many pin6 elements of the mapping tagged tag ("pp:NAME") go to addr, their
   counters summed into *pkts. */
int pp_nft_pinholes(const struct pp_nft_state *s, const char *tag, const char *addr,
                    unsigned long long *pkts);
/* Keep (or take out) portpilot's accept for the pinholes' flows at the top of ip6tables-nft's FORWARD. */
void pp_nft_accept6(bool on);
/* Host checks of the IPv6 side: forwarding, and other tables' forward chains that drop the
   pinholes' flows (blk: pp_nft_blockers' of the ruleset, f: its chains). */
void pp_nft_checks6(const struct pp_want *w, const struct pp_nft_blocker *blk, size_t nblk,
                    const struct pp_nft_foreign *f, struct pp_findings *out);
/* The foreign walk of a pinhole's new connections: first drop, as pp_nft_foreign_first. */
int pp_nft_foreign_first6(const struct pp_nft_foreign *f, const struct pp_want *w, const struct pp_want_map *m,
                          bool handled6, struct pp_foreign_hit *hit);

/* core/cli-nft.c: `portpilot nft render|apply|show|counters|blockers` (hidden plumbing). */
int pp_cmd_nft(struct pp_cli *cli, int argc, char **argv);

#endif
