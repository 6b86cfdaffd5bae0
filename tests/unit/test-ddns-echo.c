/* Echo services are shared: sections with one checkip list ask each service at most every 10 minutes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../ddns/ddns-internal.h"
#include "../../ddns/ddns-updater.h"

#define T0 1800000000
#define URL_A "https://a.invalid"
#define URL_B "https://b.invalid"

struct world {
	char dir[64];
	struct pp_conf *conf;
	const char *says_a, *says_b;   /* what each echo service answers */
	int asked_a, asked_b;          /* requests each received */
	int updates;
	char sent[2][46];              /* last address sent, per section */
};

static int
echo(void *ctx, const char *url, char out[16])
{
	struct world *w = ctx;
	bool a = strcmp(url, URL_A) == 0;

	*(a ? &w->asked_a : &w->asked_b) += 1;
	snprintf(out, 16, "%s", a ? w->says_a : w->says_b);
	return 0;
}

static void
provider(void *ctx, struct ddns_job *j)
{
	struct world *w = ctx;

	w->updates++;
	snprintf(w->sent[strcmp(j->dc->name, "one") != 0], 46, "%s", j->addr4);
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = PP_DC_GOOD;
	snprintf(j->detail, sizeof j->detail, "test");
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static int
setup(void **s)
{
	struct world *w = calloc(1, sizeof *w);
	char path[128], text[1024];
	struct pp_error err;

	strcpy(w->dir, "/tmp/pp-ddns-echo.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(path, sizeof path, "%s/u.secret", w->dir);
	write_file(path, "username = u\npassword = p\n");
	snprintf(text, sizeof text,
	         "[ddns one]\nprovider = dyndns2\nserver = one.invalid\nhostname = a.example.net\n"
	         "credentials_file = %s\nip_source = web\ncheckip = " URL_A ", " URL_B "\n\n"
	         "[ddns two]\nprovider = dyndns2\nserver = two.invalid\nhostname = b.example.net\n"
	         "credentials_file = %s\nip_source = web\ncheckip = " URL_A ", " URL_B "\n", path, path);
	snprintf(path, sizeof path, "%s/p.conf", w->dir);
	write_file(path, text);
	assert_int_equal(pp_conf_load(path, false, &w->conf, &err), 0);
	assert_int_equal((int)w->conf->nddns, 2);
	ddns_quiet = true;
	*s = w;
	return 0;
}

static int
teardown(void **s)
{
	struct world *w = *s;
	char cmd[128];

	pp_conf_free(w->conf);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
	assert_int_equal(system(cmd), 0);
	free(w);
	return 0;
}

/* One run of the updater: every section once, like `ddns --once` or one daemon pass. */
static void
run(struct world *w, time_t now)
{
	struct pp_error err;

	w->asked_a = w->asked_b = 0;
	for (size_t i = 0; i < w->conf->nddns; i++) {
		struct ddns_check ck = {
			.conf = w->conf, .dc = &w->conf->ddns[i], .state_dir = w->dir, .now = now,
			.provider_hook = provider, .echo_hook = echo, .hook_ctx = w,
		};
		assert_int_equal(ddns_check(&ck, &err), 0);
	}
}

static void
test_sections_share_echo_services(void **s)
{
	struct world *w = *s;

	/* First run: a new address needs the second opinion, asked once for both sections. */
	w->says_a = w->says_b = "203.0.113.7";
	run(w, T0);
	assert_int_equal(w->asked_a, 1);
	assert_int_equal(w->asked_b, 1);
	assert_int_equal(w->updates, 2);
	assert_string_equal(w->sent[0], "203.0.113.7");
	assert_string_equal(w->sent[1], "203.0.113.7");

	/* Within 10 minutes nobody asks again, whichever section. */
	run(w, T0 + 300);
	assert_int_equal(w->asked_a + w->asked_b, 0);
	assert_int_equal(w->updates, 2);

	/* The address changed: one request to each service serves both sections. */
	w->says_a = w->says_b = "203.0.113.8";
	run(w, T0 + 600);
	assert_int_equal(w->asked_a, 1);
	assert_int_equal(w->asked_b, 1);
	assert_int_equal(w->updates, 4);
	assert_string_equal(w->sent[0], "203.0.113.8");
	assert_string_equal(w->sent[1], "203.0.113.8");

	/* Unchanged: only the first service is asked, once. */
	run(w, T0 + 1200);
	assert_int_equal(w->asked_a, 1);
	assert_int_equal(w->asked_b, 0);
	assert_int_equal(w->updates, 4);
}

static void
test_second_opinion_kept(void **s)
{
	struct world *w = *s;
	struct pp_ddns_state st;
	struct pp_error err;

	w->says_a = w->says_b = "203.0.113.7";
	run(w, T0);
	/* The first service claims a change the second one does not confirm: nothing is sent. */
	w->says_a = "198.51.100.66";
	run(w, T0 + 600);
	assert_int_equal(w->asked_a, 1);
	assert_int_equal(w->asked_b, 1);
	assert_int_equal(w->updates, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(pp_ddns_state_load(w->dir, w->conf->ddns[i].name, &st, &err), 0);
		assert_string_equal(st.echo.addr, "203.0.113.7");
		assert_non_null(strstr(st.verdict, "echo services disagree"));
		pp_ddns_state_free(&st);
	}
	/* Once the second service confirms it (when it may be asked again), both follow. */
	w->says_b = "198.51.100.66";
	run(w, T0 + 1200);
	assert_int_equal(w->asked_a, 1);
	assert_int_equal(w->asked_b, 1);
	assert_int_equal(w->updates, 4);
	assert_string_equal(w->sent[1], "198.51.100.66");
}

/* One shared file, mode 0600, one entry per service: what it said and when. */
static void
test_cache_file(void **s)
{
	struct world *w = *s;
	struct ddns_echo_cache c;
	struct pp_error err;
	char path[128];

	w->says_a = w->says_b = "203.0.113.7";
	run(w, T0);
	snprintf(path, sizeof path, "%s/echo-services.state", w->dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(ddns_echo_cache_load(w->dir, &c, &err), 0);
	assert_int_equal((int)c.n, 2);
	assert_int_equal(ddns_echo_cache_get(&c, URL_A)->asked, T0);
	assert_string_equal(ddns_echo_cache_get(&c, URL_B)->addr, "203.0.113.7");
	ddns_echo_cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sections_share_echo_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_opinion_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
