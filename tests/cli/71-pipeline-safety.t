#!/bin/sh
# The run around the stages never reports success on lost, stale or partial
# data (issue 12): stale output after a changed MODEL with the server down,
# a truncated .zst or a directory as IN, a full disk during a stage and
# during the merge, a huge row, two runs on one OUT, files left by kill -9,
# a line of NUL bytes; and settings checked before anything is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 50

IN=$ROOT/tests/fixtures/sample.jsonl
MK="make -s --no-print-directory -f $ROOT/mk/pipeline.mk INFTY_BIN=$BUILD/bin"
SOPTS='--ready-timeout 1 --backoff-max 0.1 --max-retries 1 --trunc-ratio 0.5'
# convert OUT [VAR=VALUE...]: a run of the sample, 2 shards, ETA 96.
convert() {
	_o=$1
	shift
	run $MK convert IN="$IN" OUT="$_o" SHARDS=2 ETA=96 "$@"
}
markers() { find "$1" -path "*/$2/done/*" -type f | wc -l | tr -d ' '; }
models() { zstd -dcf -- "$1"/summarize/out/*.zst | python3 -c \
	'import sys,json; print(" ".join(sorted({s["model"] for l in sys.stdin if l.strip() for s in json.loads(l)["summaries"]})))'; }

# --- 1. A changed MODEL with the server down: nothing stale passes as new.
fake_start
A=$T/a
convert "$A" ENDPOINT="$EP" MODEL=fake-model SUMMARIZE_OPTS="$SOPTS"
is_rc 0 "a run with the fake endpoint"
is "$(models "$A")" "fake-model" "its summaries come from fake-model"
fake_stop
convert "$A" ENDPOINT="$EP" MODEL=fake-model-2 SUMMARIZE_OPTS="$SOPTS"
is "$RC:$(markers "$A" merge):$(grep -c '^MODEL ?= fake-model$' "$A/config.mk")" "2:1:1" \
	"a new MODEL with the server down: the pre-flight refuses, the finished run is left as it was"
# Past the pre-flight (skipped, or a server that dies after it), the run
# itself lets nothing stale pass.
convert "$A" ENDPOINT="$EP" MODEL=fake-model-2 SUMMARIZE_OPTS="$SOPTS" PREFLIGHT=0
[ "$RC" -ne 0 ]; ok $? "a new MODEL with the server down fails (exit $RC)"
is "$(markers "$A" summarize):$(markers "$A" build):$(markers "$A" merge)" "0:0:0" \
	"no summarize, build or merge shard is marked done"
is "$(ls "$A/summarize/out" | wc -l | tr -d ' ')" 0 "no summaries of the old model are left in summarize/out"
[ ! -e "$A/train.jsonl.zst" ] && [ ! -e "$A/stats.json" ]
ok $? "the old training file and totals are gone"
like "$ERR" "summarize shard 0000[01] failed" "the failing stage and shard are named"
fake_start --models fake-model,fake-model-2
convert "$A" ENDPOINT="$EP" MODEL=fake-model-2 SUMMARIZE_OPTS="$SOPTS"
is_rc 0 "the relaunch with the server back completes"
is "$(models "$A")" "fake-model-2" "and every summary is the new model's"

# --- 2. A truncated .zst input fails, names the file, shards nothing.
zstd -q -c "$IN" >"$T/full.jsonl.zst"
head -c $(($(wc -c <"$T/full.jsonl.zst") / 2)) "$T/full.jsonl.zst" >"$T/half.jsonl.zst"
B=$T/b
run $MK convert IN="$T/half.jsonl.zst" OUT="$B" SHARDS=2 ETA=96
[ "$RC" -ne 0 ]; ok $? "a truncated .zst input fails the run"
like "$ERR" "half.jsonl.zst: truncated" "with one line naming the file and the cause"
is "$(ls "$B/shard/out" | wc -l | tr -d ' '):$(markers "$B" shard)" "0:0" "no shard file and no marker"

# --- 3. A directory as IN, and bad settings: exit 2, nothing written.
run $MK convert IN="$T" OUT="$T/c" SHARDS=2
is_rc 2 "a directory as IN is refused"
like "$ERR" "is a directory" "and says so"
[ ! -e "$T/c" ]; ok $? "nothing is written for it"
run $MK convert IN="$IN" OUT="$T/c" FORMAT=bogus
is "$RC:$([ -e "$T/c" ] && echo written)" "2:" "FORMAT=bogus is refused before anything runs"
run $MK convert IN="$IN" OUT="$T/c" ETA=0
is "$RC:$([ -e "$T/c" ] && echo written)" "2:" "ETA=0 is refused before anything runs"
run $MK status OUT="$T/no-such-run"
is_rc 2 "status on an OUT that is not a run exits 2"
run $MK missing OUT="$T/no-such-run" STAGE=segment
is "$RC:$OUT" "2:" "missing on an OUT that is not a run exits 2 and prints nothing"

# --- 4. A line of NUL bytes and a blank line: rows = traces + rejects.
{ printf '\0\0\0\0\n\n'; cat "$IN"; } >"$T/nul.jsonl"
D=$T/d
run $MK convert IN="$T/nul.jsonl" OUT="$D" SHARDS=2 ETA=96
is_rc 0 "input with a NUL line converts (offline summaries)"
is "$(jq_py "$D/stats.json" "O['rows'], O['segment']['traces'] + O['segment']['rejects'], O['blank_lines']")" \
	"$(($(grep -c . "$IN") + 1)) $(($(grep -c . "$IN") + 1)) 1" \
	"rows = traces + rejects, the NUL line included; the blank line is not a row"
like "$(zstd -dc "$D/rejects.jsonl.zst")" '"reason":"bad_json"' "the NUL line is a bad_json reject"

# --- 5. Files a kill -9 left behind are removed by the relaunch.
: >"$D/segment/out/00000.jsonl.zst.tmp.AbC123"
: >"$D/summarize/cache/00001.jsonl.zst.tmp.XyZ789"
mkdir -p "$D/shard/out/.shard.QwErTy" && : >"$D/shard/out/.shard.QwErTy/00000.jsonl.zst"
run $MK convert IN="$T/nul.jsonl" OUT="$D"
is_rc 0 "relaunch over orphan files"
is "$(find "$D" -name '*.tmp.*' -o -name '.shard.*' | wc -l | tr -d ' ')" 0 "orphan temporaries are removed"
like "$ERR" "removed 2 temporary files" "and the relaunch says so"

# --- 5b. Stats that do not say the stage completed (an older infty's, before
# the field) vouch for nothing: those shards are redone, the rest is not.
cp "$D/train.jsonl.zst" "$T/d.train"
sed -i '/"completed"/d' "$D/segment/stats/00001.json"
run $MK convert IN="$T/nul.jsonl" OUT="$D"
is_rc 0 "relaunch over segment stats without \"completed\""
like "$ERR" "1 segment stats file\\(s\\) do not say the stage completed" "the relaunch says which stage it redoes"
is "$(grep -c '"completed": true' "$D/segment/stats/00001.json"):$(cmp -s "$D/train.jsonl.zst" "$T/d.train" && echo same)" \
	"1:same" "the shard is redone and the training file is the same"

# --- 6. One huge row is rejected with a reason; the run goes on.
python3 -c '
import json
body = "".join("Step %d: we have x_%d = %d * %d, so the sum is %d.\n\n" % (k, k, k, k + 1, k * (k + 1)) for k in range(40000))
row = {"messages": [{"role": "user", "content": "Sum it."},
                    {"role": "assistant", "content": "<think>\n" + body + "\n</think>\n\nDone."}]}
print(json.dumps(row))' >"$T/huge.jsonl"
cat "$IN" >>"$T/huge.jsonl"
E=$T/e
run $MK convert IN="$T/huge.jsonl" OUT="$E" SHARDS=2 ETA=96
is_rc 0 "a run with a 2 MB row completes"
like "$(zstd -dc "$E/rejects.jsonl.zst")" '"reason":"too_long","detail":"[0-9]+ reasoning tokens, above --max-trace-tokens 131072"' \
	"the huge row is rejected as too_long, with its count"
run $MK convert IN="$T/huge.jsonl" OUT="$T/e2" SHARDS=1 ETA=96 SEGMENT_OPTS="--max-segments 3"
like "$(zstd -dc "$T/e2/rejects.jsonl.zst" | grep -c '"too_long"')" '^[3-9]$' \
	"--max-segments rejects traces with more segments too"

# --- 7. One run per OUT: a second convert, stage-shard or prepare is refused.
fake_start --latency 1500
F=$T/f
(setsid $MK convert IN="$IN" OUT="$F" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="$SOPTS" -j2 >"$T/f.log" 2>&1 &
 echo $! >"$T/f.pid")
wait_for 10 test -e "$F/summarize/logs/00000.log"
convert "$F" ENDPOINT="$EP" MODEL=fake-model SUMMARIZE_OPTS="$SOPTS"
is_rc 2 "a second make convert on the same OUT is refused"
like "$ERR" "in use by another run \(pid [0-9]+ on" "with who holds it"
run $MK stage-shard OUT="$F" STAGE=summarize SHARD=1
is_rc 2 "so is a stage-shard"
run $MK status OUT="$F"
like "$OUT" "running: pid" "status says a run is in progress"
requests=$(fstat chat)
wait_for 20 test ! -e "/proc/$(cat "$T/f.pid")"
like "$(cat "$T/f.log")" "training instances" "the first run finishes undisturbed"
is "$(fstat repeated_after_ok)" 0 "no answered request was sent twice"
convert "$F" ENDPOINT="$EP" MODEL=fake-model SUMMARIZE_OPTS="$SOPTS"
is_rc 0 "once it ended, the OUT is free again"

# kill -9 of a holder releases the lock (the kernel drops it).
(setsid $MK convert IN="$IN" OUT="$T/g" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="$SOPTS" >/dev/null 2>&1 &
 echo $! >"$T/g.pid")
wait_for 10 test -e "$T/g/summarize/logs/00000.log"
pg=$(cat "$T/g.pid")
kill -KILL "-$pg" 2>/dev/null
wait_for 5 group_gone "$pg"
convert "$T/g" ENDPOINT="$EP" MODEL=fake-model SUMMARIZE_OPTS="$SOPTS"
is_rc 0 "after kill -9 of a run, the relaunch takes the lock and completes"
fake_stop

# --- 8. A full disk during a stage and during the merge: the stage fails,
# no marker, nothing partial in place; after space is freed the relaunch
# completes with the same training file.
M=$T/disk
trap 'fake_stop; umount -l "$M" 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$M"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$M" 2>/dev/null; then
	H=$M/h
	convert "$H"
	is_rc 0 "a run on a small filesystem"
	cp "$H/train.jsonl.zst" "$T/h.train"
	# The shard's old files go first (a relaunch removes them too), so the
	# disk is full when the stage writes.
	fill() { dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null; sync; }
	rm -f "$H/build/done/00001" "$H/build/out/00001.jsonl.zst" "$H/build/stats/00001.json" \
		"$H/merge/done/all" "$H/train.jsonl.zst" "$H/rejects.jsonl.zst" "$H/stats.json"
	fill
	run $MK stage-shard OUT="$H" STAGE=build SHARD=1
	[ "$RC" -ne 0 ]; ok $? "a full disk while build writes fails the stage (exit $RC)"
	[ ! -e "$H/build/done/00001" ] && [ ! -e "$H/build/out/00001.jsonl.zst" ] &&
		[ -z "$(find "$H/build" -name '*.tmp*')" ]
	ok $? "no build marker, no partial build output"
	like "$ERR" "No space left on device|disk full" "the cause is shown"
	rm -f "$M/fill"
	convert "$H"
	is_rc 0 "after space is freed the relaunch completes"
	rm -f "$H/merge/done/all" "$H/train.jsonl.zst" "$H/rejects.jsonl.zst" "$H/stats.json"
	fill
	run $MK stage-shard OUT="$H" STAGE=merge
	[ "$RC" -ne 0 ]; ok $? "a full disk during the merge fails it (exit $RC)"
	[ ! -e "$H/merge/done/all" ] && [ ! -e "$H/train.jsonl.zst" ] && [ -z "$(ls "$H" | grep tmp)" ]
	ok $? "no merge marker, no training file, no temporary left"
	like "$ERR" "No space left on device" "the cause is shown"
	rm -f "$M/fill"
	convert "$H"
	is_rc 0 "after space is freed the relaunch completes"
	same_file "$H/train.jsonl.zst" "$T/h.train" "with a byte-identical training file"
	# A process of the last run may still hold the mount for a moment: lazy.
	umount "$M" 2>/dev/null || umount -l "$M"
else
	for _ in 1 2 3 4 5 6 7 8 9 10; do skip "needs root to mount a small tmpfs"; done
fi
