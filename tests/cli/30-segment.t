#!/bin/sh
# infty-segment: options and exit codes, golden output for every input shape,
# every reject reason, each --pick, both pack modes; sharding, 1-vs-N threads,
# .zst output, stdin, CRLF, empty input, write and read failures.
. "$(dirname "$0")/lib.sh"
plan 48

F=$FIXTURES/segment
E=$F/expected
# Goldens hold "version":"X" so that a version bump does not churn them.
norm() { sed 's/"version":"[^"]*"/"version":"X"/' "$1" >"$1.n" && mv "$1.n" "$1"; }
golden() { # golden GOT WANT DESC
	norm "$1"
	same_file "$1" "$2" "$3"
}
cd "$F" || exit 1

# --- options ------------------------------------------------------------------
run infty-segment --help
is_rc 0 "--help exits 0"
like "$OUT" "^usage: infty-segment" "--help prints usage to stdout"
run infty-segment --bogus
is_rc 2 "an unknown option exits 2"
like "$ERR" "Try 'infty-segment --help'" "and says how to get help"
run infty-segment --eta 0 shapes.jsonl
is_rc 2 "--eta 0 exits 2"
like "$ERR" "^infty-segment: --eta: 0 is out of range" "naming the option"
run infty-segment --pack greedy shapes.jsonl
is_rc 2 "an unknown --pack exits 2"
run infty-segment shapes.jsonl long.jsonl
is_rc 2 "two inputs exit 2"
run infty-segment --tokenizer "$T/none.json" shapes.jsonl
is_rc 2 "a missing tokenizer is a configuration error (2)"
like "$ERR" "none.json: cannot load tokenizer" "and names the file"

# --- input shapes ---------------------------------------------------------------
run infty-segment -q -o "$T/shapes.jsonl" shapes.jsonl
is_rc 0 "every input shape is read (exit 0)"
golden "$T/shapes.jsonl" "$E/shapes.jsonl" "input shapes: golden records"
is "$(jq -r .source.format "$T/shapes.jsonl" | sort -u | tr '\n' ' ')" \
	"conversations limo messages openr1 openthoughts reasoning s1k trace " "each shape detected"

# Forcing a shape that does not fit rejects instead of guessing.
run infty-segment -q --input-format s1k -o "$T/forced.jsonl" -r "$T/forced.rej" shapes.jsonl
is_rc 1 "--input-format s1k on other shapes rejects (exit 1)"
is "$(jq -r .reason "$T/forced.rej" | sort -u | tr '\n' ' ')" "missing_field " \
	"as missing_field"

# --- rejects: every reason, nothing silently dropped -----------------------------
run infty-segment -q -o "$T/rej.jsonl" -r "$T/rej.rej.jsonl" -s "$T/rej.stats" rejects.jsonl
is_rc 1 "rejected rows make exit 1"
golden "$T/rej.jsonl" "$E/rejects.jsonl" "the one good row is written"
golden "$T/rej.rej.jsonl" "$E/rejects.rej.jsonl" "reject records: golden (line, reason, raw)"
like "$ERR" "^infty-segment: rejects.jsonl:6: no_think_close: " "a reject names file:line: reason"
is "$(jq '.rows == .traces + .rejected + .other_shard' "$T/rej.stats")" "true" \
	"stats: rows = traces + rejects"
is "$(jq -c .rejects_by_reason "$T/rej.stats")" \
	'{"bad_json":2,"bad_utf8":1,"unknown_format":1,"missing_field":1,"no_think_close":1,"truncated":1,"empty_reasoning":1,"empty_conclusion":1}' \
	"stats: rejects by reason"
jq -r 'select(.raw_base64) | .raw_base64' "$T/rej.rej.jsonl" | base64 -d >"$T/raw2"
echo >>"$T/raw2"
sed -n 2p rejects.jsonl >"$T/want2"
same_file "$T/raw2" "$T/want2" "invalid UTF-8 raw is kept, byte for byte, as base64"

# --- OpenR1 picks ----------------------------------------------------------------
for p in messages first-correct all-correct all; do
	run infty-segment -q --pick $p -o "$T/o-$p.jsonl" -r "$T/o-$p.rej" openr1.jsonl
	golden "$T/o-$p.jsonl" "$E/openr1-$p.jsonl" "--pick $p: golden records"
	golden "$T/o-$p.rej" "$E/openr1-$p.rej.jsonl" "--pick $p: golden rejects"
done

# --- pack modes ------------------------------------------------------------------
run infty-segment -q --eta 32 -o "$T/strict.jsonl" long.jsonl
golden "$T/strict.jsonl" "$E/long-strict.jsonl" "strict packing: golden"
is "$(jq '[.segments[].tokens <= .params.eta] | all' "$T/strict.jsonl")" "true" \
	"strict: every segment within eta"
run infty-segment -q --eta 32 --pack paper -o "$T/paper.jsonl" long.jsonl
golden "$T/paper.jsonl" "$E/long-paper.jsonl" "paper packing: golden"
is "$(jq '[.segments[:-1][].step_tokens > .params.eta] | all' "$T/paper.jsonl")" "true" \
	"paper: every chunk but the last overflows eta, as the reference"
# Lossless: text+sep joined is the reasoning between the think tags.
want=$(jq -r .trace long.jsonl | sed '1s/^<think>//' | sed '/^<\/think>$/,$d' | sed '1{/^$/d}')
for m in strict paper; do
	is "$(jq -r '[.segments[] | .text + .sep] | join("")' "$T/$m.jsonl")" "$want" \
		"$m: segments join back to the reasoning"
done

# --- sharding, threads -------------------------------------------------------------
cat shapes.jsonl openr1.jsonl long.jsonl rejects.jsonl >"$T/mix.jsonl"
run infty-segment -q --pick all -o "$T/all.jsonl" "$T/mix.jsonl"
run infty-segment -q --pick all --shard 0/2 -o "$T/s0.jsonl" -r "$T/s0.rej" "$T/mix.jsonl"
run infty-segment -q --pick all --shard 1/2 -o "$T/s1.jsonl" -r "$T/s1.rej" "$T/mix.jsonl"
is "$(cat "$T/s0.jsonl" "$T/s1.jsonl" | jq -r .id | sort | tr '\n' ' ')" \
	"$(jq -r .id "$T/all.jsonl" | sort | tr '\n' ' ')" "two shards together give every trace"
is "$(jq -r .id "$T/s0.jsonl" "$T/s1.jsonl" | sort | uniq -d | wc -l | tr -d ' ')" "0" \
	"and no trace twice"
# Repeated ids: a different trace under the same id gets ":<8 hex>" of its
# content, the very same trace again also ":2", ":3".
cat shapes.jsonl shapes.jsonl shapes.jsonl >"$T/rep.jsonl"
run infty-segment -q -o "$T/rep.out" "$T/rep.jsonl"
is "$(jq -r .id "$T/rep.out" | sort | uniq -d | wc -l | tr -d ' ')" "0" "repeated rows get unique ids"
like "$(jq -r .id "$T/rep.out" | tr '\n' ' ')" "corpus/0001 .*corpus/0001:[0-9a-f]{8} .*corpus/0001:[0-9a-f]{8}:2 " \
	"as id, id:<content hash>, id:<content hash>:2"
for j in 1 2; do
	infty-segment -q -j $j --eta 48 -o "$T/j$j.jsonl" "$T/mix.jsonl" 2>/dev/null
done
same_file "$T/j1.jsonl" "$T/j2.jsonl" "1 and 2 threads: identical output"
if [ -f "$SHARED/data/openr1_math_messages_sample.jsonl" ]; then
	for j in 1 2; do
		infty-segment -q -j $j --eta 1024 -o "$T/r$j.jsonl" \
			"$SHARED/data/openr1_math_messages_sample.jsonl" 2>/dev/null
	done
	same_file "$T/r1.jsonl" "$T/r2.jsonl" "1 and 2 threads on the OpenR1 sample: identical"
else
	skip "no ../shared/data: 1-vs-2 threads on the OpenR1 sample"
fi

# --- streams -----------------------------------------------------------------------
run infty-segment -q -o "$T/z.jsonl.zst" shapes.jsonl
zstd -dc "$T/z.jsonl.zst" >"$T/z.jsonl" 2>/dev/null
golden "$T/z.jsonl" "$E/shapes.jsonl" ".zst output decompresses to the same records"
run infty-segment -q -o "$T/stdin.jsonl" - <shapes.jsonl
is "$(jq -r .id "$T/stdin.jsonl" | tr '\n' ' ')" "$(jq -r .id "$E/shapes.jsonl" | tr '\n' ' ')" \
	"- reads stdin"
sed 's/$/\r/' shapes.jsonl >"$T/crlf.jsonl"
run infty-segment -q -o "$T/crlf.out" "$T/crlf.jsonl"
is "$(jq -c '.segments' "$T/crlf.out" | md5sum)" "$(jq -c '.segments' "$E/shapes.jsonl" | md5sum)" \
	"CRLF input gives the same segments"
: >"$T/empty.jsonl"
run infty-segment -q -o "$T/empty.out" "$T/empty.jsonl"
is "$RC:$(wc -c <"$T/empty.out" | tr -d ' ')" "0:0" "empty input: exit 0, empty output"
run infty-segment -q -o /dev/full shapes.jsonl
is_rc 3 "a write failure stops: exit 3"
zstd -q -c shapes.jsonl | head -c 300 >"$T/cut.jsonl.zst"
run infty-segment -q -o "$T/cut.out" "$T/cut.jsonl.zst"
is_rc 3 "a truncated .zst input stops: exit 3"
