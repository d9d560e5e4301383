/*
 * test_segment.c - the infty-segment engine with a simple word counter:
 * input shapes and reject reasons, boundaries (math, abbreviations,
 * enumerators), strict and paper packing, the lossless and within-eta
 * properties on random texts, the stage's accounting (rows = traces +
 * rejects), 1-vs-N-thread identical output, and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/segment/seg.h"
#include "../../src/segment/seg_run.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "scratch.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The fake tokenizer: one token per maximal run of non-space bytes, one per
 * whitespace run holding a newline.  Joining two texts with " " costs
 * nothing, so the joined count is below the sum, like the real thing.
 */
static int64_t words(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	int64_t t = 0;
	size_t i = 0;
	while (i < n) {
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t') {
			int nl = 0;
			while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t'))
				nl |= s[i++] == '\n';
			t += nl;
		} else {
			while (i < n && !(s[i] == ' ' || s[i] == '\n' || s[i] == '\t'))
				i++;
			t++;
		}
	}
	return t;
}

/* Count bytes: makes hard cuts inside long words easy to provoke. */
static int64_t bytes4(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	return (int64_t)((n + 3) / 4);
}

/*
 * words, except "glue" costs 3 at the start of a text and -1 elsewhere: a
 * contrived counter whose count can fall when text is appended, the only
 * case where greedy packing leaves a tail that min-tail can merge back.
 */
static int64_t sticky(void *ctx, const char *s, size_t n)
{
	int64_t t = words(ctx, s, n);
	if (n >= 4 && memcmp(s, "glue", 4) == 0)
		t += 2;
	for (const char *q = s + 1; (q = memmem(q, (size_t)(s + n - q), "glue", 4)); q += 4)
		t -= 2;
	return t;
}

static struct infty_seg_params params(int64_t eta, enum infty_seg_pack pack)
{
	struct infty_seg_params p = {.eta = eta, .pack = pack, .min_tail = 0, .count = words};
	return p;
}

/* Joining text + sep of every span gives s back; spans tile s in order. */
static void assert_lossless(const char *s, size_t n, const struct infty_seg_spans *o)
{
	size_t pos = 0;
	for (size_t i = 0; i < o->n; i++) {
		assert_int_equal(o->v[i].off, pos);
		pos += o->v[i].len + o->v[i].sep_len;
		if (i + 1 == o->n)
			assert_int_equal(o->v[i].sep_len, 0);
	}
	assert_int_equal(pos, n);
	(void)s;
}

/* ---- tagged text -------------------------------------------------------- */

static void split_tagged_shapes(void **state)
{
	(void)state;
	const char *r, *c;
	size_t rn, cn;
	const char *t1 = "<think>\nR one.\n\nR two.\n</think>\n\nThe answer.";
	assert_int_equal(infty_seg_split_tagged(t1, strlen(t1), &r, &rn, &c, &cn), INFTY_SEG_OK);
	assert_int_equal(rn, strlen("R one.\n\nR two."));
	assert_memory_equal(r, "R one.\n\nR two.", rn);
	assert_int_equal(cn, strlen("\n\nThe answer."));
	assert_memory_equal(c, "\n\nThe answer.", cn);

	/* DeepSeek-R1 output often lacks the opening tag. */
	const char *t2 = "Thinking.\n</think>\nDone.";
	assert_int_equal(infty_seg_split_tagged(t2, strlen(t2), &r, &rn, &c, &cn), INFTY_SEG_OK);
	assert_memory_equal(r, "Thinking.", rn);

	const char *t3 = "<think>\nforever thinking";
	assert_int_equal(infty_seg_split_tagged(t3, strlen(t3), &r, &rn, &c, &cn),
	                 INFTY_SEG_R_NO_THINK_CLOSE);
	const char *t4 = "<think>\n\n</think>\nx";
	assert_int_equal(infty_seg_split_tagged(t4, strlen(t4), &r, &rn, &c, &cn),
	                 INFTY_SEG_R_EMPTY_REASONING);
	const char *t5 = "<think>\nr\n</think>\n \n";
	assert_int_equal(infty_seg_split_tagged(t5, strlen(t5), &r, &rn, &c, &cn),
	                 INFTY_SEG_R_EMPTY_CONCLUSION);

	const char *t6 = "<|begin_of_thought|>\n\nLet me see.\n\n<|end_of_thought|>\n\n"
	                 "<|begin_of_solution|>\n\nX = 2.\n\n<|end_of_solution|>";
	assert_int_equal(infty_seg_split_tagged(t6, strlen(t6), &r, &rn, &c, &cn), INFTY_SEG_OK);
	assert_memory_equal(r, "Let me see.", rn);
	assert_int_equal(rn, 11);
	assert_memory_equal(c, "\n\nX = 2.\n\n", cn);

	const char *t7 = "<|begin_of_thought|>\nok\n<|end_of_thought|>\n<|begin_of_solution|>\ncut";
	assert_int_equal(infty_seg_split_tagged(t7, strlen(t7), &r, &rn, &c, &cn),
	                 INFTY_SEG_R_TRUNCATED);

	const char *t8 = "<think>\nhm\n</think> <answer>42</answer>";
	assert_int_equal(infty_seg_split_tagged(t8, strlen(t8), &r, &rn, &c, &cn), INFTY_SEG_OK);
	assert_memory_equal(c, "42", cn);
	assert_int_equal(cn, 2);
}

/* ---- input shapes --------------------------------------------------------- */

static struct infty_seg_items extract(const char *json, enum infty_seg_format f,
                                      enum infty_seg_pick pick)
{
	struct json_object *row = json_tokener_parse(json);
	assert_non_null(row);
	struct infty_seg_input_opts o = {.format = f, .pick = pick};
	struct infty_seg_items it = {0};
	assert_int_equal(infty_seg_extract(row, &o, &it), 0);
	json_object_put(row);
	return it;
}

static void one_trace(const char *json, enum infty_seg_format want_fmt, const char *want_id,
                      const char *want_q, const char *want_r, const char *want_c)
{
	struct infty_seg_items it = extract(json, INFTY_SEG_FMT_AUTO, INFTY_SEG_PICK_MESSAGES);
	assert_int_equal(it.n, 1);
	assert_int_equal(it.v[0].reason, INFTY_SEG_OK);
	assert_int_equal(it.v[0].format, want_fmt);
	if (want_id)
		assert_string_equal(it.v[0].id, want_id);
	else
		assert_true(strncmp(it.v[0].id, "h:", 2) == 0 && strlen(it.v[0].id) == 34);
	assert_string_equal(it.v[0].question, want_q);
	assert_string_equal(it.v[0].reasoning, want_r);
	assert_string_equal(it.v[0].conclusion, want_c);
	infty_seg_items_release(&it);
}

static void input_shapes(void **state)
{
	(void)state;
	one_trace("{\"problem\":\"P\",\"uuid\":\"u1\",\"messages\":[{\"role\":\"user\",\"content\":"
	          "\"P\"},{\"role\":\"assistant\",\"content\":\"<think>\\nR\\n</think>C\"}]}",
	          INFTY_SEG_FMT_OPENR1, "u1:m", "P", "R", "C");
	one_trace("{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"},{\"role\":\"assistant\","
	          "\"content\":\"<think>\\nR\\n</think> <answer>A</answer>\"}]}",
	          INFTY_SEG_FMT_MESSAGES, NULL, "Q", "R", "A");
	one_trace("{\"conversations\":[{\"from\":\"human\",\"value\":\"Q\"},{\"from\":\"gpt\","
	          "\"value\":\"<|begin_of_thought|>\\n\\nR\\n\\n<|end_of_thought|>\\n\\n"
	          "<|begin_of_solution|>\\n\\nS\\n\\n<|end_of_solution|>\"}]}",
	          INFTY_SEG_FMT_CONVERSATIONS, NULL, "Q", "R", "\n\nS\n\n");
	one_trace("{\"problem\":\"Q\",\"deepseek_reasoning\":\"R\",\"deepseek_solution\":\"S\","
	          "\"domain\":\"math\"}",
	          INFTY_SEG_FMT_OPENTHOUGHTS, NULL, "Q", "R", "S");
	one_trace("{\"question\":\"Q\",\"deepseek_thinking_trajectory\":\"R\","
	          "\"deepseek_attempt\":\"A\"}",
	          INFTY_SEG_FMT_S1K, NULL, "Q", "R", "A");
	one_trace("{\"question\":\"Q\",\"solution\":\"R\",\"answer\":\"7\"}", INFTY_SEG_FMT_LIMO,
	          NULL, "Q", "R", "7");
	one_trace("{\"prompt\":\"Q\",\"reasoning_content\":\"R\",\"content\":\"A\"}",
	          INFTY_SEG_FMT_REASONING, NULL, "Q", "R", "A");
	one_trace("{\"id\":\"x/1\",\"problem\":\"Q\",\"trace\":\"<think>\\nR\\n</think>\\nA\"}",
	          INFTY_SEG_FMT_TRACE, "x/1", "Q", "R", "\nA");

	/* The same content gives the same hash id; different content another. */
	struct infty_seg_items a =
	    extract("{\"question\":\"Q\",\"solution\":\"R\",\"answer\":1}", 0, 0);
	struct infty_seg_items b =
	    extract("{\"question\":\"Q\",\"solution\":\"R\",\"answer\":2}", 0, 0);
	struct infty_seg_items c =
	    extract("{\"question\":\"Q\",\"solution\":\"S\",\"answer\":1}", 0, 0);
	assert_string_equal(a.v[0].id, b.v[0].id);
	assert_string_not_equal(a.v[0].id, c.v[0].id);
	infty_seg_items_release(&a);
	infty_seg_items_release(&b);
	infty_seg_items_release(&c);
}

static const char *OPENR1 =
    "{\"problem\":\"P\",\"uuid\":\"u\",\"generations\":[\"<think>\\nA\\n</think>x\","
    "\"<think>\\nB\\n</think>y\",\"<think>\\nC\",\"<think>\\nD\\n</think>z\"],"
    "\"correctness_math_verify\":[false,true,true],\"is_reasoning_complete\":null,"
    "\"finish_reasons\":[null,null,\"length\"],"
    "\"messages\":[{\"role\":\"user\",\"content\":\"P\"},"
    "{\"role\":\"assistant\",\"content\":\"<think>\\nB\\n</think>y\"}]}";

static void openr1_picks(void **state)
{
	(void)state;
	struct infty_seg_items it = extract(OPENR1, 0, INFTY_SEG_PICK_FIRST_CORRECT);
	assert_int_equal(it.n, 1);
	assert_string_equal(it.v[0].id, "u:g1");
	assert_int_equal(it.v[0].generation, 1);
	infty_seg_items_release(&it);

	/* g2 is cut off (finish "length"); g3 has no correctness entry: not known correct. */
	it = extract(OPENR1, 0, INFTY_SEG_PICK_ALL_CORRECT);
	assert_int_equal(it.n, 1);
	assert_string_equal(it.v[0].id, "u:g1");
	infty_seg_items_release(&it);

	it = extract(OPENR1, 0, INFTY_SEG_PICK_ALL);
	assert_int_equal(it.n, 4);
	assert_int_equal(it.v[0].reason, INFTY_SEG_OK);
	assert_int_equal(it.v[2].reason, INFTY_SEG_R_TRUNCATED);
	assert_int_equal(it.v[2].generation, 2);
	assert_int_equal(it.v[3].reason, INFTY_SEG_OK);
	infty_seg_items_release(&it);

	it = extract(
	    "{\"problem\":\"P\",\"uuid\":\"u\",\"generations\":[\"<think>\\nA\\n</think>x\"],"
	    "\"correctness_math_verify\":[false]}",
	    0, INFTY_SEG_PICK_FIRST_CORRECT);
	assert_int_equal(it.n, 1);
	assert_int_equal(it.v[0].reason, INFTY_SEG_R_NO_CORRECT);
	infty_seg_items_release(&it);

	it = extract("{\"problem\":\"P\",\"uuid\":\"u\",\"generations\":[]}", 0,
	             INFTY_SEG_PICK_MESSAGES);
	assert_int_equal(it.n, 1);
	assert_int_equal(it.v[0].reason, INFTY_SEG_R_MISSING_FIELD);
	infty_seg_items_release(&it);

	it = extract("{\"foo\":1}", 0, 0);
	assert_int_equal(it.v[0].reason, INFTY_SEG_R_UNKNOWN_FORMAT);
	infty_seg_items_release(&it);
	it = extract("[1,2]", 0, 0);
	assert_int_equal(it.v[0].reason, INFTY_SEG_R_NOT_OBJECT);
	infty_seg_items_release(&it);
	/* Forcing a format that does not fit is a missing field, not a guess. */
	it = extract("{\"trace\":\"x\"}", INFTY_SEG_FMT_S1K, 0);
	assert_int_equal(it.v[0].reason, INFTY_SEG_R_MISSING_FIELD);
	infty_seg_items_release(&it);
}

/* ---- boundaries ------------------------------------------------------------ */

/* Levels of the candidates of s, as a string: P paragraph, S sentence. */
static void bounds_str(const char *s, char *out)
{
	struct infty_seg_bounds b = {0};
	assert_int_equal(infty_seg_find_bounds(s, strlen(s), &b), 0);
	for (size_t i = 0; i < b.n; i++)
		out[i] = b.v[i].level == INFTY_SEG_END_PARAGRAPH ? 'P' : 'S';
	out[b.n] = 0;
	infty_seg_bounds_release(&b);
}

static void boundaries(void **state)
{
	(void)state;
	char got[64];
	bounds_str("One. Two! Three? Four\n\nFive", got);
	assert_string_equal(got, "SSSP");
	bounds_str("E.g. this, i.e. that, see Fig. 3 and eq. 2 etc. ok", got);
	assert_string_equal(got, "");
	bounds_str("The value is 3.5 now. It is 3. Then", got);
	assert_string_equal(got, "SS");
	bounds_str("List:\n1. first\n2. second\n(a) third\nb. fourth", got);
	/* line breaks are candidates; "1." "2." "b." at line start are not sentence ends */
	assert_string_equal(got, "SSSS");
	bounds_str("Inline $a. B\n\nc$ is fine", got);
	assert_string_equal(got, "SP"); /* an inline formula never spans a blank line */
	bounds_str("Display $$a. B\n\nc$$ end. Next", got);
	assert_string_equal(got, "S");
	bounds_str("So \\[x.\n\ny\\] and \\(p. Q\\) and \\begin{align} a. \\\\\n\n b "
	           "\\end{align} done. Next",
	           got);
	assert_string_equal(got, "S");
	bounds_str("Code:\n```\nx = 1. y\n\nz\n```\nAfter. More", got);
	assert_string_equal(got, "SSS");
	bounds_str("Costs \\$5. Then \\$6.", got);
	assert_string_equal(got, "S");
	bounds_str("\n\nLeading and trailing\n\n", got);
	assert_string_equal(got, "");
	bounds_str("He said \"stop.\" Then left.", got);
	assert_string_equal(got, "S");
}

/* ---- packing --------------------------------------------------------------- */

static void strict_basic(void **state)
{
	(void)state;
	const char *s = "a b c d.\n\ne f g. h i j.\n\nk l";
	struct infty_seg_params p = params(5, INFTY_SEG_PACK_STRICT);
	struct infty_seg_spans o = {0};
	assert_int_equal(infty_seg_pack_text(&p, s, strlen(s), &o), 0);
	assert_lossless(s, strlen(s), &o);
	/* "a b c d." (4) | "e f g." (3) then "h i j." does not fit | "h i j.\n\nk l" (6>5) */
	assert_int_equal(o.n, 4);
	assert_int_equal(o.v[0].end, INFTY_SEG_END_PARAGRAPH);
	assert_int_equal(o.v[1].end, INFTY_SEG_END_SENTENCE);
	assert_int_equal(o.v[1].tokens, 3);
	assert_int_equal(o.v[2].end, INFTY_SEG_END_PARAGRAPH);
	assert_int_equal(o.v[3].end, INFTY_SEG_END_FINAL);
	assert_int_equal(o.v[3].tokens, 2);

	/*
	 * Packing takes units while the exact count of the joined text fits, so
	 * a unit that is cheaper in context than alone still joins.
	 */
	const char *j = "p q r s.\n\na b c.\n\nglue";
	p.count = sticky;
	p.eta = 4;
	assert_int_equal(infty_seg_pack_text(&p, j, strlen(j), &o), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.v[1].tokens, 3);
	assert_int_equal(o.v[1].len, strlen("a b c.\n\nglue"));

	/* min-tail: "a b c d." + "e" is over eta, but "e\n\nglue glue" (0) fits back. */
	const char *g = "v w x y z.\n\na b c d.\n\ne\n\nglue glue";
	p.eta = 5;
	assert_int_equal(infty_seg_pack_text(&p, g, strlen(g), &o), 0);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.v[2].tokens, 0);
	p.min_tail = 4;
	assert_int_equal(infty_seg_pack_text(&p, g, strlen(g), &o), 0);
	assert_lossless(g, strlen(g), &o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.v[1].tokens, 5);
	assert_int_equal(o.v[1].end, INFTY_SEG_END_FINAL);
	assert_int_equal(o.v[1].len, strlen("a b c d.\n\ne\n\nglue glue"));
	p.count = words;
	p.min_tail = 0;

	/* Fits whole: one final segment. */
	p.eta = 100;
	assert_int_equal(infty_seg_pack_text(&p, s, strlen(s), &o), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.v[0].end, INFTY_SEG_END_FINAL);
	assert_int_equal(o.v[0].tokens, words(NULL, s, strlen(s)));
	infty_seg_spans_release(&o);
}

static void strict_hard_cut(void **state)
{
	(void)state;
	/* 200 bytes without a boundary, 4 bytes a token, eta 10: hard cuts of <= 40 bytes. */
	char s[256];
	for (int i = 0; i < 200; i++)
		s[i] = (char)('a' + i % 26);
	struct infty_seg_params p = {.eta = 10, .count = bytes4};
	struct infty_seg_spans o = {0};
	assert_int_equal(infty_seg_pack_text(&p, s, 200, &o), 0);
	assert_lossless(s, 200, &o);
	assert_int_equal(o.n, 5);
	for (size_t i = 0; i + 1 < o.n; i++) {
		assert_int_equal(o.v[i].end, INFTY_SEG_END_HARD);
		assert_int_equal(o.v[i].tokens, 10);
	}
	/* A hard cut never splits a UTF-8 character. */
	const char *u = "ééééééééééééééééééééééééééééééé"; /* 2 bytes each */
	p.eta = 3;
	assert_int_equal(infty_seg_pack_text(&p, u, strlen(u), &o), 0);
	assert_lossless(u, strlen(u), &o);
	for (size_t i = 0; i < o.n; i++) {
		assert_int_equal(o.v[i].len % 2, 0);
		assert_true(o.v[i].tokens <= 3);
	}
	infty_seg_spans_release(&o);
}

/* A code block over eta is cut at its line breaks ("line"), not mid-token. */
static void strict_line_cuts(void **state)
{
	(void)state;
	const char *s = "Code:\n\n```\na b c\nd e f\ng h i\n```\n\nDone.";
	struct infty_seg_params p = params(5, INFTY_SEG_PACK_STRICT);
	struct infty_seg_spans o = {0};
	assert_int_equal(infty_seg_pack_text(&p, s, strlen(s), &o), 0);
	assert_lossless(s, strlen(s), &o);
	int lines = 0;
	for (size_t i = 0; i < o.n; i++) {
		assert_int_not_equal(o.v[i].end, INFTY_SEG_END_HARD);
		assert_true(o.v[i].tokens <= 5);
		lines += o.v[i].end == INFTY_SEG_END_LINE;
	}
	assert_true(lines >= 1);
	assert_string_equal(infty_seg_end_name(INFTY_SEG_END_LINE), "line");
	infty_seg_spans_release(&o);
}

/*
 * Paper mode against the reference by hand: steps "A a." + glued "b c",
 * "C d e f", "" glued to it, "D g".  eta 3, overflow-inclusive.
 */
static void paper_reference(void **state)
{
	(void)state;
	const char *s = "A a.\n\nb c\n\nC d e f\n\n\n\nD g";
	struct infty_seg_params p = params(3, INFTY_SEG_PACK_PAPER);
	struct infty_seg_spans o = {0};
	assert_int_equal(infty_seg_pack_text(&p, s, strlen(s), &o), 0);
	assert_lossless(s, strlen(s), &o);
	/* step1 "A a.\n\nb c" = 2+1+2 = 5 > 3: chunk 1 closes with it. */
	assert_int_equal(o.n, 3);
	assert_int_equal(o.v[0].len, strlen("A a.\n\nb c"));
	assert_int_equal(o.v[0].sep_len, 2);
	assert_int_equal(o.v[0].step_tokens, 5);
	/* step2 "C d e f\n\n" (the empty paragraph glued) = 4 + 1 > 3. */
	assert_int_equal(o.v[1].len, strlen("C d e f\n\n"));
	assert_int_equal(o.v[1].step_tokens, 5);
	/* Tail "D g", tiny, as the reference leaves it. */
	assert_int_equal(o.v[2].len, 3);
	assert_int_equal(o.v[2].end, INFTY_SEG_END_FINAL);
	for (size_t i = 0; i < o.n; i++)
		assert_int_equal(o.v[i].tokens, words(NULL, s + o.v[i].off, o.v[i].len));
	/* Non-final paper chunks exceed eta by construction. */
	assert_true(o.v[0].step_tokens > 3);

	/* Lowercase-initial "$x$" paragraphs glue; one step never splits. */
	const char *t = "Big one two three four five\n\n$x$ six";
	assert_int_equal(infty_seg_pack_text(&p, t, strlen(t), &o), 0);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.v[0].step_tokens, 9);
	infty_seg_spans_release(&o);
}

/* ---- properties on random texts ------------------------------------------ */

static const char *const atoms[] = {
    "word",
    "Word",
    "x",
    "3.5",
    "e.g.",
    "Fig. 2",
    "end.",
    "Why?",
    "Yes!",
    "$a+b$",
    "$$\\sum_i x_i.\n\ny$$",
    "\\[ z. \\]",
    "\\(q. r\\)",
    "\\begin{align} a &= b. \\\\\n\n c \\end{align}",
    "1.",
    "(a)",
    "naïve",
    "日本語。",
    "```\ncode. x\n\ny\n```",
};
static const char *const seps[] = {" ", " ", " ", "\n", "\n\n", "\n\n\n", "  ", " \n\n "};

static unsigned long rnd_state = 12345;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rnd_state >> 33) % n);
}

/* Whether [a, b) straddles a protected region of s (independent recomputation). */
static int cuts_math(const struct infty_seg_bounds *b, size_t cut)
{
	for (size_t i = 0; i < b->nprot; i++)
		if (b->prot[2 * i] < cut && cut < b->prot[2 * i + 1])
			return 1;
	return 0;
}

static void random_properties(void **state)
{
	(void)state;
	char *s = malloc(1 << 16);
	assert_non_null(s);
	struct infty_seg_spans o = {0};
	struct infty_seg_bounds pb = {0};
	for (int iter = 0; iter < 400; iter++) {
		size_t n = 0;
		int k = 1 + (int)rnd(120);
		for (int i = 0; i < k; i++) {
			const char *a = atoms[rnd(sizeof atoms / sizeof *atoms)];
			const char *sp = seps[rnd(sizeof seps / sizeof *seps)];
			memcpy(s + n, a, strlen(a));
			n += strlen(a);
			if (i + 1 < k) {
				memcpy(s + n, sp, strlen(sp));
				n += strlen(sp);
			}
		}
		for (int mode = 0; mode < 2; mode++) {
			struct infty_seg_params p =
			    params(1 + (int64_t)rnd(40), (enum infty_seg_pack)mode);
			p.min_tail = rnd(2) ? 3 : 0;
			assert_int_equal(infty_seg_pack_text(&p, s, n, &o), 0);
			assert_lossless(s, n, &o);
			assert_int_equal(infty_seg_protect(s, n, &pb), 0);
			for (size_t i = 0; i < o.n; i++) {
				const struct infty_seg_span *g = &o.v[i];
				assert_int_equal(g->tokens, words(NULL, s + g->off, g->len));
				if (mode == INFTY_SEG_PACK_STRICT) {
					assert_true(
					    g->tokens <= p.eta || g->len <= 4 ||
					    g->end == INFTY_SEG_END_HARD ||
					    (i > 0 && o.v[i - 1].end == INFTY_SEG_END_HARD));
					if (i + 1 < o.n && g->end != INFTY_SEG_END_HARD &&
					    g->end != INFTY_SEG_END_LINE)
						assert_false(cuts_math(&pb, g->off + g->len));
				}
			}
		}
	}
	infty_seg_spans_release(&o);
	infty_seg_bounds_release(&pb);
	free(s);
}

/*
 * Byte soup heavy in delimiters ($ \\ ` { } . newlines, UTF-8 lead and
 * continuation bytes): the scanners must stay in bounds (ASan) and the
 * packers stay lossless whatever they are fed.
 */
static void random_bytes(void **state)
{
	(void)state;
	static const char alpha[] = "$$$\\\\``{}[]().!? \n\n\tab9\xc3\xa9\xe2\x88";
	char s[512];
	struct infty_seg_spans o = {0};
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rnd(sizeof s);
		for (size_t i = 0; i < n; i++)
			s[i] = alpha[rnd(sizeof alpha - 1)];
		/* Also the fixed words the scanners look for, at random places. */
		if (n > 20 && rnd(2)) {
			const char *w[] = {"\\begin{x}", "\\end{x}", "```", "\\[", "\\]", "e.g. "};
			const char *x = w[rnd(6)];
			memcpy(s + rnd((unsigned)(n - 12)), x, strlen(x));
		}
		for (int mode = 0; mode < 2; mode++) {
			struct infty_seg_params p = {.eta = 1 + (int64_t)rnd(20),
			                             .pack = (enum infty_seg_pack)mode,
			                             .min_tail = rnd(2) ? 4 : 0,
			                             .count = bytes4};
			assert_int_equal(infty_seg_pack_text(&p, s, n, &o), 0);
			assert_lossless(s, n, &o);
		}
	}
	infty_seg_spans_release(&o);
}

/* ---- the stage ------------------------------------------------------------- */

static void *no_ctx(void *arg)
{
	return arg ? arg : (void *)1;
}

static void stage_accounting_and_threads(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_segment.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char in[128], o1[128], o2[128], rj[128], st[128];
	snprintf(in, sizeof in, "%s/in.jsonl", dir);
	snprintf(o1, sizeof o1, "%s/o1.jsonl", dir);
	snprintf(o2, sizeof o2, "%s/o2.jsonl", dir);
	snprintf(rj, sizeof rj, "%s/rej.jsonl", dir);
	snprintf(st, sizeof st, "%s/stats.json", dir);
	/* 60 rows: traces of various lengths, bad JSON, a missing close, a duplicate id. */
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	int want_rejects = 0;
	for (int i = 0; i < 60; i++) {
		if (i % 10 == 3) {
			fputs("{not json\n", f);
			want_rejects++;
		} else if (i % 10 == 7) {
			fprintf(
			    f,
			    "{\"id\":\"t%d\",\"problem\":\"Q\",\"trace\":\"<think>\\nno end\"}\n",
			    i);
			want_rejects++;
		} else {
			fprintf(f, "{\"id\":\"t%d\",\"problem\":\"Q%d\",\"trace\":\"<think>\\n",
			        i % 50, i);
			for (int k = 0; k <= i * 3; k++)
				fprintf(f, "Step %d is here. %s", k, k % 4 == 3 ? "\\n\\n" : "");
			fputs("\\n</think>\\nAnswer.\"}\n", f);
		}
	}
	fclose(f);
	struct infty_seg_counter c = {.ctx_new = no_ctx, .count = words, .hash = "fake:words"};
	struct infty_seg_run_opts o = {
	    .input = in,
	    .output = o1,
	    .rejects = rj,
	    .stats = st,
	    .eta = 20,
	    .min_tail = 4,
	    .threads = 1,
	    .batch_rows = 7,

	};
	struct infty_seg_totals t1, t2;
	char detail[256];
	assert_int_equal(infty_seg_run(&o, &c, &t1, detail, sizeof detail), 0);
	assert_int_equal(t1.rows, 60);
	assert_int_equal(t1.rejected, (uint64_t)want_rejects);
	assert_int_equal(t1.rows, t1.traces + t1.rejected);
	assert_int_equal(t1.rejects_by_reason[INFTY_SEG_R_BAD_JSON], 6);
	assert_int_equal(t1.rejects_by_reason[INFTY_SEG_R_NO_THINK_CLOSE], 6);
	o.output = o2;
	o.threads = 4;
	assert_int_equal(infty_seg_run(&o, &c, &t2, detail, sizeof detail), 0);
	size_t na, nb;
	char *a = scratch_read(o1, &na), *b = scratch_read(o2, &nb);
	assert_string_equal(a, b);
	/*
	 * Ids are unique: t0..t9 occur again as rows 50..59 and get ":" plus 8
	 * hex digits of their content hash.
	 */
	const char *dup = strstr(a, "{\"id\":\"t1:");
	assert_non_null(dup);
	dup += strlen("{\"id\":\"t1:");
	for (int k = 0; k < 8; k++)
		assert_non_null(strchr("0123456789abcdef", dup[k]));
	assert_int_equal(dup[8], '"');
	/* Every line is one valid JSON record. */
	for (char *line = a, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		struct json_object *rec = json_tokener_parse(line);
		assert_non_null(rec);
		json_object_put(rec);
	}
	free(a);
	free(b);
	size_t ns;
	char *s = scratch_read(st, &ns);
	struct json_object *js = json_tokener_parse(s);
	assert_non_null(js);
	struct json_object *v;
	assert_true(json_object_object_get_ex(js, "instances", &v));
	assert_int_equal(json_object_get_int64(v), (int64_t)t1.segments);
	json_object_put(js);
	free(s);

	/* Two shards split the rows between them, nothing twice, nothing lost. */
	struct infty_seg_totals s0, s1;
	o.shard_count = 2;
	o.shard_index = 0;
	o.output = o1;
	assert_int_equal(infty_seg_run(&o, &c, &s0, detail, sizeof detail), 0);
	o.shard_index = 1;
	assert_int_equal(infty_seg_run(&o, &c, &s1, detail, sizeof detail), 0);
	assert_int_equal(s0.traces + s1.traces, t1.traces);
	assert_int_equal(s0.rejected + s1.rejected, t1.rejected);
	assert_true(s0.traces > 0 && s1.traces > 0);
	assert_int_equal(s0.other_shard, s1.traces + s1.rejected);

	/* A missing input is an error with a reason, and no output appears. */
	o.input = "/nonexistent/x.jsonl";
	o.output = o2;
	unlink(o2);
	assert_true(infty_seg_run(&o, &c, &t1, detail, sizeof detail) < 0);
	assert_non_null(strstr(detail, "/nonexistent/x.jsonl"));
	assert_int_not_equal(access(o2, F_OK), 0);

	unlink(in);
	unlink(o1);
	unlink(rj);
	unlink(st);
	rmdir(dir);
}

/* A counter that fails on one text: that trace is rejected, the run goes on. */
static int64_t boom(void *ctx, const char *s, size_t n)
{
	return memmem(s, n, "BOOM", 4) ? INFTY_EINVAL : words(ctx, s, n);
}

static void stage_counter_failure(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_segment.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char in[128], out[128], rj[128];
	snprintf(in, sizeof in, "%s/in.jsonl", dir);
	snprintf(out, sizeof out, "%s/out.jsonl", dir);
	snprintf(rj, sizeof rj, "%s/rej.jsonl", dir);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	fputs("{\"id\":\"a\",\"problem\":\"Q\",\"trace\":\"<think>\\nfine\\n</think>x\"}\n"
	      "{\"id\":\"b\",\"problem\":\"Q\",\"trace\":\"<think>\\nBOOM\\n</think>x\"}\n"
	      "{\"id\":\"c\",\"problem\":\"Q\",\"trace\":\"<think>\\nfine\\n</think>x\"}\n",
	      f);
	fclose(f);
	struct infty_seg_counter c = {.ctx_new = no_ctx, .count = boom, .hash = "fake:boom"};
	struct infty_seg_run_opts o = {.input = in, .output = out, .rejects = rj, .eta = 8};
	struct infty_seg_totals t;
	char detail[256];
	assert_int_equal(infty_seg_run(&o, &c, &t, detail, sizeof detail), 0);
	assert_int_equal(t.traces, 2);
	assert_int_equal(t.rejected, 1);
	assert_int_equal(t.rejects_by_reason[INFTY_SEG_R_TOKENIZER], 1);
	size_t nr;
	char *r = scratch_read(rj, &nr);
	assert_non_null(strstr(r, "\"reason\":\"tokenizer\""));
	assert_non_null(strstr(r, "\"id\":\"b\""));
	free(r);
	unlink(in);
	unlink(out);
	unlink(rj);
	rmdir(dir);
}

/* Every allocation of a whole run failing in turn: an error or a clean run. */
static void stage_allocation_failure(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_segment.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char in[128], out[128], rj[128], st[128];
	snprintf(in, sizeof in, "%s/in.jsonl", dir);
	snprintf(out, sizeof out, "%s/out.jsonl", dir);
	snprintf(rj, sizeof rj, "%s/rej.jsonl", dir);
	snprintf(st, sizeof st, "%s/st.json", dir);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	fputs("{\"id\":\"a\",\"problem\":\"Q\",\"trace\":\"<think>\\nOne two. Three four.\\n\\n"
	      "Five six.\\n</think>x\"}\n{bad\n"
	      "{\"question\":\"Q\",\"solution\":\"A b. C d.\",\"answer\":\"1\"}\n",
	      f);
	fclose(f);
	struct infty_seg_counter c = {.ctx_new = no_ctx, .count = words, .hash = "fake:words"};
	struct infty_seg_run_opts o = {
	    .input = in, .output = out, .rejects = rj, .stats = st, .eta = 3, .threads = 1};
	struct infty_seg_totals t;
	char detail[256];
	int failed = 0, ok = 0;
	for (long k = 0; k < 400 && !ok; k++) {
		infty_alloc_fail_after(k);
		int rc = infty_seg_run(&o, &c, &t, detail, sizeof detail);
		infty_alloc_fail_after(-1);
		if (rc) {
			failed++;
			assert_true(rc < 0);
			assert_true(detail[0] != 0);
		} else {
			ok = 1;
			assert_int_equal(t.traces, 2);
			assert_int_equal(t.rejected, 1);
		}
	}
	assert_true(failed > 0 && ok);
	unlink(in);
	unlink(out);
	unlink(rj);
	unlink(st);
	rmdir(dir);
}

static void allocation_failure(void **state)
{
	(void)state;
	const char *s = "a b c.\n\nd e f. g h i.\n\nj k l m n o p q r s t u v w";
	struct infty_seg_params p = params(3, INFTY_SEG_PACK_STRICT);
	int failed = 0;
	for (long k = 0; k < 40; k++) {
		struct infty_seg_spans o = {0};
		infty_alloc_fail_after(k);
		int rc = infty_seg_pack_text(&p, s, strlen(s), &o);
		infty_alloc_fail_after(-1);
		if (rc) {
			assert_int_equal(rc, INFTY_ENOMEM);
			failed++;
		} else {
			assert_lossless(s, strlen(s), &o);
		}
		infty_seg_spans_release(&o);
	}
	assert_true(failed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(split_tagged_shapes),   cmocka_unit_test(input_shapes),
	    cmocka_unit_test(openr1_picks),          cmocka_unit_test(boundaries),
	    cmocka_unit_test(strict_basic),          cmocka_unit_test(strict_hard_cut),
	    cmocka_unit_test(strict_line_cuts),      cmocka_unit_test(paper_reference),
	    cmocka_unit_test(random_properties),     cmocka_unit_test(stage_accounting_and_threads),
	    cmocka_unit_test(stage_counter_failure), cmocka_unit_test(stage_allocation_failure),
	    cmocka_unit_test(random_bytes),          cmocka_unit_test(allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
