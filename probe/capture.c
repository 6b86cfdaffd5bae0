/* Packet capture on the WAN and LAN sides at once (libpcap), replay and saving of the evidence. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"

/* Saved files use Linux SLL2 so one file keeps which side a packet was seen on. */
#define IFX_WAN 1
#define IFX_LAN 2

struct pp_capture {
	pcap_t *h[2];                  /* WAN, LAN; h[0] alone for a replay */
	int dlt[2];
	bool replay;
	pcap_t *dead;
	pcap_dumper_t *dump;
};

struct cb_ctx {
	struct pp_capture *cap;
	int side;
	void (*fn)(const struct pp_packet *p, void *arg);
	void *arg;
	int count;
};

static void port_expr(struct pp_buf *b, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		pp_buf_printf(b, "port %u", lo);
	else
		pp_buf_printf(b, "portrange %u-%u", lo, hi);
}

char *pp_capture_filter(const struct pp_trace_ctx *c, enum pp_side side)
{
	struct pp_buf b = { 0 };
	char ip[16];
	pp_buf_addstr(&b, "((tcp or udp) and (");
	if (side == PP_SIDE_LAN) {
		pp_format_ipv4(c->internal_ip, ip);
		pp_buf_printf(&b, "(host %s and ", ip);
		port_expr(&b, c->in_lo, c->in_hi);
		pp_buf_addstr(&b, ") or ");
	}
	port_expr(&b, c->pub_lo, c->pub_hi);
	/* ICMP errors (unreachable, time exceeded) say why an attempt died. */
	pp_buf_addstr(&b, ")) or (icmp and (icmp[0] == 3 or icmp[0] == 11))");
	/* The server's ARP requests show which gateway it sends replies to. */
	if (side == PP_SIDE_LAN)
		pp_buf_printf(&b, " or (arp and arp[14:4] = 0x%08x)", c->internal_ip);
	return b.data;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void parse_l4(const uint8_t *l4, size_t len, uint8_t proto, struct pp_packet *p)
{
	if (len >= 4) {
		p->sport = be16(l4);
		p->dport = be16(l4 + 2);
	}
	if (proto == IPPROTO_UDP) {
		p->kind = PP_PKT_UDP;
	} else if (len >= 14) {
		uint8_t fl = l4[13];
		p->kind = (fl & 0x04) ? PP_PKT_RST : (fl & 0x02) ? ((fl & 0x10) ? PP_PKT_SYNACK : PP_PKT_SYN)
		                                                 : PP_PKT_TCP;
	} else {
		p->kind = PP_PKT_TCP;
	}
}

static int parse_ipv4(const uint8_t *ip, size_t len, struct pp_packet *p)
{
	if (len < 20 || (ip[0] >> 4) != 4)
		return -1;
	size_t ihl = (ip[0] & 15) * 4;
	if (ihl < 20 || len < ihl || (be16(ip + 6) & 0x1fff))
		return -1;
	uint8_t proto = ip[9];
	const uint8_t *l4 = ip + ihl;
	size_t l4len = len - ihl;
	p->src = be32(ip + 12);
	p->dst = be32(ip + 16);
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		p->proto = proto;
		parse_l4(l4, l4len, proto, p);
		return 0;
	}
	if (proto != IPPROTO_ICMP || l4len < 8 + 20)
		return -1;
	/* An ICMP error quotes the packet it is about: keep that packet's addresses. */
	struct pp_packet q = { 0 };
	const uint8_t *in = l4 + 8;
	size_t inl = l4len - 8, qihl = (in[0] & 15) * 4;
	if ((in[0] >> 4) != 4 || qihl < 20 || inl < qihl || (in[9] != IPPROTO_TCP && in[9] != IPPROTO_UDP))
		return -1;
	q.src = be32(in + 12);
	q.dst = be32(in + 16);
	parse_l4(in + qihl, inl - qihl, in[9], &q);
	p->kind = l4[0] == 3 ? PP_PKT_ICMP_UNREACH : PP_PKT_ICMP_OTHER;
	p->icmp_code = l4[1];
	p->icmp_from = p->src;
	p->proto = in[9];
	p->src = q.src;
	p->dst = q.dst;
	p->sport = q.sport;
	p->dport = q.dport;
	return 0;
}

static int parse_arp(const uint8_t *a, size_t len, struct pp_packet *p)
{
	/* Ethernet/IPv4 requests only: sender IP at 14, target IP at 24. */
	if (len < 28 || be16(a) != 1 || be16(a + 2) != 0x0800 || be16(a + 6) != 1)
		return -1;
	p->kind = PP_PKT_ARP;
	p->src = be32(a + 14);
	p->dst = be32(a + 24);
	return 0;
}

/* NFLOG: a 4-byte header, then TLVs (length and type in host order, padded to 4); 9 = payload. */
static int parse_nflog(const uint8_t *d, size_t len, struct pp_packet *p)
{
	if (len < 4 || d[0] != 2 /* AF_INET */)
		return -1;
	for (size_t off = 4; off + 4 <= len;) {
		uint16_t tl, tt;
		memcpy(&tl, d + off, 2);
		memcpy(&tt, d + off + 2, 2);
		if (tl < 4)
			return -1;
		/* The payload may be cut by the snap length; its headers are all we need. */
		if (tt == 9)
			return parse_ipv4(d + off + 4, off + tl > len ? len - off - 4 : tl - 4u, p);
		if (off + tl > len)
			return -1;
		off += (tl + 3u) & ~3u;
	}
	return -1;
}

int pp_nflog_prefix(const uint8_t *d, size_t len, char *out, size_t n)
{
	for (size_t off = 4; off + 4 <= len && n;) {
		uint16_t tl, tt;
		memcpy(&tl, d + off, 2);
		memcpy(&tt, d + off + 2, 2);
		if (tl < 4 || off + tl > len)
			break;
		if (tt == 10 /* NFULA_PREFIX, NUL-terminated */) {
			snprintf(out, n, "%.*s", (int)(tl - 4u), (const char *)d + off + 4);
			return 0;
		}
		off += (tl + 3u) & ~3u;
	}
	if (n)
		*out = '\0';
	return -1;
}

int pp_packet_parse(int dlt, const uint8_t *d, size_t len, struct pp_packet *p, int *ifindex)
{
	size_t off;
	uint16_t type;
	*ifindex = 0;
	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return -1;
		off = 14;
		type = be16(d + 12);
		if (type == 0x8100 && len >= 18) {
			type = be16(d + 16);
			off = 18;
		}
		break;
	case DLT_LINUX_SLL:
		if (len < 16)
			return -1;
		off = 16;
		type = be16(d + 14);
		break;
	case DLT_LINUX_SLL2:
		if (len < 20)
			return -1;
		off = 20;
		type = be16(d);
		*ifindex = (int)be32(d + 4);
		break;
	case DLT_RAW:
	case DLT_IPV4:
		off = 0;
		type = 0x0800;
		break;
	case DLT_NFLOG:
		return parse_nflog(d, len, p);
	default:
		return -1;
	}
	if (type == 0x0806)
		return parse_arp(d + off, len - off, p);
	if (type != 0x0800)
		return -1;
	return parse_ipv4(d + off, len - off, p);
}

/* Rewrite a frame as Linux SLL2 carrying the side as if_index, then save it. */
static void save(struct pp_capture *cap, int side, const struct pcap_pkthdr *h, const uint8_t *d)
{
	uint8_t buf[20 + 65536];
	size_t off = 0;
	uint16_t type = 0x0800;
	if (cap->dlt[side] == DLT_EN10MB) {
		if (h->caplen < 14)
			return;
		off = 14;
		type = be16(d + 12);
	} else if (cap->dlt[side] != DLT_RAW && cap->dlt[side] != DLT_IPV4) {
		return;
	}
	size_t n = h->caplen - off;
	if (n > sizeof buf - 20)
		n = sizeof buf - 20;
	memset(buf, 0, 20);
	buf[0] = type >> 8, buf[1] = type & 255;
	buf[7] = side == PP_SIDE_WAN ? IFX_WAN : IFX_LAN;
	buf[9] = 1; /* ARPHRD_ETHER */
	if (off) {
		buf[11] = 6;
		memcpy(buf + 12, d + 6, 6);
	}
	memcpy(buf + 20, d + off, n);
	struct pcap_pkthdr o = { .ts = h->ts, .caplen = (bpf_u_int32)(n + 20),
	                         .len = (bpf_u_int32)(h->len - off + 20) };
	pcap_dump((u_char *)cap->dump, &o, buf);
}

static void on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *d)
{
	struct cb_ctx *x = (struct cb_ctx *)arg;
	struct pp_packet p = { .ts = h->ts };
	int ifx;
	if (x->cap->dump)
		save(x->cap, x->side, h, d);
	if (pp_packet_parse(x->cap->dlt[x->side], d, h->caplen, &p, &ifx) < 0)
		return;
	p.side = x->cap->replay ? (ifx == IFX_LAN ? PP_SIDE_LAN : PP_SIDE_WAN) : (enum pp_side)x->side;
	x->count++;
	x->fn(&p, x->arg);
}

static pcap_t *open_live(const char *ifname, const char *filter, struct pp_error *err)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	pcap_t *h = pcap_create(ifname, eb);
	if (!h) {
		pp_error_set(err, "capture on %s: %s", ifname, eb);
		return NULL;
	}
	pcap_set_snaplen(h, 256);
	pcap_set_immediate_mode(h, 1);
	pcap_set_timeout(h, 50);
	pcap_set_buffer_size(h, 1 << 20);
	int rc = pcap_activate(h);
	if (rc < 0) {
		pp_error_set(err, "capture on %s: %s (run as root, check the interface name in [site])",
		             ifname, pcap_geterr(h));
		pcap_close(h);
		return NULL;
	}
	if (pcap_compile(h, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(h, &prog) < 0) {
		pp_error_set(err, "capture filter '%s' on %s: %s", filter, ifname, pcap_geterr(h));
		pcap_close(h);
		return NULL;
	}
	pcap_freecode(&prog);
	pcap_setnonblock(h, 1, eb);
	return h;
}

static int open_both(struct pp_capture *cap, const struct pp_capture_opts *o,
                     const struct pp_trace_ctx *c, struct pp_error *err)
{
	const char *ifs[2] = { o->wan_if, o->lan_if };
	for (int s = 0; s < 2; s++) {
		char *f = pp_capture_filter(c, (enum pp_side)s);
		cap->h[s] = open_live(ifs[s], f, err);
		free(f);
		if (!cap->h[s])
			return -1;
		cap->dlt[s] = pcap_datalink(cap->h[s]);
	}
	return 0;
}

int pp_capture_open(const struct pp_capture_opts *o, const struct pp_trace_ctx *c,
                    struct pp_capture **out, struct pp_error *err)
{
	struct pp_capture *cap = pp_xcalloc(1, sizeof *cap);
	char eb[PCAP_ERRBUF_SIZE] = "";
	*out = NULL;
	if (o->read_path) {
		cap->replay = true;
		cap->h[0] = pcap_open_offline(o->read_path, eb);
		if (!cap->h[0]) {
			free(cap);
			return pp_error_set(err, "--read %s: %s", o->read_path, eb);
		}
		cap->dlt[0] = pcap_datalink(cap->h[0]);
	} else if (open_both(cap, o, c, err) < 0) {
		pp_capture_close(cap);
		return -1;
	}
	if (o->write_path && !cap->replay) {
		cap->dead = pcap_open_dead(DLT_LINUX_SLL2, 65535);
		cap->dump = pcap_dump_open(cap->dead, o->write_path);
		if (!cap->dump) {
			pp_error_set(err, "--write %s: %s", o->write_path, pcap_geterr(cap->dead));
			pp_capture_close(cap);
			return -1;
		}
	}
	*out = cap;
	return 0;
}

int pp_capture_fds(struct pp_capture *cap, int fds[2])
{
	for (int s = 0; s < 2; s++)
		fds[s] = cap->h[s] && !cap->replay ? pcap_get_selectable_fd(cap->h[s]) : -1;
	return 2;
}

int pp_capture_dispatch(struct pp_capture *cap, void (*fn)(const struct pp_packet *p, void *arg),
                        void *arg)
{
	struct cb_ctx x = { .cap = cap, .fn = fn, .arg = arg };
	if (cap->replay) {
		if (!cap->h[0])
			return -1;
		pcap_loop(cap->h[0], -1, on_frame, (u_char *)&x);
		pcap_close(cap->h[0]);
		cap->h[0] = NULL;
		return x.count;
	}
	for (int s = 0; s < 2; s++) {
		x.side = s;
		pcap_dispatch(cap->h[s], -1, on_frame, (u_char *)&x);
	}
	if (cap->dump)
		pcap_dump_flush(cap->dump);
	return x.count;
}

void pp_capture_close(struct pp_capture *cap)
{
	if (!cap)
		return;
	for (int s = 0; s < 2; s++)
		if (cap->h[s])
			pcap_close(cap->h[s]);
	if (cap->dump)
		pcap_dump_close(cap->dump);
	if (cap->dead)
		pcap_close(cap->dead);
	free(cap);
}

/* Capabilities still held after the drop: none may survive (KEEPCAPS, ambient sets). */
static bool caps_left(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	if (syscall(SYS_capget, &h, d) < 0)
		return true;
	return d[0].effective | d[1].effective | d[0].permitted | d[1].permitted;
}

int pp_drop_privileges(struct pp_error *err)
{
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		return pp_error_set(err, "cannot drop privileges: no user 'nobody'");
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		return pp_error_set(err, "cannot drop privileges to nobody: %s", strerror(errno));
	/* A drop that can be undone, or that left capabilities, is no drop. */
	if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0 || caps_left())
		return pp_error_set(err, "dropped to nobody, yet root or capabilities remain");
	return 0;
}
