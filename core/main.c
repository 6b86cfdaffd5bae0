/* portpilot's entry: global options, then the subcommand (or the TUI when there is none). */
#include <ctype.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/cli-opts.h"
#include "portpilot/table.h"
#include "portpilot/tui.h"
#include "portpilot/util.h"

/* The commands nearest to a mistyped one as "a or b", empty when none is close: at most
   two edits, and fewer than half the word's letters, so that "xyz" suggests nothing. */
static void
suggest(const char *word, char *out, size_t n)
{
	size_t best = 3, len = strlen(word), used = 0, ncommands;
	const struct pp_cmd *commands = pp_commands(&ncommands);

	*out = '\0';
	for (size_t c = 0; c < ncommands; c++) {
		size_t d = pp_near_distance(word, commands[c].name);
		if (commands[c].summary && d < best && 2 * d < len)
			best = d;
	}
	for (size_t c = 0; c < ncommands && best < 3; c++)
		if (commands[c].summary && pp_near_distance(word, commands[c].name) == best)
			used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%s", used ? " or " : "",
			                         commands[c].name);
}

static int
unknown_command(const struct pp_cli *cli, const char *word)
{
	char near[128], msg[256];

	suggest(word, near, sizeof near);
	snprintf(msg, sizeof msg, "unknown command '%s'%s%s%s", word, *near ? ": did you mean " : "", near,
	         *near ? "?" : "");
	fprintf(stderr, "portpilot: %s\n", msg);
	if (cli->json) {
		/* A program reading stdout gets the outcome too, not an empty stream. */
		fputs("{\"error\":", stdout);
		pp_json_str(stdout, msg);
		fprintf(stdout, ",\"exit_code\":%d}\n", PP_EXIT_USAGE);
	} else if (*near == '\0') {
		pp_usage(stderr);
	} else {
		fputs("(see: portpilot --help)\n", stderr);
	}
	return PP_EXIT_USAGE;
}

/*
 * --json: every outcome is one JSON object on stdout, errors included. Commands
 * print errors as text to cli->err (for a person reading the terminal, kept); here
 * those are also kept and, when the command put nothing on stdout, turned into
 * {"error":...,"exit_code":N}. A command's text output under --json (help, a
 * command without a JSON form) is wrapped as {"output":...} instead of mixed in.
 */
struct capture {
	FILE *pass;             /* written through to this stream as well, or NULL */
	struct pp_buf keep;     /* the first max bytes */
	size_t max, total;
};

static ssize_t
capture_write(void *cookie, const char *p, size_t n)
{
	struct capture *c = cookie;

	if (c->pass && (fwrite(p, 1, n, c->pass) != n || fflush(c->pass) != 0))
		return -1;
	if (c->keep.len < c->max)
		pp_buf_add(&c->keep, p, n < c->max - c->keep.len ? n : c->max - c->keep.len);
	c->total += n;
	return (ssize_t)n;
}

/*
 * Commands that print as they go (live reports, services, the monitor's events) or print
 * one JSON object per record (log): their stdout is not held back, and an empty stream with exit 0 stays
 * empty (no records); only a failure that printed nothing gets the error object.
 */
static bool
streams(int argc, char **argv)
{
	if (strcmp(argv[0], "watch") == 0 || strcmp(argv[0], "reflector") == 0 || strcmp(argv[0], "tui") == 0 ||
	    strcmp(argv[0], "complete") == 0 || strcmp(argv[0], "log") == 0 || strcmp(argv[0], "monitor") == 0 ||
	    strcmp(argv[0], "watch6") == 0)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[0], "ddns") == 0 && strcmp(argv[i], "run") == 0)
			return true;
	return false;
}

/* The lines of text as a JSON array, without empty ones. */
static void
json_lines(FILE *f, const char *text, size_t len)
{
	bool first = true;

	fputc('[', f);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - text) - i : len - i;
		if (n > 0) {
			char *line = pp_xstrndup(text + i, n);
			fputs(first ? "" : ",", f);
			pp_json_str(f, line);
			free(line);
			first = false;
		}
		i += n + 1;
	}
	fputc(']', f);
}

/* A line that goes on the message before it (a wrapped sentence), not a new one. */
static bool
continues(const char *l, size_t n)
{
	return n > 0 && strncmp(l, "portpilot", 9) != 0 && l[0] != '(' && !isspace((unsigned char)l[0]) &&
	       !memmem(l, n, ": error: ", 9) && !memmem(l, n, ": warning: ", 11);
}

/*
 * The error a person would read first: the last "portpilot CMD: ..." line, without
 * that prefix, with the lines that continue its sentence.
 */
static char *
main_error(const char *text, size_t len)
{
	const char *best = NULL, *end = NULL;
	struct pp_buf b = { 0 };

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i), *l = text + i;
		size_t n = nl ? (size_t)(nl - l) : len - i;
		if ((n > 10 && strncmp(l, "portpilot", 9) == 0) || (best == NULL && n > 0)) {
			best = l;
			end = l + n;
		}
		i += n + 1;
	}
	if (best == NULL)
		return NULL;
	if (strncmp(best, "portpilot", 9) == 0) {
		const char *colon = memchr(best, ':', (size_t)(end - best));
		if (colon && colon + 2 <= end)
			best = colon + 2;
	}
	pp_buf_add(&b, best, (size_t)(end - best));
	for (const char *l = end + 1; l < text + len;) {
		const char *nl = memchr(l, '\n', (size_t)(text + len - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(text + len - l);
		if (!continues(l, n))
			break;
		pp_buf_add(&b, " ", 1);
		pp_buf_add(&b, l, n);
		l += n + 1;
	}
	pp_buf_add(&b, "", 1);
	return b.data;
}

/* The one object for an outcome that printed no JSON itself. */
static void
json_outcome(FILE *f, const char *cmd, const char *file, int rc, const struct capture *out,
             const struct capture *err)
{
	char *msg = main_error(err->keep.data ? err->keep.data : "", err->keep.len);

	fputc('{', f);
	if (rc != PP_EXIT_OK) {
		fputs("\"error\":", f);
		pp_json_str(f, msg ? msg : "failed without a message");
		fputc(',', f);
	}
	if (cmd) {
		fputs("\"command\":", f);
		pp_json_str(f, cmd);
		fputc(',', f);
	}
	if (file) {
		fputs("\"file\":", f);
		pp_json_str(f, file);
		fputc(',', f);
	}
	if (err->keep.len) {
		fputs("\"messages\":", f);
		json_lines(f, err->keep.data, err->keep.len);
		fputc(',', f);
	}
	if (out && out->keep.len) {
		fputs("\"output\":", f);
		json_lines(f, out->keep.data, out->keep.len);
		fputc(',', f);
	}
	fprintf(f, "\"exit_code\":%d}\n", rc);
	free(msg);
}

/* Run a command; with --json make sure its outcome is one JSON object on stdout. */
static int
run(struct pp_cli *cli, const struct pp_cmd *cmd, int argc, char **argv)
{
	static const cookie_io_functions_t io = { .write = capture_write };
	bool live = streams(argc, argv);
	struct capture out = { .pass = live ? stdout : NULL, .max = live ? 0 : (size_t)-1 };
	struct capture err = { .pass = stderr, .max = 16384 };
	const char *file = strcmp(cmd->name, "ddns") == 0 ? cli->conf_path
	                   : strcmp(cmd->name, "reflector") == 0 || strcmp(cmd->name, "edge") == 0 ? NULL
	                   : cli->table_path;
	int rc;

	if (!cli->json)
		return pp_cmd_call(cli, cmd, argc, argv);
	cli->out = fopencookie(&out, "w", io);
	cli->err = fopencookie(&err, "w", io);
	if (cli->out == NULL || cli->err == NULL) {
		if (cli->out)
			fclose(cli->out);
		if (cli->err)
			fclose(cli->err);
		cli->out = stdout;
		cli->err = stderr;
		return pp_cmd_call(cli, cmd, argc, argv);
	}
	setvbuf(cli->out, NULL, live ? _IOLBF : _IOFBF, 0);
	setvbuf(cli->err, NULL, _IOLBF, 0);
	rc = pp_cmd_call(cli, cmd, argc, argv);
	fclose(cli->out);
	fclose(cli->err);
	cli->out = stdout;
	cli->err = stderr;
	if (live) {
		if (out.total == 0 && rc != PP_EXIT_OK)
			json_outcome(stdout, cmd->name, file, rc, NULL, &err);
	} else {
		size_t i = 0;
		while (i < out.keep.len && strchr(" \t\r\n", out.keep.data[i]))
			i++;
		if (i < out.keep.len && out.keep.data[i] == '{')
			fwrite(out.keep.data, 1, out.keep.len, stdout); /* the command's own JSON */
		else
			json_outcome(stdout, cmd->name, file, rc, &out, &err);
	}
	fflush(stdout);
	pp_buf_free(&out.keep);
	pp_buf_free(&err.keep);
	return rc;
}

/* Remove argv[i] (and n-1 followers) from the vector. */
static void
drop(int *argc, char **argv, int i, int n)
{
	memmove(&argv[i], &argv[i + n], (size_t)(*argc - i - n + 1) * sizeof *argv);
	*argc -= n;
}

/* The global options by their spec (core/cli-commands.c) into cli; an error (exit 2) is
   text on stderr and, with --json, an object on stdout. Returns the index of the command
   word (argc: none), or -1 - the exit code when main is done. */
static int
global_options(struct pp_cli *cli, int argc, char **argv)
{
	static const cookie_io_functions_t io = { .write = capture_write };
	struct capture err = { .pass = stderr, .max = 16384 };
	FILE *e = cli->json ? fopencookie(&err, "w", io) : NULL;
	struct pp_args a;
	int rc;

	if (e)
		setvbuf(e, NULL, _IOLBF, 0);
	cli->err = e ? e : stderr;
	rc = pp_args_parse(cli, NULL, &pp_spec_global, argc, argv, &a);
	if (e)
		fclose(e);
	cli->err = stderr;
	if (rc > 0 && e)
		json_outcome(stdout, NULL, NULL, rc, NULL, &err);
	pp_buf_free(&err.keep);
	if (rc > 0)
		return -1 - rc;
	cli->args = &a;
	if (pp_opt(cli, "help"))
		pp_usage(stdout);
	else if (pp_opt(cli, "version"))
		printf("portpilot %s\n", PP_VERSION);
	cli->table_path = pp_opt(cli, "f") ? pp_opt(cli, "f") : cli->table_path;
	cli->conf_path = pp_opt(cli, "c") ? pp_opt(cli, "c") : cli->conf_path;
	cli->state_dir = pp_opt(cli, "state-dir") ? pp_opt(cli, "state-dir") : cli->state_dir;
	rc = pp_opt(cli, "help") || pp_opt(cli, "version") ? -1 - PP_EXIT_OK : a.next;
	cli->args = NULL;
	return rc;
}

int
main(int argc, char **argv)
{
	struct pp_cli cli = {
		.table_path = PP_DEFAULT_TABLE,
		.conf_path = PP_DEFAULT_CONF,
		.state_dir = PP_DEFAULT_STATE,
		.out = stdout,
		.err = stderr,
	};
	int i;

	setlocale(LC_ALL, "");
	for (int j = 1; j < argc;)
		if (strcmp(argv[j], "--json") == 0)
			drop(&argc, argv, j, 1), cli.json = true;
		else
			j++;
	if ((i = global_options(&cli, argc, argv)) < 0)
		return -1 - i;
	pp_table_check_conf(cli.conf_path);
	if (i >= argc && cli.json) {
		/* The editor cannot run (no terminal, say): that outcome is an object too. */
		char *tv[] = { "tui", NULL };
		return run(&cli, pp_command_find("tui"), 1, tv);
	}
	if (i >= argc)
		return pp_tui_run(&cli);
	if (pp_command_find(argv[i]))
		return run(&cli, pp_command_find(argv[i]), argc - i, argv + i);
	return unknown_command(&cli, argv[i]);
}
