/*
 * sum_judge.c - what the optional judge-and-refine pass of infty-summarize
 * sends and reads (the engine runs the loop): the judge's and the refine
 * prompts, their messages, the keys that name them in the cache, and the
 * judge's JSON answer.
 *
 * The judge request repeats the summary request's prefix (question, then
 * the reasoning so far as the assistant turn) and ends with judge.txt, so a
 * server with a prefix cache pays only for the new tail.  The refine request
 * is the summary request, the summary as the assistant's answer, and
 * refine.txt with the judge's feedback.
 *
 * Keys are hashes of length-prefixed fields, not of the request text: the
 * judge's names the question and segments 0..i through a hash chain (one
 * step per segment, so the keys of a trace cost one pass over it), the
 * refine request's names the summary request by its own key.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const infty_sum_judge_criteria[SUM_JUDGE_CRITERIA] = {"progress", "grounded",
                                                                  "no_answer", "self_contained"};

/* "sha256:<hex>" of one text. */
static void text_hash(const char *s, char out[72])
{
	memcpy(out, "sha256:", 7);
	infty_sha256_hex(s, strlen(s), out + 7);
}

int infty_sum_judge_prompts_load(struct sum_judge_prompts *p, const char *dir, char *detail,
                                 size_t dlen)
{
	memset(p, 0, sizeof *p);
	int rc = infty_sum_prompt_file(dir, "judge.txt", &p->judge, detail, dlen);
	if (!rc)
		rc = infty_sum_prompt_file(dir, "refine.txt", &p->refine, detail, dlen);
	if (!rc && !strstr(p->judge, "{summary}")) {
		snprintf(detail, dlen, "%s/judge.txt: no {summary} in the prompt", dir);
		rc = INFTY_EINVAL;
	}
	if (!rc && !strstr(p->refine, "{feedback}")) {
		snprintf(detail, dlen, "%s/refine.txt: no {feedback} in the prompt", dir);
		rc = INFTY_EINVAL;
	}
	if (rc) {
		infty_sum_judge_prompts_release(p);
		return rc;
	}
	text_hash(p->judge, p->judge_hash);
	text_hash(p->refine, p->refine_hash);
	return 0;
}

void infty_sum_judge_prompts_release(struct sum_judge_prompts *p)
{
	infty_free(p->judge);
	infty_free(p->refine);
	p->judge = p->refine = NULL;
}

/* tpl with every name replaced by value: an owned string, or NULL. */
static char *fill(const char *tpl, const char *name, const char *value)
{
	const struct sum_slot slot = {name, value, strlen(value)};
	return infty_sum_fill(tpl, &slot, 1, NULL);
}

struct json_object *infty_sum_judge_messages(const struct sum_trace_view *t, size_t i,
                                             const struct sum_judge_prompts *p, const char *summary)
{
	char *ask = fill(p->judge, "{summary}", summary);
	if (!ask)
		return NULL;
	/* The cumulative request with the judge's question as its last turn. */
	struct sum_prompts jp = {.cumulative = ask, .update = ask};
	struct json_object *m = infty_sum_req_messages(t, i, SUM_MODE_CUMULATIVE, &jp, NULL);
	infty_free(ask);
	return m;
}

int infty_sum_refine_append(struct json_object *messages, const struct sum_judge_prompts *p,
                            const char *summary, const char *feedback)
{
	char *ask = fill(p->refine, "{feedback}", *feedback ? feedback : "(no details given)");
	if (!ask)
		return INFTY_ENOMEM;
	int rc = infty_sum_add_message(messages, "assistant", summary, strlen(summary));
	if (!rc)
		rc = infty_sum_add_message(messages, "user", ask, strlen(ask));
	infty_free(ask);
	return rc;
}

/* A field into the hash, its length first: no two field lists hash alike. */
static void field(struct infty_sha256 *h, const char *s, size_t n)
{
	char len[24];
	int k = snprintf(len, sizeof len, "%zu:", n);
	infty_sha256_update(h, len, (size_t)k);
	infty_sha256_update(h, s, n);
}

void infty_sum_judge_chain_begin(unsigned char chain[32], const char *question)
{
	struct infty_sha256 h;
	infty_sha256_init(&h);
	field(&h, "infty-chain/1", 13);
	field(&h, question, strlen(question));
	infty_sha256_final(&h, chain);
}

void infty_sum_judge_chain_next(unsigned char chain[32], const char *seg, size_t len)
{
	struct infty_sha256 h;
	infty_sha256_init(&h);
	infty_sha256_update(&h, chain, 32);
	field(&h, seg, len);
	infty_sha256_final(&h, chain);
}

static void key_out(struct infty_sha256 *h, char key[72])
{
	unsigned char d[32];
	infty_sha256_final(h, d);
	memcpy(key, "sha256:", 7);
	infty_hex(d, 32, key + 7);
}

void infty_sum_judge_key(const struct sum_config *jc, const struct sum_judge_prompts *p,
                         const unsigned char chain[32], const char *summary, char key[72])
{
	struct infty_sha256 h;
	char temp[32];
	int n = snprintf(temp, sizeof temp, "%.17g", jc->temperature);
	infty_sha256_init(&h);
	field(&h, "infty-judge/1", 13);
	field(&h, jc->model ? jc->model : "", jc->model ? strlen(jc->model) : 0);
	field(&h, temp, (size_t)n);
	field(&h, p->judge_hash, strlen(p->judge_hash));
	infty_sha256_update(&h, chain, 32);
	field(&h, summary, strlen(summary));
	key_out(&h, key);
}

void infty_sum_refine_key(const struct sum_judge_prompts *p, const char *summary_key,
                          const char *summary, const char *feedback, char key[72])
{
	struct infty_sha256 h;
	infty_sha256_init(&h);
	field(&h, "infty-refine/1", 14);
	field(&h, summary_key, strlen(summary_key));
	field(&h, p->refine_hash, strlen(p->refine_hash));
	field(&h, summary, strlen(summary));
	field(&h, feedback, strlen(feedback));
	key_out(&h, key);
}

/* A criterion's grade: a whole number 1..5, written as a number or a string. */
static int grade(struct json_object *x)
{
	double v;
	if (json_object_is_type(x, json_type_int) || json_object_is_type(x, json_type_double)) {
		v = json_object_get_double(x);
	} else if (json_object_is_type(x, json_type_string)) {
		const char *s = json_object_get_string(x);
		char *end;
		v = strtod(s, &end);
		if (end == s || *end)
			return -1;
	} else {
		return -1;
	}
	if (!(v >= 1 && v <= 5) || v != floor(v))
		return -1;
	return (int)v;
}

int infty_sum_judge_parse(const char *text, size_t len, struct sum_judge_score *s)
{
	memset(s, 0, sizeof *s);
	/*
	 * The object from the first '{' to the last '}': models wrap JSON in a
	 * code fence or a sentence however they are asked.
	 */
	const char *a = memchr(text, '{', len), *b = NULL;
	for (const char *q = text + len; q > text; q--)
		if (q[-1] == '}') {
			b = q;
			break;
		}
	if (!a || !b || b <= a)
		return INFTY_EJSON;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return INFTY_ENOMEM;
	struct json_object *o = json_tokener_parse_ex(tok, a, (int)(b - a));
	int ok = json_tokener_get_error(tok) == json_tokener_success &&
	         json_tokener_get_parse_end(tok) == (size_t)(b - a) &&
	         json_object_is_type(o, json_type_object);
	json_tokener_free(tok);
	int rc = ok ? 0 : INFTY_EJSON;
	s->score = 5;
	for (int k = 0; k < SUM_JUDGE_CRITERIA && !rc; k++) {
		struct json_object *x;
		int g =
		    json_object_object_get_ex(o, infty_sum_judge_criteria[k], &x) ? grade(x) : -1;
		if (g < 0)
			rc = INFTY_EJSON;
		s->rubric[k] = g;
		if (g < s->score)
			s->score = g;
	}
	struct json_object *f;
	if (!rc && json_object_object_get_ex(o, "feedback", &f) &&
	    json_object_is_type(f, json_type_string)) {
		const char *fb = json_object_get_string(f);
		size_t n = strlen(fb);
		if (n >= sizeof s->feedback) {
			/* Cut on a character boundary. */
			n = sizeof s->feedback - 1;
			while (n && ((unsigned char)fb[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(s->feedback, fb, n);
		s->feedback[n] = '\0';
	}
	json_object_put(o);
	if (rc)
		memset(s, 0, sizeof *s);
	return rc;
}
