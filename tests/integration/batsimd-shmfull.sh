#!/bin/sh
# tests/integration/batsimd-shmfull.sh - batsimd with a /dev/shm too small
# for its legacy mirror: a clear error at start, never SIGBUS at the first
# write.  Runs in a private mount namespace (unshare -m) with a small
# tmpfs on /dev/shm; skips (77) where that is not allowed (not root, no
# unshare).
. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"

BATSIMD=$b/src/batsimd/batsimd
need "$BATSIMD"
command -v unshare >/dev/null 2>&1 || { echo "SKIP: no unshare (util-linux)"; exit 77; }
unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs /dev/shm' 2>/dev/null ||
	{ echo "SKIP: cannot mount a private /dev/shm (needs root)"; exit 77; }

# 4000 cells: the main segment (3 slots with the abi_minor 2 extension
# regions) takes 352 KiB and fits in 380 KiB; the 80000-byte legacy
# mirror then does not.
cat >"$tmp/conf" <<CONF
racks = 4
modules_per_rack = 10
cells_per_module = 100
shm_name = /bs-test-shmfull
legacy_shm_name = /bs-test-shmfull-legacy
control_socket = $tmp/ctl.sock
speed = 0
CONF
unshare -m sh -c 'mount -t tmpfs -o size=380k tmpfs /dev/shm && exec "$0" --config "$1" --duration 5' \
	"$BATSIMD" "$tmp/conf" >"$tmp/log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ]; then
	ok "a full /dev/shm for the legacy mirror: exit $rc, no signal"
else
	notok "a full /dev/shm for the legacy mirror: exit $rc (128+N is a signal: SIGBUS is 135)"
	show "$tmp/log"
fi
if grep -q 'legacy_shm_name /bs-test-shmfull-legacy: cannot reserve' "$tmp/log"; then
	ok "the error names the legacy segment and the reason"
else
	notok "the error names the legacy segment and the reason"
	show "$tmp/log"
fi
finish
