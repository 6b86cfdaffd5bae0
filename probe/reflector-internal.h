/* Shared between the reflector's files only: the event loop (reflector.c) and the requests (reflector-http.c). */
#ifndef PP_REFLECTOR_INTERNAL_H
#define PP_REFLECTOR_INTERNAL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "portpilot/probe.h"

#define PP_REFL_BODY 512

/* What one complete request asks for: an answer now, or a connect-back first. */
struct pp_refl_route {
	int status;                    /* 0: a connect-back is wanted (udp, port, timeout_ms) */
	char body[PP_REFL_BODY];
	bool udp;
	uint16_t port;
	int timeout_ms;
	char ip[46];                   /* where to connect: the requester (IPv6: its /64), or (ip=) this host */
	char path[96];                 /* the request's path for the log, control bytes as '?' */
};

/* True once buf (NUL-terminated) holds the whole header block. */
bool pp_refl_request_complete(const char *buf);
/* Routes the request in req (modified in place) from peer; the token is checked here. */
void pp_refl_route(const struct pp_reflector_opts *o, const struct sockaddr_storage *peer,
                   const struct sockaddr_storage *local, char *req, struct pp_refl_route *r);
/* The body of a finished connect-back. */
void pp_refl_check_body(struct pp_refl_route *r, const struct sockaddr_storage *peer,
                        const struct sockaddr_storage *local, const char *result, long ms);
/* An IPv4 or IPv6 socket address's address, in text. */
void pp_refl_addr_str(const struct sockaddr_storage *ss, char out[INET6_ADDRSTRLEN]);
/* A whole HTTP response (Connection: close) in out; its length. */
size_t pp_refl_response(char *out, size_t n, int status, const char *body);
/* The TLS context behind an opaque pp_reflector_tls. */
struct ssl_ctx_st *pp_refl_ssl_ctx(const struct pp_reflector_tls *t);

#endif
