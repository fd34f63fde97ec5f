#!/bin/sh
# kill -9 and restart, with the real daemons: batsimd killed with SIGKILL
# while batsim-httpd serves (503 stale, batsimctl exit 3, then a new
# batsimd attaches to the same segment without --force and both serve
# again); batsim-httpd killed with SIGKILL and started again on the same
# segment; batsim-init --check still accepts the segment.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
CTL=$b/src/ctl/batsimctl
need "$HD" "$BSD" "$INIT" "$CTL"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

N=/bs-test-kill9-$$
dpid= hpid=
at_exit_kill dpid hpid
at_exit_remove $N

cat >"$tmp/conf" <<CONF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 2
modules_per_rack = 2
cells_per_module = 3
threads = 1
http_stale_ms = 1000
CONF
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"
if poll 20 status_is 200 /summary; then ok "live"
else notok "not live"; show "$tmp/h.log" "$tmp/d.log"; exit 1; fi

tick() { get "$(url /summary)"; sed -n 's/.*"tick": *\([0-9]*\).*/\1/p' "$tmp/body" | head -1; }

# batsimd: SIGKILL (no cleanup at all)
kill -KILL $dpid; wait $dpid 2>/dev/null; dpid=
if poll 20 status_is 503 /summary; then ok "batsimd killed: 503"
else notok "no 503 after kill -9 of batsimd: $code"; show "$tmp/body"; fi
has "$tmp/body" '"stale": *true' "503 says stale"
expect 3 "batsimctl status after kill -9: exit 3" -- "$CTL" --name $N --max-age-ms 1000 status
has "$tmp/err" "stale|heartbeat" "batsimctl: says the data is stale"

# a new batsimd on the same segment: no --force, no batsim-init
"$BSD" --config "$tmp/conf" 2>"$tmp/d2.log" &
dpid=$!
if poll 20 status_is 200 /summary; then ok "batsimd restarted: 200 without restarting batsim-httpd"
else notok "no recovery after restarting batsimd"; show "$tmp/d2.log" "$tmp/h.log"; fi
t1=$(tick)
advanced() { t=$(tick); [ -n "$t" ] && [ -n "$t1" ] && [ "$t" -gt "$t1" ]; }
poll 20 advanced && ok "the new batsimd publishes (tick $t1 -> $t)" || notok "ticks do not advance after the restart"
expect 0 "batsimctl status with the new batsimd" -- "$CTL" --name $N status
has "$tmp/out" "^writer pid: +$dpid\$" "batsimctl: the new writer's pid"

# batsim-httpd: SIGKILL, then a new one on the same segment
kill -KILL $hpid; wait $hpid 2>/dev/null; hpid=
: >"$tmp/h2.log"
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h2.log" &
hpid=$!
wait_port "$tmp/h2.log"
if poll 20 status_is 200 /summary; then ok "batsim-httpd restarted after kill -9: 200"
else notok "batsim-httpd after kill -9: $code"; show "$tmp/h2.log"; fi
expect 0 "batsim-init --check accepts the segment" -- "$INIT" --config "$tmp/conf" --check

kill -TERM $dpid; wait $dpid; rc=$?; dpid=
[ $rc = 0 ] && ok "batsimd: SIGTERM, exit 0" || notok "batsimd: SIGTERM, exit $rc"
kill -TERM $hpid; wait $hpid; rc=$?; hpid=
[ $rc = 0 ] && ok "batsim-httpd: SIGTERM, exit 0" || notok "batsim-httpd: SIGTERM, exit $rc"
finish
