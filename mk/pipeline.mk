# mk/pipeline.mk - the make-driven conversion pipeline.
#
#   make convert IN=rows.jsonl[.zst] OUT=runs/x SHARDS=8 ETA=4096 \
#        [ENDPOINT='http://h1:8000/v1 http://h2:8000/v1' MODEL=Qwen/Qwen3-4B-Instruct-2507] \
#        [FORMAT=paper|messages|hf|trl|trl-chat] [MAX_TOKENS=16384] [TOKENIZER=tokenizer.json] \
#        [SEGMENT_OPTS=…] [SUMMARIZE_OPTS=…] [BUILD_OPTS=…] [DATASET_OPTS=…] [ALLOW_FAILED=1]
#        [JUDGE=1] [PRICE_IN=0.15 PRICE_OUT=0.60 [PRICE_CACHED=…]] [INTERVAL=S] [PREFLIGHT=0]
#        [-j4]
#
# runs shard -> segment -> summarize -> build -> merge.  Without ENDPOINT the
# summaries come from the embedded extractive backend (offline).  JUDGE=1
# (needs ENDPOINT) has the model grade every summary and refine weak ones
# (infty-summarize --judge; docs/quality.md).  -jN runs
# shards in parallel.  A relaunch redoes only what is missing or stale.
# While it runs, the run's live numbers are shown on the terminal (redrawn
# in place; on a log, a line per stage every INTERVAL=30 seconds; INTERVAL=0:
# none).  PRICE_IN/PRICE_OUT (per million tokens) put the cost in
# OUT/stats.json.  With ENDPOINT every server is asked first (GET /models,
# the key, MODEL listed, a request of a few tokens): one line per problem,
# exit 2, nothing written; PREFLIGHT=0 skips that.
# Included by the top Makefile (tools are built first), or standalone with
# `make -f mk/pipeline.mk … INFTY_BIN=/path/to/bin` (tools on PATH if unset).
# scripts/pipeline does the work and documents the rules; this file only
# passes the settings on.
#
# On-disk contract (../shared/reference/scaling-out.md), SSSSS = 00000…:
#   OUT/run.json                       pins total_shards and the input; a
#                                      relaunch with another SHARDS or IN exits 2
#   OUT/.lock                          one run per OUT (flock; see scripts/pipeline)
#   OUT/shard/out/SSSSS.jsonl.zst      input rows; line L goes to shard (L-1) % SHARDS
#                                      (round robin by line number, one streaming pass)
#   OUT/shard/stats/all.json           lines, rows and blank lines of the input
#   OUT/<stage>/out/SSSSS.jsonl.zst    stage output, renamed into place by the tool
#   OUT/<stage>/failed/SSSSS.jsonl.zst rejects / dead letters of that shard
#   OUT/<stage>/stats/SSSSS.json       the tool's --stats
#   OUT/summarize/cache/SSSSS.jsonl.zst  summarizer cache (append-only, kept
#                                      across every change: keyed by the request)
#   OUT/<stage>/logs/SSSSS.log         the tool's stderr
#   OUT/<stage>/progress/SSSSS.json    the tool's live snapshot (--progress), which
#                                      make status sums (infty-inspect status)
#   OUT/<stage>/done/SSSSS             empty marker, written LAST, only when the
#                                      tool finished (exit 0, or 1 = some records
#                                      rejected); never after a stop (exit 3)
#   OUT/<stage>/params                 the options that decide the stage's output;
#                                      when they change, that stage and every
#                                      later one are cleared before anything runs
#   OUT/config.mk                      the run's variables (IN, ETA, MODEL, …) as
#                                      defaults: `make convert OUT=…` relaunches as is
#   OUT/train.jsonl.zst, OUT/rejects.jsonl.zst, OUT/stats.json   the merged result,
#                                      published only when every record is accounted for
#   OUT/dataset/                       the training file, its dataset card, LLaMA-Factory's
#                                      dataset_info.json (infty-inspect dataset; DATASET_OPTS)
#
# For other executors (Slurm arrays, GNU parallel):
#   make prepare OUT=… IN=… SHARDS=N [ETA=… ENDPOINT=… MODEL=… FORMAT=…]
#       check and write the settings (once, before launching)
#   make stage-shard OUT=… STAGE=shard                     (one job)
#   make stage-shard OUT=… STAGE=segment|summarize|build SHARD=k   (k = 0…N-1)
#   make stage-shard OUT=… STAGE=merge                     (one job)
#       run one stage on one shard unless it is done and fresh; FORCE=1 redoes
#       it.  Exit 0 done, 1 failed (see OUT/STAGE/logs/SSSSS.log), 2 the
#       upstream stage is not done, the run is not prepared, or OUT is in use.
#   make missing OUT=… STAGE=segment     prints e.g. 0-3,7,12-15 (not done or
#                                        stale), for sbatch --array=
#   make estimate IN=… ETA=… [SUMMARIZE_OPTS=…] [PRICE_IN=… PRICE_OUT=…]
#                 [PREFILL_TPS=… DECODE_TPS=…] [OUT=…]
#       what a run would ask, before it runs: requests, prompt tokens (both
#       modes, exact), what a prefix cache can reuse, the completion budget,
#       cost and hours (infty-summarize --dry-run on the real segmentation;
#       OUT=: a run's segment outputs when they are there for this ETA)
#   make status OUT=… [WATCH=1] [INTERVAL=S]   per-stage, per-shard state, live
#                                        numbers and totals (WATCH=1: the live numbers
#                                        redrawn; another shell, another node)
# ENDPOINT (runtime only, not part of params) is stored at prepare time in
# OUT/summarize/runtime, so array tasks need not repeat it.

PIPELINE_MK := $(lastword $(MAKEFILE_LIST))
PIPELINE    := $(abspath $(dir $(PIPELINE_MK))../scripts/pipeline)

# A run's own settings (OUT/config.mk, written by prepare) are the defaults,
# so a relaunch needs only OUT=.
ifneq ($(OUT),)
-include $(OUT)/config.mk
endif
ETA    ?= 4096
FORMAT ?= paper

# Included from the top Makefile: build the tools first and use them.
ifneq ($(BINS),)
INFTY_BIN ?= $(abspath $(BUILD))/bin
PIPE_TOOLS = $(BINS) $(if $(TOKENIZER_FILE),,$(TOKENIZER))
endif

PIPE = OUT='$(OUT)' IN='$(IN)' SHARDS='$(SHARDS)' ETA='$(ETA)' FORMAT='$(FORMAT)' \
       MAX_TOKENS='$(MAX_TOKENS)' ENDPOINT='$(ENDPOINT)' MODEL='$(MODEL)' \
       TOKENIZER='$(TOKENIZER_FILE)' SEGMENT_OPTS='$(SEGMENT_OPTS)' \
       SUMMARIZE_OPTS='$(SUMMARIZE_OPTS)' BUILD_OPTS='$(BUILD_OPTS)' PROMPT_DIR='$(PROMPT_DIR)' \
       DATASET_OPTS='$(DATASET_OPTS)' \
       INFTY_BIN='$(INFTY_BIN)' FORCE='$(FORCE)' ALLOW_FAILED='$(ALLOW_FAILED)' JUDGE='$(JUDGE)' \
       PRICE_IN='$(PRICE_IN)' PRICE_OUT='$(PRICE_OUT)' PRICE_CACHED='$(PRICE_CACHED)' \
       WATCH='$(WATCH)' INTERVAL='$(INTERVAL)' PREFLIGHT='$(PREFLIGHT)' \
       PREFILL_TPS='$(PREFILL_TPS)' DECODE_TPS='$(DECODE_TPS)' \
       $(PIPELINE)

# TOKENIZER is also the top Makefile's name for the default tokenizer's
# path; a run's tokenizer is only passed on when the user gave one.
# OUT/config.mk keeps a run's choice as RUN_TOKENIZER.
TOKENIZER_FILE = $(if $(filter command line environment,$(origin TOKENIZER)),$(TOKENIZER),$(RUN_TOKENIZER))

.PHONY: convert prepare stage-shard missing status estimate

ifneq ($(filter convert prepare stage-shard missing status,$(MAKECMDGOALS)),)
ifeq ($(OUT),)
$(error OUT is not set: e.g. make $(firstword $(MAKECMDGOALS)) OUT=runs/x)
endif
endif
ifneq ($(filter convert prepare,$(MAKECMDGOALS)),)
ifeq ($(IN),)
$(error IN is not set: e.g. make convert IN=data/openr1_math_messages_sample.jsonl OUT=runs/x)
endif
endif

# "+": the pipeline runs make again for the per-shard jobs, which share this
# make's -jN job slots.
convert: | $(PIPE_TOOLS)
	+@$(PIPE) convert

prepare: | $(PIPE_TOOLS)
	@$(PIPE) prepare && echo "pipeline: $(OUT) prepared"

stage-shard: | $(PIPE_TOOLS)
	@$(PIPE) stage-if-needed '$(STAGE)' '$(or $(SHARD),all)'

missing:
	@$(PIPE) missing '$(STAGE)'

status:
	@$(PIPE) status

# What a run would ask (nothing is sent or written): IN segmented now, or a
# run's segment outputs (OUT=).
estimate: | $(PIPE_TOOLS)
	@$(PIPE) estimate
