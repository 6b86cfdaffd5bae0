/* The table commands: check, list, export, add, set, del, enable, disable. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "portpilot/cli.h"
#include "portpilot/cli-opts.h"
#include "portpilot/export.h"
#include "portpilot/ipv6.h"
#include "portpilot/table.h"
#include "portpilot/util.h"

#define LOCK_WAIT_MS 5000 /* a concurrent save holds the lock for moments; its merge for ~1 s on 20,000 mappings */

static int
load(struct pp_cli *cli, const char *cmd, bool missing_ok, struct pp_table **t)
{
	struct pp_error err;

	if (pp_table_load(cli->table_path, missing_ok, t, &err) < 0) {
		/* The message may quote the file's bytes. */
		fprintf(cli->err, "portpilot %s: ", cmd);
		pp_fputs_safe(err.msg, cli->err);
		fputc('\n', cli->err);
		return -1;
	}
	return 0;
}

static const struct pp_opt json_opts[] = { PP_OPT_JSON, { 0 } };
const struct pp_cmd_spec pp_spec_check = {
	.globals = "[-f TABLE]", .opts = json_opts,
	.doc = "Validates the mapping table and prints every finding with file:line and the fix.\n"
	       "Exit 0 when clean, 1 when there are findings, 2 when the table cannot be read.\n",
};

int
pp_cmd_check(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_findings fs = { 0 };
	struct pp_table *t;
	size_t e, w;

	(void)argc, (void)argv;
	if (load(cli, "check", false, &t) < 0)
		return PP_EXIT_USAGE;
	pp_table_check(t, time(NULL), &fs);
	e = pp_findings_count(&fs, PP_ERROR);
	w = pp_findings_count(&fs, PP_WARNING);
	if (cli->json) {
		pp_findings_json(cli->out, t->path, &fs);
	} else {
		pp_findings_print(cli->out, t->path, &fs);
		fprintf(cli->out, "%s: %zu mapping%s, %zu error%s, %zu warning%s\n", t->path, t->n,
		        t->n == 1 ? "" : "s", e, e == 1 ? "" : "s", w, w == 1 ? "" : "s");
	}
	pp_findings_free(&fs);
	pp_table_free(t);
	return e + w ? PP_EXIT_FAIL : PP_EXIT_OK;
}

/* The IPv6 side (issue 15): "ipv6", the server's address now (a host id on the LAN prefix), "allow6",
   "ipv6_way" (pinhole or nat66, as export's). */
static void
list_json_ip6(FILE *f, const struct pp_table *t, const struct pp_mapping *m)
{
	char a6[PP_IP6_STR] = "";
	uint8_t a[16];
	fprintf(f, ",\"ipv6\":\"%s\",\"internal_ip6\":",
	        m->ipv6 == PP_V6_ONLY ? "only" : m->ipv6 == PP_V6_YES ? "yes" : "no");
	if (pp_mapping_wants_ip6(m) && m->val[PP_F_INTERNAL_IP6] && !(m->bad & (1u << PP_F_INTERNAL_IP6)) &&
	    pp_mapping_ip6(m, t->site.val[PP_S_LAN_INTERFACE], a, NULL) == 0)
		pp_format_ipv6(a, a6);
	pp_json_str(f, *a6 ? a6 : NULL);
	fputs(",\"allow6\":[", f);
	for (size_t k = 0; k < m->nallow6; k++) {
		pp_format_ipv6(m->allow6[k].addr, a6);
		fprintf(f, "%s\"%s/%u\"", k ? "," : "", a6, m->allow6[k].len);
	}
	fprintf(f, "],\"ipv6_way\":%s", !pp_mapping_wants_ip6(m) ? "null" : pp_mapping_nat66(m) ? "\"nat66\"" : "\"pinhole\"");
}

static void
list_json(FILE *f, const struct pp_table *t, time_t now)
{
	fputs("{\"file\":", f);
	pp_json_str(f, t->path);
	fputs(",\"site\":{", f);
	for (int s = 0; s < PP_S__COUNT; s++) {
		fprintf(f, "%s\"%s\":", s ? "," : "", pp_site_field_name(s));
		pp_json_str(f, t->site.val[s]);
	}
	fputs("},\"mappings\":[", f);
	for (size_t i = 0; i < t->n; i++) {
		const struct pp_mapping *m = &t->maps[i];
		char ip[16] = "";
		if (m->internal_ip)
			pp_format_ipv4(m->internal_ip, ip);
		fprintf(f, "%s{\"name\":", i ? "," : "");
		pp_json_str(f, m->name);
		fprintf(f, ",\"line\":%d,\"state\":\"%s\",\"protocol\":\"%s\",\"public_port_first\":%u,"
		        "\"public_port_last\":%u,\"internal_ip\":", m->line, pp_export_state(m, now),
		        pp_proto_name(m->proto), m->pub_lo, m->pub_hi);
		pp_json_str(f, *ip ? ip : NULL);
		fprintf(f, ",\"internal_port_first\":%u,\"internal_port_last\":%u,\"allow\":[", m->in_lo, m->in_hi);
		for (size_t a = 0; a < m->nallow; a++) {
			char net[16];
			pp_format_ipv4(m->allow[a].addr, net);
			fprintf(f, "%s\"%s/%u\"", a ? "," : "", net, m->allow[a].len);
		}
		fprintf(f, "],\"allow_any\":%s,\"enabled\":%s,\"masquerade\":%s", pp_export_allow_any(m) ? "true" : "false",
		        m->enabled ? "true" : "false", m->masquerade ? "true" : "false");
		/* Port lists ("80,443") and the hairpin in force (its own hairpin =, else the site's). */
		char pl[PP_PORT_LIST_TEXT], il[PP_PORT_LIST_TEXT];
		pp_mapping_format_ports(m, false, pl, sizeof pl);
		pp_mapping_format_ports(m, true, il, sizeof il);
		fprintf(f, ",\"public_ports\":\"%s\",\"internal_ports\":\"%s\",\"hairpin\":%s", pl, il,
		        pp_mapping_hairpin(&t->site, m) ? "true" : "false");
		list_json_ip6(f, t, m);
		for (int k = 0; k < PP_F__COUNT; k++) {
			fprintf(f, ",\"%s_raw\":", pp_field_name(k));
			pp_json_str(f, m->val[k]);
		}
		fputc('}', f);
	}
	fputs("]}\n", f);
}

const struct pp_cmd_spec pp_spec_list = {
	.globals = "[-f TABLE]", .opts = json_opts,
	.doc = "Lists the mappings: state, protocol, public port(s), internal address, allowed sources, owner.\n",
};

int
pp_cmd_list(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_table *t;
	time_t now = time(NULL);

	(void)argc, (void)argv;
	if (load(cli, "list", false, &t) < 0)
		return PP_EXIT_USAGE;
	if (cli->json) {
		list_json(cli->out, t, now);
	} else {
		fprintf(cli->out, "%-20s %-8s %-5s %-11s %-27s %-18s %s\n", "NAME", "STATE", "PROTO", "PUBLIC",
		        "INTERNAL", "ALLOW", "OWNER");
		for (size_t i = 0; i < t->n; i++) {
			const struct pp_mapping *m = &t->maps[i];
			char pub[PP_PORT_LIST_TEXT], in[PP_PORT_LIST_TEXT], ip[16] = "?", dst[PP_PORT_LIST_TEXT + 20];
			char *allow = pp_export_allow(m);
			pp_mapping_format_ports(m, false, pub, sizeof pub);
			pp_mapping_format_ports(m, true, in, sizeof in);
			if (m->internal_ip)
				pp_format_ipv4(m->internal_ip, ip);
			snprintf(dst, sizeof dst, "%s:%s", ip, in);
			/* Values from the file reach the terminal only as text (no ESC, no invalid UTF-8). */
			char *name = pp_text_safe_dup(m->name);
			char *owner = pp_text_safe_dup(m->val[PP_F_OWNER]);
			if (m->ipv6 == PP_V6_ONLY)
				snprintf(dst, sizeof dst, "(IPv6 only)");
			fprintf(cli->out, "%-20s %-8s %-5s %-11s %-27s %-18s %s\n", name, pp_export_state(m, now),
			        pp_proto_name(m->proto), pub, dst, allow, owner);
			/* The IPv6 way in, on a line of its own: the server's address and port, no NAT. */
			uint8_t a6[16];
			char s6[PP_IP6_STR];
			if (pp_mapping_wants_ip6(m) && m->val[PP_F_INTERNAL_IP6] && !(m->bad & (1u << PP_F_INTERNAL_IP6))) {
				if (pp_mapping_ip6(m, t->site.val[PP_S_LAN_INTERFACE], a6, NULL) == 0) {
					pp_format_ipv6(a6, s6);
					/* NAT66: the public port is the router's own, as over IPv4 */
					bool nat = pp_mapping_nat66(m);
					fprintf(cli->out, "%-20s %-8s %-5s %-11s [%s]:%s%s%s\n", "", "", "ipv6", nat ? pub : in, s6, in,
					        m->ip6_hostid ? " (host id on the LAN prefix)" : "", nat ? " (NAT66)" : "");
				} else {
					fprintf(cli->out, "%-20s %-8s %-5s %-11s host id %s: no LAN prefix now\n", "", "", "ipv6", in,
					        m->val[PP_F_INTERNAL_IP6]);
				}
			}
			free(owner);
			free(name);
			free(allow);
		}
	}
	pp_table_free(t);
	return PP_EXIT_OK;
}

static const struct pp_opt export_opts[] = {
	{ "format", 0, "md|csv|json", "the record's format (default md)" },
	{ NULL, 'o', "FILE", "write it to FILE (never through a link)" },
	{ "json", 0, NULL, "the record as JSON (as --format json)" },
	{ 0 },
};
const struct pp_cmd_spec pp_spec_export = {
	.globals = "[-f TABLE]", .opts = export_opts,
	.doc = "Prints the documentation record of every mapping: service, public IP and port,\n"
	       "internal IP and port, protocol, allowed sources, purpose, owner, state, and the\n"
	       "mapping's name in the table, and its IPv6 side: the server's IPv6 address and port, ipv6\n"
	       "mode, way in (pinhole or nat66), host id, IPv6 allowed sources.\n",
};

int
pp_cmd_export(struct pp_cli *cli, int argc, char **argv)
{
	const char *format = pp_opt(cli, "format") ? pp_opt(cli, "format") : "md", *outpath = pp_opt(cli, "o");
	struct pp_table *t;
	struct pp_error err;

	(void)argc, (void)argv;
	if (cli->json)
		format = "json";
	if (strcmp(format, "md") && strcmp(format, "csv") && strcmp(format, "json"))
		return pp_cli_usage(cli, "export", "unknown format '%s'; use md, csv or json", format);
	if (load(cli, "export", false, &t) < 0)
		return PP_EXIT_USAGE;
	int rc = pp_export_write(t, format, outpath, cli->out, time(NULL), &err);
	if (rc < 0)
		fprintf(cli->err, "portpilot export: %s\n", err.msg);
	pp_table_free(t);
	return rc < 0 ? PP_EXIT_FAIL : PP_EXIT_OK;
}

/* The field index of key in [site] (site) or a mapping, -1 when unknown. */
static int
key_index(bool site, const char *key)
{
	if (!site)
		return pp_field_lookup(key);
	for (int f = 0; f < PP_S__COUNT; f++)
		if (strcasecmp(pp_site_field_name(f), key) == 0)
			return f;
	return -1;
}

static const char *
value_now(const struct pp_table *t, const char *name, bool site, int f)
{
	const struct pp_mapping *m;

	if (f < 0)
		return NULL;
	if (site)
		return t->site.val[f];
	return (m = pp_table_find(t, name)) ? m->val[f] : NULL;
}

/*
 * A time from now as firewall-cmd --timeout takes it: 90s, 30m, 4h, 2d, or a sum
 * (1h30m), with or without a leading '+'. The file holds absolute local times
 * (the expiry must not move when the file is read later), so the result is one:
 * to the second for a count of seconds, else rounded up to the full minute (the
 * access lasts at least as long as asked). 0 and out set, or -1.
 */
static int
time_from_now(const char *text, time_t now, char out[32])
{
	const char *p = text + (*text == '+');
	long long secs = 0;
	bool seconds = false;
	struct tm tm;
	time_t t;

	if (*p == '\0')
		return -1;
	while (*p) {
		char *end;
		long long n, unit;
		if (*p < '0' || *p > '9')
			return -1;
		n = strtoll(p, &end, 10);
		switch (*end) {
		case 's': unit = 1; seconds = true; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		if (n > 3660LL * 86400 / unit)
			return -1;
		secs += n * unit;
		p = end + 1;
	}
	if (secs <= 0 || secs > 3660LL * 86400) /* ten years: a typo, not maintenance access */
		return -1;
	t = now + (time_t)secs;
	if (!seconds)
		t = (t + 59) / 60 * 60;
	localtime_r(&t, &tm);
	strftime(out, 32, t % 60 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%dT%H:%M", &tm);
	return 0;
}

struct change {
	const char *key;        /* the field's own spelling */
	char *old, *new;        /* NULL: unset */
};

/* "web-1: internal_ip 192.168.2.101 -> 192.168.2.102", or the same as an object. */
static void
report(struct pp_cli *cli, const char *cmd, const char *path, const char *name, const struct change *c, size_t n)
{
	bool any = false;

	if (cli->json) {
		fputs("{\"command\":", cli->out);
		pp_json_str(cli->out, cmd);
		fputs(",\"mapping\":", cli->out);
		pp_json_str(cli->out, name);
		fputs(",\"file\":", cli->out);
		pp_json_str(cli->out, path);
		fputs(",\"changes\":[", cli->out);
		for (size_t i = 0; i < n; i++) {
			fprintf(cli->out, "%s{\"key\":", any ? "," : "");
			pp_json_str(cli->out, c[i].key);
			fputs(",\"old\":", cli->out);
			pp_json_str(cli->out, c[i].old);
			fputs(",\"new\":", cli->out);
			pp_json_str(cli->out, c[i].new);
			fputc('}', cli->out);
			any = true;
		}
		fputs("],\"exit_code\":0}\n", cli->out);
		return;
	}
	pp_fputs_safe(name, cli->out);
	fputs(strcmp(cmd, "add") == 0 ? ": added" : strcmp(cmd, "del") == 0 ? ": deleted" : ":", cli->out);
	for (size_t i = 0; i < n; i++) {
		bool same = (c[i].old == NULL) == (c[i].new == NULL) && (c[i].old == NULL || strcmp(c[i].old, c[i].new) == 0);
		if (same)
			continue;
		fprintf(cli->out, "%s %s ", any ? "," : strcmp(cmd, "add") == 0 ? " with" : "", c[i].key);
		if (strcmp(cmd, "add") != 0) {
			pp_fputs_safe(c[i].old ? c[i].old : "(unset)", cli->out);
			fputs(" -> ", cli->out);
		}
		pp_fputs_safe(c[i].new ? c[i].new : "(removed)", cli->out);
		any = true;
	}
	if (!any && strcmp(cmd, "add") != 0 && strcmp(cmd, "del") != 0)
		fputs(" nothing changed, the values were already so", cli->out);
	fputc('\n', cli->out);
}

/*
 * Apply KEY=VALUE edits to one mapping and save, unless the edit brings new
 * errors: then nothing is saved and the findings say why.
 */
static int
edit_and_save(struct pp_cli *cli, const char *cmd, struct pp_table *t, const char *name, int argc,
              char **argv, size_t errors_before)
{
	struct pp_error err;
	struct pp_findings fs = { 0 };
	size_t errors, n = 0;
	bool site = strcasecmp(name, "site") == 0;
	char when[32];

	struct pp_kv *kv = pp_xcalloc((size_t)argc + 1, sizeof *kv);
	char **keys = pp_xcalloc((size_t)argc + 1, sizeof *keys);
	char **conv = pp_xcalloc((size_t)argc + 1, sizeof *conv);
	struct change *ch = pp_xcalloc((size_t)argc + 1, sizeof *ch);
	int rc = 0;

	for (int i = 0; i < argc && rc == 0; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i]) {
			/* "internal_port 80": the key is known, only the '=' is missing. */
			if (eq == NULL && key_index(site, argv[i]) >= 0 && i + 1 < argc && !strchr(argv[i + 1], '='))
				rc = pp_cli_usage(cli, cmd, "[%s] %s: no '=' between key and value; write %s=%s "
				                  "(portpilot %s %s %s=%s)", name, argv[i], argv[i], argv[i + 1], cmd,
				                  name, argv[i], argv[i + 1]);
			else
				rc = pp_cli_usage(cli, cmd, "[%s]: '%s' is not KEY=VALUE; write e.g. owner=\"Li Wei\"", name,
				                  argv[i]);
			break;
		}
		kv[i].key = keys[i] = pp_xstrndup(argv[i], (size_t)(eq - argv[i]));
		kv[i].value = eq[1] ? eq + 1 : NULL;
		int f = key_index(site, keys[i]);
		if (!site && f == PP_F_EXPIRES && kv[i].value && (kv[i].value[0] == '+' || strchr(kv[i].value, '-') == NULL)) {
			/* expires=+4h: relative to now, written as the absolute time it means. */
			if (time_from_now(kv[i].value, time(NULL), when) < 0) {
				rc = pp_cli_usage(cli, cmd, "[%s] expires: '%s' is not a time from now; write e.g. "
				                  "expires=+4h (also +90s, +30m, +2d, +1h30m) or a local time "
				                  "YYYY-MM-DDTHH:MM", name, kv[i].value);
				break;
			}
			kv[i].value = conv[i] = pp_xstrdup(when);
		}
		ch[n].key = f >= 0 ? (site ? pp_site_field_name(f) : pp_field_name(f)) : keys[i];
		ch[n].old = value_now(t, name, site, f) ? pp_xstrdup(value_now(t, name, site, f)) : NULL;
		n++;
	}
	if (rc == 0 && pp_table_set_many(t, name, kv, (size_t)argc, &err) < 0) {
		fprintf(cli->err, "portpilot %s: %s; nothing was saved\n", cmd, err.msg);
		rc = PP_EXIT_USAGE;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *v = value_now(t, name, site, key_index(site, ch[i].key));
		ch[i].new = v ? pp_xstrdup(v) : NULL;
	}
	for (int i = 0; i < argc; i++)
		free(keys[i]), free(conv[i]);
	free(keys);
	free(conv);
	free(kv);
	if (rc == 0) {
		pp_table_check(t, time(NULL), &fs);
		errors = pp_findings_count(&fs, PP_ERROR);
		for (size_t i = 0; i < fs.n; i++) {
			/* Show what concerns this mapping, the conf's findings (a [ddns] mapping = the
			 * edit may have left naming nothing), and every error the edit added. */
			struct pp_findings one = { .v = &fs.v[i], .n = 1 };
			if ((fs.v[i].mapping && strcasecmp(fs.v[i].mapping, name) == 0) || fs.v[i].file ||
			    (errors > errors_before && fs.v[i].sev == PP_ERROR))
				pp_findings_print(cli->err, t->path, &one);
		}
		pp_findings_free(&fs);
		if (errors > errors_before) {
			fprintf(cli->err, "portpilot %s: the change would add %zu error%s; nothing was saved\n", cmd,
			        errors - errors_before, errors - errors_before == 1 ? "" : "s");
			rc = PP_EXIT_FAIL;
		} else if (pp_table_save(t, LOCK_WAIT_MS, &err) < 0) {
			fprintf(cli->err, "portpilot %s: %s\n", cmd, err.msg);
			rc = PP_EXIT_FAIL;
		} else {
			report(cli, cmd, t->path, name, ch, n);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(ch[i].old), free(ch[i].new);
	free(ch);
	pp_table_free(t);
	return rc;
}

/* The table's errors, leaving out those of mapping `but` (NULL: none left out). */
static size_t
errors_now(const struct pp_table *t, const char *but)
{
	struct pp_findings fs = { 0 };
	size_t n = 0;

	pp_table_check(t, time(NULL), &fs);
	for (size_t i = 0; i < fs.n; i++)
		n += fs.v[i].sev == PP_ERROR && !(but && fs.v[i].mapping && strcasecmp(fs.v[i].mapping, but) == 0);
	pp_findings_free(&fs);
	return n;
}

static int
edit_cmd(struct pp_cli *cli, int argc, char **argv, int min_args)
{
	const char *cmd = argv[0], *dur = pp_opt(cli, "for");
	struct pp_table *t;
	struct pp_error err;
	size_t before;
	bool add = strcmp(cmd, "add") == 0, del = strcmp(cmd, "del") == 0;
	bool enable = strcmp(cmd, "enable") == 0, disable = strcmp(cmd, "disable") == 0;
	char **args, *own[2] = { NULL, NULL };
	int n = argc, rc;

	/* --for DURATION (add, set, enable): expires=+DURATION, as firewall-cmd --timeout. */
	if (dur && (del || disable))
		return pp_cli_usage(cli, cmd, "--for is for add, set and enable");
	if (n + (dur != NULL) < min_args) /* --for counts as the KEY=VALUE of set */
		return pp_cli_usage(cli, cmd, "missing arguments");
	args = pp_xcalloc((size_t)argc + 3, sizeof *args);
	memcpy(args, argv, (size_t)argc * sizeof *args);
	if (dur)
		args[n++] = own[0] = pp_xasprintf("expires=+%s", dur[0] == '+' ? dur + 1 : dur);
	if (enable || disable)
		args[n++] = own[1] = pp_xstrdup(enable ? "enabled=yes" : "enabled=no");
	argc = n;
	argv = args;
	if (load(cli, cmd, add, &t) < 0) {
		rc = PP_EXIT_USAGE;
		goto out;
	}
	/* del: the mapping's own errors go with it; an error it adds is refused as any new one (a
	   [ddns] mapping = naming it is a warning, shown: pp_table_check_conf). */
	before = errors_now(t, del ? argv[1] : NULL);
	if (add || del) {
		rc = add ? pp_table_add(t, argv[1], &err) : pp_table_del(t, argv[1], &err);
		if (rc < 0) {
			fprintf(cli->err, "portpilot %s: %s; nothing was saved\n", cmd, err.msg);
			pp_table_free(t);
			rc = PP_EXIT_USAGE;
			goto out;
		}
	} else if (strcasecmp(argv[1], "site") != 0 && pp_table_find(t, argv[1]) == NULL) {
		fprintf(cli->err, "portpilot %s: no mapping named '%s' in %s; see `portpilot list`\n", cmd,
		        argv[1], t->path);
		pp_table_free(t);
		rc = PP_EXIT_USAGE;
		goto out;
	}
	if ((enable || disable || del) && argc > 2 + (enable || disable) + (dur != NULL)) {
		pp_table_free(t);
		rc = pp_cli_usage(cli, cmd, "unexpected argument '%s'", argv[2]);
		goto out;
	}
	rc = edit_and_save(cli, cmd, t, argv[1], argc - 2, argv + 2, before);
out:
	free(own[0]);
	free(own[1]);
	free(args);
	return rc;
}

static const struct pp_opt for_opts[] = {
	{ "for", 0, "DURATION", "4h (also 90s, 30m, 2d): until that long from now (sets expires)" },
	PP_OPT_JSON,
	{ 0 },
};
/* del and disable know --for only to refuse it with the commands that take it. */
static const struct pp_opt no_for_opts[] = { { "for", 0, "DURATION", NULL }, PP_OPT_JSON, { 0 } };

const struct pp_cmd_spec pp_spec_add = {
	.globals = "[-f TABLE]", .args = "NAME KEY=VALUE...", .min = 1, .max = -1,
	.missing = "missing arguments", .opts = for_opts,
	.doc = "Adds a mapping, e.g.: portpilot add web-4 public_port=8092 internal_ip=192.168.2.104 "
	       "internal_port=80\n"
	       "Keys: description protocol public_port internal_ip internal_port allow enabled owner "
	       "purpose expires masquerade hairpin (and the check_* keys of monitor).\n"
	       "public_port=80,443 maps both; internal_port is then left out (the same ports) or a\n"
	       "list as long (internal_port=8080,8443). hairpin=no|yes overrides [site] hairpin.\n"
	       "expires=+4h (also +90s, +30m, +2d) or --for 4h: temporary access, written as the\n"
	       "absolute local time that is that long from now.\n"
	       "Nothing is saved when the result has new errors (exit 1).\n",
};

int
pp_cmd_add(struct pp_cli *cli, int argc, char **argv)
{
	return edit_cmd(cli, argc, argv, 2);
}

const struct pp_cmd_spec pp_spec_set = {
	.globals = "[-f TABLE]", .args = "NAME KEY=VALUE...", .min = 1, .max = -1, .complete = "names site",
	.missing = "missing arguments", .opts = for_opts,
	.doc = "Changes keys of a mapping (or of [site] with NAME = site); KEY= removes the key.\n"
	       "Only the changed lines of the file are rewritten; comments and order stay.\n"
	       "expires=+4h (also +90s, +30m, +2d) or --for 4h: until that long from now.\n"
	       "Nothing is saved when the result has new errors (exit 1).\n",
};

int
pp_cmd_set(struct pp_cli *cli, int argc, char **argv)
{
	return edit_cmd(cli, argc, argv, 3);
}

const struct pp_cmd_spec pp_spec_del = {
	.globals = "[-f TABLE]", .args = "NAME", .min = 1, .max = 1, .complete = "names",
	.missing = "missing arguments", .opts = no_for_opts, .doc = "Deletes a mapping.\n",
};

int
pp_cmd_del(struct pp_cli *cli, int argc, char **argv)
{
	return edit_cmd(cli, argc, argv, 2);
}

const struct pp_cmd_spec pp_spec_enable = {
	.globals = "[-f TABLE]", .args = "NAME", .min = 1, .max = 1, .complete = "names",
	.missing = "missing arguments", .opts = for_opts, .doc = "Enables a mapping.\n",
};

int
pp_cmd_enable(struct pp_cli *cli, int argc, char **argv)
{
	return edit_cmd(cli, argc, argv, 2);
}

const struct pp_cmd_spec pp_spec_disable = {
	.globals = "[-f TABLE]", .args = "NAME", .min = 1, .max = 1, .complete = "names",
	.missing = "missing arguments", .opts = no_for_opts, .doc = "Disables a mapping.\n",
};

int
pp_cmd_disable(struct pp_cli *cli, int argc, char **argv)
{
	return edit_cmd(cli, argc, argv, 2);
}
