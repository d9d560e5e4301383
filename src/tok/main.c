/*
 * infty-tok - count or list the tokens of texts or of a JSONL field, or
 * decode ids, with the tokenizer the pipeline uses.  Options only; the work
 * is in tok_run.c.
 */
#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/tokenizer.h"
#include "tok_run.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage_text[] =
    "usage: infty-tok [OPTIONS] count [TEXT...]\n"
    "       infty-tok [OPTIONS] ids [TEXT...]\n"
    "       infty-tok [OPTIONS] count|ids --field NAME FILE.jsonl[.zst]...\n"
    "       infty-tok [OPTIONS] decode ID...\n"
    "\n"
    "Count or list the tokens of each TEXT (one output line each), of standard\n"
    "input when there is no TEXT, or of field NAME of every JSONL record (one\n"
    "line per record, in input order). decode prints the bytes of the ids.\n"
    "\n"
    "  -t, --tokenizer PATH  tokenizer.json (default: $INFTY_TOKENIZER, else the\n"
    "                        one make fetched, else the installed copy)\n"
    "  -f, --field NAME      tokenize this string field of JSONL records\n"
    "  -j, --threads N       worker threads for JSONL input (default: all cores)\n"
    "      --total           print only the total count\n"
    "      --offsets         ids: print id:start-end (byte offsets in the input)\n"
    "      --stats           print bytes, tokens, time and speed on stderr\n"
    "      --hash            print the tokenizer's sha256 and exit\n"
    "  -h, --help            this help\n"
    "  -V, --version         print the version\n"
    "\n"
    "Exit status: 0 done, 1 some input could not be tokenized, 2 usage error\n"
    "or unusable tokenizer.\n";

enum { OPT_TOTAL = 256, OPT_OFFSETS, OPT_STATS, OPT_HASH };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* All of stdin; exits 1 on a read error. */
static char *slurp_stdin(size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = infty_malloc(cap);
	if (!buf)
		infty_die(INFTY_EXIT_DATA, "out of memory");
	for (;;) {
		if (n == cap && infty_grow(&buf, &cap, n + 1, 1))
			infty_die(INFTY_EXIT_DATA, "out of memory");
		size_t got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(stdin))
		infty_die(INFTY_EXIT_DATA, "<stdin>: read error");
	*len = n;
	return buf;
}

static const struct option longopts[] = {
    {"tokenizer", required_argument, NULL, 't'}, {"field", required_argument, NULL, 'f'},
    {"threads", required_argument, NULL, 'j'},   {"total", no_argument, NULL, OPT_TOTAL},
    {"offsets", no_argument, NULL, OPT_OFFSETS}, {"stats", no_argument, NULL, OPT_STATS},
    {"hash", no_argument, NULL, OPT_HASH},       {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
};

/* Options up to the first operand ("+": stop there, as the command word
 * comes first and options may follow it too). */
static void parse_options(int argc, char **argv, struct infty_tokrun_opts *o, const char **tok_path,
                          int *want_hash)
{
	int c;
	while ((c = getopt_long(argc, argv, "+t:f:j:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			*tok_path = optarg;
			break;
		case 'f':
			o->field = optarg;
			break;
		case 'j':
			o->threads = (int)infty_parse_ll("--threads", optarg, 1, 1024);
			break;
		case OPT_TOTAL:
			o->total = 1;
			break;
		case OPT_OFFSETS:
			o->offsets = 1;
			break;
		case OPT_STATS:
			o->stats = 1;
			break;
		case OPT_HASH:
			*want_hash = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(fclose(stdout) ? INFTY_EXIT_DATA : INFTY_EXIT_OK);
		case 'V':
			infty_print_version();
		default:
			infty_usage_error("unknown option");
		}
	}
}

int main(int argc, char **argv)
{
	infty_cli_init(argv[0]);
	struct infty_tokrun_opts o = {0};
	const char *tok_path = NULL;
	int want_hash = 0;
	parse_options(argc, argv, &o, &tok_path, &want_hash);
	const char *cmd = optind < argc ? argv[optind] : NULL;
	if (cmd) {
		/* Parse again after the command word: argv[optind] plays argv[0]. */
		argc -= optind;
		argv += optind;
		optind = 1;
		parse_options(argc, argv, &o, &tok_path, &want_hash);
	}
	if (!cmd && !want_hash)
		infty_usage_error("missing command: count, ids or decode");
	if (cmd && strcmp(cmd, "count") && strcmp(cmd, "ids") && strcmp(cmd, "decode"))
		infty_usage_error("unknown command '%s'", cmd);
	o.mode = cmd && strcmp(cmd, "ids") == 0 ? INFTY_TOKRUN_IDS : INFTY_TOKRUN_COUNT;
	if (o.offsets && o.mode != INFTY_TOKRUN_IDS)
		infty_usage_error("--offsets goes with ids");
	if (o.total && o.mode != INFTY_TOKRUN_COUNT)
		infty_usage_error("--total goes with count");
	if (o.field && optind >= argc)
		infty_usage_error("--field needs at least one FILE");

	if (!tok_path)
		tok_path = infty_tokenizer_default_path();
	char detail[512];
	double t0 = now();
	struct infty_tokenizer *tok;
	int rc = infty_tokenizer_load(&tok, tok_path, detail, sizeof detail);
	if (rc)
		infty_die(INFTY_EXIT_USAGE, "cannot load tokenizer '%s': %s", tok_path,
		          detail[0] ? detail : infty_strerror(rc));
	double t_load = now() - t0;
	if (want_hash) {
		puts(infty_tokenizer_hash(tok));
		infty_tokenizer_free(tok);
		return fclose(stdout) ? 1 : 0;
	}

	int status = INFTY_EXIT_OK;
	uint64_t tokens = 0, bytes = 0;
	t0 = now();
	if (cmd && strcmp(cmd, "decode") == 0) {
		if (optind >= argc)
			infty_usage_error("decode needs at least one ID");
		size_t n = (size_t)(argc - optind);
		uint32_t *ids = infty_malloc(n * sizeof *ids);
		if (!ids)
			infty_die(INFTY_EXIT_DATA, "out of memory");
		for (size_t i = 0; i < n; i++)
			ids[i] =
			    (uint32_t)infty_parse_ll("ID", argv[optind + (int)i], 0, UINT32_MAX);
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
		for (int i = optind; i < argc; i++) {
			rc = infty_tokrun_jsonl(tok, &o, argv[i], stdout, &tokens, &bytes);
			if (rc != 0)
				status = INFTY_EXIT_DATA;
		}
	} else if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			size_t len = strlen(argv[i]);
			bytes += len;
			rc = infty_tokrun_text(tok, &o, argv[i], len, stdout, &tokens);
			if (rc) {
				infty_warn("argument %d: %s", i - optind + 1, infty_strerror(rc));
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
	if (o.stats)
		fprintf(stderr,
		        "infty-tok: load %.3f s; %llu bytes, %llu tokens in %.3f s: %.2f MB/s, "
		        "%.2f M tokens/s\n",
		        t_load, (unsigned long long)bytes, (unsigned long long)tokens, dt,
		        dt > 0 ? bytes / dt / 1e6 : 0.0, dt > 0 ? tokens / dt / 1e6 : 0.0);
	infty_tokenizer_free(tok);
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		infty_warn("write error on standard output");
		return INFTY_EXIT_DATA;
	}
	return status;
}
