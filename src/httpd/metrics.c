/*
 * metrics.c - GET /metrics: Prometheus text exposition format 0.0.4.
 *
 * One # HELP and # TYPE line per family before its samples, samples of a
 * family contiguous, base units (volts, amperes, celsius, watts, joules,
 * seconds, ratio 0-1), counters ending in _total.  Site, rack and module
 * aggregates always; per-cell series only with metrics_cells = yes.
 * Data series appear only while the data is live (batsim_up 1): stale
 * data is never exported as current values.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "reply.h"
#include "log.h"
#include "views.h"

static void family(struct buf *b, const char *name, const char *type,
		   const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Samples print with 7 significant digits (the segment's float32
 * carries no more); doubles (energy, time) go through sample_d. */
static void value_digits(struct buf *b, double v, int digits)
{
	if (isnan(v))
		buf_puts(b, " NaN\n");
	else if (isinf(v))
		buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
	else
		buf_printf(b, " %.*g\n", digits, v);
}

static void value(struct buf *b, double v)
{
	value_digits(b, v, 7);
}

static void sample_d(struct buf *b, const char *name, double v)
{
	buf_puts(b, name);
	value_digits(b, v, 15);
}

static void sample(struct buf *b, const char *name, double v)
{
	buf_puts(b, name);
	value(b, v);
}

/* Label value escaping: backslash, double quote and newline. */
static void label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '"')
			buf_puts(b, "\\\"");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

static unsigned popcount_tier(uint32_t bits, unsigned tier)
{
	return (unsigned)__builtin_popcount((bits >> (tier * BS_ALARM_KINDS)) &
					    ((1u << BS_ALARM_KINDS) - 1));
}

struct snap {
	const struct bs_geometry *h;
	struct bs_meta m;
	struct bs_site site;
	struct bs_rack *racks;
	struct bs_module *mods;
	struct bs_cell *cells;
};

/* Rack families: name, help, field getter. */
#define RACK_F(field) offsetof(struct bs_rack, field)
static const struct {
	const char *name, *help;
	size_t off;
	double scale;
} rack_fam[] = {
    {"batsim_rack_voltage_volts", "String voltage at the rack terminals.",
     RACK_F(voltage_v), 1},
    {"batsim_rack_current_amperes", "Rack current, positive = discharge.",
     RACK_F(current_a), 1},
    {"batsim_rack_power_watts", "Rack power, positive = discharge.",
     RACK_F(power_w), 1},
    {"batsim_rack_soc_ratio", "Mean state of charge of the rack (0-1).",
     RACK_F(soc_mean), 1},
    {"batsim_rack_cell_voltage_min_volts", "Lowest cell voltage.",
     RACK_F(cell_v_min), 1},
    {"batsim_rack_cell_voltage_max_volts", "Highest cell voltage.",
     RACK_F(cell_v_max), 1},
    {"batsim_rack_cell_voltage_mean_volts", "Mean cell voltage.",
     RACK_F(cell_v_mean), 1},
    {"batsim_rack_temperature_min_celsius", "Coldest cell temperature.",
     RACK_F(temp_min_c), 1},
    {"batsim_rack_temperature_max_celsius", "Hottest cell temperature.",
     RACK_F(temp_max_c), 1},
    {"batsim_rack_temperature_mean_celsius", "Mean cell temperature.",
     RACK_F(temp_mean_c), 1},
    {"batsim_rack_charge_limit_amperes", "BMS derated charge current limit.",
     RACK_F(charge_limit_a), 1},
    {"batsim_rack_discharge_limit_amperes",
     "BMS derated discharge current limit.", RACK_F(discharge_limit_a), 1},
};

#define MOD_F(field) offsetof(struct bs_module, field)
static const struct {
	const char *name, *help;
	size_t off;
} mod_fam[] = {
    {"batsim_module_voltage_volts", "Module voltage (its cells in series).",
     MOD_F(voltage_v)},
    {"batsim_module_soc_ratio", "Mean state of charge of the module (0-1).",
     MOD_F(soc_mean)},
    {"batsim_module_cell_voltage_min_volts",
     "Lowest cell voltage in the module.", MOD_F(cell_v_min)},
    {"batsim_module_cell_voltage_max_volts",
     "Highest cell voltage in the module.", MOD_F(cell_v_max)},
    {"batsim_module_temperature_min_celsius",
     "Coldest cell temperature in the module.", MOD_F(temp_min_c)},
    {"batsim_module_temperature_max_celsius",
     "Hottest cell temperature in the module.", MOD_F(temp_max_c)},
    {"batsim_module_temperature_mean_celsius",
     "Mean cell temperature in the module.", MOD_F(temp_mean_c)},
};

static const struct {
	const char *name, *help;
	size_t off;
	double scale;
} cell_fam[] = {
    {"batsim_cell_voltage_volts", "Cell terminal voltage.",
     offsetof(struct bs_cell, voltage), 1},
    {"batsim_cell_current_amperes", "Cell current, positive = discharge.",
     offsetof(struct bs_cell, current), 1},
    {"batsim_cell_temperature_celsius", "Cell temperature.",
     offsetof(struct bs_cell, temperature), 1},
    {"batsim_cell_soc_ratio", "Cell state of charge (0-1).",
     offsetof(struct bs_cell, soc), 1},
    {"batsim_cell_resistance_ohms", "Cell ohmic resistance R0.",
     offsetof(struct bs_cell, resistance), 1},
};

static float fld(const void *rec, size_t off)
{
	float v;

	memcpy(&v, (const char *)rec + off, sizeof v);
	return v;
}

static void site_metrics(struct buf *b, const struct snap *s)
{
	const struct bs_site *st = &s->site;

	family(b, "batsim_ticks_total", "counter",
	       "Simulation steps since the writer started.");
	buf_printf(b, "batsim_ticks_total %llu\n",
		   (unsigned long long)s->m.tick);
	family(b, "batsim_simulated_time_seconds", "gauge",
	       "Simulated time since the writer started.");
	sample_d(b, "batsim_simulated_time_seconds", s->m.sim_time_s);
	family(b, "batsim_paused", "gauge",
	       "1 while an operator has paused the simulated clock.");
	sample(b, "batsim_paused", st->paused != 0);
	family(b, "batsim_speed", "gauge",
	       "Simulated seconds per wall-clock second (0: as fast as "
	       "possible).");
	sample(b, "batsim_speed", st->speed);
	family(b, "batsim_site_bus_voltage_volts", "gauge", "DC bus voltage.");
	sample(b, "batsim_site_bus_voltage_volts", st->bus_voltage_v);
	family(b, "batsim_site_current_amperes", "gauge",
	       "Site current, positive = discharge.");
	sample(b, "batsim_site_current_amperes", st->current_a);
	family(b, "batsim_site_power_watts", "gauge",
	       "Site power, positive = discharge.");
	sample(b, "batsim_site_power_watts", st->power_w);
	family(b, "batsim_site_soc_ratio", "gauge",
	       "Mean state of charge of the site (0-1).");
	sample(b, "batsim_site_soc_ratio", st->soc_mean);
	family(b, "batsim_site_discharged_energy_joules_total", "counter",
	       "Energy discharged since the writer started.");
	sample_d(b, "batsim_site_discharged_energy_joules_total",
		 st->energy_out_wh * 3600.0);
	family(b, "batsim_site_charged_energy_joules_total", "counter",
	       "Energy charged since the writer started.");
	sample_d(b, "batsim_site_charged_energy_joules_total",
		 st->energy_in_wh * 3600.0);
	if (st->mode == BS_MODE_CURRENT) {
		family(b, "batsim_site_current_setpoint_amperes", "gauge",
		       "Current setpoint (current mode), positive = "
		       "discharge.");
		sample(b, "batsim_site_current_setpoint_amperes", st->setpoint);
	} else {
		family(b, "batsim_site_power_setpoint_watts", "gauge",
		       "Power setpoint (power mode), positive = discharge.");
		sample(b, "batsim_site_power_setpoint_watts", st->setpoint);
	}
	family(b, "batsim_site_ambient_celsius", "gauge",
	       "Air temperature around the racks.");
	sample(b, "batsim_site_ambient_celsius", st->ambient_c);
	family(b, "batsim_site_cell_voltage_min_volts", "gauge",
	       "Lowest cell voltage of the site.");
	sample(b, "batsim_site_cell_voltage_min_volts", st->cell_v_min);
	family(b, "batsim_site_cell_voltage_max_volts", "gauge",
	       "Highest cell voltage of the site.");
	sample(b, "batsim_site_cell_voltage_max_volts", st->cell_v_max);
	family(b, "batsim_site_temperature_min_celsius", "gauge",
	       "Coldest cell temperature of the site.");
	sample(b, "batsim_site_temperature_min_celsius", st->temp_min_c);
	family(b, "batsim_site_temperature_max_celsius", "gauge",
	       "Hottest cell temperature of the site.");
	sample(b, "batsim_site_temperature_max_celsius", st->temp_max_c);
	family(b, "batsim_site_charge_limit_amperes", "gauge",
	       "Sum of the charge current limits of closed racks.");
	sample(b, "batsim_site_charge_limit_amperes", st->charge_limit_a);
	family(b, "batsim_site_discharge_limit_amperes", "gauge",
	       "Sum of the discharge current limits of closed racks.");
	sample(b, "batsim_site_discharge_limit_amperes", st->discharge_limit_a);
	family(b, "batsim_site_racks_closed", "gauge",
	       "Racks whose contactor is closed.");
	sample(b, "batsim_site_racks_closed", st->racks_closed);
	family(b, "batsim_site_faults_active", "gauge",
	       "Injected faults in effect.");
	sample(b, "batsim_site_faults_active", st->faults_active);
	if (st->soh_mean > 0.0f) { /* abi_minor 2 writer */
		family(b, "batsim_site_soh_min_ratio", "gauge",
		       "Lowest cell state of health (capacity now / initial, "
		       "0-1).");
		sample(b, "batsim_site_soh_min_ratio", st->soh_min);
		family(b, "batsim_site_soh_mean_ratio", "gauge",
		       "Mean cell state of health (0-1).");
		sample(b, "batsim_site_soh_mean_ratio", st->soh_mean);
		family(b, "batsim_site_equivalent_full_cycles_total", "counter",
		       "Equivalent full cycles, mean over the cells.");
		sample(b, "batsim_site_equivalent_full_cycles_total",
		       st->efc_mean);
	}
	family(b, "batsim_alarms_active", "gauge",
	       "Racks with an active alarm, by severity.");
	for (unsigned t = 0; t < BS_TIERS; t++)
		buf_printf(b, "batsim_alarms_active{severity=\"%s\"} %u\n",
			   view_tier_name(t), st->alarm_count[t]);
	family(b, "batsim_alarms_latched", "gauge",
	       "Racks with a latched alarm (until reset), by severity.");
	for (unsigned t = 0; t < BS_TIERS; t++)
		buf_printf(b, "batsim_alarms_latched{severity=\"%s\"} %u\n",
			   view_tier_name(t), st->latched_count[t]);
}

static void rack_metrics(struct buf *b, const struct snap *s)
{
	uint32_t nr = s->h->n_racks;

	for (size_t f = 0; f < sizeof rack_fam / sizeof rack_fam[0]; f++) {
		family(b, rack_fam[f].name, "gauge", rack_fam[f].help);
		for (uint32_t r = 0; r < nr; r++) {
			buf_printf(b, "%s{rack=\"%u\"}", rack_fam[f].name, r);
			value(b, fld(&s->racks[r], rack_fam[f].off) *
				     rack_fam[f].scale);
		}
	}
	if (s->site.soh_mean > 0.0f) { /* abi_minor 2 writer */
		static const struct {
			const char *name, *type, *help;
			size_t off;
		} ph[] = {
		    {"batsim_rack_soh_min_ratio", "gauge",
		     "Lowest cell state of health in the rack (0-1).",
		     RACK_F(soh_min)},
		    {"batsim_rack_soh_mean_ratio", "gauge",
		     "Mean cell state of health in the rack (0-1).",
		     RACK_F(soh_mean)},
		    {"batsim_rack_equivalent_full_cycles_total", "counter",
		     "Equivalent full cycles, mean over the rack's cells.",
		     RACK_F(efc_mean)},
		};
		for (size_t f = 0; f < sizeof ph / sizeof ph[0]; f++) {
			family(b, ph[f].name, ph[f].type, ph[f].help);
			for (uint32_t r = 0; r < nr; r++) {
				buf_printf(b, "%s{rack=\"%u\"}", ph[f].name, r);
				value(b, fld(&s->racks[r], ph[f].off));
			}
		}
	}
	family(b, "batsim_rack_contactor_closed", "gauge",
	       "1 when the rack's contactor is closed.");
	for (uint32_t r = 0; r < nr; r++)
		buf_printf(b, "batsim_rack_contactor_closed{rack=\"%u\"} %u\n",
			   r, s->racks[r].contactor ? 1u : 0u);
	family(b, "batsim_rack_alarms_active", "gauge",
	       "Alarm kinds active on the rack, by severity.");
	for (uint32_t r = 0; r < nr; r++)
		for (unsigned t = 0; t < BS_TIERS; t++)
			buf_printf(b,
				   "batsim_rack_alarms_active{rack=\"%u\","
				   "severity=\"%s\"} %u\n",
				   r, view_tier_name(t),
				   popcount_tier(s->racks[r].alarm_active, t));
	family(b, "batsim_rack_alarms_latched", "gauge",
	       "Alarm kinds latched on the rack (until reset), by severity.");
	for (uint32_t r = 0; r < nr; r++)
		for (unsigned t = 0; t < BS_TIERS; t++)
			buf_printf(b,
				   "batsim_rack_alarms_latched{rack=\"%u\","
				   "severity=\"%s\"} %u\n",
				   r, view_tier_name(t),
				   popcount_tier(s->racks[r].alarm_latched, t));
	family(b, "batsim_rack_faults_active", "gauge",
	       "Fault kinds injected on the rack or its cells.");
	for (uint32_t r = 0; r < nr; r++)
		buf_printf(
		    b, "batsim_rack_faults_active{rack=\"%u\"} %u\n", r,
		    (unsigned)__builtin_popcount(s->racks[r].fault_bits));
}

static void module_metrics(struct buf *b, const struct snap *s)
{
	uint32_t nr = s->h->n_racks, nm = s->h->modules_per_rack;

	for (size_t f = 0; f < sizeof mod_fam / sizeof mod_fam[0]; f++) {
		family(b, mod_fam[f].name, "gauge", mod_fam[f].help);
		for (uint32_t r = 0; r < nr; r++)
			for (uint32_t m = 0; m < nm; m++) {
				buf_printf(b, "%s{rack=\"%u\",module=\"%u\"}",
					   mod_fam[f].name, r, m);
				value(b, fld(&s->mods[(size_t)r * nm + m],
					     mod_fam[f].off));
			}
	}
}

static void cell_metrics(struct buf *b, const struct snap *s)
{
	uint32_t nr = s->h->n_racks, nm = s->h->modules_per_rack;
	uint32_t nc = s->h->cells_per_module;

	for (size_t f = 0; f < sizeof cell_fam / sizeof cell_fam[0]; f++) {
		family(b, cell_fam[f].name, "gauge", cell_fam[f].help);
		for (uint32_t r = 0; r < nr; r++)
			for (uint32_t m = 0; m < nm; m++)
				for (uint32_t c = 0; c < nc; c++) {
					size_t i =
					    ((size_t)r * nm + m) * nc + c;

					buf_printf(
					    b,
					    "%s{rack=\"%u\",module=\"%u\","
					    "cell=\"%u\"}",
					    cell_fam[f].name, r, m, c);
					value(b, fld(&s->cells[i],
						     cell_fam[f].off) *
						     cell_fam[f].scale);
				}
	}
}

enum MHD_Result metrics_handle(struct MHD_Connection *c)
{
	struct buf b = {0};
	char why[320];
	bs_reader *r = src_acquire();
	enum src_state st = src_check(r, why, sizeof why);
	struct snap s = {0};
	int live = 0;
	size_t len;

	family(&b, "batsim_build_info", "gauge",
	       "Build information of batsim-httpd; the value is 1.");
	buf_puts(&b, "batsim_build_info{version=\"");
	label_value(&b, PACKAGE_VERSION);
	buf_puts(&b, "\",libbatsim=\"");
	label_value(&b, bs_version());
	buf_puts(&b, "\"} 1\n");
	{
		char sn[32];

		family(&b, "batsim_site_info", "gauge",
		       "The site shown (site_name); the value is 1.");
		buf_puts(&b, "batsim_site_info{site_name=\"");
		label_value(&b, hd_site_name(r, sn, sizeof sn));
		buf_puts(&b, "\"} 1\n");
	}
	family(&b, "batsim_http_sse_streams", "gauge",
	       "Server-Sent Events streams open now.");
	sample(&b, "batsim_http_sse_streams", sse_streams());
	{
		uint64_t hits, misses;

		ac_stats(&hits, &misses);
		family(&b, "batsim_http_answer_cache_hits_total", "counter",
		       "REST answers served from the per-snapshot cache.");
		sample_d(&b, "batsim_http_answer_cache_hits_total",
			 (double)hits);
		family(&b, "batsim_http_answer_cache_misses_total", "counter",
		       "REST answers built (none stored for the snapshot).");
		sample_d(&b, "batsim_http_answer_cache_misses_total",
			 (double)misses);
	}
	family(&b, "batsim_segment_attached", "gauge",
	       "1 when the shared memory segment is attached.");
	sample(&b, "batsim_segment_attached", r ? 1 : 0);
	if (r) {
		struct bs_info info;

		bs_reader_info(r, &info);
		family(&b, "batsim_writer_running", "gauge",
		       "1 when the segment's state is running.");
		sample(&b, "batsim_writer_running",
		       info.state == BS_STATE_RUNNING);
		family(&b, "batsim_writer_generation", "gauge",
		       "Writer starts on this segment.");
		sample_d(&b, "batsim_writer_generation",
			 (double)info.generation);
		family(&b, "batsim_heartbeat_age_seconds", "gauge",
		       "Age of the writer's last heartbeat.");
		sample_d(&b, "batsim_heartbeat_age_seconds",
			 (double)info.heartbeat_age_ns / 1e9);
		family(&b, "batsim_publish_period_seconds", "gauge",
		       "Period at which the writer publishes snapshots.");
		sample(&b, "batsim_publish_period_seconds",
		       (double)info.tick_period_ns / 1e9);
	}
	if (st == SRC_LIVE) {
		const struct bs_geometry *h = bs_reader_geometry(r);
		size_t nmod = (size_t)h->n_racks * h->modules_per_rack;

		s.h = h;
		s.racks = malloc((size_t)h->n_racks * sizeof *s.racks);
		s.mods = malloc(nmod * sizeof *s.mods);
		if (hd_cfg->metrics_cells)
			s.cells = malloc((size_t)h->n_cells * sizeof *s.cells);
		if (s.racks && s.mods && (s.cells || !hd_cfg->metrics_cells) &&
		    bs_read_all(r, &s.m, &s.site, s.racks, s.mods, s.cells) ==
			0)
			live = 1;
	}
	family(&b, "batsim_up", "gauge",
	       "1 when live data is exported, 0 when the data is absent, "
	       "stale or stopped.");
	sample(&b, "batsim_up", live);
	if (live) {
		site_metrics(&b, &s);
		rack_metrics(&b, &s);
		module_metrics(&b, &s);
		if (s.cells)
			cell_metrics(&b, &s);
	}
	src_release();
	free(s.racks);
	free(s.mods);
	free(s.cells);
	if (b.oom) {
		buf_free(&b);
		return hd_error(c, 500, "out of memory building /metrics");
	}
	len = b.len;
	return hd_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		       buf_take(&b), len);
}
