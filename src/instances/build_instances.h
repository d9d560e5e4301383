/*
 * build_instances.h - the engine of infty-build: one summarized record in,
 * exactly n training instances out (or a reject reason for the whole trace).
 *
 * Ownership: instances returned in struct infty_build_result belong to the
 * result until infty_build_result_clear(); the record passed in stays the
 * caller's.  Stats own their arrays until infty_build_stats_release().
 */
#ifndef INFTY_BUILD_INSTANCES_H
#define INFTY_BUILD_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

enum infty_build_format {
	INFTY_BUILD_PAPER,    /* {"input","target"}: the reference's raw strings */
	INFTY_BUILD_MESSAGES, /* {"messages":[user, assistant]} chat turns */
	INFTY_BUILD_HF,       /* the released dataset's columns */
	INFTY_BUILD_TRL,      /* {"prompt","completion"}: the paper strings, TRL's names */
	INFTY_BUILD_TRL_CHAT, /* {"prompt":[user],"completion":[assistant]} message lists */
};

/* Every format name, for messages: "paper, messages, hf, trl or trl-chat". */
#define INFTY_BUILD_FORMAT_NAMES "paper, messages, hf, trl or trl-chat"

/* Token counter: the count of text[0..len), or a negative infty_err. */
typedef int64_t (*infty_build_count_fn)(void *ctx, const char *text, size_t len);

/* The summary flags of docs/formats.md (infty-summarize's checks), in their order. */
#define INFTY_BUILD_NFLAGS 8
extern const char *const infty_build_flag_names[INFTY_BUILD_NFLAGS];

struct infty_build_opts {
	enum infty_build_format format;
	int drop_flagged;           /* --quality drop: reject a trace with a flagged summary */
	int meta;                   /* append a "meta" object to every instance */
	int64_t max_tokens;         /* > 0: reject a trace with an instance above it */
	infty_build_count_fn count; /* NULL: no token counts (and no --max-tokens) */
	void *count_ctx;
};

struct infty_build_result {
	struct json_object **inst; /* n_inst instances, owned by the result */
	size_t n_inst, cap;
	const char *reason;  /* stable reject code, static; NULL when built */
	char detail[256];    /* one line for a person */
	int64_t *prompt_tok; /* per instance, -1 when not counted */
	int64_t *target_tok;
	size_t tok_cap;
	/* Summary flags of the record (when its summaries were read): */
	uint32_t checked;                        /* summaries with a "flags" array */
	uint32_t flagged;                        /* ... with at least one flag */
	uint32_t flag_n[INFTY_BUILD_NFLAGS + 1]; /* per flag; the last: other names */
};

/* Parse one of INFTY_BUILD_FORMAT_NAMES.  Returns 0 or INFTY_EINVAL. */
int infty_build_format_parse(const char *s, enum infty_build_format *out);
const char *infty_build_format_name(enum infty_build_format f);
/*
 * Whether instances of format f carry "meta" unless told otherwise: yes for
 * paper and messages (infty's working formats, which infty-inspect validate
 * follows trace by trace), no for hf, trl and trl-chat, whose columns are a
 * schema other tools load as it is (the released dataset's, TRL's).
 */
int infty_build_format_meta_default(enum infty_build_format f);

/*
 * Build the instances of one summarized record into res (cleared first).
 * Returns 0 with res->n_inst == the record's n; INFTY_ESCHEMA with
 * res->reason and res->detail set when the whole trace must be rejected
 * (reasons: "schema", "missing_summary", "too_long", "token_count", and
 * with drop_flagged "quality_<flag>", the first flag of the first flagged
 * summary); or INFTY_ENOMEM.  Never returns a shortened set of instances.
 * res's flag counts are set whenever the summaries were read.
 */
int infty_build_trace(const struct infty_build_opts *o, struct json_object *rec,
                      struct infty_build_result *res);
/* Drop the instances held by res; res may be reused.  */
void infty_build_result_clear(struct infty_build_result *res);
/* Clear and free res's arrays. */
void infty_build_result_release(struct infty_build_result *res);

/* ---- stats ------------------------------------------------------------ */

/* What infty-build counts; rejects by reason are the stage frame's. */
struct infty_build_stats {
	enum infty_build_format format;
	uint64_t records_in, traces_out, instances_out;
	uint64_t n_hist[65]; /* traces by n; n >= 64 land in the last bucket */
	int drop_flagged;    /* the policy (set by infty_build_stats_quality) */
	uint64_t q_checked, q_flagged, q_traces,
	    q_dropped; /* summaries, summaries, traces, traces */
	uint64_t q_flag[INFTY_BUILD_NFLAGS + 1];
	int64_t *prompt_tok, *target_tok; /* per instance, for distributions */
	size_t n_tok, tok_cap;
};

void infty_build_stats_init(struct infty_build_stats *s, enum infty_build_format f);
/* Count a built trace (its instances and token counts).  0 or INFTY_ENOMEM. */
int infty_build_stats_add(struct infty_build_stats *s, const struct infty_build_result *res);
/* Count a rejected record (in, and not out). */
void infty_build_stats_reject(struct infty_build_stats *s);
/* Count the summary flags of a record read, built or rejected (res of infty_build_trace). */
void infty_build_stats_quality(struct infty_build_stats *s, const struct infty_build_result *res,
                               const struct infty_build_opts *o);
/*
 * The stage's stats fields (infty_stage_fields_fn, ctx the stats):
 * format, records_in, traces_out, instances_out, traces_by_n, the
 * prompt/target token distributions and the summary flags (quality)
 * (docs/formats.md, "Build stats"); the progress snapshot's counters are
 * the three counts only.
 */
int infty_build_stats_fields(void *ctx, struct json_object *o);
int infty_build_progress_fields(void *ctx, struct json_object *o);
void infty_build_stats_release(struct infty_build_stats *s);

/* ---- the stage (build_run.c) -------------------------------------------- */

struct infty_stage;

/*
 * Build every record of every input of the stage: instances to its output,
 * a whole trace or a bad line to its reject file, counted in s (initialised
 * by the caller).  Returns 0 when every input was read, or a negative
 * infty_err recorded in the stage (a read or write error, out of memory,
 * INFTY_ECANCELED on a signal).
 */
int infty_build_run(struct infty_stage *st, const struct infty_build_opts *o,
                    struct infty_build_stats *s);

#endif
