/*
 * hash_impl.h - private to the library and its tests: which SHA-256 block
 * function infty_sha256_update() runs.  Both give the same digests; the
 * unit test selects each in turn to compare them.  Not a public header.
 */
#ifndef INFTY_HASH_IMPL_H
#define INFTY_HASH_IMPL_H

enum infty_sha256_impl {
	INFTY_SHA256_IMPL_AUTO,     /* SHA-NI when the CPU has it, unless the
	                             * environment sets INFTY_SHA256_PORTABLE=1 */
	INFTY_SHA256_IMPL_PORTABLE, /* plain C, every architecture */
	INFTY_SHA256_IMPL_SHANI,    /* x86-64 SHA extensions */
};

/*
 * Select the block function for every later SHA-256 call in the process.
 * Returns 0, or INFTY_EUNSUPPORTED (selection unchanged) when SHA-NI is asked
 * for on a build or CPU without it, INFTY_EINVAL for a value not listed.
 * Safe at any time, from any thread: both keep the same state, so a context
 * may even change hands between updates.
 */
int infty_sha256_impl_set(enum infty_sha256_impl impl);

/* The implementation in use now (AUTO resolved to what it chose). */
enum infty_sha256_impl infty_sha256_impl_get(void);

#endif
