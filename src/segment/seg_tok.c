/*
 * seg_tok.c - the real tokenizer as an infty-segment counter: one piece
 * cache per thread, exact counts, and hard cuts at token boundaries.
 *
 * begin() tokenizes a reasoning once into a piece map; every count of a
 * substring of it is then answered from the map, exactly as a standalone
 * count (infty_tok_map_count), so packing costs about one tokenization of
 * the text instead of one per candidate segment.
 */
#include "seg_tok.h"

#include "infty/alloc.h"
#include "infty/tokenizer.h"

#include <stdint.h>

struct counter_ctx {
	struct infty_tok_ctx *tc;
	struct infty_tok_map map; /* map.text NULL: no text begun */
};

static void *ctx_new(void *arg)
{
	struct counter_ctx *x = infty_calloc(1, sizeof *x);
	if (x && !(x->tc = infty_tok_ctx_new(arg))) {
		infty_free(x);
		return NULL;
	}
	return x;
}

static void ctx_free(void *ctx)
{
	struct counter_ctx *x = ctx;
	if (!x)
		return;
	infty_tok_map_release(&x->map);
	infty_tok_ctx_free(x->tc);
	infty_free(x);
}

static int64_t begin(void *ctx, const char *s, size_t n)
{
	struct counter_ctx *x = ctx;
	if (!s) {
		x->map.text = NULL;
		x->map.len = 0;
		return 0;
	}
	int64_t r = infty_tok_map_build(x->tc, &x->map, s, n);
	if (r < 0)
		x->map.text = NULL;
	return r;
}

static int64_t count(void *ctx, const char *s, size_t n)
{
	struct counter_ctx *x = ctx;
	const struct infty_tok_map *m = &x->map;
	uintptr_t p = (uintptr_t)s, t = (uintptr_t)m->text;
	if (m->text && p >= t && p - t <= m->len && n <= m->len - (p - t))
		return infty_tok_map_count(x->tc, m, p - t, p - t + n);
	return infty_tok_count(x->tc, s, n);
}

/*
 * Cut after the eta-th token of s in context, stepping back a token at a
 * time while that end is inside a UTF-8 character (byte-level tokens may
 * split one) or the prefix, recounted alone, is over eta.  0 when no answer
 * is found within a few steps; the engine then searches on counts.
 */
static size_t cut(void *ctx, const char *s, size_t n, int64_t eta)
{
	struct infty_tok_ctx *tc = ((struct counter_ctx *)ctx)->tc;
	int64_t total = infty_tok_count(tc, s, n);
	if (total <= eta || eta <= 0)
		return 0;
	uint32_t *ids = infty_malloc((size_t)total * sizeof *ids);
	size_t *off = infty_malloc(2 * (size_t)total * sizeof *off);
	size_t best = 0;
	if (ids && off && infty_tok_encode(tc, s, n, ids, (size_t)total, off) == total) {
		for (int64_t k = eta, tries = 0; k > 0 && tries < 16; k--, tries++) {
			size_t L = off[2 * (k - 1) + 1];
			if (L == 0 || L >= n || ((unsigned char)s[L] & 0xC0) == 0x80)
				continue;
			int64_t t = infty_tok_count(tc, s, L);
			if (t >= 0 && t <= eta) {
				best = L;
				break;
			}
		}
	}
	infty_free(ids);
	infty_free(off);
	return best;
}

void infty_seg_tok_counter(struct infty_seg_counter *c, struct infty_tokenizer *tok)
{
	c->arg = tok;
	c->ctx_new = ctx_new;
	c->ctx_free = ctx_free;
	c->count = count;
	c->cut = cut;
	c->begin = begin;
	c->hash = infty_tokenizer_hash(tok);
}
