#!/bin/sh
# infty-summarize: the summary checks on every summary (flags, numbers, stats),
# the per-flag policy in the request's life (another candidate, the best kept,
# a dead letter), the cache across policies, and the judge-and-refine loop
# against the fake endpoint playing judge: scores and rounds recorded, rounds
# bounded, nothing paid twice on a relaunch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sum-fake.sh"
plan 61

# Segments long enough that the fake's two-line summaries compress them; the
# fake's "x = N" is a number of its own (ungrounded: warn by default).
python3 - "$T/in.jsonl" <<'PY'
import json, sys
para = ("We write the distance as speed times time and compare the two trips. "
        "The first trip is slower, so its time is longer by the ratio of the speeds. ")
rows = [
    ("q1", "A train covers two legs of a trip. Find the total time.", 3, "\n\nSo \\boxed{1729}."),
    ("q2", "Solve x^2 - 5x + 6 = 0 for the larger root.", 2, "\n\n\\boxed{3}"),
    ("q3", "What is 6 times 7?", 1, "\n\n\\boxed{42}"),
]
with open(sys.argv[1], "w") as f:
    for rid, q, n, concl in rows:
        segs = [{"text": f"Step {k}. " + para * 2, "sep": "\n\n"} for k in range(n)]
        f.write(json.dumps({"id": rid, "question": q, "segments": segs, "n": n,
                            "conclusion": concl}) + "\n")
PY
IN=$T/in.jsonl
# SUM with the default policy (sum-fake.sh's SUM turns it to warn).
Q="infty-summarize --model fake-model --prompt-dir $ROOT/prompts -q --ready-timeout 5 --backoff-max 0.1 --tokenizer none"

# --- options ------------------------------------------------------------------
run infty-summarize --quality leak=maybe "$IN"; is_rc 2 "--quality: a bad policy is a usage error"
like "$ERR" "leak=maybe" "the message names the bad item"
run infty-summarize --judge "$IN"; is_rc 2 "--judge without an endpoint is a usage error"
run infty-summarize --endpoint http://127.0.0.1:9/v1 --model m --judge-threshold 6 "$IN"
is_rc 2 "--judge-threshold is 1..5"

# --- extractive: every summary checked, warn by default ------------------------
run infty-summarize -q --backend extractive --stats "$T/x.json" -o "$T/x.jsonl" "$FIXTURES/summarize/segments.jsonl"
is_rc 0 "extractive: exit 0 whatever the flags"
is "$(jq_py "$T/x.jsonl" "all(isinstance(s['flags'], list) and 'ratio' in s['quality'] for r in R for s in r['summaries'])")" \
	"True" "extractive: flags and quality on every summary"
is "$(jq_py "$T/x.json" "(sorted(O['quality_flags']), set(O['quality']['policy'].values()), O['quality']['checked'])")" \
	"(['copy', 'early_answer', 'language', 'leak', 'long', 'refusal', 'short', 'ungrounded'], {'warn'}, 8)" \
	"extractive stats: every flag counted, warn by default, 8 summaries checked"
is "$(jq_py "$T/x.json" "O['quality_flags']['long']") $(jq_py "$T/x.jsonl" "sum('long' in s['flags'] for r in R for s in r['summaries'])")" \
	"2 2" "the stats count the flags written (t5's summaries outgrow its tiny segments)"
run infty-summarize -q --backend extractive --quality long=reject --failed "$T/xf.jsonl" --stats "$T/x.json" -o "$T/x.jsonl" "$FIXTURES/summarize/segments.jsonl"
is_rc 1 "extractive, long=reject: exit 1"
is "$(jq_py "$T/xf.jsonl" "[(r['id'], r['reason'], r['class'], r['request'], r['i']) for r in R]")" \
	"[('t5:m', 'quality_long', 'quality', 'summary', 0)]" "the trace is a dead letter quality_long"
is "$(jq_py "$T/x.jsonl" "[r['id'] for r in R]") $(jq_py "$T/x.json" "O['quality']['rejected']")" \
	"['t1:m', 't2:m', 't3:m', 't4:m'] 1" "the other traces are written; rejected counted"

# --- endpoint, default policy ---------------------------------------------------
fake_start
run $Q --endpoint "$EP" --stats "$T/s.json" -o "$T/o.jsonl" "$IN"
is_rc 0 "clean summaries: exit 0"
is "$(fstat chat) $(jq_py "$T/o.jsonl" "[s['flags'] for r in R for s in r['summaries']]")" \
	"3 [['ungrounded'], ['ungrounded'], ['ungrounded']]" \
	"one request per summary; the fake's own x = N is flagged ungrounded and kept (warn)"
like "$(jq_py "$T/o.jsonl" "R[0]['summaries'][0]['quality']['detail']['ungrounded']")" "not in question or segments" \
	"the flag's detail says what was not found"
is "$(jq_py "$T/s.json" "(O['quality']['policy']['leak'], O['quality']['policy']['copy'], O['quality']['retried'])")" \
	"('retry', 'warn', 0)" "default policy with an endpoint: retry leak, warn copy"

# A leaking first choice: the second of the same answer is taken.
fake_start --scenario leak-first
run $Q --endpoint "$EP" --stats "$T/s.json" -o "$T/o.jsonl" "$IN"
is_rc 0 "leak-first: exit 0"
is "$(fstat chat) $(jq_py "$T/o.jsonl" "all(s['text'].startswith('* Progress') and 'leak' not in s['flags'] and 'choice 1.' in s['text'] for r in R for s in r['summaries'])")" \
	"3 True" "leak-first: choice 1 taken, no extra request"
is "$(jq_py "$T/s.json" "(O['quality']['retried'], O['quality']['exhausted'], O['quality_flags']['leak'])")" \
	"(3, 0, 0)" "leak-first: three candidates passed over, none kept flagged"

# Every choice leaks for q2: the best is kept flagged (retry), or the trace
# dead-lettered (reject); the cache remembers that no candidate passed.
fake_start --scenario leak --match "Solve x^2"
run $Q --endpoint "$EP" --cache "$T/c1.jsonl" --stats "$T/s.json" -o "$T/o.jsonl" "$IN"
is_rc 0 "leak on all choices, retry: exit 0"
is "$(jq_py "$T/o.jsonl" "[(r['id'], s['flags']) for r in R for s in r['summaries'] if r['id']=='q2']")" \
	"[('q2', ['leak', 'ungrounded'])]" "the best candidate is kept with its flags"
is "$(jq_py "$T/s.json" "(O['quality']['retried'], O['quality']['exhausted'], O['quality_flags']['leak'])")" \
	"(4, 1, 1)" "four candidates passed over, one summary kept flagged"
run $Q --endpoint "$EP" --cache "$T/c1.jsonl" --quality leak=reject --failed "$T/f.jsonl" --stats "$T/s.json" -o "$T/o.jsonl" "$IN"
before=$(fstat chat)
is_rc 1 "the same cache, leak=reject: exit 1"
is "$(jq_py "$T/f.jsonl" "[(r['id'], r['reason'], r['class'], r['request']) for r in R]")" \
	"[('q2', 'quality_leak', 'quality', 'summary')]" "q2 is a dead letter quality_leak"
like "$(jq_py "$T/f.jsonl" "R[0]['excerpt']")" "^Okay, so I need" "the dead letter shows the summary that failed"
is "$(jq_py "$T/s.json" "(O['requests']['sent'], O['summaries']['cache_hits'], O['quality']['rejected'])")" \
	"(0, 3, 1)" "decided from the cache: no request (every candidate had failed before)"

# A summary accepted under a looser policy is asked again under a stricter one.
fake_start --scenario leak --match "Solve x^2" --times 1
run $Q --endpoint "$EP" --quality leak=warn --cache "$T/c2.jsonl" -o "$T/o.jsonl" "$IN"
is_rc 0 "leak=warn: the leaking summary is taken"
run $Q --endpoint "$EP" --cache "$T/c2.jsonl" --stats "$T/s.json" -o "$T/o.jsonl" "$IN"
is_rc 0 "relaunch with the default policy: exit 0"
is "$(jq_py "$T/s.json" "(O['requests']['sent'], O['quality']['cache_stale'], O['summaries']['cache_hits'])") $(jq_py "$T/o.jsonl" "[s['flags'] for r in R for s in r['summaries'] if r['id']=='q2']")" \
	"(1, 1, 2) [['ungrounded']]" "the cached leak is stale: asked again (the fake now answers clean)"

# The final answer, from the record's conclusion, stated before the trace has it.
fake_start --scenario answer --match "A train covers"
run $Q --endpoint "$EP" --quality early_answer=reject --failed "$T/f.jsonl" -o "$T/o.jsonl" "$IN"
is_rc 1 "early answer, reject: exit 1"
is "$(jq_py "$T/f.jsonl" "[(r['id'], r['reason']) for r in R]")" "[('q1', 'quality_early_answer')]" \
	"the conclusion's boxed 1729 in a summary of q1: quality_early_answer"

# --- judge and refine -------------------------------------------------------------
J="$Q --judge --cache $T/jc.jsonl --stats $T/j.json --failed $T/jf.jsonl"
# The judge object without its usage (checked on its own below).
JD="{k: v for k, v in s['judge'].items() if k != 'usage'}"
fake_start --scenario weak --match "Solve x^2"
run $J --endpoint "$EP" -o "$T/j1.jsonl" "$IN"
is_rc 0 "judge: exit 0"
is "$(jq_py "$T/j1.jsonl" "[(r['id'], s['i'], $JD) for r in R for s in r['summaries']]")" \
	"[('q1', 0, {'score': 5, 'rounds': 1, 'scores': [5]}), ('q1', 1, {'score': 5, 'rounds': 1, 'scores': [5]}), ('q2', 0, {'score': 5, 'rounds': 2, 'scores': [2, 5]})]" \
	"every summary judged; the weak one refined once and passed"
like "$(jq_py "$T/j1.jsonl" "R[1]['summaries'][0]['text']")" "Revised after review" "the refined summary replaced it"
unlike "$(jq_py "$T/j1.jsonl" "R[1]['summaries'][0]['text']")" "\\[weak\\]" "the judge's feedback was applied"
is "$(fstat chat) $(fstat judge) $(fstat refine)" "8 4 1" "requests: 3 summaries, 4 judgements, 1 refinement"
is "$(jq_py "$T/j.json" "(O['judge']['judged'], O['judge']['rounds'], O['judge']['score'], O['judge']['requests'], O['judge']['refines'])")" \
	"(3, {'1': 2, '2': 1}, {'min': 5, 'p50': 5, 'mean': 5.0, 'max': 5}, 4, 1)" "judge stats: judged, rounds, scores, requests"
like "$(jq_py "$T/j1.jsonl" "R[1]['summaries'][0]['key']")" "^sha256:" "the refined summary names its own request"
is "$(jq_py "$T/j1.jsonl" "[s['judge']['usage']['requests'] for r in R for s in r['summaries']]") $(jq_py "$T/j.json" "O['usage']['requests']")" \
	"[2, 2, 4] $(fstat chat)" "judge usage: every request of the loop (summary, judge, refine, judge)"
jusage=$(jq_py "$T/j.json" "O['usage']")
before=$(fstat chat)
run $J --endpoint "$EP" -o "$T/j2.jsonl" "$IN"
is_rc 0 "judge, relaunch: exit 0"
is "$(( $(fstat chat) - before ))" "0" "relaunch: summaries, judgements and refinements all from the cache"
same_file "$T/j2.jsonl" "$T/j1.jsonl" "relaunch: the same output, byte for byte"
is "$(jq_py "$T/j.json" "O['usage']")" "$jusage" "relaunch from the cache: the same usage as the run that paid"
is "$(jq_py "$T/j.json" "(O['judge']['cache_hits'], O['judge']['requests'], O['summaries']['cache_hits'])")" \
	"(5, 0, 3)" "relaunch stats: 5 judge/refine hits, no request"

# A summary the refinements cannot fix: rounds are bounded, the best one kept.
fake_start --scenario stubborn --match "Solve x^2"
run $Q --judge --endpoint "$EP" --stats "$T/j.json" -o "$T/j3.jsonl" "$IN"
is_rc 0 "stubborn: exit 0"
is "$(jq_py "$T/j3.jsonl" "[$JD for s in R[1]['summaries']][0]")" "{'score': 2, 'rounds': 3, 'scores': [2, 2, 2]}" \
	"three rounds (the default), each scored, the best kept"
is "$(fstat judge) $(fstat refine)" "5 2" "stubborn: 3 judgements and 2 refinements for q2"
like "$(jq_py "$T/j3.jsonl" "R[1]['summaries'][0]['text']")" "\\[stubborn\\]$" "ties keep the first summary"
fake_start --scenario stubborn --match "Solve x^2"
run $Q --judge --judge-rounds 2 --judge-threshold 2 --endpoint "$EP" -o "$T/j3.jsonl" "$IN"
is "$(jq_py "$T/j3.jsonl" "[$JD for s in R[1]['summaries']][0]")" "{'score': 2, 'rounds': 1, 'scores': [2]}" \
	"--judge-threshold 2: a 2 passes"
fake_start --scenario stubborn --match "Solve x^2"
run $Q --judge --judge-rounds 2 --endpoint "$EP" -o "$T/j3.jsonl" "$IN"
is "$(jq_py "$T/j3.jsonl" "R[1]['summaries'][0]['judge']['scores']")" "[2, 2]" "--judge-rounds 2: two rounds"

# The judge's answer in a code fence is read; prose is not, and the trace fails.
fake_start --scenario judge-fenced --match "SUMMARY TO GRADE"
run $Q --judge --endpoint "$EP" -o "$T/j4.jsonl" "$IN"
is "$RC $(jq_py "$T/j4.jsonl" "[s['judge']['score'] for r in R for s in r['summaries']]")" "0 [5, 5, 5]" \
	"a fenced JSON answer is read"
fake_start --scenario judge-garbage --match "Solve x^2"
rm -f "$T/jc.jsonl"
run $J --endpoint "$EP" -o "$T/j5.jsonl" "$IN"
is_rc 1 "the judge answers prose: exit 1"
is "$(jq_py "$T/jf.jsonl" "[(r['id'], r['reason'], r['class'], r['request'], r['attempts']) for r in R]")" \
	"[('q2', 'judge_unparsed', 'permanent', 'judge', 4)]" \
	"dead letter judge_unparsed after --candidates answers, request judge"
before=$(fstat chat)
run $J --endpoint "$EP" -o "$T/j5.jsonl" "$IN"
is "$RC $(( $(fstat chat) - before ))" "1 0" "relaunch: the judge's failure comes from the cache"

# The judge's server down: retryable failures leave the run unpublished (exit 3).
fake_start --scenario 500 --match "SUMMARY TO GRADE"
run $Q --judge --max-retries 1 --endpoint "$EP" -o "$T/j6.jsonl" "$IN"
is "$RC $([ -e "$T/j6.jsonl" ] && echo published || echo none)" "3 none" \
	"judge requests failing with 500: stopped, nothing published"

# --judge-model: the judge's requests name their model.
fake_start
run $Q --judge --judge-model judge-model --endpoint "$EP" --stats "$T/j.json" -o "$T/j7.jsonl" "$IN"
is "$RC $(jq_py "$T/j.json" "O['judge']['model']") $(jq_py "$T/j7.jsonl" "set(s['model'] for r in R for s in r['summaries'])")" \
	"0 judge-model {'fake-model'}" "--judge-model: the judge's model in the stats, the summarizer's on the summaries"

# --mode update: summary i+1 is asked after summary i is judged (and refined).
fake_start --scenario weak --match "A train covers" --times 1
run $Q --judge --mode update --endpoint "$EP" -o "$T/j8.jsonl" "$IN"
is_rc 0 "update mode with the judge: exit 0"
is "$(jq_py "$T/j8.jsonl" "[s['judge']['rounds'] for r in R for s in r['summaries']]")" "[2, 1, 1]" \
	"update mode: the weak first summary refined, the next made from it"

# The extractive summaries graded by the judge: one round, never rewritten.
fake_start --scenario weak
run infty-summarize -q --backend extractive --judge --judge-model judge-model --endpoint "$EP" \
	--prompt-dir "$ROOT/prompts" --ready-timeout 5 --tokenizer none --stats "$T/xj.json" -o "$T/xj.jsonl" "$IN"
is "$RC $(jq_py "$T/xj.jsonl" "[(s['backend'], $JD) for r in R for s in r['summaries']]")" \
	"0 [('extractive', {'score': 5, 'rounds': 1, 'scores': [5]}), ('extractive', {'score': 5, 'rounds': 1, 'scores': [5]}), ('extractive', {'score': 5, 'rounds': 1, 'scores': [5]})]" \
	"extractive + --judge: every summary graded, one round"
is "$(fstat judge) $(fstat refine) $(jq_py "$T/xj.json" "(O['judge']['model'], O['judge']['max_rounds'], O['usage']['requests'])")" \
	"3 0 ('judge-model', 1, 3)" "extractive + --judge: only judge requests, with the judge's model, and only they are spent"
run infty-summarize -q --backend extractive --judge --endpoint "$EP" "$IN"
is_rc 2 "extractive + --judge without a model: usage error"

# Without a judge the records carry no judge field and the stats no judge section.
is "$(jq_py "$T/o.jsonl" "any('judge' in s for r in R for s in r['summaries'])") $(jq_py "$T/s.json" "'judge' in O")" \
	"False False" "no --judge: no judge fields"
