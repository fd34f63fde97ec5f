/*
 * ctlproxy.c - /control: forward commands to batsimd's control socket
 * (docs/control-protocol.md) and return its reply.
 *
 * Every /control request needs "Authorization: Bearer <token>" equal to
 * the content of the token file (read at each request, so a new token
 * takes effect without a restart).  Without a token file, with an empty
 * one, or with one that other users can read, control is disabled (403);
 * a token file with a NUL byte or a token over 4095 bytes is refused at
 * start (ctl_token_startup) and disables control when it appears later.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "httpd.h"
#include "reply.h"
#include "log.h"
#include "views.h"

#define TOKEN_MAX 4096 /* token bytes + NUL */
/* A token file may hold this much (the token with whitespace around). */
#define TOKEN_FILE_MAX (2 * TOKEN_MAX)

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

/* Read the token of path into tok[TOKEN_MAX], without the whitespace
 * around it.  1 with the token; 0 when control is disabled (no file or an
 * empty one), with the reason
 * in why; -2 when other users can read or write it (refused: control
 * disabled), -1 when the file is unusable (unreadable, not a regular
 * file, a NUL byte, a token over TOKEN_MAX - 1 bytes), with the reason. */
static int read_token(const char *path, char *tok, char *why, size_t wn)
{
	char raw[TOKEN_FILE_MAX + 1];
	struct stat st;
	size_t len = 0, a, z;
	ssize_t n;
	char *nul;
	/* O_NONBLOCK: a FIFO must not block the request thread */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	tok[0] = '\0';
	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(why, wn,
				 "control is disabled: no token file %s; "
				 "write a secret to it (mode 0600 or 0640, "
				 "readable by batsim-httpd) and send "
				 "'Authorization: Bearer <token>'",
				 path);
			return 0;
		}
		snprintf(why, wn,
			 "control is disabled: cannot read the token file "
			 "%s: %s (make it readable by batsim-httpd)",
			 path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, wn,
			 "control is disabled: the token file %s is not a "
			 "regular file: write the token to a plain file",
			 path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		close(fd);
		snprintf(why, wn,
			 "control is disabled: the token file %s can be %s by "
			 "other users (mode %04o): chmod o-rwx %s",
			 path, st.st_mode & S_IROTH ? "read" : "written",
			 (unsigned)(st.st_mode & 07777), path);
		return -2;
	}
	while (len < sizeof raw &&
	       (n = read(fd, raw + len, sizeof raw - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, wn, "control is disabled: reading %s: %s",
				 path, strerror(errno));
			close(fd);
			explicit_bzero(raw, sizeof raw);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	nul = memchr(raw, '\0', len);
	if (nul) {
		snprintf(why, wn,
			 "control is disabled: the token file %s has a NUL "
			 "byte at offset %zu: write the token as text (e.g. "
			 "64 hex digits)",
			 path, (size_t)(nul - raw));
		explicit_bzero(raw, sizeof raw);
		return -1;
	}
	for (a = 0; a < len && is_space(raw[a]); a++)
		;
	for (z = len; z > a && is_space(raw[z - 1]); z--)
		;
	if (len == sizeof raw || z - a > TOKEN_MAX - 1) {
		snprintf(why, wn,
			 "control is disabled: the token in %s is longer than "
			 "%u bytes: use a shorter secret (e.g. 64 hex digits)",
			 path, TOKEN_MAX - 1);
		explicit_bzero(raw, sizeof raw);
		return -1;
	}
	memcpy(tok, raw + a, z - a);
	tok[z - a] = '\0';
	explicit_bzero(raw, sizeof raw);
	if (z == a) {
		snprintf(why, wn,
			 "control is disabled: the token file %s is empty; "
			 "write a secret to it",
			 path);
		return 0;
	}
	return 1;
}

/* Compare in time that depends only on the length of the given token. */
static int token_equal(const char *want, const char *given)
{
	size_t wl = strlen(want), gl = strlen(given);
	unsigned diff = (unsigned)(wl ^ gl);

	for (size_t i = 0; i < gl; i++)
		diff |= (unsigned char)given[i] ^
			(unsigned char)want[wl ? i % wl : 0];
	return diff == 0 && wl > 0;
}

static const char *token_path(void)
{
	return hd_cfg->http_token_file[0] ? hd_cfg->http_token_file
					  : SYSCONFDIR "/batsim/control.token";
}

int ctl_token_startup(void)
{
	char tok[TOKEN_MAX], why[512];
	int rc = read_token(token_path(), tok, why, sizeof why);

	explicit_bzero(tok, sizeof tok);
	if (rc == -1) {
		log_error("%s", why);
		return -1;
	}
	if (rc == -2) {
		log_warn("%s", why);
		return 0;
	}
	if (rc == 0) {
		log_notice("%s", why);
		return 0;
	}
	log_info("control is enabled: token from %s", token_path());
	return 1;
}

/* 0 when authorised; otherwise queues the 401/403 and returns -1. */
static int authorise(struct MHD_Connection *c, enum MHD_Result *ret)
{
	char tok[TOKEN_MAX], why[512];
	const char *auth;
	int rc = read_token(token_path(), tok, why, sizeof why);

	if (rc <= 0) {
		if (rc == -1)
			log_warn("%s", why);
		*ret = hd_error(c, 403, "%s", why);
		return -1;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth) {
		/* no server path to an unauthenticated client: the man page
		 * tells the operator where the token lives */
		*ret = hd_error(c, 401,
				"control needs a bearer token: send "
				"'Authorization: Bearer <token>' (see "
				"batsim-httpd(8), API, Control)");
		return -1;
	}
	if (strncasecmp(auth, "Bearer ", 7)) {
		*ret = hd_error(c, 401,
				"the Authorization header must be 'Bearer "
				"<token>'");
		return -1;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	if (!token_equal(tok, auth)) {
		explicit_bzero(tok, sizeof tok);
		*ret = hd_error(c, 401,
				"wrong token: send the control token (see "
				"batsim-httpd(8), API, Control)");
		return -1;
	}
	explicit_bzero(tok, sizeof tok);
	return 0;
}

/* Send one request and turn the reply into a response. */
static enum MHD_Result forward(struct MHD_Connection *c, json_object *req)
{
	const char *path = hd_cfg->control_socket;
	bs_control *ctl;
	char *reply = NULL;
	json_object *o, *ok;
	int rc;

	rc = bs_control_open(path, 5000, &ctl);
	if (rc) {
		json_object_put(req);
		if (rc == -BS_EACCES)
			return hd_error(
			    c, 503,
			    "batsimd's control socket %s: permission "
			    "denied (run batsim-httpd in the batsim "
			    "group)",
			    path);
		if (rc == -BS_ETIMEDOUT)
			return hd_error(c, 504, "batsimd's control socket %s: %s",
					path, bs_strerror(rc));
		if (rc == -BS_ENOENT)
			return hd_error(c, 503,
					"batsimd's control socket %s does not "
					"exist: %s",
					path, env_start_batsimd());
		return hd_error(c, 503, "batsimd's control socket %s: %s",
				path, bs_strerror(rc));
	}
	{
		/* The dashboard polls the read-only commands: debug only */
		json_object *cmd;
		const char *name =
		    json_object_object_get_ex(req, "cmd", &cmd)
			? json_object_get_string(cmd)
			: "";

		if (!strcmp(name, "state") || !strcmp(name, "alarms") ||
		    !strcmp(name, "modbus_faults"))
			log_debug("control: %s", view_to_string(req));
		else
			log_info("control: %s", view_to_string(req));
	}
	rc = bs_control_request(ctl, view_to_string(req), &reply);
	bs_control_close(ctl);
	json_object_put(req);
	if (rc == -BS_ETIMEDOUT)
		return hd_error(c, 504,
				"batsimd did not answer within 5 s: is it "
				"hung or overloaded?");
	if (rc)
		return hd_error(c, 502, "control socket %s: %s", path,
				bs_strerror(rc));
	o = json_tokener_parse(reply);
	free(reply);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return hd_error(c, 502,
				"batsimd answered something that is not a "
				"JSON object");
	}
	if (json_object_object_get_ex(o, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return hd_json(c, 200, o);
	/* every control connection of batsimd is taken: a temporary
	 * condition of the daemon, not a refused command */
	if (json_object_object_get_ex(o, "busy", &ok) &&
	    json_object_get_boolean(ok)) {
		json_object *e;
		char msg[512];

		snprintf(msg, sizeof msg, "%s",
			 json_object_object_get_ex(o, "error", &e)
			     ? json_object_get_string(e)
			     : "batsimd is busy: try again later");
		json_object_put(o);
		return hd_error(c, 503, "%s", msg);
	}
	/* batsimd refused the command: its message says why. */
	if (!json_object_object_get_ex(o, "error", NULL))
		json_object_object_add(
		    o, "error",
		    json_object_new_string("batsimd refused the command"));
	json_object_object_add(o, "status", json_object_new_int(400));
	return hd_json(c, 400, o);
}

/* 1 when a ' appears outside a JSON string: json-c 0.16 takes
 * single-quoted strings even in strict mode. */
static int single_quote(const char *p, size_t n)
{
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
		} else if (p[i] == '"') {
			in_str = 1;
		} else if (p[i] == '\'') {
			return 1;
		}
	}
	return 0;
}

/* 1 when every number in o is finite (1e999 parses as infinity, which
 * batsimd could not read back). */
static int finite_numbers(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!finite_numbers(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, key, val)
		{
			(void)key;
			if (!finite_numbers(val))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* /control/speed takes {"speed": X}; the control protocol's speed command
 * takes "value": move it there.  0, or -1 (req freed) when "speed" is not
 * a number in batsimd's range 0..1e6. */
static int speed_value(json_object *req)
{
	json_object *v;
	double x;

	if (!json_object_object_get_ex(req, "speed", &v) ||
	    (!json_object_is_type(v, json_type_int) &&
	     !json_object_is_type(v, json_type_double))) {
		json_object_put(req);
		return -1;
	}
	x = json_object_get_double(v);
	if (!(x >= 0 && x <= 1e6)) {
		json_object_put(req);
		return -1;
	}
	json_object_get(v); /* kept, as the client wrote it */
	json_object_object_del(req, "speed");
	json_object_object_add(req, "value", v);
	return 0;
}

enum MHD_Result ctl_handle(struct MHD_Connection *c, struct hd_req *rq,
			   const char *sub, const char *method)
{
	static const struct {
		const char *path, *cmd, *method;
	} routes[] = {
	    {"", "state", "GET"},
	    {"/", "state", "GET"},
	    {"/alarms", "alarms", "GET"},
	    {"/setpoint", "setpoint", "POST"},
	    {"/profile", "profile", "POST"},
	    {"/ambient", "ambient", "POST"},
	    {"/fault", "fault", "POST"},
	    {"/alarms/reset", "alarm_reset", "POST"},
	    {"/contactor", "contactor", "POST"},
	    {"/soc_reserve", "soc_reserve", "POST"},
	    {"/modbus_fault", "modbus_fault", "POST"},
	    {"/modbus_faults", "modbus_faults", "GET"},
	    {"/pause", "pause", "POST"},
	    {"/resume", "resume", "POST"},
	    {"/speed", "speed", "POST"},
	};
	enum MHD_Result ret;
	json_object *req;
	size_t i;
	int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (!strcmp(sub, routes[i].path))
			break;
	if (i == sizeof routes / sizeof routes[0])
		return hd_error(c, 404,
				"no such control endpoint /control%.100s: use "
				"/control, /control/alarms, /control/setpoint, "
				"/control/profile, /control/ambient, "
				"/control/fault, /control/alarms/reset, "
				"/control/contactor, /control/soc_reserve, "
				"/control/modbus_fault, "
				"/control/modbus_faults, /control/pause, "
				"/control/resume or /control/speed",
				sub);
	if (!strcmp(routes[i].method, "GET") ? !is_get
					     : strcmp(method, "POST")) {
		char url[64];

		snprintf(url, sizeof url, "/control%s", sub);
		return hd_method_not_allowed(
		    c, method, url,
		    !strcmp(routes[i].method, "GET") ? "GET, HEAD" : "POST");
	}
	if (authorise(c, &ret))
		return ret;

	if (rq->body_len) {
		struct json_tokener *tk = json_tokener_new();
		enum json_tokener_error err;
		size_t end;

		if (!tk)
			return hd_error(c, 500, "out of memory");
		/* Strict: no single quotes, trailing commas or other
		 * extensions of json-c's default mode. */
		json_tokener_set_flags(tk, JSON_TOKENER_STRICT);
		req = json_tokener_parse_ex(tk, rq->body, (int)rq->body_len);
		err = json_tokener_get_error(tk);
		end = json_tokener_get_parse_end(tk);
		json_tokener_free(tk);
		if (!req || err != json_tokener_success) {
			json_object_put(req);
			return hd_error(
			    c, 400,
			    "the request body is not valid JSON (%s): "
			    "send one JSON object, see "
			    "batsim-httpd(8)",
			    err == json_tokener_continue
				? "it ends too early"
				: json_tokener_error_desc(err));
		}
		/* One value, then only white space: "{...} garbage" or
		 * "{...}{...}" is an error, not the first object. */
		while (end < rq->body_len && strchr(" \t\r\n", rq->body[end]) &&
		       rq->body[end] != '\0')
			end++;
		if (end < rq->body_len) {
			json_object_put(req);
			return hd_error(c, 400,
					"the request body has data after its "
					"JSON object (at byte %zu): send one "
					"JSON object",
					end);
		}
		if (single_quote(rq->body, rq->body_len)) {
			json_object_put(req);
			return hd_error(c, 400,
					"the request body is not valid JSON: "
					"strings take double quotes");
		}
		if (!finite_numbers(req)) {
			json_object_put(req);
			return hd_error(c, 400,
					"the request body has a number out of "
					"range (not finite): use ordinary "
					"numbers");
		}
		if (!json_object_is_type(req, json_type_object)) {
			json_object_put(req);
			return hd_error(
			    c, 400, "the request body must be a JSON object");
		}
	} else {
		if (strcmp(routes[i].method, "GET") &&
		    strcmp(routes[i].cmd, "alarm_reset") &&
		    strcmp(routes[i].cmd, "pause") &&
		    strcmp(routes[i].cmd, "resume"))
			return hd_error(c, 400,
					"/control%s needs a JSON body, e.g. %s",
					sub,
					!strcmp(routes[i].cmd, "setpoint")
					    ? "{\"mode\":\"power\",\"value\":"
					      "-250000}"
					: !strcmp(routes[i].cmd, "profile")
					    ? "{\"name\":\"regulation\"}"
					: !strcmp(routes[i].cmd, "ambient")
					    ? "{\"value\":30}"
					: !strcmp(routes[i].cmd, "contactor")
					    ? "{\"action\":\"open\",\"rack\":0}"
					: !strcmp(routes[i].cmd, "soc_reserve")
					    ? "{\"min\":0.1,\"max\":0.9}"
					: !strcmp(routes[i].cmd, "modbus_fault")
					    ? "{\"action\":\"set\",\"type\":"
					      "\"delay\",\"ms\":500}"
					: !strcmp(routes[i].cmd, "speed")
					    ? "{\"speed\":10}"
					    : "{\"action\":\"inject\","
					      "\"type\":\"short\",\"rack\":0,"
					      "\"module\":0,\"cell\":0,"
					      "\"value\":0.5}");
		req = json_object_new_object();
	}
	if (!strcmp(routes[i].cmd, "speed") && speed_value(req))
		return hd_error(c, 400,
				"/control/speed needs {\"speed\": X}: "
				"simulated seconds per wall-clock second, "
				"0 to 1e6 (1 real time, N times faster, 0 as "
				"fast as possible)");
	/* The path names the command. */
	json_object_object_add(req, "cmd",
			       json_object_new_string(routes[i].cmd));
	return forward(c, req);
}
