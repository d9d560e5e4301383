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
 * Every summary is checked (sum_quality.c) against the trace's index, built
 * once when the trace is read.  The policy acts while the answer is
 * classified: a choice raising a retry or reject flag is passed over for the
 * next one, the best of them kept aside; when the candidates run out, that
 * best one is kept flagged (retry) or its trace dead-lettered as
 * quality_<flag> (reject).  With --judge a made summary goes on to the judge
 * (phase PH_JUDGE) and, below the threshold, to a refine request (PH_REFINE)
 * whose summary is checked and judged again, up to --judge-rounds; the job
 * is settled with the best judged summary.  Judge and refine requests go
 * through the same cache, retries and limits, by keys of their own.
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

/*
 * What requests took: HTTP requests made (answered or not), the server's
 * usage summed over their answers, reasoning tokens, and the retries by
 * reason.  One per request being made (job.sp), one per judge-and-refine
 * loop, one per failed trace, and the run's: what its output records
 * (engine.used), the same whether the answers came now or from the cache.
 */
struct spend {
	long long requests, prompt, completion, cached, reasoning;
	struct json_object *retries; /* owned (accumulators) or borrowed: reason -> count */
};

static void spend_release(struct spend *s)
{
	json_object_put(s->retries);
	memset(s, 0, sizeof *s);
}

/* Add n retries for reason (dst owns its retries).  0 or INFTY_ENOMEM. */
static int spend_retry(struct spend *dst, const char *reason, int64_t n)
{
	struct json_object *x;
	if (!dst->retries && !(dst->retries = json_object_new_object()))
		return INFTY_ENOMEM;
	if (json_object_object_get_ex(dst->retries, reason, &x))
		return json_object_set_int64(x, json_object_get_int64(x) + n) ? 0 : INFTY_ENOMEM;
	return infty_json_add(dst->retries, reason, json_object_new_int64(n));
}

/* dst += src (dst owns its retries, src's are read).  0 or INFTY_ENOMEM. */
static int spend_add(struct spend *dst, const struct spend *src)
{
	dst->requests += src->requests;
	dst->prompt += src->prompt;
	dst->completion += src->completion;
	dst->cached += src->cached;
	dst->reasoning += src->reasoning;
	if (!src->retries)
		return 0;
	json_object_object_foreach(src->retries, k, v)
	{
		if (spend_retry(dst, k, json_object_get_int64(v)))
			return INFTY_ENOMEM;
	}
	return 0;
}

/* A cache entry's spend (its retries borrowed from it). */
static struct spend spend_of_entry(const struct sum_cache_entry *c)
{
	return (struct spend){c->attempts,      c->prompt_tokens,    c->completion_tokens,
	                      c->cached_tokens, c->reasoning_tokens, c->retries};
}

/* The usage object of a summaries[] entry, a cache entry or a judge object. */
static struct json_object *usage_json(const struct spend *s)
{
	struct json_object *u = json_object_new_object();
	if (!u || infty_json_add(u, "prompt_tokens", json_object_new_int64(s->prompt)) ||
	    infty_json_add(u, "completion_tokens", json_object_new_int64(s->completion)) ||
	    infty_json_add(u, "cached_tokens", json_object_new_int64(s->cached))) {
		json_object_put(u);
		return NULL;
	}
	return u;
}

static long long int_at(struct json_object *o, const char *k)
{
	struct json_object *x;
	return o && json_object_object_get_ex(o, k, &x) ? (long long)json_object_get_int64(x) : 0;
}

/*
 * What a summaries[] entry records it took (docs/formats.md): with --judge,
 * the judge object's usage (the whole loop: every summary judged, the
 * judge's answers, the refinements); else its own request's, unless it is
 * an extractive summary, whose usage is our estimate and cost nothing.
 * The retries are borrowed from s.
 */
static struct spend spend_of_summary(struct json_object *s)
{
	struct json_object *jo, *u, *x;
	struct spend sp = {0};
	if (json_object_object_get_ex(s, "judge", &jo) &&
	    json_object_object_get_ex(jo, "usage", &u)) {
		sp.requests = int_at(u, "requests");
		sp.reasoning = int_at(u, "reasoning_tokens");
	} else if (json_object_object_get_ex(s, "backend", &x) &&
	           !strcmp(json_object_get_string(x), "extractive")) {
		return sp;
	} else {
		json_object_object_get_ex(s, "usage", &u);
		sp.requests = int_at(s, "attempts");
		sp.reasoning = int_at(s, "reasoning_tokens");
		jo = s;
	}
	sp.prompt = int_at(u, "prompt_tokens");
	sp.completion = int_at(u, "completion_tokens");
	sp.cached = int_at(u, "cached_tokens");
	if (json_object_object_get_ex(jo, "retries", &x) &&
	    json_object_is_type(x, json_type_object))
		sp.retries = x;
	return sp;
}

/* An answer held while the server counts its prompt (verify). */
struct held {
	char *text; /* owned */
	char finish_reason[24];
	long prompt_tokens, completion_tokens, choice_tokens, reasoning_tokens;
};

/* What a job is asking for now. */
enum phase { PH_SUMMARY, PH_JUDGE, PH_REFINE };
static const char *const phase_name[] = {"summary", "judge", "refine"};

/* A candidate the quality policy passed over, kept in case none passes. */
struct cand {
	char *text; /* owned */
	int bad;    /* badness(): lower is better */
	long rt;    /* its reasoning tokens */
};

/* The judge-and-refine loop of one summary. */
struct judging {
	struct json_object *cur;  /* owned ref: the summary entry judged now (or last) */
	struct json_object *best; /* owned ref: the best judged so far (may be cur) */
	int best_score;
	int rounds, scores[SUM_JUDGE_MAX_ROUNDS];
	char *feedback;      /* owned: the judge's feedback on cur */
	const char *stopped; /* static: why refining ended early, or NULL */
	long base_count;     /* the summary request's prompt count */
	char key[72];        /* the judge's or the refine request's key */
	struct spend all;    /* every request of the loop, the summaries judged included */
};

struct job {
	struct trace *t;
	size_t i;
	char key[72]; /* the summary request's */
	char *body;   /* owned while in flight */
	size_t body_len;
	long prompt_count; /* our lower bound of the prompt's tokens */
	int attempts, retries, got;
	int started, settled;
	int verifying; /* the request in flight is the server's count of the prompt */
	int ep;        /* the endpoint whose answer is being verified */
	struct held held;
	unsigned char phase; /* enum phase */
	struct cand *best;   /* owned, or NULL */
	struct judging *jg;  /* owned, or NULL */
	struct spend sp;     /* the request being made: its attempts so far */
};

struct trace {
	struct json_object *rec; /* owned parsed record (NULL for an input reject) */
	const char *id;
	uint64_t line;
	struct sum_trace_view v;
	size_t nsum, settled;
	struct job *jobs;
	struct json_object **sums;     /* owned summary entries, nsum */
	char **texts;                  /* borrowed from sums: for --mode update */
	long qcount;                   /* tokens of the question */
	long *cum;                     /* owned: tokens of segments 0..k (prefix sums) */
	struct sum_keyer keyer;        /* cumulative keys, one segment at a time */
	struct sum_quality_index *qix; /* owned: question and every segment */
	char *answer;                  /* owned: the conclusion's boxed answer, or NULL */
	unsigned char (*chain)[32];    /* owned (--judge): names question + segments 0..k */
	size_t next_start;             /* update mode: the next job to start */
	/* first failure */
	int failed;
	const char *fclass, *freason;
	long fstatus;
	int fattempts;
	size_t fi;
	const char *frequest; /* static: summary, judge or refine */
	char fdetail[256];
	char *fexcerpt;   /* owned */
	struct spend fsp; /* what the failing request (and its loop) took */
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
	struct sum_judge_prompts jprompts;
	struct sum_config jc;           /* the judge's requests: its model, temperature 0, n 1 */
	long judge_count, refine_count; /* tokens of judge.txt / refine.txt's own text */
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
	struct spend used; /* what the records written took (stats "usage") */
	uint64_t settled;  /* planned summaries that are over: made, failed, or dropped */
	/* quality: at write time (flags, checked, flagged, rejected) or as it happens */
	uint64_t q_checked, q_flagged, q_flag[SUM_Q_NFLAGS], q_rejected;
	uint64_t q_passed, q_exhausted, q_stale;
	/* judge: at write time (judged, scores, rounds) or as it happens */
	uint64_t j_judged, j_score[6], j_rounds[SUM_JUDGE_MAX_ROUNDS + 1];
	uint64_t answered[3]; /* requests answered, by phase */
	uint64_t j_hits, r_hits, r_stopped;
	uint64_t lat[NBUCKET], nlat;
	double lat_max;
	double started;
	double window_min; /* smallest in-flight window AIMD went down to */
};

/* ---- small helpers -------------------------------------------------------- */
/* The key of the request the job is on now. */
static const char *req_key(const struct job *j)
{
	return j->phase == PH_SUMMARY ? j->key : j->jg->key;
}

static int judge_finish(struct engine *e, struct job *j);

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

static void cand_free(struct cand *c)
{
	if (c)
		infty_free(c->text);
	infty_free(c);
}

static void judging_free(struct judging *g)
{
	if (!g)
		return;
	json_object_put(g->cur);
	json_object_put(g->best);
	infty_free(g->feedback);
	spend_release(&g->all);
	infty_free(g);
}

static void trace_free(struct trace *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->nsum; k++) {
		infty_free(t->jobs[k].body);
		held_release(&t->jobs[k].held);
		cand_free(t->jobs[k].best);
		judging_free(t->jobs[k].jg);
		spend_release(&t->jobs[k].sp);
		json_object_put(t->sums[k]);
	}
	infty_sum_quality_index_free(t->qix);
	infty_free(t->answer);
	infty_free(t->chain);
	infty_free(t->jobs);
	infty_free(t->sums);
	infty_free(t->texts);
	infty_free(t->cum);
	infty_free((void *)t->v.seg);
	infty_free(t->v.seg_len);
	infty_free(t->v.seg_tokens);
	infty_free(t->fexcerpt);
	spend_release(&t->fsp);
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

/* A summaries[] entry (docs/formats.md), with the checks' flags and numbers. */
static struct json_object *summary_entry(struct engine *e, struct job *j, const char *text,
                                         const char *backend, const char *model, const char *prompt,
                                         const char *fr, const struct spend *sp,
                                         const struct sum_quality_result *q)
{
	struct json_object *s = json_object_new_object(), *u = usage_json(sp);
	struct json_object *fl = infty_sum_quality_flags_json(q), *qo = infty_sum_quality_json(q);
	if (!s || !u || !fl || !qo) {
		json_object_put(s);
		json_object_put(u);
		json_object_put(fl);
		json_object_put(qo);
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
	json_object_object_add(s, "key", json_object_new_string(req_key(j)));
	json_object_object_add(s, "attempts", json_object_new_int64(sp->requests));
	json_object_object_add(s, "finish_reason", json_object_new_string(fr));
	json_object_object_add(s, "usage", u);
	json_object_object_add(s, "reasoning_tokens", json_object_new_int64(sp->reasoning));
	if (sp->retries && json_object_object_length(sp->retries))
		json_object_object_add(s, "retries", json_object_get(sp->retries));
	json_object_object_add(s, "flags", fl);
	json_object_object_add(s, "quality", qo);
	return s;
}

/* The text of a summary entry (borrowed from it). */
static const char *entry_text(struct json_object *s)
{
	struct json_object *x;
	return json_object_object_get_ex(s, "text", &x) ? json_object_get_string(x) : "";
}

/* ---- quality ---------------------------------------------------------------- */

/* Exact tokens with the tokenizer, else the estimate. */
static long quality_tokens(void *ctx, const char *s, size_t n)
{
	struct engine *e = ctx;
	if (e->tctx) {
		int64_t k = infty_tok_count(e->tctx, s, n);
		if (k >= 0)
			return (long)k;
	}
	return infty_sum_count_tokens(s, n);
}

/* Check summary i of t (segments 0..i).  0 or INFTY_ENOMEM. */
static int quality_of(struct engine *e, const struct trace *t, size_t i, const char *text,
                      size_t len, struct sum_quality_result *r)
{
	return infty_sum_quality_check_at(t->qix, i + 1, &e->c->quality, text, len, -1, t->answer,
	                                  quality_tokens, e, r);
}

static const char *const quality_reason_name[SUM_Q_NFLAGS] = {
    "quality_leak", "quality_refusal",    "quality_short",        "quality_long",
    "quality_copy", "quality_ungrounded", "quality_early_answer", "quality_language",
};

/* The first flag raised under the strongest policy (there is one). */
static int quality_worst(const struct sum_quality_config *c, const struct sum_quality_result *r)
{
	int worst = -1;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		if ((r->flags & SUM_Q_BIT(f)) && (worst < 0 || c->policy[f] > c->policy[worst]))
			worst = f;
	return worst < 0 ? 0 : worst;
}

/* How bad a flagged candidate is: a reject flag outweighs any number of retry flags. */
static int badness(const struct sum_quality_config *c, const struct sum_quality_result *r)
{
	int bad = 0;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		if (r->flags & SUM_Q_BIT(f))
			bad += c->policy[f] == SUM_Q_REJECT ? 1000 : c->policy[f] == SUM_Q_RETRY;
	return bad;
}

/* The choice check of a summary answer: take it, or pass it over and keep the best. */
struct pick {
	struct engine *e;
	struct job *j;
};

static const char *pick_summary(void *ctx, const char *text, size_t len, long rt)
{
	struct pick *p = ctx;
	struct engine *e = p->e;
	struct sum_quality_result r;
	if (quality_of(e, p->j->t, p->j->i, text, len, &r)) {
		e->err = INFTY_ENOMEM;
		return "out_of_memory";
	}
	if (infty_sum_quality_verdict(&e->c->quality, &r) < SUM_Q_RETRY)
		return NULL;
	e->q_passed++;
	int bad = badness(&e->c->quality, &r);
	if (!p->j->best || bad < p->j->best->bad) {
		struct cand *c = infty_calloc(1, sizeof *c);
		if (!c || !(c->text = infty_strndup(text, len))) {
			infty_free(c);
			e->err = INFTY_ENOMEM;
			return "out_of_memory";
		}
		c->bad = bad;
		c->rt = rt;
		cand_free(p->j->best);
		p->j->best = c;
	}
	return quality_reason_name[quality_worst(&e->c->quality, &r)];
}

/* The choice check of a judge's answer: it must parse. */
static const char *pick_judge(void *ctx, const char *text, size_t len, long rt)
{
	(void)ctx;
	(void)rt;
	struct sum_judge_score sc;
	return infty_sum_judge_parse(text, len, &sc) ? "judge_unparsed" : NULL;
}

static int start_job(struct engine *e, struct job *j);

static void settle(struct engine *e, struct job *j)
{
	j->settled = 1;
	j->t->settled++;
	e->settled++;
	spend_release(&j->sp);
	infty_free(j->body);
	j->body = NULL;
	held_release(&j->held);
	cand_free(j->best);
	j->best = NULL;
	judging_free(j->jg);
	j->jg = NULL;
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
	settle(e, j);
	e->summaries++;
	return 0;
}

/*
 * j's trace fails (the first failure names it).  sp: what the failing
 * request took (its own attempts, or the cache entry's); with the judge's
 * loop it is counted with the dead letter.
 */
static int job_fail(struct engine *e, struct job *j, const char *cls, const char *reason,
                    long status, const char *detail, const char *body, size_t body_len,
                    const struct spend *sp)
{
	struct trace *t = j->t;
	if (spend_add(&t->fsp, sp) || (j->jg && spend_add(&t->fsp, &j->jg->all)))
		return INFTY_ENOMEM;
	if (!t->failed) {
		t->failed = 1;
		t->fclass = cls;
		t->freason = reason;
		t->fstatus = status;
		t->fattempts = j->attempts;
		t->fi = j->i;
		t->frequest = phase_name[j->phase];
		snprintf(t->fdetail, sizeof t->fdetail, "%s", detail ? detail : "");
		infty_sum_redact(t->fdetail, e->c->api_key);
		if (!(t->fexcerpt = excerpt(body ? body : "", body ? body_len : 0, e->c->api_key)))
			return INFTY_ENOMEM;
	}
	settle(e, j);
	/*
	 * The trace goes to the dead-letter file whatever its other summaries
	 * give: those not sent yet are dropped when their slot comes (prepare),
	 * and in update mode the later ones would have needed this one.
	 */
	if (e->c->mode == SUM_MODE_UPDATE)
		for (size_t k = j->i + 1; k < t->nsum; k++)
			if (!t->jobs[k].started && !t->jobs[k].settled)
				settle(e, &t->jobs[k]);
	return 0;
}

static int summary_made(struct engine *e, struct job *j, const char *text, const char *backend,
                        const char *model, const char *fr, const struct spend *sp, int exhausted);

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
		/* Our estimates: the entry's usage, never counted as spent. */
		struct spend sp = {1, pt, infty_sum_count_tokens(text, strlen(text)), 0, 0, NULL};
		/* One answer and no other to ask for: a retry flag can only warn. */
		rc = summary_made(e, j, text, "extractive", "infty-extractive", "stop", &sp, 1);
		infty_free(text);
		if (!rc && t->failed) {
			/* Dead-lettered by the policy: the rest would be wasted. */
			for (size_t k = i + 1; k < t->nsum; k++)
				settle(e, &t->jobs[k]);
			break;
		}
	}
	infty_sum_extractive_free(x);
	/* Every summary is checked: the index is not needed while the trace waits. */
	infty_sum_quality_index_free(t->qix);
	t->qix = NULL;
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
		return infty_sum_truncated(e->c, c->answer_prompt_tokens, j->prompt_count, 0, 0);
	return 1;
}

/*
 * The cache entry of a permanent failure (borrows detail and excerpt): the
 * usage of every attempt, and pt, the prompt_tokens of the answer that
 * decided it (a truncation is judged again by it).
 */
static int cache_failure(struct engine *e, struct job *j, const char *reason, long status,
                         const char *fr, long pt, long server_count, const char *detail,
                         const char *excerpt_text)
{
	if (!e->cache)
		return 0;
	struct sum_cache_entry ce = {0};
	snprintf(ce.reason, sizeof ce.reason, "%s", reason);
	snprintf(ce.finish_reason, sizeof ce.finish_reason, "%s", fr ? fr : "null");
	ce.status = status;
	ce.prompt_tokens = (long)j->sp.prompt;
	ce.completion_tokens = (long)j->sp.completion;
	ce.cached_tokens = (long)j->sp.cached;
	ce.answer_prompt_tokens = pt;
	ce.retries = j->sp.retries;
	ce.attempts = j->attempts;
	ce.max_tokens = e->c->max_tokens;
	ce.summary_max_chars = e->c->summary_max_chars;
	ce.server_count = server_count;
	ce.detail = (char *)detail;
	ce.excerpt = (char *)excerpt_text;
	int rc = infty_sum_cache_put(e->cache, req_key(j), &ce);
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
                          const char *fr, long pt, long server_count, const char *detail,
                          const char *body, size_t body_len)
{
	char *ex = excerpt(body ? body : "", body ? body_len : 0, e->c->api_key);
	char safe[256];
	snprintf(safe, sizeof safe, "%s", detail ? detail : "");
	infty_sum_redact(safe, e->c->api_key);
	int rc =
	    ex ? cache_failure(e, j, reason, status, fr, pt, server_count, safe, ex) : INFTY_ENOMEM;
	infty_free(ex);
	if (rc)
		return rc;
	if (j->phase == PH_REFINE) {
		/* No better summary: the best judged one stays. */
		j->jg->stopped = reason;
		e->r_stopped++;
		if (spend_add(&j->jg->all, &j->sp))
			return INFTY_ENOMEM;
		return judge_finish(e, j);
	}
	return job_fail(e, j, "permanent", reason, status, safe, body, body_len, &j->sp);
}

/* ---- made summaries, the policy, the judge ----------------------------------- */

static int judge_begin(struct engine *e, struct job *j, struct json_object *entry,
                       const struct spend *sp);

/* Dead-letter j's trace by the quality policy (text: the summary that failed it). */
static int quality_fail(struct engine *e, struct job *j, const struct sum_quality_result *r,
                        const char *text, const struct spend *sp)
{
	int f = quality_worst(&e->c->quality, r);
	return job_fail(e, j, "quality", quality_reason_name[f], 0, r->detail[f], text,
	                strlen(text), sp);
}

/*
 * A summary (or a refined one) is made, from an answer, the cache or the
 * extractive backend: check it, then keep it, have it judged, or (a reject
 * flag left after every candidate) dead-letter its trace.  exhausted: it
 * was kept because no candidate passed; a summary that passes now was not.
 */
static int summary_made(struct engine *e, struct job *j, const char *text, const char *backend,
                        const char *model, const char *fr, const struct spend *sp, int exhausted)
{
	/* An extractive summary's usage is our estimate: nothing was spent. */
	static const struct spend nothing;
	const struct spend *spent = strcmp(backend, "extractive") ? sp : &nothing;
	struct sum_quality_result r;
	int rc = quality_of(e, j->t, j->i, text, strlen(text), &r);
	if (rc)
		return rc;
	enum sum_quality_policy v = infty_sum_quality_verdict(&e->c->quality, &r);
	if (v >= SUM_Q_RETRY && exhausted)
		e->q_exhausted++;
	if (v == SUM_Q_REJECT) {
		if (j->phase == PH_REFINE) {
			/* The judged summary stays; only the refinement is lost. */
			j->jg->stopped = quality_reason_name[quality_worst(&e->c->quality, &r)];
			e->r_stopped++;
			if (spend_add(&j->jg->all, spent))
				return INFTY_ENOMEM;
			return judge_finish(e, j);
		}
		return quality_fail(e, j, &r, text, spent);
	}
	struct json_object *s =
	    summary_entry(e, j, text, backend, model, e->prompt_hash, fr, sp, &r);
	if (!s)
		return INFTY_ENOMEM;
	if (e->c->judge)
		return judge_begin(e, j, s, spent);
	return job_done(e, j, s);
}

/* Whether a cached judge's answer still answers: complete and parseable. */
static int judge_cache_valid(const struct engine *e, const struct sum_cache_entry *c)
{
	struct sum_judge_score sc;
	return !strcmp(c->finish_reason, "stop") && c->choice_tokens <= e->c->max_tokens &&
	       !infty_sum_judge_parse(c->text, strlen(c->text), &sc);
}

static int judge_answered(struct engine *e, struct job *j, const char *text,
                          const struct spend *sp);
static int refine_begin(struct engine *e, struct job *j, const char *feedback);

/* The best judged summary, with its scores, is the job's summary. */
static int judge_finish(struct engine *e, struct job *j)
{
	struct judging *g = j->jg;
	struct json_object *o = json_object_new_object(), *sc = json_object_new_array();
	if (!o || !sc) {
		json_object_put(o);
		json_object_put(sc);
		return INFTY_ENOMEM;
	}
	for (int k = 0; k < g->rounds; k++)
		json_object_array_add(sc, json_object_new_int(g->scores[k]));
	json_object_object_add(o, "score", json_object_new_int(g->best_score));
	json_object_object_add(o, "rounds", json_object_new_int(g->rounds));
	json_object_object_add(o, "scores", sc);
	if (g->stopped)
		json_object_object_add(o, "refine_failed", json_object_new_string(g->stopped));
	/* Everything the loop asked, so the entry tells what the summary cost. */
	struct json_object *u = usage_json(&g->all);
	if (!u || infty_json_add(u, "requests", json_object_new_int64(g->all.requests)) ||
	    infty_json_add(u, "reasoning_tokens", json_object_new_int64(g->all.reasoning)) ||
	    (g->all.retries && infty_json_add(u, "retries", json_object_get(g->all.retries))) ||
	    infty_json_add(o, "usage", u)) {
		json_object_put(o);
		return INFTY_ENOMEM;
	}
	struct json_object *best = json_object_get(g->best);
	json_object_object_add(best, "judge", o);
	return job_done(e, j, best);
}

/*
 * The request of job j is about to go out: a permanent failure already in
 * the cache (ce, valid for today's settings) is replayed instead, counted
 * in *hits, and nothing is paid again; otherwise the request is sent.
 */
static int replay_failure_or_send(struct engine *e, struct job *j, const struct sum_cache_entry *ce,
                                  uint64_t *hits)
{
	if (ce && !ce->text && failure_valid(e, j, ce)) {
		(*hits)++;
		j->attempts = ce->attempts;
		count_reason(e, ce->reason);
		struct spend cs = spend_of_entry(ce);
		return job_fail(e, j, "permanent", ce->reason, ce->status, ce->detail, ce->excerpt,
		                ce->excerpt ? strlen(ce->excerpt) : 0, &cs);
	}
	e->sent++;
	return infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1, 0,
	                             j->prompt_count + e->c->max_tokens);
}

/* Have entry (owned; sp: what it took) judged: from the cache, or a judge request. */
static int judge_begin(struct engine *e, struct job *j, struct json_object *entry,
                       const struct spend *sp)
{
	struct trace *t = j->t;
	struct judging *g = j->jg;
	if (!g) {
		if (!(g = j->jg = infty_calloc(1, sizeof *g))) {
			json_object_put(entry);
			return INFTY_ENOMEM;
		}
		g->best_score = -1;
		g->base_count = j->prompt_count;
	}
	/* sp may be j->sp, which the judge's request starts again. */
	if (spend_add(&g->all, sp)) {
		json_object_put(entry);
		return INFTY_ENOMEM;
	}
	spend_release(&j->sp);
	json_object_put(g->cur);
	g->cur = entry;
	const char *text = entry_text(entry);
	j->phase = PH_JUDGE;
	j->attempts = j->retries = j->got = 0;
	cand_free(j->best);
	j->best = NULL;
	infty_sum_judge_key(&e->jc, &e->jprompts, t->chain[j->i], text, g->key);
	j->prompt_count =
	    t->qcount + t->cum[j->i] + e->judge_count + count_text(e, text, strlen(text));
	const struct sum_cache_entry *ce = e->cache ? infty_sum_cache_get(e->cache, g->key) : NULL;
	if (ce && ce->text && judge_cache_valid(e, ce)) {
		e->j_hits++;
		struct spend cs = spend_of_entry(ce);
		return judge_answered(e, j, ce->text, &cs);
	}
	return replay_failure_or_send(e, j, ce, &e->j_hits);
}

/* The judge graded the current summary (sp: what asking took): done, or refine it. */
static int judge_answered(struct engine *e, struct job *j, const char *text, const struct spend *sp)
{
	static const struct spend nothing;
	struct judging *g = j->jg;
	struct sum_judge_score sc;
	if (spend_add(&g->all, sp))
		return INFTY_ENOMEM;
	spend_release(&j->sp);
	int rc = infty_sum_judge_parse(text, strlen(text), &sc);
	if (rc)
		return rc == INFTY_ENOMEM ? rc
		                          : job_fail(e, j, "permanent", "judge_unparsed", 200,
		                                     "the judge's answer is not the rubric's JSON",
		                                     text, strlen(text), &nothing);
	g->scores[g->rounds++] = sc.score;
	/* Ties keep the earlier summary: a refinement must be better to replace it. */
	if (sc.score > g->best_score) {
		json_object_put(g->best);
		g->best = json_object_get(g->cur);
		g->best_score = sc.score;
	}
	if (sc.score >= e->c->judge_threshold || g->rounds >= e->c->judge_rounds)
		return judge_finish(e, j);
	return refine_begin(e, j, sc.feedback);
}

/* Ask for the current summary again with the judge's feedback. */
static int refine_begin(struct engine *e, struct job *j, const char *feedback)
{
	struct judging *g = j->jg;
	infty_free(g->feedback);
	if (!(g->feedback = infty_strdup(feedback)))
		return INFTY_ENOMEM;
	const char *prev = entry_text(g->cur);
	j->phase = PH_REFINE;
	j->attempts = j->retries = j->got = 0;
	infty_sum_refine_key(&e->jprompts, j->key, prev, feedback, g->key);
	j->prompt_count = g->base_count + count_text(e, prev, strlen(prev)) +
	                  count_text(e, feedback, strlen(feedback)) + e->refine_count;
	const struct sum_cache_entry *ce = e->cache ? infty_sum_cache_get(e->cache, g->key) : NULL;
	if (ce && ce->text && cache_valid(e, ce)) {
		struct sum_quality_result r;
		int rc = quality_of(e, j->t, j->i, ce->text, strlen(ce->text), &r);
		if (rc)
			return rc;
		if (infty_sum_quality_verdict(&e->c->quality, &r) < SUM_Q_RETRY || ce->exhausted) {
			e->r_hits++;
			struct spend cs = spend_of_entry(ce);
			return summary_made(e, j, ce->text, "openai", e->c->model,
			                    ce->finish_reason, &cs, ce->exhausted);
		}
		e->q_stale++; /* flagged under today's policy: ask again */
	} else if (ce && !ce->text && failure_valid(e, j, ce)) {
		e->r_hits++;
		e->r_stopped++;
		g->stopped = ce->reason;
		struct spend cs = spend_of_entry(ce);
		if (spend_add(&g->all, &cs))
			return INFTY_ENOMEM;
		return judge_finish(e, j);
	}
	e->sent++;
	return infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1, 0,
	                             j->prompt_count + e->c->max_tokens);
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
		struct sum_quality_result r;
		if ((rc = quality_of(e, t, j->i, ce->text, strlen(ce->text), &r)))
			return rc;
		/*
		 * A summary today's policy would pass over is asked again, unless
		 * it was kept because no candidate passed: asking again would pay
		 * for the same candidates.
		 */
		if (infty_sum_quality_verdict(&e->c->quality, &r) < SUM_Q_RETRY || ce->exhausted) {
			e->cache_hits++;
			struct spend cs = spend_of_entry(ce);
			return summary_made(e, j, ce->text, "openai", e->c->model,
			                    ce->finish_reason, &cs, ce->exhausted);
		}
		e->q_stale++;
	}
	if (ce && !ce->text && failure_valid(e, j, ce))
		e->failure_hits++;
	return replay_failure_or_send(e, j, ce, &e->cache_hits);
}

/* ---- HTTP ----------------------------------------------------------------- */

/* The body of the server's count of job j's prompt, in the endpoint's shape. */
static int count_body(struct engine *e, struct job *j, struct json_object *messages)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return INFTY_ENOMEM;
	if (infty_sum_http_count_api(e->http, j->ep) == SUM_COUNT_MESSAGES) {
		json_object_object_add(
		    o, "model",
		    json_object_new_string(j->phase == PH_JUDGE ? e->jc.model : e->c->model));
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

/* The messages of the request job j is on. */
static struct json_object *job_messages(struct engine *e, struct job *j)
{
	struct trace *t = j->t;
	if (j->phase == PH_JUDGE)
		return infty_sum_judge_messages(&t->v, j->i, &e->jprompts, entry_text(j->jg->cur));
	struct json_object *m = infty_sum_req_messages(&t->v, j->i, e->c->mode, &e->prompts,
	                                               j->i ? t->texts[j->i - 1] : NULL);
	if (m && j->phase == PH_REFINE &&
	    infty_sum_refine_append(m, &e->jprompts, entry_text(j->jg->cur), j->jg->feedback)) {
		json_object_put(m);
		return NULL;
	}
	return m;
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
		settle(e, j);
		e->cancelled++;
		if (!j->verifying)
			e->sent--; /* counted when queued, never sent */
		return 1;
	}
	struct json_object *m = job_messages(e, j);
	if (!m)
		return INFTY_ENOMEM;
	int rc;
	infty_free(j->body);
	j->body = NULL;
	if (j->verifying) {
		rc = count_body(e, j, m);
	} else if (j->phase == PH_JUDGE) {
		rc = infty_sum_req_build(&e->jc, m, 1, NULL, &j->body, &j->body_len);
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

/*
 * An accepted answer: into the cache, then into the trace.  Its usage is
 * what every attempt of the request took (j->sp); rt its reasoning tokens.
 */
static int accept(struct engine *e, struct job *j, const char *text, const char *fr, long cht,
                  long rt, int exhausted)
{
	struct sum_cache_entry ce = {0};
	j->sp.reasoning = rt;
	ce.text = (char *)text;
	snprintf(ce.finish_reason, sizeof ce.finish_reason, "%s", fr);
	ce.prompt_tokens = (long)j->sp.prompt, ce.completion_tokens = (long)j->sp.completion;
	ce.cached_tokens = (long)j->sp.cached, ce.choice_tokens = cht;
	ce.reasoning_tokens = rt, ce.attempts = j->attempts;
	ce.retries = j->sp.retries;
	ce.exhausted = exhausted;
	int rc;
	if (e->cache && (rc = infty_sum_cache_put(e->cache, req_key(j), &ce))) {
		snprintf(e->detail, sizeof e->detail, "cache: %s",
		         infty_sum_cache_detail(e->cache));
		stop_as(e, "cache_error");
		return rc;
	}
	e->cache_puts++;
	if (j->phase == PH_JUDGE)
		return judge_answered(e, j, text, &j->sp);
	return summary_made(e, j, text, "openai", e->c->model, fr, &j->sp, exhausted);
}

/*
 * Every candidate was passed over and one at least for its quality: keep
 * the best of those (the usage is every attempt's, as for any answer).
 */
static int accept_best(struct engine *e, struct job *j)
{
	struct cand *b = j->best;
	j->best = NULL;
	/* Its own completion tokens are not known apart: our count, with a margin. */
	long cht = infty_sum_count_tokens(b->text, strlen(b->text)) * 2;
	int rc = accept(e, j, b->text, "stop", cht, b->rt, 1);
	cand_free(b);
	return rc;
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
		                      h->prompt_tokens, n > 0 ? n : 0, d, "", 0);
	}
	int rc = accept(e, j, h->text, h->finish_reason, h->choice_tokens, h->reasoning_tokens, 0);
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
	j->sp.requests++;
	e->done_req++;
	e->answered[j->phase]++;
	add_latency(e, latency);
	int ep = infty_sum_http_current_ep(e->http);
	int can_verify = e->c->server_count != SUM_COUNT_OFF &&
	                 infty_sum_http_count_api(e->http, ep) != SUM_COUNT_NONE;
	struct pick pk = {e, j};
	struct sum_choice_check chk = {pick_summary, &pk, 0};
	if (j->phase == PH_JUDGE)
		chk = (struct sum_choice_check){pick_judge, NULL, 1};
	rc = infty_sum_classify_with(r, e->c, j->prompt_count, can_verify, &chk, &v);
	if (!rc && e->err)
		rc = e->err;
	if (rc) {
		infty_sum_verdict_release(&v);
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
	j->sp.prompt += v.prompt_tokens;
	j->sp.completion += v.completion_tokens;
	j->sp.cached += v.cached_tokens;
	if (v.cls == SUM_RETRY && spend_retry(&j->sp, v.reason, 1)) {
		infty_sum_verdict_release(&v);
		e->err = INFTY_ENOMEM;
		return;
	}
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
		rc = accept(e, j, v.text, v.finish_reason, v.choice_tokens, v.reasoning_tokens, 0);
		break;
	case SUM_RETRY:
		if (++j->retries > e->c->max_retries) {
			rc = job_fail(e, j, "retry", v.reason, r->status, v.detail, r->body,
			              r->body_len, &j->sp);
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
			if (j->best) {
				rc = accept_best(e, j);
				break;
			}
			rc = fail_permanent(e, j, v.reason, r->status, v.finish_reason,
			                    v.prompt_tokens, 0, v.detail, r->body, r->body_len);
			break;
		}
		/* The server gave fewer choices than asked: ask for the rest. */
		e->sent++;
		rc = infty_sum_http_submit(e->http, j, SUM_ROUTE_CHAT, -1, 0,
		                           j->prompt_count + e->c->max_tokens);
		break;
	case SUM_PERMANENT:
		rc = fail_permanent(e, j, v.reason, r->status, v.finish_reason, v.prompt_tokens, 0,
		                    v.detail, r->body, r->body_len);
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

/*
 * What the checks and the judge need of a trace, once: the quality index of
 * question and segments, the conclusion's boxed answer, and (--judge) the
 * hash chain that names segments 0..i in the judge's keys.
 */
static int index_trace(struct engine *e, struct trace *t)
{
	struct json_object *x;
	if (!t->nsum)
		return 0; /* one segment: no summary to check */
	/* No boxed answer (NULL): nothing a summary can reveal early. */
	if (json_object_object_get_ex(t->rec, "conclusion", &x) &&
	    json_object_is_type(x, json_type_string))
		t->answer = infty_sum_quality_boxed(json_object_get_string(x),
		                                    (size_t)json_object_get_string_len(x));
	int rc = infty_sum_quality_index_new(&t->qix, t->v.question, strlen(t->v.question));
	for (size_t k = 0; k < t->v.n && !rc; k++) {
		/* A trace of many thousand segments must still hear a SIGTERM. */
		if ((k & 63) == 63 && stop_flag)
			return INFTY_ECANCELED;
		rc = infty_sum_quality_index_add(t->qix, t->v.seg[k], t->v.seg_len[k],
		                                 t->v.seg_tokens[k], quality_tokens, e);
	}
	if (rc || !e->c->judge)
		return rc;
	if (!(t->chain = infty_calloc(t->v.n, sizeof *t->chain)))
		return INFTY_ENOMEM;
	unsigned char h[32];
	infty_sum_judge_chain_begin(h, t->v.question);
	for (size_t k = 0; k < t->v.n; k++) {
		infty_sum_judge_chain_next(h, t->v.seg[k], t->v.seg_len[k]);
		memcpy(t->chain[k], h, 32);
	}
	return 0;
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
	if ((rc = index_trace(e, t)))
		return rc;
	/* Counted once per trace: a job's bound is then a sum, not a recount. */
	if (e->http) {
		t->qcount = count_text(e, t->v.question, strlen(t->v.question));
		for (size_t k = 0; k < t->v.n; k++)
			t->cum[k] = (k ? t->cum[k - 1] : 0) +
			            (t->v.seg_tokens[k] >= 0
			                 ? t->v.seg_tokens[k] - infty_sum_digit_discount(
			                                            t->v.seg[k], t->v.seg_len[k])
			                 : count_text(e, t->v.seg[k], t->v.seg_len[k]));
	}
	if (e->c->backend == SUM_BACKEND_EXTRACTIVE)
		return extractive_trace(e, t);
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

/* The stats of what goes out: flags, judge scores and spend of one summary entry. */
static int count_written(struct engine *e, struct json_object *s)
{
	struct json_object *fl, *jo, *x;
	struct spend sp = spend_of_summary(s);
	if (spend_add(&e->used, &sp))
		return INFTY_ENOMEM;
	if (json_object_object_get_ex(s, "flags", &fl)) {
		size_t n = json_object_array_length(fl);
		e->q_checked++;
		e->q_flagged += n > 0;
		for (size_t k = 0; k < n; k++) {
			const char *name = json_object_get_string(json_object_array_get_idx(fl, k));
			int f = infty_sum_quality_flag_parse(name, strlen(name));
			if (f >= 0)
				e->q_flag[f]++;
		}
	}
	if (json_object_object_get_ex(s, "judge", &jo)) {
		e->j_judged++;
		if (json_object_object_get_ex(jo, "score", &x)) {
			int64_t v = json_object_get_int64(x);
			e->j_score[v >= 1 && v <= 5 ? v : 0]++;
		}
		if (json_object_object_get_ex(jo, "rounds", &x)) {
			int64_t v = json_object_get_int64(x);
			e->j_rounds[v >= 1 && v <= SUM_JUDGE_MAX_ROUNDS ? v : 0]++;
		}
	}
	return 0;
}

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
	    infty_json_add(x, "request", json_object_new_string(t->frequest)) ||
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
		if (!strcmp(t->fclass, "quality"))
			e->q_rejected++;
		/* A dead letter was paid for too: its summaries made and the failure. */
		for (size_t k = 0; k < t->nsum; k++) {
			struct spend sp =
			    t->sums[k] ? spend_of_summary(t->sums[k]) : (struct spend){0};
			if (spend_add(&e->used, &sp))
				return INFTY_ENOMEM;
		}
		if (spend_add(&e->used, &t->fsp))
			return INFTY_ENOMEM;
		return dead_letter(e, t);
	}
	struct json_object *arr = json_object_new_array();
	if (!arr)
		return INFTY_ENOMEM;
	for (size_t k = 0; k < t->nsum; k++) {
		if (count_written(e, t->sums[k])) {
			json_object_put(arr);
			return INFTY_ENOMEM;
		}
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
	if (!e->http)
		return "none";
	if (e->c->server_count == SUM_COUNT_OFF)
		return "off";
	if (!e->http || !e->can_count)
		return "none";
	return infty_sum_http_count_api(e->http, 0) == SUM_COUNT_MESSAGES ? "messages" : "content";
}

/*
 * quality_flags, quality and (--judge) judge in the stats: the flags and
 * scores of the summaries written out, and what the policy and the judge
 * did on the way (docs/formats.md).
 */
static void quality_stats(struct engine *e, struct json_object *o)
{
	const struct sum_quality_config *qc = &e->c->quality;
	struct json_object *x = json_object_new_object(), *p = json_object_new_object();
	for (int f = 0; f < SUM_Q_NFLAGS; f++) {
		json_object_object_add(x, infty_sum_quality_flag_name(f),
		                       json_object_new_int64((int64_t)e->q_flag[f]));
		json_object_object_add(
		    p, infty_sum_quality_flag_name(f),
		    json_object_new_string(infty_sum_quality_policy_name(qc->policy[f])));
	}
	json_object_object_add(o, "quality_flags", x);
	x = json_object_new_object();
	json_object_object_add(x, "checked", json_object_new_int64((int64_t)e->q_checked));
	json_object_object_add(x, "flagged", json_object_new_int64((int64_t)e->q_flagged));
	json_object_object_add(x, "retried", json_object_new_int64((int64_t)e->q_passed));
	json_object_object_add(x, "exhausted", json_object_new_int64((int64_t)e->q_exhausted));
	json_object_object_add(x, "rejected", json_object_new_int64((int64_t)e->q_rejected));
	json_object_object_add(x, "cache_stale", json_object_new_int64((int64_t)e->q_stale));
	json_object_object_add(x, "policy", p);
	json_object_object_add(o, "quality", x);
	if (!e->c->judge)
		return;
	x = json_object_new_object();
	json_object_object_add(x, "judged", json_object_new_int64((int64_t)e->j_judged));
	struct json_object *r = json_object_new_object(), *sc = json_object_new_object();
	for (int k = 1; k <= SUM_JUDGE_MAX_ROUNDS; k++)
		if (e->j_rounds[k]) {
			char n[8];
			snprintf(n, sizeof n, "%d", k);
			json_object_object_add(r, n,
			                       json_object_new_int64((int64_t)e->j_rounds[k]));
		}
	json_object_object_add(x, "rounds", r);
	/* Scores are whole numbers 1..5: min, median, mean and max from their counts. */
	uint64_t n = 0, acc = 0;
	double sum = 0;
	int lo = 0, hi = 0, med = 0;
	for (int k = 1; k <= 5; k++) {
		n += e->j_score[k];
		sum += (double)k * (double)e->j_score[k];
		if (e->j_score[k]) {
			lo = lo ? lo : k;
			hi = k;
		}
	}
	for (int k = 1; k <= 5 && n; k++)
		if ((acc += e->j_score[k]) * 2 >= n) {
			med = k;
			break;
		}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "min", json_object_new_int(lo));
	json_object_object_add(d, "p50", json_object_new_int(med));
	json_object_object_add(d, "mean", json_object_new_double(n ? sum / (double)n : 0));
	json_object_object_add(d, "max", json_object_new_int(hi));
	json_object_object_add(x, "score", d);
	for (int k = 1; k <= 5; k++) {
		char name[8];
		snprintf(name, sizeof name, "%d", k);
		json_object_object_add(sc, name, json_object_new_int64((int64_t)e->j_score[k]));
	}
	json_object_object_add(x, "scores", sc);
	json_object_object_add(x, "requests",
	                       json_object_new_int64((int64_t)e->answered[PH_JUDGE]));
	json_object_object_add(x, "refines",
	                       json_object_new_int64((int64_t)e->answered[PH_REFINE]));
	json_object_object_add(x, "cache_hits",
	                       json_object_new_int64((int64_t)(e->j_hits + e->r_hits)));
	json_object_object_add(x, "refine_failed", json_object_new_int64((int64_t)e->r_stopped));
	json_object_object_add(x, "model", json_object_new_string(e->jc.model ? e->jc.model : ""));
	json_object_object_add(x, "threshold", json_object_new_int(e->c->judge_threshold));
	json_object_object_add(x, "max_rounds", json_object_new_int(e->c->judge_rounds));
	json_object_object_add(o, "judge", x);
}

/*
 * The stats' "usage": what the records written (summaries and dead
 * letters) say their requests took, answered in this run or an earlier
 * one (the cache), so it is the same after any number of resumes.
 */
static struct json_object *used_json(const struct spend *u)
{
	struct json_object *o = usage_json(u), *r = json_object_new_object();
	if (!o || !r ||
	    infty_json_add(o, "reasoning_tokens", json_object_new_int64(u->reasoning)) ||
	    infty_json_add(o, "requests", json_object_new_int64(u->requests))) {
		json_object_put(o);
		json_object_put(r);
		return NULL;
	}
	if (u->retries) {
		json_object_object_foreach(u->retries, k, v)
		{
			json_object_object_add(r, k, json_object_get(v));
		}
	}
	json_object_object_add(o, "retries", r);
	return o;
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
	json_object_object_add(o, "usage", used_json(&e->used));
	quality_stats(e, o);
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
	    infty_json_add(o, "requests_settled", json_object_new_int64((int64_t)e->settled)) ||
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
	const char *path = infty_sum_tokenizer_path(c);
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
		int ph =
		    *p == '{' && (!strncmp(p, "{question}", 10) || !strncmp(p, "{summary}", 9) ||
		                  !strncmp(p, "{segment}", 9) || !strncmp(p, "{feedback}", 10));
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
	} else {
		static char h[72];
		char b[64];
		snprintf(b, sizeof b, "infty-extractive/1 budget=%ld", c->extractive_budget);
		memcpy(h, "sha256:", 7);
		infty_sha256_hex(b, strlen(b), h + 7);
		e->prompt_hash = h;
	}
	/* Both backends: exact summary tokens for the checks' ratio. */
	if ((rc = open_tokenizer(e)))
		return rc;
	if (c->backend == SUM_BACKEND_OPENAI) {
		e->instr_count =
		    count_text(e, e->prompts.cumulative, strlen(e->prompts.cumulative));
		e->update_count = template_count(e, e->prompts.update);
	}
	if (c->judge) {
		if ((rc = infty_sum_judge_prompts_load(&e->jprompts, c->prompt_dir, e->detail,
		                                       sizeof e->detail)))
			return rc == INFTY_ENOMEM ? rc : INFTY_EINVAL;
		/* One grade per request, as repeatable as the server makes it. */
		e->jc = *c;
		e->jc.model = c->judge_model ? c->judge_model : c->model;
		e->jc.temperature = 0;
		e->jc.candidates = 1;
		e->judge_count = template_count(e, e->jprompts.judge);
		e->refine_count = template_count(e, e->jprompts.refine);
	}
	/* A model is asked: for the summaries, or to judge the extractive ones. */
	if (c->backend == SUM_BACKEND_OPENAI || c->judge) {
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
			e->can_count = infty_sum_http_probe_count(
			    e->http, c->backend == SUM_BACKEND_OPENAI ? c->model : e->jc.model);
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
	infty_sum_judge_prompts_release(&e.jprompts);
	infty_sum_keyparts_release(&e.kp);
	infty_tok_ctx_free(e.tctx);
	infty_tokenizer_free(e.tok);
	json_object_put(e.reasons);
	spend_release(&e.used);
	if (rc)
		return rc;
	return e.traces_failed || e.rejected ? 1 : 0;
}
