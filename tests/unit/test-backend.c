/* The backend glue: the neutral model from the table, the registry, the choice's errors, and the
   plan carrying counters of rules it writes again (issue 14.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/util.h"

static struct pp_table *
load(const char *text)
{
	struct pp_table *t = NULL;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	return t;
}

static void
test_want_model(void **state)
{
	(void)state;
	struct pp_table *t = load("[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n"
	                          "hairpin = yes\npublic_ip = 203.0.113.5\n\n"
	                          "[web 1]\nprotocol = both\npublic_port = 10000-10009\ninternal_ip = 192.168.2.101\n"
	                          "internal_port = 20000-20009\nallow = 198.51.100.0/24, 0.0.0.0/0\nmasquerade = yes\n\n"
	                          "[off]\npublic_port = 22\ninternal_ip = 192.168.2.102\nenabled = no\n\n"
	                          "[gone]\npublic_port = 23\ninternal_ip = 192.168.2.103\nexpires = 2020-01-01T00:00\n\n"
	                          "[only]\npublic_port = 24\ninternal_ip = 192.168.2.104\nallow = 198.51.100.7/32\n");
	struct pp_want w;
	struct pp_error err;
	unsetenv("PORTPILOT_LEAF_MAX");
	assert_int_equal(pp_want_build(t, 1700000000, &w, &err), 0);
	assert_string_equal(w.wan_if, "eth0");
	assert_string_equal(w.lan_if, "eth1");
	assert_true(w.have_lan);
	assert_int_equal(w.lan.addr, 0xc0a80200);
	assert_int_equal(w.lan.len, 24);
	assert_int_equal(w.public_ip, 0xcb007105);
	assert_true(w.hairpin);
	assert_int_equal(w.n, 4);
	const struct pp_want_map *m = &w.maps[0];
	assert_string_equal(m->name, "web 1");
	assert_string_equal(m->tag, "pp:web_1");
	assert_true(m->active);
	assert_int_equal(m->proto, PP_TCP | PP_UDP);
	assert_int_equal(m->pub_lo, 10000);
	assert_int_equal(m->pub_hi, 10009);
	assert_int_equal(m->in_lo, 20000);
	assert_int_equal(m->in_hi, 20009);
	assert_true(m->any_source);           /* a /0 in the list opens it to everyone */
	assert_true(m->masquerade);
	assert_true(m->hairpin);              /* the site's default */
	assert_false(w.maps[1].active);       /* disabled */
	assert_false(w.maps[2].active);       /* expired */
	assert_false(w.maps[3].any_source);
	assert_int_equal(w.maps[3].nallow, 1);
	assert_int_equal(w.maps[3].allow[0].addr, 0xc6336407);
	assert_int_equal(w.leaf_max, 0);
	pp_want_free(&w);
	setenv("PORTPILOT_LEAF_MAX", "linear", 1);
	assert_int_equal(pp_want_build(t, 1700000000, &w, &err), 0);
	assert_true(w.leaf_max == SIZE_MAX);
	pp_want_free(&w);
	unsetenv("PORTPILOT_LEAF_MAX");
	pp_table_free(t);
}

/* Issue 14.13 in the model: the port list's elements and the hairpin in force per mapping. */
static void
test_want_port_list_and_hairpin(void **state)
{
	(void)state;
	struct pp_table *t = load("[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\n"
	                          "hairpin = yes\n\n"
	                          "[web]\npublic_port = 8090,8443,9000-9001\ninternal_ip = 192.168.2.101\n"
	                          "internal_port = 80,443,7000-7001\nhairpin = no\n\n"
	                          "[same]\npublic_port = 8091,9100\ninternal_ip = 192.168.2.102\n\n"
	                          "[one]\npublic_port = 22\ninternal_ip = 192.168.2.103\n");
	struct pp_want w;
	struct pp_error err;
	assert_int_equal(pp_want_build(t, 1700000000, &w, &err), 0);
	const struct pp_want_map *m = &w.maps[0];
	assert_false(m->hairpin);             /* its own hairpin = no beats the site's yes */
	assert_int_equal(pp_want_nports(m), 3);
	struct pp_port_pair p = pp_want_port(m, 2);
	assert_int_equal(p.pub_lo, 9000);
	assert_int_equal(p.pub_hi, 9001);
	assert_int_equal(p.in_lo, 7000);
	assert_int_equal(p.in_hi, 7001);
	p = pp_want_port(m, 0);               /* element 0 is the range fields */
	assert_int_equal(p.pub_lo, m->pub_lo);
	assert_int_equal(p.in_lo, 80);
	m = &w.maps[1];
	assert_true(m->hairpin);              /* the site's default */
	assert_int_equal(pp_want_nports(m), 2);
	p = pp_want_port(m, 1);               /* internal_port left out: the same ports */
	assert_int_equal(p.pub_lo, 9100);
	assert_int_equal(p.in_lo, 9100);
	assert_int_equal(pp_want_nports(&w.maps[2]), 1);
	/* a model built by hand without a list is its one range */
	struct pp_want_map h = { .pub_lo = 5, .pub_hi = 6, .in_lo = 15, .in_hi = 16 };
	assert_int_equal(pp_want_nports(&h), 1);
	assert_int_equal(pp_want_port(&h, 0).in_hi, 16);
	pp_want_free(&w);
	pp_table_free(t);
}

static void
test_want_refuses_bad_site(void **state)
{
	(void)state;
	struct pp_want w;
	struct pp_error err;
	struct pp_table *t = load("[site]\nlan_interface = eth1\n\n[a]\npublic_port = 80\ninternal_ip = 192.168.2.5\n");
	assert_int_equal(pp_want_build(t, 0, &w, &err), -1);
	assert_non_null(strstr(err.msg, "t.ini: [site] has no wan_interface"));
	pp_table_free(t);
	t = load("[site]\nwan_interface = eth0 -j ACCEPT\n");
	assert_int_equal(pp_want_build(t, 0, &w, &err), -1);
	assert_non_null(strstr(err.msg, "t.ini:2: [site] wan_interface:"));
	pp_table_free(t);
}

static void
test_registry(void **state)
{
	(void)state;
	struct pp_backend b;
	struct pp_error err;
	assert_ptr_equal(pp_backend_ops_named("iptables"), &pp_backend_iptables);
	assert_null(pp_backend_ops_named("pf"));
	assert_int_equal(pp_backend_open_named(&b, "pf", &err), -1);
	assert_non_null(strstr(err.msg, "backend 'pf': unknown (iptables, nftables or auto)"));
#ifndef PP_HAVE_NFTABLES
	assert_int_equal(pp_backend_open_named(&b, "nftables", &err), -1);
	assert_non_null(strstr(err.msg, "built without the nftables backend"));
#else
	assert_non_null(pp_backend_ops_named("nftables"));
#endif
}

/* A chain written again keeps the counters of its rules that stay the same, wherever they land. */
static void
test_plan_carries_counters(void **state)
{
	(void)state;
	struct pp_ruleset live, want;
	struct pp_error err;
	assert_int_equal(pp_ruleset_parse("*nat\n:PP-DT-1-65535 - [0:0]\n"
	                                  "[5:300] -A PP-DT-1-65535 -p tcp -m tcp --dport 8080 -m comment --comment \"pp:a\" -j DNAT --to-destination 192.168.2.1:80\n"
	                                  "[1:60] -A PP-DT-1-65535 -p tcp -m tcp --dport 8090 -m comment --comment \"pp:b\" -j DNAT --to-destination 192.168.2.2:80\n"
	                                  "COMMIT\n", &live, &err), 0);
	assert_int_equal(pp_ruleset_parse("*nat\n:PP-DT-1-65535 - [0:0]\n"
	                                  "-A PP-DT-1-65535 -p tcp -m tcp --dport 8080 -m comment --comment \"pp:a\" -j DNAT --to-destination 192.168.2.1:80\n"
	                                  "-A PP-DT-1-65535 -p tcp -m tcp --dport 8090 -m comment --comment \"pp:b\" -j DNAT --to-destination 192.168.2.3:80\n"
	                                  "COMMIT\n", &want, &err), 0);
	struct pp_plan p;
	pp_plan_make(&want, &live, &p);
	assert_non_null(p.restore);
	/* a unchanged: its counters ride along; b changed: it starts from zero. */
	assert_non_null(strstr(p.restore, "\n[5:300] -A PP-DT-1-65535 -p tcp -m tcp --dport 8080 "));
	assert_non_null(strstr(p.restore, "\n-A PP-DT-1-65535 -p tcp -m tcp --dport 8090 "));
	assert_int_equal(p.nchanged, 1);
	assert_string_equal(p.changed[0], "pp:b");
	pp_plan_free(&p);
	pp_ruleset_free(&want);
	pp_ruleset_free(&live);
}

/*
 * The engine keeps the state it committed in memory for the next apply of the same process
 * (core/apply-memo.c) instead of reading applied.rules back: that state must plan exactly as its
 * record read back does, on every backend, for tables of every kind and every sort of change.
 */
#define MEMO_SITE "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n\n"
#define MEMO_NO_HAIRPIN "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = no\n\n"
#define MEMO_BASE MEMO_SITE \
	"[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\n\n" \
	"[cam]\nprotocol = both\npublic_port = 7000-7002\ninternal_ip = 192.168.2.102\ninternal_port = 20000-20002\n" \
	"allow = 198.51.100.0/24, 203.0.113.7\n\n" \
	"[sip]\nprotocol = udp\npublic_port = 5060, 5070\ninternal_ip = 192.168.2.103\nmasquerade = yes\nhairpin = no\n\n" \
	"[v6]\npublic_port = 8443\ninternal_ip = 192.168.2.104\ninternal_ip6 = 2001:db8:1::104\nallow = 198.51.100.9, 2001:db8:9::/48\n\n" \
	"[off]\npublic_port = 9000\ninternal_ip = 192.168.2.105\nenabled = no\n"

static void
test_memo_plans_as_record(void **state)
{
	(void)state;
	static const char *const next[] = {
		MEMO_BASE,
		MEMO_SITE "[web]\npublic_port = 8080\ninternal_ip = 192.168.2.111\ninternal_port = 80\n", /* edits and deletes */
		MEMO_BASE "\n[new]\npublic_port = 8081\ninternal_ip = 192.168.2.120\n",
		MEMO_BASE "\n[new6]\nipv6 = only\npublic_port = 8444\ninternal_ip6 = 2001:db8:1::120\n",
		MEMO_SITE "[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\nhairpin = no\n",
		MEMO_NO_HAIRPIN "[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\nallow = 198.51.100.1\n",
	};
	const struct pp_backend_ops *backends[] = { &pp_backend_iptables,
#ifdef PP_HAVE_NFTABLES
	                                            &pp_backend_nftables,
#endif
	};
	struct pp_error err;
	struct pp_table *t1 = load(MEMO_BASE);
	struct pp_want w1;
	assert_int_equal(pp_want_build(t1, 1700000000, &w1, &err), 0);
	for (size_t k = 0; k < sizeof backends / sizeof *backends; k++) {
		const struct pp_backend_ops *o = backends[k];
		struct pp_backend b = { .ops = o };
		if (o->open(&b, &err) < 0) {
			print_message("# %s cannot open here (%s): not compared\n", o->name, err.msg);
			continue;
		}
		struct pp_be_state *kept, *again, *read;
		assert_int_equal(o->render(&b, &w1, &kept, &err), 0);
		size_t len;
		char *blob = o->save(kept, &len);
		assert_int_equal(o->load(&b, blob, len, &read, &err), 0);
		free(blob);
		/* the same table again: nothing to do, from memory as from the record */
		assert_int_equal(o->render(&b, &w1, &again, &err), 0);
		struct pp_plan pm, pr;
		o->plan(&b, again, kept, &pm);
		o->plan(&b, again, read, &pr);
		assert_null(pm.restore);
		assert_null(pr.restore);
		pp_plan_free(&pm);
		pp_plan_free(&pr);
		o->state_free(again);
		for (size_t i = 0; i < sizeof next / sizeof *next; i++) {
			struct pp_table *t2 = load(next[i]);
			struct pp_want w2;
			assert_int_equal(pp_want_build(t2, 1700000000, &w2, &err), 0);
			struct pp_be_state *want;
			assert_int_equal(o->render(&b, &w2, &want, &err), 0);
			o->plan(&b, want, kept, &pm);
			o->plan(&b, want, read, &pr);
			if (!pm.restore || !pr.restore)
				assert_true(pm.restore == pr.restore);
			else
				assert_string_equal(pm.restore, pr.restore);
			assert_true(i == 0 || pm.restore != NULL);
			assert_int_equal(pm.nchanged, pr.nchanged);
			for (size_t c = 0; c < pm.nchanged; c++)
				assert_string_equal(pm.changed[c], pr.changed[c]);
			assert_int_equal(pm.nflush, pr.nflush);
			assert_int_equal(pm.nlayout, pr.nlayout);
			assert_int_equal(pm.commits, pr.commits);
			/* plan_diff (one pass for both) says what plan and diff say */
			if (o->plan_diff) {
				char *d1 = NULL, *d2 = NULL;
				size_t l1, l2;
				FILE *f1 = open_memstream(&d1, &l1), *f2 = open_memstream(&d2, &l2);
				struct pp_plan pd;
				o->plan_diff(&b, want, kept, &pd, f1);
				o->diff(&b, want, kept, f2);
				fclose(f1);
				fclose(f2);
				assert_string_equal(d1, d2);
				assert_true(i == 0 || strlen(d1) > 0);
				if (pd.restore || pm.restore)
					assert_string_equal(pd.restore, pm.restore);
				assert_int_equal(pd.nchanged, pm.nchanged);
				assert_int_equal(pd.nflush, pm.nflush);
				assert_int_equal(pd.nlayout, pm.nlayout);
				pp_plan_free(&pd);
				free(d1);
				free(d2);
			}
			pp_plan_free(&pm);
			pp_plan_free(&pr);
			o->state_free(want);
			pp_want_free(&w2);
			pp_table_free(t2);
		}
		o->state_free(kept);
		o->state_free(read);
		o->close(&b);
	}
	pp_want_free(&w1);
	pp_table_free(t1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_want_model),
		cmocka_unit_test(test_want_port_list_and_hairpin),
		cmocka_unit_test(test_want_refuses_bad_site),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_plan_carries_counters),
		cmocka_unit_test(test_memo_plans_as_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
