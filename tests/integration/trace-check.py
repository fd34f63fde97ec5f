#!/usr/bin/env python3
"""trace-check.py CONF TRACE: check a batsimd --trace against an
independent integration of the same cell model (docs/MODEL.md).

batsimd ran with the configuration CONF (one rack of one cell, variation
off, every cell parameter set in CONF) and wrote TRACE (--trace 0,0,0).
This script integrates the first-order Thevenin cell (with the optional
second RC pair) and its lumped thermal node on its own, in double
precision, with Python's standard library only:

  - OCV(soc): its own linear interpolation of the ocv_csv table of CONF
    (bisect; without ocv_csv, every other point of the Sony table in
    data/chemistry, as the lfp280 preset), plus the hysteresis H(soc) h and
    the entropic term dU/dT(soc) * (T - 25);
  - R0 = r0 * rho, R1 = r1 * rho with, for nmc100,
      rho = (1 + (r0_soc_factor - 1) * (2 soc - 1)^2)
            * exp(Ea/R * (1/T_K - 1/298.15))   (soc clamped to 0..1),
    and for lfp280 rho from data/chemistry/sony_us26650_rint.csv (charge or
    discharge columns by the sign of the setpoint, held when it is 0) as
    R / R(discharge, 50 %, 25 degC): ln rho bilinear in soc and 1/T_K,
    held at the soc ends, extended linearly in 1/T_K beyond the columns,
    T kept in -40..80 degC;
  - lfp280 only: the one-state hysteresis h' = k h + (1 - k)(-sgn I),
    k = exp(-50 |I| dt / Q(T)), H(soc) from sony_us26650_hysteresis.csv,
    dU/dT(soc) from sony_us26650_entropy.csv (plus dudt_v_k), and the
    capacity Q(T) = Q f(T), f 0.6 / 0.8 / 1.0 at -20 / 0 / 25 degC (linear,
    held outside);
  - the exact zero-order-hold RC update i1' = a1 i1 + (1 - a1) I,
    a1 = exp(-dt / tau1);
  - coulomb counting: soc = soc0 - fsum(I dt / f(T)) / Q (math.fsum: exact
    sum); the trace shows it clamped to 0..1 like the segment;
  - heat P = I^2 R0 + R1 i1'^2 + R2 i2'^2 - I (T + 273.15) dU/dT, and the
    exact exponential step of the node towards T_air + P/hA;
  - the input: a constant current (mode = current), or a CSV power profile
    (profile = csv, linear interpolation, the last value held), for which
    the cell current solves P = V I with V = E - Reff I (upper root).

The discretisation is the one docs/MODEL.md documents: each step holds
the current over dt; the terminal voltage reported after step k is
E(state_k) - Reff(state_k) * I_k with E = OCV(soc_k) + dU/dT (T_k - 25)
- R1 a1 i1_k - R2 a2 i2_k and Reff = R0(soc_k, T_k) + R1 (1 - a1)
+ R2 (1 - a2), i.e. OCV - R1 i1' - R2 i2' - R0 I; the row of time 0 is
the state before the first step with the current of the first step.

Every row is compared.  Tolerances (the trace holds float32 values, whose
rounding is below a tenth of each of these):
  time 1e-9 s, voltage 1e-5 V, current 1e-4 A, temperature 1e-4 K,
  soc 1e-6, hyst 1e-6, resistance 1e-6 relative.
Exit 0 when every row agrees, 1 otherwise (the first differences are
printed), 2 on a usage or input error.
"""
import bisect
import csv
import math
import os
import sys

R_GAS = 8.314462618  # J/(mol K)
KELVIN = 273.15

TOL = {
    'time_s': 1e-9,
    'voltage': 1e-5,
    'current': 1e-4,
    'temperature': 1e-4,
    'soc': 1e-6,
    'hyst': 1e-6,
}
CHEM = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                    'data', 'chemistry')
TOL_R_REL = 1e-6


def die(msg):
    sys.stderr.write('trace-check: %s\n' % msg)
    sys.exit(2)


def read_conf(path):
    conf = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition('=')
            if not sep:
                die('%s: not a key = value line: %r' % (path, line))
            conf[key.strip()] = value.strip()
    return conf


def read_pairs(path):
    """Rows of two numbers after a header line ('#' comments allowed)."""
    xs, ys = [], []
    with open(path) as f:
        for n, line in enumerate(f):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            a, b = line.split(',')[:2]
            try:
                xs.append(float(a))
                ys.append(float(b))
            except ValueError:
                if n == 0 or not xs:
                    continue  # the header
                die('%s: bad line %r' % (path, line))
    return xs, ys


class Interp:
    """Piecewise linear y(x); outside, the end segments extended."""

    def __init__(self, xs, ys):
        if len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:])):
            die('a table needs 2 or more increasing points')
        self.xs, self.ys = xs, ys

    def __call__(self, x):
        xs, ys = self.xs, self.ys
        k = bisect.bisect_right(xs, x) - 1
        k = min(max(k, 0), len(xs) - 2)
        return ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / (xs[k + 1] - xs[k])


def held(table, x):
    """Linear interpolation, the end values held outside."""
    xs, ys = table
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    k = bisect.bisect_right(xs, x) - 1
    return ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / (xs[k + 1] - xs[k])


class Rtable:
    """ln(R / R_ref) over soc rows and 1/T columns, both directions."""

    def __init__(self, path):
        with open(path) as f:
            rows = list(csv.reader(f))
        head, rows = rows[0], rows[1:]
        self.soc = [float(r[0]) for r in rows]
        cols = {'dis': [], 'chg': []}
        temps = []
        for j, name in enumerate(head):
            if name.startswith('R_DCh(T='):
                cols['dis'].append(j)
                temps.append(float(name[8:-1]))
            elif name.startswith('R_Ch(T='):
                cols['chg'].append(j)
        ref = float(rows[self.soc.index(0.5)][cols['dis'][temps.index(25)]])
        self.u = [1.0 / (t + KELVIN) for t in temps]  # decreasing
        self.ln = {d: [[math.log(float(r[j]) / ref) for j in cols[d]]
                       for r in rows] for d in cols}

    def rho(self, soc, t_c, charging):
        tk = min(max(t_c + KELVIN, KELVIN - 40.0), KELVIN + 80.0)
        u = 1.0 / tk
        tab = self.ln['chg' if charging else 'dis']
        # column pair: the one holding u, else the end pair (extended)
        j = 0
        while j + 2 < len(self.u) and u <= self.u[j + 1]:
            j += 1
        fu = (u - self.u[j]) / (self.u[j + 1] - self.u[j])
        # soc row pair, held at the ends
        if soc >= self.soc[-1]:
            i, fs = len(self.soc) - 2, 1.0
        elif soc <= self.soc[0]:
            i, fs = 0, 0.0
        else:
            i = bisect.bisect_right(self.soc, soc) - 1
            i = min(i, len(self.soc) - 2)
            fs = (soc - self.soc[i]) / (self.soc[i + 1] - self.soc[i])

        def at(r):
            return tab[r][j] + (tab[r][j + 1] - tab[r][j]) * fu
        a, b = at(i), at(i + 1)
        return math.exp(a + (b - a) * fs)


class Cell:
    def __init__(self, conf):
        def num(key):
            if key not in conf:
                die('the configuration must set %s explicitly' % key)
            return float(conf[key])

        self.dt = num('dt_s')
        self.q_c = num('capacity_ah') * 3600.0
        self.r0_ref = num('r0_ohm')
        self.r0_k = num('r0_soc_factor') - 1.0
        self.ea_r = num('ea_j_mol') / R_GAS
        self.r1, tau1 = num('r1_ohm'), num('tau1_s')
        self.r2, tau2 = num('r2_ohm'), num('tau2_s')
        self.a1 = math.exp(-self.dt / tau1) if self.r1 > 0 else 0.0
        self.a2 = math.exp(-self.dt / tau2) if self.r2 > 0 else 0.0
        self.cth = num('heat_capacity_j_k')
        self.ha = num('ha_w_k')
        self.dudt = num('dudt_v_k')
        self.t_air = num('ambient_c')
        self.lfp = conf.get('chemistry') == 'lfp280'
        if 'ocv_csv' in conf:
            self.ocv = Interp(*read_pairs(conf['ocv_csv']))
        else:
            xs, ys = read_pairs(os.path.join(CHEM, 'sony_us26650_ocv.csv'))
            self.ocv = Interp(xs[::2], ys[::2])
        if self.lfp:
            self.rtab = Rtable(os.path.join(CHEM, 'sony_us26650_rint.csv'))
            self.hyst = read_pairs(os.path.join(CHEM,
                                                'sony_us26650_hysteresis.csv'))
            self.ent = read_pairs(os.path.join(CHEM,
                                               'sony_us26650_entropy.csv'))
            self.capf = ([-20.0, 0.0, 25.0], [0.6, 0.8, 1.0])
            self.gamma = 50.0
        self.h = 0.0
        self.charging = False
        # state
        self.soc0 = num('initial_soc')
        self.charge = []  # I*dt of every step (coulombs)
        self.soc = self.soc0
        self.i1 = self.i2 = 0.0
        self.t = self.t_air

    def rho(self, soc, t_c):
        if self.lfp:
            return self.rtab.rho(soc, t_c, self.charging)
        x = min(max(soc, 0.0), 1.0)
        tk = min(max(t_c + KELVIN, KELVIN - 40.0), KELVIN + 80.0)
        return ((1.0 + self.r0_k * (2.0 * x - 1.0) ** 2) *
                math.exp(self.ea_r * (1.0 / tk - 1.0 / (25.0 + KELVIN))))

    def r0(self, soc, t_c):
        return self.r0_ref * self.rho(soc, t_c)

    def dudt_at(self, soc):
        return self.dudt + (held(self.ent, soc) if self.lfp else 0.0)

    def capf_at(self, t_c):
        return held(self.capf, t_c) if self.lfp else 1.0

    def thevenin(self):
        """(E, Reff, R0, R1) of the present state for the coming step."""
        rho = self.rho(self.soc, self.t)
        r0, r1 = self.r0_ref * rho, self.r1 * rho
        hy = held(self.hyst, self.soc) * self.h if self.lfp else 0.0
        e = (self.ocv(self.soc) + hy +
             self.dudt_at(self.soc) * (self.t - 25.0) -
             r1 * self.a1 * self.i1 - self.r2 * self.a2 * self.i2)
        reff = r0 + r1 * (1.0 - self.a1) + self.r2 * (1.0 - self.a2)
        return e, reff, r0, r1

    def set_direction(self, value):
        """The resistances of the step follow the setpoint's sign."""
        if value < 0:
            self.charging = True
        elif value > 0:
            self.charging = False

    def current_for(self, mode, value):
        self.set_direction(value)
        e, reff, _, _ = self.thevenin()
        if mode == 'current':
            return value
        # P = V I, V = E - Reff I: the root near open circuit
        disc = e * e - 4.0 * reff * value
        v = 0.5 * (e + math.sqrt(max(disc, 0.0)))
        return (e - v) / reff

    def step(self, current):
        """Advance dt with the current held; the terminal voltage."""
        e, reff, r0, r1 = self.thevenin()
        v = e - reff * current
        i1 = self.a1 * self.i1 + (1.0 - self.a1) * current
        i2 = self.a2 * self.i2 + (1.0 - self.a2) * current
        f = self.capf_at(self.t)
        if self.lfp and current != 0.0:
            k = math.exp(-self.gamma * abs(current) * self.dt /
                         (self.q_c * f))
            self.h = k * self.h + (1.0 - k) * (-1.0 if current > 0 else 1.0)
        heat = (current * current * r0 + r1 * i1 * i1 +
                self.r2 * i2 * i2 -
                current * (self.t + KELVIN) * self.dudt_at(self.soc))
        t_inf = self.t_air + heat / self.ha
        self.t = t_inf + (self.t - t_inf) * math.exp(-self.dt * self.ha /
                                                     self.cth)
        self.i1, self.i2 = i1, i2
        self.charge.append(current * self.dt / f)
        self.soc = self.soc0 - math.fsum(self.charge) / self.q_c
        return v


def main():
    if len(sys.argv) != 3:
        die('usage: trace-check.py CONF TRACE')
    conf = read_conf(sys.argv[1])
    for key, want in (('racks', '1'), ('modules_per_rack', '1'),
                      ('cells_per_module', '1'), ('variation', 'off')):
        if conf.get(key) != want:
            die('the configuration must set %s = %s' % (key, want))
    cell = Cell(conf)
    mode = conf.get('mode', 'power')
    profile = conf.get('profile', 'none')
    if profile == 'csv':
        if conf.get('profile_loop') != 'no':
            die('set profile_loop = no (a looped profile is not modelled '
                'here)')
        pts = Interp(*read_pairs(conf['profile_csv']))
        scale = float(conf.get('profile_scale', '1'))

        def setpoint(t):
            # linear inside, the end values held outside
            if t <= pts.xs[0]:
                return 'power', scale * pts.ys[0]
            if t >= pts.xs[-1]:
                return 'power', scale * pts.ys[-1]
            return 'power', scale * pts(t)
    elif profile == 'none':
        key = 'setpoint_a' if mode == 'current' else 'setpoint_w'
        value = float(conf[key])

        def setpoint(t):
            return mode, value
    else:
        die('profile %s is not modelled here' % profile)

    with open(sys.argv[2]) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        die('%s: no rows' % sys.argv[2])

    worst = dict.fromkeys(list(TOL) + ['resistance'], 0.0)
    bad = 0
    current = cell.current_for(*setpoint(0.0))
    # row 0: the state before the first step, the voltage the first
    # step's current gives (what batsimd publishes at tick 0)
    e, reff, r0, _ = cell.thevenin()
    want = {'time_s': 0.0, 'voltage': e - reff * current,
            'current': current, 'temperature': cell.t, 'soc': cell.soc,
            'hyst': cell.h}
    for n, row in enumerate(rows):
        if n > 0:
            t_start = (n - 1) * cell.dt
            current = cell.current_for(*setpoint(t_start))
            v = cell.step(current)
            want = {'time_s': n * cell.dt, 'voltage': v, 'current': current,
                    'temperature': cell.t, 'soc': cell.soc, 'hyst': cell.h}
            r0 = cell.r0(cell.soc, cell.t)
        want['soc'] = min(max(want['soc'], 0.0), 1.0)
        for key, tol in TOL.items():
            d = abs(float(row[key]) - want[key])
            worst[key] = max(worst[key], d)
            if not d <= tol:
                bad += 1
                if bad <= 10:
                    print('row %d (t = %s s): %s %s, expected %.9g '
                          '(|d| = %.3g > %g)' % (n, row['time_s'], key,
                                                 row[key], want[key], d,
                                                 tol))
        d = abs(float(row['resistance']) - r0) / r0
        worst['resistance'] = max(worst['resistance'], d)
        if not d <= TOL_R_REL:
            bad += 1
            if bad <= 10:
                print('row %d: resistance %s, expected %.9g' %
                      (n, row['resistance'], r0))
    print('%d rows; largest differences: %s' % (len(rows), ', '.join(
        '%s %.3g%s' % (k, v, ' (relative)' if k == 'resistance' else '')
        for k, v in worst.items())))
    print('end: soc %.6f, voltage %.4f V, temperature %.3f degC, h %.4f' %
          (cell.soc, want['voltage'], cell.t, cell.h))
    if bad:
        print('%d values differ beyond the tolerances' % bad)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
