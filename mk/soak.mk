# soak.mk - longer robustness runs, not part of the default `make test`:
#   make test-soak   kill -9 ten times at random during a conversion against
#                    the fake endpoint, then check the relaunched result is
#                    byte-identical and nothing stored was paid for twice
#                    (tests/soak/; about a minute; SOAK_KILLS=N for more).
.PHONY: test-soak

test-soak: $(BINS) $(TOKENIZER)
	$(Q)timeout -k 30 600 $(PROVE) --exec '' $(if $(filter 1,$(V)),-v) $(sort $(wildcard tests/soak/*.t))
