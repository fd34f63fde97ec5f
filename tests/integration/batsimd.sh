#!/bin/sh
# tests/integration/batsimd.sh - the real batsimd, end to end: options and
# configuration errors (exit 2 with file:line), --duration, --trace, the
# segment it publishes (read with libbatsim through bsd-peek), the legacy
# mirror, the control socket (python3 as the client), SIGHUP, SIGTERM.
# Waits are polls with generous limits; nothing asserts on timing.
set -u

: "${abs_top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_srcdir:=$abs_top_builddir}"
BATSIMD=$abs_top_builddir/src/batsimd/batsimd
PEEK=$abs_top_builddir/tests/integration/bsd-peek

command -v python3 >/dev/null 2>&1 || {
	echo "SKIP: python3 is needed as the control socket client"
	exit 77
}
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

tmp=$(mktemp -d /tmp/batsimd-test.XXXXXX)
shm=/batsim-test-daemon-$$
legacy=/batsim-test-daemon-legacy-$$
sock=$tmp/run/batsimd.sock
pid=
fails=0
passes=0

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -f "/dev/shm$shm" "/dev/shm$legacy" "/dev/shm${shm}-b"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

ok() { passes=$((passes + 1)); echo "ok - $*"; }
fail() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

# peek KEY [R M C]: one value of the published state
peek() {
	key=$1
	shift
	"$PEEK" "$shm" "$@" 2>/dev/null | sed -n "s/^$key=//p"
}

# ctl JSON...: send requests on one connection, print the replies
ctl() {
	python3 - "$sock" "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile('rwb')
for line in sys.argv[2:]:
    f.write(line.encode() + b'\n')
    f.flush()
    sys.stdout.write(f.readline().decode())
EOF
}

# field JSON KEY: a scalar field of a reply (no python start-up: the
# replies are flat where this is used)
field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,}\"]*\).*/\1/p"
}

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

mkdir -p "$tmp/run"
conf=$tmp/batsim.conf
cat >"$conf" <<EOF
# small site for the test
shm_name = $shm
racks = 3
modules_per_rack = 2
cells_per_module = 4
control_socket = $sock
legacy_shm_name = $legacy
backend = cpu
threads = 1
mode = current
setpoint_a = 50
EOF

# ---- options and configuration errors ----
out=$("$BATSIMD" --help 2>&1)
check "--help exits 0 and shows --trace-out" \
	sh -c "'$BATSIMD' --help >/dev/null && echo \"\$1\" | grep -q -- --trace-out" _ "$out"
check "--version exits 0" sh -c "'$BATSIMD' --version | grep -q 'batsimd (batsim)'"

"$BATSIMD" --bogus >/dev/null 2>&1
check "unknown option: exit 2" test $? -eq 2

printf 'racks = 2\n# comment\nrack_count = 3\n' >"$tmp/bad1.conf"
err=$("$BATSIMD" --config "$tmp/bad1.conf" 2>&1)
rc=$?
check "unknown key: exit 2" test $rc -eq 2
check "unknown key: message names file:line" \
	sh -c "echo \"\$1\" | grep -q \"$tmp/bad1.conf:3: unknown key 'rack_count'\"" _ "$err"

printf 'initial_soc = 1.5\n' >"$tmp/bad2.conf"
err=$("$BATSIMD" --config "$tmp/bad2.conf" 2>&1)
rc=$?
check "bad value: exit 2 with file:line" \
	sh -c "test $rc -eq 2 && echo \"\$1\" | grep -q \"$tmp/bad2.conf:1: bad value '1.5' for initial_soc\"" _ "$err"

"$BATSIMD" --config "$tmp/missing.conf" >/dev/null 2>&1
check "missing --config file: exit 2" test $? -eq 2

err=$("$BATSIMD" --config "$conf" --speed -1 2>&1)
rc=$?
check "bad --speed: exit 2 naming the option" \
	sh -c "test $rc -eq 2 && echo \"\$1\" | grep -q -- '--speed'" _ "$err"

err=$("$BATSIMD" --config "$conf" --trace 0,0,9 --trace-out "$tmp/x.csv" 2>&1)
rc=$?
check "--trace out of the topology: exit 2" \
	sh -c "test $rc -eq 2 && echo \"\$1\" | grep -q 'cell 9 out of range'" _ "$err"

"$BATSIMD" --config "$conf" --trace 0,0,0 >/dev/null 2>&1
check "--trace without --trace-out: exit 2" test $? -eq 2

sed "s|^control_socket = .*|control_socket = $tmp/nodir/x.sock|" "$conf" >"$tmp/nodir.conf"
err=$("$BATSIMD" --config "$tmp/nodir.conf" --duration 1 --speed 0 2>&1)
rc=$?
check "socket directory missing: exit 1 with a clear message" \
	sh -c "test $rc -eq 1 && echo \"\$1\" | grep -q 'does not exist'" _ "$err"
# the failed start removes the segment and mirror it made (issue 9): a
# restart with another topology needs no --force
check "socket directory missing: no segment left behind" test ! -e "/dev/shm$shm"
check "socket directory missing: no legacy mirror left behind" test ! -e "/dev/shm$legacy"
rm -f "/dev/shm$shm"

# ---- a run with --duration and --trace (creates the segment itself) ----
err=$("$BATSIMD" --config "$conf" --duration 20 --speed 0 \
	--trace 1,1,3 --trace-out "$tmp/trace.csv" 2>&1)
rc=$?
check "--duration run exits 0" test $rc -eq 0
[ $rc -eq 0 ] || echo "$err" | sed 's/^/# /'
check "batsimd created the missing segment" \
	sh -c "echo \"\$1\" | grep -q 'created segment'" _ "$err"
check "after --duration the segment is STOPPED" test "$(peek state)" = STOPPED
check "last published tick is 200 (20 s / 0.1 s)" test "$(peek tick)" = 200
check "published topology" test "$(peek topology)" = 3x2x4
check "the socket file is removed at exit" test ! -e "$sock"
check "trace header" test "$(head -n 1 "$tmp/trace.csv")" = \
	"time_s,voltage,current,temperature,soc,resistance,hyst,soh"
check "trace has a row for time 0 and one per step" \
	test "$(wc -l <"$tmp/trace.csv")" -eq 202
check "trace rows are physical" python3 - "$tmp/trace.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(r['time_s']) for r in rows]
assert t[0] == 0 and abs(t[1] - 0.1) < 1e-9 and abs(t[-1] - 20.0) < 1e-6, (t[0], t[-1])
assert all(b > a for a, b in zip(t, t[1:]))
for r in rows:
    v, i, soc, res = (float(r[k]) for k in ('voltage', 'current', 'soc', 'resistance'))
    assert 2.5 < v < 3.65, v
    assert 0 < soc < 1 and res > 0
    assert -1 <= float(r['hyst']) <= 1
    assert 0.99 < float(r['soh']) <= 1
# 50 A on 3 parallel racks: the traced cell discharges, SoC falls
assert float(rows[-1]['soc']) < float(rows[0]['soc'])
assert float(rows[-1]['current']) > 0
# and moves towards the discharge branch of the hysteresis
assert float(rows[-1]['hyst']) < float(rows[0]['hyst'])
EOF
check "legacy mirror has R*M*C cells of 20 bytes" \
	test "$(wc -c <"/dev/shm$legacy")" -eq $((3 * 2 * 4 * 20))
check "legacy mirror holds the published cells" python3 - "/dev/shm$legacy" \
	"$(peek cell_voltage 1 1 3)" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
cells = [struct.unpack_from('<5f', data, 20 * k) for k in range(len(data) // 20)]
for v, i, t, soc, r in cells:
    assert 2.5 < v < 3.65 and 0 < soc < 1 and 0 < r < 0.01 and 0 < t < 60
# rack 1, module 1, cell 3, rack-major: index (1*2 + 1)*4 + 3 = 15
assert abs(cells[15][0] - float(sys.argv[2])) < 1e-4, (cells[15], sys.argv[2])
EOF

# ---- topology mismatch ----
sed 's/^racks = 3/racks = 4/' "$conf" >"$tmp/mismatch.conf"
err=$("$BATSIMD" --config "$tmp/mismatch.conf" --duration 1 --speed 0 2>&1)
rc=$?
check "topology mismatch: exit 1 telling to run batsim-init --force" \
	sh -c "test $rc -eq 1 && echo \"\$1\" | grep -q 'batsim-init --force'" _ "$err"

# ---- the snapshot of tick 0 (the dashboard's first point) ----
# dt 60 s at speed 1: the first step comes a minute after the start, so
# the snapshot published at start stays long enough to be read
sed 's/^setpoint_a = 50/setpoint_a = 50\
dt_s = 60/' "$conf" >"$tmp/tick0.conf"
"$BATSIMD" --config "$tmp/tick0.conf" --speed 1 2>"$tmp/tick0.log" &
pid=$!
published() { [ "$(peek live)" = 1 ] && [ -n "$(peek tick)" ]; }
if wait_for 20 published; then
	check "tick 0 is published first" test "$(peek tick)" = 0
	check "tick 0 is physical: cells in 2.5-3.65 V, the bus at 8 cells'" \
		python3 - "$("$PEEK" "$shm" 1 1 3)" <<'EOF'
import sys
d = dict(l.split('=', 1) for l in sys.argv[1].splitlines())
v, bus = float(d['cell_voltage']), float(d['bus_voltage_v'])
assert 2.5 < v < 3.65, v
assert 8 * 3.0 < bus < 8 * 3.65 and abs(bus - 8 * v) < 0.2, (bus, v)
assert abs(float(d['site_current_a']) - 50) < 1e-3, d['site_current_a']
assert abs(float(d['site_power_w']) - 50 * bus) < 1, d['site_power_w']
EOF
else
	fail "tick 0 was not published"
	sed 's/^/# /' "$tmp/tick0.log"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
pid=

# ---- a live daemon: publication, control, signals ----
# a stale socket file from a dead daemon is removed at start
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
"$BATSIMD" --config "$conf" --verbose 2>"$tmp/daemon.log" &
pid=$!
live() { [ "$(peek live)" = 1 ] && [ -S "$sock" ] && ctl '{"cmd":"state"}' >/dev/null 2>&1; }
if ! wait_for 20 live; then
	fail "daemon did not come up"
	sed 's/^/# /' "$tmp/daemon.log"
	exit 1
fi
ok "daemon publishes and answers (stale socket file replaced)"
check "socket mode is 0660" test "$(stat -c %a "$sock")" = 660
check "state RUNNING with the daemon's pid" \
	test "$(peek state)" = RUNNING -a "$(peek pid)" = "$pid"
check "second batsimd on the same segment: exit 1" \
	sh -c "'$BATSIMD' --config '$conf' >/dev/null 2>&1; test \$? -eq 1"
t1=$(peek tick)
advanced() { [ "$(peek tick)" -gt "$t1" ]; }
check "ticks advance" wait_for 20 advanced

r=$(ctl '{"cmd":"state"}')
check "state: mode, setpoint, backend" \
	test "$(field "$r" ok)" = true -a "$(field "$r" mode)" = current \
	-a "$(field "$r" setpoint)" = 50.0 -a "$(field "$r" backend)" = cpu

r=$(ctl '{"cmd":"setpoint","mode":"power","modul":1,"value":-3000}')
check "a field the command does not take is refused and named" \
	sh -c 'printf "%s\n" "$1" | grep -q "\"ok\":false.*unknown field .*modul"' _ "$r"
r=$(ctl '{"cmd":"resume","value":1}')
check "resume takes no fields" test "$(field "$r" ok)" = false
r=$(ctl '{"cmd":"setpoint","mode":"power","value":-3000}')
check "setpoint power accepted" test "$(field "$r" ok)" = true
published_power() { [ "$(peek mode)" = power ] && [ "$(peek setpoint)" = -3000 ]; }
check "the new setpoint is published" wait_for 20 published_power
charging() { awk -v i="$(peek site_current_a)" 'BEGIN { exit !(i + 0 < 0) }'; }
check "the site charges (current < 0)" wait_for 20 charging

r=$(ctl '{"cmd":"ambient","value":30}')
check "ambient accepted" test "$(field "$r" ok)" = true
amb() { [ "$(peek ambient_c)" = 30 ]; }
check "ambient published" wait_for 20 amb

r=$(ctl '{"cmd":"fault","action":"inject","type":"open","rack":2}')
check "fault inject open accepted" test "$(field "$r" ok)" = true
r=$(ctl '{"cmd":"fault","action":"inject","type":"short","rack":0,"module":1,"cell":2,"value":0.5}' '{"cmd":"state"}' | tail -n 1)
check "state lists both faults" python3 -c '
import json, sys
f = json.loads(sys.argv[1])["faults"]
kinds = sorted(x["type"] for x in f)
assert kinds == ["open", "short"], f
s = [x for x in f if x["type"] == "short"][0]
assert (s["rack"], s["module"], s["cell"], s["value"]) == (0, 1, 2, 0.5), s
' "$r"
opened() { [ "$(peek racks_closed)" = 2 ] && [ "$(peek faults_active)" = 2 ]; }
check "open fault published: 2 racks closed, 2 faults" wait_for 20 opened
r=$(ctl '{"cmd":"fault","action":"clear","type":"all"}')
check "clear all faults" test "$(field "$r" cleared)" = 2
r=$(ctl '{"cmd":"fault","action":"clear","type":"short","rack":0,"module":1,"cell":2}')
check "clearing a fault that is not there is an error" test "$(field "$r" ok)" = false

r=$(ctl '{"cmd":"alarms"}')
check "alarms: a list" python3 -c '
import json, sys
r = json.loads(sys.argv[1]); assert r["ok"] is True and isinstance(r["alarms"], list)
for a in r["alarms"]:
    assert a["kind"] in ("cell_ov","cell_uv","cell_ot","cell_ut","v_spread","t_spread","soc_high","soc_low")
    assert a["tier"] in ("warning","alarm","protection")
' "$r"
r=$(ctl '{"cmd":"alarm_reset"}' '{"cmd":"alarm_reset","rack":1}' | tail -n 1)
check "alarm_reset accepted" test "$(field "$r" ok)" = true

r=$(ctl '{"cmd":"profile","name":"regulation"}' '{"cmd":"state"}' | tail -n 1)
check "profile regulation" python3 -c '
import json, sys; assert json.loads(sys.argv[1])["profile"]["name"] == "regulation"' "$r"
printf 'time_s,power_w\n0,1000\n60,-1000\n' >"$tmp/p.csv"
r=$(ctl "{\"cmd\":\"profile\",\"name\":\"csv\",\"path\":\"$tmp/p.csv\",\"loop\":false}")
check "profile csv" test "$(field "$r" ok)" = true
r=$(ctl '{"cmd":"profile","name":"csv","path":"/nonexistent/p.csv"}')
check "profile csv with a missing file is an error" test "$(field "$r" ok)" = false

r=$(ctl '{"cmd":"pause"}' '{"cmd":"state"}' | tail -n 1)
check "pause" test "$(field "$r" paused)" = true
t1=$(peek tick)
sleep 0.5
check "paused: the tick stands, the heartbeat stays fresh" \
	test "$(peek tick)" = "$t1" -a "$(peek live)" = 1
r=$(ctl '{"cmd":"resume"}' '{"cmd":"speed","value":5}' '{"cmd":"state"}' | tail -n 1)
check "resume and speed" test "$(field "$r" paused)" = false -a "$(field "$r" speed)" = 5.0
check "ticks advance again" wait_for 20 advanced
r=$(ctl '{"cmd":"fault","action":"inject","type":"cooling","rack":0,"value":0.05}' '{"cmd":"state"}' '{"cmd":"fault","action":"clear","type":"all"}' | sed -n 2p)
check "state prints numbers without binary noise (no 0.05000000000000000277)" python3 -c '
import re, sys
nums = re.findall(r"[-0-9][0-9.eE+-]*", sys.argv[1])
assert nums and all(len(re.sub(r"[^0-9]", "", n.split("e")[0].split("E")[0]).lstrip("0")) <= 15 for n in nums), nums
assert "\"value\":0.05" in sys.argv[1], sys.argv[1]
' "$r"

# invalid requests get an error reply and the connection stays usable
r=$(ctl 'not json' '[1,2]' '{"cmd":"warp"}' '{"cmd":"setpoint","mode":"power"}' \
	'{"cmd":"setpoint","mode":"power","value":"x"}' \
	'{"cmd":"fault","action":"inject","type":"short","rack":99,"module":0,"cell":0,"value":1}' \
	'{"cmd":"fault","action":"inject","type":"short","rack":0,"value":1}' \
	'{"cmd":"ambient","value":20,"unit":"C"}' '{} {}' '' '{"cmd":"state"}')
check "every invalid request gets ok:false, then a valid one works" python3 -c '
import json, sys
lines = sys.argv[1].splitlines()
assert len(lines) == 11, lines
for l in lines[:10]:
    r = json.loads(l); assert r["ok"] is False and r["error"], l
assert json.loads(lines[10])["ok"] is True
' "$r"
# fault value ranges are the engine's: its message comes back
r=$(ctl '{"cmd":"fault","action":"inject","type":"high_r","rack":0,"module":0,"cell":0,"value":5000}' \
	'{"cmd":"fault","action":"inject","type":"cooling","rack":0,"value":0}')
check "out-of-range fault values are refused with the engine's range" python3 -c '
import json, sys
a, b = [json.loads(l) for l in sys.argv[1].splitlines()]
assert a["ok"] is False and "(0, 1000]" in a["error"], a
assert b["ok"] is False and "(0, 10]" in b["error"], b
for r in (a, b):  # the fault is named once, not "fault X: fault X: ..."
    assert r["error"].count("fault ") == 1, r
' "$r"
check "an over-long line gets an error, the connection goes on" python3 - "$sock" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
f = s.makefile('rwb')
f.write(b'{"cmd":"state","x":"' + b'a' * 70000 + b'"}\n'); f.flush()
r = json.loads(f.readline()); assert r["ok"] is False and "longer" in r["error"], r
f.write(b'{"cmd":"state"}\n'); f.flush()
assert json.loads(f.readline())["ok"] is True
EOF
check "several clients at once, requests pipelined" python3 - "$sock" <<'EOF'
import json, socket, sys
cl = []
for k in range(8):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
    cl.append((s, s.makefile('rwb')))
for s, f in cl:
    f.write(b'{"cmd":"state"}\n{"cmd":"alarms"}\n{"cmd":"state"}\n'); f.flush()
for s, f in reversed(cl):
    for k in range(3):
        assert json.loads(f.readline())["ok"] is True
# a client that goes away mid-request does not hurt the daemon
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"cmd":"sta'); s.close()
EOF

# SIGHUP reloads the profile from the file
echo "profile = cycle" >>"$conf"
kill -HUP "$pid"
cycle() { ctl '{"cmd":"state"}' | grep -q '"name":"cycle"'; }
check "SIGHUP reloads the profile from the file" wait_for 20 cycle
check "SIGHUP is logged" grep -q 'SIGHUP: profile cycle' "$tmp/daemon.log"

# SIGTERM: STOPPED, socket removed, exit 0
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: exit 0" test $rc -eq 0
check "SIGTERM: segment STOPPED" test "$(peek state)" = STOPPED
check "SIGTERM: socket removed" test ! -e "$sock"

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ]
