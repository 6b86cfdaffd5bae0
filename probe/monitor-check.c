/* The monitor's checks: non-blocking sockets (and TLS) driven from one poll loop, so two
 * thousand mappings need no thread each. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "portpilot/ipv6.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

#define RX_MAX (70 * 1024)

static SSL_CTX *ssl_ctx;
static const struct pp_mon_expect no_expect;   /* an element with no check_expect of its own */

/* Health checks talk to LAN servers by address, with self-signed certificates more often than
 * not: the check is that TLS is spoken, not who signed the certificate. */
static SSL_CTX *
ctx(void)
{
	if (ssl_ctx == NULL) {
		ssl_ctx = SSL_CTX_new(TLS_client_method());
		if (ssl_ctx)
			SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	return ssl_ctx;
}

static int
bad_key(struct pp_error *err, const char *path, const struct pp_mapping *m, enum pp_field f,
        const char *what)
{
	return pp_error_set(err, "%s:%d: [%s] %s: %s", path, m->key_line[f] ? m->key_line[f] : m->line,
	                    m->name, pp_field_name(f), what);
}

/* The element the mapping's own check is for: the one whose port would choose that check by
 * default (check = https on 80,443: 443), else the first. One rule with portpilot check. */
static size_t
app_element(const struct pp_mapping *m, enum pp_check_kind k, size_t np)
{
	struct pp_mapping one;

	if (m->check == PP_CK_DEFAULT)
		return 0;                     /* chosen from the first element's port */
	one = *m;                         /* shallow: only read, never freed */
	one.check = PP_CK_DEFAULT;
	for (size_t i = 0; i < np; i++) {
		one.in_lo = pp_mapping_port(m, i).in_lo;
		if (pp_check_kind_for(&one) == k)
			return i;
	}
	return 0;
}

bool
mon_watched(const struct pp_mapping *m, time_t now)
{
	if (pp_mapping_active(m, now))
		return true;
	/* ipv6 = only needs no internal_ip. A host id with no prefix now is watched too, and down
	   with that reason: an unwatched mapping is the worst case. */
	return m->ipv6 == PP_V6_ONLY && pp_mapping_active6(m, now);
}

/* Every element of the list: the mapping's check on one, a connect on the others (TCP; a
 * UDP-only mapping's others get check_send and pass on any reply, or are not checked without
 * it: silence tells nothing). A range is checked on its first port. ipv6 = yes: the list twice,
 * IPv4 then IPv6; ipv6 = only: IPv6 alone. */
static void
ports_init(struct mon_target *t, const struct pp_mapping *m)
{
	size_t np = pp_mapping_nports(m), app = app_element(m, t->kind, np);
	bool v6 = pp_mapping_wants_ip6(m) && m->val[PP_F_INTERNAL_IP6];
	bool v4 = !v6 || m->ipv6 != PP_V6_ONLY;

	t->npub = v4 ? np : 0;
	t->nports = np * ((size_t)v4 + v6);
	t->ports = pp_xcalloc(t->nports, sizeof *t->ports);
	for (size_t k = 0; k < t->nports; k++) {
		size_t i = k % np;
		struct pp_port_pair pp = pp_mapping_port(m, i);
		struct mon_port *p = &t->ports[k];
		p->in = pp.in_lo;
		p->pub = pp.pub_lo;
		p->pub_ok = -1;
		if (i == app) {
			*p = (struct mon_port){ pp.in_lo, pp.pub_lo, t->kind, t->udp, true, true, .pub_ok = -1 };
		} else if (m->proto == PP_UDP) {
			p->kind = t->send ? PP_CK_UDP : PP_CK_NONE;
			p->udp = p->send = true;
		} else {
			p->kind = PP_CK_TCP;
		}
		p->v6 = k >= t->npub;
	}
	t->port = t->ports[app].in;
}

const char *
mon_family(const struct mon_target *t)
{
	return t->npub == t->nports ? "ipv4" : t->npub ? "both" : "ipv6";
}

/* An element's name in a detail: its port, or with IPv6 its family and address. */
static void
elem_label(const struct mon_target *t, size_t i, char *out, size_t n)
{
	const struct mon_port *p = &t->ports[i];
	char a[PP_IP6_STR];

	if (t->npub == t->nports) {
		snprintf(out, n, "%u", p->in);
	} else if (!p->v6) {
		pp_format_ipv4(t->ip, a);
		snprintf(out, n, "IPv4 %s:%u", a, p->in);
	} else {
		if (t->ip6_ok)
			pp_format_ipv6(t->ip6, a);
		else                          /* as written: a host id with no prefix */
			snprintf(a, sizeof a, "%s", t->m->val[PP_F_INTERNAL_IP6] ? t->m->val[PP_F_INTERNAL_IP6] : "?");
		snprintf(out, n, "IPv6 [%s]:%u", a, p->in);
	}
}

int
mon_target_init(struct mon_target *t, const struct pp_mapping *m, const char *path,
                const struct pp_check_timing *d, struct pp_error *err)
{
	const char *v;

	memset(t, 0, sizeof *t);
	t->fd = -1;
	t->m = m;
	t->name = pp_xstrdup(m->name);
	t->ip = m->internal_ip;
	t->port = m->in_lo;
	t->kind = pp_mon_default_kind(m);
	t->tm = *d;
	if (m->timing.interval_s) t->tm.interval_s = m->timing.interval_s;
	if (m->timing.timeout_ms) t->tm.timeout_ms = m->timing.timeout_ms;
	if (m->timing.fail_after) t->tm.fail_after = m->timing.fail_after;
	if (m->timing.recover_after) t->tm.recover_after = m->timing.recover_after;
	t->udp = t->kind == PP_CK_UDP || (t->kind == PP_CK_SIP && m->proto != PP_TCP);
	t->path = pp_xstrdup(m->val[PP_F_CHECK_PATH] && *m->val[PP_F_CHECK_PATH] ? m->val[PP_F_CHECK_PATH] : "/");
	if (m->bad & (1u << PP_F_CHECK | 1u << PP_F_CHECK_PATH | 1u << PP_F_CHECK_EXPECT |
	              1u << PP_F_CHECK_SEND | 1u << PP_F_CHECK_TIMING))
		return pp_error_set(err, "%s:%d: [%s] a check key has an invalid value; portpilot check "
		                    "says which and how to fix it", path, m->line, m->name);
	struct pp_check_misfit mf[PP_CHECK_MISFITS_MAX];
	if (pp_check_misfits(m, mf) > 0)          /* the rules portpilot check reports too */
		return bad_key(err, path, m, mf[0].field, mf[0].msg);
	if ((v = m->val[PP_F_CHECK_SEND]) && *v && pp_check_unescape(v, &t->send, &t->send_len, err) < 0)
		return -1;
	if ((v = m->val[PP_F_CHECK_EXPECT]) && *v) {
		bool codes = t->kind == PP_CK_HTTP || t->kind == PP_CK_HTTPS || t->kind == PP_CK_RTSP ||
		             t->kind == PP_CK_SIP;
		struct pp_error e;
		if (pp_mon_expect_parse(v, codes, &t->expect, &e) < 0)
			return bad_key(err, path, m, PP_F_CHECK_EXPECT, e.msg);
	}
	ports_init(t, m);
	return 0;
}

void
mon_target_free(struct mon_target *t)
{
	mon_check_abort(t);
	free(t->name);
	free(t->send);
	free(t->path);
	free(t->summary);
	free(t->fix);
	free(t->ports);
	pp_mon_expect_free(&t->expect);
	pp_buf_free(&t->tx);
	pp_buf_free(&t->rx);
}

void
mon_check_abort(struct mon_target *t)
{
	if (t->ssl) {
		SSL_free(t->ssl);
		t->ssl = NULL;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->phase = MP_IDLE;
}

static int elem_start(struct mon_target *t, double now);

/* One element's result; the next element starts, and the round ends after the last. */
static void
record(struct mon_target *t, bool ok, double now, const char *fmt, const char *arg)
{
	struct mon_port *p = &t->ports[t->cur];

	p->latency_ms = now - t->el_started;
	p->ok = ok;
	snprintf(p->detail, sizeof p->detail, fmt, arg);
	mon_check_abort(t);
	t->cur++;
}

static int
finish(struct mon_target *t, bool ok, double now, const char *fmt, const char *arg)
{
	record(t, ok, now, fmt, arg);
	return elem_start(t, now);
}

/* The round's result: up only when every element passed. */
static int
round_done(struct mon_target *t, double now)
{
	t->latency_ms = now - t->started;
	t->last_ok = true;
	for (size_t i = 0; i < t->nports; i++)
		t->last_ok &= t->ports[i].ok;
	if (t->nports == 1 && t->npub == 1)
		snprintf(t->detail, sizeof t->detail, "%s", t->ports[0].detail);
	else
		mon_ports_detail(t, t->detail, sizeof t->detail);
	return 1;
}

void
mon_ports_detail(const struct mon_target *t, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	for (int pass = 0; pass < 2; pass++)          /* the failed ones first: they are the news */
		for (size_t i = 0; i < t->nports && k < n; i++)
			if (t->ports[i].ok == (pass == 1)) {
				char l[80];
				elem_label(t, i, l, sizeof l);
				int w = snprintf(out + k, n - k, "%s%s: %s", k ? "; " : "", l, t->ports[i].detail);
				k += w > 0 ? (size_t)w : 0;
			}
}

bool
mon_pub_result(struct mon_target *t, bool ok, char *bad, size_t n)
{
	bool all = true;
	size_t k = 0;

	if (t->npub == 0)
		return bad[0] = '\0', true;
	t->ports[t->pub_cur % t->npub].pub_ok = ok;
	t->pub_cur = (t->pub_cur + 1) % t->npub;
	bad[0] = '\0';
	for (size_t i = 0; i < t->npub; i++)
		if (t->ports[i].pub_ok == 0) {
			all = false;
			int w = k < n ? snprintf(bad + k, n - k, "%s%u", k ? ", " : "", t->ports[i].pub) : 0;
			k += w > 0 ? (size_t)w : 0;
		}
	return all;
}

static const char *
errword(int e)
{
	switch (e) {
	case ECONNREFUSED: return "refused";
	case EHOSTUNREACH: return "host unreachable";
	case ENETUNREACH: return "network unreachable";
	case ETIMEDOUT: return "timed out";
	case ECONNRESET: return "reset";
	default: return strerror(e);
	}
}

/* The request of the check, once the socket's own address is known (SIP's Via); an IPv6
 * address in brackets, as URIs and Host headers write it. */
static void
build_request(struct mon_target *t)
{
	char ip[PP_IP6_STR + 2], me[PP_IP6_STR + 2] = "0.0.0.0", a[PP_IP6_STR];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	unsigned myport = 0;
	unsigned long tag = (unsigned long)random();
	bool v6 = t->ports[t->cur].v6;

	if (v6) {
		pp_format_ipv6(t->ip6, a);
		snprintf(ip, sizeof ip, "[%s]", a);
		snprintf(me, sizeof me, "[::]");
	} else {
		pp_format_ipv4(t->ip, ip);
	}
	if (getsockname(t->fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
			snprintf(me, sizeof me, "[%s]", a);
			myport = ntohs(s6->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, me, sizeof me);
			myport = ntohs(s4->sin_port);
		}
	}
	t->tx.len = 0;
	t->txoff = 0;
	switch (t->ckind) {
	case PP_CK_HTTP:
	case PP_CK_HTTPS:
		pp_buf_printf(&t->tx, "GET %s HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: portpilot-monitor/%s\r\n"
		              "Connection: close\r\n\r\n", t->path, ip, t->cport, PP_VERSION);
		break;
	case PP_CK_RTSP:
		pp_buf_printf(&t->tx, "OPTIONS rtsp://%s:%u%s RTSP/1.0\r\nCSeq: 1\r\n"
		              "User-Agent: portpilot-monitor/%s\r\n\r\n", ip, t->cport, t->path, PP_VERSION);
		break;
	case PP_CK_SIP:
		pp_buf_printf(&t->tx, "OPTIONS sip:%s:%u SIP/2.0\r\n"
		              "Via: SIP/2.0/%s %s:%u;branch=z9hG4bK%lx;rport\r\n"
		              "Max-Forwards: 70\r\nFrom: <sip:portpilot@%s>;tag=%lx\r\nTo: <sip:%s:%u>\r\n"
		              "Call-ID: %lx@%s\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\n"
		              "User-Agent: portpilot-monitor/%s\r\nContent-Length: 0\r\n\r\n",
		              ip, t->cport, t->cudp ? "UDP" : "TCP", me, myport, tag, me, tag, ip, t->cport,
		              tag, me, PP_VERSION);
		break;
	default:
		if (t->csend)
			pp_buf_add(&t->tx, t->csend, t->send_len);
		break;
	}
}

/* Start the elements from t->cur on until one waits for its socket: 0, or 1 when the round
 * is over. */
static int
elem_start(struct mon_target *t, double now)
{
	while (t->cur < t->nports) {
		const struct mon_port *p = &t->ports[t->cur];
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->in),
		                          .sin_addr.s_addr = htonl(t->ip) };
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(p->in) };
		memcpy(&sa6.sin6_addr, t->ip6, 16);
		t->ckind = p->kind;
		t->cport = p->in;
		t->cudp = p->udp;
		t->csend = p->send ? t->send : NULL;
		t->cexpect = p->expect ? &t->expect : &no_expect;
		t->el_started = now;
		t->deadline = now + t->tm.timeout_ms;
		t->rx.len = 0;
		if (p->kind == PP_CK_NONE) {
			record(t, true, now, "%s", "not checked (a UDP port says nothing without check_send)");
			continue;
		}
		if (p->v6 && !t->ip6_ok) {
			record(t, false, now, "%s", t->ip6_err);
			continue;
		}
		t->fd = socket(p->v6 ? AF_INET6 : AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->fd < 0) {
			record(t, false, now, "cannot open a socket: %s", strerror(errno));
			continue;
		}
		if ((p->v6 ? connect(t->fd, (struct sockaddr *)&sa6, sizeof sa6) :
		             connect(t->fd, (struct sockaddr *)&sa, sizeof sa)) < 0 && errno != EINPROGRESS) {
			record(t, false, now, "connect: %s", errword(errno));
			continue;
		}
		if (p->udp) {
			build_request(t);
			t->phase = MP_SEND;
		} else {
			t->phase = MP_CONNECT;
		}
		return 0;
	}
	return round_done(t, now);
}

int
mon_check_start(struct mon_target *t, double now)
{
	t->started = now;
	t->last_check = time(NULL);
	t->checks++;
	t->cur = 0;
	if (t->kind == PP_CK_NONE) {
		t->latency_ms = 0;
		t->last_ok = true;
		snprintf(t->detail, sizeof t->detail, "%s", "not checked (check = none)");
		return 1;
	}
	if (t->npub < t->nports) {       /* the server's IPv6 address now: the prefix may move */
		struct pp_error e;
		t->ip6_ok = pp_mapping_ip6(t->m, t->lan_if, t->ip6, &e) == 0;
		snprintf(t->ip6_err, sizeof t->ip6_err, "%.239s", t->ip6_ok ? "" : e.msg);
	}
	return elem_start(t, now);
}

short
mon_check_events(const struct mon_target *t)
{
	if (t->phase == MP_CONNECT || t->phase == MP_SEND)
		return POLLOUT;
	if (t->phase == MP_TLS && t->ssl)
		return SSL_want_write(t->ssl) ? POLLOUT : POLLIN;
	return POLLIN;
}

/* TLS handshake step: 1 done, 0 again, -1 failed. */
static int
tls_step(struct mon_target *t)
{
	if (t->ssl == NULL) {
		SSL_CTX *c = ctx();
		if (c == NULL || (t->ssl = SSL_new(c)) == NULL)
			return -1;
		SSL_set_fd(t->ssl, t->fd);
	}
	ERR_clear_error();
	int r = SSL_connect(t->ssl);
	if (r == 1)
		return 1;
	int e = SSL_get_error(t->ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static int
tls_progress(struct mon_target *t, double now)
{
	int r = tls_step(t);
	if (r < 0)
		return finish(t, false, now, "%s", "TLS handshake failed (not TLS, or no common protocol)");
	if (r == 0)
		return 0;
	if (t->ckind == PP_CK_TLS)
		return finish(t, true, now, "%s", "TLS handshake done");
	build_request(t);
	t->phase = MP_SEND;
	return 0;
}

static int
after_connect(struct mon_target *t, double now)
{
	if (t->ckind == PP_CK_TLS || t->ckind == PP_CK_HTTPS) {
		/* The client speaks first: send the ClientHello now, not after a poll. */
		t->phase = MP_TLS;
		return tls_progress(t, now);
	}
	if (t->ckind == PP_CK_TCP && t->csend == NULL && t->cexpect->text == NULL)
		return finish(t, true, now, "%s", "connected");
	build_request(t);
	t->phase = t->tx.len ? MP_SEND : MP_RECV;
	return 0;
}

static ssize_t
do_send(struct mon_target *t)
{
	if (t->ssl) {
		ERR_clear_error();
		int r = SSL_write(t->ssl, t->tx.data + t->txoff, (int)(t->tx.len - t->txoff));
		if (r > 0)
			return r;
		int e = SSL_get_error(t->ssl, r);
		errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
		return -1;
	}
	return send(t->fd, t->tx.data + t->txoff, t->tx.len - t->txoff, MSG_NOSIGNAL);
}

static ssize_t
do_recv(struct mon_target *t, char *buf, size_t n)
{
	if (t->ssl) {
		ERR_clear_error();
		int r = SSL_read(t->ssl, buf, (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
			return 0;
		errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : ECONNRESET;
		return -1;
	}
	return recv(t->fd, buf, n, 0);
}

int
mon_check_step(struct mon_target *t, short revents, double now)
{
	char buf[8192], why[160];
	int err = 0, r;
	socklen_t el = sizeof err;

	if (t->phase == MP_IDLE)
		return 1;
	if (revents == 0) {
		if (now < t->deadline)
			return 0;
		if (t->phase == MP_CONNECT)
			return finish(t, false, now, "%s", "no answer to the connection attempt (timeout)");
		if (t->phase == MP_TLS)
			return finish(t, false, now, "%s", "TLS handshake timed out");
		if (t->rx.len) {
			r = pp_mon_judge(t->ckind, t->cexpect, t->rx.data, t->rx.len, true, why, sizeof why);
			return finish(t, r > 0, now, "%s", why);
		}
		return finish(t, false, now, "%s", t->cudp ? "no reply (timeout)" : "connected, but no answer (timeout)");
	}
	switch (t->phase) {
	case MP_CONNECT:
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			return finish(t, false, now, "connect: %s", errword(err));
		return after_connect(t, now);
	case MP_TLS:
		return tls_progress(t, now);
	case MP_SEND: {
		ssize_t w = do_send(t);
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0)
			return finish(t, false, now, "send: %s", errword(errno));
		t->txoff += (size_t)w;
		if (t->txoff == t->tx.len)
			t->phase = MP_RECV;
		return 0;
	}
	case MP_RECV: {
		ssize_t n = do_recv(t, buf, sizeof buf);
		bool eof = n == 0 && !t->cudp;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return finish(t, false, now, t->cudp ? "no reply: %s (ICMP)" : "receive: %s", errword(errno));
		if (n > 0)
			pp_buf_add(&t->rx, buf, (size_t)n);
		r = pp_mon_judge(t->ckind, t->cexpect, t->rx.data ? t->rx.data : "", t->rx.len,
		                 eof || t->rx.len >= RX_MAX, why, sizeof why);
		if (r != 0)
			return finish(t, r > 0, now, "%s", why);
		return 0;
	}
	default:
		return 1;
	}
}
