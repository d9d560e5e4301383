/*
 * inspect.h - the engine of infty-inspect: what kind of record a line is,
 * the invariants every stage's records must keep, and the series of
 * numbers the stats views draw.
 *
 * Ownership: a struct inspect_stats owns its series; release it with
 * inspect_stats_release().  Problems are reported through a callback so the
 * engine never prints.
 */
#ifndef INFTY_INSPECT_H
#define INFTY_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "infty/record.h"

struct json_object;

/* The record's trace id: "id", else meta.id, else "uuid"; NULL when none. */
const char *inspect_record_id(struct json_object *rec);

/* Token counter for validate (NULL: counts are not rechecked). */
typedef int64_t (*inspect_count_fn)(void *ctx, const char *text, size_t len);

/* Called once per problem found: a one-line, lowercase message. */
typedef void (*inspect_problem_fn)(void *ctx, uint64_t lineno, const char *msg);

/*
 * Validation state across the records of one file: instances of one trace
 * must come together, iterations 1..n in order, exactly n of them.
 */
struct inspect_validator {
	inspect_count_fn count;
	void *count_ctx;
	inspect_problem_fn problem;
	void *problem_ctx;
	/* the trace whose instances are being read */
	char *cur_id;
	int64_t cur_n, cur_seen, cur_count; /* n, last iteration, instances seen */
	uint64_t cur_line;
	int cur_hf_last; /* hf: the last instance seen had a conclusion */
	uint64_t problems;
};

void inspect_validator_init(struct inspect_validator *v);
/* Check one parsed record (lineno for messages).  Returns problems found. */
int inspect_validate(struct inspect_validator *v, struct json_object *rec, uint64_t lineno);
/* End of file: report a trace whose instances stopped short. */
int inspect_validate_end(struct inspect_validator *v);
void inspect_validator_release(struct inspect_validator *v);

/* ---- stats ------------------------------------------------------------ */

struct inspect_series {
	const char *name;    /* static: the chart's heading */
	const char *x_title; /* static: what one value measures */
	const char *y_title; /* static: what the bars count */
	double mark;         /* a reference line on the x axis (eta), 0 for none */
	double *v;
	size_t n, cap;
};

/*
 * One series per quantity and per kind of record, so that traces read from
 * segment or summarized records and traces read from instances are never
 * pooled in one histogram.
 */
enum {
	SER_SEG_TOKENS,     /* tokens per segment (segment and summarized records) */
	SER_SEGS_PER_TRACE, /* segments per trace (n) of segment and summarized records */
	SER_SUMMARY_CHARS,  /* characters per summary */
	SER_COMPRESSION,    /* summary chars / chars of the segment it follows */
	SER_SUMMARY_RATIO,  /* quality.ratio: summary tokens / tokens summarized */
	SER_JUDGE_SCORE,    /* judge.score of summaries */
	SER_JUDGE_ROUNDS,   /* judge.rounds of summaries */
	SER_INST_PER_TRACE, /* instances per trace (meta.n of built instances) */
	SER_PROMPT_TOKENS,  /* instance prompt tokens (meta) */
	SER_TARGET_TOKENS,  /* instance target tokens (meta) */
	SER_COUNT
};

#define INSPECT_MAX_LABELS 64

struct inspect_stats {
	uint64_t records, by_kind[INFTY_KIND_COUNT_];
	struct inspect_series s[SER_COUNT];
	/* segment end reasons, summary flags and reject reasons, counted by label */
	char *label[INSPECT_MAX_LABELS];
	uint64_t label_count[INSPECT_MAX_LABELS];
	size_t n_labels;
	uint64_t summaries, flagged_summaries, flagged_traces;
	uint64_t checked_summaries, judged_summaries; /* with "flags" / with "judge" */
};

void inspect_stats_init(struct inspect_stats *st);
/* Add one record.  0 or INFTY_ENOMEM. */
int inspect_stats_add(struct inspect_stats *st, struct json_object *rec);
void inspect_stats_release(struct inspect_stats *st);

/* A histogram of a series: up to max_bins equal bins over [lo, hi]. */
struct inspect_hist {
	double lo, width;
	size_t bins;
	uint64_t count[64];
	double min, max, p50, p90, mean;
	int integral; /* bin edges are whole numbers */
};
/* Sorts s->v.  Returns 0, or 1 when the series is empty. */
int inspect_hist_make(struct inspect_series *s, size_t max_bins, struct inspect_hist *h);

/*
 * The stats as text (bars) or as a self-contained HTML page (inline SVG).
 * files: the inputs, all named in the page's heading.
 */
void inspect_stats_text(struct inspect_stats *st, FILE *out);
void inspect_stats_html(struct inspect_stats *st, char **files, int nfiles, FILE *out);
/* The charts alone (one <section> per series), for the report page. */
void inspect_stats_charts(struct inspect_stats *st, FILE *out);
/* The counts by label ("segment end: paragraph", "summary flag: leak", ...) as an HTML table. */
void inspect_stats_labels(struct inspect_stats *st, FILE *out);
/* Text escaped for HTML element content and attribute values. */
void inspect_html_escape(FILE *out, const char *s);

/* ---- report ----------------------------------------------------------- */

struct inspect_report_opts {
	long sample;      /* unflagged traces drawn at random (reservoir) */
	long max_flagged; /* flagged traces kept, in input order */
	long max_rejects; /* reject records kept, in input order */
	unsigned long long seed;
};

#define INSPECT_REPORT_SAMPLE      100
#define INSPECT_REPORT_MAX_FLAGGED 1000
#define INSPECT_REPORT_MAX_REJECTS 500

/*
 * Write the report page of the run directory dir (a `make convert` OUT or
 * any directory with summarize/out and build/out) to out.  Returns 0, or 1
 * with a one-line reason in detail when dir holds nothing to report.
 */
int inspect_report(const char *dir, const struct inspect_report_opts *o, FILE *out, char *detail,
                   size_t dlen);

/*
 * JSON text made safe inside <script type="application/json">: '<', '>'
 * and '&' become \u003c \u003e \u0026 (valid JSON, the same string), so a
 * trace holding "</script>" cannot end the element.
 */
void inspect_json_for_script(FILE *out, const char *json);

#endif
