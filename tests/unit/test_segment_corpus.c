/*
 * test_segment_corpus.c - infty-segment's properties on real traces with the
 * real tokenizer: joining segments gives the reasoning back byte for byte,
 * every strict segment is within eta by an exact recount, and no paragraph
 * or sentence cut lies inside math (checked by delimiter balance, apart from
 * the engine's own scanner).
 *
 * By default a sample (every 25th corpus row, plus the OpenR1 sample); with
 * INFTY_SEG_CORPUS_ALL=1 every row (make check-segment-corpus).  Skips with a
 * message when ../shared/data or the tokenizer is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/segment/seg.h"
#include "../../src/segment/seg_run.h"
#include "../../src/segment/seg_tok.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct infty_tokenizer *tok;
static struct infty_seg_counter counter;
static void *cctx;
/* The recount: a tokenizer context of its own, counting each segment's text
 * alone from scratch (the engine counts through its piece map). */
static struct infty_tok_ctx *recount;

static const char *shared_dir(void)
{
	const char *s = getenv("INFTY_SHARED");
	return s ? s : "../shared";
}

static int setup(void **state)
{
	(void)state;
	char detail[256] = "";
	const char *path = infty_tokenizer_default_path();
	if (!path || infty_tokenizer_load(&tok, path, detail, sizeof detail)) {
		tok = NULL;
		return 0;
	}
	infty_seg_tok_counter(&counter, tok);
	cctx = counter.ctx_new(counter.arg);
	recount = infty_tok_ctx_new(tok);
	return cctx && recount ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (cctx)
		counter.ctx_free(cctx);
	infty_tok_ctx_free(recount);
	infty_tokenizer_free(tok);
	return 0;
}

/* Occurrences of lit in s[a..b). */
static size_t occ(const char *s, size_t a, size_t b, const char *lit)
{
	size_t k = strlen(lit), n = 0;
	for (size_t i = a; i + k <= b; i++)
		if (memcmp(s + i, lit, k) == 0 && (i == 0 || s[i - 1] != '\\' || lit[0] == '\\'))
			n++;
	return n;
}

/* Single "$" not part of "$$" and not escaped, in s[a..b). */
static size_t dollars(const char *s, size_t a, size_t b)
{
	size_t n = 0;
	for (size_t i = a; i < b; i++) {
		if (s[i] != '$' || (i > 0 && s[i - 1] == '\\'))
			continue;
		if (i + 1 < b && s[i + 1] == '$') {
			i++;
			continue;
		}
		n++;
	}
	return n;
}

/*
 * Whether a cut at p is inside math: display delimiters counted over the
 * prefix (when the whole text balances), inline ones over the paragraph
 * (inline math never spans a blank line in LaTeX).
 */
static int inside_math(const char *s, size_t n, size_t p)
{
	const char *pairs[][2] = {{"\\[", "\\]"}, {"\\begin{", "\\end{"}};
	for (size_t k = 0; k < 2; k++)
		if (occ(s, 0, n, pairs[k][0]) == occ(s, 0, n, pairs[k][1]) &&
		    occ(s, 0, p, pairs[k][0]) != occ(s, 0, p, pairs[k][1]))
			return 1;
	if (occ(s, 0, n, "$$") % 2 == 0 && occ(s, 0, p, "$$") % 2)
		return 1;
	size_t a = p, b = p;
	while (a > 0 && !(a >= 2 && s[a - 1] == '\n' && s[a - 2] == '\n'))
		a--;
	while (b < n && !(b + 1 < n && s[b] == '\n' && s[b + 1] == '\n'))
		b++;
	if (dollars(s, a, b) % 2 == 0 && dollars(s, a, p) % 2)
		return 1;
	if (occ(s, a, b, "\\(") == occ(s, a, b, "\\)") &&
	    occ(s, a, p, "\\(") != occ(s, a, p, "\\)"))
		return 1;
	return 0;
}

struct tally {
	uint64_t traces, segments, hard, lines, checked_cuts;
};

static void check_trace(const char *r, size_t n, int64_t eta, struct tally *t)
{
	struct infty_seg_spans o = {0};
	for (int mode = 0; mode < 2; mode++) {
		struct infty_seg_params p = {
		    .eta = eta,
		    .pack = (enum infty_seg_pack)mode,
		    .min_tail = mode ? 0 : 256,
		    .count = counter.count,
		    .cut = counter.cut,
		    .begin = counter.begin,
		    .ctx = cctx,
		};
		assert_int_equal(infty_seg_pack_text(&p, r, n, &o), 0);
		size_t pos = 0;
		for (size_t i = 0; i < o.n; i++) {
			const struct infty_seg_span *g = &o.v[i];
			assert_int_equal(g->off, pos);
			pos += g->len + g->sep_len;
			int64_t exact = infty_tok_count(recount, r + g->off, g->len);
			assert_int_equal(g->tokens, exact);
			if (mode == INFTY_SEG_PACK_STRICT) {
				assert_true(exact <= eta);
				t->segments++;
				t->hard += g->end == INFTY_SEG_END_HARD;
				t->lines += g->end == INFTY_SEG_END_LINE;
				if (i + 1 < o.n && g->end != INFTY_SEG_END_HARD &&
				    g->end != INFTY_SEG_END_LINE) {
					t->checked_cuts++;
					if (inside_math(r, n, g->off + g->len))
						fail_msg("cut inside math at byte %zu: "
						         "...%.80s|%.80s...",
						         g->off + g->len,
						         r + (g->off + g->len > 80
						                  ? g->off + g->len - 80
						                  : 0),
						         r + g->off + g->len);
				}
			} else if (i + 1 < o.n) {
				assert_true(g->step_tokens > eta);
				assert_int_equal(g->sep_len, 2);
			}
		}
		assert_int_equal(pos, n);
	}
	t->traces++;
	infty_seg_spans_release(&o);
}

static void check_file(const char *path, unsigned every, int64_t eta, struct tally *t)
{
	struct infty_reader *in;
	assert_int_equal(infty_reader_open(&in, path, 0, NULL, 0), 0);
	struct infty_seg_input_opts io = {0};
	uint64_t row = 0;
	for (;;) {
		/* Only sampled lines are parsed: the rest cost a line split. */
		const char *line;
		size_t len;
		uint64_t lineno;
		int rc = infty_reader_next_line(in, &line, &len, &lineno);
		if (rc == 0)
			break;
		assert_true(rc > 0);
		if (len == 0 || row++ % every)
			continue;
		struct json_object *obj = NULL;
		assert_int_equal(infty_json_parse(line, len, &obj, NULL, 0), 0);
		struct infty_seg_items it = {0};
		assert_int_equal(infty_seg_extract(obj, &io, &it), 0);
		for (size_t i = 0; i < it.n; i++)
			if (it.v[i].reason == INFTY_SEG_OK)
				check_trace(it.v[i].reasoning, it.v[i].reasoning_len, eta, t);
		infty_seg_items_release(&it);
		json_object_put(obj);
	}
	infty_reader_free(in);
}

static void corpus_properties(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof path, "%s/data/corpus/reasoning_traces.jsonl.zst", shared_dir());
	if (!tok || access(path, R_OK)) {
		print_message("# SKIP corpus properties: %s\n",
		              !tok ? "no tokenizer (run make tokenizer)"
		                   : "no ../shared/data corpus");
		return; /* cmocka's skip() prints "not ok # SKIP", which prove fails */
	}
	int all =
	    getenv("INFTY_SEG_CORPUS_ALL") && strcmp(getenv("INFTY_SEG_CORPUS_ALL"), "1") == 0;
	struct tally t = {0};
	check_file(path, all ? 1 : 25, 2048, &t);
	print_message("# corpus: %llu traces, %llu strict segments, %llu cuts checked, %llu hard, "
	              "%llu line\n",
	              (unsigned long long)t.traces, (unsigned long long)t.segments,
	              (unsigned long long)t.checked_cuts, (unsigned long long)t.hard,
	              (unsigned long long)t.lines);
	assert_true(t.traces > (all ? 8000u : 300u));
	assert_true(t.checked_cuts > 100);
}

static void openr1_sample_properties(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof path, "%s/data/openr1_math_messages_sample.jsonl", shared_dir());
	if (!tok || access(path, R_OK)) {
		print_message("# SKIP openr1 sample: no tokenizer or no ../shared/data\n");
		return; /* cmocka's skip() prints "not ok # SKIP", which prove fails */
	}
	struct tally t = {0};
	for (int64_t eta = 512; eta <= 6144; eta *= 2)
		check_file(path, 1, eta, &t);
	assert_int_equal(t.traces, 40);
}

/* The tokenizer's hard cut: token boundaries, whole characters, within eta. */
static void hard_cut_real_tokenizer(void **state)
{
	(void)state;
	if (!tok) {
		print_message("# SKIP hard cuts: no tokenizer\n");
		return; /* cmocka's skip() prints "not ok # SKIP", which prove fails */
	}
	size_t n = 40000;
	char *s = malloc(n);
	assert_non_null(s);
	/* No spaces, no sentence ends: only hard cuts can split it; mix in 3-byte chars. */
	for (size_t i = 0; i < n;) {
		if (i % 50 == 7 && i + 3 <= n) {
			memcpy(s + i, "\xe2\x88\x91", 3); /* U+2211 */
			i += 3;
		} else {
			s[i] = (char)('a' + (i * 7) % 26);
			i++;
		}
	}
	struct infty_seg_spans o = {0};
	struct infty_seg_params p = {.eta = 300,
	                             .count = counter.count,
	                             .cut = counter.cut,
	                             .begin = counter.begin,
	                             .ctx = cctx};
	assert_int_equal(infty_seg_pack_text(&p, s, n, &o), 0);
	assert_true(o.n > 10);
	size_t pos = 0;
	for (size_t i = 0; i < o.n; i++) {
		assert_int_equal(o.v[i].off, pos);
		pos += o.v[i].len + o.v[i].sep_len;
		assert_true(o.v[i].tokens <= 300);
		assert_int_equal(o.v[i].tokens,
		                 infty_tok_count(recount, s + o.v[i].off, o.v[i].len));
		/* Segments start on a character boundary. */
		assert_true(((unsigned char)s[o.v[i].off] & 0xC0) != 0x80);
		if (i + 1 < o.n) {
			assert_int_equal(o.v[i].end, INFTY_SEG_END_HARD);
			/* Packed close to eta: a cut gives away at most a few tokens. */
			assert_true(o.v[i].tokens >= 290);
		}
	}
	assert_int_equal(pos, n);
	infty_seg_spans_release(&o);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hard_cut_real_tokenizer),
	    cmocka_unit_test(openr1_sample_properties),
	    cmocka_unit_test(corpus_properties),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
