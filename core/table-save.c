/* Saves the table atomically under a lock, keeping FILE.bak, never over a file changed on disk. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/table.h"
#include "portpilot/util.h"

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Take FILE.lock, waiting at most wait_ms for another editor. Returns the fd. */
static int
take_lock(const char *path, int wait_ms, struct pp_error *err)
{
	char *lp = pp_xasprintf("%s.lock", path), pid[32] = "";
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct timespec ts = { 0, 20 * 1000000 };

	if (fd < 0) {
		pp_error_set(err, "%s: cannot create the lock file %s: %s; nothing was written", path, lp,
		             strerror(errno));
		free(lp);
		return -1;
	}
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 20) {
		if (errno != EWOULDBLOCK || waited >= wait_ms) {
			ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pp_error_set(err, "%s: another editor holds the lock %s (pid %s); nothing was written, "
			             "try again when it has finished", path, lp, *pid ? pp_trim(pid) : "unknown");
			close(fd);
			free(lp);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, strlen(pid), 0);
	free(lp);
	return fd;
}

/* Write text to a temp file beside path, fsync it, rename over path, fsync the directory. */
static int
replace_file(const char *path, const char *text, size_t len, mode_t mode, struct pp_error *err)
{
	char *tmp = pp_xasprintf("%s.XXXXXX", path), *dcopy = pp_xstrdup(path);
	int fd = mkstemp(tmp), dfd;
	const char *step = NULL;

	if (fd < 0) {
		step = "create a temporary file";
		goto fail;
	}
	if (fchmod(fd, mode) < 0)
		step = "set the mode of the temporary file";
	else if (write_all(fd, text, len) < 0)
		step = "write the temporary file";
	else if (fsync(fd) < 0)
		step = "flush the temporary file to disk";
	if (close(fd) < 0 && step == NULL)
		step = "close the temporary file";
	if (step == NULL && rename(tmp, path) < 0)
		step = "rename the temporary file over the table";
	if (step) {
		int e = errno;
		unlink(tmp);
		errno = e;
		goto fail;
	}
	/* The rename is durable only once the directory entry is on disk. */
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(tmp);
	free(dcopy);
	return 0;
fail:
	pp_error_set(err, "%s: cannot %s: %s; the file on disk is unchanged", path, step, strerror(errno));
	free(tmp);
	free(dcopy);
	return -1;
}

int
pp_table_save(struct pp_table *t, int lock_wait_ms, struct pp_error *err)
{
	size_t len = 0;
	char *now, *bak;
	struct stat st;
	mode_t mode = 0644;
	int lock, rc = -1;

	if ((lock = take_lock(t->path, lock_wait_ms, err)) < 0)
		return -1;
	now = pp_read_file(t->path, &len);
	if (now == NULL && errno != ENOENT) {
		pp_error_set(err, "%s: cannot read it back before saving: %s; nothing was written", t->path,
		             strerror(errno));
		goto out;
	}
	if ((now != NULL) != t->existed || (now && (len != t->loaded_len || memcmp(now, t->loaded, len) != 0))) {
		pp_error_set(err, "%s: the file changed on disk since it was loaded; nothing was written: "
		             "reload it and make the change again", t->path);
		goto out;
	}
	if (now && stat(t->path, &st) == 0)
		mode = st.st_mode & 07777;
	if (now) {
		bak = pp_xasprintf("%s.bak", t->path);
		rc = replace_file(bak, now, len, mode, err);
		free(bak);
		if (rc < 0)
			goto out;
	}
	if ((rc = replace_file(t->path, t->text, t->text_len, mode, err)) == 0) {
		if (t->loaded != t->text)
			free(t->loaded);
		t->loaded = t->text; /* the saved text is now what is on disk */
		t->loaded_len = t->text_len;
		t->existed = true;
		t->dirty = false;
	}
out:
	free(now);
	flock(lock, LOCK_UN);
	close(lock);
	return rc;
}
