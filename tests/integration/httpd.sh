#!/bin/sh
# batsim-httpd(8) end to end: the real server on an ephemeral loopback port
# against the test writer; every endpoint, every error status, SSE,
# /metrics through promtool, control with and without a token (a fake
# control socket), static files, the stale path and SIGTERM.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
FAKE=$s/tests/integration/fake-batsimd.py
need "$HD" "$TW"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python
PROMTOOL=$(command -v promtool || true)

N=/bs-test-httpd-$$
wpid= hpid= h2pid= fpid=
at_exit_kill wpid hpid h2pid fpid
at_exit_remove $N

start_httpd() { # start_httpd LOG ARGS...: sets $! (caller saves), port
	log=$1; shift
	"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" \
		--www "$s/data/www" "$@" 2>"$log" &
}

# ---- options ----
"$HD" --help >"$tmp/body" 2>&1 && ok "--help exits 0" || notok "--help"
has "$tmp/body" "--listen" "--help lists --listen"
"$HD" --version >"$tmp/body" 2>&1 && ok "--version exits 0" || notok "--version"
"$HD" --bogus >/dev/null 2>&1; [ $? = 2 ] && ok "bad option: exit 2" || notok "bad option exit"
"$HD" --config /dev/null --listen nonsense >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && ok "bad --listen: exit 2" || notok "bad --listen: exit $rc"
has "$tmp/err" "HOST:PORT" "bad --listen says the form"
"$HD" --config "$tmp/missing.conf" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 2 ] && ok "missing --config: exit 2" || notok "missing config: exit $rc"

cat >"$tmp/conf" <<EOF
http_stale_ms = 600
http_max_per_ip = 64
http_history_s = 60
v_max = 3.6
bms_cell_ot_c = 40, 45, 50
EOF

# ---- no segment yet ----
start_httpd "$tmp/h.log" --token-file "$tmp/none.token" \
	--control-socket "$tmp/ctl.sock"
hpid=$!
wait_port "$tmp/h.log"
get "$(url /summary)"
status 503 "/summary without a segment"
json 'd["status"] == 503 and d["stale"] is False and "batsim-init" in d["error"]' \
	"no segment: JSON error says what to do"
get "$(url /healthz)"
status 503 "/healthz without a segment"
json 'd["site_name"] == "batsim"' "/healthz without a segment: the server's own site_name (default)"
get "$(url /metrics)"
status 200 "/metrics without a segment"
has "$tmp/body" "^batsim_up 0$" "/metrics: batsim_up 0 without data"
if [ -n "$PROMTOOL" ]; then
	promtool check metrics <"$tmp/body" >"$tmp/prom" 2>&1 &&
		ok "promtool: /metrics without data" ||
		{ notok "promtool without data"; show "$tmp/prom"; }
fi
curl -sN --max-time 1 "$(url '/updates?rack=0&module=0')" >"$tmp/sse0" 2>/dev/null
has "$tmp/sse0" "^event: stale" "SSE without a segment: stale event"

# ---- writer up: the server attaches without a restart ----
"$TW" --name "$N" --topology 3x4x5 --period-ms 100 --create 2>"$tmp/w.log" &
wpid=$!
if poll 10 status_is 200 /healthz; then ok "attaches when the segment appears"
else notok "no attach"; show "$tmp/h.log"; fi
json 'd["status"] == "ok" and d["writer"]["backend"] == "test" and d["writer"]["topology"]["cells"] == 60' \
	"/healthz: writer details"

get "$(url /summary)"
status 200 "/summary"
header '^content-type: application/json' "/summary content type"
json 'len(d["racks"]) == 3 and d["topology"]["modules_per_rack"] == 4 and d["stale"] is False' \
	"/summary: racks and topology"
json 'all(k in d["site"] for k in ("voltage","current","power","soc","energy_out_wh","setpoint","alarms"))' \
	"/summary: site fields"
json '0 <= d["site"]["soc"] <= 100 and d["site"]["soc"] > 1' "/summary: soc is a percentage"
json 'all(set(("module","cell","value")) <= set(r["cell_voltage_min"]) and r["contactor"] in ("closed","open") and isinstance(r["alarms"], list) for r in d["racks"])' \
	"/summary: rack extremes with location, contactor, alarms"
json 'all("modules" not in r for r in d["racks"])' "/summary: no module aggregates by default"
json 'd["limits"]["cell_voltage_max"] == 3.6 and d["limits"]["cell_voltage_min"] == 2.5 and d["limits"]["cell_ot"] == {"warning": 40, "alarm": 45, "protection": 50} and d["limits"]["cell_uv"]["warning"] == 3' \
	"/summary: limits from the server's configuration"
json 'd["limits"]["chemistry"] == "lfp280" and d["limits"]["writer_chemistry"] == "test" and d["limits"]["matches_writer"] is False' \
	"/summary: limits say the writer's chemistry differs"

get "$(url '/summary?modules=1')"
status 200 "/summary?modules=1"
json 'all(len(r["modules"]) == 4 and [m["module"] for m in r["modules"]] == [0, 1, 2, 3] for r in d["racks"])' \
	"/summary?modules=1: every rack has its modules"
json 'all(set(("voltage","current","soc","cell_voltage_min","cell_voltage_max","temperature_min","temperature_max","contactor","alarms")) <= set(m) and "cells" not in m for r in d["racks"] for m in r["modules"])' \
	"/summary?modules=1: module aggregates without cells"
# One snapshot: each rack's extremes are its modules' extremes, at the
# same place, and its voltage is the sum of the module voltages.
json 'all(r["cell_voltage_min"]["value"] == min(m["cell_voltage_min"]["value"] for m in r["modules"]) and r["modules"][r["cell_voltage_min"]["module"]]["cell_voltage_min"]["value"] == r["cell_voltage_min"]["value"] and r["temperature_max"]["value"] == max(m["temperature_max"]["value"] for m in r["modules"]) and abs(r["voltage"] - sum(m["voltage"] for m in r["modules"])) < 1e-3 for r in d["racks"])' \
	"/summary?modules=1: rack and module aggregates from one snapshot"
cp "$tmp/body" "$tmp/summary-modules"
get "$(url '/rack/2?cells=0')"
if "$PY" - "$tmp/summary-modules" "$tmp/body" <<'EOF2'
import json, sys
s = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
# same tick: identical objects; else at least the same shape
mods = s["racks"][2]["modules"]
if s["tick"] == r["tick"]:
    assert mods == r["modules"], (mods, r["modules"])
else:
    assert [sorted(m) for m in mods] == [sorted(m) for m in r["modules"]]
EOF2
then ok "/summary?modules=1: the same module objects as /rack/2?cells=0"
else notok "/summary?modules=1 differs from /rack/2?cells=0"; fi
get "$(url '/summary?modules=yes')"
status 400 "/summary?modules=yes"
json '"modules=0 or modules=1" in d["error"]' "bad modules value: the message gives the form"

get "$(url /rack/1)"
status 200 "/rack/1"
json 'd["rack"] == 1 and len(d["modules"]) == 4 and all(len(m["cells"]) == 5 for m in d["modules"])' \
	"/rack/1: modules with cells"
get "$(url '/rack/1?cells=0')"
json 'len(d["modules"]) == 4 and all("cells" not in m for m in d["modules"])' \
	"/rack/1?cells=0: no cells"
get "$(url '/rack/1?cells=maybe')"
status 400 "/rack/1?cells=maybe"

get "$(url /rack/2/module/3)"
status 200 "/rack/2/module/3"
json 'd["rack"] == 2 and d["module"] == 3 and isinstance(d["tick"], int) and len(d["cells"]) == 5' \
	"module: rack, module, tick, cells"
json 'all(set(c) == {"voltage","current","temperature","soc","resistance"} for c in d["cells"])' \
	"module: cell fields as originally designed"
json 'all(3.0 < c["voltage"] < 3.5 and 40 < c["soc"] < 60 for c in d["cells"])' \
	"module: values match the test writer (soc in percent)"
get "$(url /rack/2/module/3/cell/4)"
status 200 "/rack/2/module/3/cell/4"
json 'd["cell"] == 4 and d["module"] == 3 and d["rack"] == 2 and "resistance" in d' "one cell"

# ---- errors ----
get "$(url /rack/3)"
status 404 "rack out of range"
json '"0-2" in d["error"] and d["status"] == 404' "404 names the valid range"
get "$(url /rack/0/module/4)"
status 404 "module out of range"
get "$(url /rack/0/module/0/cell/5)"
status 404 "cell out of range"
json '"0-4" in d["error"]' "cell 404 names the valid range"
get "$(url /rack/zero)"
status 400 "non-numeric rack"
get "$(url /no/such/thing)"
status 404 "unknown path"
json 'd["status"] == 404' "unknown path: JSON error"
get -X POST "$(url /summary)"
status 405 "POST /summary"
header '^allow: GET, HEAD' "405 carries Allow"
get "$(url "/summary?x=$("$PY" -c "print('a' * 5000)")")"
status 414 "URI too long"
# the request head's buffer (HD_CONN_MEMORY, batsim-httpd(8) 414): a
# 20 KB header fits, a 30 KB one is libmicrohttpd's 431
get -H "X-Big: $("$PY" -c "print('a' * 20000)")" "$(url /healthz)"
status 200 "20 KB request header accepted"
get -H "X-Big: $("$PY" -c "print('a' * 30000)")" "$(url /healthz)"
status 431 "30 KB request header: 431"
"$PY" -c "print('{\"v\":\"' + 'a' * 70000 + '\"}')" >"$tmp/big.json"
get -H 'Authorization: Bearer x' --data-binary "@$tmp/big.json" "$(url /control/setpoint)"
status 413 "body too large"
get "$(url '/history?seconds=0')"
status 400 "history seconds=0"
get "$(url '/updates?interval_ms=5')"
status 400 "SSE interval below the publish period"
get "$(url '/updates?rack=1')"
status 400 "SSE rack without module"
get "$(url '/updates?rack=9&module=0')"
status 404 "SSE rack out of range"

# ---- SSE ----
curl -sN --max-time 2 -D "$tmp/sse.hdr" \
	"$(url '/updates?rack=1&module=2&view=summary&interval_ms=200')" \
	>"$tmp/sse" 2>/dev/null
tr -d '\r' <"$tmp/sse.hdr" >"$tmp/hdr"
header '^content-type: text/event-stream' "SSE content type"
header '^cache-control: no-cache' "SSE Cache-Control"
header '^x-accel-buffering: no' "SSE X-Accel-Buffering"
has "$tmp/sse" "^retry: [0-9]+" "SSE sets retry"
"$PY" - "$tmp/sse" >"$tmp/sse.check" 2>&1 <<'EOF'
import json, sys
events, cur = [], {}
for line in open(sys.argv[1]).read().split("\n"):
    if line == "":
        if "data" in cur:
            events.append(cur)
        cur = {}
    elif not line.startswith(":") and ":" in line:
        k, v = line.split(":", 1)
        cur[k] = v[1:] if v.startswith(" ") else v
kinds = {e.get("event") for e in events}
ids = [int(e["id"]) for e in events if e.get("event") == "summary"]
mods = [json.loads(e["data"]) for e in events if e.get("event") == "module"]
assert "summary" in kinds and "module" in kinds, kinds
assert len(ids) >= 3, ids
assert all(a < b for a, b in zip(ids, ids[1:])), ids
assert all(m["rack"] == 1 and m["module"] == 2 and len(m["cells"]) == 5 for m in mods)
for e in events:
    json.loads(e["data"])
print("events", len(events), "ids", ids)
EOF
if [ $? = 0 ]; then ok "SSE: >= 3 increasing ids, summary and module events on one stream"
else notok "SSE stream"; show "$tmp/sse.check" "$tmp/sse"; fi
curl -sN --max-time 1 "$(url '/updates?view=summary&modules=1')" >"$tmp/ssem" 2>/dev/null
if "$PY" - "$tmp/ssem" <<'EOF2'
import json, sys
data = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: ")]
assert data and all(len(r["modules"]) == 4 for d in data for r in d["racks"]), data[:1]
EOF2
then ok "SSE ?modules=1: summary events carry the modules"
else notok "SSE ?modules=1"; show "$tmp/ssem"; fi
get "$(url '/updates?modules=2')"
status 400 "SSE modules=2"
get "$(url /healthz)"
status 200 "server healthy after SSE clients disconnected"
# A client leaving is routine: no warning per closed stream in the log.
sleep 1.2 # the stream notices a departed client within a second
if grep -q 'application error' "$tmp/h.log"; then
	notok "a client closing its stream logs a warning"; show "$tmp/h.log"
else ok "SSE client disconnects are not logged as warnings"; fi
# Last-Event-ID: a reconnecting client that has tick T must not get T
# again.  A second server with a long stale limit, and the writer stopped
# (SIGSTOP): the tick stands still and the data stays live for seconds.
sed 's/^http_stale_ms = .*/http_stale_ms = 10000/' "$tmp/conf" >"$tmp/conf3"
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf3" 2>"$tmp/h3.log" &
h2pid=$!
wait_port "$tmp/h3.log"
poll 5 status_is 200 /healthz
kill -STOP $wpid
sleep 0.3
get "$(url /rack/0/module/0)"
tick=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['tick'])" "$tmp/body")
sse_ids() { sed -n 's/^id: //p' "$1" | tr '\n' ' '; }
curl -sN --max-time 1 "$(url '/updates?rack=0&module=0&view=summary')" >"$tmp/lei0" 2>/dev/null &
curl -sN --max-time 1 -H "Last-Event-ID: $tick" "$(url '/updates?rack=0&module=0&view=summary')" >"$tmp/lei1" 2>/dev/null &
curl -sN --max-time 1 -H "Last-Event-ID: x$tick" "$(url '/updates?rack=0&module=0&view=summary')" >"$tmp/lei2" 2>/dev/null &
wait $! 2>/dev/null; sleep 0.2
ids0=$(sse_ids "$tmp/lei0") ids1=$(sse_ids "$tmp/lei1") ids2=$(sse_ids "$tmp/lei2")
kill -CONT $wpid
[ "$ids0" = "$tick $tick " ] && ok "writer paused: a new stream gets tick $tick (summary and module)" ||
	{ notok "paused writer: a new stream got ids '$ids0', want '$tick $tick '"; show "$tmp/lei0"; }
if [ -z "$ids1" ] && ! grep -q '^data:' "$tmp/lei1" && grep -q '^retry:' "$tmp/lei1"; then
	ok "Last-Event-ID: $tick: tick $tick is not sent again"
else notok "Last-Event-ID: $tick: got ids '$ids1'"; show "$tmp/lei1"; fi
[ "$ids2" = "$tick $tick " ] && ok "a Last-Event-ID that is not a tick is ignored" ||
	{ notok "Last-Event-ID x$tick: ids '$ids2'"; show "$tmp/lei2"; }
curl -sN --max-time 1 -H "Last-Event-ID: $tick" "$(url '/updates?rack=0&module=0')" >"$tmp/lei3" 2>/dev/null
first=$(sed -n 's/^id: //p' "$tmp/lei3" | head -1)
if [ -n "$first" ] && [ "$first" -gt "$tick" ]; then ok "Last-Event-ID: $tick, writer running: resumes with tick $first"
else notok "Last-Event-ID $tick after resuming the writer: first id '$first'"; show "$tmp/lei3"; fi
kill $h2pid; wait $h2pid 2>/dev/null; h2pid=
port=$(port_of "$tmp/h.log")

# ---- history ----
poll 5 sh -c "curl -s '$(url /history)' | grep -q '\"tick\".*\"tick\"'"
get "$(url '/history?seconds=60&rack=2')"
status 200 "/history?seconds=60&rack=2"
json 'len(d["samples"]) >= 2 and all("rack" in x and "power" in x for x in d["samples"])' \
	"/history: samples with rack aggregates"
json 'all(a["tick"] < b["tick"] for a, b in zip(d["samples"], d["samples"][1:]))' \
	"/history: samples in order"
get "$(url '/history?rack=7')"
status 404 "/history rack out of range"

# ---- metrics ----
get "$(url /metrics)"
status 200 "/metrics"
header '^content-type: text/plain; version=0.0.4' "/metrics content type"
has "$tmp/body" '^batsim_up 1$' "/metrics: batsim_up 1"
has "$tmp/body" '^batsim_build_info\{version="' "/metrics: build info"
has "$tmp/body" '^batsim_ticks_total [0-9]+$' "/metrics: tick counter"
has "$tmp/body" '^batsim_rack_voltage_volts\{rack="2"\} ' "/metrics: rack series"
has "$tmp/body" '^batsim_module_temperature_max_celsius\{rack="2",module="3"\} ' "/metrics: module series"
has "$tmp/body" '^batsim_alarms_active\{severity="protection"\} ' "/metrics: alarms by severity"
if grep -q '^batsim_cell_' "$tmp/body"; then notok "/metrics: per-cell series off by default"
else ok "/metrics: no per-cell series by default"; fi
if [ -n "$PROMTOOL" ]; then
	promtool check metrics <"$tmp/body" >"$tmp/prom" 2>&1 &&
		ok "promtool check metrics" || { notok "promtool"; show "$tmp/prom"; }
else
	echo "# promtool not installed: format not validated"
fi
printf 'metrics_cells = yes\n' >>"$tmp/conf"
start_httpd "$tmp/h2.log"
h2pid=$!
wait_port "$tmp/h2.log"
poll 5 status_is 200 /healthz
get "$(url /metrics)"
has "$tmp/body" '^batsim_cell_voltage_volts\{rack="2",module="3",cell="4"\} ' \
	"/metrics: per-cell series with metrics_cells"
if [ -n "$PROMTOOL" ]; then
	promtool check metrics <"$tmp/body" >"$tmp/prom" 2>&1 &&
		ok "promtool with cells" || { notok "promtool with cells"; show "$tmp/prom"; }
fi
kill $h2pid; wait $h2pid 2>/dev/null; h2pid=
port=$(port_of "$tmp/h.log")

# ---- static files ----
if [ -f "$s/data/www/index.html" ]; then
	get "$(url /)"
	status 200 "GET /"
	header '^content-type: text/html' "/ is HTML"
	etag=$(tr -d '\r' <"$tmp/hdr" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
	[ -n "$etag" ] && ok "ETag present" || notok "no ETag"
	header '^last-modified: ' "Last-Modified present"
	get -H "If-None-Match: $etag" "$(url /index.html)"
	status 304 "If-None-Match gives 304"
else
	echo "# data/www/index.html missing: static checks skipped"
fi
get --path-as-is "$(url /../../../../etc/passwd)"
status 404 "no directory traversal (..)"
get "$(url /%2e%2e/%2e%2e/etc/passwd)"
status 404 "no directory traversal (%2e%2e)"
get "$(url /vendor/chart.js/..%2f..%2f..%2fetc/passwd)"
status 404 "no traversal out of the chart.js directory"
if [ -f /usr/share/javascript/chart.js/chart.min.js ]; then
	"$HD" --help | grep -q chartjs
	get "$(url /vendor/chart.js/chart.min.js)"
	status 200 "Chart.js from the Debian directory"
	header '^content-type: text/javascript' "Chart.js content type"
fi

# ---- control ----
get "$(url /control)"
status 403 "control disabled without a token file"
json '"token" in d["error"]' "403 says how to enable control"
printf 's3cret-token\n' >"$tmp/none.token"; chmod 600 "$tmp/none.token"
get "$(url /control)"
status 401 "control without Authorization"
header '^www-authenticate: Bearer' "401 carries WWW-Authenticate"
json '"bearer token" in d["error"] and "batsim-httpd(8)" in d["error"] and "none.token" not in d["error"]' \
	"401 says a bearer token is needed, not where the server keeps it"
get -H 'Authorization: Bearer nope' "$(url /control)"
status 401 "control with a wrong token"
json '"none.token" not in d["error"] and "/" not in d["error"].replace("batsim-httpd(8)", "")' \
	"401 for a wrong token names no server path"
get -H 'Authorization: Bearer s3cret-token' "$(url /control)"
status 503 "control without batsimd's socket"
json '"ctl.sock" in d["error"]' "503 names the socket"
"$PY" "$FAKE" "$tmp/ctl.sock" "$tmp/ctl.log" normal &
fpid=$!
poll 5 test -S "$tmp/ctl.sock"
A='Authorization: Bearer s3cret-token'
get -H "$A" "$(url /control)"
status 200 "GET /control (state)"
json 'd["ok"] is True and "mode" in d' "state reply returned"
get -H "$A" -d '{"mode":"power","value":-250000}' "$(url /control/setpoint)"
status 200 "POST /control/setpoint"
get -H "$A" -d '{"name":"regulation"}' "$(url /control/profile)"
status 200 "POST /control/profile"
get -H "$A" -d '{"value":30}' "$(url /control/ambient)"
status 200 "POST /control/ambient"
get -H "$A" -d '{"action":"inject","type":"short","rack":1,"module":0,"cell":2,"value":0.5}' "$(url /control/fault)"
status 200 "POST /control/fault inject"
get -H "$A" -d '{"action":"clear","type":"all"}' "$(url /control/fault)"
status 200 "POST /control/fault clear"
get -H "$A" -X POST "$(url /control/alarms/reset)"
status 200 "POST /control/alarms/reset"
get -H "$A" -d '{"value":666}' "$(url /control/ambient)"
status 400 "batsimd's refusal is a 400"
json '"666" in d["error"] and d["status"] == 400' "refusal message passed on"
get -H "$A" -d '{"value":' "$(url /control/ambient)"
status 400 "bad JSON body"
get -H "$A" "$(url /control/setpoint)"
status 405 "GET /control/setpoint"
header '^allow: POST' "control 405 carries Allow: POST"
has "$tmp/ctl.log" '"cmd": ?"setpoint"' "setpoint forwarded with its cmd"
has "$tmp/ctl.log" '"cmd": ?"alarm_reset"' "alarm reset forwarded"
has "$tmp/ctl.log" '"type": ?"short"' "fault body forwarded"

# ---- stale path: writer stops, then comes back ----
kill -TERM $wpid; wait $wpid 2>/dev/null; wpid=
if poll 2 status_is 503 /summary; then ok "writer stopped: 503 within 2 s"
else notok "no 503 after the writer stopped"; fi
json 'd["stale"] is True and d["status"] == 503' "stopped: stale true"
get "$(url /healthz)"
status 503 "/healthz when stopped"
json '"stopped" in d["error"]' "/healthz gives the reason"
"$TW" --name "$N" --topology 3x4x5 --period-ms 100 2>>"$tmp/w.log" &
wpid=$!
if poll 10 status_is 200 /summary; then ok "writer back: 200 without restarting the server"
else notok "no recovery"; show "$tmp/h.log"; fi

# ---- SIGTERM with a stream open ----
curl -sN --max-time 20 "$(url /updates?view=summary)" >"$tmp/sse3" 2>/dev/null &
cpid=$!
sleep 0.5
kill -TERM $hpid
if poll 5 sh -c "! kill -0 $hpid 2>/dev/null"; then
	wait $hpid; rc=$?
	[ $rc = 0 ] && ok "SIGTERM with a stream open: exit 0" || notok "SIGTERM: exit $rc"
else
	notok "server still running 5 s after SIGTERM"
fi
hpid=
poll 5 sh -c "! kill -0 $cpid 2>/dev/null" && ok "the stream was closed" ||
	{ notok "stream still open"; kill $cpid; }

finish
