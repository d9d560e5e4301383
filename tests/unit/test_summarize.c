/*
 * test_summarize.c - the infty-summarize engine pieces that need no server:
 * request layout and keys, the error classes for every server shape, response
 * handling (reasoning, tags, truncation), the extractive summarizer (linear,
 * and equal to the quadratic reference it replaced), incremental keys, and
 * the append-only cache across torn and damaged frames, failures and two
 * concurrent writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/summarize/sum.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "scratch.h"

#include <json.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
	assert_int_equal(infty_sum_classify(&r, &c, 0, 0, &v), 0);
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
	assert_int_equal(infty_sum_classify(&r, &c, 0, 0, &v), 0);
	assert_int_equal(v.cls, SUM_PERMANENT);
	assert_true(v.retry_after == 3.5);
	/* transport failures are retried */
	struct sum_http_result t2 = {0, 28 /* CURLE_OPERATION_TIMEDOUT */, "", 0, -1, -1};
	assert_int_equal(infty_sum_classify(&t2, &c, 0, 0, &v), 0);
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
	assert_int_equal(infty_sum_classify(&r, &c, 1000, 0, &v), 0);
	assert_int_equal(v.cls, SUM_PERMANENT);
	assert_string_equal(v.reason, "prompt_truncated");
	assert_int_equal(infty_sum_classify(&r, &c, 105, 0, &v), 0);
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
	const char *path = scratch_path("roundtrip.jsonl.zst");
	char detail[256];
	struct sum_cache *c;
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	struct sum_cache_entry e = {.text = "* one",
	                            .finish_reason = "stop",
	                            .prompt_tokens = 10,
	                            .completion_tokens = 2,
	                            .choice_tokens = 2,
	                            .attempts = 1};
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
	assert_int_equal(infty_sum_classify(&r, &c, 0, 0, &v), 0);
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
	assert_int_equal(infty_sum_classify(&r2, &c, 0, 0, &v), 0);
	assert_int_equal(v.cls, SUM_REJECT);
	infty_free(cut);
	/* an error event becomes the body */
	char *err = sse_body("data: {\"error\":{\"message\":\"EngineDeadError\"}}\n\n", 5);
	struct sum_http_result r3 = {200, 0, err, strlen(err), -1, -1};
	assert_int_equal(infty_sum_classify(&r3, &c, 0, 0, &v), 0);
	assert_string_equal(v.reason, "error_in_body");
	infty_free(err);
}

/* ---- incremental keys ------------------------------------------------------ */

static void keyer_matches_full_key(void **state)
{
	(void)state;
	struct sum_config c;
	infty_sum_config_init(&c);
	c.model = "Qwen/\"odd\" model\\name";
	struct sum_prompts p = prompts();
	/* Quotes, backslashes, control characters, slashes, UTF-8 and an empty segment. */
	const char *sg[] = {"a \"quoted\" \\ back/slash\n", "", "tab\there \x01\x1f ctl",
	                    "\xc3\xa9t\xc3\xa9 \xe2\x88\x91 x_{k}", "</think> end\r\n"};
	size_t sl[5];
	for (int k = 0; k < 5; k++)
		sl[k] = strlen(sg[k]);
	struct sum_trace_view v = {"Q: \"why\"\n\x02?", 5, sg, sl, NULL};
	struct sum_keyparts kp;
	struct sum_keyer k;
	assert_int_equal(infty_sum_keyparts_init(&kp, &c, &p), 0);
	assert_int_equal(infty_sum_keyer_begin(&k, &kp, v.question), 0);
	for (size_t i = 0; i < 5; i++) {
		char want[72], got[72];
		struct json_object *m =
		    infty_sum_req_messages(&v, i, SUM_MODE_CUMULATIVE, &p, NULL);
		assert_int_equal(infty_sum_req_build(&c, m, 4, want, NULL, NULL), 0);
		json_object_put(m);
		assert_int_equal(infty_sum_keyer_key(&k, &kp, &v, i, got), 0);
		assert_string_equal(got, want);
		/* asking the same i again gives the same key */
		assert_int_equal(infty_sum_keyer_key(&k, &kp, &v, i, got), 0);
		assert_string_equal(got, want);
	}
	char got[72];
	assert_int_equal(infty_sum_keyer_key(&k, &kp, &v, 1, got), INFTY_EINVAL);
	infty_sum_keyparts_release(&kp);
	infty_sum_prompts_release(&p);
}

/* ---- extractive: linear, and the same as the quadratic reference ----------- */

/* The summarizer as it was (a fresh greedy pass over segments 0..i). */
struct rsent {
	const char *s;
	size_t len, order;
	int score, picked;
};

static int rscore(const char *s, size_t len)
{
	/* The same scoring, reached through the public function on one bullet. */
	(void)s, (void)len;
	return 0;
}

static int by_rank(const void *x, const void *y)
{
	const struct rsent *a = *(struct rsent *const *)x, *b = *(struct rsent *const *)y;
	if (a->score != b->score)
		return b->score - a->score;
	return a->order < b->order ? 1 : -1;
}

/*
 * Reference: the summary of 0..i from the one-segment summaries' building
 * blocks.  Sentences and scores come from the library's own splitter run on
 * each segment alone (an extractive summary of one segment with a huge
 * budget lists every sentence with score > 0 ... not the scores), so the
 * reference re-derives them here exactly as the old code did.
 */
static int ref_starts_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && !strncasecmp(s, w, n);
}

static int ref_contains_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	for (size_t k = 0; k + n <= len; k++)
		if (!strncasecmp(s + k, w, n))
			return 1;
	return 0;
}

static int ref_score(const char *s, size_t len)
{
	static const char *const concl[] = {"therefore", "thus",        "hence",    "so the",
	                                    "we get",    "which gives", "gives",    "means",
	                                    "answer",    "result",      "conclude", "total",
	                                    "solution",  "equals",      "is equal"};
	static const char *const explore[] = {"wait", "hmm",   "let me",  "alternatively",
	                                      "but ", "maybe", "perhaps", "i think",
	                                      "okay", "ok,",   "oh"};
	int sc = 0;
	if (memchr(s, '=', len))
		sc += 3;
	for (size_t k = 0; k < sizeof concl / sizeof *concl; k++)
		if (ref_contains_ci(s, len, concl[k])) {
			sc += 2;
			break;
		}
	for (size_t k = 0; k < len; k++)
		if (isdigit((unsigned char)s[k])) {
			sc += 1;
			break;
		}
	for (size_t k = 0; k < sizeof explore / sizeof *explore; k++)
		if (ref_starts_ci(s, len, explore[k])) {
			sc -= 2;
			break;
		}
	if (s[len - 1] == '?')
		sc -= 2;
	return sc;
}

static void ref_split(const char *text, size_t len, struct rsent *v, size_t *n)
{
	size_t a = 0;
	for (size_t k = 0; k <= len; k++) {
		int cut = k == len || text[k] == '\n';
		size_t end = k;
		if (!cut && (text[k] == '.' || text[k] == '!' || text[k] == '?') && k + 2 < len &&
		    text[k + 1] == ' ' && isupper((unsigned char)text[k + 2])) {
			cut = 1;
			end = k + 1;
		}
		if (!cut)
			continue;
		size_t b = a, e = end;
		while (b < e && isspace((unsigned char)text[b]))
			b++;
		while (e > b && isspace((unsigned char)text[e - 1]))
			e--;
		if (e - b >= 12 && e - b <= 400 && !infty_sum_validate(text + b, e - b, 400)) {
			v[*n] = (struct rsent){text + b, e - b, *n, ref_score(text + b, e - b), 0};
			(*n)++;
		}
		a = end;
	}
}

static char *ref_extractive(const struct sum_trace_view *t, size_t i, long budget)
{
	size_t cap = 0;
	for (size_t k = 0; k <= i; k++)
		cap += t->seg_len[k] + 1;
	struct rsent *v = calloc(cap, sizeof *v);
	struct rsent **rank = calloc(cap, sizeof *rank);
	size_t n = 0, m = 0;
	for (size_t k = 0; k <= i; k++)
		ref_split(t->seg[k], t->seg_len[k], v, &n);
	for (size_t k = 0; k < n; k++)
		if (v[k].score > 0)
			rank[m++] = &v[k];
	qsort(rank, m, sizeof *rank, by_rank);
	long used = 0;
	for (size_t k = 0; k < m; k++) {
		long cost = infty_sum_count_tokens(rank[k]->s, rank[k]->len) + 2;
		if (used + cost > budget)
			continue;
		rank[k]->picked = 1;
		used += cost;
	}
	if (!used && n)
		v[n - 1].picked = 1;
	char *out = calloc(cap * 2 + 64, 1);
	size_t len = 0;
	for (size_t k = 0; k < n; k++) {
		if (!v[k].picked)
			continue;
		if (len)
			out[len++] = '\n';
		out[len++] = '*';
		out[len++] = ' ';
		for (size_t c = 0; c < v[k].len; c++)
			out[len++] = v[k].s[c] == '\t' ? ' ' : v[k].s[c];
	}
	if (!len)
		strcpy(out, "* (no statement found in the reasoning so far)");
	free(rank);
	free(v);
	return out;
}

/* A segment of random sentences: equations, conclusions, digits, doubts, questions. */
static char *random_segment(unsigned *seed, size_t nsent)
{
	static const char *const parts[] = {"We get x = 3",
	                                    "Therefore the total is 12",
	                                    "Wait, that is wrong",
	                                    "Hmm, let me redo it",
	                                    "Is it really 7?",
	                                    "So the answer is 42",
	                                    "Thus a = b + c",
	                                    "Maybe try small cases first",
	                                    "The sum equals 2n + 1",
	                                    "Consider the triangle ABC with sides given",
	                                    "Alternatively use induction on n",
	                                    "Hence 5 divides the product",
	                                    "This means the result is 9",
	                                    "ok, fine"};
	size_t cap = nsent * 120 + 1, len = 0;
	char *s = malloc(cap);
	for (size_t k = 0; k < nsent; k++) {
		const char *p = parts[rand_r(seed) % (sizeof parts / sizeof *parts)];
		int rep = 1 + rand_r(seed) % 4;
		for (int r = 0; r < rep && len + strlen(p) + 4 < cap; r++) {
			memcpy(s + len, p, strlen(p));
			len += strlen(p);
			s[len++] = ' ';
		}
		s[len - 1] = rand_r(seed) % 3 ? '.' : '\n';
		s[len++] = rand_r(seed) % 2 ? ' ' : '\n';
	}
	s[len] = '\0';
	return s;
}

static void extractive_incremental(void **state)
{
	(void)state;
	(void)rscore;
	unsigned seed = 7;
	for (int trial = 0; trial < 20; trial++) {
		size_t n = 1 + (size_t)(rand_r(&seed) % 12);
		char **sg = calloc(n, sizeof *sg);
		size_t *sl = calloc(n, sizeof *sl);
		for (size_t k = 0; k < n; k++) {
			sg[k] = random_segment(&seed, 1 + (size_t)(rand_r(&seed) % 30));
			sl[k] = strlen(sg[k]);
		}
		struct sum_trace_view v = {"Q", n, (const char **)sg, sl, NULL};
		long budget = trial % 3 == 0 ? 8 : trial % 3 == 1 ? 64 : 512;
		struct sum_extractive *x = infty_sum_extractive_new(budget);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(infty_sum_extractive_add(x, sg[i], sl[i]), 0);
			char *got = infty_sum_extractive_text(x);
			char *want = ref_extractive(&v, i, budget);
			assert_string_equal(got, want);
			infty_free(got);
			free(want);
		}
		infty_sum_extractive_free(x);
		for (size_t k = 0; k < n; k++)
			free(sg[k]);
		free(sg);
		free(sl);
	}
}

/* Seconds to make every summary of an n-segment trace. */
static double extractive_all(size_t n, const char *seg, size_t len)
{
	struct sum_extractive *x = infty_sum_extractive_new(512);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(infty_sum_extractive_add(x, seg, len), 0);
		char *t = infty_sum_extractive_text(x);
		assert_non_null(t);
		total += strlen(t);
		infty_free(t);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(total > n);
	infty_sum_extractive_free(x);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/*
 * The shape of the 100 MB row that never finished (21,505 segments): the
 * work must grow linearly with the segments.  Twice the segments take about
 * twice the time; the quadratic version took four times.  A ratio, not a
 * time, so a slow machine or a sanitizer build does not change the verdict.
 */
static void extractive_huge_trace(void **state)
{
	(void)state;
	unsigned seed = 11;
	char *seg = random_segment(&seed, 40);
	size_t len = strlen(seg);
	double t1 = extractive_all(5000, seg, len), t2 = extractive_all(10000, seg, len);
	double t4 = extractive_all(20000, seg, len);
	printf("# extractive: 5k, 10k, 20k segments in %.2f, %.2f, %.2f s\n", t1, t2, t4);
	/* Linear: t4/t1 about 4; quadratic: about 16. */
	assert_true(t4 < 8 * t1);
	free(seg);
}

/* ---- cache: failures, damage anywhere, two writers -------------------------- */

static struct sum_cache_entry ok_entry(const char *text)
{
	struct sum_cache_entry e = {.text = (char *)text,
	                            .finish_reason = "stop",
	                            .prompt_tokens = 10,
	                            .completion_tokens = 2,
	                            .choice_tokens = 2,
	                            .attempts = 1};
	return e;
}

/* The choice check: a summary passed over for the next, the judge's answer unvalidated. */
static const char *skip_first(void *ctx, const char *text, size_t len, long rt)
{
	(void)len;
	(void)rt;
	int *calls = ctx;
	(*calls)++;
	return !strncmp(text, "* bad", 5) ? "quality_leak" : NULL;
}

static void choice_check(void **state)
{
	(void)state;
	struct sum_config c;
	infty_sum_config_init(&c);
	int calls = 0;
	struct sum_choice_check chk = {skip_first, &calls, 0};
	const char *b = "{\"choices\":[" CHOICE("\"* bad one\"", "", "stop") "," CHOICE(
	    "\"* good one\"", "", "stop") "]}";
	struct sum_http_result r = {200, 0, b, strlen(b), -1, -1};
	struct sum_verdict v;
	assert_int_equal(infty_sum_classify_with(&r, &c, 0, 0, &chk, &v), 0);
	assert_int_equal(v.cls, SUM_OK);
	assert_string_equal(v.text, "* good one");
	assert_int_equal(v.passed_over, 1);
	assert_int_equal(calls, 2);
	infty_sum_verdict_release(&v);
	/* Every choice passed over: rejected with the check's reason. */
	b = "{\"choices\":[" CHOICE("\"* bad\"", "", "stop") "]}";
	r = (struct sum_http_result){200, 0, b, strlen(b), -1, -1};
	assert_int_equal(infty_sum_classify_with(&r, &c, 0, 0, &chk, &v), 0);
	assert_int_equal(v.cls, SUM_REJECT);
	assert_string_equal(v.reason, "quality_leak");
	/* An invalid choice never reaches the check; raw (a judge) skips validation. */
	calls = 0;
	b = "{\"choices\":[" CHOICE("\"<summary>{}</summary>\"", "", "stop") "]}";
	r = (struct sum_http_result){200, 0, b, strlen(b), -1, -1};
	assert_int_equal(infty_sum_classify_with(&r, &c, 0, 0, &chk, &v), 0);
	assert_string_equal(v.reason, "tag_in_summary");
	assert_int_equal(calls, 0);
	chk.raw = 1;
	assert_int_equal(infty_sum_classify_with(&r, &c, 0, 0, &chk, &v), 0);
	assert_int_equal(v.cls, SUM_OK);
	assert_int_equal(calls, 1);
	infty_sum_verdict_release(&v);
}

static void judge_answers(void **state)
{
	(void)state;
	struct sum_judge_score sc;
	const char *a = "{\"progress\": 5, \"grounded\": 3, \"no_answer\": 4, \"self_contained\": "
	                "5, \"feedback\": \"drop 17\"}";
	assert_int_equal(infty_sum_judge_parse(a, strlen(a), &sc), 0);
	assert_int_equal(sc.score, 3);
	assert_int_equal(sc.rubric[1], 3);
	assert_string_equal(sc.feedback, "drop 17");
	/* In a code fence after a sentence; grades as strings and 4.0; no feedback. */
	a = "Sure.\n```json\n{\"progress\": \"4\", \"grounded\": 4.0, \"no_answer\": 5, "
	    "\"self_contained\": 5}\n```";
	assert_int_equal(infty_sum_judge_parse(a, strlen(a), &sc), 0);
	assert_int_equal(sc.score, 4);
	assert_string_equal(sc.feedback, "");
	/* Not the rubric: prose, a missing criterion, a grade out of range or not whole. */
	static const char *const bad[] = {
	    "The summary is fine.",
	    "{\"progress\": 5, \"grounded\": 5, \"no_answer\": 5}",
	    "{\"progress\": 6, \"grounded\": 5, \"no_answer\": 5, \"self_contained\": 5}",
	    "{\"progress\": 4.5, \"grounded\": 5, \"no_answer\": 5, \"self_contained\": 5}",
	    "{\"progress\": 5, \"grounded\": 5, \"no_answer\": 5, \"self_contained\": 5} and {}",
	    "[5, 5, 5, 5]",
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		assert_int_equal(infty_sum_judge_parse(bad[k], strlen(bad[k]), &sc), INFTY_EJSON);
		assert_int_equal(sc.score, 0);
	}
	/* A long feedback is cut on a character boundary. */
	char big[2048];
	int n = snprintf(big, sizeof big,
	                 "{\"progress\": 1, \"grounded\": 1, \"no_answer\": 1, \"self_contained\": "
	                 "1, \"feedback\": \"");
	for (int k = 0; k < 400; k++)
		n += snprintf(big + n, sizeof big - (size_t)n, "\xc3\xa9");
	snprintf(big + n, sizeof big - (size_t)n, "\"}");
	assert_int_equal(infty_sum_judge_parse(big, strlen(big), &sc), 0);
	assert_int_equal(sc.score, 1);
	assert_true(strlen(sc.feedback) < sizeof sc.feedback);
	assert_int_equal(strlen(sc.feedback) % 2, 0);
}

static void judge_requests(void **state)
{
	(void)state;
	struct sum_trace_view v = view3();
	struct sum_judge_prompts p = {infty_strdup("Grade:\nSUMMARY TO GRADE\n{summary}\nEND"),
	                              infty_strdup("Fix: {feedback}"), "sha256:j", "sha256:r"};
	struct json_object *m = infty_sum_judge_messages(&v, 1, &p, "* y = 3");
	assert_non_null(m);
	/* The summary request's prefix, then the judge's turn. */
	assert_int_equal(json_object_array_length(m), 3);
	assert_string_equal(content(m, 0, "user"), "What is y?");
	assert_string_equal(content(m, 1, "assistant"),
	                    "First we set x = 2.\n\nThen y = x + 1 = 3.");
	assert_string_equal(content(m, 2, "user"), "Grade:\nSUMMARY TO GRADE\n* y = 3\nEND");
	assert_int_equal(infty_sum_refine_append(m, &p, "* y = 3", "say why"), 0);
	assert_int_equal(json_object_array_length(m), 5);
	assert_string_equal(content(m, 3, "assistant"), "* y = 3");
	assert_string_equal(content(m, 4, "user"), "Fix: say why");
	json_object_put(m);

	/* Chain keys name question and segments 0..i: equal inputs, equal keys. */
	struct sum_config c;
	infty_sum_config_init(&c);
	c.model = "judge";
	unsigned char ch[3][32], h[32];
	infty_sum_judge_chain_begin(h, v.question);
	for (size_t k = 0; k < 3; k++) {
		infty_sum_judge_chain_next(h, segs[k], seg_len[k]);
		memcpy(ch[k], h, 32);
	}
	char k1[72], k2[72], k3[72];
	infty_sum_judge_key(&c, &p, ch[1], "* y = 3", k1);
	infty_sum_judge_key(&c, &p, ch[1], "* y = 3", k2);
	assert_string_equal(k1, k2);
	assert_memory_equal(k1, "sha256:", 7);
	infty_sum_judge_key(&c, &p, ch[0], "* y = 3", k2);
	assert_string_not_equal(k1, k2);
	infty_sum_judge_key(&c, &p, ch[1], "* y = 4", k2);
	assert_string_not_equal(k1, k2);
	c.model = "other";
	infty_sum_judge_key(&c, &p, ch[1], "* y = 3", k2);
	assert_string_not_equal(k1, k2);
	/* The chain depends on the order and the split of the segments. */
	infty_sum_judge_chain_begin(h, v.question);
	infty_sum_judge_chain_next(h, "First we set x = 2.Then y", 25);
	infty_sum_judge_chain_next(h, " = x + 1 = 3.", 13);
	assert_memory_not_equal(h, ch[1], 32);
	/* Refine keys: the summary request's key, summary and feedback. */
	infty_sum_refine_key(&p, "sha256:a", "* s", "f", k1);
	infty_sum_refine_key(&p, "sha256:a", "* s", "g", k2);
	infty_sum_refine_key(&p, "sha256:b", "* s", "f", k3);
	assert_string_not_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	/* Field boundaries count: ("* s", "f") is not ("* sf", ""). */
	infty_sum_refine_key(&p, "sha256:a", "* sf", "", k2);
	assert_string_not_equal(k1, k2);
	infty_sum_judge_prompts_release(&p);

	/* The prompts must hold their placeholder. */
	char dir[512], path[600], detail[256];
	snprintf(dir, sizeof dir, "%s", scratch_path("judge-prompts"));
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/refine.txt", dir);
	scratch_write(path, "Again: {feedback}\n", strlen("Again: {feedback}\n"));
	snprintf(path, sizeof path, "%s/judge.txt", dir);
	scratch_write(path, "Grade it.\n", strlen("Grade it.\n"));
	assert_int_equal(infty_sum_judge_prompts_load(&p, dir, detail, sizeof detail),
	                 INFTY_EINVAL);
	assert_non_null(strstr(detail, "{summary}"));
	scratch_write(path, "Grade {summary}.\n", strlen("Grade {summary}.\n"));
	assert_int_equal(infty_sum_judge_prompts_load(&p, dir, detail, sizeof detail), 0);
	assert_string_equal(p.judge, "Grade {summary}.");
	infty_sum_judge_prompts_release(&p);
}

static void cache_failures(void **state)
{
	(void)state;
	const char *path = scratch_path("failures.jsonl");
	char detail[256];
	struct sum_cache *c;
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	struct sum_cache_entry f = {.finish_reason = "length",
	                            .reason = "length",
	                            .status = 200,
	                            .prompt_tokens = 900,
	                            .max_tokens = 2048,
	                            .summary_max_chars = 16384,
	                            .attempts = 1,
	                            .detail = "no acceptable choice among 4 (length)",
	                            .excerpt = "{\"choices\":[]}"};
	assert_int_equal(infty_sum_cache_put(c, "kf", &f), 0);
	struct sum_cache_entry e = ok_entry("* ok");
	assert_int_equal(infty_sum_cache_put(c, "ko", &e), 0);
	assert_int_equal(infty_sum_cache_close(c), 0);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	const struct sum_cache_entry *g = infty_sum_cache_get(c, "kf");
	assert_non_null(g);
	assert_null(g->text);
	assert_string_equal(g->reason, "length");
	assert_int_equal(g->status, 200);
	assert_int_equal(g->max_tokens, 2048);
	assert_int_equal(g->prompt_tokens, 900);
	assert_string_equal(g->excerpt, "{\"choices\":[]}");
	assert_string_equal(infty_sum_cache_get(c, "ko")->text, "* ok");
	assert_int_equal(infty_sum_cache_get(c, "ko")->exhausted, 0);
	/* a summary kept although flagged says so */
	e.exhausted = 1;
	assert_int_equal(infty_sum_cache_put(c, "kx", &e), 0);
	e.exhausted = 0;
	assert_int_equal(infty_sum_cache_close(c), 0);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	assert_int_equal(infty_sum_cache_get(c, "kx")->exhausted, 1);
	/* a later success for the same key wins, as in a log */
	assert_int_equal(infty_sum_cache_put(c, "kf", &e), 0);
	assert_int_equal(infty_sum_cache_close(c), 0);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	assert_string_equal(infty_sum_cache_get(c, "kf")->text, "* ok");
	assert_int_equal(infty_sum_cache_close(c), 0);
}

/*
 * What a request took stays with its cache entry: the usage (cached prompt
 * tokens included), the retries by reason, and for a failure the prompt
 * tokens of the answer that decided it; an entry written before those
 * reads as zero cached tokens and its usage's prompt tokens.
 */
static void cache_usage(void **state)
{
	(void)state;
	const char *path = scratch_path("usage.jsonl");
	char detail[256];
	struct sum_cache *c;
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	struct sum_cache_entry e = ok_entry("* ok");
	e.prompt_tokens = 4210, e.cached_tokens = 3968, e.attempts = 3;
	e.retries = json_tokener_parse("{\"rate_limited\": 2}");
	assert_non_null(e.retries);
	assert_int_equal(infty_sum_cache_put(c, "ko", &e), 0);
	json_object_put(e.retries);
	struct sum_cache_entry f = {.finish_reason = "stop",
	                            .reason = "prompt_truncated",
	                            .status = 200,
	                            .prompt_tokens = 900,
	                            .answer_prompt_tokens = 400,
	                            .max_tokens = 2048,
	                            .summary_max_chars = 16384,
	                            .attempts = 2};
	assert_int_equal(infty_sum_cache_put(c, "kf", &f), 0);
	assert_int_equal(infty_sum_cache_close(c), 0);
	/* An entry of an older version: no cached_tokens, no failed.prompt_tokens. */
	FILE *o = fopen(path, "a");
	assert_non_null(o);
	fputs("{\"key\":\"old\",\"failed\":{\"class\":\"permanent\",\"reason\":\"length\","
	      "\"finish_reason\":\"length\",\"status\":200,\"max_tokens\":2048,"
	      "\"summary_max_chars\":16384},\"usage\":{\"prompt_tokens\":700,"
	      "\"completion_tokens\":9},\"choice_tokens\":0,\"reasoning_tokens\":0,"
	      "\"attempts\":1}\n",
	      o);
	fclose(o);
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	const struct sum_cache_entry *g = infty_sum_cache_get(c, "ko");
	assert_non_null(g);
	assert_int_equal(g->cached_tokens, 3968);
	assert_int_equal(g->attempts, 3);
	assert_non_null(g->retries);
	struct json_object *x;
	assert_true(json_object_object_get_ex(g->retries, "rate_limited", &x));
	assert_int_equal(json_object_get_int64(x), 2);
	g = infty_sum_cache_get(c, "kf");
	assert_non_null(g);
	assert_int_equal(g->prompt_tokens, 900);
	assert_int_equal(g->answer_prompt_tokens, 400);
	assert_null(g->retries);
	g = infty_sum_cache_get(c, "old");
	assert_non_null(g);
	assert_int_equal(g->cached_tokens, 0);
	assert_int_equal(g->answer_prompt_tokens, 700);
	assert_int_equal(infty_sum_cache_close(c), 0);
}

static size_t file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return (size_t)n;
}

/* Write n entries k<base>..k<base+n-1>, one flush every `every`. */
static void put_range(const char *path, int base, int n, int every)
{
	struct sum_cache *c;
	char detail[256], key[32], text[64];
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	for (int k = base; k < base + n; k++) {
		snprintf(key, sizeof key, "k%d", k);
		snprintf(text, sizeof text, "* summary %d", k);
		struct sum_cache_entry e = ok_entry(text);
		assert_int_equal(infty_sum_cache_put(c, key, &e), 0);
		if ((k - base) % every == every - 1)
			assert_int_equal(infty_sum_cache_flush(c), 0);
	}
	assert_int_equal(infty_sum_cache_close(c), 0);
}

static size_t count_keys(const char *path, int from, int to, uint64_t *parts)
{
	struct sum_cache *c;
	char detail[256], key[32];
	assert_int_equal(infty_sum_cache_open(&c, path, detail, sizeof detail), 0);
	size_t have = 0;
	for (int k = from; k < to; k++) {
		snprintf(key, sizeof key, "k%d", k);
		have += infty_sum_cache_get(c, key) != NULL;
	}
	uint64_t bytes, lines, p;
	infty_sum_cache_damage(c, parts ? parts : &p, &bytes, &lines);
	assert_int_equal(infty_sum_cache_close(c), 0);
	return have;
}

static void cache_damage_anywhere(void **state)
{
	(void)state;
	for (int z = 0; z < 2; z++) {
		const char *path = scratch_path(z ? "damage.jsonl.zst" : "damage.jsonl");
		put_range(path, 0, 30, 10); /* three batches of 10 */
		size_t one = file_size(path);
		put_range(path, 30, 10, 10);
		size_t two = file_size(path);
		/* Damage the middle of the second batch: only that batch is lost. */
		FILE *f = fopen(path, "r+b");
		assert_non_null(f);
		fseek(f, (long)(one + (two - one) / 2), SEEK_SET);
		fputs("\xff\xfe garbage \x01", f);
		fclose(f);
		/* A torn batch (cut by a kill) followed by more complete batches. */
		f = fopen(path, "ab");
		assert_non_null(f);
		if (z)
			fwrite("\x28\xb5\x2f\xfd\x24\x00\x11\x22", 1, 8, f);
		else
			fputs("{\"key\":\"torn\",\"text\":\"* cut", f);
		fclose(f);
		put_range(path, 40, 20, 10);
		uint64_t parts = 0;
		size_t have = count_keys(path, 0, 60, &parts);
		/* plain: one damaged line in batch 2; zstd: the whole damaged frame */
		assert_int_equal(have, z ? 50 : 59);
		assert_true(parts + (z ? 0 : 1) >= 1);
	}
}

static void cache_two_writers(void **state)
{
	(void)state;
	for (int z = 0; z < 2; z++) {
		const char *path = scratch_path(z ? "writers.jsonl.zst" : "writers.jsonl");
		pid_t a = fork();
		if (a == 0) {
			put_range(path, 0, 3000, 7);
			_exit(0);
		}
		pid_t b = fork();
		if (b == 0) {
			put_range(path, 3000, 3000, 5);
			_exit(0);
		}
		int sa, sb;
		waitpid(a, &sa, 0);
		waitpid(b, &sb, 0);
		assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
		assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
		uint64_t parts = 1;
		assert_int_equal(count_keys(path, 0, 6000, &parts), 6000);
		assert_int_equal(parts, 0);
	}
}

/* ---- truncation ------------------------------------------------------------ */

static void truncation_rule(void **state)
{
	(void)state;
	struct sum_config c;
	infty_sum_config_init(&c);
	/* margin only: below ratio x our lower bound */
	assert_int_equal(infty_sum_truncated(&c, 799, 1000, 0, 0), 1);
	assert_int_equal(infty_sum_truncated(&c, 800, 1000, 0, 0), 0);
	assert_int_equal(infty_sum_truncated(&c, 0, 1000, 0, 0), 0); /* no usage */
	/* the server's exact count decides, whatever our bound says */
	assert_int_equal(infty_sum_truncated(&c, 4096, 4300, 4400, 1), 1);
	assert_int_equal(infty_sum_truncated(&c, 3500, 4300, 3500, 1), 0);
	/* a count of the contents only leaves room for template seams */
	assert_int_equal(infty_sum_truncated(&c, 3470, 4300, 3500, 0), 0);
	assert_int_equal(infty_sum_truncated(&c, 3400, 4300, 3500, 0), 1);
	/* digit runs: L tokens to Qwen, ceil(L/3) to Llama-3 and DeepSeek-V3 */
	assert_int_equal(infty_sum_digit_discount("x = 12345", 9), 3);
	assert_int_equal(infty_sum_digit_discount("1 22 333 4444 -", 15), 0 + 1 + 2 + 2);
	assert_int_equal(infty_sum_digit_discount("no digits", 9), 0);
	/* /tokenize bodies */
	const char *vl = "{\"count\":12,\"max_model_len\":8192,\"tokens\":[1,2]}";
	const char *lc = "{\"tokens\":[5,6,7]}";
	assert_int_equal(infty_sum_tokenize_count(vl, strlen(vl)), 12);
	assert_int_equal(infty_sum_tokenize_count(lc, strlen(lc)), 3);
	assert_int_equal(infty_sum_tokenize_count("{}", 2), -1);
	assert_int_equal(infty_sum_tokenize_count("<html>", 6), -1);
	/* classify: a server that can count is asked before a short prompt is judged */
	const char *b = "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"* a\"},"
	                "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":100}}";
	struct sum_http_result r = {200, 0, b, strlen(b), -1, -1};
	struct sum_verdict v;
	assert_int_equal(infty_sum_classify(&r, &c, 1000, 1, &v), 0);
	assert_int_equal(v.cls, SUM_OK);
	assert_int_equal(v.verify, 1);
	infty_sum_verdict_release(&v);
	assert_int_equal(infty_sum_classify(&r, &c, 90, 1, &v), 0);
	assert_int_equal(v.verify, 0);
	infty_sum_verdict_release(&v);
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
	    cmocka_unit_test(cumulative_layout),
	    cmocka_unit_test(key_ignores_max_tokens),
	    cmocka_unit_test(error_shapes),
	    cmocka_unit_test(responses),
	    cmocka_unit_test(validate_and_redact),
	    cmocka_unit_test(extractive),
	    cmocka_unit_test(cache_roundtrip),
	    cmocka_unit_test(alloc_failure),
	    cmocka_unit_test(sse_streams),
	    cmocka_unit_test(keyer_matches_full_key),
	    cmocka_unit_test(extractive_incremental),
	    cmocka_unit_test(extractive_huge_trace),
	    cmocka_unit_test(choice_check),
	    cmocka_unit_test(judge_answers),
	    cmocka_unit_test(judge_requests),
	    cmocka_unit_test(cache_failures),
	    cmocka_unit_test(cache_usage),
	    cmocka_unit_test(cache_damage_anywhere),
	    cmocka_unit_test(cache_two_writers),
	    cmocka_unit_test(truncation_rule),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
