/*
 * infty-summarize: add a summary after every segment but the last of each
 * trace, from an OpenAI-compatible endpoint or the offline extractive
 * summarizer.  Options only; the stage frame (include/infty/stage.h) opens,
 * publishes and reports, the work is in the sum_*.c engine.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/paths.h"
#include "infty/stage.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* .output stays NULL until parsed: --dry-run writes no records and refuses -o. */
static struct infty_stage_config cfg = {
    .name = "summarize", .unit = "traces", .expect = INFTY_KIND_SEGMENT};
static struct sum_config c;
static const char *input, *backend, *keyfile, *tokenizer, *quality;
static int preflight, dry_run;
static struct sum_estimate est = {.price_in = -1, .price_out = -1, .price_cached = -1};
static const char **eps;
static size_t neps, epcap;

static const char *const backends[] = {"openai", "extractive", NULL};
static const char *const modes[] = {"cumulative", "update", NULL};     /* enum sum_mode */
static const char *const counts[] = {"auto", "tokenize", "off", NULL}; /* sum_server_count */
static int backend_choice = -1;

static const char *add_endpoint(const struct infty_option *o, const char *arg, char *err, size_t n)
{
	if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
		snprintf(err, n, "'%s' is not an http(s) URL", arg);
		return err;
	}
	if (infty_grow(&eps, &epcap, neps + 1, sizeof *eps))
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	eps[neps++] = arg;
	return NULL;
}

static const struct infty_option options[] = {
    INFTY_OPT_GROUP("Files:"),
    INFTY_OPT_STRING('i', "input", &input, "FILE",
                     "segment records (.jsonl or .jsonl.zst; - = stdin)"),
    INFTY_OPT_STRING('o', "output", &cfg.output, "FILE",
                     "summarized records (default stdout; .zst compresses)"),
    INFTY_OPT_STRING('r', "rejects", &cfg.rejects, "FILE",
                     "dead letters (traces that failed) and rejected lines,\n"
                     "with their reasons"),
    INFTY_OPT_STRING(0, "failed", &cfg.rejects, "FILE", "the same as --rejects (its former name)"),
    INFTY_STAGE_OPT_STATS(&cfg),
    INFTY_STAGE_OPT_PROGRESS(&cfg),
    INFTY_OPT_STRING(0, "cache", &c.cache, "FILE",
                     "append-only cache of summaries (resume, no paying twice)"),
    INFTY_OPT_GROUP("The summarizer:"),
    INFTY_OPT_CHOICE(0, "backend", &backend_choice, "NAME", backends,
                     "openai (default with --endpoint) or extractive (offline)"),
    INFTY_OPT_CALL(0, "endpoint", NULL, "URL", add_endpoint,
                   "base URL such as http://127.0.0.1:8000/v1 (repeat: round robin)"),
    INFTY_OPT_STRING(0, "model", &c.model, "NAME", "model name sent in every request"),
    INFTY_OPT_STRING(0, "api-key-file", &keyfile, "FILE",
                     "API key file (else $INFTY_API_KEY, $OPENAI_API_KEY)"),
    INFTY_OPT_CHOICE(0, "mode", &c.mode, "MODE", modes, "cumulative (default) or update"),
    INFTY_OPT_STRING(0, "prompt-dir", &c.prompt_dir, "DIR",
                     "cumulative.txt and update.txt (default: installed prompts)"),
    INFTY_OPT_DOUBLE(0, "temperature", &c.temperature, "X", 0, 2,
                     "sampling temperature (default 0.5)"),
    INFTY_OPT_INT(0, "max-tokens", &c.max_tokens, "N", 1, 1 << 24,
                  "completion budget (default 2048)"),
    INFTY_OPT_INT(0, "candidates", &c.candidates, "N", 1, 64,
                  "choices tried before giving up (default 4)"),
    INFTY_OPT_FLAG(0, "no-n", &c.use_n, 0, "ask one choice per request instead of n=N"),
    INFTY_OPT_FLAG(0, "stream", &c.stream, 1, "ask for server-sent events (the default)"),
    INFTY_OPT_FLAG(0, "no-stream", &c.stream, 0, "ask for whole answers instead"),
    INFTY_OPT_GROUP("Requests:"),
    INFTY_OPT_INT(0, "max-inflight", &c.max_inflight, "N", 1, 65536,
                  "requests in flight at most (default 64)"),
    INFTY_OPT_DOUBLE(0, "ramp", &c.ramp, "S", 0, 3600,
                     "reach max-inflight over S seconds at start (default 0.25)"),
    INFTY_OPT_INT(0, "window", &c.window, "N", 1, 1 << 24,
                  "traces held for reordering (default 4 x max-inflight)"),
    INFTY_OPT_DOUBLE(0, "stall-timeout", &c.stall_timeout, "S", 0, 86400,
                     "drop a transfer silent for S seconds (default 60 when\n"
                     "streaming, 300 with --no-stream)"),
    INFTY_OPT_DOUBLE(0, "connect-timeout", &c.connect_timeout, "S", 0.001, 3600, "(default 10)"),
    INFTY_OPT_DOUBLE(0, "timeout", &c.total_timeout, "S", 0, 86400,
                     "total time per request, 0 = none (default 0)"),
    INFTY_OPT_INT(0, "max-retries", &c.max_retries, "N", 0, 1000,
                  "retries of a retryable error (default 8)"),
    INFTY_OPT_FLAG(0, "allow-failed", &c.allow_failed, 1,
                   "traces still failing with retryable errors after the\n"
                   "retries become dead letters (exit 1) instead of\n"
                   "stopping the run unpublished (exit 3)"),
    INFTY_OPT_FLAG(0, "retry-failed", &c.retry_failed, 1,
                   "ask again what the cache holds as a permanent failure"),
    INFTY_OPT_DOUBLE(0, "backoff-max", &c.backoff_max, "S", 0, 3600,
                     "longest backoff (default 30)"),
    INFTY_OPT_DOUBLE(0, "retry-after-cap", &c.retry_after_cap, "S", 0, 86400,
                     "longest wait a server may ask for (default 120)"),
    INFTY_OPT_DOUBLE(0, "rpm", &c.rpm, "N", 0, 1e9, "requests per minute (default unlimited)"),
    INFTY_OPT_DOUBLE(0, "tpm", &c.tpm, "N", 0, 1e12, "tokens per minute (default unlimited)"),
    INFTY_OPT_DOUBLE(0, "ready-timeout", &c.ready_timeout, "S", 0, 86400,
                     "wait for GET /models at start, 0 = no (default 60)"),
    INFTY_OPT_GROUP("Checks:"),
    INFTY_OPT_INT(0, "summary-max-chars", &c.summary_max_chars, "N", 1, 1 << 30,
                  "reject longer summaries (default 16384)"),
    INFTY_OPT_DOUBLE(0, "trunc-ratio", &c.trunc_ratio, "X", 0, 1,
                     "prompt_tokens below X x our count = truncated (default " SUM_TRUNC_RATIO_TEXT
                     ")"),
    INFTY_OPT_CHOICE(0, "server-count", &c.server_count, "MODE", counts,
                     "auto (default: ask a server that serves /tokenize to\n"
                     "count a prompt that looks short), tokenize (require\n"
                     "it), off (the ratio only)"),
    INFTY_OPT_STRING('t', "tokenizer", &tokenizer, "FILE",
                     "count question and instruction exactly (default: the\n"
                     "Qwen3 tokenizer.json when there; none: estimate)"),
    INFTY_OPT_INT(0, "extractive-budget", &c.extractive_budget, "N", 8, 1 << 20,
                  "token budget of an extractive summary (default 512)"),
    INFTY_OPT_GROUP("Summary quality (docs/quality.md):"),
    INFTY_OPT_STRING(0, "quality", &quality, "SPEC",
                     "per-flag policy of the summary checks, FLAG=POLICY,...\n"
                     "(flags leak refusal short long copy ungrounded\n"
                     "early_answer language all; policies off warn retry\n"
                     "reject; default with an endpoint: retry on all but\n"
                     "copy and ungrounded, which warn; extractive: warn)"),
    INFTY_OPT_FLAG(0, "judge", &c.judge, 1,
                   "grade every summary with the judge (prompts/judge.txt)\n"
                   "and refine those below the threshold (refine.txt);\n"
                   "with --backend extractive and --endpoint: grade only"),
    INFTY_OPT_STRING(0, "judge-model", &c.judge_model, "NAME",
                     "the judge's model (default --model)"),
    INFTY_OPT_INT(0, "judge-threshold", &c.judge_threshold, "N", 1, 5,
                  "refine a summary graded below N of 5 (default 4)"),
    INFTY_OPT_INT(0, "judge-rounds", &c.judge_rounds, "K", 1, SUM_JUDGE_MAX_ROUNDS,
                  "summaries judged per segment at most (default 3)"),
    INFTY_OPT_GROUP("Before a run:"),
    INFTY_OPT_FLAG(0, "preflight", &preflight, 1,
                   "check the endpoints and exit: GET /models answers,\n"
                   "the key is accepted, the model is listed, a request\n"
                   "of a few tokens is answered; the prompts read (exit 0,\n"
                   "or 2 with one line per problem)"),
    INFTY_OPT_FLAG(0, "dry-run", &dry_run, 1,
                   "send nothing: count the requests of INPUT, their\n"
                   "prompt tokens in both modes and what a prefix cache\n"
                   "can reuse, the completion budget, cost and hours"),
    INFTY_OPT_DOUBLE(0, "price-in", &est.price_in, "X", 0, 1e9,
                     "--dry-run: the cost of a million prompt tokens"),
    INFTY_OPT_DOUBLE(0, "price-out", &est.price_out, "X", 0, 1e9,
                     "--dry-run: the cost of a million completion tokens"),
    INFTY_OPT_DOUBLE(0, "price-cached", &est.price_cached, "X", 0, 1e9,
                     "--dry-run: the cost of a million prompt tokens a\n"
                     "prefix cache serves (default --price-in)"),
    INFTY_OPT_DOUBLE(0, "prefill-tps", &est.prefill_tps, "N", 0, 1e12,
                     "--dry-run: the server's prompt tokens per second"),
    INFTY_OPT_DOUBLE(0, "decode-tps", &est.decode_tps, "N", 0, 1e12,
                     "--dry-run: the server's generated tokens per second\n"
                     "(all requests in flight together)"),
    INFTY_OPT_GROUP(""),
    INFTY_STAGE_OPT_END(&cfg),
};

static const struct infty_cmd cmd = {
    .name = "infty-summarize",
    .usage = "[OPTIONS] [INPUT]",
    .about = "Add summaries to segment records (INPUT or -i, default stdin).\n",
    .options = options,
    .exit_note = "infty-summarize: 3 also means a fatal server answer or retryable failures\n"
                 "left; the cache keeps every answered request.\n",
};

/* First line of the key file, trimmed; the file name is the only thing printed. */
static char *read_key_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		infty_die(INFTY_EXIT_USAGE, "%s: cannot open the API key file", path);
	char buf[4096];
	char *got = fgets(buf, sizeof buf, f);
	fclose(f);
	size_t n = got ? strcspn(buf, "\r\n") : 0;
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	if (!n)
		infty_die(INFTY_EXIT_USAGE, "%s: the API key file is empty", path);
	char *k = infty_strndup(buf, n);
	memset(buf, 0, sizeof buf);
	if (!k)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	return k;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct sum_stats_out so;

static int run(struct infty_stage *st, void *ctx)
{
	return infty_sum_engine_run(st, &c, &so);
}

static int run_estimate(struct infty_stage *st, void *ctx)
{
	return infty_sum_estimate_run(st, &c, &est);
}

/* The prompt directory: --prompt-dir, $INFTY_PROMPT_DIR, or the installed one. */
static void resolve_prompt_dir(void)
{
	if (!c.prompt_dir)
		c.prompt_dir = getenv("INFTY_PROMPT_DIR");
	if (!c.prompt_dir)
		c.prompt_dir = infty_path_prompts();
	if (!c.prompt_dir)
		infty_usage_error("no prompts: give --prompt-dir DIR, or set INFTY_HOME to a "
		                  "directory holding prompts/");
	if (!is_dir(c.prompt_dir))
		infty_usage_error("--prompt-dir: '%s' is not a directory", c.prompt_dir);
}

static int problems;

static void report(void *ctx, const char *line)
{
	(void)ctx;
	infty_warn("%s", line);
	problems++;
}

static void on_stop(int sig)
{
	(void)sig;
	infty_sum_engine_stop();
}

/*
 * --preflight: the prompts read, then every endpoint asked (sum_http.c).
 * One line per problem on stderr and exit 2; a line on stdout and exit 0
 * when all is well.
 */
static int run_preflight(void)
{
	char detail[512];
	struct sum_prompts p = {0};
	struct sum_judge_prompts jp = {0};
	int openai = c.backend == SUM_BACKEND_OPENAI;
	if (openai && infty_sum_prompts_load(&p, c.prompt_dir, detail, sizeof detail))
		report(NULL, detail);
	if (c.judge && infty_sum_judge_prompts_load(&jp, c.prompt_dir, detail, sizeof detail))
		report(NULL, detail);
	infty_sum_prompts_release(&p);
	infty_sum_judge_prompts_release(&jp);
	const char *models[2];
	size_t nm = 0;
	if (openai)
		models[nm++] = c.model;
	const char *jm = c.judge_model ? c.judge_model : c.model;
	if (c.judge && (!nm || strcmp(jm, models[0])))
		models[nm++] = jm;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct sum_http *h = infty_sum_http_new(&c, NULL, NULL, NULL);
	if (!h)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	int rc = infty_sum_http_preflight(h, models, nm, c.ready_timeout, report, NULL);
	infty_sum_http_free(h);
	if (rc == INFTY_ECANCELED)
		infty_die(INFTY_EXIT_STOPPED, "interrupted");
	if (rc < 0)
		infty_die(INFTY_EXIT_STOPPED, "%s", infty_strerror(rc));
	if (problems)
		return INFTY_EXIT_USAGE;
	printf("pre-flight: %zu endpoint(s) answer; model%s %s%s%s listed and answering\n",
	       c.n_endpoints, nm > 1 ? "s" : "", models[0], nm > 1 ? ", " : "",
	       nm > 1 ? models[1] : "");
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
	return INFTY_EXIT_OK;
}

int main(int argc, char **argv)
{
	infty_sum_config_init(&c);
	c.stall_timeout = -1; /* not given: it depends on --no-stream */
	infty_stage_args(&cfg, &cmd, argc, argv, 1);
	if (input && cfg.n_inputs)
		infty_usage_error("one input file at most (got -i and an INPUT)");
	if (input) {
		cfg.inputs = &input;
		cfg.n_inputs = 1;
	}
	if (preflight && dry_run)
		infty_usage_error("--preflight and --dry-run are two runs: give one");
	if (dry_run && cfg.output)
		infty_usage_error("--dry-run writes no records (its figures go to stdout and "
		                  "--stats): no -o");
	if (!cfg.output)
		cfg.output = dry_run ? NULL : "-";
	/* Without streaming nothing arrives until the answer is whole. */
	if (c.stall_timeout < 0)
		c.stall_timeout = c.stream ? 60 : 300;
	if (c.backoff_base > c.backoff_max)
		c.backoff_base = c.backoff_max;
	if (tokenizer) {
		c.no_tokenizer = !strcmp(tokenizer, "none");
		c.tokenizer = c.no_tokenizer ? NULL : tokenizer;
	}
	c.endpoints = eps;
	c.n_endpoints = neps;
	backend = backend_choice >= 0 ? backends[backend_choice] : neps ? "openai" : "extractive";
	if (dry_run) {
		/* What a model would be asked: no endpoint or model is needed. */
		if (tokenizer && c.no_tokenizer)
			c.tokenizer = NULL;
		resolve_prompt_dir();
		cfg.stats_fields = infty_sum_estimate_fields;
		cfg.fields_ctx = &est;
		int status = infty_stage_run(&cfg, run_estimate, NULL);
		if (status <= INFTY_EXIT_DATA) {
			infty_sum_estimate_print(stdout, &est);
			if (fflush(stdout) || ferror(stdout))
				infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
		}
		infty_free(eps);
		return status;
	}
	char *key = NULL;
	int openai = !strcmp(backend, "openai");
	c.backend = openai ? SUM_BACKEND_OPENAI : SUM_BACKEND_EXTRACTIVE;
	/* A model is asked: for the summaries, or to judge the extractive ones. */
	if (openai || c.judge) {
		if (!neps)
			infty_usage_error(
			    openai ? "--backend openai needs --endpoint URL"
			           : "--judge needs --endpoint URL (the judge is a model)");
		if (!c.model && (openai || !c.judge_model))
			infty_usage_error(openai ? "--backend openai needs --model NAME"
			                         : "--judge needs --judge-model or --model NAME");
		if (keyfile)
			key = read_key_file(keyfile);
		else if (getenv("INFTY_API_KEY") && *getenv("INFTY_API_KEY"))
			key = infty_strdup(getenv("INFTY_API_KEY"));
		else if (getenv("OPENAI_API_KEY") && *getenv("OPENAI_API_KEY"))
			key = infty_strdup(getenv("OPENAI_API_KEY"));
		c.api_key = key;
		resolve_prompt_dir();
	} else if (neps) {
		infty_usage_error("--backend extractive takes no --endpoint (but with --judge)");
	}
	/* Extractive summaries are graded, never rewritten: a refinement is a model's. */
	if (c.judge && !openai)
		c.judge_rounds = 1;
	/* The policy's defaults depend on the backend; --quality goes on top. */
	infty_sum_quality_policy_default(&c.quality, openai);
	char qdetail[256];
	if (quality && infty_sum_quality_policy_parse(&c.quality, quality, qdetail, sizeof qdetail))
		infty_usage_error("--quality: %s", qdetail);
	if (preflight) {
		if (!neps)
			infty_usage_error(
			    "--preflight needs --endpoint URL (there is nothing to check "
			    "offline)");
		int status = run_preflight();
		if (key) {
			memset(key, 0, strlen(key));
			infty_free(key);
		}
		infty_free(eps);
		return status;
	}
	/* curl writes to sockets a server may close: that is an error to read,
	 * not a reason to die. */
	signal(SIGPIPE, SIG_IGN);

	cfg.stats_fields = infty_sum_stats_fields;
	cfg.progress_fields = infty_sum_progress_fields;
	cfg.fields_ctx = &so;
	cfg.on_signal = infty_sum_engine_stop; /* the transfer loop stops within a step */
	int status = infty_stage_run(&cfg, run, NULL);
	infty_sum_stats_out_release(&so);
	if (key) {
		memset(key, 0, strlen(key));
		infty_free(key);
	}
	infty_free(eps);
	return status;
}
