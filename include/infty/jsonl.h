/*
 * jsonl.h - streaming JSON Lines in and out, plain or zstd-compressed.
 *
 * Reader: a path or "-" (stdin).  zstd is detected by its magic number, not by
 * the name, and concatenated frames are read as one stream.  Lines have no
 * length limit.  A stream that ends inside a frame is INFTY_ETRUNCATED and a
 * damaged one INFTY_ECORRUPT: errors for the stream, never a silent short read.
 * A malformed line is an error for that record only: the caller rejects it
 * and goes on reading.
 *
 * Writer: ".zst" at the end of the name selects zstd; "-" is stdout.  Output
 * goes to a temporary file in the same directory, renamed over the final name
 * by a successful infty_writer_close(); infty_writer_free() without a close
 * removes it.  A zstd frame ends every frame_records records or frame_bytes
 * bytes, so a crash loses at most the last frame.
 *
 * Ownership: lines returned by the reader belong to the reader and are valid
 * until the next call; parsed objects belong to the caller (json_object_put).
 */
#ifndef INFTY_JSONL_H
#define INFTY_JSONL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;
struct infty_reader;
struct infty_writer;

/* ---- reader -------------------------------------------------------------- */

enum infty_reader_flags {
	/*
	 * Accept a stream that ends inside its last zstd frame (or without a
	 * final newline after a partial line) as a clean end, dropping that
	 * tail.  For append-only logs that a kill -9 may cut; the number of
	 * bytes dropped is reported by infty_reader_dropped_tail().
	 */
	INFTY_READER_TOLERATE_TAIL = 1 << 0,
};

/*
 * Open path ("-" for stdin).  Returns 0, or INFTY_EIO/ENOMEM with *out NULL
 * and why in detail (size detail_len, may be NULL): the system's reason
 * ("No such file or directory"), or "is a directory", without the path.
 */
int infty_reader_open(struct infty_reader **out, const char *path, unsigned flags, char *detail,
                      size_t detail_len);

/*
 * The next len bytes at most of the (decompressed) stream, without
 * consuming them: *data points into the reader's buffer, valid until the
 * next call; *len < want only at the end of the stream.  For recognising
 * what a file holds before reading it.  The last line returned before
 * (infty_reader_line) is no longer available.  Returns 0 or a stream error.
 */
int infty_reader_peek(struct infty_reader *r, size_t want, const char **data, size_t *len);

/*
 * Next raw line, without its "\n" (a "\r" before it is stripped too).  Sets
 * *line (NUL-terminated, owned by the reader), *len and *lineno (1-based).
 * Returns 1 for a line, 0 at the end, or a negative stream error
 * (INFTY_EIO, INFTY_ETRUNCATED, INFTY_ECORRUPT, INFTY_ENOMEM).  Empty lines
 * are returned too; callers usually skip them.
 */
int infty_reader_next_line(struct infty_reader *r, const char **line, size_t *len,
                           uint64_t *lineno);

/*
 * Next non-empty line, parsed.  Returns 1 with *obj set (caller owns it), 0 at
 * the end, a stream error as above, or a record error (INFTY_EJSON,
 * INFTY_EUTF8) with *obj NULL: the line is still available through
 * infty_reader_line() and reading may go on.
 */
int infty_reader_next(struct infty_reader *r, struct json_object **obj, uint64_t *lineno);

/*
 * Whether a line holds only spaces and tabs (or nothing).  Such a line is
 * not a record anywhere in infty: every stage and every count skips it the
 * same way, so rows = records out + rejects holds across stages.
 */
int infty_line_is_blank(const char *s, size_t n);

/* The last line returned (raw), e.g. to copy into a reject file. */
const char *infty_reader_line(const struct infty_reader *r, size_t *len);
/* Human detail for the last error (static until the next call), or "". */
const char *infty_reader_detail(const struct infty_reader *r);
/* The path as given ("-" is shown as "<stdin>"). */
const char *infty_reader_path(const struct infty_reader *r);
/* Bytes consumed from the underlying file so far, and its size (-1 unknown). */
uint64_t infty_reader_bytes_in(const struct infty_reader *r);
int64_t infty_reader_size(const struct infty_reader *r);
/* Whether the input turned out to be zstd. */
int infty_reader_is_zstd(const struct infty_reader *r);
/* Bytes dropped from a cut tail under INFTY_READER_TOLERATE_TAIL. */
uint64_t infty_reader_dropped_tail(const struct infty_reader *r);
void infty_reader_free(struct infty_reader *r);

/*
 * Parse one line into a JSON value.  Strict JSON; invalid UTF-8 inside the
 * text is INFTY_EUTF8 (our policy: reject the record, never repair it).
 * Returns 0 with *obj set, or INFTY_EJSON/INFTY_EUTF8 with a message in
 * detail (size detail_len, may be NULL).  Thread-safe.
 */
int infty_json_parse(const char *line, size_t len, struct json_object **obj, char *detail,
                     size_t detail_len);
/* The same for any JSON value, not only an object (*obj may be NULL for a
 * JSON null). */
int infty_json_parse_value(const char *text, size_t len, struct json_object **obj, char *detail,
                           size_t detail_len);

/* ---- writer -------------------------------------------------------------- */

struct infty_writer_opts {
	int compress;           /* -1: by name (".zst"), 0: plain, 1: zstd */
	int level;              /* zstd level, default 3 */
	int workers;            /* zstd worker threads (default 1), 0 = in the caller's thread */
	uint64_t frame_records; /* end a frame after this many records (0: 100000) */
	uint64_t frame_bytes;   /* ... or this many uncompressed bytes (0: 64 MiB) */
	int append;             /* append to an existing file, no temp/rename */
	int fsync;              /* fsync before rename / at each frame end when appending */
};

/* Defaults: by name, level 3 ($INFTY_ZSTD_LEVEL overrides), 1 worker,
 * 100000 records / 64 MiB frames. */
void infty_writer_opts_init(struct infty_writer_opts *o);

/*
 * Open path for writing ("-" = stdout).  With opts->append, an existing file
 * is first cut back to its last complete frame (or line), so records are
 * appended after a kill -9 without corrupting the stream.  opts may be NULL.
 * Returns 0, or an error with *out NULL and why in detail (size detail_len,
 * may be NULL), without the path.
 */
int infty_writer_open(struct infty_writer **out, const char *path,
                      const struct infty_writer_opts *opts, char *detail, size_t detail_len);
/* Append one record: line (no newline) then "\n".  Returns 0 or an error. */
int infty_writer_put(struct infty_writer *w, const char *line, size_t len);
/* Serialize obj compactly (no slash escaping) and append it. */
int infty_writer_put_json(struct infty_writer *w, struct json_object *obj);
/* End the current zstd frame and push everything to the OS (and disk if fsync). */
int infty_writer_flush(struct infty_writer *w);
/*
 * Two steps, for a tool that publishes several files together (the stage
 * frame, include/infty/stage.h): infty_writer_finish() ends the frame,
 * flushes, fsyncs (if asked) and closes the temporary file, which stays
 * under its temporary name; infty_writer_publish() (finishing first if
 * needed) renames it into place.  Both return 0 or an error with the reason
 * in infty_writer_detail(); the handle stays the caller's.  After a
 * publish, infty_writer_unpublish() removes the file from its final name
 * again (a later output failed); infty_writer_free() removes a temporary
 * file that was never published and leaves a published one.  stdout and
 * devices have no temporary: finish flushes them, publish does nothing
 * more.
 */
int infty_writer_finish(struct infty_writer *w);
int infty_writer_publish(struct infty_writer *w);
void infty_writer_unpublish(struct infty_writer *w);
/*
 * Finish: end the frame, flush, fsync (if asked), close and rename into
 * place.  Returns 0 or an error, with a one-line reason written to detail
 * (size detail_len; may be NULL).  The handle is freed either way, and on
 * error the temporary file is removed.
 */
int infty_writer_close(struct infty_writer *w, char *detail, size_t detail_len);
/* Abandon: close and remove the temporary file.  NULL is a no-op. */
void infty_writer_free(struct infty_writer *w);
const char *infty_writer_detail(const struct infty_writer *w);
const char *infty_writer_path(const struct infty_writer *w);
uint64_t infty_writer_records(const struct infty_writer *w);

#endif
