/* views.c - see views.h. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "views.h"

static const char *const alarm_kinds[BS_ALARM_KINDS] = {
    "cell_ov",	"cell_uv",  "cell_ot",	"cell_ut",
    "v_spread", "t_spread", "soc_high", "soc_low",
};
static const char *const tiers[BS_TIERS] = {"warning", "alarm", "protection"};
static const char *const faults[BS_FAULT_KINDS] = {
    "short",	    "high_r",	     "fade", "cooling",
    "sensor_stuck", "sensor_offset", "open", "runaway",
};

const char *view_alarm_kind_name(unsigned kind)
{
	return kind < BS_ALARM_KINDS ? alarm_kinds[kind] : "unknown";
}

const char *view_tier_name(unsigned tier)
{
	return tier < BS_TIERS ? tiers[tier] : "unknown";
}

const char *view_fault_name(unsigned kind)
{
	return kind < BS_FAULT_KINDS ? faults[kind] : "unknown";
}

const char *view_mbfault_name(unsigned kind)
{
	static const char *const names[BS_MBFAULT_KINDS] = {
	    [BS_MBFAULT_DELAY] = "delay",
	    [BS_MBFAULT_SILENCE] = "silence",
	    [BS_MBFAULT_EXCEPTION] = "exception",
	    [BS_MBFAULT_FREEZE] = "freeze",
	    [BS_MBFAULT_DROP] = "drop",
	};

	return kind < BS_MBFAULT_KINDS ? names[kind] : "unknown";
}

const char *view_backend_name(uint32_t backend)
{
	switch (backend) {
	case BS_BACKEND_NONE:
		return "none";
	case BS_BACKEND_CPU:
		return "cpu";
	case BS_BACKEND_CUDA:
		return "cuda";
	case BS_BACKEND_TEST:
		return "test";
	default:
		return "unknown";
	}
}

const char *view_state_name(uint32_t state)
{
	switch (state) {
	case BS_STATE_INIT:
		return "init";
	case BS_STATE_RUNNING:
		return "running";
	case BS_STATE_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

const char *view_profile_name(uint32_t profile)
{
	static const char *const names[] = {"none", "csv", "peak-shaving",
					    "regulation", "cycle"};

	return profile < sizeof names / sizeof names[0] ? names[profile]
							: "unknown";
}

const char *view_mode_name(uint32_t mode)
{
	switch (mode) {
	case BS_MODE_POWER:
		return "power";
	case BS_MODE_CURRENT:
		return "current";
	default:
		return "unknown";
	}
}

json_object *view_number(double v, int digits)
{
	char buf[40];

	if (!isfinite(v))
		return NULL; /* json-c serialises a NULL member as null */
	snprintf(buf, sizeof buf, "%.*g", digits, v);
	/* "-0" is valid JSON but confuses people; print 0. */
	if (buf[0] == '-' && buf[1] == '0' && buf[2] == '\0')
		return json_object_new_double_s(0.0, "0");
	return json_object_new_double_s(v, buf);
}

/* float32 carries about 7 significant digits. */
#define F32 7
#define F64 10

static void add_num(json_object *o, const char *key, double v, int digits)
{
	json_object_object_add(o, key, view_number(v, digits));
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void add_bool(json_object *o, const char *key, int v)
{
	json_object_object_add(o, key, json_object_new_boolean(v != 0));
}

/* {"value", "module", "cell"} for an extreme at a flat index within a
 * rack (module * cells_per_module + cell). */
static json_object *extreme_in_rack(const struct bs_geometry *h, double v,
				    uint32_t flat)
{
	json_object *o = json_object_new_object();
	uint32_t cpm = h->cells_per_module ? h->cells_per_module : 1;

	add_num(o, "value", v, F32);
	add_u64(o, "module", flat / cpm);
	add_u64(o, "cell", flat % cpm);
	return o;
}

/* {"value", "cell"} for an extreme within a module. */
static json_object *extreme_in_module(double v, uint32_t cell)
{
	json_object *o = json_object_new_object();

	add_num(o, "value", v, F32);
	add_u64(o, "cell", cell);
	return o;
}

json_object *view_cell_fields(const struct bs_cell *c)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_num(o, "voltage", c->voltage, F32);
	add_num(o, "current", c->current, F32);
	add_num(o, "temperature", c->temperature, F32);
	add_num(o, "soc", c->soc * 100.0f, F32);
	add_num(o, "resistance", c->resistance, F32);
	return o;
}

json_object *view_rack_alarms(const struct bs_geometry *h,
			      const struct bs_rack *rack)
{
	json_object *a = json_object_new_array();
	uint32_t bits = rack->alarm_active | rack->alarm_latched;
	uint32_t cpm = h->cells_per_module ? h->cells_per_module : 1;

	if (!a)
		return NULL;
	for (unsigned t = 0; t < BS_TIERS; t++) {
		for (unsigned k = 0; k < BS_ALARM_KINDS; k++) {
			uint32_t bit = BS_ALARM_BIT(t, k);
			json_object *e;

			if (!(bits & bit))
				continue;
			e = json_object_new_object();
			add_str(e, "kind", alarm_kinds[k]);
			add_str(e, "tier", tiers[t]);
			add_bool(e, "active", rack->alarm_active & bit);
			add_bool(e, "latched", rack->alarm_latched & bit);
			add_u64(e, "module", rack->alarm_cell[k] / cpm);
			add_u64(e, "cell", rack->alarm_cell[k] % cpm);
			add_num(e, "time_s", rack->alarm_time_s[k], F64);
			json_object_array_add(a, e);
		}
	}
	return a;
}

json_object *view_alarm_bits(uint32_t bits)
{
	json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (unsigned t = 0; t < BS_TIERS; t++) {
		for (unsigned k = 0; k < BS_ALARM_KINDS; k++) {
			json_object *e;

			if (!(bits & BS_ALARM_BIT(t, k)))
				continue;
			e = json_object_new_object();
			add_str(e, "kind", alarm_kinds[k]);
			add_str(e, "tier", tiers[t]);
			json_object_array_add(a, e);
		}
	}
	return a;
}

json_object *view_fault_bits(uint32_t bits)
{
	json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	for (unsigned k = 0; k < BS_FAULT_KINDS; k++)
		if (bits & (1u << k))
			json_object_array_add(
			    a, json_object_new_string(faults[k]));
	return a;
}

static json_object *tier_counts(const uint32_t *count)
{
	json_object *o = json_object_new_object();

	for (unsigned t = 0; t < BS_TIERS; t++)
		add_u64(o, tiers[t], count[t]);
	return o;
}

json_object *view_site(const struct bs_site *s, uint32_t n_racks)
{
	json_object *o = json_object_new_object();
	json_object *al;

	if (!o)
		return NULL;
	add_num(o, "voltage", s->bus_voltage_v, F32);
	add_num(o, "current", s->current_a, F32);
	add_num(o, "power", s->power_w, F32);
	add_num(o, "soc", s->soc_mean * 100.0f, F32);
	add_num(o, "energy_out_wh", s->energy_out_wh, F64);
	add_num(o, "energy_in_wh", s->energy_in_wh, F64);
	add_str(o, "mode", view_mode_name(s->mode));
	add_num(o, "setpoint", s->setpoint, F32);
	add_str(o, "profile", view_profile_name(s->profile));
	add_num(o, "ambient", s->ambient_c, F32);
	add_num(o, "cell_voltage_min", s->cell_v_min, F32);
	add_num(o, "cell_voltage_max", s->cell_v_max, F32);
	add_num(o, "temperature_min", s->temp_min_c, F32);
	add_num(o, "temperature_max", s->temp_max_c, F32);
	add_num(o, "charge_limit", s->charge_limit_a, F32);
	add_num(o, "discharge_limit", s->discharge_limit_a, F32);
	add_u64(o, "racks", n_racks);
	add_u64(o, "racks_closed", s->racks_closed);
	add_u64(o, "faults_active", s->faults_active);
	/* the simulated clock: stopped by an operator, and its rate (1 real
	 * time, N faster, 0 as fast as possible) */
	add_bool(o, "paused", s->paused);
	add_num(o, "speed", s->speed, F32);
	al = json_object_new_object();
	json_object_object_add(al, "active", tier_counts(s->alarm_count));
	json_object_object_add(al, "latched", tier_counts(s->latched_count));
	json_object_object_add(o, "alarms", al);
	return o;
}

json_object *view_rack_summary(const struct bs_geometry *h, uint32_t rack,
			       const struct bs_rack *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_u64(o, "rack", rack);
	add_num(o, "voltage", r->voltage_v, F32);
	add_num(o, "current", r->current_a, F32);
	add_num(o, "power", r->power_w, F32);
	add_num(o, "soc", r->soc_mean * 100.0f, F32);
	json_object_object_add(
	    o, "cell_voltage_min",
	    extreme_in_rack(h, r->cell_v_min, r->v_min_cell));
	json_object_object_add(
	    o, "cell_voltage_max",
	    extreme_in_rack(h, r->cell_v_max, r->v_max_cell));
	add_num(o, "cell_voltage_mean", r->cell_v_mean, F32);
	json_object_object_add(
	    o, "temperature_min",
	    extreme_in_rack(h, r->temp_min_c, r->t_min_cell));
	json_object_object_add(
	    o, "temperature_max",
	    extreme_in_rack(h, r->temp_max_c, r->t_max_cell));
	add_num(o, "temperature_mean", r->temp_mean_c, F32);
	add_num(o, "charge_limit", r->charge_limit_a, F32);
	add_num(o, "discharge_limit", r->discharge_limit_a, F32);
	add_str(o, "contactor", r->contactor ? "closed" : "open");
	add_bool(o, "operator_open", r->operator_open);
	if (r->soh_mean > 0.0f) { /* abi_minor 2, as in view_site */
		add_num(o, "soh", r->soh_mean * 100.0f, F32);
		json_object_object_add(
		    o, "soh_min",
		    extreme_in_rack(h, r->soh_min * 100.0f, r->soh_min_cell));
		add_num(o, "equivalent_cycles", r->efc_mean, F32);
	}
	json_object_object_add(o, "alarms", view_rack_alarms(h, r));
	json_object_object_add(o, "faults", view_fault_bits(r->fault_bits));
	return o;
}

json_object *view_soc_reserve(const struct bs_site *s)
{
	json_object *o = json_object_new_object();
	double hi = s->soc_reserve_max;

	if (!o)
		return NULL;
	if (s->soc_reserve_min == 0.0f && hi == 0.0)
		hi = 1.0; /* an abi_minor 0 writer: no reserve */
	add_num(o, "min", s->soc_reserve_min * 100.0f, F32);
	add_num(o, "max", hi * 100.0, F32);
	return o;
}

json_object *view_modbus(const struct bs_site *s)
{
	json_object *o = json_object_new_object(), *f;

	if (!o)
		return NULL;
	add_bool(o, "alive", s->mb_alive);
	add_u64(o, "clients", s->mb_clients);
	add_u64(o, "requests", s->mb_requests);
	f = json_object_new_array();
	for (unsigned k = 0; k < BS_MBFAULT_KINDS; k++)
		if (s->mb_fault_bits & (1u << k))
			json_object_array_add(
			    f, json_object_new_string(view_mbfault_name(k)));
	json_object_object_add(o, "faults", f);
	add_u64(o, "fault_revision", s->mb_fault_revision);
	return o;
}

static void add_meta(json_object *o, const struct bs_meta *m)
{
	add_u64(o, "tick", m->tick);
	add_num(o, "time_s", m->sim_time_s, F64);
}

json_object *view_summary(const struct bs_geometry *h,
			  const struct bs_meta *m, const struct bs_site *s,
			  const struct bs_rack *racks, int stale)
{
	json_object *o = json_object_new_object();
	json_object *topo, *arr;

	if (!o)
		return NULL;
	add_meta(o, m);
	add_int(o, "wall_time_ns", m->wall_time_ns);
	add_u64(o, "generation", m->generation);
	add_bool(o, "stale", stale);
	topo = json_object_new_object();
	add_u64(topo, "racks", h->n_racks);
	add_u64(topo, "modules_per_rack", h->modules_per_rack);
	add_u64(topo, "cells_per_module", h->cells_per_module);
	add_u64(topo, "cells", h->n_cells);
	json_object_object_add(o, "topology", topo);
	json_object_object_add(o, "site", view_site(s, h->n_racks));
	json_object_object_add(o, "soc_reserve", view_soc_reserve(s));
	json_object_object_add(o, "modbus", view_modbus(s));
	view_site_ext(h, json_object_object_get(o, "site"), s);
	arr = json_object_new_array_ext((int)h->n_racks);
	for (uint32_t r = 0; r < h->n_racks; r++)
		json_object_array_add(arr, view_rack_summary(h, r, &racks[r]));
	json_object_object_add(o, "racks", arr);
	return o;
}

/* Module aggregates into o. */
static void add_module_fields(json_object *o, const struct bs_module *rec)
{
	add_num(o, "voltage", rec->voltage_v, F32);
	add_num(o, "current", rec->current_a, F32);
	add_num(o, "soc", rec->soc_mean * 100.0f, F32);
	json_object_object_add(
	    o, "cell_voltage_min",
	    extreme_in_module(rec->cell_v_min, rec->v_min_cell));
	json_object_object_add(
	    o, "cell_voltage_max",
	    extreme_in_module(rec->cell_v_max, rec->v_max_cell));
	add_num(o, "cell_voltage_mean", rec->cell_v_mean, F32);
	json_object_object_add(
	    o, "temperature_min",
	    extreme_in_module(rec->temp_min_c, rec->t_min_cell));
	json_object_object_add(
	    o, "temperature_max",
	    extreme_in_module(rec->temp_max_c, rec->t_max_cell));
	add_num(o, "temperature_mean", rec->temp_mean_c, F32);
	add_str(o, "contactor", rec->contactor ? "closed" : "open");
	json_object_object_add(o, "alarms", view_alarm_bits(rec->alarm_bits));
}

static json_object *cell_array(const struct bs_cell *cells, uint32_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (uint32_t i = 0; i < n; i++)
		json_object_array_add(a, view_cell_fields(&cells[i]));
	return a;
}

json_object *view_module(const struct bs_geometry *h, const struct bs_meta *m,
			 uint32_t rack, uint32_t module,
			 const struct bs_module *rec,
			 const struct bs_cell *cells)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_u64(o, "rack", rack);
	add_u64(o, "module", module);
	add_meta(o, m);
	if (rec)
		add_module_fields(o, rec);
	if (cells)
		json_object_object_add(o, "cells",
				       cell_array(cells, h->cells_per_module));
	return o;
}

json_object *view_rack_modules(const struct bs_geometry *h,
			       const struct bs_module *modules)
{
	json_object *arr = json_object_new_array_ext((int)h->modules_per_rack);

	if (!arr)
		return NULL;
	for (uint32_t i = 0; i < h->modules_per_rack; i++) {
		json_object *mo = json_object_new_object();

		add_u64(mo, "module", i);
		add_module_fields(mo, &modules[i]);
		json_object_array_add(arr, mo);
	}
	return arr;
}

static json_object *tier_values(const double *v)
{
	json_object *o = json_object_new_object();

	for (unsigned t = 0; t < BS_TIERS && t < 3; t++)
		add_num(o, tiers[t], v[t], F32);
	return o;
}

json_object *view_limits(const struct bsd_config *cfg)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_str(o, "source", "configuration");
	json_object_object_add(
	    o, "chemistry",
	    json_object_new_string_len(
		cfg->cell.chemistry,
		(int)strnlen(cfg->cell.chemistry, sizeof cfg->cell.chemistry)));
	add_num(o, "cell_voltage_min", cfg->cell.v_min, F32);
	add_num(o, "cell_voltage_max", cfg->cell.v_max, F32);
	json_object_object_add(o, "cell_ov", tier_values(cfg->bms.cell_ov_v));
	json_object_object_add(o, "cell_uv", tier_values(cfg->bms.cell_uv_v));
	json_object_object_add(o, "cell_ot", tier_values(cfg->bms.cell_ot_c));
	json_object_object_add(o, "cell_ut", tier_values(cfg->bms.cell_ut_c));
	return o;
}

json_object *view_rack(const struct bs_geometry *h, const struct bs_meta *m,
		       uint32_t rack, const struct bs_rack *rec,
		       const struct bs_module *modules,
		       const struct bs_cell *cells, int with_cells)
{
	json_object *o = view_rack_summary(h, rack, rec);
	json_object *arr;

	if (!o)
		return NULL;
	add_meta(o, m);
	arr = json_object_new_array_ext((int)h->modules_per_rack);
	for (uint32_t i = 0; i < h->modules_per_rack; i++) {
		json_object *mo = json_object_new_object();

		add_u64(mo, "module", i);
		add_module_fields(mo, &modules[i]);
		if (with_cells && cells)
			json_object_object_add(
			    mo, "cells",
			    cell_array(cells + (size_t)i * h->cells_per_module,
				       h->cells_per_module));
		json_object_array_add(arr, mo);
	}
	json_object_object_add(o, "modules", arr);
	return o;
}

json_object *view_cell(const struct bs_geometry *h, const struct bs_meta *m,
		       uint32_t rack, uint32_t module, uint32_t cell,
		       const struct bs_cell *c)
{
	json_object *o = view_cell_fields(c);
	json_object *full = json_object_new_object();
	(void)h;

	if (!o || !full) {
		json_object_put(o);
		json_object_put(full);
		return NULL;
	}
	add_u64(full, "rack", rack);
	add_u64(full, "module", module);
	add_u64(full, "cell", cell);
	add_meta(full, m);
	json_object_object_foreach(o, key, val)
	{
		json_object_object_add(full, key, json_object_get(val));
	}
	json_object_put(o);
	return full;
}

json_object *view_info(const struct bs_info *i)
{
	json_object *o = json_object_new_object();
	json_object *topo;

	if (!o)
		return NULL;
	add_str(o, "state", view_state_name(i->state));
	add_u64(o, "generation", i->generation);
	add_int(o, "writer_pid", i->writer_pid);
	add_str(o, "backend", view_backend_name(i->backend));
	json_object_object_add(
	    o, "chemistry",
	    json_object_new_string_len(
		i->chemistry, (int)strnlen(i->chemistry, sizeof i->chemistry)));
	add_num(o, "heartbeat_age_ms", (double)i->heartbeat_age_ns / 1e6, F64);
	add_num(o, "tick_period_ms", (double)i->tick_period_ns / 1e6, F64);
	add_num(o, "dt_ms", (double)i->dt_ns / 1e6, F64);
	add_int(o, "writer_start_ns", i->writer_start_ns);
	add_u64(o, "slots", i->n_slots);
	add_u64(o, "abi_major", i->abi_major);
	add_u64(o, "abi_minor", i->abi_minor);
	topo = json_object_new_object();
	add_u64(topo, "racks", i->topo.racks);
	add_u64(topo, "modules_per_rack", i->topo.modules_per_rack);
	add_u64(topo, "cells_per_module", i->topo.cells_per_module);
	add_u64(topo, "cells", i->n_cells);
	json_object_object_add(o, "topology", topo);
	return o;
}

void view_site_ext(const struct bs_geometry *h, json_object *o,
		   const struct bs_site *s)
{
	json_object *w;
	/* abi_minor 2 (a writer that does not publish it leaves 0; a
	 * published SoH is never below 5 %) */
	if (!o || !(s->soh_mean > 0.0f))
		return;
	add_num(o, "soh", s->soh_mean * 100.0f, F32);
	w = extreme_in_rack(h, s->soh_min * 100.0f, s->soh_min_cell);
	add_u64(w, "rack", s->soh_min_rack);
	json_object_object_add(o, "soh_min", w);
	add_num(o, "equivalent_cycles", s->efc_mean, F32);
}

void view_module_ext(json_object *o, const struct bs_module_ext *x)
{
	if (!o || !x || !(x->soh_mean > 0.0f))
		return;
	add_num(o, "soh", x->soh_mean * 100.0f, F32);
	json_object_object_add(
	    o, "soh_min", extreme_in_module(x->soh_min * 100.0f, x->soh_min_cell));
	add_num(o, "equivalent_cycles", x->efc_mean, F32);
}

void view_cell_ext(json_object *o, const struct bs_cell_ext *x)
{
	if (!o || !x || !(x->soh > 0.0f))
		return;
	add_num(o, "soh", x->soh * 100.0f, F32);
	add_num(o, "hysteresis", x->hysteresis, F32);
}

/* The cells array of module object mo, extended from x[]. */
static void cells_ext(json_object *mo, const struct bs_cell_ext *x)
{
	json_object *cells;
	if (!json_object_object_get_ex(mo, "cells", &cells))
		return;
	for (size_t k = 0; k < json_object_array_length(cells); k++)
		view_cell_ext(json_object_array_get_idx(cells, k), &x[k]);
}

void view_rack_ext(const struct bs_geometry *h, json_object *rack,
		   const struct bs_module_ext *mx, const struct bs_cell_ext *cx)
{
	json_object *mods;
	if (!rack || !json_object_object_get_ex(rack, "modules", &mods))
		return;
	for (size_t i = 0; i < json_object_array_length(mods); i++) {
		json_object *mo = json_object_array_get_idx(mods, i);
		if (mx)
			view_module_ext(mo, &mx[i]);
		if (cx)
			cells_ext(mo, cx + i * h->cells_per_module);
	}
}

void view_module_ext_all(json_object *module, const struct bs_module_ext *mx,
			 const struct bs_cell_ext *cx)
{
	if (mx)
		view_module_ext(module, mx);
	if (cx)
		cells_ext(module, cx);
}

const char *view_to_string(json_object *obj)
{
	return json_object_to_json_string_ext(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}
