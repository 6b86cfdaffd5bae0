/* Plan an apply: only chains whose rules differ are rewritten; a diff per mapping for people. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

static const char *const *const table_names = pp_nf_table_names;   /* the one copy: rules-ruleset.c */

static size_t
count_rule(const struct pp_chain *c, const char *r)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		k += strcmp(c->rules[i], r) == 0;
	return k;
}

/* "-A X rest" -> "OP X rest" (OP "-D" or "-I X 1"). */
static void
hook_op(struct pp_buf *b, const char *rule, bool insert)
{
	const char *chain = rule + 3;
	size_t n = strcspn(chain, " ");
	if (insert)
		pp_buf_printf(b, "-I %.*s 1%s\n", (int)n, chain, chain + n);
	else
		pp_buf_printf(b, "-D %s\n", chain);
}

/* A live rule's counters, by what the rule does (its text without "-A CHAIN"). */
struct counted {
	const char *body;
	unsigned long long pk, by;
};

static const char *
rule_body(const char *rule)
{
	const char *p = rule + 3;
	return p + strcspn(p, " ");
}

static int
cmp_counted(const void *a, const void *b)
{
	return strcmp(((const struct counted *)a)->body, ((const struct counted *)b)->body);
}

/*
 * The counters of the live rules of table t that this plan writes again (their chain differs
 * or goes): a rule written anew with the same text carries them over (iptables-restore -c),
 * so an apply does not zero the hits of the mappings it did not change (issue 14.5).
 */
static size_t
carried(const struct pp_ruleset *want, const struct pp_ruleset *live, enum pp_nf_table t,
        struct counted **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	for (size_t i = 0; i < live->n; i++) {
		const struct pp_chain *l = &live->chains[i];
		if (l->table != t || !l->pkts)
			continue;
		const struct pp_chain *w = pp_ruleset_chain((struct pp_ruleset *)want, t, l->name, false);
		if (w && pp_chain_same(w, l))
			continue;
		for (size_t j = 0; j < l->n; j++) {
			if (!l->pkts[j] && !l->bytes[j])
				continue;
			if (n == cap)
				*out = pp_xrealloc(*out, (cap = cap ? 2 * cap : 64) * sizeof **out);
			(*out)[n++] = (struct counted){ rule_body(l->rules[j]), l->pkts[j], l->bytes[j] };
		}
	}
	if (n)
		qsort(*out, n, sizeof **out, cmp_counted);
	return n;
}

static void
plan_table(const struct pp_ruleset *want, const struct pp_ruleset *live, enum pp_nf_table t,
           struct pp_plan *p, struct pp_buf *b)
{
	struct pp_ruleset *lv = (struct pp_ruleset *)live, *wn = (struct pp_ruleset *)want;
	struct pp_buf decl = { 0 }, rules = { 0 }, tail = { 0 };
	struct counted *ctr;
	size_t nctr = carried(want, live, t, &ctr);
	for (size_t i = 0; i < want->n; i++) {
		const struct pp_chain *c = &want->chains[i];
		if (c->table != t)
			continue;
		const struct pp_chain *l = pp_ruleset_chain(lv, t, c->name, false);
		if (l && pp_chain_same(c, l))
			continue;
		p->chains_written++;
		pp_buf_printf(&decl, ":%s - [0:0]\n", c->name);
		for (size_t j = 0; j < c->n; j++) {
			struct counted k = { rule_body(c->rules[j]), 0, 0 };
			const struct counted *had = nctr ? bsearch(&k, ctr, nctr, sizeof *ctr, cmp_counted) : NULL;
			if (had)
				pp_buf_printf(&rules, "[%llu:%llu] ", had->pk, had->by);
			pp_buf_add(&rules, c->rules[j], strlen(c->rules[j]));
			pp_buf_add(&rules, "\n", 1);
		}
	}
	for (size_t i = 0; i < live->n; i++) {
		const struct pp_chain *l = &live->chains[i];
		if (l->table != t || pp_ruleset_chain(wn, t, l->name, false))
			continue;
		p->chains_dropped++;
		pp_buf_printf(&decl, ":%s - [0:0]\n", l->name);
		pp_buf_printf(&tail, "-X %s\n", l->name);
	}
	/* Hooks as a multiset: remove what is extra (duplicates too), add what is missing. */
	struct pp_buf hk = { 0 };
	const struct pp_chain *wh = &want->hooks[t], *lh = &live->hooks[t];
	for (size_t i = 0; i < lh->n; i++) {
		size_t seen = 0;
		for (size_t j = 0; j < i; j++)
			seen += strcmp(lh->rules[j], lh->rules[i]) == 0;
		if (seen >= count_rule(wh, lh->rules[i])) {
			hook_op(&hk, lh->rules[i], false);
			p->hooks_changed++;
		}
	}
	for (size_t i = 0; i < wh->n; i++) {
		size_t seen = 0;
		for (size_t j = 0; j < i; j++)
			seen += strcmp(wh->rules[j], wh->rules[i]) == 0;
		if (seen >= count_rule(lh, wh->rules[i])) {
			hook_op(&hk, wh->rules[i], true);
			p->hooks_changed++;
		}
	}
	if (decl.len || hk.len || tail.len) {
		pp_buf_printf(b, "*%s\n", table_names[t]);
		if (decl.len)
			pp_buf_add(b, decl.data, decl.len);
		if (rules.len)
			pp_buf_add(b, rules.data, rules.len);
		if (hk.len)
			pp_buf_add(b, hk.data, hk.len);
		if (tail.len)
			pp_buf_add(b, tail.data, tail.len);
		pp_buf_addstr(b, "COMMIT\n");
	}
	free(ctr);
	pp_buf_free(&decl);
	pp_buf_free(&rules);
	pp_buf_free(&tail);
	pp_buf_free(&hk);
}

/* A mapping rule reduced to what it does: tag and the rule without its chain name. */
struct tagged {
	const char *tag;                /* points into rule */
	size_t taglen;
	const char *body;               /* after "-A CHAIN " */
	bool nat;
	unsigned long long pkts, bytes;
};

/* The mapping rules of rs, only from chains marked in only (NULL: all). */
static size_t
collect(const struct pp_ruleset *rs, const bool *only, struct tagged **out)
{
	size_t n = 0, cap = 64;
	struct tagged *v = pp_xmalloc(cap * sizeof *v); /* never NULL: qsort's contract */
	for (size_t i = 0; i < rs->n; i++) {
		const struct pp_chain *c = &rs->chains[i];
		if (only && !only[i])
			continue;
		for (size_t j = 0; j < c->n; j++) {
			const char *t = strstr(c->rules[j], "--comment \"pp:");
			if (!t)
				continue;
			if (n == cap) {
				cap *= 2;
				v = pp_xrealloc(v, cap * sizeof *v);
			}
			t += strlen("--comment \"");
			const char *body = strchr(c->rules[j] + 3, ' ');
			v[n++] = (struct tagged){ t, strcspn(t, "\""), body ? body + 1 : "",
			                          c->table == PP_NAT, c->pkts ? c->pkts[j] : 0,
			                          c->bytes ? c->bytes[j] : 0 };
		}
	}
	*out = v;
	return n;
}

static int
cmp_tagged(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;
	size_t n = x->taglen < y->taglen ? x->taglen : y->taglen;
	int c = memcmp(x->tag, y->tag, n);
	if (c == 0 && x->taglen != y->taglen)
		return x->taglen < y->taglen ? -1 : 1;
	if (c == 0 && x->nat != y->nat)
		return x->nat ? -1 : 1;
	return c ? c : strcmp(x->body, y->body);
}

static int
cmp_tag(const struct tagged *x, const struct tagged *y)
{
	size_t n = x->taglen < y->taglen ? x->taglen : y->taglen;
	int c = memcmp(x->tag, y->tag, n);
	if (c == 0 && x->taglen != y->taglen)
		return x->taglen < y->taglen ? -1 : 1;
	return c;
}

/* The ports a DNAT rule catches, to flush their flows. */
static void
add_flush(struct pp_plan *p, const struct tagged *r)
{
	if (!r->nat)
		return;
	unsigned lo = 0, hi = 0;
	const char *d = strstr(r->body, "--dport ");
	if (!d || sscanf(d + 8, "%u:%u", &lo, &hi) < 1)
		return;
	if (hi < lo)
		hi = lo;
	enum pp_proto pr = strstr(r->body, "-p udp") ? PP_UDP : PP_TCP;
	/* Duplicates (one rule per allowed source) are harmless: the flush tests membership. */
	if ((p->nflush & (p->nflush + 1)) == 0 || p->nflush == 0)
		p->flush = pp_xrealloc(p->flush, (2 * p->nflush + 2) * sizeof *p->flush);
	p->flush[p->nflush++] = (struct pp_flush){ pr, (uint16_t)lo, (uint16_t)hi };
}

typedef void (*group_fn)(void *arg, const struct tagged *w, size_t nw, const struct tagged *l,
                         size_t nl);

/*
 * Mark the chains that differ between the two sides. A mapping's rules live
 * in one chain, so a mapping in an identical chain on both sides is
 * unchanged: only marked chains need a look (changing one mapping out of
 * 20,000 then costs one chain, not a sort of every rule).
 */
static void
mark_differing(const struct pp_ruleset *want, const struct pp_ruleset *live, bool **wm, bool **lm)
{
	*wm = pp_xcalloc(want->n + 1, sizeof **wm);
	*lm = pp_xcalloc(live->n + 1, sizeof **lm);
	for (size_t i = 0; i < live->n; i++) {
		const struct pp_chain *l = &live->chains[i];
		struct pp_chain *w = pp_ruleset_chain((struct pp_ruleset *)want, l->table, l->name, false);
		(*lm)[i] = !w || !pp_chain_same(w, l);
	}
	for (size_t i = 0; i < want->n; i++) {
		const struct pp_chain *w = &want->chains[i];
		struct pp_chain *l = pp_ruleset_chain((struct pp_ruleset *)live, w->table, w->name, false);
		(*wm)[i] = !l || !pp_chain_same(w, l);
	}
}

/* Walk both sides grouped by tag; call fn for every tag whose rules differ. */
static void
each_changed(const struct pp_ruleset *want, const struct pp_ruleset *live, group_fn fn, void *arg)
{
	struct tagged *w, *l;
	bool *wm, *lm;
	mark_differing(want, live, &wm, &lm);
	size_t nw = collect(want, wm, &w), nl = collect(live, lm, &l);
	free(wm);
	free(lm);
	qsort(w, nw, sizeof *w, cmp_tagged);
	qsort(l, nl, sizeof *l, cmp_tagged);
	size_t i = 0, j = 0;
	while (i < nw || j < nl) {
		const struct tagged *k = i < nw && (j >= nl || cmp_tag(&w[i], &l[j]) <= 0) ? &w[i] : &l[j];
		size_t a = i, b = j;
		while (a < nw && cmp_tag(&w[a], k) == 0)
			a++;
		while (b < nl && cmp_tag(&l[b], k) == 0)
			b++;
		bool same = a - i == b - j;
		for (size_t q = 0; same && q < a - i; q++)
			same = w[i + q].nat == l[j + q].nat && strcmp(w[i + q].body, l[j + q].body) == 0;
		if (!same)
			fn(arg, w + i, a - i, l + j, b - j);
		i = a;
		j = b;
	}
	free(w);
	free(l);
}

static void
plan_changed(void *arg, const struct tagged *w, size_t nw, const struct tagged *l, size_t nl)
{
	struct pp_plan *p = arg;
	const struct tagged *k = nw ? w : l;
	if ((p->nchanged & (p->nchanged - 1)) == 0) /* 0, 1, 2, 4, ...: grow by doubling */
		p->changed = pp_xrealloc(p->changed, (2 * p->nchanged + 1) * sizeof *p->changed);
	p->changed[p->nchanged++] = pp_xstrndup(k->tag, k->taglen);
	for (size_t i = 0; i < nw; i++)
		add_flush(p, &w[i]);
	for (size_t i = 0; i < nl; i++)
		add_flush(p, &l[i]);
}

/* A rule that no mapping owns: a hook, an entry rule, a tree jump. */
static bool
untagged(const char *rule)
{
	return strstr(rule, "--comment \"pp:") == NULL;
}

static void
add_line(char ***v, size_t *n, char *line)
{
	*v = pp_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = line;
}

/*
 * The rules that tie the mappings to the kernel: hooks from the built-in
 * chains, entry chains and tree jumps. Without them every mapping rule can
 * be in place and still never be reached.
 */
static void
layout_drift(const struct pp_ruleset *want, const struct pp_ruleset *live, char ***lines, size_t *n)
{
	struct pp_ruleset *lv = (struct pp_ruleset *)live;
	for (int t = 0; t < PP_NF__COUNT; t++) {
		const struct pp_chain *wh = &want->hooks[t], *lh = &live->hooks[t];
		for (size_t i = 0; i < wh->n; i++)
			if (count_rule(lh, wh->rules[i]) == 0)
				add_line(lines, n,
				         pp_xasprintf("%s: missing %s", table_names[t], wh->rules[i]));
	}
	for (size_t i = 0; i < want->n; i++) {
		const struct pp_chain *w = &want->chains[i];
		const struct pp_chain *l = pp_ruleset_chain(lv, w->table, w->name, false);
		if (l && pp_chain_same(w, l))      /* most chains: one strcmp a rule, no search */
			continue;
		for (size_t j = 0; j < w->n; j++) {
			if (!untagged(w->rules[j]) || (l && count_rule(l, w->rules[j]) > 0))
				continue;
			add_line(lines, n,
			         pp_xasprintf("%s: missing %s", table_names[w->table], w->rules[j]));
		}
		for (size_t j = 0; l && j < l->n; j++) {
			if (untagged(l->rules[j]) && count_rule(w, l->rules[j]) == 0)
				add_line(lines, n,
				         pp_xasprintf("%s: unexpected %s", table_names[w->table], l->rules[j]));
		}
	}
}

void
pp_plan_make(const struct pp_ruleset *want, const struct pp_ruleset *live, struct pp_plan *p)
{
	memset(p, 0, sizeof *p);
	struct pp_buf b = { 0 };
	plan_table(want, live, PP_NAT, p, &b);
	plan_table(want, live, PP_FILTER, p, &b);
	p->restore = b.data;
	each_changed(want, live, plan_changed, p);
	/* Nothing of portpilot's live yet (the first apply): every line would read missing; the
	 * mappings say so (all changed), status and the dry run show no layout line then. */
	if (live->n || live->hooks[PP_NAT].n || live->hooks[PP_FILTER].n)
		layout_drift(want, live, &p->layout, &p->nlayout);
}

static void
diff_changed(void *arg, const struct tagged *w, size_t nw, const struct tagged *l, size_t nl)
{
	FILE *f = arg;
	const struct tagged *k = nw ? w : l;
	fprintf(f, "%c %.*s\n", nl == 0 ? '+' : nw == 0 ? '-' : '~', (int)k->taglen - 3, k->tag + 3);
	for (size_t i = 0; i < nl; i++)
		fprintf(f, "    - %s %s\n", l[i].nat ? "nat   " : "filter", l[i].body);
	for (size_t i = 0; i < nw; i++)
		fprintf(f, "    + %s %s\n", w[i].nat ? "nat   " : "filter", w[i].body);
}

void
pp_plan_diff(FILE *f, const struct pp_ruleset *want, const struct pp_ruleset *live)
{
	each_changed(want, live, diff_changed, f);
	/* What status calls ruleset drift, in the same words: a [site] change (public_ip, hairpin)
	 * or a hook deleted by hand changes these and no mapping's own rules. */
	char **v = NULL;
	size_t n = 0;
	/* Nothing of portpilot's live yet (the first apply): every line would read missing; status
	 * shows none then either. */
	if (live->n || live->hooks[PP_NAT].n || live->hooks[PP_FILTER].n)
		layout_drift(want, live, &v, &n);
	if (n)
		fprintf(f, "= layout (the rules that lead traffic to the mappings; no mapping's own rules):\n");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "    %s\n", v[i]);
		free(v[i]);
	}
	free(v);
}


/* ---- status: each mapping's rules in the kernel against the rendered ones ---- */

const char *
pp_sync_name(enum pp_sync s)
{
	static const char *n[] = { "in_sync", "missing", "drifted", "inactive", "stale", "shadowed", "blocked" };
	return n[s];
}

/* First index in v (sorted) whose tag is >= tag. */
static size_t
lower(const struct tagged *v, size_t n, const struct tagged *k)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cmp_tag(&v[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t
span(const struct tagged *v, size_t n, const struct tagged *k, size_t *first)
{
	size_t a = lower(v, n, k), b = a;
	while (b < n && cmp_tag(&v[b], k) == 0)
		b++;
	*first = a;
	return b - a;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mappings whose rules are in the kernel though the table has no such section. */
static void
orphans(const struct pp_want *t, const struct tagged *l, size_t nl, struct pp_layout_status *ls)
{
	char **tags = pp_xcalloc(t->n + 1, sizeof *tags);
	for (size_t i = 0; i < t->n; i++)
		tags[i] = t->maps[i].tag;
	qsort(tags, t->n, sizeof *tags, cmp_str);
	for (size_t i = 0; i < nl; i++) {
		if (i > 0 && cmp_tag(&l[i - 1], &l[i]) == 0)
			continue;
		char *tag = pp_xstrndup(l[i].tag, l[i].taglen);
		if (!bsearch(&tag, tags, t->n, sizeof *tags, cmp_str))
			add_line(&ls->orphans, &ls->norphans, pp_xstrdup(tag + 3));
		free(tag);
	}
	free(tags);
}

/* The query of want's mapping m (wan_addr: the WAN interface's address, for public_ip auto). */
static void
query_of(const struct pp_want *t, const struct pp_want_map *m, uint32_t wan_addr, struct pp_foreign_query *q)
{
	*q = (struct pp_foreign_query){ .proto = m->proto, .pub_lo = m->pub_lo, .pub_hi = m->pub_hi,
	                                .in_lo = m->in_lo, .in_hi = m->in_hi, .internal_ip = m->internal_ip,
	                                .public_ip = t->public_ip ? t->public_ip : wan_addr,
	                                .wan_if = t->wan_if, .lan_if = t->lan_if };
}

void
pp_ipt_status(const struct pp_want *t, const struct pp_ruleset *want, const struct pp_ruleset *live,
              const struct pp_foreign *fr, struct pp_map_status *st, struct pp_layout_status *ls)
{
	/*
	 * One source of truth with apply --dry-run: a mapping is drifted (or
	 * missing, or stale) exactly when the plan an apply would make rewrites
	 * its rules, and the ruleset drift is the plan's layout lines. A [site]
	 * change (public_ip, hairpin) or a hook deleted by hand changes the
	 * layout, not the mappings: the dry run changes none of them and status
	 * says so (the ruleset line above the rows says they may not be reached).
	 * The backend's plan op is this pp_plan_make plus counters, which change
	 * neither the changed list nor the layout.
	 */
	struct pp_plan p;
	pp_plan_make(want, live, &p);
	/* p.changed comes out in tag order; sorting again costs nothing and makes bsearch safe
	 * (NULL when nothing changed: qsort and bsearch may not be given it). */
	if (p.nchanged > 1)
		qsort(p.changed, p.nchanged, sizeof *p.changed, cmp_str);
	struct tagged *l;
	size_t nl = collect(live, NULL, &l);
	qsort(l, nl, sizeof *l, cmp_tagged);
	/* Nothing of portpilot's in the kernel (never applied): the rows say missing, enough. */
	bool any = live->n || live->hooks[PP_NAT].n || live->hooks[PP_FILTER].n;
	if (ls && any) {
		for (size_t i = 0; i < p.nlayout; i++)
			add_line(&ls->problems, &ls->nproblems, p.layout[i]);
		free(p.layout);
		p.layout = NULL;
		p.nlayout = 0;
	}
	if (ls)
		orphans(t, l, nl, ls);
	uint32_t wan_addr = pp_iface_addr4(t->wan_if);
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_want_map *m = &t->maps[i];
		struct pp_map_status *s = &st[i];
		struct tagged k = { m->tag, strlen(m->tag), "", false, 0, 0 };
		size_t fl, cl = span(l, nl, &k, &fl);
		char *tag = m->tag;
		bool changed = p.nchanged && bsearch(&tag, p.changed, p.nchanged, sizeof *p.changed, cmp_str);
		s->name = m->name;
		if (!m->active)
			s->sync = cl ? PP_SYNC_STALE : PP_SYNC_INACTIVE;
		else
			s->sync = !changed ? PP_SYNC_OK : cl == 0 ? PP_SYNC_MISSING : PP_SYNC_DRIFTED;
		for (size_t q = 0; q < cl; q++) {
			/* The DNAT rules count connections; a masquerade rule would count them twice. */
			if (!l[fl + q].nat || strstr(l[fl + q].body, " -j MASQUERADE"))
				continue;
			s->pkts += l[fl + q].pkts;
			s->bytes += l[fl + q].bytes;
		}
		/* Its own rules in place do not make it work when another tool's rule meets the
		 * traffic first: say which, as the probe does. */
		struct pp_foreign_query q;
		struct pp_foreign_hit h;
		bool hit = false;
		query_of(t, m, wan_addr, &q);
		/* Every element of a port list: the first one another tool's rule takes or drops. */
		for (size_t e = 0; e < pp_want_nports(m) && !hit && m->active; e++) {
			struct pp_port_pair pr = pp_want_port(m, e);
			q.pub_lo = pr.pub_lo, q.pub_hi = pr.pub_hi, q.in_lo = pr.in_lo, q.in_hi = pr.in_hi;
			hit = pp_foreign_first(fr, &q, &h) != 0;
		}
		if (hit) {
			s->shadow = pp_xstrdup(h.rule);
			s->shadow_words = pp_foreign_words(&h);
			s->shadow_drops = h.kind == PP_FOREIGN_DROP;
			if (s->sync == PP_SYNC_OK)
				s->sync = h.kind == PP_FOREIGN_DNAT ? PP_SYNC_SHADOWED : PP_SYNC_BLOCKED;
		}
	}
	free(l);
	pp_plan_free(&p);
}

