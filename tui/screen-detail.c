/* The detail screen: every field of one mapping, its findings and its live counters. */
#include <string.h>

#include "tui-internal.h"

static void
fill_findings(struct tui_pager *pg, struct tui *t, const struct pp_mapping *m)
{
	const struct pp_findings *sets[2] = { &t->table->parse, &t->view.found };
	int n = 0;

	tui_pager_add(pg, TR_HEADER, "Findings");
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sets[s]->n; i++) {
			const struct pp_finding *f = &sets[s]->v[i];

			if (f->mapping == NULL || strcmp(f->mapping, m->name) != 0)
				continue;
			n++;
			tui_pager_add(pg, f->sev == PP_ERROR ? TR_ERROR : TR_WARNING,
			              "  line %d: %s%s%s: %s", f->line, f->field ? f->field : "",
			              f->field ? " " : "", f->sev == PP_ERROR ? "error" : "warning", f->what);
			if (f->fix)
				tui_pager_add(pg, TR_NORMAL, "      fix: %s", f->fix);
		}
	if (n == 0)
		tui_pager_add(pg, TR_OK, "  none");
}

static void
fill_detail(struct tui_pager *pg, struct tui *t)
{
	const struct pp_mapping *m = pp_table_find(t->table, pg->arg);
	size_t idx;
	struct tui_live live;
	enum tui_state st;
	char buf[128], b2[128], b3[128];

	if (m == NULL) {
		tui_pager_add(pg, TR_WARNING, "Mapping %s no longer exists.", pg->arg);
		return;
	}
	idx = tui_map_index(t, m);
	st = tui_row_state(t, idx, &live);
	tui_pager_add(pg, TR_HEADER, "[%s]  (line %d of %s)", m->name, m->line, t->path);
	for (int f = 0; f < PP_F__COUNT; f++)
		tui_pager_add(pg, m->bad & (1u << f) ? TR_ERROR : TR_NORMAL, "  %-14s = %s",
		              pp_field_name((enum pp_field)f), m->val[f] ? m->val[f] : "");
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "Forward");
	tui_pager_add(pg, TR_NORMAL, "  %s %s %s %s", tui_view_cell(t, idx, C_PROTO, buf),
	              tui_view_cell(t, idx, C_PUBLIC, b2), tui_glyph(G_ARROW),
	              tui_view_cell(t, idx, C_INTERNAL, b3));
	tui_pager_add(pg, TR_NORMAL, "  from %s", tui_view_cell(t, idx, C_ALLOW, buf));
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "State");
	tui_pager_add(pg, TR_NORMAL, "  %s%s", tui_state_name(st),
	              tui_is_edited(t, m->name) ? " (changed in this session)" : "");
	tui_pager_add(pg, TR_NORMAL, "  hits %s, last hit %s", tui_view_cell(t, idx, C_HITS, buf),
	              tui_view_cell(t, idx, C_LAST, b2));
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	fill_findings(pg, t, m);
}

struct tui_panel *
tui_detail_panel(const char *name)
{
	return &tui_pager_new("mapping details", name, fill_detail)->p;
}
