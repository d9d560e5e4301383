/*
 * seg_split.c - where a reasoning text may be cut: paragraph and sentence
 * boundaries, found in one linear pass, never inside math or code.
 *
 * A candidate is always a whole whitespace run (the separator).  Cutting at
 * its two edges keeps both neighbours at pre-token boundaries outside the
 * run, where token counts are additive (reference/tokenizer.md), and the run
 * itself is recorded as the separator so nothing is lost.
 */
#include "seg.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <stdint.h>
#include <string.h>

void infty_seg_bounds_release(struct infty_seg_bounds *b)
{
	infty_free(b->v);
	infty_free(b->prot);
	memset(b, 0, sizeof *b);
}

static int add_prot(struct infty_seg_bounds *b, size_t start, size_t end)
{
	if (infty_grow(&b->prot, &b->protcap, 2 * b->nprot + 2, sizeof *b->prot))
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

/*
 * The kinds of closer an opener looks for.  "$" and "\)" are inline: a
 * blank line ends the search (an inline formula never spans paragraphs, so
 * a lone "$" used as a currency sign cannot swallow the rest of the text).
 */
enum close_kind { CLOSE_DOLLAR, CLOSE_DISPLAY, CLOSE_PAREN, CLOSE_BRACKET, CLOSE_KINDS_ };

static const char *const closers[CLOSE_KINDS_] = {"$", "$$", "\\)", "\\]"};

/*
 * Index of the closing delimiter for an opener ending at i: the first
 * unescaped occurrence of its closer at or after i, or n when there is none.
 * On failure *stop is where the search gave up: the blank line that ended an
 * inline search, or n.
 */
static size_t close_scan(const char *s, size_t n, size_t i, enum close_kind kind, size_t *stop)
{
	const char *close = closers[kind];
	int inline_only = kind == CLOSE_DOLLAR || kind == CLOSE_PAREN;
	size_t k = strlen(close);
	while (i < n) {
		char c = s[i];
		if (c == '\\' && close[0] != '\\') {
			i += 2; /* an escaped character, e.g. \$ inside math */
			continue;
		}
		if (inline_only && c == '\n' && i + 1 < n && s[i + 1] == '\n') {
			*stop = i;
			return n;
		}
		if (c == close[0] && i + k <= n && memcmp(s + i, close, k) == 0)
			return i;
		if (c == '\\')
			i++; /* \\ or \x: never the start of a closer "\]" by itself */
		i++;
	}
	*stop = n;
	return n;
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
		if (s[j] != '\\')
			continue;
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
	while (i < n) {
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
	return 0;
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

static int is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Words after which a period does not end a sentence.  Lowercase, without
 * their final period; "e.g" and "i.e" keep their inner one.
 */
static const char *const abbrevs[] = {
    "e.g",    "i.e",  "fig", "figs", "eq",   "eqs", "vs",  "cf",  "etc", "al",
    "approx", "resp", "thm", "lem",  "prop", "def", "cor", "sec", "ch",  "mr",
    "mrs",    "ms",   "dr",  "st",   "p",    "pp",  "viz", "ref", "vol",
};

static int is_abbrev(const char *w, size_t k)
{
	if (k == 0 || k > 8)
		return 0;
	char buf[9];
	for (size_t i = 0; i < k; i++)
		buf[i] = lower(w[i]);
	buf[k] = 0;
	for (size_t i = 0; i < sizeof abbrevs / sizeof *abbrevs; i++)
		if (strcmp(buf, abbrevs[i]) == 0)
			return 1;
	return 0;
}

/*
 * Whether the whitespace run starting at a follows a sentence end: [.!?]
 * (then optional closing quotes or brackets), not an abbreviation and not an
 * enumerator ("1.", "a.", "iv." alone at the start of a line).
 */
static int ends_sentence(const char *s, size_t a)
{
	size_t p = a;
	while (p > 0 && (s[p - 1] == ')' || s[p - 1] == '"' || s[p - 1] == '\'' || s[p - 1] == ']'))
		p--;
	/* Closing curly quotes are three bytes: ” (E2 80 9D) and ’ (E2 80 99). */
	while (p >= 3 && (unsigned char)s[p - 3] == 0xE2 && (unsigned char)s[p - 2] == 0x80 &&
	       ((unsigned char)s[p - 1] == 0x9D || (unsigned char)s[p - 1] == 0x99))
		p -= 3;
	if (p == 0)
		return 0;
	char t = s[p - 1];
	if (t == '!' || t == '?')
		return 1;
	if (t != '.')
		return 0;
	if (p >= 2 && s[p - 2] == '.')
		return 1; /* an ellipsis "..." ends a sentence */
	/* The word before the period: letters, digits and inner periods. */
	size_t w = p - 1;
	while (w > 0) {
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
	if (infty_grow(&b->v, &b->cap, b->n + 1, sizeof *b->v))
		return INFTY_ENOMEM;
	b->v[b->n].at = a;
	b->v[b->n].sep_len = len;
	b->v[b->n].level = level;
	b->n++;
	return 0;
}

int infty_seg_find_bounds(const char *s, size_t n, struct infty_seg_bounds *b)
{
	b->n = 0;
	int rc = infty_seg_protect(s, n, b);
	if (rc)
		return rc;
	size_t pi = 0; /* next protected region that may still matter */
	size_t i = 0;
	while (i < n) {
		if (!is_ws(s[i])) {
			i++;
			continue;
		}
		size_t a = i, nl = 0;
		while (i < n && is_ws(s[i])) {
			nl += s[i] == '\n';
			i++;
		}
		if (a == 0 || i == n)
			continue; /* leading/trailing whitespace stays with its text */
		while (pi < b->nprot && b->prot[2 * pi + 1] <= a)
			pi++;
		if (pi < b->nprot && b->prot[2 * pi] < a)
			continue; /* inside math or code */
		enum infty_seg_end level;
		if (nl >= 2)
			level = INFTY_SEG_END_PARAGRAPH;
		else if (nl == 1 || ends_sentence(s, a))
			level = INFTY_SEG_END_SENTENCE;
		else
			continue;
		if (add_bound(b, a, i - a, level))
			return INFTY_ENOMEM;
	}
	return 0;
}
