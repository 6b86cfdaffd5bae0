/* Render the mapping table into portpilot's chains: a port tree so a new connection costs ~log(n) rules. */
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

/*
 * Rules per leaf chain. Every chain costs iptables-nft-restore about as much
 * as eight rules (20,000 mappings: 16-mapping leaves, 2,506 chains, restore
 * 690 ms; 128-rule leaves, 318 chains, 470 ms), while a new connection pays
 * only ~0.035% of its cost per rule walked (bench/dataplane: 20,000 linear
 * rules leave 13.6% of the rate), so a leaf of 128 rules costs ~2-4%.
 */
#define LEAF_DEFAULT 128

/*
 * The conntrack mark bit that says "portpilot's tree DNATed this flow": the
 * FORWARD accept asks for it, so DNATs by other tools or the user's own rules
 * still meet the user's FORWARD rules. A mark costs the same at any table
 * size; an ACCEPT per mapping in a filter tree tripled the 20,000-mapping
 * apply (nft: 0.5 s -> 1.5 s, conntrack matches load slowly). One bit under
 * a mask: other users of the mark keep theirs. A high bit, clear of the low
 * bytes that mwan3, Cilium, Kubernetes and podman use.
 */

struct item {
	uint16_t lo, hi;
	size_t rules;                   /* DNAT rules the mapping renders to */
	const struct pp_want_map *m;
	struct pp_port_pair pp;         /* the element of its port list this item is */
};

struct ctx {
	const struct pp_want *w;
	struct pp_ruleset *rs;
	size_t leaf_max;
	const char *proto;              /* "tcp" / "udp" */
	bool lan_entry;                 /* PP-PRE takes every LAN client to the public address (site hairpin) */
};

/*
 * Appenders for the per-rule path: 20,000 rules through snprintf, a tag
 * malloc'd per rule and strdup'd again cost 11 ms of a 50 ms one-change apply.
 */
static char *
put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

#define TAG_MAX 200                     /* name bytes kept in a tag */

/* "pp:" + name with unusual bytes as '_'; writes at most TAG_MAX + 3 bytes. */
static char *
put_tag(char *p, const char *name)
{
	/* the bytes a tag keeps as they are: letters, digits and ._-+@:/ */
	static const uint64_t keep[4] = { 0x07ffe80000000000ull, 0x07fffffe87ffffffull, 0, 0 };
	p = put(p, "pp:");
	for (size_t i = 0; i < TAG_MAX && name[i]; i++) {
		unsigned char c = (unsigned char)name[i];
		*p++ = keep[c >> 6] >> (c & 63) & 1 ? (char)c : '_';
	}
	return p;
}

size_t
pp_rule_tag_size(const char *name)
{
	return strnlen(name, TAG_MAX) + 4;
}

char *
pp_rule_tag_at(char *dst, const char *name)
{
	*put_tag(dst, name) = '\0';
	return dst;
}

char *
pp_rule_tag(const char *name)
{
	/* Sized to the name: the model holds one per mapping (20,000 x 204 bytes touched 4 MB). */
	return pp_rule_tag_at(pp_xmalloc(pp_rule_tag_size(name)), name);
}

static void
ports(char *buf, size_t sz, const char *sep, unsigned lo, unsigned hi)
{
	if (lo == hi)
		snprintf(buf, sz, "%u", lo);
	else
		snprintf(buf, sz, "%u%s%u", lo, sep, hi);
}

static void
cidr_str(char *buf, size_t sz, const struct pp_cidr *c)
{
	char a[16];
	pp_format_ipv4(c->addr, a);
	snprintf(buf, sz, "%s/%u", a, c->len);
}

/*
 * One rule of a mapping for one source (NULL = any; local: the router itself).
 * The DNAT target keeps the port when unchanged and shifts a range with /base.
 */
static void
leaf_rule(struct ctx *x, struct pp_chain *c, const struct pp_want_map *m, const struct pp_port_pair *pp,
          const struct pp_cidr *src, bool local)
{
	char r[512], *p = r;               /* names are short, the tag at most TAG_MAX + 3: < 400 */
	p = put(put(p, "-A "), c->name);
	if (src) {
		p = pp_put_ipv4(put(p, " -s "), src->addr);
		*p++ = '/';
		p = pp_put_uint(p, src->len);
	}
	p = put(put(put(put(p, " -p "), x->proto), " -m "), x->proto);
	p = pp_put_uint(put(p, " --dport "), pp->pub_lo);
	if (pp->pub_hi != pp->pub_lo) {
		*p++ = ':';
		p = pp_put_uint(p, pp->pub_hi);
	}
	if (local)
		p = put(p, " -m addrtype --src-type LOCAL");
	p = put_tag(put(p, " -m comment --comment \""), m->name);
	if (!m->internal_ip) {          /* no target: the hairpin-off RETURN (hairpin_off_rule) */
		p = put(p, "\" -j RETURN");
		*p = '\0';
		pp_chain_add(c, r);
		return;
	}
	p = pp_put_ipv4(put(p, "\" -j DNAT --to-destination "), m->internal_ip);
	if (pp->pub_lo == pp->pub_hi) {
		*p++ = ':';
		p = pp_put_uint(p, pp->in_lo);
	} else if (pp->in_lo != pp->pub_lo) {
		*p++ = ':';
		p = pp_put_uint(p, pp->in_lo);
		*p++ = '-';
		p = pp_put_uint(p, pp->in_hi);
		*p++ = '/';
		p = pp_put_uint(p, pp->pub_lo);
	}
	*p = '\0';
	pp_chain_add(c, r);
}

/* The mapping's hairpin in force (its own hairpin =, else the site's: pp_want_build resolved it). */
static bool
hairpin_on(const struct ctx *x, const struct pp_want_map *m)
{
	return x->w->have_lan && m->hairpin;
}

/*
 * hairpin = no on a mapping of a hairpin site: LAN clients at the public
 * address leave the tree untranslated (a RETURN ahead of the DNAT, so the
 * router answers for itself and nothing reaches the server that way).
 */
static void
hairpin_off_rule(struct ctx *x, struct pp_chain *c, const struct pp_want_map *m, const struct pp_port_pair *pp)
{
	struct pp_want_map r = { .name = m->name };  /* internal_ip 0: leaf_rule writes -j RETURN */
	leaf_rule(x, c, &r, pp, &x->w->lan, false);
}

static void
mapping_rules(struct ctx *x, struct pp_chain *c, const struct pp_want_map *m, const struct pp_port_pair *pp)
{
	bool any = m->nallow == 0;
	for (size_t i = 0; i < m->nallow; i++) {
		if (m->allow[i].len == 0)
			any = true;
	}
	if (x->lan_entry && !hairpin_on(x, m))
		hairpin_off_rule(x, c, m, pp);
	if (any) {
		leaf_rule(x, c, m, pp, NULL, false);
		return;
	}
	for (size_t i = 0; i < m->nallow; i++)
		leaf_rule(x, c, m, pp, &m->allow[i], false);
	/* LAN clients using the public address, and the router itself, stay allowed. */
	if (hairpin_on(x, m))
		leaf_rule(x, c, m, pp, &x->w->lan, false);
	leaf_rule(x, c, m, pp, NULL, true);
}

/* How many rules mapping_rules() writes for m (one element of its port list). */
static size_t
rule_count(const struct ctx *x, const struct pp_want_map *m)
{
	size_t off = x->lan_entry && !hairpin_on(x, m);
	for (size_t i = 0; i < m->nallow; i++)
		if (m->allow[i].len == 0)
			return off + 1;
	if (m->nallow == 0)
		return off + 1;
	return off + m->nallow + hairpin_on(x, m) + 1;
}

static char *
chain_name(struct ctx *x, unsigned lo, unsigned hi)
{
	return pp_xasprintf("PP-D%c-%u-%u", x->proto[0] == 't' ? 'T' : 'U', lo, hi);
}

/* A jump to the subtree over [lo,hi] (mid split), matching its port range. */
static void
jump_rule(struct ctx *x, struct pp_chain *c, unsigned lo, unsigned hi, const char *to, bool cond)
{
	char p[16], r[256];
	ports(p, sizeof p, ":", lo, hi);
	if (!cond)
		snprintf(r, sizeof r, "-A %s -g %s", c->name, to);
	else
		snprintf(r, sizeof r, "-A %s -p %s -m %s --dport %s -g %s", c->name, x->proto, x->proto, p, to);
	pp_chain_add(c, r);
}

/* Build the node over [lo,hi] holding items (sorted, all inside); returns its chain name or NULL. */
static char *
build(struct ctx *x, unsigned lo, unsigned hi, struct item *v, size_t n)
{
	if (n == 0)
		return NULL;
	unsigned mid = lo + (hi - lo) / 2;
	size_t nl = 0, ns = 0, weight = 0;
	for (size_t i = 0; i < n; i++)
		weight += v[i].rules;
	while (nl < n && v[nl].hi <= mid)
		nl++;
	while (nl + ns < n && v[nl + ns].lo <= mid)
		ns++;
	size_t nr = n - nl - ns;
	if (weight > x->leaf_max && ns == 0 && (nl == 0 || nr == 0) && lo < hi)
		return nl ? build(x, lo, mid, v, nl) : build(x, mid + 1, hi, v + nl, nr);
	char *name = chain_name(x, lo, hi);
	struct pp_chain *c = pp_ruleset_chain(x->rs, PP_NAT, name, true);
	if (weight <= x->leaf_max || lo == hi) {
		for (size_t i = 0; i < n; i++)
			mapping_rules(x, c, v[i].m, &v[i].pp);
		return name;
	}
	for (size_t i = nl; i < nl + ns; i++)
		mapping_rules(x, c, v[i].m, &v[i].pp);
	char *l = build(x, lo, mid, v, nl);
	char *r = build(x, mid + 1, hi, v + nl + ns, nr);
	c = pp_ruleset_chain(x->rs, PP_NAT, name, false);
	if (l)
		jump_rule(x, c, lo, mid, l, r != NULL);
	if (r)
		jump_rule(x, c, mid + 1, hi, r, false);
	free(l);
	free(r);
	return name;
}

static int
cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return (int)x->lo - (int)y->lo;
}

/* The nat tree of one protocol; returns the root chain name or NULL if empty. */
static char *
tree(struct ctx *x, enum pp_proto p)
{
	size_t cap = 1;
	for (size_t i = 0; i < x->w->n; i++)
		cap += pp_want_nports(&x->w->maps[i]);
	struct item *v = pp_xcalloc(cap, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < x->w->n; i++) {
		const struct pp_want_map *m = &x->w->maps[i];
		if (!m->active || !(m->proto & p))
			continue;
		/* A port list: one item per element, each in the leaf its ports fall in. */
		for (size_t k = 0; k < pp_want_nports(m); k++) {
			struct pp_port_pair pp = pp_want_port(m, k);
			v[n++] = (struct item){ pp.pub_lo, pp.pub_hi, rule_count(x, m), m, pp };
		}
	}
	qsort(v, n, sizeof *v, cmp_item);
	x->proto = p == PP_TCP ? "tcp" : "udp";
	char *root = build(x, 1, 65535, v, n);
	free(v);
	return root;
}

static void
add(struct pp_ruleset *rs, enum pp_nf_table t, const char *chain, const char *fmt, const char *a,
    const char *b)
{
	struct pp_chain *c = pp_ruleset_chain(rs, t, chain, true);
	char r[512];
	snprintf(r, sizeof r, fmt, a, b);
	char *line = pp_xasprintf("-A %s %s", chain, r);
	pp_chain_add(c, line);
	free(line);
}

/* Some active mapping has hairpin on (the site's default or its own hairpin = yes). */
static bool
any_hairpin(const struct ctx *x)
{
	for (size_t i = 0; i < x->w->n; i++)
		if (x->w->maps[i].active && hairpin_on(x, &x->w->maps[i]))
			return true;
	return false;
}

static void
entry_chains(struct ctx *x, const char *wan, const char *lan)
{
	struct pp_ruleset *rs = x->rs;
	const struct pp_want *s = x->w;
	char lanc[40] = "", pub[16];
	if (s->have_lan)
		cidr_str(lanc, sizeof lanc, &s->lan);
	add(rs, PP_NAT, "PP-PRE", "-i %s -m addrtype --dst-type LOCAL -g PP-MARK%s", wan, "");
	/* The relay's tunnel is a second WAN: the edge sends the public ports through it (relay-rules.c). */
	if (s->relay_if[0])
		add(rs, PP_NAT, "PP-PRE", "-i %s -m addrtype --dst-type LOCAL -g PP-MARK%s", s->relay_if, "");
	if (x->lan_entry) {
		if (s->public_ip) {
			pp_format_ipv4(s->public_ip, pub);
			char *r = pp_xasprintf("-s %s -d %s/32 -i %%s -g PP-MARK%%s", lanc, pub);
			add(rs, PP_NAT, "PP-PRE", r, lan, "");
			free(r);
		} else {
			char *r = pp_xasprintf("-s %s ! -d %s -i %%s -m addrtype --dst-type LOCAL -g PP-MARK%%s",
			                       lanc, lanc);
			add(rs, PP_NAT, "PP-PRE", r, lan, "");
			free(r);
		}
	}
	if (s->have_lan && lan && (x->lan_entry || any_hairpin(x))) {
		/* Only portpilot's hairpin flows: another tool's LAN-to-LAN DNAT keeps its source. */
		char *r = pp_xasprintf("-s %s -d %s -o %%s -m connmark --mark %s/%s -m conntrack --ctstate DNAT "
		                       "-j MASQUERADE%%s", lanc, lanc, PP_OWN_MARK, PP_OWN_MARK);
		add(rs, PP_NAT, "PP-POST", r, lan, "");
		free(r);
	}
	/* The router's own connections are not forwarded: no mark needed. */
	add(rs, PP_NAT, "PP-OUT", "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -g PP-DNAT%s%s", "", "");
	pp_ruleset_chain(rs, PP_NAT, "PP-POST", true);
	pp_ruleset_chain(rs, PP_NAT, "PP-DNAT", true);
	/*
	 * A DNAT ends the nat chain, so the mark goes on before the tree and comes
	 * off again when the tree returns without a mapping: only flows that a
	 * portpilot DNAT rule took keep it.
	 */
	add(rs, PP_NAT, "PP-MARK", "-j CONNMARK --set-xmark %s/%s", PP_OWN_MARK, PP_OWN_MARK);
	add(rs, PP_NAT, "PP-MARK", "-j PP-DNAT%s%s", "", "");
	add(rs, PP_NAT, "PP-MARK", "-j CONNMARK --set-xmark 0x0/%s%s", PP_OWN_MARK, "");
	/* FORWARD: every packet of portpilot's DNATed flows (new, established, related), nothing else. */
	add(rs, PP_FILTER, "PP-FWD", "-m connmark --mark %s/%s -m conntrack --ctstate DNAT -j ACCEPT", PP_OWN_MARK,
	    PP_OWN_MARK);
}

/*
 * masquerade = yes: the mapping's forwarded flows leave for the server with the router's LAN
 * address as their source, so a server whose gateway is another router (or none, a camera)
 * answers through this one. Only flows portpilot's own DNAT of this mapping made: the mark, the
 * DNAT state, the internal ip:port and the original public port. Allow lists still hold: they
 * match in PREROUTING, before this SNAT. The server's logs then show the router as the client.
 */
static void
masquerade_rules(struct ctx *x, const char *lan)
{
	struct pp_chain *c = pp_ruleset_chain(x->rs, PP_NAT, "PP-POST", true);
	static const char *const pn[] = { "tcp", "udp" };
	for (size_t i = 0; i < x->w->n; i++) {
		const struct pp_want_map *m = &x->w->maps[i];
		if (!m->masquerade || !m->active)
			continue;
		for (int k = 0; k < 2; k++) {
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			char ip[16], in[16], pub[16], r[512], *tag = pp_rule_tag(m->name);
			pp_format_ipv4(m->internal_ip, ip);
			for (size_t e = 0; e < pp_want_nports(m); e++) {
				struct pp_port_pair pp = pp_want_port(m, e);
				ports(in, sizeof in, ":", pp.in_lo, pp.in_hi);
				ports(pub, sizeof pub, ":", pp.pub_lo, pp.pub_hi);
				snprintf(r, sizeof r, "-A PP-POST -d %s/32%s%s -p %s -m %s --dport %s -m connmark --mark %s/%s "
				         "-m conntrack --ctstate DNAT --ctorigdstport %s -m comment --comment \"%s\" -j MASQUERADE",
				         ip, lan ? " -o " : "", lan ? lan : "", pn[k], pn[k], in, PP_OWN_MARK, PP_OWN_MARK, pub, tag);
				pp_chain_add(c, r);
			}
			free(tag);
		}
	}
}

static void
hooks(struct pp_ruleset *rs, bool docker_user)
{
	pp_chain_add(&rs->hooks[PP_NAT], "-A PREROUTING -j PP-PRE");
	pp_chain_add(&rs->hooks[PP_NAT], "-A OUTPUT -j PP-OUT");
	pp_chain_add(&rs->hooks[PP_NAT], "-A POSTROUTING -j PP-POST");
	pp_chain_add(&rs->hooks[PP_FILTER], "-A FORWARD -j PP-FWD");
	if (docker_user)
		pp_chain_add(&rs->hooks[PP_FILTER], "-A DOCKER-USER -j PP-FWD");
}

/*
 * hairpin = yes on a mapping of a site without hairpin: the LAN entry for its
 * own ports only (tagged, so it is the mapping's rule in plans and status).
 * One rule per mapping that asks: the exception, so the linear cost stays small.
 */
static void
hairpin_entries(struct ctx *x, const char *lan)
{
	const struct pp_want *s = x->w;
	if (x->lan_entry || !s->have_lan || !lan)
		return;
	struct pp_chain *c = pp_ruleset_chain(x->rs, PP_NAT, "PP-PRE", true);
	static const char *const pn[] = { "tcp", "udp" };
	char lanc[40], pub[16];
	cidr_str(lanc, sizeof lanc, &s->lan);
	if (s->public_ip)
		pp_format_ipv4(s->public_ip, pub);
	for (size_t i = 0; i < s->n; i++) {
		const struct pp_want_map *m = &s->maps[i];
		if (!m->active || !hairpin_on(x, m))
			continue;
		char *tag = pp_rule_tag(m->name);
		for (int k = 0; k < 2; k++) {
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			for (size_t e = 0; e < pp_want_nports(m); e++) {
				struct pp_port_pair pp = pp_want_port(m, e);
				char ports_s[16], r[600];
				ports(ports_s, sizeof ports_s, ":", pp.pub_lo, pp.pub_hi);
				if (s->public_ip)
					snprintf(r, sizeof r, "-A PP-PRE -s %s -d %s/32 -i %s -p %s -m %s --dport %s -m comment "
					         "--comment \"%s\" -g PP-MARK", lanc, pub, lan, pn[k], pn[k], ports_s, tag);
				else
					snprintf(r, sizeof r, "-A PP-PRE -s %s ! -d %s -i %s -p %s -m %s --dport %s -m addrtype "
					         "--dst-type LOCAL -m comment --comment \"%s\" -g PP-MARK", lanc, lanc, lan, pn[k],
					         pn[k], ports_s, tag);
				pp_chain_add(c, r);
			}
		}
		free(tag);
	}
}

/* The iptables backend's render: want's active mappings as portpilot's chains. */
void
pp_ipt_render(const struct pp_want *w, bool docker_user, struct pp_ruleset *out)
{
	const char *wan = w->wan_if, *lan = w->lan_if;
	memset(out, 0, sizeof *out);
	out->hooks[PP_NAT].name = pp_xstrdup("");
	out->hooks[PP_FILTER].name = pp_xstrdup("");
	out->hooks[PP_FILTER].table = PP_FILTER;
	struct ctx x = { .w = w, .rs = out, .leaf_max = w->leaf_max ? w->leaf_max : LEAF_DEFAULT,
	                 .lan_entry = w->hairpin && w->have_lan && lan };
	entry_chains(&x, wan, lan);
	hairpin_entries(&x, lan);
	masquerade_rules(&x, lan);
	static const enum pp_proto protos[] = { PP_TCP, PP_UDP };
	for (int i = 0; i < 2; i++) {
		const char *pn = protos[i] == PP_TCP ? "tcp" : "udp";
		char *root = tree(&x, protos[i]);
		if (root)
			add(out, PP_NAT, "PP-DNAT", "-p %s -g %s", pn, root);
		free(root);
	}
	hooks(out, docker_user);
}

int
pp_render(const struct pp_table *t, const struct pp_render_opts *o, struct pp_ruleset *out,
          struct pp_error *err)
{
	struct pp_want w;
	if (pp_want_build(t, o->now, &w, err) < 0)
		return -1;
	/* The caller's LAN and layout, not the host's: unit tests and benches render for a site. */
	w.have_lan = o->have_lan;
	w.lan = o->lan;
	w.leaf_max = o->leaf_max;
	pp_ipt_render(&w, o->docker_user, out);
	pp_want_free(&w);
	return 0;
}
