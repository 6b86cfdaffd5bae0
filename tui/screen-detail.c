/* The detail screen: every field of one mapping, its findings and its live counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/backend.h"
#include "portpilot/export.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"
#include "tui-internal.h"

/* The mapping's row of the documentation record, from the core's struct (pp_export_row_of), in the
 * TUI's own words: the same cells `portpilot export` prints. */
static void
fill_export(struct tui_pager *pg, struct tui *t, const struct pp_mapping *m)
{
	static char pubip[16];
	static time_t pub_min;
	time_t min = time(NULL) / 60;
	struct pp_export_row r;
	char *line;

	tui_pager_add(pg, TR_HEADER, "Export record (portpilot export)");
	if (t->table->dirty) {
		tui_pager_add(pg, TR_DIM, "  the table has unsaved changes: save (w) first, the record "
		              "comes from the file");
		return;
	}
	if (min != pub_min || !pubip[0]) {    /* the WAN address: read once a minute, not per redraw */
		pp_export_public_ip(t->table, pubip);
		pub_min = min;
	}
	pp_export_row_of(m, pubip, time(NULL), &r);
	pp_export_row_ip6(t->table, m, &r);
	line = pp_xasprintf("%s (%s): %s:%s %s %s:%s %s, from %s", r.v[PP_X_SERVICE], r.v[PP_X_MAPPING],
	                    r.v[PP_X_PUBLIC_IP], r.v[PP_X_PUBLIC_PORT], tui_glyph(G_ARROW), r.v[PP_X_INTERNAL_IP],
	                    r.v[PP_X_INTERNAL_PORT], r.v[PP_X_PROTOCOL], r.v[PP_X_ALLOW]);
	tui_pager_wrap(pg, TR_NORMAL, t->cols - 3, "  ", line);
	free(line);
	line = pp_xasprintf("purpose %s, owner %s, state %s", *r.v[PP_X_PURPOSE] ? r.v[PP_X_PURPOSE] : "-",
	                    *r.v[PP_X_OWNER] ? r.v[PP_X_OWNER] : "-", r.v[PP_X_STATE]);
	tui_pager_wrap(pg, TR_NORMAL, t->cols - 3, "  ", line);
	free(line);
	if (*r.v[PP_X_IPV6]) {      /* the record's IPv6 cells, as export prints them */
		line = pp_xasprintf("IPv6 %s (%s): %s, from %s", r.v[PP_X_IPV6_WAY], r.v[PP_X_IPV6_MODE], r.v[PP_X_IPV6],
		                    r.v[PP_X_ALLOW6]);
		tui_pager_wrap(pg, TR_NORMAL, t->cols - 3, "  ", line);
		free(line);
	}
	pp_export_row_free(&r);
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

/* The IPv6 way in (issue 15): the pinhole's address now, its sources, its live state. */
static void
fill_ipv6(struct tui_pager *pg, struct tui *t, const struct pp_mapping *m, size_t idx)
{
	uint8_t a[16];
	char s6[PP_IP6_STR], in[PP_PORT_LIST_TEXT], buf[64];
	enum pp_sync sync;
	unsigned long long pkts;
	struct pp_error err;

	if (!pp_mapping_wants_ip6(m))
		return;
	tui_pager_add(pg, TR_NORMAL, "%s", "");
	tui_pager_add(pg, TR_HEADER, "IPv6 (%s)", m->ipv6 == PP_V6_ONLY ? "only: no IPv4 forward" : "as well as IPv4");
	pp_mapping_format_ports(m, true, in, sizeof in);
	if (!m->val[PP_F_INTERNAL_IP6] || (m->bad & (1u << PP_F_INTERNAL_IP6))) {
		tui_pager_add(pg, TR_WARNING, "  no usable internal_ip6: no pinhole");
	} else if (pp_mapping_ip6(m, t->table->site.val[PP_S_LAN_INTERFACE], a, &err) == 0) {
		pp_format_ipv6(a, s6);
		tui_pager_add(pg, TR_NORMAL, "  %s [%s]:%s%s", pp_mapping_nat66(m) ? "NAT66 to" : "pinhole", s6, in,
		              m->ip6_hostid ? " (host id on the LAN prefix)" : "");
	} else {
		tui_pager_wrap(pg, TR_WARNING, t->cols - 3, "  ", err.msg);
	}
	char *from = pp_export_allow6(m);
	tui_pager_add(pg, TR_NORMAL, "  from %s", strcmp(from, "any") ? from : "any IPv6 source");
	free(from);
	if (tui_live_sync6(t, idx, &sync, &pkts))
		tui_pager_add(pg, sync == PP_SYNC_OK || sync == PP_SYNC_INACTIVE ? TR_NORMAL : TR_WARNING,
		              "  pinhole %s, %s packets", pp_sync_name(sync),
		              (snprintf(buf, sizeof buf, "%llu", pkts), buf));
	else
		tui_pager_add(pg, TR_DIM, "  pinhole state unknown (%s)", tui_live_is_offline() ? "offline" : "not reported");
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
		/* masquerade, hairpin, the health-check and IPv6 keys only when set: most mappings use the defaults. */
		if ((f == PP_F_MASQUERADE || f == PP_F_HAIRPIN || (f >= PP_F_CHECK && f <= PP_F_CHECK_TIMING) ||
		     f >= PP_F_IPV6) &&
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
	fill_ipv6(pg, t, m, idx);
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
