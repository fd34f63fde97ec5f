/*
 * model.h - THE per-cell step of batsimd, written once.
 *
 * Static inline functions that compile as C (gnu11) for the CPU backend
 * and as CUDA C++ for the GPU backend, so both backends compute the same
 * thing.  No libc calls besides <math.h>; no allocation; no globals.
 *
 * Model (docs/MODEL.md has the derivation and the sources):
 *   first-order Thevenin cell (R0 + R1||C1, optional R2||C2) with an exact
 *   zero-order-hold update; OCV(x) by linear interpolation of a table plus
 *   a one-state hysteresis (Plett): OCV = OCV_mean(soc) + H(soc)*h, where h
 *   relaxes towards -1 on discharge and +1 on charge with the charge passed,
 *   h' = exp(-gamma |I| dt / Q) h + (1 - that) (-sgn I), exact for a held
 *   current; R0 and R1 (x, T, direction) either from a table of ln(R/R_ref)
 *   over SoC x 1/T (bilinear, Arrhenius-like between the columns) or from
 *   an Arrhenius law times a quadratic SoC factor; the capacity available
 *   at temperature T is f(T) of the nominal one (soc is the fraction of
 *   the capacity available at the cell's temperature: d soc = -I dt /
 *   (f(T) Q), T at the start of the step, summed exactly); an entropic
 *   coefficient dU/dT(soc) moves the OCV with T
 *   and gives the reversible heat -I T dU/dT; exact (compensated) charge
 *   accounting, a lumped thermal node per cell with an exact exponential
 *   update towards its equilibrium, conduction to the neighbour cells of
 *   the module, and an optional internal leak (short).
 *
 * Sign convention: current > 0 is discharge.
 *
 * The step of one cell over dt with a rack current I held constant (ZOH):
 *   i1' = a1*i1 + (1-a1)*I            a1 = exp(-dt/tau1)
 * OCV, H*h and the resistances are taken at the state at the start of the
 * step (with R0, R1 of the step's direction, which the engine fixes before
 * it solves the bus), so the terminal voltage at the end of the step is
 * affine in I:
 *   V = [OCV + H*h - R1*a1*i1 - R2*a2*i2] - [R0 + R1*(1-a1) + R2*(1-a2)]*I
 *     =  E - Reff*I
 * With a leak conductance g across the cell the cell itself carries
 * I + g*V, which gives V = E/(1+g*Reff) - Reff/(1+g*Reff)*I.  bsm_prepare
 * computes that pair (E', R') for every cell; the rack sums of E' and R'
 * are what the bus solver needs, and bsm_step then advances the cell with
 * the rack current the solver chose.  Because V is affine in I, the BMS
 * knows before the step the rack current that puts the weakest cell
 * exactly on its cut-off voltage: (E' - V_cut)/R' (bsm_stats_add).
 */
#ifndef BATSIMD_MODEL_H
#define BATSIMD_MODEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define BS_HD __host__ __device__
#else
#define BS_HD
#endif

#define BSM_OCV_MAX 128
#define BSM_TAB_MAX 128 /* hysteresis, entropy tables */
#define BSM_RT_SOC 16	/* resistance table: SoC rows */
#define BSM_RT_T 8	/* resistance table: temperature columns */
#define BSM_CAP_T 8	/* capacity(T) table */
#define BSM_KELVIN  273.15
#define BSM_R_GAS   8.314462618 /* J/(mol K) */

/* Parameters shared by all cells (constant memory on the GPU).  Derived
 * values (a1, a2, inverse temperatures) are computed once on the host so
 * that both backends use bit-identical constants. */
struct bsm_chem {
	double dt_s;
	uint32_t ocv_n;
	uint32_t cells_per_module;
	uint32_t modules_per_rack;
	uint32_t cells_per_rack;
	double ocv_soc[BSM_OCV_MAX]; /* increasing, 0..1 */
	double ocv_v[BSM_OCV_MAX];
	double r0_ohm;	       /* at t_ref and 50 % SoC (discharge) */
	double r0_soc_k;       /* factor at 0 % and 100 % minus 1 (0.3) */
	double ea_over_r_k;    /* Ea / R */
	double inv_tref_k;     /* 1 / (t_ref + 273.15) */
	double t_ref_c;	       /* 25 degC */
	double r1_ohm, a1;     /* at t_ref, 50 %; a1 = exp(-dt/tau1) */
	/* resistance table (rt_ns = 0: the Arrhenius x SoC law above):
	 * ln(R/R_ref) at rt_soc[i] (increasing) and 1/T = rt_invt[j]
	 * (decreasing: T increasing), [0] discharge, [1] charge; R0 and R1
	 * are r0_ohm and r1_ohm times exp(that) */
	uint32_t rt_ns, rt_nt;
	double rt_soc[BSM_RT_SOC];
	double rt_invt[BSM_RT_T];
	double rt_ln[2][BSM_RT_SOC][BSM_RT_T];
	/* hysteresis: half-gap H(x) (V) at hy_soc (hy_n = 0: none), rate */
	uint32_t hy_n, ds_n;
	double hy_soc[BSM_TAB_MAX], hy_v[BSM_TAB_MAX];
	double hy_gamma;
	/* entropic coefficient dU/dT(x) (V/K) at ds_soc, added to dudt_v_k */
	double ds_soc[BSM_TAB_MAX], ds_v[BSM_TAB_MAX];
	/* available capacity fraction f(T) at cap_t (cap_n = 0: 1) */
	uint32_t cap_n, pad0;
	double cap_t[BSM_CAP_T], cap_f[BSM_CAP_T];
	/* BMS cut-off voltages: the rack limit holds the weakest cell here */
	double v_chg_cut, v_dis_cut;
	double r2_ohm, a2;     /* r2 0 = no second pair */
	double cth_j_k;	       /* cell heat capacity */
	double cond_w_k;       /* conductance to each neighbour in the module */
	double dudt_v_k;       /* entropic coefficient of the OCV */
	double runaway_p0_w;   /* exothermic heat at the threshold */
	double runaway_k;      /* it grows as exp((T - Tth) / runaway_k) */
	double runaway_pmax_w; /* and is capped here */
	double runaway_end_c;  /* no more heat above this (reactants spent) */
};

/* Per-cell arrays (structure of arrays), host or device memory alike.
 * State: soc + soc_c (compensated sum), i1, i2, temperature (two buffers
 * swapped each step because neighbours read the old one).  Derived each
 * step: v, e, r, r0.  Parameters: changed by variation and faults. */
struct bsm_arrays {
	double *soc;	   /* state of charge (fraction, may leave 0..1) */
	double *soc_c;	   /* compensation term of soc (Kahan/TwoSum) */
	double *i1, *i2;   /* currents through R1, R2 (A) */
	double *h;	   /* hysteresis state, -1 (discharge) .. +1 */
	double *t_a, *t_b; /* temperature buffers (degC) */
	double *v;	   /* terminal voltage of the last step (true) */
	double *e, *r;	   /* E' and R' for the next step */
	double *r0;	   /* R0 now (ohm) */
	double *r1;	   /* R1 now (ohm) */
	/* parameters */
	double *inv_q;	   /* 1 / capacity (1/C), fade included */
	double *r0_mult;   /* variation x high-resistance fault */
	double *leak_s;	   /* leak conductance (1/ohm), 0 = none */
	double *runaway_c; /* runaway threshold (degC), huge = none */
	/* sensors (BMS and telemetry see these; NaN stuck = not stuck) */
	float *sv_off, *st_off, *sv_stuck, *st_stuck;
};

/* Inputs of one rack for a step. */
struct bsm_rack_in {
	double i_a;	   /* rack current (A, + discharge), 0 when open */
	int32_t dir;	   /* 0: discharge resistances, 1: charge */
	int32_t pad;
	double ha_w_k;	   /* cell-to-air conductance in this rack */
	double air_c;	   /* air temperature at module 0 */
	double air_step_c; /* air warms by this per module upwards */
	double g[3];	   /* total conductance with 0, 1, 2 neighbours */
	double alpha[3];   /* exp(-dt * g[n] / cth) */
};

/* Statistics of a group of cells (a module, then a rack), measured values
 * (with sensor faults) for voltage and temperature. */
struct bsm_stats {
	double e_v, r_ohm; /* sums of E' and R' (next step) */
	double v_sum;	   /* sum of true terminal voltages (last step) */
	double soc_sum;
	double soc_max, h_sum;
	/* rack current that puts the weakest cell (as measured) on the
	 * cut-off in the next step: discharge, charge (magnitude), and the
	 * charge that fills the fullest cell to soc 1 exactly */
	double ilim_dis, ilim_chg, ilim_full;
	double vmin, vmax, tmin, tmax; /* measured */
	double v_meas_sum, t_meas_sum;
	uint32_t vmin_i, vmax_i, tmin_i, tmax_i; /* flat index in the group */
	uint32_t n;
	uint32_t pad;
};

/* a + b as hi + lo exactly (Knuth's TwoSum): keeps the charge exact.
 * Needs strict IEEE evaluation: no reassociation, no contraction. */
BS_HD static inline void bsm_acc(double *hi, double *lo, double x)
{
	double y = x + *lo;
	double s = *hi + y;
	double bp = s - *hi;
	double err = (*hi - (s - bp)) + (y - bp);
	*hi = s;
	*lo = err;
}

/* OCV by linear interpolation; linear extrapolation of the end segments
 * outside the table (overcharge and overdischarge rise and fall steeply),
 * clamped to [0, 2 * top]. */
BS_HD static inline double bsm_ocv(const struct bsm_chem *c, double s)
{
	uint32_t n = c->ocv_n, lo = 0, hi = n - 1;
	double v;
	if (n < 2)
		return c->ocv_v[0];
	if (s <= c->ocv_soc[0]) {
		lo = 0;
	} else if (s >= c->ocv_soc[n - 1]) {
		lo = n - 2;
	} else {
		while (hi - lo > 1) {
			uint32_t mid = (lo + hi) / 2;
			if (c->ocv_soc[mid] <= s)
				lo = mid;
			else
				hi = mid;
		}
	}
	v = c->ocv_v[lo] + (c->ocv_v[lo + 1] - c->ocv_v[lo]) *
			       (s - c->ocv_soc[lo]) /
			       (c->ocv_soc[lo + 1] - c->ocv_soc[lo]);
	if (v < 0.0)
		v = 0.0;
	if (v > 2.0 * c->ocv_v[n - 1])
		v = 2.0 * c->ocv_v[n - 1];
	return v;
}

/* Linear interpolation in a table (xs increasing), held at the ends. */
BS_HD static inline double bsm_interp(const double *xs, const double *ys,
				      uint32_t n, double x)
{
	uint32_t lo = 0, hi = n - 1;
	if (n == 0)
		return 0.0;
	if (x <= xs[0])
		return ys[0];
	if (x >= xs[n - 1])
		return ys[n - 1];
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (xs[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo]);
}

/* Available capacity fraction at t_c (1 without a table). */
BS_HD static inline double bsm_cap_frac(const struct bsm_chem *c, double t_c)
{
	return c->cap_n ? bsm_interp(c->cap_t, c->cap_f, c->cap_n, t_c) : 1.0;
}

/* Resistance factor rho(x, T, dir): R0 = r0_ohm*rho*mult, R1 = r1_ohm*rho.
 * Table: ln rho bilinear in (x, 1/T), held at the SoC ends, extended
 * linearly in 1/T beyond the temperature columns (Arrhenius with the slope
 * of the end segment), temperature kept in -40..80 degC.  Law: Arrhenius
 * in T times (1 + k*(2x-1)^2). */
BS_HD static inline double bsm_rho(const struct bsm_chem *c, double x,
				   double t_c, int dir)
{
	double tk = t_c + BSM_KELVIN;
	if (tk < BSM_KELVIN - 40.0)
		tk = BSM_KELVIN - 40.0; /* keep exp() finite, stay sane */
	if (tk > BSM_KELVIN + 80.0)
		tk = BSM_KELVIN + 80.0;
	if (c->rt_ns == 0) {
		double y = x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
		double d = 2.0 * y - 1.0;
		return (1.0 + c->r0_soc_k * d * d) *
		       exp(c->ea_over_r_k * (1.0 / tk - c->inv_tref_k));
	} else {
		const double(*L)[BSM_RT_T] = c->rt_ln[dir ? 1 : 0];
		uint32_t ns = c->rt_ns, nt = c->rt_nt, i = 0, j = 0;
		double u = 1.0 / tk, fx = 0.0, fu, a, b;
		/* SoC row: held at the ends */
		if (x >= c->rt_soc[ns - 1]) {
			i = ns - 2;
			fx = 1.0;
		} else if (x > c->rt_soc[0]) {
			while (i + 2 < ns && c->rt_soc[i + 1] <= x)
				i++;
			fx = (x - c->rt_soc[i]) /
			     (c->rt_soc[i + 1] - c->rt_soc[i]);
		}
		/* 1/T column: rt_invt decreases; extrapolated linearly */
		if (nt < 2)
			return exp(L[i][0] + (L[i + 1][0] - L[i][0]) * fx);
		while (j + 2 < nt && u <= c->rt_invt[j + 1])
			j++;
		fu = (u - c->rt_invt[j]) / (c->rt_invt[j + 1] - c->rt_invt[j]);
		a = L[i][j] + (L[i][j + 1] - L[i][j]) * fu;
		b = L[i + 1][j] + (L[i + 1][j + 1] - L[i + 1][j]) * fu;
		return exp(a + (b - a) * fx);
	}
}

/* dU/dT at x (V/K). */
BS_HD static inline double bsm_dudt(const struct bsm_chem *c, double x)
{
	return c->dudt_v_k +
	       (c->ds_n ? bsm_interp(c->ds_soc, c->ds_v, c->ds_n, x) : 0.0);
}

/* Hysteresis half-gap H(x) (V). */
BS_HD static inline double bsm_hyst(const struct bsm_chem *c, double x)
{
	return c->hy_n ? bsm_interp(c->hy_soc, c->hy_v, c->hy_n, x) : 0.0;
}

/* The SoC a reader sees, in the trace and in the segment alike: the
 * charge count clamped to the ABI's 0..1. */
BS_HD static inline double bsm_soc_pub(double s)
{
	return s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
}

/* Compute E', R', R0 and R1 of cell i from its state, temperature t_c,
 * for a step in direction dir (0 discharge, 1 charge). */
BS_HD static inline void bsm_prepare(const struct bsm_chem *c,
				     const struct bsm_arrays *a, size_t i,
				     double t_c, int dir)
{
	double x = a->soc[i] + a->soc_c[i];
	double ocv = bsm_ocv(c, x) + bsm_hyst(c, x) * a->h[i] +
		     bsm_dudt(c, x) * (t_c - c->t_ref_c);
	double rho = bsm_rho(c, x, t_c, dir);
	double r0 = c->r0_ohm * rho * a->r0_mult[i];
	double r1 = c->r1_ohm * rho;
	double reff = r0 + r1 * (1.0 - c->a1) + c->r2_ohm * (1.0 - c->a2);
	double e = ocv - r1 * c->a1 * a->i1[i] - c->r2_ohm * c->a2 * a->i2[i];
	double k = 1.0 / (1.0 + a->leak_s[i] * reff);
	a->e[i] = e * k;
	a->r[i] = reff * k;
	a->r0[i] = r0;
	a->r1[i] = r1;
}

/* Measured voltage and temperature of cell i (sensor faults applied). */
BS_HD static inline double bsm_meas_v(const struct bsm_arrays *a, size_t i)
{
	float st = a->sv_stuck[i];
	return st == st ? (double)st : a->v[i] + (double)a->sv_off[i];
}
BS_HD static inline double bsm_meas_t(const struct bsm_arrays *a,
				      const double *t, size_t i)
{
	float st = a->st_stuck[i];
	return st == st ? (double)st : t[i] + (double)a->st_off[i];
}

/* Advance cell i (index k within its module m) by one step with the rack
 * current of rk, reading temperatures from t_in and writing t_out, then
 * prepare it for the next step. */
BS_HD static inline void bsm_step(const struct bsm_chem *c,
				  const struct bsm_arrays *a,
				  const double *t_in, double *t_out, size_t i,
				  uint32_t k, uint32_t m,
				  const struct bsm_rack_in *rk)
{
	double I = rk->i_a;
	double v = a->e[i] - a->r[i] * I;
	double g = a->leak_s[i];
	double ii = I + g * v; /* the cell's own current */
	double i1 = c->a1 * a->i1[i] + (1.0 - c->a1) * ii;
	double i2 = c->a2 * a->i2[i] + (1.0 - c->a2) * ii;
	double t = t_in[i];
	double x = a->soc[i] + a->soc_c[i];
	double iq = a->inv_q[i] / bsm_cap_frac(c, t); /* 1 / Q(T) */
	double p, sum = 0.0, tair, tinf, tn;
	int nb = 0;

	/* hysteresis: exact for the held current */
	if (ii != 0.0) {
		double kh = exp(-c->hy_gamma * fabs(ii) * c->dt_s * iq);
		a->h[i] = kh * a->h[i] + (1.0 - kh) * (ii > 0.0 ? -1.0 : 1.0);
	}

	/* charge: d soc = -I dt / Q(T), summed exactly */
	bsm_acc(&a->soc[i], &a->soc_c[i], -(ii * c->dt_s) * iq);

	/* heat: ohmic, polarisation, leak, reversible (Bernardi) */
	p = ii * ii * a->r0[i] + a->r1[i] * i1 * i1 + c->r2_ohm * i2 * i2 +
	    g * v * v - ii * (t + BSM_KELVIN) * bsm_dudt(c, x);
	if (t > a->runaway_c[i] && t < c->runaway_end_c) {
		double pr =
		    c->runaway_p0_w * exp((t - a->runaway_c[i]) / c->runaway_k);
		p += pr < c->runaway_pmax_w ? pr : c->runaway_pmax_w;
	}

	/* thermal node: air plus neighbours (their old temperature) as one
	 * conductance G, exact exponential step towards
	 * T_inf = (hA*T_air + G_n*sum(T_nb) + P) / G */
	if (k > 0) {
		sum += t_in[i - 1];
		nb++;
	}
	if (k + 1 < c->cells_per_module) {
		sum += t_in[i + 1];
		nb++;
	}
	tair = rk->air_c + rk->air_step_c * (double)m;
	tinf = (rk->ha_w_k * tair + c->cond_w_k * sum + p) / rk->g[nb];
	tn = tinf + (t - tinf) * rk->alpha[nb];

	a->v[i] = v;
	a->i1[i] = i1;
	a->i2[i] = i2;
	t_out[i] = tn;
	bsm_prepare(c, a, i, tn, rk->dir);
}

/* Statistics. */
BS_HD static inline void bsm_stats_init(struct bsm_stats *s)
{
	s->e_v = s->r_ohm = s->v_sum = s->soc_sum = 0.0;
	s->soc_max = -1e300;
	s->h_sum = 0.0;
	s->ilim_dis = s->ilim_chg = s->ilim_full = 1e300;
	s->v_meas_sum = s->t_meas_sum = 0.0;
	s->vmin = s->tmin = 1e300;
	s->vmax = s->tmax = -1e300;
	s->vmin_i = s->vmax_i = s->tmin_i = s->tmax_i = 0;
	s->n = 0;
	s->pad = 0;
}

/* The rack current that brings the measured voltage of cell i to the
 * cut-offs after the next step (V = E' - R' I; a stuck sensor does not
 * move: it allows everything or nothing), and the charge that fills it to
 * soc 1 within the step. */
BS_HD static inline void bsm_limits_add(const struct bsm_chem *c,
					struct bsm_stats *s,
					const struct bsm_arrays *a, size_t i,
					double t_c)
{
	float st = a->sv_stuck[i];
	double ld, lc, lf, sc = a->soc[i] + a->soc_c[i];
	if (st == st) {
		ld = (double)st > c->v_dis_cut ? 1e300 : 0.0;
		lc = (double)st < c->v_chg_cut ? 1e300 : 0.0;
	} else {
		double em = a->e[i] + (double)a->sv_off[i];
		ld = (em - c->v_dis_cut) / a->r[i];
		lc = (c->v_chg_cut - em) / a->r[i];
	}
	lf = (1.0 - sc) * bsm_cap_frac(c, t_c) / (c->dt_s * a->inv_q[i]);
	if (ld < s->ilim_dis)
		s->ilim_dis = ld;
	if (lc < s->ilim_chg)
		s->ilim_chg = lc;
	if (lf < s->ilim_full)
		s->ilim_full = lf;
	if (sc > s->soc_max)
		s->soc_max = sc;
	s->h_sum += a->h[i];
}

/* Add cell i (index j within the group) to s; ties keep the lower index
 * (cells are added in increasing order). */
BS_HD static inline void bsm_stats_add(const struct bsm_chem *c,
				       struct bsm_stats *s,
				       const struct bsm_arrays *a,
				       const double *t, size_t i, uint32_t j)
{
	double vm = bsm_meas_v(a, i), tm = bsm_meas_t(a, t, i);
	bsm_limits_add(c, s, a, i, t[i]);
	s->e_v += a->e[i];
	s->r_ohm += a->r[i];
	s->v_sum += a->v[i];
	s->soc_sum += a->soc[i] + a->soc_c[i];
	s->v_meas_sum += vm;
	s->t_meas_sum += tm;
	if (vm < s->vmin) {
		s->vmin = vm;
		s->vmin_i = j;
	}
	if (vm > s->vmax) {
		s->vmax = vm;
		s->vmax_i = j;
	}
	if (tm < s->tmin) {
		s->tmin = tm;
		s->tmin_i = j;
	}
	if (tm > s->tmax) {
		s->tmax = tm;
		s->tmax_i = j;
	}
	s->n++;
}

/* Merge group b (whose indices start at base within s's group) into s;
 * merge in increasing order of base. */
BS_HD static inline void
bsm_stats_merge(struct bsm_stats *s, const struct bsm_stats *b, uint32_t base)
{
	s->e_v += b->e_v;
	s->r_ohm += b->r_ohm;
	s->v_sum += b->v_sum;
	s->soc_sum += b->soc_sum;
	s->h_sum += b->h_sum;
	if (b->soc_max > s->soc_max)
		s->soc_max = b->soc_max;
	if (b->ilim_dis < s->ilim_dis)
		s->ilim_dis = b->ilim_dis;
	if (b->ilim_chg < s->ilim_chg)
		s->ilim_chg = b->ilim_chg;
	if (b->ilim_full < s->ilim_full)
		s->ilim_full = b->ilim_full;
	s->v_meas_sum += b->v_meas_sum;
	s->t_meas_sum += b->t_meas_sum;
	if (b->vmin < s->vmin) {
		s->vmin = b->vmin;
		s->vmin_i = base + b->vmin_i;
	}
	if (b->vmax > s->vmax) {
		s->vmax = b->vmax;
		s->vmax_i = base + b->vmax_i;
	}
	if (b->tmin < s->tmin) {
		s->tmin = b->tmin;
		s->tmin_i = base + b->tmin_i;
	}
	if (b->tmax > s->tmax) {
		s->tmax = b->tmax;
		s->tmax_i = base + b->tmax_i;
	}
	s->n += b->n;
}

/* The published record of cell i (5 float32: V, I, T, soc, R0).  The
 * reported soc is clamped to 0..1 (the ABI's range); current is the rack
 * (terminal) current. */
BS_HD static inline void bsm_record(const struct bsm_arrays *a, const double *t,
				    size_t i, double rack_i, float *out5)
{
	double s = bsm_soc_pub(a->soc[i] + a->soc_c[i]);
	out5[0] = (float)bsm_meas_v(a, i);
	out5[1] = (float)rack_i;
	out5[2] = (float)bsm_meas_t(a, t, i);
	out5[3] = (float)s;
	out5[4] = (float)a->r0[i];
}

#endif /* BATSIMD_MODEL_H */
