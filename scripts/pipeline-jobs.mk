# pipeline-jobs.mk - the per-shard jobs of one conversion, for make to run
# in parallel (-jN).  Only `scripts/pipeline convert` uses it, after it has
# taken the run's lock and removed every marker that is not fresh: so make
# needs no mtimes here, only which markers exist (order-only prerequisites),
# and freshness has one owner, the pipeline script.
#
#   make -f pipeline-jobs.mk PIPELINE=scripts/pipeline P=OUT NSHARDS=N all

SHARD_IDS := $(shell seq -f '%05g' 0 $$(( $(NSHARDS) - 1 )))
SEG_DONE  := $(addprefix $(P)/segment/done/,$(SHARD_IDS))
SUM_DONE  := $(addprefix $(P)/summarize/done/,$(SHARD_IDS))
BLD_DONE  := $(addprefix $(P)/build/done/,$(SHARD_IDS))

.PHONY: all
all: $(P)/merge/done/all

$(P)/shard/done/all:
	@$(PIPELINE) stage shard all
$(SEG_DONE): $(P)/segment/done/%: | $(P)/shard/done/all
	@$(PIPELINE) stage segment $*
$(SUM_DONE): $(P)/summarize/done/%: | $(P)/segment/done/%
	@$(PIPELINE) stage summarize $*
$(BLD_DONE): $(P)/build/done/%: | $(P)/summarize/done/%
	@$(PIPELINE) stage build $*
$(P)/merge/done/all: | $(BLD_DONE)
	@$(PIPELINE) stage merge all
