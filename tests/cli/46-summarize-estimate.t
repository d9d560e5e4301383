#!/bin/sh
# infty-summarize --dry-run (and --preflight's refusal offline): on a tiny
# input, every figure is checked against a computation done here by hand
# from the prompt files and infty-tok's counts of each message: the
# requests, the prompt tokens of both modes with the chat template's
# framing, the tokens a request repeats from the trace's previous one, the
# completion budget, the cost and the hours.
. "$(dirname "$0")/lib.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 13

# jq_py FILE EXPR: a Python expression over the records R of a JSONL file or
# the object O of a .json file (as sum-fake.sh has it; no node needed here).
jq_py() {
	case $1 in
	*.json) python3 -c "import sys,json; O=json.load(open('$1')); print($2)" ;;
	*) python3 -c "import sys,json; R=[json.loads(l) for l in open('$1') if l.strip()]; print($2)" ;;
	esac
}
TOKZ=$INFTY_TOKENIZER_DEFAULT
cat >"$T/in.jsonl" <<'EOF'
{"id": "t1", "question": "What is 2+2?", "segments": [{"text": "First, add two and two."}, {"text": "That gives four."}, {"text": "So the sum is 4."}], "n": 3}
{"id": "t2", "question": "Name a prime.", "segments": [{"text": "Two is prime."}], "n": 1}
not json
EOF
run infty-summarize -q --dry-run -t "$TOKZ" --prompt-dir "$ROOT/prompts" --max-tokens 100 \
	--price-in 1 --price-out 2 --price-cached 0.5 --prefill-tps 100 --decode-tps 10 \
	-s "$T/st.json" -r "$T/rej.jsonl" "$T/in.jsonl"
is "$RC" 1 "dry run: exit 1 (a line was rejected)"
is "$(jq_py "$T/rej.jsonl" "[r['reason'] for r in R]")" "['bad_json']" "the bad line is a reject, as in a real run"

# The hand computation: the requests as the method writes them, each
# content counted with infty-tok; ChatML adds 5 tokens a message
# (<|im_start|>role\n ... <|im_end|>\n) and 3 for the answer's start.
python3 - "$ROOT/prompts" "$TOKZ" >"$T/want" <<'PY'
import subprocess, sys
pdir, tokz = sys.argv[1], sys.argv[2]
def c(text):
    if text == "":
        return 0
    return int(subprocess.run(["infty-tok", "-t", tokz, "count", text], capture_output=True,
                              text=True, check=True).stdout)
def prompt(name):
    s = open(f"{pdir}/{name}").read()
    return s[:-1] if s.endswith("\n") else s
instr, upd = prompt("cumulative.txt"), prompt("update.txt")
q, segs = "What is 2+2?", ["First, add two and two.", "That gives four.", "So the sum is 4."]
# cumulative: [user q] [assistant s0 .. si joined by a blank line] [user instr]
cum = [3 + 3 * 5 + c(q) + c("\n\n".join(segs[:i + 1])) + c(instr) for i in range(2)]
# request 1 repeats request 0 up to the end of its reasoning: the user turn
# whole, the assistant turn's start and segment 0
rep = 5 + c(q) + 3 + c(segs[0])
# update: request 0 is the cumulative one; request 1 is one user turn
fill = upd.replace("{question}", q).replace("{summary}", "").replace("{segment}", segs[1])
upd_tokens = cum[0] + 3 + 5 + c(fill)
upd_rep = 3  # only "<|im_start|>user\n": the texts differ from their first letter
p = sum(cum)
print(2, 2, p, rep, upd_tokens, upd_rep, 1)
# cost at 1 / 2 per million, cached at 0.5; hours at 100 / 10 tokens a second
budget = 2 * 100
print(budget, p / 1e6, ((p - rep) * 1 + rep * 0.5) / 1e6, budget * 2 / 1e6)
print(p / 100 / 3600, (p - rep) / 100 / 3600, budget / 10 / 3600)
PY
E="O['estimate']"
is "$(jq_py "$T/st.json" "$E['traces'], $E['requests'], $E['cumulative']['prompt_tokens'], $E['cumulative']['repeated_tokens'], $E['update']['prompt_tokens'], $E['update']['repeated_tokens'], $E['update']['summary_slots']" | tr -d '(),')" \
	"$(sed -n 1p "$T/want")" "traces, requests, prompt and repeated tokens of both modes, summary slots"
close() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(abs(a - b) <= 1e-12 * max(1, abs(b)))" "$1" "$2"; }
set -- $(sed -n 2p "$T/want")
is "$(jq_py "$T/st.json" "$E['completion_budget']")" "$1" "completion budget: max_tokens x requests"
is "$(close "$(jq_py "$T/st.json" "$E['cumulative']['cost_prompt']")" "$2")" True "prompt cost at PRICE_IN"
is "$(close "$(jq_py "$T/st.json" "$E['cumulative']['cost_prompt_cached']")" "$3")" True \
	"prompt cost with the repeats at PRICE_CACHED"
is "$(close "$(jq_py "$T/st.json" "$E['cost_completion']")" "$4")" True "completion cost at PRICE_OUT"
set -- $(sed -n 3p "$T/want")
is "$(close "$(jq_py "$T/st.json" "$E['cumulative']['prefill_hours']")" "$1"):$(close "$(jq_py "$T/st.json" "$E['cumulative']['prefill_hours_cached']")" "$2"):$(close "$(jq_py "$T/st.json" "$E['decode_hours']")" "$3")" \
	"True:True:True" "hours: prefill with and without the repeats, decode of the budget"
like "$OUT" "^traces +2
requests +2 " "the report for a person on stdout"

# The same input through the engine's own view: as many requests as it plans.
infty-summarize -q --tokenizer none --quality all=warn --progress "$T/p.json" -o /dev/null "$T/in.jsonl" 2>/dev/null
is "$(jq_py "$T/p.json" "O['counters']['requests_planned']")" 2 "the extractive run plans the same requests"

run infty-summarize --dry-run -o "$T/x" "$T/in.jsonl"
is "$RC" 2 "--dry-run with -o: a usage error (it writes no records)"
run infty-summarize --preflight --prompt-dir "$ROOT/prompts"
is "$RC:$(printf '%s\n' "$ERR" | head -n 1)" "2:infty-summarize: --preflight needs --endpoint URL (there is nothing to check offline)" \
	"--preflight without an endpoint: exit 2"

# What a server with this tokenizer counts for the requests really sent
# (the fake counts the contents, no template) is the estimate less the
# template's 18 tokens a cumulative request.
if command -v node >/dev/null 2>&1 && [ -f "$ROOT/tests/node/node_modules/.package-lock.json" ]; then
	node "$ROOT/tests/fake-endpoint.mjs" --lifetime 60 --count-tokenizer "$TOKZ" >"$T/port" 2>/dev/null &
	fpid=$!
	wait_for 5 test -s "$T/port"
	infty-summarize -q --endpoint "http://127.0.0.1:$(cat "$T/port")/v1" --model fake-model \
		--prompt-dir "$ROOT/prompts" -t "$TOKZ" --quality all=warn --no-n --candidates 1 \
		--ready-timeout 5 --stats "$T/real.json" -o /dev/null "$T/in.jsonl" 2>/dev/null
	kill $fpid 2>/dev/null
	is "$(jq_py "$T/real.json" "O['usage']['prompt_tokens']")" \
		"$(jq_py "$T/st.json" "O['estimate']['cumulative']['prompt_tokens'] - 18 * O['estimate']['requests']")" \
		"the prompt tokens a server counts for the requests sent: the estimate, less the template"
else
	skip "node or tests/node modules missing (make node-deps)"
fi
