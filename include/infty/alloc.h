/*
 * alloc.h - the one allocation seam.
 *
 * Every allocation in infty's own code goes through these, so a test can make
 * the Nth allocation fail (infty_alloc_fail_after) and check the error path.
 * They behave as their libc namesakes: NULL on failure, errno set to ENOMEM.
 * Memory from them is released with infty_free() (or free(): they are thin).
 */
#ifndef INFTY_ALLOC_H
#define INFTY_ALLOC_H

#include <stddef.h>
#include <stdio.h>

void *infty_malloc(size_t n);
void *infty_calloc(size_t count, size_t size);
void *infty_realloc(void *p, size_t n);
/* Copy of s (NUL-terminated); caller frees. */
char *infty_strdup(const char *s);
/* Copy of the first n bytes of s plus a NUL; caller frees. */
char *infty_strndup(const char *s, size_t n);
void infty_free(void *p);

/*
 * Grow *buf (capacity *cap) so it holds at least need bytes; doubles.
 * Returns 0 or INFTY_ENOMEM (the old buffer stays valid).
 */
int infty_grow(void *buf, size_t *cap, size_t need, size_t elem);

/*
 * All that is left of f, NUL-terminated (the NUL not counted in *len, which
 * may be NULL); caller frees.  NULL with errno ENOMEM, or EIO on a read error.
 */
char *infty_read_all(FILE *f, size_t *len);

/*
 * Testing: the (n+1)th allocation from now fails, and every one after it until
 * reset with n < 0.  Thread-safe but global; use in single-threaded tests.
 */
void infty_alloc_fail_after(long n);

#endif
