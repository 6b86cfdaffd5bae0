/* The IPv6 side of a mapping in the iptables backend: pinholes in ip6tables' filter table. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/backend.h"
#include "portpilot/conntrack.h"
#include "portpilot/ipv6.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

/* The same bit as the IPv4 tree's: IPv6 flows have their own conntrack entries, no clash. */
/* Both bits at once: a hairpin flow (PP_IP6_HAIRPIN_MARK), as ip6tables-save prints them. */
#define HP_MARKS "0x18000000/0x18000000"

void
pp_want_ip6(const struct pp_table *t, struct pp_want *w)
{
	struct pp_cidr6 prefix;
	int have = -1;                  /* read once, on the first host id */
	for (size_t i = 0; i < t->n && i < w->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		struct pp_want_map *x = &w->maps[i];
		if (!pp_mapping_wants_ip6(m))
			continue;
		struct pp_want_v6 *v = x->v6 = pp_xcalloc(1, sizeof *v);
		v->only = m->ipv6 == PP_V6_ONLY;
		v->hostid = m->ip6_hostid;
		if (v->only)
			x->active = false;      /* no IPv4 DNAT: every backend leaves its IPv4 side out */
		/* ipv6 = only needs no internal_ip. A port translation is NAT66: never open the public
		   port on the server instead. */
		if (!pp_mapping_active6(m, w->now))
			continue;
		v->nat66 = m->nat66 && !(m->bad & (1u << PP_F_NAT66));
		for (size_t e = 0; e < x->nports; e++)
			v->nat66 |= x->ports[e].pub_lo != x->ports[e].in_lo;
		if (m->ip6_hostid) {
			if (have < 0)
				have = w->lan_if && pp_prefix6_of(w->lan_if, &prefix) == 0 && prefix.len <= 64;
			if (!have)
				continue;
			pp_ip6_combine(&prefix, m->internal_ip6, v->ip);
		} else {
			memcpy(v->ip, m->internal_ip6, 16);
		}
		v->on = true;
		v->any_source = pp_mapping_any_source6(m);
		v->allow = m->allow6;
		v->nallow = m->nallow6;
	}
}

bool
pp_want_has_ip6(const struct pp_want *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->maps[i].v6 && w->maps[i].v6->on)
			return true;
	return false;
}

void
pp_ip6_empty(struct pp_ruleset *rs)
{
	memset(rs, 0, sizeof *rs);
	rs->hooks[PP_NAT].name = pp_xstrdup("");
	rs->hooks[PP_FILTER].name = pp_xstrdup("");
	rs->hooks[PP_FILTER].table = PP_FILTER;
}

/* One rule per element of the port list (public_port = 80,443,9000-9001): each element is its
   own pinhole, so closing one cuts only its flows (pp_ip6_flush keeps by rule). */
static void
pin_rule(struct pp_chain *c, const struct pp_want_map *m, const struct pp_cidr6 *src, const char *proto)
{
	char ip[PP_IP6_STR], s[PP_IP6_STR + 8] = "", ports[16];
	pp_format_ipv6(m->v6->ip, ip);
	if (src) {
		char a[PP_IP6_STR];
		pp_format_ipv6(src->addr, a);
		snprintf(s, sizeof s, "-s %s/%u ", a, src->len);
	}
	for (size_t e = 0; e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		pp_format_ports(ports, sizeof ports, pp.in_lo, pp.in_hi);
		char *dash = strchr(ports, '-');
		if (dash)
			*dash = ':';            /* ip6tables' range */
		/* Exactly as ip6tables-save prints it, so live and rendered rules compare as text. */
		char *r = pp_xasprintf("-A PP-PIN %s-d %s/128 -p %s -m %s --dport %s -m comment --comment \"%s\" -j PP-OK",
		                       s, ip, proto, proto, ports, m->tag);
		pp_chain_add(c, r);
		free(r);
	}
}

/*
 * NAT66 (a public port other than the server's): in ip6tables' nat table, PREROUTING -j PP-PRE,
 * and per source, protocol and public port a mark (so PP-FWD's first rule accepts the flow, as
 * a pinhole's) and a DNAT to the server, matched on the router's own address type.
 */
/* The two rules of one way in: the mark(s), then the DNAT to [ip]:to. */
static void
mark_dnat(struct pp_chain *c, const char *head, const char *marks, const char *ip, unsigned to)
{
	char *r = pp_xasprintf("%s -j CONNMARK --set-xmark %s", head, marks);
	pp_chain_add(c, r);
	free(r);
	r = pp_xasprintf("%s -j DNAT --to-destination [%s]:%u", head, ip, to);
	pp_chain_add(c, r);
	free(r);
}

/*
 * The router's own connections (PP-OUT: any local address but ::1, no allow list, no mark, as
 * IPv4's PP-OUT) and, with hairpin on, LAN clients at a router address that is not on the LAN
 * side (PP-PRE: marked as hairpin, so PP-POST masquerades them). Per protocol and public port.
 */
static void
local_rules(struct pp_ruleset *out, const struct pp_want *w, const struct pp_want_map *m, const char *ip,
            const char *pn, unsigned p, unsigned to)
{
	char *r = pp_xasprintf("-A PP-OUT ! -d ::1/128 -p %s -m addrtype --dst-type LOCAL -m %s --dport %u -m comment "
	                       "--comment \"%s\" -j DNAT --to-destination [%s]:%u", pn, pn, p, m->tag, ip, to);
	pp_chain_add(pp_ruleset_chain(out, PP_NAT, "PP-OUT", true), r);
	free(r);
	if (!w->lan_if || !*w->lan_if || !m->hairpin)
		return;
	char *head = pp_xasprintf("-A PP-PRE -i %s -p %s -m addrtype --dst-type LOCAL -m addrtype ! --dst-type LOCAL "
	                          "--limit-iface-in -m %s --dport %u -m comment --comment \"%s\"", w->lan_if, pn, pn,
	                          p, m->tag);
	mark_dnat(pp_ruleset_chain(out, PP_NAT, "PP-PRE", true), head, HP_MARKS, ip, to);
	free(head);
}

static void
nat66_rules(struct pp_ruleset *out, const struct pp_want *w, const struct pp_want_map *m)
{
	const struct pp_want_v6 *v = m->v6;
	char ip[PP_IP6_STR];
	pp_format_ipv6(v->ip, ip);
	struct pp_chain *c = pp_ruleset_chain(out, PP_NAT, "PP-PRE", true);
	size_t ns = v->any_source ? 1 : v->nallow;
	for (size_t e = 0; e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		for (int k = 0; k < 2; k++) {
			const char *pn = k ? "udp" : "tcp";
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			for (unsigned p = pp.pub_lo; p <= pp.pub_hi; p++) {
				for (size_t i = 0; i < ns; i++) {
					char s[PP_IP6_STR + 8] = "";
					if (!v->any_source) {
						char a[PP_IP6_STR];
						pp_format_ipv6(v->allow[i].addr, a);
						snprintf(s, sizeof s, "-s %s/%u ", a, v->allow[i].len);
					}
					char *head = pp_xasprintf("-A PP-PRE %s-i %s -p %s -m addrtype --dst-type LOCAL -m %s --dport %u "
					                          "-m comment --comment \"%s\"", s, w->wan_if, pn, pn, p, m->tag);
					mark_dnat(c, head, PP_OWN_MARK "/" PP_OWN_MARK, ip, pp.in_lo + (p - pp.pub_lo));
					free(head);
				}
				local_rules(out, w, m, ip, pn, p, pp.in_lo + (p - pp.pub_lo));
			}
		}
	}
}

void
pp_ip6_keep_nat(const struct pp_ruleset *rs, struct pp_buf *keep)
{
	const struct pp_chain *c = pp_ruleset_chain((struct pp_ruleset *)rs, PP_NAT, "PP-PRE", false);
	for (size_t i = 0; c && i < c->n; i++) {
		const char *r = c->rules[i], *to = strstr(r, " -j DNAT --to-destination [");
		char src[64] = "", ip[64];
		unsigned port;
		if (!to || sscanf(to + 27, "%63[^]]]:%u", ip, &port) != 2)
			continue;
		const char *s = strstr(r, " -s ");
		if (s)
			sscanf(s + 4, "%63s", src);
		const char *pn = strstr(r, " -p udp ") ? "udp" : "tcp";
		bool hp = strstr(r, " --limit-iface-in ") != NULL;      /* a hairpin way in */
		pp_buf_printf(keep, "-A PP-PIN %s%s%s-d %s/128 -p %s -m %s --dport %u%s\n", *src ? "-s " : "", src,
		              *src ? " " : "", ip, pn, pn, port, hp ? " " PP_IP6_HAIRPIN_KEEP : "");
	}
}

/* The ip6 nat hooks NAT66 needs, and PP-POST's masquerade of hairpin flows when there are some. */
static void
nat_hooks(const struct pp_want *w, struct pp_ruleset *out)
{
	const struct pp_chain *pre = pp_ruleset_chain(out, PP_NAT, "PP-PRE", false);
	if (!pre)
		return;
	pp_chain_add(&out->hooks[PP_NAT], "-A PREROUTING -j PP-PRE");
	pp_chain_add(&out->hooks[PP_NAT], "-A OUTPUT -j PP-OUT");
	bool hp = false;
	for (size_t i = 0; i < pre->n && !hp; i++)
		hp = strstr(pre->rules[i], " --set-xmark " HP_MARKS) != NULL;
	if (!hp)
		return;
	char *r = pp_xasprintf("-A PP-POST -o %s " PP_IP6_HAIRPIN_KEEP " -m conntrack --ctstate DNAT -j MASQUERADE",
	                       w->lan_if);
	pp_chain_add(pp_ruleset_chain(out, PP_NAT, "PP-POST", true), r);
	free(r);
	pp_chain_add(&out->hooks[PP_NAT], "-A POSTROUTING -j PP-POST");
}

void
pp_ip6_render(const struct pp_want *w, struct pp_ruleset *out)
{
	pp_ip6_empty(out);
	if (!pp_want_has_ip6(w))
		return;                 /* nothing over IPv6 unless a mapping asks for it */
	struct pp_chain *fwd = pp_ruleset_chain(out, PP_FILTER, "PP-FWD", true);
	pp_chain_add(fwd, "-A PP-FWD -m connmark --mark " PP_OWN_MARK "/" PP_OWN_MARK " -j ACCEPT");
	char *r = pp_xasprintf("-A PP-FWD -i %s%s%s -j PP-PIN", w->wan_if, w->lan_if ? " -o " : "",
	                       w->lan_if ? w->lan_if : "");
	pp_chain_add(fwd, r);
	free(r);
	struct pp_chain *ok = pp_ruleset_chain(out, PP_FILTER, "PP-OK", true);
	pp_chain_add(ok, "-A PP-OK -j CONNMARK --set-xmark " PP_OWN_MARK "/" PP_OWN_MARK);
	pp_chain_add(ok, "-A PP-OK -j ACCEPT");
	struct pp_chain *pin = pp_ruleset_chain(out, PP_FILTER, "PP-PIN", true);
	for (size_t i = 0; i < w->n; i++) {
		const struct pp_want_map *m = &w->maps[i];
		const struct pp_want_v6 *v = m->v6;
		if (!v || !v->on)
			continue;
		if (v->nat66) {
			nat66_rules(out, w, m);
			continue;
		}
		for (int k = 0; k < 2; k++) {
			const char *pn = k ? "udp" : "tcp";
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			if (v->any_source) {
				pin_rule(pin, m, NULL, pn);
				continue;
			}
			for (size_t s = 0; s < v->nallow; s++)
				pin_rule(pin, m, &v->allow[s], pn);
		}
	}
	pp_chain_add(&out->hooks[PP_FILTER], "-A FORWARD -j PP-FWD");
	nat_hooks(w, out);
}

void
pp_ipt6_of(const struct pp_ipt *v4, struct pp_ipt *v6)
{
	*v6 = *v4;
	snprintf(v6->save, sizeof v6->save, "ip6tables-%s-save", v4->variant);
	snprintf(v6->restore, sizeof v6->restore, "ip6tables-%s-restore", v4->variant);
	snprintf(v6->cmd, sizeof v6->cmd, "ip6tables-%s", v4->variant);
	v6->docker_user = false;
}

int
pp_ip6_read(const struct pp_ipt *v6, struct pp_ruleset *own, char **filter, struct pp_error *err)
{
	char *all = NULL, *e = NULL;
	char *argv[] = { (char *)v6->save, "-c", NULL };
	*filter = NULL;
	int rc = pp_run(argv, NULL, &all, &e);
	if (rc != 0) {
		pp_error_set(err, "%s failed (exit %d): %.300s; is IPv6 enabled in this kernel?", v6->save, rc,
		             e ? e : "");
		free(e);
		free(all);
		pp_ip6_empty(own);
		return -1;
	}
	free(e);
	*filter = pp_save_section(all, "filter");
	if (pp_ruleset_parse_buf(all, own, err) < 0) {
		free(*filter);
		*filter = NULL;
		pp_ip6_empty(own);
		return -1;
	}
	return 0;
}

/* The pinhole rules of tag in rs (in order), as a count and a joined text for comparison. */
static size_t
tagged(const struct pp_ruleset *rs, const char *tag, struct pp_buf *b, unsigned long long *pkts,
       unsigned long long *bytes)
{
	char *needle = pp_xasprintf("--comment \"%s\" ", tag);
	size_t n = 0;
	/* pinholes (filter PP-PIN) and NAT66 (nat PP-PRE, PP-OUT: the DNAT rules count the connections) */
	static const char *const chains[] = { "PP-PIN", "PP-PRE", "PP-OUT" };
	for (int t = 0; t < 3; t++) {
		const struct pp_chain *c = pp_ruleset_chain((struct pp_ruleset *)rs, t ? PP_NAT : PP_FILTER, chains[t],
		                                            false);
		for (size_t i = 0; c && i < c->n; i++) {
			if (!strstr(c->rules[i], needle))
				continue;
			n++;
			if (b)
				pp_buf_printf(b, "%s\n", c->rules[i]);
			if (pkts && c->pkts && (!t || strstr(c->rules[i], " -j DNAT "))) {
				*pkts += c->pkts[i];
				*bytes += c->bytes[i];
			}
		}
	}
	free(needle);
	return n;
}

size_t
pp_ip6_pinholes(const struct pp_ruleset *live, const char *tag, const char *addr, unsigned long long *pkts)
{
	const struct pp_chain *c = pp_ruleset_chain((struct pp_ruleset *)live, PP_FILTER, "PP-PIN", false);
	char *needle = pp_xasprintf("--comment \"%s\" ", tag), *dst = pp_xasprintf("-d %s/128 ", addr);
	size_t n = 0;
	for (size_t i = 0; c && i < c->n; i++) {
		if (!strstr(c->rules[i], needle) || !strstr(c->rules[i], dst))
			continue;
		n++;
		if (pkts && c->pkts)
			*pkts += c->pkts[i];
	}
	free(needle);
	free(dst);
	return n;
}

static void
add_str(char ***v, size_t *n, char *s)
{
	*v = pp_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

/* The layout (every chain but PP-PIN, and the hooks) differs: what, for people. */
static bool
layout6(const struct pp_ruleset *want, const struct pp_ruleset *live, struct pp_layout_status *ls)
{
	bool broken = false;
	for (size_t i = 0; i < want->n; i++) {
		const struct pp_chain *w = &want->chains[i];
		if (strcmp(w->name, "PP-PIN") == 0 || strcmp(w->name, "PP-PRE") == 0 || strcmp(w->name, "PP-OUT") == 0)
			continue;       /* the mappings' own: per mapping in status */
		const struct pp_chain *l = pp_ruleset_chain((struct pp_ruleset *)live, w->table, w->name, false);
		bool same = l && l->n == w->n;
		for (size_t k = 0; same && k < w->n; k++)
			same = strcmp(w->rules[k], l->rules[k]) == 0;
		if (!same) {
			broken = true;
			const char *tn = w->table == PP_NAT ? "nat" : "filter";
			if (ls)
				add_str(&ls->problems, &ls->nproblems,
				        pp_xasprintf("ip6 %s: chain %s %s (ip6tables-save -t %s)", tn, w->name,
				                     l ? "differs" : "missing", tn));
		}
	}
	for (int t = 0; t < 2; t++) {
		const struct pp_chain *wh = &want->hooks[t ? PP_NAT : PP_FILTER], *lh = &live->hooks[t ? PP_NAT : PP_FILTER];
		for (size_t i = 0; i < wh->n; i++) {
			bool found = false;
			for (size_t k = 0; k < lh->n && !found; k++)
				found = strcmp(wh->rules[i], lh->rules[k]) == 0;
			if (!found) {
				broken = true;
				if (ls)
					add_str(&ls->problems, &ls->nproblems, pp_xasprintf("ip6 %s: missing %s", t ? "nat" : "filter",
					                                                    wh->rules[i]));
			}
		}
	}
	return broken;
}

void
pp_ip6_status(const struct pp_want *w, const struct pp_ruleset *want, const struct pp_ruleset *live,
              const char *filter, struct pp_map_status *st, struct pp_layout_status *ls)
{
	(void)filter;
	bool broken = pp_want_has_ip6(w) && layout6(want, live, ls);
	for (size_t i = 0; i < w->n; i++) {
		const struct pp_want_map *m = &w->maps[i];
		struct pp_map_status *s = &st[i];
		struct pp_buf wb = { 0 }, lb = { 0 };
		unsigned long long pk = 0, by = 0;
		size_t cw = tagged(want, m->tag, &wb, NULL, NULL), cl = tagged(live, m->tag, &lb, &pk, &by);
		bool same = cw == cl && (cw == 0 || strcmp(wb.data, lb.data) == 0);
		pp_buf_free(&wb);
		pp_buf_free(&lb);
		s->pkts += pk;
		s->bytes += by;
		if (m->v6) {
			s->has6 = true;
			s->pkts6 = pk;
			s->bytes6 = by;
			s->hostid6 = m->v6->hostid;
			s->addr6_known = m->v6->on;
			memcpy(s->ip6, m->v6->ip, 16);
			s->sync6 = !m->v6->on ? (cl ? PP_SYNC_STALE : PP_SYNC_INACTIVE)
			         : cl == 0 ? PP_SYNC_MISSING : same && !broken ? PP_SYNC_OK : PP_SYNC_DRIFTED;
		} else if (cl) {
			s->has6 = true;         /* pinholes left over: show them */
			s->sync6 = PP_SYNC_STALE;
			s->pkts6 = pk;
			s->bytes6 = by;
		}
		if (!m->v6 || !m->v6->on) {
			/* Pinholes of a mapping that no longer asks for IPv6: still open, drift. */
			if (cl)
				s->sync = m->active ? PP_SYNC_DRIFTED : PP_SYNC_STALE;
			continue;
		}
		enum pp_sync v6 = cl == 0 ? PP_SYNC_MISSING : same && !broken ? PP_SYNC_OK : PP_SYNC_DRIFTED;
		if (m->v6->only)
			s->sync = s->sync == PP_SYNC_STALE ? PP_SYNC_DRIFTED : v6;   /* IPv4 rules left over */
		else if (v6 != PP_SYNC_OK)
			s->sync = s->sync == PP_SYNC_MISSING && v6 == PP_SYNC_MISSING ? PP_SYNC_MISSING : PP_SYNC_DRIFTED;
	}
	/* Pinholes whose mapping is gone from the table. */
	const struct pp_chain *c = pp_ruleset_chain((struct pp_ruleset *)live, PP_FILTER, "PP-PIN", false);
	for (size_t i = 0; ls && c && i < c->n; i++) {
		const char *t = strstr(c->rules[i], "--comment \"pp:");
		if (!t)
			continue;
		t += 11;
		size_t len = strcspn(t, "\"");
		bool known = false;
		for (size_t k = 0; k < w->n && !known; k++)
			known = strlen(w->maps[k].tag) == len && strncmp(w->maps[k].tag, t, len) == 0;
		for (size_t k = 0; k < ls->norphans && !known; k++)
			known = strlen(ls->orphans[k]) == len - 3 && strncmp(ls->orphans[k], t + 3, len - 3) == 0;
		if (!known)
			add_str(&ls->orphans, &ls->norphans, pp_xstrndup(t + 3, len - 3));
	}
}

void
pp_ip6_checks(const struct pp_want *w, const char *filter, struct pp_findings *out)
{
	if (!pp_want_has_ip6(w))
		return;
	/* Not set by --enable-forwarding: with forwarding on, a WAN that takes its IPv6 route from
	   router advertisements stops doing so unless accept_ra is 2. The engineer decides. */
	if (pp_sysctl_read("net.ipv6.conf.all.forwarding") == 0)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "sysctl -w net.ipv6.conf.all.forwarding=1 (and net.ipv6.conf.WAN.accept_ra=2 when the "
		                "WAN's IPv6 route comes from router advertisements)",
		                "IPv6 forwarding is off (net.ipv6.conf.all.forwarding = 0): the pinholes are in place "
		                "but nothing is forwarded over IPv6");
	if (!filter || !*filter)
		return;
	if (strstr(filter, "\n:FORWARD ACCEPT") || strncmp(filter, ":FORWARD ACCEPT", 15) == 0)
		pp_findings_add(out, PP_WARNING, 0, NULL, NULL,
		                "set the policy to drop (ip6tables -P FORWARD DROP, after an accept for your LAN's "
		                "own outbound traffic): portpilot's pinholes then decide what comes in",
		                "ip6tables filter FORWARD accepts everything by policy: every LAN host is reachable "
		                "over IPv6 from the internet, not only the mappings' pinholes");
}

/* A pinhole rule as flush needs it. */
struct pin {
	bool hairpin;                   /* keeps hairpin flows only (PP_IP6_HAIRPIN_KEEP), and only it does */
	bool has_src;
	struct pp_cidr6 src;
	uint8_t dst[16];
	enum pp_proto proto;
	unsigned lo, hi;
};

static bool
pin_parse(const char *r, struct pin *p)
{
	char tok[80];
	const char *s;
	memset(p, 0, sizeof *p);
	if ((s = strstr(r, " -s ")) && sscanf(s + 4, "%79s", tok) == 1) {
		if (pp_parse_cidr6(tok, &p->src, NULL) < 0)
			return false;
		p->has_src = true;
	}
	if (!(s = strstr(r, " -d ")) || sscanf(s + 4, "%79s", tok) != 1 || !strchr(tok, '/'))
		return false;
	*strchr(tok, '/') = '\0';
	if (pp_parse_ipv6(tok, p->dst) < 0)
		return false;
	p->hairpin = strstr(r, " " PP_IP6_HAIRPIN_KEEP) != NULL;
	p->proto = strstr(r, " -p udp ") ? PP_UDP : strstr(r, " -p tcp ") ? PP_TCP : 0;
	if (!p->proto || !(s = strstr(r, " --dport ")))
		return false;
	int k = sscanf(s + 9, "%u:%u", &p->lo, &p->hi);
	if (k == 1)
		p->hi = p->lo;
	return k >= 1;
}

struct pins {
	struct pin *v;
	size_t n;
};

/* A flow a pinhole admitted (portpilot's mark) that no pinhole of keep admits any more. Where the
   flow goes is its reply side's source: a pinhole's destination, or the server a NAT66 flow was
   translated to. */
static bool
closed_flow(const struct pp_ct_flow *f, void *arg)
{
	const struct pins *p = arg;
	if ((f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP) || !(f->mark & 0x10000000ul))
		return false;
	enum pp_proto pr = f->proto == IPPROTO_TCP ? PP_TCP : PP_UDP;
	for (size_t i = 0; i < p->n; i++) {
		const struct pin *v = &p->v[i];
		if (v->proto == pr && memcmp(v->dst, f->rsrc, 16) == 0 && f->rsport >= v->lo && f->rsport <= v->hi &&
		    v->hairpin == !!(f->mark & PP_IP6_HAIRPIN_MARK) && (!v->has_src || pp_cidr6_has(&v->src, f->osrc)))
			return false;
	}
	return true;
}

void
pp_ip6_flush(const char *keep, struct pp_plan *plan)
{
	size_t cap = 8;
	struct pins p = { .v = pp_xmalloc(cap * sizeof *p.v) };
	for (const char *l = keep; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *line = pp_xstrndup(l, strcspn(l, "\n"));
		if (p.n == cap)
			p.v = pp_xrealloc(p.v, (cap *= 2) * sizeof *p.v);
		if (strncmp(line, "-A PP-PIN ", 10) == 0 && pin_parse(line + 9, &p.v[p.n]))
			p.n++;
		free(line);
	}
	struct pp_ct_result r;
	pp_ct_remove(AF_INET6, closed_flow, &p, &r);
	pp_ct_account(plan, &r);
	free(p.v);
}

/* The ip6 nat table holds nothing but empty built-in chains with policy accept (nft's listing). */
static bool
nat_empty(const char *list)
{
	for (const char *l = list; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *t = l + strspn(l, " \t");
		size_t n = strcspn(t, "\n");
		bool ok = n == 0 || *t == '}' || *t == '#' || strncmp(t, "table ip6 nat {", 15) == 0 ||
		          (strncmp(t, "type nat hook ", 14) == 0 && memmem(t, n, "policy accept;", 14)) ||
		          (strncmp(t, "chain ", 6) == 0 && (strncmp(t + 6, "PREROUTING {", 12) == 0 ||
		           strncmp(t + 6, "INPUT {", 7) == 0 || strncmp(t + 6, "OUTPUT {", 8) == 0 ||
		           strncmp(t + 6, "POSTROUTING {", 13) == 0));
		if (!ok)
			return false;
	}
	return true;
}

void
pp_ip6_nat_tidy(const struct pp_ipt *v6)
{
	char *list = NULL;
	struct pp_error e;
	if (strcmp(v6->variant, "nft") != 0 || pp_nft_run("list table ip6 nat", false, &list, &e) < 0) {
		free(list);
		return;                 /* legacy: the table stays; no table: nothing to do */
	}
	/* One transaction: a chain someone filled meanwhile makes its delete fail, and nothing goes. */
	if (nat_empty(list)) {
		struct pp_buf b = { 0 };
		static const char *const bi[] = { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" };
		for (int i = 0; i < 4; i++) {
			char *c = pp_xasprintf("chain %s {", bi[i]);
			if (strstr(list, c))
				pp_buf_printf(&b, "delete chain ip6 nat %s\n", bi[i]);
			free(c);
		}
		pp_buf_addstr(&b, "delete table ip6 nat\n");
		pp_nft_run(b.data, false, NULL, &e);
		pp_buf_free(&b);
	}
	free(list);
}
