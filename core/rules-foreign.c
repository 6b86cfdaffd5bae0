/* Other tools' rules: which one meets a mapping's traffic before portpilot's and takes or drops it. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

/*
 * The walk follows a mapping's packets the way the kernel does (raw, mangle
 * and nat PREROUTING, then mangle and filter FORWARD, mangle POSTROUTING;
 * the server's replies through the same filter hooks), rule by rule, into
 * user chains, until portpilot's own hook. A rule counts only when every
 * condition it has is one the walk understands and the packet meets it: a
 * rule it cannot judge (a mark, a set, a rate limit) is passed over, so a
 * verdict never rests on a guess.
 */

enum { MAXR = 16, MAXDEPTH = 16 };

enum ck {
	C_SRC, C_DST, C_IN, C_OUT, C_PROTO, C_DPORT, C_SPORT, C_ORIGDPORT, C_DSTLOCAL, C_SRCLOCAL,
	C_STATE, C_SYN, C_UNKNOWN
};

/* conntrack states as bits */
enum { S_NEW = 1, S_EST = 2, S_REL = 4, S_INV = 8, S_UNTR = 16, S_SNAT = 32, S_DNAT = 64 };

struct cond {
	enum ck kind;
	bool neg;
	uint32_t addr;
	uint8_t len;
	int proto;                      /* 0 = all, -1 = another protocol */
	char ifname[24];
	unsigned states;
	uint16_t lo[MAXR], hi[MAXR];
	int nr;
};

enum tgt { T_OTHER, T_OURS, T_DNAT, T_REDIRECT, T_DROP, T_REJECT, T_ACCEPT, T_RETURN, T_NOTRACK, T_JUMP,
           T_GOTO };

struct rule {
	char *text;                     /* "-A CHAIN ..." without counters */
	unsigned long long pkts;
	struct cond *c;
	size_t nc;
	enum tgt t;
	char target[32];                /* chain name for jump/goto */
	char to[48];                    /* DNAT --to-destination, REDIRECT --to-ports */
};

struct chain {
	char name[32];
	struct rule *r;
	size_t n, cap;
};

struct ftable {
	char name[8];
	struct chain *c;
	size_t n, cap;
};

struct pp_foreign {
	struct ftable t[4];             /* raw, mangle, nat, filter */
};

static const char *const tnames[4] = { "raw", "mangle", "nat", "filter" };

/* ---- parsing iptables-save text ---- */

/* The next word of s (double quotes keep spaces, as iptables-save quotes comments). */
static const char *
word(const char *s, char *out, size_t n)
{
	size_t k = 0;
	bool q = false;
	while (*s == ' ')
		s++;
	if (!*s)
		return NULL;
	for (; *s && (q || *s != ' '); s++) {
		if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '"') {
			q = !q;
			continue;
		}
		if (k + 1 < n)
			out[k++] = *s;
	}
	out[k] = '\0';
	return s;
}

static struct chain *
chain_get(struct ftable *t, const char *name, bool create)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->c[i].name, name))
			return &t->c[i];
	if (!create)
		return NULL;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->c = pp_xrealloc(t->c, t->cap * sizeof *t->c);
	}
	struct chain *c = &t->c[t->n++];
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	return c;
}

/* "80", "80:90", "80,443,1000:2000" into ranges. */
static int
port_list(const char *s, struct cond *c)
{
	c->nr = 0;
	while (*s && c->nr < MAXR) {
		char *end;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;
		if (end == s || lo > 65535)
			return -1;
		if (*end == ':') {
			s = end + 1;
			hi = strtoul(s, &end, 10);
			if (end == s || hi > 65535)
				return -1;
		}
		c->lo[c->nr] = (uint16_t)lo;
		c->hi[c->nr++] = (uint16_t)hi;
		s = end + (*end == ',');
		if (*end && *end != ',')
			return -1;
	}
	return 0;
}

static unsigned
state_bits(const char *s)
{
	static const struct { const char *n; unsigned b; } v[] = {
		{ "NEW", S_NEW }, { "ESTABLISHED", S_EST }, { "RELATED", S_REL }, { "INVALID", S_INV },
		{ "UNTRACKED", S_UNTR }, { "SNAT", S_SNAT }, { "DNAT", S_DNAT },
	};
	unsigned bits = 0;
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s", s);
	for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < sizeof v / sizeof *v; i++)
			if (!strcmp(t, v[i].n))
				bits |= v[i].b;
	return bits;
}

static int
proto_num(const char *s)
{
	if (!strcmp(s, "all") || !strcmp(s, "0"))
		return 0;
	if (!strcmp(s, "tcp") || !strcmp(s, "6"))
		return 6;
	if (!strcmp(s, "udp") || !strcmp(s, "17"))
		return 17;
	return -1;
}

static void
add_cond(struct rule *r, const struct cond *c)
{
	r->c = pp_xrealloc(r->c, (r->nc + 1) * sizeof *r->c);
	r->c[r->nc++] = *c;
}

/* What a target does: a verdict portpilot knows, its own chain, or a jump (user chain or a
 * target that lets the packet on, LOG, MARK, CT...: the walk settles which by looking it up). */
static enum tgt
target_kind(const char *v, bool go)
{
	static const struct { const char *n; enum tgt t; } tg[] = {
		{ "DNAT", T_DNAT }, { "REDIRECT", T_REDIRECT }, { "DROP", T_DROP }, { "REJECT", T_REJECT },
		{ "ACCEPT", T_ACCEPT }, { "RETURN", T_RETURN }, { "NOTRACK", T_NOTRACK },
	};
	for (size_t i = 0; i < sizeof tg / sizeof *tg; i++)
		if (!strcmp(v, tg[i].n))
			return tg[i].t;
	if (!strncmp(v, PP_CHAIN_PREFIX, strlen(PP_CHAIN_PREFIX)))
		return T_OURS;
	return go ? T_GOTO : T_JUMP;
}

/* A match option w with its value v; c stays C_UNKNOWN for one the walk cannot judge. */
static void
match_value(const char *w, const char *v, struct cond *c)
{
	if ((!strcmp(w, "-s") || !strcmp(w, "-d")) && pp_parse_cidr(v, &c->addr, &c->len) == 0) {
		c->kind = w[1] == 's' ? C_SRC : C_DST;
	} else if (!strcmp(w, "-i") || !strcmp(w, "-o")) {
		c->kind = w[1] == 'i' ? C_IN : C_OUT;
		snprintf(c->ifname, sizeof c->ifname, "%.*s", (int)sizeof c->ifname - 1, v);
	} else if (!strcmp(w, "-p")) {
		c->kind = C_PROTO;
		c->proto = proto_num(v);
	} else if (!strcmp(w, "--dport") || !strcmp(w, "--dports") || !strcmp(w, "--destination-ports") ||
	           !strcmp(w, "--destination-port")) {
		c->kind = port_list(v, c) == 0 ? C_DPORT : C_UNKNOWN;
	} else if (!strcmp(w, "--sport") || !strcmp(w, "--sports") || !strcmp(w, "--source-ports") ||
	           !strcmp(w, "--source-port")) {
		c->kind = port_list(v, c) == 0 ? C_SPORT : C_UNKNOWN;
	} else if (!strcmp(w, "--ctorigdstport")) {
		c->kind = port_list(v, c) == 0 ? C_ORIGDPORT : C_UNKNOWN;
	} else if (!strcmp(w, "--dst-type") && !strcmp(v, "LOCAL")) {
		c->kind = C_DSTLOCAL;
	} else if (!strcmp(w, "--src-type") && !strcmp(v, "LOCAL")) {
		c->kind = C_SRCLOCAL;
	} else if ((!strcmp(w, "--ctstate") || !strcmp(w, "--state")) && state_bits(v)) {
		c->kind = C_STATE;
		c->states = state_bits(v);
	}
}

/* One "-A CHAIN ..." line into r: its conditions and its target. */
static void
parse_rule(const char *text, struct rule *r, char *chain, size_t chain_n)
{
	char w[512], v[512];
	const char *p = text;
	bool neg = false, target = false;
	p = word(p, w, sizeof w);              /* -A */
	p = p ? word(p, chain, chain_n) : NULL;
	while (p && (p = word(p, w, sizeof w))) {
		struct cond c = { .kind = C_UNKNOWN, .neg = neg };
		if (!strcmp(w, "!")) {
			neg = true;
			continue;
		}
		neg = false;
		if (!strcmp(w, "-j") || !strcmp(w, "-g")) {
			bool go = w[1] == 'g';
			if (!(p = word(p, v, sizeof v)))
				break;
			target = true;
			r->t = target_kind(v, go);
			snprintf(r->target, sizeof r->target, "%.*s", (int)sizeof r->target - 1, v);
			continue;
		}
		if (target) {
			/* The target's own options. */
			if ((!strcmp(w, "--to-destination") || !strcmp(w, "--to-ports")) && (p = word(p, v, sizeof v)))
				snprintf(r->to, sizeof r->to, "%.*s", (int)sizeof r->to - 1, v);
			else if (!strcmp(w, "--notrack") && !strcmp(r->target, "CT"))
				r->t = T_NOTRACK;
			continue;
		}
		if (!strcmp(w, "-m")) {
			if (!(p = word(p, v, sizeof v)))
				break;
			static const char *const known[] = { "tcp", "udp", "multiport", "addrtype", "conntrack",
			                                     "state", "comment" };
			bool ok = false;
			for (size_t i = 0; i < sizeof known / sizeof *known; i++)
				ok |= !strcmp(v, known[i]);
			if (!ok)
				add_cond(r, &c);
			continue;
		}
		if (!strcmp(w, "--comment")) {
			p = word(p, v, sizeof v);
			continue;
		}
		if (!strcmp(w, "--syn")) {
			c.kind = C_SYN;
			add_cond(r, &c);
			continue;
		}
		/* Everything else takes one value, but for flags (--limit-iface-in, -f): the next word is
		 * an option then. */
		const char *q = word(p, v, sizeof v);
		if (!q || (v[0] == '-' && v[1] && (v[1] < '0' || v[1] > '9'))) {
			add_cond(r, &c);
			continue;
		}
		match_value(w, v, &c);
		add_cond(r, &c);
		p = q;
	}
}

static void
free_tables(struct pp_foreign *fr)
{
	for (int i = 0; i < 4; i++) {
		for (size_t j = 0; j < fr->t[i].n; j++) {
			struct chain *c = &fr->t[i].c[j];
			for (size_t k = 0; k < c->n; k++) {
				free(c->r[k].text);
				free(c->r[k].c);
			}
			free(c->r);
		}
		free(fr->t[i].c);
	}
}

void
pp_foreign_free(struct pp_foreign *fr)
{
	if (!fr)
		return;
	free_tables(fr);
	free(fr);
}

struct pp_foreign *
pp_foreign_parse(const char *save)
{
	struct pp_foreign *fr = pp_xcalloc(1, sizeof *fr);
	struct ftable *cur = NULL;
	for (int i = 0; i < 4; i++)
		snprintf(fr->t[i].name, sizeof fr->t[i].name, "%s", tnames[i]);
	for (const char *l = save; l && *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t n = strcspn(l, "\n");
		if (*l == '*') {
			cur = NULL;
			for (int i = 0; i < 4; i++)
				if (n - 1 == strlen(tnames[i]) && !strncmp(l + 1, tnames[i], n - 1))
					cur = &fr->t[i];
			continue;
		}
		if (!cur)
			continue;
		unsigned long long pk = 0, by = 0;
		const char *r = l;
		if (*l == '[' && sscanf(l, "[%llu:%llu]", &pk, &by) == 2 && strchr(l, ']'))
			r = strchr(l, ']') + 1 + (strchr(l, ']')[1] == ' ');
		/* portpilot's own chains (thousands of rules): the walk stops at the jump into them. */
		if (strncmp(r, "-A ", 3) || !strncmp(r + 3, PP_CHAIN_PREFIX, strlen(PP_CHAIN_PREFIX)))
			continue;
		char *text = pp_xstrndup(r, n - (size_t)(r - l)), chain[32] = "";
		struct rule rule = { .text = text, .pkts = pk };
		parse_rule(text, &rule, chain, sizeof chain);
		struct chain *c = chain_get(cur, chain, true);
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 8;
			c->r = pp_xrealloc(c->r, c->cap * sizeof *c->r);
		}
		c->r[c->n++] = rule;
	}
	return fr;
}

char *
pp_save_section(const char *all, const char *name)
{
	char head[16];
	snprintf(head, sizeof head, "*%s\n", name);
	const char *p = all;
	while (p && (p = strstr(p, head)) != NULL && p != all && p[-1] != '\n')
		p++;
	if (!p)
		return pp_xstrdup("");
	const char *e = strstr(p, "\nCOMMIT\n");
	return e ? pp_xstrndup(p, (size_t)(e - p) + 8) : pp_xstrdup(p);
}

/* ---- the walk ---- */

enum m { M_NO, M_MAYBE, M_YES };

/* One packet as a rule sees it; unknown parts are "any". */
struct pkt {
	int proto;                      /* 6 / 17 */
	bool src_known, dst_known;
	uint32_t src, dst;
	bool sport_known, dport_known;
	uint16_t slo, shi, dlo, dhi;    /* port ranges the mapping's packets use */
	uint16_t olo, ohi;              /* original destination port (the public one) */
	const char *in, *out;           /* NULL: not set at this hook */
	unsigned states;
	bool local_dst;                 /* addressed to the router itself (before DNAT) */
	bool syn;                       /* a connection's first packet */
};

static bool
in_cidr(uint32_t ip, uint32_t net, uint8_t len)
{
	return len == 0 || (ip >> (32 - len)) == (net >> (32 - len));
}

static bool
if_match(const char *rule, const char *dev)
{
	size_t n = strlen(rule);
	if (n && rule[n - 1] == '+')
		return !strncmp(rule, dev, n - 1);
	return !strcmp(rule, dev);
}

/* Ranges vs the packet's [lo,hi]: some port of it (any) or every port of it (all). */
static bool
ports_any(const struct cond *c, uint16_t lo, uint16_t hi)
{
	for (int i = 0; i < c->nr; i++)
		if (c->lo[i] <= hi && c->hi[i] >= lo)
			return true;
	return false;
}

static bool
ports_all(const struct cond *c, uint16_t lo, uint16_t hi)
{
	for (unsigned p = lo; p <= hi; p++) {
		bool in = false;
		for (int i = 0; i < c->nr && !in; i++)
			in = p >= c->lo[i] && p <= c->hi[i];
		if (!in)
			return false;
	}
	return true;
}

static enum m
yes(bool b, bool neg)
{
	return b != neg ? M_YES : M_NO;
}

static enum m
port_match(const struct cond *c, bool known, uint16_t lo, uint16_t hi)
{
	if (!known)
		return M_MAYBE;
	return c->neg ? (ports_all(c, lo, hi) ? M_NO : M_YES) : (ports_any(c, lo, hi) ? M_YES : M_NO);
}

static enum m
cond_match(const struct cond *c, const struct pkt *p)
{
	switch (c->kind) {
	case C_SRC:
		if (c->len == 0)
			return yes(true, c->neg);
		return p->src_known ? yes(in_cidr(p->src, c->addr, c->len), c->neg) : M_MAYBE;
	case C_DST:
		if (c->len == 0)
			return yes(true, c->neg);
		return p->dst_known ? yes(in_cidr(p->dst, c->addr, c->len), c->neg) : M_MAYBE;
	case C_IN:
		return p->in ? yes(if_match(c->ifname, p->in), c->neg) : M_MAYBE;
	case C_OUT:
		return p->out ? yes(if_match(c->ifname, p->out), c->neg) : M_MAYBE;
	case C_PROTO:
		return c->proto < 0 ? yes(false, c->neg) : yes(c->proto == 0 || c->proto == p->proto, c->neg);
	case C_DPORT:
		return port_match(c, p->dport_known, p->dlo, p->dhi);
	case C_SPORT:
		return port_match(c, p->sport_known, p->slo, p->shi);
	case C_ORIGDPORT:
		return port_match(c, true, p->olo, p->ohi);
	case C_DSTLOCAL:
		return yes(p->local_dst, c->neg);
	case C_SRCLOCAL:
		return yes(false, c->neg);
	case C_STATE:
		return yes((c->states & p->states) != 0, c->neg);
	case C_SYN:
		return p->proto == 6 ? yes(p->syn, c->neg) : M_NO;
	case C_UNKNOWN:
		break;
	}
	return M_MAYBE;
}

static enum m
rule_match(const struct rule *r, const struct pkt *p)
{
	enum m res = M_YES;
	for (size_t i = 0; i < r->nc; i++) {
		enum m x = cond_match(&r->c[i], p);
		if (x == M_NO)
			return M_NO;
		if (x == M_MAYBE)
			res = M_MAYBE;
	}
	return res;
}

enum v { V_CONT, V_OURS, V_DONE, V_END, V_HIT };

struct walk {
	const struct ftable *tb;
	const struct pp_foreign_query *q;
	const struct pkt *p;
	bool nat;                       /* nat PREROUTING: an ACCEPT there means no DNAT by portpilot */
	bool first;                     /* the connection's first packet, before routing */
	const char *stack[MAXDEPTH + 1];
	struct pp_foreign_hit *hit;
};

/* The mapping's own target: a DNAT there sends the traffic where portpilot would. */
static bool
same_target(const struct pp_foreign_query *q, const char *to)
{
	uint32_t ip;
	char a[20];
	snprintf(a, sizeof a, "%.*s", (int)strcspn(to, ":"), to);
	if (pp_parse_ipv4(a, &ip) < 0 || ip != q->internal_ip)
		return false;
	const char *port = strchr(to, ':');
	unsigned lo = port ? (unsigned)atoi(port + 1) : q->pub_lo;
	return lo == q->in_lo;
}

static enum v
found(struct walk *w, const struct rule *r, int depth, enum pp_foreign_kind kind, const char *to)
{
	struct pp_foreign_hit *h = w->hit;
	memset(h, 0, sizeof *h);
	h->kind = kind;
	h->before_routing = w->first;
	h->reply = !w->first && (w->p->states & S_EST);
	snprintf(h->table, sizeof h->table, "%s", w->tb->name);
	snprintf(h->chain, sizeof h->chain, "%s", w->stack[depth]);
	size_t off = 0;
	for (int i = 0; i <= depth && off < sizeof h->path; i++)
		off += (size_t)snprintf(h->path + off, sizeof h->path - off, "%s%s", i ? " > " : "", w->stack[i]);
	snprintf(h->rule, sizeof h->rule, "%s", r->text);
	snprintf(h->to, sizeof h->to, "%s", to);
	h->pkts = r->pkts;
	return V_HIT;
}

static enum v
walk_chain(struct walk *w, const struct chain *c, int depth)
{
	char to[96];
	w->stack[depth] = c->name;
	for (size_t i = 0; i < c->n; i++) {
		const struct rule *r = &c->r[i];
		if (r->t == T_OURS)
			return V_OURS;
		if (rule_match(r, w->p) != M_YES)
			continue;
		switch (r->t) {
		case T_DNAT:
		case T_REDIRECT:
			if (!w->nat)
				continue;
			if (r->t == T_DNAT && same_target(w->q, r->to))
				return V_DONE;
			if (r->t == T_DNAT)
				snprintf(to, sizeof to, "%s", r->to);
			else
				snprintf(to, sizeof to, "the router itself, port %s", *r->to ? r->to : "(same)");
			return found(w, r, depth, PP_FOREIGN_DNAT, to);
		case T_DROP:
		case T_REJECT:
			return found(w, r, depth, PP_FOREIGN_DROP, "");
		case T_ACCEPT:
			if (w->nat)
				return found(w, r, depth, PP_FOREIGN_DNAT,
				             "the router itself (nat PREROUTING accepts it before portpilot's DNAT)");
			return V_DONE;
		case T_RETURN:
			if (depth == 0) {
				if (w->nat)
					return found(w, r, depth, PP_FOREIGN_DNAT,
					             "the router itself (nat PREROUTING returns before portpilot's DNAT)");
				return V_END;
			}
			return V_CONT;
		case T_NOTRACK:
			if (!w->first)
				continue;
			return found(w, r, depth, PP_FOREIGN_DNAT,
			             "the router itself (not tracked, so no DNAT applies to it)");
		case T_JUMP:
		case T_GOTO: {
			const struct chain *sub = NULL;
			for (size_t k = 0; k < w->tb->n && !sub; k++)
				if (!strcmp(w->tb->c[k].name, r->target))
					sub = &w->tb->c[k];
			if (!sub || depth >= MAXDEPTH - 1)
				continue;
			enum v res = walk_chain(w, sub, depth + 1);
			w->stack[depth] = c->name;
			if (res == V_CONT && r->t == T_GOTO)
				return depth ? V_CONT : V_END;
			if (res != V_CONT)
				return res;
			continue;
		}
		case T_OTHER:
		case T_OURS:
			continue;
		}
	}
	return depth ? V_CONT : V_END;
}

/* Walk one built-in chain of one table; true when a foreign rule took the packet. */
static bool
hook(const struct pp_foreign *fr, int table, const char *chain, struct walk *w)
{
	const struct ftable *tb = &fr->t[table];
	const struct chain *c = NULL;
	for (size_t k = 0; k < tb->n && !c; k++)
		if (!strcmp(tb->c[k].name, chain))
			c = &tb->c[k];
	if (!c)
		return false;
	w->tb = tb;
	w->nat = table == 2;
	return walk_chain(w, c, 0) == V_HIT;
}

static bool
walk_proto(const struct pp_foreign *fr, const struct pp_foreign_query *q, int proto,
           struct pp_foreign_hit *hit)
{
	struct walk w = { .q = q, .hit = hit };
	/* The first packet on its way in: addressed to the router's public port. */
	struct pkt in = { .proto = proto, .dst_known = q->public_ip != 0, .dst = q->public_ip,
	                  .dport_known = true, .dlo = q->pub_lo, .dhi = q->pub_hi, .olo = q->pub_lo,
	                  .ohi = q->pub_hi, .in = q->wan_if, .states = S_NEW, .local_dst = true, .syn = true };
	w.p = &in;
	w.first = true;
	if (hook(fr, 0, "PREROUTING", &w) || hook(fr, 1, "PREROUTING", &w) || hook(fr, 2, "PREROUTING", &w))
		return true;
	/* After portpilot's DNAT: to the server, leaving on the LAN. */
	struct pkt fwd = in;
	fwd.dst_known = true;
	fwd.dst = q->internal_ip;
	fwd.dlo = q->in_lo;
	fwd.dhi = q->in_hi;
	fwd.out = q->lan_if;
	fwd.states = S_NEW | S_DNAT;
	fwd.local_dst = false;
	w.p = &fwd;
	w.first = false;
	if (hook(fr, 1, "FORWARD", &w) || hook(fr, 3, "FORWARD", &w) || hook(fr, 1, "POSTROUTING", &w))
		return true;
	/* The server's replies, from its port back to a client anywhere. */
	struct pkt rep = { .proto = proto, .src_known = true, .src = q->internal_ip, .sport_known = true,
	                   .slo = q->in_lo, .shi = q->in_hi, .olo = q->pub_lo, .ohi = q->pub_hi,
	                   .in = q->lan_if, .out = q->wan_if, .states = S_EST | S_DNAT };
	w.p = &rep;
	return hook(fr, 0, "PREROUTING", &w) || hook(fr, 1, "PREROUTING", &w) || hook(fr, 1, "FORWARD", &w) ||
	       hook(fr, 3, "FORWARD", &w) || hook(fr, 1, "POSTROUTING", &w);
}

int
pp_foreign_first(const struct pp_foreign *fr, const struct pp_foreign_query *q, struct pp_foreign_hit *hit)
{
	memset(hit, 0, sizeof *hit);
	if (!fr)
		return 0;
	if ((q->proto & PP_TCP) && walk_proto(fr, q, 6, hit))
		return 1;
	if ((q->proto & PP_UDP) && walk_proto(fr, q, 17, hit))
		return 1;
	memset(hit, 0, sizeof *hit);
	return 0;
}

void
pp_foreign_finding(struct pp_findings *out, int line, const char *name, const struct pp_foreign_hit *h)
{
	char *w = pp_foreign_words(h);
	pp_findings_add(out, PP_WARNING, line, name, NULL,
	                "remove or narrow that rule, or give the mapping another public_port (portpilot "
	                "never changes another tool's rules)",
	                "%s: %s, before portpilot's rules", h->kind == PP_FOREIGN_DNAT ? "shadowed" : "blocked", w);
	free(w);
}

char *
pp_foreign_words(const struct pp_foreign_hit *h)
{
	if (h->kind == PP_FOREIGN_NONE)
		return pp_xstrdup("");
	char cnt[48] = "";
	if (h->pkts)
		snprintf(cnt, sizeof cnt, " (counter %llu packets)", h->pkts);
	if (h->kind == PP_FOREIGN_DNAT)
		return pp_xasprintf("%s %s: \"%s\"%s sends it to %s", h->table, h->path, h->rule, cnt, h->to);
	return pp_xasprintf("%s %s: \"%s\"%s drops %s", h->table, h->path, h->rule, cnt,
	                    h->reply ? "the server's replies" : h->before_routing ? "it before routing"
	                                                                          : "it in FORWARD");
}

void
pp_foreign_query_of(const struct pp_table *t, const struct pp_mapping *m, uint32_t wan_addr,
                    struct pp_foreign_query *q)
{
	const char *wan = t->site.val[PP_S_WAN_INTERFACE], *lan = t->site.val[PP_S_LAN_INTERFACE];
	*q = (struct pp_foreign_query){ .proto = m->proto, .pub_lo = m->pub_lo, .pub_hi = m->pub_hi,
	                                .in_lo = m->in_lo, .in_hi = m->in_hi, .internal_ip = m->internal_ip,
	                                .public_ip = t->site.public_ip,
	                                .wan_if = wan && *wan ? wan : NULL, .lan_if = lan && *lan ? lan : NULL };
	/* With public_ip = auto the address is the WAN interface's (a rule's -d compares with it). */
	if (!q->public_ip)
		q->public_ip = wan_addr;
}
