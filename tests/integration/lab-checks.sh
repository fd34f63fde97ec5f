#!/bin/sh
# tests/integration/lab-checks.sh - the lab tests of a cell on a one-cell
# lfp280 site through the real batsimd (hysteresis gap, 10 s DCIR,
# capacity at 0 and 25 degC, CC-CV charge, derating without oscillation);
# tests/integration/lab-checks.py runs them and compares each figure with
# its reference (docs/MODEL.md).
set -u

: "${abs_top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_srcdir:=$abs_top_builddir}"
BATSIMD=$abs_top_builddir/src/batsimd/batsimd

command -v python3 >/dev/null 2>&1 || {
	echo "SKIP: python3 is needed for the lab checks"
	exit 77
}
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

tmp=$(mktemp -d /tmp/batsim-lab-checks.XXXXXX)
shm=/batsim-test-lab-$$
trap 'rm -f "/dev/shm$shm"; rm -rf "$tmp"' EXIT INT TERM
python3 "$abs_top_srcdir/tests/integration/lab-checks.py" "$BATSIMD" "$tmp" \
	"$shm"
