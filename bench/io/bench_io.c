/*
 * bench_io.c - what the record I/O layer costs on real data.
 *
 *   bench_io read FILE          decompress and parse every line
 *   bench_io copy FILE OUT      parse, re-serialize, compress (level 3) to OUT
 *
 * Prints "records bytes seconds" on stdout; bench/io/run.sh times it side
 * by side with zstd in the same run.
 */
#include "infty/error.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "read") && strcmp(argv[1], "copy")) ||
	    (!strcmp(argv[1], "copy") && argc < 4)) {
		fprintf(stderr, "usage: bench_io read FILE | copy FILE OUT\n");
		return 2;
	}
	int copy = !strcmp(argv[1], "copy");
	double t0 = now();
	struct infty_reader *r;
	if (infty_reader_open(&r, argv[2], 0)) {
		perror(argv[2]);
		return 1;
	}
	struct infty_writer *w = NULL;
	if (copy) {
		struct infty_writer_opts o;
		infty_writer_opts_init(&o);
		o.compress = 1;
		o.level = 3;
		if (infty_writer_open(&w, argv[3], &o)) {
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
	printf("%llu %llu %.3f %llu\n", records, bytes, now() - t0, bad);
	return 0;
}
