/*
 * conf.h - batsim.conf(5), parsed once into a const struct.
 *
 * The same file is read by batsimd and batsim-httpd; each program ignores
 * the keys of the other (they are known keys, not errors).  Unknown keys
 * and bad values are errors that name the file and line (exit status 2).
 */
#ifndef BATSIM_COMMON_CONF_H
#define BATSIM_COMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CFG_PATH_MAX 256
#define CFG_SITE_NAME "batsim" /* default site_name */
#define CFG_OCV_MAX 128 /* points in a user OCV table */

/* Cell parameters of one chemistry (a preset, optionally overridden by
 * user keys).  Values at 25 degC and 50 % SoC unless said otherwise. */
struct cfg_cell {
	char chemistry[16];       /* "lfp280", "nmc100" */
	double capacity_ah;
	double v_min, v_max;      /* voltage window (V) */
	unsigned ocv_n;           /* OCV table points */
	double ocv_soc[CFG_OCV_MAX]; /* 0..1, increasing */
	double ocv_v[CFG_OCV_MAX];
	double r0_ohm;            /* ohmic resistance at 25 degC, 50 % SoC */
	double r0_soc_factor;     /* R0 multiplier at 0 % and 100 % SoC (1.2) */
	double ea_j_mol;          /* Arrhenius activation energy of R0 */
	double r1_ohm, tau1_s;    /* first RC pair */
	double r2_ohm, tau2_s;    /* optional second RC pair (r2 0 = off) */
	double heat_capacity_j_k; /* cell thermal mass */
	double ha_w_k;            /* heat transfer cell -> air */
	double conduction_w_k;    /* between neighbour cells in a module */
	double dudt_v_k;          /* entropic coefficient (0 = off) */
};

/* BMS thresholds; tiers warning < alarm < protection in severity. */
struct cfg_bms {
	double cell_ov_v[3];      /* over-voltage: warning, alarm, protection */
	double cell_uv_v[3];      /* under-voltage (falling) */
	double cell_ot_c[3];      /* over-temperature */
	double cell_ut_c[3];      /* under-temperature */
	double v_spread_v[3];     /* max - min cell voltage in a rack */
	double t_spread_c[3];     /* max - min temperature in a rack */
	double soc_high[3];       /* 0..1 */
	double soc_low[3];        /* 0..1 */
	double max_charge_a;      /* rack charge current at 100 % */
	double max_discharge_a;   /* rack discharge current at 100 % */
	double protection_delay_s; /* condition must hold this long to trip */
};

struct cfg_profile {
	char name[32];            /* "", "csv", "peak-shaving", "regulation",
	                             "cycle" */
	char csv_path[CFG_PATH_MAX];
	int loop;                 /* loop the CSV profile */
	double scale;             /* multiply profile power (1.0) */
};

struct bsd_config {
	/* topology and segment */
	char site_name[32];       /* published in the segment (line 7) */
	char shm_name[64];
	uint32_t racks, modules_per_rack, cells_per_module;
	uint32_t slots;
	char legacy_shm_name[64]; /* "" = off */

	/* model */
	struct cfg_cell cell;
	double initial_soc;       /* 0..1 */
	double ambient_c;
	uint64_t seed;
	int variation;            /* cell-to-cell variation on/off */
	double capacity_sigma;    /* relative, e.g. 0.004 */
	double r0_sigma;          /* relative, e.g. 0.025 */
	double soc_sigma;         /* absolute, e.g. 0.01 */
	double rack_thermal_gradient_c; /* air warmer at the top of a rack */
	double initial_soh;       /* 0.5..1: state of health at start */
	double soh_sigma;         /* absolute spread of it (initial_soh < 1) */
	double ageing_factor;     /* 1 real time, > 1 faster, 0 = no ageing */
	struct cfg_bms bms;

	/* time */
	double dt_s;
	uint32_t publish_period_ms;
	double speed;             /* 1 real time, N faster, 0 as fast as possible */
	double duration_s;        /* 0 = forever */
	unsigned threads;         /* 0 = number of CPUs */
	char backend[8];          /* "auto", "cpu", "cuda" */

	/* input */
	uint32_t mode;            /* BS_MODE_POWER or BS_MODE_CURRENT */
	double setpoint_w;        /* + = discharge */
	double setpoint_a;        /* + = discharge */
	struct cfg_profile profile;

	/* control */
	char control_socket[CFG_PATH_MAX];

	/* batsim-httpd (ignored by batsimd) */
	char http_listen[8][64];  /* "127.0.0.1:8080", "[::1]:8080" */
	unsigned http_listen_n;
	char http_www[CFG_PATH_MAX];
	char http_chartjs[CFG_PATH_MAX];
	char http_token_file[CFG_PATH_MAX];
	unsigned http_max_connections;
	unsigned http_max_per_ip;
	unsigned http_timeout_s;
	unsigned http_request_timeout_s; /* whole request head and body */
	unsigned http_history_s;
	unsigned http_stale_ms;
	int metrics_cells;        /* per-cell series in /metrics */

	/* batsim-modbusd (ignored by the others) */
	char modbus_listen[8][64]; /* "127.0.0.1:5020", "[::1]:5020" */
	unsigned modbus_listen_n;
	unsigned modbus_max_connections;
	unsigned modbus_idle_s;   /* close a connection idle this long */
	unsigned modbus_stale_ms; /* writer heartbeat age that counts stale */
	int modbus_writes;        /* accept writes at all */
	char modbus_write_allow[256]; /* addresses/prefixes allowed to write */
};

/* Fill *cfg with the built-in defaults (lfp280, 20x10x32, ...). */
void cfg_defaults(struct bsd_config *cfg);

/* Apply a chemistry preset to cfg->cell; 0, or -1 for an unknown name. */
int cfg_preset(struct cfg_cell *cell, const char *name);

/* Parse `path` over *cfg.  0 on success; -1 with a message of the form
 * "FILE:LINE: what is wrong (what to do)" in err. */
int cfg_load(struct bsd_config *cfg, const char *path, char *err,
             size_t errlen);

/* Set one key from text (used by the file parser and by tests); 0 or -1
 * with a message in err. */
int cfg_set(struct bsd_config *cfg, const char *key, const char *value,
            char *err, size_t errlen);

/* Cross-field checks after loading and command-line overrides. */
int cfg_validate(const struct bsd_config *cfg, char *err, size_t errlen);

/* Load an OCV CSV (soc,ocv_v with a header line) into cell; 0 or -1. */
int cfg_load_ocv_csv(struct cfg_cell *cell, const char *path, char *err,
                     size_t errlen);

#endif /* BATSIM_COMMON_CONF_H */
