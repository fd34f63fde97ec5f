#!/bin/sh
# tests/bench/modbus-load.sh [BUILDDIR] - batsim-modbusd under load: the
# real batsimd (default topology 20x10x32), batsim-modbusd, and 16 clients
# reading the whole 802 model back to back (tests/bench/
# modbus-clients.py).  A benchmark, not a test (figures vary with the
# machine; see docs/PERFORMANCE.md).  CLIENTS and BENCH_SECONDS override the
# defaults (16, 10).
set -e
b=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
s=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/bs-modbus-load.XXXXXX)
N=/bs-modbus-load-$$
dpid= mpid=
trap 'kill $mpid $dpid 2>/dev/null; wait 2>/dev/null; rm -f /dev/shm/${N#/}; rm -rf "$tmp"' EXIT
cat >"$tmp/conf" <<EOC
shm_name = $N
control_socket = $tmp/ctl.sock
modbus_max_connections = 64
EOC
"$b/src/init/batsim-init" --config "$tmp/conf" >/dev/null
"$b/src/batsimd/batsimd" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$b/src/modbusd/batsim-modbusd" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/m.log" &
mpid=$!
for i in $(seq 50); do
	grep -q 'attached to segment' "$tmp/m.log" 2>/dev/null && break
	sleep 0.2
done
port=$(sed -n 's|.*modbus-tcp://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/m.log" | head -1)
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)"
python3 "$s/tests/bench/modbus-clients.py" "$port" "${CLIENTS:-16}" "${BENCH_SECONDS:-10}"
