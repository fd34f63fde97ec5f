/*
 * fuzz_util.h - helpers shared by the libFuzzer targets of tests/fuzz:
 * a private temporary directory (removed at exit) and writing an input
 * to a file in it.  Header-only; every function is static.
 */
#ifndef BATSIM_FUZZ_UTIL_H
#define BATSIM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[64];

static inline void fz_dir_remove(void)
{
	char cmd[128];

	if (fz_dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", fz_dir);
	}
}

/* Create the temporary directory once, in /dev/shm (memory: inputs are
 * written at each run; the path stays short enough for a socket); abort
 * when impossible. */
static inline const char *fz_tmpdir(void)
{
	if (!fz_dir[0]) {
		snprintf(fz_dir, sizeof fz_dir, "/dev/shm/bs-fuzz.XXXXXX");
		if (!mkdtemp(fz_dir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(fz_dir_remove);
	}
	return fz_dir;
}

/* Write data to the file `name` of the temporary directory; its path in
 * path[size]. */
static inline void fz_write(const char *name, const uint8_t *data, size_t size,
		     char *path, size_t path_size)
{
	FILE *f;

	snprintf(path, path_size, "%s/%s", fz_tmpdir(), name);
	f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
		perror(path);
		abort();
	}
}

#endif /* BATSIM_FUZZ_UTIL_H */
