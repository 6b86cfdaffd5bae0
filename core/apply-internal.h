/* Private to core/apply-*.c and core/cli-apply.c: the state directory and the shared steps. */
#ifndef PORTPILOT_APPLY_INTERNAL_H
#define PORTPILOT_APPLY_INTERNAL_H

#include <sys/types.h>
#include <time.h>

#include "portpilot/backend.h"

/* Files in the state directory. */
#define PP_ST_SNAPSHOT  "snapshot.rules"   /* portpilot's live rules before the last apply */
#define PP_ST_APPLIED   "applied.rules"    /* what the last apply wrote */
#define PP_ST_CONFIRMED "confirmed.rules"  /* persisted for boot */

struct pp_pending {
	char id[32];
	time_t deadline;
	pid_t pid;                      /* the rollback timer */
};

char *pp_state_path(const char *dir, const char *file);
int pp_state_lock(const char *dir, struct pp_error *err);       /* fd or -1 */
void pp_state_unlock(int fd);
int pp_state_write(const char *dir, const char *file, const char *text, struct pp_error *err);
char *pp_state_read(const char *dir, const char *file);          /* NULL if absent */
void pp_state_remove(const char *dir, const char *file);
int pp_pending_read(const char *dir, struct pp_pending *pd);     /* -1 if none */
int pp_pending_write(const char *dir, const struct pp_pending *pd, struct pp_error *err);

/* Render options for t on this host (LAN subnet from the table or the interface). */
void pp_apply_render_opts(const struct pp_table *t, const struct pp_backend *b,
                          struct pp_render_opts *o);

#endif
