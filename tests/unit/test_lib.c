/*
 * test_lib.c - unit tests of libbatsim: ABI layout, topology parsing,
 * header validation against hostile segments, publish/read round trips,
 * bounded retries, staleness, segment management.  Check, TAP output.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"

/* ---- helpers ---- */

static pid_t main_pid; /* the runner's pid: names are unique per run */

/* Every segment name a test may create, removed after each test by an
 * unchecked teardown (which runs in the runner, even when a test fails). */
static const char *const tags[] = {"rt",   "create", "force", "mode",
				   "name", "busy",   "stale", "retry",
				   "bad",  "gen",    "dead", "ident",
				   "rewr", "trunc",  "fault", "site"};

static const char *seg_name(const char *tag)
{
	static char buf[8][96];
	static unsigned k;
	char *b = buf[k++ % 8];
	snprintf(b, sizeof(buf[0]), "/bs-test-lib-%d-%s", (int)main_pid, tag);
	return b;
}

static void remove_all(void)
{
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		shm_unlink(seg_name(tags[i]));
}

static const struct bs_topology topo_small = {2, 3, 4};

/* Map a segment read-write behind the library's back (to corrupt it). */
static void *map_rw(const char *name, size_t *size)
{
	int fd = shm_open(name, O_RDWR, 0);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

/* Write a raw object of `size` bytes whose first bytes are `hdr`. */
static void make_raw(const char *name, const void *hdr, size_t hdr_len,
		     size_t size)
{
	shm_unlink(name);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	size_t n = hdr_len < size ? hdr_len : size;
	if (n)
		ck_assert_int_eq(pwrite(fd, hdr, n, 0), (ssize_t)n);
	close(fd);
}

/* A valid header for topo_small with 3 slots. */
static struct bs_shm_header *good_header(void)
{
	struct bs_shm_header *h = malloc(sizeof(*h));
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(bs_header_init(h, &topo_small, 3), 0);
	return h;
}

/* Expected value of cell k at tick t (round trips). */
static struct bs_cell cell_at(uint64_t k, uint64_t t)
{
	struct bs_cell c = {
	    .voltage = 3.0f + (float)k * 0.01f + (float)t,
	    .current = (float)t,
	    .temperature = 20.0f + (float)k,
	    .soc = 0.5f,
	    .resistance = (float)(k + 1) * 1e-4f,
	};
	return c;
}

/* Publish one snapshot of topo_small in which every record carries t. */
static void publish_tick(bs_writer *w, uint64_t t)
{
	struct bs_slot_view v;
	ck_assert_int_eq(bs_writer_begin(w, &v), 0);
	struct bs_site site;
	memset(&site, 0, sizeof(site));
	site.energy_out_wh = (double)t;
	site.bus_voltage_v = 800.0f + (float)t;
	site.racks_closed = topo_small.racks;
	bs_copy_to_shm(v.site, &site, sizeof(site));
	for (uint32_t r = 0; r < topo_small.racks; r++) {
		struct bs_rack rk;
		memset(&rk, 0, sizeof(rk));
		rk.voltage_v = (float)(r * 1000 + t);
		rk.v_min_cell = r;
		bs_copy_to_shm(&v.racks[r], &rk, sizeof(rk));
	}
	uint32_t nm = topo_small.racks * topo_small.modules_per_rack;
	for (uint32_t m = 0; m < nm; m++) {
		struct bs_module md;
		memset(&md, 0, sizeof(md));
		md.voltage_v = (float)(m * 100 + t);
		md.alarm_bits = m;
		bs_copy_to_shm(&v.modules[m], &md, sizeof(md));
	}
	for (uint32_t k = 0; k < nm * topo_small.cells_per_module; k++) {
		struct bs_cell c = cell_at(k, t);
		bs_copy_to_shm(&v.cells[k], &c, sizeof(c));
	}
	/* abi_minor 2 extension records */
	struct bs_module_ext *mx;
	struct bs_cell_ext *cx;
	bs_writer_ext(w, &mx, &cx);
	ck_assert_ptr_nonnull(mx);
	ck_assert_ptr_nonnull(cx);
	for (uint32_t m = 0; m < nm; m++) {
		struct bs_module_ext x = {.soh_min = 0.5f,
					  .soh_mean = (float)m + (float)t,
					  .soh_min_cell = m % 4,
					  .efc_mean = (float)t};
		bs_copy_to_shm(&mx[m], &x, sizeof(x));
	}
	for (uint32_t k = 0; k < nm * topo_small.cells_per_module; k++) {
		struct bs_cell_ext x = {.soh = (float)k + (float)t,
					.hysteresis = -1.0f};
		bs_copy_to_shm(&cx[k], &x, sizeof(x));
	}
	ck_assert_int_eq(bs_writer_publish(w, t, (double)t * 0.2), 0);
}

static void assert_cell(const struct bs_cell *c, uint64_t k, uint64_t t)
{
	struct bs_cell e = cell_at(k, t);
	ck_assert_mem_eq(c, &e, sizeof(e));
}

static bs_writer *open_writer(const char *name)
{
	struct bs_writer_params p = {
	    .backend = BS_BACKEND_TEST,
	    .tick_period_ns = 200000000,
	    .dt_ns = 100000000,
	    .chemistry = "lfp280",
	};
	bs_writer *w = NULL;
	ck_assert_int_eq(bs_writer_open(name, &topo_small, &p, &w), 0);
	return w;
}

static void create_small(const char *name)
{
	ck_assert_int_eq(
	    bs_segment_create(name, &topo_small, 3, 0600, (gid_t)-1, 0), 0);
}

/* ---- ABI layout ---- */

START_TEST(test_abi_layout)
{
	ck_assert_uint_eq(sizeof(struct bs_cell), 20);
	ck_assert_uint_eq(sizeof(struct bs_module), 64);
	ck_assert_uint_eq(sizeof(struct bs_rack), 256);
	ck_assert_uint_eq(sizeof(struct bs_site), 256);
	ck_assert_uint_eq(sizeof(struct bs_slot_header), 128);
	ck_assert_uint_eq(sizeof(struct bs_shm_header), 4096);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, abi_major), 8);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, total_size), 16);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, n_slots), 36);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, slot_size), 40);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, n_cells), 56);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, site_offset), 88);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, cell_offset), 112);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, writer_start_ns), 136);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, chemistry), 160);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, state), 256);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, latest), 384);
	ck_assert_uint_eq(offsetof(struct bs_slot_header, sim_time_s), 72);
	ck_assert_uint_eq(offsetof(struct bs_slot_header, wall_time_ns), 80);
	ck_assert_uint_eq(offsetof(struct bs_site, energy_in_wh), 8);
	ck_assert_uint_eq(offsetof(struct bs_site, alarm_count), 72);
	ck_assert_uint_eq(offsetof(struct bs_rack, fault_bits), 76);
	ck_assert_uint_eq(offsetof(struct bs_rack, soh_min), 176);
	ck_assert_uint_eq(offsetof(struct bs_rack, charge_state), 204);
	ck_assert_uint_eq(offsetof(struct bs_site, soh_min), 112);
	ck_assert_uint_eq(offsetof(struct bs_site, efc_mean), 128);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, module_ext_size), 512);
	ck_assert_uint_eq(offsetof(struct bs_shm_header, cell_ext_offset), 528);
	ck_assert_uint_eq(sizeof(struct bs_cell_ext), 8);
	ck_assert_uint_eq(sizeof(struct bs_module_ext), 16);

	/* The default topology's layout, computed by hand. */
	struct bs_topology t = {20, 10, 32};
	struct bs_shm_header h;
	ck_assert_int_eq(bs_header_init(&h, &t, 3), 0);
	ck_assert_mem_eq(h.magic, "BATSIMv1", 8);
	ck_assert_uint_eq(h.abi_major, BS_ABI_MAJOR);
	ck_assert_uint_eq(h.abi_minor, BS_ABI_MINOR);
	ck_assert_uint_eq(h.header_size, 4096);
	ck_assert_uint_eq(h.n_cells, 6400);
	ck_assert_uint_eq(h.site_offset, 128);
	ck_assert_uint_eq(h.rack_offset, 384);
	ck_assert_uint_eq(h.module_offset, 384 + 20 * 256);
	ck_assert_uint_eq(h.cell_offset, 384 + 20 * 256 + 200 * 64);
	/* abi_minor 2: the module and cell extension regions follow */
	ck_assert_uint_eq(h.module_ext_offset, 146304);
	ck_assert_uint_eq(h.cell_ext_offset, 146304 + 200 * 16);
	ck_assert_uint_eq(h.module_ext_size, 16);
	ck_assert_uint_eq(h.cell_ext_size, 8);
	ck_assert_uint_eq(h.slot_size, 200704); /* 149504 + 6400 * 8 */
	ck_assert_uint_eq(h.slots_offset, 4096);
	ck_assert_uint_eq(h.total_size, 4096 + 3 * 200704);
	ck_assert_uint_eq(h.state, BS_STATE_INIT);
	ck_assert_uint_eq(bs_segment_size(&t, 3), h.total_size);
	ck_assert_int_eq(bs_header_validate(&h, sizeof(h)), -BS_ETRUNC);

	/* Odd sizes: every region on a cache line, slots on a page. */
	struct bs_topology odd = {3, 5, 7};
	ck_assert_int_eq(bs_header_init(&h, &odd, 2), 0);
	ck_assert_uint_eq(h.module_offset % 64, 0);
	ck_assert_uint_eq(h.cell_offset % 64, 0);
	ck_assert_uint_eq(h.slot_size % 4096, 0);
	ck_assert_uint_ge(h.slot_size, h.cell_offset + 105 * 20);
	ck_assert_uint_eq(h.module_offset, 384 + 3 * 256);
	ck_assert_uint_eq(h.cell_offset, 1152 + 15 * 64);

	/* The largest supported segment still has a size. */
	struct bs_topology big = {4096, 1, 1024};
	ck_assert_uint_gt(bs_segment_size(&big, BS_MAX_SLOTS), 0);
}
END_TEST

/* ---- topology ---- */

START_TEST(test_topology_good)
{
	struct bs_topology t;
	ck_assert_int_eq(bs_topology_parse("20x10x32", &t), 0);
	ck_assert_uint_eq(t.racks, 20);
	ck_assert_uint_eq(t.modules_per_rack, 10);
	ck_assert_uint_eq(t.cells_per_module, 32);
	ck_assert_int_eq(bs_topology_parse("1x1x1", &t), 0);
	ck_assert_int_eq(bs_topology_parse("2X3X4", &t), 0);
	ck_assert_uint_eq(t.cells_per_module, 4);
	ck_assert_int_eq(bs_topology_parse("007x1x1", &t), 0);
	ck_assert_uint_eq(t.racks, 7);
	/* exactly the limits */
	ck_assert_int_eq(bs_topology_parse("4096x1x1024", &t), 0);
	ck_assert_int_eq(bs_topology_parse("4x1024x1024", &t), 0);
	ck_assert_int_eq(bs_topology_check(&t), 0);
}
END_TEST

START_TEST(test_topology_bad)
{
	struct bs_topology t = {9, 9, 9};
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
	    {"", -BS_EINVAL},
	    {"0x10x32", -BS_EINVAL},
	    {"20x0x32", -BS_EINVAL},
	    {"20x10x0", -BS_EINVAL},
	    {"axbxc", -BS_EINVAL},
	    {"20x10", -BS_EINVAL},
	    {"20x10x32x1", -BS_EINVAL},
	    {"20x10x32 ", -BS_EINVAL},
	    {" 20x10x32", -BS_EINVAL},
	    {"-1x10x32", -BS_EINVAL},
	    {"+1x10x32", -BS_EINVAL},
	    {"20*10*32", -BS_EINVAL},
	    {"20xx32", -BS_EINVAL},
	    {"1.5x1x1", -BS_EINVAL},
	    {"4097x1x1", -BS_ERANGE},
	    {"1x1025x1", -BS_ERANGE},
	    {"1x1x1025", -BS_ERANGE},
	    {"4096x1024x1024", -BS_ERANGE}, /* product over BS_MAX_CELLS */
	    {"5x1024x1024", -BS_ERANGE},
	    {"4294967296x1x1", -BS_ERANGE}, /* over 32 bits */
	    {"18446744073709551617x1x1", -BS_ERANGE},
	    {"99999999999999999999999999x1x1", -BS_ERANGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = bs_topology_parse(cases[i].text, &t);
		ck_assert_msg(rc == cases[i].rc, "'%s': got %d, want %d",
			      cases[i].text, rc, cases[i].rc);
	}
	/* out is untouched on failure */
	ck_assert_uint_eq(t.racks, 9);
	ck_assert_int_eq(bs_topology_parse(NULL, &t), -BS_EINVAL);
	ck_assert_int_eq(bs_topology_parse("1x1x1", NULL), -BS_EINVAL);
	ck_assert_int_eq(bs_topology_check(NULL), -BS_EINVAL);
	struct bs_topology z = {0, 1, 1};
	ck_assert_int_eq(bs_topology_check(&z), -BS_EINVAL);
	struct bs_topology o = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
	ck_assert_int_eq(bs_topology_check(&o), -BS_ERANGE);
	ck_assert_uint_eq(bs_segment_size(&o, 3), 0);
	ck_assert_uint_eq(bs_segment_size(&topo_small, 0), 0);
	ck_assert_uint_eq(bs_segment_size(&topo_small, BS_MAX_SLOTS + 1), 0);
	struct bs_shm_header h;
	ck_assert_int_eq(bs_header_init(&h, &topo_small, 0), -BS_EINVAL);
	ck_assert_int_eq(bs_header_init(&h, &topo_small, 17), -BS_ERANGE);
	ck_assert_int_eq(bs_header_init(&h, &o, 3), -BS_ERANGE);
}
END_TEST

/* ---- header validation (in memory) ---- */

/* Validate a corrupted copy of a good header mapped at its full size. */
static int validate_mod(void (*mod)(struct bs_shm_header *), size_t size_adj)
{
	struct bs_shm_header *h0 = good_header();
	size_t size = (size_t)h0->total_size;
	unsigned char *buf = calloc(1, size);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, h0, sizeof(*h0));
	if (mod)
		mod((struct bs_shm_header *)buf);
	int rc =
	    bs_header_validate((struct bs_shm_header *)buf, size - size_adj);
	free(buf);
	free(h0);
	return rc;
}

static void m_magic(struct bs_shm_header *h)
{
	h->magic[7] = '2';
}
static void m_abi(struct bs_shm_header *h)
{
	h->abi_major++;
}
static void m_minor(struct bs_shm_header *h)
{
	h->abi_minor += 5;
}
static void m_hsize(struct bs_shm_header *h)
{
	h->header_size = 100;
}
static void m_cells(struct bs_shm_header *h)
{
	h->n_cells++;
}
static void m_racks0(struct bs_shm_header *h)
{
	h->n_racks = 0;
}
static void m_racks_big(struct bs_shm_header *h)
{
	h->n_racks = 1u << 31;
}
static void m_cellsz(struct bs_shm_header *h)
{
	h->cell_size = 24;
}
static void m_slots0(struct bs_shm_header *h)
{
	h->n_slots = 0;
}
static void m_slots_big(struct bs_shm_header *h)
{
	h->n_slots = 1000000;
}
static void m_slot_small(struct bs_shm_header *h)
{
	h->slot_size = 128;
}
static void m_slot_odd(struct bs_shm_header *h)
{
	h->slot_size += 4;
}
static void m_cell_end(struct bs_shm_header *h)
{
	h->cell_offset = h->slot_size; /* beyond the slot */
}
static void m_cell_wrap(struct bs_shm_header *h)
{
	h->cell_offset = UINT64_MAX - 8; /* off + len overflows */
}
static void m_overlap(struct bs_shm_header *h)
{
	h->rack_offset = h->site_offset + 64;
}
static void m_in_slothdr(struct bs_shm_header *h)
{
	h->site_offset = 0;
}
static void m_unaligned(struct bs_shm_header *h)
{
	h->module_offset += 4;
}
static void m_overflow(struct bs_shm_header *h)
{
	/* n_slots * slot_size overflows 64 bits */
	h->slot_size = 1ull << 62;
	h->n_slots = 16;
}
static void m_total(struct bs_shm_header *h)
{
	h->total_size += 4096;
}
static void m_slots_off(struct bs_shm_header *h)
{
	h->slots_offset = 64;
}
static void m_latest(struct bs_shm_header *h)
{
	h->latest = h->n_slots;
}
/* abi_minor 2 extension regions */
static void m_ext_absent(struct bs_shm_header *h)
{
	/* an abi_minor 1 segment: no extension regions (valid) */
	h->module_ext_offset = h->cell_ext_offset = 0;
	h->module_ext_size = h->cell_ext_size = 0;
}
static void m_ext_half(struct bs_shm_header *h)
{
	h->cell_ext_offset = 0; /* one region without the other */
}
static void m_ext_stride0(struct bs_shm_header *h)
{
	h->cell_ext_size = 0;
}
static void m_ext_stride_odd(struct bs_shm_header *h)
{
	h->module_ext_size = 18;
}
static void m_ext_stride_big(struct bs_shm_header *h)
{
	h->cell_ext_size = BS_EXT_SIZE_MAX + 4;
}
static void m_ext_past_slot(struct bs_shm_header *h)
{
	h->cell_ext_size = 4096; /* n_cells * 4096 leaves the slot */
}
static void m_ext_overlap(struct bs_shm_header *h)
{
	h->module_ext_offset = h->cell_offset; /* on the cells */
}
static void m_ext_unaligned(struct bs_shm_header *h)
{
	h->cell_ext_offset += 4;
}

START_TEST(test_validate_memory)
{
	ck_assert_int_eq(validate_mod(NULL, 0), 0);
	ck_assert_int_eq(validate_mod(m_minor, 0), 0); /* minor: accepted */
	ck_assert_int_eq(validate_mod(m_magic, 0), -BS_EMAGIC);
	ck_assert_int_eq(validate_mod(m_abi, 0), -BS_EABI);
	ck_assert_int_eq(validate_mod(NULL, 1), -BS_ETRUNC);
	ck_assert_int_eq(validate_mod(m_hsize, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_cells, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_racks0, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_racks_big, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_cellsz, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_slots0, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_slots_big, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_slot_small, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_slot_odd, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_cell_end, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_cell_wrap, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_overlap, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_in_slothdr, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_unaligned, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_overflow, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_total, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_slots_off, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_latest, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_absent, 0), 0);
	ck_assert_int_eq(validate_mod(m_ext_half, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_stride0, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_stride_odd, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_stride_big, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_past_slot, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_overlap, 0), -BS_ELAYOUT);
	ck_assert_int_eq(validate_mod(m_ext_unaligned, 0), -BS_ELAYOUT);

	/* Short maps: only what fits is read. */
	struct bs_shm_header *h = good_header();
	ck_assert_int_eq(bs_header_validate(h, 0), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate(h, 7), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate(h, 10), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate(h, 100), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate(h, 4095), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate(NULL, 4096), -BS_EINVAL);
	free(h);

	/* Bytes past map_size are never read: a 16-byte buffer with a bad
	 * magic, placed at the very end of a page followed by a guard page,
	 * must not fault.  It starts 8-byte aligned, as every header the
	 * API accepts does (a misaligned struct pointer is undefined
	 * behaviour, which UBSan reports). */
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *two = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(two, MAP_FAILED);
	ck_assert_int_eq(mprotect(two + pg, (size_t)pg, PROT_NONE), 0);
	unsigned char *tail = two + pg - 16;
	ck_assert_uint_eq((uintptr_t)tail % 8, 0);
	memcpy(tail, "BATSIMv1", 8);
	memset(tail + 8, 0xff, 8); /* abi_major 0xffff */
	ck_assert_int_eq(bs_header_validate((void *)tail, 12), -BS_EABI);
	ck_assert_int_eq(bs_header_validate((void *)tail, 16), -BS_EABI);
	tail[8] = BS_ABI_MAJOR;
	tail[9] = 0;
	ck_assert_int_eq(bs_header_validate((void *)tail, 12), -BS_ETRUNC);
	ck_assert_int_eq(bs_header_validate((void *)tail, 16), -BS_ETRUNC);
	memcpy(two + pg - 8, "BATSIMv1", 8);
	ck_assert_int_eq(bs_header_validate((void *)(two + pg - 8), 8),
			 -BS_ETRUNC);
	munmap(two, 2 * (size_t)pg);
}
END_TEST

/* ---- hostile segments (through bs_reader_open) ---- */

START_TEST(test_validate_segments)
{
	const char *n = seg_name("bad");
	struct bs_shm_header *h = good_header();
	size_t total = (size_t)h->total_size;
	bs_reader *r = NULL;

	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ENOENT);
	ck_assert_ptr_null(r);

	make_raw(n, h, sizeof(*h), total);
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(bs_reader_header(r));
	/* INIT segment: nothing published, no writer */
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_ENODATA);
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTOPPED);
	bs_reader_close(r);

	make_raw(n, h, sizeof(*h), 0);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ETRUNC);
	make_raw(n, h, sizeof(*h), 100);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ETRUNC);
	make_raw(n, "not-batsim-at-all", 17, 100);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_EMAGIC);
	make_raw(n, h, sizeof(*h), total - 4096); /* truncated */
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ETRUNC);
	make_raw(n, h, sizeof(*h), total + 8192); /* bigger is fine */
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	bs_reader_close(r);

	struct bs_shm_header bad = *h;
	bad.magic[0] = 'X';
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_EMAGIC);
	bad = *h;
	bad.abi_major = BS_ABI_MAJOR + 1;
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_EABI);
	bad = *h;
	bad.cell_offset = h->total_size * 4; /* beyond the end */
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ELAYOUT);
	bad = *h;
	bad.slot_size = 1024; /* too small for the regions (1760 bytes) */
	bad.total_size = 4096 + 3 * 1024;
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ELAYOUT);
	bad = *h;
	bad.n_slots = 0;
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ELAYOUT);
	bad = *h;
	bad.n_slots = 0xffffffffu;
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ELAYOUT);
	bad = *h;
	bad.n_racks = 65536;
	bad.modules_per_rack = 65536;
	bad.n_cells = (uint64_t)65536 * 65536 * bad.cells_per_module;
	make_raw(n, &bad, sizeof(bad), total);
	ck_assert_int_eq(bs_reader_open(n, &r), -BS_ELAYOUT);

	/* The writer refuses hostile segments the same way. */
	bs_writer *w = NULL;
	ck_assert_int_eq(bs_writer_open(n, &topo_small, NULL, &w), -BS_ELAYOUT);
	ck_assert_ptr_null(w);

	/* Bad names */
	ck_assert_int_eq(bs_reader_open("no-slash", &r), -BS_EINVAL);
	ck_assert_int_eq(bs_reader_open("/a/b", &r), -BS_EINVAL);
	ck_assert_int_eq(bs_reader_open("/", &r), -BS_EINVAL);
	ck_assert_int_eq(bs_reader_open(n, NULL), -BS_EINVAL);
	free(h);
}
END_TEST

/* ---- round trip ---- */

START_TEST(test_round_trip)
{
	const char *n = seg_name("rt");
	create_small(n);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTOPPED); /* INIT */

	bs_writer *w = open_writer(n);
	ck_assert_int_eq(bs_reader_live(r), 0);
	/* RUNNING but nothing published yet */
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_ENODATA);

	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_int_eq(info.writer_pid, getpid());
	ck_assert_uint_eq(info.backend, BS_BACKEND_TEST);
	ck_assert_str_eq(info.chemistry, "lfp280");
	ck_assert_uint_eq(info.tick_period_ns, 200000000);
	ck_assert_uint_eq(info.dt_ns, 100000000);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_uint_eq(info.state, BS_STATE_RUNNING);
	ck_assert_uint_eq(info.topo.racks, 2);
	ck_assert_uint_eq(info.topo.modules_per_rack, 3);
	ck_assert_uint_eq(info.topo.cells_per_module, 4);
	ck_assert_uint_eq(info.n_cells, 24);
	ck_assert_uint_eq(info.n_slots, 3);
	ck_assert_int_ge(info.heartbeat_age_ns, 0);
	ck_assert_int_lt(info.heartbeat_age_ns, 60000000000ll);
	ck_assert_int_gt(info.writer_start_ns, 0);

	struct bs_meta meta;
	struct bs_site site;
	struct bs_rack racks[2];
	struct bs_module mods[6];
	struct bs_cell cells[24];
	uint32_t prev_slot = 99;
	for (uint64_t t = 1; t <= 5; t++) {
		publish_tick(w, t);
		memset(&meta, 0xee, sizeof(meta));
		ck_assert_int_eq(bs_read_site(r, &meta, &site, racks), 0);
		ck_assert_uint_eq(meta.tick, t);
		ck_assert_double_eq(meta.sim_time_s, (double)t * 0.2);
		ck_assert_uint_eq(meta.generation, 1);
		ck_assert_uint_lt(meta.slot, 3);
		ck_assert_uint_ne(meta.slot, prev_slot);
		ck_assert_uint_eq(meta.retries, 0);
		ck_assert_int_gt(meta.wall_time_ns, 0);
		prev_slot = meta.slot;
		ck_assert_float_eq(site.bus_voltage_v, 800.0f + (float)t);
		ck_assert_double_eq(site.energy_out_wh, (double)t);
		ck_assert_uint_eq(site.racks_closed, 2);
		ck_assert_float_eq(racks[1].voltage_v, (float)(1000 + t));
		ck_assert_uint_eq(racks[1].v_min_cell, 1);
	}
	/* Rack 1: its record, modules 3..5, cells 12..23 */
	ck_assert_int_eq(bs_read_rack(r, 1, &meta, racks, mods, cells), 0);
	ck_assert_uint_eq(meta.tick, 5);
	ck_assert_float_eq(racks[0].voltage_v, 1005.0f);
	for (uint32_t m = 0; m < 3; m++)
		ck_assert_uint_eq(mods[m].alarm_bits, 3 + m);
	for (uint32_t k = 0; k < 12; k++)
		assert_cell(&cells[k], 12 + k, 5);
	/* Module (1, 2): module 5, cells 20..23 */
	ck_assert_int_eq(bs_read_module(r, 1, 2, &meta, mods, cells), 0);
	ck_assert_float_eq(mods[0].voltage_v, 505.0f);
	for (uint32_t k = 0; k < 4; k++)
		assert_cell(&cells[k], 20 + k, 5);
	/* abi_minor 2: rack 1 and module (1, 2) with their extension
	 * records, from the same snapshot */
	{
		struct bs_module_ext mx[3];
		struct bs_cell_ext cx[12];
		ck_assert_int_eq(bs_reader_has_ext(r), 1);
		ck_assert_int_eq(bs_read_rack_ext(r, 1, &meta, racks, mods,
						  cells, mx, cx),
				 0);
		ck_assert_uint_eq(meta.tick, 5);
		for (uint32_t m = 0; m < 3; m++) {
			ck_assert_float_eq(mx[m].soh_mean, (float)(3 + m) + 5.0f);
			ck_assert_uint_eq(mx[m].soh_min_cell, (3 + m) % 4);
		}
		for (uint32_t k = 0; k < 12; k++) {
			ck_assert_float_eq(cx[k].soh, (float)(12 + k) + 5.0f);
			ck_assert_float_eq(cx[k].hysteresis, -1.0f);
		}
		ck_assert_int_eq(bs_read_module_ext(r, 1, 2, &meta, NULL, NULL,
						    mx, cx),
				 0);
		ck_assert_float_eq(mx[0].soh_mean, 5.0f + 5.0f);
		ck_assert_float_eq(cx[3].soh, 23.0f + 5.0f);
		ck_assert_int_eq(bs_read_rack_ext(r, 2, NULL, NULL, NULL, NULL,
						  mx, cx),
				 -BS_ERANGE);
	}
	/* Cell (0, 1, 3) = flat 7 */
	ck_assert_int_eq(bs_read_cell(r, 0, 1, 3, &meta, cells), 0);
	assert_cell(&cells[0], 7, 5);
	/* Everything */
	memset(cells, 0, sizeof(cells));
	ck_assert_int_eq(bs_read_all(r, &meta, &site, racks, mods, cells), 0);
	for (uint32_t k = 0; k < 24; k++)
		assert_cell(&cells[k], k, 5);
	for (uint32_t m = 0; m < 6; m++)
		ck_assert_uint_eq(mods[m].alarm_bits, m);
	ck_assert_float_eq(racks[0].voltage_v, 5.0f);
	/* NULL outputs are skipped */
	ck_assert_int_eq(bs_read_all(r, NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(bs_read_rack(r, 0, NULL, NULL, NULL, cells), 0);
	assert_cell(&cells[11], 11, 5);

	/* Index checks */
	ck_assert_int_eq(bs_read_rack(r, 2, NULL, NULL, NULL, NULL),
			 -BS_ERANGE);
	ck_assert_int_eq(bs_read_module(r, 0, 3, NULL, NULL, NULL), -BS_ERANGE);
	ck_assert_int_eq(bs_read_module(r, 2, 0, NULL, NULL, NULL), -BS_ERANGE);
	ck_assert_int_eq(bs_read_cell(r, 0, 0, 4, NULL, cells), -BS_ERANGE);
	ck_assert_int_eq(bs_read_cell(r, UINT32_MAX, 0, 0, NULL, cells),
			 -BS_ERANGE);

	/* begin twice without publish hands out the same slot */
	struct bs_slot_view v1, v2;
	ck_assert_int_eq(bs_writer_begin(w, &v1), 0);
	ck_assert_int_eq(bs_writer_begin(w, &v2), 0);
	ck_assert_uint_eq(v1.slot, v2.slot);
	ck_assert_ptr_eq(v1.cells, v2.cells);
	/* while a slot is being written readers still get the latest */
	ck_assert_int_eq(bs_read_cell(r, 0, 0, 0, &meta, cells), 0);
	ck_assert_uint_eq(meta.tick, 5);
	ck_assert_int_eq(bs_writer_publish(w, 6, 1.2), 0);
	ck_assert_int_eq(bs_writer_publish(w, 7, 1.4), -BS_EINVAL);

	void *base;
	size_t len;
	bs_writer_slots(w, &base, &len);
	ck_assert_uint_eq(len, 3 * bs_writer_header(w)->slot_size);
	ck_assert_ptr_eq(base, (const char *)bs_writer_header(w) + 4096);

	bs_writer_close(w);
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTOPPED);
	/* the last data stays readable after a clean stop */
	ck_assert_int_eq(bs_read_site(r, &meta, NULL, NULL), 0);
	ck_assert_uint_eq(meta.tick, 6);
	bs_reader_close(r);
	bs_reader_close(NULL);
	bs_writer_close(NULL);
}
END_TEST

/* A new writer generation hides the previous writer's slots. */
START_TEST(test_generation)
{
	const char *n = seg_name("gen");
	create_small(n);
	bs_writer *w = open_writer(n);
	publish_tick(w, 10);
	bs_writer_close(w);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), 0);
	w = open_writer(n);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.generation, 2);
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_ENODATA);
	publish_tick(w, 1);
	struct bs_meta meta;
	ck_assert_int_eq(bs_read_site(r, &meta, NULL, NULL), 0);
	ck_assert_uint_eq(meta.tick, 1);
	ck_assert_uint_eq(meta.generation, 2);
	bs_writer_close(w);
	bs_reader_close(r);
}
END_TEST

/* The site name (header line 7): published by bs_writer_open_site,
 * replaced by the next writer (none from bs_writer_open), cut to 31
 * bytes, and read back as printable ASCII whatever the owner wrote. */
START_TEST(test_site_name)
{
	const char *n = seg_name("site");
	struct bs_writer_params p = {.backend = BS_BACKEND_TEST};
	char buf[32], small[4];
	bs_writer *w;
	bs_reader *r;

	create_small(n);
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_reader_site_name(r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(bs_reader_site_name(r, NULL, 8), -BS_EINVAL);
	ck_assert_int_eq(bs_writer_open_site(n, &topo_small, &p, "siteA", &w),
			 0);
	ck_assert_int_eq(bs_reader_site_name(r, buf, sizeof buf), 5);
	ck_assert_str_eq(buf, "siteA");
	ck_assert_int_eq(bs_reader_site_name(r, small, sizeof small), 3);
	ck_assert_str_eq(small, "sit");
	ck_assert_str_eq(bs_writer_header(w)->site_name, "siteA");
	bs_writer_close(w);
	/* a writer without a name clears the previous one */
	w = open_writer(n);
	ck_assert_int_eq(bs_reader_site_name(r, buf, sizeof buf), 0);
	bs_writer_close(w);
	ck_assert_int_eq(
	    bs_writer_open_site(n, &topo_small, &p,
				"0123456789012345678901234567890123456789", &w),
	    0);
	ck_assert_int_eq(bs_reader_site_name(r, buf, sizeof buf), 31);
	ck_assert_str_eq(buf, "0123456789012345678901234567890");
	bs_writer_close(w);
	/* the owner writes anything there: the reader shows no control
	 * bytes, and stops at the field's end without a NUL */
	size_t sz;
	struct bs_shm_header *h = map_rw(n, &sz);
	memset(h->site_name, 'x', sizeof h->site_name);
	h->site_name[1] = '\033';
	h->site_name[2] = (char)0xc3;
	ck_assert_int_eq(bs_reader_site_name(r, buf, sizeof buf), 31);
	ck_assert_int_eq(buf[1], '?');
	ck_assert_int_eq(buf[2], '?');
	ck_assert_int_eq(buf[31], '\0');
	munmap(h, sz);
	bs_reader_close(r);
}
END_TEST

/* A writer's identity is read whole: writers restart with alternating
 * identities in another process while this one reads bs_reader_info;
 * every RUNNING identity must be one writer's, never a mix.  (The race
 * window is a few dozen nanoseconds against a restart's system calls,
 * so this is a smoke test of the invariant, not a proof of the fences:
 * those are argued in the comments of writer.c and reader.c.) */
START_TEST(test_identity_whole)
{
	const char *n = seg_name("ident");
	create_small(n);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		for (int k = 0; k < 400; k++) {
			struct bs_writer_params p = {
			    .backend = (k & 1) ? BS_BACKEND_CPU : BS_BACKEND_TEST,
			    .tick_period_ns = (k & 1) ? 111111111 : 333333333,
			    .dt_ns = (k & 1) ? 1111111 : 3333333,
			    .chemistry = (k & 1) ? "one" : "three",
			};
			bs_writer *w = NULL;
			if (bs_writer_open(n, &topo_small, &p, &w) != 0)
				_exit(2);
			bs_writer_close(w);
		}
		_exit(0);
	}
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	unsigned long running = 0, mixed = 0;
	int status;
	while (waitpid(child, &status, WNOHANG) == 0) {
		struct bs_info info;
		bs_reader_info(r, &info);
		if (info.state != BS_STATE_RUNNING)
			continue;
		running++;
		int one = info.backend == BS_BACKEND_CPU &&
			  info.tick_period_ns == 111111111 &&
			  info.dt_ns == 1111111 &&
			  !strcmp(info.chemistry, "one");
		int three = info.backend == BS_BACKEND_TEST &&
			    info.tick_period_ns == 333333333 &&
			    info.dt_ns == 3333333 &&
			    !strcmp(info.chemistry, "three");
		if (!one && !three)
			mixed++;
	}
	bs_reader_close(r);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "writer child failed");
	ck_assert_msg(mixed == 0, "%lu of %lu RUNNING identities were mixed",
		      mixed, running);
}
END_TEST

/* ---- bounded retry ---- */

START_TEST(test_bounded_retry)
{
	const char *n = seg_name("retry");
	create_small(n);
	bs_writer *w = open_writer(n);
	publish_tick(w, 1);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);

	size_t size;
	unsigned char *map = map_rw(n, &size);
	struct bs_shm_header *h = (void *)map;
	struct bs_slot_header *sh =
	    (void *)(map + h->slots_offset + h->latest * h->slot_size);
	uint64_t seq = sh->seq;
	ck_assert_uint_eq(seq % 2, 0);
	sh->seq = seq + 1; /* a writer "died" in the latest slot */
	bs_reader_set_retries(r, 5);
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_EAGAIN);
	bs_reader_set_retries(r, 0);
	ck_assert_int_eq(bs_read_cell(r, 0, 0, 0, NULL, NULL), -BS_EAGAIN);
	sh->seq = seq;
	struct bs_meta meta;
	ck_assert_int_eq(bs_read_site(r, &meta, NULL, NULL), 0);
	ck_assert_uint_eq(meta.tick, 1);

	/* A slot left odd by a dead writer: the next begin keeps it odd
	 * (readers must not accept it half written), publish makes it
	 * even again. */
	uint32_t next = (h->latest + 1) % h->n_slots;
	struct bs_slot_header *sn =
	    (void *)(map + h->slots_offset + next * h->slot_size);
	sn->seq = 7;
	struct bs_slot_view v;
	ck_assert_int_eq(bs_writer_begin(w, &v), 0);
	ck_assert_uint_eq(v.slot, next);
	ck_assert_uint_eq(sn->seq % 2, 1);
	ck_assert_int_eq(bs_writer_publish(w, 2, 0.4), 0);
	ck_assert_uint_eq(sn->seq % 2, 0);
	ck_assert_uint_gt(sn->seq, 7);
	ck_assert_int_eq(bs_read_site(r, &meta, NULL, NULL), 0);
	ck_assert_uint_eq(meta.tick, 2);

	/* latest corrupted out of range: reported, not followed */
	h->latest = 1000;
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_ELAYOUT);
	h->latest = next;

	munmap(map, size);
	bs_reader_close(r);
	bs_writer_close(w);
}
END_TEST

/* ---- staleness ---- */

START_TEST(test_staleness)
{
	const char *n = seg_name("stale");
	create_small(n);
	bs_writer *w = open_writer(n);
	publish_tick(w, 1);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_reader_live(r), 0);

	size_t size;
	unsigned char *map = map_rw(n, &size);
	struct bs_shm_header *h = (void *)map;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->heartbeat_ns = now - 10000000000ull; /* 10 s old */
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTALE);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_int_ge(info.heartbeat_age_ns, 10000000000ll);
	bs_reader_set_max_age(r, 60000000000ull); /* 60 s */
	ck_assert_int_eq(bs_reader_live(r), 0);
	bs_reader_set_max_age(r, 2000000000ull);
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTALE);
	bs_writer_heartbeat(w);
	ck_assert_int_eq(bs_reader_live(r), 0);
	/* stale data is still readable: the caller must say it is stale */
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), 0);

	bs_writer_close(w);
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTOPPED);
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.state, BS_STATE_STOPPED);
	munmap(map, size);
	bs_reader_close(r);
}
END_TEST

/* A writer that dies leaves RUNNING, and its lock goes with it. */
START_TEST(test_dead_writer)
{
	const char *n = seg_name("dead");
	create_small(n);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		bs_writer *w;
		if (bs_writer_open(n, &topo_small, NULL, &w) < 0)
			_exit(1);
		_exit(0); /* no close: like a crash */
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.state, BS_STATE_RUNNING);
	ck_assert_int_eq(info.writer_pid, pid);
	bs_reader_set_max_age(r, 1); /* 1 ns: certainly stale by now */
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTALE);
	/* the kernel released the dead writer's lock */
	bs_writer *w = open_writer(n);
	bs_reader_info(r, &info);
	ck_assert_int_eq(info.writer_pid, getpid());
	ck_assert_uint_eq(info.generation, 2);
	bs_writer_close(w);
	bs_reader_close(r);
}
END_TEST

/* ---- segment management ---- */

START_TEST(test_create)
{
	const char *n = seg_name("create");
	struct bs_topology other = {2, 3, 5};
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1, 0), 0);
	/* idempotent */
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1, 0), 1);
	/* another topology or slot count */
	ck_assert_int_eq(bs_segment_create(n, &other, 3, 0600, (gid_t)-1, 0),
			 -BS_EEXIST);
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 4, 0600, (gid_t)-1, 0),
	    -BS_EEXIST);
	/* a writer of another topology is refused */
	bs_writer *w = NULL;
	ck_assert_int_eq(bs_writer_open(n, &other, NULL, &w), -BS_EEXIST);
	ck_assert_int_eq(bs_writer_open(seg_name("nope"), &other, NULL, &w),
			 -BS_ENOENT);
	/* bad arguments */
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 0, 0600, (gid_t)-1, 0),
	    -BS_EINVAL);
	ck_assert_int_eq(
	    bs_segment_create("bad", &topo_small, 3, 0600, (gid_t)-1, 0),
	    -BS_EINVAL);
	ck_assert_int_eq(bs_segment_create(n, NULL, 3, 0600, (gid_t)-1, 0),
			 -BS_EINVAL);

	ck_assert_int_eq(bs_segment_remove(n), 0);
	ck_assert_int_eq(bs_segment_remove(n), -BS_ENOENT);
	ck_assert_int_eq(bs_segment_remove("x"), -BS_EINVAL);
}
END_TEST

START_TEST(test_force)
{
	const char *n = seg_name("force");
	struct bs_topology other = {4, 1, 2};
	create_small(n);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(
	    bs_segment_create(n, &other, 2, 0600, (gid_t)-1, BS_CREATE_FORCE),
	    0);
	/* the old mapping is intact (never truncated in place) */
	ck_assert_uint_eq(bs_reader_header(r)->n_racks, 2);
	ck_assert_int_eq(bs_read_site(r, NULL, NULL, NULL), -BS_ENODATA);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ECHANGED);
	bs_reader_close(r);
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.topo.racks, 4);
	ck_assert_uint_eq(info.n_slots, 2);
	bs_reader_close(r);

	/* force over a running writer: refused */
	struct bs_writer_params p = {.backend = BS_BACKEND_TEST};
	bs_writer *w;
	ck_assert_int_eq(bs_writer_open(n, &other, &p, &w), 0);
	ck_assert_int_eq(bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1,
					   BS_CREATE_FORCE),
			 -BS_EBUSY);
	/* a matching create is still fine while it runs */
	ck_assert_int_eq(
	    bs_segment_create(n, &other, 2, 0600, (gid_t)-1, BS_CREATE_FORCE),
	    1);
	bs_writer_close(w);

	/* a foreign object under the name: its validation error, or
	 * replaced with force */
	shm_unlink(n);
	make_raw(n, "garbage!", 8, 8192);
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1, 0),
	    -BS_EMAGIC);
	make_raw(n, "", 0, 0);
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1, 0),
	    -BS_ETRUNC);
	ck_assert_int_eq(bs_segment_create(n, &topo_small, 3, 0600, (gid_t)-1,
					   BS_CREATE_FORCE),
			 0);
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	bs_reader_close(r);
}
END_TEST

static mode_t seg_mode(const char *name, gid_t *gid)
{
	int fd = shm_open(name, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	if (gid)
		*gid = st.st_gid;
	return st.st_mode & 07777;
}

START_TEST(test_mode)
{
	const char *n = seg_name("mode");
	mode_t old = umask(077);
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0640, getgid(), 0), 0);
	umask(old);
	gid_t gid;
	ck_assert_uint_eq(seg_mode(n, &gid), 0640);
	ck_assert_uint_eq(gid, getgid());
	/* keeping a matching segment applies the requested mode */
	umask(0);
	ck_assert_int_eq(
	    bs_segment_create(n, &topo_small, 3, 0660, (gid_t)-1, 0), 1);
	umask(old);
	ck_assert_uint_eq(seg_mode(n, NULL), 0660);
	/* and the size is the computed one */
	int fd = shm_open(n, O_RDONLY, 0);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_uint_eq((uint64_t)st.st_size,
			  bs_segment_size(&topo_small, 3));
}
END_TEST

START_TEST(test_check_name)
{
	const char *n = seg_name("name");
	create_small(n);
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_reader_check_name(r), 0);
	ck_assert_int_eq(bs_segment_remove(n), 0);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ECHANGED);
	create_small(n);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ECHANGED);
	bs_reader_close(r);
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	ck_assert_int_eq(bs_reader_check_name(r), 0);
	bs_reader_close(r);
}
END_TEST

START_TEST(test_busy)
{
	const char *n = seg_name("busy");
	create_small(n);
	bs_writer *w1 = open_writer(n), *w2 = NULL;
	ck_assert_int_eq(bs_writer_open(n, &topo_small, NULL, &w2), -BS_EBUSY);
	ck_assert_ptr_null(w2);
	/* the refused writer changed nothing */
	bs_reader *r;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.generation, 1);
	ck_assert_str_eq(info.chemistry, "lfp280");
	bs_writer_close(w1);
	ck_assert_int_eq(bs_writer_open(n, &topo_small, NULL, &w2), 0);
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.generation, 2);
	ck_assert_uint_eq(info.backend, BS_BACKEND_NONE);
	ck_assert_str_eq(info.chemistry, "");
	bs_writer_close(w2);
	bs_reader_close(r);
}
END_TEST

/* ---- control client ---- */

/* A daemon that stops accepting (hung) with its listen backlog full: the
 * connect blocks in the kernel; bs_control_open must still give up after
 * its timeout instead of hanging (Check's timeout fails the test). */
START_TEST(test_control_backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	bs_control *c[8] = {NULL};
	int l, rc = 0, i;

	snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/bs-test-lib-%d.sock",
		 (int)getpid());
	unlink(sa.sun_path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(l, 0), 0);
	for (i = 0; i < 8; i++) {
		rc = bs_control_open(sa.sun_path, 100, &c[i]);
		if (rc != 0)
			break;
	}
	unlink(sa.sun_path);
	ck_assert_msg(i < 8, "every connect succeeded: no backlog limit?");
	ck_assert_int_eq(rc, -BS_ETIMEDOUT);
	ck_assert_ptr_null(c[i]);
	for (int k = 0; k < i; k++)
		bs_control_close(c[k]);
	close(l);
}
END_TEST

/* ---- errors ---- */

/* ---- a header rewritten under a reader (issue 9, defect 1) ---- */

START_TEST(test_header_rewrite)
{
	const char *n = seg_name("rewr");
	struct bs_topology t = {4, 4, 8};
	ck_assert_int_eq(bs_segment_create(n, &t, 3, 0600, (gid_t)-1, 0), 0);
	struct bs_writer_params p = {.backend = BS_BACKEND_TEST};
	bs_writer *w = NULL;
	ck_assert_int_eq(bs_writer_open(n, &t, &p, &w), 0);
	struct bs_slot_view v;
	ck_assert_int_eq(bs_writer_begin(w, &v), 0);
	ck_assert_int_eq(bs_writer_publish(w, 1, 0.1), 0);

	bs_reader *r = NULL;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	const struct bs_geometry *g = bs_reader_geometry(r);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_null(bs_reader_geometry(NULL));
	ck_assert_uint_eq(g->n_racks, 4);
	ck_assert_uint_eq(g->modules_per_rack, 4);
	ck_assert_uint_eq(g->cells_per_module, 8);
	ck_assert_uint_eq(g->n_slots, 3);
	ck_assert_uint_eq(g->n_modules, 16);
	ck_assert_uint_eq(g->n_cells, 128);
	ck_assert_uint_eq(g->total_size, bs_segment_size(&t, 3));

	/* Buffers sized exactly from the geometry, on the heap (so that a
	 * sanitizer build sees any overflow). */
	struct bs_site site;
	struct bs_rack *racks = malloc(g->n_racks * sizeof(*racks));
	struct bs_cell cell;
	ck_assert_ptr_nonnull(racks);
	ck_assert_int_eq(bs_read_site(r, NULL, &site, racks), 0);
	ck_assert_int_eq(bs_reader_check_name(r), 0);

	/* The owner rewrites n_racks 4 -> 1 (no new generation). */
	size_t size;
	struct bs_shm_header *h = map_rw(n, &size);
	h->n_racks = 1;
	ck_assert_uint_eq(g->n_racks, 4); /* the geometry never follows */
	ck_assert_uint_eq(bs_reader_header(r)->n_racks, 1); /* the mapping */
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.topo.racks, 4); /* from the copy */
	ck_assert_int_eq(bs_read_site(r, NULL, &site, racks), -BS_ELAYOUT);
	ck_assert_int_eq(bs_read_cell(r, 3, 3, 7, NULL, &cell), -BS_ELAYOUT);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ELAYOUT);
	bs_reader *r2 = NULL;
	ck_assert_int_eq(bs_reader_open(n, &r2), -BS_ELAYOUT);
	h->n_racks = 4; /* put back: the same segment again */
	ck_assert_int_eq(bs_read_site(r, NULL, &site, racks), 0);
	ck_assert_int_eq(bs_reader_check_name(r), 0);

	/* cell_offset pointed past the end of the mapping: never followed,
	 * reported. */
	uint64_t cell_off = h->cell_offset;
	h->cell_offset = 1ull << 40;
	ck_assert_int_eq(bs_read_cell(r, 3, 3, 7, NULL, &cell), -BS_ELAYOUT);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ELAYOUT);
	ck_assert_int_eq(bs_reader_open(n, &r2), -BS_ELAYOUT);
	h->cell_offset = cell_off;
	ck_assert_int_eq(bs_read_cell(r, 3, 3, 7, NULL, &cell), 0);

	/* line 8 (the extension regions) is geometry too: a rewritten
	 * cell_ext_offset is a corrupt segment, never followed */
	ck_assert_int_eq(bs_reader_has_ext(r), 1);
	uint64_t cext = h->cell_ext_offset;
	h->cell_ext_offset = 1ull << 40;
	ck_assert_int_eq(bs_read_cell(r, 3, 3, 7, NULL, &cell), -BS_ELAYOUT);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ELAYOUT);
	h->cell_ext_offset = cext;
	ck_assert_int_eq(bs_read_cell(r, 3, 3, 7, NULL, &cell), 0);

	/* Live fields change all the time: not a corruption. */
	bs_writer_heartbeat(w);
	ck_assert_int_eq(bs_writer_begin(w, &v), 0);
	ck_assert_int_eq(bs_writer_publish(w, 2, 0.2), 0);
	ck_assert_int_eq(bs_read_site(r, NULL, &site, racks), 0);
	ck_assert_int_eq(bs_reader_check_name(r), 0);

	munmap(h, size);
	free(racks);
	bs_reader_close(r);
	bs_writer_close(w);
}
END_TEST

/* ---- a segment truncated under readers and the writer (defect 5) ---- */

static void truncate_seg(const char *name, off_t size)
{
	int fd = shm_open(name, O_RDWR, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

START_TEST(test_truncated)
{
	const char *n = seg_name("trunc");
	create_small(n);
	bs_writer *w = open_writer(n);
	publish_tick(w, 1);
	bs_reader *r = NULL;
	ck_assert_int_eq(bs_reader_open(n, &r), 0);
	const struct bs_geometry *g = bs_reader_geometry(r);
	struct bs_site site;
	struct bs_rack racks[2];
	struct bs_module mods[6];
	struct bs_cell cells[24];
	ck_assert_int_eq(bs_read_all(r, NULL, &site, racks, mods, cells), 0);

	/* Half its size: every read and the check say so; nothing faults
	 * (a SIGBUS would end this test's process). */
	truncate_seg(n, (off_t)(g->total_size / 2));
	ck_assert_int_eq(bs_read_all(r, NULL, &site, racks, mods, cells),
			 -BS_ETRUNC);
	ck_assert_int_eq(bs_read_site(r, NULL, &site, NULL), -BS_ETRUNC);
	ck_assert_int_eq(bs_reader_check_name(r), -BS_ETRUNC);
	struct bs_slot_view v;
	ck_assert_int_eq(bs_writer_begin(w, &v), -BS_ETRUNC);
	bs_reader *r2 = NULL;
	ck_assert_int_eq(bs_reader_open(n, &r2), -BS_ETRUNC);

	/* Nothing left, not even the header page: the live fields fault
	 * inside the library's guard. */
	truncate_seg(n, 0);
	ck_assert_int_eq(bs_reader_live(r), -BS_ETRUNC);
	struct bs_info info;
	bs_reader_info(r, &info);
	ck_assert_uint_eq(info.state, BS_STATE_STOPPED);
	ck_assert_uint_eq(info.topo.racks, 2); /* from the copy */
	ck_assert_int_eq(bs_read_cell(r, 1, 2, 3, NULL, cells), -BS_ETRUNC);
	bs_writer_heartbeat(w); /* guarded: no SIGBUS */
	ck_assert_int_eq(bs_writer_publish(w, 2, 0.4), -BS_EINVAL);
	bs_writer_close(w);	/* its STOPPED store is guarded too */
	bs_reader_close(r);
}
END_TEST

/* The guard does not swallow faults that are not the library's: a SIGBUS
 * elsewhere still kills the process, after the guard's handler was
 * installed by a reader. */
START_TEST(test_foreign_sigbus)
{
	const char *n = seg_name("fault");
	create_small(n);
	bs_reader *r = NULL;
	ck_assert_int_eq(bs_reader_open(n, &r), 0); /* installs the guard */
	ck_assert_int_eq(bs_reader_live(r), -BS_ESTOPPED);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* No ck_assert here: exit 3 when the setup fails. */
		int fd = shm_open(n, O_RDWR, 0);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			_exit(3);
		volatile unsigned char *p =
		    mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0) < 0)
			_exit(3);
		(void)p[st.st_size - 1]; /* SIGBUS, not the library's */
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	/* Killed by SIGBUS; under a sanitizer, whose handler the library's
	 * passed the fault to, a report and a non-zero exit instead. */
	if (WIFSIGNALED(st))
		ck_assert_int_eq(WTERMSIG(st), SIGBUS);
	else
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0 &&
			  WEXITSTATUS(st) != 3);
	bs_reader_close(r);
}
END_TEST

START_TEST(test_strerror)
{
	for (int c = 0; c <= BS_ECONNREFUSED; c++) {
		const char *m = bs_strerror(-c);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, "unknown libbatsim error code");
		ck_assert_str_eq(m, bs_strerror(c));
		for (int d = 0; d < c; d++)
			ck_assert_str_ne(m, bs_strerror(-d));
	}
	ck_assert_ptr_nonnull(strstr(bs_strerror(-BS_ENOENT), "batsim-init"));
	ck_assert_str_eq(bs_strerror(-1000), "unknown libbatsim error code");
	ck_assert_str_eq(bs_strerror(INT32_MIN),
			 "unknown libbatsim error code");
	ck_assert_str_eq(bs_version(), PACKAGE_VERSION);
}
END_TEST

static Suite *lib_suite(void)
{
	Suite *s = suite_create("libbatsim");
	TCase *tc = tcase_create("core");
	tcase_add_unchecked_fixture(tc, NULL, remove_all);
	tcase_add_checked_fixture(tc, NULL, NULL);
	tcase_add_test(tc, test_abi_layout);
	tcase_add_test(tc, test_topology_good);
	tcase_add_test(tc, test_topology_bad);
	tcase_add_test(tc, test_validate_memory);
	tcase_add_test(tc, test_validate_segments);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_generation);
	tcase_add_test(tc, test_site_name);
	tcase_add_test(tc, test_identity_whole);
	tcase_add_test(tc, test_bounded_retry);
	tcase_add_test(tc, test_staleness);
	tcase_add_test(tc, test_dead_writer);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_force);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_check_name);
	tcase_add_test(tc, test_busy);
	tcase_add_test(tc, test_control_backlog);
	tcase_add_test(tc, test_header_rewrite);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_foreign_sigbus);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	main_pid = getpid();
	SRunner *sr = srunner_create(lib_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
