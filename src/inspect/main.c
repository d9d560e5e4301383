/*
 * infty-inspect: look inside any stage's files (rows, segment, summarized,
 * instance and reject records): show, stats, validate, head, sample, grep.
 * Options, reading and exit codes here; views and checks in inspect_*.c.
 */
#include "inspect.h"
#include "inspect_run.h"
#include "inspect_dataset.h"
#include "inspect_show.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/tokenizer.h"

#include <getopt.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: infty-inspect COMMAND [OPTIONS] [FILE...]\n"
    "Look inside infty's files (.jsonl, .jsonl.zst, or stdin when no FILE / '-').\n"
    "\n"
    "  show ID [FILE...]           the record(s) of trace ID laid out for a person\n"
    "  stats [FILE...]             counts and histograms in the terminal\n"
    "      --html OUT              ... and a self-contained HTML page with charts\n"
    "  validate [FILE...]          check schema and invariants; file:line: per problem\n"
    "      -t, --tokenizer PATH    also recount every segment's tokens ('default':\n"
    "                              the default tokenizer)\n"
    "  head [-n K] [FILE...]       the first K records (default 10), as they are\n"
    "  sample -n K [--seed S] [FILE...]   K records drawn uniformly (reservoir),\n"
    "                              in input order; the same S gives the same draw\n"
    "  totals OUT [--train F --rejects F]   the run's totals as JSON, after checking\n"
    "                              that every record is accounted for (exit 3 if not)\n"
    "  report OUT -o PAGE.html [-n K] [--seed S]\n"
    "                              one self-contained page on a run directory: settings,\n"
    "                              totals, charts, K sampled traces (default 100) plus\n"
    "                              every flagged one, rejects with reasons\n"
    "  grep --id ID | --field PATH=VALUE | --field PATH~TEXT [FILE...]\n"
    "                              records whose id, or field (dotted path, e.g.\n"
    "                              source.uuid, meta.n), equals VALUE / contains TEXT\n"
    "  dataset [--source N] [--license L] [--repo R] OUT\n"
    "                              write OUT/dataset/ from a finished run: the training\n"
    "                              file, a dataset card, LLaMA-Factory's dataset_info\n"
    "\n"
    "      --color WHEN            auto (default: on a terminal), always, never\n"
    "  -h, --help                  this help\n"
    "  -V, --version               print the version\n"
    "\n"
    "Exit status: 0 done; 1 a problem found (validate), nothing matched (show,\n"
    "grep) or a read error; 2 usage error.  See infty-inspect(1).\n";

enum { O_HTML = 256, O_SEED, O_ID, O_FIELD, O_COLOR, O_TRAIN, O_REJECTS };

struct opts {
	const char *html, *tokenizer, *id, *field, *output, *train, *rejects;
	long long n;
	unsigned long long seed;
	int color;
};

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
		struct infty_reader *r;
		if (infty_reader_open(&r, files[i], 0, NULL, 0)) {
			infty_warn("%s: cannot open", files[i]);
			status = 1;
			continue;
		}
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
				infty_warn("%s:%llu: %s: %s", infty_reader_path(r),
				           (unsigned long long)line, infty_strerror(rc),
				           infty_reader_detail(r));
				status = 1;
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
		infty_die(INFTY_EXIT_DATA, "stdout: write failed");
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
		struct infty_reader *r;
		if (infty_reader_open(&r, files[i], 0, NULL, 0)) {
			infty_warn("%s: cannot open", files[i]);
			status = 1;
			continue;
		}
		const char *line;
		size_t len;
		uint64_t no = 0;
		int rc = 0;
		while (!stop && (rc = infty_reader_next_line(r, &line, &len, &no)) == 1)
			if (len)
				stop = fn(ctx, line, len);
		if (!stop && rc < 0) {
			infty_warn("%s:%llu: %s", files[i], (unsigned long long)no,
			           infty_strerror(rc));
			status = 1;
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
			infty_die(INFTY_EXIT_DATA, "out of memory");
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
		infty_die(INFTY_EXIT_DATA, "out of memory");
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
			infty_die(INFTY_EXIT_DATA, "out of memory");
		m.path = path;
		m.value = op + 1;
		m.contains = *op == '~';
	} else {
		infty_usage_error("grep: give --id ID or --field PATH=VALUE");
	}
	int status = each_record(files, nfiles, on_match, &m, 0);
	infty_free(path);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_DATA, "stdout: write failed");
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
		infty_die(INFTY_EXIT_DATA, "out of memory");
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
			infty_die(INFTY_EXIT_DATA, "%s: cannot write", o->html);
		inspect_stats_html(&st, files, nfiles, f);
		if (ferror(f) | fclose(f) || rename(tmp, o->html)) {
			remove(tmp);
			infty_die(INFTY_EXIT_DATA, "%s: write failed", o->html);
		}
	}
	inspect_stats_release(&st);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_DATA, "stdout: write failed");
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
		infty_die(INFTY_EXIT_DATA, "%s: cannot write", o->output);
	int rc = inspect_report(files[0], &ro, f, detail, sizeof detail);
	if (ferror(f) | fclose(f) || rc || rename(tmp, o->output)) {
		remove(tmp);
		if (rc)
			infty_die(INFTY_EXIT_DATA, "%s: %s", files[0], detail);
		infty_die(INFTY_EXIT_DATA, "%s: write failed", o->output);
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
		const char *p =
		    strcmp(o->tokenizer, "default") ? o->tokenizer : infty_tokenizer_default_path();
		char detail[256] = "";
		int rc = infty_tokenizer_load(&tok, p, detail, sizeof detail);
		if (rc)
			infty_die(INFTY_EXIT_USAGE, "%s: cannot load tokenizer: %s %s", p,
			          infty_strerror(rc), detail);
		if (!(tctx = infty_tok_ctx_new(tok)))
			infty_die(INFTY_EXIT_DATA, "out of memory");
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
		status |= each_record(&files[i], 1, on_validate, &c, 0);
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
		infty_die(INFTY_EXIT_DATA, "stdout: write failed");
	return status || problems ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
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
	};
	int rc = inspect_run_totals(&p, stdout, detail, sizeof detail);
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "%s: %s", files[0], detail);
	if (fflush(stdout) || ferror(stdout))
		infty_die(INFTY_EXIT_STOPPED, "stdout: write failed");
	return INFTY_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"html", required_argument, NULL, O_HTML},
	    {"tokenizer", required_argument, NULL, 't'},
	    {"seed", required_argument, NULL, O_SEED},
	    {"id", required_argument, NULL, O_ID},
	    {"field", required_argument, NULL, O_FIELD},
	    {"color", required_argument, NULL, O_COLOR},
	    {"train", required_argument, NULL, O_TRAIN},
	    {"rejects", required_argument, NULL, O_REJECTS},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	infty_cli_init(argv[0]);
	if (argc < 2) {
		fputs("usage: infty-inspect show|stats|validate|head|sample|grep|report [OPTIONS] "
		      "[FILE...]\n",
		      stderr);
		return INFTY_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage_text, stdout);
		return fflush(stdout) || ferror(stdout) ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
		infty_print_version();
	if (!strcmp(cmd, "dataset")) /* its own options */
		return inspect_dataset_main(argc - 1, argv + 1);
	struct opts o = {.n = -1, .color = isatty(STDOUT_FILENO)};
	int c;
	/* getopt on the arguments after the command word. */
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "n:t:o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.n = infty_parse_ll("-n", optarg, 0, 100000000);
			break;
		case 't':
			o.tokenizer = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case O_HTML:
			o.html = optarg;
			break;
		case O_SEED:
			o.seed = infty_parse_ull("--seed", optarg, 0, UINT64_MAX);
			break;
		case O_ID:
			o.id = optarg;
			break;
		case O_FIELD:
			o.field = optarg;
			break;
		case O_TRAIN:
			o.train = optarg;
			break;
		case O_REJECTS:
			o.rejects = optarg;
			break;
		case O_COLOR:
			if (!strcmp(optarg, "always"))
				o.color = 1;
			else if (!strcmp(optarg, "never"))
				o.color = 0;
			else if (strcmp(optarg, "auto"))
				infty_usage_error("--color: '%s' is not auto, always or never",
				                  optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return INFTY_EXIT_OK;
		case 'V':
			infty_print_version();
		default:
			fputs("usage: infty-inspect COMMAND [OPTIONS] [FILE...]\n", stderr);
			return INFTY_EXIT_USAGE;
		}
	}
	char **files = argv + optind;
	int nfiles = argc - optind;
	if (!strcmp(cmd, "head"))
		return cmd_head(&o, files, nfiles);
	if (!strcmp(cmd, "sample"))
		return cmd_sample(&o, files, nfiles);
	if (!strcmp(cmd, "grep"))
		return cmd_grep(&o, files, nfiles, 0, NULL);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(&o, files, nfiles);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(&o, files, nfiles);
	if (!strcmp(cmd, "totals"))
		return cmd_totals(&o, files, nfiles);
	if (!strcmp(cmd, "report"))
		return cmd_report(&o, files, nfiles);
	if (!strcmp(cmd, "show")) {
		if (nfiles < 1)
			infty_usage_error("show: give the trace ID");
		return cmd_grep(&o, files + 1, nfiles - 1, 1, files[0]);
	}
	infty_usage_error(
	    "unknown command '%s' (show, stats, validate, head, sample, grep, report)", cmd);
}
