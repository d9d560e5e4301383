# bench-io: the record I/O layer against zstd on the real corpus.
$(BUILD)/bench/bench_io: $(BUILD)/obj/bench/io/bench_io.o $(LIB_A)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-io
bench-io: $(BUILD)/bench/bench_io
	$(Q)bench/io/run.sh $(BUILD)/bench/bench_io
