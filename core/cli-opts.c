/* One parser for every subcommand's argv, by its spec (include/portpilot/cli-opts.h), and
   the help and usage lines made from the same spec. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portpilot/cli-opts.h"
#include "portpilot/util.h"

static size_t
distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b), d[32][32];

	if (n > 31 || m > 31)
		return (size_t)-1;
	for (size_t i = 0; i <= n; i++)
		for (size_t j = 0; j <= m; j++) {
			if (i == 0 || j == 0) {
				d[i][j] = i + j;
				continue;
			}
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

size_t
pp_near_distance(const char *word, const char *name)
{
	size_t len = strlen(word);

	if (len >= 2 && len < strlen(name) && strncasecmp(word, name, len) == 0)
		return 0;
	return distance(word, name);
}

/* "; did you mean --confirm?" for the nearest long option, "" when none is close. */
static void
near_option(const struct pp_cmd_spec *spec, const char *word, char *out, size_t n)
{
	size_t best = 3, len = strlen(word);
	const char *hit = NULL;

	*out = '\0';
	for (const struct pp_opt *o = spec->opts; o && (o->name || o->letter); o++) {
		size_t d = o->name ? pp_near_distance(word, o->name) : (size_t)-1;
		if (d < best && 2 * d < len)
			best = d, hit = o->name;
	}
	if (hit)
		snprintf(out, n, "; did you mean --%s?", hit);
}

/* "portpilot CMD: msg what hint (portpilot CMD --help)"; cmd NULL: the global options'. */
static int
fail(struct pp_cli *cli, const char *cmd, const char *msg, const char *what, const char *hint)
{
	const char *sp = cmd ? " " : "";

	cmd = cmd ? cmd : "";
	fprintf(cli->err, "portpilot%s%s: %s%s%s (portpilot%s%s --help)\n", sp, cmd, msg, what, hint, sp, cmd);
	return PP_EXIT_USAGE;
}

/* The row of option word w ("--name", "--name=v", "-x"), or -1; *value points past '='. */
static int
find(const struct pp_cmd_spec *spec, const char *w, const char **value)
{
	*value = NULL;
	for (int k = 0; k < PP_OPTS_MAX && spec->opts && (spec->opts[k].name || spec->opts[k].letter); k++) {
		const struct pp_opt *o = &spec->opts[k];
		if (w[1] != '-') {
			if (o->letter && w[1] == o->letter && w[2] == '\0')
				return k;
			continue;
		}
		size_t n = o->name ? strlen(o->name) : 0;
		if (n && strncmp(w + 2, o->name, n) == 0 && (w[2 + n] == '\0' || w[2 + n] == '=')) {
			if (w[2 + n] == '=')
				*value = w + 3 + n;
			return k;
		}
	}
	return -1;
}

static int opt_form(char *out, size_t n, const struct pp_opt *o);

/* An option word at argv[*i]: stores its value, or prints the error (a global option after
   the command is named as one). */
static int
option(struct pp_cli *cli, const char *cmd, const struct pp_cmd_spec *spec, int argc, char **argv,
       int *i, struct pp_args *a)
{
	const char *w = argv[*i], *v;
	char near[160], word[64];
	int k = find(spec, w, &v);

	if (k < 0 && cmd && spec != &pp_spec_global && (k = find(&pp_spec_global, w, &v)) >= 0) {
		char form[48];
		opt_form(form, sizeof form, &pp_spec_global.opts[k]);
		snprintf(near, sizeof near, "; a global option goes before the command: portpilot %s %s", form, cmd);
		return fail(cli, cmd, "unknown option ", w, near);
	}
	if (k < 0) {
		snprintf(word, sizeof word, "%.*s", (int)strcspn(w + 2, "="), w + 2);
		near_option(spec, w[1] == '-' ? word : "", near, sizeof near);
		return fail(cli, cmd, "unknown option ", w, near);
	}
	const struct pp_opt *o = &spec->opts[k];
	if (o->arg == NULL && v)
		return fail(cli, cmd, "this option takes no value: ", w, "");
	if (o->arg && o->arg[0] == '=')
		v = v ? v : "";
	else if (o->arg && v == NULL) {
		if (*i + 1 >= argc) {
			snprintf(near, sizeof near, " needs a value: %s %s", w, o->arg);
			return fail(cli, cmd, "", w, near);
		}
		v = argv[++*i];
	}
	a->val[k] = o->arg ? v : "";
	return 0;
}

/* The first positional is one of spec->words, or an error naming them. */
static int
check_word(struct pp_cli *cli, const char *cmd, const struct pp_cmd_spec *spec, const char *w)
{
	const char *p = spec->words;
	size_t len = strlen(w), best = 3;
	char near[48] = "";

	while (*p) {
		size_t n = strcspn(p, " "), d;
		char one[32];
		if (n == len && strncmp(p, w, n) == 0)
			return 0;
		snprintf(one, sizeof one, "%.*s", (int)n, p);
		d = pp_near_distance(w, one);
		if (d < best && 2 * d < len)
			best = d, snprintf(near, sizeof near, "; did you mean %s?", one);
		p += n + (p[n] == ' ');
	}
	fprintf(cli->err, "portpilot %s: unknown '%s' (say one of: %s)%s (portpilot %s --help)\n", cmd, w,
	        spec->words, near, cmd);
	return PP_EXIT_USAGE;
}

int
pp_args_parse(struct pp_cli *cli, const char *cmd, const struct pp_cmd_spec *spec, int argc, char **argv,
              struct pp_args *a)
{
	bool dashes = false;
	int rc;

	*a = (struct pp_args){ .spec = spec, .pos = argv, .npos = 1, .next = argc };
	for (int i = 1; i < argc && !spec->leading; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return -1;
	for (int i = 1; i < argc; i++) {
		char *w = argv[i];
		if (!dashes && strcmp(w, "--") == 0) {
			dashes = true;
			continue;
		}
		if (!dashes && w[0] == '-' && w[1] != '\0') {
			if ((rc = option(cli, cmd, spec, argc, argv, &i, a)) != 0)
				return rc;
			continue;
		}
		if (spec->leading) {
			a->next = i;
			break;
		}
		if (spec->max >= 0 && a->npos - 1 >= spec->max) {
			fprintf(cli->err, "portpilot %s: unexpected argument '%s' (usage: portpilot %s", cmd, w, cmd);
			pp_spec_synopsis(cli->err, spec, 0, 0, "");
			fputs(")\n", cli->err);
			return PP_EXIT_USAGE;
		}
		if (a->npos == 1 && spec->words && (rc = check_word(cli, cmd, spec, w)) != 0)
			return rc;
		a->pos[a->npos++] = w; /* never ahead of i: the array is reused in place */
	}
	if (!spec->leading)
		a->pos[a->npos] = NULL;
	if (a->npos - 1 < spec->min) {
		fprintf(cli->err, "portpilot %s: %s (usage: portpilot %s", cmd,
		        spec->missing ? spec->missing : "missing arguments", cmd);
		pp_spec_synopsis(cli->err, spec, 0, 0, "");
		fputs(")\n", cli->err);
		return PP_EXIT_USAGE;
	}
	return 0;
}

const char *
pp_opt(const struct pp_cli *cli, const char *name)
{
	const struct pp_args *a = cli->args;

	for (int k = 0; a && a->spec->opts && (a->spec->opts[k].name || a->spec->opts[k].letter); k++) {
		const struct pp_opt *o = &a->spec->opts[k];
		if ((o->name && strcmp(o->name, name) == 0) || (!o->name && name[0] == o->letter && !name[1]))
			return a->val[k];
	}
	return NULL;
}

/* "--confirm SECONDS", "-o FILE", "--list-causes[=man]" */
static int
opt_form(char *out, size_t n, const struct pp_opt *o)
{
	char name[48];

	if (o->name)
		snprintf(name, sizeof name, "--%s", o->name);
	else
		snprintf(name, sizeof name, "-%c", o->letter);
	if (o->arg == NULL)
		return snprintf(out, n, "%s", name);
	if (o->arg[0] == '=')
		return snprintf(out, n, "%s[%s]", name, o->arg);
	return snprintf(out, n, "%s %s", name, o->arg);
}

/* Prints the words, folding before width (0: one line) with indent on the next lines. */
static void
put_word(FILE *f, const char *w, int *col, int width, const char *indent)
{
	int len = (int)strlen(w);

	if (width && *col + 1 + len > width) {
		fprintf(f, "\n%s", indent);
		*col = (int)strlen(indent);
	}
	fprintf(f, " %s", w);
	*col += 1 + len;
}

void
pp_spec_synopsis(FILE *f, const struct pp_cmd_spec *spec, int col, int width, const char *indent)
{
	char w[128];

	if (spec->args && *spec->args && !spec->leading)
		put_word(f, spec->args, &col, width, indent);
	for (const struct pp_opt *o = spec->opts; o && (o->name || o->letter); o++) {
		if (o->help == NULL)
			continue;
		w[0] = '[';
		opt_form(w + 1, sizeof w - 2, o);
		strcat(w, "]");
		put_word(f, w, &col, width, indent);
	}
	if (spec->args && *spec->args && spec->leading)
		put_word(f, spec->args, &col, width, indent);
}

/* Where a folded line goes on: after "  WORD   " (two spaces or more, in the first 30
   columns: an option's or a command's text), else under the line's own first word. */
static int
hang(const char *line, int len)
{
	int i = 0, lead;

	while (i < len && line[i] == ' ')
		i++;
	lead = i;
	for (; i < len && i < 30; i++)
		if (line[i] != ' ' && line[i + 1] == ' ' && line[i + 2] == ' ') {
			int j = i + 1;
			while (j < len && line[j] == ' ')
				j++;
			return j < 30 ? j : lead;
		}
	return lead;
}

/* Prints line folded at the last space before width, each piece but the last with its
   newline, the next ones under *ind; returns the last piece (without its indent) in *rest,
   or NULL when the line fits (nothing printed). */
static const char *
fold_line(FILE *f, const char *line, int len, int width, int *ind, int *rest)
{
	const char *p = line;
	int n = len, col = 0;

	*ind = hang(line, len);
	while (col + n > width) {
		int cut = width - col;
		while (cut > 0 && p[cut] != ' ')
			cut--;
		if (cut <= (p == line ? *ind : 0)) /* a word longer than the room: kept whole */
			break;
		fprintf(f, "%*s%.*s\n", p == line ? 0 : *ind, "", cut, p);
		while (cut < n && p[cut] == ' ')
			cut++;
		p += cut, n -= cut, col = *ind;
	}
	*rest = n;
	return p == line ? NULL : p;
}

void
pp_fold_print(FILE *f, const char *text, int width)
{
	char *merged = NULL, *own;
	const char *rest = NULL;
	int nrest = 0, ind = 0;

	while (*text) {
		const char *nl = strchr(text, '\n'), *line = text;
		int len = nl ? (int)(nl - text) : (int)strlen(text), lead = 0;
		text += len + (nl != NULL);
		own = NULL;
		while (lead < len && line[lead] == ' ')
			lead++;
		/* The end of a folded line goes on with the next one when that one continues the
		   same text: it did not end a sentence, and the next starts none, is as indented
		   as the fold and is not an item of its own. */
		bool goes_on = len > lead && (islower((unsigned char)line[lead]) || strchr("(-", line[lead]));
		if (rest && goes_on && !strchr(".:", rest[nrest - 1]) && lead == ind && hang(line, len) == lead) {
			own = pp_xasprintf("%*s%.*s %.*s", ind, "", nrest, rest, len - lead, line + lead);
			line = own, len = (int)strlen(own);
		} else if (rest) {
			fprintf(f, "%*s%.*s\n", ind, "", nrest, rest);
		}
		free(merged);
		merged = own;
		rest = fold_line(f, line, len, width, &ind, &nrest);
		if (rest == NULL)
			fprintf(f, "%.*s\n", len, line);
	}
	if (rest)
		fprintf(f, "%*s%.*s\n", ind, "", nrest, rest);
	free(merged);
}

static void
spec_help(FILE *f, const char *cmd, const struct pp_cmd_spec *spec)
{
	char form[96], indent[64];
	int n = snprintf(indent, sizeof indent, "usage: portpilot %s%s%s", spec->globals ? spec->globals : "",
	                 spec->globals ? " " : "", cmd);

	fputs(indent, f);
	pp_spec_synopsis(f, spec, n, PP_HELP_WIDTH, "      ");
	fputc('\n', f);
	if (spec->doc)
		fputs(spec->doc, f);
	for (const struct pp_opt *o = spec->opts; o && (o->name || o->letter); o++) {
		if (o->help == NULL)
			continue;
		int w = opt_form(form, sizeof form, o);
		fprintf(f, "  %s%*s", form, w < 20 ? 21 - w : 1, "");
		for (const char *h = o->help; *h; h++)
			fputs(*h == '\n' ? "\n                       " : (char[2]){ *h, 0 }, f);
		fputc('\n', f);
	}
	if (spec->more)
		spec->more(f);
}

void
pp_help_folded(FILE *f, pp_help_fn *fn, const char *cmd, const struct pp_cmd_spec *spec)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (m == NULL) {
		fn(f, cmd, spec);
		return;
	}
	fn(m, cmd, spec);
	fclose(m);
	pp_fold_print(f, text, PP_HELP_WIDTH);
	free(text);
}

void
pp_spec_help(FILE *f, const char *cmd, const struct pp_cmd_spec *spec)
{
	pp_help_folded(f, spec_help, cmd, spec);
}

/* --json, taken by main.c from anywhere on the line: the command's json row given, or its
   refusal when it has none (rather than text where JSON was asked for). */
static int
json_row(struct pp_cli *cli, const char *cmd, const struct pp_cmd_spec *spec, struct pp_args *a)
{
	const char *v;
	int k = find(spec, "--json", &v);
	char why[160];

	if (!cli->json)
		return 0;
	if (k >= 0) {
		a->val[k] = "";
		return 0;
	}
	if (spec->no_json == NULL)
		snprintf(why, sizeof why, "%s has no JSON output; drop --json", cmd);
	return fail(cli, cmd, "--json: ", spec->no_json ? spec->no_json : why, "");
}

int
pp_cmd_call(struct pp_cli *cli, const struct pp_cmd *cmd, int argc, char **argv)
{
	const struct pp_args *outer = cli->args;
	struct pp_args a;
	int rc;

	if (cmd->spec == NULL)
		return cmd->fn(cli, argc, argv);
	rc = pp_args_parse(cli, cmd->name, cmd->spec, argc, argv, &a);
	if (rc < 0) {
		pp_spec_help(cli->out, cmd->name, cmd->spec);
		return PP_EXIT_OK;
	}
	if (rc)
		return rc;
	if ((rc = json_row(cli, cmd->name, cmd->spec, &a)) != 0)
		return rc;
	cli->args = &a;
	rc = cmd->fn(cli, a.npos, a.pos);
	cli->args = outer;
	return rc;
}
