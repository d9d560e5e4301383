/*
 * json_write.c - compact JSON serialization into a growable buffer.
 *
 * json-c escapes strings one character at a time through its printbuf; our
 * records are mostly long strings (traces of 100K+ characters), so this
 * scanner copies runs of plain bytes with memcpy and only stops at '"',
 * '\\' and control characters.  Output matches json-c's compact form
 * (JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE) for everything we write.
 */
#include "infty/json_write.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int reserve(struct infty_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	return infty_grow(&b->data, &b->cap, b->len + more + 1, 1);
}

int infty_buf_append(struct infty_buf *b, const void *data, size_t n)
{
	if (reserve(b, n))
		return INFTY_ENOMEM;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void infty_buf_release(struct infty_buf *b)
{
	infty_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int infty_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return INFTY_ENOMEM;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return INFTY_ENOMEM;
	}
	return 0;
}

/*
 * Mask with the high bit set in the byte of the first '"', '\\' or byte below
 * 0x20 of w (little-endian: the lowest set bit marks the first such byte;
 * bits above it may be spurious, which is why only the lowest is used).
 */
static inline uint64_t special8(uint64_t w)
{
	const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
	uint64_t q = w ^ (lo * '"'), s = w ^ (lo * '\\');
	return (((q - lo) & ~q) | ((s - lo) & ~s) | ((w - lo * 0x20) & ~w)) & hi;
}

/* The two-character escapes; 0: written as \u00XX. */
static const char short_esc[128] = {
    ['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r',
    ['\t'] = 't', ['\b'] = 'b',  ['\f'] = 'f',
};

/*
 * Runs of plain bytes move 8 at a time, copied before they are checked; the
 * room reserved (two bytes per input byte, the size of every short escape)
 * makes that safe, and only a \u00XX escape (six bytes) reserves again.
 */
int infty_json_write_string(struct infty_buf *b, const char *s, size_t n)
{
	if (reserve(b, 2 * n + 2 + 8) != 0)
		return INFTY_ENOMEM;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char *o = b->data + b->len;
	*o++ = '"';
	while (p < end) {
		if (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			memcpy(o, &w, 8);
			uint64_t m = special8(w);
			if (!m) {
				p += 8;
				o += 8;
				continue;
			}
			size_t k = (size_t)__builtin_ctzll(m) / 8;
			p += k;
			o += k;
		} else if (*p >= 0x20 && *p != '"' && *p != '\\') {
			*o++ = (char)*p++;
			continue;
		}
		unsigned char c = *p++;
		if (short_esc[c]) {
			o[0] = '\\';
			o[1] = short_esc[c];
			o += 2;
			continue;
		}
		b->len = (size_t)(o - b->data);
		if (reserve(b, 6 + 2 * (size_t)(end - p) + 1 + 8) != 0)
			return INFTY_ENOMEM;
		o = b->data + b->len;
		static const char hex[] = "0123456789abcdef";
		memcpy(o, "\\u00", 4);
		o[4] = hex[c >> 4];
		o[5] = hex[c & 15];
		o += 6;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int infty_json_write(struct infty_buf *b, struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string:
		return infty_json_write_string(b, json_object_get_string(o),
		                               (size_t)json_object_get_string_len(o));
	case json_type_object: {
		if (infty_buf_append(b, "{", 1))
			return INFTY_ENOMEM;
		int first = 1;
		json_object_object_foreach(o, key, val)
		{
			if ((!first && infty_buf_append(b, ",", 1)) ||
			    infty_json_write_string(b, key, strlen(key)) ||
			    infty_buf_append(b, ":", 1) || infty_json_write(b, val))
				return INFTY_ENOMEM;
			first = 0;
		}
		return infty_buf_append(b, "}", 1);
	}
	case json_type_array: {
		if (infty_buf_append(b, "[", 1))
			return INFTY_ENOMEM;
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			if ((i && infty_buf_append(b, ",", 1)) ||
			    infty_json_write(b, json_object_array_get_idx(o, i)))
				return INFTY_ENOMEM;
		return infty_buf_append(b, "]", 1);
	}
	case json_type_null:
		return infty_buf_append(b, "null", 4);
	default: {
		/* Numbers and booleans: json-c's own formatting, for identical output. */
		size_t len;
		const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		return s ? infty_buf_append(b, s, len) : INFTY_ENOMEM;
	}
	}
}
