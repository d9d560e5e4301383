/*
 * reject.h - the reject record every stage writes (docs/formats.md):
 *
 *   {"stage", "file", "line", "reason", "detail", "id", <extra...>, "raw"}
 *
 * "raw" is the whole input line, so nothing is lost.  A line that is not
 * valid UTF-8 cannot be a JSON string; it is kept as "raw": null plus
 * "raw_base64", still lossless, and the reject file stays readable by
 * infty's own strict reader.  "detail" is always a string ("" when there is
 * nothing to add) and "id" a string or null.  A stage's own fields (the
 * segment stage's "generation", a summarize dead letter's "class" ...
 * "record") come between "id" and "raw".  One writer, infty_reject_format(),
 * so the stages cannot drift apart; tools write rejects through the stage
 * frame (infty_stage_reject, include/infty/stage.h).
 */
#ifndef INFTY_REJECT_H
#define INFTY_REJECT_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct infty_buf;

struct infty_reject {
	const char *file;          /* where the record was read (NULL: the current input) */
	uint64_t line;             /* its line, 1-based */
	const char *reason;        /* a stable code from the stage's man page */
	const char *detail;        /* one line for a person; NULL: "" */
	const char *id;            /* the record's id; NULL: null */
	struct json_object *extra; /* borrowed object whose fields follow "id"; NULL: none */
	const char *raw;           /* the input line; NULL: no "raw" (a dead letter) */
	size_t raw_len;
};

/*
 * Append the record for stage (compact JSON, no newline) to b.  Thread-safe.
 * Returns 0 or INFTY_ENOMEM.
 */
int infty_reject_format(struct infty_buf *b, const char *stage, const struct infty_reject *r);

/* Append standard base64 (with '=' padding) of data[0..n) to b. */
int infty_base64_append(struct infty_buf *b, const void *data, size_t n);

#endif
