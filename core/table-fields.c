/* Field names and the parsing of one value, shared by load, edit and validation. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/ipv6.h"
#include "portpilot/table.h"
#include "portpilot/util.h"

static const char *field_names[PP_F__COUNT] = {
	"description", "protocol", "public_port", "internal_ip", "internal_port",
	"allow", "enabled", "owner", "purpose", "expires", "masquerade",
	"check", "check_path", "check_expect", "check_send", "check_timing", "hairpin",
	"ipv6", "internal_ip6", "nat66",
};

static const char *check_names[] = {
	"default", "tcp", "udp", "http", "https", "rtsp", "sip", "tls", "none",
};

static const char *site_names[PP_S__COUNT] = {
	"name", "wan_interface", "lan_interface", "lan_subnet", "public_ip", "hairpin", "backend",
	"relay", "relay_public_key", "relay_address", "relay_mappings", "relay_keepalive", "relay_interface",
};

const char *pp_field_name(enum pp_field f) { return field_names[f]; }
const char *pp_site_field_name(enum pp_site_field f) { return site_names[f]; }

int
pp_field_lookup(const char *key)
{
	for (int i = 0; i < PP_F__COUNT; i++)
		if (strcasecmp(key, field_names[i]) == 0)
			return i;
	return -1;
}

const char *
pp_check_kind_name(enum pp_check_kind k)
{
	return (unsigned)k < sizeof check_names / sizeof check_names[0] ? check_names[k] : "?";
}

/* "10", "2s" (seconds) or "500ms"; 0 < value <= max seconds. */
static int
parse_seconds_ms(const char *v, bool ms_ok, int max_s, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (end == v || n <= 0)
		return -1;
	if (ms_ok && strcmp(end, "ms") == 0) {
		if (n > (long)max_s * 1000)
			return -1;
		*out = (int)n;
		return 0;
	}
	if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	if (n > max_s)
		return -1;
	*out = ms_ok ? (int)n * 1000 : (int)n;
	return 0;
}

int
pp_check_timing_parse(const char *s, struct pp_check_timing *t, struct pp_error *err)
{
	static const char fix[] = "write e.g. check_timing = interval=10, timeout=2, fail_after=3, recover_after=2";
	char *copy = pp_xstrdup(s), *save = NULL, *tok;
	struct pp_check_timing r = { 0 };
	int rc = 0;

	for (tok = strtok_r(copy, ", ", &save); tok && rc == 0; tok = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(tok, '=');
		int ok = -1;
		if (eq == NULL) {
			rc = pp_error_set(err, "'%s' is not KEY=VALUE; %s", tok, fix);
			break;
		}
		*eq++ = '\0';
		if (strcasecmp(tok, "interval") == 0)
			ok = parse_seconds_ms(eq, false, 86400, &r.interval_s);
		else if (strcasecmp(tok, "timeout") == 0)
			ok = parse_seconds_ms(eq, true, 60, &r.timeout_ms);
		else if (strcasecmp(tok, "fail_after") == 0)
			ok = parse_seconds_ms(eq, false, 100, &r.fail_after);
		else if (strcasecmp(tok, "recover_after") == 0)
			ok = parse_seconds_ms(eq, false, 100, &r.recover_after);
		else {
			rc = pp_error_set(err, "unknown timing '%s'; use interval, timeout, fail_after or recover_after", tok);
			break;
		}
		if (ok < 0)
			rc = pp_error_set(err, "%s=%s is out of range; interval 1-86400 s, timeout 1-60 s (or 1-60000ms), "
			                  "fail_after and recover_after 1-100", tok, eq);
	}
	free(copy);
	if (rc == 0)
		*t = r;
	return rc;
}

int
pp_check_unescape(const char *s, char **out, size_t *len, struct pp_error *err)
{
	size_t n = strlen(s), k = 0;
	char *o = pp_xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			o[k++] = s[i];
			continue;
		}
		char c = s[++i];
		if (c == 'n') o[k++] = '\n';
		else if (c == 'r') o[k++] = '\r';
		else if (c == 't') o[k++] = '\t';
		else if (c == '0') o[k++] = '\0';
		else if (c == '\\') o[k++] = '\\';
		else if (c == 'x' && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char h[3] = { s[i + 1], s[i + 2], 0 };
			o[k++] = (char)strtol(h, NULL, 16);
			i += 2;
		} else {
			free(o);
			return pp_error_set(err, "bad escape at character %zu of '%s'; use \\n \\r \\t \\0 \\\\ or \\xNN", i, s);
		}
	}
	o[k] = '\0';
	*out = o;
	if (len)
		*len = k;
	return 0;
}

const char *
pp_proto_name(enum pp_proto p)
{
	return p == PP_UDP ? "udp" : p == PP_BOTH ? "both" : "tcp";
}

/* "80" or "10000-10099". */
static int
parse_range(const char *s, uint16_t *lo, uint16_t *hi, struct pp_error *err)
{
	const char *dash = strchr(s, '-');
	char a[8];

	if (dash == NULL) {
		if (pp_parse_u16(s, lo) < 0)
			return pp_error_set(err, "'%s' is not a port; use a number from 1 to 65535", s);
		*hi = *lo;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof a)
		return pp_error_set(err, "'%s' is not a port range; write FIRST-LAST, e.g. 10000-10099", s);
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	if (pp_parse_u16(a, lo) < 0 || pp_parse_u16(dash + 1, hi) < 0)
		return pp_error_set(err, "'%s' is not a port range; write FIRST-LAST with ports from 1 to 65535", s);
	if (*lo > *hi)
		return pp_error_set(err, "range '%s' runs backwards; write it as %u-%u", s, *hi, *lo);
	return 0;
}

/*
 * "80", "10000-10099" or a list of them: "80,443,10000-10099". The first
 * element goes to *lo and *hi, the others to *more. Elements may
 * not overlap: one port mapped twice would be two rules for one flow.
 */
static int
parse_port_list(const char *s, uint16_t *lo, uint16_t *hi, struct pp_port_pair **more, size_t *nmore,
                bool internal, struct pp_error *err)
{
	char *copy = pp_xstrdup(s), *save = NULL, *tok;
	struct pp_port_pair v[PP_PORT_LIST_MAX];
	size_t n = 0;
	int rc = 0;

	if (strchr(s, ',') == NULL) {
		free(copy);
		if (parse_range(s, lo, hi, err) < 0)
			return -1;
		free(*more);
		*more = NULL;
		*nmore = 0;
		return 0;
	}
	for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		char *t = pp_trim(tok);
		uint16_t a, b;
		if (*t == '\0')
			continue;
		if (n == PP_PORT_LIST_MAX) {
			rc = pp_error_set(err, "more than %d elements in '%.80s'; split the mapping in two, or use a "
			                  "range FIRST-LAST", PP_PORT_LIST_MAX, s);
			break;
		}
		if (parse_range(t, &a, &b, err) < 0) {
			char msg[sizeof err->msg];
			if (err) {
				memcpy(msg, err->msg, sizeof msg);
				pp_error_set(err, "in the list '%.80s': %.600s", s, msg);
			}
			rc = -1;
			break;
		}
		for (size_t k = 0; k < n && !internal; k++)
			if (a <= v[k].pub_hi && v[k].pub_lo <= b) {
				char x[16], y[16];
				pp_format_ports(x, sizeof x, a, b);
				pp_format_ports(y, sizeof y, v[k].pub_lo, v[k].pub_hi);
				rc = pp_error_set(err, "'%s' and '%s' overlap in the list '%.80s'; list each port once", y, x, s);
			}
		v[n++] = (struct pp_port_pair){ a, b, a, b };
	}
	free(copy);
	if (rc == 0 && n == 0)
		rc = pp_error_set(err, "'%s' holds no port; write e.g. 80,443", s);
	if (rc < 0)
		return -1;
	*lo = v[0].pub_lo;
	*hi = v[0].pub_hi;
	free(*more);
	*more = NULL;
	*nmore = n - 1;
	if (n > 1) {
		*more = pp_xcalloc(n - 1, sizeof **more);
		memcpy(*more, v + 1, (n - 1) * sizeof **more);
	}
	return 0;
}

struct pp_port_pair
pp_mapping_port(const struct pp_mapping *m, size_t i)
{
	if (i == 0)
		return (struct pp_port_pair){ m->pub_lo, m->pub_hi, m->in_lo, m->in_hi };
	struct pp_port_pair p = m->more_pub[i - 1];
	/* internal_port left out: the same ports; a list of another length is an error check reports. */
	if (m->val[PP_F_INTERNAL_PORT] && i - 1 < m->nmore_in) {
		p.in_lo = m->more_in[i - 1].pub_lo;
		p.in_hi = m->more_in[i - 1].pub_hi;
	}
	return p;
}

void
pp_mapping_format_ports(const struct pp_mapping *m, bool internal, char *out, size_t n)
{
	size_t k = 0, np = internal && m->val[PP_F_INTERNAL_PORT] ? 1 + m->nmore_in : pp_mapping_nports(m);
	out[0] = '\0';
	for (size_t i = 0; i < np && k + 1 < n; i++) {
		char one[16];
		struct pp_port_pair p;
		if (internal && m->val[PP_F_INTERNAL_PORT])
			p = i == 0 ? (struct pp_port_pair){ 0, 0, m->in_lo, m->in_hi }
			           : (struct pp_port_pair){ 0, 0, m->more_in[i - 1].pub_lo, m->more_in[i - 1].pub_hi };
		else
			p = pp_mapping_port(m, i);
		pp_format_ports(one, sizeof one, internal ? p.in_lo : p.pub_lo, internal ? p.in_hi : p.pub_hi);
		int w = snprintf(out + k, n - k, "%s%s", i ? "," : "", one);
		if (w < 0 || (size_t)w >= n - k)
			break;
		k += (size_t)w;
	}
}

bool
pp_mapping_hairpin(const struct pp_site *s, const struct pp_mapping *m)
{
	return m->hairpin == PP_HP_SITE ? s->hairpin : m->hairpin == PP_HP_YES;
}

void
pp_mapping_parsed_free(struct pp_mapping *m)
{
	free(m->allow);
	free(m->allow6);
	free(m->more_pub);
	free(m->more_in);
	m->allow = NULL;
	m->allow6 = NULL;
	m->more_pub = m->more_in = NULL;
	m->nallow = m->nallow6 = m->nmore_pub = m->nmore_in = 0;
}

/* Say whether the address or the prefix is wrong, and suggest the network. */
static void
cidr_error(const char *t, struct pp_error *err)
{
	const char *slash = strchr(t, '/');
	char ip[32], net[16];
	uint32_t a;
	char *end;
	unsigned long l;

	if (slash && (size_t)(slash - t) < sizeof ip) {
		memcpy(ip, t, (size_t)(slash - t));
		ip[slash - t] = '\0';
		l = strtoul(slash + 1, &end, 10);
		if (pp_parse_ipv4(ip, &a) == 0 && *end == '\0' && end != slash + 1 && l <= 32) {
			pp_format_ipv4(l ? a & (0xffffffffu << (32 - l)) : 0, net);
			pp_error_set(err, "'%s' has host bits set; write the network %s/%lu, or %s/32 for one host",
			             t, net, l, ip);
			return;
		}
	}
	pp_error_set(err, "'%s' is not an IPv4 address or CIDR; write e.g. 198.51.100.7 or 198.51.100.0/24", t);
}

static int
parse_allow(struct pp_mapping *m, const char *s, struct pp_error *err)
{
	char *copy = pp_xstrdup(s), *save = NULL, *tok;
	struct pp_cidr *v = NULL;
	struct pp_cidr6 *v6 = NULL;
	size_t n = 0, n6 = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = pp_trim(tok);
		uint32_t a;
		uint8_t l;

		if (*t == '\0')
			continue;
		/* Mixed lists: each family's sources apply to that family's traffic. */
		if (strchr(t, ':')) {
			struct pp_cidr6 c6;
			if (pp_parse_cidr6(t, &c6, err) < 0) {
				free(copy);
				free(v);
				free(v6);
				return -1;
			}
			v6 = pp_xrealloc(v6, (n6 + 1) * sizeof *v6);
			v6[n6++] = c6;
			continue;
		}
		if (pp_parse_cidr(t, &a, &l) < 0) {
			cidr_error(t, err);
			free(copy);
			free(v);
			free(v6);
			return -1;
		}
		v = pp_xrealloc(v, (n + 1) * sizeof *v);
		v[n].addr = a;
		v[n].len = l;
		n++;
	}
	free(copy);
	free(m->allow);
	m->allow = v;
	m->nallow = n;
	free(m->allow6);
	m->allow6 = v6;
	m->nallow6 = n6;
	return 0;
}

int
pp_mapping_parse_field(struct pp_mapping *m, enum pp_field f, const char *text, struct pp_error *err)
{
	switch (f) {
	case PP_F_PROTOCOL:
		if (strcasecmp(text, "tcp") == 0) m->proto = PP_TCP;
		else if (strcasecmp(text, "udp") == 0) m->proto = PP_UDP;
		else if (strcasecmp(text, "both") == 0) m->proto = PP_BOTH;
		else return pp_error_set(err, "'%s' is not a protocol; use tcp, udp or both", text);
		return 0;
	case PP_F_PUBLIC_PORT:
		return parse_port_list(text, &m->pub_lo, &m->pub_hi, &m->more_pub, &m->nmore_pub, false, err);
	case PP_F_INTERNAL_PORT:
		return parse_port_list(text, &m->in_lo, &m->in_hi, &m->more_in, &m->nmore_in, true, err);
	case PP_F_HAIRPIN: {
		bool b;
		if (*text == '\0' || strcasecmp(text, "default") == 0) {
			m->hairpin = PP_HP_SITE;
			return 0;
		}
		if (pp_parse_bool(text, &b) < 0)
			return pp_error_set(err, "'%s' is not yes or no; write hairpin = no (LAN clients cannot reach this "
			                    "mapping by the public address) or yes, or leave it out for the [site] default",
			                    text);
		m->hairpin = b ? PP_HP_YES : PP_HP_NO;
		return 0;
	}
	case PP_F_INTERNAL_IP:
		if (pp_parse_ipv4(text, &m->internal_ip) < 0)
			return pp_error_set(err, "'%s' is not an IPv4 address; write e.g. 192.168.2.101", text);
		if (m->internal_ip == 0 || (m->internal_ip >> 24) == 127 || (m->internal_ip >> 28) >= 14 ||
		    (m->internal_ip & 0xff) == 0xff)
			return pp_error_set(err, "'%s' cannot be a server's address; use the LAN host's unicast address", text);
		return 0;
	case PP_F_ALLOW:
		return parse_allow(m, text, err);
	case PP_F_ENABLED:
		if (pp_parse_bool(text, &m->enabled) < 0)
			return pp_error_set(err, "'%s' is not yes or no", text);
		return 0;
	case PP_F_MASQUERADE:
		if (pp_parse_bool(text, &m->masquerade) < 0)
			return pp_error_set(err, "'%s' is not yes or no (masquerade = yes: the server sees the "
			                    "router's LAN address as the client, so it answers through the router "
			                    "whatever its gateway)", text);
		return 0;
	case PP_F_EXPIRES:
		if (*text == '\0') {
			m->expires = 0;
			return 0;
		}
		if (pp_parse_datetime(text, &m->expires) < 0)
			return pp_error_set(err, "'%s' is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)", text);
		return 0;
	case PP_F_CHECK:
		for (size_t k = 1; k < sizeof check_names / sizeof check_names[0]; k++)
			if (strcasecmp(text, check_names[k]) == 0) {
				m->check = (enum pp_check_kind)k;
				return 0;
			}
		if (*text == '\0' || strcasecmp(text, "default") == 0) {
			m->check = PP_CK_DEFAULT;
			return 0;
		}
		return pp_error_set(err, "'%s' is not a check; use tcp, udp, http, https, rtsp, sip, tls or none", text);
	case PP_F_CHECK_TIMING:
		return pp_check_timing_parse(text, &m->timing, err);
	case PP_F_CHECK_SEND:
	case PP_F_CHECK_EXPECT: {
		char *o;
		if (pp_check_unescape(text, &o, NULL, err) < 0)
			return -1;
		free(o);
		return 0;
	}
	case PP_F_CHECK_PATH:
		if (*text && *text != '/')
			return pp_error_set(err, "'%s' is not a path; write it from the root, e.g. /health", text);
		if (strpbrk(text, " \r\n"))
			return pp_error_set(err, "'%s' holds spaces; write them as %%20", text);
		return 0;
	case PP_F_IPV6:
		if (strcasecmp(text, "only") == 0)
			m->ipv6 = PP_V6_ONLY;
		else {
			bool on;
			if (pp_parse_bool(text, &on) < 0)
				return pp_error_set(err, "'%s' is not yes, no or only; ipv6 = yes opens a pinhole to "
				                    "internal_ip6 as well, only: over IPv6 alone", text);
			m->ipv6 = on ? PP_V6_YES : PP_V6_NO;
		}
		return 0;
	case PP_F_INTERNAL_IP6:
		return pp_parse_ip6_target(text, m->internal_ip6, &m->ip6_hostid, err);
	case PP_F_NAT66:
		if (pp_parse_bool(text, &m->nat66) < 0)
			return pp_error_set(err, "'%s' is not yes or no (nat66 = yes: over IPv6 the router's own address "
			                    "and public_port are forwarded to internal_ip6, instead of a pinhole to the "
			                    "server's own address)", text);
		return 0;
	case PP_F_DESCRIPTION:
	case PP_F_OWNER:
	case PP_F_PURPOSE:
		return 0;
	case PP_F__COUNT:
		break;
	}
	return pp_error_set(err, "unknown field");
}

bool
pp_mapping_expired(const struct pp_mapping *m, time_t now)
{
	return m->expires != 0 && !(m->bad & (1u << PP_F_EXPIRES)) && m->expires <= now;
}

bool
pp_mapping_active(const struct pp_mapping *m, time_t now)
{
	return m->enabled && m->bad == 0 && m->internal_ip != 0 && m->pub_lo != 0 &&
	       !pp_mapping_expired(m, now);
}
