/*
 * sum_classify.c - turn one HTTP outcome into a decision, for every server
 * shape listed in ../shared/reference/endpoints.md (OpenAI, vLLM, SGLang,
 * llama.cpp server, Ollama, TGI): retry, try more candidates, give up on the
 * record, or stop the run.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *infty_sum_class_name(enum sum_class c)
{
	switch (c) {
	case SUM_OK:
		return "ok";
	case SUM_RETRY:
		return "retry";
	case SUM_REJECT:
		return "reject";
	case SUM_PERMANENT:
		return "permanent";
	case SUM_FATAL:
		return "fatal";
	}
	return "?";
}

void infty_sum_verdict_release(struct sum_verdict *v)
{
	infty_free(v->text);
	v->text = NULL;
}

static int has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++)
		if (!strncasecmp(p, needle, n))
			return 1;
	return 0;
}

const char *infty_sum_validate(const char *text, size_t len, long max_chars)
{
	size_t k = 0;
	while (k < len && strchr(" \t\r\n", text[k]))
		k++;
	if (k == len)
		return "empty_summary";
	if (max_chars > 0 && len > (size_t)max_chars)
		return "summary_too_long";
	/* Tags of the training format would break the instances built from it. */
	static const char *const tags[] = {"<think>",    "</think>",  "<summary>",
	                                   "</summary>", "<history>", "</history>"};
	for (size_t t = 0; t < sizeof tags / sizeof *tags; t++)
		if (memmem(text, len, tags[t], strlen(tags[t])))
			return "tag_in_summary";
	return NULL;
}

/* Error message and code from any of the three body shapes, or from none. */
static void error_fields(struct json_object *root, const char **msg, const char **code,
                         const char **type)
{
	struct json_object *e, *x;
	*msg = *code = *type = "";
	if (!root || !json_object_is_type(root, json_type_object))
		return;
	if (json_object_object_get_ex(root, "error", &e)) {
		if (json_object_is_type(e, json_type_string)) { /* TGI, Ollama native */
			*msg = json_object_get_string(e);
			if (json_object_object_get_ex(root, "error_type", &x))
				*type = json_object_get_string(x);
			return;
		}
		if (json_object_is_type(e, json_type_object))
			root = e; /* nested: OpenAI, vLLM, llama.cpp */
	}
	/* Flat (SGLang, old vLLM) shares the field names with nested. */
	if (json_object_object_get_ex(root, "message", &x) && json_object_get_string(x))
		*msg = json_object_get_string(x);
	if (json_object_object_get_ex(root, "code", &x) && json_object_get_string(x))
		*code = json_object_get_string(x);
	if (json_object_object_get_ex(root, "type", &x) && json_object_get_string(x))
		*type = json_object_get_string(x);
}

static int is_context_overflow(const char *msg, const char *code, const char *type)
{
	static const char *const pat[] = {"context_length_exceeded",
	                                  "maximum context length",
	                                  "exceed_context_size",
	                                  "exceeds the available context size",
	                                  "context length",
	                                  "context window",
	                                  "inputs` tokens + `max_new_tokens",
	                                  "requested token count exceeds",
	                                  "prompt is too long",
	                                  "too many tokens"};
	for (size_t k = 0; k < sizeof pat / sizeof *pat; k++)
		if (has_ci(msg, pat[k]) || has_ci(code, pat[k]) || has_ci(type, pat[k]))
			return 1;
	return 0;
}

static void set(struct sum_verdict *v, enum sum_class cls, const char *reason)
{
	v->cls = cls;
	v->reason = reason;
}

/* One line of detail: the server's message, or the start of the body. */
static void fill_detail(struct sum_verdict *v, long status, const char *msg, const char *body)
{
	const char *src = *msg ? msg : body;
	int n = snprintf(v->detail, sizeof v->detail, "http %ld: ", status);
	if (n < 0 || (size_t)n >= sizeof v->detail)
		return;
	size_t k = 0;
	for (; src[k] && (size_t)n + k + 1 < sizeof v->detail; k++)
		v->detail[n + k] = (src[k] == '\n' || src[k] == '\r') ? ' ' : src[k];
	v->detail[n + k] = '\0';
}

static int classify_error_status(const struct sum_http_result *r, struct sum_verdict *v,
                                 struct json_object *root)
{
	const char *msg, *code, *type;
	error_fields(root, &msg, &code, &type);
	fill_detail(v, r->status, msg, r->body);
	long s = r->status;
	if (s == 401 || s == 403) {
		set(v, SUM_FATAL, "auth");
	} else if (s == 429 &&
	           (has_ci(code, "insufficient_quota") || has_ci(type, "insufficient_quota") ||
	            has_ci(msg, "exceeded your current quota"))) {
		set(v, SUM_FATAL, "insufficient_quota");
	} else if (s == 404) {
		/* A wrong model or a wrong URL: either way no record can succeed. */
		int model = has_ci(code, "model_not_found") || has_ci(msg, "model") ||
		            has_ci(type, "model");
		set(v, SUM_FATAL, model ? "unknown_model" : "not_found");
	} else if (s == 429) {
		set(v, SUM_RETRY, "rate_limited");
		v->throttle = 1;
	} else if (s == 503) {
		set(v, SUM_RETRY, "overloaded");
		v->throttle = 1;
	} else if (s == 408 || s == 409 || s == 425) {
		set(v, SUM_RETRY, "server_busy");
	} else if (s >= 500 || s == 424) { /* 424: TGI's GenerationError */
		set(v, SUM_RETRY, s == 502 || s == 504 ? "gateway_error" : "server_error");
	} else if (is_context_overflow(msg, code, type)) {
		set(v, SUM_PERMANENT, "context_overflow");
	} else if (s >= 400) {
		set(v, SUM_PERMANENT, "bad_request");
	} else {
		set(v, SUM_RETRY, "unexpected_status");
	}
	if (r->should_retry == 0 && v->cls == SUM_RETRY)
		set(v, SUM_PERMANENT, v->reason);
	return 0;
}

static const char *strfield(struct json_object *o, const char *k, size_t *len)
{
	struct json_object *x;
	if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(x);
	return json_object_get_string(x);
}

static long intfield(struct json_object *o, const char *k)
{
	struct json_object *x;
	if (!o || !json_object_object_get_ex(o, k, &x))
		return 0;
	return (long)json_object_get_int64(x);
}

int infty_sum_truncated(const struct sum_config *c, long prompt_tokens, long ours,
                        long server_count, int exact)
{
	if (prompt_tokens <= 0)
		return 0; /* no usage: nothing to compare */
	if (server_count > 0) {
		/*
		 * The server's count of the messages with its chat template is
		 * what prompt_tokens must be.  A count of the contents alone can
		 * differ by the few tokens a template merges or adds at the seams.
		 */
		long slack = exact ? 0 : server_count / 100 + 4;
		return prompt_tokens < server_count - slack;
	}
	return ours > 0 && (double)prompt_tokens < c->trunc_ratio * (double)ours;
}

long infty_sum_tokenize_count(const char *body, size_t len)
{
	struct json_object *o = NULL, *x;
	if (infty_json_parse_value(body, len, &o, NULL, 0) || !o)
		return -1;
	long n = -1;
	if (json_object_is_type(o, json_type_object)) {
		if (json_object_object_get_ex(o, "count", &x) &&
		    json_object_is_type(x, json_type_int))
			n = (long)json_object_get_int64(x);
		else if (json_object_object_get_ex(o, "tokens", &x) &&
		         json_object_is_type(x, json_type_array))
			n = (long)json_object_array_length(x);
	}
	json_object_put(o);
	return n;
}

static int classify_success(const struct sum_http_result *r, const struct sum_config *c,
                            long prompt_count, int can_verify, const struct sum_choice_check *chk,
                            struct sum_verdict *v, struct json_object *root)
{
	struct json_object *choices, *usage = NULL, *x;
	if (!root || !json_object_is_type(root, json_type_object)) {
		fill_detail(v, r->status, "", r->body);
		set(v, SUM_RETRY, "malformed_response");
		return 0;
	}
	if (json_object_object_get_ex(root, "error", &x)) {
		/* An error inside a 200 (a stream error event, some proxies). */
		const char *msg, *code, *type;
		error_fields(root, &msg, &code, &type);
		fill_detail(v, r->status, msg, r->body);
		set(v, is_context_overflow(msg, code, type) ? SUM_PERMANENT : SUM_RETRY,
		    is_context_overflow(msg, code, type) ? "context_overflow" : "error_in_body");
		return 0;
	}
	if (!json_object_object_get_ex(root, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0) {
		fill_detail(v, r->status, "no choices in response", "");
		set(v, SUM_RETRY, "malformed_response");
		return 0;
	}
	json_object_object_get_ex(root, "usage", &usage);
	v->prompt_tokens = intfield(usage, "prompt_tokens");
	v->completion_tokens = intfield(usage, "completion_tokens");
	if (usage && json_object_object_get_ex(usage, "completion_tokens_details", &x))
		v->reasoning_tokens = intfield(x, "reasoning_tokens");
	/* What the server's prefix cache served (vLLM, OpenAI): for the progress
	 * snapshot, which shows what the shared prefixes save. */
	if (usage && json_object_object_get_ex(usage, "prompt_tokens_details", &x))
		v->cached_tokens = intfield(x, "cached_tokens");
	v->choices = (int)json_object_array_length(choices);

	/*
	 * Ollama cuts the front of a long prompt and answers 200: only usage
	 * shows it.  prompt_count is a lower bound of the prompt in our
	 * tokenizer; a server that can count gets asked about anything under
	 * it (the engine does that), the others are judged by the margin.
	 */
	if (prompt_count > 0 && v->prompt_tokens > 0 && v->prompt_tokens < prompt_count &&
	    can_verify) {
		v->verify = 1;
	} else if (infty_sum_truncated(c, v->prompt_tokens, prompt_count, 0, 0)) {
		snprintf(
		    v->detail, sizeof v->detail,
		    "prompt_tokens %ld is below %.2f x our lower bound %ld: the server truncated "
		    "the prompt",
		    v->prompt_tokens, c->trunc_ratio, prompt_count);
		set(v, SUM_PERMANENT, "prompt_truncated");
		return 0;
	}

	const char *why = "length";
	for (int k = 0; k < v->choices; k++) {
		struct json_object *ch = json_object_array_get_idx(choices, (size_t)k), *msg;
		const char *fr = strfield(ch, "finish_reason", NULL);
		snprintf(v->finish_reason, sizeof v->finish_reason, "%s", fr ? fr : "null");
		if (!json_object_object_get_ex(ch, "message", &msg))
			continue;
		size_t clen = 0, rlen = 0;
		const char *content = strfield(msg, "content", &clen);
		const char *reasoning = strfield(msg, "reasoning", &rlen);
		if (!reasoning)
			reasoning = strfield(msg, "reasoning_content", &rlen);
		if (!content)
			content = "", clen = 0;
		/* A leading <think>...</think> is reasoning left in the content. */
		size_t skip = 0;
		while (skip < clen && strchr(" \t\r\n", content[skip]))
			skip++;
		long rtok = reasoning ? infty_sum_count_tokens(reasoning, rlen) : 0;
		if (clen - skip >= 7 && !memcmp(content + skip, "<think>", 7)) {
			const char *end = memmem(content + skip, clen - skip, "</think>", 8);
			if (end) {
				rtok += infty_sum_count_tokens(content + skip,
				                               (size_t)(end - content - skip));
				skip = (size_t)(end - content) + 8;
			}
		}
		while (skip < clen && strchr(" \t\r\n", content[skip]))
			skip++;
		size_t tlen = clen - skip;
		while (tlen && strchr(" \t\r\n", content[skip + tlen - 1]))
			tlen--;
		if (!fr || strcmp(fr, "stop")) {
			if (fr && strcmp(fr, "length"))
				why = "bad_finish_reason";
			continue;
		}
		const char *bad = chk && chk->raw ? NULL
		                                  : infty_sum_validate(content + skip, tlen,
		                                                       c->summary_max_chars);
		if (!bad && chk && chk->fn &&
		    (bad = chk->fn(chk->ctx, content + skip, tlen,
		                   v->reasoning_tokens ? v->reasoning_tokens : rtok)))
			v->passed_over++;
		if (bad) {
			why = bad;
			continue;
		}
		v->text = infty_strndup(content + skip, tlen);
		if (!v->text)
			return INFTY_ENOMEM;
		if (!v->reasoning_tokens)
			v->reasoning_tokens = rtok;
		/* One choice: usage is exact.  Several: our count plus a margin. */
		v->choice_tokens = v->choices == 1 && v->completion_tokens
		                       ? v->completion_tokens
		                       : (infty_sum_count_tokens(content, clen) + rtok) * 2;
		set(v, SUM_OK, "ok");
		return 0;
	}
	snprintf(v->detail, sizeof v->detail, "no acceptable choice among %d (%s)", v->choices,
	         why);
	set(v, SUM_REJECT, why);
	return 0;
}

static void transport(const struct sum_http_result *r, struct sum_verdict *v)
{
	const char *reason = "transport_error";
	if (r->curl_code == CURLE_OPERATION_TIMEDOUT)
		reason = "timeout";
	else if (r->curl_code == CURLE_COULDNT_CONNECT)
		reason = "connect_failed";
	else if (r->curl_code == CURLE_GOT_NOTHING || r->curl_code == CURLE_RECV_ERROR ||
	         r->curl_code == CURLE_SEND_ERROR || r->curl_code == CURLE_PARTIAL_FILE)
		reason = "connection_reset";
	else if (r->curl_code == CURLE_PEER_FAILED_VERIFICATION ||
	         r->curl_code == CURLE_SSL_CACERT_BADFILE)
		reason = "tls_verify";
	snprintf(v->detail, sizeof v->detail, "%s", curl_easy_strerror((CURLcode)r->curl_code));
	/* A certificate that does not verify will not verify on retry either. */
	set(v, !strcmp(reason, "tls_verify") ? SUM_FATAL : SUM_RETRY, reason);
}

int infty_sum_classify(const struct sum_http_result *r, const struct sum_config *c,
                       long prompt_count, int can_verify, struct sum_verdict *v)
{
	return infty_sum_classify_with(r, c, prompt_count, can_verify, NULL, v);
}

int infty_sum_classify_with(const struct sum_http_result *r, const struct sum_config *c,
                            long prompt_count, int can_verify, const struct sum_choice_check *chk,
                            struct sum_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->retry_after = r->retry_after;
	snprintf(v->finish_reason, sizeof v->finish_reason, "null");
	if (r->curl_code || r->status == 0) {
		transport(r, v);
		return 0;
	}
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return INFTY_ENOMEM;
	struct json_object *root = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		root = NULL;
	} else if (json_tokener_get_parse_end(tok) < r->body_len) {
		/* Trailing bytes after a value: not one JSON document. */
		const char *rest = r->body + json_tokener_get_parse_end(tok);
		while (*rest && strchr(" \t\r\n", *rest))
			rest++;
		if (*rest) {
			json_object_put(root);
			root = NULL;
		}
	}
	json_tokener_free(tok);
	int rc = r->status >= 200 && r->status < 300
	             ? classify_success(r, c, prompt_count, can_verify, chk, v, root)
	             : classify_error_status(r, v, root);
	json_object_put(root);
	return rc;
}
