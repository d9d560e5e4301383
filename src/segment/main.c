/*
 * infty-segment: dataset rows in, eta-bounded reasoning segments out.
 * Options, messages and exit codes only; the work is in seg_run.c.
 */
#include "seg_run.h"
#include "seg_tok.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fputs("usage: infty-segment [OPTIONS] [FILE]\n"
	      "Cut the reasoning of each trace in FILE (or stdin; .jsonl or .jsonl.zst, any\n"
	      "supported dataset shape) into segments of at most eta tokens.\n"
	      "\n"
	      "  -o, --output FILE        segment records (default stdout; .zst compresses)\n"
	      "  -r, --rejects FILE       reject records (file, line, reason, raw row)\n"
	      "  -s, --stats FILE         stats JSON (counts, rejects by reason, histograms)\n"
	      "  -e, --eta N              token budget per segment (default 4096)\n"
	      "  -p, --pack MODE          strict (default: every segment <= eta) or paper\n"
	      "                           (the reference's overflow chunking; which rows:\n"
	      "                           --accept)\n"
	      "      --min-tail N         strict: merge a last segment below N tokens back\n"
	      "                           into the previous one when it fits (default 256)\n"
	      "      --max-trace-tokens N reject a trace whose reasoning has more tokens\n"
	      "                           (default 131072; 0 = no limit)\n"
	      "      --max-segments N     reject a trace cut into more segments\n"
	      "                           (default 256; 0 = no limit)\n"
	      "      --pick WHAT          OpenR1 rows: messages (default), first-correct,\n"
	      "                           all-correct or all generations\n"
	      "      --accept WHICH       infty (default: every shape, tags read leniently) or\n"
	      "                           reference (exactly the rows the reference keeps;\n"
	      "                           with --pack paper, totals compare one to one)\n"
	      "  -f, --input-format FMT   auto (default, per row), openr1, messages,\n"
	      "                           conversations, openthoughts, s1k, limo, reasoning,\n"
	      "                           trace\n"
	      "  -t, --tokenizer PATH     tokenizer.json (default: $INFTY_TOKENIZER, then the\n"
	      "                           Qwen3 one make fetched)\n"
	      "      --shard I/N          only traces whose id hashes to shard I of N\n"
	      "  -j, --threads N          worker threads (default: all cores)\n"
	      "  -q, --quiet              no progress line\n"
	      "  -h, --help               this help\n"
	      "  -V, --version            print the version\n"
	      "\n"
	      "Exit status: 0 done, 1 done with some rows rejected, 2 usage or\n"
	      "configuration error, 3 stopped by a read or write error (nothing\n"
	      "published).  See infty-segment(1).\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"eta", required_argument, NULL, 'e'},
	    {"pack", required_argument, NULL, 'p'},
	    {"min-tail", required_argument, NULL, 'T'},
	    {"max-trace-tokens", required_argument, NULL, 'X'},
	    {"max-segments", required_argument, NULL, 'N'},
	    {"pick", required_argument, NULL, 'P'},
	    {"accept", required_argument, NULL, 'A'},
	    {"input-format", required_argument, NULL, 'f'},
	    {"tokenizer", required_argument, NULL, 't'},
	    {"shard", required_argument, NULL, 'S'},
	    {"threads", required_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	infty_cli_init(argv[0]);
	struct infty_seg_run_opts o = {
	    .output = "-",
	    .eta = 4096,
	    .min_tail = 256,
	    .max_trace_tokens = 131072,
	    .max_segments = 256,
	    .pack = INFTY_SEG_PACK_STRICT,
	    .log = stderr,
	};
	const char *tokpath = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "o:r:s:e:p:f:t:j:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 'r':
			o.rejects = optarg;
			break;
		case 's':
			o.stats = optarg;
			break;
		case 'e':
			o.eta = infty_parse_ll("--eta", optarg, 1, 1LL << 30);
			break;
		case 'p':
			if (strcmp(optarg, "strict") == 0)
				o.pack = INFTY_SEG_PACK_STRICT;
			else if (strcmp(optarg, "paper") == 0)
				o.pack = INFTY_SEG_PACK_PAPER;
			else
				infty_usage_error("--pack: '%s' is not strict or paper", optarg);
			break;
		case 'T':
			o.min_tail = infty_parse_ll("--min-tail", optarg, 0, 1LL << 30);
			break;
		case 'X':
			o.max_trace_tokens =
			    infty_parse_ll("--max-trace-tokens", optarg, 0, 1LL << 40);
			break;
		case 'N':
			o.max_segments = infty_parse_ll("--max-segments", optarg, 0, 1LL << 30);
			break;
		case 'P': {
			int p = infty_seg_pick_parse(optarg);
			if (p < 0)
				infty_usage_error("--pick: '%s' is not messages, first-correct, "
				                  "all-correct or all",
				                  optarg);
			o.in.pick = (enum infty_seg_pick)p;
			break;
		}
		case 'A': {
			int a = infty_seg_accept_parse(optarg);
			if (a < 0)
				infty_usage_error("--accept: '%s' is not infty or reference",
				                  optarg);
			o.in.accept = (enum infty_seg_accept)a;
			break;
		}
		case 'f': {
			int f = infty_seg_format_parse(optarg);
			if (f < 0)
				infty_usage_error("--input-format: unknown format '%s'", optarg);
			o.in.format = (enum infty_seg_format)f;
			break;
		}
		case 't':
			tokpath = optarg;
			break;
		case 'S':
			infty_parse_shard("--shard", optarg, &o.shard_index, &o.shard_count);
			break;
		case 'j':
			o.threads = (int)infty_parse_ll("--threads", optarg, 1, 1024);
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			if (fflush(stdout) || ferror(stdout))
				infty_die(INFTY_EXIT_STOPPED, "stdout: write failed");
			return INFTY_EXIT_OK;
		case 'V':
			infty_print_version();
		default:
			infty_usage_error("bad option");
		}
	}
	if (argc - optind > 1)
		infty_usage_error("one input file at most (got %d)", argc - optind);
	o.input = optind < argc ? argv[optind] : "-";
	struct stat st;
	if (strcmp(o.input, "-") != 0 && (stat(o.input, &st) != 0 || S_ISDIR(st.st_mode)))
		infty_die(INFTY_EXIT_USAGE, "%s: %s", o.input,
		          S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
	/* The reference reads the assistant turn of `messages`, nothing else. */
	if (o.in.accept == INFTY_SEG_ACCEPT_REFERENCE && o.in.pick != INFTY_SEG_PICK_MESSAGES)
		infty_usage_error("--accept reference reads `messages` only: it takes no --pick %s",
		                  infty_seg_pick_name(o.in.pick));
	if (o.in.accept == INFTY_SEG_ACCEPT_REFERENCE && o.in.format != INFTY_SEG_FMT_AUTO &&
	    o.in.format != INFTY_SEG_FMT_OPENR1 && o.in.format != INFTY_SEG_FMT_MESSAGES)
		infty_usage_error("--accept reference reads `messages` only: it takes no "
		                  "--input-format %s",
		                  infty_seg_format_name(o.in.format));
	if (o.pack == INFTY_SEG_PACK_PAPER)
		o.min_tail = 0; /* the reference keeps tiny tails; so does paper mode */

	if (!tokpath)
		tokpath = infty_tokenizer_default_path();
	struct infty_tokenizer *tok = NULL;
	char detail[512];
	int rc = infty_tokenizer_load(&tok, tokpath, detail, sizeof detail);
	if (rc)
		infty_die(INFTY_EXIT_USAGE, "%s: cannot load tokenizer: %s", tokpath,
		          *detail ? detail : infty_strerror(rc));
	struct infty_seg_counter counter;
	infty_seg_tok_counter(&counter, tok);

	struct infty_seg_totals t;
	rc = infty_seg_run(&o, &counter, &t, detail, sizeof detail);
	infty_tokenizer_free(tok);
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "%s", detail);
	return t.rejected ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
}
