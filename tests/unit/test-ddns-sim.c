/*
 * The updater over a simulated 30 days (clock injected, provider and echo services replaced):
 * 12 address changes, provider faults, a fatal answer. Counts requests against the minimum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "../../ddns/ddns-internal.h"
#include "../../ddns/ddns-updater.h"

#define T0   1800000000
#define DAY  86400
#define STEP 300                       /* the daemon's polling interval */

struct sim {
	time_t now;
	char truth[16];                    /* the site's real public address */
	char record[96];                   /* what the provider holds */
	time_t last_success;
	bool prev_temp;                    /* last answer was a temporary failure */
	bool fatal;                        /* badauth was answered */
	int provider, echo, unnecessary, after_fatal, wrong_addr, echo_too_soon;
	time_t last_echo_round;
	int faults_left;                   /* temporary faults still to inject, one per change */
	time_t changed_at;
	bool faulted;                      /* a temporary fault since the last change */
	long worst_latency;                /* change -> published, for changes without a fault */
};

static const enum pp_ddns_code faults[] = { PP_DC_911, PP_DC_SERVER, PP_DC_NETWORK, PP_DC_DNSERR };

static void
provider(void *ctx, struct ddns_job *j)
{
	struct sim *s = ctx;
	bool needed = strcmp(j->addr4, s->record) != 0 || s->now - s->last_success >= PP_DDNS_REFRESH ||
	              s->prev_temp;

	s->provider++;
	if (!needed)
		s->unnecessary++;
	if (s->fatal)
		s->after_fatal++;
	if (strcmp(j->addr4, s->truth) != 0)
		s->wrong_addr++;
	enum pp_ddns_code c = PP_DC_GOOD;
	if (s->now >= T0 + 29 * DAY + DAY / 2) {
		c = PP_DC_BADAUTH;             /* the account's password was changed on day 29.5 */
		s->fatal = true;
	} else if (s->faults_left > 0 && !s->prev_temp && s->provider % 3 == 0) {
		c = faults[--s->faults_left];
	}
	s->prev_temp = pp_ddns_code_class(c) == PP_CLS_RETRY;
	s->faulted |= s->prev_temp;
	if (c == PP_DC_GOOD) {
		if (!s->faulted && strcmp(s->record, j->addr4) != 0 && s->now - s->changed_at > s->worst_latency)
			s->worst_latency = s->now - s->changed_at;
		snprintf(s->record, sizeof s->record, "%s", j->addr4);
		s->last_success = s->now;
	}
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = c;
	snprintf(j->detail, sizeof j->detail, "simulated");
}

static int
echo(void *ctx, const char *url, char out[16])
{
	struct sim *s = ctx;
	(void)url;
	/* A second request in the same round is the confirmation; a new round needs 10 minutes. */
	if (s->now != s->last_echo_round && s->last_echo_round && s->now - s->last_echo_round < PP_DDNS_ECHO_MIN)
		s->echo_too_soon++;
	s->last_echo_round = s->now;
	s->echo++;
	snprintf(out, 16, "%s", s->truth);
	return 0;
}

static time_t
change_time(int k)
{
	/* Ten changes in days 1-4, then quiet (a 25-day refresh falls due), then two on day 29.5+. */
	if (k < 10)
		return T0 + DAY + k * (DAY * 3 / 10) + 137;
	return k == 10 ? T0 + 29 * DAY + DAY / 2 + 11 : T0 + 29 * DAY + DAY * 8 / 10;
}

static uint32_t fixed_rnd(void) { return 12345; }

static void
test_thirty_days(void **st)
{
	char dir[] = "/tmp/pp-ddns-sim.XXXXXX", path[128], sec[128];
	struct sim s = { .faults_left = 4 };
	struct pp_conf *conf;
	struct pp_error err;
	int k = 0, changes = 0, echo_rounds_min = 0;
	(void)st;

	assert_non_null(mkdtemp(dir));
	snprintf(sec, sizeof sec, "%s/sim.secret", dir);
	FILE *f = fopen(sec, "w");
	fputs("username = u\npassword = p\n", f);
	fclose(f);
	chmod(sec, 0600);
	snprintf(path, sizeof path, "%s/sim.conf", dir);
	f = fopen(path, "w");
	fprintf(f, "[ddns sim]\nprovider = dyndns2\nserver = sim.invalid\nhostname = a.example.net\n"
	        "credentials_file = %s\nip_source = web\ncheckip = https://a.invalid, https://b.invalid\n", sec);
	fclose(f);
	assert_int_equal(pp_conf_load(path, false, &conf, &err), 0);
	ddns_quiet = true;
	strcpy(s.truth, "203.0.113.100");
	s.changed_at = T0;
	for (s.now = T0; s.now < T0 + 30 * DAY;) {
		if (k < 12 && s.now >= change_time(k)) {
			snprintf(s.truth, sizeof s.truth, "203.0.113.%d", 101 + k);
			s.changed_at = s.now;
			s.faulted = false;
			k++;
			changes++;
		}
		struct ddns_check ck = {
			.conf = conf, .dc = &conf->ddns[0], .state_dir = dir, .now = s.now, .rnd = fixed_rnd,
			.provider_hook = provider, .echo_hook = echo, .hook_ctx = &s,
		};
		assert_int_equal(ddns_check(&ck, &err), 0);
		if (!s.fatal && (s.now - T0) % PP_DDNS_ECHO_MIN < STEP)
			echo_rounds_min++;
		/* Like the daemon: wake at the next poll, or earlier for a due retry. */
		time_t next = (s.now / STEP + 1) * STEP;
		if (ck.next_due > s.now && ck.next_due < next)
			next = ck.next_due;
		s.now = next;
	}
	/* Minimum: first publication, 10 changes, one 25-day refresh, one retry per fault, the badauth. */
	int min_provider = 1 + 10 + 1 + 4 + 1;
	/* Minimum echo: one round per 10 minutes while not stopped, plus a confirmation per new address. */
	int min_echo = echo_rounds_min + 1 + 11;
	print_message("ddns simulation: 30 days, %d address changes, 4 temporary faults, badauth on day 29.5\n",
	              changes);
	print_message("provider requests: %d, minimum %d, ratio %.2f; after the fatal answer: %d\n",
	              s.provider, min_provider, (double)s.provider / min_provider, s.after_fatal);
	print_message("echo requests: %d, minimum %d, ratio %.2f; worst change-to-published %ld s\n",
	              s.echo, min_echo, (double)s.echo / min_echo, s.worst_latency);
	assert_int_equal(changes, 12);
	assert_int_equal(s.unnecessary, 0);
	assert_int_equal(s.wrong_addr, 0);
	assert_int_equal(s.after_fatal, 0);
	assert_int_equal(s.provider, min_provider);
	assert_int_equal(s.echo_too_soon, 0);
	assert_true(s.echo <= min_echo);
	assert_true(s.worst_latency <= PP_DDNS_ECHO_MIN + STEP);
	pp_conf_free(conf);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thirty_days),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
