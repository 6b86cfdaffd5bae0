/* The provider table: rows in the enum's order, each row enough for the reader, needs enforced from the row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../ddns/ddns-internal.h"

static char dir[] = "/tmp/pp-ddns-prov.XXXXXX";

/* Load text as portpilot.conf: 0 with *c, or -1 with err. */
static int
load(const char *text, struct pp_conf **c, struct pp_error *err)
{
	char path[256];
	snprintf(path, sizeof path, "%s/p.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return pp_conf_load(path, false, c, err);
}

/* A section that has what row p needs, minus the key named by drop (NULL: nothing dropped). */
static char *
section(const struct ddns_provider *p, const char *drop, const char *extra)
{
	struct pp_buf b = { 0 };
	pp_buf_printf(&b, "[ddns t]\nprovider = %s\nhostname = h.example.net\n", p->name);
	if ((p->needs & DDNS_NEEDS_SERVER) && !(drop && strcmp(drop, "server") == 0))
		pp_buf_printf(&b, "server = ns.example.net\n");
	if ((p->needs & DDNS_NEEDS_CREDS) && !(drop && strcmp(drop, "credentials_file") == 0))
		pp_buf_printf(&b, "credentials_file = /nonexistent\n");
	if ((p->needs & DDNS_NEEDS_URL) && !(drop && strcmp(drop, "url") == 0))
		pp_buf_printf(&b, "url = https://x.example/u?h={hostname}&ip={ip}\n");
	pp_buf_printf(&b, "%s", extra ? extra : "");
	return b.data;
}

static void
test_rows_in_enum_order(void **s)
{
	(void)s;
	static const struct { enum pp_ddns_provider p; const char *name; } named[] = {
		{ PP_PROV_DYNDNS2, "dyndns2" }, { PP_PROV_DUCKDNS, "duckdns" }, { PP_PROV_CLOUDFLARE, "cloudflare" },
		{ PP_PROV_CUSTOM, "custom" }, { PP_PROV_NSUPDATE, "nsupdate" },
	};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		assert_string_equal(pp_provider_name(named[i].p), named[i].name);
	assert_true(ddns_nproviders >= 6);
	for (size_t i = 0; i < ddns_nproviders; i++) {
		assert_non_null(ddns_providers[i].name);
		assert_non_null(ddns_providers[i].update);
		assert_non_null(strstr(ddns_provider_list(), ddns_providers[i].name));
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(ddns_providers[i].name, ddns_providers[k].name);
	}
}

/* A row is all the reader needs: every provider loads, and to its own row. */
static void
test_each_row_loads(void **s)
{
	(void)s;
	for (size_t i = 0; i < ddns_nproviders; i++) {
		struct pp_conf *c = NULL;
		struct pp_error err = { "" };
		char *t = section(&ddns_providers[i], NULL, NULL);
		if (load(t, &c, &err) < 0)
			fail_msg("provider %s: %s", ddns_providers[i].name, err.msg);
		assert_int_equal(c->nddns, 1);
		assert_ptr_equal(ddns_provider_of(&c->ddns[0]), &ddns_providers[i]);
		pp_conf_free(c);
		free(t);
	}
}

/* What a row needs is required, and only then; success = only where url = is the request. */
static void
test_needs_come_from_the_row(void **s)
{
	(void)s;
	static const struct { unsigned need; const char *key; } keys[] = {
		{ DDNS_NEEDS_SERVER, "server" }, { DDNS_NEEDS_CREDS, "credentials_file" }, { DDNS_NEEDS_URL, "url" },
	};
	for (size_t i = 0; i < ddns_nproviders; i++) {
		const struct ddns_provider *p = &ddns_providers[i];
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			if (!(p->needs & keys[k].need))
				continue;
			struct pp_conf *c = NULL;
			struct pp_error err = { "" };
			char *t = section(p, keys[k].key, NULL), want[64];
			assert_int_equal(load(t, &c, &err), -1);
			snprintf(want, sizeof want, "%s: missing", keys[k].key);
			if (strstr(err.msg, want) == NULL)
				fail_msg("provider %s without %s: got '%s'", p->name, keys[k].key, err.msg);
			free(t);
		}
		struct pp_conf *c = NULL;
		struct pp_error err = { "" };
		char *t = section(p, NULL, "success = OK\n");
		int rc = load(t, &c, &err);
		assert_int_equal(rc, (p->needs & DDNS_NEEDS_URL) ? 0 : -1);
		pp_conf_free(c);
		free(t);
	}
}

static const struct ddns_provider *
row(const char *name)
{
	for (size_t i = 0; i < ddns_nproviders; i++)
		if (strcmp(ddns_providers[i].name, name) == 0)
			return &ddns_providers[i];
	fail_msg("no provider %s", name);
	return NULL;
}

/* gandi's own check: Gandi's TTL floor, hosts inside zone (the apex is the zone itself). */
static void
test_gandi_check(void **s)
{
	(void)s;
	static const struct { const char *extra; int ok; const char *words; } cases[] = {
		{ "ttl = 299\n", 0, "ttl: 299 is under Gandi's minimum" },
		{ "ttl = 300\n", 1, NULL },
		{ "zone = example.net\n", 1, NULL },
		{ "zone = other.example\n", 0, "hostname: h.example.net is not in zone other.example" },
		{ "zone = h.example.net\n", 1, NULL },                 /* the apex: rrset @ */
		{ "zone = xample.net\n", 0, "not in zone xample.net" }, /* a suffix is not a zone */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pp_conf *c = NULL;
		struct pp_error err = { "" };
		char *t = section(row("gandi"), NULL, cases[i].extra);
		int rc = load(t, &c, &err);
		if (cases[i].ok ? rc != 0 : rc != -1 || strstr(err.msg, cases[i].words) == NULL)
			fail_msg("case %zu (%s): rc %d, '%s'", i, cases[i].extra, rc, err.msg);
		pp_conf_free(c);
		free(t);
	}
}

/* The cleartext warning reads the row: what goes in clear, and nothing for a provider that sends none. */
static void
test_cleartext_from_the_row(void **s)
{
	(void)s;
	struct pp_ddns_conf dc = { .name = "t", .line = 1, .server = "http://api.example:8080/v5/livedns" };
	char why[400];
	dc.provider = (enum pp_ddns_provider)(row("gandi") - ddns_providers);
	assert_true(ddns_cleartext_secret(&dc, NULL, why, sizeof why));
	assert_non_null(strstr(why, "the personal access token (Authorization header) goes to http://api.example:8080"));
	dc.server = "api.example";                             /* https unless http:// is written */
	assert_false(ddns_cleartext_secret(&dc, NULL, why, sizeof why));
	dc.provider = PP_PROV_NSUPDATE;
	dc.server = "http://ns.example";
	assert_false(ddns_cleartext_secret(&dc, NULL, why, sizeof why));
}

static int
setup(void **s)
{
	(void)s;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **s)
{
	char cmd[128];
	(void)s;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_in_enum_order),
		cmocka_unit_test(test_each_row_loads),
		cmocka_unit_test(test_needs_come_from_the_row),
		cmocka_unit_test(test_gandi_check),
		cmocka_unit_test(test_cleartext_from_the_row),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
