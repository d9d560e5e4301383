# bench/summarize.mk - `make bench-summarize`: infty-summarize against the
# loopback fake endpoint (100 ms fixed latency, 256 in flight) beside the
# official OpenAI Node SDK, and peak RSS at two input sizes.  Figures go to
# docs/PERFORMANCE.md ("Summarize").
.PHONY: bench-summarize
bench-summarize: $(BUILD)/bin/infty-summarize
	$(Q)cd bench/summarize && npm ci --no-audit --no-fund --loglevel=error
	$(Q)python3 bench/summarize/run.py --bin $(BUILD)/bin/infty-summarize --json $(BUILD)/bench-summarize.json

# `make bench-prefix-cache`: cached / ideal prompt tokens of a server's prefix
# cache (modelled by the fake endpoint) for infty-summarize's dispatch order,
# beside a client sending the same requests in one random order; 64 and 256
# in flight, two cache sizes.  Real traces of ../shared (skips without).
.PHONY: bench-prefix-cache
bench-prefix-cache: $(BUILD)/bin/infty-summarize $(BUILD)/bin/infty-segment $(TOKENIZER)
	$(Q)python3 bench/summarize/prefix_cache.py --bin $(BUILD)/bin --json $(BUILD)/bench-prefix-cache.json
