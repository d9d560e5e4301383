/*
 * inspect_show.h - the "show" view of infty-inspect: one record laid out for
 * a person, with ANSI colour when color is set (the tool decides: a TTY).
 */
#ifndef INFTY_INSPECT_SHOW_H
#define INFTY_INSPECT_SHOW_H

#include <stdio.h>

struct json_object;

/* where: e.g. "file.jsonl:12", printed in the header line. */
void inspect_show(FILE *out, struct json_object *rec, const char *where, int color);

#endif
