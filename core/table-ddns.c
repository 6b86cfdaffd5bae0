/* The table held against portpilot.conf: a [ddns NAME] mapping = must name a mapping of it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "portpilot/cli-opts.h"
#include "portpilot/conf.h"
#include "portpilot/table.h"
#include "portpilot/util.h"
#include "table-internal.h"

static const char *check_conf_path;
static void check_ddns(const struct pp_table *t, struct pp_findings *out);

void
pp_table_check_conf(const char *conf_path)
{
	check_conf_path = conf_path;
	pp_table_check_extra = conf_path ? check_ddns : NULL;
}

/* The table's mapping name nearest to name, NULL when none is close (as for mistyped options). */
static const char *
nearest_mapping(const struct pp_table *t, const char *name)
{
	size_t best = 3, len = strlen(name);
	const char *hit = NULL;

	for (size_t i = 0; i < t->n; i++) {
		size_t d = pp_near_distance(name, t->maps[i].name);
		if (d < best && 2 * d < len)
			best = d, hit = t->maps[i].name;
	}
	return hit;
}

static void
check_one(const struct pp_conf *c, const struct pp_ddns_conf *dc, const struct pp_table *t,
          struct pp_findings *out)
{
	const char *near = nearest_mapping(t, dc->mapping);
	char sec[160], fix[512];

	if (pp_table_find(t, dc->mapping))
		return;
	snprintf(sec, sizeof sec, "ddns %.100s", dc->name);
	if (near)
		snprintf(fix, sizeof fix, "write mapping = %.100s (the nearest mapping of %.200s), or add [%.100s] "
		         "to the table", near, t->path, dc->mapping);
	else
		snprintf(fix, sizeof fix, "write mapping = the NAME of a [NAME] of %.200s, add [%.100s] to the "
		         "table, or remove the line", t->path, dc->mapping);
	pp_findings_add(out, PP_WARNING, dc->mapping_line ? dc->mapping_line : dc->line, sec, "mapping", fix,
	                "%s has no [%s]: no AAAA record would be published for it", t->path, dc->mapping);
	out->v[out->n - 1].file = pp_xstrdup(c->path);
}

/* Called by pp_table_check(): one warning per [ddns] mapping = the table does not have. A warning,
 * not an error: a DNS entry must never stop the firewall being changed (an urgent del of an exposed
 * camera the conf names), and check, apply and saves all show it with its fix. */
static void
check_ddns(const struct pp_table *t, struct pp_findings *out)
{
	struct pp_conf *c = NULL;
	struct pp_error e;

	if (check_conf_path == NULL || access(check_conf_path, F_OK) != 0 ||
	    pp_conf_load(check_conf_path, true, &c, &e) < 0)
		return;
	for (size_t i = 0; i < c->nddns; i++)
		if (c->ddns[i].mapping)
			check_one(c, &c->ddns[i], t, out);
	pp_conf_free(c);
}
