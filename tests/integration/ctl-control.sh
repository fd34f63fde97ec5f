#!/bin/sh
# batsimctl(1) control side against a fake control server
# (fake-batsimd.py, python3): the JSON each command sends, the handling of
# {"ok":false}, of a missing, refusing, silent or broken server, and the
# argument checks that need no server.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
CTL=$b/src/ctl/batsimctl
FAKE=$s/tests/integration/fake-batsimd.py
need "$CTL"
need_python

SOCK=$tmp/batsimd.sock
LOG=$tmp/requests.log
fpid=
at_exit_kill fpid
stop_fake() { [ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null; fpid=; }

# start_fake MODE: a fresh server on $SOCK
start_fake() {
	stop_fake
	rm -f "$SOCK"
	"$PY" "$FAKE" "$SOCK" "$LOG" "$1" &
	fpid=$!
	poll 4 test -S "$SOCK" || { echo "fake server did not start"; exit 1; }
}

nlog() { [ -f "$LOG" ] && wc -l <"$LOG" || echo 0; }
# sends 'JSON' DESCRIPTION -- batsimctl args: exit 0 and the last request
# equals JSON (as parsed objects: 1 == 1.0, key order free)
sends() {
	want=$1 what=$2
	shift 3
	before=$(nlog)
	"$CTL" --socket "$SOCK" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" != 0 ]; then notok "$what: exit $got"; show "$tmp/out" "$tmp/err"; return; fi
	if [ "$(nlog)" != $((before + 1)) ]; then notok "$what: $(($(nlog) - before)) requests sent, want 1"; return; fi
	if tail -n 1 "$LOG" | "$PY" -c "import json,sys; got=json.loads(sys.stdin.read()); want=json.loads(sys.argv[1]); sys.exit(0 if got == want else 1)" "$want"
	then ok "$what sends $want"
	else notok "$what: sent $(tail -n 1 "$LOG"), want $want"; fi
}
# nosend STATUS DESCRIPTION -- args: fails with STATUS, sends nothing
nosend() {
	want=$1 what=$2
	shift 3
	before=$(nlog)
	expect "$want" "$what" -- "$CTL" --socket "$SOCK" "$@"
	[ "$(nlog)" = "$before" ] && ok "$what: nothing sent" || notok "$what: a request was sent"
}

start_fake normal

sends '{"cmd":"setpoint","mode":"power","value":-250000}' "set power -250kW" -- set power -250kW
has "$tmp/out" "^ok: power setpoint -250 kW \(charge\)" "set power: confirmation in engineering units"
sends '{"cmd":"setpoint","mode":"power","value":100000}' "set power 100000" -- set power 100000
sends '{"cmd":"setpoint","mode":"power","value":1500000}' "set power 1.5MW" -- set power 1.5MW
has "$tmp/out" "^ok: power setpoint 1.50 MW \(discharge\)" "set power 1.5MW: 1.50 MW, not 1.5e+06 W"
sends '{"cmd":"setpoint","mode":"power","value":5}' "set power 5W" -- set power 5W
sends '{"cmd":"setpoint","mode":"power","value":-250000}' "options first, then -250kW" -- --timeout-ms 2000 set power -250kW
sends '{"cmd":"setpoint","mode":"current","value":140}' "set current 140A" -- set current 140A
sends '{"cmd":"setpoint","mode":"current","value":-140}' "set current -140" -- set current -140
sends '{"cmd":"ambient","value":30}' "set ambient 30" -- set ambient 30
sends '{"cmd":"ambient","value":-5.5}' "set ambient -5.5C" -- set ambient -5.5C
for p in regulation peak-shaving cycle none; do
	sends "{\"cmd\":\"profile\",\"name\":\"$p\"}" "profile $p" -- profile $p
done
printf 'time_s,power_w\n0,0\n60,100000\n' >"$tmp/p.csv"
(cd "$tmp" && sends "{\"cmd\":\"profile\",\"name\":\"csv\",\"path\":\"$tmp/p.csv\",\"loop\":true,\"scale\":1}" "profile csv (relative path) --loop" -- profile csv p.csv --loop)
sends "{\"cmd\":\"profile\",\"name\":\"csv\",\"path\":\"$tmp/p.csv\",\"loop\":false,\"scale\":2}" "profile csv --scale 2" -- profile csv "$tmp/p.csv" --scale 2

sends '{"cmd":"fault","action":"inject","type":"short","rack":3,"module":2,"cell":7,"value":0.5}' "fault inject short" -- fault inject short --rack 3 --module 2 --cell 7 --ohm 0.5
has "$tmp/out" "^ok: injected short on rack 3 module 2 cell 7" "fault inject: confirmation"
sends '{"cmd":"fault","action":"inject","type":"high_r","rack":0,"module":1,"cell":2,"value":3}' "fault inject high_r" -- fault inject high_r --rack=0 --module=1 --cell=2 --factor=3
sends '{"cmd":"fault","action":"inject","type":"cooling","rack":1,"value":0.1}' "fault inject cooling" -- fault inject cooling --rack 1 --factor 0.1
sends '{"cmd":"fault","action":"inject","type":"open","rack":2}' "fault inject open" -- fault inject open --rack 2
sends '{"cmd":"fault","action":"inject","type":"sensor_stuck","rack":0,"module":0,"cell":1,"quantity":"temperature"}' "fault inject sensor_stuck" -- fault inject sensor_stuck --rack 0 --module 0 --cell 1 --quantity temperature
sends '{"cmd":"fault","action":"inject","type":"sensor_offset","rack":0,"module":0,"cell":1,"value":-0.05,"quantity":"voltage"}' "fault inject sensor_offset" -- fault inject sensor_offset --rack 0 --module 0 --cell 1 --value -0.05 --quantity voltage
sends '{"cmd":"fault","action":"inject","type":"runaway","rack":4,"module":0,"cell":0,"value":80}' "fault inject runaway" -- fault inject runaway --rack 4 --module 0 --cell 0 --value 80
sends '{"cmd":"fault","action":"inject","type":"fade","rack":4,"module":0,"cell":0,"value":0.8}' "fault inject fade" -- fault inject fade --rack 4 --module 0 --cell 0 --value 0.8
sends '{"cmd":"fault","action":"clear","type":"all"}' "fault clear all" -- fault clear all
sends '{"cmd":"fault","action":"clear","type":"short","rack":3,"module":2,"cell":7}' "fault clear short at a cell" -- fault clear short --rack 3 --module 2 --cell 7
sends '{"cmd":"fault","action":"clear","type":"cooling","rack":1}' "fault clear cooling on a rack" -- fault clear cooling --rack 1
# one name per action: "alarms reset" as HTTP's /control/alarms/reset and
# the protocol's alarms_reset; "alarm reset" is the old spelling
sends '{"cmd":"alarms_reset"}' "alarms reset" -- alarms reset
sends '{"cmd":"alarms_reset","rack":3}' "alarms reset --rack 3" -- alarms reset --rack 3
sends '{"cmd":"alarms_reset"}' "alarm reset (old spelling)" -- alarm reset
sends '{"cmd":"alarms_reset","rack":3}' "alarm reset --rack 3 (old spelling)" -- alarm reset --rack 3
sends '{"cmd":"alarms"}' "alarms list" -- alarms list
sends '{"cmd":"state"}' "faults list" -- faults list

sends '{"cmd":"alarms"}' "alarms" -- alarms
has "$tmp/out" "^RACK +KIND +TIER +ACTIVE +LATCHED +MODULE +CELL +TIME_S" "alarms: table header"
has "$tmp/out" "^3 +cell_ov +warning +yes +yes +2 +7 +12.5" "alarms: active and latched row"
has "$tmp/out" "^0 +t_spread +protection +no +yes +0 +1 +99" "alarms: latched-only row"
sends '{"cmd":"alarms"}' "alarms --json" -- alarms --json
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['ok'] and len(d['alarms'])==2 else 1)" "$tmp/out" \
	&& ok "alarms --json prints the reply" || notok "alarms --json output"
sends '{"cmd":"state"}' "faults" -- faults
has "$tmp/out" "^TYPE +RACK +MODULE +CELL +VALUE" "faults: table header"
has "$tmp/out" "^short +3 +2 +7 +0.5" "faults: cell fault row"
has "$tmp/out" "^cooling +1 +- +- +0.1" "faults: rack fault row"

sends '{"cmd":"state"}' "state" -- state
has "$tmp/out" "^mode: power" "state: mode"
has "$tmp/out" "^profile.name: none" "state: profile name"
has "$tmp/out" "^faults: 2 " "state: fault count"
sends '{"cmd":"pause"}' "pause" -- pause
sends '{"cmd":"resume"}' "resume" -- resume
sends '{"cmd":"speed","value":10}' "speed 10" -- speed 10
sends '{"cmd":"speed","value":0}' "speed 0" -- speed 0

# the daemon refuses: its message, exit 6
before=$(nlog)
expect 6 "refused command" -- "$CTL" --socket "$SOCK" fault inject fade --rack 0 --module 0 --cell 0 --value 666
has "$tmp/err" "refused.*value 666 is out of range: use 0-1" "refusal: the daemon's message"
[ "$(nlog)" = $((before + 1)) ] && ok "refused command was sent" || notok "refused command not sent"

# argument errors: exit 1, nothing sent
nosend 1 "set power abc" -- set power abc
nosend 1 "set power 5mW (milliwatts are not a unit here)" -- set power 5mW
nosend 1 "set current 5W" -- set current 5W
nosend 1 "set voltage" -- set voltage 5
nosend 1 "set power without a value" -- set power
nosend 1 "short without a cell" -- fault inject short --rack 1 --ohm 0.5
nosend 1 "short without a value" -- fault inject short --rack 1 --module 1 --cell 1
nosend 1 "open with a cell" -- fault inject open --rack 1 --module 1 --cell 1
nosend 1 "open with a value" -- fault inject open --rack 1 --value 1
nosend 1 "inject without a rack" -- fault inject cooling --factor 0.5
nosend 1 "unknown fault type" -- fault inject bogus --rack 1
nosend 1 "two values" -- fault inject high_r --rack 1 --module 1 --cell 1 --ohm 1 --factor 2
nosend 1 "sensor fault without quantity" -- fault inject sensor_offset --rack 0 --module 0 --cell 0 --value 1
nosend 1 "bad quantity" -- fault inject sensor_stuck --rack 0 --module 0 --cell 0 --quantity pressure
nosend 1 "--module without --cell" -- fault clear short --rack 1 --module 1
nosend 1 "fault clear with a value" -- fault clear all --value 1
nosend 1 "profile csv missing file" -- profile csv "$tmp/nonexistent.csv"
nosend 1 "profile unknown" -- profile sawtooth
nosend 1 "--loop on a built-in profile" -- profile cycle --loop
nosend 1 "alarm reset --module" -- alarm reset --module 1
nosend 1 "alarm frobnicate" -- alarm frobnicate
nosend 1 "alarms frobnicate" -- alarms frobnicate
has "$tmp/err" "usage: alarms reset \[--rack R\] \| alarms \[list\]" "alarms frobnicate: the usage names both forms"
nosend 1 "alarms reset --module" -- alarms reset --module 1
nosend 1 "faults frobnicate" -- faults frobnicate
nosend 1 "--rack not a number" -- alarm reset --rack x
nosend 1 "--csv on a control command" -- alarms --csv
nosend 1 "speed -1" -- speed -1
nosend 1 "speed fast" -- speed fast
nosend 1 "pause now" -- pause now

# the environment names the socket
before=$(nlog)
BATSIM_CONTROL_SOCKET=$SOCK "$CTL" alarm reset >/dev/null 2>&1 && [ "$(nlog)" = $((before + 1)) ] \
	&& ok "BATSIM_CONTROL_SOCKET is used" || notok "BATSIM_CONTROL_SOCKET not used"

# the configuration file names the socket; the environment wins over it
printf 'control_socket = %s\n' "$SOCK" >"$tmp/ctl.conf"
before=$(nlog)
"$CTL" --config "$tmp/ctl.conf" alarm reset >/dev/null 2>&1 && [ "$(nlog)" = $((before + 1)) ] \
	&& ok "--config: control_socket from the file" || notok "--config: control_socket not used"
BATSIM_CONTROL_SOCKET=$tmp/nothing.sock "$CTL" --config "$tmp/ctl.conf" alarm reset >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 5 ] && grep -q "nothing.sock" "$tmp/err" && ok "BATSIM_CONTROL_SOCKET wins over --config (exit 5)" \
	|| notok "BATSIM_CONTROL_SOCKET over --config: exit $rc"

# a server that never answers, answers garbage, or hangs up
start_fake silent
expect 5 "silent server: timeout" -- "$CTL" --socket "$SOCK" --timeout-ms 300 alarm reset
has "$tmp/err" "did not answer within 300 ms" "timeout explained"
start_fake garbage
expect 5 "garbage reply" -- "$CTL" --socket "$SOCK" alarm reset
has "$tmp/err" "not one JSON line" "garbage explained"
start_fake close
expect 5 "server hangs up" -- "$CTL" --socket "$SOCK" alarm reset
has "$tmp/err" "closed the connection" "hang-up explained"
stop_fake

# no server: the socket is missing, or nobody listens on it
expect 5 "no socket" -- "$CTL" --socket "$tmp/none.sock" set power 0
has "$tmp/err" "batsimd is not running: no control socket at $tmp/none.sock.*systemctl start batsimd" "missing socket explained"
"$PY" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$tmp/dead.sock"
expect 5 "nobody listening" -- "$CTL" --socket "$tmp/dead.sock" set power 0
has "$tmp/err" "batsimd is not running: nobody is listening on" "refused connection explained"

finish
