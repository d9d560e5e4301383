/*
 * utf8.h - one strict UTF-8 check (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), shared by the record parser, reject
 * records and excerpts of server answers, so that every file infty writes
 * can be read back by its own strict reader.
 */
#ifndef INFTY_UTF8_H
#define INFTY_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
size_t infty_utf8_seq_len(const char *s, size_t n);
/* Whether s[0..n) is entirely valid UTF-8. */
int infty_utf8_valid(const char *s, size_t n);

#endif
