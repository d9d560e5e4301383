/*
 * sum_engine.c - the stage itself: stream segment records in, keep a window
 * of traces in a reorder buffer, turn each trace's segments into requests
 * (or extractive summaries), and write finished traces strictly in input
 * order: to the output when every summary was made, to the dead-letter file
 * otherwise.  Memory is bounded by the window, never by the input size.
 */
#include "sum.h"

#include "infty/reject.h"
#include "infty/utf8.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/jsonl.h"
#include "infty/progress.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXCERPT 2048
#define NBUCKET 500

static volatile sig_atomic_t stop_flag;

void infty_sum_engine_stop(void)
{
	stop_flag = 1;
}

struct trace;

struct job {
	struct trace *t;
	size_t i;
	char key[72];
	char *body; /* owned while queued or in flight */
	size_t body_len;
	struct json_object *messages; /* owned while queued (to rebuild with another n) */
	long prompt_count;
	int attempts, retries, got;
	int started, settled;
};

struct trace {
	struct json_object *rec; /* owned parsed record (NULL for an input reject) */
	const char *id;
	uint64_t line;
	struct sum_trace_view v;
	size_t nsum, settled;
	struct job *jobs;
	struct json_object **sums; /* owned summary entries, nsum */
	char **texts;              /* borrowed from sums: for --mode update */
	/* first failure */
	int failed;
	const char *fclass, *freason;
	long fstatus;
	int fattempts;
	size_t fi;
	char fdetail[256];
	char *fexcerpt; /* owned */
	/* input reject */
	char *raw; /* owned raw line */
	size_t raw_len;
	const char *rreason;
	char rdetail[256];
};

struct engine {
	const struct sum_config *c;
	struct sum_prompts prompts;
	const char *prompt_hash;
	struct sum_cache *cache;
	struct sum_http *http;
	struct infty_tokenizer *tok; /* NULL: estimate what the records do not count */
	struct infty_tok_ctx *tctx;
	struct infty_reader *in;
	struct infty_writer *out, *failed;
	struct trace **fifo; /* reorder buffer, input order */
	size_t fcap, flen;
	int eof, fatal, err;
	char detail[512];
	/* counters */
	uint64_t traces_in, traces_ok, traces_failed, rejected;
	uint64_t sent, done_req, summaries, cache_hits, cache_puts;
	uint64_t by_class[5];
	struct json_object *reasons; /* reason -> count */
	long long tok_prompt, tok_completion, tok_reasoning;
	uint64_t lat[NBUCKET], nlat;
	double lat_max;
	double started;
	double window_min; /* smallest in-flight window AIMD went down to */
};

/* ---- small helpers -------------------------------------------------------- */

static void count_reason(struct engine *e, const char *reason)
{
	struct json_object *x;
	if (json_object_object_get_ex(e->reasons, reason, &x))
		json_object_set_int64(x, json_object_get_int64(x) + 1);
	else
		json_object_object_add(e->reasons, reason, json_object_new_int64(1));
}

static void add_latency(struct engine *e, double s)
{
	double ms = s * 1000;
	/* Log buckets, 50 per decade from 0.01 ms: about 5 % resolution. */
	int b = ms <= 0.01 ? 0 : (int)(log10(ms / 0.01) * 50);
	if (b >= NBUCKET)
		b = NBUCKET - 1;
	e->lat[b]++;
	e->nlat++;
	if (s > e->lat_max)
		e->lat_max = s;
}

static double percentile(const struct engine *e, double p)
{
	if (!e->nlat)
		return 0;
	uint64_t want = (uint64_t)ceil(p * (double)e->nlat), acc = 0;
	for (int b = 0; b < NBUCKET; b++)
		if ((acc += e->lat[b]) >= want && want)
			return 0.01 * pow(10, (b + 0.5) / 50.0);
	return e->lat_max * 1000;
}

/* Copy at most EXCERPT bytes of s as valid UTF-8 ('?' for bad bytes), redacted. */
static char *excerpt(const char *s, size_t len, const char *secret)
{
	if (len > EXCERPT)
		len = EXCERPT;
	char *o = infty_malloc(len + 1);
	if (!o)
		return NULL;
	size_t k = 0, w = 0;
	while (k < len) {
		size_t need = s[k] ? infty_utf8_seq_len(s + k, len - k) : 0;
		if (!need) {
			o[w++] = '?';
			k++;
			continue;
		}
		memcpy(o + w, s + k, need);
		w += need, k += need;
	}
	o[w] = '\0';
	infty_sum_redact(o, secret);
	return o;
}

static void trace_free(struct trace *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->nsum; k++) {
		infty_free(t->jobs[k].body);
		json_object_put(t->jobs[k].messages);
		json_object_put(t->sums[k]);
	}
	infty_free(t->jobs);
	infty_free(t->sums);
	infty_free(t->texts);
	infty_free((void *)t->v.seg);
	infty_free(t->v.seg_len);
	infty_free(t->v.seg_tokens);
	infty_free(t->fexcerpt);
	infty_free(t->raw);
	json_object_put(t->rec);
	infty_free(t);
}

/* ---- summaries ------------------------------------------------------------ */

static struct json_object *summary_entry(struct engine *e, struct job *j, const char *text,
                                         const char *backend, const char *model, const char *prompt,
                                         const char *fr, long pt, long ct, long rt, int attempts)
{
	struct json_object *s = json_object_new_object(), *u = json_object_new_object();
	if (!s || !u) {
		json_object_put(s);
		json_object_put(u);
		return NULL;
	}
	json_object_object_add(s, "i", json_object_new_int64((int64_t)j->i));
	json_object_object_add(s, "text", json_object_new_string(text));
	json_object_object_add(s, "backend", json_object_new_string(backend));
	json_object_object_add(s, "model", json_object_new_string(model));
	json_object_object_add(s, "prompt", json_object_new_string(prompt));
	json_object_object_add(
	    s, "mode",
	    json_object_new_string(e->c->mode == SUM_MODE_UPDATE ? "update" : "cumulative"));
	json_object_object_add(s, "key", json_object_new_string(j->key));
	json_object_object_add(s, "attempts", json_object_new_int(attempts));
	json_object_object_add(s, "finish_reason", json_object_new_string(fr));
	json_object_object_add(u, "prompt_tokens", json_object_new_int64(pt));
	json_object_object_add(u, "completion_tokens", json_object_new_int64(ct));
	json_object_object_add(s, "usage", u);
	json_object_object_add(s, "reasoning_tokens", json_object_new_int64(rt));
	return s;
}

static int start_job(struct engine *e, struct job *j);

/* A summary is made: store it, and in update mode start the next one. */
static int job_done(struct engine *e, struct job *j, struct json_object *entry)
{
	struct trace *t = j->t;
	if (!entry)
		return INFTY_ENOMEM;
	struct json_object *x;
	json_object_object_get_ex(entry, "text", &x);
	t->sums[j->i] = entry;
	t->texts[j->i] = (char *)json_object_get_string(x);
	j->settled = 1;
	t->settled++;
	e->summaries++;
	infty_free(j->body);
	j->body = NULL;
	json_object_put(j->messages);
	j->messages = NULL;
	if (e->c->mode == SUM_MODE_UPDATE && j->i + 1 < t->nsum && !t->failed)
		return start_job(e, &t->jobs[j->i + 1]);
	return 0;
}

static int job_fail(struct engine *e, struct job *j, const char *cls, const char *reason,
                    long status, const char *detail, const char *body, size_t body_len)
{
	struct trace *t = j->t;
	if (!t->failed) {
		t->failed = 1;
		t->fclass = cls;
		t->freason = reason;
		t->fstatus = status;
		t->fattempts = j->attempts;
		t->fi = j->i;
		snprintf(t->fdetail, sizeof t->fdetail, "%s", detail ? detail : "");
		infty_sum_redact(t->fdetail, e->c->api_key);
		if (!(t->fexcerpt = excerpt(body ? body : "", body ? body_len : 0, e->c->api_key)))
			return INFTY_ENOMEM;
	}
	j->settled = 1;
	t->settled++;
	infty_free(j->body);
	j->body = NULL;
	json_object_put(j->messages);
	j->messages = NULL;
	/* In update mode the later summaries depend on this one: none will come. */
	if (e->c->mode == SUM_MODE_UPDATE)
		for (size_t k = j->i + 1; k < t->nsum; k++)
			if (!t->jobs[k].started && !t->jobs[k].settled) {
				t->jobs[k].settled = 1;
				t->settled++;
			}
	return 0;
}

static int extractive_job(struct engine *e, struct job *j)
{
	struct trace *t = j->t;
	char *text = infty_sum_extractive(&t->v, j->i, e->c->extractive_budget);
	if (!text)
		return INFTY_ENOMEM;
	/* The key names the input the summary was made from. */
	struct infty_sha256 h;
	unsigned char d[32];
	char b[64];
	infty_sha256_init(&h);
	int n = snprintf(b, sizeof b, "infty-extractive/1 budget=%ld", e->c->extractive_budget);
	infty_sha256_update(&h, b, (size_t)n + 1);
	infty_sha256_update(&h, t->v.question, strlen(t->v.question) + 1);
	long pt = infty_sum_count_tokens(t->v.question, strlen(t->v.question));
	for (size_t k = 0; k <= j->i; k++) {
		infty_sha256_update(&h, t->v.seg[k], t->v.seg_len[k]);
		infty_sha256_update(&h, "", 1);
		pt += infty_sum_count_tokens(t->v.seg[k], t->v.seg_len[k]);
	}
	infty_sha256_final(&h, d);
	memcpy(j->key, "sha256:", 7);
	infty_hex(d, 32, j->key + 7);
	j->started = 1;
	j->attempts = 1;
	long ct = infty_sum_count_tokens(text, strlen(text));
	struct json_object *s = summary_entry(e, j, text, "extractive", "infty-extractive",
	                                      e->prompt_hash, "stop", pt, ct, 0, 1);
	infty_free(text);
	return job_done(e, j, s);
}

/* Tokens of text: exact with --tokenizer, else the estimate. */
static long count_text(struct engine *e, const char *s, size_t len)
{
	if (e->tctx) {
		int64_t n = infty_tok_count(e->tctx, s, len);
		if (n >= 0)
			return (long)n;
	}
	return infty_sum_count_tokens(s, len);
}

/*
 * Our count of a request's prompt, for the truncation check.  The segments
 * carry exact counts from the segment stage, so only the question and the
 * instruction are counted here; chat-template tokens are left out, which
 * keeps our figure below the server's for an honest server.
 */
static long prompt_count(struct engine *e, struct job *j)
{
	const struct sum_trace_view *v = &j->t->v;
	long n = count_text(e, v->question, strlen(v->question));
	size_t from = e->c->mode == SUM_MODE_UPDATE && j->i > 0 ? j->i : 0;
	for (size_t k = from; k <= j->i; k++)
		n += v->seg_tokens[k] >= 0 ? v->seg_tokens[k]
		                           : count_text(e, v->seg[k], v->seg_len[k]);
	if (from) {
		const char *prev = j->t->texts[j->i - 1];
		n += count_text(e, prev, strlen(prev)) +
		     count_text(e, e->prompts.update, strlen(e->prompts.update));
	} else {
		n += count_text(e, e->prompts.cumulative, strlen(e->prompts.cumulative));
	}
	return n;
}

/* Whether a cached result still answers the request under today's options. */
static int cache_valid(const struct engine *e, const struct sum_cache_entry *c)
{
	return !strcmp(c->finish_reason, "stop") && c->choice_tokens <= e->c->max_tokens &&
	       !infty_sum_validate(c->text, strlen(c->text), e->c->summary_max_chars);
}

static int build_body(struct engine *e, struct job *j)
{
	int want = e->c->candidates - j->got;
	if (want < 1)
		want = 1;
	infty_free(j->body);
	j->body = NULL;
	return infty_sum_req_build(e->c, j->messages, e->c->use_n ? want : 1, j->key, &j->body,
	                           &j->body_len);
}

static int start_job(struct engine *e, struct job *j)
{
	if (e->c->backend == SUM_BACKEND_EXTRACTIVE)
		return extractive_job(e, j);
	struct trace *t = j->t;
	j->started = 1;
	j->messages = infty_sum_req_messages(&t->v, j->i, e->c->mode, &e->prompts,
	                                     j->i ? t->texts[j->i - 1] : NULL);
	if (!j->messages)
		return INFTY_ENOMEM;
	int rc = build_body(e, j);
	if (rc)
		return rc;
	const struct sum_cache_entry *ce = e->cache ? infty_sum_cache_get(e->cache, j->key) : NULL;
	if (ce && cache_valid(e, ce)) {
		e->cache_hits++;
		return job_done(e, j,
		                summary_entry(e, j, ce->text, "openai", e->c->model, e->prompt_hash,
		                              ce->finish_reason, ce->prompt_tokens,
		                              ce->completion_tokens, ce->reasoning_tokens,
		                              ce->attempts));
	}
	j->prompt_count = prompt_count(e, j);
	e->sent++;
	return infty_sum_http_submit(e->http, j, j->body, j->body_len, 0,
	                             j->prompt_count + e->c->max_tokens);
}

/* ---- HTTP outcomes -------------------------------------------------------- */

static double backoff(const struct sum_config *c, int retries)
{
	double d = c->backoff_base * pow(2, retries - 1);
	if (d > c->backoff_max)
		d = c->backoff_max;
	/* Jitter spreads the retries of a burst that failed together. */
	return d * (1 - 0.25 * ((double)rand() / RAND_MAX));
}

static void on_done(void *job, const struct sum_http_result *r, double latency, void *ctx)
{
	struct engine *e = ctx;
	struct job *j = job;
	struct sum_verdict v;
	j->attempts++;
	e->done_req++;
	add_latency(e, latency);
	if (e->err)
		return;
	int rc = infty_sum_classify(r, e->c, j->prompt_count, &v);
	if (rc) {
		e->err = rc;
		return;
	}
	e->by_class[v.cls]++;
	count_reason(e, v.reason);
	e->tok_prompt += v.prompt_tokens;
	e->tok_completion += v.completion_tokens;
	e->tok_reasoning += v.reasoning_tokens;
	/* Only a sick server trips the breaker; a 4xx about one record does not. */
	infty_sum_http_outcome(
	    e->http, !(v.cls == SUM_RETRY && !v.throttle && (r->status == 0 || r->status >= 500)));
	if (v.throttle) {
		infty_sum_http_throttle(e->http);
		if (infty_sum_http_window(e->http) < e->window_min)
			e->window_min = infty_sum_http_window(e->http);
	}
	switch (v.cls) {
	case SUM_OK: {
		infty_sum_http_success(e->http);
		struct sum_cache_entry ce = {v.text,          "",
		                             v.prompt_tokens, v.completion_tokens,
		                             v.choice_tokens, v.reasoning_tokens,
		                             j->attempts};
		snprintf(ce.finish_reason, sizeof ce.finish_reason, "%s", v.finish_reason);
		if (e->cache && (rc = infty_sum_cache_put(e->cache, j->key, &ce))) {
			snprintf(e->detail, sizeof e->detail, "cache: %s",
			         infty_sum_cache_detail(e->cache));
			e->err = rc;
			break;
		}
		e->cache_puts++;
		rc = job_done(e, j,
		              summary_entry(e, j, v.text, "openai", e->c->model, e->prompt_hash,
		                            v.finish_reason, v.prompt_tokens, v.completion_tokens,
		                            v.reasoning_tokens, j->attempts));
		break;
	}
	case SUM_RETRY:
		if (++j->retries > e->c->max_retries) {
			rc = job_fail(e, j, "retry", v.reason, r->status, v.detail, r->body,
			              r->body_len);
			break;
		}
		{
			double d = v.retry_after >= 0 ? v.retry_after : backoff(e->c, j->retries);
			if (d > e->c->retry_after_cap)
				d = e->c->retry_after_cap;
			e->sent++;
			rc = infty_sum_http_submit(e->http, j, j->body, j->body_len,
			                           infty_sum_now() + d,
			                           j->prompt_count + e->c->max_tokens);
		}
		break;
	case SUM_REJECT:
		j->got += v.choices > 0 ? v.choices : 1;
		if (j->got >= e->c->candidates) {
			rc = job_fail(e, j, "permanent", v.reason, r->status, v.detail, r->body,
			              r->body_len);
			break;
		}
		/* The server gave fewer choices than asked: ask for the rest. */
		if (!(rc = build_body(e, j))) {
			e->sent++;
			rc = infty_sum_http_submit(e->http, j, j->body, j->body_len, 0,
			                           j->prompt_count + e->c->max_tokens);
		}
		break;
	case SUM_PERMANENT:
		rc = job_fail(e, j, "permanent", v.reason, r->status, v.detail, r->body,
		              r->body_len);
		break;
	case SUM_FATAL: {
		char safe[256];
		snprintf(safe, sizeof safe, "%s", v.detail);
		infty_sum_redact(safe, e->c->api_key);
		snprintf(e->detail, sizeof e->detail,
		         "%s (%s): stopping; completed summaries are kept in the cache", safe,
		         v.reason);
		e->fatal = 1;
		break;
	}
	}
	infty_sum_verdict_release(&v);
	if (rc && !e->err)
		e->err = rc;
}

/* ---- input ---------------------------------------------------------------- */

static int reject(struct engine *e, uint64_t line, const char *reason, const char *detail)
{
	struct trace *t = infty_calloc(1, sizeof *t);
	size_t len;
	const char *raw = infty_reader_line(e->in, &len);
	if (!t || !(t->raw = infty_strndup(raw ? raw : "", raw ? len : 0))) {
		infty_free(t);
		return INFTY_ENOMEM;
	}
	t->raw_len = raw ? len : 0;
	t->line = line;
	t->rreason = reason;
	snprintf(t->rdetail, sizeof t->rdetail, "%s", detail);
	if (infty_grow(&e->fifo, &e->fcap, e->flen + 1, sizeof *e->fifo)) {
		trace_free(t);
		return INFTY_ENOMEM;
	}
	e->fifo[e->flen++] = t;
	return 0;
}

/* Check the segment record and point the view into it. */
static const char *view(struct trace *t, char *why, size_t wl)
{
	struct json_object *x, *segs;
	if (!json_object_is_type(t->rec, json_type_object))
		return "not an object";
	if (!json_object_object_get_ex(t->rec, "id", &x) ||
	    !json_object_is_type(x, json_type_string))
		return "missing string field 'id'";
	t->id = json_object_get_string(x);
	if (!json_object_object_get_ex(t->rec, "question", &x) ||
	    !json_object_is_type(x, json_type_string))
		return "missing string field 'question'";
	t->v.question = json_object_get_string(x);
	if (!json_object_object_get_ex(t->rec, "segments", &segs) ||
	    !json_object_is_type(segs, json_type_array) || !json_object_array_length(segs))
		return "missing non-empty array 'segments'";
	if (json_object_object_get_ex(t->rec, "summaries", NULL))
		return "record already has 'summaries'";
	size_t n = json_object_array_length(segs);
	if (json_object_object_get_ex(t->rec, "n", &x) && json_object_get_int64(x) != (int64_t)n) {
		snprintf(why, wl, "'n' is %lld but 'segments' has %zu entries",
		         (long long)json_object_get_int64(x), n);
		return why;
	}
	t->v.n = n;
	t->v.seg = infty_calloc(n, sizeof *t->v.seg);
	t->v.seg_len = infty_calloc(n, sizeof *t->v.seg_len);
	t->v.seg_tokens = infty_calloc(n, sizeof *t->v.seg_tokens);
	if (!t->v.seg || !t->v.seg_len || !t->v.seg_tokens)
		return "out of memory";
	for (size_t k = 0; k < n; k++) {
		struct json_object *s = json_object_array_get_idx(segs, k);
		if (!json_object_object_get_ex(s, "text", &x) ||
		    !json_object_is_type(x, json_type_string)) {
			snprintf(why, wl, "segments[%zu] has no string 'text'", k);
			return why;
		}
		t->v.seg[k] = json_object_get_string(x);
		t->v.seg_len[k] = (size_t)json_object_get_string_len(x);
		t->v.seg_tokens[k] = json_object_object_get_ex(s, "tokens", &x) &&
		                             json_object_is_type(x, json_type_int)
		                         ? (long)json_object_get_int64(x)
		                         : -1;
	}
	return NULL;
}

static int read_one(struct engine *e)
{
	struct json_object *o = NULL;
	uint64_t line;
	int rc = infty_reader_next(e->in, &o, &line);
	if (rc == 0) {
		e->eof = 1;
		return 0;
	}
	if (rc == INFTY_EJSON || rc == INFTY_EUTF8) {
		e->traces_in++;
		return reject(e, line, rc == INFTY_EJSON ? "bad_json" : "bad_utf8",
		              infty_reader_detail(e->in));
	}
	if (rc < 0) {
		snprintf(e->detail, sizeof e->detail, "%s: %s", infty_reader_path(e->in),
		         infty_reader_detail(e->in));
		return rc;
	}
	e->traces_in++;
	struct trace *t = infty_calloc(1, sizeof *t);
	if (!t) {
		json_object_put(o);
		return INFTY_ENOMEM;
	}
	t->rec = o;
	t->line = line;
	char why[160];
	const char *bad = view(t, why, sizeof why);
	if (bad) {
		trace_free(t);
		return reject(e, line, "bad_record", bad);
	}
	t->nsum = t->v.n - 1;
	t->jobs = infty_calloc(t->nsum + 1, sizeof *t->jobs);
	t->sums = infty_calloc(t->nsum + 1, sizeof *t->sums);
	t->texts = infty_calloc(t->nsum + 1, sizeof *t->texts);
	if (!t->jobs || !t->sums || !t->texts ||
	    infty_grow(&e->fifo, &e->fcap, e->flen + 1, sizeof *e->fifo)) {
		trace_free(t);
		return INFTY_ENOMEM;
	}
	e->fifo[e->flen++] = t;
	for (size_t k = 0; k < t->nsum; k++)
		t->jobs[k] = (struct job){.t = t, .i = k};
	/* Cumulative: all at once, so the shared prefix meets a warm prefix cache. */
	size_t first = e->c->mode == SUM_MODE_UPDATE && t->nsum ? 1 : t->nsum;
	rc = 0;
	for (size_t k = 0; k < first && !rc; k++)
		rc = start_job(e, &t->jobs[k]);
	return rc;
}

/* ---- output --------------------------------------------------------------- */

static int write_trace(struct engine *e, struct trace *t)
{
	int rc;
	if (t->raw) {
		e->rejected++;
		if (!e->failed)
			return 0;
		struct json_object *o =
		    infty_reject_new("summarize", infty_reader_path(e->in), t->line, t->rreason,
		                     t->rdetail, NULL, t->raw, t->raw_len);
		if (!o)
			return INFTY_ENOMEM;
		rc = infty_writer_put_json(e->failed, o);
		json_object_put(o);
		return rc;
	}
	if (t->failed) {
		e->traces_failed++;
		if (!e->failed)
			return 0;
		struct json_object *o = json_object_new_object();
		if (!o)
			return INFTY_ENOMEM;
		/* A dead letter carries the parsed record instead of the raw line. */
		json_object_object_add(o, "stage", json_object_new_string("summarize"));
		json_object_object_add(o, "file", json_object_new_string(infty_reader_path(e->in)));
		json_object_object_add(o, "line", json_object_new_int64((int64_t)t->line));
		json_object_object_add(o, "reason", json_object_new_string(t->freason));
		json_object_object_add(o, "detail", json_object_new_string(t->fdetail));
		json_object_object_add(o, "id", json_object_new_string(t->id));
		json_object_object_add(o, "class", json_object_new_string(t->fclass));
		json_object_object_add(o, "status", json_object_new_int64(t->fstatus));
		json_object_object_add(o, "attempts", json_object_new_int(t->fattempts));
		json_object_object_add(o, "i", json_object_new_int64((int64_t)t->fi));
		json_object_object_add(o, "excerpt", json_object_new_string(t->fexcerpt));
		json_object_object_add(o, "record", json_object_get(t->rec));
		rc = infty_writer_put_json(e->failed, o);
		json_object_put(o);
		return rc;
	}
	struct json_object *arr = json_object_new_array();
	if (!arr)
		return INFTY_ENOMEM;
	for (size_t k = 0; k < t->nsum; k++) {
		json_object_array_add(arr, t->sums[k]);
		t->sums[k] = NULL;
	}
	json_object_object_add(t->rec, "summaries", arr);
	e->traces_ok++;
	return infty_writer_put_json(e->out, t->rec);
}

static int drain(struct engine *e)
{
	/* The window is a few hundred traces, so shifting the array is cheap. */
	while (e->flen && e->fifo[0]->settled == e->fifo[0]->nsum) {
		struct trace *t = e->fifo[0];
		int rc = write_trace(e, t);
		struct infty_writer *w = t->failed || t->raw ? e->failed : e->out;
		trace_free(t);
		memmove(e->fifo, e->fifo + 1, (e->flen - 1) * sizeof *e->fifo);
		e->flen--;
		if (rc) {
			snprintf(e->detail, sizeof e->detail, "write: %s",
			         w ? infty_writer_detail(w) : infty_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* ---- stats ---------------------------------------------------------------- */

static int write_stats(struct engine *e, const char *path)
{
	struct json_object *o = json_object_new_object(), *x;
	if (!o)
		return INFTY_ENOMEM;
	double el = infty_sum_now() - e->started;
	x = json_object_new_object();
	json_object_object_add(x, "in", json_object_new_int64((int64_t)e->traces_in));
	json_object_object_add(x, "ok", json_object_new_int64((int64_t)e->traces_ok));
	json_object_object_add(x, "failed", json_object_new_int64((int64_t)e->traces_failed));
	json_object_object_add(x, "rejected", json_object_new_int64((int64_t)e->rejected));
	json_object_object_add(o, "traces", x);
	x = json_object_new_object();
	json_object_object_add(x, "sent", json_object_new_int64((int64_t)e->sent));
	json_object_object_add(x, "answered", json_object_new_int64((int64_t)e->done_req));
	for (int k = 0; k < 5; k++)
		json_object_object_add(x, infty_sum_class_name((enum sum_class)k),
		                       json_object_new_int64((int64_t)e->by_class[k]));
	json_object_object_add(o, "requests", x);
	json_object_object_add(o, "reasons", json_object_get(e->reasons));
	x = json_object_new_object();
	json_object_object_add(x, "made", json_object_new_int64((int64_t)e->summaries));
	json_object_object_add(x, "cache_hits", json_object_new_int64((int64_t)e->cache_hits));
	json_object_object_add(x, "cache_writes", json_object_new_int64((int64_t)e->cache_puts));
	json_object_object_add(o, "summaries", x);
	x = json_object_new_object();
	json_object_object_add(x, "prompt", json_object_new_int64(e->tok_prompt));
	json_object_object_add(x, "completion", json_object_new_int64(e->tok_completion));
	json_object_object_add(x, "reasoning", json_object_new_int64(e->tok_reasoning));
	json_object_object_add(o, "tokens", x);
	x = json_object_new_object();
	json_object_object_add(x, "p50", json_object_new_double(percentile(e, 0.5)));
	json_object_object_add(x, "p90", json_object_new_double(percentile(e, 0.9)));
	json_object_object_add(x, "p99", json_object_new_double(percentile(e, 0.99)));
	json_object_object_add(x, "max", json_object_new_double(e->lat_max * 1000));
	json_object_object_add(o, "latency_ms", x);
	json_object_object_add(o, "window_min", json_object_new_double(e->window_min));
	json_object_object_add(
	    o, "endpoint_pauses",
	    json_object_new_int64(e->http ? (int64_t)infty_sum_http_pauses(e->http) : 0));
	json_object_object_add(o, "elapsed_s", json_object_new_double(el));
	json_object_object_add(o, "req_per_s",
	                       json_object_new_double(el > 0 ? (double)e->done_req / el : 0));
	int rc = json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY) ? INFTY_EIO : 0;
	json_object_put(o);
	if (rc)
		snprintf(e->detail, sizeof e->detail, "%s: cannot write stats", path);
	return rc;
}

static void progress(struct engine *e, struct infty_progress *p, int final)
{
	char extra[256];
	double el = infty_sum_now() - e->started;
	snprintf(extra, sizeof extra,
	         "failed %llu, requests %llu done %zu in flight %zu queued, %.1f req/s %.0f tok/s",
	         (unsigned long long)(e->traces_failed + e->rejected),
	         (unsigned long long)e->done_req, e->http ? infty_sum_http_inflight(e->http) : 0,
	         e->http ? infty_sum_http_queued(e->http) : 0,
	         el > 0 ? (double)e->done_req / el : 0,
	         el > 0 ? (double)(e->tok_prompt + e->tok_completion) / el : 0);
	uint64_t done = e->traces_ok + e->traces_failed + e->rejected;
	if (final)
		infty_progress_finish(p, done, extra);
	else
		infty_progress_update(p, done, infty_reader_bytes_in(e->in), extra);
}

/* ---- the run -------------------------------------------------------------- */

static int open_all(struct engine *e)
{
	const struct sum_config *c = e->c;
	int rc;
	if (c->backend == SUM_BACKEND_OPENAI) {
		if ((rc = infty_sum_prompts_load(&e->prompts, c->prompt_dir, e->detail,
		                                 sizeof e->detail)))
			return rc;
		e->prompt_hash = e->prompts.hash;
		if (c->tokenizer) {
			char td[256] = "";
			if ((rc = infty_tokenizer_load(&e->tok, c->tokenizer, td, sizeof td))) {
				snprintf(e->detail, sizeof e->detail, "%s: %s", c->tokenizer, td);
				return rc;
			}
			if (!(e->tctx = infty_tok_ctx_new(e->tok)))
				return INFTY_ENOMEM;
		}
		if (c->cache &&
		    (rc = infty_sum_cache_open(&e->cache, c->cache, e->detail, sizeof e->detail)))
			return rc;
		if (!(e->http = infty_sum_http_new(c, on_done, e)))
			return INFTY_ENOMEM;
		if (c->ready_timeout > 0 &&
		    (rc = infty_sum_http_ready(e->http, c->ready_timeout, e->detail,
		                               sizeof e->detail))) {
			e->fatal = 1;
			return rc;
		}
	} else {
		static char h[72];
		char b[64];
		snprintf(b, sizeof b, "infty-extractive/1 budget=%ld", c->extractive_budget);
		memcpy(h, "sha256:", 7);
		infty_sha256_hex(b, strlen(b), h + 7);
		e->prompt_hash = h;
	}
	/* The handles are NULL on failure; errno still says why. */
	if ((rc = infty_reader_open(&e->in, c->input, 0))) {
		snprintf(e->detail, sizeof e->detail, "%s: cannot open input: %s", c->input,
		         rc == INFTY_EIO ? strerror(errno) : infty_strerror(rc));
		return rc;
	}
	if ((rc = infty_writer_open(&e->out, c->output, NULL))) {
		snprintf(e->detail, sizeof e->detail, "%s: cannot open output: %s", c->output,
		         rc == INFTY_EIO ? strerror(errno) : infty_strerror(rc));
		return rc;
	}
	if (c->failed && (rc = infty_writer_open(&e->failed, c->failed, NULL))) {
		snprintf(e->detail, sizeof e->detail, "%s: cannot open dead-letter file: %s",
		         c->failed, rc == INFTY_EIO ? strerror(errno) : infty_strerror(rc));
		return rc;
	}
	return 0;
}

int infty_sum_engine_run(const struct sum_config *c, struct sum_stats_out *so, char *detail,
                         size_t dlen)
{
	struct engine e = {.c = c, .window_min = c->max_inflight};
	e.started = infty_sum_now();
	e.reasons = json_object_new_object();
	size_t window = c->window > 0
	                    ? (size_t)c->window
	                    : (size_t)(c->max_inflight * 4 > 64 ? c->max_inflight * 4 : 64);
	struct infty_progress *p = NULL;
	int rc = e.reasons ? open_all(&e) : INFTY_ENOMEM;
	if (!rc)
		p = infty_progress_new(
		    stderr, "summarize", "traces", 0,
		    (uint64_t)(infty_reader_size(e.in) > 0 ? infty_reader_size(e.in) : 0),
		    c->quiet);
	double last_progress = 0;
	while (!rc) {
		while (!rc && !e.eof && !e.fatal && e.flen < window)
			rc = read_one(&e);
		if (!rc)
			rc = drain(&e);
		if (rc || e.err || e.fatal || (e.eof && !e.flen))
			break;
		if (stop_flag) {
			snprintf(e.detail, sizeof e.detail,
			         "interrupted; completed summaries are kept in the cache");
			rc = INFTY_ECANCELED;
			break;
		}
		if (e.http) {
			rc = infty_sum_http_step(e.http, 0.25);
			if (!rc && e.cache)
				rc = infty_sum_cache_flush(e.cache);
		}
		double now = infty_sum_now();
		if (now - last_progress > 0.25) {
			progress(&e, p, 0);
			last_progress = now;
		}
	}
	if (!rc && e.err)
		rc = e.err;
	if (!rc && e.fatal)
		rc = INFTY_EHTTP;
	/* Whatever happened, what the cache holds must reach the disk. */
	if (e.cache) {
		int crc = infty_sum_cache_close(e.cache);
		if (crc && !rc) {
			rc = crc;
			snprintf(e.detail, sizeof e.detail, "cache: close failed");
		}
	}
	/* A failed run leaves no output under the final name (free removes the temp). */
	if (!rc) {
		rc = infty_writer_close(e.out, e.detail, sizeof e.detail);
		e.out = NULL;
	}
	if (!rc && e.failed) {
		rc = infty_writer_close(e.failed, e.detail, sizeof e.detail);
		e.failed = NULL;
	}
	if (c->stats) {
		int src = write_stats(&e, c->stats);
		if (!rc)
			rc = src;
	}
	if (p)
		progress(&e, p, 1);
	if (so) {
		so->traces_in = e.traces_in;
		so->traces_out = e.traces_ok;
		so->traces_failed = e.traces_failed;
		so->records_rejected = e.rejected;
		so->requests_sent = e.done_req;
		so->summaries_done = e.summaries;
		so->cache_hits = e.cache_hits;
		so->fatal = e.fatal;
	}
	if (rc && !e.detail[0])
		snprintf(e.detail, sizeof e.detail, "%s", infty_strerror(rc));
	snprintf(detail, dlen, "%s", e.detail);
	infty_writer_free(e.out);
	infty_writer_free(e.failed);
	infty_reader_free(e.in);
	for (size_t k = 0; k < e.flen; k++)
		trace_free(e.fifo[k]);
	infty_free(e.fifo);
	infty_sum_http_free(e.http);
	infty_sum_prompts_release(&e.prompts);
	infty_tok_ctx_free(e.tctx);
	infty_tokenizer_free(e.tok);
	json_object_put(e.reasons);
	if (rc)
		return rc;
	return e.traces_failed || e.rejected ? 1 : 0;
}
