# lib.sh - TAP helpers for the CLI tests; each tests/cli/*.t sources it.
#
#   . "$(dirname "$0")/lib.sh"
#   plan 3
#   run infty-segment --help;  is_rc 0 "help exits 0"
#   like "$OUT" "usage:" "help mentions usage"
#
# run CMD... executes CMD with build/bin first on PATH and stores stdout in
# $OUT, stderr in $ERR, the exit status in $RC.  A scratch directory $T is
# created per test file and removed at exit.

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${INFTY_BUILD:-$ROOT/build}
PATH=$BUILD/bin:$PATH
export PATH
SHARED=${INFTY_SHARED:-$ROOT/../shared}
FIXTURES=$ROOT/tests/fixtures
T=$(mktemp -d "${TMPDIR:-/tmp}/infty-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_failed=0

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
ok() { # ok COND-RC DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else
		echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $1"; }
diag() { printf '# %s\n' "$@" | sed '2,$s/^/# /' >&2; }

run() {
	"$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}
is_rc() {
	[ "$RC" -eq "$1" ]; _r=$?
	ok $_r "$2"
	[ $_r -eq 0 ] || diag "exit status $RC, wanted $1; stderr: $ERR"
}
is() { # is GOT WANT DESC
	[ "$1" = "$2" ]; _r=$?
	ok $_r "$3"
	[ $_r -eq 0 ] || diag "got:  '$1'" "want: '$2'"
}
like() { # like TEXT PATTERN(grep -E) DESC
	printf '%s' "$1" | grep -Eq -- "$2"; _r=$?
	ok $_r "$3"
	[ $_r -eq 0 ] || diag "no match for /$2/ in: $(printf '%s' "$1" | head -c 400)"
}
unlike() {
	printf '%s' "$1" | grep -Eq -- "$2"; _r=$?
	[ $_r -ne 0 ]; _r=$?
	ok $_r "$3"
	[ $_r -eq 0 ] || diag "unexpected match for /$2/"
}
same_file() { # same_file GOT WANT DESC
	cmp -s "$1" "$2"; _r=$?
	ok $_r "$3"
	[ $_r -eq 0 ] || diag "$(diff -u "$2" "$1" | head -40)"
}
# Decompress-or-cat any JSONL(.zst) file to stdout.
cat_jsonl() { zstd -dcf -- "$1"; }
# Count lines of a JSONL(.zst) file.
count_lines() { zstd -dcf -- "$1" | wc -l | tr -d ' '; }
# wait_for SECONDS CMD...: run CMD every 0.05 s until it succeeds, for
# SECONDS at most (a whole number); 1 when it never did.
wait_for() {
	_w=$(($1 * 20))
	shift
	until "$@"; do
		[ "$_w" -gt 0 ] || return 1
		sleep 0.05
		_w=$((_w - 1))
	done
}
# No process of group $1 is left (pgrep finds none).
group_gone() { ! pgrep -g "$1" >/dev/null 2>&1; }
# Some summarize cache file under run $1 holds an answer.
has_cache() { find "$1/summarize/cache" -name '*.zst' -size +0 2>/dev/null | grep -q .; }
have_shared_data() { [ -f "$SHARED/data/corpus/reasoning_traces.jsonl.zst" ]; }
