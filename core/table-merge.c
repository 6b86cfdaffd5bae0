/* Carries a session's edits over to a table another editor saved meanwhile, refusing only real collisions. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "portpilot/table.h"
#include "portpilot/util.h"
#include "table-internal.h"

struct op {
	enum pp_op_kind kind;
	char *name, *newname;
	struct pp_kv *kv;            /* keys and values owned here */
	size_t n;
};

struct journal {
	struct op *v;
	size_t n;
	bool replaying;              /* edits made by the replay itself are not recorded again */
};

void
pp_table_journal_add(struct pp_table *t, enum pp_op_kind kind, const char *name, const char *newname,
                     const struct pp_kv *kv, size_t n)
{
	struct journal *j = t->journal;
	struct op *o;

	if (j == NULL)
		j = t->journal = pp_xcalloc(1, sizeof *j);
	if (j->replaying)
		return;
	j->v = pp_xrealloc(j->v, (j->n + 1) * sizeof *j->v);
	o = &j->v[j->n++];
	o->kind = kind;
	o->name = pp_xstrdup(name);
	o->newname = newname ? pp_xstrdup(newname) : NULL;
	o->n = n;
	o->kv = pp_xcalloc(n + 1, sizeof *o->kv);
	for (size_t i = 0; i < n; i++) {
		o->kv[i].key = pp_xstrdup(kv[i].key);
		o->kv[i].value = kv[i].value ? pp_xstrdup(kv[i].value) : NULL;
	}
}

void
pp_table_journal_clear(struct pp_table *t)
{
	struct journal *j = t->journal;

	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		for (size_t k = 0; k < j->v[i].n; k++) {
			free((char *)j->v[i].kv[k].key);
			free((char *)j->v[i].kv[k].value);
		}
		free(j->v[i].kv);
		free(j->v[i].name);
		free(j->v[i].newname);
	}
	free(j->v);
	free(j);
	t->journal = NULL;
}

static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The section holds the same values in both tables (absent in both counts as the same). */
static bool
same_mapping(const struct pp_table *a, const struct pp_table *b, const char *name)
{
	const struct pp_mapping *x = pp_table_find(a, name), *y = pp_table_find(b, name);

	if (x == NULL || y == NULL)
		return x == y;
	for (int f = 0; f < PP_F__COUNT; f++)
		if (!same(x->val[f], y->val[f]))
			return false;
	return true;
}

static size_t
errors(const struct pp_table *t, time_t now)
{
	struct pp_findings fs = { 0 };
	size_t n;

	pp_table_check(t, now, &fs);
	n = pp_findings_count(&fs, PP_ERROR);
	pp_findings_free(&fs);
	return n;
}

/*
 * Does op collide with what the other editor changed (base: the file as this
 * session loaded it, fresh: as it is now, both with the earlier ops made)?
 * Fills why; true on a collision.
 */
static bool
collides(const struct op *o, const struct pp_table *base, const struct pp_table *fresh, char *why, size_t n)
{
	bool site = strcasecmp(o->name, "site") == 0;

	switch (o->kind) {
	case PP_OP_SET:
		if (!site && pp_table_find(fresh, o->name) == NULL) {
			snprintf(why, n, "[%s] was deleted or renamed there", o->name);
			return true;
		}
		for (size_t i = 0; i < o->n; i++) {
			const char *was = pp_table_model_value(base, o->name, o->kv[i].key);
			const char *is = pp_table_model_value(fresh, o->name, o->kv[i].key);
			/* Changed there too, and not to what this edit writes: a real conflict. */
			if (!same(was, is) && !same(is, o->kv[i].value)) {
				snprintf(why, n, "[%s] %s was changed there too (now %s%.100s%s)", o->name, o->kv[i].key,
				         is ? "'" : "", is ? is : "removed", is ? "'" : "");
				return true;
			}
		}
		return false;
	case PP_OP_ADD:
		if (pp_table_find(fresh, o->name)) {
			snprintf(why, n, "a mapping named [%s] was added there too", o->name);
			return true;
		}
		return false;
	case PP_OP_DEL:
		if (!same_mapping(base, fresh, o->name)) {
			snprintf(why, n, "[%s], which this edit deletes, was changed there", o->name);
			return true;
		}
		return false;
	case PP_OP_RENAME:
		if (pp_table_find(fresh, o->name) == NULL) {
			snprintf(why, n, "[%s] was deleted or renamed there", o->name);
			return true;
		}
		if (strcasecmp(o->name, o->newname) != 0 && pp_table_find(fresh, o->newname)) {
			snprintf(why, n, "a mapping named [%s] was added there", o->newname);
			return true;
		}
		return false;
	}
	return false;
}

static int
apply_op(struct pp_table *t, const struct op *o, struct pp_error *err)
{
	switch (o->kind) {
	case PP_OP_SET: return pp_table_set_many(t, o->name, o->kv, o->n, err);
	case PP_OP_ADD: return pp_table_add(t, o->name, err);
	case PP_OP_DEL: return pp_table_find(t, o->name) ? pp_table_del(t, o->name, err) : 0;
	case PP_OP_RENAME: return pp_table_rename(t, o->name, o->newname, err);
	}
	return 0;
}

static struct pp_table *
scratch(const struct pp_table *t, const char *text, size_t len)
{
	struct pp_table *s;

	if (pp_table_load_mem(t->path, text ? text : "", text ? len : 0, &s, NULL) < 0)
		return NULL;
	s->journal = pp_xcalloc(1, sizeof(struct journal));
	((struct journal *)s->journal)->replaying = true;
	return s;
}

int
pp_table_rebase(struct pp_table *t, char *fresh, size_t len, struct pp_error *err)
{
	const struct journal *j = t->journal;
	struct pp_table *base = NULL, *cur = NULL;
	struct pp_error e;
	char why[300] = "";
	time_t now = time(NULL);
	size_t eb, ef;
	int rc = -1;

	if (j == NULL || j->n == 0)
		snprintf(why, sizeof why, "this session made no edit to carry over");
	else if (fresh == NULL)
		snprintf(why, sizeof why, "it was removed");
	else if (memchr(fresh, '\0', len))
		snprintf(why, sizeof why, "it holds NUL bytes now");
	else if ((base = scratch(t, t->existed ? t->loaded : NULL, t->loaded_len)) == NULL ||
	         (cur = scratch(t, fresh, len)) == NULL)
		snprintf(why, sizeof why, "it cannot be read back");
	if (*why)
		goto out;
	eb = errors(base, now);
	ef = errors(cur, now);
	for (size_t i = 0; i < j->n; i++) {
		if (collides(&j->v[i], base, cur, why, sizeof why))
			goto out;
		if (apply_op(base, &j->v[i], &e) < 0 || apply_op(cur, &j->v[i], &e) < 0) {
			snprintf(why, sizeof why, "this session's edit cannot be made there: %.200s", e.msg);
			goto out;
		}
	}
	/* The edits may add no error there that they did not add here (two new mappings on one port, say). */
	{
		size_t ours = errors(base, now), theirs = errors(cur, now);
		size_t added_here = ours > eb ? ours - eb : 0, added_there = theirs > ef ? theirs - ef : 0;
		if (added_there > added_here) {
			snprintf(why, sizeof why, "together with the change there this session's edits would add %zu "
			         "error%s (see portpilot check after reloading)", added_there - added_here,
			         added_there - added_here == 1 ? "" : "s");
			goto out;
		}
	}
	/* Take the merged text: loaded = what is on disk now, text = it with this session's edits. */
	if (t->text != t->loaded)
		free(t->text);
	free(t->loaded);
	t->loaded = fresh;
	t->loaded_len = len;
	fresh = NULL;
	t->text = pp_xstrndup(cur->text, cur->text_len);
	t->text_len = cur->text_len;
	t->existed = true;
	pp_table_clear_model(t);
	rc = pp_table_parse(t, t->text, t->text_len, err);
out:
	if (rc < 0 && *why)
		pp_error_set(err, "%s: the file changed on disk since it was loaded, and %s; nothing was written: "
		             "reload it and make the change again", t->path, why);
	free(fresh);
	pp_table_free(base);
	pp_table_free(cur);
	return rc;
}
