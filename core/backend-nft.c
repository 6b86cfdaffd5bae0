/* The native nftables backend: render, plan (element updates), commit, read back, restore, coexistence. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <nftables/libnftables.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/ipv6.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

/* As core/rules-render.c: the same bit means "portpilot DNATed this flow" on both backends. */

static const char *const set_where[PP_NFT__SETS] = { "map dnat_to", "set restricted", "set allowed",
                                                     "set masq_to", "set hairpin_off", "set hairpin_on",
                                                     "set pin6", "map nat6", "map own6", "map hp6" };
static const char *const set_name[PP_NFT__SETS] = { "dnat_to", "restricted", "allowed", "masq_to",
                                                    "hairpin_off", "hairpin_on", "pin6", "nat6", "own6",
                                                    "hp6" };
/* Definitions exactly as `nft list` prints them, so rendered and live compare as text. */
static const char *const set_def[PP_NFT__SETS][2] = {
	{ "type inet_proto . inet_service : ipv4_addr . inet_service", "counter" },
	{ "type inet_proto . inet_service", NULL },
	{ "type inet_proto . inet_service . ipv4_addr", "flags interval" },
	{ "type ipv4_addr . inet_proto . inet_service . inet_service", "flags interval" },
	{ "type inet_proto . inet_service", NULL },
	{ "type inet_proto . inet_service", NULL },
	{ NULL, NULL },                 /* pin6: core/nft-ipv6.c writes it, only when needed */
	{ NULL, NULL },                 /* nat6: the same */
	{ NULL, NULL },                 /* own6: the same */
	{ NULL, NULL },                 /* hp6: the same */
};

/*
 * Per-mapping hairpin against the site's: lan_entry, every LAN client to the public address
 * enters map_in ([site] hairpin); off, some mapping of such a site says hairpin = no (its ports
 * in @hairpin_off: LAN sources return untranslated, as the iptables RETURN ahead of its DNAT);
 * on, some mapping of a site without says hairpin = yes (its ports in @hairpin_on: a LAN entry
 * for those ports only, as the iptables backend's tagged PP-PRE entry).
 */
struct hp {
	bool lan_entry, off, on;
};

static struct hp
hp_of(const struct pp_want *w)
{
	struct hp h = { .lan_entry = w->hairpin && w->have_lan && w->lan_if && *w->lan_if };
	bool lan = w->have_lan && w->lan_if && *w->lan_if;
	for (size_t i = 0; i < w->n && lan; i++) {
		const struct pp_want_map *m = &w->maps[i];
		if (!m->active)
			continue;
		h.off |= h.lan_entry && !m->hairpin;
		h.on |= !h.lan_entry && m->hairpin;
	}
	return h;
}

static void
strv_add(struct pp_strv *s, char *owned)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = pp_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = owned;
}

static void
strv_free(struct pp_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/*
 * The elements a render or a parse writes live in blocks the state frees whole: one malloc
 * per 256 KB instead of one per element (20,000 of them on each apply), and the strings side
 * by side for plan's and diff's passes over them. Elements added from elsewhere
 * (pp_nft_el_add) stay malloc'd: a free asks which kind a string is. A render from an
 * earlier one (pp_nft_render_from) shares that one's blocks: each block counts the states
 * holding it, and only a block held by one state alone takes more strings.
 */
struct el_blk {
	size_t used, cap;
	unsigned refs;
	char data[];
};
struct el_arena {
	struct el_blk **v;
	size_t n, cap;
	size_t blk_size;                /* of the blocks it allocates (0: EL_BLK) */
	bool loose;                     /* some element is malloc'd (pp_nft_el_add) */
};
#define EL_BLK (256 * 1024)
#define EL_BLK_SMALL (16 * 1024)   /* a render from an earlier one writes a few elements */

static void inc_free(void *p);

static struct el_arena *
arena_of(struct pp_nft_state *s)
{
	if (!s->blk)
		s->blk = pp_xcalloc(1, sizeof(struct el_arena));
	return s->blk;
}

static void
arena_push(struct el_arena *a, struct el_blk *b)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = pp_xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = b;
}

static char *
el_alloc(struct pp_nft_state *s, size_t n)
{
	struct el_arena *a = arena_of(s);
	struct el_blk *b = a->n ? a->v[a->n - 1] : NULL;
	if (!b || b->refs > 1 || b->cap - b->used < n) {
		size_t want = a->blk_size ? a->blk_size : EL_BLK, cap = n > want ? n : want;
		b = pp_xmalloc(sizeof *b + cap);
		b->used = 0;
		b->cap = cap;
		b->refs = 1;
		arena_push(a, b);
	}
	char *p = b->data + b->used;
	b->used += n;
	return p;
}

/* The last el_alloc's bytes from end on were not needed after all. */
static void
el_shrink(struct pp_nft_state *s, const char *end)
{
	struct el_arena *a = s->blk;
	struct el_blk *b = a->v[a->n - 1];
	b->used = (size_t)(end - b->data);
}

/* dst holds src's blocks too: src's strings stay valid in dst whichever is freed first. */
static void
arena_share(struct pp_nft_state *dst, const struct pp_nft_state *src)
{
	const struct el_arena *sa = src->blk;
	struct el_arena *a = arena_of(dst);
	for (size_t i = 0; sa && i < sa->n; i++) {
		sa->v[i]->refs++;
		arena_push(a, sa->v[i]);
	}
}

static bool
el_in_blk(const struct pp_nft_state *s, const char *p)
{
	uintptr_t a = (uintptr_t)p;
	const struct el_arena *ar = s->blk;
	for (size_t i = 0; ar && i < ar->n; i++)
		if (a >= (uintptr_t)ar->v[i]->data && a < (uintptr_t)ar->v[i]->data + ar->v[i]->cap)
			return true;
	return false;
}

static char *
el_dup(struct pp_nft_state *s, const char *e, size_t n)
{
	char *p = memcpy(el_alloc(s, n + 1), e, n);
	p[n] = '\0';
	return p;
}

/* printf into the state's blocks. */
static char * __attribute__((format(printf, 2, 3)))
el_printf(struct pp_nft_state *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof buf)
		return el_dup(s, buf, (size_t)n);
	va_start(ap, fmt);
	char *big = pp_xvasprintf(fmt, ap);
	va_end(ap);
	char *p = el_dup(s, big, strlen(big));
	free(big);
	return p;
}

static void
el_strv_free(struct pp_nft_state *s, struct pp_strv *v)
{
	const struct el_arena *a = s->blk;
	for (size_t i = 0; (!a || a->loose) && i < v->n; i++)
		if (!el_in_blk(s, v->v[i]))
			free(v->v[i]);
	free(v->v);
	memset(v, 0, sizeof *v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
pp_nft_state_free(struct pp_nft_state *s)
{
	if (!s)
		return;
	free(s->pkts);
	free(s->bytes);
	free(s->pkts6);
	free(s->bytes6);
	free(s->pkts66);
	free(s->bytes66);
	free(s->pkts_own6);
	free(s->bytes_own6);
	free(s->pkts_hp6);
	free(s->bytes_hp6);
	strv_free(&s->skel);
	for (int i = 0; i < PP_NFT__SETS; i++)
		el_strv_free(s, &s->el[i]);
	struct el_arena *a = s->blk;
	for (size_t i = 0; a && i < a->n; i++)
		if (--a->v[i]->refs == 0)
			free(a->v[i]);
	if (a)
		free(a->v);
	free(a);
	inc_free(s->inc);
	free(s->text);
	memset(s, 0, sizeof *s);
}

static void
skel(struct pp_nft_state *s, const char *where, const char *line)
{
	strv_add(&s->skel, pp_xasprintf("%s\t%s", where, line));
}

void
pp_nft_skel_add(struct pp_nft_state *s, const char *where, const char *line)
{
	skel(s, where, line);
}

void
pp_nft_el_add(struct pp_nft_state *s, int set, char *owned)
{
	inc_free(s->inc); /* changed since its render: no longer one to render from */
	s->inc = NULL;
	arena_of(s)->loose = true;
	strv_add(&s->el[set], owned);
}

bool
pp_nft_counted(int set, struct pp_nft_state *s, unsigned long long ***pk, unsigned long long ***by)
{
	switch (set) {
	case PP_NFT_DNAT:
		*pk = &s->pkts;
		*by = &s->bytes;
		return true;
	case PP_NFT_PIN6:
		*pk = &s->pkts6;
		*by = &s->bytes6;
		return true;
	case PP_NFT_NAT6:
		*pk = &s->pkts66;
		*by = &s->bytes66;
		return true;
	case PP_NFT_OWN6:
		*pk = &s->pkts_own6;
		*by = &s->bytes_own6;
		return true;
	case PP_NFT_HP6:
		*pk = &s->pkts_hp6;
		*by = &s->bytes_hp6;
		return true;
	default:
		return false;
	}
}

/* A CIDR as nft prints it: a /32 as the bare address. */
static void
cidr(char *buf, size_t sz, const struct pp_cidr *c)
{
	char a[16];
	pp_format_ipv4(c->addr, a);
	if (c->len == 32)
		snprintf(buf, sz, "%s", a);
	else
		snprintf(buf, sz, "%s/%u", a, c->len);
}

static bool
cidr_in(const struct pp_cidr *in, const struct pp_cidr *out)
{
	if (out->len > in->len)
		return false;
	uint32_t mask = out->len ? ~0u << (32 - out->len) : 0;
	return (in->addr & mask) == (out->addr & mask);
}

/*
 * The sources a mapping admits from outside: its allow list (any = 0.0.0.0/0),
 * plus the LAN with hairpin, as the iptables leaf rules. Nested CIDRs are
 * dropped: an interval set refuses overlapping elements.
 */
static size_t
sources(const struct pp_want *w, const struct pp_want_map *m, struct pp_cidr *out)
{
	size_t n = 0;
	bool any = m->any_source || m->nallow == 0;
	for (size_t i = 0; i < m->nallow; i++)
		any |= m->allow[i].len == 0;
	if (any) {
		out[0] = (struct pp_cidr){ 0, 0 };
		return 1;
	}
	for (size_t i = 0; i < m->nallow; i++)
		out[n++] = m->allow[i];
	if (m->hairpin && w->have_lan)
		out[n++] = w->lan;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool inner = false;
		for (size_t j = 0; j < n && !inner; j++) {
			if (j == i || !cidr_in(&out[i], &out[j]))
				continue;
			/* equal CIDRs: keep the first one only */
			inner = out[i].len != out[j].len || j < i;
		}
		if (!inner)
			out[k++] = out[i];
	}
	return k;
}

/* Every element carries the mapping's tag as its comment: status, diff and expiry read it back. */
static void
mapping_elements(const struct pp_want *w, const struct hp *h, const struct pp_want_map *m,
                 const struct pp_port_pair *pp, struct pp_nft_state *s)
{
	const char *tag = m->tag;
	char pub[16] = "", in[16] = "", ip[16];
	pp_format_ipv4(m->internal_ip, ip);
	/* this mapping's hairpin differs from the site's: its ports in the set saying so */
	int hp_set = h->off && !m->hairpin ? PP_NFT_HP_OFF : h->on && m->hairpin ? PP_NFT_HP_ON : -1;
	/* most mappings are open to all, with no allow list: no allocation for them */
	struct pp_cidr few[8], *src = m->nallow + 2 <= 8 ? few : pp_xcalloc(m->nallow + 2, sizeof *src);
	size_t nsrc = sources(w, m, src);
	bool open = nsrc == 1 && src[0].len == 0;
	if (!open || m->masquerade) { /* the port ranges as the allowed and masq_to elements write them */
		pp_format_ports(pub, sizeof pub, pp->pub_lo, pp->pub_hi);
		pp_format_ports(in, sizeof in, pp->in_lo, pp->in_hi);
	}
	for (int k = 0; k < 2; k++) {
		if (!(m->proto & (k ? PP_UDP : PP_TCP)))
			continue;
		const char *pn = k ? "udp" : "tcp";
		/* One element per port: a range's ports shift by a fixed offset, which a map value cannot
		   express. Written by hand: 20,000 of them through printf cost most of a render. */
		size_t tl = strlen(tag), il = strlen(ip);
		for (unsigned p = pp->pub_lo; p <= pp->pub_hi; p++) {
			char *e = el_alloc(s, 3 + 3 + 5 + 10 + tl + 4 + il + 3 + 5 + 1), *q = e;
			memcpy(q, pn, 3);
			q = pp_put_uint((char *)memcpy(q + 3, " . ", 3) + 3, p);
			q = (char *)memcpy(q, " comment \"", 10) + 10;
			q = (char *)memcpy(q, tag, tl) + tl;
			q = (char *)memcpy(q, "\" : ", 4) + 4;
			q = (char *)memcpy(q, ip, il) + il;
			q = pp_put_uint((char *)memcpy(q, " . ", 3) + 3, pp->in_lo + (p - pp->pub_lo));
			*q++ = '\0';
			el_shrink(s, q);
			strv_add(&s->el[PP_NFT_DNAT], e);
		}
		/* Open mappings cost no allow lookup: only restricted ports are looked up in @allowed. */
		for (unsigned p = pp->pub_lo; p <= pp->pub_hi && !open; p++)
			strv_add(&s->el[PP_NFT_RESTRICTED], el_printf(s, "%s . %u comment \"%s\"", pn, p, tag));
		for (unsigned p = pp->pub_lo; p <= pp->pub_hi && hp_set >= 0; p++)
			strv_add(&s->el[hp_set], el_printf(s, "%s . %u comment \"%s\"", pn, p, tag));
		for (size_t i = 0; i < nsrc && !open; i++) {
			char c[24];
			cidr(c, sizeof c, &src[i]);
			strv_add(&s->el[PP_NFT_ALLOWED], el_printf(s, "%s . %s . %s comment \"%s\"", pn, pub, c, tag));
		}
		if (m->masquerade)
			strv_add(&s->el[PP_NFT_MASQ], el_printf(s, "%s . %s . %s . %s comment \"%s\"", ip, pn, in, pub, tag));
	}
	if (src != few)
		free(src);
}

static void
render_skel(const struct pp_want *w, struct hp h, struct pp_nft_state *s)
{
	const char *wan = w->wan_if, *lan = w->lan_if && *w->lan_if ? w->lan_if : NULL;
	for (int i = 0; i < PP_NFT__SETS; i++)
		for (int j = 0; j < 2; j++)
			if (set_def[i][j] && (i != PP_NFT_HP_OFF || h.off) && (i != PP_NFT_HP_ON || h.on))
				skel(s, set_where[i], set_def[i][j]);
	char line[512], lanc[24] = "", pub[16];
	bool hairpin = h.lan_entry;
	if (w->have_lan) {
		pp_format_ipv4(w->lan.addr, pub);
		snprintf(lanc, sizeof lanc, "%s/%u", pub, w->lan.len);
	}
	/* Written as nft prints them back (`|`, `tcp dport` for a dependency it folds). */
	if (h.off) {
		snprintf(line, sizeof line, "ip saddr %s meta l4proto . th dport @hairpin_off return", lanc);
		skel(s, "chain map_in", line);
	}
	skel(s, "chain map_in", "meta l4proto . th dport @restricted meta l4proto . th dport . ip saddr != @allowed return");
	/*
	 * A DNAT ends the chain, so the mark goes on before it and comes off again
	 * when the port has no mapping (as PP-MARK): only flows portpilot DNATed keep
	 * it. The map's per-element counters count the new connections of each port.
	 */
	skel(s, "chain map_in", "ct mark set ct mark | " PP_OWN_MARK);
	skel(s, "chain map_in", "dnat ip to meta l4proto . th dport map @dnat_to");
	skel(s, "chain map_in", "ct mark set ct mark & 0xefffffff");
	/*
	 * dstnat - 1: ahead of the other tools' nat chains at dstnat (iptables-nft, Docker,
	 * firewalld). At equal priority the chain registered last would run first, so which DNAT
	 * a flow got would depend on which table was (re)created last; one step earlier makes
	 * portpilot's mappings hold whatever the order, as PP-PRE's place in PREROUTING does.
	 */
	skel(s, "chain prerouting", "type nat hook prerouting priority dstnat - 1; policy accept;");
	snprintf(line, sizeof line, "iifname \"%s\" meta l4proto { tcp, udp } fib daddr type local jump map_in", wan);
	skel(s, "chain prerouting", line);
	/* The relay's tunnel is a second way in from outside (core/relay-rules.c): the same mappings. */
	if (w->relay_if[0]) {
		snprintf(line, sizeof line, "iifname \"%s\" meta l4proto { tcp, udp } fib daddr type local jump map_in",
		         w->relay_if);
		skel(s, "chain prerouting", line);
	}
	if (hairpin) {
		if (w->public_ip) {
			pp_format_ipv4(w->public_ip, pub);
			snprintf(line, sizeof line, "iifname \"%s\" ip saddr %s ip daddr %s meta l4proto { tcp, udp } jump map_in",
			         lan, lanc, pub);
		} else {
			snprintf(line, sizeof line, "iifname \"%s\" ip saddr %s ip daddr != %s meta l4proto { tcp, udp } "
			         "fib daddr type local jump map_in", lan, lanc, lanc);
		}
		skel(s, "chain prerouting", line);
	} else if (h.on) {
		if (w->public_ip) {
			pp_format_ipv4(w->public_ip, pub);
			snprintf(line, sizeof line, "iifname \"%s\" ip saddr %s ip daddr %s meta l4proto . th dport "
			         "@hairpin_on jump map_in", lan, lanc, pub);
		} else {
			snprintf(line, sizeof line, "iifname \"%s\" ip saddr %s ip daddr != %s meta l4proto . th dport "
			         "@hairpin_on fib daddr type local jump map_in", lan, lanc, lanc);
		}
		skel(s, "chain prerouting", line);
	}
	skel(s, "chain output", "type nat hook output priority -101; policy accept;");
	/* The router's own connections: no allow list, no mark (they are not forwarded). */
	skel(s, "chain output", "ip daddr != 127.0.0.0/8 meta l4proto { tcp, udp } fib daddr type local "
	     "dnat ip to meta l4proto . th dport map @dnat_to");
	skel(s, "chain postrouting", "type nat hook postrouting priority srcnat; policy accept;");
	if (hairpin || h.on) {
		/* Only portpilot's hairpin flows: another tool's LAN-to-LAN DNAT keeps its source. */
		snprintf(line, sizeof line, "oifname \"%s\" ip saddr %s ip daddr %s ct mark & " PP_OWN_MARK " == " PP_OWN_MARK
		         " ct status dnat masquerade", lan, lanc, lanc);
		skel(s, "chain postrouting", line);
	}
	static const char *const pn[] = { "tcp", "udp" };
	for (int k = 0; k < 2; k++) {
		char oif[40] = "";
		if (lan)
			snprintf(oif, sizeof oif, "oifname \"%s\" ", lan);
		snprintf(line, sizeof line, "%sct mark & " PP_OWN_MARK " == " PP_OWN_MARK " ct status dnat ip daddr . meta "
		         "l4proto . %s dport . ct original proto-dst @masq_to masquerade", oif, pn[k]);
		skel(s, "chain postrouting", line);
	}
	skel(s, "chain forward", "type filter hook forward priority filter; policy accept;");
	skel(s, "chain forward", "ct mark & " PP_OWN_MARK " == " PP_OWN_MARK " ct status dnat accept");
}

/* Sort what the kernel keeps unordered; skel keeps rule order within each chain. */
struct skel_item {
	char *s;
	size_t i;
};

/* Sets and maps before the chains using them, map_in before the chains jumping to it. */
static int
rank(const char *where)
{
	if (strncmp(where, "chain ", 6) != 0)
		return 0;
	return strncmp(where, "chain map_in\t", 13) == 0 ? 1 : 2;
}

static int
cmp_skel(const void *a, const void *b)
{
	const struct skel_item *x = a, *y = b;
	int r = rank(x->s) - rank(y->s);
	if (r)
		return r;
	size_t lx = strcspn(x->s, "\t"), ly = strcspn(y->s, "\t");
	int c = strncmp(x->s, y->s, lx < ly ? lx : ly);
	if (c == 0 && lx != ly)
		c = lx < ly ? -1 : 1;
	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* v is in order already (a table written in port order is): no sort, n comparisons. */
static bool
sorted(char *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) > 0)
			return false;
	return true;
}

/* A counted set's elements with their counters, sorted together. */
static void
sort_counted(struct pp_strv *d, unsigned long long **pkts, unsigned long long **bytes)
{
	if (sorted(d->v, d->n)) {
		if (!*pkts)
			*pkts = pp_xcalloc(d->n + 1, sizeof **pkts);
		if (!*bytes)
			*bytes = pp_xcalloc(d->n + 1, sizeof **bytes);
		return;
	}
	struct pair {
		char *el;
		unsigned long long p, b;
	} *pv = pp_xcalloc(d->n + 1, sizeof *pv);
	for (size_t i = 0; i < d->n; i++)
		pv[i] = (struct pair){ d->v[i], *pkts ? (*pkts)[i] : 0, *bytes ? (*bytes)[i] : 0 };
	if (d->n)
		qsort(pv, d->n, sizeof *pv, cmp_str);
	free(*pkts);
	free(*bytes);
	*pkts = pp_xcalloc(d->n + 1, sizeof **pkts);
	*bytes = pp_xcalloc(d->n + 1, sizeof **bytes);
	for (size_t i = 0; i < d->n; i++) {
		d->v[i] = pv[i].el;
		(*pkts)[i] = pv[i].p;
		(*bytes)[i] = pv[i].b;
	}
	free(pv);
}

static void
normalize_skel(struct pp_nft_state *s)
{
	struct skel_item *v = pp_xcalloc(s->skel.n + 1, sizeof *v);
	for (size_t i = 0; i < s->skel.n; i++)
		v[i] = (struct skel_item){ s->skel.v[i], i };
	if (s->skel.n)
		qsort(v, s->skel.n, sizeof *v, cmp_skel);
	for (size_t i = 0; i < s->skel.n; i++)
		s->skel.v[i] = v[i].s;
	free(v);
}

static void
normalize(struct pp_nft_state *s)
{
	normalize_skel(s);
	unsigned long long **pk, **by;
	for (int i = 0; i < PP_NFT__SETS; i++) {
		if (pp_nft_counted(i, s, &pk, &by))
			sort_counted(&s->el[i], pk, by);
		else if (!sorted(s->el[i].v, s->el[i].n))
			qsort(s->el[i].v, s->el[i].n, sizeof *s->el[i].v, cmp_str);
	}
}

/* ---- a render from an earlier one ---- */

/* What a render of w made, mapping by mapping: the proof a later render may reuse it. */
struct inc_el {
	int set;
	char *el;
};
struct inc {
	bool have_lan;                  /* the site's part that mapping_elements reads */
	struct pp_cidr lan;
	struct hp h;
	size_t n;                       /* mappings */
	uint64_t (*fp)[2];              /* per mapping: fingerprint of its model */
	size_t *first;                  /* mapping i's elements: els[first[i] .. first[i + 1]) */
	struct inc_el *els;
	size_t nels, cap;
};
#define INC_MAX_CHANGED 64              /* more than this changed: the whole render */
#define INC_MAX_BLOCKS 64               /* blocks shared down a chain of renders: then a whole one */

static void
inc_free(void *p)
{
	struct inc *c = p;
	if (!c)
		return;
	free(c->fp);
	free(c->first);
	free(c->els);
	free(c);
}

static struct inc *
inc_new(const struct pp_want *w, const struct hp *h)
{
	struct inc *c = pp_xcalloc(1, sizeof *c);
	*c = (struct inc){ .have_lan = w->have_lan, .lan = w->lan, .h = *h, .n = w->n };
	c->fp = pp_xcalloc(w->n + 1, sizeof *c->fp);
	c->first = pp_xcalloc(w->n + 1, sizeof *c->first);
	return c;
}

static void
inc_push(struct inc *c, int set, char *el)
{
	if (c->nels == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->els = pp_xrealloc(c->els, c->cap * sizeof *c->els);
	}
	c->els[c->nels++] = (struct inc_el){ set, el };
}

/* Two hashes, two independent chains, a 64-bit word at a time (a byte at a time was 3 ms at
   20,000 mappings). */
static inline void
fp_word(uint64_t h[2], uint64_t v)
{
	h[0] = (h[0] ^ v) * 0x9e3779b97f4a7c15ull;
	h[0] ^= h[0] >> 31;
	h[1] = (h[1] + v) * 0xc2b2ae3d27d4eb4full;
	h[1] ^= h[1] >> 29;
}

/* Every field of m that mapping_elements and sources read, field by field (no padding bytes). */
static void
fp_of(const struct pp_want_map *m, uint64_t h[2])
{
	h[0] = 0xcbf29ce484222325ull;
	h[1] = 0x84222325cbf29ce4ull;
	size_t np = pp_want_nports(m), na = m->nallow, tl = strlen(m->tag);
	fp_word(h, (uint64_t)m->active | (uint64_t)m->proto << 8 | (uint64_t)m->any_source << 16 |
	           (uint64_t)m->hairpin << 24 | (uint64_t)m->masquerade << 32);
	fp_word(h, (uint64_t)m->internal_ip | (uint64_t)np << 32);
	fp_word(h, (uint64_t)na << 32 | tl);
	for (size_t i = 0; i < tl; i += 8) {
		uint64_t v = 0;
		memcpy(&v, m->tag + i, tl - i < 8 ? tl - i : 8);
		fp_word(h, v);
	}
	for (size_t e = 0; e < np; e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		fp_word(h, (uint64_t)pp.pub_lo | (uint64_t)pp.pub_hi << 16 | (uint64_t)pp.in_lo << 32 |
		           (uint64_t)pp.in_hi << 48);
	}
	for (size_t i = 0; i < na; i++)
		fp_word(h, (uint64_t)m->allow[i].addr | (uint64_t)m->allow[i].len << 32);
}

/* Mapping m's elements appended to s; when c, noted as mapping i's (fingerprint fp). */
static void
render_mapping(const struct pp_want *w, const struct hp *h, const struct pp_want_map *m, struct pp_nft_state *s,
               struct inc *c, size_t i, const uint64_t fp[2])
{
	size_t before[PP_NFT__SETS];
	for (int k = 0; c && k < PP_NFT__SETS; k++)
		before[k] = s->el[k].n;
	/* a port list: each element's ports, as a single range's */
	for (size_t e = 0; m->active && e < pp_want_nports(m); e++) {
		struct pp_port_pair pp = pp_want_port(m, e);
		mapping_elements(w, h, m, &pp, s);
	}
	if (!c)
		return;
	c->first[i] = c->nels;
	c->fp[i][0] = fp[0];
	c->fp[i][1] = fp[1];
	for (int k = 0; k < PP_NFT__SETS; k++)
		for (size_t j = before[k]; j < s->el[k].n; j++)
			inc_push(c, k, s->el[k].v[j]);
}

/* The checks and the layout every render starts with (h: hp_of(w)); -1 if an interface name
   cannot be written. */
static int
render_begin(const struct pp_want *w, struct pp_nft_state *out, struct hp h, struct pp_error *err)
{
	memset(out, 0, sizeof *out);
	/* Names go into the rule text inside quotes: only what check accepts as an interface name. */
	const char *bad = !w->wan_if || !*w->wan_if ? "wan_interface" : pp_ifname_problem(w->wan_if) ? "wan_interface"
	                : w->lan_if && *w->lan_if && pp_ifname_problem(w->lan_if) ? "lan_interface" : NULL;
	if (bad)
		return pp_error_set(err, "%s: [site] %s: not an interface name; nothing was rendered: write the one "
		                    "interface's name, e.g. %s", w->path ? w->path : "table", bad,
		                    *bad == 'w' ? "eth0" : "eth1");
	out->present = true;
	render_skel(w, h, out);
	return 0;
}

int
pp_nft_render(const struct pp_want *w, struct pp_nft_state *out, struct pp_error *err)
{
	struct hp h = hp_of(w);
	if (render_begin(w, out, h, err) < 0)
		return -1;
	/* IPv6's elements come from the whole table (pp_nft_render6): no reuse then */
	bool v6 = pp_want_has_ip6(w);
	struct inc *c = v6 ? NULL : inc_new(w, &h);
	for (size_t i = 0; i < w->n; i++) {
		uint64_t fp[2] = { 0, 0 };
		if (c)
			fp_of(&w->maps[i], fp);
		render_mapping(w, &h, &w->maps[i], out, c, i, fp);
	}
	if (c)
		c->first[w->n] = c->nels;
	pp_nft_render6(w, out);
	normalize(out);
	out->inc = c;
	return 0;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* The first index of sorted v whose element is not before e. */
static size_t
lower_bound(const struct pp_strv *v, const char *e)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v->v[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
pp_nft_render_from(const struct pp_want *w, const struct pp_nft_state *prev, struct pp_nft_state *out,
                   struct pp_error *err)
{
	const struct inc *pc = prev ? prev->inc : NULL;
	const struct el_arena *pa = prev ? prev->blk : NULL;
	if (!pc || pc->n != w->n || !pa || pa->n > INC_MAX_BLOCKS || pp_want_has_ip6(w))
		return pp_nft_render(w, out, err);
	struct hp h = hp_of(w);
	if (pc->have_lan != w->have_lan || pc->lan.addr != w->lan.addr || pc->lan.len != w->lan.len ||
	    pc->h.lan_entry != h.lan_entry || pc->h.off != h.off || pc->h.on != h.on)
		return pp_nft_render(w, out, err);
	struct inc *c = inc_new(w, &h);
	size_t changed[INC_MAX_CHANGED], nch = 0;
	for (size_t i = 0; i < w->n; i++) {
		fp_of(&w->maps[i], c->fp[i]);
		if (c->fp[i][0] == pc->fp[i][0] && c->fp[i][1] == pc->fp[i][1])
			continue;
		if (nch == INC_MAX_CHANGED) {
			inc_free(c);
			return pp_nft_render(w, out, err);
		}
		changed[nch++] = i;
	}
	if (render_begin(w, out, h, err) < 0) {
		inc_free(c);
		return -1;
	}
	arena_of(out)->blk_size = EL_BLK_SMALL;
	/* the changed mappings' new elements, each set's sorted; their old ones, by address */
	struct inc fresh = { .n = nch };
	fresh.fp = pp_xcalloc(nch + 1, sizeof *fresh.fp);
	fresh.first = pp_xcalloc(nch + 1, sizeof *fresh.first);
	size_t nold = 0;
	for (size_t k = 0; k < nch; k++)
		nold += pc->first[changed[k] + 1] - pc->first[changed[k]];
	struct inc_el *old = pp_xcalloc(nold + 1, sizeof *old);
	nold = 0;
	for (size_t k = 0; k < nch; k++) {
		size_t i = changed[k];
		render_mapping(w, &h, &w->maps[i], out, &fresh, k, c->fp[i]);
		for (size_t j = pc->first[i]; j < pc->first[i + 1]; j++)
			old[nold++] = pc->els[j];
	}
	size_t *at = fresh.first;       /* changed mapping k's new elements: fresh.els[at[k] .. at[k + 1]) */
	at[nch] = fresh.nels;
	/* every set: prev's elements but the old ones, the new ones put in their places */
	for (int s = 0; s < PP_NFT__SETS; s++) {
		struct pp_strv *nv = &out->el[s];
		const struct pp_strv *pv = &prev->el[s];
		if (nv->n > 1 && !sorted(nv->v, nv->n))
			qsort(nv->v, nv->n, sizeof *nv->v, cmp_str);
		/* where the old ones are in prev's, and where the new ones go: a few binary searches */
		size_t nskip = 0, *skip = pp_xcalloc(nold + 1, sizeof *skip), *put = pp_xcalloc(nv->n + 1, sizeof *put);
		for (size_t k = 0; k < nold; k++) {
			if (old[k].set != s)
				continue;
			size_t i = lower_bound(pv, old[k].el);
			while (i < pv->n && pv->v[i] != old[k].el && strcmp(pv->v[i], old[k].el) == 0)
				i++;
			if (i < pv->n && pv->v[i] == old[k].el)
				skip[nskip++] = i;
		}
		if (nskip > 1)
			qsort(skip, nskip, sizeof *skip, cmp_size);
		for (size_t b = 0; b < nv->n; b++)
			put[b] = lower_bound(pv, nv->v[b]);
		struct pp_strv m = { pp_xmalloc((pv->n + nv->n + 1) * sizeof *m.v), 0, pv->n + nv->n + 1 };
		size_t a = 0, b = 0, k = 0;
		while (a < pv->n || b < nv->n) {
			size_t next = pv->n;            /* the next index where something happens */
			if (b < nv->n && put[b] < next)
				next = put[b];
			if (k < nskip && skip[k] < next)
				next = skip[k];
			memcpy(m.v + m.n, pv->v + a, (next - a) * sizeof *m.v);
			m.n += next - a;
			a = next;
			if (b < nv->n && put[b] == a)
				m.v[m.n++] = nv->v[b++];
			else if (k < nskip && skip[k] == a)
				a++, k++;
		}
		free(skip);
		free(put);
		free(nv->v);
		*nv = m;
		unsigned long long **pk, **by;
		if (pp_nft_counted(s, out, &pk, &by)) { /* a render's counters are 0 */
			*pk = pp_xcalloc(nv->n + 1, sizeof **pk);
			*by = pp_xcalloc(nv->n + 1, sizeof **by);
		}
	}
	normalize_skel(out);
	arena_share(out, prev);
	/* which elements each mapping made now: prev's, the changed ones' new */
	size_t k = 0;
	for (size_t i = 0; i < w->n; i++) {
		c->first[i] = c->nels;
		bool ch = k < nch && changed[k] == i;
		const struct inc_el *e = ch ? &fresh.els[at[k]] : &pc->els[pc->first[i]];
		size_t n = ch ? at[k + 1] - at[k] : pc->first[i + 1] - pc->first[i];
		for (size_t j = 0; j < n; j++)
			inc_push(c, e[j].set, e[j].el);
		k += ch;
	}
	c->first[w->n] = c->nels;
	out->inc = c;
	free(old);
	free(fresh.fp);
	free(fresh.first);
	free(fresh.els);
	return 0;
}

/* ---- reading nft's listing ---- */

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int
set_index(const char *where)
{
	for (int i = 0; i < PP_NFT__SETS; i++)
		if (strcmp(where, set_where[i]) == 0)
			return i;
	return -1;
}

/*
 * Elements of one "elements = { a, b," ... "c }" line: appended to v; returns
 * true when the list closed. dnat_to's "KEY counter packets P bytes B : VALUE"
 * is kept as "KEY : VALUE", P and B in s->pkts/bytes.
 */
static bool
elements_line(char *line, struct pp_nft_state *s, int set, size_t *caps)
{
	bool closed = false;
	size_t n = strlen(line);
	if (n && line[n - 1] == '}') {
		line[--n] = '\0';
		closed = true;
	}
	if (set < 0)
		return closed;
	struct pp_strv *v = &s->el[set];
	char *save = NULL;
	for (char *e = strtok_r(line, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		e = trim(e);
		if (!*e)
			continue;
		unsigned long long p = 0, b = 0;
		char *c = strstr(e, " counter packets ");
		if (c) {
			char *rest = strstr(c, " comment \"");
			if (!rest)
				rest = strstr(c, " : ");
			sscanf(c, " counter packets %llu bytes %llu", &p, &b);
			if (rest)
				memmove(c, rest, strlen(rest) + 1);
			else
				*c = '\0';
		}
		strv_add(v, el_dup(s, e, strlen(e)));
		unsigned long long **pk, **by;
		if (pp_nft_counted(set, s, &pk, &by)) {
			size_t *cap = &caps[set];
			if (v->n > *cap) {
				*cap = v->cap;
				*pk = pp_xrealloc(*pk, *cap * sizeof **pk);
				*by = pp_xrealloc(*by, *cap * sizeof **by);
			}
			(*pk)[v->n - 1] = p;
			(*by)[v->n - 1] = b;
		}
	}
	return closed;
}

void
pp_nft_parse(const char *listing, struct pp_nft_state *out)
{
	memset(out, 0, sizeof *out);
	out->text = pp_xstrdup(listing ? listing : "");
	char *copy = pp_xstrdup(out->text), *save = NULL;
	char where[128] = "";
	int depth = 0, set = -1;
	bool in_el = false;
	size_t cap[PP_NFT__SETS] = { 0 };
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *s = trim(l);
		if (!*s)
			continue;
		if (in_el) {
			in_el = !elements_line(s, out, set, cap);
			continue;
		}
		if (depth == 0) {
			if (strncmp(s, "table ", 6) == 0) {
				out->present = true;
				depth = 1;
			}
			continue;
		}
		if (depth == 1) {
			if (strcmp(s, "}") == 0) {
				depth = 0;
				continue;
			}
			size_t n = strlen(s);
			if (n < 2 || s[n - 1] != '{') {
				skel(out, "table", s);  /* anything else in the table is drift too */
				continue;
			}
			s[n - 1] = '\0';
			snprintf(where, sizeof where, "%s", trim(s));
			set = set_index(where);
			depth = 2;
			continue;
		}
		if (strcmp(s, "}") == 0) {
			depth = 1;
			continue;
		}
		if (strncmp(s, "elements = {", 12) == 0) {
			in_el = !elements_line(s + 12, out, set, cap);
			continue;
		}
		skel(out, where, s);
	}
	free(copy);
	normalize(out);
}

/* ---- plans ---- */

static bool
strv_eq(const struct pp_strv *a, const struct pp_strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] != b->v[i] && strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* The length of an element's key: before its comment and a map's " : value". */
size_t
pp_nft_key_len(const char *e)
{
	const char *c = strstr(e, " comment \"");
	if (!c)
		c = strstr(e, " : ");
	return c ? (size_t)(c - e) : strlen(e);
}

/* Index of the element of sorted v whose key (the part before " : ", or all) is key, or -1. */
long
pp_nft_el_find(const struct pp_strv *v, const char *key, size_t kl)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = v->v[mid];
		size_t el = pp_nft_key_len(e);
		int r = strncmp(e, key, el < kl ? el : kl);
		if (r == 0 && el != kl)
			r = el < kl ? -1 : 1;
		if (r == 0)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* One element as nft takes it: dnat_to's carry the live counter of their key (it survives a change). */
static void
el_put(struct pp_buf *b, int set, const char *el, const struct pp_nft_state *live, long same)
{
	unsigned long long **pk = NULL, **by = NULL;
	if (!live || !pp_nft_counted(set, (struct pp_nft_state *)live, &pk, &by) ||
	    (same >= 0 && (*pk)[same] == 0 && (*by)[same] == 0)) {
		pp_buf_addstr(b, el);
		return;
	}
	size_t kl = pp_nft_key_len(el);
	/* same: el is live's own element at that index (a snapshot of live), no search */
	long k = same >= 0 ? same : pp_nft_el_find(&live->el[set], el, kl);
	if (k < 0 || ((*pk)[k] == 0 && (*by)[k] == 0)) {
		pp_buf_addstr(b, el);
		return;
	}
	pp_buf_add(b, el, kl);
	pp_buf_printf(b, " counter packets %llu bytes %llu%s", (*pk)[k], (*by)[k], el + kl);
}

/* The body of the table from a state: sets with their elements, chains. */
void
pp_nft_state_text(struct pp_buf *b, const struct pp_nft_state *s, const struct pp_nft_state *live)
{
	pp_buf_addstr(b, "table inet " PP_NFT_TABLE " {\n");
	const char *open = NULL;
	size_t ol = 0;
	for (size_t i = 0; i <= s->skel.n; i++) {
		const char *l = i < s->skel.n ? s->skel.v[i] : NULL;
		size_t wl = l ? strcspn(l, "\t") : 0;
		if (open && (!l || wl != ol || strncmp(l, open, ol) != 0)) {
			char w[128];
			snprintf(w, sizeof w, "%.*s", (int)ol, open);
			int si = set_index(w);
			if (si >= 0 && s->el[si].n) {
				pp_buf_addstr(b, "\t\telements = { ");
				for (size_t e = 0; e < s->el[si].n; e++) {
					if (e)
						pp_buf_addstr(b, ",\n\t\t\t");
					el_put(b, si, s->el[si].v[e], live, live == s ? (long)e : -1);
				}
				pp_buf_addstr(b, " }\n");
			}
			pp_buf_addstr(b, "\t}\n");
			open = NULL;
		}
		if (!l)
			break;
		if (!open) {
			pp_buf_printf(b, "\t%.*s {\n", (int)wl, l);
			open = l;
			ol = wl;
		}
		pp_buf_printf(b, "\t\t%s\n", l + wl + 1);
	}
	pp_buf_addstr(b, "}\n");
}

/* The key of an element: a map's part before " : ". */
static void
el_key(struct pp_buf *b, const char *el)
{
	pp_buf_add(b, el, pp_nft_key_len(el));
}

/* Elements in a but not in b (both sorted), as one "add/delete element" command; count in *n. */
static void
el_diff(struct pp_buf *out, const char *verb, int set, const struct pp_strv *a, const struct pp_strv *b,
        const struct pp_nft_state *live, size_t *n)
{
	size_t i = 0, j = 0, k = 0;
	while (i < a->n) {
		int c = j < b->n ? (a->v[i] == b->v[j] ? 0 : strcmp(a->v[i], b->v[j])) : -1;
		if (c > 0) {
			j++;
			continue;
		}
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (k)
			pp_buf_addstr(out, ", ");
		else
			pp_buf_printf(out, "%s element inet " PP_NFT_TABLE " %s { ", verb, set_name[set]);
		if (*verb == 'd')
			el_key(out, a->v[i]);
		else
			el_put(out, set, a->v[i], live, -1);
		k++;
		i++;
	}
	if (k)
		pp_buf_addstr(out, " }\n");
	*n += k;
}

void
pp_nft_plan_make(const struct pp_nft_state *want, const struct pp_nft_state *live, struct pp_nft_plan *p)
{
	memset(p, 0, sizeof *p);
	struct pp_buf b = { 0 };
	if (!want->present) {
		/* "no table" (a snapshot from before portpilot's first apply): delete it, nothing else */
		if (live->present) {
			p->full = true;
			p->text = pp_xstrdup("table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n");
			for (int i = 0; i < PP_NFT__SETS; i++)
				p->el_deleted += live->el[i].n;
		}
		return;
	}
	if (!live->present || !strv_eq(&want->skel, &live->skel)) {
		/* One transaction: create (so the delete cannot fail), delete, define anew. */
		p->full = true;
		pp_buf_addstr(&b, "table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n");
		pp_nft_state_text(&b, want, live->present ? live : NULL);
		for (int i = 0; i < PP_NFT__SETS; i++)
			p->el_added += want->el[i].n;
		p->text = b.data;
		return;
	}
	/* Deletes before adds: a map element whose value changed is deleted, then added anew. */
	for (int i = 0; i < PP_NFT__SETS; i++)
		el_diff(&b, "delete", i, &live->el[i], &want->el[i], live, &p->el_deleted);
	for (int i = 0; i < PP_NFT__SETS; i++)
		el_diff(&b, "add", i, &want->el[i], &live->el[i], live, &p->el_added);
	p->text = b.data;                  /* NULL when nothing was written */
}

void
pp_nft_plan_free(struct pp_nft_plan *p)
{
	free(p->text);
	memset(p, 0, sizeof *p);
}

char *
pp_nft_restore_text(const char *snapshot)
{
	const char *t = snapshot ? snapshot : "";
	while (*t == ' ' || *t == '\n' || *t == '\t')
		t++;
	return pp_xasprintf("table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n%s", t);
}

const char *
pp_nft_el_tag(const char *e, size_t *len)
{
	/* The first quote opens the comment: no key nft prints has one (addresses, ports, names
	   of protocols). strstr's setup per call cost more than the scan at 20,000 elements. */
	const char *c = strchr(e, '"');
	while (c && (c - e < 9 || memcmp(c - 9, " comment ", 9) != 0))
		c = strchr(c + 1, '"');
	if (!c) {
		*len = 0;
		return "";
	}
	c += 1;
	const char *end = strchr(c, '"');
	*len = end ? (size_t)(end - c) : strlen(c);
	return c;
}

void
pp_nft_drop_tag(struct pp_nft_state *s, const char *tag)
{
	size_t tl = strlen(tag);
	inc_free(s->inc); /* changed since its render: no longer one to render from */
	s->inc = NULL;
	for (int i = 0; i < PP_NFT__SETS; i++) {
		struct pp_strv *v = &s->el[i];
		size_t k = 0;
		for (size_t j = 0; j < v->n; j++) {
			size_t l;
			const char *t = pp_nft_el_tag(v->v[j], &l);
			if (l == tl && strncmp(t, tag, l) == 0) {
				if (!el_in_blk(s, v->v[j]))
					free(v->v[j]);
				continue;
			}
			unsigned long long **pk, **by;
			if (pp_nft_counted(i, s, &pk, &by)) {
				(*pk)[k] = (*pk)[j];
				(*by)[k] = (*by)[j];
			}
			v->v[k++] = v->v[j];
		}
		v->n = k;
	}
}

const char *
pp_nft_set_name(int set)
{
	return set >= 0 && set < PP_NFT__SETS ? set_name[set] : "?";
}

/* ---- the kernel, through libnftables ---- */

static struct nft_ctx *
ctx_new(void)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c)
		return NULL;
	nft_ctx_buffer_output(c);
	nft_ctx_buffer_error(c);
	return c;
}

/* nft's first error line, without its caret lines. */
static void
nft_message(struct nft_ctx *c, struct pp_error *err, const char *what)
{
	const char *e = nft_ctx_get_error_buffer(c);
	if (!e || !*e)
		e = "no message";
	const char *m = strstr(e, "Error: ");
	if (!m)
		m = e;
	pp_error_set(err, "nft: %s: %.*s", what, (int)strcspn(m, "\n"), m);
}

int
pp_nft_run(const char *text, bool check, char **out, struct pp_error *err)
{
	if (out)
		*out = NULL;
	struct nft_ctx *c = ctx_new();
	if (!c)
		return pp_error_set(err, "nft: cannot open libnftables (netlink); is nf_tables available in this kernel?");
	nft_ctx_set_dry_run(c, check);
	int rc = nft_run_cmd_from_buffer(c, text);
	if (rc != 0)
		nft_message(c, err, check ? "the transaction does not check"
		                  : strncmp(text, "list ", 5) == 0 ? "cannot list" : "the transaction was refused, nothing changed");
	else if (out)
		*out = pp_xstrdup(nft_ctx_get_output_buffer(c));
	nft_ctx_free(c);
	return rc == 0 ? 0 : -1;
}

int
pp_nft_read(struct pp_nft_state *live, struct pp_error *err)
{
	memset(live, 0, sizeof *live);
	struct nft_ctx *c = ctx_new();
	if (!c)
		return pp_error_set(err, "nft: cannot open libnftables (netlink); is nf_tables available in this kernel?");
	int rc = nft_run_cmd_from_buffer(c, "list table inet " PP_NFT_TABLE);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(c);
		bool absent = e && strstr(e, "No such file or directory");
		if (!absent)
			nft_message(c, err, "cannot list table inet " PP_NFT_TABLE);
		nft_ctx_free(c);
		if (!absent)
			return -1;
		pp_nft_parse("", live);
		return 0;
	}
	pp_nft_parse(nft_ctx_get_output_buffer(c), live);
	nft_ctx_free(c);
	return 0;
}

int
pp_nft_counter(const struct pp_nft_state *live, const struct pp_mapping *m, unsigned long long *pkts,
               unsigned long long *bytes)
{
	*pkts = *bytes = 0;
	int found = -1;
	for (int k = 0; k < 2; k++) {
		if (!(m->proto & (k ? PP_UDP : PP_TCP)))
			continue;
		for (size_t e = 0; e < pp_mapping_nports(m); e++) {
			struct pp_port_pair pp = pp_mapping_port(m, e);
			for (unsigned p = pp.pub_lo; p <= pp.pub_hi; p++) {
				char key[24];
				int kl = snprintf(key, sizeof key, "%s . %u", k ? "udp" : "tcp", p);
				long i = pp_nft_el_find(&live->el[PP_NFT_DNAT], key, (size_t)kl);
				if (i < 0)
					continue;
				*pkts += live->pkts[i];
				*bytes += live->bytes[i];
				found = 0;
			}
		}
	}
	return found;
}

/* ---- other tables on the forward hook ---- */

static bool
rule_drops(const char *r)
{
	size_t n = strlen(r);
	/* the verdict ends the rule, maybe with a comment after it */
	const char *c = strstr(r, " comment \"");
	if (c)
		n = (size_t)(c - r);
	while (n && r[n - 1] == ' ')
		n--;
	if (n >= 4 && strncmp(r + n - 4, "drop", 4) == 0 && (n == 4 || r[n - 5] == ' '))
		return true;
	return strstr(r, "reject") != NULL && (r == strstr(r, "reject") || strstr(r, " reject") != NULL);
}

int
pp_nft_blockers(const char *listing, struct pp_nft_blocker **v, size_t *n, struct pp_error *err)
{
	*v = NULL;
	*n = 0;
	char *own = NULL;
	if (!listing) {
		if (pp_nft_run("list ruleset", false, &own, err) < 0)
			return -1;
		listing = own;
	}
	char *copy = pp_xstrdup(listing), *save = NULL;
	char fam[8] = "", tab[64] = "", chain[64] = "";
	bool docker_user = false, docker_user_ours = false, forward_ours = false, forward6_ours = false;
	struct pp_nft_blocker cur = { 0 };
	bool in_base = false;
	size_t cap = 0;
	int depth = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *s = trim(l);
		if (!*s)
			continue;
		size_t len = strlen(s);
		if (depth == 0 && sscanf(s, "table %7s %63s {", fam, tab) == 2) {
			depth = 1;
			continue;
		}
		if (depth == 1 && sscanf(s, "chain %63s {", chain) == 1) {
			depth = 2;
			in_base = false;
			if (strcmp(fam, "ip") == 0 && strcmp(tab, "filter") == 0 && strcmp(chain, "DOCKER-USER") == 0)
				docker_user = true;
			continue;
		}
		if (depth >= 1 && strcmp(s, "}") == 0) {
			if (depth == 2 && in_base && (cur.policy_drop || cur.drop_rules)) {
				if (*n == cap) {
					cap = cap ? cap * 2 : 4;
					*v = pp_xrealloc(*v, cap * sizeof **v);
				}
				(*v)[(*n)++] = cur;
			}
			if (depth == 1) {
				fam[0] = tab[0] = '\0';
			}
			depth--;
			continue;
		}
		if (depth == 1 && len && s[len - 1] == '{') {
			depth = 2;                  /* a set, map or object: not a chain */
			chain[0] = '\0';
			in_base = false;
			continue;
		}
		if (depth != 2 || !chain[0])
			continue;
		const char *h = strstr(s, " hook forward priority ");
		if (strncmp(s, "type ", 5) == 0 && h) {
			bool ours = strcmp(fam, "inet") == 0 && strcmp(tab, PP_NFT_TABLE) == 0;
			in_base = !ours;
			memset(&cur, 0, sizeof cur);
			snprintf(cur.family, sizeof cur.family, "%s", fam);
			snprintf(cur.table, sizeof cur.table, "%s", tab);
			snprintf(cur.chain, sizeof cur.chain, "%s", chain);
			cur.prio = pp_nft_prio(h + strlen(" hook forward priority "));
			cur.policy_drop = strstr(s, "policy drop") != NULL;
			continue;
		}
		/* portpilot's accept, as nft shows iptables-nft's translation of it (the comment is not shown) */
		if (strcmp(fam, "ip") == 0 && strcmp(tab, "filter") == 0 &&
		    (strstr(s, "pp:forward") || (strstr(s, PP_OWN_MARK " == " PP_OWN_MARK) && strstr(s, "ct status dnat") &&
		                                 strstr(s, "accept")))) {
			docker_user_ours |= strcmp(chain, "DOCKER-USER") == 0;
			forward_ours |= strcmp(chain, "FORWARD") == 0;
		}
		forward6_ours |= strcmp(fam, "ip6") == 0 && strcmp(tab, "filter") == 0 && strcmp(chain, "FORWARD") == 0 &&
		                 strstr(s, PP_OWN_MARK " == " PP_OWN_MARK) && strstr(s, "accept");
		if (in_base && rule_drops(s))
			cur.drop_rules++;
	}
	free(copy);
	free(own);
	for (size_t i = 0; i < *n; i++) {
		struct pp_nft_blocker *b = &(*v)[i];
		/* iptables-nft's FORWARD (the user's rules, ufw, Docker): the commit puts portpilot's
		   accept at its top, and into DOCKER-USER, as the iptables backend hooks PP-FWD there */
		bool ipt = strcmp(b->family, "ip") == 0 && strcmp(b->table, "filter") == 0 && strcmp(b->chain, "FORWARD") == 0;
		b->ip6 = strcmp(b->family, "ip6") == 0;
		if (pp_nft_blocker6(b, forward6_ours))
			continue;
		b->docker = ipt;
		b->handled = ipt && (forward_ours || (docker_user && docker_user_ours));
		if (ipt)
			snprintf(b->fix, sizeof b->fix, "iptables-nft's FORWARD%s: portpilot's accept for its flows goes at "
			         "its top (iptables -I FORWARD 1 ... -m comment --comment pp:forward)%s",
			         docker_user ? " (Docker's)" : "", docker_user ? " and into DOCKER-USER" : "");
		else
			snprintf(b->fix, sizeof b->fix, "add an accept for portpilot's flows ahead of the drop in %s %s %s: "
			         "ct mark & " PP_OWN_MARK " == " PP_OWN_MARK " ct status dnat accept (or the tool's own "
			         "setting: firewalld forward ports, ufw route allow)", b->family, b->table, b->chain);
	}
	return 0;
}
