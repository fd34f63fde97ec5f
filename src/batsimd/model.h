/*
 * model.h - THE per-cell step of batsimd, written once.
 *
 * Static inline functions that compile as C (gnu11) for the CPU backend
 * and as CUDA C++ for the GPU backend, so both backends compute the same
 * thing.  No libc calls besides <math.h>; no allocation; no globals.
 *
 * Model (docs/MODEL.md has the derivation and the sources):
 *   first-order Thevenin cell (R0 + R1||C1, optional R2||C2) with an exact
 *   zero-order-hold update, OCV(soc) by linear interpolation of a table,
 *   R0(soc, T) with an Arrhenius law and a quadratic SoC factor, exact
 *   (compensated) charge accounting, a lumped thermal node per cell with an
 *   exact exponential update towards its equilibrium, conduction to the
 *   neighbour cells of the module, and an optional internal leak (short).
 *
 * Sign convention: current > 0 is discharge.
 *
 * The step of one cell over dt with a rack current I held constant (ZOH):
 *   i1' = a1*i1 + (1-a1)*I            a1 = exp(-dt/tau1)
 * so the terminal voltage at the end of the step is affine in I:
 *   V = [OCV - R1*a1*i1 - R2*a2*i2] - [R0 + R1*(1-a1) + R2*(1-a2)]*I
 *     =  E - Reff*I
 * With a leak conductance g across the cell the cell itself carries
 * I + g*V, which gives V = E/(1+g*Reff) - Reff/(1+g*Reff)*I.  bsm_prepare
 * computes that pair (E', R') for every cell; the rack sums of E' and R'
 * are what the bus solver needs, and bsm_step then advances the cell with
 * the rack current the solver chose.
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
	double r0_ohm;	       /* at t_ref and 50 % SoC */
	double r0_soc_k;       /* factor at 0 % and 100 % minus 1 (0.2) */
	double ea_over_r_k;    /* Ea / R */
	double inv_tref_k;     /* 1 / (t_ref + 273.15) */
	double t_ref_c;	       /* 25 degC */
	double r1_ohm, a1;     /* a1 = exp(-dt/tau1) */
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
	double *t_a, *t_b; /* temperature buffers (degC) */
	double *v;	   /* terminal voltage of the last step (true) */
	double *e, *r;	   /* E' and R' for the next step */
	double *r0;	   /* R0 now (ohm) */
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

/* R0(soc, T): Arrhenius in T, x(1 + k*(2s-1)^2) in SoC (k = 0.2: x1.2 at
 * both ends), without the per-cell multiplier. */
BS_HD static inline double bsm_r0(const struct bsm_chem *c, double s,
				  double t_c)
{
	double x = s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
	double d = 2.0 * x - 1.0;
	double tk = t_c + BSM_KELVIN;
	if (tk < 200.0)
		tk = 200.0; /* keep exp() finite for absurd inputs */
	return c->r0_ohm * (1.0 + c->r0_soc_k * d * d) *
	       exp(c->ea_over_r_k * (1.0 / tk - c->inv_tref_k));
}

/* Compute E', R' and R0 of cell i from its state, temperature t_c. */
BS_HD static inline void bsm_prepare(const struct bsm_chem *c,
				     const struct bsm_arrays *a, size_t i,
				     double t_c)
{
	double s = a->soc[i] + a->soc_c[i];
	double ocv = bsm_ocv(c, s) + c->dudt_v_k * (t_c - c->t_ref_c);
	double r0 = bsm_r0(c, s, t_c) * a->r0_mult[i];
	double reff =
	    r0 + c->r1_ohm * (1.0 - c->a1) + c->r2_ohm * (1.0 - c->a2);
	double e =
	    ocv - c->r1_ohm * c->a1 * a->i1[i] - c->r2_ohm * c->a2 * a->i2[i];
	double k = 1.0 / (1.0 + a->leak_s[i] * reff);
	a->e[i] = e * k;
	a->r[i] = reff * k;
	a->r0[i] = r0;
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
	double p, sum = 0.0, tair, tinf, tn;
	int nb = 0;

	/* charge: d soc = -I dt / Q, summed exactly */
	bsm_acc(&a->soc[i], &a->soc_c[i], -(ii * c->dt_s) * a->inv_q[i]);

	/* heat: ohmic, polarisation, leak, reversible (Bernardi) */
	p = ii * ii * a->r0[i] + c->r1_ohm * i1 * i1 + c->r2_ohm * i2 * i2 +
	    g * v * v - ii * (t + BSM_KELVIN) * c->dudt_v_k;
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
	bsm_prepare(c, a, i, tn);
}

/* Statistics. */
BS_HD static inline void bsm_stats_init(struct bsm_stats *s)
{
	s->e_v = s->r_ohm = s->v_sum = s->soc_sum = 0.0;
	s->v_meas_sum = s->t_meas_sum = 0.0;
	s->vmin = s->tmin = 1e300;
	s->vmax = s->tmax = -1e300;
	s->vmin_i = s->vmax_i = s->tmin_i = s->tmax_i = 0;
	s->n = 0;
	s->pad = 0;
}

/* Add cell i (index j within the group) to s; ties keep the lower index
 * (cells are added in increasing order). */
BS_HD static inline void bsm_stats_add(struct bsm_stats *s,
				       const struct bsm_arrays *a,
				       const double *t, size_t i, uint32_t j)
{
	double vm = bsm_meas_v(a, i), tm = bsm_meas_t(a, t, i);
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
	double s = a->soc[i] + a->soc_c[i];
	s = s < 0.0 ? 0.0 : (s > 1.0 ? 1.0 : s);
	out5[0] = (float)bsm_meas_v(a, i);
	out5[1] = (float)rack_i;
	out5[2] = (float)bsm_meas_t(a, t, i);
	out5[3] = (float)s;
	out5[4] = (float)a->r0[i];
}

#endif /* BATSIMD_MODEL_H */
