#!/bin/sh
# run.sh - bench-tokenizer driver: the same real traces through infty
# (bench_tok), Hugging Face tokenizers and tiktoken (bench.mjs), then a
# side-by-side table.  The references run on one thread (HF's parallelism
# off); infty on 1 and THREADS threads.
# usage: run.sh BENCH_TOK TOKENIZER.json CORPUS.jsonl.zst STRIDE THREADS
set -eu
bench=$1 json=$2 corpus=$3 stride=$4 threads=$5
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$here/../../tests/node
if [ ! -f "$corpus" ]; then
	echo "bench-tokenizer: SKIP: $corpus not found"
	exit 0
fi
[ -d "$node_dir/node_modules/@anush008" ] || (cd "$node_dir" && npm ci --silent --no-audit --no-fund)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/infty-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Every STRIDE-th trace: a deterministic sample spread over the corpus.
zstd -dcf -- "$corpus" | awk -v s="$stride" 'NR % s == 1' >"$tmp/sample.jsonl"
echo "bench-tokenizer: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sample: every ${stride}th trace of $corpus: $(wc -l <"$tmp/sample.jsonl" | tr -d ' ') traces, $(wc -c <"$tmp/sample.jsonl" | tr -d ' ') bytes of JSONL"
"$bench" "$json" "$tmp/sample.jsonl" trace 1 "$threads" >"$tmp/infty.json"
TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 node "$here/bench.mjs" hf "$json" "$tmp/sample.jsonl" trace >"$tmp/hf.json"
node "$here/bench.mjs" tiktoken "$json" "$tmp/sample.jsonl" trace >"$tmp/tiktoken.json"
cat "$tmp/infty.json" "$tmp/hf.json" "$tmp/tiktoken.json"
python3 - "$tmp" "$threads" <<'PY'
import json, sys
d, th = sys.argv[1], sys.argv[2]
r = {k: json.load(open(f"{d}/{k}.json")) for k in ("infty", "hf", "tiktoken")}
i = r["infty"]
rows = [
    ("HF tokenizers (Node, batch, 1 thread)", r["hf"], r["hf"]["encode_1t_s"]),
    ("tiktoken (npm WASM, Qwen vocab)", r["tiktoken"], r["tiktoken"]["encode_1t_s"]),
    ("infty encode, 1 thread", i, i["encode_1t_s"]),
    ("infty count-only, 1 thread", i, i["count_1t_s"]),
    (f"infty encode, {th} threads", i, i[f"encode_{th}t_s"]),
    (f"infty count-only, {th} threads", i, i[f"count_{th}t_s"]),
]
print(f"{'implementation':40} {'MB/s':>8} {'Mtok/s':>8} {'load s':>7} {'RSS MB':>7}")
for name, x, t in rows:
    print(f"{name:40} {x['bytes']/t/1e6:8.2f} {x['tokens']/t/1e6:8.2f} {x['load_s']:7.3f} {x['peak_rss_mb']:7.1f}")
e1 = i["encode_1t_s"]
print(f"infty 1 thread vs HF: {r['hf']['encode_1t_s']/e1:.1f}x; vs tiktoken: {r['tiktoken']['encode_1t_s']/e1:.1f}x; "
      f"{th} threads vs 1: {e1/i[f'encode_{th}t_s']:.2f}x encode, {i['count_1t_s']/i[f'count_{th}t_s']:.2f}x count (wall)")
# On a shared machine the N-thread run may not get N cores; CPU time shows
# whether the threads added work (overhead) or just waited for a core.
c1, cn = i["cpu_encode_1t_s"], i[f"cpu_encode_{th}t_s"]
print(f"CPU time, encode: 1 thread {c1:.3f} s, {th} threads {cn:.3f} s in total "
      f"({cn/c1:.2f}x the work; cores actually used by the {th}-thread run: {cn/i[f'encode_{th}t_s']:.2f}); "
      f"cold first pass: 1 thread {i['encode_1t_cold_s']:.3f} s")
print(f"control: a perfectly parallel loop gains {i[f'control_{th}t_ratio']:.2f}x with {th} threads on this machine right now")
same = i["tokens"] == r["hf"]["tokens"]
print(f"token totals: infty {i['tokens']}, HF {r['hf']['tokens']}, tiktoken {r['tiktoken']['tokens']}"
      + ("" if same else "  MISMATCH with HF"))
sys.exit(0 if same else 1)
PY
