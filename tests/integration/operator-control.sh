#!/bin/sh
# The operator and Modbus control commands through the real batsimd(8)
# (docs/control-protocol.md: contactor, soc_reserve, modbus_fault,
# modbus_faults, modbus_report, the state additions), their effect in the
# published segment (read with libbatsim through bsd-peek), and the same
# through batsimctl(1) and batsim-httpd(8).  The checks are in
# operator-control.py (one python3 process: the machine may be busy).
# Waits are polls; nothing asserts on timing.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
BSD=$b/src/batsimd/batsimd
PEEK=$b/tests/integration/bsd-peek
CTL=$b/src/ctl/batsimctl
HD=$b/src/httpd/batsim-httpd
need "$BSD" "$PEEK" "$CTL" "$HD"
need_python
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

N=/bs-test-operator-$$
SOCK=$tmp/ctl.sock
dpid= hpid=
at_exit_kill dpid hpid
at_exit_remove $N

# 6 racks: units 0..7 and 5 types make 40 (type, unit) pairs, more than
# the 32 protocol faults batsimd holds
printf 'tok-%s\n' $$ >"$tmp/token"
chmod 600 "$tmp/token" # batsim-httpd refuses a token file others can read
cat >"$tmp/conf" <<EOC
shm_name = $N
control_socket = $SOCK
racks = 6
modules_per_rack = 2
cells_per_module = 4
threads = 1
speed = 50
publish_period_ms = 100
http_token_file = $tmp/token
EOC
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
poll 10 test -S "$SOCK" || { notok "batsimd did not start"; show "$tmp/d.log"; exit 1; }
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"

"$PY" "$s/tests/integration/operator-control.py" "$SOCK" "$N" "$PEEK" "$CTL" \
	"$port" "tok-$$"
rc=$?
[ $rc = 0 ] || { echo "# batsimd log:"; show "$tmp/d.log"; }

kill -TERM $hpid; wait $hpid 2>/dev/null; hpid=
kill -TERM $dpid; wait $dpid; drc=$?; dpid=
[ $drc = 0 ] && ok "batsimd: SIGTERM, exit 0" || { notok "batsimd exit $drc"; show "$tmp/d.log"; }
[ $rc = 0 ] || notok "operator-control.py: failures above"
finish
