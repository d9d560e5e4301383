/*
 * build_instances.c - turn one summarized record into its n InftyThink
 * training instances, following the reference's Step 3 table exactly, and
 * keep the counters infty-build reports (its stats fields; the frame keeps
 * the rejects by reason).
 *
 * A trace is all or nothing: if any summary it needs is missing or empty, or
 * one instance would not fit --max-tokens, no instance is produced and the
 * caller writes the record to the reject file.  The reference instead kept
 * n-1 segments when the last summary failed, silently losing the end of the
 * reasoning; we never shorten a trace.
 */
#include "build_instances.h"

#include "infty/json_write.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The literal pieces of the reference templates (inftythink-method.md). */
#define T_USER        "User:"
#define T_ASSISTANT   "Assistant:"
#define T_HIST_OPEN   "<history>"
#define T_HIST_CLOSE  "</history>"
#define T_THINK_OPEN  "<think>\n"
#define T_THINK_CLOSE "\n</think>"
#define T_SUM_OPEN    "\n<summary>\n"
#define T_SUM_CLOSE   "\n</summary>"
/* The messages layout carries the history inside the user turn instead. */
#define M_HIST_OPEN  "\n\n<history>\n"
#define M_HIST_CLOSE "\n</history>"

int infty_build_format_parse(const char *s, enum infty_build_format *out)
{
	if (!strcmp(s, "paper"))
		*out = INFTY_BUILD_PAPER;
	else if (!strcmp(s, "messages"))
		*out = INFTY_BUILD_MESSAGES;
	else if (!strcmp(s, "hf"))
		*out = INFTY_BUILD_HF;
	else if (!strcmp(s, "trl"))
		*out = INFTY_BUILD_TRL;
	else if (!strcmp(s, "trl-chat"))
		*out = INFTY_BUILD_TRL_CHAT;
	else
		return INFTY_EINVAL;
	return 0;
}

const char *infty_build_format_name(enum infty_build_format f)
{
	switch (f) {
	case INFTY_BUILD_PAPER:
		return "paper";
	case INFTY_BUILD_MESSAGES:
		return "messages";
	case INFTY_BUILD_HF:
		return "hf";
	case INFTY_BUILD_TRL:
		return "trl";
	case INFTY_BUILD_TRL_CHAT:
		return "trl-chat";
	}
	return "?";
}

int infty_build_format_meta_default(enum infty_build_format f)
{
	return f == INFTY_BUILD_PAPER || f == INFTY_BUILD_MESSAGES;
}

/* A growable byte string; pieces are appended with their exact lengths. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (infty_grow(&b->p, &b->cap, b->len + n + 1, 1) < 0) {
		b->oom = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

#define sb_lit(b, lit) sb_add((b), (lit), sizeof(lit) - 1)

/* A string field as pointer and length, or NULL when absent or not a string. */
static const char *get_str(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

struct piece {
	const char *s;
	size_t len;
};

/* What the record gives us, validated, with pointers into the record. */
struct trace {
	const char *id, *uuid;
	struct piece q, c;
	size_t n;
	struct piece *seg; /* n entries */
	struct piece *sum; /* n - 1 entries */
};

static int reject(struct infty_build_result *res, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(struct infty_build_result *res, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	va_end(ap);
	res->reason = reason;
	return INFTY_ESCHEMA;
}

const char *const infty_build_flag_names[INFTY_BUILD_NFLAGS] = {
    "leak", "refusal", "short", "long", "copy", "ungrounded", "early_answer", "language",
};
/* The reject reasons of --quality drop, static like every reason; the last for other names. */
static const char *const flag_reason[INFTY_BUILD_NFLAGS + 1] = {
    "quality_leak",         "quality_refusal",  "quality_short",
    "quality_long",         "quality_copy",     "quality_ungrounded",
    "quality_early_answer", "quality_language", "quality_other",
};

static size_t flag_index(const char *name)
{
	size_t f = 0;
	while (f < INFTY_BUILD_NFLAGS && strcmp(infty_build_flag_names[f], name))
		f++;
	return f;
}

/*
 * Count the flags of the summaries (infty-summarize's checks) into res and,
 * with drop, reject the trace at its first flagged summary.
 */
static int read_flags(struct json_object *sums, size_t n, int drop, struct infty_build_result *res)
{
	size_t first = n, first_flag = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *f;
		if (!json_object_object_get_ex(json_object_array_get_idx(sums, i), "flags", &f) ||
		    !json_object_is_type(f, json_type_array))
			continue;
		size_t k = json_object_array_length(f);
		res->checked++;
		res->flagged += k > 0;
		for (size_t j = 0; j < k; j++) {
			const char *name = json_object_get_string(json_object_array_get_idx(f, j));
			size_t x = flag_index(name ? name : "");
			res->flag_n[x]++;
			if (first == n) {
				first = i;
				first_flag = x;
			}
		}
	}
	if (drop && first < n)
		return reject(res, flag_reason[first_flag],
		              "summary %zu is flagged %s (--quality drop)", first,
		              first_flag < INFTY_BUILD_NFLAGS ? infty_build_flag_names[first_flag]
		                                              : "(another flag)");
	return 0;
}

/* Fill t from rec; 0, INFTY_ESCHEMA (res->reason set) or INFTY_ENOMEM. */
static int read_trace(struct json_object *rec, struct trace *t, int drop,
                      struct infty_build_result *res)
{
	size_t len;
	if (!json_object_is_type(rec, json_type_object))
		return reject(res, "schema", "record is not a JSON object");
	if (!(t->id = get_str(rec, "id", &len)))
		return reject(res, "schema", "missing string field 'id'");
	t->uuid = t->id;
	struct json_object *src;
	if (json_object_object_get_ex(rec, "source", &src) &&
	    json_object_is_type(src, json_type_object)) {
		const char *u = get_str(src, "uuid", &len);
		if (u)
			t->uuid = u;
	}
	if (!(t->q.s = get_str(rec, "question", &t->q.len)))
		return reject(res, "schema", "missing string field 'question'");
	if (!(t->c.s = get_str(rec, "conclusion", &t->c.len)))
		return reject(res, "schema", "missing string field 'conclusion'");
	struct json_object *segs, *sums, *nv;
	if (!json_object_object_get_ex(rec, "segments", &segs) ||
	    !json_object_is_type(segs, json_type_array))
		return reject(res, "schema", "missing array field 'segments'");
	t->n = json_object_array_length(segs);
	if (t->n == 0)
		return reject(res, "schema", "'segments' is empty");
	if (json_object_object_get_ex(rec, "n", &nv) &&
	    (!json_object_is_type(nv, json_type_int) || json_object_get_int64(nv) != (int64_t)t->n))
		return reject(res, "schema", "'n' does not match the %zu segments", t->n);
	t->seg = infty_calloc(t->n, sizeof *t->seg);
	t->sum = infty_calloc(t->n, sizeof *t->sum);
	if (!t->seg || !t->sum)
		return INFTY_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		struct json_object *s = json_object_array_get_idx(segs, i);
		if (!json_object_is_type(s, json_type_object) ||
		    !(t->seg[i].s = get_str(s, "text", &t->seg[i].len)))
			return reject(res, "schema", "segment %zu has no string 'text'", i);
	}
	if (t->n == 1)
		return 0;
	/* Every summary S_1..S_{n-1} is needed: one gap drops the whole trace. */
	if (!json_object_object_get_ex(rec, "summaries", &sums) ||
	    !json_object_is_type(sums, json_type_array))
		return reject(res, "missing_summary", "no 'summaries' array for %zu segments",
		              t->n);
	size_t have = json_object_array_length(sums);
	if (have < t->n - 1)
		return reject(res, "missing_summary", "%zu of %zu summaries", have, t->n - 1);
	if (have > t->n - 1)
		return reject(res, "schema", "%zu summaries for %zu segments (want %zu)", have,
		              t->n, t->n - 1);
	for (size_t i = 0; i + 1 < t->n; i++) {
		struct json_object *s = json_object_array_get_idx(sums, i), *iv;
		if (!json_object_is_type(s, json_type_object))
			return reject(res, "schema", "summary %zu is not an object", i);
		if (json_object_object_get_ex(s, "i", &iv) &&
		    (!json_object_is_type(iv, json_type_int) ||
		     json_object_get_int64(iv) != (int64_t)i))
			return reject(res, "schema", "summary at position %zu has a different 'i'",
			              i);
		if (!(t->sum[i].s = get_str(s, "text", &t->sum[i].len)))
			return reject(res, "missing_summary", "summary %zu has no string 'text'",
			              i);
		if (t->sum[i].len == 0)
			return reject(res, "missing_summary", "summary %zu is empty", i);
	}
	return read_flags(sums, t->n - 1, drop, res);
}

static int add_str(struct json_object *o, const char *key, const char *s, size_t len)
{
	return infty_json_add(o, key, json_object_new_string_len(s, (int)len));
}

static struct json_object *turn(const char *role, const char *s, size_t len)
{
	struct json_object *m = json_object_new_object();
	if (!m)
		return NULL;
	if (add_str(m, "role", role, strlen(role)) || add_str(m, "content", s, len)) {
		json_object_put(m);
		return NULL;
	}
	return m;
}

/* Append one {role, content} turn to the list a; 0 or INFTY_ENOMEM. */
static int add_turn(struct json_object *a, const char *role, const struct sbuf *text)
{
	struct json_object *t = turn(role, text->p, text->len);
	if (!t || json_object_array_add(a, t)) {
		json_object_put(t);
		return INFTY_ENOMEM;
	}
	return 0;
}

/* [user, assistant] when asst is given, else [user]; NULL on ENOMEM. */
static struct json_object *chat(const char *role, const struct sbuf *text, const struct sbuf *asst)
{
	struct json_object *a = json_object_new_array();
	if (!a)
		return NULL;
	if (add_turn(a, role, text) || (asst && add_turn(a, "assistant", asst))) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

/*
 * Instance i (1-based) of t.  prompt/target receive the untrained and the
 * trained text of the chosen format (what the token counts measure).
 */
static int make_instance(const struct infty_build_opts *o, const struct trace *t, size_t i,
                         struct sbuf *prompt, struct sbuf *target, struct json_object **out)
{
	const struct piece *rp = &t->seg[i - 1];
	const struct piece *prev = i > 1 ? &t->sum[i - 2] : NULL;
	const struct piece *cur = i < t->n ? &t->sum[i - 1] : NULL;

	target->len = prompt->len = 0;
	sb_lit(target, T_THINK_OPEN);
	sb_add(target, rp->s, rp->len);
	sb_lit(target, T_THINK_CLOSE);
	if (cur) {
		sb_lit(target, T_SUM_OPEN);
		sb_add(target, cur->s, cur->len);
		sb_lit(target, T_SUM_CLOSE);
	} else {
		sb_add(target, t->c.s, t->c.len);
	}
	if (o->format == INFTY_BUILD_PAPER || o->format == INFTY_BUILD_TRL) {
		sb_lit(prompt, T_USER);
		sb_add(prompt, t->q.s, t->q.len);
		sb_lit(prompt, T_ASSISTANT);
		if (prev) {
			sb_lit(prompt, T_HIST_OPEN);
			sb_add(prompt, prev->s, prev->len);
			sb_lit(prompt, T_HIST_CLOSE);
		}
	} else {
		sb_add(prompt, t->q.s, t->q.len);
		if (prev) {
			sb_lit(prompt, M_HIST_OPEN);
			sb_add(prompt, prev->s, prev->len);
			sb_lit(prompt, M_HIST_CLOSE);
		}
	}
	/* An empty string must still be a valid pointer for json-c. */
	sb_add(prompt, "", 0);
	sb_add(target, "", 0);
	if (prompt->oom || target->oom)
		return INFTY_ENOMEM;

	struct json_object *r = json_object_new_object();
	if (!r)
		return INFTY_ENOMEM;
	int rc = 0;
	static const struct piece none = {"", 0};
	switch (o->format) {
	case INFTY_BUILD_PAPER:
		rc = add_str(r, "input", prompt->p, prompt->len);
		if (!rc)
			rc = add_str(r, "target", target->p, target->len);
		break;
	case INFTY_BUILD_TRL:
		rc = add_str(r, "prompt", prompt->p, prompt->len);
		if (!rc)
			rc = add_str(r, "completion", target->p, target->len);
		break;
	case INFTY_BUILD_MESSAGES:
		rc = infty_json_add(r, "messages", chat("user", prompt, target));
		break;
	case INFTY_BUILD_TRL_CHAT:
		/* TRL's conversational prompt-completion: the loss falls on the
		 * completion's tokens only, whatever the chat template. */
		rc = infty_json_add(r, "prompt", chat("user", prompt, NULL));
		if (!rc)
			rc = infty_json_add(r, "completion", chat("assistant", target, NULL));
		break;
	case INFTY_BUILD_HF: {
		const struct piece *h = prev ? prev : &none, *s = cur ? cur : &none;
		const struct piece *c = cur ? &none : &t->c;
		if (!rc)
			rc = add_str(r, "uuid", t->uuid, strlen(t->uuid));
		if (!rc)
			rc = infty_json_add(r, "reasoning_index",
			                    json_object_new_int64((int64_t)i - 1));
		if (!rc)
			rc = add_str(r, "question", t->q.s, t->q.len);
		if (!rc)
			rc = add_str(r, "history", h->s, h->len);
		if (!rc)
			rc = add_str(r, "reasoning_process", rp->s, rp->len);
		if (!rc)
			rc = add_str(r, "summary", s->s, s->len);
		if (!rc)
			rc = add_str(r, "conclusion", c->s, c->len);
		if (!rc)
			rc = infty_json_add(r, "messages", chat("user", prompt, target));
		break;
	}
	}
	if (rc) {
		json_object_put(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int add_meta(struct json_object *r, const struct trace *t, size_t i, int64_t pt, int64_t tt)
{
	struct json_object *m = json_object_new_object();
	if (!m)
		return INFTY_ENOMEM;
	int rc = add_str(m, "id", t->id, strlen(t->id));
	if (!rc)
		rc = infty_json_add(m, "iteration", json_object_new_int64((int64_t)i));
	if (!rc)
		rc = infty_json_add(m, "n", json_object_new_int64((int64_t)t->n));
	if (!rc && pt >= 0)
		rc = infty_json_add(m, "prompt_tokens", json_object_new_int64(pt));
	if (!rc && tt >= 0)
		rc = infty_json_add(m, "target_tokens", json_object_new_int64(tt));
	if (rc) {
		json_object_put(m);
		return rc;
	}
	return infty_json_add(r, "meta", m);
}

void infty_build_result_clear(struct infty_build_result *res)
{
	for (size_t i = 0; i < res->n_inst; i++)
		json_object_put(res->inst[i]);
	res->n_inst = 0;
	res->reason = NULL;
	res->detail[0] = '\0';
}

void infty_build_result_release(struct infty_build_result *res)
{
	infty_build_result_clear(res);
	infty_free(res->inst);
	infty_free(res->prompt_tok);
	infty_free(res->target_tok);
	memset(res, 0, sizeof *res);
}

int infty_build_trace(const struct infty_build_opts *o, struct json_object *rec,
                      struct infty_build_result *res)
{
	struct trace t = {0};
	struct sbuf prompt = {0}, target = {0};
	infty_build_result_clear(res);
	res->checked = res->flagged = 0;
	memset(res->flag_n, 0, sizeof res->flag_n);
	int rc = read_trace(rec, &t, o->drop_flagged, res);
	if (rc)
		goto out;
	if (infty_grow(&res->inst, &res->cap, t.n, sizeof *res->inst) ||
	    infty_grow(&res->prompt_tok, &res->tok_cap, t.n, sizeof *res->prompt_tok)) {
		rc = INFTY_ENOMEM;
		goto out;
	}
	/* prompt_tok and target_tok share tok_cap: grow the second to match. */
	{
		int64_t *p = infty_realloc(res->target_tok, res->tok_cap * sizeof *p);
		if (!p) {
			rc = INFTY_ENOMEM;
			goto out;
		}
		res->target_tok = p;
	}
	for (size_t i = 1; i <= t.n; i++) {
		struct json_object *inst = NULL;
		int64_t pt = -1, tt = -1;
		rc = make_instance(o, &t, i, &prompt, &target, &inst);
		if (rc)
			goto out;
		res->inst[res->n_inst++] = inst;
		if (o->count) {
			pt = o->count(o->count_ctx, prompt.p, prompt.len);
			tt = pt < 0 ? pt : o->count(o->count_ctx, target.p, target.len);
			if (pt < 0 || tt < 0) {
				rc = reject(res, "token_count", "instance %zu/%zu: %s", i, t.n,
				            infty_strerror((int)(pt < 0 ? pt : tt)));
				goto out;
			}
			if (o->max_tokens > 0 && pt + tt > o->max_tokens) {
				rc =
				    reject(res, "too_long",
				           "instance %zu/%zu needs %lld tokens > --max-tokens %lld",
				           i, t.n, (long long)(pt + tt), (long long)o->max_tokens);
				goto out;
			}
		}
		res->prompt_tok[i - 1] = pt;
		res->target_tok[i - 1] = tt;
		if (o->meta && (rc = add_meta(inst, &t, i, pt, tt)))
			goto out;
	}
out:
	if (rc) {
		/* All or nothing: a failed trace leaves no instance behind. */
		const char *reason = res->reason;
		char detail[sizeof res->detail];
		memcpy(detail, res->detail, sizeof detail);
		infty_build_result_clear(res);
		res->reason = reason;
		memcpy(res->detail, detail, sizeof detail);
	}
	infty_free(t.seg);
	infty_free(t.sum);
	infty_free(prompt.p);
	infty_free(target.p);
	return rc;
}

/* ---- stats ------------------------------------------------------------ */

void infty_build_stats_init(struct infty_build_stats *s, enum infty_build_format f)
{
	memset(s, 0, sizeof *s);
	s->format = f;
}

int infty_build_stats_add(struct infty_build_stats *s, const struct infty_build_result *res)
{
	s->records_in++;
	s->traces_out++;
	s->instances_out += res->n_inst;
	s->n_hist[res->n_inst < 64 ? res->n_inst : 64]++;
	if (infty_grow(&s->prompt_tok, &s->tok_cap, s->n_tok + res->n_inst, sizeof(int64_t)))
		return INFTY_ENOMEM;
	int64_t *p = infty_realloc(s->target_tok, s->tok_cap * sizeof *p);
	if (!p)
		return INFTY_ENOMEM;
	s->target_tok = p;
	for (size_t i = 0; i < res->n_inst; i++) {
		if (res->prompt_tok[i] < 0)
			continue;
		s->prompt_tok[s->n_tok] = res->prompt_tok[i];
		s->target_tok[s->n_tok++] = res->target_tok[i];
	}
	return 0;
}

void infty_build_stats_reject(struct infty_build_stats *s)
{
	s->records_in++;
}

void infty_build_stats_quality(struct infty_build_stats *s, const struct infty_build_result *res,
                               const struct infty_build_opts *o)
{
	/* A record rejected before its summaries were all read has no counts. */
	s->drop_flagged = o->drop_flagged;
	s->q_checked += res->checked;
	s->q_flagged += res->flagged;
	s->q_traces += res->flagged > 0;
	s->q_dropped += res->reason && !strncmp(res->reason, "quality_", 8);
	for (size_t f = 0; f <= INFTY_BUILD_NFLAGS; f++)
		s->q_flag[f] += res->flag_n[f];
}

/* "quality": the policy, and the flags of the summaries read (docs/formats.md). */
static struct json_object *quality_json(const struct infty_build_stats *s)
{
	struct json_object *q = json_object_new_object(), *fl = json_object_new_object();
	int rc = !q || !fl;
	if (!rc)
		rc = add_str(q, "policy", s->drop_flagged ? "drop" : "keep", 4);
	if (!rc)
		rc = infty_json_add(q, "checked", json_object_new_int64((int64_t)s->q_checked));
	if (!rc)
		rc = infty_json_add(q, "flagged_summaries",
		                    json_object_new_int64((int64_t)s->q_flagged));
	if (!rc)
		rc = infty_json_add(q, "flagged_traces",
		                    json_object_new_int64((int64_t)s->q_traces));
	if (!rc)
		rc = infty_json_add(q, "dropped", json_object_new_int64((int64_t)s->q_dropped));
	for (size_t f = 0; f < INFTY_BUILD_NFLAGS && !rc; f++)
		rc = infty_json_add(fl, infty_build_flag_names[f],
		                    json_object_new_int64((int64_t)s->q_flag[f]));
	if (!rc && s->q_flag[INFTY_BUILD_NFLAGS])
		rc = infty_json_add(fl, "other",
		                    json_object_new_int64((int64_t)s->q_flag[INFTY_BUILD_NFLAGS]));
	if (!rc) {
		rc = infty_json_add(q, "flags", fl);
		fl = NULL;
	}
	json_object_put(fl);
	if (rc) {
		json_object_put(q);
		return NULL;
	}
	return q;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* min, p50, p90, p99, max, mean and sum of v (sorted in place). */
static struct json_object *dist(int64_t *v, size_t n)
{
	struct json_object *d = json_object_new_object();
	if (!d)
		return NULL;
	if (n)
		qsort(v, n, sizeof *v, cmp_i64);
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
		/* Nearest-rank percentiles: always a value that occurred. */
#define RANK(p) (n ? v[(size_t)((p) * (double)(n - 1) + 0.5)] : 0)
	int rc = infty_json_add(d, "count", json_object_new_int64((int64_t)n));
	if (!rc)
		rc = infty_json_add(d, "min", json_object_new_int64(n ? v[0] : 0));
	if (!rc)
		rc = infty_json_add(d, "p50", json_object_new_int64(RANK(0.50)));
	if (!rc)
		rc = infty_json_add(d, "p90", json_object_new_int64(RANK(0.90)));
	if (!rc)
		rc = infty_json_add(d, "p99", json_object_new_int64(RANK(0.99)));
	if (!rc)
		rc = infty_json_add(d, "max", json_object_new_int64(n ? v[n - 1] : 0));
	if (!rc)
		rc = infty_json_add(d, "sum", json_object_new_int64(sum));
#undef RANK
	if (rc) {
		json_object_put(d);
		return NULL;
	}
	return d;
}

/* The counts a progress snapshot shows (cheap: no sorting). */
static int add_counts(const struct infty_build_stats *s, struct json_object *j)
{
	return infty_json_add(j, "records_in", json_object_new_int64((int64_t)s->records_in)) ||
	               infty_json_add(j, "traces_out",
	                              json_object_new_int64((int64_t)s->traces_out)) ||
	               infty_json_add(j, "instances_out",
	                              json_object_new_int64((int64_t)s->instances_out))
	           ? INFTY_ENOMEM
	           : 0;
}

int infty_build_progress_fields(void *ctx, struct json_object *j)
{
	return add_counts(ctx, j);
}

int infty_build_stats_fields(void *ctx, struct json_object *j)
{
	struct infty_build_stats *s = ctx;
	struct json_object *h = NULL;
	const char *fn = infty_build_format_name(s->format);
	int rc = add_str(j, "format", fn, strlen(fn));
	if (!rc)
		rc = add_counts(s, j);
	if (!rc && (rc = infty_json_add(j, "traces_by_n", h = json_object_new_object())) == 0)
		for (size_t n = 1; n <= 64 && !rc; n++) {
			char key[16];
			if (!s->n_hist[n])
				continue;
			snprintf(key, sizeof key, n == 64 ? "%zu+" : "%zu", n);
			rc = infty_json_add(h, key, json_object_new_int64((int64_t)s->n_hist[n]));
		}
	if (!rc)
		rc = infty_json_add(j, "prompt_tokens", dist(s->prompt_tok, s->n_tok));
	if (!rc)
		rc = infty_json_add(j, "target_tokens", dist(s->target_tok, s->n_tok));
	if (!rc)
		rc = infty_json_add(j, "quality", quality_json(s));
	return rc;
}

void infty_build_stats_release(struct infty_build_stats *s)
{
	infty_free(s->prompt_tok);
	infty_free(s->target_tok);
	memset(s, 0, sizeof *s);
}
