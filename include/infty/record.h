/*
 * record.h - what kind of record a JSON line is: which stage wrote it, or
 * which stage reads it.  Used by infty-inspect (validate, stats, show) and
 * by the stage frame, which refuses a file meant for another stage with the
 * tool to run instead (include/infty/stage.h).
 *
 * The rules follow docs/formats.md: segment records have "segments",
 * summarized ones "summaries" too; instances have their format's columns;
 * reject records "stage" and "reason"; a dataset row has a field that
 * infty-segment reads (messages, generations, conversations, trace,
 * reasoning, ..., see infty-segment(1), INPUT SHAPES).  An object with none
 * of these is INFTY_KIND_UNKNOWN.
 */
#ifndef INFTY_RECORD_H
#define INFTY_RECORD_H

struct json_object;

enum infty_kind {
	INFTY_KIND_NOT_OBJECT, /* not a JSON object */
	INFTY_KIND_UNKNOWN,    /* an object no stage reads or writes */
	INFTY_KIND_ROW,        /* a dataset row (input of infty-segment) */
	INFTY_KIND_SEGMENT,    /* infty-segment output */
	INFTY_KIND_SUMMARIZED, /* infty-summarize output */
	INFTY_KIND_PAPER,      /* infty-build --format paper */
	INFTY_KIND_MESSAGES,   /* infty-build --format messages */
	INFTY_KIND_HF,         /* infty-build --format hf */
	INFTY_KIND_TRL,        /* infty-build --format trl */
	INFTY_KIND_TRL_CHAT,   /* infty-build --format trl-chat */
	INFTY_KIND_REJECT,     /* a reject / dead-letter record of any stage */
	INFTY_KIND_COUNT_
};

enum infty_kind infty_record_kind(struct json_object *rec);
/* "row", "segment", "paper", ...: static. */
const char *infty_kind_name(enum infty_kind k);
/* Whether k is one of the five instance formats infty-build writes. */
int infty_kind_is_instance(enum infty_kind k);

#endif
