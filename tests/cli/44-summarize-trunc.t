#!/bin/sh
# infty-summarize's truncation check on real traces: an honest server whose
# tokenizer is Qwen3's, Llama-3's, DeepSeek-V3's, Gemma-3's or Llama-2's
# (Mistral-style) reports its own count (the fake counts with that
# tokenizer.json) and no answer may be flagged; a server that cuts the prompt
# to 2,048 or 4,096 tokens (Ollama's num_ctx) must be caught, by the margin
# alone and exactly when the server can count the prompt (/tokenize).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
have_shared_data || skip_all "../shared/data not found (the test needs real traces)"
QWEN=${INFTY_TOKENIZER_DEFAULT:-$HOME/.cache/infty/tokenizers/qwen3-3.7.2/tokenizer.json}
[ -f "$QWEN" ] || skip_all "no default tokenizer (make tokenizer)"
[ -f "$ROOT/tests/node/node_modules/.package-lock.json" ] || skip_all "tests/node modules not installed (make node-deps)"
CACHE=$(dirname "$(dirname "$QWEN")")
plan 14

# Real traces cut at 1,024 tokens: the OpenR1 sample and the first corpus
# rows of 2 to 6 segments (40 traces, prompts of 1k to 17k tokens).
infty-segment -q -e 1024 -t "$QWEN" -o "$T/s1.jsonl" "$SHARED/data/openr1_math_messages_sample.jsonl" 2>/dev/null
zstd -dc "$SHARED/data/corpus/reasoning_traces.jsonl.zst" | head -400 >"$T/c.jsonl"
infty-segment -q -e 1024 -t "$QWEN" -o "$T/s2.jsonl" "$T/c.jsonl" 2>/dev/null
python3 - "$T/s1.jsonl" "$T/s2.jsonl" "$T/in.jsonl" <<'PY'
import json, sys
out = [r for r in map(json.loads, open(sys.argv[1])) if r["n"] <= 17]
for l in open(sys.argv[2]):
    r = json.loads(l)
    if 2 <= r["n"] <= 6 and len(out) < 40:
        out.append(r)
with open(sys.argv[3], "w") as f:
    for r in out:
        f.write(json.dumps(r) + "\n")
PY
is "$(count_lines "$T/in.jsonl")" "40" "40 real traces"
S="$SUM --tokenizer $QWEN --max-inflight 32"

# honest servers: nothing flagged, whatever their tokenizer
for tk in qwen3 llama3 deepseek_v3 gemma3 llama2; do
	f=$CACHE/$tk-3.7.2/tokenizer.json
	if [ ! -f "$f" ]; then skip "$tk tokenizer not fetched (make tokenizer-${tk%_v3})"; continue; fi
	fake_start --count-tokenizer "$f"
	run $S --endpoint "$EP" --server-count off --stats "$T/h.json" -o "$T/h.jsonl" "$T/in.jsonl"
	is "$RC $(jq_py "$T/h.json" "O['reasons'].get('prompt_truncated', 0)")" "0 0" \
		"honest $tk server: exit 0, no answer flagged ($(fstat chat) answers)"
done

# Ollama-style cut by the margin alone: every answer whose prompt is clearly
# above cut / margin is caught, none at or under the cut.
margin=$(infty-summarize --help | sed -n 's/.*truncated (default \([0-9.]*\)).*/\1/p')
for cut in 2048 4096; do
	fake_start --count-tokenizer "$QWEN" --truncate-to $cut
	run $S --endpoint "$EP" --server-count off --stats "$T/o.json" -o "$T/o.jsonl" "$T/in.jsonl"
	flagged=$(jq_py "$T/o.json" "O['reasons'].get('prompt_truncated', 0)")
	curl -s "http://127.0.0.1:$PORT/_stats" >"$T/fs.json"
	res=$(python3 - "$T/fs.json" "$cut" "$margin" "$flagged" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
cut, m, flagged = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
# our bound is the Qwen count less the digit discount (d)
cut_n = sum(1 for n, r, d in c if r < n)
clear = sum(1 for n, r, d in c if r < n and m * (n - d) > cut * 1.01)
maybe = sum(1 for n, r, d in c if r < n and m * (n - d) > cut * 0.99)
print("ok" if clear <= flagged <= maybe and clear > 0 else "bad", cut_n, clear, flagged)
PY
)
	like "$res" "^ok" "cut to $cut, margin $margin: caught every clear case (cut, clear, flagged: ${res#* })"
done

# With /tokenize the check is exact: every cut answer caught, nothing else,
# here with a Llama-3 server (its counts run below Qwen's, so a margin alone
# cannot tell a cut of a few percent).
LL=$CACHE/llama3-3.7.2/tokenizer.json
if [ -f "$LL" ]; then
	for api in vllm llamacpp; do
		fake_start --count-tokenizer "$LL" --truncate-to 4096 --tokenize $api
		run $S --endpoint "$EP" --server-count tokenize --stats "$T/v.json" -o "$T/v.jsonl" "$T/in.jsonl"
		curl -s "http://127.0.0.1:$PORT/_stats" >"$T/fs.json"
		flagged=$(jq_py "$T/v.json" "O['reasons'].get('prompt_truncated', 0)")
		cutn=$(python3 -c "import json; c=json.load(open('$T/fs.json'))['counts']; print(sum(1 for n, r, d in c if r < n))")
		near=$(python3 -c "import json; c=json.load(open('$T/fs.json'))['counts']; print(sum(1 for n, r, d in c if r < n and n <= r * 1.01 + 4))")
		# vLLM's count includes the template: exact.  llama.cpp's is of the
		# contents, so a cut within its seam slack may pass.
		if [ $api = vllm ]; then
			want=$cutn; [ "$flagged" -eq "$cutn" ]; ok=$?
		else
			want="$((cutn - near))..$cutn"
			[ "$flagged" -ge $((cutn - near)) ] && [ "$flagged" -le "$cutn" ]; ok=$?
		fi
		ok $ok "/tokenize ($api shape): $flagged flagged of $cutn cut answers (want $want)"
		is "$(jq_py "$T/v.json" "(O['truncation_check']['server_count'], O['requests']['server_counts'] > 0)")" \
			"('$([ $api = vllm ] && echo messages || echo content)', True)" "/tokenize ($api shape) was used"
	done
	# no /tokenize: --server-count tokenize is a configuration error
	fake_start
	run $S --endpoint "$EP" --server-count tokenize -o "$T/x.jsonl" "$T/in.jsonl"
	is_rc 2 "--server-count tokenize without /tokenize: exit 2"
else
	skip "llama3 tokenizer not fetched"; skip "llama3"; skip "llama3"; skip "llama3"; skip "llama3"
fi
# the default tokenizer is loaded when --tokenizer is not given
fake_start
run infty-summarize --model fake-model --prompt-dir "$ROOT/prompts" -q --endpoint "$EP" --stats "$T/d.json" \
	-o "$T/d.jsonl" "$T/in.jsonl"
is "$RC $(jq_py "$T/d.json" "O['truncation_check']['tokenizer'] is not None")" "0 True" "the default tokenizer is used without --tokenizer"
fake_stop
