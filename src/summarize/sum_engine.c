/*
 * sum_engine.c - the stage itself: stream segment records in, keep a window
 * of traces in a reorder buffer, turn each trace's segments into requests
 * (or extractive summaries), and write finished traces strictly in input
 * order: to the output when every summary was made, to the dead-letter file
 * otherwise.  Memory is bounded by the window, never by the input size, and
 * the work of a trace is linear in its size: keys and prompt counts are
 * made one segment at a time, request bodies only when a slot is free.
 *
 * A request's life: start_job (key, cache lookup, submit) -> prepare (build
 * the body when a slot is free) -> on_done (classify) -> accept / retry /
 * dead-letter, with an optional detour through the server's own count of the
 * prompt (verify) before a suspicious answer is accepted.
 *
 * The stage frame (include/infty/stage.h) owns the input, the output, the
 * dead letters (its reject file), progress and publication; what is the
 * engine's own is the cache, which survives every stop.
 */
#include "sum.h"

#include "infty/utf8.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define EXCERPT 2048
#define NBUCKET 500

static volatile sig_atomic_t stop_flag;

void infty_sum_engine_stop(void)
{
	stop_flag = 1;
}

int infty_sum_engine_stopping(void)
{
	return stop_flag != 0;
}

struct trace;

/* An answer held while the server counts its prompt (verify). */
struct held {
	char *text; /* owned */
	char finish_reason[24];
	long prompt_tokens, completion_tokens, choice_tokens, reasoning_tokens;
};

struct job {
	struct trace *t;
	size_t i;
	char key[72];
	char *body; /* owned while in flight */
	size_t body_len;
	long prompt_count; /* our lower bound of the prompt's tokens */
	int attempts, retries, got;
	int started, settled;
	int verifying; /* the request in flight is the server's count of the prompt */
	int ep;        /* the endpoint whose answer is being verified */
	struct held held;
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
	long qcount;               /* tokens of the question */
	long *cum;                 /* owned: tokens of segments 0..k (prefix sums) */
	struct sum_keyer keyer;    /* cumulative keys, one segment at a time */
	size_t next_start;         /* update mode: the next job to start */
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
	struct infty_stage *st;  /* the frame: output, dead letters, progress */
	struct infty_reader *in; /* the stage's */
	struct sum_stats_out *so;
	struct sum_prompts prompts;
	struct sum_keyparts kp;
	const char *prompt_hash;
	long instr_count, update_count; /* tokens of the instruction / the template's text */
	struct sum_cache *cache;
	struct sum_http *http;
	size_t can_count;            /* endpoints that serve /tokenize */
	struct infty_tokenizer *tok; /* NULL: estimate what the records do not count */
	struct infty_tok_ctx *tctx;
	const char *tok_path;
	struct trace **fifo; /* reorder buffer, input order */
	size_t fcap, flen;
	int eof, fatal, err;
	int draining; /* a retryable failure is left: read no more, finish the window */
	const char *stopped_by;
	char detail[512];
	/* counters */
	uint64_t traces_in, traces_ok, traces_failed, rejected, traces_retry_left;
	uint64_t sent, done_req, summaries, cache_hits, cache_puts, cancelled;
	uint64_t planned; /* requests the traces read so far need */
	uint64_t failures_cached, failure_hits, counts_asked, counts_failed;
	uint64_t no_usage; /* accepted answers without usage.prompt_tokens: not checkable */
	uint64_t cache_skipped_parts, cache_skipped_bytes, cache_bad_lines;
	const char *retry_reason;
	uint64_t by_class[5];
	struct json_object *reasons; /* reason -> count */
	long long tok_prompt, tok_completion, tok_reasoning, tok_cached;
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

static void held_release(struct held *h)
{
	infty_free(h->text);
	h->text = NULL;
}

static void trace_free(struct trace *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->nsum; k++) {
		infty_free(t->jobs[k].body);
		held_release(&t->jobs[k].held);
		json_object_put(t->sums[k]);
	}
	infty_free(t->jobs);
	infty_free(t->sums);
	infty_free(t->texts);
	infty_free(t->cum);
	infty_free((void *)t->v.seg);
	infty_free(t->v.seg_len);
	infty_free(t->v.seg_tokens);
	infty_free(t->fexcerpt);
	infty_free(t->raw);
	json_object_put(t->rec);
	infty_free(t);
}

static void stop_as(struct engine *e, const char *why)
{
	if (!e->stopped_by)
		e->stopped_by = why;
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

static void settle(struct job *j)
{
	j->settled = 1;
	j->t->settled++;
	infty_free(j->body);
	j->body = NULL;
	held_release(&j->held);
}

/*
 * Update mode: summary i+1 needs summary i, so a trace's jobs start one
 * after the other.  A loop, not a recursion from job_done: a trace of
 * thousands of segments answered from the cache would otherwise nest as
 * deep.
 */
static int advance(struct engine *e, struct trace *t)
{
	if (e->c->mode != SUM_MODE_UPDATE || e->c->backend == SUM_BACKEND_EXTRACTIVE)
		return 0;
	while (!t->failed && t->next_start < t->nsum) {
		struct job *j = &t->jobs[t->next_start];
		if (j->started && !j->settled)
			return 0; /* waiting for it */
		if (!j->started) {
			if (t->next_start && !t->texts[t->next_start - 1])
				return 0; /* the previous summary is not there yet */
			int rc = start_job(e, j);
			if (rc)
				return rc;
			if (!j->settled)
				return 0;
		}
		t->next_start++;
	}
	return 0;
}

/* A summary is made: store it. */
static int job_done(struct engine *e, struct job *j, struct json_object *entry)
{
	struct trace *t = j->t;
	if (!entry)
		return INFTY_ENOMEM;
	struct json_object *x;
	json_object_object_get_ex(entry, "text", &x);
	t->sums[j->i] = entry;
	t->texts[j->i] = (char *)json_object_get_string(x);
	settle(j);
	e->summaries++;
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
	settle(j);
	/*
	 * The trace goes to the dead-letter file whatever its other summaries
	 * give: those not sent yet are dropped when their slot comes (prepare),
	 * and in update mode the later ones would have needed this one.
	 */
	if (e->c->mode == SUM_MODE_UPDATE)
		for (size_t k = j->i + 1; k < t->nsum; k++)
			if (!t->jobs[k].started && !t->jobs[k].settled)
				settle(&t->jobs[k]);
	return 0;
}

/*
 * Offline summaries: each trace keeps the extractive state, the key's hash
 * and the prompt estimate running over its segments, so summary i costs
 * segment i.
 */
static int extractive_trace(struct engine *e, struct trace *t)
{
	struct sum_extractive *x = infty_sum_extractive_new(e->c->extractive_budget);
	if (!x)
		return INFTY_ENOMEM;
	/* The key names the input the summary was made from. */
	struct infty_sha256 h;
	char b[64];
	infty_sha256_init(&h);
	int n = snprintf(b, sizeof b, "infty-extractive/1 budget=%ld", e->c->extractive_budget);
	infty_sha256_update(&h, b, (size_t)n + 1);
	infty_sha256_update(&h, t->v.question, strlen(t->v.question) + 1);
	long pt = infty_sum_count_tokens(t->v.question, strlen(t->v.question));
	int rc = 0;
	for (size_t i = 0; i < t->nsum && !rc; i++) {
		/* A trace of many thousand segments must still hear a SIGTERM. */
		if ((i & 63) == 63 && stop_flag) {
			rc = INFTY_ECANCELED;
			break;
		}
		struct job *j = &t->jobs[i];
		if (infty_sum_extractive_add(x, t->v.seg[i], t->v.seg_len[i])) {
			rc = INFTY_ENOMEM;
			break;
		}
		infty_sha256_update(&h, t->v.seg[i], t->v.seg_len[i]);
		infty_sha256_update(&h, "", 1);
		pt += infty_sum_count_tokens(t->v.seg[i], t->v.seg_len[i]);
		struct infty_sha256 hk = h;
		unsigned char d[32];
		infty_sha256_final(&hk, d);
		memcpy(j->key, "sha256:", 7);
		infty_hex(d, 32, j->key + 7);
		j->started = 1;
		j->attempts = 1;
		char *text = infty_sum_extractive_text(x);
		if (!text) {
			rc = INFTY_ENOMEM;
			break;
		}
		long ct = infty_sum_count_tokens(text, strlen(text));
		struct json_object *s = summary_entry(e, j, text, "extractive", "infty-extractive",
		                                      e->prompt_hash, "stop", pt, ct, 0, 1);
		infty_free(text);
		rc = job_done(e, j, s);
	}
	infty_sum_extractive_free(x);
	return rc;
}

/*
 * Tokens of text for the lower bound: the exact Qwen count less the digit
 * discount with the tokenizer, else the byte estimate (already far lower).
 */
static long count_text(struct engine *e, const char *s, size_t len)
{
	if (e->tctx) {
		int64_t n = infty_tok_count(e->tctx, s, len);
		if (n >= 0)
			return (long)n - infty_sum_digit_discount(s, len);
	}
	return infty_sum_count_tokens(s, len);
}

/*
 * Our lower bound of a request's prompt, for the truncation check: the sum
 * of exact counts of its pieces (segments carry theirs from the segment
 * stage; question and instruction are counted once) less the digit
 * discount, chat-template tokens left out.  A server with our tokenizer
 * counts at least this; one with another tokenizer is allowed the margin
 * (--trunc-ratio).
 */
static long prompt_count(struct engine *e, struct job *j)
{
	struct trace *t = j->t;
	if (e->c->mode == SUM_MODE_UPDATE && j->i > 0) {
		const char *prev = t->texts[j->i - 1];
		return t->qcount + (t->cum[j->i] - t->cum[j->i - 1]) +
		       count_text(e, prev, strlen(prev)) + e->update_count;
	}
	return t->qcount + t->cum[j->i] + e->instr_count;
}

/* Whether a cached summary still answers the request under today's options. */
static int cache_valid(const struct engine *e, const struct sum_cache_entry *c)
{
	return !strcmp(c->finish_reason, "stop") && c->choice_tokens <= e->c->max_tokens &&
	       !infty_sum_validate(c->text, strlen(c->text), e->c->summary_max_chars);
}

/*
 * Whether a cached failure still decides the request: the options outside
 * the key that made it fail are the same, and a truncation judged by the
 * margin still is one by today's margin and count.
 */
static int failure_valid(const struct engine *e, const struct job *j,
                         const struct sum_cache_entry *c)
{
	if (e->c->retry_failed || c->max_tokens != e->c->max_tokens ||
	    c->summary_max_chars != e->c->summary_max_chars)
		return 0;
	if (!strcmp(c->reason, "prompt_truncated") && c->server_count <= 0)
		return infty_sum_truncated(e->c, c->prompt_tokens, j->prompt_count, 0, 0);
	return 1;
}

/* The cache entry of a permanent failure (borrows detail and excerpt). */
static int cache_failure(struct engine *e, struct job *j, const char *reason, long status,
                         const char *fr, long pt, long ct, long server_count, const char *detail,
                         const char *excerpt_text)
{
	if (!e->cache)
		return 0;
	struct sum_cache_entry ce = {0};
	snprintf(ce.reason, sizeof ce.reason, "%s", reason);
	snprintf(ce.finish_reason, sizeof ce.finish_reason, "%s", fr ? fr : "null");
	ce.status = status;
	ce.prompt_tokens = pt;
	ce.completion_tokens = ct;
	ce.attempts = j->attempts;
	ce.max_tokens = e->c->max_tokens;
	ce.summary_max_chars = e->c->summary_max_chars;
	ce.server_count = server_count;
	ce.detail = (char *)detail;
	ce.excerpt = (char *)excerpt_text;
	int rc = infty_sum_cache_put(e->cache, j->key, &ce);
	if (rc) {
		snprintf(e->detail, sizeof e->detail, "cache: %s",
		         infty_sum_cache_detail(e->cache));
		stop_as(e, "cache_error");
		return rc;
	}
	e->failures_cached++;
	return 0;
}

/* A permanent failure: cached (a relaunch does not pay for it again), then dead-lettered. */
static int fail_permanent(struct engine *e, struct job *j, const char *reason, long status,
                          const char *fr, long pt, long ct, long server_count, const char *detail,
                          const char *body, size_t body_len)
{
	char *ex = excerpt(body ? body : "", body ? body_len : 0, e->c->api_key);
	char safe[256];
	snprintf(safe, sizeof safe, "%s", detail ? detail : "");
	infty_sum_redact(safe, e->c->api_key);
	int rc = ex ? cache_failure(e, j, reason, status, fr, pt, ct, server_count, safe, ex)
	            : INFTY_ENOMEM;
	infty_free(ex);
	if (!rc)
		rc = job_fail(e, j, "permanent", reason, status, safe, body, body_len);
	return rc;
}

static int start_job(struct engine *e, struct job *j)
{
	struct trace *t = j->t;
	j->started = 1;
	int rc;
	if (e->c->mode == SUM_MODE_UPDATE && j->i > 0) {
		struct json_object *m = infty_sum_req_messages(&t->v, j->i, e->c->mode, &e->prompts,
		                                               t->texts[j->i - 1]);
		if (!m)
			return INFTY_ENOMEM;
		rc = infty_sum_req_build(e->c, m, 1, j->key, NULL, NULL);
		json_object_put(m);
	} else {
		rc = infty_sum_keyer_key(&t->keyer, &e->kp, &t->v, j->i, j->key);
	}
	if (rc)
		return rc;
	j->prompt_count = prompt_count(e, j);
	const struct sum_cache_entry *ce = e->cache ? infty_sum_cache_get(e->cache, j->key) : NULL;
	if (ce && ce->text && cache_valid(e, ce)) {
		e->cache_hits++;
		return job_done(e, j,
		                summary_entry(e, j, ce->text, "openai", e->c->model, e->prompt_hash,
		                              ce->finish_reason, ce->prompt_tokens,
		                              ce->completion_tokens, ce->reasoning_tokens,
		                              ce->attempts));
	}
	if (ce && !ce->text && failure_valid(e, j, ce)) {
		e->cache_hits++;
		e->failure_hits++;
		j->attempts = ce->attempts;
		count_reason(e, ce->reason);
		return job_fail(e, j, "permanent", ce->reason, ce->status, ce->detail, ce->excerpt,
		                ce->excerpt ? strlen(ce->excerpt) : 0);
	}
	e->sent++;
	return infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1, 0,
	                             j->prompt_count + e->c->max_tokens);
}

/* ---- HTTP ----------------------------------------------------------------- */

/* The body of the server's count of job j's prompt, in the endpoint's shape. */
static int count_body(struct engine *e, struct job *j, struct json_object *messages)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return INFTY_ENOMEM;
	if (infty_sum_http_count_api(e->http, j->ep) == SUM_COUNT_MESSAGES) {
		json_object_object_add(o, "model", json_object_new_string(e->c->model));
		json_object_object_add(o, "messages", json_object_get(messages));
		json_object_object_add(o, "add_generation_prompt", json_object_new_boolean(1));
	} else {
		/* Text only: the contents, one after the other. */
		size_t n = json_object_array_length(messages), len = 0, cap = 0;
		char *buf = NULL;
		for (size_t k = 0; k < n; k++) {
			struct json_object *m = json_object_array_get_idx(messages, k), *ct;
			if (!json_object_object_get_ex(m, "content", &ct))
				continue;
			size_t l = (size_t)json_object_get_string_len(ct);
			if (infty_grow(&buf, &cap, len + l + 2, 1)) {
				infty_free(buf);
				json_object_put(o);
				return INFTY_ENOMEM;
			}
			if (len)
				buf[len++] = '\n';
			memcpy(buf + len, json_object_get_string(ct), l);
			len += l;
		}
		json_object_object_add(o, "content",
		                       json_object_new_string_len(buf ? buf : "", (int)len));
		infty_free(buf);
	}
	size_t bl;
	const char *bs = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &bl);
	j->body = bs ? infty_strndup(bs, bl) : NULL;
	j->body_len = bl;
	json_object_put(o);
	return j->body ? 0 : INFTY_ENOMEM;
}

/* A slot is free for job j: build what it sends now (see sum_http_prepare_fn). */
static int prepare(void *job, const char **body, size_t *len, void *ctx)
{
	struct engine *e = ctx;
	struct job *j = job;
	if (j->settled)
		return 1;
	/* Its trace is a dead letter already: this summary would be wasted. */
	if (j->t->failed || e->err || e->fatal) {
		settle(j);
		e->cancelled++;
		if (!j->verifying)
			e->sent--; /* counted when queued, never sent */
		return 1;
	}
	struct trace *t = j->t;
	struct json_object *m = infty_sum_req_messages(&t->v, j->i, e->c->mode, &e->prompts,
	                                               j->i ? t->texts[j->i - 1] : NULL);
	if (!m)
		return INFTY_ENOMEM;
	int rc;
	infty_free(j->body);
	j->body = NULL;
	if (j->verifying) {
		rc = count_body(e, j, m);
	} else {
		int want = e->c->candidates - j->got;
		rc = infty_sum_req_build(e->c, m, e->c->use_n && want > 1 ? want : 1, NULL,
		                         &j->body, &j->body_len);
	}
	json_object_put(m);
	if (rc)
		return rc;
	*body = j->body;
	*len = j->body_len;
	return 0;
}

static double backoff(const struct sum_config *c, int retries)
{
	double d = c->backoff_base * pow(2, retries - 1);
	if (d > c->backoff_max)
		d = c->backoff_max;
	/* Jitter spreads the retries of a burst that failed together. */
	return d * (1 - 0.25 * ((double)rand() / RAND_MAX));
}

/* An accepted answer: into the cache, then into the trace. */
static int accept(struct engine *e, struct job *j, const char *text, const char *fr, long pt,
                  long ct, long cht, long rt)
{
	struct sum_cache_entry ce = {0};
	ce.text = (char *)text;
	snprintf(ce.finish_reason, sizeof ce.finish_reason, "%s", fr);
	ce.prompt_tokens = pt, ce.completion_tokens = ct, ce.choice_tokens = cht;
	ce.reasoning_tokens = rt, ce.attempts = j->attempts;
	int rc;
	if (e->cache && (rc = infty_sum_cache_put(e->cache, j->key, &ce))) {
		snprintf(e->detail, sizeof e->detail, "cache: %s",
		         infty_sum_cache_detail(e->cache));
		stop_as(e, "cache_error");
		return rc;
	}
	e->cache_puts++;
	return job_done(e, j,
	                summary_entry(e, j, text, "openai", e->c->model, e->prompt_hash, fr, pt, ct,
	                              rt, j->attempts));
}

/* The server's count of a suspicious prompt came back: truncated or not. */
static int on_count(struct engine *e, struct job *j, const struct sum_http_result *r)
{
	long n =
	    !r->curl_code && r->status == 200 ? infty_sum_tokenize_count(r->body, r->body_len) : -1;
	j->verifying = 0;
	e->counts_asked++;
	if (n <= 0)
		e->counts_failed++; /* judged by the margin, as without a count */
	struct held *h = &j->held;
	int exact = infty_sum_http_count_api(e->http, j->ep) == SUM_COUNT_MESSAGES;
	if (infty_sum_truncated(e->c, h->prompt_tokens, j->prompt_count, n > 0 ? n : 0, exact)) {
		char d[256];
		if (n > 0)
			snprintf(
			    d, sizeof d,
			    "prompt_tokens %ld is below the server's own count %ld of the prompt: "
			    "the server truncated the prompt",
			    h->prompt_tokens, n);
		else
			snprintf(
			    d, sizeof d,
			    "prompt_tokens %ld is below %.2f x our lower bound %ld: the server "
			    "truncated the prompt",
			    h->prompt_tokens, e->c->trunc_ratio, j->prompt_count);
		count_reason(e, "prompt_truncated");
		return fail_permanent(e, j, "prompt_truncated", 200, h->finish_reason,
		                      h->prompt_tokens, h->completion_tokens, n > 0 ? n : 0, d, "",
		                      0);
	}
	int rc = accept(e, j, h->text, h->finish_reason, h->prompt_tokens, h->completion_tokens,
	                h->choice_tokens, h->reasoning_tokens);
	held_release(h);
	return rc;
}

static void on_done(void *job, const struct sum_http_result *r, double latency, void *ctx)
{
	struct engine *e = ctx;
	struct job *j = job;
	struct sum_verdict v;
	/* The request is answered: its body is not needed any more (a retry rebuilds it). */
	infty_free(j->body);
	j->body = NULL;
	if (e->err)
		return;
	int rc;
	if (j->verifying) {
		if ((rc = on_count(e, j, r)) && !e->err)
			e->err = rc;
		if (!rc && (rc = advance(e, j->t)) && !e->err)
			e->err = rc;
		return;
	}
	j->attempts++;
	e->done_req++;
	add_latency(e, latency);
	int ep = infty_sum_http_current_ep(e->http);
	int can_verify = e->c->server_count != SUM_COUNT_OFF &&
	                 infty_sum_http_count_api(e->http, ep) != SUM_COUNT_NONE;
	rc = infty_sum_classify(r, e->c, j->prompt_count, can_verify, &v);
	if (rc) {
		e->err = rc;
		return;
	}
	e->by_class[v.cls]++;
	if (!(v.cls == SUM_OK && v.verify))
		count_reason(e, v.reason);
	e->tok_prompt += v.prompt_tokens;
	e->tok_completion += v.completion_tokens;
	e->tok_reasoning += v.reasoning_tokens;
	e->tok_cached += v.cached_tokens;
	/* Only a sick server trips the breaker; a 4xx about one record does not. */
	infty_sum_http_outcome(
	    e->http, !(v.cls == SUM_RETRY && !v.throttle && (r->status == 0 || r->status >= 500)));
	if (v.throttle) {
		infty_sum_http_throttle(e->http);
		if (infty_sum_http_window(e->http) < e->window_min)
			e->window_min = infty_sum_http_window(e->http);
	}
	switch (v.cls) {
	case SUM_OK:
		infty_sum_http_success(e->http);
		if (v.prompt_tokens <= 0)
			e->no_usage++;
		if (v.verify) {
			/* Under our bound: the server's own count decides (on_count). */
			j->held = (struct held){v.text,          "",
			                        v.prompt_tokens, v.completion_tokens,
			                        v.choice_tokens, v.reasoning_tokens};
			snprintf(j->held.finish_reason, sizeof j->held.finish_reason, "%s",
			         v.finish_reason);
			v.text = NULL;
			j->verifying = 1;
			j->ep = ep;
			rc = infty_sum_http_submit(e->http, j, SUM_ROUTE_TOKENIZE, ep, 0, 0);
			break;
		}
		rc = accept(e, j, v.text, v.finish_reason, v.prompt_tokens, v.completion_tokens,
		            v.choice_tokens, v.reasoning_tokens);
		break;
	case SUM_RETRY:
		if (++j->retries > e->c->max_retries) {
			rc = job_fail(e, j, "retry", v.reason, r->status, v.detail, r->body,
			              r->body_len);
			if (!e->c->allow_failed) {
				/* The output cannot be published: finish the window, read no more.
				 */
				e->draining = 1;
				if (!e->retry_reason)
					e->retry_reason = v.reason;
			}
			break;
		}
		{
			double d = v.retry_after >= 0 ? v.retry_after : backoff(e->c, j->retries);
			if (d > e->c->retry_after_cap)
				d = e->c->retry_after_cap;
			e->sent++;
			rc = infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1,
			                           infty_sum_now() + d,
			                           j->prompt_count + e->c->max_tokens);
		}
		break;
	case SUM_REJECT:
		j->got += v.choices > 0 ? v.choices : 1;
		if (j->got >= e->c->candidates) {
			rc = fail_permanent(e, j, v.reason, r->status, v.finish_reason,
			                    v.prompt_tokens, v.completion_tokens, 0, v.detail,
			                    r->body, r->body_len);
			break;
		}
		/* The server gave fewer choices than asked: ask for the rest. */
		e->sent++;
		rc = infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1, 0,
		                           j->prompt_count + e->c->max_tokens);
		break;
	case SUM_PERMANENT:
		rc = fail_permanent(e, j, v.reason, r->status, v.finish_reason, v.prompt_tokens,
		                    v.completion_tokens, 0, v.detail, r->body, r->body_len);
		break;
	case SUM_FATAL: {
		char safe[256];
		snprintf(safe, sizeof safe, "%s", v.detail);
		infty_sum_redact(safe, e->c->api_key);
		snprintf(e->detail, sizeof e->detail,
		         "%s (%s): stopping; completed summaries are kept in the cache", safe,
		         v.reason);
		e->fatal = 1;
		stop_as(e, "fatal_endpoint");
		break;
	}
	}
	infty_sum_verdict_release(&v);
	if (!rc && j->settled)
		rc = advance(e, j->t);
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
		const char *why = infty_reader_detail(e->in);
		stop_as(e, "read_error");
		return infty_stage_fail(e->st, rc, "%s: %s", infty_reader_path(e->in),
		                        *why ? why : infty_strerror(rc));
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
	e->planned += t->nsum;
	t->jobs = infty_calloc(t->nsum + 1, sizeof *t->jobs);
	t->sums = infty_calloc(t->nsum + 1, sizeof *t->sums);
	t->texts = infty_calloc(t->nsum + 1, sizeof *t->texts);
	t->cum = infty_calloc(t->v.n, sizeof *t->cum);
	if (!t->jobs || !t->sums || !t->texts || !t->cum ||
	    infty_grow(&e->fifo, &e->fcap, e->flen + 1, sizeof *e->fifo)) {
		trace_free(t);
		return INFTY_ENOMEM;
	}
	e->fifo[e->flen++] = t;
	for (size_t k = 0; k < t->nsum; k++)
		t->jobs[k] = (struct job){.t = t, .i = k, .ep = -1};
	if (e->c->backend == SUM_BACKEND_EXTRACTIVE)
		return extractive_trace(e, t);
	/* Counted once per trace: a job's bound is then a sum, not a recount. */
	t->qcount = count_text(e, t->v.question, strlen(t->v.question));
	for (size_t k = 0; k < t->v.n; k++)
		t->cum[k] = (k ? t->cum[k - 1] : 0) +
		            (t->v.seg_tokens[k] >= 0
		                 ? t->v.seg_tokens[k] -
		                       infty_sum_digit_discount(t->v.seg[k], t->v.seg_len[k])
		                 : count_text(e, t->v.seg[k], t->v.seg_len[k]));
	if ((rc = infty_sum_keyer_begin(&t->keyer, &e->kp, t->v.question)))
		return rc;
	if (e->c->mode == SUM_MODE_UPDATE)
		return advance(e, t);
	/* Cumulative: all at once, so the shared prefix meets a warm prefix cache. */
	for (size_t k = 0; k < t->nsum && !rc; k++) {
		if ((k & 63) == 63 && stop_flag)
			return INFTY_ECANCELED;
		rc = start_job(e, &t->jobs[k]);
	}
	return rc;
}

/* ---- output --------------------------------------------------------------- */

/*
 * A dead letter: the common reject record with the failure's class,
 * status, attempts, the summary that failed, an excerpt of the last answer
 * and the whole record instead of the raw line (docs/formats.md).
 */
static int dead_letter(struct engine *e, struct trace *t)
{
	struct json_object *x = json_object_new_object();
	int rc =
	    !x || infty_json_add(x, "class", json_object_new_string(t->fclass)) ||
	    infty_json_add(x, "status", json_object_new_int64(t->fstatus)) ||
	    infty_json_add(x, "attempts", json_object_new_int(t->fattempts)) ||
	    infty_json_add(x, "i", json_object_new_int64((int64_t)t->fi)) ||
	    infty_json_add(x, "excerpt", json_object_new_string(t->fexcerpt ? t->fexcerpt : "")) ||
	    infty_json_add(x, "record", json_object_get(t->rec));
	if (rc) {
		json_object_put(x);
		return infty_stage_fail(e->st, INFTY_ENOMEM, "out of memory");
	}
	struct infty_reject r = {NULL, t->line, t->freason, t->fdetail, t->id, x, NULL, 0};
	rc = infty_stage_reject(e->st, &r);
	json_object_put(x);
	return rc;
}

static int write_trace(struct engine *e, struct trace *t)
{
	if (t->raw) {
		e->rejected++;
		struct infty_reject r = {NULL, t->line, t->rreason, t->rdetail,
		                         NULL, NULL,    t->raw,     t->raw_len};
		return infty_stage_reject(e->st, &r);
	}
	if (t->failed) {
		e->traces_failed++;
		if (!strcmp(t->fclass, "retry"))
			e->traces_retry_left++;
		return dead_letter(e, t);
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
	return infty_stage_put_json(e->st, t->rec);
}

static int drain(struct engine *e)
{
	/* The window is a few hundred traces, so shifting the array is cheap. */
	while (e->flen && e->fifo[0]->settled == e->fifo[0]->nsum) {
		struct trace *t = e->fifo[0];
		int rc = write_trace(e, t);
		trace_free(t);
		memmove(e->fifo, e->fifo + 1, (e->flen - 1) * sizeof *e->fifo);
		e->flen--;
		if (rc) {
			/* The frame has the message (which file, why). */
			stop_as(e, rc == INFTY_ENOMEM ? "out_of_memory" : "write_error");
			return rc;
		}
	}
	return 0;
}

/* ---- stats ---------------------------------------------------------------- */

static const char *count_api_name(const struct engine *e)
{
	if (e->c->backend != SUM_BACKEND_OPENAI)
		return "none";
	if (e->c->server_count == SUM_COUNT_OFF)
		return "off";
	if (!e->http || !e->can_count)
		return "none";
	return infty_sum_http_count_api(e->http, 0) == SUM_COUNT_MESSAGES ? "messages" : "content";
}

/*
 * The stage's own stats fields, made once when the run ends (finished or
 * stopped): the frame writes them after its own (stage, completed,
 * stopped_by, rejected, ...), when the engine is gone.
 */
static struct json_object *stats_fields(struct engine *e)
{
	struct json_object *o = json_object_new_object(), *x;
	if (!o)
		return NULL;
	double el = infty_sum_now() - e->started;
	x = json_object_new_object();
	json_object_object_add(x, "in", json_object_new_int64((int64_t)e->traces_in));
	json_object_object_add(x, "ok", json_object_new_int64((int64_t)e->traces_ok));
	json_object_object_add(x, "failed", json_object_new_int64((int64_t)e->traces_failed));
	json_object_object_add(x, "failed_retryable",
	                       json_object_new_int64((int64_t)e->traces_retry_left));
	json_object_object_add(x, "rejected", json_object_new_int64((int64_t)e->rejected));
	json_object_object_add(o, "traces", x);
	x = json_object_new_object();
	json_object_object_add(x, "sent", json_object_new_int64((int64_t)e->sent));
	json_object_object_add(x, "answered", json_object_new_int64((int64_t)e->done_req));
	for (int k = 0; k < 5; k++)
		json_object_object_add(x, infty_sum_class_name((enum sum_class)k),
		                       json_object_new_int64((int64_t)e->by_class[k]));
	json_object_object_add(x, "server_counts", json_object_new_int64((int64_t)e->counts_asked));
	json_object_object_add(x, "server_counts_failed",
	                       json_object_new_int64((int64_t)e->counts_failed));
	json_object_object_add(o, "requests", x);
	json_object_object_add(o, "reasons", json_object_get(e->reasons));
	x = json_object_new_object();
	json_object_object_add(x, "made", json_object_new_int64((int64_t)e->summaries));
	json_object_object_add(x, "cache_hits", json_object_new_int64((int64_t)e->cache_hits));
	json_object_object_add(x, "cache_writes", json_object_new_int64((int64_t)e->cache_puts));
	json_object_object_add(x, "failures_cached",
	                       json_object_new_int64((int64_t)e->failures_cached));
	json_object_object_add(x, "failure_hits", json_object_new_int64((int64_t)e->failure_hits));
	json_object_object_add(x, "cancelled", json_object_new_int64((int64_t)e->cancelled));
	json_object_object_add(o, "summaries", x);
	x = json_object_new_object();
	json_object_object_add(x, "skipped_parts",
	                       json_object_new_int64((int64_t)e->cache_skipped_parts));
	json_object_object_add(x, "skipped_bytes",
	                       json_object_new_int64((int64_t)e->cache_skipped_bytes));
	json_object_object_add(x, "bad_lines", json_object_new_int64((int64_t)e->cache_bad_lines));
	json_object_object_add(o, "cache", x);
	x = json_object_new_object();
	json_object_object_add(x, "ratio", json_object_new_double(e->c->trunc_ratio));
	json_object_object_add(x, "tokenizer",
	                       e->tok_path ? json_object_new_string(e->tok_path) : NULL);
	json_object_object_add(x, "server_count", json_object_new_string(count_api_name(e)));
	json_object_object_add(x, "answers_without_usage",
	                       json_object_new_int64((int64_t)e->no_usage));
	json_object_object_add(o, "truncation_check", x);
	x = json_object_new_object();
	json_object_object_add(x, "prompt", json_object_new_int64(e->tok_prompt));
	json_object_object_add(x, "completion", json_object_new_int64(e->tok_completion));
	json_object_object_add(x, "reasoning", json_object_new_int64(e->tok_reasoning));
	json_object_object_add(x, "cached", json_object_new_int64(e->tok_cached));
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
	struct rusage ru;
	if (!getrusage(RUSAGE_SELF, &ru))
		json_object_object_add(o, "max_rss_kb", json_object_new_int64(ru.ru_maxrss));
	return o;
}

/* The snapshot's counters (docs/formats.md, "Progress snapshot"). */
static int counters(const struct engine *e, struct json_object *o)
{
	size_t inflight = e->http ? infty_sum_http_inflight(e->http) : 0;
	int rc =
	    infty_json_add(o, "traces_in", json_object_new_int64((int64_t)e->traces_in)) ||
	    infty_json_add(o, "traces_ok", json_object_new_int64((int64_t)e->traces_ok)) ||
	    infty_json_add(o, "traces_failed", json_object_new_int64((int64_t)e->traces_failed)) ||
	    infty_json_add(o, "requests_planned", json_object_new_int64((int64_t)e->planned)) ||
	    infty_json_add(o, "requests_sent", json_object_new_int64((int64_t)e->sent)) ||
	    infty_json_add(o, "requests_answered", json_object_new_int64((int64_t)e->done_req)) ||
	    infty_json_add(o, "requests_in_flight", json_object_new_int64((int64_t)inflight)) ||
	    infty_json_add(o, "cache_hits", json_object_new_int64((int64_t)e->cache_hits));
	for (int k = 1; !rc && k < 5; k++) {
		char key[32];
		snprintf(key, sizeof key, "failures_%s", infty_sum_class_name((enum sum_class)k));
		rc = infty_json_add(o, key, json_object_new_int64((int64_t)e->by_class[k]));
	}
	rc = rc || infty_json_add(o, "prompt_tokens", json_object_new_int64(e->tok_prompt)) ||
	     infty_json_add(o, "completion_tokens", json_object_new_int64(e->tok_completion)) ||
	     infty_json_add(o, "cached_tokens", json_object_new_int64(e->tok_cached));
	return rc ? INFTY_ENOMEM : 0;
}

/* Copy every field of from into o (the engine's, kept past its end). */
static int copy_fields(const struct json_object *from, struct json_object *o)
{
	if (!from)
		return 0;
	json_object_object_foreach((struct json_object *)from, k, v)
	{
		if (json_object_object_add(o, k, json_object_get(v)))
			return INFTY_ENOMEM;
	}
	return 0;
}

int infty_sum_stats_fields(void *ctx, struct json_object *o)
{
	const struct sum_stats_out *so = ctx;
	return copy_fields(so->fields, o);
}

int infty_sum_progress_fields(void *ctx, struct json_object *o)
{
	const struct sum_stats_out *so = ctx;
	return so->live ? counters(so->live, o) : copy_fields(so->counters, o);
}

void infty_sum_stats_out_release(struct sum_stats_out *so)
{
	json_object_put(so->fields);
	json_object_put(so->counters);
	so->fields = so->counters = NULL;
}

static void progress(struct engine *e)
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
	infty_stage_progress(e->st, e->traces_ok + e->traces_failed + e->rejected, extra);
}

/* "a: b" as one warning line, the progress line cleared first. */
static void warn(const struct engine *e, const char *a, const char *b)
{
	infty_stage_warn(e->st, "%s: %s", a, b);
}

/* ---- the run -------------------------------------------------------------- */

/*
 * The tokenizer for exact counts of the question and the instruction: the
 * one given, else the default one when it is there (as infty-segment does),
 * else the byte estimate.
 */
static int open_tokenizer(struct engine *e)
{
	const struct sum_config *c = e->c;
	const char *path = c->tokenizer;
	if (!path && !c->no_tokenizer) {
		path = infty_tokenizer_default_path();
		if (path && access(path, R_OK))
			path = NULL;
	}
	if (!path)
		return 0;
	char td[256] = "";
	int rc = infty_tokenizer_load(&e->tok, path, td, sizeof td);
	if (rc) {
		if (c->tokenizer) {
			snprintf(e->detail, sizeof e->detail, "%s: %s", path, td);
			return rc;
		}
		char why[320];
		snprintf(why, sizeof why, "%s; prompt counts are estimated", td);
		warn(e, path, why);
		return 0;
	}
	if (!(e->tctx = infty_tok_ctx_new(e->tok)))
		return INFTY_ENOMEM;
	e->tok_path = path;
	return 0;
}

/* Tokens of the update template's own text, its {placeholders} left out. */
static long template_count(struct engine *e, const char *tpl)
{
	long n = 0;
	const char *a = tpl;
	for (const char *p = tpl;; p++) {
		int ph = *p == '{' && (!strncmp(p, "{question}", 10) ||
		                       !strncmp(p, "{summary}", 9) || !strncmp(p, "{segment}", 9));
		if (!*p || ph) {
			n += count_text(e, a, (size_t)(p - a));
			if (!*p)
				break;
			p = strchr(p, '}');
			a = p + 1;
		}
	}
	return n;
}

static int open_cache(struct engine *e)
{
	int rc = infty_sum_cache_open(&e->cache, e->c->cache, e->detail, sizeof e->detail);
	if (rc) {
		stop_as(e, "cache_error");
		return rc;
	}
	infty_sum_cache_damage(e->cache, &e->cache_skipped_parts, &e->cache_skipped_bytes,
	                       &e->cache_bad_lines);
	if (e->cache_skipped_parts || e->cache_bad_lines) {
		char what[256];
		snprintf(what, sizeof what,
		         "cache: skipped %llu damaged or torn part(s) (%llu bytes) and %llu bad "
		         "line(s); "
		         "the other %zu entries are kept",
		         (unsigned long long)e->cache_skipped_parts,
		         (unsigned long long)e->cache_skipped_bytes,
		         (unsigned long long)e->cache_bad_lines, infty_sum_cache_loaded(e->cache));
		warn(e, e->c->cache, what);
	}
	return 0;
}

static int open_all(struct engine *e)
{
	const struct sum_config *c = e->c;
	int rc;
	if (c->backend == SUM_BACKEND_OPENAI) {
		if ((rc = infty_sum_prompts_load(&e->prompts, c->prompt_dir, e->detail,
		                                 sizeof e->detail))) {
			if (rc != INFTY_ENOMEM)
				rc = INFTY_EINVAL; /* a configuration error */
			return rc;
		}
		e->prompt_hash = e->prompts.hash;
		if ((rc = infty_sum_keyparts_init(&e->kp, c, &e->prompts)))
			return rc;
		if ((rc = open_tokenizer(e)))
			return rc;
		e->instr_count =
		    count_text(e, e->prompts.cumulative, strlen(e->prompts.cumulative));
		e->update_count = template_count(e, e->prompts.update);
		if (c->cache && (rc = open_cache(e)))
			return rc;
		if (!(e->http = infty_sum_http_new(c, prepare, on_done, e)))
			return INFTY_ENOMEM;
		if (c->ready_timeout > 0 &&
		    (rc = infty_sum_http_ready(e->http, c->ready_timeout, e->detail,
		                               sizeof e->detail))) {
			e->fatal = 1;
			stop_as(e, rc == INFTY_ECANCELED ? "signal"
			           : rc == INFTY_EINVAL  ? "fatal_endpoint"
			                                 : "endpoint_not_ready");
			return rc;
		}
		if (c->server_count != SUM_COUNT_OFF) {
			e->can_count = infty_sum_http_probe_count(e->http, c->model);
			if (c->server_count == SUM_COUNT_TOKENIZE &&
			    e->can_count < c->n_endpoints) {
				snprintf(
				    e->detail, sizeof e->detail,
				    "--server-count tokenize: %zu of %zu endpoint(s) answer POST "
				    "/tokenize (vLLM or llama.cpp shape)",
				    e->can_count, c->n_endpoints);
				return INFTY_EINVAL;
			}
		}
	} else {
		static char h[72];
		char b[64];
		snprintf(b, sizeof b, "infty-extractive/1 budget=%ld", c->extractive_budget);
		memcpy(h, "sha256:", 7);
		infty_sha256_hex(b, strlen(b), h + 7);
		e->prompt_hash = h;
	}
	/* The input, checked and opened by the frame. */
	return infty_stage_next_input(e->st, &e->in) < 0 ? INFTY_EIO : 0;
}

int infty_sum_engine_run(struct infty_stage *st, const struct sum_config *c,
                         struct sum_stats_out *so)
{
	struct engine e = {.c = c, .st = st, .so = so, .window_min = c->max_inflight};
	e.started = infty_sum_now();
	e.reasons = json_object_new_object();
	so->live = &e;
	size_t window = c->window > 0
	                    ? (size_t)c->window
	                    : (size_t)(c->max_inflight * 4 > 64 ? c->max_inflight * 4 : 64);
	int rc = e.reasons ? open_all(&e) : INFTY_ENOMEM;
	double last_progress = 0;
	while (!rc) {
		while (!rc && !e.eof && !e.fatal && !e.err && !e.draining && !stop_flag &&
		       e.flen < window)
			rc = read_one(&e);
		if (!rc)
			rc = drain(&e);
		if (rc || e.err || e.fatal || ((e.eof || e.draining) && !e.flen))
			break;
		if (stop_flag || infty_stage_cancelled()) {
			rc = INFTY_ECANCELED;
			break;
		}
		if (e.http) {
			rc = infty_sum_http_step(e.http, 0.25);
			if (!rc && e.cache && (rc = infty_sum_cache_flush(e.cache))) {
				snprintf(e.detail, sizeof e.detail, "cache: %s",
				         infty_sum_cache_detail(e.cache));
				stop_as(&e, "cache_error");
			}
		}
		double now = infty_sum_now();
		if (now - last_progress > 0.25) {
			progress(&e);
			last_progress = now;
		}
	}
	if (!rc && e.err)
		rc = e.err;
	if (!rc && e.fatal)
		rc = INFTY_EHTTP;
	if (rc == INFTY_ECANCELED) {
		stop_as(&e, "signal");
		snprintf(e.detail, sizeof e.detail,
		         "interrupted; completed summaries are kept in the cache");
	}
	/* Whatever happened, what the cache holds must reach the disk. */
	if (e.cache) {
		int crc = infty_sum_cache_close(e.cache);
		if (crc && !rc) {
			rc = crc;
			stop_as(&e, "cache_error");
			snprintf(e.detail, sizeof e.detail, "cache: close failed");
		}
	}
	/*
	 * Retryable failures left: nothing about the output is wrong, but it is
	 * incomplete for a reason a relaunch can fix, so it is not published.
	 */
	if (!rc && e.traces_retry_left && !c->allow_failed) {
		rc = INFTY_EHTTP;
		stop_as(&e, "retries_exhausted");
		snprintf(e.detail, sizeof e.detail,
		         "%llu trace(s) failed with retryable errors (%s) after %d retries; "
		         "relaunch to retry them (answered requests come from the cache), or "
		         "--allow-failed to accept them as failures",
		         (unsigned long long)e.traces_retry_left,
		         e.retry_reason ? e.retry_reason : "retry", c->max_retries);
	}
	/* A fatal answer (401, 404) stops the run; it is not a usage error. */
	if (rc == INFTY_EINVAL && e.fatal)
		rc = INFTY_EHTTP;
	/* Without a reason of its own, the frame names it from rc (io_error, ...). */
	progress(&e);
	if (e.no_usage) {
		char n[256];
		snprintf(n, sizeof n,
		         "%llu answer(s) came without usage.prompt_tokens, so the truncation check "
		         "could not run on them%s",
		         (unsigned long long)e.no_usage,
		         c->stream ? " (a server that sends no usage in a stream: try --no-stream)"
		                   : "");
		warn(&e, "warning", n);
	}
	so->traces_in = e.traces_in;
	so->traces_out = e.traces_ok;
	so->traces_failed = e.traces_failed;
	so->records_rejected = e.rejected;
	so->requests_sent = e.done_req;
	so->summaries_done = e.summaries;
	so->cache_hits = e.cache_hits;
	so->fatal = e.fatal;
	so->stopped_by = rc < 0 ? e.stopped_by : NULL;
	/* The stats and the last snapshot are written by the frame, after this. */
	so->fields = stats_fields(&e);
	if ((so->counters = json_object_new_object()) && counters(&e, so->counters)) {
		json_object_put(so->counters);
		so->counters = NULL;
	}
	so->live = NULL;
	if (rc < 0) {
		infty_stage_set_stopped_by(st, e.stopped_by);
		if (e.detail[0]) /* the frame keeps the first failure it was told */
			infty_stage_fail(st, rc, "%s", e.detail);
	}
	/* Transfers still running point into the jobs' bodies: end them first. */
	infty_sum_http_free(e.http);
	for (size_t k = 0; k < e.flen; k++)
		trace_free(e.fifo[k]);
	infty_free(e.fifo);
	infty_sum_prompts_release(&e.prompts);
	infty_sum_keyparts_release(&e.kp);
	infty_tok_ctx_free(e.tctx);
	infty_tokenizer_free(e.tok);
	json_object_put(e.reasons);
	if (rc)
		return rc;
	return e.traces_failed || e.rejected ? 1 : 0;
}
