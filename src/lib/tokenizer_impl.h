/*
 * tokenizer_impl.h - the tokenizer's private layout, shared by its loader
 * (tokenizer.c) and its encoder (tokenizer_encode.c).  Not a public header:
 * everything outside those two files uses include/infty/tokenizer.h.
 */
#ifndef INFTY_TOKENIZER_IMPL_H
#define INFTY_TOKENIZER_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TOK_NONE UINT32_MAX

/* Which split pattern the pre-tokenizer runs: one hand-written scanner with
 * these switches covers the known regexes exactly. */
struct tok_pattern {
	int contractions_ci;   /* (?i:'s|'t|...) rather than 's|'t|... */
	int letter_any_prefix; /* [^\r\n\p{L}\p{N}]?\p{L}+ rather than ' ?\p{L}+' */
	int num_max;           /* \p{N}{1,num_max}; 0 means ' ?\p{N}+' (GPT-2) */
	int punct_crlf;        /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' rather than no [\r\n]* */
	int ws_crlf;           /* the \s*[\r\n]+ alternative is present */
	int deepseek;          /* DeepSeek-V3: three Splits in a row, see the encoder */
};

struct tok_added {
	char *content; /* owned; raw bytes matched in the input */
	size_t len;
	uint32_t id; /* as HF numbers it, whatever the file says */
	int lstrip, rstrip, special, single_word, normalized;
};

/* What an id is (is_added). */
enum {
	TOK_ID_VOCAB = 0, /* a vocabulary token */
	TOK_ID_ADDED = 1, /* an added token (decodes to its content) */
	TOK_ID_NONE = 2,  /* no token: a gap in the ids */
	TOK_ID_BOTH = 3,  /* an added token whose content is a vocabulary key, at that id */
};

struct infty_tokenizer {
	/* id -> bytes, for decoding and offsets: one arena, offsets into it. */
	char *arena;       /* owned */
	uint32_t *tok_off; /* owned, n_ids + 1 entries */
	uint32_t n_ids;    /* one past the largest id (vocab and added) */
	size_t vocab_size; /* model vocabulary entries (not added tokens) */
	uint8_t *is_added; /* owned, n_ids: TOK_ID_* */

	/* bytes -> id over the model vocabulary: open addressing, each slot
	 * holds (32-bit hash tag << 32) | (id + 1); 0 is empty. */
	uint64_t *vocab_slots; /* owned */
	uint32_t vocab_mask;

	uint32_t byte_id[256]; /* the token of each single byte */

	/* (left id << 32 | right id) -> rank and merged id, open addressing. */
	uint64_t *pair_keys; /* owned; UINT64_MAX is empty */
	uint32_t *pair_rank; /* owned */
	uint32_t *pair_new;  /* owned */
	uint32_t pair_mask;
	size_t n_merges;

	/* Whole-piece shortcut: a piece that is itself a vocab token gets that id
	 * directly if BPE on its bytes gives the same one token (always true with
	 * ignore_merges).  Checked lazily, once per token, and remembered:
	 * 0 unknown, 1 yes, 2 no.  Relaxed atomics: racing threads compute and
	 * store the same answer. */
	int ignore_merges;
	_Atomic uint8_t *self_enc; /* owned, vocab ids */

	struct tok_added *added; /* owned, n_added */
	size_t n_added;
	size_t n_normalized;      /* added tokens with normalized:true, matched second */
	uint8_t added_first[256]; /* 1 if some added token starts with this byte */

	int nfc;               /* the normalizer is NFC (else none) */
	uint8_t *nfc_unstable; /* owned bitmap over code points: NFC may change text near it */
	struct tok_pattern pat;

	char hash[7 + 65]; /* "sha256:<hex>" */
};

/* Bytes of token id (vocab or added). */
static inline const char *tok_bytes(const struct infty_tokenizer *t, uint32_t id, size_t *len)
{
	*len = t->tok_off[id + 1] - t->tok_off[id];
	return t->arena + t->tok_off[id];
}

/* Fast hash for short byte strings (pieces, vocab entries): 8 bytes a step. */
static inline uint64_t tok_hash(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
	while (n >= 8) {
		uint64_t w;
		__builtin_memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		__builtin_memcpy(&w, p, n);
		h = (h ^ w) * 0x94d049bb133111ebULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

/* Model-vocab id of bytes s[0..n), or TOK_NONE. */
uint32_t infty_tok_vocab_find(const struct infty_tokenizer *t, const char *s, size_t n);
/* BPE merge of (a, b): returns its rank, TOK_NONE if none, and *out the id. */
static inline uint32_t tok_pair(const struct infty_tokenizer *t, uint32_t a, uint32_t b,
                                uint32_t *out)
{
	uint64_t key = (uint64_t)a << 32 | b;
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;
	uint32_t i = (uint32_t)(h >> 32) & t->pair_mask;
	for (;;) {
		uint64_t k = t->pair_keys[i];
		if (k == key) {
			*out = t->pair_new[i];
			return t->pair_rank[i];
		}
		if (k == UINT64_MAX) {
			*out = TOK_NONE;
			return TOK_NONE;
		}
		i = (i + 1) & t->pair_mask;
	}
}

#endif
