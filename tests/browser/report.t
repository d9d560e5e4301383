#!/bin/sh
# The report page in headless Chromium (make test-browser): a real run's
# trace opened by URL hash shows its segments and summaries once the page's
# script ran, the rejects view lists rejects, a trace holding "</script>"
# cannot break out of the data element, and a screenshot has the size asked.
. "$(dirname "$0")/../cli/lib.sh"
command -v chromium >/dev/null 2>&1 || skip_all "chromium not installed (make test-browser installs it as root)"
RUN=${INFTY_BROWSER_RUN:-}
[ -n "$RUN" ] && [ -d "$RUN/summarize/out" ] || skip_all "no run directory (make test-browser makes one)"
plan 12

chrome() { # chrome URL ARGS...: headless, no network, a fresh profile
	url=$1
	shift
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$T/prof.XXXXXX")" "$@" "$url" 2>>"$T/chrome.err"
}
data() { sed -n 's|.*<script type="application/json" id="data">\(.*\)</script>.*|\1|p' "$1"; }

infty-inspect report "$RUN" -o "$T/r.html"
ok $? "report of the sample run"
data "$T/r.html" >"$T/d.json"
id=$(jq -r '[.traces[] | select(.n > 2)][0].id' "$T/d.json")
n=$(jq -r --arg id "$id" '.traces[] | select(.id == $id) | .n' "$T/d.json")
hash=$(printf '%s' "$id" | jq -sRr @uri)

chrome "file://$T/r.html#trace=$hash" --dump-dom >"$T/dom.html"
ok $? "chromium dumps the DOM"
like "$(cat "$T/dom.html")" 'data-ready="1"' "the page's script ran to the end"
like "$(cat "$T/dom.html")" "class=\"trace-id\">$id<" "the trace named in the URL hash is open"
is "$(grep -o 'class="segment"' "$T/dom.html" | wc -l | tr -d ' ')" "$n" "its $n segments are shown"
is "$(grep -o 'class="summary"' "$T/dom.html" | wc -l | tr -d ' ')" "$((n - 1))" "with n - 1 = $((n - 1)) summaries"
like "$(cat "$T/dom.html")" 'Instances as the model sees them \([1-9]' "and its instances"

chrome "file://$T/r.html#rejects" --dump-dom >"$T/rej.html"
like "$(cat "$T/rej.html")" 'class="reject"><td>segment</td><td>no_think_close' "the rejects view lists rejects with reasons"

# Hostile text: a question that tries to close the data element and run code.
H=$T/hostile
mkdir -p "$H/summarize/out"
printf '%s\n' '{"id":"t1","question":"Q </script><script>document.title=\"pwned\"</script>","conclusion":"C","segments":[{"text":"a","tokens":1,"end":"paragraph","sep":"\n\n"},{"text":"b","tokens":1,"end":"final","sep":""}],"n":2,"summaries":[{"i":0,"text":"s","flags":["copy"]}]}' \
	>"$H/summarize/out/00000.jsonl"
infty-inspect report "$H" -o "$T/h.html"
chrome "file://$T/h.html#trace=t1" --dump-dom >"$T/hdom.html"
like "$(cat "$T/hdom.html")" '<title>infty report' "the injected script did not run"
like "$(cat "$T/hdom.html")" 'class="question">Q &lt;/script&gt;&lt;script&gt;document.title' \
	"the text is shown as text"
like "$(cat "$T/hdom.html")" 'class="flag">copy<' "a summary's flags are shown"

# A screenshot of the size asked, with content (a blank page compresses to little).
chrome "file://$T/r.html#trace=$hash" --window-size=1280,2000 --screenshot="$T/shot.png" >/dev/null
size=$(python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(); print(*struct.unpack('>II', d[16:24]), len(d))" "$T/shot.png" 2>/dev/null)
set -- $size
[ "${1:-0}" = 1280 ] && [ "${2:-0}" = 2000 ] && [ "${3:-0}" -gt 30000 ]
ok $? "the screenshot is 1280x2000 and not blank ($size)"
[ "$_failed" -eq 0 ] || diag "$(grep -v -e dbus -e 'unexpected operator' "$T/chrome.err" | tail -5)"
