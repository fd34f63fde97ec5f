/*
 * main.c - batsimctl(1) command line: options may come before or after
 * the command words, so that "batsimctl show summary --json" and
 * "batsimctl --json show summary" both work.  getopt_long is used for the
 * options before the command; after it, arguments are scanned by hand
 * because a negative setpoint ("set power -250kW") is a value, not an
 * option, and getopt would take it for one.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "batsim/batsim.h"
#include "conf.h"
#include "ctl.h"
#include "env.h"
#include "log.h"
#include "util.h"

#define DEFAULT_CONFIG SYSCONFDIR "/batsim/batsim.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: batsimctl [OPTION]... COMMAND [ARG]...\n"
		"Show the live state of a batsim site and control batsimd.\n"
		"\n"
		"Read side (shared memory):\n"
		"  status                       writer, state, tick, "
		"heartbeat, topology\n"
		"  show summary                 site and one line per rack\n"
		"  show site                    every rack, module and cell\n"
		"  show rack R                  a rack and its modules\n"
		"  show module R M              a module and its cells\n"
		"  show cell R M C              one cell\n"
		"  watch status|show ...        redraw every publish period\n"
		"\n"
		"Control side (batsimd's control socket):\n"
		"  set power P[W|kW|MW]         constant power, + = "
		"discharge\n"
		"  set current I[A]             constant current, + = "
		"discharge\n"
		"  set ambient T[C]             air temperature, degC\n"
		"  profile regulation|peak-shaving|cycle|none\n"
		"  profile csv FILE [--loop] [--scale K]\n"
		"  fault inject TYPE --rack R [--module M --cell C]\n"
		"        [--ohm X|--factor K|--value V] "
		"[--quantity voltage|temperature]\n"
		"  fault clear TYPE|all [--rack R [--module M --cell C]]\n"
		"  faults [list]                list injected faults\n"
		"  alarms reset [--rack R]      reset latched alarms "
		"('alarm reset' too)\n"
		"  alarms [list]                list active and latched "
		"alarms\n"
		"  state                        setpoint, profile, ambient, "
		"speed\n"
		"  pause | resume | speed X     simulated time (X: 1 real "
		"time,\n"
		"                               N faster, 0 flat out)\n"
		"  contactor open|close [RACK]  operator contactor control "
		"(no RACK: all)\n"
		"  soc-reserve MIN%% MAX%%        SoC reserve window "
		"(0%% 100%%: none)\n"
		"  modbus-fault set TYPE [--unit U] [--ms N|--seconds N|"
		"--every N|\n"
		"        --points P,P...|--what values|all]\n"
		"  modbus-fault clear TYPE|all [--unit U]\n"
		"  modbus-fault list            Modbus protocol faults set\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE       take shm_name and control_socket "
		"from FILE\n"
		"                          (default %s when it exists)\n"
		"  -n, --name NAME         shm segment (default %s)\n"
		"  -S, --socket PATH       control socket (default %s)\n"
		"  -j, --json              print JSON (the HTTP API's "
		"shapes)\n"
		"      --csv               print CSV (show: cells; summary: racks)\n"
		"      --max-age-ms N      heartbeat age that counts as stale "
		"(2000)\n"
		"      --interval-ms N     watch period (default: publish "
		"period)\n"
		"      --timeout-ms N      control reply timeout (5000)\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Racks, modules and cells are numbered from 0.\n"
		"Exit status: 0 ok, 1 usage, 2 no segment, 3 stale or not "
		"running,\n"
		"4 bad segment, 5 batsimd unreachable, 6 command refused, 7 "
		"other.\n"
		"Options win over BATSIM_SHM, BATSIM_CONTROL_SOCKET and "
		"BATSIM_CONFIG,\n"
		"which win over the configuration file.  See "
		"batsimctl(1).\n",
		DEFAULT_CONFIG, BS_DEFAULT_NAME, BS_DEFAULT_CONTROL_SOCKET);
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("batsimctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'batsimctl --help' for more information.\n", stderr);
	return CTL_EX_USAGE;
}

enum {
	O_NAME = 'n',
	O_SOCKET = 'S',
	O_JSON = 'j',
	O_HELP = 'h',
	O_VERSION = 'V',
	O_CONFIG = 'c',
	O_CSV = 256,
	O_MAXAGE,
	O_INTERVAL,
	O_TIMEOUT,
	O_RACK,
	O_MODULE,
	O_CELL,
	O_OHM,
	O_FACTOR,
	O_VALUE,
	O_QUANTITY,
	O_LOOP,
	O_SCALE,
	O_UNIT,
	O_MS,
	O_SECONDS,
	O_EVERY,
	O_POINTS,
	O_WHAT,
};

static const struct option longopts[] = {
    {"config", required_argument, NULL, O_CONFIG},
    {"name", required_argument, NULL, O_NAME},
    {"socket", required_argument, NULL, O_SOCKET},
    {"json", no_argument, NULL, O_JSON},
    {"csv", no_argument, NULL, O_CSV},
    {"max-age-ms", required_argument, NULL, O_MAXAGE},
    {"interval-ms", required_argument, NULL, O_INTERVAL},
    {"timeout-ms", required_argument, NULL, O_TIMEOUT},
    {"rack", required_argument, NULL, O_RACK},
    {"module", required_argument, NULL, O_MODULE},
    {"cell", required_argument, NULL, O_CELL},
    {"ohm", required_argument, NULL, O_OHM},
    {"factor", required_argument, NULL, O_FACTOR},
    {"value", required_argument, NULL, O_VALUE},
    {"quantity", required_argument, NULL, O_QUANTITY},
    {"loop", no_argument, NULL, O_LOOP},
    {"scale", required_argument, NULL, O_SCALE},
    {"unit", required_argument, NULL, O_UNIT},
    {"ms", required_argument, NULL, O_MS},
    {"seconds", required_argument, NULL, O_SECONDS},
    {"every", required_argument, NULL, O_EVERY},
    {"points", required_argument, NULL, O_POINTS},
    {"what", required_argument, NULL, O_WHAT},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

/* Apply one option; returns -1 to exit 0 (help, version), 0 to go on, or
 * an exit status. */
static int apply_option(struct ctl *c, int id, const char *optname,
			const char *arg)
{
	uint64_t u;
	int64_t *idx;

	switch (id) {
	case O_NAME:
		if (arg[0] != '/' || strlen(arg) < 2 || strchr(arg + 1, '/'))
			return bad_usage("--name '%s': a segment name is '/' "
					 "followed by a name without '/', e.g. "
					 "/batsim",
					 arg);
		c->name = arg;
		return 0;
	case O_SOCKET:
		c->socket = arg;
		return 0;
	case O_CONFIG:
		c->config = arg;
		return 0;
	case O_JSON:
		c->json = 1;
		return 0;
	case O_CSV:
		c->csv = 1;
		return 0;
	case O_MAXAGE:
		if (util_parse_u64(arg, 1, UINT64_MAX / 1000000, &u))
			return bad_usage("--max-age-ms '%s': give a positive "
					 "number of milliseconds",
					 arg);
		c->max_age_ms = u;
		return 0;
	case O_INTERVAL:
		if (util_parse_u64(arg, 10, 86400000, &u))
			return bad_usage("--interval-ms '%s': give 10 to "
					 "86400000 milliseconds",
					 arg);
		c->interval_ms = (int64_t)u;
		return 0;
	case O_TIMEOUT:
		if (util_parse_u64(arg, 1, 3600000, &u))
			return bad_usage("--timeout-ms '%s': give 1 to 3600000 "
					 "milliseconds",
					 arg);
		c->timeout_ms = (int)u;
		return 0;
	case O_RACK:
	case O_MODULE:
	case O_CELL:
		idx = id == O_RACK     ? &c->rack
		      : id == O_MODULE ? &c->module
				       : &c->cell;
		if (ctl_parse_index(arg, idx))
			return bad_usage("%s '%s': give an index from 0",
					 optname, arg);
		return 0;
	case O_OHM:
	case O_FACTOR:
	case O_VALUE:
		if (c->have_value)
			return bad_usage("%s and %s exclude each other: give "
					 "one value",
					 c->value_opt, optname);
		if (util_parse_double(arg, &c->value))
			return bad_usage("%s '%s': give a number", optname,
					 arg);
		c->have_value = 1;
		c->value_opt = id == O_OHM	? "--ohm"
			       : id == O_FACTOR ? "--factor"
						: "--value";
		return 0;
	case O_QUANTITY:
		if (strcmp(arg, "voltage") && strcmp(arg, "temperature"))
			return bad_usage("--quantity '%s': give voltage or "
					 "temperature",
					 arg);
		c->quantity = arg;
		return 0;
	case O_LOOP:
		c->loop = 1;
		return 0;
	case O_SCALE:
		if (util_parse_double(arg, &c->scale))
			return bad_usage("--scale '%s': give a number", arg);
		c->have_scale = 1;
		return 0;
	case O_UNIT:
	case O_MS:
	case O_SECONDS:
	case O_EVERY:
		idx = id == O_UNIT	? &c->unit
		      : id == O_MS	? &c->ms
		      : id == O_SECONDS ? &c->seconds
					: &c->every;
		if (ctl_parse_index(arg, idx))
			return bad_usage("%s '%s': give a whole number from 0",
					 optname, arg);
		return 0;
	case O_POINTS:
		c->points = arg;
		return 0;
	case O_WHAT:
		if (strcmp(arg, "values") && strcmp(arg, "all"))
			return bad_usage("--what '%s': give values or all",
					 arg);
		c->what = arg;
		return 0;
	case O_HELP:
		usage(stdout);
		return -1;
	case O_VERSION:
		printf("batsimctl (batsim) %s, libbatsim %s\n", PACKAGE_VERSION,
		       bs_version());
		return -1;
	default:
		fputs("Try 'batsimctl --help' for more information.\n", stderr);
		return CTL_EX_USAGE;
	}
}

static int add_arg(struct ctl *c, char *a)
{
	if (c->nargs >= CTL_MAX_ARGS)
		return bad_usage("too many arguments");
	c->args[c->nargs++] = a;
	return 0;
}

/* The words after the command: options anywhere, "--" ends them, and a
 * word that starts with '-' followed by a digit or '.' is a number. */
static int scan_rest(struct ctl *c, int argc, char **argv, int i)
{
	int rc, only_args = 0;

	for (; i < argc; i++) {
		char *a = argv[i];
		const struct option *o;
		const char *val = NULL;
		size_t n;

		if (only_args || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9') || a[1] == '.') {
			if ((rc = add_arg(c, a)))
				return rc;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = 1;
			continue;
		}
		if (a[1] != '-') {
			/* short options, one per word */
			static const char shorts[] = "cnSjhV";

			if (a[2] || !strchr(shorts, a[1]))
				return bad_usage("unknown option '%s'", a);
			for (o = longopts; o->name; o++)
				if (o->val == a[1])
					break;
		} else {
			const char *eq = strchr(a + 2, '=');

			n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			for (o = longopts; o->name; o++)
				if (strlen(o->name) == n &&
				    !strncmp(o->name, a + 2, n))
					break;
			if (!o->name)
				return bad_usage("unknown option '%s'", a);
			if (eq) {
				if (o->has_arg == no_argument)
					return bad_usage("option '--%s' takes "
							 "no value",
							 o->name);
				val = eq + 1;
			}
		}
		if (o->has_arg == required_argument && !val) {
			if (i + 1 >= argc)
				return bad_usage("option '%s' needs a value",
						 a);
			val = argv[++i];
		}
		rc = apply_option(c, o->val, a, val);
		if (rc)
			return rc;
	}
	return 0;
}

/* shm_name and control_socket from --config FILE, or from the default
 * file when it exists, for what options and environment left unset.  0,
 * or an exit status. */
static int load_config(struct ctl *c)
{
	static struct bsd_config cfg;
	const char *path = c->config;
	char err[512];

	if (!path) {
		if (c->name && c->socket)
			return 0; /* nothing to take from it */
		if (access(DEFAULT_CONFIG, F_OK))
			return 0;
		if (access(DEFAULT_CONFIG, R_OK)) {
			/* e.g. mode 0640 root:batsim and a user outside
			 * the group: the defaults may still be right. */
			fprintf(stderr,
				"batsimctl: warning: cannot read %s (%s): "
				"using the default segment and socket; give "
				"--config, --name or --socket\n",
				DEFAULT_CONFIG, strerror(errno));
			return 0;
		}
		path = DEFAULT_CONFIG;
	}
	cfg_defaults(&cfg);
	if (cfg_load(&cfg, path, err, sizeof err)) {
		/* cfg_load's message names the file and the fix */
		fprintf(stderr, "batsimctl: error: %s\n", err);
		return CTL_EX_USAGE;
	}
	if (!c->name)
		c->name = cfg.shm_name;
	if (!c->socket)
		c->socket = cfg.control_socket;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = {
	    .name = NULL,
	    .socket = NULL,
	    .max_age_ms = 2000,
	    .interval_ms = -1,
	    .timeout_ms = 5000,
	    .rack = -1,
	    .module = -1,
	    .cell = -1,
	    .scale = 1.0,
	    .unit = -1,
	    .ms = -1,
	    .seconds = -1,
	    .every = -1,
	};
	int opt, rc;

	log_init(argv[0], LOG_INFO);
	/* '+': stop at the first word that is not an option (the command),
	 * so getopt never permutes "-250kW" in front of it. */
	while ((opt = getopt_long(argc, argv, "+c:n:S:jhV", longopts, NULL)) !=
	       -1) {
		if (opt == '?') {
			/* getopt has said which option is wrong */
			fputs("Try 'batsimctl --help' for more information.\n",
			      stderr);
			return CTL_EX_USAGE;
		}
		rc = apply_option(&c, opt, argv[optind - 1], optarg);
		if (rc)
			return rc < 0 ? CTL_EX_OK : rc;
	}
	rc = scan_rest(&c, argc, argv, optind);
	if (rc)
		return rc < 0 ? CTL_EX_OK : rc;

	/* Options win over the environment, which wins over the
	 * configuration file, which wins over the defaults. */
	env_apply(&c.config, &c.name, &c.socket, NULL, NULL, NULL);
	rc = load_config(&c);
	if (rc)
		return rc;
	if (!c.name)
		c.name = BS_DEFAULT_NAME;
	if (!c.socket)
		c.socket = BS_DEFAULT_CONTROL_SOCKET;
	if (c.json && c.csv)
		return bad_usage("--json and --csv exclude each other");

	if (c.nargs == 0)
		return bad_usage("no command given: try 'batsimctl status'");
	if (!strcmp(c.args[0], "status") || !strcmp(c.args[0], "show") ||
	    !strcmp(c.args[0], "watch"))
		return ctl_read_command(&c);
	if (!strcmp(c.args[0], "set") || !strcmp(c.args[0], "profile") ||
	    !strcmp(c.args[0], "fault") || !strcmp(c.args[0], "faults") ||
	    !strcmp(c.args[0], "alarm") || !strcmp(c.args[0], "alarms") ||
	    !strcmp(c.args[0], "state") || !strcmp(c.args[0], "pause") ||
	    !strcmp(c.args[0], "resume") || !strcmp(c.args[0], "speed") ||
	    !strcmp(c.args[0], "contactor") ||
	    !strcmp(c.args[0], "soc-reserve") ||
	    !strcmp(c.args[0], "modbus-fault"))
		return ctl_control_command(&c);
	return bad_usage("unknown command '%s': use status, show, watch, set, "
			 "profile, fault, faults, alarm, alarms, state, pause, "
			 "resume, speed, contactor, soc-reserve or "
			 "modbus-fault",
			 c.args[0]);
}
