/*
 * infty-tok - count or list the tokens of texts or of a JSONL field, or
 * decode ids, with the tokenizer the pipeline uses.  Options only; the work
 * is in tok_run.c.
 */
#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/options.h"
#include "infty/tokenizer.h"
#include "tok_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* All of stdin; a read error or no memory stops the command (exit 3). */
static char *slurp_stdin(size_t *len)
{
	char *buf = infty_read_all(stdin, len);
	if (!buf)
		infty_die(INFTY_EXIT_STOPPED, "<stdin>: %s",
		          errno == ENOMEM ? "out of memory" : "read error");
	return buf;
}

static struct infty_tokrun_opts o;
static const char *tok_path;
static int want_hash;

static const struct infty_option options[] = {
    INFTY_OPT_STRING('t', "tokenizer", &tok_path, "PATH",
                     "tokenizer.json (default: $INFTY_TOKENIZER, else the\n"
                     "one make fetched, else the installed copy)"),
    INFTY_OPT_STRING('f', "field", &o.field, "NAME", "tokenize this string field of JSONL records"),
    INFTY_OPT_INT('j', "threads", &o.threads, "N", 1, 1024,
                  "worker threads for JSONL input (default: all cores)"),
    INFTY_OPT_FLAG(0, "total", &o.total, 1, "print only the total count"),
    INFTY_OPT_FLAG(0, "offsets", &o.offsets, 1,
                   "ids: print id:start-end (byte offsets in the input)"),
    INFTY_OPT_FLAG(0, "timing", &o.timing, 1, "print bytes, tokens, time and speed on stderr"),
    INFTY_OPT_FLAG(0, "hash", &want_hash, 1, "print the tokenizer's sha256 and exit"),
    INFTY_OPT_HELP_VERSION_END(),
};

static const struct infty_cmd cmd = {
    .name = "infty-tok",
    .usage = "[OPTIONS] count [TEXT...]\n"
             "[OPTIONS] ids [TEXT...]\n"
             "[OPTIONS] count|ids --field NAME FILE...\n"
             "[OPTIONS] decode ID...",
    .about = "Count or list the tokens of each TEXT (one output line each), of standard\n"
             "input when there is no TEXT, or of field NAME of every JSONL record (one\n"
             "line per record, in input order). decode prints the bytes of the ids.\n",
    .options = options,
    .exit_note = "infty-tok: 1 means some text or record could not be tokenized, or an id\n"
                 "is unknown.\n",
    /* Options come before and after the command word, then the texts:
     * a text may begin with '-'. */
    .stop_at_operand = 1,
};

int main(int argc, char **argv)
{
	int first = infty_opts_parse(&cmd, argc, argv);
	const char *word = first < argc ? argv[first] : NULL;
	int op = first;
	if (word) {
		/* Parse again after the command word: it plays argv[0]. */
		argc -= first;
		argv += first;
		op = infty_opts_parse(&cmd, argc, argv);
	}
	if (!word && !want_hash)
		infty_usage_error("missing command: count, ids or decode");
	if (word && strcmp(word, "count") && strcmp(word, "ids") && strcmp(word, "decode"))
		infty_usage_error("unknown command '%s'", word);
	o.mode = word && strcmp(word, "ids") == 0 ? INFTY_TOKRUN_IDS : INFTY_TOKRUN_COUNT;
	if (o.offsets && o.mode != INFTY_TOKRUN_IDS)
		infty_usage_error("--offsets goes with ids");
	if (o.total && o.mode != INFTY_TOKRUN_COUNT)
		infty_usage_error("--total goes with count");
	if (o.field && op >= argc)
		infty_usage_error("--field needs at least one FILE");

	if (!tok_path)
		tok_path = infty_tokenizer_default_path();
	double t0 = now();
	struct infty_tokenizer *tok = infty_cli_tokenizer(tok_path);
	int rc;
	double t_load = now() - t0;
	if (want_hash) {
		puts(infty_tokenizer_hash(tok));
		infty_tokenizer_free(tok);
		return fclose(stdout) ? INFTY_EXIT_STOPPED : INFTY_EXIT_OK;
	}

	int status = INFTY_EXIT_OK;
	uint64_t tokens = 0, bytes = 0;
	t0 = now();
	if (word && strcmp(word, "decode") == 0) {
		if (op >= argc)
			infty_usage_error("decode needs at least one ID");
		size_t n = (size_t)(argc - op);
		uint32_t *ids = infty_malloc(n * sizeof *ids);
		if (!ids)
			infty_die(INFTY_EXIT_DATA, "out of memory");
		for (size_t i = 0; i < n; i++)
			ids[i] = (uint32_t)infty_parse_ll("ID", argv[op + (int)i], 0, UINT32_MAX);
		int64_t need = infty_tok_decode(tok, ids, n, NULL, 0);
		char *buf = need > 0 ? infty_malloc((size_t)need) : NULL;
		if (need < 0)
			infty_die(INFTY_EXIT_DATA, "id out of range for this tokenizer");
		if (need > 0 && !buf)
			infty_die(INFTY_EXIT_DATA, "out of memory");
		infty_tok_decode(tok, ids, n, buf, (size_t)need);
		fwrite(buf, 1, (size_t)need, stdout);
		infty_free(buf);
		infty_free(ids);
	} else if (o.field) {
		/* A file that cannot be read is skipped (2, said once); a stream
		 * that breaks stops (3); a record that cannot be tokenized is a
		 * "-" line (1). */
		for (int i = op; i < argc && status != INFTY_EXIT_STOPPED; i++) {
			rc = infty_tokrun_jsonl(tok, &o, argv[i], stdout, &tokens, &bytes);
			if (rc == INFTY_EINVAL)
				status = INFTY_EXIT_USAGE;
			else if (rc < 0)
				status = INFTY_EXIT_STOPPED;
			else if (rc > 0 && status == INFTY_EXIT_OK)
				status = INFTY_EXIT_DATA;
		}
	} else if (op < argc) {
		for (int i = op; i < argc; i++) {
			size_t len = strlen(argv[i]);
			bytes += len;
			rc = infty_tokrun_text(tok, &o, argv[i], len, stdout, &tokens);
			if (rc) {
				infty_warn("argument %d: %s", i - op + 1, infty_strerror(rc));
				status = INFTY_EXIT_DATA;
			}
		}
	} else {
		size_t len;
		char *text = slurp_stdin(&len);
		bytes = len;
		rc = infty_tokrun_text(tok, &o, text, len, stdout, &tokens);
		if (rc) {
			infty_warn("<stdin>: %s", infty_strerror(rc));
			status = INFTY_EXIT_DATA;
		}
		infty_free(text);
	}
	if (o.total)
		printf("%llu\n", (unsigned long long)tokens);
	double dt = now() - t0;
	if (o.timing)
		fprintf(stderr,
		        "infty-tok: load %.3f s; %llu bytes, %llu tokens in %.3f s: %.2f MB/s, "
		        "%.2f M tokens/s\n",
		        t_load, (unsigned long long)bytes, (unsigned long long)tokens, dt,
		        dt > 0 ? bytes / dt / 1e6 : 0.0, dt > 0 ? tokens / dt / 1e6 : 0.0);
	infty_tokenizer_free(tok);
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		infty_warn("stdout: write error");
		return INFTY_EXIT_STOPPED;
	}
	return status;
}
