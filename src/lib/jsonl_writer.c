/*
 * jsonl_writer.c - write JSON Lines, plain or zstd, safely.
 *
 * New files are written under a temporary name in the same directory and
 * renamed over the final name only by a successful close, so a crash never
 * leaves a half file under the final name.  Appending (for caches) instead
 * cuts the file back to its last complete zstd frame or line, then adds to
 * it; each flush ends a frame, so a kill -9 loses at most the records since
 * the last flush.  Every write and close is checked.
 */
#include "infty/jsonl.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/json_write.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define STAGE_SIZE (1u << 18) /* records are batched before compression */

struct infty_writer {
	int fd;
	int is_stdout;
	int direct; /* writing the final path itself (append, or a device) */
	char *path;
	char *tmp;
	struct infty_writer_opts o;
	ZSTD_CCtx *cctx;
	char *stage; /* uncompressed records not yet handed on */
	size_t stage_len;
	unsigned char *out; /* compressed bytes not yet written */
	size_t out_cap;
	uint64_t records, frame_records, frame_bytes;
	struct infty_buf json; /* reused for put_json */
	int failed;
	int finished;  /* infty_writer_finish ran: the fd is closed */
	int published; /* renamed into place by infty_writer_publish */
	char detail[256];
};

static int fail(struct infty_writer *w, int err, const char *what)
{
	if (!w->failed) {
		if (err == INFTY_EIO)
			snprintf(w->detail, sizeof w->detail, "%s: %s", what, strerror(errno));
		else
			snprintf(w->detail, sizeof w->detail, "%s", what);
		w->failed = err;
	}
	return w->failed;
}

void infty_writer_opts_init(struct infty_writer_opts *o)
{
	memset(o, 0, sizeof *o);
	o->compress = -1;
	o->level = 3;
	/* INFTY_ZSTD_LEVEL: one knob for every stage's .zst outputs (a pipeline
	 * trading disk for CPU sets it once).  Out of zstd's range: ignored. */
	const char *env = getenv("INFTY_ZSTD_LEVEL");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (!*end && v >= ZSTD_minCLevel() && v <= ZSTD_maxCLevel() && v != 0)
			o->level = (int)v;
	}
	/* One zstd worker overlaps compression with the caller's work; that
	 * is what keeps parse + serialize + compress near the zstd pipeline.
	 * Output is the same for any workers >= 1, so runs stay identical. */
	o->workers = 1;
	o->frame_records = 100000;
	o->frame_bytes = 64u << 20;
}

static int write_all(struct infty_writer *w, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return fail(w, INFTY_EIO, "write error");
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Compress (or copy) the staged bytes; end the frame when asked. */
static int drain(struct infty_writer *w, int end_frame)
{
	if (w->failed)
		return w->failed;
	if (!w->cctx) {
		int err = write_all(w, w->stage, w->stage_len);
		w->stage_len = 0;
		return err;
	}
	ZSTD_inBuffer in = {w->stage, w->stage_len, 0};
	ZSTD_EndDirective mode = end_frame ? ZSTD_e_end : ZSTD_e_continue;
	for (;;) {
		ZSTD_outBuffer out = {w->out, w->out_cap, 0};
		size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
		if (ZSTD_isError(left))
			return fail(w, INFTY_EIO, ZSTD_getErrorName(left));
		if (out.pos && write_all(w, w->out, out.pos))
			return w->failed;
		if (end_frame ? left == 0 : in.pos == in.size)
			break;
	}
	w->stage_len = 0;
	return 0;
}

/*
 * Append mode on an existing zstd file: find where its last complete frame
 * ends (decoding it all, which a cache loader does anyway) and cut there.
 */
static int repair_tail(struct infty_writer *w, int zstd)
{
	off_t size = lseek(w->fd, 0, SEEK_END);
	if (size <= 0)
		return size < 0 ? fail(w, INFTY_EIO, "seek error") : 0;
	off_t good = 0;
	unsigned char *in = infty_malloc(1 << 20);
	unsigned char *tmp = infty_malloc(ZSTD_DStreamOutSize());
	ZSTD_DCtx *d = zstd ? ZSTD_createDCtx() : NULL;
	if (!in || !tmp || (zstd && !d)) {
		infty_free(in);
		infty_free(tmp);
		ZSTD_freeDCtx(d);
		return fail(w, INFTY_ENOMEM, "out of memory");
	}
	if (d)
		ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 28);
	off_t pos = 0;
	int stop = 0;
	while (!stop && pos < size) {
		ssize_t got = pread(w->fd, in, 1 << 20, pos);
		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			break;
		}
		if (!zstd) {
			for (ssize_t i = got; i > 0; i--)
				if (in[i - 1] == '\n') {
					good = pos + i;
					break;
				}
			pos += got;
			continue;
		}
		ZSTD_inBuffer ib = {in, (size_t)got, 0};
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {tmp, ZSTD_DStreamOutSize(), 0};
			size_t ret = ZSTD_decompressStream(d, &ob, &ib);
			if (ZSTD_isError(ret)) {
				stop = 1;
				break;
			}
			if (ret == 0)
				good = pos + (off_t)ib.pos;
		}
		pos += got;
	}
	infty_free(in);
	infty_free(tmp);
	ZSTD_freeDCtx(d);
	if (good < size) {
		if (ftruncate(w->fd, good) != 0)
			return fail(w, INFTY_EIO, "cannot cut the torn tail");
		if (lseek(w->fd, 0, SEEK_END) < 0)
			return fail(w, INFTY_EIO, "seek error");
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int infty_writer_open(struct infty_writer **out, const char *path,
                      const struct infty_writer_opts *opts, char *detail, size_t detail_len)
{
	*out = NULL;
	if (detail && detail_len)
		*detail = 0;
	struct infty_writer *w = infty_calloc(1, sizeof *w);
	if (!w) {
		if (detail && detail_len)
			snprintf(detail, detail_len, "out of memory");
		return INFTY_ENOMEM;
	}
	w->fd = -1;
	if (opts)
		w->o = *opts;
	else
		infty_writer_opts_init(&w->o);
	if (!w->o.frame_records)
		w->o.frame_records = 100000;
	if (!w->o.frame_bytes)
		w->o.frame_bytes = 64u << 20;
	int zstd = w->o.compress < 0 ? ends_with(path, ".zst") : w->o.compress;
	w->path = infty_strdup(path);
	w->stage = infty_malloc(STAGE_SIZE);
	if (!w->path || !w->stage)
		goto nomem;
	if (zstd) {
		w->cctx = ZSTD_createCCtx();
		w->out_cap = ZSTD_CStreamOutSize();
		w->out = infty_malloc(w->out_cap);
		if (!w->cctx || !w->out)
			goto nomem;
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->o.level);
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
		if (w->o.workers > 0 &&
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, w->o.workers))) {
			if (detail && detail_len)
				snprintf(detail, detail_len, "zstd was built without threads");
			infty_writer_free(w);
			return INFTY_EINVAL;
		}
	}

	struct stat st;
	int exists = stat(path, &st) == 0;
	if (strcmp(path, "-") == 0) {
		w->fd = STDOUT_FILENO;
		w->is_stdout = 1;
		w->direct = 1;
	} else if (w->o.append || (exists && !S_ISREG(st.st_mode))) {
		/* Appending, or a device/FIFO (e.g. /dev/null): no temp file. */
		/* Append reads the old tail back (repair_tail), hence O_RDWR. */
		int flags = O_CREAT | O_CLOEXEC | (w->o.append ? O_RDWR : O_WRONLY | O_TRUNC);
		w->fd = open(path, flags, 0644);
		if (w->fd < 0)
			goto ioerr;
		w->direct = 1;
		if (w->o.append && S_ISREG(st.st_mode) && repair_tail(w, zstd)) {
			int e = w->failed;
			if (detail && detail_len)
				snprintf(detail, detail_len, "%s", w->detail);
			infty_writer_free(w);
			return e;
		}
	} else {
		size_t n = strlen(path) + 16;
		w->tmp = infty_malloc(n);
		if (!w->tmp)
			goto nomem;
		snprintf(w->tmp, n, "%s.tmp.XXXXXX", path);
		w->fd = exists && S_ISDIR(st.st_mode) ? (errno = EISDIR, -1) : mkstemp(w->tmp);
		if (w->fd < 0) {
			infty_free(w->tmp);
			w->tmp = NULL;
			goto ioerr;
		}
		fchmod(w->fd, 0644);
	}
	*out = w;
	return 0;
nomem:
	infty_writer_free(w);
	if (detail && detail_len)
		snprintf(detail, detail_len, "out of memory");
	return INFTY_ENOMEM;
ioerr : {
	int e = errno;
	infty_writer_free(w);
	if (detail && detail_len)
		snprintf(detail, detail_len, "%s", e == EISDIR ? "is a directory" : strerror(e));
	errno = e;
	return INFTY_EIO;
}
}

static int end_frame(struct infty_writer *w)
{
	int err = drain(w, 1);
	w->frame_records = 0;
	w->frame_bytes = 0;
	return err;
}

int infty_writer_put(struct infty_writer *w, const char *line, size_t len)
{
	if (w->failed)
		return w->failed;
	/* A long record bypasses the staging buffer rather than growing it. */
	if (w->stage_len + len + 1 > STAGE_SIZE) {
		if (drain(w, 0))
			return w->failed;
	}
	if (len + 1 > STAGE_SIZE) {
		const char *p = line;
		size_t left = len;
		while (left) {
			size_t k = left < STAGE_SIZE ? left : STAGE_SIZE;
			memcpy(w->stage, p, k);
			w->stage_len = k;
			if (drain(w, 0))
				return w->failed;
			p += k;
			left -= k;
		}
	} else {
		memcpy(w->stage + w->stage_len, line, len);
		w->stage_len += len;
	}
	w->stage[w->stage_len++] = '\n';
	w->records++;
	w->frame_records++;
	w->frame_bytes += len + 1;
	if (w->cctx &&
	    (w->frame_records >= w->o.frame_records || w->frame_bytes >= w->o.frame_bytes))
		return end_frame(w);
	return 0;
}

int infty_writer_put_json(struct infty_writer *w, struct json_object *obj)
{
	w->json.len = 0;
	if (infty_json_write(&w->json, obj))
		return fail(w, INFTY_ENOMEM, "out of memory serializing a record");
	return infty_writer_put(w, w->json.data, w->json.len);
}

int infty_writer_flush(struct infty_writer *w)
{
	if (w->cctx ? end_frame(w) : drain(w, 0))
		return w->failed;
	if (w->o.fsync && !w->is_stdout && fsync(w->fd) != 0 && errno != EINVAL)
		return fail(w, INFTY_EIO, "fsync error");
	return 0;
}

int infty_writer_finish(struct infty_writer *w)
{
	if (w->finished)
		return w->failed;
	w->finished = 1;
	int err = 0;
	if (w->cctx && (w->frame_records > 0 || w->records == 0))
		err = end_frame(w);
	else
		err = drain(w, 0);
	if (!err && w->o.fsync && !w->is_stdout && fsync(w->fd) != 0 && errno != EINVAL)
		err = fail(w, INFTY_EIO, "fsync error");
	if (!w->is_stdout) {
		if (close(w->fd) != 0 && !err)
			err = fail(w, INFTY_EIO, "close error");
		w->fd = -1;
	}
	return err ? w->failed : 0;
}

int infty_writer_publish(struct infty_writer *w)
{
	int err = infty_writer_finish(w);
	if (err || !w->tmp)
		return err;
	if (rename(w->tmp, w->path) != 0)
		return fail(w, INFTY_EIO, "cannot rename into place");
	infty_free(w->tmp);
	w->tmp = NULL;
	w->published = 1;
	return 0;
}

void infty_writer_unpublish(struct infty_writer *w)
{
	if (w && w->published) {
		unlink(w->path);
		w->published = 0;
	}
}

int infty_writer_close(struct infty_writer *w, char *detail, size_t detail_len)
{
	int err = infty_writer_publish(w);
	if (detail && detail_len)
		snprintf(detail, detail_len, "%s", err ? w->detail : "");
	w->published = 0; /* closed: the file is the caller's now */
	infty_writer_free(w);
	return err;
}

void infty_writer_free(struct infty_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0 && !w->is_stdout)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	ZSTD_freeCCtx(w->cctx);
	infty_buf_release(&w->json);
	infty_free(w->out);
	infty_free(w->stage);
	infty_free(w->tmp);
	infty_free(w->path);
	infty_free(w);
}

const char *infty_writer_detail(const struct infty_writer *w)
{
	return w->detail;
}

const char *infty_writer_path(const struct infty_writer *w)
{
	return w->path;
}

uint64_t infty_writer_records(const struct infty_writer *w)
{
	return w->records;
}
