#!/bin/bash
# 30-with-server.t - scripts/infty-with-server, the per-element server of
# topology (b): readiness wait, {port} substitution, the command's exit
# status, and the server stopped afterwards whatever happened.  No cluster.
. "$(dirname "$0")/../cli/lib.sh"
W=$ROOT/scripts/infty-with-server
command -v python3 >/dev/null || skip_all "python3 is needed for a stand-in server"
plan 12

mkdir -p "$T/www"
echo "hello from the server" >"$T/www/marker"
SERVER="python3 -m http.server {port} --bind 127.0.0.1 --directory $T/www"
run "$W" --server="$SERVER" --health='http://127.0.0.1:{port}/marker' --timeout=30 -- \
	sh -c 'echo "port=$1"; curl -fsS "http://127.0.0.1:$1/marker"' sh '{port}'
is_rc 0 "the command runs once the server is ready"
like "$OUT" "hello from the server" "the command reached the server"
port=$(printf '%s\n' "$OUT" | sed -n 's/^port=//p')
like "$port" '^[0-9]+$' "{port} in the command became a port"
like "$ERR" "server ready on port $port" "readiness is reported"
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
ok $((!$?)) "the server is stopped after the command"

run "$W" --server="$SERVER" --health='http://127.0.0.1:{port}/marker' -- sh -c 'exit 3'
is_rc 3 "the command's exit status is passed on"

run "$W" --server='exit 7' --health='http://127.0.0.1:{port}/' -- true
is_rc 1 "a server that dies before it is ready exits 1"
like "$ERR" "server exited before it was ready" "and says so"

tag="sleep 41.$$"
start=$SECONDS
run "$W" --server="$tag" --health='http://127.0.0.1:{port}/' --timeout=2 -- true
is_rc 1 "a server never ready exits 1"
[ $((SECONDS - start)) -lt 15 ]
ok $? "after the --timeout, not later"
sleep 0.5
# pgrep exits 1 for "no such process"; anything else (127: no pgrep) fails.
pgrep -f "^$tag\$" >/dev/null
[ $? -eq 1 ]; ok $? "the server that never got ready is stopped"

run "$W" --server=true -- true
is_rc 2 "--health is required"
