/* The recorded access log as data (issue 12.2): what the CLI prints and the TUI draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *p = pp_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
test_history(void **state)
{
	char dir[] = "/tmp/pp-access-XXXXXX";
	struct pp_access_history h;
	struct pp_error err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* Nothing recorded: no error, recorded false, no entries. */
	assert_int_equal(pp_access_history_read(dir, NULL, &h, &err), 0);
	assert_false(h.recorded);
	assert_int_equal(h.n, 0);
	pp_access_history_free(&h);
	/* The rotated file first, then the current one; a broken line is a note naming file:line. */
	write_file(dir, "access.log.1",
	           "2026-12-01T10:00:00+0000\tweb-1\ttcp\t203.0.113.10\t40000\t8080\taccepted\n");
	write_file(dir, "access.log",
	           "2026-12-01T11:00:00+0000\tweb-2\tudp\t198.51.100.7\t5000\t9000\trejected (not in allow)\n"
	           "garbage line\n"
	           "2026-12-01T12:00:00+0000\tweb-1\ttcp\t203.0.113.11\t40001\t8080\taccepted\n");
	assert_int_equal(pp_access_history_read(dir, NULL, &h, &err), 0);
	assert_true(h.recorded);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.v[0].time, "2026-12-01T10:00:00+0000");
	assert_string_equal(h.v[1].mapping, "web-2");
	assert_string_equal(h.v[1].proto, "udp");
	assert_string_equal(h.v[1].src, "198.51.100.7");
	assert_int_equal(h.v[1].sport, 5000);
	assert_int_equal(h.v[1].port, 9000);
	assert_string_equal(h.v[1].verdict, "rejected (not in allow)");
	assert_false(h.v[1].accepted);
	assert_true(h.v[0].accepted);
	assert_int_equal(h.nnotes, 1);
	assert_non_null(strstr(h.notes[0], "/access.log:2: not an access-log line"));
	pp_access_history_free(&h);
	/* One mapping's entries only. */
	assert_int_equal(pp_access_history_read(dir, "web-1", &h, &err), 0);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[1].src, "203.0.113.11");
	pp_access_history_free(&h);
	/* A FIFO planted as the log: refused with a message, not read (no hang). */
	char *cur = pp_xasprintf("%s/access.log", dir), *old = pp_xasprintf("%s/access.log.1", dir);
	unlink(cur);
	assert_int_equal(mkfifo(cur, 0600), 0);
	assert_int_equal(pp_access_history_read(dir, NULL, &h, &err), -1);
	assert_non_null(strstr(err.msg, "must be a regular file"));
	assert_int_equal(h.n, 1);                       /* what could be read stays */
	pp_access_history_free(&h);
	unlink(cur);
	unlink(old);
	rmdir(dir);
	free(cur);
	free(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
