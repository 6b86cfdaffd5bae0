/* Inside ddns/: the HTTP helper, providers, address sources and logging. */
#ifndef PORTPILOT_DDNS_INTERNAL_H
#define PORTPILOT_DDNS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "portpilot/ddns.h"
#include "portpilot/util.h"

/* Providers ask for a User-Agent that names the client, its version and a contact. */
#define DDNS_USER_AGENT "portpilot/" PP_VERSION " (site router DDNS updater; contact: portpilot maintainers, see man portpilot)"

#define DDNS_MAX_HEADERS 4

struct ddns_http_req {
	const char *method;          /* NULL: GET, or POST when body is set */
	const char *url;             /* may hold secrets: never log it, log a redacted copy */
	const char *user, *password; /* HTTP Basic when user is set */
	const char *headers[DDNS_MAX_HEADERS];
	const char *body;
	const char *ca_file;
	long timeout;
};

/* Provider and echo answers are a few lines: a longer one is refused (PP_DC_TOOLARGE). */
#define DDNS_BODY_MAX 65536

struct ddns_http_resp {
	long status;                 /* 0 when no HTTP answer came */
	struct pp_buf body;
	bool too_large;              /* cut off: the answer had more than DDNS_BODY_MAX bytes */
	char error[256];             /* transport error (connection, TLS, too large) */
	char outcome[280];           /* for logs: "HTTP 200" or the transport error */
};

int ddns_http(const struct ddns_http_req *rq, struct ddns_http_resp *rs);
/*
 * True, with the warning's text in out, when a secret of dc (Basic-auth
 * password, token, the [probe] reflector token) would go to an http:// URL.
 * conf (may be NULL) names the file and the [probe] section.
 */
bool ddns_cleartext_secret(const struct pp_ddns_conf *dc, const struct pp_conf *conf, char *out, size_t n);
/* ddns_log(DDNS_WARN) of ddns_cleartext_secret for each section (only: NULL or one name). */
void ddns_warn_cleartext(const struct pp_conf *conf, const char *only);
/* The code of a request that got no usable answer: too large, else network. */
enum pp_ddns_code ddns_http_fail_code(const struct ddns_http_resp *rs);
void ddns_http_resp_free(struct ddns_http_resp *rs);
char *ddns_urlenc(const char *s);

/* One update request: hosts of one section, to addr4 (and addr6 when set). */
struct ddns_job {
	const struct pp_ddns_conf *dc;
	const struct pp_creds *cr;
	const char **hosts;
	size_t n;
	const char *addr4, *addr6;
	enum pp_ddns_code *codes;    /* out: one per host */
	bool *proxied;               /* out, one per host, may be NULL: public DNS shows the
	                                provider's proxy, not addr (Cloudflare "proxied") */
	char detail[512];            /* out: what was sent and answered, secrets redacted */
	const char *api;             /* the provider's default server (its row's api), set by
	                                ddns_provider_update() */
};

/*
 * The providers: one row each in ddns/providers.c, the update function in a
 * file of its own (provider-*.c). A new provider is that file and one row.
 */
enum {
	DDNS_NEEDS_SERVER = 1 << 0,  /* server = is required: no default host */
	DDNS_NEEDS_CREDS = 1 << 1,   /* credentials_file = is required */
	DDNS_NEEDS_URL = 1 << 2,     /* url = is the request (required); success = may name the answer line */
	DDNS_CHECKS_ITSELF = 1 << 3, /* the update checks itself: no authoritative-server check after it */
};
struct ddns_provider {
	const char *name;            /* provider = NAME */
	void (*update)(struct ddns_job *j);
	const char *api;             /* where requests go without server = (host or URL); NULL: none */
	unsigned needs;
	const char *secret;          /* the secret that goes to the server, for the cleartext
	                                warning ("the token (in the URL)"); NULL: none is sent */
	/* Checks of this provider's own beyond needs, NULL when none: -1 with pp_conf_sec_bad(). */
	int (*check)(const struct pp_conf_sec *s, const struct pp_ddns_conf *dc);
};
extern const struct ddns_provider ddns_providers[];
extern const size_t ddns_nproviders;
/* The row of dc's provider. */
const struct ddns_provider *ddns_provider_of(const struct pp_ddns_conf *dc);
/* "dyndns2 | duckdns | ...": every provider, for messages. */
const char *ddns_provider_list(void);

void ddns_provider_update(struct ddns_job *j);
void ddns_dyndns2(struct ddns_job *j);
void ddns_duckdns(struct ddns_job *j);
void ddns_cloudflare(struct ddns_job *j);
void ddns_custom(struct ddns_job *j);
void ddns_nsupdate(struct ddns_job *j);
void ddns_gandi(struct ddns_job *j);
int ddns_gandi_check(const struct pp_conf_sec *s, const struct pp_ddns_conf *dc);

/* What every HTTP provider answers with for all of a job's hosts (provider-common.c). */
void ddns_job_all(struct ddns_job *j, enum pp_ddns_code c);
/* Transport failure or an HTTP status with no parseable body: rc is ddns_http()'s. */
void ddns_job_http_fail(struct ddns_job *j, const struct ddns_http_resp *rs, int rc);

/* The frame of a REST API provider with a bearer token (Cloudflare, Gandi). */
struct ddns_api {
	struct ddns_job *j;
	char *base;                  /* the API's URL: server =, else the row's api */
	char *auth;                  /* "Authorization: Bearer TOKEN": wiped when done */
	struct pp_buf det;           /* what was sent and answered, for j->detail */
};
/* One request, told in det ("METHOD URL -> outcome": URLs carry no secret here); ddns_http()'s rc. */
int ddns_api_call(struct ddns_api *a, const char *method, const char *url, const char *body,
                  struct ddns_http_resp *rs);
/* A request whose answer means its HTTP status alone: that code (transport failures too). */
enum pp_ddns_code ddns_api_status(struct ddns_api *a, const char *method, const char *url, const char *body);
/* Set the frame up, j->codes[i] = one(a, i) for each host, fill j->detail, wipe the token. */
void ddns_api_each(struct ddns_job *j, enum pp_ddns_code (*one)(struct ddns_api *a, size_t i));

/* "https://server/path": server may be a bare host or a URL; http only when written. */
char *ddns_base_url(const char *server, const char *def_host);
/* The zone of host: dc->zone, else host minus its first label. Caller frees. */
char *ddns_zone_of(const struct pp_ddns_conf *dc, const char *host);

/*
 * What one echo service (or reflector) last answered, and when it was asked:
 * STATE_DIR/echo-services.state, shared by every section, so that sections with
 * the same checkip list still ask each service at most every PP_DDNS_ECHO_MIN.
 */
struct ddns_echo_seen {
	char *url;
	time_t asked;
	char addr[46];               /* "" when it gave no usable answer */
};
struct ddns_echo_cache {
	struct ddns_echo_seen *v;
	size_t n;
};
/* Missing file: an empty cache. */
int ddns_echo_cache_load(const char *dir, struct ddns_echo_cache *c, struct pp_error *err);
int ddns_echo_cache_save(const char *dir, const struct ddns_echo_cache *c, struct pp_error *err);
void ddns_echo_cache_free(struct ddns_echo_cache *c);
/* The entry for url, created (never asked) when missing. */
struct ddns_echo_seen *ddns_echo_cache_get(struct ddns_echo_cache *c, const char *url);

/* Where to learn the public address from, for one section. */
struct ddns_addr_in {
	const struct pp_ddns_conf *dc;
	struct pp_ddns_state *st;    /* the address the echo services last agreed on lives here */
	struct ddns_echo_cache *cache; /* what each service said, and when */
	const char *const *urls;     /* echo services (checkip, or the reflector's endpoint) */
	size_t nurls;
	const char *reflector;       /* ip_source = reflector: its URL (urls unused) */
	const char *reflector_token; /* NULL when it needs none */
	const char *table_path;      /* ip_source = relay: the table whose [site] relay names the edge */
	time_t now;
	/* Tests and the simulation answer for the echo services: 0 with out filled, or -1. */
	int (*echo_hook)(void *ctx, const char *url, char out[16]);
	void *hook_ctx;
};

struct ddns_addr {
	char v4[46];                 /* address to publish, "" if none */
	char v6[46];                 /* stable global IPv6 of the interface when ipv6 = yes */
	char wan[46];                /* WAN interface address, "" if unknown */
	char echo[46];               /* what the echo services agree on, "" if not asked */
	char verdict[512];           /* CGNAT / double NAT / disagreement, in plain words */
	int echo_requests;           /* requests sent to echo services in this call */
};

void ddns_find_addr(const struct ddns_addr_in *in, struct ddns_addr *r);
/*
 * hostid6 = / mapping = (ddns/service6.c): the LAN server's address now, its host id on the LAN's
 * current prefix (lan_interface =, else the table's [site] lan_interface) or the mapping's
 * internal_ip6. 0 with out, -1 with why (what is missing and the fix).
 */
int ddns_service_v6(const struct pp_ddns_conf *dc, const char *table_path, char out[46], char *why, size_t n);

/*
 * Ask the DNS server at server:port (IPv4 literal) for host's A (or AAAA)
 * record, without recursion. 1 with out filled, 0 for NXDOMAIN or no such
 * record, -1 when no usable answer came.
 */
int ddns_dns_query(const char *server, int port, const char *host, bool v6, char *out, size_t outlen);

/*
 * Parse a DNS answer to query id for an A (or AAAA) record: 1 with out
 * filled, 0 for NXDOMAIN or no such record, -1 for a malformed answer, an
 * error rcode, or (need_aa) one that is not authoritative.
 */
int ddns_dns_parse_addr(const unsigned char *m, size_t len, uint16_t id, bool v6, bool need_aa,
                        char *out, size_t outlen);

struct ddns_ns {
	char name[256];              /* server name, lower-case, no final dot */
	char addr[16];               /* IPv4 from glue, "" if none came */
};
/* Parse an answer to an NS query: number of servers (0: NXDOMAIN or none), -1 when malformed. */
int ddns_dns_parse_ns(const unsigned char *m, size_t len, uint16_t id, struct ddns_ns *ns, int max);

/*
 * Ask the authoritative servers of zone (found through the resolvers of
 * /etc/resolv.conf, or of $PORTPILOT_RESOLV_CONF) what host's A record (AAAA
 * when addr is IPv6) is:
 * 1 when one of them serves addr, 0 when they answer NXDOMAIN or another
 * address, -1 when no authoritative answer could be had. detail says which.
 */
int ddns_auth_check(const char *zone, const char *host, const char *addr, char *detail, size_t dlen);

/* Cloudflare API answers (minimal JSON walker): does the body say "success": true? */
bool ddns_cf_success(const char *body);
/* result[0].field of a list answer as a string, NULL when absent. Caller frees. */
char *ddns_cf_first(const char *body, const char *field);
/* Is result[0].field the JSON literal true? */
bool ddns_cf_first_true(const char *body, const char *field);
/* What an API answer means: HTTP status, then "success" for 2xx. */
enum pp_ddns_code ddns_cf_answer(long status, const char *body);

/* journald-friendly lines on stderr: "<prio>" prefix under systemd, plain otherwise. */
enum { DDNS_ERR = 3, DDNS_WARN = 4, DDNS_NOTICE = 5, DDNS_INFO = 6, DDNS_DEBUG = 7 };
void ddns_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern bool ddns_quiet;        /* --once --json: keep stdout/stderr for the report */

#endif
