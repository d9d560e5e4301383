#!/bin/sh
# The error paths of every tool, golden: the exact message (one line, the
# program first, file[:line] next) and the exact exit status (infty(7):
# 2 usage or configuration, nothing written; 3 stopped, nothing
# published) for a missing input, a directory, a truncated .zst, an output
# on a full disk, an unknown flag, a bad number, another stage's records
# and a binary file.
. "$(dirname "$0")/lib.sh"
plan 52

mkdir "$T/w" && cd "$T/w" || exit 1
F=$FIXTURES
ROWS=$F/sample.jsonl
SEGS=$F/summarize/segments.jsonl
SUMS=$F/build/summarized.jsonl
head -n 3 "$SUMS" >good.jsonl # summarized records that all build
head -n 6 "$ROWS" >rows.jsonl # rows that all segment
printf '{"id":"x"}\n' | zstd -q -c | head -c 12 >cut.zst
head -c 400 "$BUILD/bin/infty-tok" >binary.dat
printf 'PAR1\025\004\025\000' >rows.parquet
mkdir adir

# golden STATUS MESSAGE CMD...: stderr is exactly MESSAGE, the exit
# status STATUS, and the scratch directory holds what it held before
# (nothing written, nothing published, no temporary left).
files() { find . | sort | tr '\n' ' '; }
golden() {
	_want_rc=$1 _want=$2
	shift 2
	_before=$(files)
	run "$@"
	is "$RC:$ERR
files: $(files)" "$_want_rc:$_want
files: $_before" "$*"
}
TRY="Try 'infty-%s --help' for more information."
try() { printf "$TRY" "$1"; }

# --- infty-shard (its output directory exists: the pipeline makes it)
mkdir out
golden 2 "infty-shard: nope.jsonl: cannot open: No such file or directory" \
	infty-shard -q -n 2 -o out nope.jsonl
golden 2 "infty-shard: adir: is a directory, not a JSON Lines file" infty-shard -q -n 2 -o out adir
golden 3 "infty-shard: cut.zst: truncated zstd stream (ends inside a frame)" infty-shard -q -n 2 -o out cut.zst
golden 3 "infty-shard: /dev/full: write error: No space left on device" \
	infty-shard -q -n 2 -o out -s /dev/full "$ROWS"
golden 2 "infty-shard: unknown option '--bogus'
$(try shard)" infty-shard --bogus
golden 2 "infty-shard: --shards: 99999999999999999999 is out of range [1, 4096]
$(try shard)" infty-shard -n 99999999999999999999 -o out
golden 2 "infty-shard: $SEGS:1: this is a segment record (infty-segment output); give it to infty-summarize" \
	infty-shard -q -n 2 -o out "$SEGS"
golden 2 "infty-shard: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
	infty-shard -q -n 2 -o out binary.dat
rmdir out

# --- infty-build
golden 2 "infty-build: nope.jsonl: cannot open: No such file or directory" infty-build -q -t none nope.jsonl
golden 2 "infty-build: adir: is a directory, not a JSON Lines file" infty-build -q -t none adir
golden 3 "infty-build: cut.zst: truncated zstd stream (ends inside a frame)" \
	infty-build -q -t none -o o.jsonl cut.zst
golden 3 "infty-build: /dev/full: write error: No space left on device" \
	infty-build -q -t none -o /dev/full -r r.jsonl good.jsonl
golden 2 "infty-build: unknown option '--bogus'
$(try build)" infty-build --bogus
golden 2 "infty-build: --max-tokens: 'x' is not a whole number
$(try build)" infty-build -m x "$SUMS"
golden 2 "infty-build: $ROWS:1: this is a dataset row; run infty-segment first" \
	infty-build -q -t none -o o.jsonl "$ROWS"
golden 2 "infty-build: $SEGS:1: this is a segment record; run infty-summarize first" \
	infty-build -q -t none -o o.jsonl "$SEGS"
golden 2 "infty-build: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
	infty-build -q -t none binary.dat
golden 2 'infty-build: rows.parquet: a parquet file, not JSON Lines: export it first (README, "Quick start")' \
	infty-build -q -t none rows.parquet

# --- infty-segment (it loads its tokenizer before it looks at the input)
if [ -f "$INFTY_TOKENIZER_DEFAULT" ]; then
	SEG="infty-segment -q -t $INFTY_TOKENIZER_DEFAULT"
	golden 2 "infty-segment: nope.jsonl: cannot open: No such file or directory" $SEG nope.jsonl
	golden 2 "infty-segment: adir: is a directory, not a JSON Lines file" $SEG adir
	golden 3 "infty-segment: cut.zst: truncated zstd stream (ends inside a frame)" $SEG -o o.jsonl cut.zst
	golden 3 "infty-segment: /dev/full: write error: No space left on device" \
		$SEG -o /dev/full -r r.jsonl rows.jsonl
	golden 2 "infty-segment: unknown option '--bogus'
$(try segment)" infty-segment --bogus
	golden 2 "infty-segment: --eta: 99999999999999999999 is out of range [1, 1073741824]
$(try segment)" infty-segment --eta 99999999999999999999 "$ROWS"
	golden 2 "infty-segment: $SEGS:1: this is a segment record (infty-segment output); give it to infty-summarize" \
		$SEG -o o.jsonl "$SEGS"
	golden 2 "infty-segment: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
		$SEG binary.dat
else
	for i in 1 2 3 4 5 6 7 8; do skip "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"; done
fi

# --- infty-inspect (it reads every kind of record: a file of no kind a
# stage reads is a problem validate reports, exit 1)
golden 2 "infty-inspect: nope.jsonl: cannot open: No such file or directory" infty-inspect validate nope.jsonl
golden 2 "infty-inspect: adir: is a directory, not a JSON Lines file" infty-inspect head adir
golden 3 "infty-inspect: cut.zst: truncated zstd stream (ends inside a frame)" infty-inspect head cut.zst
sh -c 'infty-inspect head good.jsonl >/dev/full' 2>"$T/full.err"
is "$?:$(cat "$T/full.err")" "3:infty-inspect: stdout: write error" "infty-inspect head >/dev/full"
golden 2 "infty-inspect: unknown option '--bogus'
$(try inspect)" infty-inspect head --bogus
golden 2 "infty-inspect: -n: 'x' is not a whole number
$(try inspect)" infty-inspect head -n x good.jsonl
printf '{"foo":1}\n' >foo.jsonl
golden 1 "infty-inspect: foo.jsonl:1: not a record of any infty stage: no field a stage reads (messages, generations, trace, ..., segments, input/target, stage/reason)" \
	infty-inspect validate foo.jsonl
rm foo.jsonl
golden 2 "infty-inspect: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
	infty-inspect validate binary.dat

# --- infty-tok (its files are any JSON Lines: --field NAME of each record)
if [ -f "$INFTY_TOKENIZER_DEFAULT" ]; then
	TOK="infty-tok -t $INFTY_TOKENIZER_DEFAULT"
	golden 2 "infty-tok: nope.jsonl: cannot open: No such file or directory" $TOK count --field x nope.jsonl
	golden 2 "infty-tok: adir: is a directory, not a JSON Lines file" $TOK count --field x adir
	golden 3 "infty-tok: cut.zst: truncated zstd stream (ends inside a frame)" $TOK count --field x cut.zst
	sh -c "$TOK count hello >/dev/full" 2>"$T/full.err"
	is "$?:$(cat "$T/full.err")" "3:infty-tok: stdout: write error" "infty-tok count >/dev/full"
	golden 2 "infty-tok: unknown option '--bogus'
$(try tok)" infty-tok --bogus count x
	golden 2 "infty-tok: --threads: 0 is out of range [1, 1024]
$(try tok)" infty-tok -j 0 count x
	golden 2 "infty-tok: nope.json: cannot load tokenizer: cannot open: No such file or directory" \
		infty-tok -t nope.json count x
	golden 2 "infty-tok: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
		$TOK count --field x binary.dat
else
	for i in 1 2 3 4 5 6 7 8; do skip "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"; done
fi

# --- infty-summarize (the offline extractive backend: no server needed)
golden 2 "infty-summarize: nope.jsonl: cannot open: No such file or directory" infty-summarize -q nope.jsonl
golden 2 "infty-summarize: adir: is a directory, not a JSON Lines file" infty-summarize -q adir
golden 3 "infty-summarize: cut.zst: truncated zstd stream (ends inside a frame)" \
	infty-summarize -q -o o.jsonl cut.zst
golden 3 "infty-summarize: /dev/full: write error: No space left on device" \
	infty-summarize -q -o /dev/full -r r.jsonl "$SEGS"
golden 2 "infty-summarize: unknown option '--bogus'
$(try summarize)" infty-summarize --bogus
golden 2 "infty-summarize: --max-inflight: 0 is out of range [1, 65536]
$(try summarize)" infty-summarize --max-inflight 0 "$SEGS"
golden 2 "infty-summarize: $ROWS:1: this is a dataset row; run infty-segment first" \
	infty-summarize -q -o o.jsonl "$ROWS"
golden 2 "infty-summarize: $SUMS:1: this record is summarized already; give it to infty-build" \
	infty-summarize -q -o o.jsonl "$SUMS"
golden 2 "infty-summarize: binary.dat: binary data, not JSON Lines (no line of its first 64 KiB is a JSON object)" \
	infty-summarize -q binary.dat

# On a terminal, the live progress line is cleared before any message: no
# "...eta 0s, 6 instances, 0 rejectsinfty-build: ..." (script(1) gives the
# tool a terminal).
if command -v script >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	INFTY_PROGRESS_INTERVAL=0 script -qec "infty-build -t none -o $T/tty.jsonl $SUMS" /dev/null >"$T/tty.out" 2>&1
	is "$(python3 -c '
import re, sys
t = open(sys.argv[1], "rb").read().decode()
msgs = [m.start() for m in re.finditer("infty-build: ", t)]
ok = all(t[i - 3:i] == "\x1b[K" or t[i - 1:i] in ("", "\n") for i in msgs)
print(len(msgs), "clean" if ok else "mixed: " + repr(t[:400]))' "$T/tty.out")" "2 clean" \
		"a terminal's progress line is cleared before each message"
else
	skip "script(1) or python3 not found"
fi
