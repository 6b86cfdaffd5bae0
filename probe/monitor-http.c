/* --metrics ADDR:PORT: the Prometheus text over HTTP, in the monitor's own poll loop. Every
 * socket is non-blocking; a client gets MAX_CLIENTS company at most (the oldest goes first
 * when more come), REQ_MAX bytes of request, REQ_MS to send it and SEND_MS for the answer:
 * a slow, silent or flooding client costs a descriptor for seconds, never a check. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portpilot/util.h"
#include "monitor-internal.h"

#define MAX_CLIENTS 16
#define REQ_MAX 4096
#define REQ_MS 5000
#define SEND_MS 10000

struct client {
	int fd;
	double accepted, deadline;
	char req[REQ_MAX];
	size_t rlen;
	char head[256];
	size_t hlen, hoff;
	struct mon_blob *body;         /* NULL: no body (HEAD, errors) */
	size_t boff;
	bool sending;
};

struct mon_http {
	int lfd;
	char where[80];
	struct client c[MAX_CLIENTS];
	size_t n;
	size_t served;
};

const char *mon_http_where(const struct mon_http *h) { return h->where; }

/* "ADDR:PORT", "PORT", "[V6]:PORT" into a socket address; -1 + err. */
static int
parse_spec(const char *spec, struct sockaddr_storage *ss, socklen_t *sl, bool *loopback,
           struct pp_error *err)
{
	char host[64] = "127.0.0.1";
	const char *port = spec, *colon;
	char *end;
	long p;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (rb == NULL || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof host)
			goto bad;
		snprintf(host, sizeof host, "%.*s", (int)(rb - spec - 1), spec + 1);
		port = rb + 2;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if ((size_t)(colon - spec) >= sizeof host || strchr(spec, ':') != colon)
			goto bad;
		snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
		if (strcasecmp(host, "localhost") == 0)
			snprintf(host, sizeof host, "127.0.0.1");
		port = colon + 1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (end == port || *end || errno || p < 1 || p > 65535)
		goto bad;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*sl = sizeof *s4;
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*sl = sizeof *s6;
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		return 0;
	}
bad:
	return pp_error_set(err, "metrics address '%s': write ADDR:PORT with an IP address, e.g. "
	                    "127.0.0.1:9469 (or PORT alone for 127.0.0.1, [::1]:9469 for IPv6)", spec);
}

struct mon_http *
mon_http_open(const char *spec, bool remote_ok, struct pp_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	bool loopback = false;
	int fd, one = 1;

	if (parse_spec(spec, &ss, &sl, &loopback, err) < 0)
		return NULL;
	/* A router's other addresses face its LAN and the internet: the health of every service
	 * (and which are down) is for the operator, so only a loopback address unless asked. */
	if (!loopback && !remote_ok) {
		pp_error_set(err, "metrics address '%s' is not a loopback address: anyone who reaches it "
		             "would read which services are down; use 127.0.0.1:PORT (Prometheus on the "
		             "router, or an SSH tunnel), or add --metrics-remote ([monitor] metrics_remote "
		             "= yes) and a firewall rule if you mean it", spec);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pp_error_set(err, "metrics address '%s': %s", spec, strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		pp_error_set(err, "metrics address '%s': cannot listen: %s%s", spec, strerror(errno),
		             errno == EADDRINUSE ? " (another process has it; pick another port)" :
		             errno == EADDRNOTAVAIL ? " (no interface of this host has that address)" : "");
		close(fd);
		return NULL;
	}
	struct mon_http *h = pp_xcalloc(1, sizeof *h);
	h->lfd = fd;
	snprintf(h->where, sizeof h->where, "%s", spec);
	return h;
}

static void
drop(struct mon_http *h, size_t i)
{
	close(h->c[i].fd);
	mon_blob_put(h->c[i].body);
	h->c[i] = h->c[--h->n];
}

int
mon_http_pollfds(struct mon_http *h, struct pollfd *pfd, int max, double *wake)
{
	int n = 0;

	if (h == NULL || max < 1)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
	for (size_t i = 0; i < h->n && n < max; i++) {
		pfd[n++] = (struct pollfd){ .fd = h->c[i].fd, .events = h->c[i].sending ? POLLOUT : POLLIN };
		if (h->c[i].deadline < *wake)
			*wake = h->c[i].deadline;
	}
	return n;
}

/* The request is whole: an answer for GET or HEAD of /metrics (or /), else an error. */
static void
answer(struct client *c, struct mon_blob *b)
{
	char method[8] = "", path[64] = "";
	const char *status = "200 OK";
	bool head = false, body = true;

	sscanf(c->req, "%7s %63s", method, path);
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		status = "405 Method Not Allowed";
		body = false;
	} else if (strcmp(path, "/metrics") != 0 && strcmp(path, "/") != 0) {
		status = "404 Not Found";
		body = false;
	} else if (b == NULL) {
		status = "503 Service Unavailable";   /* before the first round of checks */
		body = false;
	}
	c->hlen = (size_t)snprintf(c->head, sizeof c->head, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	                           "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
	                           body ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
	                           body ? b->len : 0);
	if (body && !head) {
		c->body = b;
		b->refs++;
	}
	c->sending = true;
	c->deadline = c->accepted + REQ_MS + SEND_MS;
}

/* Returns false when the client is done (or gone). */
static bool
client_step(struct client *c, short rev, double now, struct mon_blob *b)
{
	ssize_t r;

	if (now >= c->deadline || (rev & (POLLERR | POLLNVAL)))
		return false;
	if (!c->sending && (rev & (POLLIN | POLLHUP))) {
		r = read(c->fd, c->req + c->rlen, sizeof c->req - 1 - c->rlen);
		if (r <= 0)
			return r < 0 && (errno == EAGAIN || errno == EINTR);
		c->rlen += (size_t)r;
		c->req[c->rlen] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
			answer(c, b);
		else if (c->rlen == sizeof c->req - 1)
			return false;              /* a request this long is no scraper's */
	}
	if (c->sending && (rev & POLLOUT || c->hoff == 0)) {
		while (c->hoff < c->hlen) {
			r = send(c->fd, c->head + c->hoff, c->hlen - c->hoff, MSG_NOSIGNAL);
			if (r < 0)
				return errno == EAGAIN || errno == EINTR;
			c->hoff += (size_t)r;
		}
		while (c->body && c->boff < c->body->len) {
			r = send(c->fd, c->body->data + c->boff, c->body->len - c->boff, MSG_NOSIGNAL);
			if (r < 0)
				return errno == EAGAIN || errno == EINTR;
			c->boff += (size_t)r;
		}
		return false;                  /* all sent: close */
	}
	return true;
}

void
mon_http_step(struct mon_http *h, const struct pollfd *pfd, int n, double now, struct mon_blob *b)
{
	if (h == NULL || n < 1)
		return;
	/* the clients first (their pollfd order is the array's before any drop moves it) */
	size_t nc = h->n;
	bool keep[MAX_CLIENTS];
	for (size_t i = 0; i < nc; i++) {
		short rev = (int)i + 1 < n ? pfd[i + 1].revents : 0;
		keep[i] = client_step(&h->c[i], rev, now, b);
	}
	for (size_t i = nc; i-- > 0; )
		if (!keep[i])
			drop(h, i);
	if (!(pfd[0].revents & POLLIN))
		return;
	/* A few at a time: a flood of connections must not keep the loop here. */
	for (int k = 0; k < MAX_CLIENTS; k++) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (h->n == MAX_CLIENTS) {     /* the oldest makes room: a scraper comes and goes */
			size_t old = 0;
			for (size_t i = 1; i < h->n; i++)
				if (h->c[i].accepted < h->c[old].accepted)
					old = i;
			drop(h, old);
		}
		struct client *c = &h->c[h->n++];
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->accepted = now;
		c->deadline = now + REQ_MS;
		h->served++;
	}
}

void
mon_http_close_fds(struct mon_http *h)
{
	if (h == NULL)
		return;
	close(h->lfd);
	for (size_t i = 0; i < h->n; i++)
		close(h->c[i].fd);
}

void
mon_http_free(struct mon_http *h)
{
	if (h == NULL)
		return;
	while (h->n)
		drop(h, h->n - 1);
	close(h->lfd);
	free(h);
}
