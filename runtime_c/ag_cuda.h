/* ag_cuda.h: the CUDA side of aotgraph's runtime.
 *
 * Included by three kinds of code:
 *   - device code compiled by NVRTC (only the kernel-argument types below);
 *   - the generated host C of a module's cuda functions (launches, device
 *     memory), implemented by ag_cuda.c over a dlopen'ed libcuda;
 *   - the CPU emulation (ag_cuda_emul.h), which implements the same host API
 *     by running the very same kernel sources on CPU threads.
 *
 * Host API conventions: every call returns 0 or an ag_status code with
 * err->message naming the operation and, for driver errors, the CUDA error
 * name (cuGetErrorName), e.g. "CUDA_ERROR_OUT_OF_MEMORY".  Nothing aborts.
 */
#ifndef AG_CUDA_H
#define AG_CUDA_H

/* Threads per block of the 1-d kernels (a multiple of 32).  The emulation
 * builds with a smaller value; kernel and host code always agree because
 * they are compiled with the same definition. */
#ifndef AG_CU_THREADS
#define AG_CU_THREADS 256
#endif
/* Side of the square tiles of the GEMM kernel (block = TILE x TILE). */
#ifndef AG_CU_TILE
#define AG_CU_TILE 16
#endif
/* Upper bound of blocks of a grid-stride launch. */
#ifndef AG_CU_MAX_BLOCKS
#define AG_CU_MAX_BLOCKS 4096
#endif
/* Reductions with few outputs and at least this many elements each are
 * split over several blocks per output (then combined by a second kernel). */
#ifndef AG_CU_SPLIT_MIN
#define AG_CU_SPLIT_MIN 8192
#endif
#define AG_CU_MAXND 8  /* axes after coalescing */
#define AG_CU_MAXOPS 16 /* operands of one elementwise kernel (output included) */

#if defined(__CUDACC_RTC__)
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef unsigned long long uintptr_t;
#else
#include <stdint.h>
#endif

/* Index description passed by value to the kernels: a coalesced shape and
 * per-operand strides in elements (operand 0 is the output). */
typedef struct ag_cu_index {
    int64_t shape[AG_CU_MAXND];
    int64_t strides[AG_CU_MAXOPS][AG_CU_MAXND];
    int32_t ndim;
    int32_t contiguous; /* every operand is C-contiguous over the shape */
} ag_cu_index;

/* A reduction: kept axes (rows of the output) and reduced axes, each
 * coalesced, with per-operand strides.  Operand 0 is the output (its
 * reduced strides are 0). */
typedef struct ag_cu_reduce_index {
    int64_t keep_shape[AG_CU_MAXND];
    int64_t red_shape[AG_CU_MAXND];
    int64_t keep_strides[AG_CU_MAXOPS][AG_CU_MAXND];
    int64_t red_strides[AG_CU_MAXOPS][AG_CU_MAXND];
    int32_t keep_ndim;
    int32_t red_ndim;
    int64_t n_keep; /* output elements */
    int64_t n_red;  /* elements reduced into each */
} ag_cu_reduce_index;

/* A (batched) matrix product out = alpha * A @ B + beta * C: sizes, row and
 * column strides of each matrix (transposes folded in, 0 for broadcast),
 * and the batch axes with strides of out, A, B, C (operands 0..3). */
typedef struct ag_cu_gemm {
    int64_t m, n, k;
    int64_t sa[2], sb[2], so[2], sc[2];
    double alpha, beta;
    int64_t nbatch;
    ag_cu_index batch;
} ag_cu_gemm;

#if !defined(__CUDACC_RTC__) && !defined(__CUDACC__)
#include "ag_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One compiled kernel image set, embedded in the module: cubins per
 * architecture (sm = 10 * major + minor) plus PTX of the newest for JIT. */
typedef struct ag_cu_image {
    const char *module_name;
    int32_t n_cubins;
    const int32_t *cubin_sm;
    const unsigned char *const *cubin;
    const uint64_t *cubin_size;
    const char *ptx; /* NUL-terminated, may be NULL */
    int32_t ptx_sm;
    void *state; /* runtime-owned: per-device loaded modules */
} ag_cu_image;

/* Whether a usable driver and device exist (loads libcuda at first use). */
AG_EXPORT int ag_cu_available(ag_error *err);
/* Bind the calling thread to device `ordinal` (primary context). */
AG_EXPORT int ag_cu_set_device(int ordinal, ag_error *err);
AG_EXPORT int ag_cu_malloc(void **ptr, size_t nbytes, ag_error *err);
AG_EXPORT void ag_cu_free(void *ptr);
AG_EXPORT int ag_cu_memcpy_htod(void *dst, const void *src, size_t nbytes, ag_error *err);
AG_EXPORT int ag_cu_memcpy_dtoh(void *dst, const void *src, size_t nbytes, ag_error *err);
AG_EXPORT int ag_cu_memcpy_dtod(void *dst, const void *src, size_t nbytes, ag_error *err);
AG_EXPORT int ag_cu_memset0(void *dst, size_t nbytes, ag_error *err);
/* Wait for the current stream; reports errors of earlier launches. */
AG_EXPORT int ag_cu_synchronize(ag_error *err);
/* Launch `kernel` of `img` (module loaded once per device, under a lock):
 * args[i] points at the i-th kernel parameter, as cuLaunchKernel wants. */
AG_EXPORT int ag_cu_launch(ag_cu_image *img, const char *kernel, const uint32_t grid[3],
                           const uint32_t block[3], uint32_t shared_bytes, void **args,
                           ag_error *err);

/* ---- host helpers of the generated launch code --------------------------- */

/* Blocks of a grid-stride launch over n items. */
static inline uint32_t ag_cu_blocks(int64_t n, int64_t per_block)
{
    int64_t b = (n + per_block - 1) / per_block;
    if (b < 1) b = 1;
    return (uint32_t)(b > AG_CU_MAX_BLOCKS ? AG_CU_MAX_BLOCKS : b);
}

/* Fill an elementwise index from the output and operands (aligned with
 * numpy broadcasting, then coalesced).  -1 when too many axes remain. */
static inline int ag_cu_fill_index(ag_cu_index *ix, int nops, const ag_buffer *const *ops)
{
    int64_t shape[AG_MAX_NDIM], st[AG_CU_MAXOPS][AG_MAX_NDIM];
    int nd = ops[0]->ndim;
    for (int d = 0; d < nd; d++) shape[d] = ops[0]->shape[d];
    for (int k = 0; k < nops; k++) {
        int lead = nd - ops[k]->ndim;
        for (int d = 0; d < nd; d++) {
            int64_t len = d < lead ? 1 : ops[k]->shape[d - lead];
            st[k][d] = len == 1 ? 0 : ops[k]->strides[d - lead];
        }
    }
    int m = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        int merge = m > 0;
        for (int k = 0; k < nops && merge; k++) merge = st[k][m - 1] == st[k][d] * shape[d];
        if (merge) {
            shape[m - 1] *= shape[d];
            for (int k = 0; k < nops; k++) st[k][m - 1] = st[k][d];
            continue;
        }
        shape[m] = shape[d];
        for (int k = 0; k < nops; k++) st[k][m] = st[k][d];
        m++;
    }
    if (m > AG_CU_MAXND) return -1;
    ix->ndim = m;
    ix->contiguous = m <= 1;
    for (int d = 0; d < m; d++) {
        ix->shape[d] = shape[d];
        for (int k = 0; k < nops; k++) {
            ix->strides[k][d] = st[k][d];
            if (d == m - 1 && st[k][d] != 1) ix->contiguous = 0;
        }
    }
    return 0;
}

/* Split an input-shaped iteration into kept and reduced axes: `red` flags
 * the reduced axes of ops[1]'s rank; ops[0] (the output) is indexed by the
 * kept axes only when `out_keepdims` is 0.  -1 when too many axes remain. */
static inline int ag_cu_fill_reduce(ag_cu_reduce_index *rx, int nops, const ag_buffer *const *ops,
                                    const ag_buffer *full, const uint8_t *red)
{
    int nd = full->ndim, nk = 0, nr = 0;
    rx->n_keep = 1;
    rx->n_red = 1;
    for (int d = 0; d < nd; d++) {
        int64_t len = full->shape[d];
        int r = red[d];
        if (len == 1) continue;
        if ((r ? nr : nk) >= AG_CU_MAXND) return -1;
        int slot = r ? nr++ : nk++;
        (r ? rx->red_shape : rx->keep_shape)[slot] = len;
        for (int k = 0; k < nops; k++) {
            int lead = nd - ops[k]->ndim;
            int64_t s = 0;
            if (k > 0 && d >= lead && ops[k]->shape[d - lead] != 1) s = ops[k]->strides[d - lead];
            (r ? rx->red_strides : rx->keep_strides)[k][slot] = s;
        }
        if (r) rx->n_red *= len; else rx->n_keep *= len;
    }
    /* the output is C-contiguous over the kept axes */
    int64_t s = 1;
    for (int d = nk - 1; d >= 0; d--) {
        rx->keep_strides[0][d] = s;
        s *= rx->keep_shape[d];
    }
    for (int d = 0; d < nr; d++) rx->red_strides[0][d] = 0;
    rx->keep_ndim = nk;
    rx->red_ndim = nr;
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* host */
#endif /* AG_CUDA_H */
