/*
 * progress.c - progress lines with rate and ETA for long runs.
 *
 * A terminal gets one line redrawn in place (at most 4 times a second); a log
 * file gets a plain line every 30 seconds, so a Slurm log shows the run moving
 * without filling up.  The ETA comes from items when the total is known,
 * otherwise from bytes read against the input size.
 */
#include "infty/progress.h"
#include "infty/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct infty_progress {
	FILE *out;
	char label[32];
	char unit[32];
	uint64_t total, total_bytes;
	int quiet, tty;
	double start, last;
	double interval;
	int drawn;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct infty_progress *infty_progress_new(FILE *out, const char *label, const char *unit,
                                          uint64_t total, uint64_t total_bytes, int quiet)
{
	struct infty_progress *p = infty_calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->out = out ? out : stderr;
	snprintf(p->label, sizeof p->label, "%s", label);
	snprintf(p->unit, sizeof p->unit, "%s", unit);
	p->total = total;
	p->total_bytes = total_bytes;
	p->quiet = quiet;
	p->tty = isatty(fileno(p->out));
	p->start = p->last = now();
	const char *env = getenv("INFTY_PROGRESS_INTERVAL");
	p->interval = p->tty ? 0.25 : 30.0;
	if (env && *env) {
		char *end;
		double v = strtod(env, &end);
		if (!*end && v >= 0)
			p->interval = v;
	}
	return p;
}

void infty_format_duration(double s, char *buf, size_t n)
{
	if (s < 0 || s > 1e8)
		snprintf(buf, n, "?");
	else if (s >= 3600)
		snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	else if (s >= 60)
		snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(buf, n, "%ds", (int)s);
}

double infty_progress_elapsed(const struct infty_progress *p)
{
	return p ? now() - p->start : 0;
}

static void draw(struct infty_progress *p, uint64_t done, uint64_t bytes, const char *extra,
                 int final)
{
	double t = now(), el = t - p->start;
	double rate = el > 0 ? done / el : 0;
	char eta[32] = "", elapsed[32], pct[16] = "";
	double frac = -1;
	if (p->total)
		frac = (double)done / p->total;
	else if (p->total_bytes)
		frac = (double)bytes / p->total_bytes;
	if (frac > 1)
		frac = 1;
	if (frac >= 0) {
		snprintf(pct, sizeof pct, " %5.1f%%", frac * 100);
		if (!final && frac > 0.001) {
			char d[24];
			infty_format_duration(el / frac - el, d, sizeof d);
			snprintf(eta, sizeof eta, " eta %s", d);
		}
	}
	infty_format_duration(el, elapsed, sizeof elapsed);
	char line[512];
	if (p->total)
		snprintf(line, sizeof line, "%s: %llu/%llu %s%s, %.1f/s, %s%s%s%s", p->label,
		         (unsigned long long)done, (unsigned long long)p->total, p->unit, pct, rate,
		         elapsed, eta, extra ? ", " : "", extra ? extra : "");
	else
		snprintf(line, sizeof line, "%s: %llu %s%s, %.1f/s, %s%s%s%s", p->label,
		         (unsigned long long)done, p->unit, pct, rate, elapsed, eta,
		         extra ? ", " : "", extra ? extra : "");
	if (p->tty)
		fprintf(p->out, "\r\033[K%s%s", line, final ? "\n" : "");
	else
		fprintf(p->out, "%s\n", line);
	fflush(p->out);
	p->drawn = 1;
	p->last = t;
}

void infty_progress_update(struct infty_progress *p, uint64_t done, uint64_t bytes,
                           const char *extra)
{
	if (!p || p->quiet)
		return;
	if (now() - p->last < p->interval)
		return;
	draw(p, done, bytes, extra, 0);
}

void infty_progress_finish(struct infty_progress *p, uint64_t done, const char *extra)
{
	if (!p)
		return;
	if (!p->quiet)
		draw(p, done, p->total_bytes, extra, 1);
	infty_free(p);
}

void infty_progress_clear(struct infty_progress *p)
{
	if (p && !p->quiet && p->tty && p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->drawn = 0;
	}
}

void infty_progress_abandon(struct infty_progress *p)
{
	if (!p)
		return;
	if (!p->quiet && p->tty && p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	infty_free(p);
}
