# mk/fresh.mk - make test-fresh: the README's set-up on a bare Debian 12
# (tests/fresh/fresh.sh).  As root: a `debootstrap --variant=minbase
# bookworm` chroot with a clean clone of HEAD and ../shared, the host's apt
# sources, resolver, npm registry settings and local CA certificates, and
# nothing else; in it the README's set-up block as written (make and
# ca-certificates, make run, make test), then the rest of .ci/run.  Installs
# debootstrap when missing.  The chroot is always unmounted and removed; the
# debootstrap tarball is kept in FRESH_CACHE (/var/cache/infty-fresh).
# Needs no build on the host (a NOCONFIG goal).  10 to 20 minutes on 2 cores.
.PHONY: test-fresh
test-fresh:
	$(Q)tests/fresh/fresh.sh run
