/*
 * engine.h - the simulation engine of batsimd: cells, racks, bus, BMS,
 * faults and inputs, on the CPU or CUDA backend.
 *
 * Single-threaded interface: the daemon calls these from its main loop
 * only (the CPU backend uses its own worker threads inside engine_step).
 * Control calls take effect at the next step.
 */
#ifndef BATSIMD_ENGINE_H
#define BATSIMD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <batsim/batsim.h>

#include "conf.h"

typedef struct engine engine;

#define ENG_BACKEND_AUTO 0
#define ENG_BACKEND_CPU 1
#define ENG_BACKEND_CUDA 2

/* Create the engine for cfg (copied).  backend is ENG_BACKEND_*; AUTO
 * picks CUDA when a device answers, else the CPU.  0, or -1 with a message
 * in err (e.g. "--backend cuda: no CUDA device found (...)"). */
int engine_create(const struct bsd_config *cfg, int backend, engine **out,
                  char *err, size_t errlen);

/* Backend actually in use: BS_BACKEND_CPU or BS_BACKEND_CUDA. */
uint32_t engine_backend(const engine *e);

/* A line for the log: "cuda: NVIDIA H100 (sm_90)" or "cpu: 2 threads". */
const char *engine_backend_desc(const engine *e);

/* Bytes of per-cell memory one step of this engine's layout moves, read
 * plus written (model.h's state layout with the parameters and derived
 * arrays the step loads), for the benchmark and docs/PERFORMANCE.md; and
 * a one-line breakdown of it. */
double engine_step_bytes(const engine *e, char *why, size_t len);

/* Advance n internal steps of cfg->dt_s. */
void engine_step(engine *e, unsigned n);

/* Internal steps done and simulated seconds since start. */
uint64_t engine_tick(const engine *e);
double engine_time_s(const engine *e);

/* Write the current state (cells as reported, i.e. with sensor faults
 * applied, plus module, rack and site aggregates) into a slot view. */
void engine_fill(engine *e, const struct bs_slot_view *view);

/* The extension records of the state engine_fill published last (either
 * pointer may be NULL): per module the SoH aggregates, per cell the SoH
 * and the hysteresis state. */
void engine_fill_ext(engine *e, struct bs_module_ext *modules,
                     struct bs_cell_ext *cells);

/* The ageing state of one cell (src/batsimd/ageing.h). */
struct eng_ageing {
	double soh;        /* capacity now / initial (SoH x fade fault) */
	double soh_ageing; /* the ageing model's SoH alone */
	double qloss_cal, qloss_cyc; /* BLAST's calendar and cycle losses */
	double efc;        /* equivalent full cycles */
	double efc_applied; /* of which in closed cycle windows */
	double days;       /* ageing time (ageing_factor applied) */
	double dod, crate; /* stressors of the last closed window */
};
int engine_cell_ageing(const engine *e, uint32_t rack, uint32_t module,
                       uint32_t cell, struct eng_ageing *out);

/* The true state of one cell (no sensor fault), for --trace. */
int engine_cell(engine *e, uint32_t rack, uint32_t module, uint32_t cell,
                struct bs_cell *out);

/* Model state of one cell beyond struct bs_cell (--trace). */
struct eng_cell_model {
	double h;      /* hysteresis state, -1 discharge branch .. +1 */
	double r1_ohm; /* R1 now */
};
int engine_cell_model(engine *e, uint32_t rack, uint32_t module,
                      uint32_t cell, struct eng_cell_model *out);

/* ---- control ---- */

/* mode BS_MODE_POWER (W) or BS_MODE_CURRENT (A); + = discharge.
 * Clears any profile. */
int engine_set_setpoint(engine *e, uint32_t mode, double value);
int engine_set_ambient(engine *e, double ambient_c);

/* Set a profile (name "" or "none" clears it); 0 or -1 with err. */
int engine_set_profile(engine *e, const struct cfg_profile *p, char *err,
                       size_t errlen);

/* A fault on a rack (module/cell -1 where the fault applies to the rack or
 * all of it) or on one cell. */
struct eng_fault {
	uint32_t kind;        /* BS_FAULT_* */
	int32_t rack, module, cell;
	double value;         /* short: leak ohm; high_r: factor k; fade:
	                         remaining capacity fraction; cooling: hA
	                         factor; sensor_offset: volts (voltage) or K;
	                         runaway: threshold degC */
	uint32_t quantity;    /* sensor faults: 0 voltage, 1 temperature */
};

/* Inject or clear (a clear matches kind and location); 0 or -1 with err. */
int engine_fault_inject(engine *e, const struct eng_fault *f, char *err,
                        size_t errlen);
int engine_fault_clear(engine *e, const struct eng_fault *f, char *err,
                       size_t errlen);

/* Number of active faults; copy up to max of them into out. */
unsigned engine_faults(const engine *e, struct eng_fault *out, unsigned max);

/* The alarms of rack r as engine_fill would publish them (bits
 * BS_ALARM_BIT, the first cell and simulated time of each latched kind),
 * without building a snapshot; 0, or -1 when r is out of range. */
struct eng_rack_alarms {
	uint32_t active, latched;
	uint32_t cell[BS_ALARM_KINDS]; /* flat index in the rack */
	double time_s[BS_ALARM_KINDS];
};
int engine_rack_alarms(const engine *e, uint32_t r,
                       struct eng_rack_alarms *out);

/* Reset latched alarms (rack -1 = all) and close contactors opened by
 * protection where the condition is gone. */
void engine_alarm_reset(engine *e, int rack);

/* Operator contactor control (operator.c).  open 1: the operator opens
 * the rack (rack -1: every rack) and it stays open until closed; open 0:
 * close, refused for every rack named when one has an open fault or a
 * latched protection alarm.  0, or -1 with the reason in err. */
int engine_contactor(engine *e, int rack, int open, char *err,
                     size_t errlen);
/* 1 while the operator holds rack r open. */
int engine_rack_operator_open(const engine *e, uint32_t r);

/* SoC reserve window, fractions 0 <= min < max <= 1 (0 and 1: none): the
 * discharge limit falls to 0 as rack SoC falls to min, the charge limit
 * as it rises to max, over 1 % SoC.  0, or -1 with err. */
int engine_set_soc_reserve(engine *e, double min, double max, char *err,
                           size_t errlen);
void engine_soc_reserve(const engine *e, double *min, double *max);

/* Current control inputs. */
struct eng_control {
	uint32_t mode;
	double setpoint;          /* W or A as mode says */
	double ambient_c;
	struct cfg_profile profile;
};
void engine_control(const engine *e, struct eng_control *out);

/* CUDA: page-lock the writer's slot area (bs_writer_slots) once so that
 * engine_fill copies cell records straight into the slot by DMA; without
 * it a pinned staging buffer is used.  0, or -1 when registration failed
 * (engine_fill still works).  No-op on the CPU backend.  Call
 * engine_unregister_host before unmapping the segment. */
int engine_register_host(engine *e, void *base, size_t len);
void engine_unregister_host(engine *e);

/* NULL while the engine is healthy; otherwise a message saying what
 * failed (a CUDA error: the daemon should log it and exit). */
const char *engine_error(const engine *e);

void engine_destroy(engine *e);

#endif /* BATSIMD_ENGINE_H */
