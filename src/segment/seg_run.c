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
#include "infty/reject.h"
#include "infty/jsonl.h"
#include "infty/progress.h"

#include <json-c/json.h>
#include <omp.h>
#include <stdarg.h>
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
	char *msg;                    /* reject: "reason: detail" for the log, owned */
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

static int put(struct infty_buf *b, const char *s)
{
	return infty_buf_append(b, s, strlen(s));
}

static int putf(struct infty_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct infty_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof tmp)
		return INFTY_EINVAL;
	return infty_buf_append(b, tmp, (size_t)k);
}

static int putstr(struct infty_buf *b, const char *s)
{
	return s ? infty_json_write_string(b, s, strlen(s)) : put(b, "null");
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

/* key: what decides the shard (NULL: the row's uuid, else its line number). */
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
	const char *code = infty_seg_reason_code(it->reason);
	const char *detail = it->detail ? it->detail : "";
	size_t ml = strlen(code) + strlen(detail) + 3;
	if (!(r->msg = infty_malloc(ml)))
		return INFTY_ENOMEM;
	snprintf(r->msg, ml, "%s: %s", code, detail);
	struct infty_buf *b = &r->js;
	int rc = put(b, "{\"stage\":\"segment\",\"file\":");
	rc = rc ? rc : putstr(b, x->file);
	rc = rc ? rc : putf(b, ",\"line\":%llu,\"reason\":", (unsigned long long)s->lineno);
	rc = rc ? rc : putstr(b, code);
	rc = rc ? rc : put(b, ",\"detail\":");
	rc = rc ? rc : putstr(b, it->detail);
	rc = rc ? rc : put(b, ",\"id\":");
	rc = rc ? rc : putstr(b, it->uuid);
	if (!rc && it->generation >= 0)
		rc = putf(b, ",\"generation\":%d", it->generation);
	rc = rc ? rc : put(b, ",\"raw\":");
	/*
	 * raw is the line verbatim.  A line with invalid UTF-8 cannot be a JSON
	 * string, so it goes in as base64 (raw_base64) instead: still lossless.
	 */
	if (!rc && it->reason == INFTY_SEG_R_BAD_UTF8) {
		rc = put(b, "null,\"raw_base64\":\"");
		rc = rc ? rc : infty_base64_append(b, s->line, s->len);
		rc = rc ? rc : put(b, "\"");
	} else if (!rc) {
		rc = infty_json_write_string(b, s->line, s->len);
	}
	rc = rc ? rc : put(b, "}");
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
	struct infty_buf *b = &r->js;
	rc = put(b, ",\"source\":{\"format\":");
	rc = rc ? rc : putstr(b, infty_seg_format_name(it->format));
	rc = rc ? rc : put(b, ",\"uuid\":");
	rc = rc ? rc : putstr(b, it->uuid);
	rc = rc ? rc : put(b, ",\"pick\":");
	rc = rc ? rc
	        : putstr(b, it->format == INFTY_SEG_FMT_OPENR1 ? infty_seg_pick_name(o->in.pick)
	                                                       : NULL);
	if (!rc)
		rc = it->generation >= 0 ? putf(b, ",\"generation\":%d", it->generation)
		                         : put(b, ",\"generation\":null");
	rc = rc ? rc : put(b, ",\"file\":");
	rc = rc ? rc : putstr(b, x->file);
	rc = rc ? rc : putf(b, ",\"line\":%llu,\"meta\":", (unsigned long long)s->lineno);
	rc = rc ? rc : infty_json_write(b, it->meta);
	rc = rc ? rc : put(b, "},\"question\":");
	rc = rc ? rc : putstr(b, it->question);
	rc = rc ? rc : put(b, ",\"conclusion\":");
	rc = rc ? rc : infty_json_write_string(b, it->conclusion, it->conclusion_len);
	rc = rc ? rc : put(b, ",\"segments\":[");
	int64_t total = 0;
	for (size_t i = 0; !rc && i < sp->n; i++) {
		const struct infty_seg_span *g = &sp->v[i];
		r->tok[i] = g->tokens;
		total += g->tokens;
		r->hard += g->end == INFTY_SEG_END_HARD;
		r->lines += g->end == INFTY_SEG_END_LINE;
		rc = put(b, i ? ",{\"text\":" : "{\"text\":");
		rc = rc ? rc : infty_json_write_string(b, t + g->off, g->len);
		rc = rc ? rc
		        : putf(b, ",\"tokens\":%lld,\"end\":\"%s\",\"sep\":", (long long)g->tokens,
		               infty_seg_end_name(g->end));
		rc = rc ? rc : infty_json_write_string(b, t + g->off + g->len, g->sep_len);
		if (!rc && g->step_tokens >= 0)
			rc = putf(b, ",\"step_tokens\":%lld", (long long)g->step_tokens);
		rc = rc ? rc : put(b, "}");
	}
	rc = rc ? rc
	        : putf(b, "],\"n\":%zu,\"reasoning_tokens\":%lld,\"params\":{\"eta\":%lld,", sp->n,
	               (long long)total, (long long)o->eta);
	rc =
	    rc ? rc
	       : putf(b, "\"pack\":\"%s\",\"min_tail\":%lld,\"tokenizer\":",
	              o->pack == INFTY_SEG_PACK_PAPER ? "paper" : "strict", (long long)o->min_tail);
	rc = rc ? rc : putstr(b, x->c->hash);
	rc = rc ? rc : put(b, ",\"version\":\"" INFTY_VERSION "\"}}");
	return rc;
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
		infty_free(s->r[i].msg);
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

struct hist {
	uint64_t *v;
	size_t n, cap;
};

static int hist_add(struct hist *h, size_t bucket)
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

static int put_hist(struct infty_buf *b, const struct hist *h)
{
	int rc = put(b, "[");
	for (size_t i = 0; !rc && i < h->n; i++)
		rc = putf(b, i ? ",%llu" : "%llu", (unsigned long long)h->v[i]);
	return rc ? rc : put(b, "]");
}

enum { TOK_BUCKET = 256 };

static int write_stats(const struct infty_seg_run_opts *o, const struct infty_seg_counter *c,
                       const struct infty_seg_totals *t, const struct hist *tok,
                       const struct hist *segs, uint64_t reasoning_tokens, double seconds,
                       uint64_t bytes_in, char *detail, size_t dl)
{
	struct infty_buf b = {0};
	int rc = put(&b, "{\"stage\":\"segment\",\"input\":");
	rc = rc ? rc : putstr(&b, o->input);
	rc = rc ? rc
	        : putf(&b, ",\"rows\":%llu,\"items\":%llu,\"traces\":%llu,\"rejected\":%llu,",
	               (unsigned long long)t->rows, (unsigned long long)t->items,
	               (unsigned long long)t->traces, (unsigned long long)t->rejected);
	rc =
	    rc ? rc
	       : putf(&b, "\"other_shard\":%llu,\"rejects\":{", (unsigned long long)t->other_shard);
	int first = 1;
	for (int r = 1; !rc && r < INFTY_SEG_R_COUNT_; r++) {
		if (!t->rejects_by_reason[r])
			continue;
		rc = putf(&b, "%s\"%s\":%llu", first ? "" : ",", infty_seg_reason_code(r),
		          (unsigned long long)t->rejects_by_reason[r]);
		first = 0;
	}
	/* What the rows were (so a dataset card can say where they came from). */
	rc = rc ? rc : put(&b, "},\"traces_by_format\":{");
	first = 1;
	for (int f = 0; !rc && f < INFTY_SEG_FMT_COUNT_; f++) {
		if (!t->traces_by_format[f])
			continue;
		rc = putf(&b, "%s\"%s\":%llu", first ? "" : ",", infty_seg_format_name(f),
		          (unsigned long long)t->traces_by_format[f]);
		first = 0;
	}
	rc = rc ? rc
	        : putf(&b, "},\"segments\":%llu,\"instances\":%llu,\"hard_cuts\":%llu,",
	               (unsigned long long)t->segments, (unsigned long long)t->segments,
	               (unsigned long long)t->hard_cuts);
	rc = rc ? rc : putf(&b, "\"line_cuts\":%llu,", (unsigned long long)t->line_cuts);
	rc = rc ? rc : putf(&b, "\"reasoning_tokens\":%llu,", (unsigned long long)reasoning_tokens);
	rc = rc ? rc : putf(&b, "\"tokens_per_segment\":{\"bucket\":%d,\"counts\":", TOK_BUCKET);
	rc = rc ? rc : put_hist(&b, tok);
	rc = rc ? rc : put(&b, "},\"segments_per_trace\":");
	rc = rc ? rc : put_hist(&b, segs);
	rc = rc ? rc
	        : putf(&b, ",\"bytes_in\":%llu,\"seconds\":%.3f,", (unsigned long long)bytes_in,
	               seconds);
	rc = rc ? rc
	        : putf(&b,
	               "\"params\":{\"eta\":%lld,\"pack\":\"%s\",\"min_tail\":%lld,"
	               "\"max_trace_tokens\":%lld,\"max_segments\":%lld,",
	               (long long)o->eta, o->pack == INFTY_SEG_PACK_PAPER ? "paper" : "strict",
	               (long long)o->min_tail, (long long)o->max_trace_tokens,
	               (long long)o->max_segments);
	rc = rc ? rc
	        : putf(&b, "\"pick\":\"%s\",\"format\":\"%s\",", infty_seg_pick_name(o->in.pick),
	               infty_seg_format_name(o->in.format));
	rc = rc ? rc : putf(&b, "\"accept\":\"%s\",", infty_seg_accept_name(o->in.accept));
	rc = rc ? rc
	        : putf(&b, "\"shard\":\"%u/%u\",\"tokenizer\":", o->shard_index,
	               o->shard_count ? o->shard_count : 1);
	rc = rc ? rc : putstr(&b, c->hash);
	rc = rc ? rc : put(&b, "}}");
	if (rc) {
		infty_buf_release(&b);
		snprintf(detail, dl, "stats: %s", infty_strerror(rc));
		return rc;
	}
	struct infty_writer_opts wo;
	infty_writer_opts_init(&wo);
	wo.compress = 0;
	struct infty_writer *w = NULL;
	rc = infty_writer_open(&w, o->stats, &wo, NULL, 0);
	if (!rc)
		rc = infty_writer_put(w, b.data, b.len);
	if (rc) {
		snprintf(detail, dl, "%s: %s", o->stats,
		         w ? infty_writer_detail(w) : infty_strerror(rc));
		infty_writer_free(w);
	} else {
		rc = infty_writer_close(w, detail, dl); /* detail says why on failure */
	}
	infty_buf_release(&b);
	return rc;
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
	struct infty_reader *in;
	struct infty_writer *out, *rej;
	void **cctx;
	struct infty_seg_spans *spans;
	int nthreads;
	struct slot *slots;
	struct slot **order; /* the batch's slots, longest line first */
	size_t nslots;
	struct idset ids;
	struct hist tok, segs;
	struct infty_buf line;
	uint64_t reasoning_tokens;
	int messages;
};

static int write_slot(struct run *R, const struct infty_seg_run_opts *o, struct slot *s,
                      struct infty_seg_totals *t, char *detail, size_t dl)
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
			t->rejected++;
			t->rejects_by_reason[r->reason]++;
			if (o->log && R->messages < (o->max_messages ? o->max_messages : 10))
				fprintf(o->log, "%s: %s:%llu: %s\n", infty_cli_progname(),
				        infty_reader_path(R->in), (unsigned long long)s->lineno,
				        r->msg);
			R->messages++;
			if (R->rej && (rc = infty_writer_put(R->rej, r->js.data, r->js.len))) {
				snprintf(detail, dl, "%s: %s", o->rejects,
				         infty_writer_detail(R->rej));
				return rc;
			}
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
		rc = put(&R->line, "{\"id\":");
		rc = rc ? rc : putstr(&R->line, r->id);
		for (unsigned k = 1; !rc && !fresh; k++) {
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
				rc = put(&R->line, "{\"id\":");
				rc = rc ? rc : putstr(&R->line, nid);
			}
			infty_free(nid);
			if (fresh < 0)
				return INFTY_ENOMEM;
		}
		rc = rc ? rc : infty_buf_append(&R->line, r->js.data, r->js.len);
		if (rc)
			return rc;
		if ((rc = infty_writer_put(R->out, R->line.data, R->line.len))) {
			snprintf(detail, dl, "%s: %s", o->output, infty_writer_detail(R->out));
			return rc;
		}
		t->traces++;
		t->traces_by_format[r->format]++;
		t->segments += r->nseg;
		t->hard_cuts += r->hard;
		t->line_cuts += r->lines;
		if (hist_add(&R->segs, r->nseg))
			return INFTY_ENOMEM;
		for (size_t k = 0; k < r->nseg; k++) {
			R->reasoning_tokens += (uint64_t)r->tok[k];
			if (hist_add(&R->tok, (size_t)r->tok[k] / TOK_BUCKET))
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
	infty_free(R->tok.v);
	infty_free(R->segs.v);
	infty_buf_release(&R->line);
	infty_reader_free(R->in);
	infty_writer_free(R->out);
	infty_writer_free(R->rej);
}

/*
 * Read up to `batch` non-blank lines (or batch_bytes) into slots; *eof set
 * at the end of input.  The reader's line is only valid until the next call,
 * so each is copied.  Returns 0 or an error with detail filled.
 */
static int fill_batch(struct run *R, struct slot *slots, size_t batch, size_t batch_bytes,
                      size_t *count, int *eof, struct infty_seg_totals *t, char *detail, size_t dl)
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
			snprintf(detail, dl, "%s: %s", infty_reader_path(R->in),
			         *infty_reader_detail(R->in) ? infty_reader_detail(R->in)
			                                     : infty_strerror(r));
			*count = n;
			return r;
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
static int drain_batch(struct run *R, const struct infty_seg_run_opts *o, struct slot *slots,
                       size_t n, struct infty_seg_totals *t, char *detail, size_t dl)
{
	for (size_t i = 0; i < n; i++) {
		int rc = slots[i].err;
		if (rc) {
			snprintf(detail, dl, "%s:%llu: %s", infty_reader_path(R->in),
			         (unsigned long long)slots[i].lineno, infty_strerror(rc));
			return rc;
		}
		if ((rc = write_slot(R, o, &slots[i], t, detail, dl)))
			return rc;
		slot_clear(&slots[i]);
	}
	return 0;
}

int infty_seg_run(const struct infty_seg_run_opts *o, const struct infty_seg_counter *c,
                  struct infty_seg_totals *t, char *detail, size_t dl)
{
	struct run R = {0};
	struct ctx X = {.o = o, .c = c, .file = o->input};
	memset(t, 0, sizeof *t);
	detail[0] = 0;
	size_t batch = o->batch_rows ? o->batch_rows : 256;
	const size_t batch_bytes = 32u << 20; /* three batches are in flight */
	R.nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
	int rc = infty_reader_open(&R.in, o->input, 0, NULL, 0);
	if (rc) {
		snprintf(detail, dl, "%s: %s", o->input, infty_strerror(rc));
		return rc;
	}
	X.file = infty_reader_path(R.in);
	if (!(R.cctx = infty_calloc((size_t)R.nthreads, sizeof *R.cctx)) ||
	    !(R.spans = infty_calloc((size_t)R.nthreads, sizeof *R.spans)) ||
	    !(R.slots = infty_calloc(3 * batch, sizeof *R.slots)) ||
	    !(R.order = infty_calloc(3 * batch, sizeof *R.order))) {
		rc = INFTY_ENOMEM;
		goto fail;
	}
	R.nslots = 3 * batch; /* so that a failure releases whatever the batches hold */
	for (int i = 0; i < R.nthreads; i++)
		if (c->ctx_new && !(R.cctx[i] = c->ctx_new(c->arg))) {
			rc = INFTY_ENOMEM;
			goto fail;
		}
	if ((rc = infty_writer_open(&R.out, o->output, NULL, NULL, 0))) {
		snprintf(detail, dl, "%s: %s", o->output, infty_strerror(rc));
		goto fail;
	}
	if (o->rejects && (rc = infty_writer_open(&R.rej, o->rejects, NULL, NULL, 0))) {
		snprintf(detail, dl, "%s: %s", o->rejects, infty_strerror(rc));
		goto fail;
	}
	struct infty_progress *pg =
	    infty_progress_new(o->log ? o->log : stderr, "segment", "rows", 0,
	                       infty_reader_size(R.in) > 0 ? (uint64_t)infty_reader_size(R.in) : 0,
	                       o->quiet || !o->log);
	/*
	 * Three batches rotate: while the team processes one, the thread that
	 * runs the `single` block writes the one before it and reads the one
	 * after it, so reading and writing overlap the parallel work instead of
	 * stopping it.  Tasks only touch their own slot and their thread's
	 * scratch; the reader, the writers and the totals belong to that one
	 * thread at a time.
	 */
	struct slot *S[3] = {R.slots, R.slots + batch, R.slots + 2 * batch};
	struct slot **ORD[3] = {R.order, R.order + batch, R.order + 2 * batch};
	size_t N[3] = {0, 0, 0};
	int cur = 0, prev = 2, nxt = 1, eof = 0;
	if ((rc = fill_batch(&R, S[cur], batch, batch_bytes, &N[cur], &eof, t, detail, dl)))
		goto fail_pg;
	while (N[cur] > 0 || N[prev] > 0) {
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
				io_rc = drain_batch(&R, o, S[prev], N[prev], t, detail, dl);
			N[prev] = 0;
			if (!io_rc && !eof)
				io_rc = fill_batch(&R, S[nxt], batch, batch_bytes, &N[nxt], &eof, t,
				                   detail, dl);
			if (!io_rc)
				infty_progress_update(pg, t->rows, infty_reader_bytes_in(R.in),
				                      NULL);
		}
		if ((rc = io_rc))
			goto fail_pg;
		int done = prev;
		prev = cur;
		cur = nxt;
		nxt = done;
	}
	if (o->log && R.messages > (o->max_messages ? o->max_messages : 10))
		fprintf(o->log, "%s: %s: %d more rejects not shown\n", infty_cli_progname(),
		        infty_reader_path(R.in),
		        R.messages - (o->max_messages ? o->max_messages : 10));
	double secs = pg ? infty_progress_elapsed(pg) : 0;
	{
		char extra[96];
		snprintf(extra, sizeof extra, "%llu traces, %llu rejects, %llu segments",
		         (unsigned long long)t->traces, (unsigned long long)t->rejected,
		         (unsigned long long)t->segments);
		infty_progress_finish(pg, t->rows, extra);
		pg = NULL;
	}
	rc = infty_writer_close(R.out, detail, dl);
	R.out = NULL;
	if (rc)
		goto fail;
	if (R.rej) {
		rc = infty_writer_close(R.rej, detail, dl);
		R.rej = NULL;
		if (rc)
			goto fail;
	}
	if (o->stats && (rc = write_stats(o, c, t, &R.tok, &R.segs, R.reasoning_tokens, secs,
	                                  infty_reader_bytes_in(R.in), detail, dl)))
		goto fail;
	run_release(&R, c);
	return 0;
fail_pg:
	infty_progress_finish(pg, t->rows, "stopped");
fail:
	if (!detail[0])
		snprintf(detail, dl, "%s", infty_strerror(rc));
	run_release(&R, c);
	return rc;
}
