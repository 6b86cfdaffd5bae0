/* Core-private helpers shared by the table's load, edit and save files. */
#ifndef PORTPILOT_TABLE_INTERNAL_H
#define PORTPILOT_TABLE_INTERNAL_H

#include "portpilot/table.h"

/* (Re)build the model from text; t->path names the file in findings. */
int pp_table_parse(struct pp_table *t, const char *text, size_t len, struct pp_error *err);
/* Drop the model, keep path and texts. */
void pp_table_clear_model(struct pp_table *t);

/* The [site] key of the first n bytes of k, case-insensitive; -1 if unknown. */
int pp_site_field_lookup(const char *k, size_t n);
/* The value the model holds for name's key ("site" for [site]); NULL when unset or unknown. */
const char *pp_table_model_value(const struct pp_table *t, const char *name, const char *key);

/* The [site] (site) or mapping key nearest to the first n bytes of k, at most two
   edits away, for "did you mean"; NULL when none is that near. */
const char *pp_nearest_key(const char *k, size_t n, bool site);

/* Letters, digits, "-", "_", "." ; 1-64 characters, starting alphanumeric. */
bool pp_mapping_name_valid(const char *name);

/*
 * The journal: every successful edit through the core is recorded, so a save
 * that finds the file changed on disk can make the same edits again there.
 */
enum pp_op_kind { PP_OP_SET, PP_OP_ADD, PP_OP_DEL, PP_OP_RENAME };
void pp_table_journal_add(struct pp_table *t, enum pp_op_kind kind, const char *name, const char *newname,
                          const struct pp_kv *kv, size_t n);
void pp_table_journal_clear(struct pp_table *t);
/*
 * Re-apply t's journal onto fresh (len bytes, NULL: the file is gone; the
 * table takes ownership of it), under the caller's lock. -1 with err naming
 * the collision when another editor changed what an edit touched.
 */
int pp_table_rebase(struct pp_table *t, char *fresh, size_t len, struct pp_error *err);

/* Findings from outside the table (core/table-ddns.c: [ddns NAME] mapping = held against it),
 * set by pp_table_check_conf; NULL where nothing sets it (the fuzz target builds without). */
extern void (*pp_table_check_extra)(const struct pp_table *t, struct pp_findings *out);

#endif
