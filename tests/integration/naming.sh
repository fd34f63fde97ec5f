#!/bin/sh
# One set of names for every program (issue 12): the environment variables
# BATSIM_SHM (BATSIM_SHM_NAME the old name), BATSIM_CONFIG, BATSIM_LISTEN
# read by batsimctl, batsim-init and batsim-httpd; short options that mean
# one thing in every program; the daemons' advice in the way they were
# started (systemctl only under systemd, INVOCATION_ID); waiting for a
# writer is no warning; the man pages as built carry the configured paths
# and one date.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
CTL=$b/src/ctl/batsimctl
INIT=$b/src/init/batsim-init
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
MBD=$b/src/modbusd/batsim-modbusd
need "$CTL" "$INIT" "$HD"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

N=/bs-test-naming-$$
hpid= h2pid= h3pid= h4pid= fpid=
at_exit_kill hpid h2pid h3pid h4pid fpid
at_exit_remove $N
unset BATSIM_SHM BATSIM_SHM_NAME BATSIM_CONFIG BATSIM_CONTROL_SOCKET \
	BATSIM_LISTEN BATSIM_MODBUS_LISTEN INVOCATION_ID NOTIFY_SOCKET JOURNAL_STREAM

# ---- the environment ----
expect 2 "BATSIM_SHM=/x batsimctl status: /x is missing" -- env BATSIM_SHM=$N "$CTL" status
has "$tmp/err" "$N" "batsimctl reads the segment BATSIM_SHM names"
# --check only changes nothing, whichever segment it looks at
expect 6 "BATSIM_SHM=/x batsim-init --check: /x not found" -- env BATSIM_SHM=$N "$INIT" --check
has "$tmp/err" "$N" "batsim-init reads the segment BATSIM_SHM names"
expect 0 "batsim-init --name /x creates /x" -- "$INIT" --name $N --topology 1x1x2
expect 3 "batsimctl status on /x (no writer yet)" -- env BATSIM_SHM=$N "$CTL" status
has "$tmp/err" "$N" "it names /x"
expect 3 "BATSIM_SHM_NAME, the old name, still works" -- env BATSIM_SHM_NAME=$N "$CTL" status
expect 3 "BATSIM_SHM wins over BATSIM_SHM_NAME" -- env BATSIM_SHM=$N BATSIM_SHM_NAME=/bs-test-naming-none "$CTL" status
printf 'shm_name = %s\n' "$N" >"$tmp/site.conf"
expect 3 "BATSIM_CONFIG names the configuration file" -- env BATSIM_CONFIG=$tmp/site.conf "$CTL" status
has "$tmp/err" "$N" "batsimctl took shm_name from \$BATSIM_CONFIG"
expect 2 "--name wins over BATSIM_SHM" -- env BATSIM_SHM=$N "$CTL" --name /bs-test-naming-none status
expect 1 "batsim-init: a bad BATSIM_SHM is refused" -- env BATSIM_SHM=nonsense "$INIT" --check
has "$tmp/err" "BATSIM_SHM='nonsense'" "the error names the variable"

# ---- short options: one meaning in every program ----
expect 2 "batsim-httpd -s (was --control-socket) is gone" -- "$HD" -s /x --help
expect 2 "batsim-httpd -t (was --token-file) is gone" -- "$HD" -t /x --help
expect 0 "batsim-httpd -S is --control-socket, as in batsimctl" -- "$HD" -S /x --help
expect 1 "batsim-init -s (was --slots) is gone" -- "$INIT" -s 4 --help
if [ -x "$BSD" ]; then
	"$BSD" -s 2 --help >/dev/null 2>&1 && notok "batsimd -s (was --speed) still accepted" \
		|| ok "batsimd -s (was --speed) is gone"
	"$BSD" -t 2 --help >/dev/null 2>&1 && notok "batsimd -t (was --threads) still accepted" \
		|| ok "batsimd -t (was --threads) is gone"
	expect 0 "batsimd --speed still works" -- "$BSD" --speed 2 --help
fi
if [ -x "$MBD" ]; then
	expect 0 "batsim-modbusd -S is --control-socket" -- "$MBD" -S /x --help
	expect 2 "batsim-modbusd -s is gone" -- "$MBD" -s /x --help
fi

# ---- batsim-httpd started before the writer, by hand ----
# BATSIM_SHM and BATSIM_LISTEN instead of --name and --listen
BATSIM_SHM=$N BATSIM_LISTEN=127.0.0.1:0 "$HD" --config /dev/null \
	--www "$s/data/www" 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"
[ -n "$port" ] && [ "$port" != 8080 ] && ok "batsim-httpd listens where BATSIM_LISTEN says (port $port)" \
	|| notok "BATSIM_LISTEN not used: port '$port'"
if poll 20 grep -q "no writer has started on segment $N" "$tmp/h.log"; then
	ok "batsim-httpd reads the segment BATSIM_SHM names and waits for a writer"
else notok "no 'no writer has started on segment $N'"; show "$tmp/h.log"; fi
if grep -q "warning:" "$tmp/h.log"; then notok "waiting for the writer logs a warning"; show "$tmp/h.log"
else ok "waiting for the writer is no warning"; fi
if grep -q "systemctl\|\.service" "$tmp/h.log"; then notok "started by hand, it advises systemctl"; show "$tmp/h.log"
else ok "started by hand, no systemctl advice"; fi
has "$tmp/h.log" "start batsimd \(batsimd --config" "it says how to start batsimd by hand"
get "$(url /healthz)"
if grep -q "systemctl\|\.service" "$tmp/body"; then notok "/healthz (the dashboard's banner) advises systemctl"; show "$tmp/body"
else ok "/healthz's reason has no systemctl advice"; fi
kill "$hpid"; wait "$hpid" 2>/dev/null; hpid=

# ---- the same under systemd (INVOCATION_ID set) ----
INVOCATION_ID=0123456789abcdef "$HD" --config /dev/null --name $N \
	--listen 127.0.0.1:0 --www "$s/data/www" 2>"$tmp/h2.log" &
h2pid=$!
wait_port "$tmp/h2.log"
if poll 20 grep -q "systemctl start batsimd" "$tmp/h2.log"; then ok "under systemd it advises systemctl start batsimd"
else notok "under systemd: no systemctl advice"; show "$tmp/h2.log"; fi
kill "$h2pid"; wait "$h2pid" 2>/dev/null; h2pid=

# ---- before the segment exists: no warning either ----
"$HD" --config /dev/null --name $N-none --listen 127.0.0.1:0 \
	--www "$s/data/www" 2>"$tmp/h3.log" &
h3pid=$!
wait_port "$tmp/h3.log"
if poll 20 grep -q "segment $N-none not found" "$tmp/h3.log"; then ok "no segment yet: said"
else notok "no 'segment not found'"; show "$tmp/h3.log"; fi
if grep -q "warning:" "$tmp/h3.log"; then notok "a segment not there yet logs a warning"; show "$tmp/h3.log"
else ok "a segment not there yet at start is no warning"; fi
kill "$h3pid"; wait "$h3pid" 2>/dev/null; h3pid=

# ---- control through batsim-httpd: the dashboard's polls are not logged ----
if [ -n "$PY" ]; then
	printf 'naming-token\n' >"$tmp/token"; chmod 600 "$tmp/token"
	"$HD" --config /dev/null --name $N --listen 127.0.0.1:0 --www "$s/data/www" \
		--token-file "$tmp/token" --control-socket "$tmp/ctl.sock" 2>"$tmp/h4.log" &
	h4pid=$!
	wait_port "$tmp/h4.log"
	A='Authorization: Bearer naming-token'
	get -H "$A" "$(url /control)"
	status 503 "no batsimd yet: 503"
	if grep -q "systemctl\|\.service" "$tmp/body"; then notok "started by hand, the 503 advises systemctl"; show "$tmp/body"
	else ok "started by hand, the 503 does not advise systemctl"; fi
	"$PY" "$s/tests/integration/fake-batsimd.py" "$tmp/ctl.sock" "$tmp/ctl.log" normal &
	fpid=$!
	poll 5 test -S "$tmp/ctl.sock"
	for i in 1 2 3; do get -H "$A" "$(url /control)"; done
	status 200 "GET /control (the dashboard's state poll)"
	get -H "$A" "$(url /control/alarms)"
	status 200 "GET /control/alarms"
	get -H "$A" -d '{"value":30}' "$(url /control/ambient)"
	status 200 "POST /control/ambient"
	if grep -q 'control: .*"state"\|control: .*"alarms"' "$tmp/h4.log"; then
		notok "state and alarms polls are logged at the default level"; show "$tmp/h4.log"
	else ok "state and alarms polls are not logged at the default level"; fi
	has "$tmp/h4.log" 'control: .*"ambient"' "a command that changes something is logged"
	kill "$h4pid"; wait "$h4pid" 2>/dev/null; h4pid=
	kill "$fpid"; wait "$fpid" 2>/dev/null; fpid=
fi

# ---- the man pages as built ----
conf=$("$HD" --help | sed -n 's/.*--config FILE *configuration file (default \(.*\))$/\1/p')
if [ -n "$conf" ] && [ -f "$b/man/batsim-httpd.8" ]; then
	for m in batsim-httpd.8 batsimd.8 batsim-init.8 batsimctl.1 batsim.conf.5 batsim-modbusd.8; do
		has "$b/man/$m" "$conf" "$m names the configured $conf"
	done
	if grep -l '@[A-Za-z_]*@' "$b"/man/*.[0-9] >"$tmp/left"; then notok "placeholders left in"; show "$tmp/left"
	else ok "no @placeholder@ left in the pages"; fi
	dates=$(sed -n 's/^\.TH [^ ]* [0-9] \([0-9-]*\) .*/\1/p' "$b"/man/*.[0-9] | sort -u)
	want=$(sed -n 's/^MAN_DATE = //p' "$b/Makefile")
	[ "$dates" = "$want" ] && ok "every page has the release date $want" \
		|| notok "page dates '$(echo $dates)', want $want"
	grep -q "doc/batsim/MODEL.md" "$b/man/batsimd.8" && ok "batsimd(8) points to MODEL.md under the doc directory" \
		|| notok "batsimd(8): no doc/batsim/MODEL.md"
else
	notok "no configured path from batsim-httpd --help ('$conf') or no $b/man"
fi

finish
