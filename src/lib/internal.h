/*
 * internal.h - private helpers of libbatsim (not installed).
 *
 * The segment's shared fields are plain fixed-width integers in the ABI
 * header (no _Atomic there: the ABI must be readable from any language).
 * Inside the library every concurrent access goes through the macros
 * below, which treat those fields as C11 atomics of the same size.
 * _Atomic uint32_t / uint64_t have the size and alignment of the plain
 * types on every target batsim supports (x86-64, aarch64), which is
 * asserted below.
 */
#ifndef BATSIM_INTERNAL_H
#define BATSIM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batsim/batsim.h"

/* Mark a function as part of the exported ABI (the library is built with
 * -fvisibility=hidden, and only bs_* symbols are exported). */
#define BS_EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic u64");
_Static_assert(_Alignof(_Atomic uint64_t) == 8, "atomic u64 alignment");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "atomic u32");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics lock free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics lock free");

/* View a shared field as an atomic object. */
#define BS_A64(p)  ((_Atomic uint64_t *)(void *)(p))
#define BS_A32(p)  ((_Atomic uint32_t *)(void *)(p))
#define BS_CA64(p) ((const _Atomic uint64_t *)(const void *)(p))
#define BS_CA32(p) ((const _Atomic uint32_t *)(const void *)(p))

#define BS_LOAD64(p, mo)     atomic_load_explicit(BS_CA64(p), (mo))
#define BS_LOAD32(p, mo)     atomic_load_explicit(BS_CA32(p), (mo))
#define BS_STORE64(p, v, mo) atomic_store_explicit(BS_A64(p), (v), (mo))
#define BS_STORE32(p, v, mo) atomic_store_explicit(BS_A32(p), (v), (mo))

/* Round x up to a multiple of a (a power of two). */
#define BS_ALIGN_UP(x, a) (((x) + ((uint64_t)(a)-1)) & ~((uint64_t)(a)-1))

/* The geometry of a validated segment, copied out of the header once so
 * that a later change of the mapped header can never make the library
 * read outside its mapping. */
struct bs_geom {
	uint32_t n_racks, modules_per_rack, cells_per_module, n_slots;
	uint64_t n_cells;
	uint64_t slot_size, slots_offset, total_size;
	uint64_t site_offset, rack_offset, module_offset, cell_offset;
	/* abi_minor 2 extension regions; offset 0 = absent */
	uint64_t module_ext_offset, cell_ext_offset;
	uint32_t module_ext_size, cell_ext_size;
};

/* Fill *g from a header that bs_header_validate() accepted: a private
 * copy, never the mapping (see bs__map_segment). */
void bs__geom_from_header(struct bs_geom *g, const struct bs_shm_header *h);

/* The public view of a geometry (bs_reader_geometry). */
void bs__geom_public(struct bs_geometry *pub, const struct bs_geom *g);

/* Bytes of the header that never change for the life of a segment object
 * (lines 0 and 1: identity, topology, record sizes, offsets).  A reader
 * compares them with its copy; any difference is a corrupt segment. */
#define BS_HEADER_FIXED_BYTES 128u

/* Run fn(arg) with SIGBUS faults inside [map, map + size) turned into a
 * -BS_ETRUNC return (the segment shrank under us); otherwise fn's value.
 * fn's outputs are garbage after -BS_ETRUNC.  See guard.c. */
int bs__guarded(const void *map, size_t size, int (*fn)(void *), void *arg);

/* Check a segment name ("/name", no other slash, short enough); NULL
 * becomes BS_DEFAULT_NAME.  0 or -BS_EINVAL. */
int bs__check_name(const char **name);

/* Map errno after a failed system call to a BS_E* code (negative). */
int bs__errno_code(int err);

/* Open, fstat, map and validate a segment.  The header page is copied
 * out of the mapping once (into *hcopy), the copy is validated and the
 * geometry *g comes from that copy: a header rewritten meanwhile can
 * never make the caller index outside the mapping.  On success *fd, *map,
 * *map_size are set.  writable selects O_RDWR + PROT_WRITE. */
int bs__map_segment(const char *name, int writable, int *fd, void **map,
		    size_t *map_size, struct bs_shm_header *hcopy,
		    struct bs_geom *g, dev_t *dev, ino_t *ino);

/* 0 when the object behind fd still has at least size bytes, -BS_ETRUNC
 * when it shrank, another code when fstat fails. */
int bs__check_size(int fd, uint64_t size);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. */
uint64_t bs__mono_ns(void);
int64_t bs__real_ns(void);

#endif /* BATSIM_INTERNAL_H */
