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
#include "infty/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define MIN_SHARD_BUF (16u << 10)

struct split {
	const struct infty_shard_opts *o;
	char tmpdir[4096];
	size_t dirlen;         /* strlen(tmpdir) */
	struct infty_buf *buf; /* owned: one per shard */
	size_t flush_at;       /* a shard's buffer becomes a frame at this size */
	ZSTD_CCtx *cctx;       /* owned */
	void *zout;            /* owned: compressed frame */
	size_t zcap;
	struct infty_shard_totals *t;
	char *detail;
	size_t dlen;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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
static int flush_shard(struct split *S, uint32_t k)
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
		snprintf(S->detail, S->dlen, "zstd: %s", ZSTD_getErrorName(zn));
		return INFTY_EIO;
	}
	char path[4200];
	shard_path(S->tmpdir, k, path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, S->zout, zn) != 0) {
		snprintf(S->detail, S->dlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return INFTY_EIO;
	}
	if (close(fd) != 0) {
		snprintf(S->detail, S->dlen, "%s: %s", path, strerror(errno));
		return INFTY_EIO;
	}
	S->t->frames++;
	b->len = 0;
	return 0;
}

/* Remove the temporary directory and whatever is in it. */
static void remove_tmpdir(struct split *S)
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

/* Sync every shard file and its directory, then rename them into place. */
static int publish(struct split *S)
{
	const struct infty_shard_opts *o = S->o;
	char from[4200], to[4200];
	for (uint32_t k = 0; k < o->shards; k++) {
		shard_path(S->tmpdir, k, from, sizeof from);
		int fd = open(from, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			snprintf(S->detail, S->dlen, "%s: %s", from, strerror(errno));
			if (fd >= 0)
				close(fd);
			return INFTY_EIO;
		}
		close(fd);
	}
	for (uint32_t k = 0; k < o->shards; k++) {
		shard_path(S->tmpdir, k, from, sizeof from);
		shard_path(o->dir, k, to, sizeof to);
		if (rename(from, to) != 0) {
			snprintf(S->detail, S->dlen, "%s: %s", to, strerror(errno));
			return INFTY_EIO;
		}
	}
	int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int split_lines(struct split *S, struct infty_reader *r)
{
	const struct infty_shard_opts *o = S->o;
	struct infty_progress *p = infty_progress_new(
	    stderr, "shard", "rows", 0,
	    (uint64_t)infty_reader_size(r) > 0 ? (uint64_t)infty_reader_size(r) : 0, o->quiet);
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
			snprintf(S->detail, S->dlen, "%s: %s", infty_reader_path(r),
			         *why ? why : infty_strerror(got));
			rc = got;
			break;
		}
		if (o->cancel && *o->cancel) {
			snprintf(S->detail, S->dlen, "stopped by a signal");
			rc = INFTY_ECANCELED;
			break;
		}
		S->t->lines++;
		if (infty_line_is_blank(line, len))
			S->t->blank++;
		else
			S->t->rows++;
		struct infty_buf *b = &S->buf[k];
		if (infty_buf_append(b, line, len) || infty_buf_append(b, "\n", 1)) {
			rc = INFTY_ENOMEM;
			break;
		}
		if (b->len >= S->flush_at && (rc = flush_shard(S, k)))
			break;
		if (++k == o->shards)
			k = 0;
		if ((S->t->lines & 1023) == 0)
			infty_progress_update(p, S->t->rows, infty_reader_bytes_in(r), NULL);
	}
	/* The last frame of every shard; an empty shard gets an empty frame, so
	 * every file is a valid (possibly empty) stream. */
	for (uint32_t j = 0; !rc && j < o->shards; j++) {
		char path[4200];
		shard_path(S->tmpdir, j, path, sizeof path);
		if (S->buf[j].len || access(path, F_OK) != 0)
			rc = flush_shard(S, j);
	}
	S->t->bytes_in = infty_reader_bytes_in(r);
	if (rc)
		infty_progress_abandon(p);
	else
		infty_progress_finish(p, S->t->rows, NULL);
	return rc;
}

int infty_shard_run(const struct infty_shard_opts *o, struct infty_shard_totals *t, char *detail,
                    size_t dlen)
{
	memset(t, 0, sizeof *t);
	*detail = 0;
	double t0 = now();
	struct split S = {.o = o, .t = t, .detail = detail, .dlen = dlen};
	struct infty_reader *r = NULL;

	if (strcmp(o->input, "-") != 0) {
		struct stat st;
		if (stat(o->input, &st) != 0) {
			snprintf(detail, dlen, "%s: %s", o->input, strerror(errno));
			return INFTY_EINVAL;
		}
		if (S_ISDIR(st.st_mode)) {
			snprintf(detail, dlen, "%s: is a directory, not a JSONL file", o->input);
			return INFTY_EINVAL;
		}
	}
	int rc = infty_reader_open(&r, o->input, 0);
	if (rc) {
		snprintf(detail, dlen, "%s: %s", o->input, strerror(errno));
		return INFTY_EINVAL;
	}
	if (mkdir(o->dir, 0777) != 0 && errno != EEXIST) {
		snprintf(detail, dlen, "%s: cannot create: %s", o->dir, strerror(errno));
		infty_reader_free(r);
		return INFTY_EIO;
	}
	snprintf(S.tmpdir, sizeof S.tmpdir, "%s/.shard.XXXXXX", o->dir);
	if (!mkdtemp(S.tmpdir)) {
		snprintf(detail, dlen, "%s: cannot create a temporary directory: %s", o->dir,
		         strerror(errno));
		S.tmpdir[0] = 0;
		infty_reader_free(r);
		return INFTY_EIO;
	}
	uint64_t per = o->mem_budget / o->shards;
	S.flush_at = per < MIN_SHARD_BUF ? MIN_SHARD_BUF : (size_t)per;
	S.buf = infty_calloc(o->shards, sizeof *S.buf);
	S.cctx = ZSTD_createCCtx();
	if (!S.buf || !S.cctx)
		rc = INFTY_ENOMEM;
	if (!rc)
		rc = split_lines(&S, r);
	if (!rc)
		rc = publish(&S);
	if (rc == INFTY_ENOMEM && !*detail)
		snprintf(detail, dlen, "out of memory");
	remove_tmpdir(&S);
	for (uint32_t k = 0; S.buf && k < o->shards; k++)
		infty_buf_release(&S.buf[k]);
	infty_free(S.buf);
	infty_free(S.zout);
	ZSTD_freeCCtx(S.cctx);
	infty_reader_free(r);
	t->seconds = now() - t0;
	return rc;
}
