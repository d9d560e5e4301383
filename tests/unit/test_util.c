/*
 * test_util.c - the small library modules: the 64-bit hash and sharding
 * (SHA-256 has test_sha256.c), the progress reporter's output modes,
 * growable buffers, reading a stream whole and the allocation seam.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/progress.h"
#include "infty/reject.h"
#include "infty/utf8.h"

#include <json.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_shards_partition_ids(void **state)
{
	/* Every id lands in exactly one shard, and shards are roughly even. */
	enum { N = 7, IDS = 7000 };
	int count[N] = {0};
	for (int i = 0; i < IDS; i++) {
		char id[32];
		snprintf(id, sizeof id, "uuid-%d:m", i);
		int owners = 0;
		for (uint32_t s = 0; s < N; s++)
			if (infty_shard_owns(id, s, N)) {
				owners++;
				count[s]++;
			}
		assert_int_equal(owners, 1);
	}
	for (int s = 0; s < N; s++)
		assert_in_range(count[s], IDS / N * 8 / 10, IDS / N * 12 / 10);
	assert_true(infty_shard_owns("anything", 0, 1));
	/* Stable across builds and machines: a fixed value, not a random seed. */
	assert_int_equal(infty_hash64("abc", 3), infty_hash64("abc", 3));
	assert_int_not_equal(infty_hash64("abc", 3), infty_hash64("abd", 3));
}

static char *capture(int quiet, uint64_t total, int updates)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	setenv("INFTY_PROGRESS_INTERVAL", "0", 1);
	struct infty_progress *p = infty_progress_new(f, "segment", "records", total, 0, quiet);
	for (int i = 1; i <= updates; i++)
		infty_progress_update(p, (uint64_t)i * 10, 0, "3 rejected");
	infty_progress_finish(p, (uint64_t)updates * 10, "done");
	unsetenv("INFTY_PROGRESS_INTERVAL");
	fclose(f);
	return buf;
}

static void test_progress_modes(void **state)
{
	/* Not a terminal: plain lines, one per update plus the final one. */
	char *out = capture(0, 100, 3);
	int lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	assert_null(strchr(out, '\r'));
	assert_non_null(strstr(out, "segment: 10/100 records"));
	assert_non_null(strstr(out, "eta "));
	assert_non_null(strstr(out, "3 rejected"));
	assert_non_null(strstr(out, "segment: 30/100 records"));
	free(out);
	/* Quiet: nothing at all. */
	out = capture(1, 100, 3);
	assert_string_equal(out, "");
	free(out);
	char d[32];
	infty_format_duration(3725, d, sizeof d);
	assert_string_equal(d, "1h02m");
	infty_format_duration(185, d, sizeof d);
	assert_string_equal(d, "3m05s");
}

static void test_grow_and_alloc_seam(void **state)
{
	int *v = NULL;
	size_t cap = 0;
	assert_int_equal(infty_grow(&v, &cap, 100, sizeof *v), 0);
	assert_true(cap >= 100);
	v[99] = 7;
	infty_alloc_fail_after(0);
	assert_int_equal(infty_grow(&v, &cap, cap * 4, sizeof *v), INFTY_ENOMEM);
	assert_null(infty_strdup("x"));
	infty_alloc_fail_after(-1);
	assert_int_equal(v[99], 7); /* the old buffer survives a failed grow */
	infty_free(v);
	assert_string_equal(infty_strerror(INFTY_ETRUNCATED), "truncated zstd stream");
}

/* Bytes past any one chunk, NULs inside; EIO on a stream that cannot be read; ENOMEM. */
static void test_read_all(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	for (int i = 0; i < 10000; i++)
		fputc(i % 7 ? 'a' + i % 26 : 0, f);
	rewind(f);
	size_t len = 0;
	char *b = infty_read_all(f, &len);
	assert_non_null(b);
	assert_int_equal(len, 10000);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[9999], 'a' + 9999 % 26);
	assert_int_equal(b[len], 0);
	infty_free(b);
	b = infty_read_all(f, &len); /* at the end: an empty string */
	assert_non_null(b);
	assert_int_equal(len, 0);
	infty_free(b);
	rewind(f);
	infty_alloc_fail_after(0);
	errno = 0;
	assert_null(infty_read_all(f, &len));
	assert_int_equal(errno, ENOMEM);
	infty_alloc_fail_after(-1);
	fclose(f);
	FILE *d = fopen(".", "r"); /* opens on Linux; every read fails with EISDIR */
	assert_non_null(d);
	errno = 0;
	assert_null(infty_read_all(d, NULL));
	assert_int_equal(errno, EIO);
	fclose(d);
}

/* Format one reject and parse it back with our own strict parser. */
static struct json_object *reject_back(const char *stage, const struct infty_reject *r)
{
	struct infty_buf b = {0};
	assert_int_equal(infty_reject_format(&b, stage, r), 0);
	struct json_object *o = NULL;
	assert_int_equal(infty_json_parse(b.data, b.len, &o, NULL, 0), 0);
	infty_buf_release(&b);
	return o;
}

static void test_reject_records_stay_readable(void **state)
{
	/* A line that is valid UTF-8 is kept verbatim in "raw". */
	const char good[] = "{\"problem\": \"caf\xc3\xa9\"";
	struct infty_reject r = {"in.jsonl", 7, "bad_json", "x", NULL, NULL, good, sizeof good - 1};
	struct json_object *o = reject_back("build", &r), *v;
	assert_true(json_object_object_get_ex(o, "raw", &v));
	assert_string_equal(json_object_get_string(v), good);
	/* One schema: no detail is "", no id is null, fields in order. */
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
	                    "{\"stage\":\"build\",\"file\":\"in.jsonl\",\"line\":7,\"reason\":"
	                    "\"bad_json\",\"detail\":\"x\",\"id\":null,\"raw\":\"{\\\"problem\\\": "
	                    "\\\"caf\xc3\xa9\\\"\"}");
	json_object_put(o);

	/* One that is not: raw null, raw_base64 lossless; a stage's extra
	 * fields come between id and raw. */
	const char bad[] = "{\"a\":\"\xff\xed\xa0\x80\"}";
	struct json_object *extra = json_object_new_object();
	json_object_object_add(extra, "generation", json_object_new_int(2));
	struct infty_reject r2 = {"in.jsonl", 9,     "bad_utf8", NULL,
	                          "id1",      extra, bad,        sizeof bad - 1};
	o = reject_back("summarize", &r2);
	json_object_put(extra);
	assert_true(json_object_object_get_ex(o, "raw", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "raw_base64", &v));
	assert_string_equal(json_object_get_string(v), "eyJhIjoi/+2ggCJ9");
	assert_true(json_object_object_get_ex(o, "detail", &v));
	assert_string_equal(json_object_get_string(v), "");
	assert_string_equal(
	    json_object_to_json_string_ext(o,
	                                   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"stage\":\"summarize\",\"file\":\"in.jsonl\",\"line\":9,\"reason\":"
	    "\"bad_utf8\",\"detail\":\"\",\"id\":\"id1\",\"generation\":2,\"raw\":null,"
	    "\"raw_base64\":\"eyJhIjoi/+2ggCJ9\"}");
	json_object_put(o);
}

static void test_utf8_strict(void **state)
{
	assert_true(infty_utf8_valid("plain \xc3\xa9 \xf0\x9f\x98\x80", 13));
	assert_false(infty_utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(infty_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(infty_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(infty_utf8_valid("\xe2\x88", 2));         /* cut short */
	assert_int_equal(infty_utf8_seq_len("\xe2\x88\x91", 3), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shards_partition_ids),
	    cmocka_unit_test(test_progress_modes),
	    cmocka_unit_test(test_grow_and_alloc_seam),
	    cmocka_unit_test(test_read_all),
	    cmocka_unit_test(test_reject_records_stay_readable),
	    cmocka_unit_test(test_utf8_strict),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
