/* struct pp_confirm_report: what confirm and rollback fill, and the CLI's words made from it alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../core/apply-internal.h"
#include "portpilot/backend.h"
#include "portpilot/util.h"

struct printed {
	char *out, *err;
};

static struct printed
print(const struct pp_confirm_report *r, bool json)
{
	struct printed p = { 0 };
	size_t no, ne;
	struct pp_cli c = { .json = json };

	c.out = open_memstream(&p.out, &no);
	c.err = open_memstream(&p.err, &ne);
	assert_non_null(c.out);
	assert_non_null(c.err);
	pp_confirm_report_print(&c, r);
	fclose(c.out);
	fclose(c.err);
	return p;
}

/* r printed (json as --json) is exactly out on stdout and err on stderr. */
static void
assert_prints(const struct pp_confirm_report *r, bool json, const char *out, const char *err)
{
	struct printed p = print(r, json);

	assert_string_equal(p.out, out);
	assert_string_equal(p.err, err);
	free(p.out);
	free(p.err);
}

static struct pp_confirm_report
report(bool rollback, enum pp_confirm_outcome what, const char *error)
{
	struct pp_confirm_report r = { .rollback = rollback, .outcome = what, .pending = true,
	                               .deadline = 1700000000, .timer_alive = true };

	snprintf(r.timer, sizeof r.timer, "the rollback timer (pid 42)");
	snprintf(r.backend, sizeof r.backend, "nftables");
	snprintf(r.late, sizeof r.late, "the timer is gone");
	snprintf(r.error, sizeof r.error, "%s", error);
	r.rc = what == PP_CO_CONFIRMED || what == PP_CO_ROLLED_BACK ? PP_EXIT_OK : PP_EXIT_FAIL;
	return r;
}

/* Each outcome in the CLI's words: the bytes confirm printed before it returned a report. */
static void
test_confirm_words(void **state)
{
	struct pp_confirm_report r = report(false, PP_CO_CONFIRMED, "");
	char *s, when[20];
	(void)state;

	assert_prints(&r, false, "confirmed: the ruleset stays and is persisted for boot\n", "");
	assert_prints(&r, true, "{\"confirmed\":true}\n", "");
	r.timer_alive = false;
	assert_prints(&r, false, "confirmed: the ruleset stays and is persisted for boot\n",
	              "portpilot confirm: the rollback timer (pid 42) was gone; the kernel still holds the "
	              "applied ruleset, so it is kept\n");
	r = report(false, PP_CO_NONE, "");
	assert_prints(&r, true, "", "portpilot confirm: nothing awaits confirmation (no apply --confirm pending)\n");
	r = report(false, PP_CO_LATE, "");
	assert_prints(&r, false, "", "portpilot confirm: the timer is gone: rolling back to the rules from "
	              "before that apply now\nportpilot confirm: nothing confirmed: apply again to bring the "
	              "change back\n");
	r = report(false, PP_CO_LATE, "no snapshot in /s");
	assert_prints(&r, false, "", "portpilot confirm: the timer is gone: rolling back to the rules from "
	              "before that apply now\nportpilot confirm: no snapshot in /s\n");
	r = report(false, PP_CO_DRIFTED, "2 chain(s) differ");
	assert_prints(&r, false, "", "portpilot confirm: the timer is gone; 2 chain(s) differ: nothing "
	              "confirmed. Run portpilot rollback to return to the rules from before that apply, then "
	              "portpilot apply\n");
	r = report(false, PP_CO_FAILED, "cannot lock /s");
	assert_prints(&r, false, "", "portpilot confirm: cannot lock /s\n");
	r = report(false, PP_CO_UNFINISHED, "");
	pp_format_datetime(r.deadline, when);
	s = pp_xasprintf("portpilot confirm: the apply that armed this rollback did not finish (it was "
	                 "killed, or its session hung up, before it recorded what it wrote), so there is "
	                 "nothing safe to keep. the rollback timer (pid 42) restores them at %s; run portpilot "
	                 "rollback to restore the rules from before it now, then apply again\n", when);
	assert_prints(&r, false, "", s);
	free(s);
	r.timer_alive = false;
	assert_prints(&r, false, "", "portpilot confirm: the apply that armed this rollback did not finish (it "
	              "was killed, or its session hung up, before it recorded what it wrote), so there is "
	              "nothing safe to keep. the rollback timer (pid 42) is gone: nothing restores them; run "
	              "portpilot rollback to restore the rules from before it now, then apply again\n");
}

static void
test_rollback_words(void **state)
{
	struct pp_confirm_report r = report(true, PP_CO_ROLLED_BACK, "");
	(void)state;

	assert_prints(&r, false, "rolled back to the rules before the last apply\n", "");
	assert_prints(&r, true, "{\"rolled_back\":true}\n", "");
	r = report(true, PP_CO_FAILED, "no snapshot in /s: nothing was applied yet");
	assert_prints(&r, false, "", "portpilot rollback: no snapshot in /s: nothing was applied yet\n");
	r = report(true, PP_CO_NONE, "");       /* the timer of an apply confirmed meanwhile: silent */
	r.rc = PP_EXIT_OK;
	assert_prints(&r, false, "", "");
}

/* A state directory of our own, with a pending record when pd is not NULL. */
static struct pp_cli
state_cli(char dir[64], const struct pp_pending *pd)
{
	struct pp_cli c = { .state_dir = dir };
	struct pp_error err;

	snprintf(dir, 64, "/tmp/pp-confirm-report.XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (pd)
		assert_int_equal(pp_pending_write(dir, pd, &err), 0);
	return c;
}

static void
state_done(const char *dir)
{
	char *cmd = pp_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* The engine alone, where it needs no kernel: each answer is in the report, nothing is printed. */
static void
test_run_without_kernel(void **state)
{
	struct pp_confirm_report r;
	struct pp_pending pd = { .id = "1-2", .deadline = time(NULL) + 3600, .pid = getpid(), .armed = true,
	                         .backend = "nftables" };   /* our pid: no "rollback --timer", so gone */
	char dir[64];
	(void)state;

	struct pp_cli c = state_cli(dir, NULL);   /* no cli->out / err: printing would crash */
	assert_int_equal(pp_confirm_run(&c, &r), PP_EXIT_FAIL);
	assert_int_equal(r.outcome, PP_CO_NONE);
	assert_false(r.pending);
	assert_int_equal(pp_rollback_run(&c, NULL, &r), PP_EXIT_FAIL);
	assert_true(r.rollback);
	assert_int_equal(r.outcome, PP_CO_FAILED);
	assert_non_null(strstr(r.error, "no snapshot in"));
	state_done(dir);

	/* an apply that armed its rollback and died: refused, with its deadline and the timer gone */
	c = state_cli(dir, &pd);
	assert_int_equal(pp_confirm_run(&c, &r), PP_EXIT_FAIL);
	assert_int_equal(r.outcome, PP_CO_UNFINISHED);
	assert_true(r.pending);
	assert_int_equal(r.deadline, pd.deadline);
	assert_false(r.timer_alive);
	assert_string_equal(r.backend, "nftables");
	/* the timer of another apply: nothing to do, and the record stays */
	assert_int_equal(pp_rollback_run(&c, "9-9", &r), PP_EXIT_OK);
	assert_int_equal(r.outcome, PP_CO_NONE);
	assert_int_equal(pp_pending_read(dir, &pd), 0);
	state_done(dir);

	/* past its deadline with the timer gone: confirm rolls back instead (and says why it failed) */
	pd.deadline = time(NULL) - 5;
	pd.armed = false;
	c = state_cli(dir, &pd);
	assert_int_equal(pp_confirm_run(&c, &r), PP_EXIT_FAIL);
	assert_int_equal(r.outcome, PP_CO_LATE);
	assert_non_null(strstr(r.late, "is gone"));
	assert_non_null(strstr(r.error, "no snapshot in"));
	state_done(dir);

	c.state_dir = "/nonexistent/pp-state";
	assert_int_equal(pp_confirm_run(&c, &r), PP_EXIT_FAIL);
	assert_int_equal(r.outcome, PP_CO_FAILED);
	assert_non_null(strstr(r.error, "/nonexistent/pp-state"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirm_words),
		cmocka_unit_test(test_rollback_words),
		cmocka_unit_test(test_run_without_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
