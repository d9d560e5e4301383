/*
 * fuzz_json_parse.c - differential libFuzzer target for the one-pass JSON
 * parser: every input is one line, parsed by infty_json_parse() and by the
 * reference it replaced (json-c's strict tokener plus our policy passes,
 * src/lib/jsonl_parse_ref.h).  A different return code, or an accepted
 * line whose two objects serialize differently (json-c's PLAIN form or
 * infty_json_write), aborts with both sides on stderr.
 */
#include "../src/lib/jsonl_parse_ref.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex4(const uint8_t *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = s[i] | 0x20, h = c >= '0' && c <= '9'   ? c - '0'
		                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                                                : -1;
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * json-c 0.16 decodes an escaped surrogate pair, then tests the code point
 * for being a surrogate itself, so characters whose low 16 bits are in
 * D800-DFFF (U+1D800-U+1DFFF, ... U+10D800-U+10DFFF) become U+FFFD; the new
 * parser decodes them.  The line with those pairs as raw UTF-8 (which json-c
 * keeps), or NULL if it has none.  Caller frees.
 */
static char *raw_pairs(const uint8_t *s, size_t n, size_t *out_len)
{
	char *out = malloc(n + 1);
	size_t k = 0;
	int found = 0;
	if (!out)
		abort();
	for (size_t i = 0; i < n;) {
		if (s[i] != '\\' || i + 1 >= n) {
			out[k++] = (char)s[i++];
			continue;
		}
		if (s[i + 1] == 'u' && n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u') {
			int hi = hex4(s + i + 2), lo = hex4(s + i + 8);
			uint32_t cp =
			    0x10000 + ((uint32_t)(hi & 0x3FF) << 10) + (uint32_t)(lo & 0x3FF);
			if (hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF &&
			    (cp & 0xF800) == 0xD800) {
				out[k++] = (char)(0xF0 | cp >> 18);
				out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
				out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[k++] = (char)(0x80 | (cp & 0x3F));
				i += 12;
				found = 1;
				continue;
			}
		}
		out[k++] =
		    (char)s[i++]; /* an escape is two bytes: an escaped backslash stays text */
		out[k++] = (char)s[i++];
	}
	if (!found) {
		free(out);
		return NULL;
	}
	*out_len = k;
	return out;
}

static void differ(const char *what, const uint8_t *data, size_t size, const char *a, const char *b)
{
	fprintf(
	    stderr,
	    "fuzz_json_parse: %s\n  reference: %s\n  new:       %s\n  input (%zu bytes): %.*s\n",
	    what, a, b, size, (int)(size < 400 ? size : 400), (const char *)data);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap copy of exactly size bytes, so ASan sees any read past the line. */
	char *line = malloc(size ? size : 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	struct json_object *a, *b;
	char da[256], db[256];
	int ra = infty_json_parse_reference(line, size, &a, da, sizeof da);
	int rb = infty_json_parse(line, size, &b, db, sizeof db);
	if (ra != rb) {
		char ca[300], cb[300];
		snprintf(ca, sizeof ca, "rc %d (%s)", ra, da);
		snprintf(cb, sizeof cb, "rc %d (%s)", rb, db);
		differ("return codes differ", data, size, ca, cb);
	}
	if (ra == 0) {
		const char *sa = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
		const char *sb = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
		size_t rn;
		char *raw;
		if (strcmp(sa, sb) != 0 && (raw = raw_pairs(data, size, &rn)) != NULL) {
			json_object_put(a);
			if (infty_json_parse_reference(raw, rn, &a, da, sizeof da) != 0)
				differ("pairs as raw UTF-8 refused", data, size, da, sb);
			free(raw);
			sa = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
		}
		if (strcmp(sa, sb) != 0)
			differ("json-c serializations differ", data, size, sa, sb);
		struct infty_buf wa = {0}, wb = {0};
		if (infty_json_write(&wa, a) || infty_json_write(&wb, b))
			abort();
		if (wa.len != wb.len || memcmp(wa.data, wb.data, wa.len) != 0)
			differ("infty_json_write serializations differ", data, size, wa.data,
			       wb.data);
		infty_buf_release(&wa);
		infty_buf_release(&wb);
	} else if (a || b) {
		differ("an object came with an error", data, size, da, db);
	}
	json_object_put(a);
	json_object_put(b);
	free(line);
	return 0;
}
