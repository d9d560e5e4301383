/*
 * test_build.c - the infty-build engine: exact templates, all-or-nothing
 * traces (no silent truncation), formats, --max-tokens, stats, and
 * allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/instances/build_instances.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <string.h>

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static const char *field(struct json_object *o, const char *k)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static int int_field(struct json_object *o, const char *k)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, k, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int(v);
}

static const char *N3 =
    "{\"id\":\"a\",\"question\":\"Q?\",\"conclusion\":\"\\n\\nC.\","
    "\"segments\":[{\"text\":\"R1\"},{\"text\":\"R2\"},{\"text\":\"R3\"}],\"n\":3,"
    "\"summaries\":[{\"i\":0,\"text\":\"S1\"},{\"i\":1,\"text\":\"S2\"}]}";

static void paper_templates_exact(void **state)
{
	(void)state;
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER};
	struct infty_build_result r = {0};
	struct json_object *rec = parse(N3);
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_string_equal(field(r.inst[0], "input"), "User:Q?Assistant:");
	assert_string_equal(field(r.inst[0], "target"),
	                    "<think>\nR1\n</think>\n<summary>\nS1\n</summary>");
	assert_string_equal(field(r.inst[1], "input"), "User:Q?Assistant:<history>S1</history>");
	assert_string_equal(field(r.inst[1], "target"),
	                    "<think>\nR2\n</think>\n<summary>\nS2\n</summary>");
	assert_string_equal(field(r.inst[2], "input"), "User:Q?Assistant:<history>S2</history>");
	assert_string_equal(field(r.inst[2], "target"), "<think>\nR3\n</think>\n\nC.");
	/* Without meta the record is exactly {"input","target"}. */
	assert_int_equal(json_object_object_length(r.inst[2]), 2);
	infty_build_result_release(&r);
	json_object_put(rec);
}

static void single_segment(void **state)
{
	(void)state;
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER};
	struct infty_build_result r = {0};
	struct json_object *rec = parse("{\"id\":\"b\",\"question\":\"Q\",\"conclusion\":\"C\","
	                                "\"segments\":[{\"text\":\"R\"}],\"n\":1}");
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 1);
	assert_string_equal(field(r.inst[0], "input"), "User:QAssistant:");
	assert_string_equal(field(r.inst[0], "target"), "<think>\nR\n</think>C");
	infty_build_result_release(&r);
	json_object_put(rec);
}

/*
 * The reference kept n-1 segments when only the last summary failed.  Here
 * every variant of a missing summary drops the trace whole: no instance.
 */
static void missing_summary_never_truncates(void **state)
{
	(void)state;
	static const char *bad[] = {
	    /* last summary missing: the reference's silent-truncation case */
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"},{\"text\":\"3\"}],\"n\":3,\"summaries\":[{\"i\":0,\"text\":\"S\"}]}",
	    /* no summaries at all */
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"}],\"n\":2}",
	    /* an empty one in the middle */
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"},{\"text\":\"3\"}],\"n\":3,\"summaries\":[{\"i\":0,\"text\":\"\"},"
	    "{\"i\":1,\"text\":\"S\"}]}",
	    /* a null text */
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"}],\"n\":2,\"summaries\":[{\"i\":0,\"text\":null}]}",
	};
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER};
	struct infty_build_result r = {0};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct json_object *rec = parse(bad[i]);
		assert_int_equal(infty_build_trace(&o, rec, &r), INFTY_ESCHEMA);
		assert_int_equal(r.n_inst, 0);
		assert_string_equal(r.reason, "missing_summary");
		assert_true(strlen(r.detail) > 0);
		json_object_put(rec);
	}
	infty_build_result_release(&r);
}

static void schema_rejects(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "[1,2]",
	    "{\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"}]}",
	    "{\"id\":\"a\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"segments\":[{\"text\":\"1\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"}],"
	    "\"n\":2}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"tokens\":1}]}",
	    /* too many summaries, and one out of order */
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"}],\"summaries\":[{\"i\":0,\"text\":\"S\"},{\"i\":1,\"text\":\"T\"}]}",
	    "{\"id\":\"a\",\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"1\"},"
	    "{\"text\":\"2\"}],\"summaries\":[{\"i\":1,\"text\":\"S\"}]}",
	};
	struct infty_build_opts o = {.format = INFTY_BUILD_HF};
	struct infty_build_result r = {0};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct json_object *rec = parse(bad[i]);
		assert_int_equal(infty_build_trace(&o, rec, &r), INFTY_ESCHEMA);
		assert_int_equal(r.n_inst, 0);
		assert_string_equal(r.reason, "schema");
		json_object_put(rec);
	}
	infty_build_result_release(&r);
}

static void messages_and_hf(void **state)
{
	(void)state;
	struct infty_build_opts o = {.format = INFTY_BUILD_MESSAGES};
	struct infty_build_result r = {0};
	struct json_object *rec = parse(N3), *m, *t;
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_true(json_object_object_get_ex(r.inst[1], "messages", &m));
	assert_int_equal(json_object_array_length(m), 2);
	t = json_object_array_get_idx(m, 0);
	assert_string_equal(field(t, "role"), "user");
	assert_string_equal(field(t, "content"), "Q?\n\n<history>\nS1\n</history>");
	t = json_object_array_get_idx(m, 1);
	assert_string_equal(field(t, "role"), "assistant");
	assert_string_equal(field(t, "content"),
	                    "<think>\nR2\n</think>\n<summary>\nS2\n</summary>");

	o.format = INFTY_BUILD_HF;
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_string_equal(field(r.inst[0], "uuid"), "a");
	assert_string_equal(field(r.inst[0], "history"), "");
	assert_string_equal(field(r.inst[0], "summary"), "S1");
	assert_string_equal(field(r.inst[0], "conclusion"), "");
	assert_string_equal(field(r.inst[2], "reasoning_index"), "2");
	assert_string_equal(field(r.inst[2], "history"), "S2");
	assert_string_equal(field(r.inst[2], "reasoning_process"), "R3");
	assert_string_equal(field(r.inst[2], "summary"), "");
	assert_string_equal(field(r.inst[2], "conclusion"), "\n\nC.");
	infty_build_result_release(&r);
	json_object_put(rec);
}

/* A stand-in tokenizer: one token per byte, so expected counts are lengths. */
static int64_t count_bytes(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	return (int64_t)n;
}

static void meta_and_max_tokens(void **state)
{
	(void)state;
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER, .meta = 1, .count = count_bytes};
	struct infty_build_result r = {0};
	struct json_object *rec = parse(N3), *meta, *v;
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_true(json_object_object_get_ex(r.inst[1], "meta", &meta));
	assert_string_equal(field(meta, "id"), "a");
	assert_string_equal(field(meta, "iteration"), "2");
	assert_string_equal(field(meta, "n"), "3");
	assert_true(json_object_object_get_ex(meta, "prompt_tokens", &v));
	assert_int_equal(json_object_get_int64(v),
	                 strlen("User:Q?Assistant:<history>S1</history>"));
	assert_true(json_object_object_get_ex(meta, "target_tokens", &v));
	assert_int_equal(json_object_get_int64(v),
	                 strlen("<think>\nR2\n</think>\n<summary>\nS2\n</summary>"));
	int64_t longest = 0;
	for (size_t i = 0; i < r.n_inst; i++)
		if (r.prompt_tok[i] + r.target_tok[i] > longest)
			longest = r.prompt_tok[i] + r.target_tok[i];

	/* At the limit every instance fits; one below, the whole trace goes. */
	o.max_tokens = longest;
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	o.max_tokens = longest - 1;
	assert_int_equal(infty_build_trace(&o, rec, &r), INFTY_ESCHEMA);
	assert_int_equal(r.n_inst, 0);
	assert_string_equal(r.reason, "too_long");
	assert_non_null(strstr(r.detail, "--max-tokens"));
	infty_build_result_release(&r);
	json_object_put(rec);
}

/* Exactly these keys, in this order, and nothing else. */
static void assert_keys(struct json_object *o, const char *const *keys)
{
	size_t n = 0;
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		assert_non_null(keys[n]);
		assert_string_equal(k, keys[n]);
		n++;
	}
	assert_null(keys[n]);
}

/* One {role, content} turn list of length 1. */
static const char *only_turn(struct json_object *o, const char *key, const char *role)
{
	struct json_object *l, *t;
	assert_true(json_object_object_get_ex(o, key, &l));
	assert_true(json_object_is_type(l, json_type_array));
	assert_int_equal(json_object_array_length(l), 1);
	t = json_object_array_get_idx(l, 0);
	static const char *const turn_keys[] = {"role", "content", NULL};
	assert_keys(t, turn_keys);
	assert_string_equal(field(t, "role"), role);
	return field(t, "content");
}

/*
 * trl is paper under TRL's names; trl-chat is the messages turns split
 * into TRL's conversational prompt and completion.  Token counts measure
 * the same text as the formats they come from.
 */
static void trl_formats(void **state)
{
	(void)state;
	static const char *const trl_keys[] = {"prompt", "completion", NULL};
	struct infty_build_opts o = {.format = INFTY_BUILD_TRL, .count = count_bytes};
	struct infty_build_result r = {0};
	struct json_object *rec = parse(N3);
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_keys(r.inst[1], trl_keys);
	assert_string_equal(field(r.inst[1], "prompt"), "User:Q?Assistant:<history>S1</history>");
	assert_string_equal(field(r.inst[1], "completion"),
	                    "<think>\nR2\n</think>\n<summary>\nS2\n</summary>");
	assert_int_equal(r.prompt_tok[1], strlen("User:Q?Assistant:<history>S1</history>"));

	o.format = INFTY_BUILD_TRL_CHAT;
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_keys(r.inst[2], trl_keys);
	assert_string_equal(only_turn(r.inst[2], "prompt", "user"),
	                    "Q?\n\n<history>\nS2\n</history>");
	assert_string_equal(only_turn(r.inst[2], "completion", "assistant"),
	                    "<think>\nR3\n</think>\n\nC.");
	assert_string_equal(only_turn(r.inst[0], "prompt", "user"), "Q?");
	assert_int_equal(r.prompt_tok[2], strlen("Q?\n\n<history>\nS2\n</history>"));
	assert_int_equal(r.target_tok[2], strlen("<think>\nR3\n</think>\n\nC."));
	infty_build_result_release(&r);
	json_object_put(rec);
}

/*
 * hf's uuid is the source row's own id: several traces of one row (--pick
 * all) share it, each counting reasoning_index from 0; meta.id, when asked
 * for, tells them apart.
 */
static void hf_uuid_is_the_rows(void **state)
{
	(void)state;
	static const char *const hf_keys[] = {"uuid",       "reasoning_index",   "question",
	                                      "history",    "reasoning_process", "summary",
	                                      "conclusion", "messages",          NULL};
	struct infty_build_opts o = {.format = INFTY_BUILD_HF};
	struct infty_build_result r = {0};
	const char *g[2] = {
	    "{\"id\":\"row-7:g0\",\"source\":{\"uuid\":\"row-7\",\"generation\":0},"
	    "\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"A\"},"
	    "{\"text\":\"B\"}],\"summaries\":[{\"i\":0,\"text\":\"S\"}]}",
	    "{\"id\":\"row-7:g3\",\"source\":{\"uuid\":\"row-7\",\"generation\":3},"
	    "\"question\":\"Q\",\"conclusion\":\"C\",\"segments\":[{\"text\":\"D\"}]}",
	};
	for (int k = 0; k < 2; k++) {
		struct json_object *rec = parse(g[k]), *meta;
		assert_int_equal(infty_build_trace(&o, rec, &r), 0);
		for (size_t i = 0; i < r.n_inst; i++) {
			assert_keys(r.inst[i], hf_keys);
			assert_string_equal(field(r.inst[i], "uuid"), "row-7");
			assert_int_equal(int_field(r.inst[i], "reasoning_index"), (int)i);
		}
		o.meta = 1;
		assert_int_equal(infty_build_trace(&o, rec, &r), 0);
		assert_true(json_object_object_get_ex(r.inst[0], "meta", &meta));
		assert_string_equal(field(meta, "id"), k ? "row-7:g3" : "row-7:g0");
		o.meta = 0;
		json_object_put(rec);
	}
	infty_build_result_release(&r);
}

static void format_names_and_meta_defaults(void **state)
{
	(void)state;
	static const char *const names[] = {"paper", "messages", "hf", "trl", "trl-chat"};
	for (size_t i = 0; i < 5; i++) {
		enum infty_build_format f;
		assert_int_equal(infty_build_format_parse(names[i], &f), 0);
		assert_string_equal(infty_build_format_name(f), names[i]);
		assert_non_null(strstr(INFTY_BUILD_FORMAT_NAMES, names[i]));
		/* infty's own formats carry meta; the schemas others load do not. */
		assert_int_equal(infty_build_format_meta_default(f), i < 2);
	}
	enum infty_build_format f;
	assert_int_equal(infty_build_format_parse("trl_chat", &f), INFTY_EINVAL);
	assert_int_equal(infty_build_format_parse("", &f), INFTY_EINVAL);
}

static void stats_add_up(void **state)
{
	(void)state;
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER, .count = count_bytes};
	struct infty_build_result r = {0};
	struct infty_build_stats s;
	infty_build_stats_init(&s, INFTY_BUILD_PAPER);
	struct json_object *rec = parse(N3);
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(infty_build_stats_add(&s, &r), 0);
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(infty_build_stats_add(&s, &r), 0);
	infty_build_stats_reject(&s);
	infty_build_stats_reject(&s);
	infty_build_stats_reject(&s);
	struct json_object *j = json_object_new_object(), *v, *d;
	assert_int_equal(infty_build_stats_fields(&s, j), 0);
	assert_string_equal(field(j, "format"), "paper");
	assert_string_equal(field(j, "records_in"), "5");
	assert_string_equal(field(j, "traces_out"), "2");
	assert_string_equal(field(j, "instances_out"), "6");
	/* Rejects by reason are the stage frame's (test_stage.c). */
	assert_false(json_object_object_get_ex(j, "rejects", NULL));
	assert_true(json_object_object_get_ex(j, "traces_by_n", &v));
	assert_string_equal(field(v, "3"), "2");
	assert_true(json_object_object_get_ex(j, "prompt_tokens", &d));
	assert_string_equal(field(d, "count"), "6");
	assert_string_equal(field(d, "min"), "17"); /* "User:Q?Assistant:" */
	json_object_put(j);
	infty_build_stats_release(&s);
	infty_build_result_release(&r);
	json_object_put(rec);
}

/* Summary flags: counted always; with drop_flagged the trace is rejected whole. */
static void quality_flags(void **state)
{
	(void)state;
	const char *flagged =
	    "{\"id\":\"a\",\"question\":\"Q?\",\"conclusion\":\"C.\","
	    "\"segments\":[{\"text\":\"R1\"},{\"text\":\"R2\"},{\"text\":\"R3\"}],\"n\":3,"
	    "\"summaries\":[{\"i\":0,\"text\":\"S1\",\"flags\":[]},"
	    "{\"i\":1,\"text\":\"S2\",\"flags\":[\"ungrounded\",\"copy\",\"novel\"]}]}";
	struct infty_build_opts o = {.format = INFTY_BUILD_PAPER};
	struct infty_build_result r = {0};
	struct infty_build_stats s;
	infty_build_stats_init(&s, INFTY_BUILD_PAPER);
	struct json_object *rec = parse(flagged), *plain = parse(N3);
	assert_int_equal(infty_build_trace(&o, rec, &r), 0);
	assert_int_equal(r.n_inst, 3);
	assert_int_equal(r.checked, 2);
	assert_int_equal(r.flagged, 1);
	assert_int_equal(r.flag_n[5], 1); /* ungrounded */
	assert_int_equal(r.flag_n[INFTY_BUILD_NFLAGS], 1);
	infty_build_stats_quality(&s, &r, &o);
	/* Unchecked summaries (no flags) are neither counted nor dropped. */
	o.drop_flagged = 1;
	assert_int_equal(infty_build_trace(&o, plain, &r), 0);
	assert_int_equal(r.checked, 0);
	infty_build_stats_quality(&s, &r, &o);
	assert_int_equal(infty_build_trace(&o, rec, &r), INFTY_ESCHEMA);
	assert_int_equal(r.n_inst, 0);
	assert_string_equal(r.reason, "quality_ungrounded");
	assert_non_null(strstr(r.detail, "summary 1"));
	infty_build_stats_quality(&s, &r, &o);
	infty_build_stats_reject(&s);
	struct json_object *j = json_object_new_object(), *q, *f;
	assert_int_equal(infty_build_stats_fields(&s, j), 0);
	assert_true(json_object_object_get_ex(j, "quality", &q));
	assert_string_equal(field(q, "policy"), "drop");
	assert_string_equal(field(q, "checked"), "4");
	assert_string_equal(field(q, "flagged_traces"), "2");
	assert_string_equal(field(q, "dropped"), "1");
	assert_true(json_object_object_get_ex(q, "flags", &f));
	assert_string_equal(field(f, "copy"), "2");
	assert_string_equal(field(f, "leak"), "0");
	assert_string_equal(field(f, "other"), "2");
	json_object_put(j);
	infty_build_stats_release(&s);
	infty_build_result_release(&r);
	json_object_put(rec);
	json_object_put(plain);
}

/* Every allocation may fail: the engine reports ENOMEM and leaks nothing. */
static void alloc_fail_each(enum infty_build_format f)
{
	struct infty_build_opts o = {.format = f, .meta = 1, .count = count_bytes};
	struct json_object *rec = parse(N3);
	int saw_enomem = 0, saw_ok = 0;
	for (long n = 0; n < 200 && !saw_ok; n++) {
		struct infty_build_result r = {0};
		infty_alloc_fail_after(n);
		int rc = infty_build_trace(&o, rec, &r);
		infty_alloc_fail_after(-1);
		if (rc == 0) {
			saw_ok = 1;
			assert_int_equal(r.n_inst, 3);
		} else {
			assert_int_equal(rc, INFTY_ENOMEM);
			assert_int_equal(r.n_inst, 0);
			saw_enomem = 1;
		}
		infty_build_result_release(&r);
	}
	assert_true(saw_enomem);
	assert_true(saw_ok);
	json_object_put(rec);
}

static void allocation_failure(void **state)
{
	(void)state;
	alloc_fail_each(INFTY_BUILD_HF);
	alloc_fail_each(INFTY_BUILD_TRL);
	alloc_fail_each(INFTY_BUILD_TRL_CHAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(paper_templates_exact),
	    cmocka_unit_test(single_segment),
	    cmocka_unit_test(missing_summary_never_truncates),
	    cmocka_unit_test(schema_rejects),
	    cmocka_unit_test(messages_and_hf),
	    cmocka_unit_test(meta_and_max_tokens),
	    cmocka_unit_test(trl_formats),
	    cmocka_unit_test(hf_uuid_is_the_rows),
	    cmocka_unit_test(format_names_and_meta_defaults),
	    cmocka_unit_test(stats_add_up),
	    cmocka_unit_test(quality_flags),
	    cmocka_unit_test(allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
