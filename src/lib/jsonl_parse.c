/*
 * jsonl_parse.c - parse one JSON line, strictly.
 *
 * Policy on text we cannot carry losslessly (docs/formats.md, "Input
 * policy"): the record is rejected, never repaired.
 *  - invalid UTF-8 bytes (json-c's own check lets overlong forms and encoded
 *    surrogates through, so we validate ourselves, RFC 3629 strictly);
 *  - a \uD800-\uDFFF escape that is not a proper surrogate pair (json-c would
 *    silently turn it into U+FFFD);
 *  - a \u0000 escape (C strings downstream would cut the text at it);
 *  - NaN and Infinity, which json-c accepts even in strict mode (found by
 *    fuzzing: they are not JSON and do not survive a round trip).
 */
#include "infty/jsonl.h"
#include "infty/error.h"
#include "infty/utf8.h"

#include <json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Value of the 4 hex digits at s, or -1. */
static long hex4(const unsigned char *s, const unsigned char *end)
{
	if (end - s < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Eight bytes with no high bit and no backslash: nothing to check. */
static int plain8(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
	uint64_t x = w ^ (lo * '\\');
	return ((w | ((x - lo) & ~x)) & hi) == 0;
}

/*
 * Returns 0, or INFTY_EUTF8 with a message naming the byte offset.  Escapes
 * are only looked at for surrogates and NUL; json-c checks the rest.
 */
static int validate(const unsigned char *s, size_t n, char *detail, size_t dlen)
{
	const unsigned char *p = s, *end = s + n;
	while (p < end) {
		if (end - p >= 8 && plain8(p)) {
			p += 8;
			continue;
		}
		unsigned char c = *p;
		if (c < 0x80) {
			if (c != '\\') {
				p++;
				continue;
			}
			if (p + 1 < end && p[1] == 'u') {
				long v = hex4(p + 2, end);
				if (v == 0) {
					snprintf(detail, dlen, "\\u0000 in a string at byte %zu",
					         (size_t)(p - s));
					return INFTY_EUTF8;
				}
				if (v >= 0xDC00 && v <= 0xDFFF) {
					snprintf(detail, dlen, "lone surrogate escape at byte %zu",
					         (size_t)(p - s));
					return INFTY_EUTF8;
				}
				if (v >= 0xD800 && v <= 0xDBFF) {
					long w = (end - p >= 12 && p[6] == '\\' && p[7] == 'u')
					             ? hex4(p + 8, end)
					             : -1;
					if (w < 0xDC00 || w > 0xDFFF) {
						snprintf(detail, dlen,
						         "lone surrogate escape at byte %zu",
						         (size_t)(p - s));
						return INFTY_EUTF8;
					}
					p += 12;
					continue;
				}
				p += 6;
				continue;
			}
			p += 2; /* any other escape: json-c validates it */
			continue;
		}
		size_t len = infty_utf8_seq_len((const char *)p, (size_t)(end - p));
		if (!len)
			goto bad;
		p += len;
		continue;
	bad:
		snprintf(detail, dlen, "invalid UTF-8 at byte %zu", (size_t)(p - s));
		return INFTY_EUTF8;
	}
	return 0;
}

/* Whether any number in the tree is NaN or infinite.  Records are a few
 * dozen nodes with long string leaves, so the walk costs little. */
static int has_nonfinite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (has_nonfinite(v))
				return 1;
		}
		return 0;
	}
	case json_type_array:
		for (size_t i = 0, n = json_object_array_length(o); i < n; i++)
			if (has_nonfinite(json_object_array_get_idx(o, i)))
				return 1;
		return 0;
	default:
		return 0;
	}
}

int infty_json_parse(const char *line, size_t len, struct json_object **obj, char *detail,
                     size_t detail_len)
{
	char scratch[8];
	if (!detail) {
		detail = scratch;
		detail_len = sizeof scratch;
	}
	*obj = NULL;
	detail[0] = '\0';
	int err = validate((const unsigned char *)line, len, detail, detail_len);
	if (err)
		return err;
	if (len > INT32_MAX) {
		snprintf(detail, detail_len, "line of %zu bytes is too long for json-c", len);
		return INFTY_EJSON;
	}
	struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!tok) {
		snprintf(detail, detail_len, "out of memory");
		return INFTY_ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e == json_tokener_continue) {
		snprintf(detail, detail_len, "JSON ends early (truncated line?)");
		json_object_put(o);
		return INFTY_EJSON;
	}
	if (e != json_tokener_success) {
		snprintf(detail, detail_len, "invalid JSON at byte %zu: %s", end,
		         json_tokener_error_desc(e));
		return INFTY_EJSON;
	}
	while (end < len && (line[end] == ' ' || line[end] == '\t' || line[end] == '\r'))
		end++;
	if (end != len) {
		snprintf(detail, detail_len, "invalid JSON at byte %zu: text after the value", end);
		json_object_put(o);
		return INFTY_EJSON;
	}
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(detail, detail_len, "line is not a JSON object");
		json_object_put(o);
		return INFTY_EJSON;
	}
	if (has_nonfinite(o)) {
		snprintf(detail, detail_len, "NaN or Infinity is not JSON");
		json_object_put(o);
		return INFTY_EJSON;
	}
	*obj = o;
	return 0;
}
