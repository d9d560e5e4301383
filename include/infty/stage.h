/*
 * stage.h - the frame every infty stage tool runs in (infty-shard,
 * infty-segment, infty-summarize, infty-build): it opens the inputs, the
 * output, the reject file and the stats, writes rejects and stats in one
 * shape, draws progress and the --progress snapshot, publishes the outputs
 * together, and turns the outcome into the exit status.  A stage's engine
 * does the stage's own work between infty_stage_open() and
 * infty_stage_end() and nothing else: no open, no close, no message shape,
 * no exit status of its own.
 *
 * Life of a run (DEVELOPING.md shows a whole stage):
 *
 *   main:    infty_stage_args(&cfg, &cmd, argc, argv, 1);   (the option table
 *                                                fills cfg.output, .rejects, ...)
 *            return infty_stage_run(&cfg, engine, ctx);     (new, open, engine, end)
 *   engine:  while ((rc = infty_stage_next_input(st, &in)) == 1)
 *                    ... read records; infty_stage_put_json(st, obj) each output,
 *                    ... infty_stage_reject(st, &rej) each reject,
 *                    ... infty_stage_progress(st, done, NULL) now and then;
 *            return rc;                    (0, or the error it recorded)
 *
 * infty_stage_end() turns the outcome into the exit status and frees st.
 *
 * Messages.  Every line the frame prints is "infty-x: file[:line]: what
 * went wrong" on cfg.log (default stderr), with a live progress line
 * cleared first.  Reject lines are printed for the first max_messages
 * rejects (default 10) and counted after that, with one closing line.
 * infty_stage_fail() records the first failure of a run (its status and
 * its one-line message); infty_stage_end() prints it.
 *
 * Inputs.  Each input is checked at open: a missing file or a directory is
 * a configuration error (exit 2), and so is a file that is not JSON Lines
 * (parquet, gzip, binary data) or that holds another stage's records (a
 * dataset row given to infty-build: "run infty-segment first"), refused
 * once, never line by line.
 *
 * Publication.  Outputs are written to temporaries.  infty_stage_end() of a
 * finished run finishes every output to its temporary (the output, the
 * reject file, outputs added with infty_stage_add_output(), the stats),
 * then renames them into place in that order; if anything fails, every
 * temporary is removed and every file already renamed is removed again,
 * so a run that stops publishes nothing (exit 3).  Stats are the one file
 * written for a stopped run too, with "completed": false and
 * "stopped_by", so the reason survives the log; no reader trusts a stats
 * file without "completed": true.  A configuration error (exit 2) writes
 * nothing at all.  What a relaunch reuses (the summarize cache) is the
 * engine's and is never removed.
 *
 * Exit status (include/infty/cli.h, docs/man/infty.7): 0 finished with
 * every record in the output; 1 finished with rejects, each in the reject
 * file; 2 a usage or configuration error (INFTY_EINVAL), nothing written;
 * 3 stopped (any other error, a signal).
 *
 * Ownership: the stage owns its readers, writers, progress line and
 * counters; the config's strings and hook context are borrowed and must
 * outlive the stage.  Readers and writers handed out are borrowed from the
 * stage and valid until the next infty_stage_next_input() (readers) or
 * infty_stage_end() (writers).  Threads: one thread at a time calls the
 * stage (an engine's I/O thread), except infty_stage_cancelled(), which
 * any thread may call.
 *
 * Like cli.h and progress.h, this is the tools' side of the library: it
 * prints.  Engines call it on their tool's behalf; unit tests point
 * cfg.log at a file (or set cfg.silent) to keep or read what it says.
 */
#ifndef INFTY_STAGE_H
#define INFTY_STAGE_H

#include "infty/options.h"
#include "infty/record.h"
#include "infty/reject.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;
struct infty_reader;
struct infty_writer;
struct infty_writer_opts;
struct infty_stage;

/*
 * The stage's fields in its stats (after the frame's own, see
 * docs/formats.md "Stage stats") or in a progress snapshot ("counters"):
 * add them to o.  Returns 0 or INFTY_ENOMEM.
 */
typedef int (*infty_stage_fields_fn)(void *ctx, struct json_object *o);

struct infty_stage_config {
	const char *name;       /* the stage: "build" (tool infty-build, stats "stage") */
	const char *unit;       /* what the progress counts: "rows", "traces", "records" */
	enum infty_kind expect; /* the input's kind; INFTY_KIND_UNKNOWN: any JSON Lines */

	const char *const *inputs; /* paths, "-" for stdin; none: stdin */
	size_t n_inputs;
	const char *output;   /* path or "-"; NULL: the stage writes its own (add_output) */
	const char *rejects;  /* reject records; NULL: rejects are only counted */
	const char *stats;    /* stats JSON; NULL: none */
	const char *progress; /* the progress snapshot (--progress); NULL: none */
	const struct infty_writer_opts *output_opts; /* NULL: the defaults */

	int quiet;             /* no progress line (messages still print) */
	int silent;            /* print nothing at all (tests) */
	FILE *log;             /* messages and the progress line; NULL: stderr */
	unsigned max_messages; /* reject lines printed before only counting (0: 10) */

	infty_stage_fields_fn stats_fields;    /* may be NULL */
	infty_stage_fields_fn progress_fields; /* may be NULL */
	void *fields_ctx;

	/* Called from the SIGINT/SIGTERM handler after the frame's own flag is
	 * set (async-signal-safe code only); NULL: none. */
	void (*on_signal)(void);
	int no_signals; /* leave SIGINT/SIGTERM alone (tests, benchmarks) */
	char *message;  /* if set, infty_stage_end() copies the failure message here */
	size_t message_len;
};

/*
 * The options every stage tool shares, worded once (options.h): c is the
 * tool's struct infty_stage_config.  -o/--output is the tool's own (what
 * it writes differs).
 */
#define INFTY_STAGE_OPT_REJECTS(c)                                                                 \
	INFTY_OPT_STRING('r', "rejects", &(c)->rejects, "FILE",                                    \
	                 "reject records: every input record not in the output, with\n"            \
	                 "its reason (stage, file, line, reason, detail, id, raw)")
#define INFTY_STAGE_OPT_STATS(c)                                                                   \
	INFTY_OPT_STRING('s', "stats", &(c)->stats, "FILE",                                        \
	                 "stats JSON of the run (counts, rejects by reason)")
#define INFTY_STAGE_OPT_PROGRESS(c)                                                                \
	INFTY_OPT_STRING(0, "progress", &(c)->progress, "FILE",                                    \
	                 "a JSON snapshot of the progress, rewritten every 2 s")
#define INFTY_STAGE_OPT_QUIET(c) INFTY_OPT_FLAG('q', "quiet", &(c)->quiet, 1, "no progress line")
/* The end of every stage tool's table: -q, -h, -V. */
#define INFTY_STAGE_OPT_END(c) INFTY_STAGE_OPT_QUIET(c), INFTY_OPT_HELP_VERSION_END()

/*
 * The start of every stage tool's main: parse argv with cmd's table, then
 * take the operands as cfg's inputs, at most max_inputs of them (0: any
 * number).  Usage errors print and exit 2.
 */
void infty_stage_args(struct infty_stage_config *cfg, const struct infty_cmd *cmd, int argc,
                      char **argv, size_t max_inputs);

/* What a stage does once it is open: its engine.  Returns as an engine. */
typedef int (*infty_stage_fn)(struct infty_stage *st, void *ctx);

/*
 * The life of a stage: infty_stage_new, infty_stage_open, fn(st, ctx) when
 * it opened, infty_stage_end.  Returns the exit status.
 */
int infty_stage_run(const struct infty_stage_config *cfg, infty_stage_fn fn, void *ctx);

/*
 * A new stage for cfg (borrowed: it must outlive the stage).  Nothing is
 * opened yet.  NULL when out of memory.
 */
struct infty_stage *infty_stage_new(const struct infty_stage_config *cfg);

/*
 * Check every input (exists, not a directory), open the first one and
 * recognise what it holds, then open the output and the reject file (to
 * temporaries), the progress line, and catch SIGINT/SIGTERM.  Returns 0,
 * or the error recorded with its message (INFTY_EINVAL for a configuration
 * error: a missing input, a file of another stage).
 */
int infty_stage_open(struct infty_stage *st);

/*
 * The next input, in order: 1 with *r set (the first call returns the one
 * open() opened), 0 after the last one, or a negative error (recorded).
 */
int infty_stage_next_input(struct infty_stage *st, struct infty_reader **r);

/*
 * Open one input as infty_stage_open() opens each of its inputs, for tools
 * that read without a stage (infty-inspect, infty-tok): the same messages,
 * the same check of what the file holds (its first 64 KiB, looked at
 * without consuming them).  Returns 0 with *r set (the caller's), or an
 * error with *r NULL and the one-line message in msg: INFTY_EINVAL when
 * the file is not there, is a directory, or is not JSON Lines of kind
 * expect (INFTY_KIND_UNKNOWN: of any kind; parquet, gzip and other
 * compressions, binary data, text without a JSON object, another stage's
 * records); a stream error (a truncated .zst) or INFTY_ENOMEM otherwise.
 */
int infty_stage_open_input(struct infty_reader **r, const char *path, enum infty_kind expect,
                           char *msg, size_t len);
/* The same check on a reader already open. */
int infty_stage_check_input(struct infty_reader *r, enum infty_kind expect, char *detail,
                            size_t dlen);

/* The output writer (NULL when cfg.output is NULL). */
struct infty_writer *infty_stage_output(struct infty_stage *st);

/* Append one record to the output; a failure is recorded ("FILE: write
 * error: ...") and returned. */
int infty_stage_put(struct infty_stage *st, const char *line, size_t len);
int infty_stage_put_json(struct infty_stage *st, struct json_object *obj);

/*
 * Reject one record: count it under r->reason, print its line (up to the
 * cap), and append the record (include/infty/reject.h) to the reject file.
 * r->file NULL means the current input.  Returns 0, or a write error
 * (recorded).
 */
int infty_stage_reject(struct infty_stage *st, const struct infty_reject *r);

/*
 * The same, with the record already made by infty_reject_format() under
 * this stage's name (json[0..len), e.g. by a worker thread, so that a
 * stage formatting in parallel keeps doing so): the frame counts r->reason,
 * prints r's line and writes json as it is.
 */
int infty_stage_reject_line(struct infty_stage *st, const struct infty_reject *r, const char *json,
                            size_t len);

/* Records rejected so far. */
uint64_t infty_stage_rejected(const struct infty_stage *st);

/*
 * done units so far (and the total when known: set_total): redraws the
 * progress line at its pace and rewrites the --progress snapshot every 2
 * seconds ($INFTY_PROGRESS_FILE_INTERVAL).  extra (may be NULL) ends the
 * line.  Cheap enough to call per record.
 */
void infty_stage_progress(struct infty_stage *st, uint64_t done, const char *extra);
void infty_stage_set_total(struct infty_stage *st, uint64_t total);

/* One message line ("infty-x: " + the text), the progress line cleared. */
void infty_stage_warn(struct infty_stage *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Record the run's failure (the first one wins): rc (a negative infty_err;
 * INFTY_EINVAL for a configuration error) and its one-line message.
 * Returns rc, so an engine can `return infty_stage_fail(st, rc, ...)`.
 */
int infty_stage_fail(struct infty_stage *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Why a stopped run stopped, for the stats ("retries_exhausted"); static
 * string.  By default it follows from the error (signal, read_error, ...). */
void infty_stage_set_stopped_by(struct infty_stage *st, const char *why);

/* Whether SIGINT or SIGTERM arrived (any thread; async-signal-safe). */
int infty_stage_cancelled(void);

/*
 * More to publish together with the output, for a stage that writes files
 * of its own (infty-shard's shard files): finish writes everything to
 * temporaries, publish renames it into place, abandon removes the
 * temporaries and whatever publish renamed.  finish and publish return 0
 * or an error with one line in detail.  ctx is borrowed.
 */
struct infty_stage_files {
	int (*finish)(void *ctx, char *detail, size_t dlen);
	int (*publish)(void *ctx, char *detail, size_t dlen);
	void (*abandon)(void *ctx);
};
int infty_stage_add_output(struct infty_stage *st, const struct infty_stage_files *f, void *ctx);

/*
 * End the run.  rc >= 0: the engine finished; the outputs are published
 * (see Publication) and the status is 0 or 1 (rejects).  rc < 0 (or a
 * recorded failure): the message is printed, temporaries removed, and the
 * status is 2 for INFTY_EINVAL (nothing written, stats included) or 3.
 * Writes the final stats and progress snapshot, then frees st (NULL: exit
 * status 3, out of memory).  Returns the exit status.
 */
int infty_stage_end(struct infty_stage *st, int rc);

#endif
