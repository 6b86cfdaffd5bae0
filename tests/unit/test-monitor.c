/* The monitor without a network: thresholds and flapping, answer parsers, table keys, conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "portpilot/ipv6.h"
#include "portpilot/monitor.h"
#include "portpilot/util.h"
#include "../../probe/monitor-internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void test_sm_thresholds(void **st)
{
	struct pp_mon_sm sm = { 0 };
	(void)st;
	/* The first success is a look, not news. */
	assert_int_equal(pp_mon_sm_feed(&sm, true, 3, 2, 100), PP_MON_FIRST_UP);
	assert_int_equal(sm.state, PP_HEALTH_UP);
	assert_int_equal(sm.since, 100);
	/* Down after exactly fail_after failures in a row. */
	assert_int_equal(pp_mon_sm_feed(&sm, false, 3, 2, 101), PP_MON_SAME);
	assert_int_equal(pp_mon_sm_feed(&sm, false, 3, 2, 102), PP_MON_SAME);
	assert_int_equal(pp_mon_sm_feed(&sm, false, 3, 2, 103), PP_MON_WENT_DOWN);
	assert_int_equal(sm.state, PP_HEALTH_DOWN);
	assert_int_equal(sm.since, 103);
	/* Staying down is no news either. */
	assert_int_equal(pp_mon_sm_feed(&sm, false, 3, 2, 104), PP_MON_SAME);
	assert_int_equal(sm.since, 103);
	/* Up after recover_after successes in a row; one success between failures resets it. */
	assert_int_equal(pp_mon_sm_feed(&sm, true, 3, 2, 105), PP_MON_SAME);
	assert_int_equal(pp_mon_sm_feed(&sm, false, 3, 2, 106), PP_MON_SAME);
	assert_int_equal(pp_mon_sm_feed(&sm, true, 3, 2, 107), PP_MON_SAME);
	assert_int_equal(pp_mon_sm_feed(&sm, true, 3, 2, 108), PP_MON_CAME_UP);
	assert_int_equal(sm.since, 108);
}

static void test_sm_unknown_to_down(void **st)
{
	struct pp_mon_sm sm = { 0 };
	(void)st;
	/* A service already dead when the monitor starts is reported, after fail_after. */
	assert_int_equal(pp_mon_sm_feed(&sm, false, 2, 2, 1), PP_MON_SAME);
	assert_int_equal(sm.state, PP_HEALTH_UNKNOWN);
	assert_int_equal(pp_mon_sm_feed(&sm, false, 2, 2, 2), PP_MON_WENT_DOWN);
	/* fail_after 1 (or a bad 0) goes down at the first failure. */
	struct pp_mon_sm s2 = { .state = PP_HEALTH_UP };
	assert_int_equal(pp_mon_sm_feed(&s2, false, 0, 0, 5), PP_MON_WENT_DOWN);
	assert_int_equal(pp_mon_sm_feed(&s2, true, 0, 0, 6), PP_MON_CAME_UP);
}

static void test_sm_flapping(void **st)
{
	struct pp_mon_sm sm = { .state = PP_HEALTH_UP };
	int changes = 0;
	(void)st;
	/* Up and down at every check for a long time: never fail_after failures in a row. */
	for (int i = 0; i < 1000; i++)
		changes += pp_mon_sm_feed(&sm, i % 2, 2, 2, i) != PP_MON_SAME;
	assert_int_equal(changes, 0);
	assert_int_equal(sm.state, PP_HEALTH_UP);
	/* Two down, one up: down once, and never up again (recover_after 2 is not reached). */
	for (int i = 0; i < 300; i++)
		changes += pp_mon_sm_feed(&sm, i % 3 == 2, 2, 2, i) != PP_MON_SAME;
	assert_int_equal(changes, 1);
	assert_int_equal(sm.state, PP_HEALTH_DOWN);
}

static void test_status_line(void **st)
{
	int code = 0;
	(void)st;
	assert_int_equal(pp_mon_status_line("HTTP/1.1 200 OK\r\n", 17, "HTTP/", &code), 1);
	assert_int_equal(code, 200);
	assert_int_equal(pp_mon_status_line("HTTP/1.0 404\r\n", 14, "HTTP/", &code), 1);
	assert_int_equal(code, 404);
	assert_int_equal(pp_mon_status_line("RTSP/1.0 200 OK\r\nCSeq: 1\r\n", 26, "RTSP/", &code), 1);
	assert_int_equal(pp_mon_status_line("SIP/2.0 100 Trying\r\n", 20, "SIP/", &code), 1);
	assert_int_equal(code, 100);
	/* Not there yet: more bytes are needed, also for a prefix of the protocol name. */
	assert_int_equal(pp_mon_status_line("HTTP/1.1 20", 11, "HTTP/", &code), 0);
	assert_int_equal(pp_mon_status_line("HT", 2, "HTTP/", &code), 0);
	/* Something else speaks there. */
	assert_int_equal(pp_mon_status_line("SSH-2.0-OpenSSH\r\n", 17, "HTTP/", &code), -1);
	assert_int_equal(pp_mon_status_line("RTSP/1.0 200 OK\r\n", 17, "HTTP/", &code), -1);
	assert_int_equal(pp_mon_status_line("HTTP/1.1 2000 OK\r\n", 18, "HTTP/", &code), -1);
	assert_int_equal(pp_mon_status_line("HTTP/1.1 OK\r\n", 13, "HTTP/", &code), -1);
	assert_int_equal(pp_mon_status_line("HTTP/ 200 OK\r\n", 14, "HTTP/", &code), -1);
	assert_int_equal(pp_mon_status_line("HTTP/1.1 099 x\r\n", 16, "HTTP/", &code), -1);
}

static void test_expect_codes(void **st)
{
	struct pp_mon_expect e;
	struct pp_error err;
	(void)st;
	assert_int_equal(pp_mon_expect_parse("200,301 healthy", true, &e, &err), 0);
	assert_int_equal(e.ncodes, 2);
	assert_string_equal(e.text, "healthy");
	assert_true(pp_mon_code_ok(&e, PP_CK_HTTP, 301));
	assert_false(pp_mon_code_ok(&e, PP_CK_HTTP, 302));
	pp_mon_expect_free(&e);
	assert_int_equal(pp_mon_expect_parse("2xx", true, &e, &err), 0);
	assert_null(e.text);
	assert_true(pp_mon_code_ok(&e, PP_CK_HTTP, 204));
	assert_false(pp_mon_code_ok(&e, PP_CK_HTTP, 500));
	pp_mon_expect_free(&e);
	/* No codes: an HTTP server below 400 is up, any RTSP/SIP answer is. */
	assert_true(pp_mon_code_ok(NULL, PP_CK_HTTP, 302));
	assert_false(pp_mon_code_ok(NULL, PP_CK_HTTPS, 503));
	assert_true(pp_mon_code_ok(NULL, PP_CK_SIP, 404));
	/* A UDP answer text keeps a number as text. */
	assert_int_equal(pp_mon_expect_parse("200 ok\\x00", false, &e, &err), 0);
	assert_int_equal(e.ncodes, 0);
	assert_int_equal(e.text_len, 7);
	pp_mon_expect_free(&e);
	assert_int_equal(pp_mon_expect_parse("ok\\q", false, &e, &err), -1);
	assert_non_null(strstr(err.msg, "escape"));
}

static void test_judge(void **st)
{
	struct pp_mon_expect e;
	struct pp_error err;
	char why[160];
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsrv-101\n";
	(void)st;
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, NULL, ok, strlen(ok), false, why, sizeof why), 1);
	assert_string_equal(why, "status 200");
	/* Status alone is known before the body: but a wanted text waits for it. */
	assert_int_equal(pp_mon_expect_parse("200 srv-101", true, &e, &err), 0);
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, &e, ok, 40, false, why, sizeof why), 0);
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, &e, ok, strlen(ok), false, why, sizeof why), 1);
	pp_mon_expect_free(&e);
	/* The text must be in the body, not in the headers. */
	assert_int_equal(pp_mon_expect_parse("Content", true, &e, &err), 0);
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, &e, ok, strlen(ok), true, why, sizeof why), -1);
	assert_non_null(strstr(why, "lacks"));
	pp_mon_expect_free(&e);
	const char *err500 = "HTTP/1.0 500 Internal\r\n\r\n";
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, NULL, err500, strlen(err500), false, why, sizeof why), -1);
	assert_string_equal(why, "status 500");
	assert_int_equal(pp_mon_judge(PP_CK_HTTP, NULL, "", 0, true, why, sizeof why), -1);
	assert_string_equal(why, "closed without an answer");
	/* SIP: a provisional answer waits for the final one. */
	const char *trying = "SIP/2.0 100 Trying\r\n\r\n";
	assert_int_equal(pp_mon_judge(PP_CK_SIP, NULL, trying, strlen(trying), false, why, sizeof why), 0);
	/* Provisional and final in one segment (TCP): the final one counts. */
	const char *both = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\nSIP/2.0 503 Busy\r\n\r\n";
	assert_int_equal(pp_mon_expect_parse("200", true, &e, &err), 0);
	assert_int_equal(pp_mon_judge(PP_CK_SIP, &e, both, strlen(both), true, why, sizeof why), -1);
	assert_string_equal(why, "status 503");
	pp_mon_expect_free(&e);
	assert_int_equal(pp_mon_judge(PP_CK_SIP, NULL, trying, strlen(trying), true, why, sizeof why), -1);
	assert_non_null(strstr(why, "provisional"));
	const char *sip = "SIP/2.0 405 Method Not Allowed\r\n\r\n";
	assert_int_equal(pp_mon_judge(PP_CK_SIP, NULL, sip, strlen(sip), false, why, sizeof why), 1);
	assert_int_equal(pp_mon_expect_parse("200", true, &e, &err), 0);
	assert_int_equal(pp_mon_judge(PP_CK_SIP, &e, sip, strlen(sip), false, why, sizeof why), -1);
	pp_mon_expect_free(&e);
	const char *rtsp = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: DESCRIBE, SETUP\r\n\r\n";
	assert_int_equal(pp_mon_judge(PP_CK_RTSP, NULL, rtsp, strlen(rtsp), false, why, sizeof why), 1);
	/* An HTTP server on the RTSP port is not a camera. */
	assert_int_equal(pp_mon_judge(PP_CK_RTSP, NULL, ok, strlen(ok), false, why, sizeof why), -1);
	/* UDP and TCP banners. */
	assert_int_equal(pp_mon_expect_parse("PONG", false, &e, &err), 0);
	assert_int_equal(pp_mon_judge(PP_CK_UDP, &e, "srv PONG", 8, false, why, sizeof why), 1);
	assert_int_equal(pp_mon_judge(PP_CK_UDP, &e, "srv PING", 8, true, why, sizeof why), -1);
	assert_int_equal(pp_mon_judge(PP_CK_TCP, &e, "", 0, false, why, sizeof why), 0);
	pp_mon_expect_free(&e);
}

static struct pp_table *load(const char *text)
{
	struct pp_table *t = NULL;
	struct pp_error err;
	assert_int_equal(pp_table_load_mem("m.ini", text, strlen(text), &t, &err), 0);
	return t;
}

/* The finding of the field, or NULL. */
static const struct pp_finding *finding(const struct pp_findings *fs, const char *field)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].field && !strcmp(fs->v[i].field, field))
			return &fs->v[i];
	return NULL;
}

static void test_table_keys(void **st)
{
	struct pp_findings fs = { 0 };
	(void)st;
	struct pp_table *t = load("[site]\nwan_interface = eth0\n"
	                          "[cam]\npublic_port = 8554\ninternal_ip = 192.168.2.110\ninternal_port = 554\n"
	                          "check = rtsp\ncheck_path = /stream1\ncheck_expect = 200\n"
	                          "check_timing = interval=10, timeout=500ms, fail_after=2, recover_after=4\n"
	                          "[bad]\npublic_port = 8081\ninternal_ip = 192.168.2.111\n"
	                          "check = ping\ncheck_timing = interval=0\ncheck_path = health\n"
	                          "check_send = \\xZZ\n");
	pp_table_check(t, 0, &fs);
	const struct pp_mapping *m = pp_table_find(t, "cam");
	assert_int_equal(m->bad, 0);
	assert_int_equal(m->check, PP_CK_RTSP);
	assert_int_equal(m->timing.interval_s, 10);
	assert_int_equal(m->timing.timeout_ms, 500);
	assert_int_equal(m->timing.fail_after, 2);
	assert_int_equal(m->timing.recover_after, 4);
	/* No "unknown key" for any of them, and each bad value named at its line. */
	for (size_t i = 0; i < fs.n; i++)
		assert_null(strstr(fs.v[i].what, "unknown key"));
	const struct pp_finding *f = finding(&fs, "check");
	assert_non_null(f);
	assert_int_equal(f->line, 14);
	assert_non_null(strstr(f->what, "ping"));
	assert_non_null((f = finding(&fs, "check_timing")));
	assert_int_equal(f->line, 15);
	assert_non_null((f = finding(&fs, "check_path")));
	assert_int_equal(f->line, 16);
	assert_non_null((f = finding(&fs, "check_send")));
	assert_int_equal(f->line, 17);
	pp_findings_free(&fs);
	pp_table_free(t);
}

static void test_default_kind(void **st)
{
	(void)st;
	struct pp_table *t = load("[a]\npublic_port=1\ninternal_ip=192.168.2.2\ninternal_port=554\n"
	                          "[b]\npublic_port=5060\ninternal_ip=192.168.2.2\nprotocol=udp\n"
	                          "[c]\npublic_port=443\ninternal_ip=192.168.2.2\n"
	                          "[d]\npublic_port=8080\ninternal_ip=192.168.2.2\n"
	                          "[e]\npublic_port=22\ninternal_ip=192.168.2.2\n"
	                          "[f]\npublic_port=5005\ninternal_ip=192.168.2.2\nprotocol=udp\n"
	                          "[g]\npublic_port=5005\ninternal_ip=192.168.2.2\nprotocol=udp\ncheck_send=x\n"
	                          "[h]\npublic_port=80\ninternal_ip=192.168.2.2\ncheck=tls\n");
	const char *want[] = { "rtsp", "sip", "https", "http", "tcp", "none", "udp", "tls" };
	for (size_t i = 0; i < t->n; i++)
		assert_string_equal(pp_check_kind_name(pp_mon_default_kind(&t->maps[i])), want[i]);
	pp_table_free(t);
}

/* A port list: every element checked, the mapping's check on the element whose port would
 * choose it (else the first), a TCP connect on the others; a UDP list without check_send
 * checks its other elements not at all; a range by its first port. */
static void test_port_list_elements(void **st)
{
	(void)st;
	struct pp_table *t = load("[a]\npublic_port=80,443\ninternal_ip=192.168.2.2\ncheck=https\n"
	                          "[b]\npublic_port=9101,9102\ninternal_port=2222,80\ninternal_ip=192.168.2.2\ncheck=http\n"
	                          "[c]\npublic_port=7000,7100-7105\ninternal_ip=192.168.2.2\n"
	                          "[d]\npublic_port=5060,5070\ninternal_ip=192.168.2.2\nprotocol=udp\n"
	                          "[e]\npublic_port=443,80\ninternal_ip=192.168.2.2\n");
	struct pp_check_timing d = { 30, 2000, 3, 2 };
	struct pp_error err;
	struct mon_target tg[5];
	/* element 0's, element 1's kind, the port the mapping's own check goes to */
	static const struct { enum pp_check_kind k0, k1; unsigned in1, port; } want[] = {
		{ PP_CK_TCP, PP_CK_HTTPS, 443, 443 },
		{ PP_CK_TCP, PP_CK_HTTP, 80, 80 },
		{ PP_CK_TCP, PP_CK_TCP, 7100, 7000 },
		{ PP_CK_SIP, PP_CK_NONE, 5070, 5060 },
		{ PP_CK_HTTPS, PP_CK_TCP, 80, 443 },
	};
	assert_int_equal(t->n, 5);
	for (size_t i = 0; i < t->n; i++) {
		assert_int_equal(mon_target_init(&tg[i], &t->maps[i], "m.ini", &d, &err), 0);
		assert_int_equal(tg[i].nports, 2);
		assert_int_equal(tg[i].ports[0].kind, want[i].k0);
		assert_int_equal(tg[i].ports[1].kind, want[i].k1);
		assert_int_equal(tg[i].ports[1].in, want[i].in1);
		assert_int_equal(tg[i].port, want[i].port);
	}
	/* Only the element with the mapping's check uses check_send and check_expect. */
	assert_true(tg[0].ports[1].send && tg[0].ports[1].expect);
	assert_false(tg[0].ports[0].send || tg[0].ports[0].expect);
	/* The detail: the failed elements first, each by its port. */
	tg[2].ports[0].ok = true;
	strcpy(tg[2].ports[0].detail, "connected");
	tg[2].ports[1].ok = false;
	strcpy(tg[2].ports[1].detail, "connect: refused");
	char out[200];
	mon_ports_detail(&tg[2], out, sizeof out);
	assert_string_equal(out, "7100: connect: refused; 7000: connected");
	/* The public results: down while any element's last one failed. */
	char bad[64];
	assert_false(mon_pub_result(&tg[2], false, bad, sizeof bad));    /* 7000 */
	assert_string_equal(bad, "7000");
	assert_false(mon_pub_result(&tg[2], true, bad, sizeof bad));     /* 7100 */
	assert_true(mon_pub_result(&tg[2], true, bad, sizeof bad));      /* 7000 again */
	for (size_t i = 0; i < t->n; i++)
		mon_target_free(&tg[i]);
	pp_table_free(t);
}

/* IPv6: ipv6 = yes checks the list on both families (IPv4 elements first, the mapping's check on
 * its element of each), the reflector asks for the IPv4 elements only; ipv6 = only is watched
 * without internal_ip and checks IPv6 alone. */
static void test_port_list_ipv6(void **st)
{
	(void)st;
	struct pp_table *t = load("[a]\npublic_port=80,443\ninternal_ip=192.168.2.2\n"
	                          "internal_ip6=2001:db8:1::2\nipv6=yes\ncheck=https\n"
	                          "[b]\npublic_port=8080\ninternal_ip6=2001:db8:1::3\nipv6=only\n");
	struct pp_check_timing d = { 30, 2000, 3, 2 };
	struct pp_error err;
	struct mon_target a, b;
	assert_int_equal(t->n, 2);
	assert_true(mon_watched(&t->maps[1], time(NULL)));
	assert_int_equal(mon_target_init(&a, &t->maps[0], "m.ini", &d, &err), 0);
	assert_int_equal(a.nports, 4);
	assert_int_equal(a.npub, 2);
	assert_string_equal(mon_family(&a), "both");
	assert_false(a.ports[1].v6);
	assert_true(a.ports[2].v6 && a.ports[3].v6);
	assert_int_equal(a.ports[3].in, 443);
	assert_int_equal(a.ports[1].kind, PP_CK_HTTPS);
	assert_int_equal(a.ports[3].kind, PP_CK_HTTPS);
	assert_int_equal(a.ports[2].kind, PP_CK_TCP);
	/* The detail names family and address; the failed ones first. */
	a.ip6_ok = true;
	assert_int_equal(pp_parse_ipv6("2001:db8:1::2", a.ip6), 0);
	for (size_t i = 0; i < 4; i++) {
		a.ports[i].ok = i != 3;
		strcpy(a.ports[i].detail, i == 3 ? "connect: refused" : "ok");
	}
	char out[400];
	mon_ports_detail(&a, out, sizeof out);
	assert_string_equal(out, "IPv6 [2001:db8:1::2]:443: connect: refused; IPv4 192.168.2.2:80: ok; "
	                    "IPv4 192.168.2.2:443: ok; IPv6 [2001:db8:1::2]:80: ok");
	char bad[64];
	assert_false(mon_pub_result(&a, false, bad, sizeof bad));     /* 80 */
	assert_false(mon_pub_result(&a, true, bad, sizeof bad));      /* 443 */
	assert_true(mon_pub_result(&a, true, bad, sizeof bad));       /* 80 again, never an IPv6 one */
	assert_int_equal(mon_target_init(&b, &t->maps[1], "m.ini", &d, &err), 0);
	assert_int_equal(b.nports, 1);
	assert_int_equal(b.npub, 0);
	assert_true(b.ports[0].v6);
	assert_string_equal(mon_family(&b), "ipv6");
	mon_target_free(&a);
	mon_target_free(&b);
	pp_table_free(t);
}

static void test_timing_errors(void **st)
{
	struct pp_check_timing tm;
	struct pp_error err;
	(void)st;
	assert_int_equal(pp_check_timing_parse("timeout=2", &tm, &err), 0);
	assert_int_equal(tm.timeout_ms, 2000);
	assert_int_equal(tm.interval_s, 0);
	assert_int_equal(pp_check_timing_parse("interval=10s fail_after=1", &tm, &err), 0);
	assert_int_equal(tm.interval_s, 10);
	assert_int_equal(pp_check_timing_parse("intervall=10", &tm, &err), -1);
	assert_non_null(strstr(err.msg, "intervall"));
	assert_int_equal(pp_check_timing_parse("timeout=61", &tm, &err), -1);
	assert_int_equal(pp_check_timing_parse("fail_after", &tm, &err), -1);
	assert_int_equal(pp_check_timing_parse("recover_after=-1", &tm, &err), -1);
}

static void test_event_text(void **st)
{
	(void)st;
	struct pp_mon_event ev = { .mapping = "web-2", .state = PP_HEALTH_DOWN, .previous = PP_HEALTH_UP,
	                           .since = 1000, .detail = "connect: refused", .cause = "not_listening",
	                           .summary = "nothing listens on 192.168.2.102 port 80", .fix = "start it" };
	char *m = pp_mon_event_message(&ev);
	assert_non_null(strstr(m, "web-2 DOWN since "));
	assert_non_null(strstr(m, ": not_listening: nothing listens on 192.168.2.102 port 80; fix: start it"));
	free(m);
	char *j = pp_mon_event_json(&ev);
	char v[64];
	assert_true(pp_json_field(j, "cause", v, sizeof v));
	assert_string_equal(v, "not_listening");
	assert_true(pp_json_field(j, "state", v, sizeof v));
	assert_string_equal(v, "down");
	free(j);
	/* A template: values escaped for JSON, so a quote in a value cannot break the body. */
	ev.summary = "say \"hi\"\n";
	char *b = pp_mon_template("{\"text\":\"{mapping} is {state}: {summary}\",\"x\":\"{nope}\"}", &ev, true);
	assert_string_equal(b, "{\"text\":\"web-2 is down: say \\\"hi\\\"\\u000a\",\"x\":\"{nope}\"}");
	free(b);
	b = pp_mon_template("{mapping} {cause}", &ev, false);
	assert_string_equal(b, "web-2 not_listening");
	free(b);
}

static void test_conf(void **st)
{
	struct pp_mon_conf mc;
	struct pp_error err;
	char path[] = "/tmp/pp-mon-conf-XXXXXX";
	int fd = mkstemp(path);
	(void)st;
	const char good[] = "[probe]\nreflector = http://198.51.100.1:9443\n[monitor]\ninterval = 5\n"
	                    "timeout = 500ms\nfail_after = 4\nhook = logger -t pp \"$PP_MAPPING\"\n"
	                    "webhook = http://127.0.0.1:9/x\n";
	assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)sizeof good - 1);
	assert_int_equal(pp_mon_conf_load(path, &mc, &err), 0);
	assert_int_equal(mc.interval_s, 5);
	assert_int_equal(mc.timeout_ms, 500);
	assert_int_equal(mc.fail_after, 4);
	assert_int_equal(mc.recover_after, 2);
	assert_non_null(mc.hook);
	assert_string_equal(mc.webhook, "http://127.0.0.1:9/x");
	/* The public checks use [probe]'s reflector, every 300 s, 10 requests a minute. */
	assert_string_equal(mc.reflector, "http://198.51.100.1:9443");
	assert_int_equal(mc.public_interval_s, 300);
	assert_int_equal(mc.reflector_rate, 10);
	pp_mon_conf_free(&mc);
	const char bad[] = "[monitor]\ninterval = 5\nfail_afterr = 3\n";
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, bad, sizeof bad - 1, 0), (ssize_t)sizeof bad - 1);
	assert_int_equal(pp_mon_conf_load(path, &mc, &err), -1);
	assert_non_null(strstr(err.msg, ":3: [monitor] unknown key 'fail_afterr'"));
	const char bad2[] = "[monitor]\n\ninterval = often\n";
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, bad2, sizeof bad2 - 1, 0), (ssize_t)sizeof bad2 - 1);
	assert_int_equal(pp_mon_conf_load(path, &mc, &err), -1);
	assert_non_null(strstr(err.msg, ":3: [monitor] interval: 'often'"));
	close(fd);
	unlink(path);
	/* No file: the defaults. */
	assert_int_equal(pp_mon_conf_load("/nonexistent/portpilot.conf", &mc, &err), 0);
	assert_int_equal(mc.interval_s, 30);
	assert_int_equal(mc.fail_after, 3);
	pp_mon_conf_free(&mc);
}

/* Drive the notifiers until they are idle (bounded). */
static void drain(struct mon_notify *n)
{
	double end = pp_now_ms() + 10000;
	while (mon_notify_busy(n) && pp_now_ms() < end)
		mon_notify_poll(n, NULL, 0, 50);
	assert_false(mon_notify_busy(n));
}

static void test_history_rotates(void **st)
{
	char dir[] = "/tmp/pp-mon-hist-XXXXXX";
	struct pp_mon_conf mc = { .history_max_bytes = 4096 };
	struct pp_error err;
	struct stat sb;
	(void)st;
	assert_non_null(mkdtemp(dir));
	FILE *log = fopen("/dev/null", "w");
	struct mon_notify *n = mon_notify_new(&mc, dir, log, &err);
	assert_non_null(n);
	for (int i = 0; i < 40; i++) {
		struct mon_event e = { .mapping = "web-1", .detail = "connect: refused",
		                       .state = i % 2 ? PP_HEALTH_UP : PP_HEALTH_DOWN, .since = 1000 + i };
		mon_notify_send(n, &e);
	}
	mon_notify_free(n);
	fclose(log);
	char *h = pp_xasprintf("%s/monitor-history.jsonl", dir), *h1 = pp_xasprintf("%s.1", h);
	/* Bounded: the file and its one predecessor, each within the limit, whole lines only. */
	assert_int_equal(stat(h, &sb), 0);
	assert_true(sb.st_size <= 4096);
	assert_int_equal(stat(h1, &sb), 0);
	assert_true(sb.st_size <= 4096);
	size_t len;
	char *text = pp_read_file(h, &len);
	assert_true(len > 0 && text[0] == '{' && text[len - 1] == '\n');
	/* The newest event is the last line. */
	assert_non_null(strstr(text, "\"since_epoch\":1039,"));
	free(text);
	unlink(h);
	unlink(h1);
	rmdir(dir);
	free(h);
	free(h1);
}

static void test_hook_env_not_interpolated(void **st)
{
	char dir[] = "/tmp/pp-mon-hook-XXXXXX";
	struct pp_error err;
	(void)st;
	assert_non_null(mkdtemp(dir));
	char *out = pp_xasprintf("%s/out", dir), *json = pp_xasprintf("%s/json", dir),
	     *boom = pp_xasprintf("%s/boom", dir);
	char *hook = pp_xasprintf("printf '%%s|%%s|%%s' \"$PP_MAPPING\" \"$PP_STATE\" \"$PP_SUMMARY\" >%s; cat >%s",
	                          out, json);
	struct pp_mon_conf mc = { .history_max_bytes = 1 << 20, .hook = hook };
	FILE *log = fopen("/dev/null", "w");
	struct mon_notify *n = mon_notify_new(&mc, dir, log, &err);
	assert_non_null(n);
	/* A value that a shell would run, were it pasted into the command. */
	char *summary = pp_xasprintf("$(touch %s) `touch %s`; it's \"quoted\"", boom, boom);
	struct mon_event e = { .mapping = "web-2", .state = PP_HEALTH_DOWN, .since = 5, .summary = summary,
	                       .cause = "not_listening" };
	mon_notify_send(n, &e);
	drain(n);
	mon_notify_free(n);
	fclose(log);
	size_t len;
	char *got = pp_read_file(out, &len), *want = pp_xasprintf("web-2|down|%s", summary);
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(access(boom, F_OK), -1);
	char *j = pp_read_file(json, &len), v[32];
	assert_non_null(j);
	assert_true(pp_json_field(j, "cause", v, sizeof v));
	assert_string_equal(v, "not_listening");
	free(j);
	free(got);
	free(want);
	free(summary);
	char *cmd = pp_xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(out);
	free(json);
	free(boom);
	free(hook);
}

static void test_hook_retried(void **st)
{
	char dir[] = "/tmp/pp-mon-retry-XXXXXX", *logtext = NULL;
	size_t loglen = 0;
	struct pp_error err;
	(void)st;
	assert_non_null(mkdtemp(dir));
	/* Fails the first time, works the second. */
	char *hook = pp_xasprintf("n=$(cat %s/n 2>/dev/null || echo 0); echo $((n + 1)) >%s/n; [ $n -ge 1 ]",
	                          dir, dir);
	struct pp_mon_conf mc = { .history_max_bytes = 1 << 20, .hook = hook };
	FILE *log = open_memstream(&logtext, &loglen);
	struct mon_notify *n = mon_notify_new(&mc, dir, log, &err);
	struct mon_event e = { .mapping = "web-1", .state = PP_HEALTH_DOWN, .since = 1 };
	double t0 = pp_now_ms();
	mon_notify_send(n, &e);
	drain(n);
	double took = pp_now_ms() - t0;
	mon_notify_free(n);
	fclose(log);
	char *cnt = pp_xasprintf("%s/n", dir), *c = pp_read_file(cnt, NULL);
	assert_non_null(c);
	assert_int_equal(atoi(c), 2);
	assert_non_null(strstr(logtext, "hook failed for web-1 down (exit status 1); again in 2 s"));
	assert_true(took >= 1900);
	free(c);
	free(cnt);
	free(logtext);
	free(hook);
	char *cmd = pp_xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_webhook_token_in_url(void **st)
{
	char dir[] = "/tmp/pp-mon-url-XXXXXX", *logtext = NULL;
	size_t loglen = 0;
	struct pp_error err;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	(void)st;
	assert_non_null(mkdtemp(dir));
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	char *req = pp_xasprintf("%s/req", dir);
	pid_t pid = fork();
	if (pid == 0) {
		/* One request: keep it, answer 200. */
		char buf[8192];
		int c = accept(ls, NULL, NULL);
		ssize_t k = recv(c, buf, sizeof buf, 0);
		FILE *f = fopen(req, "w");
		if (k > 0 && f)
			fwrite(buf, 1, (size_t)k, f);
		if (f)
			fclose(f);
		const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		(void)!send(c, ok, sizeof ok - 1, 0);
		close(c);
		_exit(0);
	}
	close(ls);
	char *secret = pp_xasprintf("%s/secret", dir), *url = pp_xasprintf("http://127.0.0.1:%u/bot{token}/sendMessage",
	                                                                  ntohs(sa.sin_port));
	FILE *sf = fopen(secret, "w");
	fputs("token=123:SECRET\n", sf);
	fclose(sf);
	chmod(secret, 0600);
	struct pp_mon_conf mc = { .history_max_bytes = 1 << 20, .webhook = url, .secret_file = secret,
	                          .webhook_body = "{\"chat_id\":42,\"text\":\"{message}\"}" };
	FILE *log = open_memstream(&logtext, &loglen);
	struct mon_notify *n = mon_notify_new(&mc, dir, log, &err);
	assert_non_null(n);
	struct mon_event e = { .mapping = "cam-1", .state = PP_HEALTH_DOWN, .since = 1, .cause = "host_unreachable" };
	mon_notify_send(n, &e);
	drain(n);
	mon_notify_free(n);
	fclose(log);
	waitpid(pid, NULL, 0);
	char *r = pp_read_file(req, NULL);
	assert_non_null(r);
	/* The token went into the URL (and nowhere else: no bearer header), the body from the template. */
	assert_non_null(strstr(r, "POST /bot123:SECRET/sendMessage HTTP/1.1\r\n"));
	assert_null(strstr(r, "Authorization:"));
	assert_non_null(strstr(r, "{\"chat_id\":42,\"text\":\"cam-1 DOWN since "));
	assert_null(strstr(logtext, "SECRET"));
	free(r);
	free(req);
	free(secret);
	free(url);
	free(logtext);
	char *cmd = pp_xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int main(void)
{
	/* Events of these tests go nowhere near the machine's journal. */
	setenv("PORTPILOT_JOURNAL_SOCKET", "/nonexistent/journal.socket", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sm_thresholds),
		cmocka_unit_test(test_sm_unknown_to_down),
		cmocka_unit_test(test_sm_flapping),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_expect_codes),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_table_keys),
		cmocka_unit_test(test_default_kind),
		cmocka_unit_test(test_port_list_elements),
		cmocka_unit_test(test_port_list_ipv6),
		cmocka_unit_test(test_timing_errors),
		cmocka_unit_test(test_event_text),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_history_rotates),
		cmocka_unit_test(test_hook_env_not_interpolated),
		cmocka_unit_test(test_hook_retried),
		cmocka_unit_test(test_webhook_token_in_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
