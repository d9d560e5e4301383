#!/bin/sh
# parity.sh - full-corpus parity: ids from infty-tok and from Hugging Face
# tokenizers (Node binding) for every record's FIELD, compared line by line.
# usage: parity.sh INFTY_TOK TOKENIZER.json CORPUS.jsonl.zst [FIELD...]
# Exit 0 when every id sequence is identical, 1 otherwise (the first
# differing records are listed).
set -eu
tok=$1 json=$2 corpus=$3
shift 3
[ $# -gt 0 ] || set -- trace problem
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$here/node_modules/@anush008" ] || (cd "$here" && npm ci --silent --no-audit --no-fund)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/infty-parity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
zstd -dcf -- "$corpus" >"$tmp/corpus.jsonl"
status=0
for field in "$@"; do
	# Only records where the field is a string (problem is null in some).
	python3 -c 'import json,sys
f=sys.argv[1]
for l in sys.stdin:
    if isinstance(json.loads(l).get(f), str): sys.stdout.write(l)' "$field" \
		<"$tmp/corpus.jsonl" >"$tmp/field.jsonl"
	"$tok" --tokenizer "$json" ids --timing --field "$field" "$tmp/field.jsonl" >"$tmp/ours.txt"
	node "$here/hf-ids.mjs" "$json" "$field" <"$tmp/field.jsonl" >"$tmp/hf.txt"
	n=$(wc -l <"$tmp/hf.txt" | tr -d ' ')
	if cmp -s "$tmp/ours.txt" "$tmp/hf.txt"; then
		echo "parity: $field: $n records, all id sequences identical to HF tokenizers"
	else
		bad=$(paste -d'|' "$tmp/ours.txt" "$tmp/hf.txt" | awk -F'|' '$1 != $2' | wc -l | tr -d ' ')
		echo "parity: $field: $bad of $n records differ from HF tokenizers; first ones (line numbers):"
		paste -d'|' "$tmp/ours.txt" "$tmp/hf.txt" | awk -F'|' '$1 != $2 {print NR}' | head -10
		status=1
	fi
done
exit $status
