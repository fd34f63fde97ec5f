/*
 * fuzz_ocv.c - libFuzzer target: the OCV table loader
 * (src/common/conf.c: cfg_load_ocv_csv).  The input is the CSV file.  A
 * table that loads must be usable: 2 to CFG_OCV_MAX points, soc rising
 * from 0 to 1, voltages in (0, 10) V.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg_cell cell;
	char path[256], err[512];

	fz_write("ocv.csv", data, size, path, sizeof path);
	memset(&cell, 0, sizeof cell);
	err[0] = '\0';
	if (cfg_load_ocv_csv(&cell, path, err, sizeof err) != 0) {
		if (!err[0])
			abort();
		return 0;
	}
	if (cell.ocv_n < 2 || cell.ocv_n > CFG_OCV_MAX ||
	    cell.ocv_soc[0] != 0 || cell.ocv_soc[cell.ocv_n - 1] != 1)
		abort();
	for (unsigned i = 0; i < cell.ocv_n; i++)
		if (!(cell.ocv_v[i] > 0 && cell.ocv_v[i] < 10) ||
		    (i && !(cell.ocv_soc[i] > cell.ocv_soc[i - 1])))
			abort();
	return 0;
}
