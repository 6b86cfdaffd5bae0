/* The backend glue: the neutral model from the table, the backends' registry and choice, status. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/ipv6.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"

int
pp_want_build(const struct pp_table *t, time_t now, struct pp_want *w, struct pp_error *err)
{
	const char *path = t->path ? t->path : "table";
	const char *wan = t->site.val[PP_S_WAN_INTERFACE];
	const char *lan = t->site.val[PP_S_LAN_INTERFACE];
	memset(w, 0, sizeof *w);
	if (!wan || !*wan)
		return pp_error_set(err, "%s: [site] has no wan_interface: set wan_interface = the router's internet-side interface",
		                    path);
	/*
	 * Rule text is built from validated tokens only: numbers, addresses, tags
	 * with unusual bytes replaced, and these two names. check refuses a bad
	 * name already; this keeps any other caller from pasting one.
	 */
	if (pp_ifname_problem(wan) || (lan && *lan && pp_ifname_problem(lan))) {
		bool bad_wan = pp_ifname_problem(wan) != NULL;
		return pp_error_set(err, "%s:%d: [site] %s: '%.60s' is not an interface name: %s; nothing was rendered: "
		                    "write the one interface's name, e.g. %s", path,
		                    t->site.key_line[bad_wan ? PP_S_WAN_INTERFACE : PP_S_LAN_INTERFACE],
		                    bad_wan ? "wan_interface" : "lan_interface", bad_wan ? wan : lan,
		                    pp_ifname_problem(bad_wan ? wan : lan), bad_wan ? "eth0" : "eth1");
	}
	w->path = path;
	w->now = now;
	w->wan_if = wan;
	w->lan_if = lan && *lan ? lan : NULL;
	if (t->site.has_lan_subnet) {
		w->lan = t->site.lan_subnet;
		w->have_lan = true;
	} else if (pp_iface_subnet(lan, &w->lan) == 0) {
		w->have_lan = true;
	}
	const char *leaf = getenv("PORTPILOT_LEAF_MAX"); /* benches compare layouts */
	if (leaf && strcmp(leaf, "linear") == 0)
		w->leaf_max = SIZE_MAX;
	else if (leaf)
		w->leaf_max = (size_t)atoi(leaf);
	w->public_ip = t->site.public_ip;
	w->hairpin = t->site.hairpin;
	struct pp_relay_site rl;
	if (pp_relay_site_parse(t, &rl, NULL) == 0 && rl.on)
		snprintf(w->relay_if, sizeof w->relay_if, "%s", rl.ifname);
	pp_relay_site_free(&rl);
	w->n = t->n;
	w->maps = pp_xcalloc(t->n + 1, sizeof *w->maps);
	/* The port lists, then the tags, in one block: 40,000 mallocs and frees fewer at 20,000. */
	size_t nports = 0, tags = 0;
	for (size_t i = 0; i < t->n; i++) {
		nports += pp_mapping_nports(&t->maps[i]);
		tags += pp_rule_tag_size(t->maps[i].name);
	}
	w->blk = pp_xmalloc(nports * sizeof(struct pp_port_pair) + tags + 1);
	struct pp_port_pair *pp = w->blk;
	char *tp = (char *)(pp + nports);
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		struct pp_want_map *x = &w->maps[i];
		bool any = m->nallow == 0;
		for (size_t k = 0; k < m->nallow; k++)
			any |= m->allow[k].len == 0;
		*x = (struct pp_want_map){ .name = m->name, .tag = pp_rule_tag_at(tp, m->name), .line = m->line,
		                           .active = pp_mapping_active(m, now), .proto = m->proto,
		                           .pub_lo = m->pub_lo, .pub_hi = m->pub_hi, .in_lo = m->in_lo,
		                           .in_hi = m->in_hi, .internal_ip = m->internal_ip, .any_source = any,
		                           .allow = m->allow, .nallow = m->nallow,
		                           .hairpin = pp_mapping_hairpin(&t->site, m),
		                           .masquerade = m->masquerade, .expires = m->expires };
		tp += strlen(tp) + 1;
		size_t np = pp_mapping_nports(m);
		for (size_t k = 0; k < np; k++)
			pp[k] = pp_mapping_port(m, k);
		x->ports = pp;
		x->nports = np;
		pp += np;
	}
	pp_want_ip6(t, w);
	return 0;
}

void
pp_want_free(struct pp_want *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->maps[i].v6);
	free(w->blk);
	free(w->maps);
	memset(w, 0, sizeof *w);
}

/* head + ": " before err's message (head: where the name came from, the file and line). */
static int
where(struct pp_error *err, const char *head)
{
	char msg[sizeof err->msg];
	snprintf(msg, sizeof msg, "%s", err->msg);
	return pp_error_set(err, "%.200s: %.800s", head, msg);
}

static const struct pp_backend_ops *const backends[] = {
	&pp_backend_iptables,
#ifdef PP_HAVE_NFTABLES
	&pp_backend_nftables,
#endif
};

const struct pp_backend_ops *
pp_backend_ops_named(const char *name)
{
	for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

static int
open_ops(struct pp_backend *b, const struct pp_backend_ops *ops, struct pp_error *err)
{
	char why[sizeof b->why];
	snprintf(why, sizeof why, "%s", b->why);
	memset(b, 0, sizeof *b);
	b->ops = ops;
	snprintf(b->why, sizeof b->why, "%s", why);
	if (ops->open(b, err) < 0) {
		b->ops = NULL;
		return -1;
	}
	return 0;
}

int
pp_backend_open_named(struct pp_backend *b, const char *name, struct pp_error *err)
{
	const struct pp_backend_ops *ops = pp_backend_ops_named(name);
	memset(b, 0, sizeof *b);
	if (!ops) {
		if (strcmp(name, "nftables") == 0)
			return pp_error_set(err, "backend nftables: this portpilot was built without the nftables "
			                    "backend; set [site] backend = iptables (or auto)");
		return pp_error_set(err, "backend '%.40s': unknown (iptables, nftables or auto)", name);
	}
	snprintf(b->why, sizeof b->why, "named");
	return open_ops(b, ops, err);
}

/* auto: nftables when it can run here and no iptables-legacy table holds rules, else iptables. */
static int
open_auto(struct pp_backend *b, const char *how, struct pp_error *err)
{
	const struct pp_backend_ops *nft = pp_backend_ops_named("nftables");
	char found[200] = "", legacy[160] = "";
	struct pp_error e;
	int rc = 0;
	if (!nft)
		snprintf(found, sizeof found, "no nftables backend in this build");
	else if ((rc = nft->detect(found, sizeof found, &e)) < 0)
		snprintf(found, sizeof found, "nftables unusable here: %.140s", e.msg);
	else if (rc == 1)
		;                       /* found says why: the mappings stay in iptables */
	else if (pp_iptables_legacy_in_use(legacy, sizeof legacy))
		snprintf(found, sizeof found, "nftables would run beside iptables-legacy rules (%.100s)", legacy);
	else {
		memset(b, 0, sizeof *b);
		snprintf(b->why, sizeof b->why, "%.60s: nftables usable (%.150s)", how, found);
		return open_ops(b, nft, err);
	}
	memset(b, 0, sizeof *b);
	snprintf(b->why, sizeof b->why, "%.50s: %.200s", how, found);
	return open_ops(b, &pp_backend_iptables, err);
}

int
pp_backend_open_for(struct pp_backend *b, const struct pp_table *t, struct pp_error *err)
{
	const char *env = getenv("PORTPILOT_BACKEND");
	const char *v = t ? t->site.val[PP_S_BACKEND] : NULL;
	int line = t ? t->site.key_line[PP_S_BACKEND] : 0;
	if (v && *v && strcmp(v, "auto") != 0) {
		if (pp_backend_open_named(b, v, err) < 0) {
			char head[200];
			snprintf(head, sizeof head, "%.160s:%d: [site] backend", t->path ? t->path : "table", line);
			return where(err, head);
		}
		snprintf(b->why, sizeof b->why, "[site] backend = %s", v);
		return 0;
	}
	/* What auto means can be set from outside (the lab suites pin one, benches compare). */
	if (env && *env && strcmp(env, "auto") != 0) {
		if (pp_backend_open_named(b, env, err) < 0)
			return where(err, "PORTPILOT_BACKEND (environment)");
		snprintf(b->why, sizeof b->why, "PORTPILOT_BACKEND=%s in place of auto", env);
		return 0;
	}
	return open_auto(b, v && *v ? "[site] backend = auto" : "[site] backend not set (auto)", err);
}

int
pp_backend_open(struct pp_backend *b, struct pp_error *err)
{
	return pp_backend_open_for(b, NULL, err);
}

void
pp_backend_close(struct pp_backend *b)
{
	if (b->ops && b->ops->close)
		b->ops->close(b);
	b->ops = NULL;
	b->priv = NULL;
}

int
pp_backend_read(struct pp_backend *b, struct pp_live *live, struct pp_error *err)
{
	memset(live, 0, sizeof *live);
	live->ops = b->ops;
	if (b->ops->read(b, live, err) < 0) {
		memset(live, 0, sizeof *live);
		return -1;
	}
	live->ops = b->ops;
	return 0;
}

void
pp_live_free(struct pp_live *live)
{
	if (live->ops && live->ops->live_free)
		live->ops->live_free(live);
	memset(live, 0, sizeof *live);
}

int
pp_status_read(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
               time_t now, struct pp_map_status **st, struct pp_error *err)
{
	return pp_status_read_all(t, b, live, now, st, NULL, err);
}

int
pp_status_read_all(const struct pp_table *t, struct pp_backend *b, const struct pp_live *live,
                   time_t now, struct pp_map_status **st, struct pp_layout_status *ls,
                   struct pp_error *err)
{
	/* The table names another backend than the caller opened (the TUI opens one before it has
	 * a table): the status is the named backend's, or every row would read missing. */
	const char *v = t->site.val[PP_S_BACKEND];
	if (v && pp_backend_ops_named(v) && strcmp(v, b->ops->name) != 0) {
		struct pp_backend o;
		struct pp_live l2;
		if (pp_backend_open_named(&o, v, err) < 0)
			return -1;
		int rc = pp_backend_read(&o, &l2, err);
		if (rc == 0) {
			rc = pp_status_read_all(t, &o, &l2, now, st, ls, err);
			pp_live_free(&l2);
		}
		pp_backend_close(&o);
		return rc;
	}
	struct pp_want w;
	if (pp_want_build(t, now, &w, err) < 0)
		return -1;
	*st = pp_xcalloc(t->n + 1, sizeof **st);
	int rc = b->ops->status(b, &w, live, *st, ls, err);
	pp_want_free(&w);
	if (rc < 0) {
		free(*st);
		*st = NULL;
	}
	return rc;
}

void
pp_layout_status_free(struct pp_layout_status *ls)
{
	for (size_t i = 0; i < ls->nproblems; i++)
		free(ls->problems[i]);
	for (size_t i = 0; i < ls->norphans; i++)
		free(ls->orphans[i]);
	free(ls->problems);
	free(ls->orphans);
	memset(ls, 0, sizeof *ls);
}

void
pp_status_free(struct pp_map_status *st, size_t n)
{
	for (size_t i = 0; st && i < n; i++) {
		free(st[i].shadow);
		free(st[i].shadow_words);
	}
	free(st);
}

void
pp_plan_free(struct pp_plan *p)
{
	free(p->restore);
	for (size_t i = 0; i < p->nchanged; i++)
		free(p->changed[i]);
	free(p->changed);
	free(p->flush);
	for (size_t i = 0; i < p->nlayout; i++)
		free(p->layout[i]);
	free(p->layout);
	memset(p, 0, sizeof *p);
}
