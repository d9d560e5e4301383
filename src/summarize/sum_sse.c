/*
 * sum_sse.c - read a streamed chat completion (--stream: server-sent events)
 * as it arrives and rebuild the one JSON body a non-streamed request would
 * have had, so classification has one input shape.  Streaming is what lets a
 * stall timeout tell a slow reasoning summarizer (tokens keep coming) from a
 * dead one; the deltas are folded in as they come, so memory is the text,
 * not the event stream.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"

#include <json-c/json.h>
#include <string.h>

#define MAX_CHOICES 64

struct buf {
	char *p;
	size_t len, cap;
};

struct choice {
	struct buf content, reasoning;
	char finish[24];
	int seen;
};

struct sum_sse {
	struct buf line; /* a partial line */
	struct choice ch[MAX_CHOICES];
	int nch;
	struct json_object *usage; /* owned, from the last chunk that had one */
	struct json_object *error; /* owned, an error event */
	int oom;
};

static int put(struct buf *b, const char *s, size_t n)
{
	if (infty_grow(&b->p, &b->cap, b->len + n + 1, 1))
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct sum_sse *infty_sum_sse_new(void)
{
	return infty_calloc(1, sizeof(struct sum_sse));
}

void infty_sum_sse_free(struct sum_sse *s)
{
	if (!s)
		return;
	for (int k = 0; k < MAX_CHOICES; k++) {
		infty_free(s->ch[k].content.p);
		infty_free(s->ch[k].reasoning.p);
	}
	infty_free(s->line.p);
	json_object_put(s->usage);
	json_object_put(s->error);
	infty_free(s);
}

static void text_delta(struct sum_sse *s, struct buf *b, struct json_object *d, const char *k)
{
	struct json_object *x;
	if (json_object_object_get_ex(d, k, &x) && json_object_is_type(x, json_type_string) &&
	    put(b, json_object_get_string(x), (size_t)json_object_get_string_len(x)))
		s->oom = 1;
}

/* One "data:" payload: a chunk, an error, or [DONE]. */
static void event(struct sum_sse *s, const char *data, size_t len)
{
	if (len == 6 && !memcmp(data, "[DONE]", 6))
		return;
	struct json_object *o = json_tokener_parse(data), *x, *choices;
	(void)len;
	if (!o)
		return; /* a damaged event: the choice is left incomplete */
	if (json_object_object_get_ex(o, "error", &x) && !s->error) {
		s->error = json_object_get(o);
	}
	if (json_object_object_get_ex(o, "usage", &x) && json_object_is_type(x, json_type_object)) {
		json_object_put(s->usage);
		s->usage = json_object_get(x);
	}
	if (json_object_object_get_ex(o, "choices", &choices) &&
	    json_object_is_type(choices, json_type_array)) {
		size_t n = json_object_array_length(choices);
		for (size_t k = 0; k < n; k++) {
			struct json_object *c = json_object_array_get_idx(choices, k), *d;
			int idx = json_object_object_get_ex(c, "index", &x) ? json_object_get_int(x)
			                                                    : (int)k;
			if (idx < 0 || idx >= MAX_CHOICES)
				continue;
			struct choice *ch = &s->ch[idx];
			ch->seen = 1;
			if (idx + 1 > s->nch)
				s->nch = idx + 1;
			if (json_object_object_get_ex(c, "delta", &d)) {
				text_delta(s, &ch->content, d, "content");
				text_delta(s, &ch->reasoning, d, "reasoning");
				text_delta(s, &ch->reasoning, d, "reasoning_content");
			}
			if (json_object_object_get_ex(c, "finish_reason", &x) &&
			    json_object_is_type(x, json_type_string)) {
				size_t fl = (size_t)json_object_get_string_len(x);
				if (fl >= sizeof ch->finish)
					fl = sizeof ch->finish - 1;
				memcpy(ch->finish, json_object_get_string(x), fl);
				ch->finish[fl] = '\0';
			}
		}
	}
	json_object_put(o);
}

static void line(struct sum_sse *s, char *l, size_t n)
{
	if (n && l[n - 1] == '\r')
		l[--n] = '\0';
	if (n < 5 || memcmp(l, "data:", 5))
		return; /* comments, event:, id:, blank separators */
	l += 5, n -= 5;
	if (n && *l == ' ')
		l++, n--;
	event(s, l, n);
}

int infty_sum_sse_feed(struct sum_sse *s, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (put(&s->line, p, take))
			return INFTY_ENOMEM;
		if (!nl)
			break;
		line(s, s->line.p, s->line.len);
		s->line.len = 0;
		p += take + 1, n -= take + 1;
	}
	return s->oom ? INFTY_ENOMEM : 0;
}

char *infty_sum_sse_body(struct sum_sse *s, size_t *len)
{
	if (s->line.len) { /* a last event without its newline */
		line(s, s->line.p, s->line.len);
		s->line.len = 0;
	}
	struct json_object *o;
	if (s->error) {
		o = json_object_get(s->error);
	} else {
		o = json_object_new_object();
		struct json_object *arr = json_object_new_array();
		if (!o || !arr) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		for (int k = 0; k < s->nch; k++) {
			struct choice *ch = &s->ch[k];
			if (!ch->seen)
				continue;
			struct json_object *c = json_object_new_object(),
			                   *m = json_object_new_object();
			json_object_object_add(c, "index", json_object_new_int(k));
			json_object_object_add(m, "role", json_object_new_string("assistant"));
			json_object_object_add(
			    m, "content",
			    json_object_new_string_len(ch->content.p ? ch->content.p : "",
			                               (int)ch->content.len));
			if (ch->reasoning.len)
				json_object_object_add(
				    m, "reasoning",
				    json_object_new_string_len(ch->reasoning.p,
				                               (int)ch->reasoning.len));
			json_object_object_add(c, "message", m);
			/* A stream cut before its finish_reason has none: never "stop". */
			json_object_object_add(c, "finish_reason",
			                       ch->finish[0] ? json_object_new_string(ch->finish)
			                                     : NULL);
			json_object_array_add(arr, c);
		}
		json_object_object_add(o, "choices", arr);
		if (s->usage)
			json_object_object_add(o, "usage", json_object_get(s->usage));
	}
	size_t l;
	const char *str = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &l);
	char *out = str ? infty_strndup(str, l) : NULL;
	json_object_put(o);
	if (out)
		*len = l;
	return out;
}
