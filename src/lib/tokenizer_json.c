/*
 * tokenizer_json.c - see tokenizer_json.h.  The cursor is strict JSON for
 * what it reads itself; a member it only skips is parsed strictly by
 * infty_json_parse_value afterwards, so nothing malformed gets through either way.
 */
#include "tokenizer_json.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdio.h>
#include <string.h>

struct tok_pool_block {
	struct tok_pool_block *next;
	char data[];
};

#define POOL_BLOCK 65536

static char *pool_alloc(struct tok_pool *p, size_t n)
{
	if (p->used + n > p->cap || !p->head) {
		size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
		struct tok_pool_block *b = infty_malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = p->head;
		p->head = b;
		p->used = 0;
		p->cap = cap;
	}
	char *r = p->head->data + p->used;
	p->used += n;
	return r;
}

static void pool_free(struct tok_pool *p)
{
	while (p->head) {
		struct tok_pool_block *b = p->head;
		p->head = b->next;
		infty_free(b);
	}
	p->used = p->cap = 0;
}

static int cur_fail(struct tok_cur *c, const char *what)
{
	if (!c->err)
		c->err = what;
	return -1;
}

static void skip_ws(struct tok_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
		c->p++;
}

char tok_cur_peek(struct tok_cur *c)
{
	if (c->err)
		return 0;
	skip_ws(c);
	return c->p < c->end ? *c->p : 0;
}

int tok_cur_enter(struct tok_cur *c, char open)
{
	if (tok_cur_peek(c) != open)
		return cur_fail(c, open == '{' ? "expected an object" : "expected an array");
	c->p++;
	return 0;
}

int tok_cur_next(struct tok_cur *c, char close, size_t *count)
{
	char ch = tok_cur_peek(c);
	if (c->err)
		return -1;
	if (ch == close) {
		c->p++;
		return 0;
	}
	if (*count) {
		if (ch != ',')
			return cur_fail(c, ch ? "expected ',' or a closing bracket"
			                      : "text ends inside an array or object");
		c->p++;
	}
	++*count;
	if (!tok_cur_peek(c) && !c->err)
		return cur_fail(c, "text ends inside an array or object");
	return 1;
}

int tok_cur_colon(struct tok_cur *c)
{
	if (tok_cur_peek(c) != ':')
		return cur_fail(c, "expected ':'");
	c->p++;
	return 0;
}

/* End of the string whose opening quote is at q (one past the closing
 * quote), or NULL; *escaped says whether it holds a backslash. */
static const char *string_end(struct tok_cur *c, const char *q, int *escaped)
{
	*escaped = 0;
	for (q++; q < c->end; q++) {
		unsigned char ch = (unsigned char)*q;
		if (ch == '"')
			return q + 1;
		if (ch < 0x20) {
			c->p = q;
			cur_fail(c, "control character in a string");
			return NULL;
		}
		if (ch == '\\') {
			*escaped = 1;
			q++; /* the escaped character; infty_json_parse_value checks it */
		}
	}
	c->p = c->end;
	cur_fail(c, "text ends inside a string");
	return NULL;
}

int tok_cur_string(struct tok_cur *c, const char **s, size_t *n)
{
	if (tok_cur_peek(c) != '"')
		return cur_fail(c, "expected a string");
	const char *q = c->p;
	int escaped;
	const char *e = string_end(c, q, &escaped);
	if (!e)
		return -1;
	if (!escaped) {
		*s = q + 1;
		*n = (size_t)(e - q - 2);
		c->p = e;
		return 0;
	}
	/* Rare (a few hundred vocab entries): let the real parser unescape. */
	struct json_object *o;
	if (infty_json_parse_value(q, (size_t)(e - q), &o, NULL, 0) != 0)
		return cur_fail(c, "bad escape in a string");
	size_t len = (size_t)json_object_get_string_len(o);
	char *copy = pool_alloc(c->pool, len + 1);
	if (copy) {
		memcpy(copy, json_object_get_string(o), len);
		copy[len] = '\0';
	}
	json_object_put(o);
	if (!copy) {
		c->nomem = 1;
		return cur_fail(c, "out of memory");
	}
	*s = copy;
	*n = len;
	c->p = e;
	return 0;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

int tok_cur_uint(struct tok_cur *c, uint64_t max, uint64_t *v)
{
	char ch = tok_cur_peek(c);
	int neg = ch == '-', out_of_range = 0;
	const char *q = c->p + neg;
	if (q == c->end || !is_digit(*q))
		return cur_fail(c, "expected a number");
	uint64_t x = 0;
	if (*q == '0')
		q++;
	else
		for (; q < c->end && is_digit(*q); q++) {
			if (x > (max - (uint64_t)(*q - '0')) / 10)
				out_of_range = 1;
			else
				x = x * 10 + (uint64_t)(*q - '0');
		}
	if (q < c->end && *q == '.') {
		out_of_range = 1;
		if (++q == c->end || !is_digit(*q))
			return cur_fail(c, "bad number");
		while (q < c->end && is_digit(*q))
			q++;
	}
	if (q < c->end && (*q == 'e' || *q == 'E')) {
		out_of_range = 1;
		q++;
		if (q < c->end && (*q == '+' || *q == '-'))
			q++;
		if (q == c->end || !is_digit(*q))
			return cur_fail(c, "bad number");
		while (q < c->end && is_digit(*q))
			q++;
	}
	c->p = q;
	*v = x;
	return neg || out_of_range;
}

/* Step over one value without reading it: brackets matched, strings
 * skipped whole; the caller parses the extent strictly. */
static int skip_value(struct tok_cur *c)
{
	size_t depth = 0;
	if (!tok_cur_peek(c))
		return cur_fail(c, "expected a value");
	do {
		char ch = tok_cur_peek(c);
		int escaped;
		switch (ch) {
		case 0:
			return cur_fail(c, "text ends inside an array or object");
		case '"':
			if (!(c->p = string_end(c, c->p, &escaped)))
				return -1;
			break;
		case '{':
		case '[':
			depth++;
			c->p++;
			break;
		case '}':
		case ']':
			if (!depth)
				return cur_fail(c, "unexpected closing bracket");
			depth--;
			c->p++;
			break;
		default:
			while (c->p < c->end && !strchr(",:]}\" \t\r\n{[", *c->p))
				c->p++;
			if (depth == 0 || ch == ',' || ch == ':')
				c->p += ch == ',' || ch == ':';
		}
	} while (depth);
	return 0;
}

/* Parse the value at the cursor with infty_json_parse_value and add it to obj. */
static int add_parsed(struct tok_cur *c, struct json_object *obj, const char *key, size_t klen,
                      char *detail, size_t dn)
{
	const char *start = (skip_ws(c), c->p);
	if (skip_value(c))
		return INFTY_EJSON;
	struct json_object *v;
	int rc = infty_json_parse_value(start, (size_t)(c->p - start), &v, detail, dn);
	if (rc) {
		c->p = start;
		return rc;
	}
	/* json-c wants a NUL-terminated key (and copies it). */
	char *k = pool_alloc(c->pool, klen + 1);
	if (k) {
		memcpy(k, key, klen);
		k[klen] = '\0';
	}
	if (!k || json_object_object_add(obj, k, v)) {
		json_object_put(v);
		return INFTY_ENOMEM;
	}
	return 0;
}

static int key_is(const char *k, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(k, want, n) == 0;
}

/* The members of the object at the cursor into obj, except the raw ones
 * named in raw_keys (NULL-terminated), whose extents go to raw[2 * i]. */
static int members(struct tok_cur *c, struct json_object *obj, const char *const *raw_keys,
                   const char **raw, struct tok_doc *d, char *detail, size_t dn)
{
	size_t count = 0;
	int more, rc;
	if (tok_cur_enter(c, '{'))
		return INFTY_EJSON;
	while ((more = tok_cur_next(c, '}', &count)) == 1) {
		const char *k;
		size_t kn;
		if (tok_cur_string(c, &k, &kn) || tok_cur_colon(c))
			return INFTY_EJSON;
		size_t i = 0;
		while (raw_keys && raw_keys[i] && !key_is(k, kn, raw_keys[i]))
			i++;
		if (raw_keys && raw_keys[i]) {
			raw[2 * i] = (skip_ws(c), c->p);
			if (skip_value(c))
				return INFTY_EJSON;
			raw[2 * i + 1] = c->p;
		} else if (d && key_is(k, kn, "model") && tok_cur_peek(c) == '{') {
			static const char *const big[] = {"vocab", "merges", NULL};
			const char *ext[4] = {0};
			if (!d->model && !(d->model = json_object_new_object()))
				return INFTY_ENOMEM;
			if ((rc = members(c, d->model, big, ext, NULL, detail, dn)))
				return rc;
			if (ext[0]) {
				d->vocab = ext[0];
				d->vocab_end = ext[1];
			}
			if (ext[2]) {
				d->merges = ext[2];
				d->merges_end = ext[3];
			}
		} else if ((rc = add_parsed(c, obj, k, kn, detail, dn))) {
			return rc;
		}
	}
	return more < 0 ? INFTY_EJSON : 0;
}

int tok_doc_parse(struct tok_doc *d, const char *buf, size_t len, char *detail, size_t dn)
{
	memset(d, 0, sizeof *d);
	if (!(d->root = json_object_new_object()))
		return INFTY_ENOMEM;
	struct tok_cur c = {buf, buf + len, NULL, 0, &d->pool};
	char sub[160] = "";
	int rc = members(&c, d->root, NULL, NULL, d, sub, sizeof sub);
	if (!rc && tok_cur_peek(&c)) {
		cur_fail(&c, "text after the top-level object");
		rc = INFTY_EJSON;
	}
	if (c.nomem)
		rc = INFTY_ENOMEM;
	if (rc && rc != INFTY_ENOMEM)
		rc = INFTY_EJSON; /* invalid UTF-8 in a member is bad JSON here too */
	if (rc == INFTY_EJSON && detail && dn)
		snprintf(detail, dn, "bad JSON at byte %zu: %s", (size_t)(c.p - buf),
		         c.err ? c.err : sub);
	if (rc)
		tok_doc_free(d);
	return rc;
}

void tok_doc_free(struct tok_doc *d)
{
	json_object_put(d->root);
	json_object_put(d->model);
	pool_free(&d->pool);
	memset(d, 0, sizeof *d);
}
