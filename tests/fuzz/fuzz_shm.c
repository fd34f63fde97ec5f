/*
 * fuzz_shm.c - libFuzzer target: the segment header validation and the
 * reader API of libbatsim on a hostile mapping.
 *
 * Input: a list of patches applied to a valid segment image (topology
 * 2x3x4, 2 slots, slot 0 published), then the image is written to a POSIX
 * shm object of a possibly different size, which the reader opens and
 * reads with buffers sized from what bs_reader_info() says.  The whole raw
 * input is also given to bs_header_validate() directly.
 *
 *   input  = [size_delta: i16 LE] patch...
 *   patch  = [offset: u16 LE] [len: u8] [len bytes]
 * The offset is taken modulo the image size; the file size is the image
 * size plus size_delta * 8 (at least 0).  Run by tests/fuzz/run-fuzz.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <batsim/batsim.h>

static char name[64];
static unsigned char *image; /* the valid segment */
static size_t image_size;
static unsigned char *work;
static const struct bs_topology topo = {2, 3, 4};

static void remove_segment(void)
{
	shm_unlink(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct bs_shm_header *h;
	struct bs_slot_header *sh;

	(void)argc;
	(void)argv;
	snprintf(name, sizeof name, "/bs-fuzz-shm-%ld", (long)getpid());
	image_size = (size_t)bs_segment_size(&topo, 2);
	image = calloc(1, image_size);
	work = calloc(1, image_size + 65536);
	if (!image || !work || image_size == 0)
		abort();
	h = (struct bs_shm_header *)image;
	if (bs_header_init(h, &topo, 2) != 0)
		abort();
	h->state = BS_STATE_RUNNING;
	h->generation = 1;
	h->latest = 0;
	/* slot 0 published by generation 1, with recognisable data */
	sh = (struct bs_slot_header *)(image + h->slots_offset);
	sh->seq = 2;
	sh->tick = 7;
	sh->generation = 1;
	for (size_t i = h->slots_offset + sizeof *sh; i < image_size; i += 4)
		memcpy(image + i, &(float){1.5f}, 4);
	atexit(remove_segment);
	return 0;
}

/* Read everything the API offers, sized only from the reader's answer. */
static void read_all(bs_reader *r)
{
	struct bs_info info;
	struct bs_meta meta;
	struct bs_site site;
	struct bs_cell cell;
	struct bs_module mod;
	struct bs_rack rack;

	bs_reader_set_retries(r, 2);
	bs_reader_info(r, &info);
	(void)bs_reader_live(r);
	(void)bs_reader_check_name(r);
	(void)bs_reader_header(r);
	uint32_t R = info.topo.racks, M = info.topo.modules_per_rack,
		 C = info.topo.cells_per_module;
	/* the reader validated the geometry: sizes are bounded by the
	 * mapping, which is at most image_size + 64 KiB */
	if ((uint64_t)R * M * C != info.n_cells)
		abort();
	struct bs_rack *racks = calloc(R ? R : 1, sizeof *racks);
	struct bs_module *mods = calloc((size_t)R * M + 1, sizeof *mods);
	struct bs_cell *cells = calloc(info.n_cells + 1, sizeof *cells);
	if (!racks || !mods || !cells)
		abort();
	(void)bs_read_site(r, &meta, &site, racks);
	(void)bs_read_all(r, &meta, &site, racks, mods, cells);
	for (uint32_t k = 0; k < R; k += R > 1 ? R - 1 : 1) {
		(void)bs_read_rack(r, k, &meta, &rack, mods, cells);
		(void)bs_read_module(r, k, M - 1, &meta, &mod, cells);
		(void)bs_read_cell(r, k, M - 1, C - 1, &meta, &cell);
	}
	/* out of range must be refused, never read */
	if (bs_read_cell(r, R, 0, 0, &meta, &cell) != -BS_ERANGE ||
	    bs_read_module(r, 0, M, &meta, &mod, cells) != -BS_ERANGE ||
	    bs_read_rack(r, R, &meta, &rack, mods, cells) != -BS_ERANGE)
		abort();
	free(racks);
	free(mods);
	free(cells);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, fsize;
	int16_t delta = 0;
	bs_reader *r;
	int fd;

	/* 1. the raw input as a header (in an aligned copy) */
	if (size <= image_size + 65536) {
		memcpy(work, data, size);
		(void)bs_header_validate((const struct bs_shm_header *)work,
					 size);
	}

	/* 2. a patched segment through the reader API */
	if (size >= 2) {
		memcpy(&delta, data, 2);
		pos = 2;
	}
	memcpy(work, image, image_size);
	while (pos + 3 <= size) {
		uint16_t off;
		uint8_t len;

		memcpy(&off, data + pos, 2);
		len = data[pos + 2];
		pos += 3;
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		for (size_t i = 0; i < len; i++)
			work[(off + i) % image_size] = data[pos + i];
		pos += len;
	}
	long want = (long)image_size + 8L * delta;
	fsize = want < 0 ? 0 : (size_t)want;
	if (fsize > image_size + 65536)
		fsize = image_size + 65536;
	if (fsize > image_size)
		memset(work + image_size, 0, fsize - image_size);

	fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror("shm_open");
		abort();
	}
	for (size_t done = 0; done < fsize;) {
		ssize_t n = write(fd, work + done, fsize - done);
		if (n <= 0) {
			perror("write");
			abort();
		}
		done += (size_t)n;
	}
	close(fd);
	if (bs_reader_open(name, &r) == 0) {
		read_all(r);
		bs_reader_close(r);
	}
	return 0;
}
