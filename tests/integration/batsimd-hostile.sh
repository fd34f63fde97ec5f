#!/bin/sh
# tests/integration/batsimd-hostile.sh - batsimd against hostile input
# (issue 9): data files that never end, block or are not text (defect 2),
# SIGTERM and SIGHUP after them, hex numbers in batsim.conf, and a legacy
# mirror someone else prepared in /dev/shm (defect 7).  Limits on waits
# (poll, python socket timeouts, timeout(1)) only bound a hang; nothing
# asserts on timing.
. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
BSD=$b/src/batsimd/batsimd
PEEK=$b/tests/integration/bsd-peek
need "$BSD" "$PEEK"
need_python
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

N=/bs-test-hostile-$$
L=/bs-test-hostile-legacy-$$
N2=/bs-test-hostile-b-$$
sock=$tmp/ctl.sock
dpid=
at_exit_kill dpid
at_exit_remove $N $L $N2

cat >"$tmp/conf" <<CONF
shm_name = $N
control_socket = $sock
racks = 2
modules_per_rack = 2
cells_per_module = 3
threads = 1
backend = cpu
CONF

# ctl JSON...: requests on one connection, the replies on stdout
ctl() {
	"$PY" - "$sock" "$@" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile('rwb')
for line in sys.argv[2:]:
    f.write(line.encode() + b'\n')
    f.flush()
    sys.stdout.write(f.readline().decode())
PYEOF
}
answers() { ctl '{"cmd":"state"}' 2>/dev/null | grep -q '"ok":true'; }
# refused PATH REGEX DESCRIPTION: profile csv PATH gets ok:false with a
# message matching REGEX, and the daemon answers the next request
refused() {
	ctl "{\"cmd\":\"profile\",\"name\":\"csv\",\"path\":\"$1\"}" >"$tmp/reply" 2>&1
	if grep -q '"ok":false' "$tmp/reply" && grep -Eq -- "$2" "$tmp/reply" && answers; then
		ok "$3"
	else
		notok "$3"; show "$tmp/reply"
	fi
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# stop_daemon DESCRIPTION: SIGTERM; the daemon exits 0 (bounded wait)
stop_daemon() {
	kill -TERM "$dpid"
	if poll 10 gone "$dpid"; then
		wait "$dpid"; rc=$?; dpid=
		if [ $rc = 0 ]; then ok "$1"; else notok "$1: exit $rc"; fi
	else
		notok "$1: SIGTERM did not stop batsimd"
		kill -KILL "$dpid"; wait "$dpid"; dpid=
	fi
}

# ---- defect 2: profile files through the control socket ----
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
poll 20 answers || { notok "batsimd did not start"; show "$tmp/d.log"; exit 1; }

mkfifo "$tmp/fifo.csv"
refused "$tmp/fifo.csv" 'a FIFO.*regular file' "a FIFO is refused at once, not waited on"
refused /dev/zero '/dev/zero: a character device' "/dev/zero is refused (it never ends)"
refused "$tmp" 'a directory' "a directory is refused"
printf 'time_s,power_w\n0,1000\n60,-1000\0junk\n120,0\n' >"$tmp/nul.csv"
refused "$tmp/nul.csv" 'nul\.csv:3: NUL byte' "a NUL byte is an error naming file and line"
{ printf 'time_s,power_w\n0,1000\n'; head -c 5000 /dev/zero | tr '\0' ' '; printf '60,5\n'; } >"$tmp/long.csv"
refused "$tmp/long.csv" 'long\.csv:3: line longer than 4096' "an over-long line is an error naming file and line"
printf 'time_s,power_w\n0,1\n' >"$tmp/huge.csv"
truncate -s 17M "$tmp/huge.csv"
refused "$tmp/huge.csv" '16 MiB' "a file over 16 MiB is refused"
awk 'BEGIN { print "time_s,power_w"; for (i = 0; i <= 1000000; i++) print i ",1" }' >"$tmp/rows.csv"
refused "$tmp/rows.csv" 'rows\.csv:1000002: more than 1000000 data rows' \
	"a profile of more than 1,000,000 rows is refused"
printf 'time_s,power_w\n0,0x10\n' >"$tmp/hex.csv"
refused "$tmp/hex.csv" 'hex\.csv:2: expected' "a hex number in a profile is refused"
head -n 1000001 "$tmp/rows.csv" >"$tmp/max.csv"
r=$(ctl "{\"cmd\":\"profile\",\"name\":\"csv\",\"path\":\"$tmp/max.csv\"}" '{"cmd":"state"}' | tail -n 1)
if printf '%s\n' "$r" | grep -q '"name":"csv"'; then ok "a profile of exactly 1,000,000 rows loads"
else notok "1,000,000 rows refused"; echo "# $r"; fi
rm -f "$tmp/rows.csv" "$tmp/max.csv"

stop_daemon "SIGTERM after the hostile files: exit 0"
[ "$("$PEEK" "$N" | sed -n 's/^state=//p')" = STOPPED ] &&
	ok "... segment STOPPED" || notok "segment not STOPPED"

# SIGHUP reloads the profile named in batsim.conf: a FIFO there is an
# error in the log, the daemon goes on, and SIGTERM stops it
cp "$tmp/conf" "$tmp/hup.conf"
"$BSD" --config "$tmp/hup.conf" 2>"$tmp/hup.log" &
dpid=$!
poll 20 answers || { notok "batsimd did not start"; show "$tmp/hup.log"; exit 1; }
printf 'profile = csv\nprofile_csv = %s\n' "$tmp/fifo.csv" >>"$tmp/hup.conf"
kill -HUP "$dpid"
if poll 10 grep -q 'SIGHUP.*a FIFO' "$tmp/hup.log" && answers; then
	ok "SIGHUP with a FIFO profile: an error, batsimd goes on"
else notok "SIGHUP with a FIFO profile"; show "$tmp/hup.log"; fi
stop_daemon "then SIGTERM: exit 0"

# ocv_csv in batsim.conf: refused at start (exit 2), never a hang
for f in /dev/zero "$tmp/fifo.csv"; do
	printf 'ocv_csv = %s\n' "$f" >"$tmp/ocv.conf"
	cat "$tmp/conf" >>"$tmp/ocv.conf"
	timeout 30 "$BSD" --config "$tmp/ocv.conf" --duration 1 --speed 0 >"$tmp/out" 2>&1
	rc=$?
	if [ $rc = 2 ] && grep -q "ocv.conf:1: .*regular file" "$tmp/out"; then
		ok "ocv_csv = $f: exit 2 naming the file and line"
	else notok "ocv_csv = $f: exit $rc"; show "$tmp/out"; fi
done

# numbers are plain decimal (batsim.conf(5))
printf 'dt_s = 0x10\n' >"$tmp/hex.conf"
cat "$tmp/conf" >>"$tmp/hex.conf"
expect 2 "dt_s = 0x10 (hex) is refused" -- "$BSD" --config "$tmp/hex.conf" --duration 1 --speed 0
has "$tmp/err" "hex.conf:1: bad value '0x10' for dt_s" "... naming file and line"
expect 2 "--speed 0x10 is refused" -- "$BSD" --config "$tmp/conf" --duration 1 --speed 0x10

# ---- defect 7: the legacy mirror ----
printf 'legacy_shm_name = %s\n' "$L" >"$tmp/leg.conf"
cat "$tmp/conf" >>"$tmp/leg.conf"
ino() { stat -c %i "/dev/shm$L"; }

# writable by every user (even when ours): refused, left alone
printf 'planted' >"/dev/shm$L"
chmod 0666 "/dev/shm$L"
expect 1 "a mirror writable by every user is refused" -- \
	"$BSD" --config "$tmp/leg.conf" --duration 1 --speed 0
has "$tmp/err" "writable by every user.*rm /dev/shm$L" "... saying how to fix it"
[ "$(cat "/dev/shm$L")" = planted ] && ok "... and left untouched" || notok "the planted mirror was changed"
# another user's
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0600 "/dev/shm$L"
	chown nobody "/dev/shm$L"
	expect 1 "another user's mirror is refused" -- \
		"$BSD" --config "$tmp/leg.conf" --duration 1 --speed 0
	has "$tmp/err" "belongs to another user" "... saying so"
	[ "$(cat "/dev/shm$L")" = planted ] && ok "... and left untouched" ||
		notok "another user's mirror was changed"
else
	echo "# not root: the case of another user's mirror is skipped"
fi
# a stale one of our own (mode 0600, nobody holds it): replaced
rm -f "/dev/shm$L"
printf 'stale' >"/dev/shm$L"
chmod 0600 "/dev/shm$L"
old=$(ino)
expect 0 "a stale mirror of our own is replaced" -- \
	"$BSD" --config "$tmp/leg.conf" --duration 1 --speed 0
has "$tmp/err" "replaced the stale legacy mirror" "... and the log says so"
if [ "$(ino)" != "$old" ] && [ "$(stat -c %a "/dev/shm$L")" = 660 ] &&
	[ "$(stat -c %s "/dev/shm$L")" = $((2 * 2 * 3 * 20)) ]; then
	ok "... by a new object of mode 0660 and the right size"
else notok "mirror after the replacement: $(stat -c '%i %a %s' "/dev/shm$L")"; fi
# one that a running batsimd holds: a second batsimd (another segment)
# refuses it, and its failed start leaves no segment behind
"$BSD" --config "$tmp/leg.conf" 2>"$tmp/d.log" &
dpid=$!
poll 20 answers || { notok "batsimd with a mirror did not start"; show "$tmp/d.log"; exit 1; }
sed -e "s|^shm_name = .*|shm_name = $N2|" -e "s|^control_socket = .*|control_socket = $tmp/b.sock|" \
	"$tmp/leg.conf" >"$tmp/leg2.conf"
expect 1 "a mirror in use by another batsimd is refused" -- \
	"$BSD" --config "$tmp/leg2.conf" --duration 1 --speed 0
has "$tmp/err" "in use by another batsimd" "... saying so"
[ ! -e "/dev/shm$N2" ] && ok "... and the failed start left no segment" || notok "segment $N2 left behind"
[ "$(stat -c %s "/dev/shm$L")" = $((2 * 2 * 3 * 20)) ] && ok "... nor removed the mirror in use" ||
	notok "the mirror in use was changed"
stop_daemon "the first batsimd stops: exit 0"

finish
