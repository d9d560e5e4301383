/*
 * infty-segment: dataset rows in, eta-bounded reasoning segments out.
 * Options only; the stage frame (include/infty/stage.h) opens, publishes
 * and reports, the work is in seg_run.c.
 */
#include "seg_run.h"
#include "seg_tok.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"

#include <stdio.h>
#include <string.h>

static struct infty_stage_config cfg = {
    .name = "segment", .unit = "rows", .expect = INFTY_KIND_ROW, .output = "-"};
static struct infty_seg_run_opts o = {
    .eta = 4096,
    .min_tail = 256,
    .max_trace_tokens = 131072,
    .max_segments = 256,
    .pack = INFTY_SEG_PACK_STRICT,
};
static const char *tokpath;

static const char *const pack_names[] = {"strict", "paper", NULL};

static const char *set_pick(const struct infty_option *opt, const char *arg, char *err, size_t n)
{
	int p = infty_seg_pick_parse(arg);
	if (p < 0) {
		snprintf(err, n, "'%s' is not messages, first-correct, all-correct or all", arg);
		return err;
	}
	o.in.pick = (enum infty_seg_pick)p;
	return NULL;
}

static const char *set_accept(const struct infty_option *opt, const char *arg, char *err, size_t n)
{
	int a = infty_seg_accept_parse(arg);
	if (a < 0) {
		snprintf(err, n, "'%s' is not infty or reference", arg);
		return err;
	}
	o.in.accept = (enum infty_seg_accept)a;
	return NULL;
}

static const char *set_format(const struct infty_option *opt, const char *arg, char *err, size_t n)
{
	int f = infty_seg_format_parse(arg);
	if (f < 0) {
		snprintf(err, n, "unknown format '%s'", arg);
		return err;
	}
	o.in.format = (enum infty_seg_format)f;
	return NULL;
}

static const char *set_shard(const struct infty_option *opt, const char *arg, char *err, size_t n)
{
	infty_parse_shard("--shard", arg, &o.shard_index, &o.shard_count); /* exits 2 if bad */
	return NULL;
}

static const struct infty_option options[] = {
    INFTY_OPT_STRING('o', "output", &cfg.output, "FILE",
                     "segment records (default stdout; .zst compresses)"),
    INFTY_STAGE_OPT_REJECTS(&cfg),
    INFTY_STAGE_OPT_STATS(&cfg),
    INFTY_STAGE_OPT_PROGRESS(&cfg),
    INFTY_OPT_INT('e', "eta", &o.eta, "N", 1, 1LL << 30, "token budget per segment (default 4096)"),
    INFTY_OPT_CHOICE('p', "pack", &o.pack, "MODE", pack_names,
                     "strict (default: every segment <= eta) or paper\n"
                     "(the reference's overflow chunking; which rows:\n"
                     "--accept)"),
    INFTY_OPT_INT(0, "min-tail", &o.min_tail, "N", 0, 1LL << 30,
                  "strict: merge a last segment below N tokens back\n"
                  "into the previous one when it fits (default 256)"),
    INFTY_OPT_INT(0, "max-trace-tokens", &o.max_trace_tokens, "N", 0, 1LL << 40,
                  "reject a trace whose reasoning has more tokens\n"
                  "(default 131072; 0 = no limit)"),
    INFTY_OPT_INT(0, "max-segments", &o.max_segments, "N", 0, 1LL << 30,
                  "reject a trace cut into more segments\n"
                  "(default 256; 0 = no limit)"),
    INFTY_OPT_CALL(0, "pick", NULL, "WHAT", set_pick,
                   "OpenR1 rows: messages (default), first-correct,\n"
                   "all-correct or all generations"),
    INFTY_OPT_CALL(0, "accept", NULL, "WHICH", set_accept,
                   "infty (default: every shape, tags read leniently) or\n"
                   "reference (exactly the rows the reference keeps;\n"
                   "with --pack paper, totals compare one to one)"),
    INFTY_OPT_CALL('f', "input-format", NULL, "FMT", set_format,
                   "auto (default, per row), openr1, messages,\n"
                   "conversations, openthoughts, s1k, limo, reasoning,\n"
                   "trace"),
    INFTY_OPT_STRING('t', "tokenizer", &tokpath, "PATH",
                     "tokenizer.json (default: $INFTY_TOKENIZER, then the\n"
                     "Qwen3 one make fetched)"),
    INFTY_OPT_CALL(0, "shard", NULL, "I/N", set_shard,
                   "only traces whose id hashes to shard I of N"),
    INFTY_OPT_INT('j', "threads", &o.threads, "N", 1, 1024, "worker threads (default: all cores)"),
    INFTY_STAGE_OPT_QUIET(&cfg),
    INFTY_OPT_HELP(),
    INFTY_OPT_VERSION(),
    INFTY_OPT_END(),
};

static const struct infty_cmd cmd = {
    .name = "infty-segment",
    .usage = "[OPTIONS] [FILE]",
    .about = "Cut the reasoning of each trace in FILE (or stdin; .jsonl or .jsonl.zst, any\n"
             "supported dataset shape) into segments of at most eta tokens.\n",
    .options = options,
};

int main(int argc, char **argv)
{
	int first = infty_opts_parse(&cmd, argc, argv);
	if (argc - first > 1)
		infty_usage_error("one input file at most (got %d)", argc - first);
	cfg.inputs = (const char *const *)argv + first;
	cfg.n_inputs = (size_t)(argc - first);
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

	struct infty_seg_totals t = {0};
	struct infty_seg_report report = {&o, &counter, &t};
	cfg.stats_fields = infty_seg_stats_fields;
	cfg.progress_fields = infty_seg_progress_fields;
	cfg.fields_ctx = &report;
	struct infty_stage *st = infty_stage_new(&cfg);
	rc = st ? infty_stage_open(st) : INFTY_ENOMEM;
	if (!rc)
		rc = infty_seg_run_stage(st, &o, &counter, &t);
	int status = infty_stage_end(st, rc);
	infty_seg_totals_release(&t);
	infty_tokenizer_free(tok);
	return status;
}
