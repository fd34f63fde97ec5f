/*
 * engine_internal.h - the engine's private state, shared by engine.c, the
 * CPU backend, the BMS, profiles and faults (not by the daemon).
 */
#ifndef BATSIMD_ENGINE_INTERNAL_H
#define BATSIMD_ENGINE_INTERNAL_H

#include <pthread.h>

#include "ageing.h"
#include "chemistry.h"
#include "engine.h"
#include "model.h"

#define ENG_MAX_FAULTS 256

/* One rack: contactor, BMS limits and alarms. */
struct eng_rack {
	int fault_open; /* an open-circuit fault holds it open */
	int prot_open;	/* protection opened it (until reset) */
	int op_open;	/* an operator opened it (until "close"; operator.c) */
	double ha_mult; /* cooling fault factor (1 = healthy) */
	double charge_lim_a, discharge_lim_a;
	int chg_done;	/* the CC-CV charge ended (until a discharge) */
	int dis_done;	/* the discharge reached its cut-off (until a charge) */
	double v_string; /* terminal voltage (V) */
	uint32_t alarm_active, alarm_latched;
	uint32_t alarm_src[BS_ALARM_KINDS];  /* cell raising kind k now */
	uint32_t alarm_cell[BS_ALARM_KINDS]; /* first cell, latched */
	double alarm_time_s[BS_ALARM_KINDS];
	double prot_since[BS_ALARM_KINDS]; /* < 0: condition not holding */
	uint32_t fault_bits;
};

struct eng_fault_rec {
	struct eng_fault f;
};

enum { PROF_NONE = 0, PROF_CSV, PROF_PEAK, PROF_REG, PROF_CYCLE };
/* The most data rows of a CSV profile (16 MB of times and powers);
 * batsim.conf(5) documents it with the 16 MiB file limit. */
#define PROF_MAX_ROWS 1000000u
enum {
	CYC_CHARGE_CC = 0,
	CYC_CHARGE_CV,
	CYC_REST_FULL,
	CYC_DISCHARGE,
	CYC_REST_EMPTY
};

struct eng_profile {
	int kind; /* PROF_* */
	struct cfg_profile cfg;
	double *t, *p; /* CSV points */
	size_t n;
	double period_s[6], phase[6], amp[6]; /* regulation */
	int cyc_phase;
	double cyc_i_a;	    /* CV: present charge current magnitude */
	double cyc_since_s; /* start of a rest */
};

struct cpu_pool;
struct ecu;

struct engine {
	struct bsd_config cfg;
	uint32_t R, M, C; /* racks, modules per rack, cells per module */
	size_t n_cells, n_mod;
	struct bsm_chem chem;
	struct chem_derate derate;
	double p_nom_w; /* site power at 0.5 C and 50 % OCV */

	/* host arrays (the state itself on the CPU; a mirror on CUDA) */
	struct bsm_arrays a;
	int tcur;		    /* 0: a.t_a holds the temperature now */
	double *var_r0, *var_cap_c; /* variation: R0 factor, capacity (C) */
	struct ageing *ag;	    /* capacity fade (ageing.h) */
	double *cap_frac; /* capacity now / initial: SoH x fade fault */
	uint8_t *mplain;  /* per module: no cell has a leak, a runaway
			   * threshold or a sensor fault (faults_apply):
			   * the CPU backend's fast step applies */
	struct bsm_rack_in *rin;
	struct bsm_stats *mstats; /* per module (CPU) */
	struct bsm_stats *rstats; /* per rack, after the last step */
	struct eng_rack *rk;

	/* site */
	double v_bus, i_site, p_site;
	double energy_in_wh, energy_out_wh;
	uint32_t mode;
	double setpoint;     /* user setpoint (W or A) */
	double eff_setpoint; /* the one used (profile applied) */
	uint32_t eff_mode;
	double ambient_c;
	struct eng_profile prof;

	double rsv_min, rsv_max; /* SoC reserve window (operator.c) */

	struct eng_fault_rec faults[ENG_MAX_FAULTS];
	unsigned n_faults;

	uint64_t tick;
	int dirty; /* params or state changed: prepare first */

	int backend; /* BS_BACKEND_CPU or BS_BACKEND_CUDA */
	char desc[160];
	char error[200]; /* first backend failure, "" = none */
	struct cpu_pool *cpu;
	struct ecu *cu;
	unsigned threads;
};

/* 1 when the rack's contactor is open, whoever opened it. */
static inline int eng_rack_open(const struct eng_rack *k)
{
	return k->fault_open || k->prot_open || k->op_open;
}

static inline double *eng_tcur(const struct engine *e)
{
	return e->tcur ? e->a.t_b : e->a.t_a;
}

/* engine_cpu.c */
int cpu_create(struct engine *e, unsigned threads, char *err, size_t len);
void cpu_destroy(struct engine *e);
void cpu_prepare(struct engine *e); /* E', R', stats from the state */
void cpu_step(struct engine *e);    /* one step with e->rin */
void cpu_records(struct engine *e, struct bs_cell *cells,
		 struct bs_module *mods); /* cells and module aggregates */

/* bms.c */
void bms_limits(struct engine *e);		/* derated rack limits */
void bms_eval(struct engine *e, double time_s); /* alarms, protection */
void bms_reset(struct engine *e, int rack);
int bms_condition(const struct engine *e, uint32_t r, unsigned tier,
		  unsigned kind, uint32_t *cell);

/* operator.c: operator-opened contactors and the SoC reserve window,
 * applied after bms_limits as an extra factor on its limits */
void op_limits(struct engine *e);

/* profile.c */
int prof_set(struct engine *e, const struct cfg_profile *p, char *err,
	     size_t len);
void prof_free(struct eng_profile *p);
void prof_apply(struct engine *e, double time_s);
uint32_t prof_code(const struct engine *e);

/* engine_faults.c */
void faults_apply(struct engine *e); /* rebuild params from the faults */
int faults_sync_backend(struct engine *e);

/* engine.c */
void eng_rin_thermal(struct engine *e);
int eng_set_dir(struct engine *e, double x);
void eng_module_aggregates(struct engine *e, const struct bs_cell *cells,
			   struct bs_module *mods, size_t m0, size_t m1);
void eng_sync_to_host(struct engine *e); /* CUDA: state to host mirror */
int eng_params_to_backend(struct engine *e);

#endif /* BATSIMD_ENGINE_INTERNAL_H */
