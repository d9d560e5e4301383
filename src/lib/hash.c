/*
 * hash.c - SHA-256 (FIPS 180-4) for content hashes written into records, and
 * a fast 64-bit hash for sharding and tables.  Written here rather than taken
 * from OpenSSL to keep the dependency list to what the user chose.  On x86-64
 * CPUs with the SHA extensions the blocks go through those instructions
 * (several times the portable code's speed, which matters for the 11 MB
 * tokenizer.json whose digest is its identity); the portable code is the
 * fallback and the reference.
 */
#include "infty/hash.h"
#include "infty/error.h"
#include "hash_impl.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI 1
#else
#define HAVE_SHANI 0
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Runs n whole 64-byte blocks from p into the state h. */
typedef void (*sha256_blocks_fn)(uint32_t h[8], const unsigned char *p, size_t n);

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + S1 + ch + K[i] + w[i];
		uint32_t S0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

static void sha256_blocks_portable(uint32_t h[8], const unsigned char *p, size_t n)
{
	for (; n; n--, p += 64)
		sha256_block(h, p);
}

#if HAVE_SHANI
/*
 * The same rounds with the SHA extensions.  The instructions want the state
 * as two vectors, ABEF and CDGH, so it is shuffled in once per call and out
 * again at the end rather than once per block.  Each step of the loop does
 * four rounds: two SHA256RNDS2 on the message words plus K, and the schedule
 * (SHA256MSG1/MSG2) for the words four steps on.  The target attribute is on
 * this function only, so the rest of the build keeps its flags and the code
 * still runs on CPUs without these instructions.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_blocks_shani(uint32_t h[8], const unsigned char *p, size_t n)
{
	/* Byte order: each 32-bit message word is big-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);    /* DCBA */
	__m128i cdgh = _mm_loadu_si128((const __m128i *)&h[4]); /* HGFE */
	t = _mm_shuffle_epi32(t, 0xb1);                         /* CDAB */
	cdgh = _mm_shuffle_epi32(cdgh, 0x1b);                   /* EFGH */
	__m128i abef = _mm_alignr_epi8(t, cdgh, 8);             /* ABEF */
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);                  /* CDGH */

	for (; n; n--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh, m[4];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i w;
			if (i < 4) {
				w = _mm_loadu_si128((const __m128i *)(p + 16 * i));
				w = _mm_shuffle_epi8(w, bswap);
			} else {
				/* W[t] from W[t-16], W[t-15], W[t-7] and W[t-2], four at a
				 * time: m[i & 3] still holds the words of step i - 4. */
				w = _mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]);
				w = _mm_add_epi32(
				    w, _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
				w = _mm_sha256msg2_epu32(w, m[(i + 3) & 3]);
			}
			m[i & 3] = w;
			__m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * i]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			wk = _mm_shuffle_epi32(wk, 0x0e);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	t = _mm_shuffle_epi32(abef, 0x1b);     /* FEBA */
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);  /* DCHG */
	abef = _mm_blend_epi16(t, cdgh, 0xf0); /* DCBA */
	cdgh = _mm_alignr_epi8(cdgh, t, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], abef);
	_mm_storeu_si128((__m128i *)&h[4], cdgh);
}

/* SHA-NI needs SSSE3 and SSE4.1 as well (the shuffles and the blend).  Clang
 * 14 does not know "sha" as a __builtin_cpu_supports feature, so it reads
 * CPUID leaf 7 itself (EBX bit 29). */
static int cpu_has_shani(void)
{
	__builtin_cpu_init();
#if defined(__clang__)
	unsigned a, b, c, d;
	int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
#else
	int sha = __builtin_cpu_supports("sha");
#endif
	return sha && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}
#endif

/* NULL until the first hash picks; every thread that races there picks the
 * same, so a relaxed atomic is enough. */
static _Atomic(sha256_blocks_fn) blocks_fn;

static sha256_blocks_fn blocks_auto(void)
{
#if HAVE_SHANI
	const char *env = getenv("INFTY_SHA256_PORTABLE");
	if (!(env && strcmp(env, "1") == 0) && cpu_has_shani())
		return sha256_blocks_shani;
#endif
	return sha256_blocks_portable;
}

static void sha256_blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
	sha256_blocks_fn f = atomic_load_explicit(&blocks_fn, memory_order_relaxed);
	if (!f) {
		f = blocks_auto();
		atomic_store_explicit(&blocks_fn, f, memory_order_relaxed);
	}
	f(h, p, n);
}

int infty_sha256_impl_set(enum infty_sha256_impl impl)
{
	sha256_blocks_fn f;
	switch (impl) {
	case INFTY_SHA256_IMPL_AUTO:
		f = blocks_auto();
		break;
	case INFTY_SHA256_IMPL_PORTABLE:
		f = sha256_blocks_portable;
		break;
	case INFTY_SHA256_IMPL_SHANI:
#if HAVE_SHANI
		if (cpu_has_shani()) {
			f = sha256_blocks_shani;
			break;
		}
#endif
		return INFTY_EUNSUPPORTED;
	default:
		return INFTY_EINVAL;
	}
	atomic_store_explicit(&blocks_fn, f, memory_order_relaxed);
	return 0;
}

enum infty_sha256_impl infty_sha256_impl_get(void)
{
	sha256_blocks_fn f = atomic_load_explicit(&blocks_fn, memory_order_relaxed);
	if (!f)
		f = blocks_auto();
#if HAVE_SHANI
	if (f == sha256_blocks_shani)
		return INFTY_SHA256_IMPL_SHANI;
#endif
	return INFTY_SHA256_IMPL_PORTABLE;
}

void infty_sha256_init(struct infty_sha256 *c)
{
	static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, init, sizeof init);
	c->len = 0;
	c->used = 0;
}

void infty_sha256_update(struct infty_sha256 *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	c->len += n;
	if (c->used) {
		size_t take = 64 - c->used < n ? 64 - c->used : n;
		memcpy(c->buf + c->used, p, take);
		c->used += take;
		p += take;
		n -= take;
		if (c->used < 64)
			return;
		sha256_blocks(c->h, c->buf, 1);
		c->used = 0;
	}
	if (n >= 64) {
		sha256_blocks(c->h, p, n / 64);
		p += n / 64 * 64;
		n %= 64;
	}
	memcpy(c->buf, p, n);
	c->used = n;
}

void infty_sha256_final(struct infty_sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->len * 8;
	unsigned char pad = 0x80;
	infty_sha256_update(c, &pad, 1);
	unsigned char zero = 0;
	while (c->used != 56)
		infty_sha256_update(c, &zero, 1);
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	infty_sha256_update(c, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

void infty_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void infty_sha256_hex(const void *data, size_t n, char hex[65])
{
	struct infty_sha256 c;
	unsigned char d[32];
	infty_sha256_init(&c);
	infty_sha256_update(&c, data, n);
	infty_sha256_final(&c, d);
	infty_hex(d, 32, hex);
}

int infty_sha256_file_hex(const char *path, char hex[65])
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return INFTY_EIO;
	struct infty_sha256 c;
	unsigned char buf[1 << 16], d[32];
	size_t n;
	infty_sha256_init(&c);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		infty_sha256_update(&c, buf, n);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return INFTY_EIO;
	infty_sha256_final(&c, d);
	infty_hex(d, 32, hex);
	return 0;
}

uint64_t infty_hash64(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV's low bits are weak for short keys; mix them (murmur3 fmix64). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Multiply-xorshift over 8-byte words (the mixing steps of splitmix64), the
 * length folded into the seed so that a trailing zero byte counts. */
uint64_t infty_hash64_long(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0x94d049bb133111ebULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}
