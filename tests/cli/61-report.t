#!/bin/sh
# infty-inspect report: one self-contained page on a run directory, checked
# without a browser (structure, embedded data, escaping, the size bound);
# mk/browser.mk renders it in Chromium.
. "$(dirname "$0")/lib.sh"
plan 17

# A hand-made run directory: summarized records (one with flags and a text
# that tries to end the script element), their instances, rejects, settings.
D=$T/run
mkdir -p "$D/summarize/out" "$D/build/out" "$D/segment/stats" "$D/segment/failed" "$D/segment" "$D/summarize"
cat >"$D/summarize/out/00000.jsonl" <<'X'
{"id":"t1","question":"Q1 </script><script>document.title='pwned'</script>","conclusion":"C","segments":[{"text":"a </script> b","tokens":3,"end":"paragraph","sep":"\n\n"},{"text":"c","tokens":1,"end":"final","sep":""}],"n":2,"params":{"eta":8},"summaries":[{"i":0,"text":"* s <!-- x","flags":["copy","ungrounded"],"quality":{"ratio":0.5,"copy_words":30}}]}
{"id":"t2","question":"Q2","conclusion":"C","segments":[{"text":"x","tokens":1,"end":"final","sep":""}],"n":1,"params":{"eta":8},"summaries":[]}
X
for k in 3 4 5 6 7 8 9; do
	printf '{"id":"t%s","question":"Q","conclusion":"C","segments":[{"text":"x","tokens":%s,"end":"final","sep":""}],"n":1,"params":{"eta":8},"summaries":[]}\n' $k $k
done >>"$D/summarize/out/00000.jsonl"
infty-build -q -t none -o "$D/build/out/00000.jsonl" "$D/summarize/out/00000.jsonl" 2>/dev/null
printf '{"stage":"segment","file":"in.jsonl","line":4,"reason":"no_think_close","detail":"no </think>","id":null,"raw":"{}"}\n' >"$D/segment/failed/00000.jsonl"
printf '{"total_shards": 1, "input": "/x/in.jsonl"}\n' >"$D/run.json"
printf '{"rows": 10, "segment": {"traces": 9, "rejects": 1}}\n' >"$D/stats.json"
printf -- '--eta 8\n' >"$D/segment/params"
printf '{"rows":10,"traces":9}\n' >"$D/segment/stats/00000.json"

run infty-inspect report "$D" -o "$T/r.html"
is_rc 0 "report exits 0"
is "$ERR" "" "nothing on stderr"
H=$T/r.html
grep -q '<svg' "$H" && ! grep -qiE 'src="http|href="http|<link|@import|url\(' "$H"
ok $? "self-contained: inline SVG, no network reference"
is "$(grep -o '<script type="application/json" id="data">' "$H" | wc -l | tr -d ' ')" 1 "one data element"
# The data: everything between the element's tags must parse, and hold the
# hostile text unchanged; no closing tag of it may appear inside.
sed -n 's|.*<script type="application/json" id="data">\(.*\)</script>.*|\1|p' "$H" >"$T/data.json"
jq -e . "$T/data.json" >/dev/null
ok $? "the embedded data is valid JSON"
is "$(jq -r '.traces[0].question' "$T/data.json")" "Q1 </script><script>document.title='pwned'</script>" \
	"a </script> inside a trace survives as text"
unlike "$(cat "$H")" "</script><script>document" "and never appears raw in the page"
is "$(jq -r '.traces[0].id' "$T/data.json")" "t1" "flagged traces come first"
is "$(jq -r '.instances.t1 | length' "$T/data.json")" 2 "a trace carries its instances"
is "$(jq -r '.rejects[0].reason' "$T/data.json")" "no_think_close" "rejects with their reason"
is "$(jq -r '.params.segment' "$T/data.json")" "--eta 8" "stage params"
is "$(jq -r '.run.total_shards' "$T/data.json")" 1 "run.json"
like "$(cat "$H")" 'eta = 8' "the tokens chart draws the eta line"
like "$(cat "$H")" '9 traces read \(1 with a flagged summary\)' "totals are counted over every trace"

# The bound: -n 2 keeps every flagged trace and 2 others, and says so.
run infty-inspect report "$D" -n 2 --seed 7 -o "$T/r2.html"
sed -n 's|.*<script type="application/json" id="data">\(.*\)</script>.*|\1|p' "$T/r2.html" >"$T/d2.json"
is "$(jq -r '[.traces[].id] | length' "$T/d2.json")" 3 "-n 2: the flagged trace plus 2 drawn"
like "$(cat "$T/r2.html")" 'This page holds 3 traces: all 1 flagged ones kept and 2 drawn' "the page says what it shows"

run infty-inspect report "$T/nothing" -o "$T/x.html"
is_rc 1 "a directory that is not a run fails with 1"
