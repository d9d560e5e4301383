#!/bin/sh
# --progress FILE, the snapshot a status command sums over shards
# (docs/formats.md, "Progress snapshot"): rewritten while a stage runs,
# once more at its end with how it ended, never for a usage error, and
# with summarize's request and token counters agreeing with what the
# (fake) server saw.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 13

# A slow server and one request at a time: the run lasts a few seconds.
fake_start --latency 250 --prefix-cache 100000
P=$T/p.json
INFTY_PROGRESS_FILE_INTERVAL=0.1 $SUM --endpoint "$EP" --max-inflight 1 --progress "$P" \
	-o "$T/o.jsonl" "$IN" 2>"$T/err" &
pid=$!
i=0
while [ $i -lt 200 ]; do
	if [ -s "$P" ] && [ "$(jq_py "$P" "O['finished']")" = False ]; then cp "$P" "$T/mid.json"; break; fi
	sleep 0.05
	i=$((i + 1))
done
wait $pid
rc=$?
is "$rc" 0 "the run finishes"
[ -s "$T/mid.json" ]; ok $? "a snapshot was there while it ran"
is "$(jq_py "$T/mid.json" "(O['stage'], O['unit'], O['finished'], 'completed' in O, sorted(O['counters']))")" \
	"('summarize', 'traces', False, False, ['cache_hits', 'cached_tokens', 'completion_tokens', 'failures_fatal', 'failures_permanent', 'failures_reject', 'failures_retry', 'prompt_tokens', 'requests_answered', 'requests_in_flight', 'requests_planned', 'requests_sent', 'requests_settled', 'traces_failed', 'traces_in', 'traces_ok'])" \
	"while running: stage, unit, not finished, and summarize's counters"
is "$(jq_py "$P" "(O['finished'], O['completed'], O['exit_status'], O['done'], O['bytes_in'] == O['bytes_total'] > 0)")" \
	"(True, True, 0, 5, True)" "at the end: finished, completed, exit 0, every trace, every byte"
is "$(jq_py "$P" "(O['counters']['requests_answered'], O['counters']['requests_in_flight'], O['counters']['cached_tokens'])")" \
	"($(fstat chat), 0, $(fstat cached_tokens))" "requests answered and tokens cached: what the server saw"
[ "$(jq_py "$P" "O['counters']['cached_tokens']")" -gt 0 ]; ok $? "the shared prefixes were cached"
is "$(jq_py "$P" "(O['counters']['requests_settled'], O['counters']['requests_planned'])")" \
	"($(jq_py "$IN" "sum(r['n'] - 1 for r in R)"), $(jq_py "$IN" "sum(r['n'] - 1 for r in R)"))" \
	"every planned summary settled: the sum of n - 1"
[ "$(jq_py "$T/mid.json" "O['done']")" -le 5 ] && [ "$(jq_py "$P" "O['updated'] >= O['started']")" = True ]
ok $? "done grows to the end, updated after started"
fake_stop

# The other stages write it too; a stopped run says how it ended; a
# usage error writes nothing.
infty-build -q -t none --progress "$T/b.json" -o "$T/b.jsonl" "$FIXTURES/build/summarized.jsonl" 2>/dev/null
is "$(jq_py "$T/b.json" "(O['stage'], O['unit'], O['done'], O['exit_status'], O['rejected'], O['counters'])")" \
	"('build', 'records', 5, 1, 2, {'records_in': 5, 'traces_out': 3, 'instances_out': 6})" \
	"infty-build: records, rejects and its counts"
printf '{"id":"x"}\n' | zstd -q -c | head -c 12 >"$T/cut.zst"
infty-build -q -t none --progress "$T/s.json" -o "$T/s.jsonl" "$T/cut.zst" 2>/dev/null
is "$?:$(jq_py "$T/s.json" "(O['finished'], O['completed'], O['exit_status'])")" "3:(True, False, 3)" \
	"a stopped run: finished, not completed, exit 3"
infty-build -q -t none --progress "$T/u.json" "$T/nope.jsonl" 2>/dev/null
is "$?:$([ -e "$T/u.json" ] && echo written)" "2:" "a usage error writes no snapshot"
seq 10 | sed 's/.*/{"r":&}/' >"$T/rows.jsonl"
infty-shard -q -n 3 -o "$T/sh" --progress "$T/sh.json" "$T/rows.jsonl"
is "$(jq_py "$T/sh.json" "(O['stage'], O['done'], O['counters']['lines'], O['counters']['shards'])")" \
	"('shard', 10, 10, 3)" "infty-shard: rows, lines, shards"
if [ -f "$INFTY_TOKENIZER_DEFAULT" ]; then
	infty-segment -q -t "$INFTY_TOKENIZER_DEFAULT" --progress "$T/g.json" -o "$T/g.jsonl" "$FIXTURES/sample.jsonl" 2>/dev/null
	is "$(jq_py "$T/g.json" "(O['stage'], O['unit'], O['done'], O['counters']['rows'], O['rejected'] + O['counters']['traces'] == O['done'])")" \
		"('segment', 'rows', $(grep -c . "$FIXTURES/sample.jsonl"), $(grep -c . "$FIXTURES/sample.jsonl"), True)" \
		"infty-segment: rows = traces + rejects"
else
	skip "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
fi
