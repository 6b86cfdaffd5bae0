/* Findings: what validation found, with place, cause and fix; printed as text or JSON. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "portpilot/table.h"
#include "portpilot/util.h"

void
pp_findings_add(struct pp_findings *fs, enum pp_sev sev, int line, const char *mapping,
                const char *field, const char *fix, const char *fmt, ...)
{
	struct pp_finding *f;
	va_list ap;

	if (fs->n == fs->cap)
		fs->v = pp_xrealloc(fs->v, (fs->cap = fs->cap ? fs->cap * 2 : 16) * sizeof *fs->v);
	f = &fs->v[fs->n++];
	f->sev = sev;
	f->line = line;
	f->mapping = mapping ? pp_xstrdup(mapping) : NULL;
	f->field = field ? pp_xstrdup(field) : NULL;
	f->fix = fix ? pp_xstrdup(fix) : NULL;
	f->file = NULL;
	va_start(ap, fmt);
	if (vasprintf(&f->what, fmt, ap) < 0)
		f->what = pp_xstrdup("?");
	va_end(ap);
}

size_t
pp_findings_count(const struct pp_findings *fs, enum pp_sev sev)
{
	size_t n = 0;

	for (size_t i = 0; i < fs->n; i++)
		n += fs->v[i].sev == sev;
	return n;
}

static int
by_line(const void *a, const void *b)
{
	const struct pp_finding *x = a, *y = b;

	if (!x->file != !y->file) /* the table's own first, then the conf's */
		return x->file ? 1 : -1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (int)y->sev - (int)x->sev;
}

void
pp_findings_sort(struct pp_findings *fs)
{
	if (fs->n > 1)
		qsort(fs->v, fs->n, sizeof *fs->v, by_line);
}

void
pp_findings_print(FILE *f, const char *path, const struct pp_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct pp_finding *x = &fs->v[i];
		const char *p = x->file ? x->file : path;
		if (x->line)
			fprintf(f, "%s:%d: ", p, x->line);
		else
			fprintf(f, "%s: ", p);
		fprintf(f, "%s: ", x->sev == PP_ERROR ? "error" : "warning");
		/* Messages quote the table's values: only as text on a terminal (pp_text_safe). */
		if (x->mapping) {
			fputc('[', f);
			pp_fputs_safe(x->mapping, f);
			fputs("] ", f);
		}
		if (x->field)
			fprintf(f, "%s: ", x->field);
		pp_fputs_safe(x->what, f);
		fputc('\n', f);
		if (x->fix) {
			fputs("    fix: ", f);
			pp_fputs_safe(x->fix, f);
			fputc('\n', f);
		}
	}
}

void
pp_findings_json(FILE *f, const char *path, const struct pp_findings *fs)
{
	fputs("{\"file\":", f);
	pp_json_str(f, path);
	fprintf(f, ",\"errors\":%zu,\"warnings\":%zu,\"findings\":[",
	        pp_findings_count(fs, PP_ERROR), pp_findings_count(fs, PP_WARNING));
	for (size_t i = 0; i < fs->n; i++) {
		const struct pp_finding *x = &fs->v[i];
		fprintf(f, "%s{\"severity\":\"%s\",\"line\":%d,\"mapping\":", i ? "," : "",
		        x->sev == PP_ERROR ? "error" : "warning", x->line);
		pp_json_str(f, x->mapping);
		fputs(",\"field\":", f);
		pp_json_str(f, x->field);
		fputs(",\"message\":", f);
		pp_json_str(f, x->what);
		fputs(",\"fix\":", f);
		pp_json_str(f, x->fix);
		if (x->file) {
			fputs(",\"file\":", f);
			pp_json_str(f, x->file);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

void
pp_findings_free(struct pp_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].mapping);
		free(fs->v[i].field);
		free(fs->v[i].what);
		free(fs->v[i].fix);
		free(fs->v[i].file);
	}
	free(fs->v);
	memset(fs, 0, sizeof *fs);
}
