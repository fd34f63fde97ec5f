#!/bin/sh
# batsimctl(1) read side against the test writer: status, show (tables,
# --json, --csv), out-of-range indices, stale and stopped writers, watch.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
CTL=$b/src/ctl/batsimctl
INIT=$b/src/init/batsim-init
TW=$b/tests/testwriter/bs-testwriter
need "$CTL" "$INIT" "$TW"

N=/bs-test-ctl-$$
wpid= vpid=
at_exit_kill wpid vpid
at_exit_remove $N

empty() {
	if [ ! -s "$1" ]; then ok "$2"; else notok "$2: not empty:"; show "$1"; fi
}
# wait_live: until status says live (at most about 5 s)
wait_live() { poll 5 "$CTL" --name $N status >/dev/null 2>&1; }

expect 0 "--help" -- "$CTL" --help
has "$tmp/out" "show module R M" "--help lists show module"
expect 0 "--version" -- "$CTL" --version
expect 1 "no command" -- "$CTL"
expect 1 "unknown command" -- "$CTL" frobnicate
expect 1 "unknown option" -- "$CTL" status --bogus

# no segment
expect 2 "status without a segment" -- "$CTL" --name $N status
has "$tmp/err" "not found.*batsim-init.*batsimd" "no segment: says what to do"
expect 2 "show without a segment" -- "$CTL" --name $N show summary
BATSIM_SHM_NAME=$N expect 2 "BATSIM_SHM_NAME is used" -- "$CTL" status
has "$tmp/err" "$N" "BATSIM_SHM_NAME names the segment"

# --config: shm_name from the file; the environment and options win
printf '# test\nshm_name = %s-conf\nracks = 2\n' "$N" >"$tmp/batsim.conf"
expect 2 "--config FILE status" -- "$CTL" --config "$tmp/batsim.conf" status
has "$tmp/err" "$N-conf" "--config: shm_name comes from the file"
expect 2 "status --config FILE (option after the command)" -- "$CTL" status --config "$tmp/batsim.conf"
has "$tmp/err" "$N-conf" "--config after the command"
expect 2 "-c FILE" -- "$CTL" -c "$tmp/batsim.conf" show summary
has "$tmp/err" "$N-conf" "-c: shm_name comes from the file"
BATSIM_SHM_NAME=$N-env expect 2 "BATSIM_SHM_NAME over --config" -- "$CTL" --config "$tmp/batsim.conf" status
has "$tmp/err" "$N-env" "the environment wins over the file"
BATSIM_SHM_NAME=$N-env expect 2 "--name over both" -- "$CTL" --config "$tmp/batsim.conf" --name $N-opt status
has "$tmp/err" "$N-opt" "--name wins over the environment and the file"
expect 1 "--config with a missing file" -- "$CTL" --config "$tmp/missing.conf" status
has "$tmp/err" "missing.conf" "missing --config: names the file"
printf 'shm_name = /x\nno_such_key = 1\n' >"$tmp/bad.conf"
expect 1 "--config with an unknown key" -- "$CTL" --config "$tmp/bad.conf" status
has "$tmp/err" "no_such_key" "bad --config: names the key"
expect 1 "--config without a value" -- "$CTL" status --config

# a segment with no writer yet: status prints it, marked, exit 3
"$INIT" --name $N --topology 3x4x5 >/dev/null 2>&1
expect 3 "status before any writer" -- "$CTL" --name $N status
has "$tmp/out" "^state: +init" "status: state init"
has "$tmp/out" "^live: +NO" "status: marked not live"
has "$tmp/err" "start batsimd" "status: says start batsimd"
expect 3 "show summary before any writer" -- "$CTL" --name $N show summary
empty "$tmp/out" "no data printed before any writer"

# a live writer (the test stops it; the duration is only a bound, long
# enough for a slow build such as the ASan one under load)
"$TW" --name $N --topology 3x4x5 --period-ms 50 --duration-s 600 --site-name bench-7 >/dev/null 2>&1 &
wpid=$!
wait_live || echo "# writer did not come up"
expect 0 "status" -- "$CTL" --name $N status
has "$tmp/out" "^state: +running" "status: running"
has "$tmp/out" "^writer pid: +$wpid\$" "status: writer pid"
has "$tmp/out" "^backend: +test" "status: backend"
has "$tmp/out" "^tick: +[0-9]+ \(simulated time" "status: tick"
has "$tmp/out" "^heartbeat age: +[0-9.]+ s" "status: heartbeat age"
has "$tmp/out" "^topology: +3x4x5 \(60 cells\), 3 slots" "status: topology"
has "$tmp/out" "^live: +yes" "status: live"
has "$tmp/out" "^site: +bench-7\$" "status: the site name the writer published"
expect 0 "status --json" -- "$CTL" --name $N --json status
json "d['stale'] is False and d['state']=='running' and d['topology']['cells']==60 and d['tick']>=1 and d['site_name']=='bench-7'" "status --json fields" "$tmp/out"

expect 0 "show summary" -- "$CTL" --name $N show summary
has "$tmp/out" "^site bench-7: tick [0-9]+" "summary: site line with its name"
has "$tmp/out" "^RACK +CONTCT +VOLTAGE_V" "summary: rack table header"
rows=$(grep -Ec '^ +[0-9]+ (closed|OPEN) ' "$tmp/out")
[ "$rows" = 3 ] && ok "summary: one row per rack" || notok "summary: $rows rack rows, want 3"
expect 0 "show summary --json (option after the command)" -- "$CTL" --name $N show summary --json
json "len(d['racks'])==3 and 'site' in d and d['stale'] is False and isinstance(d['tick'], int) and 0 <= d['site']['soc'] <= 100 and d['site_name']=='bench-7'" "summary --json shape" "$tmp/out"
expect 0 "show summary --csv" -- "$CTL" --name $N show summary --csv
[ "$(head -1 "$tmp/out")" = "rack,contactor,voltage,current,power,soc,cell_v_min,cell_v_max,temperature_min,temperature_max,alarms,faults" ] && ok "summary --csv header" || notok "summary --csv header: $(head -1 "$tmp/out")"
"${PY:-python3}" - "$tmp/out" 3 <<'PY' && ok "summary --csv: one row per rack, numbers parse" || notok "summary --csv rows"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == int(sys.argv[2]), len(rows)
for i, r in enumerate(rows):
    assert int(r['rack']) == i and r['contactor'] in ('closed', 'open')
    for k in ('voltage', 'current', 'power', 'soc', 'cell_v_min', 'cell_v_max', 'temperature_min', 'temperature_max'):
        float(r[k])
    assert 0 <= float(r['soc']) <= 100 and float(r['voltage']) > 0
PY

# show site: every rack, module and cell (3 x 4 x 5 = 60 cells)
expect 0 "show site --csv" -- "$CTL" --name $N show site --csv
"${PY:-python3}" - "$tmp/out" 3 4 5 <<'PY' && ok "site --csv: racks*modules*cells rows, each cell once, numbers parse" || notok "site --csv rows"
import csv, sys
R, M, C = map(int, sys.argv[2:5])
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == R * M * C, len(rows)
seen = set()
for r in rows:
    seen.add((int(r['rack']), int(r['module']), int(r['cell'])))
    v = [float(r[k]) for k in ('voltage', 'current', 'temperature', 'soc', 'resistance')]
    assert v[0] > 0 and 0 <= v[3] <= 100, r
assert seen == {(a, b, c) for a in range(R) for b in range(M) for c in range(C)}
PY
expect 0 "show site --json" -- "$CTL" --name $N show site --json
json "d['site_name']=='bench-7' and d['topology']['cells']==60 and [r['rack'] for r in d['racks']]==[0,1,2] and all(len(r['modules'])==4 and all(len(m['cells'])==5 and all(c['voltage'] > 0 for c in m['cells']) for m in r['modules']) for r in d['racks'])" "site --json: every rack, module and cell" "$tmp/out"
expect 0 "show site" -- "$CTL" --name $N show site
has "$tmp/out" "^site bench-7: 3 racks x 4 modules x 5 cells \(60 cells\)" "site: header names the site"
rows=$(grep -Ec '^    cell +[0-9]+ +[0-9.]+ V +-?[0-9.]+ A +-?[0-9.]+ C +[0-9.]+ % +[0-9.]+ mohm$' "$tmp/out")
[ "$rows" = 60 ] && ok "site: one line per cell" || notok "site: $rows cell lines, want 60"
rows=$(grep -Ec '^rack [0-9]+: tick [0-9]+' "$tmp/out")
[ "$rows" = 3 ] && ok "site: one header per rack" || notok "site: $rows rack headers, want 3"
expect 1 "watch show site is refused" -- "$CTL" --name $N watch show site

expect 0 "show rack 2" -- "$CTL" --name $N show rack 2
has "$tmp/out" "^rack 2: tick" "rack: header"
rows=$(grep -Ec '^ +[0-9]+ +[0-9.]+ +-?[0-9.]+ ' "$tmp/out")
[ "$rows" = 4 ] && ok "rack: one row per module" || notok "rack: $rows module rows, want 4"
expect 0 "show rack 2 --json" -- "$CTL" --json --name $N show rack 2
json "d['rack']==2 and len(d['modules'])==4 and all(len(m['cells'])==5 for m in d['modules'])" "rack --json shape" "$tmp/out"
expect 0 "show rack 2 --csv" -- "$CTL" --name $N show rack 2 --csv
[ "$(wc -l <"$tmp/out")" = 21 ] && ok "rack --csv: header + 20 cells" || notok "rack --csv: $(wc -l <"$tmp/out") lines"

expect 0 "show module 1 3" -- "$CTL" --name $N show module 1 3
has "$tmp/out" "^CELL +VOLTAGE_V +CURRENT_A +TEMP_C +SOC_%" "module: cell table"
rows=$(grep -Ec '^ +[0-9]+ +[0-9.]+ +-?[0-9.]+ +-?[0-9.]+ +[0-9.]+ +[0-9.]+$' "$tmp/out")
[ "$rows" = 5 ] && ok "module: one row per cell" || notok "module: $rows cell rows, want 5"
expect 0 "show module 1 3 --json" -- "$CTL" --name $N show module 1 3 --json
json "d['rack']==1 and d['module']==3 and isinstance(d['tick'], int) and len(d['cells'])==5 and sorted(d['cells'][0])==['current','resistance','soc','temperature','voltage'] and all(0 <= c['soc'] <= 100 and c['voltage'] > 0 for c in d['cells'])" "module --json: the original shape, soc in percent" "$tmp/out"
expect 0 "show module 1 3 --csv" -- "$CTL" --name $N show module 1 3 --csv
[ "$(head -1 "$tmp/out")" = "rack,module,cell,voltage,current,temperature,soc,resistance" ] && ok "csv header" || notok "csv header: $(head -1 "$tmp/out")"
[ "$(wc -l <"$tmp/out")" = 6 ] && ok "module --csv: header + 5 cells" || notok "module --csv lines"
has "$tmp/out" "^1,3,4,[0-9.]+,-?[0-9.]+,-?[0-9.]+,[0-9.]+,[0-9.e-]+$" "csv row form"

expect 0 "show cell 2 3 4" -- "$CTL" --name $N show cell 2 3 4
has "$tmp/out" "^ +voltage +[0-9.]+ V" "cell: voltage"
expect 0 "show cell --json" -- "$CTL" --name $N --json show cell 2 3 4
json "(d['rack'],d['module'],d['cell'])==(2,3,4) and 0 <= d['soc'] <= 100" "cell --json" "$tmp/out"

# out of range and malformed
expect 1 "rack out of range" -- "$CTL" --name $N show rack 3
has "$tmp/err" "rack 3 is out of range.*0 to 2" "rack range given"
expect 1 "module out of range" -- "$CTL" --name $N show module 0 4
has "$tmp/err" "module 4 is out of range.*0 to 3" "module range given"
expect 1 "cell out of range" -- "$CTL" --name $N show cell 0 0 5
has "$tmp/err" "cell 5 is out of range.*0 to 4" "cell range given"
expect 1 "non-numeric index" -- "$CTL" --name $N show rack x
expect 1 "negative index" -- "$CTL" --name $N show rack -1
expect 1 "missing index" -- "$CTL" --name $N show module 1
expect 1 "show what" -- "$CTL" --name $N show nothing
expect 1 "--csv with status" -- "$CTL" --name $N status --csv
expect 1 "--json with --csv" -- "$CTL" --name $N show cell 0 0 0 --csv --json

# watch: frames until SIGINT, then exit 0
"$CTL" --name $N watch show cell 0 0 0 --interval-ms 50 >"$tmp/watch" 2>&1 &
vpid=$!
i=0
while [ "$(grep -c '^rack 0 module 0 cell 0: tick' "$tmp/watch")" -lt 3 ] && [ $i -lt 1200 ]; do
	i=$((i + 1)); sleep 0.05
done
kill -INT $vpid; wait $vpid; st=$?; vpid=
[ "$st" = 0 ] && ok "watch: exit 0 on SIGINT" || notok "watch exit $st"
frames=$(grep -c '^rack 0 module 0 cell 0: tick' "$tmp/watch")
[ "$frames" -ge 3 ] && ok "watch: $frames frames" || notok "watch: $frames frames"
ticks=$(sed -n 's/^rack 0 module 0 cell 0: tick \([0-9]*\),.*/\1/p' "$tmp/watch" | sort -un | wc -l)
[ "$ticks" -ge 2 ] && ok "watch: data refreshed ($ticks ticks)" || notok "watch: $ticks distinct ticks"
grep -q "$(printf '\033')" "$tmp/watch" && notok "watch: ANSI codes on a pipe" || ok "watch: no ANSI codes on a pipe"
expect 1 "watch with a bad index stops" -- "$CTL" --name $N watch show rack 9
expect 1 "watch nothing" -- "$CTL" --name $N watch

# stopped writer: exit 3, nothing shown as live
kill $wpid; wait $wpid 2>/dev/null; wpid=
expect 3 "status after SIGTERM" -- "$CTL" --name $N status
has "$tmp/out" "^state: +stopped" "status: stopped"
has "$tmp/err" "stopped.*start batsimd" "stopped: says what to do"
expect 3 "show after SIGTERM" -- "$CTL" --name $N show module 0 0
empty "$tmp/out" "no stale data printed"
expect 3 "show --json after SIGTERM" -- "$CTL" --name $N show summary --json
empty "$tmp/out" "no stale JSON printed"

# crashed writer: the heartbeat ages, state stays RUNNING
"$TW" --name $N --topology 3x4x5 --period-ms 20 --crash-after-s 1 >/dev/null 2>&1 &
wpid=$!
wait_live || echo "# writer did not come up"
wait $wpid 2>/dev/null; wpid=
sleep 0.3
expect 3 "show after a crash" -- "$CTL" --name $N --max-age-ms 200 show summary
has "$tmp/err" "stale.*heartbeat" "crash: stale heartbeat explained"
empty "$tmp/out" "crash: nothing printed"
expect 3 "status after a crash" -- "$CTL" --name $N --max-age-ms 200 status --json
json "d['stale'] is True and d['state']=='running'" "crash: status --json says stale" "$tmp/out"
# watch --json on a pipe: stdout is JSON lines only, the errors on stderr
"$CTL" --name $N --max-age-ms 200 --interval-ms 50 --json watch status >"$tmp/wj" 2>"$tmp/wje" &
vpid=$!
# SIGINT only once its handler is set (a background job starts with
# SIGINT ignored, and a slow start, e.g. under ASan, would lose it): it
# is set before the first frame
poll 20 test -s "$tmp/wj"
kill -INT $vpid; wait $vpid; vpid=
if [ -s "$tmp/wj" ] && "$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/wj" 2>/dev/null
then ok "watch --json when stale: stdout is JSON lines"
else notok "watch --json when stale: not JSON lines"; show "$tmp/wj"; fi
has "$tmp/wje" "stale" "watch --json when stale: the reason on stderr"

finish
