/* HTTP(S) requests for providers and echo services: core's libcurl set-up (core/http.c) and their options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ddns-internal.h"
#include "portpilot/http.h"

enum pp_ddns_code
ddns_http_fail_code(const struct ddns_http_resp *rs)
{
	return rs->too_large ? PP_DC_TOOLARGE : PP_DC_NETWORK;
}

/* The request's own options on top of core's set-up: Basic auth, a JSON body, the method. */
static void
own_options(CURL *e, const struct ddns_http_req *rq)
{
	if (rq->user) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, rq->password ? rq->password : "");
	}
	if (rq->body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
	if (rq->method)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
}

int
ddns_http(const struct ddns_http_req *rq, struct ddns_http_resp *rs)
{
	struct pp_buf pem = { 0 };
	const char *hdr[DDNS_MAX_HEADERS + 2];
	size_t nh = 0;
	struct pp_http_call c;
	CURLcode rc;

	memset(rs, 0, sizeof *rs);
	pp_buf_add(&rs->body, "", 0);
	if (rq->ca_file && pp_ca_bundle(rq->ca_file, curl_version_info(CURLVERSION_NOW)->cainfo, &pem) < 0) {
		snprintf(rs->error, sizeof rs->error, "ca_file %s: cannot read: %s; fix the path in the "
		         "[ddns] section", rq->ca_file, strerror(errno));
		snprintf(rs->outcome, sizeof rs->outcome, "%s", rs->error);
		pp_buf_free(&pem);
		return -1;
	}
	for (size_t i = 0; i < DDNS_MAX_HEADERS && rq->headers[i]; i++)
		hdr[nh++] = rq->headers[i];
	if (rq->body)
		hdr[nh++] = "Content-Type: application/json";
	hdr[nh] = NULL;
	struct pp_http_opts o = {
		.url = rq->url, .timeout_ms = (rq->timeout > 0 ? rq->timeout : 20L) * 1000, .connect_ms = 10000,
		.user_agent = DDNS_USER_AGENT, .headers = hdr, .ca_pem = &pem, .body_max = DDNS_BODY_MAX,
	};
	int setup = pp_http_setup(&c, &o);
	pp_buf_free(&pem);                 /* libcurl copied it */
	if (setup < 0) {
		snprintf(rs->error, sizeof rs->error, "cannot start libcurl: %s", pp_http_why());
		snprintf(rs->outcome, sizeof rs->outcome, "%s", rs->error);
		return -1;
	}
	own_options(c.easy, rq);
	rc = curl_easy_perform(c.easy);
	rs->too_large = pp_http_too_large(&c, rc);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &rs->status);
	else if (rs->too_large)
		snprintf(rs->error, sizeof rs->error, "answer too large (over %d bytes)", DDNS_BODY_MAX);
	else
		/* libcurl's messages name host and reason, never the URL's query or credentials. */
		snprintf(rs->error, sizeof rs->error, "%s", c.errbuf[0] ? c.errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_OK)
		snprintf(rs->outcome, sizeof rs->outcome, "HTTP %ld", rs->status);
	else
		snprintf(rs->outcome, sizeof rs->outcome, "%s", rs->error);
	pp_buf_free(&rs->body);
	rs->body = c.body;
	c.body = (struct pp_buf){ 0 };
	pp_http_cleanup(&c);
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
