/* The diagnosis: one cause from the fixed list, the evidence behind it, and the fix in plain words. */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "probe-internal.h"
#include "portpilot/util.h"
#include "portpilot/relay.h"

static void
set(struct pp_probe_result *r, enum pp_cause c, char *summary, char *fix)
{
	r->cause = c;
	r->summary = summary;
	r->fix = fix;
}


/* Packets worth showing: not the router's own tests (those are checks already). */
static bool
shown_kind(const struct pp_trace *t, const struct pp_packet *p, bool failed_only)
{
	if (p->attempt < 0)
		return !failed_only;
	const struct pp_attempt *a = &t->att[p->attempt];
	if (a->router_own)
		return false;
	return !failed_only || (a->answer != PP_ANS_SYNACK && a->answer != PP_ANS_UDP);
}

/* The packets of attempts that matter (outside or hairpin), as evidence lines, in time order;
 * when there are too many, those of attempts that failed come first. */
static void
packet_evidence(const struct pp_facts *f, struct pp_probe_result *r)
{
	enum { MAX_SHOWN = 16 };
	const struct pp_trace *t = f->trace;
	size_t pick[MAX_SHOWN], n = 0, total = 0;
	if (!t)
		return;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->npkts; i++) {
			bool failed = shown_kind(t, &t->pkts[i], true);
			if (!shown_kind(t, &t->pkts[i], false) || failed != (pass == 0))
				continue;
			total++;
			if (n < MAX_SHOWN)
				pick[n++] = i;
		}
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && pick[b - 1] > pick[b]; b--) {
			size_t tmp = pick[b];
			pick[b] = pick[b - 1];
			pick[b - 1] = tmp;
		}
	for (size_t i = 0; i < n; i++) {
		char line[200];
		pp_packet_format(&t->pkts[pick[i]], line, sizeof line);
		pp_evidence_add(r, "packet %s", line);
	}
	if (total > n)
		pp_evidence_add(r, "... %zu more packets: --write FILE.pcap keeps them all", total - n);
}

static int server_icmp_code(const struct pp_facts *f, int i);

/* Summary of what outside attempts reached. */
struct seen {
	int outside, wrong, right, not_allowed, in_not_fwd, fwd_no_reply, answered, hairpin, hairpin_bad;
	int refused, icmp, srv_refused, answer_left;
	uint32_t bad_src, wrong_src, last_client;
	uint8_t wrong_proto;
};

static struct seen
tally(const struct pp_facts *f)
{
	struct seen s = { 0 };
	const struct pp_trace *t = f->trace;
	for (size_t i = 0; t && i < t->natt; i++) {
		const struct pp_attempt *a = &t->att[i];
		if (a->router_own)
			continue;
		if (a->from_lan && !a->wan_in) {
			s.hairpin++;
			s.hairpin_bad += a->answer != PP_ANS_SYNACK && a->answer != PP_ANS_UDP;
			continue;
		}
		if (!a->wan_in)
			continue;
		s.outside++;
		s.last_client = a->client;
		if (a->wrong_proto) {
			s.wrong++;
			s.wrong_src = a->client;
			s.wrong_proto = a->proto;
			continue;
		}
		s.right++;
		if (!a->allowed) {
			s.not_allowed++;
			s.bad_src = a->client;
		} else if (!a->lan_out) {
			s.in_not_fwd++;
		} else if (a->answer == PP_ANS_NONE) {
			s.fwd_no_reply++;
		} else if (a->answer == PP_ANS_SYNACK || a->answer == PP_ANS_UDP) {
			s.answered++;
		} else {
			s.refused += a->answer == PP_ANS_RST;
			s.icmp += a->answer == PP_ANS_ICMP;
			/* The server's own RST (seen on the LAN) or ICMP error: it refused this client. */
			s.srv_refused += (a->answer == PP_ANS_RST && a->lan_reply) ||
			                 (a->answer == PP_ANS_ICMP && server_icmp_code(f, (int)i) >= 0);
		}
		if ((a->answer == PP_ANS_SYNACK || a->answer == PP_ANS_UDP) && a->wan_out)
			s.answer_left++;
	}
	return s;
}

/* TCP answered with ICMP port-unreachable by the server: a REJECT rule, not a closed port. */
static bool
icmp_reject(const struct pp_facts *f)
{
	for (size_t i = 0; f->trace && i < f->trace->npkts; i++) {
		const struct pp_packet *p = &f->trace->pkts[i];
		/* About the mapped port: the closed-port test's errors say nothing about it. */
		uint16_t hi = f->m->in_hi ? f->m->in_hi : f->m->in_lo;
		if (p->kind == PP_PKT_ICMP_UNREACH && p->proto == IPPROTO_TCP && p->icmp_from == f->m->internal_ip &&
		    p->dport >= f->m->in_lo && p->dport <= hi)
			return true;
	}
	return false;
}

/* What conntrack adds to a verdict about unanswered connections. */
static const char *
ct_words(const struct pp_facts *f)
{
	if (!f->ct_unreplied)
		return "";
	return f->ct_replied ? "; conntrack: some connections DNATed to it were never answered (UNREPLIED)"
	                     : "; conntrack: no connection DNATed to it was ever answered (UNREPLIED)";
}

/* The server asking ARP for an address other than ours: where its replies go instead. */
static uint32_t
other_gateway(const struct pp_facts *f)
{
	for (size_t i = 0; f->trace && i < f->trace->npkts; i++) {
		const struct pp_packet *p = &f->trace->pkts[i];
		if (p->kind == PP_PKT_ARP && p->src == f->m->internal_ip && p->dst != f->lan_ip)
			return p->dst;
	}
	return 0;
}

static char *
gateway_summary(const struct pp_facts *f, const char *ip, const char *what)
{
	char gw[16];
	uint32_t g = other_gateway(f);
	pp_format_ipv4(g, gw);
	if (g)
		return pp_xasprintf("%s %s, but its replies to outside addresses go to %s (it asks ARP "
		                    "for it), not this router%s", ip, what, gw, ct_words(f));
	return pp_xasprintf("%s %s, but its replies to outside addresses do not come back through "
	                    "this router%s", ip, what, ct_words(f));
}

static bool
table_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *ip)
{
	const struct pp_mapping *m = f->m;
	char when[20];
	if (!m->enabled) {
		set(r, PP_CAUSE_DISABLED, pp_xasprintf("mapping %s is disabled in the table", m->name),
		    pp_xasprintf("enable it (portpilot enable %s) and apply (portpilot apply)", m->name));
		return true;
	}
	if (f->expired) {
		pp_format_datetime(m->expires, when);
		set(r, PP_CAUSE_EXPIRED, pp_xasprintf("mapping %s expired at %s", m->name, when),
		    pp_xasprintf("if the access is still needed, set a new end: portpilot set %s expires=..."
		                 " (or remove expires) and apply", m->name));
		return true;
	}
	if (f->dnat_rule == PP_NO) {
		set(r, PP_CAUSE_RULE_MISSING,
		    pp_xasprintf("the kernel has no DNAT rule sending %s port %u to %s:%u",
		                 f->missing_proto, m->pub_lo, ip, m->in_lo),
		    pp_xasprintf("the table was not applied (or the rules were flushed): run portpilot apply"));
		return true;
	}
	if (f->ip_forward == PP_NO) {
		set(r, PP_CAUSE_IP_FORWARD_OFF, pp_xasprintf("net.ipv4.ip_forward is 0: the router forwards nothing"),
		    pp_xasprintf("sysctl -w net.ipv4.ip_forward=1, and set it in /etc/sysctl.d/ to keep it after reboot"));
		return true;
	}
	return false;
}

/* The router's own switches and other tools' rules, in the order the packet meets them: a rule in
 * PREROUTING that takes the port or drops the attempt, then the forwarding decision (interface
 * forwarding, strict rp_filter), then a drop in FORWARD or on the replies' way. What conntrack
 * recorded for the reflector's attempt counts too: a DNAT elsewhere is proof, whoever wrote it. */
static bool
kernel_rule_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *ip)
{
	const struct pp_mapping *m = f->m;
	char cnt[48] = "";
	if (f->foreign_pkts)
		snprintf(cnt, sizeof cnt, " (counter %llu packets)", f->foreign_pkts);
	if (f->foreign == 1 || (f->ct_elsewhere && !f->ct_replied && !f->ct_unreplied)) {
		if (f->foreign == 1)
			set(r, PP_CAUSE_FOREIGN_DNAT,
			    pp_xasprintf("another rule takes %s port %u before portpilot's: \"%s\" in %s%s sends it "
			                 "to %s, not %s:%u%s", pp_proto_name(m->proto), m->pub_lo, f->foreign_rule,
			                 f->foreign_where, cnt, f->foreign_to, ip, m->in_lo,
			                 f->ct_elsewhere ? "; conntrack shows the reflector's connection went there" : ""),
			    pp_xasprintf("remove that rule or move its tool (Docker, a UPnP daemon, an old script) to "
			                 "another port, or give %s another public_port (portpilot set %s public_port=...) "
			                 "and apply", m->name, m->name));
		else
			set(r, PP_CAUSE_FOREIGN_DNAT,
			    pp_xasprintf("conntrack shows the reflector's connection to port %u DNATed to %s, not "
			                 "%s:%u: a rule outside portpilot's view takes the port first (nftables "
			                 "table, another iptables variant)", m->pub_lo, f->ct_elsewhere_to, ip, m->in_lo),
			    pp_xasprintf("find the rule with nft list ruleset (or iptables-legacy-save) and remove "
			                 "it, or give %s another public_port and apply", m->name));
		return true;
	}
	if (f->foreign == 2 && f->foreign_before_routing) {
		set(r, PP_CAUSE_FOREIGN_DROP,
		    pp_xasprintf("\"%s\" in %s%s drops %s port %u before it is forwarded to %s", f->foreign_rule,
		                 f->foreign_where, cnt, pp_proto_name(m->proto), m->pub_lo, ip),
		    pp_xasprintf("remove that rule or narrow it so it spares port %u (the tool that wrote it: a "
		                 "firewall, fail2ban, a DDoS filter)", m->pub_lo));
		return true;
	}
	const char *sides[2] = { f->wan_if, f->lan_if };
	const enum pp_tri fwd[2] = { f->fwd_wan, f->fwd_lan };
	for (int k = 0; k < 2; k++) {
		if (fwd[k] != PP_NO)
			continue;
		/* sysctl spells a VLAN's dot as a slash: net.ipv4.conf.eth0/100.forwarding */
		char sn[32];
		snprintf(sn, sizeof sn, "%s", sides[k]);
		for (char *c = sn; *c; c++)
			*c = *c == '.' ? '/' : *c;
		set(r, PP_CAUSE_IP_FORWARD_OFF,
		    pp_xasprintf("net.ipv4.conf.%s.forwarding is 0: the router does not forward what arrives on %s "
		                 "(the %s side), so %s", sn, sides[k], k ? "LAN" : "WAN",
		                 k ? "the server's replies never leave for the internet"
		                   : "outside connections never reach the server"),
		    pp_xasprintf("sysctl -w net.ipv4.conf.%s.forwarding=1, and keep it after reboot: remove "
		                 "whatever sets it to 0 in /etc/sysctl.conf, /etc/sysctl.d/ or the network "
		                 "manager (IPForward=) and add net.ipv4.conf.%s.forwarding = 1 to /etc/sysctl.d/",
		                 sn, sn));
		return true;
	}
	/* The router's own route to the server: a reject route (blackhole, unreachable, prohibit:
	 * "*" in /proc/net/route) or one that leaves by the WAN sends the forwarded traffic, and the
	 * probe's own LAN tests, nowhere; the server is not to blame. Another LAN-side interface may
	 * be right (a second LAN, a VLAN): that stays the rp_filter check's info line. */
	if (*f->rp_lan_route && (strcmp(f->rp_lan_route, "*") == 0 ||
	                         (*f->wan_if && strcmp(f->rp_lan_route, f->wan_if) == 0))) {
		bool reject = strcmp(f->rp_lan_route, "*") == 0;
		set(r, PP_CAUSE_LAN_ROUTE,
		    pp_xasprintf("the router's route to %s %s, not out of the LAN interface %s: neither "
		                 "forwarded connections nor the router's own reach the server", ip,
		                 reject ? "is a reject route (blackhole, unreachable or prohibit)" :
		                 "leaves by the WAN interface", *f->lan_if ? f->lan_if : "(unknown)"),
		    pp_xasprintf("ip route get %s on the router shows the route; remove the wrong one (ip route "
		                 "del %s, or the network manager's static route) so %s is reached on %s", ip, ip,
		                 ip, *f->lan_if ? f->lan_if : "the LAN interface"));
		return true;
	}
	/* Only the WAN side: a route to the server that leaves by another interface than the LAN one
	 * sends the forwarded traffic there too, a routing fault that rp_filter would not explain. */
	if (f->rp_wan == 1 && *f->rp_wan_route && *f->wan_if && strcmp(f->rp_wan_route, f->wan_if)) {
		char cl[16];
		pp_format_ipv4(f->rp_client, cl);
		set(r, PP_CAUSE_RP_FILTER,
		    pp_xasprintf("strict reverse-path filtering (rp_filter = 1) on %s drops the attempts: they "
		                 "arrive on %s but the route back to %s leaves by %s", f->wan_if, f->wan_if,
		                 f->rp_client ? cl : "outside clients (the default route)", f->rp_wan_route),
		    pp_xasprintf("use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2 "
		                 "(and in /etc/sysctl.d/), or make the route to %s leave by %s", f->wan_if,
		                 f->rp_client ? cl : "outside clients", f->wan_if));
		return true;
	}
	if (f->foreign == 2) {
		set(r, PP_CAUSE_FOREIGN_DROP,
		    pp_xasprintf("\"%s\" in %s%s drops %s before portpilot's accept", f->foreign_rule,
		                 f->foreign_where, cnt, f->foreign_reply ? "the server's replies" : "the forwarded traffic"),
		    pp_xasprintf("remove that rule or narrow it so it spares %s:%u (portpilot's accept in PP-FWD "
		                 "only helps what reaches it; firewalld/ufw/Docker rules come first)", ip, m->in_lo));
		return true;
	}
	/* Last on the way out to the server, nat POSTROUTING: a SNAT to an address the router does not
	 * own sends the server's replies there. Only when none of those connections was answered: an
	 * answered one proves the replies do come back (that address routes through the router). */
	if (f->ct_snat_unreplied && !f->ct_snat_replied) {
		set(r, PP_CAUSE_FOREIGN_SNAT,
		    pp_xasprintf("a SNAT rule rewrites the source of the connections to %s:%u to %s, which is not "
		                 "this router's address: the server answers %s and %d connection(s) were never "
		                 "answered (conntrack: %s)", ip, m->in_lo, f->ct_snat_to, f->ct_snat_to,
		                 f->ct_snat_unreplied, f->ct_snat_line),
		    pp_xasprintf("find the SNAT to %s in nat POSTROUTING (iptables -t nat -S POSTROUTING, or nft "
		                 "list ruleset | grep snat) and remove it, narrow it to traffic leaving by the WAN "
		                 "(-o %s), or make %s an address of this router", f->ct_snat_to,
		                 *f->wan_if ? f->wan_if : "WAN", f->ct_snat_to));
		return true;
	}
	return false;
}

/* A relayed mapping is reached through the tunnel: is it there, up, and has the edge answered lately? */
static bool
relay_healthy(const struct pp_facts *f)
{
	return f->relay && f->relay_link == PP_YES && f->relay_handshake_age >= 0 &&
	       f->relay_handshake_age < PP_WG_ALIVE_S;
}

/* The words of relay_down, shared with the monitor's own tunnel check (probe/monitor-relay.c),
 * which judges the handshake against its own limit (max_age). */
void
pp_relay_down_text(const char *ifname, const char *edge, enum pp_tri link, long age, int max_age,
                   char **summary, char **fix)
{
	char *what = link != PP_YES
	             ? pp_xasprintf("the relay tunnel %s to the edge %s is %s", ifname, edge,
	                            link == PP_NO ? "not there or down" : "in an unknown state")
	             : age < 0
	             ? pp_xasprintf("the relay tunnel %s is up but the edge %s never answered its handshake",
	                            ifname, edge)
	             : pp_xasprintf("the relay tunnel %s is up but the last handshake with the edge %s was %ld s ago "
	                            "(more than %d s: the edge is not answering)", ifname, edge, age, max_age);
	*summary = pp_xasprintf("%s: the mapping's public port on the edge cannot reach this site", what);
	free(what);
	*fix = pp_xstrdup(link != PP_YES
	                  ? "bring it up: portpilot relay up (portpilot relay status shows the edge)"
	                  : "check on the edge that portpilot edge up runs with this site's public key (portpilot "
	                    "relay keygen prints it) and that UDP to the edge's WireGuard port passes; portpilot "
	                    "edge status there shows the site");
}

static bool
relay_cause(const struct pp_facts *f, struct pp_probe_result *r)
{
	if (!f->relay || relay_healthy(f))
		return false;
	char *summary, *fix;
	pp_relay_down_text(f->relay_if, f->relay_edge, f->relay_link, f->relay_handshake_age, PP_WG_ALIVE_S,
	                   &summary, &fix);
	set(r, PP_CAUSE_RELAY_DOWN, summary, fix);
	return true;
}

/* Through a healthy tunnel, the reflector on the edge did not reach the service that answers
 * here: the edge does not pass that port to this site (edge.ini), or drops it. */
static bool
relay_outside_cause(const struct pp_facts *f, struct pp_probe_result *r)
{
	if (!relay_healthy(f) || f->relay_outside != PP_NO)
		return false;
	char host[256];
	snprintf(host, sizeof host, "%.*s", (int)strcspn(f->relay_edge, ":"), f->relay_edge);
	set(r, PP_CAUSE_UPSTREAM_BLOCKED,
	    pp_xasprintf("the service answers here and the tunnel to the edge %s is up, but the reflector on "
	                 "the edge connecting to its public port %u got %s: the edge does not pass that port to "
	                 "this site", host, f->m->pub_lo, f->relay_outside_res),
	    pp_xasprintf("on the edge, list the port for this site in edge.ini (ports = %s/%u under its [site "
	                 "NAME], the one with this site's public key) and run portpilot edge up; portpilot edge "
	                 "status there shows the site", f->m->proto == PP_UDP ? "udp" : "tcp", f->m->pub_lo));
	return true;
}

static bool
address_cause(const struct pp_facts *f, struct pp_probe_result *r)
{
	char wan[16], seen[16], exp[16];
	pp_format_ipv4(f->wan_ip, wan);
	pp_format_ipv4(f->seen_ip, seen);
	pp_format_ipv4(f->expected_ip, exp);
	if (f->wan_ip && pp_ipv4_kind(f->wan_ip) == PP_AK_CGNAT) {
		set(r, PP_CAUSE_CGNAT,
		    pp_xasprintf("the WAN address %s is carrier-grade NAT (100.64.0.0/10)%s%s: the carrier "
		                 "shares one public address and does not forward ports to this router",
		                 wan, f->seen_ip ? "; the outside sees " : "", f->seen_ip ? seen : ""),
		    pp_xasprintf("relay available: portpilot relay up publishes the site through an edge host you "
		                 "control (portpilot edge there; [site] relay = EDGE:PORT, see man portpilot, RELAY); "
		                 "or ask the carrier for a public IPv4 address (or a port forward on its NAT)"));
		return true;
	}
	if (f->wan_ip && (pp_ipv4_kind(f->wan_ip) == PP_AK_PRIVATE || (f->seen_ip && f->seen_ip != f->wan_ip))) {
		set(r, PP_CAUSE_DOUBLE_NAT,
		    pp_xasprintf("the WAN address %s is behind another NAT router%s%s%s", wan,
		                 f->seen_ip ? " (the outside sees " : "", f->seen_ip ? seen : "",
		                 f->seen_ip ? ")" : ""),
		    pp_xasprintf("forward the port on the upstream router to %s too, or put that router in "
		                 "bridge mode so this one gets the public address; relay available where neither is "
		                 "possible: portpilot relay up, through an edge host you control (man portpilot, RELAY)",
		                 wan));
		return true;
	}
	uint32_t actual = f->seen_ip ? f->seen_ip : f->wan_ip;
	pp_format_ipv4(actual, seen);
	if (f->expected_ip && actual && f->expected_ip != actual) {
		set(r, PP_CAUSE_PUBLIC_IP_MISMATCH,
		    pp_xasprintf("[site] public_ip is %s but the site's public address is now %s", exp, seen),
		    pp_xasprintf("set public_ip = auto (or %s) in [site] and apply; the rules and what "
		                 "clients are told must use the current address", seen));
		return true;
	}
	if (f->dns_ip && actual && f->dns_ip != actual) {
		pp_format_ipv4(f->dns_ip, exp);
		set(r, PP_CAUSE_PUBLIC_IP_MISMATCH,
		    pp_xasprintf("%s resolves to %s but the site's public address is now %s", f->dns_name, exp, seen),
		    pp_xasprintf("publish the current address (portpilot ddns --once) and check the DDNS "
		                 "updater; clients using %s reach someone else or nobody", f->dns_name));
		return true;
	}
	return false;
}

/* ---- the server: present, listening, filtering, routing back ---- */

/* A test got an answer from the server (for UDP, OPEN only when data came back: callers pass
 * facts where silence is TIMEOUT or UNTESTED). */
static bool answered(enum pp_svc s) { return s == PP_SVC_OPEN || s == PP_SVC_REFUSED || s == PP_SVC_FILTERED; }

/* Something the server sent to the router's non-LAN source came back: it routes to this
 * router, so silence on the mapped port from there is its own filter, not its gateway. */
static bool
return_path(const struct pp_facts *f)
{
	return answered(f->closed_wan) || answered(f->ping_wan) || answered(f->svc_wan);
}

/* The server filters even LAN sources somewhere (a closed port or ping silent from the LAN while
 * it is there): a firewall with a default drop, as Windows has. */
static bool
filters_lan(const struct pp_facts *f)
{
	return f->closed_lan == PP_SVC_TIMEOUT || f->ping_lan == PP_SVC_TIMEOUT;
}

/* Nothing of the server answered from the LAN. */
static bool
lan_silent(const struct pp_facts *f)
{
	bool svc = f->m->proto == PP_UDP ? f->svc_lan_reply || f->svc_lan == PP_SVC_REFUSED ||
	                                   f->svc_lan == PP_SVC_FILTERED
	                                 : answered(f->svc_lan);
	return !svc && !answered(f->closed_lan) && !answered(f->ping_lan);
}

static void
alt(struct pp_probe_result *r, enum pp_cause c, char *why, char *test)
{
	r->alternatives = pp_xrealloc(r->alternatives, (r->nalternatives + 1) * sizeof *r->alternatives);
	r->alternatives[r->nalternatives++] = (struct pp_alternative){ .cause = c, .why = why, .test = test };
}

static const char *fw_kinds = "Windows Defender Firewall (the rule's Scope, remote addresses), "
                              "iptables/nftables or firewalld (the rule's source match)";

/* The server is not there now: a fresh ARP request went unanswered and nothing answered. When
 * no ARP request could be sent, the old signs: the router's own "unreachable", or no entry. */
static bool
host_gone(const struct pp_facts *f)
{
	if (f->arp_now == PP_NO)
		return lan_silent(f);
	if (f->arp_now == PP_YES)
		return false;
	return (f->svc_lan == PP_SVC_UNREACHABLE && !icmp_reject(f)) ||
	       (f->svc_lan == PP_SVC_TIMEOUT && f->neigh_ok == PP_NO);
}

static void
scoped_firewall(const struct pp_facts *f, struct pp_probe_result *r, const char *ip,
                const char *how, bool certain)
{
	const struct pp_mapping *m = f->m;
	char wip[16];
	pp_format_ipv4(f->nonlan_src, wip);
	set(r, PP_CAUSE_HOST_FIREWALL,
	    pp_xasprintf("%s answers %s port %u from the LAN, but %s a non-LAN source (%s)%s: its "
	                 "firewall admits the local subnet only%s", ip, pp_proto_name(m->proto), m->in_lo,
	                 how, wip, certain ? ", while its answers on another port or to ping reach "
	                 "this router (so its gateway is right)" : "", ct_words(f)),
	    pp_xasprintf("on %s, open %s port %u for every source (or the clients' addresses), not only "
	                 "the local subnet: %s", ip, pp_proto_name(m->proto), m->in_lo, fw_kinds));
}

static bool
service_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *ip)
{
	const struct pp_mapping *m = f->m;
	const char *proto = pp_proto_name(m->proto);
	char lan[16];
	pp_format_ipv4(f->lan_ip, lan);
	if (host_gone(f)) {
		set(r, PP_CAUSE_HOST_UNREACHABLE,
		    pp_xasprintf("%s does not answer on the LAN (%s)%s", ip,
		                 f->arp_now == PP_NO ? "no answer to a fresh ARP request" : "no ARP reply",
		                 f->arp_now == PP_NO && f->arp_cached ? "; the neighbour cache still had an "
		                 "entry: it was there a while ago, unplugged or switched off since" : ""),
		    pp_xasprintf("check that %s is powered on, cabled and has this address; or correct "
		                 "internal_ip of %s", ip, m->name));
		return true;
	}
	/* A reset from the LAN too: a closed port, or a REJECT rule answering with a reset for
	 * everyone (the two packets are alike). */
	if (f->svc_lan == PP_SVC_REFUSED && !icmp_reject(f) && f->svc_wan != PP_SVC_OPEN) {
		set(r, PP_CAUSE_NOT_LISTENING, pp_xasprintf("nothing listens on %s %s port %u (%s)", ip,
		                                            proto, m->in_lo, m->proto == PP_UDP ?
		                                            "ICMP port unreachable" : "TCP reset"),
		    pp_xasprintf("start the service on %s, or correct internal_port of %s to the port it "
		                 "listens on; a service bound to 127.0.0.1 or another address only must "
		                 "listen on %s or all addresses (ss -lntu on the server)", ip, m->name, ip));
		alt(r, PP_CAUSE_HOST_FIREWALL,
		    pp_xasprintf("a firewall rule on %s that rejects port %u %s looks the same from the "
		                 "network", ip, m->in_lo, m->proto == PP_UDP ? "with ICMP port unreachable" :
		                 "with a TCP reset"),
		    pp_xasprintf("on %s, ss -lntu (Windows: netstat -ano) shows whether anything listens on "
		                 "port %u; if it does, its firewall rejects the port", ip, m->in_lo));
		return true;
	}
	if (f->svc_lan == PP_SVC_FILTERED || (f->svc_lan == PP_SVC_REFUSED && f->svc_wan != PP_SVC_OPEN) ||
	    f->svc_lan == PP_SVC_TIMEOUT || f->svc_lan == PP_SVC_UNREACHABLE) {
		set(r, PP_CAUSE_HOST_FIREWALL,
		    pp_xasprintf("%s is there (it answers ARP) but %s port %u %s, even from the LAN: its "
		                 "own firewall%s", ip, proto, m->in_lo,
		                 f->svc_lan == PP_SVC_TIMEOUT ? "drops the connection" :
		                 "is rejected with an ICMP error the server sends", ct_words(f)),
		    pp_xasprintf("open %s port %u on %s's firewall (%s)", proto, m->in_lo, ip, fw_kinds));
		return true;
	}
	/* The LAN got an answer. What a non-LAN source gets tells the server's filter from its route. */
	enum pp_svc w = f->svc_wan;
	if (f->svc_lan != PP_SVC_OPEN || w == PP_SVC_OPEN || w == PP_SVC_UNTESTED)
		return false;
	/* With masquerade = yes the server answers the router's LAN address: what it does with a
	 * non-LAN source (its route, a LAN-scoped firewall) does not reach the mapping. */
	if (m->masquerade)
		return false;
	if (w == PP_SVC_REFUSED || w == PP_SVC_FILTERED) {
		/* A refusal is an answer that came back: the route is fine, the filter is not. */
		scoped_firewall(f, r, ip, w == PP_SVC_REFUSED ? (m->proto == PP_UDP ?
		                "answers ICMP port unreachable to" : "resets the connection of") :
		                "rejects (ICMP error from the server)", false);
		return true;
	}
	if (return_path(f)) {
		scoped_firewall(f, r, ip, "drops", true);
		return true;
	}
	char *sum = gateway_summary(f, ip, "answered from the LAN");
	char *fix = pp_xasprintf("set %s's default gateway to %s, or let the router stand in as the "
	                         "client: portpilot set %s masquerade=yes (the server then sees the "
	                         "router, not the client)", ip, lan, m->name);
	if (other_gateway(f)) {
		set(r, PP_CAUSE_SERVER_GATEWAY, sum, fix);
		return true;
	}
	/* Silence to every test from outside the LAN: replies routed elsewhere, or a firewall that
	 * drops all non-LAN sources. Nothing on the network tells them apart; what the server
	 * filters on the LAN ranks them. */
	char *gw_why = pp_xasprintf("no answer of %s to a non-LAN source (port %u, closed port %u, "
	                            "ping) came back, as when its gateway is not %s", ip, m->in_lo,
	                            f->closed_port, lan);
	char *fw_why = pp_xasprintf("a firewall on %s that drops every non-LAN source gives the same "
	                            "silence%s", ip, filters_lan(f) ? ", and it does filter even the "
	                            "LAN (a closed port or ping goes unanswered)" : "");
	char *gw_test = pp_xasprintf("on %s, ip route (Windows: route print) shows the default gateway: "
	                             "if it is %s, the firewall drops outside sources", ip, lan);
	char *fw_test = pp_xasprintf("on %s, ip route (Windows: route print): a default gateway other "
	                             "than %s (or none) is the cause; if it is %s, the firewall is", ip, lan, lan);
	if (filters_lan(f)) {
		set(r, PP_CAUSE_HOST_FIREWALL,
		    pp_xasprintf("%s answers %s port %u from the LAN but nothing from a non-LAN source; it "
		                 "filters even the LAN elsewhere (a closed port or ping unanswered): likely "
		                 "its firewall admits the local subnet only%s", ip, proto, m->in_lo, ct_words(f)),
		    pp_xasprintf("on %s, open %s port %u for every source, not only the local subnet: %s",
		                 ip, proto, m->in_lo, fw_kinds));
		alt(r, PP_CAUSE_SERVER_GATEWAY, gw_why, fw_test);
		free(fw_why);
		free(gw_test);
		free(sum);
		free(fix);
	} else {
		set(r, PP_CAUSE_SERVER_GATEWAY, sum, fix);
		alt(r, PP_CAUSE_HOST_FIREWALL, fw_why, gw_test);
		free(gw_why);
		free(fw_test);
	}
	return true;
}

static bool
traffic_cause(const struct pp_facts *f, struct pp_probe_result *r, const struct seen *s,
              const char *ip)
{
	const struct pp_mapping *m = f->m;
	char src[16];
	if (s->not_allowed || (f->reflector_ip && m->nallow &&
	                       !pp_cidr_contains(m->allow, m->nallow, f->reflector_ip))) {
		pp_format_ipv4(s->not_allowed ? s->bad_src : f->reflector_ip, src);
		set(r, PP_CAUSE_SOURCE_NOT_ALLOWED,
		    pp_xasprintf("%s is not in the allow list of %s (%s)", src, m->name, m->val[PP_F_ALLOW]),
		    pp_xasprintf("add the client's address to allow (portpilot set %s allow=%s,%s/32) and apply, "
		                 "or test from an allowed address", m->name, m->val[PP_F_ALLOW], src));
		return true;
	}
	if (s->wrong && !s->right) {
		pp_format_ipv4(s->wrong_src, src);
		set(r, PP_CAUSE_WRONG_PROTOCOL,
		    pp_xasprintf("%s sent %s to port %u, but %s forwards %s only", src,
		                 s->wrong_proto == IPPROTO_UDP ? "UDP" : "TCP", m->pub_lo, m->name,
		                 pp_proto_name(m->proto)),
		    pp_xasprintf("set protocol=%s (or both) on %s if the service really uses it, or make "
		                 "the client use %s", s->wrong_proto == IPPROTO_UDP ? "udp" : "tcp", m->name,
		                 pp_proto_name(m->proto)));
		return true;
	}
	if (s->in_not_fwd || (f->forward_static_block == PP_YES && !s->answered)) {
		set(r, PP_CAUSE_FORWARD_BLOCKED,
		    pp_xasprintf("%s arrived on the WAN but the filter FORWARD chain did not pass it to %s",
		                 s->in_not_fwd ? "the attempt" : "traffic", ip),
		    pp_xasprintf("accept DNATed traffic in FORWARD (portpilot apply inserts it; check "
		                 "firewalld/ufw/Docker rules that drop before it)"));
		return true;
	}
	if (s->srv_refused && !s->answered && answered(f->svc_lan)) {
		char cl[16];
		pp_format_ipv4(s->last_client, cl);
		set(r, PP_CAUSE_HOST_FIREWALL,
		    pp_xasprintf("%s refused the outside client %s (%s) though it answers from the LAN: its "
		                 "firewall rejects outside sources", ip, cl, s->refused ? "TCP reset" : "ICMP error"),
		    pp_xasprintf("on %s, open %s port %u for every source (or the clients' addresses): %s", ip,
		                 pp_proto_name(m->proto), m->in_lo, fw_kinds));
		return true;
	}
	/* Without a capture, conntrack alone shows outside attempts DNATed and never answered. */
	bool ct_only = !f->captured && f->outside_tested && !f->outside_ok && f->ct_unreplied && !f->ct_replied;
	if ((s->fwd_no_reply && !s->answered) || ct_only) {
		char lan[16], cl[16];
		pp_format_ipv4(f->lan_ip, lan);
		pp_format_ipv4(s->outside ? s->last_client : f->reflector_ip, cl);
		char *gw_fix = pp_xasprintf("set %s's default gateway to %s, or let the router stand in as "
		                            "the client: portpilot set %s masquerade=yes (the server then sees "
		                            "the router, not the client)", ip, f->lan_ip ? lan : "this router",
		                            m->name);
		/* The server answers the router's non-LAN source: it routes to this router, yet not this
		 * client: its firewall keeps the client out (an allow list that has the router in it),
		 * or a route of its own sends that network elsewhere. */
		if (answered(f->svc_wan) && !other_gateway(f)) {
			set(r, PP_CAUSE_HOST_FIREWALL,
			    pp_xasprintf("%s got the outside client's attempt (from %s) and never answered it, "
			                 "though it answers the router's non-LAN source: its firewall admits "
			                 "some sources only%s", ip, cl, ct_words(f)),
			    pp_xasprintf("on %s, open %s port %u for every source (or the clients' addresses): %s",
			                 ip, pp_proto_name(m->proto), m->in_lo, fw_kinds));
			alt(r, PP_CAUSE_SERVER_GATEWAY,
			    pp_xasprintf("a route on %s for %s's network through another gateway gives the same "
			                 "silence", ip, cl), pp_xasprintf("on %s, ip route get %s (Windows: "
			                 "Find-NetRoute -RemoteIPAddress %s) must say via %s", ip, cl, cl, lan));
			free(gw_fix);
			return true;
		}
		set(r, PP_CAUSE_SERVER_GATEWAY, gateway_summary(f, ip, "got the attempt"), gw_fix);
		if (!other_gateway(f) && !return_path(f))
			alt(r, PP_CAUSE_HOST_FIREWALL,
			    pp_xasprintf("a firewall on %s that drops outside sources gives the same silence", ip),
			    pp_xasprintf("on %s, ip route (Windows: route print) shows the default gateway: if "
			                 "it is %s, the firewall drops outside sources", ip, lan));
		return true;
	}
	if (f->outside_tested && !f->outside_ok && !s->outside && f->captured) {
		set(r, PP_CAUSE_UPSTREAM_BLOCKED,
		    pp_xasprintf("the reflector's attempt to port %u never arrived on %s: something upstream "
		                 "(the carrier or a firewall in front) drops it", m->pub_lo, f->wan_if),
		    pp_xasprintf("ask the carrier whether port %u is filtered (common for 25, 80, 443, 445) "
		                 "or use another public port", m->pub_lo));
		return true;
	}
	/* One answered hairpin attempt proves hairpin works: an unanswered one may just
	 * be the attempt still in flight when the capture window closed. */
	/* The hairpin in force: the mapping's own hairpin = when set, else [site]'s. */
	bool on = pp_mapping_hairpin(f->site, m);
	if ((s->hairpin_bad && s->hairpin_bad == s->hairpin) || (s->hairpin && !on)) {
		set(r, PP_CAUSE_HAIRPIN_MISSING,
		    pp_xasprintf("a LAN client used the public address and got no answer: hairpin NAT is %s",
		                 on ? "not working" : m->hairpin == PP_HP_NO ? "off for this mapping (hairpin = no)" : "off"),
		    m->hairpin == PP_HP_NO
		    ? pp_xasprintf("remove hairpin = no from [%s] (or set it to yes) and apply, or let LAN clients "
		                   "use %s directly (split DNS)", m->name, ip)
		    : pp_xasprintf("set hairpin = yes in [site] (or on [%s] alone) and apply, or let LAN clients "
		                   "use %s directly (split DNS)", m->name, ip));
		return true;
	}
	return false;
}

/* protocol = both, the UDP side as the router saw it: closed, rejected, or silent to outside sources. */
static bool
udp_service_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *ip)
{
	const struct pp_mapping *m = f->m;
	if (m->proto != PP_BOTH)
		return false;
	if (f->udp_lan == PP_SVC_REFUSED) {
		set(r, PP_CAUSE_NOT_LISTENING,
		    pp_xasprintf("nothing listens on %s UDP port %u (ICMP port unreachable), though TCP "
		                 "port %u answers", ip, m->in_lo, m->in_lo),
		    pp_xasprintf("start the UDP side of the service on %s, or set protocol=tcp on %s if it "
		                 "does not use UDP", ip, m->name));
		return true;
	}
	bool rejected = f->udp_lan == PP_SVC_FILTERED || f->udp_wan == PP_SVC_FILTERED;
	/* TCP from the same non-LAN source comes back, so routing is fine: the drop is the server's. */
	bool outside_only = f->udp_lan_reply && !f->udp_wan_reply && f->udp_wan != PP_SVC_UNTESTED &&
	                    (f->svc_wan == PP_SVC_OPEN || return_path(f));
	if (!rejected && !outside_only)
		return false;
	set(r, PP_CAUSE_HOST_FIREWALL,
	    rejected ? pp_xasprintf("%s rejects UDP port %u with ICMP administratively prohibited: its "
	                            "own firewall", ip, m->in_lo)
	             : pp_xasprintf("%s answers UDP port %u from the LAN but not from a non-LAN source, "
	                            "while %s: its firewall drops UDP from outside", ip, m->in_lo,
	                            f->svc_wan == PP_SVC_OPEN ? "TCP from that source works" :
	                            "its other answers to that source come back"),
	    pp_xasprintf("open UDP port %u on %s's firewall for outside sources (iptables/nftables, "
	                 "firewalld, Windows Defender), not only for the local subnet", m->in_lo, ip));
	return true;
}

/* The reflector's UDP attempt in the trace, -1 if it never showed. */
static int
reflector_udp_attempt(const struct pp_facts *f)
{
	for (size_t i = 0; f->trace && i < f->trace->natt; i++) {
		const struct pp_attempt *a = &f->trace->att[i];
		if (a->proto == IPPROTO_UDP && !a->router_own && !a->from_lan && a->client == f->reflector_ip)
			return (int)i;
	}
	return -1;
}

/* The ICMP code the server answered attempt i with, -1 if none. */
static int
server_icmp_code(const struct pp_facts *f, int i)
{
	for (size_t k = 0; f->trace && k < f->trace->npkts; k++) {
		const struct pp_packet *p = &f->trace->pkts[k];
		if (p->attempt == i && p->kind == PP_PKT_ICMP_UNREACH && p->icmp_from == f->m->internal_ip)
			return p->icmp_code;
	}
	return -1;
}

/* protocol = both, the UDP connect-back from outside, where TCP worked: where did UDP stop? */
static bool
udp_outside_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *ip)
{
	const struct pp_mapping *m = f->m;
	if (!f->outside_udp_tested || f->outside_udp_ok || !f->captured)
		return false;
	int i = reflector_udp_attempt(f);
	const struct pp_attempt *a = i >= 0 ? &f->trace->att[i] : NULL;
	int code = i >= 0 ? server_icmp_code(f, i) : -1;
	if (!a || !a->wan_in || (a->wan_out && a->answer == PP_ANS_UDP)) {
		char *sum = a && a->wan_in ?
			pp_xasprintf("the server's UDP answer left on %s but never reached the reflector: "
			             "something upstream drops UDP port %u", f->wan_if, m->pub_lo) :
			pp_xasprintf("the reflector's UDP datagrams to port %u never arrived on %s, while TCP "
			             "did: something upstream (the carrier or a firewall in front) drops UDP",
			             m->pub_lo, f->wan_if);
		set(r, PP_CAUSE_UPSTREAM_BLOCKED, sum,
		    pp_xasprintf("ask the carrier whether UDP port %u is filtered, or use another public port",
		                 m->pub_lo));
		return true;
	}
	if (!a->lan_out) {
		set(r, PP_CAUSE_FORWARD_BLOCKED,
		    pp_xasprintf("the reflector's UDP arrived on the WAN but the filter FORWARD chain did not "
		                 "pass it to %s", ip),
		    pp_xasprintf("accept DNATed UDP in FORWARD (portpilot apply inserts it; check "
		                 "firewalld/ufw/Docker rules that drop before it)"));
		return true;
	}
	if (code == 3) {
		set(r, PP_CAUSE_NOT_LISTENING,
		    pp_xasprintf("%s answered the reflector's UDP with ICMP port unreachable: nothing listens "
		                 "on UDP port %u", ip, m->in_lo),
		    pp_xasprintf("start the UDP side of the service on %s, or set protocol=tcp on %s", ip, m->name));
		return true;
	}
	if (code == 9 || code == 10 || code == 13 || (a->answer == PP_ANS_NONE && f->udp_lan_reply)) {
		char *sum = code >= 0 ?
			pp_xasprintf("%s rejected the reflector's UDP to port %u (ICMP code %d): its own "
			             "firewall", ip, m->in_lo, code) :
			pp_xasprintf("%s answers UDP port %u from the router but not the reflector's "
			             "datagrams: its own firewall filters outside sources", ip, m->in_lo);
		set(r, PP_CAUSE_HOST_FIREWALL, sum,
		    pp_xasprintf("open UDP port %u on %s's firewall for outside sources", m->in_lo, ip));
		return true;
	}
	return false;
}

/* An ok verdict on protocol = both says what the UDP side showed. */
static void
udp_note(const struct pp_facts *f, struct pp_probe_result *r)
{
	if (r->cause != PP_CAUSE_OK || !f->outside_udp_tested)
		return;
	char *s = pp_xasprintf("%s; UDP: %s", r->summary, f->outside_udp_ok ?
	                       "the server answered the reflector's datagram" :
	                       "no answer to the reflector's datagrams (a UDP service may ignore unknown "
	                       "data; a firewall drop would look the same)");
	free(r->summary);
	r->summary = s;
}

static void
explain_ok(const struct pp_facts *f, struct pp_probe_result *r, const struct seen *s)
{
	const struct pp_mapping *m = f->m;
	if (f->outside_tested && f->outside_ok) {
		set(r, PP_CAUSE_OK, pp_xasprintf("reachable from outside: the reflector connected and the "
		                                 "server answered"), pp_xasprintf("nothing to fix"));
	} else if (f->outside_tested && f->captured && s->answer_left) {
		/* The capture proves the server's answer left on the WAN: only then is it upstream. */
		set(r, PP_CAUSE_UPSTREAM_BLOCKED,
		    pp_xasprintf("the attempt went through this router and the server's answer left on %s, "
		                 "yet the reflector saw no answer: the reply is lost upstream", f->wan_if),
		    pp_xasprintf("check the carrier/upstream firewall for filtering on port %u (replies "
		                 "from it), or use another public port", m->pub_lo));
	} else if (f->outside_tested && f->captured && s->answered) {
		set(r, PP_CAUSE_FORWARD_BLOCKED,
		    pp_xasprintf("the server answered the outside attempt on the LAN, but the answer never "
		                 "left on %s: the router drops it on the way back", f->wan_if),
		    pp_xasprintf("accept the replies in FORWARD (-m conntrack --ctstate RELATED,ESTABLISHED "
		                 "-j ACCEPT; portpilot apply inserts it) and check rules that drop before it"));
	} else if (f->outside_tested) {
		/* Every inside check passed, yet the outside attempt failed and nothing here says
		 * where: not ok, and not one confident cause. */
		bool ct_none = f->ct_read && !f->nconntrack;
		set(r, PP_CAUSE_UPSTREAM_BLOCKED,
		    pp_xasprintf("every inside check passes but the reflector could not connect%s",
		                 !f->captured ? " and there is no capture to say where it stopped" :
		                 ", and the capture does not show where it stopped"),
		    pp_xasprintf("ask the carrier whether port %u is filtered, or use another public port",
		                 m->pub_lo));
		alt(r, PP_CAUSE_FORWARD_BLOCKED,
		    pp_xasprintf("a rule on this router may drop the attempt%s", ct_none ?
		                 " (conntrack has no entry of it: dropped before it, or never here)" : ""),
		    pp_xasprintf("%s", f->captured ? "probe again with --write F.pcap and read which side "
		                 "the attempt reached" : "run the probe as root so it can capture on WAN and LAN"));
	} else if (s->outside) {
		set(r, PP_CAUSE_OK, pp_xasprintf("%d outside attempt(s) seen, %d answered by the server",
		                                 s->outside, s->answered), pp_xasprintf("nothing to fix"));
	} else if (f->watched_s > 0) {
		set(r, PP_CAUSE_OK, pp_xasprintf("every inside check passes; no attempt arrived on %s in %d s "
		                                 "of watching", f->wan_if, f->watched_s),
		    pp_xasprintf("if someone did try from outside, it never reached this router: check the "
		                 "address they use and the carrier (CGNAT, filtering)"));
	} else if (f->outside_requested) {
		set(r, PP_CAUSE_OK, pp_xasprintf("every inside check passes; the outside test could not run "
		                                 "(see the check 'outside')"),
		    pp_xasprintf("nothing to fix inside; repair the reflector access to test from outside"));
	} else {
		set(r, PP_CAUSE_OK, pp_xasprintf("every inside check passes; not tested from outside "
		                                 "(give --reflector URL, or use watch)"),
		    pp_xasprintf("nothing to fix inside; test from outside to be sure"));
	}
}

static void
free_alternatives(struct pp_probe_result *r)
{
	for (size_t i = 0; i < r->nalternatives; i++) {
		free(r->alternatives[i].why);
		free(r->alternatives[i].test);
	}
	free(r->alternatives);
	r->alternatives = NULL;
	r->nalternatives = 0;
}

/* ---- the decision chain ---- */

/* What every link of the chain gets: the facts, the result to fill, the outside attempts as
 * tallied, the server's address in words. */
struct diag {
	const struct pp_facts *f;
	struct pp_probe_result *r;
	const struct seen *s;
	const char *ip;
};

static bool link_table(const struct diag *d) { return table_cause(d->f, d->r, d->ip); }
static bool link_kernel(const struct diag *d) { return kernel_rule_cause(d->f, d->r, d->ip); }
static bool link_relay(const struct diag *d) { return relay_cause(d->f, d->r); }
/* Through a healthy relay the WAN address's class does not matter: the edge is the public face. */
static bool link_address(const struct diag *d) { return !relay_healthy(d->f) && address_cause(d->f, d->r); }
static bool link_service(const struct diag *d) { return service_cause(d->f, d->r, d->ip); }
static bool link_udp_service(const struct diag *d) { return udp_service_cause(d->f, d->r, d->ip); }
static bool link_relay_outside(const struct diag *d) { return relay_outside_cause(d->f, d->r); }
static bool link_traffic(const struct diag *d) { return traffic_cause(d->f, d->r, d->s, d->ip); }
static bool link_udp_outside(const struct diag *d) { return udp_outside_cause(d->f, d->r, d->ip); }

/* The links in the order the verdict is decided: the first that names a cause wins, and
 * explain_ok speaks when none does. The order is the diagnosis (the table before the kernel,
 * the kernel before the address, the address before the server, the server before what the
 * capture saw): a new cause goes into the link whose facts decide it, or a new link where those
 * facts rank. The causes themselves are listed in probe/causes.c. */
static bool (*const chain[])(const struct diag *d) = {
	link_table,       /* disabled, expired, rule_missing, ip_forward_off */
	link_kernel,      /* foreign_dnat, foreign_drop, ip_forward_off, lan_route, rp_filter,
	                   * foreign_snat */
	link_relay,       /* relay_down */
	link_address,     /* cgnat, double_nat, public_ip_mismatch */
	link_service,     /* host_unreachable, not_listening, host_firewall, server_gateway */
	link_udp_service, /* protocol = both: not_listening, host_firewall */
	link_relay_outside, /* through the relay, tested from the edge: upstream_blocked */
	link_traffic,     /* source_not_allowed, wrong_protocol, forward_blocked, host_firewall,
	                   * server_gateway, upstream_blocked, hairpin_missing */
	link_udp_outside, /* protocol = both: upstream_blocked, forward_blocked, not_listening,
	                   * host_firewall */
};

/* ipv6 = only: the IPv6 verdict is the verdict (the table's disabled and expired still first). */
static bool
ipv6_only_cause(const struct pp_facts *f, struct pp_probe_result *r)
{
	if (f->m->ipv6 != PP_V6_ONLY || !r->v6_tested || !f->m->enabled || f->expired)
		return false;
	set(r, r->cause6, pp_xstrdup(r->summary6), pp_xstrdup(r->fix6));
	return true;
}

/* Behind a carrier's NAT (or a second one) the IPv6 path may be the way in: say what it found. */
static void
ipv6_instead(struct pp_probe_result *r)
{
	if (!r->v6_tested || (r->cause != PP_CAUSE_CGNAT && r->cause != PP_CAUSE_DOUBLE_NAT))
		return;
	/* Say what the IPv6 words rest on: the outside test, or the router's own checks. */
	char *s = pp_xasprintf("%s. Over IPv6 instead (%s): %s (%s)", r->summary, r->outside6_tested ?
	                       "tested from outside" : "from the router's inside checks only, not tested from outside",
	                       r->summary6, pp_cause_name(r->cause6));
	free(r->summary);
	r->summary = s;
}

void
pp_diagnose(const struct pp_facts *f, struct pp_probe_result *r)
{
	char ip[16];
	struct seen s = tally(f);
	pp_format_ipv4(f->m->internal_ip, ip);
	free(r->summary);
	free(r->fix);
	r->summary = r->fix = NULL;
	free_alternatives(r);
	const struct diag d = { .f = f, .r = r, .s = &s, .ip = ip };
	pp_diagnose6(f, r);
	size_t k = 0;
	if (!ipv6_only_cause(f, r)) {
		while (k < sizeof chain / sizeof chain[0] && !chain[k](&d))
			k++;
		if (k == sizeof chain / sizeof chain[0])
			explain_ok(f, r, &s);
		ipv6_instead(r);
	}
	udp_note(f, r);
	for (size_t i = 0; i < r->nchecks; i++)
		if (r->checks[i].state == PP_CHECK_FAIL)
			pp_evidence_add(r, "check %s: %s", r->checks[i].id, r->checks[i].text);
	if (f->outside_tested)
		pp_evidence_add(r, "reflector: %s", f->outside_ok ? "connected" : "did not connect");
	if (f->outside_udp_tested)
		pp_evidence_add(r, "reflector udp: %s", f->outside_udp);
	if (s.outside || s.hairpin)
		pp_evidence_add(r, "attempts: %d from outside (%d wrong protocol, %d not allowed, %d not "
		                "forwarded, %d unanswered, %d answered), %d hairpin from the LAN",
		                s.outside, s.wrong, s.not_allowed, s.in_not_fwd, s.fwd_no_reply, s.answered,
		                s.hairpin);
	for (size_t i = 0; i < f->nconntrack; i++)
		pp_evidence_add(r, "conntrack: %s", f->conntrack[i]);
	packet_evidence(f, r);
}

static const char *
state_name(enum pp_check_state s)
{
	static const char *const n[] = { "pass", "fail", "info", "skip" };
	return n[s];
}

void
pp_probe_result_print(FILE *f, const struct pp_probe_result *r)
{
	fprintf(f, "probe %s: %s\n", r->mapping, pp_cause_name(r->cause));
	for (size_t i = 0; i < r->nchecks; i++)
		fprintf(f, "  [%s] %-12s %s\n", state_name(r->checks[i].state), r->checks[i].id, r->checks[i].text);
	fprintf(f, "\ncause: %s\n  %s\n", pp_cause_name(r->cause), r->summary);
	fprintf(f, "fix:\n  %s\n", r->fix);
	if (r->nalternatives)
		fputs("also possible (the evidence cannot rule it out):\n", f);
	for (size_t i = 0; i < r->nalternatives; i++)
		fprintf(f, "  %s: %s\n    to tell them apart: %s\n", pp_cause_name(r->alternatives[i].cause),
		        r->alternatives[i].why, r->alternatives[i].test);
	if (r->v6_tested)
		fprintf(f, "ipv6: %s\n  %s\n  fix: %s\n", pp_cause_name(r->cause6), r->summary6, r->fix6);
	if (r->nevidence)
		fputs("evidence:\n", f);
	for (size_t i = 0; i < r->nevidence; i++)
		fprintf(f, "  %s\n", r->evidence[i]);
	fprintf(f, "(%.1f s)\n", r->elapsed_s);
}

static void
json_attempts(FILE *f, const struct pp_trace *t)
{
	static const char *const ans[] = { "none", "syn-ack", "rst", "icmp", "udp" };
	fputs("[", f);
	for (size_t i = 0; i < t->natt; i++) {
		const struct pp_attempt *a = &t->att[i];
		char c[16];
		pp_format_ipv4(a->client, c);
		fprintf(f, "%s{\"proto\":\"%s\",\"client\":\"%s\",\"port\":%u,\"router_own\":%s,"
		        "\"from_lan\":%s,\"wrong_protocol\":%s,\"allowed\":%s,\"wan_in\":%s,\"lan_out\":%s,"
		        "\"lan_reply\":%s,\"wan_out\":%s,\"answer\":\"%s\"}", i ? "," : "",
		        a->proto == IPPROTO_UDP ? "udp" : "tcp", c, a->cport, a->router_own ? "true" : "false",
		        a->from_lan ? "true" : "false", a->wrong_proto ? "true" : "false",
		        a->allowed ? "true" : "false", a->wan_in ? "true" : "false", a->lan_out ? "true" : "false",
		        a->lan_reply ? "true" : "false", a->wan_out ? "true" : "false", ans[a->answer]);
	}
	fputs("]", f);
}

void
pp_probe_result_json(FILE *f, const struct pp_probe_result *r)
{
	fputs("{\"mapping\":", f);
	pp_json_str(f, r->mapping);
	fprintf(f, ",\"cause\":\"%s\",\"ok\":%s,\"summary\":", pp_cause_name(r->cause),
	        r->cause == PP_CAUSE_OK ? "true" : "false");
	pp_json_str(f, r->summary);
	fputs(",\"fix\":", f);
	pp_json_str(f, r->fix);
	fputs(",\"alternatives\":[", f);
	for (size_t i = 0; i < r->nalternatives; i++) {
		fprintf(f, "%s{\"cause\":\"%s\",\"why\":", i ? "," : "", pp_cause_name(r->alternatives[i].cause));
		pp_json_str(f, r->alternatives[i].why);
		fputs(",\"test\":", f);
		pp_json_str(f, r->alternatives[i].test);
		fputs("}", f);
	}
	fputs("],\"checks\":[", f);
	for (size_t i = 0; i < r->nchecks; i++) {
		fprintf(f, "%s{\"id\":\"%s\",\"state\":\"%s\",\"text\":", i ? "," : "", r->checks[i].id,
		        state_name(r->checks[i].state));
		pp_json_str(f, r->checks[i].text);
		fputs("}", f);
	}
	fputs("],\"evidence\":[", f);
	for (size_t i = 0; i < r->nevidence; i++) {
		fputs(i ? "," : "", f);
		pp_json_str(f, r->evidence[i]);
	}
	fprintf(f, "],\"outside_tested\":%s,\"reflector\":{\"seen_ip\":", r->outside_tested ? "true" : "false");
	pp_json_str(f, r->reflect.seen_ip);
	fputs(",\"result\":", f);
	pp_json_str(f, r->reflect.result);
	fputs("},\"reflector_udp\":{\"result\":", f);
	pp_json_str(f, r->reflect_udp.result);
	fputs("},\"conntrack\":[", f);
	for (size_t i = 0; i < r->nconntrack; i++) {
		fputs(i ? "," : "", f);
		pp_json_str(f, r->conntrack[i]);
	}
	fputs("],\"ipv6\":", f);
	if (r->v6_tested) {
		fprintf(f, "{\"cause\":\"%s\",\"summary\":", pp_cause_name(r->cause6));
		pp_json_str(f, r->summary6);
		fputs(",\"fix\":", f);
		pp_json_str(f, r->fix6);
		fprintf(f, ",\"outside_tested\":%s,\"reflector\":", r->outside6_tested ? "true" : "false");
		if (r->outside6_tested) {
			fputs("{\"from\":", f);
			pp_json_str(f, r->reflect6.from_ip);
			fputs(",\"result\":", f);
			pp_json_str(f, r->reflect6.result);
			fputs("}", f);
		} else {
			fputs("null", f);
		}
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"attempts\":", f);
	json_attempts(f, &r->trace);
	fprintf(f, ",\"packets\":%zu,\"elapsed_s\":%.2f}\n", r->trace.npkts, r->elapsed_s);
}

void
pp_probe_result_free(struct pp_probe_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nchecks; i++)
		free(r->checks[i].text);
	for (size_t i = 0; i < r->nevidence; i++)
		free(r->evidence[i]);
	for (size_t i = 0; i < r->nconntrack; i++)
		free(r->conntrack[i]);
	free(r->conntrack);
	free_alternatives(r);
	free(r->checks);
	free(r->evidence);
	free(r->summary);
	free(r->fix);
	free(r->summary6);
	free(r->fix6);
	free(r->mapping);
	pp_trace_free(&r->trace);
	free(r);
}
