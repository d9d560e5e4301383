/*
 * seg_pack.c - pack a reasoning text into segments: strict (every segment at
 * most eta tokens by exact recount, paragraph then sentence then hard cuts)
 * or paper (the reference's "\n\n" steps and overflow-inclusive packing).
 *
 * Both modes return spans that tile the text (text, separator, text, ...),
 * so joining text + sep gives the reasoning back byte for byte.
 */
#include "seg.h"

#include "infty/alloc.h"
#include "infty/error.h"

#include <string.h>
#include <utf8proc.h>

const char *infty_seg_end_name(enum infty_seg_end e)
{
	switch (e) {
	case INFTY_SEG_END_PARAGRAPH:
		return "paragraph";
	case INFTY_SEG_END_SENTENCE:
		return "sentence";
	case INFTY_SEG_END_HARD:
		return "hard";
	case INFTY_SEG_END_FINAL:
		return "final";
	case INFTY_SEG_END_LINE:
		return "line";
	}
	return "?";
}

void infty_seg_spans_release(struct infty_seg_spans *s)
{
	infty_free(s->v);
	infty_free(s->units);
	infty_seg_bounds_release(&s->bounds);
	memset(s, 0, sizeof *s);
}

int infty_seg_starts_upper(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	utf8proc_int32_t cp;
	utf8proc_ssize_t k =
	    utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
	if (k <= 0)
		return 0;
	return utf8proc_isupper(cp);
}

static int push(struct infty_seg_span **v, size_t *n, size_t *cap, size_t off, size_t len,
                size_t sep_len, int64_t tokens, enum infty_seg_end end)
{
	if (infty_grow(v, cap, *n + 1, sizeof **v))
		return INFTY_ENOMEM;
	struct infty_seg_span *x = &(*v)[(*n)++];
	x->off = off;
	x->len = len;
	x->sep_len = sep_len;
	x->tokens = tokens;
	x->step_tokens = -1;
	x->end = end;
	return 0;
}

/* Largest UTF-8 character boundary <= i. */
static size_t char_floor(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/*
 * The hard cut: the longest prefix of s[0..n) (n > 0) at a character boundary
 * whose standalone count is at most eta, at least one character so the loop
 * always progresses.  The tokenizer's answer is tried first; a binary search
 * on counts covers its absence or a wrong answer.  *tokens gets the count.
 */
static int hard_prefix(const struct infty_seg_params *p, const char *s, size_t n, size_t *out,
                       int64_t *tokens)
{
	if (p->cut) {
		size_t L = p->cut(p->ctx, s, n, p->eta);
		if (L > 0 && L < n && char_floor(s, L) == L) {
			int64_t t = p->count(p->ctx, s, L);
			if (t < 0)
				return (int)t;
			if (t <= p->eta) {
				*out = L;
				*tokens = t;
				return 0;
			}
		}
	}
	/* Invariant: prefix lo fits (or lo is the one-character minimum), hi does not. */
	size_t one = 1;
	while (one < n && ((unsigned char)s[one] & 0xC0) == 0x80)
		one++;
	size_t lo = one, hi = n;
	int64_t tlo = p->count(p->ctx, s, lo);
	if (tlo < 0)
		return (int)tlo;
	while (hi - lo > 1) {
		size_t mid = char_floor(s, lo + (hi - lo) / 2);
		if (mid <= lo) {
			/* Walk forward to the next character boundary instead. */
			mid = lo + 1;
			while (mid < hi && ((unsigned char)s[mid] & 0xC0) == 0x80)
				mid++;
			if (mid >= hi)
				break;
		}
		int64_t t = p->count(p->ctx, s, mid);
		if (t < 0)
			return (int)t;
		if (t <= p->eta) {
			lo = mid;
			tlo = t;
		} else {
			hi = mid;
		}
	}
	*out = lo;
	*tokens = tlo;
	return 0;
}

/*
 * Units for strict packing: paragraphs that fit; sentences of those that do
 * not; hard pieces of sentences that still do not.  Each unit records the
 * level of the boundary after it.
 */
static int add_piece(const struct infty_seg_params *p, struct infty_seg_spans *o, const char *s,
                     size_t off, size_t len, size_t sep_len, enum infty_seg_end level,
                     int64_t tokens)
{
	while (tokens > p->eta) {
		size_t L = 0;
		int64_t t = 0;
		int rc = hard_prefix(p, s + off, len, &L, &t);
		if (rc)
			return rc;
		if (L >= len)
			break; /* a single character over eta: nothing smaller exists */
		if (push(&o->units, &o->nunits, &o->unitcap, off, L, 0, t, INFTY_SEG_END_HARD))
			return INFTY_ENOMEM;
		off += L;
		len -= L;
		tokens = p->count(p->ctx, s + off, len);
		if (tokens < 0)
			return (int)tokens;
	}
	return push(&o->units, &o->nunits, &o->unitcap, off, len, sep_len, tokens, level)
	           ? INFTY_ENOMEM
	           : 0;
}

/*
 * A sentence over eta lies inside math or code (or has no sentence end at
 * all).  Before cutting inside a token run, cut at its line breaks: they are
 * the natural seams of a long code block or align environment.  Each line
 * piece that still does not fit goes to the hard cut.
 */
static int add_lines(const struct infty_seg_params *p, struct infty_seg_spans *o, const char *s,
                     size_t off, size_t len, size_t sep_len, enum infty_seg_end level,
                     int64_t tokens)
{
	if (tokens <= p->eta)
		return add_piece(p, o, s, off, len, sep_len, level, tokens);
	size_t start = off, end = off + len, i = off;
	while (i < end) {
		if (s[i] != '\n' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
			i++;
			continue;
		}
		size_t a = i, nl = 0;
		while (i < end && (s[i] == '\n' || s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			nl += s[i++] == '\n';
		if (!nl || a == off || i == end)
			continue;
		int64_t t = p->count(p->ctx, s + start, a - start);
		if (t < 0)
			return (int)t;
		int rc = add_piece(p, o, s, start, a - start, i - a, INFTY_SEG_END_LINE, t);
		if (rc)
			return rc;
		start = i;
	}
	if (start != off) {
		tokens = p->count(p->ctx, s + start, end - start);
		if (tokens < 0)
			return (int)tokens;
	}
	return add_piece(p, o, s, start, end - start, sep_len, level, tokens);
}

static int build_units(const struct infty_seg_params *p, struct infty_seg_spans *o, const char *s,
                       size_t n)
{
	struct infty_seg_bounds *b = &o->bounds;
	int rc = infty_seg_find_bounds(s, n, b);
	if (rc)
		return rc;
	o->nunits = 0;
	size_t start = 0, k = 0;
	for (;;) {
		/* The next paragraph: [start, pend), then its separator. */
		size_t j = k;
		while (j < b->n && b->v[j].level != INFTY_SEG_END_PARAGRAPH)
			j++;
		size_t pend = j < b->n ? b->v[j].at : n;
		size_t psep = j < b->n ? b->v[j].sep_len : 0;
		enum infty_seg_end plevel =
		    j < b->n ? INFTY_SEG_END_PARAGRAPH : INFTY_SEG_END_FINAL;
		int64_t t = p->count(p->ctx, s + start, pend - start);
		if (t < 0)
			return (int)t;
		if (t <= p->eta) {
			if (push(&o->units, &o->nunits, &o->unitcap, start, pend - start, psep, t,
			         plevel))
				return INFTY_ENOMEM;
		} else {
			/* Sentences k..j-1 lie inside this paragraph. */
			size_t ss = start;
			for (size_t q = k; q <= j; q++) {
				size_t se = q < j ? b->v[q].at : pend;
				size_t sl = q < j ? b->v[q].sep_len : psep;
				enum infty_seg_end lv = q < j ? INFTY_SEG_END_SENTENCE : plevel;
				int64_t st = p->count(p->ctx, s + ss, se - ss);
				if (st < 0)
					return (int)st;
				rc = add_lines(p, o, s, ss, se - ss, sl, lv, st);
				if (rc)
					return rc;
				ss = se + sl;
			}
		}
		if (j >= b->n)
			break;
		start = pend + psep;
		k = j + 1;
	}
	return 0;
}

/* Exact count of units i..j joined with their inner separators. */
static int64_t count_range(const struct infty_seg_params *p, const struct infty_seg_spans *o,
                           const char *s, size_t i, size_t j)
{
	if (i == j)
		return o->units[i].tokens;
	size_t a = o->units[i].off;
	size_t e = o->units[j].off + o->units[j].len;
	return p->count(p->ctx, s + a, e - a);
}

/*
 * The end of the segment that starts at unit i: the last unit j such that
 * units i..j, joined with their separators, count at most eta (i itself
 * always, even if alone it does not fit: that is a hard-cut piece).  Counts
 * grow with j except in contrived texts, so gallop then bisect: O(log n)
 * exact counts per segment, cheap with a piece map and bounded without one.
 */
static int last_fitting(const struct infty_seg_params *p, const struct infty_seg_spans *o,
                        const char *s, size_t i, size_t *jout, int64_t *tokens)
{
	size_t N = o->nunits, lo = i, hi = N; /* lo fits; hi (if < N) does not */
	int64_t tlo = o->units[i].tokens;
	for (size_t step = 1; lo + 1 < hi;) {
		size_t j = lo + step < hi ? lo + step : hi - 1;
		int64_t t = count_range(p, o, s, i, j);
		if (t < 0)
			return (int)t;
		if (t <= p->eta) {
			lo = j;
			tlo = t;
			step *= 2;
		} else {
			hi = j;
			break;
		}
	}
	while (hi - lo > 1) {
		size_t j = lo + (hi - lo) / 2;
		int64_t t = count_range(p, o, s, i, j);
		if (t < 0)
			return (int)t;
		if (t <= p->eta) {
			lo = j;
			tlo = t;
		} else {
			hi = j;
		}
	}
	*jout = lo;
	*tokens = tlo;
	return 0;
}

static int pack_strict(const struct infty_seg_params *p, const char *s, size_t n, int64_t total,
                       struct infty_seg_spans *o)
{
	/* Most traces fit whole: the count of the whole text settles them. */
	if (total <= p->eta)
		return push(&o->v, &o->n, &o->cap, 0, n, 0, total, INFTY_SEG_END_FINAL)
		           ? INFTY_ENOMEM
		           : 0;
	int rc = build_units(p, o, s, n);
	if (rc)
		return rc;
	struct infty_seg_span *u = o->units;
	size_t N = o->nunits;
	for (size_t i = 0, j = 0; i < N; i = j + 1) {
		int64_t exact = 0;
		if ((rc = last_fitting(p, o, s, i, &j, &exact)))
			return rc;
		size_t off = u[i].off;
		size_t end = u[j].off + u[j].len;
		enum infty_seg_end lv = j + 1 == N ? INFTY_SEG_END_FINAL : u[j].end;
		if (push(&o->v, &o->n, &o->cap, off, end - off, j + 1 == N ? 0 : u[j].sep_len,
		         exact, lv))
			return INFTY_ENOMEM;
	}
	/* A tiny last segment goes back into the one before when both fit. */
	if (o->n >= 2 && o->v[o->n - 1].tokens < p->min_tail) {
		struct infty_seg_span *a = &o->v[o->n - 2], *z = &o->v[o->n - 1];
		int64_t t = p->count(p->ctx, s + a->off, z->off + z->len - a->off);
		if (t < 0)
			return (int)t;
		if (t <= p->eta) {
			a->len = z->off + z->len - a->off;
			a->sep_len = 0;
			a->tokens = t;
			a->end = INFTY_SEG_END_FINAL;
			o->n--;
		}
	}
	return 0;
}

/*
 * The reference: split on the exact "\n\n"; a paragraph that does not start
 * with an uppercase letter (or is empty, where the reference crashes) is
 * glued onto the previous step; each step is counted alone; a chunk closes
 * as soon as its running sum exceeds eta, the overflowing step included.
 */
static int pack_paper(const struct infty_seg_params *p, const char *s, size_t n,
                      struct infty_seg_spans *o)
{
	size_t cstart = 0; /* start of the current chunk */
	size_t sstart = 0; /* start of the current step */
	int64_t run = 0;   /* the chunk's sum of closed steps */
	int have_step = 0;
	size_t pos = 0;
	for (;;) {
		const char *f = pos <= n ? memmem(s + pos, n - pos, "\n\n", 2) : NULL;
		size_t pend = f ? (size_t)(f - s) : n;
		int glue = have_step && !infty_seg_starts_upper(s + pos, pend - pos);
		if (have_step && !glue) {
			/* The previous step [sstart, pos-2) is complete: count it. */
			int64_t t = p->count(p->ctx, s + sstart, pos - 2 - sstart);
			if (t < 0)
				return (int)t;
			run += t;
			if (run > p->eta) {
				if (push(&o->v, &o->n, &o->cap, cstart, pos - 2 - cstart, 2, -1,
				         INFTY_SEG_END_PARAGRAPH))
					return INFTY_ENOMEM;
				o->v[o->n - 1].step_tokens = run;
				cstart = pos;
				run = 0;
			}
			sstart = pos;
		}
		have_step = 1;
		if (!f)
			break;
		pos = pend + 2;
	}
	/* The last step closes the text: count it, then the final chunk. */
	int64_t t = p->count(p->ctx, s + sstart, n - sstart);
	if (t < 0)
		return (int)t;
	run += t;
	/* Overflowing or not, the last step ends the last chunk. */
	if (push(&o->v, &o->n, &o->cap, cstart, n - cstart, 0, -1, INFTY_SEG_END_FINAL))
		return INFTY_ENOMEM;
	o->v[o->n - 1].step_tokens = run;
	/* The recorded count is always the exact count of the text alone. */
	for (size_t i = 0; i < o->n; i++) {
		int64_t x = p->count(p->ctx, s + o->v[i].off, o->v[i].len);
		if (x < 0)
			return (int)x;
		o->v[i].tokens = x;
	}
	return 0;
}

int infty_seg_pack_text(const struct infty_seg_params *p, const char *s, size_t n,
                        struct infty_seg_spans *out)
{
	out->n = 0;
	if (p->eta <= 0 || !p->count)
		return INFTY_EINVAL;
	int64_t total = p->begin                           ? p->begin(p->ctx, s, n)
	                : p->pack == INFTY_SEG_PACK_STRICT ? p->count(p->ctx, s, n)
	                                                   : 0;
	int rc = total < 0                         ? (int)total
	         : p->pack == INFTY_SEG_PACK_PAPER ? pack_paper(p, s, n, out)
	                                           : pack_strict(p, s, n, total, out);
	if (p->begin)
		p->begin(p->ctx, NULL, 0); /* s may go away now */
	return rc;
}
