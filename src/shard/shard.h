/*
 * shard.h - the engine of infty-shard: split one JSONL(.zst) input into N
 * zstd shards in one streaming pass, accounting for every line.
 *
 * It runs in a stage frame (include/infty/stage.h), which opens and checks
 * the input, publishes the shards with the stats, and removes them all if
 * the run stops.  Ownership: struct infty_shard owns its buffers and its
 * temporary directory; the options are borrowed.
 */
#ifndef INFTY_SHARD_H
#define INFTY_SHARD_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct infty_stage;
struct infty_shard;

struct infty_shard_opts {
	const char *dir;     /* where SSSSS.jsonl.zst go */
	uint32_t shards;     /* N >= 1 */
	int level;           /* zstd level */
	uint64_t mem_budget; /* bytes buffered across all shards before a flush */
};

struct infty_shard_totals {
	uint64_t lines;  /* every line, blank ones included */
	uint64_t rows;   /* lines with something other than spaces and tabs */
	uint64_t blank;  /* lines = rows + blank */
	uint64_t frames; /* zstd frames written */
};

/* A splitter for o (borrowed).  Returns 0 or INFTY_ENOMEM; *out is freed
 * with infty_shard_free() either way. */
int infty_shard_new(struct infty_shard **out, const struct infty_shard_opts *o);

/*
 * Split the stage's input into o->dir/00000.jsonl.zst ... : line L
 * (1-based, every line) goes to shard (L-1) % N.  The shards are written in
 * a temporary directory inside o->dir, registered with the stage, which
 * syncs and renames them into place only when the run finishes (and removes
 * them otherwise).  Returns 0 or a negative infty_err, recorded in the stage
 * with its message.  Stops with INFTY_ECANCELED on a signal.
 */
int infty_shard_run(struct infty_shard *sh, struct infty_stage *st);

/* The stage's stats fields (infty_stage_fields_fn; ctx is the splitter). */
int infty_shard_stats(void *ctx, struct json_object *o);
const struct infty_shard_totals *infty_shard_totals(const struct infty_shard *sh);
void infty_shard_free(struct infty_shard *sh);

#endif
