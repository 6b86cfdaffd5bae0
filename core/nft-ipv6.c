/* The IPv6 side of the nftables backend (issue 15): pinholes in table inet portpilot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/ipv6.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

/* The IPv4 side's bit (core/backend-nft.c): IPv6 flows have their own conntrack entries. */
/* A NAT66 flow a LAN client started (hairpin): its source is masqueraded (PP_IP6_HAIRPIN_MARK). */
#define HP_MARK "0x08000000"
#define BOTH_MARKS "0x18000000"
#define NOT_BOTH "0xe7ffffff"

/* A CIDR as nft prints it in a set: a /128 as the bare address. */
static void
cidr6(char *buf, size_t sz, const struct pp_cidr6 *c)
{
	char a[PP_IP6_STR];
	pp_format_ipv6(c->addr, a);
	if (c->len == 128)
		snprintf(buf, sz, "%s", a);
	else
		snprintf(buf, sz, "%s/%u", a, c->len);
}

/* Is a inside b (b no longer than a, same leading bits)? */
static bool
cidr6_in(const struct pp_cidr6 *a, const struct pp_cidr6 *b)
{
	return b->len <= a->len && pp_cidr6_has(b, a->addr);
}

/* The sources of a pinhole: any (::/0) or the allow list's IPv6 entries, nested ones left out
   (an interval set refuses overlapping elements). */
static size_t
sources6(const struct pp_want_v6 *v, struct pp_cidr6 *out)
{
	if (v->any_source || v->nallow == 0) {
		memset(&out[0], 0, sizeof out[0]);
		return 1;
	}
	size_t k = 0;
	for (size_t i = 0; i < v->nallow; i++) {
		bool inner = false;
		for (size_t j = 0; j < v->nallow && !inner; j++)
			inner = j != i && cidr6_in(&v->allow[i], &v->allow[j]) &&
			        (v->allow[i].len != v->allow[j].len || j < i);
		if (!inner)
			out[k++] = v->allow[i];
	}
	return k;
}

static void
pin_elements(const struct pp_want_map *m, struct pp_nft_state *out)
{
	const struct pp_want_v6 *v = m->v6;
	char ip[PP_IP6_STR], ports[16];
	pp_format_ipv6(v->ip, ip);
	struct pp_cidr6 *src = pp_xcalloc(v->nallow + 1, sizeof *src);
	size_t n = sources6(v, src);
	/* no NAT: the server's own ports, one element per element of the port list */
	for (size_t e = 0; e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		pp_format_ports(ports, sizeof ports, pp.in_lo, pp.in_hi);
		for (int k = 0; k < 2; k++) {
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			for (size_t i = 0; i < n; i++) {
				char s[PP_IP6_STR + 8];
				cidr6(s, sizeof s, &src[i]);
				pp_nft_el_add(out, PP_NFT_PIN6, pp_xasprintf("%s . %s . %s . %s comment \"%s\"", s, ip,
				                                              k ? "udp" : "tcp", ports, m->tag));
			}
		}
	}
	free(src);
}

/* A LAN client at the router's address (hairpin) also has the mapping's hairpin on. */
static bool
hairpin6(const struct pp_want *w, const struct pp_want_map *m)
{
	return w->lan_if && *w->lan_if && m->hairpin;
}

/* The router's own connections and hairpin: one element per public port, no source (as IPv4's
   output and hairpin, which the allow list does not hold back). */
static void
local_elements(const struct pp_want *w, const struct pp_want_map *m, struct pp_nft_state *out)
{
	char ip[PP_IP6_STR];
	pp_format_ipv6(m->v6->ip, ip);
	for (size_t e = 0; e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		for (int k = 0; k < 2; k++)
			for (unsigned p = pp.pub_lo; p <= pp.pub_hi && (m->proto & (k ? PP_UDP : PP_TCP)); p++)
				for (int hp = 0; hp < 2; hp++)
					if (!hp || hairpin6(w, m))
						pp_nft_el_add(out, hp ? PP_NFT_HP6 : PP_NFT_OWN6,
						              pp_xasprintf("%s . %u comment \"%s\" : %s . %u", k ? "udp" : "tcp", p,
						                           m->tag, ip, pp.in_lo + (p - pp.pub_lo)));
	}
}

/* NAT66: one element per public port and source, to the server's address and internal port. */
static void
nat66_elements(const struct pp_want_map *m, struct pp_nft_state *out)
{
	const struct pp_want_v6 *v = m->v6;
	char ip[PP_IP6_STR];
	pp_format_ipv6(v->ip, ip);
	struct pp_cidr6 *src = pp_xcalloc(v->nallow + 1, sizeof *src);
	size_t n = sources6(v, src);
	for (size_t e = 0; e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		for (int k = 0; k < 2; k++) {
			if (!(m->proto & (k ? PP_UDP : PP_TCP)))
				continue;
			for (unsigned p = pp.pub_lo; p <= pp.pub_hi; p++)
				for (size_t i = 0; i < n; i++) {
					char s[PP_IP6_STR + 8];
					cidr6(s, sizeof s, &src[i]);
					pp_nft_el_add(out, PP_NFT_NAT6, pp_xasprintf("%s . %s . %u comment \"%s\" : %s . %u", s,
					                                              k ? "udp" : "tcp", p, m->tag, ip,
					                                              pp.in_lo + (p - pp.pub_lo)));
				}
		}
	}
	free(src);
}

/*
 * Hairpin: a LAN client at one of the router's addresses other than its LAN side's (the
 * public one), as IPv4's hairpin entry. Both marks: portpilot's (the forward accepts) and the
 * hairpin one, which says in postrouting that the flow came in from the LAN. Its source is then
 * masqueraded, so the server's replies come back through the router, not straight to the client.
 * The entry interface, not a prefix, says what is the LAN: no re-render when the prefix moves.
 */
/*
 * A way in from iif (prerouting, to a local address; more: further matches) that jumps to chain,
 * where the mark goes on before the DNAT (which ends the chain) and off again when no element
 * took the flow.
 */
static void
way_in(struct pp_nft_state *out, const char *iif, const char *more, const char *chain, const char *on,
       const char *dnat, const char *off)
{
	char *r = pp_xasprintf("iifname \"%s\" meta nfproto ipv6 meta l4proto { tcp, udp } fib daddr type local %s"
	                       "jump %s", iif, more, chain);
	pp_nft_skel_add(out, "chain prerouting", r);
	free(r);
	char *where = pp_xasprintf("chain %s", chain);
	r = pp_xasprintf("ct mark set ct mark | %s", on);
	pp_nft_skel_add(out, where, r);
	free(r);
	pp_nft_skel_add(out, where, dnat);
	r = pp_xasprintf("ct mark set ct mark & %s", off);
	pp_nft_skel_add(out, where, r);
	free(r);
	free(where);
}

static void
hairpin_skel(const struct pp_want *w, struct pp_nft_state *out)
{
	pp_nft_skel_add(out, "map hp6", "type inet_proto . inet_service : ipv6_addr . inet_service");
	pp_nft_skel_add(out, "map hp6", "counter");
	way_in(out, w->lan_if, "fib daddr . iif type != local ", "hp6_in", BOTH_MARKS,
	       "meta l4proto { tcp, udp } dnat ip6 to meta l4proto . th dport map @hp6", NOT_BOTH);
	char *r = pp_xasprintf("oifname \"%s\" meta nfproto ipv6 ct mark & " HP_MARK " == " HP_MARK " ct status dnat "
	                 "masquerade", w->lan_if);
	pp_nft_skel_add(out, "chain postrouting", r);
	free(r);
}

/* The NAT66 part: only while some mapping needs it, so a table of pinholes keeps its layout. */
static void
render_nat66(const struct pp_want *w, struct pp_nft_state *out)
{
	bool any = false, hp = false;
	for (size_t i = 0; i < w->n; i++) {
		const struct pp_want_map *m = &w->maps[i];
		bool on = m->v6 && m->v6->on && m->v6->nat66;
		any |= on;
		hp |= on && hairpin6(w, m);
	}
	if (!any)
		return;
	pp_nft_skel_add(out, "map nat6", "type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service");
	pp_nft_skel_add(out, "map nat6", "flags interval");
	pp_nft_skel_add(out, "map nat6", "counter");
	/* matched on the address type, as the IPv4 DNAT: a new WAN address needs no re-render */
	way_in(out, w->wan_if, "", "map6_in", PP_OWN_MARK, "meta l4proto { tcp, udp } dnat ip6 to ip6 saddr . meta l4proto . "
	       "th dport map @nat6", "0xefffffff");
	/* The router's own connections to its address: no allow list, no mark (not forwarded). */
	pp_nft_skel_add(out, "map own6", "type inet_proto . inet_service : ipv6_addr . inet_service");
	pp_nft_skel_add(out, "map own6", "counter");
	pp_nft_skel_add(out, "chain output", "ip6 daddr != ::1 meta l4proto { tcp, udp } fib daddr type local "
	                "dnat ip6 to meta l4proto . th dport map @own6");
	if (hp)
		hairpin_skel(w, out);
	for (size_t i = 0; i < w->n; i++)
		if (w->maps[i].v6 && w->maps[i].v6->on && w->maps[i].v6->nat66) {
			nat66_elements(&w->maps[i], out);
			local_elements(w, &w->maps[i], out);
		}
}

void
pp_nft_render6(const struct pp_want *w, struct pp_nft_state *out)
{
	if (!pp_want_has_ip6(w))
		return;                 /* nothing over IPv6 unless a mapping asks for it */
	pp_nft_skel_add(out, "set pin6", "type ipv6_addr . ipv6_addr . inet_proto . inet_service");
	pp_nft_skel_add(out, "set pin6", "flags interval");
	pp_nft_skel_add(out, "set pin6", "counter");
	/*
	 * The mark goes on in prerouting, before any forward chain: every table's forward base chain
	 * runs, in an order set by priority and registration, and an accept for the mark in another
	 * table's chain (ip6tables-nft's FORWARD) must see it on the flow's first packet already.
	 */
	pp_nft_skel_add(out, "chain pre6", "type filter hook prerouting priority mangle - 1; policy accept;");
	char *r = pp_xasprintf("iifname \"%s\" ct state new ip6 saddr . ip6 daddr . meta l4proto . th dport @pin6 "
	                       "ct mark set ct mark | " PP_OWN_MARK, w->wan_if);
	pp_nft_skel_add(out, "chain pre6", r);
	free(r);
	pp_nft_skel_add(out, "chain forward", "meta nfproto ipv6 ct mark & " PP_OWN_MARK " == " PP_OWN_MARK " accept");
	for (size_t i = 0; i < w->n; i++)
		if (w->maps[i].v6 && w->maps[i].v6->on && !w->maps[i].v6->nat66)
			pin_elements(&w->maps[i], out);
	render_nat66(w, out);
}

bool
pp_nft_has6(const struct pp_nft_state *s)
{
	for (size_t i = 0; s && i < s->skel.n; i++)
		if (strncmp(s->skel.v[i], "set pin6\t", 9) == 0)
			return true;
	return false;
}

/* The elements of set that carry comment cm, in order (both states are normalized). */
static size_t
tagged6(const struct pp_nft_state *s, int set, const char *cm, const char **out, size_t max,
        unsigned long long *pk, unsigned long long *by)
{
	size_t n = 0;
	unsigned long long **p, **b;
	bool counted = pp_nft_counted(set, (struct pp_nft_state *)s, &p, &b);
	const struct pp_strv *v = &s->el[set];
	for (size_t i = 0; i < v->n; i++) {
		/* a set's comment ends the element, a map's comes before " : " and the value */
		const char *c = strstr(v->v[i], cm), *end = c ? c + strlen(cm) : NULL;
		if (!c || (*end != '\0' && strncmp(end, " : ", 3) != 0))
			continue;
		if (n < max)
			out[n] = v->v[i];
		n++;
		if (counted && pk && *p && *b) {
			*pk += (*p)[i];
			*by += (*b)[i];
		}
	}
	return n;
}

void
pp_nft_status6(const struct pp_nft_state *want, const struct pp_nft_state *live, const struct pp_want_map *m,
               struct pp_map_status *st)
{
	enum { MAX = 256 };
	char *cm = pp_xasprintf("comment \"%s\"", m->tag);
	const char *wv[MAX], *lv[MAX];
	size_t cw = 0, cl = 0;
	bool same = true;
	unsigned long long pk = 0, by = 0;
	const int sets[] = { PP_NFT_PIN6, PP_NFT_NAT6, PP_NFT_OWN6, PP_NFT_HP6 };
	for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
		size_t a = tagged6(want, sets[k], cm, wv, MAX, NULL, NULL);
		size_t b = tagged6(live, sets[k], cm, lv, MAX, &pk, &by);
		same = same && a == b && a <= MAX;
		for (size_t i = 0; same && i < a; i++)
			same = strcmp(wv[i], lv[i]) == 0;
		cw += a;
		cl += b;
	}
	free(cm);
	if (!m->v6 && !cl)
		return;
	st->has6 = true;
	st->pkts6 = pk;
	st->bytes6 = by;
	if (!m->v6) {
		st->sync6 = PP_SYNC_STALE;      /* pinholes left over: show them */
		return;
	}
	st->hostid6 = m->v6->hostid;
	st->addr6_known = m->v6->on;
	memcpy(st->ip6, m->v6->ip, 16);
	st->sync6 = !m->v6->on ? (cl ? PP_SYNC_STALE : PP_SYNC_INACTIVE)
	          : cl == 0 ? PP_SYNC_MISSING : same && cw == cl ? PP_SYNC_OK : PP_SYNC_DRIFTED;
}

int
pp_nft_pinholes(const struct pp_nft_state *s, const char *tag, const char *addr, unsigned long long *pkts)
{
	const struct pp_strv *v = &s->el[PP_NFT_PIN6];
	char *to = pp_xasprintf(" . %s . ", addr), *cm = pp_xasprintf("comment \"%s\"", tag);
	int n = 0;
	*pkts = 0;
	for (size_t i = 0; i < v->n; i++) {
		const char *c = strstr(v->v[i], cm);
		if (!strstr(v->v[i], to) || !c || c[strlen(cm)] != '\0')
			continue;
		n++;
		*pkts += s->pkts6 ? s->pkts6[i] : 0;
	}
	free(to);
	free(cm);
	return n;
}

char *
pp_nft_keep6(const struct pp_nft_state *s)
{
	struct pp_buf b = { 0 };
	pp_buf_addstr(&b, "");
	const struct pp_strv *v = &s->el[PP_NFT_PIN6];
	for (size_t i = 0; i < v->n; i++) {
		char src[64], dst[64], proto[4], ports[16];
		if (sscanf(v->v[i], "%63s . %63s . %3s . %15s", src, dst, proto, ports) != 4)
			continue;
		char *dash = strchr(ports, '-');
		if (dash)
			*dash = ':';
		bool any = strcmp(src, "::/0") == 0;
		pp_buf_printf(&b, "-A PP-PIN %s%s%s-d %s/128 -p %s -m %s --dport %s\n", any ? "" : "-s ", any ? "" : src,
		              any ? "" : " ", dst, proto, proto, ports);
	}
	/* NAT66 flows: kept by where they were translated to (pp_ip6_flush reads the reply side) */
	v = &s->el[PP_NFT_NAT6];
	for (size_t i = 0; i < v->n; i++) {
		char src[64], proto[4], dst[64];
		unsigned port;
		const char *to = strstr(v->v[i], " : ");
		if (sscanf(v->v[i], "%63s . %3s", src, proto) != 2 || !to || sscanf(to + 3, "%63s . %u", dst, &port) != 2)
			continue;
		bool any = strcmp(src, "::/0") == 0;
		pp_buf_printf(&b, "-A PP-PIN %s%s%s-d %s/128 -p %s -m %s --dport %u\n", any ? "" : "-s ", any ? "" : src,
		              any ? "" : " ", dst, proto, proto, port);
	}
	/* hairpin flows: by the hairpin mark, from any LAN client */
	v = &s->el[PP_NFT_HP6];
	for (size_t i = 0; i < v->n; i++) {
		char proto[4], dst[64];
		unsigned port;
		const char *to = strstr(v->v[i], " : ");
		if (sscanf(v->v[i], "%3s", proto) != 1 || !to || sscanf(to + 3, "%63s . %u", dst, &port) != 2)
			continue;
		pp_buf_printf(&b, "-A PP-PIN -d %s/128 -p %s -m %s --dport %u " PP_IP6_HAIRPIN_KEEP "\n", dst, proto,
		              proto, port);
	}
	return b.data;
}

bool
pp_nft_blocker6(struct pp_nft_blocker *b, bool ours)
{
	if (strcmp(b->family, "ip6") != 0 || strcmp(b->table, "filter") != 0 || strcmp(b->chain, "FORWARD") != 0)
		return false;
	b->ip6tables = true;
	b->handled = ours;
	snprintf(b->fix, sizeof b->fix, "ip6tables-nft's FORWARD: portpilot's accept for its pinholes' flows goes at "
	         "its top (ip6tables -I FORWARD 1 -m connmark --mark " PP_OWN_MARK "/" PP_OWN_MARK " -m comment "
	         "--comment pp:forward -j ACCEPT) while a mapping has a pinhole");
	return true;
}

int
pp_nft_foreign_first6(const struct pp_nft_foreign *f, const struct pp_want *w, const struct pp_want_map *m,
                      bool handled6, struct pp_foreign_hit *hit)
{
	int r = 0;
	/* every element of the port list: a foreign drop of any one of them blocks the mapping */
	for (size_t e = 0; r != 1 && e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		struct pp_foreign_query q = { .proto = m->proto, .pub_lo = pp.in_lo, .pub_hi = pp.in_hi, .in_lo = pp.in_lo,
		                              .in_hi = pp.in_hi, .wan_if = w->wan_if, .lan_if = w->lan_if, .ip6 = true };
		r = pp_nft_foreign_first(f, &q, handled6, true, hit);
	}
	return r;
}

void
pp_nft_accept6(bool on)
{
#define ACCEPT6 "FORWARD", "-m", "connmark", "--mark", PP_OWN_MARK "/" PP_OWN_MARK, "-m", "comment", "--comment", \
	"pp:forward", "-j", "ACCEPT"
	char *check[] = { "ip6tables-nft", "-w", "-C", ACCEPT6, NULL };
	bool there = pp_run(check, NULL, NULL, NULL) == 0;
	if (there == on)
		return;
	char *add[] = { "ip6tables-nft", "-w", "-I", ACCEPT6, NULL };
	char *del[] = { "ip6tables-nft", "-w", "-D", ACCEPT6, NULL };
	pp_run(on ? add : del, NULL, NULL, NULL);
#undef ACCEPT6
}

void
pp_nft_checks6(const struct pp_want *w, const struct pp_nft_blocker *blk, size_t nblk,
               const struct pp_nft_foreign *f, struct pp_findings *out)
{
	if (!pp_want_has_ip6(w))
		return;                 /* an ip6 chain's drops meet no mapping then */
	pp_ip6_checks(w, NULL, out);
	bool ip6t = false;
	for (size_t i = 0; i < nblk; i++)
		ip6t |= blk[i].ip6tables;
	enum { MAX_SHOWN = 10 };
	for (size_t i = 0, shown = 0; i < w->n && shown < MAX_SHOWN; i++) {
		const struct pp_want_map *m = &w->maps[i];
		struct pp_foreign_hit h;
		if (!m->v6 || !m->v6->on || pp_nft_foreign_first6(f, w, m, ip6t, &h) != 1)
			continue;
		pp_foreign_finding(out, m->line, m->name, &h);
		shown++;
	}
	for (size_t i = 0; i < nblk; i++) {
		const struct pp_nft_blocker *k = &blk[i];
		if (!k->ip6 || k->handled)
			continue;
		if (k->ip6tables && (k->policy_drop || k->drop_rules))
			pp_findings_add(out, PP_WARNING, 0, NULL, NULL, k->fix,
			                "nftables: ip6 filter FORWARD (ip6tables-nft, forward hook, priority %d) drops what "
			                "portpilot's own table accepts over IPv6; the apply puts an accept for the pinholes' "
			                "flows at its top", k->prio);
		else if (k->policy_drop)
			pp_findings_add(out, PP_WARNING, 0, NULL, NULL, k->fix,
			                "nftables: %s %s %s (forward hook, priority %d) has policy drop: in nftables an "
			                "accept ends only its own chain, so it still drops the pinholes' IPv6 flows",
			                k->family, k->table, k->chain, k->prio);
	}
}
