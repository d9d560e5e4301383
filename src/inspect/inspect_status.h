/*
 * inspect_status.h - the live numbers of a pipeline run directory (OUT),
 * per stage: what the finished shards' stats and the running shards'
 * progress snapshots say, summed (infty-inspect status, make status,
 * make convert's display).
 *
 * Which shard of which stage is done, stale or still to do is not decided
 * here: scripts/pipeline owns freshness and hands the states over (see
 * inspect_status_parse_states).  This module reads the files those states
 * point at and adds them up; inspect_status_run() prints.
 *
 * Ownership: a struct status_states owns its arrays
 * (inspect_status_states_release); a struct status_view holds numbers only.
 */
#ifndef INFTY_INSPECT_STATUS_H
#define INFTY_INSPECT_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum { STATUS_SHARD, STATUS_SEGMENT, STATUS_SUMMARIZE, STATUS_BUILD, STATUS_NSTAGES };

/* A shard's state as the pipeline decides it. */
enum status_state { STATE_TODO = 0, STATE_DONE, STATE_STALE, STATE_FAILED };

struct status_states {
	unsigned shards;                      /* from run.json */
	unsigned char *state[STATUS_NSTAGES]; /* owned; [0] has one entry (shard "all") */
	int merge_done;
	int running; /* a run holds OUT's lock: its snapshots are live */
};

/*
 * Parse the pipeline's states (`pipeline states`): lines "running 0|1",
 * "STAGE SHARD STATE" (STAGE shard, segment, summarize, build, merge;
 * SHARD a number or "all"; STATE done, stale, todo or failed).  Shards
 * not named are todo.  s->shards must be set.  Returns 0, or -1 with the
 * offending line in detail.
 */
int inspect_status_parse_states(struct status_states *s, const char *text, char *detail,
                                size_t dlen);
void inspect_status_states_release(struct status_states *s);

/* One stage's numbers (units: see docs/formats.md, "Progress snapshot"). */
struct status_stage {
	unsigned done, running, failed, stale, todo; /* shards */
	uint64_t d, t;   /* units done, and their total (t_open: at least) */
	int t_known;     /* t is known at all (0: not before an upstream stage ends) */
	int t_open;      /* some of t is not known yet: it is a lower bound */
	uint64_t d2, t2; /* summarize: traces; segment: traces; build: instances */
	int t2_open;
	uint64_t rejected;
	uint64_t bytes_in, bytes_total; /* shard: how much of the input is read */
	uint64_t inflight, fail[4];     /* summarize: requests in flight; failures by class */
	uint64_t prompt, cached, completion;
	double rate;     /* units per second of the running shards */
	double req_rate; /* summarize: HTTP answers per second */
	double tok_rate; /* summarize: prompt + completion tokens per second */
	int measuring;   /* a running shard is too young for a rate: none shown */
};

struct status_view {
	unsigned shards;
	struct status_stage st[STATUS_NSTAGES];
	int merge_done, running;
};

/*
 * Read OUT's stats (done shards) and snapshots (the others, when the run
 * is running and the snapshot was updated in the last stale_after seconds
 * of now) into v.  Files that are missing or damaged count as nothing.
 */
void inspect_status_collect(const char *out, const struct status_states *s, time_t now,
                            double stale_after, struct status_view *v);

/*
 * One stage's line, no newline (README.md, "Watching a run", says it
 * field by field).  Returns its length (truncated to n - 1).
 */
size_t inspect_status_line(const struct status_view *v, int stage, char *buf, size_t n);

/* Stage names in order: "shard", "segment", "summarize", "build". */
extern const char *const inspect_status_stages[STATUS_NSTAGES];

struct inspect_status_opts {
	const char *out;
	const char *states;     /* a file of states ("-": stdin), read once; or NULL */
	const char *states_cmd; /* a command printing the states, run at each refresh */
	int watch;              /* redraw until interrupted (or while_pid ends) */
	double interval;        /* seconds between displays; <= 0: the default */
	const char *follow;     /* a file of messages to relay above the display */
	long while_pid;         /* watch while this process lives (0: no such limit) */
};

/*
 * Print the status: once (the stage lines), or with watch, redrawn in
 * place on a terminal and a plain line per stage every interval
 * otherwise.  Returns the exit status (0, or 2 when OUT is not a run).
 */
int inspect_status_run(const struct inspect_status_opts *o);

#endif
