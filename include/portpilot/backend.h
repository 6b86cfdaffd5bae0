/* The iptables backend: render the table into chains portpilot owns, apply them atomically, read them back. */
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

/*
 * Layout (all names start with "PP-"; nothing else is touched):
 *   nat:    PREROUTING -j PP-PRE   (WAN side, local destination; LAN side too with hairpin)
 *           OUTPUT     -j PP-OUT   (the router itself)
 *           POSTROUTING -j PP-POST (hairpin SNAT, portpilot's flows only)
 *           PP-PRE -g PP-MARK: conntrack mark 0x10000000 on, -j PP-DNAT, mark off
 *           again (so only flows a portpilot DNAT rule took keep it);
 *           PP-MARK/PP-OUT -> PP-DNAT -g PP-DT-lo-hi (tcp) / PP-DU-lo-hi (udp):
 *           a binary tree over the public port space; leaves hold the DNAT rules.
 *   filter: FORWARD (and DOCKER-USER) -j PP-FWD: one ACCEPT for DNATed flows
 *           carrying the mark; other tools' DNATs meet the user's FORWARD rules.
 * Rules are kept in the exact form iptables-save prints, so live and
 * rendered rules compare as text. Every mapping rule carries the comment
 * "pp:NAME" (NAME sanitized by pp_rule_tag).
 */
#define PP_CHAIN_PREFIX "PP-"

enum pp_nf_table { PP_NAT, PP_FILTER, PP_NF__COUNT };

struct pp_chain {
	enum pp_nf_table table;
	char *name;
	char **rules;                   /* "-A NAME ..." lines */
	unsigned long long *pkts, *bytes; /* per rule, only when read with counters */
	size_t n, cap;
};

struct pp_ruleset {
	struct pp_chain *chains;        /* portpilot's chains, any order */
	size_t n, cap;
	struct pp_chain hooks[PP_NF__COUNT]; /* rules in other chains that jump to ours ("-A FORWARD -j PP-FWD") */
	struct pp_chain_index *idx;     /* name lookup (private) */
	char *text;                     /* pp_ruleset_parse_buf's buffer: parsed rules point into it */
	size_t textlen;
};

struct pp_render_opts {
	time_t now;                     /* clock for expires */
	bool have_lan;                  /* LAN subnet known (hairpin needs it) */
	struct pp_cidr lan;
	bool docker_user;               /* DOCKER-USER exists: hook it too */
	size_t leaf_max;                /* rules per leaf chain; 0 = 128; SIZE_MAX = one linear chain */
};

/* Render the active mappings of t (pp_mapping_active). -1 if [site] lacks what is needed. */
int pp_render(const struct pp_table *t, const struct pp_render_opts *o, struct pp_ruleset *out,
              struct pp_error *err);
void pp_ruleset_free(struct pp_ruleset *rs);
struct pp_chain *pp_ruleset_chain(struct pp_ruleset *rs, enum pp_nf_table t, const char *name,
                                  bool create);
void pp_chain_add(struct pp_chain *c, const char *rule);
/* Free one rule taken out of a chain of rs (parsed rules live in rs->text). */
void pp_ruleset_rule_free(const struct pp_ruleset *rs, char *rule);
/* The comment tag of a mapping's rules: "pp:" + name with unusual bytes as '_'. Caller frees. */
char *pp_rule_tag(const char *name);

/* The ruleset as iptables-save text of the two tables (snapshots, persistence). */
char *pp_ruleset_text(const struct pp_ruleset *rs);
/*
 * Read portpilot's part of iptables-save text (one or both tables, with or
 * without -c counters) into rs: PP- chains and the hooks into them.
 */
int pp_ruleset_parse(const char *text, struct pp_ruleset *rs, struct pp_error *err);
/* The same, consuming (and freeing) a malloc'd buffer: no copy of a big text. */
int pp_ruleset_parse_buf(char *text, struct pp_ruleset *rs, struct pp_error *err);

/* What an apply changes: chains to write, chains to drop, hooks to add/remove. */
struct pp_plan {
	char *restore;                  /* iptables-restore --noflush input; NULL when nothing changes */
	size_t chains_written, chains_dropped, hooks_changed;
	char **changed;                 /* mapping tags whose rules differ */
	size_t nchanged;
	struct pp_flush { enum pp_proto proto; uint16_t lo, hi; } *flush; /* public ports whose flows must restart */
	size_t nflush;
	size_t flows_removed;           /* after the commit: conntrack entries of those ports removed */
	bool flows_unlisted;            /* flows exist but neither /proc nor conntrack -L could list them */
	char **layout;                  /* rules of no one mapping (hooks, entries, tree jumps) that differ:
	                                   "nat: missing -A ...", "filter: unexpected -A ..." (status's drift) */
	size_t nlayout;
};
/* Plan the move from live to want. */
void pp_plan_make(const struct pp_ruleset *want, const struct pp_ruleset *live, struct pp_plan *p);
/* Print a diff per mapping (- live, + want) to f. */
void pp_plan_diff(FILE *f, const struct pp_ruleset *want, const struct pp_ruleset *live);
void pp_plan_free(struct pp_plan *p);

/* ---- the system's iptables (core/backend-iptables.c) ---- */
struct pp_backend {
	char variant[8];                /* "nft" or "legacy" */
	char save[32], restore[32];     /* binaries of that variant */
	char cmd[32];                   /* iptables-nft / iptables-legacy */
	bool docker_user;               /* filter has a DOCKER-USER chain */
};
/*
 * Pick the system's variant (PORTPILOT_IPTABLES=nft|legacy overrides) and
 * refuse when the other variant holds rules too.
 */
int pp_backend_open(struct pp_backend *b, struct pp_error *err);
/*
 * Where the kernel's ruleset stands: the nf_tables generation, which every
 * commit in the network namespace bumps by one, and the namespace itself
 * (boot id + netns cookie: generations restart in a new namespace).
 * -1 when unknown (iptables-legacy, old kernels).
 */
struct pp_gen {
	char ns[80];
	unsigned long gen;
};
int pp_backend_gen(const struct pp_backend *b, struct pp_gen *g);
/* Live state: portpilot's part (with counters) and the full save text of nat and filter. */
struct pp_live {
	struct pp_ruleset own;
	char *save[PP_NF__COUNT];
	struct pp_gen gen;              /* generation before the read (ns "" when unknown) */
	bool cached;                    /* own is applied.rules, proven current by gen (apply only) */
	char *save_more;                /* the raw and mangle sections (rules in the mappings' way), or NULL */
};
int pp_backend_read(struct pp_backend *b, struct pp_live *live, struct pp_error *err);
void pp_live_free(struct pp_live *live);
/* Feed text to iptables-restore --noflush (--test when test). err holds its message. */
int pp_backend_restore(const struct pp_backend *b, const char *text, bool test,
                       struct pp_error *err);
/*
 * The same in two halves: start returns once the text is written to
 * iptables-restore (NULL if it cannot start), so the caller can work while
 * the kernel commits; finish waits and reports like pp_backend_restore.
 */
struct pp_proc;
struct pp_proc *pp_backend_restore_start(const struct pp_backend *b, const char *text, bool test);
int pp_backend_restore_finish(const struct pp_backend *b, struct pp_proc *pr, bool test,
                              struct pp_error *err);
/*
 * Delete the conntrack entries of flows to the given public ports that were
 * DNATed (old target) or went to the router itself (no mapping yet), so they
 * restart through the new rules. Returns entries deleted.
 */
/* Remove the conntrack entries of flows DNATed (or addressed to the router) on p's flush ports;
   fills p->flows_removed, and p->flows_unlisted when they could not be listed. */
void pp_conntrack_flush(struct pp_plan *p);
/* Run argv with stdin text (may be NULL); collect stdout (may be NULL). Returns exit status or -1. */
int pp_run(char *const argv[], const char *in, char **out, char **errout);

/* Host checks around the rules; warnings go to the findings. */
int pp_sysctl_read(const char *name);     /* "net.ipv4.ip_forward" -> value, -1 if unreadable */
int pp_sysctl_write(const char *name, int value);
void pp_backend_checks(const struct pp_table *t, const struct pp_live *live,
                       struct pp_findings *out);
/* The IPv4 subnet of an interface; -1 when it has none. */
int pp_iface_subnet(const char *ifname, struct pp_cidr *out);
/* The first IPv4 address of an interface (host order), 0 when none or ifname is NULL. */
uint32_t pp_iface_addr4(const char *ifname);

/* ---- other tools' rules in the mapping's way (core/rules-foreign.c) ---- */
/* What a foreign rule ahead of portpilot's does to a mapping's traffic. */
enum pp_foreign_kind {
	PP_FOREIGN_NONE,
	PP_FOREIGN_DNAT,                /* takes the public port first: DNAT/REDIRECT elsewhere, or no NAT at all */
	PP_FOREIGN_DROP                 /* drops or rejects it (or the server's replies) */
};
struct pp_foreign_hit {
	enum pp_foreign_kind kind;
	bool before_routing;            /* raw/mangle/nat PREROUTING, before the forwarding decision */
	bool reply;                     /* it is the server's replies that the rule meets */
	char table[8];                  /* raw, mangle, nat, filter */
	char chain[32];                 /* the chain that holds the rule */
	char path[128];                 /* from the built-in chain to it: "PREROUTING > DOCKER" */
	char rule[512];                 /* as iptables-save prints it, without counters */
	char to[96];                    /* DNAT: where it sends the traffic */
	unsigned long long pkts;        /* its packet counter (0 when read without -c) */
};
/* The mapping's traffic, as the walk needs it. */
struct pp_foreign_query {
	enum pp_proto proto;
	uint16_t pub_lo, pub_hi, in_lo, in_hi;
	uint32_t internal_ip;
	uint32_t public_ip;             /* the router's WAN address; 0 unknown */
	const char *wan_if, *lan_if;    /* NULL unknown */
};
struct pp_foreign;
/* The rules of raw, mangle, nat and filter from iptables-save text (with or without -c);
   portpilot's own chains are left out. Never fails: text it does not know is skipped. */
struct pp_foreign *pp_foreign_parse(const char *save);
void pp_foreign_free(struct pp_foreign *fr);
/* The first foreign rule that takes or drops the query's traffic before portpilot's rules, in
   the kernel's order; 1 and *hit filled, 0 when none does (rules it cannot judge are passed over). */
int pp_foreign_first(const struct pp_foreign *fr, const struct pp_foreign_query *q,
                     struct pp_foreign_hit *hit);
/* The query of mapping m on the site of t (public_ip: [site] public_ip, else wan_addr, the WAN
   interface's address from pp_iface_addr4, 0 unknown). */
void pp_foreign_query_of(const struct pp_table *t, const struct pp_mapping *m, uint32_t wan_addr,
                         struct pp_foreign_query *q);
/* A hit in words: table, chain path, the rule, its counter and what it does. Caller frees. */
char *pp_foreign_words(const struct pp_foreign_hit *h);
/* The "*name ... COMMIT" section of one table in iptables-save text; "" when absent. Caller frees. */
char *pp_save_section(const char *all, const char *table);

/* ---- lifecycle (core/apply-*.c) ---- */
struct pp_apply_opts {
	bool dry_run;
	int confirm_seconds;            /* 0 = no confirm: persist at once */
	bool enable_forwarding;
	bool restore_persisted;         /* boot: apply the persisted confirmed ruleset */
	bool expire_only;               /* timer: drop expired mappings from the persisted ruleset, nothing else */
};
int pp_apply(struct pp_cli *cli, const struct pp_apply_opts *o);
/* The same with the table already in memory (t; NULL loads cli->table_path): the TUI, benches. */
int pp_apply_loaded(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t);
int pp_confirm(struct pp_cli *cli);
int pp_rollback(struct pp_cli *cli, const char *timer_id);
/* Where a confirm stands, from the state directory alone (no kernel read): what the TUI polls. */
struct pp_confirm_state {
	time_t deadline;                /* of the pending apply --confirm, 0 when none */
	bool timer_alive;               /* its rollback timer still runs */
	time_t timer_rollback;          /* when the timer last rolled an apply back, 0 if never since */
};
void pp_confirm_state(const char *state_dir, struct pp_confirm_state *cs);

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
};
/* Fill st[i] for t->maps[i]; caller frees with pp_status_free. */
int pp_status_read(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
                   time_t now, struct pp_map_status **st, struct pp_error *err);
void pp_status_free(struct pp_map_status *st, size_t n);
/* What no single mapping shows: the layout tying the mappings to the kernel, and leftovers. */
struct pp_layout_status {
	char **problems;                /* "nat: missing -A PREROUTING -j PP-PRE", "filter: unexpected ..." */
	size_t nproblems;
	char **orphans;                 /* names with rules in the kernel but no section in the table */
	size_t norphans;
};
/* pp_status_read plus *ls (caller frees with pp_layout_status_free). Both from the plan an apply
   would make (pp_plan_make): a mapping is missing/drifted/stale exactly when that plan rewrites its
   rules (the dry run's "changed"), and ls->problems are the plan's layout lines. */
int pp_status_read_all(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
                       time_t now, struct pp_map_status **st, struct pp_layout_status *ls,
                       struct pp_error *err);
void pp_layout_status_free(struct pp_layout_status *ls);

int pp_cmd_apply(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_confirm(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_rollback(struct pp_cli *cli, int argc, char **argv);
int pp_cmd_status(struct pp_cli *cli, int argc, char **argv);

#endif
