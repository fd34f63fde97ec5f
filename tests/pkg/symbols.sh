#!/bin/sh
# tests/pkg/symbols.sh - the exported symbols of libbatsim, the functions
# declared in batsim/batsim.h and debian/libbatsim0.symbols must agree:
# a function added to the API without updating the symbols file (or the
# other way round) fails here, before dpkg-gensymbols fails the package
# build.  Run by `make check`.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
so=$top_builddir/src/lib/.libs/libbatsim.so
hdr=$top_srcdir/src/lib/batsim/batsim.h
sym=$top_srcdir/debian/libbatsim0.symbols
for f in "$hdr" "$sym"; do
	[ -f "$f" ] || { echo "SKIP: $f not found (not in this tree)"; exit 77; }
done
[ -f "$so" ] || { echo "SKIP: $so not built (shared library disabled?)"; exit 77; }
command -v nm >/dev/null 2>&1 || { echo "SKIP: nm not found (binutils)"; exit 77; }

tmp=${TMPDIR:-/tmp}/batsim-symbols.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$so" | awk '$2 ~ /^[TtWDdBbRrVvi]$/ {print $3}' | sort -u >"$tmp/so"
# Declarations "type bs_name(" in the header, comments stripped.
sed 's@/\*.*\*/@@g' "$hdr" | grep -oE '\bbs_[a-z0-9_]+[[:space:]]*\(' |
	sed 's/[[:space:](]//g' | sort -u >"$tmp/h"
sed -n 's/^ \(bs_[A-Za-z0-9_]*\)@Base .*/\1/p' "$sym" | sort -u >"$tmp/sym"

rc=0
report() { # title file
	if [ -s "$2" ]; then
		echo "$1:"; sed 's/^/  /' "$2"; rc=1
	fi
}
comm -23 "$tmp/so" "$tmp/h" >"$tmp/d1"
report "exported by libbatsim.so but not declared in batsim.h (hide them or declare them)" "$tmp/d1"
comm -13 "$tmp/so" "$tmp/h" >"$tmp/d2"
report "declared in batsim.h but not exported by libbatsim.so (implement them)" "$tmp/d2"
comm -23 "$tmp/so" "$tmp/sym" >"$tmp/d3"
report "exported but missing from debian/libbatsim0.symbols (add ' NAME@Base VERSION')" "$tmp/d3"
comm -13 "$tmp/so" "$tmp/sym" >"$tmp/d4"
report "in debian/libbatsim0.symbols but not exported (a removed symbol breaks the ABI: bump the soname)" "$tmp/d4"
n=$(wc -l <"$tmp/so")
[ $rc = 0 ] && echo "PASS: $n symbols agree (libbatsim.so, batsim.h, debian/libbatsim0.symbols)"
exit $rc
