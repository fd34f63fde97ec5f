/*
 * test_rackjson.c - GET /rack/R written straight into a buffer
 * (src/httpd/rackjson.c) is byte for byte the JSON that json-c gives for
 * view_rack() (what batsim-httpd answered before), with and without
 * cells, for several shapes and for awkward numbers (NaN, infinities,
 * -0, denormals, float extremes, values that round to -0).
 */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "tap.h"
#include "views.h"

/* Awkward and ordinary float values, picked by a small PRNG. */
static const float odd[] = {
    0.0f,	   -0.0f,	  NAN,	       INFINITY, -INFINITY,
    1e-45f,	   -1e-45f,	  3.4028235e38f, -3.4028235e38f,
    -1e-9f,	   1.17549435e-38f, 3.2999999f,	  -123.456789f,
    0.00025f,	   1e7f,	  99.99999f,	  -4e-8f,    65504.0f,
};

static uint32_t rng = 12345;
static float pick(void)
{
	rng = rng * 1103515245u + 12345u;
	if ((rng >> 16) % 3 == 0)
		return odd[(rng >> 8) % (sizeof odd / sizeof odd[0])];
	return (float)((int32_t)(rng >> 4) % 100000) / 997.0f;
}

static void fill(void *p, size_t n_floats)
{
	float *f = p;

	for (size_t i = 0; i < n_floats; i++)
		f[i] = pick();
}

static void check_shape(uint32_t n_mod, uint32_t cpm)
{
	struct bs_geometry h;
	struct bs_meta m = {0};
	struct bs_rack rec;
	struct bs_module *mods = calloc(n_mod, sizeof *mods);
	struct bs_cell *cells = calloc((size_t)n_mod * cpm, sizeof *cells);

	memset(&h, 0, sizeof h);
	h.n_racks = 4;
	h.modules_per_rack = n_mod;
	h.cells_per_module = cpm;
	h.n_modules = 4ull * n_mod;
	h.n_cells = 4ull * n_mod * cpm;
	memset(&rec, 0, sizeof rec);
	rec.voltage_v = pick();
	rec.current_a = pick();
	rec.soc_mean = 0.5f;
	rec.contactor = 1;
	rec.alarm_active = 0x3;
	rec.alarm_latched = 0x5;
	rec.fault_bits = 0x1;
	m.tick = 123456789012ull;
	m.sim_time_s = 1234.5678901234;
	m.generation = 7;
	for (uint32_t i = 0; i < n_mod; i++) {
		fill(&mods[i], 9); /* the nine float aggregates */
		mods[i].v_min_cell = i % cpm;
		mods[i].alarm_bits = i & 7;
		mods[i].contactor = i & 1;
	}
	fill(cells, (size_t)n_mod * cpm * 5);

	for (int with = 0; with < 2; with++) {
		json_object *o = view_rack(&h, &m, 3, &rec, mods,
					   with ? cells : NULL, with);
		const char *want = view_to_string(o);
		struct buf b = {0};
		int rc = hd_rack_json(&h, &m, 3, &rec, mods,
				      with ? cells : NULL, NULL, NULL, &b);

		ok(rc == 0 && b.p && strcmp(b.p, want) == 0,
		   "%u modules x %u cells, %s: the same JSON as view_rack() "
		   "(%zu bytes)",
		   n_mod, cpm, with ? "with cells" : "cells=0", strlen(want));
		if (rc || !b.p || strcmp(b.p, want)) {
			size_t i = 0;

			while (b.p && b.p[i] && b.p[i] == want[i])
				i++;
			printf("# first difference at byte %zu:\n# got  %.80s\n"
			       "# want %.80s\n",
			       i, b.p ? b.p + (i > 20 ? i - 20 : 0) : "(null)",
			       want + (i > 20 ? i - 20 : 0));
		}
		buf_free(&b);
		json_object_put(o);
	}
	free(mods);
	free(cells);
}

int main(void)
{
	printf("1..8\n");
	check_shape(1, 1);
	check_shape(3, 7);
	check_shape(17, 64);
	check_shape(64, 128);
	return tap_done();
}
