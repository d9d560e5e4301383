/*
 * test_json_write.c - our serializer must produce exactly json-c's compact
 * form (PLAIN | NOSLASHESCAPE) on every value, including real records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "infty/json_write.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_same(struct json_object *o)
{
	struct infty_buf b = {0};
	assert_int_equal(infty_json_write(&b, o), 0);
	size_t len;
	const char *want = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (b.len != len || memcmp(b.data, want, len) != 0)
		fail_msg("differs:\n ours: %.200s\n json-c: %.200s", b.data, want);
	infty_buf_release(&b);
}

static void test_matches_json_c_on_edge_cases(void **state)
{
	const char *texts[] = {
	    "{}",
	    "{\"a\":[]}",
	    "{\"s\":\"plain ascii long enough to take the eight byte path\"}",
	    "{\"s\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r\"}",
	    "{\"s\":\"ctl \\u0001\\u001f \\b \\f \\u007f\"}",
	    "{\"s\":\"caf\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80 \\u2028\"}",
	    "{\"n\":-12,\"f\":0.5,\"e\":1e300,\"t\":true,\"F\":false,\"z\":null}",
	    "{\"nested\":{\"a\":[1,[2,{\"b\":\"c\"}]],\"k\\\"ey\":\"v\"}}",
	    "{\"s\":\"x\\\\\\\\\\\"\\\"\\n\\n\\n\"}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		struct json_object *o = json_tokener_parse(texts[i]);
		assert_non_null(o);
		check_same(o);
		json_object_put(o);
	}
}

/* Random strings over every byte that escapes differently, at every offset
 * from the 8-byte steps: same bytes as json-c. */
static void test_matches_json_c_on_random_strings(void **state)
{
	(void)state;
	static const char *atoms[] = {
	    "a",
	    "Z",
	    " ",
	    "/",
	    "\"",
	    "\\",
	    "\n",
	    "\r",
	    "\t",
	    "\b",
	    "\f",
	    "\x7f",
	    "\xc3\xa9",
	    "\xe2\x88\x91",
	    "\xf0\x9f\x98\x80",
	    "\x01",
	    "\x1f",
	    "\x1b",
	    "$x$",
	    "abcdefgh",
	};
	uint64_t x = 0x2545F4914F6CDD1DULL;
	char buf[400];
	for (int t = 0; t < 20000; t++) {
		size_t n = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t want = x % 120;
		while (n < want) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			const char *a = atoms[x % (sizeof atoms / sizeof *atoms)];
			size_t l = strlen(a);
			memcpy(buf + n, a, l);
			n += l;
		}
		if (t % 7 == 0 && n)
			buf[x % n] = '\0'; /* an embedded NUL: \u0000 */
		struct json_object *o = json_object_new_string_len(buf, (int)n);
		assert_non_null(o);
		check_same(o);
		json_object_put(o);
	}
}

static void test_matches_json_c_on_real_records(void **state)
{
	const char *shared = getenv("INFTY_SHARED");
	char path[512];
	snprintf(path, sizeof path, "%s/data/corpus/reasoning_traces.jsonl.zst",
	         shared ? shared : "../shared");
	struct infty_reader *r;
	if (infty_reader_open(&r, path, 0, NULL, 0) != 0) {
		/* cmocka's skip() prints "not ok # SKIP", which prove counts as a
		 * failure; say so visibly and pass instead. */
		print_message("# SKIP %s absent: real-record comparison not run\n", path);
		return;
	}
	int n = 0;
	struct json_object *o;
	uint64_t ln;
	while (n < 300 && infty_reader_next(r, &o, &ln) == 1) {
		check_same(o);
		json_object_put(o);
		n++;
	}
	infty_reader_free(r);
	assert_int_equal(n, 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matches_json_c_on_edge_cases),
	    cmocka_unit_test(test_matches_json_c_on_random_strings),
	    cmocka_unit_test(test_matches_json_c_on_real_records),
	};
	return cmocka_run_group_tests_name("json_write", tests, NULL, NULL);
}
