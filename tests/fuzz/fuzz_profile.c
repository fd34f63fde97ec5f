/*
 * fuzz_profile.c - libFuzzer target: the CSV profile loader of batsimd
 * (src/batsimd/profile.c) on a small real engine.  The input is the CSV
 * file (time_s,power_w); a profile that loads is then run for a few
 * steps, looped, and a snapshot is built from it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_engine.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_profile p;
	char err[512];
	engine *e = fz_engine();

	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "csv");
	fz_write("profile.csv", data, size, p.csv_path, sizeof p.csv_path);
	p.loop = size & 1;
	p.scale = 1.0;
	err[0] = '\0';
	if (engine_set_profile(e, &p, err, sizeof err) != 0) {
		if (!err[0])
			abort();
	} else {
		fz_step_fill(e, 3);
	}
	engine_destroy(e);
	return 0;
}
