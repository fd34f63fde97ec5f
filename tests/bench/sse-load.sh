#!/bin/sh
# sse-load.sh [BUILDDIR] - Server-Sent Events load on batsim-httpd (a
# benchmark, not a test: it prints figures and asserts nothing; see
# docs/PERFORMANCE.md, section HTTP).
#
# Starts batsim-init, batsimd (TOPOLOGY, default 20x10x32, the default
# site; 200 ms publish period) and batsim-httpd on a loopback port, then
# for each count in CLIENTS (default "1000 10000") runs
# tests/bench/sse-clients.py with that many streams on
# /updates?QUERY (default view=summary&rack=0&module=0: a summary and a
# module event per snapshot sent) for SSE_SECONDS (default 20), spread
# over 50 loopback source addresses and PROCS client processes (default
# 2).  Prints the publish-to-receive latency p50/p99 of the summary
# events and batsim-httpd's CPU (over the middle SSE_SECONDS/2 s), RSS
# and threads while the streams are open.  The clients share the CPUs
# with the server, so the latency includes their own scheduling.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/bench
b=${1:-${abs_top_builddir:-$src}}
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
TOPOLOGY=${TOPOLOGY:-20x10x32}
CLIENTS=${CLIENTS:-1000 10000}
SSE_SECONDS=${SSE_SECONDS:-20}
PROCS=${PROCS:-2}
QUERY=${QUERY:-view=summary&rack=0&module=0}
for p in "$HD" "$BSD" "$INIT"; do
	[ -x "$p" ] || { echo "not built: $p (run make)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

tmp=$(mktemp -d)
N=/bs-bench-sse-$$
dpid= hpid=
cleanup() {
	for p in $hpid $dpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -f "/dev/shm$N"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cpu_percent() { # PID SECONDS: average CPU of PID over SECONDS, % of one CPU
	t0=$(cpu_ticks "$1"); sleep "$2"; t1=$(cpu_ticks "$1")
	awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$2" \
		'BEGIN { printf "%.1f", 100 * d / hz / s }'
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
threads() { awk '/^Threads/ { print $2 }' "/proc/$1/status"; }

# The server raises its own limit to the hard one; so do the clients.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
IFS=x read -r racks mods cells <<EOF
$TOPOLOGY
EOF
max=0
for n in $CLIENTS; do [ "$n" -gt $max ] && max=$n; done
cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = $racks
modules_per_rack = $mods
cells_per_module = $cells
threads = 1
http_max_connections = $((max + 64))
http_max_per_ip = $((max + 64))
EOF
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ cat "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
i=0
until grep -q 'listening on' "$tmp/h.log"; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/h.log"; exit 1; }; sleep 0.1
done
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/h.log")
i=0
until curl -sf "http://127.0.0.1:$port/summary" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/h.log" "$tmp/d.log"; exit 1; }; sleep 0.1
done

echo "SSE load: batsimd $TOPOLOGY, /updates?$QUERY, $SSE_SECONDS s per run, $PROCS client processes"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "batsim-httpd idle: threads $(threads $hpid), RSS $(rss_mib $hpid) MiB"
for n in $CLIENTS; do
	echo "== $n clients"
	python3 "$here/sse-clients.py" --procs "$PROCS" --addrs 50 \
		127.0.0.1 "$port" "$n" "$SSE_SECONDS" "$QUERY" >"$tmp/sse.out" 2>&1 &
	spid=$!
	half=$((SSE_SECONDS / 2))
	sleep $((SSE_SECONDS / 4))
	echo "batsim-httpd with $n streams: CPU $(cpu_percent $hpid $half) % of one CPU, threads $(threads $hpid), RSS $(rss_mib $hpid) MiB"
	wait $spid
	cat "$tmp/sse.out"
	sleep 2 # the server closes the streams
done
echo "batsim-httpd after: threads $(threads $hpid), RSS $(rss_mib $hpid) MiB"
