/*
 * read.c - batsimctl read side: status, show, watch (libbatsim reader).
 *
 * Every view first copies one consistent snapshot (bs_read_*), then asks
 * whether the writer is live, and prints the data only when it is: data
 * from a stopped or hung writer is never shown as if it were current.
 * --json uses the same builders as batsim-httpd (src/common/views.c), so
 * the CLI and the HTTP API print the same shapes.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"
#include "ctl.h"
#include "util.h"
#include "views.h"

/* What "show" displays. */
enum view_kind { V_STATUS, V_SUMMARY, V_SITE, V_RACK, V_MODULE, V_CELL };

struct view_req {
	enum view_kind kind;
	uint32_t rack, module, cell;
};

/* Message and exit status for a failed bs_reader_open. */
static int open_error(const struct ctl *c, int rc)
{
	switch (-rc) {
	case BS_ENOENT:
		ctl_error(
		    c,
		    "segment %s not found: create it with batsim-init "
		    "and start batsimd (systemctl start batsimd), or give "
		    "--name",
		    c->name);
		return CTL_EX_NOENT;
	case BS_EACCES:
		ctl_error(c,
			  "segment %s: permission denied: run as a member "
			  "of the segment's group (usually batsim)",
			  c->name);
		return CTL_EX_SEGMENT;
	case BS_EMAGIC:
	case BS_EABI:
	case BS_ETRUNC:
	case BS_ELAYOUT:
		ctl_error(c, "segment %s: %s", c->name, bs_strerror(rc));
		return CTL_EX_SEGMENT;
	default:
		ctl_error(c, "segment %s: %s%s%s", c->name, bs_strerror(rc),
			  rc == -BS_ESYS ? ": " : "",
			  rc == -BS_ESYS ? strerror(errno) : "");
		return CTL_EX_OTHER;
	}
}

/* Message and status when the data is not live (live = bs_reader_live). */
static int stale_error(const struct ctl *c, const struct bs_info *in, int live)
{
	if (in->state == BS_STATE_INIT)
		ctl_error(c,
			  "no data: no writer has started on %s: start "
			  "batsimd (systemctl start batsimd)",
			  c->name);
	else if (in->state == BS_STATE_STOPPED)
		ctl_error(c,
			  "data is stale: the writer of %s (pid %d) "
			  "stopped: start batsimd (systemctl start batsimd)",
			  c->name, (int)in->writer_pid);
	else if (live == -BS_ESTALE)
		ctl_error(c,
			  "data is stale: the writer of %s (pid %d) has "
			  "not beaten its heartbeat for %.1f s (limit %.1f "
			  "s): it hung or died; check batsimd (systemctl "
			  "status batsimd)",
			  c->name, (int)in->writer_pid,
			  (double)in->heartbeat_age_ns / 1e9,
			  (double)c->max_age_ms / 1e3);
	else
		ctl_error(c, "data from %s is not live: %s", c->name,
			  bs_strerror(live));
	return CTL_EX_STALE;
}

static int read_error(const struct ctl *c, int rc)
{
	if (rc == -BS_ETRUNC || rc == -BS_ELAYOUT) {
		ctl_error(c, "segment %s is corrupt: %s", c->name,
			  bs_strerror(rc));
		return CTL_EX_SEGMENT;
	}
	if (rc == -BS_ENODATA) {
		ctl_error(c,
			  "no data: the writer of %s has not published "
			  "yet: wait a moment, or check batsimd",
			  c->name);
		return CTL_EX_STALE;
	}
	ctl_error(c, "reading %s: %s", c->name, bs_strerror(rc));
	return rc == -BS_ERANGE ? CTL_EX_USAGE : CTL_EX_OTHER;
}

/* After a bs_read_* call that returned rc: CTL_EX_OK when the data was
 * read and is live, else the message (stale data explains a failed read
 * better than the read's own code, but a bad index is the user's) and
 * the exit status. */
static int read_outcome(const struct ctl *c, bs_reader *r, int rc)
{
	struct bs_info in;
	int live;

	bs_reader_info(r, &in);
	live = bs_reader_live(r);
	/* A corrupt segment explains everything else. */
	if (live == -BS_ETRUNC)
		return read_error(c, live);
	if (rc == -BS_ETRUNC || rc == -BS_ELAYOUT)
		return read_error(c, rc);
	if (rc)
		return live && rc != -BS_ERANGE ? stale_error(c, &in, live)
						: read_error(c, rc);
	if (live)
		return stale_error(c, &in, live);
	return CTL_EX_OK;
}

static int range_check(const struct ctl *c, const char *what, uint32_t v,
		       uint32_t n)
{
	if (v < n)
		return 0;
	ctl_error(c,
		  "%s %" PRIu32 " is out of range: this site has %ss 0 to "
		  "%" PRIu32,
		  what, v, what, n - 1);
	return CTL_EX_USAGE;
}

static int print_json(FILE *out, json_object *o)
{
	if (!o) {
		fputs("batsimctl: error: out of memory\n", stderr);
		return CTL_EX_OTHER;
	}
	fprintf(out, "%s\n", view_to_string(o));
	json_object_put(o);
	return CTL_EX_OK;
}

static double pct(float soc)
{
	return (double)soc * 100.0;
}

static void csv_header(FILE *out)
{
	fputs("rack,module,cell,voltage,current,temperature,soc,resistance\n",
	      out);
}

static void csv_cell(FILE *out, uint32_t r, uint32_t m, uint32_t k,
		     const struct bs_cell *cl)
{
	fprintf(out,
		"%" PRIu32 ",%" PRIu32 ",%" PRIu32
		",%.6g,%.6g,%.6g,%.6g,%.6g\n",
		r, m, k, (double)cl->voltage, (double)cl->current,
		(double)cl->temperature, pct(cl->soc), (double)cl->resistance);
}

/* "cell_ov,t_spread" for the kinds with any tier set in bits; "-". */
static void alarm_list(char *buf, size_t len, uint32_t bits)
{
	size_t used = 0;
	unsigned k, t;

	buf[0] = '\0';
	for (k = 0; k < BS_ALARM_KINDS; k++) {
		unsigned worst = BS_TIERS;

		for (t = 0; t < BS_TIERS; t++)
			if (bits & BS_ALARM_BIT(t, k))
				worst = t;
		if (worst == BS_TIERS)
			continue;
		used += (size_t)snprintf(
		    buf + used, used < len ? len - used : 0, "%s%s:%c",
		    used ? "," : "", view_alarm_kind_name(k),
		    view_tier_name(worst)[0]);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void fault_list(char *buf, size_t len, uint32_t bits)
{
	size_t used = 0;
	unsigned k;

	buf[0] = '\0';
	for (k = 0; k < BS_FAULT_KINDS; k++)
		if (bits & (1u << k))
			used += (size_t)snprintf(
			    buf + used, used < len ? len - used : 0, "%s%s",
			    used ? "," : "", view_fault_name(k));
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* The site name the writer published; NULL when none (an older writer,
 * none yet). */
static const char *site_name(bs_reader *r, char *buf, size_t len)
{
	return bs_reader_site_name(r, buf, len) > 0 ? buf : NULL;
}

static json_object *site_name_json(bs_reader *r)
{
	char sn[32];
	const char *s = site_name(r, sn, sizeof sn);

	return s ? json_object_new_string(s) : NULL;
}

/* A CSV field of names: commas would split it, so ';' between them. */
static void csv_names(FILE *out, const char *list)
{
	for (; *list; list++)
		fputc(*list == ',' ? ';' : *list, out);
}

static void print_meta(FILE *out, const struct bs_meta *m)
{
	fprintf(out, "tick %" PRIu64 ", simulated time %.1f s\n", m->tick,
		m->sim_time_s);
}

/* ---- status ---- */

/* The batsim-modbusd line: what it last reported to batsimd. */
static void print_modbus(FILE *out, const struct bs_site *s)
{
	if (!s->mb_alive) {
		fprintf(out, "modbus:         batsim-modbusd not reporting%s\n",
			s->mb_fault_bits ? " (protocol faults set)" : "");
		return;
	}
	fprintf(out,
		"modbus:         batsim-modbusd up, %" PRIu32
		" client%s, %" PRIu64 " requests",
		s->mb_clients, s->mb_clients == 1 ? "" : "s", s->mb_requests);
	if (s->mb_fault_bits) {
		const char *sep = "; faults: ";

		for (unsigned k = 0; k < BS_MBFAULT_KINDS; k++)
			if (s->mb_fault_bits & (1u << k)) {
				fprintf(out, "%s%s", sep, view_mbfault_name(k));
				sep = ", ";
			}
	}
	fputc('\n', out);
}

static int show_status(const struct ctl *c, bs_reader *r, FILE *out)
{
	struct bs_info in;
	struct bs_meta m;
	struct bs_site site;
	int live, rc;

	rc = bs_read_site(r, &m, &site, NULL);
	bs_reader_info(r, &in);
	live = bs_reader_live(r);
	if (c->json) {
		json_object *o = view_info(&in);

		if (o) {
			json_object_object_add(o, "segment",
					       json_object_new_string(c->name));
			json_object_object_add(o, "site_name",
					       site_name_json(r));
			json_object_object_add(
			    o, "tick",
			    rc ? NULL : json_object_new_uint64(m.tick));
			json_object_object_add(
			    o, "time_s",
			    rc ? NULL : view_number(m.sim_time_s, 10));
			json_object_object_add(
			    o, "stale", json_object_new_boolean(live != 0));
			json_object_object_add(
			    o, "paused",
			    rc ? NULL
			       : json_object_new_boolean(site.paused != 0));
			json_object_object_add(
			    o, "speed", rc ? NULL : view_number(site.speed, 7));
			json_object_object_add(o, "modbus",
					       rc ? NULL : view_modbus(&site));
		}
		if (print_json(out, o))
			return CTL_EX_OTHER;
	} else {
		char sn[32];
		const char *name = site_name(r, sn, sizeof sn);

		fprintf(out, "site:           %s\n",
			name ? name : "(no name published)");
		fprintf(out, "segment:        %s\n", c->name);
		/* a paused writer runs, but its simulated clock stands */
		if (rc == 0 && in.state == BS_STATE_RUNNING && site.paused)
			fprintf(out, "state:          paused (simulated clock "
				     "stopped: batsimctl resume)\n");
		else
			fprintf(out, "state:          %s\n",
				view_state_name(in.state));
		if (in.writer_pid > 0)
			fprintf(out, "writer pid:     %" PRId32 "\n",
				in.writer_pid);
		else
			fprintf(out, "writer pid:     none\n");
		fprintf(out, "backend:        %s\n",
			view_backend_name(in.backend));
		if (in.chemistry[0])
			fprintf(out, "chemistry:      %.*s\n",
				(int)sizeof(in.chemistry), in.chemistry);
		fprintf(out, "generation:     %" PRIu64 "\n", in.generation);
		if (rc == 0)
			fprintf(out,
				"tick:           %" PRIu64 " (simulated time "
				"%.1f s)\n",
				m.tick, m.sim_time_s);
		else
			fprintf(out, "tick:           none published\n");
		if (rc == 0 && site.speed > 0)
			fprintf(out,
				"speed:          %g (simulated seconds per "
				"second)\n",
				(double)site.speed);
		else if (rc == 0)
			fprintf(out,
				"speed:          0 (as fast as possible)\n");
		if (in.heartbeat_ns)
			fprintf(out, "heartbeat age:  %.3f s\n",
				(double)in.heartbeat_age_ns / 1e9);
		else
			fprintf(out, "heartbeat age:  never\n");
		if (in.tick_period_ns)
			fprintf(out, "publish period: %.0f ms\n",
				(double)in.tick_period_ns / 1e6);
		fprintf(out,
			"topology:       %" PRIu32 "x%" PRIu32 "x%" PRIu32
			" (%" PRIu64 " cells), %" PRIu32 " slots\n",
			in.topo.racks, in.topo.modules_per_rack,
			in.topo.cells_per_module, in.n_cells, in.n_slots);
		fprintf(out, "live:           %s\n",
			live == 0 ? "yes" : "NO (stale)");
		if (rc == 0)
			print_modbus(out, &site);
	}
	if (live)
		return stale_error(c, &in, live);
	return CTL_EX_OK;
}

/* ---- show summary ---- */

static int show_summary(const struct ctl *c, bs_reader *r, FILE *out)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	uint32_t n = h->n_racks, i;
	struct bs_rack *racks = calloc(n, sizeof(*racks));
	struct bs_site s;
	struct bs_meta m;
	int rc;

	if (!racks) {
		ctl_error(c, "out of memory");
		return CTL_EX_OTHER;
	}
	rc = read_outcome(c, r, bs_read_site(r, &m, &s, racks));
	if (rc) {
		free(racks);
		return rc;
	}
	if (c->json) {
		json_object *o = view_summary(h, &m, &s, racks, 0);

		if (o)
			json_object_object_add(o, "site_name",
					       site_name_json(r));
		rc = print_json(out, o);
		free(racks);
		return rc;
	}
	if (c->csv) {
		/* one row per rack, the columns of the text table */
		fputs("rack,contactor,voltage,current,power,soc,cell_v_min,"
		      "cell_v_max,temperature_min,temperature_max,alarms,"
		      "faults\n",
		      out);
		for (i = 0; i < n; i++) {
			const struct bs_rack *k = &racks[i];
			char al[160], fl[160];

			alarm_list(al, sizeof(al),
				   k->alarm_active | k->alarm_latched);
			fault_list(fl, sizeof(fl), k->fault_bits);
			fprintf(out,
				"%" PRIu32 ",%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
				"%.6g,%.6g,",
				i, k->contactor ? "closed" : "open",
				(double)k->voltage_v, (double)k->current_a,
				(double)k->power_w, pct(k->soc_mean),
				(double)k->cell_v_min, (double)k->cell_v_max,
				(double)k->temp_min_c, (double)k->temp_max_c);
			csv_names(out, al);
			fputc(',', out);
			csv_names(out, fl);
			fputc('\n', out);
		}
		free(racks);
		return CTL_EX_OK;
	}

	{
		char sn[32];
		const char *site = site_name(r, sn, sizeof sn);

		if (site)
			fprintf(out, "site %s: ", site);
		else
			fprintf(out, "site: ");
	}
	print_meta(out, &m);
	char pw[32], sp[32];
	fprintf(out, "  bus %.1f V, current %.1f A, power %s, SoC %.1f %%\n",
		(double)s.bus_voltage_v, util_unneg(s.current_a, 1),
		util_eng(pw, sizeof pw, s.power_w, "W"), pct(s.soc_mean));
	if (s.mode == BS_MODE_CURRENT)
		fprintf(out, "  mode current, setpoint %.1f A",
			util_unneg(s.setpoint, 1));
	else
		fprintf(out, "  mode power, setpoint %s",
			util_eng(sp, sizeof sp, s.setpoint, "W"));
	fprintf(out, ", profile %s, ambient %.1f C\n",
		view_profile_name(s.profile), (double)s.ambient_c);
	fprintf(out,
		"  energy out %.2f kWh, in %.2f kWh; racks closed %" PRIu32
		"/%" PRIu32 "\n",
		s.energy_out_wh / 1e3, s.energy_in_wh / 1e3, s.racks_closed, n);
	fprintf(out, "  cell voltage %.3f..%.3f V, temperature %.1f..%.1f C\n",
		(double)s.cell_v_min, (double)s.cell_v_max,
		(double)s.temp_min_c, (double)s.temp_max_c);
	if (s.soh_mean > 0.0f) /* abi_minor 2 writer */
		fprintf(out,
			"  SoH mean %.2f %%, min %.2f %% (rack %" PRIu32
			" module %" PRIu32 " cell %" PRIu32
			"); equivalent full cycles %.2f\n",
			pct(s.soh_mean), pct(s.soh_min), s.soh_min_rack,
			s.soh_min_cell / h->cells_per_module,
			s.soh_min_cell % h->cells_per_module,
			(double)s.efc_mean);
	fprintf(out,
		"  racks with alarms: active %" PRIu32 "/%" PRIu32 "/%" PRIu32
		", latched %" PRIu32 "/%" PRIu32 "/%" PRIu32
		" (warning/alarm/protection); faults %" PRIu32 "\n\n",
		s.alarm_count[0], s.alarm_count[1], s.alarm_count[2],
		s.latched_count[0], s.latched_count[1], s.latched_count[2],
		s.faults_active);
	fprintf(out, "%4s %-6s %9s %9s %9s %6s %8s %8s %7s %7s  %-16s %s\n",
		"RACK", "CONTCT", "VOLTAGE_V", "CURRENT_A", "POWER_KW", "SOC_%",
		"CELL_VMIN", "CELL_VMAX", "TMIN_C", "TMAX_C", "ALARMS",
		"FAULTS");
	for (i = 0; i < n; i++) {
		const struct bs_rack *k = &racks[i];
		char al[160], fl[160];

		alarm_list(al, sizeof(al), k->alarm_active | k->alarm_latched);
		fault_list(fl, sizeof(fl), k->fault_bits);
		fprintf(out,
			"%4" PRIu32 " %-6s %9.1f %9.1f %9.2f %6.1f %8.3f %8.3f "
			"%7.1f %7.1f  %-16s %s\n",
			i, k->contactor ? "closed" : "OPEN",
			(double)k->voltage_v, (double)k->current_a,
			(double)k->power_w / 1e3, pct(k->soc_mean),
			(double)k->cell_v_min, (double)k->cell_v_max,
			(double)k->temp_min_c, (double)k->temp_max_c, al, fl);
	}
	free(racks);
	return CTL_EX_OK;
}

/* ---- show rack ---- */

static void print_rack_alarms(FILE *out, const struct bs_geometry *h,
			      const struct bs_rack *k)
{
	uint32_t bits = k->alarm_active | k->alarm_latched;
	uint32_t cpm = h->cells_per_module;
	unsigned kind, t;
	int any = 0;

	for (kind = 0; kind < BS_ALARM_KINDS; kind++)
		for (t = 0; t < BS_TIERS; t++) {
			uint32_t bit = BS_ALARM_BIT(t, kind);

			if (!(bits & bit))
				continue;
			fprintf(out,
				"  alarm %-8s %-10s %-6s %-7s module %" PRIu32
				" cell %" PRIu32 " at %.1f s\n",
				view_alarm_kind_name(kind), view_tier_name(t),
				(k->alarm_active & bit) ? "active" : "-",
				(k->alarm_latched & bit) ? "latched" : "-",
				k->alarm_cell[kind] / cpm,
				k->alarm_cell[kind] % cpm,
				k->alarm_time_s[kind]);
			any = 1;
		}
	if (!any)
		fprintf(out, "  alarms: none\n");
}

static int show_rack(const struct ctl *c, bs_reader *r, FILE *out,
		     uint32_t rack)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	uint32_t mpr = h->modules_per_rack, cpm = h->cells_per_module, i, j;
	struct bs_module *mods = calloc(mpr, sizeof(*mods));
	struct bs_cell *cells = calloc((size_t)mpr * cpm, sizeof(*cells));
	struct bs_module_ext *mx = calloc(mpr, sizeof(*mx));
	struct bs_cell_ext *cx = calloc((size_t)mpr * cpm, sizeof(*cx));
	struct bs_rack k;
	struct bs_meta m;
	int rc;

	if (!mods || !cells || !mx || !cx) {
		free(mods);
		free(cells);
		free(mx);
		free(cx);
		ctl_error(c, "out of memory");
		return CTL_EX_OTHER;
	}
	rc = read_outcome(
	    c, r, bs_read_rack_ext(r, rack, &m, &k, mods, cells, mx, cx));
	if (rc)
		goto out;
	if (c->json) {
		json_object *o = view_rack(h, &m, rack, &k, mods, cells, 1);
		if (bs_reader_has_ext(r))
			view_rack_ext(h, o, mx, cx);
		rc = print_json(out, o);
	} else if (c->csv) {
		csv_header(out);
		for (i = 0; i < mpr; i++)
			for (j = 0; j < cpm; j++)
				csv_cell(out, rack, i, j,
					 &cells[(size_t)i * cpm + j]);
	} else {
		char fl[160];

		fault_list(fl, sizeof(fl), k.fault_bits);
		fprintf(out, "rack %" PRIu32 ": ", rack);
		print_meta(out, &m);
		char pw[32];
		fprintf(out,
			"  contactor %s, voltage %.1f V, current %.1f A, power "
			"%s, SoC %.1f %%\n",
			k.contactor ? "closed" : "OPEN", (double)k.voltage_v,
			util_unneg(k.current_a, 1),
			util_eng(pw, sizeof pw, k.power_w, "W"), pct(k.soc_mean));
		fprintf(out, "  limits: charge %.1f A, discharge %.1f A\n",
			(double)k.charge_limit_a, (double)k.discharge_limit_a);
		fprintf(out,
			"  cell voltage min %.3f V (module %" PRIu32
			" cell %" PRIu32
			"), mean %.3f V, max %.3f V (module %" PRIu32
			" cell %" PRIu32 ")\n",
			(double)k.cell_v_min, k.v_min_cell / cpm,
			k.v_min_cell % cpm, (double)k.cell_v_mean,
			(double)k.cell_v_max, k.v_max_cell / cpm,
			k.v_max_cell % cpm);
		fprintf(out,
			"  temperature min %.2f C (module %" PRIu32
			" cell %" PRIu32
			"), mean %.2f C, max %.2f C (module %" PRIu32
			" cell %" PRIu32 ")\n",
			(double)k.temp_min_c, k.t_min_cell / cpm,
			k.t_min_cell % cpm, (double)k.temp_mean_c,
			(double)k.temp_max_c, k.t_max_cell / cpm,
			k.t_max_cell % cpm);
		if (k.soh_mean > 0.0f) /* abi_minor 2 writer */
			fprintf(out,
				"  SoH mean %.2f %%, min %.2f %% (module %" PRIu32
				" cell %" PRIu32 "); equivalent full cycles "
				"%.2f\n",
				pct(k.soh_mean), pct(k.soh_min),
				k.soh_min_cell / cpm, k.soh_min_cell % cpm,
				(double)k.efc_mean);
		print_rack_alarms(out, h, &k);
		fprintf(out, "  faults: %s\n\n", fl);
		fprintf(out,
			"%6s %9s %9s %6s %8s %4s %8s %4s %8s %7s %7s %7s  %s\n",
			"MODULE", "VOLTAGE_V", "CURRENT_A", "SOC_%",
			"CELL_VMIN", "@", "CELL_VMAX", "@", "CELL_VAVG",
			"TMIN_C", "TMAX_C", "TAVG_C", "ALARMS");
		for (i = 0; i < mpr; i++) {
			const struct bs_module *d = &mods[i];
			char al[160];

			alarm_list(al, sizeof(al), d->alarm_bits);
			fprintf(
			    out,
			    "%6" PRIu32 " %9.2f %9.1f %6.1f %8.3f %4" PRIu32
			    " %8.3f %4" PRIu32 " %8.3f %7.2f %7.2f %7.2f  %s\n",
			    i, (double)d->voltage_v, (double)d->current_a,
			    pct(d->soc_mean), (double)d->cell_v_min,
			    d->v_min_cell, (double)d->cell_v_max, d->v_max_cell,
			    (double)d->cell_v_mean, (double)d->temp_min_c,
			    (double)d->temp_max_c, (double)d->temp_mean_c, al);
		}
	}
out:
	free(mods);
	free(cells);
	free(mx);
	free(cx);
	return rc;
}

/* ---- show site ---- */

/* Every rack, module and cell, one rack at a time: memory for one rack's
 * modules and cells, whatever the number of racks.  Each rack is one
 * consistent snapshot (its tick is printed with it); racks read later
 * may come from later snapshots.  A failed read (the writer stopped)
 * cuts the output short with the error and its exit status. */
static int show_site(const struct ctl *c, bs_reader *r, FILE *out)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	uint32_t mpr = h->modules_per_rack, cpm = h->cells_per_module;
	size_t nc = (size_t)mpr * cpm;
	struct bs_module *mods = calloc(mpr, sizeof(*mods));
	struct bs_cell *cells = calloc(nc, sizeof(*cells));
	struct bs_module_ext *mx = calloc(mpr, sizeof(*mx));
	struct bs_cell_ext *cx = calloc(nc, sizeof(*cx));
	char sn[32];
	const char *site = site_name(r, sn, sizeof sn);
	int rc = CTL_EX_OK;

	if (!mods || !cells || !mx || !cx) {
		ctl_error(c, "out of memory");
		rc = CTL_EX_OTHER;
		goto out;
	}
	if (c->json) {
		json_object *head = json_object_new_object(), *topo;
		const char *s;
		size_t len;

		if (!head) {
			rc = print_json(out, NULL);
			goto out;
		}
		json_object_object_add(head, "site_name",
				       site ? json_object_new_string(site)
					    : NULL);
		topo = json_object_new_object();
		json_object_object_add(topo, "racks",
				       json_object_new_uint64(h->n_racks));
		json_object_object_add(topo, "modules_per_rack",
				       json_object_new_uint64(mpr));
		json_object_object_add(topo, "cells_per_module",
				       json_object_new_uint64(cpm));
		json_object_object_add(topo, "cells",
				       json_object_new_uint64(h->n_cells));
		json_object_object_add(head, "topology", topo);
		/* {"site_name":...,"topology":{...}, then the racks one by
		 * one: the object's closing brace is written last */
		s = view_to_string(head);
		len = strlen(s);
		fwrite(s, 1, len - 1, out);
		fputs(",\"racks\":[", out);
		json_object_put(head);
	} else if (c->csv) {
		csv_header(out);
	} else {
		fprintf(out,
			"site %s: %" PRIu32 " racks x %" PRIu32
			" modules x %" PRIu32 " cells (%" PRIu64 " cells)\n",
			site ? site : "(no name published)", h->n_racks, mpr,
			cpm, h->n_cells);
	}
	for (uint32_t i = 0; i < h->n_racks; i++) {
		struct bs_rack k;
		struct bs_meta m;

		rc = read_outcome(
		    c, r, bs_read_rack_ext(r, i, &m, &k, mods, cells, mx, cx));
		if (rc)
			break;
		if (c->json) {
			json_object *o = view_rack(h, &m, i, &k, mods, cells, 1);

			if (!o) {
				rc = print_json(out, NULL);
				break;
			}
			if (bs_reader_has_ext(r))
				view_rack_ext(h, o, mx, cx);
			fprintf(out, "%s%s", i ? "," : "", view_to_string(o));
			json_object_put(o);
			continue;
		}
		if (c->csv) {
			for (uint32_t j = 0; j < mpr; j++)
				for (uint32_t l = 0; l < cpm; l++)
					csv_cell(out, i, j, l,
						 &cells[(size_t)j * cpm + l]);
			continue;
		}
		char pw[32], al[160], fl[160];

		alarm_list(al, sizeof(al), k.alarm_active | k.alarm_latched);
		fault_list(fl, sizeof(fl), k.fault_bits);
		fprintf(out, "\nrack %" PRIu32 ": ", i);
		print_meta(out, &m);
		fprintf(out,
			"  contactor %s, voltage %.1f V, current %.1f A, power "
			"%s, SoC %.1f %%, alarms %s, faults %s\n",
			k.contactor ? "closed" : "OPEN", (double)k.voltage_v,
			util_unneg(k.current_a, 1),
			util_eng(pw, sizeof pw, k.power_w, "W"),
			pct(k.soc_mean), al, fl);
		for (uint32_t j = 0; j < mpr; j++) {
			const struct bs_module *d = &mods[j];

			alarm_list(al, sizeof(al), d->alarm_bits);
			fprintf(out,
				"  module %" PRIu32 ": voltage %.2f V, current "
				"%.1f A, SoC %.1f %%, alarms %s\n",
				j, (double)d->voltage_v,
				util_unneg(d->current_a, 1), pct(d->soc_mean),
				al);
			for (uint32_t l = 0; l < cpm; l++) {
				const struct bs_cell *cl =
				    &cells[(size_t)j * cpm + l];

				fprintf(out,
					"    cell %4" PRIu32 " %9.4f V %9.2f A "
					"%8.2f C %6.2f %% %9.4f mohm\n",
					l, (double)cl->voltage,
					util_unneg(cl->current, 2),
					(double)cl->temperature, pct(cl->soc),
					(double)cl->resistance * 1e3);
			}
		}
	}
	if (c->json && rc == CTL_EX_OK)
		fputs("]}\n", out);
out:
	free(mods);
	free(cells);
	free(mx);
	free(cx);
	return rc;
}

/* ---- show module ---- */

static int show_module(const struct ctl *c, bs_reader *r, FILE *out,
		       uint32_t rack, uint32_t module)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	uint32_t cpm = h->cells_per_module, j;
	struct bs_cell *cells = calloc(cpm, sizeof(*cells));
	struct bs_module d;
	struct bs_meta m;
	int rc;

	if (!cells) {
		ctl_error(c, "out of memory");
		return CTL_EX_OTHER;
	}
	rc = read_outcome(c, r, bs_read_module(r, rack, module, &m, &d, cells));
	if (rc)
		goto out;
	if (c->json)
		rc = print_json(out,
				view_module(h, &m, rack, module, &d, cells));
	else if (c->csv) {
		csv_header(out);
		for (j = 0; j < cpm; j++)
			csv_cell(out, rack, module, j, &cells[j]);
	} else {
		char al[160];

		alarm_list(al, sizeof(al), d.alarm_bits);
		fprintf(out, "rack %" PRIu32 " module %" PRIu32 ": ", rack,
			module);
		print_meta(out, &m);
		fprintf(out,
			"  voltage %.2f V, current %.1f A, SoC %.1f %%, "
			"contactor %s\n",
			(double)d.voltage_v, (double)d.current_a,
			pct(d.soc_mean), d.contactor ? "closed" : "OPEN");
		fprintf(out,
			"  cell voltage min %.3f V (cell %" PRIu32 "), mean "
			"%.3f V, max %.3f V (cell %" PRIu32 ")\n",
			(double)d.cell_v_min, d.v_min_cell,
			(double)d.cell_v_mean, (double)d.cell_v_max,
			d.v_max_cell);
		fprintf(out,
			"  temperature min %.2f C (cell %" PRIu32 "), mean "
			"%.2f C, max %.2f C (cell %" PRIu32 ")\n",
			(double)d.temp_min_c, d.t_min_cell,
			(double)d.temp_mean_c, (double)d.temp_max_c,
			d.t_max_cell);
		fprintf(out, "  alarms: %s\n\n", al);
		fprintf(out, "%4s %9s %9s %8s %6s %12s\n", "CELL", "VOLTAGE_V",
			"CURRENT_A", "TEMP_C", "SOC_%", "RESISTANCE_MOHM");
		for (j = 0; j < cpm; j++)
			fprintf(out,
				"%4" PRIu32 " %9.4f %9.2f %8.2f %6.2f %12.4f\n",
				j, (double)cells[j].voltage,
				(double)cells[j].current,
				(double)cells[j].temperature, pct(cells[j].soc),
				(double)cells[j].resistance * 1e3);
	}
out:
	free(cells);
	return rc;
}

/* ---- show cell ---- */

static int show_cell(const struct ctl *c, bs_reader *r, FILE *out,
		     uint32_t rack, uint32_t module, uint32_t cell)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	struct bs_cell cl;
	struct bs_meta m;
	int rc;

	rc = read_outcome(c, r, bs_read_cell(r, rack, module, cell, &m, &cl));
	if (rc)
		return rc;
	if (c->json)
		return print_json(out,
				  view_cell(h, &m, rack, module, cell, &cl));
	if (c->csv) {
		csv_header(out);
		csv_cell(out, rack, module, cell, &cl);
		return CTL_EX_OK;
	}
	fprintf(out, "rack %" PRIu32 " module %" PRIu32 " cell %" PRIu32 ": ",
		rack, module, cell);
	print_meta(out, &m);
	fprintf(out, "  voltage      %.4f V\n", (double)cl.voltage);
	fprintf(out, "  current      %.3f A (+ = discharge)\n",
		(double)cl.current);
	fprintf(out, "  temperature  %.3f C\n", (double)cl.temperature);
	fprintf(out, "  soc          %.3f %%\n", pct(cl.soc));
	fprintf(out, "  resistance   %.4f mohm\n", (double)cl.resistance * 1e3);
	return CTL_EX_OK;
}

/* ---- parsing "show ..." and dispatch ---- */

/* words[0..n) = "status" | "summary" | "rack R" | "module R M" | ... */
static int parse_view(const struct ctl *c, char **w, int n, struct view_req *v)
{
	static const struct {
		const char *word;
		enum view_kind kind;
		int nidx;
	} forms[] = {
	    {"summary", V_SUMMARY, 0},
	    {"site", V_SITE, 0},
	    {"rack", V_RACK, 1},
	    {"module", V_MODULE, 2},
	    {"cell", V_CELL, 3},
	};
	int64_t idx[3] = {0, 0, 0};
	unsigned f;
	int i;

	if (n >= 1 && !strcmp(w[0], "status")) {
		if (n != 1) {
			ctl_error(c, "status takes no arguments");
			return CTL_EX_USAGE;
		}
		if (c->csv) {
			ctl_error(c, "--csv is for show: use it with show "
				     "summary, show site, show rack, show "
				     "module or show cell");
			return CTL_EX_USAGE;
		}
		v->kind = V_STATUS;
		return 0;
	}
	if (n < 1 || strcmp(w[0], "show")) {
		ctl_error(c, "watch what? use 'watch status' or 'watch show "
			     "summary|rack R|module R M|cell R M C'");
		return CTL_EX_USAGE;
	}
	for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
		if (n >= 2 && !strcmp(w[1], forms[f].word))
			break;
	if (f == sizeof(forms) / sizeof(forms[0])) {
		ctl_error(c, "show what? use 'show summary', 'show site', "
			     "'show rack R', 'show module R M' or 'show cell "
			     "R M C'");
		return CTL_EX_USAGE;
	}
	if (n - 2 != forms[f].nidx) {
		static const char *const want[] = {"", " R", " R M", " R M C"};

		ctl_error(c, "usage: show %s%s (indices from 0)", forms[f].word,
			  want[forms[f].nidx]);
		return CTL_EX_USAGE;
	}
	for (i = 0; i < forms[f].nidx; i++)
		if (ctl_parse_index(w[2 + i], &idx[i])) {
			ctl_error(c,
				  "'%s' is not an index: give a number from "
				  "0",
				  w[2 + i]);
			return CTL_EX_USAGE;
		}
	v->kind = forms[f].kind;
	v->rack = (uint32_t)idx[0];
	v->module = (uint32_t)idx[1];
	v->cell = (uint32_t)idx[2];
	return 0;
}

static int render(const struct ctl *c, bs_reader *r, const struct view_req *v,
		  FILE *out)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	int rc;

	if (v->kind >= V_RACK &&
	    (rc = range_check(c, "rack", v->rack, h->n_racks)))
		return rc;
	if (v->kind >= V_MODULE &&
	    (rc = range_check(c, "module", v->module, h->modules_per_rack)))
		return rc;
	if (v->kind >= V_CELL &&
	    (rc = range_check(c, "cell", v->cell, h->cells_per_module)))
		return rc;
	switch (v->kind) {
	case V_STATUS:
		return show_status(c, r, out);
	case V_SUMMARY:
		return show_summary(c, r, out);
	case V_SITE:
		return show_site(c, r, out);
	case V_RACK:
		return show_rack(c, r, out, v->rack);
	case V_MODULE:
		return show_module(c, r, out, v->rack, v->module);
	default:
		return show_cell(c, r, out, v->rack, v->module, v->cell);
	}
}

static int open_reader(const struct ctl *c, bs_reader **r)
{
	int rc = bs_reader_open(c->name, r);

	if (rc)
		return open_error(c, rc);
	bs_reader_set_max_age(*r, c->max_age_ms * 1000000u);
	return 0;
}

/* ---- watch ---- */

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int watch(struct ctl *c, const struct view_req *v)
{
	int tty = isatty(STDOUT_FILENO);
	bs_reader *r = NULL;
	struct sigaction sa;
	int status = CTL_EX_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the signal must cut the sleep short */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	while (!watch_stop) {
		char *frame = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&frame, &len);
		int64_t period_ms = c->interval_ms;
		struct timespec ts;

		if (!f) {
			ctl_error(c, "out of memory");
			status = CTL_EX_OTHER;
			break;
		}
		/* The frame is built in memory and written at once, so the
		 * screen never shows half a table.  Errors go into the frame
		 * too: watch keeps going and shows when the writer is back.
		 * Except --json on a pipe: there stdout carries only JSON
		 * lines, and the errors go to stderr. */
		c->err = c->json && !tty ? NULL : f;
		if (r) {
			int crc = bs_reader_check_name(r);

			/* recreated (batsim-init --force): follow the name;
			 * shrunk or rewritten (corrupt): reopen, which says
			 * what is wrong until a valid one is there */
			if (crc == -BS_ECHANGED || crc == -BS_ETRUNC ||
			    crc == -BS_ELAYOUT) {
				bs_reader_close(r);
				r = NULL;
			}
		}
		if (!r)
			status = open_reader(c, &r);
		if (r)
			status = render(c, r, v, f);
		c->err = NULL;
		fclose(f);

		if (tty)
			fputs("\033[H\033[2J", stdout);
		fwrite(frame, 1, len, stdout);
		if (!tty && !c->json)
			fputc('\n', stdout);
		fflush(stdout);
		free(frame);
		if (status == CTL_EX_USAGE)
			break; /* a bad index does not get better */

		if (period_ms < 0) {
			struct bs_info in = {0};
			uint64_t p;

			if (r)
				bs_reader_info(r, &in);
			p = in.tick_period_ns;

			period_ms = p ? (int64_t)((p + 999999) / 1000000) : 200;
			if (period_ms < 10)
				period_ms = 10;
		}
		ts.tv_sec = period_ms / 1000;
		ts.tv_nsec = (long)(period_ms % 1000) * 1000000L;
		while (!watch_stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	bs_reader_close(r);
	/* Interrupted by the user: that is how watch ends, not a failure,
	 * unless the command itself was wrong. */
	return status == CTL_EX_USAGE ? status : CTL_EX_OK;
}

int ctl_read_command(struct ctl *c)
{
	struct view_req v;
	bs_reader *r;
	int rc, watching = !strcmp(c->args[0], "watch");

	rc = watching ? parse_view(c, c->args + 1, c->nargs - 1, &v)
		      : parse_view(c, c->args, c->nargs, &v);
	if (rc)
		return rc;
	if (watching && v.kind == V_SITE) {
		ctl_error(c, "show site streams the whole site: run it without "
			     "watch (or watch show summary)");
		return CTL_EX_USAGE;
	}
	if (watching)
		return watch(c, &v);
	rc = open_reader(c, &r);
	if (rc)
		return rc;
	rc = render(c, r, &v, stdout);
	bs_reader_close(r);
	return rc;
}
