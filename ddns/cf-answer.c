/* Cloudflare API answers: a minimal JSON walker and what an answer means. */
#include <ctype.h>
#include <string.h>

#include "ddns-internal.h"

/* A minimal JSON walker: enough to read result[0].id and .content from Cloudflare's answers. */
static const char *ws(const char *p) { while (*p && isspace((unsigned char)*p)) p++; return p; }

static const char *
skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

static const char *
skip_value(const char *p, int depth)
{
	p = ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || (p = skip_string(p)) == NULL || *(p = ws(p)) != ':')
					return NULL;
				p++;
			}
			if ((p = skip_value(p, depth + 1)) == NULL)
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = ws(p + 1);
		}
	}
	while (*p && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
		p++;
	return p;
}

/* In the object at p, the value of key (pointer to it), NULL if absent. */
static const char *
member(const char *p, const char *key)
{
	size_t klen = strlen(key);

	p = ws(p);
	if (*p != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *e = skip_string(p);
		if (e == NULL || *(p = ws(e)) != ':')
			return NULL;
		p = ws(p + 1);
		if ((size_t)(e - 1 - k) == klen && memcmp(k, key, klen) == 0)
			return p;
		if ((p = skip_value(p, 0)) == NULL)
			return NULL;
		p = ws(p);
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

/* A JSON string value (no escapes expected in ids/addresses). Caller frees; NULL if not a string. */
static char *
string_at(const char *p)
{
	const char *e;

	if (p == NULL || *(p = ws(p)) != '"' || (e = skip_string(p)) == NULL)
		return NULL;
	return pp_xstrndup(p + 1, (size_t)(e - p - 2));
}

bool
ddns_cf_success(const char *body)
{
	const char *v = member(body, "success");
	return v && strncmp(v, "true", 4) == 0;
}

/* result[0].field of a list answer; NULL when the list is empty. */
char *
ddns_cf_first(const char *body, const char *field)
{
	const char *r = member(body, "result");

	if (r == NULL || *(r = ws(r)) != '[')
		return NULL;
	return string_at(member(ws(r + 1), field));
}

bool
ddns_cf_first_true(const char *body, const char *field)
{
	const char *r = member(body, "result"), *v;

	if (r == NULL || *(r = ws(r)) != '[')
		return false;
	v = member(ws(r + 1), field);
	return v && strncmp(v, "true", 4) == 0;
}

enum pp_ddns_code
ddns_cf_answer(long status, const char *body)
{
	enum pp_ddns_code c = pp_http_status_code(status);

	/* A 2xx without "success": true is not an answer we understand. */
	if (c == PP_DC_GOOD && !ddns_cf_success(body))
		c = PP_DC_UNKNOWN;
	return c;
}
