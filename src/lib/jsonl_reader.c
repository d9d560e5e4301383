/*
 * jsonl_reader.c - stream JSON Lines from a plain or zstd file, line by line.
 *
 * One growable buffer holds decompressed bytes not yet handed out; lines are
 * returned in place (the '\n' becomes a NUL), so the common case copies
 * nothing.  A line longer than the buffer grows it: lines have no limit but
 * memory.  zstd is recognised by its magic number, whatever the file name.
 */
#include "infty/jsonl.h"
#include "infty/alloc.h"
#include "infty/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IN_CHUNK   (1u << 20) /* compressed bytes read at a time */
#define BUF_START  (4u << 20) /* first size of the decompressed buffer */
#define BLOCK_SIZE (1u << 20) /* decompressed bytes per block from the thread */
#define NBLOCKS    4          /* blocks in flight between thread and reader */

/*
 * For regular zstd files, decompression runs in a thread of its own, one or
 * two blocks ahead of the line splitter and parser: on our corpus that is
 * a third of the reading time moved to the other core.  A block ends where
 * a zstd frame ends, so the frame boundaries TOLERATE_TAIL needs survive.
 */
struct block {
	char *data;
	size_t len;
	int frame_end; /* the stream is at a frame boundary after this block */
	int last;      /* no block follows; err says why */
	int err;
	char detail[128];
};

struct pump {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct block blocks[NBLOCKS];
	unsigned head, tail; /* filled blocks are [head, tail) mod NBLOCKS */
	int stop;
};

struct infty_reader {
	int fd;
	int own_fd;
	unsigned flags;
	char *path;

	/* Compressed input (zstd only). */
	unsigned char *in;
	size_t in_len, in_pos;
	ZSTD_DCtx *dctx;
	size_t last_ret; /* last ZSTD_decompressStream result: 0 at a frame end */
	int zstd;

	/* Decompressed bytes: [start, end) not yet returned; scan marks how far
	 * from start we already know there is no '\n'. */
	char *buf;
	size_t cap, start, end, scan;
	/* Bytes before this offset come from complete zstd frames.  Under
	 * INFTY_READER_TOLERATE_TAIL only they are handed out, so a reader and
	 * an appending writer agree on what a torn file holds. */
	size_t committed;
	int started;
	int eof;    /* no more input bytes will arrive */
	int failed; /* a stream error happened; every later call returns it */

	struct pump *pump;

	uint64_t lineno;
	_Atomic uint64_t bytes_in;
	int64_t size;
	uint64_t dropped;
	const char *line;
	size_t line_len;
	char detail[256];
};

/* Record a stream error: "what" plus an optional reason ("" for none). */
static int fail(struct infty_reader *r, int err, const char *what, const char *why)
{
	snprintf(r->detail, sizeof r->detail, "%s%s%s", what, *why ? ": " : "", why);
	r->failed = err;
	return err;
}

/* detail (may be NULL) gets why an open failed, without the path. */
static int open_failed(char *detail, size_t dlen, int err, const char *why)
{
	if (detail && dlen)
		snprintf(detail, dlen, "%s", why);
	return err;
}

int infty_reader_open(struct infty_reader **out, const char *path, unsigned flags, char *detail,
                      size_t detail_len)
{
	*out = NULL;
	if (detail && detail_len)
		*detail = 0;
	struct infty_reader *r = infty_calloc(1, sizeof *r);
	if (!r)
		return open_failed(detail, detail_len, INFTY_ENOMEM, "out of memory");
	r->fd = -1;
	r->flags = flags;
	r->size = -1;
	r->path = infty_strdup(strcmp(path, "-") ? path : "<stdin>");
	r->cap = BUF_START;
	r->buf = infty_malloc(r->cap + 1);
	if (!r->path || !r->buf) {
		infty_reader_free(r);
		return open_failed(detail, detail_len, INFTY_ENOMEM, "out of memory");
	}
	if (strcmp(path, "-") == 0) {
		r->fd = STDIN_FILENO;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0) {
			int e = errno;
			infty_reader_free(r);
			errno = e;
			return open_failed(detail, detail_len, INFTY_EIO, strerror(e));
		}
		r->own_fd = 1;
	}
	struct stat st;
	if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* open() succeeds on a directory; the first read() would not. */
		infty_reader_free(r);
		errno = EISDIR;
		return open_failed(detail, detail_len, INFTY_EIO, "is a directory");
	}
	if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		r->size = st.st_size;
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	*out = r;
	return 0;
}

static void pump_start(struct infty_reader *r);

/* Read up to n raw bytes from the file.  Returns bytes read, 0 at EOF, <0. */
static ssize_t read_raw(struct infty_reader *r, void *dst, size_t n)
{
	for (;;) {
		ssize_t got = read(r->fd, dst, n);
		if (got >= 0) {
			r->bytes_in += (uint64_t)got;
			return got;
		}
		if (errno != EINTR)
			return fail(r, INFTY_EIO, "read error", strerror(errno));
	}
}

/*
 * On the first read, look at the magic number: zstd frames (and skippable
 * frames) go through the decompressor, anything else is copied as is.
 */
static int detect(struct infty_reader *r)
{
	r->in = infty_malloc(IN_CHUNK);
	if (!r->in)
		return fail(r, INFTY_ENOMEM, "out of memory", "");
	size_t have = 0;
	while (have < 4) {
		ssize_t got = read_raw(r, r->in + have, IN_CHUNK - have);
		if (got < 0)
			return (int)got;
		if (got == 0)
			break;
		have += (size_t)got;
	}
	uint32_t magic = have >= 4 ? (uint32_t)r->in[0] | (uint32_t)r->in[1] << 8 |
	                                 (uint32_t)r->in[2] << 16 | (uint32_t)r->in[3] << 24
	                           : 0;
	if (magic == ZSTD_MAGICNUMBER ||
	    (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START) {
		r->zstd = 1;
		r->dctx = ZSTD_createDCtx();
		if (!r->dctx)
			return fail(r, INFTY_ENOMEM, "cannot create zstd context", "");
		/* Accept frames written with --long up to 2^28 (256 MiB window). */
		ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, 28);
		r->in_len = have;
		r->in_pos = 0;
		r->last_ret = 0;
		/* Only regular files: a read() there cannot block forever, so
		 * infty_reader_free() can always join the thread. */
		if (r->size >= 0 && !getenv("INFTY_READER_NO_THREAD"))
			pump_start(r);
	} else {
		/* Plain text: hand what we read to the line buffer. */
		memcpy(r->buf, r->in, have);
		r->end = have;
		r->committed = have;
		infty_free(r->in);
		r->in = NULL;
		if (have == 0)
			r->eof = 1;
	}
	return 0;
}

/* Decompress one block's worth in the pump thread.  Returns 0 or an error
 * with b->detail set; sets b->last at the end of the stream. */
static int pump_fill_block(struct infty_reader *r, struct block *b)
{
	b->len = 0;
	b->frame_end = 0;
	while (b->len < BLOCK_SIZE) {
		if (r->in_pos == r->in_len) {
			ssize_t got;
			do
				got = read(r->fd, r->in, IN_CHUNK);
			while (got < 0 && errno == EINTR);
			if (got < 0) {
				snprintf(b->detail, sizeof b->detail, "read error: %s",
				         strerror(errno));
				return INFTY_EIO;
			}
			r->bytes_in += (uint64_t)got;
			if (got == 0) {
				b->last = 1;
				if (r->last_ret != 0) {
					if (r->flags & INFTY_READER_TOLERATE_TAIL)
						return 0;
					snprintf(b->detail, sizeof b->detail,
					         "truncated zstd stream (ends inside a frame)");
					return INFTY_ETRUNCATED;
				}
				b->frame_end = 1;
				return 0;
			}
			r->in_len = (size_t)got;
			r->in_pos = 0;
		}
		ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
		ZSTD_outBuffer out = {b->data + b->len, BLOCK_SIZE - b->len, 0};
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		if (ZSTD_isError(ret)) {
			b->last = 1;
			if (r->flags & INFTY_READER_TOLERATE_TAIL) {
				r->dropped += r->in_len - in.pos;
				return 0;
			}
			snprintf(b->detail, sizeof b->detail, "corrupt zstd stream: %s",
			         ZSTD_getErrorName(ret));
			return INFTY_ECORRUPT;
		}
		r->in_pos = in.pos;
		r->last_ret = ret;
		b->len += out.pos;
		if (ret == 0 && b->len > 0) {
			b->frame_end = 1;
			return 0;
		}
	}
	b->frame_end = r->last_ret == 0;
	return 0;
}

static void *pump_main(void *arg)
{
	struct infty_reader *r = arg;
	struct pump *p = r->pump;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->tail - p->head == NBLOCKS && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			return NULL;
		/* The slot at tail is ours alone until tail moves. */
		struct block *b = &p->blocks[p->tail % NBLOCKS];
		b->last = 0;
		b->err = pump_fill_block(r, b);
		if (b->err)
			b->last = 1;
		pthread_mutex_lock(&p->mu);
		p->tail++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (b->last)
			return NULL;
	}
}

/* Start the pump; on any failure reading simply stays in this thread. */
static void pump_start(struct infty_reader *r)
{
	struct pump *p = infty_calloc(1, sizeof *p);
	if (!p)
		return;
	for (int i = 0; i < NBLOCKS; i++) {
		p->blocks[i].data = infty_malloc(BLOCK_SIZE);
		if (!p->blocks[i].data)
			goto undo;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	r->pump = p;
	if (pthread_create(&p->thread, NULL, pump_main, r) == 0)
		return;
	r->pump = NULL;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
undo:
	for (int i = 0; i < NBLOCKS; i++)
		infty_free(p->blocks[i].data);
	infty_free(p);
}

static void pump_stop(struct infty_reader *r)
{
	struct pump *p = r->pump;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	for (int i = 0; i < NBLOCKS; i++)
		infty_free(p->blocks[i].data);
	infty_free(p);
	r->pump = NULL;
}

/* Reader side: take the next block from the pump into the line buffer. */
static int pump_take(struct infty_reader *r)
{
	struct pump *p = r->pump;
	pthread_mutex_lock(&p->mu);
	while (p->tail == p->head)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	struct block *b = &p->blocks[p->head % NBLOCKS];
	/* fill() made room for a whole block. */
	memcpy(r->buf + r->end, b->data, b->len);
	r->end += b->len;
	if (b->frame_end || !(r->flags & INFTY_READER_TOLERATE_TAIL))
		r->committed = r->end;
	int last = b->last, err = b->err;
	if (err)
		fail(r, err, b->detail, "");
	pthread_mutex_lock(&p->mu);
	p->head++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (last) {
		r->eof = 1;
		pump_stop(r);
	}
	return err;
}

/*
 * Make room for at least need bytes after end: compact, then grow (a line
 * longer than the buffer, or a block from the pump).
 */
static int make_room(struct infty_reader *r, size_t need)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->committed = r->committed > r->start ? r->committed - r->start : 0;
		r->start = 0;
	}
	while (r->cap - r->end < need) {
		size_t ncap = r->cap * 2;
		char *nb = infty_realloc(r->buf, ncap + 1);
		if (!nb)
			return fail(r, INFTY_ENOMEM, "out of memory for a long line", "");
		r->buf = nb;
		r->cap = ncap;
	}
	return 0;
}

/* Append more decompressed (or plain) bytes to the buffer.  Returns 0 or <0. */
static int fill(struct infty_reader *r)
{
	int err = make_room(r, r->pump ? BLOCK_SIZE : 1);
	if (err)
		return err;
	if (r->pump)
		return pump_take(r);
	if (!r->zstd) {
		ssize_t got = read_raw(r, r->buf + r->end, r->cap - r->end);
		if (got < 0)
			return (int)got;
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
		r->committed = r->end;
		return 0;
	}
	for (;;) {
		if (r->in_pos == r->in_len) {
			ssize_t got = read_raw(r, r->in, IN_CHUNK);
			if (got < 0)
				return (int)got;
			if (got == 0) {
				/* End of input: a frame left open means a cut stream. */
				r->eof = 1;
				if (r->last_ret != 0) {
					if (r->flags & INFTY_READER_TOLERATE_TAIL)
						return 0;
					return fail(r, INFTY_ETRUNCATED,
					            "truncated zstd stream (ends inside a frame)",
					            "");
				}
				return 0;
			}
			r->in_len = (size_t)got;
			r->in_pos = 0;
		}
		ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
		ZSTD_outBuffer out = {r->buf + r->end, r->cap - r->end, 0};
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		if (ZSTD_isError(ret)) {
			if (r->flags & INFTY_READER_TOLERATE_TAIL) {
				/* A torn append looks like garbage after the last frame. */
				r->eof = 1;
				r->dropped += r->in_len - r->in_pos;
				return 0;
			}
			return fail(r, INFTY_ECORRUPT, "corrupt zstd stream",
			            ZSTD_getErrorName(ret));
		}
		r->in_pos = in.pos;
		r->last_ret = ret;
		r->end += out.pos;
		if (ret == 0 || !(r->flags & INFTY_READER_TOLERATE_TAIL))
			r->committed = r->end;
		if (out.pos > 0 || r->end == r->cap)
			return 0;
	}
}

/*
 * Hand out the n bytes at start as a line (plus its newline when `newline`),
 * in place: a CR before the newline is dropped and the end becomes a NUL.
 */
static int take_line(struct infty_reader *r, size_t n, int newline, const char **line, size_t *len,
                     uint64_t *lineno)
{
	char *s = r->buf + r->start;
	r->start += n + (newline ? 1 : 0);
	r->scan = 0;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	r->line = s;
	r->line_len = n;
	*line = s;
	*len = n;
	*lineno = ++r->lineno;
	return 1;
}

/* The first call looks at the magic number; a failure stays. */
static int start(struct infty_reader *r)
{
	if (r->failed)
		return r->failed;
	if (!r->started) {
		r->started = 1;
		return detect(r);
	}
	return 0;
}

int infty_reader_next_line(struct infty_reader *r, const char **line, size_t *len, uint64_t *lineno)
{
	int err = start(r);
	if (err)
		return err;
	for (;;) {
		char *p = r->buf + r->start + r->scan;
		size_t limit = r->committed > r->start ? r->committed : r->start;
		size_t avail = limit - r->start - r->scan;
		char *nl = avail ? memchr(p, '\n', avail) : NULL;
		if (nl)
			return take_line(r, (size_t)(nl - (r->buf + r->start)), 1, line, len,
			                 lineno);
		r->scan = limit - r->start;
		if (r->eof) {
			size_t n = r->end - r->start;
			if (n == 0)
				return 0;
			if (r->flags & INFTY_READER_TOLERATE_TAIL) {
				/* A record without its newline was cut mid-write. */
				r->dropped += n;
				r->start = r->end;
				return 0;
			}
			/* Last line without a final newline: still a line. */
			return take_line(r, n, 0, line, len, lineno);
		}
		err = fill(r);
		if (err)
			return err;
	}
}

int infty_reader_peek(struct infty_reader *r, size_t want, const char **data, size_t *len)
{
	*data = "";
	*len = 0;
	int err = start(r);
	while (!err && r->end - r->start < want && !r->eof)
		err = fill(r);
	if (err)
		return err;
	/* What fill() moved: the last line handed out is gone (documented). */
	r->line = NULL;
	r->line_len = 0;
	*data = r->buf + r->start;
	*len = r->end - r->start < want ? r->end - r->start : want;
	return 0;
}

int infty_line_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

int infty_reader_next(struct infty_reader *r, struct json_object **obj, uint64_t *lineno)
{
	*obj = NULL;
	const char *line;
	size_t len;
	for (;;) {
		int rc = infty_reader_next_line(r, &line, &len, lineno);
		if (rc <= 0)
			return rc;
		if (infty_line_is_blank(line, len))
			continue;
		int err = infty_json_parse(line, len, obj, r->detail, sizeof r->detail);
		return err ? err : 1;
	}
}

const char *infty_reader_line(const struct infty_reader *r, size_t *len)
{
	if (len)
		*len = r->line_len;
	return r->line ? r->line : "";
}

const char *infty_reader_detail(const struct infty_reader *r)
{
	return r->detail;
}

const char *infty_reader_path(const struct infty_reader *r)
{
	return r->path;
}

uint64_t infty_reader_bytes_in(const struct infty_reader *r)
{
	return r->bytes_in;
}

int64_t infty_reader_size(const struct infty_reader *r)
{
	return r->size;
}

int infty_reader_is_zstd(const struct infty_reader *r)
{
	return r->zstd;
}

uint64_t infty_reader_dropped_tail(const struct infty_reader *r)
{
	return r->dropped;
}

void infty_reader_free(struct infty_reader *r)
{
	if (!r)
		return;
	pump_stop(r);
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	ZSTD_freeDCtx(r->dctx);
	infty_free(r->in);
	infty_free(r->buf);
	infty_free(r->path);
	infty_free(r);
}
