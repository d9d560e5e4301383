/*
 * quality_count.c - the measurement driver of docs/quality.md: runs the
 * summary checks of src/summarize/sum_quality.c over summarized records
 * (any infty-summarize output) and prints how many summaries raised each
 * flag.  With -o it also writes the records back with "flags" and
 * "quality" on each summary (docs/formats.md), so `infty-inspect report`
 * can show them before the engine writes them itself.
 *
 *   quality_count [-o annotated.jsonl] FILE...     (built by mk/quality.mk)
 *
 * Segment counts come from the records; summaries are counted with the
 * default tokenizer when it loads, else estimated (bytes / 4).
 */
#include "../../src/summarize/sum_quality.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, k, &v);
	return v;
}

static long count_tok(void *ctx, const char *s, size_t n)
{
	return (long)infty_tok_count(ctx, s, n);
}

int main(int argc, char **argv)
{
	const char *outp = NULL;
	int first = 1;
	if (argc > 2 && !strcmp(argv[1], "-o")) {
		outp = argv[2];
		first = 3;
	}
	if (first >= argc) {
		fputs("usage: quality_count [-o annotated.jsonl] FILE...\n", stderr);
		return 2;
	}
	struct infty_tokenizer *tok = NULL;
	struct infty_tok_ctx *tctx = NULL;
	char detail[256];
	const char *tp = infty_tokenizer_default_path();
	if (tp && !infty_tokenizer_load(&tok, tp, detail, sizeof detail))
		tctx = infty_tok_ctx_new(tok);
	FILE *out = outp ? fopen(outp, "w") : NULL;
	if (outp && !out) {
		fprintf(stderr, "quality_count: %s: cannot write\n", outp);
		return 1;
	}
	struct sum_quality_config c;
	infty_sum_quality_config_init(&c);
	unsigned long long traces = 0, summaries = 0, flagged = 0, with_answer = 0,
	                   count[SUM_Q_NFLAGS] = {0}, copy_sum = 0;
	double ratio_sum = 0, t_check = 0;
	for (int a = first; a < argc; a++) {
		struct infty_reader *r;
		if (infty_reader_open(&r, argv[a], 0, NULL, 0)) {
			fprintf(stderr, "quality_count: %s: cannot open\n", argv[a]);
			return 1;
		}
		struct json_object *rec;
		uint64_t line;
		int rc;
		while ((rc = infty_reader_next(r, &rec, &line)) != 0) {
			if (rc < 0)
				continue;
			struct json_object *segs = get(rec, "segments"),
			                   *sums = get(rec, "summaries");
			if (!segs || !sums) {
				json_object_put(rec);
				continue;
			}
			traces++;
			const char *q = json_object_get_string(get(rec, "question"));
			const char *concl = json_object_get_string(get(rec, "conclusion"));
			char *answer = concl ? infty_sum_quality_boxed(concl, strlen(concl)) : NULL;
			struct timespec t0, t1;
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
			struct sum_quality_index *ix;
			if (infty_sum_quality_index_new(&ix, q ? q : "", q ? strlen(q) : 0))
				return 1;
			size_t ns = json_object_array_length(sums);
			for (size_t i = 0; i < ns && i < json_object_array_length(segs); i++) {
				struct json_object *s = json_object_array_get_idx(segs, i),
				                   *t = get(s, "tokens");
				const char *st = json_object_get_string(get(s, "text"));
				if (infty_sum_quality_index_add(
				        ix, st, strlen(st), t ? (long)json_object_get_int64(t) : -1,
				        NULL, NULL))
					return 1;
				struct json_object *sum = json_object_array_get_idx(sums, i);
				const char *text = json_object_get_string(get(sum, "text"));
				struct sum_quality_result res;
				if (infty_sum_quality_check(ix, &c, text, strlen(text), -1, answer,
				                            tctx ? count_tok : NULL, tctx, &res))
					return 1;
				summaries++;
				with_answer += answer != NULL;
				flagged += res.flags != 0;
				ratio_sum += res.ratio;
				copy_sum += (unsigned long long)res.copy_words;
				for (int f = 0; f < SUM_Q_NFLAGS; f++)
					count[f] += (res.flags & SUM_Q_BIT(f)) != 0;
				if (out) {
					json_object_object_add(sum, "flags",
					                       infty_sum_quality_flags_json(&res));
					json_object_object_add(sum, "quality",
					                       infty_sum_quality_json(&res));
				}
			}
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
			t_check += (double)(t1.tv_sec - t0.tv_sec) +
			           (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
			infty_sum_quality_index_free(ix);
			free(answer);
			if (out)
				fprintf(out, "%s\n",
				        json_object_to_json_string_ext(
				            rec, JSON_C_TO_STRING_PLAIN |
				                     JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(rec);
		}
		infty_reader_free(r);
	}
	if (out && (ferror(out) | fclose(out))) {
		fprintf(stderr, "quality_count: %s: write failed\n", outp);
		return 1;
	}
	printf("traces %llu, summaries %llu (%llu with a boxed answer in the conclusion), "
	       "flagged %llu (%.1f%%)\n",
	       traces, summaries, with_answer, flagged,
	       summaries ? 100.0 * (double)flagged / (double)summaries : 0);
	printf("mean ratio %.3f, mean longest copied span %.1f words; checks %.3f s CPU in all "
	       "(%.1f us a summary, indexing included)%s\n",
	       summaries ? ratio_sum / (double)summaries : 0,
	       summaries ? (double)copy_sum / (double)summaries : 0, t_check,
	       summaries ? 1e6 * t_check / (double)summaries : 0,
	       tctx ? "" : "; summary tokens estimated");
	printf("| flag | summaries | share |\n| --- | ---: | ---: |\n");
	for (int f = 0; f < SUM_Q_NFLAGS; f++)
		printf("| %s | %llu | %.1f %% |\n", infty_sum_quality_flag_name(f), count[f],
		       summaries ? 100.0 * (double)count[f] / (double)summaries : 0);
	infty_tok_ctx_free(tctx);
	infty_tokenizer_free(tok);
	return 0;
}
