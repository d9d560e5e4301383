# mk/quality.mk - `make quality-counts`: the summary checks over the offline
# extractive summaries of the shared corpus and of the OpenR1 sample
# (../shared/data), the flag counts docs/quality.md reports.  Segments at
# QUALITY_ETA (default 4096) and QUALITY_ETA_SMALL (1024, more summaries per
# trace); a few minutes on 2 cores, most of it segmenting the corpus.
# Outputs under $(BUILD)/quality/, annotated records (flags and quality on
# each summary) included, for `infty-inspect report`.  The driver's counts
# are printed next to infty-summarize's own (its stats): they must agree.
#
# `make quality-fake` (after quality-counts, whose segments it reuses): the
# same data summarized by the fake endpoint with the default policy and the
# judge (tests/quality/quality_fake.sh), one table row per data set and fake
# scenario, from infty-summarize's stats.  A few minutes, most of it the
# corpus's 4 x 5,730 requests.
.PHONY: quality-counts quality-fake

QUALITY_SHARED ?= ../shared/data
QUALITY_ETA ?= 4096
QUALITY_ETA_SMALL ?= 1024
QDIR = $(BUILD)/quality

$(BUILD)/quality/quality_count: $(BUILD)/obj/tests/quality/quality_count.o $(ENGINES_A) $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# One measurement: quality_one NAME INPUT ETA
define quality_one
	@echo "== $(1): $(2), eta $(3), extractive summaries"
	$(Q)$(BUILD)/bin/infty-segment -q -e $(3) -o $(QDIR)/$(1)-seg.jsonl.zst -r $(QDIR)/$(1)-seg.rej.jsonl $(2) || [ $$? = 1 ]
	$(Q)$(BUILD)/bin/infty-summarize -q --backend extractive --stats $(QDIR)/$(1)-sum.json -o $(QDIR)/$(1)-sum.jsonl.zst $(QDIR)/$(1)-seg.jsonl.zst
	$(Q)$(QDIR)/quality_count -o $(QDIR)/$(1)-annotated.jsonl $(QDIR)/$(1)-sum.jsonl.zst
	$(Q)python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print("infty-summarize stats: checked", o["quality"]["checked"], "flagged", o["quality"]["flagged"], o["quality_flags"])' $(QDIR)/$(1)-sum.json
endef

quality-counts: $(BUILD)/quality/quality_count $(BUILD)/bin/infty-segment $(BUILD)/bin/infty-summarize $(TOKENIZER)
	$(Q)[ -f '$(QUALITY_SHARED)/openr1_math_messages_sample.jsonl' ] || \
	    { echo "quality-counts: $(QUALITY_SHARED): not found (needs ../shared/data)" >&2; exit 2; }
	$(call quality_one,openr1-$(QUALITY_ETA),$(QUALITY_SHARED)/openr1_math_messages_sample.jsonl,$(QUALITY_ETA))
	$(call quality_one,openr1-$(QUALITY_ETA_SMALL),$(QUALITY_SHARED)/openr1_math_messages_sample.jsonl,$(QUALITY_ETA_SMALL))
	$(call quality_one,corpus-$(QUALITY_ETA),$(QUALITY_SHARED)/corpus/reasoning_traces.jsonl.zst,$(QUALITY_ETA))

quality-fake: $(BUILD)/bin/infty-summarize $(TOKENIZER)
	$(Q)[ -f $(QDIR)/corpus-$(QUALITY_ETA)-seg.jsonl.zst ] || \
	    { echo "quality-fake: run make quality-counts first (its segments are reused)" >&2; exit 2; }
	$(Q)tests/quality/quality_fake.sh $(QDIR) $(BUILD)/bin $(CURDIR) \
	    openr1-$(QUALITY_ETA) openr1-$(QUALITY_ETA_SMALL) corpus-$(QUALITY_ETA)
