# fuzz-json-parse: differential libFuzzer run of infty_json_parse() against
# the json-c based reference it replaced (same outcome, same serialization).
# Built with no stack scratch, so ASan checks every line's heap scratch.
#   make fuzz-json-parse FUZZ_SECONDS=300
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
JSON_PARSE_FUZZ_SRC := fuzz/fuzz_json_parse.c src/lib/jsonl_parse.c src/lib/json_write.c \
	src/lib/utf8.c src/lib/alloc.c src/lib/error.c

$(BUILD)/fuzz/fuzz_json_parse: $(JSON_PARSE_FUZZ_SRC) src/lib/jsonl_parse_ref.h $(BUILD)/config.mk
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
	    -DINFTY_JSON_STACK_SCRATCH=0 $(DEP_CFLAGS) -o $@ $(JSON_PARSE_FUZZ_SRC) $(DEP_LIBS) -lm -lpthread

# Seeds: fuzz/json_parse.seeds (one per line, the tricky cases of
# tests/unit/test_json_parse.c) plus the first rows of the OpenR1 sample.
.PHONY: fuzz-json-parse
fuzz-json-parse: $(BUILD)/fuzz/fuzz_json_parse
	@mkdir -p $(BUILD)/fuzz/corpus-json-parse
	$(Q)i=0; while IFS= read -r l; do i=$$((i + 1)); \
	    printf '%s' "$$l" > $(BUILD)/fuzz/corpus-json-parse/seed$$i; done < fuzz/json_parse.seeds
	$(Q)if [ -f ../shared/data/openr1_math_messages_sample.jsonl ]; then \
	    head -3 ../shared/data/openr1_math_messages_sample.jsonl | cut -c1-3000 | \
	    split -l 1 - $(BUILD)/fuzz/corpus-json-parse/openr1-; fi
	$(Q)$(BUILD)/fuzz/fuzz_json_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -dict=fuzz/json_parse.dict $(BUILD)/fuzz/corpus-json-parse
