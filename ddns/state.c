/* The updater state machine: when to send, what an answer means next, backoff. */
#include <stdio.h>
#include <string.h>

#include "portpilot/ddns.h"
#include "portpilot/util.h"

static const char *const action_names[] = { "none", "update", "refresh", "wait", "stopped", "verify" };
static const char *const status_names[] = { "new", "ok", "retry", "stopped", "propagating" };

const char *pp_ddns_action_name(enum pp_ddns_action a) { return action_names[a]; }
const char *pp_host_status_name(enum pp_host_status s) { return status_names[s]; }

enum pp_ddns_action
pp_ddns_decide(struct pp_ddns_host *h, const char *addr, unsigned long long hash, time_t now)
{
	if (h->status == PP_HS_STOPPED) {
		if (h->stop_hash == hash)
			return PP_ACT_STOPPED;
		/* The engineer changed the section or the credentials: try again once. */
		h->status = h->published[0] ? PP_HS_OK : PP_HS_NEW;
		h->failures = h->nochg = 0;
		h->next_attempt = 0;
		h->reason[0] = '\0';
	}
	if (addr == NULL || *addr == '\0')
		return PP_ACT_NONE;
	if (h->status == PP_HS_PENDING) {
		/* The provider has this address: only its DNS is behind, so look, don't send. */
		if (strcmp(addr, h->published) == 0)
			return now >= h->next_attempt ? PP_ACT_VERIFY : PP_ACT_NONE;
		/* A new address: next_attempt was a re-check time, not a provider backoff. */
		h->next_attempt = 0;
	}
	enum pp_ddns_action want = PP_ACT_NONE;
	if (strcmp(addr, h->published) != 0)
		want = PP_ACT_UPDATE;
	else if (now - h->published_at >= PP_DDNS_REFRESH)
		want = PP_ACT_REFRESH;
	if (want != PP_ACT_NONE && now < h->next_attempt)
		return PP_ACT_WAIT;
	return want;
}

time_t
pp_ddns_backoff(int n, uint32_t rnd)
{
	time_t d = PP_DDNS_BACKOFF_MIN;

	for (int i = 1; i < n && d < PP_DDNS_BACKOFF_MAX; i++)
		d *= 2;
	if (d > PP_DDNS_BACKOFF_MAX)
		d = PP_DDNS_BACKOFF_MAX;
	/* Jitter only lengthens the wait, so it never undercuts a provider's minimum. */
	return d + (time_t)(rnd % (uint32_t)(d / 4 + 1));
}

static void
succeed(struct pp_ddns_host *h, const char *addr, time_t now)
{
	snprintf(h->published, sizeof h->published, "%s", addr);
	h->published_at = now;
	h->failures = 0;
	h->next_attempt = 0;
	h->status = PP_HS_OK;
	h->reason[0] = '\0';
}

static void
stop(struct pp_ddns_host *h, unsigned long long hash, const char *why)
{
	h->status = PP_HS_STOPPED;
	h->stop_hash = hash;
	h->next_attempt = 0;
	snprintf(h->reason, sizeof h->reason, "%s; updates stopped until the configuration or "
	         "credentials change", why);
}

enum pp_ddns_class
pp_ddns_apply(struct pp_ddns_host *h, enum pp_ddns_action action, enum pp_ddns_code code,
              const char *addr, unsigned long long hash, time_t now, uint32_t rnd)
{
	enum pp_ddns_class cls = pp_ddns_code_class(code);

	h->last_attempt = now;
	h->last_code = code;
	if (code == PP_DC_GOOD) {
		succeed(h, addr, now);
		h->nochg = 0;
	} else if (code == PP_DC_NOCHG) {
		/*
		 * nochg to a refresh, or to our first update, is fine. A second
		 * nochg in a row to a real update means we keep sending what the
		 * provider has: a loop that gets accounts blocked.
		 */
		h->nochg = action == PP_ACT_REFRESH ? 1 : h->nochg + 1;
		succeed(h, addr, now);
		if (h->nochg >= 2) {
			stop(h, hash, "provider answered nochg to repeated updates (an update loop)");
			cls = PP_CLS_FATAL;
		}
	} else if (cls == PP_CLS_FATAL) {
		stop(h, hash, pp_ddns_code_reason(code));
	} else if (cls == PP_CLS_RETRY) {
		time_t d = pp_ddns_backoff(++h->failures, rnd);
		if ((code == PP_DC_911 || code == PP_DC_RATELIMIT) && d < PP_DDNS_AFTER_911)
			d = PP_DDNS_AFTER_911 + (time_t)(rnd % 300);
		h->status = PP_HS_RETRY;
		h->next_attempt = now + d;
		snprintf(h->reason, sizeof h->reason, "%s", pp_ddns_code_reason(code));
	}
	return cls;
}

void
pp_ddns_unverified(struct pp_ddns_host *h, const char *why, time_t now, uint32_t rnd)
{
	time_t until = h->published_at + PP_DDNS_PROPAGATION;
	char when[20];

	if (now < until) {
		/* Providers' DNS often lags minutes behind their "good": wait, never re-send yet. */
		h->status = PP_HS_PENDING;
		h->next_attempt = now + pp_ddns_backoff(++h->failures, rnd);
		if (h->next_attempt > until)
			h->next_attempt = until;
		pp_format_datetime(until, when);
		snprintf(h->reason, sizeof h->reason, "provider accepted the update but %s; "
		         "waiting for it to propagate, re-checking until %s", why, when);
		return;
	}
	/* Still wrong an hour on: the update is needed again. Forget the address, send after a backoff. */
	h->published[0] = '\0';
	h->failures = 1;
	h->status = PP_HS_RETRY;
	h->next_attempt = now + pp_ddns_backoff(1, rnd);
	snprintf(h->reason, sizeof h->reason, "provider accepted the update but %s, %d minutes later; "
	         "sending it again after the backoff", why, (int)((now - h->published_at) / 60));
}

void
pp_ddns_verified(struct pp_ddns_host *h, const char *note)
{
	h->status = PP_HS_OK;
	h->failures = 0;
	h->next_attempt = 0;
	snprintf(h->reason, sizeof h->reason, "%s", note ? note : "");
}
