/* The nftables backend behind struct pp_backend_ops: status, diff, snapshots, coexistence, the access log. */
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/ipv6.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

#define LOG_TABLE "portpilot_log"       /* the access log's copies: a table of its own, outside the layout */
#define DOCKER_TAG "pp:forward"
/*
 * iptables-nft's chains that get portpilot's accept at their top, as the iptables backend
 * inserts its PP-FWD jump there: FORWARD (the user's own rules, ufw) and Docker's DOCKER-USER.
 * An accept in portpilot's own table does not end them: every base chain on the hook runs.
 */
enum { HOOK_FORWARD, HOOK_DOCKER, HOOK_FORWARD6, HOOK__N };
static const char *const hook_chain[HOOK__N] = { "FORWARD", "DOCKER-USER", "FORWARD" };
/* ip6tables-nft's FORWARD: the pinholes' flows (core/nft-ipv6.c), while a mapping has one */
static const char *const hook_family[HOOK__N] = { "ip", "ip", "ip6" };
/* facts written right after a commit that put the accept there (the cached read) */
static const char *const hook_fact[HOOK__N] = { "# portpilot: accept in FORWARD\n",
                                                "# portpilot: accept in DOCKER-USER\n",
                                                "# portpilot: accept in ip6 FORWARD\n" };
/* Docker's DOCKER-USER is iptables-nft's: a native nft rule there would make iptables-nft (and so
   Docker) refuse the whole table ("incompatible"), so the accept goes in through iptables-nft. */
#define DOCKER_MATCH "-m", "connmark", "--mark", "0x10000000/0x10000000", "-m", "conntrack", "--ctstate", \
	"DNAT", "-m", "comment", "--comment", DOCKER_TAG, "-j", "ACCEPT"

/* Everything outside portpilot's table that the questions need. */
struct nft_view {
	char *text;                     /* the other tables, as nft lists them */
	struct pp_nft_blocker *blk;
	size_t nblk;
	struct pp_nft_foreign *fr;      /* their chains, for the walk of one mapping's flow */
	bool has[HOOK__N];              /* ip filter has FORWARD / DOCKER-USER (iptables-nft's) */
	bool ours[HOOK__N];             /* portpilot's accept is in it */
};

/* b->priv */
struct nft_be {
	bool has[HOOK__N];              /* from the last read: commit keeps an accept there */
	bool ours[HOOK__N];             /* and it is there already */
	bool want_present;              /* the last plan's target has portpilot's table */
	bool want6;                     /* and IPv6 pinholes in it */
	char *keep6;                    /* the last plan's pinholes for pp_ip6_flush; NULL: no IPv6 either side */
};

/* Does hook h get portpilot's accept after a commit of the last plan? */
static bool
hook_wanted(const struct nft_be *be, int h)
{
	return be && be->want_present && (h != HOOK_FORWARD6 || be->want6);
}

static struct pp_nft_state *
S(const struct pp_be_state *s)
{
	return (struct pp_nft_state *)s;
}

static int
table_seen(const struct nlmsghdr *nlh, void *data)
{
	bool *ours = data;
	struct nftnl_table *t = nftnl_table_alloc();
	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 && nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == NFPROTO_INET &&
	    strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), PP_NFT_TABLE) == 0)
		*ours = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/*
 * Whether table inet portpilot exists, from one dump of the table list: libnftables'
 * "list tables" first fetches every set element (0.15-0.45 s at 20,000 mappings, on
 * every auto apply). -1 when the dump fails (the caller then asks libnftables, which says why).
 */
static int
have_table(bool *ours)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl)
		return -1;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned seq = (unsigned)getpid();
	int rc = -1;
	*ours = false;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, seq);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 && mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
		unsigned portid = mnl_socket_get_portid(nl);
		ssize_t len;
		rc = MNL_CB_OK;
		while (rc > MNL_CB_STOP && (len = mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0)
			rc = mnl_cb_run(buf, (size_t)len, seq, portid, table_seen, ours);
		rc = rc == MNL_CB_STOP ? 0 : -1;
	}
	mnl_socket_close(nl);
	return rc;
}

static int
nft_detect(char *why, size_t n, struct pp_error *err)
{
	bool ours;
	if (have_table(&ours) < 0) {
		char *out = NULL;
		if (pp_nft_run("list tables", false, &out, err) < 0)
			return -1;
		ours = strstr(out, "table inet portpilot\n") != NULL;
		free(out);
	}
	/* portpilot's iptables layout (iptables-nft keeps it in table ip nat): the mappings live
	   there and nothing of ours in nftables yet, so auto leaves them where they are. */
	char *chain = NULL;
	struct pp_error e;
	if (!ours && pp_nft_run("list chain ip nat PP-PRE", false, &chain, &e) == 0) {
		free(chain);
		snprintf(why, n, "libnftables talks to nf_tables, but portpilot's mappings are live in iptables "
		         "(chain PP-PRE); set [site] backend = nftables to move them");
		return 1;
	}
	free(chain);
	snprintf(why, n, "libnftables talks to nf_tables in this kernel");
	return 0;
}

static int
nft_open(struct pp_backend *b, struct pp_error *err)
{
	(void)err;
	b->priv = pp_xcalloc(1, sizeof(struct nft_be));
	snprintf(b->variant, sizeof b->variant, "libnftables");
	return 0;
}

static void
nft_close(struct pp_backend *b)
{
	if (b->priv)
		free(((struct nft_be *)b->priv)->keep6);
	free(b->priv);
	b->priv = NULL;
}

static int
nft_render_from(struct pp_backend *b, const struct pp_want *w, const struct pp_be_state *prev,
                struct pp_be_state **out, struct pp_error *err)
{
	(void)b;
	struct pp_nft_state *s = pp_xcalloc(1, sizeof *s);
	if (pp_nft_render_from(w, prev ? S(prev) : NULL, s, err) < 0) {
		free(s);
		return -1;
	}
	*out = (struct pp_be_state *)s;
	return 0;
}

/* The whole render: a render from no earlier one. */
static int
nft_render(struct pp_backend *b, const struct pp_want *w, struct pp_be_state **out, struct pp_error *err)
{
	return nft_render_from(b, w, NULL, out, err);
}

static void
nft_state_free(struct pp_be_state *s)
{
	pp_nft_state_free(S(s));
	free(s);
}

static void
view_free(struct nft_view *v)
{
	if (!v)
		return;
	free(v->text);
	free(v->blk);
	pp_nft_foreign_free(v->fr);
	free(v);
}

/* The view from the other tables' listing. */
static struct nft_view *
view_of(char *text)
{
	struct nft_view *v = pp_xcalloc(1, sizeof *v);
	v->text = text;
	struct pp_error e;
	if (pp_nft_blockers(text, &v->blk, &v->nblk, &e) < 0) {
		v->blk = NULL;
		v->nblk = 0;
	}
	v->fr = pp_nft_foreign_parse(text);
	for (int h = 0; h < HOOK__N; h++) {
		v->has[h] = pp_nft_foreign_chain(v->fr, hook_family[h], "filter", hook_chain[h], &v->ours[h]);
		v->ours[h] |= strstr(text, hook_fact[h]) != NULL;
	}
	return v;
}

/* Every table but portpilot's own, one listing each (nft 1.0.6 fails a buffer of several lists). */
static int
read_view(struct nft_view **out, struct pp_error *err)
{
	char *tables = NULL;
	if (pp_nft_run("list tables", false, &tables, err) < 0)
		return -1;
	struct pp_buf all = { 0 };
	pp_buf_addstr(&all, "");
	char *save = NULL;
	int rc = 0;
	for (char *l = strtok_r(tables, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
		char fam[16], name[128];
		if (sscanf(l, "table %15s %127s", fam, name) != 2)
			continue;
		if (strcmp(fam, "inet") == 0 && (strcmp(name, PP_NFT_TABLE) == 0 || strcmp(name, LOG_TABLE) == 0))
			continue;
		char cmd[200], *text = NULL;
		snprintf(cmd, sizeof cmd, "list table %s %s", fam, name);
		rc = pp_nft_run(cmd, false, &text, err);
		if (text)
			pp_buf_addstr(&all, text);
		free(text);
	}
	free(tables);
	if (rc < 0) {
		pp_buf_free(&all);
		return -1;
	}
	*out = view_of(all.data);
	return 0;
}

static int
nft_read(struct pp_backend *b, struct pp_live *live, struct pp_error *err)
{
	struct pp_nft_state *own = pp_xcalloc(1, sizeof *own);
	if (pp_nft_read(own, err) < 0) {
		free(own);
		return -1;
	}
	struct nft_view *v;
	if (read_view(&v, err) < 0) {
		pp_nft_state_free(own);
		free(own);
		return -1;
	}
	live->own = (struct pp_be_state *)own;
	live->view = v;
	if (b->priv) {
		memcpy(((struct nft_be *)b->priv)->has, v->has, sizeof v->has);
		memcpy(((struct nft_be *)b->priv)->ours, v->ours, sizeof v->ours);
	}
	return 0;
}

static void
nft_live_free(struct pp_live *live)
{
	if (live->own)
		nft_state_free(live->own);
	view_free(live->view);
	live->own = NULL;
	live->view = NULL;
}

static char *
nft_save(const struct pp_be_state *s, size_t *len)
{
	struct pp_buf b = { 0 };
	if (S(s)->present)
		pp_nft_state_text(&b, S(s), S(s)); /* counters too: a rollback puts them back */
	else
		pp_buf_addstr(&b, "");
	*len = b.len;
	return b.data;
}

static int
nft_load(struct pp_backend *b, const char *blob, size_t len, struct pp_be_state **out, struct pp_error *err)
{
	(void)b;
	(void)err;
	char *text = pp_xstrndup(blob, len);
	struct pp_nft_state *s = pp_xcalloc(1, sizeof *s);
	pp_nft_parse(text, s);
	free(text);
	*out = (struct pp_be_state *)s;
	return 0;
}

static void
nft_drop_mapping(struct pp_be_state *s, const char *tag)
{
	pp_nft_drop_tag(S(s), tag);
}

/* ---- which mappings differ ---- */

struct tagged {
	const char *tag;
	size_t tl;
	int set;
	const char *el;
	size_t idx;                     /* in its set (dnat_to: the counter's index) */
};

static int
cmp_tagged(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;
	size_t n = x->tl < y->tl ? x->tl : y->tl;
	int c = strncmp(x->tag, y->tag, n);
	if (c == 0 && x->tl != y->tl)
		c = x->tl < y->tl ? -1 : 1;
	if (c == 0)
		c = x->set - y->set;
	if (c == 0)
		c = strcmp(x->el, y->el);
	return c;
}

/* Every element of s with its tag, sorted by tag, set, element. */
static struct tagged *
by_tag(const struct pp_nft_state *s, size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < PP_NFT__SETS; i++)
		total += s->el[i].n;
	struct tagged *v = pp_xcalloc(total + 1, sizeof *v);
	size_t k = 0;
	for (int i = 0; i < PP_NFT__SETS; i++)
		for (size_t j = 0; j < s->el[i].n; j++) {
			v[k] = (struct tagged){ NULL, 0, i, s->el[i].v[j], j };
			v[k].tag = pp_nft_el_tag(s->el[i].v[j], &v[k].tl);
			k++;
		}
	if (k)
		qsort(v, k, sizeof *v, cmp_tagged);
	*n = k;
	return v;
}

struct tagref {
	const char *t;
	size_t l;
};

static int
cmp_tagref(const void *a, const void *b)
{
	const struct tagref *x = a, *y = b;
	size_t n = x->l < y->l ? x->l : y->l;
	int c = strncmp(x->t, y->t, n);
	return c ? c : (x->l > y->l) - (x->l < y->l);
}

static void
tag_push(struct tagref **v, size_t *n, size_t *cap, const char *el)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = pp_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[*n].t = pp_nft_el_tag(el, &(*v)[*n].l);
	(*n)++;
}

/* The tags of the elements that differ between a and b (a merge of each sorted set), sorted, once each. */
static struct tagref *
diff_tags(const struct pp_nft_state *a, const struct pp_nft_state *b, size_t *n)
{
	struct tagref *v = NULL;
	size_t k = 0, cap = 0;
	for (int s = 0; s < PP_NFT__SETS; s++) {
		const struct pp_strv *x = &a->el[s], *y = &b->el[s];
		size_t i = 0, j = 0;
		while (i < x->n || j < y->n) {
			int c = i >= x->n ? 1 : j >= y->n ? -1 : x->v[i] == y->v[j] ? 0 : strcmp(x->v[i], y->v[j]);
			if (c == 0) {
				i++;
				j++;
			} else if (c < 0) {
				tag_push(&v, &k, &cap, x->v[i++]);
			} else {
				tag_push(&v, &k, &cap, y->v[j++]);
			}
		}
	}
	if (k)
		qsort(v, k, sizeof *v, cmp_tagref);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || cmp_tagref(&v[u - 1], &v[i]) != 0)
			v[u++] = v[i];
	*n = u;
	return v;
}

/* by_tag over the elements whose tag is one of tags only: a one-mapping change sorts a few. */
static struct tagged *
by_tag_in(const struct pp_nft_state *s, const struct tagref *tags, size_t nt, size_t *n)
{
	struct tagged *v = NULL;
	size_t k = 0, cap = 0;
	for (int i = 0; i < PP_NFT__SETS && nt; i++)
		for (size_t j = 0; j < s->el[i].n; j++) {
			struct tagref r;
			r.t = pp_nft_el_tag(s->el[i].v[j], &r.l);
			if (!bsearch(&r, tags, nt, sizeof *tags, cmp_tagref))
				continue;
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				v = pp_xrealloc(v, cap * sizeof *v);
			}
			v[k++] = (struct tagged){ r.t, r.l, i, s->el[i].v[j], j };
		}
	if (k)
		qsort(v, k, sizeof *v, cmp_tagged);
	*n = k;
	return v;
}

/* The run of v[*i..] with v[*i]'s tag: its end. */
static size_t
run_end(const struct tagged *v, size_t n, size_t i)
{
	size_t j = i;
	while (j < n && v[j].tl == v[i].tl && strncmp(v[j].tag, v[i].tag, v[i].tl) == 0)
		j++;
	return j;
}

static int
cmp_tag_key(const char *tag, size_t tl, const struct tagged *t)
{
	size_t n = tl < t->tl ? tl : t->tl;
	int c = strncmp(tag, t->tag, n);
	if (c == 0 && tl != t->tl)
		c = tl < t->tl ? -1 : 1;
	return c;
}

/* The first entry of v with tag, or n. */
static size_t
tag_first(const struct tagged *v, size_t n, const char *tag, size_t tl)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_tag_key(tag, tl, &v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && cmp_tag_key(tag, tl, &v[lo]) == 0 ? lo : n;
}

static bool
runs_equal(const struct tagged *a, size_t an, const struct tagged *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (a[i].set != b[i].set || strcmp(a[i].el, b[i].el) != 0)
			return false;
	return true;
}

/* The changes between want and live as (tag, in want, in live) over both sorted lists. */
struct change {
	char *tag;
	bool in_want, in_live;
	size_t wi, wn, li, ln;          /* their runs in the by_tag lists */
};

static struct change *
changes(const struct tagged *w, size_t wn, const struct tagged *l, size_t ln, size_t *n)
{
	struct change *v = NULL;
	size_t k = 0, cap = 0, i = 0, j = 0;
	while (i < wn || j < ln) {
		int c = i >= wn ? 1 : j >= ln ? -1 : cmp_tag_key(w[i].tag, w[i].tl, &l[j]);
		size_t ie = c <= 0 ? run_end(w, wn, i) : i, je = c >= 0 ? run_end(l, ln, j) : j;
		if (!(c == 0 && runs_equal(w + i, ie - i, l + j, je - j))) {
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				v = pp_xrealloc(v, cap * sizeof *v);
			}
			const struct tagged *t = c <= 0 ? &w[i] : &l[j];
			v[k++] = (struct change){ pp_xstrndup(t->tag, t->tl), c <= 0, c >= 0, i, ie - i, j, je - j };
		}
		i = ie;
		j = je;
	}
	*n = k;
	return v;
}

static void
changes_free(struct change *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].tag);
	free(v);
}

/* The public ports of a run's dnat_to elements: "tcp . 8080 ..." */
static void
run_flush(const struct tagged *r, size_t n, struct pp_plan *p, size_t *cap)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].set != PP_NFT_DNAT)
			continue;
		char proto[4];
		unsigned port;
		if (sscanf(r[i].el, "%3s . %u", proto, &port) != 2)
			continue;
		enum pp_proto pr = strcmp(proto, "udp") == 0 ? PP_UDP : PP_TCP;
		struct pp_flush *last = p->nflush ? &p->flush[p->nflush - 1] : NULL;
		if (last && last->proto == pr && last->hi + 1u == port) {
			last->hi = (uint16_t)port;
			continue;
		}
		if (p->nflush == *cap) {
			*cap = *cap ? *cap * 2 : 8;
			p->flush = pp_xrealloc(p->flush, *cap * sizeof *p->flush);
		}
		p->flush[p->nflush++] = (struct pp_flush){ pr, (uint16_t)port, (uint16_t)port };
	}
}

/* Old and new ports of a mapping are often the same: one range each, overlaps merged. */
static void
flush_merge(struct pp_plan *p)
{
	if (p->nflush)
		qsort(p->flush, p->nflush, sizeof *p->flush, pp_flush_cmp);
	size_t k = 0;
	for (size_t i = 0; i < p->nflush; i++) {
		struct pp_flush *last = k ? &p->flush[k - 1] : NULL;
		if (last && last->proto == p->flush[i].proto && p->flush[i].lo <= last->hi + 1u) {
			if (p->flush[i].hi > last->hi)
				last->hi = p->flush[i].hi;
			continue;
		}
		p->flush[k++] = p->flush[i];
	}
	p->nflush = k;
}

static const struct pp_nft_state *
live_or_none(const struct pp_be_state *live, struct pp_nft_state *none)
{
	if (live)
		return S(live);
	pp_nft_parse("", none);
	return none;
}

/* The layout lines (definitions, chains) in a but not in b. */
static void
skel_missing(const struct pp_strv *a, const struct pp_strv *b, const char *what, char ***out, size_t *n)
{
	for (size_t i = 0; i < a->n; i++) {
		bool found = false;
		for (size_t j = 0; j < b->n && !found; j++)
			found = strcmp(a->v[i], b->v[j]) == 0;
		if (found)
			continue;
		*out = pp_xrealloc(*out, (*n + 1) * sizeof **out);
		const char *tab = strchr(a->v[i], '\t');
		(*out)[(*n)++] = pp_xasprintf("table inet " PP_NFT_TABLE ": %s %.*s: %s", what,
		                              tab ? (int)(tab - a->v[i]) : 0, a->v[i], tab ? tab + 1 : a->v[i]);
	}
}

/*
 * What of the table's layout (set definitions, chains) differs, in status's words: the plan's
 * layout lines, which status shows as ruleset drift and the dry run prints. No mapping owns
 * them; a layout change rewrites the table whole (counters carried), not any mapping.
 */
static void
layout_lines(const struct pp_nft_state *want, const struct pp_nft_state *live, char ***out, size_t *n)
{
	/* No table (never applied, or deleted whole): every mapping reads missing and the dry run
	   writes the table new; no layout line, as the iptables backend says it with no PP- chain. */
	if (!want->present || !live->present)
		return;
	skel_missing(&want->skel, &live->skel, "missing", out, n);
	skel_missing(&live->skel, &want->skel, "unexpected", out, n);
}

/* The elements of the mappings that differ, grouped per mapping: what plan and diff both need. */
struct groups {
	struct tagged *wt, *lt;
	size_t wn, ln, nc;
	struct change *c;
};

static void
groups_of(const struct pp_nft_state *want, const struct pp_nft_state *l, struct groups *g)
{
	size_t nt;
	struct tagref *tags = diff_tags(want, l, &nt);
	g->wt = by_tag_in(want, tags, nt, &g->wn);
	g->lt = by_tag_in(l, tags, nt, &g->ln);
	free(tags);
	g->c = changes(g->wt, g->wn, g->lt, g->ln, &g->nc);
}

static void
groups_free(struct groups *g)
{
	changes_free(g->c, g->nc);
	free(g->wt);
	free(g->lt);
}

static void
plan_with(struct pp_backend *b, const struct pp_nft_state *want, const struct pp_nft_state *l,
          const struct groups *g, struct pp_plan *p)
{
	memset(p, 0, sizeof *p);
	struct nft_be *be = b->priv;
	if (be) {
		be->want_present = want->present;
		be->want6 = pp_nft_has6(want);
		free(be->keep6);
		be->keep6 = be->want6 || pp_nft_has6(l) ? pp_nft_keep6(want) : NULL;
	}
	struct pp_nft_plan np;
	pp_nft_plan_make(want, l, &np);
	p->restore = np.text;
	p->chains_written = np.el_added;
	p->chains_dropped = np.el_deleted;
	p->hooks_changed = np.full;
	/* Docker's DOCKER-USER lacks portpilot's accept (or holds a stale one): a commit is due even
	   when the table itself is as wanted ("table" alone is a no-op transaction) */
	bool due = false;
	for (int h = 0; be && h < HOOK__N; h++)
		due |= be->has[h] && be->ours[h] != hook_wanted(be, h);
	if (due) {
		if (!p->restore)
			p->restore = pp_xstrdup(want->present ? "table inet " PP_NFT_TABLE "\n"
			                        : "table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n");
		p->hooks_changed++;
	}
	p->commits = p->restore ? 1 : 0;
	size_t cap = 0;
	p->changed = pp_xcalloc(g->nc + 1, sizeof *p->changed);
	for (size_t i = 0; i < g->nc; i++) {
		p->changed[p->nchanged++] = pp_xstrdup(g->c[i].tag);
		run_flush(g->lt + g->c[i].li, g->c[i].ln, p, &cap);
		run_flush(g->wt + g->c[i].wi, g->c[i].wn, p, &cap);
	}
	flush_merge(p);
	layout_lines(want, l, &p->layout, &p->nlayout);
}

static void
nft_plan(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live, struct pp_plan *p)
{
	struct pp_nft_state none;
	const struct pp_nft_state *l = live_or_none(live, &none);
	struct groups g;
	groups_of(S(want), l, &g);
	plan_with(b, S(want), l, &g, p);
	groups_free(&g);
	if (!live)
		pp_nft_state_free(&none);
}

/* The diff for people: the layout lines (lay, the plan's), then per changed mapping its lines. */
static void
diff_print(FILE *f, const struct pp_nft_state *l, char *const *lay, size_t nlay, const struct groups *g)
{
	if (!l->present)
		fprintf(f, "+ table inet " PP_NFT_TABLE " (new: one transaction writes it whole)\n");
	else if (nlay)
		fprintf(f, "~ table inet " PP_NFT_TABLE " (its layout: the table is replaced whole, counters carried)\n");
	for (size_t i = 0; l->present && i < nlay; i++)
		fprintf(f, "    %s\n", lay[i]);
	for (size_t i = 0; i < g->nc; i++) {
		const struct change *c = &g->c[i];
		const char *name = strncmp(c->tag, "pp:", 3) == 0 ? c->tag + 3 : c->tag;
		fprintf(f, "%c %s\n", c->in_want && c->in_live ? '~' : c->in_want ? '+' : '-', name);
		/* both runs are sorted by set and element: a merge shows only what differs, the old
		   lines first, then the new */
		const struct tagged *x = g->lt + c->li, *y = g->wt + c->wi;
		for (int pass = 0; pass < 2; pass++) {
			size_t xn = c->ln, yn = c->wn, a = 0, d = 0;
			while (a < xn || d < yn) {
				int r = a >= xn ? 1 : d >= yn ? -1 : x[a].set != y[d].set ? x[a].set - y[d].set
				                                                 : strcmp(x[a].el, y[d].el);
				if (r == 0) {
					a++;
					d++;
				} else if (r < 0) {
					if (pass == 0)
						fprintf(f, "    - %s: %s\n", pp_nft_set_name(x[a].set), x[a].el);
					a++;
				} else {
					if (pass == 1)
						fprintf(f, "    + %s: %s\n", pp_nft_set_name(y[d].set), y[d].el);
					d++;
				}
			}
		}
	}
}

static void
nft_diff(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live, FILE *f)
{
	(void)b;
	struct pp_nft_state none;
	const struct pp_nft_state *l = live_or_none(live, &none);
	char **lay = NULL;
	size_t nlay = 0;
	/* the plan's layout lines, in status's words (a table not there yet is said below) */
	if (l->present)
		layout_lines(S(want), l, &lay, &nlay);
	struct groups g;
	groups_of(S(want), l, &g);
	diff_print(f, l, lay, nlay, &g);
	groups_free(&g);
	for (size_t i = 0; i < nlay; i++)
		free(lay[i]);
	free(lay);
	if (!live)
		pp_nft_state_free(&none);
}

/* Both from one grouping of the changed elements (at 20,000 elements each pass costs). */
static void
nft_plan_diff(struct pp_backend *b, const struct pp_be_state *want, const struct pp_be_state *live,
              struct pp_plan *p, FILE *f)
{
	struct pp_nft_state none;
	const struct pp_nft_state *l = live_or_none(live, &none);
	struct groups g;
	groups_of(S(want), l, &g);
	plan_with(b, S(want), l, &g, p);
	diff_print(f, l, p->layout, p->nlayout, &g);
	groups_free(&g);
	if (!live)
		pp_nft_state_free(&none);
}

/* nft --check costs about what the commit costs and the commit is all-or-nothing anyway:
   the dry run is for when it is asked for always (a rollback, a restore). */
static int
nft_test(struct pp_backend *b, const struct pp_plan *p, bool always, struct pp_error *err)
{
	(void)b;
	return always && p->restore ? pp_nft_run(p->restore, true, NULL, err) : 0;
}

/* Keep (or take out) the accept for portpilot's flows at the top of iptables-nft's chain. */
static void
ipt_accept(int h, bool on)
{
	if (h == HOOK_FORWARD6) {
		pp_nft_accept6(on);
		return;
	}
	const char *chain = hook_chain[h];
	char *check[] = { "iptables-nft", "-w", "-C", (char *)chain, DOCKER_MATCH, NULL };
	bool there = pp_run(check, NULL, NULL, NULL) == 0;
	if (there == on)
		return;
	char *add[] = { "iptables-nft", "-w", "-I", (char *)chain, "1", DOCKER_MATCH, NULL };
	char *del[] = { "iptables-nft", "-w", "-D", (char *)chain, DOCKER_MATCH, NULL };
	pp_run(on ? add : del, NULL, NULL, NULL);
}

static void
ipt_hooks(const struct nft_be *be)
{
	for (int h = 0; be && h < HOOK__N; h++)
		if (be->has[h])
			ipt_accept(h, hook_wanted(be, h));
}

/* PORTPILOT_NFT_FAULT_FILE (tests): take the file by rename, so only the first commit (not the
   rollback timer's) acts, and read its mode: before-kill, after-kill, after-hup, fail. */
static void
fault_mode(char *mode, size_t n)
{
	const char *f = getenv("PORTPILOT_NFT_FAULT_FILE");
	if (!f || !*f)
		return;
	char *taken = pp_xasprintf("%s.%d", f, (int)getpid());
	if (rename(f, taken) == 0) {
		char *t = pp_read_file(taken, NULL);
		if (t)
			snprintf(mode, n, "%.*s", (int)strcspn(t, "\n"), t);
		free(t);
	}
	free(taken);
}

static int
nft_commit(struct pp_backend *b, struct pp_plan *p, void (*during)(void *arg), void *arg, struct pp_error *err)
{
	if (!p->restore)
		return 0;
	/* Tests: PORTPILOT_NFT_FAULT=commit makes the kernel refuse the transaction (a duplicate
	   create), as a PATH wrapper makes iptables-restore fail for the iptables backend; the
	   one-shot PORTPILOT_NFT_FAULT_FILE does what the wrappers of test-apply-kill do. */
	char mode[16] = "";
	fault_mode(mode, sizeof mode);
	if (strcmp(mode, "before-kill") == 0)
		raise(SIGKILL);
	const char *fault = strcmp(mode, "fail") == 0 ? "commit" : getenv("PORTPILOT_NFT_FAULT");
	char *text = fault && strcmp(fault, "commit") == 0
	           ? pp_xasprintf("%screate element inet " PP_NFT_TABLE " restricted { tcp . 0 }\n"
	                          "create element inet " PP_NFT_TABLE " restricted { tcp . 0 }\n", p->restore)
	           : NULL;
	/* dnat_to's element updates (a one-mapping change) as one netlink batch; the rest, and a
	   batch the kernel refused, through libnftables (which then says why) */
	int rc = text ? pp_nft_run(text, false, NULL, err) : pp_nft_commit_text(p->restore, err);
	free(text);
	if (strcmp(mode, "after-kill") == 0)
		raise(SIGKILL);
	if (strcmp(mode, "after-hup") == 0)
		raise(SIGHUP);
	if (rc < 0)
		return -1;
	/*
	 * The commit runs in this process, so nothing can overlap it: the engine's staging (the
	 * applied record, written and synced) and its frees come right after, while the kernel
	 * frees the old elements after an RCU grace period, which the exit would otherwise wait
	 * for. Safe after the commit: the engine removed applied.gen before it, so until the
	 * record is published nothing trusts applied.rules as the kernel's state, and the
	 * rollback works from snapshot.rules. Not called on a failure (nothing to record).
	 */
	if (during)
		during(arg);
	/* As the iptables backend hooks PP-FWD into FORWARD and DOCKER-USER: their drops would
	   otherwise drop what portpilot's forward chain accepts (nftables runs every base chain). */
	struct nft_be *be = b->priv;
	ipt_hooks(be);
	return 0;
}

/* The neutral flush (conntrack knows who DNATed), then the IPv6 flows of closed pinholes. */
static void
nft_flush(struct pp_backend *b, struct pp_plan *p)
{
	pp_conntrack_flush(p);
	const struct nft_be *be = b->priv;
	if (be && be->keep6)
		pp_ip6_flush(be->keep6, p);
}

static int
nft_gen(struct pp_backend *b, struct pp_gen *g)
{
	(void)b;
	struct pp_ipt ipt = { .variant = "nft" };
	return pp_ipt_gen(&ipt, g);
}

static char *
nft_facts(struct pp_backend *b, const struct pp_live *live, const struct pp_plan *p)
{
	(void)p;
	const struct nft_view *v = live->view;
	const struct nft_be *be = b->priv;
	struct pp_buf f = { 0 };
	for (int h = 0; be && h < HOOK__N; h++)
		if (be->has[h] && hook_wanted(be, h))
			pp_buf_addstr(&f, hook_fact[h]);
	pp_buf_addstr(&f, v && v->text ? v->text : "");
	return f.data;
}

static int
nft_adopt(struct pp_backend *b, char *own, char *facts, struct pp_live *live, struct pp_error *err)
{
	struct pp_be_state *s;
	/* own NULL: live->own is in place already (the engine's memory of its last commit) */
	int rc = own ? nft_load(b, own, strlen(own), &s, err) : 0;
	free(own);
	if (rc < 0) {
		free(facts);
		return -1;
	}
	if (own)
		live->own = s;
	live->view = view_of(facts ? facts : pp_xstrdup(""));
	if (b->priv) {
		const struct nft_view *v = live->view;
		memcpy(((struct nft_be *)b->priv)->has, v->has, sizeof v->has);
		memcpy(((struct nft_be *)b->priv)->ours, v->ours, sizeof v->ours);
	}
	return 0;
}

/* Mapping m's new connections, as the walk needs them. */
static void
query_of(const struct pp_want *w, const struct pp_want_map *m, uint32_t wan_addr, struct pp_foreign_query *q)
{
	*q = (struct pp_foreign_query){ .proto = m->proto, .pub_lo = m->pub_lo, .pub_hi = m->pub_hi,
	                                .in_lo = m->in_lo, .in_hi = m->in_hi, .internal_ip = m->internal_ip,
	                                .public_ip = w->public_ip ? w->public_ip : wan_addr,
	                                .wan_if = w->wan_if, .lan_if = w->lan_if };
}

static int
nft_status(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live, struct pp_map_status *st,
           struct pp_layout_status *ls, struct pp_error *err)
{
	struct pp_be_state *ws;
	if (nft_render(b, w, &ws, err) < 0)
		return -1;
	struct pp_nft_state none;
	const struct pp_nft_state *l = live_or_none(live->own, &none);
	/*
	 * One source of truth with apply --dry-run: a mapping is missing/drifted/stale exactly when
	 * the plan an apply would make (nft_plan, the dry run's) changes its elements, and the
	 * ruleset drift is that plan's layout lines. A layout change (a chain rule deleted by hand,
	 * public_ip, [site] hairpin) rewrites the table, not any mapping: the rows stay in sync and
	 * the ruleset line above them says the layout differs.
	 */
	struct pp_plan p;
	nft_plan(b, ws, live->own, &p);
	char **lay = p.layout;
	size_t nlay = p.nlayout;
	p.layout = NULL;
	p.nlayout = 0;
	size_t ln;
	struct tagged *lt = by_tag(l, &ln);
	const struct nft_view *view = live->view;
	uint32_t wan_addr = pp_iface_addr4(w->wan_if);
	for (size_t i = 0; i < w->n; i++) {
		const struct pp_want_map *m = &w->maps[i];
		size_t tl = strlen(m->tag);
		size_t c = tag_first(lt, ln, m->tag, tl);
		size_t ce = c < ln ? run_end(lt, ln, c) : c;
		bool changed = false;
		for (size_t k = 0; k < p.nchanged && !changed; k++)
			changed = strcmp(p.changed[k], m->tag) == 0;
		struct pp_map_status *s = &st[i];
		s->name = m->name;
		unsigned long long **pk, **by;
		for (size_t k = c; k < ce; k++)
			if (pp_nft_counted(lt[k].set, (struct pp_nft_state *)l, &pk, &by)) {
				s->pkts += (*pk)[lt[k].idx];
				s->bytes += (*by)[lt[k].idx];
			}
		bool pin6 = m->v6 && m->v6->on;
		pp_nft_status6(S(ws), l, m, s);
		if (!m->active && !pin6)
			s->sync = ce > c ? PP_SYNC_STALE : PP_SYNC_INACTIVE;
		else
			s->sync = !changed ? PP_SYNC_OK : ce == c ? PP_SYNC_MISSING : PP_SYNC_DRIFTED;
		struct pp_foreign_query q;
		struct pp_foreign_hit hit;
		query_of(w, m, wan_addr, &q);
		/* every element of a port list: the first one another table's rule takes or drops */
		bool found = false;
		for (size_t e = 0; m->active && s->sync == PP_SYNC_OK && view && !found && e < pp_want_nports(m); e++) {
			struct pp_port_pair pr = pp_want_port(m, e);
			q.pub_lo = pr.pub_lo, q.pub_hi = pr.pub_hi, q.in_lo = pr.in_lo, q.in_hi = pr.in_hi;
			found = pp_nft_foreign_first(view->fr, &q, false, true, &hit) == 1;
		}
		/* the pinhole's flows: another table's forward chain that drops them (firewalld's) */
		if (!found && pin6 && s->sync == PP_SYNC_OK && view)
			found = pp_nft_foreign_first6(view->fr, w, m, view->ours[HOOK_FORWARD6], &hit) == 1;
		if (found) {
			s->sync = hit.kind == PP_FOREIGN_DNAT ? PP_SYNC_SHADOWED : PP_SYNC_BLOCKED;
			s->shadow = pp_xasprintf("%s: \"%s\"", hit.path, hit.rule);
			s->shadow_drops = hit.kind == PP_FOREIGN_DROP;
			s->shadow_words = pp_foreign_words(&hit);
		}
	}
	pp_plan_free(&p);
	if (ls) {
		memset(ls, 0, sizeof *ls);
		ls->problems = lay;
		ls->nproblems = nlay;
		lay = NULL;
		nlay = 0;
		/* tags in the kernel that no section of the table has */
		for (size_t k = 0; k < ln; k = run_end(lt, ln, k)) {
			bool known = false;
			for (size_t i = 0; i < w->n && !known; i++)
				known = strlen(w->maps[i].tag) == lt[k].tl && strncmp(w->maps[i].tag, lt[k].tag, lt[k].tl) == 0;
			if (known || lt[k].tl == 0)
				continue;
			ls->orphans = pp_xrealloc(ls->orphans, (ls->norphans + 1) * sizeof *ls->orphans);
			const char *t = lt[k].tag;
			size_t tl = lt[k].tl;
			if (tl > 3 && strncmp(t, "pp:", 3) == 0) {
				t += 3;
				tl -= 3;
			}
			ls->orphans[ls->norphans++] = pp_xstrndup(t, tl);
		}
	}
	for (size_t i = 0; i < nlay; i++)
		free(lay[i]);
	free(lay);
	free(lt);
	nft_state_free(ws);
	if (!live->own)
		pp_nft_state_free(&none);
	return 0;
}

static void
nft_checks(struct pp_backend *b, const struct pp_want *w, const struct pp_live *live, struct pp_findings *out)
{
	(void)b;
	pp_host_checks(w->wan_if, out);
	const struct nft_view *v = live->view;
	/* per mapping: another table's rule that takes or drops its flows (a few make the point) */
	enum { MAX_SHOWN = 10 };
	uint32_t wan_addr = pp_iface_addr4(w->wan_if);
	bool docker = false;
	for (size_t i = 0; v && i < v->nblk; i++)
		docker |= v->blk[i].docker;
	for (size_t i = 0, shown = 0; v && i < w->n && shown < MAX_SHOWN; i++) {
		const struct pp_want_map *m = &w->maps[i];
		struct pp_foreign_query q;
		struct pp_foreign_hit h;
		query_of(w, m, wan_addr, &q);
		/* Docker's policy: the commit puts portpilot's accept into DOCKER-USER (said below);
		   every element of a port list, the first one another table's rule meets */
		bool hit = false;
		for (size_t e = 0; m->active && !hit && e < pp_want_nports(m); e++) {
			struct pp_port_pair pr = pp_want_port(m, e);
			q.pub_lo = pr.pub_lo, q.pub_hi = pr.pub_hi, q.in_lo = pr.in_lo, q.in_hi = pr.in_hi;
			hit = pp_nft_foreign_first(v->fr, &q, docker, true, &h) == 1;
		}
		if (!hit)
			continue;
		pp_foreign_finding(out, m->line, m->name, &h);
		shown++;
	}
	for (size_t i = 0; v && i < v->nblk; i++) {
		const struct pp_nft_blocker *k = &v->blk[i];
		if (k->handled || k->ip6)
			continue;           /* ip6's meet the pinholes only: pp_nft_checks6 */
		if (k->docker && (k->policy_drop || k->drop_rules))
			pp_findings_add(out, PP_WARNING, 0, NULL, NULL, k->fix,
			                "nftables: %s %s %s (iptables-nft, forward hook, priority %d) drops what portpilot's "
			                "own table accepts; the apply puts an accept for portpilot's flows at its top%s",
			                k->family, k->table, k->chain, k->prio,
			                strstr(k->fix, "DOCKER-USER") ? " and into DOCKER-USER" : "");
		else if (k->policy_drop)
			pp_findings_add(out, PP_WARNING, 0, NULL, NULL, k->fix,
			                "nftables: %s %s %s (forward hook, priority %d) has policy drop: in nftables an "
			                "accept ends only its own chain, so it still drops the flows portpilot forwards",
			                k->family, k->table, k->chain, k->prio);
		/* its drop rules: the per-mapping walk above names the ones that meet a mapping */
	}
	if (v)
		pp_nft_checks6(w, v->blk, v->nblk, v->fr, out);
}

static int
nft_foreign_first(struct pp_backend *b, const struct pp_live *live, const struct pp_foreign_query *q,
                  struct pp_foreign_hit *hit)
{
	(void)b;
	const struct nft_view *v = live->view;
	/* a rule, for the probe: a policy drop is its forward_blocked (forward_state), not a rule */
	return v ? pp_nft_foreign_first(v->fr, q, false, false, hit) : -1;
}

static int
nft_pinholes(struct pp_backend *b, const struct pp_live *live, const char *name, const char *addr,
             unsigned long long *pkts)
{
	(void)b;
	*pkts = 0;
	if (!live->own)
		return 0;
	char *tag = pp_rule_tag(name);
	int n = pp_nft_pinholes(S(live->own), tag, addr, pkts);
	free(tag);
	return n;
}

static void
nft_dnat_present(struct pp_backend *b, const struct pp_live *live, const struct pp_mapping *m,
                 struct pp_dnat_answer *a)
{
	(void)b;
	memset(a, 0, sizeof *a);
	snprintf(a->where, sizeof a->where, "table inet " PP_NFT_TABLE " map dnat_to");
	snprintf(a->how, sizeof a->how, "nft list map inet " PP_NFT_TABLE " dnat_to");
	if (!live->own)
		return;
	a->present = true;
	const struct pp_nft_state *l = S(live->own);
	char ip[16];
	pp_format_ipv4(m->internal_ip, ip);
	for (int k = 0; k < 2; k++) {
		if (!(m->proto & (k ? PP_UDP : PP_TCP)))
			continue;
		const char *pn = k ? "udp" : "tcp";
		char key[24], to[40];
		int kl = snprintf(key, sizeof key, "%s . %u", pn, m->pub_lo);
		snprintf(to, sizeof to, " : %s . %u", ip, m->in_lo);
		long i = pp_nft_el_find(&l->el[PP_NFT_DNAT], key, (size_t)kl);
		const char *v = i >= 0 ? strstr(l->el[PP_NFT_DNAT].v[i], " : ") : NULL;
		if (!v || strcmp(v, to) != 0) {
			if (a->present)
				snprintf(a->missing_proto, sizeof a->missing_proto, "%s", pn);
			a->present = false;
			continue;
		}
		for (unsigned p = m->pub_lo; p <= m->pub_hi; p++) {
			kl = snprintf(key, sizeof key, "%s . %u", pn, p);
			long j = pp_nft_el_find(&l->el[PP_NFT_DNAT], key, (size_t)kl);
			if (j >= 0)
				a->pkts += l->pkts[j];
		}
	}
}

static void
nft_forward_state(struct pp_backend *b, const struct pp_live *live, uint32_t internal_ip,
                  struct pp_forward_answer *a)
{
	(void)b;
	memset(a, 0, sizeof *a);
	snprintf(a->where, sizeof a->where, "the forward hook (every table)");
	if (!live->own || !live->view)
		return;
	const struct nft_view *v = live->view;
	a->policy_drop = false;
	for (size_t i = 0; i < v->nblk; i++)
		a->policy_drop |= v->blk[i].policy_drop;
	if (a->policy_drop) {
		/* another table's policy drop: portpilot's own accept does not count there; what counts
		   is an accept in that chain (Docker's DOCKER-USER) before its policy */
		struct pp_foreign_query q = { .proto = PP_TCP, .pub_lo = 1, .pub_hi = 65535, .in_lo = 1, .in_hi = 65535,
		                              .internal_ip = internal_ip };
		struct pp_foreign_hit h;
		a->accept = pp_nft_foreign_first(v->fr, &q, false, true, &h) != 1;
		return;
	}
	const struct pp_nft_state *l = S(live->own);
	for (size_t i = 0; i < l->skel.n && !a->accept; i++)
		a->accept = strncmp(l->skel.v[i], "chain forward\t", 14) == 0 && strstr(l->skel.v[i], "ct status dnat accept");
}

static int
nft_log_rules(struct pp_backend *b, const struct pp_log_spec *s, bool add, struct pp_error *err)
{
	(void)b;
	struct pp_buf t = { 0 };
	int g = s->group;
	/* Created first so that a delete never fails on a chain that is not there. */
	pp_buf_printf(&t, "table inet " LOG_TABLE "\n"
	              "add chain inet " LOG_TABLE " post_%d { type filter hook postrouting priority -150; policy accept; }\n"
	              "add chain inet " LOG_TABLE " in_%d { type filter hook input priority -150; policy accept; }\n",
	              g, g);
	if (!add) {
		pp_buf_printf(&t, "delete chain inet " LOG_TABLE " post_%d\ndelete chain inet " LOG_TABLE " in_%d\n", g, g);
	} else {
		pp_buf_printf(&t, "flush chain inet " LOG_TABLE " post_%d\nflush chain inet " LOG_TABLE " in_%d\n", g, g);
		/* A new DNATed connection after the forward verdict: filter passed it. */
		pp_buf_printf(&t, "add rule inet " LOG_TABLE " post_%d ct state new ct status dnat log prefix \""
		              PP_LOG_ACCEPTED "\" group %d\n", g, g);
		/* IPv6 (issue 15): a pinhole's flow is not DNATed, but marked in prerouting by pin6 */
		pp_buf_printf(&t, "add rule inet " LOG_TABLE " post_%d meta nfproto ipv6 ct state new ct status ! dnat "
		              "ct mark & " PP_LOG_MARK " == " PP_LOG_MARK " log prefix \"" PP_LOG_ACCEPTED "\" group %d\n",
		              g, g);
		pp_buf_printf(&t, "add rule inet " LOG_TABLE " in_%d iifname \"%s\" ct state new ct status ! dnat fib daddr "
		              "type local log prefix \"" PP_LOG_REFUSED "\" group %d\n", g, s->wan_if, g);
		if (s->lan_if && *s->lan_if && s->lan.len) {
			char net[16];
			pp_format_ipv4(s->lan.addr, net);
			pp_buf_printf(&t, "add rule inet " LOG_TABLE " in_%d iifname \"%s\" ip daddr != %s/%u ct state new "
			              "ct status ! dnat fib daddr type local log prefix \"" PP_LOG_REFUSED "\" group %d\n", g,
			              s->lan_if, net, s->lan.len, g);
		}
	}
	int rc = pp_nft_run(t.data, false, NULL, err);
	pp_buf_free(&t);
	return rc;
}

static int
nft_remove_all(struct pp_backend *b, struct pp_error *err)
{
	(void)b;
	/* Each created first: the delete cannot fail on a table that is not there. */
	if (pp_nft_run("table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n"
	               "table inet " LOG_TABLE "\ndelete table inet " LOG_TABLE "\n", false, NULL, err) < 0)
		return -1;
	/* opened for this alone (a switch to another backend): no read told where the accepts are */
	for (int h = 0; h < HOOK__N; h++)
		ipt_accept(h, false);
	return 0;
}

const struct pp_backend_ops pp_backend_nftables = {
	.name = "nftables",
	.detect = nft_detect,
	.open = nft_open,
	.close = nft_close,
	.render = nft_render,
	.read = nft_read,
	.live_free = nft_live_free,
	.state_free = nft_state_free,
	.save = nft_save,
	.load = nft_load,
	.drop_mapping = nft_drop_mapping,
	.plan = nft_plan,
	.diff = nft_diff,
	.plan_diff = nft_plan_diff,
	.test = nft_test,
	.commit = nft_commit,
	.flush = nft_flush,
	.gen = nft_gen,
	.facts = nft_facts,
	.adopt = nft_adopt,
	.status = nft_status,
	.checks = nft_checks,
	.foreign_first = nft_foreign_first,
	.dnat_present = nft_dnat_present,
	.forward_state = nft_forward_state,
	.log_rules = nft_log_rules,
	.remove_all = nft_remove_all,
	.pinholes = nft_pinholes,
	.render_from = nft_render_from,
};
