/*
 * sum_extractive.c - the offline summarizer behind --backend extractive.
 *
 * No model: it picks sentences of the reasoning so far that look like
 * progress (equations, "so/therefore/we get" conclusions, numbers) and skips
 * exploration ("Wait", "Hmm", questions), then lists them as '*' bullets in
 * their original order within a token budget.  Deterministic, so outputs are
 * reproducible and usable as a baseline and for `make run` on any machine.
 */
#include "sum.h"

#include "infty/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sent {
	const char *s;
	size_t len;
	size_t order; /* position in the reasoning, for output order and ties */
	int score;
	int picked;
};

/* A bullet longer than this is a paragraph, not a key statement. */
#define MAX_BULLET 400
#define MIN_BULLET 12

static int starts_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	return len >= n && !strncasecmp(s, w, n);
}

static int contains_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	for (size_t k = 0; k + n <= len; k++)
		if (!strncasecmp(s + k, w, n))
			return 1;
	return 0;
}

static int score(const char *s, size_t len)
{
	static const char *const concl[] = {"therefore", "thus",        "hence",    "so the",
	                                    "we get",    "which gives", "gives",    "means",
	                                    "answer",    "result",      "conclude", "total",
	                                    "solution",  "equals",      "is equal"};
	static const char *const explore[] = {"wait", "hmm",   "let me",  "alternatively",
	                                      "but ", "maybe", "perhaps", "i think",
	                                      "okay", "ok,",   "oh"};
	int sc = 0;
	if (memchr(s, '=', len))
		sc += 3;
	for (size_t k = 0; k < sizeof concl / sizeof *concl; k++)
		if (contains_ci(s, len, concl[k])) {
			sc += 2;
			break;
		}
	for (size_t k = 0; k < len; k++)
		if (isdigit((unsigned char)s[k])) {
			sc += 1;
			break;
		}
	for (size_t k = 0; k < sizeof explore / sizeof *explore; k++)
		if (starts_ci(s, len, explore[k])) {
			sc -= 2;
			break;
		}
	if (s[len - 1] == '?')
		sc -= 2;
	return sc;
}

/* Split text into trimmed sentences: at newlines and at ". " before a capital. */
static int split(const char *text, size_t len, struct sent **v, size_t *n, size_t *cap)
{
	size_t a = 0;
	for (size_t k = 0; k <= len; k++) {
		int cut = k == len || text[k] == '\n';
		size_t end = k;
		if (!cut && (text[k] == '.' || text[k] == '!' || text[k] == '?') && k + 2 < len &&
		    text[k + 1] == ' ' && isupper((unsigned char)text[k + 2])) {
			cut = 1;
			end = k + 1;
		}
		if (!cut)
			continue;
		size_t b = a, e = end;
		while (b < e && isspace((unsigned char)text[b]))
			b++;
		while (e > b && isspace((unsigned char)text[e - 1]))
			e--;
		if (e - b >= MIN_BULLET && e - b <= MAX_BULLET &&
		    !infty_sum_validate(text + b, e - b, MAX_BULLET)) {
			if (infty_grow(v, cap, *n + 1, sizeof **v))
				return -1;
			(*v)[*n] = (struct sent){text + b, e - b, *n, score(text + b, e - b), 0};
			(*n)++;
		}
		a = end;
	}
	return 0;
}

static int by_score(const void *x, const void *y)
{
	const struct sent *a = *(struct sent *const *)x, *b = *(struct sent *const *)y;
	if (a->score != b->score)
		return b->score - a->score;
	/* Later statements first: they carry the latest state of the work. */
	return a->order < b->order ? 1 : -1;
}

char *infty_sum_extractive(const struct sum_trace_view *t, size_t i, long budget)
{
	struct sent *v = NULL;
	size_t n = 0, cap = 0;
	for (size_t k = 0; k <= i && k < t->n; k++)
		if (split(t->seg[k], t->seg_len[k], &v, &n, &cap)) {
			infty_free(v);
			return NULL;
		}
	struct sent **rank = infty_calloc(n ? n : 1, sizeof *rank);
	if (!rank) {
		infty_free(v);
		return NULL;
	}
	size_t m = 0;
	for (size_t k = 0; k < n; k++)
		if (v[k].score > 0)
			rank[m++] = &v[k];
	qsort(rank, m, sizeof *rank, by_score);
	long used = 0;
	for (size_t k = 0; k < m; k++) {
		long cost = infty_sum_count_tokens(rank[k]->s, rank[k]->len) + 2;
		if (used + cost > budget)
			continue;
		rank[k]->picked = 1;
		used += cost;
	}
	/* Nothing looked like progress: keep the last statement so it is not empty. */
	if (!used && n)
		v[n - 1].picked = 1;
	infty_free(rank);

	size_t outcap = 0, len = 0;
	char *out = NULL;
	for (size_t k = 0; k < n; k++) {
		if (!v[k].picked)
			continue;
		if (infty_grow(&out, &outcap, len + v[k].len + 4, 1)) {
			infty_free(out);
			infty_free(v);
			return NULL;
		}
		if (len)
			out[len++] = '\n';
		out[len++] = '*';
		out[len++] = ' ';
		/* One bullet is one line: inner newlines cannot occur, tabs become spaces. */
		for (size_t c = 0; c < v[k].len; c++)
			out[len++] = v[k].s[c] == '\t' ? ' ' : v[k].s[c];
	}
	infty_free(v);
	if (!out)
		return infty_strdup("* (no statement found in the reasoning so far)");
	out[len] = '\0';
	return out;
}
