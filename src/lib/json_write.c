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

/* Eight bytes that need no escaping: no '"', no '\\', nothing below 0x20. */
static int plain8(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
	uint64_t q = w ^ (lo * '"'), s = w ^ (lo * '\\');
	uint64_t has_q = (q - lo) & ~q, has_s = (s - lo) & ~s;
	uint64_t has_ctl = (w - lo * 0x20) & ~w;
	return ((has_q | has_s | has_ctl) & hi) == 0;
}

int infty_json_write_string(struct infty_buf *b, const char *s, size_t n)
{
	/* Worst case every byte becomes \u00XX. */
	if (reserve(b, n + 2) != 0)
		return INFTY_ENOMEM;
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
	b->data[b->len++] = '"';
	while (p < end) {
		if (end - p >= 8 && plain8(p)) {
			p += 8;
			continue;
		}
		unsigned char c = *p;
		if (c >= 0x20 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (infty_buf_append(b, run, (size_t)(p - run)))
			return INFTY_ENOMEM;
		char esc[8];
		size_t k;
		switch (c) {
		case '"':
			k = 2, memcpy(esc, "\\\"", 2);
			break;
		case '\\':
			k = 2, memcpy(esc, "\\\\", 2);
			break;
		case '\n':
			k = 2, memcpy(esc, "\\n", 2);
			break;
		case '\r':
			k = 2, memcpy(esc, "\\r", 2);
			break;
		case '\t':
			k = 2, memcpy(esc, "\\t", 2);
			break;
		case '\b':
			k = 2, memcpy(esc, "\\b", 2);
			break;
		case '\f':
			k = 2, memcpy(esc, "\\f", 2);
			break;
		default:
			k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
			break;
		}
		if (infty_buf_append(b, esc, k))
			return INFTY_ENOMEM;
		run = ++p;
	}
	if (infty_buf_append(b, run, (size_t)(p - run)) || infty_buf_append(b, "\"", 1))
		return INFTY_ENOMEM;
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
