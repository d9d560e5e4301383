/*
 * fuzz_seg_split.c - libFuzzer target, differential: infty-segment's
 * boundary scan (infty_seg_find_bounds, infty_seg_protect) and tag split
 * (infty_seg_split_tagged) against their reference copies
 * (tests/unit/seg_split_ref.c, the code before it was made fast).  Any
 * difference in any output aborts, with both answers on stderr.  The input
 * is copied to a block of exactly its size, so ASan sees any read past the
 * end.  See fuzz/seg_split.mk (make fuzz-seg-split).
 */
#include "../src/segment/seg.h"
#include "../tests/unit/seg_split_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reused from one input to the next, as the packer reuses its scratch. */
static struct infty_seg_bounds got, want;

static void differ(const char *what, size_t k)
{
	fprintf(stderr,
	        "fuzz_seg_split: %s differs at %zu: new n=%zu nprot=%zu, ref n=%zu nprot=%zu\n",
	        what, k, got.n, got.nprot, want.n, want.nprot);
	if (k < got.n && k < want.n)
		fprintf(stderr, "  new at=%zu sep=%zu level=%d, ref at=%zu sep=%zu level=%d\n",
		        got.v[k].at, got.v[k].sep_len, (int)got.v[k].level, want.v[k].at,
		        want.v[k].sep_len, (int)want.v[k].level);
	abort();
}

static void compare(const char *what)
{
	if (got.nprot != want.nprot)
		differ(what, 0);
	for (size_t k = 0; k < 2 * got.nprot; k++)
		if (got.prot[k] != want.prot[k])
			differ(what, k / 2);
	if (got.n != want.n)
		differ(what, 0);
	for (size_t k = 0; k < got.n; k++)
		if (got.v[k].at != want.v[k].at || got.v[k].sep_len != want.v[k].sep_len ||
		    got.v[k].level != want.v[k].level)
			differ(what, k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	if (infty_seg_find_bounds(s, size, &got) || infty_segref_find_bounds(s, size, &want))
		abort(); /* only out of memory, which a 4 KB input never is */
	compare("find_bounds");
	if (infty_seg_protect(s, size, &got) || infty_segref_protect(s, size, &want))
		abort();
	compare("protect");

	const char *r[2] = {NULL, NULL}, *c[2] = {NULL, NULL};
	size_t rn[2] = {0, 0}, cn[2] = {0, 0};
	enum infty_seg_reason a = infty_seg_split_tagged(s, size, &r[0], &rn[0], &c[0], &cn[0]);
	enum infty_seg_reason b = infty_segref_split_tagged(s, size, &r[1], &rn[1], &c[1], &cn[1]);
	if (a != b || r[0] != r[1] || rn[0] != rn[1] || c[0] != c[1] || cn[0] != cn[1]) {
		fprintf(stderr, "fuzz_seg_split: split_tagged differs: new %s, ref %s\n",
		        infty_seg_reason_code(a), infty_seg_reason_code(b));
		abort();
	}
	free(s);
	return 0;
}
