/* pp_json_str / pp_json_field against jansson (default) and json-c (-DJC): speed and answers. Run: sh tools/measure/run.sh */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef JC
#include <json-c/json.h>
#else
#include <jansson.h>
#endif
#include "portpilot/util.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
#define N 200000
int main(void)
{
	const char *strs[] = { "site3.example.net", "provider refused the credentials; fix the credentials file",
	                       "caf\xc3\xa9 \xe2\x80\x94 ok", "tab\there \"quoted\" back\\slash" };
	char *buf; size_t len; FILE *f; double t0; volatile size_t sink = 0;
	/* output */
	f = open_memstream(&buf, &len);
	t0 = now();
	for (int i = 0; i < N; i++) for (int k = 0; k < 4; k++) pp_json_str(f, strs[k]);
	fflush(f); printf("out  pp_json_str      %.0f ns/string (%zu bytes)\n", (now() - t0) / (N * 4) * 1e9, len);
	fclose(f); free(buf);
#ifndef JC
	t0 = now();
	for (int i = 0; i < N; i++) for (int k = 0; k < 4; k++) {
		json_t *s = json_string(strs[k]); char *o = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		sink += strlen(o); free(o); json_decref(s); }
	printf("out  jansson dumps    %.0f ns/string\n", (now() - t0) / (N * 4) * 1e9);
#else
	t0 = now();
	for (int i = 0; i < N; i++) for (int k = 0; k < 4; k++) {
		json_object *s = json_object_new_string(strs[k]); sink += strlen(json_object_to_json_string(s)); json_object_put(s); }
	printf("out  json-c           %.0f ns/string\n", (now() - t0) / (N * 4) * 1e9);
#endif
	/* reader: a reflector answer, 4 fields */
	const char *ans = "{\"ip\":\"198.51.100.7\",\"from\":\"203.0.113.9\",\"result\":\"open\",\"ms\":12}";
	const char *keys[] = { "ip", "from", "result", "ms" };
	char out[64];
	t0 = now();
	for (int i = 0; i < N; i++) for (int k = 0; k < 4; k++) { pp_json_field(ans, keys[k], out, sizeof out); sink += out[0]; }
	printf("read pp_json_field    %.0f ns/answer (4 fields)\n", (now() - t0) / N * 1e9);
#ifndef JC
	t0 = now();
	for (int i = 0; i < N; i++) { json_t *o = json_loads(ans, 0, NULL);
		for (int k = 0; k < 4; k++) { json_t *v = json_object_get(o, keys[k]); sink += v != NULL; } json_decref(o); }
	printf("read jansson          %.0f ns/answer\n", (now() - t0) / N * 1e9);
#else
	t0 = now();
	for (int i = 0; i < N; i++) { json_object *o = json_tokener_parse(ans);
		for (int k = 0; k < 4; k++) { json_object *v; sink += json_object_object_get_ex(o, keys[k], &v); } json_object_put(o); }
	printf("read json-c           %.0f ns/answer\n", (now() - t0) / N * 1e9);
	return 0;
#endif
#ifndef JC
	/* what jansson does with the strings pp_json_str must take: invalid UTF-8, C1, DEL, U+2028 */
	const char *odd[] = { "bad \xff byte", "c1 \xc2\x9b[2J", "del \x7f", "ls \xe2\x80\xa8" };
	for (int k = 0; k < 4; k++) {
		json_t *s = json_string(odd[k]); char *o = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		f = open_memstream(&buf, &len); pp_json_str(f, odd[k]); fclose(f);
		printf("odd %d: jansson %s | pp_json_str %s\n", k, o ? o : "(NULL: refused)", buf);
		free(buf); free(o); json_decref(s);
	}
	/* answers on valid JSON the reader may meet */
	struct { const char *doc, *key, *want; } c[] = {
		{ "{\"ip\" : \"1.2.3.4\"}", "ip", "1.2.3.4" },                         /* blank before ':' */
		{ "{\"note\":{\"ip\":\"6.6.6.6\"},\"ip\":\"1.2.3.4\"}", "ip", "1.2.3.4" }, /* nested key first */
		{ "{\"summary\":\"a\\nb\"}", "summary", "a\nb" },                     /* escape */
		{ "{\"summary\":\"caf\\u00e9\"}", "summary", "caf\xc3\xa9" },          /* \\u escape */
		{ "{\"summary\":\"x\\u001b[2Jy\"}", "summary", "x\x1b[2Jy" },          /* ESC: decoded it reaches a terminal */
		{ "{\"list\":[\"\\\"ip\\\":\\\"6.6.6.6\\\"\"],\"ip\":\"1.2.3.4\"}", "ip", "1.2.3.4" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		pp_json_field(c[i].doc, c[i].key, out, sizeof out);
		json_t *o = json_loads(c[i].doc, 0, NULL); const char *j = json_string_value(json_object_get(o, c[i].key));
		printf("case %zu %-48s hand: %-10s jansson: %s\n", i, c[i].doc, strcmp(out, c[i].want) ? "WRONG" : "right",
		       j && strcmp(j, c[i].want) == 0 ? "right" : "WRONG");
		json_decref(o);
	}
#endif
	return (int)(sink & 0);
}
