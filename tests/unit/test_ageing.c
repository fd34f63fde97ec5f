/*
 * test_ageing.c - capacity fade (src/batsimd/ageing.c) through the engine
 * against NREL BLAST-Lite's closed form for the LFP-graphite 250 Ah cell:
 *   - one simulated year at rest (25 degC, 50 % SoC) within 2 % of
 *     k_cal * 365^0.526 (relative to the loss itself), at dt 60 s, and
 *     ten days at dt 1 s (the cadence does not depend on the step);
 *   - 1,000 equivalent full cycles at 0.5 C between 10 % and 90 % SoC
 *     within 5 % of k_cyc * EFC^0.828 + k_cal * t^0.526 with the
 *     stressors this test measures itself from the cell's trajectory;
 *   - ageing_factor accelerates time; the initial SoH with its seeded
 *     spread; the fade fault on top of it; the published aggregates
 *     (module, rack, site) and the weakest cell's location.
 *
 * The reference formulas below are written out again from
 * ../shared/data/lfp/README.md (BLAST-Lite lfp_gr_250AhPrismatic_2019.py
 * and degradation_model.py), independently of ageing.c.
 *
 * TAP by hand (tap.h); each check prints the figures it compares.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "tap.h"
#include "test_engine_cfg.h"

static double ref_ua(double soc)
{
	double xa = 8.5e-3 + soc * (0.78 - 8.5e-3);
	return 0.6379 + 0.5416 * exp(-305.5309 * xa) +
	       0.044 * tanh(-(xa - 0.1958) / 0.1088) -
	       0.1978 * tanh((xa - 1.0571) / 0.0854) -
	       0.6875 * tanh((xa + 0.0117) / 0.0529) -
	       0.0175 * tanh((xa - 0.5692) / 0.0875);
}

static double ref_kcal(double tk, double soc)
{
	return 8.37e4 * exp(-5.21e3 / tk) * exp(-3.56e3 * ref_ua(soc) / tk);
}

static double ref_kcyc_t(double tk)
{
	return exp(2.19e3 / tk) + exp(-1.55e5 / tk);
}

static engine *mk(struct bsd_config *c)
{
	engine *e = NULL;
	char err[256];
	if (engine_create(c, ENG_BACKEND_CPU, &e, err, sizeof err) != 0) {
		printf("# engine_create: %s\n", err);
		return NULL;
	}
	return e;
}

static double rel(double a, double b)
{
	return fabs(a - b) / fabs(b);
}

/* A year at rest, dt 60 s; ten days at dt 1 s. */
static void rest(double dt, double days)
{
	struct bsd_config c;
	struct eng_ageing ag;
	struct bs_cell cell;
	engine *e;
	double ref, t_end = days * 86400.0;
	uint64_t n = (uint64_t)llround(t_end / dt);

	tcfg(&c, 1, 1, 1);
	c.dt_s = dt;
	c.ageing_factor = 1.0;
	e = mk(&c);
	if (!e) {
		ok(0, "engine");
		return;
	}
	while (n > 0) {
		unsigned k = n > 100000 ? 100000u : (unsigned)n;
		engine_step(e, k);
		n -= k;
	}
	engine_cell(e, 0, 0, 0, &cell);
	engine_cell_ageing(e, 0, 0, 0, &ag);
	/* the closed form at the conditions the cell really had */
	ref = ref_kcal(cell.temperature + 273.15, cell.soc) *
	      pow(engine_time_s(e) / 86400.0, 0.526);
	ok(fabs(cell.temperature - 25.0) < 1e-6 && fabs(cell.soc - 0.5) < 1e-6,
	   "rest at dt %g s: cell stays at %.6f degC, SoC %.6f", dt,
	   cell.temperature, cell.soc);
	ok(rel(ag.qloss_cal, ref) < 0.02,
	   "rest %.0f days at dt %g s: calendar loss %.6e vs BLAST closed form "
	   "%.6e (%.3f %% of the loss)",
	   days, dt, ag.qloss_cal, ref, 100.0 * rel(ag.qloss_cal, ref));
	ok(ag.qloss_cyc == 0.0 && fabs(ag.soh - (1.0 - ref)) < 0.02 * ref,
	   "rest: no cycle loss (%g), SoH %.6f = 1 - loss", ag.qloss_cyc,
	   ag.soh);
	engine_destroy(e);
}

/* 1,000 equivalent full cycles at 0.5 C between 10 % and 90 % SoC. */
static void cycles(void)
{
	struct bsd_config c;
	struct eng_ageing ag;
	struct bs_cell cell;
	engine *e;
	double dt = 60.0, i_a, efc = 0.0, smin = 2, smax = -1, prev;
	double kt_int = 0.0, kcal_int = 0.0, t = 0.0, crate_int = 0.0;
	double ref_cyc, ref_cal, crate, dod;
	int dir = 1; /* 1 discharge */

	tcfg(&c, 1, 1, 1);
	c.dt_s = dt;
	c.ageing_factor = 1.0;
	i_a = 0.5 * c.cell.capacity_ah;
	e = mk(&c);
	if (!e) {
		ok(0, "engine");
		return;
	}
	engine_set_setpoint(e, BS_MODE_CURRENT, i_a);
	engine_cell(e, 0, 0, 0, &cell);
	prev = cell.soc;
	while (efc < 1000.0) {
		double s, d;
		engine_step(e, 1);
		engine_cell(e, 0, 0, 0, &cell);
		s = cell.soc;
		d = fabs(s - prev);
		efc += d / 2.0;
		t += dt;
		/* BLAST's stressors, from the trajectory: C-rate as the time
		 * mean of |dSoC/dt| (1/h), the rates' time means */
		crate_int += d / (dt / 3600.0) * dt;
		kt_int += ref_kcyc_t(cell.temperature + 273.15) * dt;
		kcal_int += ref_kcal(cell.temperature + 273.15, s) * dt;
		if (t > 4 * 3600.0) { /* after the first half cycle */
			if (s < smin)
				smin = s;
			if (s > smax)
				smax = s;
		}
		prev = s;
		if (dir == 1 && s <= 0.1) {
			dir = -1;
			engine_set_setpoint(e, BS_MODE_CURRENT, -i_a);
		} else if (dir == -1 && s >= 0.9) {
			dir = 1;
			engine_set_setpoint(e, BS_MODE_CURRENT, i_a);
		}
	}
	engine_cell_ageing(e, 0, 0, 0, &ag);
	dod = smax - smin;
	crate = crate_int / t;
	ref_cyc = (4.38e-8 + 1.55e-8 * dod + 1.68e-7 * crate) * (kt_int / t) *
		  pow(ag.efc, 0.828);
	ref_cal = (kcal_int / t) * pow(t / 86400.0, 0.526);
	ok(rel(ag.efc, efc) < 0.005,
	   "cycling: %.2f equivalent full cycles counted, %.2f measured "
	   "(DOD %.3f, C-rate %.3f, %.0f days)",
	   ag.efc, efc, dod, crate, t / 86400.0);
	ok(ag.efc - ag.efc_applied < 1.0 + 1e-9 && ag.efc_applied > 998.0,
	   "cycling: %.2f cycles in closed windows", ag.efc_applied);
	ok(rel(ag.qloss_cyc, ref_cyc) < 0.05,
	   "cycling: cycle loss %.5e vs BLAST closed form %.5e (%.2f %%)",
	   ag.qloss_cyc, ref_cyc, 100.0 * rel(ag.qloss_cyc, ref_cyc));
	ok(rel(ag.qloss_cal, ref_cal) < 0.05,
	   "cycling: calendar loss %.5e vs closed form %.5e (%.2f %%)",
	   ag.qloss_cal, ref_cal, 100.0 * rel(ag.qloss_cal, ref_cal));
	ok(rel(ag.qloss_cyc + ag.qloss_cal, ref_cyc + ref_cal) < 0.05,
	   "cycling: total loss %.5e vs %.5e, SoH %.4f after 1000 EFC",
	   ag.qloss_cyc + ag.qloss_cal, ref_cyc + ref_cal, ag.soh);
	engine_destroy(e);
}

/* ageing_factor k: t days age like k t days. */
static void factor(void)
{
	struct bsd_config c;
	struct eng_ageing a1, a10;
	engine *e1, *e10;
	tcfg(&c, 1, 1, 1);
	c.dt_s = 60.0;
	c.ageing_factor = 1.0;
	e1 = mk(&c);
	c.ageing_factor = 10.0;
	e10 = mk(&c);
	if (!e1 || !e10) {
		ok(0, "engine");
		return;
	}
	engine_step(e1, 100 * 1440);
	engine_step(e10, 10 * 1440);
	engine_cell_ageing(e1, 0, 0, 0, &a1);
	engine_cell_ageing(e10, 0, 0, 0, &a10);
	ok(rel(a10.qloss_cal, a1.qloss_cal) < 1e-9 && fabs(a10.days - 100) < 1e-6,
	   "ageing_factor 10: 10 days give %.9e (%.3f ageing days), 100 days "
	   "at 1 give %.9e",
	   a10.qloss_cal, a10.days, a1.qloss_cal);
	engine_destroy(e1);
	engine_destroy(e10);
}

/* Initial SoH with its spread; capacity follows it; the fade fault on
 * top; the published aggregates. */
static void initial_and_publish(void)
{
	struct bsd_config c;
	struct eng_ageing ag;
	engine *e;
	double sum = 0, mn = 2;
	size_t n, at = 0;
	int cap_ok = 1;
	tcfg(&c, 2, 3, 8);
	c.variation = 1;
	c.initial_soh = 0.9;
	c.soh_sigma = 0.01;
	c.ageing_factor = 0.0;
	e = mk(&c);
	if (!e) {
		ok(0, "engine");
		return;
	}
	n = e->n_cells;
	for (size_t i = 0; i < n; i++) {
		uint32_t r = (uint32_t)(i / 24), m = (uint32_t)(i / 8 % 3),
			 k = (uint32_t)(i % 8);
		engine_cell_ageing(e, r, m, k, &ag);
		sum += ag.soh;
		if (ag.soh < mn) {
			mn = ag.soh;
			at = i;
		}
		if (fabs(e->a.inv_q[i] * e->var_cap_c[i] * ag.soh - 1.0) > 1e-12)
			cap_ok = 0;
	}
	ok(fabs(sum / n - 0.9) < 0.006 && mn < 0.9 && mn > 0.85,
	   "initial_soh 0.9, sigma 0.01: mean %.4f, min %.4f", sum / n, mn);
	ok(cap_ok, "capacity = the cell's own x SoH for every cell");

	{
		struct eng_fault f = {.kind = BS_FAULT_FADE,
				      .rack = 1,
				      .module = 2,
				      .cell = 7,
				      .value = 0.5};
		char err[200];
		struct eng_ageing a2;
		ok(engine_fault_inject(e, &f, err, sizeof err) == 0, "fade fault");
		engine_cell_ageing(e, 1, 2, 7, &a2);
		ok(fabs(a2.soh - 0.5 * a2.soh_ageing) < 1e-12,
		   "fade 0.5 on top of SoH %.4f: published %.4f", a2.soh_ageing,
		   a2.soh);
		mn = a2.soh;
		at = n - 1;
	}
	{
		struct bs_site site;
		struct bs_rack racks[2];
		struct bs_module mods[6];
		struct bs_cell cells[48];
		struct bs_module_ext mx[6];
		struct bs_cell_ext cx[48];
		struct bs_slot_view v = {&site, racks, mods, cells, 0};
		engine_fill(e, &v);
		engine_fill_ext(e, mx, cx);
		ok(fabs(site.soh_min - (float)mn) < 1e-7 && site.soh_min_rack == 1 &&
		       site.soh_min_cell == 23 && racks[1].soh_min_cell == 23 &&
		       mx[5].soh_min_cell == 7 && fabs(cx[at].soh - (float)mn) < 1e-7,
		   "weakest cell published: site %.4f at rack %u cell %u, module "
		   "cell %u, cell record %.4f",
		   site.soh_min, site.soh_min_rack, site.soh_min_cell,
		   mx[5].soh_min_cell, cx[at].soh);
		double r1 = 0.0, all = 0.0;
		for (int i = 0; i < 48; i++) {
			all += cx[i].soh;
			if (i >= 24)
				r1 += cx[i].soh;
		}
		ok(fabs(site.soh_mean - all / 48) < 1e-6 &&
		       fabs(racks[1].soh_mean - r1 / 24) < 1e-6,
		   "means: site %.5f (cells %.5f), rack 1 %.5f (cells %.5f)",
		   site.soh_mean, all / 48, racks[1].soh_mean, r1 / 24);
	}
	engine_destroy(e);
}

int main(void)
{
	printf("1..20\n");
	ok(rel(ref_kcal(298.15, 0.5), 4.946233e-4) < 1e-6,
	   "reference k_cal(25 degC, 50 %%) = %.6e (4.946233e-4 from the "
	   "README's formula, evaluated separately)",
	   ref_kcal(298.15, 0.5));
	ok(rel(ag_kcal(298.15, 0.5), ref_kcal(298.15, 0.5)) < 1e-12 &&
	       rel(ag_kcal(318.15, 0.9), ref_kcal(318.15, 0.9)) < 1e-12 &&
	       rel(ag_kcyc(283.15, 0.8, 0.5),
		   (4.38e-8 + 1.55e-8 * 0.8 + 1.68e-7 * 0.5) *
		       ref_kcyc_t(283.15)) < 1e-12,
	   "ageing.c's rates agree with the reference");
	rest(60.0, 365.0);
	rest(1.0, 10.0);
	cycles();
	factor();
	initial_and_publish();
	return tap_done();
}
