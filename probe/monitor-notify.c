/* Where monitor events go: journald, the history file, a hook command and a webhook, each
 * retried with backoff and none able to hold up the checks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "portpilot/conf.h"
#include "portpilot/util.h"
#include "monitor-internal.h"

#define MAX_TRIES 6            /* the first try and five retries: 2, 4, 8, 16, 32 s later */
#define MAX_QUEUE 64           /* events waiting for a notifier; beyond, the oldest is dropped */
#define HOOK_TIMEOUT_MS 30000

struct job {
	struct mon_event ev;
	char *json;
	int tries;
	double next_ms;            /* monotonic time of the next try */
	pid_t pid;                 /* hook: running child, 0 none */
	double started;
	CURL *easy;                /* webhook: transfer in flight */
	struct curl_slist *hdr;
	char *body;
	bool webhook;              /* which notifier this job is for */
};

struct mon_notify {
	const struct pp_mon_conf *mc;
	char *history, *token;
	FILE *log, *json_out;
	CURLM *multi;
	struct job *jobs;
	size_t njobs;
};

void
mon_event_view(const struct mon_event *e, struct pp_mon_event *v)
{
	*v = (struct pp_mon_event){ e->mapping, e->state, e->previous, e->since, e->detail,
	                            e->cause, e->summary, e->fix, e->public_path };
}

void
mon_event_free(struct mon_event *e)
{
	free(e->mapping);
	free(e->detail);
	free(e->cause);
	free(e->summary);
	free(e->fix);
	memset(e, 0, sizeof *e);
}

static void
event_copy(struct mon_event *d, const struct mon_event *s)
{
	*d = *s;
#define DUP(f) d->f = s->f ? pp_xstrdup(s->f) : NULL
	DUP(mapping); DUP(detail); DUP(cause); DUP(summary); DUP(fix);
#undef DUP
}

static void
iso(time_t t, char out[32])
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void
json_kv(struct pp_buf *b, const char *k, const char *v, bool first)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	pp_json_str(f, v);
	fclose(f);
	pp_buf_printf(b, "%s\"%s\":%s", first ? "" : ",", k, s);
	free(s);
}

char *
pp_mon_event_json(const struct pp_mon_event *ev)
{
	struct pp_buf b = { 0 };
	char since[32];

	iso(ev->since, since);
	pp_buf_addstr(&b, "{");
	json_kv(&b, "mapping", ev->mapping, true);
	json_kv(&b, "state", pp_health_name(ev->state), false);
	json_kv(&b, "scope", ev->public_path ? "public" : "lan", false);
	json_kv(&b, "previous", pp_health_name(ev->previous), false);
	json_kv(&b, "since", since, false);
	pp_buf_printf(&b, ",\"since_epoch\":%lld", (long long)ev->since);
	json_kv(&b, "detail", ev->detail, false);
	json_kv(&b, "cause", ev->cause, false);
	json_kv(&b, "summary", ev->summary, false);
	json_kv(&b, "fix", ev->fix, false);
	char *msg = pp_mon_event_message(ev);
	json_kv(&b, "message", msg, false);
	free(msg);
	pp_buf_addstr(&b, "}");
	return b.data;
}

char *
pp_mon_event_message(const struct pp_mon_event *ev)
{
	char hm[8];
	struct tm tm;

	localtime_r(&ev->since, &tm);
	strftime(hm, sizeof hm, "%H:%M", &tm);
	if (ev->state == PP_HEALTH_DOWN)
		return pp_xasprintf("%s DOWN%s since %s: %s%s%s%s%s", ev->mapping,
		                    ev->public_path ? " from the internet" : "", hm,
		                    ev->cause ? ev->cause : "", ev->cause ? ": " : "",
		                    ev->summary ? ev->summary : ev->detail ? ev->detail : "check failed",
		                    ev->fix ? "; fix: " : "", ev->fix ? ev->fix : "");
	return pp_xasprintf("%s %s%s since %s%s%s", ev->mapping, ev->state == PP_HEALTH_UP ? "UP" : "unknown",
	                    ev->public_path ? " from the internet" : "", hm, ev->detail ? ": " : "",
	                    ev->detail ? ev->detail : "");
}

char *
pp_mon_template(const char *tpl, const struct pp_mon_event *ev, bool json)
{
	struct pp_buf b = { 0 };
	char since[32];
	char *msg = pp_mon_event_message(ev);

	iso(ev->since, since);
	const char *names[] = { "mapping", "state", "cause", "summary", "fix", "since", "message",
	                        "detail", NULL };
	const char *vals[] = { ev->mapping, pp_health_name(ev->state), ev->cause, ev->summary, ev->fix,
	                       since, msg, ev->detail };
	for (const char *p = tpl; *p;) {
		int hit = -1;
		if (*p == '{')
			for (int i = 0; names[i]; i++) {
				size_t l = strlen(names[i]);
				if (!strncmp(p + 1, names[i], l) && p[1 + l] == '}')
					hit = i;
			}
		if (hit < 0) {
			pp_buf_add(&b, p++, 1);
			continue;
		}
		const char *v = vals[hit] ? vals[hit] : "";
		p += strlen(names[hit]) + 2;
		if (!json) {
			pp_buf_addstr(&b, v);
			continue;
		}
		/* Inside a JSON string: escaped, without the quotes (the template has them). */
		for (; *v; v++) {
			unsigned char c = (unsigned char)*v;
			if (c == '"' || c == '\\')
				pp_buf_printf(&b, "\\%c", c);
			else if (c < 0x20)
				pp_buf_printf(&b, "\\u%04x", c);
			else
				pp_buf_add(&b, v, 1);
		}
	}
	free(msg);
	if (b.data == NULL)
		pp_buf_addstr(&b, "");
	return b.data;
}

/* The webhook's token from the secret file: 0 and *out (NULL when there is no file), or -1. */
static int
read_token(const struct pp_mon_conf *mc, char **out, struct pp_error *err)
{
	struct pp_creds c;

	*out = NULL;
	if (mc->secret_file == NULL)
		return 0;
	if (pp_creds_load(mc->secret_file, &c, err) < 0)
		return -1;
	if (c.token == NULL) {
		pp_creds_free(&c);
		return pp_error_set(err, "%s: no token= line; write token=THE-SECRET (mode 0600)", mc->secret_file);
	}
	*out = pp_xstrdup(c.token);
	pp_creds_free(&c);
	return 0;
}

static void
wipe(char *s)
{
	if (s)
		memset(s, 0, strlen(s)), free(s);
}

int
mon_notify_reload(struct mon_notify *n, const struct pp_mon_conf *mc, const char *state_dir,
                  struct pp_error *err)
{
	char *token;

	if (read_token(mc, &token, err) < 0)
		return -1;
	wipe(n->token);
	n->token = token;
	free(n->history);
	n->history = mc->history_file ? pp_xstrdup(mc->history_file)
	                              : pp_xasprintf("%s/monitor-history.jsonl", state_dir);
	return 0;
}

struct mon_notify *
mon_notify_new(const struct pp_mon_conf *mc, const char *state_dir, FILE *log, struct pp_error *err)
{
	struct mon_notify *n = pp_xcalloc(1, sizeof *n);

	n->mc = mc;
	n->log = log;
	if (mon_notify_reload(n, mc, state_dir, err) < 0) {
		mon_notify_free(n);
		return NULL;
	}
	n->multi = curl_multi_init();
	return n;
}

static void
job_clear(struct mon_notify *n, struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(n->multi, j->easy);
		curl_easy_cleanup(j->easy);
	}
	curl_slist_free_all(j->hdr);
	free(j->body);
	free(j->json);
	mon_event_free(&j->ev);
	if (j->pid > 0) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	memset(j, 0, sizeof *j);
}

void
mon_notify_free(struct mon_notify *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->njobs; i++)
		job_clear(n, &n->jobs[i]);
	free(n->jobs);
	if (n->multi)
		curl_multi_cleanup(n->multi);
	free(n->history);
	wipe(n->token);
	free(n);
}

/* journald's native protocol: one datagram of KEY=value lines; values here are one line. */
static bool
journal(const struct pp_mon_event *ev, const char *msg)
{
	const char *path = getenv("PORTPILOT_JOURNAL_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pp_buf b = { 0 };
	bool ok = false;
	int fd;

	if (path == NULL)
		path = "/run/systemd/journal/socket";
	if (strlen(path) >= sizeof sa.sun_path || access(path, F_OK) < 0)
		return false;
	strcpy(sa.sun_path, path);
	const char *kv[][2] = { { "MESSAGE", msg }, { "MAPPING", ev->mapping },
	                        { "STATE", pp_health_name(ev->state) },
	                        { "PREVIOUS_STATE", pp_health_name(ev->previous) },
	                        { "SCOPE", ev->public_path ? "public" : "lan" },
	                        { "CAUSE", ev->cause }, { "SUMMARY", ev->summary }, { "FIX", ev->fix },
	                        { "DETAIL", ev->detail } };
	pp_buf_printf(&b, "PRIORITY=%d\nSYSLOG_IDENTIFIER=portpilot-monitor\n",
	              ev->state == PP_HEALTH_DOWN ? 3 : 5);
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		if (kv[i][1] == NULL)
			continue;
		pp_buf_printf(&b, "%s=", kv[i][0]);
		for (const char *p = kv[i][1]; *p; p++)
			pp_buf_add(&b, *p == '\n' ? " " : p, 1);
		pp_buf_addstr(&b, "\n");
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		ok = sendto(fd, b.data, b.len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof sa) == (ssize_t)b.len;
		close(fd);
	}
	pp_buf_free(&b);
	return ok;
}

/* Append one line; past the size bound the file moves to FILE.1 (the one before is dropped). */
static void
history(struct mon_notify *n, const char *json)
{
	struct stat st;

	if (stat(n->history, &st) == 0 && st.st_size + (off_t)strlen(json) + 1 > n->mc->history_max_bytes) {
		char *old = pp_xasprintf("%s.1", n->history);
		if (rename(n->history, old) < 0)
			fprintf(n->log, "monitor: cannot rotate %s: %s\n", n->history, strerror(errno));
		free(old);
	}
	int fd = open(n->history, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(n->log, "monitor: cannot write the history %s: %s\n", n->history, strerror(errno));
		return;
	}
	struct pp_buf b = { 0 };
	pp_buf_printf(&b, "%s\n", json);
	/* One write of the line with O_APPEND: a reader never sees half a line. */
	if (write(fd, b.data, b.len) != (ssize_t)b.len)
		fprintf(n->log, "monitor: short write to the history %s\n", n->history);
	pp_buf_free(&b);
	close(fd);
}

static void
queue(struct mon_notify *n, const struct mon_event *e, const char *json, bool webhook)
{
	if (n->njobs == MAX_QUEUE) {
		fprintf(n->log, "monitor: %d notifications waiting; dropping the oldest (%s %s)\n",
		        MAX_QUEUE, n->jobs[0].ev.mapping, pp_health_name(n->jobs[0].ev.state));
		job_clear(n, &n->jobs[0]);
		memmove(&n->jobs[0], &n->jobs[1], (n->njobs - 1) * sizeof *n->jobs);
		n->njobs--;
	}
	n->jobs = pp_xrealloc(n->jobs, (n->njobs + 1) * sizeof *n->jobs);
	struct job *j = &n->jobs[n->njobs++];
	memset(j, 0, sizeof *j);
	event_copy(&j->ev, e);
	j->json = pp_xstrdup(json);
	j->webhook = webhook;
	j->next_ms = pp_now_ms();
}

void
mon_notify_send(struct mon_notify *n, const struct mon_event *e)
{
	struct pp_mon_event v;
	mon_event_view(e, &v);
	char *json = pp_mon_event_json(&v), *msg = pp_mon_event_message(&v);

	/* Under systemd stdout is the journal already: say it once. */
	if (!journal(&v, msg) || getenv("JOURNAL_STREAM") == NULL) {
		fprintf(n->log, "%s\n", msg);
		fflush(n->log);
	}
	if (n->json_out) {
		fprintf(n->json_out, "%s\n", json);
		fflush(n->json_out);
	}
	history(n, json);
	if (n->mc->hook)
		queue(n, e, json, false);
	if (n->mc->webhook)
		queue(n, e, json, true);
	free(json);
	free(msg);
}

static void
hook_start(struct mon_notify *n, struct job *j)
{
	int p[2];
	char since[32];

	j->next_ms = pp_now_ms() + 2000;       /* if it cannot even start: again in a while */
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(n->log, "monitor: hook: pipe: %s\n", strerror(errno));
		return;
	}
	iso(j->ev.since, since);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(n->log, "monitor: hook: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		/* The event's values reach the command only through its environment and stdin,
		 * never through the command line the shell parses. */
		dup2(p[0], 0);
		setenv("PP_MAPPING", j->ev.mapping, 1);
		setenv("PP_STATE", pp_health_name(j->ev.state), 1);
		setenv("PP_PREVIOUS", pp_health_name(j->ev.previous), 1);
		setenv("PP_SCOPE", j->ev.public_path ? "public" : "lan", 1);
		setenv("PP_SINCE", since, 1);
		setenv("PP_CAUSE", j->ev.cause ? j->ev.cause : "", 1);
		setenv("PP_SUMMARY", j->ev.summary ? j->ev.summary : "", 1);
		setenv("PP_FIX", j->ev.fix ? j->ev.fix : "", 1);
		setenv("PP_DETAIL", j->ev.detail ? j->ev.detail : "", 1);
		execl("/bin/sh", "sh", "-c", n->mc->hook, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	/* The event is a few hundred bytes: it fits the pipe, the write does not wait. */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	struct pp_buf b = { 0 };
	pp_buf_printf(&b, "%s\n", j->json);
	if (write(p[1], b.data, b.len) < 0 && errno != EPIPE)
		fprintf(n->log, "monitor: hook: stdin: %s\n", strerror(errno));
	pp_buf_free(&b);
	close(p[1]);
	j->pid = pid;
	j->started = pp_now_ms();
	j->next_ms = 1e300;
}

static size_t
discard(char *p, size_t s, size_t nm, void *u)
{
	(void)p;
	(void)u;
	return s * nm;
}

static void
webhook_start(struct mon_notify *n, struct job *j)
{
	const struct pp_mon_conf *mc = n->mc;
	struct pp_mon_event v;
	bool json = mc->webhook_content_type == NULL || strstr(mc->webhook_content_type, "json");
	char *url, *ct;

	mon_event_view(&j->ev, &v);
	free(j->body);
	j->body = mc->webhook_body ? pp_mon_template(mc->webhook_body, &v, json) : pp_xstrdup(j->json);
	/* The token goes into the URL where it asks for it (Telegram-style), else as a bearer. */
	if (n->token && strstr(mc->webhook, "{token}")) {
		struct pp_buf b = { 0 };
		const char *at = strstr(mc->webhook, "{token}");
		pp_buf_add(&b, mc->webhook, (size_t)(at - mc->webhook));
		pp_buf_addstr(&b, n->token);
		pp_buf_addstr(&b, at + 7);
		url = b.data;
	} else {
		url = pp_xstrdup(mc->webhook);
		if (n->token) {
			char *h = pp_xasprintf("Authorization: Bearer %s", n->token);
			j->hdr = curl_slist_append(j->hdr, h);
			memset(h, 0, strlen(h));
			free(h);
		}
	}
	ct = pp_xasprintf("Content-Type: %s", mc->webhook_content_type ? mc->webhook_content_type
	                                                                 : "application/json");
	j->hdr = curl_slist_append(j->hdr, ct);
	free(ct);
	j->easy = curl_easy_init();
	curl_easy_setopt(j->easy, CURLOPT_URL, url);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdr);
	curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "portpilot-monitor/" PP_VERSION);
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_multi_add_handle(n->multi, j->easy);
	memset(url, 0, strlen(url));
	free(url);
	j->started = pp_now_ms();
}

/* One try ended: done, or again later with a doubled wait, or given up. */
static bool
try_ended(struct mon_notify *n, struct job *j, bool ok, const char *why)
{
	const char *what = j->webhook ? "webhook" : "hook";

	if (ok)
		return true;
	if (++j->tries >= MAX_TRIES) {
		fprintf(n->log, "monitor: %s: giving up on %s %s after %d tries: %s\n", what, j->ev.mapping,
		        pp_health_name(j->ev.state), j->tries, why);
		return true;
	}
	double wait = 2000.0 * (1 << (j->tries - 1));
	fprintf(n->log, "monitor: %s failed for %s %s (%s); again in %.0f s\n", what, j->ev.mapping,
	        pp_health_name(j->ev.state), why, wait / 1000);
	j->next_ms = pp_now_ms() + wait;
	return false;
}

static void
drive(struct mon_notify *n)
{
	double now = pp_now_ms();
	int running, left;
	CURLMsg *msg;

	curl_multi_perform(n->multi, &running);
	while ((msg = curl_multi_info_read(n->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg lives in the handle: copy it out before the handle goes. */
		CURL *easy = msg->easy_handle;
		CURLcode res = msg->data.result;
		for (size_t i = 0; i < n->njobs; i++) {
			struct job *j = &n->jobs[i];
			long code = 0;
			char why[128];
			if (j->easy != easy)
				continue;
			curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
			if (res != CURLE_OK)
				snprintf(why, sizeof why, "%s", curl_easy_strerror(res));
			else
				snprintf(why, sizeof why, "HTTP status %ld", code);
			bool ok = res == CURLE_OK && code >= 200 && code < 300;
			curl_multi_remove_handle(n->multi, j->easy);
			curl_easy_cleanup(j->easy);
			curl_slist_free_all(j->hdr);
			j->easy = NULL;
			j->hdr = NULL;
			if (try_ended(n, j, ok, why))
				j->tries = -1;          /* finished: removed below */
			break;
		}
	}
	for (size_t i = 0; i < n->njobs; i++) {
		struct job *j = &n->jobs[i];
		int st;
		if (j->pid > 0) {
			pid_t r = waitpid(j->pid, &st, WNOHANG);
			if (r == 0 && now - j->started > HOOK_TIMEOUT_MS) {
				kill(j->pid, SIGKILL);
				waitpid(j->pid, NULL, 0);
				j->pid = 0;
				if (try_ended(n, j, false, "still running after 30 s, killed"))
					j->tries = -1;
			} else if (r == j->pid) {
				char why[64];
				j->pid = 0;
				snprintf(why, sizeof why, WIFEXITED(st) ? "exit status %d" : "killed by signal %d",
				         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				if (try_ended(n, j, WIFEXITED(st) && WEXITSTATUS(st) == 0, why))
					j->tries = -1;
			}
		}
		if (j->tries >= 0 && j->pid == 0 && j->easy == NULL && now >= j->next_ms) {
			j->next_ms = 1e300;     /* in flight: no new try until this one ends */
			if (j->webhook)
				webhook_start(n, j);
			else
				hook_start(n, j);
		}
	}
	for (size_t i = 0; i < n->njobs;)
		if (n->jobs[i].tries < 0) {
			job_clear(n, &n->jobs[i]);
			memmove(&n->jobs[i], &n->jobs[i + 1], (n->njobs - i - 1) * sizeof *n->jobs);
			n->njobs--;
		} else {
			i++;
		}
}

void
mon_notify_poll(struct mon_notify *n, struct pollfd *fds, int nfds, int ms)
{
	struct curl_waitfd stack[64], *w = nfds <= 64 ? stack : pp_xmalloc((size_t)nfds * sizeof *w);
	double now = pp_now_ms();

	drive(n);
	/* Wake for the next retry and for hooks to reap. */
	for (size_t i = 0; i < n->njobs; i++) {
		double d = n->jobs[i].pid > 0 ? 100 : n->jobs[i].next_ms - now;
		if (n->jobs[i].next_ms < 1e299 || n->jobs[i].pid > 0)
			if (d < ms)
				ms = d < 0 ? 0 : (int)d;
	}
	for (int i = 0; i < nfds; i++)
		w[i] = (struct curl_waitfd){ .fd = fds[i].fd, .events = (short)fds[i].events };
	curl_multi_poll(n->multi, w, (unsigned)nfds, ms, NULL);
	for (int i = 0; i < nfds; i++)
		fds[i].revents = (short)w[i].revents;
	if (w != stack)
		free(w);
	drive(n);
}

void
mon_notify_json(struct mon_notify *n, FILE *out)
{
	n->json_out = out;
}

bool
mon_notify_busy(const struct mon_notify *n)
{
	return n->njobs > 0;
}
