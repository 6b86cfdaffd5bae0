/* The documentation record as rows of strings, and written as md, csv or json (export, the TUI's export). */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "portpilot/export.h"
#include "portpilot/ipv6.h"
#include "portpilot/util.h"

static const char *const keys[PP_X__COUNT] = {
	"service", "mapping", "public_ip", "public_port", "internal_ip", "internal_port", "protocol", "allow",
	"purpose", "owner", "state", "ipv6",
	"ipv6_mode", "internal_ip6", "ipv6_host_id", "ipv6_way", "allow6",
};
static const char *const titles[PP_X__COUNT] = {
	"Service", "Mapping", "Public IP", "Public port", "Internal IP", "Internal port", "Protocol",
	"Allowed sources", "Purpose", "Owner", "State", "IPv6 (server address)",
	"IPv6 mode", "Internal IPv6", "IPv6 host id", "IPv6 way in", "IPv6 allowed sources",
};

const char *pp_export_key(enum pp_export_col c) { return keys[c]; }
const char *pp_export_title(enum pp_export_col c) { return titles[c]; }

const char *
pp_export_state(const struct pp_mapping *m, time_t now)
{
	if (m->bad || (!m->internal_ip && m->ipv6 != PP_V6_ONLY) || !m->pub_lo)
		return "invalid";
	if (!m->enabled)
		return "disabled";
	if (pp_mapping_expired(m, now))
		return "expired";
	return "enabled";
}

bool
pp_export_allow_any(const struct pp_mapping *m)
{
	/* Each family's sources for its own traffic (issue 15): "any" only when both are open. */
	bool any6 = pp_mapping_any_source6(m);
	if (m->ipv6 == PP_V6_ONLY)
		return any6;
	bool any4 = m->nallow == 0 && m->nallow6 == 0;
	for (size_t i = 0; i < m->nallow; i++)
		any4 |= m->allow[i].len == 0;
	return any4 && (any6 || !pp_mapping_wants_ip6(m));
}

char *
pp_export_allow(const struct pp_mapping *m)
{
	struct pp_buf b = { 0 };
	char ip[16];

	/* One spelling for "from anywhere": no allow key, or 0.0.0.0/0 (and ::/0) in it. */
	if (pp_export_allow_any(m))
		return pp_xstrdup("any");
	for (size_t i = 0; i < m->nallow; i++) {
		pp_format_ipv4(m->allow[i].addr, ip);
		pp_buf_printf(&b, "%s%s/%u", i ? "," : "", ip, m->allow[i].len);
	}
	for (size_t i = 0; i < m->nallow6; i++) {
		char a6[PP_IP6_STR];
		pp_format_ipv6(m->allow6[i].addr, a6);
		pp_buf_printf(&b, "%s%s/%u", i || m->nallow ? "," : "", a6, m->allow6[i].len);
	}
	return b.data;
}

char *
pp_export_allow6(const struct pp_mapping *m)
{
	struct pp_buf b = { 0 };
	char a6[PP_IP6_STR];
	if (!pp_mapping_wants_ip6(m))
		return pp_xstrdup("");
	if (pp_mapping_any_source6(m))
		return pp_xstrdup("any");
	if (m->nallow6 == 0)
		return pp_xstrdup("none (allow lists IPv4 sources only)");
	for (size_t i = 0; i < m->nallow6; i++) {
		pp_format_ipv6(m->allow6[i].addr, a6);
		pp_buf_printf(&b, "%s%s/%u", i ? "," : "", a6, m->allow6[i].len);
	}
	return b.data;
}

void
pp_export_public_ip(const struct pp_table *t, char out[16])
{
	struct ifaddrs *ifs, *i;
	const char *wan = t->site.val[PP_S_WAN_INTERFACE];

	strcpy(out, "auto");
	if (t->site.public_ip) {
		pp_format_ipv4(t->site.public_ip, out);
		return;
	}
	if (wan == NULL || getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, wan) == 0) {
			pp_format_ipv4(ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr), out);
			break;
		}
	freeifaddrs(ifs);
}

static void ip6_cells(const struct pp_mapping *m, const char *lan_if, struct pp_export_row *r);

static char *
dup_or_empty(const char *s)
{
	return pp_xstrdup(s ? s : "");
}

void
pp_export_row_of(const struct pp_mapping *m, const char *public_ip, time_t now, struct pp_export_row *r)
{
	char pub[PP_PORT_LIST_TEXT], in[PP_PORT_LIST_TEXT], ip[16] = "";

	pp_mapping_format_ports(m, false, pub, sizeof pub);
	pp_mapping_format_ports(m, true, in, sizeof in);
	if (m->internal_ip)
		pp_format_ipv4(m->internal_ip, ip);
	r->v[PP_X_SERVICE] = dup_or_empty(m->val[PP_F_DESCRIPTION] ? m->val[PP_F_DESCRIPTION] : m->name);
	r->v[PP_X_MAPPING] = dup_or_empty(m->name);
	r->v[PP_X_PUBLIC_IP] = dup_or_empty(public_ip);
	r->v[PP_X_PUBLIC_PORT] = pp_xstrdup(pub);
	r->v[PP_X_INTERNAL_IP] = pp_xstrdup(ip);
	r->v[PP_X_INTERNAL_PORT] = pp_xstrdup(in);
	r->v[PP_X_PROTOCOL] = pp_xstrdup(pp_proto_name(m->proto));
	r->v[PP_X_ALLOW] = pp_export_allow(m);
	r->v[PP_X_PURPOSE] = dup_or_empty(m->val[PP_F_PURPOSE]);
	r->v[PP_X_OWNER] = dup_or_empty(m->val[PP_F_OWNER]);
	r->v[PP_X_STATE] = pp_xstrdup(pp_export_state(m, now));
	for (int c = PP_X_IPV6; c < PP_X__COUNT; c++)
		r->v[c] = NULL;
	ip6_cells(m, NULL, r);          /* a host id needs the LAN's prefix: pp_export_row_ip6 */
	if (m->ipv6 == PP_V6_ONLY) {
		free(r->v[PP_X_PUBLIC_IP]);
		r->v[PP_X_PUBLIC_IP] = pp_xstrdup("");   /* not reached at the router's IPv4 address */
	}
}

static void
cell(struct pp_export_row *r, enum pp_export_col c, char *v)
{
	free(r->v[c]);
	r->v[c] = v;
}

/* The IPv6 way in (issue 15): the server's own address and port, its mode, pinhole or NAT66
   (then the public port on the router's own address), and who may use it; lan_if NULL: a host
   id is not put on a prefix. */
static void
ip6_cells(const struct pp_mapping *m, const char *lan_if, struct pp_export_row *r)
{
	char v6[PP_IP6_STR + 2 * PP_PORT_LIST_TEXT + 80] = "", in[PP_PORT_LIST_TEXT], pub[PP_PORT_LIST_TEXT];
	char s6[PP_IP6_STR] = "";
	uint8_t a6[16];
	bool nat = pp_mapping_nat66(m), on = pp_mapping_wants_ip6(m) && m->val[PP_F_INTERNAL_IP6] &&
	                                     !(m->bad & (1u << PP_F_INTERNAL_IP6));
	cell(r, PP_X_IPV6_MODE, pp_xstrdup(m->ipv6 == PP_V6_ONLY ? "only" : m->ipv6 == PP_V6_YES ? "yes" : "no"));
	pp_mapping_format_ports(m, true, in, sizeof in);
	pp_mapping_format_ports(m, false, pub, sizeof pub);
	if (on && pp_mapping_ip6(m, lan_if, a6, NULL) == 0) {
		pp_format_ipv6(a6, s6);
		snprintf(v6, sizeof v6, "[%s]:%s%s%s%s%s", s6, in, nat ? " (NAT66 from the router's port " : "",
		         nat ? pub : "", nat ? ")" : "", m->ipv6 == PP_V6_ONLY ? " (IPv6 only)" : "");
	} else if (on) {
		snprintf(v6, sizeof v6, "host id %.40s, no LAN prefix now", m->val[PP_F_INTERNAL_IP6]);
	}
	cell(r, PP_X_IPV6, pp_xstrdup(v6));
	cell(r, PP_X_INTERNAL_IP6, pp_xstrdup(s6));
	cell(r, PP_X_IPV6_HOST_ID, pp_xstrdup(on && m->ip6_hostid ? m->val[PP_F_INTERNAL_IP6] : ""));
	cell(r, PP_X_IPV6_WAY, pp_xstrdup(!on ? "" : nat ? "nat66" : "pinhole"));
	cell(r, PP_X_ALLOW6, on ? pp_export_allow6(m) : pp_xstrdup(""));
}

void
pp_export_row_ip6(const struct pp_table *t, const struct pp_mapping *m, struct pp_export_row *r)
{
	ip6_cells(m, t->site.val[PP_S_LAN_INTERFACE], r);
}

void
pp_export_make(const struct pp_table *t, time_t now, struct pp_export *x)
{
	memset(x, 0, sizeof *x);
	pp_export_public_ip(t, x->public_ip);
	x->site_name = t->site.val[PP_S_NAME];
	x->rows = pp_xcalloc(t->n + 1, sizeof *x->rows);
	for (size_t i = 0; i < t->n; i++) {
		struct pp_export_row *r = &x->rows[x->n++];
		pp_export_row_of(&t->maps[i], x->public_ip, now, r);
		pp_export_row_ip6(t, &t->maps[i], r);
	}
}

void
pp_export_row_free(struct pp_export_row *r)
{
	for (int c = 0; c < PP_X__COUNT; c++)
		free(r->v[c]);
	memset(r, 0, sizeof *r);
}

void
pp_export_free(struct pp_export *x)
{
	for (size_t i = 0; i < x->n; i++)
		pp_export_row_free(&x->rows[i]);
	free(x->rows);
	memset(x, 0, sizeof *x);
}

/*
 * md and csv are text that ends up on a terminal, in an editor or a wiki:
 * controls and invalid UTF-8 are written as \xNN there too (pp_text_safe).
 */
static void
csv_field(FILE *f, const char *raw, bool last)
{
	char *t = pp_text_safe_dup(raw);

	fputc('"', f);
	/* A spreadsheet runs a cell that starts with = + - @ as a formula (=HYPERLINK, =cmd|…):
	 * a leading ' makes it text, the usual defence against CSV injection. */
	if (strchr("=+-@", t[0]) && t[0] != '\0')
		fputc('\'', f);
	for (const char *s = t; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputs(last ? "\"\n" : "\",", f);
	free(t);
}

static void
md_field(FILE *f, const char *raw, bool last)
{
	char *t = pp_text_safe_dup(raw);

	fputs("| ", f);
	for (const char *s = t; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputs(last ? " |\n" : " ", f);
	free(t);
}

/*
 * The -o file of export: created or replaced, never through a symbolic link
 * (root exporting into /tmp must not overwrite a link's target), never a FIFO
 * or device (O_NONBLOCK: no hang on a FIFO without a reader). NULL with errno.
 */
static FILE *
open_export(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	if (ftruncate(fd, 0) < 0 || fcntl(fd, F_SETFL, 0) < 0 || (f = fdopen(fd, "w")) == NULL) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	return f;
}

/* The record says who may reach what: the mapping's name and its allowed sources too. */
static void
export_row(FILE *f, const char *format, char *const *v, bool first)
{
	for (int c = 0; c < PP_X__COUNT; c++) {
		if (strcmp(format, "csv") == 0) {
			csv_field(f, v[c], c == PP_X__COUNT - 1);
		} else if (strcmp(format, "md") == 0) {
			md_field(f, v[c], c == PP_X__COUNT - 1);
		} else {
			fprintf(f, "%s\"%s\":", c == 0 ? (first ? "{" : ",{") : ",", pp_export_key(c));
			pp_json_str(f, v[c]);
			if (c == PP_X__COUNT - 1)
				fputc('}', f);
		}
	}
}

/* The record's head (a title, the column names) or the JSON's start. */
static void
export_head(FILE *f, const char *format, const struct pp_export *x)
{
	if (strcmp(format, "json") == 0) {
		fputs("{\"site\":", f);
		pp_json_str(f, x->site_name);
		fputs(",\"mappings\":[", f);
		return;
	}
	if (strcmp(format, "md") == 0 && x->site_name) {
		fputs("# ", f);
		pp_fputs_safe(x->site_name, f);
		fputs("\n\n", f);
	}
	char *head[PP_X__COUNT];
	for (int c = 0; c < PP_X__COUNT; c++)
		head[c] = (char *)pp_export_title(c);
	export_row(f, format, head, true);
	if (strcmp(format, "md") == 0) {
		for (int c = 0; c < PP_X__COUNT; c++)
			fputs("|---", f);
		fputs("|\n", f);
	}
}

int
pp_export_write(const struct pp_table *t, const char *format, const char *path, FILE *to, time_t now,
                struct pp_error *err)
{
	FILE *f = path ? open_export(path) : to;
	if (f == NULL)
		return pp_error_set(err, "cannot write %s: %s", path, errno == ELOOP ? "it is a symbolic link; "
		                    "export does not write through links, name the file itself" :
		                    errno == EINVAL || errno == ENXIO ? "not a regular file; name a file" :
		                    strerror(errno));
	struct pp_export x;
	pp_export_make(t, now, &x);
	export_head(f, format, &x);
	for (size_t i = 0; i < x.n; i++)
		export_row(f, format, x.rows[i].v, i == 0);
	pp_export_free(&x);
	if (strcmp(format, "json") == 0)
		fputs("]}\n", f);
	if (path && fclose(f) != 0)
		return pp_error_set(err, "cannot write %s: %s", path, strerror(errno));
	return 0;
}
