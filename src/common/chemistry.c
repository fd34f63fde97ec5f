/*
 * chemistry.c - the chemistry presets as data.  Every number is carried
 * from data/chemistry/SOURCES.md; the source is named next to it.  Every
 * program reads them (conf.c's presets, batsim-httpd's limits, batsimctl);
 * the engine turns the model tables into its own form (src/batsimd/
 * chemtables.c, chem_tables()).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "chemistry.h"

const char *const chem_names[] = {"lfp280", "nmc100", NULL};

/* lfp280 OCV: Sony/Murata US26650FTC1, measured, every other point of the
 * 201 in tum-ees/simses (commit 2769f809), SoC 0, 0.01 .. 1;
 * data/chemistry/sony_us26650_ocv.csv.  The mean curve of the
 * hysteresis below. */
static const double sony_ocv[101] = {
    2.28619131, 2.78334147, 2.89523772, 2.96734729, 3.02133058,
    3.06470488, 3.10082733, 3.13167433, 3.15830337, 3.18104820,
    3.19666176, 3.20265103, 3.20559448, 3.20789721, 3.20993371,
    3.21199877, 3.21466573, 3.21878445, 3.22414692, 3.22951343,
    3.23434579, 3.23880199, 3.24292115, 3.24705654, 3.25091117,
    3.25467344, 3.25807760, 3.26115013, 3.26431919, 3.26732215,
    3.27027909, 3.27302853, 3.27562065, 3.27795581, 3.28019370,
    3.28259787, 3.28477763, 3.28678071, 3.28868842, 3.29037828,
    3.29212228, 3.29374383, 3.29498383, 3.29586549, 3.29670077,
    3.29727369, 3.29775000, 3.29830036, 3.29860847, 3.29908539,
    3.29947505, 3.29991557, 3.30013767, 3.30061156, 3.30099310,
    3.30137464, 3.30175618, 3.30213772, 3.30251926, 3.30299618,
    3.30347311, 3.30395004, 3.30442696, 3.30497639, 3.30557158,
    3.30630036, 3.30690697, 3.30771791, 3.30862391, 3.30958278,
    3.31081777, 3.31191770, 3.31326743, 3.31479475, 3.31645270,
    3.31854396, 3.32109089, 3.32400197, 3.32751016, 3.33122868,
    3.33447328, 3.33666713, 3.33811025, 3.33905176, 3.33980462,
    3.34026559, 3.34076869, 3.34115024, 3.34158713, 3.34202765,
    3.34246817, 3.34286717, 3.34315593, 3.34363025, 3.34419049,
    3.34468822, 3.34531334, 3.34625224, 3.34865827, 3.36180439,
    3.53048971,
};
/* Hysteresis half-gap H (V) at SoC 0, 0.01 .. 1, same source:
 * data/chemistry/sony_us26650_hysteresis.csv (17-30 mV). */
static const double sony_hyst[101] = {
    0.0300000, 0.0300000, 0.0300000, 0.0300000, 0.0300000, 0.0287239,
    0.0273778, 0.0263385, 0.0252560, 0.0245812, 0.0251017, 0.0243467,
    0.0235872, 0.0234882, 0.0236170, 0.0241559, 0.0249152, 0.0250277,
    0.0244763, 0.0243105, 0.0248574, 0.0255867, 0.0264628, 0.0271643,
    0.0275851, 0.0277227, 0.0276930, 0.0277132, 0.0279220, 0.0283529,
    0.0288298, 0.0292900, 0.0295929, 0.0294480, 0.0290151, 0.0283670,
    0.0274944, 0.0264452, 0.0253006, 0.0239922, 0.0226298, 0.0213898,
    0.0205313, 0.0200312, 0.0195774, 0.0193861, 0.0191005, 0.0189317,
    0.0188144, 0.0187190, 0.0187109, 0.0186519, 0.0186266, 0.0187190,
    0.0187190, 0.0187190, 0.0187190, 0.0187190, 0.0189097, 0.0190051,
    0.0191005, 0.0191959, 0.0192913, 0.0194592, 0.0194821, 0.0197071,
    0.0198636, 0.0201022, 0.0204359, 0.0206317, 0.0209128, 0.0212497,
    0.0216456, 0.0218959, 0.0223364, 0.0225344, 0.0226013, 0.0222272,
    0.0213898, 0.0203420, 0.0193867, 0.0187190, 0.0182297, 0.0178605,
    0.0174892, 0.0172190, 0.0170974, 0.0170974, 0.0170421, 0.0171739,
    0.0171149, 0.0172882, 0.0173862, 0.0176697, 0.0180392, 0.0185195,
    0.0191621, 0.0202641, 0.0219347, 0.0225176, 0.0300000,
};
/* Entropic coefficient dU/dT (V/K) at SoC 0, 0.1 .. 1, same source:
 * data/chemistry/sony_us26650_entropy.csv. */
static const double sony_dudt[11] = {
    -4.9001142857e-04, -1.6395714286e-04, -1.1763285714e-04, -4.4414285714e-05,
    9.7502857143e-05, 1.1027000000e-04, 1.2865142857e-04, 1.4535000000e-04,
    9.9628571429e-05, 8.3644285714e-05, 1.1806857143e-04,
};
/* Internal resistance of the same cell by SoC (0, 0.1 .. 1) and
 * temperature (10, 25, 40, 60 degC), discharge and charge, same source:
 * data/chemistry/sony_us26650_rint.csv, as R / R(discharge, 50 %, 25 degC)
 * (47.83 mOhm; scaled to 280 Ah by capacity: 0.512 mOhm). */
static const double sony_r_dis[11][4] = {
    {4.076128, 1.289739, 0.921850, 0.921850},
    {4.076128, 1.289739, 0.921850, 0.921850},
    {1.688865, 1.053255, 0.803507, 0.803507},
    {1.569276, 1.021277, 0.784930, 0.784930},
    {1.564144, 1.082272, 0.836720, 0.836720},
    {1.450828, 1.000000, 0.802369, 0.802369},
    {1.361567, 0.925532, 0.734331, 0.734331},
    {1.285931, 0.873670, 0.687770, 0.687770},
    {1.355326, 0.973404, 0.788732, 0.788732},
    {1.284447, 0.889574, 0.710428, 0.710428},
    {1.284447, 0.889574, 0.710428, 0.710428},
};
static const double sony_r_chg[11][4] = {
    {1.119704, 0.785810, 0.637219, 0.637219},
    {1.119704, 0.785810, 0.637219, 0.637219},
    {1.238132, 0.865588, 0.691761, 0.691761},
    {1.222100, 0.865588, 0.693092, 0.693092},
    {1.239462, 0.873529, 0.682449, 0.682449},
    {1.309868, 0.936002, 0.736948, 0.736948},
    {1.412264, 0.997221, 0.787544, 0.787544},
    {1.480084, 1.041036, 0.814150, 0.814150},
    {1.446839, 0.978606, 0.743644, 0.743644},
    {1.686307, 1.116954, 0.835385, 0.835385},
    {1.686307, 1.116954, 0.835385, 0.835385},
};

/* Available capacity fraction by temperature (lfp280): 80 % at 0 degC
 * (Victron LFP-Smart technical data, a commercial LFP product), 100 % from
 * 25 degC; -20 degC extends the 0-25 degC slope (0.6, not measured). */
static const double lfp_cap_t[] = {-20.0, 0.0, 25.0};
static const double lfp_cap_f[] = {0.60, 0.80, 1.00};

/* Hysteresis rate of Plett's one-state model: h moves by 1 - exp(-gamma
 * dSoC); gamma 50 switches the branch within about 5 % SoC (assumed, the
 * order of Plett's fitted LFP cells; not measured on these cells). */
#define LFP_HYST_GAMMA 50.0

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
		set_ocv(cell, NULL, sony_ocv,
			sizeof(sony_ocv) / sizeof(sony_ocv[0]));
		/* Sony US26650FTC1 internal resistance (discharge, 50 % SoC,
		 * 25 degC: 47.83 mOhm at 3 Ah) scaled by capacity to 280 Ah:
		 * 0.512 mOhm, read as the 10 s DC resistance and split into
		 * R0 = 80 % of it (0.410 mOhm) and R1 with tau1 = 30 s so
		 * that R0 + R1 (1 - exp(-10/30)) = 0.512 mOhm (R1 0.361
		 * mOhm).  SoC, temperature and direction from the table
		 * (chem_tables); r0_soc_factor and ea_j_mol are not used. */
		cell->r0_ohm = 0.8 * 0.047827935 * 3.0 / 280.0;
		cell->r0_soc_factor = 1.3;
		cell->ea_j_mol = 20000.0;
		cell->r1_ohm = 0.2 * 0.047827935 * 3.0 / 280.0 /
			       (1.0 - 0.716531310573789250); /* exp(-1/3) */
		cell->tau1_s = 30.0;
		cell->r2_ohm = 0.0;
		cell->tau2_s = 0.0;
		/* about 5.4 kg x 999 J/(kg K) */
		cell->heat_capacity_j_k = 5400.0;
		/* chosen so that 0.5 C (140 A, I^2(R0+R1) = 15 W at 50 %
		 * SoC, 25 degC) in a 25 degC rack settles about 3.4 K above
		 * air (SOURCES.md: "a few K above air") */
		cell->ha_w_k = 4.5;
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
		/* ecm_example_r0.csv / r1.csv: x1.30 at 0 % and 100 % SoC
		 * for R0 and R1 (the docstring's 1.2 is not what the data
		 * says) */
		cell->r0_soc_factor = 1.3;
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
		/* SOURCES.md "BMS limits (LFP)": over-voltage protection
		 * 3.65 V, the Soltaro charge derating reaches 2 % at 3.60 V
		 * (alarm here); warning 3.54 V so that the charge cut-off
		 * between warning and alarm, 3.57 V, ends a C/20 CC-CV charge
		 * at 25 degC on the OCV table's 100 % point (3.5305 V + H
		 * 30 mV + 14 A x 0.86 mOhm); discharge: warning 3.00 V, low
		 * alarm 2.90 V (cut-off 2.95 V between them), under-voltage
		 * protection 2.70 V */
		static const double ov[3] = {3.54, 3.60, 3.65};
		static const double uv[3] = {3.00, 2.90, 2.70};
		/* LFP is flat: 50 mV spread is already unusual at rest */
		static const double vs[3] = {0.05, 0.10, 0.50};
		memcpy(b->cell_ov_v, ov, sizeof(ov));
		memcpy(b->cell_uv_v, uv, sizeof(uv));
		memcpy(b->v_spread_v, vs, sizeof(vs));
		cap = 280.0;
	} else if (strcmp(name, "nmc100") == 0) {
		/* the 3.2-4.2 V window of ECM_Example: charge cut-off 4.195
		 * V between warning and alarm (the OCV table ends at 4.187 V),
		 * protection just above the 4.20 V limit; discharge cut-off
		 * 3.35 V, protection at the 3.20 V limit */
		static const double ov[3] = {4.19, 4.20, 4.25};
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

/* EVE LF280K charge derating, PBRI-LF280K-D06-01 Rev C table 9 (as
 * transcribed in privatecoder/openbms-monitor data/cells/cells.json): the
 * continuous charge allowed, as a fraction of 1 P (1 C), by cell
 * temperature; none below 0 degC. */
static const double lf280k_t[] = {0, 5, 10, 15, 20, 25, 45, 50, 55, 60};
static const double lf280k_f[] = {0.03, 0.12, 0.30, 0.50, 0.80,
				  1.00, 0.80, 0.50, 0.25, 0.0};

void chem_derate_preset(struct chem_derate *d, const char *name)
{
	chem_derate_defaults(d);
	if (strcmp(name, "lfp280") == 0) {
		d->chg_n = sizeof(lf280k_t) / sizeof(lf280k_t[0]);
		memcpy(d->chg_t, lf280k_t, sizeof(lf280k_t));
		memcpy(d->chg_c, lf280k_f, sizeof(lf280k_f));
	}
}

const struct chem_tabdata *chem_tabdata(const char *name)
{
	static const double rt_t_c[4] = {10.0, 25.0, 40.0, 60.0};
	static const struct chem_tabdata lfp280 = {
	    .rt_ns = 11,
	    .rt_nt = 4,
	    .rt_t_c = rt_t_c,
	    .r_dis = sony_r_dis,
	    .r_chg = sony_r_chg,
	    .hy_n = 101,
	    .hy_v = sony_hyst,
	    .hy_gamma = LFP_HYST_GAMMA,
	    .ds_n = 11,
	    .ds_v = sony_dudt,
	    .cap_n = sizeof(lfp_cap_t) / sizeof(lfp_cap_t[0]),
	    .cap_t = lfp_cap_t,
	    .cap_f = lfp_cap_f,
	};
	if (name && strcmp(name, "lfp280") == 0)
		return &lfp280;
	return NULL;
}

void chem_derate_defaults(struct chem_derate *d)
{
	d->chg_n = 0;
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
