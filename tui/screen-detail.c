/* The detail screen: every field of one mapping, its findings and its live counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "portpilot/backend.h"
#include "tui-internal.h"

/*
 * Row idx of `portpilot export` (md) of the file on disk, as the command
 * prints it. Cached per file version and minute: a 20,000-row export must
 * not run on every redraw.
 */
static const char *
export_line(struct tui *t, size_t idx, char *out, size_t n)
{
	static char cached[1024];
	static size_t cached_idx = (size_t)-1;
	static struct stat cached_st;
	static time_t cached_min;
	struct stat st;
	struct pp_cli c = *t->cli;
	char *text = NULL, *argv[] = { "export", "--format", "md", NULL };
	size_t len, row = 0;
	time_t min = time(NULL) / 60;

	if (stat(t->path, &st) == 0 && idx == cached_idx && min == cached_min &&
	    st.st_ino == cached_st.st_ino && st.st_size == cached_st.st_size &&
	    st.st_mtim.tv_sec == cached_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == cached_st.st_mtim.tv_nsec)
		return snprintf(out, n, "%s", cached), out;
	c.out = c.err = open_memstream(&text, &len);
	if (c.out == NULL)
		return NULL;
	c.json = false;
	c.table_path = t->path;
	pp_cmd_export(&c, 3, argv);
	fclose(c.out);
	cached[0] = '\0';
	/* the mappings' rows follow the |---| separator, in file order */
	for (char *line = strstr(text, "\n|---"), *nl; line && (line = strchr(line + 1, '\n')); ) {
		line++;
		nl = strchr(line, '\n');
		if (*line != '|')
			break;
		if (row++ == idx) {
			snprintf(cached, sizeof cached, "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
			break;
		}
	}
	free(text);
	cached_idx = idx;
	cached_st = st;
	cached_min = min;
	return cached[0] ? (snprintf(out, n, "%s", cached), out) : NULL;
}

static void
fill_export(struct tui_pager *pg, struct tui *t, const struct pp_mapping *m)
{
	char line[1024];

	tui_pager_add(pg, TR_HEADER, "Export line (portpilot export)");
	if (t->table->dirty) {
		tui_pager_add(pg, TR_DIM, "  the table has unsaved changes: save (w) first, the record "
		              "comes from the file");
		return;
	}
	if (export_line(t, (size_t)(m - t->table->maps), line, sizeof line) == NULL) {
		tui_pager_add(pg, TR_DIM, "  not in the saved file yet");
		return;
	}
	tui_pager_wrap(pg, TR_NORMAL, t->cols - 3, "  ", line);
}

static void
fill_findings(struct tui_pager *pg, struct tui *t, const struct pp_mapping *m)
{
	const struct pp_findings *fs = &t->view.found;   /* the parse findings are in it too */
	int n = 0;

	tui_pager_add(pg, TR_HEADER, "Findings");
	for (size_t i = 0; i < fs->n; i++) {
		const struct pp_finding *f = &fs->v[i];

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

/* What no single mapping shows but may keep this one from working: the core's words. */
static void
fill_layout(struct tui_pager *pg, struct tui *t)
{
	const struct pp_layout_status *ls = tui_live_layout();

	if (ls->nproblems) {
		tui_pager_add(pg, TR_WARNING, "  ruleset drifted: the rules that lead traffic to the "
		              "mappings are not as applied (A repairs it):");
		for (size_t i = 0; i < ls->nproblems; i++)
			tui_pager_wrap(pg, TR_WARNING, t->cols - 5, "    ", ls->problems[i]);
	}
	for (size_t i = 0; i < ls->norphans; i++)
		tui_pager_add(pg, TR_WARNING, "  orphan: %s has rules in the kernel but no section in "
		              "the table (A removes them)", ls->orphans[i]);
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
	for (int f = 0; f < PP_F__COUNT; f++) {
		/* masquerade and the health-check keys only when set: most mappings use the defaults. */
		if ((f == PP_F_MASQUERADE || (f >= PP_F_CHECK && f <= PP_F_CHECK_TIMING) || f >= PP_F_IPV6) &&
		    m->val[f] == NULL)
			continue;
		tui_pager_add(pg, m->bad & (1u << f) ? TR_ERROR : TR_NORMAL, "  %-14s = %s",
		              pp_field_name((enum pp_field)f), m->val[f] ? m->val[f] : "");
	}
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
	fill_layout(pg, t);
	tui_health_detail(pg, t, m->name);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	fill_export(pg, t, m);
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	fill_findings(pg, t, m);
}

struct tui_panel *
tui_detail_panel(const char *name)
{
	return &tui_pager_new("mapping details", name, fill_detail)->p;
}
