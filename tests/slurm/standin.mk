# standin.mk - a stand-in for the pipeline's per-shard make interface, used by
# tests/slurm/ to check infty-slurm's mechanics alone (submission, windows,
# chaining, relaunch) quickly, independent of the real tools:
#   make -f standin.mk stage-shard STAGE=s SHARD=i OUT=d
#   make -f standin.mk missing OUT=d STAGE=s      -> "0-3,7"
#   make -f standin.mk status OUT=d
# OUT/run.json holds {"total_shards": N}.  A file OUT/fail-once/<stage>-<i>
# makes that shard fail once (it is removed by the failure); while a file
# OUT/slow/<stage>-<i> exists the shard waits before working.
STAGES := segment summarize build
prev_segment := input
prev_summarize := segment
prev_build := summarize
N = $(shell jq -r .total_shards '$(OUT)/run.json')
pad = $(shell printf %05d $(1))

.PHONY: all prepare stage-shard missing status
all prepare:
stage-shard:
	@s=$(call pad,$(SHARD)); d='$(OUT)/$(STAGE)'; \
	if [ -e "$$d/done/$$s" ]; then exit 0; fi; \
	while [ -e '$(OUT)/slow/$(STAGE)-$(SHARD)' ]; do sleep 0.2; done; \
	if [ -e '$(OUT)/fail-once/$(STAGE)-$(SHARD)' ]; then \
		rm -f '$(OUT)/fail-once/$(STAGE)-$(SHARD)'; echo "injected failure" >&2; exit 1; fi; \
	mkdir -p "$$d/out" "$$d/done"; \
	{ cat '$(OUT)/$(prev_$(STAGE))/out/'"$$s" 2>/dev/null || echo "shard $(SHARD)"; \
	  echo "$(STAGE) $(SHARD)"; } > "$$d/out/$$s.tmp" && mv "$$d/out/$$s.tmp" "$$d/out/$$s"; \
	date +%s%N >> '$(OUT)/attempts-$(STAGE)-$(SHARD)'; \
	touch "$$d/done/$$s"

missing:
	@for i in $$(seq 0 $$(($(N) - 1))); do \
		[ -e '$(OUT)/$(STAGE)/done/'"$$(printf %05d $$i)" ] || echo $$i; done | \
	awk 'function f() { if (s == "") return; r = r (r == "" ? "" : ",") (s == p ? s : s "-" p) } \
	     { if (s != "" && $$1 == p + 1) { p = $$1; next } f(); s = $$1; p = $$1 } END { f(); print r }'

status:
	@for st in $(STAGES); do \
		printf '%s %s/%s\n' $$st $$(ls '$(OUT)/'$$st/done 2>/dev/null | wc -l) $(N); done
