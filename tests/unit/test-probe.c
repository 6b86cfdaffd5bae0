/* Probe internals without a network: frame parsing, BPF filters, trace correlation, diagnosis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portpilot/ipv6.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"
#include "../../probe/reflector-internal.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define OUTSIDE IP(203, 0, 113, 10)
#define WANIP IP(203, 0, 113, 1)
#define SRV IP(192, 168, 2, 101)

/* An Ethernet + IPv4 + TCP/UDP frame. */
static size_t frame(uint8_t *b, uint8_t proto, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t flags)
{
	memset(b, 0, 80);
	b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[9] = proto;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = s >> (24 - 8 * i);
		ip[16 + i] = d >> (24 - 8 * i);
	}
	uint8_t *l4 = ip + 20;
	l4[0] = sp >> 8, l4[1] = sp & 255, l4[2] = dp >> 8, l4[3] = dp & 255;
	l4[13] = flags;
	return 14 + 20 + 20;
}

static void test_parse_tcp_udp(void **st)
{
	uint8_t b[128];
	struct pp_packet p;
	int ifx;
	size_t n = frame(b, IPPROTO_TCP, OUTSIDE, WANIP, 40000, 8080, 0x02);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, n, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_SYN);
	assert_int_equal(p.src, OUTSIDE);
	assert_int_equal(p.dport, 8080);
	frame(b, IPPROTO_TCP, SRV, OUTSIDE, 80, 40000, 0x12);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, n, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_SYNACK);
	frame(b, IPPROTO_TCP, SRV, OUTSIDE, 80, 40000, 0x14);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, n, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_RST);
	frame(b, IPPROTO_UDP, OUTSIDE, WANIP, 5000, 8080, 0);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, n, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_UDP);
	b[12] = 0x86, b[13] = 0xdd; /* IPv6 is not ours */
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, n, &p, &ifx), -1);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, 10, &p, &ifx), -1);
}

static void test_parse_icmp_quote(void **st)
{
	uint8_t b[128], q[80];
	struct pp_packet p;
	int ifx;
	/* ICMP port unreachable from the server about OUTSIDE:40000 > SRV:80. */
	frame(q, IPPROTO_TCP, OUTSIDE, SRV, 40000, 80, 0x02);
	memset(b, 0, sizeof b);
	b[12] = 0x08;
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[9] = IPPROTO_ICMP;
	ip[12] = 192, ip[13] = 168, ip[14] = 2, ip[15] = 101;
	ip[20] = 3, ip[21] = 3;
	memcpy(ip + 28, q + 14, 28);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, 14 + 20 + 8 + 28, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_ICMP_UNREACH);
	assert_int_equal(p.icmp_from, SRV);
	assert_int_equal(p.src, OUTSIDE);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.proto, IPPROTO_TCP);
}

/* IPv6 (the outside test's evidence): TCP behind the fixed header, an ICMPv6 unreachable quoting it,
 * and the line watch prints, addresses in brackets. */
static void test_parse_ipv6(void **st)
{
	(void)st;
	static const uint8_t cli6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x10 };
	static const uint8_t srv6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [13] = 1, [14] = 1, [15] = 0x01 };
	uint8_t b[200] = { 0 }, *ip = b + 14;
	struct pp_packet p = { 0 };
	int ifx;
	char line[200];
	b[12] = 0x86, b[13] = 0xdd;
	ip[0] = 0x60, ip[6] = IPPROTO_TCP;
	memcpy(ip + 8, cli6, 16);
	memcpy(ip + 24, srv6, 16);
	ip[40] = 40000 >> 8, ip[41] = 40000 & 255, ip[42] = 0, ip[43] = 80, ip[53] = 0x02;
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, 14 + 40 + 20, &p, &ifx), 0);
	assert_true(p.v6);
	assert_int_equal(p.kind, PP_PKT_SYN);
	assert_memory_equal(p.src6, cli6, 16);
	assert_memory_equal(p.dst6, srv6, 16);
	assert_int_equal(p.dport, 80);
	pp_packet_format(&p, line, sizeof line);
	assert_non_null(strstr(line, "tcp [2001:db8:ffff::10]:40000 > [2001:db8:1::1:101]:80 SYN"));
	/* an ICMPv6 unreachable (type 1, code 1: administratively prohibited) from the router about it */
	uint8_t e[200] = { 0 }, *o = e + 14;
	e[12] = 0x86, e[13] = 0xdd;
	o[0] = 0x60, o[6] = IPPROTO_ICMPV6;
	memcpy(o + 8, srv6, 16);
	memcpy(o + 24, cli6, 16);
	o[40] = 1, o[41] = 1;
	memcpy(o + 48, ip, 60);
	memset(&p, 0, sizeof p);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, e, 14 + 48 + 60, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_ICMP_UNREACH);
	assert_int_equal(p.icmp_code, 1);
	assert_memory_equal(p.src6, cli6, 16);
	assert_memory_equal(p.icmp_from6, srv6, 16);
	assert_int_equal(p.dport, 80);
	/* an extension header is not followed; a cut header is refused */
	ip[6] = 0;
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, 14 + 40 + 20, &p, &ifx), -1);
	assert_int_equal(pp_packet_parse(DLT_EN10MB, b, 14 + 30, &p, &ifx), -1);
	/* the trace's IPv4 attempts do not take it */
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = { .protos = PP_TCP, .pub_lo = 80, .pub_hi = 80, .in_lo = 80, .in_hi = 80 };
	ip[6] = IPPROTO_TCP;
	memset(&p, 0, sizeof p);
	pp_packet_parse(DLT_EN10MB, b, 14 + 40 + 20, &p, &ifx);
	assert_int_equal(pp_trace_add(&t, &c, &p), -1);
	assert_int_equal(t.natt, 0);
	pp_trace_free(&t);
}

static void test_parse_arp(void **st)
{
	static const uint8_t f[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
		0, 1, 0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 168, 2, 101,
		0, 0, 0, 0, 0, 0, 192, 168, 2, 254,
	};
	struct pp_packet p;
	int ifx;
	assert_int_equal(pp_packet_parse(DLT_EN10MB, f, sizeof f, &p, &ifx), 0);
	assert_int_equal(p.kind, PP_PKT_ARP);
	assert_int_equal(p.src, SRV);
	assert_int_equal(p.dst, IP(192, 168, 2, 254));
}

static struct pp_trace_ctx ctx(void)
{
	struct pp_trace_ctx c = { .protos = PP_TCP, .pub_lo = 8080, .pub_hi = 8080, .in_lo = 80,
	                          .in_hi = 80, .internal_ip = SRV, .nrouter = 2,
	                          .lan = { IP(192, 168, 2, 0), 24 } };
	c.router_ips[0] = WANIP;
	c.router_ips[1] = IP(192, 168, 2, 1);
	return c;
}

static void add(struct pp_trace *t, const struct pp_trace_ctx *c, enum pp_side side, uint8_t proto,
                enum pp_pkt_kind k, uint32_t s, uint16_t sp, uint32_t d, uint16_t dp)
{
	struct pp_packet p = { .side = side, .proto = proto, .kind = k, .src = s, .sport = sp,
	                       .dst = d, .dport = dp };
	pp_trace_add(t, c, &p);
}

/* An outside client's SYN in on WAN, forwarded, answered by the server and sent back out. */
static void handshake(struct pp_trace *t, const struct pp_trace_ctx *c, uint16_t cport)
{
	add(t, c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, cport, WANIP, 8080);
	add(t, c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, cport, SRV, 80);
	add(t, c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYNACK, SRV, 80, OUTSIDE, cport);
	add(t, c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYNACK, WANIP, 8080, OUTSIDE, cport);
}

static void test_filters_compile(void **st)
{
	struct pp_trace_ctx c = ctx();
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 256);
	struct bpf_program prog;
	for (int range = 0; range < 2; range++) {
		c.pub_hi = range ? 8099 : 8080;
		for (int s = 0; s < 2; s++) {
			char *f = pp_capture_filter(&c, (enum pp_side)s);
			assert_int_equal(pcap_compile(dead, &prog, f, 1, PCAP_NETMASK_UNKNOWN), 0);
			assert_non_null(strstr(f, range ? "portrange 8080-8099" : "port 8080"));
			if (s == PP_SIDE_LAN)
				assert_non_null(strstr(f, "host 192.168.2.101 and port 80"));
			pcap_freecode(&prog);
			free(f);
		}
	}
	pcap_close(dead);
}

static void test_trace_full_path(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = ctx();
	handshake(&t, &c, 40000);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_TCP, SRV, 80, OUTSIDE, 40000);
	/* The router's own check is kept apart. */
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, IP(192, 168, 2, 1), 5000, SRV, 80);
	assert_int_equal(t.natt, 2);
	const struct pp_attempt *a = &t.att[0];
	assert_true(a->wan_in && a->lan_out && a->lan_reply && a->wan_out);
	assert_int_equal(a->answer, PP_ANS_SYNACK);
	assert_false(a->router_own);
	assert_true(t.att[1].router_own);
	assert_int_equal(t.pkts[0].attempt, 0);
	pp_trace_free(&t);
}

static void test_trace_hairpin_and_wrong_proto(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = ctx();
	uint32_t lanhost = IP(192, 168, 2, 50);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, lanhost, 33000, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, lanhost, 33000);
	add(&t, &c, PP_SIDE_WAN, IPPROTO_UDP, PP_PKT_UDP, OUTSIDE, 5000, WANIP, 8080);
	assert_int_equal(t.natt, 2);
	assert_true(t.att[0].from_lan);
	assert_int_equal(t.att[0].answer, PP_ANS_RST);
	assert_true(t.att[1].wrong_proto && t.att[1].wan_in && !t.att[1].lan_out);
	pp_trace_free(&t);
}

/* After a SYN-ACK, the teardown's RST (server or router) is not the answer; a SYN accepted
 * after a refusal is. */
static void test_trace_answer_is_first(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = ctx();
	uint32_t lanhost = IP(192, 168, 2, 50);
	handshake(&t, &c, 40000);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_RST, SRV, 80, OUTSIDE, 40000);
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, OUTSIDE, 40000);
	/* Hairpin: the router's SYN-ACK from the public port, then its RST. */
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, lanhost, 33000, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYNACK, WANIP, 8080, lanhost, 33000);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, lanhost, 33000);
	/* Refused, then the retried SYN accepted. */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40001, WANIP, 8080);
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, OUTSIDE, 40001);
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYNACK, WANIP, 8080, OUTSIDE, 40001);
	assert_int_equal(t.natt, 3);
	assert_int_equal(t.att[0].answer, PP_ANS_SYNACK);
	assert_true(t.att[1].from_lan);
	assert_int_equal(t.att[1].answer, PP_ANS_SYNACK);
	assert_int_equal(t.att[2].answer, PP_ANS_SYNACK);
	pp_trace_free(&t);
}

static void test_conntrack_lines(void **st)
{
	struct pp_trace_ctx c = ctx();
	enum pp_ct_state state;
	char out[200];
	/* /proc/net/nf_conntrack: the reflector's SYN, DNATed and never answered. */
	assert_int_equal(pp_conntrack_line("ipv4     2 tcp      6 118 SYN_SENT src=203.0.113.10 dst=203.0.113.1 "
	                                   "sport=40000 dport=8080 [UNREPLIED] src=192.168.2.101 dst=203.0.113.10 "
	                                   "sport=80 dport=40000 mark=0 zone=0 use=2", &c, out, sizeof out, &state), 1);
	assert_string_equal(out, "tcp 203.0.113.10:40000 -> 203.0.113.1:8080 DNAT to 192.168.2.101:80, "
	                         "SYN_SENT [UNREPLIED]");
	assert_int_equal(state, PP_CT_UNREPLIED);
	/* conntrack -L: no "ipv4 2" prefix; an answered connection. */
	assert_int_equal(pp_conntrack_line("tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=40001 "
	                                   "dport=8080 src=192.168.2.101 dst=203.0.113.10 sport=80 dport=40001 "
	                                   "[ASSURED] mark=0 use=1", &c, out, sizeof out, &state), 1);
	assert_string_equal(out, "tcp 203.0.113.10:40001 -> 203.0.113.1:8080 DNAT to 192.168.2.101:80, "
	                         "ESTABLISHED [ASSURED]");
	assert_int_equal(state, PP_CT_ASSURED);
	/* The router's own test straight to the server is not DNATed: not the mapping's. */
	assert_int_equal(pp_conntrack_line("tcp 6 100 ESTABLISHED src=192.168.2.1 dst=192.168.2.101 sport=5000 dport=80 "
	                                   "src=192.168.2.101 dst=192.168.2.1 sport=80 dport=5000 [ASSURED] use=1",
	                                   &c, out, sizeof out, &state), 0);
	/* Another mapping's server, and a protocol this mapping does not forward. */
	assert_int_equal(pp_conntrack_line("tcp 6 100 SYN_SENT src=203.0.113.10 dst=203.0.113.1 sport=1 dport=8080 "
	                                   "[UNREPLIED] src=192.168.2.102 dst=203.0.113.10 sport=80 dport=1 use=1",
	                                   &c, out, sizeof out, &state), 0);
	const char *udp = "udp      17 29 src=203.0.113.10 dst=203.0.113.1 sport=5000 dport=8080 src=192.168.2.101 "
	                  "dst=203.0.113.10 sport=80 dport=5000 mark=0 use=1";
	assert_int_equal(pp_conntrack_line(udp, &c, out, sizeof out, &state), 0);
	c.protos = PP_UDP;
	assert_int_equal(pp_conntrack_line(udp, &c, out, sizeof out, &state), 1);
	assert_string_equal(out, "udp 203.0.113.10:5000 -> 203.0.113.1:8080 DNAT to 192.168.2.101:80, replied");
	assert_int_equal(state, PP_CT_REPLIED);
	assert_int_equal(pp_conntrack_line("conntrack v1.4.7 (conntrack-tools): 0 flow entries", &c, out,
	                                   sizeof out, &state), 0);
	/* A SNAT on the way to the server: the reply half goes to the rewritten source. */
	uint32_t to = 0, want;
	pp_parse_ipv4("192.168.2.50", &want);
	c.protos = PP_TCP;
	assert_int_equal(pp_conntrack_snat("ipv4     2 tcp      6 116 SYN_SENT src=203.0.113.10 dst=203.0.113.1 "
	                                   "sport=57563 dport=8080 [UNREPLIED] src=192.168.2.101 dst=192.168.2.50 "
	                                   "sport=80 dport=57563 mark=0 use=2", &c, &to), 1);
	assert_int_equal(to, want);
	/* DNAT only (reply to the client itself), and another server: not a SNAT of this one. */
	assert_int_equal(pp_conntrack_snat("tcp 6 100 ESTABLISHED src=203.0.113.10 dst=203.0.113.1 sport=1 dport=8080 "
	                                   "src=192.168.2.101 dst=203.0.113.10 sport=80 dport=1 [ASSURED] use=1",
	                                   &c, &to), 0);
	assert_int_equal(pp_conntrack_snat("tcp 6 100 SYN_SENT src=203.0.113.10 dst=203.0.113.1 sport=1 dport=8080 "
	                                   "[UNREPLIED] src=192.168.2.102 dst=192.168.2.50 sport=80 dport=1 use=1",
	                                   &c, &to), 0);
}

/* Facts of a healthy site; each test breaks one thing. */
static struct pp_mapping map;
static struct pp_site site;
static struct pp_facts healthy(struct pp_trace *t)
{
	memset(&map, 0, sizeof map);
	memset(&site, 0, sizeof site);
	map.name = "web-1";
	map.enabled = true;
	map.proto = PP_TCP;
	map.pub_lo = map.pub_hi = 8080;
	map.in_lo = map.in_hi = 80;
	map.internal_ip = SRV;
	site.hairpin = true;
	struct pp_facts f = { .m = &map, .site = &site, .dnat_rule = PP_YES, .ip_forward = PP_YES,
	                      .forward_static_block = PP_NO, .wan_ip = WANIP, .lan_ip = IP(192, 168, 2, 1),
	                      .seen_ip = WANIP, .svc_lan = PP_SVC_OPEN, .svc_wan = PP_SVC_OPEN,
	                      .neigh_ok = PP_YES, .outside_tested = true, .outside_ok = true,
	                      .reflector_ip = OUTSIDE, .trace = t, .captured = true };
	strcpy(f.wan_if, "eth0");
	return f;
}

static enum pp_cause diag(const struct pp_facts *f)
{
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	r->mapping = pp_xstrdup("web-1");
	pp_diagnose(f, r);
	enum pp_cause c = r->cause;
	assert_non_null(r->summary);
	assert_non_null(r->fix);
	pp_probe_result_free(r);
	return c;
}

static void test_diagnose_each_fact(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_facts f = healthy(&t);
	assert_int_equal(diag(&f), PP_CAUSE_OK);
	f = healthy(&t), map.enabled = false;
	assert_int_equal(diag(&f), PP_CAUSE_DISABLED);
	f = healthy(&t), f.expired = true;
	assert_int_equal(diag(&f), PP_CAUSE_EXPIRED);
	f = healthy(&t), f.dnat_rule = PP_NO;
	assert_int_equal(diag(&f), PP_CAUSE_RULE_MISSING);
	f = healthy(&t), f.ip_forward = PP_NO;
	assert_int_equal(diag(&f), PP_CAUSE_IP_FORWARD_OFF);
	f = healthy(&t), f.wan_ip = IP(100, 64, 0, 2);
	assert_int_equal(diag(&f), PP_CAUSE_CGNAT);
	f = healthy(&t), f.wan_ip = IP(192, 168, 100, 2);
	assert_int_equal(diag(&f), PP_CAUSE_DOUBLE_NAT);
	f = healthy(&t), f.expected_ip = IP(203, 0, 113, 77);
	assert_int_equal(diag(&f), PP_CAUSE_PUBLIC_IP_MISMATCH);
	f = healthy(&t), f.dns_ip = IP(203, 0, 113, 77);
	strcpy(f.dns_name, "site3.example.net");
	assert_int_equal(diag(&f), PP_CAUSE_PUBLIC_IP_MISMATCH);
	f = healthy(&t), f.svc_lan = f.svc_wan = PP_SVC_REFUSED;
	assert_int_equal(diag(&f), PP_CAUSE_NOT_LISTENING);
	f = healthy(&t), f.svc_lan = PP_SVC_UNREACHABLE;
	assert_int_equal(diag(&f), PP_CAUSE_HOST_UNREACHABLE);
	f = healthy(&t), f.svc_lan = PP_SVC_TIMEOUT;
	assert_int_equal(diag(&f), PP_CAUSE_HOST_FIREWALL);
	f = healthy(&t), f.svc_wan = PP_SVC_TIMEOUT;
	assert_int_equal(diag(&f), PP_CAUSE_SERVER_GATEWAY);
	f = healthy(&t), f.outside_ok = false;
	assert_int_equal(diag(&f), PP_CAUSE_UPSTREAM_BLOCKED);
	/* Without a capture, conntrack's never-answered DNAT entries still point at the server's route. */
	f = healthy(&t), f.outside_ok = false, f.captured = false, f.ct_read = true, f.ct_unreplied = 1;
	f.svc_wan = PP_SVC_UNTESTED;
	assert_int_equal(diag(&f), PP_CAUSE_SERVER_GATEWAY);
	/* ... unless the server answers the router's non-LAN source: then it keeps the client out. */
	f.svc_wan = PP_SVC_OPEN;
	assert_int_equal(diag(&f), PP_CAUSE_HOST_FIREWALL);
	/* The reflector failed, nothing says where: not ok (it was). */
	f.ct_replied = 1;
	assert_int_equal(diag(&f), PP_CAUSE_UPSTREAM_BLOCKED);
	/* UDP only: the datagram from a non-LAN source got no answer, or a REJECT for outside sources. */
	f = healthy(&t), map.proto = PP_UDP, f.svc_wan = PP_SVC_TIMEOUT;
	assert_int_equal(diag(&f), PP_CAUSE_SERVER_GATEWAY);
	f.svc_wan = PP_SVC_FILTERED;
	assert_int_equal(diag(&f), PP_CAUSE_HOST_FIREWALL);
	map.proto = PP_TCP;
	struct pp_cidr allow = { IP(198, 51, 100, 0), 24 };
	f = healthy(&t), map.allow = &allow, map.nallow = 1;
	assert_int_equal(diag(&f), PP_CAUSE_SOURCE_NOT_ALLOWED);
	map.allow = NULL, map.nallow = 0;
	/* The relay (issue 17): behind carrier NAT a healthy tunnel is the way in, not a fault... */
	f = healthy(&t), f.wan_ip = IP(100, 64, 0, 2), f.relay = true, f.relay_link = PP_YES;
	f.relay_handshake_age = 5;
	strcpy(f.relay_if, "pp-relay");
	assert_int_equal(diag(&f), PP_CAUSE_OK);
	/* ... and a tunnel that is down, never shook hands or went silent is the cause. */
	f.relay_link = PP_NO;
	assert_int_equal(diag(&f), PP_CAUSE_RELAY_DOWN);
	f.relay_link = PP_YES, f.relay_handshake_age = -1;
	assert_int_equal(diag(&f), PP_CAUSE_RELAY_DOWN);
	f.relay_handshake_age = 181;
	assert_int_equal(diag(&f), PP_CAUSE_RELAY_DOWN);
	/* The reflector on the edge could not reach the port through a healthy tunnel: the edge
	 * does not pass it (upstream_blocked); when it reached it, all is well; a dead tunnel is
	 * still named as such first. */
	f.relay_handshake_age = 5, f.relay_outside = PP_NO;
	strcpy(f.relay_outside_res, "refused");
	strcpy(f.relay_edge, "198.51.100.10:51820");
	assert_int_equal(diag(&f), PP_CAUSE_UPSTREAM_BLOCKED);
	f.relay_outside = PP_YES;
	assert_int_equal(diag(&f), PP_CAUSE_OK);
	f.relay_outside = PP_NO, f.relay_link = PP_NO;
	assert_int_equal(diag(&f), PP_CAUSE_RELAY_DOWN);
	f.relay_link = PP_YES, f.relay_outside = PP_UNKNOWN, f.relay_handshake_age = 181;
	/* A mapping the relay does not carry still meets the carrier NAT. */
	f.relay = false;
	assert_int_equal(diag(&f), PP_CAUSE_CGNAT);
	/* The table's own faults come first: a disabled mapping is disabled, tunnel or not. */
	f = healthy(&t), f.relay = true, f.relay_link = PP_NO, map.enabled = false;
	assert_int_equal(diag(&f), PP_CAUSE_DISABLED);
	map.enabled = true;
}

/* The diagnosis with its alternatives, for the tests that look at both. */
static struct pp_probe_result *diag_r(const struct pp_facts *f)
{
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	r->mapping = pp_xstrdup("web-1");
	pp_diagnose(f, r);
	assert_non_null(r->summary);
	assert_non_null(r->fix);
	return r;
}

/* The cause named first and the alternatives after it, as a string: "host_firewall" or
 * "server_gateway>host_firewall". */
static const char *ranked(const struct pp_facts *f)
{
	static char out[128];
	struct pp_probe_result *r = diag_r(f);
	snprintf(out, sizeof out, "%s", pp_cause_name(r->cause));
	for (size_t i = 0; i < r->nalternatives; i++) {
		size_t l = strlen(out);
		snprintf(out + l, sizeof out - l, ">%s", pp_cause_name(r->alternatives[i].cause));
		assert_non_null(r->alternatives[i].why);
		assert_non_null(r->alternatives[i].test);
	}
	pp_probe_result_free(r);
	return out;
}

/* A healthy site as the new tests see it: every test from both sources answered. */
static struct pp_facts answered_all(struct pp_trace *t)
{
	struct pp_facts f = healthy(t);
	f.nonlan_src = WANIP;
	f.closed_port = 65533;
	f.closed_lan = f.closed_wan = PP_SVC_REFUSED;
	f.ping_lan = f.ping_wan = PP_SVC_OPEN;
	f.arp_now = PP_YES;
	f.arp_cached = true;
	return f;
}

/* The service answers the LAN; what comes back to a non-LAN source separates the server's
 * filter from its route (issue 10). */
static void test_diagnose_return_path(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_facts f = answered_all(&t);
	assert_string_equal(ranked(&f), "ok");
	/* A RST or an ICMP error from the server to the non-LAN source is an answer that came back:
	 * the firewall, certain (it used to be upstream_blocked or server_gateway). */
	f.svc_wan = PP_SVC_REFUSED;
	assert_string_equal(ranked(&f), "host_firewall");
	f.svc_wan = PP_SVC_FILTERED;
	assert_string_equal(ranked(&f), "host_firewall");
	/* Silence on the mapped port, but the closed port resets, or ping answers: the firewall. */
	f = answered_all(&t), f.svc_wan = PP_SVC_TIMEOUT, f.ping_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_firewall");
	f = answered_all(&t), f.svc_wan = f.closed_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_firewall");
	f.closed_wan = PP_SVC_FILTERED;
	assert_string_equal(ranked(&f), "host_firewall");
	/* Nothing comes back to the non-LAN source, the server filters nothing on the LAN: the
	 * gateway first, the firewall beside it. */
	f = answered_all(&t), f.svc_wan = f.closed_wan = f.ping_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "server_gateway>host_firewall");
	/* The same, but a closed port is silent even from the LAN (a default-drop firewall, as
	 * Windows has): the firewall first. */
	f.closed_lan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_firewall>server_gateway");
	f.closed_lan = PP_SVC_REFUSED, f.ping_lan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_firewall>server_gateway");
	/* The server asking ARP for another gateway settles it. */
	struct pp_trace_ctx c = ctx();
	struct pp_packet arp = { .side = PP_SIDE_LAN, .kind = PP_PKT_ARP, .src = SRV, .dst = IP(192, 168, 2, 254) };
	pp_trace_add(&t, &c, &arp);
	f = answered_all(&t), f.svc_wan = f.closed_wan = f.ping_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "server_gateway");
	f.closed_lan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "server_gateway");
	pp_trace_free(&t);
	/* The router's own "unreachable" to the non-LAN source (a route it lacks) proves nothing. */
	f = answered_all(&t), f.svc_wan = f.closed_wan = f.ping_wan = PP_SVC_UNREACHABLE;
	assert_string_equal(ranked(&f), "server_gateway>host_firewall");
	/* UDP: the LAN's datagram answered, the non-LAN one not; TCP to a closed port resets. */
	f = answered_all(&t), map.proto = PP_UDP, f.svc_lan_reply = true, f.svc_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_firewall");
	f.closed_wan = f.ping_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "server_gateway>host_firewall");
	map.proto = PP_TCP;
	/* A reset from the LAN too: a closed port, or a REJECT with tcp-reset: both named. */
	f = answered_all(&t), f.svc_lan = f.svc_wan = PP_SVC_REFUSED;
	assert_string_equal(ranked(&f), "not_listening>host_firewall");
	/* An ICMP error from the server itself, even to the LAN: a REJECT rule, not a closed port. */
	f = answered_all(&t), f.svc_lan = f.svc_wan = PP_SVC_FILTERED;
	assert_string_equal(ranked(&f), "host_firewall");
	/* No non-LAN source on the router: nothing to compare, the other evidence decides. */
	f = answered_all(&t), f.nonlan_src = 0, f.svc_wan = f.closed_wan = f.ping_wan = PP_SVC_UNTESTED;
	assert_string_equal(ranked(&f), "ok");
}

/* Presence now, not from the cache: an unplugged server's entry outlives it (issue 10). */
static void test_diagnose_presence(void **st)
{
	struct pp_trace t = { 0 };
	/* The case: the entry was cached (neigh_ok), the connection timed out. */
	struct pp_facts f = answered_all(&t);
	f.svc_lan = f.svc_wan = f.closed_lan = f.closed_wan = PP_SVC_TIMEOUT;
	f.ping_lan = f.ping_wan = PP_SVC_TIMEOUT;
	f.neigh_ok = PP_YES, f.arp_now = PP_NO;
	assert_string_equal(ranked(&f), "host_unreachable");
	struct pp_probe_result *r = diag_r(&f);
	assert_non_null(strstr(r->summary, "fresh ARP request"));
	assert_non_null(strstr(r->summary, "neighbour cache still had"));
	pp_probe_result_free(r);
	/* Present now and silent on every port from the LAN: its firewall drops everything. */
	f.arp_now = PP_YES;
	assert_string_equal(ranked(&f), "host_firewall");
	/* No fresh ARP answer, yet the service answers (ARP filtered, a static entry): present. */
	f = answered_all(&t), f.arp_now = PP_NO;
	assert_string_equal(ranked(&f), "ok");
	/* UDP to a gone host is silent, which for UDP looks open: the fresh ARP request decides. */
	f = answered_all(&t), map.proto = PP_UDP, f.arp_now = PP_NO, f.svc_lan_reply = false;
	f.svc_wan = PP_SVC_UNTESTED, f.closed_lan = f.closed_wan = f.ping_lan = f.ping_wan = PP_SVC_TIMEOUT;
	assert_string_equal(ranked(&f), "host_unreachable");
	map.proto = PP_TCP;
	/* No ARP request could be sent (not Ethernet): the router's own unreachable still counts. */
	f = answered_all(&t), f.arp_now = PP_UNKNOWN, f.svc_lan = PP_SVC_UNREACHABLE;
	f.closed_lan = f.ping_lan = PP_SVC_UNREACHABLE;
	assert_string_equal(ranked(&f), "host_unreachable");
}

/* The outside attempt in the capture: a refusal is not an answer lost upstream; upstream only
 * when the server's answer left on the WAN; never ok when the reflector failed (issue 10). */
static void test_diagnose_outside(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = ctx();
	struct pp_facts f;
	/* The server resets the outside client while the router's own tests pass. */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40000, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40000, SRV, 80);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_RST, SRV, 80, OUTSIDE, 40000);
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, OUTSIDE, 40000);
	f = answered_all(&t), f.outside_ok = false;
	assert_string_equal(ranked(&f), "host_firewall");
	pp_trace_free(&t);
	/* Answered with a SYN-ACK that left on the WAN: lost upstream. */
	handshake(&t, &c, 40001);
	f = answered_all(&t), f.outside_ok = false;
	assert_string_equal(ranked(&f), "upstream_blocked");
	pp_trace_free(&t);
	/* Answered on the LAN, never out on the WAN: the router drops the reply. */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40002, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40002, SRV, 80);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYNACK, SRV, 80, OUTSIDE, 40002);
	f = answered_all(&t), f.outside_ok = false;
	assert_string_equal(ranked(&f), "forward_blocked");
	pp_trace_free(&t);
	/* Forwarded and never answered, though the server answers the router's non-LAN source:
	 * it keeps this client out (or routes its network elsewhere). */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40003, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40003, SRV, 80);
	f = answered_all(&t), f.outside_ok = false;
	assert_string_equal(ranked(&f), "host_firewall>server_gateway");
	pp_trace_free(&t);
	/* The reflector failed and there is no capture and no conntrack: never ok. */
	f = answered_all(&t), f.outside_ok = false, f.captured = false;
	assert_string_equal(ranked(&f), "upstream_blocked>forward_blocked");
	/* The text and the JSON carry the alternatives. */
	f = answered_all(&t), f.svc_wan = f.closed_wan = f.ping_wan = PP_SVC_TIMEOUT;
	struct pp_probe_result *r = diag_r(&f);
	char *buf = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&buf, &len);
	pp_probe_result_json(mf, r);
	pp_probe_result_print(mf, r);
	fclose(mf);
	assert_non_null(strstr(buf, "\"alternatives\":[{\"cause\":\"host_firewall\",\"why\":"));
	assert_non_null(strstr(buf, "also possible (the evidence cannot rule it out):\n  host_firewall: "));
	assert_non_null(strstr(buf, "to tell them apart: on 192.168.2.101, ip route"));
	assert_non_null(strstr(buf, "masquerade=yes"));
	free(buf);
	pp_probe_result_free(r);
}

static void test_diagnose_from_trace(void **st)
{
	struct pp_trace t = { 0 };
	struct pp_trace_ctx c = ctx();
	struct pp_facts f;
	/* Arrived on WAN, never on the LAN: FORWARD. */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_TCP, PP_PKT_SYN, OUTSIDE, 40000, WANIP, 8080);
	f = healthy(&t), f.outside_ok = false;
	assert_int_equal(diag(&f), PP_CAUSE_FORWARD_BLOCKED);
	pp_trace_free(&t);
	/* Only UDP from outside at a TCP mapping, seen by watch. */
	add(&t, &c, PP_SIDE_WAN, IPPROTO_UDP, PP_PKT_UDP, OUTSIDE, 40000, WANIP, 8080);
	f = healthy(&t), f.outside_tested = false;
	assert_int_equal(diag(&f), PP_CAUSE_WRONG_PROTOCOL);
	pp_trace_free(&t);
	/* A LAN client at the public address answered by the router's RST. */
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, IP(192, 168, 2, 50), 33000, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_RST, WANIP, 8080, IP(192, 168, 2, 50), 33000);
	f = healthy(&t), f.outside_tested = false;
	assert_int_equal(diag(&f), PP_CAUSE_HAIRPIN_MISSING);
	pp_trace_free(&t);
	/* Hairpin on: one attempt answered, the next still in flight when the window closed. */
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, IP(192, 168, 2, 50), 33001, WANIP, 8080);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYNACK, WANIP, 8080, IP(192, 168, 2, 50), 33001);
	add(&t, &c, PP_SIDE_LAN, IPPROTO_TCP, PP_PKT_SYN, IP(192, 168, 2, 50), 33002, WANIP, 8080);
	f = healthy(&t), f.outside_tested = false;
	assert_int_equal(diag(&f), PP_CAUSE_OK);
	/* The same with hairpin off in the table: the answered attempt does not excuse it. */
	site.hairpin = false;
	assert_int_equal(diag(&f), PP_CAUSE_HAIRPIN_MISSING);
	/* Issue 14.13: the mapping's own hairpin = yes overrides the site's no, and = no the site's yes. */
	map.hairpin = PP_HP_YES;
	assert_int_equal(diag(&f), PP_CAUSE_OK);
	site.hairpin = true;
	map.hairpin = PP_HP_NO;
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	r->mapping = pp_xstrdup("web-1");
	pp_diagnose(&f, r);
	assert_int_equal(r->cause, PP_CAUSE_HAIRPIN_MISSING);
	assert_non_null(strstr(r->fix, "remove hairpin = no from ["));
	pp_probe_result_free(r);
	map.hairpin = PP_HP_SITE;
	pp_trace_free(&t);
}

static void test_json_field(void **st)
{
	char out[16];
	const char *o = "{\"ip\": \"203.0.113.10\",\"ms\":12,\"error\":\"a \\\"quoted\\\" word\"}";
	assert_true(pp_json_field(o, "ip", out, sizeof out));
	assert_string_equal(out, "203.0.113.10");
	assert_true(pp_json_field(o, "ms", out, sizeof out));
	assert_string_equal(out, "12");
	assert_true(pp_json_field(o, "error", out, sizeof out));
	assert_string_equal(out, "a \"quoted\" word");
	assert_false(pp_json_field(o, "from", out, sizeof out));
	assert_string_equal(out, "");
	char tiny[4];
	assert_true(pp_json_field(o, "ip", tiny, sizeof tiny));
	assert_string_equal(tiny, "203");
}

/* The IPv6 path (issue 15): each verdict from the one fact that tells it apart; ipv6 = only makes
 * it the verdict, ipv6 = yes keeps IPv4's and says what IPv6 found only behind a carrier's NAT. */
static struct pp_probe_result *diag6(const struct pp_facts *f)
{
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	r->mapping = pp_xstrdup("web-1");
	pp_diagnose(f, r);
	return r;
}

static void test_diagnose_ipv6(void **st)
{
	(void)st;
	struct pp_trace t = { 0 };
	struct pp_facts f = healthy(&t);
	struct pp_probe_result *r = diag6(&f);
	assert_false(r->v6_tested);                           /* no IPv6 side: nothing said of it */
	pp_probe_result_free(r);
	map.ipv6 = PP_V6_ONLY;
	f.dnat_rule = PP_NO;                                  /* ipv6 = only: no IPv4 DNAT, not a fault */
	f.v6 = true, f.v6_pinhole = PP_YES, f.svc6 = PP_SVC_OPEN;
	strcpy(f.v6_addr, "2001:db8:1::1:101");
	static const struct { enum pp_tri pin; enum pp_svc svc; enum pp_cause want; } v[] = {
		{ PP_YES, PP_SVC_OPEN, PP_CAUSE_OK },
		{ PP_NO, PP_SVC_OPEN, PP_CAUSE_IPV6_PINHOLE_MISSING },
		{ PP_NO, PP_SVC_REFUSED, PP_CAUSE_IPV6_PINHOLE_MISSING }, /* the router's fault first */
		{ PP_YES, PP_SVC_REFUSED, PP_CAUSE_IPV6_NOT_LISTENING },
		{ PP_UNKNOWN, PP_SVC_REFUSED, PP_CAUSE_IPV6_NOT_LISTENING },
		{ PP_YES, PP_SVC_UNREACHABLE, PP_CAUSE_HOST_UNREACHABLE },
		{ PP_YES, PP_SVC_TIMEOUT, PP_CAUSE_HOST_FIREWALL },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		f.v6_pinhole = v[i].pin, f.svc6 = v[i].svc;
		r = diag6(&f);
		assert_true(r->v6_tested);
		assert_int_equal(r->cause6, v[i].want);
		assert_int_equal(r->cause, v[i].want);
		assert_non_null(strstr(r->summary, "2001:db8:1::1:101"));
		pp_probe_result_free(r);
	}
	/* the return path: answered on the link, not from off it */
	f.v6_pinhole = PP_YES, f.svc6 = PP_SVC_OPEN;
	strcpy(f.v6_offsrc, "2001:db8:ffff::1");
	static const struct { enum pp_svc off, closed; enum pp_cause want; } w[] = {
		{ PP_SVC_OPEN, PP_SVC_UNTESTED, PP_CAUSE_OK },
		{ PP_SVC_UNTESTED, PP_SVC_UNTESTED, PP_CAUSE_OK },           /* no off-link source: not tested */
		{ PP_SVC_TIMEOUT, PP_SVC_TIMEOUT, PP_CAUSE_SERVER_GATEWAY },  /* nothing comes back at all */
		{ PP_SVC_TIMEOUT, PP_SVC_REFUSED, PP_CAUSE_HOST_FIREWALL },   /* the closed port's RST came back */
		{ PP_SVC_FILTERED, PP_SVC_FILTERED, PP_CAUSE_HOST_FIREWALL }, /* an ICMP error from the server */
	};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		f.svc6_off = w[i].off, f.closed6_off = w[i].closed;
		r = diag6(&f);
		assert_int_equal(r->cause6, w[i].want);
		pp_probe_result_free(r);
	}
	f.svc6_off = f.closed6_off = PP_SVC_UNTESTED;
	/* disabled still comes first; no address (no prefix on the LAN): no IPv6 verdict */
	map.enabled = false;
	r = diag6(&f);
	assert_int_equal(r->cause, PP_CAUSE_DISABLED);
	pp_probe_result_free(r);
	map.enabled = true;
	/* ipv6 = yes: the IPv4 verdict stands; behind CGNAT the summary adds what IPv6 found */
	map.ipv6 = PP_V6_YES;
	f.dnat_rule = PP_YES, f.v6_pinhole = PP_YES, f.svc6 = PP_SVC_REFUSED;
	r = diag6(&f);
	assert_int_equal(r->cause, PP_CAUSE_OK);
	assert_int_equal(r->cause6, PP_CAUSE_IPV6_NOT_LISTENING);
	assert_null(strstr(r->summary, "Over IPv6"));
	pp_probe_result_free(r);
	f.wan_ip = IP(100, 64, 0, 2), f.svc6 = PP_SVC_OPEN;
	r = diag6(&f);
	assert_int_equal(r->cause, PP_CAUSE_CGNAT);
	assert_non_null(strstr(r->summary, "Over IPv6 instead (from the router's inside checks only, not tested "
	                                   "from outside): the pinhole to [2001:db8:1::1:101]:80 is in place"));
	pp_probe_result_free(r);
}

/* The server's route back fails (answered on its link, silence from off it, a closed port too):
 * the router advertisements on its link say which cause is likelier. */
static struct pp_ra ra_of(const char *src, bool self, unsigned life, int pref, const char *pfx)
{
	struct pp_ra ra = { .self = self, .lifetime = life, .pref = pref, .has_mac = true,
	                    .mac = { 2, 0, 0, 0, 0, self ? 1 : 2 } };
	snprintf(ra.src, sizeof ra.src, "%s", src);
	if (pfx) {
		ra.nprefix = 1, ra.prefix[0].len = 64, ra.prefix[0].valid = 86400, ra.prefix[0].onlink = true;
		assert_int_equal(pp_parse_ipv6(pfx, ra.prefix[0].addr), 0);
	}
	return ra;
}

static void test_diagnose_ipv6_ra(void **st)
{
	(void)st;
	struct pp_trace t = { 0 };
	struct pp_facts f = healthy(&t);
	enum pp_ipv6_mode was = map.ipv6;
	map.ipv6 = PP_V6_ONLY;
	f.dnat_rule = PP_NO;
	f.v6 = true, f.v6_pinhole = PP_YES, f.svc6 = PP_SVC_OPEN;
	f.svc6_off = f.closed6_off = PP_SVC_TIMEOUT;
	strcpy(f.v6_addr, "2001:db8:1::1:101");
	strcpy(f.v6_offsrc, "2001:db8:ffff::1");
	strcpy(f.lan_if, "eth1");
	const struct pp_ra me = ra_of("fe80::1", true, 1800, 0, "2001:db8:1::");
	static const struct {
		const char *what;
		struct pp_ra other;
		bool with_me;
		const char *want, *not;        /* in the summary; never in it */
	} v[] = {
		{ "a second default router, higher preference", { .src = "fe80::2", .mac = { 2, 0, 0, 0, 0, 2 }, .has_mac = true, .lifetime = 1800, .pref = 1 },
		  true, "likely fe80::2 on eth1, which advertises itself as the default router (above this router's "
		  "preference): fe80::2 (02:00:00:00:00:02, another router): default router for 1800 s, preference high",
		  "more likely a static route" },
		{ "a second default router, lower preference", { .src = "fe80::2", .lifetime = 600, .pref = -1 },
		  true, "although this router advertises itself as default router on eth1 (lifetime 1800 s, preference "
		  "medium, above the lower preference fe80::2 advertises): more likely a static route",
		  "likely fe80::2" },
		{ "a second default router, this router none", { .src = "fe80::2", .lifetime = 600, .pref = 0 },
		  false, "(this router does not advertise itself as default)", NULL },
		{ "a second router with lifetime 0 and its own prefix: not blamed", { .src = "fe80::2", .lifetime = 0, .pref = 1 },
		  true, "only this router advertises itself as default router on eth1 (lifetime 1800 s, preference "
		  "medium): more likely a static route", "fe80::2" },
		{ "only a lifetime-0 router, this router silent", { .src = "fe80::2", .lifetime = 0, .pref = 0 },
		  false, "this router sends no router advertisement on eth1", "fe80::2" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		f.ra_tested = true, f.nra = 0;
		if (v[i].with_me)
			f.ra[f.nra++] = me;
		f.ra[f.nra++] = v[i].other;
		struct pp_probe_result *r = diag6(&f);
		assert_int_equal(r->cause6, PP_CAUSE_SERVER_GATEWAY);
		assert_non_null(strstr(r->summary, v[i].want));
		if (v[i].not)
			assert_null(strstr(r->summary, v[i].not));
		pp_probe_result_free(r);
	}
	/* this router: lifetime 0, or a prefix not the server's; nothing advertised at all */
	struct pp_ra mine = me;
	mine.lifetime = 0;
	f.nra = 1, f.ra[0] = mine;
	struct pp_probe_result *r = diag6(&f);
	assert_non_null(strstr(r->summary, "this router advertises router lifetime 0 (not a default router) on eth1"));
	assert_non_null(strstr(r->fix, "radvd, or dnsmasq enable-ra"));
	pp_probe_result_free(r);
	f.ra[0] = ra_of("fe80::1", true, 1800, 0, "2001:db8:9::");
	r = diag6(&f);
	assert_non_null(strstr(r->summary, "this router advertises no prefix of the server's /64 on eth1"));
	pp_probe_result_free(r);
	f.nra = 0;
	r = diag6(&f);
	assert_non_null(strstr(r->summary, "this router sends no router advertisement on eth1"));
	bool listed = false;
	for (size_t i = 0; i < r->nevidence; i++)
		listed |= strstr(r->evidence[i], "ra eth1: no router advertisement answered") != NULL;
	assert_true(listed);
	pp_probe_result_free(r);
	/* no RA gathered (no root): the verdict reasons from behaviour alone, as before */
	f.ra_tested = false;
	r = diag6(&f);
	assert_non_null(strstr(r->summary, "a second router's advertisements, or a static route"));
	pp_probe_result_free(r);
	map.ipv6 = was;
}

/* The IPv6 outside test: where the reflector's attempt stopped names the cause; the inside
 * checks' own faults come first; behind CGNAT the summary says it was tested from outside. */
static void test_diagnose_outside6(void **st)
{
	(void)st;
	struct pp_trace t = { 0 };
	struct pp_facts f = healthy(&t);
	struct pp_probe_result *r;
	map.ipv6 = PP_V6_ONLY;
	f.dnat_rule = PP_NO;
	f.v6 = true, f.v6_pinhole = PP_YES, f.svc6 = PP_SVC_OPEN, f.captured = true;
	strcpy(f.v6_addr, "2001:db8:1::1:101");
	strcpy(f.outside6_from, "2001:db8:ffff::10");
	f.outside6_tested = true;
	static const struct { const char *res; bool wan, lan, reply, captured; enum pp_cause want; const char *words; } v[] = {
		{ "connected", true, true, true, true, PP_CAUSE_OK, "reachable over IPv6 from outside" },
		{ "connected", false, false, false, false, PP_CAUSE_OK, "reachable over IPv6 from outside" },
		{ "timeout", false, false, false, true, PP_CAUSE_UPSTREAM_BLOCKED, "never arrived on the router's WAN" },
		{ "refused", false, false, false, true, PP_CAUSE_UPSTREAM_BLOCKED, "rejects inbound IPv6" },
		{ "timeout", false, false, false, false, PP_CAUSE_UPSTREAM_BLOCKED, "no capture ran" },
		{ "timeout", true, false, false, true, PP_CAUSE_FOREIGN_DROP, "never left on the LAN" },
		{ "timeout", true, true, false, true, PP_CAUSE_HOST_FIREWALL, "the server never answered" },
		{ "timeout", true, true, true, true, PP_CAUSE_FOREIGN_DROP, "never reached it" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(f.outside6_res, sizeof f.outside6_res, "%s", v[i].res);
		f.outside6_ok = !strcmp(v[i].res, "connected");
		f.v6_wan_in = v[i].wan, f.v6_lan_out = v[i].lan, f.v6_lan_reply = v[i].reply;
		f.captured = v[i].captured;
		r = diag6(&f);
		assert_int_equal(r->cause6, v[i].want);
		assert_non_null(strstr(r->summary6, v[i].words));
		assert_null(strstr(r->summary6, "was not tested"));
		pp_probe_result_free(r);
	}
	/* an inside fault is named first, whatever the outside saw */
	f.svc6 = PP_SVC_REFUSED;
	r = diag6(&f);
	assert_int_equal(r->cause6, PP_CAUSE_IPV6_NOT_LISTENING);
	pp_probe_result_free(r);
	/* behind CGNAT: what IPv6 showed, and that it was tested from outside */
	map.ipv6 = PP_V6_YES;
	f.dnat_rule = PP_YES, f.svc6 = PP_SVC_OPEN, f.wan_ip = IP(100, 64, 0, 2);
	f.v6_wan_in = f.v6_lan_out = f.v6_lan_reply = true, f.outside6_ok = true;
	strcpy(f.outside6_res, "connected");
	r = diag6(&f);
	assert_int_equal(r->cause, PP_CAUSE_CGNAT);
	assert_non_null(strstr(r->summary, "Over IPv6 instead (tested from outside): [2001:db8:1::1:101]:80 is "
	                                   "reachable over IPv6 from outside"));
	pp_probe_result_free(r);
	map.ipv6 = PP_V6_NO;
}

static void test_cause_names(void **st)
{
	static const char *const want[] = {
		"ok", "disabled", "expired", "rule_missing", "ip_forward_off", "forward_blocked",
		"not_listening", "host_unreachable", "host_firewall", "server_gateway", "wrong_protocol",
		"source_not_allowed", "hairpin_missing", "public_ip_mismatch", "cgnat", "double_nat",
		"upstream_blocked", "foreign_dnat", "foreign_drop", "rp_filter", "lan_route", "relay_down",
		"foreign_snat",
		"ipv6_pinhole_missing", "ipv6_not_listening",
	};
	assert_int_equal(PP_CAUSE__COUNT, sizeof want / sizeof want[0]);
	for (int i = 0; i < PP_CAUSE__COUNT; i++)
		assert_string_equal(pp_cause_name((enum pp_cause)i), want[i]);
}

/* Every cause has its whole row in the table (probe/causes.c): a name that pp_cause_name and
 * pp_cause_find agree on, unique and in [a-z0-9_] (ipv6_...), and a one-line summary, fix and man-page line. */
static void test_cause_table(void **st)
{
	(void)st;
	for (int c = 0; c < PP_CAUSE__COUNT; c++) {
		const struct pp_cause_info *i = pp_cause_info((enum pp_cause)c);
		assert_non_null(i);
		assert_string_equal(i->name, pp_cause_name((enum pp_cause)c));
		assert_int_equal(pp_cause_find(i->name), c);
		assert_int_equal(strspn(i->name, "abcdefghijklmnopqrstuvwxyz_0123456789"), strlen(i->name));
		const char *text[] = { i->summary, i->fix, i->man };
		for (size_t k = 0; k < 3; k++) {
			assert_non_null(text[k]);
			assert_true(strlen(text[k]) > 5);
			assert_null(strchr(text[k], '\n'));
		}
		/* A man line must not read as a roff request. */
		assert_true(i->man[0] != '.' && i->man[0] != '\'');
	}
	assert_null(pp_cause_info(PP_CAUSE__COUNT));
	assert_string_equal(pp_cause_name(PP_CAUSE__COUNT), "?");
	assert_int_equal(pp_cause_find("no_such_cause"), -1);
	assert_int_equal(pp_cause_find(""), -1);
}

/* The token file is judged on the descriptor that is read: mode, type (a FIFO must not hang). */
static void test_token_read(void **state)
{
	(void)state;
	char dir[] = "/tmp/pp-token.XXXXXX", path[64];
	struct pp_error e;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/token", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# reflector\ntoken= s3cret \n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	char *t = pp_token_read(path, &e);
	assert_non_null(t);
	assert_string_equal(t, "s3cret");
	free(t);
	assert_int_equal(chmod(path, 0644), 0);
	assert_null(pp_token_read(path, &e));
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_null(strstr(e.msg, "s3cret"));
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(pp_token_read(path, &e));
	assert_non_null(strstr(e.msg, "not a regular file"));
	unlink(path);
	rmdir(dir);
}

/* A PEM key and self-signed certificate made by the openssl command into dir/NAME.{key,pem}. */
static void make_cert(const char *dir, const char *name)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	         "-nodes -days 1 -subj /CN=pp-unit -keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
	         dir, name, dir, name);
	assert_int_equal(system(cmd), 0);
}

/* The reflector's certificate and key: the key file's mode, PEM, and that the two belong together. */
static void test_reflector_tls_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/pp-tls.XXXXXX", cert[64], key[64], other[64];
	struct pp_error e;
	assert_non_null(mkdtemp(dir));
	make_cert(dir, "a");
	make_cert(dir, "b");
	snprintf(cert, sizeof cert, "%s/a.pem", dir);
	snprintf(key, sizeof key, "%s/a.key", dir);
	snprintf(other, sizeof other, "%s/b.key", dir);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(chmod(other, 0600), 0);
	struct pp_reflector_tls *t = pp_reflector_tls_load(cert, key, &e);
	assert_non_null(t);
	pp_reflector_tls_free(t);

	assert_int_equal(chmod(key, 0640), 0);
	assert_null(pp_reflector_tls_load(cert, key, &e));
	assert_non_null(strstr(e.msg, key));
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_null(strstr(e.msg, "PRIVATE KEY"));
	assert_int_equal(chmod(key, 0600), 0);

	assert_null(pp_reflector_tls_load(cert, other, &e));
	assert_non_null(strstr(e.msg, "does not belong to the certificate"));
	/* A key given as the certificate: not a certificate, and said so with the file's name. */
	assert_null(pp_reflector_tls_load(key, key, &e));
	assert_non_null(strstr(e.msg, "certificate file"));
	assert_non_null(strstr(e.msg, key));

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The reflector's IPv6 target rule, request by request (pp_refl_route): inside the requester's /64
 * only, never an IPv4 host in IPv6 clothes, another /64 or (without a token) the reflector itself. */
static int route6(const char *peer, const char *query)
{
	static const struct pp_reflector_opts o = { .max_timeout_ms = 3000 };
	struct sockaddr_storage p = { 0 }, l = { 0 };
	struct sockaddr_in6 *pa = (struct sockaddr_in6 *)&p, *la = (struct sockaddr_in6 *)&l;
	struct pp_refl_route r;
	char req[256];
	pa->sin6_family = la->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, peer, &pa->sin6_addr), 1);
	inet_pton(AF_INET6, "2001:db8:ffff::10", &la->sin6_addr);
	snprintf(req, sizeof req, "GET /v1/check?%s HTTP/1.1\r\nHost: x\r\n\r\n", query);
	pp_refl_route(&o, &p, &l, req, &r);
	return r.status;
}

static void test_reflector_route6(void **state)
{
	(void)state;
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=2001:db8:1::1:101"), 0);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80"), 0);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=2001:db8:1:1::101"), 403);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=2001:db8:2::1:101"), 403);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=192.168.2.101"), 403);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=2001:db8:ffff::10"), 403);
	assert_int_equal(route6("::1", "proto=tcp&port=80&ip=::ffff:203.0.113.5"), 403);
	assert_int_equal(route6("::1", "proto=tcp&port=80&ip=::203.0.113.5"), 403);
	assert_int_equal(route6("::1", "proto=tcp&port=80&ip=::"), 403);
	assert_int_equal(route6("2001:db8:1::1", "proto=tcp&port=80&ip=garbage"), 403);
}

static void test_reflector_ca_missing(void **state)
{
	(void)state;
	struct pp_error e;
	assert_int_equal(pp_reflector_set_ca("/nonexistent/ca.pem", &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/ca.pem"));
	assert_non_null(strstr(e.msg, "--reflector-ca"));
	assert_int_equal(pp_reflector_set_ca(NULL, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tcp_udp),
		cmocka_unit_test(test_parse_icmp_quote),
		cmocka_unit_test(test_parse_arp),
		cmocka_unit_test(test_filters_compile),
		cmocka_unit_test(test_trace_full_path),
		cmocka_unit_test(test_trace_hairpin_and_wrong_proto),
		cmocka_unit_test(test_trace_answer_is_first),
		cmocka_unit_test(test_conntrack_lines),
		cmocka_unit_test(test_diagnose_each_fact),
		cmocka_unit_test(test_diagnose_from_trace),
		cmocka_unit_test(test_diagnose_return_path),
		cmocka_unit_test(test_diagnose_presence),
		cmocka_unit_test(test_diagnose_outside),
		cmocka_unit_test(test_cause_names),
		cmocka_unit_test(test_diagnose_ipv6),
		cmocka_unit_test(test_diagnose_ipv6_ra),
		cmocka_unit_test(test_diagnose_outside6),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_cause_table),
		cmocka_unit_test(test_token_read),
		cmocka_unit_test(test_json_field),
		cmocka_unit_test(test_reflector_tls_load),
		cmocka_unit_test(test_reflector_ca_missing),
		cmocka_unit_test(test_reflector_route6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
