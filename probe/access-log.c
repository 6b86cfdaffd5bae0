/* The access log: who connects to each mapping, read from NFLOG through libpcap's nflog device. */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portpilot/backend.h"
#include "portpilot/probe.h"
#include "portpilot/util.h"

static const char log_help[] =
	"usage: portpilot log [NAME] [--seconds N] [--group G] [--json]\n"
	"Prints every new connection to a mapping (or to NAME only) arriving on the WAN: time,\n"
	"source, protocol, port, and whether the mapping's allow list accepts or rejects it.\n"
	"While it runs it keeps one NFLOG rule (mangle chain PP-LOG, group G, default 7) and\n"
	"removes it on exit. Runs until Ctrl-C, or N seconds. --json prints one object a line.\n";

static volatile sig_atomic_t log_stop;
static void on_stop(int sig) { (void)sig; log_stop = 1; }

struct logctx {
	struct pp_cli *cli;
	const struct pp_table *t;
	const char *only;
	int dlt;
	long count;
};

static const struct pp_mapping *match(const struct pp_table *t, const struct pp_packet *p, const char *only)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		unsigned bit = p->proto == IPPROTO_UDP ? PP_UDP : PP_TCP;
		uint16_t hi = m->pub_hi ? m->pub_hi : m->pub_lo;
		if ((m->proto & bit) && p->dport >= m->pub_lo && p->dport <= hi && (!only || !strcmp(only, m->name)))
			return m;
	}
	return NULL;
}

static const char *verdict(const struct pp_mapping *m, uint32_t src)
{
	if (!pp_mapping_active(m, time(NULL)))
		return m->enabled ? "rejected (expired)" : "rejected (disabled)";
	if (m->nallow && !pp_cidr_contains(m->allow, m->nallow, src))
		return "rejected (not in allow)";
	return "accepted";
}

static void on_log(u_char *arg, const struct pcap_pkthdr *h, const u_char *d)
{
	struct logctx *x = (struct logctx *)arg;
	struct pp_packet p = { 0 };
	int ifx;
	if (pp_packet_parse(x->dlt, d, h->caplen, &p, &ifx) < 0 || p.kind >= PP_PKT_ICMP_UNREACH)
		return;
	const struct pp_mapping *m = match(x->t, &p, x->only);
	if (!m)
		return;
	char src[16], when[32];
	time_t sec = h->ts.tv_sec;
	struct tm lt;
	localtime_r(&sec, &lt);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &lt);
	pp_format_ipv4(p.src, src);
	const char *v = verdict(m, p.src), *proto = p.proto == IPPROTO_UDP ? "udp" : "tcp";
	if (x->cli->json) {
		fprintf(x->cli->out, "{\"time\":\"%s\",\"mapping\":", when);
		pp_json_str(x->cli->out, m->name);
		fprintf(x->cli->out, ",\"proto\":\"%s\",\"source\":\"%s\",\"source_port\":%u,\"port\":%u,"
		        "\"verdict\":\"%s\"}\n", proto, src, p.sport, p.dport, v);
	} else {
		fprintf(x->cli->out, "%s  %-12s %s %s:%u -> %u  %s\n", when, m->name, proto, src, p.sport,
		        p.dport, v);
	}
	fflush(x->cli->out);
	x->count++;
}

/* One NFLOG rule for new connections to this router on the WAN, in portpilot's own chain. */
static int rule(const struct pp_backend *b, const char *wan, int group, bool add, struct pp_error *err)
{
	char *text = add
		? pp_xasprintf("*mangle\n:PP-LOG - [0:0]\n-A PP-LOG -m conntrack --ctstate NEW "
		               "-m addrtype --dst-type LOCAL -j NFLOG --nflog-group %d --nflog-prefix pp-log\n"
		               "-I PREROUTING 1 -i %s -j PP-LOG\nCOMMIT\n", group, wan)
		: pp_xasprintf("*mangle\n-D PREROUTING -i %s -j PP-LOG\n-F PP-LOG\n-X PP-LOG\nCOMMIT\n", wan);
	int rc = pp_backend_restore(b, text, false, err);
	free(text);
	return rc;
}

static int parse_args(struct pp_cli *cli, int argc, char **argv, const char **only, int *secs, int *group)
{
	for (int i = 1; i < argc; i++) {
		bool num = !strcmp(argv[i], "--seconds") || !strcmp(argv[i], "--group");
		if (num && i + 1 < argc && atoi(argv[i + 1]) > 0) {
			*(argv[i][2] == 's' ? secs : group) = atoi(argv[i + 1]);
			i++;
		} else if (num || argv[i][0] == '-' || *only) {
			return pp_cli_usage(cli, "log", "unexpected '%s'", argv[i]);
		} else {
			*only = argv[i];
		}
	}
	return 0;
}

/* The nflog handle is bound before the rule exists, so no early connection is missed. */
static int capture_log(struct logctx *x, const struct pp_backend *b, const char *wan, int group,
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
	rule(b, wan, group, false, err);
	if (rule(b, wan, group, true, err) < 0) {
		pcap_close(h);
		return -1;
	}
	if (!x->cli->json)
		fprintf(x->cli->err, "logging new connections on %s (Ctrl-C to stop)\n", wan);
	time_t end = secs ? time(NULL) + secs : 0;
	struct pollfd pf = { .fd = pcap_get_selectable_fd(h), .events = POLLIN };
	while (!log_stop && (!end || time(NULL) < end)) {
		poll(&pf, 1, 200);
		pcap_dispatch(h, -1, on_log, (u_char *)x);
	}
	pcap_close(h);
	return 0;
}

int pp_cmd_log(struct pp_cli *cli, int argc, char **argv)
{
	const char *only = NULL;
	int secs = 0, group = 7, rc;
	struct pp_table *t = NULL;
	struct pp_backend b;
	struct pp_error e;
	char wan[32] = "";
	if (pp_cli_wants_help(argc, argv))
		return fputs(log_help, cli->out), PP_EXIT_OK;
	if ((rc = parse_args(cli, argc, argv, &only, &secs, &group)))
		return rc;
	if (pp_table_load(cli->table_path, false, &t, &e) < 0) {
		fprintf(cli->err, "portpilot: %s\n", e.msg);
		return PP_EXIT_USAGE;
	}
	if (only && !pp_table_find(t, only)) {
		fprintf(cli->err, "portpilot log: no mapping named '%s' in %s\n", only, cli->table_path);
		pp_table_free(t);
		return PP_EXIT_USAGE;
	}
	snprintf(wan, sizeof wan, "%s", t->site.val[PP_S_WAN_INTERFACE] ? t->site.val[PP_S_WAN_INTERFACE] : "");
	struct logctx x = { .cli = cli, .t = t, .only = only };
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = PP_EXIT_FAIL;
	if (!*wan)
		fprintf(cli->err, "portpilot log: [site] wan_interface is not set in %s\n", cli->table_path);
	else if (pp_backend_open(&b, &e) < 0)
		fprintf(cli->err, "portpilot log: %s\n", e.msg);
	else {
		rc = capture_log(&x, &b, wan, group, secs, &e) < 0 ? PP_EXIT_FAIL : PP_EXIT_OK;
		if (rc)
			fprintf(cli->err, "portpilot log: %s\n", e.msg);
		rule(&b, wan, group, false, &e);
	}
	pp_table_free(t);
	return rc;
}
