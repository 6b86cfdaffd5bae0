/* The table screen's model: findings per row, sort order, filter, cell text. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/ipv6.h"
#include "portpilot/util.h"
#include "tui-internal.h"

static const char *col_titles[C__COUNT] = {
	"State", "Name", "Proto", "Public", "Internal", "Allow", "Hits", "Last hit",
	"Owner", "Description", "Finding", "Health",
};

static const char *state_names[S__COUNT] = {
	"-", "in sync", "pending", "drifted", "off", "expired", "error",
};

const char *tui_col_title(enum tui_col c) { return col_titles[c]; }
const char *tui_state_name(enum tui_state s) { return state_names[s]; }

void
tui_view_free(struct tui_view *v)
{
	free(v->hay);
	free(v->hay_at);
	free(v->all);
	free(v->order);
	free(v->notes);
	pp_findings_free(&v->found);
	memset(v, 0, sizeof *v);
}

size_t
tui_map_index(const struct tui *t, const struct pp_mapping *m)
{
	return (size_t)(m - t->table->maps);
}

/* ---- edited names: a sorted list, searched for visible rows only ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool
tui_is_edited(const struct tui *t, const char *name)
{
	return t->nedited && bsearch(&name, t->edited, t->nedited, sizeof *t->edited, cmp_str);
}

void
tui_mark_edited(struct tui *t, const char *name)
{
	if (tui_is_edited(t, name))
		return;
	t->edited = pp_xrealloc(t->edited, (t->nedited + 1) * sizeof *t->edited);
	t->edited[t->nedited++] = pp_xstrdup(name);
	qsort(t->edited, t->nedited, sizeof *t->edited, cmp_str);
}

/* ---- row state ---- */

enum tui_state
tui_row_state(const struct tui *t, size_t idx, struct tui_live *live)
{
	const struct pp_mapping *m = &t->table->maps[idx];

	tui_live_row(t, idx, live);
	if (t->view.notes && t->view.notes[idx].nerr)
		return S_ERROR;
	if (live->state == S_DRIFT)       /* e.g. disabled but its rules still in the kernel */
		return S_DRIFT;
	if (!m->enabled)
		return S_OFF;
	if (pp_mapping_expired(m, time(NULL)))
		return S_EXPIRED;
	if (tui_is_edited(t, m->name))
		return S_PENDING;
	return live->state;
}

/* ---- cells ---- */

static const char *
raw(const struct pp_mapping *m, enum pp_field f)
{
	return m->val[f] ? m->val[f] : "";
}

static const char *
cell_internal(const struct pp_mapping *m, char *buf)
{
	char ip[16], ports[100];

	if (m->bad & (1u << PP_F_INTERNAL_IP) || m->bad & (1u << PP_F_INTERNAL_PORT) ||
	    m->bad & (1u << PP_F_PUBLIC_PORT)) {
		snprintf(buf, 128, "%s:%s", raw(m, PP_F_INTERNAL_IP),
		         m->val[PP_F_INTERNAL_PORT] ? m->val[PP_F_INTERNAL_PORT] : raw(m, PP_F_PUBLIC_PORT));
		return buf;
	}
	pp_mapping_format_ports(m, true, ports, sizeof ports);   /* a port list: "80,443" */
	/* IPv6 (issue 15): ipv6 = only shows the address as written (a host id stays one, the
	   detail screen resolves it); ipv6 = yes marks the IPv4 cell "+v6". */
	if (m->ipv6 == PP_V6_ONLY && m->val[PP_F_INTERNAL_IP6]) {
		snprintf(buf, 128, "[%.46s]:%.70s", m->val[PP_F_INTERNAL_IP6], ports);
		return buf;
	}
	if (m->internal_ip == 0)
		return raw(m, PP_F_INTERNAL_IP);
	pp_format_ipv4(m->internal_ip, ip);
	snprintf(buf, 128, "%s:%s%s", ip, ports, pp_mapping_wants_ip6(m) ? " +v6" : "");
	return buf;
}

static const char *
cell_live(const struct tui *t, size_t idx, enum tui_col c, char *buf)
{
	struct tui_live live;

	tui_live_row(t, idx, &live);
	if (!live.has_hits)
		return "-";
	if (c == C_HITS) {
		snprintf(buf, 128, "%llu", live.hits);
		return buf;
	}
	if (live.last_hit == 0 && live.hits > 0) {
		/* counted before this session watched: when exactly, the kernel does not say */
		struct tm tm;

		localtime_r(&live.since, &tm);
		strftime(buf, 128, "before %H:%M", &tm);
		return buf;
	}
	if (live.last_hit == 0)
		return "never";
	pp_format_datetime(live.last_hit, buf);
	return buf;
}

/* Hits from before the session sort below those seen in it, above none at all. */
static unsigned long long
last_key(const struct tui_live *l)
{
	return l->last_hit ? (unsigned long long)l->last_hit : l->hits > 0;
}

static const char *
cell_note(const struct tui *t, size_t idx)
{
	const struct tui_note *n = t->view.notes ? &t->view.notes[idx] : NULL;

	return n && n->f ? n->f->what : "";
}

const char *
tui_view_cell(const struct tui *t, size_t idx, enum tui_col c, char *buf)
{
	const struct pp_mapping *m = &t->table->maps[idx];
	struct tui_live live;

	switch (c) {
	case C_STATE:
		return tui_state_name(tui_row_state(t, idx, &live));
	case C_NAME:
		return m->name;
	case C_PROTO:
		return m->bad & (1u << PP_F_PROTOCOL) ? raw(m, PP_F_PROTOCOL) : pp_proto_name(m->proto);
	case C_PUBLIC:
		if (m->bad & (1u << PP_F_PUBLIC_PORT) || m->pub_lo == 0)
			return raw(m, PP_F_PUBLIC_PORT);
		pp_mapping_format_ports(m, false, buf, 128);
		return buf;
	case C_INTERNAL:
		return cell_internal(m, buf);
	case C_ALLOW:
		return m->val[PP_F_ALLOW] ? m->val[PP_F_ALLOW] : "any";
	case C_HITS:
	case C_LAST:
		return cell_live(t, idx, c, buf);
	case C_OWNER:
		return raw(m, PP_F_OWNER);
	case C_DESC:
		return raw(m, PP_F_DESCRIPTION);
	case C_NOTE:
		return cell_note(t, idx);
	case C_HEALTH:
		return tui_health_cell(m->name, 99, buf, 128, NULL);
	default:
		return "";
	}
}

/* ---- findings per row ---- */

static const struct pp_table *cmp_table;

static int
cmp_name_idx(const void *a, const void *b)
{
	return strcmp(cmp_table->maps[*(const size_t *)a].name,
	              cmp_table->maps[*(const size_t *)b].name);
}

static void
file_note(struct tui_view *v, const struct pp_finding *f)
{
	v->n_file_notes++;
	if (v->file_note == NULL || (f->sev == PP_ERROR && v->file_note->sev != PP_ERROR))
		v->file_note = f;
}

static void
note_one(struct tui_view *v, const struct pp_table *tb, const size_t *byname,
         const struct pp_finding *f)
{
	size_t lo = 0, hi = tb->n, mid;
	struct tui_note *n;
	int c;

	if (f->sev == PP_ERROR)
		v->nerr++;
	else
		v->nwarn++;
	if (f->mapping == NULL) {
		file_note(v, f);
		return;
	}
	while (lo < hi) {                 /* first mapping with this name */
		mid = (lo + hi) / 2;
		c = strcmp(tb->maps[byname[mid]].name, f->mapping);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == tb->n || strcmp(tb->maps[byname[lo]].name, f->mapping) != 0) {
		file_note(v, f);
		return;
	}
	n = &v->notes[byname[lo]];
	if (f->sev == PP_ERROR)
		n->nerr++;
	else
		n->nwarn++;
	if (n->f == NULL || (f->sev == PP_ERROR && n->f->sev != PP_ERROR))
		n->f = f;
}

static void
build_notes(struct tui *t)
{
	struct tui_view *v = &t->view;
	const struct pp_table *tb = t->table;
	size_t *byname = pp_xmalloc((tb->n + 1) * sizeof *byname);

	for (size_t i = 0; i < tb->n; i++)
		byname[i] = i;
	cmp_table = tb;
	qsort(byname, tb->n, sizeof *byname, cmp_name_idx);
	v->notes = pp_xcalloc(tb->n + 1, sizeof *v->notes);
	v->nerr = v->nwarn = v->n_file_notes = 0;
	v->file_note = NULL;
	/* pp_table_check's findings hold the parse findings too: count each once. */
	for (size_t i = 0; i < v->found.n; i++)
		note_one(v, tb, byname, &v->found.v[i]);
	free(byname);
}

/* ---- sort ---- */

static const struct tui *cmp_tui;

static int
cmp_u(unsigned long long a, unsigned long long b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_rows(const void *pa, const void *pb)
{
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const struct pp_mapping *a = &cmp_tui->table->maps[ia], *b = &cmp_tui->table->maps[ib];
	char ba[128], bb[128];
	struct tui_live la, lb;
	int c = 0;

	switch (cmp_tui->view.sort) {
	case C_STATE:
		c = cmp_u(tui_row_state(cmp_tui, ia, &la), tui_row_state(cmp_tui, ib, &lb));
		break;
	case C_PROTO: c = cmp_u(a->proto, b->proto); break;
	case C_PUBLIC: c = cmp_u(a->pub_lo, b->pub_lo); break;
	case C_INTERNAL:
		c = cmp_u(a->internal_ip, b->internal_ip);
		if (c == 0)
			c = cmp_u(a->in_lo, b->in_lo);
		break;
	case C_HITS:
	case C_LAST:
		tui_live_row(cmp_tui, ia, &la);
		tui_live_row(cmp_tui, ib, &lb);
		c = cmp_tui->view.sort == C_HITS ? cmp_u(la.hits, lb.hits)
		                                 : cmp_u(last_key(&la), last_key(&lb));
		break;
	case C_HEALTH:
		c = cmp_u((unsigned)tui_health_rank(a->name), (unsigned)tui_health_rank(b->name));
		break;
	case C_NAME:
		break;
	default:
		c = strcasecmp(tui_view_cell(cmp_tui, ia, cmp_tui->view.sort, ba),
		               tui_view_cell(cmp_tui, ib, cmp_tui->view.sort, bb));
	}
	if (c == 0)
		c = strcmp(a->name, b->name);
	if (c == 0)
		c = cmp_u(ia, ib);
	return cmp_tui->view.desc ? -c : c;
}

static void
sort_all(struct tui *t)
{
	cmp_tui = t;
	qsort(t->view.all, t->view.nall, sizeof *t->view.all, cmp_rows);
}

/* ---- filter ---- */

/*
 * The filter searches the values as written (name, every key, owner...),
 * lower-cased once into one buffer on the first filter keystroke: after
 * that a keystroke costs one strstr per row still shown.
 */
static void
add_lower(struct pp_buf *b, const char *s)
{
	size_t at = b->len;

	pp_buf_addstr(b, s);
	pp_buf_add(b, "\t", 1);
	for (char *p = b->data + at; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static void
build_hay(struct tui *t)
{
	struct tui_view *v = &t->view;
	struct pp_buf b = { 0 };

	v->hay_at = pp_xmalloc((v->nall + 1) * sizeof *v->hay_at);
	for (size_t i = 0; i < v->nall; i++) {
		const struct pp_mapping *m = &t->table->maps[i];

		v->hay_at[i] = b.len;
		add_lower(&b, m->name);
		for (int f = 0; f < PP_F__COUNT; f++)
			if (m->val[f] && f != PP_F_ENABLED && f != PP_F_EXPIRES)
				add_lower(&b, m->val[f]);
		pp_buf_add(&b, "", 1);    /* each mapping's text ends with a NUL */
	}
	v->hay = b.data ? b.data : pp_xstrdup("");
}

void
tui_view_prepare(struct tui *t)
{
	struct timespec start;

	if (t->view.hay != NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	build_hay(t);
	tui_trace(t, "prepare", 0, &start);
}

static bool
matches(struct tui *t, size_t idx, const char *needle)
{
	return strstr(t->view.hay + t->view.hay_at[idx], needle) != NULL;
}

/*
 * Narrowing a filter (typing one more character) only searches the rows
 * still shown; anything else starts from the whole sorted table.
 */
static void
apply_filter(struct tui *t)
{
	struct tui_view *v = &t->view;
	char needle[sizeof v->filter];
	const size_t *from = v->all;
	size_t nfrom = v->nall, n = 0;

	for (size_t i = 0; i <= strlen(v->filter); i++)
		needle[i] = (char)tolower((unsigned char)v->filter[i]);
	if (v->applied_filter[0] && strncmp(needle, v->applied_filter, strlen(v->applied_filter)) == 0) {
		from = v->order;
		nfrom = v->norder;
	}
	if (needle[0] != '\0' && v->hay == NULL)
		build_hay(t);
	if (needle[0] == '\0') {
		memcpy(v->order, v->all, v->nall * sizeof *v->order);
		v->norder = v->nall;
	} else {
		for (size_t i = 0; i < nfrom; i++)
			if (matches(t, from[i], needle))
				v->order[n++] = from[i];   /* n <= i: safe in place */
		v->norder = n;
	}
	snprintf(v->applied_filter, sizeof v->applied_filter, "%s", needle);
}

/* ---- cursor ---- */

static void
clamp(struct tui *t)
{
	struct tui_view *v = &t->view;

	if (v->norder == 0) {
		v->cur = v->top = 0;
		return;
	}
	if (v->cur >= v->norder)
		v->cur = v->norder - 1;
	if (v->top > v->cur)
		v->top = v->cur;
}

const struct pp_mapping *
tui_view_current(const struct tui *t)
{
	if (t->view.norder == 0)
		return NULL;
	return &t->table->maps[t->view.order[t->view.cur]];
}

/* Move the selection by delta rows; a page move scrolls the view with it. */
void
tui_view_move(struct tui *t, long delta, int page)
{
	struct tui_view *v = &t->view;
	long c = (long)v->cur + delta, top = (long)v->top + delta;

	if (c < 0)
		c = 0;
	if (v->norder && c >= (long)v->norder)
		c = (long)v->norder - 1;
	v->cur = (size_t)c;
	if (page)
		v->top = top < 0 ? 0 : (size_t)top;   /* the draw clamps the far end */
	clamp(t);
}

void
tui_view_goto_name(struct tui *t, const char *name)
{
	for (size_t i = 0; name && i < t->view.norder; i++)
		if (strcmp(t->table->maps[t->view.order[i]].name, name) == 0) {
			t->view.cur = i;
			break;
		}
	clamp(t);
}

static char *
current_name(const struct tui *t)
{
	const struct pp_mapping *m = t->view.order ? tui_view_current(t) : NULL;

	return m ? pp_xstrdup(m->name) : NULL;
}

void
tui_view_set_filter(struct tui *t, const char *filter)
{
	char *keep = current_name(t);

	snprintf(t->view.filter, sizeof t->view.filter, "%s", filter);
	apply_filter(t);
	tui_view_goto_name(t, keep);
	free(keep);
}

void
tui_view_set_sort(struct tui *t, enum tui_col c, bool desc)
{
	char *keep = current_name(t);

	t->view.sort = c;
	t->view.desc = desc;
	sort_all(t);
	t->view.applied_filter[0] = '\0';
	apply_filter(t);
	tui_view_goto_name(t, keep);
	free(keep);
}

/* The widest value of each column the kernel does not change, so spare width goes where it cuts. */
static void
measure(struct tui *t)
{
	static const enum tui_col cols[] = { C_NAME, C_PROTO, C_PUBLIC, C_INTERNAL, C_ALLOW,
		C_OWNER, C_DESC, C_NOTE };
	char buf[128];
	int w;

	memset(t->view.natural, 0, sizeof t->view.natural);
	for (size_t i = 0; i < t->table->n; i++)
		for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
			if ((w = tui_text_width(tui_view_cell(t, i, cols[c], buf))) > t->view.natural[cols[c]])
				t->view.natural[cols[c]] = w;
}

void
tui_view_rebuild(struct tui *t)
{
	struct tui_view *v = &t->view;
	struct tui_view old = *v;
	char *keep = current_name(t);

	tui_view_free(v);
	v->sort = old.sort;
	v->desc = old.desc;
	v->cur = old.cur;
	v->top = old.top;
	memcpy(v->filter, old.filter, sizeof v->filter);
	pp_table_check(t->table, time(NULL), &v->found);
	build_notes(t);
	measure(t);
	v->nall = t->table->n;
	v->all = pp_xmalloc((v->nall + 1) * sizeof *v->all);
	v->order = pp_xmalloc((v->nall + 1) * sizeof *v->order);
	for (size_t i = 0; i < v->nall; i++)
		v->all[i] = i;
	sort_all(t);
	apply_filter(t);
	tui_view_goto_name(t, keep);
	free(keep);
}
