/* The one JSON string writer and the terminal-safe text: valid output whatever the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/util.h"

/* pp_json_str(s) as a string. */
static char *
json(const char *s)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	pp_json_str(f, s);
	fclose(f);
	return out;
}

static void
json_is(const char *in, const char *want)
{
	char *got = json(in);

	if (strcmp(got, want) != 0)
		fail_msg("pp_json_str: want %s, got %s", want, got);
	free(got);
}

/* Every byte printable ASCII: no raw control, nothing above 0x7e. */
static bool
plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void
test_json_valid_utf8_kept(void **state)
{
	json_is("plain", "\"plain\"");
	json_is("Li Wei \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"Li Wei \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* The limits of each length are valid. */
	json_is("\xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
	        "\"\xc2\xa0\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	json_is(NULL, "null");
}

static void
test_json_controls_escaped(void **state)
{
	json_is("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_is("\x1b[31mred\x1b[0m", "\"\\u001b[31mred\\u001b[0m\"");
	json_is("t\tn\nr\r\x01", "\"t\\tn\\nr\\r\\u0001\"");
	json_is("del\x7f", "\"del\\u007f\"");
	/* C1 controls arrive UTF-8 encoded (U+009B is the one-byte CSI). */
	json_is("csi\xc2\x9b" "2J", "\"csi\\u009b2J\"");
	json_is("ls\xe2\x80\xa8ps\xe2\x80\xa9", "\"ls\\u2028ps\\u2029\"");
}

static void
test_json_invalid_utf8_replaced(void **state)
{
	json_is("a\xff" "b", "\"a\\ufffdb\"");                 /* never a UTF-8 byte */
	json_is("\x80", "\"\\ufffd\"");                         /* stray continuation */
	json_is("cut\xe2\x82", "\"cut\\ufffd\\ufffd\"");        /* truncated at the end */
	json_is("\xe2\x82" "x", "\"\\ufffd\\ufffdx\"");         /* truncated before ASCII */
	json_is("\xc0\xaf", "\"\\ufffd\\ufffd\"");              /* overlong '/' */
	json_is("\xc1\xbf", "\"\\ufffd\\ufffd\"");              /* overlong, C1 lead */
	json_is("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");   /* overlong, 3 bytes */
	json_is("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong, 4 bytes */
	json_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");   /* surrogate U+D800 */
	json_is("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");   /* surrogate U+DFFF */
	json_is("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* U+110000 */
	json_is("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Overlong NUL and overlong ESC cannot sneak a control through. */
	json_is("\xc0\x80\xc0\x9b", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void
test_json_every_byte_pair(void **state)
{
	/* Whatever two bytes come, the output is ASCII-only JSON text or valid UTF-8 of the input. */
	char in[3] = { 0 };
	for (int a = 1; a < 256; a++)
		for (int b = 1; b < 256; b++) {
			in[0] = (char)a, in[1] = (char)b;
			char *o = json(in);
			uint32_t cp;
			for (const char *p = o; *p;) {
				size_t n = pp_utf8_next(p, &cp);
				if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
					fail_msg("bytes %02x %02x gave a raw control or invalid UTF-8: %s", a, b, o);
				p += n;
			}
			free(o);
		}
}

static void
test_utf8_next(void **state)
{
	uint32_t cp;

	assert_int_equal(pp_utf8_next("A", &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(pp_utf8_next("\xc3\xa9", &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(pp_utf8_next("\xf4\x8f\xbf\xbf", &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(pp_utf8_next("", &cp), 0);
	assert_int_equal(pp_utf8_next("\xed\x9f\xbf", &cp), 3);      /* U+D7FF, just below the surrogates */
	assert_int_equal(pp_utf8_next("\xee\x80\x80", &cp), 3);      /* U+E000, just above */
	assert_int_equal(pp_utf8_next("\xed\xa0\x80", &cp), 0);
}

static void
test_text_safe(void **state)
{
	char *t = pp_text_safe_dup("\x1b]0;owned\x07\x1b[2J ok \xc3\xa9 \xc2\x9b" "31m \xff \x7f tab\t");

	assert_string_equal(t, "\\x1b]0;owned\\x07\\x1b[2J ok \xc3\xa9 \\xc2\\x9b31m \\xff \\x7f tab\\x09");
	free(t);
	t = pp_text_safe_dup(NULL);
	assert_string_equal(t, "");
	free(t);
	t = pp_text_safe_dup("\xc0\x9b" "x");     /* overlong ESC */
	assert_true(plain_ascii(t));
	assert_string_equal(t, "\\xc0\\x9bx");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_valid_utf8_kept),
		cmocka_unit_test(test_json_controls_escaped),
		cmocka_unit_test(test_json_invalid_utf8_replaced),
		cmocka_unit_test(test_json_every_byte_pair),
		cmocka_unit_test(test_utf8_next),
		cmocka_unit_test(test_text_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
