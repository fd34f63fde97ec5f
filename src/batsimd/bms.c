/*
 * bms.c - the battery management system of each rack: current derating,
 * alarms in warning / alarm / protection tiers, latching, protection.
 *
 * Inputs are the measured (sensor) cell voltages and temperatures of the
 * last step, as a real BMS sees them.  Thresholds come from cfg_bms
 * (defaults in chemistry.c, data/chemistry/SOURCES.md "BMS limits").
 *
 * Derating (OpenEMS Soltaro LFP table, generalised with the OV/UV tiers):
 *   charge:    100 % up to ov[warning], linear to 2 % at
 *              ov[prot] - (ov[prot] - ov[warning]) / 4, 0 at ov[prot]
 *              (LFP: 3.45 V, 3.60 V, 3.65 V)
 *   discharge: 0 at or below uv[alarm], full from uv[warning]
 *              (LFP: 2.90 V, 3.00 V)
 *   temperature windows: struct chem_derate.
 */
#include "config.h"

#include <string.h>

#include "engine_internal.h"

/* Linear ramp: 0 at x0, 1 at x1 (x0 < x1: rising; x0 > x1: falling). */
static double ramp(double x, double x0, double x1)
{
	/* equal thresholds (the config allows them): a step, not 0/0 */
	if (x1 == x0)
		return x >= x1 ? 1.0 : 0.0;
	double f = (x - x0) / (x1 - x0);
	return f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
}

/* Trapezoid window: 0 at or below lo0, 1 on [lo1, hi1], 0 at hi0. */
static double window(double x, double lo0, double lo1, double hi1, double hi0)
{
	if (x < lo1)
		return lo1 > lo0 ? ramp(x, lo0, lo1) : 0.0;
	if (x > hi1)
		return hi0 > hi1 ? ramp(x, hi0, hi1) : 0.0;
	return 1.0;
}

static double charge_v_factor(const struct cfg_bms *b, double v)
{
	double w = b->cell_ov_v[0], p = b->cell_ov_v[2];
	double k = p - (p - w) / 4.0; /* 2 % point */
	if (v <= w)
		return 1.0;
	if (v >= p)
		return 0.0;
	if (v <= k)
		return 1.0 - 0.98 * (v - w) / (k - w);
	return 0.02 * (p - v) / (p - k);
}

void bms_limits(struct engine *e)
{
	const struct cfg_bms *b = &e->cfg.bms;
	const struct chem_derate *d = &e->derate;
	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		const struct bsm_stats *s = &e->rstats[r];
		double fc, fd;
		if (k->fault_open || k->prot_open) {
			k->charge_lim_a = k->discharge_lim_a = 0.0;
			continue;
		}
		fc = charge_v_factor(b, s->vmax);
		fd = ramp(s->vmin, b->cell_uv_v[1], b->cell_uv_v[0]);
		/* the worst cell decides: a trapezoid's minimum over
		 * [tmin, tmax] is at one of the ends */
		{
			double a1 =
			    window(s->tmin, d->chg_t0_lo, d->chg_full_lo,
				   d->chg_full_hi, d->chg_t0_hi);
			double a2 =
			    window(s->tmax, d->chg_t0_lo, d->chg_full_lo,
				   d->chg_full_hi, d->chg_t0_hi);
			double b1 =
			    window(s->tmin, d->dis_t0_lo, d->dis_full_lo,
				   d->dis_full_hi, d->dis_t0_hi);
			double b2 =
			    window(s->tmax, d->dis_t0_lo, d->dis_full_lo,
				   d->dis_full_hi, d->dis_t0_hi);
			fc *= a1 < a2 ? a1 : a2;
			fd *= b1 < b2 ? b1 : b2;
		}
		k->charge_lim_a = b->max_charge_a * fc;
		k->discharge_lim_a = b->max_discharge_a * fd;
	}
}

/* Does tier `tier` of `kind` hold in rack r now?  *cell: the cell that
 * raises it (flat index in the rack). */
int bms_condition(const struct engine *e, uint32_t r, unsigned tier,
		  unsigned kind, uint32_t *cell)
{
	const struct cfg_bms *b = &e->cfg.bms;
	const struct bsm_stats *s = &e->rstats[r];
	double soc = s->n ? s->soc_sum / s->n : 0.0;
	double vmean = s->n ? s->v_meas_sum / s->n : 0.0;
	double tmean = s->n ? s->t_meas_sum / s->n : 0.0;
	switch (kind) {
	case BS_ALARM_CELL_OV:
		*cell = s->vmax_i;
		return s->vmax >= b->cell_ov_v[tier];
	case BS_ALARM_CELL_UV:
		*cell = s->vmin_i;
		return s->vmin <= b->cell_uv_v[tier];
	case BS_ALARM_CELL_OT:
		*cell = s->tmax_i;
		return s->tmax >= b->cell_ot_c[tier];
	case BS_ALARM_CELL_UT:
		*cell = s->tmin_i;
		return s->tmin <= b->cell_ut_c[tier];
	case BS_ALARM_V_SPREAD:
		/* the cell furthest from the mean */
		*cell =
		    s->vmax - vmean > vmean - s->vmin ? s->vmax_i : s->vmin_i;
		return s->vmax - s->vmin >= b->v_spread_v[tier];
	case BS_ALARM_T_SPREAD:
		*cell =
		    s->tmax - tmean > tmean - s->tmin ? s->tmax_i : s->tmin_i;
		return s->tmax - s->tmin >= b->t_spread_c[tier];
	case BS_ALARM_SOC_HIGH:
		*cell = s->vmax_i;
		return soc >= b->soc_high[tier];
	case BS_ALARM_SOC_LOW:
		*cell = s->vmin_i;
		return soc <= b->soc_low[tier];
	default:
		*cell = 0;
		return 0;
	}
}

void bms_eval(struct engine *e, double t)
{
	double delay = e->cfg.bms.protection_delay_s;
	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		uint32_t active = 0;
		for (unsigned q = 0; q < BS_ALARM_KINDS; q++) {
			uint32_t kind_mask = 0, cell = 0;
			for (unsigned tier = 0; tier < BS_TIERS; tier++) {
				uint32_t c;
				int on = bms_condition(e, r, tier, q, &c);
				if (tier == BS_TIER_PROTECTION) {
					if (!on) {
						k->prot_since[q] = -1.0;
					} else {
						if (k->prot_since[q] < 0)
							k->prot_since[q] = t;
						on = t - k->prot_since[q] >=
						     delay;
					}
				}
				if (on) {
					kind_mask |= BS_ALARM_BIT(tier, q);
					cell = c;
				}
			}
			if (kind_mask) {
				uint32_t all = 0;
				for (unsigned tier = 0; tier < BS_TIERS; tier++)
					all |= BS_ALARM_BIT(tier, q);
				k->alarm_src[q] = cell;
				if (!(k->alarm_latched & all)) {
					/* first time this kind latches */
					k->alarm_cell[q] = cell;
					k->alarm_time_s[q] = t;
				}
				active |= kind_mask;
				if (kind_mask &
				    BS_ALARM_BIT(BS_TIER_PROTECTION, q))
					k->prot_open = 1;
			}
		}
		k->alarm_active = active;
		k->alarm_latched |= active;
	}
}

void bms_reset(struct engine *e, int rack)
{
	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		int prot_holds = 0;
		if (rack >= 0 && (uint32_t)rack != r)
			continue;
		for (unsigned q = 0; q < BS_ALARM_KINDS; q++) {
			uint32_t all = 0, c;
			for (unsigned tier = 0; tier < BS_TIERS; tier++)
				all |= BS_ALARM_BIT(tier, q);
			if (!(k->alarm_active & all)) {
				k->alarm_cell[q] = 0;
				k->alarm_time_s[q] = 0.0;
			}
			if (bms_condition(e, r, BS_TIER_PROTECTION, q, &c))
				prot_holds = 1;
		}
		k->alarm_latched = k->alarm_active;
		if (k->prot_open && !prot_holds) {
			k->prot_open = 0;
			for (unsigned q = 0; q < BS_ALARM_KINDS; q++)
				k->prot_since[q] = -1.0;
			/* the protection bits go with the condition */
			for (unsigned q = 0; q < BS_ALARM_KINDS; q++)
				k->alarm_active &=
				    ~BS_ALARM_BIT(BS_TIER_PROTECTION, q);
			k->alarm_latched = k->alarm_active;
		}
	}
}
