/* bench/probe: runs tests/probe/bench-probe.sh (time to a verdict per fault scenario, capture overhead on forwarding) with this build's portpilot. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The source tree: PP_TOP, else the working directory (make bench runs from the top). */
static const char *top(void)
{
	const char *t = getenv("PP_TOP");
	return t && *t ? t : ".";
}

int main(void)
{
	char self[4096], bin[4096], script[4096];
	if (geteuid() != 0) {
		puts("skipped: needs root (network namespaces for the lab)");
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return perror("probe: /proc/self/exe"), 1;
	self[n] = '\0';
	/* This binary is BUILD/bench/probe; the portpilot it measures is BUILD/portpilot. */
	snprintf(bin, sizeof bin, "%s/../portpilot", dirname(self));
	snprintf(script, sizeof script, "%s/tests/probe/bench-probe.sh", top());
	if (access(script, R_OK) != 0 || access(bin, X_OK) != 0) {
		fprintf(stderr, "probe: need %s and %s (run from the source tree after make)\n", script, bin);
		return 1;
	}
	setenv("PORTPILOT", bin, 1);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("sh", "sh", script, (char *)NULL);
		perror("probe: sh");
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return perror("probe: fork"), 1;
	/* 77: the lab cannot be built here (no namespaces): a skip, not a failure. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		puts("skipped: cannot build the namespace lab here");
		return 0;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
