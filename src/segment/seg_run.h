/*
 * seg_run.h - the infty-segment stage as a function: rows in, segment
 * records, rejects and stats out.  main.c only parses options into
 * struct infty_seg_run_opts; tests call infty_seg_run() directly with a
 * simple counter.
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
	FILE *log;                         /* reject lines and progress; NULL: silent */
	int quiet;                         /* no progress (reject lines still go to log) */
	int max_messages; /* reject lines printed before only counting them (0: 10) */
};

struct infty_seg_totals {
	uint64_t rows, items, traces, rejected, other_shard, segments, hard_cuts, line_cuts;
	uint64_t rejects_by_reason[INFTY_SEG_R_COUNT_];
	uint64_t traces_by_format[INFTY_SEG_FMT_COUNT_]; /* the input shape each came from */
};

/*
 * Run the stage.  Returns 0 when everything ran (rejects or not: see
 * totals), or a negative infty_err for a stream, write or counter failure,
 * with a one-line reason in detail.  Nothing is left under the output names
 * on failure.
 */
int infty_seg_run(const struct infty_seg_run_opts *o, const struct infty_seg_counter *c,
                  struct infty_seg_totals *totals, char *detail, size_t detail_len);

#endif
