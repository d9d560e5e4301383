/*
 * sum_cache.c - the append-only cache of accepted summaries, keyed by the
 * canonical request hash.  It is what makes a rerun after kill -9 cheap: on
 * open every complete entry is loaded (a tail cut by the kill is dropped by
 * the reader and cut off by the writer's append mode), and each put is
 * appended and made durable at the next flush, one zstd frame per flush.
 * Only successes are ever written, so a failure is always asked again.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/jsonl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct slot {
	char *key; /* owned; NULL = empty */
	struct sum_cache_entry e;
};

struct sum_cache {
	struct infty_writer *w;
	struct slot *tab; /* open addressing, power-of-two size */
	size_t cap, used, loaded;
	uint64_t pending; /* puts since the last flush */
	char detail[512];
};

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

/* Insert (or replace: the last entry for a key wins, as in a log). */
static int insert(struct sum_cache *c, const char *key, const struct sum_cache_entry *e)
{
	if ((c->used + 1) * 2 > c->cap && grow(c))
		return INFTY_ENOMEM;
	struct slot *s = find(c, key);
	char *text = infty_strdup(e->text);
	if (!text)
		return INFTY_ENOMEM;
	if (!s->key) {
		if (!(s->key = infty_strdup(key))) {
			infty_free(text);
			return INFTY_ENOMEM;
		}
		c->used++;
	} else {
		infty_free(s->e.text);
	}
	s->e = *e;
	s->e.text = text;
	return 0;
}

static long geti(struct json_object *o, const char *k)
{
	struct json_object *x;
	return json_object_object_get_ex(o, k, &x) ? (long)json_object_get_int64(x) : 0;
}

static int load(struct sum_cache *c, const char *path)
{
	struct infty_reader *r;
	int rc = infty_reader_open(&r, path, INFTY_READER_TOLERATE_TAIL);
	if (rc) {
		snprintf(c->detail, sizeof c->detail, "%s: cannot read the cache", path);
		return rc;
	}
	for (;;) {
		struct json_object *o = NULL, *u, *x;
		uint64_t line;
		rc = infty_reader_next(r, &o, &line);
		if (rc == 0)
			break;
		if (rc == INFTY_EJSON || rc == INFTY_EUTF8)
			continue; /* a damaged entry is a miss, never a wrong hit */
		if (rc < 0) {
			snprintf(c->detail, sizeof c->detail, "%s: %s", path,
			         infty_reader_detail(r));
			infty_reader_free(r);
			return rc;
		}
		const char *key = NULL, *text = NULL, *fr = NULL;
		if (json_object_object_get_ex(o, "key", &x))
			key = json_object_get_string(x);
		if (json_object_object_get_ex(o, "text", &x))
			text = json_object_get_string(x);
		if (json_object_object_get_ex(o, "finish_reason", &x))
			fr = json_object_get_string(x);
		if (key && text && fr) {
			struct sum_cache_entry e = {0};
			e.text = (char *)text;
			snprintf(e.finish_reason, sizeof e.finish_reason, "%s", fr);
			if (json_object_object_get_ex(o, "usage", &u)) {
				e.prompt_tokens = geti(u, "prompt_tokens");
				e.completion_tokens = geti(u, "completion_tokens");
			}
			e.choice_tokens = geti(o, "choice_tokens");
			e.reasoning_tokens = geti(o, "reasoning_tokens");
			e.attempts = (int)geti(o, "attempts");
			rc = insert(c, key, &e);
			c->loaded++;
		}
		json_object_put(o);
		if (rc) {
			infty_reader_free(r);
			return rc;
		}
	}
	infty_reader_free(r);
	return 0;
}

int infty_sum_cache_open(struct sum_cache **out, const char *path, char *detail, size_t dlen)
{
	*out = NULL;
	struct sum_cache *c = infty_calloc(1, sizeof *c);
	if (!c || grow(c)) {
		infty_free(c);
		return INFTY_ENOMEM;
	}
	int rc = 0;
	if (access(path, F_OK) == 0)
		rc = load(c, path);
	if (!rc) {
		struct infty_writer_opts o;
		infty_writer_opts_init(&o);
		o.append = 1;
		rc = infty_writer_open(&c->w, path, &o);
		if (rc)
			snprintf(c->detail, sizeof c->detail, "%s: %s", path,
			         c->w ? infty_writer_detail(c->w) : infty_strerror(rc));
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
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "text", json_object_new_string(e->text));
	json_object_object_add(o, "finish_reason", json_object_new_string(e->finish_reason));
	json_object_object_add(u, "prompt_tokens", json_object_new_int64(e->prompt_tokens));
	json_object_object_add(u, "completion_tokens", json_object_new_int64(e->completion_tokens));
	json_object_object_add(o, "usage", u);
	json_object_object_add(o, "choice_tokens", json_object_new_int64(e->choice_tokens));
	json_object_object_add(o, "reasoning_tokens", json_object_new_int64(e->reasoning_tokens));
	json_object_object_add(o, "attempts", json_object_new_int(e->attempts));
	int rc = infty_writer_put_json(c->w, o);
	json_object_put(o);
	if (rc) {
		snprintf(c->detail, sizeof c->detail, "%s", infty_writer_detail(c->w));
		return rc;
	}
	c->pending++;
	/*
	 * Not kept in memory: a key is asked once per run, and keeping every
	 * new answer would make memory grow with the input.  The next run
	 * loads it from the file.
	 */
	return 0;
}

int infty_sum_cache_flush(struct sum_cache *c)
{
	if (!c->pending)
		return 0;
	c->pending = 0;
	int rc = infty_writer_flush(c->w);
	if (rc)
		snprintf(c->detail, sizeof c->detail, "%s", infty_writer_detail(c->w));
	return rc;
}

size_t infty_sum_cache_loaded(const struct sum_cache *c)
{
	return c->loaded;
}

const char *infty_sum_cache_detail(const struct sum_cache *c)
{
	return c->detail;
}

int infty_sum_cache_close(struct sum_cache *c)
{
	if (!c)
		return 0;
	int rc = 0;
	if (c->w) {
		rc = infty_writer_close(c->w, c->detail, sizeof c->detail);
		c->w = NULL;
	}
	for (size_t k = 0; k < c->cap; k++)
		if (c->tab[k].key) {
			infty_free(c->tab[k].key);
			infty_free(c->tab[k].e.text);
		}
	infty_free(c->tab);
	infty_free(c);
	return rc;
}
