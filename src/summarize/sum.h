/*
 * sum.h - the engine of infty-summarize, split into small modules so the
 * unit tests can drive each one alone:
 *
 *   sum_request.c     prompts, request bodies, canonical cache keys, token estimate
 *   sum_classify.c    one HTTP outcome -> success / retry / permanent / fatal,
 *                     and the truncation check
 *   sum_extractive.c  the offline extractive summarizer (--backend extractive)
 *   sum_cache.c       append-only cache of answered requests (resume after kill -9)
 *   sum_http.c        one curl_multi loop: in-flight cap, AIMD, backoff, round robin
 *   sum_engine.c      streaming input, reorder window, output/dead-letter/stats,
 *                     the quality checks and policy, the judge-and-refine loop
 *   sum_judge.c       the judge's and refine prompts, messages, keys; the
 *                     judge's answer
 *   sum_quality.c     the cheap checks on one summary (sum_quality.h)
 *   sum_estimate.c    --dry-run: the requests, tokens and cost of a run, unsent
 *                     (and sum_http.c's --preflight: the endpoints asked first)
 *
 * A request's life (sum_engine.c): key and cache lookup when its trace is
 * read; the body is built only when a transfer slot is free (prepare);
 * submit; classify the answer; then accept (cache, summary), retry later,
 * or dead-letter (a permanent failure is cached too).  An accepted summary is
 * checked (flags, policy: another candidate or a dead letter) and, with
 * --judge, graded and refined in further requests of the same job
 * (phases: summary -> judge -> refine -> judge ...).
 *
 * Ownership: every char * documented as "owned" is freed by the struct's
 * _release/_free function; "borrowed" pointers must outlive the struct.
 */
#ifndef INFTY_SUM_H
#define INFTY_SUM_H

#include "infty/hash.h"
#include "sum_quality.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

enum sum_backend { SUM_BACKEND_OPENAI, SUM_BACKEND_EXTRACTIVE };
enum sum_mode { SUM_MODE_CUMULATIVE, SUM_MODE_UPDATE };
/* Whether to ask the server for its own count of a suspicious prompt. */
enum sum_server_count { SUM_COUNT_AUTO, SUM_COUNT_TOKENIZE, SUM_COUNT_OFF };

/*
 * The default --trunc-ratio: under the smallest ratio of another tokenizer's
 * count to Qwen3's measured on every summarize prompt of the shared corpus
 * (tests/node/trunc-ratios.mjs; figures and reason in docs/endpoints.md).
 */
#define SUM_TRUNC_RATIO      0.8
#define SUM_TRUNC_RATIO_TEXT "0.8"

/* Everything the tool's options configure; main.c fills it. */
struct sum_config {
	const char *cache;      /* cache path, or NULL (no cache) */
	const char **endpoints; /* borrowed; base URLs such as http://host:8000/v1 */
	size_t n_endpoints;
	const char *model;
	const char *api_key;    /* borrowed; never printed or stored */
	const char *prompt_dir; /* directory holding cumulative.txt and update.txt */
	const char *tokenizer;  /* tokenizer.json for exact prompt counts, or NULL */
	int no_tokenizer;       /* do not load the default tokenizer either */
	enum sum_backend backend;
	enum sum_mode mode;
	double temperature;
	long max_tokens;
	int candidates; /* choices wanted in total before giving up */
	int use_n;      /* ask for all candidates in one request with "n" */
	int stream;     /* ask for server-sent events (stream: true) */
	int max_inflight;
	double ramp;          /* seconds to grow from 1 to max_inflight at start */
	long window;          /* traces held in the reorder buffer */
	double stall_timeout; /* seconds below 1 byte/s before a transfer is dropped */
	double connect_timeout;
	double total_timeout; /* 0: none */
	int max_retries;      /* retries of retryable errors per request */
	double backoff_base, backoff_max, retry_after_cap;
	double rpm, tpm;        /* 0: unlimited */
	long summary_max_chars; /* validation cap on an accepted summary */
	double trunc_ratio;     /* prompt_tokens below ratio * our count: truncated */
	enum sum_server_count server_count;
	int allow_failed;       /* retryable failures left: dead letters (exit 1), not a stop */
	int retry_failed;       /* ask again what the cache holds as a permanent failure */
	size_t max_body_bytes;  /* request bodies in flight at most (one always goes) */
	double ready_timeout;   /* seconds to wait for GET /models; 0: do not wait */
	long extractive_budget; /* token budget of one extractive summary */
	struct sum_quality_config quality; /* thresholds and per-flag policy of the checks */
	int judge;                         /* the judge-and-refine pass (openai backend) */
	const char *judge_model;           /* the judge's model; NULL: model */
	int judge_threshold;               /* a summary scoring below this (1..5) is refined */
	int judge_rounds; /* summaries judged per segment at most (1: no refining) */
};

void infty_sum_config_init(struct sum_config *c);

/* ---- sum_request.c --------------------------------------------------------- */

/* One "{name}" of a prompt template and the len bytes that replace it. */
struct sum_slot {
	const char *name; /* with its braces: "{summary}" */
	const char *value;
	size_t len;
};

/*
 * tpl with every slot's name replaced by its value, in one pass (a value is
 * not searched again); other text, braces included, is kept.  An owned
 * string, its length in *out_len when not NULL; NULL when out of memory.
 */
char *infty_sum_fill(const char *tpl, const struct sum_slot *slots, size_t n, size_t *out_len);

/* Append {"role": role, "content": text (len bytes)} to arr: 0 or INFTY_ENOMEM. */
int infty_sum_add_message(struct json_object *arr, const char *role, const char *text, size_t len);

/* The two prompt texts and their combined hash ("sha256:<hex>"). */
struct sum_prompts {
	char *cumulative; /* owned: the instruction after the assistant turn */
	char *update;     /* owned: template with {question} {summary} {segment} */
	char hash[72];
};

/*
 * dir/name, whole, into an owned string (*out), one trailing newline
 * dropped.  Returns 0, INFTY_EIO (cannot read), INFTY_EINVAL (empty, or the
 * path is too long) or INFTY_ENOMEM, with a reason in detail.
 */
int infty_sum_prompt_file(const char *dir, const char *name, char **out, char *detail, size_t dlen);

/*
 * Load prompt_dir/cumulative.txt and prompt_dir/update.txt (a trailing
 * newline of each file is dropped).  Returns 0 or INFTY_EIO/ENOMEM with a
 * reason in detail.
 */
int infty_sum_prompts_load(struct sum_prompts *p, const char *dir, char *detail, size_t dlen);
void infty_sum_prompts_release(struct sum_prompts *p);

/* One trace as the engine sees it; strings borrowed from the parsed record. */
struct sum_trace_view {
	const char *question;
	size_t n;         /* number of segments */
	const char **seg; /* seg[i]: text of segment i */
	size_t *seg_len;
	long *seg_tokens; /* exact counts from the segment stage, -1 if absent */
};

/*
 * The messages array of the request for segment i (0-based, i < n-1).
 * Cumulative: user question, assistant segments 0..i joined by "\n\n", user
 * instruction.  Update (i > 0): one user turn from the update template with
 * prev_summary and segment i; for i == 0 it is the cumulative request, so both
 * modes share that cache entry.  Returns a new json array or NULL (ENOMEM).
 */
struct json_object *infty_sum_req_messages(const struct sum_trace_view *t, size_t i,
                                           enum sum_mode mode, const struct sum_prompts *p,
                                           const char *prev_summary);

/*
 * The canonical key: sha256 of the request without max_tokens (model,
 * messages, temperature, candidates), as "sha256:<hex>" into key[72] (NULL:
 * not computed).
 * body_out (if not NULL) gets the full body to POST, owned by the caller.
 * n_choices is what the body asks for ("n" is omitted when it is 1).
 * Returns 0 or INFTY_ENOMEM.
 */
int infty_sum_req_build(const struct sum_config *c, struct json_object *messages, int n_choices,
                        char key[72], char **body_out, size_t *body_len);

/*
 * The cumulative request's key one segment at a time: the key of request i
 * costs segment i, not segments 0..i (a trace of n segments has n-1 keys,
 * and hashing each request whole is quadratic in the trace).  The bytes
 * hashed are exactly those infty_sum_req_build hashes, so keys agree.
 *
 *   infty_sum_keyparts_init   once per run: the JSON around the question
 *                             and the assistant turn (owned by parts)
 *   infty_sum_keyer_begin     once per trace
 *   infty_sum_keyer_key       for i = 0, 1, ... in order
 */
struct sum_keyparts {
	char *head, *mid, *tail; /* owned: before Q, between Q and segments, after */
	size_t head_len, mid_len, tail_len;
	char sep[16]; /* the joiner "\n\n" as escaped JSON text */
	size_t sep_len;
};
struct sum_keyer {
	struct infty_sha256 h; /* over the body up to the end of segment next-1 */
	size_t next;
};
int infty_sum_keyparts_init(struct sum_keyparts *kp, const struct sum_config *c,
                            const struct sum_prompts *p);
void infty_sum_keyparts_release(struct sum_keyparts *kp);
int infty_sum_keyer_begin(struct sum_keyer *k, const struct sum_keyparts *kp, const char *question);
/* i must not go backwards.  Returns 0 or INFTY_ENOMEM/EINVAL. */
int infty_sum_keyer_key(struct sum_keyer *k, const struct sum_keyparts *kp,
                        const struct sum_trace_view *t, size_t i, char key[72]);

/*
 * The tokenizer.json to count prompts with: --tokenizer, else the default
 * one when it exists and --tokenizer none was not given; NULL for none.
 */
const char *infty_sum_tokenizer_path(const struct sum_config *c);

/* Our own estimate of the tokens in text: bytes/4 (a lower bound for Qwen). */
long infty_sum_count_tokens(const char *text, size_t len);
/*
 * Tokens Qwen spends on the digit runs of text beyond ceil(L/3) a run of L
 * (docs/endpoints.md): taken off exact counts so the bound holds for tokenizers
 * that group digits by three.
 */
long infty_sum_digit_discount(const char *text, size_t len);
/* Same over every "content" of a messages array. */
long infty_sum_count_messages(struct json_object *messages);

/* Replace every occurrence of secret in s (in place, NUL-terminated) by '*'. */
void infty_sum_redact(char *s, const char *secret);

/* ---- sum_classify.c -------------------------------------------------------- */

enum sum_class {
	SUM_OK = 0,    /* an acceptable summary */
	SUM_RETRY,     /* transient: same request again after a delay */
	SUM_REJECT,    /* answered, but no choice acceptable: try more candidates */
	SUM_PERMANENT, /* this record cannot succeed: dead-letter it */
	SUM_FATAL,     /* the run cannot succeed: stop */
};

const char *infty_sum_class_name(enum sum_class c);

/* What a finished transfer looked like. */
struct sum_http_result {
	long status;      /* HTTP status, 0 when there was no response */
	int curl_code;    /* CURLcode, 0 for none */
	const char *body; /* borrowed, NUL-terminated (may be "") */
	size_t body_len;
	double retry_after; /* seconds from retry-after-ms / retry-after, -1 if absent */
	int should_retry;   /* x-should-retry: 1 true, 0 false, -1 absent */
};

struct sum_verdict {
	enum sum_class cls;
	const char *reason;     /* static code: ok, rate_limited, context_overflow, ... */
	int throttle;           /* the server asked us to slow down (429/503) */
	double retry_after;     /* seconds, -1 if the server gave none */
	char *text;             /* owned: accepted summary (SUM_OK) */
	char finish_reason[24]; /* of the accepted choice, or of the last one seen */
	long prompt_tokens, completion_tokens, choice_tokens, reasoning_tokens;
	long
	    cached_tokens; /* usage.prompt_tokens_details.cached_tokens (prefix cache), 0 if none */
	int choices;       /* choices in the response */
	int passed_over;   /* valid choices the choice check passed over */
	int verify;        /* prompt_tokens under our bound: ask the server's count first */
	char detail[256];  /* one line for messages and dead letters */
};

void infty_sum_verdict_release(struct sum_verdict *v);

/*
 * A choice that is complete and valid, before it is taken: NULL takes it, a
 * static reason passes it over (the next choice is tried; with none left the
 * verdict is SUM_REJECT with that reason).  The engine checks a summary's
 * quality here, and whether a judge's answer parses.
 */
typedef const char *(*sum_choice_fn)(void *ctx, const char *text, size_t len,
                                     long reasoning_tokens);
struct sum_choice_check {
	sum_choice_fn fn; /* NULL: take the first valid choice */
	void *ctx;
	int raw; /* not a summary (the judge's answer): no summary validation */
};

/*
 * Classify one outcome.  prompt_count is our lower bound of the prompt's
 * tokens (for silent truncation), 0 to skip the check.  With can_verify (the
 * server can count the prompt itself), a prompt_tokens below our bound does
 * not decide: the verdict keeps its class and sets verify, and the engine
 * asks the server before accepting.  Returns 0, or INFTY_ENOMEM.
 */
int infty_sum_classify(const struct sum_http_result *r, const struct sum_config *c,
                       long prompt_count, int can_verify, struct sum_verdict *v);
/* The same, each valid choice put to chk (NULL: as infty_sum_classify). */
int infty_sum_classify_with(const struct sum_http_result *r, const struct sum_config *c,
                            long prompt_count, int can_verify, const struct sum_choice_check *chk,
                            struct sum_verdict *v);

/*
 * The truncation rule.  server_count > 0: the server's own count of the same
 * prompt (exact: a count of the templated messages; else of the contents
 * only, which a chat template may shift by a few tokens): truncated when
 * prompt_tokens is below it.  Otherwise truncated when prompt_tokens is
 * below c->trunc_ratio x our lower bound.  1 truncated, 0 not.
 */
int infty_sum_truncated(const struct sum_config *c, long prompt_tokens, long ours,
                        long server_count, int exact);
/*
 * The count in a /tokenize answer (vLLM: "count"; llama.cpp: the length of
 * "tokens"), or -1 when the body is neither.
 */
long infty_sum_tokenize_count(const char *body, size_t len);

/*
 * Validate a candidate summary: not empty/blank, no <think>, <summary> or
 * <history> tag, at most max_chars bytes.  Returns NULL if fine, else a
 * static reason.
 */
const char *infty_sum_validate(const char *text, size_t len, long max_chars);

/* ---- sum_extractive.c ------------------------------------------------------ */

/*
 * Deterministic '*' bullets of the key statements, equations and
 * intermediate results of segments 0..i, within budget tokens (by
 * infty_sum_count_tokens).  Returns an owned string or NULL (ENOMEM).
 */
char *infty_sum_extractive(const struct sum_trace_view *t, size_t i, long budget);

/*
 * The same, one segment at a time: add segments in order and ask for the
 * summary of everything added so far.  Each summary costs the budget, not
 * the trace, so a trace of n segments is linear in n.  The state borrows the
 * segment texts, which must outlive it.
 */
struct sum_extractive;
struct sum_extractive *infty_sum_extractive_new(long budget);
/* Returns 0 or -1 (out of memory). */
int infty_sum_extractive_add(struct sum_extractive *x, const char *text, size_t len);
/* Owned string, or NULL (out of memory). */
char *infty_sum_extractive_text(const struct sum_extractive *x);
void infty_sum_extractive_free(struct sum_extractive *x);

/* ---- sum_sse.c ------------------------------------------------------------- */

struct sum_sse;

/* Incremental reader of a streamed completion.  NULL on allocation failure. */
struct sum_sse *infty_sum_sse_new(void);
/* Feed bytes as they arrive.  Returns 0 or INFTY_ENOMEM. */
int infty_sum_sse_feed(struct sum_sse *s, const char *p, size_t n);
/*
 * The equivalent non-streamed body (choices with message content, reasoning
 * and finish_reason, usage) or the stream's error event.  Owned string, or
 * NULL on allocation failure.
 */
char *infty_sum_sse_body(struct sum_sse *s, size_t *len);
void infty_sum_sse_free(struct sum_sse *s);

/* ---- sum_cache.c ----------------------------------------------------------- */

struct sum_cache;

/*
 * An answered request: an accepted summary (text set) or a permanent
 * failure (text NULL; reason, status, detail, excerpt as the dead letter
 * said, and the options outside the key that decided it).
 */
struct sum_cache_entry {
	char *text; /* owned; NULL: a failure */
	char finish_reason[24];
	/* usage: the server's, summed over the request's attempts */
	long prompt_tokens, completion_tokens, choice_tokens, reasoning_tokens;
	long cached_tokens;        /* usage.prompt_tokens_details.cached_tokens, summed */
	long answer_prompt_tokens; /* a failure: prompt_tokens of the answer that decided it */
	int attempts;
	struct json_object *retries; /* owned ref: retries by reason, or NULL */
	char reason[32];
	long status;
	long max_tokens, summary_max_chars;
	long server_count; /* prompt_truncated: the server's own count, 0 if none */
	int exhausted;     /* a summary kept because no candidate passed the quality policy */
	char *detail;      /* owned */
	char *excerpt;     /* owned */
};

/*
 * Open (creating if needed) the append-only cache at path, loading every
 * complete entry.  A torn or damaged frame or line anywhere is skipped
 * (infty_sum_cache_damage says how much), never an error.  Returns 0 or an
 * error (the file cannot be opened or read) with a reason in detail.
 */
int infty_sum_cache_open(struct sum_cache **out, const char *path, char *detail, size_t dlen);
/* What open skipped: damaged or torn frames/tails, their bytes, bad lines. */
void infty_sum_cache_damage(const struct sum_cache *c, uint64_t *parts, uint64_t *bytes,
                            uint64_t *lines);
/* Borrowed entry for key, or NULL. */
const struct sum_cache_entry *infty_sum_cache_get(const struct sum_cache *c, const char *key);
/*
 * Add one answered request to the next batch.  It goes to the file only,
 * not to the table get() reads: memory stays bounded by what was loaded.
 */
int infty_sum_cache_put(struct sum_cache *c, const char *key, const struct sum_cache_entry *e);
/*
 * Append the batch (one zstd frame, or lines) with one write() under
 * flock(LOCK_EX), so it survives a kill -9 and never interleaves with
 * another process appending to the same file.
 */
int infty_sum_cache_flush(struct sum_cache *c);
size_t infty_sum_cache_loaded(const struct sum_cache *c);
const char *infty_sum_cache_detail(const struct sum_cache *c);
/* Close (flushes).  Returns 0 or an error; frees c either way. NULL: no-op. */
int infty_sum_cache_close(struct sum_cache *c);

/* ---- sum_http.c ------------------------------------------------------------ */

struct sum_http;

/* Where a request goes: the chat completions route or the server's /tokenize. */
enum sum_route { SUM_ROUTE_CHAT, SUM_ROUTE_TOKENIZE };
/* What an endpoint's /tokenize takes (probed at start). */
enum sum_count_api {
	SUM_COUNT_NONE,     /* no /tokenize, or off */
	SUM_COUNT_MESSAGES, /* vLLM: {"model","messages"} -> {"count"} with the chat template */
	SUM_COUNT_CONTENT,  /* llama.cpp: {"content"} -> {"tokens": [...]}, text only */
};

/*
 * Called when a transfer slot is free, to build the body only then: memory
 * holds the bodies in flight, not those of every queued request.  Returns 0
 * with *body (owned by the job until done is called), 1 when there is
 * nothing to send any more (the job settled otherwise), or a negative error.
 */
typedef int (*sum_http_prepare_fn)(void *job, const char **body, size_t *len, void *ctx);
/* A finished transfer handed back to the engine. */
typedef void (*sum_http_done_fn)(void *job, const struct sum_http_result *r, double latency,
                                 void *ctx);

/* Returns NULL on failure (ENOMEM or curl init). */
struct sum_http *infty_sum_http_new(const struct sum_config *c, sum_http_prepare_fn prepare,
                                    sum_http_done_fn done, void *ctx);
void infty_sum_http_free(struct sum_http *h);
/*
 * Queue a request for job, not before not_before (monotonic seconds), to
 * endpoint ep (-1: the next in turn).  tokens is the cost for --tpm.
 */
int infty_sum_http_submit(struct sum_http *h, void *job, enum sum_route route, int ep,
                          double not_before, long tokens);
/* Run transfers for up to max_wait seconds; calls done for finished ones. */
int infty_sum_http_step(struct sum_http *h, double max_wait);
/* The server asked us to slow down: halve the in-flight window. */
void infty_sum_http_throttle(struct sum_http *h);
void infty_sum_http_success(struct sum_http *h);
/*
 * From done(): whether the endpoint answered usefully (1) or failed in a way
 * that says the server is sick (0: transport error or 5xx).  Feeds the
 * per-endpoint circuit breaker.
 */
void infty_sum_http_outcome(struct sum_http *h, int ok);
/* From done(): the endpoint that answered. */
int infty_sum_http_current_ep(const struct sum_http *h);
uint64_t infty_sum_http_pauses(const struct sum_http *h);
size_t infty_sum_http_inflight(const struct sum_http *h);
size_t infty_sum_http_queued(const struct sum_http *h);
double infty_sum_http_window(const struct sum_http *h);
/*
 * Wait until GET <endpoint>/models answers for every endpoint, up to
 * timeout seconds.  Returns 0, INFTY_EHTTP (timed out: detail says why),
 * INFTY_EINVAL (401/403: fatal) or INFTY_ECANCELED (stop requested).
 */
int infty_sum_http_ready(struct sum_http *h, double timeout, char *detail, size_t dlen);
/*
 * Ask every endpoint whether it serves POST /tokenize (at the server root,
 * beside /v1) and in which shape; remembered per endpoint.  Returns the
 * number of endpoints that can count.
 */
size_t infty_sum_http_probe_count(struct sum_http *h, const char *model);
enum sum_count_api infty_sum_http_count_api(const struct sum_http *h, int ep);

/* One problem the pre-flight found, a line without the program's name. */
typedef void (*sum_preflight_fn)(void *ctx, const char *line);
/*
 * Before a run pays for anything: for every endpoint, GET /models answers
 * (a server loading, 502/503, is waited for up to ready_timeout seconds),
 * the key is accepted, each of models is listed, and a request of a few
 * tokens to each is answered.  Every problem is reported (one line each;
 * an endpoint's first problem ends its checks).  Returns the number of
 * problems, or INFTY_ECANCELED (stop asked) / INFTY_ENOMEM.
 */
int infty_sum_http_preflight(struct sum_http *h, const char *const *models, size_t nmodels,
                             double ready_timeout, sum_preflight_fn report, void *ctx);

/* Monotonic seconds. */
double infty_sum_now(void);

/* ---- sum_judge.c ----------------------------------------------------------- */

#define SUM_JUDGE_CRITERIA   4
#define SUM_JUDGE_MAX_ROUNDS 16

/* The rubric's criteria, in the order of sum_judge_score.rubric. */
extern const char *const infty_sum_judge_criteria[SUM_JUDGE_CRITERIA];

struct sum_judge_prompts {
	char *judge;  /* owned: the judge's last turn, with {summary} */
	char *refine; /* owned: the refine request's last turn, with {feedback} */
	char judge_hash[72], refine_hash[72];
};

/*
 * Load dir/judge.txt and dir/refine.txt.  Returns 0, or INFTY_EIO/EINVAL
 * (missing, empty, without its placeholder) or ENOMEM with a reason in
 * detail.
 */
int infty_sum_judge_prompts_load(struct sum_judge_prompts *p, const char *dir, char *detail,
                                 size_t dlen);
void infty_sum_judge_prompts_release(struct sum_judge_prompts *p);

/* The judge's grades: score is the lowest of the rubric's (1..5). */
struct sum_judge_score {
	int score;
	int rubric[SUM_JUDGE_CRITERIA];
	char feedback[512]; /* "" when none */
};

/*
 * Parse the judge's answer: a JSON object (inside a code fence or text too)
 * with a whole grade 1..5 for each criterion and an optional "feedback".
 * Returns 0, INFTY_EJSON (*s zeroed) or INFTY_ENOMEM.
 */
int infty_sum_judge_parse(const char *text, size_t len, struct sum_judge_score *s);

/*
 * The judge's messages for the summary of segments 0..i: user question,
 * assistant segments 0..i, user judge.txt with the summary.  New array, or
 * NULL (ENOMEM).
 */
struct json_object *infty_sum_judge_messages(const struct sum_trace_view *t, size_t i,
                                             const struct sum_judge_prompts *p,
                                             const char *summary);
/* Append the summary (assistant) and refine.txt with feedback (user). 0 or ENOMEM. */
int infty_sum_refine_append(struct json_object *messages, const struct sum_judge_prompts *p,
                            const char *summary, const char *feedback);

/*
 * A hash chain over the question and the segments: begin with the question,
 * then one step per segment; after step i it names question and segments
 * 0..i.
 */
void infty_sum_judge_chain_begin(unsigned char chain[32], const char *question);
void infty_sum_judge_chain_next(unsigned char chain[32], const char *seg, size_t len);
/* The judge request's key: jc's model and temperature, judge.txt, the chain, the summary. */
void infty_sum_judge_key(const struct sum_config *jc, const struct sum_judge_prompts *p,
                         const unsigned char chain[32], const char *summary, char key[72]);
/* The refine request's key: the summary request's key, refine.txt, summary, feedback. */
void infty_sum_refine_key(const struct sum_judge_prompts *p, const char *summary_key,
                          const char *summary, const char *feedback, char key[72]);

/* ---- sum_estimate.c -------------------------------------------------------- */

struct infty_stage;

/* What --dry-run found, and the prices and throughputs to apply to it. */
struct sum_estimate {
	double price_in, price_out, price_cached; /* per million tokens; < 0: not given */
	double prefill_tps, decode_tps;           /* tokens per second; 0: not given */
	uint64_t traces, requests;
	uint64_t summary_slots;          /* update-mode requests holding the previous summary */
	uint64_t cum_prompt, cum_repeat; /* cumulative mode: prompt tokens, shared with the
	                                    trace's previous request */
	uint64_t upd_prompt, upd_repeat; /* update mode, the summaries left out */
	const char *tokenizer;           /* borrowed: the tokenizer counted with, NULL: estimate */
	long max_tokens;
	enum sum_mode mode;
};

/*
 * Read st's segment records and count, for every trace, the requests a run
 * would make and their prompt tokens in both modes (each request built as
 * the engine builds it; update mode with an empty previous summary), and
 * the tokens each request shares from its start with the trace's previous
 * one (what a prefix cache can serve again).  Bad lines are rejected as
 * the engine rejects them.  Returns as an engine; nothing is sent.
 */
int infty_sum_estimate_run(struct infty_stage *st, const struct sum_config *c,
                           struct sum_estimate *out);
/* The stats' "estimate" (a stage fields hook, ctx a struct sum_estimate). */
int infty_sum_estimate_fields(void *ctx, struct json_object *o);
/* The report for a person (README.md, "Before a run: the estimate"). */
void infty_sum_estimate_print(FILE *f, const struct sum_estimate *e);

/* ---- sum_engine.c ---------------------------------------------------------- */

struct sum_stats_out {
	uint64_t traces_in, traces_out, traces_failed, records_rejected;
	uint64_t requests_sent, summaries_done, cache_hits;
	int fatal;
	const char *stopped_by;       /* static: why the run stopped, NULL if it finished */
	struct json_object *fields;   /* owned: the stats fields, made at the end */
	struct json_object *counters; /* owned: the last snapshot's counters */
	const void *live;             /* the running engine (progress_fields), else NULL */
};

/*
 * The stage frame's hooks, ctx a struct sum_stats_out: the stats fields
 * (traces, requests, reasons, summaries, cache, tokens, latency, ...), and
 * the progress snapshot's counters (requests planned, sent, answered and
 * in flight, failures by class, prompt, completion and cached tokens).
 */
int infty_sum_stats_fields(void *ctx, struct json_object *o);
int infty_sum_progress_fields(void *ctx, struct json_object *o);
void infty_sum_stats_out_release(struct sum_stats_out *so);

/* Ask a running engine to stop at the next step (async-signal-safe). */
void infty_sum_engine_stop(void);
/* Whether a stop was asked (for loops outside the engine: readiness wait). */
int infty_sum_engine_stopping(void);

struct infty_stage;

/*
 * Run the whole stage in st (opened by the caller; so zeroed, released
 * with infty_sum_stats_out_release).  Returns 0 when every trace was
 * written, 1 when some went to the dead-letter file (the stage's reject
 * file), or a negative infty_err when the run stopped before the end, its
 * message recorded in the stage (so->stopped_by says why; nothing is
 * published, the cache keeps every answered request).  INFTY_EINVAL is a
 * configuration error; a fatal server answer is INFTY_EHTTP.
 */
int infty_sum_engine_run(struct infty_stage *st, const struct sum_config *c,
                         struct sum_stats_out *so);

#endif
