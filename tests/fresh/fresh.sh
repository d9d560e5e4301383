#!/bin/bash
# fresh.sh - make test-fresh: the README's set-up typed on a bare Debian 12.
# A `debootstrap --variant=minbase` chroot (no compiler, no make, no git, no
# curl) gets a clean clone of HEAD and ../shared, plus only what a machine's
# network needs: the host's apt sources and apt network options, resolver,
# npm registry settings and local CA certificates.  In it, as root: the
# README's set-up block exactly as written (the one prerequisite, then make
# run, make test), then the rest of CI (.ci/run, which sees INFTY_FRESH and
# does not start another chroot).  The chroot is always unmounted and removed.
#
#   fresh.sh check   exit 0 if test-fresh can run here, else print why, exit 1
#   fresh.sh run     the test; exit 0 only if every step passed
#
# Environment: FRESH_REV (commit to test, default HEAD), FRESH_MIRROR
# (default: the host's apt source for the suite), FRESH_CACHE (where the
# debootstrap tarball is kept between runs, default /var/cache/infty-fresh;
# "none" for no cache), FRESH_TMPDIR (where the chroot goes, default
# /var/tmp), FRESH_TIMEOUT (seconds for the steps in the chroot, default
# 2700), FRESH_KEEP_GOING=1 (run every step even after one failed; the result
# is still a failure), FRESH_PREP (shell commands run in the chroot before
# the README's: only to reproduce hand steps, a run with it proves nothing).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bookworm
CACHE=${FRESH_CACHE:-/var/cache/infty-fresh}
WORK=${FRESH_TMPDIR:-/var/tmp}
REV=${FRESH_REV:-HEAD}
TIMEOUT=${FRESH_TIMEOUT:-2700}

say() { echo "test-fresh: $*" >&2; }
die() { say "$*"; exit 2; }

# The host's apt source files that apt reads.
source_files() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ ! -f "$f" ] || echo "$f"
	done
}

# The first http(s) URI of a host apt source that carries $SUITE itself
# (not -updates or -security), from deb822 .sources or one-line .list files.
host_mirror() {
	local f
	for f in $(source_files); do
		case $f in *.sources) ;; *) continue ;; esac
		awk -v s="$SUITE" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") &&
			    enabled != "no" && uri ~ /^https?:\/\//) { print uri; found = 1; exit }
			types = suites = uri = enabled = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
			if (key == "types") types = $0
			else if (key == "suites") suites = $0
			else if (key == "uris") { split($0, a, " "); uri = a[1] }
			else if (key == "enabled") enabled = tolower($0)
		}
		END { if (!found) flush() }' "$f"
	done
	for f in $(source_files); do
		case $f in *.sources) ;; *) cat "$f" ;; esac
	done | awk -v s="$SUITE" '$1 == "deb" {
			i = 2
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s && $i ~ /^https?:\/\//) print $i
		}'
}
mirror() {
	if [ -n "${FRESH_MIRROR:-}" ]; then
		echo "${FRESH_MIRROR%/}"
		return
	fi
	local m
	m=$(host_mirror | head -n 1)
	m=${m:-http://deb.debian.org/debian}
	echo "${m%/}"
}

# Does the archive answer?  (Release file of the suite, 20 s at most.)
archive_answers() {
	local url
	url="$(mirror)/dists/$SUITE/Release"
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 20 "$url" 2>&1
	elif command -v python3 >/dev/null 2>&1; then
		python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read(1)' "$url" 2>&1 | tail -n 1
		return "${PIPESTATUS[0]}"
	else
		echo "neither curl nor python3 to ask $url"
		return 1
	fi
}

cmd_check() {
	if [ -n "${INFTY_FRESH:-}" ]; then
		echo "already inside a test-fresh chroot"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (debootstrap, chroot, mount)"
		return 1
	fi
	local why
	if ! why=$(archive_answers); then
		echo "the Debian archive does not answer ($(mirror)): $why"
		return 1
	fi
}

# --- the chroot and its teardown -------------------------------------------
root=
LOG=
FAILED=
child=

# Mount points at or below $root, deepest first.  (/proc/mounts escapes a
# space as \040; our mktemp paths have none.)
mounts_under() {
	awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r
}

# Processes whose root directory is the chroot (a daemon a test left behind,
# a step cut by the timeout): TERM, then KILL.  Only ours can be in there.
kill_inside() {
	local sig p r pids
	for sig in TERM KILL; do
		pids=
		for p in /proc/[0-9]*; do
			r=$(readlink "$p/root" 2>/dev/null) || continue
			case $r in "$root" | "$root"/*) pids="$pids ${p#/proc/}" ;; esac
		done
		[ -n "$pids" ] || return 0
		say "stopping what still runs in the chroot:$pids ($sig)"
		# shellcheck disable=SC2086
		kill -"$sig" $pids 2>/dev/null || true
		sleep 2
	done
}

unmount_all() {
	local m try
	for try in 1 2 3; do
		[ -n "$(mounts_under)" ] || return 0
		kill_inside
		for m in $(mounts_under); do
			umount "$m" 2>/dev/null || [ "$try" -lt 3 ] || umount -l "$m" 2>/dev/null || true
		done
	done
}

# Never rm -rf across a mount: remove only when /proc/mounts shows nothing
# below the chroot any more, and even then stay on its own filesystem.
cleanup() {
	local rc=$? left
	set +e
	trap - EXIT INT TERM HUP
	# Interrupted during the steps: timeout passes the TERM on to the
	# chroot's process group; kill_inside gets what left that group.
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		say "stopping the steps in the chroot"
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	[ -z "$LOG" ] || rm -rf "$LOG"
	if [ -n "$root" ] && [ -d "$root" ]; then
		unmount_all
		left=$(mounts_under)
		if [ -n "$left" ]; then
			say "still mounted, NOT removing $root: ${left//$'\n'/ }"
			[ "$rc" != 0 ] || rc=1
		else
			rm -rf --one-file-system "$root"
			[ ! -e "$root" ] || { say "could not remove $root"; [ "$rc" != 0 ] || rc=1; }
		fi
	fi
	exit "$rc"
}

# The debootstrap tarball (the .debs of minbase) is cached: a run downloads
# only when it is missing or older than 30 days; unpacking still installs
# everything from scratch.
base_tarball() {
	local tgz scratch
	tgz=$CACHE/$SUITE-minbase-$(dpkg --print-architecture).tgz
	if [ -s "$tgz" ] && [ -z "$(find "$tgz" -mtime +30)" ]; then
		echo "$tgz"
		return
	fi
	mkdir -p "$CACHE"
	scratch=$(mktemp -d "$WORK/infty-fresh-dl.XXXXXX")
	say "downloading the minbase packages from $MIRROR into $tgz"
	if ! debootstrap --variant=minbase --make-tarball="$tgz.$$.tmp" "$SUITE" "$scratch" "$MIRROR" \
		>"$LOG/debootstrap-download.log" 2>&1; then
		tail -n 20 "$LOG/debootstrap-download.log" >&2
		rm -rf --one-file-system "$scratch" "$tgz.$$.tmp"
		die "debootstrap --make-tarball failed"
	fi
	rm -rf --one-file-system "$scratch"
	mv "$tgz.$$.tmp" "$tgz"
	echo "$tgz"
}

make_root() {
	local tgz
	if [ "$CACHE" = none ]; then
		say "debootstrap --variant=minbase $SUITE from $MIRROR"
		debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$LOG/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$LOG/debootstrap.log" >&2; die "debootstrap failed"; }
		return
	fi
	tgz=$(base_tarball)
	say "debootstrap --variant=minbase --unpack-tarball $tgz"
	if ! debootstrap --variant=minbase --unpack-tarball="$tgz" "$SUITE" "$root" "$MIRROR" \
		>"$LOG/debootstrap.log" 2>&1; then
		tail -n 20 "$LOG/debootstrap.log" >&2
		# A damaged cache must not fail every later run: drop it.
		rm -f "$tgz"
		die "debootstrap --unpack-tarball failed (cached tarball removed; run again)"
	fi
}

# Network settings only, no software: apt sources (with the keys they name)
# and apt's Acquire options (proxy, snapshot validity), resolver, npm's
# registry settings, local CA certificates (picked up when the README's
# prerequisite installs ca-certificates), proxy variables.
copy_network() {
	local f k
	if [ -n "$(host_mirror)" ]; then
		rm -f "$root/etc/apt/sources.list"
		for f in $(source_files); do cp "$f" "$root$f"; done
		# The keyring files the sources name (Signed-By / signed-by=).
		# shellcheck disable=SC2046
		{ grep -h -o -i -E 'signed-by(=|: *)/[^] ,]+' $(source_files) || true; } |
			sed 's/^[^/]*//' | sort -u | while IFS= read -r k; do
				[ ! -f "$k" ] || [ -e "$root$k" ] || install -D -m 644 "$k" "$root$k"
			done
	fi
	for d in trusted.gpg.d keyrings auth.conf.d; do
		[ ! -d "/etc/apt/$d" ] || cp -a "/etc/apt/$d/." "$root/etc/apt/$d/"
	done
	for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
		if [ -f "$f" ] && grep -q -i "^[[:space:]]*acquire" "$f"; then cp "$f" "$root/etc/apt/apt.conf.d/"; fi
	done
	rm -f "$root/etc/resolv.conf"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	[ ! -f /etc/hosts ] || cp /etc/hosts "$root/etc/hosts"
	if [ -d /usr/local/share/ca-certificates ]; then
		mkdir -p "$root/usr/local/share/ca-certificates"
		cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
	fi
	if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
		install -D -m 644 "$NODE_EXTRA_CA_CERTS" "$root$NODE_EXTRA_CA_CERTS"
	fi
	# npm: the user's and the global npmrc, and the registry npm uses here.
	[ ! -f "$HOME/.npmrc" ] || install -m 600 "$HOME/.npmrc" "$root/root/.npmrc"
	: >"$root/etc/npmrc"
	for f in /etc/npmrc $(npm config get globalconfig 2>/dev/null || true); do
		[ ! -f "$f" ] || cat "$f" >>"$root/etc/npmrc"
	done
	k=$(npm config get registry 2>/dev/null || true)
	[ -z "$k" ] || echo "registry=$k" >>"$root/etc/npmrc"
}

# What the chroot needs mounted for apt, node, Slurm and the tests.  /sys
# whole, with the cgroup mounts below it (slurmd will not start without
# /sys/fs/cgroup).  The binds are slaves: what we mount or unmount below them
# never propagates back to the host's /dev or /sys.
mount_fs() {
	chmod 755 "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --make-rslave "$root/sys"
	mount --bind /dev "$root/dev"
	mount --make-rslave "$root/dev"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
	mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
}

# The README's set-up block: the first ```sh block after "## Set-up".
readme_setup() {
	awk '/^## Set-up/ { s = 1; next }
	     s && /^## / { exit }
	     s && /^```sh/ { b = 1; next }
	     b && /^```/ { exit }
	     b' "$1"
}

cmd_run() {
	local why src rev steps line pkgs t0
	t0=$SECONDS
	[ -z "${INFTY_FRESH:-}" ] || die "refusing to start a chroot inside the test-fresh chroot"
	[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
	# debootstrap, and git for the clean clone.
	"$top/scripts/install-deps.sh" fresh || die "cannot install debootstrap and git"
	MIRROR=$(mirror)
	why=$(archive_answers) || die "the Debian archive does not answer ($MIRROR): $why"
	rev=$(git -C "$top" rev-parse --verify "$REV^{commit}") || die "no commit '$REV' in $top"
	[ "$REV" != HEAD ] || [ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
		say "note: uncommitted changes in $top are not tested (clean clone of $rev)"

	mkdir -p "$WORK"
	LOG=$(mktemp -d "$WORK/infty-fresh-log.XXXXXX")
	root=$(mktemp -d "$WORK/infty-fresh.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	make_root
	say "minbase chroot ready in $((SECONDS - t0)) s: $root"
	mount_fs
	copy_network

	src=$root/root/infty
	git clone --quiet --no-hardlinks --no-checkout "$top" "$src"
	git -C "$src" checkout --quiet --detach "$rev"
	if [ -d "$top/../shared" ]; then
		cp -a "$top/../shared" "$root/root/shared"
	else
		say "note: no $top/../shared: the tests that need it will skip"
	fi

	# The steps: the README's set-up block as written, then the rest of CI.
	steps=$(readme_setup "$src/README.md")
	if [ -z "$steps" ]; then
		say "FAIL: README.md has no '## Set-up' section with a sh block (the one prerequisite and the commands)"
		steps='apt-get update && apt-get install -y make ca-certificates
make run
make test'
		FAILED="README set-up section"
	fi
	# The prerequisite is make and ca-certificates, nothing more.
	pkgs=$(printf '%s\n' "$steps" | grep -o 'apt-get install [^#;&|]*' |
		sed 's/apt-get install//' | tr ' ' '\n' | grep -v -E '^(-.*|)$' | sort -u | tr '\n' ' ')
	if [ "$pkgs" != "ca-certificates make " ]; then
		say "FAIL: the README's set-up installs '$pkgs', not just make and ca-certificates"
		FAILED="${FAILED:+$FAILED, }README prerequisite"
	fi
	for line in 'make run' 'make test'; do
		printf '%s\n' "$steps" | grep -q "^$line\\b" ||
			{ say "FAIL: the README's set-up has no '$line'"; FAILED="${FAILED:+$FAILED, }README '$line'"; }
	done

	{
		cat <<'EOF'
#!/bin/bash
# Written by tests/fresh/fresh.sh: each step as a user would type it.
cd /root/infty || exit 2
failed=
st=0
step() {
	local t0=$SECONDS rc=0
	echo "== fresh: $1"
	bash -c "$1" || rc=$?
	echo "== fresh: $1: exit $rc after $((SECONDS - t0)) s"
	[ $rc = 0 ] && return 0
	failed="$failed [$1]"
	st=1
	[ -n "${FRESH_KEEP_GOING:-}" ] || { echo "== fresh: FAILED:$failed"; exit 1; }
}
EOF
		[ -z "${FRESH_PREP:-}" ] || printf 'step %q\n' "$FRESH_PREP"
		printf '%s\n' "$steps" | grep -v -E '^[[:space:]]*(#|$)' | while IFS= read -r line; do
			printf 'step %q\n' "$line"
		done
		echo "step 'bash .ci/run'"
		# shellcheck disable=SC2016
		echo '[ $st = 0 ] || echo "== fresh: FAILED:$failed"; exit $st'
	} >"$root/root/fresh-steps.sh"

	say "running in the chroot: the README's set-up, then .ci/run (commit $rev)"
	local env_pass=() v rc=0
	while IFS= read -r v; do env_pass+=("$v"); done < <(env | grep -E \
		'^(https?_proxy|no_proxy|HTTPS?_PROXY|NO_PROXY|npm_config_[A-Za-z_]+|NPM_CONFIG_[A-Z_]+|NODE_EXTRA_CA_CERTS|CI)=' || true)
	# In the background, so that a signal to us is handled at once (bash
	# runs traps only after a foreground child ends): cleanup stops it.
	timeout -k 30 "$TIMEOUT" chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
		SHELL=/bin/bash TERM="${TERM:-dumb}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		INFTY_FRESH=1 FRESH_KEEP_GOING="${FRESH_KEEP_GOING:-}" "${env_pass[@]}" \
		/bin/bash /root/fresh-steps.sh </dev/null &
	child=$!
	wait "$child" || rc=$?
	child=
	[ "$rc" != 124 ] || say "FAIL: the steps in the chroot did not finish within $TIMEOUT s"
	[ -z "${FRESH_PREP:-}" ] || say "note: FRESH_PREP ran first; this run does not prove the README"
	say "wall time $((SECONDS - t0)) s"
	if [ "$rc" != 0 ] || [ -n "${FAILED:-}" ]; then
		say "FAILED${FAILED:+: $FAILED}"
		return 1
	fi
	say "passed"
}

case ${1:-} in
check) cmd_check ;;
run) cmd_run ;;
*) echo "usage: fresh.sh check | run" >&2; exit 2 ;;
esac
