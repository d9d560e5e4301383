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
