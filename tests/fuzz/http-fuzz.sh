#!/bin/sh
# Hostile input against batsim-httpd(8): tests/fuzz/http-fuzz.py (python3
# standard library, raw sockets to 127.0.0.1 only, seeded, bounded) against
# the real server serving the test writer, with /control forwarded to a
# fake batsimd (tests/integration/fake-batsimd.py).  The server must stay
# alive, answer /healthz after every batch, answer parsable requests with
# JSON errors of the right status, and exit 0 on SIGTERM at the end.
# Run by `make check` (exit 0 pass, 77 skip, else fail).
# Environment: HTTP_FUZZ_SEED (default 1), HTTP_FUZZ_COUNT (default 150).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
need "$HD" "$TW"
need_python

N=/bs-test-fuzz-$$
wpid= hpid= fpid=
at_exit_kill wpid hpid fpid
at_exit_remove $N

TOKEN=fuzz-$$-token
MAX_PER_IP=8
TIMEOUT_S=10
printf '%s\n' "$TOKEN" >"$tmp/token"; chmod 600 "$tmp/token"
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
wait_port "$tmp/h.log"

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
