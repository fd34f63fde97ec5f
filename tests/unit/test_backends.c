/*
 * test_backends.c - the CUDA backend computes what the CPU backend does.
 *
 * Same configuration and seed on both backends, variation on, one
 * simulated hour of 0.5 C discharge; then every cell is compared:
 * max |dV| < 1 mV, max |dT| < 0.01 K, max |dsoc| < 1e-5.  Then a fault
 * scenario and the telemetry records (engine_fill) are compared too.
 *
 * TAP output written by hand (no Check), so that scripts/gpu-check.sh can
 * build it on a GPU machine without the Check library.  Without a CUDA
 * device (or without CUDA support) it skips: "1..0 # SKIP ..." with exit
 * status 0 under the automake TAP driver, 77 when run by hand.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "tap.h"
#include "test_engine_cfg.h"

struct diff {
	double v, t, soc, i1, r0, h, r1, lim, soh;
};

static void compare(engine *cpu, engine *gpu, struct diff *d)
{
	const double *tc, *tg;
	memset(d, 0, sizeof(*d));
	eng_sync_to_host(gpu);
	tc = eng_tcur(cpu);
	tg = eng_tcur(gpu);
	for (size_t i = 0; i < cpu->n_cells; i++) {
		double x;
		x = fabs(cpu->a.v[i] - gpu->a.v[i]);
		if (x > d->v || x != x)
			d->v = x != x ? INFINITY : x;
		x = fabs(tc[i] - tg[i]);
		if (x > d->t || x != x)
			d->t = x != x ? INFINITY : x;
		x = fabs((cpu->a.soc[i] + cpu->a.soc_c[i]) -
			 (gpu->a.soc[i] + gpu->a.soc_c[i]));
		if (x > d->soc || x != x)
			d->soc = x != x ? INFINITY : x;
		x = fabs(cpu->a.i1[i] - gpu->a.i1[i]);
		if (x > d->i1 || x != x)
			d->i1 = x != x ? INFINITY : x;
		x = fabs(cpu->a.r0[i] - gpu->a.r0[i]);
		if (x > d->r0 || x != x)
			d->r0 = x != x ? INFINITY : x;
		x = fabs(cpu->a.h[i] - gpu->a.h[i]);
		if (x > d->h || x != x)
			d->h = x != x ? INFINITY : x;
		x = fabs(cpu->a.r1[i] - gpu->a.r1[i]);
		if (x > d->r1 || x != x)
			d->r1 = x != x ? INFINITY : x;
		/* ageing runs on the host from each backend's SoC and T */
		x = fabs(cpu->cap_frac[i] - gpu->cap_frac[i]);
		if (x > d->soh || x != x)
			d->soh = x != x ? INFINITY : x;
	}
	/* the BMS limits from the model (E', R' of every cell) */
	for (uint32_t r = 0; r < cpu->R; r++) {
		double x = fabs(cpu->rk[r].charge_lim_a - gpu->rk[r].charge_lim_a) +
			   fabs(cpu->rk[r].discharge_lim_a -
				gpu->rk[r].discharge_lim_a);
		if (cpu->rk[r].chg_done != gpu->rk[r].chg_done ||
		    cpu->rk[r].dis_done != gpu->rk[r].dis_done)
			x = INFINITY;
		if (x > d->lim || x != x)
			d->lim = x != x ? INFINITY : x;
	}
}

static void check_diff(engine *cpu, engine *gpu, const char *what)
{
	struct diff d;
	compare(cpu, gpu, &d);
	ok(d.v < 1e-3, "%s: max |dV| = %.3g V < 1 mV", what, d.v);
	ok(d.t < 1e-2, "%s: max |dT| = %.3g K < 0.01 K", what, d.t);
	ok(d.soc < 1e-5, "%s: max |dsoc| = %.3g < 1e-5", what, d.soc);
	ok(d.r0 < 1e-9, "%s: max |dR0| = %.3g ohm", what, d.r0);
	ok(d.h < 1e-6, "%s: max |dh| (hysteresis) = %.3g", what, d.h);
	ok(d.r1 < 1e-9, "%s: max |dR1| = %.3g ohm", what, d.r1);
	ok(d.lim < 1e-3, "%s: rack limits and end-of-charge agree (%.3g A)",
	   what, d.lim);
	ok(d.soh < 1e-9 && cpu->cap_frac[0] < 1.0,
	   "%s: max |dSoH| = %.3g (SoH %.6f)", what, d.soh, cpu->cap_frac[0]);
	ok(fabs(cpu->v_bus - gpu->v_bus) < 1e-3 * cpu->R * 0 + 0.01,
	   "%s: bus voltage %.6f (cpu) vs %.6f (cuda)", what, cpu->v_bus,
	   gpu->v_bus);
}

struct view {
	struct bs_slot_view v;
	struct bs_site site;
};

static int view_alloc(struct view *w, const engine *e, void *cells_mem)
{
	w->v.site = &w->site;
	w->v.racks = calloc(e->R, sizeof(struct bs_rack));
	w->v.modules = calloc(e->n_mod, sizeof(struct bs_module));
	w->v.cells =
	    cells_mem ? cells_mem : calloc(e->n_cells, sizeof(struct bs_cell));
	return w->v.racks && w->v.modules && w->v.cells ? 0 : -1;
}

static void compare_fill(engine *cpu, engine *gpu, void *gpu_cells,
			 const char *what)
{
	struct view a, b;
	double dv = 0, dt = 0, ds = 0, di = 0;
	if (view_alloc(&a, cpu, NULL) < 0 ||
	    view_alloc(&b, gpu, gpu_cells) < 0) {
		ok(0, "%s: out of memory", what);
		return;
	}
	engine_fill(cpu, &a.v);
	engine_fill(gpu, &b.v);
	for (size_t i = 0; i < cpu->n_cells; i++) {
		dv =
		    fmax(dv, fabs(a.v.cells[i].voltage - b.v.cells[i].voltage));
		dt = fmax(dt, fabs(a.v.cells[i].temperature -
				   b.v.cells[i].temperature));
		ds = fmax(ds, fabs(a.v.cells[i].soc - b.v.cells[i].soc));
		di =
		    fmax(di, fabs(a.v.cells[i].current - b.v.cells[i].current));
	}
	ok(dv < 1e-3 && dt < 1e-2 && ds < 1e-5 && di < 1e-3,
	   "%s: records agree (dV %.3g, dT %.3g, dsoc %.3g, dI %.3g)", what, dv,
	   dt, ds, di);
	ok(fabs(a.site.power_w - b.site.power_w) <=
	       1e-3 * fabs(a.site.power_w) + 1.0,
	   "%s: site power %.1f W (cpu) vs %.1f W (cuda)", what, a.site.power_w,
	   b.site.power_w);
	ok(a.site.racks_closed == b.site.racks_closed &&
	       a.v.racks[0].alarm_latched == b.v.racks[0].alarm_latched,
	   "%s: contactors and alarms agree", what);
	free(a.v.racks);
	free(a.v.modules);
	free(a.v.cells);
	free(b.v.racks);
	free(b.v.modules);
	if (!gpu_cells)
		free(b.v.cells);
}

/* The CUDA engine's snapshot of time 0: cells inside the chemistry
 * window, every closed rack's string voltage at the bus voltage. */
static void first_fill_physical(engine *gpu, const struct bsd_config *c)
{
	struct view w;
	float vmin = 1e30f, vmax = -1e30f, dbus = 0.0f;
	if (view_alloc(&w, gpu, NULL) < 0) {
		ok(0, "first fill: out of memory");
		return;
	}
	engine_fill(gpu, &w.v);
	for (size_t i = 0; i < gpu->n_cells; i++) {
		vmin = fminf(vmin, w.v.cells[i].voltage);
		vmax = fmaxf(vmax, w.v.cells[i].voltage);
	}
	for (uint32_t r = 0; r < gpu->R; r++)
		dbus = fmaxf(
		    dbus, fabsf(w.v.racks[r].voltage_v - w.site.bus_voltage_v));
	ok(vmin >= c->cell.v_min && vmax <= c->cell.v_max && dbus < 1e-3f &&
	       w.site.bus_voltage_v > 0.0f,
	   "cuda first fill: cells %.4f..%.4f V, bus %.3f V (racks within "
	   "%.2g V)",
	   vmin, vmax, w.site.bus_voltage_v, dbus);
	free(w.v.racks);
	free(w.v.modules);
	free(w.v.cells);
}

int main(void)
{
	struct bsd_config c;
	engine *cpu = NULL, *gpu = NULL;
	char err[300] = "";
	struct eng_fault sh = {BS_FAULT_SHORT, 1, 3, 7, 0.5, 0};
	struct eng_fault hr = {BS_FAULT_HIGH_R, 2, 0, 0, 4.0, 0};
	struct eng_fault so = {BS_FAULT_SENSOR_OFFSET, 0, 1, 1, 0.05, 0};
	struct bs_cell tc, tg;
	void *pinned = NULL;
	size_t cells_bytes;

	/* 4 racks x 10 modules x 32 cells, variation, a rack gradient */
	tcfg(&c, 4, 10, 32);
	c.variation = 1;
	c.rack_thermal_gradient_c = 3.0;
	c.initial_soc = 0.9;
	c.dt_s = 1.0;
	c.threads = 2;
	c.mode = BS_MODE_CURRENT;
	c.setpoint_a = 0.5 * c.cell.capacity_ah * c.racks; /* 0.5 C */
	c.ageing_factor = 100.0; /* SoH moves within the run */

	if (engine_create(&c, ENG_BACKEND_CUDA, &gpu, err, sizeof(err)) < 0)
		return skip(err);
	if (engine_create(&c, ENG_BACKEND_CPU, &cpu, err, sizeof(err)) < 0) {
		printf("Bail out! cpu engine: %s\n", err);
		return 1;
	}
	printf("1..30\n");
	printf("# %s vs %s\n", engine_backend_desc(gpu),
	       engine_backend_desc(cpu));
	ok(engine_backend(gpu) == BS_BACKEND_CUDA, "backend is CUDA");
	/* the snapshot of time 0, before any step, is the same (and so as
	 * physical as tests/unit/test_engine's first_fill_physical says) */
	compare_fill(cpu, gpu, NULL, "first fill (tick 0)");
	first_fill_physical(gpu, &c);

	engine_step(cpu, 3600);
	engine_step(gpu, 3600);
	check_diff(cpu, gpu, "1 h at 0.5 C");

	engine_fault_inject(cpu, &sh, err, sizeof(err));
	engine_fault_inject(gpu, &sh, err, sizeof(err));
	engine_fault_inject(cpu, &hr, err, sizeof(err));
	engine_fault_inject(gpu, &hr, err, sizeof(err));
	engine_fault_inject(cpu, &so, err, sizeof(err));
	engine_fault_inject(gpu, &so, err, sizeof(err));
	engine_set_setpoint(cpu, BS_MODE_POWER, -100e3);
	engine_set_setpoint(gpu, BS_MODE_POWER, -100e3);
	engine_step(cpu, 1800);
	engine_step(gpu, 1800);
	check_diff(cpu, gpu, "faults, 30 min charging at 100 kW");

	/* telemetry: through a page-locked buffer (as the shm slots) */
	cells_bytes = cpu->n_cells * sizeof(struct bs_cell);
	if (posix_memalign(&pinned, 4096, (cells_bytes + 4095) & ~4095ul) != 0)
		pinned = NULL;
	ok(pinned && engine_register_host(gpu, pinned,
					  (cells_bytes + 4095) & ~4095ul) == 0,
	   "engine_register_host on a page-aligned buffer");
	compare_fill(cpu, gpu, pinned, "fill (registered)");
	engine_unregister_host(gpu);
	compare_fill(cpu, gpu, NULL, "fill (staging)");

	engine_cell(cpu, 1, 3, 7, &tc);
	engine_cell(gpu, 1, 3, 7, &tg);
	ok(fabs(tc.soc - tg.soc) < 1e-5 && fabs(tc.voltage - tg.voltage) < 1e-3,
	   "engine_cell: shorted cell soc %.6f vs %.6f", tc.soc, tg.soc);

	{
		struct eng_cell_model mc, mg;
		engine_cell_model(cpu, 1, 3, 7, &mc);
		engine_cell_model(gpu, 1, 3, 7, &mg);
		ok(fabs(mc.h - mg.h) < 1e-6 && fabs(mc.r1_ohm - mg.r1_ohm) < 1e-9,
		   "engine_cell_model: h %.6f vs %.6f", mc.h, mg.h);
	}

	engine_destroy(cpu);
	engine_destroy(gpu);
	free(pinned);
	return tap_done();
}
