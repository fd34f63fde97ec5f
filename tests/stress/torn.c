/*
 * torn.c - torn-read stress test of the publish/read protocol.
 *
 * A writer thread publishes snapshots as fast as it can; every 32-bit
 * word of every record is a function of the snapshot's tick and of the
 * word's position.  Reader threads (each with its own mapping) and
 * reader processes (fork, each opening the segment itself) read with
 * bs_read_all / bs_read_rack and check that every snapshot they accept
 * is internally consistent: all words match the tick in its metadata,
 * and ticks never go backwards.  One more thread copies the newest slot
 * without the protocol and counts torn copies, to show that tearing does
 * happen here (a diagnostic, not a pass condition).
 *
 * Environment: BS_STRESS_SECONDS (default 3), BS_STRESS_THREADS (3),
 * BS_STRESS_PROCS (2; always 0 in the ThreadSanitizer build, which sees
 * one process only), BS_STRESS_SLOTS (default 1: the writer then always
 * rewrites the slot the readers read, the harshest test of the per-slot
 * seqlock; 3 is the daemon's default).  Output: TAP.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"

#define MAX_READERS 64

static const struct bs_topology topo = {4, 8, 32};
static char seg[64];
static double seconds = 3;
static atomic_int stop;
static atomic_uint_fast64_t published;

/* Counters of one reader; in shared memory for reader processes. */
struct counts {
	uint64_t ok, retries, eagain, enodata, bad, backwards, other;
	char first_error[160];
};

enum { R_SITE, R_RACK, R_MODULE, R_CELL };

/* The value of word i of a region at a tick: distinct ticks give distinct
 * values at every position. */
static inline uint32_t word(uint64_t tick, uint32_t region, uint64_t i)
{
	return (uint32_t)tick * 2654435761u ^ (uint32_t)(i * 40503u) ^
	       (region << 28);
}

static uint64_t n_modules(void)
{
	return (uint64_t)topo.racks * topo.modules_per_rack;
}

static uint64_t n_cells(void)
{
	return n_modules() * topo.cells_per_module;
}

static void fill(uint32_t *buf, size_t bytes, uint64_t tick, uint32_t region)
{
	for (size_t i = 0; i < bytes / 4; i++)
		buf[i] = word(tick, region, i);
}

/* Return the index of the first word that does not match, or -1. */
static long check(const void *buf, size_t bytes, uint64_t tick, uint32_t region,
		  uint64_t first)
{
	const uint32_t *w = buf;
	for (size_t i = 0; i < bytes / 4; i++)
		if (w[i] != word(tick, region, first + i))
			return (long)i;
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer_main(void *arg)
{
	bs_writer *w = arg;
	size_t site_b = sizeof(struct bs_site),
	       rack_b = topo.racks * sizeof(struct bs_rack),
	       mod_b = n_modules() * sizeof(struct bs_module),
	       cell_b = n_cells() * sizeof(struct bs_cell);
	uint32_t *site = malloc(site_b), *racks = malloc(rack_b),
		 *mods = malloc(mod_b), *cells = malloc(cell_b);
	if (!site || !racks || !mods || !cells)
		abort();
	for (uint64_t tick = 1; !atomic_load(&stop); tick++) {
		struct bs_slot_view v;
		fill(site, site_b, tick, R_SITE);
		fill(racks, rack_b, tick, R_RACK);
		fill(mods, mod_b, tick, R_MODULE);
		fill(cells, cell_b, tick, R_CELL);
		if (bs_writer_begin(w, &v) < 0)
			abort();
		bs_copy_to_shm(v.site, site, site_b);
		bs_copy_to_shm(v.racks, racks, rack_b);
		bs_copy_to_shm(v.modules, mods, mod_b);
		bs_copy_to_shm(v.cells, cells, cell_b);
		bs_writer_publish(w, tick, (double)tick * 0.5);
		atomic_store(&published, tick);
	}
	free(site);
	free(racks);
	free(mods);
	free(cells);
	return NULL;
}

__attribute__((format(printf, 2, 3))) static void note(struct counts *c,
						       const char *fmt, ...)
{
	va_list ap;
	c->bad++;
	if (!c->first_error[0]) {
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
		va_end(ap);
	}
}

/* One reader: its own mapping, alternating full and per-rack reads. */
static void reader_loop(struct counts *c)
{
	bs_reader *r;
	int rc = bs_reader_open(seg, &r);
	if (rc < 0) {
		snprintf(c->first_error, sizeof(c->first_error),
			 "bs_reader_open: %s", bs_strerror(rc));
		c->other++;
		return;
	}
	size_t rack_b = topo.racks * sizeof(struct bs_rack),
	       mod_b = n_modules() * sizeof(struct bs_module),
	       cell_b = n_cells() * sizeof(struct bs_cell);
	struct bs_site site;
	struct bs_rack *racks = malloc(rack_b);
	struct bs_module *mods = malloc(mod_b);
	struct bs_cell *cells = malloc(cell_b);
	if (!racks || !mods || !cells)
		abort();
	uint64_t last_tick = 0, iter = 0;
	double end = now_s() + seconds;
	while (now_s() < end) {
		struct bs_meta m;
		uint32_t rk = (uint32_t)(iter % topo.racks);
		int full = (iter++ % 2) == 0;
		if (full)
			rc = bs_read_all(r, &m, &site, racks, mods, cells);
		else
			rc = bs_read_rack(r, rk, &m, racks, mods, cells);
		if (rc == -BS_EAGAIN) {
			c->eagain++;
			continue;
		}
		if (rc == -BS_ENODATA) {
			/* only before the writer's first publish */
			if (c->ok > 0)
				note(c, "ENODATA after %llu snapshots",
				     (unsigned long long)c->ok);
			c->enodata++;
			continue;
		}
		if (rc < 0) {
			c->other++;
			if (!c->first_error[0])
				snprintf(c->first_error, sizeof(c->first_error),
					 "read: %s", bs_strerror(rc));
			continue;
		}
		c->ok++;
		c->retries += m.retries;
		if (m.tick < last_tick)
			c->backwards++;
		last_tick = m.tick;
		if (m.sim_time_s != (double)m.tick * 0.5)
			note(c, "tick %llu: sim_time of tick %llu",
			     (unsigned long long)m.tick,
			     (unsigned long long)(m.sim_time_s * 2));
		long i;
		uint64_t M = topo.modules_per_rack, C = topo.cells_per_module;
		if (full) {
			if ((i = check(&site, sizeof(site), m.tick, R_SITE,
				       0)) >= 0)
				note(c, "tick %llu: site word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
			if ((i = check(racks, rack_b, m.tick, R_RACK, 0)) >= 0)
				note(c, "tick %llu: rack word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
			if ((i = check(mods, mod_b, m.tick, R_MODULE, 0)) >= 0)
				note(c, "tick %llu: module word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
			if ((i = check(cells, cell_b, m.tick, R_CELL, 0)) >= 0)
				note(c, "tick %llu: cell word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
		} else {
			if ((i = check(racks, sizeof(struct bs_rack), m.tick,
				       R_RACK, rk * 64ull)) >= 0)
				note(c, "tick %llu: rack record word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
			if ((i = check(mods, M * sizeof(struct bs_module),
				       m.tick, R_MODULE, rk * M * 16)) >= 0)
				note(c, "tick %llu: rack module word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
			if ((i = check(cells, M * C * sizeof(struct bs_cell),
				       m.tick, R_CELL, rk * M * C * 5)) >= 0)
				note(c, "tick %llu: rack cell word %llu",
				     (unsigned long long)m.tick,
				     (unsigned long long)i);
		}
	}
	free(racks);
	free(mods);
	free(cells);
	bs_reader_close(r);
}

static void *reader_thread(void *arg)
{
	reader_loop(arg);
	return NULL;
}

/* Copies the newest slot's cells with no sequence check and counts the
 * copies that mix two ticks: evidence that the protected readers above
 * would have seen tears without the protocol. */
static uint64_t unprotected_total, unprotected_torn;
static void *unprotected_thread(void *arg)
{
	bs_reader *r;
	(void)arg;
	if (bs_reader_open(seg, &r) < 0)
		return NULL;
	const struct bs_shm_header *h = bs_reader_header(r);
	size_t cell_b = n_cells() * sizeof(struct bs_cell);
	uint32_t *cells = malloc(cell_b);
	if (!cells)
		abort();
	double end = now_s() + seconds;
	while (now_s() < end) {
		uint32_t idx = atomic_load_explicit(
		    (const _Atomic uint32_t *)(const void *)&h->latest,
		    memory_order_acquire);
		const unsigned char *slot = (const unsigned char *)h +
					    h->slots_offset +
					    (uint64_t)idx * h->slot_size;
		bs_copy_from_shm(cells, slot + h->cell_offset, cell_b);
		/* recover the tick from word 0 and compare the last word */
		uint32_t t0 = (cells[0] ^ word(0, R_CELL, 0)) * 244002641u;
		unprotected_total++;
		if (check(cells, cell_b, t0, R_CELL, 0) >= 0)
			unprotected_torn++;
	}
	free(cells);
	bs_reader_close(r);
	return NULL;
}

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi) {
		fprintf(stderr, "%s=%s: want %ld..%ld\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

int main(void)
{
	int n_threads = (int)env_long("BS_STRESS_THREADS", 3, 1, 32);
	int n_procs = (int)env_long("BS_STRESS_PROCS", 2, 0, 32);
	seconds = (double)env_long("BS_STRESS_SECONDS", 3, 1, 3600);
	uint32_t slots =
	    (uint32_t)env_long("BS_STRESS_SLOTS", 1, 1, BS_MAX_SLOTS);
#ifdef TORN_THREADS_ONLY
	n_procs = 0; /* ThreadSanitizer sees one process only */
#endif
	snprintf(seg, sizeof(seg), "/bs-test-torn-%d", (int)getpid());

	printf("1..4\n");
	int rc = bs_segment_create(seg, &topo, slots, 0600, (gid_t)-1, 0);
	if (rc < 0) {
		printf("Bail out! create %s: %s\n", seg, bs_strerror(rc));
		return 1;
	}
	bs_writer *w;
	struct bs_writer_params p = {.backend = BS_BACKEND_TEST};
	rc = bs_writer_open(seg, &topo, &p, &w);
	if (rc < 0) {
		printf("Bail out! writer %s: %s\n", seg, bs_strerror(rc));
		bs_segment_remove(seg);
		return 1;
	}

	int n = n_threads + n_procs;
	struct counts *cs =
	    mmap(NULL, sizeof(struct counts) * (size_t)n,
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cs == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(cs, 0, sizeof(struct counts) * (size_t)n);

	/* Fork the reader processes before starting any thread. */
	pid_t pids[MAX_READERS];
	fflush(stdout);
	for (int i = 0; i < n_procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			printf("Bail out! fork: %s\n", strerror(errno));
			return 1;
		}
		if (pids[i] == 0) {
			reader_loop(&cs[n_threads + i]);
			_exit(0);
		}
	}
	pthread_t wt, ut, rt[MAX_READERS];
	pthread_create(&wt, NULL, writer_main, w);
	pthread_create(&ut, NULL, unprotected_thread, NULL);
	for (int i = 0; i < n_threads; i++)
		pthread_create(&rt[i], NULL, reader_thread, &cs[i]);
	for (int i = 0; i < n_threads; i++)
		pthread_join(rt[i], NULL);
	int proc_fail = 0;
	for (int i = 0; i < n_procs; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			proc_fail++;
	}
	pthread_join(ut, NULL);
	atomic_store(&stop, 1);
	pthread_join(wt, NULL);
	bs_writer_close(w);
	bs_segment_remove(seg);

	struct counts tot;
	memset(&tot, 0, sizeof(tot));
	uint64_t ok_threads = 0, ok_procs = 0;
	const char *first = NULL;
	for (int i = 0; i < n; i++) {
		printf("# reader %s %d: %llu snapshots, %llu retries, %llu "
		       "EAGAIN, %llu ENODATA, %llu inconsistent\n",
		       i < n_threads ? "thread" : "process",
		       i < n_threads ? i : i - n_threads,
		       (unsigned long long)cs[i].ok,
		       (unsigned long long)cs[i].retries,
		       (unsigned long long)cs[i].eagain,
		       (unsigned long long)cs[i].enodata,
		       (unsigned long long)cs[i].bad);
		tot.ok += cs[i].ok;
		tot.retries += cs[i].retries;
		tot.eagain += cs[i].eagain;
		tot.bad += cs[i].bad;
		tot.backwards += cs[i].backwards;
		tot.other += cs[i].other;
		if (i < n_threads)
			ok_threads += cs[i].ok;
		else
			ok_procs += cs[i].ok;
		if (!first && cs[i].first_error[0])
			first = cs[i].first_error;
	}
	uint64_t pub = atomic_load(&published);
	printf("# writer published %llu snapshots in %.0f s\n",
	       (unsigned long long)pub, seconds);
	printf("# unprotected copies: %llu, torn: %llu (tearing is possible "
	       "here when this is > 0)\n",
	       (unsigned long long)unprotected_total,
	       (unsigned long long)unprotected_torn);
	if (first)
		printf("# first problem: %s\n", first);

	int failed = 0;
	printf("%s 1 - writer published snapshots (%llu)\n",
	       pub > 0 ? "ok" : "not ok", (unsigned long long)pub);
	failed += pub == 0;
	int good = tot.bad == 0 && tot.backwards == 0;
	printf("%s 2 - every accepted snapshot is consistent (%llu "
	       "inconsistent, %llu went backwards)\n",
	       good ? "ok" : "not ok", (unsigned long long)tot.bad,
	       (unsigned long long)tot.backwards);
	failed += !good;
	good = ok_threads > 0 && (n_procs == 0 || ok_procs > 0);
	printf("%s 3 - readers accepted snapshots (threads %llu, processes "
	       "%llu, retries %llu, EAGAIN %llu)\n",
	       good ? "ok" : "not ok", (unsigned long long)ok_threads,
	       (unsigned long long)ok_procs, (unsigned long long)tot.retries,
	       (unsigned long long)tot.eagain);
	failed += !good;
	good = tot.other == 0 && proc_fail == 0;
	printf("%s 4 - no other errors (%llu errors, %d failed processes)\n",
	       good ? "ok" : "not ok", (unsigned long long)tot.other,
	       proc_fail);
	failed += !good;
	munmap(cs, sizeof(struct counts) * (size_t)n);
	return failed ? 1 : 0;
}
