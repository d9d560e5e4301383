/*
 * alloc.c - the allocation seam: thin wrappers over libc that a test can make
 * fail on purpose (infty_alloc_fail_after) to exercise out-of-memory paths.
 */
#include "infty/alloc.h"
#include "infty/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* < 0: never fail.  Otherwise the number of allocations still allowed. */
static atomic_long fail_budget = -1;

static int should_fail(void)
{
	long b = atomic_load_explicit(&fail_budget, memory_order_relaxed);
	if (b < 0)
		return 0;
	if (b == 0) {
		errno = ENOMEM;
		return 1;
	}
	atomic_fetch_sub(&fail_budget, 1);
	return 0;
}

void infty_alloc_fail_after(long n)
{
	atomic_store(&fail_budget, n < 0 ? -1 : n);
}

void *infty_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n ? n : 1);
}

void *infty_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *infty_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *infty_strndup(const char *s, size_t n)
{
	char *d = infty_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *infty_strdup(const char *s)
{
	return infty_strndup(s, strlen(s));
}

void infty_free(void *p)
{
	free(p);
}

int infty_grow(void *bufp, size_t *cap, size_t need, size_t elem)
{
	void **buf = bufp;
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return INFTY_ENOMEM;
		n *= 2;
	}
	void *p = infty_realloc(*buf, n * elem);
	if (!p)
		return INFTY_ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

char *infty_read_all(FILE *f, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (infty_grow(&buf, &cap, n + 4096 + 1, 1)) {
			infty_free(buf);
			errno = ENOMEM;
			return NULL;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		infty_free(buf);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}
