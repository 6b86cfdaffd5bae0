/*
 * The updater over a simulated 30 days (ddns/sim.c: clock injected, provider, echo services
 * and authoritative servers replaced): requests against the minimum, none after badauth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "portpilot/ddns.h"

#define STEP 300

static void
run(struct pp_ddns_sim *s)
{
	struct pp_error err;

	assert_int_equal(pp_ddns_sim_run(s, &err), 0);
	print_message("stale_auth=%d: provider %d (min %d), echo %d (min %d), auth checks %d (min %d), "
	              "unverified %d, after badauth %d, worst latency %ld s\n", s->stale_auth, s->provider,
	              s->provider_min, s->echo, s->echo_min, s->auth_checks, s->auth_min, s->unverified,
	              s->after_fatal, s->worst_latency);
	assert_int_equal(s->changes, 12);
	assert_int_equal(s->unnecessary, 0);
	assert_int_equal(s->wrong_addr, 0);
	assert_int_equal(s->after_fatal, 0);
	assert_int_equal(s->provider, s->provider_min);
	assert_int_equal(s->echo_too_soon, 0);
	assert_int_equal(s->echo, s->echo_min);
	assert_int_equal(s->auth_checks, s->auth_min);
	assert_true(s->worst_latency <= PP_DDNS_ECHO_MIN + STEP);
}

static void
test_thirty_days(void **st)
{
	struct pp_ddns_sim s = { 0 };
	(void)st;

	run(&s);
	assert_int_equal(s.unverified, 0);
}

/* The authoritative servers lag twice: each costs one more check, no update, no stop. */
static void
test_stale_authoritative(void **st)
{
	struct pp_ddns_sim s = { .stale_auth = 2 };
	(void)st;

	run(&s);
	assert_int_equal(s.unverified, 2);
}

/* ... and when each lag lasts four checks in a row, still not one request more. */
static void
test_stale_back_to_back(void **st)
{
	struct pp_ddns_sim s = { .stale_auth = 2, .stale_run = 4 };
	(void)st;

	run(&s);
	assert_int_equal(s.unverified, 8);
	assert_int_equal(s.provider_min, 17);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thirty_days),
		cmocka_unit_test(test_stale_authoritative),
		cmocka_unit_test(test_stale_back_to_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
