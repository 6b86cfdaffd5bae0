/* The monitor's state machine: thresholds turn check results into up/down without flapping. */
#include <string.h>

#include "portpilot/monitor.h"

static const char *const names[] = { "unknown", "up", "down" };

const char *
pp_health_name(enum pp_health h)
{
	return (unsigned)h < 3 ? names[h] : "unknown";
}

int
pp_health_lookup(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

enum pp_mon_change
pp_mon_sm_feed(struct pp_mon_sm *sm, bool ok, int fail_after, int recover_after, time_t now)
{
	if (fail_after < 1)
		fail_after = 1;
	if (recover_after < 1)
		recover_after = 1;
	if (ok) {
		sm->fails = 0;
		if (sm->state == PP_HEALTH_UP)
			return PP_MON_SAME;
		/* The first look at a service that answers is no news; coming back from down is. */
		if (sm->state == PP_HEALTH_UNKNOWN) {
			sm->state = PP_HEALTH_UP;
			sm->since = now;
			sm->oks = 0;
			return PP_MON_FIRST_UP;
		}
		if (++sm->oks < recover_after)
			return PP_MON_SAME;
		sm->state = PP_HEALTH_UP;
		sm->since = now;
		sm->oks = 0;
		return PP_MON_CAME_UP;
	}
	sm->oks = 0;
	if (sm->state == PP_HEALTH_DOWN)
		return PP_MON_SAME;
	if (++sm->fails < fail_after)
		return PP_MON_SAME;
	sm->state = PP_HEALTH_DOWN;
	sm->since = now;
	sm->fails = 0;
	return PP_MON_WENT_DOWN;
}
