/* HTTP(S) requests for providers and echo services through libcurl, verification on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ddns-internal.h"
#include "portpilot/util.h"

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	struct ddns_http_resp *rs = ud;
	size_t len = size * n;

	/* Answers are short; a huge one is not a provider's: stop reading, say why. */
	if (rs->body.len + len > DDNS_BODY_MAX) {
		rs->too_large = true;
		return 0;
	}
	pp_buf_add(&rs->body, p, len);
	return len;
}

enum pp_ddns_code
ddns_http_fail_code(const struct ddns_http_resp *rs)
{
	return rs->too_large ? PP_DC_TOOLARGE : PP_DC_NETWORK;
}

static void
global_init(void)
{
	static bool done;

	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

int
ddns_http(const struct ddns_http_req *rq, struct ddns_http_resp *rs)
{
	struct pp_buf pem = { 0 };
	struct curl_blob blob = { .flags = CURL_BLOB_NOCOPY };
	CURL *c;
	struct curl_slist *hdr = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	memset(rs, 0, sizeof *rs);
	pp_buf_add(&rs->body, "", 0);
	global_init();
	if ((c = curl_easy_init()) == NULL) {
		snprintf(rs->error, sizeof rs->error, "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, DDNS_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
	/* A Content-Length over the cap is refused before a byte of the body is read. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)DDNS_BODY_MAX);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout > 0 ? rq->timeout : 20L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* Verification is libcurl's default; set it anyway so nothing can turn it off by accident. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->ca_file) {
		if (pp_ca_bundle(rq->ca_file, curl_version_info(CURLVERSION_NOW)->cainfo, &pem) < 0) {
			snprintf(rs->error, sizeof rs->error, "ca_file %s: cannot read: %s; fix the path in the "
			         "[ddns] section", rq->ca_file, strerror(errno));
			snprintf(rs->outcome, sizeof rs->outcome, "%s", rs->error);
			curl_easy_cleanup(c);
			pp_buf_free(&pem);
			return -1;
		}
		blob.data = pem.data;
		blob.len = pem.len;
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (rq->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, rq->password ? rq->password : "");
	}
	for (size_t i = 0; i < DDNS_MAX_HEADERS && rq->headers[i]; i++)
		hdr = curl_slist_append(hdr, rq->headers[i]);
	if (rq->body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
	}
	if (rq->method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	if (hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(c);
	if (rc == CURLE_FILESIZE_EXCEEDED)
		rs->too_large = true;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	else if (rs->too_large)
		snprintf(rs->error, sizeof rs->error, "answer too large (over %d bytes)", DDNS_BODY_MAX);
	else
		/* libcurl's messages name host and reason, never the URL's query or credentials. */
		snprintf(rs->error, sizeof rs->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_OK)
		snprintf(rs->outcome, sizeof rs->outcome, "HTTP %ld", rs->status);
	else
		snprintf(rs->outcome, sizeof rs->outcome, "%s", rs->error);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	pp_buf_free(&pem);
	return rc == CURLE_OK ? 0 : -1;
}

void
ddns_http_resp_free(struct ddns_http_resp *rs)
{
	pp_buf_free(&rs->body);
}

/* URL-encode for a query string value. Caller frees. */
char *
ddns_urlenc(const char *s)
{
	struct pp_buf b = { 0 };

	pp_buf_add(&b, "", 0);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch))
			pp_buf_add(&b, (const char *)&ch, 1);
		else
			pp_buf_printf(&b, "%%%02X", ch);
	}
	return b.data;
}
