/*
 * tok_run.h - the engine of infty-tok: count, ids and decode over texts and
 * JSONL fields.  Split from main.c so the tests can link it.
 */
#ifndef INFTY_TOK_RUN_H
#define INFTY_TOK_RUN_H

#include <stdint.h>
#include <stdio.h>

struct infty_tokenizer;

enum infty_tokrun_mode { INFTY_TOKRUN_COUNT, INFTY_TOKRUN_IDS };

struct infty_tokrun_opts {
	enum infty_tokrun_mode mode;
	const char *field; /* JSONL mode: the string field to tokenize */
	int total;         /* print only the sum of the counts */
	int offsets;       /* ids mode: "id:start-end" per token */
	int threads;       /* OpenMP workers for JSONL mode (0: default) */
	int timing;        /* bytes, tokens and speed on stderr at the end (--timing) */
};

/*
 * Tokenize one text and print its count or ids as one line on out (the line
 * "-" when it cannot be tokenized; nothing with o->total).
 * Returns 0, or a negative infty_err (the text is not UTF-8, no memory).
 */
int infty_tokrun_text(const struct infty_tokenizer *tok, const struct infty_tokrun_opts *o,
                      const char *text, size_t len, FILE *out, uint64_t *tokens);

/*
 * Tokenize field o->field of every record of path ("-" = stdin) and print one
 * line per record, in input order whatever the thread count.  Bad records are
 * reported on stderr (file:line) and their line is "-", so line N is record
 * N (blank input lines are not records).  Returns 0 when all were fine,
 * 1 when some records were rejected, INFTY_EINVAL when path cannot be read
 * or is not JSON Lines (binary data, parquet), or a negative infty_err for
 * the stream (each reported too).
 */
int infty_tokrun_jsonl(const struct infty_tokenizer *tok, const struct infty_tokrun_opts *o,
                       const char *path, FILE *out, uint64_t *tokens, uint64_t *bytes);

#endif
