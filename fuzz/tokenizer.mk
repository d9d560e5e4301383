# tokenizer.mk - make fuzz-tokenizer: libFuzzer (clang) on the tokenizer with
# ASan and UBSan, seeded with the texts of the HF test vectors.
# FUZZ_TOK_TIME seconds (default 120); findings land in $(BUILD)/fuzz/tok-crashes.
.PHONY: fuzz-tokenizer
FUZZ_TOK_TIME ?= 120
FUZZ_TOK_JSON ?= $(TOKENIZER)
FUZZ_TOK_SRC := fuzz/fuzz_tokenizer.c src/lib/tokenizer.c src/lib/tokenizer_encode.c \
                src/lib/tokenizer_json.c src/lib/jsonl_parse.c src/lib/utf8.c \
                src/lib/tok_unicode_table.c src/lib/tok_nfc.c src/lib/tok_nfc_table.c \
                src/lib/alloc.c src/lib/hash.c src/lib/error.c

$(BUILD)/fuzz/fuzz_tokenizer: $(FUZZ_TOK_SRC) $(wildcard src/lib/tok*.h include/infty/*.h) $(BUILD)/config.mk
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -O1 -g -Iinclude -Isrc/lib -D_GNU_SOURCE $(DEP_CFLAGS) \
	    -DINFTY_DEFAULT_TOKENIZER='"$(TOKENIZER)"' -DINFTY_DATADIR='"$(DATADIR)"' \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $@ $(FUZZ_TOK_SRC) $(DEP_LIBS) -lm

fuzz-tokenizer: $(BUILD)/fuzz/fuzz_tokenizer $(FUZZ_TOK_JSON)
	$(Q)mkdir -p $(BUILD)/fuzz/tok-corpus $(BUILD)/fuzz/tok-crashes
	$(Q)python3 -c 'import json,sys,os; d=sys.argv[1]; \
	    [open(os.path.join(d,"v%04d"%i),"w",encoding="utf-8").write(json.loads(l)["text"]) \
	     for i,l in enumerate(open("tests/vectors/qwen3.jsonl",encoding="utf-8"))]' $(BUILD)/fuzz/tok-corpus
	$(Q)INFTY_TOKENIZER='$(FUZZ_TOK_JSON)' $(BUILD)/fuzz/fuzz_tokenizer -max_total_time=$(FUZZ_TOK_TIME) \
	    -max_len=4096 -artifact_prefix=$(BUILD)/fuzz/tok-crashes/ -print_final_stats=1 \
	    $(BUILD)/fuzz/tok-corpus
