/* The apply state directory: lock, rulesets (snapshot, applied, confirmed), the pending-confirm record. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply-internal.h"
#include "portpilot/util.h"

void
pp_apply_mark(const char *step)
{
	static double last;
	static int on = -1;
	if (on < 0)
		on = getenv("PORTPILOT_TIMING") != NULL;
	if (!on)
		return;
	double now = pp_now_ms();
	if (step && last > 0)
		fprintf(stderr, "timing: %-14s %8.1f ms\n", step, now - last);
	last = now;
}

char *
pp_state_path(const char *dir, const char *file)
{
	return pp_xasprintf("%s/%s", dir, file);
}

int
pp_state_lock(const char *dir, struct pp_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pp_error_set(err, "cannot create state directory %s: %s (use --state-dir DIR)", dir,
		                    strerror(errno));
	char *p = pp_state_path(dir, "apply.lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return pp_error_set(err, "cannot open %s/apply.lock: %s", dir, strerror(errno));
	/* Another apply, confirm or the rollback timer holds it only for moments; bound the wait (10 s). */
	for (int i = 0; i < 200; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	close(fd);
	return pp_error_set(err, "%s/apply.lock is held by another portpilot for 10 s: try again", dir);
}

void
pp_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int
state_write(const char *dir, const char *file, const char *text, bool durable, struct pp_error *err)
{
	char *p = pp_state_path(dir, file), *tmp = pp_xasprintf("%s.tmp", p);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		size_t len = strlen(text), off = 0;
		while (off < len) {
			ssize_t w = write(fd, text + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (off == len && (!durable || fsync(fd) == 0) && close(fd) == 0) {
			fd = -1;
			rc = rename(tmp, p);
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc < 0) {
		pp_error_set(err, "cannot write %s: %s", p, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(p);
	return rc;
}

int
pp_state_stage(const char *dir, const char *file, const char *text, struct pp_error *err)
{
	char *f = pp_xasprintf("%s.new", file);
	int rc = pp_state_write(dir, f, text, err);
	free(f);
	return rc;
}

int
pp_state_publish(const char *dir, const char *file, struct pp_error *err)
{
	char *p = pp_state_path(dir, file), *n = pp_xasprintf("%s.new", p);
	int rc = rename(n, p);
	if (rc < 0)
		pp_error_set(err, "cannot rename %s to %s: %s", n, p, strerror(errno));
	free(n);
	free(p);
	return rc;
}

void
pp_state_discard(const char *dir, const char *file)
{
	char *f = pp_xasprintf("%s.new", file);
	pp_state_remove(dir, f);
	free(f);
}

int
pp_state_write(const char *dir, const char *file, const char *text, struct pp_error *err)
{
	return state_write(dir, file, text, true, err);
}

int
pp_state_write_cache(const char *dir, const char *file, const char *text, struct pp_error *err)
{
	return state_write(dir, file, text, false, err);
}

/* One allocation of the file's size: growing a buffer would touch (fault in) twice the memory. */
char *
pp_state_read(const char *dir, const char *file)
{
	char *p = pp_state_path(dir, file);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *s = pp_xmalloc(cap);
	for (ssize_t n; len + 1 < cap && (n = read(fd, s + len, cap - 1 - len)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(s);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	s[len] = '\0';
	return s;
}

void
pp_state_remove(const char *dir, const char *file)
{
	char *p = pp_state_path(dir, file);
	unlink(p);
	free(p);
}

int
pp_state_link(const char *dir, const char *from, const char *to, struct pp_error *err)
{
	char *f = pp_state_path(dir, from), *t = pp_state_path(dir, to), *tmp = pp_xasprintf("%s.tmp", t);
	unlink(tmp);
	int rc = link(f, tmp) == 0 ? rename(tmp, t) : -1;
	unlink(tmp); /* left behind when `to` was already a link to `from`: rename does nothing then */
	if (rc < 0) {
		/* No hard links here (some file systems): copy. */
		unlink(tmp);
		char *text = pp_read_file(f, NULL);
		rc = text ? pp_state_write(dir, to, text, err) : pp_error_set(err, "cannot read %s: %s", f, strerror(errno));
		free(text);
	}
	free(tmp);
	free(t);
	free(f);
	return rc;
}

int
pp_pending_read(const char *dir, struct pp_pending *pd)
{
	memset(pd, 0, sizeof *pd);
	char *s = pp_state_read(dir, "pending");
	if (!s)
		return -1;
	long long dl = 0;
	int pid = 0;
	int n = sscanf(s, "id=%31s\ndeadline=%lld\npid=%d", pd->id, &dl, &pid);
	free(s);
	if (n < 2)
		return -1;
	pd->deadline = (time_t)dl;
	pd->pid = pid;
	return 0;
}

int
pp_pending_write(const char *dir, const struct pp_pending *pd, struct pp_error *err)
{
	/* No pid line until the timer's pid is known: a reader's "kill 0" would signal its own group. */
	char pid[32] = "";
	if (pd->pid > 1)
		snprintf(pid, sizeof pid, "pid=%d\n", (int)pd->pid);
	char *s = pp_xasprintf("id=%s\ndeadline=%lld\n%s", pd->id, (long long)pd->deadline, pid);
	int rc = pp_state_write(dir, "pending", s, err);
	free(s);
	return rc;
}

void
pp_confirm_state(const char *state_dir, struct pp_confirm_state *cs)
{
	struct pp_pending pd;
	memset(cs, 0, sizeof *cs);
	if (pp_pending_read(state_dir, &pd) == 0) {
		cs->deadline = pd.deadline;
		cs->timer_alive = pp_pending_timer_alive(&pd);
	}
	char *rolled = pp_state_read(state_dir, PP_ST_ROLLED);
	cs->timer_rollback = rolled ? (time_t)strtoll(rolled, NULL, 10) : 0;
	free(rolled);
}

const char *
pp_pending_timer_name(const struct pp_pending *pd, char buf[64])
{
	if (pd->pid > 1)
		snprintf(buf, 64, "the rollback timer (pid %d)", (int)pd->pid);
	else
		snprintf(buf, 64, "the rollback timer (never started)");
	return buf;
}

bool
pp_pending_timer_alive(const struct pp_pending *pd)
{
	/* No pid (yet): the apply that writes the record is still starting its timer. */
	if (pd->pid == 0)
		return time(NULL) < pd->deadline;
	if (pd->pid <= 1)
		return false;
	/* The pid alone may be reused: only a "rollback --timer ID" process is ours. */
	char path[40];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pd->pid);
	size_t len = 0;
	char *s = pp_read_file(path, &len);
	bool ours = false;
	for (size_t i = 0; s && i < len; i += strlen(s + i) + 1)
		if (strcmp(s + i, "--timer") == 0 && i + 8 < len && strcmp(s + i + 8, pd->id) == 0)
			ours = true;
	free(s);
	return ours;
}
