/* Saves the table atomically under a lock, keeping FILE.bak, never over a change made on disk meanwhile. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/table.h"
#include "portpilot/util.h"
#include "table-internal.h"

/*
 * Take FILE.lock, waiting at most wait_ms for another editor. Returns the fd.
 * The lock file is opened without following a link (a link there would have
 * its target overwritten with our pid) and must be a regular file.
 */
static int
take_lock(const char *path, const char *real, int wait_ms, struct pp_error *err)
{
	char *lp = pp_xasprintf("%s.lock", real), pid[32] = "";
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
	struct timespec ts = { 0, 20 * 1000000 };
	struct stat st = { 0 };

	if (fd < 0 && errno == ELOOP) {
		pp_error_set(err, "%s: the lock file %s is a symbolic link; portpilot does not follow it (the link's "
		             "target would be overwritten): remove the link (rm %s) and try again; nothing was written",
		             path, lp, lp);
		free(lp);
		return -1;
	}
	if (fd < 0) {
		pp_error_set(err, "%s: cannot create the lock file %s: %s; nothing was written", path, lp,
		             strerror(errno));
		free(lp);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, "%s: the lock file %s is %s, not a regular file: remove it and try again; "
		             "nothing was written", path, lp, pp_file_kind(st.st_mode));
		close(fd);
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

/*
 * Temporary files are "FILE.tmp-PID-XXXXXX" beside FILE: a save killed before
 * its rename leaves one, and the pid in the name says whose it was.
 */
static bool
stale_temp(const char *name, const char *base, size_t blen)
{
	const char *p = name + blen + 5;
	char *end;
	long pid;

	if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp-", 5) != 0 || !(*p >= '1' && *p <= '9'))
		return false;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno || pid <= 0 || pid > INT_MAX || *end != '-' || strlen(end + 1) != 6 || pid == (long)getpid())
		return false;
	/* Only a dead owner's: a live pid (ours, or a reused one) keeps its file. */
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove FILE.tmp-PID-* left by saves that were killed. Called under the lock. */
static void
clean_stale_temps(const char *real)
{
	char *dcopy = pp_xstrdup(real), *bcopy = pp_xstrdup(real);
	const char *base = basename(bcopy);
	size_t blen = strlen(base);
	int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;
	struct stat st;

	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		/* lstat-like: a link or anything but our own regular file stays. */
		if (stale_temp(e->d_name, base, blen) &&
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid())
			unlinkat(dfd, e->d_name, 0);
	}
	closedir(d);
out:
	free(dcopy);
	free(bcopy);
}

/*
 * Write text to a temp file beside real, fsync it, rename it to dest (in the
 * same directory), fsync the directory. st: the file replaced, whose mode and
 * owner the new one keeps (NULL: mode 0644, ours).
 */
static int
replace_file(const char *real, const char *dest, const char *text, size_t len, const struct stat *st,
             struct pp_error *err)
{
	char *tmp = pp_xasprintf("%s.tmp-%ld-XXXXXX", real, (long)getpid()), *dcopy = pp_xstrdup(real);
	int fd = mkstemp(tmp), dfd; /* O_CREAT|O_EXCL: never through a link planted there */
	const char *step = NULL;

	if (fd < 0) {
		step = "create a temporary file";
		goto fail;
	}
	/* The owner stays (best effort: only root may give a file away). */
	if (st)
		(void)!fchown(fd, st->st_uid, st->st_gid);
	if (fchmod(fd, st ? st->st_mode & 07777 : 0644) < 0)
		step = "set the mode of the temporary file";
	else if (pp_write_all(fd, text, len) < 0)
		step = "write the temporary file";
	else if (fsync(fd) < 0)
		step = "flush the temporary file to disk";
	if (close(fd) < 0 && step == NULL)
		step = "close the temporary file";
	if (step == NULL && rename(tmp, dest) < 0)
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
	pp_error_set(err, "%s: cannot %s: %s; the file on disk is unchanged", dest, step, strerror(errno));
	free(tmp);
	free(dcopy);
	return -1;
}

/*
 * The file a save must replace: path itself, or when path is a symbolic link
 * its target, so the change lands in the real file (a rename over the link
 * would replace the link with a copy and leave the real file as it was).
 * Temp, lock and .bak files go beside the target, in its own directory.
 */
static char *
real_path(const char *path, struct pp_error *err)
{
	struct stat lst;
	char *real;

	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return pp_xstrdup(path);
	if ((real = realpath(path, NULL)) == NULL) {
		pp_error_set(err, "%s: is a symbolic link whose target cannot be resolved (%s); create the target or "
		             "point the link at the real table; nothing was written", path, strerror(errno));
		return NULL;
	}
	return real;
}

/* FILE.bak must be a file the rename can replace: a directory there would block every save. */
static int
check_bak(const char *path, const char *bak, struct pp_error *err)
{
	struct stat st;

	if (lstat(bak, &st) < 0 || S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
		return 0;
	return pp_error_set(err, "%s: the backup %s is %s, where portpilot keeps the previous version of the table; "
	                    "move it away (mv %s %s.old) and save again; nothing was written", path, bak,
	                    pp_file_kind(st.st_mode), bak, bak);
}

int
pp_table_save(struct pp_table *t, int lock_wait_ms, struct pp_error *err)
{
	size_t len = 0;
	char *now = NULL, *bak = NULL, *real;
	struct pp_error e;
	struct stat st = { 0 };
	int lock, rc = -1;

	if ((real = real_path(t->path, err)) == NULL)
		return -1;
	if ((lock = take_lock(t->path, real, lock_wait_ms, err)) < 0) {
		free(real);
		return -1;
	}
	clean_stale_temps(real);
	now = pp_read_file_max(real, PP_TABLE_MAX, &len, &e);
	if (now == NULL && errno != ENOENT) {
		pp_error_set(err, "%.900s; nothing was written", e.msg);
		goto out;
	}
	if (now && stat(real, &st) < 0) {
		pp_error_set(err, "%s: cannot stat it: %s; nothing was written", t->path, strerror(errno));
		goto out;
	}
	if ((now != NULL) != t->existed || (now && (len != t->loaded_len || memcmp(now, t->loaded, len) != 0))) {
		/* Someone saved in between: carry this session's edits over to what is there now. */
		int r = pp_table_rebase(t, now, len, err);
		now = NULL; /* rebase took it: t->loaded now, or freed */
		if (r < 0)
			goto out;
	}
	bak = pp_xasprintf("%s.bak", real);
	if (t->existed && (rc = check_bak(t->path, bak, err)) == 0)
		rc = replace_file(real, bak, t->loaded, t->loaded_len, &st, err);
	if (rc < 0 && t->existed)
		goto out;
	if ((rc = replace_file(real, real, t->text, t->text_len, t->existed ? &st : NULL, err)) == 0) {
		if (t->loaded != t->text)
			free(t->loaded);
		t->loaded = t->text; /* the saved text is now what is on disk */
		t->loaded_len = t->text_len;
		t->existed = true;
		t->dirty = false;
		pp_table_journal_clear(t);
	}
out:
	free(now);
	free(bak);
	free(real);
	flock(lock, LOCK_UN);
	close(lock);
	return rc;
}
