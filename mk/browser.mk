# mk/browser.mk - `make test-browser`: the report page of infty-inspect in a
# real browser.  Installs Debian's chromium when it is missing (apt-get, as
# root), converts tests/fixtures/sample.jsonl with the offline extractive summarizer,
# writes the report, and checks the DOM after the page's script ran (a trace
# opened by URL hash: its segments and summaries) and a screenshot's size
# (tests/browser/report.t).  Kept out of `make test`: Chromium's start-ups
# take a few seconds each.  CI line: make test-browser
.PHONY: test-browser

BROWSER_TEST_TIMEOUT ?= 300

test-browser: $(BINS) $(TOKENIZER)
	$(Q)command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2 || \
	      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends chromium >&2; }; }
	$(Q)rm -rf $(BUILD)/browser-run
	$(Q)$(MAKE) --no-print-directory convert IN=tests/fixtures/sample.jsonl OUT=$(BUILD)/browser-run \
	    SHARDS=2 ETA=64 >/dev/null
	$(Q)INFTY_BROWSER_RUN=$(abspath $(BUILD))/browser-run timeout -k 30 $(BROWSER_TEST_TIMEOUT) \
	    $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) $(sort $(wildcard tests/browser/*.t))
