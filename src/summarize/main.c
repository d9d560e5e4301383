/*
 * infty-summarize: add a summary after every segment but the last of each
 * trace, from an OpenAI-compatible endpoint or the offline extractive
 * summarizer.  Options, messages and exit codes only; the work is in the
 * sum_*.c engine.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/paths.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: infty-summarize [OPTION]... [INPUT]\n"
    "Add summaries to segment records (INPUT or -i, default stdin).\n"
    "\n"
    "  -i, --input FILE          segment records (.jsonl or .jsonl.zst; - = stdin)\n"
    "  -o, --output FILE         summarized records (default stdout; .zst compresses)\n"
    "      --failed FILE         dead-letter file for traces that failed and bad records\n"
    "      --stats FILE          run statistics as JSON\n"
    "      --cache FILE          append-only cache of summaries (resume, no paying twice)\n"
    "      --backend NAME        openai (default with --endpoint) or extractive (offline)\n"
    "      --endpoint URL        base URL such as http://127.0.0.1:8000/v1 (repeat: round robin)\n"
    "      --model NAME          model name sent in every request\n"
    "      --api-key-file FILE   API key file (else $INFTY_API_KEY, $OPENAI_API_KEY)\n"
    "      --mode MODE           cumulative (default) or update\n"
    "      --prompt-dir DIR      cumulative.txt and update.txt (default: installed prompts)\n"
    "      --temperature X       sampling temperature (default 0.5)\n"
    "      --max-tokens N        completion budget (default 2048)\n"
    "      --candidates N        choices tried before giving up (default 4)\n"
    "      --no-n                ask one choice per request instead of n=N\n"
    "      --no-stream           ask for whole answers instead of server-sent events\n"
    "      --max-inflight N      requests in flight at most (default 64)\n"
    "      --ramp S              reach max-inflight over S seconds at start (default 0.25)\n"
    "      --window N            traces held for reordering (default 4 x max-inflight)\n"
    "      --stall-timeout S     drop a transfer silent for S seconds (default 60 when\n"
    "                            streaming, 300 with --no-stream)\n"
    "      --connect-timeout S   (default 10)\n"
    "      --timeout S           total time per request, 0 = none (default 0)\n"
    "      --max-retries N       retries of a retryable error (default 8)\n"
    "      --allow-failed        traces still failing with retryable errors after the\n"
    "                            retries become dead letters (exit 1) instead of\n"
    "                            stopping the run unpublished (exit 3)\n"
    "      --retry-failed        ask again what the cache holds as a permanent failure\n"
    "      --backoff-max S       longest backoff (default 30)\n"
    "      --retry-after-cap S   longest wait a server may ask for (default 120)\n"
    "      --rpm N, --tpm N      requests / tokens per minute (default unlimited)\n"
    "      --summary-max-chars N reject longer summaries (default 16384)\n"
    "      --trunc-ratio X       prompt_tokens below X x our count = truncated "
    "(default " SUM_TRUNC_RATIO_TEXT ")\n"
    "      --server-count MODE   auto (default: ask a server that serves /tokenize to\n"
    "                            count a prompt that looks short), tokenize (require\n"
    "                            it), off (the ratio only)\n"
    "      --tokenizer FILE      count question and instruction exactly (default: the\n"
    "                            Qwen3 tokenizer.json when there; none: estimate)\n"
    "      --ready-timeout S     wait for GET /models at start, 0 = no (default 60)\n"
    "      --extractive-budget N token budget of an extractive summary (default 512)\n"
    "      --quality SPEC        per-flag policy of the summary checks, FLAG=POLICY,...\n"
    "                            (flags leak refusal short long copy ungrounded\n"
    "                            early_answer language all; policies off warn retry\n"
    "                            reject; default with an endpoint: retry on all but\n"
    "                            copy and ungrounded, which warn; extractive: warn)\n"
    "      --judge               grade every summary with the judge (prompts/judge.txt)\n"
    "                            and refine those below the threshold (refine.txt);\n"
    "                            with --backend extractive and --endpoint: grade only\n"
    "      --judge-model NAME    the judge's model (default --model)\n"
    "      --judge-threshold N   refine a summary graded below N of 5 (default 4)\n"
    "      --judge-rounds K      summaries judged per segment at most (default 3)\n"
    "  -q, --quiet               no progress\n"
    "      --help                this help\n"
    "      --version             print the version\n"
    "\n"
    "Exit status: 0 all written; 1 finished, some traces dead-lettered or records\n"
    "rejected; 2 usage or configuration error; 3 stopped (signal, fatal server answer,\n"
    "read/write error, retryable failures left): nothing published, the cache kept.\n";

enum {
	O_FAILED = 256,
	O_STATS,
	O_CACHE,
	O_BACKEND,
	O_ENDPOINT,
	O_MODEL,
	O_KEYFILE,
	O_MODE,
	O_PROMPTS,
	O_TEMP,
	O_MAXTOK,
	O_CAND,
	O_NON,
	O_INFLIGHT,
	O_WINDOW,
	O_STALL,
	O_CONNECT,
	O_TIMEOUT,
	O_RETRIES,
	O_BACKOFF,
	O_RACAP,
	O_RPM,
	O_TPM,
	O_MAXCHARS,
	O_TRUNC,
	O_READY,
	O_EXTB,
	O_HELP,
	O_VERSION,
	O_TOKENIZER,
	O_RAMP,
	O_STREAM,
	O_NOSTREAM,
	O_ALLOWFAILED,
	O_RETRYFAILED,
	O_SERVERCOUNT,
	/* summary quality (docs/quality.md) */
	O_QUALITY,
	O_JUDGE,
	O_JUDGEMODEL,
	O_JUDGETHRESHOLD,
	O_JUDGEROUNDS,
};

static const struct option longopts[] = {
    {"input", required_argument, 0, 'i'},
    {"output", required_argument, 0, 'o'},
    {"failed", required_argument, 0, O_FAILED},
    {"stats", required_argument, 0, O_STATS},
    {"cache", required_argument, 0, O_CACHE},
    {"backend", required_argument, 0, O_BACKEND},
    {"endpoint", required_argument, 0, O_ENDPOINT},
    {"model", required_argument, 0, O_MODEL},
    {"api-key-file", required_argument, 0, O_KEYFILE},
    {"mode", required_argument, 0, O_MODE},
    {"prompt-dir", required_argument, 0, O_PROMPTS},
    {"temperature", required_argument, 0, O_TEMP},
    {"max-tokens", required_argument, 0, O_MAXTOK},
    {"candidates", required_argument, 0, O_CAND},
    {"no-n", no_argument, 0, O_NON},
    {"max-inflight", required_argument, 0, O_INFLIGHT},
    {"window", required_argument, 0, O_WINDOW},
    {"stall-timeout", required_argument, 0, O_STALL},
    {"connect-timeout", required_argument, 0, O_CONNECT},
    {"timeout", required_argument, 0, O_TIMEOUT},
    {"max-retries", required_argument, 0, O_RETRIES},
    {"backoff-max", required_argument, 0, O_BACKOFF},
    {"retry-after-cap", required_argument, 0, O_RACAP},
    {"rpm", required_argument, 0, O_RPM},
    {"tpm", required_argument, 0, O_TPM},
    {"summary-max-chars", required_argument, 0, O_MAXCHARS},
    {"trunc-ratio", required_argument, 0, O_TRUNC},
    {"ready-timeout", required_argument, 0, O_READY},
    {"extractive-budget", required_argument, 0, O_EXTB},
    {"tokenizer", required_argument, 0, O_TOKENIZER},
    {"ramp", required_argument, 0, O_RAMP},
    {"stream", no_argument, 0, O_STREAM},
    {"no-stream", no_argument, 0, O_NOSTREAM},
    {"allow-failed", no_argument, 0, O_ALLOWFAILED},
    {"retry-failed", no_argument, 0, O_RETRYFAILED},
    {"server-count", required_argument, 0, O_SERVERCOUNT},
    {"quality", required_argument, 0, O_QUALITY},
    {"judge", no_argument, 0, O_JUDGE},
    {"judge-model", required_argument, 0, O_JUDGEMODEL},
    {"judge-threshold", required_argument, 0, O_JUDGETHRESHOLD},
    {"judge-rounds", required_argument, 0, O_JUDGEROUNDS},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, O_HELP},
    {"version", no_argument, 0, O_VERSION},
    {0, 0, 0, 0},
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

static void warn_line(const char *msg)
{
	infty_warn("%s", msg);
}

static void on_signal(int sig)
{
	(void)sig;
	infty_sum_engine_stop();
}

int main(int argc, char **argv)
{
	infty_cli_init(argv[0]);
	struct sum_config c;
	infty_sum_config_init(&c);
	const char **eps = NULL;
	size_t neps = 0, epcap = 0;
	const char *backend = NULL, *keyfile = NULL, *quality = NULL;
	int opt, stall_given = 0;
	c.warn = warn_line;
	while ((opt = getopt_long(argc, argv, "i:o:q", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			c.input = optarg;
			break;
		case 'o':
			c.output = optarg;
			break;
		case O_FAILED:
			c.failed = optarg;
			break;
		case O_STATS:
			c.stats = optarg;
			break;
		case O_CACHE:
			c.cache = optarg;
			break;
		case O_BACKEND:
			if (strcmp(optarg, "openai") && strcmp(optarg, "extractive"))
				infty_usage_error("--backend: '%s' is not openai or extractive",
				                  optarg);
			backend = optarg;
			break;
		case O_ENDPOINT:
			if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
				infty_usage_error("--endpoint: '%s' is not an http(s) URL", optarg);
			if (infty_grow(&eps, &epcap, neps + 1, sizeof *eps))
				infty_die(INFTY_EXIT_STOPPED, "out of memory");
			eps[neps++] = optarg;
			break;
		case O_MODEL:
			c.model = optarg;
			break;
		case O_KEYFILE:
			keyfile = optarg;
			break;
		case O_MODE:
			if (!strcmp(optarg, "cumulative"))
				c.mode = SUM_MODE_CUMULATIVE;
			else if (!strcmp(optarg, "update"))
				c.mode = SUM_MODE_UPDATE;
			else
				infty_usage_error("--mode: '%s' is not cumulative or update",
				                  optarg);
			break;
		case O_PROMPTS:
			c.prompt_dir = optarg;
			break;
		case O_TEMP:
			c.temperature = infty_parse_double("--temperature", optarg, 0, 2);
			break;
		case O_MAXTOK:
			c.max_tokens = (long)infty_parse_ll("--max-tokens", optarg, 1, 1 << 24);
			break;
		case O_CAND:
			c.candidates = (int)infty_parse_ll("--candidates", optarg, 1, 64);
			break;
		case O_NON:
			c.use_n = 0;
			break;
		case O_INFLIGHT:
			c.max_inflight = (int)infty_parse_ll("--max-inflight", optarg, 1, 65536);
			break;
		case O_WINDOW:
			c.window = (long)infty_parse_ll("--window", optarg, 1, 1 << 24);
			break;
		case O_STALL:
			c.stall_timeout = infty_parse_double("--stall-timeout", optarg, 0, 86400);
			stall_given = 1;
			break;
		case O_CONNECT:
			c.connect_timeout =
			    infty_parse_double("--connect-timeout", optarg, 0.001, 3600);
			break;
		case O_TIMEOUT:
			c.total_timeout = infty_parse_double("--timeout", optarg, 0, 86400);
			break;
		case O_RETRIES:
			c.max_retries = (int)infty_parse_ll("--max-retries", optarg, 0, 1000);
			break;
		case O_BACKOFF:
			c.backoff_max = infty_parse_double("--backoff-max", optarg, 0, 3600);
			if (c.backoff_base > c.backoff_max)
				c.backoff_base = c.backoff_max;
			break;
		case O_RACAP:
			c.retry_after_cap =
			    infty_parse_double("--retry-after-cap", optarg, 0, 86400);
			break;
		case O_RPM:
			c.rpm = infty_parse_double("--rpm", optarg, 0, 1e9);
			break;
		case O_TPM:
			c.tpm = infty_parse_double("--tpm", optarg, 0, 1e12);
			break;
		case O_MAXCHARS:
			c.summary_max_chars =
			    (long)infty_parse_ll("--summary-max-chars", optarg, 1, 1 << 30);
			break;
		case O_TRUNC:
			c.trunc_ratio = infty_parse_double("--trunc-ratio", optarg, 0, 1);
			break;
		case O_READY:
			c.ready_timeout = infty_parse_double("--ready-timeout", optarg, 0, 86400);
			break;
		case O_EXTB:
			c.extractive_budget =
			    (long)infty_parse_ll("--extractive-budget", optarg, 8, 1 << 20);
			break;
		case O_TOKENIZER:
			c.tokenizer = strcmp(optarg, "none") ? optarg : NULL;
			c.no_tokenizer = !strcmp(optarg, "none");
			break;
		case O_STREAM:
			c.stream = 1;
			break;
		case O_NOSTREAM:
			c.stream = 0;
			break;
		case O_ALLOWFAILED:
			c.allow_failed = 1;
			break;
		case O_RETRYFAILED:
			c.retry_failed = 1;
			break;
		case O_SERVERCOUNT:
			if (!strcmp(optarg, "auto"))
				c.server_count = SUM_COUNT_AUTO;
			else if (!strcmp(optarg, "tokenize"))
				c.server_count = SUM_COUNT_TOKENIZE;
			else if (!strcmp(optarg, "off"))
				c.server_count = SUM_COUNT_OFF;
			else
				infty_usage_error(
				    "--server-count: '%s' is not auto, tokenize or off", optarg);
			break;
		case O_QUALITY:
			quality = optarg;
			break;
		case O_JUDGE:
			c.judge = 1;
			break;
		case O_JUDGEMODEL:
			c.judge_model = optarg;
			break;
		case O_JUDGETHRESHOLD:
			c.judge_threshold = (int)infty_parse_ll("--judge-threshold", optarg, 1, 5);
			break;
		case O_JUDGEROUNDS:
			c.judge_rounds =
			    (int)infty_parse_ll("--judge-rounds", optarg, 1, SUM_JUDGE_MAX_ROUNDS);
			break;
		case O_RAMP:
			c.ramp = infty_parse_double("--ramp", optarg, 0, 3600);
			break;
		case 'q':
			c.quiet = 1;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			if (fflush(stdout) || ferror(stdout))
				return INFTY_EXIT_STOPPED;
			return 0;
		case O_VERSION:
			infty_print_version();
		default:
			infty_usage_error("unknown option");
		}
	}
	if (optind < argc) {
		if (optind + 1 < argc || strcmp(c.input, "-"))
			infty_usage_error("one input only");
		c.input = argv[optind];
	}
	/* Without streaming nothing arrives until the answer is whole. */
	if (!c.stream && !stall_given)
		c.stall_timeout = 300;
	c.endpoints = eps;
	c.n_endpoints = neps;
	if (!backend)
		backend = neps ? "openai" : "extractive";
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
		if (!c.prompt_dir)
			c.prompt_dir = getenv("INFTY_PROMPT_DIR");
		if (!c.prompt_dir)
			c.prompt_dir = infty_path_prompts();
		if (!c.prompt_dir)
			infty_usage_error(
			    "no prompts: give --prompt-dir DIR, or set INFTY_HOME to a "
			    "directory holding prompts/");
		if (!is_dir(c.prompt_dir))
			infty_usage_error("--prompt-dir: '%s' is not a directory", c.prompt_dir);
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
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sum_stats_out so;
	char detail[640];
	int rc = infty_sum_engine_run(&c, &so, detail, sizeof detail);
	if (key) {
		memset(key, 0, strlen(key));
		infty_free(key);
	}
	infty_free(eps);
	if (rc < 0) {
		infty_warn("%s", detail);
		return rc == INFTY_EINVAL && !so.fatal ? INFTY_EXIT_USAGE : INFTY_EXIT_STOPPED;
	}
	if (rc > 0 && !c.quiet)
		infty_warn("%llu trace(s) failed and %llu record(s) rejected%s",
		           (unsigned long long)so.traces_failed,
		           (unsigned long long)so.records_rejected,
		           c.failed ? "; see the dead-letter file" : "");
	return rc > 0 ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
}
