/* bench/dataplane: new-connection rate through the lab router; this binary is the client and server of bench/dataplane.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Accept and close, forever (the script kills it by PID). */
static int
server(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4096) < 0) {
		perror("dataplane: server");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

/* One connection: handshake through the router, then a reset (no TIME_WAIT). 1 ok, 0 failed. */
static int
one(const struct sockaddr_in *to)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		return 0;
	int ok = 0;
	if (connect(s, (const struct sockaddr *)to, sizeof *to) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		struct pollfd p = { s, POLLOUT, 0 };
		int err = 0;
		socklen_t len = sizeof err;
		if (poll(&p, 1, 1000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			ok = 1;
	}
	struct linger l = { 1, 0 };
	setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(s);
	return ok;
}

/* Connect back to back for ms milliseconds; print "connections failures seconds". */
static int
client(const char *ip, int port, int ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, ip, &to.sin_addr) != 1)
		return 2;
	double t0 = now_s(), end = t0 + ms / 1e3, t;
	long ok = 0, bad = 0;
	while ((t = now_s()) < end) {
		if (one(&to))
			ok++;
		else
			bad++;
	}
	printf("%ld %ld %.6f\n", ok, bad, t - t0);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "--server") == 0)
		return server(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "--client") == 0)
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 1) {
		/* make bench: run the script from the source tree with this binary. */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			return 1;
		self[n] = '\0';
		execlp("sh", "sh", "bench/dataplane.sh", self, (char *)NULL);
		perror("dataplane: sh bench/dataplane.sh");
		return 1;
	}
	fprintf(stderr, "usage: dataplane | dataplane --server PORT | dataplane --client IP PORT MS\n");
	return 2;
}
