/*
 * mbfaults.h - the Modbus side of batsimd: the protocol faults a test
 * engineer sets for batsim-modbusd to play (control "modbus_fault"), and
 * the figures batsim-modbusd reports (control "modbus_report"), kept by
 * batsimd and published in the site record (bs_site.mb_*).
 *
 * batsimd only stores and checks these: none of them touches the engine.
 * batsim-modbusd reads the list with "modbus_faults" when the published
 * mb_fault_revision changes.  docs/control-protocol.md has the protocol.
 */
#ifndef BATSIMD_MBFAULTS_H
#define BATSIMD_MBFAULTS_H

#include <stddef.h>
#include <stdint.h>

#include <batsim/shm.h>
#include <json-c/json.h>

#define MBF_MAX 32	      /* faults held at once */
#define MBF_MAX_POINTS 16     /* points of one "exception" fault */
#define MBF_POINT_LEN 32      /* longest point name, "704.WSet" style */
#define MBF_ALIVE_NS 3000000000ull /* a report this recent: mb_alive */

struct mbf_fault {
	uint32_t type;		/* BS_MBFAULT_* */
	uint32_t unit;		/* 0 the whole device, 1 site, 2 + r rack r */
	uint32_t ms;		/* delay */
	uint32_t seconds;	/* silence for a while (0: not that form) */
	uint32_t every;		/* silence, drop: every Nth request */
	int freeze_all;		/* freeze: 1 "all", 0 "values" */
	uint32_t n_points;	/* exception */
	char points[MBF_MAX_POINTS][MBF_POINT_LEN + 1];
	double since_s;		/* simulated time it was set */
	int64_t until_wall_ns;	/* silence with seconds: CLOCK_REALTIME end */
};

struct mbf_state {
	struct mbf_fault f[MBF_MAX];
	unsigned n;
	uint32_t revision;	/* grows at each change of the list */
	uint32_t clients;	/* as last reported */
	uint64_t requests;
	uint64_t report_ns;	/* CLOCK_MONOTONIC of the last report */
	int reported;		/* a report has come */
};

/* Empty list, no report. */
void mbf_init(struct mbf_state *m);

/* The name of a BS_MBFAULT_* type ("delay" ...), "unknown" when out of
 * range. */
const char *mbf_type_name(uint32_t type);

/* Set the fault a "modbus_fault" "set" request describes (fields type,
 * unit, ms, seconds, every, points, what), replacing the one of the same
 * type and unit.  racks bounds the unit (1 + racks); now_s is the
 * simulated time, wall_ns CLOCK_REALTIME.  0, or -1 with a message. */
int mbf_set(struct mbf_state *m, json_object *req, uint32_t racks,
	    double now_s, int64_t wall_ns, char *err, size_t errlen);

/* Clear the faults of type (a name, or "all") on unit (-1: every unit);
 * the number cleared, or -1 with a message for an unknown type. */
int mbf_clear(struct mbf_state *m, const char *type, int64_t unit, char *err,
	      size_t errlen);

/* Drop silences whose time is over (at wall_ns). */
void mbf_expire(struct mbf_state *m, int64_t wall_ns);

/* The list: [{"type","unit",<params>,"since_s"[,"until_wall_ns"]}]. */
json_object *mbf_list_json(const struct mbf_state *m);

/* A report of batsim-modbusd at CLOCK_MONOTONIC now_ns. */
void mbf_report(struct mbf_state *m, uint32_t clients, uint64_t requests,
		uint64_t now_ns);

/* 1 when a report came within MBF_ALIVE_NS of now_ns. */
int mbf_alive(const struct mbf_state *m, uint64_t now_ns);

/* Bit BS_MBFAULT_k set while a fault of type k is in the list. */
uint32_t mbf_bits(const struct mbf_state *m);

/* Fill the mb_* fields of a site record being published. */
void mbf_publish(const struct mbf_state *m, struct bs_site *site,
		 uint64_t now_ns);

#endif /* BATSIMD_MBFAULTS_H */
