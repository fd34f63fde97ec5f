/*
 * engine_cpu.c - the CPU backend: a pthreads worker pool over modules.
 *
 * Work is split by module (contiguous ranges, one per thread).  Each
 * module's statistics are summed over its cells in cell order, and the
 * rack statistics are then merged from the module ones in module order by
 * the calling thread: the result is the same, bit for bit, for any number
 * of threads.  The calling thread works too (as worker 0).
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The cell loop vectorises only with gcc's dynamic cost model (-O2's
 * "very cheap" one refuses a loop of unknown length) and without trapping
 * math (which keeps gcc from turning the comparisons into blends); neither
 * changes a rounded result.  -ffp-contract=off (engine.mk) still holds. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize("tree-loop-vectorize", "vect-cost-model=dynamic",        \
		     "no-trapping-math")
#endif

enum { JOB_NONE = 0, JOB_PREPARE, JOB_STEP, JOB_RECORDS, JOB_QUIT };

struct cpu_worker {
	struct cpu_pool *pool;
	pthread_t thread;
	size_t m0, m1; /* module range */
};

struct cpu_pool {
	struct engine *e;
	unsigned n; /* workers including the caller */
	struct cpu_worker *w;
	/* one fork and one join per step: the caller publishes the job
	 * and bumps gen, the workers count pending down; waiting spins
	 * briefly, then sleeps on a futex (woken only when a sleeper is
	 * counted), so a step costs no system call while both sides run */
	_Atomic uint32_t gen;	  /* bumped for each job */
	_Atomic uint32_t pending; /* workers still busy with the job */
	_Atomic uint32_t sleep_go, sleep_done; /* sleepers on gen, pending */
	int job;
	struct bs_cell *cells; /* JOB_RECORDS */
	struct bs_module *mods;
};

/* ---- the fast step of a module without faults ----
 *
 * A module none of whose cells has a leak, a runaway threshold or a
 * sensor fault (e->mplain, set by faults_apply) steps all its cells in a
 * loop the compiler vectorises: the same bsm_step_v as every other path
 * (model.h), with the fault terms left out because they are zero (the
 * results are the same, bit for bit), the lookups in constant time on
 * uniform grids, no branch in the loop body and no second RC pair when
 * r2 = 0.  The end cells of the module (one neighbour) are lanes like the
 * others: their missing neighbour counts as 0 and they take the rack's
 * g[1], alpha[1] by a select, the sum formed as bsm_step forms it; the
 * temperature buffers have one spare element at each end
 * (engine.c, alloc_arrays), so the neighbour loads of the first and the
 * last cell of the site stay in bounds (their values are not used).
 * Faulted modules take the scalar bsm_step.  Element-wise only (no
 * reduction in the loop), so every instruction set gives the same bits;
 * on x86-64 the kernels are compiled for AVX-512, AVX2 and baseline SSE2
 * and the loader picks one (target_clones), elsewhere (arm64) the
 * portable build. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&       \
    defined(__OPTIMIZE__) && !defined(BATSIM_NO_CLONES)
#define KERNEL_CLONES                                                          \
	__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3",     \
				     "default")))
#else
#define KERNEL_CLONES
#endif

struct kargs {
	const struct bsm_chem *c;
	const struct bsm_arrays *a;
	const double *tin;
	double *tout;
	size_t i0, i1;	   /* the module's cells [i0, i1) */
	double I;	   /* rack current */
	double ha_tair;	   /* hA * T_air of the module */
	const double *g;   /* the rack's g[0..2] */
	const double *al;  /* and alpha[0..2] */
	int dir;
};

/* The arrays and the constants as restrict parameters: gcc then knows
 * that they do not overlap (restrict on locals it ignores) and vectorises
 * without alias checks. */
static inline __attribute__((always_inline)) void
fast_cells(const struct kargs *k, const struct bsm_chem *restrict c,
	   double *restrict soc, double *restrict socc,
	   double *restrict ri1, double *restrict ri2, double *restrict hh,
	   double *restrict vv, double *restrict ee, double *restrict rr,
	   double *restrict rr0, double *restrict rr1,
	   const double *restrict iq, const double *restrict mult,
	   const double *restrict tin, double *restrict tout, int tab, int uni,
	   int r2)
{
	const double I = k->I, hat = k->ha_tair;
	const double g0 = k->g[0], g1 = k->g[1], g2 = k->g[2];
	const double al0 = k->al[0], al1 = k->al[1], al2 = k->al[2];
	const int dir = k->dir;
	const size_t i0 = k->i0, i1 = k->i1;
	/* the left and right neighbours of cell i are tl[i] and tr[i]:
	 * pointers to the spare elements and within the buffer, never an
	 * index that wraps below 0 (i - 1 at cell 0) */
	const double *tl = tin - 1, *tr = tin + 1;
	for (size_t i = i0; i < i1; i++) {
		struct bsm_cell s;
		struct bsm_cpar q;
		double v, left, right;
		int hl = i > i0, hr = i + 1 < i1; /* has a left, right neighbour */
		s.soc = soc[i];
		s.soc_c = socc[i];
		s.i1 = ri1[i];
		s.i2 = r2 ? ri2[i] : 0.0;
		s.h = hh[i];
		s.t = tin[i];
		s.e = ee[i];
		s.r = rr[i];
		s.r0 = rr0[i];
		s.r1 = rr1[i];
		q.inv_q = iq[i];
		q.r0_mult = mult[i];
		q.leak = 0.0;
		q.runaway_c = 1e30;
		/* the neighbours' sum as bsm_step forms it, (0 + left) +
		 * right, a missing one left out (x + 0 = x: the same bits) */
		left = tl[i];
		right = tr[i];
		left = hl ? left : 0.0;
		right = hr ? right : 0.0;
		bsm_step_v(c, &s, &q, I, (0.0 + left) + right, hat,
			   hl && hr ? g2 : (hl || hr ? g1 : g0),
			   hl && hr ? al2 : (hl || hr ? al1 : al0), dir, tab,
			   uni, 0, &v);
		soc[i] = s.soc;
		socc[i] = s.soc_c;
		ri1[i] = s.i1;
		if (r2)
			ri2[i] = s.i2;
		hh[i] = s.h;
		tout[i] = s.t;
		ee[i] = s.e;
		rr[i] = s.r;
		rr0[i] = s.r0;
		rr1[i] = s.r1;
		vv[i] = v;
	}
}

#define FAST_KERNEL(TAB, UNI, R2)                                              \
	KERNEL_CLONES static void fast_##TAB##UNI##R2(const struct kargs *k)  \
	{                                                                      \
		const struct bsm_arrays *a = k->a;                             \
		fast_cells(k, k->c, a->soc, a->soc_c, a->i1, a->i2, a->h,      \
			   a->v, a->e, a->r, a->r0, a->r1, a->inv_q,           \
			   a->r0_mult, k->tin, k->tout, TAB, UNI, R2);         \
	}
FAST_KERNEL(0, 0, 0)
FAST_KERNEL(0, 0, 1)
FAST_KERNEL(0, 1, 0)
FAST_KERNEL(0, 1, 1)
FAST_KERNEL(1, 0, 0)
FAST_KERNEL(1, 0, 1)
FAST_KERNEL(1, 1, 0)
FAST_KERNEL(1, 1, 1)

typedef void (*fast_fn)(const struct kargs *);
static const fast_fn fast_kernels[8] = {fast_000, fast_001, fast_010,
					fast_011, fast_100, fast_101,
					fast_110, fast_111};

/* The statistics of a module without sensor faults (the measured values
 * are the true ones): the BMS limit terms of each cell, three divisions
 * and the capacity lookup, element-wise in a loop that vectorises, then
 * the sums and extremes in cell order, as bsm_stats_add forms them (the
 * same bits). */
enum { LIM_CHUNK = 256 };

KERNEL_CLONES static void
limits_chunk(const struct bsm_chem *restrict c, const double *restrict e,
	     const double *restrict r, const double *restrict soc,
	     const double *restrict socc, const double *restrict iq,
	     const double *restrict t, size_t n, double *restrict ld,
	     double *restrict lc, double *restrict lf)
{
	for (size_t k = 0; k < n; k++) {
		double sc = soc[k] + socc[k];
		ld[k] = (e[k] - c->v_dis_cut) / r[k];
		lc[k] = (c->v_chg_cut - e[k]) / r[k];
		lf[k] = (1.0 - sc) * bsm_cap_frac(c, t[k]) / (c->dt_s * iq[k]);
	}
}

static void plain_stats(const struct engine *e, struct bsm_stats *s,
			size_t base, const double *t)
{
	const struct bsm_arrays *a = &e->a;
	double ld[LIM_CHUNK], lc[LIM_CHUNK], lf[LIM_CHUNK];
	bsm_stats_init(s);
	for (uint32_t k0 = 0; k0 < e->C; k0 += LIM_CHUNK) {
		uint32_t n = e->C - k0 < LIM_CHUNK ? e->C - k0 : LIM_CHUNK;
		size_t b = base + k0;
		limits_chunk(&e->chem, a->e + b, a->r + b, a->soc + b,
			     a->soc_c + b, a->inv_q + b, t + b, n, ld, lc, lf);
		for (uint32_t k = 0; k < n; k++) {
			size_t i = b + k;
			double sc = a->soc[i] + a->soc_c[i];
			double vm = a->v[i], tm = t[i];
			if (ld[k] < s->ilim_dis)
				s->ilim_dis = ld[k];
			if (lc[k] < s->ilim_chg)
				s->ilim_chg = lc[k];
			if (lf[k] < s->ilim_full)
				s->ilim_full = lf[k];
			if (sc > s->soc_max)
				s->soc_max = sc;
			s->h_sum += a->h[i];
			s->e_v += a->e[i];
			s->r_ohm += a->r[i];
			s->v_sum += vm;
			s->soc_sum += sc;
			s->v_meas_sum += vm;
			s->t_meas_sum += tm;
			if (vm < s->vmin) {
				s->vmin = vm;
				s->vmin_i = k0 + k;
			}
			if (vm > s->vmax) {
				s->vmax = vm;
				s->vmax_i = k0 + k;
			}
			if (tm < s->tmin) {
				s->tmin = tm;
				s->tmin_i = k0 + k;
			}
			if (tm > s->tmax) {
				s->tmax = tm;
				s->tmax_i = k0 + k;
			}
		}
		s->n += n;
	}
}

/* Step the cells of modules [m0, m1) and sum their statistics. */
static void do_step(struct engine *e, size_t m0, size_t m1)
{
	const struct bsm_chem *c = &e->chem;
	const double *tin = eng_tcur(e);
	double *tout = e->tcur ? e->a.t_a : e->a.t_b;
	fast_fn kern = fast_kernels[(c->rt_ns != 0) * 4 +
				    (c->all_uniform != 0) * 2 +
				    (c->r2_ohm != 0.0)];
	for (size_t m = m0; m < m1; m++) {
		uint32_t r = (uint32_t)(m / e->M), mm = (uint32_t)(m % e->M);
		const struct bsm_rack_in *rk = &e->rin[r];
		struct bsm_stats *s = &e->mstats[m];
		size_t base = m * e->C;
		if (e->mplain[m]) {
			struct kargs k = {c,	     &e->a,	tin,
					  tout,	     base,	base + e->C,
					  rk->i_a,   bsm_ha_tair(rk, mm),
					  rk->g,     rk->alpha,
					  rk->dir};
			kern(&k);
		} else {
			for (uint32_t k = 0; k < e->C; k++)
				bsm_step(c, &e->a, tin, tout, base + k, k, mm,
					 rk);
		}
		if (e->mplain[m]) {
			plain_stats(e, s, base, tout);
			continue;
		}
		bsm_stats_init(s);
		for (uint32_t k = 0; k < e->C; k++)
			bsm_stats_add(c, s, &e->a, tout, base + k, k);
	}
}

static void do_prepare(struct engine *e, size_t m0, size_t m1)
{
	const double *t = eng_tcur(e);
	for (size_t m = m0; m < m1; m++) {
		struct bsm_stats *s = &e->mstats[m];
		size_t base = m * e->C;
		int dir = e->rin[m / e->M].dir;
		bsm_stats_init(s);
		for (uint32_t k = 0; k < e->C; k++) {
			bsm_prepare(&e->chem, &e->a, base + k, t[base + k],
				    dir);
			bsm_stats_add(&e->chem, s, &e->a, t, base + k, k);
		}
	}
}

static void do_records(struct engine *e, struct bs_cell *cells,
		       struct bs_module *mods, size_t m0, size_t m1)
{
	const double *t = eng_tcur(e);
	for (size_t m = m0; m < m1; m++) {
		double ri = e->rin[m / e->M].i_a;
		for (size_t i = m * e->C; i < (m + 1) * e->C; i++)
			bsm_record(&e->a, t, i, ri, (float *)&cells[i]);
	}
	eng_module_aggregates(e, cells, mods, m0, m1);
}

static void run_job(struct cpu_pool *p, int job, size_t m0, size_t m1)
{
	switch (job) {
	case JOB_PREPARE:
		do_prepare(p->e, m0, m1);
		break;
	case JOB_STEP:
		do_step(p->e, m0, m1);
		break;
	case JOB_RECORDS:
		do_records(p->e, p->cells, p->mods, m0, m1);
		break;
	default:
		break;
	}
}

/* Spins of a waiter before it sleeps: a few microseconds, about what a
 * small site's step takes, so that back-to-back steps hand over without
 * a system call. */
#define POOL_SPINS 2000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void fx_wait(_Atomic uint32_t *w, uint32_t old)
{
#ifdef __linux__
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, old, NULL, NULL,
		0);
#else
	(void)w;
	(void)old;
	sched_yield();
#endif
}

static void fx_wake(_Atomic uint32_t *w)
{
#ifdef __linux__
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
#else
	(void)w;
#endif
}

/* Wait until *w differs from old; returns the new value. */
static uint32_t wait_while(_Atomic uint32_t *w, uint32_t old,
			   _Atomic uint32_t *sleepers)
{
	uint32_t v;
	for (int k = 0; k < POOL_SPINS; k++) {
		v = atomic_load_explicit(w, memory_order_acquire);
		if (v != old)
			return v;
		cpu_relax();
	}
	for (;;) {
		atomic_fetch_add(sleepers, 1);
		v = atomic_load(w);
		if (v == old)
			fx_wait(w, old);
		atomic_fetch_sub(sleepers, 1);
		v = atomic_load_explicit(w, memory_order_acquire);
		if (v != old)
			return v;
	}
}

static void *worker_main(void *arg)
{
	struct cpu_worker *w = arg;
	struct cpu_pool *p = w->pool;
	uint32_t seen = 0;
	for (;;) {
		int job;
		seen = wait_while(&p->gen, seen, &p->sleep_go);
		job = p->job;
		if (job == JOB_QUIT)
			return NULL;
		run_job(p, job, w->m0, w->m1);
		if (atomic_fetch_sub(&p->pending, 1) == 1 &&
		    atomic_load(&p->sleep_done) > 0)
			fx_wake(&p->pending);
	}
}

/* Run a job on all workers (the caller does range 0) and wait. */
static void pool_run(struct cpu_pool *p, int job)
{
	if (p->n > 1) {
		p->job = job;
		atomic_store(&p->pending, p->n - 1);
		atomic_fetch_add(&p->gen, 1); /* publishes job (seq_cst) */
		if (atomic_load(&p->sleep_go) > 0)
			fx_wake(&p->gen);
	}
	run_job(p, job, p->w[0].m0, p->w[0].m1);
	if (p->n > 1) {
		uint32_t v;
		while ((v = atomic_load_explicit(&p->pending,
						 memory_order_acquire)) != 0)
			wait_while(&p->pending, v, &p->sleep_done);
	}
}

/* Rack statistics from module statistics, in module order. */
static void merge_racks(struct engine *e)
{
	for (uint32_t r = 0; r < e->R; r++) {
		struct bsm_stats *s = &e->rstats[r];
		bsm_stats_init(s);
		for (uint32_t m = 0; m < e->M; m++)
			bsm_stats_merge(s, &e->mstats[(size_t)r * e->M + m],
					m * e->C);
	}
}

int cpu_create(struct engine *e, unsigned threads, char *err, size_t len)
{
	struct cpu_pool *p = calloc(1, sizeof(*p));
	if (threads > e->n_mod)
		threads = (unsigned)e->n_mod;
	if (threads == 0)
		threads = 1;
	if (!p || !(p->w = calloc(threads, sizeof(*p->w)))) {
		free(p);
		snprintf(err, len, "out of memory");
		return -1;
	}
	p->e = e;
	p->n = threads;
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->sleep_go, 0);
	atomic_init(&p->sleep_done, 0);
	for (unsigned t = 0; t < threads; t++) {
		p->w[t].pool = p;
		p->w[t].m0 = e->n_mod * t / threads;
		p->w[t].m1 = e->n_mod * (t + 1) / threads;
	}
	for (unsigned t = 1; t < threads; t++) {
		int rc = pthread_create(&p->w[t].thread, NULL, worker_main,
					&p->w[t]);
		if (rc != 0) {
			/* run with the threads we have: ranges are re-cut */
			snprintf(err, len, "cannot start worker thread %u", t);
			p->n = t;
			for (unsigned u = 0; u < t; u++) {
				p->w[u].m0 = e->n_mod * u / t;
				p->w[u].m1 = e->n_mod * (u + 1) / t;
			}
			break;
		}
	}
	e->cpu = p;
	e->threads = p->n;
	return 0;
}

void cpu_destroy(struct engine *e)
{
	struct cpu_pool *p = e->cpu;
	if (!p)
		return;
	if (p->n > 1) {
		p->job = JOB_QUIT;
		atomic_fetch_add(&p->gen, 1);
		fx_wake(&p->gen);
		for (unsigned t = 1; t < p->n; t++)
			pthread_join(p->w[t].thread, NULL);
	}
	free(p->w);
	free(p);
	e->cpu = NULL;
}

void cpu_prepare(struct engine *e)
{
	pool_run(e->cpu, JOB_PREPARE);
	merge_racks(e);
}

void cpu_step(struct engine *e)
{
	pool_run(e->cpu, JOB_STEP);
	merge_racks(e);
}

void cpu_records(struct engine *e, struct bs_cell *cells,
		 struct bs_module *mods)
{
	e->cpu->cells = cells;
	e->cpu->mods = mods;
	pool_run(e->cpu, JOB_RECORDS);
}
