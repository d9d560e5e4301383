/*
 * sum_quality.h - cheap checks on one summary, no model, no request: did the
 * summarizer leak tags or keep reasoning, refuse or talk about the task, write
 * too little or not compress, copy the segment, state numbers or results the
 * trace never reached, reveal the final answer early, or switch language?
 *
 * Pure: nothing here reads files, prints or exits.  The engine and
 * the measurement driver (tests/quality/quality_count.c) call it; what a
 * raised flag does (warn, retry with another candidate, reject) is policy in
 * struct sum_quality_config, applied by the caller.
 *
 * Cost is linear in the text: the segments are indexed once (a suffix
 * automaton over word hashes for copying, a hash set of normalised numbers
 * and names for grounding), and the index grows segment by segment, so the
 * checks of all n-1 summaries of a trace cost one pass over it plus one pass
 * over each summary.
 *
 * Ownership: an index owns copies of nothing but hashes; the texts passed in
 * are only read during the call.  A result holds no pointers.
 */
#ifndef INFTY_SUM_QUALITY_H
#define INFTY_SUM_QUALITY_H

#include <stddef.h>

struct json_object;

/* The flags, in the order they are listed in records and stats. */
enum sum_quality_flag {
	SUM_Q_LEAK,         /* "leak": a tag (<think>, <summary>...) or reasoning continued */
	SUM_Q_REFUSAL,      /* "refusal": a refusal, or talk about the task/summary itself */
	SUM_Q_SHORT,        /* "short": too few tokens to carry the progress */
	SUM_Q_LONG,         /* "long": not shorter than the segments it summarizes */
	SUM_Q_COPY,         /* "copy": a long verbatim span of the segments */
	SUM_Q_UNGROUNDED,   /* "ungrounded": a number or named result found nowhere before */
	SUM_Q_EARLY_ANSWER, /* "early_answer": the final boxed answer before the trace has it */
	SUM_Q_LANGUAGE,     /* "language": another language than the trace's */
	SUM_Q_NFLAGS
};

#define SUM_Q_BIT(f) (1u << (f))

/* What the caller does with a summary that raised a flag. */
enum sum_quality_policy {
	SUM_Q_OFF,    /* not checked, never raised */
	SUM_Q_WARN,   /* kept, flag recorded and counted */
	SUM_Q_RETRY,  /* try another candidate; keep the best one, flagged, if none passes */
	SUM_Q_REJECT, /* the same, but if none passes the trace is dead-lettered as quality_<flag>
	               */
};

struct sum_quality_config {
	long min_tokens;    /* short: fewer tokens than this (default 12) */
	double min_ratio;   /* short: summary / summarized tokens below this (default 0.01) */
	double max_ratio;   /* long: summary / summarized tokens at or above (default 1.0) */
	long copy_words;    /* copy: a verbatim span of at least this many words (default 25) */
	long ungrounded_at; /* ungrounded: raised at this many ungrounded items (default 1) */
	long lang_min;      /* language: letters needed on each side to guess (default 40) */
	enum sum_quality_policy policy[SUM_Q_NFLAGS]; /* default: all SUM_Q_WARN */
};

/* The measured numbers and the flags of one summary. */
struct sum_quality_result {
	unsigned flags;                /* SUM_Q_BIT(f) for every raised flag */
	char detail[SUM_Q_NFLAGS][96]; /* a short reason per raised flag, "" otherwise */
	long summary_tokens;           /* as given, or counted */
	long source_tokens;            /* tokens of segments 0..i */
	double ratio;                  /* summary_tokens / source_tokens (0 when no source) */
	long copy_words;               /* longest span of summary words found verbatim */
	long items;                    /* numbers and named results checked for grounding */
	long ungrounded;               /* ... of which found nowhere in question or segments */
	int answer_seen;               /* the boxed answer is in the summary */
	char lang_summary[8], lang_trace[8]; /* guesses: "en", "zh", ..., "und" */
};

/* Token counter for texts without an exact count (NULL: bytes / 4, rounded up). */
typedef long (*sum_quality_count_fn)(void *ctx, const char *text, size_t len);

struct sum_quality_index;

/* Defaults above. */
void infty_sum_quality_config_init(struct sum_quality_config *c);

/*
 * The engine's default policy.  resample (a model that can give another
 * candidate): retry on leak, refusal, short, long, early_answer and
 * language, warn on copy and ungrounded; otherwise (the extractive backend,
 * which has one answer and copies by design) warn on every flag.
 */
void infty_sum_quality_policy_default(struct sum_quality_config *c, int resample);

/*
 * Parse a policy spec such as "leak=reject,copy=retry,ungrounded=warn" into
 * c->policy (flags not named keep their policy; "all=off" sets every flag).
 * Policies: off, warn, retry, reject.  Returns 0 or INFTY_EINVAL with the
 * offending item in detail; c is unchanged on error.
 */
int infty_sum_quality_policy_parse(struct sum_quality_config *c, const char *spec, char *detail,
                                   size_t dlen);

/* "leak", "copy", ...; NULL for an unknown flag. */
const char *infty_sum_quality_flag_name(enum sum_quality_flag f);
/* The flag named name (length len), or -1. */
int infty_sum_quality_flag_parse(const char *name, size_t len);
/* "off", "warn", "retry", "reject". */
const char *infty_sum_quality_policy_name(enum sum_quality_policy p);

/*
 * A new index holding the question.  Returns 0 or INFTY_ENOMEM (*out NULL).
 * Segments are appended in order with _add; a summary of segments 0..i is
 * checked after segment i was added.
 */
int infty_sum_quality_index_new(struct sum_quality_index **out, const char *question, size_t len);
/* Append segment text; tokens its exact count, or -1 (counted then).  0 or ENOMEM. */
int infty_sum_quality_index_add(struct sum_quality_index *ix, const char *text, size_t len,
                                long tokens, sum_quality_count_fn count, void *count_ctx);
/* Segments added so far. */
size_t infty_sum_quality_index_segments(const struct sum_quality_index *ix);
void infty_sum_quality_index_free(struct sum_quality_index *ix);

/*
 * Check summary (len bytes, tokens its count or -1 to count it with count)
 * against the index.  answer: the conclusion's boxed answer (see
 * infty_sum_quality_boxed), or NULL.  Flags whose policy is SUM_Q_OFF are not
 * raised.  Fills *r; returns 0 or INFTY_ENOMEM.
 */
int infty_sum_quality_check(struct sum_quality_index *ix, const struct sum_quality_config *c,
                            const char *summary, size_t len, long tokens, const char *answer,
                            sum_quality_count_fn count, void *count_ctx,
                            struct sum_quality_result *r);

/*
 * The same for a summary of segments 0..upto-1 (upto <= the segments added):
 * only the question and those segments ground it, can be copied or hold the
 * answer, whatever was added after them.  The engine indexes a whole trace
 * once and checks its summaries in the order they come back; the result is
 * the one infty_sum_quality_check gives right after segment upto-1 was added.
 * Returns 0, INFTY_ENOMEM or INFTY_EINVAL (upto too large).
 */
int infty_sum_quality_check_at(const struct sum_quality_index *ix, size_t upto,
                               const struct sum_quality_config *c, const char *summary, size_t len,
                               long tokens, const char *answer, sum_quality_count_fn count,
                               void *count_ctx, struct sum_quality_result *r);

/*
 * The content of the last \boxed{...} (or \fbox{...}) of text, braces
 * balanced, as an owned string; NULL when there is none (or ENOMEM).
 */
char *infty_sum_quality_boxed(const char *text, size_t len);

/* The strongest policy among the flags raised in r (SUM_Q_OFF when none). */
enum sum_quality_policy infty_sum_quality_verdict(const struct sum_quality_config *c,
                                                  const struct sum_quality_result *r);

/*
 * The record fields of docs/formats.md: a new JSON array of the raised flags'
 * names, and a new object {"tokens", "ratio", "copy_words", "items",
 * "ungrounded", "lang", "detail": {flag: text}}.  NULL on ENOMEM.
 */
struct json_object *infty_sum_quality_flags_json(const struct sum_quality_result *r);
struct json_object *infty_sum_quality_json(const struct sum_quality_result *r);

#endif
