/*
 * seg_input.c - dataset rows of every supported shape -> traces (question,
 * reasoning, conclusion, stable id) or reject reasons, so that every row is
 * accounted for.
 */
#include "seg.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char *const reason_codes[INFTY_SEG_R_COUNT_] = {
    [INFTY_SEG_OK] = "ok",
    [INFTY_SEG_R_BAD_JSON] = "bad_json",
    [INFTY_SEG_R_BAD_UTF8] = "bad_utf8",
    [INFTY_SEG_R_NOT_OBJECT] = "not_object",
    [INFTY_SEG_R_UNKNOWN_FORMAT] = "unknown_format",
    [INFTY_SEG_R_MISSING_FIELD] = "missing_field",
    [INFTY_SEG_R_NO_THINK_CLOSE] = "no_think_close",
    [INFTY_SEG_R_TRUNCATED] = "truncated",
    [INFTY_SEG_R_EMPTY_REASONING] = "empty_reasoning",
    [INFTY_SEG_R_EMPTY_CONCLUSION] = "empty_conclusion",
    [INFTY_SEG_R_NO_CORRECT] = "no_correct",
    [INFTY_SEG_R_TOKENIZER] = "tokenizer",
    [INFTY_SEG_R_TOO_LONG] = "too_long",
    [INFTY_SEG_R_REF_NOT_TWO_MESSAGES] = "ref_not_two_messages",
    [INFTY_SEG_R_REF_NO_MATCH] = "ref_no_match",
    [INFTY_SEG_R_REF_EMPTY_PARAGRAPH] = "ref_empty_paragraph",
};

const char *infty_seg_reason_code(enum infty_seg_reason r)
{
	return (unsigned)r < INFTY_SEG_R_COUNT_ ? reason_codes[r] : "?";
}

/* The names of the three enums, in their order: the option tables' CHOICE
 * lists (NULL-terminated) and the records' and stats' words. */
const char *const infty_seg_format_names[INFTY_SEG_FMT_COUNT_ + 1] = {
    "auto", "openr1", "messages",  "conversations", "openthoughts",
    "s1k",  "limo",   "reasoning", "trace",         NULL,
};
const char *const infty_seg_pick_names[] = {"messages", "first-correct", "all-correct", "all",
                                            NULL};
const char *const infty_seg_accept_names[] = {"infty", "reference", NULL};

static const char *name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : "?";
}

const char *infty_seg_format_name(enum infty_seg_format f)
{
	return name_of(infty_seg_format_names, INFTY_SEG_FMT_COUNT_, f);
}

const char *infty_seg_pick_name(enum infty_seg_pick p)
{
	return name_of(infty_seg_pick_names, 4, p);
}

const char *infty_seg_accept_name(enum infty_seg_accept a)
{
	return name_of(infty_seg_accept_names, 2, a);
}

static void item_release(struct infty_seg_item *it)
{
	infty_free(it->detail);
	infty_free(it->id);
	infty_free(it->uuid);
	infty_free(it->question);
	infty_free(it->reasoning);
	infty_free(it->conclusion);
	if (it->meta)
		json_object_put(it->meta);
}

void infty_seg_items_release(struct infty_seg_items *its)
{
	for (size_t i = 0; i < its->n; i++)
		item_release(&its->v[i]);
	infty_free(its->v);
	memset(its, 0, sizeof *its);
}

static struct infty_seg_item *new_item(struct infty_seg_items *out)
{
	if (infty_grow(&out->v, &out->cap, out->n + 1, sizeof *out->v))
		return NULL;
	struct infty_seg_item *it = &out->v[out->n++];
	memset(it, 0, sizeof *it);
	it->generation = -1;
	return it;
}

int infty_seg_items_reject(struct infty_seg_items *out, enum infty_seg_reason r, const char *detail)
{
	struct infty_seg_item *it = new_item(out);
	if (!it)
		return INFTY_ENOMEM;
	it->reason = r;
	if (detail && !(it->detail = infty_strdup(detail)))
		return INFTY_ENOMEM;
	return 0;
}

/* ---- field helpers ------------------------------------------------------- */

static struct json_object *field(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *str_field(struct json_object *o, const char *k, size_t *len)
{
	struct json_object *v = field(o, k);
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static struct json_object *arr_field(struct json_object *o, const char *k)
{
	struct json_object *v = field(o, k);
	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static int all_ws(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			return 0;
	return 1;
}

/*
 * First occurrence of lit in s[0..n), or NULL.  The markers looked for are
 * all "<...>" and '<' is rare in reasoning, so jumping from one '<' to the
 * next with memchr (which libc runs at memory speed) beats memmem.
 */
static const char *find(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	const char *end = s + n;
	while ((size_t)(end - s) >= k) {
		const char *p = memchr(s, lit[0], (size_t)(end - s) - k + 1);
		if (!p)
			return NULL;
		if (memcmp(p + 1, lit + 1, k - 1) == 0)
			return p;
		s = p + 1;
	}
	return NULL;
}

/* Last occurrence of lit in s[0..n), or NULL: the same, from the end back. */
static const char *find_last(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n < k)
		return NULL;
	size_t m = n - k + 1; /* where an occurrence may start */
	while (m > 0) {
		const char *p = memrchr(s, lit[0], m);
		if (!p)
			return NULL;
		if (memcmp(p + 1, lit + 1, k - 1) == 0)
			return p;
		m = (size_t)(p - s);
	}
	return NULL;
}

enum infty_seg_reason infty_seg_split_tagged(const char *s, size_t n, const char **r, size_t *rlen,
                                             const char **c, size_t *clen)
{
	static const char BOT[] = "<|begin_of_thought|>", EOT[] = "<|end_of_thought|>";
	static const char BOS[] = "<|begin_of_solution|>", EOS[] = "<|end_of_solution|>";
	const char *bot = find(s, n, BOT);
	const char *eot = find(s, n, EOT);
	if (bot || eot) {
		/* OpenThoughts/Bespoke/Sky-T1 markers; their padding newlines are markup. */
		const char *rs = bot ? bot + sizeof BOT - 1 : s;
		if (!eot || eot < rs)
			return INFTY_SEG_R_NO_THINK_CLOSE;
		const char *re = eot;
		while (rs < re && (*rs == '\n' || *rs == ' ' || *rs == '\r'))
			rs++;
		while (re > rs && (re[-1] == '\n' || re[-1] == ' ' || re[-1] == '\r'))
			re--;
		const char *after = eot + sizeof EOT - 1;
		size_t alen = n - (size_t)(after - s);
		const char *bos = find(after, alen, BOS);
		if (bos) {
			const char *cs = bos + sizeof BOS - 1;
			const char *ce = find(cs, n - (size_t)(cs - s), EOS);
			if (!ce)
				return INFTY_SEG_R_TRUNCATED;
			*c = cs;
			*clen = (size_t)(ce - cs);
		} else {
			*c = after;
			*clen = alen;
		}
		*r = rs;
		*rlen = (size_t)(re - rs);
	} else {
		/* R1 style: the conclusion is everything after the last </think>. */
		const char *close = find_last(s, n, "</think>");
		if (!close)
			return INFTY_SEG_R_NO_THINK_CLOSE;
		const char *rs = s;
		while (rs < close && (*rs == ' ' || *rs == '\n' || *rs == '\r' || *rs == '\t'))
			rs++;
		if ((size_t)(close - rs) >= 7 && memcmp(rs, "<think>", 7) == 0) {
			rs += 7;
			if (rs < close && *rs == '\n')
				rs++;
		} else {
			rs = s;
		}
		const char *re = close;
		if (re > rs && re[-1] == '\n')
			re--;
		const char *cs = close + 8;
		size_t cl = n - (size_t)(cs - s);
		/* AM-DeepSeek-R1 wraps the answer: keep what is inside <answer>. */
		const char *t = cs;
		while (t < s + n && (*t == ' ' || *t == '\n' || *t == '\r' || *t == '\t'))
			t++;
		if ((size_t)(s + n - t) >= 8 && memcmp(t, "<answer>", 8) == 0) {
			const char *ae = find_last(t + 8, (size_t)(s + n - t - 8), "</answer>");
			if (!ae)
				return INFTY_SEG_R_TRUNCATED;
			cs = t + 8;
			cl = (size_t)(ae - cs);
		}
		*r = rs;
		*rlen = (size_t)(re - rs);
		*c = cs;
		*clen = cl;
	}
	if (all_ws(*r, *rlen))
		return INFTY_SEG_R_EMPTY_REASONING;
	if (all_ws(*c, *clen))
		return INFTY_SEG_R_EMPTY_CONCLUSION;
	return INFTY_SEG_OK;
}

/* ---- building items ------------------------------------------------------ */

/* Keys consumed into question/reasoning/conclusion/id; never copied to meta. */
static const char *const consumed[] = {
    "messages",
    "generations",
    "conversations",
    "problem",
    "question",
    "prompt",
    "trace",
    "solution",
    "deepseek_reasoning",
    "deepseek_solution",
    "deepseek_thinking_trajectory",
    "deepseek_attempt",
    "reasoning_content",
    "reasoning",
    "content",
    "response",
    "metadata",
    "system",
    "info",
    "uuid",
    "id",
    "is_reasoning_complete",
    "correctness_math_verify",
    "correctness_llama",
    "finish_reasons",
};

/* Small scalar fields of the row, in row order, for later stages. */
static struct json_object *make_meta(struct json_object *row)
{
	struct json_object *m = json_object_new_object();
	if (!m)
		return NULL;
	json_object_object_foreach(row, k, v)
	{
		int skip = 0;
		for (size_t i = 0; i < sizeof consumed / sizeof *consumed; i++)
			if (strcmp(k, consumed[i]) == 0)
				skip = 1;
		if (skip || !v)
			continue;
		enum json_type t = json_object_get_type(v);
		if (t == json_type_string && json_object_get_string_len(v) > 512)
			continue;
		if (t == json_type_array || t == json_type_object)
			continue;
		json_object_object_add(m, k, json_object_get(v));
	}
	return m;
}

/* "h:" + 32 hex digits of sha256(question NUL reasoning). */
static char *hash_id(const char *q, size_t qn, const char *r, size_t rn)
{
	struct infty_sha256 c;
	unsigned char d[32];
	char hex[65];
	infty_sha256_init(&c);
	infty_sha256_update(&c, q, qn);
	infty_sha256_update(&c, "", 1);
	infty_sha256_update(&c, r, rn);
	infty_sha256_final(&c, d);
	infty_hex(d, 16, hex);
	size_t k = 2 + 32 + 1;
	char *id = infty_malloc(k);
	if (id)
		snprintf(id, k, "h:%.32s", hex);
	return id;
}

/*
 * Fill a trace item from its parts, or turn it into a reject when the split
 * failed.  uuid (may be NULL) and suffix ("m", "g3", NULL) make the id.
 */
static int emit(struct infty_seg_items *out, struct json_object *row, enum infty_seg_format f,
                int gen, const char *uuid, const char *suffix, const char *q, size_t qn,
                enum infty_seg_reason why, const char *r, size_t rn, const char *c, size_t cn)
{
	struct infty_seg_item *it = new_item(out);
	if (!it)
		return INFTY_ENOMEM;
	it->format = f;
	it->generation = gen;
	it->reason = why;
	if (uuid && !(it->uuid = infty_strdup(uuid)))
		return INFTY_ENOMEM;
	if (why != INFTY_SEG_OK) {
		const char *d = why == INFTY_SEG_R_NO_THINK_CLOSE    ? "no closing think tag"
		                : why == INFTY_SEG_R_TRUNCATED       ? "the generation is cut off"
		                : why == INFTY_SEG_R_EMPTY_REASONING ? "the reasoning is empty"
		                : why == INFTY_SEG_R_EMPTY_CONCLUSION
		                    ? "nothing after the reasoning"
		                    : "unusable row";
		it->detail = infty_strdup(d);
		return it->detail ? 0 : INFTY_ENOMEM;
	}
	if (uuid && *uuid) {
		size_t k = strlen(uuid) + (suffix ? strlen(suffix) + 1 : 0) + 1;
		if (!(it->id = infty_malloc(k)))
			return INFTY_ENOMEM;
		snprintf(it->id, k, "%s%s%s", uuid, suffix ? ":" : "", suffix ? suffix : "");
	} else if (!(it->id = hash_id(q, qn, r, rn))) {
		return INFTY_ENOMEM;
	}
	if (!(it->question = infty_strndup(q, qn)) || !(it->reasoning = infty_strndup(r, rn)) ||
	    !(it->conclusion = infty_strndup(c, cn)) || !(it->meta = make_meta(row)))
		return INFTY_ENOMEM;
	it->reasoning_len = rn;
	it->conclusion_len = cn;
	return 0;
}

static int missing(struct infty_seg_items *out, const char *k)
{
	char d[96];
	snprintf(d, sizeof d, "missing field '%s'", k);
	return infty_seg_items_reject(out, INFTY_SEG_R_MISSING_FIELD, d);
}

/* A tagged text (assistant turn, trace) -> item. */
static int emit_tagged(struct infty_seg_items *out, struct json_object *row,
                       enum infty_seg_format f, int gen, const char *uuid, const char *suffix,
                       const char *q, size_t qn, const char *text, size_t tn)
{
	const char *r = NULL, *c = NULL;
	size_t rn = 0, cn = 0;
	enum infty_seg_reason why = infty_seg_split_tagged(text, tn, &r, &rn, &c, &cn);
	return emit(out, row, f, gen, uuid, suffix, q, qn, why, r, rn, c, cn);
}

/* Separate reasoning and answer fields -> item. */
static int emit_fields(struct infty_seg_items *out, struct json_object *row,
                       enum infty_seg_format f, const char *uuid, const char *q, size_t qn,
                       const char *r, size_t rn, const char *c, size_t cn)
{
	enum infty_seg_reason why = all_ws(r, rn)   ? INFTY_SEG_R_EMPTY_REASONING
	                            : all_ws(c, cn) ? INFTY_SEG_R_EMPTY_CONCLUSION
	                                            : INFTY_SEG_OK;
	return emit(out, row, f, -1, uuid, NULL, q, qn, why, r, rn, c, cn);
}

static const char *row_uuid(struct json_object *row)
{
	size_t n;
	const char *u = str_field(row, "uuid", &n);
	if (!u)
		u = str_field(row, "id", &n);
	return u && n ? u : NULL;
}

/* A chat list: first user/human turn = question, last assistant/gpt turn = answer. */
static int from_chat(struct infty_seg_items *out, struct json_object *row, enum infty_seg_format f,
                     struct json_object *list, const char *rk, const char *ck, const char *suffix)
{
	const char *q = NULL, *a = NULL;
	size_t qn = 0, an = 0;
	struct json_object *amsg = NULL;
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(list, i);
		size_t rl = 0, cl = 0;
		const char *role = str_field(m, rk, &rl);
		const char *content = str_field(m, ck, &cl);
		if (!role || !content)
			continue;
		if (!q && (strcmp(role, "user") == 0 || strcmp(role, "human") == 0)) {
			q = content;
			qn = cl;
		} else if (strcmp(role, "assistant") == 0 || strcmp(role, "gpt") == 0) {
			a = content;
			an = cl;
			amsg = m;
		}
	}
	if (!q) {
		size_t pn;
		const char *p = str_field(row, "problem", &pn);
		if (!p)
			return missing(out, "user turn");
		q = p;
		qn = pn;
	}
	if (!a)
		return missing(out, "assistant turn");
	/* An API-style turn carries its reasoning separately. */
	size_t rcn;
	const char *rc = str_field(amsg, "reasoning_content", &rcn);
	if (!rc)
		rc = str_field(amsg, "reasoning", &rcn);
	if (rc)
		return emit_fields(out, row, f, row_uuid(row), q, qn, rc, rcn, a, an);
	return emit_tagged(out, row, f, -1, row_uuid(row), suffix, q, qn, a, an);
}

/*
 * The reference's row acceptance (ZJU-REAL/InftyThink,
 * data_preprocess/segmentation.py, process() and split_thoughts()), step by
 * step; every way it returns None is a reject here, with its reason:
 *
 *   assert len(inst['messages']) == 2         -> ref_not_two_messages
 *   question = messages[0]['content']         (roles are not looked at)
 *   re.search(r'^<think>\n(.+)\n</think>(.+)$', messages[1]['content'], re.S)
 *                                             -> ref_no_match
 *   split_thoughts: step[0].isupper() on every "\n\n" paragraph after the
 *   first: IndexError on an empty one          -> ref_empty_paragraph
 *
 * The regex, spelled out: the text starts with "<think>\n"; the first group
 * is greedy, so the split is at the last "\n</think>" that leaves at least
 * one character on each side; the conclusion runs to the end (a final
 * newline included).  Whitespace-only reasoning or conclusion is accepted,
 * as it is there.  A question that is not a string (which the reference
 * would carry as is) cannot make a trace here: missing_field.
 */
static int from_reference(struct infty_seg_items *out, struct json_object *row, const char *suffix,
                          enum infty_seg_format f)
{
	static const char OPEN[] = "<think>\n", CLOSE[] = "\n</think>";
	const size_t ko = sizeof OPEN - 1, kc = sizeof CLOSE - 1;
	struct json_object *m = arr_field(row, "messages");
	if (!m || json_object_array_length(m) != 2)
		return infty_seg_items_reject(out, INFTY_SEG_R_REF_NOT_TWO_MESSAGES,
		                              "the reference needs exactly two messages");
	size_t qn, an;
	const char *q = str_field(json_object_array_get_idx(m, 0), "content", &qn);
	const char *a = str_field(json_object_array_get_idx(m, 1), "content", &an);
	if (!q)
		return missing(out, "messages[0].content");
	if (!a || an < ko || memcmp(a, OPEN, ko) != 0)
		return infty_seg_items_reject(out, INFTY_SEG_R_REF_NO_MATCH,
		                              a ? "the assistant turn does not start with "
		                                  "'<think>\\n'"
		                                : "the assistant turn has no string content");
	/* The last "\n</think>" with a character after it and one before it. */
	const char *close = find_last(a, an - 1, CLOSE);
	if (!close || (size_t)(close - a) < ko + 1)
		return infty_seg_items_reject(out, INFTY_SEG_R_REF_NO_MATCH,
		                              "no '\\n</think>' with reasoning before it and "
		                              "a conclusion after it");
	const char *r = a + ko, *c = close + kc;
	size_t rn = (size_t)(close - r), cn = an - (size_t)(c - a);
	/* Python's str.split('\n\n'): non-overlapping, left to right. */
	for (size_t pos = 0, k = 0;; k++) {
		const char *sep = memmem(r + pos, rn - pos, "\n\n", 2);
		size_t end = sep ? (size_t)(sep - r) : rn;
		if (k > 0 && end == pos)
			return infty_seg_items_reject(out, INFTY_SEG_R_REF_EMPTY_PARAGRAPH,
			                              "an empty paragraph, on which the "
			                              "reference's split_thoughts crashes");
		if (!sep)
			break;
		pos = end + 2;
	}
	return emit(out, row, f, -1, row_uuid(row), suffix, q, qn, INFTY_SEG_OK, r, rn, c, cn);
}

static int bool_at(struct json_object *list, size_t i, int dflt)
{
	if (!list || i >= json_object_array_length(list))
		return dflt;
	struct json_object *v = json_object_array_get_idx(list, i);
	if (!v || !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static int from_openr1(struct infty_seg_items *out, struct json_object *row,
                       enum infty_seg_pick pick)
{
	if (pick == INFTY_SEG_PICK_MESSAGES) {
		struct json_object *m = arr_field(row, "messages");
		if (!m)
			return missing(out, "messages");
		return from_chat(out, row, INFTY_SEG_FMT_OPENR1, m, "role", "content", "m");
	}
	struct json_object *gens = arr_field(row, "generations");
	if (!gens)
		return missing(out, "generations");
	size_t qn;
	const char *q = str_field(row, "problem", &qn);
	if (!q)
		return missing(out, "problem");
	struct json_object *complete = arr_field(row, "is_reasoning_complete");
	struct json_object *correct = arr_field(row, "correctness_math_verify");
	struct json_object *finish = arr_field(row, "finish_reasons");
	const char *uuid = row_uuid(row);
	size_t n = json_object_array_length(gens);
	size_t emitted = 0;
	for (size_t i = 0; i < n; i++) {
		/* Lists may be null or shorter than generations: unknown = not known good. */
		int ok_correct = bool_at(correct, i, 0);
		int ok_complete = bool_at(complete, i, 1);
		struct json_object *fr = finish && i < json_object_array_length(finish)
		                             ? json_object_array_get_idx(finish, i)
		                             : NULL;
		if (fr && json_object_is_type(fr, json_type_string) &&
		    strcmp(json_object_get_string(fr), "length") == 0)
			ok_complete = 0;
		if (pick != INFTY_SEG_PICK_ALL && !(ok_correct && ok_complete))
			continue;
		char suffix[32];
		snprintf(suffix, sizeof suffix, "g%zu", i);
		struct json_object *g = json_object_array_get_idx(gens, i);
		int rc;
		if (!g || !json_object_is_type(g, json_type_string)) {
			rc = emit(out, row, INFTY_SEG_FMT_OPENR1, (int)i, uuid, suffix, q, qn,
			          INFTY_SEG_R_MISSING_FIELD, NULL, 0, NULL, 0);
		} else if (!ok_complete) {
			rc = emit(out, row, INFTY_SEG_FMT_OPENR1, (int)i, uuid, suffix, q, qn,
			          INFTY_SEG_R_TRUNCATED, NULL, 0, NULL, 0);
		} else {
			rc = emit_tagged(out, row, INFTY_SEG_FMT_OPENR1, (int)i, uuid, suffix, q,
			                 qn, json_object_get_string(g),
			                 (size_t)json_object_get_string_len(g));
		}
		if (rc)
			return rc;
		emitted++;
		if (pick == INFTY_SEG_PICK_FIRST_CORRECT)
			break;
	}
	if (!emitted)
		return infty_seg_items_reject(out, INFTY_SEG_R_NO_CORRECT,
		                              "no generation is both correct and complete");
	return 0;
}

static enum infty_seg_format detect(struct json_object *row)
{
	struct json_object *md = field(row, "metadata");
	if (arr_field(row, "generations") ||
	    (arr_field(row, "messages") && field(row, "uuid") && field(row, "problem")))
		return INFTY_SEG_FMT_OPENR1;
	if (arr_field(row, "messages"))
		return INFTY_SEG_FMT_MESSAGES;
	if (arr_field(row, "conversations"))
		return INFTY_SEG_FMT_CONVERSATIONS;
	if (field(row, "deepseek_reasoning") || field(md, "deepseek_reasoning"))
		return INFTY_SEG_FMT_OPENTHOUGHTS;
	if (field(row, "deepseek_thinking_trajectory"))
		return INFTY_SEG_FMT_S1K;
	if (field(row, "reasoning_content") || field(row, "reasoning"))
		return INFTY_SEG_FMT_REASONING;
	if (field(row, "trace"))
		return INFTY_SEG_FMT_TRACE;
	if (field(row, "question") && field(row, "solution"))
		return INFTY_SEG_FMT_LIMO;
	return INFTY_SEG_FMT_AUTO;
}

/* The first of several candidate string fields. */
static const char *first_str(struct json_object *o, const char *const *keys, size_t *len,
                             const char **which)
{
	for (; *keys; keys++) {
		const char *s = str_field(o, *keys, len);
		if (s) {
			if (which)
				*which = *keys;
			return s;
		}
	}
	if (which)
		*which = NULL;
	return NULL;
}

int infty_seg_extract(struct json_object *row, const struct infty_seg_input_opts *o,
                      struct infty_seg_items *out)
{
	if (!row || !json_object_is_type(row, json_type_object))
		return infty_seg_items_reject(out, INFTY_SEG_R_NOT_OBJECT,
		                              "the line is valid JSON but not an object");
	enum infty_seg_format f = o->format ? o->format : detect(row);
	if (o->accept == INFTY_SEG_ACCEPT_REFERENCE) {
		/* The reference reads `messages` whatever else the row holds; the
		 * id keeps the scheme of the default pick so runs can be joined. */
		int r1 = f == INFTY_SEG_FMT_OPENR1;
		return from_reference(out, row, r1 ? "m" : NULL,
		                      r1 ? INFTY_SEG_FMT_OPENR1 : INFTY_SEG_FMT_MESSAGES);
	}
	static const char *const qkeys[] = {"problem", "question", "prompt", NULL};
	size_t qn = 0, rn = 0, cn = 0;
	const char *q, *r, *c;
	switch (f) {
	case INFTY_SEG_FMT_AUTO:
	case INFTY_SEG_FMT_COUNT_:
		break;
	case INFTY_SEG_FMT_OPENR1:
		return from_openr1(out, row, o->pick);
	case INFTY_SEG_FMT_MESSAGES: {
		struct json_object *m = arr_field(row, "messages");
		if (!m)
			return missing(out, "messages");
		return from_chat(out, row, f, m, "role", "content", NULL);
	}
	case INFTY_SEG_FMT_CONVERSATIONS: {
		struct json_object *m = arr_field(row, "conversations");
		if (!m)
			return missing(out, "conversations");
		/* ShareGPT uses from/value; some exports use role/content. */
		struct json_object *m0 =
		    json_object_array_length(m) ? json_object_array_get_idx(m, 0) : NULL;
		if (field(m0, "role"))
			return from_chat(out, row, f, m, "role", "content", NULL);
		return from_chat(out, row, f, m, "from", "value", NULL);
	}
	case INFTY_SEG_FMT_OPENTHOUGHTS: {
		struct json_object *src =
		    field(row, "deepseek_reasoning") ? row : field(row, "metadata");
		if (!(q = first_str(src, qkeys, &qn, NULL)) &&
		    !(q = first_str(row, qkeys, &qn, NULL)))
			return missing(out, "problem");
		if (!(r = str_field(src, "deepseek_reasoning", &rn)))
			return missing(out, "deepseek_reasoning");
		if (!(c = str_field(src, "deepseek_solution", &cn)))
			return missing(out, "deepseek_solution");
		return emit_fields(out, row, f, row_uuid(row), q, qn, r, rn, c, cn);
	}
	case INFTY_SEG_FMT_S1K:
		if (!(q = first_str(row, qkeys, &qn, NULL)))
			return missing(out, "question");
		if (!(r = str_field(row, "deepseek_thinking_trajectory", &rn)))
			return missing(out, "deepseek_thinking_trajectory");
		if (!(c = str_field(row, "deepseek_attempt", &cn)))
			return missing(out, "deepseek_attempt");
		return emit_fields(out, row, f, row_uuid(row), q, qn, r, rn, c, cn);
	case INFTY_SEG_FMT_LIMO: {
		if (!(q = first_str(row, qkeys, &qn, NULL)))
			return missing(out, "question");
		if (!(r = str_field(row, "solution", &rn)))
			return missing(out, "solution");
		/* LIMO's solution is the whole untagged trace; the answer is the conclusion. */
		struct json_object *a = field(row, "answer");
		if (!a || json_object_is_type(a, json_type_null))
			return missing(out, "answer");
		c = json_object_get_string(a);
		cn = strlen(c);
		return emit_fields(out, row, f, row_uuid(row), q, qn, r, rn, c, cn);
	}
	case INFTY_SEG_FMT_REASONING: {
		static const char *const rkeys[] = {"reasoning_content", "reasoning", NULL};
		static const char *const ckeys[] = {"content", "response", "answer", NULL};
		if (!(q = first_str(row, qkeys, &qn, NULL)))
			return missing(out, "problem");
		if (!(r = first_str(row, rkeys, &rn, NULL)))
			return missing(out, "reasoning_content");
		if (!(c = first_str(row, ckeys, &cn, NULL)))
			return missing(out, "content");
		return emit_fields(out, row, f, row_uuid(row), q, qn, r, rn, c, cn);
	}
	case INFTY_SEG_FMT_TRACE: {
		size_t tn;
		const char *t;
		if (!(q = first_str(row, qkeys, &qn, NULL)))
			return missing(out, "problem");
		if (!(t = str_field(row, "trace", &tn)))
			return missing(out, "trace");
		return emit_tagged(out, row, f, -1, row_uuid(row), NULL, q, qn, t, tn);
	}
	}
	return infty_seg_items_reject(out, INFTY_SEG_R_UNKNOWN_FORMAT,
	                              "no known dataset shape matches the row's fields");
}
