#!/bin/sh
# make install gives a tree that works from any directory and can be moved:
# the tools find their prompts and tokenizer next to themselves
# (<bin>/../share/infty) or in $INFTY_HOME, never at a path of the build
# machine (issue 13).
. "$(dirname "$0")/lib.sh"
[ -f "$INFTY_TOKENIZER_DEFAULT" ] || skip_all "no tokenizer at $INFTY_TOKENIZER_DEFAULT (make tokenizer)"
plan 8

run make -s --no-print-directory -C "$ROOT" install BUILD="$BUILD" DESTDIR="$T/dest" PREFIX=/opt/infty
is_rc 0 "make install DESTDIR=… PREFIX=/opt/infty"
mv "$T/dest/opt/infty" "$T/moved" || exit 1
P=$T/moved
ROWS=$ROOT/data/openr1_math_messages_sample.jsonl
cd "$T" || exit 1
# Only the installed tools on PATH, run from a directory with no prompts/.
run env PATH="$P/bin:/usr/bin:/bin" INFTY_TOKENIZER= sh -c \
	"infty-segment -q -e 512 '$ROWS' | infty-summarize -q --backend extractive | infty-build -q | wc -l"
is_rc 0 "the moved tree's tools run the stages from another directory"
[ "$OUT" -gt 10 ]; ok $? "and make instances ($OUT)"
run env INFTY_TOKENIZER= "$P/bin/infty-summarize" --endpoint http://127.0.0.1:9/v1 --model m \
	--ready-timeout 0.1 -q </dev/null
unlike "$ERR" "prompt" "infty-summarize finds the installed prompts (no --prompt-dir)"
is "$(env INFTY_TOKENIZER= "$P/bin/infty-tok" --hash)" "$(infty-tok -t "$INFTY_TOKENIZER_DEFAULT" --hash)" \
	"the default tokenizer is the installed copy"
rm "$P/share/infty/tokenizer.json"
run env INFTY_TOKENIZER= "$P/bin/infty-segment" -q </dev/null
is_rc 2 "without its tokenizer the installed tree does not fall back to the build machine's"
like "$ERR" "$P/share/infty/tokenizer.json" "and names the file it looked for"
mkdir -p "$T/home" && cp -R "$ROOT/prompts" "$T/home/" && cp "$INFTY_TOKENIZER_DEFAULT" "$T/home/tokenizer.json"
run env INFTY_TOKENIZER= INFTY_HOME="$T/home" "$P/bin/infty-segment" -q -e 512 "$ROWS"
is_rc 0 "INFTY_HOME names another home"
