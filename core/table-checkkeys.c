/* The health-check keys against each other and the mapping: which check a mapping gets, and
 * what does not fit (check = udp without check_send, check_expect on a check with no answer...).
 * One set of rules for `portpilot check` (findings with file:line) and `portpilot monitor`
 * (which refuses such a table at start and on reload). */
#include <ctype.h>
#include <string.h>

#include "portpilot/table.h"

enum pp_check_kind
pp_check_kind_for(const struct pp_mapping *m)
{
	if (m->check != PP_CK_DEFAULT)
		return m->check;
	switch (m->in_lo) {
	case 554: case 8554:
		return PP_CK_RTSP;
	case 5060:
		return PP_CK_SIP;
	case 443: case 8443:
		return m->proto == PP_UDP ? PP_CK_NONE : PP_CK_HTTPS;
	case 80: case 8080: case 8000: case 8008:
		return m->proto == PP_UDP ? PP_CK_NONE : PP_CK_HTTP;
	}
	/* A UDP service says nothing unless asked the right question: without check_send there
	 * is no check that could tell up from down. */
	if (m->proto == PP_UDP)
		return m->val[PP_F_CHECK_SEND] ? PP_CK_UDP : PP_CK_NONE;
	return PP_CK_TCP;
}

/* "200", "2xx": a status code or a class of them. */
static bool
is_code(const char *p, size_t k)
{
	return k == 3 && p[0] >= '1' && p[0] <= '9' &&
	       ((isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) ||
	        (p[1] == 'x' && p[2] == 'x'));
}

/* Only status codes ("200", "200,301", "2xx"): what rtsp and sip checks compare. */
static bool
codes_only(const char *s)
{
	for (const char *p = s; *p; ) {
		size_t k;

		p += strspn(p, ", ");
		if (*p == '\0')
			break;
		k = strcspn(p, ", ");
		if (!is_code(p, k))
			return false;
		p += k;
	}
	return true;
}

static size_t
add(struct pp_check_misfit *out, size_t n, enum pp_field f, const char *msg)
{
	if (n < PP_CHECK_MISFITS_MAX)
		out[n] = (struct pp_check_misfit){ f, msg };
	return n < PP_CHECK_MISFITS_MAX ? n + 1 : n;
}

size_t
pp_check_misfits(const struct pp_mapping *m, struct pp_check_misfit out[PP_CHECK_MISFITS_MAX])
{
	enum pp_check_kind k = pp_check_kind_for(m);
	const char *send = m->val[PP_F_CHECK_SEND], *expect = m->val[PP_F_CHECK_EXPECT];
	bool has_send = send && *send, has_expect = expect && *expect;
	size_t n = 0;

	if (m->bad & (1u << PP_F_CHECK | 1u << PP_F_CHECK_PATH | 1u << PP_F_CHECK_EXPECT |
	              1u << PP_F_CHECK_SEND | 1u << PP_F_CHECK_TIMING | 1u << PP_F_PROTOCOL))
		return 0;                     /* a bad value is its own finding; its fit means nothing */
	if (k == PP_CK_UDP && m->proto == PP_TCP)
		n = add(out, n, PP_F_CHECK, "check = udp on a tcp mapping; set protocol = udp or both, or "
		        "use check = tcp");
	if (k != PP_CK_UDP && k != PP_CK_SIP && k != PP_CK_NONE && m->proto == PP_UDP)
		n = add(out, n, PP_F_CHECK, "this check needs TCP but the mapping is udp; use check = udp "
		        "with check_send, sip, or none");
	if (has_send && k != PP_CK_UDP && k != PP_CK_TCP)
		n = add(out, n, PP_F_CHECK_SEND, "only check = udp or tcp sends check_send; remove it or "
		        "change check");
	if (k == PP_CK_UDP && !has_send)
		n = add(out, n, PP_F_CHECK, "check = udp needs check_send = the request to send (and "
		        "check_expect = text the answer holds); add check_send, or use check = none");
	if (m->val[PP_F_CHECK_PATH] && k != PP_CK_HTTP && k != PP_CK_HTTPS && k != PP_CK_RTSP)
		n = add(out, n, PP_F_CHECK_PATH, "check_path is for http, https and rtsp checks; remove "
		        "it or change check");
	if (has_expect && (k == PP_CK_TLS || k == PP_CK_NONE))
		n = add(out, n, PP_F_CHECK_EXPECT, "a tls or none check has no answer to compare; remove "
		        "check_expect");
	if (has_expect && (k == PP_CK_RTSP || k == PP_CK_SIP) && !codes_only(expect))
		n = add(out, n, PP_F_CHECK_EXPECT, "rtsp and sip checks compare status codes only; write "
		        "e.g. check_expect = 200");
	return n;
}
