#!/bin/sh
# make run: the whole pipeline on the bundled sample (data/sample.jsonl) with
# the offline extractive summarizer, then what was produced and where, and
# the command that reruns it against a real endpoint.  Called by the
# Makefile after the tools and the tokenizer are built; INFTY_BUILD (exported
# by the Makefile) says where the tools are.
set -eu
cd "$(dirname "$0")/.."
build=${INFTY_BUILD:-$PWD/build}
out=$build/run
# ETA is small because the sample traces are short: most give n >= 2.
eta=${ETA:-96}
echo "infty: converting data/sample.jsonl (8 rows) into $out, ETA=$eta, extractive summaries"
convert() {
	make -s --no-print-directory -f mk/pipeline.mk convert IN=data/sample.jsonl OUT="$out" \
		SHARDS=2 ETA="$eta" FORMAT=paper MAX_TOKENS= ENDPOINT= MODEL= SEGMENT_OPTS= \
		SUMMARIZE_OPTS= BUILD_OPTS= PROMPT_DIR= INFTY_BIN="$build/bin" -j2
}
# build/run is our own scratch: if an earlier run there cannot be resumed
# (another checkout, another shard count), start it again from scratch.
if ! convert; then
	echo "infty: starting $out again from scratch"
	rm -rf "$out"
	convert
fi
echo "infty: look inside:  $build/bin/infty-inspect head $out/train.jsonl.zst"
echo "infty:               make status OUT=$out"
echo "infty: the same with a real summarizer (an OpenAI-compatible server, e.g. vLLM):"
echo "  make convert IN=data/sample.jsonl OUT=build/run-llm SHARDS=2 ETA=$eta \\"
echo "       ENDPOINT=http://127.0.0.1:8000/v1 MODEL=Qwen/Qwen3-4B-Instruct-2507"
