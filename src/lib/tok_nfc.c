/*
 * tok_nfc.c - NFC as Hugging Face tokenizers does it (Unicode 9.0.0 tables,
 * tok_nfc.h): full canonical decomposition, canonical ordering, canonical
 * composition (UAX #15), over the short spans the encoder hands it.
 */
#include "tok_nfc.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <string.h>

/* Hangul syllables compose and decompose algorithmically (Unicode ch. 3.12). */
#define S_BASE  0xAC00u
#define L_BASE  0x1100u
#define V_BASE  0x1161u
#define T_BASE  0x11A7u
#define L_COUNT 19u
#define V_COUNT 21u
#define T_COUNT 28u
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

/* The code points pack their combining class in the top byte while they
 * wait in the work buffer. */
#define CP(x)  ((x)&0x1FFFFFu)
#define CCC(x) ((x) >> 24)

/* Index of cp in the decomposition table, or -1. */
static long decomp_find(uint32_t cp)
{
	size_t lo = 0, hi = infty_tok_nfc_n_decomp;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (infty_tok_nfc_decomp_cp[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < infty_tok_nfc_n_decomp && infty_tok_nfc_decomp_cp[lo] == cp ? (long)lo : -1;
}

/* What a + b compose to, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
	if (a - L_BASE < L_COUNT && b - V_BASE < V_COUNT)
		return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
	if (a - S_BASE < S_COUNT && (a - S_BASE) % T_COUNT == 0 && b - T_BASE - 1 < T_COUNT - 1)
		return a + (b - T_BASE);
	uint64_t key = (uint64_t)a << 21 | b;
	size_t lo = 0, hi = infty_tok_nfc_n_comp;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (infty_tok_nfc_comp_key[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < infty_tok_nfc_n_comp && infty_tok_nfc_comp_key[lo] == key
	           ? infty_tok_nfc_comp_val[lo]
	           : 0;
}

/* Append cp to the work buffer, moving it back past marks of a higher class
 * (a stable insertion sort of each run of marks: canonical ordering). */
static void push(struct tok_nfc_work *w, size_t *m, uint32_t cp)
{
	uint32_t c = infty_tok_nfc_ccc(cp);
	uint32_t v = cp | c << 24;
	size_t i = (*m)++;
	if (c)
		while (i > 0 && CCC(w->cp[i - 1]) > c) {
			w->cp[i] = w->cp[i - 1];
			i--;
		}
	w->cp[i] = v;
}

static uint32_t utf8_dec(const uint8_t *s, size_t *p)
{
	uint32_t c = s[*p];
	if (c < 0x80) {
		*p += 1;
		return c;
	}
	if (c < 0xE0) {
		c = (c & 0x1F) << 6 | (s[*p + 1] & 0x3F);
		*p += 2;
	} else if (c < 0xF0) {
		c = (c & 0x0F) << 12 | (uint32_t)(s[*p + 1] & 0x3F) << 6 | (s[*p + 2] & 0x3F);
		*p += 3;
	} else {
		c = (c & 0x07) << 18 | (uint32_t)(s[*p + 1] & 0x3F) << 12 |
		    (uint32_t)(s[*p + 2] & 0x3F) << 6 | (s[*p + 3] & 0x3F);
		*p += 4;
	}
	return c;
}

static size_t utf8_enc(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3F));
	o[2] = (char)(0x80 | (c >> 6 & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Code points one input code point can decompose to: the generator checks
 * that no full decomposition is longer; a Hangul syllable gives 3. */
#define MAX_DECOMP 4

int infty_tok_nfc_append(const uint8_t *s, size_t n, struct tok_nfc_work *w, char **out,
                         size_t *len, size_t *cap)
{
	/* Decompose and order. */
	size_t m = 0;
	for (size_t p = 0; p < n;) {
		if (infty_grow(&w->cp, &w->cap, m + MAX_DECOMP, sizeof *w->cp))
			return INFTY_ENOMEM;
		uint32_t cp = utf8_dec(s, &p);
		if (cp - S_BASE < S_COUNT) {
			uint32_t si = cp - S_BASE;
			push(w, &m, L_BASE + si / N_COUNT);
			push(w, &m, V_BASE + si % N_COUNT / T_COUNT);
			if (si % T_COUNT)
				push(w, &m, T_BASE + si % T_COUNT);
			continue;
		}
		long k = cp < 0xC0 ? -1 : decomp_find(cp);
		if (k < 0) {
			push(w, &m, cp);
			continue;
		}
		for (uint16_t i = infty_tok_nfc_decomp_at[k]; i < infty_tok_nfc_decomp_at[k + 1];
		     i++)
			push(w, &m, infty_tok_nfc_decomp_seq[i]);
	}

	/* Compose: each code point with the last starter, unless a code point
	 * between them blocks it (a starter, or a mark of the same or a higher
	 * class). */
	size_t j = 0, starter = SIZE_MAX;
	uint32_t last_ccc = 0;
	for (size_t i = 0; i < m; i++) {
		uint32_t v = w->cp[i], c = CCC(v), r;
		if (starter != SIZE_MAX && (j - 1 == starter || (last_ccc && last_ccc < c)) &&
		    (r = compose(CP(w->cp[starter]), CP(v))) != 0) {
			w->cp[starter] = r; /* a composite is a starter: class 0 */
			continue;
		}
		if (c == 0)
			starter = j;
		last_ccc = c;
		w->cp[j++] = v;
	}

	if (infty_grow(out, cap, *len + 4 * j, 1))
		return INFTY_ENOMEM;
	for (size_t i = 0; i < j; i++)
		*len += utf8_enc(CP(w->cp[i]), *out + *len);
	return 0;
}

static void set_bit(uint8_t *bm, uint32_t cp)
{
	bm[cp >> 3] |= (uint8_t)(1u << (cp & 7));
}

int infty_tok_nfc_unstable(uint8_t *bm)
{
	for (uint32_t b = 0; b < 0x110000 / 128; b++)
		if (infty_tok_nfc_ccc_index[b])
			for (uint32_t cp = b * 128; cp < (b + 1) * 128; cp++)
				if (infty_tok_nfc_ccc(cp))
					set_bit(bm, cp);
	for (size_t i = 0; i < infty_tok_nfc_n_comp; i++)
		set_bit(bm, (uint32_t)(infty_tok_nfc_comp_key[i] & 0x1FFFFF));
	for (uint32_t cp = V_BASE; cp < V_BASE + V_COUNT; cp++)
		set_bit(bm, cp);
	for (uint32_t cp = T_BASE + 1; cp < T_BASE + T_COUNT; cp++)
		set_bit(bm, cp);
	/* A decomposition that does not compose back to its code point: a
	 * singleton, an excluded composition, a mark's. */
	struct tok_nfc_work w = {NULL, 0};
	char *o = NULL;
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < infty_tok_nfc_n_decomp && !rc; i++) {
		uint32_t cp = infty_tok_nfc_decomp_cp[i];
		char in[4];
		size_t len = 0, il = utf8_enc(cp, in);
		rc = infty_tok_nfc_append((const uint8_t *)in, il, &w, &o, &len, &cap);
		if (!rc && (len != il || memcmp(o, in, il) != 0))
			set_bit(bm, cp);
	}
	infty_free(w.cp);
	infty_free(o);
	return rc;
}
