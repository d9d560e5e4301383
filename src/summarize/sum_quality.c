/*
 * sum_quality.c - the cheap checks on a summary (see sum_quality.h): tags and
 * reasoning leaked, refusal or meta-commentary, length and compression,
 * verbatim copying, ungrounded numbers and named results, the final answer
 * revealed early, and a change of language.
 *
 * Everything is linear: the segments are indexed once as they come (a suffix
 * automaton over word hashes gives the exact longest verbatim span in one
 * pass over the summary; a hash set holds the normalised numbers, words and
 * the normalised text the summary's items are looked up in), so checking
 * summary i costs a pass over it, not over segments 0..i again.
 */
#include "sum_quality.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <ctype.h>
#include <json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const flag_names[SUM_Q_NFLAGS] = {
    "leak", "refusal", "short", "long", "copy", "ungrounded", "early_answer", "language",
};
static const char *const policy_names[] = {"off", "warn", "retry", "reject"};

const char *infty_sum_quality_flag_name(enum sum_quality_flag f)
{
	return (unsigned)f < SUM_Q_NFLAGS ? flag_names[f] : NULL;
}

int infty_sum_quality_flag_parse(const char *name, size_t len)
{
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		if (strlen(flag_names[f]) == len && !memcmp(flag_names[f], name, len))
			return f;
	return -1;
}

const char *infty_sum_quality_policy_name(enum sum_quality_policy p)
{
	return (unsigned)p <= SUM_Q_REJECT ? policy_names[p] : "?";
}

void infty_sum_quality_config_init(struct sum_quality_config *c)
{
	memset(c, 0, sizeof *c);
	c->min_tokens = 12;
	c->min_ratio = 0.01;
	c->max_ratio = 1.0;
	c->copy_words = 25;
	c->ungrounded_at = 1;
	c->lang_min = 40;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		c->policy[f] = SUM_Q_WARN;
}

void infty_sum_quality_policy_default(struct sum_quality_config *c, int resample)
{
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		c->policy[f] = SUM_Q_WARN;
	if (!resample)
		return;
	/*
	 * Another candidate costs nothing when it came in the same answer (n),
	 * so the flags that were right on every hand-labelled case, and leak
	 * (0.83: its one miss was a copy that did open like reasoning), ask for
	 * one.  copy and ungrounded only warn: a model may quote a short
	 * sentence, and ungrounded cannot tell a derived number from an
	 * invented one (docs/quality.md).
	 */
	static const enum sum_quality_flag retry[] = {
	    SUM_Q_LEAK, SUM_Q_REFUSAL, SUM_Q_SHORT, SUM_Q_LONG, SUM_Q_EARLY_ANSWER, SUM_Q_LANGUAGE};
	for (size_t k = 0; k < sizeof retry / sizeof *retry; k++)
		c->policy[retry[k]] = SUM_Q_RETRY;
}

int infty_sum_quality_policy_parse(struct sum_quality_config *c, const char *spec, char *detail,
                                   size_t dlen)
{
	enum sum_quality_policy pol[SUM_Q_NFLAGS];
	memcpy(pol, c->policy, sizeof pol);
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		int f = -2, v = -1;
		if (eq) {
			size_t kn = (size_t)(eq - p), vn = n - kn - 1;
			f = kn == 3 && !memcmp(p, "all", 3) ? -1
			                                    : infty_sum_quality_flag_parse(p, kn);
			if (f == -1 && !(kn == 3 && !memcmp(p, "all", 3)))
				f = -2; /* unknown flag; -1 is "all" */
			for (int k = 0; k <= SUM_Q_REJECT; k++)
				if (strlen(policy_names[k]) == vn &&
				    !memcmp(policy_names[k], eq + 1, vn))
					v = k;
		}
		if (!eq || f == -2 || v < 0) {
			snprintf(detail, dlen,
			         "'%.*s' is not FLAG=POLICY (flags: leak refusal short long copy "
			         "ungrounded early_answer language all; policies: off warn retry "
			         "reject)",
			         (int)(n > 60 ? 60 : n), p);
			return INFTY_EINVAL;
		}
		for (int k = 0; k < SUM_Q_NFLAGS; k++)
			if (f == -1 || f == k)
				pol[k] = (enum sum_quality_policy)v;
		p += n + (end != NULL);
	}
	memcpy(c->policy, pol, sizeof pol);
	return 0;
}

enum sum_quality_policy infty_sum_quality_verdict(const struct sum_quality_config *c,
                                                  const struct sum_quality_result *r)
{
	enum sum_quality_policy worst = SUM_Q_OFF;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		if ((r->flags & SUM_Q_BIT(f)) && c->policy[f] > worst)
			worst = c->policy[f];
	return worst;
}

/* ---- a set of 64-bit hashes (0 is the empty slot) ------------------------ */

struct hset {
	uint64_t *v;
	uint32_t *at;  /* NULL, or per slot: the first source the item came from */
	size_t cap, n; /* cap a power of two */
	int valued;    /* keeps at[] (the index's sets) */
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31)) | 1; /* never 0: 0 marks an empty slot */
}

static int hset_has(const struct hset *s, uint64_t h)
{
	if (!s->cap)
		return 0;
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == h)
			return 1;
		if (!s->v[i])
			return 0;
	}
}

/* Whether h is in s and came from a source up to lim (valued sets). */
static int hset_has_upto(const struct hset *s, uint64_t h, uint32_t lim)
{
	if (!s->cap)
		return 0;
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == h)
			return !s->at || s->at[i] <= lim;
		if (!s->v[i])
			return 0;
	}
}

/*
 * Add h; in a valued set, from source src.  Sources are added in order, so
 * the first one an item came from is kept.
 */
static int hset_put_at(struct hset *s, uint64_t h, uint32_t src)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		uint64_t *v = infty_calloc(cap, sizeof *v);
		uint32_t *at = s->valued ? infty_calloc(cap, sizeof *at) : NULL;
		if (!v || (s->valued && !at)) {
			infty_free(v);
			infty_free(at);
			return INFTY_ENOMEM;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->v[i])
				continue;
			size_t j = s->v[i] & (cap - 1);
			while (v[j])
				j = (j + 1) & (cap - 1);
			v[j] = s->v[i];
			if (at)
				at[j] = s->at[i];
		}
		infty_free(s->v);
		infty_free(s->at);
		s->v = v;
		s->at = at;
		s->cap = cap;
	}
	size_t i = h & (s->cap - 1);
	while (s->v[i] && s->v[i] != h)
		i = (i + 1) & (s->cap - 1);
	if (!s->v[i]) {
		s->v[i] = h;
		if (s->at)
			s->at[i] = src;
		s->n++;
	}
	return 0;
}

static int hset_put(struct hset *s, uint64_t h)
{
	return hset_put_at(s, h, 0);
}

/* Hash of a normalised item; kind keeps numbers and words apart. */
static uint64_t item_hash(char kind, const char *s, size_t n)
{
	return mix64(infty_hash64(s, n) ^ ((uint64_t)(unsigned char)kind << 56));
}

/* ---- suffix automaton over word hashes ------------------------------------- */

struct sam_edge {
	uint64_t sym;
	int32_t from, to, next; /* next: the state's next edge */
};

struct sam {
	int32_t *len, *link, *head;
	int32_t *first; /* per state: where its strings first end (symbol position) */
	size_t n, cap;
	int32_t nsym; /* symbols added */
	struct sam_edge *e;
	size_t ne, ecap;
	int32_t *tab; /* open addressing: edge index or -1 */
	size_t tcap;
	int32_t last;
};

static size_t sam_slot(const struct sam *a, int32_t from, uint64_t sym)
{
	return mix64(sym ^ ((uint64_t)(uint32_t)from * 0x9e3779b97f4a7c15ULL)) & (a->tcap - 1);
}

/* The edge index of (from, sym), or -1. */
static int32_t sam_find(const struct sam *a, int32_t from, uint64_t sym)
{
	for (size_t i = sam_slot(a, from, sym);; i = (i + 1) & (a->tcap - 1)) {
		int32_t x = a->tab[i];
		if (x < 0)
			return -1;
		if (a->e[x].from == from && a->e[x].sym == sym)
			return x;
	}
}

static int sam_rehash(struct sam *a, size_t tcap)
{
	int32_t *t = infty_malloc(tcap * sizeof *t);
	if (!t)
		return INFTY_ENOMEM;
	memset(t, 0xff, tcap * sizeof *t);
	infty_free(a->tab);
	a->tab = t;
	a->tcap = tcap;
	for (size_t x = 0; x < a->ne; x++) {
		size_t i = sam_slot(a, a->e[x].from, a->e[x].sym);
		while (t[i] >= 0)
			i = (i + 1) & (tcap - 1);
		t[i] = (int32_t)x;
	}
	return 0;
}

static int sam_add_edge(struct sam *a, int32_t from, uint64_t sym, int32_t to)
{
	if (infty_grow(&a->e, &a->ecap, a->ne + 1, sizeof *a->e))
		return INFTY_ENOMEM;
	if (2 * (a->ne + 1) > a->tcap && sam_rehash(a, a->tcap ? 2 * a->tcap : 1024))
		return INFTY_ENOMEM;
	int32_t x = (int32_t)a->ne++;
	a->e[x] = (struct sam_edge){sym, from, to, a->head[from]};
	a->head[from] = x;
	size_t i = sam_slot(a, from, sym);
	while (a->tab[i] >= 0)
		i = (i + 1) & (a->tcap - 1);
	a->tab[i] = x;
	return 0;
}

static int32_t sam_new_state(struct sam *a, int32_t len)
{
	size_t c = a->cap;
	if (a->n + 1 > c) {
		size_t nc = c ? 2 * c : 256;
		int32_t *l = infty_realloc(a->len, nc * sizeof *l);
		if (!l)
			return -1;
		a->len = l;
		if (!(l = infty_realloc(a->link, nc * sizeof *l)))
			return -1;
		a->link = l;
		if (!(l = infty_realloc(a->head, nc * sizeof *l)))
			return -1;
		a->head = l;
		if (!(l = infty_realloc(a->first, nc * sizeof *l)))
			return -1;
		a->first = l;
		a->cap = nc;
	}
	int32_t s = (int32_t)a->n++;
	a->len[s] = len;
	a->link[s] = -1;
	a->head[s] = -1;
	a->first[s] = -1;
	return s;
}

static int sam_init(struct sam *a)
{
	memset(a, 0, sizeof *a);
	if (sam_rehash(a, 1024) || sam_new_state(a, 0) < 0)
		return INFTY_ENOMEM;
	a->last = 0;
	return 0;
}

static void sam_release(struct sam *a)
{
	infty_free(a->len);
	infty_free(a->link);
	infty_free(a->head);
	infty_free(a->first);
	infty_free(a->e);
	infty_free(a->tab);
	memset(a, 0, sizeof *a);
}

/*
 * The textbook online construction, one symbol at a time, with each state's
 * first end position (a clone inherits it): a string occurs within the
 * first P symbols when its state's first end is below P.
 */
static int sam_extend(struct sam *a, uint64_t c)
{
	int32_t cur = sam_new_state(a, a->len[a->last] + 1);
	if (cur < 0)
		return INFTY_ENOMEM;
	a->first[cur] = a->nsym++;
	int32_t p = a->last, x;
	while (p >= 0 && sam_find(a, p, c) < 0) {
		if (sam_add_edge(a, p, c, cur))
			return INFTY_ENOMEM;
		p = a->link[p];
	}
	if (p < 0) {
		a->link[cur] = 0;
	} else {
		int32_t q = a->e[sam_find(a, p, c)].to;
		if (a->len[p] + 1 == a->len[q]) {
			a->link[cur] = q;
		} else {
			int32_t cl = sam_new_state(a, a->len[p] + 1);
			if (cl < 0)
				return INFTY_ENOMEM;
			a->first[cl] = a->first[q];
			for (int32_t k = a->head[q]; k >= 0; k = a->e[k].next)
				if (sam_add_edge(a, cl, a->e[k].sym, a->e[k].to))
					return INFTY_ENOMEM;
			a->link[cl] = a->link[q];
			while (p >= 0 && (x = sam_find(a, p, c)) >= 0 && a->e[x].to == q) {
				a->e[x].to = cl;
				p = a->link[p];
			}
			a->link[q] = a->link[cur] = cl;
		}
	}
	a->last = cur;
	return 0;
}

/* ---- words ----------------------------------------------------------------- */

/* c is one of the characters of set (never the NUL that ends it). */
static int one_of(char c, const char *set)
{
	return c && strchr(set, c) != NULL;
}

/* The code point at s (n bytes left) and its length; invalid bytes count as 1. */
static uint32_t utf8_at(const unsigned char *s, size_t n, size_t *len)
{
	if (s[0] < 0x80 || n < 2) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if ((s[0] & 0xf0) == 0xe0 && n >= 3) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		       (s[2] & 0x3f);
	}
	if ((s[0] & 0xf8) == 0xf0 && n >= 4) {
		*len = 4;
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	}
	*len = 1;
	return s[0];
}

/* Scripts without spaces between words: each character is a word. */
static int is_ideograph(uint32_t cp)
{
	return (cp >= 0x2e80 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) ||
	       (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x20000 && cp <= 0x3ffff);
}

typedef int (*word_fn)(void *ctx, uint64_t h);

/*
 * Calls fn with the hash of every word of text: runs of non-space bytes,
 * lowercased, with surrounding punctuation and markdown bullets dropped, so
 * "Therefore," and "therefore" copy the same.  A word that is only
 * punctuation is skipped.
 */
static int each_word(const char *text, size_t len, word_fn fn, void *ctx)
{
	const unsigned char *s = (const unsigned char *)text;
	char buf[64];
	size_t k = 0;
	while (k < len) {
		while (k < len && isspace(s[k]))
			k++;
		size_t a = k, bl = 0;
		int ideo = 0;
		while (k < len && !isspace(s[k])) {
			size_t l;
			uint32_t cp = utf8_at(s + k, len - k, &l);
			if (is_ideograph(cp)) {
				ideo = k == a;
				if (ideo)
					k += l;
				break;
			}
			k += l;
		}
		size_t b = a, e = k;
		if (!ideo) {
			while (b < e && one_of((char)s[b], "*-#>([{\"'`") && e - b > 1)
				b++;
			while (e > b && one_of((char)s[e - 1], ".,;:!?)]}\"'`") && e - b > 1)
				e--;
			if (e - b == 1 && one_of((char)s[b], "*-#>.,;:!?"))
				continue;
		}
		if (e == b)
			continue;
		uint64_t h;
		if (e - b <= sizeof buf) {
			for (size_t i = b; i < e; i++)
				buf[bl++] = (char)tolower(s[i]);
			h = item_hash('w', buf, bl);
		} else {
			h = item_hash('W', text + b, e - b);
		}
		int rc = fn(ctx, h);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- numbers --------------------------------------------------------------- */

/*
 * Numbers are compared by value in a canonical spelling: no leading zeros,
 * no trailing fraction zeros ("0.50" is "0.5", "2.0" is "2"), thousands
 * separators dropped ("1,000", "1{,}000", "1\,000"), fractions reduced
 * ("\frac{2}{4}", "2/4" and "0.5" are one value).  Signs are ignored: "-3"
 * in a summary is grounded by a "3" after "x =" in the trace as well.
 */
struct num {
	char s[48];
	size_t n;
};

static void num_canon(struct num *o, const char *ip, size_t il, const char *fp, size_t fl)
{
	while (il > 1 && *ip == '0') {
		ip++;
		il--;
	}
	while (fl && fp[fl - 1] == '0')
		fl--;
	if (il > 40)
		il = 40; /* beyond a double's digits, equality of the head is enough */
	if (fl > 6)
		fl = 6;
	o->n = 0;
	if (!il) {
		o->s[o->n++] = '0';
	} else {
		memcpy(o->s, ip, il);
		o->n = il;
	}
	if (fl) {
		o->s[o->n++] = '.';
		memcpy(o->s + o->n, fp, fl);
		o->n += fl;
	}
	o->s[o->n] = '\0';
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Integer value of a canonical number without a fraction part, or 0 if none fits. */
static int num_int(const struct num *x, uint64_t *v)
{
	if (x->n > 18 || memchr(x->s, '.', x->n))
		return 0;
	*v = strtoull(x->s, NULL, 10);
	return 1;
}

/*
 * The canonical value of p/q: an integer, a short decimal when q has only
 * the factors 2 and 5, else "p/q" reduced.  Fractions of decimals keep
 * "p/q" as written (rare).
 */
static void frac_canon(struct num *o, const struct num *p, const struct num *q)
{
	uint64_t a, b;
	if (num_int(p, &a) && num_int(q, &b) && b) {
		uint64_t g = gcd64(a, b);
		a /= g;
		b /= g;
		uint64_t d = b;
		int twos = 0, fives = 0;
		while (d % 2 == 0) {
			d /= 2;
			twos++;
		}
		while (d % 5 == 0) {
			d /= 5;
			fives++;
		}
		if (b == 1) {
			o->n = (size_t)snprintf(o->s, sizeof o->s, "%llu", (unsigned long long)a);
		} else if (d == 1 && twos <= 6 && fives <= 6 && a < (1ULL << 40)) {
			int places = twos > fives ? twos : fives;
			char buf[48];
			snprintf(buf, sizeof buf, "%.*f", places, (double)a / (double)b);
			char *dot = strchr(buf, '.');
			num_canon(o, buf, dot ? (size_t)(dot - buf) : strlen(buf),
			          dot ? dot + 1 : "", dot ? strlen(dot + 1) : 0);
		} else {
			o->n = (size_t)snprintf(o->s, sizeof o->s, "%llu/%llu",
			                        (unsigned long long)a, (unsigned long long)b);
		}
		return;
	}
	o->n = (size_t)snprintf(o->s, sizeof o->s, "%s/%s", p->s, q->s);
	if (o->n >= sizeof o->s)
		o->n = sizeof o->s - 1;
}

/*
 * Reads a number at s[*k] (a digit, or '.' then a digit): digits with
 * thousands groups, then an optional fraction.  Returns 1 and advances *k,
 * else 0.
 */
static int read_num(const char *s, size_t len, size_t *k, struct num *o)
{
	size_t i = *k;
	char ib[48];
	size_t il = 0;
	if (i >= len || !(isdigit((unsigned char)s[i]) ||
	                  (s[i] == '.' && i + 1 < len && isdigit((unsigned char)s[i + 1]))))
		return 0;
	size_t group = 0;
	while (i < len) {
		if (isdigit((unsigned char)s[i])) {
			if (il < sizeof ib)
				ib[il++] = s[i];
			group++;
			i++;
			continue;
		}
		/* "1,000", "1{,}000", "1\,000": a separator then exactly three digits. */
		size_t sep = 0;
		if (s[i] == ',')
			sep = 1;
		else if (i + 3 <= len && !memcmp(s + i, "{,}", 3))
			sep = 3;
		else if (i + 2 <= len && !memcmp(s + i, "\\,", 2))
			sep = 2;
		if (sep && group >= 1 && group <= 3 && i + sep + 3 <= len &&
		    isdigit((unsigned char)s[i + sep]) && isdigit((unsigned char)s[i + sep + 1]) &&
		    isdigit((unsigned char)s[i + sep + 2]) &&
		    (i + sep + 3 == len || !isdigit((unsigned char)s[i + sep + 3])) &&
		    (il == group || group == 3)) {
			i += sep;
			group = 0;
			continue;
		}
		break;
	}
	const char *fp = "";
	size_t fl = 0;
	if (i + 1 < len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
		fp = s + i + 1;
		i++;
		while (i < len && isdigit((unsigned char)s[i])) {
			fl++;
			i++;
		}
	}
	num_canon(o, ib, il, fp, fl);
	*k = i;
	return 1;
}

/* "\frac{a}{b}", "\dfrac{a}{b}", "\tfrac ab", "\frac12" with plain numbers. */
static int read_frac(const char *s, size_t len, size_t *k, struct num *p, struct num *q)
{
	static const char *const cmd[] = {"\\frac", "\\dfrac", "\\tfrac"};
	size_t i = *k;
	size_t c;
	for (c = 0; c < 3; c++)
		if (i + strlen(cmd[c]) <= len && !memcmp(s + i, cmd[c], strlen(cmd[c])))
			break;
	if (c == 3)
		return 0;
	i += strlen(cmd[c]);
	struct num *part[2] = {p, q};
	for (int t = 0; t < 2; t++) {
		while (i < len && s[i] == ' ')
			i++;
		if (i < len && s[i] == '{') {
			i++;
			while (i < len && s[i] == ' ')
				i++;
			if (!read_num(s, len, &i, part[t]))
				return 0;
			while (i < len && s[i] == ' ')
				i++;
			if (i >= len || s[i] != '}')
				return 0;
			i++;
		} else if (i < len && isdigit((unsigned char)s[i])) {
			num_canon(part[t], s + i, 1, "", 0);
			i++;
		} else {
			return 0;
		}
	}
	*k = i;
	return 1;
}

enum side { SOURCE, SUMMARY };

typedef int (*num_fn)(void *ctx, const struct num *x);

/* Source side: the roundings and truncations a summary may state of x. */
static int emit_roundings(num_fn fn, void *ctx, double v)
{
	for (int places = 1; places <= 4; places++) {
		char buf[64];
		for (int t = 0; t < 2; t++) {
			double w = v;
			if (t) {
				double scale = 1;
				for (int k = 0; k < places; k++)
					scale *= 10;
				w = (double)(long long)(v * scale) / scale;
			}
			snprintf(buf, sizeof buf, "%.*f", places, w);
			char *dot = strchr(buf, '.');
			struct num o;
			num_canon(&o, buf, (size_t)(dot - buf), dot + 1, strlen(dot + 1));
			int rc = fn(ctx, &o);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static double num_value(const struct num *x)
{
	const char *slash = memchr(x->s, '/', x->n);
	if (!slash)
		return strtod(x->s, NULL);
	double q = strtod(slash + 1, NULL);
	return q ? strtod(x->s, NULL) / q : 0;
}

/*
 * Calls fn with every number of text.  The summary side skips what is not a
 * claim: digits glued to a letter or after '_' (x2, a_1, S_{10}) and list
 * numbers at the start of a line ("1. ", "2) ").  The source side keeps
 * everything and adds what a summary may legitimately write instead:
 * fraction parts, decimal roundings.
 */
static int each_number(const char *s, size_t len, enum side side, num_fn fn, void *ctx)
{
	size_t k = 0;
	int rc;
	while (k < len) {
		struct num p, q, o;
		if (s[k] == '\\') {
			size_t j = k;
			if (read_frac(s, len, &j, &p, &q)) {
				frac_canon(&o, &p, &q);
				if ((rc = fn(ctx, &o)))
					return rc;
				if (side == SOURCE &&
				    ((rc = fn(ctx, &p)) || (rc = fn(ctx, &q)) ||
				     (rc = emit_roundings(fn, ctx, num_value(&o)))))
					return rc;
				k = j;
				continue;
			}
			k++;
			while (k < len && isalpha((unsigned char)s[k]))
				k++;
			continue;
		}
		int startable = isdigit((unsigned char)s[k]) ||
		                (s[k] == '.' && k + 1 < len && isdigit((unsigned char)s[k + 1]) &&
		                 (k == 0 || !isdigit((unsigned char)s[k - 1])));
		if (!startable) {
			k++;
			continue;
		}
		unsigned char prev = k ? (unsigned char)s[k - 1] : ' ';
		int glued =
		    isalpha(prev) || prev == '_' || (prev == '{' && k >= 2 && s[k - 2] == '_');
		size_t start = k;
		if (!read_num(s, len, &k, &p)) {
			k++;
			continue;
		}
		int have_q = 0;
		if (k + 1 < len && s[k] == '/' && isdigit((unsigned char)s[k + 1])) {
			size_t j = k + 1;
			if (read_num(s, len, &j, &q) &&
			    (j == len || !isalpha((unsigned char)s[j]))) {
				have_q = 1;
				k = j;
			}
		}
		if (side == SUMMARY) {
			if (glued)
				continue;
			/* A list number: at a line start, then ". " or ")". */
			size_t b = start;
			while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'))
				b--;
			if (!have_q && (b == 0 || s[b - 1] == '\n') && k < len &&
			    (s[k] == ')' || (s[k] == '.' && (k + 1 == len || s[k + 1] == ' '))))
				continue;
		}
		if (have_q) {
			frac_canon(&o, &p, &q);
			if ((rc = fn(ctx, &o)))
				return rc;
			if (side == SOURCE && ((rc = fn(ctx, &p)) || (rc = fn(ctx, &q)) ||
			                       (rc = emit_roundings(fn, ctx, num_value(&o)))))
				return rc;
		} else {
			if ((rc = fn(ctx, &p)))
				return rc;
			if (side == SOURCE && memchr(p.s, '.', p.n) &&
			    (rc = emit_roundings(fn, ctx, num_value(&p))))
				return rc;
		}
	}
	return 0;
}

/* Number words a trace may spell out where a summary writes digits. */
static const struct {
	const char *w;
	const char *v;
} number_words[] = {
    {"zero", "0"},      {"one", "1"},         {"two", "2"},           {"three", "3"},
    {"four", "4"},      {"five", "5"},        {"six", "6"},           {"seven", "7"},
    {"eight", "8"},     {"nine", "9"},        {"ten", "10"},          {"eleven", "11"},
    {"twelve", "12"},   {"thirteen", "13"},   {"fourteen", "14"},     {"fifteen", "15"},
    {"sixteen", "16"},  {"seventeen", "17"},  {"eighteen", "18"},     {"nineteen", "19"},
    {"twenty", "20"},   {"thirty", "30"},     {"forty", "40"},        {"fifty", "50"},
    {"sixty", "60"},    {"seventy", "70"},    {"eighty", "80"},       {"ninety", "90"},
    {"hundred", "100"}, {"thousand", "1000"}, {"million", "1000000"}, {"half", "0.5"},
    {"twice", "2"},     {"double", "2"},      {"triple", "3"},        {"quarter", "0.25"},
    {"first", "1"},     {"second", "2"},      {"third", "3"},         {"fourth", "4"},
    {"fifth", "5"},     {"sixth", "6"},       {"seventh", "7"},       {"eighth", "8"},
    {"ninth", "9"},     {"tenth", "10"},      {"pair", "2"},          {"dozen", "12"},
};

/* ---- normalised text (for the boxed answer) -------------------------------- */

/*
 * Light LaTeX normalisation for substring matching: no spaces, no $ or
 * braces, \left \right \displaystyle \text... dropped, \dfrac and \tfrac
 * read as \frac, "{,}" as ",".  Appends to *buf.
 */
static int norm_append(char **buf, size_t *n, size_t *cap, const char *s, size_t len)
{
	static const char *const drop[] = {"\\left",   "\\right",  "\\displaystyle", "\\text",
	                                   "\\mathrm", "\\mathbf", "\\operatorname", "\\,",
	                                   "\\;",      "\\!",      "\\quad",         "\\ "};
	if (infty_grow(buf, cap, *n + len + 1, 1))
		return INFTY_ENOMEM;
	char *o = *buf;
	for (size_t k = 0; k < len;) {
		unsigned char c = (unsigned char)s[k];
		if (c == '\\') {
			size_t d;
			for (d = 0; d < sizeof drop / sizeof *drop; d++) {
				size_t dl = strlen(drop[d]);
				if (k + dl <= len && !memcmp(s + k, drop[d], dl) &&
				    (!isalpha((unsigned char)drop[d][dl - 1]) || k + dl == len ||
				     !isalpha((unsigned char)s[k + dl])))
					break;
			}
			if (d < sizeof drop / sizeof *drop) {
				k += strlen(drop[d]);
				continue;
			}
			if (k + 6 <= len &&
			    (!memcmp(s + k, "\\dfrac", 6) || !memcmp(s + k, "\\tfrac", 6))) {
				memcpy(o + *n, "\\frac", 5);
				*n += 5;
				k += 6;
				continue;
			}
		}
		if (isspace(c) || c == '$' || c == '{' || c == '}') {
			k++;
			continue;
		}
		o[(*n)++] = (char)c;
		k++;
	}
	o[*n] = '\0';
	return 0;
}

/* ---- the index ------------------------------------------------------------- */

#define N_LANG 7
static const char *const lang_code[N_LANG] = {"en", "de", "fr", "es", "it", "pt", "nl"};
/*
 * A few frequent function words per language; shared ones ("la") count for
 * each.  No one-letter words: math's a, e, o and y would vote.
 */
static const char *const stopwords[N_LANG][16] = {
    {"the", "and", "is", "of", "to", "we", "that", "this", "so", "then", "for", "with", "are", "it",
     "not", "be"},
    {"der", "die", "das", "und", "ist", "nicht", "wir", "mit", "ein", "eine", "zu", "auf", "für",
     "den", "von", "also"},
    {"le", "la", "les", "et", "est", "nous", "une", "des", "pour", "que", "pas", "dans", "du",
     "avec", "donc", "sont"},
    {"el", "la", "los", "las", "es", "que", "de", "para", "una", "con", "por", "del", "entonces",
     "como", "pero", "sumamos"},
    {"il", "lo", "la", "è", "che", "di", "per", "una", "con", "non", "del", "quindi", "sono",
     "della", "gli", "abbiamo"},
    {"os", "é", "que", "de", "uma", "para", "com", "não", "do", "da", "então", "como", "mas",
     "temos", "dos", "das"},
    {"de", "het", "een", "en", "is", "van", "dat", "niet", "wij", "met", "voor", "zijn", "dus",
     "op", "te", "ook"},
};

enum script {
	SC_LATIN,
	SC_CYRILLIC,
	SC_GREEK,
	SC_HAN,
	SC_KANA,
	SC_HANGUL,
	SC_ARABIC,
	SC_HEBREW,
	SC_DEVANAGARI,
	SC_THAI,
	SC_N
};
static const char *const script_lang[SC_N] = {"latn", "ru", "el", "zh", "ja",
                                              "ko",   "ar", "he", "hi", "th"};

struct lang_count {
	long script[SC_N];
	long stop[N_LANG];
	long words; /* Latin words of two letters or more */
};

/*
 * The function words and number words, looked up by hash: a table per index
 * (built in microseconds), so there is no shared state between threads.
 * v: bit g for stopword language g, (k + 1) << 8 for number_words[k].
 */
#define WMAP_CAP 512
struct wordmap {
	uint64_t k[WMAP_CAP];
	uint32_t v[WMAP_CAP];
};

static void wmap_put(struct wordmap *m, const char *w, uint32_t v)
{
	uint64_t h = item_hash('l', w, strlen(w));
	size_t i = h & (WMAP_CAP - 1);
	while (m->k[i] && m->k[i] != h)
		i = (i + 1) & (WMAP_CAP - 1);
	m->k[i] = h;
	m->v[i] |= v;
}

static uint32_t wmap_get(const struct wordmap *m, const char *w, size_t n)
{
	uint64_t h = item_hash('l', w, n);
	for (size_t i = h & (WMAP_CAP - 1); m->k[i]; i = (i + 1) & (WMAP_CAP - 1))
		if (m->k[i] == h)
			return m->v[i];
	return 0;
}

static void wmap_init(struct wordmap *m)
{
	memset(m, 0, sizeof *m);
	for (int g = 0; g < N_LANG; g++)
		for (int t = 0; t < 16 && stopwords[g][t]; t++)
			wmap_put(m, stopwords[g][t], 1u << g);
	for (size_t k = 0; k < sizeof number_words / sizeof *number_words; k++)
		wmap_put(m, number_words[k].w, (uint32_t)(k + 1) << 8);
}

/*
 * Everything is kept per source (the question is source 0, segment k source
 * k + 1), so that a summary of segments 0..i can be checked after later
 * segments were indexed too: the engine indexes a trace once and its
 * summaries come back in any order.
 */
struct sum_quality_index {
	struct wordmap wmap;
	struct sam sam;
	struct hset nums;  /* canonical numbers of question and segments, by source */
	struct hset words; /* 5-letter prefixes of their words, for named results */
	char *norm;        /* normalised question and segments, for the answer */
	size_t norm_n, norm_cap;
	size_t segs;
	uint32_t src;  /* the source being indexed */
	size_t norm_q; /* norm bytes of the question */
	/* per segment k: */
	size_t *norm_end;        /* norm bytes through segment k */
	int32_t *sym_end;        /* copy automaton symbols through segment k */
	long *tokens;            /* tokens of segments 0..k */
	struct lang_count *lang; /* letters and words of segments 0..k */
	size_t cap;
};

static int put_num(void *ctx, const struct num *x)
{
	struct sum_quality_index *ix = ctx;
	return hset_put_at(&ix->nums, item_hash('n', x->s, x->n), ix->src);
}

static int sam_word(void *ctx, uint64_t h)
{
	return sam_extend(ctx, h);
}

/* A lowercase prefix of up to 5 letters: "Pythagoras" and "Pythagorean" agree. */
static uint64_t prefix_hash(const char *w, size_t n)
{
	char buf[5];
	size_t k = n < 5 ? n : 5;
	for (size_t i = 0; i < k; i++)
		buf[i] = (char)tolower((unsigned char)w[i]);
	return item_hash('p', buf, k);
}

static enum script script_of(uint32_t cp, int *letter)
{
	*letter = 1;
	if (cp < 0x80) {
		*letter = isalpha((int)cp) != 0;
		return SC_LATIN;
	}
	if ((cp >= 0xc0 && cp <= 0x24f) || (cp >= 0x1e00 && cp <= 0x1eff))
		return cp == 0xd7 || cp == 0xf7 ? (*letter = 0, SC_LATIN) : SC_LATIN;
	if (cp >= 0x370 && cp <= 0x3ff)
		return SC_GREEK;
	if (cp >= 0x400 && cp <= 0x4ff)
		return SC_CYRILLIC;
	if (cp >= 0x590 && cp <= 0x5ff)
		return SC_HEBREW;
	if (cp >= 0x600 && cp <= 0x6ff)
		return SC_ARABIC;
	if (cp >= 0x900 && cp <= 0x97f)
		return SC_DEVANAGARI;
	if (cp >= 0xe00 && cp <= 0xe7f)
		return SC_THAI;
	if (cp >= 0x3040 && cp <= 0x30ff)
		return SC_KANA;
	if ((cp >= 0x3400 && cp <= 0x9fff) || (cp >= 0x20000 && cp <= 0x2ffff))
		return SC_HAN;
	if (cp >= 0xac00 && cp <= 0xd7af)
		return SC_HANGUL;
	*letter = 0;
	return SC_LATIN;
}

/*
 * Whether the run of non-blanks at s (up to len) reads as code: an
 * identifier joined by '_', an assignment, a call f(, an attribute a.b,
 * brackets or braces.  Its words are not function words: Python's
 * "step5.parent = skip_loop" is no Portuguese.  Returns the run's length.
 */
static size_t code_run(const unsigned char *s, size_t len, int *code)
{
	size_t n = 0;
	*code = 0;
	for (; n < len && !isspace(s[n]); n++) {
		unsigned char c = s[n], prev = n ? s[n - 1] : ' ';
		if (strchr("_=;{}[]", c) || (c == '(' && isalnum(prev)) ||
		    (c == '.' && isalnum(prev) && n + 1 < len && isalpha(s[n + 1])))
			*code = 1;
	}
	return n;
}

/*
 * Letters per script and function words per language, over words of two
 * letters or more outside LaTeX commands (math's x, y and \frac would make
 * every trace Latin) and outside code (code_run).
 */
static void lang_add(struct lang_count *lc, const struct wordmap *m, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t k = 0, run_end = 0;
	int in_code = 0;
	while (k < len) {
		if (k >= run_end && !isspace(s[k]))
			run_end = k + code_run(s + k, len - k, &in_code);
		if (s[k] == '\\') {
			k++;
			while (k < len && isalpha(s[k]))
				k++;
			continue;
		}
		size_t a = k, letters = 0, l = 1;
		long sc[SC_N] = {0};
		while (k < len) {
			int letter;
			uint32_t cp = utf8_at(s + k, len - k, &l);
			enum script x = script_of(cp, &letter);
			if (!letter && cp != '\'')
				break;
			if (letter) {
				sc[x]++;
				letters++;
			}
			k += l;
		}
		if (k == a) {
			k += l;
			continue;
		}
		/* Ideographs count one by one; alphabetic words from two letters on. */
		for (int x = 0; x < SC_N; x++)
			if (letters >= 2 || x == SC_HAN || x == SC_KANA || x == SC_HANGUL)
				lc->script[x] += sc[x];
		if (letters >= 2 && sc[SC_LATIN] == (long)letters)
			lc->words++;
		if (k - a <= 12 && sc[SC_LATIN] == (long)letters && !in_code) {
			char w[16];
			for (size_t i = a; i < k; i++)
				w[i - a] = (char)tolower(s[i]);
			w[k - a] = '\0';
			uint32_t v = wmap_get(m, w, k - a) & 0xff;
			for (int g = 0; v; g++, v >>= 1)
				lc->stop[g] += v & 1;
		}
	}
}

/* "und" when there is too little text or no clear winner. */
static const char *lang_guess(const struct lang_count *lc, long min_letters)
{
	long total = 0;
	int best = 0;
	for (int x = 0; x < SC_N; x++) {
		total += lc->script[x];
		if (lc->script[x] > lc->script[best])
			best = x;
	}
	if (total < min_letters)
		return "und";
	/* Japanese writes Han too: any real share of kana makes it Japanese. */
	if (best == SC_HAN && lc->script[SC_KANA] * 10 >= lc->script[SC_HAN])
		return "ja";
	if (best != SC_LATIN)
		return lc->script[best] * 2 >= total ? script_lang[best] : "und";
	int g1 = 0, g2 = -1;
	for (int g = 1; g < N_LANG; g++) {
		if (lc->stop[g] > lc->stop[g1]) {
			g2 = g1;
			g1 = g;
		} else if (g2 < 0 || lc->stop[g] > lc->stop[g2]) {
			g2 = g;
		}
	}
	/* Prose has a function word in every few words; notes and code do not. */
	if (lc->stop[g1] < 3 || lc->stop[g1] < 2 * lc->stop[g2] || lc->stop[g1] * 10 < lc->words)
		return "und";
	return lang_code[g1];
}

static int index_source(struct sum_quality_index *ix, const char *text, size_t len)
{
	int rc = each_number(text, len, SOURCE, put_num, ix);
	if (rc)
		return rc;
	/* Words: prefixes for named results, number words as their value. */
	for (size_t k = 0; k < len;) {
		if (!isalpha((unsigned char)text[k])) {
			k++;
			continue;
		}
		size_t a = k;
		while (k < len && isalpha((unsigned char)text[k]))
			k++;
		if (k - a < 2 || (a && text[a - 1] == '\\'))
			continue;
		if ((rc = hset_put_at(&ix->words, prefix_hash(text + a, k - a), ix->src)))
			return rc;
		if (k - a <= 9) {
			char w[10];
			for (size_t i = a; i < k; i++)
				w[i - a] = (char)tolower((unsigned char)text[i]);
			uint32_t v = wmap_get(&ix->wmap, w, k - a) >> 8;
			if (v && (rc = hset_put_at(&ix->nums,
			                           item_hash('n', number_words[v - 1].v,
			                                     strlen(number_words[v - 1].v)),
			                           ix->src)))
				return rc;
		}
	}
	if (infty_grow(&ix->norm, &ix->norm_cap, ix->norm_n + 2, 1))
		return INFTY_ENOMEM;
	ix->norm[ix->norm_n++] = '\x01'; /* no match across two texts */
	return norm_append(&ix->norm, &ix->norm_n, &ix->norm_cap, text, len);
}

int infty_sum_quality_index_new(struct sum_quality_index **out, const char *question, size_t len)
{
	*out = NULL;
	struct sum_quality_index *ix = infty_calloc(1, sizeof *ix);
	if (!ix)
		return INFTY_ENOMEM;
	wmap_init(&ix->wmap);
	ix->nums.valued = ix->words.valued = 1;
	if (sam_init(&ix->sam) || index_source(ix, question ? question : "", question ? len : 0)) {
		infty_sum_quality_index_free(ix);
		return INFTY_ENOMEM;
	}
	ix->norm_q = ix->norm_n;
	*out = ix;
	return 0;
}

static long count_or_estimate(const char *text, size_t len, sum_quality_count_fn count, void *ctx)
{
	return count ? count(ctx, text, len) : (long)((len + 3) / 4);
}

int infty_sum_quality_index_add(struct sum_quality_index *ix, const char *text, size_t len,
                                long tokens, sum_quality_count_fn count, void *count_ctx)
{
	size_t k = ix->segs;
	if (k + 1 > ix->cap) {
		size_t nc = ix->cap ? 2 * ix->cap : 16;
		size_t *ne = infty_realloc(ix->norm_end, nc * sizeof *ne);
		if (!ne)
			return INFTY_ENOMEM;
		ix->norm_end = ne;
		int32_t *se = infty_realloc(ix->sym_end, nc * sizeof *se);
		if (!se)
			return INFTY_ENOMEM;
		ix->sym_end = se;
		long *tk = infty_realloc(ix->tokens, nc * sizeof *tk);
		if (!tk)
			return INFTY_ENOMEM;
		ix->tokens = tk;
		struct lang_count *lc = infty_realloc(ix->lang, nc * sizeof *lc);
		if (!lc)
			return INFTY_ENOMEM;
		ix->lang = lc;
		ix->cap = nc;
	}
	/* A separator of its own before each segment: no span across two. */
	int rc = sam_extend(&ix->sam, mix64(0x5e9a7a70ULL + k) ^ 0x8000000000000000ULL);
	if (!rc)
		rc = each_word(text, len, sam_word, &ix->sam);
	ix->src = (uint32_t)k + 1;
	if (!rc)
		rc = index_source(ix, text, len);
	if (rc)
		return rc;
	ix->lang[k] = k ? ix->lang[k - 1] : (struct lang_count){{0}, {0}, 0};
	lang_add(&ix->lang[k], &ix->wmap, text, len);
	ix->tokens[k] = (k ? ix->tokens[k - 1] : 0) +
	                (tokens >= 0 ? tokens : count_or_estimate(text, len, count, count_ctx));
	ix->norm_end[k] = ix->norm_n;
	ix->sym_end[k] = ix->sam.nsym;
	ix->segs++;
	return 0;
}

size_t infty_sum_quality_index_segments(const struct sum_quality_index *ix)
{
	return ix->segs;
}

void infty_sum_quality_index_free(struct sum_quality_index *ix)
{
	if (!ix)
		return;
	sam_release(&ix->sam);
	infty_free(ix->nums.v);
	infty_free(ix->nums.at);
	infty_free(ix->words.v);
	infty_free(ix->words.at);
	infty_free(ix->norm);
	infty_free(ix->norm_end);
	infty_free(ix->sym_end);
	infty_free(ix->tokens);
	infty_free(ix->lang);
	infty_free(ix);
}

/* ---- the checks ------------------------------------------------------------ */

/* w (lowercase) occurs in low, the summary lowercased once: memmem, not a scan per pattern. */
static int has_ci(const char *low, size_t len, const char *w)
{
	return memmem(low, len, w, strlen(w)) != NULL;
}

static void set_flag(struct sum_quality_result *r, const struct sum_quality_config *c,
                     enum sum_quality_flag f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_flag(struct sum_quality_result *r, const struct sum_quality_config *c,
                     enum sum_quality_flag f, const char *fmt, ...)
{
	if (c->policy[f] == SUM_Q_OFF || (r->flags & SUM_Q_BIT(f)))
		return;
	r->flags |= SUM_Q_BIT(f);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail[f], sizeof r->detail[f], fmt, ap);
	va_end(ap);
}

/* The start of each line's text, after spaces and a bullet ("* ", "- ", "1. "). */
static const char *line_text(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && (*p == '*' || *p == '-' || *p == '#')) {
		while (p < end && (*p == '*' || *p == '-' || *p == '#'))
			p++;
	} else {
		const char *q = p;
		while (q < end && isdigit((unsigned char)*q))
			q++;
		if (q > p && q < end && (*q == '.' || *q == ')'))
			p = q + 1;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static int starts_ci(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(end - p) >= n && !strncasecmp(p, w, n);
}

static void check_leak(const char *s, const char *low, size_t len,
                       const struct sum_quality_config *c, struct sum_quality_result *r)
{
	static const char *const tags[] = {
	    "<think>",       "</think>",      "<summary>",    "</summary>",
	    "<history>",     "</history>",    "<|im_start|>", "<|im_end|>",
	    "<|endoftext|>", "<\xef\xbd\x9c", /* "<｜" DeepSeek */
	};
	for (size_t t = 0; t < sizeof tags / sizeof *tags; t++)
		if (has_ci(low, len, tags[t])) {
			set_flag(r, c, SUM_Q_LEAK, "tag %s", tags[t]);
			return;
		}
	/*
	 * Reasoning continued instead of summarized: the first line opens the
	 * way a trace does, or sentences keep starting with hesitation.
	 */
	static const char *const openers[] = {"okay",      "ok,",       "ok so",      "alright",
	                                      "hmm",       "wait",      "let me",     "let's see",
	                                      "so i need", "i need to", "so, i need", "oh,"};
	static const char *const hesitations[] = {"wait",     "hmm",           "let me",
	                                          "actually", "oh,",           "but wait",
	                                          "okay",     "alternatively", "let's check"};
	const char *end = s + len, *p = s;
	while (p < end && isspace((unsigned char)*p))
		p++;
	const char *t = line_text(p, end);
	for (size_t o = 0; o < sizeof openers / sizeof *openers; o++)
		if (starts_ci(t, end, openers[o])) {
			set_flag(r, c, SUM_Q_LEAK, "opens like reasoning (\"%.24s\")", t);
			return;
		}
	int hes = 0;
	const char *first = NULL;
	for (const char *q = s; q < end; q++) {
		int line_start = q == s || q[-1] == '\n';
		if (!line_start && !(q >= s + 2 && q[-1] == ' ' && one_of(q[-2], ".!?")))
			continue;
		const char *w = line_start ? line_text(q, end) : q;
		for (size_t h = 0; h < sizeof hesitations / sizeof *hesitations; h++)
			if (starts_ci(w, end, hesitations[h]) &&
			    (w + strlen(hesitations[h]) >= end ||
			     !isalpha((unsigned char)w[strlen(hesitations[h])]))) {
				if (!first)
					first = w;
				hes++;
				break;
			}
	}
	if (hes >= 2)
		set_flag(r, c, SUM_Q_LEAK, "%d sentences start with hesitation (\"%.20s\")", hes,
		         first);
}

static void check_refusal(const char *s, const char *low, size_t len,
                          const struct sum_quality_config *c, struct sum_quality_result *r)
{
	static const char *const refusal[] = {
	    "i'm sorry",        "i am sorry",      "i apologize",   "as an ai",
	    "language model",   "i cannot help",   "i can't help",  "i cannot assist",
	    "i can't assist",   "cannot comply",   "i'm unable to", "i am unable to",
	    "i cannot provide", "i can't provide",
	};
	static const char *const meta[] = {
	    "the user",
	    "the assistant",
	    "the model ",
	    "this summary",
	    "the summary above",
	    "the reasoning above",
	    "the previous response",
	    "your last response",
	    "my last response",
	    "the last response",
	    "the response above",
	    "the given reasoning",
	    "the provided reasoning",
	    "the reasoning process",
	    "the text above",
	};
	static const char *const openers[] = {"here is", "here's",    "here are", "below is",
	                                      "sure",    "certainly", "of course"};
	for (size_t k = 0; k < sizeof refusal / sizeof *refusal; k++)
		if (has_ci(low, len, refusal[k])) {
			set_flag(r, c, SUM_Q_REFUSAL, "refusal (\"%s\")", refusal[k]);
			return;
		}
	const char *end = s + len, *p = s;
	while (p < end && isspace((unsigned char)*p))
		p++;
	p = line_text(p, end);
	for (size_t k = 0; k < sizeof openers / sizeof *openers; k++)
		if (starts_ci(p, end, openers[k])) {
			set_flag(r, c, SUM_Q_REFUSAL, "meta-commentary (opens with \"%s\")",
			         openers[k]);
			return;
		}
	for (size_t k = 0; k < sizeof meta / sizeof *meta; k++)
		if (has_ci(low, len, meta[k])) {
			set_flag(r, c, SUM_Q_REFUSAL, "meta-commentary (\"%s\")", meta[k]);
			return;
		}
}

/*
 * Copying: the longest run of summary words that occurs in one of the
 * segments summarized.  The automaton holds every segment indexed; a
 * transition counts only when its strings first end before lim, the end of
 * the last segment summarized (the states reached that way, and their
 * suffix links, all do).
 */
struct copy_walk {
	const struct sam *a;
	int32_t v, lim;
	long l, best;
};

static int copy_step(void *ctx, uint64_t h)
{
	struct copy_walk *w = ctx;
	const struct sam *a = w->a;
	for (;;) {
		int32_t x = sam_find(a, w->v, h);
		if (x >= 0 && a->first[a->e[x].to] < w->lim) {
			w->v = a->e[x].to;
			w->l++;
			break;
		}
		if (!w->v) {
			w->l = 0;
			break;
		}
		w->v = a->link[w->v];
		w->l = a->len[w->v];
	}
	if (w->l > w->best)
		w->best = w->l;
	return 0;
}

/* Grounding: the summary's numbers, each looked up by value. */
struct ground {
	const struct sum_quality_index *ix;
	uint32_t lim; /* sources 0..lim: the question and the segments summarized */
	struct sum_quality_result *r;
	char list[80];
	size_t list_n;
	struct hset seen; /* items already counted once */
	int rc;
};

static void ground_note(struct ground *g, const char *s, size_t n)
{
	g->r->ungrounded++;
	if (g->list_n + n + 2 < sizeof g->list) {
		if (g->list_n)
			g->list[g->list_n++] = ' ';
		memcpy(g->list + g->list_n, s, n);
		g->list_n += n;
		g->list[g->list_n] = '\0';
	}
}

static int ground_num(void *ctx, const struct num *x)
{
	struct ground *g = ctx;
	uint64_t h = item_hash('n', x->s, x->n);
	if (hset_has(&g->seen, h))
		return 0;
	if (hset_put(&g->seen, h))
		return INFTY_ENOMEM;
	g->r->items++;
	if (!hset_has_upto(&g->ix->nums, h, g->lim))
		ground_note(g, x->s, x->n);
	return 0;
}

static int is_result_word(const char *w, size_t n)
{
	static const char *const kinds[] = {
	    "theorem", "lemma",     "formula", "formulas",   "inequality", "identity",
	    "rule",    "principle", "law",     "conjecture", "criterion",  "identities",
	};
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
		if (strlen(kinds[k]) == n && !strncasecmp(kinds[k], w, n))
			return 1;
	return 0;
}

/*
 * Named results: capitalised words (or an acronym like AM-GM) right before
 * "theorem", "lemma", "formula", "inequality"...  A word that opens a line
 * or sentence counts only with a possessive ("Vieta's"), so "Applied the
 * rule" names nothing.  Each part of the name must occur in the question or
 * the segments (first five letters: "Pythagorean" is grounded by
 * "Pythagoras").
 */
static int ground_names(struct ground *g, const char *s, size_t len)
{
	struct {
		size_t a, b;
		int initial;
	} w[3] = {{0}};
	int nw = 0;
	size_t k = 0;
	while (k < len) {
		while (k < len && !isalpha((unsigned char)s[k]))
			k++;
		size_t a = k;
		while (k < len && (isalpha((unsigned char)s[k]) || s[k] == '-' || s[k] == '\'' ||
		                   (unsigned char)s[k] == 0xe2))
			k += (unsigned char)s[k] == 0xe2 && k + 2 < len ? 3 : 1;
		if (k == a)
			break;
		size_t b = a;
		while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		int initial = b == 0 || one_of(s[b - 1], "\n.!?:*");
		if (is_result_word(s + a, k - a)) {
			/* The capitalised words just before, nearest first. */
			for (int j = nw - 1; j >= 0 && j >= nw - 2; j--) {
				const char *x = s + w[j].a;
				size_t xn = w[j].b - w[j].a;
				int possessive =
				    xn > 2 && (memchr(x, '\'', xn) || strstr(x, "\xe2\x80\x99"));
				int acronym = xn >= 2 && isupper((unsigned char)x[0]) &&
				              isupper((unsigned char)x[1]);
				if (!isupper((unsigned char)x[0]) ||
				    (w[j].initial && !possessive && !acronym))
					break;
				if (xn == 3 && !strncmp(x, "The", 3))
					break;
				/* Each hyphen part: "Cauchy-Schwarz" needs both names. */
				for (size_t p = 0; p < xn;) {
					size_t q = p;
					while (q < xn && isalpha((unsigned char)x[q]))
						q++;
					if (q - p >= 2) {
						uint64_t h = prefix_hash(x + p, q - p);
						if (!hset_has(&g->seen, h)) {
							if (hset_put(&g->seen, h))
								return INFTY_ENOMEM;
							g->r->items++;
							if (!hset_has_upto(&g->ix->words, h,
							                   g->lim))
								ground_note(g, x + p, q - p);
						}
					}
					while (q < xn && !isalpha((unsigned char)x[q]))
						q++;
					if (q < xn && x[q - 1] == '\'')
						break; /* the "s" of "Vieta's" */
					p = q;
				}
			}
		}
		if (nw == 3) {
			memmove(w, w + 1, 2 * sizeof *w);
			nw = 2;
		}
		w[nw].a = a;
		w[nw].b = k;
		w[nw].initial = initial;
		nw++;
	}
	return 0;
}

/* The answer's numbers: all must be in the summary for the answer to be seen. */
struct answer_nums {
	const struct hset *in_summary, *in_source;
	uint32_t lim;
	int n, seen, new_in_summary, nontrivial;
};

static int answer_num(void *ctx, const struct num *x)
{
	struct answer_nums *a = ctx;
	uint64_t h = item_hash('n', x->s, x->n);
	a->n++;
	if (hset_has(a->in_summary, h)) {
		a->seen++;
		if (!hset_has_upto(a->in_source, h, a->lim))
			a->new_in_summary++;
	}
	/* "2" or "1" is in every trace and every summary: no evidence either way. */
	if (x->n >= 2 || (x->n == 1 && x->s[0] > '3'))
		a->nontrivial = 1;
	return 0;
}

static int collect_num(void *ctx, const struct num *x)
{
	return hset_put(ctx, item_hash('n', x->s, x->n));
}

static int check_answer(const struct sum_quality_index *ix, size_t upto,
                        const struct sum_quality_config *c, const char *s, size_t len,
                        const char *answer, struct sum_quality_result *r)
{
	char *na = NULL, *ns = NULL;
	size_t nan = 0, nac = 0, nsn = 0, nsc = 0;
	int rc = norm_append(&na, &nan, &nac, answer, strlen(answer));
	if (!rc)
		rc = norm_append(&ns, &nsn, &nsc, s, len);
	struct hset sumnums = {0};
	if (!rc)
		rc = each_number(s, len, SUMMARY, collect_num, &sumnums);
	if (rc)
		goto out;
	int in_summary = 0, in_source = 0;
	/* A number is compared by value ("10" is not in "100"); anything else as written. */
	const char *d = na;
	if (!strncmp(d, "\\frac", 5))
		d += 5;
	int numeric = *d != '\0';
	for (; *d; d++)
		numeric = numeric && one_of(*d, "0123456789.,/-");
	if (!numeric && nan >= 2 && memmem(ns, nsn, na, nan)) {
		in_summary = 1;
		in_source =
		    memmem(ix->norm, upto ? ix->norm_end[upto - 1] : ix->norm_q, na, nan) != NULL;
	}
	/* Else by its numbers: every one stated, and one the trace has not reached. */
	struct answer_nums an = {&sumnums, &ix->nums, (uint32_t)upto, 0, 0, 0, 0};
	if (!in_summary) {
		if ((rc = each_number(answer, strlen(answer), SUMMARY, answer_num, &an)))
			goto out;
		if (an.n && an.seen == an.n && an.nontrivial) {
			in_summary = 1;
			in_source = an.new_in_summary == 0;
		}
	}
	r->answer_seen = in_summary;
	if (in_summary && !in_source)
		set_flag(r, c, SUM_Q_EARLY_ANSWER, "states the final answer %.40s", answer);
out:
	infty_free(na);
	infty_free(ns);
	infty_free(sumnums.v);
	return rc;
}

int infty_sum_quality_check(struct sum_quality_index *ix, const struct sum_quality_config *c,
                            const char *summary, size_t len, long tokens, const char *answer,
                            sum_quality_count_fn count, void *count_ctx,
                            struct sum_quality_result *r)
{
	return infty_sum_quality_check_at(ix, ix->segs, c, summary, len, tokens, answer, count,
	                                  count_ctx, r);
}

int infty_sum_quality_check_at(const struct sum_quality_index *ix, size_t upto,
                               const struct sum_quality_config *c, const char *summary, size_t len,
                               long tokens, const char *answer, sum_quality_count_fn count,
                               void *count_ctx, struct sum_quality_result *r)
{
	memset(r, 0, sizeof *r);
	if (upto > ix->segs)
		return INFTY_EINVAL;
	static const struct lang_count none;
	long src_tokens = upto ? ix->tokens[upto - 1] : 0;
	r->summary_tokens =
	    tokens >= 0 ? tokens : count_or_estimate(summary, len, count, count_ctx);
	r->source_tokens = src_tokens;
	r->ratio = src_tokens > 0 ? (double)r->summary_tokens / (double)src_tokens : 0;

	char *low = infty_malloc(len + 1);
	if (!low)
		return INFTY_ENOMEM;
	for (size_t k = 0; k < len; k++)
		low[k] = (char)tolower((unsigned char)summary[k]);
	low[len] = '\0';
	check_leak(summary, low, len, c, r);
	check_refusal(summary, low, len, c, r);
	infty_free(low);

	if (r->summary_tokens < c->min_tokens)
		set_flag(r, c, SUM_Q_SHORT, "%ld tokens < %ld", r->summary_tokens, c->min_tokens);
	else if (src_tokens > 0 && r->ratio < c->min_ratio)
		set_flag(r, c, SUM_Q_SHORT, "%ld tokens for %ld (ratio %.3f < %.3f)",
		         r->summary_tokens, src_tokens, r->ratio, c->min_ratio);
	if (src_tokens > 0 && r->ratio >= c->max_ratio)
		set_flag(r, c, SUM_Q_LONG, "%ld tokens for %ld (ratio %.2f >= %.2f)",
		         r->summary_tokens, src_tokens, r->ratio, c->max_ratio);

	struct copy_walk cw = {&ix->sam, 0, upto ? ix->sym_end[upto - 1] : 0, 0, 0};
	each_word(summary, len, copy_step, &cw);
	r->copy_words = cw.best;
	if (c->copy_words > 0 && cw.best >= c->copy_words)
		set_flag(r, c, SUM_Q_COPY, "%ld words verbatim from the segments", cw.best);

	struct ground g = {.ix = ix, .lim = (uint32_t)upto, .r = r};
	int rc = each_number(summary, len, SUMMARY, ground_num, &g);
	if (!rc)
		rc = ground_names(&g, summary, len);
	infty_free(g.seen.v);
	if (rc)
		return rc;
	if (r->ungrounded >= c->ungrounded_at && c->ungrounded_at > 0)
		set_flag(r, c, SUM_Q_UNGROUNDED, "%ld of %ld not in question or segments: %s",
		         r->ungrounded, r->items, g.list);

	if (answer && *answer && (rc = check_answer(ix, upto, c, summary, len, answer, r)))
		return rc;

	struct lang_count lc = {{0}, {0}, 0};
	lang_add(&lc, &ix->wmap, summary, len);
	snprintf(r->lang_summary, sizeof r->lang_summary, "%s", lang_guess(&lc, c->lang_min));
	snprintf(r->lang_trace, sizeof r->lang_trace, "%s",
	         lang_guess(upto ? &ix->lang[upto - 1] : &none, c->lang_min));
	/*
	 * Two Latin-script languages differ only on clear evidence: five function
	 * words of the summary's language and three times those of the trace's
	 * (terse notes and code trip a looser rule: "do", "de", "is" are
	 * everywhere).
	 */
	int gs = -1, gt = -1;
	for (int k = 0; k < N_LANG; k++) {
		if (!strcmp(r->lang_summary, lang_code[k]))
			gs = k;
		if (!strcmp(r->lang_trace, lang_code[k]))
			gt = k;
	}
	int clear = gs < 0 || gt < 0 || (lc.stop[gs] >= 5 && lc.stop[gs] >= 3 * lc.stop[gt]);
	if (clear && strcmp(r->lang_summary, "und") && strcmp(r->lang_trace, "und") &&
	    strcmp(r->lang_summary, "latn") && strcmp(r->lang_trace, "latn") &&
	    strcmp(r->lang_summary, r->lang_trace))
		set_flag(r, c, SUM_Q_LANGUAGE, "%s, the trace is %s", r->lang_summary,
		         r->lang_trace);
	return 0;
}

char *infty_sum_quality_boxed(const char *text, size_t len)
{
	static const char *const cmd[] = {"\\boxed{", "\\fbox{"};
	const char *best = NULL;
	for (size_t k = 0; k < len; k++) {
		if (text[k] != '\\')
			continue;
		for (int c = 0; c < 2; c++)
			if (k + strlen(cmd[c]) <= len && !memcmp(text + k, cmd[c], strlen(cmd[c])))
				best = text + k + strlen(cmd[c]);
	}
	if (!best)
		return NULL;
	int depth = 1;
	const char *p = best, *end = text + len;
	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
			continue;
		}
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			break;
	}
	if (depth)
		return NULL; /* unbalanced: a cut conclusion, no answer to compare */
	return infty_strndup(best, (size_t)(p - best));
}

/*
 * The engine holds every summary entry of a trace until it is written, so
 * these objects are kept small: arrays sized to their flags, constant keys
 * (json-c copies a key otherwise), no "detail" object when nothing is
 * flagged.
 */
struct json_object *infty_sum_quality_flags_json(const struct sum_quality_result *r)
{
	int n = 0;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		n += (r->flags & SUM_Q_BIT(f)) != 0;
	struct json_object *a = json_object_new_array_ext(n ? n : 1);
	if (!a)
		return NULL;
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		if ((r->flags & SUM_Q_BIT(f)) &&
		    json_object_array_add(a, json_object_new_string(flag_names[f]))) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

/* Add v under the constant key k; 1 on failure (v is freed). */
static int put(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v)
		return 1;
	if (json_object_object_add_ex(
	        o, k, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)) {
		json_object_put(v);
		return 1;
	}
	return 0;
}

struct json_object *infty_sum_quality_json(const struct sum_quality_result *r)
{
	struct json_object *o = json_object_new_object(), *d = NULL;
	char ratio[32];
	snprintf(ratio, sizeof ratio, "%.4f", r->ratio);
	int bad = !o;
	bad = bad || put(o, "tokens", json_object_new_int64(r->summary_tokens));
	bad = bad || put(o, "source_tokens", json_object_new_int64(r->source_tokens));
	bad = bad || put(o, "ratio", json_object_new_double_s(r->ratio, ratio));
	bad = bad || put(o, "copy_words", json_object_new_int64(r->copy_words));
	bad = bad || put(o, "items", json_object_new_int64(r->items));
	bad = bad || put(o, "ungrounded", json_object_new_int64(r->ungrounded));
	bad = bad || put(o, "answer_seen", json_object_new_boolean(r->answer_seen));
	bad = bad || put(o, "lang", json_object_new_string(r->lang_summary));
	bad = bad || put(o, "lang_trace", json_object_new_string(r->lang_trace));
	if (!bad && r->flags) {
		bad = !(d = json_object_new_object()) || put(o, "detail", d);
		for (int f = 0; f < SUM_Q_NFLAGS && !bad; f++)
			if (r->flags & SUM_Q_BIT(f))
				bad = put(d, flag_names[f], json_object_new_string(r->detail[f]));
	}
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
