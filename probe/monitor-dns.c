/* The published address (issue 13 item 1): every host of every [ddns NAME] section should
 * resolve to the site's address. Each lookup runs in a child with the DDNS module's resolver
 * check (pp_ddns_resolve, as the probe's public_ip_mismatch uses it), so a resolver that does
 * not answer costs the loop nothing; its result feeds the same up/down thresholds as a
 * mapping, and a change is an event naming the name, what it resolves to and the address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portpilot/conf.h"
#include "portpilot/ddns.h"
#include "portpilot/relay.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

#define DNS_TIMEOUT_MS 20000       /* glibc's resolver: 5 s a try, a few tries, a few servers */

static void __attribute__((format(printf, 2, 3)))
set_detail(struct mon_dns *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof d->detail, fmt, ap);   /* cut to fit: the words come first */
	va_end(ap);
}

static void
stop_child(struct mon_dns *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	if (d->fd >= 0)
		close(d->fd);
	d->pid = 0;
	d->fd = -1;
	pp_buf_free(&d->out);
}

static void
dns_free_one(struct mon_dns *d)
{
	stop_child(d);
	free(d->label);
	free(d->host);
	free(d->section);
	free(d->interface);
}

void
mon_dns_init(struct mon *M)
{
	struct mon_dns *v = pp_xcalloc(M->mc.ndns + 1, sizeof *v);
	size_t n = 0;

	for (size_t i = 0; i < M->mc.ndns && M->mc.dns_interval_s > 0; i++) {
		const struct pp_mon_dns *c = &M->mc.dns[i];
		char *label = pp_xasprintf("dns:%s", c->host);
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= strcmp(v[k].label, label) == 0;   /* one name in two sections: once */
		if (dup) {
			free(label);
			continue;
		}
		struct mon_dns *d = &v[n++];
		d->fd = -1;
		d->auth = -2;
		d->label = label;
		d->host = pp_xstrdup(c->host);
		d->section = pp_xstrdup(c->section);
		d->interface = c->interface ? pp_xstrdup(c->interface) : NULL;
		d->relay = c->relay;
		d->next_due = pp_now_ms() + 1000.0 * (double)n;
		for (size_t k = 0; k < M->ndns; k++)       /* a reload keeps what it knew of a name */
			if (strcmp(M->dns[k].label, label) == 0) {
				d->sm = M->dns[k].sm;
				memcpy(d->got, M->dns[k].got, sizeof d->got);
				memcpy(d->want, M->dns[k].want, sizeof d->want);
				memcpy(d->detail, M->dns[k].detail, sizeof d->detail);
				memcpy(d->cause, M->dns[k].cause, sizeof d->cause);
				d->checks = M->dns[k].checks;
				d->failures = M->dns[k].failures;
			}
	}
	for (size_t k = 0; k < M->ndns; k++)
		dns_free_one(&M->dns[k]);
	free(M->dns);
	M->dns = v;
	M->ndns = n;
}

/* The address the name should have: [site] public_ip when it is one, else the WAN interface's
 * when public, else what the DDNS updater's echo services last saw (behind a carrier NAT).
 * "" when none is known; where says which. */
static void
site_address(struct mon *M, const struct mon_dns *d, char want[46], char *where, size_t n)
{
	const char *pub = M->table->site.val[PP_S_PUBLIC_IP];
	const char *ifname = d->interface ? d->interface : M->table->site.val[PP_S_WAN_INTERFACE];
	struct in_addr a;
	char wan[16] = "";

	want[0] = '\0';
	/* Published through the relay: the edge is the site's public face (ddns/ipsource.c). An
	 * edge given by name is not resolved here (the loop must not wait for a resolver): its
	 * state stays unknown rather than comparing with an address the updater does not use. */
	if (d->relay) {
		struct pp_relay_site rs;
		memset(&rs, 0, sizeof rs);
		if (pp_relay_site_parse(M->table, &rs, NULL) < 0 || !rs.on)
			snprintf(where, n, "ip_source = relay, but the table has no [site] relay");
		else if (inet_pton(AF_INET, rs.host, &a) == 1) {
			snprintf(want, 46, "%.45s", rs.host);
			snprintf(where, n, "the edge's address ([site] relay)");
		} else
			snprintf(where, n, "the edge is given by name (%.120s): not compared", rs.host);
		pp_relay_site_free(&rs);
		return;
	}
	if (pub && inet_pton(AF_INET, pub, &a) == 1) {
		snprintf(want, 46, "%s", pub);
		snprintf(where, n, "[site] public_ip");
		return;
	}
	if (ifname && pp_iface_ipv4(ifname, wan) == 0 && inet_pton(AF_INET, wan, &a) == 1 &&
	    pp_ipv4_kind(ntohl(a.s_addr)) == PP_AK_PUBLIC) {
		snprintf(want, 46, "%s", wan);
		snprintf(where, n, "the WAN address (%s)", ifname);
		return;
	}
	struct pp_ddns_state st;
	struct pp_error e;
	if (pp_ddns_state_load(M->cli->state_dir, d->section, &st, &e) == 0) {
		if (st.echo.addr[0] && strchr(st.echo.addr, ':') == NULL) {
			snprintf(want, 46, "%s", st.echo.addr);
			snprintf(where, n, "the public address the DDNS updater saw (WAN %s is %s)",
			         ifname ? ifname : "?", wan[0] ? wan : "without an address");
		}
		pp_ddns_state_free(&st);
	}
	if (want[0] == '\0')
		snprintf(where, n, "WAN %s %s, and the DDNS updater has seen no public address",
		         ifname ? ifname : "?", wan[0] ? "has a private address" : "has no IPv4 address");
}

/* On a mismatch, the second line: what the zone's authoritative servers serve, as the DDNS
 * updater verifies its updates ("auth RC DETAIL"); nothing when it cannot be asked. */
static void
auth_line(FILE *f, const char *conf_path, const struct mon_dns *d)
{
	struct pp_conf *c = NULL;
	struct pp_error e;
	char detail[300];

	if (d->want[0] == '\0' || pp_conf_load(conf_path, true, &c, &e) < 0)
		return;
	for (size_t i = 0; i < c->nddns; i++)
		if (strcmp(c->ddns[i].name, d->section) == 0) {
			int rc = pp_ddns_auth_verify(&c->ddns[i], d->host, d->want, detail, sizeof detail);
			fprintf(f, "auth %d %s\n", rc, detail);
			break;
		}
	pp_conf_free(c);
}

/* In the child: one line, "ok ADDRESS", "none WHY" (the name has no address) or "error WHY";
 * then, when it is not the site's address, the authoritative servers' answer. */
static void
lookup_child(const char *conf_path, const struct mon_dns *d, int fd)
{
	const char *host = d->host;
	char addr[46];
	FILE *f = fdopen(fd, "w");

	if (f == NULL)
		_exit(1);
	if (pp_ddns_resolve(host, addr) == 0) {
		fprintf(f, "ok %s\n", addr);
		if (strcmp(addr, d->want) != 0)
			auth_line(f, conf_path, d);
	} else {
		/* The same question again for the kind of failure: no such name, or no answer. */
		struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
		int rc = getaddrinfo(host, NULL, &hints, &res);
		if (res)
			freeaddrinfo(res);
		if (rc == EAI_NONAME || rc == EAI_NODATA) {
			fprintf(f, "none %s\n", gai_strerror(rc));
			auth_line(f, conf_path, d);
		} else
			fprintf(f, "error %s\n", rc ? gai_strerror(rc) : "the address went away between two lookups");
	}
	fclose(f);
	_exit(0);
}

double
mon_dns_step(struct mon *M, double now)
{
	double next = 1e300;

	for (size_t i = 0; i < M->ndns; i++) {
		struct mon_dns *d = &M->dns[i];
		if (d->pid > 0) {
			if (now - d->started > DNS_TIMEOUT_MS) {
				stop_child(d);
				if (strncmp(d->detail, "no answer", 9) != 0)
					fprintf(M->cli->err, "monitor: %s: the resolver gave no answer within %d s; "
					        "the name's state is left as it was\n", d->host, DNS_TIMEOUT_MS / 1000);
				set_detail(d, "no answer from the resolver within %d s",
				         DNS_TIMEOUT_MS / 1000);
				M->dirty = true;
			} else if (d->started + DNS_TIMEOUT_MS < next) {
				next = d->started + DNS_TIMEOUT_MS;
			}
			continue;
		}
		if (d->next_due > now) {
			if (d->next_due < next)
				next = d->next_due;
			continue;
		}
		d->next_due = now + M->mc.dns_interval_s * 1000.0;
		/* what it should be, now: the child compares the authoritative answer with it too */
		site_address(M, d, d->want, d->where, sizeof d->where);
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0)
			continue;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			mon_close_inherited(M, fds[1]);
			lookup_child(M->cli->conf_path, d, fds[1]);
		}
		close(fds[1]);
		if (pid < 0) {
			close(fds[0]);
			continue;
		}
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		d->pid = pid;
		d->fd = fds[0];
		d->started = now;
		if (d->started + DNS_TIMEOUT_MS < next)
			next = d->started + DNS_TIMEOUT_MS;
	}
	return next;
}

int
mon_dns_pollfds(struct mon *M, struct pollfd *pfd, int max, struct mon_dns **who)
{
	int n = 0;

	for (size_t i = 0; i < M->ndns && n < max; i++)
		if (M->dns[i].pid > 0) {
			pfd[n] = (struct pollfd){ .fd = M->dns[i].fd, .events = POLLIN };
			who[n++] = &M->dns[i];
		}
	return n;
}

/* The child's line is in (or its pipe closed): judge it and feed the state. */
void
mon_dns_read(struct mon *M, struct mon_dns *d, double now)
{
	char buf[512], kind[8] = "", rest[400] = "", auth[320] = "", *l2;
	const char *where = d->where;
	ssize_t r;

	(void)now;
	while ((r = read(d->fd, buf, sizeof buf)) > 0)
		pp_buf_add(&d->out, buf, (size_t)r);
	if (r != 0)
		return;                        /* more to come */
	d->auth = -2;
	if (d->out.data) {
		sscanf(d->out.data, "%7s %399[^\n]", kind, rest);
		if ((l2 = strstr(d->out.data, "\nauth ")) != NULL && sscanf(l2 + 6, "%d %319[^\n]", &d->auth, auth) < 1)
			d->auth = -2;
	}
	stop_child(d);
	if (strcmp(kind, "ok") && strcmp(kind, "none")) {
		/* No answer says nothing about the record: the state is left as it is. */
		if (strncmp(d->detail, "resolver: ", 10) != 0)
			fprintf(M->cli->err, "monitor: %s: the resolver gave no answer (%s); the name's state "
			        "is left as it was\n", d->host, rest[0] ? rest : "the lookup ended");
		set_detail(d, "resolver: %.280s", rest[0] ? rest : "no answer");
		M->dirty = true;
		return;
	}
	snprintf(d->got, sizeof d->got, "%.45s", strcmp(kind, "ok") == 0 ? rest : "");
	if (d->want[0] == '\0') {
		set_detail(d, "%s resolves to %s; the site's address is not known: %s",
		         d->host, d->got[0] ? d->got : "nothing", where);
		M->dirty = true;
		return;                        /* nothing to compare with: unknown, not a fake up */
	}
	bool ok = d->got[0] && strcmp(d->got, d->want) == 0;
	d->checks++;
	if (!ok)
		d->failures++;
	if (ok)
		set_detail(d, "%s resolves to %s, %s", d->host, d->got, where);
	else if (d->got[0])
		set_detail(d, "%s resolves to %s, but the site's address is %s "
		         "(%s)%s%s", d->host, d->got, d->want, where, auth[0] ? "; " : "", auth);
	else
		set_detail(d, "%s does not resolve (%s); the site's address is %s "
		         "(%s)%s%s", d->host, rest, d->want, where, auth[0] ? "; " : "", auth);
	enum pp_health prev = d->sm.state;
	enum pp_mon_change c = pp_mon_sm_feed(&d->sm, ok, M->mc.fail_after, M->mc.recover_after, time(NULL));
	if (c == PP_MON_WENT_DOWN || c == PP_MON_CAME_UP) {
		snprintf(d->cause, sizeof d->cause, "%s", ok ? "" : d->got[0] ? "public_ip_mismatch" :
		         "name_unresolved");
		mon_dns_event(M, d, prev);
	}
	M->dirty = true;
}

void
mon_dns_free(struct mon *M)
{
	for (size_t i = 0; i < M->ndns; i++)
		dns_free_one(&M->dns[i]);
	free(M->dns);
	M->dns = NULL;
	M->ndns = 0;
}
