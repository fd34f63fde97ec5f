#!/bin/sh
# tests/integration/ctl-socket-hostile.sh - batsimd's control socket
# against clients of the batsim group that misbehave (issue 9, defect 6):
# a client that sends no complete line is closed after 10 s, one that
# does not read its replies is closed beyond 1 MiB unread, and when every
# slot is taken a new client gets a busy reply, which batsimctl prints and
# batsim-httpd answers with 503.  Waits are bounded (python socket
# timeouts, poll) only against a hang; nothing asserts on timing.
. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
BSD=$b/src/batsimd/batsimd
HD=$b/src/httpd/batsim-httpd
CTL=$b/src/ctl/batsimctl
need "$BSD" "$HD" "$CTL"
need_python
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

N=/bs-test-ctlsock-$$
sock=$tmp/ctl.sock
dpid= hpid= holder=
at_exit_kill holder hpid dpid
at_exit_remove $N

printf 'tok-%s\n' $$ >"$tmp/token"
chmod 0600 "$tmp/token"
cat >"$tmp/conf" <<CONF
shm_name = $N
control_socket = $sock
racks = 2
modules_per_rack = 2
cells_per_module = 3
threads = 1
backend = cpu
http_token_file = $tmp/token
CONF

"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
answers() { "$CTL" --socket "$sock" state >/dev/null 2>&1; }
poll 20 answers || { notok "batsimd did not start"; show "$tmp/d.log"; exit 1; }

# ---- a client that sends no complete line is closed ----
if "$PY" - "$sock" >"$tmp/out" 2>&1 <<'PYEOF'
import select, socket, sys
quiet = socket.socket(socket.AF_UNIX); quiet.connect(sys.argv[1])
partial = socket.socket(socket.AF_UNIX); partial.connect(sys.argv[1])
partial.sendall(b'{"cmd":"sta')
# a working client on a third connection is answered meanwhile
work = socket.socket(socket.AF_UNIX); work.settimeout(30); work.connect(sys.argv[1])
work.sendall(b'{"cmd":"state"}\n')
assert b'"ok":true' in work.makefile('rb').readline()
open_ = {quiet: 'silent', partial: 'partial line'}
while open_:
    # 60 s only bounds a hang: batsimd closes them after 10 s
    r, _, _ = select.select(list(open_), [], [], 60)
    assert r, 'still open after 60 s: ' + ', '.join(open_.values())
    for s in r:
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b''
        assert data == b'', (open_[s], data)
        del open_[s]
print('both closed')
PYEOF
then ok "a silent client and one with a partial line are closed"
else notok "idle clients"; show "$tmp/out"; fi
has "$tmp/d.log" "closing a client that sent no complete request line for 10 s" \
	"... and the log says why"

# ---- a client that does not read its replies is closed ----
if "$PY" - "$sock" >"$tmp/out" 2>&1 <<'PYEOF'
import socket, sys
n = 20000 # about 7 MB of "state" replies
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
try:
    s.sendall(b'{"cmd":"state"}\n' * n)
except (BrokenPipeError, ConnectionResetError):
    pass # closed while we were still sending: that is the point
got, buf = 0, b''
while True:
    try:
        data = s.recv(1 << 16)
    except ConnectionResetError:
        break
    if not data:
        break
    got += data.count(b'\n')
print('replies read:', got, 'of', n)
assert got < n, 'every reply was kept for a client that did not read'
PYEOF
then ok "a client that leaves its replies unread is closed"; show "$tmp/out"
else notok "non-reading client"; show "$tmp/out"; fi
has "$tmp/d.log" "closing a client that left more than 1024 KiB of replies unread" \
	"... and the log says why"
answers && ok "batsimd answers after both" || notok "batsimd does not answer"

# ---- every slot taken: a busy reply ----
# 64 clients that stay active (a request every 2 s) hold every slot
"$PY" - "$sock" "$tmp/ready" "$tmp/release" >"$tmp/holder.log" 2>&1 <<'PYEOF' &
import os, socket, sys, time
path, ready, release = sys.argv[1:4]
cl = []
for k in range(64):
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(path)
    f = s.makefile('rwb')
    f.write(b'{"cmd":"state"}\n'); f.flush()
    assert b'"ok":true' in f.readline(), k # accepted and served
    cl.append((s, f))
open(ready, 'w').close()
deadline = time.monotonic() + 300 # bound against a test that hangs
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(2)
    for s, f in cl:
        f.write(b'{"cmd":"state"}\n'); f.flush()
        assert b'"ok":true' in f.readline()
print('holder done')
PYEOF
holder=$!
if ! poll 60 test -e "$tmp/ready"; then
	notok "64 clients could not connect"; show "$tmp/holder.log" "$tmp/d.log"; exit 1
fi
"$PY" - "$sock" >"$tmp/out" 2>&1 <<'PYEOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
r = json.loads(s.makefile('rb').readline())
print(r)
assert r['ok'] is False and r['busy'] is True and 'busy' in r['error'], r
PYEOF
[ $? = 0 ] && ok "the 65th client gets a busy reply" || { notok "no busy reply"; show "$tmp/out"; }
expect 5 "batsimctl: exit 5 when batsimd is busy" -- "$CTL" --socket "$sock" state
has "$tmp/err" "batsimd is busy: all 64 control connections are in use" "... and it says so"

"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"
get -H "Authorization: Bearer tok-$$" "$(url /control)"
status 503 "batsim-httpd: /control answers 503 while batsimd is busy"
json '"busy" in d["error"] and "malformed" not in d["error"]' "... saying batsimd is busy"

touch "$tmp/release"
wait "$holder"; rc=$?; holder=
[ $rc = 0 ] && ok "the 64 clients were served all along" || { notok "holder: exit $rc"; show "$tmp/holder.log"; }
poll 10 answers && ok "a slot is free again afterwards" || notok "still busy"
get -H "Authorization: Bearer tok-$$" "$(url /control)"
status 200 "batsim-httpd: /control 200 again"

finish
