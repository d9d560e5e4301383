/*
 * scratch.h - a scratch directory for one test binary, and the few file
 * helpers the tests that write files share.  Linked into every unit test.
 */
#ifndef INFTY_TEST_SCRATCH_H
#define INFTY_TEST_SCRATCH_H

#include <stddef.h>

/* cmocka group setup/teardown: make $TMPDIR/infty-test.XXXXXX, remove it. */
int scratch_setup(void **state);
int scratch_teardown(void **state);
/* The directory itself. */
const char *scratch_dir(void);
/* dir/name; the string lives until eight more calls. */
const char *scratch_path(const char *name);
/* Write n bytes to path (fails the test on error). */
void scratch_write(const char *path, const void *data, size_t n);
/* The whole file, NUL-terminated, malloc'd (the caller frees); *n its size. */
char *scratch_read(const char *path, size_t *n);
int scratch_exists(const char *path);

#endif
