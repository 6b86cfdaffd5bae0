/* Saving: only changed lines move, atomic under failures, locked, never over a changed file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "portpilot/table.h"
#include "portpilot/conf.h"
#include "portpilot/util.h"

/* Link-time wraps (see WRAP_test-save in the Makefile) to simulate failing system calls. */
static int fail_rename, fail_fsync, fail_write;
int __real_rename(const char *a, const char *b);
int __real_fsync(int fd);
ssize_t __real_write(int fd, const void *p, size_t n);
int __wrap_rename(const char *a, const char *b) { if (fail_rename) { errno = EIO; return -1; } return __real_rename(a, b); }
int __wrap_fsync(int fd) { if (fail_fsync) { errno = EIO; return -1; } return __real_fsync(fd); }
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	if (fail_write) { errno = ENOSPC; return -1; }
	return __real_write(fd, p, n);
}

/* The caps, for a build of a version that had none (the tests then show it read without bound). */
#ifndef PP_TABLE_MAX
#define PP_TABLE_MAX (64u << 20)
#define PP_SECRET_MAX (64u << 10)
#endif

static char dir[64], path[96];

static int
setup(void **state)
{
	strcpy(dir, "/tmp/pp-unit-save.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/mappings.ini", dir);
	fail_rename = fail_fsync = fail_write = 0;
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = pp_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static void
put(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *
get(const char *p)
{
	char *s = pp_read_file(p, NULL);
	assert_non_null(s);
	return s;
}

static struct pp_table *
load_path(void)
{
	struct pp_table *t;
	struct pp_error err;

	assert_int_equal(pp_table_load(path, false, &t, &err), 0);
	return t;
}

static const char *hand =
	"; hand-written table\n"
	"[site]\n"
	"wan_interface = eth0   ; uplink\n"
	"\n"
	"; the portal\n"
	"[web-1]\n"
	"  public_port   = 8080   ; public\n"
	"  internal_ip   = 192.168.2.101\n"
	"\n"
	"# cameras\n"
	"[cam]\n"
	"public_port=554\n"
	"internal_ip=192.168.2.20\n";

static void
test_set_changes_only_the_value(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *after;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set(t, "web-1", "public_port", "8081", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	after = get(path);
	char *want = pp_xstrdup(hand);
	memcpy(strstr(want, "8080"), "8081", 4);
	assert_string_equal(after, want);
	free(after);
	free(want);
	/* the previous version is kept */
	char *bak = pp_xasprintf("%s.bak", path), *old = get(bak);
	assert_string_equal(old, hand);
	free(old);
	free(bak);
}

static void
test_new_key_follows_neighbour(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set(t, "web-1", "owner", "Li Wei", &err), 0);
	assert_int_equal(pp_table_set(t, "cam", "description", "Gate #2; north", &err), 0);
	assert_non_null(strstr(t->text, "  internal_ip   = 192.168.2.101\n  owner         = Li Wei\n\n# cameras\n"));
	assert_non_null(strstr(t->text, "internal_ip=192.168.2.20\ndescription = \"Gate #2; north\"\n"));
	/* the model is re-read and the value round-trips through libiniparser */
	assert_string_equal(pp_table_find(t, "cam")->val[PP_F_DESCRIPTION], "Gate #2; north");
	assert_int_equal(pp_table_find(t, "cam")->key_line[PP_F_DESCRIPTION], 15);
	/* removing a key removes its line only */
	assert_int_equal(pp_table_set(t, "web-1", "owner", NULL, &err), 0);
	assert_null(strstr(t->text, "owner"));
	pp_table_free(t);
}

static void
test_add_del_rename(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_add(t, "web-2", &err), 0);
	assert_int_equal(pp_table_set(t, "web-2", "public_port", "8090", &err), 0);
	assert_non_null(strstr(t->text, "internal_ip=192.168.2.20\n\n[web-2]\npublic_port = 8090\n"));
	assert_int_equal(pp_table_add(t, "WEB-2", &err), -1);
	assert_non_null(strstr(err.msg, "exists already"));
	assert_int_equal(pp_table_add(t, "bad name", &err), -1);
	assert_int_equal(pp_table_del(t, "web-1", &err), 0);
	/* its own comment goes with it; the next section's comment stays */
	assert_null(strstr(t->text, "the portal"));
	assert_null(strstr(t->text, "8080"));
	assert_non_null(strstr(t->text, "# cameras\n[cam]"));
	assert_non_null(strstr(t->text, "wan_interface = eth0   ; uplink\n"));
	assert_int_equal(pp_table_rename(t, "cam", "nvr", &err), 0);
	assert_non_null(strstr(t->text, "# cameras\n[nvr]\npublic_port=554"));
	assert_null(pp_table_find(t, "cam"));
	assert_int_equal(pp_table_del(t, "nope", &err), -1);
	pp_table_free(t);
}

static void
test_set_many_all_or_nothing(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	const struct pp_kv good[] = { { "public_port", "9000" }, { "owner", "Chen" }, { "protocol", "udp" } };
	const struct pp_kv bad[] = { { "public_port", "9001" }, { "internal_ip", "999.1.1.1" } };

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set_many(t, "cam", bad, 2, &err), -1);
	assert_non_null(strstr(err.msg, "internal_ip"));
	assert_string_equal(t->text, hand);
	assert_false(t->dirty);
	assert_int_equal(pp_table_set_many(t, "cam", good, 3, &err), 0);
	assert_int_equal(pp_table_find(t, "cam")->pub_lo, 9000);
	assert_int_equal(pp_table_find(t, "cam")->proto, PP_UDP);
	assert_string_equal(pp_table_find(t, "cam")->val[PP_F_OWNER], "Chen");
	pp_table_free(t);
}

static void
test_crlf_kept(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, "[site]\r\nwan_interface = eth0\r\n[a]\r\npublic_port = 80\r\n");
	t = load_path();
	assert_int_equal(t->maps[0].pub_lo, 80);
	assert_int_equal(pp_table_set(t, "a", "internal_ip", "192.168.2.9", &err), 0);
	assert_int_equal(pp_table_set(t, "a", "public_port", "81", &err), 0);
	assert_string_equal(t->text, "[site]\r\nwan_interface = eth0\r\n[a]\r\npublic_port = 81\r\ninternal_ip = 192.168.2.9\r\n");
	pp_table_free(t);
}

/* libiniparser ignores text after a closing quote; an unquoted new value must not take it in. */
static void
test_text_after_closing_quote(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, "[a]\nowner = ' '-\ndescription = \"x\" junk ; keep\n");
	t = load_path();
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], " ");
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_DESCRIPTION], "x");
	assert_int_equal(pp_table_set(t, "a", "owner", "", &err), 0);
	assert_int_equal(pp_table_set(t, "a", "description", "ops", &err), 0);
	assert_string_equal(t->text, "[a]\nowner = \ndescription = ops ; keep\n");
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], "");
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_DESCRIPTION], "ops");
	pp_table_free(t);
}

/* Every value that can be written reads back unchanged: quotes chosen to suit it. */
static void
test_values_read_back(void **state)
{
	static const char *v[] = { "\"x", "\"a b\"c", "\"\"", "''", "'x", "x'", " pad ", "a \"b\" ; c",
	                           "Camera #3; north", "plain words", "C:\\", "" };
	struct pp_table *t;
	struct pp_error err;

	put(path, "[a]\npublic_port = 80\n");
	t = load_path();
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		assert_int_equal(pp_table_set(t, "a", "owner", v[i], &err), 0);
		assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], v[i]);
	}
	pp_table_free(t);
}

/* An edit that would not read back (its line, with the old comment, too long) changes nothing. */
static void
test_edit_must_read_back(void **state)
{
	char text[1200], value[201];
	struct pp_table *t;
	struct pp_error err;

	snprintf(text, sizeof text, "[a]\npublic_port = 80\nowner = x ; %0900d\n", 0);
	memset(value, 'v', 200);
	value[200] = '\0';
	put(path, text);
	t = load_path();
	assert_int_equal(pp_table_set(t, "a", "owner", value, &err), -1);
	assert_non_null(strstr(err.msg, "owner: written into this file it would read back as nothing"));
	assert_string_equal(t->text, text);
	assert_false(t->dirty);
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], "x");
	assert_int_equal(pp_table_set(t, "a", "owner", "y", &err), 0); /* a short one fits */
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], "y");
	pp_table_free(t);
}

/* A last line ending in a lone '\r' (no '\n'): a new key still goes on a line of its own. */
static void
test_last_line_lone_cr(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, "[a]\npublic_port = 80\r");
	t = load_path();
	assert_int_equal(pp_table_set(t, "a", "owner", "ops", &err), 0);
	assert_string_equal(t->text, "[a]\npublic_port = 80\r\nowner       = ops\n");
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], "ops");
	pp_table_free(t);
}

static void
test_bad_values_refused(void **state)
{
	struct pp_table *t;
	struct pp_error err;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set(t, "web-1", "public_port", "0", &err), -1);
	assert_non_null(strstr(err.msg, "public_port"));
	assert_int_equal(pp_table_set(t, "web-1", "colour", "red", &err), -1);
	assert_int_equal(pp_table_set(t, "web-1", "description", "two\nlines", &err), -1);
	assert_int_equal(pp_table_set(t, "web-1", "description", "it's \"quoted\" ; x", &err), -1);
	assert_non_null(strstr(err.msg, "both"));
	assert_int_equal(pp_table_set(t, "nope", "owner", "x", &err), -1);
	assert_false(t->dirty);
	assert_string_equal(t->text, hand);
	pp_table_free(t);
}

/* Each failing step leaves the old file byte for byte, and no temp file behind. */
static void
test_atomic_under_failure(void **state)
{
	int *flags[] = { &fail_write, &fail_fsync, &fail_rename };

	for (size_t i = 0; i < 3; i++) {
		struct pp_table *t;
		struct pp_error err;
		char *after, *ls;

		put(path, hand);
		t = load_path();
		assert_int_equal(pp_table_set(t, "web-1", "public_port", "9999", &err), 0);
		*flags[i] = 1;
		assert_int_equal(pp_table_save(t, 100, &err), -1);
		*flags[i] = 0;
		assert_non_null(strstr(err.msg, "unchanged"));
		after = get(path);
		assert_string_equal(after, hand);
		free(after);
		ls = pp_xasprintf("test $(ls -A '%s' | grep -v -e '^mappings.ini$' -e '^mappings.ini.lock$' "
		                  "-e '^mappings.ini.bak$' | wc -l) -eq 0", dir);
		assert_int_equal(system(ls), 0);
		free(ls);
		/* and a retry then works */
		assert_int_equal(pp_table_save(t, 100, &err), 0);
		pp_table_free(t);
	}
}

static void
test_lock_contention(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *lp = pp_xasprintf("%s.lock", path), *after;
	int fd;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set(t, "web-1", "public_port", "9999", &err), 0);
	fd = open(lp, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(write(fd, "4242\n", 5), 5);
	assert_int_equal(pp_table_save(t, 60, &err), -1);
	assert_non_null(strstr(err.msg, "another editor"));
	assert_non_null(strstr(err.msg, "4242"));
	after = get(path);
	assert_string_equal(after, hand);
	free(after);
	flock(fd, LOCK_UN);
	close(fd);
	assert_int_equal(pp_table_save(t, 60, &err), 0);
	pp_table_free(t);
	free(lp);
}

static void
test_changed_on_disk(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *after;

	put(path, hand);
	t = load_path();
	assert_int_equal(pp_table_set(t, "web-1", "public_port", "9999", &err), 0);
	put(path, "; someone else\n");
	assert_int_equal(pp_table_save(t, 100, &err), -1);
	assert_non_null(strstr(err.msg, "changed on disk"));
	after = get(path);
	assert_string_equal(after, "; someone else\n");
	free(after);
	pp_table_free(t);
}

static void
test_new_file_and_mode(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	struct stat st;

	assert_int_equal(pp_table_load(path, false, &t, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(pp_table_load(path, true, &t, &err), 0);
	assert_int_equal(pp_table_set(t, "site", "wan_interface", "eth0", &err), 0);
	assert_int_equal(pp_table_add(t, "a", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	char *text = get(path);
	assert_string_equal(text, "[site]\nwan_interface = eth0\n\n[a]\n");
	free(text);
	/* a restrictive mode survives a save */
	assert_int_equal(chmod(path, 0600), 0);
	t = load_path();
	assert_int_equal(pp_table_set(t, "a", "public_port", "80", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Two sessions editing other lines: the second save makes its edit again on the first's file. */
static void
test_merge_other_lines(void **state)
{
	struct pp_table *a, *b;
	struct pp_error err;
	char *after;

	put(path, hand);
	a = load_path();
	b = load_path();
	assert_int_equal(pp_table_set(a, "web-1", "owner", "Li Wei", &err), 0);
	assert_int_equal(pp_table_set(b, "cam", "public_port", "555", &err), 0);
	assert_int_equal(pp_table_add(b, "nvr", &err), 0);
	assert_int_equal(pp_table_set(b, "nvr", "public_port", "9000", &err), 0);
	assert_int_equal(pp_table_set(b, "nvr", "internal_ip", "192.168.2.30", &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), 0);
	after = get(path);
	assert_non_null(strstr(after, "owner         = Li Wei\n"));
	assert_non_null(strstr(after, "public_port=555\n"));
	assert_non_null(strstr(after, "[nvr]\npublic_port = 9000\ninternal_ip = 192.168.2.30\n"));
	assert_non_null(strstr(after, "; the portal\n")); /* comments survive the merge */
	free(after);
	/* b's model is the merged file's, and a further save needs no merge */
	assert_string_equal(pp_table_find(b, "web-1")->val[PP_F_OWNER], "Li Wei");
	assert_int_equal(pp_table_set(b, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), 0);
	pp_table_free(a);
	pp_table_free(b);
}

/* The same key changed by both, a name added by both, a deleted mapping edited there: refused. */
static void
test_merge_real_conflicts(void **state)
{
	struct pp_table *a, *b;
	struct pp_error err;
	char *after, *before;

	put(path, hand);
	a = load_path();
	b = load_path();
	assert_int_equal(pp_table_set(a, "web-1", "public_port", "8081", &err), 0);
	assert_int_equal(pp_table_set(b, "web-1", "public_port", "8082", &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	before = get(path);
	assert_int_equal(pp_table_save(b, 100, &err), -1);
	assert_non_null(strstr(err.msg, "changed on disk"));
	assert_non_null(strstr(err.msg, "[web-1] public_port was changed there too (now '8081')"));
	after = get(path);
	assert_string_equal(after, before);
	free(after);
	free(before);
	pp_table_free(a);
	pp_table_free(b);

	/* both set the same value: nothing collides */
	put(path, hand);
	a = load_path();
	b = load_path();
	assert_int_equal(pp_table_set(a, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_set(b, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), 0);
	pp_table_free(a);
	pp_table_free(b);

	put(path, hand);
	a = load_path();
	b = load_path();
	assert_int_equal(pp_table_add(a, "nvr", &err), 0);
	assert_int_equal(pp_table_add(b, "NVR", &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), -1);
	assert_non_null(strstr(err.msg, "[NVR] was added there too"));
	pp_table_free(a);
	pp_table_free(b);

	put(path, hand);
	a = load_path();
	b = load_path();
	assert_int_equal(pp_table_set(a, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_del(b, "cam", &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), -1);
	assert_non_null(strstr(err.msg, "[cam], which this edit deletes, was changed there"));
	pp_table_free(a);
	pp_table_free(b);

	/* two new mappings on one port, each fine alone: the merge would add an error */
	put(path, hand);
	a = load_path();
	b = load_path();
	const struct pp_kv x[] = { { "public_port", "9000" }, { "internal_ip", "192.168.2.30" } };
	assert_int_equal(pp_table_add(a, "x1", &err), 0);
	assert_int_equal(pp_table_set_many(a, "x1", x, 2, &err), 0);
	assert_int_equal(pp_table_add(b, "x2", &err), 0);
	assert_int_equal(pp_table_set_many(b, "x2", x, 2, &err), 0);
	assert_int_equal(pp_table_save(a, 100, &err), 0);
	assert_int_equal(pp_table_save(b, 100, &err), -1);
	assert_non_null(strstr(err.msg, "would add 1 error"));
	after = get(path);
	assert_null(strstr(after, "[x2]"));
	free(after);
	pp_table_free(a);
	pp_table_free(b);
}

/* A symlink at FILE.lock is not followed: its target keeps its bytes, the save is refused clearly. */
static void
test_lock_symlink_not_followed(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *lp = pp_xasprintf("%s.lock", path), *victim = pp_xasprintf("%s/victim", dir), *v;

	put(path, hand);
	put(victim, "precious\n");
	assert_int_equal(symlink(victim, lp), 0);
	t = load_path();
	assert_int_equal(pp_table_set(t, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), -1);
	assert_non_null(strstr(err.msg, "is a symbolic link"));
	v = get(victim);
	assert_string_equal(v, "precious\n");
	free(v);
	v = get(path);
	assert_string_equal(v, hand);
	free(v);
	assert_int_equal(unlink(lp), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	free(lp);
	free(victim);
}

/* A symlinked table is edited in its target; the link stays a link, the backup goes beside the target. */
static void
test_symlinked_table_edited_in_place(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	struct stat st;
	char *sub = pp_xasprintf("%s/etc", dir), *link = pp_xasprintf("%s/etc/mappings.ini", dir), *v;
	char *bak = pp_xasprintf("%s.bak", path);

	put(path, hand);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(pp_table_load(link, false, &t, &err), 0);
	assert_int_equal(pp_table_set(t, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	v = get(path);
	assert_non_null(strstr(v, "internal_ip=192.168.2.20\nowner"));
	assert_non_null(strstr(v, "= Chen\n"));
	free(v);
	v = get(bak);
	assert_string_equal(v, hand);
	free(v);
	free(sub);
	free(link);
	free(bak);
}

/* A directory at FILE.bak: the save says what blocks it and how to clear it. */
static void
test_bak_directory(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *bak = pp_xasprintf("%s.bak", path), *v;

	put(path, hand);
	assert_int_equal(mkdir(bak, 0700), 0);
	t = load_path();
	assert_int_equal(pp_table_set(t, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory, where portpilot keeps the previous version"));
	assert_non_null(strstr(err.msg, "mv "));
	assert_null(strstr(err.msg, "cannot rename"));
	v = get(path);
	assert_string_equal(v, hand);
	free(v);
	pp_table_free(t);
	free(bak);
}

static pid_t
dead_pid(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	assert_int_equal(waitpid(p, NULL, 0), p);
	return p;
}

/* Temporary files of killed saves (FILE.tmp-PID-*, PID dead) go; a live owner's, links and others stay. */
static void
test_stale_temps_removed(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	struct stat st;
	char *dead = pp_xasprintf("%s.tmp-%ld-aB3xYz", path, (long)dead_pid());
	char *live = pp_xasprintf("%s.tmp-%ld-aB3xYz", path, (long)getppid());
	char *lnk = pp_xasprintf("%s.tmp-%ld-Qw3rTy", path, (long)dead_pid());
	char *other = pp_xasprintf("%s.tmp-notes", path), *target = pp_xasprintf("%s/target", dir);

	put(path, hand);
	put(dead, "half a table");
	put(live, "another save's");
	put(other, "mine");
	put(target, "target");
	assert_int_equal(symlink(target, lnk), 0);
	t = load_path();
	assert_int_equal(pp_table_set(t, "cam", "owner", "Chen", &err), 0);
	assert_int_equal(pp_table_save(t, 100, &err), 0);
	pp_table_free(t);
	assert_int_equal(lstat(dead, &st), -1);
	assert_int_equal(lstat(live, &st), 0);
	assert_int_equal(lstat(lnk, &st), 0);
	assert_int_equal(lstat(other, &st), 0);
	assert_int_equal(stat(target, &st), 0);
	free(dead);
	free(live);
	free(lnk);
	free(other);
	free(target);
}

/* The table read is bounded: a FIFO is refused at once (no writer needed), so is a huge file. */
static void
test_reads_bounded(void **state)
{
	struct pp_table *t;
	struct pp_error err;
	char *fifo = pp_xasprintf("%s/fifo.ini", dir), *big = pp_xasprintf("%s/big.ini", dir);
	int fd;

	alarm(20); /* a reader that waits for the FIFO's writer ends the test, not the suite */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(pp_table_load(fifo, false, &t, &err), -1);
	assert_non_null(strstr(err.msg, "it is a FIFO (named pipe), not a regular file"));
	assert_int_equal(pp_table_load("/dev/zero", false, &t, &err), -1);
	assert_non_null(strstr(err.msg, "character device"));
	fd = open(big, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)PP_TABLE_MAX + 1), 0); /* sparse: no disk used */
	close(fd);
	assert_int_equal(pp_table_load(big, false, &t, &err), -1);
	assert_non_null(strstr(err.msg, "larger than 64 MiB"));
	alarm(0);
	free(fifo);
	free(big);
}

/* A secret behind a link to a file others may read: the fix names the real file, never the link. */
static void
test_secret_link_fix_names_target(void **state)
{
	struct pp_error err;
	char *real = pp_xasprintf("%s/shadow", dir), *link = pp_xasprintf("%s/ddns.secret", dir);
	char *bad = pp_xasprintf("chmod 600 %s", link), *good = pp_xasprintf("chmod 600 %s", real);
	char *big = pp_xasprintf("%s/big.secret", dir);
	int fd;

	put(real, "root:x:0:0\n");
	assert_int_equal(chmod(real, 0640), 0);
	assert_int_equal(symlink(real, link), 0);
	assert_null(pp_secret_read(link, "credentials file", NULL, &err));
	assert_null(strstr(err.msg, bad));
	assert_non_null(strstr(err.msg, "is a symbolic link to"));
	assert_non_null(strstr(err.msg, good));
	assert_null(strstr(err.msg, "root:x")); /* never the content */
	fd = open(big, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)PP_SECRET_MAX + 1), 0);
	close(fd);
	assert_null(pp_secret_read(big, "credentials file", NULL, &err));
	assert_non_null(strstr(err.msg, "larger than 64 KiB"));
	free(real);
	free(link);
	free(bad);
	free(good);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_changes_only_the_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_key_follows_neighbour, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_del_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_many_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_line_lone_cr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_must_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_after_closing_quote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_under_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_contention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_file_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_other_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_real_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_symlink_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_table_edited_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bak_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_link_fix_names_target, setup, teardown),
		/* last: on a reader without bounds the FIFO blocks, and the alarm ends the binary */
		cmocka_unit_test_setup_teardown(test_reads_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
