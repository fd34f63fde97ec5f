/*
 * operator.c - what an operator (or an EMS through batsim-modbusd) sets
 * on the racks besides the setpoint: contactors opened by hand, and the
 * SoC reserve window (docs/control-protocol.md, "contactor" and
 * "soc_reserve").
 *
 * Kept apart from bms.c on purpose: the BMS derates from the cell physics
 * (bms_limits); the reserve window is an operator's policy applied after
 * it as one more factor on the limits it computed.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "engine_internal.h"

/* The reserve ramps over this much SoC: full limit 1 % inside the window,
 * 0 at its edge (the style of the voltage derating in bms.c). */
#define OP_RESERVE_RAMP 0.01

static double clamp01(double x)
{
	return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

void op_limits(struct engine *e)
{
	int lo = e->rsv_min > 0.0, hi = e->rsv_max < 1.0;

	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		const struct bsm_stats *s = &e->rstats[r];
		double soc;

		if (k->op_open) {
			k->charge_lim_a = k->discharge_lim_a = 0.0;
			continue;
		}
		if (!lo && !hi)
			continue;
		/* the rack's mean SoC, as the soc_high/soc_low alarms */
		soc = s->n ? s->soc_sum / s->n : 0.0;
		if (lo)
			k->discharge_lim_a *=
			    clamp01((soc - e->rsv_min) / OP_RESERVE_RAMP);
		if (hi)
			k->charge_lim_a *=
			    clamp01((e->rsv_max - soc) / OP_RESERVE_RAMP);
	}
}

/* Latched protection bits of a rack (any kind). */
static uint32_t prot_latched(const struct eng_rack *k)
{
	uint32_t mask = 0;

	for (unsigned q = 0; q < BS_ALARM_KINDS; q++)
		mask |= BS_ALARM_BIT(BS_TIER_PROTECTION, q);
	return (k->alarm_latched | k->alarm_active) & mask;
}

int engine_contactor(engine *e, int rack, int open, char *err, size_t errlen)
{
	uint32_t r0 = rack < 0 ? 0 : (uint32_t)rack;
	uint32_t r1 = rack < 0 ? e->R : (uint32_t)rack + 1;

	if (rack >= 0 && (uint32_t)rack >= e->R) {
		snprintf(err, errlen, "rack %d out of range: 0 to %u", rack,
			 e->R - 1);
		return -1;
	}
	if (!open) {
		/* all or nothing: a refused rack leaves every rack as it
		 * was, so "close" never half-applies */
		for (uint32_t r = r0; r < r1; r++) {
			const struct eng_rack *k = &e->rk[r];

			if (k->fault_open) {
				snprintf(err, errlen,
					 "rack %u has an open fault: clear "
					 "the open fault first",
					 r);
				return -1;
			}
			if (k->prot_open || prot_latched(k)) {
				snprintf(err, errlen,
					 "rack %u has a latched protection "
					 "alarm: reset the alarm first",
					 r);
				return -1;
			}
		}
	}
	for (uint32_t r = r0; r < r1; r++)
		e->rk[r].op_open = open;
	/* limits as the next step will have them, so that they show at
	 * once even while the simulation is paused */
	bms_limits(e);
	op_limits(e);
	return 0;
}

int engine_rack_operator_open(const engine *e, uint32_t r)
{
	return r < e->R && e->rk[r].op_open;
}

int engine_set_soc_reserve(engine *e, double min, double max, char *err,
			   size_t errlen)
{
	if (!isfinite(min) || !isfinite(max) || min < 0.0 || max > 1.0 ||
	    !(min < max)) {
		snprintf(err, errlen,
			 "SoC reserve min %g, max %g: need 0 <= min < max "
			 "<= 1 (fractions)",
			 min, max);
		return -1;
	}
	e->rsv_min = min;
	e->rsv_max = max;
	bms_limits(e);
	op_limits(e);
	return 0;
}

void engine_soc_reserve(const engine *e, double *min, double *max)
{
	*min = e->rsv_min;
	*max = e->rsv_max;
}
