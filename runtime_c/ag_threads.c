/* ag_threads.c: how many threads one call may use. */
#include "ag_runtime.h"

#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int requested_threads; /* 0: the default */
static int cached_default;     /* 0: not computed yet (a benign race computes it twice) */

static int compute_default(void)
{
    const char *env = getenv("AOTGRAPH_NUM_THREADS");
    if (env != NULL) {
        int n = atoi(env);
        if (n > 0)
            return n;
    }
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void ag_set_num_threads(int n)
{
    __atomic_store_n(&requested_threads, n > 0 ? n : 0, __ATOMIC_RELAXED);
}

static int default_threads(void)
{
    int n = __atomic_load_n(&cached_default, __ATOMIC_RELAXED);
    if (n <= 0) {
        n = compute_default();
        __atomic_store_n(&cached_default, n, __ATOMIC_RELAXED);
    }
    return n;
}

int ag_get_num_threads(void)
{
    int n = __atomic_load_n(&requested_threads, __ATOMIC_RELAXED);
    return n > 0 ? n : default_threads();
}
