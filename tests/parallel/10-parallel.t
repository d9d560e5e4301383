#!/bin/bash
# 10-parallel.t - the no-scheduler path: scripts/infty-parallel runs the real
# pipeline through GNU parallel (local sshlogin ":") against the loopback
# fake endpoint.  One summarize shard meets a fatal error; the command exits
# 1 and names it; the same command again reruns only that shard
# (--resume-failed on the joblog), resends no answered request, and the
# result equals a local `make convert`.  Run with `make test-parallel`.
. "$(dirname "$0")/../cli/lib.sh"
FAKE_LIFETIME=280
. "$ROOT/tests/slurm/lib.sh"
PAR=$ROOT/scripts/infty-parallel

command -v parallel >/dev/null || skip_all "GNU parallel is not installed (apt-get install parallel)"
command -v node >/dev/null || skip_all "node is needed for tests/fake-endpoint.mjs"
need_tools test-parallel
plan 14

MAKE="make -C $ROOT -f mk/pipeline.mk"

run "$PAR" --help
is_rc 0 "--help exits 0"
run "$PAR" --jobs=x "$T/o"
is_rc 2 "a bad --jobs exits 2"

fake_start
REF=$T/ref
make --no-print-directory -s -C "$ROOT" -f mk/pipeline.mk convert OUT="$REF" \
	"${PIPE_VARS[@]}" ENDPOINT="$FAKE_URL/v1" >"$T/ref.log" 2>&1
ok $? "local make convert of the sample (reference)"
ref_ok=$(stat_of ok)
pick=$(unz "$REF/segment/out/00001.jsonl.zst" |
	jq -r 'select(.n >= 3) | .segments[1].text' | head -1 |
	LC_ALL=C grep -o '^[A-Za-z0-9 ,.]*' | head -c 40)
[ "${#pick}" -ge 12 ]
ok $? "a text to fail on in shard 1: '$pick'"

fake_start --scenario quota --match "$pick" --times 1
O=$T/run
echo : >"$T/hosts"
run "$PAR" --make "$MAKE" --sshloginfile "$T/hosts" -j 2 "$O" "${PIPE_VARS[@]}" ENDPOINT="$FAKE_URL/v1"
is_rc 1 "a failed shard makes the run exit 1"
like "$ERR" "summarize: shards 1 failed" "the failed shard is named"
is "$(stat_of scripted)" 1 "the fatal answer was given once"
joblog=$O/summarize/parallel.joblog
is "$(awk -F'\t' 'NR > 1 && $7 != 0' "$joblog" | grep -c "SHARD=1'\\?\$")" 1 "the joblog records shard 1 as failed"

(cd "$O" && sha256sum segment/out/* summarize/out/* summarize/cache/00000.jsonl.zst summarize/cache/00002.jsonl.zst) >"$T/before"
run "$PAR" --make "$MAKE" --sshloginfile "$T/hosts" -j 2 "$O" ENDPOINT="$FAKE_URL/v1" INFTY_BIN="$BIN"
is_rc 0 "the same command again completes the run"
is "$(awk -F'\t' 'NR > 1' "$joblog" | grep -o 'SHARD=[0-9]*' | sort | uniq -c | awk '{ print $2 ":" $1 }' | paste -sd' ' -)" \
	"SHARD=0:1 SHARD=1:2 SHARD=2:1" "--resume-failed reran only shard 1"
(cd "$O" && sha256sum -c --quiet "$T/before") >"$T/sum.out" 2>&1
ok $? "completed shards, outputs and caches are byte-identical after the rerun"
[ "$(stat_of repeated_after_ok)" = 0 ]
ok $? "no answered summary request was sent again"
is "$(stat_of ok)" "$ref_ok" "requests answered over both runs = the local run's"
diff <(unz "$O/train.jsonl.zst") <(unz "$REF/train.jsonl.zst") >"$T/diff" 2>&1
ok $? "the training file equals the local make convert's"
