/*
 * engine.c - the engine: set-up, the step driver with the DC bus solver,
 * control inputs, and engine_fill (telemetry aggregates).
 *
 * One step (engine_step):
 *   1. the profile (if any) sets mode and setpoint for this instant;
 *   2. the BMS derates each rack's current limits from the last step's
 *      measured cell voltages and temperatures;
 *   3. the bus is solved in closed form from each rack's E_r and R_r (sums
 *      of the cells' E' and R', see model.h) for the site current or power,
 *      limited to the sum of the rack limits;
 *   4. the backend advances every cell with its rack's current and returns
 *      per-rack sums and extremes (fixed summation order on the CPU);
 *   5. the BMS evaluates alarms and protection on the new state.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_internal.h"
#include "rng.h"
#ifdef HAVE_CUDA
#include "engine_cuda.h"
#endif

static void seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_prepare(struct engine *e);
static void initial_terminal(struct engine *e);
static void initial_view(struct engine *e);
static void physics_fill(struct engine *e, struct bs_rack *racks,
			 struct bs_site *site, struct bs_module_ext *mx);
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Streams of the counter-based generator (rng.h). */
enum { RNG_CAP = 1, RNG_R0 = 2, RNG_SOC = 3 };

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : (x > hi ? hi : x);
}

static int check_config(const struct bsd_config *cfg, char *err, size_t len)
{
	const struct cfg_cell *c = &cfg->cell;
	uint64_t n = (uint64_t)cfg->racks * cfg->modules_per_rack *
		     cfg->cells_per_module;
	if (cfg->racks == 0 || cfg->modules_per_rack == 0 ||
	    cfg->cells_per_module == 0 || n > BS_MAX_CELLS ||
	    cfg->racks > BS_MAX_RACKS) {
		seterr(err, len,
		       "topology %ux%ux%u is not supported (each part >= 1, "
		       "at most %u racks and %u cells)",
		       cfg->racks, cfg->modules_per_rack, cfg->cells_per_module,
		       BS_MAX_RACKS, BS_MAX_CELLS);
		return -1;
	}
	if (!(cfg->dt_s > 0.0) || cfg->dt_s > 3600.0) {
		seterr(err, len,
		       "dt_s = %g: the internal step must be in "
		       "(0, 3600] seconds",
		       cfg->dt_s);
		return -1;
	}
	if (c->ocv_n < 2 || c->ocv_n > BSM_OCV_MAX) {
		seterr(err, len,
		       "the OCV table has %u points: it needs 2 to %u",
		       c->ocv_n, BSM_OCV_MAX);
		return -1;
	}
	for (unsigned i = 1; i < c->ocv_n; i++)
		if (!(c->ocv_soc[i] > c->ocv_soc[i - 1])) {
			seterr(err, len,
			       "OCV table: soc must increase (point "
			       "%u: %g after %g)",
			       i + 1, c->ocv_soc[i], c->ocv_soc[i - 1]);
			return -1;
		}
	if (!(c->capacity_ah > 0) || !(c->r0_ohm > 0) || c->r1_ohm < 0 ||
	    c->r2_ohm < 0 || (c->r1_ohm > 0 && !(c->tau1_s > 0)) ||
	    (c->r2_ohm > 0 && !(c->tau2_s > 0)) ||
	    !(c->heat_capacity_j_k > 0) || !(c->ha_w_k > 0) ||
	    c->conduction_w_k < 0) {
		seterr(err, len,
		       "cell parameters out of range: capacity, r0, "
		       "heat capacity and hA must be > 0, r1/r2 >= 0 with "
		       "tau > 0 (check the cell_* keys of the configuration)");
		return -1;
	}
	return 0;
}

static void setup_chem(struct engine *e)
{
	const struct cfg_cell *c = &e->cfg.cell;
	struct bsm_chem *m = &e->chem;
	memset(m, 0, sizeof(*m));
	m->dt_s = e->cfg.dt_s;
	m->ocv_n = c->ocv_n;
	m->cells_per_module = e->C;
	m->modules_per_rack = e->M;
	m->cells_per_rack = e->M * e->C;
	for (unsigned i = 0; i < c->ocv_n; i++) {
		m->ocv_soc[i] = c->ocv_soc[i];
		m->ocv_v[i] = c->ocv_v[i];
	}
	m->r0_ohm = c->r0_ohm;
	m->r0_soc_k = c->r0_soc_factor - 1.0;
	chem_tables(m, c->chemistry);
	m->ea_over_r_k = c->ea_j_mol / BSM_R_GAS;
	m->t_ref_c = 25.0;
	m->inv_tref_k = 1.0 / (m->t_ref_c + BSM_KELVIN);
	m->r1_ohm = c->r1_ohm;
	m->a1 = c->r1_ohm > 0 ? exp(-e->cfg.dt_s / c->tau1_s) : 0.0;
	m->r2_ohm = c->r2_ohm;
	m->a2 = c->r2_ohm > 0 ? exp(-e->cfg.dt_s / c->tau2_s) : 0.0;
	m->cth_j_k = c->heat_capacity_j_k;
	m->cond_w_k = c->conduction_w_k;
	m->dudt_v_k = c->dudt_v_k;
	/* the BMS cut-offs: between the warning and alarm tiers (a normal
	 * end of charge or discharge raises the warning only), and never
	 * outside the cell's window [v_min, v_max] */
	m->v_chg_cut = 0.5 * (e->cfg.bms.cell_ov_v[0] + e->cfg.bms.cell_ov_v[1]);
	if (m->v_chg_cut > c->v_max)
		m->v_chg_cut = c->v_max;
	m->v_dis_cut = 0.5 * (e->cfg.bms.cell_uv_v[0] + e->cfg.bms.cell_uv_v[1]);
	if (m->v_dis_cut < c->v_min)
		m->v_dis_cut = c->v_min;
	/* Thermal runaway as a lumped exothermic source: 50 W at the
	 * threshold, e-folding every 5 K, at most 20 kW per cell, spent
	 * above 700 degC.  Order-of-magnitude figures only (docs/MODEL.md). */
	m->runaway_p0_w = 100.0;
	m->runaway_k = 5.0;
	m->runaway_pmax_w = 20000.0;
	m->runaway_end_c = 700.0;
	bsm_chem_derive(m); /* the uniform grids of the tables */
}

/* The ageing state (ageing.h), before the first faults_apply. */
static int setup_ageing(struct engine *e)
{
	const struct bsd_config *cfg = &e->cfg;
	struct ag_params p = {
	    .n_cells = e->n_cells,
	    .racks = e->R,
	    .cells_per_rack = (size_t)e->M * e->C,
	    .dt_s = cfg->dt_s,
	    .factor = cfg->ageing_factor,
	    .initial_soh = cfg->initial_soh,
	    .soh_sigma = cfg->soh_sigma,
	    .seed = cfg->seed,
	    .variation = cfg->variation,
	};
	e->ag = ag_create(&p);
	return e->ag ? 0 : -1;
}

/* Per step: the ageing accumulators; once per simulated minute the
 * ageing update, and the capacities it changed to the backend. */
static void ageing_step(struct engine *e)
{
	for (uint32_t r = 0; r < e->R; r++)
		ag_accumulate(e->ag, r, e->rin[r].i_a);
	if (!ag_step_done(e->ag))
		return;
	eng_sync_to_host(e); /* CUDA: SoC and temperature to the host */
	if (ag_update(e->ag, e->a.soc, e->a.soc_c, eng_tcur(e), e->a.inv_q)) {
		faults_apply(e); /* inv_q from the new SoH */
		if (eng_params_to_backend(e) < 0 && !e->error[0])
			snprintf(e->error, sizeof(e->error),
				 "cuda: uploading the aged capacities failed");
	}
}

/* Thermal constants of each rack's step (after ha or dt changes). */
static void rin_thermal(struct engine *e)
{
	for (uint32_t r = 0; r < e->R; r++) {
		struct bsm_rack_in *ri = &e->rin[r];
		ri->ha_w_k = e->cfg.cell.ha_w_k * e->rk[r].ha_mult;
		for (int n = 0; n < 3; n++) {
			ri->g[n] = ri->ha_w_k + n * e->chem.cond_w_k;
			ri->alpha[n] =
			    exp(-e->cfg.dt_s * ri->g[n] / e->chem.cth_j_k);
		}
	}
}

static void rin_air(struct engine *e)
{
	double step = e->M > 1
			  ? e->cfg.rack_thermal_gradient_c / (double)(e->M - 1)
			  : 0.0;
	for (uint32_t r = 0; r < e->R; r++) {
		e->rin[r].air_c = e->ambient_c;
		e->rin[r].air_step_c = step;
	}
}

void eng_rin_thermal(struct engine *e)
{
	rin_thermal(e);
}

static void *xcalloc(size_t n, size_t sz, int *fail)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		*fail = 1;
	return p;
}

static int alloc_arrays(struct engine *e)
{
	size_t n = e->n_cells;
	int fail = 0;
	struct bsm_arrays *a = &e->a;
	a->soc = xcalloc(n, sizeof(double), &fail);
	a->soc_c = xcalloc(n, sizeof(double), &fail);
	a->i1 = xcalloc(n, sizeof(double), &fail);
	a->i2 = xcalloc(n, sizeof(double), &fail);
	a->h = xcalloc(n, sizeof(double), &fail);
	a->r1 = xcalloc(n, sizeof(double), &fail);
	/* one spare element at each end: the vectorised step loads the
	 * neighbours of the first and the last cell too (engine_cpu.c) */
	a->t_a = xcalloc(n + 2, sizeof(double), &fail);
	a->t_b = xcalloc(n + 2, sizeof(double), &fail);
	a->t_a = a->t_a ? a->t_a + 1 : NULL;
	a->t_b = a->t_b ? a->t_b + 1 : NULL;
	a->v = xcalloc(n, sizeof(double), &fail);
	a->e = xcalloc(n, sizeof(double), &fail);
	a->r = xcalloc(n, sizeof(double), &fail);
	a->r0 = xcalloc(n, sizeof(double), &fail);
	a->inv_q = xcalloc(n, sizeof(double), &fail);
	a->r0_mult = xcalloc(n, sizeof(double), &fail);
	a->leak_s = xcalloc(n, sizeof(double), &fail);
	a->runaway_c = xcalloc(n, sizeof(double), &fail);
	a->sv_off = xcalloc(n, sizeof(float), &fail);
	a->st_off = xcalloc(n, sizeof(float), &fail);
	a->sv_stuck = xcalloc(n, sizeof(float), &fail);
	a->st_stuck = xcalloc(n, sizeof(float), &fail);
	e->var_r0 = xcalloc(n, sizeof(double), &fail);
	e->var_cap_c = xcalloc(n, sizeof(double), &fail);
	e->cap_frac = xcalloc(n, sizeof(double), &fail);
	e->mplain = xcalloc(e->n_mod, 1, &fail);
	e->rin = xcalloc(e->R, sizeof(*e->rin), &fail);
	e->mstats = xcalloc(e->n_mod, sizeof(*e->mstats), &fail);
	e->rstats = xcalloc(e->R, sizeof(*e->rstats), &fail);
	e->rk = xcalloc(e->R, sizeof(*e->rk), &fail);
	return fail ? -1 : 0;
}

static void free_arrays(struct engine *e)
{
	struct bsm_arrays *a = &e->a;
	void *p[] = {a->soc,	  a->soc_c,	a->i1,	   a->i2,
		     a->t_a ? a->t_a - 1 : NULL,
		     a->t_b ? a->t_b - 1 : NULL,
		     a->v,	  a->e,
		     a->r,	  a->r0,	a->inv_q,  a->r0_mult,
		     a->leak_s,	  a->runaway_c, a->sv_off, a->st_off,
		     a->sv_stuck, a->st_stuck,	e->var_r0, e->var_cap_c,
		     e->rin,	  e->mstats,	e->rstats, e->rk,
		     a->h,	  a->r1,	e->cap_frac, e->mplain};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		free(p[i]);
}

/* Initial state: seeded variation, temperatures at their air. */
static void init_state(struct engine *e)
{
	const struct bsd_config *cfg = &e->cfg;
	double q_nom = cfg->cell.capacity_ah * 3600.0;
	double step =
	    e->M > 1 ? cfg->rack_thermal_gradient_c / (double)(e->M - 1) : 0.0;
	for (size_t i = 0; i < e->n_cells; i++) {
		double fc = 1.0, fr = 1.0, s = cfg->initial_soc;
		uint32_t m = (uint32_t)((i / e->C) % e->M);
		if (cfg->variation) {
			fc += cfg->capacity_sigma *
			      rng_normal(cfg->seed, RNG_CAP, i);
			fr += cfg->r0_sigma * rng_normal(cfg->seed, RNG_R0, i);
			s += cfg->soc_sigma * rng_normal(cfg->seed, RNG_SOC, i);
		}
		e->var_cap_c[i] = q_nom * clampd(fc, 0.5, 1.5);
		e->var_r0[i] = clampd(fr, 0.5, 2.0);
		e->a.soc[i] = clampd(s, 0.0, 1.0);
		e->a.soc_c[i] = 0.0;
		/* the terminal voltage: initial_terminal() */
		e->a.sv_stuck[i] = NAN;
		e->a.st_stuck[i] = NAN;
		e->a.t_a[i] = e->a.t_b[i] = cfg->ambient_c + step * m;
	}
	for (uint32_t r = 0; r < e->R; r++) {
		e->rk[r].ha_mult = 1.0;
		for (unsigned k = 0; k < BS_ALARM_KINDS; k++)
			e->rk[r].prot_since[k] = -1.0;
	}
	faults_apply(e); /* no faults: params = variation */
}

int engine_create(const struct bsd_config *cfg, int backend, engine **out,
		  char *err, size_t errlen)
{
	struct engine *e;
	char why[200] = "";

	*out = NULL;
	if (check_config(cfg, err, errlen) < 0)
		return -1;
	if (backend != ENG_BACKEND_AUTO && backend != ENG_BACKEND_CPU &&
	    backend != ENG_BACKEND_CUDA) {
		seterr(err, errlen,
		       "unknown backend %d (use auto, cpu or cuda)", backend);
		return -1;
	}
#ifndef HAVE_CUDA
	if (backend == ENG_BACKEND_CUDA) {
		seterr(err, errlen,
		       "--backend cuda: this batsimd was built "
		       "without CUDA support (rebuild with ./configure "
		       "--with-cuda, or use --backend cpu or auto)");
		return -1;
	}
	snprintf(why, sizeof(why), "built without CUDA");
#endif
	e = calloc(1, sizeof(*e));
	if (!e) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	e->cfg = *cfg;
	e->R = cfg->racks;
	e->M = cfg->modules_per_rack;
	e->C = cfg->cells_per_module;
	e->n_mod = (size_t)e->R * e->M;
	e->n_cells = e->n_mod * e->C;
	chem_derate_preset(&e->derate, cfg->cell.chemistry);
	e->ambient_c = cfg->ambient_c;
	e->rsv_min = 0.0; /* no SoC reserve */
	e->rsv_max = 1.0;
	e->mode = cfg->mode;
	e->setpoint =
	    cfg->mode == BS_MODE_CURRENT ? cfg->setpoint_a : cfg->setpoint_w;
	e->eff_mode = e->mode;
	e->eff_setpoint = e->setpoint;
	if (alloc_arrays(e) < 0) {
		free_arrays(e);
		free(e);
		seterr(err, errlen, "out of memory for %zu cells",
		       (size_t)0 + (size_t)cfg->racks * cfg->modules_per_rack *
				       cfg->cells_per_module);
		return -1;
	}
	setup_chem(e);
	if (setup_ageing(e) < 0) {
		free_arrays(e);
		free(e);
		seterr(err, errlen, "out of memory for the ageing state");
		return -1;
	}
	e->p_nom_w = (double)e->n_cells * bsm_ocv(&e->chem, 0.5) *
		     cfg->bms.max_discharge_a;
	init_state(e);
	rin_thermal(e);
	rin_air(e);
	eng_set_dir(e, e->eff_setpoint);
	/* the profile reads the initial rack SoC (cycle) and gives the
	 * setpoint at time 0: prepare on the host first */
	host_prepare(e);
	if (cfg->profile.name[0] && strcmp(cfg->profile.name, "none") != 0 &&
	    prof_set(e, &cfg->profile, err, errlen) < 0) {
		engine_destroy(e);
		return -1;
	}
	initial_terminal(e);

#ifdef HAVE_CUDA
	if (backend != ENG_BACKEND_CPU) {
		char desc[128];
		if (ecu_available(desc, sizeof(desc), why, sizeof(why))) {
			e->cu = ecu_create(&e->chem, e->R, e->n_cells, &e->a,
					   e->rin,
					   why, sizeof(why));
			if (e->cu) {
				e->backend = BS_BACKEND_CUDA;
				snprintf(e->desc, sizeof(e->desc), "cuda: %s",
					 desc);
			}
		}
		if (!e->cu && backend == ENG_BACKEND_CUDA) {
			seterr(err, errlen,
			       "--backend cuda: no usable CUDA "
			       "device (%s); use --backend cpu or auto",
			       why);
			engine_destroy(e);
			return -1;
		}
	}
#endif
	if (!e->cu) {
		unsigned th = cfg->threads;
		if (th == 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);
			th = n > 0 ? (unsigned)n : 1;
		}
		if (th > 256)
			th = 256;
		if (cpu_create(e, th, err, errlen) < 0) {
			engine_destroy(e);
			return -1;
		}
		e->backend = BS_BACKEND_CPU;
		if (backend == ENG_BACKEND_AUTO && why[0])
			snprintf(e->desc, sizeof(e->desc),
				 "cpu: %u thread%s (no CUDA: %.100s)",
				 e->threads, e->threads == 1 ? "" : "s", why);
		else
			snprintf(e->desc, sizeof(e->desc), "cpu: %u thread%s",
				 e->threads, e->threads == 1 ? "" : "s");
	}
	initial_view(e);
	if (e->error[0]) {
		seterr(err, errlen, "%s", e->error);
		engine_destroy(e);
		return -1;
	}
	*out = e;
	return 0;
}

uint32_t engine_backend(const engine *e)
{
	return (uint32_t)e->backend;
}

const char *engine_backend_desc(const engine *e)
{
	return e->desc;
}

double engine_step_bytes(const engine *e, char *why, size_t len)
{
	/* A module without faults (engine_cpu.c fast_cells, plain_stats):
	 * read soc, soc_c, i1, h, T in, E', R', R0, R1, 1/Q, R0 factor (11
	 * doubles), write soc, soc_c, i1, h, T out, E', R', R0, R1, v (10);
	 * i2 both ways with a second RC pair; the statistics re-read the
	 * module's arrays from the cache.  A module with a fault: the scalar
	 * bsm_step, which also reads the leak, the runaway threshold and the
	 * 4 float sensor fields and always keeps i2 (216 B).  The CUDA
	 * backend moves the scalar layout on the device. */
	size_t plain = 0;
	int r2 = e->chem.r2_ohm != 0.0;
	double fast, slow = 14 * 8 + 4 * 4 + 11 * 8;
	for (size_t m = 0; m < e->n_mod; m++)
		plain += e->mplain[m] ? 1 : 0;
	fast = (11 + 10 + (r2 ? 2 : 0)) * 8.0;
	if (e->backend == BS_BACKEND_CUDA || e->C < 3)
		plain = 0;
	snprintf(why, len,
		 "%zu of %zu modules without faults: %.0f B each (%d doubles "
		 "read, %d written), the rest %.0f B",
		 plain, e->n_mod, fast, 11 + r2, 10 + r2, slow);
	return (fast * (double)plain + slow * (double)(e->n_mod - plain)) /
	       (double)e->n_mod;
}

uint64_t engine_tick(const engine *e)
{
	return e->tick;
}

double engine_time_s(const engine *e)
{
	return (double)e->tick * e->cfg.dt_s;
}

/* Backend dispatch. */
#ifdef HAVE_CUDA
/* Remember the first device failure for engine_error(). */
static void cuda_failed(struct engine *e, const char *what)
{
	if (!e->error[0])
		snprintf(e->error, sizeof(e->error),
			 "cuda: %s failed; the GPU state is lost (restart "
			 "batsimd, or run it with --backend cpu)",
			 what);
}
#endif

static void be_prepare(struct engine *e)
{
#ifdef HAVE_CUDA
	if (e->cu) {
		if (ecu_prepare(e->cu, e->rin, e->rstats) < 0)
			cuda_failed(e, "prepare");
		return;
	}
#endif
	cpu_prepare(e);
}

static void be_step(struct engine *e)
{
#ifdef HAVE_CUDA
	if (e->cu) {
		if (ecu_step(e->cu, e->rin, e->rstats) < 0)
			cuda_failed(e, "a step");
		return;
	}
#endif
	cpu_step(e);
}

const char *engine_error(const engine *e)
{
	return e->error[0] ? e->error : NULL;
}

void eng_sync_to_host(struct engine *e)
{
#ifdef HAVE_CUDA
	if (e->cu) {
		ecu_download_state(e->cu, &e->a, eng_tcur(e));
		return;
	}
#else
	(void)e;
#endif
}

int eng_params_to_backend(struct engine *e)
{
#ifdef HAVE_CUDA
	if (e->cu)
		return ecu_upload_params(e->cu, &e->a);
#else
	(void)e;
#endif
	return 0;
}

/* The DC bus in closed form.  Closed racks r with E_r, R_r:
 *   I_site = sum (E_r - V)/R_r = A - B V,  A = sum E_r/R_r, B = sum 1/R_r
 * current mode: V = (A - I)/B; power mode: P = V (A - B V), the upper
 * root V = (A + sqrt(A^2 - 4 B P)) / (2 B) (the one near open circuit;
 * beyond the maximum power A^2/(4B) the bus sits at V = A/(2B)).  The
 * current is then limited so that no closed rack exceeds its BMS limits
 * (their sum bounds it too, as the window lies inside it). */
static void bus_solve(struct engine *e)
{
	double A = 0.0, B = 0.0, I, V;
	double v_lo = -1e300, v_hi = 1e300; /* bus window of the limits */
	uint32_t closed = 0;

	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		double er = e->rstats[r].e_v, rr = e->rstats[r].r_ohm;
		if (eng_rack_open(k) || !(rr > 0))
			continue;
		A += er / rr;
		B += 1.0 / rr;
		/* I_r = (E_r - V)/R_r <= discharge limit  <=>  V >= E_r - L
		 * R_r; I_r >= -charge limit  <=>  V <= E_r + L R_r */
		if (er - k->discharge_lim_a * rr > v_lo)
			v_lo = er - k->discharge_lim_a * rr;
		if (er + k->charge_lim_a * rr < v_hi)
			v_hi = er + k->charge_lim_a * rr;
		closed++;
	}
	if (closed == 0) {
		for (uint32_t r = 0; r < e->R; r++)
			e->rin[r].i_a = 0.0;
		e->v_bus = 0.0;
		e->i_site = 0.0;
		e->p_site = 0.0;
		return;
	}
	if (e->eff_mode == BS_MODE_POWER) {
		double d = A * A - 4.0 * B * e->eff_setpoint;
		V = (A + sqrt(d > 0.0 ? d : 0.0)) / (2.0 * B);
		I = A - B * V;
	} else {
		I = e->eff_setpoint;
	}
	/* racks in parallel share one bus voltage: the site current is
	 * limited so that no closed rack exceeds its own BMS limits (the
	 * most constrained rack decides), and never reverses */
	if (closed == 1) {
		/* one rack: its limits themselves (the closed form rounds a
		 * zero limit to 1e-12 A) */
		for (uint32_t r = 0; r < e->R; r++) {
			const struct eng_rack *k = &e->rk[r];
			if (k->fault_open || k->prot_open ||
			    !(e->rstats[r].r_ohm > 0))
				continue;
			if (I > k->discharge_lim_a)
				I = k->discharge_lim_a;
			if (I < -k->charge_lim_a)
				I = -k->charge_lim_a;
		}
	} else {
		if (I > 0 && I > A - B * v_lo)
			I = A - B * v_lo > 0 ? A - B * v_lo : 0.0;
		if (I < 0 && I < A - B * v_hi)
			I = A - B * v_hi < 0 ? A - B * v_hi : 0.0;
	}
	V = (A - I) / B;
	e->i_site = 0.0;
	for (uint32_t r = 0; r < e->R; r++) {
		struct eng_rack *k = &e->rk[r];
		double ir = 0.0;
		if (!eng_rack_open(k) && e->rstats[r].r_ohm > 0)
			/* one rack carries the site current exactly (the
			 * general form rounds at 1e-12 A, which adds up
			 * over millions of steps) */
			ir = closed == 1
				 ? I
				 : (e->rstats[r].e_v - V) / e->rstats[r].r_ohm;
		e->rin[r].i_a = ir;
		e->i_site += ir;
	}
	e->v_bus = V;
	e->p_site = V * e->i_site;
}

/* The state at time 0, before any step, computed on the host from the
 * initial state (no backend needed, so both backends start from the same
 * arrays): every cell prepared (E', R', R0) at rest (V = E', the OCV)
 * and the rack sums, which the BMS limits and the profile read. */
static void host_prepare(struct engine *e)
{
	const double *t = eng_tcur(e);
	for (uint32_t r = 0; r < e->R; r++) {
		struct bsm_stats *rs = &e->rstats[r];
		bsm_stats_init(rs);
		for (uint32_t m = 0; m < e->M; m++) {
			struct bsm_stats ms;
			size_t base = ((size_t)r * e->M + m) * e->C;
			bsm_stats_init(&ms);
			for (uint32_t k = 0; k < e->C; k++) {
				bsm_prepare(&e->chem, &e->a, base + k,
					    t[base + k], e->rin[r].dir);
				/* at rest, before any current */
				e->a.v[base + k] = e->a.e[base + k];
				bsm_stats_add(&e->chem, &ms, &e->a, t,
					      base + k, k);
			}
			bsm_stats_merge(rs, &ms, m * e->C);
		}
	}
}

/* Then the BMS limits and alarms, the bus solved for the setpoint of
 * time 0 (the profile's value there), and each cell's terminal voltage for its
 * rack current, V = E' - R'*I (the OCV at rest; what the first step's solve
 * gives too), so that the snapshot published before the first step is
 * physical and consistent: strings sum to the bus voltage. */
static void initial_terminal(struct engine *e)
{
	struct eng_profile saved = e->prof; /* the cycle's state machine */
	bms_limits(e);
	op_limits(e); /* operator.c: contactor, SoC reserve */
	/* alarms that hold at time 0 show at once (a protection still waits
	 * for its delay unless that is 0) */
	bms_eval(e, 0.0);
	prof_apply(e, 0.0);
	e->prof.cyc_phase = saved.cyc_phase;
	e->prof.cyc_i_a = saved.cyc_i_a;
	e->prof.cyc_since_s = saved.cyc_since_s;
	if (eng_set_dir(e, e->eff_setpoint)) {
		host_prepare(e);
		bms_limits(e);
	}
	bus_solve(e);
	for (uint32_t r = 0; r < e->R; r++) {
		size_t i0 = (size_t)r * e->M * e->C,
		       i1 = i0 + (size_t)e->M * e->C;
		double ir = e->rin[r].i_a;
		for (size_t i = i0; i < i1; i++)
			e->a.v[i] = e->a.e[i] - e->a.r[i] * ir;
	}
}

/* With the backend up: its own sums of that state (the measured extremes
 * now include the terminal voltages), the rack string voltages. */
static void initial_view(struct engine *e)
{
	be_prepare(e);
	e->dirty = 0;
	for (uint32_t r = 0; r < e->R; r++)
		e->rk[r].v_string =
		    eng_rack_open(&e->rk[r]) ? e->rstats[r].v_sum : e->v_bus;
}

void engine_step(engine *e, unsigned n)
{
	double dt = e->cfg.dt_s;
	if (e->dirty) {
		be_prepare(e);
		e->dirty = 0;
	}
	for (unsigned s = 0; s < n; s++) {
		double t = (double)e->tick * dt;
		prof_apply(e, t);
		rin_air(e);
		/* the step's direction (charge or discharge resistances)
		 * follows the setpoint: prepare again when it changes */
		if (eng_set_dir(e, e->eff_setpoint))
			be_prepare(e);
		bms_limits(e);
	op_limits(e); /* operator.c: contactor, SoC reserve */
		bus_solve(e);
		be_step(e);
		e->tcur ^= 1;
		e->tick++;
		ageing_step(e);
		/* rack terminal voltage: true string sum (bus when closed) */
		for (uint32_t r = 0; r < e->R; r++)
			e->rk[r].v_string = e->rstats[r].v_sum;
		if (e->p_site > 0)
			e->energy_out_wh += e->p_site * dt / 3600.0;
		else
			e->energy_in_wh -= e->p_site * dt / 3600.0;
		bms_eval(e, (double)e->tick * dt);
	}
}

/* ---- telemetry ---- */

static void module_aggregate(const struct bs_cell *c, uint32_t n, double rack_i,
			     int closed, struct bs_module *m)
{
	double vs = 0, ts = 0, ss = 0;
	uint32_t vmin = 0, vmax = 0, tmin = 0, tmax = 0;
	for (uint32_t k = 0; k < n; k++) {
		vs += c[k].voltage;
		ts += c[k].temperature;
		ss += c[k].soc;
		if (c[k].voltage < c[vmin].voltage)
			vmin = k;
		if (c[k].voltage > c[vmax].voltage)
			vmax = k;
		if (c[k].temperature < c[tmin].temperature)
			tmin = k;
		if (c[k].temperature > c[tmax].temperature)
			tmax = k;
	}
	m->voltage_v = (float)vs;
	m->current_a = (float)rack_i;
	m->soc_mean = (float)(ss / n);
	m->cell_v_min = c[vmin].voltage;
	m->cell_v_max = c[vmax].voltage;
	m->cell_v_mean = (float)(vs / n);
	m->temp_min_c = c[tmin].temperature;
	m->temp_max_c = c[tmax].temperature;
	m->temp_mean_c = (float)(ts / n);
	m->v_min_cell = vmin;
	m->v_max_cell = vmax;
	m->t_min_cell = tmin;
	m->t_max_cell = tmax;
	m->alarm_bits = 0;
	m->contactor = closed ? 1u : 0u;
	m->reserved0 = 0;
}

/* Shared by the backends: module aggregates from cell records. */
void eng_module_aggregates(struct engine *e, const struct bs_cell *cells,
			   struct bs_module *mods, size_t m0, size_t m1)
{
	for (size_t m = m0; m < m1; m++) {
		uint32_t r = (uint32_t)(m / e->M);
		module_aggregate(cells + m * e->C, e->C, e->rin[r].i_a,
				 !eng_rack_open(&e->rk[r]),
				 &mods[m]);
	}
}

void engine_fill(engine *e, const struct bs_slot_view *view)
{
	struct bs_site *site = view->site;
	double vmin = 1e300, vmax = -1e300, tmin = 1e300, tmax = -1e300;
	double soc = 0.0, chg = 0.0, dis = 0.0;
	uint32_t closed = 0;

	if (e->dirty) {
		be_prepare(e);
		e->dirty = 0;
	}
#ifdef HAVE_CUDA
	if (e->cu) {
		double ri[BS_MAX_RACKS];
		for (uint32_t r = 0; r < e->R; r++)
			ri[r] = e->rin[r].i_a;
		if (ecu_records(e->cu, ri, (float *)view->cells) < 0)
			cuda_failed(e, "copying the cell records");
		eng_module_aggregates(e, view->cells, view->modules, 0,
				      e->n_mod);
	} else
#endif
		cpu_records(e, view->cells, view->modules);

	for (uint32_t r = 0; r < e->R; r++) {
		struct bs_rack *rr = &view->racks[r];
		struct eng_rack *k = &e->rk[r];
		const struct bs_module *md = view->modules + (size_t)r * e->M;
		double vs = 0, ts = 0, ss = 0;
		uint32_t a = 0, b = 0, c = 0, d = 0;
		int cl = !eng_rack_open(k);
		for (uint32_t m = 0; m < e->M; m++) {
			vs += md[m].cell_v_mean;
			ts += md[m].temp_mean_c;
			ss += md[m].soc_mean;
			if (md[m].cell_v_min < md[a].cell_v_min)
				a = m;
			if (md[m].cell_v_max > md[b].cell_v_max)
				b = m;
			if (md[m].temp_min_c < md[c].temp_min_c)
				c = m;
			if (md[m].temp_max_c > md[d].temp_max_c)
				d = m;
		}
		memset(rr, 0, sizeof(*rr));
		rr->voltage_v = (float)k->v_string;
		rr->current_a = (float)e->rin[r].i_a;
		rr->soc_mean = (float)(ss / e->M);
		rr->cell_v_min = md[a].cell_v_min;
		rr->cell_v_max = md[b].cell_v_max;
		rr->cell_v_mean = (float)(vs / e->M);
		rr->temp_min_c = md[c].temp_min_c;
		rr->temp_max_c = md[d].temp_max_c;
		rr->temp_mean_c = (float)(ts / e->M);
		rr->charge_limit_a = (float)k->charge_lim_a;
		rr->discharge_limit_a = (float)k->discharge_lim_a;
		rr->power_w = (float)(k->v_string * e->rin[r].i_a);
		rr->v_min_cell = a * e->C + md[a].v_min_cell;
		rr->v_max_cell = b * e->C + md[b].v_max_cell;
		rr->t_min_cell = c * e->C + md[c].t_min_cell;
		rr->t_max_cell = d * e->C + md[d].t_max_cell;
		rr->contactor = cl ? 1u : 0u;
		rr->operator_open = k->op_open ? 1u : 0u;
		rr->alarm_active = k->alarm_active;
		rr->alarm_latched = k->alarm_latched;
		rr->fault_bits = k->fault_bits;
		rr->charge_state = (k->chg_done ? BS_CHARGE_FULL : 0u) |
				   (k->dis_done ? BS_CHARGE_EMPTY : 0u);
		for (unsigned q = 0; q < BS_ALARM_KINDS; q++) {
			rr->alarm_cell[q] = k->alarm_cell[q];
			rr->alarm_time_s[q] = k->alarm_time_s[q];
		}
		/* module alarm bits: the active kinds whose source cell lies
		 * in that module */
		for (unsigned q = 0; q < BS_ALARM_KINDS; q++) {
			uint32_t bits = 0;
			for (unsigned t = 0; t < BS_TIERS; t++)
				bits |= k->alarm_active & BS_ALARM_BIT(t, q);
			if (bits) {
				uint32_t m = k->alarm_src[q] / e->C;
				if (m < e->M)
					view->modules[(size_t)r * e->M + m]
					    .alarm_bits |= bits;
			}
		}
		if (rr->cell_v_min < vmin)
			vmin = rr->cell_v_min;
		if (rr->cell_v_max > vmax)
			vmax = rr->cell_v_max;
		if (rr->temp_min_c < tmin)
			tmin = rr->temp_min_c;
		if (rr->temp_max_c > tmax)
			tmax = rr->temp_max_c;
		soc += rr->soc_mean;
		if (cl) {
			closed++;
			chg += k->charge_lim_a;
			dis += k->discharge_lim_a;
		}
	}
	memset(site, 0, sizeof(*site));
	site->energy_out_wh = e->energy_out_wh;
	site->energy_in_wh = e->energy_in_wh;
	site->bus_voltage_v = (float)e->v_bus;
	site->current_a = (float)e->i_site;
	site->power_w = (float)e->p_site;
	site->soc_mean = (float)(soc / e->R);
	site->setpoint = (float)e->eff_setpoint;
	site->ambient_c = (float)e->ambient_c;
	site->cell_v_min = (float)vmin;
	site->cell_v_max = (float)vmax;
	site->temp_min_c = (float)tmin;
	site->temp_max_c = (float)tmax;
	site->charge_limit_a = (float)chg;
	site->discharge_limit_a = (float)dis;
	site->mode = e->eff_mode;
	site->racks_closed = closed;
	for (uint32_t r = 0; r < e->R; r++)
		for (unsigned t = 0; t < BS_TIERS; t++) {
			uint32_t mask = ((1u << BS_ALARM_KINDS) - 1)
					<< (t * BS_ALARM_KINDS);
			if (e->rk[r].alarm_active & mask)
				site->alarm_count[t]++;
			if (e->rk[r].alarm_latched & mask)
				site->latched_count[t]++;
		}
	site->profile = prof_code(e);
	site->faults_active = e->n_faults;
	site->soc_reserve_min = (float)e->rsv_min;
	site->soc_reserve_max = (float)e->rsv_max;
	physics_fill(e, view->racks, site, NULL);
}

/* SoH (capacity now / the cell's initial, so the fade fault counts) and
 * equivalent full cycles: module aggregates (into mx when not NULL) and,
 * with racks and site, the rack and site blocks.  Ties keep the lower
 * index, as for voltage and temperature. */
static void physics_fill(struct engine *e, struct bs_rack *racks,
			 struct bs_site *site, struct bs_module_ext *mx)
{
	const double *soh = e->cap_frac, *efc = ag_efc(e->ag);
	double s_min = 2.0, s_sum = 0.0, f_sum = 0.0;
	uint32_t s_rack = 0, s_cell = 0;
	for (uint32_t r = 0; r < e->R; r++) {
		double rmin = 2.0, rsum = 0.0, fsum = 0.0;
		uint32_t rcell = 0;
		for (uint32_t m = 0; m < e->M; m++) {
			size_t base = ((size_t)r * e->M + m) * e->C;
			double mmin = 2.0, msum = 0.0, mf = 0.0;
			uint32_t mcell = 0;
			for (uint32_t k = 0; k < e->C; k++) {
				double v = soh[base + k];
				msum += v;
				mf += efc[base + k];
				if (v < mmin) {
					mmin = v;
					mcell = k;
				}
			}
			if (mx) {
				struct bs_module_ext *o = &mx[base / e->C];
				o->soh_min = (float)mmin;
				o->soh_mean = (float)(msum / e->C);
				o->soh_min_cell = mcell;
				o->efc_mean = (float)(mf / e->C);
			}
			if (mmin < rmin) {
				rmin = mmin;
				rcell = m * e->C + mcell;
			}
			rsum += msum;
			fsum += mf;
		}
		if (racks) {
			racks[r].soh_min = (float)rmin;
			racks[r].soh_mean = (float)(rsum / ((double)e->M * e->C));
			racks[r].soh_min_cell = rcell;
			racks[r].efc_mean = (float)(fsum / ((double)e->M * e->C));
		}
		if (rmin < s_min) {
			s_min = rmin;
			s_rack = r;
			s_cell = rcell;
		}
		s_sum += rsum;
		f_sum += fsum;
	}
	if (site) {
		site->soh_min = (float)s_min;
		site->soh_mean = (float)(s_sum / (double)e->n_cells);
		site->soh_min_rack = s_rack;
		site->soh_min_cell = s_cell;
		site->efc_mean = (float)(f_sum / (double)e->n_cells);
	}
}

void engine_fill_ext(engine *e, struct bs_module_ext *modules,
		     struct bs_cell_ext *cells)
{
	if (modules)
		physics_fill(e, NULL, NULL, modules);
	if (!cells)
		return;
#ifdef HAVE_CUDA
	/* the hysteresis state lives on the device: bring it over */
	if (e->cu && ecu_download_h(e->cu, e->a.h) < 0)
		cuda_failed(e, "copying the hysteresis states");
#endif
	for (size_t i = 0; i < e->n_cells; i++) {
		cells[i].soh = (float)e->cap_frac[i];
		cells[i].hysteresis = (float)e->a.h[i];
	}
}

int engine_cell_ageing(const engine *e, uint32_t rack, uint32_t module,
		       uint32_t cell, struct eng_ageing *out)
{
	struct ag_cell c;
	size_t i;
	if (rack >= e->R || module >= e->M || cell >= e->C)
		return -1;
	i = ((size_t)rack * e->M + module) * e->C + cell;
	ag_cell_state(e->ag, i, &c);
	out->soh = e->cap_frac[i];
	out->soh_ageing = c.soh;
	out->qloss_cal = c.qloss_cal;
	out->qloss_cyc = c.qloss_cyc;
	out->efc = c.efc;
	out->efc_applied = c.efc_applied;
	out->days = c.days;
	out->dod = c.last_dod;
	out->crate = c.last_crate;
	return 0;
}

int engine_cell(engine *e, uint32_t rack, uint32_t module, uint32_t cell,
		struct bs_cell *out)
{
	size_t i;
	double s;
	if (rack >= e->R || module >= e->M || cell >= e->C)
		return -1;
	i = ((size_t)rack * e->M + module) * e->C + cell;
	if (e->dirty) {
		be_prepare(e);
		e->dirty = 0;
	}
#ifdef HAVE_CUDA
	if (e->cu) {
		double st[10];
		ecu_get_cell(e->cu, i, st);
		s = bsm_soc_pub(st[0] + st[1]);
		out->voltage = (float)st[2];
		out->temperature = (float)st[3];
		out->resistance = (float)st[4];
		out->current = (float)e->rin[rack].i_a;
		out->soc = (float)s;
		return 0;
	}
#endif
	s = bsm_soc_pub(e->a.soc[i] + e->a.soc_c[i]);
	out->voltage = (float)e->a.v[i];
	out->current = (float)e->rin[rack].i_a;
	out->temperature = (float)eng_tcur(e)[i];
	out->soc = (float)s;
	out->resistance = (float)e->a.r0[i];
	return 0;
}

int engine_cell_model(engine *e, uint32_t rack, uint32_t module, uint32_t cell,
		      struct eng_cell_model *out)
{
	size_t i;
	if (rack >= e->R || module >= e->M || cell >= e->C)
		return -1;
	i = ((size_t)rack * e->M + module) * e->C + cell;
	if (e->dirty) {
		be_prepare(e);
		e->dirty = 0;
	}
	memset(out, 0, sizeof(*out));
#ifdef HAVE_CUDA
	if (e->cu) {
		double st[10];
		if (ecu_get_cell(e->cu, i, st) < 0)
			return -1;
		out->h = st[8];
		out->r1_ohm = st[9];
		return 0;
	}
#endif
	out->h = e->a.h[i];
	out->r1_ohm = e->a.r1[i];
	return 0;
}

/* Set every rack's direction from the sign of x (+ discharge, - charge;
 * 0 keeps it).  1 when one changed. */
int eng_set_dir(struct engine *e, double x)
{
	int want = x > 0.0 ? 0 : (x < 0.0 ? 1 : -1), changed = 0;
	if (want < 0)
		return 0;
	for (uint32_t r = 0; r < e->R; r++)
		if (e->rin[r].dir != want) {
			e->rin[r].dir = want;
			changed = 1;
		}
	return changed;
}

/* ---- control ---- */

int engine_set_setpoint(engine *e, uint32_t mode, double value)
{
	if ((mode != BS_MODE_POWER && mode != BS_MODE_CURRENT) ||
	    !isfinite(value))
		return -1;
	prof_free(&e->prof);
	e->mode = mode;
	e->setpoint = value;
	e->eff_mode = mode;
	e->eff_setpoint = value;
	return 0;
}

int engine_set_ambient(engine *e, double ambient_c)
{
	if (!isfinite(ambient_c) || ambient_c < -60.0 || ambient_c > 100.0)
		return -1;
	e->ambient_c = ambient_c;
	return 0;
}

int engine_set_profile(engine *e, const struct cfg_profile *p, char *err,
		       size_t errlen)
{
	if (!p->name[0] || strcmp(p->name, "none") == 0) {
		prof_free(&e->prof);
		e->eff_mode = e->mode;
		e->eff_setpoint = e->setpoint;
		return 0;
	}
	return prof_set(e, p, err, errlen);
}

int engine_rack_alarms(const engine *e, uint32_t r, struct eng_rack_alarms *out)
{
	const struct eng_rack *k;
	if (r >= e->R)
		return -1;
	k = &e->rk[r];
	out->active = k->alarm_active;
	out->latched = k->alarm_latched;
	for (unsigned q = 0; q < BS_ALARM_KINDS; q++) {
		out->cell[q] = k->alarm_cell[q];
		out->time_s[q] = k->alarm_time_s[q];
	}
	return 0;
}

void engine_alarm_reset(engine *e, int rack)
{
	bms_reset(e, rack);
}

void engine_control(const engine *e, struct eng_control *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = e->eff_mode;
	out->setpoint = e->eff_setpoint;
	out->ambient_c = e->ambient_c;
	if (e->prof.kind != PROF_NONE)
		out->profile = e->prof.cfg;
}

int engine_register_host(engine *e, void *base, size_t len)
{
#ifdef HAVE_CUDA
	if (e->cu)
		return ecu_register_host(e->cu, base, len);
#else
	(void)e;
	(void)base;
	(void)len;
#endif
	return 0;
}

void engine_unregister_host(engine *e)
{
#ifdef HAVE_CUDA
	if (e->cu)
		ecu_unregister_host(e->cu);
#else
	(void)e;
#endif
}

void engine_destroy(engine *e)
{
	if (!e)
		return;
#ifdef HAVE_CUDA
	if (e->cu)
		ecu_destroy(e->cu);
#endif
	if (e->cpu)
		cpu_destroy(e);
	prof_free(&e->prof);
	ag_destroy(e->ag);
	free_arrays(e);
	free(e);
}
