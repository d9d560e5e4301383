# bench/segment.mk - `make bench-segment`: infty-segment end to end against
# tokenizer-only counting of the same text (1 and 2 threads), and peak RSS at
# two input sizes, on the real corpus.  Figures go to docs/PERFORMANCE.md
# ("Segment").
.PHONY: bench-segment
BENCH_SEG_CORPUS ?= ../shared/data/corpus/reasoning_traces.jsonl.zst
BENCH_SEG_ETA ?= 4096

$(BUILD)/bench/bench_segment: $(BUILD)/obj/bench/segment/bench_segment.o $(ENGINES_A) $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-segment: $(BUILD)/bench/bench_segment $(BUILD)/bin/infty-segment $(TOKENIZER)
	$(Q)bench/segment/run.sh $(BUILD)/bench/bench_segment $(BUILD)/bin/infty-segment \
	    '$(TOKENIZER)' '$(BENCH_SEG_CORPUS)' $(BENCH_SEG_ETA)

# `make bench-split`: the boundary scan and the tag split of infty-segment
# against their reference copies (tests/unit/seg_split_ref.c), old and new
# interleaved on the corpus's texts, medians in MB/s.  Exit 1 if the two
# disagree on any output.  BENCH_SPLIT_ROUNDS rounds each (default 9).
.PHONY: bench-split
BENCH_SPLIT_ROUNDS ?= 9

$(BUILD)/bench/bench_split: $(BUILD)/obj/bench/segment/bench_split.o \
    $(BUILD)/obj/tests/unit/seg_split_ref.o $(ENGINES_A) $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-split: $(BUILD)/bench/bench_split
	$(Q)if [ ! -f '$(BENCH_SEG_CORPUS)' ]; then \
	    echo "bench-split: $(BENCH_SEG_CORPUS): not found (needs ../shared/data)" >&2; exit 2; fi
	$(Q)$(BUILD)/bench/bench_split '$(BENCH_SEG_CORPUS)' $(BENCH_SPLIT_ROUNDS)
