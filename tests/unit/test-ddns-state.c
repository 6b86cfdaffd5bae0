/* DDNS updater: every answer code and what the state machine does next, with a driven clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "portpilot/ddns.h"
#include "portpilot/util.h"

#define T0 1800000000        /* the injected clock: a fixed "now" */
#define OLD "198.51.100.1"
#define NEW "198.51.100.2"
#define HASH 0x1234ULL

static void
fresh(struct pp_ddns_host *h)
{
	memset(h, 0, sizeof *h);
	strcpy(h->host, "site3.example.net");
	strcpy(h->published, OLD);
	h->published_at = T0 - 3600;
	h->status = PP_HS_OK;
}

/* Every code: class, resulting status, and the earliest/latest moment the next update may go out. */
static const struct row {
	enum pp_ddns_code code;
	enum pp_ddns_class cls;
	enum pp_host_status status;
	const char *published;   /* after the answer */
	long min_wait, max_wait; /* next update allowed after [min,max] seconds; -1: never (stopped); 0: no need */
} table[] = {
	{ PP_DC_GOOD,      PP_CLS_OK,    PP_HS_OK,      NEW, 0, 0 },
	{ PP_DC_NOCHG,     PP_CLS_OK,    PP_HS_OK,      NEW, 0, 0 },
	{ PP_DC_BADAUTH,   PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_NOHOST,    PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_NOTFQDN,   PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_NOTYOURS,  PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_NODONATOR, PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_BADAGENT,  PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_BADSYS,    PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_ABUSE,     PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_NUMHOST,   PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_BADREQ,    PP_CLS_FATAL, PP_HS_STOPPED, OLD, -1, -1 },
	{ PP_DC_911,       PP_CLS_RETRY, PP_HS_RETRY,   OLD, 1800, 2100 },
	{ PP_DC_RATELIMIT, PP_CLS_RETRY, PP_HS_RETRY,   OLD, 1800, 2100 },
	{ PP_DC_DNSERR,    PP_CLS_RETRY, PP_HS_RETRY,   OLD, 60, 75 },
	{ PP_DC_SERVER,    PP_CLS_RETRY, PP_HS_RETRY,   OLD, 60, 75 },
	{ PP_DC_NETWORK,   PP_CLS_RETRY, PP_HS_RETRY,   OLD, 60, 75 },
	{ PP_DC_UNKNOWN,   PP_CLS_RETRY, PP_HS_RETRY,   OLD, 60, 75 },
	{ PP_DC_TOOLARGE,  PP_CLS_RETRY, PP_HS_RETRY,   OLD, 60, 75 },
};

static void
one_row(const struct row *r, uint32_t rnd)
{
	struct pp_ddns_host h;

	fresh(&h);
	assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0), PP_ACT_UPDATE);
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, r->code, NEW, HASH, T0, rnd), r->cls);
	assert_int_equal(h.status, r->status);
	assert_string_equal(h.published, r->published);
	assert_int_equal(h.last_code, r->code);
	if (r->min_wait == 0) {
		/* Published: nothing to send until the address changes or 25 days pass. */
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + 1), PP_ACT_NONE);
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + PP_DDNS_REFRESH - 1), PP_ACT_NONE);
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + PP_DDNS_REFRESH), PP_ACT_REFRESH);
		assert_int_equal(pp_ddns_decide(&h, "203.0.113.9", HASH, T0 + 1), PP_ACT_UPDATE);
	} else if (r->min_wait < 0) {
		/* Stopped, also a year later and for another address... */
		assert_non_null(strstr(h.reason, "stopped until the configuration"));
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + 365 * 86400), PP_ACT_STOPPED);
		assert_int_equal(pp_ddns_decide(&h, "203.0.113.9", HASH, T0 + 1), PP_ACT_STOPPED);
		/* ...until the configuration or credentials change. */
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH + 1, T0 + 2), PP_ACT_UPDATE);
	} else {
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + r->min_wait - 1), PP_ACT_WAIT);
		assert_true(h.next_attempt >= T0 + r->min_wait);
		assert_true(h.next_attempt <= T0 + r->max_wait);
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0 + r->max_wait), PP_ACT_UPDATE);
	}
}

static void
test_every_code(void **s)
{
	(void)s;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		one_row(&table[i], 0);
		one_row(&table[i], 0xffffffffu);   /* the largest jitter stays inside the bounds too */
	}
	/* The table covers every code a provider can produce. */
	assert_int_equal(sizeof table / sizeof table[0], PP_DC__COUNT - 1);
}

static void
test_backoff_grows_and_caps(void **s)
{
	(void)s;
	assert_int_equal(pp_ddns_backoff(1, 0), 60);
	assert_int_equal(pp_ddns_backoff(2, 0), 120);
	assert_int_equal(pp_ddns_backoff(3, 0), 240);
	assert_int_equal(pp_ddns_backoff(30, 0), PP_DDNS_BACKOFF_MAX);
	assert_true(pp_ddns_backoff(30, 0xffffffffu) <= PP_DDNS_BACKOFF_MAX * 5 / 4);
	/* Jitter differs between random draws (so many routers don't retry in step). */
	assert_true(pp_ddns_backoff(5, 1) != pp_ddns_backoff(5, 500));

	struct pp_ddns_host h;
	fresh(&h);
	time_t now = T0, prev = 0;
	for (int i = 1; i <= 6; i++) {
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, now), PP_ACT_UPDATE);
		pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_SERVER, NEW, HASH, now, 7);
		time_t wait = h.next_attempt - now;
		assert_true(wait > prev);
		prev = wait;
		now = h.next_attempt;
	}
	/* Success resets the failure count. */
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_GOOD, NEW, HASH, now, 7);
	assert_int_equal(h.failures, 0);
	assert_int_equal(h.next_attempt, 0);
}

static void
test_911_floor_even_after_many(void **s)
{
	struct pp_ddns_host h;
	(void)s;
	fresh(&h);
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_911, NEW, HASH, T0, 0);
	assert_true(h.next_attempt - T0 >= PP_DDNS_AFTER_911);
	/* A network error after a 911 still backs off by its own rule, never below the minimum. */
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NETWORK, NEW, HASH, h.next_attempt, 0);
	assert_int_equal(h.failures, 2);
	assert_int_equal(h.next_attempt - h.last_attempt, 120);
}

static void
test_refresh_nochg_is_fine(void **s)
{
	struct pp_ddns_host h;
	time_t now = T0;
	(void)s;
	fresh(&h);
	h.published_at = now - PP_DDNS_REFRESH;
	/* Three refreshes 25 days apart, each answered nochg: never a stop. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pp_ddns_decide(&h, OLD, HASH, now), PP_ACT_REFRESH);
		assert_int_equal(pp_ddns_apply(&h, PP_ACT_REFRESH, PP_DC_NOCHG, OLD, HASH, now, 0), PP_CLS_OK);
		assert_int_equal(h.status, PP_HS_OK);
		assert_int_equal(pp_ddns_decide(&h, OLD, HASH, now + 86400), PP_ACT_NONE);
		now += PP_DDNS_REFRESH;
	}
}

static void
test_repeated_nochg_stops(void **s)
{
	struct pp_ddns_host h;
	(void)s;
	fresh(&h);
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, T0, 0), PP_CLS_OK);
	/* Something made us send an update again and the provider again says it has it. */
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, T0 + 60, 0), PP_CLS_FATAL);
	assert_int_equal(h.status, PP_HS_STOPPED);
	assert_non_null(strstr(h.reason, "nochg"));
	assert_int_equal(pp_ddns_decide(&h, "203.0.113.7", HASH, T0 + 86400), PP_ACT_STOPPED);
	/* A good in between resets the count. */
	fresh(&h);
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, T0, 0);
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_GOOD, OLD, HASH, T0 + 60, 0);
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, T0 + 120, 0), PP_CLS_OK);
}

static void
test_new_host_updates(void **s)
{
	struct pp_ddns_host h;
	(void)s;
	memset(&h, 0, sizeof h);
	assert_int_equal(pp_ddns_decide(&h, NULL, HASH, T0), PP_ACT_NONE);
	assert_int_equal(pp_ddns_decide(&h, NEW, HASH, T0), PP_ACT_UPDATE);
	/* First answer nochg: the provider had it already; that is success. */
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, T0, 0), PP_CLS_OK);
	assert_string_equal(h.published, NEW);
}

static void
test_stop_persists_across_restart(void **s)
{
	char dir[] = "/tmp/pp-ddns-unit.XXXXXX";
	struct pp_ddns_state st = { 0 }, st2;
	struct pp_error err;
	(void)s;
	assert_non_null(mkdtemp(dir));
	st.name = strdup("home");
	struct pp_ddns_host *h = pp_ddns_state_host(&st, "a.example.net");
	pp_ddns_apply(h, PP_ACT_UPDATE, PP_DC_BADAUTH, NEW, HASH, T0, 0);
	h = pp_ddns_state_host(&st, "b.example.net");
	pp_ddns_apply(h, PP_ACT_UPDATE, PP_DC_911, NEW, HASH, T0, 0);
	assert_int_equal(pp_ddns_state_save(dir, &st, &err), 0);
	/* "Restart": a new process loads the state and makes the same decisions. */
	assert_int_equal(pp_ddns_state_load(dir, "home", &st2, &err), 0);
	assert_int_equal(st2.nhosts, 2);
	h = pp_ddns_state_host(&st2, "a.example.net");
	assert_int_equal(h->status, PP_HS_STOPPED);
	assert_int_equal(h->last_code, PP_DC_BADAUTH);
	assert_int_equal(pp_ddns_decide(h, NEW, HASH, T0 + 86400), PP_ACT_STOPPED);
	assert_int_equal(pp_ddns_decide(h, NEW, HASH ^ 1, T0 + 86400), PP_ACT_UPDATE);
	h = pp_ddns_state_host(&st2, "b.example.net");
	assert_int_equal(h->status, PP_HS_RETRY);
	assert_int_equal(pp_ddns_decide(h, NEW, HASH, T0 + 60), PP_ACT_WAIT);
	pp_ddns_state_free(&st);
	pp_ddns_state_free(&st2);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A link planted at the temporary file's name (a shared --state-dir) is not written through. */
static void
test_save_does_not_follow_a_planted_link(void **s)
{
	char dir[] = "/tmp/pp-ddns-unit.XXXXXX", victim[80], tmp[120], cmd[128];
	struct pp_ddns_state st = { 0 };
	struct pp_error err;
	(void)s;
	assert_non_null(mkdtemp(dir));
	snprintf(victim, sizeof victim, "%s/victim", dir);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	snprintf(tmp, sizeof tmp, "%s/ddns-home.state.tmp.%d", dir, (int)getpid());
	assert_int_equal(symlink(victim, tmp), 0);
	st.name = strdup("home");
	pp_ddns_apply(pp_ddns_state_host(&st, "a.example.net"), PP_ACT_UPDATE, PP_DC_GOOD, NEW, HASH, T0, 0);
	assert_int_equal(pp_ddns_state_save(dir, &st, &err), 0);
	char *text = pp_read_file(victim, NULL);
	assert_string_equal(text, "precious\n");
	free(text);
	snprintf(tmp, sizeof tmp, "%s/ddns-home.state", dir);
	text = pp_read_file(tmp, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "a.example.net"));
	free(text);
	pp_ddns_state_free(&st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_dyndns2_parse_exact(void **s)
{
	enum pp_ddns_code c[3];
	(void)s;
	assert_int_equal(pp_dyndns2_parse("good 198.51.100.2\nnochg 198.51.100.2\r\nnohost\n", 3, c), 0);
	assert_int_equal(c[0], PP_DC_GOOD);
	assert_int_equal(c[1], PP_DC_NOCHG);
	assert_int_equal(c[2], PP_DC_NOHOST);
	/* One account-wide answer covers every host. */
	assert_int_equal(pp_dyndns2_parse("badauth\n", 3, c), 0);
	assert_int_equal(c[2], PP_DC_BADAUTH);
	assert_int_equal(pp_dyndns2_parse("911", 2, c), 0);
	assert_int_equal(c[1], PP_DC_911);
	/* But a per-host answer does not: the missing host's answer is unknown. */
	assert_int_equal(pp_dyndns2_parse("good 198.51.100.2\n", 2, c), 0);
	assert_int_equal(c[1], PP_DC_UNKNOWN);
	/* A dual-stack update is answered with both addresses, as sent in myip. */
	assert_int_equal(pp_dyndns2_parse("good 203.0.113.5,2001:db8::5\r\nnochg 203.0.113.5,2001:db8::5\n", 2, c), 0);
	assert_int_equal(c[0], PP_DC_GOOD);
	assert_int_equal(c[1], PP_DC_NOCHG);
	assert_int_equal(pp_dyndns2_parse("good 203.0.113.5,", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("good ,2001:db8::5", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("good 203.0.113.5,2001:db8::5,2001:db8::6", 1, c), -1);
	/* No substring matching. */
	assert_int_equal(pp_dyndns2_parse("goodbye\n", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("<html>good 1.2.3.4</html>", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("nogood", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("good 198.51.100.2 extra", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("badauth 198.51.100.2", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("", 1, c), -1);
	assert_int_equal(pp_dyndns2_parse("!yours\n!donator\n", 2, c), 0);
	assert_int_equal(c[0], PP_DC_NOTYOURS);
	assert_int_equal(c[1], PP_DC_NODONATOR);
	assert_int_equal(pp_dyndns2_parse("good 2001:db8::1\n", 1, c), 0);
	assert_int_equal(c[0], PP_DC_GOOD);
}

static void
test_other_parsers(void **s)
{
	(void)s;
	assert_int_equal(pp_duckdns_parse("OK"), PP_DC_GOOD);
	assert_int_equal(pp_duckdns_parse("OK\n"), PP_DC_GOOD);
	assert_int_equal(pp_duckdns_parse("KO"), PP_DC_BADAUTH);
	assert_int_equal(pp_duckdns_parse("OKAY"), PP_DC_UNKNOWN);
	assert_int_equal(pp_http_status_code(200), PP_DC_GOOD);
	assert_int_equal(pp_http_status_code(401), PP_DC_BADAUTH);
	assert_int_equal(pp_http_status_code(403), PP_DC_BADAUTH);
	assert_int_equal(pp_http_status_code(404), PP_DC_NOHOST);
	assert_int_equal(pp_http_status_code(400), PP_DC_BADREQ);
	assert_int_equal(pp_http_status_code(429), PP_DC_RATELIMIT);
	assert_int_equal(pp_http_status_code(503), PP_DC_SERVER);
	assert_int_equal(pp_http_status_code(0), PP_DC_NETWORK);
	for (int i = 0; i < PP_DC__COUNT; i++)
		assert_int_equal(pp_ddns_code_lookup(pp_ddns_code_name(i)), i);
}

/*
 * The authoritative servers keep the old record after the provider said good:
 * that is propagation. The record is re-checked after a growing backoff and
 * nothing is sent within PP_DDNS_PROPAGATION; only then is the update sent
 * again, once. A provider that keeps answering nochg to those re-sends while
 * its DNS disagrees hour after hour ends in a stop, not a loop.
 */
static void
test_unverified_backs_off_then_stops(void **s)
{
	struct pp_ddns_host h;
	time_t t = T0, prev = 0;
	int sent = 0, checks = 0;
	(void)s;

	fresh(&h);
	assert_int_equal(pp_ddns_decide(&h, NEW, HASH, t), PP_ACT_UPDATE);
	assert_int_equal(pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_GOOD, NEW, HASH, t, 0), PP_CLS_OK);
	sent++;
	for (int round = 0; round < 100 && h.status != PP_HS_STOPPED; round++) {
		pp_ddns_unverified(&h, "ns1 answers " OLD, t, 0);
		checks++;
		assert_non_null(strstr(h.reason, "ns1 answers " OLD));
		time_t due = h.next_attempt;
		if (h.status == PP_HS_PENDING) {
			/* Propagating: the provider's address stays published, re-checks spread out. */
			assert_string_equal(h.published, NEW);
			assert_true(due > t);
			assert_true(due - t >= prev || due == h.published_at + PP_DDNS_PROPAGATION);
			assert_true(due <= h.published_at + PP_DDNS_PROPAGATION);
			prev = due - t;
			for (time_t u = t + 1; u < due; u += 30)
				assert_int_equal(pp_ddns_decide(&h, NEW, HASH, u), PP_ACT_NONE);
			t = due;
			assert_int_equal(pp_ddns_decide(&h, NEW, HASH, t), PP_ACT_VERIFY);
			continue;
		}
		/* The window is over: a real mismatch, re-sent once after a backoff. */
		assert_int_equal(h.status, PP_HS_RETRY);
		assert_string_equal(h.published, "");
		assert_true(t - h.published_at >= PP_DDNS_PROPAGATION);
		assert_non_null(strstr(h.reason, "sending it again"));
		for (time_t u = t + 1; u < due; u += 10)
			assert_int_equal(pp_ddns_decide(&h, NEW, HASH, u), PP_ACT_WAIT);
		t = due;
		assert_int_equal(pp_ddns_decide(&h, NEW, HASH, t), PP_ACT_UPDATE);
		pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_NOCHG, NEW, HASH, t, 0);
		sent++;
		prev = 0;
	}
	assert_int_equal(h.status, PP_HS_STOPPED);
	assert_non_null(strstr(h.reason, "nochg"));
	/* Two windows of re-checks, a handful each, and two re-sends in two hours: no loop. */
	assert_int_equal(sent, 3);
	assert_true(checks >= 4 && checks <= 20);
	assert_true(t - T0 >= 2 * PP_DDNS_PROPAGATION);
	assert_int_equal(pp_ddns_decide(&h, NEW, HASH, t + 86400), PP_ACT_STOPPED);
}

/* A DNS that lags three minutes (several checks) then serves the record: one request, no stop. */
static void
test_lagging_dns_converges(void **s)
{
	struct pp_ddns_host h;
	time_t t = T0;
	int sent = 0, checks = 0;
	(void)s;

	fresh(&h);
	for (int poll = 0; poll < 200; poll++, t += 30) {
		enum pp_ddns_action a = pp_ddns_decide(&h, NEW, HASH, t);
		assert_true(a == PP_ACT_NONE || a == PP_ACT_UPDATE || a == PP_ACT_VERIFY);
		if (a == PP_ACT_UPDATE) {
			assert_int_equal(pp_ddns_apply(&h, a, PP_DC_GOOD, NEW, HASH, t, 0), PP_CLS_OK);
			sent++;
		}
		if (a == PP_ACT_UPDATE || a == PP_ACT_VERIFY) {
			checks++;
			if (t - T0 < 180) {
				pp_ddns_unverified(&h, "ns1 answers " OLD, t, 0);
				assert_int_equal(h.status, PP_HS_PENDING);
				assert_non_null(strstr(h.reason, "propagate"));
			} else {
				pp_ddns_verified(&h, NULL);
			}
		}
	}
	assert_int_equal(sent, 1);
	assert_true(checks >= 3);
	assert_int_equal(h.status, PP_HS_OK);
	assert_string_equal(h.published, NEW);
	assert_string_equal(h.reason, "");
	assert_int_equal(h.nochg, 0);
	/* Pending survives a restart as such (the state file names it). */
	assert_string_equal(pp_host_status_name(PP_HS_PENDING), "propagating");
	/* While pending, a new address is sent at once: the re-check time is no provider backoff. */
	fresh(&h);
	pp_ddns_apply(&h, PP_ACT_UPDATE, PP_DC_GOOD, NEW, HASH, T0, 0);
	pp_ddns_unverified(&h, "ns1 answers " OLD, T0, 0);
	assert_int_equal(pp_ddns_decide(&h, "203.0.113.9", HASH, T0 + 1), PP_ACT_UPDATE);
}

static void
test_address_kinds(void **s)
{
	(void)s;
	assert_int_equal(pp_ipv4_kind(0x64400001), PP_AK_CGNAT);      /* 100.64.0.1 */
	assert_int_equal(pp_ipv4_kind(0x647fffff), PP_AK_CGNAT);      /* 100.127.255.255 */
	assert_int_equal(pp_ipv4_kind(0x64800001), PP_AK_PUBLIC);     /* 100.128.0.1 */
	assert_int_equal(pp_ipv4_kind(0xc0a80201), PP_AK_PRIVATE);    /* 192.168.2.1 */
	assert_int_equal(pp_ipv4_kind(0x0a000001), PP_AK_PRIVATE);    /* 10.0.0.1 */
	assert_int_equal(pp_ipv4_kind(0xac100001), PP_AK_PRIVATE);    /* 172.16.0.1 */
	assert_int_equal(pp_ipv4_kind(0xac200001), PP_AK_PUBLIC);     /* 172.32.0.1 */
	assert_int_equal(pp_ipv4_kind(0x7f000001), PP_AK_RESERVED);   /* 127.0.0.1 */
	assert_int_equal(pp_ipv4_kind(0xa9fe0001), PP_AK_RESERVED);   /* 169.254.0.1 */
	assert_int_equal(pp_ipv4_kind(0xcb00710a), PP_AK_PUBLIC);     /* 203.0.113.10: lab "internet" */
}

/* One writer: n read-modify-writes of the section's state under its lock (as ddns_check does). */
static int
writer(const char *dir, int n)
{
	struct pp_error err;
	for (int i = 0; i < n; i++) {
		struct pp_ddns_state st;
		int fd = pp_ddns_state_lock(dir, "home", 10000, &err);
		if (fd < 0 || pp_ddns_state_load(dir, "home", &st, &err) < 0)
			return 1;
		pp_ddns_state_host(&st, "a.example.net")->failures++;
		int rc = pp_ddns_state_save(dir, &st, &err);
		pp_ddns_state_free(&st);
		pp_ddns_state_unlock(fd);
		if (rc < 0)
			return 1;
	}
	return 0;
}

/* watch6 and ddns run write one state file: two writers at once lose no update of each other
   (every increment of both is there), and one that cannot get the lock says who holds it. */
static void
test_two_writers_keep_the_state(void **s)
{
	char dir[] = "/tmp/pp-ddns-unit.XXXXXX", cmd[128];
	struct pp_ddns_state st;
	struct pp_error err;
	pid_t kid[2];
	int status, n = 150;
	(void)s;
	assert_non_null(mkdtemp(dir));
	for (int k = 0; k < 2; k++)
		if ((kid[k] = fork()) == 0)
			_exit(writer(dir, n));
	for (int k = 0; k < 2; k++) {
		assert_int_equal(waitpid(kid[k], &status, 0), kid[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(pp_ddns_state_load(dir, "home", &st, &err), 0);
	assert_int_equal(pp_ddns_state_host(&st, "a.example.net")->failures, 2 * n);
	pp_ddns_state_free(&st);
	/* Held: another waits its bound, then is told the holder. */
	int fd = pp_ddns_state_lock(dir, "home", 0, &err);
	assert_true(fd >= 0);
	pid_t p = fork();
	if (p == 0) {
		struct pp_error e2;
		char want[32];
		snprintf(want, sizeof want, "held by pid %d", (int)getppid());
		_exit(pp_ddns_state_lock(dir, "home", 100, &e2) < 0 && strstr(e2.msg, want) ? 0 : 1);
	}
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pp_ddns_state_unlock(fd);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code),
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_911_floor_even_after_many),
		cmocka_unit_test(test_refresh_nochg_is_fine),
		cmocka_unit_test(test_repeated_nochg_stops),
		cmocka_unit_test(test_new_host_updates),
		cmocka_unit_test(test_stop_persists_across_restart),
		cmocka_unit_test(test_dyndns2_parse_exact),
		cmocka_unit_test(test_other_parsers),
		cmocka_unit_test(test_unverified_backs_off_then_stops),
		cmocka_unit_test(test_lagging_dns_converges),
		cmocka_unit_test(test_address_kinds),
		cmocka_unit_test(test_save_does_not_follow_a_planted_link),
		cmocka_unit_test(test_two_writers_keep_the_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
