/*
 * inspect_run.c - the totals of a pipeline run directory (OUT), checked.
 *
 * The merge step publishes the training file only when every input row is
 * accounted for: each stage's records in equal its records out plus its
 * rejects, shard by shard, and the merged files hold exactly what the
 * per-shard stats say.  A mismatch means lost or duplicated data (a stale
 * shard, a truncated file, a bug), and the run must fail loudly rather
 * than publish it.
 */
#include "inspect_run.h"

#include "infty/error.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

long long inspect_run_num(struct json_object *o, const char *path)
{
	char key[64];
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof key)
			return -1;
		memcpy(key, path, n);
		key[n] = 0;
		if (!json_object_object_get_ex(o, key, &o))
			return -1;
		path = dot ? dot + 1 : path + n;
	}
	return o && json_object_is_type(o, json_type_int) ? (long long)json_object_get_int64(o)
	                                                  : -1;
}

static int fail(char *detail, size_t dlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *detail, size_t dlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
	return INFTY_ESCHEMA;
}

/* Read the JSON object in path; NULL with detail set when it cannot be. */
static struct json_object *load(const char *path, char *detail, size_t dlen)
{
	struct json_object *o = json_object_from_file(path);
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(detail, dlen, "%s: missing or not a JSON object", path);
		if (o)
			json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *inspect_run_stats(const char *out, const char *stage, long shard, char *detail,
                                      size_t dlen)
{
	char path[4200];
	if (shard < 0)
		snprintf(path, sizeof path, "%s/%s/stats/all.json", out, stage);
	else
		snprintf(path, sizeof path, "%s/%s/stats/%05ld.json", out, stage, shard);
	struct json_object *o = load(path, detail, dlen), *c, *why;
	if (!o)
		return NULL;
	/* A stopped stage writes its stats too, to say why: never counted. */
	if (!json_object_object_get_ex(o, "completed", &c) || !json_object_get_boolean(c)) {
		snprintf(detail, dlen, "%s: the stage did not finish (stopped_by %s)", path,
		         json_object_object_get_ex(o, "stopped_by", &why)
		             ? json_object_get_string(why)
		             : "unknown");
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Sum the field of every shard's stats of one stage. */
struct field {
	const char *path;
	long long *sum;
};

static int sum_stage(const char *out, const char *stage, unsigned shards, const struct field *f,
                     size_t nf, char *detail, size_t dlen)
{
	for (unsigned k = 0; k < shards; k++) {
		struct json_object *o = inspect_run_stats(out, stage, k, detail, dlen);
		if (!o)
			return INFTY_EIO;
		for (size_t i = 0; i < nf; i++) {
			long long v = inspect_run_num(o, f[i].path);
			if (v < 0) {
				json_object_put(o);
				return fail(detail, dlen,
				            "%s/%s/stats/%05u.json: no whole number at '%s'", out,
				            stage, k, f[i].path);
			}
			*f[i].sum += v;
		}
		json_object_put(o);
	}
	return 0;
}

/* Non-blank lines of a JSONL(.zst) file; a read error fails. */
static int count_records(const char *path, long long *n, char *detail, size_t dlen)
{
	struct infty_reader *r;
	if (infty_reader_open(&r, path, 0, NULL, 0))
		return fail(detail, dlen, "%s: cannot open", path);
	*n = 0;
	const char *line;
	size_t len;
	uint64_t lineno;
	int rc;
	while ((rc = infty_reader_next_line(r, &line, &len, &lineno)) > 0)
		*n += !infty_line_is_blank(line, len);
	if (rc < 0)
		snprintf(detail, dlen, "%s: %s", path,
		         *infty_reader_detail(r) ? infty_reader_detail(r) : infty_strerror(rc));
	infty_reader_free(r);
	return rc;
}

/*
 * acc += from: every whole number of from, at any depth of objects (a new
 * key starts at 0); strings, doubles and arrays are not counts and are left
 * out.  0 or INFTY_ENOMEM.
 */
static int add_counts(struct json_object *acc, struct json_object *from)
{
	if (!from || !json_object_is_type(from, json_type_object))
		return 0;
	json_object_object_foreach(from, k, v)
	{
		struct json_object *a = NULL;
		int have = json_object_object_get_ex(acc, k, &a);
		if (json_object_is_type(v, json_type_int)) {
			if (have && !json_object_is_type(a, json_type_int))
				continue;
			int64_t n =
			    json_object_get_int64(v) + (have ? json_object_get_int64(a) : 0);
			if (have ? !json_object_set_int64(a, n)
			         : json_object_object_add(acc, k, json_object_new_int64(n)))
				return INFTY_ENOMEM;
		} else if (json_object_is_type(v, json_type_object)) {
			if (!have) {
				if (!(a = json_object_new_object()) ||
				    json_object_object_add(acc, k, a))
					return INFTY_ENOMEM;
			}
			if (json_object_is_type(a, json_type_object) && add_counts(a, v))
				return INFTY_ENOMEM;
		}
	}
	return 0;
}

/* A count of o (0 when absent). */
static long long count_of(struct json_object *o, const char *k)
{
	struct json_object *x;
	return o && json_object_object_get_ex(o, k, &x) ? (long long)json_object_get_int64(x) : 0;
}

/* What summarize's stats say beyond the counts, summed over the shards. */
struct sum_extras {
	struct json_object *usage;   /* requests, tokens, retries by reason */
	struct json_object *flags;   /* quality_flags: name -> summaries */
	struct json_object *quality; /* checked, flagged, retried, exhausted, rejected */
	struct json_object *judge;   /* judged, rounds, scores, requests, refines, ... */
	long long without_usage;     /* shards whose stats predate "usage" */
	int judged;                  /* some shard ran the judge */
};

static void sum_extras_release(struct sum_extras *x)
{
	json_object_put(x->usage);
	json_object_put(x->flags);
	json_object_put(x->quality);
	json_object_put(x->judge);
}

/*
 * The judge's counts of one shard that describe the summaries written (its
 * requests are in the usage; its "requests" and "refines" count one launch's).
 */
static int add_judge(struct json_object *acc, struct json_object *j)
{
	static const char *const keys[] = {"judged", "rounds", "scores"};
	struct json_object *pick = json_object_new_object(), *v;
	int rc = pick ? 0 : INFTY_ENOMEM;
	for (size_t i = 0; !rc && i < sizeof keys / sizeof *keys; i++)
		if (json_object_object_get_ex(j, keys[i], &v))
			rc = json_object_object_add(pick, keys[i], json_object_get(v));
	rc = rc ? rc : add_counts(acc, pick);
	json_object_put(pick);
	return rc ? INFTY_ENOMEM : 0;
}

static int sum_summarize_extras(const char *out, unsigned shards, struct sum_extras *x,
                                char *detail, size_t dlen)
{
	if (!(x->usage = json_object_new_object()) || !(x->flags = json_object_new_object()) ||
	    !(x->quality = json_object_new_object()) || !(x->judge = json_object_new_object()))
		return fail(detail, dlen, "out of memory");
	for (unsigned k = 0; k < shards; k++) {
		struct json_object *o = inspect_run_stats(out, "summarize", k, detail, dlen), *v;
		if (!o)
			return INFTY_EIO;
		int rc = 0;
		if (json_object_object_get_ex(o, "usage", &v))
			rc = add_counts(x->usage, v);
		else
			x->without_usage++;
		if (!rc && json_object_object_get_ex(o, "quality_flags", &v))
			rc = add_counts(x->flags, v);
		if (!rc && json_object_object_get_ex(o, "quality", &v))
			rc = add_counts(x->quality, v); /* the policy's names are not counts */
		if (!rc && json_object_object_get_ex(o, "judge", &v)) {
			x->judged = 1;
			rc = add_judge(x->judge, v);
		}
		json_object_put(o);
		if (rc)
			return fail(detail, dlen, "out of memory");
	}
	return 0;
}

static void put_json(FILE *f, struct json_object *o)
{
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE),
	      f);
}

/* Whole scores 1..5 by count: min, median, mean, max (as summarize states them). */
static struct json_object *score_json(struct json_object *scores)
{
	long long n = 0, acc = 0, c[6] = {0};
	double sum = 0;
	int lo = 0, hi = 0, med = 0;
	for (int k = 1; k <= 5; k++) {
		char key[4];
		snprintf(key, sizeof key, "%d", k);
		c[k] = count_of(scores, key);
		n += c[k];
		sum += (double)k * (double)c[k];
		if (c[k]) {
			lo = lo ? lo : k;
			hi = k;
		}
	}
	for (int k = 1; k <= 5 && n; k++)
		if ((acc += c[k]) * 2 >= n) {
			med = k;
			break;
		}
	struct json_object *o = json_object_new_object();
	if (o &&
	    (json_object_object_add(o, "min", json_object_new_int(lo)) ||
	     json_object_object_add(o, "p50", json_object_new_int(med)) ||
	     json_object_object_add(o, "mean", json_object_new_double(n ? sum / (double)n : 0)) ||
	     json_object_object_add(o, "max", json_object_new_int(hi)))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * usage, cost, quality and judge (docs/formats.md): the money is priced on
 * what was answered, cached prompt tokens at their own price.
 */
static void put_extras(FILE *f, const struct inspect_run_paths *p, struct sum_extras *x)
{
	fputs("  \"usage\": ", f);
	put_json(f, x->usage);
	if (x->without_usage)
		fprintf(f, ",\n  \"shards_without_usage\": %lld", x->without_usage);
	fputs(",\n  \"cost\": ", f);
	if (p->price_in >= 0) {
		long long pt = count_of(x->usage, "prompt_tokens");
		long long ct = count_of(x->usage, "completion_tokens");
		long long cached = count_of(x->usage, "cached_tokens");
		if (cached > pt) /* no server says so; if one did, never a negative price */
			cached = pt;
		double pc = p->price_cached >= 0 ? p->price_cached : p->price_in;
		double in = ((double)(pt - cached) * p->price_in + (double)cached * pc) / 1e6;
		double outc = (double)ct * p->price_out / 1e6;
		fprintf(f,
		        "{\"price_in\": %.10g, \"price_cached\": %.10g, \"price_out\": %.10g, "
		        "\"prompt\": %.10g, \"completion\": %.10g, \"total\": %.10g}",
		        p->price_in, pc, p->price_out, in, outc, in + outc);
	} else {
		fputs("null", f);
	}
	long long checked = count_of(x->quality, "checked");
	long long flagged = count_of(x->quality, "flagged");
	/* Counts of the summaries written (not "retried": candidates passed over
	 * as they came, which a resumed run does not see again). */
	fprintf(f,
	        ",\n  \"quality\": {\"checked\": %lld, \"flagged\": %lld, \"share_flagged\": "
	        "%.4f, \"exhausted\": %lld, \"rejected\": %lld, \"flags\": ",
	        checked, flagged, checked ? (double)flagged / (double)checked : 0.0,
	        count_of(x->quality, "exhausted"), count_of(x->quality, "rejected"));
	put_json(f, x->flags);
	fputc('}', f);
	if (x->judged) {
		struct json_object *sc = NULL;
		json_object_object_get_ex(x->judge, "scores", &sc);
		/* The score summary of every shard's summaries together. */
		json_object_object_add(x->judge, "score", score_json(sc));
		fputs(",\n  \"judge\": ", f);
		put_json(f, x->judge);
	}
	fputs(",\n", f);
}

static void put_json_string(FILE *f, const char *s)
{
	struct json_object *j = json_object_new_string(s);
	fputs(j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_NOSLASHESCAPE) : "null", f);
	json_object_put(j);
}

int inspect_run_totals(const struct inspect_run_paths *p, FILE *f, char *detail, size_t dlen)
{
	char path[4200];
	*detail = 0;
	snprintf(path, sizeof path, "%s/run.json", p->out);
	struct json_object *run = load(path, detail, dlen);
	if (!run)
		return INFTY_EIO;
	long long n = inspect_run_num(run, "total_shards");
	json_object_put(run);
	if (n < 1)
		return fail(detail, dlen, "%s: no total_shards", path);
	unsigned shards = (unsigned)n;

	long long rows = 0, lines = 0;
	struct field shard_f[] = {{"rows", &rows}, {"lines", &lines}};
	struct json_object *sh = inspect_run_stats(p->out, "shard", -1, detail, dlen);
	if (!sh)
		return INFTY_EIO;
	for (size_t i = 0; i < 2; i++)
		*shard_f[i].sum = inspect_run_num(sh, shard_f[i].path);
	json_object_put(sh);
	if (rows < 0 || lines < 0)
		return fail(detail, dlen, "%s/shard/stats/all.json: no rows or lines count",
		            p->out);

	long long seg_rows = 0, seg_items = 0, seg_traces = 0, seg_rej = 0, seg_other = 0;
	struct field seg_f[] = {{"rows", &seg_rows},
	                        {"items", &seg_items},
	                        {"traces", &seg_traces},
	                        {"rejected", &seg_rej},
	                        {"other_shard", &seg_other}};
	long long sum_in = 0, sum_ok = 0, sum_failed = 0, sum_rej = 0;
	struct field sum_f[] = {{"traces.in", &sum_in},
	                        {"traces.ok", &sum_ok},
	                        {"traces.failed", &sum_failed},
	                        {"traces.rejected", &sum_rej}};
	long long b_in = 0, b_traces = 0, b_inst = 0, b_rej = 0;
	struct field b_f[] = {{"records_in", &b_in},
	                      {"traces_out", &b_traces},
	                      {"instances_out", &b_inst},
	                      {"rejected", &b_rej}};
	int rc = sum_stage(p->out, "segment", shards, seg_f, 5, detail, dlen);
	rc = rc ? rc : sum_stage(p->out, "summarize", shards, sum_f, 4, detail, dlen);
	rc = rc ? rc : sum_stage(p->out, "build", shards, b_f, 4, detail, dlen);
	if (rc)
		return rc;

	/* Each identity names the two sides, so a failure says where data went. */
	if (seg_rows != rows)
		return fail(detail, dlen, "the input has %lld rows but segment read %lld", rows,
		            seg_rows);
	if (seg_items != seg_traces + seg_rej + seg_other)
		return fail(
		    detail, dlen,
		    "segment: %lld items but %lld traces + %lld rejects + %lld of other shards",
		    seg_items, seg_traces, seg_rej, seg_other);
	if (sum_in != seg_traces)
		return fail(detail, dlen, "segment wrote %lld traces but summarize read %lld",
		            seg_traces, sum_in);
	if (sum_in != sum_ok + sum_failed + sum_rej)
		return fail(detail, dlen,
		            "summarize: %lld traces in but %lld out + %lld failed + %lld rejected",
		            sum_in, sum_ok, sum_failed, sum_rej);
	if (b_in != sum_ok)
		return fail(detail, dlen, "summarize wrote %lld traces but build read %lld", sum_ok,
		            b_in);
	if (b_in != b_traces + b_rej)
		return fail(detail, dlen, "build: %lld traces in but %lld built + %lld rejected",
		            b_in, b_traces, b_rej);
	long long train = -1, rejects = -1;
	if (p->train && (rc = count_records(p->train, &train, detail, dlen)))
		return rc;
	if (p->rejects && (rc = count_records(p->rejects, &rejects, detail, dlen)))
		return rc;
	if (p->train && train != b_inst)
		return fail(detail, dlen, "%s: %lld instances, but the build stats say %lld",
		            p->train, train, b_inst);
	long long want_rej = seg_rej + sum_failed + sum_rej + b_rej;
	if (p->rejects && rejects != want_rej)
		return fail(detail, dlen, "%s: %lld records, but the stages rejected %lld",
		            p->rejects, rejects, want_rej);
	struct sum_extras x = {0};
	if ((rc = sum_summarize_extras(p->out, shards, &x, detail, dlen))) {
		sum_extras_release(&x);
		return rc;
	}

	fprintf(f, "{\n  \"shards\": %u,\n  \"rows\": %lld,\n  \"blank_lines\": %lld,\n", shards,
	        rows, lines - rows);
	fprintf(f, "  \"segment\": {\"traces\": %lld, \"rejects\": %lld},\n", seg_traces, seg_rej);
	fprintf(f, "  \"summarize\": {\"traces\": %lld, \"failed\": %lld, \"rejects\": %lld},\n",
	        sum_ok, sum_failed, sum_rej);
	fprintf(f, "  \"build\": {\"traces\": %lld, \"instances\": %lld, \"rejects\": %lld},\n",
	        b_traces, b_inst, b_rej);
	fprintf(f, "  \"rejects_total\": %lld,\n", want_rej);
	put_extras(f, p, &x);
	sum_extras_release(&x);
	fputs("  \"train\": ", f);
	put_json_string(f, p->train_name ? p->train_name : "");
	fputs(",\n  \"rejects\": ", f);
	put_json_string(f, p->rejects_name ? p->rejects_name : "");
	fputs(",\n  \"accounted\": true\n}\n", f);
	return 0;
}
