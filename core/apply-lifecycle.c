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
#include "portpilot/backend.h"
#include "portpilot/util.h"

/*
 * State records (snapshot, applied, confirmed): the backend's opaque blob after one line that
 * names the backend, so a rollback restores each snapshot through the backend that wrote it
 * (a switch of backends undoes itself). A record without the line is from before backends had
 * names: iptables.
 */
#define REC_HEAD "# portpilot backend="

/* A record's head line: REC_HEAD and the backend's name. */
static void
record_head(const struct pp_backend *b, char head[64])
{
	snprintf(head, 64, "%s%s\n", REC_HEAD, b->ops->name);
}

static char *
record_of(const struct pp_backend *b, const struct pp_be_state *s)
{
	size_t len;
	char *blob = b->ops->save(s, &len), head[64];
	record_head(b, head);
	size_t hl = strlen(head);
	char *r = pp_xmalloc(hl + len + 1);
	memcpy(r, head, hl);
	memcpy(r + hl, blob, len + 1);
	free(blob);
	return r;
}

/* The backend named in record rec (into name) and where its blob starts. */
static const char *
record_blob(const char *rec, char *name, size_t n)
{
	snprintf(name, n, "iptables");
	if (strncmp(rec, REC_HEAD, strlen(REC_HEAD)) != 0)
		return rec;
	const char *v = rec + strlen(REC_HEAD);
	size_t len = strcspn(v, "\n");
	snprintf(name, n, "%.*s", (int)len, v);
	return v[len] ? v + len + 1 : v + len;
}

/* The backend of a state file's record, "" when there is no such file. */
static void
record_backend(const char *dir, const char *file, char *name, size_t n)
{
	char *rec = pp_state_read_head(dir, file, 256);
	if (rec)
		record_blob(rec, name, n);
	else
		snprintf(name, n, "%s", "");
	free(rec);
}

static void
flush_flows(struct pp_backend *b, struct pp_plan *p)
{
	if (b->ops->flush)
		b->ops->flush(b, p);
	else
		pp_conntrack_flush(p);
}

/* Test, then write, the move from live to want; flush the flows of changed mappings. */
static int
move_to(struct pp_backend *b, struct pp_plan *p, struct pp_error *err)
{
	if (!p->restore)
		return 0;
	if (b->ops->test && b->ops->test(b, p, true, err) < 0)
		return -1;
	if (b->ops->commit(b, p, NULL, NULL, err) < 0)
		return -1;
	pp_apply_mark("commit");
	flush_flows(b, p);
	return 0;
}

/* Bring the kernel back to the rules of a record's blob (a snapshot); on failure and by rollback. */
static int
restore_blob(struct pp_backend *b, const char *blob, struct pp_error *err)
{
	struct pp_be_state *want;
	struct pp_live live;
	/* Read first: loading adapts the snapshot to what the kernel has now (DOCKER-USER). */
	if (pp_backend_read(b, &live, err) < 0)
		return -1;
	if (b->ops->load(b, blob, strlen(blob), &want, err) < 0) {
		pp_live_free(&live);
		return -1;
	}
	struct pp_plan p;
	b->ops->plan(b, want, live.own, &p);
	int rc = move_to(b, &p, err);
	pp_plan_free(&p);
	pp_live_free(&live);
	b->ops->state_free(want);
	return rc;
}

/* Remove every object of the backend called name (the other side of a backend switch). */
static int
remove_backend(const char *name, struct pp_error *err)
{
	struct pp_backend o;
	if (pp_backend_open_named(&o, name, err) < 0)
		return -1;
	int rc = o.ops->remove_all(&o, err);
	pp_backend_close(&o);
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
		/* The apply blocks signals while it commits; exec keeps a mask, and the timer must
		 * stay stoppable by confirm's SIGTERM. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
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

/* Remove the rules of mappings the table says have expired. */
static void
drop_expired(const struct pp_backend *b, const struct pp_table *t, struct pp_be_state *s)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < t->n; i++) {
		if (!pp_mapping_expired(&t->maps[i], now))
			continue;
		char *tag = pp_rule_tag(t->maps[i].name);
		b->ops->drop_mapping(s, tag);
		free(tag);
	}
}

/*
 * The target ruleset: the table rendered (w: its model), or the persisted ruleset at boot.
 * given or loaded: the table, read before the lock was taken so that no lock
 * holder waits on a file (loaded stays the caller's to free).
 */
static int
want_ruleset(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_backend *b,
             struct pp_be_state **want, struct pp_want *w, const struct pp_table *given,
             struct pp_table *loaded, const struct pp_table **tp, struct pp_findings *fs,
             const struct pp_be_state *prev, struct pp_error *err)
{
	memset(w, 0, sizeof *w);
	if (o->restore_persisted || o->expire_only) {
		char *s = pp_state_read(cli->state_dir, PP_ST_CONFIRMED);
		char name[32];
		if (!s)
			return pp_error_set(err, "%s/%s: nothing persisted yet (apply and confirm first)",
			                    cli->state_dir, PP_ST_CONFIRMED);
		const char *blob = record_blob(s, name, sizeof name);
		int rc = b->ops->load(b, blob, strlen(blob), want, err);
		free(s);
		if (rc == 0 && o->expire_only)
			drop_expired(b, given ? given : loaded, *want);
		return rc;
	}
	const struct pp_table *t = given ? given : loaded;
	pp_apply_mark("load");
	pp_table_check(t, time(NULL), fs);
	pp_findings_sort(fs);
	size_t errors = pp_findings_count(fs, PP_ERROR);
	if (errors)
		return pp_error_set(err, "%s: %zu error(s): fix them first (portpilot check), nothing applied",
		                    cli->table_path, errors);
	pp_apply_mark("check");
	if (pp_want_build(t, time(NULL), w, err) < 0)
		return -1;
	/* prev: what the kernel holds, from this process's last apply or read; a render reuses
	   its own earlier one for the mappings that did not change */
	if ((b->ops->render_from ? b->ops->render_from(b, w, prev, want, err) : b->ops->render(b, w, want, err)) < 0) {
		pp_want_free(w);
		return -1;
	}
	*tp = t;
	return 0;
}

static void
host_checks(const struct pp_apply_opts *o, struct pp_backend *b, const struct pp_want *w,
            const struct pp_live *live, struct pp_apply_report *r)
{
	if (o->enable_forwarding && !o->dry_run && pp_sysctl_read("net.ipv4.ip_forward") == 0) {
		r->forwarding = pp_sysctl_write("net.ipv4.ip_forward", 1) == 0 ? 1 : -1;
		if (r->forwarding < 0)
			snprintf(r->forwarding_err, sizeof r->forwarding_err, "%s", strerror(errno));
	}
	if (w->wan_if)
		b->ops->checks(b, w, live, &r->warnings);
}

/* The plan's part of the report: its counts and tags move into r. */
static void
report(const struct pp_apply_opts *o, struct pp_plan *p, bool applied, time_t deadline,
       struct pp_apply_report *r)
{
	r->unchanged = !p->restore;
	r->applied = applied;
	r->nchanged = p->nchanged, r->changed = p->changed;
	r->chains_written = p->chains_written, r->chains_dropped = p->chains_dropped;
	r->hooks_changed = p->hooks_changed;
	r->layout = p->layout, r->nlayout = p->nlayout;
	r->flows_removed = p->flows_removed, r->flows_unlisted = p->flows_unlisted;
	r->flows_failed = p->flows_failed, r->flows_errno = p->flows_errno;
	r->confirm_deadline = deadline, r->confirm_seconds = o->confirm_seconds;
	p->changed = NULL, p->nchanged = 0, p->layout = NULL, p->nlayout = 0;
}

/*
 * applied.rules is the kernel's state of portpilot's chains only if every
 * commit since the read was ours: then the next apply may skip reading the
 * kernel for as long as the generation stays where we leave it.
 */
static bool
record_gen(struct pp_cli *cli, struct pp_backend *b, const struct pp_live *live, const struct pp_plan *p,
           struct pp_gen *now)
{
	struct pp_error e;
	if (!b->ops->gen || !b->ops->facts || !live->gen.ns[0] || b->ops->gen(b, now) < 0 ||
	    strcmp(now->ns, live->gen.ns) != 0 || now->gen != live->gen.gen + (p ? p->commits : 0))
		return false;
	char *facts = b->ops->facts(b, live, p);
	char *rec = pp_xasprintf("%s %lu\n%s", now->ns, now->gen, facts);
	/* A cache: a crash loses it harmlessly (a new boot has a new boot id). */
	int rc = pp_state_write_cache(cli->state_dir, PP_ST_GEN, rec, &e);
	free(rec);
	free(facts);
	return rc == 0;
}

/* Stop the timer of pd, unless we are it or it is gone (its pid may be another process's by now). */
static void
stop_timer(const struct pp_pending *pd)
{
	if (pd->pid > 1 && pd->pid != getpid() && pp_pending_timer_alive(pd))
		kill(pd->pid, SIGTERM);
}

/*
 * apply --confirm: the pending record and its timer, both before the kernel
 * changes. Whatever ends the apply after this (kill -9, a hang-up, a crash),
 * the timer restores the snapshot at the deadline; the record stays "armed"
 * until the apply has recorded what it wrote, so confirm never keeps an apply
 * that did not finish.
 */
static int
arm_rollback(struct pp_cli *cli, const struct pp_apply_opts *o, const char *backend,
             struct pp_pending *pd, struct pp_error *err)
{
	memset(pd, 0, sizeof *pd);
	snprintf(pd->backend, sizeof pd->backend, "%s", backend);
	pd->deadline = time(NULL) + o->confirm_seconds;
	pd->armed = true;
	snprintf(pd->id, sizeof pd->id, "%ld-%ld", (long)time(NULL), (long)getpid());
	if (pp_pending_write(cli->state_dir, pd, err) < 0)
		return -1;
	pd->pid = spawn_timer(cli, pd->id);
	if (pd->pid < 0) {
		pp_state_remove(cli->state_dir, "pending");
		return pp_error_set(err, "cannot start the rollback timer: %s; nothing applied", strerror(errno));
	}
	if (pp_pending_write(cli->state_dir, pd, err) < 0) {
		pp_state_remove(cli->state_dir, "pending");
		stop_timer(pd); /* or, not yet exec'd, it finds no record and ends */
		return -1;
	}
	return 0;
}

/* The kernel refused the ruleset (and is back at the snapshot): nothing to roll back. */
static void
disarm(struct pp_cli *cli, const struct pp_pending *pd)
{
	pp_state_remove(cli->state_dir, "pending");
	stop_timer(pd);
}

/* After the kernel took the ruleset: record it, then say the armed rollback awaits confirm, or persist. */
static int
after_apply(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_pending *pd, struct pp_error *err)
{
	int rc = pp_state_publish(cli->state_dir, PP_ST_APPLIED, err);
	if (rc == 0)
		pp_state_remove(cli->state_dir, PP_ST_ROLLED); /* a new apply supersedes the news */
	if (rc == 0 && o->confirm_seconds > 0) {
		pd->armed = false;
		rc = pp_pending_write(cli->state_dir, pd, err);
	} else if (rc == 0) {
		rc = pp_state_link(cli->state_dir, PP_ST_APPLIED, PP_ST_CONFIRMED, err);
	}
	return rc;
}

/*
 * From arming the rollback to recording the apply, a hang-up, ^C or ^Z waits:
 * the apply finishes what it started (the timer is armed either way), and a
 * stopped apply would hold apply.lock from the timer.
 */
static void
hold_signals(bool on, sigset_t *saved)
{
	if (!on) {
		sigprocmask(SIG_SETMASK, saved, NULL);
		return;
	}
	sigset_t s;
	sigemptyset(&s);
	int sigs[] = { SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTOU, SIGTTIN };
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(&s, sigs[i]);
	sigprocmask(SIG_BLOCK, &s, saved);
}

/* The snapshot of what portpilot owns now: applied.rules itself when that is the kernel's state. */
static int
snapshot(struct pp_cli *cli, const struct pp_backend *b, const struct pp_live *live, struct pp_error *err)
{
	if (live->cached)
		return pp_state_link(cli->state_dir, PP_ST_APPLIED, PP_ST_SNAPSHOT, err);
	char *snap = record_of(b, live->own);
	int rc = pp_state_write(cli->state_dir, PP_ST_SNAPSHOT, snap, err);
	free(snap);
	return rc;
}

/* A switch of backends: the snapshot is what the previous backend (name) holds now. */
static int
snapshot_other(struct pp_cli *cli, const char *name, struct pp_error *err)
{
	struct pp_backend o;
	struct pp_live live;
	if (pp_backend_open_named(&o, name, err) < 0)
		return -1;
	int rc = pp_backend_read(&o, &live, err);
	if (rc == 0) {
		char *snap = record_of(&o, live.own);
		rc = pp_state_write(cli->state_dir, PP_ST_SNAPSHOT, snap, err);
		free(snap);
		pp_live_free(&live);
	}
	pp_backend_close(&o);
	return rc;
}

/*
 * Put the kernel back to the snapshot record snap, through the backend that wrote it; when
 * the apply being undone wrote with another backend (other), every object of that one goes.
 */
static int
back_to_snapshot(const char *snap, const char *other, struct pp_error *err)
{
	char name[32];
	const char *blob = record_blob(snap, name, sizeof name);
	struct pp_backend b;
	if (pp_backend_open_named(&b, name, err) < 0)
		return -1;
	int rc = restore_blob(&b, blob, err);
	pp_backend_close(&b);
	if (rc == 0 && other && *other && strcmp(other, name) != 0)
		rc = remove_backend(other, err);
	return rc;
}

/* What the commit frees while the kernel works, and the applied record it stages meanwhile. */
struct during {
	struct pp_cli *cli;
	struct pp_backend *b;
	struct pp_be_state **want;
	struct pp_want *w;
	struct pp_live *live;
	struct pp_table **table;
	struct pp_be_state *kept;       /* want, staged: the kernel's state once committed (pp_memo) */
	bool called;
	int staged;
	struct pp_error serr;
};

static void
during_commit(void *arg)
{
	struct during *d = arg;
	d->called = true;
	if (d->want && *d->want) {
		/* head and blob written one after the other: no copy of the megabytes */
		size_t len;
		char *blob = d->b->ops->save(*d->want, &len), head[64];
		record_head(d->b, head);
		d->staged = pp_state_stage(d->cli->state_dir, PP_ST_APPLIED, head, blob, &d->serr);
		free(blob);
	}
	if (d->want && *d->want) {
		if (d->staged == 0)
			d->kept = *d->want;
		else
			d->b->ops->state_free(*d->want);
		*d->want = NULL;
	}
	d->b->ops->state_free(d->live->own);
	d->live->own = NULL;
	pp_want_free(d->w);
	pp_table_free(*d->table);
	*d->table = NULL;
}

/*
 * Test, snapshot, commit, then record; on a failed commit go back to the
 * snapshot. want, w, live->own and *table are freed (and set to NULL)
 * while the backend commits: nothing after needs them (a failure goes
 * back through the snapshot file), and at 20,000 mappings freeing them took
 * 4 ms after the commit. prev: the backend of the last apply when it is
 * another one (a switch: its objects go once this one's are in), else NULL.
 */
static int
commit(struct pp_cli *cli, const struct pp_apply_opts *o, struct pp_backend *b,
       struct pp_live *live, struct pp_be_state **want, struct pp_want *w, struct pp_table **table,
       struct pp_plan *p, const char *prev, time_t *deadline, char restore_failed[1024],
       struct pp_error *err)
{
	int rc = 0;
	if (b->ops->test && b->ops->test(b, p, false, err) < 0)
		return -1;
	pp_apply_mark("test");
	if ((prev ? snapshot_other(cli, prev, err) : snapshot(cli, b, live, err)) < 0)
		return -1;
	/* From here until recorded again, applied.rules may not match the kernel. */
	pp_state_remove(cli->state_dir, PP_ST_GEN);
	pp_apply_mark("snapshot");
	struct pp_pending pd = { 0 };
	sigset_t saved;
	hold_signals(true, &saved);
	if (o->confirm_seconds > 0 && arm_rollback(cli, o, b->ops->name, &pd, err) < 0) {
		hold_signals(false, &saved);
		return -1;
	}
	*deadline = pd.deadline;
	pp_apply_mark("arm");
	/* The new applied record is written (and synced) while the kernel commits (iptables'
	   restore), or right after it (nftables: the commit is in this process). */
	struct during d = { .cli = cli, .b = b, .want = want, .w = w, .live = live, .table = table };
	int crc = b->ops->commit(b, p, during_commit, &d, err);
	if (!d.called) {
		d.want = NULL; /* nothing started: nothing to stage, the rest is freed as usual */
		during_commit(&d);
	}
	pp_apply_mark("stage");
	struct pp_error e2;
	if (crc == 0 && prev) {
		flush_flows(b, p);
		if (remove_backend(prev, &e2) < 0) {
			crc = pp_error_set(err, "the mappings are in place in %s, but removing the rules of %s "
			                   "failed: %s; going back to %s's rules", b->ops->name, prev, e2.msg, prev);
		}
	}
	if (crc < 0) {
		pp_state_discard(cli->state_dir, PP_ST_APPLIED);
		/* One table may have committed before the other failed. */
		char *snap = pp_state_read(cli->state_dir, PP_ST_SNAPSHOT);
		if (!snap || back_to_snapshot(snap, b->ops->name, &e2) < 0)
			snprintf(restore_failed, 1024, "%s", snap ? e2.msg : "snapshot.rules is unreadable");
		free(snap);
		if (o->confirm_seconds > 0)
			disarm(cli, &pd);
		*deadline = 0;
		rc = -1;
	} else {
		pp_apply_mark("commit");
		if (!prev)
			flush_flows(b, p);
		pp_apply_mark("flush");
		rc = d.staged < 0 ? pp_error_set(err, "%s", d.serr.msg) : after_apply(cli, o, &pd, err);
		struct pp_gen at;
		if (rc == 0 && !prev && record_gen(cli, b, live, p, &at)) {
			pp_memo_keep(cli->state_dir, b->ops, &at, d.kept);
			d.kept = NULL;
		}
		pp_apply_mark("state-write");
	}
	if (d.kept)
		b->ops->state_free(d.kept);
	hold_signals(false, &saved);
	return rc;
}

/* Nothing to change in the kernel: still make this the persisted ruleset. */
static int
persist_unchanged(struct pp_cli *cli, struct pp_backend *b, const struct pp_live *live,
                  const struct pp_be_state *want, struct pp_error *err)
{
	if (live->cached) /* applied.rules is this ruleset already */
		return pp_state_link(cli->state_dir, PP_ST_APPLIED, PP_ST_CONFIRMED, err);
	pp_state_remove(cli->state_dir, PP_ST_GEN);
	char *text = record_of(b, want);
	int rc = pp_state_write(cli->state_dir, PP_ST_APPLIED, text, err);
	free(text);
	if (rc == 0)
		rc = pp_state_link(cli->state_dir, PP_ST_APPLIED, PP_ST_CONFIRMED, err);
	struct pp_gen at;
	if (rc == 0)
		record_gen(cli, b, live, NULL, &at);
	return rc;
}

/*
 * Portpilot's part of the kernel. While the nf_tables generation stands where
 * the last apply left it, that is applied.rules (and applied.gen what the
 * host checks need): no read of the whole kernel (0.25-1 s at
 * 20,000 rules). Otherwise one full read.
 */
/*
 * Does applied.gen say the kernel still holds applied.rules? Then true, *facts the host
 * facts, and *own applied.rules' blob (own NULL: not wanted, the state is in memory).
 */
static bool
cached_own(struct pp_cli *cli, const struct pp_backend *b, const struct pp_gen *g, char **own, char **facts)
{
	char *rec = pp_state_read(cli->state_dir, PP_ST_GEN);
	char *key = pp_xasprintf("%s %lu\n", g->ns, g->gen);
	bool ok = rec && strncmp(rec, key, strlen(key)) == 0;
	*facts = NULL;
	if (ok && own && (*own = pp_state_read(cli->state_dir, PP_ST_APPLIED))) {
		char name[32];
		const char *blob = record_blob(*own, name, sizeof name);
		ok = strcmp(name, b->ops->name) == 0;
		if (ok)
			memmove(*own, blob, strlen(blob) + 1);
		else
			free(*own), *own = NULL;
	} else if (own) {
		ok = false;
	}
	if (ok)
		*facts = pp_xstrdup(rec + strlen(key));
	free(rec);
	free(key);
	return ok;
}

static int
read_live(struct pp_cli *cli, struct pp_backend *b, struct pp_live *live, struct pp_error *err)
{
	struct pp_gen g;
	char *own = NULL, *facts = NULL;
	bool known = b->ops->gen && b->ops->adopt && b->ops->gen(b, &g) == 0;
	/* This process's own last commit, still in force: no applied.rules to read and parse. */
	struct pp_be_state *kept = known ? pp_memo_take(cli->state_dir, b->ops, &g) : NULL;
	bool cached = known && cached_own(cli, b, &g, kept ? NULL : &own, &facts);
	memset(live, 0, sizeof *live);
	live->ops = b->ops;
	if (cached) {
		live->own = kept;
		kept = NULL;
		cached = b->ops->adopt(b, own, facts, live, err) == 0;
	}
	if (kept)
		b->ops->state_free(kept);
	if (cached) {
		live->cached = true;
	} else {
		if (live->own)
			b->ops->state_free(live->own);
		memset(live, 0, sizeof *live);
		if (pp_backend_read(b, live, err) < 0)
			return -1;
	}
	if (known)
		live->gen = g;
	return 0;
}

/*
 * Put the kernel back to the snapshot (the lock is held). pd: the apply
 * being undone awaited confirmation (NULL: it was confirmed, so boot must
 * see the earlier ruleset again too).
 */
static int
undo_last(struct pp_cli *cli, const struct pp_pending *pd, char snapped[32], struct pp_error *err)
{
	char *snap = pp_state_read(cli->state_dir, PP_ST_SNAPSHOT);
	char applied[32];
	if (!snap)
		return pp_error_set(err, "no snapshot in %s: nothing was applied yet", cli->state_dir);
	pp_state_remove(cli->state_dir, PP_ST_GEN);
	/* The apply being undone may have switched backends: its backend's objects go too, also when
	 * it died before recording them (the pending record names the backend it wrote with). */
	record_backend(cli->state_dir, PP_ST_APPLIED, applied, sizeof applied);
	record_blob(snap, snapped, 32);
	int rc = back_to_snapshot(snap, applied, err);
	if (rc == 0 && pd && pd->backend[0] && strcmp(pd->backend, snapped) != 0 &&
	    strcmp(pd->backend, applied) != 0)
		rc = remove_backend(pd->backend, err);
	if (rc == 0) {
		pp_state_write(cli->state_dir, PP_ST_APPLIED, snap, err);
		if (!pd)
			pp_state_write(cli->state_dir, PP_ST_CONFIRMED, snap, err);
		pp_state_remove(cli->state_dir, "pending");
		if (pd)
			stop_timer(pd);
	}
	free(snap);
	return rc;
}

/* "the rollback timer (pid N) is gone" with the deadline, for messages. */
static char *
timer_gone(const struct pp_pending *pd)
{
	char when[20], name[64];
	pp_format_datetime(pd->deadline, when);
	return pp_xasprintf("%s of the unconfirmed apply is gone (reboot, OOM or killed), and its "
	                    "deadline %s %s", pp_pending_timer_name(pd, name),
	                    time(NULL) >= pd->deadline ? "passed at" : "is", when);
}

/*
 * An unconfirmed apply whose timer is gone after its deadline: do what the
 * timer would have done (restored: the backend it restored). 0 when done.
 */
static int
late_rollback(struct pp_cli *cli, const struct pp_pending *pd, char restored[32], struct pp_error *err)
{
	if (undo_last(cli, pd, restored, err) < 0)
		return -1;
	char *when = pp_xasprintf("%lld\n", (long long)time(NULL));
	pp_state_write(cli->state_dir, PP_ST_ROLLED, when, err);
	free(when);
	return 0;
}

/* An earlier apply --confirm still pending: refuse, or roll it back late if its timer is gone. */
static int
earlier_pending(struct pp_cli *cli, const struct pp_apply_opts *o, char late[512], struct pp_error *err)
{
	struct pp_pending pd;
	if (!o->dry_run && pp_pending_read(cli->state_dir, &pd) == 0) {
		if (pp_pending_timer_alive(&pd) && pd.armed)
			return pp_error_set(err, "an earlier apply --confirm did not finish (killed or hung up after "
			                    "arming its rollback; rollback at %lld): run portpilot rollback first",
			                    (long long)pd.deadline);
		if (pp_pending_timer_alive(&pd))
			return pp_error_set(err, "an earlier apply awaits confirmation (rollback at %lld): run "
			                    "portpilot confirm or portpilot rollback first", (long long)pd.deadline);
		if (time(NULL) < pd.deadline) {
			char *why = timer_gone(&pd);
			pp_error_set(err, "%s: nothing will roll that apply back. Run portpilot confirm to keep "
			             "it, or portpilot rollback to undo it, then apply again", why);
			free(why);
			return -1;
		}
		char *why = timer_gone(&pd), restored[32];
		snprintf(late, 512, "%s", why);
		free(why);
		if (late_rollback(cli, &pd, restored, err) < 0)
			return -1;
	}
	return 0;
}

/* Owns loaded: freed on every path. */
static int
apply_locked(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *given,
             struct pp_table *loaded, struct pp_apply_report *r, struct pp_error *err)
{
	if (earlier_pending(cli, o, r->late, err) < 0) {
		pp_table_free(loaded);
		return -1;
	}
	struct pp_backend b;
	struct pp_live live;
	const struct pp_table *tt = given ? given : loaded;
	char confirmed[32] = "", prev[32] = "";
	pp_apply_mark(NULL);
	/* Boot and the expiry timer carry on the persisted ruleset: in the backend that wrote it. */
	if (o->restore_persisted || o->expire_only)
		record_backend(cli->state_dir, PP_ST_CONFIRMED, confirmed, sizeof confirmed);
	if ((*confirmed ? pp_backend_open_named(&b, confirmed, err) : pp_backend_open_for(&b, tt, err)) < 0) {
		pp_table_free(loaded);
		return -1;
	}
	if (*confirmed)
		snprintf(b.why, sizeof b.why, "the persisted ruleset's (%s)", PP_ST_CONFIRMED);
	pp_apply_mark("backend-open");
	/* The last apply wrote with another backend: this one moves the mappings over. */
	record_backend(cli->state_dir, PP_ST_APPLIED, prev, sizeof prev);
	bool moving = *prev && strcmp(prev, b.ops->name) != 0;
	if (read_live(cli, &b, &live, err) < 0) {
		pp_backend_close(&b);
		pp_table_free(loaded);
		return -1;
	}
	pp_apply_mark(live.cached ? "read-cached" : "read-kernel");
	struct pp_be_state *want = NULL;
	struct pp_want w;
	const struct pp_table *t = NULL;
	struct pp_table *owned = loaded;
	if (want_ruleset(cli, o, &b, &want, &w, given, loaded, &t, &r->table_findings, live.own, err) < 0) {
		pp_live_free(&live);
		pp_table_free(owned);
		pp_backend_close(&b);
		return -1;
	}
	pp_apply_mark("render");
	host_checks(o, &b, &w, &live, r);
	pp_apply_mark("host-checks");
	struct pp_plan p;
	/* The diff for people (not for --json), with the plan when the backend does both at once. */
	size_t len;
	FILE *f = cli->json ? NULL : open_memstream(&r->diff, &len);
	if (f && b.ops->plan_diff) {
		b.ops->plan_diff(&b, want, live.own, &p, f);
	} else {
		b.ops->plan(&b, want, live.own, &p);
		pp_apply_mark("plan");
		if (f)
			b.ops->diff(&b, want, live.own, f);
	}
	if (f)
		fclose(f);
	pp_apply_mark("diff");
	r->planned = true;
	snprintf(r->backend, sizeof r->backend, "%s", b.ops->name);
	snprintf(r->variant, sizeof r->variant, "%s", b.variant);
	snprintf(r->backend_why, sizeof r->backend_why, "%s", b.why);
	if (moving)
		snprintf(r->moved_from, sizeof r->moved_from, "%s", prev);
	int rc = 0;
	time_t deadline = 0;
	if (!o->dry_run && (p.restore || moving)) {
		if (!p.restore) /* already in place (an earlier move cut short): the commit is empty */
			p.restore = pp_xstrdup("");
		rc = commit(cli, o, &b, &live, &want, &w, &owned, &p, moving ? prev : NULL, &deadline,
		            r->restore_failed, err);
	} else if (!o->dry_run && !o->confirm_seconds) {
		rc = persist_unchanged(cli, &b, &live, want, err);
	}
	if (rc == 0)
		report(o, &p, !o->dry_run && p.restore, deadline, r);
	/* Nothing committed: the kernel still holds what live holds, for this process's next apply. */
	struct pp_gen now;
	if (rc == 0 && live.cached && live.own && !moving && (o->dry_run || !p.restore) && b.ops->gen(&b, &now) == 0 &&
	    strcmp(now.ns, live.gen.ns) == 0 && now.gen == live.gen.gen) {
		pp_memo_keep(cli->state_dir, b.ops, &now, live.own);
		live.own = NULL;
	}
	pp_apply_mark("after");
	pp_plan_free(&p);
	if (want)
		b.ops->state_free(want);
	pp_want_free(&w);
	pp_live_free(&live);
	pp_table_free(owned);
	pp_backend_close(&b);
	return rc;
}

int
pp_apply(struct pp_cli *cli, const struct pp_apply_opts *o)
{
	return pp_apply_loaded(cli, o, NULL);
}

int
pp_apply_run(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t,
             struct pp_apply_report *r)
{
	struct pp_error err;
	memset(r, 0, sizeof *r);
	r->dry_run = o->dry_run;
	char *persisted = o->expire_only ? pp_state_read(cli->state_dir, PP_ST_CONFIRMED) : NULL;
	if (o->expire_only && !persisted) {
		r->nothing_persisted = true;
		return r->rc = PP_EXIT_OK;
	}
	free(persisted);
	/* The table is read before the lock: a file that blocks (a FIFO, a slow mount) holds no one up. */
	struct pp_table *loaded = NULL;
	if (!t && !o->restore_persisted && pp_table_load(cli->table_path, false, &loaded, &err) < 0) {
		snprintf(r->error, sizeof r->error, "%s", err.msg);
		return r->rc = PP_EXIT_USAGE; /* unreadable input, as for every command (README) */
	}
	/* A dry run changes no state: it needs no lock (state files are replaced by rename). */
	int fd = o->dry_run ? -1 : pp_state_lock(cli->state_dir, &err);
	if (fd < 0 && !o->dry_run) {
		snprintf(r->error, sizeof r->error, "%s", err.msg);
		pp_table_free(loaded);
		return r->rc = PP_EXIT_FAIL;
	}
	/* Nothing is printed while apply.lock is held: a stalled terminal (^S, a dead SSH link) must
	 * not keep the lock from the rollback timer. The caller prints r after. */
	int rc = apply_locked(cli, o, t, loaded, r, &err);
	pp_state_unlock(fd);
	pp_apply_mark("free");
	if (rc < 0) {
		snprintf(r->error, sizeof r->error, "%s", err.msg);
		return r->rc = PP_EXIT_FAIL;
	}
	return r->rc = PP_EXIT_OK;
}

int
pp_apply_loaded(struct pp_cli *cli, const struct pp_apply_opts *o, const struct pp_table *t)
{
	struct pp_apply_report r;
	int rc = pp_apply_run(cli, o, t, &r);
	pp_apply_report_print(cli, &r);
	pp_apply_report_free(&r);
	return rc;
}

/*
 * Does the kernel still hold what the last apply wrote? With its timer gone,
 * a reboot or anyone's iptables change may have replaced it, and confirm
 * must not persist for boot a ruleset that is not in force. false with err
 * saying what differs.
 */
static bool
kernel_holds_applied(struct pp_cli *cli, struct pp_error *err)
{
	char *text = pp_state_read(cli->state_dir, PP_ST_APPLIED);
	struct pp_be_state *want;
	struct pp_backend b;
	struct pp_live live;
	char name[32];
	if (!text) {
		pp_error_set(err, "%s/%s is missing", cli->state_dir, PP_ST_APPLIED);
		return false;
	}
	const char *blob = record_blob(text, name, sizeof name);
	if (pp_backend_open_named(&b, name, err) < 0) {
		free(text);
		return false;
	}
	if (pp_backend_read(&b, &live, err) < 0) {
		pp_backend_close(&b);
		free(text);
		return false;
	}
	int rc = b.ops->load(&b, blob, strlen(blob), &want, err);
	free(text);
	if (rc < 0) {
		pp_live_free(&live);
		pp_backend_close(&b);
		return false;
	}
	struct pp_plan p;
	b.ops->plan(&b, want, live.own, &p);
	bool same = p.restore == NULL;
	if (!same)
		pp_error_set(err, "the kernel no longer holds the ruleset of that apply (%zu mapping(s), %zu "
		             "chain(s) differ: a reboot, or someone's %s change)", p.nchanged,
		             p.chains_written + p.chains_dropped, name);
	pp_plan_free(&p);
	pp_live_free(&live);
	b.ops->state_free(want);
	pp_backend_close(&b);
	return same;
}

/* r's pending fields from pd, and failed with err (the caller sets what happened instead). */
static void
confirm_start(struct pp_confirm_report *r, const struct pp_pending *pd)
{
	r->pending = true;
	r->deadline = pd->deadline;
	r->timer_alive = pp_pending_timer_alive(pd);
	pp_pending_timer_name(pd, r->timer);
	snprintf(r->backend, sizeof r->backend, "%s", pd->backend);
}

static void
confirm_error(struct pp_confirm_report *r, enum pp_confirm_outcome what, const char *msg)
{
	r->outcome = what;
	snprintf(r->error, sizeof r->error, "%s", msg);
}

/* With the lock held: decide, and keep or roll back. */
static void
confirm_locked(struct pp_cli *cli, struct pp_confirm_report *r)
{
	struct pp_error err;
	struct pp_pending pd;
	if (pp_pending_read(cli->state_dir, &pd) < 0) {
		r->outcome = PP_CO_NONE;
		return;
	}
	confirm_start(r, &pd);
	if (!r->timer_alive && time(NULL) >= pd.deadline) {
		/* Too late: the apply should have been undone already, so undo it. */
		char *why = timer_gone(&pd);
		snprintf(r->late, sizeof r->late, "%s", why);
		free(why);
		r->outcome = PP_CO_LATE;
		if (late_rollback(cli, &pd, r->backend, &err) < 0)
			snprintf(r->error, sizeof r->error, "%s", err.msg);
	} else if (pd.armed) {
		r->outcome = PP_CO_UNFINISHED;
	} else if (!r->timer_alive && !kernel_holds_applied(cli, &err)) {
		char *why = timer_gone(&pd);
		snprintf(r->late, sizeof r->late, "%s", why);
		free(why);
		confirm_error(r, PP_CO_DRIFTED, err.msg);
	} else if (pp_state_link(cli->state_dir, PP_ST_APPLIED, PP_ST_CONFIRMED, &err) < 0) {
		confirm_error(r, PP_CO_FAILED, err.msg);
	} else {
		pp_state_remove(cli->state_dir, "pending");
		stop_timer(&pd);
		if (!*r->backend) /* a record from before they named their backend */
			record_backend(cli->state_dir, PP_ST_APPLIED, r->backend, sizeof r->backend);
		r->outcome = PP_CO_CONFIRMED;
		r->rc = PP_EXIT_OK;
	}
}

int
pp_confirm_run(struct pp_cli *cli, struct pp_confirm_report *r)
{
	struct pp_error err;
	memset(r, 0, sizeof *r);
	r->rc = PP_EXIT_FAIL;
	int fd = pp_state_lock(cli->state_dir, &err);
	if (fd < 0) {
		confirm_error(r, PP_CO_FAILED, err.msg);
		return r->rc;
	}
	confirm_locked(cli, r);
	pp_state_unlock(fd);
	return r->rc;
}

int
pp_confirm(struct pp_cli *cli)
{
	struct pp_confirm_report r;
	pp_confirm_run(cli, &r);
	pp_confirm_report_print(cli, &r);
	return r.rc;
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
pp_rollback_run(struct pp_cli *cli, const char *timer_id, struct pp_confirm_report *r)
{
	memset(r, 0, sizeof *r);
	r->rollback = true;
	r->outcome = PP_CO_NONE;
	r->rc = PP_EXIT_OK;
	if (timer_id && timer_wait(cli, timer_id) != 0)
		return r->rc;
	struct pp_error err;
	/* The timer waits for the lock as long as it takes: giving up would leave the change in force. */
	int fd = timer_id ? pp_state_lock_wait(cli->state_dir, &err) : pp_state_lock(cli->state_dir, &err);
	if (fd < 0) {
		confirm_error(r, PP_CO_FAILED, err.msg);
		return r->rc = PP_EXIT_FAIL;
	}
	struct pp_pending pd;
	bool pending = pp_pending_read(cli->state_dir, &pd) == 0;
	if (pending)
		confirm_start(r, &pd);
	if (timer_id && (!pending || strcmp(pd.id, timer_id) != 0)) {
		r->rc = PP_EXIT_OK; /* confirmed while we took the lock */
	} else if (undo_last(cli, pending ? &pd : NULL, r->backend, &err) < 0) {
		confirm_error(r, PP_CO_FAILED, err.msg);
		r->rc = PP_EXIT_FAIL;
	} else {
		if (timer_id) {
			/* Nobody may be watching: leave the news for the next status or TUI. */
			char *when = pp_xasprintf("%lld\n", (long long)time(NULL));
			pp_state_write(cli->state_dir, PP_ST_ROLLED, when, &err);
			free(when);
		} else {
			pp_state_remove(cli->state_dir, PP_ST_ROLLED);
		}
		r->outcome = PP_CO_ROLLED_BACK;
	}
	pp_state_unlock(fd);
	return r->rc;
}

int
pp_rollback(struct pp_cli *cli, const char *timer_id)
{
	struct pp_confirm_report r;
	pp_rollback_run(cli, timer_id, &r);
	pp_confirm_report_print(cli, &r);
	return r.rc;
}
