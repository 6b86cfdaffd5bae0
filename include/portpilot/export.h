/* The documentation record (portpilot export) as data: who may reach what, one row per mapping. */
#ifndef PORTPILOT_EXPORT_H
#define PORTPILOT_EXPORT_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "portpilot/error.h"
#include "portpilot/table.h"

enum pp_export_col {
	PP_X_SERVICE, PP_X_MAPPING, PP_X_PUBLIC_IP, PP_X_PUBLIC_PORT, PP_X_INTERNAL_IP, PP_X_INTERNAL_PORT,
	PP_X_PROTOCOL, PP_X_ALLOW, PP_X_PURPOSE, PP_X_OWNER, PP_X_STATE, PP_X_IPV6,
	/* the IPv6 side (issue 15): yes|no|only, the server's address now, the host id as written,
	   pinhole|nat66, the IPv6 sources ("any", "none (...)" or CIDRs); "" without IPv6 (mode "no") */
	PP_X_IPV6_MODE, PP_X_INTERNAL_IP6, PP_X_IPV6_HOST_ID, PP_X_IPV6_WAY, PP_X_ALLOW6,
	PP_X__COUNT
};

/* Every cell a string the row owns, "" when empty; raw from the file (formatters make it safe). */
struct pp_export_row {
	char *v[PP_X__COUNT];
};

struct pp_export {
	char public_ip[16];               /* the fixed public_ip, else the WAN interface's, else "auto" */
	const char *site_name;            /* [site] name (the table's), NULL when absent */
	struct pp_export_row *rows;       /* in file order */
	size_t n;
};

const char *pp_export_key(enum pp_export_col c);    /* "service": the JSON key, the CSV header */
const char *pp_export_title(enum pp_export_col c);  /* "Service": the Markdown header */
/* The state word the record and `list` use: invalid, disabled, expired, enabled. */
const char *pp_export_state(const struct pp_mapping *m, time_t now);
/* Whether any source may connect, each family judged on its own traffic. */
bool pp_export_allow_any(const struct pp_mapping *m);
/* "any" (no allow, or 0.0.0.0/0 in it) or the CIDRs comma-separated. Caller frees. */
char *pp_export_allow(const struct pp_mapping *m);
/* The IPv6 sources of m: "" (no IPv6), "any", "none (allow lists IPv4 sources only)" or the CIDRs. */
char *pp_export_allow6(const struct pp_mapping *m);
/* The public address for the record (see public_ip above). */
void pp_export_public_ip(const struct pp_table *t, char out[16]);

/* The whole record of t (x keeps pointers into t: free x before t). */
void pp_export_make(const struct pp_table *t, time_t now, struct pp_export *x);
/* One mapping's row (the TUI's detail screen), with the record's public address. */
void pp_export_row_of(const struct pp_mapping *m, const char *public_ip, time_t now, struct pp_export_row *r);
/* Its IPv6 cells, which need the table (a host id goes on [site] lan_interface's prefix). */
void pp_export_row_ip6(const struct pp_table *t, const struct pp_mapping *m, struct pp_export_row *r);
void pp_export_row_free(struct pp_export_row *r);
void pp_export_free(struct pp_export *x);
/* t's record in format (md, csv or json) to the file path (created or replaced, never through a
   link) or, path NULL, to `to`. 0, or -1 with err naming the file and why (the fix when known). */
int pp_export_write(const struct pp_table *t, const char *format, const char *path, FILE *to, time_t now,
                    struct pp_error *err);

#endif
