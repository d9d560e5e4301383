/*
 * sum_http.c - every request of infty-summarize goes through one curl_multi
 * loop: a ready queue and a delay heap (backoff, Retry-After), an in-flight
 * window that halves when a server says 429/503 and grows back by one per
 * window of successes (AIMD), --rpm/--tpm token buckets, and round robin over
 * the endpoints.  Connections are kept alive and HTTP/2 is used where TLS
 * offers it; easy handles are reused so steady state allocates little.
 *
 * The loop is curl's socket API over epoll: only sockets with activity are
 * touched, where curl_multi_perform would poll every transfer each turn
 * (with 256 in flight that polling was a third of the client's CPU).
 *
 * Queued requests are small items; a request's body is asked of the engine
 * (prepare) only when a slot is free, and a cap on the bytes of bodies in
 * flight keeps memory bounded even for a trace whose cumulative requests
 * are each the size of the whole trace.
 */
#include "sum.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* Bodies bigger than this are not chat completions; stop reading them. */
#define MAX_BODY (16u << 20)

struct item {
	void *job;
	int route; /* enum sum_route */
	int ep;    /* -1: the next endpoint in turn */
	double not_before;
	long tokens;
};

struct xfer {
	CURL *e;
	struct item it;
	char *buf; /* owned response body */
	size_t len, cap;
	double retry_after;
	int should_retry;
	double started;
	int overflow;
	/* Stall detection: bytes seen so far and when the count last moved. */
	curl_off_t seen;
	double last_move, stall;
	int stalled;
	int active;          /* added to the multi handle */
	size_t ep;           /* index of the endpoint it went to */
	size_t body_len;     /* of the request, for the in-flight byte cap */
	struct sum_sse *sse; /* owned: set when the answer is an event stream */
	size_t seen_body;
	char *sse_body; /* owned: the rebuilt body of a stream */
};

struct sum_http {
	const struct sum_config *c;
	sum_http_prepare_fn prepare;
	sum_http_done_fn done;
	void *ctx;
	CURLM *m;
	struct curl_slist *hdrs;
	char **urls;        /* owned: endpoint + "/chat/completions" */
	char **tok_urls;    /* owned: the server root + "/tokenize" */
	char **models_urls; /* owned: endpoint + "/models" */
	enum sum_count_api *count_api;
	size_t n_urls, next_url;
	size_t inflight_bytes; /* request bodies in flight */
	/* Circuit breaker per endpoint: consecutive failures, paused until. */
	int *fails;
	double *paused_until, *pause_len;
	size_t cur_ep;   /* endpoint of the transfer being reported to done() */
	uint64_t pauses; /* times an endpoint was paused */
	/* Ready FIFO (ring) and delay heap ordered by not_before. */
	struct item *ring;
	size_t rcap, rhead, rlen;
	struct item *heap;
	size_t hcap, hlen;
	struct xfer **idle; /* reusable transfers */
	size_t nidle, idlecap;
	struct xfer **all; /* owned: every transfer ever made */
	size_t nall, allcap;
	size_t inflight;
	double window, last_cut;
	double first_send; /* when the first request went out, for the ramp */
	int ep;            /* epoll set of curl's sockets */
	double timer_at;   /* when curl wants socket_action(TIMEOUT), -1: never */
	double last_scan;  /* last stall scan */
	double req_tokens, tok_tokens, last_refill; /* rate buckets */
};

double infty_sum_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	struct xfer *x = u;
	size_t add = sz * n;
	if (x->sse) {
		x->seen_body += add;
		return x->seen_body > 4 * (size_t)MAX_BODY || infty_sum_sse_feed(x->sse, p, add)
		           ? 0
		           : add;
	}
	if (x->len + add > MAX_BODY) {
		x->overflow = 1;
		return 0;
	}
	if (infty_grow(&x->buf, &x->cap, x->len + add + 1, 1))
		return 0;
	memcpy(x->buf + x->len, p, add);
	x->len += add;
	return add;
}

/* The clock read once per step (one loop runs per process). */
static double step_now;

/*
 * Our own stall timeout: curl's LOW_SPEED_* averages the speed over a few
 * seconds, so a 1 s setting fires after about 6 s.  Here a transfer is
 * dropped once no byte moved in either direction for stall seconds.
 */
static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal, (void)ultotal;
	struct xfer *x = u;
	/* Called for every transfer on every turn: the turn's clock is enough. */
	double now = step_now;
	if (dlnow + ulnow != x->seen) {
		x->seen = dlnow + ulnow;
		x->last_move = now;
		return 0;
	}
	if (x->stall > 0 && now - x->last_move > x->stall) {
		x->stalled = 1;
		return 1;
	}
	return 0;
}

/* Retry-After in seconds or an HTTP date, retry-after-ms in milliseconds. */
static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = sz * n;
	char v[128];
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t name = (size_t)(colon - p), vl = len - name - 1;
	const char *val = colon + 1;
	while (vl && (*val == ' ' || *val == '\t'))
		val++, vl--;
	while (vl && (val[vl - 1] == '\r' || val[vl - 1] == '\n' || val[vl - 1] == ' '))
		vl--;
	if (vl >= sizeof v)
		return len;
	memcpy(v, val, vl);
	v[vl] = '\0';
	char *end;
	if (name == 14 && !strncasecmp(p, "retry-after-ms", 14)) {
		double ms = strtod(v, &end);
		if (end != v && ms >= 0)
			x->retry_after = ms / 1000.0; /* the finer one wins */
	} else if (name == 11 && !strncasecmp(p, "retry-after", 11) && x->retry_after < 0) {
		double s = strtod(v, &end);
		if (end != v && !*end && s >= 0) {
			x->retry_after = s;
		} else {
			time_t t = curl_getdate(v, NULL);
			if (t != -1)
				x->retry_after =
				    difftime(t, time(NULL)) > 0 ? difftime(t, time(NULL)) : 0;
		}
	} else if (name == 14 && !strncasecmp(p, "x-should-retry", 14)) {
		x->should_retry = !strcasecmp(v, "true");
	} else if (name == 12 && !strncasecmp(p, "content-type", 12) &&
	           !strncasecmp(v, "text/event-stream", 17) && !x->sse) {
		if (!(x->sse = infty_sum_sse_new()))
			return 0;
	}
	return len;
}

static void heap_push(struct sum_http *h, struct item it)
{
	size_t k = h->hlen++;
	while (k) {
		size_t parent = (k - 1) / 2;
		if (h->heap[parent].not_before <= it.not_before)
			break;
		h->heap[k] = h->heap[parent];
		k = parent;
	}
	h->heap[k] = it;
}

static struct item heap_pop(struct sum_http *h)
{
	struct item top = h->heap[0], last = h->heap[--h->hlen];
	size_t k = 0;
	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= h->hlen)
			break;
		if (c + 1 < h->hlen && h->heap[c + 1].not_before < h->heap[c].not_before)
			c++;
		if (last.not_before <= h->heap[c].not_before)
			break;
		h->heap[k] = h->heap[c];
		k = c;
	}
	if (h->hlen)
		h->heap[k] = last;
	return top;
}

static int ring_push(struct sum_http *h, struct item it)
{
	if (h->rlen == h->rcap) {
		size_t ncap = h->rcap ? h->rcap * 2 : 256;
		struct item *n = infty_malloc(ncap * sizeof *n);
		if (!n)
			return INFTY_ENOMEM;
		for (size_t k = 0; k < h->rlen; k++)
			n[k] = h->ring[(h->rhead + k) % h->rcap];
		infty_free(h->ring);
		h->ring = n, h->rcap = ncap, h->rhead = 0;
	}
	h->ring[(h->rhead + h->rlen++) % h->rcap] = it;
	return 0;
}

/* curl tells which sockets to watch; mirror that in the epoll set. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *u, void *sp)
{
	(void)e, (void)sp;
	struct sum_http *h = u;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(h->ep, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	struct epoll_event ev = {0};
	ev.data.fd = fd;
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	if (epoll_ctl(h->ep, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
		epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

static int on_timer(CURLM *m, long ms, void *u)
{
	(void)m;
	struct sum_http *h = u;
	h->timer_at = ms < 0 ? -1 : infty_sum_now() + (double)ms / 1000.0;
	return 0;
}

/*
 * path under a base URL given with or without its trailing '/'.  At the
 * server root, ".../v1" loses its "/v1" (/tokenize lives beside it).
 */
static char *join_url(const char *base, const char *path, int at_root)
{
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (at_root && bl >= 3 && !strncmp(base + bl - 3, "/v1", 3))
		bl -= 3;
	size_t pl = strlen(path);
	char *u = infty_malloc(bl + pl + 1);
	if (!u)
		return NULL;
	memcpy(u, base, bl);
	memcpy(u + bl, path, pl + 1);
	return u;
}

struct sum_http *infty_sum_http_new(const struct sum_config *c, sum_http_prepare_fn prepare,
                                    sum_http_done_fn done, void *ctx)
{
	static int global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return NULL;
		global_done = 1;
	}
	struct sum_http *h = infty_calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->c = c, h->prepare = prepare, h->done = done, h->ctx = ctx;
	h->window = c->max_inflight;
	h->last_refill = infty_sum_now();
	h->req_tokens = c->rpm > 0 ? (c->rpm / 60 > 1 ? c->rpm / 60 : 1) : 0;
	h->tok_tokens = c->tpm > 0 ? c->tpm / 60 : 0;
	h->timer_at = -1;
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	h->m = curl_multi_init();
	if (h->ep < 0)
		goto fail;
	size_t ne = c->n_endpoints ? c->n_endpoints : 1;
	h->urls = infty_calloc(ne, sizeof *h->urls);
	h->tok_urls = infty_calloc(ne, sizeof *h->tok_urls);
	h->models_urls = infty_calloc(ne, sizeof *h->models_urls);
	h->count_api = infty_calloc(ne, sizeof *h->count_api);
	h->fails = infty_calloc(ne, sizeof *h->fails);
	h->paused_until = infty_calloc(ne, sizeof *h->paused_until);
	h->pause_len = infty_calloc(ne, sizeof *h->pause_len);
	if (!h->m || !h->urls || !h->tok_urls || !h->models_urls || !h->count_api || !h->fails ||
	    !h->paused_until || !h->pause_len)
		goto fail;
	for (size_t k = 0; k < c->n_endpoints; k++) {
		const char *base = c->endpoints[k];
		h->n_urls++;
		if (!(h->urls[k] = join_url(base, "/chat/completions", 0)) ||
		    !(h->tok_urls[k] = join_url(base, "/tokenize", 1)) ||
		    !(h->models_urls[k] = join_url(base, "/models", 0)))
			goto fail;
	}
	h->hcap = 0;
	curl_multi_setopt(h->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->m, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->m, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->m, CURLMOPT_MAXCONNECTS, (long)c->max_inflight + 8);
	h->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* No 100-continue round trip before every body over 1 KiB. */
	h->hdrs = h->hdrs ? curl_slist_append(h->hdrs, "Expect:") : NULL;
	if (h->hdrs && c->api_key && *c->api_key) {
		size_t kl = strlen(c->api_key) + 32;
		char *a = infty_malloc(kl);
		if (!a)
			goto fail;
		snprintf(a, kl, "Authorization: Bearer %s", c->api_key);
		struct curl_slist *n = curl_slist_append(h->hdrs, a);
		memset(a, 0, kl); /* do not leave the key in freed memory */
		infty_free(a);
		h->hdrs = n;
	}
	if (!h->hdrs)
		goto fail;
	return h;
fail:
	infty_sum_http_free(h);
	return NULL;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	curl_easy_cleanup(x->e);
	infty_free(x->buf);
	infty_sum_sse_free(x->sse);
	infty_free(x->sse_body);
	infty_free(x);
}

void infty_sum_http_free(struct sum_http *h)
{
	if (!h)
		return;
	/* Transfers still running are abandoned (a fatal stop). */
	for (size_t k = 0; k < h->nall; k++) {
		if (h->m)
			curl_multi_remove_handle(h->m, h->all[k]->e);
		xfer_free(h->all[k]);
	}
	if (h->m)
		curl_multi_cleanup(h->m);
	if (h->ep > 0)
		close(h->ep);
	infty_free(h->all);
	infty_free(h->idle);
	for (size_t k = 0; k < h->n_urls; k++) {
		infty_free(h->urls[k]);
		infty_free(h->tok_urls ? h->tok_urls[k] : NULL);
		infty_free(h->models_urls ? h->models_urls[k] : NULL);
	}
	infty_free(h->urls);
	infty_free(h->tok_urls);
	infty_free(h->models_urls);
	infty_free(h->count_api);
	infty_free(h->fails);
	infty_free(h->paused_until);
	infty_free(h->pause_len);
	curl_slist_free_all(h->hdrs);
	infty_free(h->ring);
	infty_free(h->heap);
	infty_free(h);
}

int infty_sum_http_submit(struct sum_http *h, void *job, enum sum_route route, int ep,
                          double not_before, long tokens)
{
	struct item it = {job, (int)route, ep, not_before, tokens};
	if (not_before <= infty_sum_now())
		return ring_push(h, it);
	if (h->hlen == h->hcap && infty_grow(&h->heap, &h->hcap, h->hlen + 1, sizeof *h->heap))
		return INFTY_ENOMEM;
	heap_push(h, it);
	return 0;
}

static struct xfer *get_xfer(struct sum_http *h)
{
	if (h->nidle)
		return h->idle[--h->nidle];
	struct xfer *x = infty_calloc(1, sizeof *x);
	if (!x)
		return NULL;
	if (!(x->e = curl_easy_init()) ||
	    infty_grow(&h->all, &h->allcap, h->nall + 1, sizeof *h->all)) {
		xfer_free(x);
		return NULL;
	}
	h->all[h->nall++] = x;
	const struct sum_config *c = h->c;
	CURL *e = x->e;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Bodies go in one piece from memory; a 64 KiB upload buffer per handle is waste. */
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout * 1000));
	if (c->total_timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->total_timeout * 1000));
	/*
	 * A stall timeout rather than a total one: a slow but live server keeps
	 * its transfer, a peer that went silent loses it after stall seconds.
	 */
	x->stall = c->stall_timeout;
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	return x;
}

/* Refill the --rpm/--tpm buckets; 1 s of burst at most. */
static void refill(struct sum_http *h, double now)
{
	double dt = now - h->last_refill;
	h->last_refill = now;
	if (h->c->rpm > 0) {
		double cap = h->c->rpm / 60 > 1 ? h->c->rpm / 60 : 1;
		h->req_tokens += dt * h->c->rpm / 60;
		if (h->req_tokens > cap)
			h->req_tokens = cap;
	}
	if (h->c->tpm > 0) {
		h->tok_tokens += dt * h->c->tpm / 60;
		if (h->tok_tokens > h->c->tpm / 60)
			h->tok_tokens = h->c->tpm / 60;
	}
}

/* Whether the buckets allow a request of this many tokens now. */
static int allowed(struct sum_http *h, long tokens)
{
	if (h->c->rpm > 0 && h->req_tokens < 1)
		return 0;
	/* A request bigger than the bucket goes when the bucket is full. */
	if (h->c->tpm > 0 && h->tok_tokens < (double)tokens && h->tok_tokens < h->c->tpm / 60)
		return 0;
	return 1;
}

/* Start it (0), or nothing to send any more (1), or an error. */
static int start(struct sum_http *h, struct item it)
{
	const char *body;
	size_t blen;
	int rc = h->prepare(it.job, &body, &blen, h->ctx);
	if (rc)
		return rc;
	struct xfer *x = get_xfer(h);
	if (!x)
		return INFTY_ENOMEM;
	x->it = it;
	x->len = 0;
	x->retry_after = -1;
	x->should_retry = -1;
	x->overflow = 0;
	x->started = x->last_move = step_now = infty_sum_now();
	x->seen = 0;
	x->stalled = 0;
	x->seen_body = 0;
	size_t ep = h->next_url;
	if (it.ep >= 0 && (size_t)it.ep < h->n_urls) {
		ep = (size_t)it.ep; /* a follow-up for the server that answered */
	} else {
		/* Round robin over the endpoints that are not paused (all paused: any). */
		for (size_t k = 0; k < h->n_urls; k++) {
			size_t cand = (h->next_url + k) % h->n_urls;
			if (h->paused_until[cand] <= step_now) {
				ep = cand;
				break;
			}
		}
		h->next_url = (ep + 1) % h->n_urls;
	}
	x->ep = ep;
	curl_easy_setopt(x->e, CURLOPT_URL,
	                 it.route == SUM_ROUTE_TOKENIZE ? h->tok_urls[ep] : h->urls[ep]);
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, body);
	x->body_len = blen;
	h->inflight_bytes += blen;
	if (curl_multi_add_handle(h->m, x->e))
		return INFTY_EHTTP;
	x->active = 1;
	h->inflight++;
	if (h->c->rpm > 0)
		h->req_tokens -= 1;
	if (h->c->tpm > 0)
		h->tok_tokens -= (double)it.tokens;
	return 0;
}

static int dispatch(struct sum_http *h, double now)
{
	while (h->hlen && h->heap[0].not_before <= now)
		if (ring_push(h, heap_pop(h)))
			return INFTY_ENOMEM;
	refill(h, now);
	size_t cap = (size_t)h->window;
	/*
	 * Ramp up over the first ramp seconds instead of opening with
	 * max_inflight requests at once: a batch sent together comes back
	 * together and stays in lockstep, and each burst queues on the server
	 * and on us.  Spread starts keep an even stream of requests.
	 */
	if (h->c->ramp > 0 && h->first_send > 0 && now - h->first_send < h->c->ramp) {
		size_t r = (size_t)(h->c->max_inflight * (now - h->first_send) / h->c->ramp);
		if (r < cap)
			cap = r;
	}
	if (cap < 1)
		cap = 1;
	/* One body always goes, however big: a huge request waits, never blocks. */
	while (h->rlen && h->inflight < cap &&
	       (!h->inflight || h->inflight_bytes < h->c->max_body_bytes)) {
		struct item it = h->ring[h->rhead];
		if (!allowed(h, it.tokens))
			break;
		/* Off the ring first: prepare may submit (update mode's next summary). */
		h->rhead = (h->rhead + 1) % h->rcap;
		h->rlen--;
		int rc = start(h, it);
		if (rc < 0)
			return rc;
		if (rc == 0 && h->first_send == 0)
			h->first_send = now;
	}
	return 0;
}

static void finish(struct sum_http *h, struct xfer *x, CURLcode code)
{
	curl_multi_remove_handle(h->m, x->e);
	x->active = 0;
	h->inflight--;
	h->inflight_bytes -= x->body_len;
	struct sum_http_result r = {0};
	long status = 0;
	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	r.curl_code = x->stalled ? CURLE_OPERATION_TIMEDOUT : (int)code;
	r.status = r.curl_code ? 0 : status;
	if (infty_grow(&x->buf, &x->cap, x->len + 1, 1) == 0)
		x->buf[x->len] = '\0';
	r.body = x->buf ? x->buf : "";
	r.body_len = x->buf ? x->len : 0;
	if (x->sse) {
		size_t bl = 0;
		x->sse_body = infty_sum_sse_body(x->sse, &bl);
		r.body = x->sse_body ? x->sse_body : "";
		r.body_len = x->sse_body ? bl : 0;
	}
	r.retry_after = x->retry_after;
	r.should_retry = x->should_retry;
	double lat = infty_sum_now() - x->started;
	void *job = x->it.job;
	h->cur_ep = x->ep;
	h->done(job, &r, lat, h->ctx);
	infty_sum_sse_free(x->sse);
	infty_free(x->sse_body);
	x->sse = NULL, x->sse_body = NULL;
	/* Keep the handle (and its connection) for the next request. */
	if (x->cap > (1u << 20)) {
		infty_free(x->buf);
		x->buf = NULL, x->cap = 0;
	}
	/* idle never holds more than all, which already has room for it. */
	if (infty_grow(&h->idle, &h->idlecap, h->nidle + 1, sizeof *h->idle) == 0)
		h->idle[h->nidle++] = x;
}

/* Hand curl the expired timer, if any. */
static int kick(struct sum_http *h)
{
	int running;
	if (h->timer_at >= 0 && infty_sum_now() >= h->timer_at) {
		h->timer_at = -1;
		if (curl_multi_socket_action(h->m, CURL_SOCKET_TIMEOUT, 0, &running))
			return INFTY_EHTTP;
	}
	return 0;
}

/* Drop transfers that moved no byte for stall seconds (checked twice a second). */
static void scan_stalls(struct sum_http *h, double now)
{
	if (h->c->stall_timeout <= 0 || now - h->last_scan < 0.5)
		return;
	h->last_scan = now;
	for (size_t k = 0; k < h->nall; k++) {
		struct xfer *x = h->all[k];
		if (x->active && now - x->last_move > x->stall) {
			x->stalled = 1;
			finish(h, x, CURLE_OPERATION_TIMEDOUT);
		}
	}
}

int infty_sum_http_step(struct sum_http *h, double max_wait)
{
	double now = infty_sum_now();
	step_now = now;
	int rc = dispatch(h, now);
	if (rc || (rc = kick(h)))
		return rc;
	/* Sleep until a socket is ready, curl's timer or a delayed request is due, or max_wait. */
	double wait = max_wait;
	if (h->hlen && h->heap[0].not_before - now < wait)
		wait = h->heap[0].not_before - now;
	if (h->timer_at >= 0 && h->timer_at - now < wait)
		wait = h->timer_at - now;
	if (h->rlen && h->inflight < (size_t)h->window && wait > 0.002)
		wait = 0.002; /* waiting on a rate bucket or the ramp */
	if (wait < 0)
		wait = 0;
	struct epoll_event ev[256];
	int n = epoll_wait(h->ep, ev, 256, (int)ceil(wait * 1000));
	if (n < 0 && errno != EINTR)
		return INFTY_EHTTP;
	step_now = infty_sum_now();
	int running;
	for (int k = 0; k < n; k++) {
		int flags = (ev[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		            (ev[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		            (ev[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		if (curl_multi_socket_action(h->m, ev[k].data.fd, flags, &running))
			return INFTY_EHTTP;
	}
	if ((rc = kick(h)))
		return rc;
	CURLMsg *msg;
	int left, any = 0;
	while ((msg = curl_multi_info_read(h->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		finish(h, x, msg->data.result);
		/*
		 * Answers arrive in bursts (a batch sent together comes back
		 * together).  Refill and send every few answers instead of after
		 * the whole burst, so the server is never left idle meanwhile.
		 */
		if (++any % 8 == 0 && ((rc = dispatch(h, infty_sum_now())) || (rc = kick(h))))
			return rc;
	}
	scan_stalls(h, step_now);
	return any ? dispatch(h, infty_sum_now()) : 0;
}

void infty_sum_http_throttle(struct sum_http *h)
{
	double now = infty_sum_now();
	/* One cut per second: a burst of 429s is one signal, not many. */
	if (now - h->last_cut < 1.0)
		return;
	h->last_cut = now;
	h->window /= 2;
	if (h->window < 1)
		h->window = 1;
}

void infty_sum_http_success(struct sum_http *h)
{
	if (h->window < h->c->max_inflight) {
		h->window += 1.0 / h->window;
		if (h->window > h->c->max_inflight)
			h->window = h->c->max_inflight;
	}
}

/*
 * After 5 failures in a row (transport errors, 5xx) an endpoint gets no new
 * requests for 10 s, doubling up to 5 min while it keeps failing: a dead
 * replica then costs a few requests, not a share of every retry.  With one
 * endpoint there is nowhere else to go, and backoff does the pacing.
 */
void infty_sum_http_outcome(struct sum_http *h, int ok)
{
	size_t e = h->cur_ep;
	if (ok) {
		h->fails[e] = 0;
		h->pause_len[e] = 0;
		return;
	}
	if (++h->fails[e] < 5 || h->n_urls < 2)
		return;
	h->fails[e] = 0;
	h->pause_len[e] = h->pause_len[e] > 0 ? h->pause_len[e] * 2 : 10;
	if (h->pause_len[e] > 300)
		h->pause_len[e] = 300;
	h->paused_until[e] = infty_sum_now() + h->pause_len[e];
	h->pauses++;
}

uint64_t infty_sum_http_pauses(const struct sum_http *h)
{
	return h->pauses;
}

size_t infty_sum_http_inflight(const struct sum_http *h)
{
	return h->inflight;
}

size_t infty_sum_http_queued(const struct sum_http *h)
{
	return h->rlen + h->hlen;
}

double infty_sum_http_window(const struct sum_http *h)
{
	return h->window;
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p, (void)u;
	return sz * n;
}

/* The blocking calls at start give up at once on SIGTERM (a stop within a second). */
static int stop_check(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)u, (void)a, (void)b, (void)c, (void)d;
	return infty_sum_engine_stopping();
}

static void blocking_opts(CURL *e)
{
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, stop_check);
}

int infty_sum_http_current_ep(const struct sum_http *h)
{
	return (int)h->cur_ep;
}

int infty_sum_http_ready(struct sum_http *h, double timeout, char *detail, size_t dlen)
{
	double deadline = infty_sum_now() + timeout;
	for (size_t k = 0; k < h->n_urls; k++) {
		const char *url = h->models_urls[k];
		for (;;) {
			CURL *e = curl_easy_init();
			if (!e)
				return INFTY_ENOMEM;
			curl_easy_setopt(e, CURLOPT_URL, url);
			curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
			curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
			blocking_opts(e);
			CURLcode cc = curl_easy_perform(e);
			long status = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_cleanup(e);
			if (!cc && (status == 401 || status == 403)) {
				snprintf(detail, dlen, "%s: http %ld: the API key was refused", url,
				         status);
				return INFTY_EINVAL;
			}
			/* Anything but "loading" (503) or no answer means the server is up. */
			if (!cc && status != 503 && status != 502)
				break;
			if (infty_sum_engine_stopping()) {
				snprintf(detail, dlen, "interrupted while waiting for %s", url);
				return INFTY_ECANCELED;
			}
			if (infty_sum_now() > deadline) {
				snprintf(detail, dlen, "%s: not ready after %.0f s (%s)", url,
				         timeout, cc ? curl_easy_strerror(cc) : "http 503");
				return INFTY_EHTTP;
			}
			usleep(200000);
		}
	}
	return 0;
}

/* A body of up to 64 KiB, for the probe. */
struct probe_buf {
	char b[65536];
	size_t len;
};

static size_t probe_body(char *p, size_t sz, size_t n, void *u)
{
	struct probe_buf *pb = u;
	size_t add = sz * n;
	if (add > sizeof pb->b - 1 - pb->len)
		return 0;
	memcpy(pb->b + pb->len, p, add);
	pb->len += add;
	pb->b[pb->len] = '\0';
	return add;
}

static long probe_one(struct sum_http *h, const char *url, const char *body)
{
	CURL *e = curl_easy_init();
	if (!e)
		return -1;
	struct probe_buf pb = {.len = 0};
	pb.b[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &pb);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	blocking_opts(e);
	CURLcode cc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	if (cc || status != 200)
		return -1;
	return infty_sum_tokenize_count(pb.b, pb.len);
}

size_t infty_sum_http_probe_count(struct sum_http *h, const char *model)
{
	char body[1024];
	size_t n = 0;
	struct json_object *m = json_object_new_string(model ? model : "");
	const char *ms = m ? json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN) : NULL;
	if (!ms || snprintf(body, sizeof body,
	                    "{\"model\":%s,\"messages\":[{\"role\":\"user\",\"content\":"
	                    "\"probe\"}],\"add_generation_prompt\":true}",
	                    ms) >= (int)sizeof body) {
		json_object_put(m);
		return 0;
	}
	json_object_put(m);
	for (size_t k = 0; k < h->n_urls && !infty_sum_engine_stopping(); k++) {
		/* vLLM's shape first: its count includes the chat template, exactly. */
		if (probe_one(h, h->tok_urls[k], body) > 0)
			h->count_api[k] = SUM_COUNT_MESSAGES;
		else if (probe_one(h, h->tok_urls[k], "{\"content\":\"probe\"}") > 0)
			h->count_api[k] = SUM_COUNT_CONTENT;
		else
			h->count_api[k] = SUM_COUNT_NONE;
		n += h->count_api[k] != SUM_COUNT_NONE;
	}
	return n;
}

enum sum_count_api infty_sum_http_count_api(const struct sum_http *h, int ep)
{
	return ep >= 0 && (size_t)ep < h->n_urls ? h->count_api[ep] : SUM_COUNT_NONE;
}

/* ---- pre-flight ------------------------------------------------------------ */

/* A growing body of at most 4 MiB, for the pre-flight's answers. */
struct grow_buf {
	char *b;
	size_t len, cap;
};

static size_t grow_body(char *p, size_t sz, size_t n, void *u)
{
	struct grow_buf *g = u;
	size_t add = sz * n;
	if (g->len + add + 1 > (4u << 20) || infty_grow(&g->b, &g->cap, g->len + add + 1, 1))
		return 0;
	memcpy(g->b + g->len, p, add);
	g->len += add;
	g->b[g->len] = '\0';
	return add;
}

/*
 * One blocking request (GET when body is NULL); its status, 0 with cc set
 * when none.  hdrs: the headers to send.
 */
static long fetch(struct sum_http *h, const char *url, const char *body, struct curl_slist *hdrs,
                  struct grow_buf *g, CURLcode *cc)
{
	CURL *e = curl_easy_init();
	g->len = 0;
	if (g->b)
		g->b[0] = '\0';
	if (!e) {
		*cc = CURLE_OUT_OF_MEMORY;
		return 0;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, grow_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->c->connect_timeout * 1000));
	/* A test request of a few tokens; a server that takes longer is not well. */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	blocking_opts(e);
	*cc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	return *cc ? 0 : status;
}

/* An error answer the run would retry (429 but not quota, 5xx, ...). */
static int transient(struct sum_http *h, long status, const struct grow_buf *g)
{
	struct sum_http_result r = {.status = status,
	                            .body = g->b ? g->b : "",
	                            .body_len = g->len,
	                            .retry_after = -1,
	                            .should_retry = -1};
	struct sum_verdict v;
	if (infty_sum_classify(&r, h->c, 0, 0, &v))
		return 0;
	int retry = v.cls == SUM_RETRY;
	infty_sum_verdict_release(&v);
	return retry;
}

/* Sleep for s seconds; 1 (at once) when the run is being stopped. */
static int pause_unless_stopping(double s)
{
	for (double end = infty_sum_now() + s; infty_sum_now() < end; usleep(50000))
		if (infty_sum_engine_stopping())
			return 1;
	return infty_sum_engine_stopping();
}

/* The error message of an answer: error.message, a string error, or the body's start. */
static void answer_message(const struct grow_buf *g, char *out, size_t n)
{
	struct json_object *o = NULL, *x, *m;
	const char *s = NULL;
	if (g->len && !infty_json_parse_value(g->b, g->len, &o, NULL, 0) && o &&
	    json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &x)) {
		if (json_object_is_type(x, json_type_string))
			s = json_object_get_string(x);
		else if (json_object_object_get_ex(x, "message", &m))
			s = json_object_get_string(m);
	}
	if (!s && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "message", &m))
		s = json_object_get_string(m);
	snprintf(out, n, "%.200s", s ? s : g->len ? g->b : "(no body)");
	/* One line. */
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	json_object_put(o);
}

/* Whether /models (in g) lists model; names the first few it lists in have. */
static int listed(const struct grow_buf *g, const char *model, char *have, size_t n, int *parsed)
{
	struct json_object *o = NULL, *data;
	int found = 0;
	*parsed = 0;
	*have = 0;
	if (infty_json_parse_value(g->b, g->len, &o, NULL, 0) || !o ||
	    !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		json_object_put(o);
		return 0;
	}
	*parsed = 1;
	size_t k, len = json_object_array_length(data), used = 0;
	for (k = 0; k < len; k++) {
		struct json_object *m = json_object_array_get_idx(data, k), *id;
		if (!json_object_object_get_ex(m, "id", &id))
			continue;
		const char *s = json_object_get_string(id);
		if (!strcmp(s, model))
			found = 1;
		if (k < 5 && used + strlen(s) + 3 < n)
			used +=
			    (size_t)snprintf(have + used, n - used, "%s%s", used ? ", " : "", s);
	}
	if (len > 5 && used + 8 < n)
		snprintf(have + used, n - used, ", ... (%zu)", len);
	if (!len)
		snprintf(have, n, "none");
	json_object_put(o);
	return found;
}

int infty_sum_http_preflight(struct sum_http *h, const char *const *models, size_t nmodels,
                             double ready_timeout, sum_preflight_fn report, void *ctx)
{
	int problems = 0;
	char line[1024], msg[256], have[512];
	struct grow_buf g = {0};
	/* The test request says what it is, so a server's log (or a test's
	 * fake) can tell it from a run's requests: the run's headers and one. */
	struct curl_slist *ph = NULL;
	for (struct curl_slist *x = h->hdrs; x; x = x->next) {
		struct curl_slist *n = curl_slist_append(ph, x->data);
		if (!n) {
			curl_slist_free_all(ph);
			return INFTY_ENOMEM;
		}
		ph = n;
	}
	struct curl_slist *n = curl_slist_append(ph, "X-Infty-Preflight: 1");
	if (!n) {
		curl_slist_free_all(ph);
		return INFTY_ENOMEM;
	}
	ph = n;
	for (size_t k = 0; k < h->n_urls; k++) {
		const char *base = h->c->endpoints[k], *url = h->models_urls[k];
		/* A server still loading (502, 503) is waited for, as the run does. */
		double deadline = infty_sum_now() + ready_timeout;
		CURLcode cc;
		long st;
		while ((st = fetch(h, url, NULL, h->hdrs, &g, &cc)) == 503 || st == 502) {
			if (infty_sum_engine_stopping() || infty_sum_now() > deadline)
				break;
			usleep(200000);
		}
		if (infty_sum_engine_stopping() || cc == CURLE_OUT_OF_MEMORY) {
			infty_free(g.b);
			curl_slist_free_all(ph);
			return cc == CURLE_OUT_OF_MEMORY ? INFTY_ENOMEM : INFTY_ECANCELED;
		}
		if (!st) {
			snprintf(line, sizeof line, "%s: cannot reach GET /models (%s)", base,
			         curl_easy_strerror(cc));
		} else if (st == 401 || st == 403) {
			snprintf(line, sizeof line,
			         "%s: the API key was refused (http %ld on GET /models); set "
			         "INFTY_API_KEY or OPENAI_API_KEY, or give --api-key-file",
			         base, st);
		} else if (st != 200) {
			answer_message(&g, msg, sizeof msg);
			snprintf(
			    line, sizeof line,
			    "%s: GET /models answered http %ld (%s); is it the OpenAI-compatible "
			    "base URL, ending in /v1?",
			    base, st, msg);
		} else {
			line[0] = 0;
		}
		if (line[0]) {
			infty_sum_redact(line, h->c->api_key);
			report(ctx, line);
			problems++;
			continue;
		}
		int unlisted = 0;
		for (size_t m = 0; m < nmodels; m++) {
			int parsed;
			if (!listed(&g, models[m], have, sizeof have, &parsed)) {
				unlisted++;
				if (parsed)
					snprintf(
					    line, sizeof line,
					    "%s: model '%s' is not served there (it serves: %s)",
					    base, models[m], have);
				else
					snprintf(
					    line, sizeof line,
					    "%s: GET /models does not list models (no \"data\" "
					    "array); is it an OpenAI-compatible server?",
					    base);
				infty_sum_redact(line, h->c->api_key);
				report(ctx, line);
				problems++;
			}
		}
		/* A model not listed fails the test request the same way: said once. */
		if (unlisted)
			continue;
		/* One tiny request per model: the key, the model and the route work. */
		char *urlc = h->urls[k];
		for (size_t m = 0; m < nmodels; m++) {
			struct json_object *b = json_object_new_object(),
			                   *msgs = json_object_new_array(),
			                   *u = json_object_new_object();
			if (!b || !msgs || !u) {
				json_object_put(b);
				json_object_put(msgs);
				json_object_put(u);
				infty_free(g.b);
				curl_slist_free_all(ph);
				return INFTY_ENOMEM;
			}
			json_object_object_add(u, "role", json_object_new_string("user"));
			json_object_object_add(u, "content",
			                       json_object_new_string("Reply with the word OK."));
			json_object_array_add(msgs, u);
			json_object_object_add(b, "model", json_object_new_string(models[m]));
			json_object_object_add(b, "messages", msgs);
			json_object_object_add(b, "max_tokens", json_object_new_int(16));
			json_object_object_add(b, "temperature", json_object_new_double(0));
			json_object_object_add(b, "stream", json_object_new_boolean(0));
			double t0 = infty_sum_now();
			const char *req = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
			/* A transient answer (429, 5xx: what the run retries) is asked
			 * again, 0.5, 1 and 2 s later: one hiccup is no problem to report. */
			for (int attempt = 0;; attempt++) {
				st = fetch(h, urlc, req, ph, &g, &cc);
				if (!st || st == 200 || attempt == 3 || !transient(h, st, &g))
					break;
				if (pause_unless_stopping(0.5 * (1 << attempt)))
					break;
			}
			json_object_put(b);
			struct json_object *o = NULL, *ch;
			int answered = st == 200 &&
			               !infty_json_parse_value(g.b, g.len, &o, NULL, 0) && o &&
			               json_object_is_type(o, json_type_object) &&
			               json_object_object_get_ex(o, "choices", &ch) &&
			               json_object_is_type(ch, json_type_array) &&
			               json_object_array_length(ch) > 0;
			json_object_put(o);
			if (answered)
				continue;
			if (!st)
				snprintf(
				    line, sizeof line,
				    "%s: a test request to model '%s' got no answer (%s, after "
				    "%.1f s)",
				    base, models[m], curl_easy_strerror(cc), infty_sum_now() - t0);
			else if (st == 401 || st == 403)
				snprintf(
				    line, sizeof line,
				    "%s: the API key was refused (http %ld on a test request); "
				    "set INFTY_API_KEY or OPENAI_API_KEY, or give --api-key-file",
				    base, st);
			else {
				answer_message(&g, msg, sizeof msg);
				snprintf(line, sizeof line,
				         "%s: a test request to model '%s' failed: http %ld: %s",
				         base, models[m], st, msg);
			}
			infty_sum_redact(line, h->c->api_key);
			report(ctx, line);
			problems++;
		}
	}
	infty_free(g.b);
	curl_slist_free_all(ph);
	return problems;
}
