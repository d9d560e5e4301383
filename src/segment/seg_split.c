/*
 * seg_split.c - where a reasoning text may be cut: paragraph and sentence
 * boundaries, never inside math or code.
 *
 * A candidate is always a whole whitespace run (the separator).  Cutting at
 * its two edges keeps both neighbours at pre-token boundaries outside the
 * run, where token counts are additive (reference/tokenizer.md), and the run
 * itself is recorded as the separator so nothing is lost.
 *
 * Two passes, each linear whatever the input: the protected regions, then
 * the candidates between them.  Both run at memory-scan speed (GB/s) by
 * stepping only between the few bytes that can matter, found 16 or 64 at a
 * time (SSE2 where available); every rule is applied exactly as the simple
 * byte-by-byte version did, which tests/unit/seg_split_ref.c keeps and
 * test_seg_split_diff checks against.
 */
#include "seg.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void infty_seg_bounds_release(struct infty_seg_bounds *b)
{
	infty_free(b->v);
	infty_free(b->prot);
	memset(b, 0, sizeof *b);
}

static int add_prot(struct infty_seg_bounds *b, size_t start, size_t end)
{
	if (2 * b->nprot + 2 > b->protcap &&
	    infty_grow(&b->prot, &b->protcap, 2 * b->nprot + 2, sizeof *b->prot))
		return INFTY_ENOMEM;
	b->prot[2 * b->nprot] = start;
	b->prot[2 * b->nprot + 1] = end;
	b->nprot++;
	return 0;
}

/* Whether s[i..] starts with the NUL-terminated lit. */
static int at(const char *s, size_t n, size_t i, const char *lit)
{
	size_t k = strlen(lit);
	return i + k <= n && memcmp(s + i, lit, k) == 0;
}

#if defined(__SSE2__)
/* Bit k set when byte k of p[0..16) is one of the four bytes. */
static inline unsigned match16(const char *p, __m128i a, __m128i b, __m128i c, __m128i d)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(x, b)),
	                         _mm_or_si128(_mm_cmpeq_epi8(x, c), _mm_cmpeq_epi8(x, d)));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/*
 * Index of the first byte of s[i..n) that is one of a, b, c, d (repeat one
 * to look for fewer), or n when there is none (also when i >= n).  The
 * scans below spend their time here: ordinary bytes are passed 32 at a time
 * and only the few that can matter stop them.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline size_t
find_any(const char *s, size_t i, size_t n, char a, char b, char c, char d)
{
	if (i >= n)
		return n;
#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
		const __m128i vc = _mm_set1_epi8(c), vd = _mm_set1_epi8(d);
		for (; i + 32 <= n; i += 32) {
			unsigned m = match16(s + i, va, vb, vc, vd) |
			             match16(s + i + 16, va, vb, vc, vd) << 16;
			if (m)
				return i + (size_t)__builtin_ctz(m);
		}
		if (i + 16 <= n) {
			unsigned m = match16(s + i, va, vb, vc, vd);
			if (m)
				return i + (size_t)__builtin_ctz(m);
			i += 16;
		}
		if (i < n) {
			/* The last 16 bytes, of which the first i - (n - 16) are done. */
			unsigned m = match16(s + n - 16, va, vb, vc, vd) >> (i - (n - 16));
			if (m)
				return i + (size_t)__builtin_ctz(m);
		}
		return n;
	}
#endif
	for (; i < n; i++)
		if (s[i] == a || s[i] == b || s[i] == c || s[i] == d)
			return i;
	return n;
}

/*
 * The kinds of closer an opener looks for.  "$" and "\)" are inline: a
 * blank line ends the search (an inline formula never spans paragraphs, so
 * a lone "$" used as a currency sign cannot swallow the rest of the text).
 */
enum close_kind { CLOSE_DOLLAR, CLOSE_DISPLAY, CLOSE_PAREN, CLOSE_BRACKET, CLOSE_KINDS_ };

/*
 * Index of the closing delimiter for an opener ending at i: the first
 * unescaped occurrence of its closer at or after i, or n when there is none.
 * On failure *stop is where the search gave up: the blank line that ended an
 * inline search, or n.  Outside "\)" and "\]" a backslash escapes the byte
 * after it (\$ inside math); before them it is the closer's first byte or
 * escapes the next one (\\ never starts a closer).
 */
static size_t close_scan(const char *s, size_t n, size_t i, enum close_kind kind, size_t *stop)
{
	*stop = n;
	switch (kind) {
	case CLOSE_DOLLAR:
		for (;; i++) {
			i = find_any(s, i, n, '$', '\\', '\n', '\n');
			if (i >= n)
				return n;
			if (s[i] == '$')
				return i;
			if (s[i] == '\\') {
				i++;
			} else if (i + 1 < n && s[i + 1] == '\n') {
				*stop = i;
				return n;
			}
		}
	case CLOSE_DISPLAY:
		for (;; i++) {
			i = find_any(s, i, n, '$', '\\', '\\', '\\');
			if (i >= n)
				return n;
			if (s[i] == '\\')
				i++;
			else if (i + 1 < n && s[i + 1] == '$')
				return i;
		}
	case CLOSE_PAREN:
		for (;; i++) {
			i = find_any(s, i, n, '\\', '\n', '\n', '\n');
			if (i >= n)
				return n;
			if (s[i] == '\n') {
				if (i + 1 < n && s[i + 1] == '\n') {
					*stop = i;
					return n;
				}
			} else if (i + 1 < n && s[i + 1] == ')') {
				return i;
			} else {
				i++;
			}
		}
	case CLOSE_BRACKET:
	case CLOSE_KINDS_:
		break;
	}
	for (;; i += 2) {
		const char *bs = i < n ? memchr(s + i, '\\', n - i) : NULL;
		if (!bs)
			return n;
		i = (size_t)(bs - s);
		if (i + 1 < n && s[i + 1] == ']')
			return i;
	}
}

/* A \begin{name} or \end{name} token. */
struct env_tok {
	size_t pos;   /* of its backslash */
	size_t end;   /* just past its '}' */
	size_t match; /* a \begin: end of its matching \end, 0 if none */
	size_t below; /* a \begin: 1 + the \begin under it on its name's stack, or 0 */
	const char *name;
	size_t nlen;
	int is_end;
};

/*
 * State of one infty_seg_protect() call: what earlier searches proved, so
 * that a run of openers without closers ("\[\[\[...", "\begin{x}" repeated)
 * costs linear time, not one scan to the end of the text per opener.
 */
struct scan {
	const char *s;
	size_t n;
	/*
	 * The last failed search of each kind started at fail_from and gave up
	 * at fail_to.  A search is a chain of positions, each fixed by the one
	 * before (+2 past a backslash, +1 otherwise), so a search started on
	 * that chain fails the same way; and any position in (fail_from,
	 * fail_to] that does not follow a backslash lies on it.
	 */
	size_t fail_from[CLOSE_KINDS_], fail_to[CLOSE_KINDS_];
	int fence_failed; /* a fence was never closed: no later one can be */
	/* Every \begin/\end token from env_from on, matched (env_index()). */
	struct env_tok *env;
	size_t nenv, envcap, envcur, env_from;
	int env_built;
};

static size_t find_close(struct scan *sc, size_t i, enum close_kind kind)
{
	size_t from = sc->fail_from[kind];
	if (from <= i && i <= sc->fail_to[kind] && (i == from || sc->s[i - 1] != '\\'))
		return sc->n;
	size_t stop = sc->n;
	size_t j = close_scan(sc->s, sc->n, i, kind, &stop);
	if (j >= sc->n) {
		sc->fail_from[kind] = i;
		sc->fail_to[kind] = stop;
	}
	return j;
}

/*
 * Length of the environment name at s[p..]: the bytes before a '}', at
 * most 64 of them and no line break; 0 when there is no such name.
 */
static size_t env_name(const char *s, size_t n, size_t p)
{
	size_t q = p;
	while (q < n && s[q] != '}' && s[q] != '\n' && q - p < 64)
		q++;
	return q < n && s[q] == '}' ? q - p : 0;
}

struct env_slot {
	size_t tok; /* 1 + a token with this slot's name (the key), 0 if free */
	size_t top; /* 1 + the open \begin on top of this name's stack, or 0 */
};

/*
 * Match every \begin{name}/\end{name} token of s from `from` on, as
 * env_end() would one opener at a time: an opener's match is the first
 * \end of its name that brings the count of its name back to zero, which is
 * what one stack per name gives.  Returns 0 or INFTY_ENOMEM.
 */
static int env_index(struct scan *sc, size_t from)
{
	const char *s = sc->s;
	size_t n = sc->n;
	for (size_t j = from; j + 5 < n; j++) {
		const char *bs = memchr(s + j, '\\', n - 5 - j);
		if (!bs)
			break;
		j = (size_t)(bs - s);
		size_t p;
		if (at(s, n, j, "\\begin{"))
			p = j + 7;
		else if (at(s, n, j, "\\end{"))
			p = j + 5;
		else
			continue;
		size_t len = env_name(s, n, p);
		if (!len)
			continue;
		if (infty_grow(&sc->env, &sc->envcap, sc->nenv + 1, sizeof *sc->env))
			return INFTY_ENOMEM;
		sc->env[sc->nenv++] = (struct env_tok){
		    .pos = j, .end = p + len + 1, .name = s + p, .nlen = len, .is_end = p == j + 5};
	}
	size_t cap = 16;
	while (cap < 2 * sc->nenv)
		cap *= 2;
	struct env_slot *tab = infty_calloc(cap, sizeof *tab);
	if (!tab)
		return INFTY_ENOMEM;
	for (size_t k = 0; k < sc->nenv; k++) {
		struct env_tok *t = &sc->env[k];
		size_t h = (size_t)infty_hash64(t->name, t->nlen) & (cap - 1);
		while (tab[h].tok) {
			const struct env_tok *o = &sc->env[tab[h].tok - 1];
			if (o->nlen == t->nlen && memcmp(o->name, t->name, t->nlen) == 0)
				break;
			h = (h + 1) & (cap - 1);
		}
		if (!tab[h].tok)
			tab[h].tok = k + 1;
		if (!t->is_end) {
			t->below = tab[h].top;
			tab[h].top = k + 1;
		} else if (tab[h].top) {
			struct env_tok *b = &sc->env[tab[h].top - 1];
			b->match = t->end;
			tab[h].top = b->below;
		}
	}
	infty_free(tab);
	sc->env_from = from;
	return 0;
}

/*
 * End (exclusive) of \begin{name}..\end{name} starting at i, honouring
 * nesting; 0 if it is never closed.  The first opener never closed has
 * scanned to the end of s; every token from it on is then matched once
 * (env_index()), and later openers read their answer there.  If that index
 * cannot be allocated, each opener scans as before: slower, same answers.
 */
static size_t env_end(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n;
	size_t nlen = env_name(s, n, i + 7);
	if (!nlen)
		return 0;
	if (sc->env_built && i >= sc->env_from) {
		while (sc->envcur < sc->nenv && sc->env[sc->envcur].pos < i)
			sc->envcur++;
		if (sc->envcur < sc->nenv && sc->env[sc->envcur].pos == i)
			return sc->env[sc->envcur].match;
	}
	const char *name = s + i + 7;
	size_t q = i + 7 + nlen;
	int depth = 1;
	for (size_t j = q + 1; j + 5 < n; j++) {
		const char *bs = memchr(s + j, '\\', n - 5 - j);
		if (!bs)
			break;
		j = (size_t)(bs - s);
		if (at(s, n, j, "\\begin{") && j + 7 + nlen < n &&
		    memcmp(s + j + 7, name, nlen) == 0 && s[j + 7 + nlen] == '}')
			depth++;
		else if (at(s, n, j, "\\end{") && j + 5 + nlen < n &&
		         memcmp(s + j + 5, name, nlen) == 0 && s[j + 5 + nlen] == '}') {
			if (--depth == 0)
				return j + 5 + nlen + 1;
		}
	}
	if (!sc->env_built) {
		if (env_index(sc, i) == 0) {
			sc->env_built = 1;
		} else {
			infty_free(sc->env);
			sc->env = NULL;
			sc->nenv = sc->envcap = 0;
		}
	}
	return 0;
}

/* Whether only spaces or tabs stand between the start of its line and i. */
static int line_start(const char *s, size_t i)
{
	while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	return i == 0 || s[i - 1] == '\n';
}

/*
 * End of a code fence opened at i: after the next line whose first
 * non-blank characters are ``` (models indent fences inside lists, so the
 * closer may be indented too).  0 when the fence is never closed; then no
 * later fence can close either (its closer would have closed this one), so
 * later fences are not searched again.
 */
static size_t fence_end(struct scan *sc, size_t i)
{
	const char *s = sc->s;
	size_t n = sc->n;
	if (sc->fence_failed)
		return 0;
	const char *nl = memchr(s + i, '\n', n - i);
	while (nl) {
		size_t q = (size_t)(nl - s) + 1;
		while (q < n && (s[q] == ' ' || s[q] == '\t'))
			q++;
		if (at(s, n, q, "```"))
			return q + 3;
		nl = q < n ? memchr(s + q, '\n', n - q) : NULL;
	}
	sc->fence_failed = 1;
	return 0;
}

static int protect(struct scan *sc, struct infty_seg_bounds *b)
{
	const char *s = sc->s;
	size_t n = sc->n;
	size_t i = 0;
	for (;;) {
		i = find_any(s, i, n, '\\', '$', '`', '`'); /* nothing else opens a region */
		if (i >= n)
			return 0;
		char c = s[i];
		size_t end = 0;
		if (c == '\\' && i + 1 < n) {
			char d = s[i + 1];
			if (d == '(') {
				size_t j = find_close(sc, i + 2, CLOSE_PAREN);
				end = j < n ? j + 2 : 0;
			} else if (d == '[') {
				size_t j = find_close(sc, i + 2, CLOSE_BRACKET);
				end = j < n ? j + 2 : 0;
			} else if (d == 'b' && at(s, n, i, "\\begin{")) {
				end = env_end(sc, i);
			}
			if (!end) {
				i += 2; /* an escape such as \$ is not a delimiter */
				continue;
			}
		} else if (c == '$') {
			if (i + 1 < n && s[i + 1] == '$') {
				size_t j = find_close(sc, i + 2, CLOSE_DISPLAY);
				end = j < n ? j + 2 : 0;
			} else {
				size_t j = find_close(sc, i + 1, CLOSE_DOLLAR);
				end = j < n ? j + 1 : 0;
			}
		} else if (c == '`' && at(s, n, i, "```") && line_start(s, i)) {
			end = fence_end(sc, i);
		}
		if (end) {
			if (add_prot(b, i, end))
				return INFTY_ENOMEM;
			i = end;
		} else {
			i++;
		}
	}
}

int infty_seg_protect(const char *s, size_t n, struct infty_seg_bounds *b)
{
	struct scan sc = {.s = s, .n = n};
	for (int k = 0; k < CLOSE_KINDS_; k++) {
		sc.fail_from[k] = SIZE_MAX; /* no failed search yet */
		sc.fail_to[k] = 0;
	}
	b->nprot = 0;
	int rc = protect(&sc, b);
	infty_free(sc.env);
	return rc;
}

/* ' ', '\n', '\t', '\r', '\f', '\v': bits 32 and 9 to 13, one test. */
static int is_ws(char c)
{
	unsigned char u = (unsigned char)c;
	return u <= ' ' && (0x100003E00ULL >> u & 1);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Words after which a period does not end a sentence, lowercase, without
 * their final period ("e.g" and "i.e" keep their inner one):
 *
 *   e.g i.e fig figs eq eqs vs cf etc al approx resp thm lem prop def cor
 *   sec ch mr mrs ms dr st p pp viz ref vol
 *
 * Each is held as a key, its bytes least significant first, in a table of
 * 64 slots indexed by the top 6 bits of key * ABBREV_MUL: an odd multiplier
 * found by trying, with which no two of them share a slot (a clash would be
 * an initializer overriding another, which -Wextra reports).
 */
#define ABBREV_MUL 0x23303b1baeb2841dULL
#define ABBREV_KEY(a, b, c, d, e, f)                                                               \
	((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16 | (uint64_t)(d) << 24 |          \
	 (uint64_t)(e) << 32 | (uint64_t)(f) << 40)
#define ABBREV_SLOT(key) ((size_t)(((key)*ABBREV_MUL) >> 58))
#define ABBREV_(a, b, c, d, e, f, ...)                                                             \
	[ABBREV_SLOT(ABBREV_KEY(a, b, c, d, e, f))] = ABBREV_KEY(a, b, c, d, e, f)
#define ABBREV(...) ABBREV_(__VA_ARGS__, 0, 0, 0, 0, 0, 0)

static const uint64_t abbrevs[64] = {
    ABBREV('e', '.', 'g'),
    ABBREV('i', '.', 'e'),
    ABBREV('f', 'i', 'g'),
    ABBREV('f', 'i', 'g', 's'),
    ABBREV('e', 'q'),
    ABBREV('e', 'q', 's'),
    ABBREV('v', 's'),
    ABBREV('c', 'f'),
    ABBREV('e', 't', 'c'),
    ABBREV('a', 'l'),
    ABBREV('a', 'p', 'p', 'r', 'o', 'x'),
    ABBREV('r', 'e', 's', 'p'),
    ABBREV('t', 'h', 'm'),
    ABBREV('l', 'e', 'm'),
    ABBREV('p', 'r', 'o', 'p'),
    ABBREV('d', 'e', 'f'),
    ABBREV('c', 'o', 'r'),
    ABBREV('s', 'e', 'c'),
    ABBREV('c', 'h'),
    ABBREV('m', 'r'),
    ABBREV('m', 'r', 's'),
    ABBREV('m', 's'),
    ABBREV('d', 'r'),
    ABBREV('s', 't'),
    ABBREV('p'),
    ABBREV('p', 'p'),
    ABBREV('v', 'i', 'z'),
    ABBREV('r', 'e', 'f'),
    ABBREV('v', 'o', 'l'),
};

/* w[0..k) holds only letters, digits and periods (see ends_sentence()). */
static int is_abbrev(const char *w, size_t k)
{
	if (k == 0 || k > 8)
		return 0;
	uint64_t key = 0;
	for (size_t i = 0; i < k; i++)
		key |= (uint64_t)(unsigned char)lower(w[i]) << (8 * i);
	return abbrevs[ABBREV_SLOT(key)] == key; /* empty slots hold 0, never a key */
}

/*
 * Whether the whitespace run after the mark s[p - 1] (and the closing quotes
 * or brackets between them, see after_closers()) follows a sentence end:
 * [.!?], not an abbreviation and not an enumerator ("1.", "a.", "iv." alone
 * at the start of a line).
 */
static int ends_sentence(const char *s, size_t p)
{
	char t = s[p - 1];
	if (t == '!' || t == '?')
		return 1;
	if (t != '.')
		return 0;
	if (p >= 2 && s[p - 2] == '.')
		return 1; /* an ellipsis "..." ends a sentence */
	/*
	 * The word before the period: letters, digits and inner periods.  Past
	 * 8 bytes it is neither an abbreviation nor an enumerator, so its
	 * length beyond 9 does not matter.
	 */
	size_t w = p - 1, far = w > 9 ? w - 9 : 0;
	while (w > far) {
		char c = s[w - 1];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.')
			w--;
		else
			break;
	}
	size_t k = p - 1 - w;
	if (is_abbrev(s + w, k))
		return 0;
	/* Enumerator: a short token alone at the start of its line. */
	if (k > 0 && k <= 4) {
		size_t q = w;
		while (q > 0 && (s[q - 1] == ' ' || s[q - 1] == '\t' || s[q - 1] == '('))
			q--;
		if (q == 0 || s[q - 1] == '\n') {
			/* "12." , "b." or a roman numeral "iv."; not a word like "One." */
			int digits = k <= 3, roman = 1;
			for (size_t i = w; i < p - 1; i++) {
				char c = lower(s[i]);
				if (!(c >= '0' && c <= '9'))
					digits = 0;
				if (!strchr("ivxlc", c))
					roman = 0;
			}
			int letter = k == 1 &&
			             ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z'));
			if (digits || letter || roman)
				return 0;
		}
	}
	return 1;
}

static int add_bound(struct infty_seg_bounds *b, size_t a, size_t len, enum infty_seg_end level)
{
	if (b->n + 1 > b->cap && infty_grow(&b->v, &b->cap, b->n + 1, sizeof *b->v))
		return INFTY_ENOMEM;
	b->v[b->n].at = a;
	b->v[b->n].sep_len = len;
	b->v[b->n].level = level;
	b->n++;
	return 0;
}

/*
 * The bytes a candidate can start from ('\n', '.', '!', '?') in a window of
 * 64 bytes of s, as bits: they come every 30 bytes or so in real text, so
 * each window serves a few of them.
 */
struct marks {
	size_t base, end; /* the window s[base..end) */
	uint64_t bits;    /* bit k: s[base + k] is one of them */
};

/* The first of them in s[i..lim) (lim <= n), or lim. */
static inline size_t next_mark(const char *s, size_t n, size_t i, size_t lim, struct marks *m)
{
#if defined(__SSE2__)
	const __m128i va = _mm_set1_epi8('\n'), vb = _mm_set1_epi8('.');
	const __m128i vc = _mm_set1_epi8('!'), vd = _mm_set1_epi8('?');
	while (i < lim) {
		if (i >= m->base && i < m->end) {
			uint64_t b = m->bits >> (i - m->base);
			if (b) {
				size_t x = i + (size_t)__builtin_ctzll(b);
				return x < lim ? x : lim;
			}
			i = m->end;
		} else if (i + 64 <= n) {
			m->bits = (uint64_t)match16(s + i, va, vb, vc, vd) |
			          (uint64_t)match16(s + i + 16, va, vb, vc, vd) << 16 |
			          (uint64_t)match16(s + i + 32, va, vb, vc, vd) << 32 |
			          (uint64_t)match16(s + i + 48, va, vb, vc, vd) << 48;
			m->base = i;
			m->end = i + 64;
		} else {
			break; /* the last 63 bytes */
		}
	}
#else
	(void)n;
	(void)m;
#endif
	return find_any(s, i, lim, '\n', '.', '!', '?');
}

/*
 * Where the whitespace run after the sentence mark at x would start: past
 * closing curly quotes (E2 80 9D and E2 80 99, three bytes each), then
 * closing ASCII quotes and brackets.  This is the inverse of how the mark of
 * a run was always found, stripping back from the run first the ASCII
 * closers, then the curly ones: a run follows a mark that way exactly when
 * it starts where this says.
 */
static size_t after_closers(const char *s, size_t n, size_t x)
{
	size_t p = x + 1;
	while (p + 3 <= n && (unsigned char)s[p] == 0xE2 && (unsigned char)s[p + 1] == 0x80 &&
	       ((unsigned char)s[p + 2] == 0x9D || (unsigned char)s[p + 2] == 0x99))
		p += 3;
	while (p < n && (s[p] == ')' || s[p] == '"' || s[p] == '\'' || s[p] == ']'))
		p++;
	return p;
}

/*
 * A candidate is a whitespace run outside protected regions, not at either
 * end of s, that holds a line break or follows a sentence mark.  So instead
 * of every run (one every few bytes), only runs at a '\n', '.', '!' or '?'
 * are looked at, and protected regions are jumped over whole: a run never
 * straddles one, since regions start and end with a delimiter.
 */
int infty_seg_find_bounds(const char *s, size_t n, struct infty_seg_bounds *b)
{
	b->n = 0;
	int rc = infty_seg_protect(s, n, b);
	if (rc)
		return rc;
	size_t pi = 0;                          /* next protected region */
	size_t lim = b->nprot ? b->prot[0] : n; /* where it starts */
	size_t i = 0;                           /* no run starts before i */
	struct marks mk = {0, 0, 0};
	for (;;) {
		size_t x = next_mark(s, n, i, lim, &mk);
		if (x >= lim) {
			if (pi == b->nprot)
				return 0;
			i = b->prot[2 * pi + 1];
			pi++;
			lim = pi < b->nprot ? b->prot[2 * pi] : n;
			continue;
		}
		size_t a = x, mark = 0;
		if (s[x] == '\n') {
			/*
			 * Back to the start of its run, which is never before i:
			 * i is 0, or follows a sentence mark or a region's closing
			 * delimiter, or ends the last run at a non-blank byte.
			 */
			while (a > 0 && is_ws(s[a - 1]))
				a--;
		} else {
			a = after_closers(s, n, x);
			if (a >= n || !is_ws(s[a])) {
				i = x + 1;
				continue;
			}
			mark = x + 1;
		}
		size_t e = a, nl = 0;
		while (e < n && is_ws(s[e]))
			nl += s[e++] == '\n';
		i = e;
		if (a == 0 || e == n)
			continue; /* leading/trailing whitespace stays with its text */
		enum infty_seg_end level;
		if (nl >= 2)
			level = INFTY_SEG_END_PARAGRAPH;
		else if (nl == 1 || (mark && ends_sentence(s, mark)))
			level = INFTY_SEG_END_SENTENCE;
		else
			continue;
		if (add_bound(b, a, e - a, level))
			return INFTY_ENOMEM;
	}
}
