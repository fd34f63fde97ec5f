#!/bin/sh
# tests/bench/soak.sh [BUILDDIR] - soak batsim-httpd (a benchmark, not a
# pass/fail test of speed; see docs/RELIABILITY.md).
#
# Starts batsim-init, batsimd and batsim-httpd on 127.0.0.1 (an ephemeral
# port, a private segment and control socket), then for SOAK_SECONDS at
# once:
#   - SOAK_SSE_CLIENTS Server-Sent Events clients (tests/bench/sse-clients.py);
#   - wrk on the REST endpoints (/summary, /rack/R, /rack/R/module/M,
#     /rack/R/module/M/cell/C, /healthz, /metrics, /history), in turn;
#   - wrk on the control API (POST /control/setpoint and /control/ambient,
#     GET /control), with the token, forwarded to batsimd.
# Prints the errors (connect, read, write, timeouts, non-2xx answers, SSE
# clients that failed or got nothing: all must be 0), the p50/p99
# latencies, and batsim-httpd's RSS, threads and open descriptors before,
# during (the largest seen) and after (once every client has left).
# Exits 1 when there were errors, when a daemon died, or when the
# threads or descriptors of batsim-httpd did not come back to their
# baseline within 30 s after the load; 0 otherwise.
#
# Environment: SOAK_SECONDS (default 300), SOAK_SSE_CLIENTS (default
# 1000), SOAK_SSE_QUERY (default "view=summary&interval_ms=1000": one
# summary a second per client, so that the Python clients keep up),
# SOAK_REST_CONNECTIONS (default 32), SOAK_CONTROL_CONNECTIONS (default
# 2), TOPOLOGY (default 8x10x16), PERIOD_MS (default 200).
set -u
here=$(cd "$(dirname "$0")" && pwd)
TOPOLOGY=${TOPOLOGY:-8x10x16}
. "$here/bench-common.sh"
bench_init soak "${1:-}"
SECONDS_=${SOAK_SECONDS:-300}
SSE=${SOAK_SSE_CLIENTS:-1000}
RESTC=${SOAK_REST_CONNECTIONS:-32}
CTLC=${SOAK_CONTROL_CONNECTIONS:-2}
PERIOD_MS=${PERIOD_MS:-200}
bench_need "$HD" "$BSD" "$INIT"
for c in python3 wrk curl; do
	command -v $c >/dev/null ||
		{ echo "soak: $c is needed (scripts/install-deps test)" >&2; exit 1; }
done
R=$racks M=$mods C=$cells
pids=
bench_kill_at_exit pids

TOKEN=soak-$$-token
printf '%s\n' "$TOKEN" >"$tmp/token"
chmod 600 "$tmp/token"
bench_conf <<CONF
publish_period_ms = $PERIOD_MS
http_token_file = $tmp/token
http_max_connections = $((SSE + RESTC + CTLC + 64))
http_max_per_ip = $((SSE + RESTC + CTLC + 64))
CONF
bench_start_site
bench_start_httpd
bench_wait_get /healthz

rss() { bench_rss_mib $hpid; }
threads() { bench_threads $hpid; }
fds() { bench_fds $hpid; }
figures() { echo "RSS $(rss) MiB, threads $(threads), open fds $(fds)"; }

echo "soak: topology $TOPOLOGY, $SECONDS_ s, $SSE SSE clients, wrk REST -c$RESTC and control -c$CTLC, $(nproc) CPUs"
sleep 1
b_threads=$(threads) b_fds=$(fds)
echo "before: $(figures)"

# wrk scripts: REST paths in turn; control commands in turn
cat >"$tmp/rest.lua" <<LUA
local paths = { "/summary", "/rack/$((R - 1))", "/rack/0/module/$((M - 1))",
  "/rack/$((R - 1))/module/0/cell/$((C - 1))", "/healthz", "/metrics",
  "/history?seconds=60", "/summary?modules=1" }
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
cat >"$tmp/control.lua" <<LUA
local auth = { ["Authorization"] = "Bearer $TOKEN",
  ["Content-Type"] = "application/json" }
local i = 0
request = function()
  i = i % 4 + 1
  if i == 1 then
    return wrk.format("POST", "/control/setpoint", auth,
      '{"mode":"power","value":' .. (i * 1000) .. '}')
  elseif i == 2 then
    return wrk.format("POST", "/control/ambient", auth, '{"value":25}')
  elseif i == 3 then
    return wrk.format("GET", "/control", auth)
  end
  return wrk.format("POST", "/control/setpoint", auth,
    '{"mode":"current","value":0}')
end
LUA

# The SSE clients first, all connected (one open descriptor each in
# batsim-httpd; no thread each since issue 13) before wrk starts; they
# stream until wrk is done (SIGUSR1), at most SOAK_SECONDS + 120 s.
python3 "$here/sse-clients.py" 127.0.0.1 "$port" "$SSE" $((SECONDS_ + 120)) \
	"${SOAK_SSE_QUERY:-view=summary&interval_ms=1000}" >"$tmp/sse.out" 2>&1 &
spid=$!
pids="$spid"
t0=$(date +%s)
while [ "$(fds)" -lt $((b_fds + SSE)) ] && kill -0 $spid 2>/dev/null &&
	[ $(($(date +%s) - t0)) -lt 120 ]; do
	sleep 0.2
done
echo "SSE: $SSE clients connected in $(($(date +%s) - t0)) s: $(figures)"
wrk -t1 -c"$RESTC" -d"${SECONDS_}s" --timeout 10s --latency -s "$tmp/rest.lua" \
	"$base" >"$tmp/rest.out" 2>&1 &
rpid=$!
wrk -t1 -c"$CTLC" -d"${SECONDS_}s" --timeout 10s --latency -s "$tmp/control.lua" \
	"$base" >"$tmp/ctl.out" 2>&1 &
cpid=$!
pids="$pids $rpid $cpid"

# during: sample every second, keep the largest
m_rss=0 m_threads=0 m_fds=0
while kill -0 $rpid 2>/dev/null || kill -0 $cpid 2>/dev/null; do
	kill -0 $hpid 2>/dev/null || break
	r=$(rss) t=$(threads) f=$(fds)
	m_rss=$(awk -v a="$m_rss" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
	[ "$t" -gt "$m_threads" ] && m_threads=$t
	[ "$f" -gt "$m_fds" ] && m_fds=$f
	sleep 1
done
wait $rpid $cpid
kill -USR1 $spid 2>/dev/null
wait $spid
pids=
echo "during (largest): RSS $m_rss MiB, threads $m_threads, open fds $m_fds"

errors=0
died=
kill -0 $hpid 2>/dev/null || died="$died batsim-httpd"
kill -0 $dpid 2>/dev/null || died="$died batsimd"

# wrk: "Socket errors: connect 0, read 0, write 0, timeout 0" and
# "Non-2xx or 3xx responses: N" (absent when none)
wrk_report() { # name file
	reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$2")
	p50=$(awk '$1 == "50%" { print $2 }' "$2")
	p99=$(awk '$1 == "99%" { print $2 }' "$2")
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$2")
	sock=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$2")
	non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$2")
	e=${non2xx:-0}
	for x in $sock; do e=$((e + x)); done
	echo "$1: ${reqs:-?} requests (${rps:-?}/s), latency p50 ${p50:-?} p99 ${p99:-?}, errors $e (socket: ${sock:-none}; non-2xx: ${non2xx:-0})"
	[ -n "$reqs" ] || { e=$((e + 1)); sed 's/^/  /' "$2"; }
	errors=$((errors + e))
}
wrk_report "REST   " "$tmp/rest.out"
wrk_report "control" "$tmp/ctl.out"
sed 's/^/SSE: /' "$tmp/sse.out"
sse_err=$(sed -n 's/.*connected: \([0-9]*\), received events: \([0-9]*\), errors: \([0-9]*\), unparsable events: \([0-9]*\).*/\1 \2 \3 \4/p' "$tmp/sse.out")
if [ -n "$sse_err" ]; then
	set -- $sse_err
	e=$((SSE - $2 + $3 + $4))
	echo "SSE: errors $e (clients without events $((SSE - $2)), failed $3, unparsable events $4)"
	errors=$((errors + e))
else
	echo "SSE: no report"
	errors=$((errors + 1))
fi

# after: every client has left; wait for the server to notice
status=0
if [ -z "$died" ]; then
	i=0
	while [ "$(threads)" -gt "$b_threads" ] || [ "$(fds)" -gt "$b_fds" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && break
		sleep 0.1
	done
	echo "after: $(figures) (baseline: threads $b_threads, open fds $b_fds)"
	if [ "$(threads)" -gt "$b_threads" ] || [ "$(fds)" -gt "$b_fds" ]; then
		echo "soak: batsim-httpd's threads or descriptors did not come back to the baseline within 30 s"
		status=1
	fi
else
	echo "soak: died during the soak:$died"
	tail -20 "$tmp/h.log" "$tmp/d.log"
	status=1
fi
echo "errors: $errors"
[ "$errors" = 0 ] || status=1
if grep -Eq 'AddressSanitizer|runtime error|Segmentation' "$tmp/h.log" "$tmp/d.log"; then
	echo "soak: a crash or sanitizer report in the daemons' logs"
	status=1
fi
exit $status
