/*
 * test_engine_cfg.h - a configuration for engine tests that does not need
 * the config parser: chemistry preset and BMS defaults from chemistry.c.
 */
#ifndef TEST_ENGINE_CFG_H
#define TEST_ENGINE_CFG_H

#include <string.h>

#include "chemistry.h"
#include "engine.h"

static inline void tcfg(struct bsd_config *c, uint32_t racks, uint32_t modules,
			uint32_t cells)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->shm_name, "/batsim-test-engine");
	c->racks = racks;
	c->modules_per_rack = modules;
	c->cells_per_module = cells;
	c->slots = 3;
	chem_preset(&c->cell, "lfp280");
	chem_bms_defaults(&c->bms, "lfp280");
	c->initial_soc = 0.5;
	c->ambient_c = 25.0;
	c->seed = 42;
	c->variation = 0;
	c->capacity_sigma = 0.004;
	c->r0_sigma = 0.025;
	c->soc_sigma = 0.01;
	c->rack_thermal_gradient_c = 0.0;
	c->initial_soh = 1.0;
	c->soh_sigma = 0.01;
	c->ageing_factor = 0.0; /* constant capacity unless a test ages */
	c->dt_s = 1.0;
	c->publish_period_ms = 200;
	c->speed = 0;
	c->threads = 1;
	strcpy(c->backend, "cpu");
	c->mode = BS_MODE_CURRENT;
	c->setpoint_a = 0.0;
	c->profile.scale = 1.0;
}

#endif
