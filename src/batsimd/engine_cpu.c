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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

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
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	uint64_t gen;	  /* bumped for each job */
	unsigned pending; /* workers still busy with the job */
	int job;
	struct bs_cell *cells; /* JOB_RECORDS */
	struct bs_module *mods;
};

/* Step the cells of modules [m0, m1) and sum their statistics. */
static void do_step(struct engine *e, size_t m0, size_t m1)
{
	const struct bsm_chem *c = &e->chem;
	const double *tin = eng_tcur(e);
	double *tout = e->tcur ? e->a.t_a : e->a.t_b;
	for (size_t m = m0; m < m1; m++) {
		uint32_t r = (uint32_t)(m / e->M), mm = (uint32_t)(m % e->M);
		const struct bsm_rack_in *rk = &e->rin[r];
		struct bsm_stats *s = &e->mstats[m];
		size_t base = m * e->C;
		bsm_stats_init(s);
		for (uint32_t k = 0; k < e->C; k++) {
			bsm_step(c, &e->a, tin, tout, base + k, k, mm, rk);
			bsm_stats_add(c, s, &e->a, tout, base + k, k);
		}
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

static void *worker_main(void *arg)
{
	struct cpu_worker *w = arg;
	struct cpu_pool *p = w->pool;
	uint64_t seen = 0;
	for (;;) {
		int job;
		pthread_mutex_lock(&p->mu);
		while (p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		seen = p->gen;
		job = p->job;
		pthread_mutex_unlock(&p->mu);
		if (job == JOB_QUIT)
			return NULL;
		run_job(p, job, w->m0, w->m1);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Run a job on all workers (the caller does range 0) and wait. */
static void pool_run(struct cpu_pool *p, int job)
{
	if (p->n > 1) {
		pthread_mutex_lock(&p->mu);
		p->job = job;
		p->pending = p->n - 1;
		p->gen++;
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
	}
	run_job(p, job, p->w[0].m0, p->w[0].m1);
	if (p->n > 1) {
		pthread_mutex_lock(&p->mu);
		while (p->pending > 0)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
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
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
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
		pthread_mutex_lock(&p->mu);
		p->job = JOB_QUIT;
		p->gen++;
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
		for (unsigned t = 1; t < p->n; t++)
			pthread_join(p->w[t].thread, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
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
