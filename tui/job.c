/* Work that may block (probe, watch, access log, DNS lookups) runs in a forked child; lines come back over a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tui-internal.h"

#define KILL_AFTER_MS 2000

/* The child must not draw, read keys or keep the TUI's flag-only signal handlers. */
static void
child_setup(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD };
	int null = open("/dev/null", O_RDWR);

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
}

int
tui_job_start(struct tui_job *j, void (*fn)(FILE *out, void *ctx), void *ctx, struct pp_error *err)
{
	int p[2];
	pid_t pid;

	memset(j, 0, sizeof *j);
	j->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return pp_error_set(err, "cannot create a pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return pp_error_set(err, "cannot start a child process: %s", strerror(errno));
	}
	if (pid == 0) {
		FILE *out;

		close(p[0]);
		child_setup();
		out = fdopen(p[1], "w");
		if (out) {
			setvbuf(out, NULL, _IOLBF, 0);
			fn(out, ctx);
			fflush(out);
		}
		_exit(0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->fd = p[0];
	return 0;
}

bool
tui_job_running(const struct tui_job *j)
{
	return j->pid > 0 && !j->reaped;
}

static long
ms_since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - a->tv_sec) * 1000L + (now.tv_nsec - a->tv_nsec) / 1000000L;
}

static bool
reap(struct tui_job *j)
{
	if (j->pid <= 0 || j->reaped)
		return false;
	if (waitpid(j->pid, &j->status, WNOHANG) != j->pid)
		return false;
	j->reaped = true;
	return true;
}

static void
close_fd(struct tui_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

bool
tui_job_poll(struct tui_job *j, void (*line)(void *ctx, char *text), void *ctx)
{
	bool any = false;
	ssize_t n;

	while (j->fd >= 0) {
		n = read(j->fd, j->buf + j->len, sizeof j->buf - 1 - j->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;                    /* EAGAIN: nothing more now */
		any = true;
		if (n == 0) {
			if (j->len) {             /* a last line without its newline */
				j->buf[j->len] = '\0';
				line(ctx, j->buf);
				j->len = 0;
			}
			close_fd(j);
			break;
		}
		j->len += (size_t)n;
		for (char *nl; (nl = memchr(j->buf, '\n', j->len)) != NULL;) {
			size_t used = (size_t)(nl - j->buf) + 1;

			*nl = '\0';
			line(ctx, j->buf);
			memmove(j->buf, j->buf + used, j->len - used);
			j->len -= used;
		}
		if (j->len == sizeof j->buf - 1) {  /* a line longer than the buffer: cut it */
			j->buf[j->len] = '\0';
			line(ctx, j->buf);
			j->len = 0;
		}
	}
	if (j->cancelled && !j->reaped && ms_since(&j->term_at) > KILL_AFTER_MS)
		kill(j->pid, SIGKILL);
	if (reap(j)) {
		close_fd(j);
		any = true;
	}
	return any;
}

void
tui_job_cancel(struct tui_job *j)
{
	if (!tui_job_running(j) || j->cancelled)
		return;
	j->cancelled = true;
	clock_gettime(CLOCK_MONOTONIC, &j->term_at);
	kill(j->pid, SIGTERM);
}

void
tui_job_stop(struct tui_job *j, int grace_ms)
{
	if (tui_job_running(j)) {
		if (!j->cancelled)
			tui_job_cancel(j);
		for (int i = 0; i < grace_ms / 10 && !reap(j); i++)
			usleep(10000);
		if (!j->reaped) {
			kill(j->pid, SIGKILL);
			waitpid(j->pid, &j->status, 0);
			j->reaped = true;
		}
	}
	close_fd(j);
}
