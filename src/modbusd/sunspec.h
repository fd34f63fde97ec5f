/*
 * sunspec.h - the SunSpec model table (generated from data/sunspec/
 * points.csv by gen-sunspec.py) and the encoding of point values into
 * registers.
 *
 * A model instance in a register image starts at its ID register; a
 * point's offset counts from there.  Points of a model's repeating group
 * (803 strings, 804 modules, 805 cells) carry offsets within one instance
 * of the group; instance k starts at fixed_len + k * rep_len.
 */
#ifndef BATSIM_MODBUSD_SUNSPEC_H
#define BATSIM_MODBUSD_SUNSPEC_H

#include <stdint.h>

enum sp_type {
	SP_UINT16,
	SP_INT16,
	SP_UINT32,
	SP_INT32,
	SP_ACC32,
	SP_UINT64,
	SP_ACC64,
	SP_ENUM16,
	SP_BITFIELD16,
	SP_BITFIELD32,
	SP_SUNSSF,
	SP_STRING,
	SP_PAD,
};

struct sp_point {
	uint16_t model;
	const char *name;   /* "WSet"; fixed sub-groups qualified: "PFWInj.PF" */
	uint16_t offset;    /* registers from the model's ID (or instance) */
	uint16_t size;      /* registers */
	uint8_t type;       /* enum sp_type */
	uint8_t rw;         /* access RW in the model */
	uint8_t repeating;  /* in the repeating group */
	uint8_t mandatory;
	const char *sf;     /* scale-factor point name, or "" */
};

struct sp_model {
	uint16_t id;
	uint16_t fixed_len;  /* registers of the fixed part, ID and L included */
	uint16_t rep_len;    /* registers of one repeating instance, 0 none */
	const char *count;   /* what gives the repeat count ("NStr", "0", "") */
	uint16_t first;      /* index of its first point in sp_points */
	uint16_t n;          /* number of points */
};

extern const struct sp_point sp_points[];
extern const unsigned sp_n_points;
extern const struct sp_model sp_models[];
extern const unsigned sp_n_models;

/* The model with this ID, or NULL. */
const struct sp_model *sp_model_find(unsigned id);

/* A point of a model by name, or NULL. */
const struct sp_point *sp_point_find(unsigned model, const char *name);

/* The offset of a point that must exist (the daemon's own names; an
 * unknown one is a bug in batsim and aborts at start-up). */
unsigned sp_off(unsigned model, const char *name);

/* Fill n registers with the "not implemented" value of each point of the
 * model (fixed part when instance < 0, else one repeating instance),
 * starting at regs[0]. */
void sp_fill_ni(uint16_t *regs, const struct sp_model *m, int repeating);

/* The not-implemented value of a 16-bit register of this type (the
 * first register for wider types: see sp_fill_ni). */
uint16_t sp_ni16(enum sp_type t);

/* Store v / 10^sf rounded and clamped to the point's type (a value that
 * does not fit becomes the largest that does, never the NI value); NaN
 * stores the NI value. */
void sp_put(uint16_t *regs, const struct sp_point *p, double v, int sf);

/* Store a raw integer in the point's registers (big-endian words). */
void sp_put_raw(uint16_t *regs, const struct sp_point *p, uint64_t v);

/* Store a string (NUL-padded, 2 bytes a register). */
void sp_put_str(uint16_t *regs, const struct sp_point *p, const char *s);

/* Read a point's raw value (sign-extended for int16/int32) from registers. */
int64_t sp_get(const uint16_t *regs, const struct sp_point *p);

/* Smallest scale factor >= min_sf such that max_abs / 10^sf fits below
 * limit (e.g. 32766 for int16). */
int sp_sf_for(double max_abs, int min_sf, double limit);

#endif /* BATSIM_MODBUSD_SUNSPEC_H */
