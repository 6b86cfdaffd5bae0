/* Rendering the table into iptables rules: exact rules, the port tree, plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

static const char *seed =
	"[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n\n"
	"[web-1]\nprotocol = tcp\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\n\n"
	"[web-2]\nprotocol = tcp\npublic_port = 8090\ninternal_ip = 192.168.2.102\ninternal_port = 80\n\n"
	"[web-3]\nprotocol = tcp\npublic_port = 8091\ninternal_ip = 192.168.2.103\ninternal_port = 80\n";

static struct pp_table *
load(const char *text)
{
	struct pp_table *t = NULL;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	return t;
}

static void
render(struct pp_table *t, size_t leaf, struct pp_ruleset *rs)
{
	struct pp_render_opts o = { .now = 1700000000, .have_lan = true,
	                            .lan = { 0xc0a80200, 24 }, .leaf_max = leaf };
	struct pp_error err;
	assert_int_equal(pp_render(t, &o, rs, &err), 0);
}

static char *
render_text(const char *table)
{
	struct pp_table *t = load(table);
	struct pp_ruleset rs;
	render(t, 0, &rs);
	char *s = pp_ruleset_text(&rs);
	pp_ruleset_free(&rs);
	pp_table_free(t);
	return s;
}

/*
 * Nothing portpilot writes lets through (ACCEPT) or rewrites (MASQUERADE) a
 * flow that another tool's DNAT made: each asks for portpilot's conntrack
 * mark, which only PP-MARK sets, around the DNAT tree, and clears again
 * when the tree returns without a mapping.
 */
static void
assert_only_own_flows(const char *s)
{
	for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
		char *r = pp_xstrndup(l, strcspn(l, "\n"));
		if (strstr(r, "-j ACCEPT") || strstr(r, "-j MASQUERADE"))
			assert_non_null(strstr(r, "-m connmark --mark 0x10000000/0x10000000 "));
		if (strstr(r, "-j CONNMARK"))
			assert_int_equal(strncmp(r, "-A PP-MARK ", 11), 0);
		if (strncmp(r, "-A PP-PRE ", 10) == 0)
			assert_non_null(strstr(r, " -g PP-MARK"));
		free(r);
	}
	const char *on = strstr(s, "-A PP-MARK -j CONNMARK --set-xmark 0x10000000/0x10000000\n"
	                           "-A PP-MARK -j PP-DNAT\n"
	                           "-A PP-MARK -j CONNMARK --set-xmark 0x0/0x10000000\n");
	assert_non_null(on);
}

static void
test_seed_exact(void **state)
{
	char *s = render_text(seed);
	const char *want =
		"*filter\n"
		":PP-FWD - [0:0]\n"
		"-A FORWARD -j PP-FWD\n"
		"-A PP-FWD -m connmark --mark 0x10000000/0x10000000 -m conntrack --ctstate DNAT -j ACCEPT\n"
		"COMMIT\n"
		"*nat\n"
		":PP-DNAT - [0:0]\n"
		":PP-DT-1-65535 - [0:0]\n"
		":PP-MARK - [0:0]\n"
		":PP-OUT - [0:0]\n"
		":PP-POST - [0:0]\n"
		":PP-PRE - [0:0]\n"
		"-A PREROUTING -j PP-PRE\n"
		"-A OUTPUT -j PP-OUT\n"
		"-A POSTROUTING -j PP-POST\n"
		"-A PP-DNAT -p tcp -g PP-DT-1-65535\n"
		"-A PP-DT-1-65535 -p tcp -m tcp --dport 8080 -m comment --comment \"pp:web-1\" -j DNAT --to-destination 192.168.2.101:80\n"
		"-A PP-DT-1-65535 -p tcp -m tcp --dport 8090 -m comment --comment \"pp:web-2\" -j DNAT --to-destination 192.168.2.102:80\n"
		"-A PP-DT-1-65535 -p tcp -m tcp --dport 8091 -m comment --comment \"pp:web-3\" -j DNAT --to-destination 192.168.2.103:80\n"
		"-A PP-MARK -j CONNMARK --set-xmark 0x10000000/0x10000000\n"
		"-A PP-MARK -j PP-DNAT\n"
		"-A PP-MARK -j CONNMARK --set-xmark 0x0/0x10000000\n"
		"-A PP-OUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -g PP-DNAT\n"
		"-A PP-POST -s 192.168.2.0/24 -d 192.168.2.0/24 -o eth1 -m connmark --mark 0x10000000/0x10000000 -m conntrack --ctstate DNAT -j MASQUERADE\n"
		"-A PP-PRE -i eth0 -m addrtype --dst-type LOCAL -g PP-MARK\n"
		"-A PP-PRE -s 192.168.2.0/24 ! -d 192.168.2.0/24 -i eth1 -m addrtype --dst-type LOCAL -g PP-MARK\n"
		"COMMIT\n";
	assert_string_equal(s, want);
	assert_only_own_flows(s);
	free(s);
}

static void
test_inactive_not_rendered(void **state)
{
	char *text = pp_xasprintf("%s\n[off]\npublic_port = 9000\ninternal_ip = 192.168.2.101\nenabled = no\n"
	                          "\n[old]\npublic_port = 9001\ninternal_ip = 192.168.2.101\nexpires = 2020-01-01\n",
	                          seed);
	char *s = render_text(text);
	assert_null(strstr(s, "pp:off"));
	assert_null(strstr(s, "pp:old"));
	assert_non_null(strstr(s, "pp:web-1"));
	free(s);
	free(text);
}

static void
test_allow_udp_range_shift(void **state)
{
	char *s = render_text(
		"[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = no\n\n"
		"[cam]\nprotocol = both\npublic_port = 10000-10099\ninternal_ip = 192.168.2.102\ninternal_port = 20000-20099\n"
		"allow = 203.0.113.0/24, 198.51.100.7/32\n");
	/* both protocols, shifted range, one rule per allowed source, the router itself, no hairpin. */
	assert_non_null(strstr(s, "-A PP-DT-1-65535 -s 203.0.113.0/24 -p tcp -m tcp --dport 10000:10099 -m comment --comment \"pp:cam\" -j DNAT --to-destination 192.168.2.102:20000-20099/10000\n"));
	assert_non_null(strstr(s, "-A PP-DU-1-65535 -s 198.51.100.7/32 -p udp -m udp --dport 10000:10099 -m comment --comment \"pp:cam\" -j DNAT --to-destination 192.168.2.102:20000-20099/10000\n"));
	assert_non_null(strstr(s, "-A PP-DT-1-65535 -p tcp -m tcp --dport 10000:10099 -m addrtype --src-type LOCAL -m comment --comment \"pp:cam\" -j DNAT"));
	assert_null(strstr(s, "MASQUERADE"));
	assert_null(strstr(s, "-i eth1"));
	assert_only_own_flows(s);
	assert_null(strstr(s, "-s 192.168.2.0/24"));
	free(s);
}

/* Tables of n mappings: tcp ports 10000.., every 7th a 3-port range, one udp. */
static char *
big_table(size_t n, uint32_t changed_ip_of)
{
	struct pp_buf b = { 0 };
	pp_buf_addstr(&b, "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n");
	unsigned port = 10000;
	for (size_t i = 0; i < n; i++) {
		unsigned w = i % 7 == 0 ? 3 : 1;
		unsigned ip = i == changed_ip_of ? 200 : 101 + (unsigned)(i % 3);
		if (w == 1)
			pp_buf_printf(&b, "[m%zu]\npublic_port = %u\ninternal_ip = 192.168.2.%u\n", i, port, ip);
		else
			pp_buf_printf(&b, "[m%zu]\npublic_port = %u-%u\ninternal_ip = 192.168.2.%u\n", i, port,
			              port + w - 1, ip);
		port += w;
	}
	return b.data;
}

/*
 * Walk the nat tree for a tcp packet to port as netfilter would (goto, first
 * match) and return the DNAT rule hit, counting rules evaluated.
 */
static const char *
walk(struct pp_ruleset *rs, unsigned port, size_t *evaluated)
{
	struct pp_chain *c = pp_ruleset_chain(rs, PP_NAT, "PP-DNAT", false);
	size_t i = 0;
	while (c && i < c->n) {
		const char *r = c->rules[i++];
		(*evaluated)++;
		if (strstr(r, "-p udp") || strstr(r, "--src-type"))
			continue;
		const char *d = strstr(r, "--dport ");
		unsigned lo = 0, hi = 0;
		if (d && sscanf(d + 8, "%u:%u", &lo, &hi) == 1)
			hi = lo;
		if (d && (port < lo || port > hi))
			continue;
		if (strstr(r, "-j DNAT"))
			return r;
		const char *g = strstr(r, " -g ");
		assert_non_null(g);
		c = pp_ruleset_chain(rs, PP_NAT, g + 4, false);
		assert_non_null(c);
		i = 0;
	}
	return NULL;
}

static void
test_tree_20000(void **state)
{
	char *text = big_table(20000, 999999);
	struct pp_table *t = load(text);
	struct pp_ruleset rs;
	render(t, 0, &rs);
	size_t worst = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		for (unsigned p = m->pub_lo; p <= m->pub_hi; p++) {
			size_t ev = 0;
			const char *r = walk(&rs, p, &ev);
			assert_non_null(r);
			char *tag = pp_rule_tag(m->name);
			char *want = pp_xasprintf("\"%s\"", tag);
			assert_non_null(strstr(r, want));
			free(want);
			free(tag);
			if (ev > worst)
				worst = ev;
		}
	}
	size_t ev = 0;
	assert_null(walk(&rs, 9999, &ev));
	ev = 0;
	assert_null(walk(&rs, 60000, &ev));
	/*
	 * ~10 levels of <= 2 rules, then a leaf of <= 128 rules: fewer chains make
	 * the apply cheaper, and 160 rules cost a new connection ~5% (bench/dataplane).
	 */
	print_message("worst-case rules evaluated at 20000 mappings: %zu\n", worst);
	assert_true(worst <= 160);
	size_t chains = 0;
	for (size_t i = 0; i < rs.n; i++)
		chains += rs.chains[i].table == PP_NAT;
	print_message("nat chains at 20000 mappings: %zu\n", chains);
	assert_true(chains < 600); /* 16-mapping leaves made ~2,900 */
	pp_ruleset_free(&rs);
	pp_table_free(t);
	free(text);
}

static void
test_plan_one_change(void **state)
{
	char *a = big_table(20000, 999999), *b = big_table(20000, 12345);
	struct pp_table *ta = load(a), *tb = load(b);
	struct pp_ruleset ra, rb;
	render(ta, 0, &ra);
	render(tb, 0, &rb);
	struct pp_plan p;
	pp_plan_make(&rb, &ra, &p);
	assert_int_equal(p.chains_written, 1); /* the nat leaf holding it */
	assert_int_equal(p.chains_dropped, 0);
	assert_int_equal(p.hooks_changed, 0);
	assert_int_equal(p.nchanged, 1);
	assert_string_equal(p.changed[0], "pp:m12345");
	assert_true(p.nflush >= 1 && p.flush[0].lo == p.flush[p.nflush - 1].lo); /* old and new rule: one port */
	assert_true(strlen(p.restore) < 128 * 160); /* one leaf of <= 128 rules */
	pp_plan_free(&p);
	pp_plan_make(&ra, &ra, &p);
	assert_null(p.restore);
	assert_int_equal(p.nchanged, 0);
	pp_plan_free(&p);
	pp_ruleset_free(&ra);
	pp_ruleset_free(&rb);
	pp_table_free(ta);
	pp_table_free(tb);
	free(a);
	free(b);
}

/* Issue 14.6: a [site] change (public_ip) rewrites the layout and no mapping; the plan says which
 * lines (what status calls ruleset drift) and changes no mapping, so status and the dry run agree. */
static void
test_plan_site_change_is_layout(void **state)
{
	struct pp_table *a = load(seed);
	char *fixed = pp_xasprintf("%s", seed);
	char *at = strstr(fixed, "hairpin = yes\n");
	assert_non_null(at);
	struct pp_table *b = NULL;
	char *text = pp_xasprintf("%.*spublic_ip = 203.0.113.1\n%s", (int)(at - fixed), fixed, at);
	b = load(text);
	struct pp_ruleset ra, rb;
	render(a, 0, &ra);
	render(b, 0, &rb);
	struct pp_plan p;
	pp_plan_make(&rb, &ra, &p);
	assert_int_equal(p.nchanged, 0);
	assert_non_null(p.restore);
	assert_int_equal(p.nlayout, 2);
	assert_string_equal(p.layout[0], "nat: missing -A PP-PRE -s 192.168.2.0/24 -d 203.0.113.1/32 -i eth1 -g PP-MARK");
	assert_non_null(strstr(p.layout[1], "nat: unexpected -A PP-PRE -s 192.168.2.0/24 ! -d 192.168.2.0/24 -i eth1"));
	pp_plan_free(&p);
	pp_plan_make(&ra, &ra, &p);
	assert_int_equal(p.nlayout, 0);
	assert_null(p.restore);
	pp_plan_free(&p);
	pp_ruleset_free(&ra);
	pp_ruleset_free(&rb);
	pp_table_free(a);
	pp_table_free(b);
	free(text);
	free(fixed);
}

/* Issue 14.13: a port list renders one rule set per element; hairpin per mapping overrides the site. */
static void
test_port_list_and_hairpin(void **state)
{
	const char *tbl =
		"[site]\nwan_interface = eth0\nlan_interface = eth1\nhairpin = yes\n\n"
		"[a]\npublic_port = 80,443,9100-9101\ninternal_ip = 192.168.2.101\ninternal_port = 8080,443,8100-8101\n"
		"hairpin = no\n\n"
		"[b]\npublic_port = 25,587\ninternal_ip = 192.168.2.102\nallow = 198.51.100.0/24\n";
	char *s = render_text(tbl);
	assert_non_null(strstr(s, "-A PP-DT-1-65535 -s 192.168.2.0/24 -p tcp -m tcp --dport 80 -m comment --comment \"pp:a\" -j RETURN\n"
	                          "-A PP-DT-1-65535 -p tcp -m tcp --dport 80 -m comment --comment \"pp:a\" -j DNAT --to-destination 192.168.2.101:8080\n"));
	assert_non_null(strstr(s, "--dport 443 -m comment --comment \"pp:a\" -j DNAT --to-destination 192.168.2.101:443\n"));
	assert_non_null(strstr(s, "--dport 9100:9101 -m comment --comment \"pp:a\" -j DNAT --to-destination 192.168.2.101:8100-8101/9100\n"));
	/* b: allow list, site hairpin: the LAN rule stays, per element; no RETURN. */
	assert_non_null(strstr(s, "-s 192.168.2.0/24 -p tcp -m tcp --dport 587 -m comment --comment \"pp:b\" -j DNAT"));
	assert_non_null(strstr(s, "-s 198.51.100.0/24 -p tcp -m tcp --dport 25 -m comment --comment \"pp:b\" -j DNAT"));
	assert_null(strstr(s, "\"pp:b\" -j RETURN"));
	assert_only_own_flows(s);
	free(s);
	/* The site without hairpin, one mapping with: a LAN entry of its own, per port, and the SNAT. */
	const char *tbl2 =
		"[site]\nwan_interface = eth0\nlan_interface = eth1\nhairpin = no\n\n"
		"[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.101\nhairpin = yes\n\n"
		"[b]\npublic_port = 8080\ninternal_ip = 192.168.2.102\n";
	s = render_text(tbl2);
	assert_non_null(strstr(s, "-A PP-PRE -s 192.168.2.0/24 ! -d 192.168.2.0/24 -i eth1 -p tcp -m tcp --dport 443 "
	                          "-m addrtype --dst-type LOCAL -m comment --comment \"pp:a\" -g PP-MARK\n"));
	assert_null(strstr(s, "\"pp:b\" -g PP-MARK"));
	assert_non_null(strstr(s, "-A PP-POST -s 192.168.2.0/24 -d 192.168.2.0/24 -o eth1 -m connmark"));
	assert_null(strstr(s, "-j RETURN"));
	assert_only_own_flows(s);
	free(s);
	/* Neither: no LAN entry, no hairpin SNAT. */
	s = render_text("[site]\nwan_interface = eth0\nlan_interface = eth1\nhairpin = no\n\n"
	                "[b]\npublic_port = 8080\ninternal_ip = 192.168.2.102\n");
	assert_null(strstr(s, "-i eth1"));
	assert_null(strstr(s, "-o eth1 -m connmark"));
	free(s);
}

static void
test_plan_from_empty_and_parse_roundtrip(void **state)
{
	char *s = render_text(seed);
	struct pp_ruleset rs, empty, want;
	struct pp_error err;
	assert_int_equal(pp_ruleset_parse(s, &rs, &err), 0);
	char *s2 = pp_ruleset_text(&rs);
	assert_string_equal(s, s2);
	/* Foreign rules in the save text are not portpilot's. */
	assert_int_equal(pp_ruleset_parse("*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n"
	                                  "[5:300] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\nCOMMIT\n",
	                                  &empty, &err), 0);
	assert_int_equal(empty.n, 0);
	assert_int_equal(empty.hooks[PP_NAT].n, 0);
	pp_ruleset_free(&empty);
	/* Only bare jumps are hooks; a user's rule into a PP- chain stays the user's. */
	assert_int_equal(pp_ruleset_parse("*nat\n-A POSTROUTING -j PP-POST\n-A POSTROUTING -s 10.0.0.0/8 -j PP-DNAT\nCOMMIT\n",
	                                  &empty, &err), 0);
	assert_int_equal(empty.hooks[PP_NAT].n, 1);
	pp_ruleset_free(&empty);
	assert_int_equal(pp_ruleset_parse("", &empty, &err), 0);
	struct pp_plan p;
	pp_plan_make(&rs, &empty, &p);
	assert_non_null(strstr(p.restore, "-I PREROUTING 1 -j PP-PRE\n"));
	assert_non_null(strstr(p.restore, "-I FORWARD 1 -j PP-FWD\n"));
	assert_int_equal(p.nchanged, 3);
	pp_plan_free(&p);
	/* Back to nothing: hooks deleted, chains flushed and removed. */
	pp_plan_make(&empty, &rs, &p);
	assert_non_null(strstr(p.restore, "-D PREROUTING -j PP-PRE\n"));
	assert_non_null(strstr(p.restore, "-X PP-DT-1-65535\n"));
	assert_int_equal(p.chains_dropped, rs.n);
	pp_plan_free(&p);
	/* Counters are read from iptables-save -c. */
	assert_int_equal(pp_ruleset_parse("*nat\n:PP-X - [0:0]\n[7:420] -A PP-X -p tcp -m tcp --dport 1 -m comment --comment \"pp:a\" -j DNAT --to-destination 1.2.3.4:1\nCOMMIT\n",
	                                  &want, &err), 0);
	assert_int_equal(want.chains[0].pkts[0], 7);
	assert_int_equal(want.chains[0].bytes[0], 420);
	pp_ruleset_free(&want);
	pp_ruleset_free(&empty);
	pp_ruleset_free(&rs);
	free(s);
	free(s2);
}

/* Parsed rules stay in the parsed text; taking one out, adding one and freeing all must mix safely. */
static void
test_parsed_rules_edit(void **state)
{
	(void)state;
	struct pp_ruleset rs;
	struct pp_error err;
	assert_int_equal(pp_ruleset_parse("*filter\n:PP-FWD - [0:0]\n-A FORWARD -j PP-FWD\n"
	                                  "-A DOCKER-USER -j PP-FWD\n-A PP-FWD -j ACCEPT\nCOMMIT\n", &rs, &err), 0);
	struct pp_chain *h = &rs.hooks[PP_FILTER];
	assert_int_equal(h->n, 2);
	pp_ruleset_rule_free(&rs, h->rules[1]);
	h->n = 1;
	pp_chain_add(h, "-A FORWARD -j PP-FWD");
	char *text = pp_ruleset_text(&rs);
	assert_string_equal(text, "*filter\n:PP-FWD - [0:0]\n-A FORWARD -j PP-FWD\n-A FORWARD -j PP-FWD\n"
	                          "-A PP-FWD -j ACCEPT\nCOMMIT\n*nat\nCOMMIT\n");
	free(text);
	pp_ruleset_free(&rs);
}

/* A tag keeps letters, digits and ._-+@:/ of the name, every other byte becomes '_'. */
static void
test_tag_bytes(void **state)
{
	(void)state;
	char name[3] = { 'a', 0, 0 };
	for (int c = 1; c < 256; c++) {
		name[1] = (char)c;
		char *t = pp_rule_tag(name);
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		            (c < 128 && strchr("._-+@:/", c) != NULL);
		assert_int_equal((unsigned char)t[4], keep ? c : '_');
		assert_string_equal(t + 5, "");
		free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_exact),
		cmocka_unit_test(test_tag_bytes),
		cmocka_unit_test(test_inactive_not_rendered),
		cmocka_unit_test(test_allow_udp_range_shift),
		cmocka_unit_test(test_tree_20000),
		cmocka_unit_test(test_plan_one_change),
		cmocka_unit_test(test_plan_site_change_is_layout),
		cmocka_unit_test(test_port_list_and_hairpin),
		cmocka_unit_test(test_plan_from_empty_and_parse_roundtrip),
		cmocka_unit_test(test_parsed_rules_edit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
