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

#include <json-c/json.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct doc {
	char *s;
	size_t n;
};

/* Tokens of all docs with nthreads workers; fresh contexts (cold caches). */
static double run(const struct infty_tokenizer *tok, struct doc *d, size_t nd, int nthreads,
                  int count_only, uint64_t *tokens)
{
	uint64_t total = 0;
	double t0 = now();
#pragma omp parallel num_threads(nthreads) reduction(+ : total)
	{
		struct infty_tok_ctx *c = infty_tok_ctx_new(tok);
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
		infty_tok_ctx_free(c);
	}
	*tokens = total;
	return now() - t0;
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
	if (infty_reader_open(&r, argv[2], 0)) {
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

	double t0 = now();
	struct infty_tokenizer *tok;
	char detail[256];
	if (infty_tokenizer_load(&tok, argv[1], detail, sizeof detail)) {
		fprintf(stderr, "bench_tok: %s\n", detail);
		return 1;
	}
	double load = now() - t0;
	uint64_t tk1, tk1c, tkn, tknc;
	/* Best of two runs each, as a benchmark usually reports. */
	double e1 = run(tok, d, nd, 1, 0, &tk1), e1b = run(tok, d, nd, 1, 0, &tk1);
	double c1 = run(tok, d, nd, 1, 1, &tk1c), c1b = run(tok, d, nd, 1, 1, &tk1c);
	double en = run(tok, d, nd, (int)threads, 0, &tkn),
	       enb = run(tok, d, nd, (int)threads, 0, &tkn);
	double cn = run(tok, d, nd, (int)threads, 1, &tknc),
	       cnb = run(tok, d, nd, (int)threads, 1, &tknc);
	e1 = e1 < e1b ? e1 : e1b;
	c1 = c1 < c1b ? c1 : c1b;
	en = en < enb ? en : enb;
	cn = cn < cnb ? cn : cnb;
	if (tk1 != tk1c || tk1 != tkn || tk1 != tknc) {
		fprintf(stderr, "bench_tok: token totals disagree\n");
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf(
	    "{\"impl\":\"infty\",\"docs\":%zu,\"bytes\":%zu,\"tokens\":%llu,\"load_s\":%.3f,"
	    "\"encode_1t_s\":%.3f,\"count_1t_s\":%.3f,\"encode_%ldt_s\":%.3f,\"count_%ldt_s\":%.3f,"
	    "\"peak_rss_mb\":%.1f}\n",
	    nd, bytes, (unsigned long long)tk1, load, e1, c1, threads, en, threads, cn,
	    ru.ru_maxrss / 1024.0);
	infty_tokenizer_free(tok);
	for (size_t i = 0; i < nd; i++)
		free(d[i].s);
	free(d);
	return 0;
}
