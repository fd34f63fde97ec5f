#!/bin/sh
# Ageing through the real programs: batsimd at rest (25 degC, 50 % SoC,
# no variation) with dt 60 s, speed 0 and ageing_factor 12: a simulated
# month ages the cells like a year.  The SoH that batsim-httpd serves is
# checked against BLAST-Lite's closed form at the snapshot's own time
# (within 2 % of the loss), and SoH shows in /summary, /rack, the module
# and cell endpoints, /metrics, batsimctl show, and batsimd's --trace.
# Run by `make check` (exit 0 pass, 77 skip, else fail).

. "${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/harness.sh"
HD=$b/src/httpd/batsim-httpd
BSD=$b/src/batsimd/batsimd
INIT=$b/src/init/batsim-init
CTL=$b/src/ctl/batsimctl
need "$HD" "$BSD" "$INIT" "$CTL"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
need_python
[ -n "$PY" ] || { echo "SKIP: python3 not installed"; exit 77; }

N=/bs-test-ageing-$$
dpid= hpid=
at_exit_kill dpid hpid
at_exit_remove $N

cat >"$tmp/conf" <<EOF
shm_name = $N
control_socket = $tmp/ctl.sock
racks = 1
modules_per_rack = 2
cells_per_module = 4
threads = 1
variation = no
rack_thermal_gradient_c = 0
dt_s = 60
speed = 0
ageing_factor = 12
http_stale_ms = 5000
EOF
"$INIT" --config "$tmp/conf" >"$tmp/init.log" 2>&1 ||
	{ notok "batsim-init"; show "$tmp/init.log"; exit 1; }

# --trace: the soh column (a short run, no segment readers needed)
"$BSD" --config "$tmp/conf" --duration 600 --trace 0,0,0 \
	--trace-out "$tmp/trace.csv" 2>"$tmp/t.log" ||
	{ notok "batsimd --trace"; show "$tmp/t.log"; }
has "$tmp/trace.csv" '^time_s,.*,soh$' "--trace header ends with soh"
"$PY" - "$tmp/trace.csv" <<'EOF' && ok "--trace soh column: 1 at start, below 1 after the first minute" || notok "--trace soh values"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
sys.exit(0 if float(rows[0]["soh"]) == 1.0 and 0.99 < float(rows[-1]["soh"]) < 1.0 else 1)
EOF

"$BSD" --config "$tmp/conf" 2>"$tmp/d.log" &
dpid=$!
"$HD" --config "$tmp/conf" --listen 127.0.0.1:0 2>"$tmp/h.log" &
hpid=$!
wait_port "$tmp/h.log"

# a simulated month (a year of ageing at factor 12); batsimd keeps running
# at speed 0 while the checks below read it, so each check uses the time
# of its own snapshot or only the form of the figures
month() {
	get "$(url /summary)"
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['time_s'] >= 30 * 86400 else 1)" "$tmp/body" 2>/dev/null
}
if poll 60 month; then ok "a simulated month passed"
else notok "no simulated month in 60 s"; show "$tmp/body" "$tmp/d.log"; exit 1; fi

# BLAST-Lite lfp_gr_250AhPrismatic_2019, calendar: k_cal t_days^0.526
# (../shared/data/lfp/README.md), at 25 degC and 50 % SoC
"$PY" - "$tmp/body" >"$tmp/ref" 2>&1 <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
x = 8.5e-3 + 0.5 * (0.78 - 8.5e-3)
ua = (0.6379 + 0.5416 * math.exp(-305.5309 * x)
      + 0.044 * math.tanh(-(x - 0.1958) / 0.1088)
      - 0.1978 * math.tanh((x - 1.0571) / 0.0854)
      - 0.6875 * math.tanh((x + 0.0117) / 0.0529)
      - 0.0175 * math.tanh((x - 0.5692) / 0.0875))
t = 298.15
ref = (8.37e4 * math.exp(-5.21e3 / t) * math.exp(-3.56e3 * ua / t)
       * (d["time_s"] * 12 / 86400) ** 0.526)
loss = 1 - d["site"]["soh"] / 100
print("loss %.6g, closed form %.6g (%.3f %%)" % (loss, ref, 100 * abs(loss - ref) / ref))
sys.exit(0 if abs(loss - ref) < 0.02 * ref else 1)
EOF
if [ $? = 0 ]; then ok "/summary: site SoH within 2 % of BLAST's closed form: $(cat "$tmp/ref")"
else notok "/summary: SoH vs closed form"; show "$tmp/ref" "$tmp/body"; fi
json 'd["site"]["soh_min"]["value"] <= d["site"]["soh"] and d["site"]["soh_min"]["rack"] == 0 and 0 <= d["site"]["equivalent_cycles"] < 1e-6 and all(r["soh"] < 100 and r["soh_min"]["module"] < 2 and "equivalent_cycles" in r for r in d["racks"])' \
	"/summary: SoH min with its location, rack SoH, equivalent cycles"
get "$(url '/summary?modules=1')"
json 'all(m["soh"] < 100 and m["soh_min"]["cell"] < 4 and "equivalent_cycles" in m for m in d["racks"][0]["modules"])' \
	"/summary?modules=1: module SoH aggregates"
get "$(url /rack/0)"
json 'all(m["soh"] < 100 and m["soh_min"]["cell"] < 4 and len(m["cells"]) == 4 and all(c["soh"] < 100 and -1 <= c["hysteresis"] <= 1 for c in m["cells"]) for m in d["modules"])' \
	"/rack/0: module SoH aggregates, cell soh and hysteresis"
get "$(url /rack/0/module/1)"
json 'd["soh"] < 100 and all("soh" in c for c in d["cells"])' "/rack/0/module/1: SoH"
get "$(url /rack/0/module/1/cell/3)"
json 'd["soh"] < 100 and "hysteresis" in d' "/rack/0/module/1/cell/3: SoH"
get "$(url /metrics)"
has "$tmp/body" '^batsim_site_soh_mean_ratio 0\.[0-9]+$' "/metrics: site SoH ratio"
has "$tmp/body" '^batsim_rack_soh_min_ratio\{rack="0"\} 0\.[0-9]+$' "/metrics: rack SoH min"
has "$tmp/body" '^# TYPE batsim_site_equivalent_full_cycles_total counter$' \
	"/metrics: equivalent full cycles counter"

expect 0 "batsimctl show summary" -- "$CTL" --name "$N" show summary
has "$tmp/out" 'SoH mean [0-9]+\.[0-9]+ %, min [0-9]+\.[0-9]+ % \(rack 0 module [01] cell [0-3]\)' \
	"batsimctl show summary: SoH line"
expect 0 "batsimctl show rack 0" -- "$CTL" --name "$N" show rack 0
has "$tmp/out" 'SoH mean [0-9]+\.[0-9]+ %' "batsimctl show rack: SoH line"
expect 0 "batsimctl --json show rack 0" -- "$CTL" --name "$N" --json show rack 0
json 'all("soh" in m and all("soh" in c for c in m["cells"]) for m in d["modules"])' \
	"batsimctl --json show rack: SoH per module and cell" "$tmp/out"
finish
