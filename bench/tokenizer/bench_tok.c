/*
 * bench_tok.c - infty's tokenizer speed on real text held in memory: load
 * time, encode and count-only throughput on one thread, and on N threads
 * (OpenMP, one context each), peak RSS.  Reads one string field of a JSONL
 * (.zst) file, keeping every STRIDE-th record.  Prints one JSON object.
 *
 * usage: bench_tok TOKENIZER.json CORPUS.jsonl.zst FIELD STRIDE THREADS
 */
#include "infty/alloc.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"
#include "../bench_clock.h"

#include <json-c/json.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct doc {
	char *s;
	size_t n;
};

/* Tokens of all docs with nthreads workers, thread i using ctxs[i]: the
 * contexts (piece caches) live across runs, as in a tool going through a
 * corpus. */
static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (all threads) of the last run: with other processes on the
 * machine, wall time says little about scaling, CPU time says whether the
 * threads added work. */
static double last_cpu;

static double run(struct infty_tok_ctx **ctxs, struct doc *d, size_t nd, int nthreads,
                  int count_only, uint64_t *tokens)
{
	uint64_t total = 0;
	double t0 = bench_wall(), c0 = cpu_now();
#pragma omp parallel num_threads(nthreads) reduction(+ : total)
	{
		struct infty_tok_ctx *c = ctxs[omp_get_thread_num()];
		size_t cap = 1 << 16;
		uint32_t *ids = malloc(cap * sizeof *ids);
#pragma omp for schedule(dynamic, 4)
		for (size_t i = 0; i < nd; i++) {
			int64_t n;
			if (count_only)
				n = infty_tok_count(c, d[i].s, d[i].n);
			else {
				while ((n = infty_tok_encode(c, d[i].s, d[i].n, ids, cap, NULL)) >
				       (int64_t)cap) {
					cap = (size_t)n;
					ids = realloc(ids, cap * sizeof *ids);
				}
			}
			if (n < 0) {
				fprintf(stderr, "bench_tok: doc %zu: error %lld\n", i,
				        (long long)n);
				exit(1);
			}
			total += (uint64_t)n;
		}
		free(ids);
	}
	*tokens = total;
	last_cpu = cpu_now() - c0;
	return bench_wall() - t0;
}

/* The machine's parallelism right now: a fixed amount of pure arithmetic on
 * 1 thread, then split over nthreads.  The ratio is what any perfectly
 * parallel code would gain at this moment, so a shared, busy machine is
 * told apart from a tokenizer that does not scale. */
static double control_ratio(int nthreads)
{
	const long work = 200000000;
	double t[2];
	for (int k = 0; k < 2; k++) {
		int nt = k ? nthreads : 1;
		double t0 = bench_wall(), sink = 0;
#pragma omp parallel for num_threads(nt) reduction(+ : sink) schedule(static)
		for (long i = 0; i < work; i++)
			sink += (double)(i & 1023) * 1e-9;
		t[k] = bench_wall() - t0;
		if (sink < 0)
			puts("");
	}
	return t[0] / t[1];
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench_tok TOKENIZER.json CORPUS FIELD STRIDE THREADS\n");
		return 2;
	}
	long stride = strtol(argv[4], NULL, 10), threads = strtol(argv[5], NULL, 10);
	if (stride < 1 || threads < 1)
		return 2;
	struct infty_reader *r;
	if (infty_reader_open(&r, argv[2], 0, NULL, 0)) {
		fprintf(stderr, "bench_tok: cannot open %s\n", argv[2]);
		return 1;
	}
	struct doc *d = NULL;
	size_t nd = 0, cap = 0, bytes = 0;
	long k = 0;
	for (;;) {
		struct json_object *o;
		uint64_t line;
		int rc = infty_reader_next(r, &o, &line);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		struct json_object *f;
		if (k++ % stride == 0 && json_object_object_get_ex(o, argv[3], &f)) {
			if (nd == cap) {
				cap = cap ? 2 * cap : 1024;
				d = realloc(d, cap * sizeof *d);
			}
			d[nd].n = (size_t)json_object_get_string_len(f);
			d[nd].s = strndup(json_object_get_string(f), d[nd].n);
			bytes += d[nd++].n;
		}
		json_object_put(o);
	}
	infty_reader_free(r);

	double t0 = bench_wall();
	struct infty_tokenizer *tok;
	char detail[256];
	if (infty_tokenizer_load(&tok, argv[1], detail, sizeof detail)) {
		fprintf(stderr, "bench_tok: %s\n", detail);
		return 1;
	}
	double load = bench_wall() - t0;
	/* One context per worker for the 1-thread runs and for the N-thread
	 * runs.  The first encode of each is cold (empty caches) and reported
	 * as such; then ROUNDS interleaved rounds, medians reported, so load
	 * from other processes hits every case alike. */
	struct infty_tok_ctx *c1[1], *cn[64];
	if (threads > 64)
		threads = 64;
	c1[0] = infty_tok_ctx_new(tok);
	for (long i = 0; i < threads; i++)
		cn[i] = infty_tok_ctx_new(tok);
	uint64_t tk[4], tk_cold;
	double cold1 = run(c1, d, nd, 1, 0, &tk_cold);
	double coldn = run(cn, d, nd, (int)threads, 0, &tk[0]);
	enum { ROUNDS = 5 };
	double t[4][ROUNDS], cpu[4][ROUNDS];
	for (int round = 0; round < ROUNDS; round++) {
		t[0][round] = run(c1, d, nd, 1, 0, &tk[0]);
		cpu[0][round] = last_cpu;
		t[1][round] = run(c1, d, nd, 1, 1, &tk[1]);
		cpu[1][round] = last_cpu;
		t[2][round] = run(cn, d, nd, (int)threads, 0, &tk[2]);
		cpu[2][round] = last_cpu;
		t[3][round] = run(cn, d, nd, (int)threads, 1, &tk[3]);
		cpu[3][round] = last_cpu;
	}
	double control = control_ratio((int)threads);
	double med[4], cmed[4];
	for (int q = 0; q < 4; q++) {
		for (int i = 1; i < ROUNDS; i++)
			for (int j = i; j > 0 && cpu[q][j] < cpu[q][j - 1]; j--) {
				double x = cpu[q][j];
				cpu[q][j] = cpu[q][j - 1];
				cpu[q][j - 1] = x;
			}
		cmed[q] = cpu[q][ROUNDS / 2];
		for (int i = 1; i < ROUNDS; i++) /* insertion sort */
			for (int j = i; j > 0 && t[q][j] < t[q][j - 1]; j--) {
				double x = t[q][j];
				t[q][j] = t[q][j - 1];
				t[q][j - 1] = x;
			}
		med[q] = t[q][ROUNDS / 2];
	}
	if (tk_cold != tk[0] || tk[0] != tk[1] || tk[0] != tk[2] || tk[0] != tk[3]) {
		fprintf(stderr, "bench_tok: token totals disagree\n");
		return 1;
	}
	infty_tok_ctx_free(c1[0]);
	for (long i = 0; i < threads; i++)
		infty_tok_ctx_free(cn[i]);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"impl\":\"infty\",\"docs\":%zu,\"bytes\":%zu,\"tokens\":%llu,\"load_s\":%.3f,"
	       "\"encode_1t_cold_s\":%.3f,\"encode_%ldt_cold_s\":%.3f,"
	       "\"encode_1t_s\":%.3f,\"count_1t_s\":%.3f,\"encode_%ldt_s\":%.3f,"
	       "\"count_%ldt_s\":%.3f,\"cpu_encode_1t_s\":%.3f,\"cpu_encode_%ldt_s\":%.3f,"
	       "\"control_%ldt_ratio\":%.2f,\"peak_rss_mb\":%.1f}\n",
	       nd, bytes, (unsigned long long)tk[0], load, cold1, threads, coldn, med[0], med[1],
	       threads, med[2], threads, med[3], cmed[0], threads, cmed[2], threads, control,
	       ru.ru_maxrss / 1024.0);
	infty_tokenizer_free(tok);
	for (size_t i = 0; i < nd; i++)
		free(d[i].s);
	free(d);
	return 0;
}
