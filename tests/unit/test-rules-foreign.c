/* Other tools' rules in a mapping's way: iptables-save text in, the rule that takes or drops it out;
 * and the verdicts the probe draws from those facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* web-1 of the seed: tcp 8080 -> 192.168.2.101:80, WAN eth0 203.0.113.1, LAN eth1. */
static struct pp_foreign_query
query(void)
{
	return (struct pp_foreign_query){ .proto = PP_TCP, .pub_lo = 8080, .pub_hi = 8080, .in_lo = 80, .in_hi = 80,
	                                  .internal_ip = IP(192, 168, 2, 101), .public_ip = IP(203, 0, 113, 1),
	                                  .wan_if = "eth0", .lan_if = "eth1" };
}

/* portpilot's hooks, as apply leaves them (inserted first). */
#define NAT_HEAD "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:PP-PRE - [0:0]\n"
#define NAT_HOOK "[7:420] -A PREROUTING -j PP-PRE\n"
#define NAT_OWN "[0:0] -A PP-PRE -i eth0 -m addrtype --dst-type LOCAL -g PP-MARK\n" \
	"[0:0] -A PP-DT-1-65535 -p tcp -m tcp --dport 8080 -m comment --comment \"pp:web-1\" -j DNAT --to-destination 192.168.2.101:80\n"
#define FILTER_HEAD "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:PP-FWD - [0:0]\n"
#define FILTER_HOOK "[12:858] -A FORWARD -j PP-FWD\n"
#define FILTER_OWN "[0:0] -A PP-FWD -m connmark --mark 0x10000000/0x10000000 -m conntrack --ctstate DNAT -j ACCEPT\n"
#define END "COMMIT\n"

/* The first hit for q in text; kind NONE when there is none. */
static struct pp_foreign_hit
first(const char *text, const struct pp_foreign_query *q)
{
	struct pp_foreign *fr = pp_foreign_parse(text);
	struct pp_foreign_hit h;
	int rc = pp_foreign_first(fr, q, &h);
	assert_int_equal(rc, h.kind != PP_FOREIGN_NONE);
	pp_foreign_free(fr);
	return h;
}

static void
test_nothing_foreign(void **st)
{
	struct pp_foreign_query q = query();
	struct pp_foreign_hit h = first(NAT_HEAD NAT_HOOK NAT_OWN END FILTER_HEAD FILTER_HOOK FILTER_OWN END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* Rules after portpilot's hooks never meet the traffic first. */
	h = first(NAT_HEAD NAT_HOOK "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80\n"
	          END FILTER_HEAD FILTER_HOOK "-A FORWARD -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* Another port, another protocol, another interface, a DNAT to the mapping's own target. */
	h = first(NAT_HEAD "-A PREROUTING -p tcp -m tcp --dport 8081 -j DNAT --to-destination 192.168.2.103:80\n"
	          "-A PREROUTING -p udp -m udp --dport 8080 -j DNAT --to-destination 192.168.2.103:80\n"
	          "-A PREROUTING -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n"
	          "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.101:80\n"
	          NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
}

static void
test_dnat_ahead(void **st)
{
	struct pp_foreign_query q = query();
	struct pp_foreign_hit h = first(NAT_HEAD "[3:180] -A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT "
	                                "--to-destination 192.168.2.103:80\n" NAT_HOOK NAT_OWN END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_true(h.before_routing);
	assert_string_equal(h.table, "nat");
	assert_string_equal(h.path, "PREROUTING");
	assert_string_equal(h.rule, "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80");
	assert_string_equal(h.to, "192.168.2.103:80");
	assert_true(h.pkts == 3);
	char *w = pp_foreign_words(&h);
	assert_non_null(strstr(w, "nat PREROUTING: \"-A PREROUTING -p tcp"));
	assert_non_null(strstr(w, "sends it to 192.168.2.103:80"));
	free(w);
	/* A port list or range that holds the port; the public address by -d. */
	h = first(NAT_HEAD "-A PREROUTING -d 203.0.113.1/32 -p tcp -m multiport --dports 22,8000:8100 -j DNAT "
	          "--to-destination 10.9.9.9\n" NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_string_equal(h.to, "10.9.9.9");
	/* Another public address is not this one's. */
	h = first(NAT_HEAD "-A PREROUTING -d 198.51.100.7/32 -p tcp -m tcp --dport 8080 -j DNAT "
	          "--to-destination 10.9.9.9\n" NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* REDIRECT to the router itself, an ACCEPT that ends nat before portpilot's DNAT. */
	h = first(NAT_HEAD "-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 3128\n" NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_non_null(strstr(h.to, "the router itself, port 3128"));
	h = first(NAT_HEAD "-A PREROUTING -p tcp -m tcp --dport 8000:9000 -j ACCEPT\n" NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_non_null(strstr(h.to, "the router itself"));
}

/* Docker's layout: PREROUTING jumps to DOCKER for local addresses; DOCKER DNATs the port. */
static void
test_dnat_in_foreign_chain(void **st)
{
	struct pp_foreign_query q = query();
	const char *docker =
		"*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n"
		"[9:540] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n" NAT_HOOK
		"[0:0] -A DOCKER -i docker0 -j RETURN\n"
		"[2:120] -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n" END;
	struct pp_foreign_hit h = first(docker, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_string_equal(h.chain, "DOCKER");
	assert_string_equal(h.path, "PREROUTING > DOCKER");
	assert_string_equal(h.to, "172.17.0.2:80");
	assert_true(h.pkts == 2);
	/* The same chain reached by goto, and a RETURN ahead that does not match this traffic. */
	h = first("*nat\n-A PREROUTING -p tcp -g FOO\n" NAT_HOOK "-A FOO -p udp -j RETURN\n"
	          "-A FOO -p tcp -m tcp --dport 8080 -m comment --comment \"upnp lease 7\" -j DNAT --to-destination 192.168.2.50:8080\n"
	          END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_string_equal(h.path, "PREROUTING > FOO");
	/* A RETURN that matches leaves the chain: the DNAT after it is never met. */
	h = first("*nat\n-A PREROUTING -j FOO\n" NAT_HOOK "-A FOO -p tcp -j RETURN\n"
	          "-A FOO -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.50:8080\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
}

static void
test_drop_ahead(void **st)
{
	struct pp_foreign_query q = query();
	/* FORWARD, after the DNAT: the internal address and port. */
	struct pp_foreign_hit h = first(FILTER_HEAD "[4:240] -A FORWARD -d 192.168.2.101/32 -p tcp -m tcp --dport 80 -j DROP\n"
	                                FILTER_HOOK FILTER_OWN END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	assert_false(h.before_routing);
	assert_false(h.reply);
	assert_string_equal(h.table, "filter");
	assert_string_equal(h.path, "FORWARD");
	h = first(FILTER_HEAD "-A FORWARD -o eth1 -p tcp -j REJECT --reject-with icmp-port-unreachable\n" FILTER_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	/* An accept of established flows first does not let a new connection through. */
	h = first(FILTER_HEAD "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -j DROP\n"
	          FILTER_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	/* But it does let the replies through, so only a reply rule after it would matter. */
	h = first(FILTER_HEAD "-A FORWARD -s 192.168.2.101/32 -j DROP\n" FILTER_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	assert_true(h.reply);
	char *w = pp_foreign_words(&h);
	assert_non_null(strstr(w, "drops the server's replies"));
	free(w);
	/* raw and mangle, before routing: the public port. */
	h = first("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 8080 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	assert_true(h.before_routing);
	assert_string_equal(h.table, "raw");
	h = first("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	assert_string_equal(h.table, "mangle");
	/* NOTRACK: no conntrack, so no DNAT: the traffic stays with the router. */
	h = first("*raw\n-A PREROUTING -p tcp -m tcp --dport 8080 -j CT --notrack\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	assert_non_null(strstr(h.to, "not tracked"));
	/* A FORWARD drop reached through a user chain. */
	h = first(FILTER_HEAD "-A FORWARD -j ufw-before-forward\n" FILTER_HOOK
	          "-A ufw-before-forward -p tcp -m tcp --dport 80 -j ufw-reject\n-A ufw-reject -j REJECT\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	assert_string_equal(h.path, "FORWARD > ufw-before-forward > ufw-reject");
	/* Docker's DOCKER-USER with portpilot's hook in it: reached before Docker's own drops. */
	h = first(FILTER_HEAD "-A FORWARD -j DOCKER-USER\n-A FORWARD -j DROP\n-A DOCKER-USER -j PP-FWD\n"
	          "-A DOCKER-USER -j RETURN\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
}

/* Rules the walk cannot judge are passed over; a verdict never rests on a guess. */
static void
test_unknown_matches(void **st)
{
	struct pp_foreign_query q = query();
	struct pp_foreign_hit h = first(FILTER_HEAD "-A FORWARD -m set --match-set blocklist src -j DROP\n"
	                                "-A FORWARD -s 198.51.100.0/24 -j DROP\n"
	                                "-A FORWARD -m mark --mark 0x1 -j DROP\n"
	                                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -m limit --limit 5/sec -j DROP\n"
	                                FILTER_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* A flag without a value does not swallow the next option. */
	h = first(NAT_HEAD "-A PREROUTING -p tcp -m addrtype --dst-type LOCAL --limit-iface-in -m tcp --dport 8080 "
	          "-j DNAT --to-destination 192.168.2.103:80\n" NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	h = first(NAT_HEAD "-A PREROUTING -p tcp -m tcp --syn --dport 8080 -j DNAT --to-destination 192.168.2.103:80\n"
	          NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DNAT);
	/* Unknown interfaces make -i rules unjudgeable, not matches. */
	q.wan_if = NULL;
	h = first(NAT_HEAD "-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80\n"
	          NAT_HOOK END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* UDP and both: the udp side of a both mapping meets a udp rule. */
	q = query();
	q.proto = PP_BOTH;
	h = first("*raw\n-A PREROUTING -p udp -m udp --dport 8080 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	q.proto = PP_TCP;
	h = first("*raw\n-A PREROUTING -p udp -m udp --dport 8080 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
	/* A range mapping meets a rule for one port of it; ! --dport that spares all of it does not. */
	q.pub_lo = 10000, q.pub_hi = 10099, q.in_lo = 10000, q.in_hi = 10099;
	h = first("*mangle\n-A PREROUTING -p tcp -m tcp --dport 10050 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_DROP);
	h = first("*mangle\n-A PREROUTING -p tcp -m tcp ! --dport 10000:10099 -j DROP\n" END, &q);
	assert_int_equal(h.kind, PP_FOREIGN_NONE);
}

static void
test_save_section(void **st)
{
	char *s = pp_save_section("*raw\n-A PREROUTING -j X\nCOMMIT\n*nat\n-A PREROUTING -j PP-PRE\nCOMMIT\n", "nat");
	assert_string_equal(s, "*nat\n-A PREROUTING -j PP-PRE\nCOMMIT\n");
	free(s);
	s = pp_save_section("*raw\nCOMMIT\n", "mangle");
	assert_string_equal(s, "");
	free(s);
}

/* masquerade = yes: one SNAT rule per protocol in PP-POST, for the mapping's own DNATed flows. */
static void
test_masquerade_render(void **st)
{
	const char *text = "[site]\nwan_interface = eth0\nlan_interface = eth1\n\n"
	                   "[cam]\nprotocol = both\npublic_port = 8554\ninternal_ip = 192.168.2.60\n"
	                   "internal_port = 554\nmasquerade = yes\n\n"
	                   "[web]\npublic_port = 8080\ninternal_ip = 192.168.2.101\ninternal_port = 80\n";
	struct pp_table *t = NULL;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	assert_true(pp_table_find(t, "cam")->masquerade);
	assert_false(pp_table_find(t, "web")->masquerade);
	struct pp_render_opts o = { .now = 1700000000 };
	struct pp_ruleset rs;
	assert_int_equal(pp_render(t, &o, &rs, &err), 0);
	struct pp_chain *c = pp_ruleset_chain(&rs, PP_NAT, "PP-POST", false);
	assert_non_null(c);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->rules[0], "-A PP-POST -d 192.168.2.60/32 -o eth1 -p tcp -m tcp --dport 554 -m connmark "
	                    "--mark 0x10000000/0x10000000 -m conntrack --ctstate DNAT --ctorigdstport 8554 -m comment "
	                    "--comment \"pp:cam\" -j MASQUERADE");
	assert_non_null(strstr(c->rules[1], "-p udp -m udp --dport 554 "));
	pp_ruleset_free(&rs);
	/* A bad value is an error naming the field and the choice. */
	struct pp_findings fs = { 0 };
	pp_table_free(t);
	const char *bad = "[site]\nwan_interface = eth0\n\n[cam]\npublic_port = 1\ninternal_ip = 192.168.2.60\nmasquerade = often\n";
	assert_int_equal(pp_table_load_mem("t.ini", bad, strlen(bad), &t, &err), 0);
	pp_table_check(t, 1700000000, &fs);
	bool named = false;
	for (size_t i = 0; i < fs.n; i++)
		named |= fs.v[i].field && !strcmp(fs.v[i].field, "masquerade") && strstr(fs.v[i].what, "'often' is not yes or no");
	assert_true(named);
	pp_findings_free(&fs);
	pp_table_free(t);
}

static void
test_conntrack_elsewhere(void **st)
{
	struct pp_trace_ctx c = { .protos = PP_TCP, .pub_lo = 8080, .pub_hi = 8080, .in_lo = 80, .in_hi = 80,
	                          .internal_ip = IP(192, 168, 2, 101), .router_ips = { IP(203, 0, 113, 1) }, .nrouter = 1 };
	uint32_t src;
	char to[24];
	assert_int_equal(pp_conntrack_elsewhere("tcp 6 118 SYN_SENT src=203.0.113.10 dst=203.0.113.1 sport=4000 dport=8080 "
	                                        "[UNREPLIED] src=192.168.2.103 dst=203.0.113.10 sport=80 dport=4000 use=1",
	                                        &c, &src, to, sizeof to), 1);
	assert_string_equal(to, "192.168.2.103:80");
	assert_true(src == IP(203, 0, 113, 10));
	/* /proc's form; the mapping's own target; not DNATed; not addressed to the router. */
	assert_int_equal(pp_conntrack_elsewhere("ipv4     2 tcp      6 118 SYN_SENT src=203.0.113.10 dst=203.0.113.1 "
	                                        "sport=4000 dport=8080 [UNREPLIED] src=172.17.0.2 dst=203.0.113.10 "
	                                        "sport=80 dport=4000 mark=0 use=2", &c, &src, to, sizeof to), 1);
	assert_int_equal(pp_conntrack_elsewhere("tcp 6 118 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 "
	                                        "dport=8080 src=192.168.2.101 dst=203.0.113.10 sport=80 dport=4000",
	                                        &c, &src, to, sizeof to), 0);
	assert_int_equal(pp_conntrack_elsewhere("tcp 6 118 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=4000 "
	                                        "dport=8080 src=203.0.113.1 dst=203.0.113.10 sport=8080 dport=4000",
	                                        &c, &src, to, sizeof to), 0);
	assert_int_equal(pp_conntrack_elsewhere("tcp 6 118 ESTABLISHED src=192.168.2.50 dst=198.51.100.9 sport=4000 "
	                                        "dport=8080 src=10.0.0.9 dst=192.168.2.50 sport=8080 dport=4000",
	                                        &c, &src, to, sizeof to), 0);
}

/* ---- the verdicts from those facts ---- */

static struct pp_mapping map;
static struct pp_site site;
static struct pp_facts
healthy(void)
{
	memset(&map, 0, sizeof map);
	memset(&site, 0, sizeof site);
	map.name = "web-1";
	map.enabled = true;
	map.proto = PP_TCP;
	map.pub_lo = map.pub_hi = 8080;
	map.in_lo = map.in_hi = 80;
	map.internal_ip = IP(192, 168, 2, 101);
	struct pp_facts f = { .m = &map, .site = &site, .dnat_rule = PP_YES, .ip_forward = PP_YES,
	                      .forward_static_block = PP_NO, .wan_ip = IP(203, 0, 113, 1), .lan_ip = IP(192, 168, 2, 1),
	                      .svc_lan = PP_SVC_OPEN, .svc_wan = PP_SVC_OPEN, .neigh_ok = PP_YES,
	                      .fwd_wan = PP_YES, .fwd_lan = PP_YES, .rp_wan = 0, .rp_lan = 0 };
	strcpy(f.wan_if, "eth0");
	strcpy(f.lan_if, "eth1");
	strcpy(f.rp_wan_route, "eth0");
	strcpy(f.rp_lan_route, "eth1");
	return f;
}

static struct pp_probe_result *
diag(const struct pp_facts *f)
{
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	r->mapping = pp_xstrdup("web-1");
	pp_diagnose(f, r);
	assert_non_null(r->summary);
	assert_non_null(r->fix);
	return r;
}

static void
expect(const struct pp_facts *f, enum pp_cause c, const char *in_summary, const char *in_fix)
{
	struct pp_probe_result *r = diag(f);
	if (r->cause != c || (in_summary && !strstr(r->summary, in_summary)) || (in_fix && !strstr(r->fix, in_fix)))
		fail_msg("got %s: %s / %s", pp_cause_name(r->cause), r->summary, r->fix);
	pp_probe_result_free(r);
}

static void
test_diagnose_kernel_rules(void **st)
{
	struct pp_facts f = healthy();
	expect(&f, PP_CAUSE_OK, NULL, NULL);
	/* Without a reflector the inside checks pass, but the port belongs to another rule: not ok. */
	f.foreign = 1;
	f.foreign_before_routing = true;
	strcpy(f.foreign_rule, "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.2.103:80");
	strcpy(f.foreign_where, "nat PREROUTING");
	strcpy(f.foreign_to, "192.168.2.103:80");
	expect(&f, PP_CAUSE_FOREIGN_DNAT, "--to-destination 192.168.2.103:80\" in nat PREROUTING sends it to 192.168.2.103:80",
	       "remove that rule");
	/* It wins over everything downstream: the server's own state means nothing then. */
	f.svc_lan = PP_SVC_REFUSED, f.fwd_wan = PP_NO;
	expect(&f, PP_CAUSE_FOREIGN_DNAT, NULL, NULL);
	/* Conntrack alone: the reflector's connection went elsewhere, none came to ours. */
	f = healthy();
	f.outside_tested = true, f.ct_read = true, f.ct_elsewhere = 1;
	strcpy(f.ct_elsewhere_to, "172.17.0.2:80");
	expect(&f, PP_CAUSE_FOREIGN_DNAT, "DNATed to 172.17.0.2:80", "nft list ruleset");
	f.ct_replied = 1;               /* and some did reach the mapping: not proof enough */
	struct pp_probe_result *r0 = diag(&f);
	assert_int_not_equal(r0->cause, PP_CAUSE_FOREIGN_DNAT);
	/* the outside test failed all the same: never ok (issue 10 item 3) */
	assert_int_not_equal(r0->cause, PP_CAUSE_OK);
	pp_probe_result_free(r0);
	f.outside_ok = true;            /* it connected: then the path works */
	expect(&f, PP_CAUSE_OK, NULL, NULL);
	/* Drops: before routing, then in FORWARD after the forwarding switches. */
	f = healthy();
	f.foreign = 2, f.foreign_before_routing = true;
	strcpy(f.foreign_rule, "-A PREROUTING -p tcp -m tcp --dport 8080 -j DROP");
	strcpy(f.foreign_where, "raw PREROUTING");
	expect(&f, PP_CAUSE_FOREIGN_DROP, "\"-A PREROUTING -p tcp -m tcp --dport 8080 -j DROP\" in raw PREROUTING", NULL);
	f.foreign_before_routing = false;
	strcpy(f.foreign_where, "filter FORWARD");
	expect(&f, PP_CAUSE_FOREIGN_DROP, "in filter FORWARD drops the forwarded traffic", NULL);
	f.fwd_lan = PP_NO;              /* the routing decision comes before FORWARD */
	expect(&f, PP_CAUSE_IP_FORWARD_OFF, "net.ipv4.conf.eth1.forwarding is 0", "sysctl -w net.ipv4.conf.eth1.forwarding=1");
	/* Forwarding off on one interface names it and the sysctl, never the FORWARD chain. */
	f = healthy();
	f.fwd_wan = PP_NO;
	expect(&f, PP_CAUSE_IP_FORWARD_OFF, "net.ipv4.conf.eth0.forwarding is 0", "sysctl -w net.ipv4.conf.eth0.forwarding=1");
	strcpy(f.wan_if, "eth0.100");   /* a VLAN: sysctl writes its dot as a slash */
	expect(&f, PP_CAUSE_IP_FORWARD_OFF, "net.ipv4.conf.eth0/100.forwarding is 0:",
	       "sysctl -w net.ipv4.conf.eth0/100.forwarding=1");
	f.ip_forward = PP_NO;           /* the global switch says it first */
	expect(&f, PP_CAUSE_IP_FORWARD_OFF, "net.ipv4.ip_forward is 0", NULL);
	/* rp_filter: strict and the route back elsewhere; loose or a symmetric route is fine. */
	f = healthy();
	f.rp_wan = 1, f.rp_client = IP(203, 0, 113, 10);
	strcpy(f.rp_wan_route, "eth2");
	expect(&f, PP_CAUSE_RP_FILTER, "route back to 203.0.113.10 leaves by eth2", "rp_filter=2");
	f.rp_wan = 2;
	expect(&f, PP_CAUSE_OK, NULL, NULL);
	/* The router's own route to the server: a reject route or one out of the WAN is lan_route,
	 * whatever the server's tests said (they went nowhere either); another LAN-side interface
	 * (a second LAN, a VLAN) is not a fault by itself. */
	f = healthy();
	strcpy(f.rp_lan_route, "*");
	f.svc_lan = PP_SVC_UNREACHABLE, f.neigh_ok = PP_NO;
	expect(&f, PP_CAUSE_LAN_ROUTE, "is a reject route", "ip route get 192.168.2.101");
	strcpy(f.rp_lan_route, "eth0");
	expect(&f, PP_CAUSE_LAN_ROUTE, "leaves by the WAN interface", NULL);
	f = healthy();
	strcpy(f.rp_lan_route, "eth1.20");
	expect(&f, PP_CAUSE_OK, NULL, NULL);
	/* The LAN side: a route to the server by another interface is a routing fault the forwarded
	 * traffic meets as well; rp_filter is not named for it. */
	f = healthy();
	f.rp_lan = 1;
	strcpy(f.rp_lan_route, "eth0");
	struct pp_probe_result *r = diag(&f);
	assert_int_not_equal(r->cause, PP_CAUSE_RP_FILTER);
	pp_probe_result_free(r);
}

/* A server that answers the LAN but not a non-LAN source: its gateway; masquerade is the fix
 * portpilot can make, and once set the return route no longer matters. */
static void
test_diagnose_masquerade(void **st)
{
	struct pp_facts f = healthy();
	f.svc_wan = PP_SVC_TIMEOUT;
	expect(&f, PP_CAUSE_SERVER_GATEWAY, NULL, "portpilot set web-1 masquerade=yes");
	expect(&f, PP_CAUSE_SERVER_GATEWAY, NULL, "sees the router, not the client");
	map.masquerade = true;
	expect(&f, PP_CAUSE_OK, NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_foreign),
		cmocka_unit_test(test_dnat_ahead),
		cmocka_unit_test(test_dnat_in_foreign_chain),
		cmocka_unit_test(test_drop_ahead),
		cmocka_unit_test(test_unknown_matches),
		cmocka_unit_test(test_save_section),
		cmocka_unit_test(test_masquerade_render),
		cmocka_unit_test(test_conntrack_elsewhere),
		cmocka_unit_test(test_diagnose_kernel_rules),
		cmocka_unit_test(test_diagnose_masquerade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
