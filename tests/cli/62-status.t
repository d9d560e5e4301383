#!/bin/sh
# infty-inspect status on a run directory made by hand: finished shards
# count their stats, running ones their progress snapshots (not one of a
# run that is over, not a stale one, and a failed one as failed), totals
# come from the upstream stage's stats, and the line of each stage says
# exactly what README.md, "Watching a run", describes.  Figures below are
# worked out by hand from the files.
. "$(dirname "$0")/lib.sh"
plan 9

O=$T/run
mkdir -p "$O"/shard/stats "$O"/segment/stats "$O"/segment/progress "$O"/summarize/progress \
	"$O"/build/progress
echo '{"total_shards": 2, "input": "/x.jsonl", "config_hash": "0", "version": "0"}' >"$O/run.json"
echo '{"stage": "shard", "completed": true, "rows": 10, "bytes_in": 1000}' >"$O/shard/stats/all.json"
# segment: shard 0 done (5 rows: 4 traces of 10 segments, 1 reject), shard 1 running
echo '{"stage": "segment", "completed": true, "rows": 5, "traces": 4, "rejected": 1, "segments": 10}' \
	>"$O/segment/stats/00000.json"
now=$(date +%s)
snap() { # snap FILE DONE STARTED UPDATED FINISHED COMPLETED COUNTERS
	printf '{"stage": "x", "done": %s, "rejected": 0, "started": %s, "updated": %s, "finished": %s%s, "counters": %s}\n' \
		"$2" "$3" "$4" "$5" "$6" "$7" >"$1"
}
snap "$O/segment/progress/00001.json" 3 $((now - 10)) "$now" false "" '{"traces": 3}'
# summarize: shard 0 running (2 of its 6 requests settled in 10 s), shard 1 waits for segment
snap "$O/summarize/progress/00000.json" 1 $((now - 10)) "$now" false "" \
	'{"requests_planned": 6, "requests_settled": 2, "requests_answered": 4, "requests_in_flight": 1, "failures_retry": 1, "failures_reject": 0, "failures_permanent": 0, "failures_fatal": 0, "prompt_tokens": 1000, "cached_tokens": 400, "completion_tokens": 100}'
# build: shard 0's snapshot is 1000 s old (a job that died), shard 1's tool failed
snap "$O/build/progress/00000.json" 1 $((now - 1100)) $((now - 1000)) false "" '{}'
snap "$O/build/progress/00001.json" 0 $((now - 5)) "$now" true ', "completed": false, "exit_status": 3' '{}'
states() { # states RUNNING
	printf 'running %s\nshard all done\nsegment 0 done\nsegment 1 todo\n' "$1"
	printf 'summarize 0 todo\nsummarize 1 todo\nbuild 0 todo\nbuild 1 todo\nmerge all todo\n'
}
states 1 >"$T/states"
run infty-inspect status "$O" --states "$T/states"
is "$RC" 0 "status exits 0"
is "$OUT" "shard     1/1 shards  rows 10
segment   1/2 shards, 1 running  rows 8/10 (80.0%), traces 7, rejected 1, 0.3 rows/s, eta 6s
summarize 0/2 shards, 1 running  requests 2/6+, traces 1/4+, in flight 1, failures retry 1 reject 0 permanent 0 fatal 0, tokens prompt 1000 cached 400 completion 100, 0.4 req/s 110 tok/s, eta 20s+
build     0/2 shards, 1 failed  records 0/?, instances 0, rejected 0" \
	"every stage's line: done shards' stats and running shards' snapshots"
# A shard that has just started: its first snapshot (1 row in under a
# second) is no rate, and an eta from it would be hours for seconds of work.
snap "$O/segment/progress/00001.json" 1 "$now" "$now" false "" '{"traces": 1}'
run infty-inspect status "$O" --states "$T/states"
is "$(printf '%s\n' "$OUT" | sed -n 2p)" \
	"segment   1/2 shards, 1 running  rows 6/10 (60.0%), traces 5, rejected 1, measuring the rate" \
	"a shard younger than 5 s: no rate and no eta yet"
snap "$O/segment/progress/00001.json" 3 $((now - 10)) "$now" false "" '{"traces": 3}'

# No run holds OUT: no snapshot counts, a failed one still says so.
states 0 | infty-inspect status "$O" --states - >"$T/o0"
is "$(sed -n 2,4p "$T/o0")" "segment   1/2 shards  rows 5/10 (50.0%), traces 4, rejected 1
summarize 0/2 shards  requests 0/6+, traces 0/4+, in flight 0, failures retry 0 reject 0 permanent 0 fatal 0, tokens prompt 0 cached 0 completion 0
build     0/2 shards, 1 failed  records 0/?, instances 0, rejected 0" \
	"a run that is over: its snapshots are not counted as running"

# The states come from a command at each refresh (make status WATCH=1).
run infty-inspect status "$O" --states-cmd "cat '$T/states'"
is "$(printf '%s\n' "$OUT" | sed -n 1p)" "shard     1/1 shards  rows 10" "--states-cmd: the command's states"
run timeout 5 infty-inspect status "$O" --states-cmd "cat '$T/states'" --watch --interval 0.2 --while $$
# (--while: this shell lives on, so it is timeout that ends the watch)
like "$OUT" "^\[[0-9:]{8}\] summarize 0/2 shards, 1 running  requests 2/6\+" \
	"--watch on a log: a plain line per stage, with the time"

printf 'segment 7 done\n' >"$T/bad"
run infty-inspect status "$O" --states "$T/bad"
is "$RC:$ERR" "2:infty-inspect: states: bad state line 'segment 7 done'" "a shard that is not in the run: exit 2"
run infty-inspect status "$T"
is "$RC" 2 "an OUT that is not a run: exit 2"
like "$ERR" "not an infty run \(no run.json\)" "... in one line"
