# slurm.mk - scale-out tests (issue 7), not part of the default `make test`:
#   make test-slurm     a private single-node Slurm cluster (tests/slurm/):
#                       installs slurmctld slurmd slurm-client munge with
#                       apt-get when absent (root), runs infty-slurm on it,
#                       stops every daemon it started.  Under 10 minutes.
#   make test-parallel  the GNU parallel path (scripts/infty-parallel);
#                       installs Debian's parallel when absent (root).
# Both are bounded by `timeout`, whose TERM lets the tests tear down.
.PHONY: test-slurm test-parallel

SLURM_TEST_TIMEOUT ?= 600

test-slurm: $(BINS) $(TOKENIZER)
	$(Q)timeout -k 30 $(SLURM_TEST_TIMEOUT) $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) \
	    $(sort $(wildcard tests/slurm/*.t))

test-parallel: $(BINS) $(TOKENIZER)
	$(Q)command -v parallel >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends parallel >&2 || \
	      { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends parallel >&2; }; }
	$(Q)timeout -k 30 $(SLURM_TEST_TIMEOUT) $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) \
	    $(sort $(wildcard tests/parallel/*.t))
