#!/bin/bash
# 10-slurm.t - infty-slurm on a real single-node Slurm cluster started for
# this test (tests/slurm/cluster.sh): arrays in windows, a failed shard and
# the dependent job stuck in DependencyNeverSatisfied, relaunch of only that
# shard, byte-identical completed shards, and USR1 -> requeue.  The stages are
# the stand-in of standin.mk, so this checks infty-slurm's mechanics alone;
# 20-pipeline.t runs the real tools.  Run with `make test-slurm`.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"
STANDIN="make -f $HERE/standin.mk"
need_cluster
plan 36

# --- without a cluster: options and the dry run ---------------------------
run "$SLURM" --help
is_rc 0 "--help exits 0"
like "$OUT" "^usage: infty-slurm" "--help prints the usage to stdout"
run "$SLURM" --no-such-option submit "$T/x"
is_rc 2 "a bad option exits 2"
like "$ERR" "^usage:" "a bad option prints a usage line"
mkdir -p "$T/dry"
echo '{"total_shards": 6}' >"$T/dry/run.json"
run "$SLURM" --make "$STANDIN" -n -w 2 --max-array 4 --stages segment,summarize,build submit "$T/dry" ETA=64
is_rc 0 "dry run exits 0"
like "$OUT" "sbatch .*--array=0-3%2 .*segment.sbatch" "dry run: first window of 4, throttled to 2"
like "$OUT" "--array=0-1%2 --export=ALL.?,INFTY_SHARD_BASE=4 " "dry run: second window starts at shard 4"
like "$OUT" "summarize.sbatch" "dry run: summarize stage submitted too"
like "$OUT" "--dependency=afterok:DRYsegment0:DRYsegment4 " "dry run: summarize waits on both segment windows"
run "$SLURM" --make "$STANDIN" -n --stages segment,summarize --server 'vllm serve m --port {port}' \
	--health 'http://127.0.0.1:{port}/health' submit "$T/dry" 'ENDPOINT=http://127.0.0.1:{port}/v1'
like "$(grep '^wrap=' "$T/dry/slurm/summarize.sbatch")" "infty-with-server.*--health=.*--server=vllm" "--server wraps the summarize elements"
is "$(grep '^wrap=' "$T/dry/slurm/segment.sbatch")" "wrap=()" "and no other stage"

# --- up -------------------------------------------------------------------
cluster_up

sums() { (cd "$1" && sha256sum -- *); }

# --- a failing shard and its relaunch --------------------------------------
O=$T/run
mkdir -p "$O/fail-once"
echo '{"total_shards": 6}' >"$O/run.json"
touch "$O/fail-once/segment-3"
run "$SLURM" --make "$STANDIN" -w 2 --max-array 4 --stages segment,summarize,build submit "$O" ETA=64
is_rc 0 "submit exits 0"
is "$(jobs_of "$O" segment | wc -l)" 2 "six shards with MaxArraySize 4 make two segment arrays"

wait_until 120 gone "$O" segment
ok $? "segment arrays finish"
sj=$(jobs_of "$O" summarize | head -1)
wait_until 30 reason_is "$sj" DependencyNeverSatisfied
ok $? "summarize is stuck in DependencyNeverSatisfied after the failed shard"
run "$SLURM" --make "$STANDIN" missing "$O" segment
is "$OUT" 3 "missing prints the failed shard in --array syntax"
is "$(ls "$O/segment/logs" | wc -l)" 6 "one slurm log per segment shard"
like "$(cat "$O"/segment/logs/slurm-*_3.out)" "segment shard 3: exit 2" "the failed shard's log says how it ended"

sums "$O/segment/out" >"$T/before"
run "$SLURM" --make "$STANDIN" relaunch "$O"
is_rc 0 "relaunch exits 0"
like "$ERR" "cancelled job $sj \\(DependencyNeverSatisfied\\)" "relaunch cancels the stuck summarize job"
like "$ERR" "segment: job [0-9]+, shards 3$" "relaunch resubmits only shard 3 of segment"
is "$(tail -n +3 "$O/slurm/jobs.tsv" | awk -F'\t' '$1 == "segment"' | wc -l)" 1 "one new segment array"
like "$ERR" "summarize: job [0-9]+, shards 4-5$" "relaunch resubmits summarize in the same windows"
like "$(grep '^#SBATCH' "$O/slurm/segment.sbatch" | paste -sd' ')" "--requeue .*--signal=B:USR1@120" "the kept batch script requeues and asks for USR1"

wait_until 180 all_gone
ok $? "relaunched jobs finish"
run "$SLURM" --make "$STANDIN" status "$O"
is "$OUT" "segment 6/6
summarize 6/6
build 6/6" "status: every stage complete"
sums "$O/segment/out" | grep -v ' 00003$' >"$T/after"
same_file "$T/after" "$T/before" "completed segment shards are byte-identical after the relaunch"
bad=$(for f in "$O"/attempts-*; do [ "$(wc -l <"$f")" = 1 ] || echo "${f##*/}"; done)
is "$bad" "" "every shard of every stage ran its work exactly once"

# --- USR1 before the time limit: stop and requeue --------------------------
P=$T/preempt
mkdir -p "$P/slow"
echo '{"total_shards": 2}' >"$P/run.json"
touch "$P/slow/segment-1"
run "$SLURM" --make "$STANDIN" --stages segment submit "$P"
pj=$(jobs_of "$P" segment)
# The element's first log line comes after its trap is set.
wait_until 60 grep -qs "job ${pj}_1 on" "$P/segment/logs/slurm-${pj}_1.out"
ok $? "the slow element is running"
run "$SLURM" --make "$STANDIN" --stages segment submit "$P"
is_rc 1 "a second submit while the run's jobs are live is refused"
run "$SLURM" relaunch "$P"
like "$ERR" "segment: job\\(s\\) $pj still queued or running; not resubmitted" "relaunch leaves a running stage alone"
is "$(wc -l <"$P/slurm/jobs.tsv")" 1 "and submits nothing"
scancel --batch --signal=USR1 "${pj}_1"
wait_until 30 grep -qs 'USR1' "$P/segment/logs/slurm-${pj}_1.out"
ok $? "USR1 reaches the element's trap"
rm -f "$P/slow/segment-1"
wait_until 120 all_gone
run "$SLURM" --make "$STANDIN" --stages segment missing "$P" segment
is "$OUT" "" "the requeued element completes its shard"
like "$(cat "$P/segment/logs/slurm-${pj}_1.out")" "restart 1" "the element ran again as a requeue of the same job"
