#!/bin/sh
# infty-summarize: options, the offline extractive backend, the happy path
# against the fake endpoint, request counts, order, cache reuse, secrets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 49

run infty-summarize --help; is_rc 0 "--help exits 0"
like "$OUT" "usage: infty-summarize" "--help prints usage on stdout"
run infty-summarize --bogus; is_rc 2 "unknown option exits 2"
like "$ERR" "Try 'infty-summarize --help'" "unknown option points at --help"
run infty-summarize --backend openai "$IN"; is_rc 2 "openai backend without --endpoint is a usage error"
run infty-summarize --endpoint ftp://x --model m "$IN"; is_rc 2 "non-http endpoint is a usage error"
run infty-summarize --max-inflight 0 "$IN"; is_rc 2 "--max-inflight 0 is out of range"

# --- extractive: offline, deterministic, marked as such -----------------------
run infty-summarize -q --backend extractive -o "$T/x1.jsonl" "$IN"; is_rc 0 "extractive run exits 0"
run infty-summarize -q -o "$T/x2.jsonl" "$IN"; is_rc 0 "no endpoint: extractive by default"
same_file "$T/x2.jsonl" "$T/x1.jsonl" "extractive output is deterministic"
is "$(jq_py "$T/x1.jsonl" "[r['id'] for r in R]")" "['t1:m', 't2:m', 't3:m', 't4:m', 't5:m']" "records in input order"
is "$(jq_py "$T/x1.jsonl" "all(len(r['summaries'])==r['n']-1 for r in R)")" "True" "n-1 summaries per trace (none for n=1)"
is "$(jq_py "$T/x1.jsonl" "sorted({s['backend']+'/'+s['model'] for r in R for s in r['summaries']})")" \
	"['extractive/infty-extractive']" "every summary says backend extractive"
is "$(jq_py "$T/x1.jsonl" "all(all(l.startswith('* ') for s in r['summaries'] for l in s['text'].split(chr(10))) and [s['i'] for s in r['summaries']]==list(range(r['n']-1)) for r in R)")" \
	"True" "extractive summaries are '*' bullets, i = 0..n-2"

run infty-summarize -q --failed "$T/bad.jsonl" -o "$T/xb.jsonl" "$FIXTURES/summarize/segments-bad.jsonl"
is_rc 1 "bad records: exit 1"
is "$(count_lines "$T/xb.jsonl")" "2" "good records still written"
is "$(jq_py "$T/bad.jsonl" "[(r['line'],r['reason']) for r in R]")" "[(2, 'bad_json'), (3, 'bad_record')]" \
	"bad records go to the dead-letter file with line and reason"

# --- openai backend against the fake ----------------------------------------
fake_start --jitter 30
run $SUM --endpoint "$EP" --stats "$T/st.json" --cache "$T/c.jsonl.zst" -o "$T/o1.jsonl" "$IN"
is_rc 0 "openai run exits 0"
is "$(fstat chat)" "8" "one request per segment but the last (8 for this input)"
is "$(jq_py "$T/o1.jsonl" "[r['id'] for r in R]")" "['t1:m', 't2:m', 't3:m', 't4:m', 't5:m']" \
	"output order is input order although answers come back scrambled"
is "$(jq_py "$T/o1.jsonl" "sorted({s['backend']+' '+s['mode']+' '+s['finish_reason'] for r in R for s in r['summaries']})")" \
	"['openai cumulative stop']" "summaries marked openai, cumulative, stop"
is "$(jq_py "$T/o1.jsonl" "all(s['prompt'].startswith('sha256:') and s['key'].startswith('sha256:') and s['usage']['prompt_tokens']>0 and s['attempts']==1 for r in R for s in r['summaries'])")" \
	"True" "prompt hash, key, usage and attempts recorded"
is "$(jq_py "$T/st.json" "(O['requests']['sent'], O['summaries']['made'], O['traces']['ok'])")" "(8, 8, 5)" \
	"stats count requests, summaries and traces"

run $SUM --endpoint "$EP" --stats "$T/st2.json" --cache "$T/c.jsonl.zst" -o "$T/o2.jsonl" "$IN"
is_rc 0 "rerun with the cache exits 0"
is "$(fstat chat)" "8" "rerun sends no request: all from the cache"
same_file "$T/o2.jsonl" "$T/o1.jsonl" "rerun output is byte-identical"
is "$(jq_py "$T/st2.json" "O['summaries']['cache_hits']")" "8" "stats count the cache hits"

run $SUM --endpoint "$EP" --max-tokens 1000 --cache "$T/c.jsonl.zst" -o "$T/o3.jsonl" "$IN"
is "$(fstat chat)" "8" "a smaller max_tokens that still fits reuses the cache"
run $SUM --endpoint "$EP" --max-tokens 5 --cache "$T/c.jsonl.zst" -o "$T/o4.jsonl" "$IN"
is "$(fstat chat)" "16" "a max_tokens the cached answers exceed asks again"

run $SUM --endpoint "$EP" --mode update -o "$T/u.jsonl" "$IN"
is_rc 0 "update mode exits 0"
is "$(jq_py "$T/u.jsonl" "sorted({s['mode'] for r in R for s in r['summaries']})")" "['update']" "update mode recorded"
is "$(fstat chat)" "24" "update mode: one request per summary too"

# two endpoints: round robin
PORT1=$PORT; EP1=$EP; FPID1=$FPID; FPID=
fake_start
run $SUM --endpoint "$EP1" --endpoint "$EP" -o "$T/rr.jsonl" "$IN"
is_rc 0 "two endpoints exit 0"
is "$(fstat chat)" "4" "round robin: half the requests reach the second endpoint"
kill "$FPID1" 2>/dev/null; wait "$FPID1" 2>/dev/null

# circuit breaker: a replica failing every request is paused, the other serves
fake_start --scenario 500
BADP=$PORT; BADEP=$EP; BADPID=$FPID; FPID=
fake_start
run $SUM --endpoint "$BADEP" --endpoint "$EP" --stats "$T/cb.json" -o "$T/cb.jsonl" "$IN"
is_rc 0 "one replica answering 500: all traces still written"
is "$(jq_py "$T/cb.json" "O['endpoint_pauses'] >= 1")" "True" "the failing replica was paused"
bad=$(PORT=$BADP fstat chat)
[ "$bad" -le 6 ]; ok $? "the paused replica got few requests ($bad)"
kill "$BADPID" 2>/dev/null; wait "$BADPID" 2>/dev/null

# in-flight cap
fake_start --latency 100
run $SUM --endpoint "$EP" --max-inflight 2 -o "$T/cap.jsonl" "$IN"
is "$(fstat max_inflight)" "2" "--max-inflight 2: never more than 2 requests at the server"

# the API key goes in the header and nowhere else
fake_start --scenario 401
INFTY_API_KEY=sk-test-secret-0123456789 run $SUM --endpoint "$EP" --cache "$T/k.jsonl.zst" \
	--failed "$T/kf.jsonl" --stats "$T/ks.json" -o "$T/k.jsonl" "$IN"
is_rc 3 "401: the run stops with exit 3"
like "$ERR" "refused|auth" "401: one clear message"
unlike "$ERR$(cat "$T"/k* 2>/dev/null | zstd -dcf 2>/dev/null)" "sk-test-secret" "the key appears in no message, output, cache or stats"
fake_stop

# AIMD: 429s halve the in-flight window
fake_start --scenario 429 --times 6 --retry-after 0
run $SUM --endpoint "$EP" --max-inflight 16 --stats "$T/aimd.json" -o "$T/aimd.jsonl" "$IN"
is_rc 0 "429 burst: exit 0"
is "$(jq_py "$T/aimd.json" "O['window_min'] < 16")" "True" "429s shrank the in-flight window"

# --rpm: 240 a minute is 4 a second with a 4-request burst: 8 requests take >= ~1 s
fake_start
s0=$(date +%s%N)
run $SUM --endpoint "$EP" --rpm 240 -o "$T/rpm.jsonl" "$IN"
el=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$el" -ge 900 ] && [ "$el" -lt 8000 ]; ok $? "--rpm 240 paces 8 requests over about a second (${el} ms)"

# live progress on stderr without -q
run infty-summarize --model fake-model --prompt-dir "$ROOT/prompts" --endpoint "$EP" -o "$T/p.jsonl" "$IN"
like "$ERR" "req/s" "progress on stderr reports req/s"

# SIGTERM stops the run cleanly: exit 3, no output, the cache kept
fake_start --scenario hang --match "Solve x^2"
$SUM --endpoint "$EP" --cache "$T/sig.jsonl" -o "$T/sig-out.jsonl" "$IN" 2>"$T/sig.err" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid; rc=$?
is "$rc" "3" "SIGTERM: exit 3 (stopped)"
[ ! -e "$T/sig-out.jsonl" ] && grep -q interrupted "$T/sig.err"; ok $? "SIGTERM: no output published, says interrupted"
is "$(count_lines "$T/sig.jsonl")" "7" "SIGTERM: the 7 finished summaries are in the cache"

# a write error on stdout stops the run
run sh -c "infty-summarize -q '$IN' > /dev/full"
is_rc 3 "write error on stdout: exit 3"
fake_stop
