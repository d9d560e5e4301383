#!/bin/sh
# infty-summarize when things go wrong: the exit status and completion field
# of a stopped run, SIGTERM within a second on both backends, a relaunch that
# reuses the cache, permanent failures answered from the cache, a cache with
# a damaged frame in the middle or two processes appending to it, bounded
# work and memory for a trace of thousands of segments, and streaming by
# default.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 37

# ms since the epoch
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# term_wait PID: SIGTERM, then wait for the exit (kill -9 after 10 s, so a
# run that ignores the signal fails the test instead of hanging it); sets
# RC and EL (ms from the signal to the exit).
term_wait() {
	_t0=$(now_ms)
	kill -TERM "$1"
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 1000 ]; do sleep 0.01; _i=$((_i + 1)); done
	EL=$(($(now_ms) - _t0))
	kill -9 "$1" 2>/dev/null
	wait "$1"; RC=$?
}

# 60 traces of 5 segments: 240 requests.
python3 - "$T/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for t in range(60):
        segs = [{"text": f"Trace {t} step {k}: we find x_{k} = {t * 7 + k} so far.", "sep": "\n\n"} for k in range(5)]
        f.write(json.dumps({"id": f"r{t}", "question": f"Question {t}?", "segments": segs, "n": 5}) + "\n")
PY
TOTAL=240

# --- SIGTERM during a slow run: exit 3 within a second, cache kept, reused ---
fake_start --latency 400
$SUM --endpoint "$EP" --max-inflight 8 --cache "$T/c.jsonl" --stats "$T/st.json" -o "$T/o.jsonl" "$T/in.jsonl" 2>"$T/err" &
pid=$!
sleep 1.5
term_wait $pid
is "$RC" "3" "SIGTERM: exit 3 (stopped)"
[ "$EL" -lt 1000 ]; ok $? "SIGTERM honoured within a second (${EL} ms)"
[ ! -e "$T/o.jsonl" ]; ok $? "SIGTERM: no output published"
is "$(jq_py "$T/st.json" "(O['completed'], O['stopped_by'])")" "(False, 'signal')" "stats: completed false, stopped_by signal"
have=$(count_lines "$T/c.jsonl")
[ "$have" -gt 0 ] && [ "$have" -lt $TOTAL ]; ok $? "the cache holds the $have answers of the stopped run"
before=$(fstat chat)
run $SUM --endpoint "$EP" --max-inflight 64 --cache "$T/c.jsonl" --stats "$T/st.json" -o "$T/o.jsonl" "$T/in.jsonl"
is_rc 0 "relaunch finishes"
is "$(( $(fstat chat) - before )) $(jq_py "$T/st.json" "(O['completed'], O['summaries']['cache_hits'])")" \
	"$((TOTAL - have)) (True, $have)" "relaunch sends only what the cache lacks and says completed"
cp "$T/o.jsonl" "$T/ref.jsonl"

# --- the extractive path hears SIGTERM too, even inside a huge trace ---------
python3 - "$T/huge.jsonl" <<'PY'
import json, sys
para = ("We get x = 3 and therefore the total is 12. Wait, let me check it again. "
        "Hmm, is it 7? So the answer is 42 and a = b + c. ") * 3
with open(sys.argv[1], "w") as f:
    for t in range(2):
        segs = [{"text": f"[{t}.{k}] " + para, "sep": "\n\n"} for k in range(20000)]
        f.write(json.dumps({"id": f"h{t}", "question": "Find it.", "segments": segs, "n": len(segs)}) + "\n")
PY
t0=$(now_ms)
run timeout -k 5 30 infty-summarize -q --backend extractive --extractive-budget 64 --window 1 --stats "$T/hs.json" -o "$T/h1.jsonl" "$T/huge.jsonl"
el=$(($(now_ms) - t0))
is_rc 0 "extractive: two traces of 20,000 segments each finish"
is "$(jq_py "$T/h1.jsonl" "[len(r['summaries']) for r in R]")" "[19999, 19999]" \
	"every summary made (${el} ms in all)"
# Under a sanitizer, shadow memory and quarantine make RSS meaningless.
if [ -n "${INFTY_SANITIZE:-}" ]; then skip "RSS bound: not measurable under SANITIZE=$INFTY_SANITIZE"; else
[ "$(jq_py "$T/hs.json" "O['max_rss_kb']")" -lt 400000 ]; ok $? "memory stays bounded (max RSS $(jq_py "$T/hs.json" "O['max_rss_kb']") KiB)"
fi
infty-summarize -q --backend extractive --window 1 -o "$T/h2.jsonl" "$T/huge.jsonl" 2>"$T/herr" &
pid=$!
sleep 0.5
term_wait $pid
is "$RC" "3" "extractive: SIGTERM gives exit 3"
[ "$EL" -lt 1000 ] && [ ! -e "$T/h2.jsonl" ]; ok $? "extractive: stopped within a second (${EL} ms), nothing published"

# --- a huge trace with an endpoint: bodies built when sent, memory bounded ---
python3 - "$T/big.jsonl" <<'PY'
import json, sys
seg = "We substitute and simplify, so that x_k = 2k + 1 and the sum telescopes. " * 28
with open(sys.argv[1], "w") as f:
    segs = [{"text": f"[{k}] " + seg, "sep": "\n\n"} for k in range(400)]
    f.write(json.dumps({"id": "big", "question": "Sum it.", "segments": segs, "n": 400}) + "\n")
PY
fake_start
run $SUM --endpoint "$EP" --max-inflight 8 --stats "$T/big.json" -o "$T/big-out.jsonl" "$T/big.jsonl"
is_rc 0 "a 400-segment trace (cumulative bodies 160 MB in all) is summarized"
rss=$(jq_py "$T/big.json" "O['max_rss_kb']")
if [ -n "${INFTY_SANITIZE:-}" ]; then skip "RSS bound: not measurable under SANITIZE=$INFTY_SANITIZE"; else
[ "$rss" -lt 120000 ]; ok $? "request bodies are built when sent: max RSS $rss KiB (all bodies at once: over 300 MB)"
fi
is "$(fstat chat)" "399" "one request per summary"

# --- permanent failures are cached: a relaunch does not pay for them --------
fake_start --scenario length --match "Question 7?"
run $SUM --endpoint "$EP" --cache "$T/pf.jsonl" --failed "$T/pf-f.jsonl" --stats "$T/pf.json" -o "$T/pf-o.jsonl" "$T/in.jsonl"
is_rc 1 "length on one trace: finished with a dead letter (exit 1)"
n1=$(fstat chat)
is "$(jq_py "$T/pf.json" "O['summaries']['failures_cached']")" "4" "the trace's four length failures are cached"
run $SUM --endpoint "$EP" --cache "$T/pf.jsonl" --failed "$T/pf-f2.jsonl" --stats "$T/pf2.json" -o "$T/pf-o2.jsonl" "$T/in.jsonl"
is "$RC $(( $(fstat chat) - n1 ))" "1 0" "relaunch: the same exit 1, not one request sent"
is "$(jq_py "$T/pf-f2.jsonl" "[(r['id'], r['class'], r['reason']) for r in R]")" "[('r7', 'permanent', 'length')]" \
	"relaunch: the cached failure gives the same dead letter"
same_file "$T/pf-o2.jsonl" "$T/pf-o.jsonl" "relaunch: output byte-identical"
run $SUM --endpoint "$EP" --max-tokens 4096 --cache "$T/pf.jsonl" -o "$T/pf-o3.jsonl" "$T/in.jsonl"
is "$(( $(fstat chat) - n1 ))" "4" "another --max-tokens asks the failed requests again"
n2=$(fstat chat)
run $SUM --endpoint "$EP" --retry-failed --cache "$T/pf.jsonl" -o "$T/pf-o4.jsonl" "$T/in.jsonl"
is "$(( $(fstat chat) - n2 ))" "4" "--retry-failed asks them again"
# a cache written before failures were cached still reads (summary entries only)
grep -v '"failed"' "$T/pf.jsonl" >"$T/old.jsonl"
run $SUM --endpoint "$EP" --cache "$T/old.jsonl" --stats "$T/old.json" -o "$T/pf-o5.jsonl" "$T/in.jsonl"
is "$(jq_py "$T/old.json" "O['summaries']['cache_hits']")" "$((TOTAL - 4))" "an old cache (summaries only) is reused"

# --- a damaged frame in the middle of a zstd cache: one warning, the rest kept
fake_start
run $SUM --endpoint "$EP" --max-inflight 4 --cache "$T/z.jsonl.zst" -o "$T/z1.jsonl" "$T/in.jsonl"
frames=$(python3 -c "
d=open('$T/z.jsonl.zst','rb').read(); print(d.count(b'\x28\xb5\x2f\xfd'))")
[ "$frames" -ge 3 ]; ok $? "the cache has several frames ($frames)"
python3 - "$T/z.jsonl.zst" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
starts = [i for i in range(len(d) - 3) if d[i:i + 4] == b'\x28\xb5\x2f\xfd']
mid = starts[len(starts) // 2]
end = starts[len(starts) // 2 + 1]
for i in range(mid + 8, min(end, mid + 40)):
    d[i] ^= 0x5a
open(p, 'wb').write(bytes(d))
PY
before=$(fstat chat)
run $SUM --endpoint "$EP" --cache "$T/z.jsonl.zst" --stats "$T/z.json" -o "$T/z2.jsonl" "$T/in.jsonl"
is_rc 0 "a corrupt frame in the middle does not fail the cache"
is "$(printf '%s\n' "$ERR" | grep -c 'cache: skipped 1 damaged')" "1" "exactly one warning line names it"
lost=$(( $(fstat chat) - before ))
hits=$(jq_py "$T/z.json" "O['summaries']['cache_hits']")
[ "$lost" -gt 0 ] && [ $((lost + hits)) -eq $TOTAL ] && [ "$hits" -gt $((TOTAL / 2)) ]; ok $? \
	"only the damaged frame's $lost entries are asked again ($hits hits)"
same_file "$T/z2.jsonl" "$T/ref.jsonl" "output byte-identical"

# --- two processes appending to one cache: a reload finds every entry --------
fake_start --latency 20
$SUM --endpoint "$EP" --max-inflight 4 --cache "$T/two.jsonl.zst" -o "$T/two-a.jsonl" "$T/in.jsonl" 2>/dev/null &
pa=$!
$SUM --endpoint "$EP" --max-inflight 4 --cache "$T/two.jsonl.zst" -o "$T/two-b.jsonl" "$T/in.jsonl" 2>/dev/null &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
is "$ra $rb" "0 0" "two runs on one cache both finish"
before=$(fstat chat)
run $SUM --endpoint "$EP" --cache "$T/two.jsonl.zst" --stats "$T/two.json" -o "$T/two-c.jsonl" "$T/in.jsonl"
is "$RC $(( $(fstat chat) - before )) $(jq_py "$T/two.json" "O['summaries']['cache_hits']")" "0 0 $TOTAL" \
	"a third run finds all $TOTAL answers in the cache and sends nothing"
unlike "$ERR" "skipped" "and no damage was found"

# --- streaming by default; --no-stream for servers that cannot ---------------
fake_start
run $SUM --endpoint "$EP" -o "$T/s1.jsonl" "$IN"
is "$(fstat chat) $(fstat streamed)" "8 8" "requests stream by default"
run $SUM --endpoint "$EP" --no-stream -o "$T/s2.jsonl" "$IN"
is "$(fstat chat) $(fstat streamed)" "16 8" "--no-stream asks for whole answers"
is "$(jq_py "$T/s2.jsonl" "[(r['id'], len(r['summaries'])) for r in R]")" \
	"$(jq_py "$T/s1.jsonl" "[(r['id'], len(r['summaries'])) for r in R]")" "both give every summary"
like "$(infty-summarize --help)" "default 60 when" "--help gives the stall default of each mode"
# a server that hangs costs the stall timeout, then a retry
fake_start --scenario hang --times 1
t0=$(now_ms)
run $SUM --endpoint "$EP" --stall-timeout 2 --stats "$T/h.json" -o "$T/h.jsonl" "$IN"
el=$(($(now_ms) - t0))
is "$RC $(jq_py "$T/h.json" "O['reasons'].get('timeout')")" "0 1" "a hung request is dropped and retried"
[ "$el" -lt 6000 ]; ok $? "the hang cost about the stall timeout (${el} ms)"
fake_stop
