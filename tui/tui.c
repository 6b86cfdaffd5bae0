/* The TUI's entry: refuse without a terminal, load the table, run the screens, restore the terminal. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portpilot/cli-opts.h"
#include "portpilot/tui.h"
#include "portpilot/util.h"
#include "tui-internal.h"

#define LOCK_WAIT_MS 3000

volatile sig_atomic_t tui_signal;

static void
on_signal(int sig)
{
	tui_signal = sig;
}

/* No SA_RESTART: a pending read returns so the loop sees the flag at once. */
static void
catch_signals(struct sigaction *old)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, &old[i]);
}

static void
restore_signals(const struct sigaction *old)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &old[i], NULL);
}

/* Remember the file's identity so a change by someone else can be noticed cheaply. */
static struct stat disk;

static void
remember_disk(struct tui *t)
{
	if (stat(t->path, &disk) < 0)
		memset(&disk, 0, sizeof disk);
	t->disk_changed = false;
}

bool
tui_file_changed(struct tui *t)
{
	struct stat st;
	size_t len;
	char *now;
	bool changed;

	if (stat(t->path, &st) < 0)
		return t->table->existed;
	if (st.st_size == disk.st_size && st.st_mtim.tv_sec == disk.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == disk.st_mtim.tv_nsec && st.st_ino == disk.st_ino)
		return t->disk_changed;
	now = pp_read_file(t->path, &len);
	changed = now == NULL || len != t->table->loaded_len ||
	          memcmp(now, t->table->loaded, len) != 0;
	free(now);
	if (!changed)
		disk = st;                    /* touched, same bytes */
	return changed;
}

static void
changed_answer(struct tui *t, int key, void *ctx)
{
	(void)ctx;
	if (key == 'r')
		tui_reload(t);
}

int
tui_save(struct tui *t)
{
	struct pp_error err;
	bool existed = t->table->existed;

	if (tui_file_changed(t)) {
		t->disk_changed = true;
		tui_push(t, tui_prompt_panel("File changed on disk",
		         "The file was changed on disk since it was loaded,\n"
		         "so saving would overwrite someone else's change.\n\n"
		         "c cancel (keep editing)    r reload from disk (drops your edits)",
		         "cr", changed_answer, NULL));
		return -1;
	}
	if (pp_table_save(t->table, LOCK_WAIT_MS, &err) < 0) {
		tui_message(t, TR_ERROR, "Not saved: %s", err.msg);
		tui_logf(t, "save failed: %s", err.msg);
		return -1;
	}
	remember_disk(t);                 /* edited rows stay "pending" until applied */
	tui_view_rebuild(t);
	if (existed)
		tui_message(t, TR_OK, "Saved %s (previous version in %s.bak).", t->path, t->path);
	else
		tui_message(t, TR_OK, "Saved %s (a new file).", t->path);
	tui_logf(t, "saved %s", t->path);
	return 0;
}

int
tui_reload(struct tui *t)
{
	struct pp_table *nt;
	struct pp_error err;

	if (pp_table_load(t->path, true, &nt, &err) < 0) {
		tui_message(t, TR_ERROR, "Not reloaded: %s", err.msg);
		return -1;
	}
	pp_table_free(t->table);
	t->table = nt;
	for (size_t i = 0; i < t->nedited; i++)
		free(t->edited[i]);
	t->nedited = 0;
	remember_disk(t);
	tui_view_rebuild(t);
	tui_message(t, TR_OK, "Reloaded %s from disk.", t->path);
	tui_logf(t, "reloaded %s", t->path);
	return 0;
}

static void
tui_free(struct tui *t)
{
	while (t->depth > 0) {
		t->depth--;
		t->stack[t->depth]->free(t->stack[t->depth]);
	}
	tui_view_free(&t->view);
	for (size_t i = 0; i < t->nedited; i++)
		free(t->edited[i]);
	free(t->edited);
	for (size_t i = 0; i < t->nlog; i++)
		free(t->log[i]);
	pp_table_free(t->table);
	free(t->path);
	tui_live_free();
	tui_health_free();
	tui_ddns_free();
	if (t->trace_fd >= 0)
		close(t->trace_fd);
}

static bool
env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

static int
run(struct tui *t, struct tui_draw_opts *o)
{
	struct sigaction old[4];
	struct pp_error err;
	int rc;

	catch_signals(old);
	if (tui_draw_open(o, &err) < 0) {
		restore_signals(old);
		fprintf(t->cli->err, "portpilot: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	t->ascii = o->ascii;
	t->mono = o->mono;
	tui_push(t, tui_table_panel());
	t->view.sort = C_NAME;
	tui_view_rebuild(t);
	tui_trace(t, "view", 0, &t->t0);
	tui_logf(t, "opened %s (%zu mappings)", t->path, t->table->n);
	/* A wrapper (the lab demo) may leave the engineer a hint; the TUI knows nothing of it. */
	if (getenv("PORTPILOT_HINT") && getenv("PORTPILOT_HINT")[0])
		tui_message(t, TR_KEY, "%s", getenv("PORTPILOT_HINT"));
	rc = tui_loop(t);
	tui_draw_close();
	restore_signals(old);
	if (rc < 0) {
		fprintf(t->cli->err, "portpilot: stopped by signal %d%s\n", (int)tui_signal,
		        t->table->dirty ? "; unsaved changes were dropped" : "");
		return PP_EXIT_FAIL;
	}
	return PP_EXIT_OK;
}

int
pp_tui_main(struct pp_cli *cli, const struct pp_tui_opts *opts)
{
	struct tui t;
	struct tui_draw_opts o = { .ascii = opts->ascii, .mono = opts->no_color };
	struct pp_error err;
	int rc;

	memset(&t, 0, sizeof t);
	clock_gettime(CLOCK_MONOTONIC, &t.t0);
	t.trace_fd = -1;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(cli->err, "portpilot: the full-screen editor needs a terminal (stdin and stdout "
		        "are not both a tty);\nin scripts use the commands instead, e.g. "
		        "portpilot -f %s list (see portpilot --help)\n", cli->table_path);
		return PP_EXIT_USAGE;
	}
	if (env_set("NO_COLOR"))
		o.mono = true;
	if (env_set("PP_TUI_TRACE"))
		t.trace_fd = open(getenv("PP_TUI_TRACE"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (pp_table_load(cli->table_path, true, &t.table, &err) < 0) {
		fprintf(cli->err, "portpilot: %s\n", err.msg);
		if (t.trace_fd >= 0)
			close(t.trace_fd);
		return PP_EXIT_USAGE;
	}
	tui_trace(&t, "load", 0, &t.t0);
	t.cli = cli;
	t.path = pp_xstrdup(cli->table_path);
	remember_disk(&t);
	tui_signal = 0;
	if (opts->offline)
		tui_live_offline();
	rc = run(&t, &o);
	tui_free(&t);
	return rc;
}

int
pp_tui_run(struct pp_cli *cli)
{
	struct pp_tui_opts o = { 0 };

	return pp_tui_main(cli, &o);
}

static void
tui_more(FILE *f)
{
	fputs("Keys: F1 or ? inside.\n", f);
}

static const struct pp_opt tui_opts[] = {
	{ "ascii", 0, NULL, "ASCII line drawing (automatic when the locale is not UTF-8)" },
	{ "no-color", 0, NULL, "monochrome (also when NO_COLOR is set)" },
	{ "offline", 0, NULL, "edit only: never read or change the kernel's rules" },
	{ "no-colour", 0, NULL, NULL },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_tui = {
	.globals = "[-f TABLE]", .opts = tui_opts, .more = tui_more,
	.no_json = "the full-screen editor needs a terminal and has no JSON output;\n"
	           "in scripts use the commands instead, e.g. portpilot list --json",
	.doc = "The full-screen editor (also what portpilot with no command opens).\n",
};

int
pp_cmd_tui(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_tui_opts o = { 0 };

	(void)argc, (void)argv;
	o.ascii = pp_opt(cli, "ascii") != NULL;
	o.no_color = pp_opt(cli, "no-color") || pp_opt(cli, "no-colour");
	o.offline = pp_opt(cli, "offline") != NULL;
	return pp_tui_main(cli, &o);
}
