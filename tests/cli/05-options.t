#!/bin/sh
# One option table per tool gives its parsing and its --help; here each
# tool's --help is held to its man page (SYNOPSIS and OPTIONS: the same
# forms, the same options, the same argument names) and to the one
# vocabulary (-o/--output, -r/--rejects, -s/--stats, -j/--threads,
# -q/--quiet, -t/--tokenizer, -h/--help, -V/--version).  See
# tests/cli/options-check.py.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not found"
TOOLS="shard segment summarize build inspect tok"
plan $(($(echo $TOOLS | wc -w) * 3))

for t in $TOOLS; do
	run python3 "$ROOT/tests/cli/options-check.py" "infty-$t" "$ROOT/docs/man/infty-$t.1"
	is "$RC:$OUT" "0:" "infty-$t: --help and infty-$t(1) agree"
	run "infty-$t" --help
	like "$RC:$(printf "%s" "$OUT" | head -1)" "^0:usage: infty-$t " "infty-$t --help: stdout, exit 0"
	run "infty-$t" --version
	is "$RC:$OUT" "0:infty-$t $(cat "$ROOT/VERSION")" "infty-$t --version"
done
