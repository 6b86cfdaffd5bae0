/* portpilot.conf and credentials: values, file:line errors, mode 0600, secrets kept out of messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "portpilot/conf.h"

static char dir[] = "/tmp/pp-ddns-conf.XXXXXX";

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[4][256];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

static const char sample[] =
	"; site 3\n"
	"[ddns home]\n"
	"provider         = dyndns2        ; dyndns2 | duckdns | ...\n"
	"server           = members.dyndns.org\n"
	"hostname         = site3.example.net, www.example.net\n"
	"credentials_file = /etc/portpilot/ddns-home.secret\n"
	"ip_source        = auto\n"
	"checkip          = https://api.ipify.org, https://icanhazip.com\n"
	"ipv6             = no\n"
	"ca_file          =\n"
	"\n"
	"[probe]\n"
	"reflector        = https://probe.example.net:9443\n"
	"token_file       = /etc/portpilot/reflector.token\n"
	"timeout          = 5\n";

static void
test_sample(void **s)
{
	struct pp_conf *c;
	struct pp_error err;
	(void)s;
	const char *p = write_file("a.conf", sample, 0644);
	assert_int_equal(pp_conf_load(p, false, &c, &err), 0);
	assert_int_equal(c->nddns, 1);
	const struct pp_ddns_conf *d = pp_conf_ddns_find(c, "home");
	assert_non_null(d);
	assert_int_equal(d->line, 2);
	assert_int_equal(d->provider, PP_PROV_DYNDNS2);
	assert_string_equal(d->server, "members.dyndns.org");
	assert_int_equal(d->nhosts, 2);
	assert_string_equal(d->hosts[1], "www.example.net");
	assert_int_equal(d->ncheckip, 2);
	assert_string_equal(d->checkip[1], "https://icanhazip.com");
	assert_null(d->ca_file);
	assert_false(d->ipv6);
	assert_int_equal(d->interval, 300);
	assert_true(c->probe.present);
	assert_int_equal(c->probe.line, 12);
	assert_string_equal(c->probe.reflector, "https://probe.example.net:9443");
	assert_string_equal(c->probe.token_file, "/etc/portpilot/reflector.token");
	/* Keys the probe adds later are readable without a change here. */
	assert_string_equal(pp_conf_get(c, "probe", "timeout"), "5");
	assert_null(pp_conf_get(c, "probe", "nothing"));
	unsigned long long h = d->hash;
	pp_conf_free(c);

	/* Any change to the section changes its hash (re-arms a stopped host). */
	char *changed = strdup(sample);
	memcpy(strstr(changed, "site3"), "site4", 5);
	p = write_file("b.conf", changed, 0644);
	free(changed);
	assert_int_equal(pp_conf_load(p, false, &c, &err), 0);
	assert_true(c->ddns[0].hash != h);
	pp_conf_free(c);
}

/* Each broken file must fail with "FILE:LINE:" and words naming the fix. */
static const struct bad {
	const char *text;
	int line;
	const char *words;
} bads[] = {
	{ "[ddns a]\nprovider = dyndns2\nserver = x\nhostname = h.example\ncredentials_file = /x\nsevrer = y\n",
	  6, "unknown key 'sevrer'" },
	{ "[ddns a]\nhostname = h.example\n", 1, "provider: missing" },
	{ "[ddns a]\nprovider = dyndns3\n", 2, "dyndns2 | duckdns" },
	{ "\n[ddns a]\nprovider = duckdns\nhostname = h\ncredentials_file = /x\nttl = 0\n", 6, "ttl" },
	{ "[ddns a]\nprovider = duckdns\nprovider = dyndns2\n", 3, "repeated" },
	{ "provider = duckdns\n", 1, "outside any section" },
	{ "[ddsn a]\n", 1, "unknown section [ddsn a]" },
	{ "[ddns a]\nprovider = custom\nhostname = h.example\n", 1, "url: missing" },
	{ "[ddns a]\nprovider = duckdns\nhostname = h\n", 1, "credentials_file: missing" },
	{ "[ddns a]\nprovider = duckdns\nhostname = h\ncredentials_file = /x\nip_source = web\n", 1, "checkip" },
	{ "[ddns a]\nprovider = duckdns\nhostname = h\ncredentials_file = /x\nipv6 = maybe\n", 5, "yes or no" },
	{ "[ddns a\n", 1, "without ']'" },
	{ "[ddns a]\njunk line\n", 2, "key = value" },
	{ "[ddns a]\nprovider = duckdns\nhostname = h x\ncredentials_file = /x\n", 3, "not allowed" },
};

static void
test_errors_name_file_and_line(void **s)
{
	(void)s;
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct pp_conf *c = NULL;
		struct pp_error err = { "" };
		const char *p = write_file("bad.conf", bads[i].text, 0644);
		char want[300];
		assert_int_equal(pp_conf_load(p, false, &c, &err), -1);
		assert_null(c);
		snprintf(want, sizeof want, "%s:%d:", p, bads[i].line);
		if (strstr(err.msg, want) == NULL || strstr(err.msg, bads[i].words) == NULL)
			fail_msg("case %zu: got '%s', want '%s' and '%s'", i, err.msg, want, bads[i].words);
	}
}

static void
test_missing_file(void **s)
{
	struct pp_conf *c;
	struct pp_error err;
	(void)s;
	assert_int_equal(pp_conf_load("/nonexistent/portpilot.conf", true, &c, &err), 0);
	assert_int_equal(c->nddns, 0);
	pp_conf_free(c);
	assert_int_equal(pp_conf_load("/nonexistent/portpilot.conf", false, &c, &err), -1);
	assert_non_null(strstr(err.msg, "-c FILE"));
}

static void
test_credentials_mode_and_secrecy(void **s)
{
	struct pp_creds cr;
	struct pp_error err;
	(void)s;
	const char *p = write_file("c.secret", "username = site3\npassword = Hunter2-secret\n", 0644);
	assert_int_equal(pp_creds_load(p, &cr, &err), -1);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_non_null(strstr(err.msg, "0644"));
	assert_null(strstr(err.msg, "Hunter2"));
	chmod(p, 0640);
	assert_int_equal(pp_creds_load(p, &cr, &err), -1);
	chmod(p, 0600);
	assert_int_equal(pp_creds_load(p, &cr, &err), 0);
	assert_string_equal(cr.username, "site3");
	assert_string_equal(cr.password, "Hunter2-secret");
	unsigned long long h = cr.hash;
	pp_creds_free(&cr);
	assert_null(cr.password);

	p = write_file("c.secret", "username = site3\npassword = Hunter3-secret\n", 0600);
	assert_int_equal(pp_creds_load(p, &cr, &err), 0);
	assert_true(cr.hash != h);
	pp_creds_free(&cr);

	/* A malformed line is reported by line number, never by content. */
	p = write_file("c.secret", "username = a\nHunter2-secret\n", 0600);
	assert_int_equal(pp_creds_load(p, &cr, &err), -1);
	assert_non_null(strstr(err.msg, ":2:"));
	assert_null(strstr(err.msg, "Hunter2"));
	p = write_file("c.secret", "pasword = Hunter2-secret\n", 0600);
	assert_int_equal(pp_creds_load(p, &cr, &err), -1);
	assert_null(strstr(err.msg, "Hunter2"));
	assert_int_equal(pp_creds_load("/nonexistent/x.secret", &cr, &err), -1);
}

/* The file judged is the file read: a link is judged by its target, a FIFO refused at once. */
static void
test_credentials_checked_on_what_is_read(void **s)
{
	struct pp_creds cr;
	struct pp_error err;
	char link[300], fifo[300];
	(void)s;
	const char *open_file = write_file("open.secret", "token = Hunter2-secret\n", 0644);
	snprintf(link, sizeof link, "%s/link.secret", dir);
	assert_int_equal(symlink(open_file, link), 0);
	assert_int_equal(pp_creds_load(link, &cr, &err), -1);
	assert_non_null(strstr(err.msg, "chmod 600"));
	chmod(open_file, 0600);
	assert_int_equal(pp_creds_load(link, &cr, &err), 0);
	assert_string_equal(cr.token, "Hunter2-secret");
	pp_creds_free(&cr);
	snprintf(fifo, sizeof fifo, "%s/fifo.secret", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(pp_creds_load(fifo, &cr, &err), -1);   /* returns: no writer needed */
	assert_non_null(strstr(err.msg, "regular file"));
	assert_int_equal(pp_creds_load(dir, &cr, &err), -1);
	assert_non_null(strstr(err.msg, "regular file"));
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
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_credentials_mode_and_secrecy),
		cmocka_unit_test(test_credentials_checked_on_what_is_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
