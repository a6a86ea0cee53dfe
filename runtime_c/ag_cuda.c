/* ag_cuda.c: the CUDA driver side of aotgraph's runtime (see ag_cuda.h).
 *
 * libcuda is never linked: it is dlopen'ed at first use, so a module built
 * with cuda functions imports and runs its cpu functions on machines with
 * no GPU and no driver; a cuda call there fails with a message saying so.
 * Kernel images (cubins per sm plus PTX) are loaded once per device, under
 * the image's lock: the cubin of the highest sm <= the device's with the
 * same major version, else the PTX (JIT by the driver) when it is not newer
 * than the device.  Every driver error becomes an ag_error naming the call
 * and the CUDA error name (cuGetErrorName).
 *
 * Nothing here has run on a GPU in aotgraph's CI (no machine has one): it
 * follows the CUDA Driver API reference; benchmarks/gpu_check.py is the
 * check to run on a machine with a GPU.
 */
#include "ag_cuda.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AG_CU_MAX_DEVICES 64
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_JIT_ERROR_LOG_BUFFER 5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

static struct {
    void *lib;
    char why[256];
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDeviceGetCount)(int *);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxGetCurrent)(CUcontext *);
    CUresult (*cuCtxGetDevice)(CUdevice *);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
    CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*cuGetErrorName)(CUresult, const char **);
    CUresult (*cuGetErrorString)(CUresult, const char **);
} cu;

static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static int cu_ok;

#define AG_CU_SYM(name, versioned)                                                   \
    do {                                                                             \
        *(void **)&cu.name = dlsym(cu.lib, versioned);                               \
        if (!cu.name) {                                                              \
            snprintf(cu.why, sizeof cu.why, "libcuda.so.1 has no symbol %s (driver too " \
                     "old?)", versioned);                                            \
            return;                                                                  \
        }                                                                            \
    } while (0)

static void cu_load(void)
{
    cu.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cu.lib) {
        const char *e = dlerror();
        snprintf(cu.why, sizeof cu.why, "the NVIDIA driver library libcuda.so.1 could not be "
                 "loaded (%s): install the NVIDIA driver or call the cpu functions",
                 e ? e : "not found");
        return;
    }
    AG_CU_SYM(cuInit, "cuInit");
    AG_CU_SYM(cuDeviceGetCount, "cuDeviceGetCount");
    AG_CU_SYM(cuDeviceGet, "cuDeviceGet");
    AG_CU_SYM(cuDeviceGetAttribute, "cuDeviceGetAttribute");
    AG_CU_SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    AG_CU_SYM(cuCtxSetCurrent, "cuCtxSetCurrent");
    AG_CU_SYM(cuCtxGetCurrent, "cuCtxGetCurrent");
    AG_CU_SYM(cuCtxGetDevice, "cuCtxGetDevice");
    AG_CU_SYM(cuCtxSynchronize, "cuCtxSynchronize");
    AG_CU_SYM(cuModuleLoadDataEx, "cuModuleLoadDataEx");
    AG_CU_SYM(cuModuleGetFunction, "cuModuleGetFunction");
    AG_CU_SYM(cuLaunchKernel, "cuLaunchKernel");
    AG_CU_SYM(cuMemAlloc, "cuMemAlloc_v2");
    AG_CU_SYM(cuMemFree, "cuMemFree_v2");
    AG_CU_SYM(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
    AG_CU_SYM(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
    AG_CU_SYM(cuMemcpyDtoD, "cuMemcpyDtoD_v2");
    AG_CU_SYM(cuMemsetD8, "cuMemsetD8_v2");
    AG_CU_SYM(cuGetErrorName, "cuGetErrorName");
    AG_CU_SYM(cuGetErrorString, "cuGetErrorString");
    CUresult rc = cu.cuInit(0);
    if (rc != 0) {
        const char *name = "?";
        cu.cuGetErrorName(rc, &name);
        snprintf(cu.why, sizeof cu.why, "cuInit failed with %s (%d): no usable NVIDIA GPU",
                 name ? name : "?", rc);
        return;
    }
    cu_ok = 1;
}

/* Record a driver error: "<what>: <CUDA_ERROR_NAME> (<code>): <description>". */
static int cu_fail(ag_error *err, CUresult rc, const char *what)
{
    const char *name = NULL, *text = NULL;
    if (cu.cuGetErrorName) cu.cuGetErrorName(rc, &name);
    if (cu.cuGetErrorString) cu.cuGetErrorString(rc, &text);
    int code = rc == 2 /* CUDA_ERROR_OUT_OF_MEMORY */ ? AG_ERR_MEMORY : AG_ERR_RUNTIME;
    return ag_fail(err, code, "%s failed: %s (%d): %s", what, name ? name : "CUDA_ERROR_UNKNOWN",
                   rc, text ? text : "unknown error");
}

int ag_cu_available(ag_error *err)
{
    pthread_once(&cu_once, cu_load);
    if (!cu_ok) {
        ag_fail(err, AG_ERR_RUNTIME, "CUDA is not available: %s", cu.why);
        return 0;
    }
    int n = 0;
    CUresult rc = cu.cuDeviceGetCount(&n);
    if (rc != 0) {
        cu_fail(err, rc, "cuDeviceGetCount");
        return 0;
    }
    if (n == 0) {
        ag_fail(err, AG_ERR_RUNTIME, "CUDA is not available: the driver reports no GPU");
        return 0;
    }
    return 1;
}

/* Make sure a context is current (device 0's primary context by default). */
static int cu_ready(ag_error *err)
{
    if (!ag_cu_available(err)) return AG_ERR_RUNTIME;
    CUcontext ctx = NULL;
    CUresult rc = cu.cuCtxGetCurrent(&ctx);
    if (rc != 0) return cu_fail(err, rc, "cuCtxGetCurrent");
    return ctx ? 0 : ag_cu_set_device(0, err);
}

int ag_cu_set_device(int ordinal, ag_error *err)
{
    if (!ag_cu_available(err)) return AG_ERR_RUNTIME;
    CUdevice dev;
    CUcontext ctx;
    CUresult rc = cu.cuDeviceGet(&dev, ordinal);
    if (rc != 0) return cu_fail(err, rc, "cuDeviceGet");
    rc = cu.cuDevicePrimaryCtxRetain(&ctx, dev);
    if (rc != 0) return cu_fail(err, rc, "cuDevicePrimaryCtxRetain");
    rc = cu.cuCtxSetCurrent(ctx);
    return rc ? cu_fail(err, rc, "cuCtxSetCurrent") : 0;
}

int ag_cu_malloc(void **ptr, size_t nbytes, ag_error *err)
{
    int rc0 = cu_ready(err);
    if (rc0) return rc0;
    CUdeviceptr p = 0;
    CUresult rc = cu.cuMemAlloc(&p, nbytes ? nbytes : 1);
    if (rc != 0) return cu_fail(err, rc, "cuMemAlloc");
    *ptr = (void *)(uintptr_t)p;
    return 0;
}

void ag_cu_free(void *ptr)
{
    if (ptr && cu_ok) cu.cuMemFree((CUdeviceptr)(uintptr_t)ptr);
}

int ag_cu_memcpy_htod(void *dst, const void *src, size_t n, ag_error *err)
{
    int rc0 = n ? cu_ready(err) : 0;
    if (rc0 || !n) return rc0;
    CUresult rc = cu.cuMemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, n);
    return rc ? cu_fail(err, rc, "cuMemcpyHtoD") : 0;
}

int ag_cu_memcpy_dtoh(void *dst, const void *src, size_t n, ag_error *err)
{
    int rc0 = n ? cu_ready(err) : 0;
    if (rc0 || !n) return rc0;
    CUresult rc = cu.cuMemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, n);
    return rc ? cu_fail(err, rc, "cuMemcpyDtoH") : 0;
}

int ag_cu_memcpy_dtod(void *dst, const void *src, size_t n, ag_error *err)
{
    int rc0 = n ? cu_ready(err) : 0;
    if (rc0 || !n) return rc0;
    CUresult rc = cu.cuMemcpyDtoD((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, n);
    return rc ? cu_fail(err, rc, "cuMemcpyDtoD") : 0;
}

int ag_cu_memset0(void *dst, size_t n, ag_error *err)
{
    int rc0 = n ? cu_ready(err) : 0;
    if (rc0 || !n) return rc0;
    CUresult rc = cu.cuMemsetD8((CUdeviceptr)(uintptr_t)dst, 0, n);
    return rc ? cu_fail(err, rc, "cuMemsetD8") : 0;
}

int ag_cu_synchronize(ag_error *err)
{
    int rc0 = cu_ready(err);
    if (rc0) return rc0;
    CUresult rc = cu.cuCtxSynchronize();
    return rc ? cu_fail(err, rc, "cuCtxSynchronize (an earlier kernel failed)") : 0;
}

/* ---- images: loaded once per device ------------------------------------ */

typedef struct cu_kernel_slot {
    char name[96];
    CUfunction fn;
} cu_kernel_slot;

typedef struct cu_image_state {
    pthread_mutex_t lock;
    CUmodule module[AG_CU_MAX_DEVICES];
    cu_kernel_slot *kernels[AG_CU_MAX_DEVICES];
    int n_kernels[AG_CU_MAX_DEVICES];
} cu_image_state;

static pthread_mutex_t cu_state_lock = PTHREAD_MUTEX_INITIALIZER;

static cu_image_state *cu_state(ag_cu_image *img)
{
    pthread_mutex_lock(&cu_state_lock);
    if (!img->state) {
        cu_image_state *s = (cu_image_state *)calloc(1, sizeof *s);
        if (s) {
            pthread_mutex_init(&s->lock, NULL);
            img->state = s;
        }
    }
    pthread_mutex_unlock(&cu_state_lock);
    return (cu_image_state *)img->state;
}

/* The cubin for compute capability `sm` (same major, highest minor <= sm),
 * or NULL (then PTX, if it is not newer than the device). */
static const unsigned char *cu_pick_cubin(const ag_cu_image *img, int sm)
{
    int best = -1;
    for (int i = 0; i < img->n_cubins; i++) {
        int c = img->cubin_sm[i];
        if (c / 10 == sm / 10 && c <= sm && (best < 0 || c > img->cubin_sm[best])) best = i;
    }
    return best < 0 ? NULL : img->cubin[best];
}

static int cu_load_module(ag_cu_image *img, CUdevice dev, CUmodule *out, ag_error *err)
{
    int major = 0, minor = 0;
    CUresult rc = cu.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    if (!rc) rc = cu.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    if (rc) return cu_fail(err, rc, "cuDeviceGetAttribute");
    int sm = 10 * major + minor;
    const void *image = cu_pick_cubin(img, sm);
    if (!image) {
        if (!img->ptx || img->ptx_sm > sm)
            return ag_fail(err, AG_ERR_RUNTIME, "%s: no CUDA kernels for this GPU (sm_%d): the "
                           "module has cubins for older architectures and PTX for compute_%d; "
                           "rebuild it with this architecture", img->module_name, sm, img->ptx_sm);
        image = img->ptx;
    }
    char log[2048] = {0};
    int opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[2] = {log, (void *)(uintptr_t)sizeof log};
    rc = cu.cuModuleLoadDataEx(out, image, 2, opts, vals);
    if (rc) {
        cu_fail(err, rc, "cuModuleLoadDataEx");
        if (log[0]) {
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof err->message - used, " (JIT log: %s)", log);
        }
        return err->code;
    }
    return 0;
}

static int cu_find_kernel(ag_cu_image *img, const char *name, CUfunction *fn, ag_error *err)
{
    cu_image_state *s = cu_state(img);
    if (!s) return ag_fail(err, AG_ERR_MEMORY, "out of memory loading CUDA kernels");
    CUdevice dev;
    CUresult rc = cu.cuCtxGetDevice(&dev);
    if (rc) return cu_fail(err, rc, "cuCtxGetDevice");
    if (dev < 0 || dev >= AG_CU_MAX_DEVICES)
        return ag_fail(err, AG_ERR_RUNTIME, "CUDA device %d: at most %d devices are supported",
                       dev, AG_CU_MAX_DEVICES);
    int status = 0;
    pthread_mutex_lock(&s->lock);
    if (!s->module[dev]) status = cu_load_module(img, dev, &s->module[dev], err);
    for (int i = 0; !status && i < s->n_kernels[dev]; i++) {
        if (strcmp(s->kernels[dev][i].name, name) == 0) {
            *fn = s->kernels[dev][i].fn;
            pthread_mutex_unlock(&s->lock);
            return 0;
        }
    }
    if (!status) {
        rc = cu.cuModuleGetFunction(fn, s->module[dev], name);
        if (rc) status = cu_fail(err, rc, "cuModuleGetFunction");
    }
    if (!status && strlen(name) < sizeof s->kernels[dev][0].name) {
        int n = s->n_kernels[dev];
        cu_kernel_slot *grown = (cu_kernel_slot *)realloc(s->kernels[dev], (n + 1) * sizeof *grown);
        if (grown) {
            snprintf(grown[n].name, sizeof grown[n].name, "%s", name);
            grown[n].fn = *fn;
            s->kernels[dev] = grown;
            s->n_kernels[dev] = n + 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

int ag_cu_launch(ag_cu_image *img, const char *kernel, const uint32_t grid[3],
                 const uint32_t block[3], uint32_t shared_bytes, void **args, ag_error *err)
{
    int rc0 = cu_ready(err);
    if (rc0) return rc0;
    CUfunction fn = NULL;
    rc0 = cu_find_kernel(img, kernel, &fn, err);
    if (rc0) return rc0;
    CUresult rc = cu.cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                    shared_bytes, NULL, args, NULL);
    if (rc) {
        char what[160];
        snprintf(what, sizeof what, "cuLaunchKernel(%s)", kernel);
        return cu_fail(err, rc, what);
    }
    return 0;
}
