/* The access log: who connects to each mapping, read from NFLOG through libpcap's nflog device. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/cli-opts.h"
#include "portpilot/ipv6.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"
#include "probe-internal.h"

static const struct pp_opt log_opts[] = {
	{ "json", 0, NULL, "one object a line" },
	{ "record", 0, NULL, "append to the log until stopped (the portpilot-log service)" },
	{ "follow", 0, NULL, "print connections live" },
	{ "seconds", 0, "N", "stop after N seconds (implies --follow)" },
	{ "group", 0, "G", "the NFLOG group (default 8 for --record, 7 for --follow)" },
	{ "max-kb", 0, "K", "--record: rotate the log at K KiB (default 1024)" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_log = {
	.args = "[NAME]", .max = 1, .complete = "names", .opts = log_opts,
	.doc =
	"       portpilot log --record [--group G] [--max-kb K]\n"
	"       portpilot log --follow [NAME] [--seconds N] [--group G]   (--seconds implies --follow)\n"
	"Without options, prints the recorded access log (STATE/access.log.1, then access.log): every new\n"
	"connection to a mapping (or to NAME only): time, source, protocol, port, and whether the\n"
	"mapping's allow list accepts or rejects it, over IPv4 and IPv6 (pinholes, NAT66; an IPv6 source\n"
	"is printed [addr]:port). --json prints one object a line, with family and internal_ip.\n"
	"--record appends to that log until stopped (the portpilot-log service runs it); at K KiB\n"
	"(default 1024) the log moves to access.log.1. --follow prints connections live instead.\n"
	"Both keep NFLOG rules (mangle chain PP-LOG-G; group 8 for --record, 7 for --follow) while\n"
	"they run, read them as nobody, and remove them on exit. N: stop after N seconds.\n",
};

static volatile sig_atomic_t log_stop;
static void on_stop(int sig) { (void)sig; log_stop = 1; }

/* The recorded log, opened while root: after the drop nobody may not create or rename files in
 * the state dir, so rotation copies through these descriptors instead of renaming. */
struct rec {
	int fd, old;                   /* access.log (read-write, append), access.log.1 */
	long size, max;
	const char *path;
	bool warned;
};

struct logctx {
	struct pp_cli *cli;
	struct pp_table *t;
	const char *only;
	int dlt;
	long count;
	struct rec *rec;               /* NULL: print instead (--follow) */
	struct pp_cidr lan;            /* the LAN subnet, len 0 when unknown */
	void (*fn)(const struct pp_access_entry *e, void *arg); /* pp_access_follow's, else printed */
	void *arg;
	void (*note)(const char *text, void *arg);              /* pp_access_follow's, else printed */
	struct pp_cidr6 prefix;        /* the LAN's IPv6 prefix (host ids), len 0 when none */
	time_t prefix_at;              /* when it was read: again once a second, it may change */
};

/* One new connection as a log rule handed it over, of either family. */
struct conn {
	int family;                    /* 4 or 6 */
	uint8_t proto;
	uint32_t src, dst;             /* IPv4, host order */
	uint8_t src6[16], dst6[16];
	uint16_t sport, dport;
};

/* One of the core's notes while it logs (a warning with its fix): to the caller's note, else printed. */
static void __attribute__((format(printf, 2, 3)))
note(struct logctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = pp_xvasprintf(fmt, ap);
	va_end(ap);
	if (x->note)
		x->note(text, x->arg);
	else
		fprintf(x->cli->err, "portpilot log: %s\n", text);
	free(text);
}

static void
entry_print(struct pp_cli *cli, const struct pp_access_entry *e)
{
	bool v6 = strchr(e->src, ':') != NULL;
	if (cli->json) {
		fprintf(cli->out, "{\"time\":\"%s\",\"mapping\":", e->time);
		pp_json_str(cli->out, e->mapping);
		fprintf(cli->out, ",\"proto\":\"%s\",\"family\":%d,\"source\":", e->proto, v6 ? 6 : 4);
		pp_json_str(cli->out, e->src);
		fprintf(cli->out, ",\"source_port\":%u,\"port\":%u,\"internal_ip\":", e->sport, e->port);
		pp_json_str(cli->out, e->internal && *e->internal ? e->internal : NULL);
		fputs(",\"verdict\":", cli->out);
		pp_json_str(cli->out, e->verdict);
		fputs("}\n", cli->out);
	} else {
		/* an IPv6 source in brackets, as in a URL: [2001:db8::10]:40000 */
		fprintf(cli->out, "%s  %-12s %s %s%s%s:%u -> %u  %s\n", e->time, e->mapping, e->proto, v6 ? "[" : "",
		        e->src, v6 ? "]" : "", e->sport, e->port, e->verdict);
	}
}

/* Copy access.log over access.log.1, then empty it; a crash in between duplicates, never loses. */
static int
rotate(struct rec *r)
{
	char buf[16384];
	off_t off = 0;
	ssize_t k;
	if (ftruncate(r->old, 0) < 0)
		return -1;
	while ((k = pread(r->fd, buf, sizeof buf, off)) > 0) {
		if (pwrite(r->old, buf, (size_t)k, off) != k)
			return -1;
		off += k;
	}
	if (k < 0 || fsync(r->old) < 0)
		return -1;
	return ftruncate(r->fd, 0);
}

static void
rec_write(struct rec *r, const struct pp_access_entry *e)
{
	char line[320];
	/* the internal address last: lines of older recorders (7 fields) still read */
	int n = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%u\t%u\t%s\t%s\n", e->time, e->mapping, e->proto,
	                 e->src, e->sport, e->port, e->verdict, e->internal && *e->internal ? e->internal : "-");
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	if (r->size + n > r->max) {
		if (rotate(r) == 0)
			r->size = 0;
		else if (!r->warned)
			fprintf(stderr, "portpilot log: cannot rotate %s (%s): it keeps growing\n", r->path,
			        strerror(errno)), r->warned = true;
	}
	if (write(r->fd, line, (size_t)n) == n)
		r->size += n;
	else
		fprintf(stderr, "portpilot log: cannot append to %s: %s\n", r->path, strerror(errno));
}

static bool in_range(uint16_t v, uint16_t lo, uint16_t hi) { return v >= lo && v <= (hi ? hi : lo); }

/* The server's IPv6 address of m now (a host id on the LAN's current prefix); false when none. */
static bool
server6(struct logctx *x, const struct pp_mapping *m, uint8_t out[16])
{
	if (!pp_mapping_wants_ip6(m) || !m->val[PP_F_INTERNAL_IP6] || (m->bad & (1u << PP_F_INTERNAL_IP6)))
		return false;
	if (!m->ip6_hostid) {
		memcpy(out, m->internal_ip6, 16);
		return true;
	}
	const char *lan = x->t->site.val[PP_S_LAN_INTERFACE];
	if (x->prefix_at != time(NULL)) {
		x->prefix_at = time(NULL);
		if (!lan || pp_prefix6_of(lan, &x->prefix) < 0 || x->prefix.len > 64)
			x->prefix.len = 0;
	}
	if (!x->prefix.len)
		return false;
	pp_ip6_combine(&x->prefix, m->internal_ip6, out);
	return true;
}

/* The packet is to m's server (after DNAT, or a pinhole's flow, which keeps its address). */
static bool
to_server(struct logctx *x, const struct pp_mapping *m, const struct conn *c)
{
	uint8_t a[16];
	if (c->family == 4)
		return c->dst == m->internal_ip;
	return server6(x, m, a) && memcmp(a, c->dst6, 16) == 0;
}

/* A refused attempt named the router's own address: over IPv6 only a NAT66 mapping has one. */
static bool
on_router(const struct pp_mapping *m, const struct conn *c)
{
	return c->family == 4 ? m->ipv6 != PP_V6_ONLY : pp_mapping_wants_ip6(m) && pp_mapping_nat66(m);
}

/* Before DNAT (a rejected attempt) the packet names the public port; after it (accepted), the
 * internal address and port: *pub gets the public port either way. */
static const struct pp_mapping *
match(struct logctx *x, const struct conn *c, bool dnated, uint16_t *pub)
{
	unsigned bit = c->proto == IPPROTO_UDP ? PP_UDP : PP_TCP;
	for (size_t i = 0; i < x->t->n; i++) {
		const struct pp_mapping *m = &x->t->maps[i];
		if (!(m->proto & bit) || (x->only && strcmp(x->only, m->name)))
			continue;
		for (size_t k = 0; k < pp_mapping_nports(m); k++) {    /* every element of a port list */
			struct pp_port_pair pr = pp_mapping_port(m, k);
			if (!dnated && in_range(c->dport, pr.pub_lo, pr.pub_hi) && on_router(m, c)) {
				*pub = c->dport;
				return m;
			}
			if (dnated && in_range(c->dport, pr.in_lo, pr.in_hi) && to_server(x, m, c)) {
				*pub = (uint16_t)(pr.pub_lo + (c->dport - pr.in_lo));
				return m;
			}
		}
	}
	return NULL;
}

/* The kernel did not forward it; the table says why, as far as it knows. */
static const char *
why_rejected(const struct logctx *x, const struct pp_mapping *m, const struct conn *c)
{
	if (c->family == 4 && x->lan.len && pp_cidr_contains(&x->lan, 1, c->src) && !pp_mapping_hairpin(&x->t->site, m))
		return "rejected (hairpin = no)";
	if (!m->enabled || pp_mapping_expired(m, time(NULL)))
		return m->enabled ? "rejected (expired)" : "rejected (disabled)";
	if (c->family == 4 && !pp_mapping_active(m, time(NULL)))
		return "rejected (not forwarded: table not applied?)";
	if (c->family == 4 && m->nallow && !pp_cidr_contains(m->allow, m->nallow, c->src))
		return "rejected (not in allow)";
	bool in6 = pp_mapping_any_source6(m);
	for (size_t i = 0; c->family == 6 && i < m->nallow6 && !in6; i++)
		in6 = pp_cidr6_has(&m->allow6[i], c->src6);
	if (c->family == 6 && !in6)
		return "rejected (not in allow)";
	return "rejected (not forwarded: table not applied?)";
}

/* The connection in a logged packet, either family. */
static int
conn_of(const struct logctx *x, const u_char *d, size_t len, struct conn *c)
{
	struct pp_packet p = { 0 };
	int ifx;
	memset(c, 0, sizeof *c);
	if (pp_packet_parse(x->dlt, d, len, &p, &ifx) < 0 || p.kind >= PP_PKT_ICMP_UNREACH)
		return -1;
	*c = (struct conn){ .family = p.v6 ? 6 : 4, .proto = p.proto, .src = p.src, .dst = p.dst,
	                    .sport = p.sport, .dport = p.dport };
	memcpy(c->src6, p.src6, 16);
	memcpy(c->dst6, p.dst6, 16);
	return 0;
}

/* The mapping's internal address for the entry: the packet's after DNAT, else the table's. */
static void
internal_of(struct logctx *x, const struct pp_mapping *m, const struct conn *c, bool accepted, char out[PP_IP6_STR])
{
	uint8_t a[16];
	*out = '\0';
	if (c->family == 4 && (accepted || m->internal_ip))
		pp_format_ipv4(accepted ? c->dst : m->internal_ip, out);
	else if (c->family == 6 && accepted)
		pp_format_ipv6(c->dst6, out);
	else if (c->family == 6 && server6(x, m, a))
		pp_format_ipv6(a, out);
}

static void
on_log(u_char *arg, const struct pcap_pkthdr *h, const u_char *d)
{
	struct logctx *x = (struct logctx *)arg;
	struct conn c;
	if (conn_of(x, d, h->caplen, &c) < 0)
		return;
	char tag[16];
	pp_nflog_prefix(d, h->caplen, tag, sizeof tag);
	bool accepted = !strcmp(tag, PP_LOG_ACCEPTED);
	uint16_t pub = 0;
	const struct pp_mapping *m = accepted || !strcmp(tag, PP_LOG_REFUSED) ? match(x, &c, accepted, &pub) : NULL;
	if (!m)
		return;
	char src[PP_IP6_STR], in[PP_IP6_STR], when[32];
	time_t sec = h->ts.tv_sec;
	struct tm lt;
	localtime_r(&sec, &lt);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &lt);
	if (c.family == 6)
		pp_format_ipv6(c.src6, src);
	else
		pp_format_ipv4(c.src, src);
	internal_of(x, m, &c, accepted, in);
	struct pp_access_entry e = { .time = when, .mapping = m->name, .proto = c.proto == IPPROTO_UDP ? "udp" : "tcp",
	                   .src = src, .verdict = accepted ? "accepted" : why_rejected(x, m, &c),
	                   .sport = c.sport, .port = pub, .accepted = accepted, .internal = in, .family = c.family };
	if (x->rec)
		rec_write(x->rec, &e);
	else if (x->fn)
		x->fn(&e, x->arg);
	else
		entry_print(x->cli, &e), fflush(x->cli->out);
	x->count++;
}

/* The log rules (the backend writes them: core/backend-*.c log_rules): prefixes PP_LOG_ACCEPTED
   for new connections the router DNATed and forwarded, PP_LOG_REFUSED for those that reached it
   untranslated from the WAN (or a LAN client's to the public address: hairpin). */
static int
rule(const struct logctx *x, struct pp_backend *b, const char *wan, int group, bool add,
     struct pp_error *err)
{
	const char *lan = x->t->site.val[PP_S_LAN_INTERFACE];
	struct pp_log_spec spec = { .group = group, .wan_if = wan, .lan_if = lan && *lan ? lan : NULL,
	                            .lan = x->lan };
	for (size_t i = 0; i < x->t->n && !spec.ip6; i++)
		spec.ip6 = pp_mapping_wants_ip6(&x->t->maps[i]);
	return b->ops->log_rules(b, &spec, add, err);
}

struct args {
	const char *only;
	int secs, group, max_kb;
	bool record, follow;
	void (*note)(const char *text, void *arg);
};

static int
parse_args(struct pp_cli *cli, int argc, char **argv, struct args *a)
{
	static const char *const nums[] = { "seconds", "group", "max-kb" };
	int *slots[] = { &a->secs, &a->group, &a->max_kb };
	for (int k = 0; k < 3; k++) {
		const char *v = pp_opt(cli, nums[k]);
		if (v && atoi(v) <= 0)
			return pp_cli_usage(cli, "log", "--%s %s: expected a positive number", nums[k], v);
		if (v)
			*slots[k] = atoi(v);
	}
	a->record = pp_opt(cli, "record") != NULL;
	a->follow = pp_opt(cli, "follow") != NULL;
	a->only = argc > 1 ? argv[1] : NULL;
	if (a->record && (a->follow || a->only))
		return pp_cli_usage(cli, "log", "--record logs every mapping and prints nothing: no %s",
		                    a->follow ? "--follow" : "NAME");
	if (a->secs && !a->record)
		a->follow = true;      /* a bounded run is a live one (the TUI's access log view) */
	if (!a->group)
		a->group = a->record ? 8 : 7;
	return 0;
}

/* The recorder runs for weeks: mappings added or edited since it started are matched too. */
static void
reload(struct logctx *x, struct timespec *seen)
{
	struct stat st;
	struct pp_table *t;
	struct pp_error e;
	static bool warned;
	if (stat(x->cli->table_path, &st) < 0) {
		if (!warned)
			/* Say what it means: the reader gave up root, and the table is not reachable for it. */
			note(x, "the recorder reads packets as user nobody, who cannot "
			     "reach %s (%s), so mappings added or changed after this start are logged only after "
			     "a restart of the recorder; to have them followed, let all users read the file "
			     "and enter its directories (chmod o+r on it, o+x on its directories)",
			     x->cli->table_path, strerror(errno));
		warned = true;
		return;
	}
	if (st.st_mtim.tv_sec == seen->tv_sec && st.st_mtim.tv_nsec == seen->tv_nsec)
		return;
	*seen = st.st_mtim;
	if (pp_table_load(x->cli->table_path, false, &t, &e) < 0) {
		note(x, "%s (still matching the table read before)", e.msg);
		return;
	}
	pp_table_free(x->t);
	x->t = t;
}

static void
read_loop(struct logctx *x, pcap_t *h, int secs)
{
	time_t end = secs ? time(NULL) + secs : 0, checked = 0;
	struct timespec seen = { 0 };
	struct pollfd pf = { .fd = pcap_get_selectable_fd(h), .events = POLLIN };
	while (!log_stop && (!end || time(NULL) < end)) {
		poll(&pf, 1, 200);
		if (time(NULL) != checked)
			reload(x, &seen), checked = time(NULL);
		pcap_dispatch(h, -1, on_log, (u_char *)x);
	}
	fflush(x->cli->out);
}

/* Read as nobody in a child; this process stays root only to remove the rules when it ends. */
static int
run_reader(struct logctx *x, pcap_t *h, int secs, struct pp_error *err)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return pp_error_set(err, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		if (pp_drop_privileges(err) < 0) {
			note(x, "%s", err->msg);
			_exit(PP_EXIT_FAIL);
		}
		read_loop(x, h, secs);
		_exit(PP_EXIT_OK);
	}
	int st = 0;
	bool told = false;
	/* Polled, not blocked in waitpid: a signal just before the wait would otherwise be missed. */
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (log_stop && !told)
			told = kill(pid, SIGTERM) == 0;
		poll(NULL, 0, 100);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return pp_error_set(err, "the NFLOG reader failed");
	return 0;
}

/* The nflog handle is bound before the rules exist, so no early connection is missed. */
static int
capture_log(struct logctx *x, struct pp_backend *b, const char *wan, int group,
            int secs, struct pp_error *err)
{
	char dev[32], eb[PCAP_ERRBUF_SIZE] = "";
	snprintf(dev, sizeof dev, "nflog:%d", group);
	pcap_t *h = pcap_create(dev, eb);
	/* The default snap length: libpcap sizes its receive buffer from it, and NFLOG sends
	 * batches of packets in one message that a small buffer would cut off. */
	if (!h || (pcap_set_immediate_mode(h, 1), pcap_activate(h)) < 0) {
		pp_error_set(err, "cannot read %s: %s", dev, h ? pcap_geterr(h) : eb);
		if (h)
			pcap_close(h);
		return -1;
	}
	pcap_setnonblock(h, 1, eb);
	x->dlt = pcap_datalink(h);
	rule(x, b, wan, group, false, err);
	int rc = rule(x, b, wan, group, true, err);
	if (rc == 0) {
		if (!x->cli->json)
			fprintf(x->cli->err, "%s new connections on %s (group %d; Ctrl-C to stop)\n",
			        x->rec ? "recording" : "logging", wan, group);
		rc = run_reader(x, h, secs, err);
		struct pp_error e2;
		if (rule(x, b, wan, group, false, &e2) < 0)
			note(x, "removing the NFLOG rules: %s", e2.msg);
	}
	pcap_close(h);
	return rc;
}

static int
rec_open(struct rec *r, const char *dir, char *path, char *old, size_t n, struct pp_error *err)
{
	snprintf(path, n, "%s/access.log", dir);
	snprintf(old, n, "%s/access.log.1", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return pp_error_set(err, "cannot create the state dir %s: %s (--state-dir DIR)", dir, strerror(errno));
	int fl = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	r->fd = open(path, fl | O_APPEND, 0600);
	r->old = r->fd < 0 ? -1 : open(old, fl, 0600);
	struct stat st, st_old;
	/* Our own files: a FIFO or device planted in their place is refused, not written into. */
	if (r->fd >= 0 && r->old >= 0 && fstat(r->fd, &st) == 0 && fstat(r->old, &st_old) == 0 &&
	    (!S_ISREG(st.st_mode) || !S_ISREG(st_old.st_mode))) {
		pp_error_set(err, "%s: not a regular file: remove it and run again", S_ISREG(st.st_mode) ? old : path);
		close(r->fd);
		close(r->old);
		return -1;
	}
	if (r->fd < 0 || r->old < 0 || fstat(r->fd, &st) < 0) {
		pp_error_set(err, "cannot open %s: %s", r->fd < 0 ? path : old, strerror(errno));
		if (r->fd >= 0)
			close(r->fd);
		return -1;
	}
	r->size = st.st_size;
	r->path = path;
	return 0;
}

static void
note_add(struct pp_access_history *h, char *note)
{
	h->notes = pp_xrealloc(h->notes, (h->nnotes + 1) * sizeof *h->notes);
	h->notes[h->nnotes++] = note;
}

/* Read one recorded file into h; 0, or -1 when it cannot be read (absent is not an error). */
static int
history_file(struct pp_access_history *h, const char *path, const char *only, struct pp_error *err)
{
	/* Never through a link, never blocking on a FIFO planted there. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f && fd >= 0)
		close(fd);
	if (!f)
		return errno == ENOENT ? 0 : pp_error_set(err, "cannot read %s: %s%s", path, strerror(errno),
		                                          errno == EINVAL || errno == ELOOP ?
		                                          " (it must be a regular file)" : "");
	char line[512];
	for (long no = 1; fgets(line, sizeof line, f); no++) {
		char *store = pp_xstrdup(line);
		char *fld[8] = { 0 }, *save = NULL, *tok = strtok_r(store, "\t\n", &save);
		int k = 0;
		for (; tok && k < 8; k++, tok = strtok_r(NULL, "\t\n", &save))
			fld[k] = tok;
		if (k < 7 || tok) {
			note_add(h, pp_xasprintf("%s:%ld: not an access-log line (7 or 8 tab-separated fields), skipped",
			                         path, no));
			free(store);
			continue;
		}
		if (only && strcmp(only, fld[1])) {
			free(store);
			continue;
		}
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 64;
			h->v = pp_xrealloc(h->v, h->cap * sizeof *h->v);
		}
		h->v[h->n++] = (struct pp_access_entry){ .time = fld[0], .mapping = fld[1], .proto = fld[2],
		                                         .src = fld[3], .sport = (unsigned)atoi(fld[4]),
		                                         .port = (unsigned)atoi(fld[5]), .verdict = fld[6],
		                                         .accepted = strcmp(fld[6], "accepted") == 0, .store = store,
		                                         .internal = fld[7] && strcmp(fld[7], "-") ? fld[7] : NULL,
		                                         .family = strchr(fld[3], ':') ? 6 : 4 };
	}
	fclose(f);
	return 0;
}

int
pp_access_history_read(const char *state_dir, const char *only, struct pp_access_history *h,
                       struct pp_error *err)
{
	char *old = pp_xasprintf("%s/access.log.1", state_dir);
	char *cur = pp_xasprintf("%s/access.log", state_dir);
	struct pp_error e2;
	memset(h, 0, sizeof *h);
	int rc = history_file(h, old, only, err);
	if (history_file(h, cur, only, rc < 0 ? &e2 : err) < 0)
		rc = -1;
	h->recorded = access(cur, F_OK) == 0;
	free(old);
	free(cur);
	return rc;
}

void
pp_access_history_free(struct pp_access_history *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].store);
	for (size_t i = 0; i < h->nnotes; i++)
		free(h->notes[i]);
	free(h->v);
	free(h->notes);
	memset(h, 0, sizeof *h);
}

static int
history(struct pp_cli *cli, const char *only)
{
	struct pp_access_history h;
	struct pp_error e;
	int rc = pp_access_history_read(cli->state_dir, only, &h, &e);
	for (size_t i = 0; i < h.nnotes; i++)
		fprintf(cli->err, "portpilot log: %s\n", h.notes[i]);
	for (size_t i = 0; i < h.n; i++)
		entry_print(cli, &h.v[i]);
	if (rc < 0)
		fprintf(cli->err, "portpilot log: %s\n", e.msg);
	else if (!h.recorded)
		fprintf(cli->err, "portpilot log: nothing recorded in %s: start the recorder "
		        "(systemctl enable --now portpilot-log, or portpilot log --record)\n", cli->state_dir);
	pp_access_history_free(&h);
	return rc < 0 ? PP_EXIT_FAIL : PP_EXIT_OK;
}

/* --record or --follow with the table loaded (t is freed here); fn NULL prints the entries. */
static int
log_run(struct pp_cli *cli, struct pp_table *t, const struct args *a,
        void (*fn)(const struct pp_access_entry *e, void *arg), void *arg, struct pp_error *e)
{
	char wan[32] = "";
	struct pp_backend b;
	snprintf(wan, sizeof wan, "%s", t->site.val[PP_S_WAN_INTERFACE] ? t->site.val[PP_S_WAN_INTERFACE] : "");
	struct rec r = { .max = (a->max_kb ? a->max_kb : 1024) * 1024L };
	char path[4096], old[4096];
	struct logctx x = { .cli = cli, .t = t, .only = a->only, .rec = a->record ? &r : NULL, .fn = fn, .arg = arg,
	                  .note = a->note };
	if (t->site.has_lan_subnet)
		x.lan = t->site.lan_subnet;
	else if (t->site.val[PP_S_LAN_INTERFACE] && pp_iface_subnet(t->site.val[PP_S_LAN_INTERFACE], &x.lan) < 0)
		x.lan.len = 0;
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = -1;
	if (!*wan)
		pp_error_set(e, "[site] wan_interface is not set in %s", cli->table_path);
	else if (a->record && rec_open(&r, cli->state_dir, path, old, sizeof path, e) < 0)
		;
	else if (pp_backend_open_for(&b, t, e) < 0)
		;
	else if (capture_log(&x, &b, wan, a->group, a->secs, e) < 0)
		pp_backend_close(&b);
	else
		rc = 0, pp_backend_close(&b);
	if (a->record && r.path)
		close(r.fd), close(r.old);
	pp_table_free(x.t);            /* the reader may have swapped in a newer table */
	return rc;
}

int
pp_access_follow(struct pp_cli *cli, const char *only, int secs, int group,
                 void (*fn)(const struct pp_access_entry *e, void *arg),
                 void (*note)(const char *text, void *arg), void *arg, struct pp_error *err)
{
	struct args a = { .only = only, .secs = secs, .group = group ? group : 7, .follow = true, .note = note };
	struct pp_table *t;
	if (pp_table_load(cli->table_path, false, &t, err) < 0)
		return -1;
	if (only && !pp_table_find(t, only)) {
		pp_error_set(err, "no mapping named '%s' in %s", only, cli->table_path);
		pp_table_free(t);
		return -1;
	}
	return log_run(cli, t, &a, fn, arg, err);
}

int
pp_cmd_log(struct pp_cli *cli, int argc, char **argv)
{
	struct args a = { 0 };
	int rc;
	struct pp_table *t = NULL;
	struct pp_error e;
	if ((rc = parse_args(cli, argc, argv, &a)))
		return rc;
	if (pp_table_load(cli->table_path, false, &t, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		return PP_EXIT_USAGE;
	}
	if (a.only && !pp_table_find(t, a.only)) {
		fprintf(cli->err, "portpilot log: no mapping named '%s' in %s\n", a.only, cli->table_path);
		pp_table_free(t);
		return PP_EXIT_USAGE;
	}
	if (!a.record && !a.follow) {
		pp_table_free(t);
		return history(cli, a.only);
	}
	if (log_run(cli, t, &a, NULL, NULL, &e) < 0) {
		fprintf(cli->err, "portpilot log: %s\n", e.msg);
		return PP_EXIT_FAIL;
	}
	return PP_EXIT_OK;
}
