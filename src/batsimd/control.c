/*
 * control.c - batsimd's control socket server; see control.h and
 * docs/control-protocol.md.
 *
 * Non-blocking sockets and one ppoll() in the main thread: a slow or
 * hostile client can delay nobody.  Each client has an input buffer of
 * one maximal line and an output queue; a line longer than CTL_MAX_LINE
 * gets an error reply and is discarded up to its newline.  Every request
 * line gets exactly one reply line, whatever it contains.  A client holds
 * a slot only while it works: one that sends no complete line for
 * CTL_IDLE_MS, or leaves more than CTL_MAX_OUT of replies unread, is
 * closed; when every slot is taken, a new client gets one busy reply.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "log.h"
#include "util.h"

/* A client that does not read its replies is dropped beyond this many
 * unread bytes (the longest reply, "state" with every fault, is about
 * 30 KB). */
#define CTL_MAX_OUT (1u << 20)

struct ctl_client {
	int fd;	  /* -1: free slot */
	char *in; /* CTL_MAX_LINE + 1 bytes */
	size_t in_len;
	int discarding; /* inside an over-long line: drop until newline */
	int eof;	/* the peer shut down its sending side */
	char *out;
	size_t out_len, out_off, out_cap;
	uint64_t last_line_ns; /* connected, or last complete line */
};

struct ctl_server {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct bsd_config *cfg;
	engine *e;
	struct ctl_daemon *d;
	struct ctl_client cl[CTL_MAX_CLIENTS];
};

static const char *const fault_names[BS_FAULT_KINDS] = {
    [BS_FAULT_SHORT] = "short",
    [BS_FAULT_HIGH_R] = "high_r",
    [BS_FAULT_FADE] = "fade",
    [BS_FAULT_COOLING] = "cooling",
    [BS_FAULT_SENSOR_STUCK] = "sensor_stuck",
    [BS_FAULT_SENSOR_OFFSET] = "sensor_offset",
    [BS_FAULT_OPEN] = "open",
    [BS_FAULT_RUNAWAY] = "runaway",
};

static const char *const alarm_names[BS_ALARM_KINDS] = {
    [BS_ALARM_CELL_OV] = "cell_ov",   [BS_ALARM_CELL_UV] = "cell_uv",
    [BS_ALARM_CELL_OT] = "cell_ot",   [BS_ALARM_CELL_UT] = "cell_ut",
    [BS_ALARM_V_SPREAD] = "v_spread", [BS_ALARM_T_SPREAD] = "t_spread",
    [BS_ALARM_SOC_HIGH] = "soc_high", [BS_ALARM_SOC_LOW] = "soc_low",
};

static const char *const tier_names[BS_TIERS] = {"warning", "alarm",
						 "protection"};

/* ---- socket setup ---- */

int ctl_open(const char *path, const struct bsd_config *cfg, engine *e,
	     struct ctl_daemon *d, ctl_server **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof sa.sun_path];
	struct stat st;
	ctl_server *s;
	char *slash;
	int fd;

	/* Replies print numbers with the precision they have: json-c's
	 * default "%.17g" shows binary noise ("time_s":617.60000000000002);
	 * 15 significant digits are exact for every decimal value a double
	 * holds and round-trip what the commands were given. */
	json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);

	if (strlen(path) >= sizeof sa.sun_path || path[0] != '/') {
		snprintf(err, errlen,
			 "control socket %s: need an absolute "
			 "path of at most %zu bytes (control_socket in "
			 "batsim.conf)",
			 path, sizeof sa.sun_path - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "control socket %s: directory %s does "
			 "not exist: create it (batsimd.service has "
			 "RuntimeDirectory=batsim; by hand: mkdir -p %s) or "
			 "set control_socket in batsim.conf",
			 path, dir, dir);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "control socket %s: the path "
				 "exists and is not a socket: remove it or set "
				 "control_socket in batsim.conf",
				 path);
			return -1;
		}
		/* a socket file: live when something accepts on it */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(probe);
			snprintf(err, errlen,
				 "control socket %s: another "
				 "batsimd is listening on it: stop it first",
				 path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) != 0) {
			snprintf(err, errlen,
				 "control socket %s: cannot "
				 "remove the stale socket: %s",
				 path, strerror(errno));
			return -1;
		}
		log_info("removed stale control socket %s", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control socket: socket(): %s",
			 strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		snprintf(err, errlen, "control socket %s: bind: %s%s", path,
			 strerror(errno),
			 errno == EACCES ? " (check the directory's owner "
					   "and mode)"
					 : "");
		close(fd);
		return -1;
	}
	/* bind() masks the mode with the umask; the protocol says 0660:
	 * the batsim group (batsim-httpd, batsimctl users) may connect */
	if (chmod(path, 0660) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		unlink(path);
		return -1;
	}
	s->lfd = fd;
	snprintf(s->path, sizeof s->path, "%s", path);
	s->cfg = cfg;
	s->e = e;
	s->d = d;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	*out = s;
	return 0;
}

static void client_drop(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void ctl_close(ctl_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			client_drop(&s->cl[i]);
	close(s->lfd);
	if (unlink(s->path) != 0 && errno != ENOENT)
		log_warn("cannot remove control socket %s: %s", s->path,
			 strerror(errno));
	free(s);
}

/* ---- replies ---- */

static char *reply_json(json_object *o)
{
	char *r = strdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return r;
}

static char *reply_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *reply_error(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return reply_json(o);
}

static json_object *ok_object(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* ---- request fields ---- */

/* Reject fields a command does not know, to catch typos ("modul"). */
static int check_fields(json_object *req, const char *const *allowed, char *err,
			size_t errlen)
{
	json_object_object_foreach(req, key, val)
	{
		size_t i;

		(void)val;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			snprintf(err, errlen,
				 "unknown field \"%s\" for this "
				 "command (see docs/control-protocol.md)",
				 key);
			return -1;
		}
	}
	return 0;
}

/* A number field: 0 found, 1 absent, -1 wrong type (message in err). */
static int get_number(json_object *req, const char *key, double *out, char *err,
		      size_t errlen)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		snprintf(err, errlen, "\"%s\" must be a number", key);
		return -1;
	}
	*out = json_object_get_double(v);
	if (!isfinite(*out)) {
		snprintf(err, errlen, "\"%s\" must be a finite number", key);
		return -1;
	}
	return 0;
}

/* An integer index field in [0, limit): 0 found, 1 absent, -1 bad. */
static int get_index(json_object *req, const char *key, uint32_t limit,
		     int32_t *out, char *err, size_t errlen)
{
	json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "\"%s\" must be an integer", key);
		return -1;
	}
	i = json_object_get_int64(v);
	if (i < 0 || i >= (int64_t)limit) {
		snprintf(err, errlen, "\"%s\" %lld out of range: 0 to %u", key,
			 (long long)i, limit - 1);
		return -1;
	}
	*out = (int32_t)i;
	return 0;
}

/* A string field: the string, or NULL when absent; *bad set when the
 * field is there with another type. */
static const char *get_string(json_object *req, const char *key, int *bad)
{
	json_object *v;

	*bad = 0;
	if (!json_object_object_get_ex(req, key, &v) || !v)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = 1;
		return NULL;
	}
	return json_object_get_string(v);
}

/* ---- commands ---- */

static char *cmd_setpoint(ctl_server *s, json_object *req)
{
	char err[256];
	const char *mode;
	uint32_t m;
	double v;
	int bad, r;

	mode = get_string(req, "mode", &bad);
	if (!mode || (strcmp(mode, "power") && strcmp(mode, "current")))
		return reply_error("setpoint needs \"mode\": \"power\" or "
				   "\"current\"");
	m = !strcmp(mode, "power") ? BS_MODE_POWER : BS_MODE_CURRENT;
	r = get_number(req, "value", &v, err, sizeof err);
	if (r < 0)
		return reply_error("%s", err);
	if (r > 0)
		return reply_error("setpoint needs \"value\" (%s, + = "
				   "discharge)",
				   m == BS_MODE_POWER ? "W" : "A");
	if (fabs(v) > (m == BS_MODE_POWER ? 1e12 : 1e9))
		return reply_error("setpoint %g %s is out of range", v,
				   m == BS_MODE_POWER ? "W" : "A");
	if (engine_set_setpoint(s->e, m, v) != 0)
		return reply_error("the engine refused setpoint %s %g", mode,
				   v);
	log_info("control: setpoint %s %g %s", mode, v,
		 m == BS_MODE_POWER ? "W" : "A");
	return reply_json(ok_object());
}

static char *cmd_ambient(ctl_server *s, json_object *req)
{
	char err[256];
	double v;
	int r;

	r = get_number(req, "value", &v, err, sizeof err);
	if (r < 0)
		return reply_error("%s", err);
	if (r > 0)
		return reply_error("ambient needs \"value\" (air temperature, "
				   "degC)");
	if (v < -60 || v > 100)
		return reply_error("ambient %g degC out of range: -60 to 100",
				   v);
	if (engine_set_ambient(s->e, v) != 0)
		return reply_error("the engine refused ambient %g degC", v);
	log_info("control: ambient %g degC", v);
	return reply_json(ok_object());
}

static char *cmd_profile(ctl_server *s, json_object *req)
{
	static const char *const names[] = {
	    "none", "csv", "peak-shaving", "regulation", "cycle", NULL};
	struct cfg_profile p;
	char err[512];
	const char *name, *path;
	json_object *v;
	int bad, r;
	size_t i;

	name = get_string(req, "name", &bad);
	for (i = 0; name && names[i]; i++)
		if (!strcmp(name, names[i]))
			break;
	if (!name || !names[i])
		return reply_error("profile needs \"name\": none, csv, "
				   "peak-shaving, regulation or cycle");
	memset(&p, 0, sizeof p);
	snprintf(p.name, sizeof p.name, "%s", i == 0 ? "" : name);
	p.loop = 1;
	p.scale = 1.0;
	path = get_string(req, "path", &bad);
	if (bad)
		return reply_error("\"path\" must be a string");
	if (!strcmp(name, "csv")) {
		if (!path || path[0] != '/')
			return reply_error(
			    "profile csv needs \"path\": the "
			    "absolute path of a CSV file "
			    "time_s,power_w readable by batsimd");
		if (strlen(path) >= sizeof p.csv_path)
			return reply_error("\"path\" longer than %zu bytes",
					   sizeof p.csv_path - 1);
		snprintf(p.csv_path, sizeof p.csv_path, "%s", path);
	} else if (path) {
		return reply_error("\"path\" applies to profile csv only");
	}
	if (json_object_object_get_ex(req, "loop", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return reply_error("\"loop\" must be true or false");
		p.loop = json_object_get_boolean(v);
	}
	r = get_number(req, "scale", &p.scale, err, sizeof err);
	if (r < 0)
		return reply_error("%s", err);
	if (fabs(p.scale) > 1e6)
		return reply_error("\"scale\" %g out of range", p.scale);
	err[0] = '\0';
	if (engine_set_profile(s->e, &p, err, sizeof err) != 0)
		return reply_error("profile %s: %s", name,
				   err[0] ? err : "refused by the engine");
	log_info("control: profile %s%s%s", name, p.csv_path[0] ? " " : "",
		 p.csv_path);
	return reply_json(ok_object());
}

/* Fault types: located on a cell or on a rack; needs a value (whose range
 * the engine checks: one place decides, engine_faults.c). */
static const struct {
	int cell, needs_value, needs_quantity;
	const char *value;
} fault_rules[BS_FAULT_KINDS] = {
    [BS_FAULT_SHORT] = {1, 1, 0, "leak resistance in ohm, > 0"},
    [BS_FAULT_HIGH_R] = {1, 1, 0, "R0 multiplier, (0, 1000]"},
    [BS_FAULT_FADE] = {1, 1, 0, "remaining capacity fraction, (0.01, 1]"},
    [BS_FAULT_COOLING] = {0, 1, 0, "hA multiplier, (0, 10]"},
    [BS_FAULT_SENSOR_STUCK] = {1, 0, 1, "none"},
    [BS_FAULT_SENSOR_OFFSET] = {1, 1, 1, "offset in V or K"},
    [BS_FAULT_OPEN] = {0, 0, 0, "none"},
    [BS_FAULT_RUNAWAY] = {1, 1, 0, "threshold temperature in degC, [-50, 600]"},
};

static json_object *fault_json(const struct eng_fault *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type",
			       json_object_new_string(f->kind < BS_FAULT_KINDS
							  ? fault_names[f->kind]
							  : "unknown"));
	json_object_object_add(o, "rack", json_object_new_int(f->rack));
	if (f->module >= 0)
		json_object_object_add(o, "module",
				       json_object_new_int(f->module));
	if (f->cell >= 0)
		json_object_object_add(o, "cell", json_object_new_int(f->cell));
	if (f->kind < BS_FAULT_KINDS && fault_rules[f->kind].needs_value)
		json_object_object_add(o, "value",
				       json_object_new_double(f->value));
	if (f->kind == BS_FAULT_SENSOR_STUCK ||
	    f->kind == BS_FAULT_SENSOR_OFFSET)
		json_object_object_add(
		    o, "quantity",
		    json_object_new_string(f->quantity ? "temperature"
						       : "voltage"));
	return o;
}

/* Copy of the active faults (malloc'd, *n of them), NULL when none. */
static struct eng_fault *faults_copy(engine *e, unsigned *n)
{
	unsigned count = engine_faults(e, NULL, 0);
	struct eng_fault *f;

	*n = 0;
	if (!count)
		return NULL;
	f = calloc(count, sizeof *f);
	if (!f)
		return NULL;
	*n = engine_faults(e, f, count);
	return f;
}

static char *cmd_fault(ctl_server *s, json_object *req)
{
	const struct bsd_config *cfg = s->cfg;
	struct eng_fault fl = {.rack = -1, .module = -1, .cell = -1};
	const char *action, *type, *quantity;
	char err[512];
	int inject, all = 0, bad, r, have_value, have_loc;
	uint32_t kind;

	action = get_string(req, "action", &bad);
	if (!action || (strcmp(action, "inject") && strcmp(action, "clear")))
		return reply_error("fault needs \"action\": \"inject\" or "
				   "\"clear\"");
	inject = !strcmp(action, "inject");
	type = get_string(req, "type", &bad);
	if (!type)
		return reply_error("fault needs \"type\": short, high_r, fade, "
				   "cooling, sensor_stuck, sensor_offset, open "
				   "or runaway%s",
				   inject ? "" : " (or all)");
	for (kind = 0; kind < BS_FAULT_KINDS; kind++)
		if (!strcmp(type, fault_names[kind]))
			break;
	if (kind == BS_FAULT_KINDS) {
		if (inject || strcmp(type, "all"))
			return reply_error("unknown fault type \"%s\": short, "
					   "high_r, fade, cooling, "
					   "sensor_stuck, sensor_offset, open "
					   "or runaway%s",
					   type, inject ? "" : " (or all)");
		all = 1;
	}
	if (get_index(req, "rack", cfg->racks, &fl.rack, err, sizeof err) < 0 ||
	    get_index(req, "module", cfg->modules_per_rack, &fl.module, err,
		      sizeof err) < 0 ||
	    get_index(req, "cell", cfg->cells_per_module, &fl.cell, err,
		      sizeof err) < 0)
		return reply_error("%s", err);
	if ((fl.module >= 0) != (fl.cell >= 0))
		return reply_error("give \"module\" and \"cell\" together");
	have_loc = fl.module >= 0;
	if (have_loc && fl.rack < 0)
		return reply_error("\"module\" and \"cell\" need \"rack\"");
	quantity = get_string(req, "quantity", &bad);
	if (bad || (quantity && strcmp(quantity, "voltage") &&
		    strcmp(quantity, "temperature")))
		return reply_error("\"quantity\" must be \"voltage\" or "
				   "\"temperature\"");
	fl.quantity = quantity && !strcmp(quantity, "temperature");
	r = get_number(req, "value", &fl.value, err, sizeof err);
	if (r < 0)
		return reply_error("%s", err);
	have_value = r == 0;

	if (inject) {
		const char *name = fault_names[kind];

		fl.kind = kind;
		if (fl.rack < 0)
			return reply_error("a %s fault needs \"rack\"%s", name,
					   fault_rules[kind].cell
					       ? ", \"module\" and \"cell\""
					       : "");
		if (fault_rules[kind].cell && !have_loc)
			return reply_error("a %s fault is on a cell: give "
					   "\"module\" and \"cell\"",
					   name);
		if (!fault_rules[kind].cell && have_loc)
			return reply_error("a %s fault is on a whole rack: "
					   "drop \"module\" and \"cell\"",
					   name);
		if (fault_rules[kind].needs_quantity && !quantity)
			return reply_error("a %s fault needs \"quantity\": "
					   "\"voltage\" or \"temperature\"",
					   name);
		if (!fault_rules[kind].needs_quantity && quantity)
			return reply_error("\"quantity\" applies to sensor "
					   "faults only");
		if (fault_rules[kind].needs_value) {
			/* the range is the engine's to check, below */
			if (!have_value)
				return reply_error("a %s fault needs \"value\" "
						   "(%s)",
						   name,
						   fault_rules[kind].value);
		} else if (have_value && kind != BS_FAULT_SENSOR_STUCK) {
			return reply_error("a %s fault takes no \"value\"",
					   name);
		} else {
			fl.value = 0;
		}
		err[0] = '\0';
		if (engine_fault_inject(s->e, &fl, err, sizeof err) != 0) {
			/* the engine's messages mostly name the fault
			 * already: no doubled "fault X: fault X:" */
			if (!strncmp(err, "fault ", 6))
				return reply_error("%s", err);
			return reply_error("fault %s: %s", name,
					   err[0] ? err
						  : "refused by the engine");
		}
		if (have_loc)
			log_notice("control: fault %s injected on rack %d "
				   "module %d cell %d (value %g)",
				   name, fl.rack, fl.module, fl.cell, fl.value);
		else if (fault_rules[kind].needs_value)
			log_notice("control: fault %s injected on rack %d "
				   "(value %g)",
				   name, fl.rack, fl.value);
		else
			log_notice("control: fault %s injected on rack %d",
				   name, fl.rack);
		return reply_json(ok_object());
	}

	/* clear: every active fault matching the type (or all) and the
	 * location given (rack, rack+module+cell, or everywhere) */
	{
		unsigned n, cleared = 0;
		struct eng_fault *list;
		json_object *o;

		if (have_value)
			return reply_error("fault clear takes no \"value\"");
		list = faults_copy(s->e, &n);
		for (unsigned i = 0; i < n; i++) {
			struct eng_fault *x = &list[i];

			if (!all && x->kind != kind)
				continue;
			if (fl.rack >= 0 && x->rack != fl.rack)
				continue;
			if (have_loc &&
			    (x->module != fl.module || x->cell != fl.cell))
				continue;
			if (quantity && x->quantity != fl.quantity)
				continue;
			err[0] = '\0';
			if (engine_fault_clear(s->e, x, err, sizeof err) != 0) {
				free(list);
				return reply_error("fault clear: %s",
						   err[0] ? err
							  : "refused by the "
							    "engine");
			}
			cleared++;
		}
		free(list);
		if (!cleared && !all)
			return reply_error("no matching %s fault is injected "
					   "(list them with batsimctl faults)",
					   type);
		log_notice("control: %u fault%s cleared", cleared,
			   cleared == 1 ? "" : "s");
		o = ok_object();
		json_object_object_add(o, "cleared",
				       json_object_new_int((int)cleared));
		return reply_json(o);
	}
}

static char *cmd_alarm_reset(ctl_server *s, json_object *req)
{
	char err[256];
	int32_t rack = -1;

	if (get_index(req, "rack", s->cfg->racks, &rack, err, sizeof err) < 0)
		return reply_error("%s", err);
	engine_alarm_reset(s->e, rack);
	if (rack >= 0)
		log_notice("control: latched alarms of rack %d reset", rack);
	else
		log_notice("control: latched alarms reset");
	return reply_json(ok_object());
}

/* The alarms of every rack, read from the engine (not from the segment,
 * so a reset shows at once; no snapshot is built, which matters for
 * sites of a million cells). */
static char *cmd_alarms(ctl_server *s, json_object *req)
{
	const struct bsd_config *cfg = s->cfg;
	uint32_t cpm = cfg->cells_per_module;
	json_object *o, *arr;

	(void)req;
	arr = json_object_new_array();
	for (uint32_t r = 0; r < cfg->racks; r++) {
		struct eng_rack_alarms rk;

		if (engine_rack_alarms(s->e, r, &rk) != 0)
			break;
		for (uint32_t t = 0; t < BS_TIERS; t++) {
			for (uint32_t k = 0; k < BS_ALARM_KINDS; k++) {
				uint32_t bit = BS_ALARM_BIT(t, k);
				uint32_t idx = rk.cell[k];
				json_object *a;

				if (!((rk.active | rk.latched) & bit))
					continue;
				a = json_object_new_object();
				json_object_object_add(
				    a, "rack", json_object_new_int((int)r));
				json_object_object_add(
				    a, "kind",
				    json_object_new_string(alarm_names[k]));
				json_object_object_add(
				    a, "tier",
				    json_object_new_string(tier_names[t]));
				json_object_object_add(
				    a, "active",
				    json_object_new_boolean(
					!!(rk.active & bit)));
				json_object_object_add(
				    a, "latched",
				    json_object_new_boolean(
					!!(rk.latched & bit)));
				if (idx < cfg->modules_per_rack * cpm) {
					json_object_object_add(
					    a, "module",
					    json_object_new_int(
						(int)(idx / cpm)));
					json_object_object_add(
					    a, "cell",
					    json_object_new_int(
						(int)(idx % cpm)));
				}
				json_object_object_add(
				    a, "time_s",
				    json_object_new_double(rk.time_s[k]));
				json_object_array_add(arr, a);
			}
		}
	}
	o = ok_object();
	json_object_object_add(o, "alarms", arr);
	return reply_json(o);
}

static void state_operator(ctl_server *s, json_object *o);

static char *cmd_state(ctl_server *s, json_object *req)
{
	struct eng_control c;
	json_object *o, *p, *arr;
	struct eng_fault *list;
	unsigned n;

	(void)req;
	engine_control(s->e, &c);
	o = ok_object();
	json_object_object_add(o, "mode",
			       json_object_new_string(c.mode == BS_MODE_POWER
							  ? "power"
							  : "current"));
	json_object_object_add(o, "setpoint",
			       json_object_new_double(c.setpoint));
	json_object_object_add(o, "ambient_c",
			       json_object_new_double(c.ambient_c));
	p = json_object_new_object();
	json_object_object_add(p, "name",
			       json_object_new_string(c.profile.name[0]
							  ? c.profile.name
							  : "none"));
	if (!strcmp(c.profile.name, "csv"))
		json_object_object_add(
		    p, "path", json_object_new_string(c.profile.csv_path));
	if (c.profile.name[0]) {
		json_object_object_add(p, "loop",
				       json_object_new_boolean(c.profile.loop));
		json_object_object_add(p, "scale",
				       json_object_new_double(c.profile.scale));
	}
	json_object_object_add(o, "profile", p);
	arr = json_object_new_array();
	list = faults_copy(s->e, &n);
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(arr, fault_json(&list[i]));
	free(list);
	json_object_object_add(o, "faults", arr);
	json_object_object_add(
	    o, "tick", json_object_new_int64((int64_t)engine_tick(s->e)));
	json_object_object_add(o, "time_s",
			       json_object_new_double(engine_time_s(s->e)));
	json_object_object_add(o, "backend",
			       json_object_new_string(s->d->backend));
	json_object_object_add(o, "backend_desc",
			       json_object_new_string(s->d->backend_desc));
	json_object_object_add(o, "paused",
			       json_object_new_boolean(s->d->paused));
	json_object_object_add(o, "speed", json_object_new_double(s->d->speed));
	state_operator(s, o);
	return reply_json(o);
}

static char *set_paused(ctl_server *s, int pause)
{
	if (s->d->paused != pause) {
		s->d->paused = pause;
		s->d->rebase = 1;
		log_notice("control: simulation %s at t = %.1f s",
			   pause ? "paused" : "resumed", engine_time_s(s->e));
	}
	return reply_json(ok_object());
}

static char *cmd_pause(ctl_server *s, json_object *req)
{
	(void)req;
	return set_paused(s, 1);
}

static char *cmd_resume(ctl_server *s, json_object *req)
{
	(void)req;
	return set_paused(s, 0);
}

static char *cmd_speed(ctl_server *s, json_object *req)
{
	char err[256];
	double v;
	int r;

	r = get_number(req, "value", &v, err, sizeof err);
	if (r < 0)
		return reply_error("%s", err);
	if (r > 0 || v < 0 || v > 1e6)
		return reply_error("speed needs \"value\": 1 real time, N "
				   "times faster, 0 as fast as possible "
				   "(0 to 1e6)");
	s->d->speed = v;
	s->d->rebase = 1;
	log_notice("control: speed %g", v);
	return reply_json(ok_object());
}

/* ---- operator and Modbus commands (docs/control-protocol.md) ---- */

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *cmd_contactor(ctl_server *s, json_object *req)
{
	char err[256];
	const char *action;
	int32_t rack = -1;
	int bad, open;

	action = get_string(req, "action", &bad);
	if (!action || (strcmp(action, "open") && strcmp(action, "close")))
		return reply_error("contactor needs \"action\": \"open\" or "
				   "\"close\" (and \"rack\", or none for "
				   "every rack)");
	if (get_index(req, "rack", s->cfg->racks, &rack, err, sizeof err) < 0)
		return reply_error("%s", err);
	open = !strcmp(action, "open");
	err[0] = '\0';
	if (engine_contactor(s->e, rack, open, err, sizeof err) != 0)
		return reply_error("contactor %s: %s", action,
				   err[0] ? err : "refused by the engine");
	if (rack >= 0)
		log_notice("control: contactor of rack %d %s by the operator",
			   rack, open ? "opened" : "closed");
	else
		log_notice("control: contactors of every rack %s by the "
			   "operator",
			   open ? "opened" : "closed");
	return reply_json(ok_object());
}

static char *cmd_soc_reserve(ctl_server *s, json_object *req)
{
	char err[256];
	double lo, hi;
	int r1, r2;

	r1 = get_number(req, "min", &lo, err, sizeof err);
	if (r1 < 0)
		return reply_error("%s", err);
	r2 = get_number(req, "max", &hi, err, sizeof err);
	if (r2 < 0)
		return reply_error("%s", err);
	if (r1 > 0 || r2 > 0)
		return reply_error("soc_reserve needs \"min\" and \"max\", "
				   "fractions 0 <= min < max <= 1 (0 and 1: "
				   "no reserve)");
	err[0] = '\0';
	if (engine_set_soc_reserve(s->e, lo, hi, err, sizeof err) != 0)
		return reply_error("%s", err[0] ? err : "refused by the engine");
	log_notice("control: SoC reserve %.1f %% to %.1f %%", lo * 100.0,
		   hi * 100.0);
	return reply_json(ok_object());
}

static char *cmd_modbus_fault(ctl_server *s, json_object *req)
{
	struct mbf_state *mb = &s->d->mb;
	char err[256] = "";
	const char *action, *type;
	json_object *o, *v;
	int64_t unit = -1;
	int bad, n;

	action = get_string(req, "action", &bad);
	if (!action || (strcmp(action, "set") && strcmp(action, "clear")))
		return reply_error("modbus_fault needs \"action\": \"set\" or "
				   "\"clear\"");
	if (!strcmp(action, "set")) {
		if (mbf_set(mb, req, s->cfg->racks, engine_time_s(s->e),
			    wall_ns(), err, sizeof err) != 0)
			return reply_error("%s", err);
		log_notice("control: Modbus protocol fault %s set (revision "
			   "%u)",
			   json_object_get_string(
			       json_object_object_get(req, "type")),
			   mb->revision);
		return reply_json(ok_object());
	}
	{
		static const char *const params[] = {"ms", "seconds", "every",
						     "points", "what", NULL};

		for (int i = 0; params[i]; i++)
			if (json_object_object_get_ex(req, params[i], NULL))
				return reply_error("modbus_fault clear takes "
						   "\"type\" and \"unit\" "
						   "only, not \"%s\"",
						   params[i]);
	}
	type = get_string(req, "type", &bad);
	if (!type)
		return reply_error("modbus_fault clear needs \"type\": delay, "
				   "silence, exception, freeze, drop or all");
	if (json_object_object_get_ex(req, "unit", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 247)
			return reply_error("\"unit\" must be an integer from 0 "
					   "to 247 (none: every unit)");
		unit = json_object_get_int64(v);
	}
	n = mbf_clear(mb, type, unit, err, sizeof err);
	if (n < 0)
		return reply_error("%s", err);
	if (n)
		log_notice("control: %d Modbus protocol fault%s cleared", n,
			   n == 1 ? "" : "s");
	o = ok_object();
	json_object_object_add(o, "cleared", json_object_new_int(n));
	return reply_json(o);
}

static char *cmd_modbus_faults(ctl_server *s, json_object *req)
{
	json_object *o = ok_object();

	(void)req;
	mbf_expire(&s->d->mb, wall_ns());
	json_object_object_add(o, "revision",
			       json_object_new_int64(s->d->mb.revision));
	json_object_object_add(o, "faults", mbf_list_json(&s->d->mb));
	return reply_json(o);
}

static char *cmd_modbus_report(ctl_server *s, json_object *req)
{
	json_object *c, *r;

	if (!json_object_object_get_ex(req, "clients", &c) ||
	    !json_object_is_type(c, json_type_int) ||
	    json_object_get_int64(c) < 0 ||
	    json_object_get_int64(c) > UINT32_MAX ||
	    !json_object_object_get_ex(req, "requests", &r) ||
	    !json_object_is_type(r, json_type_int) ||
	    json_object_get_int64(r) < 0)
		return reply_error("modbus_report needs \"clients\" and "
				   "\"requests\", integers >= 0");
	if (!s->d->mb.reported || !mbf_alive(&s->d->mb, util_mono_ns()))
		log_info("control: batsim-modbusd reports (%lld clients)",
			 (long long)json_object_get_int64(c));
	mbf_report(&s->d->mb, (uint32_t)json_object_get_int64(c),
		   (uint64_t)json_object_get_int64(r), util_mono_ns());
	return reply_json(ok_object());
}

/* The state reply's operator and Modbus parts. */
static void state_operator(ctl_server *s, json_object *o)
{
	json_object *v, *arr;
	double lo, hi;

	engine_soc_reserve(s->e, &lo, &hi);
	v = json_object_new_object();
	json_object_object_add(v, "min", json_object_new_double(lo));
	json_object_object_add(v, "max", json_object_new_double(hi));
	json_object_object_add(o, "soc_reserve", v);
	arr = json_object_new_array();
	for (uint32_t r = 0; r < s->cfg->racks; r++)
		if (engine_rack_operator_open(s->e, r))
			json_object_array_add(arr,
					      json_object_new_int((int)r));
	json_object_object_add(o, "operator_open", arr);
	mbf_expire(&s->d->mb, wall_ns());
	v = json_object_new_object();
	json_object_object_add(
	    v, "alive",
	    json_object_new_boolean(mbf_alive(&s->d->mb, util_mono_ns())));
	json_object_object_add(v, "clients",
			       json_object_new_int64(s->d->mb.clients));
	json_object_object_add(
	    v, "requests", json_object_new_int64((int64_t)s->d->mb.requests));
	json_object_object_add(v, "faults", mbf_list_json(&s->d->mb));
	json_object_object_add(o, "modbus", v);
}

/* The commands and the fields each takes: check_fields refuses any other
 * before the command runs. */
static const struct {
	const char *name;
	char *(*run)(ctl_server *s, json_object *req);
	const char *const *fields;
} commands[] = {
    {"setpoint", cmd_setpoint,
     (const char *const[]){"cmd", "mode", "value", NULL}},
    {"ambient", cmd_ambient, (const char *const[]){"cmd", "value", NULL}},
    {"profile", cmd_profile,
     (const char *const[]){"cmd", "name", "path", "loop", "scale", NULL}},
    {"fault", cmd_fault,
     (const char *const[]){"cmd", "action", "type", "rack", "module", "cell",
			   "value", "quantity", NULL}},
    {"alarms_reset", cmd_alarm_reset,
     (const char *const[]){"cmd", "rack", NULL}},
    /* the old name of alarms_reset (batsim 0.1.0), still accepted */
    {"alarm_reset", cmd_alarm_reset,
     (const char *const[]){"cmd", "rack", NULL}},
    {"alarms", cmd_alarms, (const char *const[]){"cmd", NULL}},
    {"state", cmd_state, (const char *const[]){"cmd", NULL}},
    {"pause", cmd_pause, (const char *const[]){"cmd", NULL}},
    {"resume", cmd_resume, (const char *const[]){"cmd", NULL}},
    {"speed", cmd_speed, (const char *const[]){"cmd", "value", NULL}},
    {"contactor", cmd_contactor,
     (const char *const[]){"cmd", "action", "rack", NULL}},
    {"soc_reserve", cmd_soc_reserve,
     (const char *const[]){"cmd", "min", "max", NULL}},
    {"modbus_fault", cmd_modbus_fault,
     (const char *const[]){"cmd", "action", "type", "unit", "ms", "seconds",
			   "every", "points", "what", NULL}},
    {"modbus_faults", cmd_modbus_faults, (const char *const[]){"cmd", NULL}},
    {"modbus_report", cmd_modbus_report,
     (const char *const[]){"cmd", "clients", "requests", NULL}},
};

char *ctl_handle_line(ctl_server *s, const char *line, size_t len)
{
	json_tokener *tok;
	json_object *req, *cmdv;
	enum json_tokener_error jerr;
	const char *cmd;
	size_t end, i;
	char *reply, err[512];

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	if (!len)
		return reply_error("empty request: send one JSON object per "
				   "line, e.g. {\"cmd\":\"state\"}");
	if (memchr(line, '\0', len))
		return reply_error("request contains a NUL byte");
	tok = json_tokener_new();
	if (!tok)
		return reply_error("out of memory");
	req = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!req || jerr != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(req);
		return reply_error("request is not valid JSON (%s): send one "
				   "JSON object per line",
				   jerr == json_tokener_continue
				       ? "incomplete"
				       : json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
	while (end < len && (line[end] == ' ' || line[end] == '\t'))
		end++;
	if (end != len) {
		json_object_put(req);
		return reply_error("text after the JSON object: send one "
				   "object per line");
	}
	if (!json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		return reply_error("request must be a JSON object with "
				   "\"cmd\"");
	}
	if (!json_object_object_get_ex(req, "cmd", &cmdv) ||
	    !json_object_is_type(cmdv, json_type_string)) {
		json_object_put(req);
		return reply_error("request needs \"cmd\" (a string): "
				   "setpoint, ambient, profile, fault, "
				   "alarms_reset, alarms, state, pause, resume, "
				   "speed, contactor, soc_reserve, "
				   "modbus_fault, modbus_faults or "
				   "modbus_report");
	}
	cmd = json_object_get_string(cmdv);
	log_debug("control: request %.*s", (int)(len > 200 ? 200 : len), line);
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].name))
			break;
	if (i < sizeof commands / sizeof commands[0])
		reply = check_fields(req, commands[i].fields, err, sizeof err)
			    ? reply_error("%s", err)
			    : commands[i].run(s, req);
	else
		reply = reply_error("unknown cmd \"%.64s\": setpoint, ambient, "
				    "profile, fault, alarms_reset, alarms, "
				    "state, pause, resume, speed, contactor, "
				    "soc_reserve, modbus_fault, modbus_faults "
				    "or modbus_report",
				    cmd);
	json_object_put(req);
	return reply;
}

/* ---- client I/O ---- */

/* Queue a reply plus newline; frees reply.  -1 when the client must be
 * dropped (out of memory, or it stopped reading). */
static int client_queue(struct ctl_client *c, char *reply)
{
	size_t n;

	if (!reply)
		reply = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
	if (!reply)
		return -1;
	n = strlen(reply);
	if (c->out_off > 0) { /* keep only what is unread */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n + 1 > CTL_MAX_OUT) {
		free(reply);
		log_warn("control: closing a client that left more than %u KiB "
			 "of replies unread",
			 CTL_MAX_OUT >> 10);
		return -1;
	}
	if (c->out_len + n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n + 1)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			free(reply);
			return -1;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, reply, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	free(reply);
	return 0;
}

/* Write what the socket takes; -1 on a broken connection. */
static int client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w =
		    send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->out_off += (size_t)w;
	}
	return 0;
}

/* Read what is there and answer every complete line; -1 to drop. */
static int client_read(ctl_server *s, struct ctl_client *c)
{
	for (;;) {
		size_t room = CTL_MAX_LINE + 1 - c->in_len;
		ssize_t r = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		size_t start = 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (r == 0) {
			c->eof = 1;
			/* a last request without its newline still counts */
			if (c->in_len && !c->discarding &&
			    client_queue(
				c, ctl_handle_line(s, c->in, c->in_len)) < 0)
				return -1;
			c->in_len = 0;
			return 0;
		}
		c->in_len += (size_t)r;
		for (;;) {
			char *nl =
			    memchr(c->in + start, '\n', c->in_len - start);
			size_t n;

			if (!nl)
				break;
			c->last_line_ns = util_mono_ns();
			n = (size_t)(nl - (c->in + start));
			if (c->discarding)
				c->discarding = 0; /* end of the long line */
			else if (client_queue(c, ctl_handle_line(
						     s, c->in + start, n)) < 0)
				return -1;
			start += n + 1;
		}
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		if (c->in_len > CTL_MAX_LINE) {
			/* no newline within the limit: answer once, then
			 * drop bytes up to the next newline */
			if (!c->discarding &&
			    client_queue(
				c, reply_error("request line longer than %u "
					       "bytes",
					       CTL_MAX_LINE)) < 0)
				return -1;
			c->discarding = 1;
			c->in_len = 0;
		}
		/* send as we go: only what the client leaves unread in a
		 * full socket buffer counts against CTL_MAX_OUT */
		if (client_flush(c) < 0)
			return -1;
	}
}

static void accept_clients(ctl_server *s)
{
	for (;;) {
		int fd =
		    accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c = NULL;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("control: accept: %s",
					 strerror(errno));
			return;
		}
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (s->cl[i].fd < 0) {
				c = &s->cl[i];
				break;
			}
		}
		if (!c) {
			/* one line that says so (docs/control-protocol.md),
			 * then close: batsim-httpd answers 503 with it */
			char busy[256];
			int n = snprintf(busy, sizeof busy, CTL_BUSY_REPLY "\n",
					 CTL_MAX_CLIENTS);

			if (send(fd, busy, (size_t)n,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* nothing more to do for this client */
			}
			close(fd);
			log_warn("control: all %d client slots in use: refused "
				 "a client with a busy reply",
				 CTL_MAX_CLIENTS);
			continue;
		}
		c->in = malloc(CTL_MAX_LINE + 1);
		if (!c->in) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in_len = 0;
		c->discarding = c->eof = 0;
		c->out_len = c->out_off = 0;
		c->last_line_ns = util_mono_ns();
		log_debug("control: client connected");
	}
}

void ctl_wait(ctl_server *s, uint64_t deadline_ns, int wake_fd)
{
	int first = 1, wake = 0;

	for (;;) {
		struct pollfd pfd[CTL_MAX_CLIENTS + 2];
		int idx[CTL_MAX_CLIENTS + 2];
		struct timespec ts = {0, 0};
		uint64_t now = util_mono_ns();
		int n = 0, rc;

		uint64_t wait_until = deadline_ns;

		if (!first && (deadline_ns == 0 || now >= deadline_ns))
			return;
		/* close clients idle too long; wake for the next one due */
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			struct ctl_client *c = &s->cl[i];
			uint64_t due =
			    c->last_line_ns + CTL_IDLE_MS * 1000000ull;

			if (c->fd < 0)
				continue;
			if (now >= due) {
				log_info("control: closing a client that sent "
					 "no complete request line for %u s",
					 CTL_IDLE_MS / 1000);
				client_drop(c);
			} else if (wait_until && due < wait_until) {
				wait_until = due;
			}
		}
		if (wait_until > now) {
			ts.tv_sec = (time_t)((wait_until - now) / 1000000000u);
			ts.tv_nsec = (long)((wait_until - now) % 1000000000u);
		}
		first = 0;
		if (wake_fd >= 0) {
			pfd[n].fd = wake_fd;
			pfd[n].events = POLLIN;
			idx[n++] = -2;
		}
		pfd[n].fd = s->lfd;
		pfd[n].events = POLLIN;
		idx[n++] = -1;
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			struct ctl_client *c = &s->cl[i];

			if (c->fd < 0)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			if (!c->eof)
				pfd[n].events |= POLLIN;
			if (c->out_off < c->out_len)
				pfd[n].events |= POLLOUT;
			idx[n++] = i;
		}
		rc = ppoll(pfd, (nfds_t)n, &ts, NULL);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_error("control: poll: %s", strerror(errno));
			return;
		}
		if (rc == 0)
			continue; /* deadline reached: checked at the top */
		for (int k = 0; k < n; k++) {
			struct ctl_client *c;
			int drop = 0;

			if (!pfd[k].revents)
				continue;
			if (idx[k] == -2) {
				wake = 1; /* a signal: the main loop reads it */
				continue;
			}
			if (idx[k] < 0) {
				accept_clients(s);
				continue;
			}
			c = &s->cl[idx[k]];
			if (pfd[k].revents & POLLIN)
				drop = client_read(s, c) < 0;
			else if (pfd[k].revents & (POLLERR | POLLNVAL))
				drop = 1;
			else if ((pfd[k].revents & POLLHUP) &&
				 !(pfd[k].events & POLLOUT))
				drop = 1;
			if (!drop)
				drop = client_flush(c) < 0;
			/* a client that said goodbye goes once answered */
			if (!drop && c->eof && c->out_off == c->out_len)
				drop = 1;
			if (drop) {
				log_debug("control: client disconnected");
				client_drop(c);
			}
		}
		if (wake || s->d->rebase)
			return; /* a signal, or the clock restarts */
	}
}
