/* The mapping table: model, INI load, validation, comment-preserving save. */
#ifndef PORTPILOT_TABLE_H
#define PORTPILOT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "portpilot/error.h"

#define PP_DEFAULT_TABLE "/etc/portpilot/mappings.ini"
#define PP_DEFAULT_CONF  "/etc/portpilot/portpilot.conf"
#define PP_DEFAULT_STATE "/var/lib/portpilot"

enum pp_proto { PP_TCP = 1, PP_UDP = 2, PP_BOTH = 3 };

/* The keys of a mapping section, in the order they are written for a new one. */
enum pp_field {
	PP_F_DESCRIPTION,
	PP_F_PROTOCOL,
	PP_F_PUBLIC_PORT,
	PP_F_INTERNAL_IP,
	PP_F_INTERNAL_PORT,
	PP_F_ALLOW,
	PP_F_ENABLED,
	PP_F_OWNER,
	PP_F_PURPOSE,
	PP_F_EXPIRES,
	PP_F_MASQUERADE,                  /* SNAT the forwarded traffic to the router's LAN address */
	/* The health check (portpilot monitor); see pp_check_kind. */
	PP_F_CHECK,
	PP_F_CHECK_PATH,
	PP_F_CHECK_EXPECT,
	PP_F_CHECK_SEND,
	PP_F_CHECK_TIMING,
	PP_F_HAIRPIN,                     /* yes | no: overrides [site] hairpin for this mapping */
	/* IPv6 (include/portpilot/ipv6.h): a pinhole to the server's own global address. */
	PP_F_IPV6,                        /* yes | no | only (default: yes when internal_ip6 is set) */
	PP_F_INTERNAL_IP6,                /* a full address, or a host id (::1:101) on the LAN's prefix */
	PP_F_NAT66,                       /* yes | no: a DNAT on the router's own IPv6 address instead of a pinhole */
	PP_F__COUNT
};

/* hairpin = on a mapping; zeroed memory is the site's default. */
enum pp_hairpin { PP_HP_SITE, PP_HP_YES, PP_HP_NO };

/* One element of a port list: public ports and the internal ports they map to. */
struct pp_port_pair {
	uint16_t pub_lo, pub_hi, in_lo, in_hi;
};
#define PP_PORT_LIST_MAX 32               /* elements in one public_port list */
#define PP_PORT_LIST_TEXT 400             /* room for such a list as text: 32 x "65535-65535," */

/* The keys of [site]. */
enum pp_site_field {
	PP_S_NAME,
	PP_S_WAN_INTERFACE,
	PP_S_LAN_INTERFACE,
	PP_S_LAN_SUBNET,
	PP_S_PUBLIC_IP,
	PP_S_HAIRPIN,
	PP_S_BACKEND,                     /* auto | iptables | nftables (core/backend.c) */
	/* The relay through an edge host (include/portpilot/relay.h). */
	PP_S_RELAY,
	PP_S_RELAY_PUBLIC_KEY,
	PP_S_RELAY_ADDRESS,
	PP_S_RELAY_MAPPINGS,
	PP_S_RELAY_KEEPALIVE,
	PP_S_RELAY_INTERFACE,
	PP_S__COUNT
};

/* check = ...: how the monitor tests the service; DEFAULT picks one from the internal port. */
enum pp_check_kind {
	PP_CK_DEFAULT, PP_CK_TCP, PP_CK_UDP, PP_CK_HTTP, PP_CK_HTTPS, PP_CK_RTSP, PP_CK_SIP,
	PP_CK_TLS, PP_CK_NONE
};

/* check_timing = interval=S, timeout=S|MSms, fail_after=N, recover_after=N; 0 = inherit. */
struct pp_check_timing {
	int interval_s, timeout_ms, fail_after, recover_after;
};

struct pp_cidr {
	uint32_t addr; /* host order, already masked */
	uint8_t len;
};

/* An IPv6 network (allow) or address (len 128); addr in network order, host bits clear. */
struct pp_cidr6 {
	uint8_t addr[16];
	uint8_t len;
};

/* ipv6 = ...: NO nothing over IPv6, YES both families, ONLY IPv6 (no IPv4 DNAT). */
enum pp_ipv6_mode { PP_V6_NO, PP_V6_YES, PP_V6_ONLY };

struct pp_mapping {
	char *name;                       /* section name as written */
	char *val[PP_F__COUNT];           /* raw values (libiniparser's reading), NULL if absent */
	int line;                         /* line of the [section] header */
	int key_line[PP_F__COUNT];        /* line of each key, 0 if absent */
	unsigned bad;                     /* bit per field whose value does not parse */

	/* Parsed values; meaningful for fields not marked bad. */
	enum pp_proto proto;              /* default tcp */
	uint16_t pub_lo, pub_hi;          /* public port or range */
	uint16_t in_lo, in_hi;            /* internal port or range (default: public) */
	uint32_t internal_ip;             /* host order, 0 if unset */
	struct pp_cidr *allow;            /* empty list = any source */
	size_t nallow;
	bool enabled;                     /* default yes */
	time_t expires;                   /* 0 = never */
	bool masquerade;                  /* default no: the server sees the client's own address */
	enum pp_check_kind check;         /* default: from the internal port (probe/monitor-proto.c) */
	struct pp_check_timing timing;    /* per-mapping overrides of [monitor] */
	enum pp_hairpin hairpin;          /* default: the site's */
	/* public_port = 80,443 (a list): pub_lo/pub_hi and in_lo/in_hi hold the first element, these
	 * the others; internal_port is left out (the same ports) or a list as long, element by element. */
	struct pp_port_pair *more_pub;    /* pub_* of elements 2.. (in_* unused) */
	size_t nmore_pub;
	struct pp_port_pair *more_in;     /* internal_port's elements 2.. (in pub_* and in_* alike) */
	size_t nmore_in;
	/* IPv6 (appended: positional initializers elsewhere stay valid). */
	enum pp_ipv6_mode ipv6;           /* default NO, YES when internal_ip6 is given */
	uint8_t internal_ip6[16];         /* the full address, or the host id when ip6_hostid */
	bool ip6_hostid;                  /* internal_ip6 is a host id: its high 64 bits are zero */
	struct pp_cidr6 *allow6;          /* the IPv6 part of allow (the IPv4 part stays in allow) */
	size_t nallow6;
	bool nat66;                       /* nat66 = yes: NAT66 even when the ports are the same */
};

struct pp_site {
	char *val[PP_S__COUNT];
	int line;                         /* of [site], 0 if absent */
	int key_line[PP_S__COUNT];
	unsigned bad;
	uint32_t public_ip;               /* 0 = auto */
	bool hairpin;
	bool has_lan_subnet;              /* from lan_subnet, else the LAN interface */
	struct pp_cidr lan_subnet;
};

enum pp_sev { PP_WARNING, PP_ERROR };

struct pp_finding {
	enum pp_sev sev;
	int line;                         /* 0 when not tied to a line */
	char *mapping;                    /* NULL for file-level findings */
	char *field;                      /* key name, NULL if none */
	char *what;                       /* what is wrong */
	char *fix;                        /* what to do */
	char *file;                       /* NULL: the table's; else the file the line is in (portpilot.conf) */
};

struct pp_findings {
	struct pp_finding *v;
	size_t n, cap;
};

struct pp_table {
	char *path;
	struct pp_site site;
	struct pp_mapping *maps;
	size_t n, cap;
	struct pp_findings parse;         /* syntax, unknown keys, duplicate sections */
	char *text;                       /* the file's text with this session's edits */
	size_t text_len;
	char *loaded;                     /* file bytes as loaded, to detect changes on disk */
	size_t loaded_len;
	bool existed;                     /* the file was there when loaded */
	bool dirty;
	void *journal;                    /* this session's edits since the last save (table-merge.c) */
};

/* Field names and lookups. */
const char *pp_field_name(enum pp_field f);
int pp_field_lookup(const char *key);            /* -1 if unknown */
const char *pp_site_field_name(enum pp_site_field f);
const char *pp_proto_name(enum pp_proto p);
const char *pp_check_kind_name(enum pp_check_kind k);
/* Parse check_timing's text into t (fields not given stay 0); -1 with err = what + fix. */
int pp_check_timing_parse(const char *s, struct pp_check_timing *t, struct pp_error *err);
/* Decode check_send / check_expect escapes (\\ \n \r \t \0 \xNN) into *out (NUL-terminated, caller
 * frees), length in *len; -1 with err when an escape is malformed. */
int pp_check_unescape(const char *s, char **out, size_t *len, struct pp_error *err);
/* The check a mapping gets (core/table-checkkeys.c): its check key, else from the internal port
 * (554/8554 rtsp, 5060 sip, 443/8443 https, 80/8080/8000/8008 http, a UDP-only mapping
 * without check_send: none, else tcp). */
enum pp_check_kind pp_check_kind_for(const struct pp_mapping *m);
/* The check keys that do not fit the check or the mapping (check = udp without check_send,
 * check_expect on a tls check, ...): field and "what; fix", for check and monitor alike. */
#define PP_CHECK_MISFITS_MAX 8
struct pp_check_misfit {
	enum pp_field field;
	const char *msg;
};
size_t pp_check_misfits(const struct pp_mapping *m, struct pp_check_misfit out[PP_CHECK_MISFITS_MAX]);

/*
 * Load a table. Returns -1 only when the file cannot be read (err says why);
 * problems inside the file are findings, see pp_table_check().
 * A missing file loads as an empty table when missing_ok is set.
 */
int pp_table_load(const char *path, bool missing_ok, struct pp_table **out, struct pp_error *err);
/* Same, from bytes in memory (tests, fuzzing); path is used in messages. */
int pp_table_load_mem(const char *path, const char *text, size_t len,
                      struct pp_table **out, struct pp_error *err);
void pp_table_free(struct pp_table *t);

struct pp_mapping *pp_table_find(const struct pp_table *t, const char *name);

/* A mapping the backend should render: enabled, not expired, no errors. */
bool pp_mapping_expired(const struct pp_mapping *m, time_t now);
bool pp_mapping_active(const struct pp_mapping *m, time_t now);

/* Port pairs of m: 1 + nmore_pub; pair i as rendered (internal ports: internal_port's element i, or
 * the public ports when internal_port is left out). */
static inline size_t pp_mapping_nports(const struct pp_mapping *m) { return 1 + m->nmore_pub; }
struct pp_port_pair pp_mapping_port(const struct pp_mapping *m, size_t i);
/* "80,443" / "10000-10099": the public (or internal) ports as written back. */
void pp_mapping_format_ports(const struct pp_mapping *m, bool internal, char *out, size_t n);
/* The mapping's hairpin after its own hairpin = and the site's. */
bool pp_mapping_hairpin(const struct pp_site *s, const struct pp_mapping *m);
/* Free what parsing put in m besides the values (allow list, port lists); for scratch mappings. */
void pp_mapping_parsed_free(struct pp_mapping *m);

/* Parse one value into m (or site); -1 with err = what is wrong + fix. */
int pp_mapping_parse_field(struct pp_mapping *m, enum pp_field f, const char *text,
                           struct pp_error *err);

/*
 * Validate: every malformed or missing value, duplicate sections, port
 * conflicts, internal IPs outside the LAN, sensitive services open to all,
 * expired mappings. now is the clock for `expires`.
 */
void pp_table_check(const struct pp_table *t, time_t now, struct pp_findings *out);
/*
 * The portpilot.conf whose [ddns NAME] mapping = lines pp_table_check() holds
 * against the table: a name the table has no [NAME] of is an error at the
 * conf's line (so check, apply and every save refuse it alike). main.c sets
 * it to -c; NULL (the default) checks none. A conf that does not load is
 * `ddns`'s to report, not the table's: then nothing is added.
 */
void pp_table_check_conf(const char *conf_path);

/*
 * Edits through the core keep the file's comments, blank lines and key
 * order: only the touched lines change. value NULL removes the key.
 */
int pp_table_set(struct pp_table *t, const char *name, const char *key, const char *value,
                 struct pp_error *err);
/* Several keys of one mapping at once, with one re-read; all or nothing. */
struct pp_kv {
	const char *key, *value;
};
int pp_table_set_many(struct pp_table *t, const char *name, const struct pp_kv *kv, size_t n,
                      struct pp_error *err);
int pp_table_add(struct pp_table *t, const char *name, struct pp_error *err);
int pp_table_del(struct pp_table *t, const char *name, struct pp_error *err);
int pp_table_rename(struct pp_table *t, const char *name, const char *newname,
                    struct pp_error *err);
/* The file's text as it would be saved now. Caller frees. */
char *pp_table_text(const struct pp_table *t, size_t *len);

/*
 * Save atomically (temp file in the same directory, fsync, rename), keeping
 * the previous version as FILE.bak, under the lock FILE.lock. When the file
 * changed on disk since it was loaded, this session's edits are made again on
 * what is there now, unless another editor changed the same keys (or the
 * merge would add errors): then nothing is written and err says what
 * collided (reload). lock_wait_ms bounds the wait for another editor's lock.
 * A symlinked FILE is edited in its target's place. Temporary files left by a
 * killed save (FILE.tmp-PID-*, PID dead) are removed.
 */
int pp_table_save(struct pp_table *t, int lock_wait_ms, struct pp_error *err);

/* Findings. */
void pp_findings_add(struct pp_findings *fs, enum pp_sev sev, int line, const char *mapping,
                     const char *field, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
size_t pp_findings_count(const struct pp_findings *fs, enum pp_sev sev);
void pp_findings_sort(struct pp_findings *fs);
void pp_findings_print(FILE *f, const char *path, const struct pp_findings *fs);
void pp_findings_json(FILE *f, const char *path, const struct pp_findings *fs);
void pp_findings_free(struct pp_findings *fs);

/* Well-known ports that must not be open to everyone. NULL if not sensitive. */
const char *pp_sensitive_service(uint16_t lo, uint16_t hi, enum pp_proto proto);

#endif
