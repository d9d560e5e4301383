# seg_split.mk - make fuzz-seg-split: libFuzzer (clang, ASan and UBSan),
# differential: infty-segment's boundary scan and tag split against their
# reference copies in tests/unit/seg_split_ref.c; any difference aborts.
# FUZZ_SEG_TIME seconds (default 120); findings land in $(BUILD)/fuzz/seg-crashes.
.PHONY: fuzz-seg-split
FUZZ_SEG_TIME ?= 120
FUZZ_SEG_SRC := fuzz/fuzz_seg_split.c src/segment/seg_split.c src/segment/seg_input.c \
                tests/unit/seg_split_ref.c src/lib/alloc.c src/lib/error.c src/lib/hash.c

$(BUILD)/fuzz/fuzz_seg_split: $(FUZZ_SEG_SRC) src/segment/seg.h tests/unit/seg_split_ref.h \
    $(BUILD)/config.mk
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -O1 -g -Iinclude -D_GNU_SOURCE $(DEP_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $(FUZZ_SEG_SRC) $(DEP_LIBS)

fuzz-seg-split: $(BUILD)/fuzz/fuzz_seg_split
	$(Q)mkdir -p $(BUILD)/fuzz/seg-corpus $(BUILD)/fuzz/seg-crashes
	$(Q)printf 'One. Two! Three? Four\n\nFive e.g. this $$$$a. B\n\nc$$$$ end, $$x$$ and $$y.' \
	    > $(BUILD)/fuzz/seg-corpus/seed1
	$(Q)printf 'So \\[x.\n\ny\\] and \\(p. Q\\) \\begin{align} a. \\\\\n\n b \\end{align}\n```\nx = 1.\n```\n1. (a) iv. "stop." Then' \
	    > $(BUILD)/fuzz/seg-corpus/seed2
	$(Q)printf '<think>\nA. B\n</think>\n\n<answer>1</answer>' > $(BUILD)/fuzz/seg-corpus/seed3
	$(Q)printf '<|begin_of_thought|>\n\nx.\n\n<|end_of_thought|>\n<|begin_of_solution|>y<|end_of_solution|>' \
	    > $(BUILD)/fuzz/seg-corpus/seed4
	$(Q)$(BUILD)/fuzz/fuzz_seg_split -max_total_time=$(FUZZ_SEG_TIME) -max_len=4096 \
	    -dict=fuzz/seg_split.dict -artifact_prefix=$(BUILD)/fuzz/seg-crashes/ \
	    -print_final_stats=1 $(BUILD)/fuzz/seg-corpus
