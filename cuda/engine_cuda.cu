/*
 * engine_cuda.cu - the CUDA backend of the engine.
 *
 * The cell state and parameters stay on the device.  A step is:
 *   upload the rack inputs (a few hundred bytes), k_step (one thread per
 *   cell: bsm_step from model.h, the same code as the CPU), k_module_stats
 *   (one thread per module, cells summed in cell order like the CPU),
 *   k_rack_stats (one thread per rack, modules merged in module order),
 *   download the rack statistics; the host then solves the bus.
 * Records for telemetry: k_records writes the 20-byte cell records on the
 * device, then one cudaMemcpyAsync copies them into the shm slot (page
 * locked with cudaHostRegister) or into a pinned staging buffer, and an
 * event tells when the copy is done.
 *
 * Build: nvcc -std=c++17 -fmad=false (no contraction, like the C side's
 * -ffp-contract=off), so both backends round the same way except where the
 * device math library differs from libm (exp, 1 ulp).
 */
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine_cuda.h"

#define BLOCK 256

struct ecu {
	size_t n;
	uint32_t R, M, C;
	size_t n_mod;
	int tcur;
	cudaStream_t stream;
	cudaEvent_t ev;
	struct bsm_chem *d_chem;
	struct bsm_arrays d; /* device pointers */
	struct bsm_rack_in *d_rin;
	struct bsm_stats *d_mstats, *d_rstats;
	double *d_rack_i;
	float *d_rec;
	/* pinned host staging */
	struct bsm_rack_in *h_rin;
	struct bsm_stats *h_rstats;
	double *h_rack_i;
	float *h_rec;
	/* registered host range (the shm slots) */
	char *reg_base;
	size_t reg_len;
};

static void seterr(char *err, size_t len, const char *what, cudaError_t rc)
{
	if (err && len)
		snprintf(err, len, "%s: %s", what, cudaGetErrorString(rc));
}

/* ---- kernels ---- */

__global__ void k_prepare(const struct bsm_chem *__restrict__ c,
                          struct bsm_arrays a, const double *t,
                          const struct bsm_rack_in *__restrict__ rin, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		bsm_prepare(c, &a, i, t[i], rin[i / c->cells_per_rack].dir);
}

__global__ void k_step(const struct bsm_chem *__restrict__ c,
                       struct bsm_arrays a, const double *tin, double *tout,
                       const struct bsm_rack_in *__restrict__ rin, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		uint32_t C = c->cells_per_module, M = c->modules_per_rack;
		size_t mod = i / C;
		bsm_step(c, &a, tin, tout, i, (uint32_t)(i % C),
		         (uint32_t)(mod % M), &rin[mod / M]);
	}
}

__global__ void k_module_stats(const struct bsm_chem *__restrict__ c,
                               struct bsm_arrays a, const double *t,
                               uint32_t C, size_t n_mod,
                               struct bsm_stats *ms)
{
	size_t m = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (m < n_mod) {
		struct bsm_stats s;
		bsm_stats_init(&s);
		for (uint32_t k = 0; k < C; k++)
			bsm_stats_add(c, &s, &a, t, m * C + k, k);
		ms[m] = s;
	}
}

__global__ void k_rack_stats(const struct bsm_stats *ms, uint32_t M,
                             uint32_t C, uint32_t R, struct bsm_stats *rs)
{
	uint32_t r = blockIdx.x * blockDim.x + threadIdx.x;
	if (r < R) {
		struct bsm_stats s;
		bsm_stats_init(&s);
		for (uint32_t m = 0; m < M; m++)
			bsm_stats_merge(&s, &ms[(size_t)r * M + m], m * C);
		rs[r] = s;
	}
}

__global__ void k_records(struct bsm_arrays a, const double *t,
                          const double *rack_i, size_t n,
                          uint32_t cells_per_rack, float *out)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		bsm_record(&a, t, i, rack_i[i / cells_per_rack], out + 5 * i);
}

/* ---- host side ---- */

static unsigned blocks(size_t n)
{
	return (unsigned)((n + BLOCK - 1) / BLOCK);
}

static double *cur_t(const struct ecu *u)
{
	return u->tcur ? u->d.t_b : u->d.t_a;
}

/* The arrays of struct bsm_arrays, as (pointer member, element size). */
#define STATE_ARRAYS(X)                                                 \
	X(soc, double) X(soc_c, double) X(i1, double) X(i2, double)      \
	X(h, double) X(v, double) X(e, double) X(r, double) X(r0, double) \
	X(r1, double)
#define PARAM_ARRAYS(X)                                                 \
	X(inv_q, double) X(r0_mult, double) X(leak_s, double)            \
	X(runaway_c, double) X(sv_off, float) X(st_off, float)            \
	X(sv_stuck, float) X(st_stuck, float)

extern "C" int ecu_available(char *desc, size_t desclen, char *why,
                             size_t whylen)
{
	int n = 0;
	cudaError_t rc = cudaGetDeviceCount(&n);
	cudaDeviceProp p;
	if (rc != cudaSuccess) {
		if (rc == cudaErrorInsufficientDriver)
			snprintf(why, whylen, "no NVIDIA driver, or one older "
			         "than this CUDA runtime");
		else if (rc == cudaErrorNoDevice)
			snprintf(why, whylen, "no CUDA device found");
		else
			seterr(why, whylen, "cudaGetDeviceCount", rc);
		cudaGetLastError(); /* clear it */
		return 0;
	}
	if (n == 0) {
		snprintf(why, whylen, "no CUDA device found");
		return 0;
	}
	rc = cudaGetDeviceProperties(&p, 0);
	if (rc != cudaSuccess) {
		seterr(why, whylen, "cudaGetDeviceProperties", rc);
		return 0;
	}
	snprintf(desc, desclen, "%s (sm_%d%d, %.1f GiB)", p.name, p.major,
	         p.minor, (double)p.totalGlobalMem / (1024.0 * 1024 * 1024));
	return 1;
}

static void free_all(struct ecu *u)
{
	void *dp[] = {u->d_chem, u->d.soc, u->d.soc_c, u->d.i1, u->d.i2,
	              u->d.h, u->d.r1, u->d.t_a, u->d.t_b, u->d.v, u->d.e, u->d.r, u->d.r0,
	              u->d.inv_q, u->d.r0_mult, u->d.leak_s, u->d.runaway_c,
	              u->d.sv_off, u->d.st_off, u->d.sv_stuck, u->d.st_stuck,
	              u->d_rin, u->d_mstats, u->d_rstats, u->d_rack_i,
	              u->d_rec};
	for (size_t i = 0; i < sizeof(dp) / sizeof(dp[0]); i++)
		if (dp[i])
			cudaFree(dp[i]);
	if (u->h_rin)
		cudaFreeHost(u->h_rin);
	if (u->h_rstats)
		cudaFreeHost(u->h_rstats);
	if (u->h_rack_i)
		cudaFreeHost(u->h_rack_i);
	if (u->h_rec)
		cudaFreeHost(u->h_rec);
	if (u->ev)
		cudaEventDestroy(u->ev);
	if (u->stream)
		cudaStreamDestroy(u->stream);
}

extern "C" int ecu_upload_params(struct ecu *u, const struct bsm_arrays *h)
{
	cudaError_t rc = cudaSuccess;
#define UP(f, T)                                                        \
	if (rc == cudaSuccess)                                           \
		rc = cudaMemcpyAsync(u->d.f, h->f, u->n * sizeof(T),       \
		                     cudaMemcpyHostToDevice, u->stream);
	PARAM_ARRAYS(UP)
#undef UP
	if (rc == cudaSuccess)
		rc = cudaStreamSynchronize(u->stream);
	return rc == cudaSuccess ? 0 : -1;
}

extern "C" int ecu_download_state(struct ecu *u, struct bsm_arrays *h,
                                  double *t_host)
{
	cudaError_t rc = cudaSuccess;
#define DOWN(f, T)                                                      \
	if (rc == cudaSuccess)                                           \
		rc = cudaMemcpyAsync(h->f, u->d.f, u->n * sizeof(T),       \
		                     cudaMemcpyDeviceToHost, u->stream);
	STATE_ARRAYS(DOWN)
#undef DOWN
	if (rc == cudaSuccess)
		rc = cudaMemcpyAsync(t_host, cur_t(u), u->n * sizeof(double),
		                     cudaMemcpyDeviceToHost, u->stream);
	if (rc == cudaSuccess)
		rc = cudaStreamSynchronize(u->stream);
	return rc == cudaSuccess ? 0 : -1;
}

extern "C" int ecu_download_h(struct ecu *u, double *h_host)
{
	cudaError_t rc = cudaMemcpyAsync(h_host, u->d.h, u->n * sizeof(double),
	                                 cudaMemcpyDeviceToHost, u->stream);
	if (rc == cudaSuccess)
		rc = cudaStreamSynchronize(u->stream);
	return rc == cudaSuccess ? 0 : -1;
}

static int stats(struct ecu *u, const double *t, struct bsm_stats *rstats)
{
	cudaError_t rc;
	k_module_stats<<<blocks(u->n_mod), BLOCK, 0, u->stream>>>(
		u->d_chem, u->d, t, u->C, u->n_mod, u->d_mstats);
	k_rack_stats<<<blocks(u->R), BLOCK, 0, u->stream>>>(
		u->d_mstats, u->M, u->C, u->R, u->d_rstats);
	rc = cudaMemcpyAsync(u->h_rstats, u->d_rstats,
	                     u->R * sizeof(struct bsm_stats),
	                     cudaMemcpyDeviceToHost, u->stream);
	if (rc == cudaSuccess)
		rc = cudaStreamSynchronize(u->stream);
	if (rc != cudaSuccess)
		return -1;
	memcpy(rstats, u->h_rstats, u->R * sizeof(struct bsm_stats));
	return 0;
}

extern "C" int ecu_prepare(struct ecu *u, const struct bsm_rack_in *rin,
                           struct bsm_stats *rstats)
{
	cudaError_t rc;
	memcpy(u->h_rin, rin, u->R * sizeof(*rin));
	rc = cudaMemcpyAsync(u->d_rin, u->h_rin, u->R * sizeof(*rin),
	                     cudaMemcpyHostToDevice, u->stream);
	if (rc != cudaSuccess)
		return -1;
	k_prepare<<<blocks(u->n), BLOCK, 0, u->stream>>>(u->d_chem, u->d,
	                                                 cur_t(u), u->d_rin,
	                                                 u->n);
	if (cudaGetLastError() != cudaSuccess)
		return -1;
	return stats(u, cur_t(u), rstats);
}

extern "C" int ecu_step(struct ecu *u, const struct bsm_rack_in *rin,
                        struct bsm_stats *rstats)
{
	double *tin = cur_t(u), *tout = u->tcur ? u->d.t_a : u->d.t_b;
	cudaError_t rc;
	memcpy(u->h_rin, rin, u->R * sizeof(*rin));
	rc = cudaMemcpyAsync(u->d_rin, u->h_rin, u->R * sizeof(*rin),
	                     cudaMemcpyHostToDevice, u->stream);
	if (rc != cudaSuccess)
		return -1;
	k_step<<<blocks(u->n), BLOCK, 0, u->stream>>>(u->d_chem, u->d, tin,
	                                              tout, u->d_rin, u->n);
	if (cudaGetLastError() != cudaSuccess)
		return -1;
	u->tcur ^= 1;
	return stats(u, tout, rstats);
}

extern "C" int ecu_records(struct ecu *u, const double *rack_i, float *dst)
{
	size_t bytes = u->n * 5 * sizeof(float);
	int direct = u->reg_base && (char *)dst >= u->reg_base &&
	             (char *)dst + bytes <= u->reg_base + u->reg_len;
	cudaError_t rc;
	memcpy(u->h_rack_i, rack_i, u->R * sizeof(double));
	rc = cudaMemcpyAsync(u->d_rack_i, u->h_rack_i, u->R * sizeof(double),
	                     cudaMemcpyHostToDevice, u->stream);
	if (rc != cudaSuccess)
		return -1;
	k_records<<<blocks(u->n), BLOCK, 0, u->stream>>>(
		u->d, cur_t(u), u->d_rack_i, u->n, u->M * u->C, u->d_rec);
	rc = cudaMemcpyAsync(direct ? (void *)dst : (void *)u->h_rec, u->d_rec,
	                     bytes, cudaMemcpyDeviceToHost, u->stream);
	if (rc == cudaSuccess)
		rc = cudaEventRecord(u->ev, u->stream);
	if (rc == cudaSuccess)
		rc = cudaEventSynchronize(u->ev);
	if (rc != cudaSuccess)
		return -1;
	if (!direct)
		memcpy(dst, u->h_rec, bytes);
	return 0;
}

extern "C" int ecu_get_cell(struct ecu *u, size_t i, double out[10])
{
	double *src[10] = {u->d.soc, u->d.soc_c, u->d.v, cur_t(u), u->d.r0,
	                   u->d.i1, u->d.i2, u->d.e, u->d.h, u->d.r1};
	for (int k = 0; k < 10; k++)
		if (cudaMemcpy(&out[k], src[k] + i, sizeof(double),
		               cudaMemcpyDeviceToHost) != cudaSuccess)
			return -1;
	return 0;
}

extern "C" int ecu_register_host(struct ecu *u, void *base, size_t len)
{
	cudaError_t rc;
	if (u->reg_base)
		ecu_unregister_host(u);
	rc = cudaHostRegister(base, len, cudaHostRegisterDefault);
	if (rc != cudaSuccess) {
		cudaGetLastError(); /* do not leave the error sticky */
		return -1;
	}
	u->reg_base = (char *)base;
	u->reg_len = len;
	return 0;
}

extern "C" void ecu_unregister_host(struct ecu *u)
{
	if (u->reg_base) {
		cudaHostUnregister(u->reg_base);
		u->reg_base = NULL;
		u->reg_len = 0;
	}
}

extern "C" struct ecu *ecu_create(const struct bsm_chem *chem, uint32_t racks,
                                  size_t n_cells,
                                  const struct bsm_arrays *h,
                                  const struct bsm_rack_in *rin, char *err,
                                  size_t errlen)
{
	struct ecu *u = (struct ecu *)calloc(1, sizeof(*u));
	cudaError_t rc;
	struct bsm_stats *tmp;
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->n = n_cells;
	u->R = racks;
	u->M = chem->modules_per_rack;
	u->C = chem->cells_per_module;
	u->n_mod = (size_t)racks * u->M;
	rc = cudaStreamCreateWithFlags(&u->stream, cudaStreamNonBlocking);
	if (rc == cudaSuccess)
		rc = cudaEventCreateWithFlags(&u->ev, cudaEventDisableTiming);
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_chem, sizeof(*chem));
#define ALLOC(f, T)                                                     \
	if (rc == cudaSuccess)                                           \
		rc = cudaMalloc(&u->d.f, n_cells * sizeof(T));
	STATE_ARRAYS(ALLOC)
	PARAM_ARRAYS(ALLOC)
	ALLOC(t_a, double)
	ALLOC(t_b, double)
#undef ALLOC
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_rec, n_cells * 5 * sizeof(float));
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_rin, racks * sizeof(struct bsm_rack_in));
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_mstats, u->n_mod * sizeof(struct bsm_stats));
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_rstats, racks * sizeof(struct bsm_stats));
	if (rc == cudaSuccess)
		rc = cudaMalloc(&u->d_rack_i, racks * sizeof(double));
	if (rc == cudaSuccess)
		rc = cudaMallocHost(&u->h_rin, racks * sizeof(struct bsm_rack_in));
	if (rc == cudaSuccess)
		rc = cudaMallocHost(&u->h_rstats, racks * sizeof(struct bsm_stats));
	if (rc == cudaSuccess)
		rc = cudaMallocHost(&u->h_rack_i, racks * sizeof(double));
	if (rc == cudaSuccess)
		rc = cudaMallocHost(&u->h_rec, n_cells * 5 * sizeof(float));
	if (rc != cudaSuccess) {
		seterr(err, errlen, "allocating the device state", rc);
		goto fail;
	}
	rc = cudaMemcpy(u->d_chem, chem, sizeof(*chem), cudaMemcpyHostToDevice);
#define UP(f, T)                                                        \
	if (rc == cudaSuccess)                                           \
		rc = cudaMemcpy(u->d.f, h->f, n_cells * sizeof(T),         \
		                cudaMemcpyHostToDevice);
	STATE_ARRAYS(UP)
	PARAM_ARRAYS(UP)
	UP(t_a, double)
	UP(t_b, double)
#undef UP
	/* cudaMemcpy from pageable memory may return before the DMA is
	 * done, and u->stream does not wait for the legacy stream */
	if (rc == cudaSuccess)
		rc = cudaDeviceSynchronize();
	if (rc != cudaSuccess) {
		seterr(err, errlen, "uploading the initial state", rc);
		goto fail;
	}
	/* a first prepare proves that a kernel image runs on this device */
	tmp = (struct bsm_stats *)calloc(racks, sizeof(*tmp));
	if (!tmp || ecu_prepare(u, rin, tmp) < 0) {
		rc = cudaGetLastError();
		if (rc == cudaSuccess)
			rc = cudaStreamSynchronize(u->stream);
		free(tmp);
		snprintf(err, errlen, "running the first kernel failed (%s): "
		         "is this GPU's architecture in --with-cuda-arch?",
		         rc == cudaSuccess ? "unknown error"
		                           : cudaGetErrorString(rc));
		goto fail;
	}
	free(tmp);
	return u;
fail:
	free_all(u);
	free(u);
	cudaGetLastError();
	return NULL;
}

extern "C" void ecu_destroy(struct ecu *u)
{
	if (!u)
		return;
	ecu_unregister_host(u);
	free_all(u);
	free(u);
}
