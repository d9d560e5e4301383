/*
 * infty-inspect: look inside any stage's files (rows, segment, summarized,
 * instance and reject records): show, stats, validate, head, sample, grep.
 * Options, reading and exit codes here; views and checks in inspect_*.c.
 */
#include "inspect.h"
#include "inspect_run.h"
#include "inspect_dataset.h"
#include "inspect_show.h"
#include "inspect_status.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	const char *html, *tokenizer, *id, *field, *output, *train, *rejects;
	const char *source, *license, *repo;
	long long n;
	unsigned long long seed;
	int color;
	double price_in, price_out, price_cached; /* per million tokens; < 0: not given */
	const char *states, *states_cmd, *follow;
	int watch;
	double interval;
	long long while_pid;
};

static struct opts opt = {
    .n = -1, .color = -1, .price_in = -1, .price_out = -1, .price_cached = -1};

/* Several files: the worst outcome decides the status. */
static void raise_status(int *status, int s)
{
	if (s > *status)
		*status = s;
}

/*
 * Open one input the same way for every command: the wording of the stage
 * tools (infty(7)), and a file that is not JSON Lines (binary data, parquet)
 * said once instead of per line.  NULL with the message printed and *status
 * raised to 2.
 */
static struct infty_reader *open_input(const char *path, int *status)
{
	struct infty_reader *r;
	char msg[4608];
	int rc = infty_stage_open_input(&r, path, INFTY_KIND_UNKNOWN, msg, sizeof msg);
	if (rc) {
		infty_warn("%s", msg);
		raise_status(status, rc == INFTY_EINVAL ? INFTY_EXIT_USAGE : INFTY_EXIT_STOPPED);
	}
	return r;
}

/* A stream error in the middle of a file: said with the file, read on. */
static int read_error(struct infty_reader *r, int rc)
{
	const char *why = infty_reader_detail(r);
	infty_warn("%s: %s", infty_reader_path(r), *why ? why : infty_strerror(rc));
	return INFTY_EXIT_STOPPED;
}

/* Calls fn on every parsed record of every file; a stream error ends with 1. */
typedef int (*rec_fn)(void *ctx, struct infty_reader *r, struct json_object *rec, uint64_t line);

static int bad_lines;

static int each_record(char **files, int nfiles, rec_fn fn, void *ctx, int stop_early)
{
	static char *stdin_only[] = {"-"};
	if (!nfiles) {
		files = stdin_only;
		nfiles = 1;
	}
	int status = 0;
	for (int i = 0; i < nfiles; i++) {
		struct infty_reader *r = open_input(files[i], &status);
		if (!r)
			continue;
		for (;;) {
			struct json_object *rec = NULL;
			uint64_t line = 0;
			int rc = infty_reader_next(r, &rec, &line);
			if (rc == 0)
				break;
			if (rc == INFTY_EJSON || rc == INFTY_EUTF8) {
				bad_lines++;
				rc = fn(ctx, r, NULL, line);
			} else if (rc < 0) {
				raise_status(&status, read_error(r, rc));
				break;
			} else {
				rc = fn(ctx, r, rec, line);
				json_object_put(rec);
			}
			if (rc && stop_early)
				break;
		}
		infty_reader_free(r);
	}
	return status;
}

static void put_line(const char *s, size_t n)
{
	if (fwrite(s, 1, n, stdout) != n || putchar('\n') == EOF)
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
}

/*
 * Calls fn on every non-empty raw line of every file (head and sample copy
 * lines as they are, without parsing); fn returns nonzero to stop.  A file
 * that cannot be opened or a stream error makes the result 1.
 */
typedef int (*line_fn)(void *ctx, const char *line, size_t len);

static int each_line(char **files, int nfiles, line_fn fn, void *ctx)
{
	static char *stdin_only[] = {"-"};
	if (!nfiles) {
		files = stdin_only;
		nfiles = 1;
	}
	int status = 0, stop = 0;
	for (int i = 0; i < nfiles && !stop; i++) {
		struct infty_reader *r = open_input(files[i], &status);
		if (!r)
			continue;
		const char *line;
		size_t len;
		uint64_t no = 0;
		int rc = 0;
		while (!stop && (rc = infty_reader_next_line(r, &line, &len, &no)) == 1)
			if (len)
				stop = fn(ctx, line, len);
		if (!stop && rc < 0) {
			raise_status(&status, read_error(r, rc));
		}
		infty_reader_free(r);
	}
	return status;
}

/* ---- head ------------------------------------------------------------- */

static int on_head(void *ctx, const char *line, size_t len)
{
	long long *left = ctx;
	put_line(line, len);
	return --*left <= 0;
}

static int cmd_head(const struct opts *o, char **files, int nfiles)
{
	long long left = o->n >= 0 ? o->n : 10;
	return left > 0 ? each_line(files, nfiles, on_head, &left) : 0;
}

/* ---- sample ----------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct kept {
	uint64_t index;
	char *line;
	size_t len;
};

static int cmp_kept(const void *a, const void *b)
{
	uint64_t x = ((const struct kept *)a)->index, y = ((const struct kept *)b)->index;
	return (x > y) - (x < y);
}

struct reservoir {
	struct kept *res;
	size_t k;
	uint64_t seen, state;
};

static int on_sample(void *ctx, const char *line, size_t len)
{
	struct reservoir *R = ctx;
	/* Algorithm R: record i replaces a kept one with chance k/(i+1). */
	uint64_t slot = R->seen < R->k ? R->seen : splitmix64(&R->state) % (R->seen + 1);
	if (slot < R->k) {
		char *copy = infty_strndup(line, len);
		if (!copy)
			infty_die(INFTY_EXIT_STOPPED, "out of memory");
		infty_free(R->res[slot].line);
		R->res[slot] = (struct kept){R->seen, copy, len};
	}
	R->seen++;
	return 0;
}

static int cmd_sample(const struct opts *o, char **files, int nfiles)
{
	if (o->n < 0)
		infty_usage_error("sample: -n K is required");
	struct reservoir R = {.k = (size_t)o->n, .state = o->seed};
	R.res = infty_calloc(R.k ? R.k : 1, sizeof *R.res);
	if (!R.res)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	int status = each_line(files, nfiles, on_sample, &R);
	size_t got = R.seen < R.k ? (size_t)R.seen : R.k;
	qsort(R.res, got, sizeof *R.res, cmp_kept);
	for (size_t i = 0; i < got; i++) {
		put_line(R.res[i].line, R.res[i].len);
		infty_free(R.res[i].line);
	}
	infty_free(R.res);
	return status;
}

/* ---- grep and show ---------------------------------------------------- */

struct match {
	const struct opts *o;
	const char *path; /* --field: the dotted path (a copy we own) */
	const char *value;
	int contains;
	uint64_t hits;
	int show;
};

static struct json_object *lookup(struct json_object *rec, const char *path)
{
	char key[256];
	while (rec && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof key || !json_object_is_type(rec, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(rec, key, &rec))
			return NULL;
		path += n + (dot != NULL);
	}
	return rec;
}

static int matches(struct match *m, struct json_object *rec)
{
	if (!rec)
		return 0;
	if (!m->path) {
		/* The dataset's uuid finds a trace too (ids add a ":m"-style suffix). */
		const char *id = inspect_record_id(rec);
		struct json_object *u = lookup(rec, "source.uuid");
		return (id && !strcmp(id, m->value)) ||
		       (u && !strcmp(json_object_get_string(u), m->value));
	}
	struct json_object *v = lookup(rec, m->path);
	if (!v)
		return 0;
	const char *s = json_object_get_string(v);
	return m->contains ? strstr(s, m->value) != NULL : !strcmp(s, m->value);
}

static int on_match(void *ctx, struct infty_reader *r, struct json_object *rec, uint64_t line)
{
	struct match *m = ctx;
	if (!matches(m, rec))
		return 0;
	m->hits++;
	if (m->show) {
		char where[512];
		snprintf(where, sizeof where, "%s:%llu", infty_reader_path(r),
		         (unsigned long long)line);
		inspect_show(stdout, rec, where, m->o->color);
	} else {
		size_t len;
		const char *raw = infty_reader_line(r, &len);
		put_line(raw, len);
	}
	return 0;
}

static int cmd_grep(const struct opts *o, char **files, int nfiles, int show, const char *id)
{
	struct match m = {.o = o, .show = show};
	char *path = NULL;
	if (id) {
		m.value = id;
	} else if (o->id) {
		m.value = o->id;
	} else if (o->field) {
		const char *op = strpbrk(o->field, "=~");
		if (!op || op == o->field)
			infty_usage_error("--field: '%s' is not PATH=VALUE or PATH~TEXT", o->field);
		path = infty_strndup(o->field, (size_t)(op - o->field));
		if (!path)
			infty_die(INFTY_EXIT_STOPPED, "out of memory");
		m.path = path;
		m.value = op + 1;
		m.contains = *op == '~';
	} else {
		infty_usage_error("grep: give --id ID or --field PATH=VALUE");
	}
	int status = each_record(files, nfiles, on_match, &m, 0);
	infty_free(path);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
	if (!m.hits && !status && show)
		infty_warn("no record with id '%s'", m.value);
	return status ? status : m.hits ? 0 : 1;
}

/* ---- stats ------------------------------------------------------------ */

static int on_stats(void *ctx, struct infty_reader *r, struct json_object *rec, uint64_t line)
{
	(void)r;
	(void)line;
	if (rec && inspect_stats_add(ctx, rec))
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	return 0;
}

static int cmd_stats(const struct opts *o, char **files, int nfiles)
{
	struct inspect_stats st;
	inspect_stats_init(&st);
	int status = each_record(files, nfiles, on_stats, &st, 0);
	inspect_stats_text(&st, stdout);
	if (bad_lines)
		printf("unparsable lines: %d\n", bad_lines);
	if (o->html) {
		/* Rename into place, so a reader never sees half a page. */
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp%ld", o->html, (long)getpid());
		FILE *f = fopen(tmp, "w");
		if (!f)
			infty_die(INFTY_EXIT_USAGE, "%s: cannot write: %s", o->html,
			          strerror(errno));
		inspect_stats_html(&st, files, nfiles, f);
		if (ferror(f) | fclose(f) || rename(tmp, o->html)) {
			remove(tmp);
			infty_die(INFTY_EXIT_STOPPED, "%s: write error", o->html);
		}
	}
	inspect_stats_release(&st);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
	return status;
}

/* ---- report (inspect_report.c) --------------------------------------- */

static int cmd_report(const struct opts *o, char **files, int nfiles)
{
	if (nfiles != 1 || !o->output)
		infty_usage_error("report: give one run directory and -o PAGE.html");
	struct inspect_report_opts ro = {o->n >= 0 ? o->n : INSPECT_REPORT_SAMPLE,
	                                 INSPECT_REPORT_MAX_FLAGGED, INSPECT_REPORT_MAX_REJECTS,
	                                 o->seed};
	char tmp[4096], detail[512] = "";
	snprintf(tmp, sizeof tmp, "%s.tmp%ld", o->output, (long)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		infty_die(INFTY_EXIT_USAGE, "%s: cannot write: %s", o->output, strerror(errno));
	int rc = inspect_report(files[0], &ro, f, detail, sizeof detail);
	if (ferror(f) | fclose(f) || rc || rename(tmp, o->output)) {
		remove(tmp);
		if (rc)
			infty_die(INFTY_EXIT_DATA, "%s: %s", files[0], detail);
		infty_die(INFTY_EXIT_STOPPED, "%s: write error", o->output);
	}
	return INFTY_EXIT_OK;
}

/* ---- validate --------------------------------------------------------- */

struct vctx {
	struct inspect_validator v;
	const char *path;
	uint64_t records;
};

static void on_problem(void *ctx, uint64_t line, const char *msg)
{
	struct vctx *c = ctx;
	infty_warn("%s:%llu: %s", c->path, (unsigned long long)line, msg);
}

static int on_validate(void *ctx, struct infty_reader *r, struct json_object *rec, uint64_t line)
{
	struct vctx *c = ctx;
	c->records++;
	if (!rec) {
		c->v.problems++;
		infty_warn("%s:%llu: not valid JSON: %s", c->path, (unsigned long long)line,
		           infty_reader_detail(r));
		return 0;
	}
	inspect_validate(&c->v, rec, line);
	return 0;
}

static int64_t count_tokens(void *ctx, const char *s, size_t n)
{
	return infty_tok_count(ctx, s, n);
}

static int cmd_validate(const struct opts *o, char **files, int nfiles)
{
	static char *stdin_only[] = {"-"};
	struct infty_tokenizer *tok = NULL;
	struct infty_tok_ctx *tctx = NULL;
	if (o->tokenizer) {
		tok = infty_cli_tokenizer(o->tokenizer);
		if (!(tctx = infty_tok_ctx_new(tok)))
			infty_die(INFTY_EXIT_STOPPED, "out of memory");
	}
	if (!nfiles) {
		files = stdin_only;
		nfiles = 1;
	}
	int status = 0;
	uint64_t problems = 0;
	/* One validator per file: a trace's instances must not span files. */
	for (int i = 0; i < nfiles; i++) {
		/* The name as given: the reader (and its copy of it) is gone by the
		 * time the end-of-file check reports. */
		struct vctx c = {.path = strcmp(files[i], "-") ? files[i] : "<stdin>"};
		inspect_validator_init(&c.v);
		c.v.problem = on_problem;
		c.v.problem_ctx = &c;
		if (tctx) {
			c.v.count = count_tokens;
			c.v.count_ctx = tctx;
		}
		raise_status(&status, each_record(&files[i], 1, on_validate, &c, 0));
		inspect_validate_end(&c.v);
		printf("%s: %llu records, %llu problems\n",
		       strcmp(files[i], "-") ? files[i] : "<stdin>", (unsigned long long)c.records,
		       (unsigned long long)c.v.problems);
		problems += c.v.problems;
		inspect_validator_release(&c.v);
	}
	infty_tok_ctx_free(tctx);
	infty_tokenizer_free(tok);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
	return status ? status : problems ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
}

/* ---- totals ----------------------------------------------------------- */

static int cmd_totals(const struct opts *o, char **files, int nfiles)
{
	if (nfiles != 1)
		infty_usage_error("totals: give the run directory OUT");
	char train[4200], rejects[4200], detail[4608];
	snprintf(train, sizeof train, "%s/train.jsonl.zst", files[0]);
	snprintf(rejects, sizeof rejects, "%s/rejects.jsonl.zst", files[0]);
	struct inspect_run_paths p = {
	    .out = files[0],
	    .train = o->train,
	    .rejects = o->rejects,
	    .train_name = train,
	    .rejects_name = rejects,
	    .price_in = o->price_in,
	    .price_out = o->price_out,
	    .price_cached = o->price_cached,
	};
	/* Any price given prices the run; one not given is free. */
	if (p.price_in < 0 && (p.price_out >= 0 || p.price_cached >= 0))
		p.price_in = 0;
	if (p.price_out < 0)
		p.price_out = 0;
	int rc = inspect_run_totals(&p, stdout, detail, sizeof detail);
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "%s: %s", files[0], detail);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write failed");
	return INFTY_EXIT_OK;
}

static const char *const colors[] = {"never", "always", "auto", NULL};

/* --source and --repo are hub ids, --license a license id: no spaces. */
static const char *hub_id(const struct infty_option *op, const char *arg, char *err, size_t n)
{
	int license = !strcmp(op->long_name, "license");
	const char *extra = license ? ".-" : "._/-";
	int ok = *arg != 0;
	for (const char *p = arg; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || strchr(extra, *p);
	if (!ok) {
		snprintf(err, n, "'%s' is not a %s", arg,
		         license                          ? "license id"
		         : !strcmp(op->long_name, "repo") ? "repository id"
		                                          : "dataset name");
		return err;
	}
	*(const char **)op->value = arg;
	return NULL;
}

static const struct infty_option options[] = {
    INFTY_OPT_INT('n', NULL, &opt.n, "K", 0, 100000000,
                  "head: records (default 10); sample: records drawn;\n"
                  "report: traces sampled (default 100)"),
    INFTY_OPT_STRING('t', "tokenizer", &opt.tokenizer, "PATH",
                     "validate: also recount every segment's tokens\n"
                     "('default': the default tokenizer)"),
    INFTY_OPT_STRING(0, "html", &opt.html, "OUT",
                     "stats: also a self-contained HTML page with charts"),
    INFTY_OPT_INT(0, "seed", &opt.seed, "S", 0, INT64_MAX,
                  "sample, report: the same S gives the same draw"),
    INFTY_OPT_STRING(0, "id", &opt.id, "ID", "grep: records of trace ID (or source uuid ID)"),
    INFTY_OPT_STRING(0, "field", &opt.field, "PATH=VALUE",
                     "grep: records whose field (dotted path, e.g.\n"
                     "source.uuid) equals VALUE, or with ~ contains it"),
    INFTY_OPT_STRING('o', "output", &opt.output, "FILE", "report: the page to write"),
    INFTY_OPT_STRING(0, "train", &opt.train, "FILE", "totals: the merged training file to count"),
    INFTY_OPT_STRING('r', "rejects", &opt.rejects, "FILE",
                     "totals: the merged reject file to count"),
    INFTY_OPT_DOUBLE(0, "price-in", &opt.price_in, "X", 0, 1e9,
                     "totals: the cost of a million prompt tokens"),
    INFTY_OPT_DOUBLE(0, "price-out", &opt.price_out, "X", 0, 1e9,
                     "totals: the cost of a million completion tokens"),
    INFTY_OPT_DOUBLE(0, "price-cached", &opt.price_cached, "X", 0, 1e9,
                     "totals: the cost of a million prompt tokens the\n"
                     "server's prefix cache served (default --price-in)"),
    INFTY_OPT_CALL(0, "source", &opt.source, "NAME", hub_id,
                   "dataset: where the rows came from, e.g.\n"
                   "open-r1/OpenR1-Math-220k"),
    INFTY_OPT_CALL(0, "license", &opt.license, "ID", hub_id,
                   "dataset: the hub's license id (default: the source's\n"
                   "when infty knows it; else unknown)"),
    INFTY_OPT_CALL(0, "repo", &opt.repo, "ID", hub_id,
                   "dataset: the hub repository, for the card's commands"),
    INFTY_OPT_FLAG(0, "watch", &opt.watch, 1,
                   "status: redraw until interrupted (a terminal), or a\n"
                   "line per stage every --interval (a log)"),
    INFTY_OPT_DOUBLE(0, "interval", &opt.interval, "S", 0.05, 86400,
                     "status --watch: seconds between displays (default 1\n"
                     "on a terminal, 30 otherwise)"),
    INFTY_OPT_STRING(0, "states", &opt.states, "FILE",
                     "status: the shards' states, as 'pipeline states'\n"
                     "prints them (- = stdin), read once"),
    INFTY_OPT_STRING(0, "states-cmd", &opt.states_cmd, "CMD",
                     "status: a command printing the states, run at each\n"
                     "refresh (default: the done markers as they are)"),
    INFTY_OPT_STRING(0, "follow", &opt.follow, "FILE",
                     "status --watch: relay the lines written to FILE above\n"
                     "the display"),
    INFTY_OPT_INT(0, "while", &opt.while_pid, "PID", 1, INT32_MAX,
                  "status --watch: stop when process PID is gone"),
    INFTY_OPT_CHOICE(0, "color", &opt.color, "WHEN", colors,
                     "auto (default: on a terminal), always, never"),
    INFTY_OPT_HELP_VERSION_END(),
};

static const struct infty_cmd cmd = {
    .name = "infty-inspect",
    .usage = "show ID [FILE...]\n"
             "stats [--html OUT] [FILE...]\n"
             "validate [-t PATH] [FILE...]\n"
             "head [-n K] [FILE...]\n"
             "sample -n K [--seed S] [FILE...]\n"
             "report RUN -o PAGE.html [-n K] [--seed S]\n"
             "grep --id ID | --field PATH=VALUE | --field PATH~TEXT [FILE...]\n"
             "totals OUT [--train FILE] [--rejects FILE] [--price-in X --price-out Y]\n"
             "status OUT [--states FILE | --states-cmd CMD] [--watch [--interval S]]\n"
             "dataset [--source NAME] [--license ID] [--repo ID] OUT",
    .about = "Look inside infty's files (.jsonl, .jsonl.zst, or stdin when no FILE / '-').\n"
             "\n"
             "  show      the record(s) of trace ID laid out for a person\n"
             "  stats     counts and histograms (and an HTML page with --html)\n"
             "  validate  each stage's schema and invariants; file:line: per problem\n"
             "  head      the first K records, as they are\n"
             "  sample    K records drawn uniformly (reservoir), in input order\n"
             "  report    one self-contained page on a run directory: settings,\n"
             "            totals, charts, sampled and flagged traces, rejects\n"
             "  grep      records whose id or field matches\n"
             "  totals    a run's totals as JSON, after checking that every record\n"
             "            is accounted for (exit 3 if not)\n"
             "  status    a run's live numbers per stage, from its stats and its\n"
             "            progress snapshots (make status: with the states)\n"
             "  dataset   write OUT/dataset/ from a finished run: the training file,\n"
             "            a dataset card, LLaMA-Factory's dataset_info\n",
    .options = options,
    .exit_note = "infty-inspect: 1 means validate found a problem, or show or grep matched\n"
                 "nothing.\n",
    .stop_at_operand = 1,
};

static int run_command(const char *c, char **files, int nfiles)
{
	const struct opts *oo = &opt;
	if (!strcmp(c, "head"))
		return cmd_head(oo, files, nfiles);
	if (!strcmp(c, "sample"))
		return cmd_sample(oo, files, nfiles);
	if (!strcmp(c, "grep"))
		return cmd_grep(oo, files, nfiles, 0, NULL);
	if (!strcmp(c, "stats"))
		return cmd_stats(oo, files, nfiles);
	if (!strcmp(c, "validate"))
		return cmd_validate(oo, files, nfiles);
	if (!strcmp(c, "totals"))
		return cmd_totals(oo, files, nfiles);
	if (!strcmp(c, "status")) {
		if (nfiles != 1)
			infty_usage_error("status: give the run directory OUT");
		struct inspect_status_opts so = {.out = files[0],
		                                 .states = opt.states,
		                                 .states_cmd = opt.states_cmd,
		                                 .watch = opt.watch,
		                                 .interval = opt.interval,
		                                 .follow = opt.follow,
		                                 .while_pid = (long)opt.while_pid};
		return inspect_status_run(&so);
	}
	if (!strcmp(c, "report"))
		return cmd_report(oo, files, nfiles);
	if (!strcmp(c, "dataset")) {
		if (nfiles != 1)
			infty_usage_error("dataset: give the run directory OUT");
		return inspect_dataset(files[0], opt.source, opt.license, opt.repo);
	}
	if (!strcmp(c, "show")) {
		if (nfiles < 1)
			infty_usage_error("show: give the trace ID");
		return cmd_grep(oo, files + 1, nfiles - 1, 1, files[0]);
	}
	infty_usage_error("unknown command '%s' (show, stats, validate, head, sample, grep, "
	                  "report, totals, status, dataset)",
	                  c);
}

int main(int argc, char **argv)
{
	/* The command word first; options may come before or after it. */
	int first = infty_opts_parse(&cmd, argc, argv);
	if (first >= argc)
		infty_usage_error("missing command: show, stats, validate, head, sample, grep, "
		                  "report, totals, status or dataset");
	const char *c = argv[first];
	argc -= first;
	argv += first;
	struct infty_cmd rest = cmd;
	rest.stop_at_operand = 0;
	int op = infty_opts_parse(&rest, argc, argv);
	char **files = argv + op;
	int nfiles = argc - op;
	if (opt.color < 0 || opt.color == 2)
		opt.color = isatty(STDOUT_FILENO);
	int status = run_command(c, files, nfiles);
	/* What head, sample, grep and the rest printed must be out. */
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
	return status;
}
