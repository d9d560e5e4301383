/*
 * test_stage.c - the stage frame: outputs published together or not at
 * all, rejects in one schema and counted by reason, stats for finished and
 * stopped runs, exit statuses, and inputs refused once (another stage's
 * records, parquet, binary data) while a file with one bad line is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scratch.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/stage.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *log_file;

/* A config that logs to a temporary file (read back with logged()). */
static struct infty_stage_config config(const char *const *in, size_t n)
{
	if (log_file)
		fclose(log_file);
	log_file = tmpfile();
	assert_non_null(log_file);
	struct infty_stage_config c = {
	    .name = "test",
	    .unit = "records",
	    .expect = INFTY_KIND_SUMMARIZED,
	    .inputs = in,
	    .n_inputs = n,
	    .quiet = 1,
	    .log = log_file,
	    .no_signals = 1,
	};
	return c;
}

static const char *logged(void)
{
	static char buf[8192];
	rewind(log_file);
	size_t n = fread(buf, 1, sizeof buf - 1, log_file);
	buf[n] = 0;
	return buf;
}

static struct json_object *load(const char *path)
{
	struct json_object *o = json_object_from_file(path);
	assert_non_null(o);
	return o;
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

#define SUMMARIZED "{\"id\":\"t1\",\"segments\":[{\"text\":\"a\"}],\"summaries\":[]}\n"

/* Copy every record to the output, reject those whose id is "bad". */
static int copy_all(struct infty_stage *st)
{
	struct infty_reader *r;
	int rc;
	while ((rc = infty_stage_next_input(st, &r)) == 1) {
		struct json_object *o;
		uint64_t line;
		while ((rc = infty_reader_next(r, &o, &line)) != 0) {
			if (rc < 0 && rc != INFTY_EJSON)
				return rc;
			struct json_object *id = NULL;
			if (o && json_object_object_get_ex(o, "id", &id) &&
			    strcmp(json_object_get_string(id), "bad") != 0) {
				size_t len;
				const char *raw = infty_reader_line(r, &len);
				rc = infty_stage_put(st, raw, len);
			} else {
				size_t len;
				const char *raw = infty_reader_line(r, &len);
				struct infty_reject rej = {NULL, line, o ? "bad_id" : "bad_json",
				                           NULL, NULL, NULL,
				                           raw,  len};
				rc = infty_stage_reject(st, &rej);
			}
			json_object_put(o);
			if (rc)
				return rc;
		}
	}
	return rc;
}

static void clean_dir(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -f '%s'/*", scratch_dir());
	assert_int_equal(system(cmd), 0);
}

static int count_files(void)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", scratch_dir());
	FILE *p = popen(cmd, "r");
	int n = -1;
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void test_finished_run_publishes_all(void **state)
{
	const char text[] = SUMMARIZED "{\"id\":\"bad\",\"segments\":[],\"summaries\":[]}\n"
	                               "{\"id\":\"t2\",\"segments\":[],\"summaries\":[]}\n";
	scratch_write(scratch_path("in.jsonl"), text, sizeof text - 1);
	const char *in[] = {scratch_path("in.jsonl")};
	struct infty_stage_config c = config(in, 1);
	c.output = scratch_path("out.jsonl");
	c.rejects = scratch_path("rej.jsonl");
	c.stats = scratch_path("stats.json");
	c.progress = scratch_path("progress.json");
	struct infty_stage *st = infty_stage_new(&c);
	assert_non_null(st);
	assert_int_equal(infty_stage_open(st), 0);
	assert_int_equal(copy_all(st), 0);
	infty_stage_progress(st, 3, NULL);
	assert_int_equal(infty_stage_end(st, 0), INFTY_EXIT_DATA);
	assert_true(scratch_exists(scratch_path("out.jsonl")));

	struct json_object *s = load(scratch_path("stats.json")), *v;
	assert_int_equal(num(s, "rejected"), 1);
	assert_true(json_object_object_get_ex(s, "completed", &v) && json_object_get_boolean(v));
	assert_false(json_object_object_get_ex(s, "stopped_by", NULL));
	assert_true(json_object_object_get_ex(s, "rejects_by_reason", &v));
	assert_int_equal(num(v, "bad_id"), 1);
	json_object_put(s);

	/* The one reject schema: stage, file, line, reason, detail, id, raw. */
	char want[1024];
	snprintf(want, sizeof want,
	         "{\"stage\":\"test\",\"file\":\"%s\",\"line\":2,\"reason\":\"bad_id\",\"detail\":"
	         "\"\",\"id\":null,\"raw\":\"{\\\"id\\\":\\\"bad\\\",\\\"segments\\\":[],"
	         "\\\"summaries\\\":[]}\"}",
	         scratch_path("in.jsonl"));
	s = load(scratch_path("rej.jsonl"));
	assert_string_equal(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN |
	                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
	                    want);
	json_object_put(s);
	snprintf(want, sizeof want, "infty: %s:2: bad_id\n", scratch_path("in.jsonl"));
	assert_string_equal(logged(), want);

	/* The last snapshot says the run finished, and how. */
	s = load(scratch_path("progress.json"));
	assert_int_equal(num(s, "done"), 3);
	assert_int_equal(num(s, "exit_status"), 1);
	assert_true(json_object_object_get_ex(s, "finished", &v) && json_object_get_boolean(v));
	json_object_put(s);
	/* in, out, rejects, stats, progress: no temporary left. */
	assert_int_equal(count_files(), 5);
	clean_dir();
}

static void test_stopped_run_publishes_nothing(void **state)
{
	scratch_write(scratch_path("in.jsonl"), SUMMARIZED, sizeof SUMMARIZED - 1);
	const char *in[] = {scratch_path("in.jsonl")};
	struct infty_stage_config c = config(in, 1);
	c.output = scratch_path("out.jsonl");
	c.rejects = scratch_path("rej.jsonl");
	c.stats = scratch_path("stats.json");
	struct infty_stage *st = infty_stage_new(&c);
	assert_int_equal(infty_stage_open(st), 0);
	assert_int_equal(copy_all(st), 0);
	int rc =
	    infty_stage_fail(st, INFTY_EIO, "%s:7: read error: it broke", scratch_path("in.jsonl"));
	assert_int_equal(infty_stage_end(st, rc), INFTY_EXIT_STOPPED);
	assert_false(scratch_exists(scratch_path("out.jsonl")));
	assert_false(scratch_exists(scratch_path("rej.jsonl")));
	/* The stats say why, for whoever looks after the log is gone. */
	struct json_object *s = load(scratch_path("stats.json")), *v;
	assert_true(json_object_object_get_ex(s, "completed", &v) && !json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(s, "stopped_by", &v));
	assert_string_equal(json_object_get_string(v), "io_error");
	json_object_put(s);
	char want[600];
	snprintf(want, sizeof want, "infty: %s:7: read error: it broke\n",
	         scratch_path("in.jsonl"));
	assert_string_equal(logged(), want);
	assert_int_equal(count_files(), 2); /* the input and the stats */
	unlink(scratch_path("stats.json"));
}

static void test_write_error_stops(void **state)
{
	scratch_write(scratch_path("in.jsonl"), SUMMARIZED, sizeof SUMMARIZED - 1);
	const char *in[] = {scratch_path("in.jsonl")};
	struct infty_stage_config c = config(in, 1);
	c.output = "/dev/full";
	c.rejects = scratch_path("rej.jsonl");
	struct infty_stage *st = infty_stage_new(&c);
	assert_int_equal(infty_stage_open(st), 0);
	assert_int_equal(copy_all(st), 0); /* buffered: the error comes at the end */
	assert_int_equal(infty_stage_end(st, 0), INFTY_EXIT_STOPPED);
	assert_string_equal(logged(), "infty: /dev/full: write error: No space left on device\n");
	assert_false(scratch_exists(scratch_path("rej.jsonl")));
}

/* An extra output whose publish fails after the output was renamed. */
static int ok_finish(void *ctx, char *d, size_t n)
{
	return 0;
}
static int bad_publish(void *ctx, char *d, size_t n)
{
	snprintf(d, n, "extra: cannot rename");
	return INFTY_EIO;
}
static void note_abandon(void *ctx)
{
	*(int *)ctx = 1;
}

static void test_late_failure_unpublishes(void **state)
{
	scratch_write(scratch_path("in.jsonl"), SUMMARIZED, sizeof SUMMARIZED - 1);
	const char *in[] = {scratch_path("in.jsonl")};
	struct infty_stage_config c = config(in, 1);
	c.output = scratch_path("out.jsonl");
	c.rejects = scratch_path("rej.jsonl");
	struct infty_stage *st = infty_stage_new(&c);
	assert_int_equal(infty_stage_open(st), 0);
	static const struct infty_stage_files f = {ok_finish, bad_publish, note_abandon};
	int abandoned = 0;
	assert_int_equal(infty_stage_add_output(st, &f, &abandoned), 0);
	assert_int_equal(copy_all(st), 0);
	assert_int_equal(infty_stage_end(st, 0), INFTY_EXIT_STOPPED);
	assert_false(scratch_exists(scratch_path("out.jsonl"))); /* renamed, then removed again */
	assert_false(scratch_exists(scratch_path("rej.jsonl")));
	assert_true(abandoned);
	assert_string_equal(logged(), "infty: extra: cannot rename\n");
	assert_int_equal(count_files(), 1);
}

/* open() on inputs that must be refused: exit 2, one line, nothing written. */
static void refused(const char *path, const char *want_tail, enum infty_kind expect)
{
	const char *in[] = {path};
	struct infty_stage_config c = config(in, 1);
	c.expect = expect;
	c.output = scratch_path("out.jsonl");
	c.stats = scratch_path("stats.json");
	struct infty_stage *st = infty_stage_new(&c);
	int rc = infty_stage_open(st);
	assert_int_equal(rc, INFTY_EINVAL);
	assert_int_equal(infty_stage_end(st, rc), INFTY_EXIT_USAGE);
	char want[700];
	snprintf(want, sizeof want, "infty: %s%s\n", path, want_tail);
	assert_string_equal(logged(), want);
	assert_false(scratch_exists(scratch_path("out.jsonl")));
	assert_false(scratch_exists(scratch_path("stats.json")));
}

static void test_inputs_refused_once(void **state)
{
	refused(scratch_path("missing.jsonl"), ": cannot open: No such file or directory",
	        INFTY_KIND_SUMMARIZED);
	refused(scratch_dir(), ": is a directory, not a JSON Lines file", INFTY_KIND_SUMMARIZED);
	const char row[] =
	    "\n{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"uuid\":\"u\"}\n";
	scratch_write(scratch_path("row.jsonl"), row, sizeof row - 1);
	refused(scratch_path("row.jsonl"), ":2: this is a dataset row; run infty-segment first",
	        INFTY_KIND_SUMMARIZED);
	const char seg[] = "{\"id\":\"a\",\"segments\":[]}\n";
	scratch_write(scratch_path("seg.jsonl"), seg, sizeof seg - 1);
	refused(scratch_path("seg.jsonl"),
	        ":1: this is a segment record; run infty-summarize first", INFTY_KIND_SUMMARIZED);
	refused(scratch_path("seg.jsonl"),
	        ":1: this is a segment record (infty-segment output); give it to "
	        "infty-summarize",
	        INFTY_KIND_ROW);
	const char par[] = "PAR1\x15\x04\x15\x00\x15\x00";
	scratch_write(scratch_path("x.parquet"), par, sizeof par - 1);
	refused(scratch_path("x.parquet"),
	        ": a parquet file, not JSON Lines: export it first (README, \"Quick start\")",
	        INFTY_KIND_SUMMARIZED);
	const char bin[] = "\x7f"
	                   "ELF\x02\x01\x01\x00\x00\x00\n\xff\xfe\x00\x01";
	scratch_write(scratch_path("x.bin"), bin, sizeof bin - 1);
	refused(scratch_path("x.bin"),
	        ": binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)",
	        INFTY_KIND_SUMMARIZED);
	const char csv[] = "id,question\n1,what\n";
	scratch_write(scratch_path("x.csv"), csv, sizeof csv - 1);
	refused(scratch_path("x.csv"),
	        ": not JSON Lines: no line of its first 64 KiB is a JSON object",
	        INFTY_KIND_SUMMARIZED);
	clean_dir();
}

/* A bad first line in a JSON Lines file is one reject, not a refusal. */
static void test_one_bad_line_is_a_reject(void **state)
{
	const char text[] = "\x00\x00\x00\x00\n\n" SUMMARIZED;
	scratch_write(scratch_path("nul.jsonl"), text, sizeof text - 1);
	const char *in[] = {scratch_path("nul.jsonl"), scratch_path("nul.jsonl")};
	struct infty_stage_config c = config(in, 2);
	c.output = scratch_path("out.jsonl");
	struct infty_stage *st = infty_stage_new(&c);
	assert_int_equal(infty_stage_open(st), 0);
	assert_int_equal(copy_all(st), 0);
	assert_int_equal(infty_stage_rejected(st), 2); /* once per input */
	assert_int_equal(infty_stage_end(st, 0), INFTY_EXIT_DATA);
	FILE *f = fopen(scratch_path("out.jsonl"), "r");
	char line[200];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	assert_int_equal(n, 2);
	clean_dir();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_finished_run_publishes_all),
	    cmocka_unit_test(test_stopped_run_publishes_nothing),
	    cmocka_unit_test(test_write_error_stops),
	    cmocka_unit_test(test_late_failure_unpublishes),
	    cmocka_unit_test(test_inputs_refused_once),
	    cmocka_unit_test(test_one_bad_line_is_a_reject),
	};
	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
