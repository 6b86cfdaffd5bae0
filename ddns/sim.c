/* The updater over 30 simulated days: real state machine and state file, simulated world. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddns-internal.h"
#include "ddns-updater.h"

#define T0   1800000000
#define DAY  86400
#define STEP 300                       /* the daemon's polling interval */
#define FATAL_AT (T0 + 29 * DAY + DAY / 2)

struct world {
	struct pp_ddns_sim *out;
	time_t now;
	char truth[24];                    /* the site's real public address */
	char record[96];                   /* what the provider holds */
	char served[96];                   /* what the authoritative servers serve */
	time_t last_success;
	bool prev_temp;                    /* last answer was a temporary failure */
	bool fatal;                        /* badauth was answered */
	time_t fatal_at;                   /* when */
	int changes_before_fatal;
	time_t last_echo_round;
	int faults_left;                   /* temporary faults still to inject */
	int stale_left;                    /* lags still to play */
	int lag_left;                      /* stale answers left in the current lag */
	time_t changed_at;
	bool faulted;                      /* a fault since the last change */
};

static const enum pp_ddns_code faults[] = { PP_DC_911, PP_DC_SERVER, PP_DC_NETWORK, PP_DC_DNSERR };

/* The provider: counts what was necessary, answers like a dyndns2 server would. */
static void
provider(void *ctx, struct ddns_job *j)
{
	struct world *w = ctx;
	struct pp_ddns_sim *s = w->out;
	bool same = strcmp(j->addr4, w->record) == 0;
	/* A lagging DNS never makes a re-send necessary: the provider has the address. */
	bool needed = !same || w->now - w->last_success >= PP_DDNS_REFRESH || w->prev_temp;

	s->provider++;
	s->unnecessary += !needed;
	s->after_fatal += w->fatal;
	s->wrong_addr += strcmp(j->addr4, w->truth) != 0;
	enum pp_ddns_code c = same ? PP_DC_NOCHG : PP_DC_GOOD;
	if (w->now >= FATAL_AT) {
		c = PP_DC_BADAUTH;             /* the account's password was changed on day 29.5 */
		if (!w->fatal)
			w->fatal_at = w->now;
		w->fatal = true;
	} else if (w->faults_left > 0 && !w->prev_temp && s->provider % 3 == 0) {
		c = faults[--w->faults_left];
	}
	w->prev_temp = pp_ddns_code_class(c) == PP_CLS_RETRY;
	w->faulted |= w->prev_temp;
	if (c == PP_DC_GOOD || c == PP_DC_NOCHG) {
		if (!w->faulted && !same && w->now - w->changed_at > s->worst_latency)
			s->worst_latency = w->now - w->changed_at;
		snprintf(w->record, sizeof w->record, "%s", j->addr4);
		w->last_success = w->now;
		s->auth_min++;
	}
	for (size_t i = 0; i < j->n; i++)
		j->codes[i] = c;
	snprintf(j->detail, sizeof j->detail, "simulated");
}

static int
echo(void *ctx, const char *url, char out[16])
{
	struct world *w = ctx;
	(void)url;
	/* A second request in the same round is the confirmation; a new round needs 10 minutes. */
	if (w->now != w->last_echo_round && w->last_echo_round && w->now - w->last_echo_round < PP_DDNS_ECHO_MIN)
		w->out->echo_too_soon++;
	w->last_echo_round = w->now;
	w->out->echo++;
	snprintf(out, 16, "%.15s", w->truth);
	return 0;
}

/*
 * Authoritative servers: they follow the provider, except that stale_auth
 * updates reach them only after stale_run checks have seen the old record.
 */
static int
auth(void *ctx, const char *zone, const char *host, const char *addr, char *detail, size_t dlen)
{
	struct world *w = ctx;
	struct pp_ddns_sim *s = w->out;
	(void)zone;
	(void)host;
	if (w->lag_left == 0 && w->stale_left > 0 && strcmp(w->served, addr) != 0 && s->auth_checks % 3 == 1) {
		w->stale_left--;
		w->lag_left = s->stale_run > 1 ? s->stale_run : 1;
	}
	s->auth_checks++;
	if (w->lag_left > 0) {
		w->lag_left--;
		w->faulted = true;
		s->unverified++;
		s->auth_min++;             /* each stale answer makes one more check necessary */
		snprintf(detail, dlen, "ns1.sim.invalid answers %s", w->served[0] ? w->served : "NXDOMAIN");
		return 0;
	}
	snprintf(w->served, sizeof w->served, "%s", w->record);
	snprintf(detail, dlen, "ns1.sim.invalid serves %s", w->served);
	return strcmp(w->served, addr) == 0 ? 1 : 0;
}

static time_t
change_time(int k)
{
	/* Ten changes in days 1-4, then quiet (a 25-day refresh falls due), then two on day 29.5+. */
	if (k < 10)
		return T0 + DAY + k * (DAY * 3 / 10) + 137;
	return k == 10 ? FATAL_AT + 11 : T0 + 29 * DAY + DAY * 8 / 10;
}

static uint32_t fixed_rnd(void) { return 12345; }

static int
write_file(const char *path, const char *text, struct pp_error *err)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		return pp_error_set(err, "%s: cannot write the simulation's file", path);
	return chmod(path, 0600);
}

static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = pp_xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int
days(struct world *w, const struct pp_conf *conf, const char *dir, struct pp_error *err)
{
	struct pp_ddns_sim *s = w->out;
	int k = 0;

	for (w->now = T0; w->now < T0 + 30 * DAY;) {
		if (k < 12 && w->now >= change_time(k)) {
			snprintf(w->truth, sizeof w->truth, "203.0.113.%d", 101 + k++);
			w->changed_at = w->now;
			w->faulted = false;
			s->changes++;
			w->changes_before_fatal += !w->fatal;
		}
		struct ddns_check ck = {
			.conf = conf, .dc = &conf->ddns[0], .state_dir = dir, .now = w->now, .rnd = fixed_rnd,
			.provider_hook = provider, .echo_hook = echo, .auth_hook = auth, .hook_ctx = w,
		};
		if (ddns_check(&ck, err) < 0)
			return -1;
		/* Like the daemon: wake at the next poll, or earlier for a due retry. */
		time_t next = (w->now / STEP + 1) * STEP;
		if (ck.next_due > w->now && ck.next_due < next)
			next = ck.next_due;
		w->now = next;
	}
	/* First publication, 10 changes, one 25-day refresh, a retry per fault, the badauth. */
	s->provider_min = 1 + 10 + 1 + 4 + 1;
	/*
	 * Echo: to see a change within 10 minutes, one round per 10 minutes until
	 * the badauth stops everything, plus a second service's confirmation of
	 * every new address (the first one included).
	 */
	s->echo_min = (int)((w->fatal_at - T0) / PP_DDNS_ECHO_MIN) + 1 + 1 + w->changes_before_fatal;
	return 0;
}

int
pp_ddns_sim_run(struct pp_ddns_sim *s, struct pp_error *err)
{
	char dir[] = "/tmp/pp-ddns-sim.XXXXXX", path[128], sec[128], text[512];
	struct world w = { .out = s, .faults_left = 4, .stale_left = s->stale_auth };
	struct pp_conf *conf = NULL;
	bool quiet = ddns_quiet;
	int rc = -1;

	s->changes = s->provider = s->unnecessary = s->after_fatal = s->wrong_addr = 0;
	s->echo = s->echo_too_soon = s->auth_checks = s->auth_min = s->unverified = 0;
	s->worst_latency = 0;
	if (mkdtemp(dir) == NULL)
		return pp_error_set(err, "%s: cannot create the simulation's directory", dir);
	snprintf(sec, sizeof sec, "%s/sim.secret", dir);
	snprintf(path, sizeof path, "%s/sim.conf", dir);
	snprintf(text, sizeof text, "[ddns sim]\nprovider = dyndns2\nserver = sim.invalid\n"
	         "hostname = a.example.net\ncredentials_file = %s\nip_source = web\n"
	         "checkip = https://a.invalid, https://b.invalid\n", sec);
	if (write_file(sec, "username = u\npassword = p\n", err) == 0 && write_file(path, text, err) == 0 &&
	    pp_conf_load(path, false, &conf, err) == 0) {
		ddns_quiet = true;
		strcpy(w.truth, "203.0.113.100");
		w.changed_at = T0;
		rc = days(&w, conf, dir, err);
		ddns_quiet = quiet;
	}
	pp_conf_free(conf);
	remove_dir(dir);
	return rc;
}
