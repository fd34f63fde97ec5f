/*
 * error.c - error texts and the library version.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

/* Each message says what is wrong and, where the caller can act, what to
 * do about it. */
static const char *const bs_messages[] = {
    [BS_OK] = "success",
    [BS_ENOENT] = "segment not found (run batsim-init or start batsimd)",
    [BS_EACCES] = "permission denied (join the segment's group, e.g. "
		  "batsim, or run as its owner)",
    [BS_EMAGIC] = "not a batsim segment (bad magic; check the segment "
		  "name, or recreate it with batsim-init --force)",
    [BS_EABI] = "incompatible segment ABI version (upgrade the reader or "
		"the writer so that both use the same libbatsim)",
    [BS_ETRUNC] = "segment is smaller than its header says (truncated or "
		  "still being created; retry, or recreate it with "
		  "batsim-init --force)",
    [BS_ELAYOUT] = "segment header is inconsistent (corrupt sizes or "
		   "offsets; recreate it with batsim-init --force)",
    [BS_EAGAIN] = "no consistent snapshot within the retry bound (the "
		  "writer is updating too fast or died while writing; "
		  "retry)",
    [BS_ESTALE] = "data is stale: the writer's heartbeat is too old "
		  "(is batsimd hung or dead?)",
    [BS_ESTOPPED] = "no writer is running (state is INIT or STOPPED; "
		    "start batsimd)",
    [BS_ERANGE] = "index or value out of range (check rack, module and "
		  "cell numbers against the topology)",
    [BS_EINVAL] = "invalid argument (check the topology RxMxC, the "
		  "segment name /name and the slot count)",
    [BS_ENOMEM] = "out of memory (or /dev/shm is too small for the "
		  "segment: check df /dev/shm)",
    [BS_EEXIST] = "segment exists with another topology (remove it with "
		  "batsim-init --remove, or replace it with --force)",
    [BS_ESYS] = "system error (see errno)",
    [BS_EBUSY] = "another writer is running on this segment (stop "
		 "batsimd first)",
    [BS_ENODATA] = "no snapshot published yet (the writer has just "
		   "started, or none ever ran; retry shortly)",
    [BS_ECHANGED] = "the segment was removed or recreated (reopen it)",
    [BS_ETIMEDOUT] = "no reply from batsimd in time (is it overloaded "
		     "or hung?)",
    [BS_EPROTO] = "malformed reply from batsimd (not one JSON line; "
		  "check that batsimd and the client versions match)",
    [BS_ECONNREFUSED] = "batsimd is not listening on its control socket "
			"(start batsimd)",
};

BS_EXPORT const char *bs_strerror(int code)
{
	unsigned c = code < 0 ? (unsigned)-(long)code : (unsigned)code;

	if (c < sizeof(bs_messages) / sizeof(bs_messages[0]) && bs_messages[c])
		return bs_messages[c];
	return "unknown libbatsim error code";
}

BS_EXPORT const char *bs_version(void)
{
	return PACKAGE_VERSION;
}

int bs__errno_code(int err)
{
	switch (err) {
	case ENOENT:
		return -BS_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return -BS_EACCES;
	case ENOMEM:
	case ENOSPC:
		return -BS_ENOMEM;
	case EINVAL:
	case ENAMETOOLONG:
		return -BS_EINVAL;
	case EEXIST:
		return -BS_EEXIST;
	default:
		return -BS_ESYS;
	}
}
