/* pp_json_field: the first "key" a colon follows, whatever blanks JSON puts around the colon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "portpilot/util.h"

static void
test_blanks_around_the_colon(void **s)
{
	(void)s;
	static const struct { const char *doc, *key, *want; } ok[] = {
		{ "{\"ip\" : \"1.2.3.4\"}", "ip", "1.2.3.4" },                 /* pretty-printers write this */
		{ "{\n  \"ip\"\t:\n  \"1.2.3.4\",\n  \"ms\" : 12\n}", "ip", "1.2.3.4" },
		{ "{\n  \"ip\"\t:\n  \"1.2.3.4\",\n  \"ms\" : 12\n}", "ms", "12" },
		{ "{\"a\":\"ip\",\"ip\":\"1.2.3.4\"}", "ip", "1.2.3.4" },         /* a value that is the key's name */
		{ "{\"a\":[\"ip\"], \"ip\" :\"5.6.7.8\"}", "ip", "5.6.7.8" },
		{ "{\"ip\":\"1.2.3.4\"}", "ip", "1.2.3.4" },                   /* the compact form, as before */
	};
	char out[32];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (!pp_json_field(ok[i].doc, ok[i].key, out, sizeof out))
			fail_msg("case %zu: %s not found in %s", i, ok[i].key, ok[i].doc);
		assert_string_equal(out, ok[i].want);
	}
	/* A key named only as a value is absent. */
	assert_false(pp_json_field("{\"a\":\"ip\"}", "ip", out, sizeof out));
	assert_string_equal(out, "");
	assert_false(pp_json_field("{\"a\":\"ip\" }", "ip", out, sizeof out));
	assert_false(pp_json_field(NULL, "ip", out, sizeof out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blanks_around_the_colon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
