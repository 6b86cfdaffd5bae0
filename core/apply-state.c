/* The apply state directory: lock, rulesets (snapshot, applied, confirmed), the pending-confirm record. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

static int
lock_open(const char *dir, struct pp_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pp_error_set(err, "cannot create state directory %s: %s (use --state-dir DIR)", dir,
		                    strerror(errno));
	char *p = pp_state_path(dir, "apply.lock");
	/* Never through a link: whoever planted one would have us create or lock its target. */
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	if (fd < 0)
		pp_error_set(err, "cannot open %s: %s%s", p, strerror(errno),
		             errno == ELOOP || errno == EINVAL ? " (it must be a regular file, not a link: remove it)" : "");
	free(p);
	return fd;
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

int
pp_state_lock(const char *dir, struct pp_error *err)
{
	int fd = lock_open(dir, err);
	if (fd < 0)
		return -1;
	/* Another apply, confirm or the rollback timer holds it only for moments; bound the wait (10 s). */
	for (int i = 0; i < 200; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		nap_ms(50);
	}
	char who[160];
	pp_pid_name(pp_state_lock_holder(dir), who, sizeof who);
	close(fd);
	return pp_error_set(err, "%s/apply.lock has been held by %s for 10 s: try again when it ends",
	                    dir, who);
}

int
pp_state_lock_wait(const char *dir, struct pp_error *err)
{
	int fd = lock_open(dir, err);
	if (fd < 0)
		return -1;
	pid_t told = -1;
	time_t since = 0;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		pid_t h = pp_state_lock_holder(dir);
		if (!since)
			since = time(NULL);
		if (h != told) {
			char *rec = pp_xasprintf("since=%lld\nholder=%d\n", (long long)since, (int)h);
			struct pp_error e;
			pp_state_write(dir, PP_ST_WAITING, rec, &e);
			free(rec);
			told = h;
		}
		nap_ms(100);
	}
	if (since)
		pp_state_remove(dir, PP_ST_WAITING);
	return fd;
}

pid_t
pp_state_lock_holder(const char *dir)
{
	char *p = pp_state_path(dir, "apply.lock");
	struct stat st;
	int rc = lstat(p, &st);
	free(p);
	char *locks = rc == 0 ? pp_read_file("/proc/locks", NULL) : NULL;
	pid_t holder = 0;
	/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters are listed as "1: -> FLOCK ...". */
	for (char *l = locks; l && *l && !holder; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		char kind[16], mode[16], rw[16];
		int pid;
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(l, "%*d: %15s %15s %15s %d %x:%x:%llu", kind, mode, rw, &pid, &maj, &min, &ino) == 7 &&
		    strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		    major(st.st_dev) == maj && minor(st.st_dev) == min)
			holder = pid;
	}
	free(locks);
	return holder;
}

const char *
pp_pid_name(pid_t pid, char *buf, size_t n)
{
	if (pid <= 0) {
		snprintf(buf, n, "another process");
		return buf;
	}
	char path[40];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	size_t len = 0;
	char *s = pp_read_file(path, &len);
	/* The command line, NULs as spaces, control characters dropped, at most 80 bytes of it. */
	char cmd[81] = "";
	size_t k = 0;
	for (size_t i = 0; s && i < len && k < sizeof cmd - 1; i++)
		if (s[i] == '\0')
			cmd[k++] = ' ';
		else if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
			cmd[k++] = s[i];
	while (k && cmd[k - 1] == ' ')
		k--;
	cmd[k] = '\0';
	free(s);
	if (k)
		snprintf(buf, n, "pid %d (%s)", (int)pid, cmd);
	else
		snprintf(buf, n, "pid %d", (int)pid);
	return buf;
}

void
pp_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static bool
write_all(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

/* head (NULL: none) then text: a record's head line without copying its megabytes behind it. */
static int
state_write2(const char *dir, const char *file, const char *head, const char *text, bool durable,
             struct pp_error *err)
{
	char *p = pp_state_path(dir, file), *tmp = pp_xasprintf("%s.tmp", p);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if ((!head || write_all(fd, head)) && write_all(fd, text) && (!durable || fsync(fd) == 0) &&
		    close(fd) == 0) {
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
pp_state_stage(const char *dir, const char *file, const char *head, const char *text, struct pp_error *err)
{
	char *f = pp_xasprintf("%s.new", file);
	int rc = state_write2(dir, f, head, text, true, err);
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
	return state_write2(dir, file, NULL, text, true, err);
}

int
pp_state_write_cache(const char *dir, const char *file, const char *text, struct pp_error *err)
{
	return state_write2(dir, file, NULL, text, false, err);
}

/* One allocation of the file's size: growing a buffer would touch (fault in) twice the memory. */
char *
pp_state_read(const char *dir, const char *file)
{
	return pp_state_read_head(dir, file, SIZE_MAX - 1);
}

char *
pp_state_read_head(const char *dir, const char *file, size_t max)
{
	char *p = pp_state_path(dir, file);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(p);
	struct stat st;
	if (fd < 0)
		return NULL;
	/* Only a regular file (a FIFO or device planted here would block or never end). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	size_t cap = ((size_t)st.st_size < max ? (size_t)st.st_size : max) + 1, len = 0;
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
	if (n < 2) {
		free(s);
		return -1;
	}
	pd->deadline = (time_t)dl;
	pd->pid = pid;
	pd->armed = strstr(s, "\narmed=1\n") != NULL;
	const char *be = strstr(s, "\nbackend=");
	if (be)
		sscanf(be + 9, "%15s", pd->backend);
	free(s);
	return 0;
}

int
pp_pending_write(const char *dir, const struct pp_pending *pd, struct pp_error *err)
{
	/* No pid line until the timer's pid is known: a reader's "kill 0" would signal its own group. */
	char pid[32] = "";
	if (pd->pid > 1)
		snprintf(pid, sizeof pid, "pid=%d\n", (int)pd->pid);
	char be[32] = "";
	if (pd->backend[0])
		snprintf(be, sizeof be, "backend=%s\n", pd->backend);
	char *s = pp_xasprintf("id=%s\ndeadline=%lld\n%s%s%s", pd->id, (long long)pd->deadline, pid,
	                       pd->armed ? "armed=1\n" : "", be);
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

void
pp_pending_view(const char *dir, const struct pp_pending *pd, struct pp_pending_view *v)
{
	memset(v, 0, sizeof *v);
	if (!pp_pending_timer_alive(pd)) {
		v->state = PP_PEND_GONE;
		return;
	}
	v->state = pd->armed ? PP_PEND_UNFINISHED : PP_PEND_RUNNING;
	char *w = time(NULL) >= pd->deadline ? pp_state_read(dir, PP_ST_WAITING) : NULL;
	long long since = 0;
	int holder = 0;
	if (w && sscanf(w, "since=%lld\nholder=%d", &since, &holder) == 2) {
		v->state = PP_PEND_WAITING;
		v->waiting_since = (time_t)since;
		/* The holder now, if the lock changed hands since the timer wrote it down. */
		pid_t now = pp_state_lock_holder(dir);
		v->holder = now ? now : holder;
	}
	free(w);
}

const char *
pp_pending_state_name(enum pp_pending_state s)
{
	static const char *n[] = { "running", "unfinished", "waiting_for_lock", "gone" };
	return n[s];
}
