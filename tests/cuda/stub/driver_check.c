/* Exercises ag_cuda.c against fake_libcuda.c (see test_driver_stub.py). */
#include <stdio.h>
#include <string.h>

#include "ag_cuda.h"

static const unsigned char c70[] = "CUBIN-sm70", c80[] = "CUBIN-sm80", c86[] = "CUBIN-sm86";
static const int32_t sms[] = {70, 80, 86};
static const unsigned char *const cubins[] = {c70, c80, c86};
static const uint64_t sizes[] = {sizeof c70, sizeof c80, sizeof c86};
static ag_cu_image img = {"check", 3, sms, cubins, sizes, "PTX-compute90", 90, 0};

int main(void)
{
    ag_error err;
    memset(&err, 0, sizeof err);
    if (!ag_cu_available(&err)) { printf("unavailable: %s\n", err.message); return 0; }
    int *d = NULL, h = 41, back = 0;
    if (ag_cu_malloc((void **)&d, sizeof h, &err)) { printf("error %s\n", err.message); return 1; }
    h += 1;
    ag_cu_memcpy_htod(d, &h, sizeof h, &err);
    ag_cu_memcpy_dtoh(&back, d, sizeof back, &err);
    printf("roundtrip %d\n", back);
    const uint32_t grid[3] = {3, 1, 1}, block[3] = {64, 1, 1};
    void *args[] = {&back};
    for (int i = 0; i < 2; i++) ag_cu_launch(&img, "kern_a", grid, block, 0, args, &err);
    ag_cu_launch(&img, "kern_b", grid, block, 0, args, &err);
    int rc = ag_cu_launch(&img, "missing", grid, block, 0, args, &err);
    printf("missing rc %d: %s\n", rc, err.message);
    memset(&err, 0, sizeof err); /* the first error of a call wins: a new "call" */
    void *big = NULL;
    rc = ag_cu_malloc(&big, (size_t)1 << 33, &err);
    printf("big rc %d: %s\n", rc, err.message);
    ag_cu_free(d);
    return 0;
}
