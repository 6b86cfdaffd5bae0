/* Inside ddns/: one check of one section, shared by --once, the daemon and the bench. */
#ifndef PORTPILOT_DDNS_UPDATER_H
#define PORTPILOT_DDNS_UPDATER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portpilot/conf.h"
#include "portpilot/ddns.h"

struct ddns_job;

struct ddns_check {
	/* in */
	const struct pp_conf *conf;
	const struct pp_ddns_conf *dc;
	const char *state_dir;
	const char *table_path;      /* the table, for ip_source = relay; NULL: none */
	time_t now;                  /* the clock, injectable */
	bool force;                  /* SIGUSR1 / --force: re-send unchanged addresses */
	uint32_t (*rnd)(void);       /* jitter source; NULL: random() */
	/* Simulation and tests: replace the provider request and the echo services. */
	void (*provider_hook)(void *ctx, struct ddns_job *j);
	int (*echo_hook)(void *ctx, const char *url, char out[16]);
	/* ... and the check at the zone's authoritative servers (see ddns_auth_check()). */
	int (*auth_hook)(void *ctx, const char *zone, const char *host, const char *addr,
	                 char *detail, size_t dlen);
	void *hook_ctx;
	/* out, added to */
	unsigned long long hash;     /* config + credentials */
	int provider_requests, echo_requests;
	int updated, failed, stopped, unpublishable;
	int auth_checks, unverified;  /* authoritative checks made; of those, stale or NXDOMAIN */
	time_t next_due;             /* earliest retry of a host, 0 if none */
};

/* -1 only when credentials or state cannot be read/written (err says why). */
int ddns_check(struct ddns_check *ck, struct pp_error *err);

#endif
