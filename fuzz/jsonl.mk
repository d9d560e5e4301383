# fuzz-jsonl: libFuzzer over the record reader and strict parser.
#   make fuzz-jsonl FUZZ_SECONDS=60
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
JSONL_FUZZ_SRC := fuzz/fuzz_jsonl.c src/lib/jsonl_reader.c src/lib/jsonl_parse.c \
	src/lib/json_write.c src/lib/alloc.c src/lib/error.c src/lib/utf8.c

$(BUILD)/fuzz/fuzz_jsonl: $(JSONL_FUZZ_SRC) $(BUILD)/config.mk
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
	    $(DEP_CFLAGS) -o $@ $(JSONL_FUZZ_SRC) $(DEP_LIBS) -lpthread

.PHONY: fuzz-jsonl
fuzz-jsonl: $(BUILD)/fuzz/fuzz_jsonl
	@mkdir -p $(BUILD)/fuzz/corpus-jsonl
	$(Q)printf '{"a":"b"}\n{"x":[1,2.5,null,true]}\n' > $(BUILD)/fuzz/corpus-jsonl/seed1
	$(Q)printf '{"a":"b"}\n' | zstd -q -c > $(BUILD)/fuzz/corpus-jsonl/seed2
	$(Q)$(BUILD)/fuzz/fuzz_jsonl -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    $(BUILD)/fuzz/corpus-jsonl
