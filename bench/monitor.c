/* bench/monitor: the monitor's cost for 2,000 HTTP mappings (CPU, memory) and the time from a
 * failure to the down state, against a local server; side by side with the checks' rate.
 * BENCH_MONITOR_LISTS=1: one mapping in four a list of three ports (two more connects each). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/util.h"
#include "../probe/monitor-internal.h"

#define N 2000

/* A plain HTTP server on 127.0.0.1 in a child: read the request, answer 200, close. */
static pid_t serve(uint16_t *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 4096) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) < 0)
		return perror("monitor: server"), -1;
	*port = ntohs(sa.sin_port);
	pid_t pid = fork();
	if (pid == 0) {
		static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
		char buf[4096];
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				continue;
			/* A client that gave up gets nothing: a failed send needs no handling. */
			if (recv(c, buf, sizeof buf, 0) > 0)
				(void)!send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
			close(c);
		}
	}
	close(s);
	return pid;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long status_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static unsigned long long total_checks(struct mon *M)
{
	unsigned long long c = 0;
	for (size_t i = 0; i < M->n; i++)
		c += M->t[i].checks;
	return c;
}

static size_t count_state(struct mon *M, enum pp_health h)
{
	size_t c = 0;
	for (size_t i = 0; i < M->n; i++)
		c += M->t[i].sm.state == h;
	return c;
}

/* Run for seconds of monotonic time; CPU seconds spent. */
static double run_for(struct mon *M, double seconds)
{
	double c0 = cpu_s();
	mon_run(M, false, pp_now_ms() + seconds * 1000);
	return cpu_s() - c0;
}

int main(void)
{
	char dir[] = "/tmp/pp-bench-monitor-XXXXXX";
	static struct pp_mapping maps[N];
	struct pp_cli cli = { .out = stdout, .err = stderr };
	struct mon M = { .cli = &cli };
	struct pp_error err;
	uint16_t port;
	const char *real = getenv("BENCH_MONITOR_SECONDS");
	int lists = getenv("BENCH_MONITOR_LISTS") && atoi(getenv("BENCH_MONITOR_LISTS")) > 0;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return perror("monitor: mkdtemp"), 1;
	pid_t srv = serve(&port);
	if (srv < 0)
		return 1;
	long rss0 = status_kb("VmRSS:");
	/* The mappings as the table would give them (127.0.0.1 is refused in a real table; here it
	 * keeps the bench off the network). */
	struct pp_check_timing d = { .interval_s = 1, .timeout_ms = 5000, .fail_after = 2, .recover_after = 2 };
	M.t = pp_xcalloc(N, sizeof *M.t);
	struct pp_port_pair more[2] = { { port, port, port, port }, { port, port, port, port } };
	for (int i = 0; i < N; i++) {
		maps[i].name = pp_xasprintf("web-%d", i);
		maps[i].internal_ip = 0x7f000001;
		maps[i].in_lo = maps[i].in_hi = port;
		maps[i].proto = PP_TCP;
		maps[i].check = PP_CK_HTTP;
		/* One in four a port list of three (the http check on one, a connect on two). */
		if (lists && i % 4 == 0) {
			maps[i].more_pub = more;
			maps[i].nmore_pub = 2;
		}
		if (mon_target_init(&M.t[M.n++], &maps[i], "bench", &d, &err) < 0)
			return fprintf(stderr, "monitor: %s\n", err.msg), 1;
	}
	M.mc = (struct pp_mon_conf){ .interval_s = 1, .fail_after = 2, .recover_after = 2,
	                             .history_max_bytes = 1 << 20, .diagnose = false };
	M.state_path = pp_xasprintf("%s/monitor-state.json", dir);
	FILE *devnull = fopen("/dev/null", "w");
	cli.err = devnull;
	setenv("PORTPILOT_JOURNAL_SOCKET", "/nonexistent/journal.socket", 1);
	if ((M.notify = mon_notify_new(&M.mc, dir, devnull, &err)) == NULL)
		return fprintf(stderr, "monitor: %s\n", err.msg), 1;

	/* 1. Every mapping checked once a second: the cost per check, scaled to a 30 s interval. */
	double secs = 6, cpu = run_for(&M, secs);
	unsigned long long checks = total_checks(&M);
	double per_check_us = cpu / (double)checks * 1e6;
	printf("%d mappings (%d of them 3-port lists), HTTP check every 1 s for %.0f s: %llu checks (%.0f/s), %zu up\n", N, lists ? N / 4 : 0, secs,
	       checks, checks / secs, count_state(&M, PP_HEALTH_UP));
	printf("  CPU %.1f%% of one core = %.1f us a check; at a 30 s interval: %.3f%% of one core (goal < 1%%)\n",
	       cpu / secs * 100, per_check_us, per_check_us * N / 30.0 / 1e6 * 100);
	printf("  RSS %ld KiB (peak %ld KiB, %ld KiB before the mappings; goal < 20 MB)\n",
	       status_kb("VmRSS:"), status_kb("VmHWM:"), rss0);

	/* 2. At the real interval for a while, when asked (BENCH_MONITOR_SECONDS=180). */
	if (real && atoi(real) > 0) {
		for (size_t i = 0; i < M.n; i++)
			M.t[i].tm.interval_s = 30, M.t[i].next_due = 0;
		unsigned long long c0 = total_checks(&M);
		secs = atoi(real);
		cpu = run_for(&M, secs);
		printf("%d mappings every 30 s for %.0f s: %llu checks, CPU %.3f%% of one core, RSS %ld KiB (peak %ld)\n",
		       N, secs, total_checks(&M) - c0, cpu / secs * 100, status_kb("VmRSS:"), status_kb("VmHWM:"));
		for (size_t i = 0; i < M.n; i++)
			M.t[i].tm.interval_s = 1, M.t[i].next_due = 0;
		run_for(&M, 2.5);
	}

	/* 3. The server stops: how long until every mapping is down (interval 1 s x fail_after 2). */
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	double t0 = pp_now_ms(), first = 0;
	while (count_state(&M, PP_HEALTH_DOWN) < M.n && pp_now_ms() - t0 < 15000) {
		mon_run(&M, false, pp_now_ms() + 20);
		if (first == 0 && count_state(&M, PP_HEALTH_DOWN) > 0)
			first = pp_now_ms() - t0;
	}
	printf("server stopped: first mapping down after %.2f s, all %zu after %.2f s "
	       "(interval 1 s x fail_after 2 = 2 s, plus the check itself and a start tick of 25 ms)\n", first / 1000, count_state(&M, PP_HEALTH_DOWN),
	       (pp_now_ms() - t0) / 1000);

	for (size_t i = 0; i < M.n; i++)
		mon_target_free(&M.t[i]);
	mon_notify_free(M.notify);
	free(M.t);
	free(M.pend);
	free(M.state_path);
	fclose(devnull);
	char *cmd = pp_xasprintf("rm -rf %s", dir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : 1;
}
