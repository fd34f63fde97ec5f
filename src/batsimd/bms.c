/*
 * bms.c - the battery management system of each rack: current derating,
 * alarms in warning / alarm / protection tiers, latching, protection.
 *
 * Inputs are the measured (sensor) cell voltages and temperatures of the
 * last step, as a real BMS sees them.  Thresholds come from cfg_bms
 * (defaults in chemistry.c, data/chemistry/SOURCES.md "BMS limits").
 *
 * Derating from the model.  Each cell's terminal voltage after the next
 * step is affine in the rack current, V = E' - R' I (model.h), so the
 * current that puts the weakest cell exactly on the cut-off is known
 * before the step: the discharge limit is min over cells of
 * (E' - V_dis)/R', the charge limit min of (V_chg - E')/R', with the cut-off
 * voltages between the warning and alarm tiers and inside [v_min, v_max]
 * (engine.c setup_chem).  No lag, hence no oscillation at any current,
 * window or step.  Holding the highest cell at V_chg is the CV phase of a
 * CC-CV charge; it ends when the CV current falls to C/20 or the fullest
 * cell reaches soc 1 exactly (ilim_full), and the charge stays off until
 * the rack discharges at C/20 or more (chg_done).  A discharge likewise
 * ends at its cut-off when the current it allows falls to C/20 (dis_done,
 * until the rack charges).  Temperature: the windows of struct chem_derate, or the
 * LF280K charge table (lfp280).
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

/* Charge current allowed by the temperature table at t (A), 0 outside. */
static double chg_table(const struct chem_derate *d, double t, double cap_ah)
{
	unsigned n = d->chg_n;
	if (t < d->chg_t[0] || t > d->chg_t[n - 1])
		return 0.0;
	for (unsigned i = 1; i < n; i++)
		if (t <= d->chg_t[i])
			return cap_ah *
			       (d->chg_c[i - 1] + (d->chg_c[i] - d->chg_c[i - 1]) *
						      (t - d->chg_t[i - 1]) /
						      (d->chg_t[i] - d->chg_t[i - 1]));
	return cap_ah * d->chg_c[n - 1];
}

void bms_limits(struct engine *e)
{
	const struct cfg_bms *b = &e->cfg.bms;
	const struct chem_derate *d = &e->derate;
	/* the end of a charge or discharge: C/20, or a tenth of the rack
	 * limit where that is smaller */
	double cut = 0.05 * e->cfg.cell.capacity_ah;
	double cut_c = cut < 0.1 * b->max_charge_a ? cut : 0.1 * b->max_charge_a;
	double cut_d =
	    cut < 0.1 * b->max_discharge_a ? cut : 0.1 * b->max_discharge_a;
	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		const struct bsm_stats *s = &e->rstats[r];
		double lc, ld, mc, md;
		if (k->fault_open || k->prot_open) {
			k->charge_lim_a = k->discharge_lim_a = 0.0;
			continue;
		}
		/* the end of charge holds until a discharge of at least the
		 * cut-off current (not the circulating currents of a site at
		 * rest), and back */
		if (e->rin[r].i_a > cut_d)
			k->chg_done = 0;
		if (e->rin[r].i_a < -cut_c)
			k->dis_done = 0;
		/* the model: the current that puts the weakest cell on the
		 * cut-off after the step (and no cell past soc 1) */
		mc = s->ilim_chg < s->ilim_full ? s->ilim_chg : s->ilim_full;
		md = s->ilim_dis;
		if (mc < cut_c)
			k->chg_done = 1;
		if (md < cut_d)
			k->dis_done = 1;
		/* the worst cell decides: a trapezoid's minimum over
		 * [tmin, tmax] is at one of the ends */
		{
			double b1 =
			    window(s->tmin, d->dis_t0_lo, d->dis_full_lo,
				   d->dis_full_hi, d->dis_t0_hi);
			double b2 =
			    window(s->tmax, d->dis_t0_lo, d->dis_full_lo,
				   d->dis_full_hi, d->dis_t0_hi);
			ld = b->max_discharge_a * (b1 < b2 ? b1 : b2);
			if (d->chg_n) {
				double c1 = chg_table(d, s->tmin,
						      e->cfg.cell.capacity_ah);
				double c2 = chg_table(d, s->tmax,
						      e->cfg.cell.capacity_ah);
				lc = c1 < c2 ? c1 : c2;
				if (lc > b->max_charge_a)
					lc = b->max_charge_a;
			} else {
				double a1 =
				    window(s->tmin, d->chg_t0_lo,
					   d->chg_full_lo, d->chg_full_hi,
					   d->chg_t0_hi);
				double a2 =
				    window(s->tmax, d->chg_t0_lo,
					   d->chg_full_lo, d->chg_full_hi,
					   d->chg_t0_hi);
				lc = b->max_charge_a * (a1 < a2 ? a1 : a2);
			}
		}
		if (mc < lc)
			lc = mc;
		if (md < ld)
			ld = md;
		k->charge_lim_a = k->chg_done || lc < 0.0 ? 0.0 : lc;
		k->discharge_lim_a = k->dis_done || ld < 0.0 ? 0.0 : ld;
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
