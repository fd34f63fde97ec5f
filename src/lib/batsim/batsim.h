/*
 * batsim/batsim.h - libbatsim: read (and, for batsimd, write) the batsim
 * shared memory segment.  See libbatsim(3) and batsim-shm(7).
 *
 * Every function returns 0 (or a non-negative count) on success and a
 * negative BS_E* code on failure; bs_strerror() turns it into text.  The
 * library never logs, never exits and never raises a signal.
 */
#ifndef BATSIM_BATSIM_H
#define BATSIM_BATSIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <batsim/shm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes, returned negated (e.g. -BS_ENOENT). */
enum {
	BS_OK = 0,
	BS_ENOENT = 1,   /* segment does not exist */
	BS_EACCES = 2,   /* permission denied */
	BS_EMAGIC = 3,   /* not a batsim segment (bad magic) */
	BS_EABI = 4,     /* incompatible abi_major */
	BS_ETRUNC = 5,   /* segment smaller than its header says */
	BS_ELAYOUT = 6,  /* inconsistent sizes or offsets in the header */
	BS_EAGAIN = 7,   /* no consistent snapshot within the retry bound */
	BS_ESTALE = 8,   /* heartbeat older than the maximum age */
	BS_ESTOPPED = 9, /* writer stopped, or never started (state INIT) */
	BS_ERANGE = 10,  /* rack, module or cell index out of range */
	BS_EINVAL = 11,  /* invalid argument (topology, name, slots...) */
	BS_ENOMEM = 12,  /* out of memory */
	BS_EEXIST = 13,  /* segment exists with another topology */
	BS_ESYS = 14,    /* other system error; see errno */
	BS_EBUSY = 15,   /* another writer is running */
	BS_ENODATA = 16, /* no slot published yet */
	BS_ECHANGED = 17, /* the segment was removed or recreated */
	BS_ETIMEDOUT = 18, /* control socket: no reply in time */
	BS_EPROTO = 19,   /* control socket: reply not one JSON line */
	BS_ECONNREFUSED = 20 /* control socket: nobody listening (batsimd down) */
};

/* Text for a (negative or positive) BS_E* code; never NULL. */
const char *bs_strerror(int code);

/* Library version string, e.g. "0.1.0". */
const char *bs_version(void);

struct bs_topology {
	uint32_t racks;
	uint32_t modules_per_rack;
	uint32_t cells_per_module;
};

/* Parse "RxMxC" (e.g. "20x10x32"); 0 or -BS_EINVAL / -BS_ERANGE. */
int bs_topology_parse(const char *text, struct bs_topology *out);

/* Check a topology against the supported limits; 0, -BS_EINVAL or
 * -BS_ERANGE. */
int bs_topology_check(const struct bs_topology *t);

/* Segment size for a topology and slot count; 0 when invalid. */
uint64_t bs_segment_size(const struct bs_topology *t, uint32_t n_slots);

/* Fill a header for a topology (magic, ABI, sizes, offsets, state INIT).
 * Used by batsim-init and the tests; 0 or -BS_EINVAL/-BS_ERANGE. */
int bs_header_init(struct bs_shm_header *h, const struct bs_topology *t,
                   uint32_t n_slots);

/* Validate a header against the mapped size; 0 or -BS_EMAGIC, -BS_EABI,
 * -BS_ETRUNC, -BS_ELAYOUT.  Never reads past map_size.  h must be 8-byte
 * aligned (as a mapping or a malloc'd copy is).  Validate a private copy
 * of a shared header, and use only that copy afterwards. */
int bs_header_validate(const struct bs_shm_header *h, size_t map_size);

/* ---- segment management (batsim-init) ---- */

#define BS_CREATE_FORCE 1u /* replace a segment of another topology */

/* Create (or keep, when it matches) the segment `name` for topology t with
 * n_slots slots, then set its mode (not masked by the umask) and, when gid
 * is not (gid_t)-1, its group.  Returns 0 when created, 1 when an existing
 * matching segment was kept, or a negative code (-BS_EEXIST when it exists
 * with another topology and BS_CREATE_FORCE is not given; -BS_EBUSY when
 * forcing over a running writer). */
int bs_segment_create(const char *name, const struct bs_topology *t,
                      uint32_t n_slots, mode_t mode, gid_t gid,
                      unsigned flags);

/* Remove the segment; 0 or -BS_ENOENT/-BS_EACCES/-BS_ESYS. */
int bs_segment_remove(const char *name);

/* ---- reader ---- */

typedef struct bs_reader bs_reader;

/* Information from the header, copied at call time. */
struct bs_info {
	struct bs_topology topo;
	uint64_t n_cells;
	uint32_t n_slots;
	uint32_t abi_major, abi_minor;
	uint64_t total_size;
	int32_t writer_pid;
	uint32_t backend;        /* BS_BACKEND_* */
	int64_t writer_start_ns; /* CLOCK_REALTIME */
	uint64_t tick_period_ns;
	uint64_t dt_ns;
	char chemistry[16];
	uint64_t generation;
	uint32_t state;          /* BS_STATE_* */
	uint64_t heartbeat_ns;   /* CLOCK_MONOTONIC */
	int64_t heartbeat_age_ns; /* now - heartbeat_ns */
	uint32_t latest;
};

/* Metadata of the slot a read came from. */
struct bs_meta {
	uint64_t tick;
	double sim_time_s;
	int64_t wall_time_ns;
	uint64_t generation;
	uint32_t slot;
	uint32_t retries;  /* how many times the read was retried */
};

/* Open the segment read-only and validate its header.  name NULL means
 * BS_DEFAULT_NAME.  0 or -BS_ENOENT, -BS_EACCES, -BS_EMAGIC, -BS_EABI,
 * -BS_ETRUNC, -BS_ELAYOUT, -BS_ENOMEM, -BS_ESYS. */
int bs_reader_open(const char *name, bs_reader **out);

/* Unmap and free; NULL is fine. */
void bs_reader_close(bs_reader *r);

/* Maximum heartbeat age before data counts as stale (default 2 s). */
void bs_reader_set_max_age(bs_reader *r, uint64_t max_age_ns);

/* Retry bound for a consistent read (default 64). */
void bs_reader_set_retries(bs_reader *r, unsigned retries);

/* The geometry of the segment, copied from its header once by
 * bs_reader_open and validated on that copy.  It never changes for the
 * life of the reader (a segment's geometry is fixed when it is created):
 * size every buffer passed to bs_read_* and check every index with it,
 * never with the mapped header, which the segment's owner can rewrite. */
struct bs_geometry {
	uint32_t n_racks;
	uint32_t modules_per_rack;
	uint32_t cells_per_module;
	uint32_t n_slots;
	uint64_t n_modules;  /* n_racks * modules_per_rack */
	uint64_t n_cells;    /* n_modules * cells_per_module */
	uint64_t total_size; /* bytes of the segment */
};

/* The reader's geometry; valid until bs_reader_close.  NULL for NULL. */
const struct bs_geometry *bs_reader_geometry(const bs_reader *r);

/* The mapped header, read only.  The segment's owner can rewrite it at
 * any time: never size a buffer or check an index with its fields (use
 * bs_reader_geometry), and read the live ones through bs_reader_info and
 * bs_reader_live, which survive a truncated segment. */
const struct bs_shm_header *bs_reader_header(const bs_reader *r);

/* Copy the header's current values into *info. */
void bs_reader_info(const bs_reader *r, struct bs_info *info);

/* The site name the running (or last) writer published (header line 7,
 * site_name in batsim.conf), copied consistently with its identity into
 * buf (len bytes, NUL-terminated; bytes outside printable ASCII become
 * '?').  Returns its length, 0 when none was published (an older writer,
 * none yet), -BS_EINVAL for a NULL argument. */
int bs_reader_site_name(const bs_reader *r, char *buf, size_t len);

/* 0 when a writer is RUNNING with a fresh heartbeat; -BS_ESTOPPED when the
 * state is INIT or STOPPED; -BS_ESTALE when the heartbeat is too old;
 * -BS_ETRUNC when the segment shrank under the reader. */
int bs_reader_live(const bs_reader *r);

/* 0 when the name still refers to the mapped segment and that segment is
 * intact; -BS_ECHANGED when it was removed or recreated, -BS_ETRUNC when
 * it shrank, -BS_ELAYOUT when its header was rewritten under the reader
 * (a corrupt segment).  On any of these three, close the reader and open
 * the name again (which fails until a valid segment is there). */
int bs_reader_check_name(const bs_reader *r);

/* Consistent reads from the newest slot.  Any output pointer may be NULL
 * to skip that part; the others point at buffers sized from
 * bs_reader_geometry().  Each returns 0, -BS_EAGAIN when no consistent
 * copy was made within the retry bound, -BS_ENODATA when nothing was
 * published yet, -BS_ERANGE for a bad index, or -BS_ETRUNC / -BS_ELAYOUT
 * when the segment shrank or its header was rewritten under the reader
 * (corrupt: close and reopen).  They do not check liveness: call
 * bs_reader_live() and say when data is stale. */
int bs_read_site(bs_reader *r, struct bs_meta *meta, struct bs_site *site,
                 struct bs_rack *racks /* [n_racks] */);
int bs_read_rack(bs_reader *r, uint32_t rack, struct bs_meta *meta,
                 struct bs_rack *rec,
                 struct bs_module *modules /* [modules_per_rack] */,
                 struct bs_cell *cells /* [modules_per_rack*cells] */);
int bs_read_module(bs_reader *r, uint32_t rack, uint32_t module,
                   struct bs_meta *meta, struct bs_module *rec,
                   struct bs_cell *cells /* [cells_per_module] */);
int bs_read_cell(bs_reader *r, uint32_t rack, uint32_t module,
                 uint32_t cell, struct bs_meta *meta, struct bs_cell *out);
int bs_read_all(bs_reader *r, struct bs_meta *meta, struct bs_site *site,
                struct bs_rack *racks, struct bs_module *modules,
                struct bs_cell *cells);

/* abi_minor 2: 1 when the segment has the per-module and per-cell
 * extension regions (struct bs_module_ext, struct bs_cell_ext: SoH,
 * hysteresis), 0 when it was made by an older batsim-init. */
int bs_reader_has_ext(const bs_reader *r);

/* bs_read_rack and bs_read_module from one snapshot together with the
 * extension records of the same modules and cells (module_ext
 * [modules_per_rack] or [1], cell_ext [cells of the rack] or
 * [cells_per_module]; any pointer may be NULL).  Without extension
 * regions the extension records are zeroed (see bs_reader_has_ext).
 * Same return values as bs_read_rack, and -BS_ENOMEM. */
int bs_read_rack_ext(bs_reader *r, uint32_t rack, struct bs_meta *meta,
                     struct bs_rack *rec, struct bs_module *modules,
                     struct bs_cell *cells, struct bs_module_ext *module_ext,
                     struct bs_cell_ext *cell_ext);
int bs_read_module_ext(bs_reader *r, uint32_t rack, uint32_t module,
                       struct bs_meta *meta, struct bs_module *rec,
                       struct bs_cell *cells,
                       struct bs_module_ext *module_ext,
                       struct bs_cell_ext *cell_ext);
/* bs_read_all with every module's and cell's extension records
 * (module_ext [n_racks * modules_per_rack], cell_ext [n_cells]). */
int bs_read_all_ext(bs_reader *r, struct bs_meta *meta, struct bs_site *site,
                    struct bs_rack *racks, struct bs_module *modules,
                    struct bs_cell *cells, struct bs_module_ext *module_ext,
                    struct bs_cell_ext *cell_ext);

/* ---- writer (batsimd and the test writer) ---- */

typedef struct bs_writer bs_writer;

struct bs_writer_params {
	uint32_t backend;         /* BS_BACKEND_* */
	uint64_t tick_period_ns;  /* publish period */
	uint64_t dt_ns;           /* internal step */
	const char *chemistry;    /* preset name, may be NULL */
};

/* Pointers into the slot being written (between begin and publish). */
struct bs_slot_view {
	struct bs_site *site;
	struct bs_rack *racks;
	struct bs_module *modules;
	struct bs_cell *cells;
	uint32_t slot;
};

/* Attach read-write to an existing segment whose topology must equal
 * *expect (-BS_EEXIST otherwise; -BS_ENOENT when missing).  Takes an OFD
 * write lock (-BS_EBUSY when another writer holds it), bumps generation,
 * writes the writer identity and sets state RUNNING. */
int bs_writer_open(const char *name, const struct bs_topology *expect,
                   const struct bs_writer_params *params, bs_writer **out);

/* bs_writer_open that also publishes site_name (header line 7, at most
 * 31 bytes; NULL or "" publish none) with the writer identity. */
int bs_writer_open_site(const char *name, const struct bs_topology *expect,
                        const struct bs_writer_params *params,
                        const char *site_name, bs_writer **out);

/* Start writing the next slot: its sequence becomes odd.  Fills *view. */
int bs_writer_begin(bs_writer *w, struct bs_slot_view *view);

/* abi_minor 2: the extension records of the slot being written (between
 * begin and publish); NULL where the segment has no such region or its
 * record stride is not this library's. */
void bs_writer_ext(bs_writer *w, struct bs_module_ext **module_ext,
                   struct bs_cell_ext **cell_ext);

/* Finish the slot begun last: stores tick and times, makes the sequence
 * even, publishes it as latest and beats the heartbeat. */
int bs_writer_publish(bs_writer *w, uint64_t tick, double sim_time_s);

/* Refresh heartbeat_ns without publishing. */
void bs_writer_heartbeat(bs_writer *w);

/* The mapped slot area (for cudaHostRegister): base and length. */
void bs_writer_slots(bs_writer *w, void **base, size_t *len);

/* The mapped header (read only for the caller). */
const struct bs_shm_header *bs_writer_header(const bs_writer *w);

/* Mark STOPPED, unlock and unmap; NULL is fine. */
void bs_writer_close(bs_writer *w);

/* Copy n bytes (a multiple of 4, 4-aligned) into / out of the segment with
 * relaxed atomic word accesses: the documented way to touch slot data
 * concurrently with the other side of the seqlock. */
void bs_copy_to_shm(void *dst, const void *src, size_t n);
void bs_copy_from_shm(void *dst, const void *src, size_t n);

/* ---- control client (batsimd's control socket, JSON lines) ---- */

typedef struct bs_control bs_control;

#define BS_DEFAULT_CONTROL_SOCKET "/run/batsim/batsimd.sock"

/* Connect to batsimd's control socket (path NULL = default).  timeout_ms
 * bounds every later request (0 = 5000), and the connect itself while
 * the daemon's listen backlog is full.  0 or -BS_ENOENT, -BS_EACCES,
 * -BS_ECONNREFUSED, -BS_ETIMEDOUT, -BS_ENOMEM, -BS_ESYS. */
int bs_control_open(const char *path, int timeout_ms, bs_control **out);

/* Send one request (a JSON object, without newline) and wait for its one
 * reply line; *reply is a malloc'd NUL-terminated string (no newline) the
 * caller frees.  A daemon that closed the connection before taking the
 * request (all its connections busy) still gives the line it sent first
 * as the reply.  0 or -BS_ETIMEDOUT, -BS_EPROTO, -BS_ESYS, -BS_EINVAL. */
int bs_control_request(bs_control *c, const char *request, char **reply);

/* Close; NULL is fine. */
void bs_control_close(bs_control *c);

#ifdef __cplusplus
}
#endif
#endif /* BATSIM_BATSIM_H */
