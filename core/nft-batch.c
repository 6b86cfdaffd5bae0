/* dnat_to's element updates, and whole tables, as one netlink batch each (libnftnl + libmnl). */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "portpilot/nft.h"
#include "portpilot/util.h"

/*
 * libnftables fetches every element of a map before it deletes one (18 ms at 20,000 elements
 * on the bench machine, most of a one-mapping change); the kernel needs only the key. This
 * path takes the transactions pp_nft_plan_make writes for dnat_to alone (deletes, then adds,
 * the only kind a mapping's target change makes when no allow list, masquerade or per-mapping
 * hairpin is involved) and sends them as one batch: one kernel transaction, all or nothing.
 * Anything else, and any element it does not read back exactly, stays with libnftables.
 */
#define CHUNK 1000                      /* elements per message */
#define PREFIX_DEL "delete element inet " PP_NFT_TABLE " dnat_to { "
#define PREFIX_ADD "add element inet " PP_NFT_TABLE " dnat_to { "

struct elem {
	uint8_t key[8], data[8];
	bool has_data, has_counter;
	unsigned long long pkts, bytes;
	char comment[128];
};

struct elems {
	struct elem *v;
	size_t n, cap;
};

/* A new slot at the end of es. */
static struct elem *
elem_next(struct elems *es)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 1024;
		es->v = pp_xrealloc(es->v, es->cap * sizeof *es->v);
	}
	return &es->v[es->n];
}

static const char *
lit(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncmp(s, word, n) == 0 ? s + n : NULL;
}

static const char *
num(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *v > max ? NULL : end;
}

/* "ip . port" or "proto . port" into 8 bytes: each field of a concatenation takes 4. */
static const char *
port_field(const char *s, uint8_t out[4])
{
	unsigned long long p;
	if (!(s = lit(s, " . ")) || !(s = num(s, 65535, &p)))
		return NULL;
	uint16_t be = htons((uint16_t)p);
	memset(out, 0, 4);
	memcpy(out, &be, 2);
	return s;
}

/* One element as el_put writes it: "tcp . P[ counter packets N bytes M][ comment \"T\"][ : IP . P]". */
static const char *
elem_parse(const char *s, bool with_value, struct elem *e)
{
	memset(e, 0, sizeof *e);
	const char *t;
	if ((t = lit(s, "tcp")))
		e->key[0] = IPPROTO_TCP;
	else if ((t = lit(s, "udp")))
		e->key[0] = IPPROTO_UDP;
	if (!t || !(s = port_field(t, e->key + 4)))
		return NULL;
	if (!with_value)
		return s;
	if ((t = lit(s, " counter packets "))) {
		if (!(t = num(t, ~0ULL, &e->pkts)) || !(t = lit(t, " bytes ")) || !(s = num(t, ~0ULL, &e->bytes)))
			return NULL;
		e->has_counter = true;
	}
	if ((t = lit(s, " comment \""))) {
		size_t n = strcspn(t, "\"\\");
		if (t[n] != '"' || n >= sizeof e->comment)
			return NULL;
		memcpy(e->comment, t, n);
		s = t + n + 1;
	}
	if (!(s = lit(s, " : ")))
		return NULL;
	char ip[16];
	size_t n = strspn(s, "0123456789.");
	if (n >= sizeof ip)
		return NULL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return NULL;
	memcpy(e->data, &a, 4);
	e->has_data = true;
	return port_field(s + n, e->data + 4);
}

/* One "delete/add element ... dnat_to { a, b }" line into v (elements appended). */
static bool
line_parse(const char *l, size_t len, bool add, struct elems *v)
{
	const char *s = lit(l, add ? PREFIX_ADD : PREFIX_DEL);
	if (!s)
		return false;
	for (;;) {
		if (!(s = elem_parse(s, add, elem_next(v))))
			return false;
		v->n++;
		if (lit(s, " }") && (size_t)(s + 2 - l) == len)
			return true;
		if (!(s = lit(s, ", ")))
			return false;
	}
}

static struct nftnl_set_elem *
elem_build(const struct elem *e)
{
	struct nftnl_set_elem *x = nftnl_set_elem_alloc();
	if (!x)
		return NULL;
	nftnl_set_elem_set(x, NFTNL_SET_ELEM_KEY, e->key, sizeof e->key);
	if (e->has_data)
		nftnl_set_elem_set(x, NFTNL_SET_ELEM_DATA, e->data, sizeof e->data);
	if (e->comment[0]) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
		if (u && nftnl_udata_put_strz(u, NFTNL_UDATA_SET_ELEM_COMMENT, e->comment))
			nftnl_set_elem_set(x, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	if (e->has_counter) {
		struct nftnl_expr *c = nftnl_expr_alloc("counter");
		if (c) {
			nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_PACKETS, e->pkts);
			nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_BYTES, e->bytes);
			nftnl_set_elem_add_expr(x, c);
		}
	}
	return x;
}

/* One NEWSETELEM/DELSETELEM message of v[0..n) into the batch. */
static bool
put_msg(struct mnl_nlmsg_batch *b, bool add, const struct elem *v, size_t n, uint32_t *seq)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return false;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, PP_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "dnat_to");
	for (size_t i = 0; i < n; i++) {
		struct nftnl_set_elem *x = elem_build(&v[i]);
		if (!x) {
			nftnl_set_free(s);
			return false;
		}
		nftnl_set_elem_add(s, x);
	}
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), add ? NFT_MSG_NEWSETELEM
	                                           : NFT_MSG_DELSETELEM, NFPROTO_INET,
	                                           (add ? NLM_F_CREATE | NLM_F_EXCL : 0) | NLM_F_ACK, (*seq)++);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	return mnl_nlmsg_batch_next(b);
}

/* All of v, CHUNK elements a message. */
static bool
put_msgs(struct mnl_nlmsg_batch *b, bool add, const struct elems *v, uint32_t *seq)
{
	bool ok = true;
	for (size_t i = 0; ok && i < v->n; i += CHUNK)
		ok = put_msg(b, add, v->v + i, v->n - i < CHUNK ? v->n - i : CHUNK, seq);
	return ok;
}

/*
 * The process's one socket, opened at the first batch and left to the exit: closing a
 * netfilter socket right after a commit that deleted elements waits for nf_tables' deferred
 * frees (an RCU grace period: 10-20 ms here, measured with strace -T on close), which the
 * apply does not need; at the exit, that period has mostly passed.
 */
static struct mnl_socket *
batch_socket(void)
{
	static struct mnl_socket *nl;
	static struct stat ns;
	struct stat now;
	/* a socket talks to the namespace it was opened in: a new one after a setns() */
	if (stat("/proc/thread-self/ns/net", &now) < 0)
		return NULL;
	if (nl && now.st_ino == ns.st_ino && now.st_dev == ns.st_dev)
		return nl;
	if (nl)
		mnl_socket_close(nl);
	ns = now;
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl)
		return NULL;
	/* a lost ack must not hang the apply: the caller then tries libnftables, which says why */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	return nl;
}

/* The batches' sequence numbers: one run of them per process (set at the first batch). */
static uint32_t seq_next;

/* Send the batch and read every ack: 0 when the kernel took it all. */
static int
send_batch(struct mnl_nlmsg_batch *b, uint32_t first_seq, uint32_t last_seq)
{
	struct mnl_socket *nl = batch_socket();
	if (!nl)
		return -1;
	int rc = -1;
	/* a whole table is a few MB in one send (EMSGSIZE with the default buffer); root may force it */
	int sz = (int)mnl_nlmsg_batch_size(b) + 65536;
	if (sz > 200000 && setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) >= 0) {
		char buf[MNL_SOCKET_BUFFER_SIZE];
		/* one ack per message (NLM_F_ACK); an error ends the batch, nothing committed */
		size_t acks = 0, want = last_seq - first_seq;
		rc = 0;
		while (rc == 0 && acks < want) {
			ssize_t got = mnl_socket_recvfrom(nl, buf, sizeof buf);
			if (got <= 0) {
				rc = -1;
				break;
			}
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)got);
			     h = mnl_nlmsg_next(h, (int *)&got)) {
				/* acks of this batch only (an earlier one's may be left on the socket) */
				if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq - first_seq >= last_seq - first_seq)
					continue;
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				if (e->error) {
					errno = -e->error;
					rc = -1;
				}
				acks++;
			}
		}
	}
	return rc;
}

/* The elements of text's lines: deletes in del, adds in add. false when text is not dnat_to's alone. */
static bool
text_parse(const char *text, struct elems *del, struct elems *add)
{
	bool adds = false;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		bool is_add = strncmp(l, "add ", 4) == 0;
		/* deletes before adds, as the plan writes them */
		if ((adds && !is_add) || !line_parse(l, len, is_add, is_add ? add : del))
			return false;
		adds |= is_add;
		l += len;
		if (*l)
			l++;
	}
	return del->n + add->n > 0;
}

bool
pp_nft_batch_fits(const char *text, size_t *deleted, size_t *added)
{
	struct elems del = { 0 }, add = { 0 };
	bool fits = text_parse(text, &del, &add);
	*deleted = del.n;
	*added = add.n;
	free(del.v);
	free(add.v);
	return fits;
}


/*
 * ---- a whole table (a new one, a layout change, a restore) ----
 *
 * libnftables spends most of such a transaction on dnat_to's elements (20,000 lines of text
 * parsed, evaluated and turned into netlink: about 150 ms of 170). The rest of the table,
 * its "skeleton" (sets, chains, rules, the small sets' elements), is libnftables' own
 * netlink: a dry run of the text without dnat_to's elements prints the batch it builds
 * (NFT_DEBUG_MNL, every 4 bytes of every message), which is read back into bytes, each
 * message checked against its length. The batch sent is then those messages and, after
 * them, dnat_to's elements built here: ONE transaction, the kernel takes it all or nothing.
 */
#define FULL_HEAD "table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\ntable inet " PP_NFT_TABLE " {\n"
#define DNAT_OPEN "\n\tmap dnat_to {\n"
#define ELEMS_OPEN "\telements = { "
#define SKEL_SMALL (64 * 1024)          /* a skeleton this small is batched whatever dnat_to holds */

/* dnat_to's elements of a whole-table text into es; [*from, *to) the span of their line. */
static bool
full_split(const char *text, struct elems *es, const char **from, const char **to)
{
	if (strncmp(text, FULL_HEAD, strlen(FULL_HEAD)) != 0)
		return false;
	const char *m = strstr(text, DNAT_OPEN), *end = m ? strstr(m + 1, "\n\t}\n") : NULL;
	const char *e = m ? strstr(m, ELEMS_OPEN) : NULL;
	if (!e || !end || e > end)
		return false;
	/* The rest of the table goes through a libnftables dry run and its dump: the gain is dnat_to's
	   share. Large other sets (20,000 allow lists: restricted and allowed as large as dnat_to)
	   would cost that dry run and dump on top of libnftables' own time (measured: 40 s against
	   21 s), so such a table stays with libnftables. */
	size_t dnat = (size_t)(end - e), rest = strlen(text) - dnat;
	if (rest > SKEL_SMALL && rest > dnat)
		return false;
	while (e[-1] == '\t')
		e--;
	*from = e;
	const char *s = strstr(e, ELEMS_OPEN) + strlen(ELEMS_OPEN);
	for (;;) {
		if (!(s = elem_parse(s, true, elem_next(es))))
			return false;
		es->n++;
		const char *t = lit(s, " }\n");
		if (t) {
			*to = t;
			return true;
		}
		if (!(s = lit(s, ",")))
			return false;
		s += strspn(s, " \t\n");
	}
}

/* The flags libnftables sets on what it adds (the dump does not print them): create, rules appended. */
static bool
msg_flags(uint16_t type, uint16_t *flags)
{
	switch (type & 0xff) {
	case NFT_MSG_NEWRULE:
		*flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
		return true;
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_NEWSET:
	case NFT_MSG_NEWSETELEM:
		*flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
		return true;
	case NFT_MSG_DELTABLE:
		*flags = NLM_F_REQUEST | NLM_F_ACK;
		return true;
	default:
		return false;                   /* anything else: libnftables does the whole of it */
	}
}

struct dump {
	struct pp_buf msgs;             /* the batch's messages, back to back */
	size_t n;                       /* how many */
	bool in_batch, bad;
	size_t start;                   /* where the message being read starts in msgs */
};

static void
put_u32(struct pp_buf *b, uint32_t v)
{
	pp_buf_add(b, (const char *)&v, 4);
}

/* The message read so far is complete: keep it when it belongs to the batch. */
static void
dump_end(struct dump *d)
{
	size_t len = d->msgs.len - d->start;
	if (len == 0)
		return;
	struct nlmsghdr h;
	memcpy(&h, d->msgs.data + d->start, sizeof h);
	bool keep = false;
	if (len != NLMSG_ALIGN(h.nlmsg_len) || len < NLMSG_HDRLEN)
		d->bad = true;
	else if (h.nlmsg_type == NFNL_MSG_BATCH_BEGIN)
		d->in_batch = true;
	else if (h.nlmsg_type == NFNL_MSG_BATCH_END || h.nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES)
		d->in_batch = false;
	else if (d->in_batch) {
		keep = true;
		d->bad |= !msg_flags(h.nlmsg_type, &h.nlmsg_flags);
		memcpy(d->msgs.data + d->start, &h, sizeof h);
		d->n++;
	}
	if (!keep)
		d->msgs.len = d->start;
	d->start = d->msgs.len;
}

/* One line of libmnl's dump (colours taken out): every row is 4 bytes of the message. */
static void
dump_line(struct dump *d, const char *l)
{
	unsigned a[4];
	char f[2];
	if (strstr(l, "| message length |") && sscanf(l, "| %u", &a[0]) == 1) {
		dump_end(d);
		put_u32(&d->msgs, a[0]);
	} else if (strstr(l, "|  type | flags  |") && sscanf(l, "| %u |", &a[0]) == 1) {
		uint16_t tf[2] = { (uint16_t)a[0], 0 };
		pp_buf_add(&d->msgs, (const char *)tf, 4);
	} else if (strstr(l, "| sequence number|") || strstr(l, "|     port ID    |")) {
		put_u32(&d->msgs, 0);
	} else if (strstr(l, "|len |flags| type|") && sscanf(l, "|%u|%c%c|%u|", &a[0], &f[0], &f[1], &a[1]) == 4) {
		uint16_t at[2] = { (uint16_t)a[0], (uint16_t)(a[1] | (f[0] == 'N' ? NLA_F_NESTED : 0) |
		                                              (f[1] == 'B' ? NLA_F_NET_BYTEORDER : 0)) };
		pp_buf_add(&d->msgs, (const char *)at, 4);
	} else if ((strstr(l, "|      data      |") || strstr(l, "|  extra header  |")) &&
	           sscanf(l, "| %2x %2x %2x %2x", &a[0], &a[1], &a[2], &a[3]) == 4) {
		char by[4] = { (char)a[0], (char)a[1], (char)a[2], (char)a[3] };
		pp_buf_add(&d->msgs, by, 4);
	} else if (l[0] == '|') {
		d->bad = true;                  /* a row this reader does not know */
	}
}

/* The skeleton's batch as libnftables builds it (a dry run: nothing committed). */
static bool
skel_messages(const char *skel, struct dump *d)
{
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c)
		return false;
	nft_ctx_buffer_output(c);
	nft_ctx_buffer_error(c);
	nft_ctx_set_dry_run(c, true);
	nft_ctx_output_set_debug(c, NFT_DEBUG_MNL);
	bool ok = nft_run_cmd_from_buffer(c, skel) == 0;
	const char *out = nft_ctx_get_output_buffer(c);
	char line[512];
	for (const char *l = out; ok && l && *l;) {
		size_t n = strcspn(l, "\n"), k = 0;
		/* libmnl colours the attribute rows: ESC [ ... m taken out */
		for (size_t i = 0; i < n && k < sizeof line - 1; i++) {
			if (l[i] == '\033') {
				while (i < n && l[i] != 'm')
					i++;
				continue;
			}
			line[k++] = l[i];
		}
		line[k] = '\0';
		dump_line(d, line);
		l += n + (l[n] == '\n');
	}
	dump_end(d);
	nft_ctx_free(c);
	return ok && !d->bad && d->n > 0;
}

/* Tests: PORTPILOT_NFT_FAULT=batch adds dnat_to's first element twice, which the kernel refuses. */
static bool
fault_batch(void)
{
	const char *f = getenv("PORTPILOT_NFT_FAULT");
	return f && strcmp(f, "batch") == 0;
}

/* One batch: skel's messages (NULL: none), dnat_to's deletes, then its adds. 1: committed. */
static int
batch_commit(const struct dump *skel, const struct elems *del, const struct elems *add)
{
	size_t size = (skel ? skel->msgs.len : 0) + (del->n + add->n + 1) * 256 + 4 * MNL_SOCKET_BUFFER_SIZE;
	char *buf = pp_xcalloc(1, size);
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, size);
	uint32_t seq = seq_next;
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	bool ok = mnl_nlmsg_batch_next(b);
	uint32_t msgs = seq;
	for (size_t off = 0; skel && ok && off < skel->msgs.len;) {
		struct nlmsghdr *h = mnl_nlmsg_batch_current(b);
		const struct nlmsghdr *from = (const struct nlmsghdr *)(skel->msgs.data + off);
		size_t len = NLMSG_ALIGN(from->nlmsg_len);
		memcpy(h, from, len);
		h->nlmsg_seq = seq++;
		off += len;
		ok = mnl_nlmsg_batch_next(b);
	}
	ok = ok && put_msgs(b, false, del, &seq) && put_msgs(b, true, add, &seq);
	if (ok && skel && add->n && fault_batch())
		ok = put_msg(b, true, add->v, 1, &seq);
	uint32_t msgs_end = seq;
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq++);
	seq_next = seq;
	ok = ok && mnl_nlmsg_batch_next(b);
	int rc = ok && send_batch(b, msgs, msgs_end) == 0 ? 1 : 0;
	mnl_nlmsg_batch_stop(b);
	free(buf);
	return rc;
}

/* A whole-table text as one batch: 1 committed; 0 not one it takes, or refused (nothing changed). */
static int
full_try(const char *text)
{
	struct elems es = { 0 };
	const char *from, *to;
	int rc = 0;
	if (full_split(text, &es, &from, &to)) {
		struct pp_buf skel = { 0 };
		pp_buf_add(&skel, text, (size_t)(from - text));
		pp_buf_addstr(&skel, to);
		struct dump d = { 0 };
		struct elems none = { 0 };
		if (skel_messages(skel.data, &d))
			rc = batch_commit(&d, &none, &es);
		pp_buf_free(&d.msgs);
		pp_buf_free(&skel);
	}
	free(es.v);
	return rc;
}

bool
pp_nft_batch_full(const char *text, size_t *added)
{
	struct elems es = { 0 };
	const char *from, *to;
	bool fits = full_split(text, &es, &from, &to);
	*added = fits ? es.n : 0;
	free(es.v);
	return fits;
}

int
pp_nft_batch_try(const char *text)
{
	const char *mode = getenv("PORTPILOT_NFT_BATCH");
	if (mode && strcmp(mode, "off") == 0)
		return 0;
	if (!seq_next)
		seq_next = (uint32_t)time(NULL);
	if (strncmp(text, FULL_HEAD, strlen(FULL_HEAD)) == 0)
		return full_try(text);
	struct elems del = { 0 }, add = { 0 };
	int rc = text_parse(text, &del, &add) ? batch_commit(NULL, &del, &add) : 0;
	free(del.v);
	free(add.v);
	return rc;
}

int
pp_nft_commit_text(const char *text, struct pp_error *err)
{
	if (pp_nft_batch_try(text) == 1)
		return 0;
	/* tests: the batch alone (was it taken? does a refusal leave the old table?) */
	const char *mode = getenv("PORTPILOT_NFT_BATCH");
	if (fault_batch() || (mode && strcmp(mode, "only") == 0))
		return pp_error_set(err, "nft: the batch was refused or not taken (PORTPILOT_NFT_BATCH=only or "
		                    "PORTPILOT_NFT_FAULT=batch), nothing changed");
	return pp_nft_run(text, false, NULL, err);
}
