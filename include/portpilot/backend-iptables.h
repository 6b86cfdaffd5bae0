/* The iptables backend's own API (core/backend-iptables.c, core/rules-*.c): its ruleset as
   iptables-save text, render, plan, the system's iptables, other tools' rules. Only the
   backend, its unit tests and benches use this; everyone else speaks portpilot/backend.h. */
#ifndef PORTPILOT_BACKEND_IPTABLES_H
#define PORTPILOT_BACKEND_IPTABLES_H

#include "portpilot/backend.h"

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
/* "nat", "filter": the iptables name of each enum pp_nf_table (core/rules-ruleset.c). */
extern const char *const pp_nf_table_names[PP_NF__COUNT];
struct pp_chain;
/* The same rules in the same order (core/rules-ruleset.c). */
bool pp_chain_same(const struct pp_chain *a, const struct pp_chain *b);


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
/* The same from the neutral model (the backend's render op). */
void pp_ipt_render(const struct pp_want *w, bool docker_user, struct pp_ruleset *out);
void pp_ruleset_free(struct pp_ruleset *rs);
struct pp_chain *pp_ruleset_chain(struct pp_ruleset *rs, enum pp_nf_table t, const char *name,
                                  bool create);
void pp_chain_add(struct pp_chain *c, const char *rule);
/* Free one rule taken out of a chain of rs (parsed rules live in rs->text). */
void pp_ruleset_rule_free(const struct pp_ruleset *rs, char *rule);

/* The ruleset as iptables-save text of the two tables (snapshots, persistence). */
char *pp_ruleset_text(const struct pp_ruleset *rs);
/*
 * Read portpilot's part of iptables-save text (one or both tables, with or
 * without -c counters) into rs: PP- chains and the hooks into them.
 */
int pp_ruleset_parse(const char *text, struct pp_ruleset *rs, struct pp_error *err);
/* The same, consuming (and freeing) a malloc'd buffer: no copy of a big text. */
int pp_ruleset_parse_buf(char *text, struct pp_ruleset *rs, struct pp_error *err);

/* Plan the move from live to want (p->restore: iptables-restore --noflush input). */
void pp_plan_make(const struct pp_ruleset *want, const struct pp_ruleset *live, struct pp_plan *p);
/* Print a diff per mapping (- live, + want) to f. */
void pp_plan_diff(FILE *f, const struct pp_ruleset *want, const struct pp_ruleset *live);

struct pp_foreign;

/* ---- the system's iptables (core/backend-iptables.c) ---- */
struct pp_ipt {
	char variant[8];                /* "nft" or "legacy" */
	char save[32], restore[32];     /* binaries of that variant */
	char cmd[32];                   /* iptables-nft / iptables-legacy */
	bool docker_user;               /* filter has a DOCKER-USER chain */
};
/*
 * Pick the system's variant (PORTPILOT_IPTABLES=nft|legacy overrides) and
 * refuse when the other variant holds rules too.
 */
int pp_ipt_open(struct pp_ipt *b, struct pp_error *err);
int pp_ipt_gen(const struct pp_ipt *b, struct pp_gen *g);
/* Live state: portpilot's part (with counters) and the full save text of nat and filter. */
struct pp_ipt_live {
	struct pp_ruleset own;
	char *save[PP_NF__COUNT];
	struct pp_gen gen;              /* generation before the read (ns "" when unknown) */
	bool cached;                    /* own is applied.rules, proven current by gen (apply only) */
	char *save_more;                /* the raw and mangle sections (rules in the mappings' way), or NULL */
};
int pp_ipt_read(struct pp_ipt *b, struct pp_ipt_live *live, struct pp_error *err);
void pp_ipt_live_free(struct pp_ipt_live *live);
/* Feed text to iptables-restore --noflush (--test when test). err holds its message. */
int pp_ipt_restore(const struct pp_ipt *b, const char *text, bool test, struct pp_error *err);
/*
 * The same in two halves: start returns once the text is written to
 * iptables-restore (NULL if it cannot start), so the caller can work while
 * the kernel commits; finish waits and reports like pp_ipt_restore.
 */
struct pp_proc;
struct pp_proc *pp_ipt_restore_start(const struct pp_ipt *b, const char *text, bool test);
int pp_ipt_restore_finish(const struct pp_ipt *b, struct pp_proc *pr, bool test, struct pp_error *err);
/* Host checks (want's mappings) against filter's and the foreign rules' text of a read. */
void pp_ipt_checks(const struct pp_want *w, const char *filter_save, const struct pp_foreign *fr,
                   struct pp_findings *out);

/* ---- other tools' rules in the mapping's way (core/rules-foreign.c) ---- */
struct pp_foreign;
/* The rules of raw, mangle, nat and filter from iptables-save text (with or without -c);
   portpilot's own chains are left out. Never fails: text it does not know is skipped. */
struct pp_foreign *pp_foreign_parse(const char *save);
void pp_foreign_free(struct pp_foreign *fr);
/* The first foreign rule that takes or drops the query's traffic before portpilot's rules, in
   the kernel's order; 1 and *hit filled, 0 when none does (rules it cannot judge are passed over). */
int pp_foreign_first(const struct pp_foreign *fr, const struct pp_foreign_query *q,
                     struct pp_foreign_hit *hit);
/* The "*name ... COMMIT" section of one table in iptables-save text; "" when absent. Caller frees. */
char *pp_save_section(const char *all, const char *table);

/* Status of want's mappings: want rendered, live read back, fr the foreign rules of live. */
void pp_ipt_status(const struct pp_want *t, const struct pp_ruleset *want, const struct pp_ruleset *live,
                   const struct pp_foreign *fr, struct pp_map_status *st, struct pp_layout_status *ls);

#endif
