/* The relay's settings: [site] relay keys of the table, and the edge host's edge.ini. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/relay.h"
#include "portpilot/util.h"
#include "ini-doc.h"

bool
pp_wg_key_valid(const char *s)
{
	if (!s || strlen(s) != PP_WG_KEY_LEN || s[43] != '=')
		return false;
	for (int i = 0; i < 43; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return false;
	return true;
}

/* A host the edge may be: an IPv4 address or a DNS name (letters, digits, '-', '.'). */
static bool
host_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return s[0] != '-' && s[0] != '.';
}

/* relay = HOST[:PORT] into r (host, port); -1 when malformed. */
static int
parse_endpoint(const char *v, char *host, size_t hn, uint16_t *port)
{
	const char *c = strrchr(v, ':');
	size_t n = c ? (size_t)(c - v) : strlen(v);
	*port = PP_WG_PORT;
	if (c && pp_parse_u16(c + 1, port) < 0)
		return -1;
	if (!host_ok(v, n) || n >= hn)
		return -1;
	memcpy(host, v, n);
	host[n] = '\0';
	return 0;
}

static bool
is_off(const char *v)
{
	bool b;
	return !v || !*v || (pp_parse_bool(v, &b) == 0 && !b);
}

const char *
pp_relay_field_problem(enum pp_site_field f, const char *v)
{
	char host[254];
	uint16_t port;
	uint32_t a;
	switch (f) {
	case PP_S_RELAY:
		if (is_off(v) || (pp_parse_bool(v, &(bool){ 0 }) < 0 && parse_endpoint(v, host, sizeof host, &port) == 0))
			return NULL;
		return "write the edge host and its WireGuard port, e.g. relay = 198.51.100.20:51820, or relay = no";
	case PP_S_RELAY_PUBLIC_KEY:
		return pp_wg_key_valid(v) ? NULL
		       : "write the edge's public key as `portpilot edge keygen` prints it on the edge (44 characters)";
	case PP_S_RELAY_ADDRESS:
		return pp_parse_ipv4(v, &a) == 0 && a != 0 ? NULL
		       : "write this site's tunnel address as the edge's edge.ini gives it, e.g. 10.77.0.2";
	case PP_S_RELAY_MAPPINGS:
		return *v ? NULL : "write all, or the names of the mappings the relay carries, comma-separated";
	case PP_S_RELAY_KEEPALIVE: {
		char *e;
		long k = strtol(v, &e, 10);
		return *v && !*e && k >= 1 && k <= 3600 ? NULL
		       : "write the seconds between keepalives (1-3600), e.g. 25; it keeps the carrier NAT's mapping open";
	}
	case PP_S_RELAY_INTERFACE:
		return pp_ifname_problem(v) ? "write an interface name of 1-15 letters and digits, e.g. pp-relay" : NULL;
	default:
		return NULL;
	}
}

void
pp_relay_site_free(struct pp_relay_site *r)
{
	free(r->names);
	r->names = NULL;
}

int
pp_relay_site_parse(const struct pp_table *t, struct pp_relay_site *r, struct pp_error *err)
{
	const struct pp_site *s = &t->site;
	const char *path = t->path ? t->path : "table";
	memset(r, 0, sizeof *r);
	if (is_off(s->val[PP_S_RELAY]))
		return 0;
	for (int f = PP_S_RELAY; f < PP_S__COUNT; f++) {
		const char *why = s->val[f] ? pp_relay_field_problem(f, s->val[f]) : NULL;
		if (why)
			return pp_error_set(err, "%s:%d: [site] %s: '%.60s' is not valid: %s", path,
			                    s->key_line[f] ? s->key_line[f] : s->line, pp_site_field_name(f), s->val[f],
			                    why);
	}
	static const enum pp_site_field need[] = { PP_S_RELAY_PUBLIC_KEY, PP_S_RELAY_ADDRESS };
	for (size_t i = 0; i < 2; i++)
		if (!s->val[need[i]])
			return pp_error_set(err, "%s:%d: [site] relay is set but %s is missing: %s", path,
			                    s->key_line[PP_S_RELAY], pp_site_field_name(need[i]),
			                    pp_relay_field_problem(need[i], ""));
	/* The tunnel is made and deleted by that name: it must not be one of the router's own. */
	const char *ifn = s->val[PP_S_RELAY_INTERFACE] ? s->val[PP_S_RELAY_INTERFACE] : PP_RELAY_IF;
	for (int f = PP_S_WAN_INTERFACE; f <= PP_S_LAN_INTERFACE; f++)
		if (s->val[f] && strcmp(s->val[f], ifn) == 0)
			return pp_error_set(err, "%s:%d: [site] relay_interface: '%s' is the %s: the tunnel needs a name "
			                    "of its own, e.g. pp-relay", path, s->key_line[PP_S_RELAY_INTERFACE] ?
			                    s->key_line[PP_S_RELAY_INTERFACE] : s->key_line[PP_S_RELAY], ifn,
			                    pp_site_field_name(f));
	r->on = true;
	parse_endpoint(s->val[PP_S_RELAY], r->host, sizeof r->host, &r->port);
	snprintf(r->edge_key, sizeof r->edge_key, "%s", s->val[PP_S_RELAY_PUBLIC_KEY]);
	pp_parse_ipv4(s->val[PP_S_RELAY_ADDRESS], &r->address);
	snprintf(r->ifname, sizeof r->ifname, "%s", s->val[PP_S_RELAY_INTERFACE] ? s->val[PP_S_RELAY_INTERFACE]
	                                                                         : PP_RELAY_IF);
	r->keepalive = s->val[PP_S_RELAY_KEEPALIVE] ? atoi(s->val[PP_S_RELAY_KEEPALIVE]) : 25;
	const char *mv = s->val[PP_S_RELAY_MAPPINGS];
	r->all = !mv || strcasecmp(mv, "all") == 0;
	if (!r->all) {
		r->names = pp_xstrdup(mv);
		/* Every name must be a mapping: a typo would silently leave a service unreachable. */
		char *copy = pp_xstrdup(mv), *save = NULL;
		for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
			n = pp_trim(n);
			if (*n && !pp_table_find(t, n)) {
				pp_error_set(err, "%s:%d: [site] relay_mappings: no mapping is named '%.60s': write the "
				             "name of a [section] of this table, or all", path,
				             s->key_line[PP_S_RELAY_MAPPINGS], n);
				free(copy);
				pp_relay_site_free(r);
				return -1;
			}
		}
		free(copy);
	}
	return 0;
}

bool
pp_relay_maps(const struct pp_relay_site *r, const struct pp_mapping *m)
{
	if (!r->on)
		return false;
	if (r->all)
		return true;
	size_t n = strlen(m->name);
	for (const char *p = r->names; *p;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		const char *e = p + strcspn(p, ",");
		const char *te = e;
		while (te > p && isspace((unsigned char)te[-1]))
			te--;
		if ((size_t)(te - p) == n && strncmp(p, m->name, n) == 0)
			return true;
		p = e;
	}
	return false;
}

/* ---- edge.ini ---- */

void
pp_edge_conf_free(struct pp_edge_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->sites[i].name);
		free(c->sites[i].ports);
	}
	free(c->sites);
	free(c->path);
	free(c);
}

/* ports = tcp/8080, udp/5005, tcp/10000-10010 */
static const char *
parse_ports(const char *v, struct pp_edge_site *s)
{
	char *copy = pp_xstrdup(v), *save = NULL;
	const char *why = NULL;
	for (char *p = strtok_r(copy, ",", &save); p && !why; p = strtok_r(NULL, ",", &save)) {
		p = pp_trim(p);
		char *slash = strchr(p, '/'), *dash;
		struct pp_edge_port e = { 0 };
		if (!slash) {
			why = "write each entry as PROTOCOL/PORT or PROTOCOL/FIRST-LAST, e.g. tcp/8080, udp/5005";
			break;
		}
		*slash = '\0';
		e.proto = strcasecmp(p, "tcp") == 0 ? PP_TCP : strcasecmp(p, "udp") == 0 ? PP_UDP : 0;
		if (!e.proto) {
			why = "the protocol is tcp or udp, e.g. tcp/8080";
			break;
		}
		if ((dash = strchr(slash + 1, '-')) != NULL)
			*dash = '\0';
		if (pp_parse_u16(slash + 1, &e.lo) < 0 || (dash && pp_parse_u16(dash + 1, &e.hi) < 0)) {
			why = "a port is a number 1-65535, a range FIRST-LAST, e.g. tcp/8080 or udp/10000-10099";
			break;
		}
		if (!dash)
			e.hi = e.lo;
		if (e.hi < e.lo) {
			why = "a range goes from the lower port to the higher, e.g. udp/10000-10099";
			break;
		}
		if (s->nports == PP_EDGE_MAX_PORTS) {
			why = "at most 64 entries a site: use ranges";
			break;
		}
		s->ports = pp_xrealloc(s->ports, (s->nports + 1) * sizeof *s->ports);
		s->ports[s->nports++] = e;
	}
	free(copy);
	if (!why && s->nports == 0)
		why = "name at least one port, e.g. ports = tcp/8080";
	return why;
}

static bool
overlap(const struct pp_edge_port *a, const struct pp_edge_port *b)
{
	return a->proto == b->proto && a->lo <= b->hi && b->lo <= a->hi;
}

/* What a whole conf must hold: sites inside the tunnel network, nothing used twice. */
static int
check_conf(struct pp_edge_conf *c, struct pp_error *err)
{
	uint32_t mask = c->prefix ? ~0u << (32 - c->prefix) : 0;
	if (!c->address)
		return pp_error_set(err, "%s: [edge] address is missing: write the edge's tunnel address and network, "
		                    "e.g. address = 10.77.0.1/24", c->path);
	if ((c->address & ~mask) == 0 || (c->address & ~mask) == ~mask)
		return pp_error_set(err, "%s: [edge] address: the network's own or broadcast address is no host: "
		                    "write e.g. 10.77.0.1/24", c->path);
	if (*c->public_if && strcmp(c->public_if, c->ifname) == 0)
		return pp_error_set(err, "%s: [edge] public_interface is the tunnel's interface: name the internet-"
		                    "facing one, e.g. eth0", c->path);
	for (size_t i = 0; i < c->n; i++) {
		struct pp_edge_site *s = &c->sites[i];
		if (!s->address || !*s->key || !s->nports)
			return pp_error_set(err, "%s:%d: [site %s] needs public_key, address and ports: write all three, "
			                    "e.g. address = 10.77.0.2, ports = tcp/8080", c->path, s->line, s->name);
		if ((s->address & mask) != (c->address & mask) || s->address == c->address ||
		    (s->address & ~mask) == 0 || (s->address & ~mask) == ~mask)
			return pp_error_set(err, "%s:%d: [site %s] address: it must be a host of the tunnel network of "
			                    "[edge] address, other than the edge's own: pick a free one in it",
			                    c->path, s->line, s->name);
		for (size_t j = 0; j < i; j++) {
			struct pp_edge_site *o = &c->sites[j];
			if (o->address == s->address || strcmp(o->key, s->key) == 0)
				return pp_error_set(err, "%s:%d: [site %s] has the same %s as [site %s] (line %d): every site "
				                    "needs its own key and tunnel address", c->path, s->line, s->name,
				                    o->address == s->address ? "address" : "public_key", o->name, o->line);
			for (size_t a = 0; a < s->nports; a++)
				for (size_t b = 0; b < o->nports; b++)
					if (overlap(&s->ports[a], &o->ports[b]))
						return pp_error_set(err, "%s:%d: [site %s] ports: %s/%u is also [site %s]'s (line "
						                    "%d): one public port goes to one site; pick another",
						                    c->path, s->line, s->name, pp_proto_name(s->ports[a].proto),
						                    s->ports[a].lo, o->name, o->line);
		}
	}
	return 0;
}

static char *
value_of(const struct pp_ini_line *l)
{
	const char *v = l->s + l->vstart;
	size_t n = l->vend - l->vstart;
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
		v++, n -= 2;
	return pp_xstrndup(v, n);
}

static int
edge_key(struct pp_edge_conf *c, const char *k, const char *v, int line, struct pp_error *err)
{
	const char *why = NULL;
	uint16_t port;
	uint32_t a;
	uint8_t len;
	bool b;
	if (strcasecmp(k, "interface") == 0 || strcasecmp(k, "public_interface") == 0) {
		if (pp_ifname_problem(v))
			why = "write an interface name as `ip link` shows it, e.g. pp-edge or eth0";
		else
			snprintf(tolower((unsigned char)k[0]) == 'i' ? c->ifname : c->public_if, 16, "%s", v);
	} else if (strcasecmp(k, "listen_port") == 0) {
		if (pp_parse_u16(v, &port) < 0)
			why = "write the UDP port WireGuard listens on, e.g. 51820";
		c->listen_port = port;
	} else if (strcasecmp(k, "address") == 0) {
		/* A host address with its network's length: pp_parse_cidr wants the network itself. */
		const char *sl = strchr(v, '/');
		char ip[16] = "", *e = NULL;
		long l = sl ? strtol(sl + 1, &e, 10) : -1;
		if (sl && (size_t)(sl - v) < sizeof ip)
			memcpy(ip, v, (size_t)(sl - v));
		len = (uint8_t)(l >= 8 && l <= 30 ? l : 0);
		if (!sl || !*ip || pp_parse_ipv4(ip, &a) < 0 || !e || *e || !len)
			why = "write the edge's tunnel address with the network's length (/8 to /30), e.g. 10.77.0.1/24";
		else
			c->address = a, c->prefix = len;
	} else if (strcasecmp(k, "forward_other") == 0) {
		if (pp_parse_bool(v, &b) < 0)
			why = "write yes or no";
		c->forward_other = b;
	} else {
		return pp_error_set(err, "%s:%d: [edge] has no key '%.40s': the keys are interface, listen_port, address, "
		                    "public_interface, forward_other", c->path, line, k);
	}
	if (why)
		return pp_error_set(err, "%s:%d: [edge] %s: '%.60s' is not valid: %s", c->path, line, k, v, why);
	return 0;
}

static int
site_key(struct pp_edge_conf *c, struct pp_edge_site *s, const char *k, const char *v, int line,
         struct pp_error *err)
{
	const char *why = NULL;
	if (strcasecmp(k, "public_key") == 0) {
		if (!pp_wg_key_valid(v))
			why = "write the site's public key as `portpilot relay keygen` prints it on the site";
		else
			snprintf(s->key, sizeof s->key, "%s", v);
	} else if (strcasecmp(k, "address") == 0) {
		if (pp_parse_ipv4(v, &s->address) < 0)
			why = "write the site's tunnel address, e.g. 10.77.0.2";
	} else if (strcasecmp(k, "ports") == 0) {
		why = s->nports ? "ports is given twice: put every port in one ports line" : parse_ports(v, s);
	} else {
		return pp_error_set(err, "%s:%d: [site %s] has no key '%.40s': the keys are public_key, address, ports",
		                    c->path, line, s->name, k);
	}
	if (why)
		return pp_error_set(err, "%s:%d: [site %s] %s: '%.60s' is not valid: %s", c->path, line, s->name, k, v,
		                    why);
	return 0;
}

int
pp_edge_conf_parse(const char *path, const char *text, size_t len, struct pp_edge_conf **out,
                   struct pp_error *err)
{
	struct pp_edge_conf *c = pp_xcalloc(1, sizeof *c);
	c->path = pp_xstrdup(path);
	snprintf(c->ifname, sizeof c->ifname, "%s", PP_EDGE_IF);
	c->listen_port = PP_WG_PORT;
	struct pp_ini_line *l = NULL;
	size_t n = pp_ini_scan(text, len, &l);
	int rc = 0;
	enum { NONE, EDGE, SITE } in = NONE;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int line = (int)i + 1;
		if (l[i].kind == PP_INI_BAD) {
			rc = pp_error_set(err, "%s:%d: %s", path, line, l[i].why);
		} else if (l[i].kind == PP_INI_SECTION) {
			char *name = pp_xstrndup(l[i].name, l[i].name_len);
			if (strcasecmp(name, "edge") == 0) {
				in = EDGE;
			} else if (strncasecmp(name, "site ", 5) == 0 && *pp_trim(name + 5)) {
				const char *sn = pp_trim(name + 5);
				for (size_t j = 0; j < c->n && rc == 0; j++)
					if (strcmp(c->sites[j].name, sn) == 0)
						rc = pp_error_set(err, "%s:%d: [site %s] is there twice (line %d): give each site "
						                  "one section", path, line, sn, c->sites[j].line);
				if (rc == 0 && c->n == PP_EDGE_MAX_SITES)
					rc = pp_error_set(err, "%s:%d: more than %d sites: split them over edges", path, line,
					                  PP_EDGE_MAX_SITES);
				if (rc == 0) {
					c->sites = pp_xrealloc(c->sites, (c->n + 1) * sizeof *c->sites);
					c->sites[c->n++] = (struct pp_edge_site){ .name = pp_xstrdup(sn), .line = line };
					in = SITE;
				}
			} else {
				rc = pp_error_set(err, "%s:%d: unknown section [%.60s]: the sections are [edge] and "
				                  "[site NAME]", path, line, name);
			}
			free(name);
		} else if (l[i].kind == PP_INI_KEY) {
			char *k = pp_xstrndup(l[i].name, l[i].name_len), *v = value_of(&l[i]);
			if (in == NONE)
				rc = pp_error_set(err, "%s:%d: '%.40s' stands before any section: put it under [edge] or "
				                  "[site NAME]", path, line, k);
			else if (in == EDGE)
				rc = edge_key(c, k, pp_trim(v), line, err);
			else
				rc = site_key(c, &c->sites[c->n - 1], k, pp_trim(v), line, err);
			free(k);
			free(v);
		}
	}
	free(l);
	if (rc == 0)
		rc = check_conf(c, err);
	if (rc < 0) {
		pp_edge_conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
pp_edge_conf_load(const char *path, struct pp_edge_conf **out, struct pp_error *err)
{
	size_t len;
	char *text = pp_read_file_max(path, PP_CONF_MAX, &len, err);
	if (!text)
		return -1;
	int rc = pp_edge_conf_parse(path, text, len, out, err);
	free(text);
	return rc;
}
