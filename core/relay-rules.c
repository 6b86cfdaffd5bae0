/* The relay's own rules and routes: PP-RELAY* (mangle, site) and PPEDGE-* (edge), one restore each. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

/*
 * The edge's chains live in nat and filter, where every chain named PP-* is
 * the apply engine's (rules-ruleset.c): an apply on the edge host would drop
 * them. PPEDGE- keeps them apart; the site's PP-RELAY* are in mangle, which
 * the engine does not own.
 */
#define EDGE_PRE "PPEDGE-PRE"
#define EDGE_FWD "PPEDGE-FWD"
#define EDGE_IN  "PPEDGE-IN"
#define EDGE_MSS "PPEDGE-MSS"
#define EDGE_OUT "PPEDGE-OUT"

/*
 * The tunnel's MTU (1420, kernel WireGuard's and wireguard-go's) is below the LAN's and the
 * internet's 1500: TCP through it must not count on path MTU discovery (ICMP is often
 * filtered on the way), so the SYNs in either direction announce at most 1380.
 */
static void
mss(struct pp_buf *b, const char *chain, const char *ifname)
{
	static const char *const dir[] = { "-i", "-o" };
	for (int k = 0; k < 2; k++)
		pp_buf_printf(b, "-A %s %s %s -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1381:65535 "
		              "-j TCPMSS --set-mss 1380\n", chain, dir[k], ifname);
}

struct span {
	unsigned lo, hi;
};

static int
cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort spans and merge the overlapping and adjacent ones; returns how many are left. */
static size_t
merge(struct span *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_span);
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		if (m && v[k].lo <= v[m - 1].hi + 1) {
			if (v[k].hi > v[m - 1].hi)
				v[m - 1].hi = v[k].hi;
		} else {
			v[m++] = v[k];
		}
	}
	return m;
}

/* Rules "HEAD PORTS TAIL", 15 multiport slots each (a range takes two). */
static void
pack(struct pp_buf *b, const char *head, const struct span *v, size_t m, const char *tail)
{
	for (size_t k = 0; k < m;) {
		pp_buf_addstr(b, head);
		for (int slots = 0; k < m && slots + (v[k].lo != v[k].hi) < 15; k++) {
			pp_buf_printf(b, slots ? ",%u" : "%u", v[k].lo);
			if (v[k].hi != v[k].lo)
				pp_buf_printf(b, ":%u", v[k].hi);
			slots += 1 + (v[k].lo != v[k].hi);
		}
		pp_buf_addstr(b, tail);
	}
}

/*
 * The relayed public ports of one protocol as few rules as they fit in: 20,000 one-port
 * mappings were 20,000 rules a new connection from the tunnel walked.
 */
static void
accept_ports(struct pp_buf *b, const struct pp_table *t, const struct pp_relay_site *r, time_t now,
             enum pp_proto proto)
{
	struct span *v = pp_xcalloc(t->n + 1, sizeof *v);
	size_t n = 0;
	for (size_t k = 0; k < t->n; k++) {
		const struct pp_mapping *mp = &t->maps[k];
		if (pp_mapping_active(mp, now) && pp_relay_maps(r, mp) && (mp->proto & proto))
			v[n++] = (struct span){ mp->pub_lo, mp->pub_hi };
	}
	char *head = pp_xasprintf("-A PP-RELAY-IN -p %s -m multiport --dports ", proto == PP_UDP ? "udp" : "tcp");
	pack(b, head, v, merge(v, n), " -m addrtype --dst-type LOCAL -m conntrack --ctstate NEW -g PP-RELAY-ACC\n");
	free(head);
	free(v);
}

/*
 * The site: new connections from the tunnel only to the public ports of the
 * mappings the relay carries (whatever the edge sends), marked; their replies
 * (from the LAN, or the router itself) get the fwmark, and the policy rule
 * routes them back into the tunnel, so the client's address needs no SNAT.
 * Packets of other interfaces meet two rules, whatever the table's size.
 */
char *
pp_relay_rules(const struct pp_table *t, const struct pp_relay_site *r, time_t now)
{
	struct pp_buf b = { 0 };
	const char *i = r->ifname, *m = PP_RELAY_MARK;
	pp_buf_addstr(&b, "*mangle\n:PP-RELAY - [0:0]\n:PP-RELAY-IN - [0:0]\n:PP-RELAY-ACC - [0:0]\n"
	              ":PP-RELAY-OUT - [0:0]\n:PP-RELAY-MSS - [0:0]\n");
	pp_buf_printf(&b, "-A PP-RELAY -i %s -g PP-RELAY-IN\n", i);
	/* Only the reply direction: an ICMP error the router sends toward the server (a too-big
	   reply) belongs to the connection too, and must go to the LAN, not into the tunnel. */
	pp_buf_printf(&b, "-A PP-RELAY -m connmark --mark %s/%s -m conntrack --ctdir REPLY -j MARK --set-xmark %s/%s\n",
	              m, m, m, m);
	pp_buf_printf(&b, "-A PP-RELAY-IN -m connmark --mark %s/%s -j RETURN\n", m, m);
	accept_ports(&b, t, r, now, PP_TCP);
	accept_ports(&b, t, r, now, PP_UDP);
	pp_buf_addstr(&b, "-A PP-RELAY-IN -j DROP\n");
	pp_buf_printf(&b, "-A PP-RELAY-ACC -j CONNMARK --set-xmark %s/%s\n", m, m);
	pp_buf_printf(&b, "-A PP-RELAY-OUT -m connmark --mark %s/%s -m conntrack --ctdir REPLY -j MARK --set-xmark "
	              "%s/%s\n", m, m, m, m);
	mss(&b, "PP-RELAY-MSS", i);
	pp_buf_addstr(&b, "COMMIT\n");
	return b.data;
}

/*
 * The edge faces the internet: it DNATs only the listed ports of the listed
 * sites, to that site's tunnel address (the client's source untouched), and
 * forwards only those flows: nothing from one tunnel to another, nothing
 * from a tunnel to the internet but the replies of those flows, nothing from
 * a tunnel to the edge itself.
 */
char *
pp_edge_rules(const struct pp_edge_conf *c)
{
	struct pp_buf b = { 0 };
	const char *w = c->ifname, *m = PP_RELAY_MARK;
	char net[16];
	uint32_t mask = ~0u << (32 - c->prefix);
	pp_format_ipv4(c->address & mask, net);
	pp_buf_addstr(&b, "*nat\n:" EDGE_PRE " - [0:0]\n:" EDGE_OUT " - [0:0]\n");
	for (size_t s = 0; s < c->n; s++)
		pp_buf_printf(&b, ":PPEDGE-S%zu - [0:0]\n", s);
	pp_buf_printf(&b, "-A " EDGE_PRE " -i %s -j RETURN\n", w);
	/* A tunnel address as the source from outside is forged: it would steer a reply into a tunnel. */
	pp_buf_printf(&b, "-A " EDGE_PRE " -s %s/%u -j RETURN\n", net, c->prefix);
	if (*c->public_if)
		pp_buf_printf(&b, "-A " EDGE_PRE " ! -i %s -j RETURN\n", c->public_if);
	/* The edge's own connections to its public address take the same way (nat OUTPUT): a
	 * reflector on the edge can test a site's relayed path from outside. Loopback and the
	 * tunnel's own addresses stay the edge's. */
	pp_buf_addstr(&b, "-A " EDGE_OUT " -d 127.0.0.0/8 -j RETURN\n");
	pp_buf_printf(&b, "-A " EDGE_OUT " -d %s/%u -j RETURN\n", net, c->prefix);
	for (size_t s = 0; s < c->n; s++) {
		const struct pp_edge_site *st = &c->sites[s];
		char *tag = pp_rule_tag(st->name);
		/* A few multiport rules a site, not one a port: every packet to the edge walks them. */
		struct span *v = pp_xcalloc(st->nports + 1, sizeof *v);
		for (int k = 0; k < 2; k++) {
			enum pp_proto pr = k ? PP_UDP : PP_TCP;
			size_t n = 0;
			for (size_t p = 0; p < st->nports; p++)
				if (st->ports[p].proto == pr)
					v[n++] = (struct span){ st->ports[p].lo, st->ports[p].hi };
			size_t nv = merge(v, n);
			char *tail = pp_xasprintf(" -m comment --comment \"%s\" -g PPEDGE-S%zu\n", tag, s);
			for (int o = 0; o < 2; o++) {
				char *head = pp_xasprintf("-A %s -m addrtype --dst-type LOCAL -p %s -m multiport --dports ",
				                          o ? EDGE_OUT : EDGE_PRE, k ? "udp" : "tcp");
				pack(&b, head, v, nv, tail);
				free(head);
			}
			free(tail);
		}
		free(v);
		char a[16];
		pp_format_ipv4(st->address, a);
		pp_buf_printf(&b, "-A PPEDGE-S%zu -j CONNMARK --set-xmark %s/%s\n", s, m, m);
		pp_buf_printf(&b, "-A PPEDGE-S%zu -m comment --comment \"%s\" -j DNAT --to-destination %s\n", s, tag, a);
		free(tag);
	}
	pp_buf_addstr(&b, "COMMIT\n*filter\n:" EDGE_FWD " - [0:0]\n:" EDGE_IN " - [0:0]\n");
	pp_buf_printf(&b, "-A " EDGE_FWD " -i %s -o %s -j DROP\n", w, w);
	pp_buf_printf(&b, "-A " EDGE_FWD " -o %s -m connmark --mark %s/%s -m conntrack --ctstate DNAT --ctdir "
	              "ORIGINAL -j ACCEPT\n", w, m, m);
	pp_buf_printf(&b, "-A " EDGE_FWD " -i %s -m connmark --mark %s/%s -m conntrack --ctstate DNAT --ctdir "
	              "REPLY -j ACCEPT\n", w, m, m);
	pp_buf_printf(&b, "-A " EDGE_FWD " -i %s -j DROP\n-A " EDGE_FWD " -o %s -j DROP\n", w, w);
	if (!c->forward_other)
		pp_buf_addstr(&b, "-A " EDGE_FWD " -j DROP\n");
	pp_buf_printf(&b, "-A " EDGE_IN " -i %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n", w);
	pp_buf_printf(&b, "-A " EDGE_IN " -i %s -j DROP\n", w);
	pp_buf_addstr(&b, "COMMIT\n*mangle\n:" EDGE_MSS " - [0:0]\n");
	mss(&b, EDGE_MSS, w);
	pp_buf_addstr(&b, "COMMIT\n");
	return b.data;
}

/* ---- applying ---- */

static int
run(char *const argv[], struct pp_error *err)
{
	char *e = NULL;
	int rc = pp_run(argv, NULL, NULL, &e);
	if (rc != 0)
		pp_error_set(err, "%s %s %s failed: %.300s", argv[0], argv[1] ? argv[1] : "",
		             argv[1] && argv[2] ? argv[2] : "", e && *e ? pp_trim(e) : "cannot start it");
	free(e);
	return rc == 0 ? 0 : -1;
}

struct hook {
	const char *table, *chain, *target;
};

static bool
hook_present(const struct pp_ipt *b, const struct hook *h)
{
	char *argv[] = { (char *)b->cmd, "-w", "-t", (char *)h->table, "-C", (char *)h->chain, "-j",
	                 (char *)h->target, NULL };
	return pp_run(argv, NULL, NULL, NULL) == 0;
}

/*
 * One transaction: the chains as text (declaring a chain empties it), plus
 * each hook that is missing, inserted first in its chain: a rule of the
 * host's own (an accept) must not come before the edge's drops.
 */
static int
restore(const struct pp_ipt *b, const char *rules, const struct hook *hooks, size_t nh, bool up,
        struct pp_error *err)
{
	struct pp_buf t = { 0 };
	if (up) {
		/* Hooks go in each table's section, before its COMMIT. */
		const char *p = rules;
		while (*p) {
			const char *commit = strstr(p, "COMMIT\n");
			if (!commit)
				break;
			const char *star = p;
			while (*star && *star != '*')
				star++;
			size_t tl = strcspn(star + 1, "\n");
			pp_buf_add(&t, p, (size_t)(commit - p));
			for (size_t i = 0; i < nh; i++)
				if (strlen(hooks[i].table) == tl && strncmp(star + 1, hooks[i].table, tl) == 0 &&
				    !hook_present(b, &hooks[i]))
					pp_buf_printf(&t, "-I %s 1 -j %s\n", hooks[i].chain, hooks[i].target);
			pp_buf_addstr(&t, "COMMIT\n");
			p = commit + 7;
		}
	} else {
		/* Down: the hooks out, then the chains emptied and removed. */
		const char *tables[4];
		size_t nt = 0;
		for (size_t i = 0; i < nh; i++) {
			bool seen = false;
			for (size_t j = 0; j < nt; j++)
				seen |= strcmp(tables[j], hooks[i].table) == 0;
			if (!seen)
				tables[nt++] = hooks[i].table;
		}
		for (size_t j = 0; j < nt; j++) {
			pp_buf_printf(&t, "*%s\n", tables[j]);
			for (size_t i = 0; i < nh; i++)
				if (strcmp(hooks[i].table, tables[j]) == 0 && hook_present(b, &hooks[i]))
					pp_buf_printf(&t, "-D %s -j %s\n", hooks[i].chain, hooks[i].target);
			/* The chains this side ever made, from the rules text's declarations. */
			char *sect = pp_xasprintf("*%s\n", tables[j]);
			const char *s = strstr(rules, sect);
			free(sect);
			for (const char *l = s; l && *l && strncmp(l, "COMMIT", 6) != 0; l = strchr(l, '\n') + 1) {
				if (*l == ':')
					pp_buf_printf(&t, "%.*s\n", (int)strcspn(l, "\n"), l);
			}
			for (const char *l = s; l && *l && strncmp(l, "COMMIT", 6) != 0; l = strchr(l, '\n') + 1) {
				if (*l == ':')
					pp_buf_printf(&t, "-X %.*s\n", (int)strcspn(l + 1, " \n"), l + 1);
			}
			pp_buf_addstr(&t, "COMMIT\n");
		}
	}
	char *argv[] = { (char *)b->restore, "-w", "--noflush", NULL };
	char *e = NULL;
	int rc = pp_run(argv, t.data ? t.data : "", NULL, &e);
	if (rc != 0)
		pp_error_set(err, "%s --noflush failed: %.400s", b->restore, e && *e ? pp_trim(e) : "cannot start it");
	free(e);
	pp_buf_free(&t);
	return rc == 0 ? 0 : -1;
}

static int
sysctl(const char *path, const char *value, struct pp_error *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pp_write_all(fd, value, strlen(value)) < 0) {
		pp_error_set(err, "%s: cannot write %s: %s", path, value, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static const struct hook site_hooks[] = {
	{ "mangle", "PREROUTING", "PP-RELAY" },
	{ "mangle", "OUTPUT", "PP-RELAY-OUT" },
	{ "mangle", "FORWARD", "PP-RELAY-MSS" },
};

/* The site's policy routing: the fwmark's replies look up a table whose default route is the tunnel. */
static void
routing(const char *ifname, bool up, struct pp_error *err, int *rc)
{
	char *rule_del[] = { "ip", "-4", "rule", "del", "pref", PP_RELAY_TABLE, NULL };
	while (pp_run(rule_del, NULL, NULL, NULL) == 0)
		;
	char *flush[] = { "ip", "-4", "route", "flush", "table", PP_RELAY_TABLE, NULL };
	pp_run(flush, NULL, NULL, NULL);
	if (!up)
		return;
	char *route[] = { "ip", "-4", "route", "replace", "default", "dev", (char *)ifname, "table", PP_RELAY_TABLE,
	                  NULL };
	char *rule[] = { "ip", "-4", "rule", "add", "pref", PP_RELAY_TABLE, "fwmark", PP_RELAY_MARK "/" PP_RELAY_MARK,
	                 "lookup", PP_RELAY_TABLE, NULL };
	if (*rc == 0 && (run(route, err) < 0 || run(rule, err) < 0))
		*rc = -1;
}

int
pp_relay_up(const struct pp_table *t, const char *state_dir, struct pp_error *err)
{
	struct pp_relay_site r;
	if (pp_relay_site_parse(t, &r, err) < 0)
		return -1;
	if (!r.on) {
		pp_relay_site_free(&r);
		return pp_error_set(err, "%s: [site] has no relay: add relay = EDGE:PORT, relay_public_key and "
		                    "relay_address (the edge's edge.ini names this site's address)",
		                    t->path ? t->path : "table");
	}
	char pub[PP_WG_KEY_LEN + 1], ka[16], ep[300], addr[24];
	bool created, userspace;
	struct pp_ipt b;
	int rc = 0;
	/* The rules first: the tunnel never exists without its walls (they name it, it need not exist). */
	char *rules = pp_relay_rules(t, &r, time(NULL));
	if (pp_wg_key_ensure(state_dir, "relay.key", pub, &created, err) < 0 || pp_ipt_open(&b, err) < 0 ||
	    restore(&b, rules, site_hooks, sizeof site_hooks / sizeof *site_hooks, true, err) < 0 ||
	    pp_wg_link_up(r.ifname, &userspace, err) < 0) {
		free(rules);
		pp_relay_site_free(&r);
		return -1;
	}
	free(rules);
	char *key = pp_xasprintf("%s/relay.key", state_dir);
	snprintf(ka, sizeof ka, "%d", r.keepalive);
	snprintf(ep, sizeof ep, "%s:%u", r.host, r.port);
	pp_format_ipv4(r.address, addr);
	strcat(addr, "/32");
	/* Every address through the tunnel: the replies go to any client on the internet. */
	char *wg[] = { "wg", "set", r.ifname, "private-key", key, "peer", r.edge_key, "endpoint", ep,
	               "allowed-ips", "0.0.0.0/0", "persistent-keepalive", ka, NULL };
	char *ad[] = { "ip", "addr", "replace", addr, "dev", r.ifname, NULL };
	char *upl[] = { "ip", "link", "set", r.ifname, "up", NULL };
	if (run(wg, err) < 0 || run(ad, err) < 0 || run(upl, err) < 0)
		rc = -1;
	/* An edge key the table no longer names (the edge was replaced): out. */
	struct pp_wg_peer *v = NULL;
	size_t n = 0;
	if (rc == 0 && pp_wg_peers(r.ifname, &v, &n, err) < 0)
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *rm[] = { "wg", "set", r.ifname, "peer", v[i].key, "remove", NULL };
		if (strcmp(v[i].key, r.edge_key) != 0)
			rc = run(rm, err);
	}
	free(v);
	/* Clients' addresses arrive from the tunnel but the main table routes them out of the WAN:
	   a strict reverse-path filter would drop them, so the tunnel's is loose. */
	char *rp = pp_xasprintf("/proc/sys/net/ipv4/conf/%s/rp_filter", r.ifname);
	if (rc == 0 && sysctl(rp, "2", err) < 0)
		rc = -1;
	free(rp);
	routing(r.ifname, true, err, &rc);
	free(key);
	pp_relay_site_free(&r);
	return rc;
}

int
pp_relay_down(const struct pp_table *t, struct pp_error *err)
{
	struct pp_relay_site r;
	struct pp_ipt b;
	if (pp_relay_site_parse(t, &r, err) < 0)
		return -1;
	const char *ifname = r.on ? r.ifname : PP_RELAY_IF;
	int rc = 0;
	if (pp_ipt_open(&b, err) < 0) {
		pp_relay_site_free(&r);
		return -1;
	}
	struct pp_relay_site none = { .on = false };
	snprintf(none.ifname, sizeof none.ifname, "%s", ifname);
	char *rules = pp_relay_rules(t, &none, 0);
	if (restore(&b, rules, site_hooks, sizeof site_hooks / sizeof *site_hooks, false, err) < 0)
		rc = -1;
	free(rules);
	routing(ifname, false, err, &rc);
	if (pp_wg_link_down(ifname, rc == 0 ? err : &(struct pp_error){ 0 }) < 0)
		rc = -1;
	pp_relay_site_free(&r);
	return rc;
}

static const struct hook edge_hooks[] = {
	{ "nat", "PREROUTING", EDGE_PRE },
	{ "filter", "FORWARD", EDGE_FWD },
	{ "filter", "INPUT", EDGE_IN },
	{ "mangle", "FORWARD", EDGE_MSS },
	{ "nat", "OUTPUT", EDGE_OUT },
};

/* Peers on the interface that edge.ini no longer names: removed, so a dropped site is out at once. */
static int
prune_peers(const struct pp_edge_conf *c, struct pp_error *err)
{
	struct pp_wg_peer *v;
	size_t n;
	if (pp_wg_peers(c->ifname, &v, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool kept = false;
		for (size_t s = 0; s < c->n; s++)
			kept |= strcmp(c->sites[s].key, v[i].key) == 0;
		char *rm[] = { "wg", "set", (char *)c->ifname, "peer", v[i].key, "remove", NULL };
		if (!kept)
			rc = run(rm, err);
	}
	free(v);
	return rc;
}

/* PPEDGE-S<k> chains of sites an older edge.ini had (k >= today's count): nothing jumps to them now. */
static int
drop_stale_sites(const struct pp_ipt *b, const struct pp_edge_conf *c, struct pp_error *err)
{
	char *out = NULL;
	char *argv[] = { (char *)b->save, "-t", "nat", NULL };
	if (pp_run(argv, NULL, &out, NULL) != 0) {
		free(out);
		return 0;
	}
	struct pp_buf t = { 0 };
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		char *end;
		if (strncmp(l, ":PPEDGE-S", 9) != 0)
			continue;
		unsigned long k = strtoul(l + 9, &end, 10);
		if (end != l + 9 && *end == ' ' && k >= c->n)
			pp_buf_printf(&t, ":PPEDGE-S%lu - [0:0]\n-X PPEDGE-S%lu\n", k, k);
	}
	free(out);
	int rc = 0;
	if (t.data) {
		char *text = pp_xasprintf("*nat\n%sCOMMIT\n", t.data);
		char *rs[] = { (char *)b->restore, "-w", "--noflush", NULL };
		char *e = NULL;
		if (pp_run(rs, text, NULL, &e) != 0)
			rc = pp_error_set(err, "%s: cannot remove the chains of sites no longer configured: %.300s",
			                  b->restore, e ? pp_trim(e) : "");
		free(e);
		free(text);
	}
	pp_buf_free(&t);
	return rc;
}

int
pp_edge_up(const struct pp_edge_conf *c, const char *state_dir, struct pp_error *err)
{
	char pub[PP_WG_KEY_LEN + 1], lp[8], addr[24];
	bool created, userspace;
	struct pp_ipt b;
	if (pp_wg_key_ensure(state_dir, "edge.key", pub, &created, err) < 0 || pp_ipt_open(&b, err) < 0)
		return -1;
	/* The rules first: the tunnel never exists without its walls. */
	char *rules = pp_edge_rules(c);
	int rc = restore(&b, rules, edge_hooks, sizeof edge_hooks / sizeof *edge_hooks, true, err);
	free(rules);
	if (rc < 0 || pp_wg_link_up(c->ifname, &userspace, err) < 0)
		return -1;
	char *key = pp_xasprintf("%s/edge.key", state_dir);
	snprintf(lp, sizeof lp, "%u", c->listen_port);
	pp_format_ipv4(c->address, addr);
	snprintf(addr + strlen(addr), 8, "/%u", c->prefix);
	char *wg[] = { "wg", "set", (char *)c->ifname, "private-key", key, "listen-port", lp, NULL };
	char *ad[] = { "ip", "addr", "replace", addr, "dev", (char *)c->ifname, NULL };
	char *upl[] = { "ip", "link", "set", (char *)c->ifname, "up", NULL };
	if (run(wg, err) < 0 || run(ad, err) < 0 || run(upl, err) < 0)
		rc = -1;
	/* Each site's key may send only from its own tunnel address: WireGuard's cryptokey routing
	   drops anything else, so one site cannot pose as another. */
	/* All peers in one `wg set` (a process per site cost 1000 sites 1.5 s). */
	if (rc == 0 && c->n) {
		char **peer = pp_xcalloc(3 + 4 * c->n + 1, sizeof *peer), (*a)[24] = pp_xcalloc(c->n, sizeof *a);
		size_t k = 0;
		peer[k++] = "wg", peer[k++] = "set", peer[k++] = (char *)c->ifname;
		for (size_t s = 0; s < c->n; s++) {
			pp_format_ipv4(c->sites[s].address, a[s]);
			strcat(a[s], "/32");
			peer[k++] = "peer", peer[k++] = (char *)c->sites[s].key, peer[k++] = "allowed-ips", peer[k++] = a[s];
		}
		rc = run(peer, err);
		free(a);
		free(peer);
	}
	if (rc == 0)
		rc = prune_peers(c, err);
	if (rc == 0)
		rc = sysctl("/proc/sys/net/ipv4/ip_forward", "1", err);
	if (rc == 0)
		rc = drop_stale_sites(&b, c, err);
	free(key);
	return rc;
}

int
pp_edge_down(const struct pp_edge_conf *c, struct pp_error *err)
{
	struct pp_ipt b;
	if (pp_ipt_open(&b, err) < 0)
		return -1;
	/* The tunnel first, the walls last. */
	int rc = pp_wg_link_down(c->ifname, err);
	char *rules = pp_edge_rules(c);
	if (restore(&b, rules, edge_hooks, sizeof edge_hooks / sizeof *edge_hooks, false, rc == 0 ? err : &(struct pp_error){ 0 }) < 0)
		rc = -1;
	free(rules);
	return rc;
}

bool
pp_relay_in_place(const char *ifname)
{
	struct pp_ipt b;
	struct pp_error e;
	if (pp_ipt_open(&b, &e) < 0)
		return false;
	for (size_t i = 0; i < sizeof site_hooks / sizeof *site_hooks; i++)
		if (!hook_present(&b, &site_hooks[i]))
			return false;
	char *out = NULL;
	char *argv[] = { "ip", "-4", "rule", "show", "pref", PP_RELAY_TABLE, NULL };
	bool rule = pp_run(argv, NULL, &out, NULL) == 0 && out && strstr(out, "lookup");
	free(out);
	char *dev = pp_xasprintf("dev %s", ifname);
	char *rargv[] = { "ip", "-4", "route", "show", "table", PP_RELAY_TABLE, NULL };
	out = NULL;
	bool route = pp_run(rargv, NULL, &out, NULL) == 0 && out && strstr(out, dev);
	free(out);
	free(dev);
	return rule && route;
}

bool
pp_edge_in_place(const struct pp_edge_conf *c)
{
	(void)c;
	struct pp_ipt b;
	struct pp_error e;
	if (pp_ipt_open(&b, &e) < 0)
		return false;
	for (size_t i = 0; i < sizeof edge_hooks / sizeof *edge_hooks; i++)
		if (!hook_present(&b, &edge_hooks[i]))
			return false;
	return true;
}
