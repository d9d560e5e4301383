/*
 * inspect_stats.c - collect the numbers a person wants to see about a stage's
 * output (tokens per segment, segments per trace, summary length,
 * compression, instance sizes) and draw them as terminal bars or as a
 * self-contained HTML page with inline SVG (no script, no network).
 */
#include "inspect.h"

#include "infty/alloc.h"
#include "infty/error.h"

#include <json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *x, *y;
} series_meta[SER_COUNT] = {
    {"tokens per segment", "tokens in the segment", "segments"},
    {"segments per trace (n), from segment and summarized records", "segments in the trace",
     "traces"},
    {"summary length (characters)", "characters in the summary", "summaries"},
    {"compression (summary chars / segment chars)", "summary chars / chars of its segment",
     "summaries"},
    {"summary ratio (quality.ratio: summary tokens / tokens summarized)",
     "summary tokens / tokens of segments 0..i", "summaries"},
    {"judge score (the kept summary's)", "score (1-5)", "summaries"},
    {"judge rounds (summaries judged per segment)", "rounds", "summaries"},
    {"instances per trace (n), from built instances", "instances of the trace", "traces"},
    {"instance prompt tokens", "prompt tokens (not trained)", "instances"},
    {"instance target tokens", "target tokens (trained)", "instances"},
};

void inspect_stats_init(struct inspect_stats *st)
{
	memset(st, 0, sizeof *st);
	for (int i = 0; i < SER_COUNT; i++) {
		st->s[i].name = series_meta[i].name;
		st->s[i].x_title = series_meta[i].x;
		st->s[i].y_title = series_meta[i].y;
	}
}

void inspect_stats_release(struct inspect_stats *st)
{
	for (int i = 0; i < SER_COUNT; i++)
		infty_free(st->s[i].v);
	for (size_t i = 0; i < st->n_labels; i++)
		infty_free(st->label[i]);
	memset(st, 0, sizeof *st);
}

static int push(struct inspect_series *s, double x)
{
	if (infty_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v))
		return INFTY_ENOMEM;
	s->v[s->n++] = x;
	return 0;
}

/* Add n to the label "prefix what" (n = 0 lists it with its zero). */
static int add_label(struct inspect_stats *st, const char *prefix, const char *what, uint64_t n)
{
	char key[128];
	snprintf(key, sizeof key, "%s %s", prefix, what);
	size_t i;
	for (i = 0; i < st->n_labels; i++)
		if (!strcmp(st->label[i], key))
			break;
	if (i == st->n_labels) {
		if (i == INSPECT_MAX_LABELS)
			return 0; /* enough distinct labels to read; the rest are not kept */
		if (!(st->label[i] = infty_strdup(key)))
			return INFTY_ENOMEM;
		st->n_labels++;
	}
	st->label_count[i] += n;
	return 0;
}

static int count_label(struct inspect_stats *st, const char *prefix, const char *what)
{
	return add_label(st, prefix, what, 1);
}

/* The flags of docs/formats.md, in their order: all are listed once any summary was checked. */
static const char *const summary_flags[] = {"leak", "refusal",    "short",        "long",
                                            "copy", "ungrounded", "early_answer", "language"};

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static double num(struct json_object *o)
{
	return o ? json_object_get_double(o) : 0;
}

/* Summary flags, quality ratio and judge score of one summaries[] entry. */
static int add_summary_quality(struct inspect_stats *st, struct json_object *sum, int *flagged)
{
	struct json_object *f = get(sum, "flags"), *q = get(sum, "quality"), *j = get(sum, "judge"),
	                   *t;
	int rc = 0;
	st->summaries++;
	if (json_object_is_type(f, json_type_array) && !st->checked_summaries++)
		for (size_t k = 0; k < sizeof summary_flags / sizeof *summary_flags && !rc; k++)
			rc = add_label(st, "summary flag:", summary_flags[k], 0);
	if (!rc && json_object_is_type(f, json_type_array) && json_object_array_length(f)) {
		st->flagged_summaries++;
		*flagged = 1;
		for (size_t k = 0; k < json_object_array_length(f) && !rc; k++)
			rc = count_label(st, "summary flag:",
			                 json_object_get_string(json_object_array_get_idx(f, k)));
	}
	if (!rc && q && (t = get(q, "ratio")))
		rc = push(&st->s[SER_SUMMARY_RATIO], num(t));
	if (j)
		st->judged_summaries++;
	if (!rc && j && (t = get(j, "score")))
		rc = push(&st->s[SER_JUDGE_SCORE], num(t));
	if (!rc && j && (t = get(j, "rounds")))
		rc = push(&st->s[SER_JUDGE_ROUNDS], num(t));
	return rc;
}

int inspect_stats_add(struct inspect_stats *st, struct json_object *rec)
{
	enum infty_kind k = infty_record_kind(rec);
	st->records++;
	st->by_kind[k]++;
	int rc = 0;
	if (k == INFTY_KIND_SEGMENT || k == INFTY_KIND_SUMMARIZED) {
		struct json_object *segs = get(rec, "segments"), *sums = get(rec, "summaries"),
		                   *params = get(rec, "params"), *t;
		if (!json_object_is_type(segs, json_type_array))
			return 0;
		/* The eta line: the largest eta among the records read. */
		if (params && (t = get(params, "eta")) && num(t) > st->s[SER_SEG_TOKENS].mark)
			st->s[SER_SEG_TOKENS].mark = num(t);
		size_t n = json_object_array_length(segs);
		int flagged = 0;
		rc = push(&st->s[SER_SEGS_PER_TRACE], (double)n);
		for (size_t i = 0; i < n && !rc; i++) {
			struct json_object *s = json_object_array_get_idx(segs, i);
			if ((t = get(s, "tokens")))
				rc = push(&st->s[SER_SEG_TOKENS], (double)json_object_get_int64(t));
			if (!rc && (t = get(s, "end")) && json_object_is_type(t, json_type_string))
				rc = count_label(st, "segment end:", json_object_get_string(t));
			struct json_object *sum = json_object_is_type(sums, json_type_array)
			                              ? json_object_array_get_idx(sums, i)
			                              : NULL;
			struct json_object *text = sum ? get(sum, "text") : NULL,
			                   *segt = get(s, "text");
			if (!rc && text && json_object_is_type(text, json_type_string)) {
				double sl = json_object_get_string_len(text);
				rc = push(&st->s[SER_SUMMARY_CHARS], sl);
				if (!rc && segt && json_object_get_string_len(segt) > 0)
					rc = push(&st->s[SER_COMPRESSION],
					          sl / json_object_get_string_len(segt));
			}
			if (!rc && sum)
				rc = add_summary_quality(st, sum, &flagged);
		}
		st->flagged_traces += flagged;
	} else if (k == INFTY_KIND_PAPER || k == INFTY_KIND_MESSAGES || k == INFTY_KIND_HF ||
	           k == INFTY_KIND_TRL || k == INFTY_KIND_TRL_CHAT) {
		struct json_object *meta = get(rec, "meta"), *t;
		if (meta && (t = get(meta, "prompt_tokens")))
			rc = push(&st->s[SER_PROMPT_TOKENS], (double)json_object_get_int64(t));
		if (!rc && meta && (t = get(meta, "target_tokens")))
			rc = push(&st->s[SER_TARGET_TOKENS], (double)json_object_get_int64(t));
		if (!rc && meta && (t = get(meta, "iteration")) && json_object_get_int64(t) == 1 &&
		    (t = get(meta, "n")))
			rc = push(&st->s[SER_INST_PER_TRACE], (double)json_object_get_int64(t));
	} else if (k == INFTY_KIND_REJECT) {
		struct json_object *st_ = get(rec, "stage"), *r = get(rec, "reason");
		char what[96];
		snprintf(what, sizeof what, "%s/%s", st_ ? json_object_get_string(st_) : "?",
		         r ? json_object_get_string(r) : "?");
		rc = count_label(st, "reject:", what);
	}
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int inspect_hist_make(struct inspect_series *s, size_t max_bins, struct inspect_hist *h)
{
	memset(h, 0, sizeof *h);
	if (!s->n)
		return 1;
	if (max_bins > 64)
		max_bins = 64;
	qsort(s->v, s->n, sizeof *s->v, cmp_d);
	double sum = 0;
	int integral = 1;
	for (size_t i = 0; i < s->n; i++) {
		sum += s->v[i];
		if (s->v[i] != floor(s->v[i]))
			integral = 0;
	}
	h->min = s->v[0];
	h->max = s->v[s->n - 1];
	h->mean = sum / (double)s->n;
	h->p50 = s->v[(size_t)(0.5 * (double)(s->n - 1) + 0.5)];
	h->p90 = s->v[(size_t)(0.9 * (double)(s->n - 1) + 0.5)];
	h->integral = integral;
	/* The x axis reaches the mark (eta), so its line is always drawn. */
	double top = s->mark > h->max ? s->mark : h->max;
	double span = top - h->min;
	if (integral) {
		/* Whole numbers: one bin per value while they fit, else wider
		 * whole-number bins, so no bin straddles a value. */
		double w = ceil((span + 1) / (double)max_bins);
		h->width = w < 1 ? 1 : w;
		h->lo = h->min;
		h->bins = (size_t)((span + 1 + h->width - 1) / h->width);
	} else {
		h->bins = max_bins;
		h->width = span > 0 ? span / (double)max_bins : 1;
		h->lo = h->min;
	}
	if (h->bins == 0)
		h->bins = 1;
	for (size_t i = 0; i < s->n; i++) {
		size_t b = (size_t)((s->v[i] - h->lo) / h->width);
		if (b >= h->bins)
			b = h->bins - 1;
		h->count[b]++;
	}
	return 0;
}

static void bin_label(const struct inspect_hist *h, size_t b, char *buf, size_t n)
{
	double a = h->lo + (double)b * h->width;
	if (h->integral && h->width == 1)
		snprintf(buf, n, "%g", a);
	else if (h->integral)
		snprintf(buf, n, "%g-%g", a, a + h->width - 1);
	else
		snprintf(buf, n, "%.3g-%.3g", a, a + h->width);
}

static void kinds_line(struct inspect_stats *st, FILE *out, const char *sep)
{
	int first = 1;
	for (int k = 0; k < INFTY_KIND_COUNT_; k++) {
		if (!st->by_kind[k])
			continue;
		fprintf(out, "%s%llu %s", first ? "" : sep, (unsigned long long)st->by_kind[k],
		        infty_kind_name((enum infty_kind)k));
		first = 0;
	}
}

void inspect_stats_text(struct inspect_stats *st, FILE *out)
{
	fprintf(out, "records: %llu (", (unsigned long long)st->records);
	kinds_line(st, out, ", ");
	fputs(")\n", out);
	for (size_t i = 0; i < st->n_labels; i++)
		fprintf(out, "%s: %llu\n", st->label[i], (unsigned long long)st->label_count[i]);
	if (st->summaries)
		fprintf(out,
		        "summaries: %llu, checked: %llu, flagged: %llu (traces with a flagged "
		        "summary: %llu), judged: %llu\n",
		        (unsigned long long)st->summaries,
		        (unsigned long long)st->checked_summaries,
		        (unsigned long long)st->flagged_summaries,
		        (unsigned long long)st->flagged_traces,
		        (unsigned long long)st->judged_summaries);
	for (int i = 0; i < SER_COUNT; i++) {
		struct inspect_hist h;
		if (inspect_hist_make(&st->s[i], 16, &h))
			continue;
		fprintf(out, "\n%s: %zu values, min %g, p50 %g, mean %.4g, p90 %g, max %g\n",
		        st->s[i].name, st->s[i].n, h.min, h.p50, h.mean, h.p90, h.max);
		uint64_t top = 0;
		for (size_t b = 0; b < h.bins; b++)
			if (h.count[b] > top)
				top = h.count[b];
		for (size_t b = 0; b < h.bins; b++) {
			char lab[64];
			bin_label(&h, b, lab, sizeof lab);
			int w = top ? (int)((40 * h.count[b] + top - 1) / top) : 0;
			fprintf(out, "  %15s |", lab);
			for (int j = 0; j < w; j++)
				fputs("#", out);
			fprintf(out, " %llu\n", (unsigned long long)h.count[b]);
		}
	}
}

void inspect_html_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* Tick labels: whole numbers as they are, others with 3 significant digits. */
static void fmt_num(char *buf, size_t n, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.3g", v);
}

/*
 * One bar chart as inline SVG: bins left to right, counts as heights, both
 * axes titled and ticked, and the series' mark (eta) as a dashed line.
 */
static void svg_chart(FILE *out, const struct inspect_series *s, const struct inspect_hist *h)
{
	const int W = 680, H = 270, L = 64, R = 16, B = 58, T = 16;
	uint64_t top = 1;
	for (size_t b = 0; b < h->bins; b++)
		if (h->count[b] > top)
			top = h->count[b];
	double pw = W - L - R, ph = H - B - T;
	double bw = pw / (double)h->bins;
	double x0 = h->lo, x1 = h->lo + (double)h->bins * h->width;
	fprintf(out,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "role=\"img\" class=\"chart\">\n",
	        W, H);
	/* axes */
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", L, H - B,
	        W - R, H - B);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", L, T, L,
	        H - B);
	for (int k = 0; k <= 2; k++) {
		double v = (double)top * k / 2;
		double y = (double)(H - B) - ph * k / 2;
		char lab[32];
		fmt_num(lab, sizeof lab, k == 1 ? floor(v) : v);
		fprintf(
		    out,
		    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>"
		    "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
		    L - 4, y, L, y, L - 6, y + 4, lab);
	}
	for (size_t b = 0; b < h->bins; b++) {
		double bh = ph * (double)h->count[b] / (double)top;
		char lab[64];
		bin_label(h, b, lab, sizeof lab);
		fprintf(out,
		        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		        "fill=\"#3b7dd8\"><title>%s: %llu</title></rect>\n",
		        L + (double)b * bw + 0.5, (double)(H - B) - bh, bw > 2 ? bw - 1 : bw, bh,
		        lab, (unsigned long long)h->count[b]);
	}
	/* x ticks: the two ends and three between, at value positions */
	for (int k = 0; k <= 4; k++) {
		double v = x0 + (x1 - x0) * k / 4;
		char lab[32];
		fmt_num(lab, sizeof lab, h->integral ? floor(v + 0.5) : v);
		double x = L + pw * k / 4;
		fprintf(
		    out,
		    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>"
		    "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
		    x, H - B, x, H - B + 4, x, H - B + 16, lab);
	}
	if (s->mark > 0 && x1 > x0) {
		double x = L + pw * (s->mark - x0) / (x1 - x0);
		fprintf(out,
		        "<line class=\"mark\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		        "stroke=\"#d33\" stroke-dasharray=\"5,3\"/>"
		        "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#d33\" "
		        "text-anchor=\"end\">eta = %g</text>\n",
		        x, T, x, H - B, x - 3, T + 10, s->mark);
	}
	fprintf(out,
	        "<text class=\"xtitle\" x=\"%.1f\" y=\"%d\" font-size=\"12\" "
	        "text-anchor=\"middle\">%s</text>\n",
	        L + pw / 2, H - 12, s->x_title);
	fprintf(out,
	        "<text class=\"ytitle\" x=\"%d\" y=\"%.1f\" font-size=\"12\" "
	        "text-anchor=\"middle\" transform=\"rotate(-90 %d %.1f)\">%s</text>\n",
	        16, T + ph / 2, 16, T + ph / 2, s->y_title);
	fputs("</svg>\n", out);
}

void inspect_stats_charts(struct inspect_stats *st, FILE *out)
{
	for (int i = 0; i < SER_COUNT; i++) {
		struct inspect_hist h;
		if (inspect_hist_make(&st->s[i], 40, &h))
			continue;
		fprintf(out,
		        "<section class=\"series\"><h3>%s</h3>\n<p>%zu values; min %g, p50 %g, "
		        "mean %.4g, p90 %g, max %g</p>\n",
		        st->s[i].name, st->s[i].n, h.min, h.p50, h.mean, h.p90, h.max);
		svg_chart(out, &st->s[i], &h);
		fputs("</section>\n", out);
	}
}

void inspect_stats_html(struct inspect_stats *st, char **files, int nfiles, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>infty-inspect stats",
	      out);
	fputs("</title>\n<style>body{font:14px sans-serif;margin:2em;max-width:60em}"
	      "h3{font-size:1.1em;margin-top:2em}td,th{padding:2px 10px;text-align:right}"
	      "td:first-child{text-align:left}li{font-family:monospace}</style></head><body>\n",
	      out);
	/* The heading names every file read, not only the first. */
	fprintf(out, "<h1>infty-inspect stats: %d file%s</h1>\n<ul class=\"files\">\n",
	        nfiles ? nfiles : 1, nfiles == 1 || !nfiles ? "" : "s");
	for (int i = 0; i < nfiles || (!nfiles && i == 0); i++) {
		fputs("<li>", out);
		inspect_html_escape(out, nfiles ? files[i] : "<stdin>");
		fputs("</li>\n", out);
	}
	fprintf(out, "</ul>\n<p>%llu records: ", (unsigned long long)st->records);
	kinds_line(st, out, ", ");
	fputs("</p>\n", out);
	if (st->summaries)
		fprintf(
		    out,
		    "<p id=\"summaries\">%llu summaries: %llu checked, %llu flagged (traces with "
		    "a flagged summary: %llu), %llu judged</p>\n",
		    (unsigned long long)st->summaries, (unsigned long long)st->checked_summaries,
		    (unsigned long long)st->flagged_summaries,
		    (unsigned long long)st->flagged_traces,
		    (unsigned long long)st->judged_summaries);
	inspect_stats_labels(st, out);
	inspect_stats_charts(st, out);
	fputs("</body></html>\n", out);
}

void inspect_stats_labels(struct inspect_stats *st, FILE *out)
{
	if (!st->n_labels)
		return;
	fputs("<table id=\"labels\"><tr><th>label</th><th>count</th></tr>\n", out);
	for (size_t i = 0; i < st->n_labels; i++) {
		fputs("<tr><td>", out);
		inspect_html_escape(out, st->label[i]);
		fprintf(out, "</td><td>%llu</td></tr>\n", (unsigned long long)st->label_count[i]);
	}
	fputs("</table>\n", out);
}
