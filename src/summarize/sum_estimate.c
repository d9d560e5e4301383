/*
 * sum_estimate.c - infty-summarize --dry-run: what a run would ask, before
 * anything is asked.  Every request is built as the engine builds it (the
 * same messages, both prompt modes), its contents counted with the
 * tokenizer, and the prompt tokens a server's prefix cache could serve
 * again (the longest common prefix with the trace's previous request) are
 * counted too; then the completion budget, the cost at given prices and
 * the hours at given throughputs follow by arithmetic.  Nothing is sent and
 * nothing but the stats is written.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/progress.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"
#include "infty/utf8.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The chat template's tokens around each message and the generation
 * prompt, as Qwen's ChatML counts them: "<|im_start|>ROLE\n" (3 tokens),
 * "<|im_end|>\n" (2), and "<|im_start|>assistant\n" (3) to answer.
 */
#define MSG_HEAD 3
#define MSG_TAIL 2
#define GEN_HEAD 3

struct est {
	const struct sum_config *c;
	struct sum_estimate *out;
	struct infty_stage *st;
	struct sum_prompts prompts;
	struct infty_tokenizer *tok;
	struct infty_tok_ctx *tctx;
};

static long long count(struct est *e, const char *s, size_t n)
{
	if (e->tctx) {
		int64_t k = infty_tok_count(e->tctx, s, n);
		if (k >= 0)
			return k;
	}
	return infty_sum_count_tokens(s, n);
}

static const char *content(struct json_object *m, size_t *len)
{
	struct json_object *x;
	if (!json_object_object_get_ex(m, "content", &x)) {
		*len = 0;
		return "";
	}
	*len = (size_t)json_object_get_string_len(x);
	return json_object_get_string(x);
}

static const char *role(struct json_object *m)
{
	struct json_object *x;
	return json_object_object_get_ex(m, "role", &x) ? json_object_get_string(x) : "";
}

/* Prompt tokens of a request: every content, its framing, the generation prompt. */
static long long prompt_tokens(struct est *e, struct json_object *msgs)
{
	long long n = GEN_HEAD;
	for (size_t k = 0; k < json_object_array_length(msgs); k++) {
		size_t len;
		const char *s = content(json_object_array_get_idx(msgs, k), &len);
		n += MSG_HEAD + count(e, s, len) + MSG_TAIL;
	}
	return n;
}

/*
 * The tokens a request shares with the one before it, from the start: the
 * messages they have equal, whole, then of the first that differs (same
 * role) the text both begin with.  A prefix cache can serve these again.
 */
static long long shared_tokens(struct est *e, struct json_object *a, struct json_object *b)
{
	long long n = 0;
	size_t na = json_object_array_length(a), nb = json_object_array_length(b);
	for (size_t k = 0; k < na && k < nb; k++) {
		struct json_object *ma = json_object_array_get_idx(a, k);
		struct json_object *mb = json_object_array_get_idx(b, k);
		if (strcmp(role(ma), role(mb)))
			break;
		size_t la, lb;
		const char *sa = content(ma, &la), *sb = content(mb, &lb);
		if (la == lb && !memcmp(sa, sb, la)) {
			n += MSG_HEAD + count(e, sa, la) + MSG_TAIL;
			continue;
		}
		size_t c = 0;
		while (c < la && c < lb && sa[c] == sb[c])
			c++;
		/* Back to a character boundary: a token never holds half of one. */
		while (c && (sa[c] & 0xC0) == 0x80)
			c--;
		n += MSG_HEAD + (c ? count(e, sa, c) : 0);
		break;
	}
	return n;
}

/* One trace's requests in both modes (t: its view). */
static int estimate_trace(struct est *e, const struct sum_trace_view *t)
{
	struct sum_estimate *o = e->out;
	struct json_object *prev[2] = {NULL, NULL};
	int rc = 0;
	for (size_t i = 0; i + 1 < t->n && !rc; i++) {
		if ((i & 15) == 15 && infty_stage_cancelled()) {
			rc = INFTY_ECANCELED;
			break;
		}
		for (int m = 0; m < 2; m++) {
			/* Update mode: the previous summary is not known yet: its slot is counted.
			 */
			struct json_object *msgs = infty_sum_req_messages(
			    t, i, m ? SUM_MODE_UPDATE : SUM_MODE_CUMULATIVE, &e->prompts, "");
			if (!msgs) {
				rc = INFTY_ENOMEM;
				break;
			}
			long long p = prompt_tokens(e, msgs);
			long long r = prev[m] ? shared_tokens(e, prev[m], msgs) : 0;
			if (m) {
				o->upd_prompt += (uint64_t)p;
				o->upd_repeat += (uint64_t)r;
			} else {
				o->cum_prompt += (uint64_t)p;
				o->cum_repeat += (uint64_t)r;
			}
			json_object_put(prev[m]);
			prev[m] = msgs;
		}
		o->requests++;
		o->summary_slots += i > 0;
	}
	json_object_put(prev[0]);
	json_object_put(prev[1]);
	return rc;
}

/* The view of a segment record, or a reason it is not one (why: scratch). */
static const char *view_of(struct json_object *rec, struct sum_trace_view *t, char *why, size_t wl)
{
	struct json_object *x, *segs;
	if (!json_object_is_type(rec, json_type_object))
		return "not an object";
	if (!json_object_object_get_ex(rec, "question", &x) ||
	    !json_object_is_type(x, json_type_string))
		return "missing string field 'question'";
	t->question = json_object_get_string(x);
	if (!json_object_object_get_ex(rec, "segments", &segs) ||
	    !json_object_is_type(segs, json_type_array) || !json_object_array_length(segs))
		return "missing non-empty array 'segments'";
	t->n = json_object_array_length(segs);
	t->seg = infty_calloc(t->n, sizeof *t->seg);
	t->seg_len = infty_calloc(t->n, sizeof *t->seg_len);
	if (!t->seg || !t->seg_len)
		return "out of memory";
	for (size_t k = 0; k < t->n; k++) {
		struct json_object *s = json_object_array_get_idx(segs, k);
		if (!json_object_object_get_ex(s, "text", &x) ||
		    !json_object_is_type(x, json_type_string)) {
			snprintf(why, wl, "segments[%zu] has no string 'text'", k);
			return why;
		}
		t->seg[k] = json_object_get_string(x);
		t->seg_len[k] = (size_t)json_object_get_string_len(x);
	}
	return NULL;
}

static int open_tokenizer(struct est *e)
{
	const char *path = infty_sum_tokenizer_path(e->c);
	if (!path)
		return 0;
	char td[256] = "";
	int rc = infty_tokenizer_load(&e->tok, path, td, sizeof td);
	if (rc)
		return infty_stage_fail(e->st, rc == INFTY_ENOMEM ? rc : INFTY_EINVAL, "%s: %s",
		                        path, td);
	if (!(e->tctx = infty_tok_ctx_new(e->tok)))
		return INFTY_ENOMEM;
	e->out->tokenizer = path;
	return 0;
}

static int run(struct est *e)
{
	char detail[512];
	int rc = infty_sum_prompts_load(&e->prompts, e->c->prompt_dir, detail, sizeof detail);
	if (rc)
		return infty_stage_fail(e->st, rc == INFTY_ENOMEM ? rc : INFTY_EINVAL, "%s",
		                        detail);
	if ((rc = open_tokenizer(e)))
		return rc;
	struct infty_reader *in;
	while ((rc = infty_stage_next_input(e->st, &in)) == 1) {
		struct json_object *rec;
		uint64_t line;
		while ((rc = infty_reader_next(in, &rec, &line)) != 0) {
			const char *bad = NULL;
			char why[160];
			struct sum_trace_view t = {0};
			if (rc < 0 && rc != INFTY_EJSON && rc != INFTY_EUTF8)
				return infty_stage_fail(e->st, rc, "%s: %s", infty_reader_path(in),
				                        *infty_reader_detail(in)
				                            ? infty_reader_detail(in)
				                            : infty_strerror(rc));
			if (rc < 0)
				bad = rc == INFTY_EJSON ? "bad_json" : "bad_utf8";
			else if ((bad = view_of(rec, &t, why, sizeof why)) != NULL &&
			         !strcmp(bad, "out of memory"))
				rc = INFTY_ENOMEM;
			if (rc >= 0 && !bad) {
				e->out->traces++;
				rc = estimate_trace(e, &t);
			} else if (rc >= 0 || rc == INFTY_EJSON || rc == INFTY_EUTF8) {
				size_t len;
				const char *raw = infty_reader_line(in, &len);
				struct infty_reject r = {.line = line,
				                         .reason = rc < 0 ? bad : "bad_record",
				                         .detail =
				                             rc < 0 ? infty_reader_detail(in) : bad,
				                         .raw = raw,
				                         .raw_len = len};
				rc = infty_stage_reject(e->st, &r);
			}
			infty_free((void *)t.seg);
			infty_free(t.seg_len);
			json_object_put(rec);
			if (rc < 0)
				return rc;
			if (infty_stage_cancelled())
				return INFTY_ECANCELED;
			infty_stage_progress(e->st, e->out->traces + infty_stage_rejected(e->st),
			                     NULL);
		}
	}
	return rc;
}

int infty_sum_estimate_run(struct infty_stage *st, const struct sum_config *c,
                           struct sum_estimate *out)
{
	struct est e = {.c = c, .out = out, .st = st};
	out->max_tokens = c->max_tokens;
	out->mode = c->mode;
	int rc = run(&e);
	infty_sum_prompts_release(&e.prompts);
	infty_tok_ctx_free(e.tctx);
	infty_tokenizer_free(e.tok);
	return rc;
}

/* ---- the figures ------------------------------------------------------------ */

/* The money and the hours of one prompt mode: price and throughput applied. */
struct figures {
	uint64_t prompt, repeat, budget;
	double cost_prompt, cost_prompt_cached, cost_completion; /* < 0: no prices */
	double prefill_h, prefill_h_cached, decode_h;            /* < 0: no throughput */
};

static struct figures figures_of(const struct sum_estimate *o, uint64_t prompt, uint64_t repeat)
{
	struct figures f = {prompt, repeat, o->requests * (uint64_t)o->max_tokens, -1, -1, -1, -1,
	                    -1,     -1};
	if (o->price_in >= 0) {
		double pc = o->price_cached >= 0 ? o->price_cached : o->price_in;
		f.cost_prompt = (double)prompt * o->price_in / 1e6;
		f.cost_prompt_cached =
		    ((double)(prompt - repeat) * o->price_in + (double)repeat * pc) / 1e6;
		f.cost_completion = (double)f.budget * (o->price_out > 0 ? o->price_out : 0) / 1e6;
	}
	if (o->prefill_tps > 0) {
		f.prefill_h = (double)prompt / o->prefill_tps / 3600;
		f.prefill_h_cached = (double)(prompt - repeat) / o->prefill_tps / 3600;
	}
	if (o->decode_tps > 0)
		f.decode_h = (double)f.budget / o->decode_tps / 3600;
	return f;
}

static struct json_object *num_or_null(double v)
{
	return v < 0 ? NULL : json_object_new_double(v);
}

static int mode_json(struct json_object *o, const char *name, const struct figures *f,
                     uint64_t slots)
{
	struct json_object *m = json_object_new_object();
	int rc = !m ||
	         infty_json_add(m, "prompt_tokens", json_object_new_int64((int64_t)f->prompt)) ||
	         infty_json_add(m, "repeated_tokens", json_object_new_int64((int64_t)f->repeat));
	if (!rc && slots)
		rc = infty_json_add(m, "summary_slots", json_object_new_int64((int64_t)slots));
	rc = rc || json_object_object_add(m, "cost_prompt", num_or_null(f->cost_prompt)) ||
	     json_object_object_add(m, "cost_prompt_cached", num_or_null(f->cost_prompt_cached)) ||
	     json_object_object_add(m, "prefill_hours", num_or_null(f->prefill_h)) ||
	     json_object_object_add(m, "prefill_hours_cached", num_or_null(f->prefill_h_cached)) ||
	     infty_json_add(o, name, m);
	if (rc && m && !json_object_object_get_ex(o, name, NULL))
		json_object_put(m);
	return rc ? INFTY_ENOMEM : 0;
}

int infty_sum_estimate_fields(void *ctx, struct json_object *o)
{
	const struct sum_estimate *e = ctx;
	struct figures c = figures_of(e, e->cum_prompt, e->cum_repeat);
	struct figures u = figures_of(e, e->upd_prompt, e->upd_repeat);
	struct json_object *x = json_object_new_object();
	int rc =
	    !x || infty_json_add(x, "traces", json_object_new_int64((int64_t)e->traces)) ||
	    infty_json_add(x, "requests", json_object_new_int64((int64_t)e->requests)) ||
	    infty_json_add(
	        x, "mode",
	        json_object_new_string(e->mode == SUM_MODE_UPDATE ? "update" : "cumulative")) ||
	    infty_json_add(x, "tokenizer",
	                   e->tokenizer ? json_object_new_string(e->tokenizer) : NULL) ||
	    mode_json(x, "cumulative", &c, 0) || mode_json(x, "update", &u, e->summary_slots) ||
	    infty_json_add(x, "max_tokens", json_object_new_int64(e->max_tokens)) ||
	    infty_json_add(x, "completion_budget", json_object_new_int64((int64_t)c.budget)) ||
	    json_object_object_add(x, "cost_completion", num_or_null(c.cost_completion)) ||
	    json_object_object_add(x, "decode_hours", num_or_null(c.decode_h)) ||
	    infty_json_add(o, "estimate", x);
	if (rc && x && !json_object_object_get_ex(o, "estimate", NULL))
		json_object_put(x);
	return rc ? INFTY_ENOMEM : 0;
}

/* 1234567 as "1,234,567". */
static const char *grouped(uint64_t v, char *b, size_t n)
{
	char d[32];
	int len = snprintf(d, sizeof d, "%llu", (unsigned long long)v), w = 0;
	for (int i = 0; i < len && (size_t)w + 2 < n; i++) {
		if (i && (len - i) % 3 == 0)
			b[w++] = ',';
		b[w++] = d[i];
	}
	b[w] = 0;
	return b;
}

static double share(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

/* A sum of money: whole units from 100 on, cents from 1, four digits below. */
static const char *money(double v, char *b, size_t n)
{
	snprintf(b, n, v >= 100 ? "%.0f" : v >= 1 ? "%.2f" : "%.4g", v);
	return b;
}

static const char *hours(double h, char *b, size_t n)
{
	infty_format_duration(h * 3600, b, n);
	return b;
}

void infty_sum_estimate_print(FILE *f, const struct sum_estimate *e)
{
	char a[32], b[32], c3[32], d[32], g[32];
	struct figures fc = figures_of(e, e->cum_prompt, e->cum_repeat);
	struct figures fu = figures_of(e, e->upd_prompt, e->upd_repeat);
	fprintf(f, "traces             %s\n", grouped(e->traces, a, sizeof a));
	fprintf(f, "requests           %s (one per summary: n-1 a trace)\n",
	        grouped(e->requests, a, sizeof a));
	fprintf(f,
	        "prompt tokens      cumulative %s, of which %s (%.1f%%) repeat the trace's "
	        "previous request\n",
	        grouped(fc.prompt, a, sizeof a), grouped(fc.repeat, b, sizeof b),
	        share(fc.repeat, fc.prompt));
	fprintf(f,
	        "                   update %s + the previous summary in %s requests, of which %s "
	        "(%.1f%%) repeat\n",
	        grouped(fu.prompt, a, sizeof a), grouped(e->summary_slots, b, sizeof b),
	        grouped(fu.repeat, c3, sizeof c3), share(fu.repeat, fu.prompt));
	fprintf(f,
	        "                   (%s; the chat template's 5 tokens a message and 3 to answer "
	        "included)\n",
	        e->tokenizer ? "exact, with the tokenizer" : "estimated: no tokenizer, bytes / 4");
	fprintf(f, "completion budget  %s (max_tokens %ld x %s requests; summaries are shorter)\n",
	        grouped(fc.budget, a, sizeof a), e->max_tokens, grouped(e->requests, b, sizeof b));
	const struct figures *m = e->mode == SUM_MODE_UPDATE ? &fu : &fc;
	const char *mn = e->mode == SUM_MODE_UPDATE ? "update" : "cumulative";
	if (m->cost_prompt >= 0)
		fprintf(f,
		        "cost (%s) prompt %s (%s with the prefix cache), completion at most %s: "
		        "at most %s (%s)%s\n",
		        mn, money(m->cost_prompt, a, sizeof a),
		        money(m->cost_prompt_cached, b, sizeof b),
		        money(m->cost_completion, c3, sizeof c3),
		        money(m->cost_prompt + m->cost_completion, d, sizeof d),
		        money(m->cost_prompt_cached + m->cost_completion, g, sizeof g),
		        e->mode == SUM_MODE_UPDATE ? "; the summaries in the prompts not counted"
		                                   : "");
	if (m->prefill_h >= 0 || m->decode_h >= 0) {
		fprintf(f, "time (%s) ", mn);
		if (m->prefill_h >= 0)
			fprintf(f, "prefill %s (%s with the prefix cache)",
			        hours(m->prefill_h, a, sizeof a),
			        hours(m->prefill_h_cached, b, sizeof b));
		if (m->decode_h >= 0)
			fprintf(f, "%sdecode at most %s", m->prefill_h >= 0 ? ", " : "",
			        hours(m->decode_h, a, sizeof a));
		if (m->prefill_h >= 0 && m->decode_h >= 0)
			fprintf(f, ": at most %s (%s)",
			        hours(m->prefill_h + m->decode_h, a, sizeof a),
			        hours(m->prefill_h_cached + m->decode_h, b, sizeof b));
		fputc('\n', f);
	}
}
