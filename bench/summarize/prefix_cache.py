#!/usr/bin/env python3
"""prefix_cache.py - `make bench-prefix-cache`: how much of the prompt tokens
a server's prefix cache can serve, for infty-summarize's dispatch order.

A trace's cumulative summary requests share a growing prefix (question +
segments so far).  The fake endpoint models vLLM's automatic prefix cache
(tests/fake-prefix-cache.mjs: 16-token blocks, LRU, one token a byte) and
sums, over every request, the prompt tokens, the cached tokens it served,
and the ideal: every repeated block served from cache, whatever the order
and capacity.  We run the real traces of the shared corpus (segmented here
at ETA 2048, the traces with two segments or more) at 64 and 256 requests
in flight, with a server capacity of about 400k real tokens (an 80 GB GPU
and a 4B model) and a quarter of that, and report cached / ideal.
Beside it, in the same run, the same requests sent in one random global
order by a plain thread-pool client at the same concurrency: what a client
that does not keep a trace's requests together gets.
Goal (issue 13): >= 0.9 of the ideal."""
import argparse, concurrent.futures, json, os, random, subprocess, sys, tempfile, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "..", "shared", "data", "corpus", "reasoning_traces.jsonl.zst")
# Fake tokens are bytes; real text runs about 3.5 bytes a token.
CAPACITIES = {"400k tokens": 1_400_000, "100k tokens": 350_000}


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats") as r:
        return json.load(r)


def shuffled_client(port, inp, inflight, instruction):
    """Every request of every trace, in one random order, inflight at a time."""
    reqs = []
    with open(inp) as f:
        for line in f:
            r = json.loads(line)
            segs = [s["text"] for s in r["segments"]]
            for i in range(r["n"] - 1):
                reqs.append([{"role": "user", "content": r["question"]},
                             {"role": "assistant", "content": "\n\n".join(segs[:i + 1])},
                             {"role": "user", "content": instruction}])
    random.Random(1).shuffle(reqs)

    def post(messages):
        body = json.dumps({"model": "fake-model", "messages": messages, "max_tokens": 2048}).encode()
        q = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                   headers={"content-type": "application/json"})
        with urllib.request.urlopen(q) as r:
            r.read()

    with concurrent.futures.ThreadPoolExecutor(inflight) as ex:
        list(ex.map(post, reqs))


def start_fake(cap):
    p = subprocess.Popen(["node", os.path.join(ROOT, "tests/fake-endpoint.mjs"), "--latency", "150",
                          "--jitter", "150", "--prefix-cache", str(cap), "--lifetime", "900"],
                         stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory of the infty tools")
    ap.add_argument("--traces", type=int, default=800)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.exists(CORPUS):
        print(f"bench-prefix-cache: SKIP: no shared corpus at {CORPUS}")
        return 0
    tmp = tempfile.mkdtemp(prefix="infty-bench-pc.")
    seg = os.path.join(tmp, "seg.jsonl")
    subprocess.run([os.path.join(a.bin, "infty-segment"), "-q", "-e", "2048", "-o", seg, CORPUS],
                   check=False, stderr=subprocess.DEVNULL)
    inp = os.path.join(tmp, "multi.jsonl")
    n = reqs = 0
    with open(seg) as f, open(inp, "w") as g:
        for line in f:
            r = json.loads(line)
            if r["n"] >= 2 and n < a.traces:
                g.write(line)
                n += 1
                reqs += r["n"] - 1
    print(f"bench-prefix-cache: {n} real traces, {reqs} summary requests (ETA 2048)")
    with open(os.path.join(ROOT, "prompts", "cumulative.txt")) as f:
        instruction = f.read().rstrip("\n")
    rows = []
    ok = True
    for cap_name, cap in CAPACITIES.items():
        for inflight in (64, 256):
            for client in ("infty", "shuffled"):
                p, port = start_fake(cap)
                try:
                    if client == "infty":
                        subprocess.run([os.path.join(a.bin, "infty-summarize"), "-q", "--endpoint",
                                        f"http://127.0.0.1:{port}/v1", "--model", "fake-model",
                                        "--prompt-dir", os.path.join(ROOT, "prompts"), "--tokenizer",
                                        "none", "--max-inflight", str(inflight),
                                        "-o", os.path.join(tmp, "out.jsonl"), inp], check=True)
                    else:
                        shuffled_client(port, inp, inflight, instruction)
                    s = stats(port)
                finally:
                    p.terminate()
                    p.wait()
                ratio = s["cached_tokens"] / s["ideal_cached_tokens"] if s["ideal_cached_tokens"] else 0
                if client == "infty":
                    ok &= ratio >= 0.9
                rows.append({"client": client, "capacity": cap_name, "inflight": inflight,
                             "prompt_tokens": s["prompt_tokens"], "cached": s["cached_tokens"],
                             "ideal": s["ideal_cached_tokens"], "of_ideal": round(ratio, 3)})
    print(f"{'client':>9} {'server cache':>13} {'in flight':>9} {'prompt tok':>11} {'cached':>11}"
          f" {'ideal':>11} {'cached/prompt':>13} {'of ideal':>8}")
    for r in rows:
        print(f"{r['client']:>9} {r['capacity']:>13} {r['inflight']:>9} {r['prompt_tokens']:>11,}"
              f" {r['cached']:>11,} {r['ideal']:>11,} {r['cached'] / r['prompt_tokens']:>13.3f}"
              f" {r['of_ideal']:>8.3f}")
    print("goal >= 0.9 of ideal:", "met" if ok else "MISSED")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
