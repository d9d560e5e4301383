/*
 * inspect_run.h - reading a pipeline run directory (OUT) as a whole.
 */
#ifndef INFTY_INSPECT_RUN_H
#define INFTY_INSPECT_RUN_H

#include <stddef.h>
#include <stdio.h>

struct inspect_run_paths {
	const char *out;        /* the run directory */
	const char *train;      /* merged training file to count, or NULL */
	const char *rejects;    /* merged reject file to count, or NULL */
	const char *train_name; /* what stats.json calls them (final names) */
	const char *rejects_name;
	/* Prices per million tokens for the cost; price_in < 0: no cost.
	 * price_cached < 0: cached prompt tokens cost price_in. */
	double price_in, price_out, price_cached;
};

struct json_object;

/*
 * The one reader of a stage's stats in a run directory: OUT/<stage>/stats/
 * SSSSS.json for shard >= 0, all.json for shard < 0.  NULL, with one line
 * in detail, when the file is missing, not a JSON object, or says the
 * stage did not finish ("completed" not true: docs/formats.md, "Stage
 * stats").  The caller owns the object.
 */
struct json_object *inspect_run_stats(const char *out, const char *stage, long shard, char *detail,
                                      size_t dlen);

/* The whole number at a dotted path of a stats object ("traces.in"), or -1 when absent. */
long long inspect_run_num(struct json_object *o, const char *path);

/*
 * Sum every shard's stats of every stage, check that each record in is a
 * record out or a reject (see inspect_run.c), and print the totals as JSON
 * to f: the counts, what summarize's records say their requests took
 * (usage; cost at p's prices), the summary checks' flags and the judge's
 * figures (docs/formats.md, "Pipeline run directory").  Returns 0, or a negative infty_err with one
 * line in detail (a missing stats file, or the identity that does not hold).
 */
int inspect_run_totals(const struct inspect_run_paths *p, FILE *f, char *detail, size_t dlen);

#endif
