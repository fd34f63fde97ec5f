/*
 * sunspec.c - lookups in the generated model table and the encoding of
 * values into SunSpec registers.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sunspec.h"

const struct sp_model *sp_model_find(unsigned id)
{
	for (unsigned i = 0; i < sp_n_models; i++)
		if (sp_models[i].id == id)
			return &sp_models[i];
	return NULL;
}

const struct sp_point *sp_point_find(unsigned model, const char *name)
{
	const struct sp_model *m = sp_model_find(model);

	if (!m)
		return NULL;
	for (unsigned i = m->first; i < (unsigned)m->first + m->n; i++)
		if (!strcmp(sp_points[i].name, name))
			return &sp_points[i];
	return NULL;
}

unsigned sp_off(unsigned model, const char *name)
{
	const struct sp_point *p = sp_point_find(model, name);

	if (!p) {
		fprintf(stderr, "batsim-modbusd: internal error: model %u has "
				"no point %s in data/sunspec/points.csv\n",
			model, name);
		abort();
	}
	return p->offset;
}

uint16_t sp_ni16(enum sp_type t)
{
	switch (t) {
	case SP_INT16:
	case SP_INT32:
	case SP_SUNSSF:
	case SP_PAD:
		return 0x8000;
	case SP_ACC32:
	case SP_ACC64:
	case SP_STRING:
		return 0;
	default:
		return 0xFFFF;
	}
}

void sp_fill_ni(uint16_t *regs, const struct sp_model *m, int repeating)
{
	for (unsigned i = m->first; i < (unsigned)m->first + m->n; i++) {
		const struct sp_point *p = &sp_points[i];

		if (p->repeating != (repeating != 0))
			continue;
		regs[p->offset] = sp_ni16(p->type);
		for (unsigned k = 1; k < p->size; k++)
			regs[p->offset + k] =
			    (p->type == SP_INT32) ? 0 : sp_ni16(p->type);
	}
}

void sp_put_raw(uint16_t *regs, const struct sp_point *p, uint64_t v)
{
	for (int k = p->size - 1; k >= 0; k--) {
		regs[p->offset + k] = (uint16_t)(v & 0xFFFF);
		v >>= 16;
	}
}

void sp_put(uint16_t *regs, const struct sp_point *p, double v, int sf)
{
	double x, lo, hi;

	if (isnan(v)) {
		regs[p->offset] = sp_ni16(p->type);
		for (unsigned k = 1; k < p->size; k++)
			regs[p->offset + k] =
			    (p->type == SP_INT32) ? 0 : sp_ni16(p->type);
		return;
	}
	x = round(v / pow(10.0, sf));
	switch (p->type) {
	case SP_INT16:
		lo = -32767;
		hi = 32767;
		break;
	case SP_INT32:
		lo = -2147483647.0;
		hi = 2147483647.0;
		break;
	case SP_UINT32:
	case SP_ACC32:
		lo = 0;
		hi = 4294967294.0;
		break;
	case SP_UINT64:
	case SP_ACC64:
		lo = 0;
		hi = 9007199254740992.0; /* exact in a double */
		break;
	default: /* 16-bit unsigned kinds */
		lo = 0;
		hi = 65534;
		break;
	}
	if (x < lo)
		x = lo;
	if (x > hi)
		x = hi;
	if (p->type == SP_INT16 || p->type == SP_INT32)
		sp_put_raw(regs, p, (uint64_t)(int64_t)x);
	else
		sp_put_raw(regs, p, (uint64_t)x);
}

void sp_put_str(uint16_t *regs, const struct sp_point *p, const char *s)
{
	size_t n = strlen(s);

	for (unsigned k = 0; k < p->size; k++) {
		unsigned char a = 2 * k < n ? (unsigned char)s[2 * k] : 0;
		unsigned char b = 2 * k + 1 < n ? (unsigned char)s[2 * k + 1] : 0;

		regs[p->offset + k] = (uint16_t)(a << 8 | b);
	}
}

int64_t sp_get(const uint16_t *regs, const struct sp_point *p)
{
	uint64_t v = 0;

	for (unsigned k = 0; k < p->size && k < 4; k++)
		v = v << 16 | regs[p->offset + k];
	if (p->type == SP_INT16 || p->type == SP_SUNSSF)
		return (int16_t)v;
	if (p->type == SP_INT32)
		return (int32_t)v;
	return (int64_t)v;
}

int sp_sf_for(double max_abs, int min_sf, double limit)
{
	int sf = min_sf;

	while (sf < 10 && fabs(max_abs) / pow(10.0, sf) > limit)
		sf++;
	return sf;
}
