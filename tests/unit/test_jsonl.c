/*
 * test_jsonl.c - the record I/O layer: round trips, damaged streams, bad
 * records in the middle of good ones, odd line endings, huge lines, write
 * errors and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scratch.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"

#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

/* Compress data as one zstd frame into path (appending when append). */
static void write_zst(const char *path, const char *data, size_t n, int append)
{
	size_t cap = ZSTD_compressBound(n);
	void *c = malloc(cap);
	size_t k = ZSTD_compress(c, cap, data, n, 3);
	assert_false(ZSTD_isError(k));
	FILE *f = fopen(path, append ? "ab" : "wb");
	assert_int_equal(fwrite(c, 1, k, f), k);
	fclose(f);
	free(c);
}

/* Read all records; returns count of good ones, stores errors' lines. */
struct seen {
	int good, bad_json, bad_utf8, stream_err;
	uint64_t bad_lines[8];
	int nbad;
	char last_value[64];
};

static struct seen read_all(const char *path, unsigned flags)
{
	struct seen s = {0};
	struct infty_reader *r;
	assert_int_equal(infty_reader_open(&r, path, flags, NULL, 0), 0);
	for (;;) {
		struct json_object *o;
		uint64_t ln;
		int rc = infty_reader_next(r, &o, &ln);
		if (rc == 0)
			break;
		if (rc == 1) {
			s.good++;
			struct json_object *v;
			if (json_object_object_get_ex(o, "v", &v))
				snprintf(s.last_value, sizeof s.last_value, "%s",
				         json_object_get_string(v));
			json_object_put(o);
		} else if (rc == INFTY_EJSON || rc == INFTY_EUTF8) {
			if (rc == INFTY_EJSON)
				s.bad_json++;
			else
				s.bad_utf8++;
			if (s.nbad < 8)
				s.bad_lines[s.nbad++] = ln;
		} else {
			s.stream_err = rc;
			break;
		}
	}
	infty_reader_free(r);
	return s;
}

static void write_records(const char *path, int n, const struct infty_writer_opts *o)
{
	struct infty_writer *w;
	assert_int_equal(infty_writer_open(&w, path, o, NULL, 0), 0);
	for (int i = 0; i < n; i++) {
		char line[64];
		int k = snprintf(line, sizeof line, "{\"v\":\"r%d\"}", i);
		assert_int_equal(infty_writer_put(w, line, (size_t)k), 0);
	}
	char detail[128];
	assert_int_equal(infty_writer_close(w, detail, sizeof detail), 0);
}

static void test_round_trip_plain_and_zst(void **state)
{
	const char *names[] = {"a.jsonl", "a.jsonl.zst"};
	for (int i = 0; i < 2; i++) {
		write_records(scratch_path(names[i]), 1000, NULL);
		struct seen s = read_all(scratch_path(names[i]), 0);
		assert_int_equal(s.good, 1000);
		assert_string_equal(s.last_value, "r999");
		assert_int_equal(s.stream_err, 0);
	}
	/* The .zst one really is zstd, and detection ignores the name. */
	size_t n;
	char *b = scratch_read(scratch_path("a.jsonl.zst"), &n);
	assert_true(n >= 4 && (unsigned char)b[0] == 0x28 && (unsigned char)b[1] == 0xB5);
	free(b);
	assert_int_equal(rename(scratch_path("a.jsonl.zst"), scratch_path("renamed.jsonl")), 0);
	assert_int_equal(read_all(scratch_path("renamed.jsonl"), 0).good, 1000);
}

static void test_frames_every_n_records(void **state)
{
	struct infty_writer_opts o;
	infty_writer_opts_init(&o);
	o.frame_records = 10;
	write_records(scratch_path("f.jsonl.zst"), 95, &o);
	size_t n;
	char *b = scratch_read(scratch_path("f.jsonl.zst"), &n);
	int frames = 0;
	for (size_t off = 0; off < n; frames++) {
		size_t k = ZSTD_findFrameCompressedSize(b + off, n - off);
		assert_false(ZSTD_isError(k));
		off += k;
	}
	free(b);
	assert_int_equal(frames, 10); /* 9 full frames and the last 5 */
	assert_int_equal(read_all(scratch_path("f.jsonl.zst"), 0).good, 95);
}

static void test_concatenated_frames(void **state)
{
	const char *a = "{\"v\":\"1\"}\n{\"v\":\"2\"}\n", *b = "{\"v\":\"3\"}\n";
	write_zst(scratch_path("cat.zst"), a, strlen(a), 0);
	write_zst(scratch_path("cat.zst"), b, strlen(b), 1);
	struct seen s = read_all(scratch_path("cat.zst"), 0);
	assert_int_equal(s.good, 3);
	assert_string_equal(s.last_value, "3");
}

static void test_truncated_and_corrupt_zst(void **state)
{
	write_records(scratch_path("t.jsonl.zst"), 5000, NULL);
	size_t n;
	char *b = scratch_read(scratch_path("t.jsonl.zst"), &n);
	scratch_write(scratch_path("cut.zst"), b, n - 7);
	struct seen s = read_all(scratch_path("cut.zst"), 0);
	assert_int_equal(s.stream_err, INFTY_ETRUNCATED);

	/* Flip bytes in the middle: the checksum or the decoder must object. */
	for (size_t i = n / 2; i < n / 2 + 16; i++)
		b[i] ^= 0x5A;
	scratch_write(scratch_path("bad.zst"), b, n);
	s = read_all(scratch_path("bad.zst"), 0);
	assert_int_equal(s.stream_err, INFTY_ECORRUPT);
	free(b);

	struct infty_reader *r;
	assert_int_equal(infty_reader_open(&r, scratch_path("cut.zst"), 0, NULL, 0), 0);
	const char *line;
	size_t len;
	uint64_t ln;
	int rc;
	while ((rc = infty_reader_next_line(r, &line, &len, &ln)) == 1)
		;
	assert_int_equal(rc, INFTY_ETRUNCATED);
	assert_non_null(strstr(infty_reader_detail(r), "truncated"));
	infty_reader_free(r);
}

static void test_malformed_line_in_the_middle(void **state)
{
	const char *text = "{\"v\":\"1\"}\n"
	                   "{\"v\": oops}\n"
	                   "\n"
	                   "{\"v\":\"3\"}\n"
	                   "{\"v\":\"4\"} trailing\n"
	                   "[1,2]\n"
	                   "{\"v\":\"6\"\n"
	                   "{\"v\":\"7\"}\n";
	scratch_write(scratch_path("m.jsonl"), text, strlen(text));
	write_zst(scratch_path("m.jsonl.zst"), text, strlen(text), 0);
	for (int z = 0; z < 2; z++) {
		struct seen s = read_all(scratch_path(z ? "m.jsonl.zst" : "m.jsonl"), 0);
		assert_int_equal(s.good, 3);
		assert_int_equal(s.bad_json, 4);
		assert_int_equal(s.bad_lines[0], 2);
		assert_int_equal(s.bad_lines[1], 5);
		assert_int_equal(s.bad_lines[2], 6);
		assert_int_equal(s.bad_lines[3], 7);
		assert_string_equal(s.last_value, "7");
	}
}

static void test_crlf_empty_and_no_final_newline(void **state)
{
	const char *text = "{\"v\":\"a\"}\r\n{\"v\":\"b\\r\"}\r\n{\"v\":\"c\"}";
	scratch_write(scratch_path("crlf.jsonl"), text, strlen(text));
	struct infty_reader *r;
	assert_int_equal(infty_reader_open(&r, scratch_path("crlf.jsonl"), 0, NULL, 0), 0);
	const char *line;
	size_t len;
	uint64_t ln;
	assert_int_equal(infty_reader_next_line(r, &line, &len, &ln), 1);
	assert_string_equal(line, "{\"v\":\"a\"}");
	assert_int_equal(len, 9);
	assert_int_equal(infty_reader_next_line(r, &line, &len, &ln), 1);
	assert_int_equal(infty_reader_next_line(r, &line, &len, &ln), 1);
	assert_string_equal(line, "{\"v\":\"c\"}");
	assert_int_equal(ln, 3);
	assert_int_equal(infty_reader_next_line(r, &line, &len, &ln), 0);
	infty_reader_free(r);

	scratch_write(scratch_path("empty.jsonl"), "", 0);
	struct seen s = read_all(scratch_path("empty.jsonl"), 0);
	assert_int_equal(s.good + s.bad_json + s.stream_err, 0);
	write_zst(scratch_path("empty.zst"), "", 0, 0);
	s = read_all(scratch_path("empty.zst"), 0);
	assert_int_equal(s.good + s.bad_json + s.stream_err, 0);
}

static void test_ten_megabyte_line(void **state)
{
	size_t big = 10u << 20;
	char *text = malloc(big + 64);
	size_t k = (size_t)snprintf(text, 64, "{\"v\":\"");
	memset(text + k, 'x', big);
	k += big;
	k += (size_t)snprintf(text + k, 64, "\"}\n{\"v\":\"after\"}\n");
	write_zst(scratch_path("big.zst"), text, k, 0);
	free(text);
	struct infty_reader *r;
	assert_int_equal(infty_reader_open(&r, scratch_path("big.zst"), 0, NULL, 0), 0);
	struct json_object *o;
	uint64_t ln;
	assert_int_equal(infty_reader_next(r, &o, &ln), 1);
	struct json_object *v;
	assert_true(json_object_object_get_ex(o, "v", &v));
	assert_int_equal(json_object_get_string_len(v), big);
	json_object_put(o);
	assert_int_equal(infty_reader_next(r, &o, &ln), 1);
	assert_int_equal(ln, 2);
	json_object_put(o);
	infty_reader_free(r);
}

static void test_invalid_utf8_policy(void **state)
{
	struct {
		const char *text;
		int want;
	} cases[] = {
	    {"{\"v\":\"caf\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80\"}", 0},
	    {"{\"v\":\"\\ud83d\\ude00 pair\"}", 0},
	    {"{\"v\":\"\\\\u0000 is text\"}", 0},
	    {"{\"v\":\"a\xff\"}", INFTY_EUTF8},
	    {"{\"v\":\"\xc0\xaf overlong\"}", INFTY_EUTF8},
	    {"{\"v\":\"\xed\xa0\x80 surrogate bytes\"}", INFTY_EUTF8},
	    {"{\"v\":\"\xf4\x90\x80\x80 beyond U+10FFFF\"}", INFTY_EUTF8},
	    {"{\"v\":\"cut \xe2\x88\"}", INFTY_EUTF8},
	    {"{\"v\":\"\\ud800 lone\"}", INFTY_EUTF8},
	    {"{\"v\":\"\\udc00 lone low\"}", INFTY_EUTF8},
	    {"{\"v\":\"nul \\u0000 inside\"}", INFTY_EUTF8},
	    {"{\"v\":NaN}", INFTY_EJSON},
	    {"{\"v\":[1,-Infinity]}", INFTY_EJSON},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct json_object *o;
		char detail[128];
		int rc = infty_json_parse(cases[i].text, strlen(cases[i].text), &o, detail,
		                          sizeof detail);
		if (rc != cases[i].want)
			fail_msg("case %zu: got %d want %d (%s)", i, rc, cases[i].want, detail);
		if (rc == 0)
			json_object_put(o);
		else
			assert_null(o);
	}
}

static void test_write_to_dev_full(void **state)
{
	struct infty_writer *w;
	assert_int_equal(infty_writer_open(&w, "/dev/full", NULL, NULL, 0), 0);
	char line[1024];
	memset(line, 'a', sizeof line);
	int rc = 0;
	/* Enough to overflow the staging buffer and force a write. */
	for (int i = 0; i < 1000 && rc == 0; i++)
		rc = infty_writer_put(w, line, sizeof line);
	char detail[128] = "";
	if (rc == 0)
		rc = infty_writer_close(w, detail, sizeof detail);
	else {
		assert_non_null(strstr(infty_writer_detail(w), "No space"));
		infty_writer_free(w);
	}
	assert_int_equal(rc, INFTY_EIO);
}

static void test_no_final_file_without_close(void **state)
{
	struct infty_writer *w;
	assert_int_equal(infty_writer_open(&w, scratch_path("never.jsonl.zst"), NULL, NULL, 0), 0);
	assert_int_equal(infty_writer_put(w, "{}", 2), 0);
	infty_writer_free(w); /* abandoned: no file under the final name, no temp left */
	struct stat st;
	assert_int_not_equal(stat(scratch_path("never.jsonl.zst"), &st), 0);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", scratch_dir());
	assert_int_not_equal(system(cmd), 0);
}

static void test_append_after_torn_tail(void **state)
{
	struct infty_writer_opts o;
	infty_writer_opts_init(&o);
	o.append = 1;
	for (int z = 0; z < 2; z++) {
		const char *path = scratch_path(z ? "cache.jsonl.zst" : "cache.jsonl");
		struct infty_writer *w;
		assert_int_equal(infty_writer_open(&w, path, &o, NULL, 0), 0);
		assert_int_equal(infty_writer_put(w, "{\"v\":\"1\"}", 9), 0);
		assert_int_equal(infty_writer_flush(w), 0);
		assert_int_equal(infty_writer_put(w, "{\"v\":\"2\"}", 9), 0);
		assert_int_equal(infty_writer_close(w, NULL, 0), 0);
		/* Simulate a kill -9 in the middle of writing a third record. */
		size_t n;
		char *b = scratch_read(path, &n);
		FILE *f = fopen(path, "ab");
		if (z) {
			write_zst(scratch_path("frag.zst"), "{\"v\":\"3\"}\n", 10, 0);
			size_t fn;
			char *frag = scratch_read(scratch_path("frag.zst"), &fn);
			fwrite(frag, 1, fn - 5, f);
			free(frag);
		} else {
			fputs("{\"v\":", f);
		}
		fclose(f);
		free(b);
		/* Strict reading refuses the torn file; tolerant reading keeps 2. */
		if (z)
			assert_int_equal(read_all(path, 0).stream_err, INFTY_ETRUNCATED);
		struct seen s = read_all(path, INFTY_READER_TOLERATE_TAIL);
		assert_int_equal(s.good, 2);
		assert_int_equal(s.stream_err, 0);
		/* Appending cuts the torn tail, and the result is clean. */
		assert_int_equal(infty_writer_open(&w, path, &o, NULL, 0), 0);
		assert_int_equal(infty_writer_put(w, "{\"v\":\"4\"}", 9), 0);
		assert_int_equal(infty_writer_close(w, NULL, 0), 0);
		s = read_all(path, 0);
		assert_int_equal(s.good, 3);
		assert_int_equal(s.stream_err, 0);
		assert_string_equal(s.last_value, "4");
	}
}

static void test_stdin_and_stdout(void **state)
{
	/* Child: write through "-" to a pipe; parent reads "-" from it. */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		struct infty_writer_opts o;
		infty_writer_opts_init(&o);
		o.compress = 1;
		struct infty_writer *w;
		if (infty_writer_open(&w, "-", &o, NULL, 0))
			_exit(3);
		for (int i = 0; i < 100; i++)
			if (infty_writer_put(w, "{\"v\":\"s\"}", 9))
				_exit(4);
		_exit(infty_writer_close(w, NULL, 0) ? 5 : 0);
	}
	close(p[1]);
	int saved = dup(STDIN_FILENO);
	dup2(p[0], STDIN_FILENO);
	close(p[0]);
	struct seen s = read_all("-", 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(s.good, 100);
}

static void test_allocation_failure(void **state)
{
	write_records(scratch_path("alloc.jsonl"), 3, NULL);
	/* Fail each allocation in turn: open either fails cleanly or reads all. */
	for (long k = 0; k < 6; k++) {
		struct infty_reader *r = NULL;
		infty_alloc_fail_after(k);
		int rc = infty_reader_open(&r, scratch_path("alloc.jsonl"), 0, NULL, 0);
		const char *line;
		size_t len;
		uint64_t ln;
		int lines = 0;
		if (rc == 0) {
			while ((rc = infty_reader_next_line(r, &line, &len, &ln)) == 1)
				lines++;
		}
		infty_alloc_fail_after(-1);
		assert_true(rc == 0 || rc == INFTY_ENOMEM);
		if (rc == 0)
			assert_int_equal(lines, 3);
		infty_reader_free(r);
	}
}

static void test_missing_file(void **state)
{
	struct infty_reader *r;
	char d[128];
	assert_int_equal(infty_reader_open(&r, scratch_path("nope.jsonl"), 0, NULL, 0), INFTY_EIO);
	assert_null(r);
	/* The reason comes with the failure, without the path. */
	assert_int_equal(infty_reader_open(&r, scratch_path("nope.jsonl"), 0, d, sizeof d),
	                 INFTY_EIO);
	assert_string_equal(d, "No such file or directory");
	assert_int_equal(infty_reader_open(&r, scratch_dir(), 0, d, sizeof d), INFTY_EIO);
	assert_string_equal(d, "is a directory");
	struct infty_writer *w;
	assert_int_equal(
	    infty_writer_open(&w, scratch_path("no/such/dir.jsonl"), NULL, d, sizeof d), INFTY_EIO);
	assert_null(w);
	assert_string_equal(d, "No such file or directory");
}

/* peek shows what comes without consuming it, from plain and zstd input. */
static void test_peek(void **state)
{
	const char text[] = "{\"a\":1}\n{\"b\":2}\n";
	for (int z = 0; z < 2; z++) {
		const char *path = scratch_path(z ? "peek.jsonl.zst" : "peek.jsonl");
		struct infty_writer *w;
		assert_int_equal(infty_writer_open(&w, path, NULL, NULL, 0), 0);
		assert_int_equal(infty_writer_put(w, "{\"a\":1}", 7), 0);
		assert_int_equal(infty_writer_put(w, "{\"b\":2}", 7), 0);
		assert_int_equal(infty_writer_close(w, NULL, 0), 0);
		struct infty_reader *r;
		assert_int_equal(infty_reader_open(&r, path, 0, NULL, 0), 0);
		const char *d, *line;
		size_t n, len;
		uint64_t no;
		assert_int_equal(infty_reader_peek(r, 4, &d, &n), 0);
		assert_int_equal(n, 4);
		assert_memory_equal(d, "{\"a\"", 4);
		assert_int_equal(infty_reader_peek(r, 1000, &d, &n), 0);
		assert_int_equal(n, sizeof text - 1); /* the end of the stream */
		assert_memory_equal(d, text, n);
		assert_int_equal(infty_reader_next_line(r, &line, &len, &no), 1);
		assert_string_equal(line, "{\"a\":1}");
		assert_int_equal(no, 1);
		infty_reader_free(r);
	}
}

/* finish, publish, unpublish: the steps the stage frame takes. */
static void test_publish_steps(void **state)
{
	const char *path = scratch_path("pub.jsonl");
	struct infty_writer *w;
	assert_int_equal(infty_writer_open(&w, path, NULL, NULL, 0), 0);
	assert_int_equal(infty_writer_put(w, "{}", 2), 0);
	assert_int_equal(infty_writer_finish(w), 0);
	assert_int_equal(access(path, F_OK), -1); /* still under its temporary name */
	assert_int_equal(infty_writer_publish(w), 0);
	assert_int_equal(access(path, F_OK), 0);
	infty_writer_unpublish(w); /* a later output failed */
	assert_int_equal(access(path, F_OK), -1);
	infty_writer_free(w);
	/* Freed unpublished: the temporary is gone, nothing under the name. */
	assert_int_equal(infty_writer_open(&w, path, NULL, NULL, 0), 0);
	assert_int_equal(infty_writer_finish(w), 0);
	infty_writer_free(w);
	assert_int_equal(access(path, F_OK), -1);
	/* Published and freed: the file stays. */
	assert_int_equal(infty_writer_open(&w, path, NULL, NULL, 0), 0);
	assert_int_equal(infty_writer_publish(w), 0);
	infty_writer_free(w);
	assert_int_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_plain_and_zst),
	    cmocka_unit_test(test_frames_every_n_records),
	    cmocka_unit_test(test_concatenated_frames),
	    cmocka_unit_test(test_truncated_and_corrupt_zst),
	    cmocka_unit_test(test_malformed_line_in_the_middle),
	    cmocka_unit_test(test_crlf_empty_and_no_final_newline),
	    cmocka_unit_test(test_ten_megabyte_line),
	    cmocka_unit_test(test_invalid_utf8_policy),
	    cmocka_unit_test(test_write_to_dev_full),
	    cmocka_unit_test(test_no_final_file_without_close),
	    cmocka_unit_test(test_append_after_torn_tail),
	    cmocka_unit_test(test_stdin_and_stdout),
	    cmocka_unit_test(test_allocation_failure),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_peek),
	    cmocka_unit_test(test_publish_steps),
	};
	return cmocka_run_group_tests_name("jsonl", tests, scratch_setup, scratch_teardown);
}
