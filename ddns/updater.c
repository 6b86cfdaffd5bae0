/* One check of one [ddns] section: address, decision per host, provider request, state saved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddns-internal.h"

/* A holder of a section's state lock may be in an update (HTTP and DNS time limits: seconds). */
#define DDNS_LOCK_WAIT_MS 60000
#include "ddns-updater.h"
#include "portpilot/probe.h"

static uint32_t
jitter_rand(void)
{
	static bool seeded;

	if (!seeded) {
		srandom((unsigned)(getpid() ^ time(NULL)));
		seeded = true;
	}
	return (uint32_t)random();
}

/* ip_source = reflector: the URL and token of [probe]. */
static int
reflector_of(const struct pp_conf *conf, struct ddns_addr_in *in, char **token, struct pp_error *err)
{
	if (conf->probe.reflector == NULL)
		return pp_error_set(err, "%s: ip_source = reflector needs [probe] reflector = URL", conf->path);
	in->reflector = conf->probe.reflector;
	if (pp_reflector_set_ca(conf->probe.ca_file, err) < 0)
		return -1;
	if (conf->probe.token_file && (*token = pp_token_read(conf->probe.token_file, err)) == NULL)
		return -1;
	in->reflector_token = *token;
	return 0;
}

/*
 * An HTTP provider said good/nochg, or h waits for it to propagate: ask the
 * zone's authoritative servers. (nsupdate checks the primary it talked to
 * itself.) A stale answer or NXDOMAIN is propagation for a while, then
 * re-arms the update (pp_ddns_unverified()); no answer is only reported.
 */
/* One family at the authoritative servers (or the test's hook): 1 serves addr, 0 stale, -1 no answer. */
static int
auth_one(struct ddns_check *ck, const char *zone, const char *host, const char *addr, char *detail,
         size_t dlen)
{
	ck->auth_checks++;
	if (ck->auth_hook)
		return ck->auth_hook(ck->hook_ctx, zone, host, addr, detail, dlen);
	return ddns_auth_check(zone, host, addr, detail, dlen);
}

static int verdict_rank(int rc) { return rc == 0 ? 0 : rc < 0 ? 1 : 2; }

static void
verify(struct ddns_check *ck, struct pp_ddns_host *h, const struct ddns_addr *a, bool proxied)
{
	char detail[200], d6[200];
	int rc = 1, rc6 = 1;

	if ((ddns_provider_of(ck->dc)->needs & DDNS_CHECKS_ITSELF) || (ck->provider_hook && !ck->auth_hook)) {
		pp_ddns_verified(h, NULL);
		return;
	}
	if (proxied) {
		/* Its DNS answers with the proxy's addresses: a check could only ever disagree. */
		pp_ddns_verified(h, "published, but not verified: the record is proxied by Cloudflare, "
		                 "whose DNS answers with Cloudflare's addresses");
		return;
	}
	char *zone = ddns_zone_of(ck->dc, h->host);
	if (a->v4[0])
		rc = auth_one(ck, zone, h->host, a->v4, detail, sizeof detail);
	if (a->v6[0])
		rc6 = auth_one(ck, zone, h->host, a->v6, d6, sizeof d6);
	free(zone);
	/* Both records must be served: the worse answer (stale, then none) decides and is told. */
	if (a->v6[0] && (!a->v4[0] || verdict_rank(rc6) < verdict_rank(rc))) {
		rc = rc6;
		snprintf(detail, sizeof detail, "%s", d6);
	} else if (a->v6[0] && rc == 1 && strlen(detail) + strlen(d6) + 2 < sizeof detail) {
		strcat(strcat(detail, "; "), d6);
	}
	if (rc == 1) {
		pp_ddns_verified(h, NULL);
		ddns_log(DDNS_INFO, "ddns[%s] %s: verified: %s", ck->dc->name, h->host, detail);
	} else if (rc == 0) {
		ck->unverified++;
		pp_ddns_unverified(h, detail, ck->now, ck->rnd ? ck->rnd() : jitter_rand());
		/* Propagation is normal; only a record still wrong after the window is a failure. */
		ck->failed += h->status == PP_HS_RETRY;
		ddns_log(h->status == PP_HS_RETRY ? DDNS_WARN : DDNS_NOTICE, "ddns[%s] %s: %s",
		         ck->dc->name, h->host, h->reason);
	} else {
		char note[256];
		snprintf(note, sizeof note, "published, but not verified: %s", detail);
		pp_ddns_verified(h, note);
		ddns_log(DDNS_NOTICE, "ddns[%s] %s: %s", ck->dc->name, h->host, h->reason);
	}
}

/* What is published: "v4", "v4,v6", or "v6" alone when IPv4 is unusable. */
static void
addr_text(const struct ddns_addr *a, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", a->v4, a->v4[0] && a->v6[0] ? "," : "", a->v6);
}

/* Send the update for the hosts that need one and record every answer. */
static void
send_update(struct ddns_check *ck, struct pp_ddns_state *st, const char **hosts,
            enum pp_ddns_action *acts, size_t n, const struct ddns_addr *a, const struct pp_creds *cr)
{
	enum pp_ddns_code *codes = pp_xcalloc(n, sizeof *codes);
	bool *proxied = pp_xcalloc(n, sizeof *proxied);
	char addr[96];
	struct ddns_job j = {
		.dc = ck->dc, .cr = cr, .hosts = hosts, .n = n, .addr4 = a->v4[0] ? a->v4 : NULL,
		.addr6 = a->v6[0] ? a->v6 : NULL, .codes = codes, .proxied = proxied,
	};

	addr_text(a, addr, sizeof addr);
	if (ck->provider_hook)
		ck->provider_hook(ck->hook_ctx, &j);
	else
		ddns_provider_update(&j);
	ck->provider_requests++;
	ddns_log(DDNS_INFO, "ddns[%s]: %s", ck->dc->name, j.detail);
	for (size_t i = 0; i < n; i++) {
		struct pp_ddns_host *h = pp_ddns_state_host(st, hosts[i]);
		enum pp_ddns_class cls = pp_ddns_apply(h, acts[i], codes[i], addr, ck->hash, ck->now,
		                                       ck->rnd ? ck->rnd() : jitter_rand());
		if (cls == PP_CLS_OK) {
			ddns_log(DDNS_NOTICE, "ddns[%s] %s: %s, published %s", ck->dc->name, hosts[i],
			         pp_ddns_code_name(codes[i]), addr);
			ck->updated++;
			verify(ck, h, a, proxied[i]);
		} else {
			ddns_log(cls == PP_CLS_FATAL ? DDNS_ERR : DDNS_WARN, "ddns[%s] %s: %s: %s",
			         ck->dc->name, hosts[i], pp_ddns_code_name(codes[i]), h->reason);
			/* A fatal answer stops the host now: the summary counts it as stopped, like
			 * the runs after this one do (decide_all, all_stopped). */
			if (cls == PP_CLS_FATAL)
				ck->stopped++;
			else
				ck->failed++;
		}
	}
	free(proxied);
	free(codes);
}

static void
decide_all(struct ddns_check *ck, struct pp_ddns_state *st, const struct ddns_addr *a,
           const struct pp_creds *cr)
{
	const struct pp_ddns_conf *dc = ck->dc;
	const char **hosts = pp_xcalloc(dc->nhosts, sizeof *hosts);
	enum pp_ddns_action *acts = pp_xcalloc(dc->nhosts, sizeof *acts);
	char addr[96];
	size_t n = 0;

	addr_text(a, addr, sizeof addr);
	for (size_t i = 0; i < dc->nhosts; i++) {
		struct pp_ddns_host *h = pp_ddns_state_host(st, dc->hosts[i]);
		enum pp_ddns_action act = pp_ddns_decide(h, addr[0] ? addr : NULL, ck->hash, ck->now);
		/* A forced check re-sends an unchanged address as a refresh, so nochg is expected. */
		if (act == PP_ACT_NONE && ck->force && addr[0])
			act = PP_ACT_REFRESH;
		if (act == PP_ACT_STOPPED)
			ck->stopped++;
		if (act == PP_ACT_VERIFY)
			verify(ck, h, a, false);
		if (act == PP_ACT_UPDATE || act == PP_ACT_REFRESH) {
			hosts[n] = dc->hosts[i];
			acts[n++] = act;
		}
	}
	if (n > 0)
		send_update(ck, st, hosts, acts, n, a, cr);
	free(hosts);
	free(acts);
}

/* Every host stopped by a fatal answer, and nothing changed since. */
static bool
all_stopped(const struct pp_ddns_conf *dc, struct pp_ddns_state *st, unsigned long long hash)
{
	for (size_t i = 0; i < dc->nhosts; i++) {
		const struct pp_ddns_host *h = pp_ddns_state_host(st, dc->hosts[i]);
		if (h->status != PP_HS_STOPPED || h->stop_hash != hash)
			return false;
	}
	return dc->nhosts > 0;
}

/* Earliest moment a host of st wants attention again (retry, re-check), 0 if none. */
static time_t
next_due(const struct pp_ddns_state *st)
{
	time_t t = 0;

	for (size_t i = 0; i < st->nhosts; i++) {
		const struct pp_ddns_host *h = &st->hosts[i];
		if ((h->status == PP_HS_RETRY || h->status == PP_HS_PENDING) && (t == 0 || h->next_attempt < t))
			t = h->next_attempt;
	}
	return t;
}

int
ddns_check(struct ddns_check *ck, struct pp_error *err)
{
	const struct pp_ddns_conf *dc = ck->dc;
	struct pp_creds cr = { 0 };
	struct pp_ddns_state st;
	struct ddns_echo_cache cache = { 0 };
	struct ddns_addr a;
	char *token = NULL;
	int rc = -1;

	if (dc->credentials_file && pp_creds_load(dc->credentials_file, &cr, err) < 0)
		return -1;
	ck->hash = pp_hash64(dc->hash, &cr.hash, sizeof cr.hash);
	/* From the load to the save: watch6 and ddns run share this state (pp_ddns_state_lock). */
	int lock = pp_ddns_state_lock(ck->state_dir, dc->name, DDNS_LOCK_WAIT_MS, err);
	if (lock < 0 || pp_ddns_state_load(ck->state_dir, dc->name, &st, err) < 0) {
		pp_ddns_state_unlock(lock);
		pp_creds_free(&cr);
		return -1;
	}
	struct ddns_addr_in in = {
		.dc = dc, .st = &st, .cache = &cache, .now = ck->now, .table_path = ck->table_path,
		.urls = (const char *const *)dc->checkip, .nurls = dc->ncheckip,
		.echo_hook = ck->echo_hook, .hook_ctx = ck->hook_ctx,
	};
	if (dc->ip_source == PP_IPSRC_REFLECTOR && reflector_of(ck->conf, &in, &token, err) < 0)
		goto out;
	if (all_stopped(dc, &st, ck->hash)) {
		/* Nothing can be sent: do not spend echo requests either. */
		ck->stopped += (int)dc->nhosts;
		ck->next_due = 0;
		rc = 0;
		goto out;
	}
	if (ddns_echo_cache_load(ck->state_dir, &cache, err) < 0)
		goto out;
	ddns_find_addr(&in, &a);
	ck->echo_requests += a.echo_requests;
	rc = ddns_echo_cache_save(ck->state_dir, &cache, err);
	if (strcmp(a.verdict, st.verdict) != 0 && a.verdict[0])
		ddns_log(DDNS_WARN, "ddns[%s]: %s", dc->name, a.verdict);
	snprintf(st.verdict, sizeof st.verdict, "%s", a.verdict);
	if (a.v4[0] == '\0' && a.v6[0] == '\0')
		ck->unpublishable++;
	decide_all(ck, &st, &a, &cr);
	ck->next_due = next_due(&st);
	/* The host state is saved even when the echo state could not be: it records what was sent. */
	if (pp_ddns_state_save(ck->state_dir, &st, err) < 0)
		rc = -1;
out:
	pp_ddns_state_unlock(lock);
	ddns_echo_cache_free(&cache);
	pp_ddns_state_free(&st);
	pp_creds_free(&cr);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	return rc;
}
