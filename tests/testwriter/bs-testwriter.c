/*
 * bs-testwriter - a test-only writer for the batsim segment (never
 * installed).  It publishes synthetic but internally consistent values
 * with backend BS_BACKEND_TEST, so that readers (batsimctl, batsim-httpd)
 * can be tested without the simulator:
 *
 *   cell k (flat, rack-major), rack r, tick t:
 *     voltage     = 3.2 + 0.001 * (k % 100) + 0.0001 * (t % 50)
 *     current     = rack current I_r = 20 + r - 0.1 * (t % 20)
 *     temperature = 25 + 0.01 * (k % 500) + 0.001 * (t % 100)
 *     soc         = 0.5 + 0.001 * (k % 100) - 0.0001 * (t % 100)
 *     resistance  = 0.0002 + 0.000001 * (k % 50)
 *   module, rack and site aggregates are computed from the cells.
 *
 * Exit status: 0 on success and after SIGTERM/SIGINT (the segment is
 * marked STOPPED), 1 on a usage error, 2 when the segment cannot be
 * created or opened, 3 after --crash-after-s (state left RUNNING, the
 * heartbeat goes stale).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bs-testwriter --name NAME --topology RxMxC [options]\n"
		"Publish synthetic, consistent batsim telemetry (tests only).\n"
		"\n"
		"  -n, --name NAME         segment name, e.g. /batsim-test\n"
		"  -t, --topology RxMxC    racks x modules x cells\n"
		"  -p, --period-ms MS      publish period (default 200)\n"
		"  -d, --duration-s S      stop (cleanly) after S seconds\n"
		"  -k, --crash-after-s S   exit after S seconds without "
		"marking STOPPED (exit 3)\n"
		"  -c, --create            create the segment if missing\n"
		"  -s, --slots N           slots when creating (default 3)\n"
		"  -r, --remove-on-exit    remove the segment on a clean exit\n"
		"  -S, --site-name NAME    publish this site name\n"
		"  -h, --help              this help\n"
		"  -V, --version           print the version\n"
		"\n"
		"Exit status: 0 ok or stopped by SIGTERM/SIGINT, 1 usage, 2 "
		"segment error, 3 simulated crash.\n");
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

struct sim {
	struct bs_topology t;
	uint64_t n_cells, n_modules;
	struct bs_site site;
	struct bs_rack *racks;
	struct bs_module *modules;
	struct bs_cell *cells;
};

/* Compute one tick's values into the private buffers. */
static void compute(struct sim *s, uint64_t tick, double dt_s)
{
	uint32_t R = s->t.racks, M = s->t.modules_per_rack,
		 C = s->t.cells_per_module;
	double bus_sum = 0, i_sum = 0, p_sum = 0, soc_sum = 0;
	float vmin = 1e30f, vmax = -1e30f, tmin = 1e30f, tmax = -1e30f;

	for (uint32_t r = 0; r < R; r++) {
		float i_r = 20.0f + (float)r - 0.1f * (float)(tick % 20);
		struct bs_rack *rk = &s->racks[r];
		double rv = 0, rsoc = 0, rvsum = 0, rtsum = 0;
		memset(rk, 0, sizeof(*rk));
		rk->cell_v_min = rk->temp_min_c = 1e30f;
		rk->cell_v_max = rk->temp_max_c = -1e30f;
		for (uint32_t m = 0; m < M; m++) {
			uint64_t mi = (uint64_t)r * M + m;
			struct bs_module *md = &s->modules[mi];
			double mv = 0, msoc = 0, mt = 0;
			memset(md, 0, sizeof(*md));
			md->cell_v_min = md->temp_min_c = 1e30f;
			md->cell_v_max = md->temp_max_c = -1e30f;
			for (uint32_t c = 0; c < C; c++) {
				uint64_t k = mi * C + c;
				struct bs_cell *ce = &s->cells[k];
				ce->voltage = 3.2f + 0.001f * (float)(k % 100) +
					      0.0001f * (float)(tick % 50);
				ce->current = i_r;
				ce->temperature = 25.0f +
						  0.01f * (float)(k % 500) +
						  0.001f * (float)(tick % 100);
				ce->soc = 0.5f + 0.001f * (float)(k % 100) -
					  0.0001f * (float)(tick % 100);
				ce->resistance =
				    0.0002f + 0.000001f * (float)(k % 50);
				mv += ce->voltage;
				msoc += ce->soc;
				mt += ce->temperature;
				if (ce->voltage < md->cell_v_min)
					md->cell_v_min = ce->voltage,
					md->v_min_cell = c;
				if (ce->voltage > md->cell_v_max)
					md->cell_v_max = ce->voltage,
					md->v_max_cell = c;
				if (ce->temperature < md->temp_min_c)
					md->temp_min_c = ce->temperature,
					md->t_min_cell = c;
				if (ce->temperature > md->temp_max_c)
					md->temp_max_c = ce->temperature,
					md->t_max_cell = c;
			}
			md->voltage_v = (float)mv;
			md->current_a = i_r;
			md->soc_mean = (float)(msoc / C);
			md->cell_v_mean = (float)(mv / C);
			md->temp_mean_c = (float)(mt / C);
			md->contactor = 1;
			rv += mv;
			rsoc += msoc;
			rvsum += mv;
			rtsum += mt;
			uint32_t base = m * C;
			if (md->cell_v_min < rk->cell_v_min)
				rk->cell_v_min = md->cell_v_min,
				rk->v_min_cell = base + md->v_min_cell;
			if (md->cell_v_max > rk->cell_v_max)
				rk->cell_v_max = md->cell_v_max,
				rk->v_max_cell = base + md->v_max_cell;
			if (md->temp_min_c < rk->temp_min_c)
				rk->temp_min_c = md->temp_min_c,
				rk->t_min_cell = base + md->t_min_cell;
			if (md->temp_max_c > rk->temp_max_c)
				rk->temp_max_c = md->temp_max_c,
				rk->t_max_cell = base + md->t_max_cell;
		}
		uint64_t rc = (uint64_t)M * C;
		rk->voltage_v = (float)rv;
		rk->current_a = i_r;
		rk->soc_mean = (float)(rsoc / rc);
		rk->cell_v_mean = (float)(rvsum / rc);
		rk->temp_mean_c = (float)(rtsum / rc);
		rk->charge_limit_a = 280.0f;
		rk->discharge_limit_a = 280.0f;
		rk->power_w = rk->voltage_v * rk->current_a;
		rk->contactor = 1;
		bus_sum += rk->voltage_v;
		i_sum += i_r;
		p_sum += rk->power_w;
		soc_sum += rk->soc_mean;
		if (rk->cell_v_min < vmin)
			vmin = rk->cell_v_min;
		if (rk->cell_v_max > vmax)
			vmax = rk->cell_v_max;
		if (rk->temp_min_c < tmin)
			tmin = rk->temp_min_c;
		if (rk->temp_max_c > tmax)
			tmax = rk->temp_max_c;
	}
	struct bs_site *st = &s->site;
	double e_out = st->energy_out_wh;
	memset(st, 0, sizeof(*st));
	st->energy_out_wh = e_out + (p_sum > 0 ? p_sum * dt_s / 3600.0 : 0);
	st->bus_voltage_v = (float)(bus_sum / R);
	st->current_a = (float)i_sum;
	st->power_w = (float)p_sum;
	st->soc_mean = (float)(soc_sum / R);
	st->setpoint = (float)p_sum;
	st->ambient_c = 25.0f;
	st->cell_v_min = vmin;
	st->cell_v_max = vmax;
	st->temp_min_c = tmin;
	st->temp_max_c = tmax;
	st->charge_limit_a = 280.0f * (float)R;
	st->discharge_limit_a = 280.0f * (float)R;
	st->mode = BS_MODE_POWER;
	st->racks_closed = R;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"topology", required_argument, NULL, 't'},
	    {"period-ms", required_argument, NULL, 'p'},
	    {"duration-s", required_argument, NULL, 'd'},
	    {"crash-after-s", required_argument, NULL, 'k'},
	    {"create", no_argument, NULL, 'c'},
	    {"slots", required_argument, NULL, 's'},
	    {"remove-on-exit", no_argument, NULL, 'r'},
	    {"site-name", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *topo_s = NULL, *site_name = NULL;
	double duration = -1, crash = -1;
	long period_ms = 200, slots = BS_DEFAULT_SLOTS;
	int create = 0, remove_on_exit = 0, opt, rc;
	char *end;

	while ((opt = getopt_long(argc, argv, "n:t:p:d:k:cs:rS:hV", opts,
				  NULL)) != -1) {
		switch (opt) {
		case 'n':
			name = optarg;
			break;
		case 't':
			topo_s = optarg;
			break;
		case 'p':
			period_ms = strtol(optarg, &end, 10);
			if (*end || end == optarg || period_ms < 1 ||
			    period_ms > 3600000) {
				fprintf(stderr, "bs-testwriter: --period-ms "
						"wants 1..3600000\n");
				return 1;
			}
			break;
		case 'd':
		case 'k':
			if (parse_seconds(optarg, opt == 'd' ? &duration
							     : &crash) < 0) {
				fprintf(stderr,
					"bs-testwriter: bad seconds "
					"'%s'\n",
					optarg);
				return 1;
			}
			break;
		case 'c':
			create = 1;
			break;
		case 's':
			slots = strtol(optarg, &end, 10);
			if (*end || end == optarg || slots < 1 ||
			    slots > BS_MAX_SLOTS) {
				fprintf(stderr,
					"bs-testwriter: --slots wants "
					"1..%u\n",
					BS_MAX_SLOTS);
				return 1;
			}
			break;
		case 'r':
			remove_on_exit = 1;
			break;
		case 'S':
			site_name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bs-testwriter (batsim) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc || !name || !topo_s) {
		fprintf(stderr, "bs-testwriter: --name and --topology are "
				"required\n");
		usage(stderr);
		return 1;
	}
	struct sim s;
	memset(&s, 0, sizeof(s));
	rc = bs_topology_parse(topo_s, &s.t);
	if (rc < 0) {
		fprintf(stderr, "bs-testwriter: topology '%s': %s\n", topo_s,
			bs_strerror(rc));
		return 1;
	}
	if (create) {
		rc = bs_segment_create(name, &s.t, (uint32_t)slots, 0640,
				       (gid_t)-1, 0);
		if (rc < 0) {
			fprintf(stderr, "bs-testwriter: create %s: %s\n", name,
				bs_strerror(rc));
			return 2;
		}
	}
	s.n_modules = (uint64_t)s.t.racks * s.t.modules_per_rack;
	s.n_cells = s.n_modules * s.t.cells_per_module;
	s.racks = calloc(s.t.racks, sizeof(*s.racks));
	s.modules = calloc(s.n_modules, sizeof(*s.modules));
	s.cells = calloc(s.n_cells, sizeof(*s.cells));
	if (!s.racks || !s.modules || !s.cells) {
		fprintf(stderr, "bs-testwriter: out of memory\n");
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	uint64_t period_ns = (uint64_t)period_ms * 1000000u;
	struct bs_writer_params params = {
	    .backend = BS_BACKEND_TEST,
	    .tick_period_ns = period_ns,
	    .dt_ns = period_ns,
	    .chemistry = "test",
	};
	bs_writer *w;
	rc = bs_writer_open_site(name, &s.t, &params, site_name, &w);
	if (rc < 0) {
		fprintf(stderr, "bs-testwriter: open %s: %s\n", name,
			bs_strerror(rc));
		return 2;
	}

	struct timespec start, next;
	clock_gettime(CLOCK_MONOTONIC, &start);
	next = start;
	double dt_s = (double)period_ms / 1000.0;
	for (uint64_t tick = 1; !stop_flag; tick++) {
		struct bs_slot_view v;
		compute(&s, tick, dt_s);
		rc = bs_writer_begin(w, &v);
		if (rc < 0)
			break;
		bs_copy_to_shm(v.site, &s.site, sizeof(s.site));
		bs_copy_to_shm(v.racks, s.racks, s.t.racks * sizeof(*s.racks));
		bs_copy_to_shm(v.modules, s.modules,
			       s.n_modules * sizeof(*s.modules));
		bs_copy_to_shm(v.cells, s.cells, s.n_cells * sizeof(*s.cells));
		bs_writer_publish(w, tick, (double)tick * dt_s);

		next.tv_nsec += (long)(period_ns % 1000000000u);
		next.tv_sec += (time_t)(period_ns / 1000000000u);
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		double elapsed = (double)(next.tv_sec - start.tv_sec) +
				 (double)(next.tv_nsec - start.tv_nsec) / 1e9;
		if (crash >= 0 && elapsed > crash) {
			/* Sleep out the remainder, then die without a
			 * clean stop: state stays RUNNING. */
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
					NULL);
			_exit(3);
		}
		if (duration >= 0 && elapsed > duration)
			break;
		while (!stop_flag &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	bs_writer_close(w);
	if (remove_on_exit)
		bs_segment_remove(name);
	free(s.racks);
	free(s.modules);
	free(s.cells);
	return 0;
}
