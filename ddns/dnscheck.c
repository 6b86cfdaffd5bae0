/* What DNS serves for a name: verifies an update at the zone's authoritative servers. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ddns-internal.h"

#define T_A    1
#define T_NS   2
#define T_AAAA 28

/* A plain RFC 1035 query; rd asks a resolver to recurse, an authoritative server needs none. */
static size_t
make_query(unsigned char *q, size_t cap, const char *host, int type, uint16_t id, bool rd)
{
	size_t n = 12;

	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[2] = rd ? 1 : 0;
	q[5] = 1;                                  /* one question */
	for (const char *p = host; *p;) {
		size_t l = strcspn(p, ".");
		if (l == 0 || l > 63 || n + l + 6 > cap)
			return 0;
		q[n++] = (unsigned char)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (p[l] == '.');
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = (unsigned char)type;
	q[n++] = 0;
	q[n++] = 1;                                /* class IN */
	return n;
}

/* Skip a (possibly compressed) name; returns the offset after it, 0 when malformed. */
static size_t
skip_name(const unsigned char *m, size_t len, size_t off)
{
	while (off < len) {
		if (m[off] == 0)
			return off + 1;
		if ((m[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (m[off] & 0xc0)
			return 0;                  /* 0x40/0x80: extended label types, not used here */
		off += (size_t)m[off] + 1;
	}
	return 0;
}

/*
 * The name at off, dotted, lower-case, without the final dot. Pointers are
 * followed a bounded number of times so a loop in the message cannot hang us.
 */
static int
read_name(const unsigned char *m, size_t len, size_t off, char *out, size_t cap)
{
	size_t o = 0;

	for (int hops = 0; hops < 32 && off < len;) {
		unsigned l = m[off];
		if (l == 0) {
			out[o] = '\0';
			return 0;
		}
		if ((l & 0xc0) == 0xc0) {
			if (off + 2 > len)
				return -1;
			off = ((l & 0x3f) << 8) | m[off + 1];
			hops++;
			continue;
		}
		if ((l & 0xc0) || off + 1 + l > len || o + l + 2 > cap)
			return -1;
		if (o)
			out[o++] = '.';
		for (unsigned i = 0; i < l; i++) {
			unsigned char c = m[off + 1 + i];
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		off += l + 1;
	}
	return -1;
}

/* Header checks shared by the parsers; returns the offset of the answer section, 0 if unusable. */
static size_t
header(const unsigned char *m, size_t len, uint16_t id, int *rcode, int *an, int *ar, int *ns)
{
	if (len < 12 || ((m[0] << 8) | m[1]) != id || !(m[2] & 0x80) || ((m[4] << 8) | m[5]) != 1)
		return 0;
	*rcode = m[3] & 0x0f;
	*an = (m[6] << 8) | m[7];
	*ns = (m[8] << 8) | m[9];
	*ar = (m[10] << 8) | m[11];
	size_t off = skip_name(m, len, 12);
	if (off == 0 || off + 4 > len)
		return 0;
	return off + 4;
}

/* Step over a resource record's owner and fixed fields: the offset of its data, 0 if it runs off the end. */
static size_t
next_record(const unsigned char *m, size_t len, size_t off, int *type, size_t *rdlen)
{
	if ((off = skip_name(m, len, off)) == 0 || off + 10 > len)
		return 0;
	*type = (m[off] << 8) | m[off + 1];
	*rdlen = (size_t)((m[off + 8] << 8) | m[off + 9]);
	off += 10;
	return off + *rdlen > len ? 0 : off;
}

int
ddns_dns_parse_addr(const unsigned char *m, size_t len, uint16_t id, bool v6, bool need_aa,
                    char *out, size_t outlen)
{
	int rcode, an, ar, ns, type = v6 ? T_AAAA : T_A;
	size_t off = header(m, len, id, &rcode, &an, &ar, &ns);

	if (off == 0)
		return -1;
	/* Only an authoritative answer says what the zone holds; a cache may be stale. */
	if (need_aa && !(m[2] & 0x04))
		return -1;
	if (rcode == 3)
		return 0;
	if (rcode != 0)
		return -1;
	for (int i = 0; i < an; i++) {
		int t;
		size_t rdlen;
		if ((off = next_record(m, len, off, &t, &rdlen)) == 0)
			return -1;
		if (t == type && rdlen == (v6 ? 16u : 4u)) {
			if (outlen < (v6 ? 46u : 16u))
				return -1;
			inet_ntop(v6 ? AF_INET6 : AF_INET, m + off, out, (socklen_t)outlen);
			return 1;
		}
		off += rdlen;
	}
	return 0;
}

/* Record the glue address of an NS name found in any section. */
static void
glue(struct ddns_ns *ns, int n, const char *owner, const unsigned char *rd)
{
	for (int k = 0; k < n; k++)
		if (ns[k].addr[0] == '\0' && strcmp(ns[k].name, owner) == 0)
			inet_ntop(AF_INET, rd, ns[k].addr, sizeof ns[k].addr);
}

int
ddns_dns_parse_ns(const unsigned char *m, size_t len, uint16_t id, struct ddns_ns *ns, int max)
{
	int rcode, an, ar, nsc, n = 0;
	size_t off = header(m, len, id, &rcode, &an, &ar, &nsc);
	char owner[256];

	if (off == 0 || (rcode != 0 && rcode != 3))
		return -1;
	if (rcode == 3)
		return 0;
	for (int i = 0; i < an + nsc + ar; i++) {
		size_t start = off, rdlen;
		int t;
		if ((off = next_record(m, len, off, &t, &rdlen)) == 0)
			return -1;
		/* NS records of the answer section name the zone's servers; A records anywhere are glue. */
		if (t == T_NS && i < an && n < max) {
			memset(&ns[n], 0, sizeof ns[n]);
			if (read_name(m, len, off, ns[n].name, sizeof ns[n].name) == 0 && ns[n].name[0])
				n++;
		} else if (t == T_A && rdlen == 4 && read_name(m, len, start, owner, sizeof owner) == 0) {
			glue(ns, n, owner, m + off);
		}
		off += rdlen;
	}
	return n;
}

/* Send q to server:port over UDP; the answer in a. Returns its length, -1 when none came. */
static ssize_t
exchange(const char *server, int port, const unsigned char *q, size_t qlen, unsigned char *a,
         size_t cap, int tries)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	ssize_t n = -1;

	if (inet_pton(AF_INET, server, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* connect() so that an ICMP "port unreachable" ends the wait at once. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	for (int t = 0; t < tries && n < 0; t++) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (send(fd, q, qlen, 0) < 0)
			break;
		if (poll(&p, 1, 2000) <= 0)
			continue;
		n = recv(fd, a, cap, 0);
		if (n <= 0) {
			n = -1;
			break;
		}
	}
	close(fd);
	return n;
}

static uint16_t
query_id(void)
{
	static unsigned seq;
	return (uint16_t)(getpid() ^ time(NULL) ^ (++seq * 40503u));
}

int
ddns_dns_query(const char *server, int port, const char *host, bool v6, char *out, size_t outlen)
{
	unsigned char q[300], a[1500];
	uint16_t id = query_id();
	size_t qlen = make_query(q, sizeof q, host, v6 ? T_AAAA : T_A, id, false);

	if (qlen == 0)
		return -1;
	/* Two tries, two seconds each: UDP may drop one. */
	ssize_t n = exchange(server, port, q, qlen, a, sizeof a, 2);
	return n < 0 ? -1 : ddns_dns_parse_addr(a, (size_t)n, id, v6, true, out, outlen);
}

/* The IPv4 nameservers of resolv.conf (PORTPILOT_RESOLV_CONF overrides its path, for tests). */
static int
resolvers(char out[][16], int max, const char **path)
{
	const char *p = getenv("PORTPILOT_RESOLV_CONF");
	char line[256], ip[64];
	struct in_addr a;
	int n = 0;

	*path = p && *p ? p : "/etc/resolv.conf";
	/* Bounded, and only a regular file: a FIFO or device there must not hang the updater. */
	char *text = pp_read_file_max(*path, 1 << 20, NULL, NULL);
	for (char *l = text; l && *l && n < max; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0')) {
		snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
		if (sscanf(line, " nameserver %63s", ip) == 1 && inet_pton(AF_INET, ip, &a) == 1)
			snprintf(out[n++], 16, "%.15s", ip);
	}
	free(text);
	return n;
}

/* NS records of zone (with glue) from the first resolver that answers; -1 when none did. */
static int
zone_servers(char res[][16], int nres, const char *zone, struct ddns_ns *ns, int max)
{
	unsigned char q[300], a[1500];

	for (int r = 0; r < nres; r++) {
		uint16_t id = query_id();
		size_t qlen = make_query(q, sizeof q, zone, T_NS, id, true);
		if (qlen == 0)
			return -1;
		ssize_t n = exchange(res[r], 53, q, qlen, a, sizeof a, 1);
		int k = n < 0 ? -1 : ddns_dns_parse_ns(a, (size_t)n, id, ns, max);
		if (k >= 0)
			return k;
	}
	return -1;
}

/* Address of an NS name without glue: ask the resolver. */
static int
ns_address(char res[][16], int nres, struct ddns_ns *ns)
{
	unsigned char q[300], a[1500];

	for (int r = 0; r < nres && ns->addr[0] == '\0'; r++) {
		uint16_t id = query_id();
		size_t qlen = make_query(q, sizeof q, ns->name, T_A, id, true);
		ssize_t n = qlen ? exchange(res[r], 53, q, qlen, a, sizeof a, 1) : -1;
		if (n > 0 && ddns_dns_parse_addr(a, (size_t)n, id, false, false, ns->addr, sizeof ns->addr) == 1)
			return 0;
	}
	return ns->addr[0] ? 0 : -1;
}

/* Find the zone's servers: the given zone, else its parents (a host may sit in a parent zone). */
static int
find_servers(char res[][16], int nres, const char *zone, struct ddns_ns *ns, int max, const char **found)
{
	for (const char *z = zone; z && strchr(z, '.'); z = strchr(z, '.') + 1) {
		int k = zone_servers(res, nres, z, ns, max);
		if (k != 0) {
			*found = z;
			return k;
		}
	}
	return 0;
}

int
ddns_auth_check(const char *zone, const char *host, const char *addr, char *detail, size_t dlen)
{
	char res[3][16], got[46];
	struct ddns_ns ns[4];
	bool v6 = strchr(addr, ':') != NULL;
	const char *path, *z = zone;
	int nres = resolvers(res, 3, &path), stale = 0, k;

	if (nres == 0) {
		snprintf(detail, dlen, "no IPv4 nameserver in %s to find the servers of %s", path, zone);
		return -1;
	}
	if ((k = find_servers(res, nres, zone, ns, 4, &z)) <= 0) {
		snprintf(detail, dlen, k < 0 ? "the resolver %s did not answer for the NS records of %s" :
		         "no NS records found for %s or its parents", res[0], zone);
		return -1;
	}
	detail[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (ns_address(res, nres, &ns[i]) < 0)
			continue;
		int rc = ddns_dns_query(ns[i].addr, 53, host, v6, got, sizeof got);
		if (rc == 1 && strcmp(got, addr) == 0) {
			snprintf(detail, dlen, "%s (%s), authoritative for %s, serves %s", ns[i].name,
			         ns[i].addr, z, got);
			return 1;
		}
		if (rc >= 0 && !stale++)
			snprintf(detail, dlen, "%s (%s), authoritative for %s, answers %s", ns[i].name,
			         ns[i].addr, z, rc == 1 ? got : v6 ? "NXDOMAIN/no AAAA record" : "NXDOMAIN/no A record");
	}
	if (stale)
		return 0;
	snprintf(detail, dlen, "none of the %d servers of %s (%s...) gave an authoritative answer",
	         k, z, ns[0].name);
	return -1;
}

int
pp_ddns_resolve(const char *host, char out[46])
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, out, 46);
	freeaddrinfo(res);
	return 0;
}
