#!/bin/sh
# Hostile input against batsim-httpd(8): tests/fuzz/http-fuzz.py (python3
# standard library, raw sockets to 127.0.0.1 only, seeded, bounded) against
# the real server serving the test writer, with /control forwarded to a
# fake batsimd (tests/integration/fake-batsimd.py).  The server must stay
# alive, answer /healthz after every batch, answer parsable requests with
# JSON errors of the right status, and exit 0 on SIGTERM at the end.
# Run by `make check` (exit 0 pass, 77 skip, else fail).
# Environment: HTTP_FUZZ_SEED (default 1), HTTP_FUZZ_COUNT (default 150).

b=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
s=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
for p in "$HD" "$TW"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 not installed"; exit 77; }

N=/bs-test-fuzz-$$
tmp=$(mktemp -d)
wpid= hpid= fpid=
cleanup() {
	for p in $wpid $hpid $fpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$PY" -c "import os,sys
try: os.unlink('/dev/shm' + sys.argv[1])
except OSError: pass" "$N"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

TOKEN=fuzz-$$-token
MAX_PER_IP=8
TIMEOUT_S=3
printf '%s\n' "$TOKEN" >"$tmp/token"
cat >"$tmp/conf" <<CONF
http_max_per_ip = $MAX_PER_IP
http_max_connections = 64
http_timeout_s = $TIMEOUT_S
http_stale_ms = 2000
http_token_file = $tmp/token
control_socket = $tmp/ctl.sock
CONF

"$TW" --name "$N" --topology 3x4x5 --period-ms 100 --create 2>"$tmp/w.log" &
wpid=$!
"$PY" "$s/tests/integration/fake-batsimd.py" "$tmp/ctl.sock" "$tmp/ctl.log" normal &
fpid=$!
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" \
	--www "$s/data/www" --chartjs "$s/data/www" 2>"$tmp/h.log" &
hpid=$!
i=0
until grep -q 'listening on http://127.0.0.1' "$tmp/h.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "not ok - batsim-httpd did not start"; sed 's/^/#   /' "$tmp/h.log"; exit 1; }
	sleep 0.1
done
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/h.log" | head -1)

"$PY" "$s/tests/fuzz/http-fuzz.py" --port "$port" --pid "$hpid" \
	--token "$TOKEN" --max-per-ip $MAX_PER_IP --timeout-s $TIMEOUT_S \
	--seed "${HTTP_FUZZ_SEED:-1}" --count "${HTTP_FUZZ_COUNT:-150}" \
	--time-limit 25
rc=$?

kill -TERM $hpid
wait $hpid
hrc=$?
hpid=
if [ $hrc = 0 ]; then echo "ok - batsim-httpd exits 0 on SIGTERM after the fuzzing"
else echo "not ok - batsim-httpd exit status $hrc after SIGTERM"; rc=1; fi
if grep -Eq 'AddressSanitizer|runtime error|Segmentation|Aborted' "$tmp/h.log"; then
	echo "not ok - the server log shows a crash or sanitizer report"
	sed 's/^/#   /' "$tmp/h.log" | tail -20
	rc=1
fi
exit $rc
