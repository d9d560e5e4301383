/*
 * inspect_dataset.c - `infty-inspect dataset OUT`: the publishable form of a
 * finished run.  It writes OUT/dataset/ with
 *
 *   data/train.jsonl    the training file, uncompressed (see below)
 *   README.md           a dataset card in the hub's format: a YAML header
 *                       (license, task, size, configs, and the features
 *                       as found in the file) and a body that says how the
 *                       file was made, from the run's params and stats
 *   dataset_info.json   LLaMA-Factory's entry for the file (not for
 *                       trl-chat, which LLaMA-Factory has no layout for)
 *
 * Why plain .jsonl and not the run's .jsonl.zst: LLaMA-Factory picks its
 * loader from the last extension only (json, jsonl, csv, parquet, arrow,
 * txt), so it cannot read .zst at all, and the hub's `datasets` reads .zst
 * only when the optional `zstandard` package is installed.  The bytes are
 * the run's train.jsonl.zst decompressed, line for line.
 *
 * The features are not declared from the format's documentation: they are
 * inferred from every record of the file, and a record whose shape differs
 * from the others stops the command, because `datasets` casts what it
 * reads to the card's features and would fail (or fill nulls) on the hub.
 *
 * Everything is written into OUT/.dataset.tmp and renamed over OUT/dataset
 * at the end: a failure leaves the previous OUT/dataset as it was.
 */
#include "inspect_dataset.h"
#include "inspect_run.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"

#include <errno.h>
#include <ftw.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The LLaMA-Factory dataset name and the source whose license we know. */
#define LF_NAME        "inftythink"
#define OPENR1         "open-r1/OpenR1-Math-220k"
#define OPENR1_LICENSE "apache-2.0"

/* ---- small helpers -------------------------------------------------------- */

/* A formatted path or string, owned by the caller; out of memory ends the
 * command (nothing is published: the work is in OUT/.dataset.tmp). */
static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = k < 0 ? NULL : infty_malloc((size_t)k + 1);
	if (!s)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	va_start(ap, fmt);
	vsnprintf(s, (size_t)k + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Out of memory ends the command, like strf. */
static void need(int rc)
{
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
}

/* The whole file, NUL-terminated (caller frees); NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = infty_read_all(f, len);
	int err = errno;
	fclose(f);
	errno = err;
	return buf;
}

/* The last path component of s (a pointer into s). */
static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b && b[1] ? b + 1 : s;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static uint64_t get_u(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);
	int64_t x = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
	return x > 0 ? (uint64_t)x : 0;
}

static const char *get_s(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* ---- counts by key, in first-seen order ------------------------------------ */

struct tally_entry {
	char *key; /* owned */
	uint64_t n;
};

struct tally {
	struct tally_entry *v;
	size_t len, cap;
};

static int tally_add(struct tally *t, const char *key, uint64_t n)
{
	for (size_t i = 0; i < t->len; i++)
		if (!strcmp(t->v[i].key, key)) {
			t->v[i].n += n;
			return 0;
		}
	if (infty_grow(&t->v, &t->cap, t->len + 1, sizeof *t->v))
		return INFTY_ENOMEM;
	if (!(t->v[t->len].key = infty_strdup(key)))
		return INFTY_ENOMEM;
	t->v[t->len++].n = n;
	return 0;
}

/* Add every "key": count of a JSON object. */
static int tally_add_object(struct tally *t, struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, k, v)
	{
		if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0 &&
		    tally_add(t, k, (uint64_t)json_object_get_int64(v)))
			return INFTY_ENOMEM;
	}
	return 0;
}

static void tally_release(struct tally *t)
{
	for (size_t i = 0; i < t->len; i++)
		infty_free(t->v[i].key);
	infty_free(t->v);
	memset(t, 0, sizeof *t);
}

/* Element-wise sums of JSON arrays of counts. */
struct hist {
	uint64_t *v;
	size_t n, cap;
};

static int hist_add_array(struct hist *h, struct json_object *a)
{
	if (!a || !json_object_is_type(a, json_type_array))
		return 0;
	size_t n = json_object_array_length(a);
	if (n > h->n) {
		if (infty_grow(&h->v, &h->cap, n, sizeof *h->v))
			return INFTY_ENOMEM;
		memset(h->v + h->n, 0, (n - h->n) * sizeof *h->v);
		h->n = n;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t x = json_object_get_int64(json_object_array_get_idx(a, i));
		h->v[i] += x > 0 ? (uint64_t)x : 0;
	}
	return 0;
}

/* ---- features: the type of every column, as the file has it --------------- */

enum ftype { F_NULL, F_BOOL, F_INT, F_FLOAT, F_STR, F_LIST, F_STRUCT };

/* The hub's dtype names (datasets' Value types). */
static const char *const dtype[] = {"null", "bool", "int64", "float64", "string"};

struct feat {
	enum ftype t;
	struct feat *elem; /* F_LIST: the element type (NULL: no element seen) */
	size_t n;          /* F_STRUCT: fields, in the file's order */
	char **name;
	struct feat **field;
};

static void feat_free(struct feat *f)
{
	if (!f)
		return;
	feat_free(f->elem);
	for (size_t i = 0; i < f->n; i++) {
		infty_free(f->name[i]);
		feat_free(f->field[i]);
	}
	infty_free(f->name);
	infty_free(f->field);
	infty_free(f);
}

static enum ftype type_of(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return F_NULL;
	case json_type_boolean:
		return F_BOOL;
	case json_type_int:
		return F_INT;
	case json_type_double:
		return F_FLOAT;
	case json_type_string:
		return F_STR;
	case json_type_array:
		return F_LIST;
	case json_type_object:
		return F_STRUCT;
	}
	return F_NULL;
}

static const char *type_word(enum ftype t)
{
	return t == F_LIST ? "a list" : t == F_STRUCT ? "an object" : dtype[t];
}

/* Why a record does not fit the features: "field 'x.y' is ...". */
struct mismatch {
	char path[160];
	char what[160];
};

static void path_push(char *path, size_t *len, const char *part)
{
	int k = snprintf(path + *len, 160 - *len, "%s%s", *len ? "." : "", part);
	if (k > 0)
		*len = *len + (size_t)k < 159 ? *len + (size_t)k : 159;
}

/*
 * Merge the type of v into *fp (created on first sight).  null matches any
 * type (a later value decides it); an int column that also holds doubles
 * is float64.  Objects must have the same keys in the same order every
 * time.  Returns 0, INFTY_ESCHEMA with m filled, or INFTY_ENOMEM.
 */
static int feat_merge(struct feat **fp, struct json_object *v, char *path, size_t plen,
                      struct mismatch *m)
{
	enum ftype t = type_of(v);
	struct feat *f = *fp;
	if (t == F_NULL) {
		if (!f && !(*fp = infty_calloc(1, sizeof **fp)))
			return INFTY_ENOMEM;
		return 0;
	}
	if (f && f->t == F_NULL) {
		feat_free(f);
		*fp = f = NULL;
	}
	if (!f) {
		if (!(f = *fp = infty_calloc(1, sizeof *f)))
			return INFTY_ENOMEM;
		f->t = t;
		if (t == F_STRUCT) {
			size_t n = (size_t)json_object_object_length(v);
			f->name = infty_calloc(n ? n : 1, sizeof *f->name);
			f->field = infty_calloc(n ? n : 1, sizeof *f->field);
			if (!f->name || !f->field)
				return INFTY_ENOMEM;
			json_object_object_foreach(v, k, x)
			{
				(void)x;
				if (!(f->name[f->n++] = infty_strdup(k)))
					return INFTY_ENOMEM;
			}
		}
	}
	if ((f->t == F_INT && t == F_FLOAT) || (f->t == F_FLOAT && t == F_INT))
		f->t = t = F_FLOAT;
	if (f->t != t) {
		snprintf(m->path, sizeof m->path, "%s", plen ? path : "(record)");
		snprintf(m->what, sizeof m->what, "is %s, earlier records have %s", type_word(t),
		         type_word(f->t));
		return INFTY_ESCHEMA;
	}
	int rc = 0;
	if (t == F_LIST) {
		size_t n = json_object_array_length(v), len = plen;
		path_push(path, &len, "[]");
		for (size_t i = 0; i < n && !rc; i++)
			rc = feat_merge(&f->elem, json_object_array_get_idx(v, i), path, len, m);
		path[plen] = '\0';
	} else if (t == F_STRUCT) {
		size_t i = 0;
		json_object_object_foreach(v, k, x)
		{
			if (rc)
				break;
			size_t len = plen;
			path_push(path, &len, k);
			if (i >= f->n || strcmp(f->name[i], k)) {
				snprintf(m->path, sizeof m->path, "%s", path);
				snprintf(m->what, sizeof m->what,
				         "is not where earlier records have %s%s%s",
				         i < f->n ? "'" : "", i < f->n ? f->name[i] : "no field",
				         i < f->n ? "'" : "");
				rc = INFTY_ESCHEMA;
			} else {
				rc = feat_merge(&f->field[i], x, path, len, m);
			}
			path[plen] = '\0';
			i++;
		}
		if (!rc && i != f->n) {
			size_t len = plen;
			path_push(path, &len, f->name[i]);
			snprintf(m->path, sizeof m->path, "%s", path);
			snprintf(m->what, sizeof m->what, "is missing (earlier records have it)");
			rc = INFTY_ESCHEMA;
		}
	}
	return rc;
}

static void yaml_type(FILE *o, const struct feat *f, int ind);

/* "- name: N" then its type, as datasets writes Features to YAML. */
static void yaml_feature(FILE *o, const char *name, const struct feat *f, int ind)
{
	fprintf(o, "%*s- name: %s\n", ind, "", name);
	yaml_type(o, f, ind + 2);
}

static void yaml_type(FILE *o, const struct feat *f, int ind)
{
	enum ftype t = f ? f->t : F_NULL;
	if (t == F_STRUCT) {
		fprintf(o, "%*sstruct:\n", ind, "");
		for (size_t i = 0; i < f->n; i++)
			yaml_feature(o, f->name[i], f->field[i], ind);
	} else if (t == F_LIST) {
		enum ftype e = f->elem ? f->elem->t : F_NULL;
		if (e == F_STRUCT) {
			fprintf(o, "%*slist:\n", ind, "");
			for (size_t i = 0; i < f->elem->n; i++)
				yaml_feature(o, f->elem->name[i], f->elem->field[i], ind);
		} else if (e == F_LIST) {
			fprintf(o, "%*slist:\n", ind, "");
			yaml_type(o, f->elem, ind + 2);
		} else {
			fprintf(o, "%*slist: %s\n", ind, "", dtype[e]);
		}
	} else {
		fprintf(o, "%*sdtype: %s\n", ind, "", dtype[t]);
	}
}

/* ---- what the run did ------------------------------------------------------ */

struct dist {
	uint64_t count;
	int64_t min, max, sum;
};

static void dist_add(struct dist *d, struct json_object *o)
{
	uint64_t n = get_u(o, "count");
	if (!n)
		return;
	int64_t lo = (int64_t)get_u(o, "min"), hi = (int64_t)get_u(o, "max");
	if (!d->count || lo < d->min)
		d->min = lo;
	if (!d->count || hi > d->max)
		d->max = hi;
	d->count += n;
	d->sum += (int64_t)get_u(o, "sum");
}

struct run {
	const char *out;
	uint64_t shards;
	struct json_object *runjson, *totals; /* run.json, stats.json (may be NULL) */
	char *params[4];                      /* segment, summarize, build, shard */
	/* segment */
	uint64_t rows, traces, seg_rejected, segments, hard, lines, reasoning_tokens;
	struct tally seg_rejects, formats;
	struct hist tok;
	int64_t bucket;
	struct json_object *seg_params; /* the first shard's stats params */
	/* summarize */
	uint64_t sum_in, sum_ok, sum_failed, sum_made;
	struct tally sum_rejects;
	struct json_object *summary; /* the first summary record seen (its provenance) */
	/* build */
	char *format;
	uint64_t b_in, b_traces, b_inst, b_rejects;
	struct tally b_rejects_by, by_n;
	struct dist ptok, ttok;
	/* the training file */
	uint64_t records, bytes;
	struct feat *schema;
};

static void run_release(struct run *r)
{
	json_object_put(r->runjson);
	json_object_put(r->totals);
	json_object_put(r->seg_params);
	json_object_put(r->summary);
	for (int i = 0; i < 4; i++)
		infty_free(r->params[i]);
	tally_release(&r->seg_rejects);
	tally_release(&r->formats);
	tally_release(&r->sum_rejects);
	tally_release(&r->b_rejects_by);
	tally_release(&r->by_n);
	infty_free(r->tok.v);
	infty_free(r->format);
	feat_free(r->schema);
}

/* Parse the JSON file at path; NULL (message printed) when it cannot. */
static struct json_object *load_json(const char *path)
{
	size_t len;
	char *text = read_file(path, &len), detail[160] = "";
	if (!text) {
		infty_warn("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct json_object *o = NULL;
	if (infty_json_parse_value(text, len, &o, detail, sizeof detail) || !o ||
	    !json_object_is_type(o, json_type_object)) {
		infty_warn("%s: not a JSON object%s%s", path, *detail ? ": " : "", detail);
		json_object_put(o);
		o = NULL;
	}
	infty_free(text);
	return o;
}

/* The stats of one stage's shard (inspect_run.c's reader); NULL with the
 * message printed. */
static struct json_object *shard_stats(const struct run *r, const char *stage, uint64_t k)
{
	char detail[4608];
	struct json_object *s = inspect_run_stats(r->out, stage, (long)k, detail, sizeof detail);
	if (!s)
		infty_warn("%s", detail);
	return s;
}

/* Read OUT/<stage>/stats/SSSSS.json of every shard into r. */
static int read_shard_stats(struct run *r)
{
	for (uint64_t k = 0; k < r->shards; k++) {
		struct json_object *s = shard_stats(r, "segment", k);
		if (!s)
			return INFTY_EXIT_USAGE;
		r->rows += get_u(s, "rows");
		r->traces += get_u(s, "traces");
		r->seg_rejected += get_u(s, "rejected");
		r->segments += get_u(s, "segments");
		r->hard += get_u(s, "hard_cuts");
		r->lines += get_u(s, "line_cuts");
		r->reasoning_tokens += get_u(s, "reasoning_tokens");
		need(tally_add_object(&r->seg_rejects, get(s, "rejects_by_reason")));
		need(tally_add_object(&r->formats, get(s, "traces_by_format")));
		need(hist_add_array(&r->tok, get(get(s, "tokens_per_segment"), "counts")));
		r->bucket = (int64_t)get_u(get(s, "tokens_per_segment"), "bucket");
		if (!r->seg_params)
			r->seg_params = json_object_get(get(s, "params"));
		json_object_put(s);

		s = shard_stats(r, "summarize", k);
		if (!s)
			return INFTY_EXIT_USAGE;
		r->sum_in += get_u(get(s, "traces"), "in");
		r->sum_ok += get_u(get(s, "traces"), "ok");
		r->sum_failed += get_u(get(s, "traces"), "failed");
		r->sum_made += get_u(get(s, "summaries"), "made");
		json_object_put(s);

		s = shard_stats(r, "build", k);
		if (!s)
			return INFTY_EXIT_USAGE;
		r->b_in += get_u(s, "records_in");
		r->b_traces += get_u(s, "traces_out");
		r->b_inst += get_u(s, "instances_out");
		r->b_rejects += get_u(s, "rejected");
		need(tally_add_object(&r->b_rejects_by, get(s, "rejects_by_reason")));
		need(tally_add_object(&r->by_n, get(s, "traces_by_n")));
		dist_add(&r->ptok, get(s, "prompt_tokens"));
		dist_add(&r->ttok, get(s, "target_tokens"));
		if (!r->format && get_s(s, "format"))
			need(!(r->format = infty_strdup(get_s(s, "format"))));
		json_object_put(s);
	}
	return 0;
}

/*
 * The summarize stage's dead letters by reason, and the provenance of the
 * summaries (backend, model, prompt hash, mode) from the first summarized
 * record that has one.  Returns 0 or an exit status (message printed).
 */
static int read_summaries(struct run *r)
{
	for (uint64_t k = 0; k < r->shards; k++) {
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 0 && r->summary)
				continue;
			char *p = strf(pass ? "%s/summarize/failed/%05llu.jsonl.zst"
			                    : "%s/summarize/out/%05llu.jsonl.zst",
			               r->out, (unsigned long long)k);
			struct infty_reader *in = NULL;
			if (access(p, F_OK)) {
				infty_free(p);
				continue;
			}
			if (infty_reader_open(&in, p, 0, NULL, 0)) {
				infty_warn("%s: cannot open", p);
				infty_free(p);
				return INFTY_EXIT_STOPPED;
			}
			int rc;
			struct json_object *rec;
			uint64_t line;
			while ((rc = infty_reader_next(in, &rec, &line)) != 0) {
				if (rc < 0 && rc != INFTY_EJSON && rc != INFTY_EUTF8) {
					infty_warn("%s: %s", p, infty_strerror(rc));
					infty_reader_free(in);
					infty_free(p);
					return INFTY_EXIT_STOPPED;
				}
				if (rc < 0) {
					if (pass)
						need(tally_add(&r->sum_rejects, "unreadable", 1));
					continue;
				}
				int stop = 0;
				if (pass) {
					const char *why = get_s(rec, "reason");
					need(tally_add(&r->sum_rejects, why ? why : "?", 1));
				} else {
					struct json_object *s = get(rec, "summaries");
					if (s && json_object_is_type(s, json_type_array) &&
					    json_object_array_length(s) > 0) {
						r->summary = json_object_get(
						    json_object_array_get_idx(s, 0));
						stop = 1;
					}
				}
				json_object_put(rec);
				if (stop)
					break;
			}
			infty_reader_free(in);
			infty_free(p);
		}
	}
	return 0;
}

/* ---- the files --------------------------------------------------------------- */

/* The columns each build format has (meta may follow), for dataset_info. */
static const char *const *format_columns(const char *format)
{
	static const char *const paper[] = {"input", "target", NULL};
	static const char *const trl[] = {"prompt", "completion", NULL};
	static const char *const messages[] = {"messages", NULL};
	static const char *const hf[] = {"uuid",       "reasoning_index",   "question",
	                                 "history",    "reasoning_process", "summary",
	                                 "conclusion", "messages",          NULL};
	if (!format)
		return NULL;
	if (!strcmp(format, "paper"))
		return paper;
	if (!strcmp(format, "trl") || !strcmp(format, "trl-chat"))
		return trl;
	if (!strcmp(format, "messages"))
		return messages;
	if (!strcmp(format, "hf"))
		return hf;
	return NULL;
}

/*
 * Copy OUT/train.jsonl.zst to dst line for line, inferring the features
 * from every record.  Returns 0 or an exit status (message printed).
 */
static int copy_train(struct run *r, const char *dst)
{
	char *src = strf("%s/train.jsonl.zst", r->out);
	struct infty_reader *in = NULL;
	if (access(src, R_OK) || infty_reader_open(&in, src, 0, NULL, 0)) {
		infty_warn("%s: cannot read the training file (is the run merged?)", src);
		infty_free(src);
		return INFTY_EXIT_USAGE;
	}
	struct infty_writer_opts wo;
	infty_writer_opts_init(&wo);
	wo.compress = 0;
	struct infty_writer *w = NULL;
	int status = 0, rc = infty_writer_open(&w, dst, &wo, NULL, 0);
	if (rc) {
		infty_warn("%s: cannot write: %s", dst, infty_strerror(rc));
		status = INFTY_EXIT_STOPPED;
	}
	while (!status) {
		struct json_object *rec = NULL;
		uint64_t line = 0;
		rc = infty_reader_next(in, &rec, &line);
		if (rc == 0)
			break;
		if (rc < 0) {
			infty_warn("%s:%llu: %s: %s", src, (unsigned long long)line,
			           infty_strerror(rc), infty_reader_detail(in));
			status = INFTY_EXIT_STOPPED;
			break;
		}
		char path[160] = "";
		struct mismatch m;
		rc = json_object_is_type(rec, json_type_object)
		         ? feat_merge(&r->schema, rec, path, 0, &m)
		         : INFTY_ESCHEMA;
		json_object_put(rec);
		if (rc == INFTY_ESCHEMA) {
			infty_warn("%s:%llu: field '%s' %s: the file has no single schema", src,
			           (unsigned long long)line, m.path, m.what);
			status = INFTY_EXIT_STOPPED;
			break;
		}
		size_t len;
		const char *raw = infty_reader_line(in, &len);
		if (rc || infty_writer_put(w, raw, len)) {
			infty_warn("%s: %s", dst, rc ? infty_strerror(rc) : infty_writer_detail(w));
			status = INFTY_EXIT_STOPPED;
			break;
		}
		r->records++;
		r->bytes += len + 1;
	}
	infty_reader_free(in);
	char detail[256];
	if (!status && infty_writer_close(w, detail, sizeof detail)) {
		infty_warn("%s: %s", dst, detail);
		status = INFTY_EXIT_STOPPED;
	} else if (status) {
		infty_writer_free(w);
	}
	/* The file must be what the build format says, or dataset_info lies. */
	const char *const *cols = format_columns(r->format);
	if (!status && cols && r->records) {
		size_t i = 0;
		for (; cols[i]; i++)
			if (i >= r->schema->n || strcmp(r->schema->name[i], cols[i]))
				break;
		if (cols[i] || (r->schema->n != i &&
		                (r->schema->n != i + 1 || strcmp(r->schema->name[i], "meta")))) {
			infty_warn("%s: its columns are not those of the '%s' format the build "
			           "stats name",
			           src, r->format);
			status = INFTY_EXIT_STOPPED;
		}
	}
	infty_free(src);
	return status;
}

/* LLaMA-Factory's entry for the format, or NULL when it has none. */
static struct json_object *lf_entry(const char *format)
{
	const char *const *cols = format_columns(format);
	if (!cols || !strcmp(format, "trl-chat"))
		return NULL; /* LLaMA-Factory reads no prompt/completion message lists */
	struct json_object *e = json_object_new_object(), *c = json_object_new_object();
	json_object_object_add(e, "file_name", json_object_new_string("data/train.jsonl"));
	if (!strcmp(format, "messages") || !strcmp(format, "hf")) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(e, "formatting", json_object_new_string("sharegpt"));
		json_object_object_add(c, "messages", json_object_new_string("messages"));
		json_object_object_add(t, "role_tag", json_object_new_string("role"));
		json_object_object_add(t, "content_tag", json_object_new_string("content"));
		json_object_object_add(t, "user_tag", json_object_new_string("user"));
		json_object_object_add(t, "assistant_tag", json_object_new_string("assistant"));
		json_object_object_add(e, "columns", c);
		json_object_object_add(e, "tags", t);
	} else {
		/* alpaca: prompt is the user's text, response the trained one */
		json_object_object_add(e, "formatting", json_object_new_string("alpaca"));
		json_object_object_add(c, "prompt", json_object_new_string(cols[0]));
		json_object_object_add(c, "response", json_object_new_string(cols[1]));
		json_object_object_add(e, "columns", c);
	}
	struct json_object *top = json_object_new_object();
	json_object_object_add(top, LF_NAME, e);
	return top;
}

static int write_json_file(const char *path, struct json_object *o)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE),
	      f);
	fputc('\n', f);
	int bad = ferror(f);
	return fclose(f) || bad ? -1 : 0;
}

/* ---- the card ---------------------------------------------------------------- */

struct card {
	const char *source, *license, *repo;
};

static const char *size_category(uint64_t n)
{
	return n < 1000         ? "n<1K"
	       : n < 10000      ? "1K<n<10K"
	       : n < 100000     ? "10K<n<100K"
	       : n < 1000000    ? "100K<n<1M"
	       : n < 10000000   ? "1M<n<10M"
	       : n < 100000000  ? "10M<n<100M"
	       : n < 1000000000 ? "100M<n<1B"
	                        : "n>1B";
}

/* A params line with directories dropped (a card is published). */
static void put_params(FILE *o, const char *stage, const char *text)
{
	fprintf(o, "%-9s ", stage);
	const char *p = text ? text : "";
	while (*p) {
		size_t sp = strspn(p, " \t"), len;
		if (sp) {
			fputc(' ', o);
			p += sp;
			continue;
		}
		len = strcspn(p, " \t");
		if (*p == '/') {
			char *tok = infty_strndup(p, len);
			fputs(tok ? base_name(tok) : "?", o);
			infty_free(tok);
		} else {
			fwrite(p, 1, len, o);
		}
		p += len;
	}
	fputc('\n', o);
}

/* Replace absolute paths among the string values of o by their last part. */
static void strip_dirs(struct json_object *o)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			if (json_object_is_type(v, json_type_string) &&
			    json_object_get_string(v)[0] == '/') {
				char *b = infty_strdup(base_name(json_object_get_string(v)));
				if (b)
					json_object_set_string(v, b);
				infty_free(b);
			} else {
				strip_dirs(v);
			}
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			strip_dirs(json_object_array_get_idx(o, i));
	}
}

/* By the number the key starts with ("64+" is 64). */
static int cmp_num_key(const void *a, const void *b)
{
	unsigned long long x = strtoull(((const struct tally_entry *)a)->key, NULL, 10);
	unsigned long long y = strtoull(((const struct tally_entry *)b)->key, NULL, 10);
	return (x > y) - (x < y);
}

static void put_rejects(FILE *o, const char *stage, const struct tally *t, int *any)
{
	for (size_t i = 0; i < t->len; i++) {
		if (!*any)
			fputs("| stage | reason | records |\n| --- | --- | ---: |\n", o);
		*any = 1;
		fprintf(o, "| %s | `%s` | %llu |\n", stage, t->v[i].key,
		        (unsigned long long)t->v[i].n);
	}
}

/*
 * The summaries' checks, the judge and what the requests took, from the
 * run's totals (stats.json): nothing when the totals do not have them (a
 * run merged before they were summed).
 */
static void put_quality_and_usage(FILE *o, struct json_object *t)
{
	struct json_object *q = get(t, "quality"), *fl = get(q, "flags"), *j = get(t, "judge");
	if (q && get_u(q, "checked")) {
		uint64_t checked = get_u(q, "checked"), flagged = get_u(q, "flagged");
		fprintf(
		    o,
		    "\n## Summary quality\n\nEvery summary was checked without a model (infty's "
		    "docs/quality.md): %llu checked, %llu flagged (%.1f%%)",
		    (unsigned long long)checked, (unsigned long long)flagged,
		    100.0 * (double)flagged / (double)checked);
		if (get_u(q, "rejected"))
			fprintf(o, "; %llu traces left out by the policy",
			        (unsigned long long)get_u(q, "rejected"));
		fputs(". A flag marks a summary to look at, not a wrong one.\n\n"
		      "| flag | summaries |\n| --- | ---: |\n",
		      o);
		if (fl) {
			json_object_object_foreach(fl, name, v)
			{
				fprintf(o, "| %s | %lld |\n", name,
				        (long long)json_object_get_int64(v));
			}
		}
	}
	if (j && get_u(j, "judged")) {
		struct json_object *sc = get(j, "scores"), *d = get(j, "score"), *x;
		fprintf(o,
		        "\nThe judge (a model grading each summary on a rubric, 1 to 5) graded "
		        "%llu summaries; %llu of them were refined at least once. Scores:\n\n"
		        "| score | summaries |\n| ---: | ---: |\n",
		        (unsigned long long)get_u(j, "judged"),
		        (unsigned long long)(get_u(j, "judged") - get_u(get(j, "rounds"), "1")));
		for (int k = 5; k >= 1; k--) {
			char key[4];
			snprintf(key, sizeof key, "%d", k);
			fprintf(o, "| %d | %llu |\n", k, (unsigned long long)get_u(sc, key));
		}
		if (d && json_object_object_get_ex(d, "mean", &x))
			fprintf(o, "\nMean %.2f, median %llu, lowest %llu.\n",
			        json_object_get_double(x), (unsigned long long)get_u(d, "p50"),
			        (unsigned long long)get_u(d, "min"));
	}
	struct json_object *u = get(t, "usage"), *cost = get(t, "cost"), *x;
	if (u && get_u(u, "requests")) {
		fprintf(
		    o,
		    "\n## Requests and tokens\n\nThe summaries took %llu requests: %llu prompt "
		    "tokens (%llu served by the server's prefix cache) and %llu completion tokens",
		    (unsigned long long)get_u(u, "requests"),
		    (unsigned long long)get_u(u, "prompt_tokens"),
		    (unsigned long long)get_u(u, "cached_tokens"),
		    (unsigned long long)get_u(u, "completion_tokens"));
		if (cost && json_object_object_get_ex(cost, "total", &x)) {
			double v = json_object_get_double(x);
			fprintf(o, "; at %g / %g per million prompt / completion tokens, ",
			        json_object_get_double(get(cost, "price_in")),
			        json_object_get_double(get(cost, "price_out")));
			fprintf(o, v >= 100 ? "%.0f" : "%.4g", v);
		}
		fputs(".\n", o);
	}
}

static void card_yaml(FILE *o, const struct run *r, const struct card *c)
{
	fprintf(o, "---\nlicense: %s\n", c->license);
	fputs("pretty_name: \"InftyThink iterative reasoning instances\"\n", o);
	fputs("task_categories:\n- text-generation\n", o);
	fputs("tags:\n- reasoning\n- inftythink\n", o);
	if (c->source && !strcmp(c->source, OPENR1))
		fputs("- math\n", o);
	fprintf(o, "size_categories:\n- %s\n", size_category(r->records));
	fputs("configs:\n- config_name: default\n  data_files:\n  - split: train\n"
	      "    path: data/train.jsonl\n",
	      o);
	fputs("dataset_info:\n  features:\n", o);
	for (size_t i = 0; i < r->schema->n; i++)
		yaml_feature(o, r->schema->name[i], r->schema->field[i], 2);
	fprintf(o, "  splits:\n  - name: train\n    num_examples: %llu\n",
	        (unsigned long long)r->records);
	fputs("---\n\n", o);
}

static void card_body(FILE *o, struct run *r, const struct card *c)
{
	const char *version = get_s(r->runjson, "version");
	const char *input = get_s(r->runjson, "input");
	const char *tokenizer = get_s(r->seg_params, "tokenizer");
	const char *fmt = r->format ? r->format : "?";
	fputs("# InftyThink iterative reasoning instances\n\n", o);
	fprintf(o,
	        "Training instances in the InftyThink format (Yan et al., \"InftyThink: Breaking "
	        "the Length Limits of Long-Context Reasoning in Large Language Models\", "
	        "arXiv:2503.06692), built by infty %s from %s. "
	        "Each reasoning trace is cut into segments of at most eta tokens; after each "
	        "segment but the last, a summary of the progress so far is written; a trace of "
	        "n segments gives n instances: the question plus the latest summary in the "
	        "prompt, the next segment and then a new summary, or the conclusion on the "
	        "last, as the target.\n\n",
	        version ? version : "?", c->source ? c->source : "an unnamed source");

	fputs("## Files\n\n", o);
	char size[32];
	if (r->bytes >= 1000000)
		snprintf(size, sizeof size, "%.1f MB", (double)r->bytes / 1e6);
	else
		snprintf(size, sizeof size, "%llu bytes", (unsigned long long)r->bytes);
	fprintf(o,
	        "* `data/train.jsonl`: %llu instances from %llu traces (%s), format `%s`; JSON "
	        "Lines, uncompressed, because LLaMA-Factory reads no `.zst` and `datasets` only "
	        "with the optional `zstandard` package.\n",
	        (unsigned long long)r->records, (unsigned long long)r->b_traces, size, fmt);
	if (strcmp(fmt, "trl-chat"))
		fputs("* `dataset_info.json`: LLaMA-Factory's entry for it, named `" LF_NAME
		      "` (`dataset_dir` is this directory).\n",
		      o);
	else
		fputs("* No `dataset_info.json`: LLaMA-Factory has no layout for TRL's "
		      "conversational prompt-completion; build with `FORMAT=messages` for it.\n",
		      o);
	fputs("* `README.md`: this card.\n\n", o);

	fputs("## Use\n\n```python\nfrom datasets import load_dataset\n", o);
	fprintf(o, "ds = load_dataset(\"%s\", split=\"train\")\n",
	        c->repo ? c->repo : "<user>/<name>");
	fputs("# or, from this directory: "
	      "load_dataset(\"json\", data_files=\"data/train.jsonl\", split=\"train\")\n```\n\n",
	      o);
	uint64_t bound = r->ptok.count ? (uint64_t)(r->ptok.max + r->ttok.max) : 0;
	if (!strcmp(fmt, "trl") || !strcmp(fmt, "trl-chat"))
		fprintf(
		    o,
		    "TRL: `SFTTrainer(train_dataset=ds, args=SFTConfig(completion_only_loss=True, "
		    "max_length=...))` trains on the completion only (%s). ",
		    strcmp(fmt, "trl") ? "with any chat template, Qwen's stock ones included"
		                       : "the paper's raw text, for base models");
	else if (!strcmp(fmt, "messages") || !strcmp(fmt, "hf"))
		fputs("LLaMA-Factory: `dataset_dir: <this directory>`, `dataset: " LF_NAME "`, "
		      "`train_on_prompt: false` (the default) trains on the assistant turn only; "
		      "with TRL use the `trl-chat` format instead. ",
		      o);
	else
		fputs("The paper's raw text: train on `target` given `input` (the `trl` format has "
		      "the same strings under TRL's names). ",
		      o);
	if (bound)
		fprintf(
		    o,
		    "The longest prompt has %lld tokens and the longest target %lld: set the "
		    "trainer's length limit (TRL `max_length`, LLaMA-Factory `cutoff_len`) to at "
		    "least %llu plus the chat template's tokens, or instances are cut.\n\n",
		    (long long)r->ptok.max, (long long)r->ttok.max, (unsigned long long)bound);
	else
		fputs("Set the trainer's length limit high enough: instances hold up to eta "
		      "reasoning tokens plus the question and a summary.\n\n",
		      o);

	fputs("## Source and license\n\n", o);
	if (c->source)
		fprintf(o, "The rows come from `%s`. ", c->source);
	if (strcmp(c->license, "unknown")) {
		fprintf(o, "License: `%s`%s.\n\n", c->license,
		        c->source ? ", carried from the source" : "");
	} else {
		fputs("The license of the source rows is not known to infty: state it in "
		      "`license:` above before publishing, or rerun `infty-inspect dataset "
		      "--source NAME --license ID OUT` (`DATASET_OPTS=` in `make convert`).",
		      o);
		if (r->formats.len == 1 && !strcmp(r->formats.v[0].key, "openr1"))
			fputs(" The rows have the shape of " OPENR1 " (Apache-2.0): if that is "
			      "where they come from, `--source " OPENR1 "` says so.",
			      o);
		fputs("\n\n", o);
	}
	fputs("## How it was made\n\n", o);
	fprintf(o, "* Input: `%s`, %llu rows, in %llu shards; traces by row shape:",
	        input ? base_name(input) : "?", (unsigned long long)r->rows,
	        (unsigned long long)r->shards);
	for (size_t i = 0; i < r->formats.len; i++)
		fprintf(o, "%s %s %llu", i ? "," : "", r->formats.v[i].key,
		        (unsigned long long)r->formats.v[i].n);
	fputs(r->formats.len ? ".\n" : " none.\n", o);
	fprintf(o,
	        "* Segmentation: eta %lld tokens, `%s` packing (min_tail %lld), pick `%s`, "
	        "accept `%s`; %llu segments, %llu hard cuts, %llu line cuts.\n",
	        (long long)get_u(r->seg_params, "eta"),
	        get_s(r->seg_params, "pack") ? get_s(r->seg_params, "pack") : "?",
	        (long long)get_u(r->seg_params, "min_tail"),
	        get_s(r->seg_params, "pick") ? get_s(r->seg_params, "pick") : "?",
	        get_s(r->seg_params, "accept") ? get_s(r->seg_params, "accept") : "infty",
	        (unsigned long long)r->segments, (unsigned long long)r->hard,
	        (unsigned long long)r->lines);
	fprintf(o, "* Tokenizer: `%s` (sha256 of its tokenizer.json).\n",
	        tokenizer ? tokenizer : "?");
	if (r->summary)
		fprintf(o,
		        "* Summaries: backend `%s`, model `%s`, mode `%s`, prompts `%s`; %llu "
		        "summaries for %llu traces.\n",
		        get_s(r->summary, "backend") ? get_s(r->summary, "backend") : "?",
		        get_s(r->summary, "model") ? get_s(r->summary, "model") : "?",
		        get_s(r->summary, "mode") ? get_s(r->summary, "mode") : "?",
		        get_s(r->summary, "prompt") ? get_s(r->summary, "prompt") : "?",
		        (unsigned long long)r->sum_made, (unsigned long long)r->sum_ok);
	else
		fputs("* Summaries: none was needed (every trace has one segment).\n", o);
	fprintf(o, "* Build: format `%s`.\n", fmt);
	fprintf(o, "* Run: infty %s, config hash `%s`.\n\n", version ? version : "?",
	        get_s(r->runjson, "config_hash") ? get_s(r->runjson, "config_hash") : "?");
	fputs("Every parameter, as the pipeline recorded it (`OUT/<stage>/params`; directories "
	      "left out):\n\n```\n",
	      o);
	put_params(o, "shard", r->params[3]);
	put_params(o, "segment", r->params[0]);
	put_params(o, "summarize", r->params[1]);
	put_params(o, "build", r->params[2]);
	fputs("```\n\n", o);

	fputs("## Counts\n\n| stage | in | out | rejected |\n| --- | ---: | ---: | ---: |\n", o);
	fprintf(o, "| segment | %llu rows | %llu traces | %llu |\n", (unsigned long long)r->rows,
	        (unsigned long long)r->traces, (unsigned long long)r->seg_rejected);
	fprintf(o, "| summarize | %llu traces | %llu traces | %llu |\n",
	        (unsigned long long)r->sum_in, (unsigned long long)r->sum_ok,
	        (unsigned long long)r->sum_failed);
	fprintf(o, "| build | %llu traces | %llu instances | %llu |\n\n",
	        (unsigned long long)r->b_in, (unsigned long long)r->b_inst,
	        (unsigned long long)r->b_rejects);

	fputs("Instances per trace (= segments per trace) in the file:\n\n"
	      "| n | traces | instances |\n| ---: | ---: | ---: |\n",
	      o);
	/* Sorted in place: r is ours and the order of this tally matters nowhere else. */
	qsort(r->by_n.v, r->by_n.len, sizeof *r->by_n.v, cmp_num_key);
	for (size_t i = 0; i < r->by_n.len; i++)
		fprintf(
		    o, "| %s | %llu | %llu |\n", r->by_n.v[i].key,
		    (unsigned long long)r->by_n.v[i].n,
		    (unsigned long long)(r->by_n.v[i].n * strtoull(r->by_n.v[i].key, NULL, 10)));
	fprintf(o,
	        "\nTokens per segment (%llu segments of the %llu segmented traces; reasoning "
	        "tokens %llu):\n\n| tokens | segments |\n| --- | ---: |\n",
	        (unsigned long long)r->segments, (unsigned long long)r->traces,
	        (unsigned long long)r->reasoning_tokens);
	for (size_t i = 0; i < r->tok.n; i++)
		if (r->tok.v[i])
			fprintf(o, "| %lld-%lld | %llu |\n", (long long)(i * (size_t)r->bucket),
			        (long long)((i + 1) * (size_t)r->bucket - 1),
			        (unsigned long long)r->tok.v[i]);
	if (r->ptok.count) {
		fputs("\nTokens per instance (the tokenizer above, no chat template):\n\n"
		      "| | instances | min | mean | max |\n| --- | ---: | ---: | ---: | ---: |\n",
		      o);
		const struct dist *d[2] = {&r->ptok, &r->ttok};
		const char *name[2] = {"prompt", "target"};
		for (int i = 0; i < 2; i++)
			fprintf(o, "| %s | %llu | %lld | %.0f | %lld |\n", name[i],
			        (unsigned long long)d[i]->count, (long long)d[i]->min,
			        (double)d[i]->sum / (double)d[i]->count, (long long)d[i]->max);
	}

	fputs("\n## Rejects by reason\n\n", o);
	int any = 0;
	put_rejects(o, "segment", &r->seg_rejects, &any);
	put_rejects(o, "summarize", &r->sum_rejects, &any);
	put_rejects(o, "build", &r->b_rejects_by, &any);
	fputs(any ? "\nEvery rejected record, with its reason and the raw input line, is in the "
	            "run's `rejects.jsonl.zst` (not published here).\n"
	          : "None: every row became instances.\n",
	      o);
	if (r->totals)
		put_quality_and_usage(o, r->totals);

	if (r->totals) {
		struct json_object *t = NULL;
		if (json_object_deep_copy(r->totals, &t, NULL) == 0 && t) {
			strip_dirs(t);
			fprintf(o, "\n## Run totals (`stats.json`)\n\n```json\n%s\n```\n",
			        json_object_to_json_string_ext(
			            t, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			                   JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(t);
		}
	}

	fputs("\n## Upload\n\nFrom this directory:\n\n```sh\n", o);
	fprintf(o, "hf upload %s . --repo-type dataset\n", c->repo ? c->repo : "<user>/<name>");
	fputs("```\n\n(`hf` is huggingface_hub's command line from version 0.34; "
	      "`huggingface-cli upload` takes the same arguments before 1.0, which removed "
	      "it.)\n",
	      o);
}

/* ---- publishing ---------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Remove the tree at path (absent is fine).  0 or -1 with errno. */
static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int inspect_dataset(const char *dir, const char *source, const char *license, const char *repo)
{
	struct card c = {.source = source, .license = license, .repo = repo};
	struct run r = {0};
	size_t olen = strlen(dir);
	while (olen > 1 && dir[olen - 1] == '/')
		olen--;
	char *out = strf("%.*s", (int)olen, dir);
	char *tmp = strf("%s/.dataset.tmp", out), *data = strf("%s/data", tmp);
	char *old = strf("%s/.dataset.old", out), *fin = strf("%s/dataset", out);
	char *p = NULL;
	int status = INFTY_EXIT_USAGE;
	r.out = out;

	/* The run as the pipeline left it. */
	p = strf("%s/run.json", out);
	r.runjson = load_json(p);
	infty_free(p);
	if (!r.runjson)
		goto done;
	if (!(r.shards = get_u(r.runjson, "total_shards"))) {
		infty_warn("%s/run.json: no total_shards", out);
		goto done;
	}
	static const char *const stages[4] = {"segment", "summarize", "build", "shard"};
	for (int i = 0; i < 4; i++) {
		p = strf("%s/%s/params", out, stages[i]);
		r.params[i] = read_file(p, NULL);
		if (r.params[i]) /* the first line: the options (a second one is a comment) */
			r.params[i][strcspn(r.params[i], "\n")] = '\0';
		infty_free(p);
	}
	p = strf("%s/stats.json", out);
	if (!access(p, F_OK))
		r.totals = load_json(p);
	infty_free(p);
	if ((status = read_shard_stats(&r)) || (status = read_summaries(&r)))
		goto done;

	/*
	 * Where the rows came from, and so their license: only as the user
	 * says.  A row's shape does not tell (any dataset may have OpenR1's
	 * column names), and a wrong license on a published card is worse than
	 * "unknown"; the card only hints at OpenR1 when the shape matches.
	 */
	if (!c.license)
		c.license = c.source && !strcmp(c.source, OPENR1) ? OPENR1_LICENSE : "unknown";

	/* Build it aside, then swap it in. */
	status = INFTY_EXIT_STOPPED;
	if (rm_tree(tmp) || mkdir(tmp, 0777) || mkdir(data, 0777)) {
		infty_warn("%s: %s", tmp, strerror(errno));
		goto done;
	}
	p = strf("%s/train.jsonl", data);
	status = copy_train(&r, p);
	infty_free(p);
	if (status)
		goto done;
	if (!r.records) {
		/* Every row was rejected: no features to declare, nothing to
		 * publish, and a dataset of an earlier run must not pass for this one. */
		status = rm_tree(fin) ? INFTY_EXIT_STOPPED : INFTY_EXIT_OK;
		infty_warn("%s/train.jsonl.zst: no instance: %s", out,
		           status ? strerror(errno) : "no dataset written");
		goto done;
	}
	status = INFTY_EXIT_STOPPED;
	struct json_object *lf = lf_entry(r.format);
	p = strf("%s/dataset_info.json", tmp);
	int bad = lf && write_json_file(p, lf);
	if (bad)
		infty_warn("%s: %s", p, strerror(errno));
	json_object_put(lf);
	infty_free(p);
	if (bad)
		goto done;
	p = strf("%s/README.md", tmp);
	FILE *f = fopen(p, "w");
	if (f) {
		card_yaml(f, &r, &c);
		card_body(f, &r, &c);
		bad = ferror(f);
		bad |= fclose(f) != 0;
	}
	if (!f || bad)
		infty_warn("%s: %s", p, f ? "write failed" : strerror(errno));
	infty_free(p);
	if (!f || bad)
		goto done;
	if (rm_tree(old) || (access(fin, F_OK) == 0 && rename(fin, old)) || rename(tmp, fin)) {
		infty_warn("%s: %s", fin, strerror(errno));
		if (access(fin, F_OK) && !access(old, F_OK))
			rename(old, fin); /* put the previous one back */
		goto done;
	}
	if (rm_tree(old))
		infty_warn("%s: %s (left behind)", old, strerror(errno));
	printf("%s: %llu instances (%s), card %s/README.md\n", fin, (unsigned long long)r.records,
	       r.format ? r.format : "?", fin);
	printf("publish: hf upload %s %s --repo-type dataset\n", c.repo ? c.repo : "<user>/<name>",
	       fin);
	status = fflush(stdout) || ferror(stdout) ? INFTY_EXIT_STOPPED : INFTY_EXIT_OK;
done:
	if (status || !r.records)
		rm_tree(tmp);
	infty_free(tmp);
	infty_free(data);
	infty_free(old);
	infty_free(fin);
	run_release(&r);
	infty_free(out);
	return status;
}
