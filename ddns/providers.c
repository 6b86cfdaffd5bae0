/* The provider table: what each provider is called, needs and sends; the dispatch to it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ddns-internal.h"

/*
 * One row a provider, in the order of enum pp_ddns_provider's names (the row's
 * index is the provider); a new provider is appended. conf-ddns.c checks a
 * section against its row, updater.c sends through it, the cleartext warning
 * reads which secret goes where.
 */
const struct ddns_provider ddns_providers[] = {
	{ "dyndns2", ddns_dyndns2, "members.dyndns.org", DDNS_NEEDS_SERVER | DDNS_NEEDS_CREDS,
	  "the password (HTTP Basic auth)", NULL },
	{ "duckdns", ddns_duckdns, "www.duckdns.org", DDNS_NEEDS_CREDS, "the token (in the URL)", NULL },
	{ "cloudflare", ddns_cloudflare, "api.cloudflare.com/client/v4", DDNS_NEEDS_CREDS,
	  "the API token (Authorization header)", NULL },
	/* Only a template that carries a secret sends one (see cleartext()). */
	{ "custom", ddns_custom, NULL, DDNS_NEEDS_URL, "the credentials in url", NULL },
	/* TSIG signs the update; the key itself is never sent. */
	{ "nsupdate", ddns_nsupdate, NULL, DDNS_NEEDS_SERVER | DDNS_CHECKS_ITSELF, NULL, NULL },
	{ "gandi", ddns_gandi, "api.gandi.net/v5/livedns", DDNS_NEEDS_CREDS,
	  "the personal access token (Authorization header)", ddns_gandi_check },
};
const size_t ddns_nproviders = sizeof ddns_providers / sizeof ddns_providers[0];

const struct ddns_provider *
ddns_provider_of(const struct pp_ddns_conf *dc)
{
	return &ddns_providers[dc->provider];
}

const char *
pp_provider_name(enum pp_ddns_provider p)
{
	return (size_t)p < ddns_nproviders ? ddns_providers[p].name : "?";
}

const char *
ddns_provider_list(void)
{
	static char list[256];

	if (list[0] == '\0')
		for (size_t i = 0; i < ddns_nproviders; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? " | " : "",
			         ddns_providers[i].name);
	return list;
}

void
ddns_provider_update(struct ddns_job *j)
{
	const struct ddns_provider *p = ddns_provider_of(j->dc);

	j->detail[0] = '\0';
	j->api = p->api;
	p->update(j);
}

/* "http://HOST[:PORT]" of an http:// URL, without path, query or user info; false for others. */
static bool
http_host(const char *url, char *out, size_t n)
{
	if (url == NULL || strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + 7;
	size_t len = strcspn(h, "/?#");
	const char *at = memchr(h, '@', len);
	if (at) {
		len -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	snprintf(out, n, "http://%.*s", (int)len, h);
	return true;
}

/* Where dc's secret goes (a URL), NULL when it sends none; key names the setting that says so. */
static char *
secret_url(const struct pp_ddns_conf *dc, const struct ddns_provider *p, const char **key)
{
	*key = "server";
	if (p->secret == NULL)
		return NULL;
	if (!(p->needs & DDNS_NEEDS_URL))
		return ddns_base_url(dc->server, p->api ? p->api : "");
	*key = "url";
	if (dc->url && (strstr(dc->url, "{password}") || strstr(dc->url, "{token}") ||
	                strstr(dc->url, "{username}")))
		return pp_xstrdup(dc->url);
	return NULL;
}

bool
ddns_cleartext_secret(const struct pp_ddns_conf *dc, const struct pp_conf *conf, char *out, size_t n)
{
	const struct ddns_provider *p = ddns_provider_of(dc);
	char host[200];
	const char *key;
	char *base = secret_url(dc, p, &key);
	bool clear = base && http_host(base, host, sizeof host);

	free(base);
	if (clear) {
		snprintf(out, n, "%s goes to %s in clear: anyone on the path can read it; write https:// "
		         "in %s of the section at %s:%d", p->secret, host, key, conf ? conf->path : "portpilot.conf",
		         dc->line);
		return true;
	}
	/* ip_source = reflector sends the [probe] token to the reflector, like the probe does. */
	if (conf && dc->ip_source == PP_IPSRC_REFLECTOR && conf->probe.token_file &&
	    http_host(conf->probe.reflector, host, sizeof host)) {
		snprintf(out, n, "the reflector token goes to %s in clear (ip_source = reflector): anyone on "
		         "the path can read it; write https:// in [probe] reflector of %s", host, conf->path);
		return true;
	}
	return false;
}
