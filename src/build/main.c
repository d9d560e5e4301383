/*
 * infty-build: summarized records in, InftyThink training instances out.
 * Options, messages and exit codes only; the work is in build_instances.c.
 */
#include "build_instances.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/progress.h"
#include "infty/reject.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Beyond this many, reject messages are only counted (the file has them all). */
#define MAX_REJECT_MESSAGES 20

static void usage(FILE *f)
{
	fputs("usage: infty-build [OPTIONS] [FILE...]\n"
	      "Build InftyThink training instances from summarized records (FILE or stdin;\n"
	      ".jsonl or .jsonl.zst).  A trace of n segments gives exactly n instances, or\n"
	      "none: a trace missing a summary is rejected whole.\n"
	      "\n"
	      "  -f, --format FMT      paper (default), messages, hf, trl (prompt/completion\n"
	      "                        strings) or trl-chat (prompt/completion message lists)\n"
	      "  -o, --output FILE     instances (default stdout; .zst compresses)\n"
	      "  -r, --rejects FILE    reject records (stage, file, line, reason, raw)\n"
	      "  -s, --stats FILE      stats JSON (counts, rejects by reason, token\n"
	      "                        distributions)\n"
	      "  -t, --tokenizer PATH  tokenizer.json for token counts, or 'none'\n"
	      "                        (default: $INFTY_TOKENIZER, then the fetched Qwen3 one)\n"
	      "  -m, --max-tokens N    reject a trace when one instance's prompt plus\n"
	      "                        target exceeds N tokens\n"
	      "      --meta            add a \"meta\" object (id, iteration, n, tokens) to every\n"
	      "                        instance (default for paper and messages)\n"
	      "      --no-meta         leave it out (default for hf, trl and trl-chat)\n"
	      "      --quality keep|drop  keep traces with a flagged summary and count them\n"
	      "                        (default), or reject them as quality_<flag>\n"
	      "  -q, --quiet           no progress line\n"
	      "  -h, --help            this help\n"
	      "  -V, --version         print the version\n"
	      "\n"
	      "Exit status: 0 done, 1 some records rejected or a read/write failure,\n"
	      "2 usage or configuration error.  See infty-build(1).\n",
	      f);
}

struct counter {
	struct infty_tok_ctx *ctx;
};

static int64_t count_tokens(void *p, const char *text, size_t len)
{
	return infty_tok_count(((struct counter *)p)->ctx, text, len);
}

struct run {
	struct infty_build_opts opts;
	struct infty_writer *out, *rej;
	struct infty_build_stats stats;
	struct infty_build_result res;
	uint64_t reject_msgs;
	int quiet;
};

static void write_failed(struct infty_writer *w)
{
	infty_die(INFTY_EXIT_STOPPED, "%s: write failed: %s", infty_writer_path(w),
	          infty_writer_detail(w));
}

/* Report one rejected record and copy it, raw, into the reject file. */
static void reject(struct run *r, struct infty_reader *in, uint64_t lineno, const char *reason,
                   const char *detail, const char *id)
{
	infty_build_stats_reject(&r->stats, reason);
	if (r->reject_msgs++ < MAX_REJECT_MESSAGES)
		infty_warn("%s:%llu: %s: %s", infty_reader_path(in), (unsigned long long)lineno,
		           reason, detail);
	if (!r->rej)
		return;
	size_t len;
	const char *raw = infty_reader_line(in, &len);
	struct json_object *o =
	    infty_reject_new("build", infty_reader_path(in), lineno, reason, detail, id, raw, len);
	if (!o)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	int rc = infty_writer_put_json(r->rej, o);
	json_object_put(o);
	if (rc)
		write_failed(r->rej);
}

/* Returns 0, or INFTY_EXIT_STOPPED after a stream error (message printed). */
static int build_file(struct run *r, const char *path)
{
	struct infty_reader *in;
	struct stat st;
	if (strcmp(path, "-") != 0 && (stat(path, &st) != 0 || S_ISDIR(st.st_mode)))
		infty_die(INFTY_EXIT_USAGE, "%s: %s", path,
		          S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
	if (infty_reader_open(&in, path, 0))
		infty_die(INFTY_EXIT_USAGE, "%s: cannot open: %s", path, strerror(errno));
	struct infty_progress *p = infty_progress_new(
	    stderr, "build", "records", 0,
	    (uint64_t)(infty_reader_size(in) > 0 ? infty_reader_size(in) : 0), r->quiet);
	int status = 0;
	for (;;) {
		struct json_object *rec = NULL;
		uint64_t lineno = 0;
		int rc = infty_reader_next(in, &rec, &lineno);
		if (rc == 0)
			break;
		if (rc == INFTY_EJSON || rc == INFTY_EUTF8) {
			reject(r, in, lineno, rc == INFTY_EJSON ? "bad_json" : "bad_utf8",
			       infty_reader_detail(in), NULL);
			continue;
		}
		if (rc < 0) {
			infty_warn("%s:%llu: %s: %s", infty_reader_path(in),
			           (unsigned long long)lineno, infty_strerror(rc),
			           infty_reader_detail(in));
			status = INFTY_EXIT_STOPPED;
			break;
		}
		rc = infty_build_trace(&r->opts, rec, &r->res);
		infty_build_stats_quality(&r->stats, &r->res, &r->opts);
		if (rc == INFTY_ENOMEM)
			infty_die(INFTY_EXIT_STOPPED, "%s:%llu: out of memory",
			          infty_reader_path(in), (unsigned long long)lineno);
		if (rc) {
			struct json_object *idv;
			const char *id = json_object_object_get_ex(rec, "id", &idv) &&
			                         json_object_is_type(idv, json_type_string)
			                     ? json_object_get_string(idv)
			                     : NULL;
			reject(r, in, lineno, r->res.reason, r->res.detail, id);
		} else {
			for (size_t i = 0; i < r->res.n_inst; i++)
				if (infty_writer_put_json(r->out, r->res.inst[i]))
					write_failed(r->out);
			if (infty_build_stats_add(&r->stats, &r->res))
				infty_die(INFTY_EXIT_STOPPED, "out of memory");
		}
		json_object_put(rec);
		infty_progress_update(p, r->stats.records_in, infty_reader_bytes_in(in), NULL);
	}
	char extra[96];
	snprintf(extra, sizeof extra, "%llu instances, %llu rejects",
	         (unsigned long long)r->stats.instances_out, (unsigned long long)r->stats.rejects);
	infty_progress_finish(p, r->stats.records_in, extra);
	infty_reader_free(in);
	return status;
}

static void write_stats(struct run *r, const char *path)
{
	struct json_object *j = infty_build_stats_json(&r->stats, r->opts.format);
	if (!j)
		infty_die(INFTY_EXIT_STOPPED, "out of memory");
	struct infty_writer_opts wo;
	infty_writer_opts_init(&wo);
	wo.compress = 0;
	struct infty_writer *w;
	if (infty_writer_open(&w, path, &wo))
		infty_die(INFTY_EXIT_STOPPED, "%s: cannot write stats", path);
	const char *s = json_object_to_json_string_ext(
	    j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (infty_writer_put(w, s, strlen(s)))
		write_failed(w);
	char detail[256];
	if (infty_writer_close(w, detail, sizeof detail))
		infty_die(INFTY_EXIT_STOPPED, "%s: %s", path, detail);
	json_object_put(j);
}

/*
 * When the tool exits early (infty_die on a write error or out of memory),
 * the outputs still open are abandoned, which removes their temporary
 * files, and those already renamed into place are removed: a run that
 * stopped publishes nothing, not even a complete output beside a missing
 * reject file or stats.
 */
static struct run *open_run;
static const char *published[3];
static int npublished, finished;

static void abandon_outputs(void)
{
	if (!open_run || finished)
		return;
	infty_writer_free(open_run->out);
	infty_writer_free(open_run->rej);
	open_run->out = open_run->rej = NULL;
	for (int i = 0; i < npublished; i++)
		unlink(published[i]);
}

/* Close w (publishing path) or stop. */
static void publish(struct infty_writer *w, const char *path)
{
	char detail[256];
	if (infty_writer_close(w, detail, sizeof detail))
		infty_die(INFTY_EXIT_STOPPED, "%s: %s", path, detail);
	if (strcmp(path, "-") != 0)
		published[npublished++] = path;
}

static struct infty_writer *open_out(const char *path)
{
	struct infty_writer *w;
	int rc = infty_writer_open(&w, path, NULL);
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "%s: cannot open for writing: %s", path,
		          infty_strerror(rc));
	return w;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"rejects", required_argument, NULL, 'r'},
	    {"stats", required_argument, NULL, 's'},
	    {"tokenizer", required_argument, NULL, 't'},
	    {"max-tokens", required_argument, NULL, 'm'},
	    {"meta", no_argument, NULL, 'E'},
	    {"no-meta", no_argument, NULL, 'M'},
	    {"quality", required_argument, NULL, 'Q'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *output = "-", *rejects = NULL, *stats = NULL, *tokpath = NULL;
	static struct run r; /* static: abandon_outputs() runs after main returns */
	r.opts.format = INFTY_BUILD_PAPER;
	r.opts.meta = -1; /* the format's default unless --meta / --no-meta */
	infty_cli_init(argv[0]);
	int c;
	while ((c = getopt_long(argc, argv, "f:o:r:s:t:m:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (infty_build_format_parse(optarg, &r.opts.format))
				infty_usage_error("--format: '%s' is not " INFTY_BUILD_FORMAT_NAMES,
				                  optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 't':
			tokpath = optarg;
			break;
		case 'm':
			r.opts.max_tokens = infty_parse_ll("--max-tokens", optarg, 1, 1LL << 40);
			break;
		case 'E':
			r.opts.meta = 1;
			break;
		case 'M':
			r.opts.meta = 0;
			break;
		case 'Q':
			if (strcmp(optarg, "keep") && strcmp(optarg, "drop"))
				infty_usage_error("--quality: '%s' is not keep or drop", optarg);
			r.opts.drop_flagged = !strcmp(optarg, "drop");
			break;
		case 'q':
			r.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) || ferror(stdout) ? INFTY_EXIT_STOPPED
			                                        : INFTY_EXIT_OK;
		case 'V':
			infty_print_version();
		default:
			fputs("usage: infty-build [OPTIONS] [FILE...]\n", stderr);
			fprintf(stderr, "Try 'infty-build --help' for more information.\n");
			return INFTY_EXIT_USAGE;
		}
	}

	if (r.opts.meta < 0)
		r.opts.meta = infty_build_format_meta_default(r.opts.format);

	struct infty_tokenizer *tok = NULL;
	struct counter counter = {0};
	if (!tokpath)
		tokpath = infty_tokenizer_default_path();
	if (tokpath && strcmp(tokpath, "none")) {
		char detail[256] = "";
		int rc = infty_tokenizer_load(&tok, tokpath, detail, sizeof detail);
		if (rc)
			infty_die(INFTY_EXIT_USAGE, "%s: cannot load tokenizer: %s%s%s", tokpath,
			          infty_strerror(rc), *detail ? ": " : "", detail);
		if (!(counter.ctx = infty_tok_ctx_new(tok)))
			infty_die(INFTY_EXIT_STOPPED, "out of memory");
		r.opts.count = count_tokens;
		r.opts.count_ctx = &counter;
	} else if (r.opts.max_tokens) {
		infty_usage_error("--max-tokens needs a tokenizer (not --tokenizer none)");
	}

	open_run = &r;
	atexit(abandon_outputs);
	r.out = open_out(output);
	if (rejects)
		r.rej = open_out(rejects);
	infty_build_stats_init(&r.stats);
	int status = 0;
	if (optind == argc)
		status = build_file(&r, "-");
	for (int i = optind; i < argc && !status; i++)
		status = build_file(&r, argv[i]);
	if (status)
		return status; /* a broken input stream: publish nothing (atexit) */
	struct infty_writer *w = r.out;
	r.out = NULL;
	publish(w, output);
	if ((w = r.rej)) {
		r.rej = NULL;
		publish(w, rejects);
	}
	if (stats) {
		write_stats(&r, stats);
		published[npublished++] = stats;
	}
	finished = 1;
	if (r.reject_msgs > MAX_REJECT_MESSAGES)
		infty_warn("%llu more rejects not shown",
		           (unsigned long long)(r.reject_msgs - MAX_REJECT_MESSAGES));
	status = r.stats.rejects ? INFTY_EXIT_DATA : INFTY_EXIT_OK;
	infty_build_result_release(&r.res);
	infty_build_stats_release(&r.stats);
	infty_tok_ctx_free(counter.ctx);
	infty_tokenizer_free(tok);
	return status;
}
