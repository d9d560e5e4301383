# lib.sh - shared by the scale-out tests (tests/slurm/*.t, tests/parallel/*.t),
# sourced right after tests/cli/lib.sh: teardown on any exit, prerequisites,
# the private single-node cluster, the loopback fake endpoint, and polling
# of the Slurm queue.

HERE=$ROOT/tests/slurm
SLURM=$ROOT/scripts/infty-slurm
IN=$ROOT/tests/fixtures/sample.jsonl
BIN=$BUILD/bin
C=$T/cluster
FAKE_PIDS=
FAKE_LIFETIME=${FAKE_LIFETIME:-580} # the fake exits on its own before the test's timeout
PIPE_VARS=(IN="$IN" SHARDS=3 ETA=64 MODEL=fake-model "SUMMARIZE_OPTS=--max-inflight 1" INFTY_BIN="$BIN")

# Tear down whatever we started, also on a timeout's TERM.  cluster.sh down
# is a no-op where no cluster was started.
cleanup() {
	for p in $FAKE_PIDS; do kill "$p" 2>/dev/null; done
	"$HERE/cluster.sh" down "$C"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# need_tools TARGET: skip unless the stage tools are built (by make TARGET).
need_tools() {
	for t in segment summarize build; do
		[ -x "$BIN/infty-$t" ] || skip_all "$BIN/infty-$t is not built (run make $1)"
	done
}

# need_cluster: skip unless a private cluster can run here.
need_cluster() {
	# slurmd runs jobs as their owner, so a private cluster needs root.
	[ "$(id -u)" = 0 ] || skip_all "a private Slurm cluster needs root (slurmd)"
	if ! "$HERE/cluster.sh" install >"$T/install.log" 2>&1; then
		skip_all "slurm is not installed and cannot be: $(tail -1 "$T/install.log")"
	fi
}

# cluster_up: start the cluster (one test point), load its environment.
cluster_up() {
	if ! "$HERE/cluster.sh" up "$C" >"$T/up.log" 2>&1; then
		diag "$(cat "$T/up.log")"
		ok 1 "single-node cluster starts"
		exit 1
	fi
	ok 0 "single-node cluster starts"
	. "$C/env"
}

# fake_start ARGS...: start one more fake endpoint; sets FAKE_URL.
fake_start() {
	node "$ROOT/tests/fake-endpoint.mjs" --lifetime "$FAKE_LIFETIME" "$@" >"$T/fake.port" 2>"$T/fake.err" &
	FAKE_PIDS="$FAKE_PIDS $!"
	for _ in $(seq 1 40); do [ -s "$T/fake.port" ] && break; sleep 0.25; done
	FAKE_URL=http://127.0.0.1:$(head -1 "$T/fake.port")
}
# stat_of FIELD: a counter of the newest fake endpoint.
stat_of() { curl -fsS "$FAKE_URL/_stats" | jq -r ".$1"; }
unz() { zstd -dcf -- "$1"; }

# wait_until SECONDS CMD...: poll CMD until it succeeds or time runs out.
wait_until() {
	local limit=$1 i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ "$i" -ge $((limit * 4)) ] && return 1
		sleep 0.25
	done
}
# jobs_of OUT STAGE: the job ids infty-slurm recorded for STAGE, in order.
jobs_of() { awk -F'\t' -v s="$2" '$1 == s { print $2 }' "$1/slurm/jobs.tsv"; }
in_queue() { [ -n "$(squeue -h -j "$(paste -sd, -)" -o %i 2>/dev/null)" ]; }
gone() { ! jobs_of "$1" "$2" | in_queue; }
reason_is() { [ "$(squeue -h -j "$1" -o %r 2>/dev/null | sort -u)" = "$2" ]; }
all_gone() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
