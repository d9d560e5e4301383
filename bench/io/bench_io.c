/*
 * bench_io.c - what the record I/O layer costs on real data.
 *
 *   bench_io read FILE          decompress and parse every line
 *   bench_io copy FILE OUT      parse, re-serialize, compress (level 3) to OUT
 *   bench_io parse FILE [N]     parse only, from memory: the one-pass parser
 *                               against the json-c based reference it
 *                               replaced, N interleaved rounds (default 5)
 *
 * read and copy print "records bytes seconds bad" on stdout; bench/io/run.sh
 * times them side by side with zstd in the same run.  parse prints the
 * median MB/s of each parser.
 */
#include "../../src/lib/jsonl_parse_ref.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "../bench_clock.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*parse_fn)(const char *, size_t, struct json_object **, char *, size_t);

/* Seconds to parse (and free) every line once; counts the lines refused. */
static double parse_all(parse_fn parse, char *const *lines, const size_t *lens, size_t n,
                        size_t *bad)
{
	double t0 = bench_wall();
	*bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o;
		if (parse(lines[i], lens[i], &o, NULL, 0) != 0)
			(*bad)++;
		json_object_put(o);
	}
	return bench_wall() - t0;
}

/* Parse only: every non-empty line of path in memory, then both parsers in
 * turn for rounds rounds; prints the median speed of each. */
static int parse_only(const char *path, int rounds)
{
	struct infty_reader *r;
	if (infty_reader_open(&r, path, 0, NULL, 0)) {
		perror(path);
		return 1;
	}
	char **lines = NULL;
	size_t *lens = NULL, n = 0, cap = 0, bytes = 0;
	const char *line;
	size_t len;
	uint64_t ln;
	int rc;
	while ((rc = infty_reader_next_line(r, &line, &len, &ln)) == 1) {
		if (len == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			lines = realloc(lines, cap * sizeof *lines);
			lens = realloc(lens, cap * sizeof *lens);
			if (!lines || !lens)
				return 1;
		}
		lines[n] = malloc(len);
		if (!lines[n])
			return 1;
		memcpy(lines[n], line, len);
		lens[n++] = len;
		bytes += len;
	}
	if (rc < 0) {
		fprintf(stderr, "bench_io: %s: %s\n", path, infty_reader_detail(r));
		return 1;
	}
	infty_reader_free(r);
	double *t_ref = calloc((size_t)rounds, sizeof *t_ref);
	double *t_new = calloc((size_t)rounds, sizeof *t_new);
	if (!t_ref || !t_new)
		return 1;
	size_t bad_ref = 0, bad_new = 0;
	for (int i = 0; i < rounds; i++) {
		t_ref[i] = parse_all(infty_json_parse_reference, lines, lens, n, &bad_ref);
		t_new[i] = parse_all(infty_json_parse, lines, lens, n, &bad_new);
	}
	qsort(t_ref, (size_t)rounds, sizeof *t_ref, bench_cmp_double);
	qsort(t_new, (size_t)rounds, sizeof *t_new, bench_cmp_double);
	double m_ref = t_ref[rounds / 2], m_new = t_new[rounds / 2];
	printf("parse only, %zu lines, %.0f MB, median of %d interleaved rounds: "
	       "reference (json-c) %.3f s = %.0f MB/s, new %.3f s = %.0f MB/s, %.2fx\n",
	       n, bytes / 1e6, rounds, m_ref, bytes / m_ref / 1e6, m_new, bytes / m_new / 1e6,
	       m_ref / m_new);
	if (bad_ref != bad_new)
		fprintf(stderr, "bench_io: the parsers refused %zu and %zu lines\n", bad_ref,
		        bad_new);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(lens);
	free(t_ref);
	free(t_new);
	return bad_ref != bad_new;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "parse")) {
		long rounds = 5;
		char *e = NULL;
		if (argc > 3)
			rounds = strtol(argv[3], &e, 10);
		if (argc > 4 || (e && (*e || e == argv[3])) || rounds < 1 || rounds > 1000) {
			fprintf(stderr, "bench_io: ROUNDS must be 1 to 1000\n");
			return 2;
		}
		return parse_only(argv[2], (int)rounds);
	}
	if (argc < 3 || (strcmp(argv[1], "read") && strcmp(argv[1], "copy")) ||
	    (!strcmp(argv[1], "copy") && argc < 4)) {
		fprintf(stderr,
		        "usage: bench_io read FILE | copy FILE OUT | parse FILE [ROUNDS]\n");
		return 2;
	}
	int copy = !strcmp(argv[1], "copy");
	double t0 = bench_wall();
	struct infty_reader *r;
	if (infty_reader_open(&r, argv[2], 0, NULL, 0)) {
		perror(argv[2]);
		return 1;
	}
	struct infty_writer *w = NULL;
	if (copy) {
		struct infty_writer_opts o;
		infty_writer_opts_init(&o);
		o.compress = 1;
		o.level = 3;
		if (infty_writer_open(&w, argv[3], &o, NULL, 0)) {
			perror(argv[3]);
			return 1;
		}
	}
	unsigned long long records = 0, bytes = 0, bad = 0;
	for (;;) {
		struct json_object *obj;
		uint64_t ln;
		int rc = infty_reader_next(r, &obj, &ln);
		if (rc == 0)
			break;
		if (rc < 0 && rc != INFTY_EJSON && rc != INFTY_EUTF8) {
			fprintf(stderr, "bench_io: %s: %s\n", argv[2], infty_reader_detail(r));
			return 1;
		}
		if (rc < 0) {
			bad++;
			continue;
		}
		size_t len;
		infty_reader_line(r, &len);
		bytes += len + 1;
		records++;
		if (w && infty_writer_put_json(w, obj)) {
			fprintf(stderr, "bench_io: %s\n", infty_writer_detail(w));
			return 1;
		}
		json_object_put(obj);
	}
	infty_reader_free(r);
	if (w) {
		char detail[256];
		if (infty_writer_close(w, detail, sizeof detail)) {
			fprintf(stderr, "bench_io: %s\n", detail);
			return 1;
		}
	}
	printf("%llu %llu %.3f %llu\n", records, bytes, bench_wall() - t0, bad);
	return 0;
}
