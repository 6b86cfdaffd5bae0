/* IPv6 of mappings (issue 15): addresses and networks, host ids on a prefix, the pinhole rules,
   and the iptables backend's state carrying its IPv6 part through save, load, plan and expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/ipv6.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

#define NOW ((time_t)1790000000)

static void
test_cidr6(void **state)
{
	(void)state;
	struct pp_cidr6 c;
	struct pp_error err;
	assert_int_equal(pp_parse_cidr6("2001:db8:1::/48", &c, &err), 0);
	assert_int_equal(c.len, 48);
	assert_int_equal(pp_parse_cidr6("2001:db8::7", &c, &err), 0);
	assert_int_equal(c.len, 128);
	assert_int_equal(pp_parse_cidr6("::/0", &c, &err), 0);
	assert_int_equal(c.len, 0);
	assert_int_equal(pp_parse_cidr6("2001:db8:1::1/48", &c, &err), -1);
	assert_non_null(strstr(err.msg, "write the network 2001:db8:1::/48"));
	assert_int_equal(pp_parse_cidr6("2001:db8::/129", &c, &err), -1);
	assert_int_equal(pp_parse_cidr6("2001:db8::/", &c, &err), -1);
	assert_int_equal(pp_parse_cidr6("192.168.2.1", &c, &err), -1);
	uint8_t a[16];
	pp_parse_ipv6("2001:db8:1:ff::9", a);
	assert_int_equal(pp_parse_cidr6("2001:db8:1::/48", &c, &err), 0);
	assert_true(pp_cidr6_has(&c, a));
	pp_parse_ipv6("2001:db8:2::9", a);
	assert_false(pp_cidr6_has(&c, a));
}

static void
test_target_and_hostid(void **state)
{
	(void)state;
	uint8_t a[16], out[16];
	bool id;
	struct pp_error err;
	char s[PP_IP6_STR];
	assert_int_equal(pp_parse_ip6_target("::1:101", a, &id, &err), 0);
	assert_true(id);
	assert_int_equal(pp_parse_ip6_target("2001:db8:1::1:101", a, &id, &err), 0);
	assert_false(id);
	assert_int_equal(pp_parse_ip6_target("fe80::1", a, &id, &err), -1);
	assert_int_equal(pp_parse_ip6_target("fd00::1", a, &id, &err), -1);
	assert_int_equal(pp_parse_ip6_target("ff02::1", a, &id, &err), -1);
	assert_int_equal(pp_parse_ip6_target("::", a, &id, &err), -1);
	assert_int_equal(pp_parse_ip6_target("2001:db8::/64", a, &id, &err), -1);
	/* A host id keeps the bits beyond the prefix: /64, /56 and /48 delegations. */
	struct pp_cidr6 p;
	pp_parse_ip6_target("::1:101", a, &id, &err);
	pp_parse_cidr6("2001:db8:1::/64", &p, &err);
	pp_ip6_combine(&p, a, out);
	pp_format_ipv6(out, s);
	assert_string_equal(s, "2001:db8:1::1:101");
	pp_parse_cidr6("2001:db8:aa00::/56", &p, &err);
	pp_ip6_combine(&p, a, out);
	pp_format_ipv6(out, s);
	assert_string_equal(s, "2001:db8:aa00::1:101");
	/* Bits in the high 64 that are not a global prefix: neither an address nor a host id. */
	assert_int_equal(pp_parse_ip6_target("::5:0:0:1:101", a, &id, &err), -1);
}

static struct pp_table *
load(const char *text)
{
	struct pp_table *t = NULL;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	return t;
}

#define SITE "[site]\nwan_interface = eth0\nlan_interface = eth1\n"

/* The table of TEXT, its wants in *w and their ip6tables rules in *rs; free6 frees the three. */
static struct pp_table *
render6(const char *text, struct pp_want *w, struct pp_ruleset *rs)
{
	struct pp_table *t = load(text);
	struct pp_error err;
	assert_int_equal(pp_want_build(t, NOW, w, &err), 0);
	pp_ip6_render(w, rs);
	return t;
}

static void
free6(struct pp_table *t, struct pp_want *w, struct pp_ruleset *rs)
{
	pp_ruleset_free(rs);
	pp_want_free(w);
	pp_table_free(t);
}

static void
test_render(void **state)
{
	(void)state;
	struct pp_table *t = load(SITE
	                          "[web]\nprotocol = both\npublic_port = 8080-8081\ninternal_ip = 192.168.2.101\n"
	                          "internal_ip6 = 2001:db8:1::1:101\nallow = 198.51.100.0/24, 2001:db8:100::/64, 2001:db8:ffff::10\n"
	                          "[cam]\npublic_port = 554\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:103\n"
	                          "[off]\npublic_port = 9000\ninternal_ip = 192.168.2.9\ninternal_ip6 = 2001:db8:1::9\nipv6 = no\n"
	                          "[v4]\npublic_port = 9001\ninternal_ip = 192.168.2.9\n");
	struct pp_want w;
	struct pp_error err;
	assert_int_equal(pp_want_build(t, NOW, &w, &err), 0);
	assert_non_null(w.maps[0].v6);
	assert_true(w.maps[0].v6->on);
	assert_true(w.maps[0].active);
	assert_true(w.maps[1].v6->only);
	assert_false(w.maps[1].active);        /* ipv6 = only: no IPv4 DNAT anywhere */
	assert_null(w.maps[2].v6);             /* ipv6 = no: nothing */
	assert_null(w.maps[3].v6);
	struct pp_ruleset rs;
	pp_ip6_render(&w, &rs);
	char *text = pp_ruleset_text(&rs);
	assert_non_null(strstr(text, "-A FORWARD -j PP-FWD\n"));
	assert_non_null(strstr(text, "-A PP-FWD -i eth0 -o eth1 -j PP-PIN\n"));
	assert_non_null(strstr(text, "-A PP-PIN -s 2001:db8:100::/64 -d 2001:db8:1::1:101/128 -p tcp -m tcp --dport 8080:8081 "
	                             "-m comment --comment \"pp:web\" -j PP-OK\n"));
	assert_non_null(strstr(text, "-A PP-PIN -s 2001:db8:ffff::10/128 -d 2001:db8:1::1:101/128 -p udp -m udp --dport 8080:8081"));
	assert_non_null(strstr(text, "-A PP-PIN -d 2001:db8:1::1:103/128 -p tcp -m tcp --dport 554 -m comment --comment \"pp:cam\""));
	assert_null(strstr(text, "198.51.100"));      /* IPv4 sources never in ip6tables */
	assert_null(strstr(text, "pp:off"));
	assert_null(strstr(text, "pp:v4"));
	size_t pins = 0;
	for (const char *s = text; (s = strstr(s, "-A PP-PIN ")); s++)
		pins++;
	assert_int_equal(pins, 5);                     /* web: 2 sources x 2 protocols; cam: 1 */
	free(text);
	free6(t, &w, &rs);

	/* No mapping asks for IPv6: not even an empty chain or a hook. */
	t = render6(SITE "[v4]\npublic_port = 9001\ninternal_ip = 192.168.2.9\n", &w, &rs);
	assert_int_equal(rs.n, 0);
	assert_int_equal(rs.hooks[PP_FILTER].n, 0);
	free6(t, &w, &rs);
}

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *s = text; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

/* NAT66 beyond the WAN: the router's own connections and hairpin (hairpin = no honoured). */
static void
test_render_nat66_local(void **state)
{
	(void)state;
	struct pp_table *t = load("[site]\nwan_interface = eth0\nlan_interface = lan0\nhairpin = yes\n"
	                          "[web]\nprotocol = both\npublic_port = 8443\ninternal_port = 8080\nipv6 = only\n"
	                          "internal_ip6 = 2001:db8:1::1:102\nallow = 2001:db8:100::/64\n"
	                          "[nohp]\npublic_port = 8444\ninternal_port = 8080\nipv6 = only\nhairpin = no\n"
	                          "internal_ip6 = 2001:db8:1::1:103\n");
	struct pp_want w;
	struct pp_error err;
	assert_int_equal(pp_want_build(t, NOW, &w, &err), 0);
	struct pp_ruleset rs;
	pp_ip6_render(&w, &rs);
	char *text = pp_ruleset_text(&rs);
	assert_non_null(strstr(text, "-A OUTPUT -j PP-OUT\n"));
	assert_non_null(strstr(text, "-A POSTROUTING -j PP-POST\n"));
	assert_non_null(strstr(text, "-A PP-OUT ! -d ::1/128 -p udp -m addrtype --dst-type LOCAL -m udp --dport 8443 -m comment "
	                             "--comment \"pp:web\" -j DNAT --to-destination [2001:db8:1::1:102]:8080\n"));
	assert_non_null(strstr(text, "-A PP-OUT ! -d ::1/128 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8444 -m comment "
	                             "--comment \"pp:nohp\" -j DNAT"));
	/* hairpin from the LAN interface, no allow list (as IPv4's), both marks; none for nohp */
	assert_non_null(strstr(text, "-A PP-PRE -i lan0 -p tcp -m addrtype --dst-type LOCAL -m addrtype ! --dst-type LOCAL "
	                             "--limit-iface-in -m tcp --dport 8443 -m comment --comment \"pp:web\" -j CONNMARK "
	                             "--set-xmark 0x18000000/0x18000000\n"));
	assert_int_equal(count(text, "-A PP-PRE -i lan0 "), 4);           /* 2 protocols x (mark, DNAT) */
	assert_null(strstr(text, "-A PP-PRE -i lan0 -p tcp -m addrtype --dst-type LOCAL -m addrtype ! --dst-type LOCAL "
	                         "--limit-iface-in -m tcp --dport 8444"));
	assert_non_null(strstr(text, "-A PP-POST -o lan0 -m connmark --mark 0x8000000/0x8000000 -m conntrack --ctstate DNAT "
	                             "-j MASQUERADE\n"));
	free(text);
	/* the flush keeps hairpin flows by the hairpin mark, WAN flows by their source */
	struct pp_buf keep = { 0 };
	pp_ip6_keep_nat(&rs, &keep);
	assert_non_null(strstr(keep.data, "-A PP-PIN -d 2001:db8:1::1:102/128 -p tcp -m tcp --dport 8080 " PP_IP6_HAIRPIN_KEEP "\n"));
	assert_non_null(strstr(keep.data, "-A PP-PIN -s 2001:db8:100::/64 -d 2001:db8:1::1:102/128 -p tcp -m tcp --dport 8080\n"));
	pp_buf_free(&keep);
	pp_ruleset_free(&rs);
	/* nftables: the same ways in, as maps by public port (own6: every NAT66 port, hp6: hairpin on) */
	struct pp_nft_state ns;
	assert_int_equal(pp_nft_render(&w, &ns, &err), 0);
	assert_int_equal(ns.el[PP_NFT_OWN6].n, 3);
	assert_int_equal(ns.el[PP_NFT_HP6].n, 2);
	assert_string_equal(ns.el[PP_NFT_HP6].v[0], "tcp . 8443 comment \"pp:web\" : 2001:db8:1::1:102 . 8080");
	bool masq = false;
	for (size_t i = 0; i < ns.skel.n; i++)
		masq |= strcmp(ns.skel.v[i], "chain postrouting\toifname \"lan0\" meta nfproto ipv6 ct mark & 0x08000000 == "
		                             "0x08000000 ct status dnat masquerade") == 0;
	assert_true(masq);
	char *keep6 = pp_nft_keep6(&ns);
	assert_non_null(strstr(keep6, "-A PP-PIN -d 2001:db8:1::1:102/128 -p udp -m udp --dport 8080 " PP_IP6_HAIRPIN_KEEP "\n"));
	free(keep6);
	pp_nft_state_free(&ns);
	pp_want_free(&w);
	pp_table_free(t);

	/* no mapping with hairpin on: no masquerade, no POSTROUTING hook; still the router's own way */
	t = render6("[site]\nwan_interface = eth0\nlan_interface = lan0\n"
	           "[web]\npublic_port = 8443\ninternal_port = 8080\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:102\n", &w, &rs);
	text = pp_ruleset_text(&rs);
	assert_null(strstr(text, "PP-POST"));
	assert_null(strstr(text, "limit-iface-in"));
	assert_non_null(strstr(text, "-A OUTPUT -j PP-OUT\n"));
	free(text);
	free6(t, &w, &rs);

	/* pinholes only: no ip6 nat chain or hook at all */
	t = render6("[site]\nwan_interface = eth0\nlan_interface = lan0\nhairpin = yes\n"
	           "[pin]\npublic_port = 8080\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:101\n", &w, &rs);
	assert_int_equal(rs.hooks[PP_NAT].n, 0);
	assert_null(pp_ruleset_chain(&rs, PP_NAT, "PP-PRE", false));
	assert_null(pp_ruleset_chain(&rs, PP_NAT, "PP-OUT", false));
	free6(t, &w, &rs);
}

/* The iptables backend's state: the IPv6 part survives save/load, plan carries it, expiry drops it. */
static void
test_backend_state(void **state)
{
	(void)state;
	const struct pp_backend_ops *ops = &pp_backend_iptables;
	struct pp_ipt ipt;
	memset(&ipt, 0, sizeof ipt);
	snprintf(ipt.variant, sizeof ipt.variant, "nft");
	struct pp_backend b;
	memset(&b, 0, sizeof b);
	b.ops = ops;
	b.priv = &ipt;
	struct pp_table *t = load(SITE "[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\n"
	                          "internal_ip6 = 2001:db8:1::1:101\n"
	                          "[cam]\npublic_port = 554\nipv6 = only\ninternal_ip6 = 2001:db8:1::1:103\n");
	struct pp_want w;
	struct pp_error err;
	assert_int_equal(pp_want_build(t, NOW, &w, &err), 0);
	struct pp_be_state *s, *back, *empty;
	assert_int_equal(ops->render(&b, &w, &s, &err), 0);
	size_t len;
	char *blob = ops->save(s, &len);
	assert_non_null(strstr(blob, PP_IP6_MARK));
	assert_non_null(strstr(strstr(blob, PP_IP6_MARK), "pp:cam"));
	assert_int_equal(ops->load(&b, blob, len, &back, &err), 0);
	char *again = ops->save(back, &len);
	assert_string_equal(blob, again);
	/* From an empty kernel: IPv4 restore text, then the IPv6 transaction and its undo. */
	assert_int_equal(ops->load(&b, "", 0, &empty, &err), 0);
	struct pp_plan p;
	ops->plan(&b, s, empty, &p);
	assert_non_null(p.restore);
	const char *m6 = strstr(p.restore, PP_IP6_MARK), *u6 = strstr(p.restore, PP_IP6_UNDO);
	assert_non_null(m6);
	assert_non_null(u6);
	assert_true(u6 > m6);
	assert_non_null(strstr(m6, "-I FORWARD 1 -j PP-FWD"));
	assert_null(strstr(p.restore, "*nat\n-A PP-PIN"));
	bool cam = false;
	for (size_t i = 0; i < p.nchanged; i++)
		cam |= strcmp(p.changed[i], "pp:cam") == 0;
	assert_true(cam);
	pp_plan_free(&p);
	/* Back to empty (a rollback to a snapshot without IPv6) removes the pinholes' chains. */
	ops->plan(&b, empty, s, &p);
	assert_non_null(p.restore);
	assert_non_null(strstr(strstr(p.restore, PP_IP6_MARK), "-X PP-PIN"));
	pp_plan_free(&p);
	/* Expiry of one mapping takes its pinhole out of a persisted state. */
	ops->drop_mapping(back, "pp:cam");
	char *dropped = ops->save(back, &len);
	assert_null(strstr(dropped, "pp:cam"));
	assert_non_null(strstr(dropped, "pp:web"));
	/* A state without IPv6 saves as before: no mark. */
	char *plain = ops->save(empty, &len);
	assert_null(strstr(plain, PP_IP6_MARK));
	free(plain);
	free(dropped);
	free(again);
	free(blob);
	ops->state_free(s);
	ops->state_free(back);
	ops->state_free(empty);
	pp_want_free(&w);
	pp_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr6),
		cmocka_unit_test(test_target_and_hostid),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_nat66_local),
		cmocka_unit_test(test_backend_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
