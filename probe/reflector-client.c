/* The reflector's client: asks an outside host what it sees and to connect back, via libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/http.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

/* A reflector's answer is a few JSON fields. */
#define REFLECT_BODY_MAX 65536

struct pp_reflect_job {
	CURLM *multi;
	struct pp_http_call call;
	char *url;
	bool done;
	CURLcode code;
};

/* System CAs plus the extra one as one PEM blob (as ddns/http.c does for [ddns] ca_file):
 * a private CA adds to the trusted set, it does not replace it. Empty: libcurl's default. */
static struct pp_buf ca_pem;

int
pp_reflector_set_ca(const char *ca_file, struct pp_error *err)
{
	pp_buf_free(&ca_pem);
	if (ca_file && pp_ca_bundle(ca_file, curl_version_info(CURLVERSION_NOW)->cainfo, &ca_pem) < 0)
		return pp_error_set(err, "reflector CA file %s: cannot read: %s; fix --reflector-ca or "
		                    "ca_file in [probe]", ca_file, strerror(errno));
	return 0;
}

/* core's set-up (core/http.c) plus the reflector's: its token, no proxy, TLS 1.2 or newer. */
static int
make_call(struct pp_http_call *c, const char *url, const char *token, int timeout_ms)
{
	char *auth = token && *token ? pp_xasprintf("Authorization: Bearer %s", token) : NULL;
	const char *hdr[] = { auth, NULL };
	struct pp_http_opts o = {
		.url = url, .timeout_ms = timeout_ms, .connect_ms = 3000, .headers = hdr, .ca_pem = &ca_pem,
		.no_proxy = true, .tls12 = true, .body_max = REFLECT_BODY_MAX,
	};
	int rc = pp_http_setup(c, &o);

	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	return rc;
}

/* URL without a trailing slash, plus path. */
static char *
join(const char *base, const char *path)
{
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	return pp_xasprintf("%.*s%s", (int)n, base, path);
}

/* A remote reflector's words reach the report and the terminal: printable ASCII only. */
static void
ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int
parse_reply(CURL *e, CURLcode code, const char *errbuf, const struct pp_buf *body,
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
	/* Only the body's cap refuses data: a write error is an answer over it, not a network fault. */
	if (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED)
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

int
pp_reflector_whoami(const char *url, const char *token, struct pp_reflect_result *r,
                    struct pp_error *err)
{
	struct pp_http_call c;
	char *u = join(url, "/v1/whoami");
	int rc = -1;
	memset(r, 0, sizeof *r);
	if (make_call(&c, u, token, 5000) == 0)
		rc = parse_reply(c.easy, curl_easy_perform(c.easy), c.errbuf, &c.body, url, r, err);
	else
		pp_error_set(err, "reflector: cannot initialise libcurl: %s", pp_http_why());
	pp_http_cleanup(&c);
	free(u);
	return rc;
}

struct pp_reflect_job *
pp_reflect_start(const char *url, const char *token, const char *proto,
                 uint16_t port, int timeout_ms, struct pp_error *err)
{
	return pp_reflect_start_ip(url, token, proto, port, NULL, timeout_ms, err);
}

struct pp_reflect_job *
pp_reflect_start_ip(const char *url, const char *token, const char *proto,
                    uint16_t port, const char *ip, int timeout_ms,
                    struct pp_error *err)
{
	return pp_reflect_start_from(url, token, proto, port, ip, NULL, timeout_ms, err);
}

struct pp_reflect_job *
pp_reflect_start_from(const char *url, const char *token, const char *proto, uint16_t port,
                      const char *ip, const char *src, int timeout_ms, struct pp_error *err)
{
	struct pp_reflect_job *j = pp_xcalloc(1, sizeof *j);
	char path[160], iface[64];
	snprintf(path, sizeof path, "/v1/check?proto=%s&port=%u&timeout=%d%s%.45s", proto, port, timeout_ms,
	         ip ? "&ip=" : "", ip ? ip : "");
	char *u = join(url, path);
	j->url = pp_xstrdup(url);
	int made = make_call(&j->call, u, token, timeout_ms + 5000);
	free(u);
	/* From that address of ours (libcurl's "host!" form: an address, never an interface name). */
	snprintf(iface, sizeof iface, "host!%.45s", src ? src : "");
	if (made == 0 && src && curl_easy_setopt(j->call.easy, CURLOPT_INTERFACE, iface) != CURLE_OK)
		made = -1;
	/* A name in the URL: its address of src's family, or the bind cannot work. */
	if (made == 0 && src)
		curl_easy_setopt(j->call.easy, CURLOPT_IPRESOLVE, strchr(src, ':') ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4);
	j->multi = curl_multi_init();
	if (made < 0 || !j->multi) {
		pp_error_set(err, "reflector: cannot initialise libcurl: %s", pp_http_why());
		pp_reflect_finish(j, NULL, NULL);
		return NULL;
	}
	curl_multi_add_handle(j->multi, j->call.easy);
	return j;
}

int
pp_reflect_step(struct pp_reflect_job *j, const int *fds, int nfds, int ms)
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

int
pp_reflect_finish(struct pp_reflect_job *j, struct pp_reflect_result *r, struct pp_error *err)
{
	int rc = 0;
	if (r) {
		memset(r, 0, sizeof *r);
		rc = j->done ? parse_reply(j->call.easy, j->code, j->call.errbuf, &j->call.body, j->url, r, err)
		             : pp_error_set(err, "reflector: check did not finish");
	}
	if (j->multi && j->call.easy)
		curl_multi_remove_handle(j->multi, j->call.easy);
	if (j->multi)
		curl_multi_cleanup(j->multi);
	pp_http_cleanup(&j->call);
	free(j->url);
	free(j);
	return rc;
}
