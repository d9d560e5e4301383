/*
 * test_tokenizer.c - the tokenizer against Hugging Face tokenizers: the
 * committed vectors (tests/vectors/qwen3.jsonl, made by HF through its Node
 * binding) give exact ids; decoding gives back the NFC text; counts equal
 * encodings; offsets cover the input; threads agree; and the loader refuses
 * what it does not implement, fails cleanly without memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/tokenizer.h"

#include <json.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/tok_nfc.h"

static struct infty_tokenizer *qwen;
static const char *qwen_path;

struct vec {
	char *text;
	size_t len;
	uint32_t *ids;
	size_t n;
};
static struct vec *vecs;
static size_t nvecs;

static void load_vectors(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	size_t vcap = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		struct json_object *o = json_tokener_parse(line);
		assert_non_null(o);
		struct json_object *t, *ids;
		assert_true(json_object_object_get_ex(o, "text", &t));
		assert_true(json_object_object_get_ex(o, "ids", &ids));
		if (nvecs == vcap) {
			vcap = vcap ? 2 * vcap : 1024;
			vecs = realloc(vecs, vcap * sizeof *vecs);
			assert_non_null(vecs);
		}
		struct vec *v = &vecs[nvecs++];
		v->len = (size_t)json_object_get_string_len(t);
		v->text = malloc(v->len + 1);
		memcpy(v->text, json_object_get_string(t), v->len + 1);
		v->n = json_object_array_length(ids);
		v->ids = malloc((v->n + 1) * sizeof *v->ids);
		for (size_t i = 0; i < v->n; i++)
			v->ids[i] =
			    (uint32_t)json_object_get_int64(json_object_array_get_idx(ids, i));
		json_object_put(o);
	}
	free(line);
	fclose(f);
}

static int setup_dir(void **state);

static int setup(void **state)
{
	if (setup_dir(state))
		return -1;
	qwen_path = getenv("INFTY_TOKENIZER_DEFAULT");
	if (!qwen_path || access(qwen_path, R_OK) != 0)
		qwen_path = infty_tokenizer_default_path();
	if (access(qwen_path, R_OK) != 0)
		return 0; /* tests that need it skip */
	char detail[256];
	if (infty_tokenizer_load(&qwen, qwen_path, detail, sizeof detail) != 0) {
		fprintf(stderr, "# cannot load %s: %s\n", qwen_path, detail);
		return -1;
	}
	load_vectors("tests/vectors/qwen3.jsonl");
	return 0;
}

static int teardown_dir(void **state);

static int teardown(void **state)
{
	teardown_dir(state);
	infty_tokenizer_free(qwen);
	for (size_t i = 0; i < nvecs; i++) {
		free(vecs[i].text);
		free(vecs[i].ids);
	}
	free(vecs);
	return 0;
}

#define NEED_QWEN()                                                                                \
	do {                                                                                       \
		if (!qwen) {                                                                       \
			fprintf(stdout, "# no default tokenizer: not checked (make tokenizer)\n"); \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void test_vectors_exact(void **state)
{
	NEED_QWEN();
	assert_true(nvecs >= 2000);
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	assert_non_null(c);
	uint32_t *ids = malloc(65536 * sizeof *ids);
	size_t bad = 0;
	/* Twice: the second pass runs from the piece cache. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nvecs; i++) {
			struct vec *v = &vecs[i];
			int64_t n = infty_tok_encode(c, v->text, v->len, ids, 65536, NULL);
			if (n != (int64_t)v->n || memcmp(ids, v->ids, v->n * sizeof *ids) != 0) {
				if (bad++ < 10)
					fprintf(stderr, "# vector %zu: got %lld ids, want %zu\n", i,
					        (long long)n, v->n);
				continue;
			}
			int64_t cnt = infty_tok_count(c, v->text, v->len);
			if (cnt != n && bad++ < 10)
				fprintf(stderr, "# vector %zu: count %lld != %lld\n", i,
				        (long long)cnt, (long long)n);
		}
	free(ids);
	infty_tok_ctx_free(c);
	assert_int_equal(bad, 0);
}

/* decode(encode(x)) is NFC(x), byte for byte. */
static void test_round_trip(void **state)
{
	NEED_QWEN();
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	uint32_t *ids = malloc(65536 * sizeof *ids);
	char *buf = malloc(1 << 20);
	struct tok_nfc_work work = {NULL, 0};
	size_t bad = 0;
	for (size_t i = 0; i < nvecs; i++) {
		struct vec *v = &vecs[i];
		int64_t n = infty_tok_encode(c, v->text, v->len, ids, 65536, NULL);
		assert_true(n >= 0);
		int64_t m = infty_tok_decode(qwen, ids, (size_t)n, buf, 1 << 20);
		assert_true(m >= 0);
		/* NFC of the whole text, as HF's (the encoder rewrites only the
		 * spans that can change; this checks those spans too). */
		char *nfc = NULL;
		size_t nl = 0, ncap = 0;
		assert_int_equal(
		    infty_tok_nfc_append((const uint8_t *)v->text, v->len, &work, &nfc, &nl, &ncap),
		    0);
		/* Added tokens are kept out of NFC; the vectors' texts around
		 * them are already NFC except <think> + U+0338 cases. */
		if ((m != (int64_t)nl || (nl && memcmp(buf, nfc, nl) != 0)) &&
		    (m != (int64_t)v->len || memcmp(buf, v->text, v->len) != 0))
			if (bad++ < 5)
				fprintf(stderr, "# round trip of vector %zu differs\n", i);
		infty_free(nfc);
	}
	infty_free(work.cp);
	free(buf);
	free(ids);
	infty_tok_ctx_free(c);
	assert_int_equal(bad, 0);
}

static void test_known_ids(void **state)
{
	NEED_QWEN();
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	uint32_t ids[64];
	/* The reference's own example: X.<|im_end|> is 3 tokens, not 7. */
	assert_int_equal(infty_tok_encode(c, "X.<|im_end|>", 12, ids, 64, NULL), 3);
	assert_int_equal(ids[2], infty_tok_token_id(qwen, "<|im_end|>", 10));
	/* Decomposed e + acute is one token, the composed one's. */
	int64_t a = infty_tok_encode(c, "e\xcc\x81", 3, ids, 64, NULL);
	uint32_t composed[4];
	int64_t b = infty_tok_encode(c, "\xc3\xa9", 2, composed, 4, NULL);
	assert_int_equal(a, b);
	assert_memory_equal(ids, composed, (size_t)a * sizeof *ids);
	/* Ids past the table are refused by decode. */
	uint32_t huge = 1u << 30;
	char buf[8];
	assert_int_equal(infty_tok_decode(qwen, &huge, 1, buf, sizeof buf), INFTY_EINVAL);
	/* Invalid UTF-8 is an error, not a guess. */
	assert_int_equal(infty_tok_count(c,
	                                 "a\xff"
	                                 "b",
	                                 3),
	                 INFTY_EUTF8);
	assert_int_equal(infty_tok_count(c, "\xed\xa0\x80", 3), INFTY_EUTF8);
	assert_int_equal(infty_tok_count(c, "", 0), 0);
	/* Too small a buffer: the needed size comes back, nothing overruns. */
	uint32_t two[2] = {7, 7};
	assert_int_equal(infty_tok_encode(c, "one two three four", 18, two, 1, NULL), 4);
	assert_int_equal(two[1], 7);
	assert_string_equal(infty_tokenizer_hash(qwen) + 0, infty_tokenizer_hash(qwen));
	assert_memory_equal(infty_tokenizer_hash(qwen), "sha256:", 7);
	infty_tok_ctx_free(c);
}

/* Offsets tile the original text, including across NFC-changed spans. */
static void test_offsets(void **state)
{
	NEED_QWEN();
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	uint32_t *ids = malloc(65536 * sizeof *ids);
	size_t *off = malloc(2 * 65536 * sizeof *off);
	for (size_t i = 0; i < nvecs; i++) {
		struct vec *v = &vecs[i];
		int64_t n = infty_tok_encode(c, v->text, v->len, ids, 65536, off);
		assert_true(n >= 0);
		size_t at = 0, prev = 0;
		for (int64_t k = 0; k < n; k++) {
			assert_true(off[2 * k] <= off[2 * k + 1]);
			assert_true(off[2 * k + 1] <= v->len);
			assert_true(off[2 * k] >= prev); /* starts never go back */
			prev = off[2 * k];
			if (off[2 * k + 1] > at)
				at = off[2 * k + 1];
		}
		if (n)
			assert_int_equal(at, v->len);
	}
	/* A plain ASCII text: offsets are the exact token bytes. */
	const char *t = "Hello world, it's 42.";
	int64_t n = infty_tok_encode(c, t, strlen(t), ids, 64, off);
	size_t at = 0;
	for (int64_t k = 0; k < n; k++) {
		char buf[64];
		int64_t m = infty_tok_decode(qwen, &ids[k], 1, buf, sizeof buf);
		assert_int_equal(off[2 * k], at);
		assert_int_equal(off[2 * k + 1] - off[2 * k], (size_t)m);
		assert_memory_equal(t + at, buf, (size_t)m);
		at += (size_t)m;
	}
	assert_int_equal(at, strlen(t));
	free(ids);
	free(off);
	infty_tok_ctx_free(c);
}

/* One shared tokenizer, a context per thread: the same ids as one thread. */
static void test_threads(void **state)
{
	NEED_QWEN();
	int64_t *want = calloc(nvecs, sizeof *want), *got = calloc(nvecs, sizeof *got);
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	for (size_t i = 0; i < nvecs; i++)
		want[i] = infty_tok_count(c, vecs[i].text, vecs[i].len);
	infty_tok_ctx_free(c);
	int fails = 0;
#pragma omp parallel num_threads(4) reduction(+ : fails)
	{
		struct infty_tok_ctx *tc = infty_tok_ctx_new(qwen);
		uint32_t *ids = malloc(65536 * sizeof *ids);
		for (int rep = 0; rep < 3; rep++) {
#pragma omp for schedule(dynamic, 7)
			for (size_t i = 0; i < nvecs; i++) {
				int64_t n = infty_tok_encode(tc, vecs[i].text, vecs[i].len, ids,
				                             65536, NULL);
				got[i] = n;
				if (n != (int64_t)vecs[i].n ||
				    memcmp(ids, vecs[i].ids, vecs[i].n * sizeof *ids) != 0)
					fails++;
			}
		}
		free(ids);
		infty_tok_ctx_free(tc);
	}
	assert_int_equal(fails, 0);
	assert_memory_equal(want, got, nvecs * sizeof *want);
	free(want);
	free(got);
}

/* Long single pieces go through the heap BPE: same ids as HF's vectors
 * prove for shorter ones, and the split there must not matter. */
static void test_long_pieces(void **state)
{
	NEED_QWEN();
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	size_t n = 100000;
	char *s = malloc(n);
	memset(s, '=', n);
	uint32_t *ids = malloc(n * sizeof *ids);
	int64_t k = infty_tok_encode(c, s, n, ids, n, NULL);
	assert_true(k > 0 && k < (int64_t)n / 8);
	char *back = malloc(n);
	assert_int_equal(infty_tok_decode(qwen, ids, (size_t)k, back, n), (int64_t)n);
	assert_memory_equal(back, s, n);
	free(back);
	free(ids);
	free(s);
	infty_tok_ctx_free(c);
}

/* ---- small hand-made tokenizers for the loader's error paths ------------- */

static char dir[256];

/* A tokenizer.json with the 256 byte tokens, merges "a b" -> "ab", and the
 * given pre_tokenizer / model extras. */
static const char *write_tiny(const char *name, const char *pre, const char *model_extra,
                              const char *merges)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":%s,"
	        "\"added_tokens\":[{\"id\":258,\"content\":\"<x>\",\"special\":true,"
	        "\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false}],"
	        "\"model\":{\"type\":\"BPE\"%s,\"vocab\":{",
	        pre, model_extra);
	int extra = 0;
	for (int b = 0; b < 256; b++) {
		int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		int cp = printable ? b : 256 + extra++;
		fprintf(f, "\"\\u%04x\":%d,", cp, b);
	}
	fprintf(f, "\"ab\":256,\"abab\":257},\"merges\":%s}}", merges);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *QWEN_PRE =
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| "
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
    "false,\"use_regex\":false}]}";

static int setup_dir(void **state)
{
	snprintf(dir, sizeof dir, "%s/infty-tok.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_tiny_ok(void **state)
{
	const char *p = write_tiny("ok.json", QWEN_PRE, "", "[[\"a\",\"b\"],[\"ab\",\"ab\"]]");
	struct infty_tokenizer *t;
	char d[256];
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), 0);
	struct infty_tok_ctx *c = infty_tok_ctx_new(t);
	uint32_t ids[16];
	assert_int_equal(infty_tok_encode(c, "ababa<x>", 8, ids, 16, NULL), 3);
	assert_int_equal(ids[0], 257);
	assert_int_equal(ids[1], 'a');
	assert_int_equal(ids[2], 258);
	/* Legacy "a b" merges load to the same result. */
	infty_tok_ctx_free(c);
	infty_tokenizer_free(t);
	p = write_tiny("legacy.json", QWEN_PRE, "", "[\"a b\",\"ab ab\"]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), 0);
	c = infty_tok_ctx_new(t);
	assert_int_equal(infty_tok_encode(c, "ababa", 5, ids, 16, NULL), 2);
	assert_int_equal(ids[0], 257);
	infty_tok_ctx_free(c);
	infty_tokenizer_free(t);
}

static void test_tiny_refused(void **state)
{
	struct infty_tokenizer *t = (void *)1;
	char d[256];
	const char *p =
	    write_tiny("pat.json",
	               "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":"
	               "\"Isolated\",\"invert\":false}",
	               "", "[]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), INFTY_EUNSUPPORTED);
	assert_null(t);
	assert_non_null(strstr(d, "pre_tokenizer"));
	p = write_tiny("seq.json",
	               "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
	               "{\"Regex\":\"\\\\p{N}{1,5}\"},\"behavior\":\"Isolated\",\"invert\":false},"
	               "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}",
	               "", "[]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), INFTY_EUNSUPPORTED);
	assert_non_null(strstr(d, "pattern"));
	p = write_tiny("bf.json", QWEN_PRE, ",\"byte_fallback\":true", "[]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), INFTY_EUNSUPPORTED);
	assert_non_null(strstr(d, "byte_fallback"));
	p = write_tiny("badmerge.json", QWEN_PRE, "", "[\"a c\"]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), INFTY_ESCHEMA);
	p = write_tiny("prefix.json",
	               "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}", "",
	               "[]");
	assert_int_equal(infty_tokenizer_load(&t, p, d, sizeof d), INFTY_EUNSUPPORTED);
	assert_int_equal(infty_tokenizer_load(&t, "/nonexistent/tokenizer.json", d, sizeof d),
	                 INFTY_EIO);
	/* The reason, without the path: the caller names the file (infty(7)). */
	assert_string_equal(d, "cannot open: No such file or directory");
	char bad[512];
	snprintf(bad, sizeof bad, "%s/trunc.json", dir);
	FILE *f = fopen(bad, "w");
	fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {", f);
	fclose(f);
	assert_int_equal(infty_tokenizer_load(&t, bad, d, sizeof d), INFTY_EJSON);
}

/* The tiny vocabulary as JSON text (every key \u-escaped). */
static void tiny_vocab(char *out, size_t n)
{
	size_t k = 0;
	int extra = 0;
	k += (size_t)snprintf(out + k, n - k, "{");
	for (int b = 0; b < 256; b++) {
		int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		int cp = printable ? b : 256 + extra++;
		k += (size_t)snprintf(out + k, n - k, "\"\\u%04x\" : %d ,\n", cp, b);
	}
	snprintf(out + k, n - k, "\"ab\":256,\"abab\":257}");
}

/* A whole tokenizer.json from a template with @V for the vocabulary and
 * @P for the pre-tokenizer, loaded; returns the load's result. */
static int load_doc(const char *tmpl, char *d, size_t dn)
{
	static char vocab[16384];
	char path[512];
	tiny_vocab(vocab, sizeof vocab);
	snprintf(path, sizeof path, "%s/doc.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (const char *p = tmpl; *p; p++)
		if (p[0] == '@' && (p[1] == 'V' || p[1] == 'P'))
			fputs(*++p == 'V' ? vocab : QWEN_PRE, f);
		else
			fputc(*p, f);
	assert_int_equal(fclose(f), 0);
	struct infty_tokenizer *t = NULL;
	int rc = infty_tokenizer_load(&t, path, d, dn);
	if (rc == 0) {
		struct infty_tok_ctx *c = infty_tok_ctx_new(t);
		uint32_t ids[16];
		assert_int_equal(infty_tok_encode(c, "ababa", 5, ids, 16, NULL), 2);
		assert_int_equal(ids[0], 257);
		infty_tok_ctx_free(c);
		infty_tokenizer_free(t);
	} else {
		assert_null(t);
	}
	return rc;
}

/* tokenizer.json is read with a cursor over model.vocab and model.merges
 * (tokenizer_json.c): any member order and spacing, and a defined error for
 * each way those two can be wrong. */
static void test_tiny_json_shapes(void **state)
{
	char d[256];
	/* Merges before vocab, spacing everywhere, null and extra members. */
	assert_int_equal(
	    load_doc("\n{ \"version\" : \"1.0\" , \"model\" : {\n \"merges\" : [ [ \"a\" ,"
	             " \"b\" ] , [\"ab\",\"ab\"] ] ,\n \"vocab\" : @V , \"type\" : "
	             "\"BPE\", \"dropout\": null } , \"pre_tokenizer\" : @P ,"
	             " \"normalizer\" : null , \"added_tokens\" : [ ] }\n",
	             d, sizeof d),
	    0);
	static const struct {
		const char *doc;
		int rc;
		const char *detail;
	} bad[] = {
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[]},\"pre_tokenizer\":@P} x",
	     INFTY_EJSON, "after the top-level"},
	    {"{\"model\":3,\"v\":@V,\"pre_tokenizer\":@P}", INFTY_ESCHEMA, "no 'model'"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":[@V],\"merges\":[]},\"pre_tokenizer\":@P}",
	     INFTY_ESCHEMA, "lacks 'vocab'"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V},\"pre_tokenizer\":@P}", INFTY_ESCHEMA,
	     "lacks 'vocab'"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[[\"a\",\"b\"] "
	     "[\"ab\",\"ab\"]]},"
	     "\"pre_tokenizer\":@P}",
	     INFTY_EJSON, "model.merges"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[[\"a\",\"b\",\"c\"]]},"
	     "\"pre_tokenizer\":@P}",
	     INFTY_ESCHEMA, "neither"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[[\"a\",1]]},\"pre_tokenizer\":@"
	     "P}",
	     INFTY_ESCHEMA, "neither"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[\"ab\"]},\"pre_tokenizer\":@P}",
	     INFTY_ESCHEMA, "is not 'a b'"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[\"a b "
	     "c\"]},\"pre_tokenizer\":@P}",
	     INFTY_ESCHEMA, "is not 'a b'"},
	    {"{\"model\":{\"type\":\"BPE\",\"vocab\":@V,\"merges\":[[\"a\",\"b\"]}},"
	     "\"pre_tokenizer\":@P}",
	     INFTY_EJSON, NULL},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":@V",
	     INFTY_EJSON, "ends inside"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\":-1}}}",
	     INFTY_ESCHEMA, "bad vocab id for 'a'"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\":1.5}}}",
	     INFTY_ESCHEMA, "bad vocab id"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\":99999999999999999999}}}",
	     INFTY_ESCHEMA, "bad vocab id"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\":1e}}}",
	     INFTY_EJSON, "model.vocab"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"\\q\":1}}}",
	     INFTY_EJSON, "escape"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\tb\":1}}}",
	     INFTY_EJSON, "control character"},
	    {"{\"pre_tokenizer\":@P,\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":"
	     "{\"a\" 1}}}",
	     INFTY_EJSON, "expected ':'"},
	    {"{\"pre_tokenizer\":{\"type\":,\"x\":@V},\"model\":{\"type\":\"BPE\"}}", INFTY_EJSON,
	     NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		d[0] = '\0';
		int rc = load_doc(bad[i].doc, d, sizeof d);
		if (rc != bad[i].rc || (bad[i].detail && !strstr(d, bad[i].detail)))
			fail_msg("case %zu: rc %d (want %d), detail '%s' (want '%s')", i, rc,
			         bad[i].rc, d, bad[i].detail ? bad[i].detail : "");
	}
}

/* The loader's edges against Hugging Face (tests/vectors/loader.jsonl, made
 * by gen-loader.mjs with the pinned HF tokenizers): where HF refuses a file,
 * we refuse it; where HF loads it, we load it and give HF's ids, unless the
 * case names what we refuse and our message says it.  Some refusals must
 * also say what is wrong, not something beside it. */
static void test_loader_vs_hf(void **state)
{
	static const struct {
		const char *name, *says;
	} says[] = {
	    {"empty object", "no 'model'"},
	    {"added_tokens an object", "added_tokens is not an array"},
	    {"added token not an object", "added_tokens[0] is not an object"},
	    {"added token without special", "added_tokens[0] lacks 'special'"},
	    {"special \"yes\"", "added_tokens[0].special is not true or false"},
	    {"id a string", "added_tokens[0].id is not an integer"},
	    {"content a number", "added_tokens[0].content is not a string"},
	    {"byte_fallback \"no\"", "model.byte_fallback is not true or false"},
	    {"Split invert \"no\"", "invert is not true or false"},
	    {"version 2.0", "version '2.0'"},
	};
	FILE *f = fopen("tests/vectors/loader.jsonl", "r");
	assert_non_null(f);
	char *line = NULL, path[512], d[256];
	size_t cap = 0, n = 0, hf_refused = 0, bad = 0;
	snprintf(path, sizeof path, "%s/loader.json", dir);
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *v, *texts = NULL, *ids = NULL;
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "name", &v));
		const char *name = json_object_get_string(v);
		assert_true(json_object_object_get_ex(o, "doc", &v));
		FILE *w = fopen(path, "w");
		assert_non_null(w);
		fwrite(json_object_get_string(v), 1, (size_t)json_object_get_string_len(v), w);
		assert_int_equal(fclose(w), 0);
		const char *hf_error = NULL, *refuse = NULL;
		if (json_object_object_get_ex(o, "hf_error", &v) && v)
			hf_error = json_object_get_string(v);
		if (json_object_object_get_ex(o, "refuse", &v))
			refuse = json_object_get_string(v);
		json_object_object_get_ex(o, "texts", &texts);
		json_object_object_get_ex(o, "ids", &ids);
		struct infty_tokenizer *t = NULL;
		d[0] = '\0';
		int rc = infty_tokenizer_load(&t, path, d, sizeof d);
		const char *want = refuse;
		for (size_t i = 0; i < sizeof says / sizeof *says; i++)
			if (!strcmp(says[i].name, name))
				want = says[i].says;
		n++;
		hf_refused += hf_error != NULL;
		if (hf_error || refuse) {
			if (rc == 0 || !d[0] || (want && !strstr(d, want))) {
				fprintf(stderr, "# %s: rc %d, '%s' (HF: %s; want '%s')\n", name, rc,
				        d, hf_error ? hf_error : "loads",
				        want ? want : "a refusal");
				bad++;
			}
		} else if (rc != 0) {
			fprintf(stderr, "# %s: HF loads it, we refuse: %s\n", name, d);
			bad++;
		} else {
			struct infty_tok_ctx *c = infty_tok_ctx_new(t);
			for (size_t i = 0; i < json_object_array_length(texts); i++) {
				struct json_object *tx = json_object_array_get_idx(texts, i);
				struct json_object *want_ids = json_object_array_get_idx(ids, i);
				uint32_t got[64];
				int64_t k = infty_tok_encode(c, json_object_get_string(tx),
				                             (size_t)json_object_get_string_len(tx),
				                             got, 64, NULL);
				int same = k == (int64_t)json_object_array_length(want_ids);
				for (int64_t j = 0; same && j < k; j++)
					same = got[j] ==
					       (uint32_t)json_object_get_int64(
					           json_object_array_get_idx(want_ids, (size_t)j));
				if (!same) {
					fprintf(stderr, "# %s: ids of '%s' differ from HF's\n",
					        name, json_object_get_string(tx));
					bad++;
				}
			}
			infty_tok_ctx_free(c);
		}
		infty_tokenizer_free(t);
		json_object_put(o);
	}
	free(line);
	fclose(f);
	print_message("# loader: %zu cases, %zu refused by HF\n", n, hf_refused);
	assert_true(n >= 40);
	assert_int_equal(bad, 0);
}

/* Every allocation failure is reported as ENOMEM, nothing leaks (ASan). */
static void test_alloc_failure(void **state)
{
	const char *p = write_tiny("oom.json", QWEN_PRE, "", "[[\"a\",\"b\"],[\"ab\",\"ab\"]]");
	int ok = 0;
	for (long n = 0; n < 400 && !ok; n++) {
		struct infty_tokenizer *t = NULL;
		char d[256];
		infty_alloc_fail_after(n);
		int rc = infty_tokenizer_load(&t, p, d, sizeof d);
		struct infty_tok_ctx *c = rc == 0 ? infty_tok_ctx_new(t) : NULL;
		int64_t k = c ? infty_tok_count(c, "ab ab\xcc\x81 abab", 12) : -1;
		infty_alloc_fail_after(-1);
		if (rc == 0 && c && k >= 0)
			ok = 1;
		else if (rc)
			assert_true(rc == INFTY_ENOMEM || rc == INFTY_EJSON);
		infty_tok_ctx_free(c);
		infty_tokenizer_free(t);
	}
	assert_true(ok);
}

/* ---- piece maps: substring counts equal standalone counts ----------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Check map counts of s[a..b) against infty_tok_count for `pairs` random
 * (a, b) character-boundary pairs, or every pair when pairs is 0.  Returns
 * the number of mismatches (printing the first few). */
static size_t check_map(struct infty_tok_ctx *c, struct infty_tok_map *m, const char *s, size_t n,
                        size_t pairs, size_t *checked)
{
	assert_true(infty_tok_map_build(c, m, s, n) == infty_tok_count(c, s, n));
	size_t *cb = malloc((n + 1) * sizeof *cb), nb = 0, bad = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || ((unsigned char)s[i] & 0xC0) != 0x80)
			cb[nb++] = i;
	size_t total = pairs ? pairs : nb * nb;
	for (size_t k = 0; k < total; k++) {
		size_t a = pairs ? cb[rnd() % nb] : cb[k / nb];
		size_t b = pairs ? cb[rnd() % nb] : cb[k % nb];
		if (a > b)
			continue;
		int64_t got = infty_tok_map_count(c, m, a, b);
		int64_t want = infty_tok_count(c, s + a, b - a);
		(*checked)++;
		if (got != want && bad++ < 5)
			fprintf(stderr, "# map count [%zu,%zu) of %zu bytes: %lld, alone %lld\n", a,
			        b, n, (long long)got, (long long)want);
	}
	free(cb);
	return bad;
}

/* Every committed vector: all substrings of the short ones, samples of the rest. */
static void test_map_vectors(void **state)
{
	(void)state;
	NEED_QWEN();
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	struct infty_tok_map m = {0};
	size_t bad = 0, checked = 0;
	for (size_t i = 0; i < nvecs; i++)
		bad += check_map(c, &m, vecs[i].text, vecs[i].len, vecs[i].len <= 48 ? 0 : 400,
		                 &checked);
	print_message("# map vs standalone: %zu substrings of %zu vectors\n", checked, nvecs);
	infty_tok_map_release(&m);
	infty_tok_ctx_free(c);
	assert_int_equal(bad, 0);
}

/* Random texts made of the fragments where context matters: whitespace runs
 * of every kind, contractions, digits, punctuation runs, CRLF, letters with
 * prefixes, NFC-unstable marks, added tokens, non-ASCII spaces. */
static void test_map_fragments(void **state)
{
	(void)state;
	NEED_QWEN();
	static const char *frag[] = {
	    " ",
	    "  ",
	    "   ",
	    "\n",
	    "\n\n",
	    "\r\n",
	    "\t",
	    " \n",
	    "\n ",
	    "'s",
	    "'LL",
	    "'re",
	    "'",
	    "\xe2\x80\x99",
	    "a",
	    "word",
	    " word",
	    "Word",
	    "123",
	    "4567",
	    " 8",
	    ".",
	    "...",
	    ",",
	    ".\n\n",
	    "!?",
	    "$x$",
	    "\\(",
	    "(a)",
	    "e.g.",
	    "\xc3\xa9",
	    "e\xcc\x81",
	    "\xe4\xb8\xad\xe6\x96\x87",
	    "\xf0\x9f\x98\x80",
	    "\xc2\xa0",
	    "\xe3\x80\x80",
	    "<think>",
	    "<|im_end|>",
	    "x^2",
	    "-",
	    "_",
	    "\\frac{1}{2}",
	    "\xe2\x80\x83",
	    "\xd9\xa3",
	};
	const size_t nf = sizeof frag / sizeof *frag;
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	struct infty_tok_map m = {0};
	char buf[512];
	size_t bad = 0, checked = 0;
	for (int t = 0; t < 600; t++) {
		size_t n = 0, want = 8 + rnd() % 120;
		while (n < want) {
			const char *f = frag[rnd() % nf];
			size_t l = strlen(f);
			if (n + l >= sizeof buf)
				break;
			memcpy(buf + n, f, l);
			n += l;
		}
		bad += check_map(c, &m, buf, n, n <= 64 ? 0 : 600, &checked);
	}
	print_message("# map vs standalone: %zu substrings of 600 random texts\n", checked);
	infty_tok_map_release(&m);
	infty_tok_ctx_free(c);
	assert_int_equal(bad, 0);
}

/* A real trace: every pair of its whitespace-run edges (where a segmenter
 * cuts), plus random pairs. */
static void test_map_trace(void **state)
{
	(void)state;
	NEED_QWEN();
	FILE *f = fopen("tests/fixtures/sample.jsonl", "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, bad = 0, checked = 0, traces = 0;
	struct infty_tok_ctx *c = infty_tok_ctx_new(qwen);
	struct infty_tok_map m = {0};
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *msgs, *turn, *content;
		if (!o || !json_object_object_get_ex(o, "messages", &msgs) ||
		    json_object_array_length(msgs) < 2) {
			json_object_put(o);
			continue;
		}
		turn = json_object_array_get_idx(msgs, 1);
		if (!json_object_object_get_ex(turn, "content", &content)) {
			json_object_put(o);
			continue;
		}
		const char *s = json_object_get_string(content);
		size_t n = (size_t)json_object_get_string_len(content);
		assert_true(infty_tok_map_build(c, &m, s, n) >= 0);
		size_t *edge = malloc((n + 2) * sizeof *edge), ne = 0;
		for (size_t i = 1; i < n; i++) {
			int ws = s[i] == ' ' || s[i] == '\n',
			    pws = s[i - 1] == ' ' || s[i - 1] == '\n';
			if (ws != pws)
				edge[ne++] = i;
		}
		edge[ne++] = 0;
		edge[ne++] = n;
		for (size_t i = 0; i < ne; i++)
			for (size_t j = 0; j < ne; j++) {
				if (edge[i] > edge[j] || (rnd() % 8 && ne > 64))
					continue;
				int64_t got = infty_tok_map_count(c, &m, edge[i], edge[j]);
				int64_t want = infty_tok_count(c, s + edge[i], edge[j] - edge[i]);
				checked++;
				if (got != want && bad++ < 5)
					fprintf(stderr, "# trace %zu [%zu,%zu): %lld, alone %lld\n",
					        traces, edge[i], edge[j], (long long)got,
					        (long long)want);
			}
		free(edge);
		bad += check_map(c, &m, s, n, 2000, &checked);
		traces++;
		json_object_put(o);
	}
	free(line);
	fclose(f);
	print_message("# map vs standalone: %zu substrings of %zu sample traces\n", checked,
	              traces);
	infty_tok_map_release(&m);
	infty_tok_ctx_free(c);
	assert_true(traces >= 5);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_exact),    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_known_ids),        cmocka_unit_test(test_offsets),
	    cmocka_unit_test(test_threads),          cmocka_unit_test(test_long_pieces),
	    cmocka_unit_test(test_tiny_ok),          cmocka_unit_test(test_tiny_refused),
	    cmocka_unit_test(test_tiny_json_shapes), cmocka_unit_test(test_loader_vs_hf),
	    cmocka_unit_test(test_alloc_failure),    cmocka_unit_test(test_map_vectors),
	    cmocka_unit_test(test_map_fragments),    cmocka_unit_test(test_map_trace),
	};
	return cmocka_run_group_tests_name("tokenizer", tests, setup, teardown);
}
