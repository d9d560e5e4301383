/*
 * inspect_check.c - recognise what stage wrote a record and check the
 * invariants of docs/formats.md on it: segments lossless in shape and within
 * eta (recounted when a tokenizer is given), n - 1 summaries in order, and
 * exactly n instances per trace, iterations 1..n, in order.
 */
#include "inspect.h"

#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *get_s(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int is_int(struct json_object *v)
{
	return v && json_object_is_type(v, json_type_int);
}

const char *inspect_record_id(struct json_object *rec)
{
	const char *id = get_s(rec, "id");
	struct json_object *meta = get(rec, "meta");
	if (!id && meta)
		id = get_s(meta, "id");
	if (!id)
		id = get_s(rec, "uuid");
	return id;
}

void inspect_validator_init(struct inspect_validator *v)
{
	memset(v, 0, sizeof *v);
}

void inspect_validator_release(struct inspect_validator *v)
{
	infty_free(v->cur_id);
	v->cur_id = NULL;
}

static void problem(struct inspect_validator *v, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct inspect_validator *v, uint64_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->problem)
		v->problem(v->problem_ctx, line, msg);
}

static int only_space(const char *s)
{
	for (; *s; s++)
		if (!strchr(" \t\r\n", *s))
			return 0;
	return 1;
}

static void check_segments(struct inspect_validator *v, struct json_object *rec, uint64_t line)
{
	const char *id = get_s(rec, "id");
	if (!id)
		problem(v, line, "missing string field 'id'");
	if (!get_s(rec, "question"))
		problem(v, line, "missing string field 'question'");
	if (!get_s(rec, "conclusion"))
		problem(v, line, "missing string field 'conclusion'");
	struct json_object *segs = get(rec, "segments"), *params = get(rec, "params");
	if (!json_object_is_type(segs, json_type_array) || !json_object_array_length(segs)) {
		problem(v, line, "'segments' is not a non-empty array");
		return;
	}
	size_t n = json_object_array_length(segs);
	struct json_object *nv = get(rec, "n");
	if (!is_int(nv) || json_object_get_int64(nv) != (int64_t)n)
		problem(v, line, "'n' is not the number of segments (%zu)", n);
	int64_t eta = 0;
	int strict = 1;
	if (params && is_int(get(params, "eta")))
		eta = json_object_get_int64(get(params, "eta"));
	if (params && get_s(params, "pack") && strcmp(get_s(params, "pack"), "strict"))
		strict = 0; /* the paper's packing overflows eta by design */
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(segs, i);
		const char *text = get_s(s, "text"), *sep = get_s(s, "sep"), *end = get_s(s, "end");
		struct json_object *tv = get(s, "tokens");
		if (!text || !*text) {
			problem(v, line, "segment %zu: 'text' is missing or empty", i);
			continue;
		}
		/* Lossless: text + sep over all segments is the reasoning, so a
		 * separator may only hold the whitespace that was between them. */
		if (!sep)
			problem(v, line, "segment %zu: missing string 'sep'", i);
		else if (!only_space(sep))
			problem(v, line, "segment %zu: 'sep' holds more than whitespace", i);
		else if (i + 1 == n && *sep)
			problem(v, line, "segment %zu: the last segment has a non-empty 'sep'", i);
		if (!end || (strcmp(end, "paragraph") && strcmp(end, "sentence") &&
		             strcmp(end, "hard") && strcmp(end, "final") && strcmp(end, "line")))
			problem(v, line, "segment %zu: 'end' is not a known reason", i);
		else if ((i + 1 == n) != !strcmp(end, "final"))
			problem(v, line, "segment %zu: 'final' must end exactly the last segment",
			        i);
		if (!is_int(tv)) {
			problem(v, line, "segment %zu: 'tokens' is not a whole number", i);
			continue;
		}
		int64_t tok = json_object_get_int64(tv);
		if (strict && eta > 0 && tok > eta)
			problem(v, line, "segment %zu: %lld tokens > eta %lld", i, (long long)tok,
			        (long long)eta);
		if (v->count) {
			int64_t real = v->count(v->count_ctx, text, strlen(text));
			if (real != tok)
				problem(v, line,
				        "segment %zu: 'tokens' is %lld but the text has %lld", i,
				        (long long)tok, (long long)real);
		}
	}
	if (get(rec, "summaries")) {
		struct json_object *sums = get(rec, "summaries");
		if (!json_object_is_type(sums, json_type_array) ||
		    json_object_array_length(sums) != n - 1) {
			problem(v, line, "'summaries' must hold n - 1 = %zu entries", n - 1);
			return;
		}
		for (size_t i = 0; i + 1 < n; i++) {
			struct json_object *s = json_object_array_get_idx(sums, i);
			const char *t = get_s(s, "text");
			if (!is_int(get(s, "i")) ||
			    json_object_get_int64(get(s, "i")) != (int64_t)i)
				problem(v, line, "summary %zu: 'i' is not %zu", i, i);
			if (!t || !*t)
				problem(v, line, "summary %zu: 'text' is missing or empty", i);
		}
	}
}

/*
 * The reject record of every stage (docs/formats.md): stage, file, line,
 * reason, detail, id, then the input as raw (or raw_base64) text, or, for
 * a summarize dead letter, the whole record.
 */
static void check_reject(struct inspect_validator *v, struct json_object *rec, uint64_t line)
{
	struct json_object *id = get(rec, "id");
	if (!get_s(rec, "stage") || !get_s(rec, "file") || !is_int(get(rec, "line")) ||
	    !get_s(rec, "reason") || !get_s(rec, "detail"))
		problem(v, line,
		        "reject record lacks one of the strings stage, file, reason, detail or the "
		        "whole number line");
	if (!id || (!json_object_is_type(id, json_type_null) && !get_s(rec, "id")))
		problem(v, line, "reject record: 'id' is neither a string nor null");
	if (!get_s(rec, "raw") && !get_s(rec, "raw_base64") && !get(rec, "record"))
		problem(v, line,
		        "reject record without its input ('raw', 'raw_base64' or 'record')");
}

/* Close the trace being read: it must have had all its n instances. */
static void end_trace(struct inspect_validator *v)
{
	if (v->cur_id && v->cur_n > 0 && (v->cur_seen != v->cur_n || v->cur_count != v->cur_n))
		problem(v, v->cur_line, "trace '%s': %lld of its %lld instances", v->cur_id,
		        (long long)v->cur_count, (long long)v->cur_n);
	if (v->cur_id && v->cur_n < 0 && !v->cur_hf_last)
		problem(v, v->cur_line, "trace '%s': its last instance has no conclusion",
		        v->cur_id);
	infty_free(v->cur_id);
	v->cur_id = NULL;
	v->cur_n = v->cur_seen = v->cur_count = 0;
}

/*
 * Instances of one trace come together: iteration (1-based) or
 * reasoning_index (0-based) counts up from the start.  n comes from meta;
 * hf without meta has no n, so there the last instance must be the one
 * with the conclusion (cur_n < 0 marks that case).
 */
static void check_sequence(struct inspect_validator *v, const char *id, int64_t iter, int64_t n,
                           int hf_last, uint64_t line)
{
	if (!id) {
		problem(v, line, "instance without an id (meta.id or uuid)");
		return;
	}
	if (!v->cur_id || strcmp(v->cur_id, id) || iter == 1) {
		end_trace(v);
		if (iter != 1)
			problem(v, line, "trace '%s' starts at iteration %lld, not 1", id,
			        (long long)iter);
		v->cur_id = infty_strdup(id);
		v->cur_n = n;
	} else if (iter != v->cur_seen + 1) {
		problem(v, line, "trace '%s': iteration %lld after %lld", id, (long long)iter,
		        (long long)v->cur_seen);
	}
	if (n > 0 && iter > n)
		problem(v, line, "trace '%s': iteration %lld > n %lld", id, (long long)iter,
		        (long long)n);
	v->cur_seen = iter;
	v->cur_count++;
	v->cur_line = line;
	v->cur_hf_last = hf_last;
}

static void check_target(struct inspect_validator *v, const char *t, int last, uint64_t line)
{
	if (!t) {
		problem(v, line, "missing target text");
		return;
	}
	if (strncmp(t, "<think>\n", 8) || !strstr(t, "\n</think>"))
		problem(v, line, "target does not start with <think>\\n … \\n</think>");
	int has_sum = strstr(t, "\n</think>\n<summary>\n") != NULL;
	if (last >= 0 && has_sum == last)
		problem(v, line,
		        last ? "the last iteration must end with the conclusion, not a summary"
		             : "a non-final iteration must end with a <summary>");
}

/* The content of turn i of the list rec[key] of len turns, when its role is role. */
static const char *turn_of(struct json_object *rec, const char *key, size_t len, size_t i,
                           const char *role)
{
	struct json_object *m = get(rec, key);
	if (!json_object_is_type(m, json_type_array) || json_object_array_length(m) != len)
		return NULL;
	struct json_object *t = json_object_array_get_idx(m, i);
	const char *r = get_s(t, "role");
	return r && !strcmp(r, role) ? get_s(t, "content") : NULL;
}

static const char *chat_part(struct json_object *rec, size_t i, const char *role)
{
	return turn_of(rec, "messages", 2, i, role);
}

int inspect_validate(struct inspect_validator *v, struct json_object *rec, uint64_t line)
{
	uint64_t before = v->problems;
	enum infty_kind k = infty_record_kind(rec);
	struct json_object *meta = get(rec, "meta");
	int64_t iter = 0, n = 0;
	if (meta) {
		if (!is_int(get(meta, "iteration")) || !is_int(get(meta, "n")))
			problem(v, line, "'meta' lacks whole-number 'iteration' and 'n'");
		else {
			iter = json_object_get_int64(get(meta, "iteration"));
			n = json_object_get_int64(get(meta, "n"));
		}
	}
	int last = meta && n > 0 ? iter == n : -1;
	switch (k) {
	case INFTY_KIND_SEGMENT:
	case INFTY_KIND_SUMMARIZED:
		end_trace(v);
		check_segments(v, rec, line);
		break;
	case INFTY_KIND_PAPER:
	case INFTY_KIND_TRL: {
		int trl = k == INFTY_KIND_TRL;
		const char *in = get_s(rec, trl ? "prompt" : "input");
		if (!in || strncmp(in, "User:", 5) || !strstr(in, "Assistant:"))
			problem(v, line, "%s is not 'User:' Q 'Assistant:' …",
			        trl ? "prompt" : "input");
		else if (last >= 0 && (iter > 1) != (strstr(in, "Assistant:<history>") != NULL))
			problem(v, line, "%s must carry <history> exactly when iteration > 1",
			        trl ? "prompt" : "input");
		check_target(v, get_s(rec, trl ? "completion" : "target"), last, line);
		if (meta)
			check_sequence(v, get_s(meta, "id"), iter, n, 1, line);
		break;
	}
	case INFTY_KIND_TRL_CHAT:
		if (!turn_of(rec, "prompt", 1, 0, "user"))
			problem(v, line, "'prompt' is not [user]");
		check_target(v, turn_of(rec, "completion", 1, 0, "assistant"), last, line);
		if (meta)
			check_sequence(v, get_s(meta, "id"), iter, n, 1, line);
		break;
	case INFTY_KIND_MESSAGES:
		if (!chat_part(rec, 0, "user"))
			problem(v, line, "'messages' is not [user, assistant]");
		check_target(v, chat_part(rec, 1, "assistant"), last, line);
		if (meta)
			check_sequence(v, get_s(meta, "id"), iter, n, 1, line);
		break;
	case INFTY_KIND_HF: {
		struct json_object *ri = get(rec, "reasoning_index");
		const char *c = get_s(rec, "conclusion"), *s = get_s(rec, "summary");
		if (!get_s(rec, "uuid") || !is_int(ri) || !get_s(rec, "question") ||
		    !get_s(rec, "history") || !s || !c)
			problem(v, line,
			        "hf record lacks one of uuid, reasoning_index, question, "
			        "history, summary, conclusion");
		else {
			int hf_last = *c != '\0';
			if (hf_last == (*s != '\0'))
				problem(v, line,
				        "exactly one of 'summary' and 'conclusion' must be set");
			if (!meta) {
				iter = json_object_get_int64(ri) + 1;
				n = -1;
			}
			check_target(v, chat_part(rec, 1, "assistant"), hf_last, line);
			check_sequence(v, get_s(rec, "uuid"), iter, n, hf_last, line);
		}
		break;
	}
	case INFTY_KIND_REJECT:
		check_reject(v, rec, line);
		break;
	case INFTY_KIND_ROW:
		/* A row's own schema is the segment stage's (infty-segment(1),
		 * INPUT SHAPES); that it has a field the stage reads is checked. */
		break;
	case INFTY_KIND_UNKNOWN:
		problem(v, line,
		        "not a record of any infty stage: no field a stage reads (messages, "
		        "generations, trace, ..., segments, input/target, stage/reason)");
		break;
	case INFTY_KIND_NOT_OBJECT:
	case INFTY_KIND_COUNT_:
		problem(v, line, "not a JSON object");
		break;
	}
	return (int)(v->problems - before);
}

int inspect_validate_end(struct inspect_validator *v)
{
	uint64_t before = v->problems;
	end_trace(v);
	return (int)(v->problems - before);
}
