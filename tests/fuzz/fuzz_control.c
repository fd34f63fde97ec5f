/*
 * fuzz_control.c - libFuzzer target: batsimd's control line handler
 * (src/batsimd/control.c, ctl_handle_line) on a small real engine, as
 * the control socket would call it.  The input is split into lines (at
 * most 16); each is one request, and the engine steps and builds a
 * snapshot after each.  Every reply must be one JSON object with "ok"
 * and no newline; a refused request ("ok": false) must say why in
 * "error".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "control.h"
#include "fuzz_engine.h"
#include "fuzz_util.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_control", LOG_ERR);
	return 0;
}

static void check_reply(const char *reply)
{
	json_object *o, *ok;

	if (!reply || strchr(reply, '\n'))
		abort();
	o = json_tokener_parse(reply);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean))
		abort();
	if (!json_object_get_boolean(ok) &&
	    !json_object_object_get_ex(o, "error", NULL))
		abort();
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_daemon d = {.paused = 0,
			       .speed = 1.0,
			       .backend = "cpu",
			       .backend_desc = "cpu: 1 thread"};
	char sock[128], err[512];
	ctl_server *s;
	engine *e = fz_engine();
	size_t pos = 0;

	snprintf(sock, sizeof sock, "%s/ctl.sock", fz_tmpdir());
	if (ctl_open(sock, &fz_cfg, e, &d, &s, err, sizeof err)) {
		fprintf(stderr, "ctl_open: %s\n", err);
		abort();
	}
	for (int n = 0; n < 16 && pos < size; n++) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		char *reply = ctl_handle_line(s, (const char *)data + pos, len);

		check_reply(reply);
		free(reply);
		fz_step_fill(e, 1);
		pos += len + 1;
	}
	ctl_close(s);
	engine_destroy(e);
	return 0;
}
