/* bench/ddns: the updater over 30 simulated days; requests sent against the minimum necessary. */
#include <stdio.h>

#include "portpilot/ddns.h"

static int
scenario(const char *title, int stale_auth, int stale_run)
{
	struct pp_ddns_sim s = { .stale_auth = stale_auth, .stale_run = stale_run };
	struct pp_error err;

	if (pp_ddns_sim_run(&s, &err) < 0) {
		fprintf(stderr, "bench/ddns: %s\n", err.msg);
		return 1;
	}
	printf("%s: %d address changes, 4 temporary faults (911, 5xx, network, dnserr), "
	       "badauth on day 29.5, %d lagging updates (%d stale answers in a row)\n", title, s.changes,
	       stale_auth, stale_run > 1 ? stale_run : stale_auth ? 1 : 0);
	printf("  provider requests   %4d  minimum %4d  ratio %.2f  (unnecessary %d, wrong address %d)\n",
	       s.provider, s.provider_min, (double)s.provider / s.provider_min, s.unnecessary, s.wrong_addr);
	printf("  echo requests       %4d  minimum %4d  ratio %.2f  (asked sooner than 10 min: %d)\n",
	       s.echo, s.echo_min, (double)s.echo / s.echo_min, s.echo_too_soon);
	printf("  authoritative checks%4d  minimum %4d  ratio %.2f  (stale or NXDOMAIN: %d)\n",
	       s.auth_checks, s.auth_min, s.auth_min ? (double)s.auth_checks / s.auth_min : 0.0, s.unverified);
	printf("  requests after the fatal answer: %d\n", s.after_fatal);
	printf("  worst change-to-published latency (no fault): %ld s\n", s.worst_latency);
	return s.provider != s.provider_min || s.after_fatal != 0 || s.unnecessary != 0 ||
	       s.auth_checks != s.auth_min;
}

int
main(void)
{
	int rc = scenario("30 days", 0, 0);

	rc |= scenario("30 days, lagging DNS", 2, 1);
	rc |= scenario("30 days, DNS lagging back to back", 2, 4);
	return rc;
}
