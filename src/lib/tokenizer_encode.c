/*
 * tokenizer_encode.c - encode text with a loaded tokenizer: added tokens,
 * NFC, the hand-written pre-tokenizer scanner, then BPE per piece behind a
 * per-thread piece cache.  See docs/tokenizer.md for the design and the
 * exact rules the scanner follows.
 */
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/tokenizer.h"
#include "tok_nfc.h"
#include "tok_unicode.h"
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

/* Piece cache: direct-mapped, one 64-byte line per entry.  Pieces longer
 * than CACHE_KEY bytes are rare (about 0.1 % of real pieces) and not cached. */
#define CACHE_BITS       15
#define CACHE_KEY        22
#define CACHE_IDS        8
#define CACHE_COUNT_ONLY 0xff /* nids value: ids[0] holds the count */

struct cache_ent {
	uint64_t h;
	uint8_t klen; /* 0: empty */
	uint8_t nids;
	char key[CACHE_KEY];
	uint32_t ids[CACHE_IDS];
};

/* A span of the split that NFC rewrote: [ns, ne) in the normalized text came
 * from [os, oe) in the original. */
struct nfc_span {
	size_t ns, ne, os, oe;
};

struct infty_tok_ctx {
	const struct infty_tokenizer *t;
	struct cache_ent *cache; /* owned, 1 << CACHE_BITS entries */
	int first_only;          /* the one first byte of all added tokens, or -1 */

	char *nbuf; /* owned: the NFC form of the current split */
	size_t ncap, nlen;
	struct nfc_span *spans; /* owned */
	size_t nspans, spcap;
	struct tok_nfc_work nfc; /* the normalizer's scratch */

	/* BPE scratch, grown to the longest piece seen. */
	uint32_t *sym, *rank, *nw; /* owned */
	int32_t *prev, *next;      /* owned */
	uint64_t *heap;            /* owned */
	size_t bcap;
	uint32_t *out; /* owned: ids of the current piece */
};

/* Where encode puts its results. */
struct sink {
	uint32_t *ids; /* NULL: count only */
	size_t cap;
	size_t *offs;
	int64_t n;
	/* Offset mapping of the current split. */
	const struct nfc_span *sp;
	size_t nsp;
	size_t base;
	/* Building a piece map: every piece's end and the running count, while
	 * the map can still be shared (see infty_tok_map_build). */
	struct infty_tok_map *map;
	int map_err;
};

/* ---- code points and classes ---------------------------------------------- */

static const uint8_t ascii_cls[128] = {
    ['\t'] = INFTY_TOK_WS, ['\n'] = INFTY_TOK_WS, ['\v'] = INFTY_TOK_WS, ['\f'] = INFTY_TOK_WS,
    ['\r'] = INFTY_TOK_WS, [' '] = INFTY_TOK_WS,  ['0'] = INFTY_TOK_N,   ['1'] = INFTY_TOK_N,
    ['2'] = INFTY_TOK_N,   ['3'] = INFTY_TOK_N,   ['4'] = INFTY_TOK_N,   ['5'] = INFTY_TOK_N,
    ['6'] = INFTY_TOK_N,   ['7'] = INFTY_TOK_N,   ['8'] = INFTY_TOK_N,   ['9'] = INFTY_TOK_N,
#define L2(a, b) [a] = INFTY_TOK_L, [b] = INFTY_TOK_L
    L2('A', 'a'),          L2('B', 'b'),          L2('C', 'c'),          L2('D', 'd'),
    L2('E', 'e'),          L2('F', 'f'),          L2('G', 'g'),          L2('H', 'h'),
    L2('I', 'i'),          L2('J', 'j'),          L2('K', 'k'),          L2('L', 'l'),
    L2('M', 'm'),          L2('N', 'n'),          L2('O', 'o'),          L2('P', 'p'),
    L2('Q', 'q'),          L2('R', 'r'),          L2('S', 's'),          L2('T', 't'),
    L2('U', 'u'),          L2('V', 'v'),          L2('W', 'w'),          L2('X', 'x'),
    L2('Y', 'y'),          L2('Z', 'z'),
#undef L2
};

/* Decode the code point at s[p] of valid UTF-8 (checked beforehand). */
static inline uint32_t dec(const uint8_t *s, size_t p, size_t *len)
{
	uint32_t c = s[p];
	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c < 0xE0) {
		*len = 2;
		return (c & 0x1F) << 6 | (s[p + 1] & 0x3F);
	}
	if (c < 0xF0) {
		*len = 3;
		return (c & 0x0F) << 12 | (uint32_t)(s[p + 1] & 0x3F) << 6 | (s[p + 2] & 0x3F);
	}
	*len = 4;
	return (c & 0x07) << 18 | (uint32_t)(s[p + 1] & 0x3F) << 12 |
	       (uint32_t)(s[p + 2] & 0x3F) << 6 | (s[p + 3] & 0x3F);
}

/* Length of the valid UTF-8 sequence at s[p] (lead byte >= 0x80), or 0. */
static inline size_t valid_len(const uint8_t *s, size_t n, size_t p)
{
	uint8_t c = s[p];
	size_t k;
	uint8_t lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		k = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		k = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED) /* surrogates */
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n - p < k || s[p + 1] < lo || s[p + 1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if ((s[p + i] & 0xC0) != 0x80)
			return 0;
	return k;
}

/* The four classes of the Qwen/Llama-3/GPT-2 patterns: marks, punctuation
 * and symbols are all "other" there. */
static inline int uni_coarse(uint32_t cp)
{
	int k = infty_tok_uni_class(cp);
	return k > INFTY_TOK_WS ? INFTY_TOK_O : k;
}

static inline int cls_of(uint32_t cp)
{
	return cp < 128 ? ascii_cls[cp] : uni_coarse(cp);
}

static inline int cls_at(const uint8_t *s, size_t p, size_t *len)
{
	if (s[p] < 0x80) {
		*len = 1;
		return ascii_cls[s[p]];
	}
	return uni_coarse(dec(s, p, len));
}

/* End of the run of class k starting at q. */
static inline size_t run_of(const uint8_t *s, size_t n, size_t q, int k)
{
	while (q < n) {
		if (s[q] < 0x80) {
			if (ascii_cls[s[q]] != k)
				break;
			q++;
			continue;
		}
		size_t l;
		if (uni_coarse(dec(s, q, &l)) != k)
			break;
		q += l;
	}
	return q;
}

/* ---- the pre-tokenizer ----------------------------------------------------- */

/*
 * End of the piece that starts at p < n: the regex's alternatives tried in
 * order (leftmost-first), as documented in docs/tokenizer.md.
 */
static size_t next_piece(const struct tok_pattern *pat, const uint8_t *s, size_t n, size_t p)
{
	size_t l0;
	uint32_t c = dec(s, p, &l0);
	int k = cls_of(c);
	size_t q = p + l0;

	/* Contractions: 's 't 'm 'd, 're 've 'll (any case with (?i), where
	 * simple case folding also lets U+017F LONG S match 's'). */
	if (c == '\'' && q < n) {
		size_t l1;
		uint32_t d = dec(s, q, &l1);
		if (pat->contractions_ci) {
			if (d == 's' || d == 'S' || d == 0x17F || d == 't' || d == 'T' ||
			    d == 'm' || d == 'M' || d == 'd' || d == 'D')
				return q + l1;
			if (q + 1 < n && d < 0x80) {
				uint8_t a = (uint8_t)(d | 0x20), b = s[q + 1] | 0x20;
				if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
				    (a == 'l' && b == 'l'))
					return q + 2;
			}
		} else {
			if (d == 's' || d == 't' || d == 'm' || d == 'd')
				return q + 1;
			if (q + 1 < n &&
			    ((d == 'r' && s[q + 1] == 'e') || (d == 'v' && s[q + 1] == 'e') ||
			     (d == 'l' && s[q + 1] == 'l')))
				return q + 2;
		}
	}

	/* Letters, with one optional prefix character. */
	if (k == INFTY_TOK_L)
		return run_of(s, n, q, INFTY_TOK_L);
	if (q < n &&
	    (pat->letter_any_prefix ? (k != INFTY_TOK_N && c != '\r' && c != '\n') : c == ' ')) {
		size_t l1;
		if (cls_at(s, q, &l1) == INFTY_TOK_L)
			return run_of(s, n, q + l1, INFTY_TOK_L);
	}

	/* Numbers. */
	if (pat->num_max) {
		if (k == INFTY_TOK_N) {
			for (int i = 1; i < pat->num_max && q < n; i++) {
				size_t l1;
				if (cls_at(s, q, &l1) != INFTY_TOK_N)
					break;
				q += l1;
			}
			return q;
		}
	} else {
		if (k == INFTY_TOK_N)
			return run_of(s, n, q, INFTY_TOK_N);
		if (c == ' ' && q < n) {
			size_t l1;
			if (cls_at(s, q, &l1) == INFTY_TOK_N)
				return run_of(s, n, q + l1, INFTY_TOK_N);
		}
	}

	/* Punctuation and symbols, after one optional ASCII space. */
	size_t r = p;
	int kk = k;
	if (c == ' ' && q < n) {
		size_t l1;
		kk = cls_at(s, q, &l1);
		r = q;
	}
	if (kk == INFTY_TOK_O) {
		r = run_of(s, n, r, INFTY_TOK_O);
		if (pat->punct_crlf)
			while (r < n && (s[r] == '\r' || s[r] == '\n'))
				r++;
		return r;
	}

	/* Whitespace (c is whitespace here). */
	size_t e = p, last = p, nl_end = 0, ncp = 0;
	while (e < n) {
		size_t l;
		if (s[e] < 0x80) {
			if (ascii_cls[s[e]] != INFTY_TOK_WS)
				break;
			l = 1;
			if (s[e] == '\r' || s[e] == '\n')
				nl_end = e + 1;
		} else if (uni_coarse(dec(s, e, &l)) != INFTY_TOK_WS)
			break;
		last = e;
		e += l;
		ncp++;
	}
	if (pat->ws_crlf && nl_end)
		return nl_end; /* \s*[\r\n]+ */
	if (e == n)
		return e; /* \s+(?!\S) at the end */
	if (ncp >= 2)
		return last; /* \s+(?!\S): leave the last one to prefix what follows */
	return e;            /* \s+ */
}

/* ---- DeepSeek-V3 ------------------------------------------------------------
 *
 * Three Splits (Isolated) in a row, each on every piece of the one before:
 * 1. \p{N}{1,3}; 2. runs of U+4E00-9FA5, U+3040-309F, U+30A0-30FF; 3. the
 * pattern below.  Text a split's regex does not match between two matches is
 * a piece too (a "gap").  Pattern 3 at a position, alternatives in order:
 *   a. one of !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ then [A-Za-z]+
 *   b. [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
 *   c. ' '?[\p{P}\p{S}]+[\r\n]*
 *   d-f. the whitespace rules of the Qwen pattern
 * and no match (numbers, controls, format characters...) is gap.
 */

static inline int ds_cls(const uint8_t *s, size_t p, size_t *len)
{
	return infty_tok_uni_class(dec(s, p, len));
}

static inline int ds_is_cjk(uint32_t c)
{
	return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x30FF);
}

static inline int ascii_alpha(uint8_t c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* End of the pattern-3 match at p, or p when there is none. */
static size_t ds_match(const uint8_t *s, size_t n, size_t p)
{
	size_t l0;
	uint32_t c = dec(s, p, &l0);
	int k = infty_tok_uni_class(c);
	size_t q = p + l0;
	/* a */
	if (c < 128 && (k == INFTY_TOK_P || k == INFTY_TOK_S) && q < n && ascii_alpha(s[q])) {
		while (q < n && ascii_alpha(s[q]))
			q++;
		return q;
	}
	/* b */
	size_t l;
	if (k == INFTY_TOK_L || k == INFTY_TOK_M ||
	    (c != '\r' && c != '\n' && k != INFTY_TOK_P && k != INFTY_TOK_S && q < n &&
	     ((l = 0), ds_cls(s, q, &l) == INFTY_TOK_L || ds_cls(s, q, &l) == INFTY_TOK_M))) {
		while (q < n) {
			int kk = ds_cls(s, q, &l);
			if (kk != INFTY_TOK_L && kk != INFTY_TOK_M)
				break;
			q += l;
		}
		return q;
	}
	/* c */
	size_t r = p;
	int kk = k;
	if (c == ' ' && q < n) {
		kk = ds_cls(s, q, &l);
		r = q;
	}
	if (kk == INFTY_TOK_P || kk == INFTY_TOK_S) {
		while (r < n) {
			int k2 = ds_cls(s, r, &l);
			if (k2 != INFTY_TOK_P && k2 != INFTY_TOK_S)
				break;
			r += l;
		}
		while (r < n && (s[r] == '\r' || s[r] == '\n'))
			r++;
		return r;
	}
	if (k != INFTY_TOK_WS)
		return p;
	/* d-f: the same whitespace rules as the Qwen pattern. */
	size_t e = p, last = p, nl_end = 0, ncp = 0;
	while (e < n && ds_cls(s, e, &l) == INFTY_TOK_WS) {
		if (s[e] == '\r' || s[e] == '\n')
			nl_end = e + 1;
		last = e;
		e += l;
		ncp++;
	}
	if (nl_end)
		return nl_end;
	if (e == n || ncp < 2)
		return e;
	return last;
}

/* End of the piece at p of one level-3 span: a match, or the gap up to the
 * next position where a match starts. */
static size_t ds_piece3(const uint8_t *s, size_t n, size_t p)
{
	size_t e = ds_match(s, n, p);
	if (e > p)
		return e;
	size_t l;
	for (e = p; e < n; e += l) {
		dec(s, e, &l);
		if (e > p && ds_match(s, n, e) > e)
			break;
	}
	return e;
}

/* End of the level-1 piece at p: 1 to 3 numbers, or the run up to one. */
static size_t ds_piece1(const uint8_t *s, size_t n, size_t p)
{
	size_t l, e = p;
	if (ds_cls(s, p, &l) == INFTY_TOK_N) {
		for (int i = 0; i < 3 && e < n && ds_cls(s, e, &l) == INFTY_TOK_N; i++)
			e += l;
		return e;
	}
	while (e < n && ds_cls(s, e, &l) != INFTY_TOK_N)
		e += l;
	return e;
}

/* End of the level-2 piece at p: a run of CJK/kana, or the run up to one. */
static size_t ds_piece2(const uint8_t *s, size_t n, size_t p)
{
	size_t l, e = p;
	int cjk = ds_is_cjk(dec(s, p, &l));
	while (e < n && ds_is_cjk(dec(s, e, &l)) == cjk)
		e += l;
	return e;
}

/* ---- BPE ------------------------------------------------------------------- */

static int grow_bpe(struct infty_tok_ctx *c, size_t n)
{
	if (n <= c->bcap)
		return 0;
	size_t cap = c->bcap ? c->bcap : 64;
	while (cap < n)
		cap *= 2;
	void *p;
#define GROW(f)                                                                                    \
	do {                                                                                       \
		p = infty_realloc(c->f, cap * sizeof *c->f);                                       \
		if (!p)                                                                            \
			return INFTY_ENOMEM;                                                       \
		c->f = p;                                                                          \
	} while (0)
	GROW(sym);
	GROW(rank);
	GROW(nw);
	GROW(prev);
	GROW(next);
	GROW(heap);
	GROW(out);
#undef GROW
	c->bcap = cap;
	return 0;
}

/* Short pieces: ranks in an array, linear scan for the lowest (leftmost on
 * ties, as HF and tiktoken do).  Cheaper than a heap below a few dozen bytes. */
static size_t bpe_small(struct infty_tok_ctx *c, const uint8_t *s, size_t n)
{
	const struct infty_tokenizer *t = c->t;
	uint32_t *sym = c->sym, *rank = c->rank, *nw = c->nw;
	for (size_t i = 0; i < n; i++)
		sym[i] = t->byte_id[s[i]];
	for (size_t i = 0; i + 1 < n; i++)
		rank[i] = tok_pair(t, sym[i], sym[i + 1], &nw[i]);
	while (n > 1) {
		uint32_t best = TOK_NONE;
		size_t bi = 0;
		for (size_t i = 0; i + 1 < n; i++)
			if (rank[i] < best) {
				best = rank[i];
				bi = i;
			}
		if (best == TOK_NONE)
			break;
		sym[bi] = nw[bi];
		/* Drop symbol bi+1 and pair bi+1; pairs bi-1 and bi change. */
		if (bi + 2 < n) {
			memmove(sym + bi + 1, sym + bi + 2, (n - bi - 2) * sizeof *sym);
			if (bi + 3 < n) {
				memmove(rank + bi + 1, rank + bi + 2, (n - bi - 3) * sizeof *rank);
				memmove(nw + bi + 1, nw + bi + 2, (n - bi - 3) * sizeof *nw);
			}
		}
		n--;
		if (bi + 1 < n)
			rank[bi] = tok_pair(t, sym[bi], sym[bi + 1], &nw[bi]);
		if (bi > 0)
			rank[bi - 1] = tok_pair(t, sym[bi - 1], sym[bi], &nw[bi - 1]);
	}
	memcpy(c->out, sym, n * sizeof *sym);
	return n;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h[p] <= v)
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
	uint64_t top = h[0], v = h[--*n];
	size_t i = 0, m = *n;
	for (;;) {
		size_t l = 2 * i + 1;
		if (l >= m)
			break;
		if (l + 1 < m && h[l + 1] < h[l])
			l++;
		if (h[l] >= v)
			break;
		h[i] = h[l];
		i = l;
	}
	if (m)
		h[i] = v;
	return top;
}

/* Long pieces: HF's algorithm, a heap of (rank, position) with lazy
 * invalidation over a linked list of symbols, O(n log n) even for a 100 KB
 * run of one character. */
static size_t bpe_large(struct infty_tok_ctx *c, const uint8_t *s, size_t n)
{
	const struct infty_tokenizer *t = c->t;
	uint32_t *id = c->sym;
	int32_t *prev = c->prev, *next = c->next;
	uint64_t *heap = c->heap;
	size_t hn = 0;
	for (size_t i = 0; i < n; i++) {
		id[i] = t->byte_id[s[i]];
		prev[i] = (int32_t)i - 1;
		next[i] = (int32_t)i + 1;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		uint32_t nw, r = tok_pair(t, id[i], id[i + 1], &nw);
		if (r != TOK_NONE)
			heap_push(heap, &hn, (uint64_t)r << 32 | i);
	}
	while (hn) {
		uint64_t v = heap_pop(heap, &hn);
		uint32_t r = (uint32_t)(v >> 32), i = (uint32_t)v;
		if (id[i] == TOK_NONE || next[i] >= (int32_t)n)
			continue;
		int32_t j = next[i];
		uint32_t nw, rr = tok_pair(t, id[i], id[j], &nw);
		if (rr != r)
			continue; /* stale: a neighbour merged since this was pushed */
		id[i] = nw;
		id[j] = TOK_NONE;
		next[i] = next[j];
		if (next[j] < (int32_t)n)
			prev[next[j]] = (int32_t)i;
		if (prev[i] >= 0) {
			uint32_t nw2, r2 = tok_pair(t, id[prev[i]], id[i], &nw2);
			if (r2 != TOK_NONE)
				heap_push(heap, &hn, (uint64_t)r2 << 32 | (uint32_t)prev[i]);
		}
		if (next[i] < (int32_t)n) {
			uint32_t nw2, r2 = tok_pair(t, id[i], id[next[i]], &nw2);
			if (r2 != TOK_NONE)
				heap_push(heap, &hn, (uint64_t)r2 << 32 | i);
		}
	}
	size_t k = 0;
	for (int32_t i = 0; i < (int32_t)n; i = next[i])
		c->out[k++] = id[i];
	return k;
}

#define SMALL_BPE 48

/* BPE of one piece into c->out; returns the number of ids or ENOMEM. */
static int64_t bpe(struct infty_tok_ctx *c, const uint8_t *s, size_t n)
{
	if (grow_bpe(c, n))
		return INFTY_ENOMEM;
	return (int64_t)(n <= SMALL_BPE ? bpe_small(c, s, n) : bpe_large(c, s, n));
}

/* ---- pieces to ids ----------------------------------------------------------- */

static inline void emit(struct sink *k, uint32_t id, size_t a, size_t b);

/* Ids of one piece into c->out (or just the count when count_only and the
 * cache knows it).  Returns the count or ENOMEM; *ids points at the ids. */
static int64_t piece_ids(struct infty_tok_ctx *c, const uint8_t *s, size_t n, const uint32_t **ids,
                         int count_only)
{
	const struct infty_tokenizer *t = c->t;
	struct cache_ent *e = NULL;
	uint64_t h = 0;
	if (n <= CACHE_KEY) {
		h = tok_hash(s, n);
		e = &c->cache[h & ((1u << CACHE_BITS) - 1)];
		if (e->h == h && e->klen == n && memcmp(e->key, s, n) == 0) {
			if (e->nids != CACHE_COUNT_ONLY) {
				*ids = e->ids;
				return e->nids;
			}
			if (count_only)
				return e->ids[0];
			e = NULL; /* need the ids themselves: recompute, keep the entry */
		}
	}
	int64_t k;
	uint32_t id = infty_tok_vocab_find(t, (const char *)s, n);
	if (id != TOK_NONE && !t->ignore_merges) {
		uint8_t v = atomic_load_explicit(&t->self_enc[id], memory_order_relaxed);
		if (v == 0) {
			k = bpe(c, s, n);
			if (k < 0)
				return k;
			v = (k == 1 && c->out[0] == id) ? 1 : 2;
			atomic_store_explicit(&t->self_enc[id], v, memory_order_relaxed);
		}
		if (v == 2)
			id = TOK_NONE;
	}
	if (id != TOK_NONE) {
		if (grow_bpe(c, 1))
			return INFTY_ENOMEM;
		c->out[0] = id;
		k = 1;
	} else {
		k = bpe(c, s, n);
		if (k < 0)
			return k;
	}
	if (e) {
		e->h = h;
		e->klen = (uint8_t)n;
		memcpy(e->key, s, n);
		if (k <= CACHE_IDS) {
			e->nids = (uint8_t)k;
			memcpy(e->ids, c->out, (size_t)k * sizeof *c->out);
		} else {
			e->nids = CACHE_COUNT_ONLY;
			e->ids[0] = (uint32_t)k;
		}
	}
	*ids = c->out;
	return k;
}

/* Map a normalized offset of the current split back to the original text. */
static size_t map_off(const struct sink *k, size_t x, int is_end)
{
	size_t lo = 0, hi = k->nsp;
	/* Last span that starts before x (at or before x for a start offset). */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (is_end ? k->sp[mid].ns < x : k->sp[mid].ns <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return k->base + x;
	const struct nfc_span *sp = &k->sp[lo - 1];
	if (is_end ? x <= sp->ne : x < sp->ne)
		return k->base + (is_end ? sp->oe : sp->os);
	return k->base + x - sp->ne + sp->oe;
}

static inline void emit(struct sink *k, uint32_t id, size_t a, size_t b)
{
	if ((size_t)k->n < k->cap) {
		k->ids[k->n] = id;
		if (k->offs) {
			k->offs[2 * k->n] = k->nsp ? map_off(k, a, 0) : k->base + a;
			k->offs[2 * k->n + 1] = k->nsp ? map_off(k, b, 1) : k->base + b;
		}
	}
	k->n++;
}

/* ---- NFC and validation ------------------------------------------------------- */

static int nbuf_put(struct infty_tok_ctx *c, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (infty_grow(&c->nbuf, &c->ncap, c->nlen + n, 1))
		return INFTY_ENOMEM;
	memcpy(c->nbuf + c->nlen, p, n);
	c->nlen += n;
	return 0;
}

static inline int unstable(const struct infty_tokenizer *t, uint32_t cp)
{
	return t->nfc_unstable && (t->nfc_unstable[cp >> 3] >> (cp & 7) & 1);
}

/*
 * Check that s[0..n) is UTF-8 and, with an NFC normalizer, normalize it:
 * only the spans around code points NFC may change are rewritten (text with
 * none of them is its own NFC, whatever else it contains), and each such span
 * starts and ends at a code point that never combines with what precedes it,
 * so normalizing spans separately equals normalizing the whole.  *out is s
 * itself when nothing changed, else c->nbuf; c->spans records the mapping.
 */
static int prepare(struct infty_tok_ctx *c, const uint8_t *s, size_t n, const uint8_t **out,
                   size_t *outn)
{
	const struct infty_tokenizer *t = c->t;
	size_t p = 0, copied = 0, last_stable = 0;
	int have_stable = 0;
	c->nspans = 0;
	c->nlen = 0;
	while (p < n) {
		/* Skip ASCII 8 bytes at a time: it is always stable. */
		if (s[p] < 0x80) {
			size_t q = p + 1;
			while (q + 8 <= n) {
				uint64_t w;
				memcpy(&w, s + q, 8);
				if (w & 0x8080808080808080ULL)
					break;
				q += 8;
			}
			while (q < n && s[q] < 0x80)
				q++;
			last_stable = q - 1;
			have_stable = 1;
			p = q;
			continue;
		}
		size_t l = valid_len(s, n, p);
		if (!l)
			return INFTY_EUTF8;
		size_t dl;
		uint32_t cp = dec(s, p, &dl);
		if (!unstable(t, cp)) {
			last_stable = p;
			have_stable = 1;
			p += l;
			continue;
		}
		size_t st = have_stable ? last_stable : 0;
		size_t e = p + l;
		while (e < n && s[e] >= 0x80) {
			size_t l2 = valid_len(s, n, e);
			if (!l2)
				return INFTY_EUTF8;
			if (!unstable(t, dec(s, e, &dl)))
				break;
			e += l2;
		}
		if (nbuf_put(c, s + copied, st - copied))
			return INFTY_ENOMEM;
		size_t ns = c->nlen;
		if (infty_tok_nfc_append(s + st, e - st, &c->nfc, &c->nbuf, &c->nlen, &c->ncap))
			return INFTY_ENOMEM;
		if (c->nspans == c->spcap) {
			size_t cap = c->spcap;
			if (infty_grow(&c->spans, &cap, c->nspans + 1, sizeof *c->spans))
				return INFTY_ENOMEM;
			c->spcap = cap;
		}
		c->spans[c->nspans++] = (struct nfc_span){ns, c->nlen, st, e};
		copied = e;
		have_stable = 0;
		p = e;
	}
	if (!c->nspans) {
		*out = s;
		*outn = n;
		return 0;
	}
	if (nbuf_put(c, s + copied, n - copied))
		return INFTY_ENOMEM;
	*out = (const uint8_t *)c->nbuf;
	*outn = c->nlen;
	return 0;
}

/* ---- splits and added tokens --------------------------------------------------- */

/* Ids of the piece s[p..e) into the sink. */
static int do_piece(struct infty_tok_ctx *c, const uint8_t *s, size_t p, size_t e, struct sink *k)
{
	const struct infty_tokenizer *t = c->t;
	int count_only = k->ids == NULL;
	if (e - p == 1) {
		if (count_only)
			k->n++;
		else
			emit(k, t->byte_id[s[p]], p, e);
		return 0;
	}
	const uint32_t *ids;
	int64_t m = piece_ids(c, s + p, e - p, &ids, count_only);
	if (m < 0)
		return (int)m;
	if (count_only) {
		k->n += m;
		return 0;
	}
	size_t a = p;
	for (int64_t i = 0; i < m; i++) {
		size_t l = t->tok_off[ids[i] + 1] - t->tok_off[ids[i]];
		emit(k, ids[i], a, a + l);
		a += l;
	}
	return 0;
}

/* DeepSeek-V3: the three splits nested, each piece of one split is the text
 * of the next (offsets stay relative to the whole split). */
static int encode_deepseek(struct infty_tok_ctx *c, const uint8_t *s, size_t n, struct sink *k)
{
	for (size_t p1 = 0, e1; p1 < n; p1 = e1) {
		e1 = ds_piece1(s, n, p1);
		for (size_t p2 = p1, e2; p2 < e1; p2 = e2) {
			e2 = ds_piece2(s, e1, p2);
			for (size_t p3 = p2, e3; p3 < e2; p3 = e3) {
				e3 = ds_piece3(s, e2, p3);
				int rc = do_piece(c, s, p3, e3, k);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

/* Record the piece that ends at e (split-relative) in the map being built. */
static inline void map_note(struct sink *k, size_t e)
{
	struct infty_tok_map *m = k->map;
	if (!m || !m->shared)
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap, cap2 = m->cap;
		if (infty_grow(&m->end, &cap, m->n + 1, sizeof *m->end) ||
		    infty_grow(&m->cum, &cap2, m->n + 1, sizeof *m->cum)) {
			k->map_err = INFTY_ENOMEM;
			m->shared = 0;
			return;
		}
		m->cap = cap < cap2 ? cap : cap2;
	}
	m->end[m->n] = (uint32_t)(k->base + e);
	m->cum[m->n] = (uint32_t)k->n;
	m->n++;
}

/* Encode one split (text between added tokens) starting at base in the
 * original text. */
static int encode_split(struct infty_tok_ctx *c, const uint8_t *s0, size_t n0, size_t base,
                        struct sink *k)
{
	if (!n0)
		return 0;
	const uint8_t *s;
	size_t n;
	int rc = prepare(c, s0, n0, &s, &n);
	if (rc)
		return rc;
	k->sp = c->spans;
	k->nsp = c->nspans;
	k->base = base;
	const struct infty_tokenizer *t = c->t;
	int count_only = k->ids == NULL;
	if (k->map && (c->nspans || t->pat.deepseek))
		k->map->shared = 0; /* offsets would not be the original's */
	if (t->pat.deepseek)
		return encode_deepseek(c, s, n, k);
	size_t p = 0;
	while (p < n) {
		size_t e = next_piece(&t->pat, s, n, p);
		if (e - p == 1) {
			if (count_only)
				k->n++;
			else
				emit(k, t->byte_id[s[p]], p, e);
		} else {
			const uint32_t *ids;
			int64_t m = piece_ids(c, s + p, e - p, &ids, count_only);
			if (m < 0)
				return (int)m;
			if (count_only)
				k->n += m;
			else {
				size_t a = p;
				for (int64_t i = 0; i < m; i++) {
					size_t l = t->tok_off[ids[i] + 1] - t->tok_off[ids[i]];
					emit(k, ids[i], a, a + l);
					a += l;
				}
			}
		}
		map_note(k, e);
		p = e;
	}
	return 0;
}

static inline int is_ws_at(const uint8_t *s, size_t p, size_t *len)
{
	return cls_at(s, p, len) == INFTY_TOK_WS;
}

/* Longest added token of pass `normalized` matching at s[p] (s[0..n)), or
 * NULL. */
static const struct tok_added *added_at(const struct infty_tokenizer *t, const uint8_t *s, size_t n,
                                        size_t p, int normalized)
{
	const struct tok_added *best = NULL;
	for (size_t i = 0; i < t->n_added; i++) {
		const struct tok_added *a = &t->added[i];
		if (a->len <= n - p && (uint8_t)a->content[0] == s[p] &&
		    a->normalized == normalized && (!best || a->len > best->len) &&
		    memcmp(a->content, s + p, a->len) == 0)
			best = a;
	}
	return best;
}

static int split_added(struct infty_tok_ctx *c, const uint8_t *s, size_t from, size_t to, int pass,
                       struct sink *k);

/* A piece between added tokens of pass `pass`: split again by the
 * normalized ones after the first pass, else encoded. */
static int added_gap(struct infty_tok_ctx *c, const uint8_t *s, size_t from, size_t to, int pass,
                     struct sink *k)
{
	if (pass == 0 && c->t->n_normalized)
		return split_added(c, s, from, to, 1, k);
	return encode_split(c, s + from, to - from, from, k);
}

/*
 * Split s[from..to) by the added tokens of one pass, leftmost-longest as
 * HF's Aho-Corasick matcher, and encode the pieces between them.  HF
 * (AddedVocabulary::extract_and_normalize) matches the tokens with
 * normalized:false on the raw text first, then those with normalized:true
 * inside each piece left, after normalizing it (we accept those only
 * without a normalizer, so on the raw piece too): "ab" normalized and "bc"
 * not split "abc" as "a" + "bc".  lstrip and rstrip reach no further than
 * the piece being split.
 */
static int split_added(struct infty_tok_ctx *c, const uint8_t *s, size_t from, size_t to, int pass,
                       struct sink *k)
{
	const struct infty_tokenizer *t = c->t;
	size_t seg = from, p = from;
	int rc;
	while (t->n_added && p < to) {
		/* Next candidate start of an added token. */
		if (c->first_only >= 0) {
			const uint8_t *q = memchr(s + p, c->first_only, to - p);
			if (!q)
				break;
			p = (size_t)(q - s);
		} else {
			while (p < to && !t->added_first[s[p]])
				p++;
			if (p == to)
				break;
		}
		const struct tok_added *a = added_at(t, s, to, p, pass);
		if (!a) {
			p++;
			continue;
		}
		size_t ms = p, me = p + a->len, l;
		if (a->lstrip) /* the token takes the whitespace before it */
			while (ms > seg) {
				size_t b = ms - 1;
				while (b > seg && (s[b] & 0xC0) == 0x80)
					b--;
				if (!valid_len(s, to, b) && s[b] >= 0x80)
					break;
				if (!is_ws_at(s, b, &l))
					break;
				ms = b;
			}
		if (a->rstrip)
			while (me < to && (s[me] < 0x80 || valid_len(s, to, me)) &&
			       is_ws_at(s, me, &l))
				me += l;
		if ((rc = added_gap(c, s, seg, ms, pass, k)))
			return rc;
		if (k->map)
			k->map->shared = 0; /* an added token splits the text */
		k->nsp = 0;
		k->base = 0;
		if (k->ids)
			emit(k, a->id, ms, me);
		else
			k->n++;
		seg = p = me;
	}
	return added_gap(c, s, seg, to, pass, k);
}

static int64_t encode(struct infty_tok_ctx *c, const char *text, size_t len, uint32_t *ids,
                      size_t cap, size_t *offs, struct infty_tok_map *map)
{
	if (!c || (!text && len))
		return INFTY_EINVAL;
	struct sink k = {ids, ids ? cap : 0, offs, 0, NULL, 0, 0, map, 0};
	int rc = split_added(c, (const uint8_t *)text, 0, len, 0, &k);
	if (rc)
		return rc;
	if (k.map_err)
		return k.map_err;
	return k.n;
}

int64_t infty_tok_count(struct infty_tok_ctx *c, const char *text, size_t len)
{
	return encode(c, text, len, NULL, 0, NULL, NULL);
}

int64_t infty_tok_encode(struct infty_tok_ctx *c, const char *text, size_t len, uint32_t *ids,
                         size_t cap, size_t *offsets)
{
	/* A NULL ids with cap 0 would take the count-only path, which is fine. */
	return encode(c, text, len, ids, cap, offsets, NULL);
}

/* ---- piece maps ------------------------------------------------------------- */

int64_t infty_tok_map_build(struct infty_tok_ctx *c, struct infty_tok_map *m, const char *text,
                            size_t len)
{
	m->text = text;
	m->len = len;
	m->n = 0;
	m->total = 0;
	/* Offsets and counts are 32-bit: longer texts are counted from scratch. */
	m->shared = len < UINT32_MAX;
	int64_t r = encode(c, text, len, NULL, 0, NULL, m);
	if (r < 0) {
		m->shared = 0;
		return r;
	}
	m->total = r;
	return r;
}

void infty_tok_map_release(struct infty_tok_map *m)
{
	infty_free(m->end);
	infty_free(m->cum);
	memset(m, 0, sizeof *m);
}

/* Tokens of the standalone pieces of s[0..n) (valid UTF-8, no added token,
 * NFC-stable: the caller knows). */
static int64_t scan_count(struct infty_tok_ctx *c, const uint8_t *s, size_t n)
{
	int64_t total = 0;
	for (size_t p = 0, e; p < n; p = e) {
		e = next_piece(&c->t->pat, s, n, p);
		if (e - p == 1) {
			total++;
			continue;
		}
		const uint32_t *ids;
		int64_t k = piece_ids(c, s + p, e - p, &ids, 1);
		if (k < 0)
			return k;
		total += k;
	}
	return total;
}

/* Index of the first piece of m that ends after x (m->n if none). */
static size_t first_end_after(const struct infty_tok_map *m, size_t x)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->end[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether the character that ends just before x is whitespace (\s). */
static int ws_before(const uint8_t *s, size_t x)
{
	size_t p = x - 1, l;
	while (p > 0 && (s[p] & 0xC0) == 0x80)
		p--;
	return cls_at(s, p, &l) == INFTY_TOK_WS;
}

/*
 * Why the shared middle is exact (docs/tokenizer.md, "Counting chunks"): the
 * scanner decides a piece that starts at p from the text at p onwards only,
 * and a piece whose last character is not whitespace never looks further
 * than the one character after it (only whitespace runs look ahead to their
 * end).  So let x be the last in-context piece end at or before b - 1 whose
 * character before it is not whitespace: every in-context piece up to x reads
 * nothing at or after b, and is the same piece in text[a..b) once the
 * substring's own scan from a meets an in-context piece end y <= x.  The
 * edges [a, y) and [x, b) are scanned on the substring's own text.
 */
int64_t infty_tok_map_count(struct infty_tok_ctx *c, const struct infty_tok_map *m, size_t a,
                            size_t b)
{
	if (a > b || b > m->len)
		return INFTY_EINVAL;
	if (a == 0 && b == m->len)
		return m->total;
	if (a == b)
		return 0;
	const uint8_t *s = (const uint8_t *)m->text;
	if ((a < m->len && (s[a] & 0xC0) == 0x80) || (b < m->len && (s[b] & 0xC0) == 0x80))
		return INFTY_EUTF8;
	if (!m->shared)
		return infty_tok_count(c, m->text + a, b - a);

	/* x: index ix of the last usable in-context end (none: ix == SIZE_MAX). */
	size_t ix = first_end_after(m, b - 1);
	size_t x = 0;
	for (;;) {
		if (ix == 0 || m->end[ix - 1] <= a) {
			ix = SIZE_MAX;
			break;
		}
		ix--;
		x = m->end[ix];
		if (!ws_before(s, x))
			break;
	}
	if (ix == SIZE_MAX)
		return scan_count(c, s + a, b - a);

	/* The substring's own scan from a until it meets an in-context end. */
	const struct tok_pattern *pat = &c->t->pat;
	const uint8_t *sub = s + a;
	size_t n = b - a, j = first_end_after(m, a);
	int64_t head = 0;
	for (size_t p = 0, e; p < n; p = e) {
		e = next_piece(pat, sub, n, p);
		if (e - p == 1) {
			head++;
		} else {
			const uint32_t *ids;
			int64_t k = piece_ids(c, sub + p, e - p, &ids, 1);
			if (k < 0)
				return k;
			head += k;
		}
		size_t y = a + e;
		if (y > x)
			continue; /* past x without meeting: this is the whole count */
		while (j < m->n && m->end[j] < y)
			j++;
		if (j < m->n && m->end[j] == y) {
			int64_t tail = scan_count(c, s + x, b - x);
			if (tail < 0)
				return tail;
			return head + (int64_t)(m->cum[ix] - m->cum[j]) + tail;
		}
	}
	return head;
}

struct infty_tok_ctx *infty_tok_ctx_new(const struct infty_tokenizer *t)
{
	struct infty_tok_ctx *c = infty_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->t = t;
	c->cache = infty_calloc((size_t)1 << CACHE_BITS, sizeof *c->cache);
	if (!c->cache || grow_bpe(c, 64)) {
		infty_tok_ctx_free(c);
		return NULL;
	}
	c->first_only = -1;
	int nfirst = 0;
	for (int b = 0; b < 256; b++)
		if (t->added_first[b]) {
			nfirst++;
			c->first_only = b;
		}
	if (nfirst != 1)
		c->first_only = -1;
	return c;
}

void infty_tok_ctx_free(struct infty_tok_ctx *c)
{
	if (!c)
		return;
	infty_free(c->cache);
	infty_free(c->nbuf);
	infty_free(c->spans);
	infty_free(c->nfc.cp);
	infty_free(c->sym);
	infty_free(c->rank);
	infty_free(c->nw);
	infty_free(c->prev);
	infty_free(c->next);
	infty_free(c->heap);
	infty_free(c->out);
	infty_free(c);
}
