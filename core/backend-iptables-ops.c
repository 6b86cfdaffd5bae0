/* The iptables backend behind struct pp_backend_ops: the engine's questions in iptables text. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"

/* The engine's opaque state: one ruleset. */
struct ipt_state {
	struct pp_ruleset rs;
	struct pp_ruleset rs6;          /* the pinholes in ip6tables' filter table (core/rules-render6.c) */
};
/* Everything else a read saw: the save text of nat and filter, raw and mangle, parsed lazily. */
struct ipt_view {
	char *save[PP_NF__COUNT];
	char *save_more;
	struct pp_foreign *fr;
	char *filter6;                  /* ip6tables' filter table, NULL when unreadable */
};

#define ST(s) ((struct ipt_state *)(s))
#define CST(s) ((const struct ipt_state *)(s))
#define IPT(b) ((struct pp_ipt *)(b)->priv)

static struct pp_be_state *
state_new(void)
{
	struct ipt_state *s = pp_xcalloc(1, sizeof *s);
	pp_ip6_empty(&s->rs6);
	return (struct pp_be_state *)s;
}

/* The ip6tables of the system's variant. */
static void
ipt6(struct pp_backend *b, struct pp_ipt *v6)
{
	pp_ipt6_of(IPT(b), v6);
}

/* A saved state or facts blob: the IPv4 part, and what follows PP_IP6_MARK (NULL: none). */
static char *
split6(const char *blob, char **v6)
{
	const char *m = blob;
	while ((m = strstr(m, PP_IP6_MARK)) != NULL && m != blob && m[-1] != '\n')
		m++;
	*v6 = m ? pp_xstrdup(m + strlen(PP_IP6_MARK)) : NULL;
	return m ? pp_xstrndup(blob, (size_t)(m - blob)) : pp_xstrdup(blob);
}

/* A plan's restore text: IPv4 part, IPv6 part (NULL none) and its undo (NULL none). Caller frees. */
static char *
split_plan(const char *restore, char **v6, char **undo)
{
	char *v4 = split6(restore ? restore : "", v6);
	*undo = NULL;
	char *k = *v6 ? strstr(*v6, PP_IP6_KEEP) : NULL;
	if (k)
		*k = '\0';
	char *u = *v6 ? strstr(*v6, PP_IP6_UNDO) : NULL;
	if (u) {
		*undo = *u && u[strlen(PP_IP6_UNDO)] ? pp_xstrdup(u + strlen(PP_IP6_UNDO)) : NULL;
		*u = '\0';
	}
	return v4;
}

static void
state_free(struct pp_be_state *s)
{
	if (!s)
		return;
	pp_ruleset_free(&ST(s)->rs);
	pp_ruleset_free(&ST(s)->rs6);
	free(s);
}

static int
detect(char *why, size_t n, struct pp_error *err)
{
	struct pp_ipt b;
	if (pp_ipt_open(&b, err) < 0)
		return -1;
	snprintf(why, n, "%s", b.cmd);
	return 0;
}

static int
open_(struct pp_backend *b, struct pp_error *err)
{
	struct pp_ipt *x = pp_xcalloc(1, sizeof *x);
	if (pp_ipt_open(x, err) < 0) {
		free(x);
		return -1;
	}
	b->priv = x;
	snprintf(b->variant, sizeof b->variant, "%s", x->variant);
	return 0;
}

static void
close_(struct pp_backend *b)
{
	free(b->priv);
	b->priv = NULL;
}

static int
render(struct pp_backend *b, const struct pp_want *w, struct pp_be_state **out, struct pp_error *err)
{
	(void)err;
	*out = state_new();
	pp_ipt_render(w, IPT(b)->docker_user, &ST(*out)->rs);
	pp_ruleset_free(&ST(*out)->rs6);
	pp_ip6_render(w, &ST(*out)->rs6);
	return 0;
}

static int
read_(struct pp_backend *b, struct pp_live *live, struct pp_error *err)
{
	struct pp_ipt_live l;
	if (pp_ipt_read(IPT(b), &l, err) < 0)
		return -1;
	struct ipt_view *v = pp_xcalloc(1, sizeof *v);
	live->own = state_new();
	ST(live->own)->rs = l.own;
	v->save[PP_NAT] = l.save[PP_NAT];
	v->save[PP_FILTER] = l.save[PP_FILTER];
	v->save_more = l.save_more;
	live->view = v;
	/* A kernel without IPv6 reads as no pinholes: an apply that wants some fails at its commit. */
	struct pp_ipt x6;
	struct pp_error e6;
	ipt6(b, &x6);
	pp_ruleset_free(&ST(live->own)->rs6);
	pp_ip6_read(&x6, &ST(live->own)->rs6, &v->filter6, &e6);
	return 0;
}

static void
live_free(struct pp_live *live)
{
	struct ipt_view *v = live->view;
	state_free(live->own);
	if (v) {
		free(v->save[PP_NAT]);
		free(v->save[PP_FILTER]);
		free(v->save_more);
		pp_foreign_free(v->fr);
		free(v->filter6);
		free(v);
	}
	live->own = NULL;
	live->view = NULL;
}

/* Every foreign rule the live state holds (raw, mangle, nat, filter): one parse for all questions. */
static const struct pp_foreign *
foreign(const struct pp_live *live)
{
	struct ipt_view *v = live->view;
	if (!v)
		return NULL;
	if (!v->fr) {
		char *all = pp_xasprintf("%s%s%s", v->save_more ? v->save_more : "",
		                         v->save[PP_NAT] ? v->save[PP_NAT] : "",
		                         v->save[PP_FILTER] ? v->save[PP_FILTER] : "");
		v->fr = pp_foreign_parse(all);
		free(all);
	}
	return v->fr;
}

static char *
save(const struct pp_be_state *s, size_t *len)
{
	char *t = pp_ruleset_text(&CST(s)->rs);
	const struct pp_ruleset *r6 = &CST(s)->rs6;
	if (r6->n || r6->hooks[PP_FILTER].n) {
		char *t6 = pp_ruleset_text(r6), *all = pp_xasprintf("%s%s%s", t, PP_IP6_MARK, t6);
		free(t);
		free(t6);
		t = all;
	}
	if (len)
		*len = strlen(t);
	return t;
}

/* A snapshot back into a ruleset. Docker may not be up yet (at boot): its hook waits for the
   next apply, since a jump from a chain that does not exist fails the whole transaction. */
static int
load(struct pp_backend *b, const char *blob, size_t len, struct pp_be_state **out, struct pp_error *err)
{
	(void)len;
	*out = state_new();
	struct pp_ruleset *rs = &ST(*out)->rs;
	char *v6, *v4 = split6(blob, &v6);
	int rc = pp_ruleset_parse_buf(v4, rs, err);
	if (rc == 0 && v6) {
		pp_ruleset_free(&ST(*out)->rs6);
		rc = pp_ruleset_parse_buf(v6, &ST(*out)->rs6, err);
		v6 = NULL;
	}
	free(v6);
	if (rc < 0) {
		state_free(*out);
		*out = NULL;
		return -1;
	}
	if (!IPT(b)->docker_user) {
		struct pp_chain *h = &rs->hooks[PP_FILTER];
		size_t k = 0;
		for (size_t i = 0; i < h->n; i++) {
			if (strncmp(h->rules[i], "-A DOCKER-USER ", 15) == 0)
				pp_ruleset_rule_free(rs, h->rules[i]);
			else
				h->rules[k++] = h->rules[i];
		}
		h->n = k;
	}
	return 0;
}

static void
drop_in(struct pp_ruleset *rs, const char *tag)
{
	char *needle = pp_xasprintf("--comment \"%s\" ", tag);
	for (size_t c = 0; c < rs->n; c++) {
		struct pp_chain *ch = &rs->chains[c];
		size_t k = 0;
		for (size_t r = 0; r < ch->n; r++) {
			if (strstr(ch->rules[r], needle))
				pp_ruleset_rule_free(rs, ch->rules[r]);
			else
				ch->rules[k++] = ch->rules[r];
		}
		ch->n = k;
	}
	free(needle);
}

static void
drop_mapping(struct pp_be_state *s, const char *tag)
{
	drop_in(&ST(s)->rs, tag);
	drop_in(&ST(s)->rs6, tag);
}

/* Tables (transactions) in iptables-restore input: each COMMIT bumps the nf_tables generation once. */
static unsigned long
commits(const char *restore)
{
	unsigned long n = 0;
	for (const char *s = restore; s && (s = strstr(s, "COMMIT\n")) != NULL; s += 7)
		n += s == restore || s[-1] == '\n';
	return n;
}

/* "-A X ... -c P B -j ..." (iptables -v -S) -> the rule as iptables-save prints it, and P, B. */
static bool
uncount(const char *line, char *rule, size_t n, unsigned long long *pk, unsigned long long *by)
{
	const char *at = NULL;
	for (const char *c = line; (c = strstr(c, " -c ")) != NULL; c++) {
		unsigned long long a, b;
		int used = 0;
		if (sscanf(c + 4, "%llu %llu%n", &a, &b, &used) == 2 && (c[4 + used] == ' ' || !c[4 + used])) {
			at = c;
			*pk = a;
			*by = b;
		}
	}
	if (!at)
		return false;
	const char *rest = at + 4 + strspn(at + 4, "0123456789");
	rest += strspn(rest, " ");
	rest += strspn(rest, "0123456789");
	return snprintf(rule, n, "%.*s%s", (int)(at - line), line, rest) < (int)n;
}

/*
 * A live state from the last apply's record has no counters. The chains this plan writes
 * again that hold mappings' rules are read with their counters (one `iptables -v -S CHAIN`
 * each, a leaf for a one-mapping change), so the plan can carry them over.
 */
static void
fill_counters(const struct pp_ipt *x, const struct pp_ruleset *want, struct pp_ruleset *live)
{
	static const char *const tn[PP_NF__COUNT] = { "nat", "filter" };
	for (size_t i = 0; i < live->n; i++) {
		struct pp_chain *l = &live->chains[i];
		const struct pp_chain *w = pp_ruleset_chain((struct pp_ruleset *)want, l->table, l->name, false);
		bool tagged = false;
		for (size_t j = 0; j < l->n && !tagged; j++)
			tagged = strstr(l->rules[j], "--comment \"pp:") != NULL;
		if (l->pkts || !tagged || (w && pp_chain_same(w, l)))
			continue;
		char *out = NULL, *argv[] = { (char *)x->cmd, "-t", (char *)tn[l->table], "-v", "-S", l->name, NULL };
		if (pp_run(argv, NULL, &out, NULL) == 0) {
			l->pkts = pp_xcalloc(l->cap + 1, sizeof *l->pkts);
			l->bytes = pp_xcalloc(l->cap + 1, sizeof *l->bytes);
			size_t k = 0;
			for (char *ln = out; ln && *ln; ln = strchr(ln, '\n') ? strchr(ln, '\n') + 1 : NULL) {
				char line[1024], rule[1024];
				unsigned long long pk, by;
				snprintf(line, sizeof line, "%.*s", (int)strcspn(ln, "\n"), ln);
				if (strncmp(line, "-A ", 3) != 0 || !uncount(line, rule, sizeof rule, &pk, &by))
					continue;
				/* In order, as the chain holds them; a rule it does not know keeps 0. */
				for (size_t j = k; j < l->n; j++)
					if (strcmp(l->rules[j], rule) == 0) {
						l->pkts[j] = pk;
						l->bytes[j] = by;
						k = j + 1;
						break;
					}
			}
		}
		free(out);
	}
}

static void
plan(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live, struct pp_plan *p)
{
	/* Counters are filled into the live state, which is ours: the plan itself changes nothing. */
	fill_counters(IPT(b), &CST(want)->rs, &((struct ipt_state *)live)->rs);
	pp_plan_make(&CST(want)->rs, &CST(live)->rs, p);
	p->commits = commits(p->restore);
	/* The pinholes: their own transaction (ip6tables-restore), after the mark; and the way
	   back to live, so a refused IPv4 commit leaves IPv6 as it was. */
	struct pp_ipt x6;
	struct pp_plan p6, undo;
	ipt6(b, &x6);
	fill_counters(&x6, &CST(want)->rs6, &((struct ipt_state *)live)->rs6);
	pp_plan_make(&CST(want)->rs6, &CST(live)->rs6, &p6);
	if (!p6.restore) {
		pp_plan_free(&p6);
		return;
	}
	pp_plan_make(&CST(live)->rs6, &CST(want)->rs6, &undo);
	/* The pinholes that stay: flows of the others are cut after the commit (flush). */
	struct pp_buf keep = { 0 };
	const struct pp_chain *pin = pp_ruleset_chain((struct pp_ruleset *)&CST(want)->rs6, PP_FILTER, "PP-PIN", false);
	for (size_t i = 0; pin && i < pin->n; i++)
		pp_buf_printf(&keep, "%s\n", pin->rules[i]);
	pp_ip6_keep_nat(&CST(want)->rs6, &keep);
	char *all = pp_xasprintf("%s%s%s%s%s%s%s", p->restore ? p->restore : "", PP_IP6_MARK, p6.restore,
	                         PP_IP6_UNDO, undo.restore ? undo.restore : "", PP_IP6_KEEP,
	                         keep.data ? keep.data : "");
	pp_buf_free(&keep);
	free(p->restore);
	p->restore = all;
	p->commits += commits(p6.restore);
	p->chains_written += p6.chains_written;
	p->chains_dropped += p6.chains_dropped;
	p->hooks_changed += p6.hooks_changed;
	for (size_t i = 0; i < p6.nchanged; i++) {
		bool dup = false;
		for (size_t k = 0; k < p->nchanged && !dup; k++)
			dup = strcmp(p->changed[k], p6.changed[i]) == 0;
		if (dup)
			continue;
		p->changed = pp_xrealloc(p->changed, (p->nchanged + 1) * sizeof *p->changed);
		p->changed[p->nchanged++] = p6.changed[i];
		p6.changed[i] = NULL;
	}
	pp_plan_free(&p6);
	pp_plan_free(&undo);
}

static void
diff(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live, FILE *f)
{
	(void)b;
	pp_plan_diff(f, &CST(want)->rs, &CST(live)->rs);
	/* The IPv6 part's lines name their table "ip6 filter", "ip6 nat", so a reader tells the two apart. */
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return;
	pp_plan_diff(m, &CST(want)->rs6, &CST(live)->rs6);
	fclose(m);
	for (char *l = buf; l && *l;) {
		char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (n > 13 && (strncmp(l, "    + filter ", 13) == 0 || strncmp(l, "    - filter ", 13) == 0))
			fprintf(f, "%.6sip6 %.*s\n", l, (int)(n - 6), l + 6);
		else if (n > 13 && (strncmp(l, "    + nat    ", 13) == 0 || strncmp(l, "    - nat    ", 13) == 0))
			fprintf(f, "%.6sip6 nat %.*s\n", l, (int)(n - 13), l + 13);
		else
			fprintf(f, "%.*s\n", (int)n, l);
		l = e ? e + 1 : NULL;
	}
	free(buf);
}

/*
 * iptables-nft-restore --test stops before the kernel commit (it catches what
 * the parser rejects), and each table's commit is an atomic nf_tables
 * transaction anyway (iptables-legacy replaces a table in one call): a plan
 * for one table needs no test. A plan for both
 * could leave nat committed and filter refused, so a small one is tested
 * first; on big plans the extra parse costs about as much as the commit, so
 * there a failure is undone from the snapshot instead. iptables-legacy
 * tests cheaply: always test plans for both tables there.
 */
static bool
needs_test(const struct pp_ipt *b, const char *restore)
{
	if (commits(restore) < 2)
		return false;
	if (strcmp(b->variant, "nft") != 0)
		return true;
	size_t rules = 0;
	for (const char *s = restore; (s = strstr(s, "\n-A ")) != NULL; s += 4)
		if (++rules > 2000)
			return false;
	return true;
}

static int
test(struct pp_backend *b, const struct pp_plan *p, bool always, struct pp_error *err)
{
	if (!p->restore)
		return 0;
	char *v6, *undo, *v4 = split_plan(p->restore, &v6, &undo);
	int rc = 0;
	/* Two transactions: a refused IPv4 part is undone on the IPv6 side by commit, so test
	   what the IPv4 rules alone would; a rollback (always) tests both. */
	if (*v4 && (always || needs_test(IPT(b), v4)))
		rc = pp_ipt_restore(IPT(b), v4, true, err);
	if (rc == 0 && v6 && always) {
		struct pp_ipt x6;
		ipt6(b, &x6);
		rc = pp_ipt_restore(&x6, v6, true, err);
	}
	free(v4);
	free(v6);
	free(undo);
	return rc;
}

static int
commit(struct pp_backend *b, struct pp_plan *p, void (*during)(void *), void *arg, struct pp_error *err)
{
	char *v6, *undo, *v4 = split_plan(p->restore, &v6, &undo);
	struct pp_ipt x6;
	ipt6(b, &x6);
	/* The pinholes first: when ip6tables refuses them nothing has changed yet. */
	if (v6 && pp_ipt_restore(&x6, v6, false, err) < 0) {
		free(v4);
		free(v6);
		free(undo);
		return -1;
	}
	int rc = 0;
	if (*v4 || !v6) {
		struct pp_proc *job = pp_ipt_restore_start(IPT(b), v4, false);
		if (job && during)
			during(arg);
		rc = pp_ipt_restore_finish(IPT(b), job, false, err);
		struct pp_error ignored;
		if (rc < 0 && undo)
			pp_ipt_restore(&x6, undo, false, &ignored);
	} else if (during) {
		during(arg);
	}
	/* the last NAT66 mapping gone: no empty ip6 nat table of portpilot's making stays behind */
	if (rc == 0 && v6 && strstr(v6, "\n-X PP-PRE\n"))
		pp_ip6_nat_tidy(&x6);
	free(v4);
	free(v6);
	free(undo);
	return rc;
}

/* The IPv4 flows of changed mappings (the neutral flush), then the IPv6 flows of closed pinholes. */
static void
flush(struct pp_backend *b, struct pp_plan *p)
{
	(void)b;
	pp_conntrack_flush(p);
	const char *k = p->restore ? strstr(p->restore, PP_IP6_KEEP) : NULL;
	if (k)
		pp_ip6_flush(k + strlen(PP_IP6_KEEP), p);
}

static int
gen(struct pp_backend *b, struct pp_gen *g)
{
	return pp_ipt_gen(IPT(b), g);
}

/* Remove the first "-A FORWARD rest" of v (n lines); false if there is none. */
static bool
drop_first(char **v, size_t *n, const char *rest)
{
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(v[i], "-A FORWARD ", 11) != 0 || strcmp(v[i] + 11, rest) != 0)
			continue;
		free(v[i]);
		memmove(v + i, v + i + 1, (*n - i - 1) * sizeof *v);
		(*n)--;
		return true;
	}
	return false;
}

/*
 * What the host checks need of the filter table after this apply, as
 * iptables-save text: FORWARD's policy and rules, DOCKER-USER's existence.
 * Built from the text read before and the hook changes of the restore
 * (-D deletes the first match, -I FORWARD 1 goes on top), so an apply that
 * skips reading the kernel still warns about a DROP ahead of portpilot.
 */
static char *
filter_facts(const char *pre, const char *restore)
{
	size_t n = 0, cap = 16;
	char **v = pp_xmalloc(cap * sizeof *v);
	struct pp_buf b = { 0 };
	pp_buf_addstr(&b, "*filter\n");
	for (const char *l = pre ? pre : ""; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0')) {
		size_t len = strcspn(l, "\n");
		const char *r = l[0] == '[' && memchr(l, ']', len) ? (const char *)memchr(l, ']', len) + 2 : l;
		if (strncmp(l, ":FORWARD ", 9) == 0 || strncmp(l, ":DOCKER-USER ", 13) == 0) {
			pp_buf_printf(&b, "%.*s\n", (int)len, l);
		} else if (strncmp(r, "-A FORWARD ", 11) == 0) {
			if (n == cap)
				v = pp_xrealloc(v, (cap *= 2) * sizeof *v);
			v[n++] = pp_xstrndup(r, len - (size_t)(r - l));
		}
	}
	const char *f = restore ? strstr(restore, "*filter\n") : NULL;
	for (const char *l = f; l && *l && strncmp(l, "COMMIT", 6) != 0; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		char *line = pp_xstrndup(l, strcspn(l, "\n"));
		if (strncmp(line, "-D FORWARD ", 11) == 0) {
			drop_first(v, &n, line + 11);
		} else if (strncmp(line, "-I FORWARD 1 ", 13) == 0) {
			if (n == cap)
				v = pp_xrealloc(v, (cap *= 2) * sizeof *v);
			memmove(v + 1, v, n * sizeof *v);
			v[0] = pp_xasprintf("-A FORWARD %s", line + 13);
			n++;
		}
		free(line);
	}
	for (size_t i = 0; i < n; i++) {
		pp_buf_printf(&b, "%s\n", v[i]);
		free(v[i]);
	}
	free(v);
	pp_buf_addstr(&b, "COMMIT\n");
	return b.data;
}

static char *
facts(struct pp_backend *b, const struct pp_live *live, const struct pp_plan *p)
{
	(void)b;
	const struct ipt_view *v = live->view;
	char *v6, *undo, *v4 = split_plan(p ? p->restore : NULL, &v6, &undo);
	char *f = filter_facts(v ? v->save[PP_FILTER] : NULL, p && p->restore ? v4 : NULL);
	free(v4);
	free(v6);
	free(undo);
	/* What the IPv6 check needs (the ip6 FORWARD policy), behind the same mark as a state's. */
	if (v && v->filter6) {
		char *all = pp_xasprintf("%s%s%s", f, PP_IP6_MARK, v->filter6);
		free(f);
		f = all;
	}
	return f;
}

static int
adopt(struct pp_backend *b, char *own, char *fx, struct pp_live *live, struct pp_error *err)
{
	/* own NULL: live->own is in place already (the engine's memory of its last commit) */
	struct pp_be_state *s = own ? state_new() : NULL;
	char *o6 = NULL, *o4 = own ? split6(own, &o6) : NULL;
	free(own);
	int rc = o4 ? pp_ruleset_parse_buf(o4, &ST(s)->rs, err) : 0;
	if (rc == 0 && o6) {
		pp_ruleset_free(&ST(s)->rs6);
		rc = pp_ruleset_parse_buf(o6, &ST(s)->rs6, err);
		o6 = NULL;
	}
	free(o6);
	if (rc < 0) {
		state_free(s);
		free(fx);
		return -1;
	}
	struct ipt_view *v = pp_xcalloc(1, sizeof *v);
	char *f6, *f4 = split6(fx, &f6);
	free(fx);
	fx = f4;
	v->filter6 = f6;
	v->save[PP_NAT] = pp_xstrdup("");
	v->save[PP_FILTER] = fx;
	IPT(b)->docker_user = strstr(fx, "\n:DOCKER-USER ") != NULL;
	if (s)
		live->own = s;
	live->view = v;
	return 0;
}

static int
status(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live, struct pp_map_status *st,
       struct pp_layout_status *ls, struct pp_error *err)
{
	(void)err;
	struct pp_ruleset want;
	pp_ipt_render(w, IPT(b)->docker_user, &want);
	pp_ipt_status(w, &want, &CST(live->own)->rs, foreign(live), st, ls);
	pp_ruleset_free(&want);
	const struct ipt_view *v = live->view;
	pp_ip6_render(w, &want);
	pp_ip6_status(w, &want, &CST(live->own)->rs6, v ? v->filter6 : NULL, st, ls);
	pp_ruleset_free(&want);
	return 0;
}

static void
checks(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live, struct pp_findings *out)
{
	(void)b;
	const struct ipt_view *v = live ? live->view : NULL;
	pp_ipt_checks(w, v ? v->save[PP_FILTER] : NULL, live ? foreign(live) : NULL, out);
	pp_ip6_checks(w, v ? v->filter6 : NULL, out);
}

static int
foreign_first(struct pp_backend *b, const struct pp_live *live, const struct pp_foreign_query *q,
              struct pp_foreign_hit *hit)
{
	(void)b;
	const struct pp_foreign *fr = foreign(live);
	if (!fr)
		return -1;
	return pp_foreign_first(fr, q, hit);
}

/* The --dport (or --dports list) of a rule covers port. */
static bool
rule_dport(const char *line, uint16_t port)
{
	const char *p = strstr(line, "--dport ");
	unsigned lo, hi;
	if (p) {
		p += 8;
		int k = sscanf(p, "%u:%u", &lo, &hi);
		return k == 2 ? port >= lo && port <= hi : k == 1 && lo == port;
	}
	if (!(p = strstr(line, "--dports ")))
		return false;
	for (p += 9; *p && *p != ' ';) {
		int k = sscanf(p, "%u:%u", &lo, &hi);
		if ((k == 2 && port >= lo && port <= hi) || (k >= 1 && lo == port))
			return true;
		p += strcspn(p, ", ");
		p += *p == ',';
	}
	return false;
}

static bool
rule_dnat_to(const char *line, const struct pp_mapping *m, const char *proto)
{
	char ip[16], want[48];
	const char *to = strstr(line, "--to-destination ");
	if (!strstr(line, "-j DNAT") || !to || !rule_dport(line, m->pub_lo))
		return false;
	snprintf(want, sizeof want, "-p %s ", proto);
	if (!strstr(line, want))
		return false;
	pp_format_ipv4(m->internal_ip, ip);
	to += 17;
	size_t il = strlen(ip);
	if (strncmp(to, ip, il) || (to[il] != ':' && to[il] != ' ' && to[il] && to[il] != '\n'))
		return false;
	return to[il] != ':' || (unsigned)atoi(to + il + 1) == m->in_lo;
}

/* The mapping's DNAT in the live nat table (whoever wrote it) and its counter. */
static void
dnat_present(struct pp_backend *b, const struct pp_live *live, const struct pp_mapping *m,
             struct pp_dnat_answer *a)
{
	(void)b;
	static const char *const protos[] = { "tcp", "udp" };
	const struct ipt_view *v = live->view;
	const char *nat = v ? v->save[PP_NAT] : NULL;
	memset(a, 0, sizeof *a);
	snprintf(a->where, sizeof a->where, "nat table");
	snprintf(a->how, sizeof a->how, "iptables-save -t nat");
	a->present = true;
	for (int k = 0; k < 2; k++) {
		if (!(m->proto & (k ? PP_UDP : PP_TCP)))
			continue;
		bool found = false;
		for (const char *l = nat; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
			char line[1024];
			snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
			unsigned long long pk = 0, by = 0;
			if (rule_dnat_to(line, m, protos[k])) {
				found = true;
				if (sscanf(line, "[%llu:%llu]", &pk, &by) == 2)
					a->pkts += pk;
			}
		}
		if (!found) {
			a->present = false;
			snprintf(a->missing_proto, sizeof a->missing_proto, "%s", protos[k]);
		}
	}
}

/* FORWARD policy DROP, and an ACCEPT for DNATed traffic or the server. */
static void
forward_state(struct pp_backend *b, const struct pp_live *live, uint32_t internal_ip,
              struct pp_forward_answer *a)
{
	(void)b;
	const struct ipt_view *v = live->view;
	const char *filter = v && v->save[PP_FILTER] ? v->save[PP_FILTER] : "";
	char ip[16], dst[24];
	memset(a, 0, sizeof *a);
	snprintf(a->where, sizeof a->where, "filter FORWARD");
	a->policy_drop = strstr(filter, ":FORWARD DROP") != NULL;
	pp_format_ipv4(internal_ip, ip);
	snprintf(dst, sizeof dst, "-d %s/32 ", ip);
	for (const char *l = filter; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
		if (strstr(line, "-j ACCEPT") && (strstr(line, "DNAT") || strstr(line, dst)))
			a->accept = true;
	}
}

/*
 * The kernel's verdict, not the table's: a new connection leaving through POSTROUTING DNATed
 * was forwarded, filter FORWARD passed it ("pp-acc"); one reaching INPUT from the WAN without
 * DNAT was not ("pp-rej"), nor one from a LAN client to an address outside the LAN, i.e. the
 * public one (hairpin). mangle only, in portpilot's own chain: core's nat and filter rules
 * stay untouched. The jumps are one text to add and to delete.
 */
static char *
rule_jumps(const struct pp_log_spec *s, char op)
{
	char net[16], hairpin[128] = "";
	pp_format_ipv4(s->lan.addr, net);
	if (s->lan_if && *s->lan_if && s->lan.len)
		snprintf(hairpin, sizeof hairpin, "-%c INPUT -i %s ! -d %s/%u -j PP-LOG-%d\n", op, s->lan_if, net,
		         s->lan.len, s->group);
	return pp_xasprintf("-%c POSTROUTING -m conntrack --ctstate DNAT -j PP-LOG-%d\n"
	                    "-%c INPUT -i %s -j PP-LOG-%d\n%s", op, s->group, op, s->wan_if, s->group, hairpin);
}

/*
 * The same over IPv6 (issue 15), in ip6tables' mangle table: a NAT66 flow is DNATed as an IPv4
 * one; a pinhole's is not, but the pinhole marked it (PP-OK's CONNMARK) before it reached
 * POSTROUTING, so it was forwarded because portpilot let it in. A new connection reaching the
 * router's own IPv6 address from the WAN untranslated took no NAT66 mapping ("pp-rej").
 * Without ip6tables only a table that asks for IPv6 makes that an error.
 */
static int
log_rules6(struct pp_backend *b, const struct pp_log_spec *s, bool add, struct pp_error *err)
{
	int g = s->group;
	char op = add ? 'I' : 'D';
	char *jumps = pp_xasprintf("-%c POSTROUTING -m conntrack --ctstate DNAT -j PP-LOG-%d\n"
	                           "-%c POSTROUTING -m conntrack ! --ctstate DNAT -m connmark --mark "
	                           PP_LOG_MARK "/" PP_LOG_MARK " -j PP-LOG-%d\n"
	                           "-%c INPUT -i %s -j PP-LOG-%d\n", op, g, op, g, op, s->wan_if, g);
	char *text = add
		? pp_xasprintf("*mangle\n:PP-LOG-%d - [0:0]\n"
		               "-A PP-LOG-%d -m conntrack --ctstate NEW -m conntrack --ctstate DNAT "
		               "-j NFLOG --nflog-group %d --nflog-prefix " PP_LOG_ACCEPTED "\n"
		               "-A PP-LOG-%d -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT -m connmark --mark "
		               PP_LOG_MARK "/" PP_LOG_MARK " -j NFLOG --nflog-group %d --nflog-prefix " PP_LOG_ACCEPTED "\n"
		               "-A PP-LOG-%d -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT "
		               "-m addrtype --dst-type LOCAL -j NFLOG --nflog-group %d --nflog-prefix " PP_LOG_REFUSED "\n"
		               "%sCOMMIT\n", g, g, g, g, g, g, g, jumps)
		: pp_xasprintf("*mangle\n%s-F PP-LOG-%d\n-X PP-LOG-%d\nCOMMIT\n", jumps, g, g);
	struct pp_ipt x6;
	struct pp_error e6;
	ipt6(b, &x6);
	int rc = pp_ipt_restore(&x6, text, false, &e6);
	free(text);
	free(jumps);
	if (rc < 0 && s->ip6)
		return pp_error_set(err, "the IPv6 log rules: %s", e6.msg);
	return 0;
}

static int
log_rules(struct pp_backend *b, const struct pp_log_spec *s, bool add, struct pp_error *err)
{
	int g = s->group;
	char *jumps = rule_jumps(s, add ? 'I' : 'D');
	char *text = add
		? pp_xasprintf("*mangle\n:PP-LOG-%d - [0:0]\n"
		               "-A PP-LOG-%d -m conntrack --ctstate NEW -m conntrack --ctstate DNAT "
		               "-j NFLOG --nflog-group %d --nflog-prefix " PP_LOG_ACCEPTED "\n"
		               "-A PP-LOG-%d -m conntrack --ctstate NEW -m conntrack ! --ctstate DNAT "
		               "-m addrtype --dst-type LOCAL -j NFLOG --nflog-group %d --nflog-prefix " PP_LOG_REFUSED "\n"
		               "%sCOMMIT\n", g, g, g, g, g, jumps)
		: pp_xasprintf("*mangle\n%s-F PP-LOG-%d\n-X PP-LOG-%d\nCOMMIT\n", jumps, g, g);
	int rc = pp_ipt_restore(IPT(b), text, false, err);
	free(text);
	free(jumps);
	return rc < 0 ? -1 : log_rules6(b, s, add, err);
}

/* Every chain and hook of portpilot's (a switch to another backend): the plan to an empty ruleset. */
static int
remove_all(struct pp_backend *b, struct pp_error *err)
{
	struct pp_live live;
	struct pp_plan p;
	struct pp_ruleset empty;
	if (pp_backend_read(b, &live, err) < 0)
		return -1;
	memset(&empty, 0, sizeof empty);
	empty.hooks[PP_NAT].name = pp_xstrdup("");
	empty.hooks[PP_FILTER].name = pp_xstrdup("");
	empty.hooks[PP_FILTER].table = PP_FILTER;
	pp_plan_make(&empty, &CST(live.own)->rs, &p);
	int rc = p.restore ? pp_ipt_restore(IPT(b), p.restore, false, err) : 0;
	pp_plan_free(&p);
	/* The pinholes too. */
	struct pp_ipt x6;
	ipt6(b, &x6);
	pp_plan_make(&empty, &CST(live.own)->rs6, &p);
	if (rc == 0 && p.restore)
		rc = pp_ipt_restore(&x6, p.restore, false, err);
	if (rc == 0 && p.restore && strstr(p.restore, "\n-X PP-PRE\n"))
		pp_ip6_nat_tidy(&x6);
	pp_plan_free(&p);
	pp_ruleset_free(&empty);
	pp_live_free(&live);
	return rc;
}

static int
pinholes(struct pp_backend *b, const struct pp_live *live, const char *name, const char *addr,
         unsigned long long *pkts)
{
	(void)b;
	char *tag = pp_rule_tag(name);
	size_t n = pp_ip6_pinholes(&CST(live->own)->rs6, tag, addr, pkts);
	free(tag);
	return (int)n;
}

const struct pp_backend_ops pp_backend_iptables = {
	.name = "iptables",
	.detect = detect,
	.open = open_,
	.close = close_,
	.render = render,
	.read = read_,
	.live_free = live_free,
	.state_free = state_free,
	.save = save,
	.load = load,
	.drop_mapping = drop_mapping,
	.plan = plan,
	.diff = diff,
	.test = test,
	.commit = commit,
	.flush = flush,
	.gen = gen,
	.facts = facts,
	.adopt = adopt,
	.status = status,
	.checks = checks,
	.foreign_first = foreign_first,
	.dnat_present = dnat_present,
	.forward_state = forward_state,
	.log_rules = log_rules,
	.remove_all = remove_all,
	.pinholes = pinholes,
};
