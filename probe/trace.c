/* Follows each attempt across the router: in on WAN, translated onto the LAN, answered, back out. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"

#define MAX_PKTS 20000
#define MAX_ATTEMPTS 2000

bool
pp_cidr_contains(const struct pp_cidr *v, size_t n, uint32_t ip)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t mask = v[i].len ? ~0u << (32 - v[i].len) : 0;
		if ((ip & mask) == v[i].addr)
			return true;
	}
	return false;
}

static bool in_range(uint16_t p, uint16_t lo, uint16_t hi) { return p >= lo && p <= hi; }

static bool
is_router(const struct pp_trace_ctx *c, uint32_t ip)
{
	for (size_t i = 0; i < c->nrouter; i++)
		if (c->router_ips[i] == ip)
			return true;
	return false;
}

static unsigned proto_bit(uint8_t proto) { return proto == IPPROTO_UDP ? PP_UDP : PP_TCP; }

static enum pp_answer
answer_of(const struct pp_packet *p)
{
	switch (p->kind) {
	case PP_PKT_SYNACK: return PP_ANS_SYNACK;
	case PP_PKT_RST: return PP_ANS_RST;
	case PP_PKT_UDP: return PP_ANS_UDP;
	case PP_PKT_ICMP_UNREACH: return PP_ANS_ICMP;
	default: return PP_ANS_NONE;
	}
}

/* The answer is what the attempt got first, except that a SYN-ACK or a reply beats a refusal
 * (a retried SYN accepted). After it, a RST is the connection's teardown, not the answer. */
static void
set_answer(struct pp_attempt *a, enum pp_answer ans)
{
	bool yes = ans == PP_ANS_SYNACK || ans == PP_ANS_UDP;
	bool had_yes = a->answer == PP_ANS_SYNACK || a->answer == PP_ANS_UDP;
	if (ans != PP_ANS_NONE && (a->answer == PP_ANS_NONE || (yes && !had_yes)))
		a->answer = ans;
}

/* Find or (when create) start the attempt of client ip:port. */
static int
attempt(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p,
        uint32_t client, uint16_t cport, bool create)
{
	for (size_t i = t->natt; i-- > 0;) {
		struct pp_attempt *a = &t->att[i];
		if (a->proto == p->proto && a->client == client && a->cport == cport)
			return (int)i;
	}
	if (!create || t->natt >= MAX_ATTEMPTS)
		return -1;
	if (t->natt == t->attcap) {
		t->attcap = t->attcap ? 2 * t->attcap : 16;
		t->att = pp_xrealloc(t->att, t->attcap * sizeof *t->att);
	}
	struct pp_attempt *a = &t->att[t->natt];
	*a = (struct pp_attempt){ .proto = p->proto, .client = client, .cport = cport, .first = p->ts };
	a->router_own = is_router(c, client);
	a->wrong_proto = !(c->protos & proto_bit(p->proto));
	a->allowed = c->nallow == 0 || pp_cidr_contains(c->allow, c->nallow, client);
	return (int)t->natt++;
}

/* masquerade = yes (and hairpin) rewrite the client to the router's LAN address on the LAN side,
 * keeping its port: the outside attempt with that port is the one the packet carries on. */
static int
masqueraded(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p,
            uint32_t lan_client, uint16_t cport)
{
	if (!is_router(c, lan_client))
		return -1;
	for (size_t i = t->natt; i-- > 0;) {
		const struct pp_attempt *a = &t->att[i];
		if (a->proto == p->proto && a->cport == cport && a->wan_in && !a->router_own)
			return (int)i;
	}
	return -1;
}

static int
classify_icmp(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p)
{
	/* The quoted packet went towards the one who complained: its source is our client. */
	int i = attempt(t, c, p, p->src, p->sport, false);
	if (i < 0)
		i = attempt(t, c, p, p->dst, p->dport, false);
	if (i >= 0)
		set_answer(&t->att[i], PP_ANS_ICMP);
	return i;
}

static int
classify(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p)
{
	bool to_server = p->dst == c->internal_ip && in_range(p->dport, c->in_lo, c->in_hi);
	bool from_server = p->src == c->internal_ip && in_range(p->sport, c->in_lo, c->in_hi);
	int i = -1;
	if (p->kind == PP_PKT_ARP || p->v6)   /* IPv6 attempts: the probe's own evidence (probe-run.c) */
		return -1;
	if (p->kind == PP_PKT_ICMP_UNREACH || p->kind == PP_PKT_ICMP_OTHER)
		return classify_icmp(t, c, p);
	if (p->side == PP_SIDE_LAN && to_server) {
		if ((i = masqueraded(t, c, p, p->src, p->sport)) >= 0 || (i = attempt(t, c, p, p->src, p->sport, true)) >= 0)
			t->att[i].lan_out = true;
	} else if (p->side == PP_SIDE_LAN && from_server) {
		if ((i = masqueraded(t, c, p, p->dst, p->dport)) >= 0 || (i = attempt(t, c, p, p->dst, p->dport, false)) >= 0) {
			t->att[i].lan_reply = true;
			set_answer(&t->att[i], answer_of(p));
		}
	} else if (in_range(p->dport, c->pub_lo, c->pub_hi) && !is_router(c, p->src)) {
		/* Towards the public port: from outside on WAN, or a LAN client (hairpin). */
		if ((i = attempt(t, c, p, p->src, p->sport, true)) >= 0 && p->side == PP_SIDE_WAN)
			t->att[i].wan_in = true;
		else if (i >= 0)
			t->att[i].from_lan = !c->lan.len || pp_cidr_contains(&c->lan, 1, p->src);
	} else if (in_range(p->sport, c->pub_lo, c->pub_hi)) {
		/* The router's answer from the public port, to the client. */
		if ((i = attempt(t, c, p, p->dst, p->dport, false)) >= 0) {
			struct pp_attempt *a = &t->att[i];
			if (p->side == PP_SIDE_WAN)
				a->wan_out = true;
			set_answer(a, answer_of(p));
		}
	}
	return i;
}

int
pp_trace_add(struct pp_trace *t, const struct pp_trace_ctx *c, const struct pp_packet *p)
{
	if (t->npkts >= MAX_PKTS)
		return -1;
	if (t->npkts == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->pkts = pp_xrealloc(t->pkts, t->cap * sizeof *t->pkts);
	}
	int i = classify(t, c, p);
	t->pkts[t->npkts] = *p;
	t->pkts[t->npkts++].attempt = i;
	if (i >= 0)
		t->att[i].npkts++;
	return i;
}

static int
by_time(const void *a, const void *b)
{
	const struct pp_packet *x = a, *y = b;
	if (x->ts.tv_sec != y->ts.tv_sec)
		return x->ts.tv_sec < y->ts.tv_sec ? -1 : 1;
	return x->ts.tv_usec < y->ts.tv_usec ? -1 : x->ts.tv_usec > y->ts.tv_usec;
}

/* Both sides are read in turns: order the evidence by capture time. */
void
pp_trace_sort(struct pp_trace *t)
{
	if (t->npkts)
		qsort(t->pkts, t->npkts, sizeof *t->pkts, by_time);
}

void
pp_trace_free(struct pp_trace *t)
{
	free(t->pkts);
	free(t->att);
	memset(t, 0, sizeof *t);
}

static const char *
kind_name(const struct pp_packet *p)
{
	static const char *const names[] = { "SYN", "SYN-ACK", "RST", "TCP", "UDP",
	                                     "ICMP unreachable", "ICMP", "ARP" };
	return names[p->kind];
}

void
pp_packet_format(const struct pp_packet *p, char *out, size_t n)
{
	char s[48], d[48], tm[16], from[48];
	time_t sec = p->ts.tv_sec;
	struct tm lt;
	localtime_r(&sec, &lt);
	strftime(tm, sizeof tm, "%H:%M:%S", &lt);
	if (p->v6) {
		/* [addr] so the port after the colon reads as one */
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, p->src6, a, sizeof a);
		snprintf(s, sizeof s, "[%s]", a);
		inet_ntop(AF_INET6, p->dst6, a, sizeof a);
		snprintf(d, sizeof d, "[%s]", a);
		inet_ntop(AF_INET6, p->icmp_from6, from, sizeof from);
	} else {
		pp_format_ipv4(p->src, s);
		pp_format_ipv4(p->dst, d);
	}
	const char *proto = p->proto == IPPROTO_UDP ? "udp" : "tcp";
	if (p->kind == PP_PKT_ARP) {
		snprintf(out, n, "%s.%03ld %s arp who-has %s tell %s", tm, (long)p->ts.tv_usec / 1000,
		         p->side == PP_SIDE_WAN ? "wan" : "lan", d, s);
		return;
	}
	if (p->kind == PP_PKT_ICMP_UNREACH || p->kind == PP_PKT_ICMP_OTHER) {
		if (!p->v6)
			pp_format_ipv4(p->icmp_from, from);
		snprintf(out, n, "%s.%03ld %s %s from %s (code %u) about %s %s:%u > %s:%u", tm,
		         (long)p->ts.tv_usec / 1000, p->side == PP_SIDE_WAN ? "wan" : "lan", kind_name(p),
		         from, p->icmp_code, proto, s, p->sport, d, p->dport);
		return;
	}
	snprintf(out, n, "%s.%03ld %s %s %s:%u > %s:%u %s", tm, (long)p->ts.tv_usec / 1000,
	         p->side == PP_SIDE_WAN ? "wan" : "lan", proto, s, p->sport, d, p->dport, kind_name(p));
}
