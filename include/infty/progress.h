/*
 * progress.h - progress and ETA for long runs.
 *
 * On a terminal: one live line, redrawn at most 4 times a second.  Otherwise:
 * a plain line every interval seconds (default 30), so logs stay readable.
 * Quiet: nothing.  This module prints (to the FILE it is given) and is meant
 * for tools, not for the library's engines.
 */
#ifndef INFTY_PROGRESS_H
#define INFTY_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct infty_progress;

/*
 * label: e.g. "segment"; unit: what is counted ("records").  total: expected
 * count, or 0 when unknown (then total_bytes, if known, drives the ETA).
 * quiet: print nothing.  Returns NULL on allocation failure (callers may go on
 * without progress).
 */
struct infty_progress *infty_progress_new(FILE *out, const char *label, const char *unit,
                                          uint64_t total, uint64_t total_bytes, int quiet);
/* Report done items and bytes consumed; extra (may be NULL) is appended. */
void infty_progress_update(struct infty_progress *p, uint64_t done, uint64_t bytes,
                           const char *extra);
/* Final line with totals and elapsed time; frees p.  NULL is a no-op. */
void infty_progress_finish(struct infty_progress *p, uint64_t done, const char *extra);
/*
 * Clear a live terminal line (it is drawn again at the next update), so a
 * message printed now starts on a clean line.  NULL is a no-op.
 */
void infty_progress_clear(struct infty_progress *p);
/*
 * Stop without a final line (the run failed): a live terminal line is
 * cleared so the error message that follows starts a clean line.  Frees p.
 * NULL is a no-op.
 */
void infty_progress_abandon(struct infty_progress *p);
/* Seconds since creation (monotonic). */
double infty_progress_elapsed(const struct infty_progress *p);
/* Format seconds as "1h02m", "3m05s", "12s" into buf. */
void infty_format_duration(double seconds, char *buf, size_t n);

#endif
