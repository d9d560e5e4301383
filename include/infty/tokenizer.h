/*
 * tokenizer.h - a Hugging Face tokenizer.json byte-level BPE tokenizer.
 *
 * Loads Qwen2/2.5/Qwen3 (default), Llama-3, DeepSeek-V3/R1 and GPT-2 style
 * tokenizer.json files and gives exactly the ids Hugging Face `tokenizers`
 * gives with add_special_tokens=false.  Anything it does not implement
 * (another pre-tokenizer pattern, byte_fallback, dropout, truncation,
 * padding...) is a load error, never a silent approximation, and so is what
 * HF refuses (members of the wrong JSON type).
 *
 * Thread safety: after infty_tokenizer_load() returns, a tokenizer is
 * read-only and may be shared by any number of threads.  Per-thread scratch
 * state (the piece cache) lives in struct infty_tok_ctx: one per thread.
 *
 * Ownership: the tokenizer owns its tables; the caller frees it with
 * infty_tokenizer_free().  Id arrays are written into caller buffers.
 */
#ifndef INFTY_TOKENIZER_H
#define INFTY_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

struct infty_tokenizer;
struct infty_tok_ctx;

/*
 * Load a tokenizer.json.  Returns 0 or a negative infty_err; on error *out is
 * NULL and, when detail is not NULL, a one-line reason is written there
 * (e.g. "unsupported pre_tokenizer pattern ...").
 */
int infty_tokenizer_load(struct infty_tokenizer **out, const char *path, char *detail,
                         size_t detail_len);
void infty_tokenizer_free(struct infty_tokenizer *tok);

/* "sha256:<hex>" of the tokenizer.json bytes, for provenance in records. */
const char *infty_tokenizer_hash(const struct infty_tokenizer *tok);
/* One past the largest id, vocabulary and added tokens together. */
size_t infty_tokenizer_vocab_size(const struct infty_tokenizer *tok);
/* Whether the tokenizer applies NFC before splitting (Qwen: yes). */
int infty_tokenizer_nfc(const struct infty_tokenizer *tok);

/*
 * The default tokenizer path: $INFTY_TOKENIZER if set, else the file make
 * fetched into the cache, else the installed copy under DATADIR.
 */
const char *infty_tokenizer_default_path(void);

/* Per-thread scratch (piece cache).  NULL on allocation failure. */
struct infty_tok_ctx *infty_tok_ctx_new(const struct infty_tokenizer *tok);
void infty_tok_ctx_free(struct infty_tok_ctx *ctx);

/*
 * Number of tokens in text[0..len) (added tokens recognised, NFC applied,
 * no special tokens added).  Invalid UTF-8 is tokenized as HF would after a
 * lossy decode is NOT attempted: callers pass valid UTF-8 (the readers
 * guarantee it).  Returns the count (>= 0) or a negative infty_err.
 */
int64_t infty_tok_count(struct infty_tok_ctx *ctx, const char *text, size_t len);

/*
 * Encode into ids[0..cap).  Returns the number of ids the text needs (which
 * may be more than cap: call again with a larger buffer), or a negative error.
 * When offsets is not NULL, offsets[2*i], offsets[2*i+1] get the byte range of
 * token i in the ORIGINAL text (ranges of tokens that come from an NFC-changed
 * span cover that whole span).
 */
int64_t infty_tok_encode(struct infty_tok_ctx *ctx, const char *text, size_t len, uint32_t *ids,
                         size_t cap, size_t *offsets);

/*
 * A text tokenized once, so that the exact standalone count of many of its
 * substrings (a segmenter's candidate chunks) costs a few pieces each rather
 * than a whole recount.  The count of text[a..b) is always what
 * infty_tok_count(text + a, b - a) returns: pieces strictly inside the
 * substring are shared with the in-context tokenization (their BPE does not
 * depend on context), and the pieces at both edges are re-split and counted
 * on the substring's own text.  docs/tokenizer.md ("Counting chunks") has
 * the argument; tests/unit/test_tokenizer.c checks it against
 * infty_tok_count on every cut of real traces.
 *
 * Texts where that argument does not hold (NFC rewrites something, an added
 * token occurs, the DeepSeek-V3 splits) are still answered exactly: their
 * substrings are counted from scratch.
 *
 * The map borrows text, which must outlive it; release with
 * infty_tok_map_release (a zeroed map is ready to build).
 */
struct infty_tok_map {
	const char *text; /* borrowed */
	size_t len;
	uint32_t *end; /* owned: piece i is [end[i-1], end[i]), end[-1] = 0 */
	uint32_t *cum; /* owned: tokens of pieces 0..i */
	size_t n, cap;
	int64_t total; /* tokens of the whole text */
	int shared;    /* 1: substrings reuse the pieces; 0: counted from scratch */
};

/* Tokenize text[0..len) into m (reusing its arrays).  Returns the count of
 * the whole text or a negative infty_err. */
int64_t infty_tok_map_build(struct infty_tok_ctx *ctx, struct infty_tok_map *m, const char *text,
                            size_t len);
/* Exact standalone count of m->text[a..b) (a <= b <= m->len), or a negative
 * infty_err.  a and b must be UTF-8 character boundaries (INFTY_EUTF8 if not). */
int64_t infty_tok_map_count(struct infty_tok_ctx *ctx, const struct infty_tok_map *m, size_t a,
                            size_t b);
void infty_tok_map_release(struct infty_tok_map *m);

/*
 * Decode ids back to bytes into buf[0..cap).  Returns the byte length needed
 * (may exceed cap), or INFTY_EINVAL for an id out of range.
 */
int64_t infty_tok_decode(const struct infty_tokenizer *tok, const uint32_t *ids, size_t n,
                         char *buf, size_t cap);

/*
 * Id of a token given by its raw bytes (not the byte-level alphabet of
 * tokenizer.json: " the", not "Ġthe") or an added token's content, or -1.
 */
int64_t infty_tok_token_id(const struct infty_tokenizer *tok, const char *s, size_t len);

#endif
