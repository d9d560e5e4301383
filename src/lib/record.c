/*
 * record.c - recognise a record's kind from its fields (see record.h).
 */
#include "infty/record.h"

#include <json.h>
#include <stddef.h>

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/*
 * The fields infty-segment's shape detection reads (seg_input.c): a row
 * with none of them is rejected there as unknown_format, so it is no row.
 */
static int is_row(struct json_object *rec)
{
	static const char *const any[] = {
	    "messages",          "generations", "conversations", "deepseek_reasoning",
	    "reasoning_content", "reasoning",   "trace",         "deepseek_thinking_trajectory",
	};
	for (size_t i = 0; i < sizeof any / sizeof *any; i++)
		if (get(rec, any[i]))
			return 1;
	return get(get(rec, "metadata"), "deepseek_reasoning") ||
	       (get(rec, "question") && get(rec, "solution"));
}

enum infty_kind infty_record_kind(struct json_object *rec)
{
	if (!json_object_is_type(rec, json_type_object))
		return INFTY_KIND_NOT_OBJECT;
	if (get(rec, "segments"))
		return get(rec, "summaries") ? INFTY_KIND_SUMMARIZED : INFTY_KIND_SEGMENT;
	if (get(rec, "input") && get(rec, "target"))
		return INFTY_KIND_PAPER;
	if (get(rec, "reasoning_process"))
		return INFTY_KIND_HF;
	/* TRL's prompt-completion: strings (trl) or message lists (trl-chat). */
	if (get(rec, "prompt") && get(rec, "completion") &&
	    json_object_object_length(rec) == 2 + (get(rec, "meta") != NULL))
		return json_object_is_type(get(rec, "prompt"), json_type_array)
		           ? INFTY_KIND_TRL_CHAT
		           : INFTY_KIND_TRL;
	if (get(rec, "stage") && get(rec, "reason"))
		return INFTY_KIND_REJECT;
	/* A built chat instance has only messages (and meta); a dataset row
	 * carries its other columns (problem, uuid, …). */
	if (get(rec, "messages") && json_object_object_length(rec) <= 2 &&
	    (json_object_object_length(rec) == 1 || get(rec, "meta")))
		return INFTY_KIND_MESSAGES;
	return is_row(rec) ? INFTY_KIND_ROW : INFTY_KIND_UNKNOWN;
}

const char *infty_kind_name(enum infty_kind k)
{
	static const char *const names[] = {
	    "not an object", "unknown", "row", "segment",  "summarized", "paper",
	    "messages",      "hf",      "trl", "trl-chat", "reject",
	};
	return k >= 0 && k < INFTY_KIND_COUNT_ ? names[k] : "unknown";
}

int infty_kind_is_instance(enum infty_kind k)
{
	return k == INFTY_KIND_PAPER || k == INFTY_KIND_MESSAGES || k == INFTY_KIND_HF ||
	       k == INFTY_KIND_TRL || k == INFTY_KIND_TRL_CHAT;
}
