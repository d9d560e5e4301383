/*
 * seg_tok.c - the real tokenizer as an infty-segment counter: one piece
 * cache per thread, exact counts, and hard cuts at token boundaries.
 */
#include "seg_tok.h"

#include "infty/alloc.h"
#include "infty/tokenizer.h"

static void *ctx_new(void *arg)
{
	return infty_tok_ctx_new(arg);
}

static void ctx_free(void *ctx)
{
	infty_tok_ctx_free(ctx);
}

static int64_t count(void *ctx, const char *s, size_t n)
{
	return infty_tok_count(ctx, s, n);
}

/*
 * Cut after the eta-th token of s in context, stepping back a token at a
 * time while that end is inside a UTF-8 character (byte-level tokens may
 * split one) or the prefix, recounted alone, is over eta.  0 when no answer
 * is found within a few steps; the engine then searches on counts.
 */
static size_t cut(void *ctx, const char *s, size_t n, int64_t eta)
{
	int64_t total = infty_tok_count(ctx, s, n);
	if (total <= eta || eta <= 0)
		return 0;
	uint32_t *ids = infty_malloc((size_t)total * sizeof *ids);
	size_t *off = infty_malloc(2 * (size_t)total * sizeof *off);
	size_t best = 0;
	if (ids && off && infty_tok_encode(ctx, s, n, ids, (size_t)total, off) == total) {
		for (int64_t k = eta, tries = 0; k > 0 && tries < 16; k--, tries++) {
			size_t L = off[2 * (k - 1) + 1];
			if (L == 0 || L >= n || ((unsigned char)s[L] & 0xC0) == 0x80)
				continue;
			int64_t t = infty_tok_count(ctx, s, L);
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
	c->hash = infty_tokenizer_hash(tok);
}
