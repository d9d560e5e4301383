/*
 * test_sum_quality.c - the cheap summary checks (src/summarize/sum_quality.c):
 * each flag raised on a summary that has the fault and not on one that is
 * fine, the normalisation that grounding and the answer check rely on, the
 * policy parser, allocation failures, and the cost on 100 KB of segments.
 * The precision and recall on hand-labelled real traces are measured by
 * test_quality_labelled.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/summarize/sum_quality.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *question = "A ship travels 24 km upstream and 28 km downstream in 4 hours. "
                              "Find the speed of the ship in still water.";

static const char *segs[] = {
    "Okay, let's see. Let v be the speed of the ship in still water and w the speed of the "
    "river. Upstream the speed is v - w, downstream it is v + w. The time upstream is "
    "24/(v - w) and downstream 28/(v + w), and these add up to 4 hours.",
    "From the second journey we get another equation. Setting t = 1/(v - w) and s = 1/(v + w) "
    "gives 24t + 28s = 4 and 12t + 42s = 3.5. Solving, t = 1/6 and s = 1/14, so v - w = 6 and "
    "v + w = 14. Therefore v = 10 and w = 4.",
    "Let me double check: 24/6 = 4 hours would already be the whole time, wait, recheck. "
    "Actually 24/6 + 28/14 = 4 + 2 = 6. Hmm, so I should recompute with 0.50 as the ratio.",
};

/* Checks summary against the question and segments 0..i. */
static struct sum_quality_result check_cfg(size_t i, const char *summary, const char *answer,
                                           const struct sum_quality_config *c)
{
	struct sum_quality_index *ix;
	assert_int_equal(infty_sum_quality_index_new(&ix, question, strlen(question)), 0);
	for (size_t k = 0; k <= i; k++)
		assert_int_equal(
		    infty_sum_quality_index_add(ix, segs[k], strlen(segs[k]), -1, NULL, NULL), 0);
	assert_int_equal(infty_sum_quality_index_segments(ix), i + 1);
	struct sum_quality_result r;
	assert_int_equal(
	    infty_sum_quality_check(ix, c, summary, strlen(summary), -1, answer, NULL, NULL, &r),
	    0);
	infty_sum_quality_index_free(ix);
	return r;
}

static struct sum_quality_result check(size_t i, const char *summary, const char *answer)
{
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	return check_cfg(i, summary, answer, &c);
}

static const char *good1 =
    "* Let v be the ship's speed in still water and w the river's speed.\n"
    "* Upstream speed v - w, downstream v + w; the first trip gives 24/(v-w) + 28/(v+w) = 4.\n"
    "* With t = 1/(v-w), s = 1/(v+w) the two trips give 24t + 28s = 4 and 12t + 42s = 3.5.\n"
    "* Solved: t = 1/6, s = 1/14, so v - w = 6 and v + w = 14, hence v = 10 km/h, w = 4 km/h.";

#define HAS(r, f) (((r).flags & SUM_Q_BIT(f)) != 0)

static void good_summary_is_clean(void **state)
{
	(void)state;
	struct sum_quality_result r = check(1, good1, NULL);
	assert_int_equal(r.flags, 0);
	assert_true(r.items >= 8);
	assert_int_equal(r.ungrounded, 0);
	assert_true(r.copy_words > 5 && r.copy_words < 25); /* an equation restated */
	assert_string_equal(r.lang_summary, "en");
	assert_string_equal(r.lang_trace, "en");
}

static void leak(void **state)
{
	(void)state;
	struct sum_quality_result r =
	    check(1, "<think>\n* v - w = 6 and v + w = 14\n</think>", NULL);
	assert_true(HAS(r, SUM_Q_LEAK));
	assert_non_null(strstr(r.detail[SUM_Q_LEAK], "<think>"));
	r = check(1, "* v = 10 and w = 4.\n<summary>\n", NULL);
	assert_true(HAS(r, SUM_Q_LEAK));
	r = check(1,
	          "Okay, so I need to find the speed of the ship. Upstream it is v - w and "
	          "downstream v + w, with 24/(v - w) + 28/(v + w) = 4.",
	          NULL);
	assert_true(HAS(r, SUM_Q_LEAK));
	assert_non_null(strstr(r.detail[SUM_Q_LEAK], "opens like reasoning"));
	r = check(
	    1,
	    "* Upstream speed is v - w. Wait, the river slows it. Hmm, so downstream is v + w.\n"
	    "* Solved for v = 10.",
	    NULL);
	assert_true(HAS(r, SUM_Q_LEAK));
	/* One "wait" inside a sentence, "Okay" in the middle of a word: not a leak. */
	r = check(1,
	          "* Set up v - w upstream and v + w downstream; we wait to use the second trip.\n"
	          "* Solved v = 10 and w = 4 (the speeds are okay as positive numbers).",
	          NULL);
	assert_false(HAS(r, SUM_Q_LEAK));
}

static void refusal(void **state)
{
	(void)state;
	struct sum_quality_result r =
	    check(1, "I'm sorry, but I cannot help with summarizing this reasoning.", NULL);
	assert_true(HAS(r, SUM_Q_REFUSAL));
	r = check(1, "Here is a summary of the progress:\n* v - w = 6 and v + w = 14.", NULL);
	assert_true(HAS(r, SUM_Q_REFUSAL));
	assert_non_null(strstr(r.detail[SUM_Q_REFUSAL], "here is"));
	r = check(1, "* The assistant set up v - w = 6 and v + w = 14 and solved v = 10.", NULL);
	assert_true(HAS(r, SUM_Q_REFUSAL));
	/* "here" later in a line and "user" as a word part are fine. */
	r = check(1, good1, NULL);
	assert_false(HAS(r, SUM_Q_REFUSAL));
	r = check(1, "* The speed here is v = 10; the reuser of t and s solved w = 4.", NULL);
	assert_false(HAS(r, SUM_Q_REFUSAL));
}

static void length(void **state)
{
	(void)state;
	struct sum_quality_result r = check(1, "* v = 10.", NULL);
	assert_true(HAS(r, SUM_Q_SHORT));
	assert_true(r.summary_tokens < 12);
	r = check(1, good1, NULL);
	assert_false(HAS(r, SUM_Q_SHORT));
	assert_false(HAS(r, SUM_Q_LONG));
	assert_true(r.ratio > 0.2 && r.ratio < 1.0);
	/* Exact counts given: a summary as long as its segments is not a summary. */
	struct sum_quality_index *ix;
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	assert_int_equal(infty_sum_quality_index_new(&ix, question, strlen(question)), 0);
	assert_int_equal(infty_sum_quality_index_add(ix, segs[0], strlen(segs[0]), 60, NULL, NULL),
	                 0);
	assert_int_equal(
	    infty_sum_quality_check(ix, &c, good1, strlen(good1), 60, NULL, NULL, NULL, &r), 0);
	assert_true(HAS(r, SUM_Q_LONG));
	assert_true(r.ratio >= 1.0);
	assert_int_equal(r.source_tokens, 60);
	assert_int_equal(
	    infty_sum_quality_check(ix, &c, good1, strlen(good1), 59, NULL, NULL, NULL, &r), 0);
	assert_false(HAS(r, SUM_Q_LONG));
	/* Ratio too small against a long source. */
	c.min_ratio = 0.5;
	assert_int_equal(
	    infty_sum_quality_check(ix, &c, good1, strlen(good1), 20, NULL, NULL, NULL, &r), 0);
	assert_true(HAS(r, SUM_Q_SHORT));
	infty_sum_quality_index_free(ix);
}

static void copy(void **state)
{
	(void)state;
	/* A sentence of segment 1 word for word (30 words), case and commas aside. */
	struct sum_quality_result r =
	    check(1,
	          "* from the second journey we get another equation setting t = 1/(v - w) and "
	          "s = 1/(v + w) gives 24t + 28s = 4 and 12t + 42s = 3.5. Solving, t = 1/6 and "
	          "s = 1/14",
	          NULL);
	printf("# copied: %ld words\n", r.copy_words);
	assert_true(HAS(r, SUM_Q_COPY));
	assert_true(r.copy_words >= 30);
	r = check(1, good1, NULL);
	assert_false(HAS(r, SUM_Q_COPY));
	/* Spans do not run across two segments: the end of 0 and the start of 1. */
	r = check(1,
	          "these add up to 4 hours. From the second journey we get another equation and "
	          "then",
	          NULL);
	assert_int_equal(r.copy_words, 8);
	/* A lower threshold is configuration. */
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	c.copy_words = 8;
	r = check_cfg(1, "these add up to 4 hours. From the second journey we get another equation",
	              NULL, &c);
	assert_true(HAS(r, SUM_Q_COPY));
}

static void grounding(void **state)
{
	(void)state;
	/* 17 and 2.5 are nowhere; the rest is. */
	struct sum_quality_result r =
	    check(1, "* v - w = 6 and v + w = 14, so v = 17 and w = 2.5 km/h.", NULL);
	assert_true(HAS(r, SUM_Q_UNGROUNDED));
	assert_int_equal(r.ungrounded, 2);
	assert_non_null(strstr(r.detail[SUM_Q_UNGROUNDED], "17"));
	assert_non_null(strstr(r.detail[SUM_Q_UNGROUNDED], "2.5"));
	/* Written differently: \frac{1}{6} for 1/6, 0.5 for 0.50, 3.50 for 3.5, 1,4 is not 14. */
	r = check(2,
	          "* t = \\frac{1}{6} and s = \\dfrac{1}{14}; the ratio is 0.5, and 12t + 42s = "
	          "3.50, so v = 10.0.",
	          NULL);
	assert_false(HAS(r, SUM_Q_UNGROUNDED));
	assert_int_equal(r.ungrounded, 0);
	/* The later segment's number is not grounded for an earlier summary. */
	r = check(0, "* 24/(v-w) + 28/(v+w) = 4, and later the ratio 0.5.", NULL);
	assert_true(HAS(r, SUM_Q_UNGROUNDED));
	/* A reduced fraction matches its unreduced value; list numbers and x_1 are not claims. */
	r = check(1, "1. t = 2/12 and s = 1/14\n2) with v_1 = v, x2 = w: v = 10", NULL);
	assert_int_equal(r.ungrounded, 0);
	/* Named results: Vieta is nowhere in the trace, Pythagoras would be. */
	r = check(1, "* By Vieta's formulas v + w = 14 and v - w = 6.", NULL);
	assert_true(HAS(r, SUM_Q_UNGROUNDED));
	assert_non_null(strstr(r.detail[SUM_Q_UNGROUNDED], "Vieta"));
	r = check(1, "* Applied the rule v - w = 6 and v + w = 14.", NULL);
	assert_false(HAS(r, SUM_Q_UNGROUNDED));
	/* A rounding of a trace value is grounded: 1/6 = 0.1667, 0.17. */
	r = check(1, "* t is about 0.17 (0.1667), s = 1/14.", NULL);
	assert_int_equal(r.ungrounded, 0);
	/* Thousands separators. */
	struct sum_quality_index *ix;
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	assert_int_equal(infty_sum_quality_index_new(&ix, "Sum to 1,000.", 13), 0);
	assert_int_equal(infty_sum_quality_index_add(ix, "It is 500500 in all.", 20, 5, NULL, NULL),
	                 0);
	const char *s = "* The sum to 1000 is 500{,}500, twice 250,250 is 500,500.";
	assert_int_equal(infty_sum_quality_check(ix, &c, s, strlen(s), -1, NULL, NULL, NULL, &r),
	                 0);
	assert_int_equal(r.ungrounded, 1); /* 250250 */
	infty_sum_quality_index_free(ix);
}

static void early_answer(void **state)
{
	(void)state;
	/* Summary of segment 0 (no solution yet) that states v = 10. */
	struct sum_quality_result r =
	    check(0, "* Upstream v - w, downstream v + w; the answer is v = 10 km/h.", "10");
	assert_true(HAS(r, SUM_Q_EARLY_ANSWER));
	assert_true(r.answer_seen);
	/* After segment 1 the trace has it: not early. */
	r = check(1, "* Upstream v - w, downstream v + w; the answer is v = 10 km/h.", "10");
	assert_false(HAS(r, SUM_Q_EARLY_ANSWER));
	assert_true(r.answer_seen);
	/* "10" is not in "100", and a summary without it is fine. */
	r = check(0, "* Upstream v - w, downstream v + w, over 100 minutes.", "10");
	assert_false(HAS(r, SUM_Q_EARLY_ANSWER));
	assert_false(r.answer_seen);
	/* An expression answer, written with other spacing and \dfrac. */
	r = check(0, "* The speeds are v = \\dfrac{a + b}{2} and w.", "v=\\frac{a+b}{2}");
	assert_true(HAS(r, SUM_Q_EARLY_ANSWER));
	/* Every number of a two-number answer must be there. */
	r = check(0, "* Guess v = 10 first.", "v = 10, w = 4");
	assert_true(r.answer_seen == 0 || HAS(r, SUM_Q_EARLY_ANSWER));
	r = check(0, "* Guess v = 10, w = 4 first.", "10, 4");
	assert_true(HAS(r, SUM_Q_EARLY_ANSWER));
}

static void language(void **state)
{
	(void)state;
	struct sum_quality_result r =
	    check(1,
	          "* Sea v la velocidad del barco y w la del río. Con los "
	          "dos viajes obtenemos v - w = 6 y v + w = 14, entonces "
	          "v = 10 y w = 4, como se ve para el barco.",
	          NULL);
	assert_true(HAS(r, SUM_Q_LANGUAGE));
	assert_string_equal(r.lang_summary, "es");
	r = check(1,
	          "* 设船在静水中的速度为 v，水流速度为 w。由两次航行得到 v - w = 6 与 v + w = 14，"
	          "所以 v = 10，w = 4。这就是我们目前得到的结果，还需要验证时间是否正确。",
	          NULL);
	assert_true(HAS(r, SUM_Q_LANGUAGE));
	assert_string_equal(r.lang_summary, "zh");
	/* Code is no language: Portuguese "da", "do", "se" in identifiers (a real
	 * false positive on a Python trace of the corpus), while prose around code
	 * still counts. */
	r = check(1,
	          "* The nodes are named as nodes={NODE1, NODE2}, etc.\n"
	          "* root = StrictPartialOrder(nodes=[da_aci, do_loop, se_xor])\n"
	          "* da_aci.parent = root; do_loop.parent = root; se_xor.parent = root\n"
	          "* os_da = [da_aci, do_loop, se_xor, da_os, do_os, se_os, na_os, no_os]\n"
	          "* ao_do = ProcessTree(operator=Operator.SEQUENCE, children=[da_os, do_os])\n"
	          "* em_da = ProcessTree(label=\"da\", parent=ao_do); um_do.parent = em_da",
	          NULL);
	assert_false(HAS(r, SUM_Q_LANGUAGE));
	r = check(1,
	          "* Sea v la velocidad del barco y w la del río: v_barco = v.\n"
	          "* Con los dos viajes obtenemos v - w = 6 y v + w = 14, entonces "
	          "v = 10 y w = 4, como se ve para el barco; resolver(v, w) confirma el resultado.",
	          NULL);
	assert_true(HAS(r, SUM_Q_LANGUAGE));
	assert_string_equal(r.lang_summary, "es");
	/* Too little text to tell: no guess, no flag. */
	r = check(1, "* v - w = 6, v + w = 14, v = 10, w = 4.", NULL);
	assert_string_equal(r.lang_summary, "und");
	assert_false(HAS(r, SUM_Q_LANGUAGE));
}

static void policy(void **state)
{
	(void)state;
	struct sum_quality_config c;
	char detail[256];
	infty_sum_quality_config_init(&c);
	assert_int_equal(infty_sum_quality_policy_parse(
	                     &c, "leak=reject,copy=retry,ungrounded=warn", detail, sizeof detail),
	                 0);
	assert_int_equal(c.policy[SUM_Q_LEAK], SUM_Q_REJECT);
	assert_int_equal(c.policy[SUM_Q_COPY], SUM_Q_RETRY);
	assert_int_equal(c.policy[SUM_Q_UNGROUNDED], SUM_Q_WARN);
	assert_int_equal(c.policy[SUM_Q_SHORT], SUM_Q_WARN);
	assert_int_equal(infty_sum_quality_policy_parse(&c, "all=off,early_answer=reject", detail,
	                                                sizeof detail),
	                 0);
	assert_int_equal(c.policy[SUM_Q_LEAK], SUM_Q_OFF);
	assert_int_equal(c.policy[SUM_Q_EARLY_ANSWER], SUM_Q_REJECT);
	/* Errors leave the config as it was. */
	assert_int_equal(
	    infty_sum_quality_policy_parse(&c, "leak=reject,copy=maybe", detail, sizeof detail),
	    INFTY_EINVAL);
	assert_non_null(strstr(detail, "copy=maybe"));
	assert_int_equal(c.policy[SUM_Q_LEAK], SUM_Q_OFF);
	assert_int_equal(infty_sum_quality_policy_parse(&c, "nope=warn", detail, sizeof detail),
	                 INFTY_EINVAL);
	assert_int_equal(infty_sum_quality_policy_parse(&c, "leak", detail, sizeof detail),
	                 INFTY_EINVAL);
	/* An off flag is never raised; the verdict is the strongest raised policy. */
	struct sum_quality_result r = check_cfg(1, "<think> v = 10", NULL, &c);
	assert_false(HAS(r, SUM_Q_LEAK));
	infty_sum_quality_config_init(&c);
	infty_sum_quality_policy_parse(&c, "short=retry,leak=reject", detail, sizeof detail);
	r = check_cfg(1, "<think> v = 10", NULL, &c);
	assert_true(HAS(r, SUM_Q_LEAK) && HAS(r, SUM_Q_SHORT));
	assert_int_equal(infty_sum_quality_verdict(&c, &r), SUM_Q_REJECT);
	r = check_cfg(1, good1, NULL, &c);
	assert_int_equal(infty_sum_quality_verdict(&c, &r), SUM_Q_OFF);
	for (int f = 0; f < SUM_Q_NFLAGS; f++) {
		const char *n = infty_sum_quality_flag_name(f);
		assert_int_equal(infty_sum_quality_flag_parse(n, strlen(n)), f);
	}
	assert_null(infty_sum_quality_flag_name(SUM_Q_NFLAGS));
	/* The engine's defaults: retry the precise flags when another candidate can come. */
	infty_sum_quality_policy_default(&c, 1);
	assert_int_equal(c.policy[SUM_Q_LEAK], SUM_Q_RETRY);
	assert_int_equal(c.policy[SUM_Q_EARLY_ANSWER], SUM_Q_RETRY);
	assert_int_equal(c.policy[SUM_Q_COPY], SUM_Q_WARN);
	assert_int_equal(c.policy[SUM_Q_UNGROUNDED], SUM_Q_WARN);
	infty_sum_quality_policy_default(&c, 0);
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		assert_int_equal(c.policy[f], SUM_Q_WARN);
}

static void boxed_and_json(void **state)
{
	(void)state;
	const char *concl =
	    "\n\nSo \\boxed{1} first, then finally $\\boxed{\\frac{\\sqrt{3}}{2}}$.";
	char *b = infty_sum_quality_boxed(concl, strlen(concl));
	assert_string_equal(b, "\\frac{\\sqrt{3}}{2}");
	infty_free(b);
	assert_null(infty_sum_quality_boxed("no box", 6));
	assert_null(infty_sum_quality_boxed("\\boxed{cut", 10));

	struct sum_quality_result r = check(1, "<think> v = 17", NULL);
	struct json_object *f = infty_sum_quality_flags_json(&r), *q = infty_sum_quality_json(&r);
	assert_string_equal(json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN),
	                    "[\"leak\",\"short\",\"ungrounded\"]");
	struct json_object *v;
	assert_true(json_object_object_get_ex(q, "ungrounded", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(q, "detail", &v));
	assert_int_equal(json_object_object_length(v), 3);
	assert_true(json_object_object_get_ex(q, "ratio", &v));
	json_object_put(f);
	json_object_put(q);
}

/*
 * The engine indexes a whole trace once and checks summary i against
 * segments 0..i whenever it comes back: the result must be the one of an
 * index that stopped after segment i, for every check.
 */
static void check_at_whole_trace(void **state)
{
	(void)state;
	static const char *const sums[] = {
	    NULL, /* good1 */
	    "* from the second journey we get another equation setting t = 1/(v - w) and "
	    "s = 1/(v + w) gives 24t + 28s = 4 and 12t + 42s = 3.5.",
	    "* Actually 24/6 + 28/14 = 4 + 2 = 6, recomputed with 0.50 as the ratio.",
	    "* Okay, so the answer is v = 10 and w = 4. Wait, let me check. Hmm, yes.",
	    "* Der Fluss fliesst mit 4 km/h und das Schiff mit 10 km/h, das ist nicht schwer "
	    "und wir sind fertig mit der Aufgabe.",
	};
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	struct sum_quality_index *whole;
	assert_int_equal(infty_sum_quality_index_new(&whole, question, strlen(question)), 0);
	for (size_t k = 0; k < 3; k++)
		assert_int_equal(
		    infty_sum_quality_index_add(whole, segs[k], strlen(segs[k]), -1, NULL, NULL),
		    0);
	for (size_t i = 0; i < 3; i++)
		for (size_t n = 0; n < sizeof sums / sizeof *sums; n++) {
			const char *s = sums[n] ? sums[n] : good1;
			struct sum_quality_result a = check(i, s, "10"), b;
			assert_int_equal(infty_sum_quality_check_at(whole, i + 1, &c, s, strlen(s),
			                                            -1, "10", NULL, NULL, &b),
			                 0);
			assert_int_equal(a.flags, b.flags);
			assert_int_equal(a.copy_words, b.copy_words);
			assert_int_equal(a.items, b.items);
			assert_int_equal(a.ungrounded, b.ungrounded);
			assert_int_equal(a.answer_seen, b.answer_seen);
			assert_int_equal(a.source_tokens, b.source_tokens);
			assert_string_equal(a.lang_trace, b.lang_trace);
			assert_memory_equal(a.detail, b.detail, sizeof a.detail);
		}
	/* 0.50 and 6 appear first in segment 2: ungrounded before it, grounded with it. */
	struct sum_quality_result r;
	assert_int_equal(infty_sum_quality_check_at(whole, 2, &c, sums[2], strlen(sums[2]), -1,
	                                            NULL, NULL, NULL, &r),
	                 0);
	assert_true(HAS(r, SUM_Q_UNGROUNDED));
	assert_int_equal(infty_sum_quality_check_at(whole, 3, &c, sums[2], strlen(sums[2]), -1,
	                                            NULL, NULL, NULL, &r),
	                 0);
	assert_false(HAS(r, SUM_Q_UNGROUNDED));
	assert_int_equal(infty_sum_quality_check_at(whole, 4, &c, good1, strlen(good1), -1, NULL,
	                                            NULL, NULL, &r),
	                 INFTY_EINVAL);
	infty_sum_quality_index_free(whole);
}

static void alloc_failure(void **state)
{
	(void)state;
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	for (long n = 0; n < 200; n++) {
		struct sum_quality_index *ix = NULL;
		struct sum_quality_result r;
		infty_alloc_fail_after(n);
		int rc = infty_sum_quality_index_new(&ix, question, strlen(question));
		for (int k = 0; k < 3 && !rc; k++)
			rc = infty_sum_quality_index_add(ix, segs[k], strlen(segs[k]), -1, NULL,
			                                 NULL);
		if (!rc)
			rc = infty_sum_quality_check(ix, &c, good1, strlen(good1), -1, "10", NULL,
			                             NULL, &r);
		infty_alloc_fail_after(-1);
		assert_true(rc == 0 || rc == INFTY_ENOMEM);
		infty_sum_quality_index_free(ix);
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * 100 KB of segments and a 2 KB summary: indexing and one check must stay
 * in milliseconds (linear), and a summary made of one long copied run must
 * measure that whole run.
 */
static void cost(void **state)
{
	(void)state;
	size_t n = 100 * 1024;
	char *big = infty_malloc(n + 1);
	assert_non_null(big);
	uint64_t x = 42;
	size_t k = 0;
	while (k + 16 < n) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k += (size_t)snprintf(big + k, n - k, "w%u %s", (unsigned)(x >> 52) % 3000,
		                      (x >> 40) % 7 ? "" : "= 12.5. ");
	}
	big[k] = '\0';
	/* The summary: 2 KB, its middle a copy of 200 words of the segments. */
	char summary[4096];
	const char *mid = big + n / 2;
	while (*mid != ' ')
		mid++;
	mid++;
	const char *e = mid;
	for (int w = 0; w < 200; w++) {
		while (*e && *e != ' ')
			e++;
		if (*e)
			e++;
	}
	int sl = snprintf(summary, sizeof summary, "* The speed is v = 10.\n* %.*s\n* done.",
	                  (int)(e - mid - 1), mid);
	double t0 = now();
	struct sum_quality_index *ix;
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	assert_int_equal(infty_sum_quality_index_new(&ix, question, strlen(question)), 0);
	for (size_t off = 0; off < k; off += 10 * 1024) {
		size_t len = off + 10 * 1024 < k ? 10 * 1024 : k - off;
		assert_int_equal(infty_sum_quality_index_add(ix, big + off, len, -1, NULL, NULL),
		                 0);
	}
	double t1 = now();
	struct sum_quality_result r;
	assert_int_equal(
	    infty_sum_quality_check(ix, &c, summary, (size_t)sl, -1, "10", NULL, NULL, &r), 0);
	double t2 = now();
	printf("# CPU: index 100 KB %.2f ms; check a %d-byte summary %.3f ms (copy %ld words)\n",
	       (t1 - t0) * 1e3, sl, (t2 - t1) * 1e3, r.copy_words);
	assert_true(HAS(r, SUM_Q_COPY));
	/* 200 words, unless the copy crossed a 10 KB segment boundary. */
	assert_true(r.copy_words >= 100 && r.copy_words <= 200);
	/* Generous bounds (sanitizers, a loaded machine): linear is ~10 ms here. */
	assert_true(t1 - t0 < 0.5);
	assert_true(t2 - t1 < 0.05);
	infty_sum_quality_index_free(ix);
	infty_free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_summary_is_clean),
	    cmocka_unit_test(leak),
	    cmocka_unit_test(refusal),
	    cmocka_unit_test(length),
	    cmocka_unit_test(copy),
	    cmocka_unit_test(grounding),
	    cmocka_unit_test(early_answer),
	    cmocka_unit_test(language),
	    cmocka_unit_test(policy),
	    cmocka_unit_test(boxed_and_json),
	    cmocka_unit_test(check_at_whole_trace),
	    cmocka_unit_test(alloc_failure),
	    cmocka_unit_test(cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
