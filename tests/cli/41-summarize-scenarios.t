#!/bin/sh
# infty-summarize against every scripted server behaviour of the fake endpoint:
# what is retried, what is dead-lettered (and how), what stops the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 76

# retryable: the run succeeds, with the extra requests the script caused
for sc in 429 500 503 html malformed error-in-200; do
	fake_start --scenario "$sc" --times 2 --retry-after 0
	run $SUM --endpoint "$EP" --stats "$T/st.json" -o "$T/o.jsonl" "$IN"
	is_rc 0 "$sc twice: retried, exit 0"
	is "$(fstat chat) $(count_lines "$T/o.jsonl")" "10 5" "$sc twice: 8 + 2 requests, all 5 traces written"
done
is "$(jq_py "$T/st.json" "O['requests']['retry']")" "2" "stats count the retries"

fake_start --scenario 429 --times 1 --retry-after 1
s0=$(date +%s%N)
run $SUM --endpoint "$EP" -o "$T/o.jsonl" "$IN"
el=$(( ($(date +%s%N) - s0) / 1000000 ))
is_rc 0 "429 with Retry-After: 1 succeeds"
[ "$el" -ge 1000 ]; ok $? "Retry-After: 1 honoured (${el} ms)"
fake_start --scenario 503 --times 1 --retry-after-ms 600
s0=$(date +%s%N)
run $SUM --endpoint "$EP" -o "$T/o.jsonl" "$IN"
el=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$el" -ge 600 ]; ok $? "retry-after-ms: 600 honoured (${el} ms)"

for sc in hang trickle; do
	fake_start --scenario "$sc" --times 1
	run $SUM --endpoint "$EP" --stall-timeout 1 --stats "$T/st.json" -o "$T/o.jsonl" "$IN"
	is_rc 0 "$sc: dropped by the stall timeout and retried"
	is "$(jq_py "$T/st.json" "O['reasons'].get('timeout')") $(count_lines "$T/o.jsonl")" "1 5" "$sc: one timeout, all traces written"
done

# permanent for the record: only trace t3 (the one about x^2) fails
for sc in overflow-openai overflow-vllm overflow-llamacpp overflow-tgi overflow-sglang; do
	fake_start --scenario "$sc" --match "Solve x^2"
	run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
	is_rc 1 "$sc: exit 1"
	is "$(jq_py "$T/o.jsonl" "[r['id'] for r in R]")" "['t1:m', 't2:m', 't4:m', 't5:m']" "$sc: the other traces are written"
	is "$(jq_py "$T/f.jsonl" "[(r['id'], r['class'], r['reason'], r['attempts'], r['record']['id']) for r in R]")" \
		"[('t3:m', 'permanent', 'context_overflow', 1, 't3:m')]" "$sc: dead letter says context_overflow, never retried"
done
is "$(jq_py "$T/f.jsonl" "(R[0]['status'], 'longer than' in R[0]['excerpt'])")" "(400, True)" "dead letter keeps status and body excerpt"

fake_start --scenario 400 --match "Solve x^2"
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(jq_py "$T/f.jsonl" "[r['reason'] for r in R]")" "['bad_request']" "other 400: bad_request, dead-lettered"

fake_start --scenario html --match "Solve x^2"
rm -f "$T/o.jsonl" "$T/f.jsonl"
run $SUM --endpoint "$EP" --max-retries 2 --failed "$T/f.jsonl" --stats "$T/st.json" -o "$T/o.jsonl" "$IN"
is_rc 3 "a 502 every time: stopped (exit 3) after the retries"
[ ! -e "$T/o.jsonl" ] && [ ! -e "$T/f.jsonl" ]; ok $? "retries exhausted: neither output nor dead letters published"
is "$(jq_py "$T/st.json" "(O['completed'], O['stopped_by'], O['traces']['failed_retryable'])")" "(False, 'retries_exhausted', 1)" \
	"stats: completed false, stopped_by retries_exhausted"
like "$ERR" "1 trace\(s\) failed with retryable errors \(gateway_error\).*--allow-failed" "one line says what is left and how to accept it"
run $SUM --endpoint "$EP" --max-retries 2 --allow-failed --failed "$T/f.jsonl" --stats "$T/st.json" -o "$T/o.jsonl" "$IN"
is_rc 1 "--allow-failed: the same failures are dead letters, exit 1"
is "$(jq_py "$T/st.json" "O['completed']") $(count_lines "$T/o.jsonl")" "True 4" "--allow-failed: completed, the other 4 traces published"
is "$(jq_py "$T/f.jsonl" "[(r['class'], r['reason'], r['attempts'], r['status']) for r in R]")" \
	"[('retry', 'gateway_error', 3, 502)]" "retries exhausted: class retry, 3 attempts"
like "$(jq_py "$T/f.jsonl" "R[0]['excerpt']")" "502 Bad Gateway" "HTML body kept as the excerpt"

# finish_reason length: every candidate cut, the trace fails; n=4 in one request
fake_start --scenario length --match "Solve x^2"
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(fstat chat) $(jq_py "$T/f.jsonl" "[r['reason'] for r in R]")" "8 ['length']" "length on all 4 choices: one request, dead-lettered as length"
fake_start --scenario length --match "Solve x^2" --ignore-n
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(fstat chat)" "11" "server ignores n: sequential attempts up to 4 candidates (7 + 4 requests)"
fake_start --scenario length --times 2 --ignore-n --match "Solve x^2"
run $SUM --endpoint "$EP" -o "$T/o.jsonl" "$IN"
is_rc 0 "length twice then stop: accepted on the third candidate"
is "$(jq_py "$T/o.jsonl" "R[2]['summaries'][0]['attempts']")" "3" "attempts counts the candidates' requests"
fake_start --scenario length-first
run $SUM --endpoint "$EP" -o "$T/o.jsonl" "$IN"
is "$(fstat chat) $(jq_py "$T/o.jsonl" "sorted({s['text'].split(', choice ')[1][:1] for r in R for s in r['summaries']})")" \
	"8 ['1']" "first choice cut by length: the second (stop) one is taken"

# reasoning is stripped and counted
for sc in reasoning reasoning-content think; do
	fake_start --scenario "$sc"
	run $SUM --endpoint "$EP" -o "$T/o.jsonl" "$IN"
	is_rc 0 "$sc: exit 0"
	is "$(jq_py "$T/o.jsonl" "all(s['reasoning_tokens']>0 and '<think>' not in s['text'] and s['text'].startswith('* ') for r in R for s in r['summaries'])")" \
		"True" "$sc: reasoning stripped from the text and counted"
done

# validation and truncation
fake_start --scenario tag --match "Solve x^2"
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(jq_py "$T/f.jsonl" "[r['reason'] for r in R]")" "['tag_in_summary']" "<summary> tags in the answer: refused"
fake_start --scenario empty --match "Solve x^2"
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(jq_py "$T/f.jsonl" "[r['reason'] for r in R]")" "['empty_summary']" "empty answer: refused"
fake_start --scenario truncate --match "Solve x^2"
run $SUM --endpoint "$EP" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is "$(jq_py "$T/f.jsonl" "[r['reason'] for r in R]")" "['prompt_truncated']" "silent prompt truncation (tiny prompt_tokens): flagged"
TOK=${INFTY_TOKENIZER_DEFAULT:-}
if [ -n "$TOK" ] && [ -f "$TOK" ]; then
	run $SUM --endpoint "$EP" --tokenizer "$TOK" --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
	is "$(jq_py "$T/f.jsonl" "[r['reason'] for r in R]") $(count_lines "$T/o.jsonl")" "['prompt_truncated'] 4" \
		"--tokenizer: exact counts flag the same truncation and pass honest answers"
else
	skip "no tokenizer.json (make tokenizer) for --tokenizer"
fi

# fatal for the run: stop fast, one message, no output file, cache kept
for sc in 404-model quota; do
	fake_start --scenario "$sc" --match "Solve x^2"
	rm -f "$T/o.jsonl"
	run $SUM --endpoint "$EP" --window 2 --max-inflight 1 --cache "$T/fc.jsonl" -o "$T/o.jsonl" "$IN"
	is_rc 3 "$sc: stopped, exit 3"
	is "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')" "1" "$sc: exactly one line on stderr"
	like "$ERR" "unknown_model|insufficient_quota" "$sc: the message names the cause"
	[ ! -e "$T/o.jsonl" ]; ok $? "$sc: no output under the final name"
done
is "$(count_lines "$T/fc.jsonl")" "2" "completed summaries before the stop are kept in the cache"
fake_stop

# --stream: server-sent events are folded back into one answer
fake_start
run $SUM --endpoint "$EP" --stream -o "$T/s.jsonl" "$IN"
is_rc 0 "--stream: exit 0"
is "$(jq_py "$T/s.jsonl" "sum(1 for r in R for s in r['summaries'] if __import__('re').fullmatch(r'\\* Progress so far, request [0-9a-f]{12}, choice 0\\.\\n\\* Key result: x = [0-9]+\\.', s['text']))")" \
	"8" "--stream: the 8-byte deltas are reassembled into the exact answers"
is "$(jq_py "$T/s.jsonl" "all(s['usage']['prompt_tokens']>0 for r in R for s in r['summaries'])")" "True" "--stream: usage from the last event"
fake_start --scenario reasoning
run $SUM --endpoint "$EP" --stream -o "$T/s.jsonl" "$IN"
is "$(jq_py "$T/s.jsonl" "all(s['reasoning_tokens']>0 and s['text'].startswith('* ') for r in R for s in r['summaries'])")" "True" "--stream: reasoning deltas stripped and counted"
fake_start --scenario slow-stream --match "Solve x^2"
run $SUM --endpoint "$EP" --stream --stall-timeout 1 --stats "$T/st.json" -o "$T/s.jsonl" "$IN"
is "$RC $(jq_py "$T/st.json" "O['reasons'].get('timeout')")" "0 None" "--stream: a 2 s answer trickling every 300 ms outlives a 1 s stall timeout"
fake_start --scenario stream-stall --match "Solve x^2" --times 1
run $SUM --endpoint "$EP" --stream --stall-timeout 1 --stats "$T/st.json" -o "$T/s.jsonl" "$IN"
is "$RC $(jq_py "$T/st.json" "O['reasons'].get('timeout')")" "0 1" "--stream: a stream that stops is dropped after the stall timeout and retried"
fake_start --scenario error-in-stream --match "Solve x^2" --times 1
run $SUM --endpoint "$EP" --stream --stats "$T/st.json" -o "$T/s.jsonl" "$IN"
is "$RC $(jq_py "$T/st.json" "O['reasons'].get('error_in_body')")" "0 1" "--stream: an error event is retried"
fake_stop
