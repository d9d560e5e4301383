# mk/segment.mk - `make check-segment-corpus`: the segmenter's property tests
# (lossless, exact recount within eta, no cut inside math) on every trace of
# the real corpus instead of the 1-in-25 sample `make test` uses.  About a
# minute on 2 cores.
.PHONY: check-segment-corpus
check-segment-corpus: $(BUILD)/tests/test_segment_corpus $(TOKENIZER)
	$(Q)INFTY_SEG_CORPUS_ALL=1 $(BUILD)/tests/test_segment_corpus
