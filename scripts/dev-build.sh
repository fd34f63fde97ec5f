#!/bin/sh
# scripts/dev-build.sh BUILDDIR [configure options...]
# Developer build in its own directory (VPATH), so that several people can
# build one source tree at once: autoreconf runs under a lock, configure
# with --disable-maintainer-mode (no automatic regeneration in srcdir).
# Re-run it after editing configure.ac, Makefile.am or any local.mk.
set -e
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: scripts/dev-build.sh BUILDDIR [configure options]}
shift
mkdir -p "$build"
build=$(cd "$build" && pwd)
(
	flock 9
	cd "$src"
	stamp=.autoreconf-stamp
	need=no
	[ -x configure ] && [ -f Makefile.in ] || need=yes
	if [ $need = no ]; then
		for f in configure.ac Makefile.am m4/*.m4 */*.mk */*/*.mk; do
			[ -e "$f" ] && [ "$f" -nt $stamp ] && need=yes
		done
	fi
	if [ $need = yes ]; then
		autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
		touch $stamp
	fi
) 9>/tmp/batsim-autoreconf.lock
cd "$build"
if [ ! -f Makefile ] || [ "$src/configure" -nt config.status ] || [ $# -gt 0 ]; then
	"$src/configure" --disable-maintainer-mode --enable-silent-rules "$@" >configure.out 2>&1 || {
		tail -30 configure.out; exit 1; }
fi
make -j2
