/* The IPv6 verdict of a mapping: the pinholes (the backend's live rules) and the server's IPv6 port. */
#include <stdlib.h>
#include <string.h>

#include "probe-internal.h"
#include "portpilot/util.h"

static void
set6(struct pp_probe_result *r, enum pp_cause c, char *summary, char *fix)
{
	r->cause6 = c;
	r->summary6 = summary;
	r->fix6 = fix;
}

/* The server answers the router on its link but not from off it. An answer of any kind from the
 * closed port proves the route back: then it is the server's firewall scoped to its link; silence
 * on both is its route (a default route via another router, from another router's advertisements),
 * unless its firewall drops everything from off the link, which the summary says. */
static bool
return6_cause(const struct pp_facts *f, struct pp_probe_result *r, const char *a, unsigned port)
{
	if (f->svc6 != PP_SVC_OPEN || f->svc6_off == PP_SVC_UNTESTED || f->svc6_off == PP_SVC_OPEN)
		return false;
	if (f->closed6_off == PP_SVC_REFUSED || f->closed6_off == PP_SVC_FILTERED || f->svc6_off == PP_SVC_REFUSED) {
		set6(r, PP_CAUSE_HOST_FIREWALL,
		     pp_xasprintf("[%s]:%u answers the router on its link but %s from %s, while its other ports "
		                  "answer from there: its IPv6 firewall admits its own link only", a, port,
		                  pp_svc_words(f->svc6_off), f->v6_offsrc),
		     pp_xasprintf("open TCP %u for IPv6 from every source (or the clients' networks) on the "
		                  "server's firewall, not only its /64", port));
		return true;
	}
	char *sum, *fix;
	if (pp_ra6_gateway(f, a, &sum, &fix)) {   /* the router advertisements on its link say more */
		set6(r, PP_CAUSE_SERVER_GATEWAY, sum, fix);
		return true;
	}
	set6(r, PP_CAUSE_SERVER_GATEWAY,
	     pp_xasprintf("%s answers the router on its link, but nothing comes back to %s (off its link), not "
	                  "even from a closed port: its IPv6 default route leads to another router (a second "
	                  "router's advertisements, or a static route), so outside clients get no answer; "
	                  "less likely, its firewall drops everything from off its link", a, f->v6_offsrc),
	     pp_xasprintf("make this router the server's IPv6 default route: on %s, ip -6 route shows it; stop "
	                  "the other router's advertisements, or set the route by hand (ip -6 route replace "
	                  "default via this router's LAN address)", a));
	return true;
}

/* The inside checks found nothing wrong, and the reflector could not get in from outside: where its
 * attempt stopped, as the capture saw it, names the cause (the router's WAN is the border: what never
 * arrived there was stopped upstream). */
static void
outside6_failed(const struct pp_facts *f, struct pp_probe_result *r, const char *a, unsigned port)
{
	const char *res = f->outside6_res, *from = f->outside6_from;
	if (!f->captured || !f->v6_wan_in)
		set6(r, PP_CAUSE_UPSTREAM_BLOCKED,
		     pp_xasprintf("the reflector %s could not reach [%s]:%u over IPv6 (%s) %s, while the pinhole "
		                  "and the server pass every check from the router: something upstream (the carrier's "
		                  "CPE or the ISP) %s inbound IPv6 connections", from, a, port, res,
		                  f->captured ? "and its attempt never arrived on the router's WAN" :
		                  "(no capture ran, so where it stopped is not known)",
		                  !strcmp(res, "refused") || !strcmp(res, "unreachable") ? "rejects" : "drops"),
		     pp_xstrdup("allow inbound IPv6 on the carrier's CPE (its IPv6 firewall, 'allow incoming "
		                "connections'), open the port there, or put it in bridge mode; else ask the ISP"));
	else if (!f->v6_lan_out)
		set6(r, PP_CAUSE_FOREIGN_DROP,
		     pp_xasprintf("the reflector %s's attempt to [%s]:%u arrived on the router's WAN but never left on "
		                  "the LAN (%s): the router's own IPv6 firewall drops it, though the pinhole check "
		                  "%s", from, a, port, res, f->v6_pinhole == PP_YES ? "passes" : "could not tell"),
		     pp_xasprintf("look for a rule before portpilot's pinhole (ip6tables -S FORWARD, nft list ruleset), "
		                  "and check %s's allow list admits the clients (the reflector is %s)", f->m->name, from));
	else if (!f->v6_lan_reply)
		set6(r, PP_CAUSE_HOST_FIREWALL,
		     pp_xasprintf("the reflector %s's attempt reached [%s]:%u on the LAN, and the server never answered "
		                  "it (%s), though it answers the router: its IPv6 firewall drops clients from outside",
		                  from, a, port, res),
		     pp_xasprintf("open %s %u for IPv6 from every source (or the clients' networks) on the server's "
		                  "firewall", f->m->proto & PP_TCP ? "TCP" : "UDP", port));
	else
		set6(r, PP_CAUSE_FOREIGN_DROP,
		     pp_xasprintf("[%s]:%u answered the reflector %s's attempt on the LAN, but the answer never reached "
		                  "it (%s): the router's IPv6 firewall or upstream drops the replies", a, port, from, res),
		     pp_xstrdup("look for a rule that drops the server's replies (ip6tables -S FORWARD, nft list "
		                "ruleset: established traffic must be accepted both ways)"));
}

/* The router's connect comes from its own address on the server's link: an answer needs no
 * route, so silence is the server's own filter and "unreachable" is neighbour discovery failing. */
static void
service6(const struct pp_facts *f, struct pp_probe_result *r, const char *a, unsigned port)
{
	switch (f->svc6) {
	case PP_SVC_REFUSED:
		set6(r, PP_CAUSE_IPV6_NOT_LISTENING,
		     pp_xasprintf("[%s]:%u refused the router's connection (TCP reset): nothing listens there "
		                  "over IPv6", a, port),
		     pp_xasprintf("make the service on %s listen on [::]:%u (or [%s]:%u), not 0.0.0.0 only; or "
		                  "portpilot set %s ipv6=no", a, port, a, port, f->m->name));
		return;
	case PP_SVC_UNREACHABLE:
		set6(r, PP_CAUSE_HOST_UNREACHABLE,
		     pp_xasprintf("%s does not answer neighbour discovery: no host holds that IPv6 address now", a),
		     pp_xasprintf("check the server has %s (ip -6 addr on it), or correct %s's internal_ip6",
		                  a, f->m->name));
		return;
	case PP_SVC_TIMEOUT:
	case PP_SVC_FILTERED:
		set6(r, PP_CAUSE_HOST_FIREWALL,
		     pp_xasprintf("[%s]:%u %s to the router's own address on its link: its IPv6 firewall "
		                  "drops or rejects the port", a, port, pp_svc_words(f->svc6)),
		     pp_xasprintf("open TCP %u for IPv6 on the server's firewall (ip6tables / nft inet, "
		                  "Windows: the rule's IPv6 scope)", port));
		return;
	default:
		if (return6_cause(f, r, a, port))
			return;
		if (f->outside6_tested && !f->outside6_ok && !(f->v6_lan_out && !strcmp(f->outside6_res, "no_reply"))) {
			outside6_failed(f, r, a, port);
			return;
		}
		if (f->outside6_tested) {
			set6(r, PP_CAUSE_OK,
			     pp_xasprintf("[%s]:%u is reachable over IPv6 from outside: the reflector %s %s (tested from "
			                  "outside)", a, port, f->outside6_from, f->outside6_ok ? "connected to it" :
			                  "reached it on the LAN (its datagram got no answer: a UDP service may not answer it)"),
			     pp_xstrdup("nothing to fix"));
			return;
		}
		set6(r, PP_CAUSE_OK,
		     pp_xasprintf("the pinhole to [%s]:%u is in place%s and %s; the path from outside over "
		                  "IPv6 was not tested (give --reflector6 URL to test it)", a, port,
		                  f->v6_pinhole == PP_UNKNOWN ? " (as far as the backend can tell)" : "",
		                  f->svc6 == PP_SVC_OPEN ? (f->svc6_off == PP_SVC_OPEN
		                      ? "the server accepts the router's connections over IPv6, from off its link too"
		                      : "the server accepts the router's connection over IPv6 (the route back to "
		                        "off-link sources untested: the router has no global address outside its /64)")
		                                         : "the UDP service was not tested"),
		     pp_xstrdup("nothing to fix on the router (test from an IPv6 host outside to be sure)"));
	}
}

void
pp_diagnose6(const struct pp_facts *f, struct pp_probe_result *r)
{
	free(r->summary6);
	free(r->fix6);
	r->summary6 = r->fix6 = NULL;
	r->v6_tested = f->v6 && f->v6_addr[0];
	r->outside6_tested = f->outside6_tested;
	if (!r->v6_tested)
		return;
	const char *a = f->v6_addr;
	unsigned port = f->m->in_lo;
	if (f->v6_pinhole == PP_NO)
		set6(r, PP_CAUSE_IPV6_PINHOLE_MISSING,
		     pp_xasprintf("no pinhole to [%s]:%u for %s in the live rules: the router's IPv6 firewall "
		                  "drops every connection from outside", a, port, f->m->name),
		     pp_xstrdup("portpilot apply (the table was not applied since ipv6 was set, or the rules "
		                "were flushed)"));
	else
		service6(f, r, a, port);
	pp_ra6_evidence(f, r);
}
