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
	struct pp_table *t;
	struct pp_error err;
	struct pp_export x;

	(void)state;
	assert_int_equal(pp_table_load_mem("t.ini", text, sizeof text - 1, &t, &err), 0);
	pp_export_make(t, NOW, &x);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
