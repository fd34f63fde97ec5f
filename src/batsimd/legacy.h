/*
 * legacy.h - the optional legacy mirror (legacy_shm_name): the original
 * design's plain segment, struct BatterySim { struct Cell cells[R*M*C]; }
 * with struct Cell { float voltage, current, temperature, soc,
 * resistance; }, rack-major, no header.  Readers of it get no consistency
 * guarantee: a snapshot may mix two publications (each float is whole).
 */
#ifndef BATSIMD_LEGACY_H
#define BATSIMD_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include <batsim/batsim.h>

typedef struct legacy legacy;

/* Create the segment for n_cells cells, mode 0660, with O_EXCL: it is
 * never one that another user made or could write.  A mirror of this
 * user that no running batsimd holds (a stale one) is removed and made
 * anew; anything else at the name is refused with a message that says
 * what to do.  0 (err holds a notice when a stale mirror was replaced,
 * else ""), or -1 with a message in err.  While open, the mirror carries
 * an OFD lock, which is how another batsimd sees that it is in use. */
int legacy_open(const char *name, uint64_t n_cells, legacy **out, char *err,
		size_t errlen);

/* Copy the cells of the slot just filled. */
void legacy_write(legacy *l, const struct bs_cell *cells);

/* Unmap (the segment stays, with the last values); NULL is fine. */
void legacy_close(legacy *l);

#endif /* BATSIMD_LEGACY_H */
