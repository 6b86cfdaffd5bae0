/* The probe's causes, one row each: the one place a cause is named and described. */
#include <string.h>

#include "portpilot/probe.h"

/* A new cause: append its enum value (include/portpilot/probe.h, before PP_CAUSE__COUNT), one
 * row here, and the link of the decision chain that names it (probe/diagnose.c, chain[]).
 * man/portpilot.8 holds the same list: `portpilot probe --list-causes=man` prints it,
 * `sh tools/man-causes.sh` puts it there, and tests/cli/test-causes.sh fails until they agree. Names are stable: JSON, monitor events
 * and scripts use them. Summary and fix say what every verdict of the cause has in common; the
 * verdict itself names the rule, port and address. */
static const struct pp_cause_info causes[] = {
	[PP_CAUSE_OK] = { "ok",
		"no fault: the reflector's connection was answered by the mapping's own target, or without "
		"an outside test every inside check passed",
		"nothing to fix (without a reflector: test from outside to be sure)",
		"No fault: the reflector's connection to the public port was answered by the mapping's own "
		"target; without an outside test, every inside check passed (the summary says what was not "
		"tested)." },
	[PP_CAUSE_DISABLED] = { "disabled",
		"the mapping is disabled in the table (enabled = no)",
		"portpilot enable NAME, then portpilot apply",
		"The mapping is disabled in the table (\\fBenabled = no\\fR)." },
	[PP_CAUSE_EXPIRED] = { "expired",
		"the mapping's expires time has passed",
		"set a new end (portpilot set NAME expires=...) or remove expires, then portpilot apply",
		"The mapping's \\fBexpires\\fR time has passed." },
	[PP_CAUSE_RULE_MISSING] = { "rule_missing",
		"the kernel has no DNAT rule sending the public port to internal_ip:internal_port (for one "
		"of the protocols)",
		"portpilot apply (the table was not applied, or the rules were flushed)",
		"The kernel has no DNAT rule sending the public port to the server (for one of the "
		"protocols): the table was not applied, or the rules were flushed." },
	[PP_CAUSE_IP_FORWARD_OFF] = { "ip_forward_off",
		"the router forwards nothing: net.ipv4.ip_forward is 0, or forwarding is off on the WAN or "
		"LAN interface",
		"sysctl -w the switch named to 1, and keep it in /etc/sysctl.d/",
		"The router does not forward: \\fBnet.ipv4.ip_forward\\fR is 0, or forwarding is off on "
		"the WAN or LAN interface (see below)." },
	[PP_CAUSE_FORWARD_BLOCKED] = { "forward_blocked",
		"the attempt arrived on the WAN but the FORWARD chain did not pass it to the server, or "
		"dropped the server's answer on its way back",
		"accept DNATed traffic and its replies in FORWARD (portpilot apply inserts it); check "
		"firewalld/ufw/Docker rules that drop before it",
		"The attempt arrived on the WAN but the FORWARD chain did not pass it to the server, or "
		"dropped the server's answer on its way back." },
	[PP_CAUSE_NOT_LISTENING] = { "not_listening",
		"nothing listens on the internal port: a TCP reset (UDP: ICMP port unreachable) even from "
		"the LAN",
		"start the service, or correct internal_port; a service bound to 127.0.0.1 only must "
		"listen on the server's address",
		"Nothing listens on the internal port: a TCP reset (UDP: ICMP port unreachable) even from "
		"the LAN." },
	[PP_CAUSE_HOST_UNREACHABLE] = { "host_unreachable",
		"the server does not answer on the LAN: no reply to a fresh ARP request, nor to anything "
		"else",
		"check that the server is powered on, cabled and has this address, or correct internal_ip",
		"The server does not answer on the LAN: no reply to a fresh ARP request, nor to anything "
		"else." },
	[PP_CAUSE_HOST_FIREWALL] = { "host_firewall",
		"the server's own firewall drops or rejects the port, even from the LAN or for non-LAN "
		"sources only",
		"open the port on the server's firewall for every source (or the clients' addresses), not "
		"only the local subnet",
		"The server's own firewall drops or rejects the port, even from the LAN or for non-LAN "
		"sources only (it admits the local subnet only)." },
	[PP_CAUSE_SERVER_GATEWAY] = { "server_gateway",
		"the server answers the LAN, but its replies to outside addresses do not come back through "
		"this router (another default gateway)",
		"set the server's default gateway to the router, or portpilot set NAME masquerade=yes",
		"The server answers the LAN, but its replies to outside addresses do not come back through "
		"this router: its default gateway is another, or it has none." },
	[PP_CAUSE_WRONG_PROTOCOL] = { "wrong_protocol",
		"the client used a protocol the mapping does not forward (UDP to a TCP mapping, or the "
		"other way round)",
		"set protocol= (or both) on the mapping if the service uses it, or make the client use "
		"the mapping's protocol",
		"The client used a protocol the mapping does not forward (UDP to a TCP mapping, or the "
		"other way round)." },
	[PP_CAUSE_SOURCE_NOT_ALLOWED] = { "source_not_allowed",
		"the client's address is not in the mapping's allow list",
		"add it to allow (portpilot set NAME allow=...) and apply, or test from an allowed address",
		"The client's address (or the reflector's) is not in the mapping's \\fBallow\\fR list." },
	[PP_CAUSE_HAIRPIN_MISSING] = { "hairpin_missing",
		"a LAN client used the public address and got no answer: hairpin NAT is off or not working",
		"hairpin = yes in [site] and apply, or let LAN clients use the internal address (split DNS)",
		"A LAN client used the public address and got no answer: hairpin NAT is off or not "
		"working." },
	[PP_CAUSE_PUBLIC_IP_MISMATCH] = { "public_ip_mismatch",
		"[site] public_ip, or the address the DDNS name resolves to, is not the site's current "
		"public address",
		"public_ip = auto (or the current address) in [site] and apply; publish the current "
		"address (portpilot ddns --once)",
		"\\fB[site] public_ip\\fR, or the address the DDNS name resolves to, is not the site's "
		"current public address." },
	[PP_CAUSE_CGNAT] = { "cgnat",
		"the WAN address is carrier-grade NAT (100.64.0.0/10): the carrier forwards no ports to "
		"this router",
		"ask the carrier for a public IPv4 address or a port forward, or reach the site through a "
		"tunnel it dials out to",
		"The WAN address is carrier-grade NAT (100.64.0.0/10): the carrier forwards no ports to "
		"this router." },
	[PP_CAUSE_DOUBLE_NAT] = { "double_nat",
		"the WAN address is private, or not the one the outside sees: another NAT router is in "
		"front",
		"forward the port on the upstream router too, or put it in bridge mode",
		"The WAN address is private, or not the one the outside sees: another NAT router is in "
		"front of this one." },
	[PP_CAUSE_UPSTREAM_BLOCKED] = { "upstream_blocked",
		"the attempt never arrived on the WAN, or the server's answer left on the WAN and was lost: "
		"something upstream filters the port",
		"ask the carrier whether the port is filtered, or use another public port",
		"The attempt never arrived on the WAN, or the server's answer left on the WAN and was "
		"lost: something upstream (the carrier, a firewall in front) filters the port." },
	[PP_CAUSE_FOREIGN_DNAT] = { "foreign_dnat",
		"another rule takes the public port before portpilot's (another tool's rule, or one "
		"conntrack shows outside portpilot's view)",
		"remove or move that rule, or give the mapping another public_port",
		"Another rule takes the public port before portpilot's (see below)." },
	[PP_CAUSE_FOREIGN_DROP] = { "foreign_drop",
		"a rule in raw, mangle or filter drops the traffic, or the server's replies, before "
		"portpilot's accept",
		"remove that rule or narrow it so it spares the mapping's port",
		"A rule in raw, mangle or filter drops the traffic, or the server's replies, before "
		"portpilot's accept (see below)." },
	[PP_CAUSE_RP_FILTER] = { "rp_filter",
		"strict reverse-path filtering on the WAN drops the attempts: the route back to the client "
		"leaves by another interface",
		"loose mode (rp_filter = 2), or a route back through the WAN interface",
		"Strict reverse-path filtering on the WAN drops the attempts: the route back to the "
		"client leaves by another interface (see below)." },
	[PP_CAUSE_LAN_ROUTE] = { "lan_route",
		"the router's route to the server is a reject route or leaves by the WAN interface",
		"remove the wrong route (ip route get IP shows it) so the server is reached on the LAN "
		"interface",
		"The router's route to the server is a reject route or leaves by the WAN interface (see "
		"below)." },
	[PP_CAUSE_RELAY_DOWN] = { "relay_down",
		"the mapping goes through the relay and its tunnel is not there, is down, or has not "
		"completed a handshake with the edge lately: the edge's public port cannot reach the site",
		"portpilot relay up (portpilot relay status shows the tunnel and the edge)",
		"The mapping goes through the relay (see RELAY) and its tunnel is not there, is down, never "
		"completed a handshake with the edge, or has not for longer than 180 s: the edge's public "
		"port cannot reach the site. Through a healthy tunnel a carrier-grade or double NAT in "
		"front of the site is not a fault, and \\fBcgnat\\fR and \\fBdouble_nat\\fR name the relay as "
		"their fix." },
	[PP_CAUSE_FOREIGN_SNAT] = { "foreign_snat",
		"a SNAT rule on the router rewrites the client's address, on its way to the server, to an "
		"address that is not this router's: the server answers that address, and the replies never "
		"come back through the router",
		"remove that SNAT (nat POSTROUTING: iptables -t nat -S POSTROUTING, or nft list ruleset), "
		"narrow it to traffic leaving by the WAN, or make its address one of this router's",
		"A SNAT rule on the router (another tool's, in nat POSTROUTING) rewrites the client's "
		"address, on its way to the server, to an address that is not this router's: the server "
		"answers that address and the replies never come back (conntrack shows the connections "
		"SNATed there and never answered). A SNAT to one of the router's own addresses (or "
		"\\fBmasquerade = yes\\fR) is not this fault." },
	[PP_CAUSE_IPV6_PINHOLE_MISSING] = { "ipv6_pinhole_missing",
		"the mapping asks for IPv6 but the kernel holds no pinhole to the server's IPv6 address "
		"(the backend's live rules, whoever removed them)",
		"portpilot apply (the table was not applied since ipv6 was set, or the pinholes were flushed)",
		"The mapping asks for IPv6 (\\fBipv6 = yes|only\\fR) but the backend's live rules hold no "
		"pinhole to the server's IPv6 address: the table was not applied since, or the rules were "
		"flushed." },
	[PP_CAUSE_IPV6_NOT_LISTENING] = { "ipv6_not_listening",
		"the server's IPv6 address answers the internal port with a TCP reset: the service "
		"listens on IPv4 only (or not at all)",
		"make the service listen on [::] or on the server's IPv6 address (many bind 0.0.0.0 only), "
		"or set ipv6 = no",
		"The server's IPv6 address answers the internal port with a TCP reset, from the router "
		"itself: the service listens on IPv4 only (it binds 0.0.0.0) or not at all." },
};

/* A row missing at the end (an enum value appended without its row) stops the build here; one
 * missing in the middle is an empty row, which the unit test test_cause_table names. */
_Static_assert(sizeof causes / sizeof causes[0] == PP_CAUSE__COUNT,
               "every enum pp_cause needs its row in causes[] (probe/causes.c)");

const struct pp_cause_info *
pp_cause_info(enum pp_cause c)
{
	return (unsigned)c < PP_CAUSE__COUNT && causes[c].name ? &causes[c] : NULL;
}

const char *
pp_cause_name(enum pp_cause c)
{
	const struct pp_cause_info *i = pp_cause_info(c);
	return i ? i->name : "?";
}

int
pp_cause_find(const char *name)
{
	for (int c = 0; c < PP_CAUSE__COUNT; c++)
		if (causes[c].name && !strcmp(causes[c].name, name))
			return c;
	return -1;
}
