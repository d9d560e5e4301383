/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 vectors, once per block
 * implementation (portable C, and SHA-NI where the CPU has it), and the two
 * against each other on random lengths fed in random pieces.  The selector
 * is the library's private src/lib/hash_impl.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "infty/error.h"
#include "infty/hash.h"
#include "../../src/lib/hash_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Selects impl, or says why not and returns 0 so the caller skips.  cmocka's
 * skip() prints "not ok # SKIP", which prove counts as a failure. */
static int use_impl(enum infty_sha256_impl impl, const char *what)
{
	int rc = infty_sha256_impl_set(impl);
	if (rc == INFTY_EUNSUPPORTED) {
		print_message("# SKIP %s: this CPU (or build) has no SHA extensions\n", what);
		return 0;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(infty_sha256_impl_get(), impl);
	return 1;
}

static void check_vectors(void)
{
	char hex[65];
	infty_sha256_hex("", 0, hex);
	assert_string_equal(hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	infty_sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_int_equal(strlen(m448) * 8, 448);
	infty_sha256_hex(m448, strlen(m448), hex);
	assert_string_equal(hex,
	                    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmno"
	    "pqklmnopqrlmnopqrsmnopqrstnopqrstu";
	assert_int_equal(strlen(m896) * 8, 896);
	infty_sha256_hex(m896, strlen(m896), hex);
	assert_string_equal(hex,
	                    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

	/* One million 'a': once in one call (15625 blocks in one run), once in
	 * uneven pieces that cross block boundaries everywhere. */
	static char a[1000000];
	memset(a, 'a', sizeof a);
	infty_sha256_hex(a, sizeof a, hex);
	assert_string_equal(hex,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	struct infty_sha256 c;
	infty_sha256_init(&c);
	size_t left = sizeof a;
	for (size_t k = 1; left; k = k % 997 + 1) {
		size_t n = k < left ? k : left;
		infty_sha256_update(&c, a, n);
		left -= n;
	}
	unsigned char d[32];
	infty_sha256_final(&c, d);
	infty_hex(d, 32, hex);
	assert_string_equal(hex,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_vectors_portable(void **state)
{
	assert_true(use_impl(INFTY_SHA256_IMPL_PORTABLE, "portable"));
	check_vectors();
}

static void test_vectors_shani(void **state)
{
	if (!use_impl(INFTY_SHA256_IMPL_SHANI, "SHA-NI vectors"))
		return;
	check_vectors();
}

/* xorshift64*: a fixed seed, so a failure names a case that reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Digest of p[0..n) fed to update() in random pieces (empty ones too). */
static void digest_split(const unsigned char *p, size_t n, uint64_t *s, unsigned char out[32])
{
	struct infty_sha256 c;
	infty_sha256_init(&c);
	size_t off = 0;
	while (off < n) {
		size_t take = rnd(s) % 4 == 0 ? 0 : (size_t)(rnd(s) % (n - off + 1));
		/* Mostly short pieces, so both the carry-over buffer and whole runs
		 * of blocks get exercised in one message. */
		if (rnd(s) % 2)
			take %= 130;
		infty_sha256_update(&c, p + off, take);
		off += take;
	}
	infty_sha256_final(&c, out);
}

static void test_shani_matches_portable(void **state)
{
	if (!use_impl(INFTY_SHA256_IMPL_SHANI, "SHA-NI differential"))
		return;
	enum { MAXLEN = 5000, TRIALS = 2000 };
	static unsigned char msg[MAXLEN];
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	for (int trial = 0; trial < TRIALS; trial++) {
		size_t n = (size_t)(rnd(&s) % (MAXLEN + 1));
		for (size_t i = 0; i < n; i++)
			msg[i] = (unsigned char)rnd(&s);
		unsigned char want[32], got[32];
		assert_true(use_impl(INFTY_SHA256_IMPL_PORTABLE, "portable"));
		digest_split(msg, n, &s, want);
		assert_true(use_impl(INFTY_SHA256_IMPL_SHANI, "SHA-NI"));
		digest_split(msg, n, &s, got);
		if (memcmp(want, got, 32) != 0) {
			print_error("trial %d: %zu bytes differ between portable and SHA-NI\n",
			            trial, n);
			fail();
		}
	}

	/* The state is the same for both, so a context may change hands
	 * between updates and still give the right digest. */
	struct infty_sha256 c;
	unsigned char d[32];
	char hex[65];
	static char a[1000000];
	memset(a, 'a', sizeof a);
	infty_sha256_init(&c);
	for (size_t off = 0, k = 0; off < sizeof a; off += 10000, k++) {
		assert_true(use_impl(k % 2 ? INFTY_SHA256_IMPL_SHANI : INFTY_SHA256_IMPL_PORTABLE,
		                     "alternating"));
		infty_sha256_update(&c, a + off, 10000);
	}
	infty_sha256_final(&c, d);
	infty_hex(d, 32, hex);
	assert_string_equal(hex,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* INFTY_SHA256_PORTABLE=1 keeps the automatic choice on the portable code;
 * without it the choice is SHA-NI exactly when SHA-NI can be selected. */
static void test_env_override(void **state)
{
	int have_shani = infty_sha256_impl_set(INFTY_SHA256_IMPL_SHANI) == 0;
	assert_int_equal(setenv("INFTY_SHA256_PORTABLE", "1", 1), 0);
	assert_int_equal(infty_sha256_impl_set(INFTY_SHA256_IMPL_AUTO), 0);
	assert_int_equal(infty_sha256_impl_get(), INFTY_SHA256_IMPL_PORTABLE);
	assert_int_equal(unsetenv("INFTY_SHA256_PORTABLE"), 0);
	assert_int_equal(infty_sha256_impl_set(INFTY_SHA256_IMPL_AUTO), 0);
	assert_int_equal(infty_sha256_impl_get(),
	                 have_shani ? INFTY_SHA256_IMPL_SHANI : INFTY_SHA256_IMPL_PORTABLE);
	assert_int_equal(infty_sha256_impl_set((enum infty_sha256_impl)42), INFTY_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_portable),
	    cmocka_unit_test(test_vectors_shani),
	    cmocka_unit_test(test_shani_matches_portable),
	    cmocka_unit_test(test_env_override),
	};
	return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
