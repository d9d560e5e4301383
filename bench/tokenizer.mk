# tokenizer.mk - make bench-tokenizer: infty's tokenizer against Hugging Face
# tokenizers (Node binding, batch encode, one thread) and tiktoken (npm WASM,
# Qwen vocabulary and pattern), side by side on the same real traces.
# Figures go to docs/PERFORMANCE.md ("Tokenizer").
.PHONY: bench-tokenizer
BENCH_TOK_CORPUS ?= ../shared/data/corpus/reasoning_traces.jsonl.zst
BENCH_TOK_STRIDE ?= 7
BENCH_TOK_THREADS ?= 2

$(BUILD)/bench/bench_tok: $(BUILD)/obj/bench/tokenizer/bench_tok.o $(LIB_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-tokenizer: $(BUILD)/bench/bench_tok $(TOKENIZER)
	$(Q)bench/tokenizer/run.sh $(BUILD)/bench/bench_tok '$(TOKENIZER)' \
	    '$(BENCH_TOK_CORPUS)' $(BENCH_TOK_STRIDE) $(BENCH_TOK_THREADS)
