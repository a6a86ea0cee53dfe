/* ag_kernels.h: scalar helpers and loop support for the emitted op kernels.
 *
 * Header-only (static inline, nothing exported).  The emitted code of
 * aotgraph/emit/c_*.py calls these where C and numpy differ or where C has
 * undefined behaviour: integer division and modulo by zero and INT_MIN / -1,
 * floor division and modulo signs, integer powers, float -> integer casts
 * of NaN/Inf/out-of-range values (numpy's x86 results), NaN-propagating
 * maximum/minimum, and the n-d iteration setup (broadcast strides,
 * dimension coalescing) shared by elementwise loops and reductions.
 */
#ifndef AG_KERNELS_H
#define AG_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ag_runtime.h"

#if defined(__has_include)
#if __has_include("ag_math.h")
#include "ag_math.h"
#endif
#endif

/* Until ag_math.h is there, its names map to libm (same semantics). */
#ifndef AG_MATH_H
static inline float ag_expf(float x) { return expf(x); }
static inline double ag_exp(double x) { return exp(x); }
static inline float ag_logf(float x) { return logf(x); }
static inline double ag_log(double x) { return log(x); }
static inline float ag_log1pf(float x) { return log1pf(x); }
static inline double ag_log1p(double x) { return log1p(x); }
static inline float ag_expm1f(float x) { return expm1f(x); }
static inline double ag_expm1(double x) { return expm1(x); }
static inline float ag_tanhf(float x) { return tanhf(x); }
static inline double ag_tanh(double x) { return tanh(x); }
static inline float ag_erff(float x) { return erff(x); }
static inline double ag_erf(double x) { return erf(x); }
static inline float ag_erfcf(float x) { return erfcf(x); }
static inline double ag_erfc(double x) { return erfc(x); }
static inline float ag_sigmoidf(float x)
{
    float e = expf(-fabsf(x));
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
static inline double ag_sigmoid(double x)
{
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
static inline float ag_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
static inline double ag_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
#endif

#ifndef AG_PAR_THRESHOLD
#define AG_PAR_THRESHOLD 32768 /* elements: below this a loop runs on one thread */
#endif
#define AG_BLOCK 8192 /* elements per task of an elementwise loop */

/* ---- integer arithmetic with numpy semantics --------------------------
 * Signed types compute through their unsigned counterpart (wrap-around,
 * no UB); division by zero gives 0; INT_MIN // -1 wraps to INT_MIN. */
#define AG_DEF_INT_OPS(T, UT, tag)                                                \
    static inline T ag_add_##tag(T a, T b) { return (T)((UT)a + (UT)b); }       \
    static inline T ag_sub_##tag(T a, T b) { return (T)((UT)a - (UT)b); }       \
    static inline T ag_mul_##tag(T a, T b) { return (T)((UT)a * (UT)b); }       \
    static inline T ag_neg_##tag(T a) { return (T)((UT)0 - (UT)a); }            \
    static inline T ag_floordiv_##tag(T a, T b)                                 \
    {                                                                           \
        if (b == 0) return 0;                                                   \
        if ((T)-1 < 0 && b == (T)-1) return ag_neg_##tag(a);                    \
        T q = a / b;                                                            \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;                       \
        return q;                                                               \
    }                                                                           \
    static inline T ag_mod_##tag(T a, T b)                                      \
    {                                                                           \
        if (b == 0 || ((T)-1 < 0 && b == (T)-1)) return 0;                      \
        T r = a % b;                                                            \
        if (r != 0 && ((r < 0) != (b < 0))) r += b;                             \
        return r;                                                               \
    }                                                                           \
    static inline T ag_ipow_##tag(T a, T b, int *bad)                           \
    {                                                                           \
        if (b < 0) { *bad = 1; return 0; }                                      \
        UT base = (UT)a, r = 1;                                                 \
        uint64_t e = (uint64_t)b;                                               \
        while (e) { if (e & 1) r *= base; base *= base; e >>= 1; }              \
        return (T)r;                                                            \
    }                                                                           \
    static inline T ag_abs_##tag(T a) { return a < 0 ? ag_neg_##tag(a) : a; }   \
    static inline T ag_sign_##tag(T a) { return (T)((a > 0) - (a < 0)); }

/* unsigned int is the promotion floor: uint16 * uint16 must not overflow int */
AG_DEF_INT_OPS(int8_t, uint32_t, i8)
AG_DEF_INT_OPS(int16_t, uint32_t, i16)
AG_DEF_INT_OPS(int32_t, uint32_t, i32)
AG_DEF_INT_OPS(int64_t, uint64_t, i64)
AG_DEF_INT_OPS(uint8_t, uint32_t, u8)
AG_DEF_INT_OPS(uint16_t, uint32_t, u16)
AG_DEF_INT_OPS(uint32_t, uint32_t, u32)
AG_DEF_INT_OPS(uint64_t, uint64_t, u64)

/* ---- float floor division and modulo (numpy's npy_divmod) ------------ */
#define AG_DEF_FLOAT_DIVMOD(T, sfx, tag)                                       \
    static inline T ag_mod_##tag(T a, T b)                                     \
    {                                                                          \
        T m = fmod##sfx(a, b);                                                 \
        if (b == 0) return m;                                                  \
        if (m != 0) {                                                          \
            if ((b < 0) != (m < 0)) m += b;                                    \
        } else {                                                               \
            m = copysign##sfx((T)0, b);                                        \
        }                                                                      \
        return m;                                                              \
    }                                                                          \
    static inline T ag_floordiv_##tag(T a, T b)                                \
    {                                                                          \
        if (b == 0) return a / b;                                              \
        T m = fmod##sfx(a, b);                                                 \
        T div = (a - m) / b;                                                   \
        if (m != 0 && ((b < 0) != (m < 0))) div -= (T)1;                       \
        if (div == 0) return copysign##sfx((T)0, a / b);                       \
        T fl = floor##sfx(div);                                                \
        if (div - fl > (T)0.5) fl += (T)1;                                     \
        return fl;                                                             \
    }                                                                          \
    static inline T ag_sign_##tag(T a)                                         \
    {                                                                          \
        return a > 0 ? (T)1 : (a < 0 ? (T)-1 : (a == 0 ? (T)0 : a));           \
    }                                                                          \
    /* NaN-propagating, as numpy's maximum/minimum */                          \
    static inline T ag_max_##tag(T a, T b) { return a != a ? a : (a > b ? a : b); } \
    static inline T ag_min_##tag(T a, T b) { return a != a ? a : (a < b ? a : b); }

AG_DEF_FLOAT_DIVMOD(float, f, f32)
AG_DEF_FLOAT_DIVMOD(double, , f64)

/* ---- float -> integer casts, matching numpy on x86-64 ------------------
 * NaN, Inf and out-of-range values give the "integer indefinite" value of
 * the 32- or 64-bit conversion instruction, then wrap to narrower types;
 * unsigned 32/64-bit targets subtract 2^31 / 2^63 first above that bound.
 * This is what numpy's vectorized casts give (its scalar tail loop may
 * differ for out-of-range values: numpy itself is not consistent there). */
static inline int32_t ag_cvt32(double x)
{
    return (x > -2147483649.0 && x < 2147483648.0) ? (int32_t)x : INT32_MIN;
}
static inline int64_t ag_cvt64(double x)
{
    return (x >= -9223372036854775808.0 && x < 9223372036854775808.0) ? (int64_t)x
                                                                       : INT64_MIN;
}
static inline int8_t ag_f2i8(double x) { return (int8_t)(uint8_t)(uint32_t)ag_cvt32(x); }
static inline int16_t ag_f2i16(double x) { return (int16_t)(uint16_t)(uint32_t)ag_cvt32(x); }
static inline int32_t ag_f2i32(double x) { return ag_cvt32(x); }
static inline int64_t ag_f2i64(double x) { return ag_cvt64(x); }
static inline uint8_t ag_f2u8(double x) { return (uint8_t)(uint32_t)ag_cvt32(x); }
static inline uint16_t ag_f2u16(double x) { return (uint16_t)(uint32_t)ag_cvt32(x); }
static inline uint32_t ag_f2u32(double x)
{
    if (x >= 2147483648.0) return (uint32_t)ag_cvt32(x - 2147483648.0) ^ 0x80000000u;
    return (uint32_t)ag_cvt32(x);
}
static inline uint64_t ag_f2u64(double x)
{
    if (x >= 9223372036854775808.0)
        return (uint64_t)ag_cvt64(x - 9223372036854775808.0) ^ 0x8000000000000000ull;
    return (uint64_t)ag_cvt64(x);
}

/* ---- n-d iteration setup ---------------------------------------------- */

/* Strides of `b` aligned to an output of rank `ndim` and shape `shape`:
 * leading missing axes and broadcast (length-1) axes get stride 0. */
static inline void ag_bcast_strides(const ag_buffer *b, int ndim, const int64_t *shape,
                                    int64_t *strides)
{
    int lead = ndim - b->ndim;
    for (int d = 0; d < ndim; d++) {
        if (d < lead) { strides[d] = 0; continue; }
        int64_t len = b->shape[d - lead];
        strides[d] = len == 1 ? 0 : b->strides[d - lead];
    }
}

/* Merge adjacent axes that every operand walks as one, drop length-1
 * axes.  `st` holds nops rows of AG_MAX_NDIM strides.  Returns the new
 * rank (>= 1; a single axis of length 1 for a scalar). */
static inline int ag_coalesce(int nops, int ndim, int64_t *shape, int64_t (*st)[AG_MAX_NDIM])
{
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (nd > 0) {
            int merge = 1;
            for (int k = 0; k < nops && merge; k++)
                merge = st[k][nd - 1] == st[k][d] * shape[d];
            if (merge) {
                shape[nd - 1] *= shape[d];
                for (int k = 0; k < nops; k++) st[k][nd - 1] = st[k][d];
                continue;
            }
        }
        shape[nd] = shape[d];
        for (int k = 0; k < nops; k++) st[k][nd] = st[k][d];
        nd++;
    }
    if (nd == 0) {
        shape[0] = 1;
        for (int k = 0; k < nops; k++) st[k][0] = 0;
        nd = 1;
    }
    return nd;
}

/* Element offsets of operand rows for outer index `r` over axes [0, nd-1). */
static inline void ag_row_offsets(int nops, int nd, const int64_t *shape,
                                  int64_t (*st)[AG_MAX_NDIM], int64_t r, int64_t *off)
{
    for (int k = 0; k < nops; k++) off[k] = 0;
    for (int d = nd - 2; d >= 0; d--) {
        int64_t i = r % shape[d];
        r /= shape[d];
        for (int k = 0; k < nops; k++) off[k] += i * st[k][d];
    }
}

/* numpy broadcasting of `n` operands' run-time shapes into out_shape.
 * Returns 0, or -1 with *bad_axis set when two lengths conflict. */
static inline int ag_broadcast_shapes(int n, const ag_buffer *const *ops, int ndim,
                                      int64_t *out_shape, int *bad_axis)
{
    for (int d = 0; d < ndim; d++) out_shape[d] = 1;
    for (int k = 0; k < n; k++) {
        int lead = ndim - ops[k]->ndim;
        for (int d = 0; d < ops[k]->ndim; d++) {
            int64_t len = ops[k]->shape[d], *o = &out_shape[lead + d];
            if (len == 1) continue;
            if (*o == 1) *o = len;
            else if (*o != len) { *bad_axis = lead + d; return -1; }
        }
    }
    return 0;
}

/* "(2, 3)" / "(4,)" text of `n` lengths, for error messages. */
static inline const char *ag_dims_text(const int64_t *dims, int n, char *buf, size_t size)
{
    size_t pos = 0;
    buf[0] = 0;
    for (int d = -1; d <= n && pos + 1 < size; d++) {
        int w;
        if (d < 0) w = snprintf(buf + pos, size - pos, "(");
        else if (d == n) w = snprintf(buf + pos, size - pos, n == 1 ? ",)" : ")");
        else w = snprintf(buf + pos, size - pos, "%s%lld", d ? ", " : "", (long long)dims[d]);
        if (w < 0) break;
        pos += (size_t)w;
    }
    return buf;
}

/* "(2, 3)" text of a buffer's shape. */
static inline const char *ag_shape_text(const ag_buffer *b, char *buf, size_t size)
{
    return ag_dims_text(b->shape, b->ndim, buf, size);
}

/* Resolve numpy's reshape target `dims` (at most one -1) for `size`
 * elements in place; -1 when impossible. */
static inline int ag_resolve_reshape(int n, int64_t *dims, int64_t size)
{
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < n; d++) {
        if (dims[d] == -1) {
            if (infer >= 0) return -1;
            infer = d;
        } else if (dims[d] < 0) {
            return -1;
        } else {
            known *= dims[d];
        }
    }
    if (infer >= 0) {
        if (known == 0 || size % known != 0) return -1;
        dims[infer] = size / known;
        return 0;
    }
    return known == size ? 0 : -1;
}

/* ---- accurate sums: pairwise, as numpy (float32 accumulates in double) */
#define AG_DEF_PAIRWISE(T, tag)                                                  \
    static inline double ag_psum1_##tag(const T *x, int64_t n) /* unit stride */ \
    {                                                                            \
        if (n <= 128) {                                                          \
            double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                            \
            int64_t i = 0;                                                       \
            for (; i + 8 <= n; i += 8)                                           \
                for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j];          \
            double r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +                 \
                       ((acc[4] + acc[5]) + (acc[6] + acc[7]));                  \
            for (; i < n; i++) r += (double)x[i];                                \
            return r;                                                            \
        }                                                                        \
        int64_t h = (n / 2) & ~(int64_t)7;                                       \
        return ag_psum1_##tag(x, h) + ag_psum1_##tag(x + h, n - h);              \
    }                                                                            \
    static inline double ag_psum_##tag(const T *x, int64_t n, int64_t s)         \
    {                                                                            \
        if (s == 1) return ag_psum1_##tag(x, n);                                 \
        if (n <= 128) {                                                          \
            double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                            \
            int64_t i = 0;                                                       \
            for (; i + 8 <= n; i += 8)                                           \
                for (int j = 0; j < 8; j++) acc[j] += (double)x[(i + j) * s];    \
            double r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +                 \
                       ((acc[4] + acc[5]) + (acc[6] + acc[7]));                  \
            for (; i < n; i++) r += (double)x[i * s];                            \
            return r;                                                            \
        }                                                                        \
        int64_t h = (n / 2) & ~(int64_t)7;                                       \
        return ag_psum_##tag(x, h, s) + ag_psum_##tag(x + h * s, n - h, s);      \
    }
AG_DEF_PAIRWISE(float, f32)
AG_DEF_PAIRWISE(double, f64)

/* ---- max/min of a row: 8 independent lanes (vectorizes without
 * -ffast-math); *nan is set when a NaN was seen (numpy's result is NaN). */
#define AG_DEF_ROW_EXTREMUM(T, tag, name, CMP)                                    \
    static inline T ag_##name##row_##tag(const T *x, int64_t n, int64_t s, T acc, int *nan) \
    {                                                                             \
        int64_t i = 0;                                                            \
        if (s == 1 && n >= 8) {                                                   \
            T m[8];                                                               \
            int bad[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
            for (int j = 0; j < 8; j++) m[j] = acc;                               \
            for (; i + 8 <= n; i += 8)                                            \
                for (int j = 0; j < 8; j++) {                                     \
                    T v = x[i + j];                                               \
                    m[j] = v CMP m[j] ? v : m[j];                                 \
                    bad[j] |= v != v;                                             \
                }                                                                 \
            for (int j = 0; j < 8; j++) {                                         \
                acc = m[j] CMP acc ? m[j] : acc;                                  \
                *nan |= bad[j];                                                   \
            }                                                                     \
        }                                                                         \
        for (; i < n; i++) {                                                      \
            T v = x[i * s];                                                       \
            acc = v CMP acc ? v : acc;                                            \
            *nan |= v != v;                                                       \
        }                                                                         \
        return acc;                                                               \
    }
AG_DEF_ROW_EXTREMUM(float, f32, max, >)
AG_DEF_ROW_EXTREMUM(float, f32, min, <)
AG_DEF_ROW_EXTREMUM(double, f64, max, >)
AG_DEF_ROW_EXTREMUM(double, f64, min, <)

/* ---- matrix operands of GEMM -------------------------------------------- */

/* Whether a rows x cols matrix with element strides (srow, scol) can be
 * handed to a row-major GEMM as is (trans 0) or as a transposed view
 * (trans 1), with its leading dimension; 0 when it must be copied. */
static inline int ag_gemm_layout(int64_t rows, int64_t cols, int64_t srow, int64_t scol,
                                 int *trans, int64_t *ld)
{
    int64_t c1 = cols > 1 ? cols : 1, r1 = rows > 1 ? rows : 1;
    if ((cols == 1 || scol == 1) && (rows == 1 || srow >= c1)) {
        *trans = 0;
        *ld = rows == 1 ? c1 : srow;
        return 1;
    }
    if ((rows == 1 || srow == 1) && (cols == 1 || scol >= r1)) {
        *trans = 1;
        *ld = cols == 1 ? r1 : scol;
        return 1;
    }
    return 0;
}

#define AG_DEF_COPY_MATRIX(T, tag)                                                        \
    static inline void ag_copy_matrix_##tag(T *dst, const T *src, int64_t rows,           \
                                            int64_t cols, int64_t srow, int64_t scol)     \
    {                                                                                     \
        for (int64_t i = 0; i < rows; i++)                                                \
            for (int64_t j = 0; j < cols; j++) dst[i * cols + j] = src[i * srow + j * scol]; \
    }
AG_DEF_COPY_MATRIX(float, f32)
AG_DEF_COPY_MATRIX(double, f64)

#endif /* AG_KERNELS_H */
