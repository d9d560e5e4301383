/*
 * jsonl_parse.c - parse one JSON line, strictly, in one pass.
 *
 * Policy on text we cannot carry losslessly (docs/formats.md, "Input
 * policy"): the record is rejected, never repaired.
 *  - invalid UTF-8 bytes (overlong forms and encoded surrogates included;
 *    RFC 3629 strictly), anywhere in the line;
 *  - a \uD800-\uDFFF escape that is not a proper surrogate pair (json-c would
 *    silently turn it into U+FFFD);
 *  - a \u0000 escape (C strings downstream would cut the text at it);
 *  - NaN, Infinity and numbers that overflow a double, if still in the
 *    record at the end (they are not JSON and do not survive a round trip;
 *    json-c made them into doubles, and a repeated key could replace one).
 *
 * The grammar is RFC 8259's, no more: json-c's strict tokener also took
 * keys in single quotes, raw control characters in strings, "-01", "00",
 * "1.", "-.5", and NaN or an overflowing number that a repeated key then
 * replaced; all of these are refused now (tests/fixtures/json/
 * rfc8259-cases.txt holds the cases, after JSONTestSuite's y_/n_/i_).
 * Where RFC 8259 leaves the choice to the implementation:
 *  - integers beyond int64 saturate (uint64 up to 2^64-1 for positive
 *    ones), as json-c's; a double keeps its text, which is what it
 *    serializes to, and one beyond a double is refused;
 *  - a repeated key keeps its first position and its last value;
 *  - 32 levels at most (JSON_TOKENER_DEFAULT_DEPTH): a container at depth 31
 *    (the line's object is depth 0) must be empty;
 *  - a byte order mark is not whitespace.
 *
 * infty_json_parse() is a recursive-descent parser that checks all of this
 * while it builds the json-c objects, in one pass over the line: strings are
 * scanned 8 bytes at a time and unescaped into one scratch buffer per call.
 * It replaced json-c's json_tokener (strict mode) followed by our own passes,
 * which cost a printbuf copy per string, a locale switch per line and three
 * walks over the text; that code stays below as infty_json_parse_reference()
 * (src/lib/jsonl_parse_ref.h), with an RFC 8259 recognizer of its own in
 * front of the tokener, and tests/unit/test_json_parse.c and
 * fuzz/fuzz_json_parse.c hold the two to the same outcome and the same
 * serialization on every input.
 * A line is INFTY_EUTF8 when its bytes break the policy above anywhere, even
 * where the JSON is already broken, and INFTY_EJSON otherwise.
 *
 * One difference is meant.  json-c 0.16 decodes an escaped surrogate pair
 * and then tests the code point, not its halves, for being a surrogate, so
 * U+1D800-U+1DFFF, U+2D800-U+2DFFF, ... U+10D800-U+10DFFF (CJK extension F
 * among them) written as escapes came out as U+FFFD: text silently lost,
 * which the policy above exists to prevent.  We decode them, as we (and
 * json-c) always kept the same characters written as raw UTF-8.
 */
#include "jsonl_parse_ref.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/utf8.h"

#include <errno.h>
#include <json.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
 * are only looked at for surrogates and NUL, and not knowing where strings
 * are, this walks every byte of the line: the reference runs it first, the
 * parser on lines it found broken (so that bad text outranks bad JSON).
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
 * dozen nodes with long string leaves, so the walk costs little; the parser
 * walks only when it made such a number.  A NaN replaced by a later value
 * of the same key is gone and does not count, as with the tokener. */
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

/* ---- the reference: json-c's tokener plus separate passes -------------- */

/*
 * RFC 8259's grammar, as a recognizer of its own (the reference's first
 * pass; json-c's tokener accepts more: single-quoted keys, raw control
 * characters, "-01", "1.").  Written from the RFC's ABNF, one rule a
 * function; it only says yes or no.  Nesting is capped far above json-c's
 * limit, which the tokener then applies.
 */
struct rfc {
	const unsigned char *q, *end;
};

static int rfc_value(struct rfc *r, int depth);
static int rfc_number_text(struct rfc *r);

static void rfc_ws(struct rfc *r)
{
	while (r->q < r->end && (*r->q == ' ' || *r->q == '\t' || *r->q == '\n' || *r->q == '\r'))
		r->q++;
}

static int rfc_char(struct rfc *r, unsigned char c)
{
	if (r->q < r->end && *r->q == c) {
		r->q++;
		return 1;
	}
	return 0;
}

static int rfc_digits(struct rfc *r)
{
	const unsigned char *s = r->q;
	while (r->q < r->end && *r->q >= '0' && *r->q <= '9')
		r->q++;
	return r->q > s;
}

/*
 * number = [ minus ] int [ frac ] [ exp ], and (an implementation limit
 * RFC 8259 allows) one with a fraction or exponent must fit a double,
 * wherever it is: json-c alone refuses an overflow only if a repeated key
 * does not replace it.
 */
static int rfc_number(struct rfc *r)
{
	const unsigned char *s = r->q;
	if (!rfc_number_text(r))
		return 0;
	size_t n = (size_t)(r->q - s);
	if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n))
		return 1;
	char *buf = infty_malloc(n + 1);
	if (!buf)
		return 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	int ok = isfinite(strtod(buf, NULL));
	infty_free(buf);
	return ok;
}

static int rfc_number_text(struct rfc *r)
{
	rfc_char(r, '-');
	if (rfc_char(r, '0')) {
		if (r->q < r->end && *r->q >= '0' && *r->q <= '9')
			return 0;
	} else if (!(r->q < r->end && *r->q >= '1' && *r->q <= '9') || !rfc_digits(r)) {
		return 0;
	}
	if (rfc_char(r, '.') && !rfc_digits(r))
		return 0;
	if (rfc_char(r, 'e') || rfc_char(r, 'E')) {
		if (!rfc_char(r, '+'))
			rfc_char(r, '-');
		if (!rfc_digits(r))
			return 0;
	}
	return 1;
}

/* string = quotation-mark *char quotation-mark (bytes >= 0x80: the UTF-8
 * pass judges them) */
static int rfc_string(struct rfc *r)
{
	if (!rfc_char(r, '"'))
		return 0;
	while (r->q < r->end) {
		unsigned char c = *r->q++;
		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (r->q == r->end)
				return 0;
			c = *r->q++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, r->q++)
					if (r->q == r->end || hexval(*r->q) < 0)
						return 0;
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return 0;
			}
		}
	}
	return 0;
}

/* object = begin-object [ member *( value-separator member ) ] end-object */
static int rfc_object(struct rfc *r, int depth)
{
	rfc_ws(r);
	if (rfc_char(r, '}'))
		return 1;
	do {
		rfc_ws(r);
		if (!rfc_string(r))
			return 0;
		rfc_ws(r);
		if (!rfc_char(r, ':') || !rfc_value(r, depth + 1))
			return 0;
		rfc_ws(r);
	} while (rfc_char(r, ','));
	return rfc_char(r, '}');
}

/* array = begin-array [ value *( value-separator value ) ] end-array */
static int rfc_array(struct rfc *r, int depth)
{
	rfc_ws(r);
	if (rfc_char(r, ']'))
		return 1;
	do {
		if (!rfc_value(r, depth + 1))
			return 0;
		rfc_ws(r);
	} while (rfc_char(r, ','));
	return rfc_char(r, ']');
}

static int rfc_literal(struct rfc *r, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(r->end - r->q) < n || memcmp(r->q, lit, n))
		return 0;
	r->q += n;
	return 1;
}

/* value = ws ( false / null / true / object / array / number / string ) ws */
static int rfc_value(struct rfc *r, int depth)
{
	rfc_ws(r);
	if (r->q == r->end || depth > 1000)
		return 0;
	int ok;
	switch (*r->q) {
	case '{':
		r->q++;
		ok = rfc_object(r, depth);
		break;
	case '[':
		r->q++;
		ok = rfc_array(r, depth);
		break;
	case '"':
		ok = rfc_string(r);
		break;
	case 't':
		ok = rfc_literal(r, "true");
		break;
	case 'f':
		ok = rfc_literal(r, "false");
		break;
	case 'n':
		ok = rfc_literal(r, "null");
		break;
	default:
		ok = rfc_number(r);
	}
	rfc_ws(r);
	return ok;
}

/* JSON-text = ws value ws, and nothing after it. */
static int rfc8259(const char *text, size_t len)
{
	struct rfc r = {(const unsigned char *)text, (const unsigned char *)text + len};
	return rfc_value(&r, 0) && r.q == r.end;
}

int infty_json_parse_reference(const char *line, size_t len, struct json_object **obj, char *detail,
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
	if (!rfc8259(line, len)) {
		snprintf(detail, detail_len, "not JSON by RFC 8259");
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

/* ---- the parser ---------------------------------------------------------- */

/* json-c's default nesting limit, which the tokener we replaced applied. */
#define MAX_DEPTH JSON_TOKENER_DEFAULT_DEPTH
/* Lines up to this size unescape into the stack, longer ones into the heap
 * (the fuzzer sets 0, so that ASan sees every line's exact scratch). */
#ifndef INFTY_JSON_STACK_SCRATCH
#define INFTY_JSON_STACK_SCRATCH 8192
#endif

struct parser {
	const unsigned char *line, *end;
	char *detail;
	size_t dlen;
	int err;       /* 0, INFTY_EJSON, INFTY_EUTF8 or INFTY_ENOMEM */
	char *scratch; /* unescaped strings and keys; len + 1 bytes, see scratch() */
	size_t used;   /* scratch bytes held by the keys of the open objects */
	int heap;      /* scratch is ours to free */
	int whole;     /* the text is one whole value: a number may end with it */
};

static const unsigned char *fail(struct parser *p, const unsigned char *at, const char *what)
{
	p->err = INFTY_EJSON;
	snprintf(p->detail, p->dlen, "invalid JSON at byte %zu: %s", (size_t)(at - p->line), what);
	return NULL;
}

static const unsigned char *truncated(struct parser *p)
{
	p->err = INFTY_EJSON;
	snprintf(p->detail, p->dlen, "JSON ends early (truncated line?)");
	return NULL;
}

static const unsigned char *bad_text(struct parser *p, const unsigned char *at, const char *what)
{
	p->err = INFTY_EUTF8;
	snprintf(p->detail, p->dlen, "%s at byte %zu", what, (size_t)(at - p->line));
	return NULL;
}

static const unsigned char *no_memory(struct parser *p)
{
	p->err = INFTY_ENOMEM;
	snprintf(p->detail, p->dlen, "out of memory");
	return NULL;
}

static const unsigned char *skip_ws(const unsigned char *q, const unsigned char *end)
{
	while (q < end && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
		q++;
	return q;
}

/*
 * Bytes that end a plain run inside a string: the quote, '\\', a control
 * character (U+0000-U+001F, an error: RFC 8259 wants them escaped) and
 * anything >= 0x80 (to be checked as UTF-8), as the high bit of each byte
 * of the result.  A borrow can only flag bytes above a true hit, so the
 * lowest flagged byte is always a real one.
 */
static inline uint64_t stops8(uint64_t w, uint64_t quotes)
{
	const uint64_t lo = 0x0101010101010101ULL, hi = 0x8080808080808080ULL;
	uint64_t q = w ^ quotes, b = w ^ (lo * '\\');
	return (((q - lo) & ~q) | ((b - lo) & ~b) | (w - lo * 0x20) | w) & hi;
}

/* What a control byte inside a string is called in a message. */
static const unsigned char *control(struct parser *p, const unsigned char *q)
{
	return fail(p, q,
	            *q ? "control character in a string (RFC 8259 wants it escaped)"
	               : "NUL byte in a string");
}

/* Eight bytes, the first one lowest (so borrows run towards later bytes). */
static inline uint64_t load8(const unsigned char *q)
{
	uint64_t w;
	memcpy(&w, q, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* Index of the first flagged byte of a nonzero stops8() result. */
static inline unsigned first8(uint64_t m)
{
	return (unsigned)__builtin_ctzll(m) >> 3;
}

/*
 * The scratch holds len + 1 bytes, which is always enough: each open object
 * keeps its current key there (plus a NUL), under the string or number
 * being read, and each of them takes no more room than its source text
 * (quotes included) did in the line before the current position.  So the
 * copy loop's write position is never past its read position in the line,
 * and its 8-byte stores, made only with 8 bytes left to read, stay inside.
 */
static char *scratch(struct parser *p)
{
	if (!p->scratch) {
		p->scratch = infty_malloc((size_t)(p->end - p->line) + 1);
		if (!p->scratch)
			return NULL;
		p->heap = 1;
	}
	return p->scratch + p->used;
}

/*
 * The \uXXXX escape at q (q[0] is '\\'), written to *dst as UTF-8.  A high
 * surrogate must be followed at once by a low one, exactly as the policy
 * check always required.  Returns the position after the escape(s).
 */
static const unsigned char *unicode_escape(struct parser *p, const unsigned char *q, char **dst)
{
	const unsigned char *end = p->end;
	long v = hex4(q + 2, end);
	if (v < 0) {
		for (const unsigned char *h = q + 2; h < end && h < q + 6; h++)
			if (hexval(*h) < 0)
				return fail(p, q, "bad \\u escape");
		return truncated(p);
	}
	if (v == 0)
		return bad_text(p, q, "\\u0000 in a string");
	if (v >= 0xDC00 && v <= 0xDFFF)
		return bad_text(p, q, "lone surrogate escape");
	uint32_t cp = (uint32_t)v;
	const unsigned char *next = q + 6;
	if (v >= 0xD800 && v <= 0xDBFF) {
		long w = (end - q >= 12 && q[6] == '\\' && q[7] == 'u') ? hex4(q + 8, end) : -1;
		if (w < 0xDC00 || w > 0xDFFF)
			return bad_text(p, q, "lone surrogate escape");
		cp = 0x10000 + ((uint32_t)(v & 0x3FF) << 10) + (uint32_t)(w & 0x3FF);
		next = q + 12;
	}
	unsigned char *d = (unsigned char *)*dst;
	if (cp < 0x80) {
		*d++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*d++ = (unsigned char)(0xC0 | cp >> 6);
		*d++ = (unsigned char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*d++ = (unsigned char)(0xE0 | cp >> 12);
		*d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (unsigned char)(0x80 | (cp & 0x3F));
	} else {
		*d++ = (unsigned char)(0xF0 | cp >> 18);
		*d++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		*d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (unsigned char)(0x80 | (cp & 0x3F));
	}
	*dst = (char *)d;
	return next;
}

/*
 * The rest of a string from its first escape at q (start..q is plain text
 * already checked), unescaped into the scratch.  Sets *out and *n; the text
 * is NUL-terminated.  Returns the position after the closing quote.
 */
static const unsigned char *unescape(struct parser *p, const unsigned char *start,
                                     const unsigned char *q, unsigned char quote, const char **out,
                                     size_t *n)
{
	const unsigned char *end = p->end;
	const uint64_t quotes = 0x0101010101010101ULL * quote;
	char *base = scratch(p);
	if (!base)
		return no_memory(p);
	memcpy(base, start, (size_t)(q - start));
	char *dst = base + (q - start);
	for (;;) {
		/* q is at a byte stops8() flags, or at the end. */
		if (q == end)
			return truncated(p);
		unsigned char c = *q;
		if (c == quote) {
			*dst = '\0';
			*out = base;
			*n = (size_t)(dst - base);
			return q + 1;
		}
		if (c == '\\') {
			if (end - q < 2)
				return truncated(p);
			unsigned char e = q[1], r;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				r = e;
				break;
			case 'b':
				r = '\b';
				break;
			case 'f':
				r = '\f';
				break;
			case 'n':
				r = '\n';
				break;
			case 'r':
				r = '\r';
				break;
			case 't':
				r = '\t';
				break;
			case 'u':
				q = unicode_escape(p, q, &dst);
				if (!q)
					return NULL;
				goto scan;
			default:
				return fail(p, q, "invalid escape in a string");
			}
			*dst++ = (char)r;
			q += 2;
		} else if (c >= 0x80) {
			size_t k = infty_utf8_seq_len((const char *)q, (size_t)(end - q));
			if (!k)
				return bad_text(p, q, "invalid UTF-8");
			memcpy(dst, q, k);
			dst += k;
			q += k;
		} else {
			return control(p, q);
		}
	scan:
		/* Copy whole words; the stop byte is overwritten next round. */
		for (;;) {
			if (end - q < 8) {
				while (q < end && *q != quote && *q != '\\' && *q >= 0x20 &&
				       *q < 0x80)
					*dst++ = (char)*q++;
				break;
			}
			uint64_t m = stops8(load8(q), quotes);
			memcpy(dst, q, 8);
			if (m) {
				unsigned k = first8(m);
				q += k;
				dst += k;
				break;
			}
			q += 8;
			dst += 8;
		}
	}
}

/*
 * The string after the opening quote at q[-1], closed by quote ('"', or '\''
 * for keys).  Sets *out and *n: the line itself when it has no escape and
 * need_nul is 0, else the scratch (NUL-terminated).  Returns the position
 * after the closing quote.
 */
static const unsigned char *string(struct parser *p, const unsigned char *q, unsigned char quote,
                                   int need_nul, const char **out, size_t *n)
{
	const unsigned char *end = p->end, *start = q;
	const uint64_t quotes = 0x0101010101010101ULL * quote;
	for (;;) {
		while (end - q >= 8) {
			uint64_t m = stops8(load8(q), quotes);
			if (m) {
				q += first8(m);
				goto stop;
			}
			q += 8;
		}
		while (q < end && *q != quote && *q != '\\' && *q >= 0x20 && *q < 0x80)
			q++;
		if (q == end)
			return truncated(p);
	stop:
		if (*q == quote) {
			if (!need_nul) {
				*out = (const char *)start;
				*n = (size_t)(q - start);
				return q + 1;
			}
			return unescape(p, start, q, quote, out, n);
		}
		if (*q == '\\')
			return unescape(p, start, q, quote, out, n);
		if (*q < 0x20)
			return control(p, q);
		size_t k = infty_utf8_seq_len((const char *)q, (size_t)(end - q));
		if (!k)
			return bad_text(p, q, "invalid UTF-8");
		q += k;
	}
}

/* Whether the line at q starts with the len bytes of lit. */
static int starts(const unsigned char *q, const unsigned char *end, const char *lit, size_t len)
{
	return (size_t)(end - q) >= len && memcmp(q, lit, len) == 0;
}

/* The literal lit at q; a prefix of it cut by the end of the line is truncation. */
static const unsigned char *literal(struct parser *p, const unsigned char *q, const char *lit,
                                    size_t len)
{
	if (starts(q, p->end, lit, len))
		return q + len;
	size_t have = (size_t)(p->end - q);
	if (have < len && memcmp(q, lit, have) == 0)
		return truncated(p);
	return fail(p, q, "unexpected character");
}

/* NaN, Infinity or -Infinity at q: not JSON, and said so. */
static const unsigned char *nonfinite(struct parser *p, const unsigned char *q)
{
	(void)q;
	p->err = INFTY_EJSON;
	snprintf(p->detail, p->dlen, "NaN or Infinity is not JSON");
	return NULL;
}

static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void c_numeric_init(void)
{
	c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static const unsigned char *digits(const unsigned char *q, const unsigned char *end)
{
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return q;
}

/*
 * A number as RFC 8259 writes it, -? (0 | [1-9][0-9]*) (.[0-9]+)?
 * ([eE][+-]?[0-9]+)?, converted as json-c's tokener did (strtoll,
 * strtoull, strtod on the same characters): integers beyond 64 bits
 * saturate (an implementation choice RFC 8259 leaves open), a double keeps
 * its text, which is what it serializes to, and one beyond a double is
 * refused.  Returns the position after it.
 */
static const unsigned char *number(struct parser *p, const unsigned char *q,
                                   struct json_object **out)
{
	const unsigned char *end = p->end, *start = q, *d;
	int is_double = 0;
	if (*q == '-')
		q++;
	if (q < end && *q == 'I')
		return nonfinite(p, start);
	if (q == end)
		return truncated(p);
	if (*q == '0') {
		q++;
		if (q < end && *q >= '0' && *q <= '9')
			return fail(p, start, "number with a leading zero");
	} else if (*q >= '1' && *q <= '9') {
		q = digits(q, end);
	} else {
		return fail(p, start, "number expected");
	}
	if (q < end && *q == '.') {
		is_double = 1;
		if ((d = digits(q + 1, end)) == q + 1)
			return d == end ? truncated(p) : fail(p, start, "a digit must follow '.'");
		q = d;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		is_double = 1;
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if ((d = digits(q, end)) == q)
			return d == end ? truncated(p) : fail(p, start, "a digit must follow 'e'");
		q = d;
	}
	if (q == end && !p->whole)
		return truncated(p); /* a line's number could go on */
	size_t n = (size_t)(q - start);
	if (!is_double && n <= 18) {
		/* Fast path: fits int64 whatever the digits. */
		int64_t v = 0;
		for (d = start + (*start == '-'); d < q; d++)
			v = v * 10 + (*d - '0');
		*out = json_object_new_int64(*start == '-' ? -v : v);
		return *out ? q : no_memory(p);
	}
	char small[64], *buf = small;
	if (n >= sizeof small) {
		buf = scratch(p);
		if (!buf)
			return no_memory(p);
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	if (!is_double && *buf == '-') {
		*out = json_object_new_int64(strtoll(buf, NULL, 10)); /* saturates, as json-c */
	} else if (!is_double) {
		unsigned long long v = strtoull(buf, NULL, 10); /* saturates, as json-c */
		*out =
		    v <= INT64_MAX ? json_object_new_int64((int64_t)v) : json_object_new_uint64(v);
	} else {
		pthread_once(&c_numeric_once, c_numeric_init);
		double v = c_numeric ? strtod_l(buf, NULL, c_numeric) : strtod(buf, NULL);
		if (!isfinite(v))
			return fail(p, start, "number beyond a double");
		*out = json_object_new_double_s(v, buf);
	}
	return *out ? q : no_memory(p);
}

static const unsigned char *value(struct parser *p, const unsigned char *q, int depth,
                                  struct json_object **out);

/* The members of the object whose '{' is at q[-1]. */
static const unsigned char *object(struct parser *p, const unsigned char *q, int depth,
                                   struct json_object **out)
{
	const unsigned char *end = p->end;
	struct json_object *o = json_object_new_object();
	if (!o)
		return no_memory(p);
	q = skip_ws(q, end);
	if (q < end && *q == '}') {
		*out = o;
		return q + 1;
	}
	for (;;) {
		if (q == end) {
			truncated(p);
			goto bad;
		}
		if (*q != '"') {
			fail(p, q,
			     *q == '}'    ? "',' before '}'"
			     : *q == '\'' ? "a key in single quotes (JSON has double quotes only)"
			                  : "quoted key expected");
			goto bad;
		}
		const char *key;
		size_t klen, mark = p->used;
		q = string(p, q + 1, *q, 1, &key, &klen);
		if (!q)
			goto bad;
		/* The key stays in the scratch while its value is parsed. */
		p->used = mark + klen + 1;
		q = skip_ws(q, end);
		if (q == end) {
			truncated(p);
			goto bad;
		}
		if (*q != ':') {
			fail(p, q, "':' expected after a key");
			goto bad;
		}
		q = skip_ws(q + 1, end);
		if (q == end) {
			truncated(p);
			goto bad;
		}
		if (depth >= MAX_DEPTH - 1) {
			fail(p, q, "nested deeper than 32 levels");
			goto bad;
		}
		struct json_object *v;
		q = value(p, q, depth + 1, &v);
		if (!q)
			goto bad;
		/* Adds, or replaces the value of a repeated key in place: as the tokener. */
		if (json_object_object_add(o, key, v)) {
			json_object_put(v);
			no_memory(p);
			goto bad;
		}
		p->used = mark;
		q = skip_ws(q, end);
		if (q < end && *q == '}') {
			*out = o;
			return q + 1;
		}
		if (q < end && *q != ',') {
			fail(p, q, "',' or '}' expected");
			goto bad;
		}
		if (q < end)
			q = skip_ws(q + 1, end);
	}
bad:
	json_object_put(o);
	return NULL;
}

/* The elements of the array whose '[' is at q[-1]. */
static const unsigned char *array(struct parser *p, const unsigned char *q, int depth,
                                  struct json_object **out)
{
	const unsigned char *end = p->end;
	struct json_object *a = json_object_new_array();
	if (!a)
		return no_memory(p);
	q = skip_ws(q, end);
	if (q < end && *q == ']')
		goto done;
	for (;;) {
		if (q == end) {
			truncated(p);
			goto bad;
		}
		if (*q == ']') {
			fail(p, q, "',' before ']'");
			goto bad;
		}
		if (depth >= MAX_DEPTH - 1) {
			fail(p, q, "nested deeper than 32 levels");
			goto bad;
		}
		struct json_object *v;
		q = value(p, q, depth + 1, &v);
		if (!q)
			goto bad;
		if (json_object_array_add(a, v)) {
			json_object_put(v);
			no_memory(p);
			goto bad;
		}
		q = skip_ws(q, end);
		if (q < end && *q == ']')
			goto done;
		if (q < end && *q != ',') {
			fail(p, q, "',' or ']' expected");
			goto bad;
		}
		if (q < end)
			q = skip_ws(q + 1, end);
	}
done:
	json_object_array_shrink(a, 0); /* as the tokener: no spare slots */
	*out = a;
	return q + 1;
bad:
	json_object_put(a);
	return NULL;
}

/* The value at q (not at the end), at nesting depth depth. */
static const unsigned char *value(struct parser *p, const unsigned char *q, int depth,
                                  struct json_object **out)
{
	const char *s;
	size_t n;
	switch (*q) {
	case '{':
		return object(p, q + 1, depth, out);
	case '[':
		return array(p, q + 1, depth, out);
	case '"':
		q = string(p, q + 1, '"', 0, &s, &n);
		if (!q)
			return NULL;
		*out = json_object_new_string_len(s, (int)n);
		return *out ? q : no_memory(p);
	case 't':
	case 'f': {
		int t = *q == 't';
		q = t ? literal(p, q, "true", 4) : literal(p, q, "false", 5);
		if (!q)
			return NULL;
		*out = json_object_new_boolean(t);
		return *out ? q : no_memory(p);
	}
	case 'n':
		*out = NULL;
		return literal(p, q, "null", 4);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return number(p, q, out);
	case 'N':
	case 'I':
		return nonfinite(p, q);
	default:
		return fail(p, q, "unexpected character");
	}
}

static int parse(const char *line, size_t len, struct json_object **obj, char *detail,
                 size_t detail_len, int need_object)
{
	char small_detail[8];
	if (!detail) {
		detail = small_detail;
		detail_len = sizeof small_detail;
	}
	*obj = NULL;
	detail[0] = '\0';
	const unsigned char *s = (const unsigned char *)line;
	if (len > INT32_MAX) {
		/* The tokener's limit; json-c strings cannot be longer either. */
		int err = validate(s, len, detail, detail_len);
		if (err)
			return err;
		snprintf(detail, detail_len, "line of %zu bytes is too long for json-c", len);
		return INFTY_EJSON;
	}
	char stack[INFTY_JSON_STACK_SCRATCH + 1]; /* + 1: no zero-length array */
	struct parser p = {
	    .line = s, .end = s + len, .detail = detail, .dlen = detail_len, .whole = !need_object};
	if (len + 1 <= INFTY_JSON_STACK_SCRATCH)
		p.scratch = stack;
	struct json_object *o = NULL;
	const unsigned char *q = skip_ws(s, p.end);
	q = q == p.end ? truncated(&p) : value(&p, q, 0, &o);
	if (q && skip_ws(q, p.end) != p.end)
		fail(&p, skip_ws(q, p.end), "text after the value");
	else if (q && need_object && !json_object_is_type(o, json_type_object)) {
		p.err = INFTY_EJSON;
		snprintf(detail, detail_len, "line is not a JSON object");
	}
	if (p.heap)
		infty_free(p.scratch);
	if (p.err) {
		json_object_put(o);
		/* Bad text anywhere in the line outranks broken JSON, as it always
		 * did: the line then goes to the rejects as base64, byte-exact. */
		if (p.err == INFTY_EJSON && validate(s, len, detail, detail_len))
			return INFTY_EUTF8;
		return p.err;
	}
	*obj = o;
	return 0;
}

int infty_json_parse(const char *line, size_t len, struct json_object **obj, char *detail,
                     size_t detail_len)
{
	return parse(line, len, obj, detail, detail_len, 1);
}

int infty_json_parse_value(const char *text, size_t len, struct json_object **obj, char *detail,
                           size_t detail_len)
{
	return parse(text, len, obj, detail, detail_len, 0);
}
