/* portpilot.conf: the [ddns NAME] sections and [probe], read with libiniparser. */
#ifndef PORTPILOT_CONF_H
#define PORTPILOT_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "portpilot/error.h"

/*
 * A provider is its row in ddns/providers.c's table: this is the row's
 * index. The names below are the first rows', for code that compares; a
 * new provider needs a row there, not a name here.
 */
enum pp_ddns_provider {
	PP_PROV_DYNDNS2,
	PP_PROV_DUCKDNS,
	PP_PROV_CLOUDFLARE,
	PP_PROV_CUSTOM,
	PP_PROV_NSUPDATE,
};

enum pp_ip_source {
	PP_IPSRC_AUTO,       /* WAN interface when public, else the echo services */
	PP_IPSRC_INTERFACE,  /* WAN interface only */
	PP_IPSRC_WEB,        /* echo services only */
	PP_IPSRC_REFLECTOR,  /* GET /v1/whoami of the [probe] reflector (token_file if set) */
	PP_IPSRC_RELAY,      /* the edge's address: the table's [site] relay (issue 17) */
};

/* One [ddns NAME] section. Strings are owned by the pp_conf; NULL when absent. */
struct pp_ddns_conf {
	char *name;                  /* NAME of [ddns NAME] */
	int line;                    /* line of the section header */
	enum pp_ddns_provider provider;
	char *server;                /* dyndns2/duckdns/cloudflare: host or URL; nsupdate: DNS server[:port] */
	char **hosts;                /* hostname, split on commas */
	size_t nhosts;
	char *credentials_file;      /* mode 0600; see pp_creds_load() */
	enum pp_ip_source ip_source;
	char **checkip;              /* echo service URLs, in order of preference */
	size_t ncheckip;
	bool ipv6;                   /* also publish the interface's stable global IPv6 address */
	char *ca_file;               /* extra CA bundle for HTTPS */
	char *interface;             /* WAN interface to read the address from and watch */
	char *zone;                  /* cloudflare / nsupdate zone (default: host minus first label) */
	char *url;                   /* custom: URL template, see ddns.h */
	char *success;               /* custom: a line the answer must hold, else it failed */
	int ttl;                     /* nsupdate record TTL, default 300 */
	int interval;                /* polling backstop in seconds, default 300 */
	unsigned long long hash;     /* of every value above: a change re-enables a stopped host */
	/* A LAN server's AAAA instead of the router's (issue 15): the LAN's current prefix + a host id. */
	char *hostid6;               /* hostid6 = ::1:101, as written (checked: a host id) */
	char *mapping;               /* mapping = NAME: that table mapping's internal_ip6 */
	char *lan_interface;         /* where the prefix is read; NULL: the table's [site] lan_interface */
	int mapping_line;            /* of mapping =, 0 when absent (set by core/conf.c) */
};
/* dc publishes a LAN server's AAAA (hostid6 = or mapping =), not the router's. */
bool pp_ddns_is_service6(const struct pp_ddns_conf *dc);

/*
 * [probe]: only the keys the probe needs; more keys are allowed there and
 * can be read with pp_conf_get(conf, "probe", key).
 */
struct pp_probe_conf {
	bool present;                /* the section exists */
	int line;
	char *reflector;             /* URL of the outside-check reflector */
	char *token_file;            /* mode 0600, like credentials */
	char *ca_file;               /* extra CA for an https reflector with a private CA */
	char *reflector6;            /* URL of a reflector's IPv6 address: the IPv6 way in from outside */
};

struct pp_conf {
	char *path;
	struct pp_ddns_conf *ddns;
	size_t nddns;
	struct pp_probe_conf probe;
	void *dict;                  /* libiniparser's dictionary, for pp_conf_get() */
};

/*
 * Load and validate. Returns -1 with err = "FILE:LINE: what is wrong; fix"
 * for the first problem. A missing file is an empty config when missing_ok.
 */
int pp_conf_load(const char *path, bool missing_ok, struct pp_conf **out, struct pp_error *err);
void pp_conf_free(struct pp_conf *c);

/* Raw value of key in [section] ("probe", "ddns home"), NULL if absent. */
const char *pp_conf_get(const struct pp_conf *c, const char *section, const char *key);

const struct pp_ddns_conf *pp_conf_ddns_find(const struct pp_conf *c, const char *name);
const char *pp_provider_name(enum pp_ddns_provider p);
const char *pp_ip_source_name(enum pp_ip_source s);

/*
 * Credentials (and the reflector token) live in their own file, mode 0600,
 * as key=value lines: username=, password=, token=, key_name=,
 * key_algorithm=, key_secret=. The file is refused when group or others
 * may read it; err then says which chmod/chown fixes it. Values are never
 * copied into error messages.
 */
struct pp_creds {
	char *username, *password, *token;
	char *key_name, *key_algorithm, *key_secret;   /* TSIG for nsupdate */
	unsigned long long hash;     /* of the file's bytes: detects a change */
};
int pp_creds_load(const char *path, struct pp_creds *out, struct pp_error *err);
/*
 * A secret file (credentials, a token, a TLS key) read whole, NUL-terminated:
 * a regular file of root or this user that nobody else may read. It is
 * opened once and the descriptor read is the one judged (no stat-then-open
 * race); a FIFO in its place cannot hang the reader. WHAT names the file in
 * errors ("token file"). *len (may be NULL) gets the length.
 */
char *pp_secret_read(const char *path, const char *what, size_t *len, struct pp_error *err);
/* Wipes the secrets before freeing them. */
void pp_creds_free(struct pp_creds *c);

/*
 * ---- section readers outside core ----
 * core scans the file; a subsystem reads its own sections' keys through
 * these (ddns/conf-ddns.c reads [ddns NAME]). Errors name file, line,
 * section and key, like core's own.
 */
struct pp_conf_sec {
	const char *path;            /* the file, for messages */
	const char *name;            /* "ddns home": trimmed, lower case */
	int line;                    /* of the section header */
	unsigned long long *hash;    /* every value read is hashed in here; NULL: not */
	const void *src;             /* core's: the dictionary and the keys' lines */
	struct pp_error *err;
};
/* The value of key, NULL when absent or empty. */
const char *pp_conf_sec_get(const struct pp_conf_sec *s, const char *key);
/* -1 with err = "FILE:LINE: [SECTION] KEY: WHAT", LINE the key's (else the header's). */
int pp_conf_sec_bad(const struct pp_conf_sec *s, const char *key, const char *what);
/* An integer from lo to hi, def when absent; -1 (pp_conf_sec_bad) otherwise. */
int pp_conf_sec_int(const struct pp_conf_sec *s, const char *key, int def, int lo, int hi, int *out);
/* -1 for the first key of the section not in known (NULL-terminated); list names them for the fix. */
int pp_conf_sec_unknown(const struct pp_conf_sec *s, const char *const *known, const char *list);
/* "a, b ,c": trimmed, non-empty items. Caller frees each and the vector. */
char **pp_conf_split_list(const char *s, size_t *n);
/* ddns/conf-ddns.c: fills dc from its section (dc->name and dc->line are set); -1 with s->err. */
int pp_ddns_conf_read(const struct pp_conf_sec *s, struct pp_ddns_conf *dc);
void pp_ddns_conf_free(struct pp_ddns_conf *dc);

/* FNV-1a 64, for change detection (not for secrecy). */
unsigned long long pp_hash64(unsigned long long h, const void *p, size_t n);
#define PP_HASH64_INIT 0xcbf29ce484222325ULL

#endif
