/*
 * conf.c - batsim.conf(5): defaults, the key table, the file parser and
 * the cross-field checks.  See conf.h.
 *
 * Every key is one row of a table (name, type, where it lives in struct
 * bsd_config, its range), so that the parser, the error messages and the
 * tests all see the same list.  Per-value checks happen in cfg_set, so a
 * bad value is reported with its file and line; checks that involve more
 * than one key happen in cfg_validate, after command-line overrides.
 */
#include <config.h> /* autoconf's, from the build dir */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <batsim/shm.h>

#include "conf.h"
#include "datafile.h"
#include "util.h"

/* The chemistry presets (lfp280, nmc100) and their BMS defaults: data
 * every program reads (chemistry.c). */
#include "chemistry.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PKGDATADIR
#define PKGDATADIR "/usr/share/batsim"
#endif
#ifndef CHARTJS_DIR
#define CHARTJS_DIR "/usr/share/javascript/chart.js"
#endif

#define CFG_LINE_MAX	 4096 /* longest accepted line of batsim.conf */
#define CFG_OCV_LINE_MAX 256

/* Rack current limits at 100 % default to this C-rate of the cell. */
#define CFG_DEFAULT_C_RATE 0.5

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- value parsers: 0 or -1 ---- */

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	s = skip_ws(s);
	/* plain decimal, as batsim.conf(5) says: no hex (0x10), inf, nan */
	if (util_strtod_dec(s, &end, &v) != 0)
		return -1;
	if (*skip_ws(end))
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	s = skip_ws(s);
	/* strtoull accepts "-1" and wraps it: refuse a sign explicitly */
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *skip_ws(end))
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Three numbers (warning, alarm, protection), separated by commas and/or
 * blanks. */
static int parse_tiers(const char *s, double out[3])
{
	for (int i = 0; i < 3; i++) {
		char *end;

		s = skip_ws(s);
		if (i > 0 && *s == ',')
			s = skip_ws(s + 1);
		if (util_strtod_dec(s, &end, &out[i]) != 0)
			return -1;
		s = end;
	}
	return *skip_ws(s) ? -1 : 0;
}

/* A POSIX shm name as batsim uses it: "/name", no other slash. */
static int valid_shm_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n >= 64 || s[0] != '/' || strchr(s + 1, '/'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A site name: 1-31 letters, digits, '.', '_', '-' (it appears in
 * JSON, metric labels, terminals and unit instance names). */
static int valid_site_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 31)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* "host:port" or "[v6]:port"; the host itself is checked by the server. */
static int valid_listen(const char *s)
{
	const char *colon;
	uint64_t port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1 || close[1] != ':')
			return 0;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || memchr(s, ':', colon - s))
			return 0;
	}
	if (parse_u64(colon + 1, &port) || port < 1 || port > 65535)
		return 0;
	return 1;
}

/* ---- the key table ---- */

enum cfg_type {
	T_STR,	  /* char[size] */
	T_PATH,	  /* char[size], relative to the config file's directory */
	T_U32,	  /* uint32_t in [min, max] */
	T_UINT,	  /* unsigned in [min, max] */
	T_U64,	  /* uint64_t */
	T_DBL,	  /* double in [min, max] */
	T_BOOL,	  /* int 0/1 */
	T_TIERS,  /* double[3], ordered rising (min <= max) or falling */
	T_SPECIAL /* handled by name in set_special */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;  /* offset in struct bsd_config */
	size_t size; /* strings: buffer size */
	double min, max;
	int falling;	  /* tiers: warning > alarm > protection */
	const char *what; /* expected value, for messages */
};

#define OFF(f) offsetof(struct bsd_config, f)
#define SZ(f)  sizeof(((struct bsd_config *)0)->f)
#define STR(k, f, what)                                                        \
	{                                                                      \
		k, T_STR, OFF(f), SZ(f), 0, 0, 0, what                         \
	}
#define PATH(k, f, what)                                                       \
	{                                                                      \
		k, T_PATH, OFF(f), SZ(f), 0, 0, 0, what                        \
	}
#define U32(k, f, lo, hi)                                                      \
	{                                                                      \
		k, T_U32, OFF(f), 0, lo, hi, 0, NULL                           \
	}
#define UINT(k, f, lo, hi)                                                     \
	{                                                                      \
		k, T_UINT, OFF(f), 0, lo, hi, 0, NULL                          \
	}
#define U64(k, f)                                                              \
	{                                                                      \
		k, T_U64, OFF(f), 0, 0, 0, 0, NULL                             \
	}
#define DBL(k, f, lo, hi)                                                      \
	{                                                                      \
		k, T_DBL, OFF(f), 0, lo, hi, 0, NULL                           \
	}
#define BOOL(k, f)                                                             \
	{                                                                      \
		k, T_BOOL, OFF(f), 0, 0, 0, 0, NULL                            \
	}
#define TIERS(k, f, lo, hi, fall)                                              \
	{                                                                      \
		k, T_TIERS, OFF(f), 0, lo, hi, fall, NULL                      \
	}
#define SPECIAL(k, what)                                                       \
	{                                                                      \
		k, T_SPECIAL, 0, 0, 0, 0, 0, what                              \
	}

static const struct cfg_key cfg_keys[] = {
    /* topology and segment */
    SPECIAL("site_name",
	    "1-31 letters, digits, '.', '_' or '-', such as siteA"),
    SPECIAL("shm_name", "a POSIX shm name such as /batsim"),
    U32("racks", racks, 1, BS_MAX_RACKS),
    U32("modules_per_rack", modules_per_rack, 1, BS_MAX_MODULES_PER_RACK),
    U32("cells_per_module", cells_per_module, 1, BS_MAX_CELLS_PER_MODULE),
    U32("slots", slots, 2, BS_MAX_SLOTS),
    SPECIAL("legacy_shm_name",
	    "empty (off) or a POSIX shm name such as /battery_sim_shm"),

    /* model */
    SPECIAL("chemistry", "lfp280 or nmc100"),
    DBL("initial_soc", initial_soc, 0, 1),
    DBL("ambient_c", ambient_c, -60, 100),
    U64("seed", seed),
    BOOL("variation", variation),
    DBL("capacity_sigma", capacity_sigma, 0, 0.2),
    DBL("r0_sigma", r0_sigma, 0, 0.5),
    DBL("soc_sigma", soc_sigma, 0, 0.5),
    DBL("rack_thermal_gradient_c", rack_thermal_gradient_c, -20, 20),
    DBL("initial_soh", initial_soh, 0.5, 1),
    DBL("soh_sigma", soh_sigma, 0, 0.2),
    DBL("ageing_factor", ageing_factor, 0, 1e6),

    /* cell parameters (override the chemistry preset) */
    SPECIAL("ocv_csv", "a CSV file soc,ocv_v with a header line"),
    DBL("capacity_ah", cell.capacity_ah, 1e-3, 1e5),
    DBL("v_min", cell.v_min, 0.1, 10),
    DBL("v_max", cell.v_max, 0.1, 10),
    DBL("r0_ohm", cell.r0_ohm, 1e-7, 10),
    DBL("r0_soc_factor", cell.r0_soc_factor, 1, 10),
    DBL("ea_j_mol", cell.ea_j_mol, 0, 2e5),
    DBL("r1_ohm", cell.r1_ohm, 0, 10),
    DBL("tau1_s", cell.tau1_s, 1e-3, 1e6),
    DBL("r2_ohm", cell.r2_ohm, 0, 10),
    DBL("tau2_s", cell.tau2_s, 1e-3, 1e6),
    DBL("heat_capacity_j_k", cell.heat_capacity_j_k, 1e-3, 1e9),
    DBL("ha_w_k", cell.ha_w_k, 1e-6, 1e6),
    DBL("conduction_w_k", cell.conduction_w_k, 0, 1e6),
    DBL("dudt_v_k", cell.dudt_v_k, -0.01, 0.01),

    /* BMS */
    TIERS("bms_cell_ov_v", bms.cell_ov_v, 0.1, 10, 0),
    TIERS("bms_cell_uv_v", bms.cell_uv_v, 0.1, 10, 1),
    TIERS("bms_cell_ot_c", bms.cell_ot_c, -60, 200, 0),
    TIERS("bms_cell_ut_c", bms.cell_ut_c, -60, 200, 1),
    TIERS("bms_v_spread_v", bms.v_spread_v, 0, 10, 0),
    TIERS("bms_t_spread_c", bms.t_spread_c, 0, 200, 0),
    TIERS("bms_soc_high", bms.soc_high, 0, 2, 0),
    TIERS("bms_soc_low", bms.soc_low, 0, 2, 1),
    DBL("bms_max_charge_a", bms.max_charge_a, 0, 1e6),
    DBL("bms_max_discharge_a", bms.max_discharge_a, 0, 1e6),
    DBL("bms_protection_delay_s", bms.protection_delay_s, 0, 3600),

    /* time */
    DBL("dt_s", dt_s, 1e-4, 60),
    U32("publish_period_ms", publish_period_ms, 10, 60000),
    DBL("speed", speed, 0, 1e6),
    DBL("duration_s", duration_s, 0, 1e12),
    UINT("threads", threads, 0, 1024),
    SPECIAL("backend", "auto, cpu or cuda"),

    /* input */
    SPECIAL("mode", "power or current"),
    DBL("setpoint_w", setpoint_w, -1e12, 1e12),
    DBL("setpoint_a", setpoint_a, -1e9, 1e9),
    SPECIAL("profile", "none, csv, peak-shaving, regulation or cycle"),
    PATH("profile_csv", profile.csv_path, "a CSV file time_s,power_w"),
    SPECIAL("profile_loop", "yes or no"),
    SPECIAL("profile_scale", "a number"),

    /* control */
    SPECIAL("control_socket", "an absolute path of at most 107 bytes"),

    /* batsim-httpd */
    SPECIAL("http_listen",
	    "up to 8 addresses host:port or [v6]:port, comma separated"),
    PATH("http_www", http_www, "a directory"),
    PATH("http_chartjs", http_chartjs, "a directory"),
    PATH("http_token_file", http_token_file, "a file, or empty"),
    UINT("http_max_connections", http_max_connections, 1, 65536),
    UINT("http_max_per_ip", http_max_per_ip, 1, 65536),
    UINT("http_timeout_s", http_timeout_s, 1, 86400),
    UINT("http_request_timeout_s", http_request_timeout_s, 1, 3600),
    UINT("http_history_s", http_history_s, 0, 86400 * 7),
    UINT("http_stale_ms", http_stale_ms, 10, 3600000),
    BOOL("metrics_cells", metrics_cells),

    /* batsim-modbusd */
    SPECIAL("modbus_listen",
	    "up to 8 addresses host:port or [v6]:port, comma separated"),
    UINT("modbus_max_connections", modbus_max_connections, 1, 1024),
    UINT("modbus_idle_s", modbus_idle_s, 1, 86400),
    UINT("modbus_stale_ms", modbus_stale_ms, 10, 3600000),
    BOOL("modbus_writes", modbus_writes),
    STR("modbus_write_allow", modbus_write_allow,
	"addresses or prefixes (127.0.0.0/8, ::1), comma separated"),
};

#define N_KEYS (sizeof cfg_keys / sizeof cfg_keys[0])

static const struct cfg_key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(cfg_keys[i].name, name))
			return &cfg_keys[i];
	return NULL;
}

/* ---- defaults ---- */

/* The BMS thresholds of the chemistry (chemistry.c); the rack current
 * limits are a C-rate of the cell's capacity. */
static void bms_chemistry_defaults(struct cfg_bms *b,
				   const struct cfg_cell *cell)
{
	chem_bms_defaults(b, cell->chemistry);
	b->max_charge_a = CFG_DEFAULT_C_RATE * cell->capacity_ah;
	b->max_discharge_a = CFG_DEFAULT_C_RATE * cell->capacity_ah;
}

int cfg_preset(struct cfg_cell *cell, const char *name)
{
	struct cfg_cell tmp;

	/* fill a copy so that an unknown name leaves *cell untouched */
	memset(&tmp, 0, sizeof tmp);
	if (!name || chem_preset(&tmp, name) != 0)
		return -1;
	*cell = tmp;
	return 0;
}

void cfg_defaults(struct bsd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->site_name, sizeof cfg->site_name, "%s", CFG_SITE_NAME);
	snprintf(cfg->shm_name, sizeof cfg->shm_name, "%s", BS_DEFAULT_NAME);
	cfg->racks = 20;
	cfg->modules_per_rack = 10;
	cfg->cells_per_module = 32;
	cfg->slots = BS_DEFAULT_SLOTS;

	if (cfg_preset(&cfg->cell, "lfp280") != 0) {
		/* chemistry.c always knows its default preset; this keeps the
		 * struct sane even if it did not */
		snprintf(cfg->cell.chemistry, sizeof cfg->cell.chemistry,
			 "lfp280");
	}
	cfg->initial_soc = 0.5;
	cfg->ambient_c = 25.0;
	cfg->seed = 1;
	cfg->variation = 1;
	/* SLIDE's screening of 200 cells (data/chemistry/SOURCES.md) */
	cfg->capacity_sigma = 0.004;
	cfg->r0_sigma = 0.025;
	cfg->soc_sigma = 0.01;
	cfg->rack_thermal_gradient_c = 2.0;
	/* ageing (src/batsimd/ageing.c): a new site, real-time ageing */
	cfg->initial_soh = 1.0;
	cfg->soh_sigma = 0.01;
	cfg->ageing_factor = 1.0;

	bms_chemistry_defaults(&cfg->bms, &cfg->cell);

	cfg->dt_s = 0.1;
	cfg->publish_period_ms = 200;
	cfg->speed = 1.0;
	cfg->duration_s = 0;
	cfg->threads = 0;
	snprintf(cfg->backend, sizeof cfg->backend, "auto");

	cfg->mode = BS_MODE_POWER;
	cfg->setpoint_w = 0;
	cfg->setpoint_a = 0;
	cfg->profile.name[0] = '\0';
	cfg->profile.loop = 1;
	cfg->profile.scale = 1.0;

	snprintf(cfg->control_socket, sizeof cfg->control_socket, "%s",
		 "/run/batsim/batsimd.sock");

	snprintf(cfg->http_listen[0], sizeof cfg->http_listen[0],
		 "127.0.0.1:8080");
	cfg->http_listen_n = 1;
	snprintf(cfg->http_www, sizeof cfg->http_www, "%s/www", PKGDATADIR);
	snprintf(cfg->http_chartjs, sizeof cfg->http_chartjs, "%s",
		 CHARTJS_DIR);
	cfg->http_token_file[0] = '\0';
	cfg->http_max_connections = 256;
	cfg->http_max_per_ip = 32;
	cfg->http_timeout_s = 30;
	cfg->http_request_timeout_s = 10;
	cfg->http_history_s = 600;
	cfg->http_stale_ms = 2000;
	cfg->metrics_cells = 0;

	snprintf(cfg->modbus_listen[0], sizeof cfg->modbus_listen[0],
		 "127.0.0.1:5020");
	cfg->modbus_listen_n = 1;
	cfg->modbus_max_connections = 32;
	cfg->modbus_idle_s = 60;
	cfg->modbus_stale_ms = 2000;
	cfg->modbus_writes = 0;
	snprintf(cfg->modbus_write_allow, sizeof cfg->modbus_write_allow,
		 "127.0.0.0/8, ::1");
}

/* ---- cfg_set ---- */

/* The directory relative paths are resolved against while a file is
 * being loaded ("" outside cfg_load: paths are taken as given). */
static char cfg_base_dir[CFG_PATH_MAX];

static int set_path(char *dst, size_t size, const char *key, const char *value,
		    char *err, size_t errlen)
{
	int n;

	if (value[0] && value[0] != '/' && cfg_base_dir[0])
		n = snprintf(dst, size, "%s/%s", cfg_base_dir, value);
	else
		n = snprintf(dst, size, "%s", value);
	if (n < 0 || (size_t)n >= size) {
		dst[0] = '\0';
		seterr(err, errlen, "%s: path too long (at most %zu bytes)",
		       key, size - 1);
		return -1;
	}
	return 0;
}

static int set_special(struct bsd_config *cfg, const struct cfg_key *k,
		       const char *v, char *err, size_t errlen)
{
	const char *key = k->name;

	if (!strcmp(key, "site_name")) {
		if (!valid_site_name(v))
			goto bad;
		snprintf(cfg->site_name, sizeof cfg->site_name, "%s", v);
		return 0;
	}
	if (!strcmp(key, "shm_name") || !strcmp(key, "legacy_shm_name")) {
		int legacy = key[0] == 'l';
		char *dst = legacy ? cfg->legacy_shm_name : cfg->shm_name;

		if (legacy &&
		    (!v[0] || !strcmp(v, "none") || !strcmp(v, "off"))) {
			dst[0] = '\0';
			return 0;
		}
		if (!valid_shm_name(v))
			goto bad;
		snprintf(dst, 64, "%s", v);
		return 0;
	}
	if (!strcmp(key, "chemistry")) {
		struct cfg_cell cell;

		if (cfg_preset(&cell, v) != 0)
			goto bad;
		/* a preset replaces every cell parameter and the BMS limits
		 * that follow the chemistry's voltage window and capacity */
		cfg->cell = cell;
		bms_chemistry_defaults(&cfg->bms, &cfg->cell);
		return 0;
	}
	if (!strcmp(key, "ocv_csv")) {
		char path[CFG_PATH_MAX];

		if (!v[0]) /* empty: keep the chemistry's own table */
			return 0;
		if (set_path(path, sizeof path, key, v, err, errlen))
			return -1;
		return cfg_load_ocv_csv(&cfg->cell, path, err, errlen);
	}
	if (!strcmp(key, "backend")) {
		if (strcmp(v, "auto") && strcmp(v, "cpu") && strcmp(v, "cuda"))
			goto bad;
		snprintf(cfg->backend, sizeof cfg->backend, "%s", v);
		return 0;
	}
	if (!strcmp(key, "mode")) {
		if (!strcmp(v, "power"))
			cfg->mode = BS_MODE_POWER;
		else if (!strcmp(v, "current"))
			cfg->mode = BS_MODE_CURRENT;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "profile")) {
		static const char *const names[] = {
		    "none", "csv", "peak-shaving", "regulation", "cycle"};
		size_t i;

		if (!v[0]) {
			cfg->profile.name[0] = '\0';
			return 0;
		}
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcmp(v, names[i]))
				break;
		if (i == sizeof names / sizeof names[0])
			goto bad;
		snprintf(cfg->profile.name, sizeof cfg->profile.name, "%s",
			 i == 0 ? "" : v);
		return 0;
	}
	if (!strcmp(key, "profile_loop")) {
		if (parse_bool(v, &cfg->profile.loop))
			goto bad;
		return 0;
	}
	if (!strcmp(key, "profile_scale")) {
		double d;

		if (parse_double(v, &d) || d < -1e6 || d > 1e6)
			goto bad;
		cfg->profile.scale = d;
		return 0;
	}
	if (!strcmp(key, "control_socket")) {
		/* sun_path holds 108 bytes with the NUL */
		if (v[0] != '/' || strlen(v) > 107)
			goto bad;
		snprintf(cfg->control_socket, sizeof cfg->control_socket, "%s",
			 v);
		return 0;
	}
	if (!strcmp(key, "http_listen") || !strcmp(key, "modbus_listen")) {
		char buf[CFG_LINE_MAX];
		char list[8][64] = { { 0 } };
		unsigned n = 0;
		char *save = NULL;

		snprintf(buf, sizeof buf, "%s", v);
		for (char *t = strtok_r(buf, ", \t", &save); t;
		     t = strtok_r(NULL, ", \t", &save)) {
			if (n == 8) {
				seterr(err, errlen, "%s: more than 8 addresses",
				       key);
				return -1;
			}
			if (strlen(t) >= sizeof list[0] || !valid_listen(t)) {
				seterr(err, errlen,
				       "bad address '%s' for %s: expected "
				       "host:port or [v6]:port (port 1-65535)",
				       t, key);
				return -1;
			}
			snprintf(list[n++], sizeof list[0], "%s", t);
		}
		if (n == 0)
			goto bad;
		if (key[0] == 'm') {
			memcpy(cfg->modbus_listen, list, sizeof list);
			cfg->modbus_listen_n = n;
		} else {
			memcpy(cfg->http_listen, list, sizeof list);
			cfg->http_listen_n = n;
		}
		return 0;
	}
	seterr(err, errlen, "%s: internal error, no handler", key);
	return -1;
bad:
	seterr(err, errlen, "bad value '%s' for %s: expected %s", v, key,
	       k->what);
	return -1;
}

int cfg_set(struct bsd_config *cfg, const char *key, const char *value,
	    char *err, size_t errlen)
{
	const struct cfg_key *k = find_key(key);
	char *base = (char *)cfg;
	double d;
	uint64_t u;

	if (!k) {
		seterr(err, errlen,
		       "unknown key '%s' (see batsim.conf(5) for the keys)",
		       key);
		return -1;
	}
	switch (k->type) {
	case T_SPECIAL:
		return set_special(cfg, k, value, err, errlen);
	case T_STR:
		if (strlen(value) >= k->size) {
			seterr(err, errlen,
			       "%s: value too long (at most %zu "
			       "bytes)",
			       key, k->size - 1);
			return -1;
		}
		snprintf(base + k->off, k->size, "%s", value);
		return 0;
	case T_PATH:
		return set_path(base + k->off, k->size, key, value, err,
				errlen);
	case T_U32:
	case T_UINT:
		if (parse_u64(value, &u) || u < k->min || u > k->max) {
			seterr(err, errlen,
			       "bad value '%s' for %s: expected "
			       "an integer from %.0f to %.0f",
			       value, key, k->min, k->max);
			return -1;
		}
		if (k->type == T_U32)
			*(uint32_t *)(base + k->off) = (uint32_t)u;
		else
			*(unsigned *)(base + k->off) = (unsigned)u;
		return 0;
	case T_U64:
		if (parse_u64(value, &u)) {
			seterr(err, errlen,
			       "bad value '%s' for %s: expected "
			       "an unsigned integer",
			       value, key);
			return -1;
		}
		*(uint64_t *)(base + k->off) = u;
		return 0;
	case T_DBL:
		if (parse_double(value, &d) || d < k->min || d > k->max) {
			seterr(err, errlen,
			       "bad value '%s' for %s: expected "
			       "a number from %g to %g",
			       value, key, k->min, k->max);
			return -1;
		}
		*(double *)(base + k->off) = d;
		return 0;
	case T_BOOL:
		if (parse_bool(value, (int *)(base + k->off))) {
			seterr(err, errlen,
			       "bad value '%s' for %s: expected "
			       "yes or no",
			       value, key);
			return -1;
		}
		return 0;
	case T_TIERS: {
		double t[3];

		if (parse_tiers(value, t)) {
			seterr(err, errlen,
			       "bad value '%s' for %s: expected "
			       "three numbers: warning, alarm, protection",
			       value, key);
			return -1;
		}
		for (int i = 0; i < 3; i++) {
			if (t[i] < k->min || t[i] > k->max) {
				seterr(err, errlen,
				       "bad value '%s' for %s: "
				       "each threshold must be from %g to %g",
				       value, key, k->min, k->max);
				return -1;
			}
		}
		if (k->falling ? !(t[0] >= t[1] && t[1] >= t[2])
			       : !(t[0] <= t[1] && t[1] <= t[2])) {
			seterr(err, errlen,
			       "bad value '%s' for %s: the "
			       "thresholds warning, alarm, protection must be "
			       "in %s order",
			       value, key, k->falling ? "falling" : "rising");
			return -1;
		}
		memcpy(base + k->off, t, sizeof t);
		return 0;
	}
	}
	return -1;
}

/* ---- cfg_load ---- */

/* Split one line into key and value in place; 0 for a key/value line, 1
 * for a blank or comment line, -1 for a syntax error (message in err). */
static int split_line(char *line, char **key, char **value, char *err,
		      size_t errlen)
{
	char *p = (char *)skip_ws(line);
	char *eq, *end;

	if (!*p || *p == '#')
		return 1;
	eq = strchr(p, '=');
	if (!eq) {
		seterr(err, errlen, "expected 'key = value', got '%.60s'", p);
		return -1;
	}
	/* key: up to '=', trailing blanks removed */
	end = eq;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (!*p) {
		seterr(err, errlen, "missing key before '='");
		return -1;
	}
	for (char *c = p; *c; c++) {
		if (!islower((unsigned char)*c) &&
		    !isdigit((unsigned char)*c) && *c != '_') {
			seterr(err, errlen,
			       "bad key '%s': keys are lower case "
			       "letters, digits and '_'",
			       p);
			return -1;
		}
	}
	*key = p;
	/* value: after '=', a " #" comment and surrounding blanks removed */
	p = (char *)skip_ws(eq + 1);
	if (*p == '"') {
		char *q = strchr(p + 1, '"');

		if (!q) {
			seterr(err, errlen, "%s: missing closing '\"'", *key);
			return -1;
		}
		*q = '\0';
		end = (char *)skip_ws(q + 1);
		if (*end && *end != '#') {
			seterr(err, errlen, "%s: text after the closing '\"'",
			       *key);
			return -1;
		}
		*value = p + 1;
		return 0;
	}
	for (char *c = p; *c; c++) {
		if (*c == '#' && (c == p || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	}
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	*value = p;
	return 0;
}

int cfg_load(struct bsd_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[CFG_LINE_MAX + 2];
	char msg[512];
	int rc = 0;
	int set_capacity = 0, set_charge = 0, set_discharge = 0;

	if (!f) {
		seterr(err, errlen,
		       "%s: cannot open: %s (check the path, or "
		       "use --config FILE)",
		       path, strerror(errno));
		return -1;
	}
	{
		const char *slash = strrchr(path, '/');

		if (slash)
			snprintf(cfg_base_dir, sizeof cfg_base_dir, "%.*s",
				 (int)(slash == path ? 1 : slash - path), path);
		else
			snprintf(cfg_base_dir, sizeof cfg_base_dir, ".");
	}
	/* Two passes: the chemistry preset first, then every other key, so
	 * that cell and BMS overrides win wherever they are in the file. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		unsigned lineno = 0;

		rewind(f);
		while (fgets(line, sizeof line, f)) {
			size_t n = strlen(line);
			char *key, *value;
			int r;

			lineno++;
			if (n && line[n - 1] == '\n')
				line[--n] = '\0';
			else if (!feof(f)) {
				seterr(err, errlen,
				       "%s:%u: line longer than "
				       "%d bytes",
				       path, lineno, CFG_LINE_MAX);
				rc = -1;
				break;
			}
			if (n && line[n - 1] == '\r')
				line[--n] = '\0';
			r = split_line(line, &key, &value, msg, sizeof msg);
			if (r == 1)
				continue;
			if (r == 0 && (pass == 0) != !strcmp(key, "chemistry"))
				continue;
			if (r == 0)
				r = cfg_set(cfg, key, value, msg, sizeof msg);
			if (r != 0) {
				seterr(err, errlen, "%s:%u: %s", path, lineno,
				       msg);
				rc = -1;
				break;
			}
			if (pass == 1) {
				set_capacity |= !strcmp(key, "capacity_ah");
				set_charge |= !strcmp(key, "bms_max_charge_a");
				set_discharge |=
				    !strcmp(key, "bms_max_discharge_a");
			}
		}
		if (rc == 0 && ferror(f)) {
			seterr(err, errlen, "%s: read error: %s", path,
			       strerror(errno));
			rc = -1;
		}
	}
	fclose(f);
	cfg_base_dir[0] = '\0';
	/* the default rack current limits are a C-rate of the capacity */
	if (rc == 0 && set_capacity && !set_charge)
		cfg->bms.max_charge_a =
		    CFG_DEFAULT_C_RATE * cfg->cell.capacity_ah;
	if (rc == 0 && set_capacity && !set_discharge)
		cfg->bms.max_discharge_a =
		    CFG_DEFAULT_C_RATE * cfg->cell.capacity_ah;
	return rc;
}

/* ---- OCV tables ---- */

int cfg_load_ocv_csv(struct cfg_cell *cell, const char *path, char *err,
		     size_t errlen)
{
	struct df_file f;
	double soc[CFG_OCV_MAX], v[CFG_OCV_MAX];
	unsigned n = 0;
	int header = 0;
	char *p;

	if (df_open(&f, path, "OCV table", CFG_OCV_LINE_MAX, err, errlen) != 0)
		return -1;
	while ((p = df_line(&f))) {
		char *end;
		double s, u;

		p = (char *)skip_ws(p);
		if (!*p || *p == '#')
			continue;
		if (!header && !isdigit((unsigned char)*p) && *p != '.' &&
		    *p != '-' && *p != '+') {
			header = 1; /* "soc,ocv_v" */
			continue;
		}
		header = 1;
		if (util_strtod_dec(p, &end, &s) != 0)
			goto bad_line;
		p = (char *)skip_ws(end);
		if (*p != ',')
			goto bad_line;
		p = (char *)skip_ws(p + 1);
		if (util_strtod_dec(p, &end, &u) != 0 || *skip_ws(end))
			goto bad_line;
		if (!(s >= 0 && s <= 1) || !(u > 0 && u < 10)) {
			seterr(err, errlen,
			       "%s:%u: soc must be 0..1 and "
			       "ocv_v 0..10 V",
			       path, f.lineno);
			goto fail;
		}
		if (n > 0 && s <= soc[n - 1]) {
			seterr(err, errlen, "%s:%u: soc values must increase",
			       path, f.lineno);
			goto fail;
		}
		if (n == CFG_OCV_MAX) {
			seterr(err, errlen, "%s:%u: more than %d points", path,
			       f.lineno, CFG_OCV_MAX);
			goto fail;
		}
		soc[n] = s;
		v[n] = u;
		n++;
	}
	df_close(&f);
	if (n < 2) {
		seterr(err, errlen,
		       "OCV table %s: needs at least 2 points "
		       "(lines soc,ocv_v after a header line)",
		       path);
		return -1;
	}
	if (soc[0] > 0 || soc[n - 1] < 1) {
		seterr(err, errlen,
		       "OCV table %s: soc must span 0 to 1 (it "
		       "spans %g to %g)",
		       path, soc[0], soc[n - 1]);
		return -1;
	}
	cell->ocv_n = n;
	memcpy(cell->ocv_soc, soc, n * sizeof soc[0]);
	memcpy(cell->ocv_v, v, n * sizeof v[0]);
	return 0;
bad_line:
	seterr(err, errlen, "%s:%u: expected 'soc,ocv_v' (two numbers)", path,
	       f.lineno);
fail:
	df_close(&f);
	return -1;
}

/* ---- cfg_validate ---- */

int cfg_validate(const struct bsd_config *cfg, char *err, size_t errlen)
{
	const struct cfg_cell *c = &cfg->cell;
	const struct cfg_bms *b = &cfg->bms;
	uint64_t cells = (uint64_t)cfg->racks * cfg->modules_per_rack *
			 cfg->cells_per_module;

	if (cfg->racks < 1 || cfg->racks > BS_MAX_RACKS ||
	    cfg->modules_per_rack < 1 ||
	    cfg->modules_per_rack > BS_MAX_MODULES_PER_RACK ||
	    cfg->cells_per_module < 1 ||
	    cfg->cells_per_module > BS_MAX_CELLS_PER_MODULE) {
		seterr(err, errlen, "topology %ux%ux%u out of range",
		       cfg->racks, cfg->modules_per_rack,
		       cfg->cells_per_module);
		return -1;
	}
	if (cells > BS_MAX_CELLS) {
		seterr(err, errlen,
		       "topology %ux%ux%u has %llu cells, more "
		       "than the supported %u: reduce racks, "
		       "modules_per_rack or cells_per_module",
		       cfg->racks, cfg->modules_per_rack, cfg->cells_per_module,
		       (unsigned long long)cells, BS_MAX_CELLS);
		return -1;
	}
	if (!valid_shm_name(cfg->shm_name)) {
		seterr(err, errlen,
		       "shm_name '%s' is not a POSIX shm name "
		       "such as /batsim",
		       cfg->shm_name);
		return -1;
	}
	if (cfg->legacy_shm_name[0] &&
	    !strcmp(cfg->legacy_shm_name, cfg->shm_name)) {
		seterr(err, errlen,
		       "legacy_shm_name must differ from "
		       "shm_name (%s)",
		       cfg->shm_name);
		return -1;
	}
	if (cfg->slots < 2 || cfg->slots > BS_MAX_SLOTS) {
		seterr(err, errlen, "slots must be from 2 to %u", BS_MAX_SLOTS);
		return -1;
	}
	if (!(c->v_min < c->v_max)) {
		seterr(err, errlen, "v_min (%g V) must be below v_max (%g V)",
		       c->v_min, c->v_max);
		return -1;
	}
	if (c->ocv_n < 2 || c->ocv_n > CFG_OCV_MAX) {
		seterr(err, errlen,
		       "OCV table of %s has %u points: it needs "
		       "2 to %d (ocv_csv)",
		       c->chemistry, c->ocv_n, CFG_OCV_MAX);
		return -1;
	}
	if (!(c->capacity_ah > 0) || !(c->r0_ohm > 0) || c->r1_ohm < 0 ||
	    c->r2_ohm < 0 || !(c->heat_capacity_j_k > 0) || !(c->ha_w_k > 0) ||
	    c->conduction_w_k < 0) {
		seterr(err, errlen,
		       "cell parameters of %s out of range: "
		       "capacity_ah, r0_ohm, heat_capacity_j_k and ha_w_k "
		       "must be > 0, r1_ohm, r2_ohm, conduction_w_k >= 0",
		       c->chemistry);
		return -1;
	}
	if ((c->r1_ohm > 0 && !(c->tau1_s > 0)) ||
	    (c->r2_ohm > 0 && !(c->tau2_s > 0))) {
		seterr(err, errlen,
		       "an RC pair with a resistance needs a "
		       "time constant > 0 (tau1_s, tau2_s)");
		return -1;
	}
	if (!(b->cell_uv_v[0] < b->cell_ov_v[0])) {
		seterr(err, errlen,
		       "bms_cell_uv_v warning (%g V) must be "
		       "below bms_cell_ov_v warning (%g V)",
		       b->cell_uv_v[0], b->cell_ov_v[0]);
		return -1;
	}
	if (!(b->cell_ut_c[0] < b->cell_ot_c[0])) {
		seterr(err, errlen,
		       "bms_cell_ut_c warning (%g degC) must be "
		       "below bms_cell_ot_c warning (%g degC)",
		       b->cell_ut_c[0], b->cell_ot_c[0]);
		return -1;
	}
	if (!(b->soc_low[0] < b->soc_high[0])) {
		seterr(err, errlen,
		       "bms_soc_low warning must be below "
		       "bms_soc_high warning");
		return -1;
	}
	if (!(cfg->dt_s > 0)) {
		seterr(err, errlen, "dt_s must be > 0");
		return -1;
	}
	if (cfg->speed < 0 || cfg->duration_s < 0) {
		seterr(err, errlen, "speed and duration_s must be >= 0");
		return -1;
	}
	if (strcmp(cfg->backend, "auto") && strcmp(cfg->backend, "cpu") &&
	    strcmp(cfg->backend, "cuda")) {
		seterr(err, errlen, "backend '%s': expected auto, cpu or cuda",
		       cfg->backend);
		return -1;
	}
	if (cfg->mode != BS_MODE_POWER && cfg->mode != BS_MODE_CURRENT) {
		seterr(err, errlen, "mode must be power or current");
		return -1;
	}
	if (!strcmp(cfg->profile.name, "csv") && !cfg->profile.csv_path[0]) {
		seterr(err, errlen,
		       "profile = csv needs profile_csv = FILE "
		       "(a CSV file time_s,power_w)");
		return -1;
	}
	if (cfg->control_socket[0] != '/' ||
	    strlen(cfg->control_socket) > 107) {
		seterr(err, errlen,
		       "control_socket '%s' must be an absolute "
		       "path of at most 107 bytes",
		       cfg->control_socket);
		return -1;
	}
	if (cfg->http_listen_n < 1 || cfg->http_listen_n > 8) {
		seterr(err, errlen, "http_listen needs 1 to 8 addresses");
		return -1;
	}
	return 0;
}
