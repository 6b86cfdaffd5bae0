/* Loader and validation: every rule fires on a bad input and stays quiet on a good one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/table.h"
#include "portpilot/util.h"

#define SITE "[site]\nwan_interface = eth0\nlan_subnet = 192.168.2.0/24\n"
#define NOW ((time_t)1790000000) /* 2026-09-21 */

static struct pp_table *
load(const char *text)
{
	struct pp_table *t = NULL;
	struct pp_error err;

	assert_int_equal(pp_table_load_mem("t.ini", text, strlen(text), &t, &err), 0);
	return t;
}

/* Check text and return how many findings match sev/line/mapping/field (NULL/0 = any). */
static size_t
count(const char *text, enum pp_sev sev, int line, const char *map, const char *field)
{
	struct pp_table *t = load(text);
	struct pp_findings fs = { 0 };
	size_t n = 0;

	pp_table_check(t, NOW, &fs);
	for (size_t i = 0; i < fs.n; i++) {
		const struct pp_finding *f = &fs.v[i];
		if (f->sev == sev && (!line || f->line == line) &&
		    (!map || (f->mapping && strcmp(f->mapping, map) == 0)) &&
		    (!field || (f->field && strcmp(f->field, field) == 0))) {
			assert_non_null(f->what);
			n++;
		}
	}
	pp_findings_free(&fs);
	pp_table_free(t);
	return n;
}

static size_t
total(const char *text)
{
	struct pp_table *t = load(text);
	struct pp_findings fs = { 0 };
	size_t n;

	pp_table_check(t, NOW, &fs);
	n = fs.n;
	pp_findings_free(&fs);
	pp_table_free(t);
	return n;
}

static void
test_seed_loads(void **state)
{
	size_t len;
	char *text = pp_read_file(PP_TOP "/examples/seed-site.ini", &len);
	struct pp_table *t;
	struct pp_mapping *m;

	assert_non_null(text);
	t = load(text);
	assert_int_equal(t->n, 3);
	m = pp_table_find(t, "web-2");
	assert_non_null(m);
	assert_int_equal(m->pub_lo, 8090);
	assert_int_equal(m->in_lo, 80);
	assert_int_equal(m->internal_ip, 0xc0a80266); /* 192.168.2.102 */
	assert_int_equal(m->proto, PP_TCP);
	assert_true(m->enabled);
	assert_string_equal(m->val[PP_F_OWNER], "Li Wei");
	assert_string_equal(pp_table_find(t, "web-3")->val[PP_F_OWNER], "Zhang Min"); /* inline comment cut */
	assert_true(t->site.hairpin);
	assert_string_equal(t->site.val[PP_S_NAME], "Plant 3 video platform");
	assert_int_equal(m->line, 27);
	assert_int_equal(m->key_line[PP_F_PUBLIC_PORT], 30);
	assert_true(pp_mapping_active(m, NOW));
	free(text);
	pp_table_free(t);
	assert_int_equal(total(SITE "[a]\npublic_port=1\ninternal_ip=192.168.2.9\n"), 0);
}

static void
test_defaults_and_ranges(void **state)
{
	struct pp_table *t = load(SITE "[rtp]\nprotocol = UDP\npublic_port = 10000-10099\n"
	                          "internal_ip = 192.168.2.50\n[x]\npublic_port=5000-5009\ninternal_port=6000-6009\n"
	                          "internal_ip=192.168.2.51\nallow = 198.51.100.0/24, 203.0.113.7\n");
	struct pp_mapping *m = pp_table_find(t, "RTP"); /* names are case-insensitive */

	assert_non_null(m);
	assert_int_equal(m->proto, PP_UDP);
	assert_int_equal(m->in_lo, 10000); /* internal port defaults to the public one */
	assert_int_equal(m->in_hi, 10099);
	assert_true(m->enabled);
	m = pp_table_find(t, "x");
	assert_int_equal(m->nallow, 2);
	assert_int_equal(m->allow[0].len, 24);
	assert_int_equal(m->allow[1].addr, 0xcb007107);
	assert_int_equal(m->allow[1].len, 32);
	pp_table_free(t);
}

static void
test_bad_port(void **state)
{
	assert_int_equal(count(SITE "[a]\npublic_port = 0\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 65536\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80x\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 65535\ninternal_ip = 192.168.2.9\n", PP_ERROR, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_port = 99999\ninternal_ip = 192.168.2.9\n",
	                       PP_ERROR, 6, "a", "internal_port"), 1);
}

static void
test_bad_range(void **state)
{
	assert_int_equal(count(SITE "[a]\npublic_port = 200-100\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 100-\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 100-199\ninternal_port = 1000-1098\ninternal_ip = 192.168.2.9\n",
	                       PP_ERROR, 6, "a", "internal_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 100-199\ninternal_port = 1000-1099\ninternal_ip = 192.168.2.9\n",
	                       PP_ERROR, 0, NULL, NULL), 0);
}

static void
test_bad_ip_and_cidr(void **state)
{
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.256\n", PP_ERROR, 6, "a", "internal_ip"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2\n", PP_ERROR, 6, "a", "internal_ip"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 127.0.0.1\n", PP_ERROR, 6, "a", "internal_ip"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\nallow = 10.0.0.1/24\n",
	                       PP_ERROR, 7, "a", "allow"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\nallow = 10.0.0.0/33\n",
	                       PP_ERROR, 7, "a", "allow"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\nallow = 10.0.0.0/8, bogus\n",
	                       PP_ERROR, 7, "a", "allow"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\nallow = 10.0.0.0/8, 1.2.3.4\n",
	                       PP_ERROR, 0, NULL, NULL), 0);
}

static void
test_bad_protocol_bool_date(void **state)
{
	assert_int_equal(count(SITE "[a]\nprotocol = sctp\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "protocol"), 1);
	assert_int_equal(count(SITE "[a]\nenabled = maybe\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "enabled"), 1);
	assert_int_equal(count(SITE "[a]\nexpires = 2026-02-30\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "expires"), 1);
	assert_int_equal(count(SITE "[a]\nexpires = tomorrow\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 5, "a", "expires"), 1);
	assert_int_equal(count(SITE "[a]\nexpires = 2030-01-01T18:00\nprotocol = both\npublic_port = 80\ninternal_ip = 192.168.2.9\n",
	                       PP_ERROR, 0, NULL, NULL), 0);
}

static void
test_missing_fields(void **state)
{
	assert_int_equal(count(SITE "[a]\ninternal_ip = 192.168.2.9\n", PP_ERROR, 4, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\n", PP_ERROR, 4, "a", "internal_ip"), 1);
	assert_int_equal(count("[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 0, "site", "wan_interface"), 1);
}

static void
test_duplicate_section(void **state)
{
	const char *dup = SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n[b]\npublic_port=81\n"
	                       "internal_ip = 192.168.2.8\n[A]\nowner = x\n";
	struct pp_table *t = load(dup);

	assert_int_equal(count(dup, PP_ERROR, 10, "A", NULL), 1);
	/* merged like libiniparser does: one mapping, the later key added */
	assert_int_equal(t->n, 2);
	assert_string_equal(pp_table_find(t, "a")->val[PP_F_OWNER], "x");
	pp_table_free(t);
	assert_int_equal(count(SITE "[site]\nhairpin = no\n", PP_ERROR, 4, "site", NULL), 1);
	/* a key repeated in a repeated section: the section finding covers it */
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n[a]\npublic_port = 82\n",
	                       PP_ERROR, 0, "a", "public_port"), 0);
}

static void
test_repeated_key(void **state)
{
	/* libiniparser keeps the last of two values silently: say so at the second line */
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\npublic_port = 81\n",
	                       PP_ERROR, 7, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n", PP_ERROR, 0, NULL, NULL), 0);
	assert_int_equal(count("[site]\nwan_interface = eth0\nwan_interface = eth1\n", PP_ERROR, 3, "site",
	                       "wan_interface"), 1);
}

static void
test_conflicts(void **state)
{
	/* same port */
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\n[b]\npublic_port=80\ninternal_ip=192.168.2.8\n",
	                       PP_ERROR, 8, "b", "public_port"), 1);
	/* overlapping ranges */
	assert_int_equal(count(SITE "[a]\npublic_port=1000-1010\ninternal_ip=192.168.2.9\n[b]\npublic_port=1010-1020\ninternal_ip=192.168.2.8\n",
	                       PP_ERROR, 8, "b", "public_port"), 1);
	/* a range swallowing a later single port, found past a non-overlapping one */
	assert_int_equal(count(SITE "[a]\npublic_port=1000-2000\ninternal_ip=192.168.2.9\n[b]\npublic_port=1100\ninternal_ip=192.168.2.8\n"
	                       "[c]\npublic_port=1900\ninternal_ip=192.168.2.7\n", PP_ERROR, 0, NULL, "public_port"), 2);
	/* both against udp */
	assert_int_equal(count(SITE "[a]\nprotocol=both\npublic_port=5060\ninternal_ip=192.168.2.9\n[b]\nprotocol=udp\npublic_port=5060\n"
	                       "internal_ip=192.168.2.8\n", PP_ERROR, 0, "b", "public_port"), 1);
	/* tcp and udp on one port do not conflict; nor does a disabled or expired mapping */
	assert_int_equal(count(SITE "[a]\nprotocol=tcp\npublic_port=5060\ninternal_ip=192.168.2.9\n[b]\nprotocol=udp\npublic_port=5060\n"
	                       "internal_ip=192.168.2.8\n", PP_ERROR, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\n[b]\npublic_port=80\ninternal_ip=192.168.2.8\nenabled=no\n",
	                       PP_ERROR, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\n[b]\npublic_port=80\ninternal_ip=192.168.2.8\n"
	                       "expires=2020-01-01\n", PP_ERROR, 0, NULL, NULL), 0);
	/* adjacent ranges do not overlap */
	assert_int_equal(count(SITE "[a]\npublic_port=1000-1010\ninternal_ip=192.168.2.9\n[b]\npublic_port=1011-1020\ninternal_ip=192.168.2.8\n",
	                       PP_ERROR, 0, NULL, NULL), 0);
}

static void
test_outside_lan(void **state)
{
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.3.9\n", PP_WARNING, 6, "a", "internal_ip"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.254\n", PP_WARNING, 0, NULL, NULL), 0);
	/* no LAN known: nothing to compare with */
	assert_int_equal(count("[site]\nwan_interface=eth0\n[a]\npublic_port=80\ninternal_ip=10.9.9.9\n", PP_WARNING, 0, NULL, NULL), 0);
}

static void
test_sensitive(void **state)
{
	static const char *svc[] = { "22", "23", "3389", "5900", "445", "3306", "5432", "6379", "27017", "9200", "8291", "1433" };

	for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++) {
		char *text = pp_xasprintf(SITE "[a]\npublic_port=40000\ninternal_port=%s\ninternal_ip=192.168.2.9\n", svc[i]);
		assert_int_equal(count(text, PP_WARNING, 4, "a", "allow"), 1);
		free(text);
	}
	assert_int_equal(count(SITE "[a]\nprotocol=udp\npublic_port=161\ninternal_ip=192.168.2.9\n", PP_WARNING, 0, "a", "allow"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port=22\ninternal_ip=192.168.2.9\nallow=0.0.0.0/0\n", PP_WARNING, 7, "a", "allow"), 1);
	/* restricted, disabled, or not sensitive: quiet */
	assert_int_equal(count(SITE "[a]\npublic_port=22\ninternal_ip=192.168.2.9\nallow=198.51.100.7\n", PP_WARNING, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\npublic_port=22\ninternal_ip=192.168.2.9\nenabled=no\n", PP_WARNING, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\nprotocol=udp\npublic_port=22\ninternal_ip=192.168.2.9\n", PP_WARNING, 0, NULL, NULL), 0);
	assert_int_equal(count(SITE "[a]\npublic_port=8080\ninternal_ip=192.168.2.9\n", PP_WARNING, 0, NULL, NULL), 0);
	/* the lookup itself (a search over the list in port order): edges, ranges, protocols */
	static const struct { uint16_t lo, hi; enum pp_proto p; const char *name; } q[] = {
		{ 21, 21, PP_TCP, "FTP" }, { 1, 65535, PP_TCP, "FTP" }, { 1, 65535, PP_UDP, "TFTP" },
		{ 24, 68, PP_TCP, NULL }, { 24, 69, PP_UDP, "TFTP" }, { 69, 111, PP_TCP, "rpcbind" },
		{ 138, 138, PP_UDP, "NetBIOS/SMB" }, { 140, 160, PP_BOTH, NULL }, { 9250, 9250, PP_TCP, "Elasticsearch" },
		{ 9301, 11210, PP_BOTH, NULL }, { 11211, 11211, PP_UDP, "memcached" }, { 27019, 27019, PP_TCP, "MongoDB" },
		{ 27019, 27019, PP_UDP, NULL }, { 27020, 65535, PP_BOTH, NULL }, { 0, 20, PP_BOTH, NULL },
	};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		const char *got = pp_sensitive_service(q[i].lo, q[i].hi, q[i].p);
		if (q[i].name)
			assert_string_equal(got, q[i].name);
		else
			assert_null(got);
	}
}

static void
test_expired(void **state)
{
	const char *text = SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\nexpires=2026-09-01T18:00\n";
	struct pp_table *t = load(text);

	assert_int_equal(count(text, PP_WARNING, 7, "a", "expires"), 1);
	assert_false(pp_mapping_active(&t->maps[0], NOW));
	assert_true(pp_mapping_active(&t->maps[0], NOW - 30 * 86400));
	pp_table_free(t);
	assert_int_equal(count(SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\nexpires=2026-12-01\n", PP_WARNING, 0, NULL, NULL), 0);
}

static void
test_unknown_key_and_syntax(void **state)
{
	const char *text = SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\nalow = 1.2.3.4\n";
	struct pp_table *t = load(text);
	struct pp_findings fs = { 0 };

	pp_table_check(t, NOW, &fs);
	assert_int_equal(fs.n, 1);
	assert_int_equal(fs.v[0].line, 7);
	assert_string_equal(fs.v[0].field, "alow");
	assert_non_null(strstr(fs.v[0].fix, "'allow'"));
	pp_findings_free(&fs);
	pp_table_free(t);
	assert_int_equal(count(SITE "[site]\nwan_interfce=eth0\n", PP_ERROR, 5, "site", "wan_interfce"), 1);
	/* a junk line is named, and the rest of the file is still read */
	text = SITE "[a]\npublic_port=80\njunk here\ninternal_ip=192.168.2.9\n[b] ; c\n";
	assert_int_equal(count(text, PP_ERROR, 6, NULL, NULL), 1);
	assert_int_equal(count(text, PP_ERROR, 8, NULL, NULL), 1);
	t = load(text);
	assert_int_equal(pp_table_find(t, "a")->internal_ip, 0xc0a80209);
	pp_table_free(t);
	assert_int_equal(count("key = outside\n" SITE, PP_ERROR, 1, NULL, "key"), 1);
	assert_int_equal(count(SITE "[bad name!]\npublic_port=80\ninternal_ip=192.168.2.9\n", PP_ERROR, 4, "bad name!", NULL), 1);
	/* a header without a name is named; libiniparser would file its keys under [a] */
	text = SITE "[a]\npublic_port=80\ninternal_ip=192.168.2.9\n[]b]\ndescription = x\n[ ]\n";
	assert_int_equal(count(text, PP_ERROR, 7, NULL, NULL), 1);
	assert_int_equal(count(text, PP_ERROR, 9, NULL, NULL), 1);
	t = load(text);
	assert_int_equal(t->n, 1);
	pp_table_free(t);
	/* a ':' in a section name: libiniparser's key "site::owner" is [site:] owner */
	t = load(SITE "[site:]\nowner = x\n[a:b]\ndescription = y\n");
	assert_string_equal(pp_table_find(t, "site:")->val[PP_F_OWNER], "x");
	assert_string_equal(pp_table_find(t, "a:b")->val[PP_F_DESCRIPTION], "y");
	pp_table_free(t);
	/* libiniparser joins a comment ending in '\\' with the next line: [b] would vanish */
	text = SITE "; old path C:\\\n[b]\npublic_port=80\ninternal_ip=192.168.2.9\n";
	assert_int_equal(count(text, PP_ERROR, 4, NULL, NULL), 1);
}

static void
test_quotes_and_comments(void **state)
{
	struct pp_table *t = load(SITE "[a] \n  public_port = 80   ; web\ninternal_ip=192.168.2.9 # lan\n"
	                          "description = \"Camera #3; north\"\nowner = ''\n");
	struct pp_mapping *m = pp_table_find(t, "a");

	assert_non_null(m);
	assert_int_equal(m->pub_lo, 80);
	assert_string_equal(m->val[PP_F_DESCRIPTION], "Camera #3; north");
	assert_string_equal(m->val[PP_F_OWNER], "");
	assert_int_equal(m->bad, 0);
	pp_table_free(t);
}

static void
test_many_sections_chunked(void **state)
{
	/* More sections than one libiniparser chunk, with a duplicate across chunks. */
	struct pp_buf b = { 0 };
	struct pp_table *t;

	pp_buf_addstr(&b, SITE);
	for (int i = 0; i < 100; i++)
		pp_buf_printf(&b, "[m%d]\npublic_port = %d\ninternal_ip = 192.168.2.%d\n", i, 1000 + i, 1 + i);
	pp_buf_addstr(&b, "[m3]\nowner = late\n");
	t = load(b.data);
	assert_int_equal(t->n, 100);
	assert_int_equal(pp_table_find(t, "m99")->pub_lo, 1099);
	assert_string_equal(pp_table_find(t, "m3")->val[PP_F_OWNER], "late");
	pp_table_free(t);
	assert_int_equal(count(b.data, PP_ERROR, 0, "m3", NULL), 1);
	pp_buf_free(&b);
}

/* Interface names reach iptables rules: each must be one real name, one token; else a finding, line and fix. */
static void
test_interface_names(void **state)
{
	static const char *bad[] = { "!eth0", "eth0 -m comment --comment x", "eth0 -j ACCEPT",
	                             "abcdefghijklmnopqrstuvwxyz0123456789", "eth+", ".", "..", "eth/0", "eth:0",
	                             "e\"th", "e\\th", "e\tth", "e!th" };
	static const char *good[] = { "eth0", "enp0s31f6", "br-lan", "eth0.100", "wg_0", "abcdefghijklmno" };
	char text[512];
	struct pp_table *t;
	struct pp_error err;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *q = strchr(bad[i], ' ') || strchr(bad[i], '\t') ? "\"" : "";
		snprintf(text, sizeof text, "[site]\nwan_interface = eth0\nlan_interface = %s%s%s\n"
		         "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n", q, bad[i], q);
		assert_int_equal(count(text, PP_ERROR, 3, "site", "lan_interface"), 1);
		snprintf(text, sizeof text, "[site]\nwan_interface = %s%s%s\n[a]\npublic_port = 80\n"
		         "internal_ip = 192.168.2.9\n", q, bad[i], q);
		assert_int_equal(count(text, PP_ERROR, 2, "site", "wan_interface"), 1);
		t = load(SITE);
		assert_int_equal(pp_table_set(t, "site", "wan_interface", bad[i], &err), -1);
		assert_non_null(strstr(err.msg, "is not an interface name"));
		assert_string_equal(t->site.val[PP_S_WAN_INTERFACE], "eth0");
		pp_table_free(t);
	}
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(text, sizeof text, "[site]\nwan_interface = %s\nlan_interface = %s\nlan_subnet = 192.168.2.0/24\n"
		         "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n", good[i], good[i]);
		assert_int_equal(total(text), 0);
	}
}

/* The render path pastes no value that is not one token, whoever calls it. */
static void
test_render_refuses_bad_interface(void **state)
{
	struct pp_table *t = load("[site]\nwan_interface = eth0 -j ACCEPT\nlan_interface = eth1\n"
	                          "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n");
	struct pp_render_opts o = { .now = NOW };
	struct pp_ruleset rs;
	struct pp_error err;

	assert_int_equal(pp_render(t, &o, &rs, &err), -1);
	assert_non_null(strstr(err.msg, "t.ini:2: [site] wan_interface"));
	assert_non_null(strstr(err.msg, "nothing was rendered"));
	pp_table_free(t);
	t = load("[site]\nwan_interface = eth0\nlan_interface = !eth1\n[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n");
	assert_int_equal(pp_render(t, &o, &rs, &err), -1);
	assert_non_null(strstr(err.msg, "lan_interface"));
	pp_table_free(t);
	t = load(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.9\n");
	assert_int_equal(pp_render(t, &o, &rs, &err), 0);
	pp_ruleset_free(&rs);
	pp_table_free(t);
}

/* CR-only (old Mac) line endings are named as such, not as an over-long line. */
static void
test_cr_only_line_endings(void **state)
{
	const char *text = "[site]\rwan_interface = eth0\r[a]\rpublic_port = 80\rinternal_ip = 192.168.2.9\r";
	struct pp_table *t = load(text);
	struct pp_findings fs = { 0 };
	char big[3000];

	pp_table_check(t, NOW, &fs);
	assert_true(fs.n >= 1);
	assert_int_equal(fs.v[0].line, 1);
	assert_non_null(strstr(fs.v[0].what, "old Mac (CR-only) line endings"));
	assert_null(strstr(fs.v[0].what, "longer than"));
	pp_findings_free(&fs);
	pp_table_free(t);
	/* long too: the CR is what is wrong */
	snprintf(big, sizeof big, "[site]\rwan_interface = eth0\r; %02000d\r", 0);
	t = load(big);
	pp_table_check(t, NOW, &fs);
	assert_non_null(strstr(fs.v[0].what, "old Mac"));
	pp_findings_free(&fs);
	pp_table_free(t);
	/* CRLF stays fine */
	assert_int_equal(total("[site]\r\nwan_interface = eth0\r\nlan_subnet = 192.168.2.0/24\r\n"
	                       "[a]\r\npublic_port = 80\r\ninternal_ip = 192.168.2.9\r\n"), 0);
}

/* Issue 14.13: port lists and hairpin on a mapping: the model, and every bad shape as a finding on its line. */
static void
test_port_lists_and_hairpin(void **state)
{
	struct pp_table *t = load(SITE "hairpin = yes\n[a]\npublic_port = 80, 443,9000-9001\ninternal_ip = 192.168.2.10\n"
	                          "internal_port = 8080,443,7000-7001\nhairpin = no\n[b]\npublic_port = 25\n"
	                          "internal_ip = 192.168.2.11\n");
	struct pp_mapping *a = pp_table_find(t, "a"), *b = pp_table_find(t, "b");
	assert_int_equal(a->bad, 0);
	assert_int_equal(pp_mapping_nports(a), 3);
	struct pp_port_pair p = pp_mapping_port(a, 2);
	assert_int_equal(p.pub_lo, 9000);
	assert_int_equal(p.pub_hi, 9001);
	assert_int_equal(p.in_lo, 7000);
	assert_int_equal(p.in_hi, 7001);
	assert_int_equal(pp_mapping_port(a, 0).in_lo, 8080);
	char buf[64];
	pp_mapping_format_ports(a, false, buf, sizeof buf);
	assert_string_equal(buf, "80,443,9000-9001");
	pp_mapping_format_ports(a, true, buf, sizeof buf);
	assert_string_equal(buf, "8080,443,7000-7001");
	assert_false(pp_mapping_hairpin(&t->site, a));
	assert_true(pp_mapping_hairpin(&t->site, b));
	assert_int_equal(pp_mapping_nports(b), 1);
	pp_table_free(t);
	/* internal_port left out: the same ports, element by element. */
	t = load(SITE "[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.10\nhairpin = yes\n");
	a = pp_table_find(t, "a");
	assert_int_equal(pp_mapping_port(a, 1).in_lo, 443);
	assert_true(pp_mapping_hairpin(&t->site, a));  /* the site says no (hairpin absent) */
	assert_false(t->site.hairpin);
	pp_table_free(t);
	assert_int_equal(count(SITE "[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.10\n", PP_ERROR, 0, NULL, NULL), 0);
	/* A single internal_port for a list, a list of another length, an element of another span. */
	assert_int_equal(count(SITE "[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.10\ninternal_port = 80\n",
	                       PP_ERROR, 7, "a", "internal_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.10\ninternal_port = 1,2,3\n",
	                       PP_ERROR, 7, "a", "internal_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80,90-91\ninternal_ip = 192.168.2.10\ninternal_port = 80,90\n",
	                       PP_ERROR, 7, "a", "internal_port"), 1);
	/* Overlaps inside a list, a bad element, an empty list, a bad hairpin. */
	assert_int_equal(count(SITE "[a]\npublic_port = 80,70-90\ninternal_ip = 192.168.2.10\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80,x\ninternal_ip = 192.168.2.10\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = ,\ninternal_ip = 192.168.2.10\n", PP_ERROR, 5, "a", "public_port"), 1);
	assert_int_equal(count(SITE "[a]\npublic_port = 80\ninternal_ip = 192.168.2.10\nhairpin = maybe\n", PP_ERROR, 7, "a", "hairpin"), 1);
	/* Another mapping's port inside a list is a conflict, on the later mapping's line. */
	assert_int_equal(count(SITE "[a]\npublic_port = 80,443\ninternal_ip = 192.168.2.10\n"
	                       "[b]\npublic_port = 443\ninternal_ip = 192.168.2.11\n", PP_ERROR, 8, "b", "public_port"), 1);
	/* The longest list (32 five-digit ranges) formats back whole. */
	char list[PP_PORT_LIST_TEXT] = "", text[600];
	for (int i = 0; i < PP_PORT_LIST_MAX; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d-%d", i ? "," : "", 30000 + 1000 * i,
		         30050 + 1000 * i);
	snprintf(text, sizeof text, SITE "[a]\npublic_port = %s\ninternal_ip = 192.168.2.10\n", list);
	t = load(text);
	a = pp_table_find(t, "a");
	assert_int_equal(a->bad, 0);
	assert_int_equal(pp_mapping_nports(a), PP_PORT_LIST_MAX);
	char back[PP_PORT_LIST_TEXT];
	pp_mapping_format_ports(a, false, back, sizeof back);
	assert_string_equal(back, list);
	pp_table_free(t);
	/* A sensitive port in a list open to everyone warns as a single one does. */
	assert_int_equal(count(SITE "[a]\npublic_port = 80,3389\ninternal_ip = 192.168.2.10\n", PP_WARNING, 0, "a", "allow"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_loads),
		cmocka_unit_test(test_defaults_and_ranges),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_bad_ip_and_cidr),
		cmocka_unit_test(test_bad_protocol_bool_date),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_repeated_key),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_outside_lan),
		cmocka_unit_test(test_sensitive),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_unknown_key_and_syntax),
		cmocka_unit_test(test_quotes_and_comments),
		cmocka_unit_test(test_many_sections_chunked),
		cmocka_unit_test(test_interface_names),
		cmocka_unit_test(test_render_refuses_bad_interface),
		cmocka_unit_test(test_cr_only_line_endings),
		cmocka_unit_test(test_port_lists_and_hairpin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
