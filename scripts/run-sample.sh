#!/bin/sh
# make run: the whole pipeline on 10 real OpenR1-Math-220k rows
# (data/openr1_math_messages_sample.jsonl, Apache-2.0: data/SOURCES.md) at
# ETA=4096 with the offline extractive summarizer, ending with the dataset
# directory (training file, card, LLaMA-Factory entry); then what was
# produced and where, and the command that reruns it against a real
# endpoint.  Called by the Makefile after the tools and the tokenizer are
# built; INFTY_BUILD (exported by the Makefile) says where the tools are.
set -eu
cd "$(dirname "$0")/.."
build=${INFTY_BUILD:-$PWD/build}
out=$build/run
in=data/openr1_math_messages_sample.jsonl
# The paper's eta.  4 of the 10 traces are longer than that (n = 2, 3, 3,
# 5), so summaries are made and carried; the other 6 give one instance each.
eta=${ETA:-4096}
# The card names the source and its license (the rows carry neither).
DATASET_OPTS='--source open-r1/OpenR1-Math-220k --license apache-2.0'
export DATASET_OPTS
echo "infty: converting $in (10 real OpenR1-Math-220k rows) into $out, ETA=$eta, extractive summaries"
convert() {
	make -s --no-print-directory -f mk/pipeline.mk convert IN="$in" OUT="$out" \
		SHARDS=2 ETA="$eta" FORMAT=paper MAX_TOKENS= ENDPOINT= MODEL= SEGMENT_OPTS= \
		SUMMARIZE_OPTS= BUILD_OPTS= PROMPT_DIR= INFTY_BIN="$build/bin" -j2
}
# build/run is our own scratch: if an earlier run there cannot be resumed
# (another checkout, another input or shard count), start it again from scratch.
if ! convert; then
	echo "infty: starting $out again from scratch"
	rm -rf "$out"
	convert
fi
# A run merged before the merge step wrote OUT/dataset has none yet.
# shellcheck disable=SC2086 # DATASET_OPTS holds options
[ -f "$out/dataset/README.md" ] || "$build/bin/infty-inspect" dataset $DATASET_OPTS "$out" >/dev/null
# A trace with summaries, to look at (its second instance carries one).
id=$(zstd -dc "$out/train.jsonl.zst" | sed -n 's/.*"meta":{"id":"\([^"]*\)","iteration":2,.*/\1/p' | head -n 1)
sed -n 's/^| \([0-9][0-9]*\) | \([0-9]*\) | \([0-9]*\) |$/infty:   n = \1: \2 traces, \3 instances/p' "$out/dataset/README.md"
echo "infty: look inside:   $build/bin/infty-inspect show $id $out/summarize/out/*.zst"
echo "infty:                $build/bin/infty-inspect head -n 1 $out/train.jsonl.zst"
echo "infty:                make status OUT=$out"
echo "infty: what a real summarizer would be asked, before asking: make estimate IN=$in ETA=$eta"
echo "infty: the same with a real summarizer (an OpenAI-compatible server, e.g. vLLM):"
echo "  make convert IN=$in OUT=build/run-llm SHARDS=2 ETA=$eta \\"
echo "       ENDPOINT=http://127.0.0.1:8000/v1 MODEL=Qwen/Qwen3-4B-Instruct-2507"
