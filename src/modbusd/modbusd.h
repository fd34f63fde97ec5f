/*
 * modbusd.h - batsim-modbusd: the site as a SunSpec Modbus TCP device.
 *
 * Modules (one concern each; everything runs in the one poll loop of
 * main.c, so nothing here takes a lock):
 *   main.c     options, listeners, connections, the poll loop, signals
 *   sunspec.c  the generated model table (sunspec-table.c) and encoding
 *   map.c      unit layouts (which models at which address) and the
 *              register image of a unit built from one snapshot
 *   dev.c      the segment (attach, re-attach, staleness), the per-unit
 *              image cache, the daemon-held writable state, the control
 *              client (writes, fault list, modbus_report), reversion timers
 *   faults.c   the protocol faults read from batsimd and their matching
 *   req.c      one request in, one answer out (exception rules, writes)
 */
#ifndef BATSIM_MODBUSD_H
#define BATSIM_MODBUSD_H

#include <stddef.h>
#include <stdint.h>

#include <batsim/batsim.h>

#include "conf.h"
#include "sunspec.h"

#define MB_BASE 40000u         /* address of "SunS" */
#define MB_SPACE (65536u - MB_BASE) /* registers from the base to 0xFFFF */
#define MB_SITE_UNIT 1u
#define MB_FIRST_RACK_UNIT 2u
#define MB_LAST_UNIT 247u      /* highest Modbus unit id */
#define MB_MAX_BLOCKS 12u

/* Exception codes (Modbus application protocol 1.1b3, 7). */
#define MB_EX_ILLEGAL_FUNCTION 0x01
#define MB_EX_ILLEGAL_ADDRESS 0x02
#define MB_EX_ILLEGAL_VALUE 0x03
#define MB_EX_DEVICE_FAILURE 0x04
#define MB_EX_GATEWAY_TARGET 0x0B

/* ---- map.c ---- */

/* One model instance run in a unit's image (805 repeats per module). */
struct mb_block {
	uint16_t model;
	uint16_t start;  /* register index of its ID in the image */
	uint16_t len;    /* registers of one instance, ID and L included */
	uint16_t nrep;   /* repeating-group instances */
	uint16_t count;  /* model instances back to back (805: modules) */
};

struct mb_unit {
	unsigned n_regs;              /* image length: "SunS" .. end marker */
	unsigned n_blocks;
	struct mb_block blocks[MB_MAX_BLOCKS];
};

/* Scale factors, chosen at attach from the topology and ratings so that
 * every value of the site fits its type. */
struct mb_scale {
	int soc;       /* % (SoC, SoH, DoD) */
	int cell_v;    /* V, a cell */
	int tmp;       /* degC */
	int site_v;    /* V, the bus (= a string) */
	int site_a, site_w;
	int rack_a;
	int mod_v;     /* V, a module */
	int wh, ah;
	int pct;       /* 704 WSetPct, 124 InWRte/OutWRte */
	int w_rtg;     /* 702/124/802 W ratings and WChaMax */
};

struct mb_geom {
	struct bs_topology topo;
	uint32_t n_str;       /* strings listed in 803 */
	uint32_t n_rack_units; /* racks exposed as units 2.. */
	uint32_t n_mod;       /* modules exposed per rack unit */
	struct mb_unit site;
	struct mb_unit rack;  /* the same layout for every rack unit */
	struct mb_scale sf;
	double v_nom_cell, v_max_cell, v_min_cell;
	double w_dis_rtg, w_cha_rtg; /* site power ratings, W */
	double wh_rtg, ah_rtg;
	double a_cha_rack, a_dis_rack;
	char site_id[24];     /* serial stem: site name or segment name */
	char opt[16];         /* "20x10x32" */
};

/* Daemon-held values of the writable points (raw register values in the
 * scale of mb_scale). */
struct mb_state {
	/* 704 */
	uint16_t wset_ena, wset_mod, wset_ena_rvrt;
	int32_t wset, wset_rvrt;       /* W (WSet_SF 0) */
	int16_t wset_pct, wset_pct_rvrt; /* WSetPct_SF */
	uint32_t wset_rvrt_tms;        /* s, 0 = no reversion */
	int64_t wset_rvrt_at_ns;       /* monotonic deadline, 0 none */
	/* 124 */
	uint16_t wcha_max;             /* WChaMax_SF */
	uint16_t wcha_gra, wdischa_gra;
	uint16_t storctl_mod;
	int16_t in_wrte, out_wrte;     /* InOutWRte_SF */
	uint16_t win_tms, rvrt_tms, rmp_tms;
	int64_t rte_rvrt_at_ns;
	/* 802 */
	uint16_t ctrl_hb, set_inv_state;
};

/* A snapshot of the site unit's data. */
struct mb_site_snap {
	struct bs_meta meta;
	struct bs_site site;
	struct bs_rack *racks;         /* [topo.racks] */
};

struct mb_rack_snap {
	struct bs_meta meta;
	uint32_t rack;
	struct bs_rack rec;
	struct bs_module *mods;        /* [modules_per_rack] */
	struct bs_cell *cells;         /* [modules_per_rack * cells] */
};

/* Fields of the Modbus blocks of the segment (MODBUS.md). */
struct mb_site_ext {
	float soc_reserve_min, soc_reserve_max;
	uint32_t fault_bits, fault_revision;
};
void map_site_ext(const struct bs_site *s, struct mb_site_ext *out);
uint32_t map_rack_operator_open(const struct bs_rack *r);

/* Compute layouts and scale factors for a segment; 0, or -1 with a
 * message in err. */
int map_geometry(struct mb_geom *g, const struct bs_geometry *h,
		 const char *chemistry,
		 const struct bsd_config *cfg, char *err, size_t errlen);

/* Build the image of the site unit / rack unit from one snapshot.
 * stale: the writer is stale or stopped (State, Evt1, Sta show it). */
void map_site_image(uint16_t *img, const struct mb_geom *g,
		    const struct mb_site_snap *s, const struct mb_state *st,
		    int stale);
void map_rack_image(uint16_t *img, const struct mb_geom *g,
		    const struct mb_rack_snap *s, int stale);

/* Put 802 Hb (the site image's heartbeat) from a wall clock in ns. */
void map_site_hb(uint16_t *img, const struct mb_geom *g, int64_t wall_ns);

/* The point covering image register reg of unit u: its model, the
 * register index where the point starts, and the repeating instance (or
 * -1).  NULL for the marker, ID/L words and the end marker. */
const struct sp_point *map_locate(const struct mb_unit *u, unsigned reg,
				  unsigned *pt_start, int *inst,
				  const struct mb_block **blk);

/* ---- faults.c ---- */

enum mb_fault_type {
	MBF_DELAY,
	MBF_SILENCE,
	MBF_EXCEPTION,
	MBF_FREEZE,
	MBF_DROP,
	MBF_TYPES
};

#define MB_MAX_FAULTS 32
#define MB_MAX_FAULT_POINTS 16

struct mb_fault {
	int type;
	unsigned unit;          /* 0 = whole device */
	unsigned ms;            /* delay */
	int64_t until_wall_ns;  /* silence for seconds */
	unsigned every;         /* silence / drop: every Nth request */
	int freeze_all;         /* freeze "all" (else "values") */
	unsigned n_points;
	struct {
		uint16_t model;
		char name[33];
	} points[MB_MAX_FAULT_POINTS];
	uint64_t count;         /* requests seen (every Nth) */
};

struct mb_faults {
	unsigned n;
	struct mb_fault f[MB_MAX_FAULTS];
	uint32_t revision;
};

/* Parse a modbus_faults reply into *out; 0, or -1 with a message.
 * Unknown point names in exception faults are dropped with a warning. */
int faults_parse(const char *reply, struct mb_faults *out, char *err,
		 size_t errlen);

/* The active fault of a type for a unit (unit-specific first), or NULL. */
struct mb_fault *faults_find(struct mb_faults *fs, int type, unsigned unit,
			     int64_t wall_ns);

/* An exception fault for unit lists model.point. */
int faults_point(struct mb_faults *fs, unsigned unit, unsigned model,
		 const char *name, int64_t wall_ns);

/* ---- dev.c ---- */

enum mb_data {
	MB_DATA_NONE,   /* no segment or no snapshot: exception 04 */
	MB_DATA_STALE,  /* a snapshot, writer stale or stopped */
	MB_DATA_LIVE,
};

/* Start: remember the configuration; the segment is attached lazily. */
void dev_init(const struct bsd_config *cfg);
void dev_close(void);

/* Housekeeping, every loop turn: attach / re-attach, fault list,
 * reversion timers, the modbus_report each second.  now_ns monotonic. */
void dev_tick(int64_t now_ns, unsigned clients, uint64_t requests);

/* Re-read the protocol fault list when the revision published in the
 * segment changed (at each request: a fault set before a request's
 * snapshot applies to it). */
void dev_check_faults(void);

/* The geometry when attached, else NULL. */
const struct mb_geom *dev_geom(void);

/* The register image of a unit from one snapshot (cached per tick); NULL
 * when there is no data (*data says why) or the unit is not served. */
const uint16_t *dev_image(unsigned unit, enum mb_data *data,
			  const struct mb_unit **layout);

/* The site's Modbus block as the newest snapshot has it. */
void dev_site_ext(struct mb_site_ext *out);

/* The protocol faults in force. */
struct mb_faults *dev_faults(void);

/* The daemon-held writable state. */
struct mb_state *dev_state(void);

/* Send one control command (a JSON object); 0, or -1 when batsimd
 * refused it or could not be reached (err says which). */
int dev_command(const char *json, char *err, size_t errlen);

/* Apply 704's WSet* state now (send the setpoint) and (re)arm the
 * reversion timer; 0 or -1. */
int dev_apply_wset(int rearm);
/* Apply 124's rate window to the setpoint; 0 or -1. */
int dev_apply_rates(int rearm);

/* Monotonic and wall clocks in ns. */
int64_t dev_now_ns(void);
int64_t dev_wall_ns(void);

/* ---- req.c ---- */

enum mb_answer {
	MB_ANS_REPLY,     /* rsp holds a response ADU */
	MB_ANS_EXCEPTION, /* answer exception `exc` */
	MB_ANS_NONE,      /* no answer (silence fault) */
	MB_ANS_CLOSE,     /* close the connection (drop fault) */
};

struct mb_peer {
	int can_write;    /* writes enabled and the address allowed */
	char addr[64];
};

struct mb_result {
	enum mb_answer kind;
	int exc;
	unsigned delay_ms;
	int rsp_len;
	uint8_t rsp[260];
};

/* Handle one request ADU (MBAP header included, as modbus_receive
 * returns it). */
void req_handle(const uint8_t *adu, int len, const struct mb_peer *peer,
		struct mb_result *out);

/* Build the exception ADU for a request into out->rsp. */
void req_exception_adu(const uint8_t *adu, int exc, struct mb_result *out);

#endif /* BATSIM_MODBUSD_H */
