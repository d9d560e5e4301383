#!/bin/sh
# Pre-flight (issue 13): before a run pays for anything, infty-summarize
# --preflight asks every endpoint whether GET /models answers, the key is
# taken, the model is listed and a request of a few tokens is answered:
# one line per problem and exit 2, nothing written.  make convert runs it
# in its checks, so a server that is down, a refused key or a wrong MODEL
# costs one line and no run directory; PREFLIGHT=0 skips it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 24

PF="infty-summarize --preflight --model fake-model --prompt-dir $ROOT/prompts --ready-timeout 2"
DOWN=http://127.0.0.1:9/v1

fake_start
run $PF --endpoint "$EP" -o "$T/o.jsonl" --stats "$T/s.json"
is "$RC:$OUT" "0:pre-flight: 1 endpoint(s) answer; model fake-model listed and answering" \
	"a healthy endpoint: exit 0, one line on stdout"
is "$(fstat models):$(fstat preflight):$(fstat chat)" "1:1:0" "GET /models once, one test request (marked as such)"
[ ! -e "$T/o.jsonl" ] && [ ! -e "$T/s.json" ]; ok $? "nothing is written"

run $PF --endpoint "$DOWN"
is "$RC:$ERR" "2:infty-summarize: $DOWN: cannot reach GET /models (Couldn't connect to server)" \
	"a server that is down: exit 2, one line"

run $PF --endpoint "$EP" --model nope
is "$RC:$ERR" "2:infty-summarize: $EP: model 'nope' is not served there (it serves: fake-model)" \
	"a MODEL the server does not list: named with what it serves"
before=$(fstat preflight)
run $PF --endpoint "$EP" --judge --judge-model judge-x
is "$RC:$ERR" "2:infty-summarize: $EP: model 'judge-x' is not served there (it serves: fake-model)" \
	"--judge: the judge's model is checked too"
is "$(( $(fstat preflight) - before ))" 0 "no test request is sent for a model that is not listed"

run $PF --endpoint "$EP" --endpoint "$DOWN"
is "$RC:$ERR" "2:infty-summarize: $DOWN: cannot reach GET /models (Couldn't connect to server)" \
	"two endpoints, one down: only its line"

fake_start --scenario 401
run $PF --endpoint "$EP"
is "$RC" 2 "a refused key: exit 2"
like "$ERR" "^infty-summarize: $EP: the API key was refused \(http 401 on GET /models\); set INFTY_API_KEY or OPENAI_API_KEY, or give --api-key-file$" \
	"... in one line that says what to set"

fake_start --api-key sk-right
INFTY_API_KEY=sk-wrong run $PF --endpoint "$EP"
like "$RC:$ERR" "^2:infty-summarize: $EP: the API key was refused \(http 401" "the server refuses the key given"
unlike "$ERR" "sk-wrong" "the key is never printed"
INFTY_API_KEY=sk-right run $PF --endpoint "$EP"
is "$RC" 0 "the server takes the right key"

fake_start --scenario 404-model
run $PF --endpoint "$EP"
is "$RC:$ERR" "2:infty-summarize: $EP: a test request to model 'fake-model' failed: http 404: The model \`nope\` does not exist." \
	"listed, but the test request fails: the server's own words"
is "$(fstat preflight)" 1 "a 404 is not asked again"

# What the run would retry (429, 5xx) is asked again before it is a problem.
fake_start --scenario 500 --times 2
run $PF --endpoint "$EP"
is "$RC:$(fstat preflight)" "0:3" "a test request answered 500 twice passes at the third try"
fake_start --scenario 500
run $PF --endpoint "$EP"
is "$RC:$ERR" "2:infty-summarize: $EP: a test request to model 'fake-model' failed: http 500: The server had an error while processing your request." \
	"500 every time: one line"
is "$(fstat preflight)" 4 "after four tries, no more"

# make convert: the pre-flight is one of its checks.
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || { for i in 1 2 3 4 5 6; do skip "no tokenizer (make tokenizer)"; done; exit 0; }
IN=$ROOT/tests/fixtures/sample.jsonl
MK="make -s --no-print-directory -f $ROOT/mk/pipeline.mk INFTY_BIN=$BUILD/bin"
run $MK convert IN="$IN" OUT="$T/a" SHARDS=2 ETA=96 ENDPOINT="$DOWN" MODEL=fake-model \
	SUMMARIZE_OPTS="--ready-timeout 1"
# (make adds its own lines: "make: *** ... Error 2" after the pipeline's,
# and under make -j a jobserver warning; "make[1]:" when make runs it)
ours() { printf '%s\n' "$ERR" | grep -v -E '^make(\[[0-9]+\])?: '; }
is "$RC:$(ours | grep -c .)" "2:1" "make convert with a server down: exit 2, one line"
like "$ERR" "^pipeline: pre-flight: $DOWN: cannot reach GET /models" "... which names the endpoint"
[ ! -e "$T/a" ]; ok $? "no run directory is made"
fake_start
run $MK convert IN="$IN" OUT="$T/b" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=nope
is "$RC:$(ours)" "2:pipeline: pre-flight: $EP: model 'nope' is not served there (it serves: fake-model)" \
	"make convert with a wrong MODEL: the server's list in one line"
run $MK convert IN="$IN" OUT="$T/c" SHARDS=2 ETA=96 ENDPOINT="$EP" MODEL=fake-model \
	SUMMARIZE_OPTS="--bogus"
is "$RC:$(ours)" "2:pipeline: SUMMARIZE_OPTS or PROMPT_DIR: unknown option '--bogus'" \
	"SUMMARIZE_OPTS are checked first, without asking the server"
run $MK convert IN="$IN" OUT="$T/d" SHARDS=2 ETA=96 ENDPOINT="$DOWN" MODEL=fake-model \
	PREFLIGHT=0 SUMMARIZE_OPTS="--ready-timeout 0 --max-retries 0" INTERVAL=0
like "$RC:$(ours)" "^2:.*pipeline: summarize shard 0000[01] failed" "PREFLIGHT=0: the run starts, and fails at summarize"
