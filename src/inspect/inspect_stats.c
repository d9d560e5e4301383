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

static const char *series_name[SER_COUNT] = {
    "tokens per segment",          "segments per trace (n)",
    "summary length (characters)", "compression (summary chars / segment chars)",
    "instance prompt tokens",      "instance target tokens",
};

void inspect_stats_init(struct inspect_stats *st)
{
	memset(st, 0, sizeof *st);
	for (int i = 0; i < SER_COUNT; i++)
		st->s[i].name = series_name[i];
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

static int count_label(struct inspect_stats *st, const char *prefix, const char *what)
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
	st->label_count[i]++;
	return 0;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

int inspect_stats_add(struct inspect_stats *st, struct json_object *rec)
{
	enum inspect_kind k = inspect_kind_of(rec);
	st->records++;
	st->by_kind[k]++;
	int rc = 0;
	if (k == INSPECT_SEGMENT || k == INSPECT_SUMMARIZED) {
		struct json_object *segs = get(rec, "segments"), *sums = get(rec, "summaries");
		if (!json_object_is_type(segs, json_type_array))
			return 0;
		size_t n = json_object_array_length(segs);
		rc = push(&st->s[SER_SEGS_PER_TRACE], (double)n);
		for (size_t i = 0; i < n && !rc; i++) {
			struct json_object *s = json_object_array_get_idx(segs, i), *t;
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
		}
	} else if (k == INSPECT_PAPER || k == INSPECT_MESSAGES || k == INSPECT_HF ||
	           k == INSPECT_TRL || k == INSPECT_TRL_CHAT) {
		struct json_object *meta = get(rec, "meta"), *t;
		if (meta && (t = get(meta, "prompt_tokens")))
			rc = push(&st->s[SER_PROMPT_TOKENS], (double)json_object_get_int64(t));
		if (!rc && meta && (t = get(meta, "target_tokens")))
			rc = push(&st->s[SER_TARGET_TOKENS], (double)json_object_get_int64(t));
		if (!rc && meta && (t = get(meta, "iteration")) && json_object_get_int64(t) == 1 &&
		    (t = get(meta, "n")))
			rc = push(&st->s[SER_SEGS_PER_TRACE], (double)json_object_get_int64(t));
	} else if (k == INSPECT_REJECT) {
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
	double span = h->max - h->min;
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
	for (int k = 0; k <= INSPECT_REJECT; k++) {
		if (!st->by_kind[k])
			continue;
		fprintf(out, "%s%llu %s", first ? "" : sep, (unsigned long long)st->by_kind[k],
		        inspect_kind_name((enum inspect_kind)k));
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

static void html_escape(FILE *out, const char *s)
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
		default:
			fputc(*s, out);
		}
	}
}

/* One bar chart as inline SVG: bins left to right, counts as heights. */
static void svg_chart(FILE *out, const struct inspect_hist *h)
{
	const int W = 640, H = 220, L = 50, B = 40, T = 10;
	uint64_t top = 1;
	for (size_t b = 0; b < h->bins; b++)
		if (h->count[b] > top)
			top = h->count[b];
	double bw = (double)(W - L - 10) / (double)h->bins;
	fprintf(out,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "role=\"img\">\n",
	        W, H);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", L, H - B,
	        W - 10, H - B);
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%llu</text>\n",
	        L - 4, T + 10, (unsigned long long)top);
	for (size_t b = 0; b < h->bins; b++) {
		double bh = (double)(H - B - T) * (double)h->count[b] / (double)top;
		char lab[64];
		bin_label(h, b, lab, sizeof lab);
		fprintf(
		    out,
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b7dd8\">"
		    "<title>%s: %llu</title></rect>\n",
		    L + (double)b * bw + 1, (double)(H - B) - bh, bw > 2 ? bw - 2 : bw, bh, lab,
		    (unsigned long long)h->count[b]);
		if (h->bins <= 16 || b % (h->bins / 8 + 1) == 0)
			fprintf(
			    out,
			    "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s"
			    "</text>\n",
			    L + ((double)b + 0.5) * bw, H - B + 14, lab);
	}
	fputs("</svg>\n", out);
}

void inspect_stats_html(struct inspect_stats *st, const char *title, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>infty-inspect: ", out);
	html_escape(out, title);
	fputs("</title>\n<style>body{font:14px sans-serif;margin:2em;max-width:60em}"
	      "h2{font-size:1.1em;margin-top:2em}td,th{padding:2px 10px;text-align:right}"
	      "td:first-child{text-align:left}</style></head><body>\n<h1>",
	      out);
	html_escape(out, title);
	fprintf(out, "</h1>\n<p>%llu records: ", (unsigned long long)st->records);
	kinds_line(st, out, ", ");
	fputs("</p>\n", out);
	if (st->n_labels) {
		fputs("<table><tr><th>label</th><th>count</th></tr>\n", out);
		for (size_t i = 0; i < st->n_labels; i++) {
			fputs("<tr><td>", out);
			html_escape(out, st->label[i]);
			fprintf(out, "</td><td>%llu</td></tr>\n",
			        (unsigned long long)st->label_count[i]);
		}
		fputs("</table>\n", out);
	}
	for (int i = 0; i < SER_COUNT; i++) {
		struct inspect_hist h;
		if (inspect_hist_make(&st->s[i], 40, &h))
			continue;
		fprintf(
		    out,
		    "<h2>%s</h2>\n<p>%zu values; min %g, p50 %g, mean %.4g, p90 %g, max %g</p>\n",
		    st->s[i].name, st->s[i].n, h.min, h.p50, h.mean, h.p90, h.max);
		svg_chart(out, &h);
	}
	fputs("</body></html>\n", out);
}
