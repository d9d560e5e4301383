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
    INFTY_OPT_CHOICE(0, "pick", &o.in.pick, "WHAT", infty_seg_pick_names,
                     "OpenR1 rows: messages (default), first-correct,\n"
                     "all-correct or all generations"),
    INFTY_OPT_CHOICE(0, "accept", &o.in.accept, "WHICH", infty_seg_accept_names,
                     "infty (default: every shape, tags read leniently) or\n"
                     "reference (exactly the rows the reference keeps;\n"
                     "with --pack paper, totals compare one to one)"),
    INFTY_OPT_CHOICE('f', "input-format", &o.in.format, "FMT", infty_seg_format_names,
                     "auto (default, per row), openr1, messages,\n"
                     "conversations, openthoughts, s1k, limo, reasoning,\n"
                     "trace"),
    INFTY_OPT_STRING('t', "tokenizer", &tokpath, "PATH",
                     "tokenizer.json (default: $INFTY_TOKENIZER, then the\n"
                     "Qwen3 one make fetched)"),
    INFTY_OPT_CALL(0, "shard", NULL, "I/N", set_shard,
                   "only traces whose id hashes to shard I of N"),
    INFTY_OPT_INT('j', "threads", &o.threads, "N", 1, 1024, "worker threads (default: all cores)"),
    INFTY_STAGE_OPT_END(&cfg),
};

static const struct infty_cmd cmd = {
    .name = "infty-segment",
    .usage = "[OPTIONS] [FILE]",
    .about = "Cut the reasoning of each trace in FILE (or stdin; .jsonl or .jsonl.zst, any\n"
             "supported dataset shape) into segments of at most eta tokens.\n",
    .options = options,
};

static struct infty_seg_counter counter;
static struct infty_seg_totals totals;

static int run(struct infty_stage *st, void *ctx)
{
	return infty_seg_run_stage(st, &o, &counter, &totals);
}

int main(int argc, char **argv)
{
	infty_stage_args(&cfg, &cmd, argc, argv, 1);
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

	struct infty_tokenizer *tok = infty_cli_tokenizer(tokpath);
	infty_seg_tok_counter(&counter, tok);
	struct infty_seg_report report = {&o, &counter, &totals};
	cfg.stats_fields = infty_seg_stats_fields;
	cfg.progress_fields = infty_seg_progress_fields;
	cfg.fields_ctx = &report;
	int status = infty_stage_run(&cfg, run, NULL);
	infty_seg_totals_release(&totals);
	infty_tokenizer_free(tok);
	return status;
}
