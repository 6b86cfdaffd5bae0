/* Private to core/apply-*.c and core/cli-apply.c: the state directory and the shared steps. */
#ifndef PORTPILOT_APPLY_INTERNAL_H
#define PORTPILOT_APPLY_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "portpilot/backend.h"

/* Files in the state directory. */
#define PP_ST_SNAPSHOT  "snapshot.rules"   /* portpilot's live rules before the last apply */
#define PP_ST_APPLIED   "applied.rules"    /* what the last apply wrote */
#define PP_ST_CONFIRMED "confirmed.rules"  /* persisted for boot */
#define PP_ST_ROLLED    "timer-rollback"   /* when the confirm timer last rolled back: told to whoever comes back */
#define PP_ST_WAITING   "timer-waiting"    /* "since=T\nholder=PID\n": the timer, past its deadline, waits for apply.lock */
#define PP_ST_GEN       "applied.gen"      /* "NS GEN\n" + filter facts: at that nf_tables generation the
                                              kernel held applied.rules and this FORWARD/DOCKER-USER state */

struct pp_pending {
	char id[32];
	time_t deadline;
	pid_t pid;                      /* the rollback timer */
	/* Armed before the kernel changes and cleared once the apply recorded what it wrote: still
	 * set, the apply died (kill, hang-up) somewhere between, and only the timer may finish it. */
	bool armed;
	char backend[16];               /* the backend the apply writes with: a rollback removes its
	                                   objects even when the apply died before recording them */
};

char *pp_state_path(const char *dir, const char *file);
int pp_state_lock(const char *dir, struct pp_error *err);       /* fd or -1 */
/* The rollback timer's lock: waits as long as it takes (a rollback must not lose to a lock),
 * leaving PP_ST_WAITING with the holder's pid for status while it waits. fd or -1. */
int pp_state_lock_wait(const char *dir, struct pp_error *err);
/* The pid holding apply.lock (from /proc/locks), 0 when none or unknown. */
pid_t pp_state_lock_holder(const char *dir);
/* "pid N (portpilot apply --dry-run)" for messages, into buf. */
const char *pp_pid_name(pid_t pid, char *buf, size_t n);
void pp_state_unlock(int fd);
int pp_state_write(const char *dir, const char *file, const char *text, struct pp_error *err);
/* Write file's next content (head, NULL for none, then text) aside, synced; then put it in place,
   or drop it. */
int pp_state_stage(const char *dir, const char *file, const char *head, const char *text, struct pp_error *err);
int pp_state_publish(const char *dir, const char *file, struct pp_error *err);
void pp_state_discard(const char *dir, const char *file);
/* The same without fsync, for what a crash may lose (caches). */
int pp_state_write_cache(const char *dir, const char *file, const char *text, struct pp_error *err);
char *pp_state_read(const char *dir, const char *file);          /* NULL if absent */
/* At most the first max bytes of it (a record's head line without its megabytes of rules). */
char *pp_state_read_head(const char *dir, const char *file, size_t max);
void pp_state_remove(const char *dir, const char *file);
/* Make file `to` the same content as `from` (a hard link, so no copy and no second fsync). */
int pp_state_link(const char *dir, const char *from, const char *to, struct pp_error *err);
int pp_pending_read(const char *dir, struct pp_pending *pd);     /* -1 if none */
int pp_pending_write(const char *dir, const struct pp_pending *pd, struct pp_error *err);
/*
 * Is pd's rollback timer still running (its pid is a "rollback --timer ID")?
 * A reboot, the OOM killer or a kill leave a record nobody will act on.
 */
bool pp_pending_timer_alive(const struct pp_pending *pd);
/* "the rollback timer (pid N)", or "(never started)" for a record without a pid, into buf. */
const char *pp_pending_timer_name(const struct pp_pending *pd, char buf[64]);

/* Where an unconfirmed apply stands, for status, confirm and apply (from the state files). */
enum pp_pending_state {
	PP_PEND_RUNNING,       /* applied; the timer rolls back at the deadline unless confirmed */
	PP_PEND_UNFINISHED,    /* armed, but the apply died before recording: the timer will roll back */
	PP_PEND_WAITING,       /* past the deadline, the timer alive and waiting for apply.lock */
	PP_PEND_GONE,          /* the timer is gone: nothing rolls back */
};
struct pp_pending_view {
	enum pp_pending_state state;
	pid_t holder;          /* WAITING: who holds apply.lock (0 unknown) */
	time_t waiting_since;
};
void pp_pending_view(const char *dir, const struct pp_pending *pd, struct pp_pending_view *v);
const char *pp_pending_state_name(enum pp_pending_state s);

/*
 * core/apply-memo.c: the state this process last committed (or found current), kept for its
 * next apply. take: that state (the caller's now) when dir, the backend and the kernel's
 * generation g are where keep left them and applied.rules is the file written then; else
 * NULL, and whatever was kept is freed. keep: s (taken over; freed when it cannot be kept)
 * is what the kernel holds at generation g and applied.rules records. PORTPILOT_MEMO=off:
 * nothing is kept.
 */
struct pp_be_state *pp_memo_take(const char *dir, const struct pp_backend_ops *ops, const struct pp_gen *g);
void pp_memo_keep(const char *dir, const struct pp_backend_ops *ops, const struct pp_gen *g, struct pp_be_state *s);

/* With PORTPILOT_TIMING set: print the time since the previous mark to stderr (benches, tuning). */
void pp_apply_mark(const char *step);

#endif
