/*
 * test_engine_scale.c - the engine creates, steps and publishes a site of
 * 1,048,576 cells (32 racks x 32 modules x 1024 cells, the largest
 * module) on the CPU: index arithmetic at the far end of the arrays
 * (the last cell of the last module of the last rack), the bus, the
 * aggregates, a fault there.  One step only: it takes about a second.
 *
 * TAP written by hand (no Check: one process, no fork of a 200 MB
 * engine).  Skips ("1..0 # SKIP", exit 0 under the TAP driver, 77 by
 * hand) when less than 4 GiB of memory is available.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "tap.h"
#include "test_engine_cfg.h"

#define R_ 32u
#define M_ 32u
#define C_ 1024u

/* MemAvailable in bytes, or -1. */
static double mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	double kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024.0;
}

struct view {
	struct bs_slot_view v;
	struct bs_site site;
};

/* Check a published snapshot: cells in the window, strings at the bus,
 * the site current the sum of the racks', module sums. */
static void check_fill(engine *e, const struct view *w,
		       const struct bsd_config *c, const char *what)
{
	size_t n = (size_t)R_ * M_ * C_, bad = 0;
	float vmin = 1e30f, vmax = -1e30f;
	double isum = 0, dbus = 0, dmod = 0;
	for (size_t i = 0; i < n; i++) {
		float v = w->v.cells[i].voltage;
		if (!(v >= c->cell.v_min && v <= c->cell.v_max) ||
		    !(w->v.cells[i].soc > 0.0f))
			bad++;
		vmin = fminf(vmin, v);
		vmax = fmaxf(vmax, v);
	}
	ok(bad == 0, "%s: every one of %zu cells in the window (%.4f..%.4f V)",
	   what, n, vmin, vmax);
	ok(w->site.cell_v_min == vmin && w->site.cell_v_max == vmax,
	   "%s: site extremes %.4f..%.4f V are the cells'", what,
	   w->site.cell_v_min, w->site.cell_v_max);
	for (uint32_t r = 0; r < R_; r++) {
		double ms = 0;
		isum += w->v.racks[r].current_a;
		dbus = fmax(dbus, fabs(w->v.racks[r].voltage_v -
				       w->site.bus_voltage_v));
		for (uint32_t m = 0; m < M_; m++)
			ms += w->v.modules[(size_t)r * M_ + m].voltage_v;
		dmod = fmax(dmod, fabs(ms - w->site.bus_voltage_v));
	}
	ok(dbus < 0.01 && dmod < 0.05,
	   "%s: racks at the bus voltage %.2f V (within %.2g V, modules sum "
	   "within %.2g V)",
	   what, w->site.bus_voltage_v, dbus, dmod);
	ok(fabs(isum - w->site.current_a) <
		   1e-3 * fabs(w->site.current_a) + 1e-3 &&
	       fabs(w->site.power_w - c->setpoint_w) < 1e-3 * c->setpoint_w,
	   "%s: site %.1f A, %.0f W (setpoint %.0f W), racks sum to %.1f A",
	   what, w->site.current_a, w->site.power_w, c->setpoint_w, isum);
	(void)e;
}

int main(void)
{
	struct bsd_config c;
	engine *e = NULL;
	struct view w;
	char err[300] = "";
	double avail = mem_available();
	struct bs_cell truth;
	struct eng_fault so = {
	    BS_FAULT_SENSOR_OFFSET, R_ - 1, M_ - 1, C_ - 1, 0.25, 0};
	size_t last = (size_t)R_ * M_ * C_ - 1;

	if (avail >= 0 && avail < 4.0 * 1024 * 1024 * 1024) {
		snprintf(err, sizeof err,
			 "%.1f GiB of memory available, the test wants 4",
			 avail / (1024.0 * 1024 * 1024));
		return skip(err);
	}
	tcfg(&c, R_, M_, C_);
	c.variation = 1;
	c.rack_thermal_gradient_c = 3.0;
	c.threads = 2;
	c.mode = BS_MODE_POWER;
	c.setpoint_w = 100e6; /* 108 kV strings: about 0.1 C */
	memset(&w, 0, sizeof w);
	w.v.site = &w.site;
	w.v.racks = calloc(R_, sizeof(struct bs_rack));
	w.v.modules = calloc((size_t)R_ * M_, sizeof(struct bs_module));
	w.v.cells = calloc((size_t)R_ * M_ * C_, sizeof(struct bs_cell));
	if (!w.v.racks || !w.v.modules || !w.v.cells)
		return skip("out of memory for the snapshot");
	if (engine_create(&c, ENG_BACKEND_CPU, &e, err, sizeof err) < 0) {
		printf("1..1\nnot ok 1 - engine_create: %s\n", err);
		return 1;
	}
	printf("1..12\n# %ux%ux%u = %zu cells, %s\n", R_, M_, C_, last + 1,
	       engine_backend_desc(e));
	ok(e->n_cells == last + 1 && e->n_mod == (size_t)R_ * M_,
	   "engine of %zu cells, %zu modules", e->n_cells, e->n_mod);

	engine_fill(e, &w.v);
	check_fill(e, &w, &c, "tick 0");

	engine_step(e, 1);
	ok(engine_tick(e) == 1 && engine_error(e) == NULL, "one step");
	engine_fill(e, &w.v);
	check_fill(e, &w, &c, "tick 1");

	/* the far end: a sensor offset on the very last cell shows in its
	 * record (and only there), the true value does not move */
	ok(engine_fault_inject(e, &so, err, sizeof err) == 0, "inject: %s",
	   err[0] ? err : "sensor offset on the last cell");
	engine_fill(e, &w.v);
	engine_cell(e, R_ - 1, M_ - 1, C_ - 1, &truth);
	ok(fabsf(w.v.cells[last].voltage - truth.voltage - 0.25f) < 1e-4f &&
	       fabsf(w.v.cells[last - 1].voltage - (float)e->a.v[last - 1]) <
		   1e-6f &&
	       w.v.racks[R_ - 1].v_max_cell == M_ * C_ - 1,
	   "last cell reported %.4f V, true %.4f V; rack %u max cell %u",
	   w.v.cells[last].voltage, truth.voltage, R_ - 1,
	   w.v.racks[R_ - 1].v_max_cell);

	engine_destroy(e);
	free(w.v.racks);
	free(w.v.modules);
	free(w.v.cells);
	return tap_done();
}
