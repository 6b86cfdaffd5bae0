/* RFC 2136 dynamic update with a TSIG key, through nsupdate; the key goes over a pipe, never argv. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ddns-internal.h"

#define NSUPDATE_TIMEOUT 20   /* seconds for the whole exchange */

static void
script(struct pp_buf *b, struct ddns_job *j, const char *host, bool secret)
{
	const struct pp_ddns_conf *dc = j->dc;
	char *zone = ddns_zone_of(dc, host);
	const char *colon = strrchr(dc->server, ':');
	/* "host:port" (IPv4 or name) means a port; a bare IPv6 address has more colons. */
	bool port = colon && strchr(dc->server, ':') == colon;

	if (port)
		pp_buf_printf(b, "server %.*s %s\n", (int)(colon - dc->server), dc->server, colon + 1);
	else
		pp_buf_printf(b, "server %s\n", dc->server);
	pp_buf_printf(b, "zone %s\n", zone);
	if (j->cr->key_name && j->cr->key_secret)
		pp_buf_printf(b, "key %s:%s %s\n", j->cr->key_algorithm ? j->cr->key_algorithm : "hmac-sha256",
		              j->cr->key_name, secret ? j->cr->key_secret : "***");
	/* IPv6 only: the A record is left alone (the IPv4 address is not ours to publish). */
	if (j->addr4)
		pp_buf_printf(b, "update delete %s. A\nupdate add %s. %d A %s\n", host, host, dc->ttl, j->addr4);
	if (j->addr6)
		pp_buf_printf(b, "update delete %s. AAAA\nupdate add %s. %d AAAA %s\n", host, host,
		              dc->ttl, j->addr6);
	pp_buf_addstr(b, "send\n");
	free(zone);
}

/* nsupdate's complaint, in the classes of the state machine. */
static enum pp_ddns_code
classify(int status, const char *err)
{
	if (status == 0)
		return PP_DC_GOOD;
	/* TSIG trouble shows as NOTAUTH(BADSIG/BADKEY/BADTIME); a policy refusal as REFUSED. */
	if (strstr(err, "REFUSED") || strstr(err, "tsig") || strstr(err, "TSIG") ||
	    strstr(err, "BADKEY") || strstr(err, "BADSIG") || strstr(err, "BADTIME"))
		return PP_DC_BADAUTH;
	/* Plain NOTAUTH: the server is not primary for the zone. */
	if (strstr(err, "NOTAUTH") || strstr(err, "NOTZONE") || strstr(err, "NXDOMAIN") ||
	    strstr(err, "not authoritative"))
		return PP_DC_NOHOST;
	if (strstr(err, "SERVFAIL"))
		return PP_DC_DNSERR;
	if (strstr(err, "communications error") || strstr(err, "timed out") ||
	    strstr(err, "couldn't get address") || strstr(err, "connection refused") ||
	    strstr(err, "not found") || strstr(err, "could not talk"))
		return PP_DC_NETWORK;
	return PP_DC_UNKNOWN;
}

/* Run nsupdate with input on stdin; its stderr (and stdout) into out. Returns exit status or -1. */
static int
run(const char *input, struct pp_buf *out)
{
	int in[2], o[2], status = -1;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(o, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(o[1], 2);
		execlp("nsupdate", "nsupdate", "-v", "-t", "10", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (pid > 0) {
		signal(SIGPIPE, SIG_IGN);
		/* The script is a few hundred bytes: it fits in the pipe, no deadlock. */
		if (write(in[1], input, strlen(input)) < 0)
			pp_buf_addstr(out, "cannot write to nsupdate");
	}
	close(in[1]);
	time_t end = time(NULL) + NSUPDATE_TIMEOUT;
	char buf[512];
	struct pollfd pfd = { o[0], POLLIN, 0 };
	while (pid > 0 && time(NULL) < end && poll(&pfd, 1, 1000) >= 0) {
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t n = read(o[0], buf, sizeof buf);
		if (n <= 0)
			break;
		if (out->len < 4096)
			pp_buf_add(out, buf, (size_t)n);
	}
	close(o[0]);
	if (pid > 0) {
		/* Output closed does not mean exited yet: wait, bounded by the deadline. */
		pid_t w;
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < end)
			poll(NULL, 0, 10);
		if (w == 0) {
			kill(pid, SIGKILL);
			pp_buf_addstr(out, " nsupdate timed out");
			waitpid(pid, &status, 0);
			return 1;
		}
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	return status;
}

/* Does the server at ip:port serve want as host's A (or AAAA) record? Says so in out. */
static bool
serves(struct ddns_job *j, const char *ip, int port, const char *host, const char *want,
       struct pp_buf *out)
{
	bool v6 = strchr(want, ':') != NULL;
	char got[46] = "";
	int rc = ddns_dns_query(ip, port, host, v6, got, sizeof got);

	if (rc == 1 && strcmp(got, want) == 0) {
		pp_buf_printf(out, "verified: %s serves %s", j->dc->server, got);
		return true;
	}
	pp_buf_printf(out, "update accepted but %s answers %s", j->dc->server,
	              rc == 1 ? got : rc == 0 ? (v6 ? "NXDOMAIN/no AAAA record" : "NXDOMAIN/no A record") :
	              "nothing");
	return false;
}

/*
 * Ask the server that took the update what it now serves: "good" only
 * when it serves the new address(es). NXDOMAIN or another address after a
 * successful update means it did not take effect: retry, not a loop.
 */
static enum pp_ddns_code
verify(struct ddns_job *j, const char *host, struct pp_buf *out)
{
	char ip[64];
	const char *colon = strrchr(j->dc->server, ':');
	int port = 53;
	struct in_addr a;

	snprintf(ip, sizeof ip, "%s", j->dc->server);
	if (colon && strchr(j->dc->server, ':') == colon) {
		ip[colon - j->dc->server] = '\0';
		port = atoi(colon + 1);
	}
	if (inet_pton(AF_INET, ip, &a) != 1) {
		pp_buf_addstr(out, "(not verified: server is not an IPv4 address)");
		return PP_DC_GOOD;
	}
	if (j->addr4 && !serves(j, ip, port, host, j->addr4, out))
		return PP_DC_UNKNOWN;
	if (j->addr4 && j->addr6)
		pp_buf_addstr(out, ", ");
	if (j->addr6 && !serves(j, ip, port, host, j->addr6, out))
		return PP_DC_UNKNOWN;
	return PP_DC_GOOD;
}

void
ddns_nsupdate(struct ddns_job *j)
{
	struct pp_buf det = { 0 };

	pp_buf_add(&det, "", 0);
	for (size_t i = 0; i < j->n; i++) {
		struct pp_buf in = { 0 }, out = { 0 };
		pp_buf_add(&out, "", 0);
		script(&in, j, j->hosts[i], true);
		int st = run(in.data, &out);
		if (st == 127)
			pp_buf_addstr(&out, "nsupdate not found: install bind9-dnsutils");
		j->codes[i] = st < 0 ? PP_DC_NETWORK : classify(st, out.data);
		if (j->codes[i] == PP_DC_GOOD)
			j->codes[i] = verify(j, j->hosts[i], &out);
		/* nsupdate echoes nothing of the key; its messages are safe to keep. */
		for (char *p = out.data; *p; p++)
			if (*p == '\n')
				*p = ' ';
		pp_buf_printf(&det, "%snsupdate %s -> %s%s", i ? "; " : "", j->hosts[i],
		              st == 0 ? "ok, " : "failed: ", pp_trim(out.data));
		explicit_bzero(in.data, in.len);
		pp_buf_free(&in);
		pp_buf_free(&out);
	}
	snprintf(j->detail, sizeof j->detail, "%s", det.data);
	pp_buf_free(&det);
}
