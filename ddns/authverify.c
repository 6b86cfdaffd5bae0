/* The updater's verification of a record at its zone's authoritative servers, for callers
 * outside ddns/: portpilot monitor asks it when a published name resolves elsewhere, to say
 * whether the provider's record or only a resolver's cache is wrong. */
#include <stdlib.h>

#include "ddns-internal.h"

int
pp_ddns_auth_verify(const struct pp_ddns_conf *dc, const char *host, const char *addr, char *detail,
                    size_t n)
{
	char *zone = ddns_zone_of(dc, host);
	int rc = ddns_auth_check(zone, host, addr, detail, n);

	free(zone);
	return rc;
}
