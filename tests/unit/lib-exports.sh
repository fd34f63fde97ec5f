#!/bin/sh
# libbatsim exports bs_* symbols only (the ABI policy in docs/ABI.md), and
# every function declared in batsim.h is exported.
so=${abs_top_builddir:-.}/src/lib/.libs/libbatsim.so
hdr=${abs_top_srcdir:-.}/src/lib/batsim/batsim.h
command -v nm >/dev/null 2>&1 || { echo "nm not found: skipped"; exit 77; }
[ -f "$so" ] || { echo "$so not built (static build?): skipped"; exit 77; }
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	sed 's/@.*//' | sort -u)
fail=0
bad=$(printf '%s\n' "$syms" | grep -v '^bs_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
	echo "FAIL: exported symbols outside bs_*:"; echo "$bad"; fail=1
fi
for f in $(sed -n 's/.*[ *]\(bs_[a-z0-9_]*\)(.*/\1/p' "$hdr" | sort -u); do
	printf '%s\n' "$syms" | grep -qx "$f" ||
		{ echo "FAIL: $f declared in batsim.h but not exported"; fail=1; }
done
n=$(printf '%s\n' "$syms" | grep -c '^bs_')
echo "$n bs_* symbols exported"
exit $fail
