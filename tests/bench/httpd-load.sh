#!/bin/sh
# httpd-load.sh [BUILDDIR] - load figures for batsim-httpd (a benchmark,
# not a test; see docs/PERFORMANCE.md, section HTTP).
#
# Starts the test writer (default topology 20x10x32, 200 ms period, as
# originally designed) and batsim-httpd on an ephemeral loopback port,
# then measures:
#   1. CPU of batsim-httpd with 100 idle SSE streams (writer stopped);
#   2. SSE_CLIENTS (default 1000) concurrent SSE clients, all receiving
#      events for SSE_SECONDS (default 20): events per client, latency,
#      and batsim-httpd's CPU, threads and memory meanwhile;
#   3. wrk on /summary and /rack/0/module/0 (WRK_SECONDS, default 10;
#      WRK_CONNECTIONS, default 64).
# Environment: TOPOLOGY, PERIOD_MS, SSE_CLIENTS, SSE_SECONDS, WRK_SECONDS,
# WRK_CONNECTIONS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench-common.sh"
bench_init httpd "${1:-}"
PERIOD_MS=${PERIOD_MS:-200}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_SECONDS=${SSE_SECONDS:-20}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
bench_need "$HD" "$TW"
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

wpid= pids= spid=
bench_kill_at_exit pids spid wpid
max=$((SSE_CLIENTS + 64))
bench_conf <<EOF
http_max_connections = $max
http_max_per_ip = $max
EOF
echo "batsim-httpd load: topology $TOPOLOGY, publish period $PERIOD_MS ms, $(nproc) CPUs"
"$TW" --name $N --topology "$TOPOLOGY" --period-ms "$PERIOD_MS" --create &
wpid=$!
bench_start_httpd --name $N
bench_wait_get /healthz

echo "== 1. idle: 100 SSE streams open, writer stopped"
kill -TERM $wpid; wait $wpid 2>/dev/null; wpid=
pids=
for i in $(seq 100); do
	curl -sN "http://127.0.0.1:$port/updates?view=summary" >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 2
echo "batsim-httpd CPU over 10 s: $(bench_cpu_percent $hpid 10) %, threads $(bench_threads $hpid)"
kill $pids 2>/dev/null; wait $pids 2>/dev/null; pids=
sleep 2 # the server notices the closed streams within a second
"$TW" --name $N --topology "$TOPOLOGY" --period-ms "$PERIOD_MS" &
wpid=$!
bench_wait_get /healthz

echo "== 2. $SSE_CLIENTS SSE clients, summary + module events, $SSE_SECONDS s"
python3 "$here/sse-clients.py" 127.0.0.1 "$port" "$SSE_CLIENTS" "$SSE_SECONDS" \
	>"$tmp/sse.out" 2>&1 &
spid=$!
sleep $((SSE_SECONDS / 2))
echo "batsim-httpd meanwhile: CPU $(bench_cpu_percent $hpid 5) %, threads $(bench_threads $hpid), RSS $(bench_rss_mib $hpid) MiB"
wait $spid
sse_rc=$?
cat "$tmp/sse.out"
[ $sse_rc = 0 ] && echo "every client received events" || echo "SOME CLIENTS RECEIVED NOTHING"

if command -v wrk >/dev/null; then
	for path in /summary /rack/0/module/0; do
		echo "== 3. wrk -t2 -c$WRK_CONNECTIONS -d${WRK_SECONDS}s $path"
		wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency \
			"http://127.0.0.1:$port$path" |
			grep -E 'Latency|50%|99%|Requests/sec|Transfer/sec|requests in|Non-2xx|errors'
	done
else
	echo "== 3. wrk not installed (apt-get install wrk): skipped"
fi
echo "batsim-httpd after the run: threads $(bench_threads $hpid), RSS $(bench_rss_mib $hpid) MiB"
