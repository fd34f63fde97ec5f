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
	int fd; /* kept open: holds the OFD lock that says "in use" */
};

/* Lock the whole object (OFD lock, dropped when fd closes; type F_WRLCK
 * to hold it, F_RDLCK to test it from a read-only descriptor): 0, or -1
 * when another process holds a conflicting one. */
static int lock_mirror(int fd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Someone other than us may write to it: an owner that is not us, write
 * permission for others, or for a group that is not ours. */
static const char *foreign(const struct stat *st)
{
	if (st->st_uid != geteuid())
		return "belongs to another user";
	if (st->st_mode & S_IWOTH)
		return "is writable by every user";
	if ((st->st_mode & S_IWGRP) && st->st_gid != getegid())
		return "is writable by another group";
	if (!S_ISREG(st->st_mode))
		return "is not a shared memory object";
	return NULL;
}

/* The name exists: take it over when it is a stale mirror of our own
 * (made by a batsimd of this user that is gone), by removing it; the
 * caller creates a fresh one.  1 removed, 0 gone meanwhile, or -1 with
 * a message. */
static int remove_stale(const char *name, char *err, size_t errlen)
{
	struct stat st, now;
	char path[128];
	const char *why;
	int fd;

	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile: free again */
		snprintf(err, errlen,
			 "legacy_shm_name %s exists and batsimd cannot open "
			 "it (%s): it is not batsimd's; remove it (rm "
			 "/dev/shm%s) once you know who made it, or choose "
			 "another legacy_shm_name",
			 name, strerror(errno), name);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "legacy_shm_name %s: fstat: %s", name,
			 strerror(errno));
		close(fd);
		return -1;
	}
	why = foreign(&st);
	if (why) {
		snprintf(err, errlen,
			 "legacy_shm_name %s exists and %s (uid %u, mode "
			 "%04o): batsimd never uses a mirror others could "
			 "write; remove it (rm /dev/shm%s) once you know who "
			 "made it, or choose another legacy_shm_name",
			 name, why, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777), name);
		close(fd);
		return -1;
	}
	if (lock_mirror(fd, F_RDLCK) != 0) {
		snprintf(err, errlen,
			 "legacy_shm_name %s is in use by another batsimd: "
			 "stop it, or give this one another legacy_shm_name",
			 name);
		close(fd);
		return -1;
	}
	/* Ours, and nobody writes it: a stale mirror.  Unlink it rather
	 * than resize it in place (a legacy reader that has it mapped would
	 * get SIGBUS from a shrink); it keeps the old object until it opens
	 * the name again.  Only if the name still means the object checked
	 * above. */
	snprintf(path, sizeof path, "/dev/shm%s", name);
	if (stat(path, &now) != 0 || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev) {
		close(fd);
		return 0; /* replaced meanwhile: O_EXCL decides next */
	}
	if (shm_unlink(name) != 0 && errno != ENOENT) {
		snprintf(err, errlen,
			 "legacy_shm_name %s: cannot remove the stale mirror: "
			 "%s",
			 name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

int legacy_open(const char *name, uint64_t n_cells, legacy **out, char *err,
		size_t errlen)
{
	size_t size = (size_t)n_cells * sizeof(struct legacy_cell);
	legacy *l;
	int fd = -1, replaced = 0;

	/* Only a mirror this batsimd creates itself: O_EXCL.  A name that
	 * exists is taken over only when it is our own stale one. */
	for (int round = 0; round < 2 && fd < 0; round++) {
		fd =
		    shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
		if (round > 0) {
			snprintf(err, errlen,
				 "legacy_shm_name %s was created again by "
				 "someone else while batsimd replaced it: "
				 "find out who (ls -l /dev/shm%s) or choose "
				 "another legacy_shm_name",
				 name, name);
			return -1;
		}
		replaced = remove_stale(name, err, errlen);
		if (replaced < 0)
			return -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "legacy_shm_name %s: shm_open: %s%s",
			 name, strerror(errno),
			 errno == EACCES ? " (check the owner of /dev/shm"
					   "/... or choose another name)"
					 : "");
		return -1;
	}
	/* Created 0600, so that nobody writes it before it is ours (the
	 * lock); then the documented 0660 (shm_open's mode is masked by the
	 * umask). */
	if (lock_mirror(fd, F_WRLCK) != 0 || fchmod(fd, 0660) != 0 ||
	    ftruncate(fd, (off_t)size) != 0) {
		snprintf(err, errlen, "legacy_shm_name %s: %s", name,
			 strerror(errno));
		close(fd);
		shm_unlink(name);
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
			shm_unlink(name);
			return -1;
		}
	}
	l = calloc(1, sizeof *l);
	if (!l) {
		close(fd);
		shm_unlink(name);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->size = size;
	l->fd = fd;
	l->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l->map == MAP_FAILED) {
		snprintf(err, errlen, "legacy_shm_name %s: mmap: %s", name,
			 strerror(errno));
		close(fd);
		shm_unlink(name);
		free(l);
		return -1;
	}
	err[0] = '\0';
	if (replaced > 0)
		snprintf(err, errlen,
			 "replaced the stale legacy mirror %s (left by a "
			 "batsimd that is gone)",
			 name);
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
	close(l->fd);
	free(l);
}
