/*
 * faults.c - the protocol faults batsimd stores (modbus_fault commands,
 * docs/control-protocol.md), as batsim-modbusd applies them.
 *
 * batsimd keeps the list and bumps a revision published in the segment;
 * dev.c re-reads the list (`modbus_faults`) when the revision changes and
 * hands the reply here.  A fault for unit 0 applies to every unit; one for
 * a unit applies to that unit and wins over a unit-0 fault of its type.
 */
#include <config.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "modbusd.h"

static const char *const type_names[MBF_TYPES] = {
    "delay", "silence", "exception", "freeze", "drop"};

static int64_t jint(json_object *o, const char *k, int64_t dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return dflt;
	return json_object_get_int64(v);
}

int faults_parse(const char *reply, struct mb_faults *out, char *err,
		 size_t errlen)
{
	json_object *root = json_tokener_parse(reply), *v, *arr;
	size_t n;

	memset(out, 0, sizeof *out);
	if (!root || !json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "modbus_faults: reply is not a JSON "
				      "object");
		json_object_put(root);
		return -1;
	}
	if (!json_object_object_get_ex(root, "ok", &v) ||
	    !json_object_get_boolean(v)) {
		const char *e = "no reason given";

		if (json_object_object_get_ex(root, "error", &v))
			e = json_object_get_string(v);
		snprintf(err, errlen, "modbus_faults refused by batsimd: %s", e);
		json_object_put(root);
		return -1;
	}
	out->revision = (uint32_t)jint(root, "revision", 0);
	if (!json_object_object_get_ex(root, "faults", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(root);
		return 0;
	}
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n && out->n < MB_MAX_FAULTS; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *t;
		struct mb_fault *f = &out->f[out->n];
		const char *ty;
		int type = -1;

		if (!json_object_object_get_ex(o, "type", &t))
			continue;
		ty = json_object_get_string(t);
		for (int k = 0; k < MBF_TYPES; k++)
			if (!strcmp(ty, type_names[k]))
				type = k;
		if (type < 0) {
			log_warn("modbus_faults: unknown fault type '%s' "
				 "ignored (batsimd newer than batsim-modbusd?)",
				 ty);
			continue;
		}
		memset(f, 0, sizeof *f);
		f->type = type;
		f->unit = (unsigned)jint(o, "unit", 0);
		f->ms = (unsigned)jint(o, "ms", 0);
		f->every = (unsigned)jint(o, "every", 0);
		f->until_wall_ns = jint(o, "until_wall_ns", 0);
		if (type == MBF_FREEZE &&
		    json_object_object_get_ex(o, "what", &v))
			f->freeze_all = !strcmp(json_object_get_string(v), "all");
		if (type == MBF_EXCEPTION &&
		    json_object_object_get_ex(o, "points", &v) &&
		    json_object_is_type(v, json_type_array)) {
			size_t np = json_object_array_length(v);

			for (size_t k = 0; k < np; k++) {
				const char *s = json_object_get_string(
				    json_object_array_get_idx(v, k));
				unsigned model = 0;
				int used = 0;

				if (!s || sscanf(s, "%u.%n", &model, &used) != 1 ||
				    !used || !sp_point_find(model, s + used) ||
				    f->n_points == MB_MAX_FAULT_POINTS) {
					log_warn("exception fault: no point '%s' "
						 "(use MODEL.POINT as in "
						 "batsim-modbusd(8), e.g. "
						 "704.WSet): ignored",
						 s ? s : "?");
					continue;
				}
				f->points[f->n_points].model = (uint16_t)model;
				snprintf(f->points[f->n_points].name,
					 sizeof f->points[0].name, "%s",
					 s + used);
				f->n_points++;
			}
		}
		/* a silence or drop without a valid count or end means
		 * nothing: skip it rather than silence forever */
		if (type == MBF_SILENCE && !f->until_wall_ns && f->every < 2)
			continue;
		if (type == MBF_DROP && f->every < 1)
			continue;
		if (type == MBF_DELAY && f->ms == 0)
			continue;
		out->n++;
	}
	json_object_put(root);
	return 0;
}

struct mb_fault *faults_find(struct mb_faults *fs, int type, unsigned unit,
			     int64_t wall_ns)
{
	struct mb_fault *any = NULL;

	for (unsigned i = 0; i < fs->n; i++) {
		struct mb_fault *f = &fs->f[i];

		if (f->type != type)
			continue;
		if (type == MBF_SILENCE && f->until_wall_ns &&
		    wall_ns >= f->until_wall_ns)
			continue; /* over: batsimd drops it soon */
		if (f->unit == unit)
			return f;
		if (f->unit == 0)
			any = f;
	}
	return any;
}

int faults_point(struct mb_faults *fs, unsigned unit, unsigned model,
		 const char *name, int64_t wall_ns)
{
	for (unsigned i = 0; i < fs->n; i++) {
		struct mb_fault *f = &fs->f[i];

		if (f->type != MBF_EXCEPTION || (f->unit && f->unit != unit))
			continue;
		for (unsigned k = 0; k < f->n_points; k++)
			if (f->points[k].model == model &&
			    !strcmp(f->points[k].name, name))
				return 1;
	}
	(void)wall_ns;
	return 0;
}
