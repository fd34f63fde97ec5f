/*
 * fuzz_modbusd.c - libFuzzer target for batsim-modbusd's request handler
 * (req.c with map.c, dev.c, faults.c and the generated SunSpec table).
 *
 * At the first input it creates a small segment of its own (3x4x5, a
 * unique name, removed at exit) and publishes one snapshot, so that
 * requests meet a real, attached device.  Each input is then either
 *   byte 0 even: one Modbus TCP ADU (MBAP header included, at most 260
 *                bytes, as modbus_receive hands it over), answered by
 *                req_handle from a peer allowed to write; or
 *   byte 0 odd:  a modbus_faults reply (JSON) parsed into the fault list
 *                that later requests then meet.
 * Invariants checked: an answer is one of the four kinds, a reply is a
 * well-formed ADU of the request's transaction, no exception code outside
 * 01-0B.  The control socket does not exist: writes that pass validation
 * get exception 04, which is what a run without batsimd must do.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modbusd.h"

static char seg[64];
static bs_writer *w;
static struct bsd_config cfg;

static void cleanup(void)
{
	bs_writer_close(w);
	bs_segment_remove(seg);
}

static void setup(void)
{
	struct bs_topology t = {3, 4, 5};
	struct bs_writer_params p = {BS_BACKEND_TEST, 200000000u, 100000000u,
				     "lfp280"};
	struct bs_slot_view v;
	uint32_t cells = 60;

	snprintf(seg, sizeof seg, "/bs-fuzz-modbusd-%d", (int)getpid());
	if (bs_segment_create(seg, &t, 3, 0600, (gid_t)-1, 0) < 0 ||
	    bs_writer_open(seg, &t, &p, &w) || bs_writer_begin(w, &v)) {
		fprintf(stderr, "fuzz_modbusd: cannot create segment %s\n", seg);
		abort();
	}
	atexit(cleanup);
	memset(v.site, 0, sizeof *v.site);
	v.site->bus_voltage_v = 66;
	v.site->current_a = 12.5f;
	v.site->power_w = 825;
	v.site->soc_mean = 0.5f;
	v.site->racks_closed = 3;
	v.site->soc_reserve_max = 1;
	for (uint32_t r = 0; r < 3; r++) {
		memset(&v.racks[r], 0, sizeof v.racks[r]);
		v.racks[r].voltage_v = 66;
		v.racks[r].soc_mean = 0.5f;
		v.racks[r].cell_v_max = 3.31f;
		v.racks[r].cell_v_min = 3.29f;
		v.racks[r].v_max_cell = 19;
		v.racks[r].contactor = 1;
		v.racks[r].alarm_latched = r == 2 ? 0x1FFu : 0;
	}
	for (uint32_t m = 0; m < 12; m++) {
		memset(&v.modules[m], 0, sizeof v.modules[m]);
		v.modules[m].voltage_v = 16.5f;
		v.modules[m].v_max_cell = 4;
	}
	for (uint32_t c = 0; c < cells; c++) {
		v.cells[c].voltage = 3.3f;
		v.cells[c].temperature = 25;
		v.cells[c].soc = 0.5f;
	}
	bs_writer_publish(w, 1, 0.1);

	cfg_defaults(&cfg);
	snprintf(cfg.shm_name, sizeof cfg.shm_name, "%s", seg);
	snprintf(cfg.control_socket, sizeof cfg.control_socket,
		 "/nonexistent/bs-fuzz-modbusd.sock");
	cfg.modbus_writes = 1;
	dev_init(&cfg);
	dev_tick(dev_now_ns(), 0, 0);
	if (!dev_geom()) {
		fprintf(stderr, "fuzz_modbusd: did not attach to %s\n", seg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct mb_peer peer = {1, "127.0.0.1"};
	struct mb_result res;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	bs_writer_heartbeat(w);
	if (data[0] & 1) {
		char *json = malloc(size);
		char err[256];

		if (!json)
			return 0;
		memcpy(json, data + 1, size - 1);
		json[size - 1] = '\0';
		if (faults_parse(json, dev_faults(), err, sizeof err))
			memset(dev_faults(), 0, sizeof(struct mb_faults));
		free(json);
		return 0;
	}
	data++;
	size--;
	if (size > 260)
		return 0;
	req_handle(data, (int)size, &peer, &res);
	switch (res.kind) {
	case MB_ANS_NONE:
	case MB_ANS_CLOSE:
		break;
	case MB_ANS_EXCEPTION:
		if (res.exc < 1 || res.exc > 0x0B)
			abort();
		req_exception_adu(data, res.exc, &res);
		if (res.rsp_len != 9)
			abort();
		break;
	case MB_ANS_REPLY:
		if (res.rsp_len < 11 || res.rsp_len > 260 ||
		    memcmp(res.rsp, data, 4) ||
		    ((res.rsp[4] << 8 | res.rsp[5]) != res.rsp_len - 6))
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
