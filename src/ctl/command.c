/*
 * command.c - batsimctl control side: requests to batsimd's control socket
 * (docs/control-protocol.md), one JSON object per line each way.
 *
 * Arguments are checked here as far as the protocol fixes them (types,
 * which faults need a cell and a value), so that a typo gets a precise
 * message without a round trip; the daemon checks everything again and
 * its error message is printed as it is.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "batsim/batsim.h"
#include "ctl.h"
#include "util.h"
#include "views.h"

/* Fault types of the protocol, where each applies and what value means. */
static const struct fault_type {
	const char *name;
	int cell; /* located on a cell (else on a rack) */
	int needs_value;
	const char *value; /* what --value means, for messages */
} fault_types[] = {
    {"short", 1, 1, "--ohm X (leak resistance in ohm)"},
    {"high_r", 1, 1, "--factor K (R0 multiplier)"},
    {"fade", 1, 1, "--value F (remaining capacity fraction, 0-1]"},
    {"cooling", 0, 1, "--factor K (hA multiplier, 0-1]"},
    {"sensor_stuck", 1, 0, "--quantity voltage|temperature"},
    {"sensor_offset", 1, 1, "--value V (offset in V or K)"},
    {"open", 0, 0, "nothing"},
    {"runaway", 1, 1, "--value T (threshold temperature, degC)"},
};
#define N_FAULT_TYPES (sizeof(fault_types) / sizeof(fault_types[0]))

static int usage_error(const struct ctl *c, const char *msg)
{
	ctl_error(c, "%s", msg);
	fputs("Try 'batsimctl --help' for more information.\n", stderr);
	return CTL_EX_USAGE;
}

/* "-250kW" -> -250000; suffixes case-sensitive where it matters (mW would
 * be milliwatts, so only W, kW and MW are taken). */
static int parse_unit(const char *s, const char *const *suffix,
		      const double *scale, double *out)
{
	char *end;
	double v;
	int i;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -1;
	for (i = 0; suffix[i]; i++)
		if (!strcmp(end, suffix[i])) {
			*out = v * scale[i];
			return 0;
		}
	return -1;
}

static const struct fault_type *find_fault(const char *name)
{
	size_t i;

	for (i = 0; i < N_FAULT_TYPES; i++)
		if (!strcmp(fault_types[i].name, name))
			return &fault_types[i];
	return NULL;
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* Send one request; on success *reply holds the parsed reply object. */
static int transact(const struct ctl *c, json_object *req, json_object **reply)
{
	const char *text = json_object_to_json_string_ext(
	    req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	bs_control *h;
	char *line = NULL;
	json_object *r, *ok, *err;
	int rc;

	*reply = NULL;
	rc = bs_control_open(c->socket, c->timeout_ms, &h);
	if (rc == -BS_ENOENT || rc == -BS_ECONNREFUSED) {
		ctl_error(c,
			  "batsimd is not running: %s %s: start it "
			  "(systemctl start batsimd), or give its socket with "
			  "--socket",
			  rc == -BS_ENOENT ? "no control socket at"
					   : "nobody is listening on",
			  c->socket);
		return CTL_EX_NODAEMON;
	}
	if (rc == -BS_EACCES) {
		ctl_error(c,
			  "%s: permission denied: run as root or as a "
			  "member of the batsim group",
			  c->socket);
		return CTL_EX_NODAEMON;
	}
	if (rc == -BS_EINVAL) {
		ctl_error(c,
			  "--socket '%s': not a usable socket path (too "
			  "long?)",
			  c->socket);
		return CTL_EX_USAGE;
	}
	if (rc) {
		ctl_error(c, "connecting to %s: %s%s%s", c->socket,
			  bs_strerror(rc), rc == -BS_ESYS ? ": " : "",
			  rc == -BS_ESYS ? strerror(errno) : "");
		return CTL_EX_NODAEMON;
	}
	rc = bs_control_request(h, text, &line);
	bs_control_close(h);
	if (rc == -BS_ETIMEDOUT) {
		ctl_error(c,
			  "batsimd did not answer within %d ms on %s: check "
			  "it (systemctl status batsimd) or raise --timeout-ms",
			  c->timeout_ms, c->socket);
		return CTL_EX_NODAEMON;
	}
	if (rc == -BS_EPROTO) {
		ctl_error(c,
			  "batsimd closed the connection or sent a reply "
			  "that is not one JSON line on %s: check its log "
			  "(journalctl -u batsimd)",
			  c->socket);
		return CTL_EX_NODAEMON;
	}
	if (rc) {
		ctl_error(c, "talking to batsimd on %s: %s", c->socket,
			  bs_strerror(rc));
		return CTL_EX_OTHER;
	}

	r = json_tokener_parse(line);
	if (!r || !json_object_is_type(r, json_type_object) ||
	    !json_object_object_get_ex(r, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean)) {
		ctl_error(c, "batsimd sent a reply without \"ok\": %s", line);
		json_object_put(r);
		free(line);
		return CTL_EX_NODAEMON;
	}
	if (!json_object_get_boolean(ok) &&
	    json_object_object_get_ex(r, "busy", &err) &&
	    json_object_get_boolean(err)) {
		/* all of batsimd's control connections are taken */
		const char *msg = "batsimd is busy: try again later";

		if (json_object_object_get_ex(r, "error", &err) &&
		    json_object_is_type(err, json_type_string))
			msg = json_object_get_string(err);
		if (c->json)
			printf("%s\n", line);
		ctl_error(c, "%s (socket %s)", msg, c->socket);
		json_object_put(r);
		free(line);
		return CTL_EX_NODAEMON;
	}
	if (c->json)
		printf("%s\n", line);
	free(line);
	if (!json_object_get_boolean(ok)) {
		const char *msg = "no reason given";

		if (json_object_object_get_ex(r, "error", &err) &&
		    json_object_is_type(err, json_type_string))
			msg = json_object_get_string(err);
		ctl_error(c, "batsimd refused the command: %s", msg);
		json_object_put(r);
		return CTL_EX_REFUSED;
	}
	*reply = r;
	return CTL_EX_OK;
}

/* Send, print "ok: what" (text mode), free everything. */
static int simple(const struct ctl *c, json_object *req, const char *what)
{
	json_object *reply;
	int rc = transact(c, req, &reply);

	json_object_put(req);
	if (rc)
		return rc;
	if (!c->json)
		printf("ok: %s\n", what);
	json_object_put(reply);
	return CTL_EX_OK;
}

static int cmd_set(const struct ctl *c)
{
	static const char *const p_suf[] = {"", "W", "kW", "MW", NULL};
	static const double p_scale[] = {1, 1, 1e3, 1e6};
	static const char *const i_suf[] = {"", "A", NULL};
	static const double i_scale[] = {1, 1};
	static const char *const t_suf[] = {"", "C", "degC", NULL};
	static const double t_scale[] = {1, 1, 1};
	json_object *req;
	char what[128];
	double v;

	if (c->nargs != 3)
		return usage_error(c, "usage: set power P[W|kW|MW] | set "
				      "current I[A] | set ambient T[C]");
	req = json_object_new_object();
	if (!strcmp(c->args[1], "power")) {
		if (parse_unit(c->args[2], p_suf, p_scale, &v)) {
			json_object_put(req);
			return usage_error(c, "set power: give watts with an "
					      "optional unit, e.g. -250kW, "
					      "100000, 1.5MW (+ = discharge)");
		}
		json_object_object_add(req, "cmd",
				       json_object_new_string("setpoint"));
		json_object_object_add(req, "mode",
				       json_object_new_string("power"));
		char eng[32];
		snprintf(what, sizeof(what), "power setpoint %s (%s)",
			 util_eng(eng, sizeof eng, v, "W"),
			 v > 0	 ? "discharge"
			 : v < 0 ? "charge"
				 : "idle");
	} else if (!strcmp(c->args[1], "current")) {
		if (parse_unit(c->args[2], i_suf, i_scale, &v)) {
			json_object_put(req);
			return usage_error(c, "set current: give amperes, e.g. "
					      "140A or -140 (+ = discharge)");
		}
		json_object_object_add(req, "cmd",
				       json_object_new_string("setpoint"));
		json_object_object_add(req, "mode",
				       json_object_new_string("current"));
		snprintf(what, sizeof(what), "current setpoint %.6g A (%s)", v,
			 v > 0	 ? "discharge"
			 : v < 0 ? "charge"
				 : "idle");
	} else if (!strcmp(c->args[1], "ambient")) {
		if (parse_unit(c->args[2], t_suf, t_scale, &v)) {
			json_object_put(req);
			return usage_error(c, "set ambient: give degrees "
					      "Celsius, e.g. 30 or 30C");
		}
		json_object_object_add(req, "cmd",
				       json_object_new_string("ambient"));
		snprintf(what, sizeof(what), "ambient %.6g C", v);
	} else {
		json_object_put(req);
		return usage_error(c, "set what? use set power, set current or "
				      "set ambient");
	}
	json_object_object_add(req, "value", json_object_new_double(v));
	return simple(c, req, what);
}

static int cmd_profile(const struct ctl *c)
{
	static const char *const builtin[] = {"regulation", "peak-shaving",
					      "cycle", "none"};
	json_object *req;
	char what[PATH_MAX + 64];
	size_t i;

	if (c->nargs == 3 && !strcmp(c->args[1], "csv")) {
		/* batsimd has another working directory: send an absolute
		 * path, and catch a missing file here. */
		char *abs = realpath(c->args[2], NULL);

		if (!abs) {
			ctl_error(c,
				  "profile csv %s: %s: give an existing "
				  "CSV file of time_s,power_w lines",
				  c->args[2], strerror(errno));
			return CTL_EX_USAGE;
		}
		req = json_object_new_object();
		json_object_object_add(req, "cmd",
				       json_object_new_string("profile"));
		json_object_object_add(req, "name",
				       json_object_new_string("csv"));
		json_object_object_add(req, "path",
				       json_object_new_string(abs));
		json_object_object_add(req, "loop",
				       json_object_new_boolean(c->loop));
		json_object_object_add(req, "scale",
				       json_object_new_double(c->scale));
		snprintf(what, sizeof(what), "profile csv %s%s", abs,
			 c->loop ? " (looped)" : "");
		free(abs);
		return simple(c, req, what);
	}
	if (c->nargs == 2)
		for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
			if (!strcmp(c->args[1], builtin[i])) {
				if (c->loop || c->have_scale)
					return usage_error(
					    c, "--loop and --scale "
					       "apply to profile csv");
				req = json_object_new_object();
				json_object_object_add(
				    req, "cmd",
				    json_object_new_string("profile"));
				json_object_object_add(
				    req, "name",
				    json_object_new_string(builtin[i]));
				snprintf(what, sizeof(what), "profile %s",
					 builtin[i]);
				return simple(c, req, what);
			}
	return usage_error(c, "usage: profile regulation|peak-shaving|cycle|"
			      "none, or profile csv FILE [--loop] "
			      "[--scale K]");
}

static int cmd_fault(const struct ctl *c)
{
	const struct fault_type *ft = NULL;
	json_object *req;
	char what[160], msg[256];
	int inject, all;

	if (c->nargs != 3 ||
	    (strcmp(c->args[1], "inject") && strcmp(c->args[1], "clear")))
		return usage_error(c, "usage: fault inject TYPE --rack R "
				      "[--module M --cell C] [VALUE OPTION], "
				      "or fault clear TYPE|all [--rack R ...]");
	inject = !strcmp(c->args[1], "inject");
	all = !inject && !strcmp(c->args[2], "all");
	if (!all && !(ft = find_fault(c->args[2]))) {
		snprintf(msg, sizeof(msg),
			 "unknown fault type '%s': use short, high_r, fade, "
			 "cooling, sensor_stuck, sensor_offset, open or "
			 "runaway%s",
			 c->args[2], inject ? "" : " (or all)");
		return usage_error(c, msg);
	}
	if (inject) {
		if (c->rack < 0)
			return usage_error(c, "fault inject needs --rack R");
		if (ft->cell && (c->module < 0 || c->cell < 0)) {
			snprintf(msg, sizeof(msg),
				 "a %s fault is on a cell: give --module M and "
				 "--cell C",
				 ft->name);
			return usage_error(c, msg);
		}
		if (!ft->cell && (c->module >= 0 || c->cell >= 0)) {
			snprintf(msg, sizeof(msg),
				 "a %s fault is on a whole rack: drop --module "
				 "and --cell",
				 ft->name);
			return usage_error(c, msg);
		}
		if (ft->needs_value && !c->have_value) {
			snprintf(msg, sizeof(msg), "a %s fault needs %s",
				 ft->name, ft->value);
			return usage_error(c, msg);
		}
		if (!ft->needs_value && c->have_value) {
			snprintf(msg, sizeof(msg), "a %s fault takes no value",
				 ft->name);
			return usage_error(c, msg);
		}
		if ((!strcmp(ft->name, "sensor_stuck") ||
		     !strcmp(ft->name, "sensor_offset")) &&
		    !c->quantity)
			return usage_error(c, "a sensor fault needs --quantity "
					      "voltage|temperature");
	} else if (c->have_value) {
		return usage_error(c, "fault clear takes no value");
	}
	if ((c->module >= 0) != (c->cell >= 0))
		return usage_error(c, "give --module and --cell together");
	if (c->module >= 0 && c->rack < 0)
		return usage_error(c, "--module and --cell need --rack");

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("fault"));
	json_object_object_add(req, "action",
			       json_object_new_string(c->args[1]));
	json_object_object_add(req, "type", json_object_new_string(c->args[2]));
	if (c->rack >= 0)
		add_int(req, "rack", c->rack);
	if (c->module >= 0) {
		add_int(req, "module", c->module);
		add_int(req, "cell", c->cell);
	}
	if (c->have_value)
		json_object_object_add(req, "value",
				       json_object_new_double(c->value));
	if (c->quantity)
		json_object_object_add(req, "quantity",
				       json_object_new_string(c->quantity));
	if (c->module >= 0)
		snprintf(what, sizeof(what),
			 "%s %s on rack %lld module %lld cell %lld",
			 inject ? "injected" : "cleared", c->args[2],
			 (long long)c->rack, (long long)c->module,
			 (long long)c->cell);
	else if (c->rack >= 0)
		snprintf(what, sizeof(what), "%s %s on rack %lld",
			 inject ? "injected" : "cleared", c->args[2],
			 (long long)c->rack);
	else
		snprintf(what, sizeof(what), "cleared %s%s", c->args[2],
			 all ? " faults" : " faults on every rack");
	return simple(c, req, what);
}

static int cmd_alarm_reset(const struct ctl *c)
{
	json_object *req;
	char what[64];

	if (c->nargs != 2 || strcmp(c->args[1], "reset"))
		return usage_error(c, "usage: alarms reset [--rack R] | "
				      "alarms [list]");
	if (c->module >= 0 || c->cell >= 0)
		return usage_error(c, "alarms reset takes --rack only");
	req = json_object_new_object();
	json_object_object_add(req, "cmd",
			       json_object_new_string("alarms_reset"));
	if (c->rack >= 0) {
		add_int(req, "rack", c->rack);
		snprintf(what, sizeof(what),
			 "latched alarms of rack %lld reset",
			 (long long)c->rack);
	} else {
		snprintf(what, sizeof(what), "latched alarms reset");
	}
	return simple(c, req, what);
}

/* A field of a reply element as text ("-" when absent or null). */
static const char *field(json_object *o, const char *key, char *buf, size_t len)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v) ? "yes" : "no";
	case json_type_double:
		snprintf(buf, len, "%.6g", json_object_get_double(v));
		return buf;
	case json_type_int:
		snprintf(buf, len, "%lld", (long long)json_object_get_int64(v));
		return buf;
	default:
		snprintf(buf, len, "%s", json_object_get_string(v));
		return buf;
	}
}

/* Print an array of objects as a table with the given columns. */
static int print_list(json_object *reply, const char *key,
		      const char *const *cols, const int *widths,
		      const char *none)
{
	json_object *arr;
	size_t i, n;
	int k;

	if (!json_object_object_get_ex(reply, key, &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		fprintf(stderr,
			"batsimctl: error: batsimd's reply has no "
			"\"%s\" list: is batsimd of the same version?\n",
			key);
		return CTL_EX_NODAEMON;
	}
	n = json_object_array_length(arr);
	if (n == 0) {
		printf("%s\n", none);
		return CTL_EX_OK;
	}
	for (k = 0; cols[k]; k++)
		printf("%s%-*s", k ? " " : "", cols[k + 1] ? widths[k] : 0,
		       cols[k]);
	putchar('\n');
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		for (k = 0; cols[k]; k++) {
			char buf[128], name[32];
			size_t j;

			/* the keys are the column titles in lower case */
			for (j = 0; cols[k][j] && j < sizeof(name) - 1; j++)
				name[j] = (char)(cols[k][j] >= 'A' &&
							 cols[k][j] <= 'Z'
						     ? cols[k][j] + 32
						     : cols[k][j]);
			name[j] = 0;
			/* no padding after the last column */
			printf("%s%-*s", k ? " " : "",
			       cols[k + 1] ? widths[k] : 0,
			       field(e, name, buf, sizeof(buf)));
		}
		putchar('\n');
	}
	return CTL_EX_OK;
}

static int cmd_list(const struct ctl *c, int alarms)
{
	static const char *const a_cols[] = {"RACK",   "KIND",	  "TIER",
					     "ACTIVE", "LATCHED", "MODULE",
					     "CELL",   "TIME_S",  NULL};
	static const int a_w[] = {4, 8, 10, 6, 7, 6, 4, 10};
	static const char *const f_cols[] = {
	    "TYPE", "RACK", "MODULE", "CELL", "VALUE", "QUANTITY", NULL};
	static const int f_w[] = {13, 4, 6, 4, 10, 11};
	json_object *req, *reply;
	int rc;

	/* "alarms" and "alarms list" (likewise faults) */
	if (c->nargs > 2 || (c->nargs == 2 && strcmp(c->args[1], "list")))
		return usage_error(c, alarms ? "usage: alarms [list] | alarms "
					       "reset [--rack R]"
					     : "usage: faults [list]");
	req = json_object_new_object();
	json_object_object_add(
	    req, "cmd", json_object_new_string(alarms ? "alarms" : "state"));
	rc = transact(c, req, &reply);
	json_object_put(req);
	if (rc)
		return rc;
	if (!c->json)
		rc = alarms ? print_list(reply, "alarms", a_cols, a_w,
					 "no active or latched alarms")
			    : print_list(reply, "faults", f_cols, f_w,
					 "no faults injected");
	json_object_put(reply);
	return rc;
}

/* Print a reply's fields as "key: value" lines (objects as key.sub),
 * leaving out "ok" and the lists. */
static void print_fields(json_object *o, const char *prefix)
{
	json_object_object_foreach(o, key, val)
	{
		char buf[128];

		if (!prefix && !strcmp(key, "ok"))
			continue;
		if (val && json_object_is_type(val, json_type_array))
			continue;
		if (val && json_object_is_type(val, json_type_object)) {
			print_fields(val, key);
			continue;
		}
		printf("%s%s%s: %s\n", prefix ? prefix : "", prefix ? "." : "",
		       key, field(o, key, buf, sizeof(buf)));
	}
}

static int cmd_state(const struct ctl *c)
{
	json_object *req, *reply, *faults;
	int rc;

	if (c->nargs != 1)
		return usage_error(c, "usage: state");
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("state"));
	rc = transact(c, req, &reply);
	json_object_put(req);
	if (rc)
		return rc;
	if (!c->json) {
		print_fields(reply, NULL);
		if (json_object_object_get_ex(reply, "faults", &faults) &&
		    json_object_is_type(faults, json_type_array))
			printf("faults: %zu (see batsimctl faults)\n",
			       json_object_array_length(faults));
	}
	json_object_put(reply);
	return CTL_EX_OK;
}

/* pause, resume, speed X */
static int cmd_run(const struct ctl *c)
{
	const char *cmd = c->args[0];
	json_object *req;
	char what[64];
	double v;

	if (!strcmp(cmd, "speed")) {
		char *end;

		if (c->nargs != 2)
			return usage_error(c, "usage: speed X (1 real time, N "
					      "times faster, 0 as fast as "
					      "possible)");
		errno = 0;
		v = strtod(c->args[1], &end);
		if (end == c->args[1] || *end || errno || !isfinite(v) || v < 0)
			return usage_error(c, "speed: give a number >= 0 (1 "
					      "real time, N times faster, 0 as "
					      "fast as possible)");
		req = json_object_new_object();
		json_object_object_add(req, "cmd",
				       json_object_new_string("speed"));
		json_object_object_add(req, "value", json_object_new_double(v));
		snprintf(what, sizeof(what), "speed %.6g", v);
		return simple(c, req, what);
	}
	if (c->nargs != 1)
		return usage_error(c, "usage: pause | resume");
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	snprintf(what, sizeof(what), "simulation %s",
		 !strcmp(cmd, "pause") ? "paused" : "resumed");
	return simple(c, req, what);
}

/* contactor open|close [RACK] */
static int cmd_contactor(const struct ctl *c)
{
	json_object *req;
	char what[64];
	int64_t rack = -1;

	if ((c->nargs != 2 && c->nargs != 3) ||
	    (strcmp(c->args[1], "open") && strcmp(c->args[1], "close")))
		return usage_error(c, "usage: contactor open|close [RACK] (no "
				      "RACK: every rack)");
	if (c->nargs == 3 && ctl_parse_index(c->args[2], &rack))
		return usage_error(c, "contactor: RACK is an index from 0");
	if (c->rack >= 0 || c->module >= 0 || c->cell >= 0)
		return usage_error(c, "contactor takes the rack as a word: "
				      "contactor open 3");
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("contactor"));
	json_object_object_add(req, "action",
			       json_object_new_string(c->args[1]));
	if (rack >= 0) {
		add_int(req, "rack", rack);
		snprintf(what, sizeof(what), "contactor of rack %lld %s",
			 (long long)rack,
			 !strcmp(c->args[1], "open") ? "opened" : "closed");
	} else {
		snprintf(what, sizeof(what), "contactors of every rack %s",
			 !strcmp(c->args[1], "open") ? "opened" : "closed");
	}
	return simple(c, req, what);
}

/* "10%" or "10" -> 0.10 */
static int parse_percent(const char *s, double *out)
{
	static const char *const suf[] = {"", "%", NULL};
	static const double scale[] = {0.01, 0.01};

	return parse_unit(s, suf, scale, out);
}

/* soc-reserve MIN% MAX% */
static int cmd_soc_reserve(const struct ctl *c)
{
	json_object *req;
	char what[96];
	double lo, hi;

	if (c->nargs != 3 || parse_percent(c->args[1], &lo) ||
	    parse_percent(c->args[2], &hi))
		return usage_error(c, "usage: soc-reserve MIN% MAX%, e.g. "
				      "soc-reserve 10% 90% (0% 100%: no "
				      "reserve)");
	if (lo < 0 || hi > 1 || !(lo < hi))
		return usage_error(c, "soc-reserve: need 0% <= MIN < MAX <= "
				      "100%");
	req = json_object_new_object();
	json_object_object_add(req, "cmd",
			       json_object_new_string("soc_reserve"));
	json_object_object_add(req, "min", json_object_new_double(lo));
	json_object_object_add(req, "max", json_object_new_double(hi));
	snprintf(what, sizeof(what), "SoC reserve %.6g%% to %.6g%%",
		 lo * 100.0, hi * 100.0);
	return simple(c, req, what);
}

/* Modbus protocol fault types and the option each needs. */
static const struct {
	const char *name, *needs;
} mb_types[] = {
    {"delay", "--ms N (1 to 60000)"},
    {"silence", "--seconds N (1 to 3600) or --every N (N >= 2)"},
    {"exception", "--points MODEL.POINT[,...] (e.g. 704.WSet,802.AlmRst)"},
    {"freeze", "--what values|all"},
    {"drop", "--every N (N >= 1)"},
};

static int modbus_fault_list(const struct ctl *c)
{
	json_object *req, *reply, *arr, *v;
	int rc;

	req = json_object_new_object();
	json_object_object_add(req, "cmd",
			       json_object_new_string("modbus_faults"));
	rc = transact(c, req, &reply);
	json_object_put(req);
	if (rc)
		return rc;
	if (c->json) {
		json_object_put(reply);
		return CTL_EX_OK;
	}
	if (!json_object_object_get_ex(reply, "faults", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		json_object_put(reply);
		ctl_error(c, "batsimd's reply has no \"faults\" list: is "
			     "batsimd of the same version?");
		return CTL_EX_NODAEMON;
	}
	if (json_object_array_length(arr) == 0)
		printf("no Modbus protocol faults set\n");
	else
		printf("%-9s %-4s %-40s %s\n", "TYPE", "UNIT", "PARAMETERS",
		       "SINCE_S");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		char buf[64], unit[16], since[32], par[256] = "";
		static const char *const keys[] = {"ms", "seconds", "every",
						   "what", NULL};

		for (int k = 0; keys[k]; k++)
			if (json_object_object_get_ex(e, keys[k], NULL))
				snprintf(par + strlen(par),
					 sizeof(par) - strlen(par), "%s%s=%s",
					 par[0] ? " " : "", keys[k],
					 field(e, keys[k], buf, sizeof(buf)));
		if (json_object_object_get_ex(e, "points", &v) &&
		    json_object_is_type(v, json_type_array)) {
			snprintf(par + strlen(par), sizeof(par) - strlen(par),
				 "%spoints=", par[0] ? " " : "");
			for (size_t k = 0; k < json_object_array_length(v);
			     k++)
				snprintf(par + strlen(par),
					 sizeof(par) - strlen(par), "%s%s",
					 k ? "," : "",
					 json_object_get_string(
					     json_object_array_get_idx(v, k)));
		}
		printf("%-9s %-4s %-40s %s\n", field(e, "type", buf, 32),
		       field(e, "unit", unit, sizeof(unit)), par,
		       field(e, "since_s", since, sizeof(since)));
	}
	json_object_put(reply);
	return CTL_EX_OK;
}

/* modbus-fault set TYPE ... | clear TYPE|all | list */
static int cmd_modbus_fault(const struct ctl *c)
{
	json_object *req;
	char what[160], msg[256];
	size_t t;
	int set, n_par;

	if (c->nargs == 2 && !strcmp(c->args[1], "list"))
		return modbus_fault_list(c);
	if (c->nargs != 3 ||
	    (strcmp(c->args[1], "set") && strcmp(c->args[1], "clear")))
		return usage_error(c, "usage: modbus-fault set TYPE [--unit U] "
				      "[PARAMETER], modbus-fault clear "
				      "TYPE|all [--unit U], or modbus-fault "
				      "list");
	set = !strcmp(c->args[1], "set");
	for (t = 0; t < sizeof(mb_types) / sizeof(mb_types[0]); t++)
		if (!strcmp(c->args[2], mb_types[t].name))
			break;
	if (t == sizeof(mb_types) / sizeof(mb_types[0]) &&
	    (set || strcmp(c->args[2], "all"))) {
		snprintf(msg, sizeof(msg),
			 "unknown Modbus fault type '%s': use delay, silence, "
			 "exception, freeze or drop%s",
			 c->args[2], set ? "" : " (or all)");
		return usage_error(c, msg);
	}
	if (c->rack >= 0 || c->module >= 0 || c->cell >= 0 || c->have_value)
		return usage_error(c, "modbus-fault takes --unit U (0 the "
				      "device, 1 the site, 2 + r rack r), not "
				      "--rack, --module, --cell or a value");
	n_par = (c->ms >= 0) + (c->seconds >= 0) + (c->every >= 0) +
		(c->points != NULL) + (c->what != NULL);
	if (!set && n_par)
		return usage_error(c, "modbus-fault clear takes only the type "
				      "and --unit");
	if (set) {
		const char *name = mb_types[t].name;
		int good;

		if (!strcmp(name, "delay"))
			good = c->ms >= 0 && n_par == 1;
		else if (!strcmp(name, "silence"))
			good = (c->seconds >= 0 || c->every >= 0) && n_par == 1;
		else if (!strcmp(name, "exception"))
			good = c->points && n_par == 1;
		else if (!strcmp(name, "freeze"))
			good = c->what && n_par == 1;
		else
			good = c->every >= 0 && n_par == 1;
		if (!good) {
			snprintf(msg, sizeof(msg),
				 "a %s fault takes %s, and nothing else", name,
				 mb_types[t].needs);
			return usage_error(c, msg);
		}
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd",
			       json_object_new_string("modbus_fault"));
	json_object_object_add(req, "action",
			       json_object_new_string(c->args[1]));
	json_object_object_add(req, "type", json_object_new_string(c->args[2]));
	if (c->unit >= 0)
		add_int(req, "unit", c->unit);
	if (c->ms >= 0)
		add_int(req, "ms", c->ms);
	if (c->seconds >= 0)
		add_int(req, "seconds", c->seconds);
	if (c->every >= 0)
		add_int(req, "every", c->every);
	if (c->what)
		json_object_object_add(req, "what",
				       json_object_new_string(c->what));
	if (c->points) {
		json_object *arr = json_object_new_array();
		const char *p = c->points;

		while (*p) {
			size_t n = strcspn(p, ",");

			json_object_array_add(
			    arr, json_object_new_string_len(p, (int)n));
			p += n;
			if (*p == ',')
				p++;
		}
		json_object_object_add(req, "points", arr);
	}
	if (c->unit >= 0)
		snprintf(what, sizeof(what), "Modbus fault %s %s on unit %lld",
			 c->args[2], set ? "set" : "cleared",
			 (long long)c->unit);
	else
		snprintf(what, sizeof(what), "Modbus fault %s %s%s",
			 c->args[2], set ? "set on the whole device" : "cleared",
			 set ? "" : " on every unit");
	if (set)
		return simple(c, req, what);
	{
		json_object *reply, *n;
		int rc = transact(c, req, &reply);

		json_object_put(req);
		if (rc)
			return rc;
		if (!c->json)
			printf("ok: %s (%d cleared)\n", what,
			       json_object_object_get_ex(reply, "cleared", &n)
				   ? json_object_get_int(n)
				   : 0);
		json_object_put(reply);
		return CTL_EX_OK;
	}
}

int ctl_control_command(struct ctl *c)
{
	const char *cmd = c->args[0];

	if (c->csv)
		return usage_error(c, "--csv applies to show rack, module and "
				      "cell");
	if (!strcmp(cmd, "set"))
		return cmd_set(c);
	if (!strcmp(cmd, "profile"))
		return cmd_profile(c);
	if (!strcmp(cmd, "fault"))
		return cmd_fault(c);
	/* "alarms reset", as HTTP's /control/alarms/reset; "alarm reset" is
	 * the old spelling */
	if (!strcmp(cmd, "alarm") ||
	    (!strcmp(cmd, "alarms") && c->nargs >= 2 &&
	     strcmp(c->args[1], "list")))
		return cmd_alarm_reset(c);
	if (!strcmp(cmd, "state"))
		return cmd_state(c);
	if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
	    !strcmp(cmd, "speed"))
		return cmd_run(c);
	if (!strcmp(cmd, "contactor"))
		return cmd_contactor(c);
	if (!strcmp(cmd, "soc-reserve"))
		return cmd_soc_reserve(c);
	if (!strcmp(cmd, "modbus-fault"))
		return cmd_modbus_fault(c);
	return cmd_list(c, !strcmp(cmd, "alarms"));
}
