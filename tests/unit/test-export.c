/* The documentation record as data (issue 12.2): the cells the CLI prints and the TUI draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/export.h"
#include "portpilot/table.h"

#define NOW ((time_t)1790000000)

/* The table of TEXT, its documentation record in *x. */
static struct pp_table *
record_of(const char *text, struct pp_export *x)
{
	struct pp_table *t;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	pp_export_make(t, NOW, x);
	return t;
}

static void
test_record_rows(void **state)
{
	static const char text[] =
		"[site]\nname = Plant 3\nwan_interface = eth0\npublic_ip = 203.0.113.1\n\n"
		"[web-1]\ndescription = Project portal\npublic_port = 8080\ninternal_ip = 192.168.2.101\n"
		"internal_port = 80\nowner = Li Wei\npurpose = portal\nallow = 198.51.100.0/24, 203.0.113.7/32\n\n"
		"[tls]\npublic_port = 80,443\ninternal_ip = 192.168.2.102\nenabled = no\nallow = 0.0.0.0/0\n\n"
		"[old]\npublic_port = 9000\ninternal_ip = 192.168.2.103\nexpires = 2020-01-01\n\n"
		"[bad]\npublic_port = x\ninternal_ip = 192.168.2.104\n";
	struct pp_export x;

	(void)state;
	struct pp_table *t = record_of(text, &x);
	assert_string_equal(x.public_ip, "203.0.113.1");
	assert_string_equal(x.site_name, "Plant 3");
	assert_int_equal(x.n, 4);
	char **r = x.rows[0].v;
	assert_string_equal(r[PP_X_SERVICE], "Project portal");
	assert_string_equal(r[PP_X_MAPPING], "web-1");
	assert_string_equal(r[PP_X_PUBLIC_IP], "203.0.113.1");
	assert_string_equal(r[PP_X_PUBLIC_PORT], "8080");
	assert_string_equal(r[PP_X_INTERNAL_IP], "192.168.2.101");
	assert_string_equal(r[PP_X_INTERNAL_PORT], "80");
	assert_string_equal(r[PP_X_PROTOCOL], "tcp");
	assert_string_equal(r[PP_X_ALLOW], "198.51.100.0/24,203.0.113.7/32");
	assert_string_equal(r[PP_X_PURPOSE], "portal");
	assert_string_equal(r[PP_X_OWNER], "Li Wei");
	assert_string_equal(r[PP_X_STATE], "enabled");
	r = x.rows[1].v;
	assert_string_equal(r[PP_X_SERVICE], "tls");             /* no description: the name */
	assert_string_equal(r[PP_X_PUBLIC_PORT], "80,443");
	assert_string_equal(r[PP_X_INTERNAL_PORT], "80,443");
	assert_string_equal(r[PP_X_ALLOW], "any");               /* 0.0.0.0/0: one spelling */
	assert_string_equal(r[PP_X_OWNER], "");
	assert_string_equal(r[PP_X_STATE], "disabled");
	assert_string_equal(x.rows[2].v[PP_X_STATE], "expired");
	assert_string_equal(x.rows[3].v[PP_X_STATE], "invalid");
	assert_string_equal(pp_export_key(PP_X_ALLOW), "allow");
	assert_string_equal(pp_export_title(PP_X_ALLOW), "Allowed sources");
	/* One row alone (the TUI's detail screen) is the same row. */
	struct pp_export_row one;
	pp_export_row_of(&t->maps[0], x.public_ip, NOW, &one);
	for (int c = 0; c < PP_X__COUNT; c++)
		assert_string_equal(one.v[c], x.rows[0].v[c]);
	pp_export_row_free(&one);
	pp_export_free(&x);
	pp_table_free(t);
}

/* The IPv6 side of each mapping (issue 15.6): address, mode, pinhole or NAT66, IPv6 sources. */
static void
test_record_ipv6(void **state)
{
	static const char text[] =
		"[site]\nwan_interface = eth0\npublic_ip = 203.0.113.1\n\n"
		"[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_ip6 = 2001:db8:1::1:101\n"
		"allow = 198.51.100.0/24, 2001:db8:100::/64\n\n"
		"[n66]\nprotocol = both\npublic_port = 8443\ninternal_port = 8080\ninternal_ip6 = 2001:db8:1::1:102\n"
		"ipv6 = only\n\n"
		"[v4]\npublic_port = 9000\ninternal_ip = 192.168.2.7\ninternal_ip6 = 2001:db8:1::7\nipv6 = no\n\n"
		"[same]\npublic_port = 8081\ninternal_ip = 192.168.2.8\ninternal_ip6 = 2001:db8:1::8\nnat66 = yes\n"
		"allow = 198.51.100.0/24\n";
	struct pp_export x;

	(void)state;
	struct pp_table *t = record_of(text, &x);
	assert_int_equal(x.n, 4);
	char **r = x.rows[0].v;
	assert_string_equal(r[PP_X_IPV6], "[2001:db8:1::1:101]:8080");
	assert_string_equal(r[PP_X_IPV6_MODE], "yes");
	assert_string_equal(r[PP_X_INTERNAL_IP6], "2001:db8:1::1:101");
	assert_string_equal(r[PP_X_IPV6_HOST_ID], "");
	assert_string_equal(r[PP_X_IPV6_WAY], "pinhole");
	assert_string_equal(r[PP_X_ALLOW6], "2001:db8:100::/64");      /* the IPv6 part of a mixed list */
	r = x.rows[1].v;
	assert_string_equal(r[PP_X_IPV6], "[2001:db8:1::1:102]:8080 (NAT66 from the router's port 8443) (IPv6 only)");
	assert_string_equal(r[PP_X_IPV6_MODE], "only");
	assert_string_equal(r[PP_X_IPV6_WAY], "nat66");
	assert_string_equal(r[PP_X_ALLOW6], "any");
	assert_string_equal(r[PP_X_PUBLIC_IP], "");                      /* not on the IPv4 address */
	r = x.rows[2].v;                                                  /* ipv6 = no: nothing over IPv6 */
	assert_string_equal(r[PP_X_IPV6_MODE], "no");
	for (int c = PP_X_IPV6; c < PP_X__COUNT; c++)
		if (c != PP_X_IPV6_MODE)
			assert_string_equal(r[c], "");
	r = x.rows[3].v;                                                  /* nat66 = yes on the same port */
	assert_string_equal(r[PP_X_IPV6_WAY], "nat66");
	assert_string_equal(r[PP_X_ALLOW6], "none (allow lists IPv4 sources only)");
	assert_string_equal(pp_export_key(PP_X_ALLOW6), "allow6");
	/* The TUI's one row: row_of, then its IPv6 cells, is the record's row. */
	for (size_t i = 0; i < x.n; i++) {
		struct pp_export_row one;
		pp_export_row_of(&t->maps[i], x.public_ip, NOW, &one);
		pp_export_row_ip6(t, &t->maps[i], &one);
		for (int c = 0; c < PP_X__COUNT; c++)
			assert_string_equal(one.v[c], x.rows[i].v[c]);
		pp_export_row_free(&one);
	}
	pp_export_free(&x);
	pp_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_rows),
		cmocka_unit_test(test_record_ipv6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
