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
};

/*
 * Sum every shard's stats of every stage, check that each record in is a
 * record out or a reject (see inspect_run.c), and print the totals as JSON
 * to f.  Returns 0, or a negative infty_err with one line in detail (a
 * missing stats file, or the identity that does not hold).
 */
int inspect_run_totals(const struct inspect_run_paths *p, FILE *f, char *detail, size_t dlen);

#endif
