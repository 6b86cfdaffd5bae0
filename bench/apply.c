/* bench/apply: full-apply time at 1, 2,000 and 20,000 mappings and the time to change one at 20,000. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/backend.h"
#include "portpilot/util.h"

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* n tcp mappings on ports 10000.., mapping `changed` pointed elsewhere. */
static struct pp_table *
table(size_t n, size_t changed)
{
	struct pp_buf b = { 0 };
	pp_buf_addstr(&b, "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n");
	for (size_t i = 0; i < n; i++)
		pp_buf_printf(&b, "[m%zu]\npublic_port = %zu\ninternal_ip = 192.168.2.%zu\ninternal_port = 80\n", i,
		              10000 + i, i == changed ? 200 : 101 + i % 3);
	struct pp_table *t = NULL;
	struct pp_error err;
	if (pp_table_load_mem("bench.ini", b.data, b.len, &t, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		exit(1);
	}
	pp_buf_free(&b);
	return t;
}

static void
render(struct pp_table *t, struct pp_ruleset *rs)
{
	struct pp_render_opts o = { .now = time(NULL), .have_lan = true, .lan = { 0xc0a80200, 24 } };
	struct pp_error err;
	if (pp_render(t, &o, rs, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		exit(1);
	}
}

static void
restore(struct pp_backend *b, const char *text, bool test)
{
	struct pp_error err;
	if (text && pp_backend_restore(b, text, test, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		exit(1);
	}
}

/* Empty nat and filter (chains too) in the bench namespace. */
static void
wipe(struct pp_backend *b)
{
	char tool[40];
	snprintf(tool, sizeof tool, "iptables-%s", b->variant);
	static const char *ops[][3] = { { "nat", "-F" }, { "nat", "-X" }, { "filter", "-F" }, { "filter", "-X" } };
	for (size_t i = 0; i < 4; i++) {
		char *argv[] = { tool, "-t", (char *)ops[i][0], (char *)ops[i][1], NULL };
		pp_run(argv, NULL, NULL, NULL);
	}
}

/* One full apply from an empty kernel, the way `portpilot apply` does it; returns ms. */
static double
full(struct pp_backend *b, size_t n, struct pp_ruleset *out, double *parts)
{
	struct pp_error err;
	struct pp_table *t = table(n, SIZE_MAX);
	double t0 = now_ms();
	struct pp_live live;
	if (pp_backend_read(b, &live, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		exit(1);
	}
	double t1 = now_ms();
	render(t, out);
	struct pp_plan p;
	pp_plan_make(out, &live.own, &p);
	double t2 = now_ms();
	restore(b, p.restore, true);
	double t3 = now_ms();
	restore(b, p.restore, false);
	double t4 = now_ms();
	parts[0] = t1 - t0, parts[1] = t2 - t1, parts[2] = t3 - t2, parts[3] = t4 - t3;
	pp_plan_free(&p);
	pp_live_free(&live);
	pp_table_free(t);
	return t4 - t0;
}

/* The CLI end to end (load, validate, read the kernel, render, test, commit, persist); ms. */
static double
cli_apply(const char *bin, const char *tab, const char *state)
{
	char *argv[] = { (char *)bin, "-f", (char *)tab, "--state-dir", (char *)state, "apply", NULL };
	double t0 = now_ms();
	int rc = pp_run(argv, NULL, NULL, NULL);
	double ms = now_ms() - t0;
	return rc == 0 ? ms : -1;
}

static void
write_table(const char *path, size_t n, size_t changed)
{
	FILE *f = fopen(path, "w");
	if (!f)
		exit(1);
	fputs("[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "[m%zu]\npublic_port = %zu\ninternal_ip = 192.168.2.%zu\ninternal_port = 80\n", i,
		        10000 + i, i == changed ? 200 : 101 + i % 3);
	fclose(f);
}

static void
cli_bench(struct pp_backend *b)
{
	char bin[4096];
	ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 40);
	if (n < 0)
		return;
	bin[n] = '\0';
	strcpy(strrchr(bin, '/'), "/../portpilot");
	if (access(bin, X_OK) != 0)
		return;
	char dir[] = "/tmp/pp-bench-XXXXXX";
	if (!mkdtemp(dir))
		return;
	char *tab = pp_xasprintf("%s/t.ini", dir), *state = pp_xasprintf("%s/state", dir);
	wipe(b);
	write_table(tab, 20000, SIZE_MAX);
	double full = cli_apply(bin, tab, state);
	write_table(tab, 20000, 12345);
	double one = cli_apply(bin, tab, state);
	printf("  CLI `portpilot apply`, 20000 mappings: full %.0f ms, one changed %.0f ms "
	       "(includes loading and validating the 20000-mapping file and reading the kernel's rules)\n",
	       full, one);
	char *rm = pp_xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		fprintf(stderr, "apply: could not remove %s\n", dir);
	free(rm);
	free(tab);
	free(state);
}

static void
run_variant(const char *variant)
{
	struct pp_backend b;
	struct pp_error err;
	setenv("PORTPILOT_IPTABLES", variant, 1);
	if (pp_backend_open(&b, &err) < 0) {
		printf("iptables-%s: skipped (%s)\n", variant, err.msg);
		return;
	}
	printf("iptables-%s (the API path the TUI uses: read kernel, render+plan, --test, commit)\n", b.variant);
	printf("  %-9s %10s %10s %10s %10s %10s\n", "mappings", "total_ms", "read_ms", "render_ms",
	       "test_ms", "commit_ms");
	static const size_t sizes[] = { 1, 2000, 20000 };
	struct pp_ruleset last = { 0 };
	for (size_t i = 0; i < 3; i++) {
		wipe(&b);
		pp_ruleset_free(&last);
		double parts[4];
		double ms = full(&b, sizes[i], &last, parts);
		printf("  %-9zu %10.1f %10.1f %10.1f %10.1f %10.1f\n", sizes[i], ms, parts[0], parts[1],
		       parts[2], parts[3]);
	}
	/* Change one mapping at 20,000: the TUI holds the table and the ruleset it applied. */
	struct pp_table *t2 = table(20000, 12345);
	double t0 = now_ms();
	struct pp_ruleset want;
	render(t2, &want);
	struct pp_plan p;
	pp_plan_make(&want, &last, &p);
	double t1 = now_ms();
	restore(&b, p.restore, false);
	double t2ms = now_ms();
	printf("  change one mapping at 20000: %.1f ms (render+plan %.1f ms, iptables-restore of %zu chain(s) %.1f ms)\n",
	       t2ms - t0, t1 - t0, p.chains_written, t2ms - t1);
	pp_plan_free(&p);
	pp_ruleset_free(&want);
	pp_ruleset_free(&last);
	pp_table_free(t2);
	if (strcmp(variant, "nft") == 0 || strcmp(variant, "legacy") == 0)
		cli_bench(&b);
	wipe(&b);
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("apply: skipped (needs root for a network namespace)\n");
		return 0;
	}
	char ns[64], path[96], cmd[160];
	snprintf(ns, sizeof ns, "pp-%d-bench", (int)getpid());
	snprintf(cmd, sizeof cmd, "ip netns add %s", ns);
	if (system(cmd) != 0) {
		printf("apply: skipped (cannot create a network namespace)\n");
		return 0;
	}
	snprintf(path, sizeof path, "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY);
	if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0) {
		/* Both variants, one after the other, in the same namespace and run. */
		run_variant("nft");
		run_variant("legacy");
	} else {
		perror("apply: setns");
	}
	snprintf(cmd, sizeof cmd, "ip netns del %s", ns);
	return system(cmd) == 0 ? 0 : 1;
}
