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

/* w is lowercase; the first-letter test keeps this off strncasecmp at most positions. */
static int contains_ci(const char *s, size_t len, const char *w)
{
	size_t n = strlen(w);
	for (size_t k = 0; k + n <= len; k++)
		if (tolower((unsigned char)s[k]) == w[0] && !strncasecmp(s + k, w, n))
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

/*
 * The summary of segments 0..i is the greedy pick, in (score desc, position
 * desc) order, of the sentences that fit what is left of the budget.  Redone
 * from scratch for every i that is quadratic in the trace (a 21,505-segment
 * row never finished), so the state is kept per trace and each summary costs
 * only the picks: sentences are filed by (score, cost), each class in
 * position order.  The next greedy pick is the latest sentence of the best
 * score among the classes that still fit (a sentence skipped by the greedy
 * walk never fits later, since the room only shrinks), and within a class the
 * picks are always its latest sentences, so one cursor per class is enough.
 */
#define MIN_COST  ((MIN_BULLET + 3) / 4 + 2)
#define MAX_COST  ((MAX_BULLET + 3) / 4 + 2)
#define MAX_SCORE 6 /* '=' 3 + conclusion 2 + digit 1 */
#define NCOST     (MAX_COST - MIN_COST + 1)

struct ref {
	const char *s;
	size_t len;
	size_t order;
};

struct sum_extractive {
	long budget;
	struct ref *cls[MAX_SCORE][NCOST]; /* owned arrays, position order */
	size_t n[MAX_SCORE][NCOST], cap[MAX_SCORE][NCOST];
	struct ref last; /* the latest sentence of any score (the fallback) */
	size_t count;    /* sentences seen */
	struct sent *tmp;
	size_t tmpcap;
};

struct sum_extractive *infty_sum_extractive_new(long budget)
{
	struct sum_extractive *x = infty_calloc(1, sizeof *x);
	if (x)
		x->budget = budget;
	return x;
}

void infty_sum_extractive_free(struct sum_extractive *x)
{
	if (!x)
		return;
	for (int s = 0; s < MAX_SCORE; s++)
		for (int c = 0; c < NCOST; c++)
			infty_free(x->cls[s][c]);
	infty_free(x->tmp);
	infty_free(x);
}

int infty_sum_extractive_add(struct sum_extractive *x, const char *text, size_t len)
{
	size_t n = 0;
	if (split(text, len, &x->tmp, &n, &x->tmpcap))
		return -1;
	for (size_t k = 0; k < n; k++) {
		struct sent *v = &x->tmp[k];
		struct ref r = {v->s, v->len, x->count++};
		x->last = r;
		if (v->score <= 0)
			continue;
		int s = v->score - 1;
		int c = (int)(infty_sum_count_tokens(v->s, v->len) + 2) - MIN_COST;
		if (infty_grow(&x->cls[s][c], &x->cap[s][c], x->n[s][c] + 1, sizeof(struct ref)))
			return -1;
		x->cls[s][c][x->n[s][c]++] = r;
	}
	return 0;
}

static int by_order(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The top (latest unpicked) sentence of class c at score s. */
#define TOP(s, c) (x->cls[s][c][cur[s][c] - 1].order)

static void sift(const struct sum_extractive *x, size_t cur[][NCOST], int s, int *heap, int n,
                 int k)
{
	for (;;) {
		int l = 2 * k + 1, r = l + 1, m = k;
		if (l < n && TOP(s, heap[l]) > TOP(s, heap[m]))
			m = l;
		if (r < n && TOP(s, heap[r]) > TOP(s, heap[m]))
			m = r;
		if (m == k)
			return;
		int t = heap[k];
		heap[k] = heap[m];
		heap[m] = t;
		k = m;
	}
}

char *infty_sum_extractive_text(const struct sum_extractive *x)
{
	size_t cur[MAX_SCORE][NCOST];
	memcpy(cur, x->n, sizeof cur);
	/*
	 * Per score, a max-heap of the cost classes by their top sentence's
	 * position, built the first time the score is reached.  A class whose
	 * cost exceeds the room left is dropped for good: the room only shrinks.
	 */
	int heap[MAX_SCORE][NCOST], hn[MAX_SCORE], built[MAX_SCORE] = {0};
	/* Every pick costs at least MIN_COST: the budget bounds their number. */
	size_t maxpick = (size_t)(x->budget / MIN_COST) + 2, np = 0;
	struct ref *pick = infty_calloc(maxpick, sizeof *pick);
	if (!pick)
		return NULL;
	long used = 0;
	for (;;) {
		long room = x->budget - used;
		if (room < MIN_COST)
			break;
		int bs = -1;
		for (int s = MAX_SCORE - 1; s >= 0 && bs < 0; s--) {
			if (!built[s]) {
				built[s] = 1;
				hn[s] = 0;
				for (int c = 0; c < NCOST; c++)
					if (cur[s][c])
						heap[s][hn[s]++] = c;
				for (int k = hn[s] / 2 - 1; k >= 0; k--)
					sift(x, cur, s, heap[s], hn[s], k);
			}
			while (hn[s] && heap[s][0] + MIN_COST > room) {
				heap[s][0] = heap[s][--hn[s]];
				sift(x, cur, s, heap[s], hn[s], 0);
			}
			if (hn[s])
				bs = s;
		}
		if (bs < 0)
			break;
		int bc = heap[bs][0];
		pick[np++] = x->cls[bs][bc][--cur[bs][bc]];
		used += bc + MIN_COST;
		if (!cur[bs][bc])
			heap[bs][0] = heap[bs][--hn[bs]];
		sift(x, cur, bs, heap[bs], hn[bs], 0);
	}
	/* Nothing looked like progress: keep the last statement so it is not empty. */
	if (!np && x->count)
		pick[np++] = x->last;
	qsort(pick, np, sizeof *pick, by_order);
	size_t outcap = 0, len = 0;
	char *out = NULL;
	for (size_t k = 0; k < np; k++) {
		if (infty_grow(&out, &outcap, len + pick[k].len + 4, 1)) {
			infty_free(out);
			infty_free(pick);
			return NULL;
		}
		if (len)
			out[len++] = '\n';
		out[len++] = '*';
		out[len++] = ' ';
		/* One bullet is one line: inner newlines cannot occur, tabs become spaces. */
		for (size_t c = 0; c < pick[k].len; c++)
			out[len++] = pick[k].s[c] == '\t' ? ' ' : pick[k].s[c];
	}
	infty_free(pick);
	if (!out)
		return infty_strdup("* (no statement found in the reasoning so far)");
	out[len] = '\0';
	return out;
}

char *infty_sum_extractive(const struct sum_trace_view *t, size_t i, long budget)
{
	struct sum_extractive *x = infty_sum_extractive_new(budget);
	if (!x)
		return NULL;
	for (size_t k = 0; k <= i && k < t->n; k++)
		if (infty_sum_extractive_add(x, t->seg[k], t->seg_len[k])) {
			infty_sum_extractive_free(x);
			return NULL;
		}
	char *s = infty_sum_extractive_text(x);
	infty_sum_extractive_free(x);
	return s;
}
