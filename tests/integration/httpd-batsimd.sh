#!/bin/sh
# batsim-httpd(8) against the real batsimd(8): data endpoints, SSE, metrics,
# a control round trip whose effect shows in /summary, and the stale path
# (batsimd stops: 503; starts again: 200 without restarting the server).
# Run by `make check` (exit 0 pass, 77 skip, else fail).

b=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
for p in "$HD" "$BSD" "$INIT"; do
	[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 not installed"; exit 77; }

N=/bs-test-httpd-bsd-$$
tmp=$(mktemp -d)
dpid= hpid=
cleanup() {
	for p in $dpid $hpid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$INIT" --name $N --remove --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $pass - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
show() { sed 's/^/#   /' "$@" 2>/dev/null | head -20; }
get() {
	code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 "$@" 2>/dev/null)
}
url() { echo "http://127.0.0.1:$port$1"; }
status() {
	if [ "$code" = "$1" ]; then ok "$2 ($code)"
	else notok "$2: status $code, want $1"; show "$tmp/body"; fi
}
json() {
	if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" \
		"$tmp/body" 2>"$tmp/pyerr"; then ok "$2"
	else notok "$2: ($1) is false for:"; show "$tmp/body" "$tmp/pyerr"; fi
}
poll() {
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; n=$((n - 1)); sleep 0.1; done
	return 1
}
status_is() { get "$(url "$2")"; [ "$code" = "$1" ]; }

printf 'tok-%s\n' $$ >"$tmp/token"
cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 2
modules_per_rack = 3
cells_per_module = 4
threads = 1
http_token_file = $tmp/token
http_stale_ms = 1000
EOF
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
poll 10 grep -q 'listening on' "$tmp/h.log" || { notok "no listen"; show "$tmp/h.log"; exit 1; }
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/h.log")

if poll 10 status_is 200 /healthz; then ok "live with batsimd"
else notok "not live"; show "$tmp/h.log" "$tmp/d.log"; exit 1; fi
json 'd["writer"]["backend"] in ("cpu", "cuda") and d["writer"]["topology"]["cells"] == 24' \
	"/healthz: batsimd's backend and topology"
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
echo "# $pass passed, $fail failed"
[ $fail = 0 ]
