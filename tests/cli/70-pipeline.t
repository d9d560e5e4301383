#!/bin/sh
# The make-driven pipeline end to end on the bundled sample with the fake
# endpoint: counts add up, sharding does not change the result, a killed
# run relaunches only what is missing, one stage reruns on one shard,
# parameters rebuild exactly what depends on them, run.json pins SHARDS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 50

IN=$ROOT/tests/fixtures/sample.jsonl
# The top Makefile's global settings that change how make treats the
# markers (every target secondary), around mk/pipeline.mk alone so the test
# does not rebuild the tools.
printf '.SECONDARY:\n.SECONDEXPANSION:\ninclude %s/mk/pipeline.mk\n' "$ROOT" >"$T/wrap.mk"
MK="make -s --no-print-directory -f $T/wrap.mk INFTY_BIN=$BUILD/bin"
# The fake counts prompt tokens as chars/3, below our exact Qwen counts on
# math text, so the truncation check is loosened for it.
SOPTS='--ready-timeout 5 --backoff-max 0.1 --max-retries 2 --trunc-ratio 0.5'
convert() { # convert OUT SHARDS [VAR=VALUE...]
	_o=$1 _s=$2
	shift 2
	run $MK convert IN="$IN" OUT="$_o" SHARDS="$_s" ETA=96 ENDPOINT="$EP" MODEL=fake-model \
		SUMMARIZE_OPTS="$SOPTS" "$@"
}
py_sum_n() { zstd -dcf -- "$@" | python3 -c 'import sys,json; print(sum(json.loads(l)["n"] for l in sys.stdin if l.strip()))'; }
sorted_train() { zstd -dc "$1/train.jsonl.zst" | sort; }

# infty-shard: round robin by line number, also with many shards.
seq 400 | sed 's/.*/{"r":&}/' >"$T/rows.jsonl"
infty-shard -q -n 130 -o "$T/sh130" "$T/rows.jsonl"
is "$(ls "$T/sh130" | wc -l | tr -d ' '):$(zstd -dc "$T"/sh130/*.zst | sort | cmp -s - "$(sort "$T/rows.jsonl" >"$T/rows.sorted"; echo "$T/rows.sorted")" && echo same)" \
	"130:same" "130 shards hold every row once"
is "$(zstd -dc "$T/sh130/00007.jsonl.zst" | tr '\n' ' ')" '{"r":8} {"r":138} {"r":268} {"r":398} ' \
	"row L is in shard (L-1) mod N, in order"

fake_start --models fake-model,fake-model-2
A=$T/a
convert "$A" 3 -j2
is_rc 0 "make convert with the fake endpoint succeeds"
like "$OUT" "training instances" "prints a summary of what was produced"
rows=$(grep -c . "$IN")
seg=$(cat "$A"/segment/out/*.zst | zstd -dc | grep -c .)
segrej=$(cat "$A"/segment/failed/*.zst | zstd -dc | grep -c .)
is "$((seg + segrej))" "$rows" "rows = segmented traces + rejects ($seg + $segrej)"
[ "$segrej" -ge 2 ]; ok $? "the sample's bad rows are rejected"
summ=$(cat "$A"/summarize/out/*.zst | zstd -dc | grep -c .)
is "$summ" "$seg" "every segmented trace is summarized"
[ "$summ" = "$seg" ] || diag "$(cat "$A"/summarize/failed/*.zst | zstd -dc | cut -c1-300)"
inst=$(count_lines "$A/train.jsonl.zst")
is "$inst" "$(cat "$A"/summarize/out/*.zst | py_sum_n)" "instances = sum of n"
[ "$inst" -gt "$summ" ]; ok $? "some traces give n >= 2 ($inst instances from $summ traces)"
like "$(cat "$A/stats.json")" "\"instances\": $inst" "stats.json totals"
run infty-inspect validate "$A/train.jsonl.zst" "$A"/summarize/out/00000.jsonl.zst
is_rc 0 "the training file and summaries validate"
like "$(zstd -dc "$A/train.jsonl.zst" | head -1)" '"meta":\{"id":"[^"]*","iteration":1' "instances carry meta"
[ "$(fstat chat)" -gt 0 ]; ok $? "summaries came from the endpoint"

# The same run in one shard gives the same instances.
B=$T/b
convert "$B" 1
is_rc 0 "one-shard run"
sorted_train "$A" >"$T/a.sorted"
sorted_train "$B" >"$T/b.sorted"
same_file "$T/a.sorted" "$T/b.sorted" "3 shards and 1 shard give the same instances"

# A relaunch with nothing to do runs nothing.
touch "$T/ref"
sleep 0.2
convert "$A" 3
is "$(find "$A" -path '*/done/*' -newer "$T/ref" | wc -l | tr -d ' ')" 0 "an up-to-date relaunch redoes nothing"

# Kill a run in the middle of summarizing, then relaunch.
fake_start --latency 1000
C=$T/c
# One request at a time: a shard's summaries take seconds, the kill lands among them.
COPTS="$SOPTS --max-inflight 1"
(setsid $MK convert IN="$IN" OUT="$C" SHARDS=3 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="$COPTS" -j3 >/dev/null 2>&1 &
 echo $! >"$T/make.pid")
wait_for 10 test -e "$C/summarize/logs/00000.log"
# Some answers in a cache, then the kill.
wait_for 10 has_cache "$C"
pg=$(cat "$T/make.pid")
kill -KILL "-$pg" 2>/dev/null || diag "could not kill process group $pg"
# Wait until none of the killed processes is left.
wait_for 5 group_gone "$pg"
[ ! -e "$C/summarize/done/00000" ]; ok $? "the killed summarize shard has no done marker"
[ ! -e "$C/train.jsonl.zst" ]; ok $? "no training file from a killed run"
seg_done=$(ls "$C/segment/done")
touch "$T/ref2"
sleep 0.2
fake_start
convert "$C" 3 -j2 SUMMARIZE_OPTS="$COPTS"
is_rc 0 "relaunch after the kill succeeds"
redone=$(cd "$C/segment/done" && for f in $seg_done; do [ "$f" -nt "$T/ref2" ] && echo "$f"; done)
is "$redone" "" "the segment shards finished before the kill ($(echo $seg_done)) are not redone"
sorted_train "$C" >"$T/c.sorted"
same_file "$T/c.sorted" "$T/a.sorted" "the relaunched run gives the same instances"
# What the summaries took, from their records: the killed and relaunched run
# reports the totals of the uninterrupted one.
TOT="(O['usage'], O['quality'])"
is "$(jq_py "$C/stats.json" "$TOT")" "$(jq_py "$A/stats.json" "$TOT")" \
	"the relaunched run's usage and flag counts are the uninterrupted run's"
[ "$(python3 -c 'import sys,json; print(sum(json.load(open(f))["summaries"]["cache_hits"] for f in sys.argv[1:]))' "$C"/summarize/stats/*.json)" -gt 0 ]
ok $? "(the relaunch took answers from the cache)"

# A summary out of retries (server errors) keeps its shard not done; a
# relaunch once the server is well retries it and completes the run.
fake_start --scenario 500 --match "divisors"
D=$T/d
convert "$D" 2
is_rc 2 "retryable summary failures stop the run"
like "$ERR" "failed with retryable errors" "and say that a relaunch retries them"
fake_start --models fake-model,fake-model-2
convert "$D" 2
sorted_train "$D" >"$T/d.sorted"
same_file "$T/d.sorted" "$T/a.sorted" "the relaunch retries them and completes"

# Rerun one stage on one shard; then only what depends on it is stale.
run $MK stage-shard OUT="$A" STAGE=build SHARD=1
like "$ERR" "done and fresh" "stage-shard skips a fresh shard"
run $MK stage-shard OUT="$A" STAGE=build SHARD=1 FORCE=1
is_rc 0 "stage-shard FORCE=1 reruns build on shard 1"
run $MK status OUT="$A"
like "$OUT" "merge: not done" "status: the merge is stale after it"
touch "$T/ref3"
sleep 0.2
convert "$A" 3
is "$(find "$A" -path '*/done/*' -newer "$T/ref3" | sort | sed "s|$A/||" | tr '\n' ' ')" "merge/done/all " "make convert then redoes only the merge"

# Parameters: a new FORMAT rebuilds build and merge only.
touch "$T/ref4"
sleep 0.2
convert "$A" 3 FORMAT=hf
is "$(find "$A" -path '*/done/*' -newer "$T/ref4" | sed "s|$A/||; s|/done/.*||" | sort -u | tr '\n' ' ')" "build merge " "FORMAT=hf reruns build and merge, not segment or summarize"

# A new MODEL reruns summarize, build and merge, not segment.
touch "$T/ref7"
sleep 0.2
run $MK convert OUT="$A" ENDPOINT="$EP" MODEL=fake-model-2
is "$(find "$A" -path '*/done/*' -newer "$T/ref7" | sed "s|$A/||; s|/done/.*||" | sort -u | tr '\n' ' ')" "build merge summarize " "MODEL change reruns summarize, build and merge only"

# A relaunch with only OUT= reuses the run's settings (FORMAT=hf included).
touch "$T/ref5"
sleep 0.2
run $MK convert OUT="$A"
is "$RC:$(find "$A" -path '*/done/*' -newer "$T/ref5" | wc -l | tr -d ' ')" "0:0" "make convert OUT= alone relaunches as is"

# A lost upstream marker: that shard is redone down to the merge, no other.
rm -f "$A/segment/done/00001"
touch "$T/ref6"
sleep 0.2
run $MK convert OUT="$A"
is "$(find "$A" -path '*/done/*' -newer "$T/ref6" | sed "s|$A/||" | sort | tr '\n' ' ')" \
	"build/done/00001 merge/done/all segment/done/00001 summarize/done/00001 " \
	"a missing segment marker redoes that shard's chain only"
# stage-shard on a shard whose marker is gone redoes it, and what was built
# on it becomes stale.
rm -f "$A/summarize/done/00002"
run $MK stage-shard OUT="$A" STAGE=summarize SHARD=2
[ -e "$A/summarize/done/00002" ] && [ ! -e "$A/build/done/00002" ]
ok $? "stage-shard redoes that shard's summarize only and unmarks its build"

# JUDGE=1 is summarize's --judge: part of its params, so turning it off reruns
# summarize, build and merge, not segment; without an endpoint it is refused.
J=$T/j
convert "$J" 1 JUDGE=1
is_rc 0 "JUDGE=1: the run finishes"
is "$(head -n 1 "$J/summarize/params" | grep -c -- '--judge') $(zstd -dc "$J"/summarize/out/*.zst | python3 -c 'import sys,json; print(all("judge" in s for l in sys.stdin for s in json.loads(l)["summaries"]))')" \
	"1 True" "JUDGE=1: --judge in summarize's params, a judge score on every summary"
nsum=$(zstd -dc "$J"/summarize/out/*.zst | python3 -c 'import sys,json; print(sum(len(json.loads(l)["summaries"]) for l in sys.stdin))')
is "$(jq_py "$J/stats.json" "(O['judge']['judged'], sum(O['judge']['scores'].values()), O['quality']['checked'])")" \
	"($nsum, $nsum, $nsum)" "stats.json: every summary checked and judged"
like "$(grep -c -e '^## Summary quality' -e '^The judge .* graded '"$nsum"' summaries' -e '^## Requests and tokens' "$J/dataset/README.md")" \
	"^3$" "the dataset card reports the flags, the judge's scores and the requests"
touch "$T/ref8"
sleep 0.2
run $MK convert OUT="$J" JUDGE=0
is "$RC:$(find "$J" -path '*/done/*' -newer "$T/ref8" | sed "s|$J/||; s|/done/.*||" | sort -u | tr '\n' ' ')" \
	"0:build merge summarize " "JUDGE=0 afterwards reruns summarize, build and merge only"
# The judge's prompts count for runs that judge only.
cp -R "$ROOT/prompts" "$T/prompts"
convert "$T/pj" 1 PROMPT_DIR="$T/prompts"
echo "Be strict." >>"$T/prompts/judge.txt"
touch "$T/ref9"
sleep 0.2
run $MK convert OUT="$T/pj"
is "$RC:$(find "$T/pj" -path '*/done/*' -newer "$T/ref9" | wc -l | tr -d ' ')" "0:0" \
	"editing judge.txt does not redo a run without the judge"
run $MK convert IN="$IN" OUT="$T/nj" SHARDS=1 JUDGE=1
is_rc 2 "JUDGE=1 without an endpoint: exit 2"
like "$ERR" "pipeline: JUDGE=1 needs ENDPOINT" "... and says why"

# How requests travel (in flight, timeouts, streaming) is no setting of the
# output: changing it redoes nothing, and it reaches the tool.
touch "$T/ref10"
sleep 0.2
run $MK convert OUT="$T/pj" SUMMARIZE_OPTS="$SOPTS --max-inflight 1 --stall-timeout 20 --no-stream"
is "$RC:$(find "$T/pj" -path '*/done/*' -newer "$T/ref10" | wc -l | tr -d ' ')" "0:0" \
	"a changed --max-inflight, --stall-timeout or --no-stream redoes nothing"
unlike "$ERR" "settings changed" "... and says no setting changed"
fake_start --latency 100
rm -f "$T/pj/summarize/cache/00000.jsonl.zst"
run $MK stage-shard OUT="$T/pj" STAGE=summarize SHARD=0 FORCE=1 ENDPOINT="$EP"
is "$RC:$(fstat max_inflight):$(fstat streamed)" "0:1:0" "... and the tool runs with them (one request in flight, not streamed)"

# missing and the shard pin.
rm -f "$A/segment/done/00000" "$A/segment/done/00002"
run $MK missing OUT="$A" STAGE=summarize
is "$OUT" "0,2" "missing lists the shards downstream of a missing one"
run $MK missing OUT="$A" STAGE=segment
is "$OUT" "0,2" "missing STAGE=segment"
convert "$A" 4
is_rc 2 "a relaunch with another SHARDS is refused"
like "$ERR" "has 3 shards, not SHARDS=4" "and says why"
fake_stop
