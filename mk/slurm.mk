# slurm.mk - scale-out tests (issue 7), not part of the default `make test`:
#   make test-slurm     a private single-node Slurm cluster (tests/slurm/):
#                       installs slurmctld slurmd slurm-client munge with
#                       apt-get when absent (root), runs infty-slurm on it,
#                       stops every daemon it started.  Under 10 minutes.
#   make test-parallel  the GNU parallel path (scripts/infty-parallel).
# Both are bounded by `timeout`, whose TERM lets the tests tear down.
.PHONY: test-slurm test-parallel

SLURM_TEST_TIMEOUT ?= 600

test-slurm: $(BINS) $(TOKENIZER)
	$(Q)timeout -k 30 $(SLURM_TEST_TIMEOUT) $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) \
	    $(sort $(wildcard tests/slurm/*.t))

test-parallel: $(BINS) $(TOKENIZER)
	$(Q)timeout -k 30 $(SLURM_TEST_TIMEOUT) $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) \
	    $(sort $(wildcard tests/parallel/*.t))
