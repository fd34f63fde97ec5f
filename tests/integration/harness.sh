# tests/integration/harness.sh - the common part of the shell tests,
# sourced by tests/integration/{init,ctl,ctl-control,httpd,httpd-batsimd}.sh
# and tests/fuzz/http-fuzz.sh: where the build is, skipping (exit 77) when
# something is missing, a temporary directory removed at exit together with
# the processes and segments the test started, ok/notok lines and their
# count, polling, and the HTTP helpers of the batsim-httpd tests.
#
# A test (two folders below the top) starts with
#   . "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
# and ends with `finish`, whose status is the test's.

b=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
s=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=$(command -v python3 || true)

# need PROGRAM...: skip the test unless every program is built
need() {
	for p; do
		[ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
	done
}
# need_python: skip the test without python3
need_python() {
	[ -n "$PY" ] || { echo "SKIP: python3 (Debian package python3) not installed"; exit 77; }
}

# ---- the temporary directory and what is cleaned up at exit ----
# Under /tmp, not $TMPDIR: control sockets live in it, and a socket path
# has at most 107 bytes.
tmp=$(mktemp -d /tmp/bs-test.XXXXXX) || { echo "cannot create a temporary directory"; exit 1; }
kill_at_exit= shm_at_exit=
# at_exit_kill VAR...: at exit, end the process whose pid VAR holds then
# (the test empties VAR when it has ended the process itself)
at_exit_kill() { kill_at_exit="$kill_at_exit $*"; }
# at_exit_remove NAME...: at exit, remove these segments ("/name")
at_exit_remove() { shm_at_exit="$shm_at_exit $*"; }
# end_process PID: SIGTERM, then SIGKILL if PID has not ended within
# 60 s; reaps it.  SIGCONT comes first, for a process the test stopped
# (kill -STOP): sent after SIGTERM it could land while the process exits
# under LeakSanitizer, whose leak check stops the process with SIGSTOP,
# and SIGCONT discards a pending SIGSTOP: the check then waits forever.
end_process() {
	kill -CONT "$1" 2>/dev/null
	kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return; }
	_i=0
	while [ $_i -lt 600 ] && kill -0 "$1" 2>/dev/null &&
		[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	if [ $_i -ge 600 ]; then
		echo "# process $1 did not end within 60 s of SIGTERM: SIGKILL"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}
cleanup() {
	for v in $kill_at_exit; do
		eval "p=\${$v:-}"
		[ -n "$p" ] || continue
		end_process "$p"
	done
	for n in $shm_at_exit; do rm -f "/dev/shm/${n#/}"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- results ----
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $pass - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
# show FILE...: the files as comment lines (20 at most)
show() { sed 's/^/#   /' "$@" 2>/dev/null | head -20; }
# finish: the count; the test's exit status
finish() {
	echo "# $pass passed, $fail failed"
	[ "$fail" = 0 ]
}

# expect STATUS DESCRIPTION -- COMMAND...: the command exits with STATUS;
# its output is left in $tmp/out and $tmp/err
expect() {
	want=$1 what=$2
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$what (exit $got)"
	else notok "$what: exit $got, want $want"; show "$tmp/out" "$tmp/err"; fi
}
# has FILE REGEX DESCRIPTION: a line of FILE matches (grep -E)
has() {
	if grep -Eq -- "$2" "$1"; then ok "$3"
	else notok "$3: /$2/ not in $1"; show "$1"; fi
}
# json PY-EXPR DESCRIPTION [FILE]: the python expression holds for d, the
# JSON in FILE ($tmp/body by default); skipped without python3
json() {
	f=${3:-$tmp/body}
	if [ -z "$PY" ]; then echo "# no python3: skipped $2"; return; fi
	if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" \
		"$f" 2>"$tmp/pyerr"; then ok "$2"
	else notok "$2: ($1) is false for:"; show "$f" "$tmp/pyerr"; fi
}
# poll N COMMAND...: retry every 0.1 s for at most N seconds
poll() {
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; n=$((n - 1)); sleep 0.1; done
	return 1
}

# ---- HTTP (batsim-httpd on 127.0.0.1:$port) ----
# get [CURL-ARGS...] URL: body in $tmp/body, headers in $tmp/hdr, status
# in $code
get() {
	code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' \
		--max-time 10 "$@" 2>"$tmp/curlerr")
}
url() { echo "http://127.0.0.1:$port$1"; }
status() { # status WANT DESCRIPTION: of the last get
	if [ "$code" = "$1" ]; then ok "$2 ($code)"
	else notok "$2: status $code, want $1"; show "$tmp/body"; fi
}
status_is() { get "$(url "$2")"; [ "$code" = "$1" ]; } # status_is WANT PATH
header() { # header REGEX DESCRIPTION: a header of the last get matches
	if tr -d '\r' <"$tmp/hdr" | grep -Eqi -- "$1"; then ok "$2"
	else notok "$2: /$1/ not in headers"; show "$tmp/hdr"; fi
}
port_of() { # port_of LOGFILE: the port batsim-httpd says it listens on
	sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1" | head -1
}
# wait_port LOGFILE: until the batsim-httpd logging there listens (at most
# 10 s, else the test fails); sets port
wait_port() {
	poll 10 grep -qs 'listening on http://127.0.0.1' "$1" ||
		{ notok "batsim-httpd did not start"; show "$1"; exit 1; }
	port=$(port_of "$1")
}
