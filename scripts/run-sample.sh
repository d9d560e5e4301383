#!/bin/sh
# make run: the whole pipeline on 10 real OpenR1-Math-220k rows
# (data/openr1_math_messages_sample.jsonl, Apache-2.0: data/SOURCES.md) at
# ETA=4096 with the offline extractive summarizer, then what was produced
# and where, and the command that reruns it against a real endpoint.  Called by the
# Makefile after the tools and the tokenizer are built; INFTY_BUILD (exported
# by the Makefile) says where the tools are.
set -eu
cd "$(dirname "$0")/.."
build=${INFTY_BUILD:-$PWD/build}
out=$build/run
in=data/openr1_math_messages_sample.jsonl
# The paper's eta.  4 of the 10 traces are longer than that (n = 2, 3, 3,
# 5), so summaries are made and carried; the other 6 give one instance each.
eta=${ETA:-4096}
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
echo "infty: look inside:  $build/bin/infty-inspect head $out/train.jsonl.zst"
echo "infty:               make status OUT=$out"
echo "infty: the same with a real summarizer (an OpenAI-compatible server, e.g. vLLM):"
echo "  make convert IN=$in OUT=build/run-llm SHARDS=2 ETA=$eta \\"
echo "       ENDPOINT=http://127.0.0.1:8000/v1 MODEL=Qwen/Qwen3-4B-Instruct-2507"
