/* The nftables backend without a kernel: rendered elements, the listing read back, plans, status, blockers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/nft.h"
#include "portpilot/util.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const struct pp_cidr allow_inet[] = { { IP(203, 0, 113, 10), 32 }, { IP(198, 51, 100, 0), 24 },
                                             { IP(198, 51, 100, 7), 32 } }; /* the /32 nests in the /24 */

/* The seed's three web servers, a restricted UDP range with a shift and masquerade, one disabled. */
static void
want(struct pp_want *w, struct pp_want_map *m, uint32_t web2)
{
	m[0] = (struct pp_want_map){ "web-1", "pp:web-1", 7, true, PP_TCP, 8080, 8080, 80, 80, IP(192, 168, 2, 101),
	                             true, NULL, 0, true, false, 0, NULL, 0, NULL };
	m[1] = (struct pp_want_map){ "web-2", "pp:web-2", 13, true, PP_TCP, 8090, 8090, 80, 80, web2,
	                             true, NULL, 0, true, false, 0, NULL, 0, NULL };
	m[2] = (struct pp_want_map){ "cam", "pp:cam", 19, true, PP_TCP | PP_UDP, 7000, 7002, 20000, 20002,
	                             IP(192, 168, 2, 103), false, allow_inet, 3, true, true, 0, NULL, 0, NULL };
	m[3] = (struct pp_want_map){ "old", "pp:old", 27, false, PP_TCP, 9000, 9000, 90, 90, IP(192, 168, 2, 104),
	                             true, NULL, 0, true, false, 0, NULL, 0, NULL };
	*w = (struct pp_want){ "t.ini", 0, "eth0", "eth1", true, { IP(192, 168, 2, 0), 24 }, 0, true, m, 4, 0, "", NULL };
}

static bool
has(const struct pp_strv *v, const char *el)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], el) == 0)
			return true;
	return false;
}

static void
test_render_elements(void **st)
{
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_nft_state s;
	struct pp_error err;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	const struct pp_strv *d = &s.el[PP_NFT_DNAT];
	/* one element per port; a range shifts; both protocols; the disabled mapping is left out */
	assert_int_equal(d->n, 2 + 3 * 2);
	assert_true(has(d, "tcp . 8080 comment \"pp:web-1\" : 192.168.2.101 . 80"));
	assert_true(has(d, "tcp . 7001 comment \"pp:cam\" : 192.168.2.103 . 20001"));
	assert_true(has(d, "udp . 7002 comment \"pp:cam\" : 192.168.2.103 . 20002"));
	/* only the restricted mapping's ports are looked up in the allow set */
	assert_int_equal(s.el[PP_NFT_RESTRICTED].n, 6);
	assert_true(has(&s.el[PP_NFT_RESTRICTED], "udp . 7000 comment \"pp:cam\""));
	/* its list, the /32 inside the /24 dropped, and the LAN (hairpin) */
	assert_int_equal(s.el[PP_NFT_ALLOWED].n, 2 * 3);
	assert_true(has(&s.el[PP_NFT_ALLOWED], "tcp . 7000-7002 . 203.0.113.10 comment \"pp:cam\""));
	assert_true(has(&s.el[PP_NFT_ALLOWED], "udp . 7000-7002 . 198.51.100.0/24 comment \"pp:cam\""));
	assert_true(has(&s.el[PP_NFT_ALLOWED], "tcp . 7000-7002 . 192.168.2.0/24 comment \"pp:cam\""));
	assert_true(has(&s.el[PP_NFT_MASQ], "192.168.2.103 . tcp . 20000-20002 . 7000-7002 comment \"pp:cam\""));
	/* hairpin rules with the LAN; the mark of the iptables layout */
	bool hp = false, mark = false;
	for (size_t i = 0; i < s.skel.n; i++) {
		hp |= strstr(s.skel.v[i], "iifname \"eth1\" ip saddr 192.168.2.0/24 ip daddr != 192.168.2.0/24") != NULL;
		mark |= strstr(s.skel.v[i], "ct mark set ct mark | 0x10000000") != NULL;
	}
	assert_true(hp);
	assert_true(mark);
	pp_nft_state_free(&s);
	/* hairpin off: no LAN rule, no LAN source */
	w.hairpin = false;
	for (int i = 0; i < 4; i++)
		m[i].hairpin = false;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	assert_int_equal(s.el[PP_NFT_ALLOWED].n, 2 * 2);
	for (size_t i = 0; i < s.skel.n; i++)
		assert_null(strstr(s.skel.v[i], "iifname \"eth1\""));
	pp_nft_state_free(&s);
	/* a long allow list (more sources than the render keeps on its stack), and an open mapping
	   with masquerade: its masq_to element still names its ports */
	struct pp_cidr many[9];
	for (int i = 0; i < 9; i++)
		many[i] = (struct pp_cidr){ IP(198, 51, 100, 10 + i), 32 };
	m[2].allow = many;
	m[2].nallow = 9;
	m[0].masquerade = true;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	assert_int_equal(s.el[PP_NFT_ALLOWED].n, 2 * 9);
	assert_true(has(&s.el[PP_NFT_ALLOWED], "udp . 7000-7002 . 198.51.100.18 comment \"pp:cam\""));
	assert_true(has(&s.el[PP_NFT_MASQ], "192.168.2.101 . tcp . 80 . 8080 comment \"pp:web-1\""));
	pp_nft_state_free(&s);
	/* an interface name that could break out of its quotes is refused */
	w.wan_if = "eth0\" accept";
	assert_int_equal(pp_nft_render(&w, &s, &err), -1);
	assert_non_null(strstr(err.msg, "wan_interface"));
	(void)st;
}

/* What the kernel would list for the table s: its body, with counters as nft prints them. */
static void
as_listed(const struct pp_nft_state *s, struct pp_nft_state *out, unsigned long long pkts)
{
	struct pp_buf b = { 0 };
	pp_nft_state_text(&b, s, NULL);
	/* nft lists "KEY counter packets P bytes B comment ... : VALUE" for every dnat_to element */
	struct pp_buf l = { 0 };
	for (char *p = b.data; *p;) {
		char *c = strstr(p, " comment \"pp:");
		char *nl = strchr(p, '\n');
		if (c && (!nl || c < nl) && strstr(p, " : ") && strstr(p, " : ") < (nl ? nl : p + strlen(p))) {
			pp_buf_add(&l, p, (size_t)(c - p));
			pp_buf_printf(&l, " counter packets %llu bytes %llu", pkts, pkts * 60);
			p = c;
		}
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		pp_buf_add(&l, p, n);
		p += n;
	}
	pp_nft_parse(l.data, out);
	pp_buf_free(&b);
	pp_buf_free(&l);
}

static void
test_listing_roundtrip_and_plans(void **st)
{
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_nft_state want1, live, none;
	struct pp_error err;
	assert_int_equal(pp_nft_render(&w, &want1, &err), 0);
	pp_nft_parse("", &none);
	assert_false(none.present);
	struct pp_nft_plan p;
	pp_nft_plan_make(&want1, &none, &p);
	assert_true(p.full);
	/* one transaction that creates, deletes and defines the table: nothing else is named */
	assert_int_equal(strncmp(p.text, "table inet portpilot\ndelete table inet portpilot\ntable inet portpilot {\n", 70), 0);
	assert_null(strstr(p.text, "flush"));
	pp_nft_plan_free(&p);

	/* read back: the same state, so nothing to do */
	as_listed(&want1, &live, 3);
	assert_true(live.present);
	assert_int_equal(live.el[PP_NFT_DNAT].n, want1.el[PP_NFT_DNAT].n);
	assert_int_equal(live.pkts[0], 3);
	pp_nft_plan_make(&want1, &live, &p);
	assert_null(p.text);
	pp_nft_plan_free(&p);

	/* web-2 re-targeted: one element out, one in, its counter carried; nothing else */
	struct pp_want_map m2[4];
	struct pp_want w2;
	want(&w2, m2, IP(192, 168, 2, 99));
	struct pp_nft_state want2;
	assert_int_equal(pp_nft_render(&w2, &want2, &err), 0);
	pp_nft_plan_make(&want2, &live, &p);
	assert_false(p.full);
	assert_int_equal(p.el_added, 1);
	assert_int_equal(p.el_deleted, 1);
	assert_string_equal(p.text, "delete element inet portpilot dnat_to { tcp . 8090 }\n"
	                    "add element inet portpilot dnat_to { tcp . 8090 counter packets 3 bytes 180 comment "
	                    "\"pp:web-2\" : 192.168.2.99 . 80 }\n");
	pp_nft_plan_free(&p);

	/* the layout changes (hairpin off): the whole table, counters carried into it */
	w2.hairpin = false;
	pp_nft_state_free(&want2);
	assert_int_equal(pp_nft_render(&w2, &want2, &err), 0);
	pp_nft_plan_make(&want2, &live, &p);
	assert_true(p.full);
	assert_non_null(strstr(p.text, "tcp . 8080 counter packets 3 bytes 180 comment \"pp:web-1\" : 192.168.2.101 . 80"));
	pp_nft_plan_free(&p);

	/* a snapshot restores by replacing the table; "no table" deletes it */
	char *r = pp_nft_restore_text("");
	assert_string_equal(r, "table inet portpilot\ndelete table inet portpilot\n");
	free(r);

	/* expiry on a snapshot: the mapping's elements go, the others stay */
	size_t before = live.el[PP_NFT_DNAT].n;
	pp_nft_drop_tag(&live, "pp:cam");
	assert_int_equal(live.el[PP_NFT_DNAT].n, before - 6);
	assert_int_equal(live.el[PP_NFT_ALLOWED].n, 0);
	assert_int_equal(live.el[PP_NFT_MASQ].n, 0);
	assert_true(has(&live.el[PP_NFT_DNAT], "tcp . 8080 comment \"pp:web-1\" : 192.168.2.101 . 80"));

	/* counters per mapping: the ports' counters summed */
	struct pp_mapping pm = { .proto = PP_TCP, .pub_lo = 8080, .pub_hi = 8080 };
	unsigned long long pk, by;
	assert_int_equal(pp_nft_counter(&live, &pm, &pk, &by), 0);
	assert_int_equal(pk, 3);
	pm.pub_lo = pm.pub_hi = 7000;
	assert_int_equal(pp_nft_counter(&live, &pm, &pk, &by), -1);
	pp_nft_state_free(&want1);
	pp_nft_state_free(&want2);
	pp_nft_state_free(&live);
	pp_nft_state_free(&none);
	(void)st;
}

static bool
skel_has(const struct pp_nft_state *s, const char *part)
{
	for (size_t i = 0; i < s->skel.n; i++)
		if (strstr(s->skel.v[i], part))
			return true;
	return false;
}

/* Issue 14.13 on nftables: a port list is its elements' ports; a mapping's own hairpin. */
static void
test_port_list_and_hairpin(void **st)
{
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	/* web-2: public_port = 8090,8443-8444, internal_port = 80,9443-9444 */
	const struct pp_port_pair web2[] = { { 8090, 8090, 80, 80 }, { 8443, 8444, 9443, 9444 } };
	m[1].ports = web2;
	m[1].nports = 2;
	m[0].hairpin = false;           /* web-1: hairpin = no on a hairpin site */
	struct pp_nft_state s;
	struct pp_error err;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	const struct pp_strv *d = &s.el[PP_NFT_DNAT];
	assert_int_equal(d->n, 1 + 3 + 3 * 2);
	assert_true(has(d, "tcp . 8090 comment \"pp:web-2\" : 192.168.2.102 . 80"));
	assert_true(has(d, "tcp . 8443 comment \"pp:web-2\" : 192.168.2.102 . 9443"));
	assert_true(has(d, "tcp . 8444 comment \"pp:web-2\" : 192.168.2.102 . 9444"));
	/* web-1's port alone in @hairpin_off, LAN sources return from map_in before the mark */
	assert_int_equal(s.el[PP_NFT_HP_OFF].n, 1);
	assert_true(has(&s.el[PP_NFT_HP_OFF], "tcp . 8080 comment \"pp:web-1\""));
	assert_true(skel_has(&s, "ip saddr 192.168.2.0/24 meta l4proto . th dport @hairpin_off return"));
	assert_false(skel_has(&s, "@hairpin_on"));
	assert_false(skel_has(&s, "set hairpin_on"));
	pp_nft_state_free(&s);

	/* a site without hairpin, web-2 asks for it: its ports alone in @hairpin_on, a LAN entry for
	   them and the hairpin masquerade; web-1 and cam stay outside */
	w.hairpin = false;
	for (int i = 0; i < 4; i++)
		m[i].hairpin = i == 1;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	assert_int_equal(s.el[PP_NFT_HP_ON].n, 3);
	assert_true(has(&s.el[PP_NFT_HP_ON], "tcp . 8444 comment \"pp:web-2\""));
	assert_int_equal(s.el[PP_NFT_HP_OFF].n, 0);
	assert_false(skel_has(&s, "set hairpin_off"));
	assert_true(skel_has(&s, "iifname \"eth1\" ip saddr 192.168.2.0/24 ip daddr != 192.168.2.0/24 meta l4proto . th "
	                         "dport @hairpin_on fib daddr type local jump map_in"));
	assert_true(skel_has(&s, "ct status dnat masquerade"));
	/* the listing reads back as rendered: nothing to do */
	struct pp_nft_state live;
	as_listed(&s, &live, 0);
	assert_int_equal(live.el[PP_NFT_HP_ON].n, 3);
	struct pp_nft_plan p;
	pp_nft_plan_make(&s, &live, &p);
	assert_null(p.text);
	pp_nft_plan_free(&p);
	pp_nft_state_free(&live);
	pp_nft_state_free(&s);

	/* nobody asks: neither set nor rule, the layout of a table without per-mapping hairpin */
	m[1].hairpin = false;
	assert_int_equal(pp_nft_render(&w, &s, &err), 0);
	assert_false(skel_has(&s, "hairpin_"));
	assert_false(skel_has(&s, "ct status dnat masquerade"));
	pp_nft_state_free(&s);
	(void)st;
}

/* Issue 14.6 on nftables: status's rows and ruleset drift are the plan's changed and layout. */
static void
test_status_is_the_plan(void **st)
{
	const struct pp_backend_ops *o = &pp_backend_nftables;
	struct pp_backend b = { .ops = o };
	struct pp_error err;
	assert_int_equal(o->open(&b, &err), 0);
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_be_state *ws;
	assert_int_equal(o->render(&b, &w, &ws, &err), 0);
	size_t len;
	char *blob = o->save(ws, &len);
	struct pp_live live = { .ops = o };
	assert_int_equal(o->load(&b, blob, len, &live.own, &err), 0);
	free(blob);
	o->state_free(ws);
	/* [site] hairpin off: the LAN entry and masquerade go (layout), and cam's allowed LAN
	   source (its elements): cam alone changes, the others read in sync, not drifted */
	w.hairpin = false;
	for (int i = 0; i < 4; i++)
		m[i].hairpin = false;
	assert_int_equal(o->render(&b, &w, &ws, &err), 0);
	struct pp_plan p;
	o->plan(&b, ws, live.own, &p);
	assert_int_equal(p.nchanged, 1);
	assert_string_equal(p.changed[0], "pp:cam");
	assert_true(p.nlayout > 0);
	struct pp_map_status sv[4];
	memset(sv, 0, sizeof sv);
	struct pp_layout_status ls;
	assert_int_equal(o->status(&b, &w, &live, sv, &ls, &err), 0);
	assert_int_equal(sv[0].sync, PP_SYNC_OK);
	assert_int_equal(sv[1].sync, PP_SYNC_OK);
	assert_int_equal(sv[2].sync, PP_SYNC_DRIFTED);
	assert_int_equal(sv[3].sync, PP_SYNC_INACTIVE);
	assert_int_equal(ls.nproblems, p.nlayout);
	for (size_t i = 0; i < p.nlayout; i++)
		assert_string_equal(ls.problems[i], p.layout[i]);
	assert_non_null(strstr(ls.problems[0], "table inet portpilot: "));
	pp_layout_status_free(&ls);
	pp_plan_free(&p);
	o->state_free(ws);
	o->live_free(&live);
	o->close(&b);
	(void)st;
}

static void
test_status_through_ops(void **st)
{
	const struct pp_backend_ops *o = &pp_backend_nftables;
	struct pp_backend b = { .ops = o };
	struct pp_error err;
	assert_int_equal(o->open(&b, &err), 0);
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_be_state *ws;
	assert_int_equal(o->render(&b, &w, &ws, &err), 0);
	/* the live table: the snapshot blob read back, with web-2 drifted and an orphan */
	size_t len;
	char *blob = o->save(ws, &len);
	assert_non_null(strstr(blob, "table inet portpilot {"));
	struct pp_buf t = { 0 };
	pp_buf_addstr(&t, blob);
	free(blob);
	char *at = strstr(t.data, "192.168.2.102 . 80");
	assert_non_null(at);
	memcpy(at, "192.168.2.109", 13);
	char *dn = strstr(t.data, "elements = { ");
	assert_non_null(dn);
	struct pp_buf t2 = { 0 };
	pp_buf_add(&t2, t.data, (size_t)(dn - t.data) + 13);
	pp_buf_addstr(&t2, "tcp . 5555 comment \"pp:gone\" : 192.168.2.50 . 22,\n");
	pp_buf_addstr(&t2, dn + 13);
	struct pp_live live = { .ops = o };
	assert_int_equal(o->load(&b, t2.data, t2.len, &live.own, &err), 0);
	live.view = NULL;
	struct pp_map_status sv[4];
	memset(sv, 0, sizeof sv);
	struct pp_layout_status ls;
	assert_int_equal(o->status(&b, &w, &live, sv, &ls, &err), 0);
	assert_int_equal(sv[0].sync, PP_SYNC_OK);
	assert_int_equal(sv[1].sync, PP_SYNC_DRIFTED);
	assert_int_equal(sv[2].sync, PP_SYNC_OK);
	assert_int_equal(sv[3].sync, PP_SYNC_INACTIVE);
	assert_int_equal(ls.nproblems, 0);
	assert_int_equal(ls.norphans, 1);
	assert_string_equal(ls.orphans[0], "gone");
	pp_layout_status_free(&ls);
	/* the plan names what differs: web-2 and the orphan, with their ports to flush */
	struct pp_plan p;
	o->plan(&b, ws, live.own, &p);
	assert_int_equal(p.nchanged, 2);
	assert_string_equal(p.changed[0], "pp:gone");
	assert_string_equal(p.changed[1], "pp:web-2");
	assert_int_equal(p.nflush, 2);
	assert_int_equal(p.commits, 1);
	pp_plan_free(&p);
	/* the diff, per mapping */
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);
	o->diff(&b, ws, live.own, f);
	fclose(f);
	if (getenv("PP_DEBUG"))
		fputs(out, stderr);
	assert_non_null(strstr(out, "- gone\n    - dnat_to: tcp . 5555 comment \"pp:gone\" : 192.168.2.50 . 22\n"));
	assert_non_null(strstr(out, "~ web-2\n    - dnat_to: tcp . 8090 comment \"pp:web-2\" : 192.168.2.109 . 80\n"
	                            "    + dnat_to: tcp . 8090 comment \"pp:web-2\" : 192.168.2.102 . 80\n"));
	assert_null(strstr(out, "web-1"));
	free(out);
	/* the probe's question */
	struct pp_mapping pm = { .proto = PP_TCP | PP_UDP, .pub_lo = 7000, .pub_hi = 7002, .in_lo = 20000,
	                         .internal_ip = IP(192, 168, 2, 103) };
	struct pp_dnat_answer a;
	o->dnat_present(&b, &live, &pm, &a);
	assert_string_equal(a.how, "nft list map inet portpilot dnat_to");
	assert_true(a.present);
	pm.internal_ip = IP(192, 168, 2, 1);
	o->dnat_present(&b, &live, &pm, &a);
	assert_false(a.present);
	assert_string_equal(a.missing_proto, "tcp");
	o->live_free(&live);
	o->state_free(ws);
	pp_buf_free(&t);
	pp_buf_free(&t2);
	o->close(&b);
	(void)st;
}

/* Docker through iptables-nft, firewalld's reject, ufw: as `nft list table` prints them. */
static const char *ruleset =
	"table ip filter {\n"
	"\tchain DOCKER-USER {\n\t\tcounter packets 0 bytes 0 return\n\t}\n\n"
	"\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n"
	"\t\tcounter packets 0 bytes 0 jump DOCKER-USER\n\t}\n"
	"}\n"
	"table inet firewalld {\n"
	"\tset blocked { type ipv4_addr; }\n"
	"\tchain filter_FORWARD {\n\t\ttype filter hook forward priority filter + 10; policy accept;\n"
	"\t\tct state established,related accept\n\t\treject with icmpx admin-prohibited\n\t}\n"
	"\tchain filter_INPUT {\n\t\ttype filter hook input priority filter + 10; policy drop;\n\t}\n"
	"}\n"
	"table inet portpilot {\n"
	"\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n"
	"}\n";

static void
test_blockers(void **st)
{
	struct pp_nft_blocker *v;
	size_t n;
	struct pp_error err;
	assert_int_equal(pp_nft_blockers(ruleset, &v, &n, &err), 0);
	/* Docker's FORWARD (policy) and firewalld's (a reject); not an input chain, never portpilot's own */
	assert_int_equal(n, 2);
	assert_string_equal(v[0].table, "filter");
	assert_string_equal(v[0].chain, "FORWARD");
	assert_true(v[0].policy_drop);
	assert_false(v[0].handled);
	assert_non_null(strstr(v[0].fix, "DOCKER-USER"));
	assert_string_equal(v[1].table, "firewalld");
	assert_int_equal(v[1].prio, 10);
	assert_false(v[1].policy_drop);
	assert_int_equal(v[1].drop_rules, 1);
	free(v);
	/* portpilot's accept in DOCKER-USER: handled */
	struct pp_buf b = { 0 };
	pp_buf_addstr(&b, "table ip filter {\n\tchain DOCKER-USER {\n\t\tct mark & 0x10000000 == 0x10000000 "
	              "xt match \"conntrack\" counter packets 0 bytes 0 accept comment \"pp:forward\"\n\t}\n"
	              "\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n");
	assert_int_equal(pp_nft_blockers(b.data, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(v[0].handled);
	free(v);
	pp_buf_free(&b);
	(void)st;
}

/* Which transactions go as one netlink batch (core/nft-batch.c): dnat_to's deletes then adds only. */
static void
test_batch_fits(void **st)
{
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_nft_state a, b, none, live;
	struct pp_error err;
	struct pp_nft_plan p;
	size_t nd = 9, na = 9;
	assert_int_equal(pp_nft_render(&w, &a, &err), 0);
	/* the whole table: libnftables */
	pp_nft_parse("", &none);
	pp_nft_plan_make(&a, &none, &p);
	assert_false(pp_nft_batch_fits(p.text, &nd, &na));
	pp_nft_plan_free(&p);
	/* web-2 pointed elsewhere, counted connections carried: one delete, one add with its counter */
	as_listed(&a, &live, 7);
	m[1].internal_ip = IP(192, 168, 2, 200);
	assert_int_equal(pp_nft_render(&w, &b, &err), 0);
	pp_nft_plan_make(&b, &live, &p);
	assert_non_null(strstr(p.text, "tcp . 8090 counter packets 7 bytes 420 comment \"pp:web-2\" : 192.168.2.200 . 80"));
	assert_true(pp_nft_batch_fits(p.text, &nd, &na));
	assert_int_equal(nd, 1);
	assert_int_equal(na, 1);
	pp_nft_plan_free(&p);
	pp_nft_state_free(&b);
	/* cam's allow list changed: the allowed set too, so libnftables */
	m[2].nallow = 1;
	assert_int_equal(pp_nft_render(&w, &b, &err), 0);
	pp_nft_plan_make(&b, &live, &p);
	assert_false(pp_nft_batch_fits(p.text, &nd, &na));
	pp_nft_plan_free(&p);
	pp_nft_state_free(&b);
	/* several elements in one line; anything it cannot read back exactly stays with libnftables */
	assert_true(pp_nft_batch_fits("delete element inet portpilot dnat_to { tcp . 1, udp . 2 }\n"
	                              "add element inet portpilot dnat_to { tcp . 1 comment \"pp:a\" : 10.0.0.1 . 80, "
	                              "udp . 2 : 10.0.0.2 . 53 }\n", &nd, &na));
	assert_int_equal(nd, 2);
	assert_int_equal(na, 2);
	assert_false(pp_nft_batch_fits("add element inet portpilot dnat_to { tcp . 1 : 10.0.0.1 . 80 }\n"
	                               "delete element inet portpilot dnat_to { tcp . 1 }\n", &nd, &na));
	assert_false(pp_nft_batch_fits("add element inet portpilot dnat_to { tcp . 1 comment \"a\\\"b\" : 10.0.0.1 . 80 }\n",
	                               &nd, &na));
	assert_false(pp_nft_batch_fits("add element inet portpilot dnat_to { tcp . 70000 : 10.0.0.1 . 80 }\n", &nd, &na));
	assert_false(pp_nft_batch_fits("add element inet portpilot restricted { tcp . 1 }\n", &nd, &na));
	assert_false(pp_nft_batch_fits("", &nd, &na));
	pp_nft_state_free(&a);
	pp_nft_state_free(&live);
	pp_nft_state_free(&none);
	(void)st;
}

/* A whole table (a new one, a restore of a listing) as one batch: dnat_to's elements read exactly or not at all. */
static void
test_batch_full(void **st)
{
	struct pp_want w;
	struct pp_want_map m[4];
	want(&w, m, IP(192, 168, 2, 102));
	struct pp_nft_state a, none, live;
	struct pp_error err;
	struct pp_nft_plan p;
	size_t na = 0, nd;
	assert_int_equal(pp_nft_render(&w, &a, &err), 0);
	pp_nft_parse("", &none);
	pp_nft_plan_make(&a, &none, &p);
	assert_true(pp_nft_batch_full(p.text, &na));
	assert_int_equal(na, a.el[PP_NFT_DNAT].n);
	/* not an element update */
	assert_false(pp_nft_batch_fits(p.text, &nd, &na));
	/* a comment it cannot read back exactly: the whole table stays with libnftables */
	char *q = strstr(p.text, "comment \"pp:web-1\"");
	assert_non_null(q);
	memcpy(q + 9, "p\\", 3);
	assert_false(pp_nft_batch_full(p.text, &na));
	pp_nft_plan_free(&p);
	/* the rollback of a listing with counters (nft's own layout of elements): all of them */
	as_listed(&a, &live, 7);
	char *r = pp_nft_restore_text(live.text);
	assert_true(pp_nft_batch_full(r, &na));
	assert_int_equal(na, a.el[PP_NFT_DNAT].n);
	free(r);
	/* element updates are not a whole table */
	assert_false(pp_nft_batch_full("add element inet portpilot dnat_to { tcp . 1 : 10.0.0.1 . 80 }\n", &na));
	pp_nft_state_free(&a);
	pp_nft_state_free(&live);
	pp_nft_state_free(&none);
	(void)st;
}

/* ---- a render from an earlier one (pp_nft_render_from) ---- */

#define NM 200
static char names[NM + 1][16], tags[NM + 1][20];

/* NM mappings: tcp, tcp+udp ranges, some with allow lists and masquerade, one disabled. */
static void
many(struct pp_want *w, struct pp_want_map *m)
{
	for (int i = 0; i < NM; i++) {
		snprintf(names[i], sizeof names[i], "m%d", i);
		snprintf(tags[i], sizeof tags[i], "pp:m%d", i);
		bool range = i % 17 == 3, restricted = i % 11 == 5;
		m[i] = (struct pp_want_map){ names[i], tags[i], i + 1, i != 7, range ? PP_TCP | PP_UDP : PP_TCP,
		                             (uint16_t)(10000 + i * 4), (uint16_t)(10000 + i * 4 + (range ? 2 : 0)),
		                             80, (uint16_t)(range ? 82 : 80), IP(192, 168, 2, 101 + i % 3), !restricted,
		                             restricted ? allow_inet : NULL, restricted ? 3 : 0, true, i % 13 == 1, 0,
		                             NULL, 0, NULL };
	}
	*w = (struct pp_want){ "t.ini", 0, "eth0", "eth1", true, { IP(192, 168, 2, 0), 24 }, 0, true, m, NM, 0, "",
	                       NULL };
}

/* a and b render the same table: layout and every set, element for element. */
static void
assert_same(const struct pp_nft_state *a, const struct pp_nft_state *b)
{
	assert_int_equal(a->skel.n, b->skel.n);
	for (size_t i = 0; i < a->skel.n; i++)
		assert_string_equal(a->skel.v[i], b->skel.v[i]);
	for (int s = 0; s < PP_NFT__SETS; s++) {
		assert_int_equal(a->el[s].n, b->el[s].n);
		for (size_t i = 0; i < a->el[s].n; i++)
			assert_string_equal(a->el[s].v[i], b->el[s].v[i]);
	}
	struct pp_buf x = { 0 }, y = { 0 };
	pp_nft_state_text(&x, a, a);
	pp_nft_state_text(&y, b, b);
	assert_string_equal(x.data, y.data);
	pp_buf_free(&x);
	pp_buf_free(&y);
}

/* Render w from prev and whole: the same; *shared: how many elements are prev's own strings. */
static void
check_from(const struct pp_want *w, const struct pp_nft_state *prev, struct pp_nft_state *out, size_t *shared)
{
	struct pp_nft_state whole;
	struct pp_error err;
	assert_int_equal(pp_nft_render_from(w, prev, out, &err), 0);
	assert_int_equal(pp_nft_render(w, &whole, &err), 0);
	assert_same(out, &whole);
	pp_nft_state_free(&whole);
	*shared = 0;
	for (int s = 0; s < PP_NFT__SETS; s++)
		for (size_t i = 0; i < out->el[s].n; i++)
			for (size_t j = 0; prev && j < prev->el[s].n; j++)
				if (out->el[s].v[i] == prev->el[s].v[j]) {
					(*shared)++;
					break;
				}
}

static void
test_render_from(void **st)
{
	struct pp_want w;
	struct pp_want_map m[NM];
	many(&w, m);
	struct pp_nft_state a, b, c, d;
	struct pp_error err;
	size_t sh, total = 0;
	assert_int_equal(pp_nft_render(&w, &a, &err), 0);
	for (int s = 0; s < PP_NFT__SETS; s++)
		total += a.el[s].n;
	/* nothing changed: every element is the earlier render's */
	check_from(&w, &a, &b, &sh);
	assert_int_equal(sh, total);
	/* one mapping to another server: all but its element reused */
	m[120].internal_ip = IP(192, 168, 2, 200);
	check_from(&w, &b, &c, &sh);
	assert_int_equal(sh, total - 1);
	assert_true(has(&c.el[PP_NFT_DNAT], "tcp . 10480 comment \"pp:m120\" : 192.168.2.200 . 80"));
	/* the earlier renders go first: the shared strings stay (ASan would say otherwise) */
	pp_nft_state_free(&a);
	pp_nft_state_free(&b);
	/* an allow list, masquerade, a rename, one disabled and one enabled, a port moved */
	m[40].allow = allow_inet;
	m[40].nallow = 3;
	m[40].any_source = false;
	m[41].masquerade = !m[41].masquerade;
	m[42].tag = "pp:renamed";
	m[7].active = true;
	m[8].active = false;
	m[9].pub_lo = m[9].pub_hi = 9999;
	check_from(&w, &c, &d, &sh);
	assert_true(sh > total - 20);
	assert_true(has(&d.el[PP_NFT_DNAT], "tcp . 10168 comment \"pp:renamed\" : 192.168.2.101 . 80"));
	assert_true(has(&d.el[PP_NFT_RESTRICTED], "tcp . 10160 comment \"pp:m40\""));
	pp_nft_state_free(&d);
	/* a mapping's own hairpin = no changes the layout (set hairpin_off): the whole render */
	m[50].hairpin = false;
	check_from(&w, &c, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	m[50].hairpin = true;
	/* the site's LAN changes what allowed holds: the whole render */
	w.lan = (struct pp_cidr){ IP(192, 168, 3, 0), 24 };
	check_from(&w, &c, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	w.lan = (struct pp_cidr){ IP(192, 168, 2, 0), 24 };
	/* more than a few changed: the whole render, the same result */
	for (int i = 100; i < 180; i++)
		m[i].in_lo = m[i].in_hi = 8080;
	check_from(&w, &c, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	/* a state changed since its render (expiry drops a mapping's elements) is not reused */
	pp_nft_drop_tag(&c, "pp:m3");
	check_from(&w, &c, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	/* a mapping more or fewer: the whole render */
	w.n = NM - 1;
	check_from(&w, &c, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	w.n = NM;
	/* no earlier render, or a parsed listing: the whole render */
	check_from(&w, NULL, &d, &sh);
	struct pp_nft_state parsed;
	as_listed(&d, &parsed, 0);
	pp_nft_state_free(&d);
	check_from(&w, &parsed, &d, &sh);
	assert_int_equal(sh, 0);
	pp_nft_state_free(&d);
	pp_nft_state_free(&parsed);
	pp_nft_state_free(&c);
	/* a long chain of one-mapping renders, each from the last, the first freed at once */
	assert_int_equal(pp_nft_render(&w, &a, &err), 0);
	for (int k = 0; k < 100; k++) {
		m[k % NM].internal_ip = IP(192, 168, 2, 10 + k % 50);
		check_from(&w, &a, &b, &sh);
		assert_true(sh > 0 || k >= 60); /* past 64 shared blocks it renders whole once */
		pp_nft_state_free(&a);
		a = b;
	}
	pp_nft_state_free(&a);
	(void)st;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_elements),
		cmocka_unit_test(test_listing_roundtrip_and_plans),
		cmocka_unit_test(test_status_through_ops),
		cmocka_unit_test(test_port_list_and_hairpin),
		cmocka_unit_test(test_status_is_the_plan),
		cmocka_unit_test(test_blockers),
		cmocka_unit_test(test_batch_fits),
		cmocka_unit_test(test_batch_full),
		cmocka_unit_test(test_render_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
