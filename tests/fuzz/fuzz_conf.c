/*
 * fuzz_conf.c - libFuzzer target: the batsim.conf(5) parser
 * (src/common/conf.c: cfg_load, then cfg_validate).  The input is the
 * file.  A valid OCV table "ocv.csv" lies beside it so that an ocv_csv
 * key can load one.  Every error must come with a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char ocv[] = "soc,ocv_v\n0,2.5\n0.5,3.3\n1,3.6\n";
	char path[256];

	(void)argc;
	(void)argv;
	fz_write("ocv.csv", (const uint8_t *)ocv, sizeof ocv - 1, path,
		 sizeof path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bsd_config cfg;
	char path[256], err[512];

	fz_write("batsim.conf", data, size, path, sizeof path);
	cfg_defaults(&cfg);
	err[0] = '\0';
	if (cfg_load(&cfg, path, err, sizeof err) != 0) {
		if (!err[0])
			abort(); /* an error without a message */
		return 0;
	}
	err[0] = '\0';
	if (cfg_validate(&cfg, err, sizeof err) != 0 && !err[0])
		abort();
	return 0;
}
