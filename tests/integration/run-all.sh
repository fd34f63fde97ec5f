#!/bin/sh
# scripts/run-all (the README's command to run batsim) with the programs
# of the build tree (BATSIM_NO_BUILD=1): when batsim-httpd cannot listen
# (the port is taken) it stops the others and exits non-zero with the
# daemon's error instead of saying "batsim is running"; with a free port it
# says so, serves, and Ctrl-C (SIGTERM) ends it with status 0.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
need "$b/src/init/batsim-init" "$b/src/batsimd/batsimd" "$b/src/httpd/batsim-httpd"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python

N=/bs-test-runall-$$
bpid= rpid=
at_exit_kill bpid rpid
at_exit_remove $N
export BUILD_DIR="$b" BATSIM_NO_BUILD=1 BATSIM_SHM=$N BATSIM_MODBUS_LISTEN=127.0.0.1:0

# A port that another program holds.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$tmp/busy" &
bpid=$!
poll 10 test -s "$tmp/busy" || { notok "no busy port"; finish; exit 1; }
busy=$(cat "$tmp/busy")

BATSIM_RUN_DIR=$tmp/run1 BATSIM_LISTEN=127.0.0.1:$busy \
	timeout 120 "$s/scripts/run-all" >"$tmp/out1" 2>"$tmp/err1"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then ok "port in use: run-all exits non-zero (exit $rc)"
else notok "port in use: run-all exit $rc"; show "$tmp/out1" "$tmp/err1"; fi
has "$tmp/err1" "cannot listen on 127\.0\.0\.1:$busy" "it shows batsim-httpd's error"
has "$tmp/err1" "run-all: batsim-httpd could not start \(exit 1\)" "it says which daemon failed, with its status"
if grep -q "batsim is running" "$tmp/out1"; then notok "it still says 'batsim is running'"
else ok "it does not say 'batsim is running'"; fi
kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null; bpid=

# A free port (0: batsim-httpd picks one, run-all shows it).
BATSIM_RUN_DIR=$tmp/run2 BATSIM_LISTEN=127.0.0.1:0 \
	"$s/scripts/run-all" >"$tmp/out2" 2>"$tmp/err2" &
rpid=$!
if poll 60 grep -q "batsim is running" "$tmp/out2"; then ok "free port: batsim is running"
else notok "free port: no 'batsim is running'"; show "$tmp/out2" "$tmp/err2"; fi
dash=$(sed -n 's|^  dashboard: *\(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$tmp/out2")
if [ -n "$dash" ] && [ "$dash" != "http://127.0.0.1:0/" ]; then ok "it shows the port it listens on ($dash)"
else notok "dashboard address: '$dash'"; show "$tmp/out2"; fi
port=${dash#http://127.0.0.1:}
port=${port%/}
if poll 30 status_is 200 /healthz; then ok "the dashboard's server answers /healthz with live data"
else notok "/healthz: $code"; show "$tmp/body" "$tmp/err2"; fi
# the line it prints for batsimctl: BATSIM_CONFIG is all batsimctl needs
conf=$(sed -n 's|^ *terminal: *export BATSIM_CONFIG=\([^ ]*\) .*|\1|p' "$tmp/out2")
if [ -n "$conf" ] && [ -x "$b/src/ctl/batsimctl" ]; then
	want=$("$b/src/ctl/batsimctl" --name "$N" status 2>&1 | grep '^writer pid')
	env -u BATSIM_SHM BATSIM_CONFIG="$conf" "$b/src/ctl/batsimctl" status >"$tmp/st" 2>&1 \
		&& [ -n "$want" ] && grep -qx "$want" "$tmp/st" && ok "export BATSIM_CONFIG=... (as printed): batsimctl status reads the run's segment" \
		|| { notok "batsimctl with the printed BATSIM_CONFIG"; show "$tmp/st"; }
	env -u BATSIM_SHM BATSIM_CONFIG="$conf" "$b/src/ctl/batsimctl" state >"$tmp/st" 2>&1 \
		&& ok "... and batsimctl state reaches the run's batsimd" \
		|| { notok "batsimctl state with the printed BATSIM_CONFIG"; show "$tmp/st"; }
else notok "no 'export BATSIM_CONFIG=' line"; show "$tmp/out2"; fi
if grep -q "systemctl\|\.service" "$tmp/run2"/*.log; then notok "the daemons advise systemctl under run-all"; show "$tmp/run2"/*.log
else ok "no systemctl advice in the daemons' logs under run-all"; fi
kill -TERM "$rpid"
wait "$rpid"; rc=$?; rpid=
[ "$rc" = 0 ] && ok "SIGTERM stops run-all with status 0" || notok "run-all after SIGTERM: exit $rc"

finish
