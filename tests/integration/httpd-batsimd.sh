#!/bin/sh
# batsim-httpd(8) against the real batsimd(8): data endpoints, SSE, metrics,
# a control round trip whose effect shows in /summary, and the stale path
# (batsimd stops: 503; starts again: 200 without restarting the server).
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
need "$HD" "$BSD" "$INIT"
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

kill -TERM $dpid; wait $dpid 2>/dev/null; dpid=
if poll 3 status_is 503 /summary; then ok "batsimd stopped: 503"
else notok "no 503 after batsimd stopped"; fi
json 'd["stale"] is True' "503 says stale"
"$BSD" --config "$tmp/conf" 2>>"$tmp/d.log" &
dpid=$!
if poll 10 status_is 200 /summary; then ok "batsimd back: 200 without restarting batsim-httpd"
else notok "no recovery"; show "$tmp/h.log"; fi

kill -TERM $hpid; wait $hpid; rc=$?; hpid=
[ $rc = 0 ] && ok "SIGTERM: exit 0" || notok "SIGTERM: exit $rc"
finish
