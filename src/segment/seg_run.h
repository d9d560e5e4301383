/*
 * seg_run.h - the infty-segment stage as a function: rows in, segment
 * records, rejects and stats out, in a stage frame (include/infty/stage.h)
 * that opens, publishes and reports.  main.c only parses options into
 * struct infty_seg_run_opts and the frame's config; tests and the benchmark
 * call infty_seg_run(), which runs the same engine on files, silently.
 */
#ifndef INFTY_SEG_RUN_H
#define INFTY_SEG_RUN_H

#include "seg.h"

#include <stdint.h>
#include <stdio.h>

/*
 * A token counter usable from many threads: one ctx per thread from
 * ctx_new(arg); count and cut get that ctx.
 */
struct infty_seg_counter {
	void *arg;
	void *(*ctx_new)(void *arg);
	void (*ctx_free)(void *ctx);
	infty_seg_count_fn count;
	infty_seg_cut_fn cut;     /* may be NULL */
	infty_seg_begin_fn begin; /* may be NULL */
	const char *hash;         /* provenance for params.tokenizer */
};

struct infty_seg_run_opts {
	/* Files, for infty_seg_run() only (a tool gives them to its frame). */
	const char *input;   /* path or "-" */
	const char *output;  /* path or "-"; ".zst" compresses */
	const char *rejects; /* NULL: rejects are only counted */
	const char *stats;   /* NULL: no stats file */
	struct infty_seg_input_opts in;
	int64_t eta, min_tail;
	/*
	 * Limits per trace (0: none): a trace above either is rejected as
	 * too_long, so one pathological row cannot make the summarize stage's
	 * work (quadratic in segments with cumulative prompts) unbounded.
	 */
	int64_t max_trace_tokens, max_segments;
	enum infty_seg_pack pack;
	uint32_t shard_index, shard_count; /* count 0 or 1: everything */
	int threads;                       /* 0: OpenMP's default */
	size_t batch_rows;                 /* rows per parallel batch (0: 256) */
};

/* A histogram by bucket index; owned by the totals. */
struct infty_seg_hist {
	uint64_t *v;
	size_t n, cap;
};

struct infty_seg_totals {
	uint64_t rows, items, traces, rejected, other_shard, segments, hard_cuts, line_cuts;
	uint64_t rejects_by_reason[INFTY_SEG_R_COUNT_];
	uint64_t traces_by_format[INFTY_SEG_FMT_COUNT_]; /* the input shape each came from */
	uint64_t reasoning_tokens;
	struct infty_seg_hist tok_hist; /* segments by tokens / 256 */
	struct infty_seg_hist seg_hist; /* traces by their number of segments */
};

/* Release the histograms of t (zeroed; a zero t needs no release). */
void infty_seg_totals_release(struct infty_seg_totals *t);

struct json_object;
struct infty_stage;

/* What the stats and the progress snapshot report: borrowed pointers. */
struct infty_seg_report {
	const struct infty_seg_run_opts *o;
	const struct infty_seg_counter *c;
	const struct infty_seg_totals *t;
};
/* infty_stage_fields_fn for the stats (counts, histograms, params) and the
 * snapshot's counters; ctx is a struct infty_seg_report. */
int infty_seg_stats_fields(void *ctx, struct json_object *o);
int infty_seg_progress_fields(void *ctx, struct json_object *o);

/*
 * Run the stage on the stage's input and output (opened by the caller with
 * infty_stage_open); totals must start zeroed.  Returns 0 when every row
 * was read (rejects or not: see totals), or a negative infty_err recorded
 * in the stage: a stream, write or counter failure, INFTY_ECANCELED on a
 * signal.
 */
int infty_seg_run_stage(struct infty_stage *st, const struct infty_seg_run_opts *o,
                        const struct infty_seg_counter *c, struct infty_seg_totals *t);

/*
 * The same on the files named in o, in a silent frame of its own: for
 * tests and the benchmark.  Returns 0 when the stage finished (rejects or
 * not), or a negative infty_err with the message in detail; nothing is
 * left under the output names then.  The totals' histograms are released.
 */
int infty_seg_run(const struct infty_seg_run_opts *o, const struct infty_seg_counter *c,
                  struct infty_seg_totals *totals, char *detail, size_t detail_len);

#endif
