#!/bin/sh
# 20-tok.t - infty-tok: options, exit codes, counts/ids/decode against the
# Hugging Face vectors, JSONL fields, thread-count independence, and (when
# ../shared/data and the Node reference are available) exact parity with HF
# tokenizers on 200 real traces.
. "$(dirname "$0")/lib.sh"
plan 30

TOKJ=${INFTY_TOKENIZER_DEFAULT:-$HOME/.cache/infty/tokenizers/qwen3-3.7.2/tokenizer.json}
[ -f "$TOKJ" ] || skip_all "no default tokenizer (make tokenizer)"
export INFTY_TOKENIZER="$TOKJ"
VEC=$ROOT/tests/vectors/qwen3.jsonl
FX=$FIXTURES/tok

run infty-tok --help; is_rc 0 "--help exits 0"
like "$OUT" "^usage: infty-tok" "--help prints usage on stdout"
run infty-tok --bogus count x; is_rc 2 "bad option exits 2"
like "$ERR" "^infty-tok: " "bad option message names the program"
run infty-tok; is_rc 2 "no command exits 2"
run infty-tok --tokenizer /nonexistent.json count x; is_rc 2 "missing tokenizer exits 2"
like "$ERR" "^infty-tok: /nonexistent.json: cannot load tokenizer: " "missing tokenizer is named, file first"

# Ids of a text equal HF's for the same text in the committed vectors.
want=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o["text"]=="Hello world": print(" ".join(map(str,o["ids"])))' "$VEC")
run infty-tok ids "Hello world"; is "$OUT" "$want" "ids of 'Hello world' equal HF's"
run infty-tok decode $want; is "$OUT" "Hello world" "decode gives the text back"
run infty-tok decode 999999999; is_rc 1 "decode of an unknown id exits 1"
txt='Let x = 3.<|im_end|>'
run infty-tok count "$txt"; n=$OUT
run infty-tok ids "$txt"; is "$(echo "$OUT" | wc -w | tr -d ' ')" "$n" "count equals the number of ids"
printf '%s' "$txt" | infty-tok count >"$T/stdin.out"; is "$(cat "$T/stdin.out")" "$n" "stdin gives the same count"

run infty-tok --hash; is "$OUT" "sha256:$(sha256sum "$TOKJ" | cut -d' ' -f1)" "--hash is the file's sha256"
# Offsets: 'ab', ' ', ' c' (a run of 2 spaces leaves its last one to the word).
run infty-tok ids --offsets "ab  c"
is "$(echo "$OUT" | sed 's/[0-9]*://g')" "0-2 2-3 3-5" "offsets tile the input"
plain=$(infty-tok ids "ab  c")
is "$(echo "$OUT" | sed 's/:[0-9-]*//g')" "$plain" "offsets go with the same ids"
run infty-tok count --offsets x; is_rc 2 "--offsets without ids is a usage error"

# JSONL fields: one line per record, in order; totals; threads do not matter.
run infty-tok count --field trace "$FX/records.jsonl"; is_rc 0 "count --field exits 0"
is "$(echo "$OUT" | wc -l | tr -d ' ')" 3 "one count per record"
sum=$(echo "$OUT" | awk '{s+=$1} END {print s}')
run infty-tok count --total --field trace "$FX/records.jsonl"; is "$OUT" "$sum" "--total is the sum"
infty-tok ids -j1 --field trace "$FX/records.jsonl" >"$T/j1"
infty-tok ids -j2 --field trace "$FX/records.jsonl" >"$T/j2"
same_file "$T/j2" "$T/j1" "ids identical with 1 and 2 threads"
run infty-tok count --field trace "$FX/bad.jsonl"; is_rc 1 "bad records exit 1"
like "$ERR" "bad.jsonl:2: missing string field 'trace'" "missing field reported with file:line"
is "$OUT" "$(printf '1\n-\n-\n1')" "one line per record, '-' for a skipped one"
run infty-tok ids --field trace "$FX/bad.jsonl"
is "$(echo "$OUT" | sed 's/[0-9][0-9 ]*/N/')" "$(printf 'N\n-\n-\nN')" "ids: one line per record too"
run infty-tok count --total --field trace "$FX/bad.jsonl"; is "$OUT" 2 "--total counts the good records only"
run infty-tok count ab "$(printf 'x\377')" c; is_rc 1 "a text that is not UTF-8 exits 1"
is "$OUT" "$(printf '1\n-\n1')" "one line per TEXT, '-' for the bad one"
infty-tok count x >/dev/full 2>/dev/null; is "$?" 3 "a write error stops: exit 3"

# Real traces: 200 chosen deterministically (every 11th of the first 2,200,
# so zstd stops early), HF ids computed now.
NODEDIR=$ROOT/tests/node
if ! have_shared_data; then
	skip "no ../shared/data: real-corpus parity not checked"
	skip "no ../shared/data"
else
	if [ ! -d "$NODEDIR/node_modules/@anush008" ] && command -v npm >/dev/null 2>&1; then
		(cd "$NODEDIR" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1)
	fi
	if [ ! -d "$NODEDIR/node_modules/@anush008" ]; then
		skip "tests/node not installed (npm ci failed): real-corpus parity not checked"
		skip "no reference"
	else
		zstd -dc "$SHARED/data/corpus/reasoning_traces.jsonl.zst" |
			awk 'NR % 11 == 1; NR >= 2200 { exit }' >"$T/sample.jsonl"
		node "$NODEDIR/hf-ids.mjs" "$TOKJ" trace <"$T/sample.jsonl" >"$T/hf.txt"
		run infty-tok ids --field trace "$T/sample.jsonl"
		printf '%s\n' "$OUT" >"$T/ours.txt"
		is "$(wc -l <"$T/hf.txt" | tr -d ' ')" 200 "HF encoded the 200 sampled traces"
		same_file "$T/ours.txt" "$T/hf.txt" "ids identical to HF tokenizers on 200 real traces"
	fi
fi
