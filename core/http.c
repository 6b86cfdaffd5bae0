/* The one libcurl set-up of portpilot (DDNS providers, echo services, the reflector's client). */
#include <string.h>

#include "portpilot/http.h"

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
	if ((e = curl_easy_init()) == NULL)
		return -1;
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
