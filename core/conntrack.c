/* The kernel's conntrack table through libnetfilter_conntrack: list a family's flows, remove the chosen ones. */
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/conntrack.h"
#include "portpilot/util.h"

struct walk {
	bool (*pick)(const struct pp_ct_flow *f, void *arg);
	void *arg;
	uint8_t family;                 /* the one asked for (old kernels dump every family) */
	struct nf_conntrack **v;        /* clones of the chosen entries, removed after the dump */
	size_t n, cap;
};

static void
addr(const struct nf_conntrack *ct, uint8_t family, int a4, int a6, uint8_t out[16])
{
	/* NULL when the kernel sent no such attribute (another family): all zeros then. */
	const void *p = nfct_get_attr(ct, family == AF_INET ? a4 : a6);
	memset(out, 0, 16);
	if (p)
		memcpy(out, p, family == AF_INET ? 4 : 16);
}

static void
flow_of(const struct nf_conntrack *ct, struct pp_ct_flow *f)
{
	f->family = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	f->proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	addr(ct, f->family, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, f->osrc);
	addr(ct, f->family, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, f->odst);
	addr(ct, f->family, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, f->rsrc);
	bool ports = f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP;
	f->sport = ports ? ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC)) : 0;
	f->dport = ports ? ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)) : 0;
	f->rsport = ports ? ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC)) : 0;
	f->mark = nfct_attr_is_set(ct, ATTR_MARK) > 0 ? nfct_get_attr_u32(ct, ATTR_MARK) : 0;
}

static int
collect(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct walk *w = data;
	struct pp_ct_flow f;
	(void)type;
	flow_of(ct, &f);
	if (f.family == w->family && w->pick(&f, w->arg)) {
		if (w->n == w->cap)
			w->v = pp_xrealloc(w->v, (w->cap = w->cap ? 2 * w->cap : 64) * sizeof *w->v);
		w->v[w->n++] = nfct_clone(ct);
	}
	return NFCT_CB_CONTINUE;
}

/* Remove the collected entries, one request each on the same socket. */
static void
remove_all(struct nfct_handle *h, struct walk *w, struct pp_ct_result *res)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->v[i] && nfct_query(h, NFCT_Q_DESTROY, w->v[i]) == 0)
			res->removed++;
		else if (!w->v[i] || errno != ENOENT) {
			if (!res->failed++)
				res->err = w->v[i] ? errno : ENOMEM;
		}
		if (w->v[i])
			nfct_destroy(w->v[i]);
	}
}

void
pp_ct_remove(uint8_t family, bool (*pick)(const struct pp_ct_flow *f, void *arg), void *arg,
             struct pp_ct_result *res)
{
	memset(res, 0, sizeof *res);
	struct walk w = { .pick = pick, .arg = arg, .family = family };
	/* No flows (or no conntrack at all): nothing to list, the common and cheap case. */
	res->listed = true;
	if (pp_sysctl_read("net.netfilter.nf_conntrack_count") <= 0)
		return;
	res->listed = false;
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h) {
		res->err = errno;
		return;
	}
	uint32_t fam = family;
	nfct_callback_register(h, NFCT_T_ALL, collect, &w);
	res->listed = nfct_query(h, NFCT_Q_DUMP, &fam) == 0;
	if (!res->listed)
		res->err = errno;
	nfct_callback_unregister(h);
	remove_all(h, &w, res);
	free(w.v);
	nfct_close(h);
}
