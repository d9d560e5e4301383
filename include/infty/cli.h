/*
 * cli.h - helpers for the tools' thin mains: messages, exits, number parsing.
 *
 * Only tools call these (the library never prints or exits).  Messages follow
 * one shape: "infty-segment: FILE:LINE: what went wrong", lowercase, on stderr.
 * Exit codes are the same for every tool, documented once in docs/man/infty.7
 * (and docs/failures.md); the stage frame (stage.h) picks them for the stages.
 * The pipeline marks a shard done on 0 or 1 only: those two mean the stage
 * finished and its output holds, or rejects with a reason, every input record.
 */
#ifndef INFTY_CLI_H
#define INFTY_CLI_H

#include <stdint.h>
#include <stdnoreturn.h>

enum infty_exit {
	INFTY_EXIT_OK = 0,      /* finished: every record in the output */
	INFTY_EXIT_DATA = 1,    /* finished: some records rejected, each in the reject file */
	INFTY_EXIT_USAGE = 2,   /* usage or configuration error: nothing written */
	INFTY_EXIT_STOPPED = 3, /* stopped before the end (read/write error, signal, fatal
	                           endpoint error, retryable failures left): the output is not
	                           published; what a relaunch reuses (the cache) is kept */
};

/* Set once from main(): the name printed first in every message. */
void infty_cli_init(const char *progname);
const char *infty_cli_progname(void);

/*
 * fn(ctx) runs before every message below is printed (NULL: nothing): the
 * stage frame clears its live progress line there, so a message never
 * lands in the middle of one.
 */
void infty_cli_before_message(void (*fn)(void *ctx), void *ctx);

/* "prog: message\n" on stderr. */
void infty_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, then exit(status). */
noreturn void infty_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: message" + "Try 'prog --help'." then exit 2. */
noreturn void infty_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a whole decimal number for option `opt` within [min, max]; on any
 * error, exit 2 with a message naming the option.
 */
long long infty_parse_ll(const char *opt, const char *s, long long min, long long max);
unsigned long long infty_parse_ull(const char *opt, const char *s, unsigned long long min,
                                   unsigned long long max);
double infty_parse_double(const char *opt, const char *s, double min, double max);

/* "I/N" with 0 <= I < N; exits 2 on a malformed value. */
void infty_parse_shard(const char *opt, const char *s, uint32_t *index, uint32_t *count);
/* Whether the record with this id belongs to shard index of count. */
int infty_shard_owns(const char *id, uint32_t index, uint32_t count);

struct infty_tokenizer;
/*
 * The tokenizer at path ("default" or NULL: the default one; see
 * tokenizer.h), or exit 2 with "PATH: cannot load tokenizer: why": a
 * tokenizer that does not load is a configuration error in every tool.
 */
struct infty_tokenizer *infty_cli_tokenizer(const char *path);

/* Print "prog VERSION" to stdout and exit 0 (for --version). */
noreturn void infty_print_version(void);

#endif
