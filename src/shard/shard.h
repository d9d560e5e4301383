/*
 * shard.h - the engine of infty-shard: split one JSONL(.zst) input into N
 * zstd shards in one streaming pass, accounting for every line.
 */
#ifndef INFTY_SHARD_H
#define INFTY_SHARD_H

#include <stddef.h>
#include <stdint.h>

struct infty_shard_opts {
	const char *input;    /* path or "-" */
	const char *dir;      /* where SSSSS.jsonl.zst go */
	uint32_t shards;      /* N >= 1 */
	int level;            /* zstd level */
	uint64_t mem_budget;  /* bytes buffered across all shards before a flush */
	volatile int *cancel; /* set (e.g. by a signal handler) to stop; may be NULL */
	int quiet;
};

struct infty_shard_totals {
	uint64_t lines; /* every line, blank ones included */
	uint64_t rows;  /* lines with something other than spaces and tabs */
	uint64_t blank; /* lines = rows + blank */
	uint64_t bytes_in;
	uint64_t frames; /* zstd frames written */
	double seconds;
};

/*
 * Split o->input into o->dir/00000.jsonl.zst ... : line L (1-based, every
 * line) goes to shard (L-1) % N.  The shards are written in a temporary
 * directory inside o->dir and renamed into place only when all of them are
 * complete and synced, so a failure or a cancel leaves none of this run's
 * files under a final name.  Returns 0, or a negative infty_err with one
 * line in detail: INFTY_EINVAL (cannot open the input), INFTY_EIO, a stream
 * error of the reader (INFTY_ETRUNCATED, INFTY_ECORRUPT), INFTY_ENOMEM or
 * INFTY_ECANCELED.
 */
int infty_shard_run(const struct infty_shard_opts *o, struct infty_shard_totals *t, char *detail,
                    size_t dlen);

#endif
