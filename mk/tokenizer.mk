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
