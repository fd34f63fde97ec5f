#!/bin/sh
# tests/timeout.sh - run one test under a time limit, so that a test that
# hangs (a daemon that never answers, a wait that never returns) fails with
# a message instead of stopping `make check` and the CI run with it.
#
# The limit is TEST_TIMEOUT seconds (default 900, far above any test's
# duration even under ASan on 2 cores; it is a safety net, never a speed
# assertion).  timeout(1) runs the test in its own process group and signals
# the whole group, so the daemons a test started end with it.
t=${TEST_TIMEOUT:-900}
timeout -k 30 "$t" "$@"
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "not ok - $* did not finish within $t s (TEST_TIMEOUT) and was killed"
	echo "$*: did not finish within $t s (TEST_TIMEOUT); killed" >&2
fi
exit $rc
