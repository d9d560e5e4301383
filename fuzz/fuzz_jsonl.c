/*
 * fuzz_jsonl.c - libFuzzer target for the record reader and the strict
 * JSON/UTF-8 parser.  The input is served as a file (plain or zstd, as the
 * bytes say), read to the end in both strict and tolerant modes; any crash,
 * leak or sanitizer report is a finding.  Accepted records must survive a
 * serialize/parse round trip unchanged.
 */
#include "infty/json_write.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>

static void drain(const char *path, unsigned flags)
{
	struct infty_reader *r;
	if (infty_reader_open(&r, path, flags, NULL, 0))
		return;
	for (int i = 0; i < 10000; i++) {
		struct json_object *o;
		uint64_t ln;
		int rc = infty_reader_next(r, &o, &ln);
		if (rc == 0 || (rc < 0 && rc != -3 && rc != -4))
			break;
		if (rc == 1) {
			struct infty_buf b = {0};
			if (infty_json_write(&b, o) == 0) {
				struct json_object *back;
				if (infty_json_parse(b.data, b.len, &back, NULL, 0) != 0 ||
				    !json_object_equal(o, back))
					abort();
				json_object_put(back);
			}
			infty_buf_release(&b);
			json_object_put(o);
		}
	}
	infty_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	drain(path, 0);
	drain(path, INFTY_READER_TOLERATE_TAIL);
	close(fd);
	return 0;
}
