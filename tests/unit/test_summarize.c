/*
 * test_summarize.c - the infty-summarize engine pieces that need no server:
 * request layout and keys, the error classes for every server shape, response
 * handling (reasoning, tags, truncation), the extractive summarizer, and the
 * append-only cache across a torn tail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/summarize/sum.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *segs[] = {"First we set x = 2.", "Then y = x + 1 = 3.", "So the answer is 3."};
static size_t seg_len[] = {19, 19, 19};

static struct sum_trace_view view3(void)
{
	struct sum_trace_view v = {"What is y?", 3, segs, seg_len, NULL};
	return v;
}

static struct sum_prompts prompts(void)
{
	struct sum_prompts p = {infty_strdup("List it with '*'."),
	                        infty_strdup("Q={question} S={summary} G={segment}"), "sha256:x"};
	return p;
}

static const char *content(struct json_object *msgs, size_t k, const char *role)
{
	struct json_object *m = json_object_array_get_idx(msgs, k), *x;
	assert_non_null(m);
	assert_true(json_object_object_get_ex(m, "role", &x));
	assert_string_equal(json_object_get_string(x), role);
	assert_true(json_object_object_get_ex(m, "content", &x));
	return json_object_get_string(x);
}

static void cumulative_layout(void **state)
{
	(void)state;
	struct sum_trace_view v = view3();
	struct sum_prompts p = prompts();
	struct json_object *m = infty_sum_req_messages(&v, 1, SUM_MODE_CUMULATIVE, &p, NULL);
	assert_int_equal(json_object_array_length(m), 3);
	assert_string_equal(content(m, 0, "user"), "What is y?");
	assert_string_equal(content(m, 1, "assistant"),
	                    "First we set x = 2.\n\nThen y = x + 1 = 3.");
	assert_string_equal(content(m, 2, "user"), "List it with '*'.");
	json_object_put(m);
	/* update mode: segment 0 is the cumulative request, later ones the template */
	m = infty_sum_req_messages(&v, 0, SUM_MODE_UPDATE, &p, NULL);
	assert_int_equal(json_object_array_length(m), 3);
	json_object_put(m);
	m = infty_sum_req_messages(&v, 2, SUM_MODE_UPDATE, &p, "* x = 2");
	assert_int_equal(json_object_array_length(m), 1);
	assert_string_equal(content(m, 0, "user"), "Q=What is y? S=* x = 2 G=So the answer is 3.");
	json_object_put(m);
	infty_sum_prompts_release(&p);
}

static void key_ignores_max_tokens(void **state)
{
	(void)state;
	struct sum_config c;
	infty_sum_config_init(&c);
	c.model = "m";
	struct sum_trace_view v = view3();
	struct sum_prompts p = prompts();
	struct json_object *m = infty_sum_req_messages(&v, 0, SUM_MODE_CUMULATIVE, &p, NULL);
	char k1[72], k2[72], k3[72];
	char *b1, *b2;
	size_t l1, l2;
	assert_int_equal(infty_sum_req_build(&c, m, 4, k1, &b1, &l1), 0);
	c.max_tokens = 100;
	assert_int_equal(infty_sum_req_build(&c, m, 1, k2, &b2, &l2), 0);
	assert_string_equal(k1, k2);
	assert_non_null(strstr(b1, "\"n\":4"));
	assert_non_null(strstr(b1, "\"max_tokens\":2048"));
	assert_null(strstr(b2, "\"n\":"));
	assert_non_null(strstr(b2, "\"max_tokens\":100"));
	assert_int_equal(strlen(b1), l1);
	c.temperature = 0.7;
	assert_int_equal(infty_sum_req_build(&c, m, 4, k3, NULL, NULL), 0);
	assert_string_not_equal(k1, k3);
	assert_memory_equal(k1, "sha256:", 7);
	infty_free(b1);
	infty_free(b2);
	json_object_put(m);
	infty_sum_prompts_release(&p);
}

/* Classify a body with a status; returns the verdict (text released by caller). */
static struct sum_verdict cls(long status, const char *body)
{
	struct sum_config c;
	infty_sum_config_init(&c);
	struct sum_http_result r = {status, 0, body, strlen(body), -1, -1};
	struct sum_verdict v;
	assert_int_equal(infty_sum_classify(&r, &c, 0, &v), 0);
	return v;
}

static void error_shapes(void **state)
{
	(void)state;
	static const struct {
		long status;
		const char *body;
		enum sum_class cls;
		const char *reason;
	} t[] = {
	    {400,
	     "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens. "
	     "However, your messages resulted in 9412 "
	     "tokens.\",\"code\":\"context_length_exceeded\"}}",
	     SUM_PERMANENT, "context_overflow"},
	    {400,
	     "{\"error\":{\"message\":\"'max_tokens' is too large: 2048. This model's maximum "
	     "context length is 4096 tokens\",\"type\":\"BadRequestError\",\"code\":400}}",
	     SUM_PERMANENT, "context_overflow"},
	    {400,
	     "{\"error\":{\"code\":400,\"type\":\"exceed_context_size_error\",\"message\":"
	     "\"request (9412 tokens) exceeds the available context size (8192 tokens)\"}}",
	     SUM_PERMANENT, "context_overflow"},
	    {422,
	     "{\"error\":\"Input validation error: `inputs` tokens + `max_new_tokens` must be "
	     "<= 8192\",\"error_type\":\"validation\"}",
	     SUM_PERMANENT, "context_overflow"},
	    {400,
	     "{\"object\":\"error\",\"message\":\"The input is longer than the model's context "
	     "length\",\"type\":\"BadRequestError\",\"code\":400}",
	     SUM_PERMANENT, "context_overflow"},
	    {400,
	     "{\"error\":{\"message\":\"bad temperature\",\"type\":\"invalid_request_error\"}}",
	     SUM_PERMANENT, "bad_request"},
	    {401, "{\"error\":{\"message\":\"Incorrect API key\"}}", SUM_FATAL, "auth"},
	    {403, "", SUM_FATAL, "auth"},
	    {404, "{\"error\":{\"message\":\"The model `x` does not exist.\",\"code\":404}}",
	     SUM_FATAL, "unknown_model"},
	    {429, "{\"error\":{\"message\":\"quota\",\"code\":\"insufficient_quota\"}}", SUM_FATAL,
	     "insufficient_quota"},
	    {429, "{\"error\":{\"message\":\"Rate limit\",\"code\":\"rate_limit_exceeded\"}}",
	     SUM_RETRY, "rate_limited"},
	    {503, "{\"error\":{\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}",
	     SUM_RETRY, "overloaded"},
	    {500, "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}", SUM_RETRY,
	     "server_error"},
	    {502, "<html><body>502 Bad Gateway</body></html>", SUM_RETRY, "gateway_error"},
	    {424, "{\"error\":\"GenerationError\"}", SUM_RETRY, "server_error"},
	    {200, "{\"choices\": [", SUM_RETRY, "malformed_response"},
	    {200, "<html>proxy</html>", SUM_RETRY, "malformed_response"},
	    {200, "{\"choices\":[]}", SUM_RETRY, "malformed_response"},
	    {200, "{\"error\":{\"message\":\"EngineCore died\"}}", SUM_RETRY, "error_in_body"},
	};
	for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
		struct sum_verdict v = cls(t[k].status, t[k].body);
		if (v.cls != t[k].cls || strcmp(v.reason, t[k].reason))
			fail_msg("case %zu: got %s/%s, want %s/%s", k, infty_sum_class_name(v.cls),
			         v.reason, infty_sum_class_name(t[k].cls), t[k].reason);
		infty_sum_verdict_release(&v);
	}
	struct sum_verdict v = cls(429, "{}");
	assert_true(v.throttle);
	/* x-should-retry: false turns a retryable answer into a permanent one */
	struct sum_config c;
	infty_sum_config_init(&c);
	struct sum_http_result r = {500, 0, "{}", 2, 3.5, 0};
	assert_int_equal(infty_sum_classify(&r, &c, 0, &v), 0);
	assert_int_equal(v.cls, SUM_PERMANENT);
	assert_true(v.retry_after == 3.5);
	/* transport failures are retried */
	struct sum_http_result t2 = {0, 28 /* CURLE_OPERATION_TIMEDOUT */, "", 0, -1, -1};
	assert_int_equal(infty_sum_classify(&t2, &c, 0, &v), 0);
	assert_int_equal(v.cls, SUM_RETRY);
	assert_string_equal(v.reason, "timeout");
}

#define CHOICE(content, extra, fr)                                                                 \
	"{\"message\":{\"role\":\"assistant\",\"content\":" content extra                          \
	"},\"finish_reason\":\"" fr "\"}"

static void responses(void **state)
{
	(void)state;
	struct sum_verdict v =
	    cls(200, "{\"choices\":[" CHOICE(
	                 "\"* a\\n* b\"", "",
	                 "stop") "],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":7}}");
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* a\n* b");
	assert_int_equal(v.prompt_tokens, 50);
	assert_int_equal(v.choice_tokens, 7);
	infty_sum_verdict_release(&v);

	/* first choice cut by length, second one accepted */
	v = cls(200, "{\"choices\":[" CHOICE("\"* cut\"", "", "length") "," CHOICE("\"* ok\"", "",
	                                                                           "stop") "]}");
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* ok");
	infty_sum_verdict_release(&v);

	/* only length: rejected, the engine tries more candidates */
	v = cls(200, "{\"choices\":[" CHOICE("\"* cut\"", "", "length") "]}");
	assert_int_equal(v.cls, SUM_REJECT);
	assert_string_equal(v.reason, "length");
	assert_int_equal(v.choices, 1);

	/* reasoning fields and a leading <think> are stripped and counted */
	v = cls(200, "{\"choices\":[" CHOICE("\"* r\"", ",\"reasoning\":\"abcdefghabcdefgh\"",
	                                     "stop") "]}");
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* r");
	assert_true(v.reasoning_tokens > 0);
	infty_sum_verdict_release(&v);
	v = cls(200, "{\"choices\":[" CHOICE("\"* r\"", ",\"reasoning_content\":\"abcdefgh\"",
	                                     "stop") "]}");
	assert_true(v.reasoning_tokens > 0);
	infty_sum_verdict_release(&v);
	v = cls(200, "{\"choices\":[" CHOICE("\"<think>\\nhmm hmm hmm\\n</think>\\n\\n* t\"", "",
	                                     "stop") "]}");
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* t");
	assert_true(v.reasoning_tokens > 0);
	infty_sum_verdict_release(&v);

	/* tags and empty summaries are refused */
	v = cls(200, "{\"choices\":[" CHOICE("\"<summary>* x</summary>\"", "", "stop") "]}");
	assert_int_equal(v.cls, SUM_REJECT);
	assert_string_equal(v.reason, "tag_in_summary");
	v = cls(200, "{\"choices\":[" CHOICE("\"  \\n \"", "", "stop") "]}");
	assert_string_equal(v.reason, "empty_summary");
	v = cls(200, "{\"choices\":[" CHOICE("null", "", "stop") "]}");
	assert_int_equal(v.cls, SUM_REJECT);

	/* silent truncation: prompt_tokens far below our count */
	struct sum_config c;
	infty_sum_config_init(&c);
	const char *b = "{\"choices\":[" CHOICE(
	    "\"* a\"", "", "stop") "],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":3}}";
	struct sum_http_result r = {200, 0, b, strlen(b), -1, -1};
	assert_int_equal(infty_sum_classify(&r, &c, 1000, &v), 0);
	assert_int_equal(v.cls, SUM_PERMANENT);
	assert_string_equal(v.reason, "prompt_truncated");
	assert_int_equal(infty_sum_classify(&r, &c, 105, &v), 0);
	assert_int_equal(v.cls, SUM_OK);
	infty_sum_verdict_release(&v);
}

static void validate_and_redact(void **state)
{
	(void)state;
	assert_null(infty_sum_validate("* ok", 4, 100));
	assert_string_equal(infty_sum_validate("* ok", 4, 3), "summary_too_long");
	assert_string_equal(infty_sum_validate("a <history> b", 13, 100), "tag_in_summary");
	assert_string_equal(infty_sum_validate("\n\t ", 3, 100), "empty_summary");
	char s[] = "key sk-secret123 and sk-secret123!";
	infty_sum_redact(s, "sk-secret123");
	assert_string_equal(s, "key ************ and ************!");
}

static void extractive(void **state)
{
	(void)state;
	struct sum_trace_view v = view3();
	char *a = infty_sum_extractive(&v, 1, 512);
	char *b = infty_sum_extractive(&v, 1, 512);
	assert_non_null(a);
	assert_string_equal(a, b); /* deterministic */
	assert_string_equal(a, "* First we set x = 2.\n* Then y = x + 1 = 3.");
	assert_null(infty_sum_validate(a, strlen(a), 16384));
	infty_free(a);
	infty_free(b);
	/* a tight budget keeps the best-scoring bullet (an equation beats prose) */
	a = infty_sum_extractive(&v, 2, 8);
	assert_string_equal(a, "* Then y = x + 1 = 3.");
	infty_free(a);
	/* nothing that looks like progress: still one bullet, never empty */
	const char *s2[] = {"Hmm, what should I try first here?"};
	size_t l2[] = {strlen(s2[0])};
	struct sum_trace_view w = {"Q", 1, s2, l2, NULL};
	a = infty_sum_extractive(&w, 0, 512);
	assert_string_equal(a, "* Hmm, what should I try first here?");
	infty_free(a);
}

static void cache_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_summarize.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], detail[256];
	snprintf(path, sizeof path, "%s/cache.jsonl.zst", dir);
	struct sum_cache *c;
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	struct sum_cache_entry e = {"* one", "stop", 10, 2, 2, 0, 1};
	assert_int_equal(infty_sum_cache_put(c, "k1", &e), 0);
	assert_int_equal(infty_sum_cache_flush(c), 0);
	e.text = "* two";
	assert_int_equal(infty_sum_cache_put(c, "k2", &e), 0);
	assert_int_equal(infty_sum_cache_close(c), 0);

	/* a torn tail (a kill in the middle of a frame) is dropped, not fatal */
	FILE *f = fopen(path, "ab");
	assert_non_null(f);
	fwrite("\x28\xb5\x2f\xfd\x00", 1, 5, f);
	fclose(f);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	assert_int_equal(infty_sum_cache_loaded(c), 2);
	const struct sum_cache_entry *g = infty_sum_cache_get(c, "k2");
	assert_non_null(g);
	assert_string_equal(g->text, "* two");
	assert_int_equal(g->prompt_tokens, 10);
	assert_null(infty_sum_cache_get(c, "k3"));
	e.text = "* three";
	assert_int_equal(infty_sum_cache_put(c, "k3", &e), 0);
	assert_int_equal(infty_sum_cache_close(c), 0);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	assert_int_equal(infty_sum_cache_loaded(c), 3);
	assert_string_equal(infty_sum_cache_get(c, "k1")->text, "* one");
	assert_int_equal(infty_sum_cache_close(c), 0);
	unlink(path);
	rmdir(dir);
}

static char *sse_body(const char *events, size_t step)
{
	struct sum_sse *s = infty_sum_sse_new();
	assert_non_null(s);
	size_t n = strlen(events), len;
	for (size_t k = 0; k < n; k += step)
		assert_int_equal(infty_sum_sse_feed(s, events + k, k + step > n ? n - k : step), 0);
	char *b = infty_sum_sse_body(s, &len);
	assert_non_null(b);
	assert_int_equal(strlen(b), len);
	infty_sum_sse_free(s);
	return b;
}

static void sse_streams(void **state)
{
	(void)state;
	const char *ev =
	    ": keep-alive comment\n"
	    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
	    "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm \"}}]}\n\n"
	    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"* a \\u00e9\"}}]}\n\n"
	    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" b\"},"
	    "\"finish_reason\":\"stop\"}]}\n\n"
	    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":4}}\n\n"
	    "data: [DONE]\n\n";
	char *whole = sse_body(ev, 1 << 20);
	for (size_t step = 1; step < 9; step++) { /* any split of the bytes gives the same */
		char *b = sse_body(ev, step);
		assert_string_equal(b, whole);
		infty_free(b);
	}
	struct sum_config c;
	infty_sum_config_init(&c);
	struct sum_http_result r = {200, 0, whole, strlen(whole), -1, -1};
	struct sum_verdict v;
	assert_int_equal(infty_sum_classify(&r, &c, 0, &v), 0);
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* a \xc3\xa9 b");
	assert_int_equal(v.prompt_tokens, 40);
	assert_true(v.reasoning_tokens > 0);
	infty_sum_verdict_release(&v);
	infty_free(whole);

	/* cut before its finish_reason: never accepted */
	char *cut =
	    sse_body("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"* a\"}}]}\n", 3);
	struct sum_http_result r2 = {200, 0, cut, strlen(cut), -1, -1};
	assert_int_equal(infty_sum_classify(&r2, &c, 0, &v), 0);
	assert_int_equal(v.cls, SUM_REJECT);
	infty_free(cut);
	/* an error event becomes the body */
	char *err = sse_body("data: {\"error\":{\"message\":\"EngineDeadError\"}}\n\n", 5);
	struct sum_http_result r3 = {200, 0, err, strlen(err), -1, -1};
	assert_int_equal(infty_sum_classify(&r3, &c, 0, &v), 0);
	assert_string_equal(v.reason, "error_in_body");
	infty_free(err);
}

static void alloc_failure(void **state)
{
	(void)state;
	struct sum_trace_view v = view3();
	/* every early allocation failing must give NULL, never a crash or a leak */
	for (long n = 0; n < 12; n++) {
		infty_alloc_fail_after(n);
		char *a = infty_sum_extractive(&v, 2, 512);
		infty_alloc_fail_after(-1);
		infty_free(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cumulative_layout),   cmocka_unit_test(key_ignores_max_tokens),
	    cmocka_unit_test(error_shapes),        cmocka_unit_test(responses),
	    cmocka_unit_test(validate_and_redact), cmocka_unit_test(extractive),
	    cmocka_unit_test(cache_roundtrip),     cmocka_unit_test(alloc_failure),
	    cmocka_unit_test(sse_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
