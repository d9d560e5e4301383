/*
 * test_seg_split_diff.c - the fast boundary scan and tag split
 * (src/segment/seg_split.c, seg_input.c) must give exactly what the code
 * they replaced gave (seg_split_ref.c, a frozen copy): the same candidates
 * (at, sep_len, level), the same protected pairs, the same tag split.
 * Compared on every reasoning text of the corpus (when ../shared/data is
 * there), on the inputs of test_segment.c, on many thousands of texts drawn
 * from a grammar of the tricky tokens and on byte soup (fixed seeds), and on
 * pathological inputs: small ones against the reference, 5 MB ones (which a
 * quadratic scan would not finish) for well-formed output.
 *
 * Every text is copied into a heap block of exactly its length, so under
 * ASan a read past the end is an error, not a silent look at a NUL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/segment/seg.h"
#include "infty/jsonl.h"
#include "seg_split_ref.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reused across calls, as the packer reuses its scratch bounds. */
static struct infty_seg_bounds got, want;

static void teardown_bounds(void)
{
	infty_seg_bounds_release(&got);
	infty_seg_bounds_release(&want);
}

/* s[0..n) with C escapes, at most max bytes from off, on stderr. */
static void show(const char *s, size_t n, size_t off, size_t max)
{
	size_t e = off + max < n ? off + max : n;
	fprintf(stderr, "#   text[%zu..%zu) = \"", off, e);
	for (size_t i = off; i < e; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c == '\\' || c == '"')
			fprintf(stderr, "\\%c", c);
		else if (c < 32 || c >= 127)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* Whether the two scans agree; if not, says where on stderr. */
static int same_bounds(const char *s, size_t n, const char *what)
{
	int ok = got.n == want.n && got.nprot == want.nprot;
	size_t k = 0;
	for (; ok && k < got.nprot; k++)
		if (got.prot[2 * k] != want.prot[2 * k] ||
		    got.prot[2 * k + 1] != want.prot[2 * k + 1]) {
			fprintf(stderr,
			        "# %s: protected pair %zu: [%zu,%zu) instead of [%zu,%zu)\n", what,
			        k, got.prot[2 * k], got.prot[2 * k + 1], want.prot[2 * k],
			        want.prot[2 * k + 1]);
			show(s, n, want.prot[2 * k] > 40 ? want.prot[2 * k] - 40 : 0, 160);
			return 0;
		}
	for (k = 0; ok && k < got.n; k++)
		if (got.v[k].at != want.v[k].at || got.v[k].sep_len != want.v[k].sep_len ||
		    got.v[k].level != want.v[k].level) {
			fprintf(
			    stderr,
			    "# %s: candidate %zu: at %zu sep %zu level %d instead of at %zu sep "
			    "%zu level %d\n",
			    what, k, got.v[k].at, got.v[k].sep_len, (int)got.v[k].level,
			    want.v[k].at, want.v[k].sep_len, (int)want.v[k].level);
			size_t a = got.v[k].at < want.v[k].at ? got.v[k].at : want.v[k].at;
			show(s, n, a > 60 ? a - 60 : 0, 160);
			return 0;
		}
	if (!ok) {
		fprintf(stderr, "# %s: %zu candidates, %zu protected instead of %zu, %zu\n", what,
		        got.n, got.nprot, want.n, want.nprot);
		show(s, n, 0, 300);
	}
	return ok;
}

static unsigned long long n_texts, n_bytes, n_tagged;

/*
 * Old and new on s[0..n): find_bounds, then protect alone (which must leave
 * the candidates untouched), from an exact-size copy.
 */
static void diff_bounds(const char *text, size_t n, const char *what)
{
	char *s = malloc(n ? n : 1);
	assert_non_null(s);
	memcpy(s, text, n);
	assert_int_equal(infty_seg_find_bounds(s, n, &got), 0);
	assert_int_equal(infty_segref_find_bounds(s, n, &want), 0);
	if (!same_bounds(s, n, what))
		fail_msg("%s: the scan differs from the reference (%zu bytes)", what, n);
	size_t keep = got.n;
	assert_int_equal(infty_seg_protect(s, n, &got), 0);
	assert_int_equal(infty_segref_protect(s, n, &want), 0);
	assert_int_equal(got.n, keep);
	if (!same_bounds(s, n, what))
		fail_msg("%s: protect alone differs from the reference (%zu bytes)", what, n);
	free(s);
	n_texts++;
	n_bytes += n;
}

/* Old and new tag split of text[0..n): status and all four outputs. */
static void diff_tagged(const char *text, size_t n, const char *what)
{
	char *s = malloc(n ? n : 1);
	assert_non_null(s);
	memcpy(s, text, n);
	const char *r[2] = {NULL, NULL}, *c[2] = {NULL, NULL};
	size_t rn[2] = {7, 7}, cn[2] = {9, 9};
	enum infty_seg_reason a = infty_seg_split_tagged(s, n, &r[0], &rn[0], &c[0], &cn[0]);
	enum infty_seg_reason b = infty_segref_split_tagged(s, n, &r[1], &rn[1], &c[1], &cn[1]);
	if (a != b || r[0] != r[1] || rn[0] != rn[1] || c[0] != c[1] || cn[0] != cn[1]) {
		fprintf(stderr,
		        "# %s: split_tagged gives %s r=%td+%zu c=%td+%zu, the reference %s "
		        "r=%td+%zu c=%td+%zu\n",
		        what, infty_seg_reason_code(a), r[0] ? r[0] - s : -1, rn[0],
		        c[0] ? c[0] - s : -1, cn[0], infty_seg_reason_code(b), r[1] ? r[1] - s : -1,
		        rn[1], c[1] ? c[1] - s : -1, cn[1]);
		show(s, n, 0, 300);
		fail_msg("%s: the tag split differs from the reference", what);
	}
	free(s);
	n_tagged++;
}

/*
 * Well-formed output, for inputs too large for the (quadratic) reference:
 * protected pairs ordered, disjoint, non-empty, inside s; candidates
 * ordered, inside s, not at its edges, never inside a protected pair.
 */
static void assert_sane(const struct infty_seg_bounds *b, size_t n)
{
	for (size_t k = 0; k < b->nprot; k++) {
		assert_true(b->prot[2 * k] < b->prot[2 * k + 1]);
		assert_true(b->prot[2 * k + 1] <= n);
		if (k)
			assert_true(b->prot[2 * k - 1] <= b->prot[2 * k]);
	}
	size_t pk = 0;
	for (size_t k = 0; k < b->n; k++) {
		const struct infty_seg_bound *v = &b->v[k];
		assert_true(v->at > 0 && v->sep_len > 0 && v->at + v->sep_len < n);
		assert_true(v->level == INFTY_SEG_END_PARAGRAPH ||
		            v->level == INFTY_SEG_END_SENTENCE);
		if (k)
			assert_true(b->v[k - 1].at + b->v[k - 1].sep_len < v->at);
		while (pk < b->nprot && b->prot[2 * pk + 1] <= v->at)
			pk++;
		assert_false(pk < b->nprot && b->prot[2 * pk] < v->at);
	}
}

/* A fixed-seed generator, so that every run checks the same cases. */
static uint64_t rnd_state;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rnd_state >> 33) % n);
}

/* ---- the corpus ---------------------------------------------------------- */

/* Every string in o (nested), through the tag split. */
static void tag_strings(struct json_object *o)
{
	if (json_object_is_type(o, json_type_string)) {
		diff_tagged(json_object_get_string(o), (size_t)json_object_get_string_len(o),
		            "corpus string");
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			tag_strings(json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (v)
				tag_strings(v);
		}
	}
}

/*
 * Every row of path: each usable trace's reasoning as infty-segment extracts
 * it (default options) through the scan, every string through the tag
 * split.  Returns the number of reasoning texts, or -1 if path is absent.
 */
static long diff_file(const char *path)
{
	struct infty_reader *in;
	if (infty_reader_open(&in, path, 0, NULL, 0))
		return -1;
	struct infty_seg_input_opts io = {0};
	long traces = 0;
	char what[64];
	for (;;) {
		struct json_object *o = NULL;
		uint64_t line;
		int rc = infty_reader_next(in, &o, &line);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		snprintf(what, sizeof what, "line %llu", (unsigned long long)line);
		struct infty_seg_items it = {0};
		assert_int_equal(infty_seg_extract(o, &io, &it), 0);
		for (size_t i = 0; i < it.n; i++)
			if (it.v[i].reason == INFTY_SEG_OK) {
				diff_bounds(it.v[i].reasoning, it.v[i].reasoning_len, what);
				traces++;
			}
		infty_seg_items_release(&it);
		tag_strings(o);
		json_object_put(o);
	}
	infty_reader_free(in);
	return traces;
}

static const char *shared_dir(void)
{
	const char *s = getenv("INFTY_SHARED");
	return s ? s : "../shared";
}

static void corpus_identical(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof path, "%s/data/corpus/reasoning_traces.jsonl.zst", shared_dir());
	unsigned long long b0 = n_bytes, t0 = n_tagged;
	long n = diff_file(path);
	if (n < 0) {
		/* cmocka's skip() prints "not ok # SKIP", which prove counts as a failure. */
		print_message("# SKIP %s absent: corpus comparison not run\n", path);
		return;
	}
	print_message("# corpus: %ld reasoning texts (%llu bytes), %llu strings split: identical\n",
	              n, n_bytes - b0, n_tagged - t0);
	assert_true(n > 0);
	snprintf(path, sizeof path, "%s/data/openr1_math_messages_sample.jsonl", shared_dir());
	n = diff_file(path);
	if (n < 0)
		print_message("# SKIP %s absent\n", path);
	else
		print_message("# openr1 sample: %ld reasoning texts: identical\n", n);
}

/* ---- fixed inputs ---------------------------------------------------------- */

static const char *const fixed[] = {
    /* test_segment.c's boundaries() */
    "One. Two! Three? Four\n\nFive",
    "E.g. this, i.e. that, see Fig. 3 and eq. 2 etc. ok",
    "The value is 3.5 now. It is 3. Then",
    "List:\n1. first\n2. second\n(a) third\nb. fourth",
    "Inline $a. B\n\nc$ is fine",
    "Display $$a. B\n\nc$$ end. Next",
    "So \\[x.\n\ny\\] and \\(p. Q\\) and \\begin{align} a. \\\\\n\n b \\end{align} done. Next",
    "Code:\n```\nx = 1. y\n\nz\n```\nAfter. More",
    "Costs \\$5. Then \\$6.",
    "\n\nLeading and trailing\n\n",
    "He said \"stop.\" Then left.",
    /* edges the fast paths must keep */
    "",
    " ",
    "\n\n",
    "a",
    "a.",
    "a. b",
    "$",
    "$$",
    "$$$",
    "\\",
    "\\\\",
    "x\\",
    "\\(",
    "\\[",
    "\\begin{",
    "\\begin{x}",
    "\\begin{x}\\end{x}",
    "\\begin{x}\\end{x",
    "\\begin{x} a \\begin{x} b \\end{x} c",
    "\\begin{x} \\begin{y} \\end{x} \\end{y}",
    "\\begin{}\\end{}",
    "\\begin{a\nb}\\end{a\nb}",
    "```",
    "```\n",
    "```\n```",
    "  ```\n  ```",
    "x```\n```",
    "a. ```\n```",
    "End.\xe2\x80\x9d Next",
    "End.\xe2\x80\x99) Next",
    "End.)\xe2\x80\x9d Next",
    "End.\"') Next",
    "Wait... what? Yes!",
    "(iv. x\n(iv. y\n  12. z\n\t1234. w\n12345. v",
    "A. B. C. One. Two.",
    "Dr. Who met Mr. X. vs. e.g. I.E. etc. al. Fig. figs. p. pp.",
    "$a\\$b$ $c\\\\$ d. E",
    "$a\n\nb$ c. D",
    "\\(a\n\nb\\) c. D",
    "\\(a\\\n\nb\\) c. D",
    "$a\\\n\nb$ c. D",
    "x.\r\ny.\fz.\vw.\t v",
    "\xe6\x95\xb0\xe5\xad\xa6\xe3\x80\x82 \xf0\x9f\x98\x80. Next",
};

static void fixed_identical(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		size_t n = strlen(fixed[i]);
		/* Every prefix too: each one ends the text somewhere new. */
		for (size_t k = 0; k <= n; k++)
			diff_bounds(fixed[i], k, fixed[i]);
	}
}

/* ---- texts from a grammar of the tricky tokens ----------------------------- */

static const char *const grammar[] = {
    "$",
    "$",
    "$$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "\\begin{align}",
    "\\end{align}",
    "\\begin{x}",
    "\\end{x}",
    "\\begin{",
    "\\end{",
    "}",
    "{",
    "```",
    "```python\n",
    "\\",
    "\\\\",
    "\\$",
    "\\\\\\",
    "\\text{ok}",
    ".",
    ".",
    "..",
    "...",
    "!",
    "?",
    "e.g.",
    "i.e.",
    "E.g.",
    "Fig.",
    "fig.",
    "Eq.",
    "etc.",
    "vs.",
    "Dr.",
    "p.",
    "al.",
    "approx.",
    "1.",
    "12.",
    "123.",
    "1234.",
    "3.14",
    "0.5",
    "(a)",
    "(1)",
    "(",
    "a.",
    "b.",
    "iv.",
    "IV.",
    "xii.",
    "One.",
    "A.",
    "\"",
    "'",
    ")",
    "]",
    "\xe2\x80\x9d",
    "\xe2\x80\x99",
    "\xe2\x80\x9c",
    "\n",
    "\n",
    "\n\n",
    "\n\n\n",
    " ",
    " ",
    " ",
    " ",
    "  ",
    "\t",
    "\r\n",
    "\f",
    "\v",
    " \n ",
    "word",
    "Word",
    "words",
    "x",
    "y2",
    "\xe6\x95\xb0\xe5\xad\xa6\xe3\x80\x82",
    "\xf0\x9f\x98\x80",
    "\xc3\xa9",
    "\xe2\x80",
    "\x9d",
    "<think>",
    "</think>",
    /* every abbreviation, some capitalised, and near misses */
    "e.g.",
    "I.e.",
    "fig.",
    "Figs.",
    "eq.",
    "Eqs.",
    "vs.",
    "cf.",
    "etc.",
    "al.",
    "approx.",
    "resp.",
    "Thm.",
    "lem.",
    "Prop.",
    "def.",
    "cor.",
    "Sec.",
    "ch.",
    "Mr.",
    "MRS.",
    "ms.",
    "Dr.",
    "st.",
    "p.",
    "pp.",
    "viz.",
    "ref.",
    "Vol.",
    "fi.",
    "egs.",
    "approxx.",
    "e.gg.",
    "x.y.z.",
    "ppp.",
    "abcdefgh.",
    "abcdefghi.",
};

static void grammar_identical(void **state)
{
	(void)state;
	rnd_state = 20250501;
	char *s = malloc(1 << 16);
	assert_non_null(s);
	char what[64];
	unsigned long long b0 = n_bytes, t0 = n_texts;
	for (int iter = 0; iter < 40000; iter++) {
		size_t n = 0;
		int k = (int)rnd(iter % 10 == 0 ? 1500 : 150);
		for (int i = 0; i < k; i++) {
			const char *t = grammar[rnd(sizeof grammar / sizeof *grammar)];
			size_t tl = strlen(t);
			memcpy(s + n, t, tl);
			n += tl;
		}
		snprintf(what, sizeof what, "grammar case %d", iter);
		diff_bounds(s, n, what);
		diff_bounds(s, rnd((unsigned)n + 1), what); /* cut anywhere */
	}
	print_message("# grammar: %llu texts, %llu bytes: identical\n", n_texts - t0, n_bytes - b0);
	free(s);
}

/* Byte soup heavy in delimiters, as test_segment.c's random_bytes(). */
static void bytes_identical(void **state)
{
	(void)state;
	rnd_state = 777;
	static const char alpha[] = "$$$\\\\\\``{}[]().!? \n\n\t\r\"'ab9e\xc3\xa9\xe2\x80\x9d\x99";
	static const char *const words[] = {"\\begin{x}", "\\end{x}", "```",   "\\[",  "\\]",
	                                    "\\(",        "\\)",      "e.g. ", "\n\n", "iv. "};
	char s[600];
	for (int iter = 0; iter < 40000; iter++) {
		size_t n = rnd(sizeof s - 16);
		for (size_t i = 0; i < n; i++)
			s[i] = alpha[rnd(sizeof alpha - 1)];
		for (int w = (int)rnd(4); w > 0 && n > 12; w--) {
			const char *x = words[rnd(sizeof words / sizeof *words)];
			memcpy(s + rnd((unsigned)(n - 10)), x, strlen(x));
		}
		diff_bounds(s, n, "byte soup");
	}
}

/* ---- the tag split --------------------------------------------------------- */

static const char *const tags[] = {
    "<think>",
    "</think>",
    "<|begin_of_thought|>",
    "<|end_of_thought|>",
    "<|begin_of_solution|>",
    "<|end_of_solution|>",
    "<answer>",
    "</answer>",
    "<",
    "<|",
    "</",
    "</think",
    "<|end_of_thought",
    "think>",
    "|>",
    "\n",
    "\n",
    " ",
    "\r",
    "\t",
    "x",
    "reason",
    "\\boxed{1}",
    "<<",
    "<</think>",
};

static void tagged_identical(void **state)
{
	(void)state;
	rnd_state = 4242;
	char s[4096];
	for (int iter = 0; iter < 60000; iter++) {
		size_t n = 0;
		int k = (int)rnd(40);
		for (int i = 0; i < k; i++) {
			const char *t = tags[rnd(sizeof tags / sizeof *tags)];
			memcpy(s + n, t, strlen(t));
			n += strlen(t);
		}
		diff_tagged(s, n, "tag grammar");
		diff_tagged(s, rnd((unsigned)n + 1), "tag grammar prefix");
	}
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		diff_tagged(fixed[i], strlen(fixed[i]), fixed[i]);
}

/* ---- pathological inputs --------------------------------------------------- */

/*
 * Units that, repeated, make an opener look for a closer that never comes,
 * or a look-behind walk far: each must cost the fast scan linear time.
 */
static const char *const patho[] = {
    "$",          "$$ ",
    "$ ",         "\\[",
    "\\(",        "\\( a. B ",
    "\\(\n",      "$a\n",
    "\\begin{x}", "\\begin{x} a. ",
    "\\end{x}",   "\\begin{x}\\[",
    "\\",         "\\$",
    "$\\",        "\\\\(",
    "a. ",        "1.\n",
    "( ",         ")",
    " ",          "\n",
    "```\n",      "x```\n",
    "\\)",        "\\]",
    "$$\\[",      "\\begin{",
    ".",          "\\begin{xy}\\end{x}",
};

/* s[0..n) filled with unit, over and over (then cut). */
static void fill(char *s, size_t n, const char *unit)
{
	size_t k = strlen(unit);
	for (size_t i = 0; i < n; i++)
		s[i] = unit[i % k];
}

/* \begin{e1}\begin{e2}... : a different unclosed environment every time. */
static size_t fill_names(char *s, size_t n)
{
	size_t m = 0;
	for (unsigned i = 0; m + 40 < n; i++)
		m += (size_t)snprintf(s + m, n - m, "\\begin{e%u} t. ", i);
	return m;
}

static void pathological_small(void **state)
{
	(void)state;
	const size_t small = 6000;
	char *s = malloc(small + 64);
	assert_non_null(s);
	for (size_t u = 0; u < sizeof patho / sizeof *patho; u++) {
		fill(s, small, patho[u]);
		diff_bounds(s, small, patho[u]);
		diff_tagged(s, small, patho[u]);
	}
	fill(s, 900, "\\begin{x}");
	fill(s + 900, 700, "\\end{x}");
	diff_bounds(s, 1600, "nest");
	size_t m = fill_names(s, small);
	diff_bounds(s, m, "names");
	free(s);
}

/*
 * The same units at 5 MB, and a few shapes of their own, for well-formed
 * output only: the reference is quadratic on most of them and would not
 * finish; a scan that is quadratic again makes this test time out.
 */
static void pathological_large(void **state)
{
	(void)state;
	const size_t big = 5u << 20;
	char *s = malloc(big + 64);
	assert_non_null(s);
	struct infty_seg_bounds b = {0};
	for (size_t u = 0; u < sizeof patho / sizeof *patho; u++) {
		fill(s, big, patho[u]);
		assert_int_equal(infty_seg_find_bounds(s, big, &b), 0);
		assert_sane(&b, big);
	}
	/* Spaces before a fence: line_start() looks back over all of them. */
	memset(s, ' ', big);
	memcpy(s + big - 4, "```\n", 4);
	assert_int_equal(infty_seg_find_bounds(s, big, &b), 0);
	assert_sane(&b, big);
	/* A nest 300,000 deep that closes: one region. */
	size_t depth = 300000, m = 0;
	for (size_t k = 0; k < depth; k++, m += 9)
		memcpy(s + m, "\\begin{x}", 9);
	for (size_t k = 0; k < depth; k++, m += 7)
		memcpy(s + m, "\\end{x}", 7);
	assert_int_equal(infty_seg_find_bounds(s, m, &b), 0);
	assert_sane(&b, m);
	assert_int_equal(b.nprot, 1);
	/* The same nest, unclosed at the top: every opener asks. */
	assert_int_equal(infty_seg_find_bounds(s, m - 7, &b), 0);
	assert_sane(&b, m - 7);
	/* Every environment a new name, never closed. */
	m = fill_names(s, big);
	assert_int_equal(infty_seg_find_bounds(s, m, &b), 0);
	assert_sane(&b, m);
	/* Tags: near misses everywhere, and no tag at all. */
	const char *r, *c;
	size_t rn, cn;
	fill(s, big, "</think");
	assert_int_equal(infty_seg_split_tagged(s, big, &r, &rn, &c, &cn),
	                 INFTY_SEG_R_NO_THINK_CLOSE);
	fill(s, big, "<|end_of_thought");
	assert_int_equal(infty_seg_split_tagged(s, big, &r, &rn, &c, &cn),
	                 INFTY_SEG_R_NO_THINK_CLOSE);
	infty_seg_bounds_release(&b);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fixed_identical),    cmocka_unit_test(grammar_identical),
	    cmocka_unit_test(bytes_identical),    cmocka_unit_test(tagged_identical),
	    cmocka_unit_test(pathological_small), cmocka_unit_test(pathological_large),
	    cmocka_unit_test(corpus_identical),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	teardown_bounds();
	return rc;
}
