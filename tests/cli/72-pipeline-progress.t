#!/bin/sh
# The live numbers of a run (issue 13): make convert's display on a log (a
# plain line per stage every INTERVAL), read back while a slow fake server
# answers, rises to the planned totals; make status from another shell
# shows the running shards; its last numbers and OUT/stats.json agree, the
# cost included; a failure's message is never cut by the display.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 27

IN=$ROOT/tests/fixtures/sample.jsonl
MK="make -s --no-print-directory -f $ROOT/mk/pipeline.mk INFTY_BIN=$BUILD/bin"
SOPTS='--ready-timeout 5 --backoff-max 0.1 --max-retries 1 --trunc-ratio 0.5 --max-inflight 1'

# One request at a time, 300 ms each: summarizing takes a few seconds.
fake_start --latency 300 --prefix-cache 100000
A=$T/a
$MK convert IN="$IN" OUT="$A" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="$SOPTS" PRICE_IN=0.5 PRICE_OUT=2 PRICE_CACHED=0.25 INTERVAL=0.3 -j2 \
	>"$T/out" 2>"$T/err" &
mk=$!
# make status from another shell while it runs: the running summarize shards.
i=0
while [ $i -lt 200 ]; do
	$MK status OUT="$A" >"$T/status" 2>/dev/null
	grep -q '^  summarize .*running' "$T/status" && break
	sleep 0.1
	i=$((i + 1))
done
like "$(cat "$T/status")" "running: pid" "make status while it runs: the run holds OUT"
like "$(grep '^  summarize' "$T/status")" "^  summarize [0-9]/2 shards, [12] running  requests [0-9]+/" \
	"make status: summarize shards running, requests done of planned"
timeout 1.5 $MK status OUT="$A" WATCH=1 INTERVAL=0.3 >"$T/watch" 2>&1
like "$(cat "$T/watch")" "^\[[0-9:]{8}\] summarize [0-9]/2 shards" "make status WATCH=1 (not a terminal): a line per stage"
wait $mk
is "$?" 0 "make convert finishes"

# Every summarize line of the display, in order: requests D/T.
grep '^\[[0-9:]*\] summarize ' "$T/err" | sed -n 's/.* requests \([0-9]*\)\/\([0-9?]*\)\(+*\).*/\1 \2\3/p' >"$T/req"
planned=$(jq_py "$A/summarize/out/00000.jsonl.zst" "sum(r['n'] - 1 for r in R)")
planned=$((planned + $(jq_py "$A/summarize/out/00001.jsonl.zst" "sum(r['n'] - 1 for r in R)")))
[ "$(wc -l <"$T/req")" -ge 4 ]; ok $? "the display printed a summarize line every 0.3 s ($(wc -l <"$T/req") lines)"
sort -n -s -k1,1 "$T/req" | cmp -s - "$T/req"; ok $? "requests done never go down"
[ "$(awk -v p="$planned" '$1 > 0 && $1 < p' "$T/req" | cut -d' ' -f1 | sort -u | wc -l)" -ge 2 ]
ok $? "they were seen rising: two values at least between 0 and $planned"
is "$(tail -n 1 "$T/req")" "$planned $planned" "the last line: every planned request (sum of n-1 = $planned) settled"
last() { grep "^\[[0-9:]*\] $1 " "$T/err" | tail -n 1 | sed 's/^\[[0-9:]*\] //'; }
seg=$(zstd -dc "$A"/segment/out/*.zst | grep -c .)
like "$(last summarize)" "^summarize 2/2 shards  requests $planned/$planned \(100.0%\), traces $seg/$seg \(100.0%\), in flight 0" \
	"summarize: every shard, request and trace"
like "$(last segment)" "^segment   2/2 shards  rows $(grep -c . "$IN")/$(grep -c . "$IN") \(100.0%\)" "segment: every row"
like "$(last build)" "^build     2/2 shards  records $seg/$seg \(100.0%\), instances $(count_lines "$A/train.jsonl.zst")" \
	"build: every record, the instances of the training file"
is "$(last merge)" "merge     done" "merge: done, in the closing lines"

# The display's tokens are what stats.json totals, and the cost is priced on them.
U="O['usage']['prompt_tokens'], O['usage']['cached_tokens'], O['usage']['completion_tokens']"
is "$(last summarize | sed 's/.*tokens prompt \([0-9]*\) cached \([0-9]*\) completion \([0-9]*\).*/(\1, \2, \3)/')" \
	"$(jq_py "$A/stats.json" "($U)")" "the last tokens shown are the totals' usage"
is "$(jq_py "$A/stats.json" "(O['usage']['requests'], O['usage']['prompt_tokens'])")" "($(fstat chat), $(fstat prompt_tokens))" \
	"usage: the requests and prompt tokens the server saw"
is "$(jq_py "$A/stats.json" "abs(O['cost']['total'] - ((O['usage']['prompt_tokens'] - O['usage']['cached_tokens']) * 0.5 + O['usage']['cached_tokens'] * 0.25 + O['usage']['completion_tokens'] * 2) / 1e6) < 1e-12")" True \
	"cost: prompt at PRICE_IN, cached at PRICE_CACHED, completion at PRICE_OUT"
is "$(grep '^infty: summarizer:' "$T/out" | sed 's/; cost [0-9.e+-]*$/; cost/')" \
	"$(jq_py "$A/stats.json" "'infty: summarizer: %d requests, %d prompt tokens (%d served by its prefix cache), %d completion tokens; retries: none; cost' % (O['usage']['requests'], O['usage']['prompt_tokens'], O['usage']['cached_tokens'], O['usage']['completion_tokens'])")" \
	"make convert's closing lines say what the summarizer was asked, from the totals"
fake_stop

# make estimate: from the run's segment outputs (and at the run's prices,
# kept in its config.mk), the requests it planned; from IN segmented now,
# the same figures.
run $MK estimate OUT="$A"
like "$OUT" "^estimate: $A's segment outputs \(2 shards, ETA=96\)" "make estimate OUT=: the run's segmentation"
is "$(printf '%s\n' "$OUT" | sed -n 's/^requests *\([0-9,]*\) .*/\1/p')" "$planned" \
	"make estimate: the requests the run planned and made"
printf '%s\n' "$OUT" | sed 1d >"$T/est.out"
run $MK estimate IN="$IN" ETA=96 PRICE_IN=0.5 PRICE_OUT=2 PRICE_CACHED=0.25
is "$(printf '%s\n' "$OUT" | sed -n 2p)" "segmentation       $(grep -c . "$IN") rows -> $seg traces, $(( $(grep -c . "$IN") - seg )) rejected" \
	"make estimate IN=: segmented now"
printf '%s\n' "$OUT" | sed 1,2d >"$T/est.in"
same_file "$T/est.in" "$T/est.out" "... with the figures of the run's own segmentation"

# A failure while the display runs: its lines come whole, between the display's.
run $MK convert IN="$IN" OUT="$T/b" SHARDS=2 ETA=96 ENDPOINT="http://127.0.0.1:9/v1" MODEL=fake-model \
	SUMMARIZE_OPTS="--ready-timeout 0 --backoff-max 0.05 --max-retries 40 --trunc-ratio 0.5" INTERVAL=0.1 PREFLIGHT=0 -j2
is "$RC" 2 "a run against a server that is down fails (make: 2)"
like "$ERR" "pipeline: summarize shard 0000[01] failed \(stopped\); log " "the failure's line is whole"
bad=$(printf '%s\n' "$ERR" | grep -v -E '^\[[0-9:]{8}\] (shard     |segment   |summarize |build     |merge     )' |
	grep -v -E '^(pipeline: |  infty-summarize: |make(\[[0-9]+\])?: )' | head -n 3)
is "$bad" "" "every other line is a whole display line"

# Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it):
# the run stops, keeps what was answered, and says what to do next.
fake_start --latency 500
C=$T/c
# A script's background job starts with SIGINT ignored, a terminal's
# foreground job does not: python3 restores the default before make starts.
(setsid python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	$MK convert IN="$IN" OUT="$C" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="$SOPTS" INTERVAL=0 >"$T/c.out" 2>"$T/c.err" &
 echo $! >"$T/c.pid")
wait_for 10 has_cache "$C"
pg=$(cat "$T/c.pid")
kill -INT "-$pg" 2>/dev/null || diag "could not signal process group $pg"
wait_for 5 group_gone "$pg"
like "$(cat "$T/c.err")" "pipeline: stopped; run the same command again to go on \(finished shards and answered requests are kept\)" \
	"Ctrl-C: the last word says how to go on"
[ ! -e "$C/train.jsonl.zst" ]; ok $? "... and nothing is published"
before=$(fstat chat)
run $MK convert IN="$IN" OUT="$C" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model SUMMARIZE_OPTS="$SOPTS" INTERVAL=0
is "$RC:$(fstat repeated_after_ok)" "0:0" "the same command finishes the run, asking nothing answered twice"
fake_stop

# A run that ends at once can stop the display before its process has
# exec'd, when a TERM is only noted by the shell and lost.  Played by a
# display that ignores TERM for its first half second: the relaunch of a
# finished run must still end.
mkdir -p "$T/bin"
for t in "$BUILD"/bin/infty-*; do ln -s "$t" "$T/bin/"; done
rm "$T/bin/infty-inspect"
cat >"$T/bin/infty-inspect" <<EOF
#!/bin/sh
case " \$* " in *" --watch "*) trap '' TERM; sleep 0.5; trap - TERM ;; esac
exec "$BUILD/bin/infty-inspect" "\$@"
EOF
chmod +x "$T/bin/infty-inspect"
run $MK convert IN="$IN" OUT="$T/e" SHARDS=2 ETA=96 INTERVAL=0
run timeout 60 make -s --no-print-directory -f "$ROOT/mk/pipeline.mk" INFTY_BIN="$T/bin" convert OUT="$T/e" INTERVAL=0.2
is "$RC" 0 "a display that missed the first TERM is stopped all the same"
