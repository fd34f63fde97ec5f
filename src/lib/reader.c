/*
 * reader.c - the read side of the segment: open and validate read-only,
 * consistent snapshot reads (N-slot latch with a per-slot seqlock),
 * liveness.  Readers never write the segment: it is mapped PROT_READ.
 * See batsim-shm(7) for the protocol.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_MAX_AGE_NS 2000000000ull /* 2 s */
#define DEFAULT_RETRIES	   64u

struct bs_reader {
	const unsigned char *map;
	size_t map_size;
	const struct bs_shm_header *h; /* the mapping: live fields only */
	int fd;			       /* to notice the object shrinking */
	/* Private copies made once at open and validated there; sizes and
	 * offsets come from these only, never from the mapping. */
	struct bs_geom g;
	struct bs_geometry pub;
	struct bs_shm_header hc;
	char *name;
	dev_t dev;
	ino_t ino;
	uint64_t max_age_ns;
	unsigned retries;
};

/* One region of a slot to copy. */
struct part {
	uint64_t off; /* within the slot */
	void *dst;
	size_t len;
};

BS_EXPORT void bs_copy_from_shm(void *dst, const void *src, size_t n)
{
	const _Atomic uint32_t *s = src;
	unsigned char *d = dst;

	/* Relaxed atomic loads: the seqlock's sequence checks, not these
	 * loads, decide whether the copy is consistent; being atomic makes
	 * a racing copy a defined (if possibly torn) result instead of a
	 * C11 data race. */
	for (size_t i = 0; i < n / 4; i++) {
		uint32_t v = atomic_load_explicit(&s[i], memory_order_relaxed);
		memcpy(d + 4 * i, &v, 4);
	}
}

BS_EXPORT int bs_reader_open(const char *name, bs_reader **out)
{
	bs_reader *r;
	void *map;
	size_t size;
	int fd, rc;

	if (!out)
		return -BS_EINVAL;
	*out = NULL;
	rc = bs__check_name(&name);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -BS_ENOMEM;
	r->name = strdup(name);
	if (!r->name) {
		free(r);
		return -BS_ENOMEM;
	}
	rc = bs__map_segment(name, 0, &fd, &map, &size, &r->hc, &r->g, &r->dev,
			     &r->ino);
	if (rc < 0) {
		free(r->name);
		free(r);
		return rc;
	}
	r->fd = fd; /* kept: fstat tells when the object shrinks */
	r->map = map;
	r->map_size = size;
	r->h = map;
	bs__geom_public(&r->pub, &r->g);
	r->max_age_ns = DEFAULT_MAX_AGE_NS;
	r->retries = DEFAULT_RETRIES;
	*out = r;
	return 0;
}

BS_EXPORT void bs_reader_close(bs_reader *r)
{
	if (!r)
		return;
	munmap((void *)r->map, r->map_size);
	close(r->fd);
	free(r->name);
	free(r);
}

BS_EXPORT const struct bs_geometry *bs_reader_geometry(const bs_reader *r)
{
	return r ? &r->pub : NULL;
}

/* -BS_ELAYOUT when the mapped header's fixed part (identity, topology,
 * sizes, offsets) differs from the copy validated at open: the segment
 * was rewritten under us.  Run under the guard. */
static int header_same(const bs_reader *r)
{
	unsigned char now[BS_HEADER_FIXED_BYTES];
	const size_t ext_at = offsetof(struct bs_shm_header, module_ext_size);
	unsigned char ext[BS_CACHE_LINE];

	bs_copy_from_shm(now, r->map, sizeof(now));
	if (memcmp(now, &r->hc, sizeof(now)))
		return -BS_ELAYOUT;
	/* line 8, the extension regions (abi_minor 2), is fixed when the
	 * segment is created as well */
	bs_copy_from_shm(ext, (const unsigned char *)r->map + ext_at,
			 sizeof(ext));
	return memcmp(ext, (const unsigned char *)&r->hc + ext_at, sizeof(ext))
		   ? -BS_ELAYOUT
		   : 0;
}

static int header_same_fn(void *arg)
{
	return header_same(arg);
}

/* The segment is still whole and its header is the one validated at
 * open: 0, -BS_ETRUNC or -BS_ELAYOUT. */
static int segment_intact(const bs_reader *r)
{
	int rc = bs__check_size(r->fd, r->g.total_size);

	if (rc == 0)
		rc =
		    bs__guarded(r->map, r->map_size, header_same_fn, (void *)r);
	return rc;
}

BS_EXPORT void bs_reader_set_max_age(bs_reader *r, uint64_t max_age_ns)
{
	if (r)
		r->max_age_ns = max_age_ns;
}

BS_EXPORT void bs_reader_set_retries(bs_reader *r, unsigned retries)
{
	if (r)
		r->retries = retries;
}

BS_EXPORT const struct bs_shm_header *bs_reader_header(const bs_reader *r)
{
	/* The mapping, as always (callers use it as the segment's base):
	 * live, and as untrusted as the segment's owner.  Sizes come from
	 * bs_reader_geometry(). */
	return r ? r->h : NULL;
}

struct info_args {
	const bs_reader *r;
	struct bs_info *info;
	struct bs_shm_header *id;
};

/* The live part of bs_reader_info, run under the guard. */
static int info_live(void *arg)
{
	struct info_args *a = arg;
	const struct bs_shm_header *h = a->r->h;
	struct bs_info *info = a->info;

	/* The identity line is written (with atomic word stores) only while
	 * the state is not RUNNING, before the generation is bumped and
	 * RUNNING is release-stored.  Copy it like a seqlock's data, with
	 * (state, generation) as the sequence: a copy made while both stay
	 * the same is one writer's whole identity.  Bounded: a writer
	 * restarts at most a few times while we look. */
	for (unsigned tries = 0; tries < 16; tries++) {
		/* Acquire: a RUNNING state comes with the identity, the
		 * generation and the heartbeat stored before it. */
		uint32_t s1 = BS_LOAD32(&h->state, memory_order_acquire);
		uint64_t g1 = BS_LOAD64(&h->generation, memory_order_relaxed);
		bs_copy_from_shm((unsigned char *)a->id + 128,
				 (const unsigned char *)h + 128, 64);
		/* line 7 (site identity), written with line 2 */
		bs_copy_from_shm(
		    (unsigned char *)a->id +
			offsetof(struct bs_shm_header, site_name),
		    (const unsigned char *)h +
			offsetof(struct bs_shm_header, site_name),
		    BS_CACHE_LINE);
		/* Acquire fence: pairs with the writer's release fence
		 * after it leaves RUNNING; if the copy saw any word of a
		 * new identity, the loads below see the state change. */
#ifndef BS_TSAN
		atomic_thread_fence(memory_order_acquire);
		uint32_t s2 = BS_LOAD32(&h->state, memory_order_relaxed);
#else
		/* TSan build only, as in the slot read below */
		uint32_t s2 = BS_LOAD32(&h->state, memory_order_acquire);
#endif
		uint64_t g2 = BS_LOAD64(&h->generation, memory_order_relaxed);
		info->state = s2;
		info->generation = g2;
		if (s1 == s2 && g1 == g2)
			break;
	}
	info->heartbeat_ns = BS_LOAD64(&h->heartbeat_ns, memory_order_relaxed);
	info->latest = BS_LOAD32(&h->latest, memory_order_relaxed);
	return 0;
}

BS_EXPORT void bs_reader_info(const bs_reader *r, struct bs_info *info)
{
	struct bs_shm_header id;

	if (!r || !info)
		return;
	memset(info, 0, sizeof(*info));
	/* Geometry and ABI from the copy validated at open. */
	info->topo.racks = r->g.n_racks;
	info->topo.modules_per_rack = r->g.modules_per_rack;
	info->topo.cells_per_module = r->g.cells_per_module;
	info->n_cells = r->g.n_cells;
	info->n_slots = r->g.n_slots;
	info->abi_major = r->hc.abi_major;
	info->abi_minor = r->hc.abi_minor;
	info->total_size = r->g.total_size;

	memset(&id, 0, sizeof(id));
	struct info_args a = {r, info, &id};
	if (bs__guarded(r->map, r->map_size, info_live, &a) < 0) {
		/* The segment shrank under us: nothing live to report. */
		memset(&id, 0, sizeof(id));
		info->state = BS_STATE_STOPPED;
		info->generation = 0;
		info->heartbeat_ns = 0;
		info->latest = 0;
	}
	info->writer_pid = id.writer_pid;
	info->backend = id.backend;
	info->writer_start_ns = id.writer_start_ns;
	info->tick_period_ns = id.tick_period_ns;
	info->dt_ns = id.dt_ns;
	memcpy(info->chemistry, id.chemistry, sizeof(info->chemistry));
	info->chemistry[sizeof(info->chemistry) - 1] = '\0';

	uint64_t now = bs__mono_ns();
	info->heartbeat_age_ns = info->heartbeat_ns == 0
				     ? INT64_MAX
				     : (int64_t)(now - info->heartbeat_ns);
	if (info->heartbeat_ns > now)
		info->heartbeat_age_ns = 0;
}

BS_EXPORT int bs_reader_site_name(const bs_reader *r, char *buf, size_t len)
{
	struct bs_shm_header id;
	struct bs_info info;
	size_t n = 0;

	if (!r || !buf || len == 0)
		return -BS_EINVAL;
	memset(&id, 0, sizeof(id));
	struct info_args a = {r, &info, &id};
	if (bs__guarded(r->map, r->map_size, info_live, &a) < 0)
		memset(&id, 0, sizeof(id));
	/* The owner of the segment wrote it: printable ASCII only, so that
	 * no caller prints terminal escapes or invalid UTF-8. */
	for (; n < sizeof(id.site_name) && n + 1 < len && id.site_name[n];
	     n++) {
		unsigned char ch = (unsigned char)id.site_name[n];
		buf[n] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	buf[n] = '\0';
	return (int)n;
}

struct live_args {
	const bs_reader *r;
	uint32_t state;
	uint64_t hb;
};

static int live_load(void *arg)
{
	struct live_args *a = arg;

	/* Acquire pairs with the writer's release store of RUNNING, which
	 * follows its first heartbeat: a RUNNING state never comes with the
	 * previous writer's heartbeat. */
	a->state = BS_LOAD32(&a->r->h->state, memory_order_acquire);
	a->hb = BS_LOAD64(&a->r->h->heartbeat_ns, memory_order_relaxed);
	return 0;
}

BS_EXPORT int bs_reader_live(const bs_reader *r)
{
	if (!r)
		return -BS_EINVAL;
	struct live_args a = {r, 0, 0};
	int rc = bs__guarded(r->map, r->map_size, live_load, &a);
	if (rc < 0)
		return rc;
	if (a.state != BS_STATE_RUNNING)
		return -BS_ESTOPPED;
	uint64_t now = bs__mono_ns();
	if (a.hb == 0 || (a.hb < now && now - a.hb > r->max_age_ns))
		return -BS_ESTALE;
	return 0;
}

BS_EXPORT int bs_reader_check_name(const bs_reader *r)
{
	struct stat st;
	int fd, rc = 0;

	if (!r)
		return -BS_EINVAL;
	fd = shm_open(r->name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? -BS_ECHANGED : bs__errno_code(errno);
	if (fstat(fd, &st) < 0)
		rc = bs__errno_code(errno);
	else if (st.st_dev != r->dev || st.st_ino != r->ino)
		rc = -BS_ECHANGED;
	close(fd);
	/* Same object: is it still whole, and its header unchanged? */
	if (rc == 0)
		rc = segment_intact(r);
	return rc;
}

/* Copy the given regions of the newest slot consistently.  Output
 * buffers hold garbage when this fails. */
struct rp_args {
	bs_reader *r;
	struct bs_meta *meta;
	const struct part *p;
	int n;
};

static int read_parts_body(void *arg)
{
	const struct rp_args *a = arg;
	bs_reader *r = a->r;
	struct bs_meta *meta = a->meta;
	const struct part *p = a->p;
	int n = a->n;
	const struct bs_shm_header *h = r->h;
	const struct bs_geom *g = &r->g;

	for (unsigned attempt = 0;; attempt++) {
		if (attempt > r->retries)
			return -BS_EAGAIN;
		if (attempt > 0)
			sched_yield(); /* let the writer finish its slot */

		/* Acquire pairs with the writer's release store of latest:
		 * the slot's even sequence written before it is visible. */
		uint32_t idx = BS_LOAD32(&h->latest, memory_order_acquire);
		if (idx >= g->n_slots)
			return -BS_ELAYOUT;
		const unsigned char *slot =
		    r->map + g->slots_offset + (uint64_t)idx * g->slot_size;
		const struct bs_slot_header *sh = (const void *)slot;

		/* Acquire pairs with the writer's release store of the even
		 * sequence: all data of that publication is visible to the
		 * loads below. */
		uint64_t s1 = BS_LOAD64(&sh->seq, memory_order_acquire);
		if (s1 == 0)
			return -BS_ENODATA; /* never published */
		if (s1 & 1)
			continue; /* being written (or its writer died) */

		struct bs_slot_header meta_copy;
		bs_copy_from_shm((unsigned char *)&meta_copy + 64, slot + 64,
				 32);
		for (int i = 0; i < n; i++)
			if (p[i].dst)
				bs_copy_from_shm(p[i].dst, slot + p[i].off,
						 p[i].len);

#ifndef BS_TSAN
		/* Acquire fence: orders the data loads above before the
		 * sequence re-load below.  If any of them read a store the
		 * writer made after its begin (release fence after the odd
		 * sequence), this fence synchronizes with that one and the
		 * re-load sees the odd sequence or a newer one: s2 != s1. */
		atomic_thread_fence(memory_order_acquire);
		uint64_t s2 = BS_LOAD64(&sh->seq, memory_order_relaxed);
#else
		/* ThreadSanitizer ignores fences, and the mapping is read
		 * only so a read-modify-write is impossible here; an acquire
		 * load is what TSan models (not a C11 substitute for the
		 * fence: this branch exists for the TSan build only). */
		uint64_t s2 = BS_LOAD64(&sh->seq, memory_order_acquire);
#endif
		if (s2 != s1)
			continue;

		/* A slot written by a previous writer (before the current
		 * one published anything) is not current data. */
		uint64_t gen = BS_LOAD64(&h->generation, memory_order_relaxed);
		if (meta_copy.generation != gen)
			return -BS_ENODATA;
		/* A header rewritten under us is a corrupt segment: report
		 * it rather than hand out data the writer may not have
		 * laid out as we think. */
		int rc = header_same(r);
		if (rc < 0)
			return rc;
		if (meta) {
			meta->tick = meta_copy.tick;
			meta->sim_time_s = meta_copy.sim_time_s;
			meta->wall_time_ns = meta_copy.wall_time_ns;
			meta->generation = meta_copy.generation;
			meta->slot = idx;
			meta->retries = attempt;
		}
		return 0;
	}
}

static int read_parts(bs_reader *r, struct bs_meta *meta, const struct part *p,
		      int n)
{
	/* Every offset and length in p comes from the private geometry, so
	 * the copy stays inside the mapping; the object behind it can still
	 * shrink (ftruncate by its owner): check, and guard the copy for a
	 * truncation that happens during it. */
	int rc = bs__check_size(r->fd, r->g.total_size);
	if (rc < 0)
		return rc;
	struct rp_args a = {r, meta, p, n};
	return bs__guarded(r->map, r->map_size, read_parts_body, &a);
}

BS_EXPORT int bs_read_site(bs_reader *r, struct bs_meta *meta,
			   struct bs_site *site, struct bs_rack *racks)
{
	if (!r)
		return -BS_EINVAL;
	struct part p[2] = {
	    {r->g.site_offset, site, sizeof(*site)},
	    {r->g.rack_offset, racks,
	     (size_t)r->g.n_racks * sizeof(struct bs_rack)},
	};
	return read_parts(r, meta, p, 2);
}

BS_EXPORT int bs_read_rack(bs_reader *r, uint32_t rack, struct bs_meta *meta,
			   struct bs_rack *rec, struct bs_module *modules,
			   struct bs_cell *cells)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	if (rack >= g->n_racks)
		return -BS_ERANGE;
	uint64_t m0 = (uint64_t)rack * g->modules_per_rack;
	uint64_t c0 = m0 * g->cells_per_module;
	struct part p[3] = {
	    {g->rack_offset + rack * sizeof(struct bs_rack), rec,
	     sizeof(struct bs_rack)},
	    {g->module_offset + m0 * sizeof(struct bs_module), modules,
	     (size_t)g->modules_per_rack * sizeof(struct bs_module)},
	    {g->cell_offset + c0 * sizeof(struct bs_cell), cells,
	     (size_t)g->modules_per_rack * g->cells_per_module *
		 sizeof(struct bs_cell)},
	};
	return read_parts(r, meta, p, 3);
}

BS_EXPORT int bs_read_module(bs_reader *r, uint32_t rack, uint32_t module,
			     struct bs_meta *meta, struct bs_module *rec,
			     struct bs_cell *cells)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	if (rack >= g->n_racks || module >= g->modules_per_rack)
		return -BS_ERANGE;
	uint64_t m = (uint64_t)rack * g->modules_per_rack + module;
	uint64_t c0 = m * g->cells_per_module;
	struct part p[2] = {
	    {g->module_offset + m * sizeof(struct bs_module), rec,
	     sizeof(struct bs_module)},
	    {g->cell_offset + c0 * sizeof(struct bs_cell), cells,
	     (size_t)g->cells_per_module * sizeof(struct bs_cell)},
	};
	return read_parts(r, meta, p, 2);
}

BS_EXPORT int bs_read_cell(bs_reader *r, uint32_t rack, uint32_t module,
			   uint32_t cell, struct bs_meta *meta,
			   struct bs_cell *out)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	if (rack >= g->n_racks || module >= g->modules_per_rack ||
	    cell >= g->cells_per_module)
		return -BS_ERANGE;
	uint64_t c = ((uint64_t)rack * g->modules_per_rack + module) *
			 g->cells_per_module +
		     cell;
	struct part p[1] = {
	    {g->cell_offset + c * sizeof(struct bs_cell), out,
	     sizeof(struct bs_cell)},
	};
	return read_parts(r, meta, p, 1);
}

BS_EXPORT int bs_read_all(bs_reader *r, struct bs_meta *meta,
			  struct bs_site *site, struct bs_rack *racks,
			  struct bs_module *modules, struct bs_cell *cells)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	uint64_t n_modules = (uint64_t)g->n_racks * g->modules_per_rack;
	struct part p[4] = {
	    {g->site_offset, site, sizeof(struct bs_site)},
	    {g->rack_offset, racks,
	     (size_t)g->n_racks * sizeof(struct bs_rack)},
	    {g->module_offset, modules,
	     (size_t)n_modules * sizeof(struct bs_module)},
	    {g->cell_offset, cells,
	     (size_t)g->n_cells * sizeof(struct bs_cell)},
	};
	return read_parts(r, meta, p, 4);
}

/* ---- abi_minor 2: extension records ---- */

BS_EXPORT int bs_reader_has_ext(const bs_reader *r)
{
	return r && r->g.cell_ext_offset != 0 && r->g.module_ext_offset != 0;
}

/* One extension region part: n records of the segment's stride into n
 * records of our size (direct when they agree; through a temporary
 * buffer otherwise, zero-filling fields an older writer did not have). */
struct ext_copy {
	void *dst, *tmp;
	size_t n, ours, theirs;
};

static int ext_part(const bs_reader *r, uint64_t region, uint32_t stride,
		    uint64_t first, size_t n, size_t ours, void *dst,
		    struct ext_copy *x, struct part *p)
{
	x->dst = dst;
	x->tmp = NULL;
	x->n = n;
	x->ours = ours;
	x->theirs = stride;
	p->dst = NULL;
	p->off = 0;
	p->len = 0;
	if (!dst)
		return 0;
	if (!bs_reader_has_ext(r)) {
		memset(dst, 0, n * ours);
		return 0;
	}
	p->off = region + first * stride;
	p->len = n * stride;
	if (stride == ours) {
		p->dst = dst;
		return 0;
	}
	x->tmp = malloc(n * stride);
	if (!x->tmp)
		return -BS_ENOMEM;
	p->dst = x->tmp;
	return 0;
}

static void ext_done(struct ext_copy *x, int ok)
{
	if (!x->tmp)
		return;
	if (ok) {
		size_t c = x->ours < x->theirs ? x->ours : x->theirs;
		for (size_t i = 0; i < x->n; i++) {
			unsigned char *d = (unsigned char *)x->dst + i * x->ours;
			memcpy(d, (unsigned char *)x->tmp + i * x->theirs, c);
			memset(d + c, 0, x->ours - c);
		}
	}
	free(x->tmp);
	x->tmp = NULL;
}

BS_EXPORT int bs_read_rack_ext(bs_reader *r, uint32_t rack,
			       struct bs_meta *meta, struct bs_rack *rec,
			       struct bs_module *modules, struct bs_cell *cells,
			       struct bs_module_ext *module_ext,
			       struct bs_cell_ext *cell_ext)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	if (rack >= g->n_racks)
		return -BS_ERANGE;
	uint64_t m0 = (uint64_t)rack * g->modules_per_rack;
	uint64_t c0 = m0 * g->cells_per_module;
	size_t nc = (size_t)g->modules_per_rack * g->cells_per_module;
	struct ext_copy x[2];
	struct part p[5] = {
	    {g->rack_offset + rack * sizeof(struct bs_rack), rec,
	     sizeof(struct bs_rack)},
	    {g->module_offset + m0 * sizeof(struct bs_module), modules,
	     (size_t)g->modules_per_rack * sizeof(struct bs_module)},
	    {g->cell_offset + c0 * sizeof(struct bs_cell), cells,
	     nc * sizeof(struct bs_cell)},
	};
	int rc = ext_part(r, g->module_ext_offset, g->module_ext_size, m0,
			  g->modules_per_rack, sizeof(struct bs_module_ext),
			  module_ext, &x[0], &p[3]);
	if (rc == 0)
		rc = ext_part(r, g->cell_ext_offset, g->cell_ext_size, c0, nc,
			      sizeof(struct bs_cell_ext), cell_ext, &x[1],
			      &p[4]);
	else
		x[1].tmp = NULL;
	if (rc == 0)
		rc = read_parts(r, meta, p, 5);
	ext_done(&x[0], rc == 0);
	ext_done(&x[1], rc == 0);
	return rc;
}

BS_EXPORT int bs_read_module_ext(bs_reader *r, uint32_t rack, uint32_t module,
				 struct bs_meta *meta, struct bs_module *rec,
				 struct bs_cell *cells,
				 struct bs_module_ext *module_ext,
				 struct bs_cell_ext *cell_ext)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	if (rack >= g->n_racks || module >= g->modules_per_rack)
		return -BS_ERANGE;
	uint64_t m = (uint64_t)rack * g->modules_per_rack + module;
	uint64_t c0 = m * g->cells_per_module;
	struct ext_copy x[2];
	struct part p[4] = {
	    {g->module_offset + m * sizeof(struct bs_module), rec,
	     sizeof(struct bs_module)},
	    {g->cell_offset + c0 * sizeof(struct bs_cell), cells,
	     (size_t)g->cells_per_module * sizeof(struct bs_cell)},
	};
	int rc = ext_part(r, g->module_ext_offset, g->module_ext_size, m, 1,
			  sizeof(struct bs_module_ext), module_ext, &x[0],
			  &p[2]);
	if (rc == 0)
		rc = ext_part(r, g->cell_ext_offset, g->cell_ext_size, c0,
			      g->cells_per_module, sizeof(struct bs_cell_ext),
			      cell_ext, &x[1], &p[3]);
	else
		x[1].tmp = NULL;
	if (rc == 0)
		rc = read_parts(r, meta, p, 4);
	ext_done(&x[0], rc == 0);
	ext_done(&x[1], rc == 0);
	return rc;
}

BS_EXPORT int bs_read_all_ext(bs_reader *r, struct bs_meta *meta,
			      struct bs_site *site, struct bs_rack *racks,
			      struct bs_module *modules, struct bs_cell *cells,
			      struct bs_module_ext *module_ext,
			      struct bs_cell_ext *cell_ext)
{
	if (!r)
		return -BS_EINVAL;
	const struct bs_geom *g = &r->g;
	uint64_t n_modules = (uint64_t)g->n_racks * g->modules_per_rack;
	struct ext_copy x[2];
	struct part p[6] = {
	    {g->site_offset, site, sizeof(struct bs_site)},
	    {g->rack_offset, racks,
	     (size_t)g->n_racks * sizeof(struct bs_rack)},
	    {g->module_offset, modules,
	     (size_t)n_modules * sizeof(struct bs_module)},
	    {g->cell_offset, cells,
	     (size_t)g->n_cells * sizeof(struct bs_cell)},
	};
	int rc = ext_part(r, g->module_ext_offset, g->module_ext_size, 0,
			  (size_t)n_modules, sizeof(struct bs_module_ext),
			  module_ext, &x[0], &p[4]);
	if (rc == 0)
		rc = ext_part(r, g->cell_ext_offset, g->cell_ext_size, 0,
			      (size_t)g->n_cells, sizeof(struct bs_cell_ext),
			      cell_ext, &x[1], &p[5]);
	else
		x[1].tmp = NULL;
	if (rc == 0)
		rc = read_parts(r, meta, p, 6);
	ext_done(&x[0], rc == 0);
	ext_done(&x[1], rc == 0);
	return rc;
}
