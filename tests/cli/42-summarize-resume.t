#!/bin/sh
# infty-summarize after kill -9: rerun with the same cache at several kill
# points.  The fake's request counter shows that the final run sends exactly
# the requests the cache lacks (none twice), that a killed run loses at most
# its in-flight requests, and the final output is byte-identical to an
# uninterrupted run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 22

# 100 traces of 5 segments: 400 requests.
python3 - "$T/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for t in range(100):
        segs = [{"text": f"Trace {t} step {k}: we find x_{k} = {t * 7 + k} so far.", "sep": "\n\n"} for k in range(5)]
        f.write(json.dumps({"id": f"r{t}", "question": f"Question {t}?", "segments": segs, "n": 5}) + "\n")
PY
TOTAL=400
INF=8
fake_start --latency 25
S="$SUM --endpoint $EP --max-inflight $INF"

run $S --cache "$T/ref-cache.jsonl" -o "$T/ref.jsonl" "$T/in.jsonl"
is_rc 0 "uninterrupted reference run"
is "$(fstat chat)" "$TOTAL" "reference run: one request per summary"

# A cheaper counter read than fstat, so the kill lands close to its point.
chat() { curl -s "http://127.0.0.1:$PORT/_stats" | sed 's/.*"chat":\([0-9]*\).*/\1/'; }
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# kill_after K CACHE OUT: start a run with CACHE and OUT, kill -9 it once
# the fake has seen K more chat requests; sets before (the count at start).
kill_after() {
	before=$(fstat chat)
	$S --cache "$2" -o "$3" "$T/in.jsonl" >/dev/null 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null && [ "$(chat)" -lt $((before + $1)) ]; do sleep 0.01; done
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}
# run_until K: the same on the shared cache; sets SENT (requests of that
# run) and PERSISTED.
run_until() {
	c0=$(lines "$T/c.jsonl")
	kill_after "$1" "$T/c.jsonl" "$T/out.jsonl"
	SENT=$(( $(fstat chat) - before )); PERSISTED=$(( $(lines "$T/c.jsonl") - c0 ))
}
grand=0
for K in 40 120 100; do
	run_until $K
	grand=$((grand + SENT))
	[ $PERSISTED -le $SENT ] && [ $((SENT - PERSISTED)) -le $INF ]; ok $? \
		"kill -9 after ~$K requests: sent $SENT, cached $PERSISTED; lost at most the $INF in flight"
	[ ! -e "$T/out.jsonl" ]; ok $? "kill -9 after ~$K: no partial output under the final name"
done
have=$(lines "$T/c.jsonl")
before=$(fstat chat)
run $S --cache "$T/c.jsonl" --stats "$T/st.json" -o "$T/out.jsonl" "$T/in.jsonl"
is_rc 0 "final resumed run exits 0"
SENT=$(( $(fstat chat) - before )); grand=$((grand + SENT))
is "$SENT" "$((TOTAL - have))" "final run sends exactly the $((TOTAL - have)) requests the cache lacks"
is "$(jq_py "$T/st.json" "O['summaries']['cache_hits']")" "$have" "every cached summary was reused"
same_file "$T/out.jsonl" "$T/ref.jsonl" "output byte-identical to the uninterrupted run"
[ $grand -le $((TOTAL + 3 * INF)) ]; ok $? "all runs together: $grand requests for $TOTAL summaries"

# the same with the default zstd cache: frames cut by the kill are dropped
kill_after 150 "$T/z.jsonl.zst" "$T/zout.jsonl"
run $S --cache "$T/z.jsonl.zst" --stats "$T/zst.json" -o "$T/zout.jsonl" "$T/in.jsonl"
is_rc 0 "zstd cache: resumed run exits 0"
sent=$(( $(fstat chat) - before ))
[ $sent -le $((TOTAL + INF)) ] && [ $sent -ge $TOTAL ]; ok $? "zstd cache: $sent requests in both runs for $TOTAL summaries"
is "$(( $(jq_py "$T/zst.json" "O['summaries']['cache_hits']") + $(jq_py "$T/zst.json" "O['requests']['sent']") ))" "$TOTAL" \
	"zstd cache: hits + new requests = all summaries"
same_file "$T/zout.jsonl" "$T/ref.jsonl" "zstd cache: output byte-identical"
fake_stop

# What the output says its requests took survives a resume: each summary
# keeps its usage (cached prompt tokens of the fake's prefix cache
# included) in the cache, and the stats' "usage" sums the records written,
# whether answered now or earlier.
fake_start --latency 25 --prefix-cache 100000
S="$SUM --endpoint $EP --max-inflight $INF"
run $S --cache "$T/u.jsonl" --stats "$T/u1.json" -o "$T/u1.jsonl" "$T/in.jsonl"
is "$(jq_py "$T/u1.json" "(O['usage']['requests'], O['usage']['prompt_tokens'], O['usage']['cached_tokens'])")" \
	"($(fstat chat), $(fstat prompt_tokens), $(fstat cached_tokens))" \
	"usage: requests, prompt and cached tokens as the server counted them"
is "$(jq_py "$T/u1.jsonl" "sum(s['usage']['cached_tokens'] for r in R for s in r['summaries'])")" \
	"$(fstat cached_tokens)" "each summary carries its cached prompt tokens"
run $S --cache "$T/u.jsonl" --stats "$T/u2.json" -o "$T/u2.jsonl" "$T/in.jsonl"
is "$(jq_py "$T/u2.json" "(O['requests']['sent'], O['tokens']['prompt'], O['usage'])")" \
	"(0, 0, $(jq_py "$T/u1.json" "O['usage']"))" "a rerun from the cache pays nothing and reports the same usage"
# Killed half way, then resumed: the same requests and tokens as one run.
kill_after 200 "$T/uk.jsonl" "$T/uk.jsonl.out"
run $S --cache "$T/uk.jsonl" --stats "$T/uk.json" -o "$T/uk.jsonl.out" "$T/in.jsonl"
[ "$(jq_py "$T/uk.json" "O['summaries']['cache_hits'] > 0 < O['requests']['sent']")" = True ]
ok $? "the resumed run took some answers from the cache and asked for the rest"
U="(O['usage']['requests'], O['usage']['prompt_tokens'], O['usage']['completion_tokens'])"
is "$(jq_py "$T/uk.json" "$U")" "$(jq_py "$T/u1.json" "$U")" \
	"killed and resumed: the usage of an uninterrupted run"
fake_stop
