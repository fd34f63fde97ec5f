#!/bin/bash
# tests/pkg/systemd-boot.sh - the packaged units under a real systemd (not
# part of `make check`; optional, run by hand as root: about 2 minutes).
#
# Boots systemd as PID 1 of a container (systemd-nspawn -b, private
# network) whose root is a throw-away overlay of this machine's / (so the
# packages' run-time dependencies must be installed here), with the
# services enabled on this machine disabled in the overlay, then:
#
#  1. apt-get install ./batsim_*.deb ./libbatsim0_*.deb: the postinst
#     creates the users and the token and starts the units;
#  2. checks the four units are active, the segment (batsim:batsim 0640),
#     the socket, /healthz, /summary, GET /control with the token,
#     batsim-modbusd listening on 127.0.0.1:5020 and answering "SunS", and
#     that batsimd is Type=notify with a 30 s watchdog that it feeds;
#  2b. a second site beside the default one: /etc/batsim/siteA.conf and
#     batsimd@siteA, batsim-httpd@siteA, batsim-modbusd@siteA (template
#     units): its own segment, socket in /run/batsim/siteA/, ports 8081
#     and 5021; both servers answer with their own site_name;
#  3. kill -9 batsimd: Restart=on-failure brings it back;
#  4. SIGSTOP batsimd: the watchdog kills and restarts it (35 s);
#  5. systemctl stop batsimd batsim-httpd: the segment stays, state
#     "stopped", the socket is gone, site siteA still answers; then its
#     units stop too and /run/batsim/siteA is gone;
#  6. reboots the container: the enabled units come up by themselves;
#  7. siteA started again, then apt-get remove batsim: the default units
#     and the template instances stop (debian/batsim.prerm); apt-get
#     purge: units gone, files gone, users stay.
#
# Exits 0 (PASS), 1 (FAIL) or 77 (SKIP: not root, no systemd-nspawn, no
# overlayfs, or systemd does not boot here).  Everything it mounts is in a
# private mount namespace; the container and the overlay are removed at
# the end.
#
# Environment:
#   BATSIM_DEB_PREBUILT=DIR   test the .deb files in DIR (else build git
#                             HEAD with dpkg-buildpackage, nocheck)
#   BATSIM_DEB_PROFILES=...   build profiles (default pkg.batsim.nocuda)
#   BATSIM_SYSTEMD_WATCHDOG=0 skip step 4
#   BATSIM_SYSTEMD_KEEP=1     keep the work directory
set -u

name=batsim-systemd-boot
say() { echo "$name: $*"; }
skip() { say "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (mounts, systemd-nspawn)"
for t in systemd-nspawn unshare nsenter dpkg-buildpackage git curl; do
	command -v "$t" >/dev/null 2>&1 ||
		skip "$t not found (systemd-nspawn: apt-get install systemd-container)"
done
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd to boot"

# Re-run in a private mount namespace: the overlay never shows outside.
if [ "${BATSIM_SYSTEMD_NS:-}" != 1 ]; then
	BATSIM_SYSTEMD_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/batsim-systemd.XXXXXX)
chmod 0755 "$work"
machine=batsimtest$$
nspawn_pid=
ok=1

fail() { say "FAIL: $*"; ok=0; }

cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		local l
		l=$(leader)
		[ -n "$l" ] && nsenter -t "$l" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 30); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -TERM "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	umount "$work/ovl/root" 2>/dev/null
	umount "$work/ovl" 2>/dev/null
	if [ "${BATSIM_SYSTEMD_KEEP:-0}" = 1 ]; then
		say "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The container's PID 1 (systemd), child of systemd-nspawn.
leader() { ps --ppid "$nspawn_pid" -o pid= 2>/dev/null | tr -d ' ' | head -1; }
# Run a shell command inside the container.
inside() { nsenter -t "$(leader)" -a sh -c "$1"; }

# ---- packages ---------------------------------------------------------------
debs=$work/debs
mkdir -p "$debs"
if [ -n "${BATSIM_DEB_PREBUILT:-}" ]; then
	cp "$BATSIM_DEB_PREBUILT"/batsim_*.deb "$BATSIM_DEB_PREBUILT"/libbatsim0_*.deb "$debs"/ ||
		{ fail "no batsim_*.deb and libbatsim0_*.deb in $BATSIM_DEB_PREBUILT"; exit 1; }
else
	version=$(sed -n '1s/^batsim (\([^)]*\)).*/\1/p' "$src/debian/changelog")
	tree=$debs/batsim-${version%-*}
	mkdir -p "$tree"
	say "building git HEAD $(git -C "$src" rev-parse --short HEAD) (profiles: ${BATSIM_DEB_PROFILES-pkg.batsim.nocuda})"
	git -C "$src" archive HEAD | tar -x -C "$tree" || { fail "git archive failed"; exit 1; }
	if ! (cd "$tree" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
		DEB_BUILD_PROFILES="${BATSIM_DEB_PROFILES-pkg.batsim.nocuda} nocheck" \
		dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
		tail -20 "$work/build.log"
		fail "dpkg-buildpackage failed (log above)"
		exit 1
	fi
	rm -rf "$tree"
fi

# ---- the container's root: an overlay of / ----------------------------------
mkdir -p "$work/ovl"
mount -t tmpfs -o size=2g tmpfs "$work/ovl" || skip "cannot mount a tmpfs"
mkdir -p "$work/ovl/upper" "$work/ovl/work" "$work/ovl/root"
R=$work/ovl/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/ovl/upper,workdir=$work/ovl/work" "$R" ||
	skip "cannot mount an overlay of / (overlayfs)"
# This machine's enabled services and SysV scripts stay out of the
# container; policy-rc.d (container images) would stop the postinst from
# starting the units, as it does not on a real machine.
rm -f "$R"/etc/systemd/system/*.wants/* "$R"/etc/rc[2-5].d/S* "$R/usr/sbin/policy-rc.d"
dpkg --root="$R" -l batsim 2>/dev/null | grep -q '^ii' &&
	{ fail "batsim is installed on this machine; the container must start without it"; exit 1; }

boot() {
	systemd-nspawn --quiet --register=no --keep-unit -M "$machine" -D "$R" \
		--private-network --tmpfs=/tmp --bind-ro="$debs:/debs" \
		--console=read-only -b >>"$work/console.log" 2>&1 </dev/null &
	nspawn_pid=$!
	local i st
	for i in $(seq 1 60); do
		sleep 1
		kill -0 "$nspawn_pid" 2>/dev/null || break
		[ -n "$(leader)" ] || continue
		st=$(inside 'systemctl is-system-running' 2>/dev/null)
		case $st in running|degraded) return 0 ;; esac
	done
	tail -20 "$work/console.log"
	return 1
}

say "booting systemd in a container"
boot || skip "systemd does not boot in systemd-nspawn here (console above)"
say "systemd $(inside 'systemctl --version | sed -n "1s/^systemd \([0-9]*\).*/\1/p"') booted"

# Property of a unit.
prop() { inside "systemctl show -p $2 --value $1"; }
expect_active() {
	local u s
	for u in "$@"; do
		s=$(inside "systemctl is-active $u")
		[ "$s" = active ] || fail "$u is $s, not active: $(inside "journalctl -b --no-pager -n 5 -u $u")"
	done
}
# batsim-modbusd listens on its default address and answers a read of the
# SunSpec marker (a raw Modbus TCP request, no client library).
wait_modbus() {
	for _ in $(seq 1 20); do
		if inside 'ss -Htln "sport = :5020"' | grep -q '127.0.0.1:5020' &&
			inside "python3 -c 'import socket,struct,sys; s=socket.create_connection((\"127.0.0.1\",5020),timeout=5); s.sendall(struct.pack(\">HHHBBHH\",1,0,6,1,3,40000,2)); r=s.recv(260); sys.exit(0 if r[9:13]==b\"SunS\" else 1)'"; then
			return 0
		fi
		sleep 0.5
	done
	fail "batsim-modbusd does not answer on 127.0.0.1:5020: $(inside 'journalctl -b --no-pager -n 5 -u batsim-modbusd')"
	return 1
}
wait_healthz() {
	local code port=${1:-8080}
	for _ in $(seq 1 20); do
		code=$(inside "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/healthz")
		[ "$code" = 200 ] && return 0
		sleep 0.5
	done
	fail "GET /healthz on port $port answers $code, not 200"
	return 1
}
# site_name in the JSON of http://127.0.0.1:PORT/PATH
site_of() {
	inside "curl -s http://127.0.0.1:$1/$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("site_name"))' 2>/dev/null
}

# ---- 1. install ---------------------------------------------------------------
if ! inside 'cd /debs && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PWD/batsim_*.deb $PWD/libbatsim0_*.deb' >"$work/install.log" 2>&1; then
	tail -20 "$work/install.log"
	fail "apt-get install failed in the container (its run-time dependencies must be installed on this machine: there is no network in there)"
	exit 1
fi
say "installed; the postinst started the units"

# ---- 2. running ---------------------------------------------------------------
expect_active batsim-init batsimd batsim-httpd batsim-modbusd
wait_healthz
wait_modbus
inside 'curl -sf http://127.0.0.1:8080/summary' | grep -q '"tick"' || fail "GET /summary has no tick"
[ "$(inside 'stat -c "%U:%G %a" /dev/shm/batsim')" = "batsim:batsim 640" ] ||
	fail "segment is $(inside 'stat -c "%U:%G %a" /dev/shm/batsim'), not batsim:batsim 640"
[ "$(inside 'stat -c "%U:%G %a" /run/batsim/batsimd.sock')" = "batsim:batsim 660" ] ||
	fail "control socket is $(inside 'stat -c "%U:%G %a" /run/batsim/batsimd.sock'), not batsim:batsim 660"
[ "$(inside 'id -gn batsim-httpd')" = batsim ] || fail "batsim-httpd's group is not batsim"
[ "$(inside 'id -gn batsim-modbusd')" = batsim ] || fail "batsim-modbusd's group is not batsim"
prop batsim-modbusd After | grep -q batsimd.service || fail "batsim-modbusd is not ordered after batsimd"
for _ in $(seq 1 10); do
	inside 'batsimctl status' 2>/dev/null | grep -q '^modbus: *batsim-modbusd up' && break
	sleep 0.5
done
inside 'batsimctl status' 2>/dev/null | grep -q '^modbus: *batsim-modbusd up' ||
	fail "batsim-modbusd does not report to batsimd: $(inside 'batsimctl status 2>&1 | grep modbus')"
code=$(inside 'curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $(cat /etc/batsim/control.token)" http://127.0.0.1:8080/control')
[ "$code" = 200 ] || fail "GET /control with the token answers $code, not 200 (batsim-httpd -> /run/batsim/batsimd.sock)"
[ "$(prop batsimd Type)" = notify ] || fail "batsimd is Type=$(prop batsimd Type), not notify"
[ "$(prop batsimd WatchdogUSec)" = 30s ] || fail "batsimd's watchdog is $(prop batsimd WatchdogUSec), not 30s"
w1=$(prop batsimd WatchdogTimestampMonotonic)
sleep 16
w2=$(prop batsimd WatchdogTimestampMonotonic)
[ "$w2" -gt "$w1" ] 2>/dev/null || fail "batsimd does not feed the watchdog (WatchdogTimestamp stays at $w1)"
say "units active, segment, socket, /healthz, /summary, /control, Modbus, watchdog: checked"

# ---- 2b. a second site on the same host (template units) ---------------------
inside 'cat >/etc/batsim/siteA.conf <<EOF
site_name = siteA
shm_name = /batsim-siteA
control_socket = /run/batsim/siteA/batsimd.sock
http_listen = 127.0.0.1:8081
modbus_listen = 127.0.0.1:5021
http_token_file = /etc/batsim/control.token
racks = 2
modules_per_rack = 3
cells_per_module = 4
EOF'
inside 'systemctl start batsimd@siteA batsim-httpd@siteA batsim-modbusd@siteA' ||
	fail "systemctl start batsimd@siteA batsim-httpd@siteA batsim-modbusd@siteA failed"
expect_active batsim-init@siteA batsimd@siteA batsim-httpd@siteA batsim-modbusd@siteA \
	batsim-init batsimd batsim-httpd batsim-modbusd
wait_healthz 8081
[ "$(inside 'stat -c "%U:%G %a" /dev/shm/batsim-siteA')" = "batsim:batsim 640" ] ||
	fail "siteA's segment is $(inside 'stat -c "%U:%G %a" /dev/shm/batsim-siteA' 2>&1), not batsim:batsim 640"
[ "$(inside 'stat -c "%U:%G %a" /run/batsim/siteA/batsimd.sock')" = "batsim:batsim 660" ] ||
	fail "siteA's control socket is $(inside 'stat -c "%U:%G %a" /run/batsim/siteA/batsimd.sock' 2>&1), not batsim:batsim 660"
[ "$(site_of 8081 healthz)" = siteA ] || fail "/healthz on 8081 says site_name $(site_of 8081 healthz), not siteA"
[ "$(site_of 8081 summary)" = siteA ] || fail "/summary on 8081 says site_name $(site_of 8081 summary), not siteA"
[ "$(site_of 8080 healthz)" = batsim ] || fail "/healthz on 8080 says site_name $(site_of 8080 healthz), not batsim"
[ "$(site_of 8080 summary)" = batsim ] || fail "/summary on 8080 says site_name $(site_of 8080 summary), not batsim"
cells=$(inside 'curl -s http://127.0.0.1:8081/summary' | python3 -c 'import json,sys; print(json.load(sys.stdin)["topology"]["cells"])' 2>/dev/null)
[ "$cells" = 24 ] || fail "siteA's /summary has $cells cells, not 24 (its own segment)"
inside 'batsimctl --config /etc/batsim/siteA.conf status' 2>/dev/null | grep -q '^site: *siteA$' ||
	fail "batsimctl --config /etc/batsim/siteA.conf status does not say site siteA: $(inside 'batsimctl --config /etc/batsim/siteA.conf status 2>&1 | head -3')"
inside 'batsimctl status' 2>/dev/null | grep -q '^site: *batsim$' ||
	fail "batsimctl status does not say site batsim"
code=$(inside 'curl -s -o /dev/null -w %{http_code} -H "Authorization: Bearer $(cat /etc/batsim/control.token)" http://127.0.0.1:8081/control')
[ "$code" = 200 ] || fail "GET /control on 8081 answers $code, not 200 (batsim-httpd@siteA -> /run/batsim/siteA/batsimd.sock)"
inside "python3 -c 'import socket,struct,sys; s=socket.create_connection((\"127.0.0.1\",5021),timeout=5); s.sendall(struct.pack(\">HHHBBHH\",1,0,6,1,3,40000,2)); r=s.recv(260); sys.exit(0 if r[9:13]==b\"SunS\" else 1)'" ||
	fail "batsim-modbusd@siteA does not answer on 127.0.0.1:5021"
say "two sites at once: default and siteA (own segment, socket, ports, site_name): checked"

# ---- 3. crash -> restart ---------------------------------------------------------
pid=$(prop batsimd MainPID)
inside "kill -KILL $pid"
sleep 4
expect_active batsimd
[ "$(prop batsimd NRestarts)" = 1 ] || fail "batsimd restarted $(prop batsimd NRestarts) times after kill -9, not 1"
wait_healthz && say "kill -9 batsimd: restarted by systemd"

# ---- 4. hang -> watchdog -----------------------------------------------------------
if [ "${BATSIM_SYSTEMD_WATCHDOG:-1}" != 0 ]; then
	pid=$(prop batsimd MainPID)
	inside "kill -STOP $pid"
	sleep 36
	[ "$(prop batsimd NRestarts)" = 2 ] ||
		fail "batsimd stopped with SIGSTOP was not restarted by the watchdog after 36 s (NRestarts $(prop batsimd NRestarts))"
	inside 'journalctl -b --no-pager -u batsimd' | grep -q "Failed with result 'watchdog'" ||
		fail "no watchdog failure of batsimd in the journal"
	wait_healthz && say "SIGSTOP batsimd: killed by the watchdog and restarted"
fi

# ---- 5. stop -----------------------------------------------------------------------
inside 'systemctl stop batsimd batsim-httpd batsim-modbusd' || fail "systemctl stop failed"
[ "$(inside 'systemctl is-active batsimd batsim-httpd batsim-modbusd' | sort -u)" = inactive ] ||
	fail "batsimd, batsim-httpd or batsim-modbusd still active after stop"
inside 'test -e /run/batsim/batsimd.sock' && fail "/run/batsim/batsimd.sock still exists after stop"
inside 'batsimctl status' 2>/dev/null | grep -q '^state: *stopped' ||
	fail "the segment's state after stop is not 'stopped': $(inside 'batsimctl status 2>&1 | head -3')"
# the other site is untouched by the default one's stop
expect_active batsimd@siteA batsim-httpd@siteA
[ "$(site_of 8081 healthz)" = siteA ] || fail "siteA's /healthz after the default site stopped: $(site_of 8081 healthz)"
inside 'test -S /run/batsim/siteA/batsimd.sock' || fail "siteA's socket went away with the default site's stop"
inside 'systemctl stop batsimd@siteA batsim-httpd@siteA batsim-modbusd@siteA batsim-init@siteA' ||
	fail "systemctl stop of siteA's units failed"
inside 'test -e /run/batsim/siteA' && fail "/run/batsim/siteA still exists after batsimd@siteA stopped (RuntimeDirectory=)"
say "stop: segment kept with state stopped, socket removed; siteA unaffected, then stopped"

# ---- 6. reboot ---------------------------------------------------------------------
inside 'systemctl poweroff' >/dev/null 2>&1
for _ in $(seq 1 40); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
wait "$nspawn_pid" 2>/dev/null
nspawn_pid=
boot || { fail "the container did not boot again"; exit 1; }
expect_active batsim-init batsimd batsim-httpd batsim-modbusd
wait_healthz && wait_modbus && say "reboot: the enabled units started at boot"

# ---- 7. remove, purge ---------------------------------------------------------------
# removal stops the template instances too (debian/batsim.prerm)
inside 'systemctl start batsimd@siteA batsim-httpd@siteA' ||
	fail "systemctl start batsimd@siteA batsim-httpd@siteA after the reboot failed"
expect_active batsim-init@siteA batsimd@siteA batsim-httpd@siteA
inside 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q batsim' >"$work/remove.log" 2>&1 ||
	{ tail -20 "$work/remove.log"; fail "apt-get remove failed"; }
for u in batsimd@siteA batsim-httpd@siteA batsim-init@siteA batsimd batsim-httpd; do
	st=$(inside "systemctl is-active $u" 2>/dev/null)
	[ "$st" = active ] && fail "$u is still active after apt-get remove batsim"
done
inside 'pgrep -x batsimd || pgrep -x batsim-httpd' >/dev/null &&
	fail "batsimd or batsim-httpd still running after apt-get remove: $(inside 'ps -eo pid,args | grep batsim')"
say "remove: the default site's units and the siteA instances stopped"
# siteA's configuration and segment are the admin's (batsim.conf(5))
inside 'rm -f /etc/batsim/siteA.conf /dev/shm/batsim-siteA'
inside 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q batsim libbatsim0' >"$work/purge.log" 2>&1 ||
	{ tail -20 "$work/purge.log"; fail "apt-get purge failed"; }
left=$(inside 'systemctl list-units --all --no-legend --plain "batsim*"')
[ -z "$left" ] || fail "units still loaded after purge: $left"
for f in /etc/batsim /dev/shm/batsim /run/batsim /lib/systemd/system/batsimd.service \
	/lib/systemd/system/batsim-modbusd.service; do
	inside "test -e $f" && fail "$f still exists after purge"
done
inside 'getent passwd batsim batsim-httpd batsim-modbusd' >/dev/null || fail "the system users were removed (they should stay)"
say "purge: units stopped, files removed, users kept"

if [ "$ok" = 1 ]; then
	echo "PASS: $name (install, run, restart, watchdog, stop, reboot, purge under systemd)"
	exit 0
fi
echo "FAIL: $name (console, build and install logs: BATSIM_SYSTEMD_KEEP=1)"
exit 1
