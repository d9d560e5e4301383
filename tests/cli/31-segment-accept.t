#!/bin/sh
# infty-segment --accept reference: exactly the rows the reference's
# segmentation.py keeps (checked row by row against a rewrite of its code,
# tests/reference/accept_oracle.py), each lost row a reject with the reason,
# and the documented differences of the default acceptance.
. "$(dirname "$0")/lib.sh"
plan 22

F=$FIXTURES/segment/accept.jsonl
ORACLE=$ROOT/tests/reference/accept_oracle.py
have_python() { command -v python3 >/dev/null 2>&1; }
kept() { grep -o '"line":[0-9]*' "$1" | cut -d: -f2 | tr '\n' ' '; }
reasons() { grep -o '"line":[0-9]*,"reason":"[a-z_]*' "$1" | sed 's/"line"://; s/,"reason":"/=/' | tr '\n' ' '; }

run infty-segment --help
like "$OUT" "--accept WHICH" "--help lists --accept"
run infty-segment --accept paper "$F"
is_rc 2 "an unknown --accept exits 2"
like "$ERR" "is not infty or reference" "and names the choices"
run infty-segment --accept reference --pick all "$F"
is_rc 2 "--accept reference with a generation pick is a usage error"
run infty-segment --accept reference --input-format limo "$F"
is_rc 2 "--accept reference with a non-messages shape is a usage error"

# The fixture has one row per difference (see infty-segment(1), PACKING).
run infty-segment -q --accept reference -o "$T/ref.jsonl" -r "$T/ref-rej.jsonl" -s "$T/ref.json" "$F"
is_rc 1 "rejects give exit 1"
is "$(kept "$T/ref.jsonl")" "1 7 8 11 13 14 16 " "the reference's rows: whitespace-only conclusion and reasoning kept"
is "$(reasons "$T/ref-rej.jsonl")" "2=ref_no_match 3=ref_no_match 4=ref_no_match 5=ref_empty_paragraph 6=ref_empty_paragraph 9=ref_not_two_messages 10=ref_no_match 12=ref_not_two_messages 15=ref_no_match " \
	"every lost row is a reject with the reference's reason"
is "$(jq -cS .rejects_by_reason "$T/ref.json")" '{"ref_empty_paragraph":2,"ref_no_match":5,"ref_not_two_messages":2}' "stats count them by reason"
is "$(jq -r .params.accept "$T/ref.json")" "reference" "stats record the acceptance"
like "$(sed -n 2p "$T/ref.jsonl")" '"conclusion":"\\n\\n","segments"' "the whitespace-only conclusion is kept verbatim"
like "$(sed -n 4p "$T/ref.jsonl")" '"conclusion":"Middle.\\n</think>"' "the split is at the last \\\\n</think> with text after it"
like "$ERR$(cat "$T/ref-rej.jsonl")" "does not start with '<think>\\\\\\\\n'" "a no-match detail says why"

run infty-segment -q -o "$T/ours.jsonl" -r "$T/ours-rej.jsonl" "$F"
is "$(kept "$T/ours.jsonl")" "1 2 3 4 5 6 9 10 12 13 14 16 " "the default keeps rows without <think>\\\\n, with empty paragraphs, of other shapes"
is "$(reasons "$T/ours-rej.jsonl")" "7=empty_conclusion 8=empty_reasoning 11=empty_conclusion 15=missing_field " \
	"and rejects whitespace-only reasoning or conclusion"
is "$(sed -n 1p "$T/ours.jsonl" | sed 's/"accept[^,]*,//')" "$(sed -n 1p "$T/ref.jsonl")" "a row both accept gives the same record (id included)"

if have_python; then
	run python3 "$ORACLE" "$F" "$T/ref.jsonl" "$T/ref-rej.jsonl"
	is_rc 0 "the oracle agrees with --accept reference on every fixture row"
	like "$OUT" "16 rows: the reference keeps 7, infty --accept reference 7; 0 differ" "and says so"
	run python3 "$ORACLE" "$F" "$T/ours.jsonl" "$T/ours-rej.jsonl"
	is_rc 1 "the oracle catches the default acceptance's differences"
else
	for i in 1 2 3; do skip "python3 not found"; done
fi

S=$SHARED/data/openr1_math_messages_sample.jsonl
if [ -f "$S" ]; then
	infty-segment -q --pack paper -o "$T/s-ours.jsonl" "$S" 2>/dev/null
	infty-segment -q --pack paper --accept reference -o "$T/s-ref.jsonl" "$S" 2>/dev/null
	same_file "$T/s-ref.jsonl" "$T/s-ours.jsonl" "the 10 real OpenR1 rows: both acceptances give the same segments"
else
	skip "no $S"
fi
# A slice of the real corpus, put in the messages shape the reference reads.
C=$SHARED/data/corpus/reasoning_traces.jsonl.zst
if have_shared_data && have_python; then
	zstd -dc "$C" 2>/dev/null | awk 'NR % 8 == 1; NR >= 4000 { exit }' | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(json.dumps({"messages": [{"role": "user", "content": r["problem"] or ""},
                                   {"role": "assistant", "content": r["trace"]}]}, ensure_ascii=False))
' >"$T/corpus.jsonl"
	infty-segment -q --accept reference -o "$T/c.jsonl" -r "$T/c-rej.jsonl" "$T/corpus.jsonl" 2>/dev/null
	run python3 "$ORACLE" "$T/corpus.jsonl" "$T/c.jsonl" "$T/c-rej.jsonl"
	is_rc 0 "the oracle agrees on every 8th of the first 4000 corpus traces"
	[ "$RC" -eq 0 ] || diag "$OUT"
	like "$(cat "$T/c-rej.jsonl")" '"reason":"ref_empty_paragraph"' "real traces hit the reference's crash"
else
	skip "no shared corpus or python3 (${C})"
	skip "no shared corpus or python3"
fi
