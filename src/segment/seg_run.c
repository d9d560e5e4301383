/*
 * seg_run.c - the infty-segment stage: read rows in batches, turn each into
 * traces and segments on all cores, then write records, rejects and stats
 * in input order from one thread, so the output is the same for any thread
 * count and memory stays bounded by one batch.
 */
#include "seg_run.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/stage.h"

#include <json-c/json.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef INFTY_VERSION
#define INFTY_VERSION "0.0.0"
#endif

enum { KIND_TRACE, KIND_REJECT, KIND_OTHER_SHARD };

/* One item's outcome, made in parallel, written in order. */
struct result {
	int kind;
	enum infty_seg_reason reason;
	char *id;            /* trace: its base id, owned */
	struct infty_buf js; /* trace: the record after its id; reject: the whole line */
	int64_t *tok;        /* trace: tokens per segment, owned */
	size_t nseg;
	uint64_t hard, lines;
	uint64_t content_hash;        /* trace: for ids repeated within the run */
	char *detail;                 /* reject: one line for a person, owned (or NULL) */
	int generation;               /* reject: the OpenR1 generation, or -1 */
	enum infty_seg_format format; /* trace: the row's shape */
};

struct slot {
	char *line; /* owned copy of the input line */
	size_t len;
	uint64_t lineno;
	struct result *r;
	size_t nr, rcap;
	int err; /* a counter or allocation failure: the run stops */
};

struct ctx {
	const struct infty_seg_run_opts *o;
	const struct infty_seg_counter *c;
	const char *file; /* the input name as shown in records */
};

static char *dup_or_null(const char *s)
{
	return s ? infty_strdup(s) : NULL;
}

/*
 * Records are written by hand into a buffer (several times faster than
 * building json-c objects for them): a writer whose first error sticks, so
 * a record is a plain sequence of pieces and its error is read once.
 */
struct out {
	struct infty_buf *b;
	int rc;
};

static void put(struct out *o, const char *s)
{
	if (!o->rc)
		o->rc = infty_buf_append(o->b, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (!o->rc)
		o->rc = k < 0 || (size_t)k >= sizeof tmp ? INFTY_EINVAL
		                                         : infty_buf_append(o->b, tmp, (size_t)k);
}

/* A JSON string (NUL-terminated s, or s[0..n) when n != SIZE_MAX), or null. */
static void putstr_n(struct out *o, const char *s, size_t n)
{
	if (!s)
		put(o, "null");
	else if (!o->rc)
		o->rc = infty_json_write_string(o->b, s, n == SIZE_MAX ? strlen(s) : n);
}

static void putstr(struct out *o, const char *s)
{
	putstr_n(o, s, SIZE_MAX);
}

static struct result *new_result(struct slot *s)
{
	if (infty_grow(&s->r, &s->rcap, s->nr + 1, sizeof *s->r))
		return NULL;
	struct result *r = &s->r[s->nr++];
	memset(r, 0, sizeof *r);
	return r;
}

static int owns(const struct infty_seg_run_opts *o, const char *key)
{
	return o->shard_count <= 1 || infty_shard_owns(key, o->shard_index, o->shard_count);
}

/*
 * key: what decides the shard (NULL: the row's uuid, else its line number).
 * The record itself is written by the stage frame, in input order, from the
 * writing thread (write_slot); here only what it needs is kept.
 */
static int make_reject(const struct ctx *x, struct slot *s, const struct infty_seg_item *it,
                       const char *key_override)
{
	char key[48];
	const char *k = key_override ? key_override : it->uuid;
	if (!k) {
		snprintf(key, sizeof key, "line:%llu", (unsigned long long)s->lineno);
		k = key;
	}
	struct result *r = new_result(s);
	if (!r)
		return INFTY_ENOMEM;
	r->reason = it->reason;
	if (!owns(x->o, k)) {
		r->kind = KIND_OTHER_SHARD;
		return 0;
	}
	r->kind = KIND_REJECT;
	r->generation = it->generation;
	if ((it->detail && !(r->detail = infty_strdup(it->detail))) ||
	    (it->uuid && !(r->id = dup_or_null(it->uuid))))
		return INFTY_ENOMEM;
	/* The record itself, here on the worker: raw lines of rejects can be a
	 * quarter of the output (82 MB on the corpus), too much to escape on
	 * the writing thread alone. */
	struct json_object *extra = NULL;
	if (r->generation >= 0 &&
	    (!(extra = json_object_new_object()) ||
	     infty_json_add(extra, "generation", json_object_new_int(r->generation)))) {
		json_object_put(extra);
		return INFTY_ENOMEM;
	}
	struct infty_reject rej = {x->file,   s->lineno, infty_seg_reason_code(r->reason),
	                           r->detail, r->id,     extra,
	                           s->line,   s->len};
	int rc = infty_reject_format(&r->js, "segment", &rej);
	json_object_put(extra);
	return rc;
}

static int make_trace(const struct ctx *x, struct slot *s, const struct infty_seg_item *it,
                      void *cctx, struct infty_seg_spans *sp)
{
	const struct infty_seg_run_opts *o = x->o;
	if (!owns(o, it->id)) {
		struct result *r = new_result(s);
		if (!r)
			return INFTY_ENOMEM;
		r->kind = KIND_OTHER_SHARD;
		return 0;
	}
	struct infty_seg_params p = {
	    .eta = o->eta,
	    .pack = o->pack,
	    .min_tail = o->min_tail,
	    .count = x->c->count,
	    .cut = x->c->cut,
	    .begin = x->c->begin,
	    .ctx = cctx,
	};
	const char *t = it->reasoning;
	int rc = infty_seg_pack_text(&p, t, it->reasoning_len, sp);
	if (rc == INFTY_ENOMEM)
		return rc;
	if (rc) {
		/* The tokenizer failed on this text only: reject it and go on. */
		struct infty_seg_item bad = *it;
		char detail[96];
		snprintf(detail, sizeof detail, "counting tokens failed: %s", infty_strerror(rc));
		bad.reason = INFTY_SEG_R_TOKENIZER;
		bad.detail = detail;
		return make_reject(x, s, &bad, it->id);
	}
	int64_t sum = 0;
	for (size_t i = 0; i < sp->n; i++)
		sum += sp->v[i].tokens;
	char why[128] = "";
	if (o->max_trace_tokens && sum > o->max_trace_tokens)
		snprintf(why, sizeof why, "%lld reasoning tokens, above --max-trace-tokens %lld",
		         (long long)sum, (long long)o->max_trace_tokens);
	else if (o->max_segments && (int64_t)sp->n > o->max_segments)
		snprintf(why, sizeof why, "%zu segments, above --max-segments %lld", sp->n,
		         (long long)o->max_segments);
	if (*why) {
		struct infty_seg_item big = *it;
		big.reason = INFTY_SEG_R_TOO_LONG;
		big.detail = why;
		return make_reject(x, s, &big, it->id);
	}
	struct result *r = new_result(s);
	if (!r)
		return INFTY_ENOMEM;
	r->kind = KIND_TRACE;
	r->format = it->format;
	if (!(r->id = infty_strdup(it->id)) || !(r->tok = infty_malloc(sp->n * sizeof *r->tok)))
		return INFTY_ENOMEM;
	r->nseg = sp->n;
	/* Question NUL reasoning: what tells two traces with one uuid apart. */
	r->content_hash = infty_hash64_long(it->question, strlen(it->question)) * 31u ^
	                  infty_hash64_long(it->reasoning, it->reasoning_len);
	struct out b = {&r->js, 0};
	put(&b, ",\"source\":{\"format\":");
	putstr(&b, infty_seg_format_name(it->format));
	put(&b, ",\"uuid\":");
	putstr(&b, it->uuid);
	put(&b, ",\"pick\":");
	putstr(&b, it->format == INFTY_SEG_FMT_OPENR1 ? infty_seg_pick_name(o->in.pick) : NULL);
	if (it->generation >= 0)
		putf(&b, ",\"generation\":%d", it->generation);
	else
		put(&b, ",\"generation\":null");
	put(&b, ",\"file\":");
	putstr(&b, x->file);
	putf(&b, ",\"line\":%llu,\"meta\":", (unsigned long long)s->lineno);
	if (!b.rc)
		b.rc = infty_json_write(b.b, it->meta);
	put(&b, "},\"question\":");
	putstr(&b, it->question);
	put(&b, ",\"conclusion\":");
	putstr_n(&b, it->conclusion, it->conclusion_len);
	put(&b, ",\"segments\":[");
	int64_t total = 0;
	for (size_t i = 0; !b.rc && i < sp->n; i++) {
		const struct infty_seg_span *g = &sp->v[i];
		r->tok[i] = g->tokens;
		total += g->tokens;
		r->hard += g->end == INFTY_SEG_END_HARD;
		r->lines += g->end == INFTY_SEG_END_LINE;
		put(&b, i ? ",{\"text\":" : "{\"text\":");
		putstr_n(&b, t + g->off, g->len);
		putf(&b, ",\"tokens\":%lld,\"end\":\"%s\",\"sep\":", (long long)g->tokens,
		     infty_seg_end_name(g->end));
		putstr_n(&b, t + g->off + g->len, g->sep_len);
		if (g->step_tokens >= 0)
			putf(&b, ",\"step_tokens\":%lld", (long long)g->step_tokens);
		put(&b, "}");
	}
	putf(&b, "],\"n\":%zu,\"reasoning_tokens\":%lld,\"params\":{\"eta\":%lld,", sp->n,
	     (long long)total, (long long)o->eta);
	putf(&b, "\"pack\":\"%s\",\"min_tail\":%lld,\"tokenizer\":",
	     o->pack == INFTY_SEG_PACK_PAPER ? "paper" : "strict", (long long)o->min_tail);
	putstr(&b, x->c->hash);
	put(&b, ",\"version\":\"" INFTY_VERSION "\"}}");
	return b.rc;
}

/* Everything one input line turns into; runs on any thread. */
static void process(const struct ctx *x, struct slot *s, void *cctx, struct infty_seg_spans *sp)
{
	struct infty_seg_items items = {0};
	struct json_object *row = NULL;
	char detail[160] = "";
	int rc = infty_json_parse(s->line, s->len, &row, detail, sizeof detail);
	if (rc == INFTY_EUTF8)
		rc = infty_seg_items_reject(&items, INFTY_SEG_R_BAD_UTF8, detail);
	else if (rc)
		rc = infty_seg_items_reject(&items, INFTY_SEG_R_BAD_JSON, detail);
	else
		rc = infty_seg_extract(row, &x->o->in, &items);
	if (row)
		json_object_put(row);
	for (size_t i = 0; !rc && i < items.n; i++) {
		struct infty_seg_item *it = &items.v[i];
		if (it->reason == INFTY_SEG_OK)
			rc = make_trace(x, s, it, cctx, sp);
		else
			rc = make_reject(x, s, it, NULL);
	}
	infty_seg_items_release(&items);
	s->err = rc;
}

static void slot_clear(struct slot *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		infty_free(s->r[i].id);
		infty_free(s->r[i].tok);
		infty_free(s->r[i].detail);
		infty_buf_release(&s->r[i].js);
	}
	infty_free(s->r);
	infty_free(s->line);
	memset(s, 0, sizeof *s);
}

/* ---- ids: unique within a run -------------------------------------------- */

struct idset {
	uint64_t *v; /* 0 = empty */
	size_t cap, n;
};

/* Insert h; returns 1 if new, 0 if present, negative on ENOMEM. */
static int idset_add(struct idset *s, uint64_t h)
{
	if (!h)
		h = 1;
	if (2 * (s->n + 1) > s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 1024;
		uint64_t *nv = infty_calloc(nc, sizeof *nv);
		if (!nv)
			return INFTY_ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i])
				for (size_t j = s->v[i] & (nc - 1);; j = (j + 1) & (nc - 1))
					if (!nv[j]) {
						nv[j] = s->v[i];
						break;
					}
		infty_free(s->v);
		s->v = nv;
		s->cap = nc;
	}
	for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
		if (s->v[j] == h)
			return 0;
		if (!s->v[j]) {
			s->v[j] = h;
			s->n++;
			return 1;
		}
	}
}

/* ---- stats --------------------------------------------------------------- */

static int hist_add(struct infty_seg_hist *h, size_t bucket)
{
	if (bucket >= h->n) {
		if (infty_grow(&h->v, &h->cap, bucket + 1, sizeof *h->v))
			return INFTY_ENOMEM;
		memset(h->v + h->n, 0, (bucket + 1 - h->n) * sizeof *h->v);
		h->n = bucket + 1;
	}
	h->v[bucket]++;
	return 0;
}

static struct json_object *hist_json(const struct infty_seg_hist *h)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < h->n; i++)
		if (json_object_array_add(a, json_object_new_int64((int64_t)h->v[i]))) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static int add_u(struct json_object *o, const char *k, uint64_t v)
{
	return infty_json_add(o, k, json_object_new_int64((int64_t)v));
}

static int add_s(struct json_object *o, const char *k, const char *v)
{
	return v ? infty_json_add(o, k, json_object_new_string(v))
	         : json_object_object_add(o, k, NULL);
}

enum { TOK_BUCKET = 256 };

/* The counts a progress snapshot shows. */
static int add_counts(const struct infty_seg_totals *t, struct json_object *o)
{
	return add_u(o, "rows", t->rows) || add_u(o, "items", t->items) ||
	       add_u(o, "traces", t->traces) || add_u(o, "other_shard", t->other_shard) ||
	       add_u(o, "segments", t->segments);
}

int infty_seg_progress_fields(void *ctx, struct json_object *o)
{
	const struct infty_seg_report *r = ctx;
	return add_counts(r->t, o) ? INFTY_ENOMEM : 0;
}

int infty_seg_stats_fields(void *ctx, struct json_object *o)
{
	const struct infty_seg_report *r = ctx;
	const struct infty_seg_run_opts *op = r->o;
	const struct infty_seg_totals *t = r->t;
	struct json_object *fmt = json_object_new_object(), *tps = json_object_new_object(),
	                   *par = json_object_new_object();
	int rc = !fmt || !tps || !par || add_counts(t, o);
	/* What the rows were (so a dataset card can say where they came from). */
	for (int f = 0; !rc && f < INFTY_SEG_FMT_COUNT_; f++)
		if (t->traces_by_format[f])
			rc = add_u(fmt, infty_seg_format_name(f), t->traces_by_format[f]);
	char shard[32];
	snprintf(shard, sizeof shard, "%u/%u", op->shard_index,
	         op->shard_count ? op->shard_count : 1);
	rc = rc || infty_json_add(o, "traces_by_format", json_object_get(fmt)) ||
	     add_u(o, "instances", t->segments) || add_u(o, "hard_cuts", t->hard_cuts) ||
	     add_u(o, "line_cuts", t->line_cuts) ||
	     add_u(o, "reasoning_tokens", t->reasoning_tokens) ||
	     infty_json_add(tps, "bucket", json_object_new_int(TOK_BUCKET)) ||
	     infty_json_add(tps, "counts", hist_json(&t->tok_hist)) ||
	     infty_json_add(o, "tokens_per_segment", json_object_get(tps)) ||
	     infty_json_add(o, "segments_per_trace", hist_json(&t->seg_hist)) ||
	     infty_json_add(par, "eta", json_object_new_int64(op->eta)) ||
	     add_s(par, "pack", op->pack == INFTY_SEG_PACK_PAPER ? "paper" : "strict") ||
	     infty_json_add(par, "min_tail", json_object_new_int64(op->min_tail)) ||
	     infty_json_add(par, "max_trace_tokens", json_object_new_int64(op->max_trace_tokens)) ||
	     infty_json_add(par, "max_segments", json_object_new_int64(op->max_segments)) ||
	     add_s(par, "pick", infty_seg_pick_name(op->in.pick)) ||
	     add_s(par, "format", infty_seg_format_name(op->in.format)) ||
	     add_s(par, "accept", infty_seg_accept_name(op->in.accept)) ||
	     add_s(par, "shard", shard) || add_s(par, "tokenizer", r->c->hash) ||
	     infty_json_add(o, "params", json_object_get(par));
	json_object_put(fmt);
	json_object_put(tps);
	json_object_put(par);
	return rc ? INFTY_ENOMEM : 0;
}

void infty_seg_totals_release(struct infty_seg_totals *t)
{
	infty_free(t->tok_hist.v);
	infty_free(t->seg_hist.v);
	memset(t, 0, sizeof *t);
}

/* ---- the run ------------------------------------------------------------- */

/* qsort order: longer lines first, ties by line number (a total order). */
static int longer_first(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
	if (x->len != y->len)
		return x->len < y->len ? 1 : -1;
	return (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

struct run {
	struct infty_stage *st;
	struct infty_reader *in; /* the stage's */
	void **cctx;
	struct infty_seg_spans *spans;
	int nthreads;
	struct slot *slots;
	struct slot **order; /* the batch's slots, longest line first */
	size_t nslots;
	struct idset ids;
	struct infty_buf line;
};

/* A reject, through the stage frame: counted, printed up to the cap, and its
 * record (made by the worker, make_reject) written. */
static int write_reject(struct run *R, struct slot *s, struct result *r, struct infty_seg_totals *t)
{
	t->rejected++;
	t->rejects_by_reason[r->reason]++;
	struct infty_reject rej = {
	    .line = s->lineno, .reason = infty_seg_reason_code(r->reason), .detail = r->detail};
	return infty_stage_reject_line(R->st, &rej, r->js.data, r->js.len);
}

static int write_slot(struct run *R, struct slot *s, struct infty_seg_totals *t)
{
	t->items += s->nr;
	for (size_t i = 0; i < s->nr; i++) {
		struct result *r = &s->r[i];
		int rc = 0;
		if (r->kind == KIND_OTHER_SHARD) {
			t->other_shard++;
			continue;
		}
		if (r->kind == KIND_REJECT) {
			if ((rc = write_reject(R, s, r, t)))
				return rc;
			continue;
		}
		/*
		 * A repeated id (uuids are not unique in OpenR1) gets ":" and 8 hex
		 * digits of its content hash, so its id does not depend on how many
		 * repeats came before; identical content repeated gets ":2", ":3".
		 */
		R->line.len = 0;
		char suffix[48];
		int fresh = idset_add(&R->ids, infty_hash64(r->id, strlen(r->id)));
		if (fresh < 0)
			return INFTY_ENOMEM;
		struct out w = {&R->line, 0};
		put(&w, "{\"id\":");
		putstr(&w, r->id);
		for (unsigned k = 1; !w.rc && !fresh; k++) {
			if (k == 1)
				snprintf(suffix, sizeof suffix, ":%08llx",
				         (unsigned long long)(r->content_hash & 0xffffffffu));
			else
				snprintf(suffix, sizeof suffix, ":%08llx:%u",
				         (unsigned long long)(r->content_hash & 0xffffffffu), k);
			size_t base = strlen(r->id), sl = strlen(suffix);
			char *nid = infty_malloc(base + sl + 1);
			if (!nid)
				return INFTY_ENOMEM;
			memcpy(nid, r->id, base);
			memcpy(nid + base, suffix, sl + 1);
			fresh = idset_add(&R->ids, infty_hash64(nid, base + sl));
			if (fresh > 0) {
				R->line.len = 0;
				put(&w, "{\"id\":");
				putstr(&w, nid);
			}
			infty_free(nid);
			if (fresh < 0)
				return INFTY_ENOMEM;
		}
		if (w.rc || (rc = infty_buf_append(&R->line, r->js.data, r->js.len)))
			return w.rc ? w.rc : rc;
		if ((rc = infty_stage_put(R->st, R->line.data, R->line.len)))
			return rc;
		t->traces++;
		t->traces_by_format[r->format]++;
		t->segments += r->nseg;
		t->hard_cuts += r->hard;
		t->line_cuts += r->lines;
		if (hist_add(&t->seg_hist, r->nseg))
			return INFTY_ENOMEM;
		for (size_t k = 0; k < r->nseg; k++) {
			t->reasoning_tokens += (uint64_t)r->tok[k];
			if (hist_add(&t->tok_hist, (size_t)r->tok[k] / TOK_BUCKET))
				return INFTY_ENOMEM;
		}
	}
	return 0;
}

static void run_release(struct run *R, const struct infty_seg_counter *c)
{
	for (int i = 0; i < R->nthreads; i++) {
		if (R->cctx && R->cctx[i] && c->ctx_free)
			c->ctx_free(R->cctx[i]);
		if (R->spans)
			infty_seg_spans_release(&R->spans[i]);
	}
	infty_free(R->cctx);
	infty_free(R->spans);
	for (size_t i = 0; i < R->nslots; i++)
		slot_clear(&R->slots[i]);
	infty_free(R->slots);
	infty_free(R->order);
	infty_free(R->ids.v);
	infty_buf_release(&R->line);
}

/*
 * Read up to `batch` non-blank lines (or batch_bytes) into slots; *eof set
 * at the end of input.  The reader's line is only valid until the next call,
 * so each is copied.  Returns 0 or an error (recorded in the stage).
 */
static int fill_batch(struct run *R, struct slot *slots, size_t batch, size_t batch_bytes,
                      size_t *count, int *eof, struct infty_seg_totals *t)
{
	size_t n = 0, bytes = 0;
	while (n < batch && bytes < batch_bytes) {
		const char *line;
		size_t len;
		uint64_t lineno;
		int r = infty_reader_next_line(R->in, &line, &len, &lineno);
		if (r == 0) {
			*eof = 1;
			break;
		}
		if (r < 0) {
			*count = n;
			const char *why = infty_reader_detail(R->in);
			return infty_stage_fail(R->st, r, "%s: %s", infty_reader_path(R->in),
			                        *why ? why : infty_strerror(r));
		}
		if (infty_line_is_blank(line, len))
			continue; /* a blank line is not a row */
		struct slot *s = &slots[n];
		if (!(s->line = infty_strndup(line, len))) {
			*count = n;
			return INFTY_ENOMEM;
		}
		s->len = len;
		s->lineno = lineno;
		bytes += len;
		n++;
	}
	t->rows += n;
	*count = n;
	return 0;
}

/* Write a processed batch in input order and clear its slots. */
static int drain_batch(struct run *R, struct slot *slots, size_t n, struct infty_seg_totals *t)
{
	for (size_t i = 0; i < n; i++) {
		int rc = slots[i].err;
		if (rc)
			return infty_stage_fail(R->st, rc, "%s:%llu: %s", infty_reader_path(R->in),
			                        (unsigned long long)slots[i].lineno,
			                        infty_strerror(rc));
		if ((rc = write_slot(R, &slots[i], t)))
			return rc;
		slot_clear(&slots[i]);
	}
	return 0;
}

static void progress(struct run *R, const struct infty_seg_totals *t)
{
	char extra[96];
	snprintf(extra, sizeof extra, "%llu traces, %llu rejects, %llu segments",
	         (unsigned long long)t->traces, (unsigned long long)t->rejected,
	         (unsigned long long)t->segments);
	infty_stage_progress(R->st, t->rows, extra);
}

int infty_seg_run_stage(struct infty_stage *st, const struct infty_seg_run_opts *o,
                        const struct infty_seg_counter *c, struct infty_seg_totals *t)
{
	struct run R = {.st = st};
	struct ctx X = {.o = o, .c = c};
	size_t batch = o->batch_rows ? o->batch_rows : 256;
	const size_t batch_bytes = 32u << 20; /* three batches are in flight */
	R.nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
	int rc = infty_stage_next_input(st, &R.in);
	if (rc < 0)
		return rc;
	X.file = infty_reader_path(R.in);
	if (!(R.cctx = infty_calloc((size_t)R.nthreads, sizeof *R.cctx)) ||
	    !(R.spans = infty_calloc((size_t)R.nthreads, sizeof *R.spans)) ||
	    !(R.slots = infty_calloc(3 * batch, sizeof *R.slots)) ||
	    !(R.order = infty_calloc(3 * batch, sizeof *R.order))) {
		rc = INFTY_ENOMEM;
		goto out;
	}
	R.nslots = 3 * batch; /* so that a failure releases whatever the batches hold */
	for (int i = 0; i < R.nthreads; i++)
		if (c->ctx_new && !(R.cctx[i] = c->ctx_new(c->arg))) {
			rc = INFTY_ENOMEM;
			goto out;
		}
	/*
	 * Three batches rotate: while the team processes one, the thread that
	 * runs the `single` block writes the one before it and reads the one
	 * after it, so reading and writing overlap the parallel work instead of
	 * stopping it.  Tasks only touch their own slot and their thread's
	 * scratch; the reader, the stage (writers, rejects, progress) and the
	 * totals belong to that one thread at a time.
	 */
	struct slot *S[3] = {R.slots, R.slots + batch, R.slots + 2 * batch};
	struct slot **ORD[3] = {R.order, R.order + batch, R.order + 2 * batch};
	size_t N[3] = {0, 0, 0};
	int cur = 0, prev = 2, nxt = 1, eof = 0;
	if ((rc = fill_batch(&R, S[cur], batch, batch_bytes, &N[cur], &eof, t)))
		goto out;
	while (N[cur] > 0 || N[prev] > 0) {
		if (infty_stage_cancelled()) {
			rc = INFTY_ECANCELED;
			goto out;
		}
		for (size_t i = 0; i < N[cur]; i++)
			ORD[cur][i] = &S[cur][i];
		/*
		 * Longest rows first: a batch waits for its slowest row, so starting
		 * the big ones early keeps every thread busy until the end.  Results
		 * stay in their slots, so the output order does not change.
		 */
		qsort(ORD[cur], N[cur], sizeof *ORD[cur], longer_first);
		int io_rc = 0;
		size_t ncur = N[cur];
		struct slot **ord = ORD[cur];
#pragma omp parallel num_threads(R.nthreads)
#pragma omp single
		{
			for (size_t i = 0; i < ncur; i++) {
#pragma omp task firstprivate(i)
				{
					int th = omp_get_thread_num();
					process(&X, ord[i], R.cctx[th], &R.spans[th]);
				}
			}
			if (N[prev])
				io_rc = drain_batch(&R, S[prev], N[prev], t);
			N[prev] = 0;
			if (!io_rc && !eof)
				io_rc =
				    fill_batch(&R, S[nxt], batch, batch_bytes, &N[nxt], &eof, t);
			if (!io_rc)
				progress(&R, t);
		}
		if ((rc = io_rc))
			goto out;
		int done = prev;
		prev = cur;
		cur = nxt;
		nxt = done;
	}
	progress(&R, t);
out:
	run_release(&R, c);
	return rc;
}

int infty_seg_run(const struct infty_seg_run_opts *o, const struct infty_seg_counter *c,
                  struct infty_seg_totals *t, char *detail, size_t dl)
{
	memset(t, 0, sizeof *t);
	struct infty_seg_report rep = {o, c, t};
	const char *in[] = {o->input};
	struct infty_stage_config cfg = {
	    .name = "segment",
	    .unit = "rows",
	    .expect = INFTY_KIND_ROW,
	    .inputs = in,
	    .n_inputs = 1,
	    .output = o->output,
	    .rejects = o->rejects,
	    .stats = o->stats,
	    .silent = 1,
	    .no_signals = 1,
	    .stats_fields = infty_seg_stats_fields,
	    .fields_ctx = &rep,
	    .message = detail,
	    .message_len = dl,
	};
	struct infty_stage *st = infty_stage_new(&cfg);
	if (!st) {
		snprintf(detail, dl, "out of memory");
		return INFTY_ENOMEM;
	}
	int rc = infty_stage_open(st);
	if (!rc)
		rc = infty_seg_run_stage(st, o, c, t);
	int status = infty_stage_end(st, rc);
	/* The histograms were for the stats: released here, totals kept. */
	infty_free(t->tok_hist.v);
	infty_free(t->seg_hist.v);
	memset(&t->tok_hist, 0, sizeof t->tok_hist);
	memset(&t->seg_hist, 0, sizeof t->seg_hist);
	if (status < INFTY_EXIT_USAGE)
		return 0;
	return rc ? rc : INFTY_EIO;
}
