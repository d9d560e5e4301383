/*
 * seg.h - the engine of infty-segment: dataset rows in, eta-bounded segments
 * out.  Four parts, each usable (and tested) on its own:
 *
 *   seg_input.c   a parsed row of any supported shape -> traces (question,
 *                 reasoning, conclusion, stable id) or reject reasons;
 *   seg_split.c   candidate cut points in a reasoning text (paragraphs,
 *                 sentences), never inside math or code;
 *   seg_pack.c    strict and paper packing of those pieces into segments;
 *   seg_run.c     the stage: reader -> OpenMP batches -> writer, stats
 *                 (seg_run.h; seg_tok.c adapts the real tokenizer).
 *
 * Token counts come from a callback so that tests can run the engine with a
 * trivial counter and the tool with the real tokenizer.
 *
 * Ownership: every struct filled by an infty_seg_* call owns its arrays and
 * is released with the matching _release(); _release on a zeroed struct is a
 * no-op.  Spans are byte offsets into the caller's text, which must outlive
 * them.
 */
#ifndef INFTY_SEG_H
#define INFTY_SEG_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Exact token count of s[0..n), or a negative infty_err. */
typedef int64_t (*infty_seg_count_fn)(void *ctx, const char *s, size_t n);
/*
 * Optional hard-cut helper: the largest prefix length L (0 < L < n) that ends
 * on a token and UTF-8 character boundary and whose standalone count is at
 * most eta; 0 when it cannot tell.  The engine verifies the answer.
 */
typedef size_t (*infty_seg_cut_fn)(void *ctx, const char *s, size_t n, int64_t eta);
/*
 * Optional: the engine is about to count many substrings of s[0..n) (count
 * then gets pointers into s until the next begin), so the counter may
 * tokenize s once and answer from that.  Returns the count of all of s, or a
 * negative infty_err.  begin(ctx, NULL, 0) ends it: s may go away.
 */
typedef int64_t (*infty_seg_begin_fn)(void *ctx, const char *s, size_t n);

/* ---- input shapes -------------------------------------------------------- */

enum infty_seg_reason {
	INFTY_SEG_OK = 0,
	INFTY_SEG_R_BAD_JSON,
	INFTY_SEG_R_BAD_UTF8,
	INFTY_SEG_R_NOT_OBJECT,
	INFTY_SEG_R_UNKNOWN_FORMAT,
	INFTY_SEG_R_MISSING_FIELD,
	INFTY_SEG_R_NO_THINK_CLOSE,
	INFTY_SEG_R_TRUNCATED,
	INFTY_SEG_R_EMPTY_REASONING,
	INFTY_SEG_R_EMPTY_CONCLUSION,
	INFTY_SEG_R_NO_CORRECT,
	INFTY_SEG_R_TOKENIZER,
	INFTY_SEG_R_TOO_LONG, /* above --max-trace-tokens or --max-segments */
	/* --accept reference: the rows the reference script drops or crashes on */
	INFTY_SEG_R_REF_NOT_TWO_MESSAGES, /* `messages` missing or not exactly two turns */
	INFTY_SEG_R_REF_NO_MATCH,         /* not ^<think>\n(.+)\n</think>(.+)$ */
	INFTY_SEG_R_REF_EMPTY_PARAGRAPH,  /* an empty "\n\n" paragraph: its IndexError */
	INFTY_SEG_R_COUNT_                /* number of reasons */
};

/* Stable lowercase code of a reason ("no_think_close"), for rejects/stats. */
const char *infty_seg_reason_code(enum infty_seg_reason r);

enum infty_seg_format {
	INFTY_SEG_FMT_AUTO = 0,
	INFTY_SEG_FMT_OPENR1,        /* 14-column OpenR1-Math rows (generations, messages) */
	INFTY_SEG_FMT_MESSAGES,      /* messages [{role, content}] (AM-DeepSeek-R1 too) */
	INFTY_SEG_FMT_CONVERSATIONS, /* conversations [{from, value}] (OpenThoughts, Light-R1) */
	INFTY_SEG_FMT_OPENTHOUGHTS,  /* deepseek_reasoning / deepseek_solution (metadata) */
	INFTY_SEG_FMT_S1K,           /* deepseek_thinking_trajectory / deepseek_attempt */
	INFTY_SEG_FMT_LIMO,          /* question, solution (untagged trace), answer */
	INFTY_SEG_FMT_REASONING,     /* reasoning_content | reasoning + content */
	INFTY_SEG_FMT_TRACE,         /* {id, problem, trace} (the corpus) */
	INFTY_SEG_FMT_COUNT_
};

const char *infty_seg_format_name(enum infty_seg_format f);
/* Every format's name, in enum order, NULL-terminated (for an option table). */
extern const char *const infty_seg_format_names[INFTY_SEG_FMT_COUNT_ + 1];

enum infty_seg_pick {
	INFTY_SEG_PICK_MESSAGES = 0, /* the assistant turn of `messages` (the reference) */
	INFTY_SEG_PICK_FIRST_CORRECT,
	INFTY_SEG_PICK_ALL_CORRECT,
	INFTY_SEG_PICK_ALL,
};
const char *infty_seg_pick_name(enum infty_seg_pick p);
extern const char *const infty_seg_pick_names[]; /* in enum order, NULL-terminated */

/* One trace, or one rejected (row, generation). Strings are owned. */
struct infty_seg_item {
	enum infty_seg_reason reason; /* INFTY_SEG_OK for a trace */
	char *detail;                 /* reject detail, or NULL */
	enum infty_seg_format format;
	int generation; /* generation index, -1 when not from `generations` */
	char *id;       /* stable id (may be NULL for rejects) */
	char *uuid;     /* the row's own uuid/id field, or NULL */
	char *question;
	char *reasoning;
	size_t reasoning_len;
	char *conclusion;
	size_t conclusion_len;
	struct json_object *meta; /* small scalar row fields (a reference is held) */
};

struct infty_seg_items {
	struct infty_seg_item *v;
	size_t n, cap;
};

/* Which rows make traces. */
enum infty_seg_accept {
	INFTY_SEG_ACCEPT_INFTY = 0, /* every shape, tags read leniently (see seg_input.c) */
	INFTY_SEG_ACCEPT_REFERENCE, /* exactly the rows the reference's segmentation.py keeps */
};
const char *infty_seg_accept_name(enum infty_seg_accept a);
extern const char *const infty_seg_accept_names[]; /* "infty", "reference", NULL */

struct infty_seg_input_opts {
	enum infty_seg_format format; /* AUTO: detect per row */
	enum infty_seg_pick pick;
	enum infty_seg_accept accept;
};

/*
 * Turn one parsed row into items (appended to out): traces and rejects, so
 * that items out account for the row completely.  Under
 * INFTY_SEG_ACCEPT_REFERENCE a row gives one item: the trace the reference
 * would segment (question, and its regex's reasoning and conclusion, byte
 * for byte), or a reject with the reason the reference lost it.  Returns 0
 * or INFTY_ENOMEM.
 */
int infty_seg_extract(struct json_object *row, const struct infty_seg_input_opts *o,
                      struct infty_seg_items *out);
/* Append one reject item (no trace). Returns 0 or INFTY_ENOMEM. */
int infty_seg_items_reject(struct infty_seg_items *out, enum infty_seg_reason r,
                           const char *detail);
void infty_seg_items_release(struct infty_seg_items *it);

/*
 * Split "<think>...</think>rest" style text into reasoning and conclusion,
 * recognising <think>/</think> and <|begin_of_thought|>.. markers.  On
 * success *r, *c point into text.  Returns a reason (INFTY_SEG_OK on success).
 */
enum infty_seg_reason infty_seg_split_tagged(const char *text, size_t len, const char **r,
                                             size_t *rlen, const char **c, size_t *clen);

/* ---- boundaries ---------------------------------------------------------- */

enum infty_seg_end {
	INFTY_SEG_END_PARAGRAPH = 0,
	INFTY_SEG_END_SENTENCE,
	INFTY_SEG_END_HARD,
	INFTY_SEG_END_FINAL,
	INFTY_SEG_END_LINE, /* a line break inside math or code: before a hard cut */
};
const char *infty_seg_end_name(enum infty_seg_end e);

/* A cut candidate: text ends at `at`, then a separator of sep_len bytes. */
struct infty_seg_bound {
	size_t at, sep_len;
	enum infty_seg_end level; /* PARAGRAPH or SENTENCE */
};

struct infty_seg_bounds {
	struct infty_seg_bound *v;
	size_t n, cap;
	size_t *prot; /* protected [start, end) pairs: math and code */
	size_t nprot, protcap;
};

/*
 * Protected regions of s: $..$, $$..$$, \(..\), \[..\], \begin{x}..\end{x},
 * ``` fences.  An opener without its closer protects nothing (and an inline
 * one never spans a blank line).  Fills b->prot.  Returns 0 or INFTY_ENOMEM.
 */
int infty_seg_protect(const char *s, size_t n, struct infty_seg_bounds *b);
/*
 * All cut candidates of s in order (calls infty_seg_protect first): every
 * whitespace run outside protected regions that holds a blank line
 * (PARAGRAPH), a line break, or follows a sentence end (SENTENCE).  Runs at
 * the very start or end of s are not candidates.  Returns 0 or INFTY_ENOMEM.
 */
int infty_seg_find_bounds(const char *s, size_t n, struct infty_seg_bounds *b);
void infty_seg_bounds_release(struct infty_seg_bounds *b);

/* ---- packing ------------------------------------------------------------- */

enum infty_seg_pack { INFTY_SEG_PACK_STRICT = 0, INFTY_SEG_PACK_PAPER };

struct infty_seg_params {
	int64_t eta; /* token budget per segment */
	enum infty_seg_pack pack;
	int64_t min_tail; /* strict: merge a last segment below this back */
	infty_seg_count_fn count;
	infty_seg_cut_fn cut;     /* may be NULL: binary search on counts */
	infty_seg_begin_fn begin; /* may be NULL */
	void *ctx;                /* passed to count, cut and begin */
};

struct infty_seg_span {
	size_t off, len, sep_len;
	int64_t tokens;      /* exact count of the text alone */
	int64_t step_tokens; /* paper: the reference's per-step sum; strict: -1 */
	enum infty_seg_end end;
};

struct infty_seg_spans {
	struct infty_seg_span *v;
	size_t n, cap;
	struct infty_seg_bounds bounds; /* scratch, reused across calls */
	struct infty_seg_span *units;   /* scratch */
	size_t nunits, unitcap;
};

/*
 * Segment s[0..n) into out (cleared first).  Invariant: the spans tile s,
 * text then separator, in order.  Returns 0 or a negative infty_err (from
 * the counter, or INFTY_ENOMEM).
 */
int infty_seg_pack_text(const struct infty_seg_params *p, const char *s, size_t n,
                        struct infty_seg_spans *out);
void infty_seg_spans_release(struct infty_seg_spans *s);

/* Python's str.isupper() on the first character of s (the paper's rule). */
int infty_seg_starts_upper(const char *s, size_t n);

#endif
