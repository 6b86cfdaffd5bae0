/* Other tables' rules in a mapping's way, nftables side: a walk of their base chains for one new flow. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/nft.h"
#include "portpilot/util.h"

#define DEPTH_MAX 8                     /* jumps followed */

struct fchain {
	char fam[8], table[64], name[64];
	char hook[16];                  /* "" for a regular chain */
	char type[8];                   /* filter, nat, route */
	int prio;
	bool policy_drop;
	char **rules;
	size_t n, cap;
};

struct pp_nft_foreign {
	struct fchain *c;
	size_t n, cap;
};

/* "filter", "filter - 10", "-5": a base chain's priority as a number. */
int
pp_nft_prio(const char *s)
{
	static const struct {
		const char *n;
		int v;
	} named[] = { { "raw", -300 }, { "mangle", -150 }, { "dstnat", -100 }, { "filter", 0 }, { "security", 50 },
	              { "srcnat", 100 } };
	while (*s == ' ')
		s++;
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		size_t n = strlen(named[i].n);
		if (strncmp(s, named[i].n, n) == 0) {
			s += n;
			while (*s == ' ')
				s++;
			if (*s == '+' || *s == '-')
				return named[i].v + (*s == '-' ? -1 : 1) * atoi(s + 1);
			return named[i].v;
		}
	}
	return atoi(s);
}

struct pp_nft_foreign *
pp_nft_foreign_parse(const char *listing)
{
	struct pp_nft_foreign *f = pp_xcalloc(1, sizeof *f);
	char *copy = pp_xstrdup(listing ? listing : ""), *save = NULL;
	char fam[8] = "", tab[64] = "";
	int depth = 0;
	struct fchain *cur = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		size_t len = strlen(l);
		if (!len || *l == '#')
			continue;
		if (depth == 0) {
			if (sscanf(l, "table %7s %63s {", fam, tab) == 2)
				depth = 1;
			continue;
		}
		if (strcmp(l, "}") == 0) {
			depth--;
			cur = NULL;
			continue;
		}
		if (depth == 1) {
			if (l[len - 1] != '{')
				continue;
			depth = 2;
			char name[64];
			if (sscanf(l, "chain %63s {", name) != 1)
				continue;           /* a set, map or object */
			if (f->n == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 8;
				f->c = pp_xrealloc(f->c, f->cap * sizeof *f->c);
			}
			cur = &f->c[f->n++];
			memset(cur, 0, sizeof *cur);
			snprintf(cur->fam, sizeof cur->fam, "%s", fam);
			snprintf(cur->table, sizeof cur->table, "%s", tab);
			snprintf(cur->name, sizeof cur->name, "%s", name);
			if (strcmp(fam, "inet") == 0 && strcmp(tab, PP_NFT_TABLE) == 0)
				f->n--;             /* portpilot's own chains are never foreign */
			continue;
		}
		if (!cur)
			continue;
		const char *h = strstr(l, " hook ");
		if (strncmp(l, "type ", 5) == 0 && h) {
			sscanf(l, "type %7s", cur->type);
			sscanf(h, " hook %15s", cur->hook);
			const char *p = strstr(l, " priority ");
			cur->prio = p ? pp_nft_prio(p + 10) : 0;
			cur->policy_drop = strstr(l, "policy drop") != NULL;
			continue;
		}
		if (cur->n == cur->cap) {
			cur->cap = cur->cap ? cur->cap * 2 : 8;
			cur->rules = pp_xrealloc(cur->rules, cur->cap * sizeof *cur->rules);
		}
		cur->rules[cur->n++] = pp_xstrdup(l);
	}
	free(copy);
	return f;
}

void
pp_nft_foreign_free(struct pp_nft_foreign *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		for (size_t j = 0; j < f->c[i].n; j++)
			free(f->c[i].rules[j]);
		free(f->c[i].rules);
	}
	free(f->c);
	free(f);
}

bool
pp_nft_foreign_chain(const struct pp_nft_foreign *f, const char *fam, const char *table, const char *chain,
                     bool *accept_ours)
{
	*accept_ours = false;
	for (size_t i = 0; f && i < f->n; i++) {
		const struct fchain *c = &f->c[i];
		if (strcmp(c->fam, fam) != 0 || strcmp(c->table, table) != 0 || strcmp(c->name, chain) != 0)
			continue;
		/* portpilot's accept, as nft shows iptables-nft's translation of it (no comment shown) */
		for (size_t j = 0; j < c->n; j++)
			*accept_ours |= strstr(c->rules[j], "0x10000000 == 0x10000000") && strstr(c->rules[j], "accept") &&
			                (strstr(c->rules[j], "ct status dnat") || strcmp(fam, "ip6") == 0); /* pinholes: no DNAT */
		return true;
	}
	return false;
}

/* The new flow a rule is judged against. */
struct flow {
	bool prerouting;                /* before the DNAT: daddr is the public address, dport the public port */
	enum pp_proto proto;            /* one bit */
	uint32_t daddr;                 /* 0 unknown */
	uint16_t dlo, dhi;              /* the destination ports */
	const char *iif, *oif;          /* NULL unknown */
	bool ip6;                       /* an IPv6 pinhole's flow: not DNATed, no IPv4 header */
};

enum verdict { V_NONE, V_ACCEPT, V_DROP, V_DNAT, V_JUMP, V_GOTO, V_RETURN, V_UNKNOWN };

/* "a.b.c.d" or "a.b.c.d/n" contains ip? -1 when s is not an address. */
static int
addr_has(const char *s, uint32_t ip)
{
	char a[20];
	unsigned len = 32;
	if (sscanf(s, "%19[0-9.]/%u", a, &len) < 1)
		return -1;
	struct in_addr in;
	if (inet_pton(AF_INET, a, &in) != 1 || len > 32)
		return -1;
	uint32_t net = ntohl(in.s_addr), mask = len ? ~0u << (32 - len) : 0;
	return (ip & mask) == (net & mask);
}

/* "80" or "80-90" meets [lo,hi]? -1 when not a port. */
static int
port_meets(const char *s, uint16_t lo, uint16_t hi)
{
	unsigned a, b;
	int n = sscanf(s, "%u-%u", &a, &b);
	if (n < 1)
		return -1;
	if (n == 1)
		b = a;
	return a <= hi && b >= lo;
}

/*
 * Does rule r meet flow x, and with which verdict? Every word must be one that can be judged
 * for the flow; a rule with a word that cannot (a source address, a set) is passed over
 * (V_NONE), as the iptables walk passes over rules it cannot judge.
 */
static enum verdict
judge(const char *r, const struct flow *x, char *target, size_t tn)
{
	char *copy = pp_xstrdup(r), *save = NULL;
	char *w[64];
	size_t n = 0;
	for (char *t = strtok_r(copy, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	enum verdict v = V_NONE;
	bool ok = true;
	const char *pn = x->proto == PP_UDP ? "udp" : "tcp";
	for (size_t i = 0; i < n && ok; i++) {
		const char *a = i + 1 < n ? w[i + 1] : "";
		bool neg = strcmp(a, "!=") == 0;
		const char *val = neg ? (i + 2 < n ? w[i + 2] : "") : a;
		size_t skip = neg ? 2 : 1;
		if (strcmp(w[i], "counter") == 0) {
			if (i + 4 < n && strcmp(w[i + 1], "packets") == 0)
				i += 4;
		} else if (strcmp(w[i], "comment") == 0 || strcmp(w[i], "prefix") == 0 || strcmp(w[i], "group") == 0) {
			i += 1;             /* a quoted one-word value; longer comments end the rule anyway */
			if (w[i - 1][0] == 'c')
				break;
		} else if (strcmp(w[i], "log") == 0) {
			;
		} else if ((strcmp(w[i], "iifname") == 0 || strcmp(w[i], "oifname") == 0) && *val) {
			const char *want = w[i][0] == 'i' ? x->iif : x->oif;
			char name[32];
			snprintf(name, sizeof name, "%s", val[0] == '"' ? val + 1 : val);
			name[strcspn(name, "\"")] = '\0';
			if (!want || strchr(name, '*') || name[0] == '{')
				ok = false, v = V_UNKNOWN;
			else if ((strcmp(name, want) == 0) == neg)
				ok = false;
			i += skip;
		} else if (x->ip6 && strcmp(w[i], "ip") == 0) {
			ok = false;         /* an IPv4 header match: never an IPv6 flow */
		} else if (strcmp(w[i], "ip") == 0 && (strcmp(a, "daddr") == 0 || strcmp(a, "saddr") == 0 ||
		                                        strcmp(a, "protocol") == 0)) {
			const char *op = i + 2 < n ? w[i + 2] : "";
			bool ng = strcmp(op, "!=") == 0;
			const char *vv = ng ? (i + 3 < n ? w[i + 3] : "") : op;
			if (strcmp(a, "protocol") == 0) {
				if ((strcmp(vv, pn) == 0) == ng)
					ok = false;
			} else if (strcmp(a, "saddr") == 0 || !x->daddr) {
				ok = false, v = V_UNKNOWN; /* the source is any outside host */
			} else {
				int h = addr_has(vv, x->daddr);
				if (h < 0)
					ok = false, v = V_UNKNOWN;
				else if ((h == 1) == ng)
					ok = false;
			}
			i += ng ? 3 : 2;
		} else if (strcmp(w[i], "meta") == 0 && strcmp(a, "l4proto") == 0) {
			const char *vv = i + 2 < n ? w[i + 2] : "";
			if (strcmp(vv, pn) != 0)
				ok = false;
			i += 2;
		} else if ((strcmp(w[i], "tcp") == 0 || strcmp(w[i], "udp") == 0 || strcmp(w[i], "th") == 0) &&
		           (strcmp(a, "dport") == 0 || strcmp(a, "sport") == 0)) {
			const char *op = i + 2 < n ? w[i + 2] : "";
			bool ng = strcmp(op, "!=") == 0;
			const char *vv = ng ? (i + 3 < n ? w[i + 3] : "") : op;
			if (w[i][0] != 't' || w[i][1] != 'h') {
				if (strcmp(w[i], pn) != 0)
					ok = false;
			}
			if (ok && strcmp(a, "sport") == 0) {
				ok = false, v = V_UNKNOWN; /* the client's port */
			} else if (ok) {
				int m = port_meets(vv, x->dlo, x->dhi);
				if (m < 0)
					ok = false, v = V_UNKNOWN;
				else if ((m == 1) == ng)
					ok = false;
			}
			i += ng ? 3 : 2;
		} else if (strcmp(w[i], "ct") == 0 && strcmp(a, "state") == 0) {
			const char *vv = i + 2 < n ? w[i + 2] : "";
			bool has_new = strstr(vv, "new") != NULL;
			if (strcmp(vv, "!=") == 0) {
				has_new = !(i + 3 < n && strstr(w[i + 3], "new"));
				i++;
			}
			if (!has_new)
				ok = false;
			i += 2;
		} else if (strcmp(w[i], "ct") == 0 && strcmp(a, "status") == 0) {
			const char *vv = i + 2 < n ? w[i + 2] : "";
			bool dnat = !x->prerouting && !x->ip6;
			if (strcmp(vv, "!") == 0 || strcmp(vv, "!=") == 0) {
				i++;
				vv = i + 2 < n ? w[i + 2] : "";
				dnat = !dnat;
			}
			if (strcmp(vv, "dnat") != 0 || !dnat)
				ok = false;
			i += 2;
		} else if (strcmp(w[i], "ct") == 0 && strcmp(a, "mark") == 0) {
			/* portpilot's own mark: a flow it translated carries it after PREROUTING */
			bool ours = strstr(r, "0x10000000 == 0x10000000") != NULL;
			if (!ours || x->prerouting)
				ok = false, v = ours ? V_NONE : V_UNKNOWN;
			while (i + 1 < n && strcmp(w[i + 1], "0x10000000") != 0)
				i++;
			i += 3;
		} else if (strcmp(w[i], "fib") == 0 && strcmp(a, "daddr") == 0) {
			/* "fib daddr type local": the public address is the router's own */
			if (!(x->prerouting && i + 3 < n && strcmp(w[i + 2], "type") == 0 && strcmp(w[i + 3], "local") == 0))
				ok = false, v = V_UNKNOWN;
			i += 3;
		} else if (strcmp(w[i], "accept") == 0) {
			v = V_ACCEPT;
			break;
		} else if (strcmp(w[i], "drop") == 0 || strcmp(w[i], "reject") == 0) {
			v = V_DROP;
			break;
		} else if (strcmp(w[i], "dnat") == 0 || strcmp(w[i], "redirect") == 0) {
			v = V_DNAT;
			snprintf(target, tn, "%s", strcmp(w[i], "redirect") == 0 ? "the router itself" :
			         i + 2 < n && strcmp(w[i + 1], "to") == 0 ? w[i + 2] : a);
			break;
		} else if (strcmp(w[i], "jump") == 0 || strcmp(w[i], "goto") == 0) {
			v = w[i][0] == 'j' ? V_JUMP : V_GOTO;
			snprintf(target, tn, "%s", a);
			break;
		} else if (strcmp(w[i], "return") == 0) {
			v = V_RETURN;
			break;
		} else {
			ok = false, v = V_UNKNOWN;
		}
	}
	free(copy);
	return ok ? v : V_NONE;
}

static const struct fchain *
find_chain(const struct pp_nft_foreign *f, const struct fchain *in, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->c[i].fam, in->fam) == 0 && strcmp(f->c[i].table, in->table) == 0 &&
		    strcmp(f->c[i].name, name) == 0)
			return &f->c[i];
	return NULL;
}

/* Walk chain c for flow x: the first rule that ends it (accept, drop, dnat), its text and path. */
static enum verdict
walk(const struct pp_nft_foreign *f, const struct fchain *c, const struct flow *x, int depth, const char **rule,
     char *path, size_t pn, char *to, size_t tn)
{
	size_t pl = strlen(path);
	snprintf(path + pl, pn - pl, "%s%s", pl ? " > " : "", c->name);
	for (size_t i = 0; i < c->n; i++) {
		char target[96] = "";
		enum verdict v = judge(c->rules[i], x, target, sizeof target);
		if (v == V_JUMP || v == V_GOTO) {
			const struct fchain *t = find_chain(f, c, target);
			if (!t || depth >= DEPTH_MAX)
				continue;
			enum verdict r = walk(f, t, x, depth + 1, rule, path, pn, to, tn);
			if (r == V_ACCEPT || r == V_DROP || r == V_DNAT)
				return r;
			path[pl + (pl ? 3 : 0) + strlen(c->name)] = '\0';
			if (v == V_GOTO)
				return V_RETURN;
			continue;
		}
		if (v == V_RETURN)
			return V_RETURN;
		if (v == V_ACCEPT || v == V_DROP || v == V_DNAT) {
			*rule = c->rules[i];
			snprintf(to, tn, "%s", target);
			return v;
		}
	}
	return V_NONE;
}

static void
hit_fill(struct pp_foreign_hit *hit, enum pp_foreign_kind kind, const struct fchain *c, const char *path,
         const char *rule, const char *to, bool before_routing)
{
	memset(hit, 0, sizeof *hit);
	hit->kind = kind;
	hit->before_routing = before_routing;
	/* words read "FAMILY TABLE CHAIN > ...: rule": the family where iptables names its table */
	snprintf(hit->table, sizeof hit->table, "%.7s", c->fam);
	snprintf(hit->chain, sizeof hit->chain, "%.31s", c->name);
	snprintf(hit->path, sizeof hit->path, "%.40s %.80s", c->table, path);
	char r[512];
	snprintf(r, sizeof r, "%s", rule);
	/* without counters, as the iptables side shows its rules */
	char *k = strstr(r, "counter packets ");
	if (k) {
		char *e = strstr(k + 16, " bytes ");
		if (e) {
			e += 7;
			while (*e >= '0' && *e <= '9')
				e++;
			memmove(k + 7, e, strlen(e) + 1);
		}
	}
	snprintf(hit->rule, sizeof hit->rule, "%s", r);
	snprintf(hit->to, sizeof hit->to, "%s", to);
}

int
pp_nft_foreign_first(const struct pp_nft_foreign *f, const struct pp_foreign_query *q, bool docker_handled,
                     bool policy, struct pp_foreign_hit *hit)
{
	if (!f)
		return -1;
	for (int k = 0; k < 2; k++) {
		enum pp_proto p = k ? PP_UDP : PP_TCP;
		if (!(q->proto & p))
			continue;
		/* 1. a DNAT in another table's nat prerouting chain that runs before portpilot's (dstnat):
		   the first NAT of a flow is the one it keeps */
		struct flow pre = { true, p, q->public_ip, q->pub_lo, q->pub_hi, q->wan_if, NULL, q->ip6 };
		for (size_t i = 0; i < f->n && !q->ip6; i++) {
			const struct fchain *c = &f->c[i];
			/* portpilot's chain is at dstnat - 1, ahead of the tools at dstnat (iptables-nft,
			   Docker, firewalld): only a chain still earlier takes the port first */
			if (strcmp(c->hook, "prerouting") != 0 || strcmp(c->type, "nat") != 0 || c->prio >= PP_NFT_DNAT_PRIO)
				continue;
			const char *rule = NULL;
			char path[128] = "", to[96] = "";
			if (walk(f, c, &pre, 0, &rule, path, sizeof path, to, sizeof to) == V_DNAT) {
				hit_fill(hit, PP_FOREIGN_DNAT, c, path, rule, to, true);
				return 1;
			}
		}
		/* 2. a drop in any other table's forward base chain: each runs, whatever the priority */
		struct flow fwd = { false, p, q->internal_ip, q->in_lo, q->in_hi, q->wan_if, q->lan_if, q->ip6 };
		/* a family's chains see its own packets only: ip6 none of IPv4's, ip none of IPv6's */
		const char *other = q->ip6 ? "ip" : "ip6";
		for (size_t i = 0; i < f->n; i++) {
			const struct fchain *c = &f->c[i];
			if (strcmp(c->hook, "forward") != 0 || strcmp(c->type, "filter") != 0 || strcmp(c->fam, other) == 0)
				continue;
			bool docker = strcmp(c->fam, q->ip6 ? "ip6" : "ip") == 0 && strcmp(c->table, "filter") == 0 &&
			              strcmp(c->name, "FORWARD") == 0;
			if (docker && docker_handled)
				continue;           /* the commit puts portpilot's accept at its top */
			const char *rule = NULL;
			char path[128] = "", to[96] = "";
			enum verdict v = walk(f, c, &fwd, 0, &rule, path, sizeof path, to, sizeof to);
			if (v == V_DROP) {
				hit_fill(hit, PP_FOREIGN_DROP, c, path, rule, "", false);
				return 1;
			}
			if (policy && v != V_ACCEPT && c->policy_drop) {
				snprintf(path, sizeof path, "%s", c->name);
				hit_fill(hit, PP_FOREIGN_DROP, c, path, "policy drop", "", false);
				return 1;
			}
		}
	}
	return 0;
}
