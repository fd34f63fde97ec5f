#!/bin/sh
# httpd-vs-nginx.sh [BUILDDIR] - GET /rack/0/module/0 from batsim-httpd
# against nginx serving the same bytes as a static file, measured with wrk
# in the same run (a benchmark, not a test: it prints figures and asserts
# nothing; see docs/PERFORMANCE.md, section HTTP).
#
# Starts batsim-init and batsimd (TOPOLOGY, default 20x10x32, the default
# site; 200 ms publish period) and batsim-httpd on a loopback port; fetches
# /rack/0/module/0 once and writes it to a file that nginx (Debian
# nginx-light, configured in a temporary directory, on another loopback
# port, as the current user) serves as /module.json.  Then ROUNDS times
# (default 2), alternately: wrk -t2 -cCONNECTIONS -dSECONDS on each.
# Prints requests/s of each run, the median of each side and the ratio
# httpd / nginx.  Installs nginx-light and wrk with scripts/install-deps
# bench when they are missing (that needs root or sudo).
# Environment: TOPOLOGY, SECONDS_EACH (default 10), CONNECTIONS (64),
# ROUNDS (2), NGINX_WORKERS (default: the number of CPUs, like the pool
# of batsim-httpd).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench-common.sh"
bench_init nginx "${1:-}"
SECONDS_EACH=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
bench_need "$HD" "$BSD" "$INIT"
if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
	"$src/scripts/install-deps" bench ||
		{ echo "cannot install nginx-light and wrk" >&2; exit 1; }
fi
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }

npid=
bench_kill_at_exit npid
bench_conf <<EOF
http_max_connections = 1024
http_max_per_ip = 1024
EOF
bench_start_site
bench_start_httpd
hport=$port
mkdir -p "$tmp/www"
bench_wait_get /rack/0/module/0 "$tmp/www/module.json"

# nginx on a free loopback port: ask the kernel for one, then give it up
# (a race with other programs is possible but unlikely on loopback).
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/nginx"
# the workers run as the current user (as root, nginx would otherwise
# switch them to nobody, who cannot read the temporary directory)
user=
[ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
cat >"$tmp/nginx/nginx.conf" <<EOF
$user
worker_processes $NGINX_WORKERS;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	keepalive_timeout 60;
	open_file_cache max=16;
	types { application/json json; }
	server {
		listen 127.0.0.1:$nport;
		root $tmp/www;
	}
}
EOF
/usr/sbin/nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
npid=$!
i=0
until curl -sf "http://127.0.0.1:$nport/module.json" >"$tmp/n.json" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/nginx/error.log"; exit 1; }; sleep 0.1
done
cmp -s "$tmp/n.json" "$tmp/www/module.json" ||
	{ echo "nginx does not serve the same bytes" >&2; exit 1; }

echo "GET /rack/0/module/0: batsim-httpd (batsimd $TOPOLOGY) vs nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||') on the same $(wc -c <"$tmp/www/module.json") bytes"
bench_machine
echo "wrk -t2 -c$CONNECTIONS -d${SECONDS_EACH}s, $ROUNDS rounds; nginx $NGINX_WORKERS workers, batsim-httpd $(nproc) pool threads"
run() { # run URL -> requests/s
	wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" "$1" >"$tmp/wrk.out" 2>&1
	if grep -q 'Non-2xx' "$tmp/wrk.out"; then
		grep 'Non-2xx' "$tmp/wrk.out" >&2
	fi
	sed -n 's/^Requests\/sec:[[:space:]]*//p' "$tmp/wrk.out"
}
hs= ns=
r=1
while [ $r -le "$ROUNDS" ]; do
	h=$(run "http://127.0.0.1:$hport/rack/0/module/0")
	n=$(run "http://127.0.0.1:$nport/module.json")
	printf 'round %d: batsim-httpd %10.0f req/s   nginx %10.0f req/s   ratio %.2f\n' \
		$r "$h" "$n" "$(echo "$h $n" | awk '{print $1 / $2}')"
	hs="$hs $h" ns="$ns $n"
	r=$((r + 1))
done
med() { echo "$@" | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mh=$(med $hs) mn=$(med $ns)
printf 'median: batsim-httpd %.0f req/s, nginx %.0f req/s, ratio %.2f (target >= 0.5)\n' \
	"$mh" "$mn" "$(echo "$mh $mn" | awk '{print $1 / $2}')"
echo "batsim-httpd threads $(bench_threads $hpid)"
