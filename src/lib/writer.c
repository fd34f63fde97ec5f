/*
 * writer.c - the single writer of the segment (batsimd, the test writer):
 * attach under an OFD lock, publish snapshots through the N-slot latch
 * with a per-slot seqlock, heartbeat, stop.  See batsim-shm(7).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct bs_writer {
	int fd; /* holds the OFD write lock */
	unsigned char *map;
	size_t map_size;
	struct bs_shm_header *h;
	struct bs_geom g;
	uint64_t generation;
	int in_slot;   /* between begin and publish */
	uint32_t slot; /* the slot being written */
	uint64_t seq;  /* its (odd) sequence while being written */
};

BS_EXPORT void bs_copy_to_shm(void *dst, const void *src, size_t n)
{
	_Atomic uint32_t *d = dst;
	const unsigned char *s = src;

	/* Relaxed atomic stores: ordering comes from the seqlock's fence
	 * and release store around them; atomicity keeps concurrent
	 * readers' copies free of C11 data races. */
	for (size_t i = 0; i < n / 4; i++) {
		uint32_t v;
		memcpy(&v, s + 4 * i, 4);
		atomic_store_explicit(&d[i], v, memory_order_relaxed);
	}
}

/* Take the segment over (under the OFD lock): identity, generation,
 * heartbeat, RUNNING. */
struct attach_args {
	struct bs_writer *w;
	const struct bs_writer_params *params;
	const char *site_name;
};

static int attach_fn(void *arg)
{
	const struct attach_args *a = arg;
	struct bs_writer *w = a->w;
	const struct bs_writer_params *params = a->params;
	struct bs_shm_header *h = w->h;

	/* A previous writer that died left RUNNING behind: leave RUNNING
	 * before rewriting the identity. */
	/* Acquire: the previous writer's STOPPED (release-stored in its
	 * close) then happens-before the fence below. */
	if (BS_LOAD32(&h->state, memory_order_acquire) == BS_STATE_RUNNING)
		BS_STORE32(&h->state, BS_STATE_STOPPED, memory_order_relaxed);
	/* Release fence, as the seqlock's after its odd sequence: a reader
	 * (bs_reader_info) whose copy sees any identity word stored below
	 * has its acquire fence synchronize with this fence, so its
	 * re-load of the state sees the STOPPED (or INIT) that preceded
	 * the fence, here or in the previous writer's close, or a later
	 * value, and it does not take a half-written identity for that of
	 * the RUNNING writer it saw first. */
#ifndef BS_TSAN
	atomic_thread_fence(memory_order_release);
#else
	atomic_fetch_or_explicit(BS_A32(&h->state), 0, memory_order_acq_rel);
#endif

	/* Identity (header line 2), written word by word with atomic
	 * stores because readers may copy it at any time. */
	struct bs_shm_header id;
	memset(&id, 0, sizeof(id));
	id.writer_pid = (int32_t)getpid();
	if (params) {
		id.backend = params->backend;
		id.tick_period_ns = params->tick_period_ns;
		id.dt_ns = params->dt_ns;
		if (params->chemistry)
			strncpy(id.chemistry, params->chemistry,
				sizeof(id.chemistry) - 1);
	}
	id.writer_start_ns = bs__real_ns();
	bs_copy_to_shm((unsigned char *)h + 128, (unsigned char *)&id + 128,
		       64);
	/* Site identity (line 7, abi_minor 1), like line 2: none ("")
	 * replaces a previous writer's name. */
	if (a->site_name)
		strncpy(id.site_name, a->site_name, sizeof(id.site_name) - 1);
	bs_copy_to_shm((unsigned char *)h +
			   offsetof(struct bs_shm_header, site_name),
		       (unsigned char *)&id +
			   offsetof(struct bs_shm_header, site_name),
		       BS_CACHE_LINE);

	/* Relaxed: published to readers by the release store of RUNNING
	 * below. */
	w->generation = atomic_fetch_add_explicit(BS_A64(&h->generation), 1,
						  memory_order_relaxed) +
			1;
	BS_STORE64(&h->heartbeat_ns, bs__mono_ns(), memory_order_relaxed);

	/* Release: a reader that acquires RUNNING sees the identity, the
	 * new generation and a fresh heartbeat stored above. */
	BS_STORE32(&h->state, BS_STATE_RUNNING, memory_order_release);
	return 0;
}

static int writer_open(const char *name, const struct bs_topology *expect,
		       const struct bs_writer_params *params,
		       const char *site_name, bs_writer **out)
{
	struct bs_writer *w;
	int rc;

	if (!out)
		return -BS_EINVAL;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -BS_ENOMEM;
	void *map;
	struct bs_shm_header *hc = malloc(sizeof(*hc));
	if (!hc) {
		free(w);
		return -BS_ENOMEM;
	}
	rc = bs__map_segment(name, 1, &w->fd, &map, &w->map_size, hc, &w->g,
			     NULL, NULL);
	free(hc);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->map = map;
	w->h = map;

	if (expect && (expect->racks != w->g.n_racks ||
		       expect->modules_per_rack != w->g.modules_per_rack ||
		       expect->cells_per_module != w->g.cells_per_module)) {
		rc = -BS_EEXIST;
		goto fail;
	}

	/* One writer at a time.  The kernel drops an OFD lock when its
	 * open file description goes away, so a crashed writer never
	 * leaves the segment locked. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(w->fd, F_OFD_SETLK, &fl) < 0) {
		rc = (errno == EAGAIN || errno == EACCES)
			 ? -BS_EBUSY
			 : bs__errno_code(errno);
		goto fail;
	}

	/* The stores into the header below, like every access the writer
	 * makes to the mapping, run under the SIGBUS guard: a segment
	 * truncated under us fails with -BS_ETRUNC. */
	struct attach_args aa = {w, params, site_name};
	rc = bs__guarded(w->map, w->map_size, attach_fn, &aa);
	if (rc < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	munmap(w->map, w->map_size);
	close(w->fd);
	free(w);
	return rc;
}

BS_EXPORT int bs_writer_open(const char *name, const struct bs_topology *expect,
			     const struct bs_writer_params *params,
			     bs_writer **out)
{
	return writer_open(name, expect, params, NULL, out);
}

BS_EXPORT int bs_writer_open_site(const char *name,
				  const struct bs_topology *expect,
				  const struct bs_writer_params *params,
				  const char *site_name, bs_writer **out)
{
	return writer_open(name, expect, params, site_name, out);
}

static unsigned char *slot_base(bs_writer *w, uint32_t slot)
{
	return w->map + w->g.slots_offset + (uint64_t)slot * w->g.slot_size;
}

static void fill_view(bs_writer *w, struct bs_slot_view *view)
{
	unsigned char *s = slot_base(w, w->slot);

	view->site = (struct bs_site *)(s + w->g.site_offset);
	view->racks = (struct bs_rack *)(s + w->g.rack_offset);
	view->modules = (struct bs_module *)(s + w->g.module_offset);
	view->cells = (struct bs_cell *)(s + w->g.cell_offset);
	view->slot = w->slot;
}

static int begin_fn(void *arg)
{
	bs_writer *w = arg;
	struct bs_shm_header *h = w->h;
	/* Relaxed: only this writer stores latest. */
	uint32_t latest = BS_LOAD32(&h->latest, memory_order_relaxed);
	w->slot = (latest + 1) % w->g.n_slots;
	struct bs_slot_header *sh = (void *)slot_base(w, w->slot);

	/* Normally even; odd when a writer died in the middle of this
	 * slot, and then +2 keeps it odd (and different). */
	uint64_t s = BS_LOAD64(&sh->seq, memory_order_relaxed);
	w->seq = (s & 1) ? s + 2 : s + 1;
#ifndef BS_TSAN
	BS_STORE64(&sh->seq, w->seq, memory_order_relaxed);
	/* Release fence: orders the odd sequence store above before every
	 * data store the caller makes into this slot.  A reader whose
	 * relaxed data loads see any such store has its acquire fence
	 * synchronize with this fence, so its re-load of the sequence sees
	 * this odd value or a later one and it discards the copy
	 * (Boehm 2012, the C11 seqlock). */
	atomic_thread_fence(memory_order_release);
#else
	/* ThreadSanitizer ignores fences: an acq_rel exchange is what TSan
	 * models for the same ordering. */
	atomic_exchange_explicit(BS_A64(&sh->seq), w->seq,
				 memory_order_acq_rel);
#endif
	w->in_slot = 1;
	return 0;
}

BS_EXPORT int bs_writer_begin(bs_writer *w, struct bs_slot_view *view)
{
	int rc;

	if (!w || !view)
		return -BS_EINVAL;
	if (!w->in_slot) {
		/* A segment that shrank under the writer (its owner ran
		 * ftruncate): say so before the caller's stores into the
		 * slot would raise SIGBUS.  See batsim-shm(7). */
		rc = bs__check_size(w->fd, w->g.total_size);
		if (rc == 0)
			rc = bs__guarded(w->map, w->map_size, begin_fn, w);
		if (rc < 0)
			return rc;
	}
	/* else begun already and not published: same slot again */
	fill_view(w, view);
	return 0;
}

struct publish_args {
	bs_writer *w;
	uint64_t tick;
	double sim_time_s;
};

static int publish_fn(void *arg)
{
	struct publish_args *a = arg;
	bs_writer *w = a->w;
	struct bs_shm_header *h = w->h;
	unsigned char *s = slot_base(w, w->slot);
	struct bs_slot_header *sh = (void *)s;

	struct bs_slot_header meta;
	memset(&meta, 0, sizeof(meta));
	meta.tick = a->tick;
	meta.sim_time_s = a->sim_time_s;
	meta.wall_time_ns = bs__real_ns();
	meta.generation = w->generation;
	bs_copy_to_shm(s + 64, (unsigned char *)&meta + 64, 32);

	/* Release: every store into the slot (the data and the metadata
	 * above) happens-before a reader's acquire load that sees this even
	 * sequence. */
	BS_STORE64(&sh->seq, w->seq + 1, memory_order_release);
	/* Release: a reader that acquires latest == this slot then sees
	 * the even sequence stored above (or a newer one). */
	BS_STORE32(&h->latest, w->slot, memory_order_release);
	/* Relaxed: readers only compare the heartbeat with their clock. */
	BS_STORE64(&h->heartbeat_ns, bs__mono_ns(), memory_order_relaxed);
	return 0;
}

BS_EXPORT int bs_writer_publish(bs_writer *w, uint64_t tick, double sim_time_s)
{
	if (!w || !w->in_slot)
		return -BS_EINVAL;
	struct publish_args a = {w, tick, sim_time_s};
	int rc = bs__guarded(w->map, w->map_size, publish_fn, &a);
	if (rc < 0)
		return rc;
	w->in_slot = 0;
	return 0;
}

static int heartbeat_fn(void *arg)
{
	bs_writer *w = arg;

	/* Relaxed: readers only compare the heartbeat with their clock. */
	BS_STORE64(&w->h->heartbeat_ns, bs__mono_ns(), memory_order_relaxed);
	return 0;
}

BS_EXPORT void bs_writer_heartbeat(bs_writer *w)
{
	if (!w)
		return;
	/* A truncated segment is reported by the next begin. */
	(void)bs__guarded(w->map, w->map_size, heartbeat_fn, w);
}

BS_EXPORT void bs_writer_slots(bs_writer *w, void **base, size_t *len)
{
	if (!w)
		return;
	if (base)
		*base = w->map + w->g.slots_offset;
	if (len)
		*len = (size_t)((uint64_t)w->g.n_slots * w->g.slot_size);
}

BS_EXPORT const struct bs_shm_header *bs_writer_header(const bs_writer *w)
{
	return w ? w->h : NULL;
}

static int stop_fn(void *arg)
{
	bs_writer *w = arg;

	/* Release: everything this writer published happens-before a
	 * reader's acquire load that sees STOPPED. */
	BS_STORE32(&w->h->state, BS_STATE_STOPPED, memory_order_release);
	return 0;
}

BS_EXPORT void bs_writer_close(bs_writer *w)
{
	if (!w)
		return;
	(void)bs__guarded(w->map, w->map_size, stop_fn, w);
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	fcntl(w->fd, F_OFD_SETLK, &fl);
	munmap(w->map, w->map_size);
	close(w->fd);
	free(w);
}

BS_EXPORT void bs_writer_ext(bs_writer *w, struct bs_module_ext **module_ext,
			     struct bs_cell_ext **cell_ext)
{
	unsigned char *s = w && w->in_slot ? slot_base(w, w->slot) : NULL;
	if (module_ext)
		*module_ext =
		    s && w->g.module_ext_offset &&
			    w->g.module_ext_size == sizeof(struct bs_module_ext)
			? (struct bs_module_ext *)(s + w->g.module_ext_offset)
			: NULL;
	if (cell_ext)
		*cell_ext =
		    s && w->g.cell_ext_offset &&
			    w->g.cell_ext_size == sizeof(struct bs_cell_ext)
			? (struct bs_cell_ext *)(s + w->g.cell_ext_offset)
			: NULL;
}
