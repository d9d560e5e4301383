#!/bin/bash
# 40-server-per-task.t - topology (b) end to end: infty-slurm --server starts
# an inference server inside every summarize element (a tiny
# OpenAI-compatible stand-in here, on a free port given as {port}), waits for
# its readiness URL, runs the shard against it, and stops it.  Checks that
# every summarize shard was served by its own server and that no server
# outlives its element.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
need_tools test-slurm
[ -f "$IN" ] || skip_all "$IN is absent"
command -v python3 >/dev/null || skip_all "python3 is needed for the stand-in server"
need_cluster
plan 8

# The stand-in server: answers /v1/models (readiness) and
# /v1/chat/completions with one short summary per requested choice, and
# appends "port" to a log per request so the test can tell servers apart.
cat >"$T/mini_server.py" <<'EOF'
import http.server, json, sys
port, log = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.reply({"object": "list", "data": [{"id": "mini", "object": "model"}]})
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        with open(log, "a") as f:
            f.write("%d\n" % port)
        n = req.get("n", 1)
        self.reply({"id": "x", "object": "chat.completion", "model": req["model"],
                    "choices": [{"index": k, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "* progress so far, choice %d" % k}}
                                for k in range(n)],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

cluster_up

O=$T/run
run "$SLURM" --make "make -C $ROOT -f mk/pipeline.mk" -w 2 \
	--server="python3 $T/mini_server.py {port} $T/requests.log" \
	--health='http://127.0.0.1:{port}/v1/models' --server-timeout=60 \
	submit "$O" IN="$IN" SHARDS=3 ETA=64 MODEL=mini INFTY_BIN="$BIN" \
	'ENDPOINT=http://127.0.0.1:{port}/v1'
is_rc 0 "submit with --server exits 0"

wait_until 180 all_gone
ok $? "every job finishes"
run "$SLURM" status "$O"
like "$OUT" "merge: done" "the run completes through per-element servers"
is "$(cat "$O"/summarize/logs/slurm-*.out | grep -c 'server ready on port')" 3 \
	"each of the 3 summarize elements waited for its own server"
ports=$(sed -n 's/.*server ready on port \([0-9]*\).*/\1/p' "$O"/summarize/logs/slurm-*.out | sort -u)
is "$(sort -u "$T/requests.log" | paste -sd' ' -)" "$(printf '%s\n' $ports | paste -sd' ' -)" \
	"the summaries came from those servers, on the ports they were given"
[ "$(wc -l <"$T/requests.log")" -gt 0 ] && [ -s "$O/train.jsonl.zst" ]
ok $? "requests were served and a training file was written"
# pgrep exits 1 for "no such process"; anything else (127: no pgrep) fails.
pgrep -f "$T/mini_server.py" >/dev/null
[ $? -eq 1 ]; ok $? "no server outlives its element"
