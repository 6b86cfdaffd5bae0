/* The one option parser of every subcommand (core/cli-opts.c), on a spec of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/cli-opts.h"

static const struct pp_opt opts[] = {
	{ "dry-run", 0, NULL, "only show" },
	{ "confirm", 0, "SECONDS", "roll back after SECONDS" },
	{ NULL, 'o', "FILE", "write to FILE" },
	{ "list", 0, "=man", "list (=man: roff)" },
	{ "secret", 0, NULL, NULL },
	{ 0 },
};
static const struct pp_cmd_spec spec = {
	.args = "NAME [KEY=VALUE...]", .min = 1, .max = 2, .opts = opts, .missing = "which mapping?",
};
static const struct pp_cmd_spec words = {
	.args = "up|down", .min = 1, .max = 1, .words = "up down", .opts = opts,
};

static char errbuf[4096];

/* Parse the words of line (space-separated) by sp as command cmd (NULL: the global options);
   the error text goes to errbuf. */
static int
parse_as(const char *cmd, const struct pp_cmd_spec *sp, const char *line, struct pp_args *a, char ***keep)
{
	static char copy[512];
	char **argv = calloc(32, sizeof *argv);
	int argc = 0, rc;
	struct pp_cli cli = { .err = fmemopen(errbuf, sizeof errbuf, "w") };

	snprintf(copy, sizeof copy, "%s", line);
	for (char *w = strtok(copy, " "); w; w = strtok(NULL, " "))
		argv[argc++] = w;
	rc = pp_args_parse(&cli, cmd, sp, argc, argv, a);
	fclose(cli.err);
	*keep = argv;
	return rc;
}

static int
parse(const struct pp_cmd_spec *sp, const char *line, struct pp_args *a, char ***keep)
{
	return parse_as("apply", sp, line, a, keep);
}

static const char *
opt(const struct pp_args *a, const char *name)
{
	struct pp_cli cli = { .args = a };
	return pp_opt(&cli, name);
}

static void
test_options_and_positionals(void **state)
{
	struct pp_args a;
	char **argv;

	(void)state;
	assert_int_equal(parse(&spec, "apply web-1 --dry-run --confirm 30 -o out.txt k=v", &a, &argv), 0);
	assert_string_equal(opt(&a, "dry-run"), "");
	assert_string_equal(opt(&a, "confirm"), "30");
	assert_string_equal(opt(&a, "o"), "out.txt");
	assert_null(opt(&a, "list"));
	assert_null(opt(&a, "nosuch"));
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[0], "apply");
	assert_string_equal(a.pos[1], "web-1");
	assert_string_equal(a.pos[2], "k=v");
	assert_null(a.pos[3]);
	free(argv);
	/* --opt=VALUE, an optional value, and -- ending the options */
	assert_int_equal(parse(&spec, "apply --confirm=9 --list -- -x", &a, &argv), 0);
	assert_string_equal(opt(&a, "confirm"), "9");
	assert_string_equal(opt(&a, "list"), "");
	assert_string_equal(a.pos[1], "-x");
	free(argv);
	assert_int_equal(parse(&spec, "apply n --list=man --secret", &a, &argv), 0);
	assert_string_equal(opt(&a, "list"), "man");
	assert_string_equal(opt(&a, "secret"), "");
	free(argv);
	/* a value that looks like an option is the value */
	assert_int_equal(parse(&spec, "apply n -o -dash", &a, &argv), 0);
	assert_string_equal(opt(&a, "o"), "-dash");
	free(argv);
}

static void
test_errors_name_the_option_and_the_fix(void **state)
{
	struct pp_args a;
	char **argv;

	(void)state;
	assert_int_equal(parse(&spec, "apply n --confrim 3", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot apply: unknown option --confrim; did you mean --confirm? "
	                            "(portpilot apply --help)\n");
	free(argv);
	assert_int_equal(parse(&spec, "apply n --bogus", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot apply: unknown option --bogus (portpilot apply --help)\n");
	free(argv);
	assert_int_equal(parse(&spec, "apply n --confirm", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot apply: --confirm needs a value: --confirm SECONDS "
	                            "(portpilot apply --help)\n");
	free(argv);
	assert_int_equal(parse(&spec, "apply n --dry-run=yes", &a, &argv), PP_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "takes no value: --dry-run=yes"));
	free(argv);
	assert_int_equal(parse(&spec, "apply", &a, &argv), PP_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "portpilot apply: which mapping? (usage: portpilot apply NAME"));
	free(argv);
	assert_int_equal(parse(&spec, "apply a b c", &a, &argv), PP_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "unexpected argument 'c'"));
	free(argv);
	assert_int_equal(parse(&words, "apply dwon", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot apply: unknown 'dwon' (say one of: up down); did you mean down? "
	                            "(portpilot apply --help)\n");
	free(argv);
	assert_int_equal(parse(&words, "apply up", &a, &argv), 0);
	free(argv);
}

static void
test_help(void **state)
{
	struct pp_args a;
	char **argv, buf[2048];
	FILE *f = fmemopen(buf, sizeof buf, "w");

	(void)state;
	/* -h anywhere asks for the help, even after an unknown option */
	assert_int_equal(parse(&spec, "apply --bogus -h", &a, &argv), -1);
	free(argv);
	pp_spec_help(f, "apply", &spec);
	fclose(f);
	/* folded at 80 columns, going on under the options */
	assert_non_null(strstr(buf, "usage: portpilot apply NAME [KEY=VALUE...] [--dry-run] [--confirm SECONDS]\n"
	                            "       [-o FILE]"));
	assert_non_null(strstr(buf, "\n  --confirm SECONDS    roll back after SECONDS\n"));
	assert_non_null(strstr(buf, "\n  --list[=man]         list (=man: roff)\n"));
	assert_null(strstr(buf, "secret")); /* no help text: hidden */
}

static void
test_the_table(void **state)
{
	size_t n;
	const struct pp_cmd *c = pp_commands(&n);

	(void)state;
	assert_true(n >= 25);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(c[i].spec);
		for (const struct pp_opt *o = c[i].spec->opts; o && (o->name || o->letter); o++)
			assert_true(o - c[i].spec->opts < PP_OPTS_MAX);
	}
	assert_ptr_equal(pp_command_find("apply")->spec, &pp_spec_apply);
	assert_null(pp_command_find("nosuch"));
}

/* The global options: parsed by their spec up to the command word, which ends them. */
static void
test_global_options(void **state)
{
	struct pp_args a;
	char **argv, buf[1024];
	FILE *f;

	(void)state;
	assert_int_equal(parse_as(NULL, &pp_spec_global, "portpilot -f t.ini --state-dir=/s list --bogus -h", &a, &argv), 0);
	assert_int_equal(a.next, 4);
	assert_string_equal(argv[a.next], "list");
	assert_string_equal(opt(&a, "f"), "t.ini");
	assert_string_equal(opt(&a, "state-dir"), "/s");
	assert_null(opt(&a, "help")); /* the command's -h, not portpilot's */
	free(argv);
	assert_int_equal(parse_as(NULL, &pp_spec_global, "portpilot -c x.conf", &a, &argv), 0);
	assert_int_equal(a.next, 3); /* no command */
	assert_string_equal(opt(&a, "c"), "x.conf");
	free(argv);
	assert_int_equal(parse_as(NULL, &pp_spec_global, "portpilot -h list", &a, &argv), 0);
	assert_string_equal(opt(&a, "help"), "");
	free(argv);
	assert_int_equal(parse_as(NULL, &pp_spec_global, "portpilot --stat-dir /s list", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot: unknown option --stat-dir; did you mean --state-dir? (portpilot --help)\n");
	free(argv);
	assert_int_equal(parse_as(NULL, &pp_spec_global, "portpilot -f", &a, &argv), PP_EXIT_USAGE);
	assert_string_equal(errbuf, "portpilot: -f needs a value: -f TABLE (portpilot --help)\n");
	free(argv);
	/* the usage line: the options, then the command */
	f = fmemopen(buf, sizeof buf, "w");
	pp_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "usage: portpilot [-f TABLE] [-c CONF] [--state-dir DIR] [--json] [--help]\n"
	                            "       [--version] [COMMAND [ARGS]]\n"));
	assert_non_null(strstr(buf, "\n  -h, --help        this help"));
}

static int called;
static int
fn(struct pp_cli *cli, int argc, char **argv)
{
	(void)argc, (void)argv;
	called++;
	return pp_opt(cli, "json") ? 7 : 0;
}

/* --json (taken by main.c from anywhere on the line): the command's json row, or a refusal. */
static void
test_json(void **state)
{
	static const struct pp_opt jopts[] = { PP_OPT_JSON, { 0 } };
	static const struct pp_cmd_spec with = { .opts = jopts }, without = { .opts = opts },
	                                with_why = { .opts = opts, .no_json = "it is a service; drop --json" };
	const struct pp_cmd a = { "a", fn, "x", &with }, b = { "b", fn, "x", &without }, c = { "c", fn, "x", &with_why };
	char *argv[] = { "a", NULL };
	struct pp_cli cli = { .json = true };

	(void)state;
	called = 0;
	cli.err = fmemopen(errbuf, sizeof errbuf, "w");
	assert_int_equal(pp_cmd_call(&cli, &a, 1, argv), 7); /* the row reads as given */
	assert_int_equal(pp_cmd_call(&cli, &b, 1, argv), PP_EXIT_USAGE);
	fclose(cli.err);
	assert_int_equal(called, 1);
	assert_string_equal(errbuf, "portpilot b: --json: b has no JSON output; drop --json (portpilot b --help)\n");
	cli.err = fmemopen(errbuf, sizeof errbuf, "w");
	assert_int_equal(pp_cmd_call(&cli, &c, 1, argv), PP_EXIT_USAGE);
	fclose(cli.err);
	assert_string_equal(errbuf, "portpilot c: --json: it is a service; drop --json (portpilot c --help)\n");
	cli.json = false;
	assert_int_equal(pp_cmd_call(&cli, &b, 1, argv), 0);
	assert_int_equal(called, 2);
	/* the real table: the commands that print JSON declare it, the text-only ones not */
	for (const char *w = "check list export add set del enable disable apply confirm rollback status probe "
	                     "watch log ddns monitor health relay edge init"; *w; ) {
		char name[16];
		size_t n = strcspn(w, " ");
		const struct pp_opt *o;
		snprintf(name, sizeof name, "%.*s", (int)n, w);
		for (o = pp_command_find(name)->spec->opts; o->name || o->letter; o++)
			if (o->name && strcmp(o->name, "json") == 0)
				break;
		assert_non_null(o->name);
		assert_non_null(o->help); /* shown: in --help, the man page, the completion */
		w += n + (w[n] == ' ');
	}
	for (const char *const *w = (const char *const[]){ "tui", "watch6", "reflector", NULL }; *w; w++)
		for (const struct pp_opt *o = pp_command_find(*w)->spec->opts; o->name || o->letter; o++)
			assert_false(o->name && strcmp(o->name, "json") == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_and_positionals),
		cmocka_unit_test(test_errors_name_the_option_and_the_fix),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_the_table),
		cmocka_unit_test(test_global_options),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
