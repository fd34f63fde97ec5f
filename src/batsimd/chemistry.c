/*
 * chemistry.c - the chemistry presets as data.  Every number is carried
 * from data/chemistry/SOURCES.md; the source is named next to it.
 */
#include "config.h"

#include <string.h>

#include "chemistry.h"

const char *const chem_names[] = {"lfp280", "nmc100", NULL};

/* LFP OCV: measured C/32 pseudo-OCV of a LithiumWerks APR18650M1B cell,
 * 10 optimised breakpoints (soorajsunil/Piecewise-Battery-OCV README.md);
 * data/chemistry/ocv_lfp_breakpoints.csv. */
static const double lfp_soc[] = {0.0000, 0.0033, 0.0117, 0.0267, 0.0534,
				 0.0885, 0.2972, 0.9833, 0.9950, 1.0000};
static const double lfp_ocv[] = {2.0102, 2.4177, 2.7405, 2.9299, 3.0872,
				 3.1942, 3.2772, 3.3511, 3.4180, 3.5981};

/* NMC OCV: PyBaMM ECM_Example (pybamm-team/PyBaMM,
 * input/parameters/ecm/example_set.py, data/ecm_example_ocv.csv) sampled at
 * 5 % steps; data/chemistry/ocv_nmc100.csv. */
static const double nmc_ocv[] = {
    3.200, 3.447, 3.494, 3.536, 3.576, 3.605, 3.625, 3.643, 3.655, 3.670, 3.697,
    3.728, 3.768, 3.813, 3.854, 3.893, 3.937, 3.989, 4.046, 4.104, 4.187};

static void set_ocv(struct cfg_cell *cell, const double *soc, const double *v,
		    unsigned n)
{
	cell->ocv_n = n;
	for (unsigned i = 0; i < n; i++) {
		cell->ocv_soc[i] = soc ? soc[i] : (double)i / (double)(n - 1);
		cell->ocv_v[i] = v[i];
	}
}

int chem_preset(struct cfg_cell *cell, const char *name)
{
	if (strcmp(name, "lfp280") == 0) {
		memset(cell, 0, sizeof(*cell));
		strcpy(cell->chemistry, "lfp280");
		/* grid BESS prismatic LFP, datasheet-style window
		 * (SOURCES.md "Parameter presets"; Lishen LP54173207) */
		cell->capacity_ah = 280.0;
		cell->v_min = 2.5;
		cell->v_max = 3.65;
		set_ocv(cell, lfp_soc, lfp_ocv,
			sizeof(lfp_soc) / sizeof(lfp_soc[0]));
		/* PyBaMM ECM_Example scaled x100/280 (not measured on a
		 * 280 Ah cell): R0 0.14 mOhm, R1 0.21 mOhm, tau1 30 s */
		cell->r0_ohm = 0.14e-3;
		cell->r0_soc_factor = 1.2;
		cell->ea_j_mol = 20000.0;
		cell->r1_ohm = 0.21e-3;
		cell->tau1_s = 30.0;
		cell->r2_ohm = 0.0;
		cell->tau2_s = 0.0;
		/* about 5.4 kg x 999 J/(kg K) */
		cell->heat_capacity_j_k = 5400.0;
		/* chosen so that 0.5 C (140 A, I^2(R0+R1) = 6.9 W) in a
		 * 25 degC rack settles about 3.4 K above air (SOURCES.md:
		 * "a few K above air") */
		cell->ha_w_k = 2.0;
		/* neighbour cells pressed together in a module: an assumed
		 * 1 W/K (not from a source; docs/MODEL.md says so) */
		cell->conduction_w_k = 1.0;
		cell->dudt_v_k = 0.0;
		return 0;
	}
	if (strcmp(name, "nmc100") == 0) {
		memset(cell, 0, sizeof(*cell));
		strcpy(cell->chemistry, "nmc100");
		/* PyBaMM ECM_Example (example_set.py) */
		cell->capacity_ah = 100.0;
		cell->v_min = 3.2;
		cell->v_max = 4.2;
		set_ocv(cell, NULL, nmc_ocv,
			sizeof(nmc_ocv) / sizeof(nmc_ocv[0]));
		cell->r0_ohm = 0.40e-3;
		cell->r0_soc_factor = 1.2;
		cell->ea_j_mol = 20000.0;
		cell->r1_ohm = 0.60e-3;
		cell->tau1_s = 30.0;
		/* ECM_Example: 1000 J/K cell, cell-jig 10 W/K and jig-air
		 * 10 W/K in series = 5 W/K (jig heat capacity neglected) */
		cell->heat_capacity_j_k = 1000.0;
		cell->ha_w_k = 5.0;
		cell->conduction_w_k = 0.5;
		cell->dudt_v_k = 0.0;
		return 0;
	}
	return -1;
}

int chem_bms_defaults(struct cfg_bms *b, const char *name)
{
	static const double soc_high[3] = {0.95, 0.98, 1.01};
	static const double soc_low[3] = {0.10, 0.05, 0.0};
	/* temperature tiers: OpenEMS Soltaro table stops discharge at
	 * 55 degC and charge at 0 degC (SOURCES.md "BMS limits (LFP)") */
	static const double ot[3] = {45.0, 50.0, 55.0};
	static const double ut[3] = {5.0, 0.0, -10.0};
	/* rack temperature spread: well designed racks stay under 3-5 K */
	static const double ts[3] = {5.0, 8.0, 15.0};
	double cap;

	if (strcmp(name, "lfp280") == 0) {
		/* SOURCES.md "BMS limits (LFP)": derating starts at 3.45 V
		 * (warning), cell high alarm 3.50 V, over-voltage protection
		 * 3.65 V; discharge full from 3.00 V (warning), 0 at 2.90 V
		 * (low alarm), under-voltage protection 2.70 V */
		static const double ov[3] = {3.45, 3.50, 3.65};
		static const double uv[3] = {3.00, 2.90, 2.70};
		/* LFP is flat: 50 mV spread is already unusual at rest */
		static const double vs[3] = {0.05, 0.10, 0.50};
		memcpy(b->cell_ov_v, ov, sizeof(ov));
		memcpy(b->cell_uv_v, uv, sizeof(uv));
		memcpy(b->v_spread_v, vs, sizeof(vs));
		cap = 280.0;
	} else if (strcmp(name, "nmc100") == 0) {
		/* scaled to the 3.2-4.2 V window of ECM_Example: derating
		 * from 4.10 V, protection at the 4.20 V limit; discharge 0 at
		 * 3.30 V, protection at the 3.20 V limit */
		static const double ov[3] = {4.10, 4.15, 4.20};
		static const double uv[3] = {3.40, 3.30, 3.20};
		static const double vs[3] = {0.10, 0.20, 0.50};
		memcpy(b->cell_ov_v, ov, sizeof(ov));
		memcpy(b->cell_uv_v, uv, sizeof(uv));
		memcpy(b->v_spread_v, vs, sizeof(vs));
		cap = 100.0;
	} else {
		return -1;
	}
	memcpy(b->cell_ot_c, ot, sizeof(ot));
	memcpy(b->cell_ut_c, ut, sizeof(ut));
	memcpy(b->t_spread_c, ts, sizeof(ts));
	memcpy(b->soc_high, soc_high, sizeof(soc_high));
	memcpy(b->soc_low, soc_low, sizeof(soc_low));
	/* 0.5 C continuous per rack, both directions */
	b->max_charge_a = 0.5 * cap;
	b->max_discharge_a = 0.5 * cap;
	/* SOURCES.md: delays of 2-10 s before protection acts */
	b->protection_delay_s = 5.0;
	return 0;
}

void chem_derate_defaults(struct chem_derate *d)
{
	/* OpenEMS Soltaro LFP protection table (SOURCES.md): charge 0 at
	 * 0 degC, full 18-35 degC, 0 at 40 degC; discharge full 12-45 degC,
	 * 0 at 55 degC; the datasheet allows discharge down to -35 degC
	 * (Lishen LP54173207), which is where the discharge ramp starts. */
	d->chg_t0_lo = 0.0;
	d->chg_full_lo = 18.0;
	d->chg_full_hi = 35.0;
	d->chg_t0_hi = 40.0;
	d->dis_t0_lo = -35.0;
	d->dis_full_lo = 12.0;
	d->dis_full_hi = 45.0;
	d->dis_t0_hi = 55.0;
}
