/* A stand-in libcuda.so.1 for testing runtime_c/ag_cuda.c without a GPU:
 * device memory is host memory, "modules" are the image bytes, launches
 * are logged to stdout.  STUB_SM sets the compute capability (e.g. 86),
 * STUB_FAIL_INIT=1 makes cuInit fail, allocations above 1 GiB fail with
 * CUDA_ERROR_OUT_OF_MEMORY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
static int loads;

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v ? atoi(v) : dflt;
}
CUresult cuInit(unsigned f) { (void)f; return env_int("STUB_FAIL_INIT", 0) ? 100 : 0; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int o) { *d = o; return o == 0 ? 0 : 101; }
CUresult cuDeviceGetAttribute(int *v, int attr, int dev)
{
    (void)dev;
    int sm = env_int("STUB_SM", 80);
    *v = attr == 75 ? sm / 10 : sm % 10;
    return 0;
}
static int ctx_token, current;
CUresult cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = &ctx_token; return 0; }
CUresult cuCtxSetCurrent(void *c) { current = c != NULL; return 0; }
CUresult cuCtxGetCurrent(void **c) { *c = current ? &ctx_token : NULL; return 0; }
CUresult cuCtxGetDevice(int *d) { *d = 0; return 0; }
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *o, void **v)
{
    (void)n; (void)o; (void)v;
    loads++;
    printf("load %d %.12s\n", loads, (const char *)image);
    *m = (void *)image;
    return 0;
}
CUresult cuModuleGetFunction(void **f, void *m, const char *name)
{
    (void)m;
    if (strcmp(name, "missing") == 0) return 500; /* CUDA_ERROR_NOT_FOUND */
    *f = strdup(name);
    return 0;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned sh, void *s, void **args, void **extra)
{
    (void)gy; (void)gz; (void)by; (void)bz; (void)sh; (void)s; (void)extra;
    printf("launch %s grid %u block %u arg0 %d\n", (const char *)f, gx, bx, *(int *)args[0]);
    return 0;
}
CUresult cuMemAlloc_v2(unsigned long long *p, size_t n)
{
    if (n > ((size_t)1 << 30)) return 2;
    *p = (unsigned long long)(size_t)malloc(n);
    return 0;
}
CUresult cuMemFree_v2(unsigned long long p) { free((void *)(size_t)p); return 0; }
CUresult cuMemcpyHtoD_v2(unsigned long long d, const void *s, size_t n) { memcpy((void *)(size_t)d, s, n); return 0; }
CUresult cuMemcpyDtoH_v2(void *d, unsigned long long s, size_t n) { memcpy(d, (void *)(size_t)s, n); return 0; }
CUresult cuMemcpyDtoD_v2(unsigned long long d, unsigned long long s, size_t n) { memmove((void *)(size_t)d, (void *)(size_t)s, n); return 0; }
CUresult cuMemsetD8_v2(unsigned long long d, unsigned char c, size_t n) { memset((void *)(size_t)d, c, n); return 0; }
CUresult cuGetErrorName(CUresult rc, const char **s)
{
    *s = rc == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : rc == 100 ? "CUDA_ERROR_NO_DEVICE"
       : rc == 500 ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_UNKNOWN";
    return 0;
}
CUresult cuGetErrorString(CUresult rc, const char **s) { (void)rc; *s = "stub description"; return 0; }
