/*
 * sigbus.h - batsimd's answer to a segment truncated under it.
 *
 * libbatsim guards its own accesses to the segment (they fail with
 * -BS_ETRUNC), but the engine stores each snapshot straight into the slot
 * between bs_writer_begin and bs_writer_publish.  If the segment's owner
 * truncates it meanwhile, those stores raise SIGBUS: the handler armed
 * here logs what happened and how to recover, and exits with status 1
 * instead of dying of the signal.  See batsim-shm(7), "Truncation".
 */
#ifndef BATSIMD_SIGBUS_H
#define BATSIMD_SIGBUS_H

#include <stddef.h>

/* Arm (or re-arm) for the segment `name` mapped at [base, base + len):
 * a SIGBUS at an address in that range exits with exit_status after one
 * log line; any other SIGBUS keeps its default action (core dump).  Call
 * it once before the segment is opened (base NULL, len 0: installs the
 * handler), then with the mapping. */
void sigbus_arm(const char *progname, const char *name, const void *base,
		size_t len, int exit_status);

#endif /* BATSIMD_SIGBUS_H */
