/*
 * hash.h - SHA-256 (content hashes that go into records) and a fast 64-bit
 * hash (sharding, hash tables).  Both are pure functions of their input, so
 * outputs agree across machines, runs and thread counts.  On x86-64 CPUs with
 * the SHA extensions SHA-256 runs on those (same digests, several times the
 * speed); INFTY_SHA256_PORTABLE=1 in the environment keeps it on the portable
 * code, for comparisons.
 */
#ifndef INFTY_HASH_H
#define INFTY_HASH_H

#include <stddef.h>
#include <stdint.h>

struct infty_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t used;
};

void infty_sha256_init(struct infty_sha256 *c);
void infty_sha256_update(struct infty_sha256 *c, const void *data, size_t n);
void infty_sha256_final(struct infty_sha256 *c, unsigned char out[32]);
/* One call: hex digest of data, 64 chars plus NUL written to hex[65]. */
void infty_sha256_hex(const void *data, size_t n, char hex[65]);
/* Hex digest of a whole file; returns 0 or INFTY_EIO. */
int infty_sha256_file_hex(const char *path, char hex[65]);
/* Turn a 32-byte digest into 64 hex chars plus NUL. */
void infty_hex(const unsigned char *bytes, size_t n, char *out);

/* 64-bit FNV-1a, then a murmur-style finalizer for good low bits.  Shard
 * assignment depends on it: it must never change. */
uint64_t infty_hash64(const void *data, size_t n);
/* A 64-bit hash that takes 8 bytes a step, for long texts (several GB/s,
 * where FNV-1a does well under 1): not cryptographic, not FNV-compatible. */
uint64_t infty_hash64_long(const void *data, size_t n);

#endif
