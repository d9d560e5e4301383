#!/bin/sh
# Check, and as root install, the Debian packages infty needs, by what each
# goal really uses: the build is checked by compiling and linking a probe
# against every library (a compiler without libc6-dev, or a library whose .pc
# file is there but not its header, fails here and not in the middle of the
# build); tools are checked by their commands.
#
# usage: install-deps.sh [--cc CC] [--sanitize LIST] [--config FILE] SET...
#   build      compiler, C library headers, pkg-config, json-c, libcurl,
#              utf8proc, zstd, OpenMP, cmocka (the unit tests link it)
#   tokenizer  npm and the CA bundle (scripts/fetch-tokenizer.sh)
#   pipeline   zstd (make convert: scripts/pipeline, scripts/infty-shard)
#   run        make run: the tokenizer and pipeline sets
#   test       what make test and the cluster tests call: prove, python3,
#              node, jq, curl, pgrep (and the run set)
#   style      clang-format and git (make style, make style-check)
#   bench      /usr/bin/time, python3, node, npm, zstd (make bench-*)
#   fresh      debootstrap and git (make test-fresh, tests/fresh/fresh.sh)
#   all        every set above but fresh
# --config FILE writes the flags of the build set there, only once every
# probe passes, so a failed check leaves no stale configuration behind and
# the next make runs this again.
#
# As root: the missing packages of the sets asked for are installed with
# apt-get (--no-install-recommends), then everything is checked again.
# Not root: one line names the missing packages and the exact command, and
# the exit status is 2.  Exit 0 when everything is there.
set -eu

cc=${CC:-cc}
sanitize=
config=
sets=
while [ $# -gt 0 ]; do
	case $1 in
	--cc) cc=$2; shift 2 ;;
	--sanitize) sanitize=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	build | tokenizer | pipeline | test | style | bench | fresh) sets="$sets $1"; shift ;;
	run) sets="$sets tokenizer pipeline"; shift ;;
	all) sets="$sets build tokenizer pipeline test style bench"; shift ;;
	*) echo "install-deps.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$sets" ] || sets=" build"
want() { case " $sets " in *" $1 "*) return 0 ;; esac; return 1; }

# The pkg-config modules infty links, with their Debian package, one header
# and one function: the probe includes the header and calls the function.
PC_LIBS='json-c libjson-c-dev json-c/json.h json_object_new_object();
libcurl libcurl4-openssl-dev curl/curl.h curl_version();
libutf8proc libutf8proc-dev utf8proc.h utf8proc_version();
libzstd libzstd-dev zstd.h ZSTD_versionNumber();
cmocka libcmocka-dev cmocka.h _cmocka_run_group_tests("p",0,0,0,0);'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/infty-deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }
missing=
why=
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }

# probe NAME FLAGS... : compile and link $tmp/NAME.c; keep the first error
# line of the compiler (what a user would have hit) in $why.
probe() {
	_name=$1
	shift
	# shellcheck disable=SC2086
	if "$cc" $san_flags -o "$tmp/$_name" "$tmp/$_name.c" "$@" >"$tmp/$_name.log" 2>&1; then
		return 0
	fi
	why="$why
  $_name: $(grep -m1 -E 'error|undefined reference|not found' "$tmp/$_name.log" ||
		head -n 1 "$tmp/$_name.log")"
	return 1
}

check_build() {
	san_flags=${sanitize:+-fsanitize=$sanitize}
	compiler=gcc
	case $cc in *clang*) compiler=clang ;; esac
	base=1
	if ! have "$cc"; then
		case $cc in
		cc | gcc | clang) add "$compiler" && add libc6-dev ;;
		*) why="$why
  compiler '$cc' not found" ;;
		esac
		base=0
	else
		printf '#include <errno.h>\n#include <math.h>\n#include <stdio.h>\n%s\n' \
			'int main(void) { printf("%d %f\n", errno, sqrt(2.0)); return 0; }' >"$tmp/libc.c"
		if ! probe libc -lm -lpthread; then
			add libc6-dev
			base=0
		fi
	fi
	if ! have pkg-config; then
		add pkg-config
		base=0
	fi
	if [ $base = 1 ]; then
		printf '#include <omp.h>\n%s\n' \
			'int main(void) { int n = 0;
#pragma omp parallel reduction(+ : n)
	n++;
	return n > 0 && omp_get_max_threads() > 0 ? 0 : 1; }' >"$tmp/openmp.c"
		if ! probe openmp -fopenmp; then
			case $compiler in clang) add libomp-dev ;; *) add "$compiler" ;; esac
		fi
	fi
	while read -r mod pkg hdr call; do
		if ! have pkg-config || ! pkg-config --exists "$mod" 2>/dev/null; then
			add "$pkg"
			continue
		fi
		# Without a working compiler only pkg-config can tell.
		[ $base = 1 ] || continue
		{
			[ "$mod" = cmocka ] && printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n'
			printf '#include <%s>\nint main(void) { (void)%s return 0; }\n' "$hdr" "$call"
		} >"$tmp/$mod.c"
		# shellcheck disable=SC2046
		probe "$mod" $(pkg-config --cflags --libs "$mod") || add "$pkg"
	done <<EOF
$PC_LIBS
EOF
	return 0
}

# need COMMAND PACKAGE: the command is on PATH, or the package provides it.
need() { have "$1" || add "$2"; }
check_tools() {
	if want tokenizer || want test || want bench; then
		need npm npm
		[ -f /etc/ssl/certs/ca-certificates.crt ] || add ca-certificates
	fi
	if want pipeline || want test || want bench; then
		need zstd zstd
	fi
	if want test || want bench; then
		need python3 python3
		need node nodejs
	fi
	if want test; then
		need prove perl
		need jq jq
		need curl curl
		need pgrep procps
	fi
	if want style; then
		need clang-format clang-format
		need git git
	fi
	if want bench; then
		# The benchmarks read peak RSS from GNU time, not the shell keyword.
		[ -x /usr/bin/time ] || add time
	fi
	if want fresh; then
		need debootstrap debootstrap
		need git git
	fi
}

check() {
	missing=
	why=
	want build && check_build
	check_tools
}

write_config() {
	[ -n "$config" ] || return 0
	mkdir -p "$(dirname "$config")"
	{
		printf 'DEP_CFLAGS := %s\n' "$(pkg-config --cflags json-c libcurl libutf8proc libzstd)"
		printf 'DEP_LIBS := %s\n' "$(pkg-config --libs json-c libcurl libutf8proc libzstd)"
		printf 'CMOCKA_CFLAGS := %s\n' "$(pkg-config --cflags cmocka)"
		printf 'CMOCKA_LIBS := %s\n' "$(pkg-config --libs cmocka)"
	} >"$config.tmp"
	mv "$config.tmp" "$config"
}

# Not fixable by apt: a compiler named by CC that is not a Debian command,
# or a probe that still fails with every package in place.
give_up() {
	echo "infty: the build environment does not work:$why" >&2
	exit 2
}

# Two installs at once (make -j, two checkouts) would fight over dpkg's lock:
# take ours first, then look, so the second one finds the work done.
if [ "$(id -u)" = 0 ] && have flock; then
	lockdir=/run/lock
	[ -d "$lockdir" ] || lockdir=${TMPDIR:-/tmp}
	exec 9>"$lockdir/infty-install-deps.lock"
	flock 9
fi

check
if [ -z "$missing" ]; then
	[ -z "$why" ] || give_up
	write_config
	exit 0
fi

line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "infty: missing Debian packages:$missing; as root run: apt-get update && $line" >&2
	exit 2
fi

echo "infty: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's and dpkg's chatter goes to a log, shown only when something fails.
log=$tmp/apt.log
apt_install() {
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $missing >"$log" 2>&1
}
# Package lists may be absent (container images) or stale (a 404 on a
# superseded version): refresh them only when the first try fails.
if ! apt_install; then
	apt-get update -qq >"$log" 2>&1 ||
		{ cat "$log" >&2; echo "infty: 'apt-get update' failed" >&2; exit 2; }
	apt_install || { cat "$log" >&2; echo "infty: '$line' failed" >&2; exit 2; }
fi
echo "infty: installed$missing" >&2

installed=$missing
check
if [ -n "$missing" ] || [ -n "$why" ]; then
	[ -z "$missing" ] || why="$why
  still missing after installing$installed:$missing"
	give_up
fi
write_config
