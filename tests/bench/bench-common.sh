# tests/bench/bench-common.sh - the common part of the benchmark scripts
# (httpd-vs-nginx.sh, sse-load.sh, soak.sh, httpd-load.sh), sourced by
# them: where the build is, a temporary directory removed at exit together
# with the processes and the segment the script started, the site's
# configuration, batsim-init + batsimd and batsim-httpd started on a
# loopback port and waited for, and batsim-httpd's CPU, RSS and threads.
# (tests/integration/harness.sh is the same for the tests.)
#
# A script in tests/bench/ starts with
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/bench-common.sh"
#   bench_init NAME "${1:-}"
# and then, typically:
#   bench_need "$HD" "$BSD" "$INIT"
#   bench_conf <<EOF        (extra configuration keys, or </dev/null)
#   http_max_connections = 1024
#   EOF
#   bench_start_site          (batsim-init, then batsimd: $dpid)
#   bench_start_httpd         (batsim-httpd: $hpid, $port, $base)
#   bench_wait_get /summary   (until it answers 200)

# bench_init NAME [BUILDDIR]: sets src (the source tree), b (BUILDDIR, or
# $abs_top_builddir, or the source tree), the programs HD, BSD, INIT and
# TW (the test writer), TOPOLOGY (default 20x10x32: the default site)
# and its parts racks, mods, cells; a temporary directory $tmp; a segment
# name $N (/bs-bench-NAME-PID); the cleanup at exit (SIGINT and SIGTERM
# exit 1, which cleans up too); the descriptor limit raised to the hard
# one (the server raises its own; the clients need as many).
bench_init() {
	src=$(cd "$(dirname "$0")/../.." && pwd)
	b=${2:-${abs_top_builddir:-$src}}
	HD=$b/src/httpd/batsim-httpd
	BSD=$b/src/batsimd/batsimd
	INIT=$b/src/init/batsim-init
	TW=$b/tests/testwriter/bs-testwriter
	TOPOLOGY=${TOPOLOGY:-20x10x32}
	IFS=x read -r racks mods cells <<EOF
$TOPOLOGY
EOF
	N=/bs-bench-$1-$$
	# Under /tmp, not $TMPDIR: the control socket lives in it, and a
	# socket path has at most 107 bytes.
	tmp=$(mktemp -d "/tmp/bs-bench-$1.XXXXXX") ||
		{ echo "$1: cannot create a temporary directory" >&2; exit 1; }
	bench_kill= dpid= hpid= port= base=
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
}

# bench_kill_at_exit VAR...: at exit, end the processes whose pids VAR
# holds then (none, one or several), before batsim-httpd and batsimd
bench_kill_at_exit() { bench_kill="$bench_kill $*"; }

# bench_end PID: SIGTERM, then SIGKILL when PID has not ended within
# 20 s; reaps it
bench_end() {
	kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return; }
	_i=0
	while [ $_i -lt 200 ] && kill -0 "$1" 2>/dev/null &&
		[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	[ $_i -ge 200 ] && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

bench_cleanup() {
	for _v in $bench_kill hpid dpid; do
		eval "_p=\${$_v:-}"
		for _q in $_p; do
			bench_end "$_q"
		done
	done
	rm -f "/dev/shm$N"
	rm -rf "$tmp"
}

# bench_need PROGRAM...: exit 1 unless every program is built
bench_need() {
	for _p; do
		[ -x "$_p" ] || { echo "not built: $_p (run make; make check builds the test programs)" >&2; exit 1; }
	done
}

# bench_conf < KEYS: $tmp/conf for the site TOPOLOGY on segment $N with
# the control socket in $tmp and one engine thread (the rest of the CPUs
# for the server and the load), then the keys read from stdin
bench_conf() {
	cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = $racks
modules_per_rack = $mods
cells_per_module = $cells
threads = 1
EOF
	cat >>"$tmp/conf"
}

# bench_start_site: batsim-init, then batsimd in the background ($dpid,
# log $tmp/d.log), on $tmp/conf
bench_start_site() {
	"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
		{ cat "$tmp/init.log" >&2; exit 1; }
	"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
	dpid=$!
}

# bench_start_httpd [OPTION...]: batsim-httpd --config $tmp/conf on
# 127.0.0.1 (an ephemeral port) with these options in the background
# ($hpid, log $tmp/h.log); waits (at most 30 s) for it to listen and sets
# port and base (http://127.0.0.1:PORT)
bench_start_httpd() {
	"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 "$@" 2>"$tmp/h.log" &
	hpid=$!
	_i=0
	until grep -q 'listening on' "$tmp/h.log"; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ] || ! kill -0 $hpid 2>/dev/null; then
			echo "batsim-httpd did not start:" >&2
			cat "$tmp/h.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/h.log")
	base=http://127.0.0.1:$port
}

# bench_wait_get PATH [FILE]: waits (at most 30 s) until GET PATH on
# batsim-httpd answers 2xx (the body goes to FILE, default /dev/null)
bench_wait_get() {
	_i=0
	until curl -sf "$base$1" >"${2:-/dev/null}" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ]; then
			echo "no answer from $base$1 within 30 s:" >&2
			cat "$tmp/h.log" "$tmp/d.log" >&2 2>/dev/null
			exit 1
		fi
		sleep 0.1
	done
}

# bench_machine: one line describing the machine and its load
bench_machine() {
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_cpu_ticks PID...: the CPU time the processes used so far (user +
# system, in clock ticks: getconf CLK_TCK a second); ended ones count 0
bench_cpu_ticks() {
	_s=0
	for _p; do
		_s=$((_s + $(awk '{print $14 + $15}' "/proc/$_p/stat" 2>/dev/null || echo 0)))
	done
	echo $_s
}
# bench_cpu_percent PID SECONDS: the average CPU of PID over the next
# SECONDS, in % of one CPU
bench_cpu_percent() {
	_t0=$(bench_cpu_ticks "$1")
	sleep "$2"
	_t1=$(bench_cpu_ticks "$1")
	awk -v d=$((_t1 - _t0)) -v hz="$(getconf CLK_TCK)" -v s="$2" \
		'BEGIN { printf "%.1f", 100 * d / hz / s }'
}
# bench_rss_mib PID, bench_threads PID, bench_fds PID: resident memory
# in MiB, threads, open descriptors
bench_rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
bench_threads() { awk '/^Threads/ { print $2 }' "/proc/$1/status"; }
bench_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
