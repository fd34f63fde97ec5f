#!/bin/bash
# tests/pkg/deb.sh - the Debian package test (not part of `make check`: it
# builds the whole package and installs it system-wide; run it as root on
# a Debian 12 machine or container, e.g. from scripts/test-all or with
# `make check-deb`).
#
#  1. copies the source tree (git HEAD, or the working tree) to a temporary
#     directory and builds the packages with `dpkg-buildpackage -us -uc -b`;
#  2. runs lintian on them: any E: or W: tag fails;
#  3. installs them with apt, checks users, token file, conffile;
#  4. starts the installed daemons the way the units do, without systemd:
#     reads User=, Group=, UMask= and ExecStart= from the installed unit
#     files, creates /run/batsim with systemd-tmpfiles, runs each command
#     as the unit's user with setpriv (no capabilities, no new privileges),
#     on a free loopback port of its own; curls /healthz and /summary;
#     batsim-modbusd listens (ss) and answers a Modbus read of "SunS";
#  5. stops them, purges the packages and checks that nothing is left
#     (the system users stay: Debian practice, see docs/PACKAGING.md).
#
# Ends with "PASS: ..." or "FAIL: ..." and exits 0, 1, or 77 (skip: not
# root, or a tool missing).
#
# Environment:
#   BATSIM_DEB_TREE=head|worktree  what to build (default: head when the
#                                  source is a git checkout, else the tree)
#   BATSIM_DEB_PROFILES=...        dpkg build profiles, e.g. pkg.batsim.nocuda
#   BATSIM_DEB_CHECK=1             run `make check` inside the package build
#                                  (default nocheck: test-all runs it apart)
#   BATSIM_DEB_KEEP=1              keep the work directory
#   BATSIM_DEB_ALLOW_REPLACE=1     go on when batsim is already installed
#                                  (it will be purged at the end)
#   BATSIM_DEB_PREBUILT=DIR        skip the build: test the .deb and .changes
#                                  files already in DIR
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
name=batsim-deb-test
work=
installed=no
pids=()
ok=1
purged_checked=no

say() { echo "$name: $*"; }
fail() { say "FAIL: $*"; ok=0; }
skip() { say "SKIP: $*"; exit 77; }

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$installed" = yes ] && [ "$purged_checked" = no ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq \
			batsim libbatsim0 libbatsim-dev >/dev/null 2>&1
	fi
	if [ -n "$work" ] && [ "${BATSIM_DEB_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	elif [ -n "$work" ]; then
		say "work directory kept: $work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

finish() {
	if [ "$ok" = 1 ]; then
		echo "PASS: $name (build, lintian, install, run, purge)"
		exit 0
	fi
	echo "FAIL: $name"
	exit 1
}

# ---- prerequisites --------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root (apt-get install, system users); run it as root or in a container"
for t in dpkg-buildpackage lintian apt-get curl setpriv systemd-tmpfiles python3 cc pkg-config; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not found: install it (scripts/install-deps test)"
done
if dpkg-query -W -f='${Status}' batsim 2>/dev/null | grep -q installed &&
	[ "${BATSIM_DEB_ALLOW_REPLACE:-0}" != 1 ]; then
	fail "batsim is already installed here; this test would replace and purge it: remove it (apt-get purge batsim) or set BATSIM_DEB_ALLOW_REPLACE=1"
	finish
fi

work=$(mktemp -d /tmp/batsim-deb.XXXXXX)
chmod 0755 "$work"
version=$(sed -n '1s/^batsim (\([^)]*\)).*/\1/p' "$src/debian/changelog")
upstream=${version%-*}
tree=$work/batsim-$upstream
mkdir -p "$tree"

# ---- 1. build ---------------------------------------------------------------
if [ -n "${BATSIM_DEB_PREBUILT:-}" ]; then
	say "testing the packages already built in $BATSIM_DEB_PREBUILT"
	cp "$BATSIM_DEB_PREBUILT"/*.deb "$BATSIM_DEB_PREBUILT"/*.changes \
		"$BATSIM_DEB_PREBUILT"/*.buildinfo "$work"/ 2>/dev/null
else
	mode=${BATSIM_DEB_TREE:-}
	if [ -z "$mode" ]; then
		if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then mode=head; else mode=worktree; fi
	fi
	case $mode in
	head)
		say "building from git HEAD $(git -C "$src" rev-parse --short HEAD)"
		git -C "$src" archive --format=tar HEAD | tar -x -C "$tree" || { fail "git archive HEAD failed"; finish; }
		;;
	worktree)
		say "building from the working tree $src"
		if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
			(cd "$src" && git ls-files -z --cached --others --exclude-standard |
				xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
				tar --null -T - -cf -) | tar -x -C "$tree"
		else
			tar -C "$src" --exclude='./debian/tmp' --exclude='./debian/.debhelper' -cf - . | tar -x -C "$tree"
		fi
		;;
	*) fail "BATSIM_DEB_TREE must be head or worktree, not '$mode'"; finish ;;
	esac
	[ -f "$tree/debian/rules" ] || { fail "no debian/rules in the copied tree"; finish; }

	opts="parallel=2"
	[ "${BATSIM_DEB_CHECK:-0}" = 1 ] || opts="nocheck $opts"
	profiles=${BATSIM_DEB_PROFILES:-}
	[ "${BATSIM_DEB_CHECK:-0}" = 1 ] || profiles=${profiles:+$profiles,}nocheck
	say "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS='$opts'${profiles:+, profiles $profiles})"
	start=$(date +%s)
	if ! (cd "$tree" && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc -b ${profiles:+-P"$profiles"}) \
		>"$work/build.log" 2>&1; then
		tail -60 "$work/build.log"
		fail "dpkg-buildpackage failed (log above)"
		finish
	fi
	say "built in $(($(date +%s) - start)) s: $(cd "$work" && ls ./*.deb | tr '\n' ' ')"
	grep -E 'CUDA backend:|sd_notify:' "$work/build.log" | sed "s/^/$name: configure:/"
fi
changes=$(ls "$work"/batsim_*.changes 2>/dev/null | head -1)
[ -n "$changes" ] || { fail "no .changes file"; finish; }

# ---- 2. lintian ---------------------------------------------------------------
say "lintian"
lintian --fail-on error,warning --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1
lrc=$?
cat "$work/lintian.log"
if [ $lrc -ne 0 ] || grep -qE '^[EW]: ' "$work/lintian.log"; then
	fail "lintian reports errors or warnings (above)"
fi

# ---- 3. install -----------------------------------------------------------------
deb() { ls "$work/$1"_*.deb 2>/dev/null | head -1; }
say "apt-get install ./batsim ./libbatsim0 ./libbatsim-dev"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	"$(deb batsim)" "$(deb libbatsim0)" "$(deb libbatsim-dev)" >"$work/install.log" 2>&1; then
	tail -40 "$work/install.log"
	fail "apt-get install failed (log above)"
	finish
fi
installed=yes

for u in batsim batsim-httpd batsim-modbusd; do
	getent passwd "$u" >/dev/null || fail "system user $u was not created (sysusers.d)"
done
for u in batsim-httpd batsim-modbusd; do
	[ "$(id -gn $u 2>/dev/null)" = batsim ] ||
		fail "$u's primary group is '$(id -gn $u 2>/dev/null)', expected batsim"
done
token=/etc/batsim/control.token
if [ -f "$token" ]; then
	perm=$(stat -c '%a %U:%G' "$token")
	[ "$perm" = "640 root:batsim" ] || fail "$token is '$perm', expected '640 root:batsim'"
	grep -qE '^[0-9a-f]{64}$' "$token" || fail "$token does not hold 64 hex digits"
	setpriv --reuid=batsim-httpd --regid=batsim --init-groups cat "$token" >/dev/null 2>&1 ||
		fail "user batsim-httpd cannot read $token"
	sum=$(md5sum <"$token")
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$(deb batsim)" >>"$work/install.log" 2>&1 ||
		fail "apt-get install --reinstall failed"
	[ "$(md5sum <"$token")" = "$sum" ] || fail "reinstalling replaced $token (must be created only if absent)"
else
	fail "$token was not created at installation"
fi
dpkg-query -W -f='${Conffiles}\n' batsim | grep -q ' /etc/batsim/batsim.conf ' ||
	fail "/etc/batsim/batsim.conf is not a conffile of batsim"
grep -q '^http_token_file = /etc/batsim/control.token' /etc/batsim/batsim.conf ||
	fail "/etc/batsim/batsim.conf does not point http_token_file at $token"
dpkg -L batsim | grep -q '^/usr/share/batsim/www' || fail "the dashboard is not in /usr/share/batsim/www"
if dpkg-query -W -f='${Depends}\n' batsim | grep -qi cuda; then
	fail "batsim depends on a CUDA package: $(dpkg-query -W -f='${Depends}' batsim)"
fi
# batsim-modbusd links libmodbus, and ${shlibs:Depends} names its package
ldd /usr/sbin/batsim-modbusd 2>/dev/null | grep -q 'libmodbus\.so' ||
	fail "batsim-modbusd does not link libmodbus: $(ldd /usr/sbin/batsim-modbusd 2>&1 | head -3)"
dpkg-query -W -f='${Depends}\n' batsim | grep -q 'libmodbus' ||
	fail "batsim does not depend on libmodbus: $(dpkg-query -W -f='${Depends}' batsim)"
if ldd /usr/sbin/batsimd | grep -qi 'libcuda'; then
	fail "batsimd links a CUDA library dynamically: $(ldd /usr/sbin/batsimd | grep -i cuda)"
fi

# The installed units: systemd-analyze verify checks the syntax, that the
# ExecStart= programs exist and that every Documentation=man: page opens.
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify /lib/systemd/system/batsim-init.service \
		/lib/systemd/system/batsimd.service /lib/systemd/system/batsim-httpd.service \
		/lib/systemd/system/batsim-modbusd.service \
		/lib/systemd/system/batsim-init@.service /lib/systemd/system/batsimd@.service \
		/lib/systemd/system/batsim-httpd@.service \
		/lib/systemd/system/batsim-modbusd@.service 2>&1)
	if [ -n "$out" ]; then
		echo "$out"
		fail "systemd-analyze verify reports problems in the installed units (above)"
	else
		say "systemd-analyze verify: the installed units are clean"
	fi
fi

# libbatsim-dev: compile and run a reader against the installed library.
cat >"$work/reader.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <batsim/batsim.h>
int main(void)
{
	bs_reader *r = NULL;
	int rc = bs_reader_open("/batsim-deb-test-absent", &r);
	printf("%s %s\n", bs_version(), bs_strerror(rc));
	return rc == -BS_ENOENT && strlen(bs_version()) > 0 ? 0 : 1;
}
EOF
if cc -o "$work/reader" "$work/reader.c" $(pkg-config --cflags --libs batsim) 2>"$work/cc.log"; then
	out=$("$work/reader") || fail "a program linked with the installed libbatsim failed: $out"
	say "libbatsim-dev: compiled and ran a reader ($out)"
else
	cat "$work/cc.log"
	fail "cannot compile against libbatsim-dev (pkg-config batsim)"
fi

# ---- 4. run the daemons the way the units do --------------------------------------
unitdir=/lib/systemd/system
unit_key() { # unit key: value of the last "key=" line
	sed -n "s/^$2=//p" "$unitdir/$1.service" | tail -1
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mbport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Our own configuration: the installed one, then the keys this test needs
# to stay apart from a site running on this machine (later keys win).
# A segment named like the default when none exists, so that purge is
# seen to remove it; else a name of our own.
shm=/batsim
[ -e /dev/shm/batsim ] && shm=/batsim-deb-test-$$
conf=$work/batsim.conf
{
	cat /etc/batsim/batsim.conf
	echo "# added by tests/pkg/deb.sh"
	echo "shm_name = $shm"
	echo "control_socket = /run/batsim/deb-test-$$.sock"
	echo "http_listen = 127.0.0.1:$port"
	echo "modbus_listen = 127.0.0.1:$mbport"
} >"$conf"
chmod 0644 "$conf"

systemd-tmpfiles --create /usr/lib/tmpfiles.d/batsim.conf ||
	fail "systemd-tmpfiles --create batsim.conf failed"
[ "$(stat -c '%a %U:%G' /run/batsim 2>/dev/null)" = "750 batsim:batsim" ] ||
	fail "/run/batsim is '$(stat -c '%a %U:%G' /run/batsim 2>/dev/null)', expected '750 batsim:batsim'"

# run_unit UNIT [bg]: run its ExecStart= as its User=/Group= with its UMask=.
run_unit() {
	local unit=$1 cmd user group umask
	cmd=$(unit_key "$unit" ExecStart)
	user=$(unit_key "$unit" User)
	group=$(unit_key "$unit" Group)
	umask=$(unit_key "$unit" UMask)
	case $cmd in
	*"--config /etc/batsim/batsim.conf"*) ;;
	*) fail "$unit.service: ExecStart= does not pass --config /etc/batsim/batsim.conf: $cmd"; return 1 ;;
	esac
	cmd=${cmd/--config \/etc\/batsim\/batsim.conf/--config $conf}
	say "$unit: as $user:$group umask ${umask:-0022}: $cmd"
	if [ "${2:-}" = bg ]; then
		setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
			--inh-caps=-all --bounding-set=-all -- \
			/bin/sh -c "umask ${umask:-0022}; exec $cmd" >"$work/$unit.log" 2>&1 &
		pids+=($!)
		eval "pid_${unit//-/_}=$!"
	else
		setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
			--inh-caps=-all --bounding-set=-all -- \
			/bin/sh -c "umask ${umask:-0022}; exec $cmd" >"$work/$unit.log" 2>&1
	fi
}

pid_batsimd=
pid_batsim_httpd=
pid_batsim_modbusd=
if run_unit batsim-init; then
	seg=/dev/shm${shm}
	[ "$(stat -c '%a %U:%G' "$seg" 2>/dev/null)" = "640 batsim:batsim" ] ||
		fail "segment $seg is '$(stat -c '%a %U:%G' "$seg" 2>/dev/null)', expected '640 batsim:batsim'"
	run_unit batsimd bg
	run_unit batsim-httpd bg
	run_unit batsim-modbusd bg
else
	cat "$work/batsim-init.log"
	fail "batsim-init (batsim-init.service's ExecStart) failed"
fi

if [ -n "$pid_batsimd" ] && [ -n "$pid_batsim_httpd" ] && [ -n "$pid_batsim_modbusd" ]; then
	url=http://127.0.0.1:$port
	live=no
	for _ in $(seq 1 60); do
		if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then live=yes; break; fi
		kill -0 "$pid_batsimd" 2>/dev/null || break
		kill -0 "$pid_batsim_httpd" 2>/dev/null || break
		sleep 0.5
	done
	if [ $live = yes ]; then
		health=$(curl -fsS "$url/healthz")
		summary=$(curl -fsS "$url/summary") || fail "GET /summary failed"
		say "GET /healthz: $health"
		say "GET /summary: ${summary:0:160}..."
		python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d, dict) and d' \
			"$summary" 2>/dev/null || fail "GET /summary is not a JSON object"
		[ -S "/run/batsim/deb-test-$$.sock" ] || fail "batsimd's control socket is not in /run/batsim"
		# Control through the httpd: it reads the installed token (group
		# batsim) and connects to batsimd's socket (group batsim, umask
		# 0007), as it will under systemd.
		code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d '{"value":30}' "$url/control/ambient")
		[ "$code" = 401 ] || fail "POST /control/ambient without the token answered $code, expected 401"
		reply=$(curl -sS -w ' HTTP %{http_code}' -X POST -d '{"value":30}' \
			-H "Authorization: Bearer $(cat "$token")" "$url/control/ambient")
		say "POST /control/ambient with the token: $reply"
		case $reply in
		*"HTTP 200") ;;
		*) fail "POST /control/ambient with the installed token failed: $reply" ;;
		esac
	else
		fail "$url/healthz did not answer 200 within 30 s"
	fi
	# batsim-modbusd: listening on its port, answering a read of the
	# SunSpec marker at 40000 (a raw Modbus TCP request: no client
	# library), and reporting to batsimd through the control socket
	listening=no
	for _ in $(seq 1 60); do
		if ss -Htln "sport = :$mbport" | grep -q "127.0.0.1:$mbport"; then listening=yes; break; fi
		kill -0 "$pid_batsim_modbusd" 2>/dev/null || break
		sleep 0.5
	done
	if [ $listening = yes ]; then
		say "batsim-modbusd listens on 127.0.0.1:$mbport"
		python3 - "$mbport" <<'EOF' || fail "batsim-modbusd did not answer \"SunS\" at register 40000 of unit 1"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
# read holding registers 40000-40001 of unit 1
s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 40000, 2))
r = s.recv(260)
sys.exit(0 if len(r) >= 13 and r[7] == 3 and r[9:13] == b"SunS" else 1)
EOF
		mbline=
		for _ in $(seq 1 20); do
			mbline=$(batsimctl --config "$conf" status 2>/dev/null | grep '^modbus:')
			case $mbline in *"batsim-modbusd up"*) break ;; esac
			sleep 0.5
		done
		case $mbline in
		*"batsim-modbusd up"*) say "batsimctl status: $mbline" ;;
		*) fail "batsim-modbusd does not report to batsimd (batsimctl status: '$mbline')" ;;
		esac
	else
		fail "batsim-modbusd does not listen on 127.0.0.1:$mbport"
	fi
	for u in batsimd batsim-httpd batsim-modbusd; do
		if ! kill -0 "$(eval echo \$pid_${u//-/_})" 2>/dev/null; then
			fail "$u exited early; its log:"
			cat "$work/$u.log"
		fi
	done
	# Stop as systemd does (SIGTERM) and expect a clean exit.
	for u in batsim-modbusd batsim-httpd batsimd; do
		p=$(eval echo \$pid_${u//-/_})
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
		if kill -0 "$p" 2>/dev/null; then
			fail "$u did not stop within 10 s of SIGTERM"
			kill -KILL "$p" 2>/dev/null
		fi
		wait "$p"
		rc=$?
		[ $rc = 0 ] || { fail "$u exited with status $rc after SIGTERM; its log:"; tail -20 "$work/$u.log"; }
	done
	pids=()
fi
if [ "$shm" != /batsim ]; then
	setpriv --reuid=batsim --regid=batsim --init-groups /usr/sbin/batsim-init --remove --name "$shm" ||
		fail "batsim-init --remove --name $shm failed"
fi

# ---- 5. purge and look for leftovers ------------------------------------------------
say "apt-get purge batsim libbatsim0 libbatsim-dev"
if ! DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq batsim libbatsim0 libbatsim-dev \
	>"$work/purge.log" 2>&1; then
	tail -40 "$work/purge.log"
	fail "apt-get purge failed"
fi
purged_checked=yes
for p in batsim libbatsim0 libbatsim-dev; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
	case $st in "" | "un "*) ;; *) fail "$p is still known to dpkg after purge ($st)" ;; esac
done
left=
for f in /etc/batsim /usr/share/batsim /usr/share/doc/batsim /dev/shm/batsim /run/batsim \
	/usr/sbin/batsimd /usr/sbin/batsim-httpd /usr/sbin/batsim-init /usr/bin/batsimctl \
	/usr/sbin/batsim-modbusd /lib/systemd/system/batsim-modbusd.service \
	/lib/systemd/system/batsimd.service /lib/systemd/system/batsim-httpd.service \
	/lib/systemd/system/batsim-init.service /usr/lib/sysusers.d/batsim.conf \
	/lib/systemd/system/batsimd@.service /lib/systemd/system/batsim-httpd@.service \
	/lib/systemd/system/batsim-init@.service /lib/systemd/system/batsim-modbusd@.service \
	/usr/lib/tmpfiles.d/batsim.conf /usr/include/batsim; do
	[ -e "$f" ] && left="$left $f"
done
left="$left $(ls -d /usr/lib/*/libbatsim.so* /usr/lib/*/pkgconfig/batsim.pc 2>/dev/null | tr '\n' ' ')"
left=$(echo $left)
[ -z "$left" ] || fail "left behind after purge: $left"
# The system users stay on purge (Debian practice); say so.
getent passwd batsim >/dev/null && say "after purge: system users batsim, batsim-httpd and batsim-modbusd remain (by design)"

finish
