/*
 * ageing.h - capacity fade of every cell: NREL BLAST-Lite's model of a
 * large-format LFP-graphite prismatic cell (250 Ah, 2019), with its own
 * per-cell state arrays, advanced on a slow cadence (once per simulated
 * minute, or once per step when dt is longer).
 *
 * Source: NREL/BLAST-Lite, blast/models/lfp_gr_250AhPrismatic_2019.py and
 * degradation_model.py (the anode potential Ua and the power-state
 * update); data in doi:10.1016/j.est.2023.109042; the numbers are carried
 * in ../shared/data/lfp/README.md.  docs/MODEL.md, "Ageing", has the
 * equations and the checks.
 *
 * Relative capacity  q = 1 - qLoss_cal - qLoss_cyc  (BLAST's q), with
 *   qLoss_cal = k_cal * t_days^0.526,
 *     k_cal = 8.37e4 exp(-5.21e3/T) exp(-3.56e3 Ua(soc)/T)
 *   qLoss_cyc = k_cyc * EFC^0.828,
 *     k_cyc = (4.38e-8 + 1.55e-8 DOD + 1.68e-7 Crate)
 *             (exp(2.19e3/T) + exp(-1.55e5/T))
 * each advanced as a power-law state (y = k x^p) with the rate of the
 * interval: y <- k ((y/k)^(1/p) + dx)^p, the exact solution of BLAST's
 * state equation dy/dx = k p (y/k)^((p-1)/p) over an interval of
 * constant k (BLAST itself takes one Euler step of it per interval).
 *
 * The engine's step accumulates only each rack's charge throughput
 * (all cells of a string carry the rack current); the cells' SoC and
 * temperature are sampled at each update.  Cycle fade is applied, as in
 * BLAST, per window closed after one equivalent full cycle or one day,
 * with the window's depth of discharge (max - min SoC), its mean C-rate
 * (instantaneous rates below C/100 count as rest, as BLAST does) and the
 * time mean of k_cyc's temperature factor.
 *
 * Not thread safe; called from the engine's thread.
 */
#ifndef BATSIMD_AGEING_H
#define BATSIMD_AGEING_H

#include <stddef.h>
#include <stdint.h>

struct ageing;

struct ag_params {
	size_t n_cells;
	uint32_t racks;
	size_t cells_per_rack;
	double dt_s;		/* engine step */
	double factor;		/* ageing_factor: 1 real, > 1 faster, 0 off */
	double initial_soh;	/* 0..1 */
	double soh_sigma;	/* seeded spread of the initial SoH (< 1) */
	uint64_t seed;
	int variation;		/* apply soh_sigma */
};

/* One cell's ageing state. */
struct ag_cell {
	double soh;	     /* 1 - qloss_cal - qloss_cyc */
	double qloss_cal;    /* calendar loss (fraction) */
	double qloss_cyc;    /* cycle loss (fraction) */
	double efc;	     /* equivalent full cycles so far */
	double efc_applied;  /* of which in closed windows (cycle fade) */
	double days;	     /* ageing time so far (days, factor applied) */
	double last_dod;     /* stressors of the last closed window */
	double last_crate;
};

/* Create the state of p->n_cells cells (initial SoH with its seeded
 * spread).  NULL when out of memory. */
struct ageing *ag_create(const struct ag_params *p);
void ag_destroy(struct ageing *g);

/* Per step: the current of rack r (A, + discharge) held over dt. */
void ag_accumulate(struct ageing *g, uint32_t r, double i_a);

/* Per step, after the racks: 1 when an update is due (ag_update next). */
int ag_step_done(struct ageing *g);

/* Advance every cell over the time since the last update, from each
 * cell's SoC (hi + lo parts), temperature (degC) and 1/capacity (1/C,
 * as the step uses it).  Returns 1 when some SoH changed. */
int ag_update(struct ageing *g, const double *soc, const double *soc_c,
	      const double *t_c, const double *inv_q);

/* SoH of every cell (array of n_cells). */
const double *ag_soh(const struct ageing *g);

/* Equivalent full cycles of every cell (array of n_cells). */
const double *ag_efc(const struct ageing *g);

/* One cell's state. */
void ag_cell_state(const struct ageing *g, size_t i, struct ag_cell *out);

/* BLAST's rates and the anode potential, for tests and docs. */
double ag_ua(double soc);
double ag_kcal(double t_k, double soc);
double ag_kcyc(double t_k, double dod, double crate);
#define AG_PCAL 0.526
#define AG_PCYC 0.828

/* y <- k ((y/k)^(1/p) + dx)^p (exact power-law state update). */
double ag_power_update(double y, double k, double p, double dx);

#endif /* BATSIMD_AGEING_H */
