#!/bin/sh
# infty-build: exact paper/messages/hf/trl/trl-chat output against
# fixtures, whole-trace rejects (no silent truncation), meta defaults,
# --max-tokens, stats, usage.
. "$(dirname "$0")/lib.sh"
F=$FIXTURES/build
plan 52

run infty-build --help
is_rc 0 "--help exits 0"
like "$OUT" "usage: infty-build" "--help prints usage to stdout"

run infty-build --bogus
is_rc 2 "unknown option exits 2"
like "$ERR" "^infty-build: unknown option '--bogus'" "unknown option: one line, no path"

run infty-build --format xml -t none "$F/summarized.jsonl"
is_rc 2 "bad --format exits 2"

run infty-build -t none --no-meta -r "$T/rej.jsonl" -s "$T/stats.json" -o "$T/paper.jsonl" "$F/summarized.jsonl"
is_rc 1 "rejects give exit 1"
same_file "$T/paper.jsonl" "$F/expected-paper.jsonl" "paper format is byte-exact to the reference templates"
like "$ERR" "summarized.jsonl:4: missing_summary" "reject message names file:line and reason"
is "$(grep -c . "$T/rej.jsonl")" 2 "two reject records"
# The reference kept t4 with its last segment dropped; we keep none of it.
is "$(grep -c '"id":"t4"' "$T/rej.jsonl")" 1 "the trace missing its last summary is rejected"
unlike "$(cat "$T/paper.jsonl")" "Last summary lost" "no instance of the rejected trace is written"
like "$(cat "$T/stats.json")" '"instances_out": 6' "stats: instances"
like "$(cat "$T/stats.json")" '"missing_summary": 1' "stats: rejects by reason"
like "$(cat "$T/stats.json")" '"records_in": 5' "stats: records in = traces + rejects"

run infty-build -t none --no-meta -f messages "$F/summarized.jsonl"
printf '%s\n' "$OUT" >"$T/m.jsonl"
same_file "$T/m.jsonl" "$F/expected-messages.jsonl" "messages format matches"

# hf is the released columns and nothing else unless --meta asks for more.
run infty-build -t none -f hf "$F/summarized.jsonl"
printf '%s\n' "$OUT" | sed -n 2,3p >"$T/hf.jsonl"
same_file "$T/hf.jsonl" "$F/expected-hf-t2.jsonl" "hf format matches, without meta by default"
run infty-build -t none --meta -f hf "$F/summarized.jsonl"
like "$(printf '%s\n' "$OUT" | sed -n 2p)" '"messages":\[.*\],"meta":\{"id":"t2","iteration":1,"n":2\}\}$' "hf --meta appends meta"
# uuid is the source row's own (source.uuid), else the trace id.
printf '%s\n' "$(sed -n 1p "$F/summarized.jsonl")" | sed 's/"source":{[^}]*},//' >"$T/nouuid.jsonl"
run infty-build -t none -f hf "$T/nouuid.jsonl"
like "$OUT" '^\{"uuid":"t1","reasoning_index":0,' "hf uuid falls back to the trace id"

# trl: the paper strings under TRL's prompt/completion names; trl-chat: the
# messages turns split into TRL's conversational prompt and completion.
run infty-build -t none -f trl "$F/summarized.jsonl"
printf '%s\n' "$OUT" >"$T/trl.jsonl"
same_file "$T/trl.jsonl" "$F/expected-trl.jsonl" "trl format matches, without meta by default"
sed 's/^{"input":/{"prompt":/; s/","target":"/","completion":"/' "$F/expected-paper.jsonl" >"$T/paper2trl.jsonl"
same_file "$T/trl.jsonl" "$T/paper2trl.jsonl" "trl is paper with TRL's column names, byte for byte"
run infty-build -t none -f trl-chat "$F/summarized.jsonl"
printf '%s\n' "$OUT" >"$T/trlc.jsonl"
same_file "$T/trlc.jsonl" "$F/expected-trl-chat.jsonl" "trl-chat format matches"
sed 's/^{"messages":\[\(.*\)},{"role":"assistant"/{"prompt":[\1}],"completion":[{"role":"assistant"/' \
	"$F/expected-messages.jsonl" >"$T/msg2trlc.jsonl"
same_file "$T/trlc.jsonl" "$T/msg2trlc.jsonl" "trl-chat holds exactly the messages turns"
run infty-build -t none -f trl --meta "$F/summarized.jsonl"
like "$(printf '%s\n' "$OUT" | head -1)" '"completion":".*","meta":\{"id":"t1","iteration":1,"n":1\}\}$' "trl --meta appends meta"
run infty-build -t none -f paper "$F/summarized.jsonl"
like "$(printf '%s\n' "$OUT" | head -1)" ',"meta":\{"id":"t1","iteration":1,"n":1\}\}$' "paper keeps meta by default"
run infty-build -t none -f trl-chat -s "$T/chat.json" "$F/summarized.jsonl"
like "$(cat "$T/chat.json")" '"format": "trl-chat"' "stats name the format"
run infty-build --format TRL -t none "$F/summarized.jsonl"
like "$ERR" "is not paper, messages, hf, trl or trl-chat" "a bad --format lists the formats"

# stdin, and zstd input, give the same bytes.
zstd -q -c "$F/summarized.jsonl" >"$T/in.jsonl.zst"
run infty-build -t none --no-meta -o "$T/z.jsonl" "$T/in.jsonl.zst"
same_file "$T/z.jsonl" "$F/expected-paper.jsonl" "reads .jsonl.zst"
infty-build -t none --no-meta -q <"$F/summarized.jsonl" >"$T/s.jsonl" 2>/dev/null
same_file "$T/s.jsonl" "$F/expected-paper.jsonl" "reads stdin"

if [ -f "$INFTY_TOKENIZER_DEFAULT" ]; then
	run infty-build -t "$INFTY_TOKENIZER_DEFAULT" -q "$F/summarized.jsonl"
	is_rc 1 "with tokenizer: rejects still exit 1"
	like "$OUT" '"meta":\{"id":"t3","iteration":3,"n":3,"prompt_tokens":[1-9][0-9]*,"target_tokens":[1-9]' "meta carries id, iteration, n and token counts"
	# The largest prompt+target decides: at it everything fits, one below it t3 goes.
	max=$(printf '%s\n' "$OUT" | sed -n 's/.*"prompt_tokens":\([0-9]*\),"target_tokens":\([0-9]*\).*/\1 \2/p' |
		awk '{ s = $1 + $2; if (s > m) m = s } END { print m }')
	run infty-build -t "$INFTY_TOKENIZER_DEFAULT" -q --max-tokens "$max" -r "$T/r2.jsonl" "$F/summarized.jsonl"
	is "$(printf '%s\n' "$OUT" | grep -c .)" 6 "--max-tokens at the largest instance keeps all 6"
	run infty-build -t "$INFTY_TOKENIZER_DEFAULT" -q --max-tokens "$((max - 1))" -r "$T/r3.jsonl" "$F/summarized.jsonl"
	like "$(cat "$T/r3.jsonl")" '"reason":"too_long"' "one token less: a too_long reject"
	like "$ERR" "needs $max tokens > --max-tokens $((max - 1))" "the message gives both figures"
else
	for i in 1 2 3 4 5; do skip "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"; done
fi

run infty-build -t none -s "$T/empty.json" </dev/null
is "$RC:$OUT" "0:" "empty input: no instance, exit 0"
like "$(cat "$T/empty.json")" '"records_in": 0' "empty input: stats still written"
printf '%s\r\n' "$(sed -n 2p "$F/summarized.jsonl")" >"$T/crlf.jsonl"
run infty-build -t none --no-meta "$T/crlf.jsonl"
is "$OUT" "$(sed -n 2,3p "$F/expected-paper.jsonl")" "CRLF line ends are read as LF"

run infty-build -t none --max-tokens 10 "$F/summarized.jsonl"
is_rc 2 "--max-tokens without a tokenizer is a usage error"

run infty-build -t none -o /dev/full "$F/summarized.jsonl"
is_rc 3 "a write failure stops: exit 3"

printf '{"id":"x"}\n' | zstd -q -c | head -c 12 >"$T/cut.zst"
run infty-build -t none -o "$T/cut.out" "$T/cut.zst"
is_rc 3 "a truncated .zst stops: exit 3"
[ ! -e "$T/cut.out" ]; ok $? "and publishes no output"

# infty-inspect knows the trl formats: their kinds, the templates' shape and,
# with meta, the sequence of a trace's instances.
for f in trl trl-chat; do
	infty-build -q -t none --meta -f $f -o "$T/v-$f.jsonl" "$F/summarized.jsonl" 2>/dev/null
	run infty-inspect validate "$T/v-$f.jsonl"
	is "$RC:$(printf '%s' "$OUT" | grep -o '6 records, 0 problems')" "0:6 records, 0 problems" "$f instances validate"
done
sed '2s/"role":"assistant"/"role":"user"/' "$T/v-trl-chat.jsonl" >"$T/bad-chat.jsonl"
run infty-inspect validate "$T/bad-chat.jsonl"
like "$RC:$ERR" "^1:.*bad-chat.jsonl:2: missing target text" "a trl-chat completion that is not the assistant's is caught"
run infty-inspect show t2 "$T/v-trl-chat.jsonl"
like "$OUT" "== t2 \(trl-chat\)" "show names the kind"
like "$OUT" "--- assistant \(trained\)" "and marks the trained turn"

# --quality: traces with a flagged summary (infty-summarize's checks) are kept
# and counted, or with drop rejected as quality_<flag>, counted like any reject.
python3 - "$F/summarized.jsonl" "$T/flagged.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        try:
            r = json.loads(line)
        except ValueError:
            o.write(line)
            continue
        for s in r.get("summaries", []):
            s["flags"] = []
        if r.get("id") == "t3" and r.get("summaries"):
            r["summaries"][-1]["flags"] = ["copy", "ungrounded"]
        o.write(json.dumps(r) + "\n")
PY
run infty-build -q -t none -s "$T/qk.json" -o "$T/qk.jsonl" "$T/flagged.jsonl"
is "$(python3 -c "import json; q=json.load(open('$T/qk.json'))['quality']; print(q['policy'], q['flagged_traces'], q['flagged_summaries'], q['flags']['copy'], q['flags']['leak'], q['dropped'])")" \
	"keep 1 1 1 0 0" "--quality keep (default): flagged traces built and counted"
is "$(count_lines "$T/qk.jsonl")" "$(count_lines "$T/paper.jsonl")" "keep: the same instances as without flags"
run infty-build -q -t none --quality drop -r "$T/qr.jsonl" -s "$T/qd.json" -o "$T/qd.jsonl" "$T/flagged.jsonl"
is_rc 1 "--quality drop: exit 1 (a trace rejected)"
is "$(python3 -c "import json; r=[json.loads(l) for l in open('$T/qr.jsonl')]; print([(x['reason'], x['id']) for x in r if x['reason'].startswith('quality')])")" \
	"[('quality_copy', 't3')]" "drop: the flagged trace is a reject quality_<its first flag>"
like "$(cat "$T/qd.json")" '"quality_copy": 1' "drop: counted in rejects_by_reason"
is "$(python3 -c "import json; s=json.load(open('$T/qd.json')); print(s['records_in'] == s['traces_out'] + s['rejected'], s['quality']['dropped'])")" \
	"True 1" "drop: records in = traces + rejects still"
run infty-build --quality maybe "$T/flagged.jsonl"
is_rc 2 "--quality: keep or drop only"
