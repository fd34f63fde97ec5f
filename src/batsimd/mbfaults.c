/* mbfaults.c - see mbfaults.h. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "mbfaults.h"

static const char *const type_names[BS_MBFAULT_KINDS] = {
    [BS_MBFAULT_DELAY] = "delay",	  [BS_MBFAULT_SILENCE] = "silence",
    [BS_MBFAULT_EXCEPTION] = "exception", [BS_MBFAULT_FREEZE] = "freeze",
    [BS_MBFAULT_DROP] = "drop",
};

/* The parameters each type takes (the request fields besides cmd,
 * action, type and unit). */
static const char *const type_params[BS_MBFAULT_KINDS] = {
    [BS_MBFAULT_DELAY] = "\"ms\" (1 to 60000)",
    [BS_MBFAULT_SILENCE] = "\"seconds\" (1 to 3600) or \"every\" (N >= 2)",
    [BS_MBFAULT_EXCEPTION] = "\"points\" (1 to 16 names like \"704.WSet\")",
    [BS_MBFAULT_FREEZE] = "\"what\": \"values\" or \"all\"",
    [BS_MBFAULT_DROP] = "\"every\" (N >= 1)",
};

void mbf_init(struct mbf_state *m)
{
	memset(m, 0, sizeof *m);
}

const char *mbf_type_name(uint32_t type)
{
	return type < BS_MBFAULT_KINDS ? type_names[type] : "unknown";
}

static int type_of(const char *name)
{
	for (int k = 0; k < (int)BS_MBFAULT_KINDS; k++)
		if (!strcmp(name, type_names[k]))
			return k;
	return -1;
}

/* An integer field in [lo, hi]: 1 found, 0 absent, -1 bad. */
static int get_uint(json_object *req, const char *key, int64_t lo, int64_t hi,
		    int64_t *out, char *err, size_t errlen)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < lo || json_object_get_int64(v) > hi) {
		snprintf(err, errlen,
			 "\"%s\" must be an integer from %lld to %lld", key,
			 (long long)lo, (long long)hi);
		return -1;
	}
	*out = json_object_get_int64(v);
	return 1;
}

/* "704.WSet": a model number, a dot, a point name of letters, digits
 * and '_' (batsim-modbusd checks that the point exists). */
static int point_syntax(const char *p)
{
	size_t i = 0, n = strlen(p);

	if (n == 0 || n > MBF_POINT_LEN)
		return 0;
	while (p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 0 || p[i] != '.' || !p[i + 1])
		return 0;
	for (i++; p[i]; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return 0;
	return 1;
}

/* A parameter given that the type does not take. */
static int stray(json_object *req, const char *const *keys, int type,
		 char *err, size_t errlen)
{
	for (int i = 0; keys[i]; i++)
		if (json_object_object_get_ex(req, keys[i], NULL)) {
			snprintf(err, errlen,
				 "modbus_fault %s takes %s, not \"%s\"",
				 type_names[type], type_params[type], keys[i]);
			return -1;
		}
	return 0;
}

int mbf_set(struct mbf_state *m, json_object *req, uint32_t racks,
	    double now_s, int64_t wall_ns, char *err, size_t errlen)
{
	struct mbf_fault f;
	json_object *v;
	int64_t x = 0, max_unit = 1 + (int64_t)racks;
	int type, rc;
	unsigned i;

	if (max_unit > 247)
		max_unit = 247; /* the last Modbus unit id */
	memset(&f, 0, sizeof f);
	if (!json_object_object_get_ex(req, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (type = type_of(json_object_get_string(v))) < 0) {
		snprintf(err, errlen,
			 "modbus_fault set needs \"type\": delay, silence, "
			 "exception, freeze or drop");
		return -1;
	}
	f.type = (uint32_t)type;
	rc = get_uint(req, "unit", 0, max_unit, &x, err, errlen);
	if (rc < 0) {
		snprintf(err, errlen,
			 "\"unit\" must be an integer from 0 to %lld: 0 (or "
			 "none) the whole device, 1 the site, 2 + r rack r",
			 (long long)max_unit);
		return -1;
	}
	f.unit = rc ? (uint32_t)x : 0;
	switch (type) {
	case BS_MBFAULT_DELAY:
		if (stray(req, (const char *const[]){"seconds", "every",
						     "points", "what", NULL},
			  type, err, errlen))
			return -1;
		rc = get_uint(req, "ms", 1, 60000, &x, err, errlen);
		if (rc <= 0)
			goto need;
		f.ms = (uint32_t)x;
		break;
	case BS_MBFAULT_SILENCE:
		if (stray(req, (const char *const[]){"ms", "points", "what", NULL},
			  type, err, errlen))
			return -1;
		if (json_object_object_get_ex(req, "seconds", NULL) ==
		    json_object_object_get_ex(req, "every", NULL)) {
			snprintf(err, errlen,
				 "modbus_fault silence takes one of "
				 "\"seconds\" (1 to 3600) or \"every\" "
				 "(N >= 2)");
			return -1;
		}
		rc = get_uint(req, "seconds", 1, 3600, &x, err, errlen);
		if (rc < 0)
			return -1;
		if (rc) {
			f.seconds = (uint32_t)x;
			f.until_wall_ns = wall_ns + (int64_t)x * 1000000000;
			break;
		}
		rc = get_uint(req, "every", 2, UINT32_MAX, &x, err, errlen);
		if (rc <= 0)
			return -1;
		f.every = (uint32_t)x;
		break;
	case BS_MBFAULT_EXCEPTION:
		if (stray(req, (const char *const[]){"ms", "seconds", "every",
						     "what", NULL},
			  type, err, errlen))
			return -1;
		if (!json_object_object_get_ex(req, "points", &v) ||
		    !json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) < 1 ||
		    json_object_array_length(v) > MBF_MAX_POINTS)
			goto need;
		for (i = 0; i < json_object_array_length(v); i++) {
			json_object *p = json_object_array_get_idx(v, i);
			const char *s;

			if (!json_object_is_type(p, json_type_string) ||
			    !point_syntax(s = json_object_get_string(p))) {
				snprintf(err, errlen,
					 "\"points\"[%u] must be a point name "
					 "MODEL.POINT of at most %d "
					 "characters, e.g. \"704.WSet\"",
					 i, MBF_POINT_LEN);
				return -1;
			}
			snprintf(f.points[i], sizeof f.points[i], "%s", s);
		}
		f.n_points = i;
		break;
	case BS_MBFAULT_FREEZE:
		if (stray(req, (const char *const[]){"ms", "seconds", "every",
						     "points", NULL},
			  type, err, errlen))
			return -1;
		if (!json_object_object_get_ex(req, "what", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    (strcmp(json_object_get_string(v), "values") &&
		     strcmp(json_object_get_string(v), "all")))
			goto need;
		f.freeze_all = !strcmp(json_object_get_string(v), "all");
		break;
	default: /* BS_MBFAULT_DROP */
		if (stray(req, (const char *const[]){"ms", "seconds", "points",
						     "what", NULL},
			  type, err, errlen))
			return -1;
		rc = get_uint(req, "every", 1, UINT32_MAX, &x, err, errlen);
		if (rc <= 0)
			goto need;
		f.every = (uint32_t)x;
		break;
	}
	f.since_s = now_s;
	for (i = 0; i < m->n; i++)
		if (m->f[i].type == f.type && m->f[i].unit == f.unit)
			break;
	if (i == m->n) {
		if (m->n == MBF_MAX) {
			snprintf(err, errlen,
				 "%d protocol faults are set, the most "
				 "batsimd holds: clear some first",
				 MBF_MAX);
			return -1;
		}
		m->n++;
	}
	m->f[i] = f;
	m->revision++;
	return 0;
need:
	if (rc >= 0) /* else get_uint said what is wrong */
		snprintf(err, errlen, "modbus_fault %s needs %s",
			 type_names[type], type_params[type]);
	return -1;
}

int mbf_clear(struct mbf_state *m, const char *type, int64_t unit, char *err,
	      size_t errlen)
{
	int all = !strcmp(type, "all"), k = all ? -1 : type_of(type);
	unsigned i, j, cleared = 0;

	if (!all && k < 0) {
		snprintf(err, errlen,
			 "unknown protocol fault type \"%.40s\": delay, "
			 "silence, exception, freeze, drop or all",
			 type);
		return -1;
	}
	for (i = j = 0; i < m->n; i++) {
		if ((all || m->f[i].type == (uint32_t)k) &&
		    (unit < 0 || m->f[i].unit == (uint32_t)unit)) {
			cleared++;
			continue;
		}
		m->f[j++] = m->f[i];
	}
	m->n = j;
	if (cleared)
		m->revision++;
	return (int)cleared;
}

void mbf_expire(struct mbf_state *m, int64_t wall_ns)
{
	unsigned i, j, n = m->n;

	for (i = j = 0; i < n; i++)
		if (!(m->f[i].until_wall_ns && m->f[i].until_wall_ns <= wall_ns))
			m->f[j++] = m->f[i];
	m->n = j;
	if (j != n)
		m->revision++;
}

json_object *mbf_list_json(const struct mbf_state *m)
{
	json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < m->n; i++) {
		const struct mbf_fault *f = &m->f[i];
		json_object *o = json_object_new_object(), *p;

		json_object_object_add(
		    o, "type", json_object_new_string(type_names[f->type]));
		json_object_object_add(o, "unit",
				       json_object_new_int((int)f->unit));
		switch (f->type) {
		case BS_MBFAULT_DELAY:
			json_object_object_add(o, "ms",
					       json_object_new_int64(f->ms));
			break;
		case BS_MBFAULT_SILENCE:
			if (f->seconds) {
				json_object_object_add(
				    o, "seconds",
				    json_object_new_int64(f->seconds));
				json_object_object_add(
				    o, "until_wall_ns",
				    json_object_new_int64(f->until_wall_ns));
			} else {
				json_object_object_add(
				    o, "every",
				    json_object_new_int64(f->every));
			}
			break;
		case BS_MBFAULT_EXCEPTION:
			p = json_object_new_array();
			for (unsigned k = 0; k < f->n_points; k++)
				json_object_array_add(
				    p, json_object_new_string(f->points[k]));
			json_object_object_add(o, "points", p);
			break;
		case BS_MBFAULT_FREEZE:
			json_object_object_add(
			    o, "what",
			    json_object_new_string(f->freeze_all ? "all"
								 : "values"));
			break;
		default:
			json_object_object_add(o, "every",
					       json_object_new_int64(f->every));
			break;
		}
		json_object_object_add(o, "since_s",
				       json_object_new_double(f->since_s));
		json_object_array_add(arr, o);
	}
	return arr;
}

void mbf_report(struct mbf_state *m, uint32_t clients, uint64_t requests,
		uint64_t now_ns)
{
	m->clients = clients;
	m->requests = requests;
	m->report_ns = now_ns;
	m->reported = 1;
}

int mbf_alive(const struct mbf_state *m, uint64_t now_ns)
{
	return m->reported && now_ns - m->report_ns < MBF_ALIVE_NS;
}

uint32_t mbf_bits(const struct mbf_state *m)
{
	uint32_t bits = 0;

	for (unsigned i = 0; i < m->n; i++)
		bits |= 1u << m->f[i].type;
	return bits;
}

void mbf_publish(const struct mbf_state *m, struct bs_site *site,
		 uint64_t now_ns)
{
	site->mb_fault_bits = mbf_bits(m);
	site->mb_fault_revision = m->revision;
	site->mb_clients = m->clients;
	site->mb_requests = m->requests;
	site->mb_alive = mbf_alive(m, now_ns) ? 1u : 0u;
}
