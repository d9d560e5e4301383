# sum-fake.sh - helpers for the infty-summarize CLI tests (sourced after lib.sh):
# start/stop the loopback fake endpoint and read JSON fields.

command -v node >/dev/null 2>&1 || skip_all "node is not installed (the fake endpoint needs it)"
FAKE_JS=$ROOT/tests/fake-endpoint.mjs
FPID=
PORT=

# fake_start ARGS...: start the fake with a scenario; sets PORT and FPID.
fake_start() {
	fake_stop
	: >"$T/port"
	node "$FAKE_JS" --lifetime 120 "$@" >"$T/port" 2>"$T/fake.err" &
	FPID=$!
	_i=0
	while [ ! -s "$T/port" ] && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
	PORT=$(cat "$T/port")
	[ -n "$PORT" ] || diag "fake endpoint did not start: $(cat "$T/fake.err")"
	EP=http://127.0.0.1:$PORT/v1
}
fake_stop() {
	if [ -n "$FPID" ]; then kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; FPID=; fi
}
trap 'fake_stop; rm -rf "$T"' EXIT

# fstat FIELD: a counter of the fake (requests, chat, scripted, max_inflight, ...).
fstat() {
	curl -s "http://127.0.0.1:$PORT/_stats" | python3 -c \
		"import sys,json; print(json.load(sys.stdin)['$1'])"
}
# jq_py FILE EXPR: evaluate a Python expression over the list of records R of a
# JSONL(.zst) file (or over the object O of a .json file).
jq_py() {
	case $1 in
	*.json) python3 -c "import sys,json; O=json.load(open('$1')); print($2)" ;;
	*) zstd -dcf -- "$1" | python3 -c "import sys,json; R=[json.loads(l) for l in sys.stdin if l.strip()]; print($2)" ;;
	esac
}
# --tokenizer none: loading the default tokenizer costs about 0.4 s a run; the
# tests that are about counts (43-summarize-trunc.t) pass a tokenizer.
# --quality all=warn: the fake's summaries state a number of their own and are
# longer than the toy segments they summarize, so the default policy would
# ask for other candidates; the tests of transport, candidates and cache count
# requests without it.  45-summarize-quality.t tests the policy.
SUM="infty-summarize --model fake-model --prompt-dir $ROOT/prompts -q --ready-timeout 5 --backoff-max 0.1 --tokenizer none --quality all=warn"
IN=$FIXTURES/summarize/segments.jsonl
