/*
 * bench/tui: the TUI in tmux on 30 mappings (one screenful) and on 20,000:
 * start-up and keystroke-to-redraw times, side by side in one run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/util.h"

#define SMALL 30                      /* fills an 80x24 screen: same rows drawn as BIG */
#define BIG 20000
#define KEYS_SCROLL 200
#define KEYS_PAGE 40

struct stats {
	long v[512];
	int n;
};

struct result {
	int rows;
	double start_ext_ms;              /* tmux new-session until the table is on screen */
	double start_int_ms;              /* process start until the first frame (trace) */
	double load_ms;                   /* of which: the core's load */
	double prepare_ms;                /* filter index, built when idle */
	struct stats scroll, page, filter, ext_scroll, ext_filter;
	double scroll_bytes;              /* terminal output per scroll step (slow links) */
};

static char dir[64], sock[64], portpilot[512];

static void
nap(void)
{
	struct timespec ts = { 0, 500000 };

	nanosleep(&ts, NULL);
}

static int
sh(const char *fmt, const char *a, const char *b)
{
	char cmd[2048];

	snprintf(cmd, sizeof cmd, fmt, a, b);
	return system(cmd);
}

static void
tmux_keys(const char *k)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "tmux -L %s send-keys -t b %s", sock, k);
	if (system(cmd) != 0)
		fprintf(stderr, "bench/tui: send-keys failed\n");
}

static int
screen_has(const char *text)
{
	char cmd[256], line[1024];
	FILE *p;
	int found = 0;

	snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -t b 2>/dev/null", sock);
	if ((p = popen(cmd, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, p))
		found |= strstr(line, text) != NULL;
	pclose(p);
	return found;
}

/* Lines "WHAT KEY USEC" of the trace; returns how many "key" lines, fills the last values. */
static int
trace_read(const char *what, long *val)
{
	char path[128], w[16], line[128];
	int keys = 0, k;
	long us;
	FILE *f;

	snprintf(path, sizeof path, "%s/trace", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%15s %d %ld", w, &k, &us) == 3) {
			if (strcmp(w, "key") == 0)
				keys++;
			if (what && strcmp(w, what) == 0)
				*val = us;
		}
	fclose(f);
	return keys;
}

/* Send one key and wait (at most 2 s) for its frame in the trace. */
static int
one_key(const char *k, struct stats *in, struct stats *ext)
{
	int before = trace_read(NULL, NULL);
	double t0 = pp_now_ms();
	long us = -1;

	tmux_keys(k);
	while (trace_read("key", &us) <= before) {
		if (pp_now_ms() - t0 > 2000)
			return -1;
		nap();
	}
	if (in->n < 512)
		in->v[in->n++] = us;
	if (ext && ext->n < 512)
		ext->v[ext->n++] = (long)((pp_now_ms() - t0) * 1000);
	return 0;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static double
pct(struct stats *s, int p)
{
	if (s->n == 0)
		return -1;
	qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_long);
	return s->v[(s->n - 1) * p / 100] / 1000.0;
}

static int
write_table(const char *path, int n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "; bench table\n[site]\nname = bench site\nwan_interface = eth0\n"
	        "lan_interface = eth1\nlan_subnet = 192.168.0.0/16\n\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "[m%05d]\ndescription = mapping %d\npublic_port = %d\n"
		        "internal_ip = 192.168.%d.%d\ninternal_port = 80\nowner = owner%d\n\n",
		        i, i, 10000 + i, 2 + i / 250, 1 + i % 250, i % 17);
	return fclose(f);
}

/* Bytes the TUI writes for 20 one-row scrolls at the bottom of the page (tmux pipe-pane). */
static int
measure_bytes(struct result *r)
{
	char cmd[400], path[128];
	struct stats dummy = { .n = 0 };
	FILE *f;
	long size = 0;

	snprintf(path, sizeof path, "%s/bytes", dir);
	snprintf(cmd, sizeof cmd, "tmux -L %s pipe-pane -o -t b 'cat >> %s'", sock, path);
	if (system(cmd) != 0)
		return -1;
	for (int i = 0; i < 20; i++)
		if (one_key("j", &dummy, NULL) < 0)
			return -1;
	snprintf(cmd, sizeof cmd, "tmux -L %s pipe-pane -t b", sock);
	if (system(cmd) != 0)
		return -1;
	if ((f = fopen(path, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
	}
	r->scroll_bytes = size / 20.0;
	return 0;
}

static int
run_one(int rows, struct result *r)
{
	char table[128], want[64], cmd[1400];
	const char *typed[] = { "m", "1", "2", "3", "4", "BSpace", "BSpace", "BSpace", "BSpace", "5" };
	double t0;
	long us = 0;

	memset(r, 0, sizeof *r);
	r->rows = rows;
	snprintf(table, sizeof table, "%s/t%d.ini", dir, rows);
	snprintf(want, sizeof want, "%d mapping", rows);
	if (write_table(table, rows) < 0)
		return -1;
	sh("rm -f %s/trace%s", dir, "");
	snprintf(cmd, sizeof cmd, "tmux -L %s -f /dev/null new-session -d -x 80 -y 24 -s b "
	         "\"env PP_TUI_TRACE=%s/trace LANG=C.UTF-8 TERM=screen %s -f %s tui --offline; "
	         "exec sleep 600\"", sock, dir, portpilot, table);
	t0 = pp_now_ms();
	if (system(cmd) != 0)
		return -1;
	while (!screen_has(want)) {
		if (pp_now_ms() - t0 > 20000)
			return -1;
		nap();
	}
	r->start_ext_ms = pp_now_ms() - t0;
	trace_read("start", &us);
	r->start_int_ms = us / 1000.0;
	trace_read("load", &us);
	r->load_ms = us / 1000.0;
	us = -1;                          /* wait for the filter index built at the first idle */
	while (trace_read("prepare", &us), us < 0 && pp_now_ms() - t0 < 20000)
		nap();
	r->prepare_ms = us / 1000.0;
	for (int i = 0; i < KEYS_SCROLL; i++)
		if (one_key("j", &r->scroll, i < 50 ? &r->ext_scroll : NULL) < 0)
			return -1;
	if (measure_bytes(r) < 0)
		return -1;
	for (int i = 0; i < KEYS_PAGE; i++)
		if (one_key("PgDn", &r->page, NULL) < 0)
			return -1;
	tmux_keys("/");
	for (int round = 0; round < 5; round++)
		for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
			if (one_key(typed[i], &r->filter, &r->ext_filter) < 0)
				return -1;
	tmux_keys("Escape");
	tmux_keys("q");
	snprintf(cmd, sizeof cmd, "tmux -L %s kill-server 2>/dev/null", sock);
	return system(cmd) == 0 ? 0 : -1;
}

static void
print_one(struct result *r)
{
	printf("%6d rows: start %.0f ms to first frame (load %.0f ms), %.0f ms until on screen "
	       "via tmux; filter index %.1f ms (idle)\n", r->rows, r->start_int_ms, r->load_ms,
	       r->start_ext_ms, r->prepare_ms);
	printf("        scroll j   : redraw p50 %.2f  p95 %.2f  max %.2f ms;  send-keys to frame p50 %.1f ms\n",
	       pct(&r->scroll, 50), pct(&r->scroll, 95), pct(&r->scroll, 100), pct(&r->ext_scroll, 50));
	if (r->scroll_bytes > 0)
		printf("        scroll j   : %.0f bytes to the terminal per step at the page's bottom\n",
		       r->scroll_bytes);
	printf("        page PgDn  : redraw p50 %.2f  p95 %.2f  max %.2f ms\n",
	       pct(&r->page, 50), pct(&r->page, 95), pct(&r->page, 100));
	printf("        filter key : redraw p50 %.2f  p95 %.2f  max %.2f ms;  send-keys to frame p50 %.1f ms\n",
	       pct(&r->filter, 50), pct(&r->filter, 95), pct(&r->filter, 100), pct(&r->ext_filter, 50));
}

int
main(int argc, char **argv)
{
	static struct result small, big;
	const char *pp = argc > 1 ? argv[1] : getenv("PORTPILOT");
	int rc;

	snprintf(portpilot, sizeof portpilot, "%s", pp ? pp : "build/portpilot");
	if (system("tmux -V >/dev/null 2>&1") != 0 || access(portpilot, X_OK) != 0) {
		printf("bench/tui: skipped (needs tmux and %s)\n", portpilot);
		return 0;
	}
	if (portpilot[0] != '/') {
		char cwd[256];

		if (getcwd(cwd, sizeof cwd) == NULL)
			return 1;
		snprintf(portpilot, sizeof portpilot, "%s/%s", cwd, pp ? pp : "build/portpilot");
	}
	snprintf(dir, sizeof dir, "/tmp/pp-bench-tui.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sock, sizeof sock, "pp-bench-%d", (int)getpid());
	rc = run_one(SMALL, &small) < 0 || run_one(BIG, &big) < 0;
	sh("tmux -L %s kill-server 2>/dev/null; rm -rf %s", sock, dir);
	if (rc) {
		fprintf(stderr, "bench/tui: a run did not complete\n");
		return 1;
	}
	printf("bench/tui: portpilot TUI in tmux 80x24 (goal: start < 500 ms, redraw < 16 ms)\n");
	print_one(&small);
	print_one(&big);
	printf("ratio %d/%d rows: start %.1fx, scroll redraw p50 %.1fx, filter redraw p50 %.1fx\n", BIG, SMALL,
	       big.start_int_ms / small.start_int_ms, pct(&big.scroll, 50) / pct(&small.scroll, 50),
	       pct(&big.filter, 50) / pct(&small.filter, 50));
	return 0;
}
