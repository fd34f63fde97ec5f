/*
 * bench_engine.c - engine throughput: cell-steps per second and the
 * memory bandwidth that implies, for the CPU backend with 1 and N threads
 * and for the CUDA backend when a device answers.  Prints figures; asserts
 * nothing (a benchmark, not a test).
 *
 * Bytes per cell-step: the per-cell arrays one step (model.h bsm_step,
 * bsm_prepare, bsm_stats_add) must move between memory and the core:
 * 12 double arrays read (soc, soc_c, i1, i2, T in, E', R', R0, 1/Q,
 * R0 factor, leak, runaway threshold) and 4 float arrays (sensor
 * offsets and stuck values), 9 double arrays written (soc, soc_c, i1, i2,
 * v, T out, E', R', R0): 96 + 16 + 72 = 184 bytes.  "GB/s" is
 * cell-steps/s x 184 B: the effective bandwidth, a lower bound of the
 * real traffic (a write-allocate cache also reads the 2 arrays written
 * without being read, +16 B; neighbour temperatures come from cache).
 * Small sites fit in the caches, so their figure can exceed DRAM's.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "test_engine_cfg.h"

#define BYTES_PER_CELL_STEP 184.0

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_engine [--topology RxMxC] [--seconds S] "
		   "[--threads N] [--backend all|cpu|cuda]\n"
		   "  --topology  site size (default 20x10x32 = 6400 cells)\n"
		   "  --seconds   wall time per measurement (default 2)\n"
		   "  --threads   the N of the multi-threaded CPU run "
		   "(default: CPUs online)\n");
}

static void run(const struct bsd_config *cfg, int backend, double secs)
{
	engine *e;
	char err[300];
	double t0, t1, n_steps = 0, cells;
	unsigned batch = 1;
	struct bs_slot_view v;
	struct bs_site site;
	int fills = 0;

	if (engine_create(cfg, backend, &e, err, sizeof(err)) < 0) {
		printf("%-34s skipped: %s\n",
		       backend == ENG_BACKEND_CUDA ? "cuda" : "cpu", err);
		return;
	}
	cells =
	    (double)cfg->racks * cfg->modules_per_rack * cfg->cells_per_module;
	engine_step(e, 2); /* warm up */
	/* grow the batch until one takes about 50 ms */
	for (;;) {
		t0 = now_s();
		engine_step(e, batch);
		t1 = now_s();
		if (t1 - t0 > 0.05 || batch > (1u << 24))
			break;
		batch *= 2;
	}
	t0 = now_s();
	do {
		engine_step(e, batch);
		n_steps += batch;
		t1 = now_s();
	} while (t1 - t0 < secs);
	printf("%-34s %10.3g cell-steps/s  %8.2f GB/s  %9.1f steps/s\n",
	       engine_backend_desc(e), n_steps * cells / (t1 - t0),
	       n_steps * cells * BYTES_PER_CELL_STEP / (t1 - t0) / 1e9,
	       n_steps / (t1 - t0));

	/* engine_fill: records and aggregates into (ordinary) memory */
	memset(&v, 0, sizeof(v));
	v.site = &site;
	v.racks = calloc(cfg->racks, sizeof(struct bs_rack));
	v.modules = calloc((size_t)cfg->racks * cfg->modules_per_rack,
			   sizeof(struct bs_module));
	v.cells = calloc((size_t)cells, sizeof(struct bs_cell));
	if (v.racks && v.modules && v.cells) {
		t0 = now_s();
		do {
			engine_fill(e, &v);
			fills++;
			t1 = now_s();
		} while (t1 - t0 < secs / 4);
		printf("%-34s %10.3g fills/s      %8.2f GB/s of cell records\n",
		       "  engine_fill", fills / (t1 - t0),
		       fills * cells * sizeof(struct bs_cell) / (t1 - t0) /
			   1e9);
	}
	free(v.racks);
	free(v.modules);
	free(v.cells);
	engine_destroy(e);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"topology", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"threads", required_argument, NULL, 'n'},
	    {"backend", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	unsigned r = 20, m = 10, c = 32, threads = 0;
	double secs = 2.0;
	const char *which = "all";
	struct bsd_config cfg;
	int o;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	while ((o = getopt_long(argc, argv, "t:s:n:b:hV", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (sscanf(optarg, "%ux%ux%u", &r, &m, &c) != 3 || !r ||
			    !m || !c) {
				fprintf(stderr,
					"bench_engine: bad topology '%s' "
					"(use RxMxC, e.g. 20x10x32)\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'n':
			threads = (unsigned)atoi(optarg);
			break;
		case 'b':
			which = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bench_engine (batsim) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (threads == 0)
		threads = ncpu > 0 ? (unsigned)ncpu : 1;
	tcfg(&cfg, r, m, c);
	cfg.variation = 1;
	cfg.rack_thermal_gradient_c = 3.0;
	cfg.dt_s = 0.1;
	cfg.mode = BS_MODE_CURRENT;
	cfg.setpoint_a = 0.25 * cfg.cell.capacity_ah * r;
	printf("# batsim engine benchmark: %ux%ux%u = %u cells, dt %g s, "
	       "%d CPUs online\n",
	       r, m, c, r * m * c, cfg.dt_s, (int)ncpu);
	if (strcmp(which, "cuda") != 0) {
		cfg.threads = 1;
		run(&cfg, ENG_BACKEND_CPU, secs);
		if (threads > 1) {
			cfg.threads = threads;
			run(&cfg, ENG_BACKEND_CPU, secs);
		}
	}
	if (strcmp(which, "cpu") != 0)
		run(&cfg, ENG_BACKEND_CUDA, secs);
	return 0;
}
