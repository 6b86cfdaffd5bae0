/* Times portpilot's conntrack flush and listing in a namespace filled with N entries, K of them
   DNATed flows to port 8080: built against 72510dd (-DOLD: /proc text + one `conntrack -D` per
   flow) and against this tree (ctnetlink). Usage: ct-bench fill N K | flush | list */
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"
#ifndef OLD
#include "portpilot/conntrack.h"
#endif

/* Entry i: 198.51.100.x:sport -> 203.0.113.1:port, answered by 192.168.2.101:80 (DNATed). */
static int
fill(int n, int k)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	if (!h)
		return perror("nfct_open"), 1;
	for (int i = 0; i < n; i++) {
		struct nf_conntrack *ct = nfct_new();
		uint32_t s = htonl(0xc6336400u | (uint32_t)(1 + i % 250)), d = inet_addr("203.0.113.1"),
		         r = inet_addr("192.168.2.101");
		uint16_t sp = htons((uint16_t)(10000 + i / 250)), dp = htons(i < k ? 8080 : (uint16_t)(9000 + i % 50));
		nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
		nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
		nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
		nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, s);
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, d);
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, sp);
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, dp);
		nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, r);
		nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, s);
		nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(80));
		nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, sp);
		nfct_set_attr_u8(ct, ATTR_TCP_STATE, 3); /* ESTABLISHED */
		nfct_set_attr_u32(ct, ATTR_TIMEOUT, 600);
		if (nfct_query(h, NFCT_Q_CREATE, ct) < 0)
			return perror("create"), 1;
		nfct_destroy(ct);
	}
	nfct_close(h);
	return 0;
}

#ifndef OLD
static bool
none(const struct pp_ct_flow *f, void *arg)
{
	++*(size_t *)arg;
	(void)f;
	return false;
}
#endif

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return fill(atoi(argv[2]), atoi(argv[3]));
	double t0 = pp_now_ms();
	size_t got = 0;
	if (argc == 2 && strcmp(argv[1], "flush") == 0) {
		struct pp_flush f = { PP_TCP, 8080, 8080 };
		struct pp_plan p = { .flush = &f, .nflush = 1 };
		pp_conntrack_flush(&p);
		got = p.flows_removed;
	} else if (argc == 2 && strcmp(argv[1], "list") == 0) {
#ifdef OLD
		char *s = pp_read_file("/proc/self/net/nf_conntrack", NULL);
		for (char *c = s; c && (c = strchr(c, '\n')); c++)
			got++;
		free(s);
#else
		struct pp_ct_result r;
		pp_ct_remove(AF_INET, none, &got, &r);
#endif
	} else {
		return fprintf(stderr, "usage: ct-bench fill N K | flush | list\n"), 2;
	}
	printf("%.1f ms %zu\n", pp_now_ms() - t0, got);
	return 0;
}
