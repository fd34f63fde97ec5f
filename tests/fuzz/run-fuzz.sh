#!/bin/sh
# tests/fuzz/run-fuzz.sh [BUILDDIR] - run every libFuzzer target of
# tests/fuzz over its committed seed corpus (tests/fuzz/corpus/NAME, read
# only: new inputs go to a temporary directory) for a fixed number of runs
# with a fixed seed.  A crash, a sanitizer report, a leak or a hang (no
# answer within FUZZ_TIMEOUT_S) fails; the reproducer is kept under
# BUILDDIR/tests/fuzz/artifacts/ and its command line printed.
# Run by `make check` in a build with libFuzzer (configure with CC=clang)
# and by scripts/test-all; skips (77) when the targets are not built.
#
# Environment:
#   FUZZ_RUNS        runs per target (default 2000, fuzz_httpd a quarter)
#   FUZZ_TIME        seconds per target instead of a run count
#                    (-max_total_time; e.g. 3600 for a long run)
#   FUZZ_SEED        libFuzzer -seed (default 1)
#   FUZZ_TARGETS     the targets to run (default: all), e.g. "conf ocv"
#   FUZZ_TIMEOUT_S   per-input hang limit (default 60)
#   FUZZ_KEEP=DIR    keep the corpus grown by the run in DIR/NAME (to
#                    look at it, or to add the interesting inputs to
#                    tests/fuzz/corpus)
set -u
b=${1:-${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}}
s=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
runs=${FUZZ_RUNS:-2000}
seed=${FUZZ_SEED:-1}
targets=${FUZZ_TARGETS:-shm conf ocv profile control httpd modbusd}
art=$b/tests/fuzz/artifacts
built=0 failed=0

for t in $targets; do
	[ -x "$b/tests/fuzz/fuzz_$t" ] && built=$((built + 1))
done
if [ $built = 0 ]; then
	echo "SKIP: no fuzz target built in $b (they need clang with -fsanitize=fuzzer: configure CC=clang)"
	exit 77
fi
tmp=$(mktemp -d /tmp/bs-run-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$art"
# leaks fail (LeakSanitizer); UBSan reports abort (built with
# -fno-sanitize-recover); a report names its stack
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1"

for t in $targets; do
	bin=$b/tests/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "not ok - fuzz_$t: not built"
		failed=$((failed + 1))
		continue
	fi
	n=$runs
	[ $t = httpd ] && n=$(( (runs + 3) / 4 ))
	if [ -n "${FUZZ_TIME:-}" ]; then limit="-max_total_time=$FUZZ_TIME"
	else limit="-runs=$n"; fi
	dict=
	[ -f "$s/tests/fuzz/$t.dict" ] && dict="-dict=$s/tests/fuzz/$t.dict"
	out=${FUZZ_KEEP:+$FUZZ_KEEP/$t}
	out=${out:-$tmp/$t}
	mkdir -p "$out"
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" $limit -seed="$seed" -timeout="${FUZZ_TIMEOUT_S:-60}" \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/$t-" $dict \
		"$out" "$s/tests/fuzz/corpus/$t" >"$tmp/$t.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$tmp/$t.log" | tail -1 |
		sed 's/^#\([0-9]*\).*cov: \([0-9]*\).*corp: \([0-9]*\).*/\1 runs, coverage \2, corpus \3/')
	if [ $rc = 0 ] && ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$tmp/$t.log"; then
		echo "ok - fuzz_$t: ${stats:-done} in ${secs} s"
	else
		failed=$((failed + 1))
		echo "not ok - fuzz_$t: exit $rc after ${secs} s"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^    #[0-9]' "$tmp/$t.log" | head -30 | sed 's/^/#   /'
		for a in "$art/$t-"*; do
			[ -e "$a" ] || continue
			echo "#   reproduce: $bin $a"
		done
	fi
done
[ $failed = 0 ]
