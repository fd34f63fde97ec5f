/*
 * fuzz_engine.h - a small real engine for the libFuzzer targets that drive
 * batsimd code (profile loader, control handler): 1 rack of 2 modules of
 * 3 cells, CPU backend, one thread, the default lfp280 configuration.
 */
#ifndef BATSIM_FUZZ_ENGINE_H
#define BATSIM_FUZZ_ENGINE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "engine.h"

#define FZ_R 1u
#define FZ_M 2u
#define FZ_C 3u

static struct bsd_config fz_cfg;

static inline engine *fz_engine(void)
{
	char err[512];
	engine *e;

	cfg_defaults(&fz_cfg);
	fz_cfg.racks = FZ_R;
	fz_cfg.modules_per_rack = FZ_M;
	fz_cfg.cells_per_module = FZ_C;
	fz_cfg.threads = 1;
	fz_cfg.dt_s = 1.0;
	snprintf(fz_cfg.backend, sizeof fz_cfg.backend, "cpu");
	if (cfg_validate(&fz_cfg, err, sizeof err) ||
	    engine_create(&fz_cfg, ENG_BACKEND_CPU, &e, err, sizeof err)) {
		fprintf(stderr, "fuzz engine: %s\n", err);
		abort();
	}
	return e;
}

/* Step the engine and build a snapshot, as batsimd's loop does. */
static inline void fz_step_fill(engine *e, unsigned steps)
{
	static struct bs_site site;
	static struct bs_rack racks[FZ_R];
	static struct bs_module mods[FZ_R * FZ_M];
	static struct bs_cell cells[FZ_R * FZ_M * FZ_C];
	struct bs_slot_view v = {&site, racks, mods, cells, 0};

	engine_step(e, steps);
	engine_fill(e, &v);
}

#endif /* BATSIM_FUZZ_ENGINE_H */
