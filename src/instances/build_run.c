/*
 * build_run.c - the infty-build stage as a function: every record of every
 * input through infty_build_trace(), its instances to the output, a trace
 * that cannot be built whole (or a line that is no record) to the reject
 * file.  The stage frame (include/infty/stage.h) opens, publishes and
 * reports; nothing here prints or exits, so tests link it.
 */
#include "build_instances.h"

#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/stage.h"

#include <json.h>
#include <stdio.h>
#include <string.h>

static const char *string_id(struct json_object *rec)
{
	struct json_object *v;
	return json_object_object_get_ex(rec, "id", &v) && json_object_is_type(v, json_type_string)
	           ? json_object_get_string(v)
	           : NULL;
}

static int reject(struct infty_stage *st, struct infty_reader *in, uint64_t line,
                  const char *reason, const char *detail, const char *id)
{
	size_t len;
	const char *raw = infty_reader_line(in, &len);
	struct infty_reject r = {NULL, line, reason, detail, id, NULL, raw, len};
	return infty_stage_reject(st, &r);
}

static void progress(struct infty_stage *st, const struct infty_build_stats *s)
{
	char extra[96];
	snprintf(extra, sizeof extra, "%llu instances, %llu rejects",
	         (unsigned long long)s->instances_out,
	         (unsigned long long)infty_stage_rejected(st));
	infty_stage_progress(st, s->records_in, extra);
}

/* One record: its instances out, or the whole trace to the rejects. */
static int build_record(struct infty_stage *st, const struct infty_build_opts *o,
                        struct infty_build_stats *s, struct infty_build_result *res,
                        struct infty_reader *in, struct json_object *rec, uint64_t line)
{
	int rc = infty_build_trace(o, rec, res);
	infty_build_stats_quality(s, res, o); /* built or rejected, its flags count */
	if (rc == INFTY_ENOMEM)
		return infty_stage_fail(st, rc, "%s:%llu: out of memory", infty_reader_path(in),
		                        (unsigned long long)line);
	if (rc) {
		infty_build_stats_reject(s);
		return reject(st, in, line, res->reason, res->detail, string_id(rec));
	}
	for (size_t i = 0; !rc && i < res->n_inst; i++)
		rc = infty_stage_put_json(st, res->inst[i]);
	if (!rc && infty_build_stats_add(s, res))
		rc = infty_stage_fail(st, INFTY_ENOMEM, "out of memory");
	return rc;
}

static int build_input(struct infty_stage *st, const struct infty_build_opts *o,
                       struct infty_build_stats *s, struct infty_build_result *res,
                       struct infty_reader *in)
{
	for (;;) {
		struct json_object *rec = NULL;
		uint64_t line = 0;
		int rc = infty_reader_next(in, &rec, &line);
		if (rc == 0)
			return 0;
		if (infty_stage_cancelled()) {
			json_object_put(rec);
			return INFTY_ECANCELED;
		}
		if (rc == INFTY_EJSON || rc == INFTY_EUTF8) {
			infty_build_stats_reject(s);
			rc = reject(st, in, line, rc == INFTY_EJSON ? "bad_json" : "bad_utf8",
			            infty_reader_detail(in), NULL);
		} else if (rc < 0) {
			const char *why = infty_reader_detail(in);
			return infty_stage_fail(st, rc, "%s: %s", infty_reader_path(in),
			                        *why ? why : infty_strerror(rc));
		} else {
			rc = build_record(st, o, s, res, in, rec, line);
		}
		json_object_put(rec);
		if (rc)
			return rc;
		progress(st, s);
	}
}

int infty_build_run(struct infty_stage *st, const struct infty_build_opts *o,
                    struct infty_build_stats *s)
{
	struct infty_build_result res = {0};
	struct infty_reader *in;
	int rc;
	while ((rc = infty_stage_next_input(st, &in)) == 1 &&
	       (rc = build_input(st, o, s, &res, in)) == 0)
		;
	infty_build_result_release(&res);
	if (!rc)
		progress(st, s);
	return rc;
}
