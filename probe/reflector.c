/* The reflector: a small HTTP(S) service outside the site that says what address it sees and connects back. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "portpilot/conf.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

#define MAX_CHILDREN 32
#define RATE_SLOTS 256
#define REQ_MAX 4096

struct rate_slot {
	uint32_t ip;
	time_t start;
	int count;
};

struct conn {
	int fd;
	SSL *ssl;                      /* NULL: plain HTTP */
	struct sockaddr_in peer, local;
	bool limited;
};

struct pp_reflector_tls {
	SSL_CTX *ctx;
};

/* Constant time, so the token cannot be guessed byte by byte from response times. */
static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return d == 0;
}

static int parse_listen(const char *s, struct sockaddr_in *sa, struct pp_error *err)
{
	const char *colon = strrchr(s, ':');
	uint16_t port;
	char host[64];
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - s) >= sizeof host || pp_parse_u16(colon + 1, &port) < 0)
		return pp_error_set(err, "--listen %s: expected ADDR:PORT, e.g. 0.0.0.0:9443", s);
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	if (!*host)
		strcpy(host, "0.0.0.0");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return pp_error_set(err, "--listen %s: '%s' is not an IPv4 address", s, host);
	sa->sin_port = htons(port);
	return 0;
}

/* Counts requests per source address in one-minute windows. */
static bool rate_exceeded(struct rate_slot *slots, uint32_t ip, int per_min, time_t now)
{
	struct rate_slot *free_slot = NULL, *oldest = &slots[0];
	for (int i = 0; i < RATE_SLOTS; i++) {
		struct rate_slot *s = &slots[i];
		if (s->count && s->ip == ip) {
			if (now - s->start >= 60) {
				s->start = now;
				s->count = 0;
			}
			return ++s->count > per_min;
		}
		if (!s->count || now - s->start >= 60)
			free_slot = free_slot ? free_slot : s;
		if (s->start < oldest->start)
			oldest = s;
	}
	/* A full table forgets its oldest address rather than refusing everyone. */
	struct rate_slot *s = free_slot ? free_slot : oldest;
	*s = (struct rate_slot){ .ip = ip, .start = now, .count = 1 };
	return per_min < 1;
}

static ssize_t conn_read(const struct conn *c, char *buf, size_t n)
{
	return c->ssl ? SSL_read(c->ssl, buf, (int)n) : read(c->fd, buf, n);
}

static bool conn_write(const struct conn *c, const char *buf, size_t n)
{
	return (c->ssl ? SSL_write(c->ssl, buf, (int)n) : write(c->fd, buf, n)) == (ssize_t)n;
}

static void reply(const struct conn *c, int status, const char *body)
{
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" :
	                     status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" :
	                     status == 404 ? "Not Found" : status == 429 ? "Too Many Requests" : "Error";
	char head[256];
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                 status, reason, strlen(body) + 1);
	if (conn_write(c, head, n) && conn_write(c, body, strlen(body)))
		conn_write(c, "\n", 1);
}

/* The socket's receive timeout (set in serve_one) bounds each read, TLS or not. */
static int read_request(const struct conn *c, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = conn_read(c, buf + len, cap - 1 - len);
		if (r <= 0)
			return -1;
		len += r;
		buf[len] = 0;
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return 0;
	}
	return -1;
}

/* The value of header NAME (case-insensitive), copied into out. */
static bool header(const char *req, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *l = strchr(req, '\n'); l; l = strchr(l, '\n')) {
		l++;
		if (strncasecmp(l, name, nl) || l[nl] != ':')
			continue;
		const char *v = l + nl + 1;
		while (*v == ' ')
			v++;
		size_t k = strcspn(v, "\r\n");
		if (k >= n)
			k = n - 1;
		memcpy(out, v, k);
		out[k] = 0;
		return true;
	}
	return false;
}

static const char *query_param(const char *query, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t k = strcspn(p + kl + 1, "&");
			if (k >= n)
				k = n - 1;
			memcpy(out, p + kl + 1, k);
			out[k] = 0;
			return out;
		}
	}
	return NULL;
}

static bool query_only(const char *query, const char *const *known)
{
	for (const char *p = query; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		size_t k = strcspn(p, "=&");
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= strlen(known[i]) == k && !strncmp(p, known[i], k);
		if (!ok)
			return false;
	}
	return true;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One connect-back to the requester: the only target this service ever contacts. */
static const char *connect_back(const struct conn *c, bool udp, uint16_t port, int timeout_ms)
{
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	struct sockaddr_in to = c->peer, from = c->local;
	const char *res = "unreachable";
	if (fd < 0)
		return "error";
	to.sin_port = htons(port);
	from.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0) {
		close(fd);
		return "error";
	}
	int r = connect(fd, (struct sockaddr *)&to, sizeof to);
	if (r < 0 && errno != EINPROGRESS) {
		close(fd);
		return errno == ECONNREFUSED ? "refused" : "unreachable";
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (udp) {
		/* Two datagrams, in case the first is lost while a NAT sets up state. */
		static const char msg[] = "portpilot reflector probe\n";
		res = "no_reply";
		for (int sent = 0; ms_since(&t0) < timeout_ms;) {
			if (sent < 2 && ms_since(&t0) >= sent * timeout_ms / 2) {
				if (send(fd, msg, sizeof msg - 1, 0) < 0 && errno == ECONNREFUSED) {
					res = "refused";
					break;
				}
				sent++;
			}
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 100) <= 0)
				continue;
			char b[512];
			ssize_t n = recv(fd, b, sizeof b, 0);
			res = n >= 0 ? "reply" : errno == ECONNREFUSED ? "refused" : "unreachable";
			break;
		}
	} else {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, timeout_ms) <= 0) {
			res = "timeout";
		} else {
			int e = 0;
			socklen_t el = sizeof e;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			/* A reset after the handshake (a server that accepts, then closes at once) still
			 * proves the port answers; a refusal is a RST to the SYN itself. */
			res = e == 0 || e == ECONNRESET ? "connected" : e == ECONNREFUSED ? "refused" : "unreachable";
		}
	}
	close(fd);
	return res;
}

static int handle_check(const struct conn *c, const char *query, const char *peer, int max_ms,
                        char *body, size_t n)
{
	static const char *const known[] = { "proto", "port", "timeout", "ip", NULL };
	char proto[8] = "tcp", ports[8] = "", tms[12] = "", ip[64];
	uint16_t port;
	if (!query_only(query, known)) {
		snprintf(body, n, "{\"error\":\"unknown parameter: only proto, port, timeout and ip "
		         "(which must be your own address, %s) are accepted\"}", peer);
		return 403;
	}
	if (query_param(query, "ip", ip, sizeof ip) && strcmp(ip, peer)) {
		snprintf(body, n, "{\"error\":\"the reflector connects back only to the requester's "
		         "address (%s), never to a third party\"}", peer);
		return 403;
	}
	query_param(query, "proto", proto, sizeof proto);
	query_param(query, "port", ports, sizeof ports);
	if ((strcmp(proto, "tcp") && strcmp(proto, "udp")) || pp_parse_u16(ports, &port) < 0) {
		snprintf(body, n, "{\"error\":\"need proto=tcp|udp and port=1..65535\"}");
		return 400;
	}
	int timeout = query_param(query, "timeout", tms, sizeof tms) ? atoi(tms) : max_ms;
	if (timeout < 100 || timeout > max_ms)
		timeout = max_ms;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *res = connect_back(c, !strcmp(proto, "udp"), port, timeout);
	char from[16];
	inet_ntop(AF_INET, &c->local.sin_addr, from, sizeof from);
	snprintf(body, n, "{\"ip\":\"%s\",\"from\":\"%s\",\"proto\":\"%s\",\"port\":%u,"
	         "\"result\":\"%s\",\"ms\":%ld}", peer, from, proto, port, res, ms_since(&t0));
	return 200;
}

static int route(const struct pp_reflector_opts *o, const struct conn *c, char *req,
                 char *body, size_t n)
{
	char peer[16], tok[256];
	inet_ntop(AF_INET, &c->peer.sin_addr, peer, sizeof peer);
	if (c->limited) {
		snprintf(body, n, "{\"error\":\"rate limit: at most %d requests a minute per address\"}",
		         o->rate_per_min);
		return 429;
	}
	if (strncmp(req, "GET /", 5)) {
		snprintf(body, n, "{\"error\":\"only GET is served\"}");
		return 400;
	}
	if (o->token && *o->token) {
		const char *t = NULL;
		if (header(req, "Authorization", tok, sizeof tok) && !strncasecmp(tok, "Bearer ", 7))
			t = tok + 7;
		else if (header(req, "X-Portpilot-Token", tok, sizeof tok))
			t = tok;
		if (!t || !token_equal(t, o->token)) {
			snprintf(body, n, "{\"error\":\"token required: send Authorization: Bearer TOKEN\"}");
			return 401;
		}
	}
	char *path = req + 4;
	path[strcspn(path, " \r\n")] = 0;
	char *query = strchr(path, '?');
	if (query)
		*query++ = 0;
	if (!strcmp(path, "/v1/whoami")) {
		snprintf(body, n, "{\"ip\":\"%s\"}", peer);
		return 200;
	}
	if (!strcmp(path, "/v1/check"))
		return handle_check(c, query ? query : "", peer, o->max_timeout_ms, body, n);
	snprintf(body, n, "{\"error\":\"no such path: use /v1/whoami or /v1/check\"}");
	return 404;
}

static void serve_one(const struct pp_reflector_opts *o, struct conn *c)
{
	char req[REQ_MAX], body[512], peer[16], path[96];
	int status;
	struct timeval tv = { .tv_sec = 5 };
	alarm(o->max_timeout_ms / 1000 + 10);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	inet_ntop(AF_INET, &c->peer.sin_addr, peer, sizeof peer);
	if (o->tls) {
		c->ssl = SSL_new(o->tls->ctx);
		if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_accept(c->ssl) != 1) {
			/* No request was read: a client that did not trust us sent nothing. */
			const char *why = ERR_reason_error_string(ERR_peek_last_error());
			if (o->log)
				fprintf(o->log, "reflector: %s TLS handshake failed: %s\n", peer,
				        why ? why : "connection closed"), fflush(o->log);
			SSL_free(c->ssl);
			c->ssl = NULL;
			return;
		}
	}
	if (read_request(c, req, sizeof req) < 0) {
		snprintf(body, sizeof body, "{\"error\":\"incomplete request\"}");
		status = 400;
		strcpy(path, "-");
	} else {
		/* Log the path only: the query never holds secrets, headers may. */
		size_t k = strcspn(req, " ");
		snprintf(path, sizeof path, "%.*s", (int)strcspn(req + k + (req[k] != 0), " \r\n"),
		         req + k + (req[k] != 0));
		/* A request line is the sender's text: keep control bytes out of the log. */
		for (char *q = path; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				*q = '?';
		status = route(o, c, req, body, sizeof body);
	}
	reply(c, status, body);
	if (c->ssl)
		SSL_shutdown(c->ssl), SSL_free(c->ssl), c->ssl = NULL;
	shutdown(c->fd, SHUT_WR);
	if (o->log)
		fprintf(o->log, "reflector: %s %s -> %d %s\n", peer, path, status, body), fflush(o->log);
}

static int open_listener(const char *listen_s, struct pp_error *err)
{
	struct sockaddr_in sa;
	if (parse_listen(listen_s, &sa, err) < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return pp_error_set(err, "reflector: socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
		pp_error_set(err, "reflector: cannot listen on %s: %s", listen_s, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int pp_reflector_serve(const struct pp_reflector_opts *o, struct pp_error *err)
{
	struct rate_slot *slots = pp_xcalloc(RATE_SLOTS, sizeof *slots);
	int lfd = open_listener(o->listen, err), children = 0;
	if (lfd < 0) {
		free(slots);
		return -1;
	}
	while (!o->stop || !*o->stop) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			children--;
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		struct conn c = { 0 };
		socklen_t sl = sizeof c.peer;
		c.fd = accept(lfd, (struct sockaddr *)&c.peer, &sl);
		if (c.fd < 0)
			continue;
		sl = sizeof c.local;
		getsockname(c.fd, (struct sockaddr *)&c.local, &sl);
		c.limited = rate_exceeded(slots, c.peer.sin_addr.s_addr, o->rate_per_min, time(NULL));
		pid_t pid = children < MAX_CHILDREN ? fork() : -1;
		if (pid == 0) {
			close(lfd);
			serve_one(o, &c);
			close(c.fd);
			_exit(0);
		}
		if (pid > 0)
			children++;
		close(c.fd);
	}
	close(lfd);
	while (children-- > 0 && wait(NULL) > 0)
		;
	free(slots);
	return 0;
}

char *pp_token_read(const char *path, struct pp_error *err)
{
	char *s = pp_secret_read(path, "token file", NULL, err);
	if (!s)
		return NULL;
	/* Either a bare token on the first line or a credentials-style "token=" line. */
	char *t = strstr(s, "token=");
	if (t && (t == s || t[-1] == '\n'))
		memmove(s, t + 6, strlen(t + 6) + 1);
	s[strcspn(s, "\r\n")] = 0;
	t = pp_trim(s);
	memmove(s, t, strlen(t) + 1);
	if (!*s) {
		free(s);
		pp_error_set(err, "token file %s is empty: write the token on its first line", path);
		return NULL;
	}
	return s;
}

/* OpenSSL's reason for the last failure, the file it concerns and the fix. */
static int tls_error(struct pp_error *err, const char *what, const char *path, const char *fix)
{
	char msg[160] = "unknown error";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	return pp_error_set(err, "%s %s: %s; %s", what, path, msg, fix);
}

struct pp_reflector_tls *pp_reflector_tls_load(const char *cert, const char *key,
                                               struct pp_error *err)
{
	char *pem = pp_secret_read(key, "key file", NULL, err);
	if (!pem)
		return NULL;
	struct pp_reflector_tls *t = pp_xcalloc(1, sizeof *t);
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION))
		tls_error(err, "TLS setup for", cert, "check the OpenSSL installation");
	else if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1)
		tls_error(err, "certificate file", cert, "give a PEM certificate (chain), server first");
	else if (!pk)
		tls_error(err, "key file", key, "give the PEM private key, unencrypted");
	else if (SSL_CTX_use_PrivateKey(t->ctx, pk) != 1 || SSL_CTX_check_private_key(t->ctx) != 1)
		tls_error(err, "key file", key, "it does not belong to the certificate: give the key "
		          "the certificate was made for");
	else {
		EVP_PKEY_free(pk);
		return t;
	}
	EVP_PKEY_free(pk);
	pp_reflector_tls_free(t);
	return NULL;
}

void pp_reflector_tls_free(struct pp_reflector_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}
