#!/usr/bin/env python3
"""lab-checks.py BATSIMD TMPDIR SHM: the tests a cell lab runs, on a one-cell
lfp280 site through the real batsimd (--trace of cell 0,0,0, --speed 0),
each compared with its reference figure (docs/MODEL.md has the table):

  hysteresis  rest voltage at 50 % SoC after a discharge from 90 % and
              after a charge from 10 %: gap about 2 H(0.5) (Sony table)
  dcir        10 s DC resistance at 25 degC, 50 % SoC (0.35-0.55 mOhm for
              a 280 Ah cell) and at 10 degC, 10 % SoC on discharge (about
              threefold)
  capacity    charge delivered from 100 % at 0.5 C to the BMS cut-off at
              0 degC and at 25 degC: about 80 % in the cold
  cccv        a 0.5 C charge from 20 % held for 4 h: constant current, a
              taper at the charge cut-off, the end at 100 % SoC and 0 A,
              never above v_max
  derate      no oscillation of the discharge limit at 280 A with
              bms_max_discharge_a = 1000, and at 0 degC, 140 A, a
              2.55/2.50/2.45 V window at dt 1 s and 10 s: the cell never
              reaches the alarm tier, protection never opens

Prints TAP ('ok N - ...') with the measured figures; exit 0 when all pass.
Python's standard library only.
"""
import bisect
import csv
import os
import subprocess
import sys

BATSIMD, TMP, SHM = sys.argv[1], sys.argv[2], sys.argv[3]
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
CHEM = os.path.join(SRC, 'data', 'chemistry')
results = []


def table(name):
    with open(os.path.join(CHEM, name)) as f:
        rows = list(csv.reader(f))[1:]
    return [float(r[0]) for r in rows], [float(r[1]) for r in rows]


def interp(tab, x):
    xs, ys = tab
    k = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
    return ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / (xs[k + 1] - xs[k])


def run(name, duration, extra, profile=None):
    """batsimd on a 1x1x1 lfp280 site; the trace rows as dicts of floats."""
    conf = os.path.join(TMP, name + '.conf')
    trace = os.path.join(TMP, name + '.trace')
    lines = ['shm_name = ' + SHM, 'control_socket = %s/%s.sock' % (TMP, name),
             'backend = cpu', 'threads = 1', 'racks = 1',
             'modules_per_rack = 1', 'cells_per_module = 1',
             'variation = off', 'chemistry = lfp280',
             'rack_thermal_gradient_c = 0']
    if profile:
        path = os.path.join(TMP, name + '.profile')
        with open(path, 'w') as f:
            f.write('time_s,power_w\n')
            for t, p in profile:
                f.write('%r,%r\n' % (t, p))
        lines += ['profile = csv', 'profile_csv = ' + path,
                  'profile_loop = no']
    lines += extra
    with open(conf, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    p = subprocess.run([BATSIMD, '--config', conf, '--speed', '0',
                        '--duration', str(duration), '--trace', '0,0,0',
                        '--trace-out', trace], capture_output=True, text=True)
    try:
        os.unlink('/dev/shm' + SHM)
    except OSError:
        pass
    if p.returncode != 0:
        sys.stdout.write('Bail out! batsimd (%s) exited %d: %s\n' %
                         (name, p.returncode, p.stderr.strip()))
        sys.exit(1)
    with open(trace) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def check(cond, text):
    results.append((bool(cond), text))


def swings(rows, start_i):
    """Reversals of the current's direction of change, both moves > 1 A."""
    n, prev_d = 0, 0.0
    for a, b in zip(rows, rows[1:]):
        if b['time_s'] < start_i:
            continue
        d = b['current'] - a['current']
        if abs(d) > 1.0:
            if prev_d * d < 0:
                n += 1
            prev_d = d
    return n


hyst = table('sony_us26650_hysteresis.csv')
ocv = table('sony_us26650_ocv.csv')

# ---- hysteresis: to 50 % from above and from below, then 2 h of rest
P = 460.0  # W, about 0.5 C
t_half = 0.4 * 280 * 3600 / (P / 3.29)
dn = run('hyst-dn', t_half + 7200, ['initial_soc = 0.9', 'dt_s = 2'],
         [(0, P), (t_half, P), (t_half + 0.5, 0), (t_half + 7200, 0)])
up = run('hyst-up', t_half + 7200, ['initial_soc = 0.1', 'dt_s = 2'],
         [(0, -P), (t_half, -P), (t_half + 0.5, 0), (t_half + 7200, 0)])
a, b = dn[-1], up[-1]
# the two rests end at slightly different SoC: correct by the OCV slope
slope = (interp(ocv, 0.55) - interp(ocv, 0.45)) / 0.1
gap = (b['voltage'] - a['voltage']) - slope * (b['soc'] - a['soc'])
ref = 2 * interp(hyst, 0.5 * (a['soc'] + b['soc']))
check(abs(gap - ref) <= 0.1 * ref and a['hyst'] < -0.99 and b['hyst'] > 0.99,
      'hysteresis: rest gap at soc %.3f/%.3f is %.1f mV, 2 H(0.5) = %.1f mV '
      '(h %.3f / %.3f)' % (a['soc'], b['soc'], 1e3 * gap, 1e3 * ref,
                           a['hyst'], b['hyst']))


# ---- 10 s DCIR: rest 60 s, a 0.5 C pulse of 10 s
def dcir(name, soc, amb):
    rows = run(name, 200, ['initial_soc = %g' % soc, 'ambient_c = %g' % amb,
                           'dt_s = 1'],
               [(0, 0), (60, 0), (60.001, P), (70, P), (70.001, 0),
                (200, 0)])
    k = [i for i, r in enumerate(rows) if r['current'] > 1.0]
    before, last = rows[k[0] - 1], rows[k[-1]]
    return ((before['voltage'] - last['voltage']) / last['current'],
            len(k), last['current'])


r25, n25, i25 = dcir('dcir-25', 0.5, 25)
r10, n10, i10 = dcir('dcir-10', 0.1, 10)
check(n25 == 10 and 0.35e-3 <= r25 <= 0.55e-3,
      'dcir: 10 s DCIR at 25 degC, 50 %% SoC, %.0f A: %.3f mOhm '
      '(0.35-0.55)' % (i25, 1e3 * r25))
check(n10 == 10 and 2.5 <= r10 / r25 <= 5.0,
      'dcir: at 10 degC, 10 %% SoC on discharge: %.3f mOhm, x%.2f of 25 '
      'degC (about x3; Sony table x4.1 at 0-10 %% SoC)' % (1e3 * r10,
                                                           r10 / r25))


# ---- capacity at 0 and 25 degC: 0.5 C from 100 % to the cut-off
def delivered(name, amb):
    rows = run(name, 4 * 3600, ['initial_soc = 1', 'ambient_c = %g' % amb,
                                'mode = current', 'setpoint_a = 140',
                                'dt_s = 1'])
    ah = sum(r['current'] for r in rows[1:]) / 3600.0
    return ah, rows


q25, rows25 = delivered('cap-25', 25)
q0, rows0 = delivered('cap-0', 0)
check(rows25[-1]['current'] == 0 and 0.95 * 280 <= q25 <= 280,
      'capacity: 25 degC delivers %.1f Ah of 280 (%.1f %%) to the cut-off'
      % (q25, 100 * q25 / 280))
check(rows0[-1]['current'] == 0 and 0.75 <= q0 / q25 <= 0.9,
      'capacity: 0 degC delivers %.1f Ah, %.1f %% of 25 degC (reference '
      'about 80 %%; the cell warms itself)' % (q0, 100 * q0 / q25))

# ---- CC-CV charge
rows = run('cccv', 4 * 3600, ['initial_soc = 0.2', 'mode = current',
                              'setpoint_a = -140', 'dt_s = 1'])
ch = [r for r in rows if r['current'] < 0]
cc = sum(1 for r in ch if r['current'] <= -139.999)
last = ch[-1]
vmax = max(r['voltage'] for r in rows)
check(rows[-1]['soc'] >= 0.999 and rows[-1]['current'] == 0 and cc > 0 and
      -last['current'] <= 14.0 * 1.5 and vmax <= 3.65,
      'cccv: %d s at 140 A, taper to %.1f A, end at soc %.5f, 0 A; '
      'highest %.4f V (v_max 3.65)' % (cc, -last['current'],
                                       rows[-1]['soc'], vmax))

# ---- derating: no oscillation, no protection
rows = run('derate-1000', 4 * 3600, ['initial_soc = 0.5', 'mode = current',
                                     'setpoint_a = 280',
                                     'bms_max_discharge_a = 1000',
                                     'dt_s = 1'])
vmin = min(r['voltage'] for r in rows)
check(swings(rows, 0) <= 1 and vmin >= 2.90 and rows[-1]['current'] == 0,
      'derate: 280 A, I_max 1000 A: %d swings, lowest cell %.4f V (alarm '
      '2.90 V)' % (swings(rows, 0), vmin))
for dt in (1, 10):
    rows = run('derate-cold-%d' % dt, 4 * 3600,
               ['initial_soc = 0.5', 'mode = current', 'setpoint_a = 140',
                'ambient_c = 0', 'bms_cell_uv_v = 2.55, 2.50, 2.45',
                'dt_s = %d' % dt])
    vmin = min(r['voltage'] for r in rows)
    check(swings(rows, 0) <= 1 and vmin >= 2.50 and rows[-1]['current'] == 0,
          'derate: 0 degC, 140 A, 2.55/2.50/2.45 V, dt %d s: %d swings, '
          'lowest cell %.4f V (alarm 2.50 V)' % (dt, swings(rows, 0), vmin))

print('1..%d' % len(results))
for n, (good, text) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if good else 'not ok', n, text))
sys.exit(0 if all(g for g, _ in results) else 1)
