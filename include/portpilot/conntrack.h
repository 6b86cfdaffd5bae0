/* The kernel's conntrack table (core/conntrack.c): list a family's flows, remove the chosen ones. */
#ifndef PORTPILOT_CONNTRACK_H
#define PORTPILOT_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One flow as the kernel holds it: the original direction's tuple, the reply's source (the
   DNAT target when it differs from odst) and the connmark. Addresses in network order (IPv4 in
   the first 4 bytes), ports in host order. */
struct pp_ct_flow {
	uint8_t family;                 /* AF_INET, AF_INET6 */
	uint8_t proto;                  /* IPPROTO_TCP, IPPROTO_UDP, ... */
	uint8_t osrc[16], odst[16], rsrc[16];
	uint16_t sport, dport;
	uint32_t mark;
	uint16_t rsport;                /* the reply's source port: the DNAT target's port */
};

/* What a removal did: entries removed, entries chosen that the kernel refused to remove (err
   the first refusal's errno), and listed false (err its errno) when the table could not be read. */
struct pp_ct_result {
	size_t removed, failed;
	bool listed;
	int err;
};

/* Remove every flow of family that pick(flow, arg) chooses, over ctnetlink (no conntrack tool).
   A flow that ended meanwhile counts as neither removed nor failed; an empty table (the
   nf_conntrack_count sysctl 0 or absent) is not even opened. */
void pp_ct_remove(uint8_t family, bool (*pick)(const struct pp_ct_flow *f, void *arg), void *arg,
                  struct pp_ct_result *res);

#endif
