/*
 * json_write.h - fast compact JSON serialization, and a growable byte buffer.
 *
 * Output is the same as json-c's JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE form, several times faster on long strings.
 * infty_writer_put_json() uses it.
 */
#ifndef INFTY_JSON_WRITE_H
#define INFTY_JSON_WRITE_H

#include <stddef.h>

struct json_object;

/* A growable buffer; zero-initialize, release with infty_buf_release(). */
struct infty_buf {
	char *data; /* NUL-terminated when len > 0; owned by the buffer */
	size_t len, cap;
};

int infty_buf_append(struct infty_buf *b, const void *data, size_t n);
void infty_buf_release(struct infty_buf *b);

/*
 * Add v to object o under key, taking ownership of v whatever happens.  A
 * NULL v counts as a failed allocation (pass JSON null with
 * json_object_object_add directly).  Returns 0 or INFTY_ENOMEM.
 */
int infty_json_add(struct json_object *o, const char *key, struct json_object *v);

/* Append o serialized compactly.  Returns 0 or INFTY_ENOMEM. */
int infty_json_write(struct infty_buf *b, struct json_object *o);
/* Append s[0..n) as a JSON string literal (with quotes). */
int infty_json_write_string(struct infty_buf *b, const char *s, size_t n);

#endif
