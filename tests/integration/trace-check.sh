#!/bin/sh
# tests/integration/trace-check.sh - the model checked against an
# independent integrator: the real batsimd runs one cell (1x1x1, variation
# off, every cell parameter set below) with --trace, and
# tests/integration/trace-check.py integrates the same equations on its own
# (its own OCV interpolation, Arrhenius R0, exact ZOH RC update, coulomb
# count and thermal node) and compares every row: voltage within 10 uV,
# soc 1e-6, temperature 1e-4 K, current 1e-4 A, R0 1e-6 relative.
#   run 1: 0.5 C constant-current discharge for 1 h, dt 10 s (the nmc100
#          OCV table, a second RC pair and an entropic term);
#   run 2: a constant-power discharge for 1 h then 1 h of rest from a CSV
#          profile, dt 5 s (the lfp OCV table);
#   run 3: charging along a power ramp (interpolated), then held, dt 2 s,
#          a negative entropic coefficient, another ambient;
#   run 4: the lfp280 model with its tables (built-in Sony OCV, hysteresis,
#          resistance by SoC, temperature and direction, entropy, capacity
#          by temperature) at 15 degC: discharge, charge, rest, discharge
#          from a power profile, dt 2 s.
set -u

: "${abs_top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_srcdir:=$abs_top_builddir}"
BATSIMD=$abs_top_builddir/src/batsimd/batsimd
CHECK=$abs_top_srcdir/tests/integration/trace-check.py
CHEM=$abs_top_srcdir/data/chemistry

command -v python3 >/dev/null 2>&1 || {
	echo "SKIP: python3 is needed for the independent integrator"
	exit 77
}
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }

tmp=$(mktemp -d /tmp/batsim-trace-check.XXXXXX)
shm=/batsim-test-trace-$$
fails=0
passes=0
cleanup() {
	rm -f "/dev/shm$shm"
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# conf NAME: the common part of a configuration (cell parameters all set)
conf() {
	cat >"$tmp/$1.conf" <<EOF
shm_name = $shm
control_socket = $tmp/batsimd.sock
backend = cpu
threads = 1
racks = 1
modules_per_rack = 1
cells_per_module = 1
variation = off
seed = 1
ambient_c = 25
rack_thermal_gradient_c = 0
# the integrator has no ageing (tests/unit/test_ageing checks that part)
ageing_factor = 0
bms_max_charge_a = 1000
bms_max_discharge_a = 1000
EOF
	cat >>"$tmp/$1.conf"
}

# run NAME DURATION: batsimd with the trace of cell 0,0,0, then the check
run() {
	name=$1
	out=$("$BATSIMD" --config "$tmp/$name.conf" --speed 0 --duration "$2" \
		--trace 0,0,0 --trace-out "$tmp/$name.csv" 2>&1)
	rc=$?
	rm -f "/dev/shm$shm"
	if [ $rc -ne 0 ]; then
		fails=$((fails + 1))
		echo "FAIL - $name: batsimd exited with $rc"
		echo "$out" | sed 's/^/# /'
		return
	fi
	if python3 "$CHECK" "$tmp/$name.conf" "$tmp/$name.csv" \
		>"$tmp/$name.out" 2>&1; then
		passes=$((passes + 1))
		echo "ok - $name: every trace row agrees with the integrator"
	else
		fails=$((fails + 1))
		echo "FAIL - $name: the trace differs from the integrator"
	fi
	sed 's/^/# /' "$tmp/$name.out"
}

conf cc <<EOF
chemistry = nmc100
ocv_csv = $CHEM/ocv_nmc100.csv
capacity_ah = 50
v_min = 3.0
v_max = 4.2
r0_ohm = 0.002
r0_soc_factor = 1.3
ea_j_mol = 25000
r1_ohm = 0.0015
tau1_s = 40
r2_ohm = 0.0005
tau2_s = 400
heat_capacity_j_k = 800
ha_w_k = 1.5
conduction_w_k = 0.5
dudt_v_k = 0.0001
initial_soc = 0.9
dt_s = 10
mode = current
setpoint_a = 25
EOF
run cc 3600

printf '%s\n' 'time_s,power_w' '0,160' '3600,160' '3600.5,0' '7200,0' \
	>"$tmp/profile.csv"
conf rest <<EOF
chemistry = lfp280
ocv_csv = $CHEM/ocv_lfp_breakpoints.csv
capacity_ah = 100
v_min = 2.5
v_max = 3.65
r0_ohm = 0.0008
r0_soc_factor = 1.2
ea_j_mol = 20000
r1_ohm = 0.0012
tau1_s = 60
r2_ohm = 0
tau2_s = 1
heat_capacity_j_k = 2000
ha_w_k = 1.0
conduction_w_k = 0.5
dudt_v_k = 0
initial_soc = 0.8
dt_s = 5
profile = csv
profile_csv = $tmp/profile.csv
profile_loop = no
EOF
run rest 7200

# charging: a power ramp (interpolated between the profile's points),
# then held after the last point; a negative entropic coefficient
printf '%s\n' 'time_s,power_w' '# charge: negative power' '0,-50' \
	'1800,-200' >"$tmp/ramp.csv"
conf charge <<EOF
chemistry = nmc100
ocv_csv = $CHEM/ocv_nmc100.csv
capacity_ah = 100
v_min = 3.0
v_max = 4.2
r0_ohm = 0.001
r0_soc_factor = 1.2
ea_j_mol = 22000
r1_ohm = 0.0008
tau1_s = 25
r2_ohm = 0.0002
tau2_s = 600
heat_capacity_j_k = 1500
ha_w_k = 2.0
conduction_w_k = 0.5
dudt_v_k = -0.0002
initial_soc = 0.2
ambient_c = 22
dt_s = 2
profile = csv
profile_csv = $tmp/ramp.csv
profile_loop = no
EOF
run charge 3600

# lfp280 tables: direction changes, hysteresis both ways, 15 degC
printf '%s\n' 'time_s,power_w' '0,200' '1200,200' '1200.5,-150' '2400,-150' \
	'2400.5,0' '3000,0' '3000.5,100' '3600,100' >"$tmp/hystprof.csv"
conf hyst <<EOF
chemistry = lfp280
capacity_ah = 100
v_min = 2.5
v_max = 3.65
r0_ohm = 0.0005
r0_soc_factor = 1.3
ea_j_mol = 20000
r1_ohm = 0.0004
tau1_s = 30
r2_ohm = 0
tau2_s = 1
heat_capacity_j_k = 1500
ha_w_k = 1.0
conduction_w_k = 0.5
dudt_v_k = 0
initial_soc = 0.6
ambient_c = 15
dt_s = 2
profile = csv
profile_csv = $tmp/hystprof.csv
profile_loop = no
EOF
run hyst 3600

echo "1..$((passes + fails))"
echo "# $passes passed, $fails failed"
[ $fails -eq 0 ]
