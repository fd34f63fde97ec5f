/*
 * batsim/shm.h - the shared memory ABI of batsim (see batsim-shm(7)).
 *
 * This header is the contract between the single writer (batsimd) and any
 * number of readers.  Everything in the segment has a fixed width and a
 * fixed offset; nothing here is a pointer, a bool, an enum or a long.
 * Offsets are relative to the start of the segment (header fields) or to
 * the start of a slot (record regions).
 *
 * Layout:
 *   [0, BS_HEADER_SIZE)             struct bs_shm_header (one 4 KiB page)
 *   slots_offset + k * slot_size    slot k, k = 0 .. n_slots-1
 *
 * Slot:
 *   [0, 128)                        struct bs_slot_header (sequence, tick...)
 *   site_offset                     struct bs_site
 *   rack_offset                     struct bs_rack  [n_racks]
 *   module_offset                   struct bs_module[n_racks * modules_per_rack]
 *   cell_offset                     struct bs_cell  [n_cells], rack-major
 *   module_ext_offset (abi_minor 2) struct bs_module_ext[n_modules], stride
 *                                   module_ext_size (0 offset = absent)
 *   cell_ext_offset   (abi_minor 2) struct bs_cell_ext[n_cells], stride
 *                                   cell_ext_size (0 offset = absent)
 *
 * ABI policy: abi_major changes on any incompatible change (readers must
 * refuse a segment whose abi_major differs); abi_minor grows when fields
 * are appended in reserved space (readers accept any abi_minor).
 */
#ifndef BATSIM_SHM_H
#define BATSIM_SHM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BS_MAGIC "BATSIMv1" /* 8 bytes, no terminating NUL in the segment */
#define BS_MAGIC_LEN 8
#define BS_ABI_MAJOR 1
#define BS_ABI_MINOR 2

#define BS_HEADER_SIZE 4096u      /* the header page */
#define BS_SLOT_ALIGN 4096u       /* slot stride is a multiple of this */
#define BS_CACHE_LINE 64u         /* every atomic sits alone on one */
#define BS_DEFAULT_SLOTS 3u
#define BS_MAX_SLOTS 16u
#define BS_MAX_CELLS (1u << 22)   /* 4,194,304 cells: supported maximum */
#define BS_MAX_RACKS 4096u
#define BS_MAX_MODULES_PER_RACK 1024u
#define BS_MAX_CELLS_PER_MODULE 1024u
#define BS_DEFAULT_NAME "/batsim"
#define BS_EXT_SIZE_MAX 4096u     /* largest extension record stride */

/* Segment state (header.state). */
#define BS_STATE_INIT 0u    /* created by batsim-init, no writer yet */
#define BS_STATE_RUNNING 1u /* a writer is publishing */
#define BS_STATE_STOPPED 2u /* the writer exited cleanly */

/* Backend in use (header.backend). */
#define BS_BACKEND_NONE 0u
#define BS_BACKEND_CPU 1u
#define BS_BACKEND_CUDA 2u
#define BS_BACKEND_TEST 3u /* the test writer under tests/ */

/* Alarm kinds: bit k of each tier's mask.  Tier t (0 warning, 1 alarm,
 * 2 protection) of kind k is bit (t * BS_ALARM_KINDS + k) of alarm bits. */
#define BS_ALARM_CELL_OV 0u   /* cell over-voltage */
#define BS_ALARM_CELL_UV 1u   /* cell under-voltage */
#define BS_ALARM_CELL_OT 2u   /* cell over-temperature */
#define BS_ALARM_CELL_UT 3u   /* cell under-temperature */
#define BS_ALARM_V_SPREAD 4u  /* cell voltage spread within the rack */
#define BS_ALARM_T_SPREAD 5u  /* temperature spread within the rack */
#define BS_ALARM_SOC_HIGH 6u  /* rack SoC above limit */
#define BS_ALARM_SOC_LOW 7u   /* rack SoC below limit */
#define BS_ALARM_KINDS 8u
#define BS_TIER_WARNING 0u
#define BS_TIER_ALARM 1u
#define BS_TIER_PROTECTION 2u
#define BS_TIERS 3u
#define BS_ALARM_BIT(tier, kind) (1u << ((tier) * BS_ALARM_KINDS + (kind)))

/* Fault kinds: bit k of bs_rack.fault_bits when a fault of kind k is
 * injected on the rack or on one of its cells. */
#define BS_FAULT_SHORT 0u          /* internal short (leak resistance) */
#define BS_FAULT_HIGH_R 1u         /* R0 multiplied by k */
#define BS_FAULT_FADE 2u           /* capacity fade */
#define BS_FAULT_COOLING 3u        /* rack hA reduced */
#define BS_FAULT_SENSOR_STUCK 4u   /* reported value frozen */
#define BS_FAULT_SENSOR_OFFSET 5u  /* reported value offset */
#define BS_FAULT_OPEN 6u           /* rack open circuit */
#define BS_FAULT_RUNAWAY 7u        /* thermal runaway */
#define BS_FAULT_KINDS 8u

/* Modbus protocol fault types: bit k of bs_site.mb_fault_bits while a
 * fault of type k is set (docs/control-protocol.md, modbus_fault). */
#define BS_MBFAULT_DELAY 0u     /* answers delayed */
#define BS_MBFAULT_SILENCE 1u   /* no answer (for a while, or every Nth) */
#define BS_MBFAULT_EXCEPTION 2u /* writes to chosen points: exception 02 */
#define BS_MBFAULT_FREEZE 3u    /* values (or everything) frozen */
#define BS_MBFAULT_DROP 4u      /* connection closed every Nth request */
#define BS_MBFAULT_KINDS 5u

/* Site control mode (bs_site.mode). */
#define BS_MODE_POWER 0u
#define BS_MODE_CURRENT 1u

/* One cell: the original design's data model, unchanged.  current > 0 is
 * discharge; soc is 0.0-1.0 here (JSON shows percent); resistance is the
 * ohmic R0 as it is now. */
struct bs_cell {
	float voltage;     /* V, terminal */
	float current;     /* A, + = discharge */
	float temperature; /* degC */
	float soc;         /* 0.0 - 1.0 */
	float resistance;  /* ohm, R0 */
};

/* Aggregates of one module (its cells in series).  Cell indices are
 * within the module (0 .. cells_per_module-1). */
struct bs_module {
	float voltage_v;      /* sum of cell voltages */
	float current_a;      /* string current, + = discharge */
	float soc_mean;       /* 0-1 */
	float cell_v_min;     /* V */
	float cell_v_max;     /* V */
	float cell_v_mean;    /* V */
	float temp_min_c;     /* degC */
	float temp_max_c;     /* degC */
	float temp_mean_c;    /* degC */
	uint32_t v_min_cell;  /* index of the lowest-voltage cell */
	uint32_t v_max_cell;  /* index of the highest-voltage cell */
	uint32_t t_min_cell;  /* index of the coldest cell */
	uint32_t t_max_cell;  /* index of the hottest cell */
	uint32_t alarm_bits;  /* active alarms raised by cells of this module */
	uint32_t contactor;   /* 1 when the rack's contactor is closed */
	uint32_t reserved0;
};

/* abi_minor 2: the per-cell extension record (cell model state beyond
 * the original five values), in its own region of each slot, rack-major
 * like the cells.  Readers step by the header's cell_ext_size, which may
 * grow in later minor versions (new fields appended). */
struct bs_cell_ext {
	float soh;             /* state of health: capacity now / initial, 0-1 */
	float hysteresis;      /* OCV hysteresis state h, -1 (discharge branch)
	                          .. +1 (charge branch); 0 when not modelled */
};

/* abi_minor 2: the per-module extension record, stride module_ext_size. */
struct bs_module_ext {
	float soh_min;         /* lowest cell SoH in the module */
	float soh_mean;
	uint32_t soh_min_cell; /* index of that cell within the module */
	float efc_mean;        /* equivalent full cycles, mean over its cells */
};

/* bs_rack.charge_state: the end of a CC-CV charge (C/20 or 100 %; no
 * charge until the rack discharges) and of a discharge at its cut-off (no
 * discharge until the rack charges). */
#define BS_CHARGE_FULL 0x1u
#define BS_CHARGE_EMPTY 0x2u

/* Aggregates of one rack (a string behind a contactor).  Cell locations
 * are flat indices within the rack: module * cells_per_module + cell. */
struct bs_rack {
	float voltage_v;            /* string voltage at the rack terminals */
	float current_a;            /* + = discharge */
	float soc_mean;             /* 0-1 */
	float cell_v_min;           /* V */
	float cell_v_max;           /* V */
	float cell_v_mean;          /* V */
	float temp_min_c;           /* degC */
	float temp_max_c;           /* degC */
	float temp_mean_c;          /* degC */
	float charge_limit_a;       /* BMS derated charge current limit (>= 0) */
	float discharge_limit_a;    /* BMS derated discharge limit (>= 0) */
	float power_w;              /* voltage_v * current_a */
	uint32_t v_min_cell;        /* flat index in rack */
	uint32_t v_max_cell;
	uint32_t t_min_cell;
	uint32_t t_max_cell;
	uint32_t contactor;         /* 1 closed, 0 open */
	uint32_t alarm_active;      /* alarm bits whose condition holds now */
	uint32_t alarm_latched;     /* alarm bits latched until reset */
	uint32_t fault_bits;        /* BS_FAULT_* injected on this rack */
	uint32_t alarm_cell[BS_ALARM_KINDS]; /* flat cell index that first
	                                        raised kind k (latched) */
	double alarm_time_s[BS_ALARM_KINDS]; /* simulated time it was raised */
	/* abi_minor 1: appended in what was reserved space (zero from an
	 * abi_minor 0 writer) */
	/* abi_minor 2: cell model (offset 176, 32 bytes) */
	float soh_min;              /* lowest cell SoH in the rack (0-1) */
	float soh_mean;
	uint32_t soh_min_cell;      /* flat index in rack of that cell */
	float efc_mean;             /* equivalent full cycles, cell mean */
	uint32_t physics_reserved[3];
	uint32_t charge_state;      /* offset 204: BS_CHARGE_* bits: the BMS
	                               ended a charge (full) or a discharge
	                               (empty); 0 = neither (or a minor 0
	                               writer) */
	/* offset 208: Modbus-facing state (16 bytes) */
	uint32_t operator_open;     /* 1 while an operator holds the contactor
	                               open (control "contactor") */
	uint8_t mb_reserved[12];
	uint8_t reserved[32];
};

/* The site: racks in parallel on one DC bus. */
struct bs_site {
	double energy_out_wh;   /* discharged energy since start */
	double energy_in_wh;    /* charged energy since start */
	float bus_voltage_v;
	float current_a;        /* + = discharge */
	float power_w;          /* + = discharge */
	float soc_mean;         /* 0-1 */
	float setpoint;         /* W in power mode, A in current mode */
	float ambient_c;        /* air temperature */
	float cell_v_min;
	float cell_v_max;
	float temp_min_c;
	float temp_max_c;
	float charge_limit_a;   /* sum over closed racks */
	float discharge_limit_a;
	uint32_t mode;          /* BS_MODE_* */
	uint32_t racks_closed;  /* contactors closed */
	uint32_t alarm_count[BS_TIERS]; /* racks with an active alarm per tier */
	uint32_t latched_count[BS_TIERS];
	uint32_t profile;       /* 0 none, 1 csv, 2 peak-shaving, 3 regulation,
	                           4 cycle */
	uint32_t faults_active; /* number of injected faults */
	/* abi_minor 1: appended in what was reserved space (zero from an
	 * abi_minor 0 writer) */
	uint32_t paused;        /* offset 104: 1 while the engine is paused */
	float speed;            /* offset 108: 1 real time, > 1 faster, 0 as
	                           fast as possible */
	/* abi_minor 2: cell model aggregates (offset 112, 32 bytes) */
	float soh_min;          /* lowest cell SoH of the site (0-1) */
	float soh_mean;
	uint32_t soh_min_rack;  /* where that cell is: rack, */
	uint32_t soh_min_cell;  /* and flat index within the rack */
	float efc_mean;         /* equivalent full cycles, cell mean */
	uint32_t physics_reserved[3];
	/* offset 144: Modbus-facing state (64 bytes) */
	float soc_reserve_min;  /* 144: fraction; 0 when no reserve */
	float soc_reserve_max;  /* 148: fraction; 1 when no reserve (0/0 from
	                           an older writer also means none) */
	uint32_t mb_fault_bits; /* 152: bit BS_MBFAULT_* set while a protocol
	                           fault of that type is active */
	uint32_t mb_fault_revision; /* 156: grows at each change of the
	                               protocol fault list */
	uint32_t mb_clients;    /* 160: Modbus clients, as last reported */
	uint32_t mb_alive;      /* 164: 1 when batsim-modbusd reported within
	                           the last 3 s */
	uint64_t mb_requests;   /* 168: Modbus requests served, as reported */
	uint8_t mb_reserved[32];
	uint8_t reserved[48];
};

/* The start of every slot. */
struct bs_slot_header {
	uint64_t seq;         /* atomic: odd while being written; own line */
	uint8_t pad0[BS_CACHE_LINE - 8];
	uint64_t tick;        /* internal steps since writer start */
	double sim_time_s;    /* simulated seconds since writer start */
	int64_t wall_time_ns; /* CLOCK_REALTIME at publish */
	uint64_t generation;  /* header generation of the writer that wrote it */
	uint8_t pad1[BS_CACHE_LINE - 32];
};

/* The header page. */
struct bs_shm_header {
	/* line 0: identity and geometry, fixed when the segment is created */
	char magic[BS_MAGIC_LEN];
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t header_size;
	uint64_t total_size;
	uint32_t n_racks;
	uint32_t modules_per_rack;
	uint32_t cells_per_module;
	uint32_t n_slots;
	uint64_t slot_size;    /* stride between slots */
	uint64_t slots_offset; /* offset of slot 0 from segment start */
	uint64_t n_cells;      /* n_racks * modules_per_rack * cells_per_module */

	/* line 1: record sizes and region offsets within a slot */
	uint32_t cell_size;
	uint32_t module_size;
	uint32_t rack_size;
	uint32_t site_size;
	uint32_t slot_header_size;
	uint32_t reserved1;
	uint64_t site_offset;
	uint64_t rack_offset;
	uint64_t module_offset;
	uint64_t cell_offset;
	uint8_t pad1[8];

	/* line 2: writer identity, written only while state != RUNNING */
	int32_t writer_pid;
	uint32_t backend;          /* BS_BACKEND_* */
	int64_t writer_start_ns;   /* CLOCK_REALTIME when the writer started */
	uint64_t tick_period_ns;   /* publish period */
	uint64_t dt_ns;            /* internal step */
	char chemistry[16];        /* NUL-terminated preset name */
	uint8_t pad2[16];

	/* each atomic below sits alone on its cache line */
	uint64_t generation;       /* atomic: bumped at each writer start */
	uint8_t pad3[BS_CACHE_LINE - 8];
	uint32_t state;            /* atomic: BS_STATE_* */
	uint8_t pad4[BS_CACHE_LINE - 4];
	uint64_t heartbeat_ns;     /* atomic: CLOCK_MONOTONIC of last beat */
	uint8_t pad5[BS_CACHE_LINE - 8];
	uint32_t latest;           /* atomic: index of newest complete slot */
	uint8_t pad6[BS_CACHE_LINE - 4];

	/* abi_minor 1, appended (zero in an abi_minor 0 segment) */
	/* line 7: site identity, written only while state != RUNNING */
	char site_name[32];        /* NUL-terminated, site_name in batsim.conf */
	uint8_t pad7[32];
	/* line 8 (abi_minor 2): per-module and per-cell extension regions in
	 * each slot, part of the geometry (all 0 when absent) */
	uint32_t module_ext_size;  /* stride of struct bs_module_ext records */
	uint32_t cell_ext_size;    /* stride of struct bs_cell_ext records */
	uint64_t module_ext_offset; /* within a slot */
	uint64_t cell_ext_offset;
	uint8_t pad8[40];
	/* line 9: Modbus */
	uint8_t modbus[64];

	uint8_t reserved[BS_HEADER_SIZE - 10 * BS_CACHE_LINE];
};

/* The ABI fixes these; a change is an abi_major bump. */
_Static_assert(sizeof(struct bs_cell) == 20, "cell record is 5 float32");
_Static_assert(offsetof(struct bs_cell, voltage) == 0, "cell.voltage");
_Static_assert(offsetof(struct bs_cell, current) == 4, "cell.current");
_Static_assert(offsetof(struct bs_cell, temperature) == 8, "cell.temp");
_Static_assert(offsetof(struct bs_cell, soc) == 12, "cell.soc");
_Static_assert(offsetof(struct bs_cell, resistance) == 16, "cell.resistance");
_Static_assert(sizeof(struct bs_module) == 64, "module record size");
_Static_assert(offsetof(struct bs_module, v_min_cell) == 36, "module idx");
_Static_assert(offsetof(struct bs_module, alarm_bits) == 52, "module alarm");
_Static_assert(sizeof(struct bs_rack) == 256, "rack record size");
_Static_assert(offsetof(struct bs_rack, v_min_cell) == 48, "rack idx");
_Static_assert(offsetof(struct bs_rack, alarm_cell) == 80, "rack alarm_cell");
_Static_assert(offsetof(struct bs_rack, alarm_time_s) == 112, "rack time");
_Static_assert(offsetof(struct bs_rack, soh_min) == 176, "rack physics");
_Static_assert(offsetof(struct bs_rack, efc_mean) == 188, "rack efc");
_Static_assert(offsetof(struct bs_rack, charge_state) == 204,
	       "rack charge state");
_Static_assert(offsetof(struct bs_rack, operator_open) == 208, "rack op");
_Static_assert(offsetof(struct bs_rack, mb_reserved) == 212, "rack mb pad");
_Static_assert(offsetof(struct bs_rack, reserved) == 224, "rack reserved");
_Static_assert(sizeof(struct bs_site) == 256, "site record size");
_Static_assert(offsetof(struct bs_site, bus_voltage_v) == 16, "site bus");
_Static_assert(offsetof(struct bs_site, mode) == 64, "site mode");
_Static_assert(offsetof(struct bs_site, paused) == 104, "site paused");
_Static_assert(offsetof(struct bs_site, speed) == 108, "site speed");
_Static_assert(offsetof(struct bs_site, soh_min) == 112, "site physics");
_Static_assert(offsetof(struct bs_site, efc_mean) == 128, "site efc");
_Static_assert(offsetof(struct bs_site, soc_reserve_min) == 144, "site rsv");
_Static_assert(offsetof(struct bs_site, soc_reserve_max) == 148, "site rsv");
_Static_assert(offsetof(struct bs_site, mb_fault_bits) == 152, "site mbf");
_Static_assert(offsetof(struct bs_site, mb_fault_revision) == 156, "mb rev");
_Static_assert(offsetof(struct bs_site, mb_clients) == 160, "site mb cl");
_Static_assert(offsetof(struct bs_site, mb_alive) == 164, "site mb alive");
_Static_assert(offsetof(struct bs_site, mb_requests) == 168, "site mb req");
_Static_assert(offsetof(struct bs_site, mb_reserved) == 176, "site mb pad");
_Static_assert(offsetof(struct bs_site, reserved) == 208, "site reserved");
_Static_assert(sizeof(struct bs_slot_header) == 128, "slot header size");
_Static_assert(offsetof(struct bs_slot_header, tick) == 64, "slot tick");
_Static_assert(offsetof(struct bs_slot_header, generation) == 88, "slot gen");
_Static_assert(sizeof(struct bs_shm_header) == BS_HEADER_SIZE, "header page");
_Static_assert(offsetof(struct bs_shm_header, n_racks) == 24, "topology");
_Static_assert(offsetof(struct bs_shm_header, cell_size) == 64, "line 1");
_Static_assert(offsetof(struct bs_shm_header, writer_pid) == 128, "line 2");
_Static_assert(offsetof(struct bs_shm_header, generation) == 192, "gen line");
_Static_assert(offsetof(struct bs_shm_header, state) == 256, "state line");
_Static_assert(offsetof(struct bs_shm_header, heartbeat_ns) == 320, "hb line");
_Static_assert(offsetof(struct bs_shm_header, latest) == 384, "latest line");
_Static_assert(offsetof(struct bs_shm_header, site_name) == 448, "line 7");
_Static_assert(sizeof(((struct bs_shm_header *)0)->site_name) == 32,
               "site_name[32]");
_Static_assert(offsetof(struct bs_shm_header, module_ext_size) == 512,
               "line 8");
_Static_assert(offsetof(struct bs_shm_header, cell_ext_offset) == 528,
               "line 8 cell ext");
_Static_assert(sizeof(struct bs_cell_ext) == 8, "cell ext record");
_Static_assert(sizeof(struct bs_module_ext) == 16, "module ext record");
_Static_assert(offsetof(struct bs_shm_header, modbus) == 576, "line 9");

/* Region offsets inside a slot, as the writer lays them out (readers use
 * the header's values, not these). */
#define BS_SITE_OFFSET ((uint64_t)sizeof(struct bs_slot_header))
#define BS_RACK_OFFSET (BS_SITE_OFFSET + sizeof(struct bs_site))

#ifdef __cplusplus
}
#endif
#endif /* BATSIM_SHM_H */
