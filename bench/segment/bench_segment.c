/*
 * bench_segment.c - infty-segment end to end (read, parse, tokenize, segment,
 * write .jsonl.zst) against tokenizer-only counting of the same reasoning
 * texts, in the same run, at 1 and 2 threads.  MB/s are over the reasoning
 * bytes of the traces, so both sides are measured on the same text.
 *
 * End to end runs twice per thread count: as users run it (.jsonl.zst in,
 * .jsonl.zst out: zstd decompresses and compresses in threads of its own),
 * and on plain .jsonl in and out, which leaves the stage's own work alone.
 * On a 2-core machine the difference matters: with zstd, -j 1 already keeps
 * both cores partly busy, so -j 2 has less to add.
 *
 * usage: bench_segment TOKENIZER CORPUS OUTDIR [ETA]   (BENCH_SEG_REPS, default 3)
 * Prints one JSON object on stdout (bench/segment/run.sh formats it).
 */
#include "../../src/segment/seg.h"
#include "../../src/segment/seg_run.h"
#include "../../src/segment/seg_tok.h"
#include "infty/alloc.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"
#include "../bench_clock.h"

#include <json.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct texts {
	char **v;
	size_t *len;
	size_t n, cap, lcap, bytes;
};

/* The reasoning of every usable trace, as infty-segment extracts it. */
static void load(const char *path, struct texts *t)
{
	struct infty_reader *in;
	if (infty_reader_open(&in, path, 0, NULL, 0)) {
		fprintf(stderr, "bench_segment: %s: cannot open\n", path);
		exit(1);
	}
	struct infty_seg_input_opts io = {0};
	for (;;) {
		struct json_object *o = NULL;
		uint64_t line;
		int rc = infty_reader_next(in, &o, &line);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		struct infty_seg_items it = {0};
		if (infty_seg_extract(o, &io, &it) == 0)
			for (size_t i = 0; i < it.n; i++) {
				if (it.v[i].reason != INFTY_SEG_OK)
					continue;
				if (infty_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v) ||
				    infty_grow(&t->len, &t->lcap, t->n + 1, sizeof *t->len))
					exit(1);
				t->v[t->n] = it.v[i].reasoning;
				t->len[t->n] = it.v[i].reasoning_len;
				t->bytes += it.v[i].reasoning_len;
				it.v[i].reasoning = NULL; /* kept */
				t->n++;
			}
		infty_seg_items_release(&it);
		json_object_put(o);
	}
	infty_reader_free(in);
}

/* Tokenizer only: count every text, fresh caches, `threads` threads. */
static double tok_only(struct infty_tokenizer *tok, const struct texts *t, int threads,
                       int64_t *total)
{
	struct infty_tok_ctx *ctx[64];
	for (int i = 0; i < threads; i++)
		ctx[i] = infty_tok_ctx_new(tok);
	int64_t sum = 0;
	double t0 = bench_wall();
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads) reduction(+ : sum)
	for (size_t i = 0; i < t->n; i++)
		sum += infty_tok_count(ctx[omp_get_thread_num()], t->v[i], t->len[i]);
	double dt = bench_wall() - t0;
	for (int i = 0; i < threads; i++)
		infty_tok_ctx_free(ctx[i]);
	*total = sum;
	return dt;
}

/* Copy the records of path, decompressed, to plain. */
static int decompress_to(const char *path, const char *plain)
{
	struct infty_reader *in;
	FILE *f = fopen(plain, "w");
	if (!f || infty_reader_open(&in, path, 0, NULL, 0)) {
		fprintf(stderr, "bench_segment: cannot copy %s to %s\n", path, plain);
		if (f)
			fclose(f);
		return 1;
	}
	const char *line;
	size_t len;
	uint64_t lineno;
	int rc;
	while ((rc = infty_reader_next_line(in, &line, &len, &lineno)) > 0) {
		fwrite(line, 1, len, f);
		fputc('\n', f);
	}
	infty_reader_free(in);
	if (fclose(f) || rc < 0) {
		fprintf(stderr, "bench_segment: cannot copy %s to %s\n", path, plain);
		return 1;
	}
	return 0;
}

static double e2e(const struct infty_seg_counter *c, const char *in, const char *out, int threads,
                  int64_t eta, struct infty_seg_totals *tt)
{
	struct infty_seg_run_opts o = {
	    .input = in,
	    .output = out,
	    .eta = eta,
	    .min_tail = 256,
	    .threads = threads,

	};
	char detail[256];
	double t0 = bench_wall();
	if (infty_seg_run(&o, c, tt, detail, sizeof detail)) {
		fprintf(stderr, "bench_segment: %s\n", detail);
		exit(1);
	}
	return bench_wall() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_segment TOKENIZER CORPUS OUTDIR [ETA]\n");
		return 2;
	}
	int64_t eta = argc > 4 ? strtoll(argv[4], NULL, 10) : 4096;
	struct infty_tokenizer *tok;
	char detail[256];
	if (infty_tokenizer_load(&tok, argv[1], detail, sizeof detail)) {
		fprintf(stderr, "bench_segment: %s: %s\n", argv[1], detail);
		return 2;
	}
	struct texts t = {0};
	load(argv[2], &t);
	struct infty_seg_counter c;
	infty_seg_tok_counter(&c, tok);
	char out[1024];
	snprintf(out, sizeof out, "%s/bench-segment.jsonl.zst", argv[3]);
	/* The plain variant: the corpus decompressed once, output uncompressed. */
	char plain_in[1024], plain_out[1024];
	snprintf(plain_in, sizeof plain_in, "%s/bench-segment-in.jsonl", argv[3]);
	snprintf(plain_out, sizeof plain_out, "%s/bench-segment.jsonl", argv[3]);
	if (decompress_to(argv[2], plain_in))
		return 1;

	/*
	 * The machines are shared: run tokenizer-only and end-to-end interleaved,
	 * REPS times each, and report medians.
	 */
	int reps = getenv("BENCH_SEG_REPS") ? atoi(getenv("BENCH_SEG_REPS")) : 3;
	if (reps < 1 || reps > 15)
		reps = 3;
	double mb = (double)t.bytes / 1e6;
	printf("{\"traces\":%zu,\"reasoning_mb\":%.1f,\"eta\":%lld,\"reps\":%d", t.n, mb,
	       (long long)eta, reps);
	for (int th = 1; th <= 2; th++) {
		double tok_s[15], e2e_s[15], tok_c[15], e2e_c[15], pl_s[15], pl_c[15];
		int64_t toks = 0;
		struct infty_seg_totals tt, tp;
		for (int r = 0; r < reps; r++) {
			/* CPU seconds too: unlike wall time, they barely move with load. */
			double c0 = bench_cpu();
			tok_s[r] = tok_only(tok, &t, th, &toks);
			double c1 = bench_cpu();
			e2e_s[r] = e2e(&c, argv[2], out, th, eta, &tt);
			double c2 = bench_cpu();
			pl_s[r] = e2e(&c, plain_in, plain_out, th, eta, &tp);
			tok_c[r] = c1 - c0;
			e2e_c[r] = c2 - c1;
			pl_c[r] = bench_cpu() - c2;
		}
		if (tp.segments != tt.segments) {
			fprintf(stderr, "bench_segment: plain and .zst runs disagree\n");
			return 1;
		}
		double dt_tok = bench_median(tok_s, reps), dt_e2e = bench_median(e2e_s, reps);
		double ct_tok = bench_median(tok_c, reps), ct_e2e = bench_median(e2e_c, reps);
		double dt_pl = bench_median(pl_s, reps), ct_pl = bench_median(pl_c, reps);
		printf(",\"t%d\":{\"tokens\":%lld,\"tok_only_s\":%.3f,\"tok_only_mbps\":%.1f,"
		       "\"e2e_s\":%.3f,\"e2e_mbps\":%.1f,\"ratio\":%.3f,\"segments\":%llu,"
		       "\"tok_cpu_s\":%.3f,\"e2e_cpu_s\":%.3f,\"cpu_ratio\":%.3f,"
		       "\"plain_s\":%.3f,\"plain_mbps\":%.1f,\"plain_ratio\":%.3f,"
		       "\"plain_cpu_s\":%.3f}",
		       th, (long long)toks, dt_tok, mb / dt_tok, dt_e2e, mb / dt_e2e,
		       dt_tok / dt_e2e, (unsigned long long)tt.segments, ct_tok, ct_e2e,
		       ct_tok / ct_e2e, dt_pl, mb / dt_pl, dt_tok / dt_pl, ct_pl);
		fflush(stdout);
	}
	printf("}\n");
	remove(plain_in);
	remove(plain_out);
	for (size_t i = 0; i < t.n; i++)
		infty_free(t.v[i]);
	infty_free(t.v);
	infty_free(t.len);
	infty_tokenizer_free(tok);
	return 0;
}
