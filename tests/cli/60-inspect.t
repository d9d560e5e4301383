#!/bin/sh
# infty-inspect: validate catches broken invariants with file:line, the
# views read .jsonl, .jsonl.zst and stdin, sample is deterministic.
. "$(dirname "$0")/lib.sh"
F=$FIXTURES/build
plan 43

run infty-inspect --help
is_rc 0 "--help exits 0"
like "$OUT" "validate" "--help lists the commands"
run infty-inspect frobnicate x
is_rc 2 "an unknown command exits 2"
run infty-inspect head --bogus
is_rc 2 "an unknown option exits 2"

# validate: the built instances are fine; drop one and it is caught.
infty-build -q -t none -o "$T/inst.jsonl" "$F/summarized.jsonl" 2>/dev/null
run infty-inspect validate "$T/inst.jsonl"
is_rc 0 "built instances validate"
like "$OUT" "6 records, 0 problems" "validate reports the count"
sed 5d "$T/inst.jsonl" >"$T/short.jsonl"
run infty-inspect validate "$T/short.jsonl"
is_rc 1 "a trace missing an instance fails validation"
like "$ERR" "short.jsonl:5: trace 't3': iteration 3 after 1" "with file:line and what is wrong"
sed '$d' "$T/inst.jsonl" >"$T/cut.jsonl"
run infty-inspect validate "$T/cut.jsonl"
like "$ERR" "cut.jsonl:5: trace 't3': 2 of its 3 instances" "a trace cut at the end of a file is caught"
infty-build -q -t none -f hf --no-meta -o "$T/hf.jsonl" "$F/summarized.jsonl" 2>/dev/null
run infty-inspect validate "$T/hf.jsonl"
is_rc 0 "hf instances validate (no meta: the conclusion marks the end)"
sed '$d' "$T/hf.jsonl" >"$T/hfcut.jsonl"
run infty-inspect validate "$T/hfcut.jsonl"
like "$ERR" "its last instance has no conclusion" "a cut hf trace is caught"

run infty-inspect validate "$F/summarized.jsonl"
is_rc 1 "the summarized fixture has problems"
like "$ERR" "summarized.jsonl:4: 'summaries' must hold n - 1 = 2 entries" "missing summary found"
like "$ERR" "summarized.jsonl:5: not valid JSON" "bad JSON found"

# Segment invariants: separator holds text, over eta, 'final' misplaced.
cat >"$T/seg.jsonl" <<'X'
{"id":"s1","question":"Q","conclusion":"C","segments":[{"text":"a b","tokens":2,"end":"paragraph","sep":"\n\n"},{"text":"c","tokens":1,"end":"final","sep":""}],"n":2,"params":{"eta":4,"pack":"strict"}}
{"id":"s2","question":"Q","conclusion":"C","segments":[{"text":"a","tokens":9,"end":"paragraph","sep":"x"},{"text":"c","tokens":1,"end":"paragraph","sep":""}],"n":2,"params":{"eta":4,"pack":"strict"}}
X
run infty-inspect validate "$T/seg.jsonl"
is_rc 1 "broken segment records fail"
unlike "$ERR" "seg.jsonl:1:" "the good record passes"
like "$ERR" "seg.jsonl:2: segment 0: 9 tokens > eta 4" "over eta"
like "$ERR" "seg.jsonl:2: segment 0: 'sep' holds more than whitespace" "a lossy separator"
like "$ERR" "seg.jsonl:2: segment 1: 'final' must end exactly the last segment" "final misplaced"
if [ -f "$INFTY_TOKENIZER_DEFAULT" ]; then
	run infty-inspect validate -t "$INFTY_TOKENIZER_DEFAULT" "$T/seg.jsonl"
	like "$ERR" "seg.jsonl:2: segment 0: 'tokens' is 9 but the text has 1" "--tokenizer recounts tokens"
else
	skip "no tokenizer"
fi

# head, stdin and zstd.
zstd -q -c "$T/inst.jsonl" >"$T/inst.jsonl.zst"
run infty-inspect head -n 2 "$T/inst.jsonl.zst"
is "$OUT" "$(head -n 2 "$T/inst.jsonl")" "head -n 2 on .zst gives the first two lines as they are"
is "$(infty-inspect head -n 1 <"$T/inst.jsonl")" "$(head -n 1 "$T/inst.jsonl")" "head reads stdin"

# sample: K lines of the input, in input order, the same for the same seed.
run infty-inspect sample -n 3 --seed 42 "$T/inst.jsonl"
is "$(printf '%s\n' "$OUT" | grep -c .)" 3 "sample -n 3 gives 3 records"
s1=$OUT
is "$(printf '%s\n' "$OUT" | grep -cxFf "$T/inst.jsonl")" 3 "all sampled lines are input lines"
is "$(printf '%s\n' "$OUT" | grep -nxFf - "$T/inst.jsonl" | cut -d: -f1 | sort -n | tr '\n' ' ')" \
	"$(printf '%s\n' "$OUT" | grep -nxFf - "$T/inst.jsonl" | cut -d: -f1 | tr '\n' ' ')" "in input order"
run infty-inspect sample -n 3 --seed 42 "$T/inst.jsonl.zst"
is "$OUT" "$s1" "the same seed gives the same sample"
seen=""
for s in 1 2 3 4 5 6 7 8; do seen="$seen$(infty-inspect sample -n 1 --seed $s "$T/inst.jsonl")
"; done
[ "$(printf '%s' "$seen" | sort -u | grep -c .)" -gt 1 ]; ok $? "different seeds draw different records"

# grep and show.
run infty-inspect grep --id t2 "$F/summarized.jsonl"
is "$OUT" "$(sed -n 2p "$F/summarized.jsonl")" "grep --id prints the raw record"
run infty-inspect grep --field source.uuid=u-3 "$F/summarized.jsonl"
is "$OUT" "$(sed -n 3p "$F/summarized.jsonl")" "grep --field PATH=VALUE"
run infty-inspect grep --field 'question~Solve' "$F/summarized.jsonl"
is "$(printf '%s\n' "$OUT" | grep -c .)" 1 "grep --field PATH~TEXT"
run infty-inspect grep --id nope "$F/summarized.jsonl"
is_rc 1 "grep with no match exits 1"
run infty-inspect show t3 --color never "$F/summarized.jsonl"
like "$OUT" "segment 2/3: 7 tokens, ended at paragraph" "show lays out segments with tokens and boundary"
like "$OUT" ">> summary S2" "show puts each summary after its segment"

# stats, with the HTML page.
run infty-inspect stats --html "$T/s.html" "$F/summarized.jsonl" "$T/inst.jsonl"
like "$OUT" "segments per trace \(n\), from segment and summarized records: 4 values" \
	"stats: segments per trace of the summarized records alone"
like "$OUT" "instances per trace \(n\), from built instances: 3 values" \
	"... and of the instances apart: the two are not pooled"
grep -q '<svg' "$T/s.html" && ! grep -qiE '<script|src="http|href="http' "$T/s.html"
ok $? "--html writes a self-contained page with inline SVG charts"
grep -q '<li>.*summarized.jsonl</li>' "$T/s.html" && grep -q '<li>.*inst.jsonl</li>' "$T/s.html"
ok $? "--html: the heading names every file"
grep -q 'class="xtitle"' "$T/s.html" && grep -q 'class="ytitle"' "$T/s.html"
ok $? "--html: charts have axis titles"

# stats of checked and judged summaries: every flag listed, zeros included,
# and the judge's score and rounds.
python3 - "$F/summarized.jsonl" "$T/judged.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for k, line in enumerate(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue  # the fixture's bad line
        for i, s in enumerate(r["summaries"]):
            s["flags"] = ["copy"] if (k + i) % 2 else []
            s["quality"] = {"ratio": 0.25}
            s["judge"] = {"score": 5 - i, "rounds": 1 + i, "scores": [5 - i] * (1 + i)}
        o.write(json.dumps(r) + "\n")
PY
run infty-inspect stats --html "$T/j.html" "$T/judged.jsonl"
is "$(printf '%s\n' "$OUT" | grep -c '^summary flag: ')" "8" "stats: every flag listed once summaries were checked"
like "$OUT" "summary flag: leak: 0" "... with its zero"
like "$OUT" "summaries: [0-9]+, checked: [0-9]+, flagged: [0-9]+ .*judged: [0-9]+" "stats: summaries checked, flagged, judged"
like "$OUT" "judge rounds \(summaries judged per segment\): [0-9]+ values, min 1" "stats: the judge's rounds"
grep -q 'judge score' "$T/j.html" && grep -q 'id="summaries"' "$T/j.html"
ok $? "--html: the judge's charts and the summaries line"
