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
b=${1:-${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}}
here=$(cd "$(dirname "$0")" && pwd)
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
TOPOLOGY=${TOPOLOGY:-20x10x32}
PERIOD_MS=${PERIOD_MS:-200}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_SECONDS=${SSE_SECONDS:-20}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
for p in "$HD" "$TW"; do
	[ -x "$p" ] || { echo "not built: $p (make, make check)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }

N=/bs-bench-httpd-$$
tmp=$(mktemp -d)
wpid= hpid=
cleanup() {
	for p in $wpid $hpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -f "/dev/shm$N"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# cpu_percent PID SECONDS: average CPU of PID over SECONDS
cpu_percent() {
	t0=$(cpu_ticks "$1"); sleep "$2"; t1=$(cpu_ticks "$1")
	awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$2" \
		'BEGIN { printf "%.1f", 100 * d / hz / s }'
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
threads() { awk '/^Threads/ { print $2 }' "/proc/$1/status"; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null
max=$((SSE_CLIENTS + 64))
printf 'http_max_connections = %s\nhttp_max_per_ip = %s\n' $max $max >"$tmp/conf"
echo "batsim-httpd load: topology $TOPOLOGY, publish period $PERIOD_MS ms, $(nproc) CPUs"
"$TW" --name $N --topology "$TOPOLOGY" --period-ms "$PERIOD_MS" --create &
wpid=$!
"$HD" --name $N --listen 127.0.0.1:0 --config "$tmp/conf" 2>"$tmp/h.log" &
hpid=$!
i=0
until grep -q 'listening on' "$tmp/h.log"; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/h.log"; exit 1; }; sleep 0.1
done
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/h.log")
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done

echo "== 1. idle: 100 SSE streams open, writer stopped"
kill -TERM $wpid; wait $wpid 2>/dev/null; wpid=
pids=
for i in $(seq 100); do
	curl -sN "http://127.0.0.1:$port/updates?view=summary" >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 2
echo "batsim-httpd CPU over 10 s: $(cpu_percent $hpid 10) %, threads $(threads $hpid)"
kill $pids 2>/dev/null; wait $pids 2>/dev/null
sleep 2 # the server notices the closed streams within a second
"$TW" --name $N --topology "$TOPOLOGY" --period-ms "$PERIOD_MS" &
wpid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done

echo "== 2. $SSE_CLIENTS SSE clients, summary + module events, $SSE_SECONDS s"
python3 "$here/sse-clients.py" 127.0.0.1 "$port" "$SSE_CLIENTS" "$SSE_SECONDS" \
	>"$tmp/sse.out" 2>&1 &
spid=$!
sleep $((SSE_SECONDS / 2))
echo "batsim-httpd meanwhile: CPU $(cpu_percent $hpid 5) %, threads $(threads $hpid), RSS $(rss_mib $hpid) MiB"
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
echo "batsim-httpd after the run: threads $(threads $hpid), RSS $(rss_mib $hpid) MiB"
