#!/bin/sh
# infty-inspect dataset and the pipeline's OUT/dataset: every build format
# loaded the way the hub's datasets, TRL and LLaMA-Factory load it
# (tests/consumers/check_dataset.py, standard library only), the card's
# features exactly those of the file, LLaMA-Factory entries against
# goldens, license only as declared, and the failure paths (nothing
# published, an older dataset kept).
. "$(dirname "$0")/lib.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 54

CHECK=$ROOT/tests/consumers/check_dataset.py
G=$FIXTURES/dataset
printf '.SECONDARY:\n.SECONDEXPANSION:\ninclude %s/mk/pipeline.mk\n' "$ROOT" >"$T/wrap.mk"
MK="make -s --no-print-directory -f $T/wrap.mk INFTY_BIN=$BUILD/bin"
convert() { # convert OUT IN [VAR=VALUE...]
	_o=$1 _i=$2
	shift 2
	run $MK convert IN="$_i" OUT="$_o" SHARDS=2 ETA=96 "$@"
}
have_python() { command -v python3 >/dev/null 2>&1; }
consumers() { # consumers DIR FORMAT DESC
	if have_python; then
		run python3 "$CHECK" "$1" "$2"
		is_rc 0 "$3"
		[ "$RC" -eq 0 ] || diag "$OUT"
	else
		skip "python3 not found"
	fi
}

A=$T/a
for fmt in paper trl trl-chat messages hf; do
	convert "$A" "$FIXTURES/sample.jsonl" FORMAT=$fmt
	is_rc 0 "make convert FORMAT=$fmt"
	consumers "$A/dataset" $fmt "$fmt: datasets, TRL and LLaMA-Factory read it as their docs say"
	if [ $fmt = trl-chat ]; then
		[ ! -e "$A/dataset/dataset_info.json" ]; ok $? "trl-chat: no LLaMA-Factory entry (it has no such layout)"
	else
		same_file "$A/dataset/dataset_info.json" "$G/dataset_info-$fmt.json" "$fmt: LLaMA-Factory entry"
	fi
	zstd -dc "$A/train.jsonl.zst" >"$T/train.jsonl"
	same_file "$A/dataset/data/train.jsonl" "$T/train.jsonl" "$fmt: data/train.jsonl is train.jsonl.zst, uncompressed"
done
# The card declares what is in the file, no more: hf has no meta by default.
card=$(cat "$A/dataset/README.md")
like "$card" '^---
license: unknown
' "a source nobody named has license unknown"
like "$card" "The rows have the shape of open-r1/OpenR1-Math-220k" "the card hints at the shape, claims nothing"
unlike "$(sed -n '/^---$/,/^---$/p' "$A/dataset/README.md")" "name: meta" "hf: no meta feature"
like "$card" "\| segment \| \`no_think_close\` \| 1 \|" "rejects by reason"
like "$card" "\| 3 \| 2 \| 6 \|" "instances per trace: 2 traces of 3"
like "$card" "hf upload <user>/<name> \. --repo-type dataset" "the upload command"
like "$card" 'Tokenizer: `sha256:[0-9a-f]{64}`' "the tokenizer's sha256"
like "$card" 'model `infty-extractive`, mode `cumulative`, prompts `sha256:[0-9a-f]{64}`' "the model and the prompt hash"
like "$card" 'segment   --eta 96' "every parameter"
unlike "$card" "$ROOT" "no local directory in the card"

# The source and license as declared (DATASET_OPTS reaches the merge step).
B=$T/b
convert "$B" "$ROOT/data/openr1_math_messages_sample.jsonl" ETA=4096 FORMAT=trl-chat \
	DATASET_OPTS='--source open-r1/OpenR1-Math-220k --repo me/inftythink-sample'
is_rc 0 "the 10 real OpenR1 rows at ETA=4096"
consumers "$B/dataset" trl-chat "real rows, trl-chat: read as TRL reads it"
card=$(cat "$B/dataset/README.md")
like "$card" '^---
license: apache-2.0
' "OpenR1-Math-220k's license is carried"
like "$card" 'The rows come from `open-r1/OpenR1-Math-220k`. License: `apache-2.0`, carried from the source.' "and said where it comes from"
like "$card" 'load_dataset\("me/inftythink-sample", split="train"\)' "--repo names the repository"
like "$card" '\| 5 \| 1 \| 5 \|' "a real trace of 5 segments: summaries are made and carried"
is "$(zstd -dc "$B/train.jsonl.zst" | grep -c '"content":"[^"]*\\n\\n<history>\\n\* ')" 9 "9 instances start from a summary (19 less the 10 first ones)"

# The command alone: usage, unfinished runs, inconsistent files, rewrites.
run infty-inspect dataset
is_rc 2 "no run directory: usage error"
run infty-inspect dataset --license 'MIT License' "$A"
is_rc 2 "a license id with a space is refused"
run infty-inspect dataset --help
like "$OUT" "infty-inspect dataset \[--source NAME\] \[--license ID\] \[--repo ID\] OUT" "--help: the tool's, with the dataset form"
run infty-inspect dataset "$T/nothing"
is_rc 2 "not a run: exit 2"
cp -r "$A" "$T/c"
rm "$T/c/train.jsonl.zst"
run infty-inspect dataset "$T/c"
is_rc 2 "a run not merged: exit 2"
like "$ERR" "cannot read the training file" "and says so"
cp "$A/train.jsonl.zst" "$T/c/train.jsonl.zst"
cp "$T/c/dataset/README.md" "$T/card.before"
{ zstd -dc "$A/train.jsonl.zst"; zstd -dc "$A/train.jsonl.zst" | head -1 | sed 's/"reasoning_index":0/"reasoning_index":"0"/'; } |
	zstd -q -c >"$T/c/train.jsonl.zst"
run infty-inspect dataset "$T/c"
is_rc 3 "a record of another shape: exit 3"
like "$ERR" "train.jsonl.zst:20: field 'reasoning_index' is string, earlier records have int64" "naming the line and the field"
same_file "$T/c/dataset/README.md" "$T/card.before" "the older dataset stays as it was"
[ ! -e "$T/c/.dataset.tmp" ]; ok $? "and no temporary directory is left"
zstd -dc "$A/train.jsonl.zst" | sed 's/,"messages":\[[^]]*\]//' | zstd -q -c >"$T/c/train.jsonl.zst"
run infty-inspect dataset "$T/c"
is_rc 3 "a file without the columns of its build format: exit 3"
printf '' | zstd -q -c >"$T/c/train.jsonl.zst"
run infty-inspect dataset "$T/c"
is_rc 0 "no instance at all: exit 0"
[ ! -e "$T/c/dataset" ]; ok $? "and no dataset (an older one is removed)"
cp "$A/train.jsonl.zst" "$T/c/train.jsonl.zst"
run infty-inspect dataset --license cc-by-4.0 "$T/c"
is_rc 0 "a rewrite succeeds"
like "$OUT" "dataset: 19 instances \(hf\), card " "and says where"
like "$OUT" "publish: hf upload <user>/<name> $T/c/dataset --repo-type dataset" "and how to publish it"
like "$(head -2 "$T/c/dataset/README.md")" "license: cc-by-4.0" "--license is taken as given"
