# bench/summarize.mk - `make bench-summarize`: infty-summarize against the
# loopback fake endpoint (100 ms fixed latency, 256 in flight) beside the
# official OpenAI Node SDK, and peak RSS at two input sizes.  Figures go to
# docs/PERFORMANCE.md ("Summarize").
.PHONY: bench-summarize
bench-summarize: $(BUILD)/bin/infty-summarize
	$(Q)cd bench/summarize && npm ci --no-audit --no-fund --loglevel=error
	$(Q)python3 bench/summarize/run.py --bin $(BUILD)/bin/infty-summarize --json $(BUILD)/bench-summarize.json
