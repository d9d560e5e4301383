/*
 * shard.c - split one JSONL(.zst) input into N zstd shards, round robin by
 * line number, in one streaming pass with bounded memory.
 *
 * Each shard has a buffer of whole lines; when the buffers together hold
 * the memory budget, each full one becomes one zstd frame appended to its
 * file (frames concatenate into one valid stream).  Round robin makes the
 * buffers grow in step, so the budget is split evenly: budget / N bytes a
 * shard (at least 16 KiB, so frames still compress), and one compression
 * context serves every shard.  A read error of any kind (truncated or
 * corrupt zstd, an I/O error) fails the split: a shard set missing rows must
 * never look complete.
 */
#include "shard.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"
#include "infty/stage.h"

#include <json.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define MIN_SHARD_BUF (16u << 10)

struct infty_shard {
	const struct infty_shard_opts *o; /* borrowed */
	char tmpdir[4096];                /* "" when there is none */
	struct infty_buf *buf;            /* owned: one per shard */
	size_t flush_at;                  /* a shard's buffer becomes a frame at this size */
	ZSTD_CCtx *cctx;                  /* owned */
	void *zout;                       /* owned: compressed frame */
	size_t zcap;
	uint32_t renamed; /* shards published so far (abandon removes them) */
	struct infty_shard_totals t;
	char detail[4608]; /* why the last step failed */
};

static void shard_path(const char *dir, uint32_t k, char *out, size_t n)
{
	snprintf(out, n, "%s/%05u.jsonl.zst", dir, k);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Compress shard k's buffer (possibly empty) into one frame at the end of
 * its file, creating the file the first time. */
static int flush_shard(struct infty_shard *S, uint32_t k)
{
	struct infty_buf *b = &S->buf[k];
	size_t need = ZSTD_compressBound(b->len);
	if (need > S->zcap) {
		void *z = infty_realloc(S->zout, need);
		if (!z)
			return INFTY_ENOMEM;
		S->zout = z;
		S->zcap = need;
	}
	size_t zn = ZSTD_compressCCtx(S->cctx, S->zout, S->zcap, b->data ? b->data : "", b->len,
	                              S->o->level);
	if (ZSTD_isError(zn)) {
		snprintf(S->detail, sizeof S->detail, "zstd: %s", ZSTD_getErrorName(zn));
		return INFTY_EIO;
	}
	char path[4200];
	shard_path(S->tmpdir, k, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, S->zout, zn) != 0) {
		snprintf(S->detail, sizeof S->detail, "%s: write error: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return INFTY_EIO;
	}
	if (close(fd) != 0) {
		snprintf(S->detail, sizeof S->detail, "%s: write error: %s", path, strerror(errno));
		return INFTY_EIO;
	}
	S->t.frames++;
	b->len = 0;
	return 0;
}

/* Remove the temporary directory and whatever is in it. */
static void remove_tmpdir(struct infty_shard *S)
{
	if (!S->tmpdir[0])
		return;
	DIR *d = opendir(S->tmpdir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char p[4400];
			snprintf(p, sizeof p, "%s/%s", S->tmpdir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(S->tmpdir);
	S->tmpdir[0] = 0;
}

/* The stage frame's side (infty_stage_add_output): sync every shard file. */
static int files_finish(void *ctx, char *detail, size_t dlen)
{
	struct infty_shard *S = ctx;
	char from[4200];
	for (uint32_t k = 0; k < S->o->shards; k++) {
		shard_path(S->tmpdir, k, from, sizeof from);
		int fd = open(from, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			snprintf(detail, dlen, "%s: %s", from, strerror(errno));
			if (fd >= 0)
				close(fd);
			return INFTY_EIO;
		}
		close(fd);
	}
	return 0;
}

/* Rename every shard into place, then sync the directory. */
static int files_publish(void *ctx, char *detail, size_t dlen)
{
	struct infty_shard *S = ctx;
	char from[4200], to[4200];
	for (uint32_t k = 0; k < S->o->shards; k++) {
		shard_path(S->tmpdir, k, from, sizeof from);
		shard_path(S->o->dir, k, to, sizeof to);
		if (rename(from, to) != 0) {
			snprintf(detail, dlen, "%s: cannot rename into place: %s", to,
			         strerror(errno));
			return INFTY_EIO;
		}
		S->renamed = k + 1;
	}
	int dfd = open(S->o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	remove_tmpdir(S);
	return 0;
}

/* A run that did not finish leaves none of its shards. */
static void files_abandon(void *ctx)
{
	struct infty_shard *S = ctx;
	char to[4200];
	for (uint32_t k = 0; k < S->renamed; k++) {
		shard_path(S->o->dir, k, to, sizeof to);
		unlink(to);
	}
	S->renamed = 0;
	remove_tmpdir(S);
}

static const struct infty_stage_files shard_files = {files_finish, files_publish, files_abandon};

static int split_lines(struct infty_shard *S, struct infty_stage *st, struct infty_reader *r)
{
	const struct infty_shard_opts *o = S->o;
	uint32_t k = 0;
	int rc = 0;
	for (;;) {
		const char *line;
		size_t len;
		uint64_t lineno;
		int got = infty_reader_next_line(r, &line, &len, &lineno);
		if (got == 0)
			break;
		if (got < 0) {
			const char *why = infty_reader_detail(r);
			return infty_stage_fail(st, got, "%s: %s", infty_reader_path(r),
			                        *why ? why : infty_strerror(got));
		}
		if (infty_stage_cancelled())
			return INFTY_ECANCELED;
		S->t.lines++;
		if (infty_line_is_blank(line, len))
			S->t.blank++;
		else
			S->t.rows++;
		struct infty_buf *b = &S->buf[k];
		if (infty_buf_append(b, line, len) || infty_buf_append(b, "\n", 1))
			return INFTY_ENOMEM;
		if (b->len >= S->flush_at && (rc = flush_shard(S, k)))
			return infty_stage_fail(st, rc, "%s", S->detail);
		if (++k == o->shards)
			k = 0;
		if ((S->t.lines & 1023) == 0)
			infty_stage_progress(st, S->t.rows, NULL);
	}
	/* The last frame of every shard; an empty shard gets an empty frame, so
	 * every file is a valid (possibly empty) stream. */
	for (uint32_t j = 0; j < o->shards; j++) {
		char path[4200];
		shard_path(S->tmpdir, j, path, sizeof path);
		if ((S->buf[j].len || access(path, F_OK) != 0) && (rc = flush_shard(S, j)))
			return infty_stage_fail(st, rc, "%s", S->detail);
	}
	infty_stage_progress(st, S->t.rows, NULL);
	return 0;
}

int infty_shard_new(struct infty_shard **out, const struct infty_shard_opts *o)
{
	struct infty_shard *S = infty_calloc(1, sizeof *S);
	*out = S;
	if (!S)
		return INFTY_ENOMEM;
	S->o = o;
	uint64_t per = o->mem_budget / o->shards;
	S->flush_at = per < MIN_SHARD_BUF ? MIN_SHARD_BUF : (size_t)per;
	S->buf = infty_calloc(o->shards, sizeof *S->buf);
	S->cctx = ZSTD_createCCtx();
	return S->buf && S->cctx ? 0 : INFTY_ENOMEM;
}

int infty_shard_run(struct infty_shard *S, struct infty_stage *st)
{
	const struct infty_shard_opts *o = S->o;
	struct infty_reader *r;
	int rc = infty_stage_next_input(st, &r);
	if (rc < 0)
		return rc;
	if (mkdir(o->dir, 0777) != 0 && errno != EEXIST)
		return infty_stage_fail(st, INFTY_EINVAL, "%s: cannot create: %s", o->dir,
		                        strerror(errno));
	snprintf(S->tmpdir, sizeof S->tmpdir, "%s/.shard.XXXXXX", o->dir);
	if (!mkdtemp(S->tmpdir)) {
		S->tmpdir[0] = 0;
		return infty_stage_fail(st, INFTY_EINVAL,
		                        "%s: cannot create a temporary directory: %s", o->dir,
		                        strerror(errno));
	}
	/* From here on the frame removes the directory if the run stops. */
	if ((rc = infty_stage_add_output(st, &shard_files, S)))
		return rc;
	return split_lines(S, st, r);
}

int infty_shard_stats(void *ctx, struct json_object *o)
{
	const struct infty_shard *S = ctx;
	return infty_json_add(o, "shards", json_object_new_int64(S->o->shards)) ||
	               infty_json_add(o, "lines", json_object_new_int64((int64_t)S->t.lines)) ||
	               infty_json_add(o, "rows", json_object_new_int64((int64_t)S->t.rows)) ||
	               infty_json_add(o, "blank_lines",
	                              json_object_new_int64((int64_t)S->t.blank)) ||
	               infty_json_add(o, "frames", json_object_new_int64((int64_t)S->t.frames))
	           ? INFTY_ENOMEM
	           : 0;
}

const struct infty_shard_totals *infty_shard_totals(const struct infty_shard *S)
{
	return &S->t;
}

void infty_shard_free(struct infty_shard *S)
{
	if (!S)
		return;
	remove_tmpdir(S);
	for (uint32_t k = 0; S->buf && k < S->o->shards; k++)
		infty_buf_release(&S->buf[k]);
	infty_free(S->buf);
	infty_free(S->zout);
	ZSTD_freeCCtx(S->cctx);
	infty_free(S);
}
