/*
 * legacy.c - see legacy.h.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "legacy.h"

/* The original battery_shared.h layout, for the size check below. */
struct legacy_cell {
	float voltage, current, temperature, soc, resistance;
};
_Static_assert(sizeof(struct legacy_cell) == sizeof(struct bs_cell),
	       "the legacy cell is the batsim cell record");

struct legacy {
	void *map;
	size_t size;
};

int legacy_open(const char *name, uint64_t n_cells, legacy **out, char *err,
		size_t errlen)
{
	size_t size = (size_t)n_cells * sizeof(struct legacy_cell);
	struct stat st;
	legacy *l;
	int fd;

	fd = shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0) {
		snprintf(err, errlen, "legacy_shm_name %s: shm_open: %s%s",
			 name, strerror(errno),
			 errno == EACCES ? " (check the owner of /dev/shm"
					   "/... or choose another name)"
					 : "");
		return -1;
	}
	/* shm_open's mode is masked by the umask: set it as documented */
	if (fstat(fd, &st) != 0 ||
	    (st.st_uid == geteuid() && fchmod(fd, 0660) != 0) ||
	    ((size_t)st.st_size != size && ftruncate(fd, (off_t)size) != 0)) {
		snprintf(err, errlen, "legacy_shm_name %s: %s", name,
			 strerror(errno));
		close(fd);
		return -1;
	}
	/* Reserve the pages now: a full /dev/shm is an error here rather
	 * than SIGBUS at the first legacy_write (ftruncate only makes the
	 * object sparse). */
	{
		int rc = posix_fallocate(fd, 0, (off_t)size);

		if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
			snprintf(err, errlen,
				 "legacy_shm_name %s: cannot reserve %zu "
				 "bytes: %s (free space in /dev/shm)",
				 name, size, strerror(rc));
			close(fd);
			return -1;
		}
	}
	l = calloc(1, sizeof *l);
	if (!l) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->size = size;
	l->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (l->map == MAP_FAILED) {
		snprintf(err, errlen, "legacy_shm_name %s: mmap: %s", name,
			 strerror(errno));
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

void legacy_write(legacy *l, const struct bs_cell *cells)
{
	/* word-sized relaxed stores: a reader never sees a torn float, but
	 * nothing orders the cells against each other (documented) */
	bs_copy_to_shm(l->map, cells, l->size);
}

void legacy_close(legacy *l)
{
	if (!l)
		return;
	munmap(l->map, l->size);
	free(l);
}
