/* ag_cuda_emul.h: run aotgraph's CUDA kernel sources on the CPU.
 *
 * Include this first in a C++ translation unit holding the same kernel
 * source NVRTC compiles (aotgraph's device preamble + kernels), and compile
 * it with the host C++ compiler (g++ -std=c++17 -pthread).  It provides:
 *
 *   - the CUDA keywords (__global__, __device__, __shared__, ...) and the
 *     built-in variables threadIdx, blockIdx, blockDim, gridDim, per thread;
 *   - a launch that runs every thread of a block as its own pthread, the
 *     blocks one after another (each thread walks the blocks in order, with a
 *     block barrier in between), so __syncthreads() is a real barrier and
 *     __shared__ arrays (function statics) are shared by the block;
 *   - warp shuffles (__shfl_sync, __shfl_down_sync, __shfl_xor_sync) through a
 *     per-warp exchange buffer between two per-warp barriers: all 32 lanes of
 *     a warp (or all threads of a partial last warp) must call them together,
 *     as CUDA requires for a full mask;
 *   - atomics (atomicAdd/Or/Max/Min/CAS) through GCC __atomic built-ins;
 *   - the host API of ag_cuda.h (ag_cu_malloc is malloc, ag_cu_launch looks the
 *     kernel up in the table the TU defines, see AG_CU_EMU_TABLE below).
 *
 * One translation unit defines AG_CU_EMU_IMPLEMENT before including it and
 * defines the table
 *     extern "C" const ag_cu_emu_kernel ag_cu_emu_table[];
 *     extern "C" const int ag_cu_emu_count;
 * mapping kernel names to trampolines `void f(void **args)`.  Launches are
 * serialized by a mutex (kernels' __shared__ statics are per kernel, not
 * per launch).  Block size is limited only by the number of threads the
 * system allows: keep blocks small (AG_CU_THREADS=64, AG_CU_TILE=8).
 */
#ifndef AG_CUDA_EMUL_H
#define AG_CUDA_EMUL_H

#ifndef __cplusplus
#error "ag_cuda_emul.h: compile the kernels as C++ (g++ -std=c++17 -pthread)"
#endif

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ag_cuda.h"

#define AG_CUDA_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __launch_bounds__(...)

struct ag_emu_dim3 {
    unsigned x, y, z;
};

struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};

struct ag_emu_warp {
    pthread_barrier_t barrier;
    uint64_t slots[32];
};

struct ag_emu_thread_state {
    ag_emu_dim3 thread, block, bdim, gdim;
    pthread_barrier_t *block_barrier;
    ag_emu_warp *warp;
};

extern thread_local ag_emu_thread_state ag_emu_tls;

#define threadIdx (ag_emu_tls.thread)
#define blockIdx (ag_emu_tls.block)
#define blockDim (ag_emu_tls.bdim)
#define gridDim (ag_emu_tls.gdim)
#define warpSize 32

static inline void __syncthreads(void) { pthread_barrier_wait(ag_emu_tls.block_barrier); }
static inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    (void)mask;
    pthread_barrier_wait(&ag_emu_tls.warp->barrier);
}

static inline unsigned ag_emu_lane(void)
{
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    return t % 32u;
}

/* Every lane publishes its value, then reads lane `src` (its own value
 * when src is out of range, as CUDA does for shfl_down past the end). */
template <class T> static inline T ag_emu_exchange(T v, int src)
{
    ag_emu_warp *w = ag_emu_tls.warp;
    unsigned lane = ag_emu_lane();
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    w->slots[lane] = bits;
    pthread_barrier_wait(&w->barrier);
    T out = v;
    if (src >= 0 && src < 32) memcpy(&out, &w->slots[src], sizeof(T));
    pthread_barrier_wait(&w->barrier);
    return out;
}

template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32)
{
    (void)mask;
    int lane = (int)ag_emu_lane();
    return ag_emu_exchange(v, (lane / width) * width + src % width);
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32)
{
    (void)mask;
    int lane = (int)ag_emu_lane();
    int src = lane + (int)d;
    return ag_emu_exchange(v, src / width == lane / width ? src : -1);
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32)
{
    (void)mask;
    int lane = (int)ag_emu_lane();
    return ag_emu_exchange(v, lane ^ m);
    (void)width;
}

template <class T> static inline T atomicAdd(T *p, T v)
{
    T old = *p, want;
    do {
        want = old + v;
    } while (!__atomic_compare_exchange(p, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
template <class T> static inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
template <class T> static inline T atomicMax(T *p, T v)
{
    T old = *p;
    while (old < v && !__atomic_compare_exchange(p, &old, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <class T> static inline T atomicMin(T *p, T v)
{
    T old = *p;
    while (old > v && !__atomic_compare_exchange(p, &old, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <class T> static inline T atomicCAS(T *p, T cmp, T v)
{
    __atomic_compare_exchange(p, &cmp, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}

typedef struct ag_cu_emu_kernel {
    const char *name;
    void (*fn)(void **args);
} ag_cu_emu_kernel;

extern "C" const ag_cu_emu_kernel ag_cu_emu_table[];
extern "C" const int ag_cu_emu_count;

#ifdef AG_CU_EMU_IMPLEMENT
thread_local ag_emu_thread_state ag_emu_tls;

namespace {

struct ag_emu_launch {
    void (*fn)(void **);
    void **args;
    ag_emu_dim3 grid, block;
    pthread_barrier_t block_barrier;
    ag_emu_warp *warps;
    pthread_mutex_t gate_lock;
    pthread_cond_t gate;
    int gate_state; /* 0 wait, 1 run, -1 give up (not all threads started) */
};

struct ag_emu_thread_arg {
    ag_emu_launch *launch;
    unsigned linear;
};

void *ag_emu_thread_main(void *p)
{
    ag_emu_thread_arg *a = (ag_emu_thread_arg *)p;
    ag_emu_launch *l = a->launch;
    unsigned t = a->linear;
    pthread_mutex_lock(&l->gate_lock);
    while (l->gate_state == 0) pthread_cond_wait(&l->gate, &l->gate_lock);
    int go = l->gate_state > 0;
    pthread_mutex_unlock(&l->gate_lock);
    if (!go) return NULL;
    ag_emu_tls.bdim = l->block;
    ag_emu_tls.gdim = l->grid;
    ag_emu_tls.thread = {t % l->block.x, (t / l->block.x) % l->block.y,
                         t / (l->block.x * l->block.y)};
    ag_emu_tls.block_barrier = &l->block_barrier;
    ag_emu_tls.warp = &l->warps[t / 32];
    for (unsigned z = 0; z < l->grid.z; z++)
        for (unsigned y = 0; y < l->grid.y; y++)
            for (unsigned x = 0; x < l->grid.x; x++) {
                ag_emu_tls.block = {x, y, z};
                l->fn(l->args);
                /* the next block may reuse __shared__ memory */
                pthread_barrier_wait(&l->block_barrier);
            }
    return NULL;
}

pthread_mutex_t ag_emu_lock = PTHREAD_MUTEX_INITIALIZER;

}  // namespace

static int ag_emu_run(void (*fn)(void **), const uint32_t grid[3], const uint32_t block[3],
                      void **args, ag_error *err)
{
    unsigned n = block[0] * block[1] * block[2];
    if (n == 0 || n > 1024 || grid[0] == 0 || grid[1] == 0 || grid[2] == 0)
        return ag_fail(err, AG_ERR_RUNTIME, "CUDA emulation: invalid launch (grid %u x %u x %u, "
                       "block %u x %u x %u) [CUDA_ERROR_INVALID_VALUE]", grid[0], grid[1], grid[2],
                       block[0], block[1], block[2]);
    ag_emu_launch l;
    l.fn = fn;
    l.args = args;
    l.grid = {grid[0], grid[1], grid[2]};
    l.block = {block[0], block[1], block[2]};
    unsigned nwarps = (n + 31) / 32;
    l.warps = new ag_emu_warp[nwarps];
    for (unsigned w = 0; w < nwarps; w++) {
        unsigned lanes = (w + 1) * 32 <= n ? 32 : n - w * 32;
        pthread_barrier_init(&l.warps[w].barrier, NULL, lanes);
    }
    pthread_barrier_init(&l.block_barrier, NULL, n);
    pthread_mutex_init(&l.gate_lock, NULL);
    pthread_cond_init(&l.gate, NULL);
    l.gate_state = 0;
    pthread_t *threads = new pthread_t[n];
    ag_emu_thread_arg *targs = new ag_emu_thread_arg[n];
    unsigned started = 0;
    int rc = 0;
    for (; started < n; started++) {
        targs[started] = {&l, started};
        if (pthread_create(&threads[started], NULL, ag_emu_thread_main, &targs[started]) != 0) {
            rc = ag_fail(err, AG_ERR_RUNTIME, "CUDA emulation: cannot start %u threads", n);
            break;
        }
    }
    /* run only when every thread of the block exists (else the barriers
       would wait forever): threads started so far leave at once */
    pthread_mutex_lock(&l.gate_lock);
    l.gate_state = rc ? -1 : 1;
    pthread_cond_broadcast(&l.gate);
    pthread_mutex_unlock(&l.gate_lock);
    for (unsigned i = 0; i < started; i++) pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&l.gate_lock);
    pthread_cond_destroy(&l.gate);
    pthread_barrier_destroy(&l.block_barrier);
    for (unsigned w = 0; w < nwarps; w++) pthread_barrier_destroy(&l.warps[w].barrier);
    delete[] threads;
    delete[] targs;
    delete[] l.warps;
    return rc;
}

extern "C" {

int ag_cu_available(ag_error *err)
{
    (void)err;
    return 1;
}
int ag_cu_set_device(int ordinal, ag_error *err)
{
    (void)ordinal;
    (void)err;
    return 0;
}
int ag_cu_malloc(void **ptr, size_t nbytes, ag_error *err)
{
    *ptr = calloc(1, nbytes ? nbytes : 1);
    return *ptr ? 0 : ag_fail(err, AG_ERR_MEMORY, "CUDA emulation: out of memory "
                              "[CUDA_ERROR_OUT_OF_MEMORY]");
}
void ag_cu_free(void *ptr) { free(ptr); }
int ag_cu_memcpy_htod(void *dst, const void *src, size_t n, ag_error *err)
{
    (void)err;
    if (n) memcpy(dst, src, n);
    return 0;
}
int ag_cu_memcpy_dtoh(void *dst, const void *src, size_t n, ag_error *err)
{
    (void)err;
    if (n) memcpy(dst, src, n);
    return 0;
}
int ag_cu_memcpy_dtod(void *dst, const void *src, size_t n, ag_error *err)
{
    (void)err;
    if (n) memmove(dst, src, n);
    return 0;
}
int ag_cu_memset0(void *dst, size_t n, ag_error *err)
{
    (void)err;
    if (n) memset(dst, 0, n);
    return 0;
}
int ag_cu_synchronize(ag_error *err)
{
    (void)err;
    return 0;
}
int ag_cu_launch(ag_cu_image *img, const char *kernel, const uint32_t grid[3],
                 const uint32_t block[3], uint32_t shared_bytes, void **args, ag_error *err)
{
    (void)img;
    (void)shared_bytes;
    for (int i = 0; i < ag_cu_emu_count; i++) {
        if (strcmp(ag_cu_emu_table[i].name, kernel) == 0) {
            pthread_mutex_lock(&ag_emu_lock);
            int rc = ag_emu_run(ag_cu_emu_table[i].fn, grid, block, args, err);
            pthread_mutex_unlock(&ag_emu_lock);
            return rc;
        }
    }
    return ag_fail(err, AG_ERR_RUNTIME, "CUDA emulation: no kernel named %s "
                   "[CUDA_ERROR_NOT_FOUND]", kernel);
}

}  /* extern "C" */
#endif /* AG_CU_EMU_IMPLEMENT */
#endif /* AG_CUDA_EMUL_H */
