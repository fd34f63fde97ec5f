#!/bin/sh
# batsim-httpd(8) against the real batsimd(8): data endpoints, SSE, metrics,
# a control round trip whose effect shows in /summary, pause, resume and
# speed over HTTP (shown in /summary, /healthz, /metrics and batsimctl
# status), /history sampling only new ticks and naming the writer
# generation, and the stale path (batsimd stops: 503; starts again: 200
# without restarting the server).
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
CTL=$b/src/ctl/batsimctl
need "$HD" "$BSD" "$INIT" "$CTL"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python

N=/bs-test-httpd-bsd-$$
dpid= hpid=
at_exit_kill dpid hpid
at_exit_remove $N

printf 'tok-%s\n' $$ >"$tmp/token"; chmod 600 "$tmp/token"
cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 2
modules_per_rack = 3
cells_per_module = 4
threads = 1
http_token_file = $tmp/token
http_stale_ms = 1000
site_name = lab-east
EOF
# batsim-httpd's own file names another site: what it shows must be the
# name batsimd published in the segment
sed 's/^site_name = .*/site_name = not-this-one/' "$tmp/conf" >"$tmp/hconf"
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/hconf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"

if poll 10 status_is 200 /healthz; then ok "live with batsimd"
else notok "not live"; show "$tmp/h.log" "$tmp/d.log"; exit 1; fi
json 'd["writer"]["backend"] in ("cpu", "cuda") and d["writer"]["topology"]["cells"] == 24' \
	"/healthz: batsimd's backend and topology"
json 'd["site_name"] == "lab-east"' "/healthz: the site_name batsimd published"
get "$(url /summary)"
json 'd["site_name"] == "lab-east"' "/summary: the site_name batsimd published"
get "$(url /rack/1/module/2)"
status 200 "module from batsimd"
json 'len(d["cells"]) == 4 and all(2.0 < c["voltage"] < 4.5 and 0 <= c["soc"] <= 100 and c["resistance"] > 0 for c in d["cells"])' \
	"module: physical cell values"
get "$(url /rack/1/module/2/cell/3)"
status 200 "cell from batsimd"

A="Authorization: Bearer tok-$$"
get -H "$A" -d '{"mode":"power","value":5000}' "$(url /control/setpoint)"
status 200 "setpoint through batsimd"
check_setpoint() {
	get "$(url /summary)"
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['site']['setpoint'] == 5000 and d['site']['mode'] == 'power' else 1)" "$tmp/body" 2>/dev/null
}
if poll 5 check_setpoint; then ok "the setpoint shows in /summary"
else notok "setpoint not applied"; show "$tmp/body"; fi
get -H "$A" -d '{"action":"inject","type":"high_r","rack":1,"module":0,"cell":2,"value":3}' "$(url /control/fault)"
status 200 "fault inject through batsimd"
check_fault() {
	get "$(url /summary)"
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if 'high_r' in d['racks'][1]['faults'] else 1)" "$tmp/body" 2>/dev/null
}
if poll 5 check_fault; then ok "the fault shows in /summary"
else notok "fault not shown"; show "$tmp/body"; fi
get -H "$A" -d '{"mode":"sideways","value":1}' "$(url /control/setpoint)"
status 400 "batsimd refuses a bad mode"
get -H "$A" "$(url /control)"
status 200 "GET /control"
json 'd["ok"] is True and any(f["type"] == "high_r" for f in d["faults"])' "state lists the fault"

curl -sN --max-time 2 "$(url '/updates?rack=0&module=1&view=summary&interval_ms=200')" >"$tmp/sse" 2>/dev/null
ids=$(sed -n 's/^id: //p' "$tmp/sse" | sort -un | wc -l)
[ "$ids" -ge 3 ] && ok "SSE from batsimd: $ids snapshots" || { notok "SSE: $ids ids"; show "$tmp/sse"; }
grep -q '^event: module' "$tmp/sse" && grep -q '^event: summary' "$tmp/sse" &&
	ok "SSE: both event kinds" || notok "SSE kinds"

get "$(url /metrics)"
status 200 "/metrics from batsimd"
has "$tmp/body" '^batsim_site_info\{site_name="lab-east"\} 1$' "/metrics: batsim_site_info names the site"
if command -v promtool >/dev/null; then
	promtool check metrics <"$tmp/body" >"$tmp/prom" 2>&1 && ok "promtool check metrics" ||
		{ notok "promtool"; show "$tmp/prom"; }
fi

# ---- pause, resume and speed over HTTP (issue 12) ----
# pyget EXPR: the python expression of d, the JSON in $tmp/body
pyget() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$tmp/body"; }
get "$(url /summary)"
json 'd["site"]["paused"] is False and d["site"]["speed"] == 1' "/summary: not paused, speed 1"
get "$(url /healthz)"
json 'd["paused"] is False and d["speed"] == 1' "/healthz: not paused, speed 1"
get -X POST "$(url /control/pause)"
status 401 "pause without the token"
get -H "$A" "$(url /control/pause)"
status 405 "GET /control/pause"
get -H "$A" -X POST "$(url /control/pause)"
status 200 "POST /control/pause without a body"
json 'd["ok"] is True' "pause: batsimd says ok"
is_paused() {
	get "$(url /summary)"
	[ "$(pyget 'd["site"]["paused"]' 2>/dev/null)" = True ]
}
if poll 10 is_paused; then ok "/summary says paused"
else notok "/summary never says paused"; show "$tmp/body"; fi
# once a snapshot says paused, the simulated clock stands
t1=$(pyget 'd["time_s"], d["tick"]') w1=$(pyget 'd["wall_time_ns"]')
get "$(url /summary)"
t2=$(pyget 'd["time_s"], d["tick"]')
[ "$t1" = "$t2" ] && ok "paused: time_s and tick stand ($t1)" ||
	notok "paused, but time_s, tick went from $t1 to $t2"
get "$(url /healthz)"
json 'd["paused"] is True' "/healthz says paused"
get "$(url /metrics)"
has "$tmp/body" '^batsim_paused 1$' "/metrics: batsim_paused 1"
has "$tmp/body" '^batsim_speed 1$' "/metrics: batsim_speed 1"
expect 0 "batsimctl status while paused" -- "$CTL" --config "$tmp/conf" status
has "$tmp/out" '^state: +paused' "batsimctl status says paused"
has "$tmp/out" '^speed: +1 ' "batsimctl status shows the speed"
expect 0 "batsimctl --json status while paused" -- "$CTL" --config "$tmp/conf" --json status
json 'd["paused"] is True and d["speed"] == 1 and d["state"] == "running"' \
	"batsimctl --json status: paused, speed" "$tmp/out"
# /history while paused: the writer goes on publishing the same tick for
# more than two seconds of its own clock (wall_time_ns), at least two
# chances for a once-a-second sampler to repeat a time_s
published_later() {
	get "$(url /summary)"
	[ "$(pyget "d['wall_time_ns'] - $w1 > 2500000000" 2>/dev/null)" = True ]
}
poll 20 published_later || { notok "batsimd published nothing new while paused"; show "$tmp/body"; }
get "$(url /summary)"
gen1=$(pyget 'd["generation"]')
get "$(url /history)"
status 200 "/history while paused"
json "d['generation'] == $gen1 and len(d['samples']) >= 1" "/history names the writer generation ($gen1)"
json 'all(a["tick"] < b["tick"] and a["time_s"] < b["time_s"] for a, b in zip(d["samples"], d["samples"][1:]))' \
	"/history: no sample repeats a tick or time_s while paused"

get -H "$A" -d '{"speed":3}' "$(url /control/speed)"
status 200 "POST /control/speed {\"speed\":3}"
speed3() {
	get "$(url /summary)"
	[ "$(pyget 'd["site"]["speed"] == 3 and d["site"]["paused"]' 2>/dev/null)" = True ]
}
if poll 10 speed3; then ok "/summary: speed 3, still paused"
else notok "/summary: speed not 3"; show "$tmp/body"; fi
# SSE while paused: a client that has this tick (Last-Event-ID) gets the
# later publications of the same tick, which carry the operator's changes
curl -sN --max-time 4 -H "Last-Event-ID: ${t1#* }" "$(url '/updates?view=summary')" \
	>"$tmp/sse2" 2>/dev/null
sed -n 's/^data: //p' "$tmp/sse2" | head -1 >"$tmp/ev"
json "d['tick'] == ${t1#* } and d['site']['paused'] is True and d['site']['speed'] == 3" \
	"SSE while paused: the same tick again, with speed 3" "$tmp/ev"
for bad in '{"speed":-1}' '{"speed":"fast"}' '{"value":3}' '{"speed":2e6}'; do
	get -H "$A" -d "$bad" "$(url /control/speed)"
	status 400 "/control/speed refuses $bad"
	json 'd["status"] == 400 and "{\"speed\": X}" in d["error"]' "its error shows the body to send"
done
get -H "$A" -X POST "$(url /control/speed)"
status 400 "/control/speed without a body"
json '"speed" in d["error"]' "its error gives an example body"
get -H "$A" "$(url /control/nothing)"
json '"/control/pause" in d["error"] and "/control/speed" in d["error"]' \
	"404 lists the pause and speed routes"

get -H "$A" -d '{}' "$(url /control/resume)"
status 200 "POST /control/resume"
resumed() {
	get "$(url /summary)"
	[ "$(pyget "d['site']['paused'] is False and d['tick'] > ${t1#* }" 2>/dev/null)" = True ]
}
if poll 10 resumed; then ok "resumed: not paused, the tick advances"
else notok "not resumed"; show "$tmp/body"; fi
expect 0 "batsimctl status after resume" -- "$CTL" --config "$tmp/conf" status
has "$tmp/out" '^state: +running' "batsimctl status says running"
has "$tmp/out" '^speed: +3 ' "batsimctl status: speed 3"

kill -TERM $dpid; wait $dpid 2>/dev/null; dpid=
if poll 3 status_is 503 /summary; then ok "batsimd stopped: 503"
else notok "no 503 after batsimd stopped"; fi
json 'd["stale"] is True' "503 says stale"
"$BSD" --config "$tmp/conf" 2>>"$tmp/d.log" &
dpid=$!
if poll 10 status_is 200 /summary; then ok "batsimd back: 200 without restarting batsim-httpd"
else notok "no recovery"; show "$tmp/h.log"; fi
gen2=$(pyget 'd["generation"]')
[ "$gen2" -gt "$gen1" ] && ok "a new writer generation ($gen1 -> $gen2)" ||
	notok "generation $gen1 -> $gen2"
history_gen2() {
	get "$(url /history)"
	[ "$(pyget "d['generation'] == $gen2 and len(d['samples']) >= 1" 2>/dev/null)" = True ]
}
if poll 10 history_gen2; then ok "/history restarts with generation $gen2"
else notok "/history: not generation $gen2"; show "$tmp/body"; fi

kill -TERM $hpid; wait $hpid; rc=$?; hpid=
[ $rc = 0 ] && ok "SIGTERM: exit 0" || notok "SIGTERM: exit $rc"
finish
