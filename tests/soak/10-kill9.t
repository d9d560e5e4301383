#!/bin/sh
# kill -9 soak (issue 12): a conversion against the fake endpoint is killed
# ten times at random moments (whatever stage it is in), then relaunched to
# the end.  It must give the byte-identical training file of an
# uninterrupted run, account for every row, leave no temporary behind, and
# never pay again for an answer it had stored: every request key appears
# once in the cache.  `make test-soak`; about a minute.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/sum-fake.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
IN=$ROOT/data/openr1_math_messages_sample.jsonl
[ -f "$IN" ] || IN=$SHARED/data/openr1_math_messages_sample.jsonl
[ -f "$IN" ] || skip_all "no OpenR1 rows (data/ or ../shared/data)"
KILLS=${SOAK_KILLS:-10}
plan 9

MK="make -s --no-print-directory -f $ROOT/mk/pipeline.mk INFTY_BIN=$BUILD/bin"
SOPTS='--ready-timeout 5 --backoff-max 0.1 --trunc-ratio 0.5 --max-inflight 8'
# Short segments give a few hundred summary requests from the ten rows;
# a small in-flight cap makes summarizing the longest stage, where most
# kills should land.
convert() { # convert OUT EP [VAR=VALUE...]
	_o=$1 _e=$2
	shift 2
	$MK convert IN="$IN" OUT="$_o" SHARDS=3 ETA=256 ENDPOINT="$_e" MODEL=fake-model \
		SUMMARIZE_OPTS="$SOPTS" PRICE_IN=0.15 PRICE_OUT=0.6 -j2 "$@"
}

fake_start --latency 60 --jitter 60
t0=$(date +%s.%N)
convert "$T/ref" "$EP" >"$T/ref.log" 2>&1
ok $? "the uninterrupted reference run"
dur=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
ref_requests=$(fstat chat)
ref_prompt=$(fstat prompt_tokens)
fake_stop

# The soak: a fresh fake, so its counters see only this run.
fake_start --latency 60 --jitter 60
S=$T/soak
k=0
where=
while [ $k -lt "$KILLS" ]; do
	(setsid sh -c "$(printf '%s ' $MK) convert IN='$IN' OUT='$S' SHARDS=3 ETA=256 ENDPOINT='$EP' \
		MODEL=fake-model SUMMARIZE_OPTS='$SOPTS' PRICE_IN=0.15 PRICE_OUT=0.6 -j2" >>"$T/soak.log" 2>&1 &
	 echo $! >"$T/pid")
	pg=$(cat "$T/pid")
	# Within the first 40 % of what an uninterrupted run takes, so that ten
	# relaunches, each resuming the last, spread the kills over the run:
	# early ones land in
	# sharding and segmenting, later ones in summarizing, building, merging.
	sleep "$(awk -v s="$k$$" -v d="$dur" 'BEGIN { srand(s); printf "%.2f", 0.3 + rand() * 0.4 * d }')"
	kill -KILL "-$pg" 2>/dev/null
	wait_for 5 group_gone "$pg"
	k=$((k + 1))
	# Where the kill landed: the shards each stage had finished.
	where="$where $(for st in shard segment summarize build merge; do printf '%s' "$(ls "$S/$st/done" 2>/dev/null | wc -l)"; done)"
done
diag "an uninterrupted run takes ${dur}s; done markers of" \
	"shard/segment/summarize/build/merge at each kill:$where"
convert "$S" "$EP" >>"$T/soak.log" 2>&1
ok $? "the relaunch after $KILLS kills completes"
[ $? -eq 0 ] || diag "$(tail -n 20 "$T/soak.log")"
same_file "$S/train.jsonl.zst" "$T/ref/train.jsonl.zst" "the training file is byte-identical"
same_file "$S/rejects.jsonl.zst" "$T/ref/rejects.jsonl.zst" "so are the rejects"
is "$(jq_py "$S/stats.json" "O['accounted'], O['rows']")" "$(jq_py "$T/ref/stats.json" "O['accounted'], O['rows']")" \
	"every row is accounted for"
# What the summaries took, summed from their records (cache hits count what
# they took when answered): ten kills change nothing, and the uninterrupted
# run's figures are what its server saw.
TOT="(O['usage'], O['quality'], O['cost'])"
is "$(jq_py "$S/stats.json" "$TOT")" "$(jq_py "$T/ref/stats.json" "$TOT")" \
	"the totals (requests, tokens, cost, flag counts) are the uninterrupted run's"
is "$(jq_py "$T/ref/stats.json" "(O['usage']['requests'], O['usage']['prompt_tokens'])")" "($ref_requests, $ref_prompt)" \
	"... which are what the server answered for it"
is "$(find "$S" -name '*.tmp*' -o -name '.shard.*' | wc -l | tr -d ' ')" 0 "no temporary is left"
keys=$(zstd -dcf -- "$S"/summarize/cache/*.zst | python3 -c \
	'import sys,json,collections; c=collections.Counter(json.loads(l)["key"] for l in sys.stdin if l.strip()); print(len(c), sum(v > 1 for v in c.values()))')
is "${keys#* }" 0 "no stored answer was asked for again (every cache key once; ${keys% *} keys)"
diag "requests: $ref_requests uninterrupted, $(fstat chat) over the killed runs;" \
	"$(fstat repeated_after_ok) answers in transit at a kill were asked again"
