/*
 * bench_engine.c - engine throughput: cell-steps per second and the
 * memory bandwidth that implies, for the CPU backend with 1 and N threads
 * and for the CUDA backend when a device answers.  Prints figures; asserts
 * nothing (a benchmark, not a test).
 *
 * Bytes per cell-step: the per-cell memory one step of the engine's
 * layout reads and writes (engine_step_bytes(): state, the derived values
 * and parameters the step loads; docs/PERFORMANCE.md explains it).
 * "GB/s" is cell-steps/s x that: the effective bandwidth, a lower bound
 * of the real traffic (a write-allocate cache also reads arrays written
 * without being read; neighbour temperatures come from cache).
 * Small sites fit in the caches, so their figure can exceed DRAM's.
 *
 * The yardstick, measured in the same run: a STREAM-style triad
 * a[i] = b[i] + s * c[i] over the same number of threads on three double
 * arrays each larger than four times the last-level cache (64 to 256 MiB
 * each), best of five passes; bytes counted as STREAM does (24 B per
 * element, no write-allocate).  The ratio printed beside each CPU run is
 *     cell-steps/s / (triad bytes/s / 32 B per cell-step)
 * where 32 B is the state a step cannot avoid moving (SoC as a double,
 * RC current and temperature as floats, each read and written once; see
 * issue 13 and docs/PERFORMANCE.md): 1.0 would be a step that moves only
 * that state at the machine's full memory bandwidth.
 */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "test_engine_cfg.h"

#define MIN_BYTES_PER_CELL_STEP 32.0 /* the state a step must move */

static double triad_bps; /* measured triad bytes/s for the CPU runs */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (all threads). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct triad_part {
	double *a, *b, *c;
	size_t lo, hi;
	pthread_barrier_t *bar;
	double best_s; /* best pass time, thread 0 */
};

static void *triad_thread(void *arg)
{
	struct triad_part *p = arg;
	for (size_t i = p->lo; i < p->hi; i++) { /* first touch: own pages */
		p->a[i] = 0.0;
		p->b[i] = 1.0;
		p->c[i] = 2.0;
	}
	p->best_s = 1e30;
	for (int pass = 0; pass < 5; pass++) {
		pthread_barrier_wait(p->bar);
		double t0 = now_s();
		for (size_t i = p->lo; i < p->hi; i++)
			p->a[i] = p->b[i] + 3.0 * p->c[i];
		pthread_barrier_wait(p->bar); /* the pass ends with the slowest */
		double dt = now_s() - t0;
		if (dt < p->best_s)
			p->best_s = dt;
	}
	return NULL;
}

/* STREAM-style triad over `threads` threads: bytes per second. */
static double triad(unsigned threads)
{
	long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
	size_t bytes = (size_t)64 << 20;
	if (llc > 0 && (size_t)llc * 4 > bytes)
		bytes = (size_t)llc * 4;
	if (bytes > (size_t)256 << 20) /* some VMs report the whole socket's
					  L3, or nonsense: 256 MiB is
					  beyond any one core's cache */
		bytes = (size_t)256 << 20;
	size_t n = bytes / sizeof(double);
	double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
	       *c = malloc(n * sizeof(double));
	struct triad_part *parts = calloc(threads, sizeof(*parts));
	pthread_t *tid = calloc(threads, sizeof(*tid));
	pthread_barrier_t bar;
	double best = 0;

	if (!a || !b || !c || !parts || !tid ||
	    pthread_barrier_init(&bar, NULL, threads) != 0)
		goto out;
	for (unsigned t = 0; t < threads; t++) {
		parts[t] = (struct triad_part){a, b, c, n * t / threads,
					       n * (t + 1) / threads, &bar, 0};
		if (t && pthread_create(&tid[t], NULL, triad_thread,
					&parts[t]) != 0) {
			fprintf(stderr, "bench_engine: cannot start a thread\n");
			exit(1);
		}
	}
	triad_thread(&parts[0]);
	for (unsigned t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
	pthread_barrier_destroy(&bar);
	best = 3.0 * (double)n * sizeof(double) / parts[0].best_s;
	printf("%-34s %10s                %8.2f GB/s  (3 x %zu MiB arrays)\n",
	       threads == 1 ? "STREAM triad, 1 thread" : "STREAM triad, N threads",
	       "", best / 1e9, bytes >> 20);
out:
	free(a);
	free(b);
	free(c);
	free(parts);
	free(tid);
	return best;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_engine [--topology RxMxC] [--seconds S] "
		   "[--threads N] [--backend all|cpu|cuda]\n"
		   "  --topology  site size (repeatable; default three: "
		   "20x10x32 = 6,400,\n"
		   "              16x16x512 = 131,072 and 32x64x512 = "
		   "1,048,576 cells)\n"
		   "  --seconds   wall time per measurement (default 2)\n"
		   "  --threads   the N of the multi-threaded CPU run "
		   "(default: CPUs online)\n");
}

static void run(const struct bsd_config *cfg, int backend, double secs)
{
	engine *e;
	char err[300];
	double t0, t1, c0, c1, n_steps = 0, cells, bps;
	char why[160];
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
	c0 = cpu_s();
	do {
		engine_step(e, batch);
		n_steps += batch;
		t1 = now_s();
	} while (t1 - t0 < secs);
	c1 = cpu_s();
	double csps = n_steps * cells / (t1 - t0);
	bps = engine_step_bytes(e, why, sizeof(why));
	/* the CPU time tells how much of the wall time the threads ran: on
	 * a shared machine the wall figure is the pessimistic one */
	printf("%-34s %10.3g cell-steps/s  %9.1f steps/s  CPU %4.2f  "
	       "%.3g cell-steps/CPU-s\n",
	       engine_backend_desc(e), csps, n_steps / (t1 - t0),
	       (c1 - c0) / (t1 - t0), n_steps * cells / (c1 - c0));
	printf("  %5.0f B/cell-step (%s): %.2f GB/s", bps, why,
	       csps * bps / 1e9);
	if (backend == ENG_BACKEND_CPU && triad_bps > 0)
		printf("; triad %.2f GB/s / 32 B = %.3g; ratio %.3f",
		       triad_bps / 1e9, triad_bps / MIN_BYTES_PER_CELL_STEP,
		       csps / (triad_bps / MIN_BYTES_PER_CELL_STEP));
	printf("\n");

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

#define MAX_TOPOS 8

static void site(unsigned r, unsigned m, unsigned c, unsigned threads,
		 const char *which, double secs, double triad1, double triadn)
{
	struct bsd_config cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

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
		triad_bps = triad1;
		run(&cfg, ENG_BACKEND_CPU, secs);
		if (threads > 1) {
			cfg.threads = threads;
			triad_bps = triadn;
			run(&cfg, ENG_BACKEND_CPU, secs);
		}
	}
	if (strcmp(which, "cpu") != 0)
		run(&cfg, ENG_BACKEND_CUDA, secs);
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
	unsigned topo[MAX_TOPOS][3], n_topo = 0, threads = 0;
	double secs = 2.0, triad1 = 0, triadn = 0;
	const char *which = "all";
	int o;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	while ((o = getopt_long(argc, argv, "t:s:n:b:hV", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (n_topo == MAX_TOPOS) {
				fprintf(stderr, "bench_engine: at most %d "
						"--topology options\n",
					MAX_TOPOS);
				return 2;
			}
			if (sscanf(optarg, "%ux%ux%u", &topo[n_topo][0],
				   &topo[n_topo][1], &topo[n_topo][2]) != 3 ||
			    !topo[n_topo][0] || !topo[n_topo][1] ||
			    !topo[n_topo][2]) {
				fprintf(stderr,
					"bench_engine: bad topology '%s' "
					"(use RxMxC, e.g. 20x10x32)\n",
					optarg);
				return 2;
			}
			n_topo++;
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
	if (optind < argc) {
		fprintf(stderr, "bench_engine: unexpected argument '%s' "
				"(see --help)\n",
			argv[optind]);
		return 2;
	}
	if (n_topo == 0) {
		static const unsigned def[3][3] = {
		    {20, 10, 32}, {16, 16, 512}, {32, 64, 512}};
		memcpy(topo, def, sizeof(def));
		n_topo = 3;
	}
	if (threads == 0)
		threads = ncpu > 0 ? (unsigned)ncpu : 1;
	if (strcmp(which, "cuda") != 0) {
		double la[3] = {0, 0, 0};
		if (getloadavg(la, 3) < 0)
			la[0] = -1;
		printf("# reference: STREAM triad on this machine (load "
		       "average %.1f over %ld CPUs at the start)\n",
		       la[0], ncpu);
		triad1 = triad(1);
		if (threads > 1)
			triadn = triad(threads);
	}
	for (unsigned k = 0; k < n_topo; k++)
		site(topo[k][0], topo[k][1], topo[k][2], threads, which, secs,
		     triad1, triadn);
	return 0;
}
