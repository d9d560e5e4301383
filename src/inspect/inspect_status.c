/*
 * inspect_status.c - the live numbers of a run directory, per stage, and
 * their display: once (make status), or redrawn while the run goes on
 * (make status WATCH=1, make convert) with the run's messages relayed
 * above it, so the two never tangle on one terminal.
 *
 * A finished shard counts what its stats say (for summarize, the usage its
 * records carry: the same after any resume); a running one what its
 * --progress snapshot says, when a run holds OUT's lock and the snapshot is
 * recent.  Which shards are finished is the pipeline's to say (freshness
 * lives in scripts/pipeline only): it hands the states over, at every
 * refresh when watching.
 */
#include "inspect_status.h"
#include "inspect_run.h"

#include "infty/alloc.h"
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/progress.h"

#include <errno.h>
#include <json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const inspect_status_stages[STATUS_NSTAGES] = {"shard", "segment", "summarize",
                                                           "build"};

/* ---- the pipeline's states ------------------------------------------------ */

static int stage_index(const char *s, size_t n)
{
	for (int k = 0; k < STATUS_NSTAGES; k++)
		if (strlen(inspect_status_stages[k]) == n &&
		    !strncmp(s, inspect_status_stages[k], n))
			return k;
	return n == 5 && !strncmp(s, "merge", 5) ? STATUS_NSTAGES : -1;
}

static int state_of(const char *s)
{
	if (!strcmp(s, "done"))
		return STATE_DONE;
	if (!strcmp(s, "stale"))
		return STATE_STALE;
	if (!strcmp(s, "failed"))
		return STATE_FAILED;
	return !strcmp(s, "todo") ? STATE_TODO : -1;
}

void inspect_status_states_release(struct status_states *s)
{
	for (int k = 0; k < STATUS_NSTAGES; k++) {
		infty_free(s->state[k]);
		s->state[k] = NULL;
	}
}

int inspect_status_parse_states(struct status_states *s, const char *text, char *detail,
                                size_t dlen)
{
	inspect_status_states_release(s);
	s->merge_done = 0;
	s->running = 0;
	for (int k = 0; k < STATUS_NSTAGES; k++) {
		size_t n = k == STATUS_SHARD ? 1 : s->shards;
		if (!(s->state[k] = infty_calloc(n ? n : 1, 1))) {
			snprintf(detail, dlen, "out of memory");
			return -1;
		}
	}
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[128], a[32], b[32], c[32], extra;
		if (len && len < sizeof line) {
			memcpy(line, p, len);
			line[len] = 0;
			int got = sscanf(line, "%31s %31s %31s %c", a, b, c, &extra);
			if (got == 2 && !strcmp(a, "running") &&
			    (!strcmp(b, "0") || !strcmp(b, "1"))) {
				s->running = b[0] == '1';
			} else {
				int st = got == 3 ? stage_index(a, strlen(a)) : -1;
				int v = st >= 0 ? state_of(c) : -1;
				char *end = NULL;
				unsigned long k = 0;
				int all = !strcmp(b, "all");
				if (v >= 0 && !all) {
					errno = 0;
					k = strtoul(b, &end, 10);
				}
				int whole = st == STATUS_SHARD || st == STATUS_NSTAGES;
				if (v < 0 || (whole && !all) ||
				    (!whole && (all || !end || *end || errno || k >= s->shards))) {
					snprintf(detail, dlen, "bad state line '%s'", line);
					return -1;
				}
				if (st == STATUS_NSTAGES)
					s->merge_done = v == STATE_DONE;
				else
					s->state[st][whole ? 0 : k] = (unsigned char)v;
			}
		} else if (len) {
			snprintf(detail, dlen, "bad state line (%zu bytes)", len);
			return -1;
		}
		p = e ? e + 1 : p + len;
	}
	return 0;
}

/* ---- reading the run ---------------------------------------------------------- */

/* A count the snapshot does not carry (yet) counts as 0. */
static long long num(struct json_object *o, const char *path)
{
	long long v = inspect_run_num(o, path);
	return v < 0 ? 0 : v;
}

static int flag(struct json_object *o, const char *k)
{
	struct json_object *x;
	return json_object_object_get_ex(o, k, &x) && json_object_get_boolean(x);
}

/* A finished shard's stats, or NULL. */
static struct json_object *stats_of(const char *out, int stage, long k)
{
	char detail[512];
	return inspect_run_stats(out, inspect_status_stages[stage], k, detail, sizeof detail);
}

/*
 * The snapshot of a shard that is not done, when it is worth counting: the
 * run is running, the snapshot is recent and its tool did not fail.  *bad
 * is set for a snapshot that says its tool ended without finishing.
 */
static struct json_object *snapshot_of(const char *out, int stage, long k, time_t now,
                                       double stale_after, int running, int *bad)
{
	char path[4200];
	if (k < 0)
		snprintf(path, sizeof path, "%s/%s/progress/all.json", out,
		         inspect_status_stages[stage]);
	else
		snprintf(path, sizeof path, "%s/%s/progress/%05ld.json", out,
		         inspect_status_stages[stage], k);
	struct json_object *o = json_object_from_file(path);
	if (!o)
		return NULL;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	int finished = flag(o, "finished");
	if (finished && !flag(o, "completed")) {
		*bad = 1;
		json_object_put(o);
		return NULL;
	}
	if (!running || (double)(now - (time_t)num(o, "updated")) > stale_after) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Seconds a snapshot's run has been going (at least 1, for rates). */
/*
 * Seconds a running shard's snapshot covers, or 0 when that is too short
 * for a rate: the first snapshot comes with the first record, and its
 * times are whole seconds, so "1 record in 1 s" would promise an eta of
 * hours for a shard about to end.  From 5 s on, the error is under 20 %.
 */
#define RATE_MIN_SECONDS 5
static double elapsed(struct json_object *snap)
{
	long long el = num(snap, "updated") - num(snap, "started");
	return el < RATE_MIN_SECONDS ? 0 : (double)el;
}

/* Add a running shard's rates to g, or note that one is not measured yet. */
static void add_rate(struct status_stage *g, double el, double units, double answers, double tokens)
{
	if (el <= 0) {
		g->measuring = 1;
		return;
	}
	g->rate += units / el;
	g->req_rate += answers / el;
	g->tok_rate += tokens / el;
}

static void count_state(struct status_stage *g, int state, int live, int bad)
{
	if (state == STATE_DONE)
		g->done++;
	else if (live)
		g->running++;
	else if (state == STATE_FAILED || bad)
		g->failed++;
	else if (state == STATE_STALE)
		g->stale++;
	else
		g->todo++;
}

static const char *const fail_class[4] = {"retry", "reject", "permanent", "fatal"};

void inspect_status_collect(const char *out, const struct status_states *s, time_t now,
                            double stale_after, struct status_view *v)
{
	memset(v, 0, sizeof *v);
	v->shards = s->shards;
	v->merge_done = s->merge_done;
	v->running = s->running;
	unsigned n = s->shards;
	/* Per shard, from segment's stats: summaries planned and traces; -1 unknown. */
	long long *planned = infty_calloc(n ? n : 1, sizeof *planned);
	long long *traces = infty_calloc(n ? n : 1, sizeof *traces);
	long long *built_in = infty_calloc(n ? n : 1, sizeof *built_in);
	if (!planned || !traces || !built_in)
		goto out;

	/* shard: one job over the whole input */
	struct status_stage *g = &v->st[STATUS_SHARD];
	int bad = 0, live = 0;
	struct json_object *o = NULL;
	if (s->state[STATUS_SHARD][0] == STATE_DONE && (o = stats_of(out, STATUS_SHARD, -1))) {
		g->d = g->t = (uint64_t)num(o, "rows");
		g->t_known = 1;
		g->bytes_in = g->bytes_total = (uint64_t)num(o, "bytes_in");
	} else if ((o = snapshot_of(out, STATUS_SHARD, -1, now, stale_after, s->running, &bad))) {
		live = 1;
		g->d = (uint64_t)num(o, "done");
		g->bytes_in = (uint64_t)num(o, "bytes_in");
		g->bytes_total = (uint64_t)num(o, "bytes_total");
		add_rate(g, elapsed(o), (double)g->d, 0, 0);
	}
	count_state(g, s->state[STATUS_SHARD][0], live, bad);
	json_object_put(o);
	uint64_t rows = v->st[STATUS_SHARD].t_known ? v->st[STATUS_SHARD].t : 0;

	/* segment: rows of the shard files */
	g = &v->st[STATUS_SEGMENT];
	g->t = rows;
	g->t_known = v->st[STATUS_SHARD].t_known;
	for (unsigned k = 0; k < n; k++) {
		int st = s->state[STATUS_SEGMENT][k];
		bad = live = 0;
		planned[k] = traces[k] = -1;
		o = NULL;
		if (st == STATE_DONE && (o = stats_of(out, STATUS_SEGMENT, k))) {
			g->d += (uint64_t)num(o, "rows");
			g->d2 += (uint64_t)num(o, "traces");
			g->rejected += (uint64_t)num(o, "rejected");
			traces[k] = num(o, "traces");
			planned[k] = num(o, "segments") - traces[k];
		} else if ((o = snapshot_of(out, STATUS_SEGMENT, k, now, stale_after, s->running,
		                            &bad))) {
			live = 1;
			g->d += (uint64_t)num(o, "done");
			g->d2 += (uint64_t)num(o, "counters.traces");
			g->rejected += (uint64_t)num(o, "rejected");
			add_rate(g, elapsed(o), (double)num(o, "done"), 0, 0);
		}
		count_state(g, st, live, bad);
		json_object_put(o);
	}

	/* summarize: requests (one per summary) settled of planned, and traces */
	g = &v->st[STATUS_SUMMARIZE];
	g->t_known = 1;
	for (unsigned k = 0; k < n; k++) {
		int st = s->state[STATUS_SUMMARIZE][k];
		bad = live = 0;
		built_in[k] = -1;
		if (planned[k] >= 0) {
			g->t += (uint64_t)planned[k];
			g->t2 += (uint64_t)traces[k];
		} else {
			g->t_open = g->t2_open = 1;
		}
		o = NULL;
		if (st == STATE_DONE && (o = stats_of(out, STATUS_SUMMARIZE, k))) {
			g->d += planned[k] >= 0 ? (uint64_t)planned[k] : 0;
			g->d2 += (uint64_t)num(o, "traces.in");
			g->rejected += (uint64_t)num(o, "rejected");
			built_in[k] = num(o, "traces.ok");
			g->prompt += (uint64_t)num(o, "usage.prompt_tokens");
			g->cached += (uint64_t)num(o, "usage.cached_tokens");
			g->completion += (uint64_t)num(o, "usage.completion_tokens");
			for (int c = 0; c < 4; c++) {
				char key[32];
				snprintf(key, sizeof key, "requests.%s", fail_class[c]);
				g->fail[c] += (uint64_t)num(o, key);
			}
		} else if ((o = snapshot_of(out, STATUS_SUMMARIZE, k, now, stale_after, s->running,
		                            &bad))) {
			live = 1;
			double el = elapsed(o);
			long long settled = num(o, "counters.requests_settled");
			g->d += (uint64_t)settled;
			g->d2 += (uint64_t)num(o, "done");
			g->rejected += (uint64_t)num(o, "rejected");
			g->inflight += (uint64_t)num(o, "counters.requests_in_flight");
			long long pt = num(o, "counters.prompt_tokens");
			long long ct = num(o, "counters.completion_tokens");
			g->prompt += (uint64_t)pt;
			g->cached += (uint64_t)num(o, "counters.cached_tokens");
			g->completion += (uint64_t)ct;
			for (int c = 0; c < 4; c++) {
				char key[48];
				snprintf(key, sizeof key, "counters.failures_%s", fail_class[c]);
				g->fail[c] += (uint64_t)num(o, key);
			}
			add_rate(g, el, (double)settled,
			         (double)num(o, "counters.requests_answered"), (double)(pt + ct));
		}
		count_state(g, st, live, bad);
		json_object_put(o);
	}

	/* build: the summarized traces */
	g = &v->st[STATUS_BUILD];
	g->t_known = 1;
	for (unsigned k = 0; k < n; k++) {
		int st = s->state[STATUS_BUILD][k];
		bad = live = 0;
		if (built_in[k] >= 0)
			g->t += (uint64_t)built_in[k];
		else
			g->t_open = 1;
		o = NULL;
		if (st == STATE_DONE && (o = stats_of(out, STATUS_BUILD, k))) {
			g->d += (uint64_t)num(o, "records_in");
			g->d2 += (uint64_t)num(o, "instances_out");
			g->rejected += (uint64_t)num(o, "rejected");
		} else if ((o = snapshot_of(out, STATUS_BUILD, k, now, stale_after, s->running,
		                            &bad))) {
			live = 1;
			g->d += (uint64_t)num(o, "done");
			g->d2 += (uint64_t)num(o, "counters.instances_out");
			g->rejected += (uint64_t)num(o, "rejected");
			add_rate(g, elapsed(o), (double)num(o, "done"), 0, 0);
		}
		count_state(g, st, live, bad);
		json_object_put(o);
	}
out:
	infty_free(planned);
	infty_free(traces);
	infty_free(built_in);
}

/* ---- one line per stage ---------------------------------------------------------- */

struct line {
	char *b;
	size_t n, len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	if (l->len + 1 >= l->n)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(l->b + l->len, l->n - l->len, fmt, ap);
	va_end(ap);
	if (w > 0)
		l->len += (size_t)w < l->n - l->len ? (size_t)w : l->n - l->len - 1;
}

/* "D/T (P%)", "D/T+" or "D", as README.md says. */
static void done_of(struct line *l, uint64_t d, uint64_t t, int known, int open)
{
	add(l, "%llu", (unsigned long long)d);
	if (!known)
		return;
	if (open && !t) {
		add(l, "/?");
		return;
	}
	add(l, "/%llu%s", (unsigned long long)t, open ? "+" : "");
	if (t && !open)
		add(l, " (%.1f%%)", 100.0 * (double)d / (double)t);
}

size_t inspect_status_line(const struct status_view *v, int stage, char *buf, size_t n)
{
	if (!n || stage < 0 || stage >= STATUS_NSTAGES)
		return 0;
	const struct status_stage *g = &v->st[stage];
	struct line l = {buf, n, 0};
	*buf = 0;
	unsigned all = stage == STATUS_SHARD ? 1 : v->shards;
	add(&l, "%-9s %u/%u shards", inspect_status_stages[stage], g->done, all);
	if (g->running)
		add(&l, ", %u running", g->running);
	if (g->failed)
		add(&l, ", %u failed", g->failed);
	if (g->stale)
		add(&l, ", %u stale", g->stale);
	const char *unit = "rows";
	switch (stage) {
	case STATUS_SHARD:
		add(&l, "  rows %llu", (unsigned long long)g->d);
		if (g->bytes_total && g->done != 1)
			add(&l, " (%.1f%% of the input read)",
			    100.0 * (double)g->bytes_in / (double)g->bytes_total);
		break;
	case STATUS_SEGMENT:
		add(&l, "  rows ");
		done_of(&l, g->d, g->t, g->t_known, g->t_open);
		add(&l, ", traces %llu, rejected %llu", (unsigned long long)g->d2,
		    (unsigned long long)g->rejected);
		break;
	case STATUS_SUMMARIZE:
		unit = "requests";
		add(&l, "  requests ");
		done_of(&l, g->d, g->t, 1, g->t_open);
		add(&l, ", traces ");
		done_of(&l, g->d2, g->t2, 1, g->t2_open);
		add(&l,
		    ", in flight %llu, failures retry %llu reject %llu permanent %llu fatal %llu",
		    (unsigned long long)g->inflight, (unsigned long long)g->fail[0],
		    (unsigned long long)g->fail[1], (unsigned long long)g->fail[2],
		    (unsigned long long)g->fail[3]);
		add(&l, ", tokens prompt %llu cached %llu completion %llu",
		    (unsigned long long)g->prompt, (unsigned long long)g->cached,
		    (unsigned long long)g->completion);
		break;
	case STATUS_BUILD:
		unit = "records";
		add(&l, "  records ");
		done_of(&l, g->d, g->t, 1, g->t_open);
		add(&l, ", instances %llu, rejected %llu", (unsigned long long)g->d2,
		    (unsigned long long)g->rejected);
		break;
	}
	if (g->running && g->measuring) {
		add(&l, ", measuring the rate");
	} else if (g->running) {
		if (stage == STATUS_SUMMARIZE)
			add(&l, ", %.1f req/s %.0f tok/s", g->req_rate, g->tok_rate);
		else
			add(&l, ", %.1f %s/s", g->rate, unit);
		if (g->rate > 0 && g->t_known && g->t > g->d) {
			char d[32];
			infty_format_duration((double)(g->t - g->d) / g->rate, d, sizeof d);
			add(&l, ", eta %s%s", d, g->t_open ? "+" : "");
		}
	}
	return l.len;
}

/* ---- the display ------------------------------------------------------------------- */

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The states, from the command, the file, or (neither) the done markers as
 * they are, with no word on freshness.  0, or -1 with detail.
 */
static int load_states(const struct inspect_status_opts *o, struct status_states *s, char *detail,
                       size_t dlen)
{
	char *text = NULL;
	if (o->states_cmd) {
		/* Watching, the command's complaints would land inside the display;
		 * a refresh that fails keeps the last states shown instead. */
		char cmd[8192];
		if (snprintf(cmd, sizeof cmd, "%s%s", o->states_cmd,
		             o->watch ? " 2>/dev/null" : "") >= (int)sizeof cmd) {
			snprintf(detail, dlen, "the states command is too long");
			return -1;
		}
		FILE *p = popen(cmd, "r");
		text = p ? infty_read_all(p, NULL) : NULL;
		int rc = p ? pclose(p) : -1;
		if (!text || rc != 0) {
			snprintf(detail, dlen, "'%s' failed (%s)", o->states_cmd,
			         p ? "its status was not 0" : strerror(errno));
			infty_free(text);
			return -1;
		}
	} else if (o->states) {
		FILE *f = strcmp(o->states, "-") ? fopen(o->states, "r") : stdin;
		text = f ? infty_read_all(f, NULL) : NULL;
		if (f && f != stdin)
			fclose(f);
		if (!text) {
			snprintf(detail, dlen, "%s: %s", o->states, strerror(errno));
			return -1;
		}
	} else {
		/* No pipeline to ask: a marker is taken as done, anything else as todo. */
		size_t cap = 64 + (size_t)s->shards * 3 * 32, len = 0;
		if (!(text = infty_malloc(cap)))
			return -1;
		char path[4200];
		len += (size_t)snprintf(text + len, cap - len, "running 1\n");
		snprintf(path, sizeof path, "%s/shard/done/all", o->out);
		len += (size_t)snprintf(text + len, cap - len, "shard all %s\n",
		                        access(path, F_OK) ? "todo" : "done");
		for (int st = STATUS_SEGMENT; st < STATUS_NSTAGES; st++)
			for (unsigned k = 0; k < s->shards; k++) {
				snprintf(path, sizeof path, "%s/%s/done/%05u", o->out,
				         inspect_status_stages[st], k);
				len += (size_t)snprintf(text + len, cap - len, "%s %u %s\n",
				                        inspect_status_stages[st], k,
				                        access(path, F_OK) ? "todo" : "done");
			}
		snprintf(path, sizeof path, "%s/merge/done/all", o->out);
		snprintf(text + len, cap - len, "merge all %s\n",
		         access(path, F_OK) ? "todo" : "done");
	}
	int rc = inspect_status_parse_states(s, text, detail, dlen);
	infty_free(text);
	return rc;
}

/* Terminal width for the live block (lines are cut to fit: a wrapped line
 * would break the redraw). */
static size_t width(void)
{
	struct winsize ws;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 20)
		return ws.ws_col;
	return 160;
}

struct display {
	FILE *f;
	int tty;
	int drawn;   /* lines of the live block on the terminal now */
	int printed; /* plain blocks printed */
	FILE *msgs;  /* --follow */
	char pend[4096];
	size_t plen;
};

/* Take the live block off the terminal (the cursor goes to its first line). */
static void erase(struct display *d)
{
	if (d->tty && d->drawn) {
		fprintf(d->f, "\r\033[%dA\033[J", d->drawn);
		d->drawn = 0;
	}
}

/* Relay the messages written since the last call; at the end, a last line
 * without its newline too.  Returns whether it printed any. */
static int relay(struct display *d, int final)
{
	int any = 0;
	if (!d->msgs)
		return 0;
	char buf[4096];
	size_t got;
	clearerr(d->msgs);
	while ((got = fread(buf, 1, sizeof buf, d->msgs)) > 0) {
		for (size_t i = 0; i < got; i++) {
			if (d->plen < sizeof d->pend - 1)
				d->pend[d->plen++] = buf[i];
			if (buf[i] == '\n' || d->plen == sizeof d->pend - 1) {
				erase(d);
				fwrite(d->pend, 1, d->plen, d->f);
				if (d->pend[d->plen - 1] != '\n')
					fputc('\n', d->f);
				d->plen = 0;
				any = 1;
			}
		}
	}
	if (final && d->plen) {
		erase(d);
		fwrite(d->pend, 1, d->plen, d->f);
		fputc('\n', d->f);
		d->plen = 0;
		any = 1;
	}
	fflush(d->f);
	return any;
}

/*
 * Print line on the terminal in rows of at most w columns, cut after a
 * ", " or between two fields, the rows after the first indented under the
 * counts.  Returns the rows printed.
 */
static int put_wrapped(FILE *f, const char *line, size_t w)
{
	const size_t indent = 10;
	int rows = 0;
	size_t len = strlen(line), at = 0;
	while (at < len) {
		size_t room = rows ? (w > indent + 20 ? w - indent : 20) : w;
		size_t take = len - at;
		if (take > room) {
			/* The last separator that fits; a field longer than the row is cut. */
			size_t cut = 0;
			for (size_t i = at + 1; i + 1 < at + room; i++)
				if (line[i] == ' ' && (line[i - 1] == ',' || line[i + 1] == ' '))
					cut = i;
			take = cut > at ? cut - at : room;
		}
		fprintf(f, "%*s%.*s\n", rows ? (int)indent : 0, "", (int)take, line + at);
		at += take;
		while (at < len && line[at] == ' ')
			at++;
		rows++;
	}
	return rows ? rows : (fputc('\n', f), 1);
}

static void draw(struct display *d, const char *out, const struct status_view *v, int plain)
{
	char line[1024], stamp[16];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	if (plain) {
		for (int st = 0; st < STATUS_NSTAGES; st++) {
			inspect_status_line(v, st, line, sizeof line);
			fprintf(d->f, "[%s] %s\n", stamp, line);
		}
		fprintf(d->f, "[%s] merge     %s\n", stamp, v->merge_done ? "done" : "not done");
		d->printed++;
		fflush(d->f);
		return;
	}
	size_t w = width() - 1;
	erase(d);
	snprintf(line, sizeof line, "infty %s: %u shards, %s at %s", out, v->shards,
	         v->running ? "running" : "not running", stamp);
	int rows = put_wrapped(d->f, line, w);
	for (int st = 0; st < STATUS_NSTAGES; st++) {
		inspect_status_line(v, st, line, sizeof line);
		rows += put_wrapped(d->f, line, w);
	}
	fprintf(d->f, "merge     %s\n", v->merge_done ? "done" : "not done");
	d->drawn = rows + 1;
	fflush(d->f);
}

static unsigned run_shards(const char *out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/run.json", out);
	struct json_object *o = json_object_from_file(path);
	long long n = o ? num(o, "total_shards") : 0;
	json_object_put(o);
	return n > 0 && n <= 1 << 20 ? (unsigned)n : 0;
}

int inspect_status_run(const struct inspect_status_opts *o)
{
	struct status_states s = {0};
	struct status_view v;
	char detail[512];
	if (!(s.shards = run_shards(o->out))) {
		infty_warn(
		    "%s: not an infty run (no run.json); start one with 'make convert IN=... "
		    "OUT=%s'",
		    o->out, o->out);
		return INFTY_EXIT_USAGE;
	}
	/* A snapshot unchanged for this long belongs to a job that died. */
	const double stale_after = 300;
	if (!o->watch) {
		if (load_states(o, &s, detail, sizeof detail)) {
			infty_warn("states: %s", detail);
			inspect_status_states_release(&s);
			return INFTY_EXIT_USAGE;
		}
		inspect_status_collect(o->out, &s, time(NULL), stale_after, &v);
		char line[1024];
		for (int st = 0; st < STATUS_NSTAGES; st++) {
			inspect_status_line(&v, st, line, sizeof line);
			printf("%s\n", line);
		}
		inspect_status_states_release(&s);
		return INFTY_EXIT_OK;
	}

	struct display d = {.f = stdout, .tty = isatty(STDOUT_FILENO)};
	if (o->follow && !(d.msgs = fopen(o->follow, "r")))
		infty_warn("%s: %s (its messages are not shown here)", o->follow, strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	/* Reads of the states command go on; the sleep between refreshes ends. */
	sa.sa_flags = SA_RESTART;
	/* Started in the background of make convert, SIGINT comes ignored: a
	 * Ctrl-C is for the run, and the display must stay to relay what the
	 * run says as it stops (convert stops it with SIGTERM after). */
	struct sigaction old;
	if (sigaction(SIGINT, NULL, &old) || old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	double every = o->interval > 0 ? o->interval : d.tty ? 1 : 30;
	double tick = every < 0.25 ? every : 0.25, next = mono() + (d.tty ? 0 : every);
	int have = 0;
	while (!stop_asked) {
		/* A message takes the block off the terminal: put it back under it. */
		if (relay(&d, 0) && d.tty && have)
			draw(&d, o->out, &v, 0);
		if (mono() >= next) {
			next = mono() + every;
			/* States that cannot be read now keep the last ones shown. */
			if (!load_states(o, &s, detail, sizeof detail)) {
				inspect_status_collect(o->out, &s, time(NULL), stale_after, &v);
				have = 1;
			}
			if (have)
				draw(&d, o->out, &v, !d.tty);
		}
		if (o->while_pid > 0 && kill((pid_t)o->while_pid, 0) && errno == ESRCH)
			break;
		struct timespec ts = {(time_t)tick, (long)((tick - (double)(time_t)tick) * 1e9)};
		nanosleep(&ts, NULL);
	}
	/* The last messages, then the last numbers: on a terminal the block stays
	 * as the run left it; a log gets a closing line per stage if it had any. */
	relay(&d, 1);
	if (!load_states(o, &s, detail, sizeof detail)) {
		inspect_status_collect(o->out, &s, time(NULL), stale_after, &v);
		have = 1;
	}
	if (have && (d.tty || d.printed))
		draw(&d, o->out, &v, !d.tty);
	if (d.msgs)
		fclose(d.msgs);
	inspect_status_states_release(&s);
	return INFTY_EXIT_OK;
}
