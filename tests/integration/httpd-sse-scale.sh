#!/bin/sh
# batsim-httpd(8): Server-Sent Events without a thread per stream, the
# interval's meaning, and REST answers shared per snapshot.
#   - 200 concurrent streams all receive events while the server runs
#     fewer than 32 threads (/proc/PID/status; one thread per connection
#     would be over 200);
#   - interval_ms=500 at a 200 ms publish period: consecutive events are
#     at least 500 ms apart in the snapshots' own publish times
#     (wall_time_ns), every third snapshot;
#   - the answers of /rack/R, /rack/R/module/M and .../cell/C are the same
#     bytes when served again from the per-snapshot cache, equal to the
#     module event built from the segment, and follow a new snapshot.
# Run by `make check` (exit 0 pass, 77 skip, else fail).  No timing
# assertions: the gaps checked are the writer's timestamps, which the
# server's choice is based on.

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
need "$HD" "$TW"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python
[ -r /proc/self/status ] || { echo "SKIP: no /proc"; exit 77; }

N=/bs-test-httpd-sse-$$
wpid= hpid=
at_exit_kill wpid hpid
at_exit_remove $N

cat >"$tmp/conf" <<EOF
http_max_connections = 400
http_max_per_ip = 400
http_stale_ms = 30000
EOF
"$TW" --name "$N" --topology 2x3x4 --period-ms 200 --create 2>"$tmp/w.log" &
wpid=$!
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"
poll 10 status_is 200 /summary || { notok "no data"; show "$tmp/h.log"; }

# ---- 200 streams, few threads ----
cat >"$tmp/many.py" <<'EOF'
import socket, sys, time, selectors
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
got = {}
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /updates?view=summary HTTP/1.0\r\nHost: x\r\n\r\n")
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, i)
    socks.append(s)
    got[i] = [0, b""]
threads = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    for key, _ in sel.select(timeout=1):
        try:
            data = key.fileobj.recv(65536)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(key.fileobj)
            continue
        g = got[key.data]
        g[1] = (g[1] + data)[-64:]
        g[0] += data.count(b"event: summary")
    if threads is None and all(g[0] >= 1 for g in got.values()):
        # every stream is open and served: count the server's threads
        for line in open("/proc/%s/status" % pid):
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    if threads is not None and all(g[0] >= 2 for g in got.values()):
        break
print("streams %d with1 %d with2 %d threads %s" % (
    n, sum(1 for g in got.values() if g[0] >= 1),
    sum(1 for g in got.values() if g[0] >= 2), threads))
EOF
"$PY" "$tmp/many.py" "$port" 200 "$hpid" >"$tmp/many.out" 2>&1
read -r _ n _ with1 _ with2 _ thr <"$tmp/many.out"
[ "$with2" = 200 ] && ok "200 concurrent SSE streams each got at least 2 summary events" ||
	{ notok "200 streams: $(cat "$tmp/many.out")"; show "$tmp/h.log"; }
if [ -n "$thr" ] && [ "$thr" != None ] && [ "$thr" -lt 32 ]; then
	ok "batsim-httpd ran $thr threads with 200 streams open (no thread per stream)"
else notok "threads with 200 streams: '$thr' (want < 32)"; fi
# the streams are gone: the server notices at the next event
poll 10 sh -c "curl -s '$(url /metrics)' | grep -q '^batsim_http_sse_streams 0$'" &&
	ok "closed streams are gone from batsim_http_sse_streams" ||
	{ notok "batsim_http_sse_streams after the clients left"; curl -s "$(url /metrics)" | grep sse | show; }

# ---- the interval's meaning ----
curl -sN --max-time 4 "$(url '/updates?view=summary&interval_ms=500')" >"$tmp/iv" 2>/dev/null
"$PY" - "$tmp/iv" >"$tmp/iv.out" <<'EOF'
import json, sys
walls = [json.loads(l[6:])["wall_time_ns"] for l in open(sys.argv[1])
         if l.startswith('data: {"tick"')]
gaps = [(b - a) / 1e6 for a, b in zip(walls, walls[1:])]
print(len(gaps), " ".join("%.0f" % g for g in gaps))
EOF
read -r ngaps gaps <"$tmp/iv.out"
small=$(echo "$gaps" | tr ' ' '\n' | awk 'NF && $1 < 500' | head -1)
if [ "${ngaps:-0}" -ge 2 ] && [ -z "$small" ]; then
	ok "interval_ms=500 at 200 ms: $ngaps gaps, all >= 500 ms of publish time ($gaps)"
else notok "interval_ms=500: gaps '$gaps' (want >= 2 gaps, none below 500 ms)"; show "$tmp/iv"; fi

# ---- REST answers shared per snapshot ----
kill -STOP $wpid
sleep 0.5
same() { # same PATH: two answers at one snapshot are the same bytes
	curl -s "$(url "$1")" >"$tmp/a1"; curl -s "$(url "$1")" >"$tmp/a2"
	if [ -s "$tmp/a1" ] && cmp -s "$tmp/a1" "$tmp/a2" &&
		"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/a1"; then
		ok "$1: the same JSON when asked again at one snapshot"
	else notok "$1: answers differ"; show "$tmp/a1" "$tmp/a2"; fi
}
same /rack/1/module/2
same /rack/0/module/0/cell/3
same '/rack/1?cells=0'
same /rack/1
curl -s "$(url /rack/1/module/2)" >"$tmp/m1"
curl -sN --max-time 1 "$(url '/updates?rack=1&module=2')" >"$tmp/sse" 2>/dev/null
sed -n 's/^data: //p' "$tmp/sse" | head -1 >"$tmp/m2"
cmp -s "$tmp/m1" "$tmp/m2" && ok "the cached module answer is the module event's JSON" ||
	{ notok "cached /rack/1/module/2 differs from the SSE module event"; show "$tmp/m1" "$tmp/m2"; }
tick=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['tick'])" "$tmp/m1")
kill -CONT $wpid
newer() {
	t=$(curl -s "$(url /rack/1/module/2)" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['tick'])")
	[ "$t" -gt "$tick" ]
}
poll 10 newer && ok "a new snapshot: the module answer follows it (tick > $tick)" ||
	notok "the module answer stayed at tick $tick"

finish
