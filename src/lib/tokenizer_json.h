/*
 * tokenizer_json.h - tokenizer.json read without building its two big
 * members as json-c objects.  model.vocab and model.merges hold about 300,000
 * entries in a Qwen file; as json-c objects they cost half a million
 * allocations and most of the load time.  They stay raw text here and the
 * loader walks them with a cursor; every other member (normalizer,
 * pre_tokenizer, added_tokens, the model's options) is small and goes
 * through infty_json_parse as usual.  Private to tokenizer.c.
 */
#ifndef INFTY_TOKENIZER_JSON_H
#define INFTY_TOKENIZER_JSON_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Unescaped copies of the strings that had escapes (a few hundred in a
 * vocabulary) and of member keys: blocks that never move, so the copies stay
 * put until the document is freed. */
struct tok_pool {
	struct tok_pool_block *head;
	size_t used, cap;
};

struct tok_doc {
	struct json_object *root;        /* the top-level members but "model" */
	struct json_object *model;       /* "model"'s members but "vocab" and "merges" */
	const char *vocab, *vocab_end;   /* raw text of model.vocab (NULL: absent) */
	const char *merges, *merges_end; /* raw text of model.merges (NULL: absent) */
	struct tok_pool pool;            /* strings cursors over this document unescaped */
};

/* Split buf[0..len) (the file; it is only read).  Returns 0, or
 * INFTY_EJSON / INFTY_ENOMEM with the reason in detail.  Cursors over its
 * raw members use &d->pool. */
int tok_doc_parse(struct tok_doc *d, const char *buf, size_t len, char *detail, size_t dn);
void tok_doc_free(struct tok_doc *d);

/* A strict cursor over raw JSON text.  On an error, err says what and p is
 * where; every call after an error fails too. */
struct tok_cur {
	const char *p, *end;
	const char *err;
	int nomem;             /* the error is a failed allocation */
	struct tok_pool *pool; /* where unescaped strings go */
};

/* Enter the array or object at the cursor: 0, or -1 if something else is
 * there.  open is '[' or '{'. */
int tok_cur_enter(struct tok_cur *c, char open);
/* Before each element: 1 if one follows (its separator consumed), 0 at
 * close (consumed), -1 on an error.  *count is the elements seen so far. */
int tok_cur_next(struct tok_cur *c, char close, size_t *count);
/* A string: *s points into the text, or into the pool when it had escapes;
 * not NUL-terminated either way. */
int tok_cur_string(struct tok_cur *c, const char **s, size_t *n);
/* The ':' of an object member. */
int tok_cur_colon(struct tok_cur *c);
/* A number that must be an integer in [0, max]: 0, 1 if it is a valid JSON
 * number outside that (the caller's schema error), -1 on a syntax error. */
int tok_cur_uint(struct tok_cur *c, uint64_t max, uint64_t *v);
/* The first byte of the next value, after whitespace (0 at the end). */
char tok_cur_peek(struct tok_cur *c);

#endif
