#!/bin/sh
# batsim-init(8): create, idempotence, topology change, --force, bad
# arguments and their exit statuses, mode under a restrictive umask, group,
# --check, --remove, invalid segments, configuration files, permissions.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
INIT=$b/src/init/batsim-init
TW=$b/tests/testwriter/bs-testwriter
need "$INIT"
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

N=/bs-test-init-$$
F=/dev/shm/${N#/}
wpid=
at_exit_kill wpid
at_exit_remove $N $N-2

expect 0 "--help" -- "$INIT" --help
has "$tmp/out" "--topology" "--help lists --topology"
expect 0 "--version" -- "$INIT" --version
has "$tmp/out" "batsim-init .* [0-9]+\.[0-9]+" "--version prints a version"

# create, sized for the topology, mode not masked by the umask
expect 0 "create 2x3x4" -- sh -c "umask 077; exec '$INIT' --name $N --topology 2x3x4 --mode 0644"
has "$tmp/err" "created $N" "says created"
[ -e "$F" ] && ok "segment exists" || notok "segment $F missing"
mode=$(stat -c %a "$F")
[ "$mode" = 644 ] && ok "mode 0644 under umask 077" || notok "mode is $mode, want 644"

# idempotent
expect 0 "same topology again" -- "$INIT" --name $N --topology 2x3x4 --mode 0644
has "$tmp/err" "kept existing" "says kept"

# --check prints the header
expect 0 "--check" -- "$INIT" --name $N --check
has "$tmp/out" "^magic: +BATSIMv1" "--check: magic"
has "$tmp/out" "^abi: +1\." "--check: abi"
has "$tmp/out" "^topology: +2x3x4 \(24 cells\)" "--check: topology"
has "$tmp/out" "^slots: +3 x" "--check: slots"
has "$tmp/out" "^state: +INIT" "--check: state"
has "$tmp/out" "^generation: +0" "--check: generation"
has "$tmp/out" "^writer pid: +none" "--check: writer pid"
has "$tmp/out" "^heartbeat age: +never" "--check: heartbeat"
size=$(stat -c %s "$F")
has "$tmp/out" "^total size: +$size bytes" "--check: total size matches the file"
expect 0 "--check with the same topology" -- "$INIT" --name $N --check --topology 2x3x4
expect 4 "--check with another topology" -- "$INIT" --name $N --check --topology 2x3x5
has "$tmp/err" "expected 2x3x5" "--check mismatch names both"

# another topology is refused, then forced
expect 4 "different topology refused" -- "$INIT" --name $N --topology 4x10x40
has "$tmp/err" "2x3x4.*--force" "refusal names the topology and --force"
expect 4 "different slot count refused" -- "$INIT" --name $N --topology 2x3x4 --slots 4
expect 0 "--force replaces" -- "$INIT" --name $N --topology 4x10x40 --force
"$INIT" --name $N --check >"$tmp/out" 2>&1
has "$tmp/out" "^topology: +4x10x40" "--force: new topology"
bigger=$(stat -c %s "$F")
[ "$bigger" -gt "$size" ] && ok "--force: segment grew ($size -> $bigger)" || notok "size $size -> $bigger"

# bad arguments: exit 1 each, with a message
for t in 0x1x1 1x0x1 abc 2x2 1x2x3x4 -1x2x2 2x2x 99999999999999999999x1x1 \
	5000x1x1 1x2000x1 1x1x2000 1024x1024x8 ""; do
	expect 1 "bad topology '$t'" -- "$INIT" --name $N-2 --topology "$t"
	has "$tmp/err" "topology" "bad topology '$t' explained"
done
[ -e "$F-2" ] && notok "a bad topology created a segment" || ok "no segment from bad topologies"
expect 1 "--slots 1" -- "$INIT" --name $N-2 --topology 1x1x1 --slots 1
expect 1 "--slots 17" -- "$INIT" --name $N-2 --topology 1x1x1 --slots 17
expect 1 "--slots x" -- "$INIT" --name $N-2 --topology 1x1x1 --slots x
expect 1 "--mode 0999" -- "$INIT" --name $N-2 --topology 1x1x1 --mode 0999
expect 1 "--mode 4755" -- "$INIT" --name $N-2 --topology 1x1x1 --mode 4755
expect 1 "--group unknown" -- "$INIT" --name $N-2 --topology 1x1x1 --group no-such-group-$$
expect 1 "--name without slash" -- "$INIT" --name batsim --topology 1x1x1
expect 1 "--name with two slashes" -- "$INIT" --name /a/b --topology 1x1x1
expect 1 "unknown option" -- "$INIT" --bogus
expect 1 "extra argument" -- "$INIT" --name $N-2 extra
expect 1 "--topology and --config" -- "$INIT" --topology 1x1x1 --config /dev/null
expect 1 "--check and --remove" -- "$INIT" --check --remove

# group by number
g=$(id -g)
expect 0 "--group $g" -- "$INIT" --name $N --topology 4x10x40 --group "$g" --mode 0660
[ "$(stat -c %g "$F")" = "$g" ] && ok "group set" || notok "group is $(stat -c %g "$F")"
[ "$(stat -c %a "$F")" = 660 ] && ok "mode re-applied to a kept segment" || notok "mode $(stat -c %a "$F")"

# configuration file
cat >"$tmp/batsim.conf" <<EOF
# test configuration
shm_name = $N-2
racks = 2
modules_per_rack = 2
cells_per_module = 5
slots = 4
EOF
expect 0 "--config" -- "$INIT" --config "$tmp/batsim.conf"
"$INIT" --name $N-2 --check >"$tmp/out" 2>&1
has "$tmp/out" "^topology: +2x2x5" "--config: topology from the file"
has "$tmp/out" "^slots: +4 x" "--config: slots from the file"
expect 0 "--config --check" -- "$INIT" --config "$tmp/batsim.conf" --check
echo "racks = zero" >>"$tmp/batsim.conf"
expect 2 "bad value in the config" -- "$INIT" --config "$tmp/batsim.conf"
has "$tmp/err" "batsim.conf:7" "config error names file and line"
expect 2 "missing config file" -- "$INIT" --config "$tmp/nonexistent.conf"
"$INIT" --name $N-2 --remove 2>/dev/null

# invalid segments
head -c 8192 /dev/urandom >"$F-2"
expect 5 "--check on garbage" -- "$INIT" --name $N-2 --check
has "$tmp/err" "not a batsim segment" "garbage: bad magic explained"
expect 5 "create over garbage without --force" -- "$INIT" --name $N-2 --topology 1x1x1
expect 0 "create over garbage with --force" -- "$INIT" --name $N-2 --topology 1x1x1 --force
head -c 100 /dev/zero >"$F-2"
expect 5 "--check on a truncated segment" -- "$INIT" --name $N-2 --check
rm -f "$F-2"

# --remove; a live writer protects the segment unless --force
if [ -x "$TW" ]; then
	"$TW" --name $N --topology 4x10x40 --period-ms 50 --duration-s 20 >/dev/null 2>&1 &
	wpid=$!
	poll 5 sh -c "'$INIT' --name $N --check 2>/dev/null | grep -q '^live: *yes'"
	"$INIT" --name $N --check >"$tmp/out" 2>&1
	has "$tmp/out" "^state: +RUNNING" "--check: RUNNING under a writer"
	has "$tmp/out" "^writer pid: +$wpid\$" "--check: writer pid"
	has "$tmp/out" "^generation: +1" "--check: generation bumped"
	expect 4 "--force refused while a writer runs" -- "$INIT" --name $N --topology 1x1x1 --force
	expect 4 "--remove refused while a writer runs" -- "$INIT" --name $N --remove
	[ -e "$F" ] && ok "segment still there" || notok "segment removed under a writer"
	kill "$wpid"; wait "$wpid" 2>/dev/null; wpid=
	"$INIT" --name $N --check >"$tmp/out" 2>&1
	has "$tmp/out" "^state: +STOPPED" "--check: STOPPED after SIGTERM"
	# a forced replacement continues the generation, so that a client
	# that tells restarts by generation sees it (not 0 again)
	expect 0 "--force replaces a stopped segment" -- "$INIT" --name $N --topology 1x2x3 --force
	"$INIT" --name $N --check >"$tmp/out" 2>&1
	has "$tmp/out" "^topology: +1x2x3" "--force after a writer: new topology"
	has "$tmp/out" "^generation: +1\$" "--force keeps the replaced segment's generation"
	"$TW" --name $N --topology 1x2x3 --period-ms 50 --duration-s 1 >/dev/null 2>&1
	"$INIT" --name $N --check >"$tmp/out" 2>&1
	has "$tmp/out" "^generation: +2\$" "the next writer on the replacement is generation 2"
else
	echo "# $TW not built: writer checks skipped"
fi
expect 0 "--remove" -- "$INIT" --name $N --remove
[ -e "$F" ] && notok "segment still exists" || ok "segment gone"
expect 6 "--remove again" -- "$INIT" --name $N --remove
expect 6 "--check a missing segment" -- "$INIT" --name $N --check
has "$tmp/err" "not found.*batsim-init" "missing segment: says what to do"

# permission denied, as an unprivileged user (only when run as root)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	"$INIT" --name $N --topology 1x1x1 --mode 0600 2>/dev/null
	nob="setpriv --reuid=65534 --regid=65534 --clear-groups"
	expect 3 "--check without permission" -- $nob "$INIT" --name $N --check
	has "$tmp/err" "permission denied" "permission: explained"
	expect 3 "--force without permission" -- $nob "$INIT" --name $N --topology 2x1x1 --force
	"$INIT" --name $N --remove 2>/dev/null
else
	echo "# not root or no setpriv: permission checks skipped"
fi

finish
