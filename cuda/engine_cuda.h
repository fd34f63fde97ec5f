/*
 * engine_cuda.h - the CUDA side of the engine, called from C (engine.c)
 * through extern "C" functions.  The state lives on the device; the host
 * keeps a mirror (struct bsm_arrays) for parameters, faults and queries.
 * All functions return 0 or -1 (with a message where there is an err).
 */
#ifndef BATSIM_ENGINE_CUDA_H
#define BATSIM_ENGINE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ecu;

/* 1 when a CUDA device answers (desc: "NVIDIA H100 (sm_90)"), else 0 with
 * the reason in why (e.g. "cudaGetDeviceCount: no CUDA-capable device"). */
int ecu_available(char *desc, size_t desclen, char *why, size_t whylen);

/* Allocate the device state for n cells in racks racks and upload the host
 * arrays (state and parameters).  NULL with a message on failure. */
struct ecu *ecu_create(const struct bsm_chem *chem, uint32_t racks,
		       size_t n_cells, const struct bsm_arrays *host,
		       const struct bsm_rack_in *rin, char *err,
		       size_t errlen);

/* Upload the parameter arrays (inv_q .. st_stuck). */
int ecu_upload_params(struct ecu *u, const struct bsm_arrays *host);

/* Download the state into the host mirror; the temperature goes to
 * t_host (the host's current buffer). */
int ecu_download_state(struct ecu *u, struct bsm_arrays *host, double *t_host);

/* Download the hysteresis states only (telemetry) into h_host. */
int ecu_download_h(struct ecu *u, double *h_host);

/* E', R', R0, R1 of every cell from the state for the directions in
 * rin[racks]; rack statistics to rstats. */
int ecu_prepare(struct ecu *u, const struct bsm_rack_in *rin,
		struct bsm_stats *rstats);

/* One step with the rack inputs rin[racks]; rack statistics to rstats. */
int ecu_step(struct ecu *u, const struct bsm_rack_in *rin,
	     struct bsm_stats *rstats);

/* Cell records (bsm_record) into dst[n_cells] in host memory: by DMA
 * straight into dst when it lies in a registered range, else through a
 * pinned staging buffer.  rack_i: the rack currents.  dst holds 5
 * floats per cell (struct bs_cell). */
int ecu_records(struct ecu *u, const double *rack_i, float *dst);

/* One cell's true state: soc, soc_c, v, T, r0, i1, i2, e, h, r1. */
int ecu_get_cell(struct ecu *u, size_t i, double out[10]);

/* Page-lock [base, base+len) (the shm slots) for direct DMA. */
int ecu_register_host(struct ecu *u, void *base, size_t len);
void ecu_unregister_host(struct ecu *u);

void ecu_destroy(struct ecu *u);

#ifdef __cplusplus
}
#endif
#endif /* BATSIM_ENGINE_CUDA_H */
