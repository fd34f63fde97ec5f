#!/bin/sh
# batsim-httpd(8) against hostile clients and careless configuration
# (issue 9, defects 3, 4 and 8):
#  - memory: GET /rack/R on a rack of 512 x 512 cells must not grow the
#    server's peak RSS (VmHWM) by more than twice the answer's size;
#  - slowloris: slow connections from several loopback addresses that fill
#    every slot are closed after http_request_timeout_s, and a normal
#    client gets /summary while the attack goes on;
#  - the token file: whitespace around the token, NUL bytes, over-long
#    tokens, a file other users can read, control on a non-loopback
#    listener.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
TW=$b/tests/testwriter/bs-testwriter
need "$HD" "$TW"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python

N=/bs-test-hostile-$$
wpid= hpid= apid=
at_exit_kill wpid hpid apid
at_exit_remove $N

start_httpd() { # start_httpd LOG CONF ARGS...: sets hpid and port
	log=$1 conf=$2; shift 2
	"$HD" --listen 127.0.0.1:0 --name "$N" --config "$conf" \
		--www "$s/data/www" --control-socket "$tmp/none.sock" "$@" \
		2>"$log" &
	hpid=$!
	wait_port "$log"
}
stop_httpd() {
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
	hpid=
}
kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$hpid/status"; }

cat >"$tmp/conf" <<EOF
http_history_s = 10
EOF

# ---- defect 3: the memory of GET /rack/R ----
# One rack of 512 modules of 512 cells (262,144 cells, an answer of about
# 26 MB): before, one json-c object per cell took about 1.6 KB a cell.
"$TW" --name "$N" --topology 1x512x512 --period-ms 1000 --create \
	2>"$tmp/w.log" &
wpid=$!
start_httpd "$tmp/h.log" "$tmp/conf"
poll 20 status_is 200 /healthz || { notok "the 1x512x512 segment is not live"; show "$tmp/h.log" "$tmp/w.log"; }
rss0=$(kb VmRSS)
# Reset the peak (Linux >= 4.0) so that VmHWM is the peak of this request;
# without it the growth is measured from the current RSS, which can only
# overstate it.
echo 5 2>/dev/null >"/proc/$hpid/clear_refs" || echo "# cannot reset VmHWM: measuring from VmRSS"
code=$(curl -s -o "$tmp/rack.json" -w '%{http_code}' --max-time 120 "$(url /rack/0)")
hwm=$(kb VmHWM)
size=$(wc -c <"$tmp/rack.json")
growth=$(( (hwm - rss0) * 1024 ))
echo "# /rack/0: answer $size bytes, peak RSS growth $growth bytes (VmRSS before $rss0 kB, VmHWM after $hwm kB)"
[ "$code" = 200 ] && ok "/rack/0 of 262,144 cells answers 200" || notok "/rack/0: status $code"
json 'len(d["modules"]) == 512 and all(len(m["cells"]) == 512 for m in d["modules"]) and d["modules"][511]["cells"][511]["voltage"] > 3' \
	"/rack/0: 512 modules of 512 cells" "$tmp/rack.json"
if grep -q 'libasan\|libclang_rt\.asan\|libtsan' "/proc/$hpid/maps" 2>/dev/null ||
	grep -aq '__asan_init' "/proc/$hpid/exe" 2>/dev/null; then
	# a sanitizer's shadow memory and quarantine are not the server's
	echo "# sanitizer build: the memory bound is not checked"
elif [ "$size" -gt 20000000 ] && [ "$growth" -le $((2 * size)) ]; then
	ok "one /rack/0 grows the peak RSS by at most twice its answer ($growth <= 2 x $size bytes)"
else
	notok "one /rack/0 grew the peak RSS by $growth bytes for an answer of $size bytes (limit: twice the answer)"
fi
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=
stop_httpd
rm -f "/dev/shm/${N#/}"

# ---- defect 4: slowloris from several addresses ----
"$TW" --name "$N" --topology 2x2x4 --period-ms 200 --create 2>"$tmp/w.log" &
wpid=$!
cat >"$tmp/conf-slow" <<EOF
http_max_connections = 16
http_max_per_ip = 2
http_timeout_s = 3600
http_request_timeout_s = 6
EOF
start_httpd "$tmp/h-slow.log" "$tmp/conf-slow"
poll 10 status_is 200 /healthz || notok "segment not live for the slowloris test"
# sockets: the httpd's sockets (the listener and one per connection)
sockets() { ls -l "/proc/$hpid/fd" 2>/dev/null | grep -c 'socket:'; }
at_most() { [ "$(sockets)" -le "$1" ]; }
at_least() { [ "$(sockets)" -ge "$1" ]; }
# 8 addresses x 2 connections take the 16 slots (http_max_connections);
# 4 of them send a POST
# body slowly, the others their head; a byte every 0.5 s each (and the
# idle timeout is an hour).
"$PY" "$s/tests/integration/slow-clients.py" --port "$port" \
	--addrs 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9 \
	--per-addr 2 --bodies 4 --interval-s 0.5 --duration-s 300 \
	>"$tmp/slow.out" 2>"$tmp/slow.err" &
apid=$!
poll 10 grep -q '^ready 16' "$tmp/slow.out" || { notok "the slow clients did not start"; show "$tmp/slow.err"; }
if poll 10 at_least 17; then ok "the slow clients take every slot ($(sockets) sockets)"
else notok "the slow clients do not take every slot ($(sockets) sockets)"; fi
# A normal client while the slow clients hold every slot: the server closes
# the connection that has waited longest for its request to make room
# (without that, a full server closes every new connection at once).  One
# request, no retry; the bound only keeps the test from hanging.
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 60 "$(url /summary)" 2>"$tmp/curlerr")
if [ "$code" = 200 ] && kill -0 "$apid" 2>/dev/null; then
	ok "a normal client gets /summary during the attack"
else
	notok "/summary during the attack: status $code"; show "$tmp/curlerr" "$tmp/h-slow.log"
fi
json '"site" in d' "/summary during the attack is the summary"
# The deadline (6 s from each connection's start, however steadily it
# sends) closes the rest: only the listener is left.
if poll 60 at_most 1; then ok "every slow connection is closed by the request deadline"
else notok "slow connections still open after the deadline ($(sockets) sockets)"; show "$tmp/h-slow.log"; fi
# the slow clients print their summary on SIGTERM
kill "$apid" 2>/dev/null
poll 10 grep -q '^summary' "$tmp/slow.out" || kill -9 "$apid" 2>/dev/null
wait "$apid" 2>/dev/null; apid=
has "$tmp/slow.out" '^summary .* first_wave_closed 16 of 16' \
	"the server closed all 16 slow connections (heads and bodies)"
has "$tmp/h-slow.log" 'http_request_timeout_s' "the log says why slow connections were closed"
get "$(url /summary)"
status 200 "/summary after the attack"
# An answer in progress is exempt: an SSE stream outlives the 6 s deadline
# (curl's --max-time ends it: exit 28).
curl -sN --max-time 9 "$(url '/updates?view=summary')" >"$tmp/sse" 2>/dev/null
rc=$?
n=$(grep -c '^event: summary' "$tmp/sse")
if [ "$rc" = 28 ] && [ "$n" -ge 2 ]; then ok "an SSE stream outlives http_request_timeout_s ($n events)"
else notok "the SSE stream ended early (curl exit $rc, $n events)"; fi
stop_httpd

# ---- defect 8: the token file ----
# Whitespace around the token is ignored (a leading newline or space too).
printf ' \n\tsp-token \r\n' >"$tmp/tok"; chmod 600 "$tmp/tok"
start_httpd "$tmp/h-tok.log" "$tmp/conf" --token-file "$tmp/tok"
get -H 'Authorization: Bearer sp-token' "$(url /control)"
# 503: authorised, then no control socket (no batsimd)
status 503 "a token with whitespace around it is accepted without it"
json '"socket" in d["error"]' "503 because batsimd's socket is absent, not the token"
get -H 'Authorization: Bearer  sp-token' "$(url /control)"
status 503 "the Authorization header may have spaces before the token"
# A NUL byte appearing later disables control: "abc\0secret" is not "abc".
printf 'abc\000secret\n' >"$tmp/tok"
get -H 'Authorization: Bearer abc' "$(url /control)"
status 403 "a token file with a NUL byte disables control (no prefix match)"
json '"NUL" in d["error"]' "the 403 names the NUL byte"
printf 'ok-token\n' >"$tmp/tok"
chmod 644 "$tmp/tok"
get -H 'Authorization: Bearer ok-token' "$(url /control)"
status 403 "a token file readable by other users disables control"
json '"other users" in d["error"] and "chmod o-rwx" in d["error"]' "the 403 says why and how to fix it"
stop_httpd

# Refused at start: exit 2 with a message naming the problem.
printf 'abc\000secret\n' >"$tmp/tok"; chmod 600 "$tmp/tok"
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" \
	--token-file "$tmp/tok" >/dev/null 2>"$tmp/err" &
hpid=$!
poll 5 sh -c "! kill -0 $hpid 2>/dev/null"
kill "$hpid" 2>/dev/null; wait "$hpid"; rc=$?; hpid=
[ "$rc" = 2 ] && ok "a token file with a NUL byte: exit 2 at start" || notok "NUL token file: exit $rc, want 2"
has "$tmp/err" "NUL byte" "the error names the NUL byte"
"$PY" -c 'import sys; open(sys.argv[1], "w").write("k" * 4096 + "\n")' "$tmp/tok"
"$HD" --listen 127.0.0.1:0 --name "$N" --config "$tmp/conf" \
	--token-file "$tmp/tok" >/dev/null 2>"$tmp/err" &
hpid=$!
poll 5 sh -c "! kill -0 $hpid 2>/dev/null"
kill "$hpid" 2>/dev/null; wait "$hpid"; rc=$?; hpid=
[ "$rc" = 2 ] && ok "a token over 4095 bytes: exit 2 at start" || notok "long token: exit $rc, want 2"
has "$tmp/err" "longer than 4095 bytes" "the error gives the limit"

# Readable by others at start: runs, control disabled, the reason logged.
printf 'ok-token\n' >"$tmp/tok"; chmod 604 "$tmp/tok"
start_httpd "$tmp/h-tok2.log" "$tmp/conf" --token-file "$tmp/tok"
has "$tmp/h-tok2.log" "control is disabled: the token file .* other users" \
	"a token file readable by others: control disabled, logged at start"
get -H 'Authorization: Bearer ok-token' "$(url /control)"
status 403 "... and /control answers 403"
stop_httpd

# Control on a non-loopback address: a warning; none on loopback.
chmod 600 "$tmp/tok"
grep -q 'not a loopback' "$tmp/h-tok.log" && notok "warning on 127.0.0.1" || ok "no warning for control on 127.0.0.1"
"$HD" --listen '*:0' --name "$N" --config "$tmp/conf" --www "$s/data/www" \
	--token-file "$tmp/tok" 2>"$tmp/h-any.log" &
hpid=$!
poll 10 grep -q 'listening on' "$tmp/h-any.log"
has "$tmp/h-any.log" "control is enabled on 0\.0\.0\.0:[0-9]+, which is not a loopback address" \
	"control enabled on *:PORT: a warning"
stop_httpd

finish
