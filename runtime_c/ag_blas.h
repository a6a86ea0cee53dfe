/* ag_blas.h: matrix products for the emitted kernels.
 *
 * ag_sgemm / ag_dgemm compute, on row-major matrices,
 *     C = alpha * op(A) @ op(B) + beta * C      (op(X) = X or X^T)
 * with op(A) of shape m x k, op(B) k x n, C m x n and leading dimensions in
 * ELEMENTS.  They call the CBLAS of a BLAS library loaded at run time with
 * ag_blas_load (the scipy-openblas32 wheel: scipy_cblas_sgemm/dgemm), and a
 * portable built-in blocked GEMM when no library is loaded, when the
 * dimensions exceed 32-bit BLAS integers, or when the module was built with
 * AG_BLAS_NONE defined.  As in BLAS, beta == 0 ignores the old contents of C
 * (NaN there does not propagate).
 */
#ifndef AG_BLAS_H
#define AG_BLAS_H

#include <stdint.h>

#include "ag_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Load the BLAS library at `path` (the .so itself, or the directory that
 * holds libscipy_openblas.so).  Returns AG_OK, or AG_ERR_RUNTIME with a
 * message naming the path and the missing file or symbol; the built-in
 * GEMM stays in use after a failure.  Call once, before any product. */
AG_EXPORT int ag_blas_load(const char *path, ag_error *err);

/* 1 when a BLAS library is loaded and in use. */
AG_EXPORT int ag_blas_loaded(void);

/* Threads the loaded library may use (no effect without one). */
AG_EXPORT void ag_blas_set_threads(int nthreads);

AG_EXPORT int ag_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
             float *c, int64_t ldc, int nthreads, ag_error *err);
AG_EXPORT int ag_dgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha,
             const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
             double *c, int64_t ldc, int nthreads, ag_error *err);

#ifdef __cplusplus
}
#endif
#endif /* AG_BLAS_H */
