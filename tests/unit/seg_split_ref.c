/*
 * seg_split_ref.c - the boundary scan and the tag split exactly as they were
 * before they were made fast (src/segment/seg_split.c and the tag finding of
 * seg_input.c at commit 18586f5), kept only as the oracle of the differential
 * tests (test_seg_split_diff.c), the fuzz target and bench-split.  Do not
 * "fix" anything here: its whole value is that it does not change.
 */
#include "seg_split_ref.h"

#include "infty/alloc.h"
#include "infty/error.h"

#include <string.h>

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
 * Index of the closing delimiter for an opener ending at i: the first
 * unescaped occurrence of close at or after i.  When inline, a blank line
 * ends the search (an inline formula never spans paragraphs, so a lone "$"
 * used as a currency sign cannot swallow the rest of the text).  Returns n
 * when there is none.
 */
static size_t find_close(const char *s, size_t n, size_t i, const char *close, int inline_only)
{
	size_t k = strlen(close);
	while (i < n) {
		char c = s[i];
		if (c == '\\' && close[0] != '\\') {
			i += 2; /* an escaped character, e.g. \$ inside math */
			continue;
		}
		if (inline_only && c == '\n' && i + 1 < n && s[i + 1] == '\n')
			return n;
		if (c == close[0] && i + k <= n && memcmp(s + i, close, k) == 0)
			return i;
		if (c == '\\')
			i++; /* \\ or \x: never the start of a closer "\]" by itself */
		i++;
	}
	return n;
}

/* End (exclusive) of \begin{name}..\end{name} starting at i, honouring nesting; 0 if open. */
static size_t env_end(const char *s, size_t n, size_t i)
{
	size_t p = i + 7; /* after "\begin{" */
	size_t q = p;
	while (q < n && s[q] != '}' && s[q] != '\n' && q - p < 64)
		q++;
	if (q >= n || s[q] != '}' || q == p)
		return 0;
	const char *name = s + p;
	size_t nlen = q - p;
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
 * closer may be indented too).  0 when the fence is never closed.
 */
static size_t fence_end(const char *s, size_t n, size_t i)
{
	const char *nl = memchr(s + i, '\n', n - i);
	while (nl) {
		size_t q = (size_t)(nl - s) + 1;
		while (q < n && (s[q] == ' ' || s[q] == '\t'))
			q++;
		if (at(s, n, q, "```"))
			return q + 3;
		nl = q < n ? memchr(s + q, '\n', n - q) : NULL;
	}
	return 0;
}

int infty_segref_protect(const char *s, size_t n, struct infty_seg_bounds *b)
{
	b->nprot = 0;
	size_t i = 0;
	while (i < n) {
		char c = s[i];
		size_t end = 0;
		if (c == '\\' && i + 1 < n) {
			char d = s[i + 1];
			if (d == '(') {
				size_t j = find_close(s, n, i + 2, "\\)", 1);
				end = j < n ? j + 2 : 0;
			} else if (d == '[') {
				size_t j = find_close(s, n, i + 2, "\\]", 0);
				end = j < n ? j + 2 : 0;
			} else if (d == 'b' && at(s, n, i, "\\begin{")) {
				end = env_end(s, n, i);
			}
			if (!end) {
				i += 2; /* an escape such as \$ is not a delimiter */
				continue;
			}
		} else if (c == '$') {
			if (i + 1 < n && s[i + 1] == '$') {
				size_t j = find_close(s, n, i + 2, "$$", 0);
				end = j < n ? j + 2 : 0;
			} else {
				size_t j = find_close(s, n, i + 1, "$", 1);
				end = j < n ? j + 1 : 0;
			}
		} else if (c == '`' && at(s, n, i, "```") && line_start(s, i)) {
			end = fence_end(s, n, i);
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

int infty_segref_find_bounds(const char *s, size_t n, struct infty_seg_bounds *b)
{
	b->n = 0;
	int rc = infty_segref_protect(s, n, b);
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

/* ---- seg_input.c: <think> and <|begin_of_thought|> markers ---------------- */

static int all_ws(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			return 0;
	return 1;
}

static const char *find(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit));
}

/* Last occurrence of lit in s[0..n). */
static const char *find_last(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	const char *best = NULL, *p = s;
	while (n >= k) {
		const char *f = memmem(p, n, lit, k);
		if (!f)
			break;
		best = f;
		n -= (size_t)(f - p) + 1;
		p = f + 1;
	}
	return best;
}

enum infty_seg_reason infty_segref_split_tagged(const char *s, size_t n, const char **r,
                                                size_t *rlen, const char **c, size_t *clen)
{
	static const char BOT[] = "<|begin_of_thought|>", EOT[] = "<|end_of_thought|>";
	static const char BOS[] = "<|begin_of_solution|>", EOS[] = "<|end_of_solution|>";
	const char *bot = find(s, n, BOT);
	const char *eot = find(s, n, EOT);
	if (bot || eot) {
		/* OpenThoughts/Bespoke/Sky-T1 markers; their padding newlines are markup. */
		const char *rs = bot ? bot + sizeof BOT - 1 : s;
		if (!eot || eot < rs)
			return INFTY_SEG_R_NO_THINK_CLOSE;
		const char *re = eot;
		while (rs < re && (*rs == '\n' || *rs == ' ' || *rs == '\r'))
			rs++;
		while (re > rs && (re[-1] == '\n' || re[-1] == ' ' || re[-1] == '\r'))
			re--;
		const char *after = eot + sizeof EOT - 1;
		size_t alen = n - (size_t)(after - s);
		const char *bos = find(after, alen, BOS);
		if (bos) {
			const char *cs = bos + sizeof BOS - 1;
			const char *ce = find(cs, n - (size_t)(cs - s), EOS);
			if (!ce)
				return INFTY_SEG_R_TRUNCATED;
			*c = cs;
			*clen = (size_t)(ce - cs);
		} else {
			*c = after;
			*clen = alen;
		}
		*r = rs;
		*rlen = (size_t)(re - rs);
	} else {
		/* R1 style: the conclusion is everything after the last </think>. */
		const char *close = find_last(s, n, "</think>");
		if (!close)
			return INFTY_SEG_R_NO_THINK_CLOSE;
		const char *rs = s;
		while (rs < close && (*rs == ' ' || *rs == '\n' || *rs == '\r' || *rs == '\t'))
			rs++;
		if ((size_t)(close - rs) >= 7 && memcmp(rs, "<think>", 7) == 0) {
			rs += 7;
			if (rs < close && *rs == '\n')
				rs++;
		} else {
			rs = s;
		}
		const char *re = close;
		if (re > rs && re[-1] == '\n')
			re--;
		const char *cs = close + 8;
		size_t cl = n - (size_t)(cs - s);
		/* AM-DeepSeek-R1 wraps the answer: keep what is inside <answer>. */
		const char *t = cs;
		while (t < s + n && (*t == ' ' || *t == '\n' || *t == '\r' || *t == '\t'))
			t++;
		if ((size_t)(s + n - t) >= 8 && memcmp(t, "<answer>", 8) == 0) {
			const char *ae = find_last(t + 8, (size_t)(s + n - t - 8), "</answer>");
			if (!ae)
				return INFTY_SEG_R_TRUNCATED;
			cs = t + 8;
			cl = (size_t)(ae - cs);
		}
		*r = rs;
		*rlen = (size_t)(re - rs);
		*c = cs;
		*clen = cl;
	}
	if (all_ws(*r, *rlen))
		return INFTY_SEG_R_EMPTY_REASONING;
	if (all_ws(*c, *clen))
		return INFTY_SEG_R_EMPTY_CONCLUSION;
	return INFTY_SEG_OK;
}
