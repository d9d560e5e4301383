/*
 * infty-build: summarized records in, InftyThink training instances out.
 * Options only; the stage frame (include/infty/stage.h) opens, publishes
 * and reports, the work is in build_run.c and build_instances.c.
 */
#include "build_instances.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"

#include <stdio.h>
#include <string.h>

static struct infty_stage_config cfg = {
    .name = "build", .unit = "records", .expect = INFTY_KIND_SUMMARIZED, .output = "-"};
static struct infty_build_opts opts = {.format = INFTY_BUILD_PAPER, .meta = -1};
static const char *tokpath;
static const char *const quality_policies[] = {"keep", "drop", NULL}; /* drop_flagged 0, 1 */

static const char *set_format(const struct infty_option *o, const char *arg, char *err, size_t n)
{
	if (infty_build_format_parse(arg, &opts.format) == 0)
		return NULL;
	snprintf(err, n, "'%s' is not " INFTY_BUILD_FORMAT_NAMES, arg);
	return err;
}

static const struct infty_option options[] = {
    INFTY_OPT_CALL('f', "format", NULL, "FMT", set_format,
                   "paper (default), messages, hf, trl (prompt/completion\n"
                   "strings) or trl-chat (prompt/completion message lists)"),
    INFTY_OPT_STRING('o', "output", &cfg.output, "FILE",
                     "instances (default stdout; .zst compresses)"),
    INFTY_STAGE_OPT_REJECTS(&cfg),
    INFTY_STAGE_OPT_STATS(&cfg),
    INFTY_STAGE_OPT_PROGRESS(&cfg),
    INFTY_OPT_STRING('t', "tokenizer", &tokpath, "PATH",
                     "tokenizer.json for token counts, or 'none'\n"
                     "(default: $INFTY_TOKENIZER, then the fetched Qwen3 one)"),
    INFTY_OPT_INT('m', "max-tokens", &opts.max_tokens, "N", 1, 1LL << 40,
                  "reject a trace when one instance's prompt plus\n"
                  "target exceeds N tokens"),
    INFTY_OPT_FLAG(0, "meta", &opts.meta, 1,
                   "add a \"meta\" object (id, iteration, n, tokens) to every\n"
                   "instance (default for paper and messages)"),
    INFTY_OPT_FLAG(0, "no-meta", &opts.meta, 0, "leave it out (default for hf, trl and trl-chat)"),
    INFTY_OPT_CHOICE(0, "quality", &opts.drop_flagged, "keep|drop", quality_policies,
                     "keep traces with a flagged summary and count them\n"
                     "(default), or reject them as quality_<flag>"),
    INFTY_STAGE_OPT_END(&cfg),
};

static const struct infty_cmd cmd = {
    .name = "infty-build",
    .usage = "[OPTIONS] [FILE...]",
    .about = "Build InftyThink training instances from summarized records (FILE or stdin;\n"
             ".jsonl or .jsonl.zst).  A trace of n segments gives exactly n instances, or\n"
             "none: a trace missing a summary is rejected whole.\n",
    .options = options,
};

static int64_t count_tokens(void *ctx, const char *text, size_t len)
{
	return infty_tok_count(ctx, text, len);
}

static struct infty_build_stats stats;

static int run(struct infty_stage *st, void *ctx)
{
	return infty_build_run(st, ctx, &stats);
}

int main(int argc, char **argv)
{
	infty_stage_args(&cfg, &cmd, argc, argv, 0);
	if (opts.meta < 0)
		opts.meta = infty_build_format_meta_default(opts.format);

	struct infty_tokenizer *tok = NULL;
	struct infty_tok_ctx *tctx = NULL;
	if (!tokpath)
		tokpath = infty_tokenizer_default_path();
	if (tokpath && strcmp(tokpath, "none")) {
		tok = infty_cli_tokenizer(tokpath);
		if (!(tctx = infty_tok_ctx_new(tok)))
			infty_die(INFTY_EXIT_STOPPED, "out of memory");
		opts.count = count_tokens;
		opts.count_ctx = tctx;
	} else if (opts.max_tokens) {
		infty_usage_error("--max-tokens needs a tokenizer (not --tokenizer none)");
	}

	infty_build_stats_init(&stats, opts.format);
	cfg.stats_fields = infty_build_stats_fields;
	cfg.progress_fields = infty_build_progress_fields;
	cfg.fields_ctx = &stats;
	int status = infty_stage_run(&cfg, run, &opts);
	infty_build_stats_release(&stats);
	infty_tok_ctx_free(tctx);
	infty_tokenizer_free(tok);
	return status;
}
