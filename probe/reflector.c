/* The reflector's service: one poll loop in which no address can hold more than a few slots. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"
#include "probe-internal.h"
#include "reflector-internal.h"

/* Every request is assumed hostile: what one address may cost is bounded here. */
#define PER_ADDR 4          /* connections one address may hold at once (--per-address) */
#define MAX_CONNS 512       /* slots in all (--max-conns; fewer when the fd limit is low) */
#define MAX_POOL 4096       /* the largest --max-conns */
#define HEAD_MS 2500        /* accept to a complete request, the TLS handshake included */
#define WRITE_MS 2000       /* to hand over the answer */
#define DRAIN_MS 1000       /* after the answer, for the client's close (so no RST eats it) */
#define ACCEPTS_PER_ROUND 64
#define RATE_SLOTS 1024
#define REQ_MAX 4096
#define SUMMARY_MS 10000    /* refusals are counted and logged at most this often */
#define MAX_LISTEN 4        /* --listen A,B,...: an IPv4 and an IPv6 address, typically */

enum cstate { C_FREE, C_TLS, C_READ, C_CHECK, C_WRITE, C_DRAIN };

/* Who is counted as one requester: an IPv4 address (as ::ffff:a.b.c.d), or an IPv6 /64 (the
 * rest zero). One host holds a whole /64 (2^64 addresses): keyed per address it would have no
 * limit at all. */
struct akey {
	uint8_t b[16];
};

struct rate_slot {
	struct akey ip;
	time_t start;
	int count;
};

struct conn {
	enum cstate st;
	int fd, cb;                    /* the client; the connect-back socket, -1 when none */
	SSL *ssl;                      /* NULL: plain HTTP */
	short want;                    /* what the client fd waits for (TLS may want either) */
	struct sockaddr_storage peer, local;
	struct akey key;               /* the peer as counted (akey_of) */
	long t0, deadline;             /* ms, CLOCK_MONOTONIC */
	long cb_t0;
	int cb_sent;                   /* UDP datagrams sent */
	bool logged;                   /* the answer's log line is written */
	size_t len, out_len, out_off;
	struct pp_refl_route rt;
	char req[REQ_MAX];
	char out[1024];
};

struct server {
	const struct pp_reflector_opts *o;
	int lfd[MAX_LISTEN], nlfd, cap, per_addr;
	struct akey *hip;              /* count_holders' table */
	uint32_t hsize;
	int *hn, *held;
	struct conn *c;
	struct pollfd *pfd;
	int *pidx;
	struct rate_slot *slots;
	long summary_at, accept_after;  /* accept_after: no accept before (ms), fds ran out */
	unsigned refused_rate, refused_addr, refused_full, evicted;
	struct akey last_refused;
};

static long
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* ADDR:PORT (IPv4, ":PORT" is 0.0.0.0) or [ADDR]:PORT (IPv6, "[::]" every address). */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl, struct pp_error *err)
{
	const char *colon = strrchr(s, ':');
	uint16_t port;
	char host[64];
	memset(ss, 0, sizeof *ss);
	if (!colon || (size_t)(colon - s) >= sizeof host || pp_parse_u16(colon + 1, &port) < 0)
		return pp_error_set(err, "--listen %s: expected ADDR:PORT or [ADDR6]:PORT, e.g. 0.0.0.0:9443 "
		                    "or [::]:9443", s);
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	if (*host == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return pp_error_set(err, "--listen %s: an IPv6 address goes in brackets, e.g. [::]:9443", s);
		host[n - 1] = 0;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*sl = sizeof *a;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return pp_error_set(err, "--listen %s: '%s' is not an IPv6 address", s, host + 1);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (!*host)
		strcpy(host, "0.0.0.0");
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	*sl = sizeof *a;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return pp_error_set(err, "--listen %s: '%s' is not an IPv4 address (IPv6: [ADDR]:PORT)", s, host);
	return 0;
}

static struct akey
akey_of(const struct sockaddr_storage *ss)
{
	struct akey k = { { 0 } };
	if (ss->ss_family == AF_INET6) {
		memcpy(k.b, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
	} else {
		k.b[10] = k.b[11] = 0xff;
		memcpy(k.b + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	}
	return k;
}

static bool
akey_eq(const struct akey *a, const struct akey *b)
{
	return !memcmp(a->b, b->b, sizeof a->b);
}

static uint32_t
akey_hash(const struct akey *k)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ k->b[i]) * 16777619u;
	return h;
}

/* The requester in the log: an IPv4 address, or an IPv6 /64 ("2001:db8:1::/64"). */
static void
akey_format(const struct akey *k, char *out, size_t n)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char a[INET6_ADDRSTRLEN];
	if (!memcmp(k->b, mapped, 12)) {
		inet_ntop(AF_INET, k->b + 12, out, (socklen_t)n);
		return;
	}
	inet_ntop(AF_INET6, k->b, a, sizeof a);
	snprintf(out, n, "%s/64", a);
}

/* Counts connections per requester (akey) in one-minute windows. */
static bool
rate_exceeded(struct rate_slot *slots, const struct akey *ip, int per_min, time_t now)
{
	struct rate_slot *free_slot = NULL, *oldest = &slots[0];
	for (int i = 0; i < RATE_SLOTS; i++) {
		struct rate_slot *s = &slots[i];
		if (s->count && akey_eq(&s->ip, ip)) {
			if (now - s->start >= 60) {
				s->start = now;
				s->count = 0;
			}
			if (s->count <= per_min)
				s->count++;
			return s->count > per_min;
		}
		if (!s->count || now - s->start >= 60)
			free_slot = free_slot ? free_slot : s;
		if (s->start < oldest->start)
			oldest = s;
	}
	/* A full table forgets its oldest address rather than refusing everyone. */
	struct rate_slot *s = free_slot ? free_slot : oldest;
	*s = (struct rate_slot){ .ip = *ip, .start = now, .count = 1 };
	return per_min < 1;
}

static void
log_answer(struct server *s, struct conn *c)
{
	char peer[INET6_ADDRSTRLEN];
	if (c->logged || !s->o->log)
		return;
	c->logged = true;
	pp_refl_addr_str(&c->peer, peer);
	fprintf(s->o->log, "reflector: %s %s -> %d %s\n", peer, *c->rt.path ? c->rt.path : "-",
	        c->rt.status, c->rt.body);
	fflush(s->o->log);
}

static void
conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->cb >= 0)
		close(c->cb);
	close(c->fd);
	c->st = C_FREE;
	c->ssl = NULL;
	c->fd = c->cb = -1;
}

/* The answer is ready in c->rt: format it and start writing. */
static void
answer(struct conn *c, long now)
{
	c->out_len = pp_refl_response(c->out, sizeof c->out, c->rt.status, c->rt.body);
	c->out_off = 0;
	c->st = C_WRITE;
	c->want = POLLOUT;
	c->deadline = now + WRITE_MS;
}

/* POLLIN/POLLOUT for what OpenSSL waits for; 0 when the connection failed. */
static short
ssl_want(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
}

/* The connect-back's first step; a result at once (a local failure) ends it. */
static const char *
check_start(struct conn *c, long now)
{
	struct sockaddr_storage to = c->peer, from = c->local;
	bool v6 = to.ss_family == AF_INET6;
	socklen_t sl = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(to.ss_family, (c->rt.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->cb_t0 = now;
	if (fd < 0)
		return "error";
	if (v6) {
		struct sockaddr_in6 *t = (struct sockaddr_in6 *)&to;
		int one = 1;
		/* IPv6 only: never out over IPv4 to an IPv4-mapped address */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		t->sin6_port = htons(c->rt.port);
		if (c->rt.ip[0])
			inet_pton(AF_INET6, c->rt.ip, &t->sin6_addr);
		((struct sockaddr_in6 *)&from)->sin6_port = 0;
	} else {
		struct sockaddr_in *t = (struct sockaddr_in *)&to;
		t->sin_port = htons(c->rt.port);
		if (c->rt.ip[0])
			inet_pton(AF_INET, c->rt.ip, &t->sin_addr);
		((struct sockaddr_in *)&from)->sin_port = 0;
	}
	/* From the address the request came to, the one the requester knows. */
	if (bind(fd, (struct sockaddr *)&from, sl) < 0) {
		close(fd);
		return "error";
	}
	if (connect(fd, (struct sockaddr *)&to, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return e == ECONNREFUSED ? "refused" : "unreachable";
	}
	c->cb = fd;
	c->cb_sent = 0;
	c->st = C_CHECK;
	c->deadline = now + c->rt.timeout_ms;
	return NULL;
}

static void
check_done(struct conn *c, const char *res, long now)
{
	if (c->cb >= 0)
		close(c->cb);
	c->cb = -1;
	pp_refl_check_body(&c->rt, &c->peer, &c->local, res, now - c->cb_t0);
	answer(c, now);
}

/* When a UDP connect-back sends its next datagram: at 0 and at half the timeout, in case the
 * first is lost while a NAT sets up state. */
static long
udp_next_send(const struct conn *c)
{
	return c->cb_sent >= 2 ? c->deadline : c->cb_t0 + c->cb_sent * c->rt.timeout_ms / 2;
}

static void
check_step(struct conn *c, short rev, long now)
{
	if (!c->rt.udp) {
		if (rev) {
			int e = 0;
			socklen_t el = sizeof e;
			getsockopt(c->cb, SOL_SOCKET, SO_ERROR, &e, &el);
			/* A reset after the handshake (a server that accepts, then closes at once) still
			 * proves the port answers; a refusal is a RST to the SYN itself. */
			check_done(c, e == 0 || e == ECONNRESET ? "connected" :
			           e == ECONNREFUSED ? "refused" : "unreachable", now);
		} else if (now >= c->deadline) {
			check_done(c, "timeout", now);
		}
		return;
	}
	if (rev) {
		char b[512];
		ssize_t n = recv(c->cb, b, sizeof b, 0);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			check_done(c, n >= 0 ? "reply" : errno == ECONNREFUSED ? "refused" : "unreachable", now);
			return;
		}
	}
	if (now >= c->deadline) {
		check_done(c, "no_reply", now);
		return;
	}
	if (c->cb_sent < 2 && now >= udp_next_send(c)) {
		static const char msg[] = "portpilot reflector probe\n";
		if (send(c->cb, msg, sizeof msg - 1, 0) < 0 && errno == ECONNREFUSED) {
			check_done(c, "refused", now);
			return;
		}
		c->cb_sent++;
	}
}

static void
request_ready(struct server *s, struct conn *c, long now)
{
	pp_refl_route(s->o, &c->peer, &c->local, c->req, &c->rt);
	if (c->rt.status) {
		answer(c, now);
		return;
	}
	const char *res = check_start(c, now);
	if (res)
		check_done(c, res, now);
	else
		check_step(c, 0, now);
}

static void
fail_request(struct conn *c, int status, const char *body, long now)
{
	c->rt.status = status;
	snprintf(c->rt.body, sizeof c->rt.body, "%s", body);
	answer(c, now);
}

static void
read_step(struct server *s, struct conn *c, long now)
{
	for (;;) {
		if (c->len + 1 >= sizeof c->req) {
			fail_request(c, 400, "{\"error\":\"request header larger than 4 KB\"}", now);
			return;
		}
		ssize_t r;
		if (c->ssl) {
			r = SSL_read(c->ssl, c->req + c->len, (int)(sizeof c->req - 1 - c->len));
			if (r <= 0 && (c->want = ssl_want(c->ssl, (int)r)))
				return;
		} else {
			r = read(c->fd, c->req + c->len, sizeof c->req - 1 - c->len);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				c->want = POLLIN;
				return;
			}
		}
		if (r <= 0) {
			fail_request(c, 400, "{\"error\":\"incomplete request\"}", now);
			return;
		}
		c->len += r;
		c->req[c->len] = 0;
		if (pp_refl_request_complete(c->req)) {
			request_ready(s, c, now);
			return;
		}
	}
}

static void
tls_step(struct server *s, struct conn *c, long now)
{
	ERR_clear_error();
	int r = SSL_accept(c->ssl);
	if (r == 1) {
		c->st = C_READ;
		read_step(s, c, now);
		return;
	}
	if ((c->want = ssl_want(c->ssl, r)))
		return;
	/* No request was read: a client that did not trust us sent nothing. */
	const char *why = ERR_reason_error_string(ERR_peek_last_error());
	ERR_clear_error();
	if (s->o->log) {
		char peer[INET6_ADDRSTRLEN];
		pp_refl_addr_str(&c->peer, peer);
		fprintf(s->o->log, "reflector: %s TLS handshake failed: %s\n", peer,
		        why ? why : "connection closed");
		fflush(s->o->log);
	}
	conn_close(c);
}

static void
write_step(struct server *s, struct conn *c, long now)
{
	while (c->out_off < c->out_len) {
		size_t left = c->out_len - c->out_off;
		ssize_t w;
		if (c->ssl) {
			w = SSL_write(c->ssl, c->out + c->out_off, (int)left);
			if (w <= 0 && (c->want = ssl_want(c->ssl, (int)w)))
				return;
		} else {
			w = send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				c->want = POLLOUT;
				return;
			}
		}
		if (w <= 0)
			break;
		c->out_off += w;
	}
	log_answer(s, c);
	if (c->out_off < c->out_len) {
		conn_close(c);
		return;
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl);   /* our close_notify; the client's is not awaited */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	shutdown(c->fd, SHUT_WR);
	c->st = C_DRAIN;
	c->want = POLLIN;
	c->deadline = now + DRAIN_MS;
}

/* Reads and drops what the client still sends until it closes: closing with unread bytes
 * would send a RST, which can destroy the answer before the client reads it. */
static void
drain_step(struct conn *c)
{
	char b[512];
	ssize_t r;
	while ((r = read(c->fd, b, sizeof b)) > 0)
		;
	if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		conn_close(c);
}

static void
conn_step(struct server *s, struct conn *c, short rev, long now)
{
	bool late = now >= c->deadline;
	switch (c->st) {
	case C_TLS:
		if (rev)
			tls_step(s, c, now);
		if (c->st == C_TLS && late)
			conn_close(c);
		break;
	case C_READ:
		if (rev)
			read_step(s, c, now);
		/* The whole request has one deadline, however the bytes trickle in. A TLS client
		 * that stalls gets no answer (that would mean more TLS work for it). */
		if (c->st == C_READ && late) {
			if (c->ssl) {
				conn_close(c);
			} else {
				/* One try to say why, then the slot is free: no drain for a trickler. */
				fail_request(c, 408, "{\"error\":\"request not complete within 2.5 s\"}", now);
				write_step(s, c, now);
				if (c->st != C_FREE)
					conn_close(c);
			}
		}
		break;
	case C_CHECK:
		check_step(c, rev, now);
		break;
	case C_WRITE:
		if (rev)
			write_step(s, c, now);
		if (c->st == C_WRITE && late) {
			log_answer(s, c);
			conn_close(c);
		}
		break;
	case C_DRAIN:
		if (rev)
			drain_step(c);
		if (c->st == C_DRAIN && late)
			conn_close(c);
		break;
	case C_FREE:
		break;
	}
}

static int
held_by(const struct server *s, const struct akey *ip)
{
	int n = 0;
	for (int i = 0; i < s->cap; i++)
		n += s->c[i].st != C_FREE && akey_eq(&s->c[i].key, ip);
	return n;
}

/* How many slots each requester (akey) holds, for every slot in use: held[i] for s->c[i]. One pass
 * with an open-addressing table twice the pool's size (s->hip, s->hn). */
static void
count_holders(struct server *s, int *held)
{
	memset(s->hn, 0, s->hsize * sizeof *s->hn);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < s->cap; i++) {
			if (s->c[i].st == C_FREE)
				continue;
			const struct akey *ip = &s->c[i].key;
			uint32_t h = akey_hash(ip) & (s->hsize - 1);
			while (s->hn[h] && !akey_eq(&s->hip[h], ip))
				h = (h + 1) & (s->hsize - 1);
			if (pass == 0) {
				s->hip[h] = *ip;
				s->hn[h]++;
			} else {
				held[i] = s->hn[h];
			}
		}
}

/* A free slot; when the pool is full, the slot of a client that has not sent its request
 * (or is only draining) from the address that holds the most, its oldest: idle clients
 * cannot keep a new one out, and many addresses each holding a few give way to one that
 * holds one. */
static struct conn *
free_slot(struct server *s, bool may_evict)
{
	for (int i = 0; i < s->cap; i++)
		if (s->c[i].st == C_FREE)
			return &s->c[i];
	if (!may_evict)
		return NULL;
	count_holders(s, s->held);
	struct conn *idle = NULL;
	int idle_held = 0;
	for (int i = 0; i < s->cap; i++) {
		struct conn *c = &s->c[i];
		if (c->st != C_TLS && c->st != C_READ && c->st != C_DRAIN)
			continue;
		/* Most held first, then draining before waiting, then the oldest. */
		if (!idle || s->held[i] > idle_held || (s->held[i] == idle_held &&
		    ((c->st == C_DRAIN) > (idle->st == C_DRAIN) ||
		     ((c->st == C_DRAIN) == (idle->st == C_DRAIN) && c->t0 < idle->t0)))) {
			idle = c;
			idle_held = s->held[i];
		}
	}
	if (idle) {
		conn_close(idle);
		s->evicted++;
	}
	return idle;
}

/* Over plain HTTP a refused connection gets its 429 in one write to the fresh socket (room
 * for it is certain): no read, no parse. Over TLS it is closed before the handshake, since an
 * answer would cost the handshake that the refusal is there to save. */
static void
refuse_now(struct server *s, int fd, const char *why)
{
	if (!s->o->tls) {
		char out[512], body[256];
		snprintf(body, sizeof body, "{\"error\":\"%s\"}", why);
		size_t n = pp_refl_response(out, sizeof out, 429, body);
		ssize_t w = send(fd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	close(fd);
}

static void
summary(struct server *s, long now, bool force)
{
	unsigned n = s->refused_rate + s->refused_addr + s->refused_full;
	if ((!n && !s->evicted) || (!force && now - s->summary_at < SUMMARY_MS))
		return;
	if (s->o->log) {
		char ip[INET6_ADDRSTRLEN + 3] = "-", ev[80] = "";
		if (n)
			akey_format(&s->last_refused, ip, sizeof ip);
		if (s->evicted)
			snprintf(ev, sizeof ev, "; closed %u waiting connections to make room", s->evicted);
		fprintf(s->o->log, "reflector: refused %u connections (%u over the rate limit, %u over %d "
		        "at once from one address or IPv6 /64, %u while all %d slots were busy), the last from %s%s\n",
		        n, s->refused_rate, s->refused_addr, s->per_addr, s->refused_full, s->cap, ip, ev);
		fflush(s->o->log);
	}
	s->refused_rate = s->refused_addr = s->refused_full = s->evicted = 0;
	s->summary_at = now;
}

static void
accept_one(struct server *s, int fd, const struct sockaddr_storage *peer, long now)
{
	char why[128];
	struct akey ip = akey_of(peer);
	/* Monotonic seconds: a clock step must not open or close every window at once. */
	bool limited = rate_exceeded(s->slots, &ip, s->o->rate_per_min, (time_t)(now / 1000));
	struct conn *c = NULL;
	if (held_by(s, &ip) >= s->per_addr) {
		snprintf(why, sizeof why, "too many connections: at most %d at once per address (IPv6: per /64)",
		         s->per_addr);
		s->refused_addr++;
	} else if (limited && s->o->tls) {
		snprintf(why, sizeof why, "rate limit");
		s->refused_rate++;
	} else if (!(c = free_slot(s, !limited))) {
		/* A limited address gets no slot that another client is using. */
		snprintf(why, sizeof why, "busy: try again in a few seconds");
		s->refused_full++;
	}
	if (!c) {
		s->last_refused = ip;
		refuse_now(s, fd, why);
		return;
	}
	*c = (struct conn){ .st = C_READ, .fd = fd, .cb = -1, .peer = *peer, .key = ip, .t0 = now,
	                    .deadline = now + HEAD_MS, .want = POLLIN };
	socklen_t sl = sizeof c->local;
	getsockname(fd, (struct sockaddr *)&c->local, &sl);
	if (limited) {
		/* Plain HTTP: the 429 without reading the request, then the usual drain. */
		s->refused_rate++;
		s->last_refused = ip;
		c->rt.status = 429;
		snprintf(c->rt.body, sizeof c->rt.body, "{\"error\":\"rate limit: at most %d requests "
		         "a minute per address (IPv6: per /64)\"}", s->o->rate_per_min);
		c->logged = true;
		answer(c, now);
		write_step(s, c, now);
		return;
	}
	if (s->o->tls) {
		c->ssl = SSL_new(pp_refl_ssl_ctx(s->o->tls));
		if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
			conn_close(c);
			return;
		}
		c->st = C_TLS;
	}
}

static void
accept_some(struct server *s, int lfd, long now)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		struct sockaddr_storage peer;
		socklen_t sl = sizeof peer;
		int fd = accept4(lfd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors the listener stays readable: a pause, not a busy loop. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				s->accept_after = now + 100;
			return;
		}
		if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) {
			close(fd);
			continue;
		}
		accept_one(s, fd, &peer, now);
	}
}

/* One round: poll the listener and every slot, then step whatever is ready or late. */
static void
round_once(struct server *s)
{
	long now = now_ms(), wake = now + 200;
	int n = 0;
	bool listen = now >= s->accept_after;
	for (int l = 0; l < s->nlfd; l++) {
		s->pfd[n] = (struct pollfd){ .fd = listen ? s->lfd[l] : -1, .events = POLLIN };
		s->pidx[n++] = -1;
	}
	if (!listen)
		wake = s->accept_after;
	for (int i = 0; i < s->cap; i++) {
		struct conn *c = &s->c[i];
		if (c->st == C_FREE)
			continue;
		long w = c->deadline;
		if (c->st == C_CHECK) {
			s->pfd[n] = (struct pollfd){ .fd = c->cb, .events = c->rt.udp ? POLLIN : POLLOUT };
			if (c->rt.udp && udp_next_send(c) < w)
				w = udp_next_send(c);
		} else {
			s->pfd[n] = (struct pollfd){ .fd = c->fd, .events = c->want };
		}
		s->pidx[n++] = i;
		if (w < wake)
			wake = w;
	}
	int r = poll(s->pfd, n, wake > now ? (int)(wake - now) : 0);
	if (r < 0 && errno != EINTR)
		return;
	now = now_ms();
	for (int k = s->nlfd; k < n; k++) {
		struct conn *c = &s->c[s->pidx[k]];
		short rev = r > 0 ? s->pfd[k].revents : 0;
		if (rev || now >= c->deadline || (c->st == C_CHECK && c->rt.udp))
			conn_step(s, c, rev, now);
	}
	for (int l = 0; r > 0 && l < s->nlfd; l++)
		if (s->pfd[l].revents)
			accept_some(s, s->lfd[l], now);
	summary(s, now, false);
}

static int
open_listener(const char *listen_s, struct pp_error *err)
{
	struct sockaddr_storage sa;
	socklen_t sl = 0;
	if (parse_listen(listen_s, &sa, &sl, err) < 0)
		return -1;
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return pp_error_set(err, "reflector: socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* [::] is IPv6 only: IPv4 is its own --listen, so a peer is never an IPv4-mapped address. */
	if (sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sl) < 0 || listen(fd, 256) < 0) {
		pp_error_set(err, "reflector: cannot listen on %s: %s", listen_s, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* --listen A[,B...]: every listener, or none and err. */
static int
open_listeners(struct server *s, const char *list, struct pp_error *err)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list);
	s->nlfd = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int fd = s->nlfd < MAX_LISTEN ? open_listener(t, err) :
		         pp_error_set(err, "--listen %s: at most %d addresses", list, MAX_LISTEN);
		if (fd < 0) {
			while (s->nlfd)
				close(s->lfd[--s->nlfd]);
			return -1;
		}
		s->lfd[s->nlfd++] = fd;
	}
	return s->nlfd ? 0 : pp_error_set(err, "--listen %s: expected ADDR:PORT or [ADDR6]:PORT", list);
}

/* The account to serve as, looked up before binding so a bad name costs nothing. */
static int
pick_user(const char *user, struct passwd *out, struct pp_error *err)
{
	if (geteuid() != 0) {
		if (user)
			return pp_error_set(err, "--user %s: only root can change user; start the reflector "
			                    "as root or leave --user out (it runs as uid %u)", user,
			                    (unsigned)geteuid());
		return 0;
	}
	const char *name = user ? user : "nobody";
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return pp_error_set(err, "--user %s: no such account; give an unprivileged one "
		                    "(default nobody)", name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return pp_error_set(err, "--user %s: that account has root's uid or gid; give an "
		                    "unprivileged one (default nobody)", name);
	*out = *pw;
	out->pw_name = NULL;           /* getpwnam's storage is not kept */
	return 1;
}

/* After the key, the token and the socket: nothing later needs root (a connect-back is an
 * ordinary socket from an unprivileged port). */
static int
drop_to(const struct passwd *pw, const char *name, FILE *log, struct pp_error *err)
{
	if (pp_drop_to(pw->pw_uid, pw->pw_gid, name, "reflector: ", err) < 0)
		return -1;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (log)
		fprintf(log, "reflector: serving as %s (uid %u, gid %u)\n", name, (unsigned)pw->pw_uid,
		        (unsigned)pw->pw_gid), fflush(log);
	return 0;
}

/* Two descriptors a slot (client, connect-back) and a margin; the soft limit is raised first. */
static int
slots_for_fd_limit(int want, FILE *log)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	long n = rl.rlim_cur == RLIM_INFINITY ? want : ((long)rl.rlim_cur - 32) / 2;
	if (n >= want)
		return want;
	n = n < 8 ? 8 : n;
	if (log)
		fprintf(log, "reflector: at most %ld connections at once, not %d: the open-files limit "
		        "is %ld (raise it with ulimit -n)\n", n, want, (long)rl.rlim_cur), fflush(log);
	return (int)n;
}

int
pp_reflector_serve(const struct pp_reflector_opts *o, struct pp_error *err)
{
	struct passwd pw = { 0 };
	const char *name = o->user ? o->user : "nobody";
	/* poll and the per-accept scans are linear in the pool: past a few thousand, use more
	 * reflectors rather than a larger pool. */
	if (o->max_conns > MAX_POOL || o->per_address > MAX_POOL)
		return pp_error_set(err, "%s %d: at most %d; for more, run more reflectors",
		                    o->max_conns > MAX_POOL ? "--max-conns" : "--per-address",
		                    o->max_conns > MAX_POOL ? o->max_conns : o->per_address, MAX_POOL);
	int drop = pick_user(o->user, &pw, err);
	if (drop < 0)
		return -1;
	struct server s = { .o = o, .summary_at = now_ms(),
	                    .cap = slots_for_fd_limit(o->max_conns > 0 ? o->max_conns : MAX_CONNS, o->log),
	                    .per_addr = o->per_address > 0 ? o->per_address : PER_ADDR };
	if (open_listeners(&s, o->listen, err) < 0)
		return -1;
	if (o->log)
		fprintf(o->log, "reflector: listening on %s (%s)%s\n", o->listen, o->tls ? "https" : "http",
		        o->token && *o->token ? " (token required)" : ""), fflush(o->log);
	if (drop && drop_to(&pw, name, o->log, err) < 0) {
		while (s.nlfd)
			close(s.lfd[--s.nlfd]);
		return -1;
	}
	s.c = pp_xcalloc(s.cap, sizeof *s.c);
	s.pfd = pp_xcalloc(s.cap + MAX_LISTEN, sizeof *s.pfd);
	s.pidx = pp_xcalloc(s.cap + MAX_LISTEN, sizeof *s.pidx);
	s.slots = pp_xcalloc(RATE_SLOTS, sizeof *s.slots);
	for (s.hsize = 16; s.hsize < 2u * (unsigned)s.cap; s.hsize *= 2)
		;
	s.hip = pp_xcalloc(s.hsize, sizeof *s.hip);
	s.hn = pp_xcalloc(s.hsize, sizeof *s.hn);
	s.held = pp_xcalloc(s.cap, sizeof *s.held);
	for (int i = 0; i < s.cap; i++)
		s.c[i].fd = s.c[i].cb = -1;
	while (!o->stop || !*o->stop)
		round_once(&s);
	for (int i = 0; i < s.cap; i++)
		if (s.c[i].st != C_FREE)
			conn_close(&s.c[i]);
	summary(&s, now_ms(), true);
	while (s.nlfd)
		close(s.lfd[--s.nlfd]);
	free(s.c);
	free(s.pfd);
	free(s.pidx);
	free(s.slots);
	free(s.hip);
	free(s.hn);
	free(s.held);
	return 0;
}
