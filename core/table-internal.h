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

/* Letters, digits, "-", "_", "." ; 1-64 characters, starting alphanumeric. */
bool pp_mapping_name_valid(const char *name);

#endif
