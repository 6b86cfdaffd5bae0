/* The one libcurl set-up of portpilot (DDNS providers, echo services, the reflector's client), and libcurl loaded on first use. */
#include <dlfcn.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "portpilot/http.h"

/*
 * libcurl is loaded when the first HTTP call needs it, not at process
 * start: it pulls 32 shared libraries (about 4-6 ms of every start, apply
 * and status included, measured in /work/notes/nftone4.md). The functions
 * below have libcurl's names, so callers use the ordinary API; each one
 * goes through a pointer resolved once. Without libcurl they fail the way
 * libcurl fails (NULL handle, CURLE_FAILED_INIT) and pp_http_why() says
 * which package to install.
 */
#define CURL_SO "libcurl.so.4"

static struct {
	int state; /* 0 not tried, 1 loaded, -1 missing */
	char why[300];
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	curl_version_info_data *(*version_info)(CURLversion);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
} lc;

static bool
lc_load(void)
{
	if (lc.state)
		return lc.state > 0;
	lc.state = -1;
	void *h = dlopen(CURL_SO, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(lc.why, sizeof lc.why, "cannot load %s (%s): install the libcurl4 package "
		         "(apt-get install libcurl4)", CURL_SO, e ? e : "not found");
		return false;
	}
	static const char *const name[] = {
		"curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
		"curl_easy_getinfo", "curl_easy_cleanup", "curl_easy_strerror", "curl_slist_append",
		"curl_slist_free_all", "curl_version_info", "curl_multi_init", "curl_multi_add_handle",
		"curl_multi_remove_handle", "curl_multi_perform", "curl_multi_info_read", "curl_multi_poll",
		"curl_multi_cleanup",
	};
	void *fn[sizeof name / sizeof *name];
	for (size_t i = 0; i < sizeof name / sizeof *name; i++)
		if ((fn[i] = dlsym(h, name[i])) == NULL) {
			snprintf(lc.why, sizeof lc.why, "%s has no %s: it is older than 7.66; install a newer "
			         "libcurl4", CURL_SO, name[i]);
			dlclose(h);
			return false;
		}
	/* POSIX: a dlsym result converts to a function pointer; memcpy keeps -Wpedantic quiet. */
	void **slot[] = {
		(void **)&lc.global_init, (void **)&lc.easy_init, (void **)&lc.easy_setopt,
		(void **)&lc.easy_perform, (void **)&lc.easy_getinfo, (void **)&lc.easy_cleanup,
		(void **)&lc.easy_strerror, (void **)&lc.slist_append, (void **)&lc.slist_free_all,
		(void **)&lc.version_info, (void **)&lc.multi_init, (void **)&lc.multi_add_handle,
		(void **)&lc.multi_remove_handle, (void **)&lc.multi_perform, (void **)&lc.multi_info_read,
		(void **)&lc.multi_poll, (void **)&lc.multi_cleanup,
	};
	for (size_t i = 0; i < sizeof slot / sizeof *slot; i++)
		memcpy(slot[i], &fn[i], sizeof fn[i]);
	lc.state = 1;
	return true;
}

const char *
pp_http_why(void)
{
	return lc_load() ? "libcurl cannot start" : lc.why;
}

CURLcode
curl_global_init(long flags)
{
	return lc_load() ? lc.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *
curl_easy_init(void)
{
	return lc_load() ? lc.easy_init() : NULL;
}

/* The option's number says the type of its argument (curl.h's CURLOPTTYPE_ ranges). */
CURLcode
(curl_easy_setopt)(CURL *e, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc = CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (e == NULL || !lc_load())
		;
	else if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = lc.easy_setopt(e, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = lc.easy_setopt(e, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = lc.easy_setopt(e, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = lc.easy_setopt(e, opt, va_arg(ap, curl_off_t));
	else
		rc = lc.easy_setopt(e, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *e)
{
	return e && lc_load() ? lc.easy_perform(e) : CURLE_FAILED_INIT;
}

/* Every CURLINFO_ takes a pointer to where the answer goes. */
CURLcode
(curl_easy_getinfo)(CURL *e, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	void *out = va_arg(ap, void *);
	va_end(ap);
	return e && lc_load() ? lc.easy_getinfo(e, info, out) : CURLE_FAILED_INIT;
}

void
curl_easy_cleanup(CURL *e)
{
	if (e && lc_load())
		lc.easy_cleanup(e);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return lc_load() ? lc.easy_strerror(rc) : lc.why;
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return lc_load() ? lc.slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (l && lc_load())
		lc.slist_free_all(l);
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
	static curl_version_info_data none;
	return lc_load() ? lc.version_info(v) : &none;
}

CURLM *
curl_multi_init(void)
{
	return lc_load() ? lc.multi_init() : NULL;
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *e)
{
	return m && lc_load() ? lc.multi_add_handle(m, e) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *e)
{
	return m && lc_load() ? lc.multi_remove_handle(m, e) : CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_perform(CURLM *m, int *running)
{
	if (m && lc_load())
		return lc.multi_perform(m, running);
	*running = 0;
	return CURLM_BAD_HANDLE;
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	if (m && lc_load())
		return lc.multi_info_read(m, left);
	*left = 0;
	return NULL;
}

CURLMcode
curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned n, int ms, int *ret)
{
	if (m && lc_load())
		return lc.multi_poll(m, fds, n, ms, ret);
	poll(NULL, 0, ms); /* without libcurl nothing is in flight: still wait as asked */
	return CURLM_BAD_HANDLE;
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return m && lc_load() ? lc.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct pp_http_call *c = ud;
	size_t len = size * n;

	/* Answers are short; a huge one is not what was asked for: stop reading, say why. */
	if (c->body.len + len > c->body_max) {
		c->too_large = true;
		return 0;
	}
	pp_buf_add(&c->body, p, len);
	return len;
}

int
pp_http_setup(struct pp_http_call *c, const struct pp_http_opts *o)
{
	static bool inited;
	CURL *e;

	memset(c, 0, sizeof *c);
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	if ((e = curl_easy_init()) == NULL) {
		snprintf(c->errbuf, sizeof c->errbuf, "%.250s", pp_http_why());
		return -1;
	}
	c->easy = e;
	c->body_max = o->body_max;
	pp_buf_add(&c->body, "", 0);
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		c->hdrs = curl_slist_append(c->hdrs, o->headers[i]);
	if (c->hdrs)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	if (o->user_agent)
		curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	/* A Content-Length over the cap is refused before a byte of the body is read. */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->body_max);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	if (o->no_proxy)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	/* Verification is libcurl's default; set it anyway so nothing can turn it off by accident. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->tls12)
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->ca_pem && o->ca_pem->len) {
		struct curl_blob blob = { .data = o->ca_pem->data, .len = o->ca_pem->len, .flags = CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	return 0;
}

bool
pp_http_too_large(const struct pp_http_call *c, CURLcode rc)
{
	return c->too_large || rc == CURLE_FILESIZE_EXCEEDED;
}

void
pp_http_cleanup(struct pp_http_call *c)
{
	if (c->easy)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	pp_buf_free(&c->body);
	memset(c, 0, sizeof *c);
}
