/*
 * stage.c - the frame of every stage tool (see stage.h): inputs checked
 * and recognised once, outputs to temporaries published together or not
 * at all, rejects and stats in one shape, progress on the terminal and in
 * the --progress snapshot, and the exit status from the outcome.
 */
#include "infty/stage.h"
#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/progress.h"
#include "infty/utf8.h"

#include <errno.h>
#include <json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef INFTY_VERSION
#define INFTY_VERSION "0.0.0"
#endif

#define SNIFF_BYTES   (64u << 10) /* what is looked at to recognise an input */
#define MAX_FILES     4           /* infty_stage_add_output() entries */
#define DEFAULT_SHOWN 10          /* reject lines printed before counting only */

struct reason_count {
	char *reason; /* owned */
	uint64_t n;
};

struct infty_stage {
	const struct infty_stage_config *c; /* borrowed */
	FILE *log;
	int opened;

	/* inputs */
	size_t n_inputs, next; /* inputs, and how many were handed out */
	struct infty_reader *in;
	int first_pending;   /* open() opened input 0; next_input hands it out */
	uint64_t bytes_done; /* bytes of the inputs already closed */
	uint64_t bytes_total;
	int total_bytes_known;

	/* outputs */
	struct infty_writer *out, *rej;
	struct {
		struct infty_stage_files f;
		void *ctx;
	} files[MAX_FILES];
	size_t nfiles;

	/* rejects */
	uint64_t rejected, shown;
	struct reason_count *reasons;
	size_t nreasons, rcap;
	struct infty_buf rline;

	/* progress */
	struct infty_progress *p;
	uint64_t done, total;
	char extra[256]; /* the last extra text, for the final line */
	double t0;       /* monotonic start */
	time_t started;
	double snap_last, snap_every;
	int snap_warned;

	/* the outcome */
	int rc;
	char msg[1536];
	const char *stopped_by;
};

static volatile sig_atomic_t cancelled;
static void (*signal_hook)(void);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *input_at(const struct infty_stage *st, size_t i)
{
	return st->c->n_inputs ? st->c->inputs[i] : "-";
}

/* ---- messages ------------------------------------------------------------ */

static void clear_line(void *ctx)
{
	struct infty_stage *st = ctx;
	infty_progress_clear(st->p);
}

static void vsay(struct infty_stage *st, const char *fmt, va_list ap)
{
	if (st->c->silent)
		return;
	char buf[2048];
	vsnprintf(buf, sizeof buf, fmt, ap);
	infty_progress_clear(st->p);
	/* One fprintf: lines from threads do not interleave. */
	fprintf(st->log, "%s: %s\n", infty_cli_progname(), buf);
	fflush(st->log);
}

static void say(struct infty_stage *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct infty_stage *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(st, fmt, ap);
	va_end(ap);
}

void infty_stage_warn(struct infty_stage *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(st, fmt, ap);
	va_end(ap);
}

int infty_stage_fail(struct infty_stage *st, int rc, const char *fmt, ...)
{
	if (st->rc)
		return rc;
	st->rc = rc ? rc : INFTY_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof st->msg, fmt, ap);
	va_end(ap);
	return rc;
}

void infty_stage_set_stopped_by(struct infty_stage *st, const char *why)
{
	st->stopped_by = why;
}

/* ---- signals ------------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	cancelled = 1;
	if (signal_hook)
		signal_hook();
}

int infty_stage_cancelled(void)
{
	return cancelled;
}

/* ---- life ---------------------------------------------------------------- */

struct infty_stage *infty_stage_new(const struct infty_stage_config *cfg)
{
	struct infty_stage *st = infty_calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->c = cfg;
	st->log = cfg->log ? cfg->log : stderr;
	st->n_inputs = cfg->n_inputs ? cfg->n_inputs : 1;
	st->t0 = now();
	st->started = time(NULL);
	st->snap_every = 2.0;
	const char *env = getenv("INFTY_PROGRESS_FILE_INTERVAL");
	if (env && *env) {
		char *end;
		double v = strtod(env, &end);
		if (!*end && v >= 0)
			st->snap_every = v;
	}
	st->snap_last = -1e9;
	return st;
}

/* An output that cannot be opened: the path is wrong (2), or the system
 * could not give what it needed (3). */
static int open_error(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return INFTY_EIO;
	default:
		return INFTY_EINVAL;
	}
}

/* Whether an output is the same file as an input (it would be read while
 * it is replaced). */
static int same_as_input(const struct infty_stage *st, const char *path)
{
	struct stat a, b;
	if (!path || !strcmp(path, "-") || stat(path, &a) != 0 || !S_ISREG(a.st_mode))
		return 0;
	for (size_t i = 0; i < st->n_inputs; i++)
		if (strcmp(input_at(st, i), "-") && stat(input_at(st, i), &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 1;
	return 0;
}

static int open_writer(struct infty_stage *st, const char *path, const char *what,
                       const struct infty_writer_opts *o, struct infty_writer **w)
{
	char d[256];
	if (same_as_input(st, path))
		return infty_stage_fail(st, INFTY_EINVAL, "%s: the %s is also an input", path,
		                        what);
	int rc = infty_writer_open(w, path, o, d, sizeof d);
	if (rc)
		return infty_stage_fail(st, rc == INFTY_EIO ? open_error(errno) : rc,
		                        "%s: cannot write: %s", path, d);
	return 0;
}

/* ---- recognising an input ------------------------------------------------ */

/* What to say when the input holds `found` and the stage reads `want`. */
static const char *wrong_stage(enum infty_kind want, enum infty_kind found)
{
	if (want == INFTY_KIND_UNKNOWN || found == want || found == INFTY_KIND_UNKNOWN ||
	    found == INFTY_KIND_NOT_OBJECT)
		return NULL;
	if (infty_kind_is_instance(found))
		return "these are training instances (infty-build output), no stage reads them";
	if (found == INFTY_KIND_REJECT)
		return "these are reject records (a stage's --rejects file), no stage reads them";
	switch (want) {
	case INFTY_KIND_ROW:
		return found == INFTY_KIND_SEGMENT ? "this is a segment record (infty-segment "
		                                     "output); give it to infty-summarize"
		                                   : "this is a summarized record (infty-summarize "
		                                     "output); give it to infty-build";
	case INFTY_KIND_SEGMENT:
		return found == INFTY_KIND_ROW ? "this is a dataset row; run infty-segment first"
		                               : "this record is summarized already; give it to "
		                                 "infty-build";
	case INFTY_KIND_SUMMARIZED:
		return found == INFTY_KIND_ROW
		           ? "this is a dataset row; run infty-segment first"
		           : "this is a segment record; run infty-summarize first";
	default:
		return NULL;
	}
}

static int starts(const char *d, size_t n, const char *magic, size_t m)
{
	return n >= m && !memcmp(d, magic, m);
}

/*
 * Look at the first 64 KiB of an input: a parquet or otherwise compressed
 * file, binary data, text without a JSON object, or another stage's records
 * are refused here, once, instead of line by line.  The first JSON object
 * decides the kind; a line cut by the end of the sample that starts like
 * an object is given the benefit of the doubt (a huge first row).
 */
int infty_stage_check_input(struct infty_reader *r, enum infty_kind expect, char *detail,
                            size_t dlen)
{
	const char *d, *name = infty_reader_path(r);
	size_t n;
	int rc = infty_reader_peek(r, SNIFF_BYTES, &d, &n);
	if (rc) {
		const char *why = infty_reader_detail(r);
		snprintf(detail, dlen, "%s: %s", name, *why ? why : infty_strerror(rc));
		return rc;
	}
	static const struct {
		const char *magic;
		size_t len;
		const char *what;
	} formats[] = {
	    {"PAR1", 4,
	     "a parquet file, not JSON Lines: export it first (README, \"Quick start\")"},
	    {"\x1f\x8b", 2, "gzip data: infty reads JSON Lines, plain or zstd (.jsonl.zst)"},
	    {"PK\x03\x04", 4, "a zip archive, not JSON Lines"},
	    {"BZh", 3, "bzip2 data: infty reads JSON Lines, plain or zstd (.jsonl.zst)"},
	    {"\xfd"
	     "7zXZ",
	     5, "xz data: infty reads JSON Lines, plain or zstd (.jsonl.zst)"},
	};
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
		if (starts(d, n, formats[i].magic, formats[i].len)) {
			snprintf(detail, dlen, "%s: %s", name, formats[i].what);
			return INFTY_EINVAL;
		}
	size_t pos = 0, lines = 0;
	uint64_t lineno = 0;
	int binary = 0, plausible = 0;
	while (pos < n) {
		const char *s = d + pos, *nl = memchr(s, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - s) : n - pos;
		int cut = !nl && n == SNIFF_BYTES;
		pos += len + (nl != NULL);
		lineno++;
		if (len && s[len - 1] == '\r')
			len--;
		if (infty_line_is_blank(s, len))
			continue;
		lines++;
		size_t lead = strspn(s, " \t");
		if (cut) {
			plausible |= lead < len && s[lead] == '{';
			break;
		}
		struct json_object *o = NULL;
		if (infty_json_parse(s, len, &o, NULL, 0) == 0) {
			enum infty_kind k = infty_record_kind(o);
			/* {"messages": [user, assistant]} alone is a chat row as much as
			 * a built instance without meta: infty-segment reads either. */
			if (k == INFTY_KIND_MESSAGES && !json_object_object_get_ex(o, "meta", NULL))
				k = INFTY_KIND_ROW;
			json_object_put(o);
			const char *why = wrong_stage(expect, k);
			if (!why)
				return 0;
			snprintf(detail, dlen, "%s:%llu: %s", name, (unsigned long long)lineno,
			         why);
			return INFTY_EINVAL;
		}
		binary |= memchr(s, 0, len) != NULL || !infty_utf8_valid(s, len);
	}
	if (!lines || plausible)
		return 0;
	snprintf(detail, dlen, "%s: %s", name,
	         binary
	             ? "binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)"
	             : "not JSON Lines: no line of its first 64 KiB is a JSON object");
	return INFTY_EINVAL;
}

/* "PATH: cannot open: why", the one wording of an input that is not there. */
static int cannot_open(const char *path, int err, char *msg, size_t len)
{
	if (err == EISDIR)
		snprintf(msg, len, "%s: is a directory, not a JSON Lines file", path);
	else
		snprintf(msg, len, "%s: cannot open: %s", path, strerror(err));
	return err == ENOMEM ? INFTY_ENOMEM : INFTY_EINVAL;
}

int infty_stage_open_input(struct infty_reader **r, const char *path, enum infty_kind expect,
                           char *msg, size_t len)
{
	int rc = infty_reader_open(r, path, 0, NULL, 0);
	if (rc)
		return cannot_open(path, rc == INFTY_ENOMEM ? ENOMEM : errno, msg, len);
	if ((rc = infty_stage_check_input(*r, expect, msg, len))) {
		infty_reader_free(*r);
		*r = NULL;
	}
	return rc;
}

static int open_input(struct infty_stage *st, size_t i)
{
	char msg[1024];
	int rc = infty_stage_open_input(&st->in, input_at(st, i), st->c->expect, msg, sizeof msg);
	return rc ? infty_stage_fail(st, rc, "%s", msg) : 0;
}

int infty_stage_open(struct infty_stage *st)
{
	const struct infty_stage_config *c = st->c;
	st->opened = 1;
	/* Every input first: a missing one is found before anything is written. */
	st->total_bytes_known = 1;
	for (size_t i = 0; i < st->n_inputs; i++) {
		const char *p = input_at(st, i);
		struct stat sb;
		if (!strcmp(p, "-")) {
			st->total_bytes_known = 0;
			continue;
		}
		char msg[1024];
		if (stat(p, &sb) != 0 || S_ISDIR(sb.st_mode))
			return infty_stage_fail(
			    st,
			    cannot_open(p, S_ISDIR(sb.st_mode) ? EISDIR : errno, msg, sizeof msg),
			    "%s", msg);
		if (S_ISREG(sb.st_mode))
			st->bytes_total += (uint64_t)sb.st_size;
		else
			st->total_bytes_known = 0;
	}
	int rc = open_input(st, 0);
	if (rc)
		return rc;
	st->first_pending = 1;
	if (c->output && (rc = open_writer(st, c->output, "output", c->output_opts, &st->out)))
		return rc;
	if (c->rejects && (rc = open_writer(st, c->rejects, "reject file", NULL, &st->rej)))
		return rc;
	if (c->stats && same_as_input(st, c->stats))
		return infty_stage_fail(st, INFTY_EINVAL, "%s: the stats file is also an input",
		                        c->stats);
	st->p =
	    infty_progress_new(st->log, c->name, c->unit ? c->unit : "records", 0,
	                       st->total_bytes_known ? st->bytes_total : 0, c->quiet || c->silent);
	infty_cli_before_message(clear_line, st);
	if (!c->no_signals) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		signal_hook = c->on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	return 0;
}

int infty_stage_next_input(struct infty_stage *st, struct infty_reader **r)
{
	*r = NULL;
	if (st->rc)
		return st->rc;
	if (st->first_pending) {
		st->first_pending = 0;
		st->next = 1;
		*r = st->in;
		return 1;
	}
	if (st->in) {
		st->bytes_done += infty_reader_bytes_in(st->in);
		infty_reader_free(st->in);
		st->in = NULL;
	}
	if (st->next >= st->n_inputs)
		return 0;
	int rc = open_input(st, st->next++);
	if (rc)
		return rc;
	*r = st->in;
	return 1;
}

struct infty_writer *infty_stage_output(struct infty_stage *st)
{
	return st->out;
}

int infty_stage_add_output(struct infty_stage *st, const struct infty_stage_files *f, void *ctx)
{
	if (st->nfiles == MAX_FILES)
		return infty_stage_fail(st, INFTY_EINVAL, "internal: too many outputs");
	st->files[st->nfiles].f = *f;
	st->files[st->nfiles].ctx = ctx;
	st->nfiles++;
	return 0;
}

/* ---- records ------------------------------------------------------------- */

static int write_failed(struct infty_stage *st, struct infty_writer *w, int rc)
{
	return infty_stage_fail(st, rc, "%s: %s", infty_writer_path(w), infty_writer_detail(w));
}

int infty_stage_put(struct infty_stage *st, const char *line, size_t len)
{
	int rc = infty_writer_put(st->out, line, len);
	return rc ? write_failed(st, st->out, rc) : 0;
}

int infty_stage_put_json(struct infty_stage *st, struct json_object *obj)
{
	int rc = infty_writer_put_json(st->out, obj);
	return rc ? write_failed(st, st->out, rc) : 0;
}

static int count_reason(struct infty_stage *st, const char *reason)
{
	for (size_t i = 0; i < st->nreasons; i++)
		if (!strcmp(st->reasons[i].reason, reason)) {
			st->reasons[i].n++;
			return 0;
		}
	if (infty_grow(&st->reasons, &st->rcap, st->nreasons + 1, sizeof *st->reasons))
		return INFTY_ENOMEM;
	struct reason_count *rc = &st->reasons[st->nreasons];
	if (!(rc->reason = infty_strdup(reason)))
		return INFTY_ENOMEM;
	rc->n = 1;
	st->nreasons++;
	return 0;
}

int infty_stage_reject(struct infty_stage *st, const struct infty_reject *r)
{
	return infty_stage_reject_line(st, r, NULL, 0);
}

int infty_stage_reject_line(struct infty_stage *st, const struct infty_reject *r, const char *json,
                            size_t len)
{
	struct infty_reject x = *r;
	if (!x.file)
		x.file = st->in ? infty_reader_path(st->in) : input_at(st, 0);
	st->rejected++;
	if (count_reason(st, x.reason))
		return infty_stage_fail(st, INFTY_ENOMEM, "out of memory");
	unsigned cap = st->c->max_messages ? st->c->max_messages : DEFAULT_SHOWN;
	if (st->shown < cap) {
		st->shown++;
		say(st, "%s:%llu: %s%s%s", x.file, (unsigned long long)x.line, x.reason,
		    x.detail && *x.detail ? ": " : "", x.detail ? x.detail : "");
	}
	if (!st->rej)
		return 0;
	if (!json) {
		st->rline.len = 0;
		if (infty_reject_format(&st->rline, st->c->name, &x))
			return infty_stage_fail(st, INFTY_ENOMEM, "out of memory");
		json = st->rline.data;
		len = st->rline.len;
	}
	int rc = infty_writer_put(st->rej, json, len);
	return rc ? write_failed(st, st->rej, rc) : 0;
}

uint64_t infty_stage_rejected(const struct infty_stage *st)
{
	return st->rejected;
}

/* ---- stats and progress snapshot ----------------------------------------- */

static struct json_object *input_json(const struct infty_stage *st)
{
	if (st->n_inputs == 1)
		return json_object_new_string(input_at(st, 0));
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < st->n_inputs; i++)
		json_object_array_add(a, json_object_new_string(input_at(st, i)));
	return a;
}

static uint64_t bytes_in(const struct infty_stage *st)
{
	return st->bytes_done + (st->in ? infty_reader_bytes_in(st->in) : 0);
}

static const char *stop_name(int rc)
{
	switch (rc) {
	case INFTY_ECANCELED:
		return "signal";
	case INFTY_ENOMEM:
		return "out_of_memory";
	case INFTY_EIO:
	case INFTY_ETRUNCATED:
	case INFTY_ECORRUPT:
		return "io_error";
	default:
		return "error";
	}
}

/* The stats: the frame's fields, then the stage's (docs/formats.md). */
static struct json_object *stats_json(struct infty_stage *st, int completed)
{
	char secs[32];
	snprintf(secs, sizeof secs, "%.3f", now() - st->t0);
	struct json_object *o = json_object_new_object(), *by = json_object_new_object();
	if (!o || !by) {
		json_object_put(o);
		json_object_put(by);
		return NULL;
	}
	int rc = infty_json_add(o, "stage", json_object_new_string(st->c->name)) ||
	         infty_json_add(o, "version", json_object_new_string(INFTY_VERSION)) ||
	         infty_json_add(o, "input", input_json(st)) ||
	         infty_json_add(o, "completed", json_object_new_boolean(completed));
	if (!rc && !completed)
		rc = infty_json_add(
		    o, "stopped_by",
		    json_object_new_string(st->stopped_by ? st->stopped_by : stop_name(st->rc)));
	for (size_t i = 0; !rc && i < st->nreasons; i++)
		rc = infty_json_add(by, st->reasons[i].reason,
		                    json_object_new_int64((int64_t)st->reasons[i].n));
	rc = rc || infty_json_add(o, "rejected", json_object_new_int64((int64_t)st->rejected)) ||
	     infty_json_add(o, "rejects_by_reason", json_object_get(by)) ||
	     infty_json_add(o, "bytes_in", json_object_new_int64((int64_t)bytes_in(st))) ||
	     infty_json_add(o, "seconds", json_object_new_double_s(now() - st->t0, secs));
	json_object_put(by);
	if (!rc && st->c->stats_fields)
		rc = st->c->stats_fields(st->c->fields_ctx, o);
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *pretty(struct json_object *o, size_t *n)
{
	return json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
	    n);
}

/* A small JSON file through a temporary (published by the caller). */
static int open_json_file(const char *path, struct json_object *o, struct infty_writer **w,
                          char *detail, size_t dlen)
{
	struct infty_writer_opts wo;
	infty_writer_opts_init(&wo);
	wo.compress = 0;
	wo.workers = 0;
	size_t n;
	const char *s = pretty(o, &n);
	char d[256] = "out of memory";
	int rc = s ? infty_writer_open(w, path, &wo, d, sizeof d) : INFTY_ENOMEM;
	if (rc) {
		snprintf(detail, dlen, "cannot write: %s", d);
		return rc;
	}
	if ((rc = infty_writer_put(*w, s, n)) == 0)
		rc = infty_writer_finish(*w);
	if (rc)
		snprintf(detail, dlen, "%s", infty_writer_detail(*w));
	return rc;
}

static void snapshot(struct infty_stage *st, int final, int status)
{
	if (!st->c->progress)
		return;
	struct json_object *o = json_object_new_object(), *ctr = json_object_new_object();
	time_t t = time(NULL);
	int rc = !o || !ctr;
	rc = rc || infty_json_add(o, "stage", json_object_new_string(st->c->name)) ||
	     infty_json_add(o, "input", input_json(st)) ||
	     infty_json_add(o, "unit",
	                    json_object_new_string(st->c->unit ? st->c->unit : "records")) ||
	     infty_json_add(o, "done", json_object_new_int64((int64_t)st->done)) ||
	     json_object_object_add(o, "total",
	                            st->total ? json_object_new_int64((int64_t)st->total) : NULL) ||
	     infty_json_add(o, "rejected", json_object_new_int64((int64_t)st->rejected)) ||
	     infty_json_add(o, "bytes_in", json_object_new_int64((int64_t)bytes_in(st))) ||
	     json_object_object_add(
	         o, "bytes_total",
	         st->total_bytes_known ? json_object_new_int64((int64_t)st->bytes_total) : NULL) ||
	     infty_json_add(o, "started", json_object_new_int64((int64_t)st->started)) ||
	     infty_json_add(o, "updated", json_object_new_int64((int64_t)t)) ||
	     infty_json_add(o, "finished", json_object_new_boolean(final));
	if (!rc && final)
		rc = infty_json_add(o, "completed", json_object_new_boolean(status <= 1)) ||
		     infty_json_add(o, "exit_status", json_object_new_int(status));
	if (!rc && st->c->progress_fields)
		rc = st->c->progress_fields(st->c->fields_ctx, ctr);
	rc = rc || infty_json_add(o, "counters", json_object_get(ctr));
	struct infty_writer *w = NULL;
	char d[256] = "out of memory";
	if (!rc && (rc = open_json_file(st->c->progress, o, &w, d, sizeof d)) == 0 &&
	    (rc = infty_writer_publish(w)) != 0)
		snprintf(d, sizeof d, "%s", infty_writer_detail(w));
	infty_writer_free(w);
	json_object_put(o);
	json_object_put(ctr);
	/* The snapshot is for watching a run, not part of its result: say
	 * once that it cannot be written, and go on. */
	if (rc && !st->snap_warned) {
		st->snap_warned = 1;
		say(st, "%s: %s (the progress snapshot; the run goes on)", st->c->progress, d);
	}
}

void infty_stage_set_total(struct infty_stage *st, uint64_t total)
{
	st->total = total;
}

void infty_stage_progress(struct infty_stage *st, uint64_t done, const char *extra)
{
	st->done = done;
	if (extra)
		snprintf(st->extra, sizeof st->extra, "%s", extra);
	infty_progress_update(st->p, done, bytes_in(st), extra);
	if (st->c->progress) {
		double t = now();
		if (t - st->snap_last >= st->snap_every) {
			st->snap_last = t;
			snapshot(st, 0, 0);
		}
	}
}

/* ---- the end ------------------------------------------------------------- */

static void abandon(struct infty_stage *st)
{
	infty_writer_unpublish(st->out);
	infty_writer_unpublish(st->rej);
	infty_writer_free(st->out);
	infty_writer_free(st->rej);
	st->out = st->rej = NULL;
	for (size_t i = 0; i < st->nfiles; i++)
		st->files[i].f.abandon(st->files[i].ctx);
	st->nfiles = 0;
}

/*
 * Everything to temporaries, then every rename; on a failure every
 * temporary and every file renamed so far is removed.  0 or the error
 * (recorded).
 */
/*
 * One step (finish: to the temporary; publish: the rename) of the output,
 * the reject file and the extra outputs, in that order.  0 or the first
 * error (recorded).
 */
static int step(struct infty_stage *st, int publishing)
{
	struct infty_writer *w[2] = {st->out, st->rej};
	char d[512] = "";
	int rc = 0;
	for (int k = 0; !rc && k < 2; k++)
		if (w[k] &&
		    (rc = publishing ? infty_writer_publish(w[k]) : infty_writer_finish(w[k])))
			write_failed(st, w[k], rc);
	for (size_t i = 0; !rc && i < st->nfiles; i++) {
		void *ctx = st->files[i].ctx;
		rc = publishing ? st->files[i].f.publish(ctx, d, sizeof d)
		                : st->files[i].f.finish(ctx, d, sizeof d);
		if (rc)
			infty_stage_fail(st, rc, "%s", d);
	}
	return rc;
}

static int publish(struct infty_stage *st)
{
	struct infty_writer *stats = NULL;
	char d[512] = "";
	int rc = step(st, 0);
	if (!rc && st->c->stats) {
		struct json_object *o = stats_json(st, 1);
		rc = o ? open_json_file(st->c->stats, o, &stats, d, sizeof d) : INFTY_ENOMEM;
		json_object_put(o);
		if (rc)
			infty_stage_fail(st, rc, "%s: %s", st->c->stats, d);
	}
	/* The renames, in the order the pipeline looks: the stats last. */
	if (!rc)
		rc = step(st, 1);
	if (!rc && stats && (rc = infty_writer_publish(stats)))
		infty_stage_fail(st, rc, "%s: %s", st->c->stats, infty_writer_detail(stats));
	if (rc) {
		abandon(st);
		infty_writer_unpublish(stats);
	}
	infty_writer_free(stats);
	return rc;
}

/*
 * A stopped run's stats: written when they can be, not published with
 * anything.  A failure here is not said: the run's own failure was, and
 * it may be this very file (a full disk).
 */
static void stopped_stats(struct infty_stage *st)
{
	struct json_object *o = stats_json(st, 0);
	struct infty_writer *w = NULL;
	char d[256];
	if (o && open_json_file(st->c->stats, o, &w, d, sizeof d) == 0)
		infty_writer_publish(w);
	infty_writer_free(w);
	json_object_put(o);
}

static void release(struct infty_stage *st)
{
	infty_cli_before_message(NULL, NULL);
	infty_reader_free(st->in);
	infty_writer_free(st->out);
	infty_writer_free(st->rej);
	for (size_t i = 0; i < st->nreasons; i++)
		infty_free(st->reasons[i].reason);
	infty_free(st->reasons);
	infty_buf_release(&st->rline);
	infty_free(st);
}

int infty_stage_end(struct infty_stage *st, int rc)
{
	if (!st) {
		infty_warn("out of memory");
		return INFTY_EXIT_STOPPED;
	}
	const struct infty_stage_config *c = st->c;
	if (c->message && c->message_len)
		*c->message = 0;
	if (rc == INFTY_ECANCELED && !st->rc)
		infty_stage_fail(st, rc, "stopped by a signal; nothing published");
	else if (rc < 0 && !st->rc)
		infty_stage_fail(st, rc, "%s", infty_strerror(rc));
	int status;
	if (!st->rc && publish(st) == 0) {
		status = st->rejected ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
		infty_progress_finish(st->p, st->done, st->extra[0] ? st->extra : NULL);
		st->p = NULL;
		unsigned cap = c->max_messages ? c->max_messages : DEFAULT_SHOWN;
		if (st->rejected > cap)
			say(st, "%llu more rejects not shown; %s",
			    (unsigned long long)(st->rejected - cap),
			    c->rejects ? "every reject is in the reject file"
			               : "give --rejects FILE to keep them");
	} else {
		status = st->rc == INFTY_EINVAL ? INFTY_EXIT_USAGE : INFTY_EXIT_STOPPED;
		infty_progress_abandon(st->p);
		st->p = NULL;
		abandon(st);
		say(st, "%s", st->msg);
		if (c->message && c->message_len)
			snprintf(c->message, c->message_len, "%s", st->msg);
		if (status == INFTY_EXIT_STOPPED && c->stats)
			stopped_stats(st);
	}
	if (status != INFTY_EXIT_USAGE) /* a usage error writes nothing */
		snapshot(st, 1, status);
	release(st);
	return status;
}

/* ---- a tool's main ------------------------------------------------------- */

void infty_stage_args(struct infty_stage_config *cfg, const struct infty_cmd *cmd, int argc,
                      char **argv, size_t max_inputs)
{
	int first = infty_opts_parse(cmd, argc, argv);
	size_t n = (size_t)(argc - first);
	if (max_inputs && n > max_inputs)
		infty_usage_error("%zu input file%s at most (got %zu)", max_inputs,
		                  max_inputs == 1 ? "" : "s", n);
	cfg->inputs = (const char *const *)argv + first;
	cfg->n_inputs = n;
}

int infty_stage_run(const struct infty_stage_config *cfg, infty_stage_fn fn, void *ctx)
{
	struct infty_stage *st = infty_stage_new(cfg);
	int rc = st ? infty_stage_open(st) : INFTY_ENOMEM;
	if (!rc)
		rc = fn(st, ctx);
	return infty_stage_end(st, rc);
}
