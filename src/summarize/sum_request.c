/*
 * sum_request.c - what infty-summarize sends: prompts from files, the
 * messages of each request, the body, and the canonical key that names a
 * request in the cache.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

void infty_sum_config_init(struct sum_config *c)
{
	memset(c, 0, sizeof *c);
	c->input = "-";
	c->output = "-";
	c->backend = SUM_BACKEND_OPENAI;
	c->mode = SUM_MODE_CUMULATIVE;
	/* Sampling as the reference: temperature 0.5, 2048 tokens, 4 choices. */
	c->temperature = 0.5;
	c->max_tokens = 2048;
	c->candidates = 4;
	c->use_n = 1;
	c->max_inflight = 64;
	c->ramp = 0.25;
	c->window = 0;
	/* Long enough for a slow summarizer, short enough to notice a dead peer. */
	c->stall_timeout = 300;
	c->connect_timeout = 10;
	c->max_retries = 8;
	c->backoff_base = 0.5;
	c->backoff_max = 30;
	c->retry_after_cap = 120;
	c->summary_max_chars = 16384;
	c->trunc_ratio = 0.9;
	c->ready_timeout = 60;
	c->extractive_budget = 512;
	c->progress_interval = 30;
}

/* Whole file into an owned string, one trailing "\n" dropped. */
static int slurp(const char *dir, const char *name, char **out, char *detail, size_t dlen)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		snprintf(detail, dlen, "%s/%s: path too long", dir, name);
		return INFTY_EINVAL;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(detail, dlen, "%s: %s", path, strerror(errno));
		return INFTY_EIO;
	}
	size_t cap = 0, len = 0;
	char *buf = NULL;
	for (;;) {
		if (infty_grow(&buf, &cap, len + 4097, 1)) {
			fclose(f);
			infty_free(buf);
			return INFTY_ENOMEM;
		}
		size_t got = fread(buf + len, 1, 4096, f);
		len += got;
		if (got < 4096)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(detail, dlen, "%s: read error", path);
		infty_free(buf);
		return INFTY_EIO;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (!len) {
		snprintf(detail, dlen, "%s: empty prompt", path);
		infty_free(buf);
		return INFTY_EINVAL;
	}
	*out = buf;
	return 0;
}

int infty_sum_prompts_load(struct sum_prompts *p, const char *dir, char *detail, size_t dlen)
{
	memset(p, 0, sizeof *p);
	int rc = slurp(dir, "cumulative.txt", &p->cumulative, detail, dlen);
	if (!rc)
		rc = slurp(dir, "update.txt", &p->update, detail, dlen);
	if (rc) {
		infty_sum_prompts_release(p);
		return rc;
	}
	/* One hash over both texts, length-prefixed so the split is unambiguous. */
	struct infty_sha256 h;
	unsigned char d[32];
	char lenbuf[32];
	infty_sha256_init(&h);
	int n = snprintf(lenbuf, sizeof lenbuf, "%zu:", strlen(p->cumulative));
	infty_sha256_update(&h, lenbuf, (size_t)n);
	infty_sha256_update(&h, p->cumulative, strlen(p->cumulative));
	n = snprintf(lenbuf, sizeof lenbuf, "%zu:", strlen(p->update));
	infty_sha256_update(&h, lenbuf, (size_t)n);
	infty_sha256_update(&h, p->update, strlen(p->update));
	infty_sha256_final(&h, d);
	memcpy(p->hash, "sha256:", 7);
	infty_hex(d, 32, p->hash + 7);
	return 0;
}

void infty_sum_prompts_release(struct sum_prompts *p)
{
	infty_free(p->cumulative);
	infty_free(p->update);
	p->cumulative = p->update = NULL;
}

static int add_msg(struct json_object *arr, const char *role, const char *text, size_t len)
{
	struct json_object *m = json_object_new_object();
	struct json_object *content = json_object_new_string_len(text, (int)len);
	if (!m || !content) {
		json_object_put(m);
		json_object_put(content);
		return -1;
	}
	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", content);
	if (!json_object_object_get_ex(m, "role", NULL) || json_object_array_add(arr, m)) {
		json_object_put(m);
		return -1;
	}
	return 0;
}

/* Expand {question}, {summary} and {segment} in tpl into an owned string. */
static char *fill_template(const char *tpl, const char *q, const char *sum, const char *seg,
                           size_t seg_len, size_t *out_len)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;
	for (const char *s = tpl; *s;) {
		const char *add = s;
		size_t n = 1;
		if (*s == '{') {
			if (!strncmp(s, "{question}", 10)) {
				add = q, n = strlen(q), s += 10;
			} else if (!strncmp(s, "{summary}", 9)) {
				add = sum, n = strlen(sum), s += 9;
			} else if (!strncmp(s, "{segment}", 9)) {
				add = seg, n = seg_len, s += 9;
			} else {
				s++;
			}
		} else {
			s++;
		}
		if (infty_grow(&buf, &cap, len + n + 1, 1)) {
			infty_free(buf);
			return NULL;
		}
		memcpy(buf + len, add, n);
		len += n;
	}
	if (!buf && !(buf = infty_strdup("")))
		return NULL;
	buf[len] = '\0';
	*out_len = len;
	return buf;
}

struct json_object *infty_sum_req_messages(const struct sum_trace_view *t, size_t i,
                                           enum sum_mode mode, const struct sum_prompts *p,
                                           const char *prev_summary)
{
	struct json_object *arr = json_object_new_array();
	if (!arr)
		return NULL;
	if (mode == SUM_MODE_UPDATE && i > 0) {
		size_t len;
		char *u = fill_template(p->update, t->question, prev_summary ? prev_summary : "",
		                        t->seg[i], t->seg_len[i], &len);
		if (!u || add_msg(arr, "user", u, len)) {
			infty_free(u);
			json_object_put(arr);
			return NULL;
		}
		infty_free(u);
		return arr;
	}
	/* Cumulative: the assistant turn is everything reasoned so far. */
	size_t total = 0;
	for (size_t k = 0; k <= i; k++)
		total += t->seg_len[k] + 2;
	char *joined = infty_malloc(total + 1);
	if (!joined) {
		json_object_put(arr);
		return NULL;
	}
	size_t len = 0;
	for (size_t k = 0; k <= i; k++) {
		if (k) {
			memcpy(joined + len, "\n\n", 2);
			len += 2;
		}
		memcpy(joined + len, t->seg[k], t->seg_len[k]);
		len += t->seg_len[k];
	}
	joined[len] = '\0';
	int bad = add_msg(arr, "user", t->question, strlen(t->question)) ||
	          add_msg(arr, "assistant", joined, len) ||
	          add_msg(arr, "user", p->cumulative, strlen(p->cumulative));
	infty_free(joined);
	if (bad) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

int infty_sum_req_build(const struct sum_config *c, struct json_object *messages, int n_choices,
                        char key[72], char **body_out, size_t *body_len)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return INFTY_ENOMEM;
	json_object_object_add(o, "model", json_object_new_string(c->model ? c->model : ""));
	json_object_object_add(o, "messages", json_object_get(messages));
	json_object_object_add(o, "temperature", json_object_new_double(c->temperature));
	/*
	 * The key names the question asked, not how many answers one round trip
	 * brings back: candidates, not n, so --no-n and n hit the same entries.
	 * max_tokens is left out so a changed budget reuses results that fit it.
	 */
	json_object_object_add(o, "candidates", json_object_new_int(c->candidates));
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	size_t klen;
	const char *ks = json_object_to_json_string_length(o, flags, &klen);
	if (!ks) {
		json_object_put(o);
		return INFTY_ENOMEM;
	}
	char hex[65];
	infty_sha256_hex(ks, klen, hex);
	memcpy(key, "sha256:", 7);
	memcpy(key + 7, hex, 65);
	if (body_out) {
		json_object_object_del(o, "candidates");
		json_object_object_add(o, "max_tokens", json_object_new_int64(c->max_tokens));
		if (n_choices > 1)
			json_object_object_add(o, "n", json_object_new_int(n_choices));
		/* How the answer travels is not part of the key. */
		if (c->stream) {
			struct json_object *so = json_object_new_object();
			json_object_object_add(o, "stream", json_object_new_boolean(1));
			json_object_object_add(so, "include_usage", json_object_new_boolean(1));
			json_object_object_add(o, "stream_options", so);
		}
		size_t blen;
		const char *bs = json_object_to_json_string_length(o, flags, &blen);
		*body_out = bs ? infty_strndup(bs, blen) : NULL;
		if (!*body_out) {
			json_object_put(o);
			return INFTY_ENOMEM;
		}
		*body_len = blen;
	}
	json_object_put(o);
	return 0;
}

/*
 * A stand-in for the exact tokenizer: Qwen's BPE averages a little over
 * three bytes a token on English and LaTeX, so bytes/4 is a lower bound for
 * almost all text.  A lower bound is what the truncation check wants (it must
 * not flag an honest server), and the cache validity check adds a margin.
 */
long infty_sum_count_tokens(const char *text, size_t len)
{
	(void)text;
	return (long)((len + 3) / 4);
}

long infty_sum_count_messages(struct json_object *messages)
{
	long total = 0;
	size_t n = json_object_array_length(messages);
	for (size_t k = 0; k < n; k++) {
		struct json_object *m = json_object_array_get_idx(messages, k), *ct;
		if (json_object_object_get_ex(m, "content", &ct))
			total += infty_sum_count_tokens(json_object_get_string(ct),
			                                (size_t)json_object_get_string_len(ct));
	}
	return total;
}

void infty_sum_redact(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	/* Very short keys would redact ordinary words; they are not secrets anyway. */
	if (n < 4 || !s)
		return;
	for (char *p = strstr(s, secret); p; p = strstr(p + n, secret))
		memset(p, '*', n);
}
