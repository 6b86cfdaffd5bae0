/* The reflector's client: asks an outside host what it sees and to connect back, via libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"

struct pp_reflect_job {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	struct pp_buf body;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	bool done;
	CURLcode code;
};

/* System CAs plus the extra one as one PEM blob (as ddns/http.c does for [ddns] ca_file):
 * a private CA adds to the trusted set, it does not replace it. Empty: libcurl's default. */
static struct pp_buf ca_pem;

int pp_reflector_set_ca(const char *ca_file, struct pp_error *err)
{
	pp_buf_free(&ca_pem);
	if (ca_file && pp_ca_bundle(ca_file, curl_version_info(CURLVERSION_NOW)->cainfo, &ca_pem) < 0)
		return pp_error_set(err, "reflector CA file %s: cannot read: %s; fix --reflector-ca or "
		                    "ca_file in [probe]", ca_file, strerror(errno));
	return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct pp_buf *b = arg;
	if (b->len + sz * n > 65536)
		return 0;
	pp_buf_add(b, p, sz * n);
	return sz * n;
}

static CURL *make_easy(const char *url, const char *token, int timeout_ms, struct pp_buf *body,
                       struct curl_slist **hdrs, char *errbuf)
{
	static bool inited;
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	*hdrs = NULL;
	if (token && *token) {
		char *h = pp_xasprintf("Authorization: Bearer %s", token);
		*hdrs = curl_slist_append(NULL, h);
		free(h);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	/* libcurl's default; said here so that nothing turns it off by accident. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (ca_pem.len) {
		/* CURLOPT_*_BLOB copies the blob, so ca_pem may change later. */
		struct curl_blob blob = { .data = ca_pem.data, .len = ca_pem.len, .flags = CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	return e;
}

/* URL without a trailing slash, plus path. */
static char *join(const char *base, const char *path)
{
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	return pp_xasprintf("%.*s%s", (int)n, base, path);
}

/* A remote reflector's words reach the report and the terminal: printable ASCII only. */
static void ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int parse_reply(CURL *e, CURLcode code, const char *errbuf, const struct pp_buf *body,
                       const char *url, struct pp_reflect_result *r, struct pp_error *err)
{
	long status = 0;
	char msg[200];
	const char *why = *errbuf ? errbuf : curl_easy_strerror(code);
	/* The handshake failed before any request went out: the token never left. */
	if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE)
		return pp_error_set(err, "reflector %s: its certificate is not trusted (%s); nothing was "
		                    "sent. If it comes from a private CA, give that CA with --reflector-ca "
		                    "FILE or ca_file in [probe]", url, why);
	/* Only on_body refuses data: a write error is an answer over its cap, not a network fault. */
	if (code == CURLE_WRITE_ERROR)
		return pp_error_set(err, "reflector %s: answer too large (over 65536 bytes); is it a "
		                    "portpilot reflector?", url);
	/* portpilot's reflector refuses an address over its rate or its connection cap by
	 * closing before the handshake (an answer would cost the handshake it saves): say so,
	 * or the engineer sees only a TLS error. */
	if ((code == CURLE_SSL_CONNECT_ERROR || code == CURLE_GOT_NOTHING || code == CURLE_RECV_ERROR) &&
	    !strncmp(url, "https://", 8))
		return pp_error_set(err, "reflector %s: %s; a portpilot reflector closes the connection "
		                    "before the handshake when this address is over its rate limit or "
		                    "holds too many connections at once: try again in a minute, or see "
		                    "the reflector's log", url, why);
	if (code != CURLE_OK)
		return pp_error_set(err, "reflector %s: %s", url, why);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	if (status != 200) {
		pp_json_field(body->data, "error", msg, sizeof msg);
		ascii_only(msg);
		return pp_error_set(err, "reflector %s answered %ld: %s", url, status,
		                    *msg ? msg : "no reason given");
	}
	pp_json_field(body->data, "ip", r->seen_ip, sizeof r->seen_ip);
	pp_json_field(body->data, "from", r->from_ip, sizeof r->from_ip);
	pp_json_field(body->data, "result", r->result, sizeof r->result);
	ascii_only(r->seen_ip);
	ascii_only(r->from_ip);
	ascii_only(r->result);
	pp_json_field(body->data, "ms", msg, sizeof msg);
	r->ms = atoi(msg);
	return 0;
}

int pp_reflector_whoami(const char *url, const char *token, struct pp_reflect_result *r,
                        struct pp_error *err)
{
	struct pp_buf body = { 0 };
	struct curl_slist *hdrs;
	char *u = join(url, "/v1/whoami"), errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = make_easy(u, token, 5000, &body, &hdrs, errbuf);
	int rc = -1;
	memset(r, 0, sizeof *r);
	if (e) {
		rc = parse_reply(e, curl_easy_perform(e), errbuf, &body, url, r, err);
		curl_easy_cleanup(e);
	} else {
		pp_error_set(err, "reflector: cannot initialise libcurl");
	}
	curl_slist_free_all(hdrs);
	pp_buf_free(&body);
	free(u);
	return rc;
}

struct pp_reflect_job *pp_reflect_start(const char *url, const char *token, const char *proto,
                                        uint16_t port, int timeout_ms, struct pp_error *err)
{
	struct pp_reflect_job *j = pp_xcalloc(1, sizeof *j);
	char path[96];
	snprintf(path, sizeof path, "/v1/check?proto=%s&port=%u&timeout=%d", proto, port, timeout_ms);
	char *u = join(url, path);
	j->url = pp_xstrdup(url);
	j->easy = make_easy(u, token, timeout_ms + 5000, &j->body, &j->hdrs, j->errbuf);
	free(u);
	j->multi = curl_multi_init();
	if (!j->easy || !j->multi) {
		pp_error_set(err, "reflector: cannot initialise libcurl");
		pp_reflect_finish(j, NULL, NULL);
		return NULL;
	}
	curl_multi_add_handle(j->multi, j->easy);
	return j;
}

int pp_reflect_step(struct pp_reflect_job *j, const int *fds, int nfds, int ms)
{
	struct curl_waitfd w[2];
	int running = 0, n = 0;
	for (int i = 0; i < nfds && n < 2; i++)
		if (fds[i] >= 0)
			w[n++] = (struct curl_waitfd){ .fd = fds[i], .events = CURL_WAIT_POLLIN };
	if (j->done)
		return 1;
	curl_multi_perform(j->multi, &running);
	if (running)
		curl_multi_poll(j->multi, w, n, ms, NULL), curl_multi_perform(j->multi, &running);
	int left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(j->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			j->code = m->data.result;
			j->done = true;
		}
	return j->done;
}

int pp_reflect_finish(struct pp_reflect_job *j, struct pp_reflect_result *r, struct pp_error *err)
{
	int rc = 0;
	if (r) {
		memset(r, 0, sizeof *r);
		rc = j->done ? parse_reply(j->easy, j->code, j->errbuf, &j->body, j->url, r, err)
		             : pp_error_set(err, "reflector: check did not finish");
	}
	if (j->multi && j->easy)
		curl_multi_remove_handle(j->multi, j->easy);
	if (j->easy)
		curl_easy_cleanup(j->easy);
	if (j->multi)
		curl_multi_cleanup(j->multi);
	curl_slist_free_all(j->hdrs);
	pp_buf_free(&j->body);
	free(j->url);
	free(j);
	return rc;
}
