#!/bin/sh
# The segment attacked under the real daemons (issue 9, defects 1 and 5):
#  - its header rewritten (n_racks 4 -> 1 in a 4x4x8 segment, no new
#    generation): batsim-httpd answers 503 "corrupt" instead of building
#    /summary from the live header (a heap overflow before the fix),
#    batsimctl show summary exits 4; the header put back, both read again;
#  - the segment truncated to half its size: batsimd exits 1 with a
#    message (not SIGBUS), batsim-httpd survives and answers 503, batsimctl
#    exits 4 (not SIGBUS); the segment recreated and batsimd restarted,
#    batsim-httpd re-attaches by itself and answers 200.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
CTL=$b/src/ctl/batsimctl
need "$HD" "$BSD" "$INIT" "$CTL"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v truncate >/dev/null || { echo "SKIP: truncate (coreutils) not found"; exit 77; }
need_python

N=/bs-test-hostile-$$
F=/dev/shm/${N#/}
dpid= hpid= wpid=
at_exit_kill dpid hpid wpid
at_exit_remove $N

cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 4
modules_per_rack = 4
cells_per_module = 8
threads = 1
http_stale_ms = 1000
EOF
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"

if poll 10 status_is 200 /summary; then ok "live with batsimd"
else notok "not live"; show "$tmp/h.log" "$tmp/d.log"; exit 1; fi
json 'len(d["racks"]) == 4' "/summary has 4 racks"
expect 0 "batsimctl show summary" -- "$CTL" --name $N show summary

# put_u32 OFFSET VALUE: write a little-endian u32 into the segment's
# header in place (no truncation), as its owner could
put_u32() {
	"$PY" - "$F" "$1" "$2" <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(struct.pack("<I", int(sys.argv[3])))
EOF
}

# ---- defect 1: the header rewritten under the readers ----
# batsimctl watch keeps its reader open across the rewrite
"$CTL" --name $N --interval-ms 50 watch show summary >"$tmp/watch.out" 2>&1 &
wpid=$!
poll 10 grep -qsE "^site( [A-Za-z0-9._-]+)?: tick" "$tmp/watch.out" || notok "batsimctl watch shows nothing"
put_u32 24 1 # n_racks (offset 24, batsim-shm(7))
if poll 10 status_is 503 /summary; then ok "/summary with n_racks rewritten: 503"
else notok "/summary with n_racks rewritten: $code, want 503"; show "$tmp/body"; fi
json '"corrupt" in d["error"]' "the 503 says the segment is corrupt"
status_is 503 /rack/3 && ok "/rack/3 with n_racks rewritten: 503" ||
	{ notok "/rack/3: $code, want 503"; show "$tmp/body"; }
get "$(url /metrics)"
grep -q '^batsim_up 0' "$tmp/body" &&
	ok "/metrics does not export the rewritten segment (batsim_up 0)" ||
	{ notok "/metrics: $code"; show "$tmp/body"; }
expect 4 "batsimctl show summary on a rewritten header" -- "$CTL" --name $N show summary
has "$tmp/err" "inconsistent|corrupt" "batsimctl says the segment is corrupt"
expect 4 "batsimctl --json show summary on a rewritten header" -- "$CTL" --name $N --json show summary
kill -0 $hpid 2>/dev/null && ok "batsim-httpd survived the rewrite" ||
	{ notok "batsim-httpd died"; show "$tmp/h.log"; }
has "$tmp/h.log" "corrupt" "batsim-httpd logged the corrupt segment"

if poll 10 grep -Eqs "inconsistent|corrupt" "$tmp/watch.out"; then
	ok "batsimctl watch says the segment is corrupt"
else notok "batsimctl watch: no corrupt segment reported"; show "$tmp/watch.out"; fi
kill -0 $wpid 2>/dev/null && ok "batsimctl watch survived the rewrite" ||
	{ notok "batsimctl watch died"; show "$tmp/watch.out"; }
put_u32 24 4 # put it back: a valid segment again
: >"$tmp/watch.out"
if poll 10 grep -qsE "^site( [A-Za-z0-9._-]+)?: tick" "$tmp/watch.out"; then ok "batsimctl watch reads again"
else notok "batsimctl watch does not recover"; show "$tmp/watch.out"; fi
kill $wpid; wait $wpid; st=$?; wpid=
[ "$st" = 0 ] && ok "batsimctl watch ends cleanly" || notok "batsimctl watch exit status $st"
if poll 10 status_is 200 /summary; then ok "header restored: batsim-httpd re-attached (200)"
else notok "header restored: $code, want 200"; show "$tmp/body" "$tmp/h.log"; fi
json 'len(d["racks"]) == 4' "/summary has 4 racks again"
expect 0 "batsimctl show summary after the header is restored" -- "$CTL" --name $N show summary

# cell_offset (offset 112, u64) pointed past the end: never followed
cell_off=$(od -An -tu4 -j112 -N4 "$F" | tr -d ' ')
put_u32 112 4000000000
expect 4 "batsimctl show cell 3 3 7 with cell_offset rewritten" -- "$CTL" --name $N show cell 3 3 7
if poll 10 status_is 503 /rack/3/module/3/cell/7; then ok "/rack/3/module/3/cell/7 with cell_offset rewritten: 503"
else notok "cell with cell_offset rewritten: $code, want 503"; show "$tmp/body"; fi
put_u32 112 "$cell_off" # put it back
if poll 10 status_is 200 /rack/3/module/3/cell/7; then ok "cell_offset restored: 200"
else notok "cell_offset restored: $code"; show "$tmp/body"; fi
kill -0 $dpid 2>/dev/null && ok "batsimd kept running (its geometry is its own copy)" ||
	{ notok "batsimd died"; show "$tmp/d.log"; }

# ---- defect 5: the segment truncated under the daemons ----
size=$(stat -c %s "$F")
truncate -s $((size / 2)) "$F"
st=0
if poll 10 sh -c "! kill -0 $dpid 2>/dev/null"; then
	wait $dpid; st=$?; dpid=
	if [ "$st" = 1 ]; then ok "batsimd exited with status 1 (not a signal)"
	else notok "batsimd exit status $st, want 1"; show "$tmp/d.log"; fi
else
	notok "batsimd still running on a truncated segment"
fi
has "$tmp/d.log" "truncated under batsimd.*batsim-init --force" "batsimd says the segment was truncated and what to do"
if poll 10 status_is 503 /summary; then ok "/summary on a truncated segment: 503"
else notok "/summary on a truncated segment: $code"; show "$tmp/body"; fi
status_is 503 /healthz && ok "/healthz on a truncated segment: 503" ||
	{ notok "/healthz: $code"; show "$tmp/body"; }
status_is 503 /rack/3 && ok "/rack/3 on a truncated segment: 503" ||
	{ notok "/rack/3: $code"; show "$tmp/body"; }
get "$(url /metrics)"
grep -q '^batsim_up 0' "$tmp/body" && ok "/metrics: batsim_up 0" ||
	{ notok "/metrics on a truncated segment"; show "$tmp/body"; }
expect 4 "batsimctl show summary on a truncated segment" -- "$CTL" --name $N show summary
has "$tmp/err" "smaller than its header|truncated" "batsimctl says the segment is truncated"
expect 4 "batsimctl show rack 3 on a truncated segment" -- "$CTL" --name $N show rack 3
kill -0 $hpid 2>/dev/null && ok "batsim-httpd survived the truncation" ||
	{ notok "batsim-httpd died"; show "$tmp/h.log"; }

# a valid segment again: batsim-httpd re-attaches without a restart
"$INIT" --config "$tmp/conf" --force >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init --force"; show "$tmp/init.log"; }
"$BSD" --config "$tmp/conf" 2>"$tmp/d2.log" &
dpid=$!
if poll 10 status_is 200 /summary; then ok "recreated and restarted: /summary 200 again"
else notok "after recreation: $code"; show "$tmp/body" "$tmp/h.log" "$tmp/d2.log"; fi
json 'len(d["racks"]) == 4' "/summary has 4 racks after recreation"
expect 0 "batsimctl show summary after recreation" -- "$CTL" --name $N show summary

kill $hpid; wait $hpid; st=$?; hpid=
[ "$st" = 0 ] && ok "batsim-httpd stops cleanly" || notok "batsim-httpd exit status $st"
kill $dpid; wait $dpid; st=$?; dpid=
[ "$st" = 0 ] && ok "batsimd stops cleanly" || notok "batsimd exit status $st"
finish
