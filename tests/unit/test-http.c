/* libcurl is loaded on first use (core/http.c): without it, HTTP fails with the package to install. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/http.h"

static int opened;

/* The machine "has no libcurl": every dlopen fails (linked with --wrap=dlopen). */
void *__wrap_dlopen(const char *file, int mode);
void *
__wrap_dlopen(const char *file, int mode)
{
	(void)file;
	(void)mode;
	opened++;
	return NULL;
}

static void
test_missing_libcurl(void **state)
{
	(void)state;
	struct pp_http_call c;
	struct pp_http_opts o = { .url = "https://example.invalid/", .timeout_ms = 1000, .connect_ms = 1000,
	                          .body_max = 100 };
	assert_int_equal(opened, 0); /* nothing loads libcurl before HTTP is asked for */
	assert_int_equal(pp_http_setup(&c, &o), -1);
	assert_non_null(strstr(c.errbuf, "libcurl.so.4"));
	assert_non_null(strstr(c.errbuf, "apt-get install libcurl4"));
	assert_null(c.easy);
	pp_http_cleanup(&c);
	/* The rest of the API fails the way libcurl fails, and says why. */
	assert_null(curl_easy_init());
	assert_null(curl_multi_init());
	assert_null(curl_slist_append(NULL, "X: y"));
	assert_int_equal(curl_easy_setopt(NULL, CURLOPT_URL, "x"), CURLE_FAILED_INIT);
	assert_int_equal(curl_easy_perform(NULL), CURLE_FAILED_INIT);
	assert_non_null(strstr(curl_easy_strerror(CURLE_FAILED_INIT), "libcurl4"));
	assert_null(curl_version_info(CURLVERSION_NOW)->cainfo);
	int left = 5;
	assert_null(curl_multi_info_read(NULL, &left));
	assert_int_equal(left, 0);
	assert_int_equal(opened, 1); /* tried once, remembered */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_libcurl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
