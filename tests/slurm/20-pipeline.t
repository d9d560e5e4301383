#!/bin/bash
# 20-pipeline.t - the real pipeline (mk/pipeline.mk, the infty tools) through
# infty-slurm on a private single-node cluster, against the loopback fake
# endpoint.  One summarize shard meets a fatal error (insufficient_quota) in
# the middle of a trace, the build job waiting on it is stuck in
# DependencyNeverSatisfied, relaunch reruns only that shard, and then:
# completed shards are byte-identical, the result equals a local `make
# convert` of the same input, and no request that was answered once was sent
# again (the fake endpoint's repeated_after_ok counter).
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
need_tools test-slurm
[ -f "$ROOT/mk/pipeline.mk" ] || skip_all "mk/pipeline.mk is absent"
command -v node >/dev/null || skip_all "node is needed for tests/fake-endpoint.mjs"
[ -f "$IN" ] || skip_all "$IN is absent"
need_cluster
plan 22


# --- reference: the same conversion by a local make ------------------------
fake_start
REF=$T/ref
make --no-print-directory -s -C "$ROOT" -f mk/pipeline.mk convert OUT="$REF" \
	"${PIPE_VARS[@]}" ENDPOINT="$FAKE_URL/v1" >"$T/ref.log" 2>&1
ok $? "local make convert of the sample (reference)"
ref_ok=$(stat_of ok)
ref_distinct=$(stat_of distinct)
# One request per summary; one at a time (--max-inflight 1), so a fatal
# error leaves no answered request in flight that a relaunch would resend.
[ "$ref_ok" -gt 4 ] && [ "$ref_distinct" = "$ref_ok" ]
ok $? "reference: $ref_ok summary requests, each distinct"

# The failing request: the first one that carries segment 1 of a trace of
# shard 1 with at least 3 segments, so the trace's first summary (and any
# trace before it) is already answered and cached when the shard stops.
pick=$(unz "$REF/segment/out/00001.jsonl.zst" |
	jq -r 'select(.n >= 3) | .segments[1].text' | head -1 |
	LC_ALL=C grep -o '^[A-Za-z0-9 ,.]*' | head -c 40)
[ "${#pick}" -ge 12 ]
ok $? "a text to fail on in shard 1: '$pick'"

# --- the cluster run ------------------------------------------------------
cluster_up

fake_start --scenario quota --match "$pick" --times 1
O=$T/run
run "$SLURM" --make "make -C $ROOT -f mk/pipeline.mk" -w 2 submit "$O" \
	"${PIPE_VARS[@]}" ENDPOINT="$FAKE_URL/v1"
is_rc 0 "submit exits 0"
like "$ERR" "summarize: job [0-9]+, shards 0-2$" "summarize is one array over the 3 shards"

wait_until 240 gone "$O" summarize
ok $? "the summarize array finishes"
bj=$(jobs_of "$O" build)
wait_until 30 reason_is "$bj" DependencyNeverSatisfied
ok $? "build is stuck in DependencyNeverSatisfied"
run "$SLURM" missing "$O" summarize
is "$OUT" 1 "missing: summarize shard 1"
is "$(stat_of scripted)" 1 "the fatal answer was given once"
like "$(cat "$O/summarize/logs/00001.log")" "insufficient_quota" "shard 1's log names the fatal error"
[ -s "$O/summarize/cache/00001.jsonl.zst" ]
ok $? "shard 1 kept its answered summaries in its cache"

(cd "$O" && sha256sum segment/out/* summarize/out/* summarize/cache/00000.jsonl.zst summarize/cache/00002.jsonl.zst) >"$T/before"
ok_before=$(stat_of ok)
run "$SLURM" relaunch "$O"
is_rc 0 "relaunch exits 0"
like "$ERR" "cancelled job $bj \\(DependencyNeverSatisfied\\)" "relaunch cancels the stuck build job"
like "$ERR" "summarize: job [0-9]+, shards 1$" "relaunch resubmits only summarize shard 1"
wait_until 240 all_gone
ok $? "the relaunched jobs finish"

(cd "$O" && sha256sum -c --quiet "$T/before") >"$T/sum.out" 2>&1
ok $? "completed shards, outputs and caches are byte-identical after the relaunch"
[ "$(stat_of repeated_after_ok)" = 0 ]
ok $? "no answered summary request was sent again"
is "$(stat_of ok)" "$ref_ok" "requests answered over both launches = the local run's"
diff <(unz "$O/train.jsonl.zst") <(unz "$REF/train.jsonl.zst") >"$T/diff" 2>&1
ok $? "the training file equals the local make convert's"
[ "$(stat_of ok)" -gt "$ok_before" ]
ok $? "the relaunch sent the remaining requests of shard 1 ($ok_before before, $(stat_of ok) after)"
run "$SLURM" relaunch "$O"
unlike "$ERR" "job [0-9]+, shards" "a relaunch of a finished run submits nothing"
