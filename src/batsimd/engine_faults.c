/*
 * engine_faults.c - fault injection.  The per-cell parameters are rebuilt
 * from the cell-to-cell variation and the list of active faults whenever
 * that list changes, so a clear restores exactly what was there.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"

static const char *const kind_names[BS_FAULT_KINDS] = {
    "short",	    "high_r",	     "fade", "cooling",
    "sensor_stuck", "sensor_offset", "open", "runaway"};

static int rack_level(uint32_t kind)
{
	return kind == BS_FAULT_COOLING || kind == BS_FAULT_OPEN;
}

/* Is cell (r, m, c) in the scope of fault f? */
static int in_scope(const struct eng_fault *f, uint32_t r, uint32_t m,
		    uint32_t c)
{
	return (uint32_t)f->rack == r &&
	       (f->module < 0 || (uint32_t)f->module == m) &&
	       (f->cell < 0 || (uint32_t)f->cell == c);
}

/* Which modules have no cell with a leak, a runaway threshold or a
 * sensor fault (offset or stuck): e->mplain, read by the CPU backend. */
static void faults_plain(struct engine *e)
{
	const struct bsm_arrays *a = &e->a;
	for (size_t m = 0; m < e->n_mod; m++) {
		int plain = 1;
		for (size_t i = m * e->C; i < (m + 1) * e->C && plain; i++)
			plain = a->leak_s[i] == 0.0 && a->runaway_c[i] >= 1e30 &&
				a->sv_off[i] == 0.0f && a->st_off[i] == 0.0f &&
				a->sv_stuck[i] != a->sv_stuck[i] &&
				a->st_stuck[i] != a->st_stuck[i];
		e->mplain[m] = (uint8_t)plain;
	}
}

void faults_apply(struct engine *e)
{
	struct bsm_arrays *a = &e->a;
	const double *soh = e->ag ? ag_soh(e->ag) : NULL;
	for (size_t i = 0; i < e->n_cells; i++) {
		/* capacity: the cell's own, times its SoH (ageing.c) */
		e->cap_frac[i] = soh ? soh[i] : 1.0;
		a->inv_q[i] = 1.0 / (e->var_cap_c[i] * e->cap_frac[i]);
		a->r0_mult[i] = e->var_r0[i];
		a->leak_s[i] = 0.0;
		a->runaway_c[i] = 1e30;
		a->sv_off[i] = 0.0f;
		a->st_off[i] = 0.0f;
	}
	for (uint32_t r = 0; r < e->R; r++) {
		e->rk[r].ha_mult = 1.0;
		e->rk[r].fault_open = 0;
		e->rk[r].fault_bits = 0;
	}
	for (unsigned k = 0; k < e->n_faults; k++) {
		const struct eng_fault *f = &e->faults[k].f;
		uint32_t r = (uint32_t)f->rack;
		e->rk[r].fault_bits |= 1u << f->kind;
		if (f->kind == BS_FAULT_COOLING) {
			e->rk[r].ha_mult *= f->value;
			continue;
		}
		if (f->kind == BS_FAULT_OPEN) {
			e->rk[r].fault_open = 1;
			continue;
		}
		for (uint32_t m = 0; m < e->M; m++)
			for (uint32_t c = 0; c < e->C; c++) {
				size_t i = ((size_t)r * e->M + m) * e->C + c;
				if (!in_scope(f, r, m, c))
					continue;
				switch (f->kind) {
				case BS_FAULT_SHORT:
					a->leak_s[i] += 1.0 / f->value;
					break;
				case BS_FAULT_HIGH_R:
					a->r0_mult[i] *= f->value;
					break;
				case BS_FAULT_FADE:
					a->inv_q[i] /= f->value;
					e->cap_frac[i] *= f->value;
					break;
				case BS_FAULT_SENSOR_OFFSET:
					if (f->quantity == 0)
						a->sv_off[i] += (float)f->value;
					else
						a->st_off[i] += (float)f->value;
					break;
				case BS_FAULT_RUNAWAY:
					if (f->value < a->runaway_c[i])
						a->runaway_c[i] = f->value;
					break;
				default:
					break;
				}
			}
	}
	if (e->rin)
		eng_rin_thermal(e);
	faults_plain(e);
}

/* Is cell (r, m, c) covered by an active stuck fault on quantity q? */
static int stuck_elsewhere(const struct engine *e, uint32_t q, uint32_t r,
			   uint32_t m, uint32_t c)
{
	for (unsigned k = 0; k < e->n_faults; k++) {
		const struct eng_fault *g = &e->faults[k].f;
		if (g->kind == BS_FAULT_SENSOR_STUCK && g->quantity == q &&
		    in_scope(g, r, m, c))
			return 1;
	}
	return 0;
}

/* Set or release the stuck sensors of f's scope.  Set: a sensor that is
 * not stuck yet freezes at the present true value (one already stuck by
 * an overlapping fault keeps its frozen value).  Release (f already
 * removed from the list): only where no other stuck fault on the same
 * quantity still covers the cell. */
static void stuck_set(struct engine *e, const struct eng_fault *f, int on)
{
	const double *t = eng_tcur(e);
	uint32_t r = (uint32_t)f->rack;
	float *stuck = f->quantity == 0 ? e->a.sv_stuck : e->a.st_stuck;
	for (uint32_t m = 0; m < e->M; m++)
		for (uint32_t c = 0; c < e->C; c++) {
			size_t i = ((size_t)r * e->M + m) * e->C + c;
			if (!in_scope(f, r, m, c))
				continue;
			if (on) {
				if (stuck[i] == stuck[i]) /* not NaN */
					continue;
				stuck[i] = f->quantity == 0 ? (float)e->a.v[i]
							    : (float)t[i];
			} else if (!stuck_elsewhere(e, f->quantity, r, m, c)) {
				stuck[i] = NAN;
			}
		}
}

static int validate(const struct engine *e, const struct eng_fault *f,
		    int inject, char *err, size_t len)
{
	if (f->kind >= BS_FAULT_KINDS) {
		snprintf(err, len,
			 "unknown fault kind %u (short, high_r, fade, "
			 "cooling, sensor_stuck, sensor_offset, open, runaway)",
			 f->kind);
		return -1;
	}
	if (f->rack < 0 || (uint32_t)f->rack >= e->R) {
		snprintf(err, len, "fault %s: rack %d out of range (0..%u)",
			 kind_names[f->kind], f->rack, e->R - 1);
		return -1;
	}
	if (rack_level(f->kind) && (f->module >= 0 || f->cell >= 0)) {
		snprintf(err, len,
			 "fault %s applies to a whole rack: give no "
			 "module or cell",
			 kind_names[f->kind]);
		return -1;
	}
	if (f->module >= 0 && (uint32_t)f->module >= e->M) {
		snprintf(err, len, "fault %s: module %d out of range (0..%u)",
			 kind_names[f->kind], f->module, e->M - 1);
		return -1;
	}
	if (f->cell >= 0 && (uint32_t)f->cell >= e->C) {
		snprintf(err, len, "fault %s: cell %d out of range (0..%u)",
			 kind_names[f->kind], f->cell, e->C - 1);
		return -1;
	}
	if (f->cell >= 0 && f->module < 0) {
		snprintf(err, len, "fault %s: a cell needs its module",
			 kind_names[f->kind]);
		return -1;
	}
	if ((f->kind == BS_FAULT_SENSOR_STUCK ||
	     f->kind == BS_FAULT_SENSOR_OFFSET) &&
	    f->quantity > 1) {
		snprintf(err, len,
			 "fault %s: quantity must be voltage (0) or "
			 "temperature (1)",
			 kind_names[f->kind]);
		return -1;
	}
	if (!inject)
		return 0;
	if (!isfinite(f->value)) {
		snprintf(err, len, "fault %s: value is not a number",
			 kind_names[f->kind]);
		return -1;
	}
	switch (f->kind) {
	case BS_FAULT_SHORT:
		if (!(f->value > 0)) {
			snprintf(err, len,
				 "fault short: the leak resistance "
				 "must be > 0 ohm (e.g. 0.5)");
			return -1;
		}
		break;
	case BS_FAULT_HIGH_R:
		if (!(f->value > 0) || f->value > 1000) {
			snprintf(err, len,
				 "fault high_r: the R0 factor must be "
				 "in (0, 1000] (e.g. 3)");
			return -1;
		}
		break;
	case BS_FAULT_FADE:
		if (!(f->value > 0.01) || f->value > 1.0) {
			snprintf(err, len,
				 "fault fade: the remaining capacity "
				 "fraction must be in (0.01, 1] (e.g. 0.8)");
			return -1;
		}
		break;
	case BS_FAULT_COOLING:
		if (!(f->value > 0.0) || f->value > 10.0) {
			snprintf(err, len,
				 "fault cooling: the hA factor must be "
				 "in (0, 10] (e.g. 0.1 for a failed fan)");
			return -1;
		}
		break;
	case BS_FAULT_RUNAWAY:
		if (f->value < -50 || f->value > 600) {
			snprintf(err, len,
				 "fault runaway: the threshold must be "
				 "in [-50, 600] degC (e.g. 80)");
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

static int same_place(const struct eng_fault *a, const struct eng_fault *b)
{
	return a->kind == b->kind && a->rack == b->rack &&
	       a->module == b->module && a->cell == b->cell &&
	       ((a->kind != BS_FAULT_SENSOR_STUCK &&
		 a->kind != BS_FAULT_SENSOR_OFFSET) ||
		a->quantity == b->quantity);
}

int faults_sync_backend(struct engine *e)
{
	faults_apply(e);
	e->dirty = 1;
	return eng_params_to_backend(e);
}

int engine_fault_inject(engine *e, const struct eng_fault *f, char *err,
			size_t errlen)
{
	unsigned k;
	if (validate(e, f, 1, err, errlen) < 0)
		return -1;
	for (k = 0; k < e->n_faults; k++)
		if (same_place(&e->faults[k].f, f))
			break;
	if (k == e->n_faults) {
		if (e->n_faults == ENG_MAX_FAULTS) {
			snprintf(err, errlen,
				 "too many faults (%u): clear some "
				 "first",
				 ENG_MAX_FAULTS);
			return -1;
		}
		e->n_faults++;
	}
	e->faults[k].f = *f;
	if (f->kind == BS_FAULT_SENSOR_STUCK) {
		eng_sync_to_host(e);
		stuck_set(e, f, 1);
	}
	if (faults_sync_backend(e) < 0) {
		snprintf(err, errlen,
			 "fault %s: the backend did not accept "
			 "the new parameters",
			 kind_names[f->kind]);
		return -1;
	}
	return 0;
}

int engine_fault_clear(engine *e, const struct eng_fault *f, char *err,
		       size_t errlen)
{
	unsigned k, found = 0;
	if (validate(e, f, 0, err, errlen) < 0)
		return -1;
	for (k = 0; k < e->n_faults;) {
		if (same_place(&e->faults[k].f, f)) {
			struct eng_fault gone = e->faults[k].f;
			e->faults[k] = e->faults[--e->n_faults];
			if (gone.kind == BS_FAULT_SENSOR_STUCK)
				stuck_set(e, &gone, 0);
			found++;
		} else {
			k++;
		}
	}
	if (!found) {
		snprintf(err, errlen,
			 "no %s fault at rack %d module %d cell %d "
			 "(list them with batsimctl alarms or the control "
			 "socket)",
			 kind_names[f->kind], f->rack, f->module, f->cell);
		return -1;
	}
	if (faults_sync_backend(e) < 0) {
		snprintf(err, errlen,
			 "fault %s: the backend did not accept "
			 "the new parameters",
			 kind_names[f->kind]);
		return -1;
	}
	return 0;
}

unsigned engine_faults(const engine *e, struct eng_fault *out, unsigned max)
{
	for (unsigned k = 0; k < e->n_faults && k < max; k++)
		out[k] = e->faults[k].f;
	return e->n_faults;
}
