/* Runs one probe: checks while privileged, capture on both sides, the outside test, then the verdict. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/ipv6.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

struct run {
	const struct pp_probe_opts *o;
	struct pp_probe_result *r;
	struct pp_trace_ctx ctx;
	struct pp_capture *cap;
	struct pp_facts *f;
	bool watch6;                   /* count attempts to [t6]:port6 (the IPv6 outside test) */
	uint8_t t6[16];
	uint16_t port6;
};

/* An attempt from off the server's link to [t6]:port6, on the WAN or the LAN, or the server's
 * answer to one on the LAN: the IPv6 outside test's evidence. */
static void
evidence6(struct run *x, const struct pp_packet *p)
{
	if (!x->watch6 || !p->v6 || p->kind == PP_PKT_ICMP_UNREACH || p->kind == PP_PKT_ICMP_OTHER)
		return;
	bool to = !memcmp(p->dst6, x->t6, 16) && p->dport == x->port6 && memcmp(p->src6, x->t6, 8);
	bool from = !memcmp(p->src6, x->t6, 16) && p->sport == x->port6 && memcmp(p->dst6, x->t6, 8);
	if (to && p->side == PP_SIDE_WAN)
		x->f->v6_wan_in = true;
	else if (to)
		x->f->v6_lan_out = true;
	else if (from && p->side == PP_SIDE_LAN)
		x->f->v6_lan_reply = true;
}

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void
on_pkt(const struct pp_packet *p, void *arg)
{
	struct run *x = arg;
	evidence6(x, p);
	int i = pp_trace_add(&x->r->trace, &x->ctx, p);
	if (x->o->on_packet && x->r->trace.npkts) {
		const struct pp_packet *q = &x->r->trace.pkts[x->r->trace.npkts - 1];
		x->o->on_packet(q, i >= 0 ? &x->r->trace.att[i] : NULL, x->o->arg);
	}
}

static void
drain(struct run *x)
{
	if (x->cap)
		pp_capture_dispatch(x->cap, on_pkt, x);
}

/* Capture for ms, reading packets as they come. */
static void
capture_for(struct run *x, int ms)
{
	double end = now_s() + ms / 1000.0;
	int fds[2];
	if (!x->cap)
		return;
	pp_capture_fds(x->cap, fds);
	for (double t; (t = now_s()) < end;) {
		struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN } };
		int left = (int)((end - t) * 1000) + 1;
		poll(p, 2, left < 100 ? left : 100);
		drain(x);
	}
}

static void
trace_ctx(struct run *x, const struct pp_facts *f)
{
	const struct pp_mapping *m = f->m;
	struct pp_trace_ctx *c = &x->ctx;
	uint8_t pfx;
	uint32_t lan;
	c->protos = (uint8_t)m->proto;
	c->pub_lo = m->pub_lo, c->pub_hi = m->pub_hi ? m->pub_hi : m->pub_lo;
	c->in_lo = m->in_lo, c->in_hi = m->in_hi ? m->in_hi : m->in_lo;
	c->internal_ip = m->internal_ip;
	c->allow = m->allow;
	c->nallow = m->nallow;
	if (!x->o->read_path)
		c->nrouter = pp_local_addrs(c->router_ips, 8);
	if (f->site->has_lan_subnet)
		c->lan = f->site->lan_subnet;
	else if (pp_iface_addr(f->lan_if, &lan, &pfx) == 0 && pfx)
		c->lan = (struct pp_cidr){ .addr = lan & (~0u << (32 - pfx)), .len = pfx };
}

static void
table_checks(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	const struct pp_mapping *m = f->m;
	char when[20];
	f->expired = pp_mapping_expired(m, time(NULL));
	pp_check_add(r, o, "enabled", m->enabled ? PP_CHECK_PASS : PP_CHECK_FAIL, "mapping %s is %s",
	             m->name, m->enabled ? "enabled" : "disabled (enabled = no)");
	if (m->expires) {
		pp_format_datetime(m->expires, when);
		pp_check_add(r, o, "expires", f->expired ? PP_CHECK_FAIL : PP_CHECK_PASS, "%s %s",
		             f->expired ? "expired at" : "expires at", when);
	}
}

static void
outside_whoami(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o)
{
	struct pp_error e;
	if (pp_reflector_whoami(o->reflector_url, o->token, &r->reflect, &e) < 0) {
		pp_check_add(r, o, "outside_address", PP_CHECK_FAIL, "%s", e.msg);
		return;
	}
	pp_parse_ipv4(r->reflect.seen_ip, &f->seen_ip);
	pp_check_add(r, o, "outside_address", PP_CHECK_INFO, "the reflector sees this site as %s",
	             r->reflect.seen_ip);
}

/* Drive the reflector's job while the capture watches both sides; its result. */
static int
reflect_wait(struct run *x, struct pp_reflect_job *j, struct pp_reflect_result *res, struct pp_error *e)
{
	int fds[2] = { -1, -1 };
	if (!j)
		return -1;
	if (x->cap)
		pp_capture_fds(x->cap, fds);
	double end = now_s() + 15;
	while (!pp_reflect_step(j, fds, 2, 100) && now_s() < end)
		drain(x);
	return pp_reflect_finish(j, res, e);
}

/* Ask the reflector to connect back over proto. */
static int
reflect_run(struct run *x, const char *proto, struct pp_reflect_result *res, struct pp_error *e)
{
	return reflect_wait(x, pp_reflect_start(x->o->reflector_url, x->o->token, proto, x->ctx.pub_lo,
	                                        3000, e), res, e);
}

/* The IPv6 way in from outside: the reflector (reflector6_url) connects to the server's IPv6
 * address. Its rule (a target inside the requester's /64) is met by asking from the router's
 * own address on the server's network; the capture notes where the attempts got to. */
static void
outside6_check(struct run *x, struct pp_facts *f)
{
	const struct pp_mapping *m = f->m;
	const char *proto = m->proto & PP_TCP ? "tcp" : "udp";
	struct pp_reflect_result *res = &x->r->reflect6;
	struct pp_error e;
	if (!x->o->reflector6_url || !f->v6_addr[0] || pp_parse_ipv6(f->v6_addr, x->t6) < 0)
		return;
	if (!pp_router_addr6(x->t6, true, f->v6_src)) {
		pp_check_add(x->r, x->o, "outside6", PP_CHECK_SKIP, "not tested: the router has no global address "
		             "in %s's /64, and the reflector tests only the requester's own /64", f->v6_addr);
		return;
	}
	x->port6 = m->in_lo;
	x->watch6 = true;
	int rc = reflect_wait(x, pp_reflect_start_from(x->o->reflector6_url, x->o->token, proto, m->in_lo,
	                                               f->v6_addr, f->v6_src, 3000, &e), res, &e);
	capture_for(x, 300);   /* the last packets of the attempt (a late answer) */
	x->watch6 = false;
	if (rc < 0) {
		pp_check_add(x->r, x->o, "outside6", PP_CHECK_FAIL, "%s", e.msg);
		return;
	}
	f->outside6_tested = x->r->outside6_tested = true;
	f->outside6_ok = !strcmp(res->result, "connected") || !strcmp(res->result, "reply");
	snprintf(f->outside6_res, sizeof f->outside6_res, "%s", res->result);
	snprintf(f->outside6_from, sizeof f->outside6_from, "%s", res->from_ip);
	pp_check_add(x->r, x->o, "outside6", f->outside6_ok ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "reflector %s %s to [%s]:%u (asked from %s): %s (%d ms)%s", res->from_ip, proto, f->v6_addr,
	             m->in_lo, f->v6_src, res->result, res->ms, !x->cap ? "" : f->v6_lan_reply ?
	             "; seen on the WAN, on the LAN, and the server's answer" : f->v6_lan_out ?
	             "; seen on the WAN and on the LAN, no answer from the server" : f->v6_wan_in ?
	             "; seen on the WAN, never on the LAN" : "; never seen on the WAN");
}

/* A relayed mapping from outside: the reflector, running on the edge, connects to the edge's
 * own public address and port, which the edge's DNAT (nat OUTPUT too) sends through the tunnel
 * to this site: the whole relayed path but the client's first hop. A reflector elsewhere
 * refuses (it connects only to the requester or itself): the test is skipped and said so. */
static void
relay_outside_check(struct run *x, struct pp_facts *f)
{
	const struct pp_mapping *m = f->m;
	const char *proto = m->proto == PP_UDP ? "udp" : "tcp";
	char host[256], ip[16];
	struct pp_error e;
	snprintf(host, sizeof host, "%.*s", (int)strcspn(f->relay_edge, ":"), f->relay_edge);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL) {
		pp_check_add(x->r, x->o, "outside", PP_CHECK_SKIP, "not tested: the edge %s does not resolve", host);
		return;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, ip, sizeof ip);
	freeaddrinfo(ai);
	struct pp_reflect_job *j = pp_reflect_start_ip(x->o->reflector_url, x->o->token, proto, m->pub_lo, ip,
	                                               3000, &e);
	struct pp_reflect_result res;
	int fds[2] = { -1, -1 };
	if (j && x->cap)
		pp_capture_fds(x->cap, fds);
	double end = now_s() + 15;
	while (j && !pp_reflect_step(j, fds, 2, 100) && now_s() < end)
		drain(x);
	if (!j || pp_reflect_finish(j, &res, &e) < 0) {
		pp_check_add(x->r, x->o, "outside", PP_CHECK_SKIP, "not tested through the edge %s: %s (run portpilot "
		             "reflector on the edge, with --token-file, to test the relayed path from outside)", ip, e.msg);
		return;
	}
	bool ok = !strcmp(res.result, "connected") || !strcmp(res.result, "reply");
	f->relay_outside = ok ? PP_YES : PP_NO;
	snprintf(f->relay_outside_res, sizeof f->relay_outside_res, "%s", res.result);
	pp_check_add(x->r, x->o, "outside", ok ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "reflector on the edge %s %s to its port %u, through the tunnel to this site: %s (%d ms)", ip,
	             proto, m->pub_lo, res.result, res.ms);
}

static void
outside_check(struct run *x, struct pp_facts *f)
{
	const struct pp_mapping *m = f->m;
	struct pp_error e;
	const char *proto = m->proto == PP_UDP ? "udp" : "tcp";
	struct pp_reflect_result res;
	char seen[46];
	snprintf(seen, sizeof seen, "%s", x->r->reflect.seen_ip);
	if (reflect_run(x, proto, &res, &e) < 0) {
		pp_check_add(x->r, x->o, "outside", PP_CHECK_FAIL, "%s", e.msg);
		return;
	}
	x->r->reflect = res;
	if (*seen)
		snprintf(x->r->reflect.seen_ip, sizeof x->r->reflect.seen_ip, "%s", seen);
	f->outside_tested = x->r->outside_tested = true;
	f->outside_ok = !strcmp(res.result, "connected") || !strcmp(res.result, "reply");
	pp_parse_ipv4(res.from_ip, &f->reflector_ip);
	pp_check_add(x->r, x->o, "outside", f->outside_ok ? PP_CHECK_PASS : PP_CHECK_FAIL,
	             "reflector %s %s to %s port %u: %s (%d ms)", res.from_ip, proto,
	             *seen ? seen : "this site", m->pub_lo, res.result, res.ms);
}

/* protocol = both: the UDP connect-back too (reply, ICMP refused/unreachable, or silence). */
static void
outside_check_udp(struct run *x, struct pp_facts *f)
{
	struct pp_error e;
	struct pp_reflect_result *res = &x->r->reflect_udp;
	if (reflect_run(x, "udp", res, &e) < 0) {
		pp_check_add(x->r, x->o, "outside_udp", PP_CHECK_FAIL, "%s", e.msg);
		return;
	}
	f->outside_udp_tested = true;
	f->outside_udp_ok = !strcmp(res->result, "reply");
	snprintf(f->outside_udp, sizeof f->outside_udp, "%s", res->result);
	if (!f->reflector_ip)
		pp_parse_ipv4(res->from_ip, &f->reflector_ip);
	pp_check_add(x->r, x->o, "outside_udp", f->outside_udp_ok ? PP_CHECK_PASS :
	             !strcmp(res->result, "no_reply") ? PP_CHECK_INFO : PP_CHECK_FAIL,
	             "reflector %s udp to port %u: %s (%d ms)%s", res->from_ip, f->m->pub_lo, res->result,
	             res->ms, !strcmp(res->result, "no_reply") ? ": no answer came back" : "");
}

/* A replay without its file is an error; a live probe without capture still runs its checks. */
static int
open_capture(struct run *x, struct pp_facts *f, struct pp_error *err)
{
	struct pp_capture_opts co = { .wan_if = f->wan_if, .lan_if = f->lan_if,
	                              .read_path = x->o->read_path, .write_path = x->o->write_path };
	struct pp_error e;
	if (pp_capture_open(&co, &x->ctx, &x->cap, &e) < 0) {
		if (x->o->read_path || x->o->write_path)
			return pp_error_set(err, "%s", e.msg);
		pp_check_add(x->r, x->o, "capture", PP_CHECK_SKIP, "%s", e.msg);
	} else if (x->o->write_path && !x->o->read_path) {
		/* Say what the file holds: who talked to whom, never what they said. */
		pp_check_add(x->r, x->o, "capture", PP_CHECK_INFO, "capturing on WAN and LAN; saving to %s "
		             "(mode 0600): packet headers only, addresses and ports of the traffic seen, "
		             "payload cut", x->o->write_path);
	} else {
		pp_check_add(x->r, x->o, "capture", PP_CHECK_INFO, "%s",
		             x->o->read_path ? "replaying a saved capture" : "capturing on WAN and LAN");
	}
	if (x->o->drop_privs && !x->o->read_path) {
		if (pp_drop_privileges(&e) < 0)
			pp_check_add(x->r, x->o, "privileges", PP_CHECK_FAIL, "%s: the probe runs on with "
			             "root's rights", e.msg);
		else if (getuid() != 0)
			pp_check_add(x->r, x->o, "privileges", PP_CHECK_INFO,
			             "capture handles open; running on as uid %u", (unsigned)getuid());
	}
	return 0;
}

int
pp_probe_run(const struct pp_probe_opts *o, struct pp_probe_result **out, struct pp_error *err)
{
	const struct pp_mapping *m = pp_table_find(o->table, o->name);
	double t0 = now_s();
	*out = NULL;
	if (!m)
		return pp_error_set(err, "%s: no mapping named '%s' (portpilot list shows them)",
		                    o->table->path ? o->table->path : "table", o->name);
	struct pp_probe_result *r = pp_xcalloc(1, sizeof *r);
	struct pp_facts f = { .m = m, .site = &o->table->site, .trace = &r->trace };
	struct run x = { .o = o, .r = r, .f = &f };
	r->mapping = pp_xstrdup(m->name);
	table_checks(&f, r, o);
	if (!o->read_path) {
		pp_facts_kernel(&f, r, o);
		pp_facts_ip6(&f, r, o);
	}
	pp_facts_expected(&f, r, o);
	f.outside_requested = o->reflector_url && !o->read_path;
	if (f.outside_requested)
		outside_whoami(&f, r, o);
	trace_ctx(&x, &f);
	/* Before the drop: the conntrack table is root's to open, anyone's to re-read. */
	int ctfd = o->read_path ? -1 : pp_conntrack_open();
	struct pp_svc_socks socks = { { -1, -1 }, -1 };
	if (!o->read_path)
		pp_svc_socks_open(&socks, &f);
	if (open_capture(&x, &f, err) < 0) {
		pp_svc_socks_close(&socks);
		if (ctfd >= 0)
			close(ctfd);
		pp_probe_result_free(r);
		return -1;
	}
	f.captured = x.cap != NULL;
	if (o->read_path) {
		while (x.cap && pp_capture_dispatch(x.cap, on_pkt, &x) >= 0)
			;
	} else {
		/* ipv6 = only: no IPv4 address to test (pp_facts_ip6 tested the IPv6 one). */
		if (m->ipv6 != PP_V6_ONLY)
			pp_facts_service(&f, r, o, &socks);
		pp_svc_socks_close(&socks);
		drain(&x);
		/* Through the relay the public face is the edge: the reflector connects back to the address
		   it sees (the carrier's), which says nothing of the relayed path. */
		bool via_relay = f.relay && f.relay_link == PP_YES && f.relay_handshake_age >= 0 &&
		                 f.relay_handshake_age < PP_WG_ALIVE_S;
		if (m->ipv6 == PP_V6_ONLY) {
			f.outside_requested = false;   /* the reflector tests IPv4 only so far */
		} else if (o->reflector_url && via_relay) {
			/* The reflector would connect to the carrier's address, which says nothing of the
			 * relayed path: it is asked to connect to the edge instead. */
			relay_outside_check(&x, &f);
		} else {
			if (o->reflector_url)
				outside_check(&x, &f);
			if (o->reflector_url && m->proto == PP_BOTH)
				outside_check_udp(&x, &f);
		}
		outside6_check(&x, &f);
		capture_for(&x, o->watch_seconds > 0 ? o->watch_seconds * 1000 : 300);
		pp_facts_conntrack(&f, r, o, &x.ctx, ctfd);
	}
	if (ctfd >= 0)
		close(ctfd);
	f.captured = x.cap != NULL;
	pp_capture_close(x.cap);
	f.watched_s = o->read_path ? 0 : o->watch_seconds;
	pp_trace_sort(&r->trace);
	pp_diagnose(&f, r);
	r->elapsed_s = now_s() - t0;
	*out = r;
	return 0;
}
