/*
 * shm.c - topology, segment layout, header validation and segment
 * management (create, remove) for the batsim shared memory ABI.
 * See batsim-shm(7).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- topology ---- */

/* Parse one decimal field of "RxMxC"; *end is left on the first
 * character after the digits. */
static int parse_field(const char *s, const char **end, uint32_t *out)
{
	uint64_t v = 0;
	int overflow = 0;

	if (*s < '0' || *s > '9')
		return -BS_EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			overflow = 1, v = UINT32_MAX; /* keep scanning */
		s++;
	}
	*end = s;
	*out = (uint32_t)v;
	return overflow ? -BS_ERANGE : 0;
}

BS_EXPORT int bs_topology_parse(const char *text, struct bs_topology *out)
{
	uint32_t v[3];
	const char *p = text;
	int rc, overflow = 0;

	if (!text || !out)
		return -BS_EINVAL;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != 'x' && *p != 'X')
				return -BS_EINVAL;
			p++;
		}
		rc = parse_field(p, &p, &v[i]);
		if (rc == -BS_EINVAL)
			return rc;
		if (rc == -BS_ERANGE)
			overflow = 1;
	}
	if (*p != '\0')
		return -BS_EINVAL;
	if (overflow)
		return -BS_ERANGE;
	struct bs_topology t = {v[0], v[1], v[2]};
	rc = bs_topology_check(&t);
	if (rc < 0)
		return rc;
	*out = t;
	return 0;
}

BS_EXPORT int bs_topology_check(const struct bs_topology *t)
{
	if (!t || t->racks == 0 || t->modules_per_rack == 0 ||
	    t->cells_per_module == 0)
		return -BS_EINVAL;
	if (t->racks > BS_MAX_RACKS ||
	    t->modules_per_rack > BS_MAX_MODULES_PER_RACK ||
	    t->cells_per_module > BS_MAX_CELLS_PER_MODULE)
		return -BS_ERANGE;
	/* Each factor is at most 2^12 or 2^10, so the product fits. */
	uint64_t n =
	    (uint64_t)t->racks * t->modules_per_rack * t->cells_per_module;
	if (n > BS_MAX_CELLS)
		return -BS_ERANGE;
	return 0;
}

/* ---- layout ---- */

/* Slot layout for a valid topology: regions in the order site, racks,
 * modules, cells, then (abi_minor 2) the module and cell extension
 * records, each starting on a cache line; the stride is rounded up to
 * BS_SLOT_ALIGN so that every slot starts on a page. */
struct layout_ext {
	uint64_t module_ext_off, cell_ext_off;
};
static void layout(const struct bs_topology *t, uint64_t *site_off,
		   uint64_t *rack_off, uint64_t *module_off, uint64_t *cell_off,
		   uint64_t *slot_size, struct layout_ext *x)
{
	uint64_t n_modules = (uint64_t)t->racks * t->modules_per_rack;
	uint64_t n_cells = n_modules * t->cells_per_module;

	*site_off = BS_ALIGN_UP(sizeof(struct bs_slot_header), BS_CACHE_LINE);
	*rack_off =
	    BS_ALIGN_UP(*site_off + sizeof(struct bs_site), BS_CACHE_LINE);
	*module_off =
	    BS_ALIGN_UP(*rack_off + (uint64_t)t->racks * sizeof(struct bs_rack),
			BS_CACHE_LINE);
	*cell_off = BS_ALIGN_UP(
	    *module_off + n_modules * sizeof(struct bs_module), BS_CACHE_LINE);
	x->module_ext_off = BS_ALIGN_UP(
	    *cell_off + n_cells * sizeof(struct bs_cell), BS_CACHE_LINE);
	x->cell_ext_off = BS_ALIGN_UP(
	    x->module_ext_off + n_modules * sizeof(struct bs_module_ext),
	    BS_CACHE_LINE);
	*slot_size = BS_ALIGN_UP(
	    x->cell_ext_off + n_cells * sizeof(struct bs_cell_ext),
	    BS_SLOT_ALIGN);
}

BS_EXPORT uint64_t bs_segment_size(const struct bs_topology *t,
				   uint32_t n_slots)
{
	uint64_t a, b, c, d, slot_size;
	struct layout_ext x;

	if (bs_topology_check(t) < 0 || n_slots == 0 || n_slots > BS_MAX_SLOTS)
		return 0;
	layout(t, &a, &b, &c, &d, &slot_size, &x);
	return BS_HEADER_SIZE + (uint64_t)n_slots * slot_size;
}

BS_EXPORT int bs_header_init(struct bs_shm_header *h,
			     const struct bs_topology *t, uint32_t n_slots)
{
	int rc;
	struct layout_ext x;

	if (!h)
		return -BS_EINVAL;
	rc = bs_topology_check(t);
	if (rc < 0)
		return rc;
	if (n_slots == 0)
		return -BS_EINVAL;
	if (n_slots > BS_MAX_SLOTS)
		return -BS_ERANGE;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, BS_MAGIC, BS_MAGIC_LEN);
	h->abi_major = BS_ABI_MAJOR;
	h->abi_minor = BS_ABI_MINOR;
	h->header_size = BS_HEADER_SIZE;
	h->n_racks = t->racks;
	h->modules_per_rack = t->modules_per_rack;
	h->cells_per_module = t->cells_per_module;
	h->n_slots = n_slots;
	h->n_cells =
	    (uint64_t)t->racks * t->modules_per_rack * t->cells_per_module;
	h->cell_size = sizeof(struct bs_cell);
	h->module_size = sizeof(struct bs_module);
	h->rack_size = sizeof(struct bs_rack);
	h->site_size = sizeof(struct bs_site);
	h->slot_header_size = sizeof(struct bs_slot_header);
	layout(t, &h->site_offset, &h->rack_offset, &h->module_offset,
	       &h->cell_offset, &h->slot_size, &x);
	h->module_ext_size = sizeof(struct bs_module_ext);
	h->cell_ext_size = sizeof(struct bs_cell_ext);
	h->module_ext_offset = x.module_ext_off;
	h->cell_ext_offset = x.cell_ext_off;
	h->slots_offset = BS_HEADER_SIZE;
	h->total_size = h->slots_offset + (uint64_t)n_slots * h->slot_size;
	h->state = BS_STATE_INIT;
	h->latest = 0;
	h->generation = 0;
	return 0;
}

/* [off, off + len) lies inside [lo, slot_size) without overflow. */
static int region_ok(uint64_t off, uint64_t len, uint64_t lo,
		     uint64_t slot_size)
{
	return off >= lo && off % 8 == 0 && off <= slot_size &&
	       len <= slot_size - off;
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

BS_EXPORT int bs_header_validate(const struct bs_shm_header *h, size_t map_size)
{
	if (!h)
		return -BS_EINVAL;
	/* Read nothing that map_size does not cover. */
	if (map_size < BS_MAGIC_LEN)
		return -BS_ETRUNC;
	if (memcmp(h->magic, BS_MAGIC, BS_MAGIC_LEN) != 0)
		return -BS_EMAGIC;
	if (map_size < offsetof(struct bs_shm_header, header_size))
		return -BS_ETRUNC;
	if (h->abi_major != BS_ABI_MAJOR)
		return -BS_EABI;
	if (map_size < BS_HEADER_SIZE)
		return -BS_ETRUNC;

	/* From here on the whole header page is readable. */
	struct bs_topology t = {h->n_racks, h->modules_per_rack,
				h->cells_per_module};
	if (bs_topology_check(&t) < 0)
		return -BS_ELAYOUT;
	uint64_t n_modules = (uint64_t)t.racks * t.modules_per_rack;
	uint64_t n_cells = n_modules * t.cells_per_module;
	if (h->n_cells != n_cells)
		return -BS_ELAYOUT;
	if (h->header_size < BS_HEADER_SIZE)
		return -BS_ELAYOUT;
	/* Record sizes are fixed by abi_major (minor versions only use the
	 * records' reserved bytes), so anything else is corrupt. */
	if (h->cell_size != sizeof(struct bs_cell) ||
	    h->module_size != sizeof(struct bs_module) ||
	    h->rack_size != sizeof(struct bs_rack) ||
	    h->site_size != sizeof(struct bs_site) ||
	    h->slot_header_size != sizeof(struct bs_slot_header))
		return -BS_ELAYOUT;
	if (h->n_slots == 0 || h->n_slots > BS_MAX_SLOTS)
		return -BS_ELAYOUT;
	/* Slots start on a cache line so that every sequence is alone on
	 * its line; the header must come first. */
	if (h->slot_size == 0 || h->slot_size % BS_CACHE_LINE != 0 ||
	    h->slots_offset < h->header_size ||
	    h->slots_offset % BS_CACHE_LINE != 0)
		return -BS_ELAYOUT;

	/* Every region inside the slot, after the slot header, 8-aligned,
	 * and no two overlapping.  Lengths are small (< 2^39) because the
	 * topology is bounded, so the sums below cannot overflow. */
	uint64_t ss = h->slot_size, lo = h->slot_header_size;
	uint64_t off[6] = {h->site_offset, h->rack_offset, h->module_offset,
			   h->cell_offset, h->module_ext_offset,
			   h->cell_ext_offset};
	uint64_t len[6] = {sizeof(struct bs_site),
			   (uint64_t)t.racks * sizeof(struct bs_rack),
			   n_modules * sizeof(struct bs_module),
			   n_cells * sizeof(struct bs_cell),
			   n_modules * h->module_ext_size,
			   n_cells * h->cell_ext_size};
	int nreg = 4;
	/* The extension regions (abi_minor 2; all zero before): either
	 * absent (offset and size 0) or present with a record stride that
	 * is a non-zero multiple of 4 up to BS_EXT_SIZE_MAX, inside the
	 * slot and overlapping nothing else. */
	if (h->module_ext_offset || h->cell_ext_offset || h->module_ext_size ||
	    h->cell_ext_size) {
		if (!h->module_ext_offset || !h->cell_ext_offset ||
		    h->module_ext_size == 0 || h->module_ext_size % 4 != 0 ||
		    h->module_ext_size > BS_EXT_SIZE_MAX ||
		    h->cell_ext_size == 0 || h->cell_ext_size % 4 != 0 ||
		    h->cell_ext_size > BS_EXT_SIZE_MAX)
			return -BS_ELAYOUT;
		nreg = 6;
	}
	for (int i = 0; i < nreg; i++) {
		if (!region_ok(off[i], len[i], lo, ss))
			return -BS_ELAYOUT;
		for (int j = 0; j < i; j++)
			if (overlap(off[i], len[i], off[j], len[j]))
				return -BS_ELAYOUT;
	}

	/* total_size = slots_offset + n_slots * slot_size, exactly. */
	if (h->slot_size > (UINT64_MAX - h->slots_offset) / h->n_slots)
		return -BS_ELAYOUT;
	uint64_t total = h->slots_offset + (uint64_t)h->n_slots * h->slot_size;
	if (h->total_size != total)
		return -BS_ELAYOUT;
	if (BS_LOAD32(&h->latest, memory_order_relaxed) >= h->n_slots)
		return -BS_ELAYOUT;

	if (h->total_size > map_size)
		return -BS_ETRUNC;
	return 0;
}

void bs__geom_from_header(struct bs_geom *g, const struct bs_shm_header *h)
{
	g->n_racks = h->n_racks;
	g->modules_per_rack = h->modules_per_rack;
	g->cells_per_module = h->cells_per_module;
	g->n_slots = h->n_slots;
	g->n_cells = h->n_cells;
	g->slot_size = h->slot_size;
	g->slots_offset = h->slots_offset;
	g->total_size = h->total_size;
	g->site_offset = h->site_offset;
	g->rack_offset = h->rack_offset;
	g->module_offset = h->module_offset;
	g->cell_offset = h->cell_offset;
	g->module_ext_offset = h->module_ext_offset;
	g->cell_ext_offset = h->cell_ext_offset;
	g->module_ext_size = h->module_ext_size;
	g->cell_ext_size = h->cell_ext_size;
}

/* ---- names, clocks, mapping ---- */

int bs__check_name(const char **name)
{
	if (!*name)
		*name = BS_DEFAULT_NAME;
	const char *n = *name;
	size_t len = strlen(n);
	/* POSIX: portable names are "/" followed by a file name. */
	if (len < 2 || len > NAME_MAX || n[0] != '/' || strchr(n + 1, '/'))
		return -BS_EINVAL;
	if (strcmp(n + 1, ".") == 0 || strcmp(n + 1, "..") == 0)
		return -BS_EINVAL;
	return 0;
}

uint64_t bs__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t bs__real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bs__geom_public(struct bs_geometry *pub, const struct bs_geom *g)
{
	memset(pub, 0, sizeof(*pub));
	pub->n_racks = g->n_racks;
	pub->modules_per_rack = g->modules_per_rack;
	pub->cells_per_module = g->cells_per_module;
	pub->n_slots = g->n_slots;
	pub->n_modules = (uint64_t)g->n_racks * g->modules_per_rack;
	pub->n_cells = g->n_cells;
	pub->total_size = g->total_size;
}

int bs__check_size(int fd, uint64_t size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bs__errno_code(errno);
	return (uint64_t)st.st_size < size ? -BS_ETRUNC : 0;
}

struct copy_args {
	struct bs_shm_header *dst;
	const void *src;
};

static int copy_header(void *arg)
{
	struct copy_args *a = arg;

	/* Word by word with atomic loads: the writer may be storing the
	 * header's live fields meanwhile (and a hostile owner anything). */
	bs_copy_from_shm(a->dst, a->src, BS_HEADER_SIZE);
	return 0;
}

int bs__map_segment(const char *name, int writable, int *fd_out, void **map_out,
		    size_t *size_out, struct bs_shm_header *hc,
		    struct bs_geom *g, dev_t *dev, ino_t *ino)
{
	struct stat st;
	void *map;
	int fd, rc;

	rc = bs__check_name(&name);
	if (rc < 0)
		return rc;
	fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0)
		return bs__errno_code(errno);
	if (fstat(fd, &st) < 0) {
		rc = bs__errno_code(errno);
		goto fail;
	}
	/* Check the size before mapping: touching a page beyond the end
	 * of the object would raise SIGBUS. */
	if (st.st_size < (off_t)BS_HEADER_SIZE) {
		/* Still tell a foreign object from a short batsim one. */
		rc = -BS_ETRUNC;
		if (st.st_size >= BS_MAGIC_LEN) {
			char magic[BS_MAGIC_LEN];
			if (pread(fd, magic, sizeof(magic), 0) ==
				(ssize_t)sizeof(magic) &&
			    memcmp(magic, BS_MAGIC, BS_MAGIC_LEN) != 0)
				rc = -BS_EMAGIC;
		}
		goto fail;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		rc = -BS_ENOMEM;
		goto fail;
	}
	map = mmap(NULL, (size_t)st.st_size,
		   writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		rc = bs__errno_code(errno);
		goto fail;
	}
	/* Copy once, then validate and use only the copy: the owner can
	 * rewrite the mapped header at any time (batsim-shm(7)).  Guarded:
	 * the object may shrink after the fstat above. */
	struct copy_args ca = {hc, map};
	rc = bs__guarded(map, (size_t)st.st_size, copy_header, &ca);
	if (rc == 0)
		rc = bs_header_validate(hc, (size_t)st.st_size);
	if (rc < 0) {
		munmap(map, (size_t)st.st_size);
		goto fail;
	}
	bs__geom_from_header(g, hc);
	*fd_out = fd;
	*map_out = map;
	*size_out = (size_t)st.st_size;
	if (dev)
		*dev = st.st_dev;
	if (ino)
		*ino = st.st_ino;
	return 0;
fail:
	close(fd);
	return rc;
}

/* ---- segment management ---- */

#define REPLACED 2 /* check_existing removed the old segment */

/* Set mode and group of an open segment when they differ. */
static int set_owner(int fd, mode_t mode, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bs__errno_code(errno);
	if ((st.st_mode & 07777) != (mode & 07777) &&
	    fchmod(fd, mode & 07777) < 0)
		return bs__errno_code(errno);
	if (gid != (gid_t)-1 && st.st_gid != gid &&
	    fchown(fd, (uid_t)-1, gid) < 0)
		return bs__errno_code(errno);
	return 0;
}

/* Size and fill a segment that shm_open just created (O_EXCL): nobody
 * can have it mapped yet, so sizing it here is safe. */
static int init_new(int fd, const struct bs_shm_header *hdr, mode_t mode,
		    gid_t gid)
{
	void *map;
	int rc;

	/* shm_open's mode was masked by the umask; set it exactly. */
	rc = set_owner(fd, mode, gid);
	if (rc < 0)
		return rc;
	/* Reserve the memory now so that a full /dev/shm is reported here
	 * rather than as SIGBUS in the writer later. */
	rc = posix_fallocate(fd, 0, (off_t)hdr->total_size);
	if (rc == EOPNOTSUPP || rc == EINVAL) {
		if (ftruncate(fd, (off_t)hdr->total_size) < 0)
			return bs__errno_code(errno);
	} else if (rc != 0) {
		return bs__errno_code(rc);
	}
	map = mmap(NULL, BS_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (map == MAP_FAILED)
		return bs__errno_code(errno);
	/* Write everything but the magic, then the magic, so that a reader
	 * opening the segment in the meantime most likely sees "not a
	 * batsim segment" (or "truncated") rather than a half-written
	 * header.  This is best effort, not a protocol: batsim-init runs
	 * before any reader is started. */
	memcpy((char *)map + BS_MAGIC_LEN, (const char *)hdr + BS_MAGIC_LEN,
	       BS_HEADER_SIZE - BS_MAGIC_LEN);
	memcpy(map, hdr->magic, BS_MAGIC_LEN);
	munmap(map, BS_HEADER_SIZE);
	return 0;
}

/* The name exists: keep it when it matches, or replace it under
 * BS_CREATE_FORCE.  Returns 1 (kept), REPLACED, or a negative code.  On
 * REPLACED, *gen is the replaced segment's generation when its header was
 * valid (the new one continues from it: a client that tells restarts by
 * generation sees the replacement as one), else left alone. */
static int check_existing(const char *name, const struct bs_shm_header *want,
			  mode_t mode, gid_t gid, unsigned flags,
			  uint64_t *gen)
{
	uint64_t old_gen = 0;
	int have_gen = 0;
	struct stat st;
	int fd, rc, match = 0;

	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? REPLACED /* vanished: retry */
				       : bs__errno_code(errno);
	if (fstat(fd, &st) < 0) {
		rc = bs__errno_code(errno);
		goto out;
	}
	rc = -BS_ETRUNC;
	if (st.st_size >= (off_t)BS_HEADER_SIZE &&
	    (uint64_t)st.st_size <= SIZE_MAX) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ,
				 MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			rc = bs__errno_code(errno);
			goto out;
		}
		/* Judge a copy, never the live header (batsim-shm(7)). */
		struct bs_shm_header *h = malloc(sizeof(*h));
		struct copy_args ca = {h, map};
		rc = h ? bs__guarded(map, (size_t)st.st_size, copy_header, &ca)
		       : -BS_ENOMEM;
		if (rc == 0)
			rc = bs_header_validate(h, (size_t)st.st_size);
		if (rc == 0) {
			old_gen = h->generation;
			have_gen = 1;
		}
		if (rc == 0)
			match = h->n_racks == want->n_racks &&
				h->modules_per_rack == want->modules_per_rack &&
				h->cells_per_module == want->cells_per_module &&
				h->n_slots == want->n_slots;
		free(h);
		munmap(map, (size_t)st.st_size);
		if (rc == -BS_ENOMEM)
			goto out;
	}
	if (rc == 0 && match) {
		rc = set_owner(fd, mode, gid);
		if (rc == 0)
			rc = 1;
		goto out;
	}
	if (!(flags & BS_CREATE_FORCE)) {
		if (rc == 0)
			rc = -BS_EEXIST;
		goto out;
	}
	/* Forced replacement.  Never resize the old object in place:
	 * readers (and a GPU registration) may have it mapped, and
	 * shrinking it would SIGBUS them.  Unlink it instead; mappings
	 * stay valid and bs_reader_check_name() tells readers to reopen.
	 * A running writer holds an OFD lock; do not pull the segment from
	 * under it. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		rc = (errno == EAGAIN || errno == EACCES)
			 ? -BS_EBUSY
			 : bs__errno_code(errno);
		goto out;
	}
	if (shm_unlink(name) < 0 && errno != ENOENT) {
		rc = bs__errno_code(errno);
		goto out;
	}
	rc = REPLACED;
	if (have_gen)
		*gen = old_gen;
out:
	close(fd); /* also drops our OFD lock */
	return rc;
}

BS_EXPORT int bs_segment_create(const char *name, const struct bs_topology *t,
				uint32_t n_slots, mode_t mode, gid_t gid,
				unsigned flags)
{
	struct bs_shm_header *hdr;
	int rc, fd;

	rc = bs__check_name(&name);
	if (rc < 0)
		return rc;
	if (flags & ~BS_CREATE_FORCE)
		return -BS_EINVAL;
	hdr = malloc(sizeof(*hdr));
	if (!hdr)
		return -BS_ENOMEM;
	rc = bs_header_init(hdr, t, n_slots);
	if (rc < 0)
		goto out;
	if (hdr->total_size > SIZE_MAX ||
	    hdr->total_size > (uint64_t)INT64_MAX) {
		rc = -BS_ENOMEM;
		goto out;
	}
	/* Two rounds: a forced replacement (or a segment that vanished
	 * between our two opens) makes the name free again. */
	for (int round = 0; round < 3; round++) {
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			      mode & 0777);
		if (fd >= 0) {
			rc = init_new(fd, hdr, mode, gid);
			close(fd);
			if (rc < 0)
				shm_unlink(name);
			goto out;
		}
		if (errno != EEXIST) {
			rc = bs__errno_code(errno);
			goto out;
		}
		rc = check_existing(name, hdr, mode, gid, flags,
				    &hdr->generation);
		if (rc != REPLACED)
			goto out;
	}
	rc = -BS_EBUSY; /* someone keeps recreating the name */
out:
	free(hdr);
	return rc;
}

BS_EXPORT int bs_segment_remove(const char *name)
{
	int rc = bs__check_name(&name);

	if (rc < 0)
		return rc;
	if (shm_unlink(name) < 0)
		return bs__errno_code(errno);
	return 0;
}
