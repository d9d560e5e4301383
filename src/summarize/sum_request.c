/*
 * sum_request.c - what infty-summarize sends: prompts from files, the
 * messages of each request, the body, and the canonical key that names a
 * request in the cache.
 */
#include "sum.h"

#include "infty/tokenizer.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void infty_sum_config_init(struct sum_config *c)
{
	memset(c, 0, sizeof *c);
	c->backend = SUM_BACKEND_OPENAI;
	c->mode = SUM_MODE_CUMULATIVE;
	/* Sampling as the reference: temperature 0.5, 2048 tokens, 4 choices. */
	c->temperature = 0.5;
	c->max_tokens = 2048;
	c->candidates = 4;
	c->use_n = 1;
	/*
	 * Streamed answers send a byte per token, so a server that went silent
	 * for a minute has stopped: 60 s bounds what a hang costs where a
	 * non-streamed answer, silent until complete, needs 300 s (main.c picks
	 * that when --no-stream is given without --stall-timeout).
	 */
	c->stream = 1;
	c->stall_timeout = 60;
	c->max_inflight = 64;
	c->ramp = 0.25;
	c->window = 0;
	c->connect_timeout = 10;
	c->max_retries = 8;
	c->backoff_base = 0.5;
	c->backoff_max = 30;
	c->retry_after_cap = 120;
	c->summary_max_chars = 16384;
	/* Below the smallest ratio of any tokenizer measured (docs/endpoints.md). */
	c->trunc_ratio = SUM_TRUNC_RATIO;
	c->server_count = SUM_COUNT_AUTO;
	c->max_body_bytes = (size_t)256 << 20;
	c->ready_timeout = 60;
	c->extractive_budget = 512;
	infty_sum_quality_config_init(&c->quality);
	infty_sum_quality_policy_default(&c->quality, 1);
	c->judge_threshold = 4;
	c->judge_rounds = 3;
}

int infty_sum_prompt_file(const char *dir, const char *name, char **out, char *detail, size_t dlen)
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
	size_t len;
	char *buf = infty_read_all(f, &len);
	int err = errno;
	fclose(f);
	if (!buf && err == ENOMEM)
		return INFTY_ENOMEM;
	if (!buf) {
		snprintf(detail, dlen, "%s: read error", path);
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
	int rc = infty_sum_prompt_file(dir, "cumulative.txt", &p->cumulative, detail, dlen);
	if (!rc)
		rc = infty_sum_prompt_file(dir, "update.txt", &p->update, detail, dlen);
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

int infty_sum_add_message(struct json_object *arr, const char *role, const char *text, size_t len)
{
	struct json_object *m = json_object_new_object();
	struct json_object *content = json_object_new_string_len(text, (int)len);
	if (!m || !content) {
		json_object_put(m);
		json_object_put(content);
		return INFTY_ENOMEM;
	}
	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", content);
	if (!json_object_object_get_ex(m, "role", NULL) || json_object_array_add(arr, m)) {
		json_object_put(m);
		return INFTY_ENOMEM;
	}
	return 0;
}

char *infty_sum_fill(const char *tpl, const struct sum_slot *slots, size_t n, size_t *out_len)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;
	for (const char *s = tpl; *s;) {
		const char *add = s++;
		size_t step = 1;
		for (size_t k = 0; *add == '{' && k < n; k++) {
			size_t nl = strlen(slots[k].name);
			if (!strncmp(add, slots[k].name, nl)) {
				s = add + nl;
				add = slots[k].value, step = slots[k].len;
				break;
			}
		}
		if (infty_grow(&buf, &cap, len + step + 1, 1)) {
			infty_free(buf);
			return NULL;
		}
		memcpy(buf + len, add, step);
		len += step;
	}
	if (!buf && !(buf = infty_strdup("")))
		return NULL;
	buf[len] = '\0';
	if (out_len)
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
		const char *sum = prev_summary ? prev_summary : "";
		const struct sum_slot slots[] = {
		    {"{question}", t->question, strlen(t->question)},
		    {"{summary}", sum, strlen(sum)},
		    {"{segment}", t->seg[i], t->seg_len[i]},
		};
		size_t len;
		char *u = infty_sum_fill(p->update, slots, 3, &len);
		if (!u || infty_sum_add_message(arr, "user", u, len)) {
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
	int bad = infty_sum_add_message(arr, "user", t->question, strlen(t->question)) ||
	          infty_sum_add_message(arr, "assistant", joined, len) ||
	          infty_sum_add_message(arr, "user", p->cumulative, strlen(p->cumulative));
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
	if (key) {
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
	}
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

/* The JSON text of s as a string value, without its quotes (owned). */
static char *escaped(const char *s, size_t len, size_t *out_len)
{
	struct json_object *o = json_object_new_string_len(s, (int)len);
	if (!o)
		return NULL;
	size_t n;
	const char *j = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	char *r = j && n >= 2 ? infty_strndup(j + 1, n - 2) : NULL;
	if (r)
		*out_len = n - 2;
	json_object_put(o);
	return r;
}

/* Find needle in hay; its end offset, or 0 when absent. */
static size_t after(const char *hay, size_t hl, const char *needle)
{
	const char *p = memmem(hay, hl, needle, strlen(needle));
	return p ? (size_t)(p - hay) + strlen(needle) : 0;
}

int infty_sum_keyparts_init(struct sum_keyparts *kp, const struct sum_config *c,
                            const struct sum_prompts *p)
{
	memset(kp, 0, sizeof *kp);
	/*
	 * The key text of a request with an empty question and an empty
	 * assistant turn, cut where those two go.  Strings are escaped, so a
	 * raw quote only occurs in the structure and the markers below are found
	 * there, never inside the model name or the instruction.
	 */
	struct sum_trace_view v = {"", 1, (const char *[]){""}, (size_t[]){0}, NULL};
	struct json_object *m = infty_sum_req_messages(&v, 0, SUM_MODE_CUMULATIVE, p, NULL);
	if (!m)
		return INFTY_ENOMEM;
	struct json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(m);
		return INFTY_ENOMEM;
	}
	json_object_object_add(o, "model", json_object_new_string(c->model ? c->model : ""));
	json_object_object_add(o, "messages", m);
	json_object_object_add(o, "temperature", json_object_new_double(c->temperature));
	json_object_object_add(o, "candidates", json_object_new_int(c->candidates));
	size_t n;
	const char *s = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	int rc = INFTY_EINVAL;
	size_t q = s ? after(s, n, "\"messages\":[{\"role\":\"user\",\"content\":\"") : 0;
	size_t a = q ? after(s + q, n - q, "\"},{\"role\":\"assistant\",\"content\":\"") : 0;
	if (q && a) {
		a += q;
		size_t mid = a - q;
		kp->head = infty_strndup(s, q);
		kp->mid = infty_strndup(s + q, mid);
		kp->tail = infty_strndup(s + a, n - a);
		kp->head_len = q, kp->mid_len = mid, kp->tail_len = n - a;
		size_t sl = 0;
		char *sep = escaped("\n\n", 2, &sl);
		rc = kp->head && kp->mid && kp->tail && sep && sl < sizeof kp->sep ? 0
		                                                                   : INFTY_ENOMEM;
		if (!rc) {
			memcpy(kp->sep, sep, sl);
			kp->sep_len = sl;
		}
		infty_free(sep);
	}
	json_object_put(o);
	if (rc)
		infty_sum_keyparts_release(kp);
	return rc;
}

void infty_sum_keyparts_release(struct sum_keyparts *kp)
{
	infty_free(kp->head);
	infty_free(kp->mid);
	infty_free(kp->tail);
	kp->head = kp->mid = kp->tail = NULL;
}

int infty_sum_keyer_begin(struct sum_keyer *k, const struct sum_keyparts *kp, const char *question)
{
	size_t ql;
	char *q = escaped(question, strlen(question), &ql);
	if (!q)
		return INFTY_ENOMEM;
	infty_sha256_init(&k->h);
	infty_sha256_update(&k->h, kp->head, kp->head_len);
	infty_sha256_update(&k->h, q, ql);
	infty_sha256_update(&k->h, kp->mid, kp->mid_len);
	infty_free(q);
	k->next = 0;
	return 0;
}

int infty_sum_keyer_key(struct sum_keyer *k, const struct sum_keyparts *kp,
                        const struct sum_trace_view *t, size_t i, char key[72])
{
	if (i + 1 < k->next || i >= t->n)
		return INFTY_EINVAL;
	for (; k->next <= i; k->next++) {
		size_t el;
		char *e = escaped(t->seg[k->next], t->seg_len[k->next], &el);
		if (!e)
			return INFTY_ENOMEM;
		if (k->next)
			infty_sha256_update(&k->h, kp->sep, kp->sep_len);
		infty_sha256_update(&k->h, e, el);
		infty_free(e);
	}
	struct infty_sha256 h = k->h;
	unsigned char d[32];
	infty_sha256_update(&h, kp->tail, kp->tail_len);
	infty_sha256_final(&h, d);
	memcpy(key, "sha256:", 7);
	infty_hex(d, 32, key + 7);
	return 0;
}

const char *infty_sum_tokenizer_path(const struct sum_config *c)
{
	if (c->tokenizer)
		return c->tokenizer;
	if (c->no_tokenizer)
		return NULL;
	const char *path = infty_tokenizer_default_path();
	return path && access(path, R_OK) == 0 ? path : NULL;
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

/*
 * What digit runs cost Qwen beyond a tokenizer that groups digits by three:
 * Qwen's pre-tokenizer makes every digit a token, Llama-3's and DeepSeek-V3's
 * take up to three, so a run of L digits is L tokens to us and ceil(L/3) to
 * them.  Arithmetic-heavy traces are where their counts fall furthest below
 * ours (docs/endpoints.md), and this takes that gap out of our bound.
 */
long infty_sum_digit_discount(const char *s, size_t len)
{
	long d = 0;
	for (size_t k = 0; k < len;) {
		if (s[k] < '0' || s[k] > '9') {
			k++;
			continue;
		}
		size_t a = k;
		while (k < len && s[k] >= '0' && s[k] <= '9')
			k++;
		long run = (long)(k - a);
		d += run - (run + 2) / 3;
	}
	return d;
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
