/* The public address: WAN interface when it is public, else echo services confirmed by a second one. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <sys/socket.h>

#include "ddns-internal.h"
#include "portpilot/probe.h"
#include "portpilot/relay.h"
#include "portpilot/table.h"

int
pp_iface_ipv4(const char *ifname, char out[16])
{
	struct ifaddrs *ifa, *i;
	int rc = -1;

	if (getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, ifname) != 0)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out, 16);
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	return rc;
}

/* Flags from linux/if_addr.h: addresses that must not be published. */
#define IFA_F_TEMPORARY_  0x01
#define IFA_F_DADFAILED_  0x08
#define IFA_F_DEPRECATED_ 0x20
#define IFA_F_TENTATIVE_  0x40

int
pp_iface_ipv6(const char *ifname, char out[46])
{
	/* /proc/net/if_inet6 carries the flags getifaddrs() hides; it follows our network namespace. */
	FILE *f = fopen("/proc/net/if_inet6", "r");
	char hex[33], name[IF_NAMESIZE + 1];
	unsigned idx, plen, scope, flags;
	int rc = -1;

	if (f == NULL)
		return -1;
	while (rc < 0 && fscanf(f, "%32s %x %x %x %x %16s", hex, &idx, &plen, &scope, &flags, name) == 6) {
		struct in6_addr a;
		if (strcmp(name, ifname) != 0 || scope != 0 ||
		    (flags & (IFA_F_TEMPORARY_ | IFA_F_DADFAILED_ | IFA_F_DEPRECATED_ | IFA_F_TENTATIVE_)))
			continue;
		for (int k = 0; k < 16; k++) {
			unsigned b;
			sscanf(hex + 2 * k, "%2x", &b);
			a.s6_addr[k] = (unsigned char)b;
		}
		/* Unique local (fc00::/7) is not reachable from outside either. */
		if ((a.s6_addr[0] & 0xfe) == 0xfc)
			continue;
		inet_ntop(AF_INET6, &a, out, 46);
		rc = 0;
	}
	fclose(f);
	return rc;
}

static enum pp_addr_kind
kind_of(const char *s)
{
	uint32_t a;
	return pp_parse_ipv4(s, &a) < 0 ? PP_AK_RESERVED : pp_ipv4_kind(a);
}

/* Ask one echo service; 0 with a public-looking IPv4 in out. */
static int
echo_ask(const struct ddns_addr_in *in, const char *url, char out[16])
{
	const struct pp_ddns_conf *dc = in->dc;
	struct ddns_http_req rq = { .url = url, .ca_file = dc->ca_file, .timeout = 10 };
	struct ddns_http_resp rs;
	uint32_t a;
	int rc;

	if (in->echo_hook)
		return in->echo_hook(in->hook_ctx, url, out);
	rc = ddns_http(&rq, &rs);
	if (rc == 0 && rs.status == 200) {
		char *t = pp_trim(rs.body.data);
		if (pp_parse_ipv4(t, &a) == 0) {
			pp_format_ipv4(a, out);
		} else {
			ddns_log(DDNS_WARN, "echo %s: answer is not an IPv4 address", url);
			rc = -1;
		}
	} else {
		ddns_log(DDNS_WARN, "echo %s: %s", url, rs.outcome);
		rc = -1;
	}
	ddns_http_resp_free(&rs);
	return rc;
}

/* The portpilot reflector's /v1/whoami: our own service, so one answer is enough. */
static int
whoami(const struct ddns_addr_in *in, char out[16])
{
	struct pp_reflect_result rr;
	struct pp_error err;
	uint32_t a;

	if (pp_reflector_whoami(in->reflector, in->reflector_token, &rr, &err) < 0 ||
	    pp_parse_ipv4(rr.seen_ip, &a) < 0)
		return -1;
	pp_format_ipv4(a, out);
	return 0;
}

/*
 * What url says, asked only when no section has asked it in the last
 * PP_DDNS_ECHO_MIN seconds; otherwise its last answer (a failure too, so a
 * dead service is not hammered every poll). 0 with out filled.
 */
static int
ask(const struct ddns_addr_in *in, const char *url, char out[16], struct ddns_addr *r)
{
	struct ddns_echo_seen *e = ddns_echo_cache_get(in->cache, url);

	if (e->asked == 0 || in->now - e->asked >= PP_DDNS_ECHO_MIN || in->now < e->asked) {
		char a[16] = "";
		r->echo_requests++;
		if ((in->reflector ? whoami(in, a) : echo_ask(in, url, a)) < 0)
			a[0] = '\0';
		e->asked = in->now;
		snprintf(e->addr, sizeof e->addr, "%s", a);
	}
	snprintf(out, 16, "%.15s", e->addr);
	return out[0] ? 0 : -1;
}

/*
 * One echo round: the first service that answers; a different address than
 * this section last agreed on must be confirmed by the next service in the
 * list. Services that disagree leave the known address in place: no
 * flapping between them. A confirmation may be another section's recent
 * answer; when that answer predates the change they disagree for now, and
 * agree once that service may be asked again.
 */
static void
echo_round(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	struct pp_ddns_echo *e = &in->st->echo;
	char a[16], b[16];
	size_t i;

	for (i = 0; i < in->nurls; i++)
		if (ask(in, in->urls[i], a, r) == 0)
			break;
	if (i == in->nurls) {
		snprintf(r->verdict, sizeof r->verdict, "no echo service answered; the public address is unknown");
		return;
	}
	if (strcmp(a, e->addr) == 0 || in->nurls == 1) {
		snprintf(e->addr, sizeof e->addr, "%s", a);
		return;
	}
	for (size_t k = i + 1; k < in->nurls; k++) {
		if (ask(in, in->urls[k], b, r) < 0)
			continue;
		if (strcmp(a, b) == 0) {
			snprintf(e->addr, sizeof e->addr, "%s", a);
			return;
		}
		snprintf(r->verdict, sizeof r->verdict, "echo services disagree (%s says %s, %s says %s); "
		         "keeping %s until they agree", in->urls[i], a, in->urls[k], b,
		         e->addr[0] ? e->addr : "nothing published");
		return;
	}
	snprintf(r->verdict, sizeof r->verdict, "echo service %s reports %s but no second service could "
	         "confirm it; keeping %s", in->urls[i], a, e->addr[0] ? e->addr : "nothing published");
}

/* The echoed address; each service is asked at most once every PP_DDNS_ECHO_MIN seconds. */
static void
echoed(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	struct pp_ddns_echo *e = &in->st->echo;
	char a[16];

	if (in->nurls == 0 && in->reflector == NULL) {
		snprintf(r->verdict, sizeof r->verdict, "no echo service configured (checkip =); "
		         "the public address cannot be learnt");
		return;
	}
	if (in->reflector == NULL)
		echo_round(in, r);
	else if (ask(in, in->reflector, a, r) == 0)
		snprintf(e->addr, sizeof e->addr, "%s", a);
	else
		snprintf(r->verdict, sizeof r->verdict, "the reflector %s did not say our address; "
		         "the public address is unknown", in->reflector);
	snprintf(r->echo, sizeof r->echo, "%s", e->addr);
}

static void
say_cgnat(struct ddns_addr *r, const char *wan, const char *ifname)
{
	snprintf(r->verdict, sizeof r->verdict, "carrier-grade NAT: the WAN interface %s has %s (100.64.0.0/10), "
	         "an address shared behind the carrier's NAT. No IPv4 address is published: port forwarding cannot "
	         "work from outside. Ask the carrier for a public IPv4 address (or use IPv6), or publish the site "
	         "through a relay ([site] relay, portpilot relay up) and set ip_source = relay.", ifname, wan);
}

/* ip_source = relay: the site's public face is the edge host of [site] relay, whatever NATs sit
 * in front of the site (that is the point of the relay), so its address is what the name must
 * say. An edge given by name is resolved here, each time: the name may follow a VPS move. */
static void
relay_v4(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	struct pp_table *t = NULL;
	struct pp_relay_site rs;
	struct pp_error e;

	memset(&rs, 0, sizeof rs);
	if (in->table_path == NULL) {
		snprintf(r->verdict, sizeof r->verdict, "ip_source = relay: no table to read [site] relay from; "
		         "nothing is published");
		return;
	}
	if (pp_table_load(in->table_path, false, &t, &e) < 0 || pp_relay_site_parse(t, &rs, &e) < 0) {
		snprintf(r->verdict, sizeof r->verdict, "ip_source = relay: %.400s; nothing is published", e.msg);
		pp_table_free(t);
		return;
	}
	if (!rs.on) {
		snprintf(r->verdict, sizeof r->verdict, "ip_source = relay, but %.200s has no [site] relay: nothing "
		         "is published; set [site] relay = EDGE[:PORT] (man portpilot, RELAY) or use ip_source = "
		         "auto", in->table_path);
		goto out;
	}
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	int rc = getaddrinfo(rs.host, NULL, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		snprintf(r->verdict, sizeof r->verdict, "ip_source = relay: the edge %.254s has no IPv4 address "
		         "(%s); nothing is published", rs.host, rc ? gai_strerror(rc) : "no answer");
		goto out;
	}
	char a[16];
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, a, sizeof a);
	freeaddrinfo(ai);
	if (kind_of(a) != PP_AK_PUBLIC) {
		snprintf(r->verdict, sizeof r->verdict, "ip_source = relay: the edge %.254s is %s, not a public "
		         "address; nothing is published (the edge must be reachable from the internet)", rs.host, a);
		goto out;
	}
	snprintf(r->v4, sizeof r->v4, "%s", a);
	/* A relay of some mappings only: the others are not reachable at this address. */
	if (!rs.all)
		snprintf(r->verdict, sizeof r->verdict, "the edge's address %s is published ([site] relay); only "
		         "the relayed mappings (%.300s) answer there", a, rs.names ? rs.names : "");
out:
	pp_relay_site_free(&rs);
	pp_table_free(t);
}

/* The IPv4 address to publish into r->v4, or why there is none into r->verdict. */
static void
find_v4(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	const struct pp_ddns_conf *dc = in->dc;
	enum pp_addr_kind wk = PP_AK_RESERVED;

	if (dc->ip_source == PP_IPSRC_RELAY) {
		if (dc->interface && pp_iface_ipv4(dc->interface, r->wan) == 0 && in->st)
			snprintf(in->st->echo.wan, sizeof in->st->echo.wan, "%s", r->wan);
		relay_v4(in, r);
		return;
	}

	if (dc->interface && pp_iface_ipv4(dc->interface, r->wan) == 0)
		wk = kind_of(r->wan);
	if (dc->interface && in->st)
		snprintf(in->st->echo.wan, sizeof in->st->echo.wan, "%s", r->wan);
	/* Behind carrier NAT no name can make the site reachable, whatever the echo says. */
	if (wk == PP_AK_CGNAT) {
		say_cgnat(r, r->wan, dc->interface);
		return;
	}
	if (dc->ip_source != PP_IPSRC_WEB && dc->ip_source != PP_IPSRC_REFLECTOR && dc->interface) {
		if (r->wan[0] == '\0') {
			snprintf(r->verdict, sizeof r->verdict, "WAN interface %s has no IPv4 address", dc->interface);
			return;
		}
		if (wk == PP_AK_PUBLIC) {
			snprintf(r->v4, sizeof r->v4, "%s", r->wan);
			return;
		}
		if (dc->ip_source == PP_IPSRC_INTERFACE) {
			snprintf(r->verdict, sizeof r->verdict, "WAN interface %s has %s, not a public address; "
			         "nothing is published (ip_source = auto would ask the echo services)",
			         dc->interface, r->wan);
			return;
		}
	}
	echoed(in, r);
	if (r->echo[0] == '\0' && r->wan[0] && in->nurls == 0 && in->reflector == NULL)
		snprintf(r->verdict, sizeof r->verdict, "the WAN interface %s has %s, not a public address, "
		         "and no echo service is configured (checkip =) to learn the public one",
		         dc->interface, r->wan);
	if (r->echo[0] == '\0')
		return;
	if (kind_of(r->echo) != PP_AK_PUBLIC) {
		snprintf(r->verdict, sizeof r->verdict, "the echo service reports %s, which is not a public "
		         "address; nothing is published", r->echo);
		return;
	}
	snprintf(r->v4, sizeof r->v4, "%s", r->echo);
	if (r->verdict[0])
		return;
	if (wk == PP_AK_PRIVATE)
		snprintf(r->verdict, sizeof r->verdict, "double NAT: the WAN interface %s has the private address "
		         "%s and the internet sees %s. %s is published, but forwarded ports only work if the "
		         "upstream router forwards them to %s too (or is put in bridge mode).",
		         dc->interface, r->wan, r->echo, r->echo, r->wan);
	else if (wk == PP_AK_PUBLIC && strcmp(r->wan, r->echo) != 0)
		snprintf(r->verdict, sizeof r->verdict, "the WAN interface %s has %s but the internet sees %s: "
		         "another NAT sits upstream. %s is published; forwarded ports will not be reachable "
		         "unless that NAT forwards them.", dc->interface, r->wan, r->echo, r->echo);
}

/*
 * A LAN server's record: its own AAAA, and the router's public IPv4 as A (the port forward) when
 * the section names an IPv4 source (interface, checkip, ip_source other than auto).
 */
static void
service(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	const struct pp_ddns_conf *dc = in->dc;
	char why[512] = "";

	if (ddns_service_v6(dc, in->table_path, r->v6, why, sizeof why) < 0)
		r->v6[0] = '\0';
	if (dc->interface || dc->ncheckip || dc->ip_source != PP_IPSRC_AUTO)
		find_v4(in, r);
	if (why[0]) {
		size_t len = strlen(r->verdict);
		snprintf(r->verdict + len, sizeof r->verdict - len, "%s%s", len ? " " : "", why);
	}
}

void
ddns_find_addr(const struct ddns_addr_in *in, struct ddns_addr *r)
{
	const struct pp_ddns_conf *dc = in->dc;

	memset(r, 0, sizeof *r);
	if (pp_ddns_is_service6(dc)) {
		service(in, r);
		return;
	}
	if (dc->ipv6 && dc->interface)
		pp_iface_ipv6(dc->interface, r->v6);
	find_v4(in, r);
	if (r->v4[0] || r->v6[0] == '\0')
		return;
	/* No usable IPv4 (never the private or shared one): the AAAA alone still reaches the site. */
	size_t len = strlen(r->verdict);
	snprintf(r->verdict + len, sizeof r->verdict - len, "%sIPv6 only: %s (the stable global address "
	         "of %s) is published as the AAAA record alone; IPv4-only clients cannot reach the site.",
	         len ? " " : "", r->v6, dc->interface);
}
