/*
 * sum_cache.c - the append-only cache of answered requests, keyed by the
 * canonical request hash: accepted summaries and permanent failures (a
 * relaunch pays for neither again).  It is what makes a rerun after kill -9
 * cheap, so it must survive whatever a kill, a full disk or a second process
 * does to the file:
 *
 *   - Writing: puts collect in memory; a flush turns them into one zstd frame
 *     (with a checksum) or one run of lines, and appends it with a single
 *     write() on an O_APPEND descriptor while holding flock(LOCK_EX).  Two
 *     processes appending to one cache therefore never interleave inside an
 *     entry, and a kill can tear only the batch being written.
 *   - Reading: every frame (or line) stands alone.  A torn or damaged one
 *     anywhere in the file is skipped, the reader resynchronises on the next
 *     frame's magic number, and every other complete entry is kept; the
 *     caller gets a count of what was skipped for one warning line.
 *
 * Files written before failures were cached hold only summary entries and
 * read as before; an older binary skips failure entries (they have no text).
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* No single batch of summaries comes near this; a frame claiming more is damage. */
#define MAX_FRAME_OUT ((size_t)1 << 30)

struct slot {
	char *key; /* owned; NULL = empty */
	struct sum_cache_entry e;
};

struct sum_cache {
	int fd;   /* O_RDWR | O_APPEND: appends, and reads the last byte */
	int zstd; /* frames (name ends in .zst) or plain lines */
	ZSTD_CCtx *cctx;
	char *pend; /* owned: lines put since the last flush */
	size_t plen, pcap;
	char *zbuf; /* owned: compressed frame scratch */
	size_t zcap;
	struct slot *tab; /* open addressing, power-of-two size */
	size_t cap, used, loaded;
	uint64_t skipped_parts, skipped_bytes, bad_lines;
	char detail[512];
};

static void entry_release(struct sum_cache_entry *e)
{
	infty_free(e->text);
	infty_free(e->detail);
	infty_free(e->excerpt);
	json_object_put(e->retries);
	e->text = e->detail = e->excerpt = NULL;
	e->retries = NULL;
}

static struct slot *find(const struct sum_cache *c, const char *key)
{
	size_t mask = c->cap - 1;
	for (size_t k = infty_hash64(key, strlen(key)) & mask;; k = (k + 1) & mask)
		if (!c->tab[k].key || !strcmp(c->tab[k].key, key))
			return &c->tab[k];
}

static int grow(struct sum_cache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 1024;
	struct slot *old = c->tab;
	size_t ocap = c->cap;
	c->tab = infty_calloc(ncap, sizeof *c->tab);
	if (!c->tab) {
		c->tab = old;
		return INFTY_ENOMEM;
	}
	c->cap = ncap;
	for (size_t k = 0; k < ocap; k++)
		if (old[k].key)
			*find(c, old[k].key) = old[k];
	infty_free(old);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? infty_strdup(s) : NULL;
}

/* Insert (or replace: the last entry for a key wins, as in a log). */
static int insert(struct sum_cache *c, const char *key, const struct sum_cache_entry *e)
{
	if ((c->used + 1) * 2 > c->cap && grow(c))
		return INFTY_ENOMEM;
	struct sum_cache_entry n = *e;
	n.text = dup_or_null(e->text);
	n.detail = dup_or_null(e->detail);
	n.excerpt = dup_or_null(e->excerpt);
	n.retries = json_object_get(e->retries);
	if ((e->text && !n.text) || (e->detail && !n.detail) || (e->excerpt && !n.excerpt)) {
		entry_release(&n);
		return INFTY_ENOMEM;
	}
	struct slot *s = find(c, key);
	if (!s->key) {
		if (!(s->key = infty_strdup(key))) {
			entry_release(&n);
			return INFTY_ENOMEM;
		}
		c->used++;
	} else {
		entry_release(&s->e);
	}
	s->e = n;
	return 0;
}

static long geti(struct json_object *o, const char *k)
{
	struct json_object *x;
	return o && json_object_object_get_ex(o, k, &x) ? (long)json_object_get_int64(x) : 0;
}

static const char *gets_(struct json_object *o, const char *k)
{
	struct json_object *x;
	return o && json_object_object_get_ex(o, k, &x) && json_object_is_type(x, json_type_string)
	           ? json_object_get_string(x)
	           : NULL;
}

/* One entry from a parsed line; 1 if it was one, 0 if not an entry. */
static int entry_from_json(struct sum_cache *c, struct json_object *o)
{
	struct json_object *u = NULL, *f = NULL;
	const char *key = gets_(o, "key");
	if (!key)
		return 0;
	struct sum_cache_entry e = {0};
	json_object_object_get_ex(o, "usage", &u);
	e.prompt_tokens = geti(u, "prompt_tokens");
	e.completion_tokens = geti(u, "completion_tokens");
	e.cached_tokens = geti(u, "cached_tokens");
	e.choice_tokens = geti(o, "choice_tokens");
	e.reasoning_tokens = geti(o, "reasoning_tokens");
	e.attempts = (int)geti(o, "attempts");
	e.answer_prompt_tokens = e.prompt_tokens;
	if (json_object_object_get_ex(o, "retries", &f) && json_object_is_type(f, json_type_object))
		e.retries = f; /* borrowed from o; insert() takes its own reference */
	const char *text = gets_(o, "text"), *fr = gets_(o, "finish_reason");
	if (text && fr) {
		e.text = (char *)text;
		snprintf(e.finish_reason, sizeof e.finish_reason, "%s", fr);
		e.exhausted = json_object_object_get_ex(o, "quality_exhausted", &f) &&
		              json_object_get_boolean(f);
	} else if (json_object_object_get_ex(o, "failed", &f) &&
	           json_object_is_type(f, json_type_object) && gets_(f, "reason")) {
		snprintf(e.reason, sizeof e.reason, "%s", gets_(f, "reason"));
		snprintf(e.finish_reason, sizeof e.finish_reason, "%s",
		         gets_(f, "finish_reason") ? gets_(f, "finish_reason") : "null");
		e.status = geti(f, "status");
		e.max_tokens = geti(f, "max_tokens");
		e.summary_max_chars = geti(f, "summary_max_chars");
		e.server_count = geti(f, "server_count");
		/* The answer that decided it; older entries have only the usage. */
		if (json_object_object_get_ex(f, "prompt_tokens", NULL))
			e.answer_prompt_tokens = geti(f, "prompt_tokens");
		e.detail = (char *)gets_(f, "detail");
		e.excerpt = (char *)gets_(f, "excerpt");
	} else {
		return 0;
	}
	int rc = insert(c, key, &e);
	if (rc)
		return rc;
	c->loaded++;
	return 1;
}

/*
 * A line that does not parse may be a torn entry with a whole one glued to
 * its end (a batch cut by a kill, then the next batch appended): entries
 * start with {"key":, so try from the last such start.
 */
static int parse_line(struct sum_cache *c, const char *p, size_t len)
{
	while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	struct json_object *o = NULL;
	if (infty_json_parse(p, len, &o, NULL, 0)) {
		static const char start[] = "{\"key\":";
		const char *last = NULL;
		for (const char *q = p + 1;
		     (q = memmem(q, len - (size_t)(q - p), start, sizeof start - 1)); q++)
			last = q;
		c->bad_lines++;
		if (!last || infty_json_parse(last, len - (size_t)(last - p), &o, NULL, 0))
			return 0;
	}
	int rc = entry_from_json(c, o);
	json_object_put(o);
	if (rc == 0)
		c->bad_lines++;
	return rc < 0 ? rc : 0;
}

/* Every complete line of buf; a last line without its newline is a torn tail. */
static int parse_lines(struct sum_cache *c, const char *buf, size_t len, int tail_is_torn)
{
	size_t a = 0;
	while (a < len) {
		const char *nl = memchr(buf + a, '\n', len - a);
		if (!nl && tail_is_torn) {
			c->skipped_parts++;
			c->skipped_bytes += len - a;
			return 0;
		}
		size_t e = nl ? (size_t)(nl - buf) : len;
		int rc = parse_line(c, buf + a, e - a);
		if (rc)
			return rc;
		a = e + 1;
	}
	return 0;
}

static int is_zstd_magic(const unsigned char *p)
{
	uint32_t m =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return m == ZSTD_MAGICNUMBER;
}

static int is_skippable(const unsigned char *p)
{
	uint32_t m =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

/* Decompress the one frame at p[0..n) into *out.  0 or -1 (damaged). */
static int one_frame(ZSTD_DCtx *d, const unsigned char *p, size_t n, char **out, size_t *cap,
                     size_t *len)
{
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	ZSTD_inBuffer in = {p, n, 0};
	*len = 0;
	for (;;) {
		if (*cap - *len < ZSTD_DStreamOutSize()) {
			if (*cap >= MAX_FRAME_OUT ||
			    infty_grow(out, cap, *len + ZSTD_DStreamOutSize() + 1, 1))
				return -1;
		}
		ZSTD_outBuffer ob = {*out + *len, *cap - *len - 1, 0};
		size_t r = ZSTD_decompressStream(d, &ob, &in);
		*len += ob.pos;
		if (ZSTD_isError(r))
			return -1;
		if (r == 0)
			return in.pos == n ? 0 : -1;
		if (in.pos == n && ob.pos < ob.size)
			return -1; /* wants input the frame does not have */
	}
}

static int load_zstd(struct sum_cache *c, const unsigned char *buf, size_t size)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		return INFTY_ENOMEM;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 28);
	char *out = NULL;
	size_t cap = 0, len = 0, pos = 0;
	int rc = 0, skipping = 0;
	while (pos < size && !rc) {
		size_t fsz =
		    size - pos >= 4 && (is_zstd_magic(buf + pos) || is_skippable(buf + pos))
		        ? ZSTD_findFrameCompressedSize(buf + pos, size - pos)
		        : (size_t)-1;
		if (!ZSTD_isError(fsz) && (is_skippable(buf + pos) ||
		                           one_frame(d, buf + pos, fsz, &out, &cap, &len) == 0)) {
			if (!is_skippable(buf + pos))
				rc = parse_lines(c, out, len, 0);
			pos += fsz;
			skipping = 0;
			continue;
		}
		/* Damaged or torn: resynchronise on the next frame's magic number. */
		if (!skipping)
			c->skipped_parts++;
		skipping = 1;
		size_t next = pos + 1;
		while (next + 4 <= size && !is_zstd_magic(buf + next))
			next++;
		if (next + 4 > size)
			next = size;
		c->skipped_bytes += next - pos;
		pos = next;
	}
	infty_free(out);
	ZSTD_freeDCtx(d);
	return rc;
}

static int load(struct sum_cache *c, const char *path, int fd)
{
	struct stat st;
	if (fstat(fd, &st)) {
		snprintf(c->detail, sizeof c->detail, "%s: %s", path, strerror(errno));
		return INFTY_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(c->detail, sizeof c->detail, "%s: not a regular file", path);
		return INFTY_EIO;
	}
	if (st.st_size == 0)
		return 0;
	size_t size = (size_t)st.st_size;
	void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(c->detail, sizeof c->detail, "%s: cannot read the cache: %s", path,
		         strerror(errno));
		return INFTY_EIO;
	}
	const unsigned char *b = m;
	/* What the file holds decides how it is read, whatever its name. */
	int rc = size >= 4 && (is_zstd_magic(b) || is_skippable(b))
	             ? load_zstd(c, b, size)
	             : parse_lines(c, (const char *)b, size, 1);
	munmap(m, size);
	return rc;
}

int infty_sum_cache_open(struct sum_cache **out, const char *path, char *detail, size_t dlen)
{
	*out = NULL;
	struct sum_cache *c = infty_calloc(1, sizeof *c);
	if (!c || grow(c)) {
		infty_free(c);
		return INFTY_ENOMEM;
	}
	size_t pl = strlen(path);
	c->zstd = pl >= 4 && !strcmp(path + pl - 4, ".zst");
	int rc = 0;
	c->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (c->fd < 0) {
		snprintf(c->detail, sizeof c->detail, "%s: cannot open the cache: %s", path,
		         strerror(errno));
		rc = INFTY_EIO;
	}
	if (!rc)
		rc = load(c, path, c->fd);
	if (!rc && c->zstd) {
		if (!(c->cctx = ZSTD_createCCtx()))
			rc = INFTY_ENOMEM;
		else if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1)) ||
		         ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, 3)))
			rc = INFTY_EINVAL;
	}
	if (rc) {
		snprintf(detail, dlen, "%s", c->detail[0] ? c->detail : infty_strerror(rc));
		infty_sum_cache_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

const struct sum_cache_entry *infty_sum_cache_get(const struct sum_cache *c, const char *key)
{
	struct slot *s = find(c, key);
	return s->key ? &s->e : NULL;
}

int infty_sum_cache_put(struct sum_cache *c, const char *key, const struct sum_cache_entry *e)
{
	struct json_object *o = json_object_new_object(), *u = json_object_new_object();
	if (!o || !u) {
		json_object_put(o);
		json_object_put(u);
		return INFTY_ENOMEM;
	}
	/* "key" first: a reader recovering a torn line looks for {"key": */
	json_object_object_add(o, "key", json_object_new_string(key));
	if (e->text) {
		json_object_object_add(o, "text", json_object_new_string(e->text));
		json_object_object_add(o, "finish_reason",
		                       json_object_new_string(e->finish_reason));
		/* Kept although flagged: every candidate failed the quality policy. */
		if (e->exhausted)
			json_object_object_add(o, "quality_exhausted", json_object_new_boolean(1));
	} else {
		struct json_object *f = json_object_new_object();
		if (!f) {
			json_object_put(o);
			json_object_put(u);
			return INFTY_ENOMEM;
		}
		json_object_object_add(f, "class", json_object_new_string("permanent"));
		json_object_object_add(f, "reason", json_object_new_string(e->reason));
		json_object_object_add(f, "finish_reason",
		                       json_object_new_string(e->finish_reason));
		json_object_object_add(f, "status", json_object_new_int64(e->status));
		json_object_object_add(f, "detail",
		                       json_object_new_string(e->detail ? e->detail : ""));
		json_object_object_add(f, "excerpt",
		                       json_object_new_string(e->excerpt ? e->excerpt : ""));
		json_object_object_add(f, "max_tokens", json_object_new_int64(e->max_tokens));
		json_object_object_add(f, "summary_max_chars",
		                       json_object_new_int64(e->summary_max_chars));
		if (e->server_count > 0)
			json_object_object_add(f, "server_count",
			                       json_object_new_int64(e->server_count));
		json_object_object_add(f, "prompt_tokens",
		                       json_object_new_int64(e->answer_prompt_tokens));
		json_object_object_add(o, "failed", f);
	}
	json_object_object_add(u, "prompt_tokens", json_object_new_int64(e->prompt_tokens));
	json_object_object_add(u, "completion_tokens", json_object_new_int64(e->completion_tokens));
	json_object_object_add(u, "cached_tokens", json_object_new_int64(e->cached_tokens));
	json_object_object_add(o, "usage", u);
	json_object_object_add(o, "choice_tokens", json_object_new_int64(e->choice_tokens));
	json_object_object_add(o, "reasoning_tokens", json_object_new_int64(e->reasoning_tokens));
	json_object_object_add(o, "attempts", json_object_new_int(e->attempts));
	if (e->retries && json_object_object_length(e->retries))
		json_object_object_add(o, "retries", json_object_get(e->retries));
	size_t n;
	const char *s = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	int rc = s && !infty_grow(&c->pend, &c->pcap, c->plen + n + 2, 1) ? 0 : INFTY_ENOMEM;
	if (!rc) {
		memcpy(c->pend + c->plen, s, n);
		c->plen += n;
		c->pend[c->plen++] = '\n';
	}
	json_object_put(o);
	/*
	 * Not kept in the table: a key is asked once per run, and keeping every
	 * new answer would make memory grow with the input.  The next run
	 * loads it from the file.
	 */
	return rc;
}

/* The whole of p[0..n) at the end of the file, or an error (errno set). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		p += w, n -= (size_t)w;
	}
	return 0;
}

int infty_sum_cache_flush(struct sum_cache *c)
{
	if (!c->plen)
		return 0;
	const char *data = c->pend;
	size_t n = c->plen;
	if (c->zstd) {
		size_t bound = ZSTD_compressBound(n);
		if (infty_grow(&c->zbuf, &c->zcap, bound, 1))
			return INFTY_ENOMEM;
		size_t z = ZSTD_compress2(c->cctx, c->zbuf, c->zcap, c->pend, c->plen);
		if (ZSTD_isError(z)) {
			snprintf(c->detail, sizeof c->detail, "zstd: %s", ZSTD_getErrorName(z));
			return INFTY_EIO;
		}
		data = c->zbuf, n = z;
	}
	/*
	 * Under the lock nobody else appends, so the size before our write is
	 * where a failed write is cut back to, and a plain file's last byte tells
	 * whether a killed writer left a line without its newline.
	 */
	while (flock(c->fd, LOCK_EX) && errno == EINTR)
		;
	struct stat st;
	int rc = 0;
	off_t before = fstat(c->fd, &st) ? -1 : st.st_size;
	if (!c->zstd && before > 0) {
		char last = '\n';
		if (pread(c->fd, &last, 1, before - 1) != 1)
			last = '\n';
		if (last != '\n' && write_all(c->fd, "\n", 1))
			rc = INFTY_EIO;
	}
	if (!rc && write_all(c->fd, data, n))
		rc = INFTY_EIO;
	if (rc) {
		snprintf(c->detail, sizeof c->detail, "cannot append to the cache: %s",
		         strerror(errno));
		if (before >= 0 && ftruncate(c->fd, before)) {
			/* The reader skips the torn batch anyway. */
		}
	}
	flock(c->fd, LOCK_UN);
	if (!rc)
		c->plen = 0;
	return rc;
}

size_t infty_sum_cache_loaded(const struct sum_cache *c)
{
	return c->loaded;
}

void infty_sum_cache_damage(const struct sum_cache *c, uint64_t *parts, uint64_t *bytes,
                            uint64_t *lines)
{
	*parts = c->skipped_parts;
	*bytes = c->skipped_bytes;
	*lines = c->bad_lines;
}

const char *infty_sum_cache_detail(const struct sum_cache *c)
{
	return c->detail;
}

int infty_sum_cache_close(struct sum_cache *c)
{
	if (!c)
		return 0;
	int rc = c->fd >= 0 ? infty_sum_cache_flush(c) : 0;
	if (c->fd >= 0 && close(c->fd) && !rc) {
		snprintf(c->detail, sizeof c->detail, "cannot close the cache: %s",
		         strerror(errno));
		rc = INFTY_EIO;
	}
	for (size_t k = 0; k < c->cap; k++)
		if (c->tab[k].key) {
			infty_free(c->tab[k].key);
			entry_release(&c->tab[k].e);
		}
	infty_free(c->tab);
	infty_free(c->pend);
	infty_free(c->zbuf);
	ZSTD_freeCCtx(c->cctx);
	infty_free(c);
	return rc;
}
