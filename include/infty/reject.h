/*
 * reject.h - the reject record every stage writes (docs/formats.md):
 *
 *   {"stage", "file", "line", "reason", "detail", "id", "raw"}
 *
 * "raw" is the whole input line, so nothing is lost.  A line that is not
 * valid UTF-8 cannot be a JSON string; it is kept as "raw": null plus
 * "raw_base64", still lossless, and the reject file stays readable by
 * infty's own strict reader.
 */
#ifndef INFTY_REJECT_H
#define INFTY_REJECT_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct infty_buf;

/*
 * A new reject object with the fields above, in that order; the caller may
 * add stage-specific fields and owns the result (json_object_put).  id and
 * detail may be NULL.  Returns NULL when out of memory.
 */
struct json_object *infty_reject_new(const char *stage, const char *file, uint64_t line,
                                     const char *reason, const char *detail, const char *id,
                                     const char *raw, size_t raw_len);

/* Append standard base64 (with '=' padding) of data[0..n) to b. */
int infty_base64_append(struct infty_buf *b, const void *data, size_t n);

#endif
