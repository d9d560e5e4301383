#!/bin/sh
# Install the Debian packages infty builds and tests with, but only when
# pkg-config (or the command) cannot find them.  Called by make through
# build/config.mk; safe to run by hand.  Exit 2 when packages are missing and
# we are not root, after printing the exact apt-get line to run.
set -eu

missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }

need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
	need_pc json-c libjson-c-dev
	need_pc libcurl libcurl4-openssl-dev
	need_pc libutf8proc libutf8proc-dev
	need_pc libzstd libzstd-dev
	need_pc cmocka libcmocka-dev
else
	missing="$missing libjson-c-dev libcurl4-openssl-dev libutf8proc-dev libzstd-dev libcmocka-dev"
fi
need_cmd cc gcc
need_cmd zstd zstd
need_cmd prove perl
need_cmd python3 python3
need_cmd npm npm

[ -z "$missing" ] && exit 0

line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "infty: missing Debian packages:$missing" >&2
	echo "infty: run as root:  $line" >&2
	exit 2
fi
echo "infty: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's and dpkg's progress goes to a log, shown only when something fails.
log=$(mktemp "${TMPDIR:-/tmp}/infty-apt.XXXXXX")
trap 'rm -f "$log"' EXIT
# The package lists may be absent on a fresh image; refresh them once.
apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; echo "infty: apt-get update failed" >&2; exit 2; }
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1 ||
	{ cat "$log" >&2; echo "infty: '$line' failed" >&2; exit 2; }
echo "infty: installed$missing" >&2
