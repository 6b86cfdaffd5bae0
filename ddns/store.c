/* DDNS state on disk (STATE_DIR/ddns-NAME.state, the shared echo-services.state) and the status rows. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ddns-internal.h"

/* Not of the form ddns-NAME.state, so no section name can collide with it. */
#define ECHO_STATE "echo-services.state"

static char *
state_path(const char *dir, const char *name)
{
	char *p = pp_xasprintf("%s/ddns-%s.state", dir, name);
	char *base = strrchr(p, '/') + 1;

	/* Section names are free text; keep the file name to safe characters. */
	for (char *c = base; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
			*c = '_';
	return p;
}

struct pp_ddns_host *
pp_ddns_state_host(struct pp_ddns_state *st, const char *host)
{
	for (size_t i = 0; i < st->nhosts; i++)
		if (strcmp(st->hosts[i].host, host) == 0)
			return &st->hosts[i];
	st->hosts = pp_xrealloc(st->hosts, (st->nhosts + 1) * sizeof *st->hosts);
	struct pp_ddns_host *h = &st->hosts[st->nhosts++];
	memset(h, 0, sizeof *h);
	snprintf(h->host, sizeof h->host, "%s", host);
	return h;
}

void
pp_ddns_state_free(struct pp_ddns_state *st)
{
	free(st->name);
	free(st->hosts);
	memset(st, 0, sizeof *st);
}

static void
set_str(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v);
}

static void
host_field(struct pp_ddns_host *h, const char *k, const char *v)
{
	if (strcmp(k, "published") == 0) set_str(h->published, sizeof h->published, v);
	else if (strcmp(k, "published_at") == 0) h->published_at = strtoll(v, NULL, 10);
	else if (strcmp(k, "last_attempt") == 0) h->last_attempt = strtoll(v, NULL, 10);
	else if (strcmp(k, "next_attempt") == 0) h->next_attempt = strtoll(v, NULL, 10);
	else if (strcmp(k, "failures") == 0) h->failures = atoi(v);
	else if (strcmp(k, "nochg") == 0) h->nochg = atoi(v);
	else if (strcmp(k, "reason") == 0) set_str(h->reason, sizeof h->reason, v);
	else if (strcmp(k, "stop_hash") == 0) h->stop_hash = strtoull(v, NULL, 16);
	else if (strcmp(k, "status") == 0) {
		for (int s = PP_HS_NEW; s < PP_HS__COUNT; s++)
			if (strcmp(v, pp_host_status_name(s)) == 0)
				h->status = s;
	} else if (strcmp(k, "last_code") == 0) {
		int c = pp_ddns_code_lookup(v);
		h->last_code = c < 0 ? PP_DC_UNKNOWN : (enum pp_ddns_code)c;
	}
}

static void
echo_field(struct pp_ddns_state *st, const char *k, const char *v)
{
	if (strcmp(k, "addr") == 0) set_str(st->echo.addr, sizeof st->echo.addr, v);
	else if (strcmp(k, "wan") == 0) set_str(st->echo.wan, sizeof st->echo.wan, v);
	else if (strcmp(k, "verdict") == 0) set_str(st->verdict, sizeof st->verdict, v);
}

static void
parse_state(struct pp_ddns_state *st, char *text)
{
	struct pp_ddns_host *h = NULL;
	bool echo = false;

	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "[host ", 6) == 0 && line[strlen(line) - 1] == ']') {
			line[strlen(line) - 1] = '\0';
			h = pp_ddns_state_host(st, line + 6);
			echo = false;
		} else if (strcmp(line, "[echo]") == 0) {
			h = NULL;
			echo = true;
		} else if (strchr(line, '=') && *line != '#') {
			char *v = strchr(line, '=');
			*v++ = '\0';
			if (h)
				host_field(h, line, v);
			else if (echo)
				echo_field(st, line, v);
		}
	}
}

int
pp_ddns_state_load(const char *dir, const char *name, struct pp_ddns_state *st, struct pp_error *err)
{
	char *path = state_path(dir, name);
	size_t len;
	char *text = pp_read_file(path, &len);

	memset(st, 0, sizeof *st);
	st->name = pp_xstrdup(name);
	if (text == NULL && errno != ENOENT) {
		pp_error_set(err, "%s: cannot read DDNS state: %s; check --state-dir", path, strerror(errno));
		free(path);
		return -1;
	}
	if (text)
		parse_state(st, text);
	free(text);
	free(path);
	return 0;
}

/* Values are written on one line each; a newline in a reason would split it. */
static void
put(struct pp_buf *b, const char *k, const char *v)
{
	pp_buf_printf(b, "%s=", k);
	for (; *v; v++)
		pp_buf_add(b, *v == '\n' || *v == '\r' ? " " : v, 1);
	pp_buf_addstr(b, "\n");
}

static void
render(struct pp_buf *b, const struct pp_ddns_state *st)
{
	pp_buf_printf(b, "# portpilot DDNS state of [ddns %s]; written by portpilot\n[echo]\n", st->name);
	put(b, "addr", st->echo.addr);
	put(b, "wan", st->echo.wan);
	put(b, "verdict", st->verdict);
	for (size_t i = 0; i < st->nhosts; i++) {
		const struct pp_ddns_host *h = &st->hosts[i];
		pp_buf_printf(b, "[host %s]\n", h->host);
		put(b, "published", h->published);
		pp_buf_printf(b, "published_at=%lld\nlast_attempt=%lld\nnext_attempt=%lld\n",
		              (long long)h->published_at, (long long)h->last_attempt,
		              (long long)h->next_attempt);
		pp_buf_printf(b, "failures=%d\nnochg=%d\nstatus=%s\nlast_code=%s\nstop_hash=%016llx\n",
		              h->failures, h->nochg, pp_host_status_name(h->status),
		              pp_ddns_code_name(h->last_code), h->stop_hash);
		put(b, "reason", h->reason);
	}
}

/* Write text to path atomically (temp file, fsync, rename), creating dir; unchanged text is not written. */
static int
save_text(const char *dir, const char *path, const struct pp_buf *b, const char *what, struct pp_error *err)
{
	char *tmp = pp_xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd, rc = -1;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		pp_error_set(err, "%s: cannot create state directory: %s; create it or use --state-dir",
		             dir, strerror(errno));
		goto out;
	}
	/* A poll that changed nothing writes nothing: no fsync every few minutes on flash. */
	size_t oldlen;
	char *old = pp_read_file(path, &oldlen);
	bool same = old && oldlen == b->len && memcmp(old, b->data, b->len) == 0;
	free(old);
	if (same) {
		rc = 0;
		goto out;
	}
	/* Our pid's name: whatever sits there (a link planted in a shared --state-dir, a file a
	 * killed run with this pid left) is removed, never written through. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || pp_write_all(fd, b->data, b->len) < 0 || fsync(fd) < 0) {
		pp_error_set(err, "%s: cannot write %s: %s", tmp, what, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		pp_error_set(err, "%s: cannot replace %s: %s", path, what, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

int
pp_ddns_state_save(const char *dir, const struct pp_ddns_state *st, struct pp_error *err)
{
	struct pp_buf b = { 0 };
	char *path = state_path(dir, st->name);

	render(&b, st);
	int rc = save_text(dir, path, &b, "DDNS state", err);
	pp_buf_free(&b);
	free(path);
	return rc;
}

int
pp_ddns_state_lock(const char *dir, const char *name, int wait_ms, struct pp_error *err)
{
	char *state = state_path(dir, name), *path = pp_xasprintf("%s.lock", state);
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	struct stat sb;
	int fd = -1;

	free(state);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		pp_error_set(err, "%s: cannot create state directory: %s; create it or use --state-dir", dir,
		             strerror(errno));
		goto out;
	}
	/* Never through a link: whoever planted one would have us create or lock its target. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		pp_error_set(err, "%s: cannot open the DDNS state lock: %s (it must be a regular file: remove "
		             "it)", path, fd < 0 ? strerror(errno) : "not a regular file");
		goto fail;
	}
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 20) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			pp_error_set(err, "%s: cannot lock: %s", path, strerror(errno));
			goto fail;
		}
		if (waited >= wait_ms) {
			char pid[16] = "";
			ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			pp_error_set(err, "%s: held by pid %s for %d ms (another watch6 or ddns updating this "
			             "section): try again when it ends", path, *pid ? pid : "?", wait_ms);
			goto fail;
		}
		nanosleep(&nap, NULL);
	}
	/* Who holds it, for the message of one who waits too long. */
	char me[16];
	int n = snprintf(me, sizeof me, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, me, (size_t)n, 0) < 0) {
		/* only the message of a waiter loses the pid */
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
out:
	free(path);
	return fd;
}

void
pp_ddns_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- what each echo service last answered, shared by every section ---- */

struct ddns_echo_seen *
ddns_echo_cache_get(struct ddns_echo_cache *c, const char *url)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].url, url) == 0)
			return &c->v[i];
	c->v = pp_xrealloc(c->v, (c->n + 1) * sizeof *c->v);
	struct ddns_echo_seen *e = &c->v[c->n++];
	memset(e, 0, sizeof *e);
	e->url = pp_xstrdup(url);
	return e;
}

void
ddns_echo_cache_free(struct ddns_echo_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].url);
	free(c->v);
	memset(c, 0, sizeof *c);
}

int
ddns_echo_cache_load(const char *dir, struct ddns_echo_cache *c, struct pp_error *err)
{
	char *path = pp_xasprintf("%s/" ECHO_STATE, dir);
	size_t len;
	char *text = pp_read_file(path, &len);
	struct ddns_echo_seen *e = NULL;

	memset(c, 0, sizeof *c);
	if (text == NULL && errno != ENOENT) {
		pp_error_set(err, "%s: cannot read the echo services' state: %s; check --state-dir",
		             path, strerror(errno));
		free(path);
		return -1;
	}
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		size_t n = strlen(line);
		if (strncmp(line, "[service ", 9) == 0 && n > 10 && line[n - 1] == ']') {
			line[n - 1] = '\0';
			e = ddns_echo_cache_get(c, line + 9);
		} else if (e && strncmp(line, "asked=", 6) == 0) {
			e->asked = strtoll(line + 6, NULL, 10);
		} else if (e && strncmp(line, "addr=", 5) == 0) {
			set_str(e->addr, sizeof e->addr, line + 5);
		}
	}
	free(text);
	free(path);
	return 0;
}

int
ddns_echo_cache_save(const char *dir, const struct ddns_echo_cache *c, struct pp_error *err)
{
	struct pp_buf b = { 0 };
	char *path = pp_xasprintf("%s/" ECHO_STATE, dir);

	pp_buf_addstr(&b, "# portpilot: what each echo service last answered, shared by every [ddns] "
	              "section (each is asked at most every 10 minutes); written by portpilot\n");
	for (size_t i = 0; i < c->n; i++) {
		pp_buf_printf(&b, "[service %s]\nasked=%lld\n", c->v[i].url, (long long)c->v[i].asked);
		put(&b, "addr", c->v[i].addr);
	}
	int rc = save_text(dir, path, &b, "the echo services' state", err);
	pp_buf_free(&b);
	free(path);
	return rc;
}

int
pp_ddns_status_load(const struct pp_conf *conf, const char *dir, struct pp_ddns_status **rows,
                    size_t *n, struct pp_error *err)
{
	*rows = NULL;
	*n = 0;
	for (size_t i = 0; i < conf->nddns; i++) {
		const struct pp_ddns_conf *dc = &conf->ddns[i];
		struct pp_ddns_state st;
		if (pp_ddns_state_load(dir, dc->name, &st, err) < 0) {
			free(*rows);
			*rows = NULL;
			*n = 0;
			return -1;
		}
		for (size_t k = 0; k < dc->nhosts; k++) {
			*rows = pp_xrealloc(*rows, (*n + 1) * sizeof **rows);
			struct pp_ddns_status *r = &(*rows)[(*n)++];
			memset(r, 0, sizeof *r);
			r->conf = dc;
			r->host = *pp_ddns_state_host(&st, dc->hosts[k]);
			snprintf(r->verdict, sizeof r->verdict, "%s", st.verdict);
		}
		pp_ddns_state_free(&st);
	}
	return 0;
}
