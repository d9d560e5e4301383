# mk/pipeline.mk - the make-driven conversion pipeline.
#
#   make convert IN=rows.jsonl[.zst] OUT=runs/x SHARDS=8 ETA=4096 \
#        [ENDPOINT='http://h1:8000/v1 http://h2:8000/v1' MODEL=Qwen/Qwen3-4B-Instruct-2507] \
#        [FORMAT=paper|messages|hf] [MAX_TOKENS=16384] \
#        [SEGMENT_OPTS=…] [SUMMARIZE_OPTS=…] [BUILD_OPTS=…]  [-j4]
#
# runs shard -> segment -> summarize -> build -> merge.  Without ENDPOINT the
# summaries come from the embedded extractive backend (offline).  -jN runs
# shards in parallel.  A relaunch redoes only what is missing or stale.
# Included by the top Makefile (tools are built first), or standalone with
# `make -f mk/pipeline.mk … INFTY_BIN=/path/to/bin` (tools on PATH if unset).
#
# On-disk contract (../shared/reference/scaling-out.md), SSSSS = 00000…:
#   OUT/run.json                       pins total_shards and the input; a
#                                      relaunch with another SHARDS or IN exits 2
#   OUT/shard/out/SSSSS.jsonl.zst      input rows; row L goes to shard (L-1) % SHARDS
#                                      (round robin by line number, one streaming pass)
#   OUT/<stage>/out/SSSSS.jsonl.zst    stage output, renamed into place by the tool
#   OUT/<stage>/failed/SSSSS.jsonl.zst rejects / dead letters of that shard
#   OUT/<stage>/stats/SSSSS.json       the tool's --stats
#   OUT/summarize/cache/SSSSS.jsonl.zst  summarizer cache (append-only)
#   OUT/<stage>/logs/SSSSS.log         the tool's stderr
#   OUT/<stage>/done/SSSSS             empty marker, written LAST
#   OUT/<stage>/params                 the options that decide the stage's output;
#                                      rewritten only when they change, so make
#                                      reruns exactly the stages that depend on them
#   OUT/config.mk                      the run's variables (IN, ETA, MODEL, …) as
#                                      defaults: `make convert OUT=…` relaunches as is
#   OUT/train.jsonl.zst, OUT/rejects.jsonl.zst, OUT/stats.json   the merged result
# Stages: shard (one job for all shards), segment, summarize, build (per
# shard), merge (one job).  A shard is done when its marker exists and is
# newer than its upstream marker and its stage's params.  A tool exiting 1
# (some records rejected, written to failed/) still completes the shard;
# any other failure leaves no marker.  Summaries that failed with class
# "retry" (server down, rate limits, after --max-retries) keep their shard
# not done, so a relaunch retries them (the cache keeps the rest); add
# ALLOW_FAILED=1 to accept them as dead letters.
#
# For other executors (Slurm arrays, GNU parallel; see issue 7):
#   make prepare OUT=… IN=… SHARDS=N [ETA=… ENDPOINT=… MODEL=… FORMAT=…]
#       write/check run.json and params (once, before launching)
#   make stage-shard OUT=… STAGE=shard                     (one job)
#   make stage-shard OUT=… STAGE=segment|summarize|build SHARD=k   (k = 0…N-1)
#   make stage-shard OUT=… STAGE=merge                     (one job)
#       run one stage on one shard unless it is done and fresh; FORCE=1 redoes
#       it.  Exit 0 done, 1 failed (see OUT/STAGE/logs/SSSSS.log), 2 the
#       upstream stage is not done or the run is not prepared.  Idempotent.
#   make missing OUT=… STAGE=segment     prints e.g. 0-3,7,12-15 (not done or
#                                        stale), for sbatch --array=
#   make status OUT=…                    per-stage, per-shard state and totals
# ENDPOINT (runtime only, not part of params) is stored at prepare time in
# OUT/summarize/runtime, so array tasks need not repeat it.

PIPELINE_MK := $(lastword $(MAKEFILE_LIST))
Q ?= @
PIPELINE    := $(abspath $(dir $(PIPELINE_MK))../scripts/pipeline)

# A run's own settings (OUT/config.mk, written by prepare) come first, so a
# relaunch needs only OUT=; then the defaults.
ifneq ($(OUT),)
-include $(OUT)/config.mk
endif
ETA        ?= 4096
FORMAT     ?= paper
PIPE_GOALS := convert prepare
# SHARDS defaults to what the run pinned, else 4.
ifneq ($(OUT),)
SHARDS ?= $(or $(shell sed -n 's/.*"total_shards": *\([0-9][0-9]*\).*/\1/p' '$(OUT)/run.json' 2>/dev/null),4)
endif

# Included from the top Makefile: build the tools first and use them.
ifneq ($(BINS),)
INFTY_BIN ?= $(abspath $(BUILD))/bin
PIPE_TOOLS := $(BINS)
endif

PIPE = OUT='$(OUT)' IN='$(IN)' SHARDS='$(SHARDS)' ETA='$(ETA)' FORMAT='$(FORMAT)' \
       MAX_TOKENS='$(MAX_TOKENS)' ENDPOINT='$(ENDPOINT)' MODEL='$(MODEL)' \
       SEGMENT_OPTS='$(SEGMENT_OPTS)' SUMMARIZE_OPTS='$(SUMMARIZE_OPTS)' \
       BUILD_OPTS='$(BUILD_OPTS)' PROMPT_DIR='$(PROMPT_DIR)' INFTY_BIN='$(INFTY_BIN)' FORCE='$(FORCE)' \
       ALLOW_FAILED='$(ALLOW_FAILED)' $(PIPELINE)

.PHONY: convert prepare stage-shard missing status

ifneq ($(filter $(PIPE_GOALS) stage-shard missing status,$(MAKECMDGOALS)),)
ifeq ($(OUT),)
$(error OUT is not set: e.g. make $(firstword $(MAKECMDGOALS)) OUT=runs/x)
endif
endif

# convert and prepare write OUT/run.json and the params files while make
# reads this file, so that the params' mtimes are right before make compares.
ifneq ($(filter $(PIPE_GOALS),$(MAKECMDGOALS)),)
ifeq ($(IN),)
$(error IN is not set: e.g. make convert IN=data/sample.jsonl OUT=runs/x)
endif
PIPE_PREP := $(shell $(PIPE) prepare 2>&1)
ifneq ($(.SHELLSTATUS),0)
$(error $(PIPE_PREP))
endif
endif

# The top Makefile declares .SECONDARY: with no prerequisites, so every
# target is "secondary": make does not rebuild a missing marker whose
# dependents exist.  So before make compares anything, markers that are not
# fresh (missing or redone upstream, changed params) are removed together
# with everything downstream of them; make then sees the truth.
ifneq ($(OUT),)
ifneq ($(filter convert $(patsubst %/,%,$(OUT))/%,$(MAKECMDGOALS)),)
ifneq ($(wildcard $(OUT)/run.json),)
PIPE_SWEEP := $(shell $(PIPE) sweep 2>&1)
endif
endif
endif

ifneq ($(OUT),)
P         := $(patsubst %/,%,$(OUT))
SHARD_IDS := $(shell seq -f '%05g' 0 $$(( $(SHARDS) - 1 )) 2>/dev/null)
SEG_DONE  := $(addprefix $(P)/segment/done/,$(SHARD_IDS))
SUM_DONE  := $(addprefix $(P)/summarize/done/,$(SHARD_IDS))
BLD_DONE  := $(addprefix $(P)/build/done/,$(SHARD_IDS))

$(P)/shard/done/all: $(IN) $(P)/shard/params | $(PIPE_TOOLS)
	$(Q)$(PIPE) stage shard all
$(SEG_DONE): $(P)/segment/done/%: $(P)/shard/done/all $(P)/segment/params | $(PIPE_TOOLS)
	$(Q)$(PIPE) stage segment $*
$(SUM_DONE): $(P)/summarize/done/%: $(P)/segment/done/% $(P)/summarize/params | $(PIPE_TOOLS)
	$(Q)$(PIPE) stage summarize $*
$(BLD_DONE): $(P)/build/done/%: $(P)/summarize/done/% $(P)/build/params | $(PIPE_TOOLS)
	$(Q)$(PIPE) stage build $*
$(P)/merge/done/all: $(BLD_DONE) $(P)/merge/params
	$(Q)$(PIPE) stage merge all

# Each output file is a target too (make OUT=… runs/x/summarize/out/00003.jsonl.zst):
# it is up to date exactly when its done marker is.
# (pipeline-force makes make look at the marker even when the file exists:
# a missing "secondary" marker is only rebuilt for a target that must be.)
PIPE_OUT_RULE = $(P)/$(1)/out/$(2).jsonl.zst: $(P)/$(1)/done/$(2) pipeline-force ; @:
$(foreach st,segment summarize build,$(foreach s,$(SHARD_IDS),$(eval $(call PIPE_OUT_RULE,$(st),$(s)))))
$(P)/train.jsonl.zst: $(P)/merge/done/all pipeline-force
	@:
.PHONY: pipeline-force
pipeline-force:

convert: $(P)/merge/done/all
	@$(PIPE) summary
endif

prepare:
	@echo "pipeline: $(OUT) prepared: $(SHARDS) shards"

stage-shard: | $(PIPE_TOOLS)
	@$(PIPE) stage-if-needed '$(STAGE)' '$(or $(SHARD),all)'

missing:
	@$(PIPE) missing '$(STAGE)'

status:
	@$(PIPE) status
