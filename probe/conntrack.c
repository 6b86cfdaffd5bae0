/* The kernel's conntrack entries of a mapping: whether DNATed connections were ever answered. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe-internal.h"
#include "portpilot/util.h"

/* The value of key= in the orig (k = 0) or reply (k = 1) half of a conntrack line. */
static const char *
field(const char *line, const char *key, int k, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += kl) {
		if ((p == line || p[-1] == ' ') && k-- == 0) {
			p += kl;
			snprintf(out, n, "%.*s", (int)strcspn(p, " \n"), p);
			return out;
		}
	}
	return NULL;
}

/* The entry past /proc/net/nf_conntrack's "ipv4 2" (the conntrack tool prints none). */
static const char *
ct_body(const char *line)
{
	return strncmp(line, "ipv4 ", 5) ? line : line + 5 + strspn(line + 5, " 2");
}

/* The entry's protocol: PP_TCP, PP_UDP or 0. */
static uint8_t
ct_proto(const char *body)
{
	size_t n = strcspn(body, " ");
	return n == 3 && !strncmp(body, "tcp", 3) ? PP_TCP : n == 3 && !strncmp(body, "udp", 3) ? PP_UDP : 0;
}

int
pp_conntrack_line(const char *line, const struct pp_trace_ctx *c, char *out, size_t n,
                  enum pp_ct_state *state)
{
	char proto[8] = "", word[24] = "", v[8][24];
	const char *p = ct_body(line);
	uint32_t odst, rsrc;
	if (sscanf(p, "%7s %*d %*d %23s", proto, word) < 1)
		return 0;
	uint8_t bit = ct_proto(p);
	if (!(c->protos & bit) || !field(p, "src=", 0, v[0], 24) || !field(p, "dst=", 0, v[1], 24) ||
	    !field(p, "sport=", 0, v[2], 24) || !field(p, "dport=", 0, v[3], 24) ||
	    !field(p, "src=", 1, v[4], 24) || !field(p, "sport=", 1, v[5], 24))
		return 0;
	unsigned dport = (unsigned)atoi(v[3]), rport = (unsigned)atoi(v[5]);
	/* Ours: to the public port, answered (or to be) by the server, i.e. translated to it. */
	if (pp_parse_ipv4(v[1], &odst) < 0 || pp_parse_ipv4(v[4], &rsrc) < 0 || rsrc != c->internal_ip ||
	    odst == rsrc || dport < c->pub_lo || dport > c->pub_hi || rport < c->in_lo || rport > c->in_hi)
		return 0;
	*state = strstr(p, "[UNREPLIED]") ? PP_CT_UNREPLIED : strstr(p, "[ASSURED]") ? PP_CT_ASSURED
	                                                                           : PP_CT_REPLIED;
	if (strchr(word, '=') || bit == PP_UDP)
		*word = '\0';
	snprintf(out, n, "%s %s:%s -> %s:%s DNAT to %s:%s, %s%s%s", proto, v[0], v[2], v[1], v[3], v[4], v[5],
	         word, *word ? " " : "", *state == PP_CT_UNREPLIED ? "[UNREPLIED]" :
	         *state == PP_CT_ASSURED ? "[ASSURED]" : "replied");
	return 1;
}

int
pp_conntrack_elsewhere(const char *line, const struct pp_trace_ctx *c, uint32_t *src, char *to,
                       size_t n)
{
	char v[6][24];
	const char *p = ct_body(line);
	uint32_t odst, rsrc;
	uint8_t bit = ct_proto(p);
	if (!(c->protos & bit) || !field(p, "src=", 0, v[0], 24) || !field(p, "dst=", 0, v[1], 24) ||
	    !field(p, "dport=", 0, v[2], 24) || !field(p, "src=", 1, v[3], 24) || !field(p, "sport=", 1, v[4], 24))
		return 0;
	unsigned dport = (unsigned)atoi(v[2]), rport = (unsigned)atoi(v[4]);
	if (pp_parse_ipv4(v[0], src) < 0 || pp_parse_ipv4(v[1], &odst) < 0 || pp_parse_ipv4(v[3], &rsrc) < 0 ||
	    dport < c->pub_lo || dport > c->pub_hi || odst == rsrc)
		return 0;
	/* The mapping's own target (any port of its range) is not elsewhere. */
	if (rsrc == c->internal_ip && rport >= c->in_lo && rport <= c->in_hi)
		return 0;
	bool local = c->nrouter == 0;
	for (size_t i = 0; i < c->nrouter; i++)
		local |= c->router_ips[i] == odst;
	if (!local)
		return 0;
	snprintf(to, n, "%s:%s", v[3], v[4]);
	return 1;
}

int
pp_conntrack_snat(const char *line, const struct pp_trace_ctx *c, uint32_t *to)
{
	char v[4][24];
	const char *p = ct_body(line);
	uint32_t osrc, rsrc;
	if (!field(p, "src=", 0, v[0], 24) || !field(p, "src=", 1, v[1], 24) || !field(p, "dst=", 1, v[2], 24) ||
	    !field(p, "sport=", 1, v[3], 24))
		return 0;
	unsigned rport = (unsigned)atoi(v[3]);
	if (pp_parse_ipv4(v[0], &osrc) < 0 || pp_parse_ipv4(v[1], &rsrc) < 0 || pp_parse_ipv4(v[2], to) < 0 ||
	    rsrc != c->internal_ip || rport < c->in_lo || rport > c->in_hi)
		return 0;
	return *to != osrc;
}

/* This router's own addresses, all of them (not the trace's first few), read once per dump. */
struct own_addrs {
	uint32_t a[256];
	size_t n;
	bool read;
};

static bool
router_owns(struct own_addrs *o, uint32_t ip)
{
	if (!o->read) {
		o->n = pp_local_addrs(o->a, sizeof o->a / sizeof o->a[0]);
		o->read = true;
	}
	for (size_t i = 0; i < o->n; i++)
		if (o->a[i] == ip)
			return true;
	return false;
}

int
pp_conntrack_open(void)
{
	return open("/proc/net/nf_conntrack", O_RDONLY | O_CLOEXEC);
}

/* The table's text: re-read through the fd opened while privileged (seq files rewind), else
 * asked of the conntrack tool, which needs CAP_NET_ADMIN. */
static char *
ct_dump(int fd, uint8_t protos, const char **how)
{
	struct pp_buf b = { 0 };
	char tmp[4096];
	ssize_t k;
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
		*how = "/proc/net/nf_conntrack";
		while ((k = read(fd, tmp, sizeof tmp)) > 0 && b.len < (64u << 20))
			pp_buf_add(&b, tmp, (size_t)k);
		if (k == 0) {
			pp_buf_add(&b, "", 0);
			return b.data;
		}
		pp_buf_free(&b);
	}
	*how = "conntrack -L";
	for (int i = 0; i < 2; i++) {
		if (!(protos & (i ? PP_UDP : PP_TCP)))
			continue;
		char *argv[] = { "conntrack", "-L", "-p", i ? "udp" : "tcp", NULL };
		char *out = pp_run_cmd(argv);
		if (!out) {
			pp_buf_free(&b);
			return NULL;
		}
		pp_buf_addstr(&b, out);
		free(out);
	}
	return b.data;
}

/* The entry's connection is one of this probe's attempts (the capture saw its client, as sent or as
 * rewritten): an older entry, from before a fix, is no evidence now. Without a capture, any is. */
static bool
this_probe(const struct pp_facts *f, const struct pp_trace *t, const char *line)
{
	char v[4][24];
	uint32_t a[2];
	if (!f->captured)
		return true;
	if (!field(line, "src=", 0, v[0], 24) || !field(line, "sport=", 0, v[1], 24) ||
	    !field(line, "dst=", 1, v[2], 24) || !field(line, "dport=", 1, v[3], 24) ||
	    pp_parse_ipv4(v[0], &a[0]) < 0 || pp_parse_ipv4(v[2], &a[1]) < 0)
		return false;
	unsigned port[2] = { (unsigned)atoi(v[1]), (unsigned)atoi(v[3]) };
	for (size_t i = 0; i < t->natt; i++)
		for (int k = 0; k < 2; k++)
			if (t->att[i].client == a[k] && t->att[i].cport == port[k])
				return true;
	return false;
}

static void
snat_entry(struct pp_facts *f, const char *line, uint32_t to)
{
	bool unreplied = strstr(line, "[UNREPLIED]") != NULL;
	/* A UDP service may stay silent whatever the path: only TCP's silence is evidence. */
	if (unreplied && ct_proto(ct_body(line)) != PP_TCP)
		return;
	if (unreplied)
		f->ct_snat_unreplied++;
	else
		f->ct_snat_replied++;
	if (*f->ct_snat_to)
		return;
	pp_format_ipv4(to, f->ct_snat_to);
	const char *p = ct_body(line);
	snprintf(f->ct_snat_line, sizeof f->ct_snat_line, "%.*s", (int)strcspn(p, "\n"), p);
}

void
pp_facts_conntrack(struct pp_facts *f, struct pp_probe_result *r, const struct pp_probe_opts *o,
                   const struct pp_trace_ctx *c, int fd)
{
	enum { MAX_LINES = 12 };
	const char *how = "";
	char *dump = ct_dump(fd, c->protos, &how);
	int count[3] = { 0 };
	struct own_addrs own = { .read = false };
	if (!dump) {
		pp_check_add(r, o, "conntrack", PP_CHECK_SKIP, "cannot read the conntrack table (%s needs "
		             "root: run without --no-drop as root, or read /proc/net/nf_conntrack)", how);
		return;
	}
	for (const char *l = dump; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		char line[1024], words[200];
		enum pp_ct_state st;
		snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
		uint32_t src, snat;
		char to[24];
		/* The reflector's own attempt, sent elsewhere: what the kernel did, whoever's rule it was. */
		if (f->reflector_ip && pp_conntrack_elsewhere(line, c, &src, to, sizeof to) && src == f->reflector_ip) {
			if (!f->ct_elsewhere++)
				snprintf(f->ct_elsewhere_to, sizeof f->ct_elsewhere_to, "%s", to);
			continue;
		}
		if (pp_conntrack_snat(line, c, &snat) && !router_owns(&own, snat) && this_probe(f, &r->trace, line))
			snat_entry(f, line, snat);
		if (!pp_conntrack_line(line, c, words, sizeof words, &st))
			continue;
		count[st]++;
		if (r->nconntrack < MAX_LINES) {
			r->conntrack = pp_xrealloc(r->conntrack, (r->nconntrack + 1) * sizeof *r->conntrack);
			r->conntrack[r->nconntrack++] = pp_xstrdup(words);
		}
	}
	free(dump);
	f->ct_read = true;
	f->ct_unreplied = count[PP_CT_UNREPLIED];
	f->ct_replied = count[PP_CT_REPLIED] + count[PP_CT_ASSURED];
	f->conntrack = r->conntrack;
	f->nconntrack = r->nconntrack;
	pp_check_add(r, o, "conntrack", PP_CHECK_INFO,
	             "%d connection(s) DNATed to the server in %s: %d never answered (UNREPLIED), %d answered",
	             f->ct_unreplied + f->ct_replied, how, f->ct_unreplied, f->ct_replied);
	if (f->ct_snat_unreplied + f->ct_snat_replied)
		pp_check_add(r, o, "conntrack_snat", f->ct_snat_replied ? PP_CHECK_INFO : PP_CHECK_FAIL,
		             "%d connection(s) to the server had their source rewritten to %s, not this router's "
		             "address: %d never answered, %d answered (%s)", f->ct_snat_unreplied + f->ct_snat_replied,
		             f->ct_snat_to, f->ct_snat_unreplied, f->ct_snat_replied, f->ct_snat_line);
	if (f->ct_elsewhere)
		pp_check_add(r, o, "conntrack_target", PP_CHECK_FAIL,
		             "%d connection(s) of the reflector to port %u were DNATed to %s, not to the mapping's "
		             "target", f->ct_elsewhere, c->pub_lo, f->ct_elsewhere_to);
}
