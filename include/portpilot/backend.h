/*
 * The backend interface: what the engine wants per mapping (a neutral model that names no
 * firewall syntax) and the operations every backend (core/backend-*.c) implements. The apply
 * state machine (core/apply-lifecycle.c), status, the probe and the access log speak only this.
 * The iptables backend's own API is in portpilot/backend-iptables.h. A new backend is one file
 * defining a struct pp_backend_ops, listed in core/backend.c: the contract of each op is its
 * comment below.
 */
#ifndef PORTPILOT_BACKEND_H
#define PORTPILOT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "portpilot/cli.h"
#include "portpilot/error.h"
#include "portpilot/table.h"

/* ---- the neutral model: what the engine wants (core/backend.c builds it from the table) ---- */

/*
 * One mapping as every backend must carry it out, per protocol bit in proto:
 *  - DNAT: a new connection from an allowed source, arriving on want->wan_if for any local
 *    address of the router, to a public port p in [pub_lo, pub_hi], goes to
 *    internal_ip:(in_lo + p - pub_lo). The router's own connections to its local addresses
 *    (not 127.0.0.0/8) on those ports are translated the same way (nat OUTPUT in iptables).
 *  - allowed sources: every source when any_source; else allow[], plus the LAN subnet when
 *    hairpin && want->have_lan, plus the router itself.
 *  - forward accept: every packet (new, established, related) of the flows this backend's own
 *    DNAT translated, and nothing else (another tool's DNAT meets the user's rules).
 *  - hairpin (m->hairpin, want->have_lan, want->lan_if): LAN sources on lan_if to the public
 *    address (public_ip, or when 0 any local address outside the LAN) are DNATed too, and those
 *    flows are masqueraded on lan_if so the server's replies come back through the router.
 *    m->hairpin is the mapping's own hairpin = when set, else want->hairpin ([site]): with
 *    m->hairpin false on a hairpin site, LAN sources to its ports stay untranslated.
 *  - port lists: every element of ports[0..nports) is DNATed as [pub_lo, pub_hi] above.
 *  - masquerade: this mapping's translated flows leave to internal_ip (internal ports, original
 *    public port) with the router's LAN address as source (SNAT on lan_if when set).
 *  - expires: the engine leaves expired and disabled mappings out (active false); a backend
 *    with element timeouts may use the time, the others ignore it.
 * Every object a backend writes for a mapping carries tag, so live state is read back per
 * mapping (status, counters, expiry) and a diff is grouped per mapping.
 */
struct pp_want_map {
	const char *name;               /* section name (points into the table) */
	char *tag;                      /* pp_rule_tag(name): "pp:" + name, unusual bytes as '_' */
	int line;                       /* of the section, for messages */
	bool active;                    /* enabled and not expired at want->now; only these are rendered */
	enum pp_proto proto;            /* PP_TCP and/or PP_UDP */
	uint16_t pub_lo, pub_hi;        /* public port range (lo == hi: one port) */
	uint16_t in_lo, in_hi;          /* internal ports, same length as the public range */
	uint32_t internal_ip;           /* host order */
	bool any_source;                /* no allow list, or one with 0.0.0.0/0 */
	const struct pp_cidr *allow;    /* the allow list as written (points into the table) */
	size_t nallow;
	bool hairpin;                   /* LAN clients may use the public address: the mapping's own
	                                   hairpin = yes|no, else [site] hairpin (want->hairpin) */
	bool masquerade;
	time_t expires;                 /* 0 never */
	/* The port list (public_port = 80,443,9000-9001): every element, ports[0] being the
	   pub_lo..in_hi above (a single range is a list of one). Each element is DNATed as the
	   ranges above are, pub_lo..pub_hi -> in_lo..in_hi (same length). pp_want_build always
	   fills it; a model built by hand may leave it NULL/0: read it through pp_want_nports and
	   pp_want_port. */
	const struct pp_port_pair *ports;
	size_t nports;
	/* IPv6 (struct pp_want_v6 in portpilot/ipv6.h): NULL, nothing at all over IPv6. One pointer,
	   appended, so positional initializers need one more NULL only. pp_want_free frees it. */
	struct pp_want_v6 *v6;
};
/* Elements of m's port list (at least 1) and element i of them. */
static inline size_t pp_want_nports(const struct pp_want_map *m)
{
	return m->ports && m->nports ? m->nports : 1;
}
static inline struct pp_port_pair pp_want_port(const struct pp_want_map *m, size_t i)
{
	if (m->ports && m->nports)
		return m->ports[i];
	return (struct pp_port_pair){ m->pub_lo, m->pub_hi, m->in_lo, m->in_hi };
}

struct pp_want {
	const char *path;               /* the table's path, for messages */
	time_t now;
	const char *wan_if;             /* validated interface names; never NULL */
	const char *lan_if;             /* NULL when [site] has none */
	bool have_lan;                  /* the LAN subnet is known ([site] lan_subnet or lan_if's) */
	struct pp_cidr lan;
	uint32_t public_ip;             /* [site] public_ip; 0 = auto (match the router's local addresses) */
	bool hairpin;                   /* [site] hairpin */
	struct pp_want_map *maps;       /* every mapping of the table, in table order */
	size_t n;
	size_t leaf_max;                /* layout hint (benches): 0 default, SIZE_MAX one linear chain */
	char relay_if[16];              /* the relay's tunnel, a second way in from outside; "" none */
	void *blk;                      /* pp_want_build: every map's tag and port list, one block */
};
/* The model of t at now (LAN subnet from the table or the interface). -1 if [site] lacks what
   a backend needs (no or a bad wan_interface), err naming file, line and the fix. */
int pp_want_build(const struct pp_table *t, time_t now, struct pp_want *w, struct pp_error *err);
void pp_want_free(struct pp_want *w);
/* The comment tag of a mapping's rules: "pp:" + name with unusual bytes as '_'. Caller frees. */
char *pp_rule_tag(const char *name);
/* The same written at dst, which has room for pp_rule_tag_size(name) bytes; returns dst. */
size_t pp_rule_tag_size(const char *name);
char *pp_rule_tag_at(char *dst, const char *name);

/* The access log's rules (probe/access-log.c): copies of new connections to an NFLOG group. */
struct pp_log_spec {
	int group;                      /* NFLOG group */
	const char *wan_if;
	const char *lan_if;             /* NULL: no hairpin logging */
	struct pp_cidr lan;             /* len 0: unknown */
	bool ip6;                       /* the table asks for IPv6: its log rules are required too */
};
/*
 * The prefixes the log rules give packets, which the reader matches on: a new connection this
 * router DNATed and forwarded (seen after the forward verdict, so filter passed it): "pp-acc";
 * a new connection from the WAN (or from lan_if to an address outside lan: hairpin) reaching
 * the router itself untranslated (no mapping took it): "pp-rej".
 */
#define PP_LOG_ACCEPTED "pp-acc"
#define PP_LOG_REFUSED  "pp-rej"
/* The conntrack mark every backend puts on the flows portpilot admits (DNATed, a pinhole's, NAT66's):
   one value for the rules and the access log. Over IPv6 a pinhole's flow is not translated:
   "pp-acc" also for a new connection forwarded with this mark. */
#define PP_OWN_MARK "0x10000000"
#define PP_LOG_MARK PP_OWN_MARK

/* ---- what an apply changes (the backend fills it; the engine reports and stores it) ---- */

/* A public port range whose running flows must restart through the new rules. */
struct pp_flush { enum pp_proto proto; uint16_t lo, hi; };

struct pp_plan {
	char *restore;                  /* the backend's transaction, opaque to the engine (iptables:
	                                   iptables-restore --noflush input); NULL when nothing changes */
	size_t chains_written, chains_dropped, hooks_changed; /* the report's counts (in the backend's units) */
	char **changed;                 /* tags of the mappings whose rules differ */
	size_t nchanged;
	struct pp_flush *flush;         /* public ports whose flows must restart */
	size_t nflush;
	size_t flows_removed;           /* after the commit: conntrack entries of those ports removed */
	bool flows_unlisted;            /* flows exist but could not be listed */
	unsigned long commits;          /* kernel transactions the commit makes (nf_tables generations) */
	void *priv;                     /* anything else the backend's commit needs (its own to free) */
	char **layout;                  /* objects of no one mapping (hooks, entries, chains, sets) that
	                                   differ, in the backend's words ("nat: missing -A ...");
	                                   status's ruleset drift is exactly these (malloc'd strings) */
	size_t nlayout;
	size_t flows_failed;            /* conntrack entries of those ports the kernel would not remove */
	int flows_errno;                /* why the table could not be read or an entry not removed */
};
void pp_plan_free(struct pp_plan *p);

/*
 * Where the kernel's ruleset stands: the nf_tables generation, which every commit in the
 * network namespace bumps by one, and the namespace itself (boot id + netns cookie).
 * -1 when unknown (iptables-legacy, old kernels).
 */
struct pp_gen {
	char ns[80];
	unsigned long gen;
};

/* ---- the backend ---- */
struct pp_backend_ops;
struct pp_be_state;                     /* a ruleset in a backend's own form: never defined by the engine */

struct pp_backend {
	const struct pp_backend_ops *ops;
	void *priv;                     /* the backend's own (open fills it, close frees it) */
	char variant[16];               /* its flavour for status: iptables "nft" / "legacy" */
	char why[256];                  /* why this backend: "[site] backend = iptables", auto's reason */
};

/* Live state (ops->read): portpilot's part with counters and whatever the questions need. */
struct pp_live {
	const struct pp_backend_ops *ops; /* who read it (pp_live_free) */
	struct pp_be_state *own;        /* portpilot's own objects, with counters when read fresh */
	void *view;                     /* the backend's view of everything else (other tools' rules) */
	struct pp_gen gen;              /* generation before the read (ns "" when unknown) */
	bool cached;                    /* own is the last apply's record, proven current by gen */
};

/* What a foreign rule ahead of portpilot's does to a mapping's traffic. */
enum pp_foreign_kind {
	PP_FOREIGN_NONE,
	PP_FOREIGN_DNAT,                /* takes the public port first: DNAT/REDIRECT elsewhere, or no NAT at all */
	PP_FOREIGN_DROP                 /* drops or rejects it (or the server's replies) */
};
struct pp_foreign_hit {
	enum pp_foreign_kind kind;
	bool before_routing;            /* before the forwarding decision (raw/mangle/nat prerouting) */
	bool reply;                     /* it is the server's replies that the rule meets */
	char table[8];                  /* raw, mangle, nat, filter (nftables: the family's table name) */
	char chain[32];                 /* the chain that holds the rule */
	char path[128];                 /* from the base chain to it: "PREROUTING > DOCKER" */
	char rule[512];                 /* in the backend's own syntax, without counters */
	char to[96];                    /* DNAT: where it sends the traffic */
	unsigned long long pkts;        /* its packet counter (0 when unknown) */
};
/* The mapping's traffic, as the questions need it. */
struct pp_foreign_query {
	enum pp_proto proto;
	uint16_t pub_lo, pub_hi, in_lo, in_hi;
	uint32_t internal_ip;
	uint32_t public_ip;             /* the router's WAN address; 0 unknown */
	const char *wan_if, *lan_if;    /* NULL unknown */
	bool ip6;                       /* an IPv6 pinhole's flows: no DNAT, internal_ip unused (nftables) */
};
/* The query of mapping m on the site of t (public_ip: [site] public_ip, else wan_addr, the WAN
   interface's address from pp_iface_addr4, 0 unknown). */
void pp_foreign_query_of(const struct pp_table *t, const struct pp_mapping *m, uint32_t wan_addr,
                         struct pp_foreign_query *q);
/* A hit in words: table, chain path, the rule, its counter and what it does. Caller frees. */
char *pp_foreign_words(const struct pp_foreign_hit *h);
/* apply's warning for mapping NAME (table line LINE) that another tool's rule h takes first. */
void pp_foreign_finding(struct pp_findings *out, int line, const char *name, const struct pp_foreign_hit *h);
/* Order of struct pp_flush by (proto, lo), for qsort. */
int pp_flush_cmp(const void *a, const void *b);

/* Status of one mapping against the kernel. */
enum pp_sync { PP_SYNC_OK, PP_SYNC_MISSING, PP_SYNC_DRIFTED, PP_SYNC_INACTIVE, PP_SYNC_STALE,
               PP_SYNC_SHADOWED,        /* its rules in place, but a foreign rule takes the port first */
               PP_SYNC_BLOCKED };       /* its rules in place, but a foreign rule drops its traffic first */
const char *pp_sync_name(enum pp_sync s);
struct pp_map_status {
	const char *name;
	enum pp_sync sync;
	unsigned long long pkts, bytes; /* DNAT rules: first packets of connections */
	char *shadow;                   /* a foreign rule that catches the traffic first, or NULL */
	bool shadow_drops;              /* that rule drops the traffic (else it takes the port) */
	char *shadow_words;             /* it in words: table, chain, counter, what it does (pp_foreign_words) */
	/* The IPv6 side (issue 15), filled by a backend that opens pinholes (iptables). has6 false:
	   nothing to show (the mapping asks for no IPv6, or the backend does not report it). sync
	   above also folds the pinholes in; sync6 is theirs alone: in_sync, missing, drifted,
	   inactive (no pinhole wanted now: disabled, expired, or a host id without a LAN prefix). */
	bool has6;
	enum pp_sync sync6;
	unsigned long long pkts6, bytes6; /* the pinholes: first packets of connections */
	bool addr6_known;               /* ip6 is the server's address now (a host id on the prefix) */
	uint8_t ip6[16];
	bool hostid6;                   /* ip6 follows the LAN prefix */
};
/* What no single mapping shows: the layout tying the mappings to the kernel, and leftovers. */
struct pp_layout_status {
	char **problems;                /* "nat: missing -A PREROUTING -j PP-PRE", "filter: unexpected ..." */
	size_t nproblems;
	char **orphans;                 /* names with rules in the kernel but no section in the table */
	size_t norphans;
};

/* The probe's question about a mapping's translation, whoever wrote it (ops->dnat_present). */
struct pp_dnat_answer {
	bool present;                   /* a DNAT to internal_ip:in_lo for every protocol of the mapping */
	char missing_proto[4];          /* "tcp"/"udp": the first protocol without one */
	unsigned long long pkts;        /* their packet counters, summed */
	char where[48];                 /* where it looked, for people: "nat table" */
	char how[48];                   /* how to look yourself: "iptables-save -t nat" */
};
/* The probe's question about the forward path to internal_ip (ops->forward_state). */
struct pp_forward_answer {
	bool policy_drop;               /* the forward hook's policy drops */
	bool accept;                    /* some rule accepts DNATed traffic or traffic to internal_ip */
	char where[48];                 /* the forward hook, for people: "filter FORWARD" */
};

/*
 * The operations. Conventions:
 *  - int returns 0 ok, -1 error with err filled (what failed and the fix); the kernel is left
 *    as it was when an op that changes it fails (commit is atomic: all or nothing).
 *  - What an op returns through a pointer is the caller's, freed with the op named for it
 *    (state_free, live_free, pp_plan_free, free() for char *); inputs stay the caller's.
 *  - Ops never print; text for people is returned (diff writes to the FILE given).
 *  - Nothing outside the backend's own objects is ever changed or flushed.
 *  - Optional ops may be NULL: test, flush (then pp_conntrack_flush), gen, facts, adopt,
 *    pinholes, plan_diff, render_from.
 */
struct pp_backend_ops {
	const char *name;               /* "iptables", "nftables": the value of [site] backend */
	/* Could this backend run here (kernel, library, tools)? 0 yes, why: what it found; 1 yes,
	   but portpilot's mappings are live in another backend and none in this one (auto stays
	   where they are: an upgrade never moves a site's rules by itself); -1 no, err: what is
	   missing. No change to the system. */
	int (*detect)(char *why, size_t n, struct pp_error *err);
	/* Open: b->ops is set; fill b->priv and b->variant. close frees b->priv. */
	int (*open)(struct pp_backend *b, struct pp_error *err);
	void (*close)(struct pp_backend *b);

	/* The rules of want's active mappings in the backend's form. */
	int (*render)(struct pp_backend *b, const struct pp_want *w, struct pp_be_state **out,
	              struct pp_error *err);
	/* The kernel's state: live->own (counters included), live->view for the questions. */
	int (*read)(struct pp_backend *b, struct pp_live *live, struct pp_error *err);
	void (*live_free)(struct pp_live *live);
	void (*state_free)(struct pp_be_state *s);

	/* Snapshots: a state as a byte blob (NUL-terminated, *len without it) the engine stores in
	   the state directory, and back. load adapts it to this host (e.g. a hook into a chain that
	   is gone is left out). */
	char *(*save)(const struct pp_be_state *s, size_t *len);
	int (*load)(struct pp_backend *b, const char *blob, size_t len, struct pp_be_state **out,
	            struct pp_error *err);
	/* Take mapping tag's objects out of s (expiry on a persisted snapshot). */
	void (*drop_mapping)(struct pp_be_state *s, const char *tag);

	/* The move from live to want: p->restore NULL when the kernel holds want already. Unchanged
	   mappings keep their counters across the commit. */
	void (*plan)(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live,
	             struct pp_plan *p);
	/* For people, per changed mapping: "+ name", "- name" or "~ name", then its "    - old" and
	   "    + new" lines (the backend's own syntax). */
	void (*diff)(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live,
	             FILE *f);
	/* Would the kernel take p? A dry run where that is cheap, or always when always (a rollback
	   or a restore: no partial state allowed). NULL or 0: yes as far as known. */
	int (*test)(struct pp_backend *b, const struct pp_plan *p, bool always, struct pp_error *err);
	/* Commit p in one transaction. during(arg), when given, runs once the kernel has the work and
	   before the wait for it (the engine writes its state files meanwhile). */
	int (*commit)(struct pp_backend *b, struct pp_plan *p, void (*during)(void *arg), void *arg,
	              struct pp_error *err);
	/* Remove the conntrack entries of flows to p's flush ports that this backend translated (or
	   that went to the router itself); fills p->flows_removed, p->flows_unlisted. */
	void (*flush)(struct pp_backend *b, struct pp_plan *p);
	/* The kernel's generation (see pp_gen); -1 unknown. */
	int (*gen)(struct pp_backend *b, struct pp_gen *g);
	/* The cached read: what the host checks need after p commits on top of live (a blob), and a
	   live state rebuilt from a saved own state plus those facts, without reading the kernel
	   (own NULL: live->own is set already, the engine's memory of its last commit; only the
	   facts are to be adopted). adopt takes own and facts over. */
	char *(*facts)(struct pp_backend *b, const struct pp_live *live, const struct pp_plan *p);
	int (*adopt)(struct pp_backend *b, char *own, char *facts, struct pp_live *live,
	             struct pp_error *err);

	/* Status of every mapping of want (st[i] for want->maps[i], name from it) against live:
	   sync, counters, shadowing; ls (may be NULL): layout problems and orphan mappings. */
	int (*status)(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live,
	              struct pp_map_status *st, struct pp_layout_status *ls, struct pp_error *err);
	/* Host checks around the rules (forward policy, other tools' rules ahead): warnings. */
	void (*checks)(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live,
	               struct pp_findings *out);
	/* The probe: the first foreign rule that takes or drops q's traffic before portpilot's, in the
	   kernel's order: 1 and *hit, 0 none, -1 live state unknown. */
	int (*foreign_first)(struct pp_backend *b, const struct pp_live *live,
	                     const struct pp_foreign_query *q, struct pp_foreign_hit *hit);
	/* The probe: is there a DNAT for m (whoever wrote it), and its counter (live read fresh). */
	void (*dnat_present)(struct pp_backend *b, const struct pp_live *live, const struct pp_mapping *m,
	                     struct pp_dnat_answer *a);
	/* The probe: does the forward path drop by policy, and is there an accept for m's server. */
	void (*forward_state)(struct pp_backend *b, const struct pp_live *live, uint32_t internal_ip,
	                      struct pp_forward_answer *a);
	/* The access log's rules: add them (replacing any left over in that group) or remove them. */
	int (*log_rules)(struct pp_backend *b, const struct pp_log_spec *s, bool add, struct pp_error *err);
	/* Remove every object this backend owns (a switch to another backend); the kernel is
	   unchanged on error. */
	int (*remove_all)(struct pp_backend *b, struct pp_error *err);
	/* The probe: how many of the mapping's IPv6 pinholes (rules tagged pp_rule_tag(name)) to
	   addr (the server's address now, "2001:db8:1::1:101") are in live, their packets summed into
	   *pkts; -1 when this backend opens none. Optional (NULL: the probe cannot tell). */
	int (*pinholes)(struct pp_backend *b, const struct pp_live *live, const char *name,
	                const char *addr, unsigned long long *pkts);
	/* plan, then diff's text to f, from one pass over the states (optional: apply asks for
	   both, and at 20,000 mappings a pass over the elements costs). NULL: plan and diff. */
	void (*plan_diff)(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live,
	                  struct pp_plan *p, FILE *f);
	/* render, from prev (a state this backend returned, e.g. the one the last apply committed,
	   NULL: none): the same result as render, reusing what prev made for the mappings that did
	   not change (optional: NULL renders). */
	int (*render_from)(struct pp_backend *b, const struct pp_want *w, const struct pp_be_state *prev,
	                   struct pp_be_state **out, struct pp_error *err);
};

/* The backends built in: "iptables", and "nftables" when core/backend-nft.c is built
   (PP_HAVE_NFTABLES). NULL when name is none of them. */
const struct pp_backend_ops *pp_backend_ops_named(const char *name);
extern const struct pp_backend_ops pp_backend_iptables;
#ifdef PP_HAVE_NFTABLES
extern const struct pp_backend_ops pp_backend_nftables;
#endif

/*
 * Open the backend [site] backend names: iptables, nftables, or auto (also when t is NULL or
 * the key is absent). auto picks nftables when its detect passes and no iptables-legacy
 * table holds rules (nf_tables could not order its rules against those), else iptables;
 * where portpilot's rules are live in iptables and not in nftables, auto keeps iptables
 * (moving them is the engineer's choice: [site] backend = nftables).
 * PORTPILOT_BACKEND=NAME says what auto means (tests, benches). b->why says which and why;
 * a backend named but unusable is an error, never a silent fallback.
 */
int pp_backend_open_for(struct pp_backend *b, const struct pp_table *t, struct pp_error *err);
/* The same with no table: auto (or PORTPILOT_BACKEND). */
int pp_backend_open(struct pp_backend *b, struct pp_error *err);
/* Open the backend of that name (a snapshot's), whatever the table says. */
int pp_backend_open_named(struct pp_backend *b, const char *name, struct pp_error *err);
void pp_backend_close(struct pp_backend *b);
/* b->ops->read, and live->ops set. */
int pp_backend_read(struct pp_backend *b, struct pp_live *live, struct pp_error *err);
void pp_live_free(struct pp_live *live);

/* Does an iptables-legacy table hold rules (why: which)? Shared: auto asks it before nftables. */
bool pp_iptables_legacy_in_use(char *why, size_t n);
/* Remove the conntrack entries of flows to p's flush ports that were DNATed (or addressed to the
   router: no mapping yet), so they restart through the new rules; fills p->flows_removed, and
   p->flows_unlisted when they could not be listed, p->flows_failed for those the kernel kept
   (p->flows_errno: why). Backend-neutral (ctnetlink, no conntrack tool). */
void pp_conntrack_flush(struct pp_plan *p);
/* Add one pp_ct_remove's outcome (core/conntrack.h) to p's flows_* counts. */
struct pp_ct_result;
void pp_ct_account(struct pp_plan *p, const struct pp_ct_result *r);

/* Host facts shared by the backends (core/backend-host.c). */
int pp_sysctl_read(const char *name);     /* "net.ipv4.ip_forward" -> value, -1 if unreadable */
int pp_sysctl_write(const char *name, int value);
/* Warnings every backend gives about the host: ip_forward 0, strict rp_filter (all or wan_if). */
void pp_host_checks(const char *wan_if, struct pp_findings *out);
/* The IPv4 subnet of an interface; -1 when it has none. */
int pp_iface_subnet(const char *ifname, struct pp_cidr *out);
/* The first IPv4 address of an interface (host order), 0 when none or ifname is NULL. */
uint32_t pp_iface_addr4(const char *ifname);
/* Run argv with stdin text (may be NULL); collect stdout (may be NULL). Exit status or -1 (core/backend-iptables.c). */
int pp_run(char *const argv[], const char *in, char **out, char **errout);

/* ---- lifecycle (core/apply-*.c): validate -> plan -> commit -> confirm/rollback ---- */
struct pp_apply_opts {
	bool dry_run;
	int confirm_seconds;            /* 0 = no confirm: persist at once */
	bool enable_forwarding;
	bool restore_persisted;         /* boot: apply the persisted confirmed ruleset */
	bool expire_only;               /* timer: drop expired mappings from the persisted ruleset, nothing else */
};
/* What one apply found and did: the engine fills it, the front ends format it (the CLI's text and
   --json in core/apply-report.c, the TUI's apply screen its own way). */
struct pp_apply_report {
	bool dry_run;
	bool applied;                   /* a transaction was committed */
	bool unchanged;                 /* the kernel already held this ruleset */
	bool planned;                   /* the plan ran: the counts, diff and backend below are set */
	char backend[32], variant[16], backend_why[256];
	char moved_from[32];            /* the backend the mappings move from, "" when none */
	char *diff;                     /* the backend's diff in its own words (malloc'd, NULL if none) */
	struct pp_findings warnings;    /* the backend's checks of the host and the live rules */
	int forwarding;                 /* --enable-forwarding: 1 set now, -1 could not, 0 untouched */
	char forwarding_err[128];
	size_t nchanged, chains_written, chains_dropped, hooks_changed;
	char **changed;                 /* the plan's tags of the changed mappings ("pp:" + name) */
	char **layout;                  /* the plan's layout lines (status's ruleset drift) */
	size_t nlayout;
	size_t flows_removed;
	bool flows_unlisted;
	time_t confirm_deadline;        /* 0 when nothing awaits confirmation */
	int confirm_seconds;
	int rc;                         /* PP_EXIT_* */
	char error[1024];               /* why it failed, with the fix; "" on success */
	bool nothing_persisted;         /* --expire-only with no persisted ruleset: nothing to do */
	size_t flows_failed;            /* conntrack entries the kernel kept (flows_errno why) */
	int flows_errno;                /* with flows_unlisted or flows_failed: the errno */
	struct pp_findings table_findings; /* the table's own (pp_table_check), each with its fix */
	char late[512];                 /* an earlier unconfirmed apply rolled back first: why */
	char restore_failed[1024];      /* the commit failed, and restoring the snapshot too: why */
};
/* Apply and fill r (pp_apply_report_free after); prints nothing of r, returns r->rc. */
int pp_apply_run(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t,
                 struct pp_apply_report *r);
/* The CLI's words for r (text, or JSON with cli->json): errors and warnings on cli->err. */
void pp_apply_report_print(struct pp_cli *cli, const struct pp_apply_report *r);
void pp_apply_report_free(struct pp_apply_report *r);
int pp_apply(struct pp_cli *cli, const struct pp_apply_opts *o);
/* The same with the table already in memory (t; NULL loads cli->table_path): the TUI, benches. */
int pp_apply_loaded(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t);
int pp_confirm(struct pp_cli *cli);
int pp_rollback(struct pp_cli *cli, const char *timer_id);
/* What confirm or rollback did: pp_confirm_run and pp_rollback_run fill it and print nothing. */
enum pp_confirm_outcome {
	PP_CO_CONFIRMED,                /* kept, and persisted for boot */
	PP_CO_ROLLED_BACK,              /* the kernel holds the rules from before the last apply again */
	PP_CO_NONE,                     /* nothing awaited confirmation (rollback --timer: confirmed meanwhile) */
	PP_CO_LATE,                     /* confirm after the deadline with the timer gone: rolled back instead */
	PP_CO_UNFINISHED,               /* refused: the apply that armed the rollback did not finish */
	PP_CO_DRIFTED,                  /* refused: the timer is gone and the kernel no longer holds that apply */
	PP_CO_FAILED,                   /* error says why (the lock, the state files, the restore) */
};
struct pp_confirm_report {
	bool rollback;                  /* the report of a rollback (else of a confirm) */
	enum pp_confirm_outcome outcome;
	bool pending;                   /* an apply --confirm awaited confirmation */
	time_t deadline;                /* then its rollback deadline */
	bool timer_alive;               /* and whether its rollback timer ran */
	char timer[64];                 /* the timer's name: "the rollback timer (pid N)" */
	char backend[32];               /* confirm: the backend kept; rollback: the backend restored */
	char late[512];                 /* LATE, DRIFTED: the timer gone and its deadline, in words */
	char error[1024];               /* why it failed or was refused, with the fix; "" when none */
	int rc;                         /* PP_EXIT_* */
};
int pp_confirm_run(struct pp_cli *cli, struct pp_confirm_report *r);
int pp_rollback_run(struct pp_cli *cli, const char *timer_id, struct pp_confirm_report *r);
/* The CLI's words for r (stdout, JSON with cli->json; refusals and errors on cli->err). */
void pp_confirm_report_print(struct pp_cli *cli, const struct pp_confirm_report *r);
/* Where a confirm stands, from the state directory alone (no kernel read): what the TUI polls. */
struct pp_confirm_state {
	time_t deadline;                /* of the pending apply --confirm, 0 when none */
	bool timer_alive;               /* its rollback timer still runs */
	time_t timer_rollback;          /* when the timer last rolled an apply back, 0 if never since */
};
void pp_confirm_state(const char *state_dir, struct pp_confirm_state *cs);

/* Fill st[i] for t->maps[i]; caller frees with pp_status_free. */
int pp_status_read(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
                   time_t now, struct pp_map_status **st, struct pp_error *err);
void pp_status_free(struct pp_map_status *st, size_t n);
/* pp_status_read plus *ls (caller frees with pp_layout_status_free). Both from the plan an apply
   would make (ops->plan, what apply --dry-run shows): a mapping is missing/drifted/stale exactly
   when that plan rewrites its objects (the dry run's "changed"), and ls->problems are the plan's
   layout lines. */
int pp_status_read_all(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
                       time_t now, struct pp_map_status **st, struct pp_layout_status *ls,
                       struct pp_error *err);
void pp_layout_status_free(struct pp_layout_status *ls);

int pp_cmd_apply(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_confirm(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_rollback(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_status(struct pp_cli *cli, int argc, char **argv);


#endif
