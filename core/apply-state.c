/* The apply state directory: lock, rulesets (snapshot, applied, confirmed), the pending-confirm record. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply-internal.h"
#include "portpilot/util.h"

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

int
pp_state_write(const char *dir, const char *file, const char *text, struct pp_error *err)
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
		if (off == len && fsync(fd) == 0 && close(fd) == 0) {
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

char *
pp_state_read(const char *dir, const char *file)
{
	char *p = pp_state_path(dir, file);
	char *s = pp_read_file(p, NULL);
	free(p);
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
	char *s = pp_xasprintf("id=%s\ndeadline=%lld\npid=%d\n", pd->id, (long long)pd->deadline, pd->pid);
	int rc = pp_state_write(dir, "pending", s, err);
	free(s);
	return rc;
}
