/*
 * bench_split.c - the boundary scan (infty_seg_find_bounds, which runs
 * infty_seg_protect first) and the tag split (infty_seg_split_tagged) of
 * infty-segment against their reference copies (tests/unit/seg_split_ref.c,
 * the code as it was before it was made fast), on the real corpus.  Old and
 * new run interleaved, ROUNDS times each (the machine is shared), and the
 * medians are reported in MB/s of the texts scanned: the reasoning texts as
 * infty-segment extracts them for the scan, the raw "trace" fields for the
 * tag split.  Both sides' outputs are digested and must agree (exit 1 if not).
 *
 * usage: bench_split CORPUS [ROUNDS]        throughput, old vs new
 *        bench_split --digest CORPUS        one line per trace: index, bytes,
 *                                           sha256 of the new scan's output
 * The digest mode froze the scan's behaviour before the change: its output
 * from the old build and from the new one must be identical files.
 */
#include "../../src/segment/seg.h"
#include "../../tests/unit/seg_split_ref.h"
#include "infty/alloc.h"
#include "infty/hash.h"
#include "infty/jsonl.h"
#include "../bench_clock.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*bounds_fn)(const char *s, size_t n, struct infty_seg_bounds *b);
typedef enum infty_seg_reason (*tagged_fn)(const char *s, size_t n, const char **r, size_t *rlen,
                                           const char **c, size_t *clen);

struct texts {
	char **v;
	size_t *len;
	size_t n, cap, lcap, bytes;
};

static void push(struct texts *t, char *s, size_t n)
{
	if (infty_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v) ||
	    infty_grow(&t->len, &t->lcap, t->n + 1, sizeof *t->len)) {
		fprintf(stderr, "bench_split: out of memory\n");
		exit(1);
	}
	t->v[t->n] = s;
	t->len[t->n] = n;
	t->bytes += n;
	t->n++;
}

/*
 * The reasoning of every usable trace, as infty-segment extracts it (default
 * options), into r; the raw "trace" field of every row that has one into raw.
 */
static void load(const char *path, struct texts *r, struct texts *raw)
{
	struct infty_reader *in;
	if (infty_reader_open(&in, path, 0, NULL, 0)) {
		fprintf(stderr, "bench_split: %s: cannot open\n", path);
		exit(2);
	}
	struct infty_seg_input_opts io = {0};
	for (;;) {
		struct json_object *o = NULL, *tr = NULL;
		uint64_t line;
		int rc = infty_reader_next(in, &o, &line);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		if (raw && json_object_object_get_ex(o, "trace", &tr) &&
		    json_object_is_type(tr, json_type_string)) {
			size_t n = (size_t)json_object_get_string_len(tr);
			char *s = infty_malloc(n ? n : 1);
			if (!s)
				exit(1);
			memcpy(s, json_object_get_string(tr), n);
			push(raw, s, n);
		}
		struct infty_seg_items it = {0};
		if (infty_seg_extract(o, &io, &it) == 0)
			for (size_t i = 0; i < it.n; i++) {
				if (it.v[i].reason != INFTY_SEG_OK)
					continue;
				push(r, it.v[i].reasoning, it.v[i].reasoning_len);
				it.v[i].reasoning = NULL; /* kept */
			}
		infty_seg_items_release(&it);
		json_object_put(o);
	}
	infty_reader_free(in);
}

static void put_u64(struct infty_sha256 *c, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	infty_sha256_update(c, b, sizeof b);
}

/* Everything the scan returns, in a fixed byte order (no struct padding). */
static void digest_bounds(struct infty_sha256 *c, const struct infty_seg_bounds *b)
{
	put_u64(c, b->n);
	for (size_t i = 0; i < b->n; i++) {
		put_u64(c, b->v[i].at);
		put_u64(c, b->v[i].sep_len);
		put_u64(c, (uint64_t)b->v[i].level);
	}
	put_u64(c, b->nprot);
	for (size_t i = 0; i < 2 * b->nprot; i++)
		put_u64(c, b->prot[i]);
}

/* One pass of fn over every text; seconds.  With c, digests the outputs. */
static double run_bounds(bounds_fn fn, const struct texts *t, struct infty_sha256 *c)
{
	struct infty_seg_bounds b = {0};
	double t0 = bench_cpu();
	for (size_t i = 0; i < t->n; i++) {
		if (fn(t->v[i], t->len[i], &b)) {
			fprintf(stderr, "bench_split: out of memory\n");
			exit(1);
		}
		if (c)
			digest_bounds(c, &b);
	}
	double dt = bench_cpu() - t0;
	infty_seg_bounds_release(&b);
	return dt;
}

static double run_tagged(tagged_fn fn, const struct texts *t, struct infty_sha256 *c)
{
	double t0 = bench_cpu();
	for (size_t i = 0; i < t->n; i++) {
		const char *r = NULL, *cc = NULL;
		size_t rn = 0, cn = 0;
		enum infty_seg_reason why = fn(t->v[i], t->len[i], &r, &rn, &cc, &cn);
		if (c) {
			put_u64(c, (uint64_t)why);
			put_u64(c, r ? (uint64_t)(r - t->v[i]) + 1 : 0);
			put_u64(c, rn);
			put_u64(c, cc ? (uint64_t)(cc - t->v[i]) + 1 : 0);
			put_u64(c, cn);
		}
	}
	return bench_cpu() - t0;
}

static int digest_mode(const char *path)
{
	struct texts t = {0};
	load(path, &t, NULL);
	struct infty_seg_bounds b = {0};
	for (size_t i = 0; i < t.n; i++) {
		struct infty_sha256 c;
		unsigned char d[32];
		char hex[65];
		if (infty_seg_find_bounds(t.v[i], t.len[i], &b))
			return 1;
		infty_sha256_init(&c);
		digest_bounds(&c, &b);
		infty_sha256_final(&c, d);
		infty_hex(d, 32, hex);
		printf("%zu\t%zu\t%s\n", i, t.len[i], hex);
	}
	infty_seg_bounds_release(&b);
	return fflush(stdout) || ferror(stdout) ? 1 : 0;
}

/*
 * Old and new of one function, interleaved (the order alternates each round
 * so neither always runs on a warm or a cold cache); medians in MB/s.
 */
static int compare(const char *what, const struct texts *t, bounds_fn bo, bounds_fn bn,
                   tagged_fn to, tagged_fn tn, int rounds)
{
	double old_s[64], new_s[64];
	unsigned char dig[2][32];
	for (int k = 0; k < 2; k++) {
		struct infty_sha256 c;
		infty_sha256_init(&c);
		if (bo)
			run_bounds(k ? bn : bo, t, &c);
		else
			run_tagged(k ? tn : to, t, &c);
		infty_sha256_final(&c, dig[k]);
	}
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < 2; k++) {
			int is_new = (r + k) % 2;
			double dt = bo ? run_bounds(is_new ? bn : bo, t, NULL)
			               : run_tagged(is_new ? tn : to, t, NULL);
			(is_new ? new_s : old_s)[r] = dt;
		}
	double mb = (double)t->bytes / 1e6;
	double om = bench_median(old_s, rounds), nm = bench_median(new_s, rounds);
	double ofast = old_s[0], oslow = old_s[rounds - 1]; /* sorted by bench_median() */
	double nfast = new_s[0], nslow = new_s[rounds - 1];
	int same = memcmp(dig[0], dig[1], 32) == 0;
	printf("%-13s old %7.0f MB/s (%.0f..%.0f)  new %7.0f MB/s (%.0f..%.0f)  x%.2f  "
	       "outputs %s\n",
	       what, mb / om, mb / oslow, mb / ofast, mb / nm, mb / nslow, mb / nfast, om / nm,
	       same ? "identical" : "DIFFER");
	return same ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--digest") == 0)
		return digest_mode(argv[2]);
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr,
		        "usage: bench_split CORPUS [ROUNDS] | bench_split --digest CORPUS\n");
		return 2;
	}
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 9;
	if (rounds < 1 || rounds > 64)
		rounds = 9;
	struct texts t = {0}, raw = {0};
	load(argv[1], &t, &raw);
	printf("bench-split: %zu reasoning texts (%.1f MB), %zu tagged traces (%.1f MB), "
	       "%d rounds, old/new interleaved, MB per CPU second, medians (min..max)\n",
	       t.n, (double)t.bytes / 1e6, raw.n, (double)raw.bytes / 1e6, rounds);
	fflush(stdout);
	int st = compare("find_bounds", &t, infty_segref_find_bounds, infty_seg_find_bounds, NULL,
	                 NULL, rounds);
	fflush(stdout);
	st |= compare("split_tagged", &raw, NULL, NULL, infty_segref_split_tagged,
	              infty_seg_split_tagged, rounds);
	for (size_t i = 0; i < t.n; i++)
		infty_free(t.v[i]);
	for (size_t i = 0; i < raw.n; i++)
		infty_free(raw.v[i]);
	infty_free(t.v);
	infty_free(t.len);
	infty_free(raw.v);
	infty_free(raw.len);
	return st;
}
