/* The reflector's requests: parse, check the token, route, and the text of every answer. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "portpilot/conf.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"
#include "reflector-internal.h"

struct pp_reflector_tls {
	SSL_CTX *ctx;
};

/* Constant time, so the token cannot be guessed byte by byte from response times. */
static bool
token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return d == 0;
}

/* The value of header NAME (case-insensitive), copied into out. */
static bool
header(const char *req, const char *name, char *out, size_t n)
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

static const char *
query_param(const char *query, const char *key, char *out, size_t n)
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

static bool
query_only(const char *query, const char *const *known)
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

bool
pp_refl_request_complete(const char *buf)
{
	return strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n");
}

void
pp_refl_addr_str(const struct sockaddr_storage *ss, char out[INET6_ADDRSTRLEN])
{
	const void *a = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
	                                          : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (!inet_ntop(ss->ss_family == AF_INET6 ? AF_INET6 : AF_INET, a, out, INET6_ADDRSTRLEN))
		strcpy(out, "?");
}

/* Over IPv6 there is no NAT: the requester (a router's own global address) is not the server it
 * wants tested. So an IPv6 ip= may name any address inside the requester's own /64, the network
 * it sends from (the router's LAN address is inside the delegated prefix, beside the servers):
 * never a host elsewhere. The /64 is one site's link; anyone on it can reach its hosts already. */
static bool
same64(const char *a, const char *b)
{
	struct in6_addr x, y;
	/* ::ffff:a.b.c.d is in ::/64, the loopback requester's: an IPv4 host in IPv6 clothes. */
	return inet_pton(AF_INET6, a, &x) == 1 && inet_pton(AF_INET6, b, &y) == 1 && !memcmp(&x, &y, 8) &&
	       !IN6_IS_ADDR_V4MAPPED(&x) && !IN6_IS_ADDR_V4COMPAT(&x) && !IN6_IS_ADDR_MULTICAST(&x) &&
	       !IN6_IS_ADDR_UNSPECIFIED(&x);
}

/* ip= may name the requester itself (over IPv6: any address in its /64), never a third party.
 * It may name the address the request came to (this host: a connect-back through its own rules,
 * e.g. an edge's DNAT into a relay's tunnel) only when the reflector requires a token: otherwise
 * anyone could scan the ports this host itself listens on, through it. */
static void
check_request(const char *query, const char *peer, const char *self, bool self_ok, int max_ms,
              struct pp_refl_route *r)
{
	static const char *const known[] = { "proto", "port", "timeout", "ip", NULL };
	char proto[8] = "tcp", ports[8] = "", tms[12] = "", ip[64];
	bool v6 = strchr(peer, ':') != NULL;
	const char *own = v6 ? "an address in your own /64" : "your own address";
	uint16_t port;
	if (!query_only(query, known)) {
		snprintf(r->body, sizeof r->body, "{\"error\":\"unknown parameter: only proto, port, "
		         "timeout and ip (which must be %s, %s) are accepted\"}", own, peer);
		r->status = 403;
		return;
	}
	bool asked = query_param(query, "ip", ip, sizeof ip);
	bool mine = asked && (!strcmp(ip, peer) || (v6 && same64(ip, peer)));
	if (asked && !mine && !strcmp(ip, self) && !self_ok) {
		snprintf(r->body, sizeof r->body, "{\"error\":\"the reflector connects to its own address "
		         "(%s) only when it requires a token: start it with --token-file\"}", self);
		r->status = 403;
		return;
	}
	if (asked && !mine && strcmp(ip, self)) {
		if (v6)
			snprintf(r->body, sizeof r->body, "{\"error\":\"over IPv6 the reflector connects only to "
			         "addresses inside the requester's own /64 (you are %s)%s, never to a third party: "
			         "send the request from an address on the server's network\"}", peer,
			         self_ok ? " or its own" : "");
		else
			snprintf(r->body, sizeof r->body, "{\"error\":\"the reflector connects back only to the "
			         "requester's address (%s)%s, never to a third party\"}", peer,
			         self_ok ? " or its own" : "");
		r->status = 403;
		return;
	}
	snprintf(r->ip, sizeof r->ip, "%.45s", asked ? ip : peer);
	query_param(query, "proto", proto, sizeof proto);
	query_param(query, "port", ports, sizeof ports);
	if ((strcmp(proto, "tcp") && strcmp(proto, "udp")) || pp_parse_u16(ports, &port) < 0) {
		snprintf(r->body, sizeof r->body, "{\"error\":\"need proto=tcp|udp and port=1..65535\"}");
		r->status = 400;
		return;
	}
	int timeout = query_param(query, "timeout", tms, sizeof tms) ? atoi(tms) : max_ms;
	if (timeout < 100 || timeout > max_ms)
		timeout = max_ms;
	r->status = 0;
	r->udp = !strcmp(proto, "udp");
	r->port = port;
	r->timeout_ms = timeout;
}

void
pp_refl_check_body(struct pp_refl_route *r, const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *local, const char *result, long ms)
{
	char ip[INET6_ADDRSTRLEN], from[INET6_ADDRSTRLEN];
	pp_refl_addr_str(peer, ip);
	if (r->ip[0])
		snprintf(ip, sizeof ip, "%s", r->ip);
	pp_refl_addr_str(local, from);
	snprintf(r->body, sizeof r->body, "{\"ip\":\"%s\",\"from\":\"%s\",\"proto\":\"%s\",\"port\":%u,"
	         "\"result\":\"%s\",\"ms\":%ld}", ip, from, r->udp ? "udp" : "tcp", r->port, result, ms);
	r->status = 200;
}

/* Only the path is logged: the query never holds secrets, headers may. */
static void
log_path(const char *req, char *out, size_t n)
{
	size_t k = strcspn(req, " ");
	const char *p = req + k + (req[k] != 0);
	snprintf(out, n, "%.*s", (int)strcspn(p, " \r\n"), p);
	/* A request line is the sender's text: keep control bytes out of the log. */
	for (char *q = out; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			*q = '?';
}

void
pp_refl_route(const struct pp_reflector_opts *o, const struct sockaddr_storage *peer,
              const struct sockaddr_storage *local, char *req, struct pp_refl_route *r)
{
	char ip[INET6_ADDRSTRLEN], self[INET6_ADDRSTRLEN], tok[256];
	pp_refl_addr_str(peer, ip);
	pp_refl_addr_str(local, self);
	r->ip[0] = '\0';
	log_path(req, r->path, sizeof r->path);
	r->status = 400;
	if (strncmp(req, "GET /", 5)) {
		snprintf(r->body, sizeof r->body, "{\"error\":\"only GET is served\"}");
		return;
	}
	if (o->token && *o->token) {
		const char *t = NULL;
		if (header(req, "Authorization", tok, sizeof tok) && !strncasecmp(tok, "Bearer ", 7))
			t = tok + 7;
		else if (header(req, "X-Portpilot-Token", tok, sizeof tok))
			t = tok;
		bool good = t && token_equal(t, o->token);
		explicit_bzero(tok, sizeof tok);
		if (!good) {
			snprintf(r->body, sizeof r->body,
			         "{\"error\":\"token required: send Authorization: Bearer TOKEN\"}");
			r->status = 401;
			return;
		}
	}
	char *path = req + 4;
	path[strcspn(path, " \r\n")] = 0;
	char *query = strchr(path, '?');
	if (query)
		*query++ = 0;
	if (!strcmp(path, "/v1/whoami")) {
		snprintf(r->body, sizeof r->body, "{\"ip\":\"%s\"}", ip);
		r->status = 200;
	} else if (!strcmp(path, "/v1/check")) {
		check_request(query ? query : "", ip, self, o->token && *o->token, o->max_timeout_ms, r);
	} else {
		snprintf(r->body, sizeof r->body, "{\"error\":\"no such path: use /v1/whoami or /v1/check\"}");
		r->status = 404;
	}
}

size_t
pp_refl_response(char *out, size_t n, int status, const char *body)
{
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" :
	                     status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" :
	                     status == 404 ? "Not Found" : status == 408 ? "Request Timeout" :
	                     status == 429 ? "Too Many Requests" : "Error";
	int k = snprintf(out, n, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	                 status, reason, strlen(body) + 1, body);
	return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
}

char *
pp_token_read(const char *path, struct pp_error *err)
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
static int
tls_error(struct pp_error *err, const char *what, const char *path, const char *fix)
{
	char msg[160] = "unknown error";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, msg, sizeof msg);
	ERR_clear_error();
	return pp_error_set(err, "%s %s: %s; %s", what, path, msg, fix);
}

/* The certificate goes to OpenSSL by name: first make sure it is a regular file of a sane size
 * (a FIFO there would hang the start, /dev/zero would never end). */
static bool
regular_readable(const char *path, struct pp_error *err)
{
	char *text = pp_read_file_max(path, 1 << 20, NULL, err);
	free(text);
	return text != NULL;
}

struct pp_reflector_tls *
pp_reflector_tls_load(const char *cert, const char *key,
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
	/* A client-started renegotiation would make the server redo the costly half of a handshake
	 * at the client's will; idle connections keep no buffers. */
	if (t->ctx) {
		SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
		SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	}
	if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION))
		tls_error(err, "TLS setup for", cert, "check the OpenSSL installation");
	else if (!regular_readable(cert, err))
		;
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

void
pp_reflector_tls_free(struct pp_reflector_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct ssl_ctx_st *
pp_refl_ssl_ctx(const struct pp_reflector_tls *t)
{
	return t->ctx;
}
