/*
 * jsonl_parse_ref.h - private to the library, its tests, fuzzer and
 * benchmark: the previous implementation of infty_json_parse() (json-c's
 * strict json_tokener plus our own UTF-8, escape, NaN/Infinity and
 * top-level checks, each a pass of its own, and now an RFC 8259 recognizer
 * in front, since the tokener is laxer than RFC 8259), kept only as the
 * reference the one-pass parser is compared against.  Nothing in the tools
 * calls it.
 */
#ifndef INFTY_JSONL_PARSE_REF_H
#define INFTY_JSONL_PARSE_REF_H

#include <stddef.h>

struct json_object;

/*
 * Same contract as infty_json_parse() (include/infty/jsonl.h): 0 with *obj
 * set (caller owns it), or INFTY_EJSON/INFTY_EUTF8/INFTY_ENOMEM with *obj
 * NULL and a one-line reason in detail (may be NULL).  Thread-safe.
 */
int infty_json_parse_reference(const char *line, size_t len, struct json_object **obj, char *detail,
                               size_t detail_len);

#endif
