#!/bin/sh
# batsim-modbusd(8) against the real batsimd(8), with Debian's
# python3-pymodbus as the client (tests/integration/modbusd-check.py) and
# mbpoll as a second, independent one: SunSpec discovery and model chain,
# values against the REST API, every writable point, the reversion timer,
# exceptions, protocol faults, concurrent clients; then a hung writer, a
# stopped one, a restarted one (re-attach) and a removed segment.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
MD=$b/src/modbusd/batsim-modbusd
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
need "$MD" "$HD" "$BSD" "$INIT"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
# the interpreter with pymodbus (Debian's, also when another python3 is
# first in PATH)
MPY=
for p in "$PY" /usr/bin/python3; do
	[ -n "$p" ] && [ -x "$p" ] && "$p" -c 'from pymodbus.client import ModbusTcpClient' 2>/dev/null && { MPY=$p; break; }
done
[ -n "$MPY" ] || { echo "SKIP: python3-pymodbus (and python3-serial-asyncio) not installed"; exit 77; }

N=/bs-test-modbusd-$$
dpid= hpid= mpid= m2pid=
at_exit_kill dpid hpid mpid m2pid
at_exit_remove $N

cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 3
modules_per_rack = 4
cells_per_module = 5
threads = 1
http_stale_ms = 1000
modbus_writes = yes
modbus_stale_ms = 600
EOF
sed 's/^modbus_writes = yes/modbus_writes = no/' "$tmp/conf" >"$tmp/conf-ro"
printf 'modbus_max_connections = 2\nmodbus_idle_s = 3\n' >>"$tmp/conf-ro"
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
"$MD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/m.log" &
mpid=$!
"$MD" --config "$tmp/conf-ro" --listen 127.0.0.1:0 2>"$tmp/m2.log" &
m2pid=$!
wait_port "$tmp/h.log"
mport() {
	poll 10 grep -qs 'listening on modbus-tcp://127.0.0.1' "$1" ||
		{ notok "batsim-modbusd did not start"; show "$1"; exit 1; }
	sed -n 's|.*modbus-tcp://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1" | head -1
}
mp=$(mport "$tmp/m.log")
mp2=$(mport "$tmp/m2.log")
poll 10 status_is 200 /healthz || { notok "batsimd not live"; show "$tmp/d.log"; exit 1; }
poll 10 grep -qs 'attached to segment' "$tmp/m.log" ||
	{ notok "batsim-modbusd did not attach"; show "$tmp/m.log"; exit 1; }

# run PHASE: the python client's lines become this test's
run() {
	"$MPY" "$s/tests/integration/modbusd-check.py" "$1" "$mp" "$port" \
		"$tmp/ctl.sock" "$s/data/sunspec/points.csv" ${2:-} >"$tmp/py.out" 2>&1
	pyst=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) notok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$tmp/py.out"
	# a client that stopped half way (an exception) fails too
	[ $pyst = 0 ] || grep -q '^not ok' "$tmp/py.out" ||
		notok "modbusd-check.py $1 stopped with status $pyst"
}
run live "$mp2"
has "$tmp/m.log" 'reversion timer .* expired' "the reversion is logged"

# mbpoll, a second independent client: the marker and an 802 block
if command -v mbpoll >/dev/null; then
	mbpoll -m tcp -p "$mp" -a 1 -r 40001 -c 2 -t 4:hex -1 127.0.0.1 >"$tmp/mb.out" 2>&1
	if grep -q '\[40001\]:.*0x5375' "$tmp/mb.out" && grep -q '\[40002\]:.*0x6E53' "$tmp/mb.out"; then
		ok "mbpoll reads \"SunS\" at 40000"
	else notok "mbpoll SunS"; show "$tmp/mb.out"; fi
	# 802 starts after SunS(2) + 1(68) + 701(155) + 702(52) + 704(67) +
	# 713(9): register 40353 (0-based 40353, mbpoll's -r is 1-based)
	mbpoll -m tcp -p "$mp" -a 1 -r 40354 -c 64 -1 127.0.0.1 >"$tmp/mb.out" 2>&1
	if grep -q '\[40354\]:.*802' "$tmp/mb.out" && grep -q '\[40355\]:.*62' "$tmp/mb.out" &&
		[ "$(grep -c '^\[' "$tmp/mb.out")" = 64 ]; then
		ok "mbpoll reads the whole 802 block (ID 802, L 62)"
	else notok "mbpoll 802"; show "$tmp/mb.out"; fi
else
	echo "# mbpoll not installed: skipped its checks"
fi

# a hung writer (SIGSTOP): stale; then a stopped one
kill -STOP "$dpid"
sleep 1
run stale
kill -CONT "$dpid"
kill "$dpid"; wait "$dpid" 2>/dev/null; dpid=
run stale
# batsimd starts again: live without restarting batsim-modbusd
"$BSD" --config "$tmp/conf" 2>"$tmp/d2.log" &
dpid=$!
check_live() {
	mbpoll -m tcp -p "$mp" -a 1 -r 40001 -c 2 -t 4:hex -1 127.0.0.1 2>/dev/null | grep -q 0x5375
}
if poll 10 grep -qs 'writer restarted' "$tmp/m.log"; then ok "the writer restart is noticed"
else notok "no restart notice"; show "$tmp/m.log"; fi
if ! command -v mbpoll >/dev/null || poll 10 check_live; then ok "reads again after the restart"
else notok "no reads after the restart"; fi
kill "$dpid"; wait "$dpid" 2>/dev/null; dpid=
rm -f "/dev/shm/${N#/}"
if poll 10 grep -qs "segment $N was removed" "$tmp/m.log"; then ok "segment removal noticed"
else notok "segment removal"; show "$tmp/m.log"; fi
run absent
kill "$mpid"; wait "$mpid"; st=$?; mpid=
[ "$st" = 0 ] && ok "SIGTERM: exit 0" || notok "SIGTERM: exit $st"
if grep -q 'warning: \|error: ' "$tmp/m.log"; then
	echo "# batsim-modbusd said:"; show "$tmp/m.log"
fi
finish
