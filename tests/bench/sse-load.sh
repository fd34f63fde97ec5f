#!/bin/sh
# sse-load.sh [BUILDDIR] - Server-Sent Events load on batsim-httpd (a
# benchmark, not a test: it prints figures and asserts nothing; see
# docs/PERFORMANCE.md, section HTTP).
#
# Starts batsim-init, batsimd (TOPOLOGY, default 20x10x32, the default
# site; 200 ms publish period) and batsim-httpd on a loopback port, then
# for each count in CLIENTS (default "1000 10000") opens that many
# streams on /updates?QUERY (default view=summary&rack=0&module=0: a
# summary and a module event per snapshot sent), each read for
# SSE_SECONDS (default 20) once connected, spread over 50 loopback source
# addresses.  Prints the publish-to-receive latency p50/p99/max of the
# summary events (the wall clock when an event is read minus its
# snapshot's wall_time_ns; each stream's first summary, published before
# it began, is left out) and batsim-httpd's CPU (over the middle
# SSE_SECONDS/2 s), RSS and threads while the streams are open, and the
# clients' CPU over the same seconds.
#
# CLIENT=c (default): the clients are tests/bench/sse_clients (C, one
# thread on epoll; built by make).  CLIENT=python: tests/bench/sse-clients.py
# in PROCS processes (default 2), which on a 2-CPU machine cannot read
# 1,000 streams as fast as they come: its latency is then its own
# backlog.  Either way the clients share the CPUs with the server, so the
# latency includes their scheduling.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench-common.sh"
bench_init sse "${1:-}"
CLIENTS=${CLIENTS:-1000 10000}
SSE_SECONDS=${SSE_SECONDS:-20}
CLIENT=${CLIENT:-c}
PROCS=${PROCS:-2}
QUERY=${QUERY:-view=summary&rack=0&module=0}
bench_need "$HD" "$BSD" "$INIT"
case $CLIENT in
c)
	SC=$b/tests/bench/sse_clients
	bench_need "$SC"
	client() { exec "$SC" --addrs 50 "$@"; } # exec: $! is the client
	what="the C client (tests/bench/sse_clients)"
	;;
python)
	command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
	client() { exec python3 "$here/sse-clients.py" --procs "$PROCS" --addrs 50 "$@"; }
	what="$PROCS Python client processes (tests/bench/sse-clients.py)"
	;;
*)
	echo "CLIENT='$CLIENT': c or python" >&2; exit 1 ;;
esac
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

max=0
for n in $CLIENTS; do [ "$n" -gt $max ] && max=$n; done
bench_conf <<EOF
http_max_connections = $((max + 64))
http_max_per_ip = $((max + 64))
EOF
bench_start_site
bench_start_httpd
bench_wait_get /summary

echo "SSE load: batsimd $TOPOLOGY, /updates?$QUERY, $SSE_SECONDS s per run, $what"
bench_machine
echo "batsim-httpd idle: threads $(bench_threads $hpid), RSS $(bench_rss_mib $hpid) MiB"
spid=
bench_kill_at_exit spid
for n in $CLIENTS; do
	echo "== $n clients"
	client 127.0.0.1 "$port" "$n" "$SSE_SECONDS" "$QUERY" >"$tmp/sse.out" 2>&1 &
	spid=$!
	half=$((SSE_SECONDS / 2))
	sleep $((SSE_SECONDS / 4))
	# the clients' CPU over the same seconds (the Python client's
	# processes are children of $spid)
	cpids="$spid $(pgrep -P $spid 2>/dev/null | tr '\n' ' ')"
	c0=$(bench_cpu_ticks $cpids)
	hcpu=$(bench_cpu_percent $hpid $half)
	c1=$(bench_cpu_ticks $cpids)
	echo "batsim-httpd with $n streams: CPU $hcpu % of one CPU, threads $(bench_threads $hpid), RSS $(bench_rss_mib $hpid) MiB"
	echo "the clients meanwhile: CPU $(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v s=$half 'BEGIN { printf "%.1f", 100 * d / hz / s }') % of one CPU"
	wait $spid
	spid=
	cat "$tmp/sse.out"
	sleep 2 # the server closes the streams
done
echo "batsim-httpd after: threads $(bench_threads $hpid), RSS $(bench_rss_mib $hpid) MiB"
