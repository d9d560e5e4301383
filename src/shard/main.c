/*
 * infty-shard: split a JSONL(.zst) input into N zstd shards for the
 * pipeline's per-shard stages.  Options only; the frame (stage.h) opens,
 * publishes and reports, the work is in shard.c.
 */
#include "shard.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/stage.h"

static struct infty_stage_config cfg = {.name = "shard", .unit = "rows", .expect = INFTY_KIND_ROW};
static struct infty_shard_opts o = {.level = 3, .mem_budget = 64u << 20};

static const struct infty_option options[] = {
    INFTY_OPT_INT('n', "shards", &o.shards, "N", 1, 4096, "number of shards, 1 to 4096"),
    INFTY_OPT_STRING('o', "output", &o.dir, "DIR", "directory of the shards (created if missing)"),
    INFTY_STAGE_OPT_STATS(&cfg),
    INFTY_STAGE_OPT_PROGRESS(&cfg),
    INFTY_OPT_INT(0, "level", &o.level, "N", 1, 19, "zstd level of the shards (default 3)"),
    INFTY_STAGE_OPT_END(&cfg),
};

static const struct infty_cmd cmd = {
    .name = "infty-shard",
    .usage = "-n N -o DIR [OPTIONS] [INPUT]",
    .about = "Split INPUT (.jsonl or .jsonl.zst; default or - = stdin) into N zstd\n"
             "shards DIR/00000.jsonl.zst ... in one pass: line L goes to shard (L-1) mod N.\n",
    .options = options,
};

static int run(struct infty_stage *st, void *sh)
{
	return infty_shard_run(sh, st);
}

int main(int argc, char **argv)
{
	infty_stage_args(&cfg, &cmd, argc, argv, 1);
	if (!o.shards)
		infty_usage_error("--shards is required");
	if (!o.dir)
		infty_usage_error("--output DIR is required");
	struct infty_shard *sh;
	if (infty_shard_new(&sh, &o))
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	cfg.stats_fields = infty_shard_stats;
	cfg.progress_fields = infty_shard_stats;
	cfg.fields_ctx = sh;
	int status = infty_stage_run(&cfg, run, sh);
	infty_shard_free(sh);
	return status;
}
