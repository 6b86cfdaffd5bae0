/* portpilot.conf reader: [ddns NAME] and [probe] sections with file:line errors. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iniparser.h>

#include "portpilot/conf.h"
#include "portpilot/util.h"

/* Where each key was written: libiniparser keeps values but not lines. */
struct keyline {
	char *sec, *key;
	int line;
};

struct scan {
	struct keyline *v;
	size_t n, cap;
};

unsigned long long
pp_hash64(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void
scan_add(struct scan *sc, const char *sec, const char *key, int line)
{
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 32;
		sc->v = pp_xrealloc(sc->v, sc->cap * sizeof *sc->v);
	}
	sc->v[sc->n].sec = pp_xstrdup(sec);
	sc->v[sc->n].key = key ? pp_xstrdup(key) : NULL;
	sc->v[sc->n].line = line;
	sc->n++;
}

static void
scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		free(sc->v[i].sec);
		free(sc->v[i].key);
	}
	free(sc->v);
}

/* Line of [sec] (key NULL) or of sec.key; 0 when absent. */
static int
scan_line(const struct scan *sc, const char *sec, const char *key)
{
	for (size_t i = 0; i < sc->n; i++) {
		if (strcmp(sc->v[i].sec, sec) != 0)
			continue;
		if (key == NULL ? sc->v[i].key == NULL : (sc->v[i].key && strcmp(sc->v[i].key, key) == 0))
			return sc->v[i].line;
	}
	return 0;
}

/* "[ Ddns home ]" is named "ddns home" by libiniparser: trimmed, lower case. */
static void
norm_section(char *s)
{
	char *t = pp_trim(s);

	memmove(s, t, strlen(t) + 1);
	lower(s);
}

/* Record sections and keys with their lines; reject lines libiniparser would guess at. */
static int
scan_text(const char *path, char *text, struct scan *sc, struct pp_error *err)
{
	char sec[256] = "";
	int lineno = 0;

	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (pp_lone_cr(line, strlen(line)))
			return pp_error_set(err, "%s:%d: %s", path, lineno, PP_LONE_CR_WHY);
		line = pp_trim(line);
		if (*line == '\0' || *line == ';' || *line == '#')
			continue;
		if (*line == '[') {
			char *end = strchr(line, ']');
			if (end == NULL)
				return pp_error_set(err, "%s:%d: section header without ']'; write [ddns NAME] or [probe]",
				                    path, lineno);
			*end = '\0';
			snprintf(sec, sizeof sec, "%s", line + 1);
			norm_section(sec);
			if (scan_line(sc, sec, NULL))
				return pp_error_set(err, "%s:%d: section [%s] already defined at line %d; merge the two",
				                    path, lineno, sec, scan_line(sc, sec, NULL));
			scan_add(sc, sec, NULL, lineno);
			continue;
		}
		char *eq = strchr(line, '=');
		if (eq == NULL)
			return pp_error_set(err, "%s:%d: expected 'key = value'", path, lineno);
		if (*sec == '\0')
			return pp_error_set(err, "%s:%d: key outside any section; put it under [ddns NAME] or [probe]",
			                    path, lineno);
		*eq = '\0';
		line = pp_trim(line);
		lower(line);
		if (scan_line(sc, sec, line))
			return pp_error_set(err, "%s:%d: key '%s' repeated in [%s] (first at line %d); keep one",
			                    path, lineno, line, sec, scan_line(sc, sec, line));
		scan_add(sc, sec, line, lineno);
	}
	return 0;
}

static int
lookup(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* Split "a, b ,c" into trimmed, non-empty items. */
char **
pp_conf_split_list(const char *s, size_t *n)
{
	char *copy = pp_xstrdup(s), *save = NULL;
	char **v = NULL;

	*n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = pp_trim(tok);
		if (*tok == '\0')
			continue;
		v = pp_xrealloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = pp_xstrdup(tok);
	}
	free(copy);
	return v;
}

/* What a section reader's pp_conf_sec points at: the dictionary and the key lines. */
struct sec_src {
	dictionary *d;
	const struct scan *sc;
};

const char *
pp_conf_sec_get(const struct pp_conf_sec *s, const char *key)
{
	const struct sec_src *src = s->src;
	char full[512];
	const char *v;

	snprintf(full, sizeof full, "%s:%s", s->name, key);
	v = iniparser_getstring(src->d, full, NULL);
	if (v && s->hash)
		*s->hash = pp_hash64(pp_hash64(*s->hash, key, strlen(key) + 1), v, strlen(v) + 1);
	return v && *v ? v : NULL;
}

int
pp_conf_sec_bad(const struct pp_conf_sec *s, const char *key, const char *what)
{
	const struct sec_src *src = s->src;
	int line = scan_line(src->sc, s->name, key);

	if (line == 0)
		line = scan_line(src->sc, s->name, NULL);
	return pp_error_set(s->err, "%s:%d: [%s] %s: %s", s->path, line, s->name, key, what);
}

int
pp_conf_sec_int(const struct pp_conf_sec *s, const char *key, int def, int lo, int hi, int *out)
{
	const char *v = pp_conf_sec_get(s, key);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi) {
		char what[128];
		snprintf(what, sizeof what, "'%s' is not a number from %d to %d", v, lo, hi);
		return pp_conf_sec_bad(s, key, what);
	}
	*out = (int)n;
	return 0;
}

int
pp_conf_sec_unknown(const struct pp_conf_sec *s, const char *const *known, const char *list)
{
	const struct sec_src *src = s->src;

	for (size_t i = 0; i < src->sc->n; i++) {
		const struct keyline *k = &src->sc->v[i];
		if (k->key == NULL || strcmp(k->sec, s->name) != 0 || lookup(known, k->key) >= 0)
			continue;
		return pp_error_set(s->err, "%s:%d: [%s] unknown key '%s'; known keys: %s", s->path, k->line,
		                    s->name, k->key, list);
	}
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? pp_xstrdup(s) : NULL;
}

void
pp_conf_free(struct pp_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nddns; i++)
		pp_ddns_conf_free(&c->ddns[i]);
	free(c->ddns);
	free(c->probe.reflector);
	free(c->probe.token_file);
	free(c->probe.ca_file);
	free(c->probe.reflector6);
	if (c->dict)
		iniparser_freedict(c->dict);
	free(c->path);
	free(c);
}

static int
quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

static int
load_sections(struct pp_conf *c, dictionary *d, const struct scan *sc, struct pp_error *err)
{
	for (size_t i = 0; i < sc->n; i++) {
		const char *sec = sc->v[i].sec;
		if (sc->v[i].key)
			continue;
		if (strcmp(sec, "probe") == 0) {
			c->probe.present = true;
			c->probe.line = sc->v[i].line;
			c->probe.reflector = dup_or_null(iniparser_getstring(d, "probe:reflector", NULL));
			c->probe.token_file = dup_or_null(iniparser_getstring(d, "probe:token_file", NULL));
			const char *ca = iniparser_getstring(d, "probe:ca_file", NULL);
			c->probe.ca_file = ca && *ca ? pp_xstrdup(ca) : NULL; /* "ca_file =": none */
			c->probe.reflector6 = dup_or_null(iniparser_getstring(d, "probe:reflector6", NULL));
			continue;
		}
		/* [monitor] is read and checked by the monitor itself (probe/monitor-conf.c). */
		if (strcmp(sec, "monitor") == 0)
			continue;
		if (strncmp(sec, "ddns ", 5) != 0)
			return pp_error_set(err, "%s:%d: unknown section [%s]; expected [ddns NAME], [probe] or [monitor]",
			                    c->path, sc->v[i].line, sec);
		c->ddns = pp_xrealloc(c->ddns, (c->nddns + 1) * sizeof *c->ddns);
		struct pp_ddns_conf *dc = &c->ddns[c->nddns++];
		memset(dc, 0, sizeof *dc);
		char *nm = pp_xstrdup(sec + 5);
		dc->name = pp_xstrdup(pp_trim(nm));
		free(nm);
		dc->line = sc->v[i].line;
		/* The [ddns] keys are ddns/'s to know (ddns/conf-ddns.c): core hands it the section. */
		struct sec_src src = { d, sc };
		struct pp_conf_sec s = { c->path, sec, dc->line, &dc->hash, &src, err };
		if (pp_ddns_conf_read(&s, dc) < 0)
			return -1;
		dc->mapping_line = dc->mapping ? scan_line(sc, sec, "mapping") : 0;
	}
	return 0;
}

int
pp_conf_load(const char *path, bool missing_ok, struct pp_conf **out, struct pp_error *err)
{
	struct scan sc = { 0 };
	struct pp_conf *c;
	struct pp_error e;
	size_t len, bom = 0;
	char *text = pp_read_file_max(path, PP_CONF_MAX, &len, &e), fdpath[64];
	int rc = -1, fd = -1;

	*out = NULL;
	if (text == NULL && errno == ENOENT && missing_ok) {
		*out = pp_xcalloc(1, sizeof **out);
		(*out)->path = pp_xstrdup(path);
		return 0;
	}
	if (text == NULL)
		return pp_error_set(err, "%.900s; create it or give another with -c FILE", e.msg);
	c = pp_xcalloc(1, sizeof *c);
	c->path = pp_xstrdup(path);
	/* A UTF-8 BOM (Notepad writes one) is no part of the first line, for libiniparser neither. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		bom = 3;
	/*
	 * libiniparser reads the bytes already judged and read, from memory: opening
	 * the path again would meet whatever is there by then (a FIFO, a bigger file).
	 */
	fd = memfd_create("portpilot-conf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, text + bom, len - bom) != (ssize_t)(len - bom)) {
		pp_error_set(err, "%s: cannot stage it for libiniparser: %s", path, strerror(errno));
		goto out;
	}
	if (scan_text(path, text + bom, &sc, err) < 0)
		goto out;
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	iniparser_set_error_callback(quiet);
	c->dict = iniparser_load(fdpath);
	iniparser_set_error_callback(NULL);
	if (c->dict == NULL) {
		pp_error_set(err, "%s: cannot be parsed as INI; check the syntax", path);
		goto out;
	}
	rc = load_sections(c, c->dict, &sc, err);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	scan_free(&sc);
	if (rc < 0)
		pp_conf_free(c);
	else
		*out = c;
	return rc;
}

const char *
pp_conf_get(const struct pp_conf *c, const char *section, const char *key)
{
	char full[512], *p;

	if (c == NULL || c->dict == NULL)
		return NULL;
	snprintf(full, sizeof full, "%s:%s", section, key);
	for (p = full; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return iniparser_getstring(c->dict, full, NULL);
}

const struct pp_ddns_conf *
pp_conf_ddns_find(const struct pp_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nddns; i++)
		if (strcasecmp(c->ddns[i].name, name) == 0)
			return &c->ddns[i];
	return NULL;
}

/* ---- credentials ---- */

static void
wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
pp_creds_free(struct pp_creds *c)
{
	wipe_free(c->username);
	wipe_free(c->password);
	wipe_free(c->token);
	wipe_free(c->key_name);
	wipe_free(c->key_algorithm);
	wipe_free(c->key_secret);
	memset(c, 0, sizeof *c);
}

/*
 * When path is a symbolic link, the file the descriptor really reads, for
 * messages: a chmod or chown given the link's name would change its target
 * (say /etc/shadow) without saying so. NULL when path is no link.
 */
static char *
link_target(const char *path, int fd)
{
	struct stat lst;
	char proc[64], real[4096];
	ssize_t n;

	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return NULL;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, real, sizeof real - 1);
	real[n > 0 ? n : 0] = '\0';
	return pp_xstrdup(n > 0 ? real : "its target");
}

/* Refuse the secret file fd as read: mode or owner; the fix names the real file, never the link. */
static void
judge_secret(const char *path, const char *what, int fd, const struct stat *st, struct pp_error *err)
{
	char *real = link_target(path, fd);
	const char *fixed = real ? real : path;
	char how[200];

	if (st->st_mode & 077)
		snprintf(how, sizeof how, "may be read by others (mode %04o)", (unsigned)(st->st_mode & 07777));
	else
		snprintf(how, sizeof how, "is owned by uid %u, not by root or this user", (unsigned)st->st_uid);
	if (real)
		pp_error_set(err, "%s %s is a symbolic link to %.1000s, which %s; portpilot does not change a file "
		             "through a link: if %.1000s holds only this secret, %s %.1000s, else point the setting at "
		             "a file of its own (mode 0600)", what, path, real, how, real,
		             st->st_mode & 077 ? "chmod 600" : "chown root", real);
	else
		pp_error_set(err, "%s %s %s: %s %s", what, path, how, st->st_mode & 077 ? "chmod 600" : "chown root",
		             fixed);
	free(real);
}

char *
pp_secret_read(const char *path, const char *what, size_t *len, struct pp_error *err)
{
	struct stat st;
	struct pp_buf b = { 0 };
	char chunk[4096];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) < 0)
		pp_error_set(err, "%s %s: %s", what, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		pp_error_set(err, "%s %s is not a regular file (it is %s)", what, path, pp_file_kind(st.st_mode));
	else if ((st.st_mode & 077) || (st.st_uid != geteuid() && st.st_uid != 0))
		judge_secret(path, what, fd, &st, err);
	else if (st.st_size > (off_t)PP_SECRET_MAX)
		n = -1, errno = EFBIG;
	else {
		pp_buf_add(&b, "", 0);
		while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)) {
			if (n > 0 && b.len + (size_t)n > PP_SECRET_MAX) {
				n = -1;
				errno = EFBIG;
				break;
			}
			if (n > 0)
				pp_buf_add(&b, chunk, (size_t)n);
		}
		explicit_bzero(chunk, sizeof chunk);
	}
	if (n < 0 && errno == EFBIG)
		pp_error_set(err, "%s %s is larger than %u KiB, more than any secret needs; is it the right file?",
		             what, path, PP_SECRET_MAX >> 10);
	else if (n < 0)
		pp_error_set(err, "%s %s: %s", what, path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (n == 0 && b.data) {
		if (len)
			*len = b.len;
		return b.data;
	}
	if (b.data)
		explicit_bzero(b.data, b.len);
	pp_buf_free(&b);
	return NULL;
}

static int
creds_line(struct pp_creds *c, char *line, const char *path, int lineno, struct pp_error *err)
{
	char *eq = strchr(line, '=');
	char **slot;

	if (eq == NULL)
		return pp_error_set(err, "%s:%d: expected key=value (value not shown)", path, lineno);
	*eq = '\0';
	line = pp_trim(line);
	if (strcmp(line, "username") == 0) slot = &c->username;
	else if (strcmp(line, "password") == 0) slot = &c->password;
	else if (strcmp(line, "token") == 0) slot = &c->token;
	else if (strcmp(line, "key_name") == 0) slot = &c->key_name;
	else if (strcmp(line, "key_algorithm") == 0) slot = &c->key_algorithm;
	else if (strcmp(line, "key_secret") == 0) slot = &c->key_secret;
	else
		return pp_error_set(err, "%s:%d: unknown key; use username, password, token, key_name, "
		                    "key_algorithm or key_secret", path, lineno);
	wipe_free(*slot);
	*slot = pp_xstrdup(pp_trim(eq + 1));
	return 0;
}

int
pp_creds_load(const char *path, struct pp_creds *c, struct pp_error *err)
{
	size_t len;
	char *text;
	int lineno = 0, rc = 0;

	memset(c, 0, sizeof *c);
	if ((text = pp_secret_read(path, "credentials file", &len, err)) == NULL)
		return -1;
	c->hash = pp_hash64(PP_HASH64_INIT, text, len);
	for (char *line = text, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (pp_lone_cr(line, strlen(line))) {
			rc = pp_error_set(err, "%s:%d: %s", path, lineno, PP_LONE_CR_WHY);
			break;
		}
		line = pp_trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		rc = creds_line(c, line, path, lineno, err);
	}
	explicit_bzero(text, len);
	free(text);
	if (rc < 0)
		pp_creds_free(c);
	return rc;
}
