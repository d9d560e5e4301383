#!/usr/bin/env python3
"""run.py - `make bench-summarize`: infty-summarize against the fake endpoint
at a fixed 100 ms latency with 256 requests in flight, beside the official
OpenAI Node SDK at the same concurrency in the same run, and peak RSS at two
input sizes.  Prints a table and writes the figures as JSON (--json).

The input is synthetic (segment records made here, ~1 KiB segments), so the
bench needs neither the tokenizer nor the shared data."""
import argparse, json, os, resource, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def make_input(path, traces, segs):
    para = ("We substitute the value found above and simplify the expression step by step, "
            "so that x_{k} = 2k + 1 and the sum telescopes. ") * 8
    with open(path, "w") as f:
        for t in range(traces):
            s = [{"text": f"[{t}.{k}] " + para, "sep": "\n\n"} for k in range(segs)]
            f.write(json.dumps({"id": f"b{t}", "question": f"Problem {t}: find the sum.",
                                "segments": s, "n": segs}) + "\n")
    return traces * (segs - 1)


def start_fake(latency):
    p = subprocess.Popen(["node", os.path.join(ROOT, "tests/fake-endpoint.mjs"), "--latency",
                          str(latency), "--lifetime", "900"], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    return p, port


def chat_count(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats") as r:
        return json.load(r)["chat"]


def timed(cmd):
    """Run cmd; return (wall s, user+sys CPU s, peak RSS KiB, stdout)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        sys.exit(f"bench: {cmd[0]} exited {p.returncode}: {err.strip()[:500]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def ours(binary, port, inp, inflight, tmp):
    before = chat_count(port)
    wall, cpu, rss, _ = timed([binary, "-q", "--endpoint", f"http://127.0.0.1:{port}/v1",
                               "--model", "fake-model", "--prompt-dir", os.path.join(ROOT, "prompts"),
                               "--max-inflight", str(inflight), "--stats", os.path.join(tmp, "st.json"),
                               # whole answers, as the SDK client asks for them
                               "--no-stream", "--tokenizer", "none",
                               "-o", os.path.join(tmp, "out.jsonl"), inp])
    n = chat_count(port) - before
    return {"requests": n, "wall_s": wall, "cpu_s": cpu, "max_rss_kb": rss,
            "req_per_s": n / wall, "cpu_ms_per_req": 1000 * cpu / n, "req_per_cpu_s": n / cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--latency", type=int, default=100)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--requests", type=int, default=25600, help="requests of the main run")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    ideal = a.inflight * 1000 / a.latency
    res = {"latency_ms": a.latency, "inflight": a.inflight, "ideal_req_per_s": ideal}
    with tempfile.TemporaryDirectory() as tmp:
        fake, port = start_fake(a.latency)
        try:
            small = os.path.join(tmp, "small.jsonl")
            big = os.path.join(tmp, "big.jsonl")
            n_small = make_input(small, a.requests // 4, 5)      # 4 requests per trace
            n_big = make_input(big, a.requests, 5)               # 4x the input
            ours(a.bin, port, small, a.inflight, tmp)            # warm up the fake
            r_small = ours(a.bin, port, small, a.inflight, tmp)
            r_big = ours(a.bin, port, big, a.inflight, tmp)
            before = chat_count(port)
            sdk_cmd = ["node", os.path.join(HERE, "sdk-client.mjs"), small,
                       f"http://127.0.0.1:{port}/v1", str(a.inflight),
                       os.path.join(ROOT, "prompts/cumulative.txt")]
            wall, cpu_outer, rss, out = timed(sdk_cmd)
            sdk = json.loads(out)
            n = chat_count(port) - before
            sdk.update({"requests": n, "req_per_s": n / sdk["wall_s"],
                        "cpu_s_process": cpu_outer, "max_rss_kb": rss,
                        "cpu_ms_per_req": 1000 * cpu_outer / n, "req_per_cpu_s": n / cpu_outer})
        finally:
            fake.terminate()
            fake.wait()
    res.update({"ours_small": r_small, "ours_big": r_big, "sdk": sdk,
                "ratio_of_ideal": r_small["req_per_s"] / ideal,
                "req_per_cpu_s_vs_sdk": r_small["req_per_cpu_s"] / sdk["req_per_cpu_s"]})
    print(f"fake endpoint: {a.latency} ms fixed latency, {a.inflight} in flight, ideal {ideal:.0f} req/s")
    print(f"{'client':<28}{'requests':>9}{'req/s':>9}{'of ideal':>9}{'CPU s':>8}{'CPU ms/req':>11}{'req/CPU-s':>10}{'peak RSS':>10}")
    for name, r in (("infty-summarize", r_small), ("infty-summarize (4x input)", r_big), ("openai SDK (node)", sdk)):
        print(f"{name:<28}{r['requests']:>9}{r['req_per_s']:>9.0f}{r['req_per_s'] / ideal:>9.2f}"
              f"{r.get('cpu_s_process', r['cpu_s']):>8.2f}{r['cpu_ms_per_req']:>11.3f}{r['req_per_cpu_s']:>10.0f}"
              f"{r['max_rss_kb'] / 1024:>8.1f}MB")
    print(f"ours / SDK requests per CPU-second: {res['req_per_cpu_s_vs_sdk']:.1f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    ok = res["ratio_of_ideal"] >= 0.95 and res["req_per_cpu_s_vs_sdk"] >= 3
    print("targets (>= 0.95 of ideal, >= 3x SDK per CPU-second):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
