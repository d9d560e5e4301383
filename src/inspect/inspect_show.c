/*
 * inspect_show.c - lay one record out for a person: segments with their
 * token counts and how each boundary was chosen, each summary right after
 * the segment it follows, instances exactly as the model sees them.
 */
#include "inspect.h"
#include "inspect_show.h"

#include <json.h>
#include <string.h>

struct style {
	const char *head, *dim, *sum, *off;
};

static const struct style plain = {"", "", "", ""};
static const struct style ansi = {"\033[1m", "\033[2m", "\033[36m", "\033[0m"};

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Text indented by two spaces, so block boundaries stay visible. */
static void block(FILE *out, const char *s)
{
	fputs("  ", out);
	for (; *s; s++) {
		fputc(*s, out);
		if (*s == '\n' && s[1])
			fputs("  ", out);
	}
	fputc('\n', out);
}

/* A separator as escapes: "\n\n" is easier to read than two blank lines. */
static void escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\t')
			fputs("\\t", out);
		else
			fputc(*s, out);
	fputc('"', out);
}

static void show_trace(FILE *out, struct json_object *rec, const struct style *st)
{
	struct json_object *segs = get(rec, "segments"), *sums = get(rec, "summaries");
	size_t n = json_object_is_type(segs, json_type_array) ? json_object_array_length(segs) : 0;
	fprintf(out, "%sQuestion%s\n", st->head, st->off);
	block(out, str(rec, "question"));
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(segs, i);
		fprintf(out, "%s-- segment %zu/%zu: %lld tokens, ended at %s, separator ", st->head,
		        i + 1, n, (long long)json_object_get_int64(get(s, "tokens")),
		        str(s, "end"));
		escaped(out, str(s, "sep"));
		fprintf(out, "%s\n", st->off);
		block(out, str(s, "text"));
		struct json_object *sum = json_object_is_type(sums, json_type_array)
		                              ? json_object_array_get_idx(sums, i)
		                              : NULL;
		if (sum) {
			fprintf(out, "%s   >> summary S%zu%s%s%s%s%s\n", st->sum, i + 1,
			        *str(sum, "model") ? " (" : "", str(sum, "model"),
			        *str(sum, "model") ? ")" : "", st->off, "");
			fputs(st->sum, out);
			block(out, str(sum, "text"));
			fputs(st->off, out);
		}
	}
	fprintf(out, "%sConclusion%s\n", st->head, st->off);
	block(out, str(rec, "conclusion"));
}

static void show_instance(FILE *out, struct json_object *rec, enum infty_kind k,
                          const struct style *st)
{
	struct json_object *meta = get(rec, "meta");
	if (meta)
		fprintf(out, "%siteration %lld/%lld: prompt %lld tokens, target %lld tokens%s\n",
		        st->head, (long long)json_object_get_int64(get(meta, "iteration")),
		        (long long)json_object_get_int64(get(meta, "n")),
		        (long long)json_object_get_int64(get(meta, "prompt_tokens")),
		        (long long)json_object_get_int64(get(meta, "target_tokens")), st->off);
	if (k == INFTY_KIND_PAPER || k == INFTY_KIND_TRL) {
		const char *in = k == INFTY_KIND_TRL ? "prompt" : "input";
		const char *tg = k == INFTY_KIND_TRL ? "completion" : "target";
		fprintf(out, "%s--- %s (not trained)%s\n", st->dim, in, st->off);
		block(out, str(rec, in));
		fprintf(out, "%s--- %s (trained)%s\n", st->dim, tg, st->off);
		block(out, str(rec, tg));
		return;
	}
	/* messages and hf: one list; trl-chat: the prompt's turns, the completion's. */
	static const char *const lists[2][2] = {{"messages", NULL}, {"prompt", "completion"}};
	const char *const *keys = lists[k == INFTY_KIND_TRL_CHAT];
	for (int l = 0; l < 2 && keys[l]; l++) {
		struct json_object *m = get(rec, keys[l]);
		size_t n =
		    json_object_is_type(m, json_type_array) ? json_object_array_length(m) : 0;
		for (size_t i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(m, i);
			const char *role = str(t, "role");
			fprintf(out, "%s--- %s%s%s\n", st->dim, role,
			        strcmp(role, "assistant") ? " (not trained)" : " (trained)",
			        st->off);
			block(out, str(t, "content"));
		}
	}
}

void inspect_show(FILE *out, struct json_object *rec, const char *where, int color)
{
	const struct style *st = color ? &ansi : &plain;
	enum infty_kind k = infty_record_kind(rec);
	const char *id = inspect_record_id(rec);
	fprintf(out, "%s== %s (%s) %s%s\n", st->head, id ? id : "?", infty_kind_name(k), where,
	        st->off);
	switch (k) {
	case INFTY_KIND_SEGMENT:
	case INFTY_KIND_SUMMARIZED:
		show_trace(out, rec, st);
		break;
	case INFTY_KIND_PAPER:
	case INFTY_KIND_MESSAGES:
	case INFTY_KIND_HF:
	case INFTY_KIND_TRL:
	case INFTY_KIND_TRL_CHAT:
		show_instance(out, rec, k, st);
		break;
	default:
		fputs(json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PRETTY |
		                                              JSON_C_TO_STRING_NOSLASHESCAPE),
		      out);
		fputc('\n', out);
	}
}
