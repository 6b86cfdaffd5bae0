/* ddns_dns_parse_addr against ldns and c-ares on one authoritative A answer. Run: sh tools/measure/run.sh */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <ares.h>
int ddns_dns_parse_addr(const unsigned char *m, size_t len, unsigned short id, _Bool v6, _Bool need_aa, char *out, size_t outlen);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
#define N 200000
int main(void)
{
	unsigned char m[512]; size_t o = 12; char out[46]; volatile long sink = 0; double t0;
	memset(m, 0, 12);
	m[0] = 0x12, m[1] = 0x34, m[2] = 0x84, m[5] = 1, m[7] = 1;
	const char *lab[] = { "home", "example", "net" };
	for (int l = 0; l < 3; l++) { m[o++] = (unsigned char)strlen(lab[l]); memcpy(m + o, lab[l], strlen(lab[l])); o += strlen(lab[l]); }
	m[o++] = 0; memcpy(m + o, "\0\1\0\1", 4), o += 4;
	memcpy(m + o, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4", 12), o += 12;
	memcpy(m + o, "\xcb\x00\x71\x05", 4), o += 4;
	t0 = now();
	for (int i = 0; i < N; i++) sink += ddns_dns_parse_addr(m, o, 0x1234, 0, 1, out, sizeof out);
	printf("hand  ddns_dns_parse_addr %.0f ns/answer -> %s\n", (now() - t0) / N * 1e9, out);
	t0 = now();
	for (int i = 0; i < N; i++) {
		ldns_pkt *p = NULL;
		if (ldns_wire2pkt(&p, m, o) == LDNS_STATUS_OK && ldns_pkt_id(p) == 0x1234 && ldns_pkt_aa(p)) {
			ldns_rr_list *l = ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_A, LDNS_SECTION_ANSWER);
			if (l) { ldns_rdf *r = ldns_rr_rdf(ldns_rr_list_rr(l, 0), 0);
				inet_ntop(AF_INET, ldns_rdf_data(r), out, sizeof out); sink++; ldns_rr_list_deep_free(l); }
		}
		ldns_pkt_free(p);
	}
	printf("ldns  wire2pkt+by_type    %.0f ns/answer -> %s\n", (now() - t0) / N * 1e9, out);
	ares_library_init(ARES_LIB_INIT_ALL);
	t0 = now();
	for (int i = 0; i < N; i++) {
		struct ares_addrttl a[4]; int na = 4;
		if (ares_parse_a_reply(m, (int)o, NULL, a, &na) == ARES_SUCCESS && na > 0) { inet_ntop(AF_INET, &a[0].ipaddr, out, sizeof out); sink++; }
	}
	printf("c-ares parse_a_reply      %.0f ns/answer -> %s (no id/AA check)\n", (now() - t0) / N * 1e9, out);
	return (int)(sink & 0);
}
