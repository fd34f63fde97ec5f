/*
 * chemistry.h - cell chemistry presets (lfp280, nmc100) and BMS defaults,
 * compiled in as data with their sources (data/chemistry/SOURCES.md).
 */
#ifndef BATSIM_COMMON_CHEMISTRY_H
#define BATSIM_COMMON_CHEMISTRY_H

#include "conf.h"

/* Current derating windows of the BMS (temperatures in degC).  Charge
 * current is 0 at or below chg_t0_lo, full between chg_full_lo and
 * chg_full_hi, 0 at or above chg_t0_hi, linear in between; the same for
 * discharge. */
struct chem_derate {
	double chg_t0_lo, chg_full_lo, chg_full_hi, chg_t0_hi;
	double dis_t0_lo, dis_full_lo, dis_full_hi, dis_t0_hi;
	/* chg_n > 0: instead of the charge window, the charge current
	 * allowed at cell temperature chg_t[i] is chg_c[i] x 1 C (linear in
	 * between, 0 outside the table), and at most bms_max_charge_a */
	unsigned chg_n;
	double chg_t[16], chg_c[16];
};

struct bsm_chem;

/* Fill *cell with the preset `name` ("lfp280" or "nmc100"): capacity,
 * voltage window, OCV table, R0, R1/tau1, thermal values.  0, or -1 for an
 * unknown name (cell untouched).  cfg_preset() in conf.c calls this. */
int chem_preset(struct cfg_cell *cell, const char *name);

/* Fill *bms with the BMS defaults for the preset `name`; 0 or -1. */
int chem_bms_defaults(struct cfg_bms *bms, const char *name);

/* Temperature derating windows (the same law for both presets). */
void chem_derate_defaults(struct chem_derate *d);

/* The derating of preset `name`: the windows, and for lfp280 the LF280K
 * charge table. */
void chem_derate_preset(struct chem_derate *d, const char *name);

/* The measured model tables of a chemistry, as data: resistance factors
 * R / R_ref by SoC (0, 0.1 .. 1, rt_ns rows) and temperature rt_t_c[]
 * (degC, rt_nt columns), discharge and charge; hysteresis half-gap (V) at SoC
 * 0, 0.01 .. 1 and its rate; entropic coefficient dU/dT (V/K) at SoC
 * 0, 0.1 .. 1; available capacity fraction cap_f at cap_t (degC). */
struct chem_tabdata {
	unsigned rt_ns, rt_nt;
	const double *rt_t_c;
	const double (*r_dis)[4], (*r_chg)[4];
	unsigned hy_n;
	const double *hy_v;
	double hy_gamma;
	unsigned ds_n;
	const double *ds_v;
	unsigned cap_n;
	const double *cap_t, *cap_f;
};

/* The tables of chemistry `name`, or NULL where it has none (nmc100, an
 * unknown name: the parametric law of the engine's model). */
const struct chem_tabdata *chem_tabdata(const char *name);

/* The model tables of chemistry `name` into m (resistance by SoC, T and
 * direction, hysteresis, entropy, capacity by T); none for nmc100 or an
 * unknown name (the parametric law of model.h).  Part of the engine
 * (src/batsimd/chemtables.c: struct bsm_chem is the engine's). */
void chem_tables(struct bsm_chem *m, const char *name);

/* Names of the presets, NULL-terminated (for messages). */
extern const char *const chem_names[];

#endif /* BATSIM_COMMON_CHEMISTRY_H */
