/*
 * test_seg_accept.c - the reference's row acceptance (--accept reference):
 * exactly what segmentation.py's regex and split_thoughts() keep, byte for
 * byte, and a reject with the reason for every row it loses; and the
 * default acceptance on the same rows, where it differs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/segment/seg.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <string.h>

/* A two-turn messages row with assistant text a (a C string). */
static struct json_object *row(const char *a)
{
	struct json_object *r = json_object_new_object(), *m = json_object_new_array();
	struct json_object *u = json_object_new_object(), *t = json_object_new_object();
	json_object_object_add(u, "role", json_object_new_string("user"));
	json_object_object_add(u, "content", json_object_new_string("Q?"));
	json_object_object_add(t, "role", json_object_new_string("assistant"));
	json_object_object_add(t, "content", json_object_new_string(a));
	json_object_array_add(m, u);
	json_object_array_add(m, t);
	json_object_object_add(r, "messages", m);
	return r;
}

/* Extract one row under accept; the single item's reason. */
static enum infty_seg_reason one(struct json_object *r, enum infty_seg_accept accept,
                                 struct infty_seg_items *it)
{
	struct infty_seg_input_opts o = {.accept = accept};
	infty_seg_items_release(it);
	assert_int_equal(infty_seg_extract(r, &o, it), 0);
	assert_int_equal(it->n, 1);
	return it->v[0].reason;
}

struct kept {
	const char *assistant, *reasoning, *conclusion;
};

/* The regex's groups: thoughts between "<think>\n" and the last "\n</think>"
 * with text after it; the conclusion to the end, kept verbatim. */
static void reference_keeps(void **state)
{
	(void)state;
	static const struct kept k[] = {
	    {"<think>\nA.\n\nB.\n</think>\n\nC.", "A.\n\nB.", "\n\nC."},
	    {"<think>\nA\n</think>\n\n", "A", "\n\n"},               /* whitespace conclusion */
	    {"<think>\n \n</think>C", " ", "C"},                     /* whitespace reasoning */
	    {"<think>\nA\n</think>B\n</think>", "A", "B\n</think>"}, /* last with text after */
	    {"<think>\nA\n</think>B\n</think>C", "A\n</think>B", "C"},
	    {"<think>\n\n\nA\n</think>C", "\n\nA", "C"},       /* empty first paragraph */
	    {"<think>\nA\n\n\nb\n</think>C", "A\n\n\nb", "C"}, /* "\n\n\n" splits once */
	    {"<think>\nA\n</think>\n", "A", "\n"},
	};
	struct infty_seg_items it = {0};
	for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
		struct json_object *r = row(k[i].assistant);
		assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_OK);
		assert_int_equal(it.v[0].reasoning_len, strlen(k[i].reasoning));
		assert_memory_equal(it.v[0].reasoning, k[i].reasoning, strlen(k[i].reasoning));
		assert_int_equal(it.v[0].conclusion_len, strlen(k[i].conclusion));
		assert_memory_equal(it.v[0].conclusion, k[i].conclusion, strlen(k[i].conclusion));
		assert_string_equal(it.v[0].question, "Q?");
		json_object_put(r);
	}
	infty_seg_items_release(&it);
}

struct lost {
	const char *assistant;
	enum infty_seg_reason ref, ours; /* under reference, and by default */
};

static void reference_loses(void **state)
{
	(void)state;
	static const struct lost l[] = {
	    {"Okay.\n</think>\nC", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_OK},
	    {"<think>Okay.\n</think>\nC", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_OK},
	    {" <think>\nOkay.\n</think>\nC", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_OK},
	    {"<think>\nA</think>C", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_OK},
	    {"<think>\nA\n</think>", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_R_EMPTY_CONCLUSION},
	    {"<think>\n\n</think>C", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_R_EMPTY_REASONING},
	    {"<think>\n</think>C", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_R_EMPTY_REASONING},
	    {"<think>\n", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_R_NO_THINK_CLOSE},
	    {"", INFTY_SEG_R_REF_NO_MATCH, INFTY_SEG_R_NO_THINK_CLOSE},
	    {"<think>\nA\n\n\n\nB\n</think>C", INFTY_SEG_R_REF_EMPTY_PARAGRAPH, INFTY_SEG_OK},
	    {"<think>\nA\n\n\n</think>C", INFTY_SEG_R_REF_EMPTY_PARAGRAPH, INFTY_SEG_OK},
	    {"<think>\nA\n\n\n\n\n\nB\n</think>C", INFTY_SEG_R_REF_EMPTY_PARAGRAPH, INFTY_SEG_OK},
	};
	struct infty_seg_items it = {0};
	for (size_t i = 0; i < sizeof l / sizeof *l; i++) {
		struct json_object *r = row(l[i].assistant);
		assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), l[i].ref);
		assert_non_null(it.v[0].detail);
		assert_int_equal(one(r, INFTY_SEG_ACCEPT_INFTY, &it), l[i].ours);
		json_object_put(r);
	}
	infty_seg_items_release(&it);
}

/* Only `messages` with exactly two turns; roles are not looked at. */
static void reference_shape(void **state)
{
	(void)state;
	struct infty_seg_items it = {0};
	struct json_object *r = row("<think>\nA\n</think>C"), *m;
	json_object_object_get_ex(r, "messages", &m);
	struct json_object *sys = json_object_new_object();
	json_object_object_add(sys, "role", json_object_new_string("system"));
	json_object_object_add(sys, "content", json_object_new_string("Be brief."));
	json_object_array_put_idx(m, 2, sys);
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_R_REF_NOT_TWO_MESSAGES);
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_INFTY, &it), INFTY_SEG_OK);
	json_object_put(r);

	r = json_tokener_parse("{\"problem\":\"Q\",\"trace\":\"<think>\\nA\\n</think>C\"}");
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_R_REF_NOT_TWO_MESSAGES);
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_INFTY, &it), INFTY_SEG_OK);
	json_object_put(r);

	/* The first turn is the question whatever its role. */
	r = json_tokener_parse("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
	                       "{\"role\":\"user\",\"content\":\"<think>\\nA\\n</think>C\"}]}");
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_OK);
	assert_string_equal(it.v[0].question, "S");
	json_object_put(r);

	/* An OpenR1 row keeps the default pick's id: runs can be joined. */
	r = json_tokener_parse("{\"problem\":\"Q\",\"uuid\":\"u-9\",\"messages\":[{\"role\":"
	                       "\"user\",\"content\":\"Q\"},{\"role\":\"assistant\",\"content\":"
	                       "\"<think>\\nA\\n</think>C\"}]}");
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_OK);
	assert_string_equal(it.v[0].id, "u-9:m");
	assert_int_equal(it.v[0].format, INFTY_SEG_FMT_OPENR1);
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_INFTY, &it), INFTY_SEG_OK);
	assert_string_equal(it.v[0].id, "u-9:m");
	json_object_put(r);

	/* A question that is not a string cannot make a trace. */
	r = json_tokener_parse(
	    "{\"messages\":[{\"role\":\"user\",\"content\":null},"
	    "{\"role\":\"assistant\",\"content\":\"<think>\\nA\\n</think>C\"}]}");
	assert_int_equal(one(r, INFTY_SEG_ACCEPT_REFERENCE, &it), INFTY_SEG_R_MISSING_FIELD);
	json_object_put(r);
	infty_seg_items_release(&it);
}

static void names(void **state)
{
	(void)state;
	/* The option table's choice list: the enum's order, then NULL. */
	assert_string_equal(infty_seg_accept_names[INFTY_SEG_ACCEPT_INFTY], "infty");
	assert_string_equal(infty_seg_accept_names[INFTY_SEG_ACCEPT_REFERENCE], "reference");
	assert_null(infty_seg_accept_names[2]);
	assert_null(infty_seg_pick_names[INFTY_SEG_PICK_ALL + 1]);
	assert_null(infty_seg_format_names[INFTY_SEG_FMT_COUNT_]);
	assert_string_equal(infty_seg_format_names[INFTY_SEG_FMT_TRACE], "trace");
	assert_string_equal(infty_seg_accept_name(INFTY_SEG_ACCEPT_REFERENCE), "reference");
	assert_string_equal(infty_seg_reason_code(INFTY_SEG_R_REF_EMPTY_PARAGRAPH),
	                    "ref_empty_paragraph");
	assert_string_equal(infty_seg_reason_code(INFTY_SEG_R_REF_NO_MATCH), "ref_no_match");
	assert_string_equal(infty_seg_reason_code(INFTY_SEG_R_REF_NOT_TWO_MESSAGES),
	                    "ref_not_two_messages");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reference_keeps),
	    cmocka_unit_test(reference_loses),
	    cmocka_unit_test(reference_shape),
	    cmocka_unit_test(names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
