/*
 * views.h - the JSON shapes of the batsim API (batsim-httpd(8) REST and
 * Server-Sent Events, batsimctl --json), built with json-c from the
 * records of one consistent snapshot.
 *
 * Conventions (documented in batsim-httpd(8)):
 *  - cell fields are named as in the original design: voltage (V),
 *    current (A, + = discharge), temperature (degC), soc (PERCENT 0-100,
 *    the segment stores 0-1), resistance (ohm);
 *  - aggregates use the same base names with _min/_max/_mean suffixes and
 *    give extremes as {"value", "module", "cell"} objects;
 *  - alarms are lists of {"kind", "tier", ...} with the kind and tier names
 *    of docs/control-protocol.md (cell_ov ... soc_low; warning, alarm,
 *    protection);
 *  - numbers that are not finite (NaN, inf) become null, since JSON has no
 *    such values.
 *
 * Every builder returns a new object the caller owns (json_object_put), or
 * NULL when out of memory.  None of them reads shared memory: pass copies
 * made by the bs_read_* functions.
 */
#ifndef BATSIM_COMMON_VIEWS_H
#define BATSIM_COMMON_VIEWS_H

#include <stdint.h>

#include <json-c/json.h>

#include "batsim/batsim.h"

struct bsd_config;

/* Names of codes; "unknown" for a value out of range, never NULL. */
const char *view_alarm_kind_name(unsigned kind); /* "cell_ov", ... */
const char *view_tier_name(unsigned tier);	 /* "warning", ... */
const char *view_fault_name(unsigned kind);	 /* "short", ... */
const char *view_backend_name(uint32_t backend); /* "cpu", "cuda", ... */
const char *view_mbfault_name(unsigned kind);	 /* "delay", ... */
const char *view_state_name(uint32_t state);	 /* "running", ... */
const char *view_profile_name(uint32_t profile); /* "none", "csv", ... */
const char *view_mode_name(uint32_t mode);	 /* "power", "current" */

/* A number printed with `digits` significant digits (null when not
 * finite): keeps float32 data from printing as 3.2100000381469727. */
json_object *view_number(double v, int digits);

/* One cell: {"voltage","current","temperature","soc"(percent),
 * "resistance"}. */
json_object *view_cell_fields(const struct bs_cell *c);

/* Active/latched alarms of a rack: [{"kind","tier","active","latched",
 * "module","cell","time_s"}] for every bit set in active | latched;
 * module and cell locate the cell that first raised the kind. */
json_object *view_rack_alarms(const struct bs_geometry *h,
			      const struct bs_rack *rack);

/* Alarm bits without locations (module records): [{"kind","tier"}]. */
json_object *view_alarm_bits(uint32_t bits);

/* Fault bits of a rack: ["short", "open", ...]. */
json_object *view_fault_bits(uint32_t bits);

/* The site record: {"voltage","current","power","soc","energy_out_wh",
 * "energy_in_wh","setpoint","mode","ambient",...,"alarms":{"active":
 * {"warning":n,...},"latched":{...}}}. */
json_object *view_site(const struct bs_site *s, uint32_t n_racks);

/* Rack aggregates (no modules): {"rack","voltage","current","power","soc",
 * "cell_voltage_min":{"value","module","cell"},...,"contactor":"closed"|
 * "open","alarms":[...],"faults":[...]}. */
json_object *view_rack_summary(const struct bs_geometry *h, uint32_t rack,
			       const struct bs_rack *rec);

/* The SoC reserve window of a site record in percent: {"min","max"}
 * (0 and 100 when none). */
json_object *view_soc_reserve(const struct bs_site *s);

/* The Modbus state of a site record: {"alive","clients","requests",
 * "faults":["delay",...],"fault_revision"}. */
json_object *view_modbus(const struct bs_site *s);

/* GET /summary: {"tick","time_s","wall_time_ns","generation","stale",
 * "topology":{...},"site":{...},"soc_reserve":{...},"modbus":{...},
 * "racks":[rack summaries]}. */
json_object *view_summary(const struct bs_geometry *h,
			  const struct bs_meta *m, const struct bs_site *s,
			  const struct bs_rack *racks, int stale);

/* Module aggregates of one rack without cells, for GET /summary?modules=1:
 * [{"module", "voltage","current","soc","cell_voltage_min":{"value",
 * "cell"},...,"temperature_max":{...},"contactor","alarms":[...]}] for
 * the modules_per_rack records at modules (the same objects as the
 * "modules" of GET /rack/{r}?cells=0). */
json_object *view_rack_modules(const struct bs_geometry *h,
			       const struct bs_module *modules);

/* Cell limits of a configuration (batsim-httpd's own batsim.conf, which
 * may differ from the simulator's): {"source":"configuration",
 * "chemistry","cell_voltage_min","cell_voltage_max","cell_ov":{"warning",
 * "alarm","protection"},"cell_uv":{...},"cell_ot":{...},"cell_ut":{...}}
 * (voltages in V, temperatures in degC). */
json_object *view_limits(const struct bsd_config *cfg);

/* GET /rack/{r}/module/{m}: {"rack","module","tick","time_s", module
 * aggregates when rec is not NULL, "cells":[cells_per_module cells]}
 * (cells omitted when cells is NULL). */
json_object *view_module(const struct bs_geometry *h, const struct bs_meta *m,
			 uint32_t rack, uint32_t module,
			 const struct bs_module *rec,
			 const struct bs_cell *cells);

/* GET /rack/{r}: the rack summary plus "tick","time_s" and "modules":
 * [{"module", aggregates, "cells" when with_cells}]; cells points at
 * modules_per_rack * cells_per_module records (NULL when !with_cells). */
json_object *view_rack(const struct bs_geometry *h, const struct bs_meta *m,
		       uint32_t rack, const struct bs_rack *rec,
		       const struct bs_module *modules,
		       const struct bs_cell *cells, int with_cells);

/* GET /rack/{r}/module/{m}/cell/{c}: {"rack","module","cell","tick",
 * "time_s", cell fields}. */
json_object *view_cell(const struct bs_geometry *h, const struct bs_meta *m,
		       uint32_t rack, uint32_t module, uint32_t cell,
		       const struct bs_cell *c);

/* Writer details from bs_reader_info: {"state","generation","writer_pid",
 * "backend","chemistry","heartbeat_age_ms","tick_period_ms","dt_ms",
 * "writer_start_ns","topology":{"racks","modules_per_rack",
 * "cells_per_module","cells"},"slots"}. */
json_object *view_info(const struct bs_info *i);

/* abi_minor 2: state of health (percent, like soc) and equivalent full
 * cycles.  Each adds its fields to an object built above, and nothing
 * when the writer did not publish them:
 *   view_site_ext: "soh", "soh_min":{"value","rack","module","cell"},
 *     "equivalent_cycles" (view_summary calls it; the rack summaries
 *     carry "soh", "soh_min":{"value","module","cell"} and
 *     "equivalent_cycles" by themselves);
 *   view_module_ext: "soh", "soh_min":{"value","cell"},
 *     "equivalent_cycles" into a module object;
 *   view_cell_ext: "soh", "hysteresis" (-1 discharge .. +1 charge
 *     branch) into a cell object;
 *   view_rack_ext: both into every module (mx[modules_per_rack]) and cell
 *     (cx[cells of the rack]) of a view_rack object (either may be NULL);
 *   view_module_ext_all: the same for a view_module object. */
void view_site_ext(const struct bs_geometry *h, json_object *site,
                   const struct bs_site *s);
void view_module_ext(json_object *module, const struct bs_module_ext *x);
void view_cell_ext(json_object *cell, const struct bs_cell_ext *x);
void view_rack_ext(const struct bs_geometry *h, json_object *rack,
                   const struct bs_module_ext *mx,
                   const struct bs_cell_ext *cx);
void view_module_ext_all(json_object *module, const struct bs_module_ext *mx,
                         const struct bs_cell_ext *cx);

/* Serialise without spaces; the string belongs to obj. */
const char *view_to_string(json_object *obj);

#endif /* BATSIM_COMMON_VIEWS_H */
