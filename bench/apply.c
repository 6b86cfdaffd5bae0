/* bench/apply: full-apply time at 1, 2,000 and 20,000 mappings and the time to change one at 20,000, per backend. */
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portpilot/backend-iptables.h"
#include "portpilot/nft.h"
#include "portpilot/util.h"

/*
 * Three ways side by side, interleaved in every round, medians printed:
 *   library  pp_apply_loaded() with the table in memory (what the TUI can do):
 *            validate, render, read the kernel (or the proven cache: the one change
 *            starts from the state the full apply before it committed, kept in memory
 *            by core/apply-memo.c), plan, commit, conntrack, state files;
 *   CLI      the portpilot binary: the same plus loading the INI file;
 *   bare     iptables-restore alone fed the same rules, the floor portpilot
 *            cannot go under (full: every chain; one change: the one leaf);
 *            nftables: libnftables alone fed the same transaction.
 * Backends one after the other in the same namespace: iptables-nft (port tree), iptables-nft
 * with one plain linear chain (PORTPILOT_LEAF_MAX=linear), nftables (maps, element updates),
 * iptables-legacy. APPLY_ROUNDS (default 3) rounds; APPLY_ONLY=nft|nftables|legacy runs one variant
 * (nft: both iptables-nft ones). Last, all of them side by side at 20,000 with their ratios to
 * iptables-nft and issue 12's goals met or not.
 */
#define SIZES 3
static const size_t sizes[SIZES] = { 1, 2000, 20000 };
#define BIG 20000
#define CHANGED 12345

static void
table_text(struct pp_buf *b, size_t n, size_t changed)
{
	pp_buf_addstr(b, "[site]\nwan_interface = eth0\nlan_interface = eth1\nlan_subnet = 192.168.2.0/24\nhairpin = yes\n");
	for (size_t i = 0; i < n; i++)
		pp_buf_printf(b, "[m%zu]\npublic_port = %zu\ninternal_ip = 192.168.2.%zu\ninternal_port = 80\n", i,
		              10000 + i, i == changed ? 200 : 101 + i % 3);
}

/* n tcp mappings on ports 10000.., mapping `changed` pointed elsewhere. */
static struct pp_table *
table(size_t n, size_t changed)
{
	struct pp_buf b = { 0 };
	table_text(&b, n, changed);
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
write_table(const char *path, size_t n, size_t changed)
{
	struct pp_buf b = { 0 };
	table_text(&b, n, changed);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
		fprintf(stderr, "apply: cannot write %s\n", path);
		exit(1);
	}
	pp_buf_free(&b);
}

/* Empty nat and filter (chains too) in the bench namespace. */
static void
wipe(struct pp_ipt *b)
{
	static const char *ops[][2] = { { "nat", "-F" }, { "nat", "-X" }, { "filter", "-F" }, { "filter", "-X" } };
	for (size_t i = 0; i < 4; i++) {
		char *argv[] = { b->cmd, "-t", (char *)ops[i][0], (char *)ops[i][1], NULL };
		pp_run(argv, NULL, NULL, NULL);
	}
}

struct ctx {
	struct pp_ipt b;
	bool nft;                       /* the nftables backend (else iptables) */
	bool linear;                    /* iptables: one linear chain */
	char dir[64], *bin;
	FILE *null;
	struct pp_table *tabs[SIZES], *changed;
	char *files[SIZES], *changed_file;
	int runs;                       /* fresh state directory per full apply */
};

static char *
state_dir(struct ctx *x)
{
	return pp_xasprintf("%s/state%d", x->dir, ++x->runs);
}

static double
lib_apply(struct ctx *x, const char *state, const struct pp_table *t)
{
	struct pp_cli cli = { .table_path = "bench.ini", .state_dir = state, .out = x->null, .err = x->null };
	struct pp_apply_opts o = { 0 };
	double t0 = pp_now_ms();
	int rc = pp_apply_loaded(&cli, &o, t);
	return rc == 0 ? pp_now_ms() - t0 : -1;
}

static double
cli_apply(struct ctx *x, const char *state, const char *tab)
{
	char *argv[] = { x->bin, "-f", (char *)tab, "--state-dir", (char *)state, "apply", NULL };
	double t0 = pp_now_ms();
	int rc = pp_run(argv, NULL, NULL, NULL);
	return rc == 0 ? pp_now_ms() - t0 : -1;
}

static double
bare_restore(struct ctx *x, const char *text)
{
	struct pp_error err;
	double t0 = pp_now_ms();
	int rc = x->nft ? pp_nft_run(text, false, NULL, &err) : pp_ipt_restore(&x->b, text, false, &err);
	return rc == 0 ? pp_now_ms() - t0 : -1;
}

/* nftables: portpilot's table gone (the backend's own objects only). */
static void
wipe_nft(void)
{
	struct pp_error err;
	pp_nft_run("table inet " PP_NFT_TABLE "\ndelete table inet " PP_NFT_TABLE "\n", false, NULL, &err);
}

static void
nft_state(const struct pp_table *t, struct pp_nft_state *s)
{
	struct pp_want w;
	struct pp_error err;
	if (pp_want_build(t, time(NULL), &w, &err) < 0 || pp_nft_render(&w, s, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		exit(1);
	}
	pp_want_free(&w);
}

/* The nftables transactions of a full apply from no table, and of the one change after it. */
static void
nft_plans(const struct pp_table *t, const struct pp_table *t2, char **full, char **one)
{
	struct pp_nft_state a, b, none;
	struct pp_nft_plan p;
	nft_state(t, &a);
	pp_nft_parse("", &none);
	pp_nft_plan_make(&a, &none, &p);
	*full = p.text;
	*one = NULL;
	if (t2) {
		nft_state(t2, &b);
		pp_nft_plan_make(&b, &a, &p);
		*one = p.text;
		pp_nft_state_free(&b);
	}
	pp_nft_state_free(&a);
	pp_nft_state_free(&none);
}

/* The restore text of a full apply from an empty kernel, and of the one change after it. */
static void
plans(struct ctx *x, const struct pp_table *t, const struct pp_table *t2, char **full, char **one)
{
	if (x->nft) {
		nft_plans(t, t2, full, one);
		return;
	}
	struct pp_render_opts o = { .now = time(NULL), .have_lan = true, .lan = { 0xc0a80200, 24 },
	                            .leaf_max = x->linear ? SIZE_MAX : 0 };
	struct pp_ruleset a, b, empty;
	struct pp_error err;
	struct pp_plan p;
	pp_render(t, &o, &a, &err);
	pp_ruleset_parse("", &empty, &err);
	pp_plan_make(&a, &empty, &p);
	*full = p.restore;
	p.restore = NULL;
	pp_plan_free(&p);
	*one = NULL;
	if (t2) {
		pp_render(t2, &o, &b, &err);
		pp_plan_make(&b, &a, &p);
		*one = p.restore;
		p.restore = NULL;
		pp_plan_free(&p);
		pp_ruleset_free(&b);
	}
	pp_ruleset_free(&a);
	pp_ruleset_free(&empty);
}

/* Columns: full[size][way] and one[way]; way 0 library, 1 CLI, 2 bare. */
struct sample {
	double full[SIZES][3], one[3];
};

static void
wipe_all(struct ctx *x)
{
	if (x->nft)
		wipe_nft();
	else
		wipe(&x->b);
}

static void
round_of(struct ctx *x, struct sample *s)
{
	for (size_t i = 0; i < SIZES; i++) {
		char *full, *one;
		plans(x, x->tabs[i], i == SIZES - 1 ? x->changed : NULL, &full, &one);
		char *ls = state_dir(x), *cs = state_dir(x);
		wipe_all(x);
		s->full[i][0] = lib_apply(x, ls, x->tabs[i]);
		if (one)
			s->one[0] = lib_apply(x, ls, x->changed);
		wipe_all(x);
		s->full[i][1] = x->bin ? cli_apply(x, cs, x->files[i]) : -1;
		if (one)
			s->one[1] = x->bin ? cli_apply(x, cs, x->changed_file) : -1;
		wipe_all(x);
		s->full[i][2] = bare_restore(x, full);
		if (one)
			s->one[2] = bare_restore(x, one);
		free(full);
		free(one);
		free(ls);
		free(cs);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(const struct sample *s, int n, size_t off)
{
	double v[64];
	for (int i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&s[i] + off);
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static void
report(const struct sample *s, int n)
{
	printf("  %-22s %12s %12s %12s   (median of %d rounds, ms)\n", "", "library", "CLI", "bare restore", n);
	for (size_t i = 0; i < SIZES; i++) {
		char label[40];
		snprintf(label, sizeof label, "full apply, %zu", sizes[i]);
		printf("  %-22s %12.1f %12.1f %12.1f\n", label, median(s, n, offsetof(struct sample, full[i][0])),
		       median(s, n, offsetof(struct sample, full[i][1])), median(s, n, offsetof(struct sample, full[i][2])));
	}
	printf("  %-22s %12.1f %12.1f %12.1f\n", "one change at 20000", median(s, n, offsetof(struct sample, one[0])),
	       median(s, n, offsetof(struct sample, one[1])), median(s, n, offsetof(struct sample, one[2])));
	printf("  goals (issue 12): full 20000 < 200 ms; one change < 10 ms library, < 100 ms CLI (CLI = library +\n"
	       "  loading the INI file; bare = %s alone)\n", "the backend's own tool");
}

/* The four figures the goals name, per variant, for the summary. */
#define VARIANTS 4
struct figures {
	char name[48];
	bool ran;
	double full_lib, full_cli, one_lib, one_cli;
};
static struct figures fig[VARIANTS];

static void
keep(struct figures *f, const char *name, const struct sample *s, int n)
{
	snprintf(f->name, sizeof f->name, "%s", name);
	f->ran = true;
	f->full_lib = median(s, n, offsetof(struct sample, full[SIZES - 1][0]));
	f->full_cli = median(s, n, offsetof(struct sample, full[SIZES - 1][1]));
	f->one_lib = median(s, n, offsetof(struct sample, one[0]));
	f->one_cli = median(s, n, offsetof(struct sample, one[1]));
}

static const char *
met(double v, double goal)
{
	return v >= 0 && v < goal ? "met" : "NOT met";
}

/* Every variant side by side at 20,000, each as a ratio to iptables-nft's port tree, and the goals. */
static void
summary(void)
{
	static const char *const row[4] = { "full apply, library", "full apply, CLI", "one change, library",
	                                    "one change, CLI" };
	static const double goal[4] = { 200, 200, 10, 100 };
	printf("\nat %d mappings, ms (x = ratio to the first column)\n  %-20s", BIG, "");
	for (int v = 0; v < VARIANTS; v++)
		if (fig[v].ran)
			printf(" %22s", fig[v].name);
	printf("   goal\n");
	const struct figures *base = fig[0].ran ? &fig[0] : NULL;
	for (int r = 0; r < 4; r++) {
		printf("  %-20s", row[r]);
		for (int v = 0; v < VARIANTS; v++) {
			if (!fig[v].ran)
				continue;
			const double *f = &fig[v].full_lib, b = base ? (&base->full_lib)[r] : 0;
			char cell[40];
			if (b > 0)
				snprintf(cell, sizeof cell, "%.1f (%.2fx) %s", f[r], f[r] / b, met(f[r], goal[r]));
			else
				snprintf(cell, sizeof cell, "%.1f %s", f[r], met(f[r], goal[r]));
			printf(" %22s", cell);
		}
		printf("   < %.0f\n", goal[r]);
	}
}

static void
run_variant(struct ctx *x, const char *variant, bool linear, int rounds)
{
	struct pp_error err;
	const char *only = getenv("APPLY_ONLY");
	if (only && *only && strcmp(only, variant) != 0)
		return;
	x->nft = strcmp(variant, "nftables") == 0;
	x->linear = linear;
	setenv("PORTPILOT_BACKEND", x->nft ? "nftables" : "iptables", 1);
	if (linear)
		setenv("PORTPILOT_LEAF_MAX", "linear", 1);
	else
		unsetenv("PORTPILOT_LEAF_MAX");
	if (x->nft) {
		char *out = NULL;
		if (pp_nft_run("list tables", false, &out, &err) < 0) {
			printf("nftables: skipped (%s)\n", err.msg);
			return;
		}
		free(out);
		printf("nftables (libnftables: table inet portpilot, maps, element updates)\n");
	} else {
		setenv("PORTPILOT_IPTABLES", variant, 1);
		if (pp_ipt_open(&x->b, &err) < 0) {
			printf("iptables-%s: skipped (%s)\n", variant, err.msg);
			return;
		}
		printf("iptables-%s%s\n", x->b.variant, linear ? ", one plain linear chain" : " (port tree)");
	}
	struct sample s[64];
	if (rounds > 64)
		rounds = 64;
	for (int r = 0; r < rounds; r++)
		round_of(x, &s[r]);
	report(s, rounds);
	wipe_all(x);
	int v = x->nft ? 2 : linear ? 1 : strcmp(variant, "legacy") == 0 ? 3 : 0;
	keep(&fig[v], x->nft ? "nftables" : linear ? "iptables-nft linear" : strcmp(variant, "legacy") == 0
	     ? "iptables-legacy" : "iptables-nft", s, rounds);
}

static void
setup(struct ctx *x)
{
	x->null = fopen("/dev/null", "w");
	snprintf(x->dir, sizeof x->dir, "/tmp/pp-bench-XXXXXX");
	if (!x->null || !mkdtemp(x->dir)) {
		perror("apply: setup");
		exit(1);
	}
	for (size_t i = 0; i < SIZES; i++) {
		x->tabs[i] = table(sizes[i], SIZE_MAX);
		x->files[i] = pp_xasprintf("%s/t%zu.ini", x->dir, sizes[i]);
		write_table(x->files[i], sizes[i], SIZE_MAX);
	}
	x->changed = table(BIG, CHANGED);
	x->changed_file = pp_xasprintf("%s/changed.ini", x->dir);
	write_table(x->changed_file, BIG, CHANGED);
	char bin[4096];
	ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 40);
	if (n > 0) {
		bin[n] = '\0';
		strcpy(strrchr(bin, '/'), "/../portpilot");
		if (access(bin, X_OK) == 0)
			x->bin = pp_xstrdup(bin);
	}
	if (!x->bin)
		printf("(no portpilot binary next to the bench: CLI column is -1)\n");
}

static void
teardown(struct ctx *x)
{
	char *rm = pp_xasprintf("rm -rf %s", x->dir);
	if (system(rm) != 0)
		fprintf(stderr, "apply: could not remove %s\n", x->dir);
	free(rm);
	for (size_t i = 0; i < SIZES; i++) {
		pp_table_free(x->tabs[i]);
		free(x->files[i]);
	}
	pp_table_free(x->changed);
	free(x->changed_file);
	free(x->bin);
	fclose(x->null);
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
	const char *r = getenv("APPLY_ROUNDS");
	int rounds = r && atoi(r) > 0 ? atoi(r) : 3;
	if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0) {
		struct ctx x = { 0 };
		setup(&x);
		/* Every backend, one after the other, in the same namespace and run. */
		run_variant(&x, "nft", false, rounds);
		run_variant(&x, "nft", true, rounds);
		run_variant(&x, "nftables", false, rounds);
		run_variant(&x, "legacy", false, rounds);
		summary();
		teardown(&x);
	} else {
		perror("apply: setns");
	}
	snprintf(cmd, sizeof cmd, "ip netns del %s", ns);
	return system(cmd) == 0 ? 0 : 1;
}
