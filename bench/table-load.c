/* Load+validate time at 100, 2,000 and 20,000 mappings, and how the cost per mapping grows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iniparser.h>

#include "portpilot/table.h"
#include "portpilot/util.h"

static char *
make_table(int n, size_t *len)
{
	struct pp_buf b = { 0 };

	pp_buf_addstr(&b, "[site]\nname = bench\nwan_interface = eth0\nlan_subnet = 10.0.0.0/8\nhairpin = yes\n\n");
	for (int i = 0; i < n; i++)
		pp_buf_printf(&b, "; mapping %d\n[m%d]\ndescription = service %d\nprotocol = %s\npublic_port = %d\n"
		              "internal_ip = 10.%d.%d.%d\ninternal_port = 80\nallow = 198.51.100.0/24\n"
		              "enabled = yes\nowner = bench\npurpose = load test\n\n",
		              i, i, i, i % 3 ? "tcp" : "udp", 1024 + i, (i >> 16) & 255, (i >> 8) & 255, 1 + (i & 127));
	*len = b.len;
	return b.data;
}

/* Best of reps: load + validate through portpilot's core. */
static double
time_core(const char *text, size_t len, int reps, size_t *findings)
{
	double best = 1e18;

	for (int r = 0; r < reps; r++) {
		struct pp_table *t;
		struct pp_findings fs = { 0 };
		struct pp_error err;
		double t0 = pp_now_ms();
		if (pp_table_load_mem("bench.ini", text, len, &t, &err) < 0) {
			fprintf(stderr, "bench: %s\n", err.msg);
			exit(1);
		}
		pp_table_check(t, time(NULL), &fs);
		double dt = pp_now_ms() - t0;
		*findings = fs.n;
		pp_findings_free(&fs);
		pp_table_free(t);
		if (dt < best)
			best = dt;
	}
	return best;
}

/* One iniparser_load() of the whole file, for comparison: its inserts scan the whole dictionary. */
static double
time_whole_file(const char *text, size_t len)
{
	char path[] = "/tmp/pp-bench-XXXXXX";
	int fd = mkstemp(path);
	dictionary *d;
	double t0;

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		exit(1);
	close(fd);
	t0 = pp_now_ms();
	d = iniparser_load(path);
	t0 = pp_now_ms() - t0;
	iniparser_freedict(d);
	unlink(path);
	return t0;
}

int
main(void)
{
	static const int sizes[] = { 100, 2000, 20000 };
	double core[3], whole[3];

	printf("table-load: load + validate (best of 5), portpilot core vs one iniparser_load() of the whole file\n");
	printf("%8s %12s %14s %16s %18s\n", "mappings", "core ms", "core us/map", "whole-file ms", "whole us/map");
	for (int i = 0; i < 3; i++) {
		size_t len, findings;
		char *text = make_table(sizes[i], &len);
		core[i] = time_core(text, len, 5, &findings);
		/* The whole-file load is quadratic: 20,000 mappings would take minutes. */
		whole[i] = sizes[i] <= 2000 ? time_whole_file(text, len) : -1;
		if (findings != 0) {
			fprintf(stderr, "bench: generated table has %zu findings\n", findings);
			return 1;
		}
		printf("%8d %12.2f %14.2f", sizes[i], core[i], core[i] * 1000 / sizes[i]);
		if (whole[i] >= 0)
			printf(" %16.2f %18.2f\n", whole[i], whole[i] * 1000 / sizes[i]);
		else
			printf(" %16s %18s\n", "skipped", "(quadratic)");
		free(text);
	}
	printf("growth of cost per mapping, core:       2000/100 = %.2fx, 20000/2000 = %.2fx (1.0 = linear)\n",
	       (core[1] / 2000) / (core[0] / 100), (core[2] / 20000) / (core[1] / 2000));
	printf("growth of cost per mapping, whole file: 2000/100 = %.2fx\n", (whole[1] / 2000) / (whole[0] / 100));
	printf("2000 mappings: core %.2f ms vs whole-file iniparser %.2f ms (%.1fx)\n", core[1], whole[1],
	       whole[1] / core[1]);
	return 0;
}
