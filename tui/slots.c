/* Where the DDNS panel and the probe screen plug in; their issues fill these in. */
#include <stdio.h>

#include "tui-internal.h"

/* The header's DDNS part: "DDNS NAME -> ADDRESS (resolves / does not)" once ddns/ exists. */
const char *
tui_ddns_summary(const struct tui *t, char *buf, size_t n)
{
	(void)t;
	snprintf(buf, n, "DDNS -");
	return buf;
}

struct tui_panel *
tui_ddns_panel(struct tui *t)
{
	tui_message(t, TR_WARNING, "The DDNS panel is not built into the TUI yet; use: portpilot ddns status");
	return NULL;
}

struct tui_panel *
tui_probe_panel(struct tui *t, const char *name)
{
	tui_message(t, TR_WARNING, "The probe screen is not built into the TUI yet; use: portpilot probe %s",
	            name);
	return NULL;
}
