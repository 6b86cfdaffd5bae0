/* Packet capture on the WAN and LAN sides at once (libpcap), replay and saving of the evidence. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "portpilot/probe.h"
#include "portpilot/util.h"

/* Saved files use Linux SLL2 so one file keeps which side a packet was seen on. */
#define IFX_WAN 1
#define IFX_LAN 2

/*
 * The longest header stack the probe reads: a link header (SLL2: 20, Ethernet
 * with a VLAN tag: 18), IPv4 with options (60), and for an ICMP error its
 * 8 bytes, the quoted IPv4 header (60) and the quoted TCP header (60). The
 * probe never looks at payload, so the live capture stops there.
 */
#define HDR_MAX (20 + 60 + 8 + 60 + 60)   /* IPv6 needs less: 20 + 40 + 8 + 40 + 60 */
#define SNAPLEN HDR_MAX

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

static void
port_expr(struct pp_buf *b, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		pp_buf_printf(b, "port %u", lo);
	else
		pp_buf_printf(b, "portrange %u-%u", lo, hi);
}

char *
pp_capture_filter(const struct pp_trace_ctx *c, enum pp_side side)
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
	/* ICMPv6 unreachable and time exceeded (right behind the fixed header: ip6[40] is its type). */
	pp_buf_addstr(&b, " or (icmp6 and (ip6[40] == 1 or ip6[40] == 3))");
	/* The server's ARP requests show which gateway it sends replies to. */
	if (side == PP_SIDE_LAN)
		pp_buf_printf(&b, " or (arp and arp[14:4] = 0x%08x)", c->internal_ip);
	return b.data;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void
parse_l4(const uint8_t *l4, size_t len, uint8_t proto, struct pp_packet *p)
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

static int
parse_ipv4(const uint8_t *ip, size_t len, struct pp_packet *p)
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

/* The upper-layer header behind an IPv6 header: hop-by-hop, routing, destination options and a
 * first fragment are walked (a later fragment has no ports). Its protocol and offset, or -1. */
static int
ipv6_upper(const uint8_t *ip, size_t len, size_t *off)
{
	uint8_t nh = ip[6];
	size_t o = 40;
	while ((nh == 0 || nh == 43 || nh == 60 || nh == 44) && o + 8 <= len) {
		if (nh == 44 && (((ip[o + 2] << 8) | ip[o + 3]) & 0xfff8))
			return -1;
		size_t hl = nh == 44 ? 8 : (ip[o + 1] + 1u) * 8;
		nh = ip[o];
		o += hl;
	}
	*off = o;
	return o <= len ? nh : -1;
}

/* IPv6: TCP or UDP (behind any extension headers), or an ICMPv6 error (type 1 unreachable,
 * 3 time exceeded) quoting such a packet. */
static int
parse_ipv6(const uint8_t *ip, size_t len, struct pp_packet *p)
{
	size_t off;
	if (len < 40 || (ip[0] >> 4) != 6)
		return -1;
	int nh = ipv6_upper(ip, len, &off);
	p->v6 = true;
	memcpy(p->src6, ip + 8, 16);
	memcpy(p->dst6, ip + 24, 16);
	if (nh == IPPROTO_TCP || nh == IPPROTO_UDP) {
		p->proto = (uint8_t)nh;
		parse_l4(ip + off, len - off, (uint8_t)nh, p);
		return 0;
	}
	const uint8_t *in = ip + off + 8;
	if (nh != IPPROTO_ICMPV6 || len < off + 8 + 40 || (ip[off] != 1 && ip[off] != 3) ||
	    (in[0] >> 4) != 6 || (in[6] != IPPROTO_TCP && in[6] != IPPROTO_UDP))
		return -1;
	p->kind = ip[off] == 1 ? PP_PKT_ICMP_UNREACH : PP_PKT_ICMP_OTHER;
	p->icmp_code = ip[off + 1];
	memcpy(p->icmp_from6, ip + 8, 16);
	p->proto = in[6];
	memcpy(p->src6, in + 8, 16);
	memcpy(p->dst6, in + 24, 16);
	struct pp_packet q = { 0 };
	parse_l4(in + 40, len - off - 48, in[6], &q);
	p->sport = q.sport;
	p->dport = q.dport;
	return 0;
}

static int
parse_arp(const uint8_t *a, size_t len, struct pp_packet *p)
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
static int
parse_nflog(const uint8_t *d, size_t len, struct pp_packet *p)
{
	if (len < 4 || (d[0] != 2 /* AF_INET */ && d[0] != 10 /* AF_INET6 */))
		return -1;
	for (size_t off = 4; off + 4 <= len;) {
		uint16_t tl, tt;
		memcpy(&tl, d + off, 2);
		memcpy(&tt, d + off + 2, 2);
		if (tl < 4)
			return -1;
		/* The payload may be cut by the snap length; its headers are all we need. */
		if (tt == 9)
			return (d[0] == 2 ? parse_ipv4 : parse_ipv6)(d + off + 4, off + tl > len ? len - off - 4 : tl - 4u, p);
		if (off + tl > len)
			return -1;
		off += (tl + 3u) & ~3u;
	}
	return -1;
}

int
pp_nflog_prefix(const uint8_t *d, size_t len, char *out, size_t n)
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

int
pp_packet_parse(int dlt, const uint8_t *d, size_t len, struct pp_packet *p, int *ifindex)
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
	if (type == 0x86dd || (type == 0x0800 && (dlt == DLT_RAW) && len > off && (d[off] >> 4) == 6))
		return parse_ipv6(d + off, len - off, p);
	if (type != 0x0800)
		return -1;
	return parse_ipv4(d + off, len - off, p);
}

/* Bytes of a TCP (its data offset) or UDP (8) header at l4, of n captured; the rest is payload. */
static size_t
l4_headers(const uint8_t *l4, size_t n, uint8_t proto)
{
	size_t want = proto == IPPROTO_TCP ? (n >= 13 && (l4[12] >> 4) >= 5 ? (size_t)(l4[12] >> 4) * 4 : 20)
	            : proto == IPPROTO_UDP ? 8 : 0;
	return want < n ? want : n;
}

/*
 * How much of a network-layer packet (ethertype type) is headers: IPv4 and its
 * TCP/UDP header, an ICMP error with the header of the packet it quotes, ARP,
 * IPv6's fixed header and a TCP/UDP one right behind it. Everything after is a
 * client's payload (an Authorization header, a cookie) and stays out of the file.
 */
static size_t
headers_len(const uint8_t *d, size_t n, uint16_t type)
{
	if (type == 0x8100 && n >= 4)              /* VLAN tag, then the real type */
		return 4 + headers_len(d + 4, n - 4, be16(d + 2));
	if (type == 0x0806)
		return n < 28 ? n : 28;
	if (type == 0x86dd) {
		if (n < 40)
			return n;
		/* An ICMPv6 error: its 8 bytes and the quoted IPv6 and TCP/UDP headers. */
		if (d[6] == IPPROTO_ICMPV6 && n >= 88 && (d[40] == 1 || d[40] == 3))
			return 88 + l4_headers(d + 88, n - 88, d[54]);
		return 40 + l4_headers(d + 40, n - 40, d[6]);
	}
	if (type != 0x0800)
		return 0;                              /* nothing the probe reads: the link header alone */
	if (n < 20)
		return n;
	size_t ihl = (size_t)(d[0] & 15) * 4;
	if (ihl < 20 || ihl > n)
		return n < 20 ? n : 20;
	if (be16(d + 6) & 0x1fff)
		return ihl;                            /* a later fragment: all payload */
	const uint8_t *l4 = d + ihl;
	size_t l4n = n - ihl;
	if (d[9] != IPPROTO_ICMP)
		return ihl + l4_headers(l4, l4n, d[9]);
	if (l4n < 8 || (l4[0] != 3 && l4[0] != 11))
		return ihl + (l4n < 8 ? l4n : 8);      /* echo and the like: their data is payload */
	const uint8_t *q = l4 + 8;
	size_t qn = l4n - 8, qihl = (size_t)(q[0] & 15) * 4;
	if (qn < 20 || qihl < 20 || qihl > qn)
		return ihl + 8 + (qn < 20 ? qn : 20);
	return ihl + 8 + qihl + l4_headers(q + qihl, qn - qihl, q[9]);
}

/* Rewrite a frame as Linux SLL2 carrying the side as if_index, headers only, then save it. */
static void
save(struct pp_capture *cap, int side, const struct pcap_pkthdr *h, const uint8_t *d)
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
	size_t n = headers_len(d + off, h->caplen - off, type);
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

static void
on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *d)
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

static pcap_t *
open_live(const char *ifname, const char *filter, struct pp_error *err)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	pcap_t *h = pcap_create(ifname, eb);
	if (!h) {
		pp_error_set(err, "capture on %s: %s", ifname, eb);
		return NULL;
	}
	pcap_set_snaplen(h, SNAPLEN);
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

static int
open_both(struct pp_capture *cap, const struct pp_capture_opts *o,
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

/*
 * The evidence file, mode 0600 from its first byte: a new file, or one of our
 * own regular files replaced in place. Never through a symbolic link, never a
 * file of another user or with other names (hard links), never a FIFO or
 * device: root writes it, in directories others may write to.
 */
static int
open_file_0600(const char *path, struct pp_error *err)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (errno != EEXIST)
		return pp_error_set(err, "--write %s: %s", path, strerror(errno));
	/* O_NONBLOCK: a FIFO without a reader fails at once instead of hanging the probe. */
	fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return pp_error_set(err, "--write %s: is a symbolic link; the capture is not written through "
		                    "links: name a new file", path);
	if (fd < 0)
		return pp_error_set(err, "--write %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		close(fd);
		return pp_error_set(err, "--write %s: exists and is not a regular file of uid %u with one "
		                    "name; the capture replaces only its own files: remove it or name a new file",
		                    path, (unsigned)geteuid());
	}
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, 0) < 0 || fcntl(fd, F_SETFL, 0) < 0) {
		int e = errno;
		close(fd);
		return pp_error_set(err, "--write %s: %s", path, strerror(e));
	}
	return fd;
}

static int
open_evidence(struct pp_capture *cap, const char *path, struct pp_error *err)
{
	int fd = open_file_0600(path, err);
	FILE *f;

	if (fd < 0)
		return -1;
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		return pp_error_set(err, "--write %s: %s", path, strerror(errno));
	}
	/* The file's snap length says what it holds: headers, cut where the payload begins. */
	cap->dead = pcap_open_dead(DLT_LINUX_SLL2, 20 + HDR_MAX);
	cap->dump = pcap_dump_fopen(cap->dead, f);
	/* With a valid link type it fails only writing the header, and then closes f itself. */
	if (!cap->dump)
		return pp_error_set(err, "--write %s: %s", path, pcap_geterr(cap->dead));
	return 0;
}

int
pp_capture_open(const struct pp_capture_opts *o, const struct pp_trace_ctx *c,
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
	if (o->write_path && !cap->replay && open_evidence(cap, o->write_path, err) < 0) {
		pp_capture_close(cap);
		return -1;
	}
	*out = cap;
	return 0;
}

int
pp_capture_fds(struct pp_capture *cap, int fds[2])
{
	for (int s = 0; s < 2; s++)
		fds[s] = cap->h[s] && !cap->replay ? pcap_get_selectable_fd(cap->h[s]) : -1;
	return 2;
}

int
pp_capture_dispatch(struct pp_capture *cap, void (*fn)(const struct pp_packet *p, void *arg),
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

void
pp_capture_close(struct pp_capture *cap)
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
static bool
caps_left(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	if (syscall(SYS_capget, &h, d) < 0)
		return true;
	return d[0].effective | d[1].effective | d[0].permitted | d[1].permitted;
}

int
pp_drop_to(uid_t uid, gid_t gid, const char *name, const char *who, struct pp_error *err)
{
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return pp_error_set(err, "%scannot drop privileges to %s: %s", who, name, strerror(errno));
	/* A drop that can be undone, or that left capabilities, is no drop. */
	if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0 || caps_left())
		return pp_error_set(err, "%sdropped to %s, yet root or capabilities remain", who, name);
	return 0;
}

int
pp_drop_privileges(struct pp_error *err)
{
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		return pp_error_set(err, "cannot drop privileges: no user 'nobody'");
	return pp_drop_to(pw->pw_uid, pw->pw_gid, "nobody", "", err);
}
