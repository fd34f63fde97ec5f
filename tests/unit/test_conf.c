/*
 * test_conf.c - batsim.conf parser (src/common/conf.c): defaults, every
 * key, unknown keys and bad values with file:line, overrides, OCV tables,
 * cross-field validation.
 */
#include <config.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <batsim/shm.h>

#include "conf.h"
#include "util.h"

static char tmpdir[64];
static unsigned nfile;

/* Write text to a fresh file in tmpdir and return its path (static
 * storage, rotated). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][256];
	char *p = paths[nfile++ % 4];
	FILE *f;

	snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_defaults)
{
	struct bsd_config c;
	char err[512];

	cfg_defaults(&c);
	ck_assert_str_eq(c.site_name, "batsim");
	ck_assert_str_eq(c.shm_name, "/batsim");
	ck_assert_uint_eq(c.racks, 20);
	ck_assert_uint_eq(c.modules_per_rack, 10);
	ck_assert_uint_eq(c.cells_per_module, 32);
	ck_assert_uint_eq(c.slots, BS_DEFAULT_SLOTS);
	ck_assert_str_eq(c.legacy_shm_name, "");
	ck_assert_str_eq(c.cell.chemistry, "lfp280");
	ck_assert_double_eq_tol(c.cell.capacity_ah, 280, 1e-9);
	ck_assert_double_eq_tol(c.cell.v_min, 2.5, 1e-9);
	ck_assert_double_eq_tol(c.cell.v_max, 3.65, 1e-9);
	ck_assert_uint_ge(c.cell.ocv_n, 2);
	ck_assert(c.cell.r0_ohm > 0);
	ck_assert_double_eq_tol(c.initial_soc, 0.5, 1e-12);
	ck_assert_double_eq_tol(c.ambient_c, 25, 1e-12);
	ck_assert_int_eq(c.variation, 1);
	ck_assert_double_eq_tol(c.dt_s, 0.1, 1e-12);
	ck_assert_uint_eq(c.publish_period_ms, 200);
	ck_assert_double_eq_tol(c.speed, 1, 1e-12);
	ck_assert_double_eq_tol(c.duration_s, 0, 1e-12);
	ck_assert_str_eq(c.backend, "auto");
	ck_assert_uint_eq(c.mode, BS_MODE_POWER);
	ck_assert_str_eq(c.profile.name, "");
	ck_assert_double_eq_tol(c.profile.scale, 1, 1e-12);
	ck_assert_str_eq(c.control_socket, "/run/batsim/batsimd.sock");
	ck_assert_uint_eq(c.http_listen_n, 1);
	ck_assert_str_eq(c.http_listen[0], "127.0.0.1:8080");
	ck_assert_str_eq(c.http_token_file, "");
	ck_assert_int_eq(c.metrics_cells, 0);
	/* LFP BMS defaults of data/chemistry/SOURCES.md */
	ck_assert_double_eq_tol(c.bms.cell_ov_v[2], 3.65, 1e-12);
	ck_assert_double_eq_tol(c.bms.cell_uv_v[2], 2.70, 1e-12);
	ck_assert_double_eq_tol(c.bms.max_charge_a, 140, 1e-9);
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
}
END_TEST

START_TEST(test_presets)
{
	struct cfg_cell cell;

	memset(&cell, 0x55, sizeof cell);
	ck_assert_int_eq(cfg_preset(&cell, "nmc100"), 0);
	ck_assert_str_eq(cell.chemistry, "nmc100");
	ck_assert_double_eq_tol(cell.capacity_ah, 100, 1e-9);
	ck_assert_double_eq_tol(cell.v_max, 4.2, 1e-9);
	ck_assert_int_eq(cfg_preset(&cell, "lfp280"), 0);
	ck_assert_str_eq(cell.chemistry, "lfp280");
	/* an unknown name leaves the cell as it was */
	ck_assert_int_eq(cfg_preset(&cell, "lead-acid"), -1);
	ck_assert_str_eq(cell.chemistry, "lfp280");
	ck_assert_int_eq(cfg_preset(&cell, NULL), -1);
}
END_TEST

/* key, value, and a check of the field that key sets */
#define SETOK(key, value)                                                      \
	ck_assert_msg(cfg_set(&c, key, value, err, sizeof err) == 0,           \
		      "%s = %s: %s", key, value, err)

START_TEST(test_every_key)
{
	struct bsd_config c;
	char err[512];

	cfg_defaults(&c);
	SETOK("site_name", "site-A_2.east");
	ck_assert_str_eq(c.site_name, "site-A_2.east");
	SETOK("shm_name", "/batsim-x");
	ck_assert_str_eq(c.shm_name, "/batsim-x");
	SETOK("racks", "3");
	ck_assert_uint_eq(c.racks, 3);
	SETOK("modules_per_rack", "4");
	ck_assert_uint_eq(c.modules_per_rack, 4);
	SETOK("cells_per_module", "5");
	ck_assert_uint_eq(c.cells_per_module, 5);
	SETOK("slots", "4");
	ck_assert_uint_eq(c.slots, 4);
	SETOK("legacy_shm_name", "/battery_sim_shm");
	ck_assert_str_eq(c.legacy_shm_name, "/battery_sim_shm");
	SETOK("legacy_shm_name", "");
	ck_assert_str_eq(c.legacy_shm_name, "");
	SETOK("chemistry", "nmc100");
	ck_assert_str_eq(c.cell.chemistry, "nmc100");
	ck_assert_double_eq_tol(c.cell.capacity_ah, 100, 1e-9);
	/* the BMS voltage window and current limits follow the chemistry */
	ck_assert_double_eq_tol(c.bms.cell_ov_v[2], 4.25, 1e-9);
	ck_assert_double_eq_tol(c.bms.cell_uv_v[2], c.cell.v_min, 1e-9);
	ck_assert_double_eq_tol(c.bms.max_charge_a, 50, 1e-9);
	SETOK("initial_soc", "0.8");
	ck_assert_double_eq_tol(c.initial_soc, 0.8, 1e-12);
	SETOK("ambient_c", "-10.5");
	ck_assert_double_eq_tol(c.ambient_c, -10.5, 1e-12);
	SETOK("seed", "18446744073709551615");
	ck_assert(c.seed == UINT64_MAX);
	SETOK("variation", "no");
	ck_assert_int_eq(c.variation, 0);
	SETOK("variation", "On");
	ck_assert_int_eq(c.variation, 1);
	SETOK("capacity_sigma", "0.01");
	ck_assert_double_eq_tol(c.capacity_sigma, 0.01, 1e-12);
	SETOK("r0_sigma", "0.05");
	ck_assert_double_eq_tol(c.r0_sigma, 0.05, 1e-12);
	SETOK("soc_sigma", "0.02");
	ck_assert_double_eq_tol(c.soc_sigma, 0.02, 1e-12);
	SETOK("rack_thermal_gradient_c", "3");
	ck_assert_double_eq_tol(c.rack_thermal_gradient_c, 3, 1e-12);
	SETOK("capacity_ah", "300");
	ck_assert_double_eq_tol(c.cell.capacity_ah, 300, 1e-12);
	SETOK("v_min", "2.6");
	ck_assert_double_eq_tol(c.cell.v_min, 2.6, 1e-12);
	SETOK("v_max", "3.7");
	ck_assert_double_eq_tol(c.cell.v_max, 3.7, 1e-12);
	SETOK("r0_ohm", "0.0002");
	ck_assert_double_eq_tol(c.cell.r0_ohm, 0.0002, 1e-15);
	SETOK("r0_soc_factor", "1.5");
	ck_assert_double_eq_tol(c.cell.r0_soc_factor, 1.5, 1e-12);
	SETOK("ea_j_mol", "25000");
	ck_assert_double_eq_tol(c.cell.ea_j_mol, 25000, 1e-9);
	SETOK("r1_ohm", "0.0003");
	ck_assert_double_eq_tol(c.cell.r1_ohm, 0.0003, 1e-15);
	SETOK("tau1_s", "40");
	ck_assert_double_eq_tol(c.cell.tau1_s, 40, 1e-12);
	SETOK("r2_ohm", "0.0001");
	ck_assert_double_eq_tol(c.cell.r2_ohm, 0.0001, 1e-15);
	SETOK("tau2_s", "600");
	ck_assert_double_eq_tol(c.cell.tau2_s, 600, 1e-12);
	SETOK("heat_capacity_j_k", "5400");
	ck_assert_double_eq_tol(c.cell.heat_capacity_j_k, 5400, 1e-9);
	SETOK("ha_w_k", "1.5");
	ck_assert_double_eq_tol(c.cell.ha_w_k, 1.5, 1e-12);
	SETOK("conduction_w_k", "0.8");
	ck_assert_double_eq_tol(c.cell.conduction_w_k, 0.8, 1e-12);
	SETOK("dudt_v_k", "-0.0001");
	ck_assert_double_eq_tol(c.cell.dudt_v_k, -0.0001, 1e-15);
	SETOK("bms_cell_ov_v", "3.5, 3.6, 3.7");
	ck_assert_double_eq_tol(c.bms.cell_ov_v[0], 3.5, 1e-12);
	ck_assert_double_eq_tol(c.bms.cell_ov_v[1], 3.6, 1e-12);
	ck_assert_double_eq_tol(c.bms.cell_ov_v[2], 3.7, 1e-12);
	SETOK("bms_cell_uv_v", "3.0 2.9 2.8");
	ck_assert_double_eq_tol(c.bms.cell_uv_v[2], 2.8, 1e-12);
	SETOK("bms_cell_ot_c", "40,45,50");
	ck_assert_double_eq_tol(c.bms.cell_ot_c[0], 40, 1e-12);
	SETOK("bms_cell_ut_c", "10, 5, 0");
	ck_assert_double_eq_tol(c.bms.cell_ut_c[0], 10, 1e-12);
	SETOK("bms_v_spread_v", "0.05, 0.1, 0.2");
	ck_assert_double_eq_tol(c.bms.v_spread_v[0], 0.05, 1e-12);
	SETOK("bms_t_spread_c", "3, 5, 8");
	ck_assert_double_eq_tol(c.bms.t_spread_c[2], 8, 1e-12);
	SETOK("bms_soc_high", "0.9, 0.95, 0.99");
	ck_assert_double_eq_tol(c.bms.soc_high[0], 0.9, 1e-12);
	SETOK("bms_soc_low", "0.1, 0.05, 0.01");
	ck_assert_double_eq_tol(c.bms.soc_low[2], 0.01, 1e-12);
	SETOK("bms_max_charge_a", "200");
	ck_assert_double_eq_tol(c.bms.max_charge_a, 200, 1e-12);
	SETOK("bms_max_discharge_a", "250");
	ck_assert_double_eq_tol(c.bms.max_discharge_a, 250, 1e-12);
	SETOK("bms_protection_delay_s", "2");
	ck_assert_double_eq_tol(c.bms.protection_delay_s, 2, 1e-12);
	SETOK("dt_s", "0.05");
	ck_assert_double_eq_tol(c.dt_s, 0.05, 1e-12);
	SETOK("publish_period_ms", "500");
	ck_assert_uint_eq(c.publish_period_ms, 500);
	SETOK("speed", "0");
	ck_assert_double_eq_tol(c.speed, 0, 1e-12);
	SETOK("duration_s", "3600");
	ck_assert_double_eq_tol(c.duration_s, 3600, 1e-12);
	SETOK("threads", "2");
	ck_assert_uint_eq(c.threads, 2);
	SETOK("backend", "cpu");
	ck_assert_str_eq(c.backend, "cpu");
	SETOK("mode", "current");
	ck_assert_uint_eq(c.mode, BS_MODE_CURRENT);
	SETOK("setpoint_w", "-250000");
	ck_assert_double_eq_tol(c.setpoint_w, -250000, 1e-9);
	SETOK("setpoint_a", "140");
	ck_assert_double_eq_tol(c.setpoint_a, 140, 1e-12);
	SETOK("profile", "regulation");
	ck_assert_str_eq(c.profile.name, "regulation");
	SETOK("profile", "none");
	ck_assert_str_eq(c.profile.name, "");
	SETOK("profile_csv", "/srv/p.csv");
	ck_assert_str_eq(c.profile.csv_path, "/srv/p.csv");
	SETOK("profile_loop", "false");
	ck_assert_int_eq(c.profile.loop, 0);
	SETOK("profile_scale", "2.5");
	ck_assert_double_eq_tol(c.profile.scale, 2.5, 1e-12);
	SETOK("control_socket", "/tmp/x.sock");
	ck_assert_str_eq(c.control_socket, "/tmp/x.sock");
	SETOK("http_listen", "127.0.0.1:9000, [::1]:9001");
	ck_assert_uint_eq(c.http_listen_n, 2);
	ck_assert_str_eq(c.http_listen[0], "127.0.0.1:9000");
	ck_assert_str_eq(c.http_listen[1], "[::1]:9001");
	SETOK("http_www", "/srv/www");
	ck_assert_str_eq(c.http_www, "/srv/www");
	SETOK("http_chartjs", "/srv/chart");
	ck_assert_str_eq(c.http_chartjs, "/srv/chart");
	SETOK("http_token_file", "/etc/batsim/token");
	ck_assert_str_eq(c.http_token_file, "/etc/batsim/token");
	SETOK("http_max_connections", "100");
	ck_assert_uint_eq(c.http_max_connections, 100);
	SETOK("http_max_per_ip", "10");
	ck_assert_uint_eq(c.http_max_per_ip, 10);
	SETOK("http_timeout_s", "60");
	ck_assert_uint_eq(c.http_timeout_s, 60);
	SETOK("http_request_timeout_s", "5");
	ck_assert_uint_eq(c.http_request_timeout_s, 5);
	SETOK("http_history_s", "3600");
	ck_assert_uint_eq(c.http_history_s, 3600);
	SETOK("http_stale_ms", "5000");
	ck_assert_uint_eq(c.http_stale_ms, 5000);
	SETOK("metrics_cells", "yes");
	ck_assert_int_eq(c.metrics_cells, 1);
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
}
END_TEST

/* cfg_set must fail, leave an explanation naming the key, and leave the
 * configuration as it was. */
static void expect_bad(const char *key, const char *value)
{
	struct bsd_config c, before;
	char err[512] = "";

	cfg_defaults(&c);
	before = c;
	ck_assert_msg(cfg_set(&c, key, value, err, sizeof err) == -1,
		      "%s = '%s' was accepted", key, value);
	ck_assert_msg(strstr(err, key) != NULL, "message '%s' lacks '%s'", err,
		      key);
	ck_assert_msg(memcmp(&c, &before, sizeof c) == 0,
		      "%s = '%s' changed the configuration", key, value);
}

START_TEST(test_bad_values)
{
	expect_bad("racks", "0");
	expect_bad("racks", "-1");
	expect_bad("racks", "abc");
	expect_bad("racks", "4097");
	expect_bad("racks", "3x");
	expect_bad("racks", "");
	expect_bad("cells_per_module", "1.5");
	expect_bad("slots", "1");
	expect_bad("slots", "17");
	expect_bad("site_name", "");
	expect_bad("site_name", "two words");
	expect_bad("site_name", "a\"b");
	expect_bad("site_name", "0123456789abcdef0123456789abcdef");
	expect_bad("shm_name", "batsim");
	expect_bad("shm_name", "/a/b");
	expect_bad("shm_name", "/");
	expect_bad("legacy_shm_name", "nolead");
	expect_bad("chemistry", "lead-acid");
	expect_bad("initial_soc", "1.5");
	expect_bad("initial_soc", "-0.1");
	expect_bad("initial_soc", "nan");
	expect_bad("initial_soc", "50%");
	expect_bad("ambient_c", "inf");
	expect_bad("seed", "-3");
	expect_bad("variation", "maybe");
	expect_bad("dt_s", "0");
	expect_bad("publish_period_ms", "5");
	expect_bad("speed", "-1");
	expect_bad("threads", "100000");
	expect_bad("backend", "opencl");
	expect_bad("mode", "voltage");
	expect_bad("profile", "sine");
	expect_bad("profile_loop", "2");
	expect_bad("profile_scale", "x");
	expect_bad("control_socket", "relative.sock");
	expect_bad("bms_cell_ov_v", "3.65, 3.6, 3.5"); /* not rising */
	expect_bad("bms_cell_uv_v", "2.7, 2.8, 2.9");  /* not falling */
	expect_bad("bms_cell_ov_v", "3.5, 3.6");       /* two values */
	expect_bad("bms_cell_ov_v", "3.5, 3.6, 3.7, 3.8");
	expect_bad("bms_soc_high", "0.9, 0.95, 2.5");
	expect_bad("r0_ohm", "0");
	expect_bad("capacity_ah", "-280");
	expect_bad("http_listen", "8080");
	expect_bad("http_listen", "127.0.0.1:0");
	expect_bad("http_listen", "127.0.0.1:70000");
	expect_bad("http_listen", "[::1:8080");
	expect_bad("http_listen", "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9");
	expect_bad("http_max_connections", "0");
	expect_bad("metrics_cells", "2");
}
END_TEST

START_TEST(test_unknown_key)
{
	struct bsd_config c;
	char err[512];

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "rackz", "3", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown key 'rackz'"));
}
END_TEST

START_TEST(test_load_file)
{
	struct bsd_config c;
	char err[512];
	const char *p = write_file(
	    "a.conf", "# a comment\n"
		      "\n"
		      "   racks = 2   \n"
		      "modules_per_rack=3\n"
		      "cells_per_module\t=\t4 # trailing comment\n"
		      "shm_name = \"/batsim-quoted\"   # quoted value\n"
		      "profile_csv = /a#b.csv\n"
		      "mode = current\r\n"
		      "setpoint_a = 140\n"
		      "legacy_shm_name =\n"
		      "racks = 5\n");

	cfg_defaults(&c);
	ck_assert_msg(cfg_load(&c, p, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(c.racks, 5); /* the later line wins */
	ck_assert_uint_eq(c.modules_per_rack, 3);
	ck_assert_uint_eq(c.cells_per_module, 4);
	ck_assert_str_eq(c.shm_name, "/batsim-quoted");
	ck_assert_str_eq(c.profile.csv_path, "/a#b.csv");
	ck_assert_uint_eq(c.mode, BS_MODE_CURRENT);
	ck_assert_double_eq_tol(c.setpoint_a, 140, 1e-12);
	ck_assert_str_eq(c.legacy_shm_name, "");
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
}
END_TEST

/* Loading text must fail with "PATH:LINE: ..." containing `what`. */
static void expect_load_error(const char *text, unsigned line, const char *what)
{
	struct bsd_config c;
	char err[512] = "", want[300];
	const char *p = write_file("bad.conf", text);

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:%u: ", p, line);
	ck_assert_msg(!strncmp(err, want, strlen(want)),
		      "'%s' does not start with '%s'", err, want);
	ck_assert_msg(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what);
}

START_TEST(test_load_errors)
{
	struct bsd_config c;
	char err[512];
	char longline[5000];

	expect_load_error("racks = 2\n# x\nfoo = 1\n", 3, "unknown key 'foo'");
	expect_load_error("racks = 2\nracks = zero\n", 2, "racks");
	expect_load_error("\n\nthis line has no equals sign\n", 3,
			  "key = value");
	expect_load_error("= 3\n", 1, "missing key");
	expect_load_error("Racks = 3\n", 1, "bad key");
	expect_load_error("shm_name = \"/x\n", 1, "closing");
	/* the chemistry pass reports its own line too */
	expect_load_error("racks = 1\nchemistry = lead\n", 2, "chemistry");
	memset(longline, 'a', sizeof longline);
	memcpy(longline, "shm_name = /", 12);
	longline[sizeof longline - 2] = '\n';
	longline[sizeof longline - 1] = '\0';
	expect_load_error(longline, 1, "longer");

	cfg_defaults(&c);
	ck_assert_int_eq(
	    cfg_load(&c, "/nonexistent/batsim.conf", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/batsim.conf"));
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

START_TEST(test_chemistry_order)
{
	struct bsd_config c;
	char err[512];
	/* cell and BMS overrides before the chemistry line still win */
	const char *p =
	    write_file("order.conf", "capacity_ah = 120\n"
				     "bms_cell_ov_v = 4.0, 4.1, 4.15\n"
				     "chemistry = nmc100\n"
				     "r0_ohm = 0.0005\n");

	cfg_defaults(&c);
	ck_assert_msg(cfg_load(&c, p, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(c.cell.chemistry, "nmc100");
	ck_assert_double_eq_tol(c.cell.capacity_ah, 120, 1e-12);
	ck_assert_double_eq_tol(c.cell.r0_ohm, 0.0005, 1e-15);
	ck_assert_double_eq_tol(c.bms.cell_ov_v[2], 4.15, 1e-12);
	/* default current limits follow the overridden capacity */
	ck_assert_double_eq_tol(c.bms.max_charge_a, 60, 1e-9);
	ck_assert_double_eq_tol(c.bms.max_discharge_a, 60, 1e-9);
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);

	/* an explicit limit is kept */
	p = write_file("order2.conf", "capacity_ah = 120\n"
				      "bms_max_charge_a = 33\n");
	cfg_defaults(&c);
	ck_assert_msg(cfg_load(&c, p, err, sizeof err) == 0, "%s", err);
	ck_assert_double_eq_tol(c.bms.max_charge_a, 33, 1e-12);
	ck_assert_double_eq_tol(c.bms.max_discharge_a, 60, 1e-9);
}
END_TEST

START_TEST(test_overrides)
{
	struct bsd_config c;
	char err[512];
	const char *p = write_file("ov.conf", "seed = 7\nspeed = 10\n"
					      "backend = cuda\n");

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), 0);
	ck_assert(c.seed == 7);
	/* the daemon applies command-line options through cfg_set after
	 * the file: they win */
	ck_assert_int_eq(cfg_set(&c, "seed", "42", err, sizeof err), 0);
	ck_assert_int_eq(cfg_set(&c, "backend", "cpu", err, sizeof err), 0);
	ck_assert(c.seed == 42);
	ck_assert_str_eq(c.backend, "cpu");
	ck_assert_double_eq_tol(c.speed, 10, 1e-12);
}
END_TEST

START_TEST(test_ocv_csv)
{
	struct bsd_config c;
	char err[512];
	const char *p;

	write_file("ocv.csv", "soc,ocv_v\n0,3.0\n0.5,3.3\n1.0,3.6\n");
	/* a relative path is relative to the configuration file */
	p = write_file("ocv.conf", "ocv_csv = ocv.csv\n");
	cfg_defaults(&c);
	ck_assert_msg(cfg_load(&c, p, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(c.cell.ocv_n, 3);
	ck_assert_double_eq_tol(c.cell.ocv_soc[1], 0.5, 1e-12);
	ck_assert_double_eq_tol(c.cell.ocv_v[2], 3.6, 1e-12);

	p = write_file("ocv-bad.csv", "soc,ocv_v\n0,3.0\n0.5,3.3\n0.4,3.6\n");
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":4: soc values must increase"));
	ck_assert_uint_eq(c.cell.ocv_n, 3); /* unchanged */

	p = write_file("ocv-bad.csv", "soc,ocv_v\n0,3.0\n0.5;3.3\n");
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":3: expected"));

	p = write_file("ocv-bad.csv", "soc,ocv_v\n0,3.0\n0.5,3.3\n");
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "span 0 to 1"));

	p = write_file("ocv-bad.csv", "soc,ocv_v\n0.5,3.3\n");
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 2"));

	/* the line of the config file is reported for a bad table too */
	p = write_file("ocv2.conf", "racks = 1\nocv_csv = missing.csv\n");
	cfg_defaults(&c);
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "ocv2.conf:2: "));
	ck_assert_ptr_nonnull(strstr(err, "missing.csv"));

	/* the shipped tables load */
	{
		char path[512];
		const char *src = getenv("abs_top_srcdir");

		snprintf(path, sizeof path, "%s/data/chemistry/ocv_nmc100.csv",
			 src ? src : "..");
		ck_assert_msg(
		    cfg_load_ocv_csv(&c.cell, path, err, sizeof err) == 0, "%s",
		    err);
		ck_assert_uint_ge(c.cell.ocv_n, 21);
	}
}
END_TEST

/* Numbers are plain decimal, as batsim.conf(5) says: strtod alone would
 * take hex (dt_s = 0x10 was 16 s), inf and nan. */
START_TEST(test_plain_decimal)
{
	static const char *const bad[] = {"0x10",  "0X1p3", "inf",  "nan",
					  "1e999", "0x",    "1.5x", "- 1"};
	static const char *const good[] = {"16",   "+2.5", ".5", "5.",
					   "1e-2", "2E+1", " 3 "};
	static const double good_v[] = {16, 2.5, 0.5, 5, 0.01, 20, 3};
	struct bsd_config c;
	char err[512];
	const char *p;

	cfg_defaults(&c);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(cfg_set(&c, "dt_s", bad[i], err, sizeof err) ==
				  -1,
			      "dt_s = %s accepted", bad[i]);
		ck_assert_msg(
		    cfg_set(&c, "bms_cell_ov_v", bad[i], err, sizeof err) == -1,
		    "bms_cell_ov_v = %s accepted", bad[i]);
	}
	ck_assert_int_eq(
	    cfg_set(&c, "bms_cell_ov_v", "3.4,3.5,0x4", err, sizeof err), -1);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_msg(cfg_set(&c, "speed", good[i], err, sizeof err) ==
				  0,
			      "speed = %s: %s", good[i], err);
		ck_assert_double_eq_tol(c.speed, good_v[i], 1e-12);
	}
	/* in a file: the file and line are named */
	p = write_file("hex.conf", "racks = 2\ndt_s = 0x10\n");
	cfg_defaults(&c);
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "hex.conf:2: ") != NULL, "%s", err);
	ck_assert_double_eq_tol(c.dt_s, 0.1, 1e-12);
	/* and in an OCV table */
	p = write_file("hex.csv", "soc,ocv_v\n0,3.0\n0x1,3.6\n");
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":3: expected") != NULL, "%s", err);
}
END_TEST

/* The OCV table is a data file a user names: something that never ends,
 * blocks or is not text is an error naming the file (and line), never a
 * hang.  Check's per-test timeout bounds a regression. */
/* Engineering units and no "-0" in what batsimctl prints (issue 12). */
START_TEST(test_util_eng)
{
	char b[32];

	ck_assert_str_eq(util_eng(b, sizeof b, -1.5e6, "W"), "-1.50 MW");
	ck_assert_str_eq(util_eng(b, sizeof b, -250000, "W"), "-250 kW");
	ck_assert_str_eq(util_eng(b, sizeof b, 5, "W"), "5.00 W");
	ck_assert_str_eq(util_eng(b, sizeof b, 42.25, "W"), "42.2 W");
	ck_assert_str_eq(util_eng(b, sizeof b, 999.6, "W"), "1.00 kW");
	ck_assert_str_eq(util_eng(b, sizeof b, -0.0, "W"), "0.00 W");
	ck_assert_str_eq(util_eng(b, sizeof b, -0.001, "W"), "0.00 W");
	ck_assert_str_eq(util_eng(b, sizeof b, 2.5e9, "W"), "2.50 GW");
	ck_assert(util_unneg(-0.04, 1) == 0.0 && !signbit(util_unneg(-0.04, 1)));
	ck_assert(util_unneg(-0.06, 1) == -0.06);
}
END_TEST

START_TEST(test_ocv_hostile)
{
	struct bsd_config c;
	char err[512], path[256], big[300];
	const char *p;
	FILE *f;

	cfg_defaults(&c);
	const unsigned preset_n = c.cell.ocv_n; /* the default preset's table */
	/* a FIFO: refused without waiting for a writer */
	snprintf(path, sizeof path, "%s/fifo.csv", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "a FIFO") && strstr(err, "regular file"),
		      "%s", err);
	/* /dev/zero: a character device, refused */
	ck_assert_int_eq(
	    cfg_load_ocv_csv(&c.cell, "/dev/zero", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "/dev/zero: a character device"), "%s", err);
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, tmpdir, err, sizeof err),
			 -1);
	ck_assert_msg(strstr(err, "a directory"), "%s", err);
	/* through batsim.conf: the config line is named too */
	p = write_file("zero.conf", "racks = 1\nocv_csv = /dev/zero\n");
	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "zero.conf:2: ") && strstr(err, "/dev/zero"),
		      "%s", err);
	/* a NUL byte: an error with its line, not a shorter line */
	snprintf(path, sizeof path, "%s/nul.csv", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	{
		static const char nul[] = "soc,ocv_v\n0,3.0\n0.5,3.3\0junk\n"
					  "1,3.6\n";

		fwrite(nul, 1, sizeof nul - 1, f);
	}
	fclose(f);
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "nul.csv:3: NUL byte"), "%s", err);
	/* an over-long line: an error, not two lines */
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big + sizeof big - 8, "0.5,3.3", 7);
	p = write_file("long.csv", "");
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "soc,ocv_v\n0,3.0\n%s\n1,3.6\n", big);
	fclose(f);
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "long.csv:3: line longer than"), "%s", err);
	/* larger than the data file limit (sparse: costs no disk) */
	p = write_file("huge.csv", "soc,ocv_v\n0,3.0\n1,3.6\n");
	ck_assert_int_eq(truncate(p, (16 << 20) + 1), 0);
	ck_assert_int_eq(cfg_load_ocv_csv(&c.cell, p, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "16 MiB"), "%s", err);
	/* the table is unchanged by every refusal */
	ck_assert_uint_eq(c.cell.ocv_n, preset_n);
}
END_TEST

static void expect_invalid(struct bsd_config *c, const char *what)
{
	char err[512] = "";

	ck_assert_int_eq(cfg_validate(c, err, sizeof err), -1);
	ck_assert_msg(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what);
}

START_TEST(test_validate)
{
	struct bsd_config c;
	char err[512];

	cfg_defaults(&c);
	c.cell.v_min = 4.0;
	expect_invalid(&c, "v_min");

	cfg_defaults(&c);
	ck_assert_int_eq(cfg_set(&c, "profile", "csv", err, sizeof err), 0);
	expect_invalid(&c, "profile_csv");

	cfg_defaults(&c);
	ck_assert_int_eq(
	    cfg_set(&c, "legacy_shm_name", "/batsim", err, sizeof err), 0);
	expect_invalid(&c, "legacy_shm_name");

	cfg_defaults(&c);
	c.racks = 4096;
	c.modules_per_rack = 1024;
	c.cells_per_module = 1024;
	expect_invalid(&c, "more than the supported");

	cfg_defaults(&c);
	c.racks = 0;
	expect_invalid(&c, "out of range");

	cfg_defaults(&c);
	ck_assert_int_eq(
	    cfg_set(&c, "bms_cell_uv_v", "3.7, 3.6, 3.5", err, sizeof err), 0);
	expect_invalid(&c, "bms_cell_uv_v");

	cfg_defaults(&c);
	c.cell.r1_ohm = 0.001;
	c.cell.tau1_s = 0;
	expect_invalid(&c, "tau1_s");

	/* 1024 x 1024 x 4 = 4 Mi cells is the supported maximum */
	cfg_defaults(&c);
	c.racks = 4;
	c.modules_per_rack = 1024;
	c.cells_per_module = 1024;
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
}
END_TEST

/* The shipped data/batsim.conf lists every setting commented out at its
 * default ("#key = value"): uncommented, it must give the defaults. */
START_TEST(test_shipped_conf)
{
	struct bsd_config c, d;
	char err[512], path[512], line[4096];
	const char *src = getenv("abs_top_srcdir");
	char out[300];
	FILE *in, *o;
	unsigned settings = 0;

	snprintf(path, sizeof path, "%s/data/batsim.conf", src ? src : "..");
	snprintf(out, sizeof out, "%s/uncommented.conf", tmpdir);
	in = fopen(path, "r");
	ck_assert_msg(in != NULL, "cannot open %s", path);
	o = fopen(out, "w");
	ck_assert_ptr_nonnull(o);
	while (fgets(line, sizeof line, in)) {
		size_t k =
		    strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");

		if (line[0] == '#' && k > 0 &&
		    !strncmp(line + 1 + k, " =", 2)) {
			fputs(line + 1, o);
			settings++;
		}
	}
	fclose(in);
	fclose(o);
	ck_assert_uint_ge(settings, 45);
	cfg_defaults(&c);
	cfg_defaults(&d);
	ck_assert_msg(cfg_load(&c, out, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(cfg_validate(&c, err, sizeof err), 0);
	/* these two depend on the installation prefix; the file shows
	 * Debian's */
	ck_assert_str_eq(c.http_www, "/usr/share/batsim/www");
	ck_assert_str_eq(c.http_chartjs, "/usr/share/javascript/chart.js");
	memcpy(c.http_www, d.http_www, sizeof c.http_www);
	memcpy(c.http_chartjs, d.http_chartjs, sizeof c.http_chartjs);
	ck_assert_msg(memcmp(&c, &d, sizeof c) == 0,
		      "data/batsim.conf differs from the built-in defaults");
}
END_TEST

/* Every documented key appears (uncommented or as "#key =") in the
 * shipped file and in batsim.conf(5). */
START_TEST(test_keys_documented)
{
	static const char *const keys[] = {
	    "site_name",
	    "shm_name",
	    "racks",
	    "modules_per_rack",
	    "cells_per_module",
	    "slots",
	    "legacy_shm_name",
	    "chemistry",
	    "initial_soc",
	    "ambient_c",
	    "seed",
	    "variation",
	    "capacity_sigma",
	    "r0_sigma",
	    "soc_sigma",
	    "rack_thermal_gradient_c",
	    "ocv_csv",
	    "capacity_ah",
	    "v_min",
	    "v_max",
	    "r0_ohm",
	    "r0_soc_factor",
	    "ea_j_mol",
	    "r1_ohm",
	    "tau1_s",
	    "r2_ohm",
	    "tau2_s",
	    "heat_capacity_j_k",
	    "ha_w_k",
	    "conduction_w_k",
	    "dudt_v_k",
	    "bms_cell_ov_v",
	    "bms_cell_uv_v",
	    "bms_cell_ot_c",
	    "bms_cell_ut_c",
	    "bms_v_spread_v",
	    "bms_t_spread_c",
	    "bms_soc_high",
	    "bms_soc_low",
	    "bms_max_charge_a",
	    "bms_max_discharge_a",
	    "bms_protection_delay_s",
	    "dt_s",
	    "publish_period_ms",
	    "speed",
	    "duration_s",
	    "threads",
	    "backend",
	    "mode",
	    "setpoint_w",
	    "setpoint_a",
	    "profile",
	    "profile_csv",
	    "profile_loop",
	    "profile_scale",
	    "control_socket",
	    "http_listen",
	    "http_www",
	    "http_chartjs",
	    "http_token_file",
	    "http_max_connections",
	    "http_max_per_ip",
	    "http_timeout_s",
	    "http_request_timeout_s",
	    "http_history_s",
	    "http_stale_ms",
	    "metrics_cells",
	};
	const char *src = getenv("abs_top_srcdir");
	const char *files[] = {"data/batsim.conf", "man/batsim.conf.5.in"};

	for (size_t f = 0; f < 2; f++) {
		char path[512], *text;
		FILE *fp;
		long n;

		snprintf(path, sizeof path, "%s/%s", src ? src : "..",
			 files[f]);
		fp = fopen(path, "r");
		ck_assert_msg(fp != NULL, "cannot open %s", path);
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		rewind(fp);
		text = calloc(1, (size_t)n + 1);
		ck_assert_ptr_nonnull(text);
		ck_assert_int_eq(fread(text, 1, (size_t)n, fp), n);
		fclose(fp);
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			struct bsd_config c;
			char err[512];
			char want[80];

			/* the key is known to the parser */
			cfg_defaults(&c);
			err[0] = '\0';
			cfg_set(&c, keys[i], "", err, sizeof err);
			ck_assert_msg(strstr(err, "unknown key") == NULL,
				      "%s unknown to the parser", keys[i]);
			/* conf: "#key =" (commented out at its default) or
			 * "# key =" (a preset's value); man: \fBkey\fR */
			if (f == 0) {
				char want2[80];

				snprintf(want, sizeof want, "#%s =", keys[i]);
				snprintf(want2, sizeof want2,
					 "# %s =", keys[i]);
				if (!strstr(text, want))
					snprintf(want, sizeof want, "%s",
						 want2);
			} else {
				snprintf(want, sizeof want, "\\fB%s\\fR",
					 keys[i]);
			}
			ck_assert_msg(strstr(text, want) != NULL,
				      "%s does not document %s", files[f],
				      keys[i]);
		}
		free(text);
	}
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_presets);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_chemistry_order);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_ocv_csv);
	tcase_add_test(tc, test_plain_decimal);
	tcase_add_test(tc, test_ocv_hostile);
	tcase_add_test(tc, test_validate);
	tcase_add_test(tc, test_shipped_conf);
	tcase_add_test(tc, test_keys_documented);
	tcase_add_test(tc, test_util_eng);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
