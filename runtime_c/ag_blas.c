/* ag_blas.c: run-time loaded CBLAS with a portable built-in fallback.
 * See ag_blas.h for the interface. */
#include "ag_blas.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifndef AG_BLAS_NONE
#include <dlfcn.h>
#endif

/* CBLAS enum values (cblas.h) */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*ag_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                            const float *, int, float, float *, int);
typedef void (*ag_dgemm_fn)(int, int, int, int, int, int, double, const double *, int,
                            const double *, int, double, double *, int);
typedef void (*ag_set_threads_fn)(int);

static ag_sgemm_fn ag_blas_sgemm_ptr;
static ag_dgemm_fn ag_blas_dgemm_ptr;
static ag_set_threads_fn ag_blas_threads_ptr;

int ag_blas_load(const char *path, ag_error *err)
{
#ifdef AG_BLAS_NONE
    (void)path;
    (void)err;
    return AG_OK;
#else
    static const char *names[] = {"", "/libscipy_openblas.so", "/libscipy_openblas.dylib"};
    char full[4096];
    void *lib = NULL;
    if (path == NULL || !*path)
        return ag_fail(err, AG_ERR_RUNTIME, "ag_blas_load: no library path given");
    for (size_t i = 0; i < sizeof names / sizeof *names && !lib; i++) {
        if (strlen(path) + strlen(names[i]) >= sizeof full) break;
        strcpy(full, path);
        strcat(full, names[i]);
        lib = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    }
    if (!lib)
        return ag_fail(err, AG_ERR_RUNTIME,
                       "ag_blas_load: cannot open a BLAS library at '%s' (expected the "
                       "scipy-openblas32 library or its directory)", path);
    ag_sgemm_fn s = (ag_sgemm_fn)dlsym(lib, "scipy_cblas_sgemm");
    ag_dgemm_fn d = (ag_dgemm_fn)dlsym(lib, "scipy_cblas_dgemm");
    if (!s || !d) {
        dlclose(lib);
        return ag_fail(err, AG_ERR_RUNTIME,
                       "ag_blas_load: '%s' lacks scipy_cblas_sgemm/scipy_cblas_dgemm", path);
    }
    ag_blas_threads_ptr = (ag_set_threads_fn)dlsym(lib, "scipy_openblas_set_num_threads");
    ag_blas_sgemm_ptr = s;
    ag_blas_dgemm_ptr = d;
    return AG_OK;
#endif
}

int ag_blas_loaded(void) { return ag_blas_sgemm_ptr != NULL; }

void ag_blas_set_threads(int nthreads)
{
    if (ag_blas_threads_ptr && nthreads > 0) ag_blas_threads_ptr(nthreads);
}

static int ag_fits_int(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc)
{
    return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
           ldc <= INT_MAX;
}

/* Built-in GEMM: C row i accumulates alpha*A[i,p] * (packed row p of a
 * KB x NB block of op(B)); the inner loop is contiguous and vectorizes. */
#define AG_GEMM_KB 128
#define AG_GEMM_NB 512
#define AG_DEF_BUILTIN_GEMM(T, name)                                                      \
    static int name(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a,  \
                    int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc,       \
                    int nthreads, ag_error *err)                                           \
    {                                                                                      \
        for (int64_t i = 0; i < m; i++)                                                    \
            for (int64_t j = 0; j < n; j++)                                                \
                c[i * ldc + j] = beta == 0 ? (T)0 : beta * c[i * ldc + j];                 \
        if (k == 0 || alpha == 0) return AG_OK;                                            \
        T *bp = (T *)malloc(sizeof(T) * AG_GEMM_KB * AG_GEMM_NB);                          \
        if (!bp) return ag_fail(err, AG_ERR_MEMORY, "matmul: out of memory (GEMM block)"); \
        for (int64_t j0 = 0; j0 < n; j0 += AG_GEMM_NB) {                                   \
            int64_t nb = n - j0 < AG_GEMM_NB ? n - j0 : AG_GEMM_NB;                        \
            for (int64_t p0 = 0; p0 < k; p0 += AG_GEMM_KB) {                               \
                int64_t kb = k - p0 < AG_GEMM_KB ? k - p0 : AG_GEMM_KB;                    \
                for (int64_t p = 0; p < kb; p++)                                           \
                    for (int64_t j = 0; j < nb; j++)                                       \
                        bp[p * nb + j] = tb ? b[(j0 + j) * ldb + p0 + p]                   \
                                            : b[(p0 + p) * ldb + j0 + j];                  \
                _Pragma("omp parallel for if(m * nb * kb >= 262144) num_threads(nthreads)") \
                for (int64_t i = 0; i < m; i++) {                                          \
                    T *restrict crow = c + i * ldc + j0;                                   \
                    for (int64_t p = 0; p < kb; p++) {                                     \
                        T av = alpha * (ta ? a[(p0 + p) * lda + i] : a[i * lda + p0 + p]); \
                        const T *restrict brow = bp + p * nb;                              \
                        for (int64_t j = 0; j < nb; j++) crow[j] += av * brow[j];          \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        free(bp);                                                                          \
        (void)nthreads;                                                                    \
        return AG_OK;                                                                      \
    }

AG_DEF_BUILTIN_GEMM(float, ag_builtin_sgemm)
AG_DEF_BUILTIN_GEMM(double, ag_builtin_dgemm)

int ag_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc, int nthreads, ag_error *err)
{
    if (m <= 0 || n <= 0) return AG_OK;
    if (ag_blas_sgemm_ptr && k > 0 && ag_fits_int(m, n, k, lda, ldb, ldc)) {
        ag_blas_sgemm_ptr(CBLAS_ROW_MAJOR, trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
                          trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k,
                          alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return AG_OK;
    }
    return ag_builtin_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                            nthreads, err);
}

int ag_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
             const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
             double *c, int64_t ldc, int nthreads, ag_error *err)
{
    if (m <= 0 || n <= 0) return AG_OK;
    if (ag_blas_dgemm_ptr && k > 0 && ag_fits_int(m, n, k, lda, ldb, ldc)) {
        ag_blas_dgemm_ptr(CBLAS_ROW_MAJOR, trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS,
                          trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS, (int)m, (int)n, (int)k,
                          alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return AG_OK;
    }
    return ag_builtin_dgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                            nthreads, err);
}
