#!/bin/sh
# quality_fake.sh - `make quality-fake`: summaries of the fake endpoint
# (tests/fake-endpoint.mjs) with the default quality policy and the judge,
# for segment files that `make quality-counts` made, and one table row each
# from infty-summarize's own stats (docs/quality.md).
#
#   quality_fake.sh QDIR BIN ROOT NAME...
#
# QDIR/NAME-seg.jsonl.zst in, QDIR/NAME-fake-SCENARIO.{jsonl.zst,json} out,
# for three runs: ok (the fake's plain summaries, which its judge grades 5),
# weak (every first summary carries a marker its judge grades 2, and its
# refinement drops it) and extractive (the offline summaries, graded by the
# fake's judge, never rewritten).  The fake's summaries and grades test the
# pipeline and the loop at scale, not summary quality.
set -eu
QDIR=$1 BIN=$2 ROOT=$3
shift 3
command -v node >/dev/null || { echo "quality-fake: node is not installed" >&2; exit 2; }
FPID=
trap '[ -z "$FPID" ] || kill "$FPID" 2>/dev/null' EXIT
printf '| data | fake | traces | summaries | flagged | leak | refusal | short | long | copy | ungrounded | early_answer | language | retried | kept flagged | judge rounds | scores | requests (summary, judge, refine) | s |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |\n'
for name in "$@"; do
	for sc in ok weak extractive; do
		backend=
		fsc=$sc
		if [ "$sc" = extractive ]; then backend="--backend extractive" fsc=ok; fi
		: >"$QDIR/fake.port"
		node "$ROOT/tests/fake-endpoint.mjs" --scenario "$fsc" --lifetime 3600 >"$QDIR/fake.port" &
		FPID=$!
		i=0
		while [ ! -s "$QDIR/fake.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		ep=http://127.0.0.1:$(cat "$QDIR/fake.port")/v1
		t0=$(date +%s)
		# shellcheck disable=SC2086 # $backend is empty or two words
		"$BIN/infty-summarize" -q $backend --endpoint "$ep" --model fake-model --prompt-dir "$ROOT/prompts" \
			--judge --max-inflight 64 --stats "$QDIR/$name-fake-$sc.json" \
			--failed "$QDIR/$name-fake-$sc-failed.jsonl" \
			-o "$QDIR/$name-fake-$sc.jsonl.zst" "$QDIR/$name-seg.jsonl.zst" || [ $? = 1 ]
		t1=$(date +%s)
		kill "$FPID" 2>/dev/null || true
		wait "$FPID" 2>/dev/null || true
		FPID=
		python3 - "$QDIR/$name-fake-$sc.json" "$name" "$sc" $((t1 - t0)) <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
q, f, j = o["quality"], o["quality_flags"], o["judge"]
flags = ["leak", "refusal", "short", "long", "copy", "ungrounded", "early_answer", "language"]
rounds = ", ".join(f"{k}: {v:,}" for k, v in sorted(j["rounds"].items()))
scores = ", ".join(f"{k}: {v:,}" for k, v in j["scores"].items() if v)
made = o["requests"]["answered"] - j["requests"] - j["refines"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {o['traces']['ok']:,} | {q['checked']:,} | {q['flagged']:,} | "
      + " | ".join(f"{f[k]:,}" for k in flags)
      + f" | {q['retried']:,} | {q['exhausted']:,} | {rounds} | {scores} | "
      f"{made:,}, {j['requests']:,}, {j['refines']:,} | {sys.argv[4]} |")
PY
	done
done
rm -f "$QDIR/fake.port"
