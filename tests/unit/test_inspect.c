/*
 * test_inspect.c - infty-inspect's engine: record kinds, the validator's
 * invariants (one problem per broken rule, none on good records), and the
 * histogram bins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/inspect/inspect.h"
#include "../../src/inspect/inspect_run.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void kinds(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		enum infty_kind k;
	} cases[] = {
	    {"{\"id\":\"a\",\"segments\":[]}", INFTY_KIND_SEGMENT},
	    {"{\"id\":\"a\",\"segments\":[],\"summaries\":[]}", INFTY_KIND_SUMMARIZED},
	    {"{\"input\":\"x\",\"target\":\"y\"}", INFTY_KIND_PAPER},
	    {"{\"messages\":[],\"meta\":{}}", INFTY_KIND_MESSAGES},
	    {"{\"messages\":[]}", INFTY_KIND_MESSAGES},
	    {"{\"messages\":[],\"problem\":\"p\",\"uuid\":\"u\"}", INFTY_KIND_ROW},
	    {"{\"uuid\":\"u\",\"reasoning_process\":\"r\"}", INFTY_KIND_HF},
	    {"{\"prompt\":\"p\",\"completion\":\"c\"}", INFTY_KIND_TRL},
	    {"{\"prompt\":[],\"completion\":[],\"meta\":{}}", INFTY_KIND_TRL_CHAT},
	    {"{\"prompt\":\"p\",\"completion\":\"c\",\"reasoning\":\"r\"}", INFTY_KIND_ROW},
	    /* An object no stage reads is no row: validate reports it. */
	    {"{\"prompt\":\"p\",\"completion\":\"c\",\"model\":\"m\"}", INFTY_KIND_UNKNOWN},
	    {"{\"foo\":1}", INFTY_KIND_UNKNOWN},
	    {"{\"question\":\"q\",\"solution\":\"s\"}", INFTY_KIND_ROW},
	    {"{\"stage\":\"build\",\"reason\":\"schema\"}", INFTY_KIND_REJECT},
	    {"[1]", INFTY_KIND_NOT_OBJECT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct json_object *o = parse(cases[i].json);
		assert_int_equal(infty_record_kind(o), cases[i].k);
		json_object_put(o);
	}
}

/* A paper instance of trace id, iteration i of n (shape-correct). */
static struct json_object *inst(const char *id, int i, int n)
{
	char buf[512];
	snprintf(buf, sizeof buf,
	         "{\"input\":\"User:QAssistant:%s\",\"target\":\"<think>\\nR\\n</think>%s\","
	         "\"meta\":{\"id\":\"%s\",\"iteration\":%d,\"n\":%d}}",
	         i > 1 ? "<history>S</history>" : "", i < n ? "\\n<summary>\\nS\\n</summary>" : "C",
	         id, i, n);
	return parse(buf);
}

static int run_seq(const int *iters, size_t k, int n)
{
	struct inspect_validator v;
	inspect_validator_init(&v);
	int problems = 0;
	for (size_t i = 0; i < k; i++) {
		struct json_object *o = inst("t", iters[i], n);
		problems += inspect_validate(&v, o, i + 1);
		json_object_put(o);
	}
	problems += inspect_validate_end(&v);
	inspect_validator_release(&v);
	return problems;
}

static void instance_sequences(void **state)
{
	(void)state;
	static const int good[] = {1, 2, 3}, gap[] = {1, 3}, cut[] = {1, 2}, late[] = {2, 3};
	assert_int_equal(run_seq(good, 3, 3), 0);
	assert_int_equal(run_seq(gap, 2, 3), 2); /* 3 after 1, then 2 of 3 at the end */
	assert_int_equal(run_seq(cut, 2, 3), 1);
	assert_true(run_seq(late, 2, 3) >= 1);
}

static void segment_rules(void **state)
{
	(void)state;
	struct inspect_validator v;
	inspect_validator_init(&v);
	struct json_object *ok =
	    parse("{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"n\":2,"
	          "\"params\":{\"eta\":5,\"pack\":\"strict\"},\"segments\":["
	          "{\"text\":\"x\",\"tokens\":5,\"end\":\"line\",\"sep\":\"\\n\"},"
	          "{\"text\":\"y\",\"tokens\":1,\"end\":\"final\",\"sep\":\"\"}],"
	          "\"summaries\":[{\"i\":0,\"text\":\"s\"}]}");
	assert_int_equal(inspect_validate(&v, ok, 1), 0);
	json_object_put(ok);
	/* Each line breaks exactly one rule. */
	static const char *bad[] = {
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"n\":1,\"params\":{\"eta\":5,"
	    "\"pack\":\"strict\"},\"segments\":[{\"text\":\"x\",\"tokens\":6,\"end\":\"final\","
	    "\"sep\":\"\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"n\":2,\"segments\":["
	    "{\"text\":\"x\",\"tokens\":1,\"end\":\"paragraph\",\"sep\":\"!\"},"
	    "{\"text\":\"y\",\"tokens\":1,\"end\":\"final\",\"sep\":\"\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"n\":3,\"segments\":["
	    "{\"text\":\"y\",\"tokens\":1,\"end\":\"final\",\"sep\":\"\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"n\":2,\"segments\":["
	    "{\"text\":\"x\",\"tokens\":1,\"end\":\"paragraph\",\"sep\":\"\\n\\n\"},"
	    "{\"text\":\"y\",\"tokens\":1,\"end\":\"final\",\"sep\":\"\"}],\"summaries\":[]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct json_object *o = parse(bad[i]);
		assert_int_equal(inspect_validate(&v, o, i + 2), 1);
		json_object_put(o);
	}
	inspect_validator_release(&v);
}

static void hist_bins(void **state)
{
	(void)state;
	struct inspect_series s = {0};
	double v[] = {3, 1, 2, 2, 5};
	s.v = v;
	s.n = 5;
	s.cap = 5;
	struct inspect_hist h;
	assert_int_equal(inspect_hist_make(&s, 16, &h), 0);
	/* Whole numbers 1..5 get one bin each. */
	assert_int_equal(h.bins, 5);
	assert_int_equal(h.count[0], 1);
	assert_int_equal(h.count[1], 2);
	assert_int_equal(h.count[3], 0);
	assert_int_equal(h.count[4], 1);
	assert_true(h.min == 1 && h.max == 5 && h.p50 == 2);
	/* Wider ranges share whole-number bins and still count everything. */
	double w[100];
	for (int i = 0; i < 100; i++)
		w[i] = i;
	struct inspect_series t = {.v = w, .n = 100, .cap = 100};
	assert_int_equal(inspect_hist_make(&t, 16, &h), 0);
	uint64_t total = 0;
	for (size_t b = 0; b < h.bins; b++)
		total += h.count[b];
	assert_int_equal(total, 100);
	assert_true(h.bins <= 16);
	struct inspect_series e = {0};
	assert_int_equal(inspect_hist_make(&e, 16, &h), 1);
}

/* The one reader of a stage's stats: only a stage that finished counts. */
static void run_stats_completed(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_inspect.XXXXXX", path[256], detail[512];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/build", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof path, "%s/build/stats", dir);
	assert_int_equal(mkdir(path, 0777), 0);
	static const struct {
		const char *text;
		int ok;
		const char *why;
	} cases[] = {
	    {"{\"completed\": true, \"records_in\": 3}", 1, NULL},
	    {"{\"completed\": false, \"stopped_by\": \"signal\"}", 0,
	     "the stage did not finish (stopped_by signal)"},
	    {"{\"records_in\": 3}", 0, "the stage did not finish (stopped_by unknown)"},
	    {"[1]", 0, "missing or not a JSON object"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(path, sizeof path, "%s/build/stats/00007.json", dir);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(cases[i].text, f);
		fclose(f);
		struct json_object *o = inspect_run_stats(dir, "build", 7, detail, sizeof detail);
		assert_int_equal(o != NULL, cases[i].ok);
		if (!o)
			assert_non_null(strstr(detail, cases[i].why));
		json_object_put(o);
	}
	assert_null(inspect_run_stats(dir, "build", 8, detail, sizeof detail));
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kinds),
	    cmocka_unit_test(run_stats_completed),
	    cmocka_unit_test(instance_sequences),
	    cmocka_unit_test(segment_rules),
	    cmocka_unit_test(hist_bins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
