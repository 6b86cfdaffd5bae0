/* The router advertisement parser (probe/ra6.c): RAs come from anyone on the LAN, so every length,
 * truncation and odd option must be refused or skipped within the bytes given, never read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "portpilot/ipv6.h"
#include "portpilot/probe.h"

/* A valid RA: high preference, lifetime 1800, M flag; SLLA, an MTU option, two PIOs. */
static size_t
sample(uint8_t *d)
{
	static const uint8_t ra[] = {
		134, 0, 0, 0, 64, 0x80 | 0x08, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,                        /* SLLA */
		5, 1, 0, 0, 0, 0, 0x05, 0xdc,                                    /* MTU 1500 */
		3, 4, 64, 0xc0, 0, 1, 0x51, 0x80, 0, 0, 0x38, 0x40, 0, 0, 0, 0,  /* PIO 2001:db8:1::/64 LA */
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		3, 4, 48, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,              /* PIO 2001:db8:77::/48 L, withdrawn */
		0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	memcpy(d, ra, sizeof ra);
	return sizeof ra;
}

/* Parse len bytes from a heap block of exactly that size (a sanitizer sees any overread). */
static int
parse_exact(const uint8_t *d, size_t len, struct pp_ra *ra)
{
	uint8_t *c = malloc(len ? len : 1);
	memcpy(c, d, len);
	int rc = pp_ra_parse(c, len, ra);
	free(c);
	return rc;
}

static void test_ra_parse(void **st)
{
	(void)st;
	uint8_t d[256];
	size_t n = sample(d);
	struct pp_ra ra = { .src = "fe80::2" };
	assert_int_equal(parse_exact(d, n, &ra), 0);
	assert_string_equal(ra.src, "fe80::2");   /* kept */
	assert_int_equal(ra.lifetime, 0x0708);
	assert_int_equal(ra.pref, 1);
	assert_true(ra.managed);
	assert_false(ra.other);
	assert_true(ra.has_mac);
	assert_int_equal(ra.mac[5], 2);
	assert_int_equal(ra.nprefix, 2);
	char a[PP_IP6_STR];
	pp_format_ipv6(ra.prefix[0].addr, a);
	assert_string_equal(a, "2001:db8:1::");
	assert_int_equal(ra.prefix[0].len, 64);
	assert_true(ra.prefix[0].onlink && ra.prefix[0].autonomous);
	assert_int_equal(ra.prefix[0].valid, 86400);
	assert_int_equal(ra.prefix[0].preferred, 14400);
	assert_false(ra.prefix[1].autonomous);
	char w[512];
	pp_ra_words(&ra, w, sizeof w);
	assert_string_equal(w, "fe80::2 (02:00:00:00:00:02, another router): default router for 1800 s, preference "
	                    "high, DHCPv6 addresses, prefix 2001:db8:1::/64 (on-link, autonomous, valid 86400 s), "
	                    "2001:db8:77::/48 (on-link, withdrawn, valid 0 s)");
	char tiny[24];
	pp_ra_words(&ra, tiny, sizeof tiny);          /* cut, and says so */
	assert_int_equal(strlen(tiny), sizeof tiny - 1);
	assert_string_equal(tiny + sizeof tiny - 4, "...");
	/* preference bits: 11 low, 10 reserved (= medium) */
	d[5] = 0x18;
	assert_int_equal(parse_exact(d, n, &ra), 0);
	assert_int_equal(ra.pref, -1);
	d[5] = 0x10;
	assert_int_equal(parse_exact(d, n, &ra), 0);
	assert_int_equal(ra.pref, 0);
	/* not an RA: another type, a code, too short, NULL */
	d[0] = 133;
	assert_int_equal(parse_exact(d, n, &ra), -1);
	d[0] = 134, d[1] = 1;
	assert_int_equal(parse_exact(d, n, &ra), -1);
	d[1] = 0;
	assert_int_equal(parse_exact(d, 15, &ra), -1);
	assert_int_equal(pp_ra_parse(NULL, 0, &ra), -1);
	/* the bare header: a valid RA with no options */
	assert_int_equal(parse_exact(d, 16, &ra), 0);
	assert_false(ra.has_mac);
	assert_int_equal(ra.nprefix, 0);
}

static void test_ra_parse_hostile(void **st)
{
	(void)st;
	uint8_t d[256];
	size_t n = sample(d);
	struct pp_ra ra;
	/* every truncation: refused when it cuts an option (RFC 4861: the RA is invalid) */
	for (size_t len = 16; len < n; len++) {
		int rc = parse_exact(d, len, &ra);
		bool on_boundary = len == 16 || len == 24 || len == 32 || len == 64;
		assert_int_equal(rc, on_boundary ? 0 : -1);
	}
	/* an option of length 0 (would loop for ever) */
	d[17] = 0;
	assert_int_equal(parse_exact(d, n, &ra), -1);
	d[17] = 1;
	/* an option claiming more than is there */
	d[25] = 200;
	assert_int_equal(parse_exact(d, n, &ra), -1);
	d[25] = 1;
	/* a PIO of the wrong length is skipped, not read as one; a prefix length over 128 too */
	uint8_t odd[16 + 40];
	memcpy(odd, d, 16);
	memset(odd + 16, 0, 40);
	odd[16] = 3, odd[17] = 2;                    /* PIO of 16 bytes */
	odd[32] = 3, odd[33] = 3, odd[34] = 200;     /* PIO of 24 bytes, prefix length 200 */
	assert_int_equal(parse_exact(odd, sizeof odd, &ra), 0);
	assert_int_equal(ra.nprefix, 0);
	uint8_t big[16 + 32 * 6];
	memcpy(big, d, 16);
	for (int i = 0; i < 6; i++)
		memcpy(big + 16 + 32 * i, d + 32, 32);
	big[16 + 2] = 129;                           /* the first: a prefix length over 128 */
	assert_int_equal(parse_exact(big, sizeof big, &ra), 0);
	assert_int_equal(ra.nprefix, PP_RA_PFX_MAX); /* the rest kept up to the limit */
	assert_true(ra.prefix_more);
	/* random mutations of the sample (a fixed seed): any outcome but a read past the end; a
	 * parsed one always holds a bounded prefix list */
	srand(15);
	for (int it = 0; it < 20000; it++) {
		uint8_t m[256];
		size_t len = 16 + (size_t)rand() % (n - 15);
		memcpy(m, d, n);
		for (int k = rand() % 6; k >= 0; k--)
			m[(size_t)rand() % len] = (uint8_t)rand();
		m[0] = 134, m[1] = 0;
		if (parse_exact(m, len, &ra) == 0) {
			assert_true(ra.nprefix <= PP_RA_PFX_MAX);
			for (size_t i = 0; i < ra.nprefix; i++)
				assert_true(ra.prefix[i].len <= 128);
		}
		pp_ra_words(&ra, (char[512]){ 0 }, 512);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ra_parse),
		cmocka_unit_test(test_ra_parse_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
