/* Field names and the parsing of one value, shared by load, edit and validation. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/table.h"
#include "portpilot/util.h"

static const char *field_names[PP_F__COUNT] = {
	"description", "protocol", "public_port", "internal_ip", "internal_port",
	"allow", "enabled", "owner", "purpose", "expires", "masquerade",
};

static const char *site_names[PP_S__COUNT] = {
	"name", "wan_interface", "lan_interface", "lan_subnet", "public_ip", "hairpin",
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
	size_t n = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = pp_trim(tok);
		uint32_t a;
		uint8_t l;

		if (*t == '\0')
			continue;
		if (pp_parse_cidr(t, &a, &l) < 0) {
			cidr_error(t, err);
			free(copy);
			free(v);
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
		return parse_range(text, &m->pub_lo, &m->pub_hi, err);
	case PP_F_INTERNAL_PORT:
		return parse_range(text, &m->in_lo, &m->in_hi, err);
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
