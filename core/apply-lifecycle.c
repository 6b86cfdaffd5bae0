/* apply / confirm / rollback: test, snapshot, one transaction, a detached rollback timer, persistence. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply-internal.h"
#include "portpilot/util.h"

void
pp_apply_render_opts(const struct pp_table *t, const struct pp_backend *b, struct pp_render_opts *o)
{
	memset(o, 0, sizeof *o);
	o->now = time(NULL);
	o->docker_user = b->docker_user;
	if (t->site.has_lan_subnet) {
		o->lan = t->site.lan_subnet;
		o->have_lan = true;
	} else if (pp_iface_subnet(t->site.val[PP_S_LAN_INTERFACE], &o->lan) == 0) {
		o->have_lan = true;
	}
	const char *leaf = getenv("PORTPILOT_LEAF_MAX"); /* benches compare layouts */
	if (leaf && strcmp(leaf, "linear") == 0)
		o->leaf_max = SIZE_MAX;
	else if (leaf)
		o->leaf_max = (size_t)atoi(leaf);
}

/* Test, then write, the move from live to want; flush the flows of changed mappings. */
static int
move_to(const struct pp_backend *b, const struct pp_plan *p, bool tested, struct pp_error *err)
{
	if (!p->restore)
		return 0;
	if (!tested && pp_backend_restore(b, p->restore, true, err) < 0)
		return -1;
	if (pp_backend_restore(b, p->restore, false, err) < 0)
		return -1;
	if (p->nflush)
		pp_conntrack_flush(p->flush, p->nflush);
	return 0;
}

/* Bring the kernel back to the rules in text (a snapshot); used on failure and by rollback. */
static int
restore_text(struct pp_backend *b, const char *text, struct pp_error *err)
{
	struct pp_ruleset want;
	struct pp_live live;
	if (pp_ruleset_parse(text, &want, err) < 0)
		return -1;
	if (pp_backend_read(b, &live, err) < 0) {
		pp_ruleset_free(&want);
		return -1;
	}
	struct pp_plan p;
	pp_plan_make(&want, &live.own, &p);
	int rc = move_to(b, &p, false, err);
	pp_plan_free(&p);
	pp_live_free(&live);
	pp_ruleset_free(&want);
	return rc;
}

/* Start the rollback timer: a grandchild in its own session, deaf to SIGHUP, stdio on /dev/null. */
static pid_t
spawn_timer(struct pp_cli *cli, const char *id)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		setsid();
		pid_t g = fork();
		if (g != 0) {
			if (write(pfd[1], &g, sizeof g) < 0)
				_exit(1);
			_exit(0);
		}
		signal(SIGHUP, SIG_IGN);
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (chdir("/") < 0)
			_exit(1);
		char *argv[] = { "portpilot", "--state-dir", (char *)cli->state_dir, "rollback", "--timer",
		                 (char *)id, NULL };
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(pfd[1]);
	pid_t g = -1;
	if (read(pfd[0], &g, sizeof g) != sizeof g)
		g = -1;
	close(pfd[0]);
	waitpid(c, NULL, 0);
	return g;
}

static void
print_findings(struct pp_cli *cli, const struct pp_findings *fs)
{
	if (fs->n == 0)
		return;
	if (cli->json)
		pp_findings_json(cli->err, cli->table_path, fs);
	else
		pp_findings_print(cli->err, cli->table_path, fs);
}

/* Remove the rules of mappings the table says have expired. */
static int
drop_expired(struct pp_cli *cli, struct pp_ruleset *rs, struct pp_error *err)
{
	struct pp_table *t;
	if (pp_table_load(cli->table_path, false, &t, err) < 0)
		return -1;
	time_t now = time(NULL);
	for (size_t i = 0; i < t->n; i++) {
		if (!pp_mapping_expired(&t->maps[i], now))
			continue;
		char *tag = pp_rule_tag(t->maps[i].name);
		char *needle = pp_xasprintf("--comment \"%s\" ", tag);
		for (size_t c = 0; c < rs->n; c++) {
			struct pp_chain *ch = &rs->chains[c];
			size_t k = 0;
			for (size_t r = 0; r < ch->n; r++) {
				if (strstr(ch->rules[r], needle))
					free(ch->rules[r]);
				else
					ch->rules[k++] = ch->rules[r];
			}
			ch->n = k;
		}
		free(needle);
		free(tag);
	}
	pp_table_free(t);
	return 0;
}

/* The target ruleset: the table rendered, or the persisted ruleset at boot. */
static int
want_ruleset(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_backend *b,
             struct pp_ruleset *want, struct pp_table **tp, struct pp_error *err)
{
	if (o->restore_persisted || o->expire_only) {
		char *s = pp_state_read(cli->state_dir, PP_ST_CONFIRMED);
		if (!s)
			return pp_error_set(err, "%s/%s: nothing persisted yet (apply and confirm first)",
			                    cli->state_dir, PP_ST_CONFIRMED);
		int rc = pp_ruleset_parse(s, want, err);
		free(s);
		/* Docker may not be up yet at boot: its hook waits for the next apply. */
		if (rc == 0 && !b->docker_user) {
			struct pp_chain *h = &want->hooks[PP_FILTER];
			size_t k = 0;
			for (size_t i = 0; i < h->n; i++) {
				if (strncmp(h->rules[i], "-A DOCKER-USER ", 15) == 0)
					free(h->rules[i]);
				else
					h->rules[k++] = h->rules[i];
			}
			h->n = k;
		}
		if (rc == 0 && o->expire_only && drop_expired(cli, want, err) < 0) {
			pp_ruleset_free(want);
			return -1;
		}
		return rc;
	}
	struct pp_table *t;
	if (pp_table_load(cli->table_path, false, &t, err) < 0)
		return -1;
	struct pp_findings fs = { 0 };
	pp_table_check(t, time(NULL), &fs);
	pp_findings_sort(&fs);
	print_findings(cli, &fs);
	size_t errors = pp_findings_count(&fs, PP_ERROR);
	pp_findings_free(&fs);
	if (errors) {
		pp_table_free(t);
		return pp_error_set(err, "%s: %zu error(s): fix them first (portpilot check), nothing applied",
		                    cli->table_path, errors);
	}
	struct pp_render_opts ro;
	pp_apply_render_opts(t, b, &ro);
	if (pp_render(t, &ro, want, err) < 0) {
		pp_table_free(t);
		return -1;
	}
	*tp = t;
	return 0;
}

static void
host_checks(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t,
            const struct pp_live *live)
{
	if (o->enable_forwarding && !o->dry_run && pp_sysctl_read("net.ipv4.ip_forward") == 0) {
		if (pp_sysctl_write("net.ipv4.ip_forward", 1) == 0)
			fprintf(cli->err, "portpilot: net.ipv4.ip_forward set to 1 (--enable-forwarding)\n");
		else
			fprintf(cli->err, "portpilot: cannot set net.ipv4.ip_forward: %s\n", strerror(errno));
	}
	if (!t)
		return;
	struct pp_findings fs = { 0 };
	pp_backend_checks(t, live, &fs);
	print_findings(cli, &fs);
	pp_findings_free(&fs);
}

static void
report(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_plan *p, bool applied,
       time_t deadline)
{
	if (cli->json) {
		fprintf(cli->out, "{\"dry_run\":%s,\"applied\":%s,\"chains_written\":%zu,\"chains_dropped\":%zu,"
		        "\"hooks_changed\":%zu,\"changed\":[", o->dry_run ? "true" : "false",
		        applied ? "true" : "false", p->chains_written, p->chains_dropped, p->hooks_changed);
		for (size_t i = 0; i < p->nchanged; i++) {
			fputs(i ? "," : "", cli->out);
			pp_json_str(cli->out, p->changed[i] + 3);
		}
		fprintf(cli->out, "],\"confirm_deadline\":%lld}\n", (long long)deadline);
		return;
	}
	if (!p->restore) {
		fprintf(cli->out, "nothing to change: the kernel already holds this ruleset\n");
		return;
	}
	fprintf(cli->out, "%s: %zu mapping(s) changed, %zu chain(s) written, %zu dropped, %zu hook(s)\n",
	        o->dry_run ? "dry run" : "applied", p->nchanged, p->chains_written, p->chains_dropped,
	        p->hooks_changed);
	if (deadline)
		fprintf(cli->out, "rollback in %d s unless confirmed: portpilot confirm (from any session)\n",
		        o->confirm_seconds);
}

/* After the kernel took the ruleset: record it, then arm the timer or persist. */
static int
after_apply(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_ruleset *want,
            time_t *deadline, struct pp_error *err)
{
	char *text = pp_ruleset_text(want);
	int rc = pp_state_write(cli->state_dir, PP_ST_APPLIED, text, err);
	if (rc == 0 && o->confirm_seconds > 0) {
		struct pp_pending pd = { .deadline = time(NULL) + o->confirm_seconds };
		snprintf(pd.id, sizeof pd.id, "%ld-%ld", (long)time(NULL), (long)getpid());
		rc = pp_pending_write(cli->state_dir, &pd, err);
		if (rc == 0) {
			pd.pid = spawn_timer(cli, pd.id);
			if (pd.pid < 0)
				rc = pp_error_set(err, "cannot start the rollback timer: %s", strerror(errno));
			else
				rc = pp_pending_write(cli->state_dir, &pd, err);
		}
		*deadline = pd.deadline;
	} else if (rc == 0) {
		rc = pp_state_write(cli->state_dir, PP_ST_CONFIRMED, text, err);
	}
	free(text);
	return rc;
}

/*
 * iptables-nft-restore --test stops before the kernel commit (it catches what
 * the parser rejects), and each table's commit is an atomic nf_tables
 * transaction anyway. On big plans the extra parse costs about as much as
 * the commit, so there a failure is undone from the snapshot instead.
 * iptables-legacy is cheap to test: always test.
 */
static bool
needs_test(const struct pp_backend *b, const char *restore)
{
	if (strcmp(b->variant, "nft") != 0)
		return true;
	size_t rules = 0;
	for (const char *s = restore; (s = strstr(s, "\n-A ")) != NULL; s += 4)
		if (++rules > 2000)
			return false;
	return true;
}

/* Test, snapshot, commit, then record; on a failed commit go back to the snapshot. */
static int
commit(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_backend *b,
       const struct pp_live *live, const struct pp_ruleset *want, const struct pp_plan *p,
       time_t *deadline, struct pp_error *err)
{
	char *snap = pp_ruleset_text(&live->own);
	int rc = 0;
	if ((needs_test(b, p->restore) && pp_backend_restore(b, p->restore, true, err) < 0) ||
	    pp_state_write(cli->state_dir, PP_ST_SNAPSHOT, snap, err) < 0) {
		rc = -1;
	} else if (move_to(b, p, true, err) < 0) {
		/* One table may have committed before the other failed. */
		struct pp_error e2;
		if (restore_text(b, snap, &e2) < 0)
			fprintf(cli->err, "portpilot: restoring the snapshot failed too: %s\n", e2.msg);
		rc = -1;
	} else {
		rc = after_apply(cli, o, want, deadline, err);
	}
	free(snap);
	return rc;
}

/* Nothing to change in the kernel: still make this the persisted ruleset. */
static int
persist_unchanged(struct pp_cli *cli, const struct pp_ruleset *want, struct pp_error *err)
{
	char *text = pp_ruleset_text(want);
	int rc = pp_state_write(cli->state_dir, PP_ST_CONFIRMED, text, err);
	if (rc == 0)
		rc = pp_state_write(cli->state_dir, PP_ST_APPLIED, text, err);
	free(text);
	return rc;
}

static int
apply_locked(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_error *err)
{
	struct pp_pending pd;
	if (!o->dry_run && pp_pending_read(cli->state_dir, &pd) == 0)
		return pp_error_set(err, "an earlier apply awaits confirmation (rollback at %lld): run "
		                    "portpilot confirm or portpilot rollback first", (long long)pd.deadline);
	struct pp_backend b;
	struct pp_live live;
	if (pp_backend_open(&b, err) < 0 || pp_backend_read(&b, &live, err) < 0)
		return -1;
	struct pp_ruleset want;
	struct pp_table *t = NULL;
	if (want_ruleset(cli, o, &b, &want, &t, err) < 0) {
		pp_live_free(&live);
		return -1;
	}
	host_checks(cli, o, t, &live);
	struct pp_plan p;
	pp_plan_make(&want, &live.own, &p);
	if (!cli->json)
		pp_plan_diff(cli->out, &want, &live.own);
	int rc = 0;
	time_t deadline = 0;
	if (!o->dry_run && p.restore)
		rc = commit(cli, o, &b, &live, &want, &p, &deadline, err);
	else if (!o->dry_run && !o->confirm_seconds)
		rc = persist_unchanged(cli, &want, err);
	if (rc == 0)
		report(cli, o, &p, !o->dry_run && p.restore, deadline);
	pp_plan_free(&p);
	pp_ruleset_free(&want);
	pp_live_free(&live);
	pp_table_free(t);
	return rc;
}

int
pp_apply(struct pp_cli *cli, const struct pp_apply_opts *o)
{
	struct pp_error err;
	char *persisted = o->expire_only ? pp_state_read(cli->state_dir, PP_ST_CONFIRMED) : NULL;
	if (o->expire_only && !persisted) {
		fprintf(cli->out, "nothing persisted: no mapping to expire\n");
		return PP_EXIT_OK;
	}
	free(persisted);
	int fd = pp_state_lock(cli->state_dir, &err);
	if (fd < 0) {
		fprintf(cli->err, "portpilot apply: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	int rc = apply_locked(cli, o, &err);
	pp_state_unlock(fd);
	if (rc < 0) {
		fprintf(cli->err, "portpilot apply: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	return PP_EXIT_OK;
}

/* Stop the timer of pd, unless we are it. */
static void
stop_timer(const struct pp_pending *pd)
{
	if (pd->pid > 1 && pd->pid != getpid())
		kill(pd->pid, SIGTERM);
}

int
pp_confirm(struct pp_cli *cli)
{
	struct pp_error err;
	int fd = pp_state_lock(cli->state_dir, &err);
	if (fd < 0) {
		fprintf(cli->err, "portpilot confirm: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	struct pp_pending pd;
	int rc = PP_EXIT_FAIL;
	char *text = NULL;
	if (pp_pending_read(cli->state_dir, &pd) < 0) {
		fprintf(cli->err, "portpilot confirm: nothing awaits confirmation (no apply --confirm pending)\n");
	} else if (!(text = pp_state_read(cli->state_dir, PP_ST_APPLIED)) ||
	           pp_state_write(cli->state_dir, PP_ST_CONFIRMED, text, &err) < 0) {
		fprintf(cli->err, "portpilot confirm: %s\n", text ? err.msg : "applied.rules is missing");
	} else {
		pp_state_remove(cli->state_dir, "pending");
		stop_timer(&pd);
		if (cli->json)
			fprintf(cli->out, "{\"confirmed\":true}\n");
		else
			fprintf(cli->out, "confirmed: the ruleset stays and is persisted for boot\n");
		rc = PP_EXIT_OK;
	}
	free(text);
	pp_state_unlock(fd);
	return rc;
}

/* The timer: sleep until the deadline, then roll back if its apply is still unconfirmed. */
static int
timer_wait(struct pp_cli *cli, const char *id)
{
	struct pp_pending pd;
	for (;;) {
		if (pp_pending_read(cli->state_dir, &pd) < 0 || strcmp(pd.id, id) != 0)
			return 1; /* confirmed or rolled back meanwhile */
		time_t now = time(NULL);
		if (now >= pd.deadline)
			return 0;
		struct timespec ts = { pd.deadline - now > 1 ? 1 : 0, pd.deadline - now > 1 ? 0 : 200000000 };
		nanosleep(&ts, NULL);
	}
}

int
pp_rollback(struct pp_cli *cli, const char *timer_id)
{
	if (timer_id && timer_wait(cli, timer_id) != 0)
		return PP_EXIT_OK;
	struct pp_error err;
	int fd = pp_state_lock(cli->state_dir, &err);
	if (fd < 0) {
		fprintf(cli->err, "portpilot rollback: %s\n", err.msg);
		return PP_EXIT_FAIL;
	}
	struct pp_pending pd;
	bool pending = pp_pending_read(cli->state_dir, &pd) == 0;
	int rc = PP_EXIT_FAIL;
	char *snap = pp_state_read(cli->state_dir, PP_ST_SNAPSHOT);
	struct pp_backend b;
	if (timer_id && (!pending || strcmp(pd.id, timer_id) != 0)) {
		rc = PP_EXIT_OK; /* confirmed while we took the lock */
	} else if (!snap) {
		fprintf(cli->err, "portpilot rollback: no snapshot in %s: nothing was applied yet\n", cli->state_dir);
	} else if (pp_backend_open(&b, &err) < 0 || restore_text(&b, snap, &err) < 0) {
		fprintf(cli->err, "portpilot rollback: %s\n", err.msg);
	} else {
		pp_state_write(cli->state_dir, PP_ST_APPLIED, snap, &err);
		/* A confirmed apply rolled back: the earlier ruleset is what boot should see again. */
		if (!pending)
			pp_state_write(cli->state_dir, PP_ST_CONFIRMED, snap, &err);
		pp_state_remove(cli->state_dir, "pending");
		if (pending)
			stop_timer(&pd);
		if (cli->json)
			fprintf(cli->out, "{\"rolled_back\":true}\n");
		else
			fprintf(cli->out, "rolled back to the rules before the last apply\n");
		rc = PP_EXIT_OK;
	}
	free(snap);
	pp_state_unlock(fd);
	return rc;
}
