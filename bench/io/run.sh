#!/bin/bash
# bench/io/run.sh BENCH_IO_BINARY [CORPUS]
# Side by side, in one run, interleaved, median of $REPEAT (default 5):
#  (a) our reader (decompress + parse every line)  vs  zstd -dc FILE > /dev/null
#  (b) our reader + writer (parse, serialize, zstd -3) vs zstd -dc FILE | zstd -3 > /dev/null
# Prints a Markdown table; ratios > 1 mean faster than the anchor's speed share.
# Then parse alone, from memory: the one-pass parser against the json-c based
# reference it replaced (bench_io parse, $REPEAT interleaved rounds, median).
set -euo pipefail
bin=$1
corpus=${2:-${INFTY_SHARED:-$(dirname "$0")/../../../shared}/data/corpus/reasoning_traces.jsonl.zst}
REPEAT=${REPEAT:-5}
if [ ! -f "$corpus" ]; then
	echo "bench-io: SKIP: corpus not found at $corpus (../shared/data absent)"
	exit 0
fi
t() { # seconds taken by the command line in $1
	local s e
	s=$(date +%s.%N)
	bash -c "$1" >/dev/null
	e=$(date +%s.%N)
	awk -v a="$s" -v b="$e" 'BEGIN {printf "%.4f\n", b - a}' 
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
cmds=(
	"ours_read|$bin read '$corpus'"
	"zstd_d|zstd -dc '$corpus' > /dev/null"
	"ours_copy|$bin copy '$corpus' /dev/null"
	"zstd_pipe|zstd -dc '$corpus' | zstd -3 > /dev/null"
)
zstd -dc "$corpus" > /dev/null # warm the page cache
for ((i = 0; i < REPEAT; i++)); do
	for c in "${cmds[@]}"; do
		name=${c%%|*}
		times[$name]+="$(t "${c#*|}") "
	done
done
m() { echo "${times[$1]}" | tr ' ' '\n' | grep . | median; }
a_ours=$(m ours_read) a_zstd=$(m zstd_d) b_ours=$(m ours_copy) b_zstd=$(m zstd_pipe)
mb=$(zstd -dc "$corpus" | wc -c)
printf '| case | ours (s) | anchor (s) | anchor | speed ratio ours/anchor | goal |\n'
printf '|---|---:|---:|---|---:|---:|\n'
printf '| (a) read + parse every line | %.3f | %.3f | `zstd -dc > /dev/null` | **%.2fx** | >= 0.5x |\n' \
	"$a_ours" "$a_zstd" "$(awk -v a="$a_zstd" -v b="$a_ours" 'BEGIN {print a / b}')"
printf '| (b) parse + serialize + zstd -3 | %.3f | %.3f | `zstd -dc \\| zstd -3 > /dev/null` | **%.2fx** | >= 0.8x |\n' \
	"$b_ours" "$b_zstd" "$(awk -v a="$b_zstd" -v b="$b_ours" 'BEGIN {print a / b}')"
printf '\n%s MB uncompressed, median of %d interleaved runs, %s, %s\n' \
	"$((mb / 1000000))" "$REPEAT" "$(date -u +%Y-%m-%d)" "$(nproc) cores"
printf '\n'
"$bin" parse "$corpus" "$REPEAT"
