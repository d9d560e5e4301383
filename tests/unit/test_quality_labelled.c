/*
 * test_quality_labelled.c - precision and recall of each summary check on
 * hand-labelled cases: summaries we wrote (good ones, bad ones with one
 * fault each, and hard negatives that look suspicious but are fine) for
 * segments of real shared traces.
 *
 * tests/fixtures/quality/labelled.jsonl holds the summaries and their human
 * labels; tests/fixtures/quality/traces.jsonl says where each trace's first
 * segments lie in ../shared/data (written by traces.py from infty-segment
 * at eta 160).  The traces themselves are read from the shared files, not
 * copied; without them the test skips with a message.
 *
 * The figures are printed (docs/quality.md quotes them) and each check must
 * keep precision and recall of at least 0.5 on these cases: a floor that
 * catches a check broken by a change, not a claim about every dataset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/summarize/sum_quality.h"
#include "infty/alloc.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX        "tests/fixtures/quality/"
#define MAX_TRACES 64
#define MAX_SEGS   8

struct trace {
	char key[32];
	char *question, *text; /* owned */
	size_t seg_off[MAX_SEGS], seg_len[MAX_SEGS];
	long seg_tok[MAX_SEGS];
	size_t nseg;
	char file[256];
	long line;
};

static struct trace traces[MAX_TRACES];
static size_t ntraces;

static const char *shared_dir(void)
{
	const char *s = getenv("INFTY_SHARED");
	return s ? s : "../shared";
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *gets(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);
	return v ? json_object_get_string(v) : NULL;
}

/* Reads traces.jsonl (fails the test on a malformed fixture). */
static void load_table(void)
{
	FILE *f = fopen(FIX "traces.jsonl", "r");
	assert_non_null(f);
	char buf[16384];
	while (fgets(buf, sizeof buf, f)) {
		struct json_object *o = json_tokener_parse(buf);
		assert_non_null(o);
		assert_true(ntraces < MAX_TRACES);
		struct trace *t = &traces[ntraces++];
		snprintf(t->key, sizeof t->key, "%s", gets(o, "trace"));
		snprintf(t->file, sizeof t->file, "%s", gets(o, "file"));
		t->line = json_object_get_int64(get(o, "line"));
		struct json_object *segs = get(o, "segments");
		t->nseg = json_object_array_length(segs);
		assert_true(t->nseg <= MAX_SEGS);
		for (size_t k = 0; k < t->nseg; k++) {
			struct json_object *s = json_object_array_get_idx(segs, k);
			t->seg_off[k] =
			    (size_t)json_object_get_int64(json_object_array_get_idx(s, 0));
			t->seg_len[k] =
			    (size_t)json_object_get_int64(json_object_array_get_idx(s, 1));
			t->seg_tok[k] =
			    (long)json_object_get_int64(json_object_array_get_idx(s, 2));
		}
		json_object_put(o);
	}
	fclose(f);
}

/* One pass per shared file, up to the last line any trace needs. */
static int load_texts(void)
{
	for (size_t a = 0; a < ntraces; a++) {
		if (traces[a].text)
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", shared_dir(), traces[a].file);
		long last = 0;
		for (size_t b = a; b < ntraces; b++)
			if (!strcmp(traces[b].file, traces[a].file) && traces[b].line > last)
				last = traces[b].line;
		struct infty_reader *r;
		if (infty_reader_open(&r, path, 0, NULL, 0))
			return -1;
		const char *line;
		size_t len;
		uint64_t no = 0;
		while (infty_reader_next_line(r, &line, &len, &no) == 1 && (long)no <= last) {
			for (size_t b = a; b < ntraces; b++) {
				struct trace *t = &traces[b];
				if (strcmp(t->file, traces[a].file) || t->line != (long)no)
					continue;
				struct json_object *o = json_tokener_parse(line);
				assert_non_null(o);
				struct json_object *m = get(o, "messages");
				if (m) {
					t->question = infty_strdup(
					    gets(json_object_array_get_idx(m, 0), "content"));
					t->text = infty_strdup(
					    gets(json_object_array_get_idx(m, 1), "content"));
				} else {
					t->question = infty_strdup(gets(o, "problem"));
					t->text = infty_strdup(gets(o, "trace"));
				}
				json_object_put(o);
			}
		}
		infty_reader_free(r);
	}
	return 0;
}

static struct trace *find_trace(const char *key)
{
	for (size_t k = 0; k < ntraces; k++)
		if (!strcmp(traces[k].key, key))
			return &traces[k];
	return NULL;
}

static long count_tok(void *ctx, const char *s, size_t n)
{
	return (long)infty_tok_count(ctx, s, n);
}

static void labelled(void **state)
{
	(void)state;
	char probe[512];
	snprintf(probe, sizeof probe, "%s/data/openr1_math_messages_sample.jsonl", shared_dir());
	if (access(probe, R_OK)) {
		printf("# SKIP: %s/data not found (shared data absent)\n", shared_dir());
		skip();
	}
	load_table();
	assert_int_equal(load_texts(), 0);
	/* Each trace found, and its segments where the table says. */
	for (size_t k = 0; k < ntraces; k++) {
		struct trace *t = &traces[k];
		assert_non_null(t->text);
		for (size_t s = 0; s < t->nseg; s++)
			assert_true(t->seg_off[s] + t->seg_len[s] <= strlen(t->text));
	}

	struct infty_tokenizer *tok = NULL;
	struct infty_tok_ctx *tctx = NULL;
	char detail[256];
	const char *tp = infty_tokenizer_default_path();
	if (tp && !infty_tokenizer_load(&tok, tp, detail, sizeof detail))
		tctx = infty_tok_ctx_new(tok);
	if (!tctx)
		printf("# no tokenizer: summary tokens estimated as bytes / 4\n");

	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	long tp_[SUM_Q_NFLAGS] = {0}, fp[SUM_Q_NFLAGS] = {0}, fn[SUM_Q_NFLAGS] = {0};
	long rows = 0, clean_ok = 0, clean = 0, bad_caught = 0, bad = 0;
	FILE *f = fopen(FIX "labelled.jsonl", "r");
	assert_non_null(f);
	char buf[16384];
	while (fgets(buf, sizeof buf, f)) {
		struct json_object *o = json_tokener_parse(buf);
		assert_non_null(o);
		struct trace *t = find_trace(gets(o, "trace"));
		assert_non_null(t);
		size_t i = (size_t)json_object_get_int64(get(o, "i"));
		assert_true(i < t->nseg);
		const char *summary = gets(o, "summary"), *kind = gets(o, "kind");
		unsigned want = 0;
		struct json_object *labels = get(o, "labels");
		for (size_t k = 0; k < json_object_array_length(labels); k++) {
			const char *n =
			    json_object_get_string(json_object_array_get_idx(labels, k));
			int fl = infty_sum_quality_flag_parse(n, strlen(n));
			assert_true(fl >= 0);
			want |= SUM_Q_BIT(fl);
		}
		struct sum_quality_index *ix;
		assert_int_equal(infty_sum_quality_index_new(&ix, t->question, strlen(t->question)),
		                 0);
		for (size_t s = 0; s <= i; s++)
			assert_int_equal(infty_sum_quality_index_add(ix, t->text + t->seg_off[s],
			                                             t->seg_len[s], t->seg_tok[s],
			                                             NULL, NULL),
			                 0);
		char *answer = infty_sum_quality_boxed(t->text, strlen(t->text));
		struct sum_quality_result r;
		assert_int_equal(infty_sum_quality_check(ix, &c, summary, strlen(summary), -1,
		                                         answer, tctx ? count_tok : NULL, tctx, &r),
		                 0);
		for (int fl = 0; fl < SUM_Q_NFLAGS; fl++) {
			int got = (r.flags & SUM_Q_BIT(fl)) != 0, w = (want & SUM_Q_BIT(fl)) != 0;
			tp_[fl] += got && w;
			fp[fl] += got && !w;
			fn[fl] += !got && w;
			if (got != w)
				printf("# %s %s i=%zu %s: %s %s%s%s\n", got ? "FP" : "FN", t->key,
				       i, kind, infty_sum_quality_flag_name(fl), got ? "(" : "",
				       got ? r.detail[fl] : "", got ? ")" : "");
		}
		rows++;
		if (!want) {
			clean++;
			clean_ok += r.flags == 0;
		} else {
			bad++;
			bad_caught += (r.flags & want) != 0;
		}
		infty_free(answer);
		infty_sum_quality_index_free(ix);
		json_object_put(o);
	}
	fclose(f);
	printf("# %ld labelled summaries on %zu traces\n", rows, ntraces);
	printf("# %-13s %4s %4s %4s %9s %7s\n", "flag", "tp", "fp", "fn", "precision", "recall");
	for (int fl = 0; fl < SUM_Q_NFLAGS; fl++) {
		double p = tp_[fl] + fp[fl] ? (double)tp_[fl] / (double)(tp_[fl] + fp[fl]) : 1,
		       rc = tp_[fl] + fn[fl] ? (double)tp_[fl] / (double)(tp_[fl] + fn[fl]) : 1;
		printf("# %-13s %4ld %4ld %4ld %9.2f %7.2f\n", infty_sum_quality_flag_name(fl),
		       tp_[fl], fp[fl], fn[fl], p, rc);
		assert_true(p >= 0.5);
		assert_true(rc >= 0.5);
	}
	printf("# clean summaries (good and hard negatives) with no flag: %ld of %ld\n", clean_ok,
	       clean);
	printf("# bad summaries with at least one of their labels raised: %ld of %ld\n", bad_caught,
	       bad);
	assert_true(rows >= 60);
	infty_tok_ctx_free(tctx);
	infty_tokenizer_free(tok);
	for (size_t k = 0; k < ntraces; k++) {
		infty_free(traces[k].question);
		infty_free(traces[k].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(labelled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
