/* Rulesets as data: chain lookup, iptables-save text in and out, free. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

/* Open addressing over chain indexes; thousands of chains make a linear search quadratic. */
struct pp_chain_index {
	size_t *slot;                   /* chain index + 1, 0 = empty */
	size_t cap;
};

const char *const pp_nf_table_names[PP_NF__COUNT] = { "nat", "filter" };

bool
pp_chain_same(const struct pp_chain *a, const struct pp_chain *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->rules[i], b->rules[i]) != 0)
			return false;
	return true;
}

static size_t
hash(enum pp_nf_table t, const char *s)
{
	size_t h = 1469598103934665603ull ^ (size_t)t;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
index_put(struct pp_ruleset *rs, size_t i)
{
	struct pp_chain_index *x = rs->idx;
	size_t h = hash(rs->chains[i].table, rs->chains[i].name) & (x->cap - 1);
	while (x->slot[h])
		h = (h + 1) & (x->cap - 1);
	x->slot[h] = i + 1;
}

static void
index_grow(struct pp_ruleset *rs)
{
	if (!rs->idx)
		rs->idx = pp_xcalloc(1, sizeof *rs->idx);
	if (rs->idx->cap > 2 * (rs->n + 1))
		return;
	free(rs->idx->slot);
	rs->idx->cap = rs->idx->cap ? rs->idx->cap * 4 : 64;
	rs->idx->slot = pp_xcalloc(rs->idx->cap, sizeof *rs->idx->slot);
	for (size_t i = 0; i < rs->n; i++)
		index_put(rs, i);
}

struct pp_chain *
pp_ruleset_chain(struct pp_ruleset *rs, enum pp_nf_table t, const char *name, bool create)
{
	index_grow(rs);
	struct pp_chain_index *x = rs->idx;
	size_t h = hash(t, name) & (x->cap - 1);
	for (; x->slot[h]; h = (h + 1) & (x->cap - 1)) {
		struct pp_chain *c = &rs->chains[x->slot[h] - 1];
		if (c->table == t && strcmp(c->name, name) == 0)
			return c;
	}
	if (!create)
		return NULL;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		rs->chains = pp_xrealloc(rs->chains, rs->cap * sizeof *rs->chains);
	}
	struct pp_chain *c = &rs->chains[rs->n];
	memset(c, 0, sizeof *c);
	c->table = t;
	c->name = pp_xstrdup(name);
	x->slot[h] = ++rs->n;
	return c;
}

/* rule is stored as given: the caller has copied it, or it lies in rs->text. */
static void
chain_put(struct pp_chain *c, char *rule, unsigned long long pk, unsigned long long by, bool counted)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->rules = pp_xrealloc(c->rules, c->cap * sizeof *c->rules);
		if (counted || c->pkts) {
			c->pkts = pp_xrealloc(c->pkts, c->cap * sizeof *c->pkts);
			c->bytes = pp_xrealloc(c->bytes, c->cap * sizeof *c->bytes);
		}
	}
	if (counted && !c->pkts) {
		c->pkts = pp_xcalloc(c->cap, sizeof *c->pkts);
		c->bytes = pp_xcalloc(c->cap, sizeof *c->bytes);
	}
	if (c->pkts) {
		c->pkts[c->n] = pk;
		c->bytes[c->n] = by;
	}
	c->rules[c->n++] = rule;
}

void
pp_chain_add(struct pp_chain *c, const char *rule)
{
	chain_put(c, pp_xstrdup(rule), 0, 0, false);
}

void
pp_ruleset_rule_free(const struct pp_ruleset *rs, char *rule)
{
	if (!rs->text || rule < rs->text || rule >= rs->text + rs->textlen)
		free(rule);
}

static void
chain_free(const struct pp_ruleset *rs, struct pp_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		pp_ruleset_rule_free(rs, c->rules[i]);
	free(c->rules);
	free(c->pkts);
	free(c->bytes);
	free(c->name);
}

void
pp_ruleset_free(struct pp_ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		chain_free(rs, &rs->chains[i]);
	for (int t = 0; t < PP_NF__COUNT; t++)
		chain_free(rs, &rs->hooks[t]);
	free(rs->chains);
	free(rs->text);
	if (rs->idx)
		free(rs->idx->slot);
	free(rs->idx);
	memset(rs, 0, sizeof *rs);
}

static int
cmp_chain(const void *a, const void *b)
{
	const struct pp_chain *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

/* Chains of table t sorted by name (iptables-save order). Caller frees the array. */
static struct pp_chain **
sorted(const struct pp_ruleset *rs, enum pp_nf_table t, size_t *n)
{
	struct pp_chain **v = pp_xcalloc(rs->n + 1, sizeof *v);
	*n = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->chains[i].table == t)
			v[(*n)++] = &rs->chains[i];
	qsort(v, *n, sizeof *v, cmp_chain);
	return v;
}

/* Append s and a newline (20,000 rules: printf's parsing doubled the time). */
static void
line(struct pp_buf *b, const char *s)
{
	pp_buf_add(b, s, strlen(s));
	pp_buf_add(b, "\n", 1);
}

char *
pp_ruleset_text(const struct pp_ruleset *rs)
{
	/* Sized once: growing a 2.5 MB buffer by doubling touches twice the memory. */
	size_t size = 64;
	for (size_t i = 0; i < rs->n; i++) {
		size += strlen(rs->chains[i].name) + 16;
		for (size_t j = 0; j < rs->chains[i].n; j++)
			size += strlen(rs->chains[i].rules[j]) + 1;
	}
	for (int t = 0; t < PP_NF__COUNT; t++)
		for (size_t j = 0; j < rs->hooks[t].n; j++)
			size += strlen(rs->hooks[t].rules[j]) + 1;
	struct pp_buf b = { pp_xmalloc(size), 0, size };
	b.data[0] = '\0';
	for (int t = PP_NF__COUNT - 1; t >= 0; t--) {
		size_t n;
		struct pp_chain **v = sorted(rs, t, &n);
		pp_buf_printf(&b, "*%s\n", pp_nf_table_names[t]);
		for (size_t i = 0; i < n; i++)
			pp_buf_printf(&b, ":%s - [0:0]\n", v[i]->name);
		for (size_t i = 0; i < rs->hooks[t].n; i++)
			line(&b, rs->hooks[t].rules[i]);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < v[i]->n; j++)
				line(&b, v[i]->rules[j]);
		pp_buf_addstr(&b, "COMMIT\n");
		free(v);
	}
	if (!b.data)
		pp_buf_addstr(&b, "");
	return b.data;
}

static bool
is_own(const char *name)
{
	return strncmp(name, PP_CHAIN_PREFIX, strlen(PP_CHAIN_PREFIX)) == 0;
}

/*
 * One "-A CHAIN ..." line (counters already stripped), kept in place in
 * rs->text. *last: the chain of the previous rule (index + 1, 0 none), as
 * iptables-save writes a chain's rules together.
 */
static void
parse_rule(struct pp_ruleset *rs, enum pp_nf_table t, char *line, unsigned long long pk,
           unsigned long long by, bool counted, size_t *last)
{
	char chain[64];
	const char *p = line + 3;
	size_t n = strcspn(p, " ");
	if (n == 0 || n >= sizeof chain)
		return;
	memcpy(chain, p, n);
	chain[n] = '\0';
	/*
	 * Hooks are the bare jumps portpilot inserts ("-A FORWARD -j PP-FWD");
	 * anyone else's rule that jumps into a PP- chain stays theirs.
	 */
	const char *rest = p + n;
	if (is_own(chain)) {
		struct pp_chain *c = *last ? &rs->chains[*last - 1] : NULL;
		if (!c || c->table != t || strcmp(c->name, chain) != 0) {
			c = pp_ruleset_chain(rs, t, chain, true);
			*last = (size_t)(c - rs->chains) + 1;
		}
		chain_put(c, line, pk, by, counted);
	} else if (strncmp(rest, " -j " PP_CHAIN_PREFIX, 4 + strlen(PP_CHAIN_PREFIX)) == 0 &&
	           !strchr(rest + 4, ' ')) {
		chain_put(&rs->hooks[t], line, pk, by, counted);
	}
}

int
pp_ruleset_parse(const char *text, struct pp_ruleset *rs, struct pp_error *err)
{
	return pp_ruleset_parse_buf(pp_xstrdup(text), rs, err);
}

int
pp_ruleset_parse_buf(char *copy, struct pp_ruleset *rs, struct pp_error *err)
{
	memset(rs, 0, sizeof *rs);
	rs->hooks[PP_NAT].name = pp_xstrdup("");
	rs->hooks[PP_FILTER].name = pp_xstrdup("");
	rs->hooks[PP_FILTER].table = PP_FILTER;
	rs->text = copy;
	rs->textlen = strlen(copy) + 1;
	int t = -1, lineno = 0;
	size_t last = 0;
	/* Cut into lines in place, rules kept there: no allocation per line (20,000 rules). */
	char *s = copy;
	while (*s) {
		char *line = s, *e = strchr(s, '\n');
		if (e)
			*e = '\0';
		lineno++;
		s = e ? e + 1 : s + strlen(s);
		unsigned long long pk = 0, by = 0;
		char *r = line;
		bool counted = false;
		if (line[0] == '[' && sscanf(line, "[%llu:%llu]", &pk, &by) == 2) {
			r = strchr(line, ']') + 1;
			while (*r == ' ')
				r++;
			counted = true;
		}
		if (line[0] == '*') {
			t = strcmp(line + 1, "nat") == 0 ? PP_NAT : strcmp(line + 1, "filter") == 0 ? PP_FILTER : -1;
		} else if (t < 0 || line[0] == '#' || strcmp(line, "COMMIT") == 0 || line[0] == '\0') {
			/* other tables and comments are not portpilot's */
		} else if (line[0] == ':') {
			char name[64];
			if (sscanf(line + 1, "%63s", name) == 1 && is_own(name))
				pp_ruleset_chain(rs, t, name, true);
		} else if (strncmp(r, "-A ", 3) == 0) {
			parse_rule(rs, t, r, pk, by, counted, &last);
		} else {
			pp_error_set(err, "iptables-save output line %d: unexpected \"%.60s\"", lineno, r);
			pp_ruleset_free(rs);
			return -1;
		}
	}
	return 0;
}
