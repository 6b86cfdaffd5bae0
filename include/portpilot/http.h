/* HTTP(S) through libcurl, set up one way for every caller: verified TLS, http/https only, a capped answer. */
#ifndef PORTPILOT_HTTP_H
#define PORTPILOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "portpilot/util.h"

struct pp_http_opts {
	const char *url;             /* may hold secrets: callers log a redacted copy */
	long timeout_ms;             /* the whole request */
	long connect_ms;
	const char *user_agent;      /* NULL: none */
	const char *const *headers;  /* NULL-terminated, may be NULL */
	const struct pp_buf *ca_pem; /* the system's CAs plus an extra one (pp_ca_bundle); NULL or
	                                empty: libcurl's own bundle */
	bool no_proxy;               /* ignore http_proxy and the like */
	bool tls12;                  /* refuse TLS below 1.2 */
	size_t body_max;             /* a longer answer is refused: too_large */
};

/* One request: the easy handle, its headers, and the answer as it comes. */
struct pp_http_call {
	CURL *easy;
	struct curl_slist *hdrs;
	struct pp_buf body;          /* NUL-terminated, "" before any byte came */
	size_t body_max;
	bool too_large;              /* the answer had more than body_max bytes (or said so) */
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * Set up c for o; the caller adds what is its own (method, body, auth),
 * runs c->easy (easy or multi) and frees with pp_http_cleanup(). -1 when
 * libcurl cannot start (c is then clean but for c->errbuf, which says why). The CA blob is copied: o->ca_pem
 * may change afterwards.
 */
int pp_http_setup(struct pp_http_call *c, const struct pp_http_opts *o);
/* The answer was refused for its size: the write callback's stop or libcurl's Content-Length check. */
bool pp_http_too_large(const struct pp_http_call *c, CURLcode rc);
void pp_http_cleanup(struct pp_http_call *c);
/* Why libcurl cannot start: the library is missing (and which package has it), or too old. */
const char *pp_http_why(void);

#endif
