/*
 * tok_run.c - infty-tok's engine: tokenize texts or one field of JSONL
 * records and print counts or ids.  Records are done in batches, the batch
 * spread over OpenMP threads (one tokenizer context each), and printed in
 * input order, so the output does not depend on the thread count.  Every
 * text or record prints one line, a record that could not be tokenized the
 * line SKIP_LINE, so line N of the output is always record N.
 */
#include "tok_run.h"
#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/stage.h"
#include "infty/tokenizer.h"

#include <json-c/json.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The line of a text or record that could not be tokenized (not UTF-8, bad
 * JSON, no such string field): not a count, not ids. */
#define SKIP_LINE "-\n"

/* Encode into a growing buffer; returns the count or a negative error. */
static int64_t encode_all(struct infty_tok_ctx *ctx, const char *text, size_t len, uint32_t **ids,
                          size_t **offs, size_t *cap, int want_offs)
{
	for (;;) {
		int64_t n = infty_tok_encode(ctx, text, len, *ids, *cap, want_offs ? *offs : NULL);
		if (n < 0 || (size_t)n <= *cap)
			return n;
		size_t c = (size_t)n + 16;
		uint32_t *ni = infty_realloc(*ids, c * sizeof *ni);
		if (!ni)
			return INFTY_ENOMEM;
		*ids = ni;
		if (want_offs) {
			size_t *no = infty_realloc(*offs, 2 * c * sizeof *no);
			if (!no)
				return INFTY_ENOMEM;
			*offs = no;
		}
		*cap = c;
	}
}

static void print_ids(FILE *out, const uint32_t *ids, const size_t *offs, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		if (offs)
			fprintf(out, "%s%u:%zu-%zu", i ? " " : "", ids[i], offs[2 * i],
			        offs[2 * i + 1]);
		else
			fprintf(out, "%s%u", i ? " " : "", ids[i]);
	}
	fputc('\n', out);
}

int infty_tokrun_text(const struct infty_tokenizer *tok, const struct infty_tokrun_opts *o,
                      const char *text, size_t len, FILE *out, uint64_t *tokens)
{
	struct infty_tok_ctx *ctx = infty_tok_ctx_new(tok);
	if (!ctx)
		return INFTY_ENOMEM;
	int64_t n;
	if (o->mode == INFTY_TOKRUN_COUNT) {
		n = infty_tok_count(ctx, text, len);
		if (n >= 0 && !o->total)
			fprintf(out, "%lld\n", (long long)n);
	} else {
		uint32_t *ids = NULL;
		size_t *offs = NULL, cap = 0;
		n = encode_all(ctx, text, len, &ids, &offs, &cap, o->offsets);
		if (n >= 0)
			print_ids(out, ids, o->offsets ? offs : NULL, n);
		infty_free(ids);
		infty_free(offs);
	}
	infty_tok_ctx_free(ctx);
	if (n < 0) {
		if (!o->total)
			fputs(SKIP_LINE, out);
		return (int)n;
	}
	*tokens += (uint64_t)n;
	return 0;
}

/* One record of a batch. */
struct item {
	char *text; /* owned; NULL: rejected while reading (reported then) */
	size_t len;
	uint64_t line;
	int64_t n;     /* count, or a negative error */
	uint32_t *ids; /* owned (ids mode) */
	size_t *offs;  /* owned (ids mode with offsets) */
};

#define BATCH_RECORDS 256
#define BATCH_BYTES   (8u << 20)

static int flush_batch(struct infty_tok_ctx **ctxs, int nthreads, const struct infty_tokrun_opts *o,
                       struct item *it, size_t n, const char *path, FILE *out, uint64_t *tokens)
{
	int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
	for (size_t i = 0; i < n; i++) {
		struct infty_tok_ctx *ctx = ctxs[omp_get_thread_num()];
		if (!it[i].text)
			continue;
		if (o->mode == INFTY_TOKRUN_COUNT) {
			it[i].n = infty_tok_count(ctx, it[i].text, it[i].len);
		} else {
			size_t cap = 0;
			it[i].n = encode_all(ctx, it[i].text, it[i].len, &it[i].ids, &it[i].offs,
			                     &cap, o->offsets);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (it[i].text && it[i].n < 0) {
			infty_warn("%s:%llu: cannot tokenize field '%s': %s", path,
			           (unsigned long long)it[i].line, o->field,
			           infty_strerror((int)it[i].n));
			bad = 1;
		}
		if (!it[i].text || it[i].n < 0) {
			if (!o->total)
				fputs(SKIP_LINE, out);
		} else {
			*tokens += (uint64_t)it[i].n;
			if (o->mode == INFTY_TOKRUN_COUNT) {
				if (!o->total)
					fprintf(out, "%lld\n", (long long)it[i].n);
			} else
				print_ids(out, it[i].ids, o->offsets ? it[i].offs : NULL, it[i].n);
		}
		infty_free(it[i].text);
		infty_free(it[i].ids);
		infty_free(it[i].offs);
		memset(&it[i], 0, sizeof it[i]);
	}
	return bad;
}

int infty_tokrun_jsonl(const struct infty_tokenizer *tok, const struct infty_tokrun_opts *o,
                       const char *path, FILE *out, uint64_t *tokens, uint64_t *bytes)
{
	int nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
	struct infty_reader *r = NULL;
	char msg[4608];
	/* A file that is not JSON Lines is said once, not line by line. */
	int rc = infty_stage_open_input(&r, path, INFTY_KIND_UNKNOWN, msg, sizeof msg);
	if (rc) {
		infty_warn("%s", msg);
		return rc;
	}
	struct infty_tok_ctx **ctxs = infty_calloc((size_t)nthreads, sizeof *ctxs);
	struct item *it = infty_calloc(BATCH_RECORDS, sizeof *it);
	int bad = 0;
	if (!ctxs || !it) {
		rc = INFTY_ENOMEM;
		goto out;
	}
	for (int i = 0; i < nthreads; i++)
		if (!(ctxs[i] = infty_tok_ctx_new(tok))) {
			rc = INFTY_ENOMEM;
			goto out;
		}
	size_t n = 0, batch_bytes = 0;
	for (;;) {
		struct json_object *obj = NULL;
		uint64_t line = 0;
		int got = infty_reader_next(r, &obj, &line);
		if (got < 0 && (got == INFTY_EJSON || got == INFTY_EUTF8)) {
			infty_warn("%s:%llu: %s", infty_reader_path(r), (unsigned long long)line,
			           infty_reader_detail(r));
			bad = 1;
			it[n++].line = line; /* its line in the output: SKIP_LINE */
		} else if (got < 0) {
			infty_warn("%s: %s", infty_reader_path(r),
			           infty_reader_detail(r)[0] ? infty_reader_detail(r)
			                                     : infty_strerror(got));
			rc = got;
			break;
		} else if (got > 0) {
			struct json_object *f;
			if (!json_object_object_get_ex(obj, o->field, &f) ||
			    !json_object_is_type(f, json_type_string)) {
				infty_warn("%s:%llu: missing string field '%s'",
				           infty_reader_path(r), (unsigned long long)line,
				           o->field);
				bad = 1;
				it[n++].line = line;
			} else {
				size_t len = (size_t)json_object_get_string_len(f);
				it[n].text = infty_strndup(json_object_get_string(f), len);
				if (!it[n].text) {
					json_object_put(obj);
					rc = INFTY_ENOMEM;
					break;
				}
				it[n].len = len;
				it[n].line = line;
				*bytes += len;
				batch_bytes += len;
				n++;
			}
			json_object_put(obj);
		}
		if (n && (got == 0 || n == BATCH_RECORDS || batch_bytes >= BATCH_BYTES)) {
			bad |= flush_batch(ctxs, nthreads, o, it, n, infty_reader_path(r), out,
			                   tokens);
			n = 0;
			batch_bytes = 0;
		}
		if (got == 0)
			break;
	}
	if (rc && n)
		flush_batch(ctxs, nthreads, o, it, n, infty_reader_path(r), out, tokens);
out:
	if (rc == INFTY_ENOMEM)
		infty_warn("%s: out of memory", path);
	if (ctxs)
		for (int i = 0; i < nthreads; i++)
			infty_tok_ctx_free(ctxs[i]);
	infty_free(ctxs);
	infty_free(it);
	infty_reader_free(r);
	return rc ? rc : bad;
}
