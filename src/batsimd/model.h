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
#include <string.h>

#ifdef __CUDACC__
#define BS_HD __host__ __device__
#else
/* always inlined: the CPU backend's cell loop vectorises only when the
 * whole step is inlined into it */
#define BS_HD __attribute__((always_inline))
#endif
/* fixed-trip inner loops unrolled completely, so that the cell loop
 * around them vectorises */
#if defined(__CUDACC__)
#define BSM_UNROLL _Pragma("unroll")
#elif defined(__clang__)
#define BSM_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define BSM_UNROLL _Pragma("GCC unroll 16")
#else
#define BSM_UNROLL
#endif

#define BSM_OCV_MAX 128
#define BSM_TAB_MAX 128 /* hysteresis, entropy tables */
#define BSM_RT_SOC 16	/* resistance table: SoC rows */
#define BSM_RT_T 8	/* resistance table: temperature columns */
#define BSM_CAP_T 8	/* capacity(T) table */
#define BSM_LG_TAB 7	/* log2 of BSM_OCV_MAX and BSM_TAB_MAX */
#define BSM_LG_RTS 4	/* log2 of BSM_RT_SOC */
#define BSM_LG_CAP 3	/* log2 of BSM_CAP_T */
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
	/* derived by bsm_chem_derive (host, after the tables are set): the
	 * inverse grid step of each table whose points lie within a quarter
	 * step of a uniform grid (0: not uniform), which makes the segment
	 * lookup one multiplication and one correction (bsm_seg) */
	double ocv_inv, hy_inv, ds_inv, rs_inv;
	uint32_t all_uniform; /* every table used by the step is uniform */
	uint32_t pad1;
	/* and the slope of each segment [k, k+1] of each table (the
	 * lookups multiply instead of dividing): dy/dx of the OCV,
	 * hysteresis, entropy and capacity tables, 1/dx of the resistance
	 * table's SoC rows and 1/T columns */
	double ocv_sl[BSM_OCV_MAX], hy_sl[BSM_TAB_MAX], ds_sl[BSM_TAB_MAX];
	double cap_sl[BSM_CAP_T], rs_dinv[BSM_RT_SOC], it_dinv[BSM_RT_T];
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

/* exp(x).  On the GPU the device's exp; on the CPU a branch-free
 * polynomial that the compiler vectorises (glibc's exp is a call, which
 * stops vectorisation): x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, the
 * high part of ln 2 has 11 zero low bits so k*LN2_HI is exact), exp(r) by
 * its Taylor series to degree 13 (truncation below 4e-18 relative), then
 * scaled by 2^k built in the exponent bits.  Within 2 ulp of the
 * correctly rounded value for |x| <= 708 (tests/unit/test_engine
 * "exp_accuracy"); x is clamped to [-708, 708] (the model's arguments are
 * far inside: rate exponents, ln rho, the runaway e-folding; NaN stays
 * NaN). */
BS_HD static inline double bsm_exp(double x)
{
#ifdef __CUDACC__
	return exp(x);
#else
	const double shift = 0x1.8p52;
	double xc = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
	double t = xc * 0x1.71547652b82fep0 + shift;
	double kf = t - shift;
	double r = (xc - kf * 0x1.62e42fee00000p-1) - kf * 0x1.a39ef35793c76p-33;
	double p = 1.0 / 6227020800.0;
	uint64_t tb, sb;
	double scale;
	p = 1.0 / 479001600.0 + r * p;
	p = 1.0 / 39916800.0 + r * p;
	p = 1.0 / 3628800.0 + r * p;
	p = 1.0 / 362880.0 + r * p;
	p = 1.0 / 40320.0 + r * p;
	p = 1.0 / 5040.0 + r * p;
	p = 1.0 / 720.0 + r * p;
	p = 1.0 / 120.0 + r * p;
	p = 1.0 / 24.0 + r * p;
	p = 1.0 / 6.0 + r * p;
	p = 0.5 + r * p;
	p = 1.0 + r * p;
	p = 1.0 + r * p;
	memcpy(&tb, &t, sizeof(tb));
	/* the low bits of t hold k (t = 1.5 2^52 + k): 2^k = (k + 1023) << 52 */
	sb = (tb - 0x4338000000000000ULL + 1023u) << 52;
	memcpy(&scale, &sb, sizeof(scale));
	return p * scale;
#endif
}

/* Index lo of the segment [xs[lo], xs[lo+1]] of a table of n >= 2
 * increasing points for x: the largest lo <= n-2 with xs[lo] <= x (0 below
 * the table or for NaN), what a binary search gives.  On a uniform grid
 * (inv = 1/step > 0, uni = 1) in constant time: the index from the step,
 * corrected by one either way (the points lie within a quarter step of the
 * grid, bsm_chem_derive); otherwise a branch-free bisection in lg steps
 * over at most 2^lg points.  Both vectorise (gathers). */
BS_HD static inline int64_t bsm_seg(const double *xs, uint32_t n, double inv,
				    uint32_t lg, double x, int uni)
{
	/* 64-bit signed indices (the width of a double lane), plain
	 * pointers, conditions as selects: what the vectoriser turns into
	 * gathers and blends */
	int64_t lo = 0, top = (int64_t)n - 2;
	if (uni) {
		double g = (x - xs[0]) * inv;
		g = g > 0.0 ? g : 0.0; /* NaN: 0 */
		g = g < (double)top ? g : (double)top;
		lo = (int64_t)(int32_t)g; /* AVX2 converts to 32 bits only */
		/* the loads are in bounds whatever the conditions */
		lo = xs[lo + 1] <= x ? lo + 1 : lo;
		lo = lo < top ? lo : top;
		lo = xs[lo] > x ? lo - 1 : lo;
		lo = lo > 0 ? lo : 0;
	} else {
		BSM_UNROLL
		for (uint32_t j = 0; j < lg; j++) {
			int64_t t = lo + (int64_t)(1u << (lg - 1u - j));
			/* t < 2^lg: inside the table's array */
			t = t < top ? t : top;
			lo = xs[t] <= x ? t : lo;
		}
	}
	return lo;
}

/* The inverse step of xs[0..n) when every point is within a quarter step
 * of the uniform grid, else 0. */
BS_HD static inline double bsm_uniform_inv(const double *xs, uint32_t n)
{
	double dx;
	if (n < 2)
		return 0.0;
	dx = (xs[n - 1] - xs[0]) / (double)(n - 1);
	if (!(dx > 0.0))
		return 0.0;
	for (uint32_t i = 0; i < n; i++)
		if (fabs(xs[i] - (xs[0] + dx * (double)i)) > 0.25 * dx)
			return 0.0;
	return 1.0 / dx;
}

/* A table of n < 2 points made a two-point table with the same meaning
 * (no table: the value `none` everywhere; one point: that value), so that
 * the lookups need no branch. */
static inline void bsm_tab_two(double *xs, double *ys, uint32_t *n,
			       double none)
{
	if (*n >= 2)
		return;
	ys[0] = *n ? ys[0] : none;
	xs[1] = xs[0] + 1.0;
	ys[1] = ys[0];
	*n = 2;
}

/* The slope (ys[k+1] - ys[k]) / (xs[k+1] - xs[k]) of each segment of a
 * table of n points into sl[0..n-1) (ys NULL: 1 / (xs[k+1] - xs[k]));
 * the entries from n - 1 on are 0 (never used: bsm_seg stays below). */
static inline void bsm_slopes(const double *xs, const double *ys, uint32_t n,
			      double *sl)
{
	uint32_t k = 0;
	for (; k + 1 < n; k++)
		sl[k] = (ys ? ys[k + 1] - ys[k] : 1.0) / (xs[k + 1] - xs[k]);
	for (; k < (n ? n : 1); k++)
		sl[k] = 0.0;
}

/* Derived lookup constants of c (host, once the tables are set): tables
 * of fewer than two points made two-point ones (the step then needs no
 * branch on them; hy_gamma = 0 keeps a chemistry without hysteresis
 * without it, H = 0 keeps its OCV), the uniform grids. */
static inline void bsm_chem_derive(struct bsm_chem *c)
{
	bsm_tab_two(c->hy_soc, c->hy_v, &c->hy_n, 0.0);
	bsm_tab_two(c->ds_soc, c->ds_v, &c->ds_n, 0.0);
	bsm_tab_two(c->cap_t, c->cap_f, &c->cap_n, 1.0);
	for (uint32_t k = c->cap_n; k < BSM_CAP_T; k++) {
		c->cap_t[k] = 1e300; /* never a segment: bsm_cap_frac */
		c->cap_f[k] = c->cap_f[c->cap_n - 1];
	}
	if (c->rt_ns == 1) { /* one SoC row: held everywhere */
		c->rt_soc[1] = c->rt_soc[0] + 1.0;
		for (uint32_t k = 0; k < 2; k++)
			for (uint32_t j = 0; j < BSM_RT_T; j++)
				c->rt_ln[k][1][j] = c->rt_ln[k][0][j];
		c->rt_ns = 2;
	}
	if (c->rt_ns && c->rt_nt == 1) { /* one column: no T dependence */
		c->rt_invt[1] = 0.5 * c->rt_invt[0];
		for (uint32_t k = 0; k < 2; k++)
			for (uint32_t i = 0; i < c->rt_ns; i++)
				c->rt_ln[k][i][1] = c->rt_ln[k][i][0];
		c->rt_nt = 2;
	}
	bsm_slopes(c->ocv_soc, c->ocv_v, c->ocv_n, c->ocv_sl);
	bsm_slopes(c->hy_soc, c->hy_v, c->hy_n, c->hy_sl);
	bsm_slopes(c->ds_soc, c->ds_v, c->ds_n, c->ds_sl);
	bsm_slopes(c->cap_t, c->cap_f, c->cap_n, c->cap_sl);
	bsm_slopes(c->rt_soc, NULL, c->rt_ns, c->rs_dinv);
	bsm_slopes(c->rt_invt, NULL, c->rt_nt, c->it_dinv);
	c->ocv_inv = bsm_uniform_inv(c->ocv_soc, c->ocv_n);
	c->hy_inv = bsm_uniform_inv(c->hy_soc, c->hy_n);
	c->ds_inv = bsm_uniform_inv(c->ds_soc, c->ds_n);
	c->rs_inv = bsm_uniform_inv(c->rt_soc, c->rt_ns);
	c->all_uniform = c->ocv_inv > 0.0 && c->hy_inv > 0.0 &&
			 c->ds_inv > 0.0 && (c->rt_ns == 0 || c->rs_inv > 0.0);
}

/* OCV by linear interpolation; linear extrapolation of the end segments
 * outside the table (overcharge and overdischarge rise and fall steeply),
 * clamped to [0, 2 * top]. */
BS_HD static inline double bsm_ocv_u(const struct bsm_chem *c, double s,
				     int uni)
{
	const double *xs = c->ocv_soc, *ys = c->ocv_v;
	uint32_t n = c->ocv_n; /* n >= 2 (engine.c check_config) */
	int64_t lo = bsm_seg(xs, n, c->ocv_inv, BSM_LG_TAB, s, uni);
	double v, top = 2.0 * ys[n - 1];
	v = ys[lo] + c->ocv_sl[lo] * (s - xs[lo]);
	v = v < 0.0 ? 0.0 : v;
	return v > top ? top : v;
}
BS_HD static inline double bsm_ocv(const struct bsm_chem *c, double s)
{
	return bsm_ocv_u(c, s, c->ocv_inv > 0.0);
}

/* Linear interpolation in a table (xs increasing, n >= 2: bsm_tab_two),
 * held at the ends. */
BS_HD static inline double bsm_interp_u(const double *xs, const double *ys,
					const double *sl, uint32_t n,
					double inv, uint32_t lg, double x,
					int uni)
{
	int64_t lo = bsm_seg(xs, n, inv, lg, x, uni);
	double x0 = xs[0], xn = xs[n - 1], y0 = ys[0], yn = ys[n - 1], v;
	v = ys[lo] + sl[lo] * (x - xs[lo]);
	v = x >= xn ? yn : v;
	return x <= x0 ? y0 : v;
}
/* Available capacity fraction at t_c (1 without a table).  The table is
 * small (BSM_CAP_T points): its segment is found by a scan of selects over
 * constant indices (no gather), the same segment and the same formula as
 * bsm_interp_u (points beyond n are padded with 1e300 and never chosen;
 * from the last point on the value is held). */
BS_HD static inline double bsm_cap_frac(const struct bsm_chem *c, double t_c)
{
	const double *xs = c->cap_t, *ys = c->cap_f, *sl = c->cap_sl;
	uint32_t n = c->cap_n;
	double xa = xs[0], ya = ys[0], sa = sl[0], v;
	double x0 = xs[0], y0 = ys[0], xn = xs[n - 1], yn = ys[n - 1];
	BSM_UNROLL
	for (uint32_t k = 1; k + 1 < BSM_CAP_T; k++) {
		/* loaded unconditionally: selects, not branches */
		double xk = xs[k], yk = ys[k], sk = sl[k];
		int in = xk <= t_c; /* false beyond n: bsm_chem_derive */
		xa = in ? xk : xa;
		ya = in ? yk : ya;
		sa = in ? sk : sa;
	}
	v = ya + sa * (t_c - xa);
	v = t_c >= xn ? yn : v;
	return t_c <= x0 ? y0 : v;
}

/* Resistance factor rho(x, T, dir): R0 = r0_ohm*rho*mult, R1 = r1_ohm*rho.
 * Table: ln rho bilinear in (x, 1/T), held at the SoC ends, extended
 * linearly in 1/T beyond the temperature columns (Arrhenius with the slope
 * of the end segment), temperature kept in -40..80 degC.  Law: Arrhenius
 * in T times (1 + k*(2x-1)^2).  Branch-free for a fixed table/law (tab:
 * c->rt_ns != 0) so that a loop over cells vectorises. */
BS_HD static inline double bsm_rho_u(const struct bsm_chem *c, double x,
				     double t_c, int dir, int tab, int uni)
{
	double tk = t_c + BSM_KELVIN;
	tk = tk < BSM_KELVIN - 40.0 ? BSM_KELVIN - 40.0 : tk;
	tk = tk > BSM_KELVIN + 80.0 ? BSM_KELVIN + 80.0 : tk;
	if (!tab) {
		double y = x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
		double d = 2.0 * y - 1.0;
		return (1.0 + c->r0_soc_k * d * d) *
		       bsm_exp(c->ea_over_r_k * (1.0 / tk - c->inv_tref_k));
	} else {
		const double *L = &c->rt_ln[dir ? 1 : 0][0][0];
		const double *rs = c->rt_soc, *it = c->rt_invt;
		uint32_t ns = c->rt_ns, nt = c->rt_nt;
		int64_t i, j = 0;
		double u = 1.0 / tk, fx, fu, a, b;
		/* SoC row: held at the ends */
		i = bsm_seg(rs, ns, c->rs_inv, BSM_LG_RTS, x, uni);
		fx = (x - rs[i]) * c->rs_dinv[i];
		fx = x >= rs[ns - 1] ? 1.0 : fx;
		fx = x > rs[0] ? fx : 0.0;
		/* 1/T column: rt_invt decreases (nt >= 2: bsm_chem_derive);
		 * extrapolated linearly */
		BSM_UNROLL
		for (uint32_t k = 1; k + 1 < BSM_RT_T; k++)
			j += u <= it[k] ? 1 : 0; /* 0 beyond nt: u > 0 */
		j = j < (int64_t)nt - 2 ? j : (int64_t)nt - 2;
		fu = (u - it[j]) * c->it_dinv[j];
		a = L[i * BSM_RT_T + j] +
		    (L[i * BSM_RT_T + j + 1] - L[i * BSM_RT_T + j]) * fu;
		b = L[(i + 1) * BSM_RT_T + j] +
		    (L[(i + 1) * BSM_RT_T + j + 1] - L[(i + 1) * BSM_RT_T + j]) *
			fu;
		return bsm_exp(a + (b - a) * fx);
	}
}
BS_HD static inline double bsm_rho(const struct bsm_chem *c, double x,
				   double t_c, int dir)
{
	return bsm_rho_u(c, x, t_c, dir, c->rt_ns != 0, c->rs_inv > 0.0);
}

/* dU/dT at x (V/K). */
BS_HD static inline double bsm_dudt_u(const struct bsm_chem *c, double x,
				      int uni)
{
	return c->dudt_v_k + bsm_interp_u(c->ds_soc, c->ds_v, c->ds_sl,
					  c->ds_n, c->ds_inv, BSM_LG_TAB, x,
					  uni);
}
BS_HD static inline double bsm_dudt(const struct bsm_chem *c, double x)
{
	return bsm_dudt_u(c, x, c->ds_inv > 0.0);
}

/* Hysteresis half-gap H(x) (V). */
BS_HD static inline double bsm_hyst_u(const struct bsm_chem *c, double x,
				      int uni)
{
	return bsm_interp_u(c->hy_soc, c->hy_v, c->hy_sl, c->hy_n, c->hy_inv,
			    BSM_LG_TAB, x, uni);
}
BS_HD static inline double bsm_hyst(const struct bsm_chem *c, double x)
{
	return bsm_hyst_u(c, x, c->hy_inv > 0.0);
}

/* The SoC a reader sees, in the trace and in the segment alike: the
 * charge count clamped to the ABI's 0..1. */
BS_HD static inline double bsm_soc_pub(double s)
{
	return s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
}

/* What bsm_prepare computes for one cell, from values (the form the
 * vectorised CPU loop uses): E', R', R0, R1 for a step in direction dir
 * from soc x, hysteresis h, RC currents, temperature t_c.  uni and tab
 * select the lookups (see bsm_seg, bsm_rho_u); with tab = rt_ns != 0 and
 * uni = all_uniform (or 0) the result is the same either way. */
struct bsm_prep {
	double e, r, r0, r1;
};
BS_HD static inline struct bsm_prep
bsm_prepare_v(const struct bsm_chem *c, double x, double h, double i1,
	      double i2, double t_c, double r0_mult, double leak, int dir,
	      int tab, int uni)
{
	struct bsm_prep o;
	double ocv = bsm_ocv_u(c, x, uni) + bsm_hyst_u(c, x, uni) * h +
		     bsm_dudt_u(c, x, uni) * (t_c - c->t_ref_c);
	double rho = bsm_rho_u(c, x, t_c, dir, tab, uni);
	double r0 = c->r0_ohm * rho * r0_mult;
	double r1 = c->r1_ohm * rho;
	double reff = r0 + r1 * (1.0 - c->a1) + c->r2_ohm * (1.0 - c->a2);
	double e = ocv - r1 * c->a1 * i1 - c->r2_ohm * c->a2 * i2;
	/* no leak (the common case): k = 1 exactly, and a loop whose leak
	 * is the constant 0 has no division here */
	double k = leak != 0.0 ? 1.0 / (1.0 + leak * reff) : 1.0;
	o.e = e * k;
	o.r = reff * k;
	o.r0 = r0;
	o.r1 = r1;
	return o;
}

/* Compute E', R', R0 and R1 of cell i from its state, temperature t_c,
 * for a step in direction dir (0 discharge, 1 charge). */
BS_HD static inline void bsm_prepare(const struct bsm_chem *c,
				     const struct bsm_arrays *a, size_t i,
				     double t_c, int dir)
{
	struct bsm_prep o = bsm_prepare_v(
	    c, a->soc[i] + a->soc_c[i], a->h[i], a->i1[i], a->i2[i], t_c,
	    a->r0_mult[i], a->leak_s[i], dir, c->rt_ns != 0,
	    (int)c->all_uniform);
	a->e[i] = o.e;
	a->r[i] = o.r;
	a->r0[i] = o.r0;
	a->r1[i] = o.r1;
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

/* One cell's state as values (the form the vectorised CPU loop keeps in
 * registers): in, the state at the start of the step with the E', R',
 * R0, R1 prepared for it; out, the state at its end, prepared for the
 * next step. */
struct bsm_cell {
	double soc, soc_c, i1, i2, h, t;
	double e, r, r0, r1;
};

/* The per-cell parameters of a step (struct bsm_arrays' parameters). */
struct bsm_cpar {
	double inv_q, r0_mult, leak, runaway_c;
};

/* Advance one cell by dt with the rack current I held (ZOH), given the
 * sum of its neighbours' old temperatures (nb of them: g_nb, alpha_nb are
 * the rack's g[nb], alpha[nb]) and ha_tair = hA * T_air; v gets the
 * terminal voltage.  rw = 0 leaves out the runaway heat (no cell of the
 * loop has a runaway threshold; the same result for such cells), tab and
 * uni as for bsm_prepare_v.  Branch-free: the hysteresis update at I = 0
 * is the identity (exp(0) = 1 exactly), as it should be. */
BS_HD static inline void bsm_step_v(const struct bsm_chem *c,
				    struct bsm_cell *s,
				    const struct bsm_cpar *q, double I,
				    double nb_sum, double ha_tair, double g_nb,
				    double alpha_nb, int dir, int tab, int uni,
				    int rw, double *v_out)
{
	double v = s->e - s->r * I;
	double g = q->leak;
	/* the cell's own current (g = 0: I, the same as I + 0 v) */
	double ii = g != 0.0 ? I + g * v : I;
	double i1 = c->a1 * s->i1 + (1.0 - c->a1) * ii;
	double i2 = c->a2 * s->i2 + (1.0 - c->a2) * ii;
	double t = s->t;
	double x = s->soc + s->soc_c;
	double iq = q->inv_q / bsm_cap_frac(c, t); /* 1 / Q(T) */
	double p, tinf, tn, kh;
	struct bsm_prep o;

	/* hysteresis: exact for the held current */
	kh = bsm_exp(-c->hy_gamma * fabs(ii) * c->dt_s * iq);
	s->h = kh * s->h + (1.0 - kh) * (ii > 0.0 ? -1.0 : 1.0);

	/* charge: d soc = -I dt / Q(T), summed exactly */
	bsm_acc(&s->soc, &s->soc_c, -(ii * c->dt_s) * iq);

	/* heat: ohmic, polarisation, leak, reversible (Bernardi) */
	p = ii * ii * s->r0 + s->r1 * i1 * i1 + c->r2_ohm * i2 * i2 +
	    (g != 0.0 ? g * v * v : 0.0) -
	    ii * (t + BSM_KELVIN) * bsm_dudt_u(c, x, uni);
	if (rw) {
		double pr = c->runaway_p0_w *
			    bsm_exp((t - q->runaway_c) / c->runaway_k);
		pr = pr < c->runaway_pmax_w ? pr : c->runaway_pmax_w;
		p += (t > q->runaway_c && t < c->runaway_end_c) ? pr : 0.0;
	}

	/* thermal node: air plus neighbours (their old temperature) as one
	 * conductance G, exact exponential step towards
	 * T_inf = (hA*T_air + G_n*sum(T_nb) + P) / G */
	tinf = (ha_tair + c->cond_w_k * nb_sum + p) / g_nb;
	tn = tinf + (t - tinf) * alpha_nb;

	*v_out = v;
	s->i1 = i1;
	s->i2 = i2;
	s->t = tn;
	o = bsm_prepare_v(c, s->soc + s->soc_c, s->h, i1, i2, tn, q->r0_mult,
			  g, dir, tab, uni);
	s->e = o.e;
	s->r = o.r;
	s->r0 = o.r0;
	s->r1 = o.r1;
}

/* The air temperature term hA * T_air of module m of rack rk. */
BS_HD static inline double bsm_ha_tair(const struct bsm_rack_in *rk,
				       uint32_t m)
{
	return rk->ha_w_k * (rk->air_c + rk->air_step_c * (double)m);
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
	struct bsm_cell s;
	struct bsm_cpar q;
	double sum = 0.0;
	int nb = 0;
	if (k > 0) {
		sum += t_in[i - 1];
		nb++;
	}
	if (k + 1 < c->cells_per_module) {
		sum += t_in[i + 1];
		nb++;
	}
	s.soc = a->soc[i];
	s.soc_c = a->soc_c[i];
	s.i1 = a->i1[i];
	s.i2 = a->i2[i];
	s.h = a->h[i];
	s.t = t_in[i];
	s.e = a->e[i];
	s.r = a->r[i];
	s.r0 = a->r0[i];
	s.r1 = a->r1[i];
	q.inv_q = a->inv_q[i];
	q.r0_mult = a->r0_mult[i];
	q.leak = a->leak_s[i];
	q.runaway_c = a->runaway_c[i];
	bsm_step_v(c, &s, &q, rk->i_a, sum, bsm_ha_tair(rk, m), rk->g[nb],
		   rk->alpha[nb], rk->dir, c->rt_ns != 0, (int)c->all_uniform,
		   1, &a->v[i]);
	a->soc[i] = s.soc;
	a->soc_c[i] = s.soc_c;
	a->i1[i] = s.i1;
	a->i2[i] = s.i2;
	a->h[i] = s.h;
	t_out[i] = s.t;
	a->e[i] = s.e;
	a->r[i] = s.r;
	a->r0[i] = s.r0;
	a->r1[i] = s.r1;
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
