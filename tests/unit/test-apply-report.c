/* struct pp_apply_report: what apply fills, and the CLI's text and JSON made from it alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"

struct printed {
	char *out, *err;
};

/* pp_apply_report_print(r) into memory; json as --json. */
static struct printed
print(const struct pp_apply_report *r, bool json)
{
	struct printed p = { 0 };
	size_t no, ne;
	struct pp_cli c = { .table_path = "t.ini", .json = json };

	c.out = open_memstream(&p.out, &no);
	c.err = open_memstream(&p.err, &ne);
	assert_non_null(c.out);
	assert_non_null(c.err);
	pp_apply_report_print(&c, r);
	fclose(c.out);
	fclose(c.err);
	return p;
}

static void
printed_free(struct printed *p)
{
	free(p->out);
	free(p->err);
}

/* A committed apply with a confirm pending, one warning and one mapping changed. */
static void
fill(struct pp_apply_report *r)
{
	memset(r, 0, sizeof *r);
	r->planned = true;
	r->applied = true;
	snprintf(r->backend, sizeof r->backend, "nftables");
	snprintf(r->variant, sizeof r->variant, "inet");
	snprintf(r->backend_why, sizeof r->backend_why, "[site] backend = nftables");
	snprintf(r->moved_from, sizeof r->moved_from, "iptables");
	r->diff = pp_xstrdup("+ add rule pp:web-1\n");
	pp_findings_add(&r->warnings, PP_WARNING, 0, NULL, NULL, "set it to 1", "ip_forward is 0");
	r->nchanged = 1;
	r->changed = pp_xcalloc(1, sizeof *r->changed);
	r->changed[0] = pp_xstrdup("pp:web-1");
	r->chains_written = 2;
	r->confirm_deadline = 1000;
	r->confirm_seconds = 30;
}

static void
test_text(void **state)
{
	struct pp_apply_report r;
	(void)state;
	fill(&r);
	struct printed p = print(&r, false);

	assert_non_null(strstr(p.out, "moving the mappings from iptables to nftables"));
	assert_non_null(strstr(p.out, "+ add rule pp:web-1\n"));
	assert_non_null(strstr(p.out, "applied: 1 mapping(s) changed, 2 chain(s) written, 0 dropped, 0 hook(s)\n"));
	assert_non_null(strstr(p.out, "rollback in 30 s unless confirmed"));
	assert_non_null(strstr(p.out, "backend: nftables (inet): [site] backend = nftables\n"));
	/* the moving line and the diff come before the summary */
	assert_true(strstr(p.out, "moving") < strstr(p.out, "applied:"));
	assert_non_null(strstr(p.err, "ip_forward is 0"));
	assert_non_null(strstr(p.err, "set it to 1"));
	assert_null(strstr(p.err, "portpilot apply:"));
	printed_free(&p);
	pp_apply_report_free(&r);
	assert_null(r.changed);
	assert_null(r.diff);
}

static void
test_json(void **state)
{
	struct pp_apply_report r;
	(void)state;
	fill(&r);
	struct printed p = print(&r, true);

	assert_string_equal(p.out, "{\"dry_run\":false,\"applied\":true,\"chains_written\":2,"
	                    "\"chains_dropped\":0,\"hooks_changed\":0,\"changed\":[\"web-1\"],"
	                    "\"flows_removed\":0,\"flows_unlisted\":false,\"flows_failed\":0,\"confirm_deadline\":1000,"
	                    "\"backend\":\"nftables\",\"backend_why\":\"[site] backend = nftables\","
	                    "\"layout\":[]}\n");
	assert_null(strstr(p.out, "add rule"));       /* no diff text in JSON */
	printed_free(&p);
	pp_apply_report_free(&r);
}

/* A failure: the error with its fix, no summary. */
static void
test_error(void **state)
{
	struct pp_apply_report r;
	(void)state;
	fill(&r);
	r.rc = PP_EXIT_FAIL;
	snprintf(r.error, sizeof r.error, "commit failed: run portpilot status");
	struct printed p = print(&r, false);

	assert_null(strstr(p.out, "applied:"));
	assert_non_null(strstr(p.out, "+ add rule pp:web-1"));  /* the diff still shows what it tried */
	assert_non_null(strstr(p.err, "portpilot apply: commit failed: run portpilot status\n"));
	printed_free(&p);
	pp_apply_report_free(&r);
}

/* pp_apply_run itself, where it needs no kernel: an unreadable table, nothing persisted. */
static void
test_run_without_kernel(void **state)
{
	struct pp_apply_report r;
	char *out = NULL, *err = NULL;
	size_t no, ne;
	struct pp_cli c = { .table_path = "/nonexistent/pp-table.ini", .state_dir = "/nonexistent/pp-state" };
	struct pp_apply_opts o = { .dry_run = true };
	(void)state;

	c.out = open_memstream(&out, &no);
	c.err = open_memstream(&err, &ne);
	assert_int_equal(pp_apply_run(&c, &o, NULL, &r), PP_EXIT_USAGE);
	assert_int_equal(r.rc, PP_EXIT_USAGE);
	assert_false(r.planned);
	assert_non_null(strstr(r.error, "/nonexistent/pp-table.ini"));
	pp_apply_report_free(&r);
	o = (struct pp_apply_opts){ .expire_only = true };
	assert_int_equal(pp_apply_run(&c, &o, NULL, &r), PP_EXIT_OK);
	assert_true(r.nothing_persisted);
	pp_apply_report_free(&r);
	fclose(c.out);
	fclose(c.err);
	assert_int_equal(no + ne, 0);                  /* the engine printed nothing itself */
	free(out);
	free(err);
}

/* What the core printed by itself while applying is in the report too, printed first on stderr in
 * the order it happened: the late rollback of an earlier apply, the table's findings, a failed restore. */
static void
test_stray_in_report(void **state)
{
	struct pp_apply_report r;
	(void)state;
	fill(&r);
	r.rc = PP_EXIT_FAIL;
	snprintf(r.late, sizeof r.late, "the timer is gone");
	pp_findings_add(&r.table_findings, PP_WARNING, 7, "ssh-1", "allow", "set allow", "SSH is open");
	snprintf(r.restore_failed, sizeof r.restore_failed, "nft said no");
	snprintf(r.error, sizeof r.error, "commit failed");
	struct printed p = print(&r, false);
	const char *late = strstr(p.err, "portpilot apply: the timer is gone: rolling back to the rules from "
	                          "before that apply now\n");
	const char *found = strstr(p.err, "t.ini:7: warning: [ssh-1] allow: SSH is open\n    fix: set allow\n");
	const char *restore = strstr(p.err, "portpilot: restoring the snapshot failed too: nft said no\n");
	const char *warn = strstr(p.err, "ip_forward is 0");

	assert_true(late == p.err);
	assert_non_null(found);
	assert_non_null(restore);
	assert_non_null(warn);
	assert_true(late < found && found < restore && restore < warn);
	printed_free(&p);
	pp_apply_report_free(&r);
	assert_int_equal(r.table_findings.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_run_without_kernel),
		cmocka_unit_test(test_stray_in_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
