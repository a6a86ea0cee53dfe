/*
 * ag_math.h -- vectorizable transcendental functions for the aotgraph C runtime.
 *
 * Self-contained C99 header (needs only <stdint.h>, <math.h>, <string.h>) of
 * `static inline` float32 and float64 functions:
 *
 *   ag_expf     ag_exp        ag_logf      ag_log       ag_log1pf  ag_log1p
 *   ag_expm1f   ag_expm1      ag_tanhf     ag_tanh      ag_erff    ag_erf
 *   ag_sigmoidf ag_sigmoid    (1 / (1 + exp(-x)), no overflow for any x)
 *   ag_softplusf ag_softplus  (log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)))
 *   ag_erfcf    ag_erfc
 *
 * Why this exists: gcc only calls glibc's vector math (libmvec) under
 * -ffast-math, and -ffast-math implies -ffinite-math-only, which lets the
 * compiler delete NaN/Inf checks anywhere in the translation unit.  These
 * functions are instead written so that gcc auto-vectorizes a plain loop
 *     for (i = 0; i < n; i++) y[i] = ag_tanhf(x[i]);
 * under ordinary IEEE semantics: no branches and no table look-ups (which
 * would need gathers) in the evaluation, bit manipulation through memcpy,
 * Cody-Waite range reduction, polynomials, and every special case resolved by
 * a final select (a bitwise blend of already computed values, see "Selects"
 * below).  Integer work is kept to operations that SSE2 has in vector form
 * (no 64-bit arithmetic shifts, compares or int64<->double conversions; the
 * magic-constant tricks below replace them).
 *
 * Compile flags assumed:
 *   required   -O3 -fno-math-errno
 *              (gcc 12's -O2 cost model vectorizes none of these loops;
 *               -fno-math-errno makes sqrt, used by ag_erf/ag_erfc, a plain
 *               instruction: without it those two loops do not vectorize)
 *   optional   -mavx2 -mfma (or -march=...): wider vectors; FMA contraction
 *              (gcc's default -ffp-contract=fast in GNU C mode) only makes the
 *              results more accurate, and the bounds below hold either way.
 *   never      -ffast-math / -ffinite-math-only / -fno-signed-zeros /
 *              -fassociative-math: they break the NaN/Inf/-0.0 handling and the
 *              exact error-compensation steps (TwoSum, Cody-Waite splits).
 *
 * Semantics match the C library for NaN (propagated), +-Inf, +-0.0 (sign kept
 * where libm keeps it), subnormal inputs and results, overflow to Inf and
 * underflow to 0.  errno is never set and floating-point exception flags are
 * not meant to match libm.
 *
 * Accuracy: maximum |result - exact| in ulps of the exact value (a correctly
 * rounded function scores <= 0.5; the distance in whole ulps from the
 * correctly rounded result is at most this + 0.5).  float32: all 2^32 inputs
 * against glibc's float64 functions; float64: 4e7 inputs of mixed scales
 * against glibc's long double functions.  Worst of two builds, -O3
 * -fno-math-errno (SSE2) and the same with -mavx2 -mfma.  "bound" is what
 * tests/emit/test_vecmath.py asserts.
 *
 *                  float32            float64
 *   function    measured  bound   measured  bound
 *   exp           1.10     1.5      1.07     1.5
 *   log           0.86     1.0      0.82     1.0
 *   log1p         0.87     1.0      0.84     1.0
 *   expm1         1.49     2.0      1.92     2.5
 *   tanh          1.50     2.0      1.50     2.0
 *   sigmoid       1.53     2.0      2.37     2.5
 *   softplus      1.67     2.0      1.61     2.0
 *   erf           0.51     1.0      1.81     2.0
 *   erfc          0.53     1.0      3.01     3.5
 *
 * Polynomial coefficients are near-minimax fits (interpolation at Chebyshev
 * nodes, computed with mpmath at 60 digits) for the kernels named beside them.
 * float32 erf/erfc evaluate in float64 internally and ag_sigmoidf divides in
 * float64; all other float32 functions use float32 arithmetic only.
 */
#ifndef AG_MATH_H
#define AG_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- bit casts (memcpy compiles to register moves, and vectorizes) ---- */

static inline uint32_t ag__bits_f(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
static inline float ag__from_bits_f(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }
static inline uint64_t ag__bits_d(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double ag__from_bits_d(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* Selects.  A plain `c ? f(x) : g(x)` lets gcc sink the computation of an arm
 * into a branch, and with the default -ftrapping-math it will not speculate
 * it back, so the loop would not vectorize ("control flow in loop").  So:
 *  - a ternary is used only when both arms are constants or values that are
 *    needed anyway (clamps, constant factors): nothing can be sunk;
 *  - otherwise float32 uses ag__sel_f, a bitwise blend with an int mask;
 *  - float64 cannot do the same on plain SSE2 (no vector bool -> int64
 *    conversion before SSE4.2), so its masks are made by integer arithmetic
 *    on the bit patterns (64-bit sub/shift, which SSE2 has) and blended. */
static inline float ag__sel_f(int c, float a, float b)
{
    uint32_t m = (uint32_t)0 - (uint32_t)c;
    return ag__from_bits_f((ag__bits_f(a) & m) | (ag__bits_f(b) & ~m));
}
static inline double ag__blend_d(uint64_t mask, double a, double b)
{
    return ag__from_bits_d((ag__bits_d(a) & mask) | (ag__bits_d(b) & ~mask));
}
/* all ones iff |x| < c (c > 0); false for NaN: compare magnitudes as integers */
static inline uint64_t ag__mask_abs_lt_d(double x, double c)
{
    uint64_t ax = ag__bits_d(x) & 0x7fffffffffffffffu;
    return (uint64_t)0 - ((ax - ag__bits_d(c)) >> 63);
}
/* all ones iff the sign bit of x is set */
static inline uint64_t ag__mask_neg_d(double x) { return (uint64_t)0 - (ag__bits_d(x) >> 63); }
/* all ones iff |x| == c (c >= 0) */
static inline uint64_t ag__mask_abs_eq_d(double x, double c)
{
    uint64_t d = (ag__bits_d(x) & 0x7fffffffffffffffu) ^ ag__bits_d(c);
    return (uint64_t)0 - ((d - 1u) >> 63);
}
/* all ones iff x is NaN */
static inline uint64_t ag__mask_nan_d(double x)
{
    uint64_t ax = ag__bits_d(x) & 0x7fffffffffffffffu;
    return (uint64_t)0 - ((0x7ff0000000000000u - ax) >> 63);
}
/* x limited to [lo, hi], lo < 0 < hi; NaN passes through.  A ternary clamp
 * would let gcc thread the constant through the code that follows and split
 * the loop body. */
static inline double ag__clamp_d(double x, double lo, double hi)
{
    uint64_t keep = ag__mask_nan_d(x);
    uint64_t neg = ag__mask_neg_d(x);
    uint64_t over = ~neg & ~ag__mask_abs_lt_d(x, hi) & ~keep;
    uint64_t under = neg & ~ag__mask_abs_lt_d(x, -lo) & ~keep;
    return ag__blend_d(over, hi, ag__blend_d(under, lo, x));
}

/* Adding 1.5*2^23 (float) or 1.5*2^52 (double) rounds a value of magnitude
 * < 2^22 (2^51) to an integer k held in the low mantissa bits: the bits of the
 * sum are MAGIC_BITS + k.  This replaces rint() and int conversions. */
#define AG__MAGIC_F 0x1.8p23f
#define AG__MAGIC_D 0x1.8p52

/* ln2 split so that k * LN2_HI is exact for the |k| each function can see. */
#define AG__LN2_HI_F 0x1.62e4p-1f
#define AG__LN2_LO_F 0x1.7f7d1cp-20f
#define AG__INV_LN2_F 0x1.715476p+0f
#define AG__LN2_HI_D 0x1.62e42fefa38p-1
#define AG__LN2_LO_D 0x1.ef35793c7673p-45
#define AG__INV_LN2_D 0x1.71547652b82fep+0

/* ======================================================================
 * exp
 * ====================================================================== */

/* exp(r) for |r| <= ln2/2 + tiny, float32: 1 + r + r^2 * P(r). */
static inline float ag__exp_poly_f(float r)
{
    float q = 0.0013926191022619605f;
    q = q * r + 0.008363185450434685f;
    q = q * r + 0.041666556149721146f;
    q = q * r + 0.16666576266288757f;
    q = q * r + 0.5f;
    return 1.0f + (r + (r * r) * q);
}

static inline float ag_expf(float x)
{
    /* Outside [-104, 89] the result is 0 or Inf; clamping keeps k in range
     * (NaN fails both compares and flows through). */
    float xc = ag__sel_f(x > 89.0f, 89.0f, x);
    xc = ag__sel_f(xc < -104.0f, -104.0f, xc);
    float kf = xc * AG__INV_LN2_F + AG__MAGIC_F;
    int32_t k = (int32_t)(ag__bits_f(kf) - ag__bits_f(AG__MAGIC_F));
    kf -= AG__MAGIC_F;
    float r = (xc - kf * AG__LN2_HI_F) - kf * AG__LN2_LO_F;
    float p = ag__exp_poly_f(r);
    /* 2^k as two normal factors, so subnormal results are rounded once and
     * k = 128 still overflows to Inf.  (>> on a negative int: arithmetic in
     * gcc and clang.) */
    int32_t k1 = k >> 1;
    float s1 = ag__from_bits_f((uint32_t)(k1 + 127) << 23);
    float s2 = ag__from_bits_f((uint32_t)(k - k1 + 127) << 23);
    return (p * s1) * s2;
}

/* exp(r) for |r| <= ln2/2 + tiny, float64. */
static inline double ag__exp_poly_d(double r)
{
    double q = 2.5100395159429243e-08;
    q = q * r + 2.7620101012098e-07;
    q = q * r + 2.7557268439678e-06;
    q = q * r + 2.4801521269532122e-05;
    q = q * r + 0.00019841269863066696;
    q = q * r + 0.0013888888917230724;
    q = q * r + 0.00833333333333006;
    q = q * r + 0.041666666666624094;
    q = q * r + 0.16666666666666669;
    q = q * r + 0.5000000000000001;
    return 1.0 + (r + (r * r) * q);
}

/* 2^k for integer-valued kf in [-1022, 1023], from the bits of kf + MAGIC_D. */
static inline double ag__pow2_d(double kf_plus_magic)
{
    /* bits = MAGIC_BITS + k; MAGIC_BITS has 12 zero low bits, so they shift out. */
    return ag__from_bits_d((ag__bits_d(kf_plus_magic) + 1023u) << 52);
}

/* exp(hi + lo) returned as p * s1 * s2: the caller multiplies in that order,
 * after any extra factor of its own, so a subnormal result is rounded only
 * once.  hi + lo in [-1100, 710]; hi carries the big part exactly. */
static inline double ag__exp_parts_d(double hi, double lo, double *s1, double *s2)
{
    double kf = (hi + lo) * AG__INV_LN2_D + AG__MAGIC_D;
    double kr = kf - AG__MAGIC_D;
    /* split k in two halves using the same rounding trick (no int64 shifts) */
    double k1m = kr * 0.5 + AG__MAGIC_D;
    double k1 = k1m - AG__MAGIC_D;
    *s1 = ag__pow2_d(k1m);
    *s2 = ag__pow2_d((kr - k1) + AG__MAGIC_D);
    double r = ((hi - kr * AG__LN2_HI_D) + lo) - kr * AG__LN2_LO_D;
    return ag__exp_poly_d(r);
}

static inline double ag_exp(double x)
{
    double xc = ag__clamp_d(x, -746.0, 710.0);
    double s1, s2;
    double p = ag__exp_parts_d(xc, 0.0, &s1, &s2);
    return (p * s1) * s2;
}

/* exp(v) for v in [-1000, 700] to ~2e-10 relative (enough for float32
 * results computed in float64, as in ag_erfcf), single 2^k scale. */
static inline double ag__exp_lowacc_d(double v)
{
    double kf = v * AG__INV_LN2_D + AG__MAGIC_D;
    double s = ag__pow2_d(kf);
    kf -= AG__MAGIC_D;
    double r = (v - kf * AG__LN2_HI_D) - kf * AG__LN2_LO_D;
    double q = 0.00019891000780597316;
    q = q * r + 0.0013933658961533572;
    q = q * r + 0.00833331091651024;
    q = q * r + 0.041666464844507485;
    q = q * r + 0.1666666668163221;
    q = q * r + 0.5000000013473895;
    return (1.0 + (r + (r * r) * q)) * s;
}

/* ======================================================================
 * log, log1p
 * ====================================================================== */

/* log(1+f) - f + f^2/2 pieces for f = m - 1, m in [sqrt(1/2), sqrt(2)):
 * with s = f/(2+f), log(1+f) = 2 atanh(s) = f - f^2/2 + s*(f^2/2 + R(s^2)),
 * R(z) = z * Q(z).  Returns the pieces combined with e*ln2 and a correction
 * term `c` (an absolute addend, already small) as
 *     e*LN2_HI - ((hfsq - (s*(hfsq + R) + (e*LN2_LO + c))) - f). */
static inline float ag__log_combine_f(float f, float ef, float c)
{
    float s = f / (2.0f + f);
    float z = s * s;
    float q = 0.29580157995224f;
    q = q * z + 0.3998877704143524f;
    q = q * z + 0.6666668653488159f;
    float R = z * q;
    float hfsq = 0.5f * f * f;
    return ef * AG__LN2_HI_F - ((hfsq - (s * (hfsq + R) + (ef * AG__LN2_LO_F + c))) - f);
}

/* Split positive normal u into 2^e * m, m in [sqrt(1/2), sqrt(2)). */
static inline float ag__log_split_f(float u, float *ef)
{
    uint32_t ix = ag__bits_f(u) - 0x3f3504f3u; /* bits of sqrt(1/2) */
    *ef = (float)((int32_t)ix >> 23);
    return ag__from_bits_f((ix & 0x007fffffu) + 0x3f3504f3u);
}

static inline float ag_logf(float x)
{
    int sub = x < 0x1p-126f;
    float xs = ag__sel_f(sub, x * 0x1p23f, x);
    float ef;
    float m = ag__log_split_f(xs, &ef);
    ef = ag__sel_f(sub, ef - 23.0f, ef);
    float y = ag__log_combine_f(m - 1.0f, ef, 0.0f);
    /* x < 0 -> NaN, +-0 -> -Inf, +Inf -> +Inf, NaN -> NaN */
    float special = ag__sel_f(x < 0.0f, NAN, ag__sel_f(x == 0.0f, -INFINITY, x));
    return ag__sel_f((x > 0.0f) & (x < INFINITY), y, special);
}

/* log1p(x) for x > -1 finite (no special cases). */
static inline float ag__log1p_kernel_f(float x)
{
    /* u + c == 1 + x exactly (TwoSum); log(u + c) = log(u) + c/u to float accuracy */
    float u = 1.0f + x;
    float bv = u - 1.0f;
    float c = (1.0f - (u - bv)) + (x - bv);
    float ef;
    float m = ag__log_split_f(u, &ef);
    return ag__log_combine_f(m - 1.0f, ef, c / u);
}

static inline float ag_log1pf(float x)
{
    float y = ag__log1p_kernel_f(x);
    float special = ag__sel_f(x < -1.0f, NAN, ag__sel_f(x == -1.0f, -INFINITY, x));
    /* x == 0 returns x to keep the sign of zero */
    return ag__sel_f((x > -1.0f) & (x < INFINITY) & (x != 0.0f), y, special);
}

static inline double ag__log_combine_d(double f, double ef, double c)
{
    double s = f / (2.0 + f);
    double z = s * s;
    double q = 0.14616721179861816;
    q = q * z + 0.15331699633543858;
    q = q * z + 0.18182889786191042;
    q = q * z + 0.2222221112572281;
    q = q * z + 0.28571428626031065;
    q = q * z + 0.3999999999989938;
    q = q * z + 0.666666666666667;
    double R = z * q;
    double hfsq = 0.5 * f * f;
    return ef * AG__LN2_HI_D - ((hfsq - (s * (hfsq + R) + (ef * AG__LN2_LO_D + c))) - f);
}

static inline double ag__log_split_d(double u, double *ef)
{
    /* t = bits(u) - bits(sqrt(1/2)) + (1023 << 52): t >> 52 is the biased
     * exponent e + 1023 (logical shift only), turned into a double exactly by
     * placing it in the mantissa of 2^52. */
    uint64_t t = ag__bits_d(u) + (0x3ff0000000000000u - 0x3fe6a09e667f3bcdu);
    *ef = ag__from_bits_d((t >> 52) | 0x4330000000000000u) - (0x1p52 + 1023.0);
    return ag__from_bits_d((t & 0x000fffffffffffffu) + 0x3fe6a09e667f3bcdu);
}

static inline double ag_log(double x)
{
    uint64_t sub = ag__mask_abs_lt_d(x, 0x1p-1022);
    double ef;
    double m = ag__log_split_d(x * ag__blend_d(sub, 0x1p54, 1.0), &ef);
    ef -= ag__blend_d(sub, 54.0, 0.0);
    double y = ag__log_combine_d(m - 1.0, ef, 0.0); /* finite for any x */
    /* special cases are added on: y + 0, y + NaN, y + -Inf, y + Inf/NaN */
    double patch = ag__blend_d(ag__mask_abs_lt_d(x, INFINITY), 0.0, x);
    patch = ag__blend_d(ag__mask_neg_d(x), NAN, patch);
    patch = ag__blend_d(ag__mask_abs_eq_d(x, 0.0), -INFINITY, patch);
    return y + patch;
}

static inline double ag__log1p_kernel_d(double x)
{
    double u = 1.0 + x;
    double bv = u - 1.0;
    double c = (1.0 - (u - bv)) + (x - bv);
    double ef;
    double m = ag__log_split_d(u, &ef);
    return ag__log_combine_d(m - 1.0, ef, c / u);
}

static inline double ag_log1p(double x)
{
    uint64_t finite = ag__mask_abs_lt_d(x, INFINITY);
    uint64_t below = ag__mask_neg_d(x) & ~ag__mask_abs_lt_d(x, 1.0); /* x <= -1 */
    double y = ag__log1p_kernel_d(ag__blend_d(finite & ~below, x, 0.0)); /* finite */
    double patch = ag__blend_d(finite, 0.0, x);
    patch = ag__blend_d(below, NAN, patch);
    patch = ag__blend_d(below & ag__mask_abs_eq_d(x, 1.0), -INFINITY, patch);
    return copysign(y + patch, x); /* log1p has the sign of x, also for +-0 */
}

/* ======================================================================
 * expm1
 * ====================================================================== */

/* expm1(x) for x in [-25, 89] or NaN (no special cases besides those). */
static inline float ag__expm1_kernel_f(float x)
{
    float kf = x * AG__INV_LN2_F + AG__MAGIC_F;
    uint32_t kb = ag__bits_f(kf);
    kf -= AG__MAGIC_F;
    float hi = x - kf * AG__LN2_HI_F; /* exact */
    float lo = kf * AG__LN2_LO_F;
    float r = hi - lo;
    float rlo = (hi - r) - lo; /* r + rlo == x - k*ln2 to ~2^-48 */
    float q = 0.00019891001284122467f;
    q = q * r + 0.0013933659065514803f;
    q = q * r + 0.00833331048488617f;
    q = q * r + 0.041666463017463684f;
    q = q * r + 0.1666666716337204f;
    q = q * r + 0.5f;
    float p = r + (r * r) * q;
    p = p + rlo * (1.0f + p); /* expm1(r + rlo) ~ expm1(r) + rlo * exp(r) */
    /* expm1(x) = 2^k * p + (2^k - 1) = 2 * (h*p + (h - 1/2)), h = 2^(k-1),
     * so that k = 128 overflows to Inf without forming 2^128. */
    float h = ag__from_bits_f((kb + 126u) << 23);
    float y = 2.0f * (h * p + (h - 0.5f));
    return ag__sel_f(kf == 0.0f, p, y);
}

static inline float ag_expm1f(float x)
{
    float xc = ag__sel_f(x > 89.0f, 89.0f, x);
    xc = ag__sel_f(xc < -25.0f, -25.0f, xc);
    float y = ag__expm1_kernel_f(xc);
    return ag__sel_f(x == 0.0f, x, y); /* keeps -0.0 */
}

static inline double ag__expm1_kernel_d(double x)
{
    double kf = x * AG__INV_LN2_D + AG__MAGIC_D;
    uint64_t kb = ag__bits_d(kf);
    kf -= AG__MAGIC_D;
    double hi = x - kf * AG__LN2_HI_D;
    double lo = kf * AG__LN2_LO_D;
    double r = hi - lo;
    double rlo = (hi - r) - lo;
    double q = 2.0914694560351592e-09;
    q = q * r + 2.510522763655176e-08;
    q = q * r + 2.755727362486648e-07;
    q = q * r + 2.7557255374658744e-06;
    q = q * r + 2.4801587325562125e-05;
    q = q * r + 0.00019841269874840768;
    q = q * r + 0.0013888888888883744;
    q = q * r + 0.008333333333326129;
    q = q * r + 0.04166666666666667;
    q = q * r + 0.1666666666666667;
    q = q * r + 0.5;
    double p = r + (r * r) * q;
    p = p + rlo * (1.0 + p);
    double h = ag__from_bits_d((kb + 1022u) << 52);
    double y = 2.0 * (h * p + (h - 0.5));
    return ag__blend_d(ag__mask_abs_lt_d(kf, 0.5), p, y); /* k == 0: p exactly */
}

static inline double ag_expm1(double x)
{
    double xc = ag__clamp_d(x, -40.0, 710.0);
    return copysign(ag__expm1_kernel_d(xc), x); /* sign of x, also for +-0 */
}

/* ======================================================================
 * tanh, sigmoid, softplus
 * ====================================================================== */

static inline float ag_tanhf(float x)
{
    /* |x| < 0.625: x + x^3 * T(x^2) */
    float w = x * x;
    float t = -0.008343945257365704f + w * 0.002292744815349579f;
    t = t * w + 0.02176891826093197f;
    t = t * w - 0.053959257900714874f;
    t = t * w + 0.13333304226398468f;
    t = t * w - 0.3333333432674408f;
    float small = x + (x * w) * t;
    /* otherwise tanh|x| = e / (e + 2), e = expm1(2|x|); |x| >= 10 gives 1 */
    float a = fabsf(x);
    a = ag__sel_f(a > 10.0f, 10.0f, a);
    float e = ag__expm1_kernel_f(2.0f * a);
    float large = e / (e + 2.0f);
    return copysignf(ag__sel_f(fabsf(x) < 0.625f, small, large), x); /* tanh(-0) = -0 */
}

static inline double ag_tanh(double x)
{
    double w = x * x;
    double t = -2.060276537636634e-05;
    t = t * w + 8.511313685577672e-05;
    t = t * w - 0.0002346347410887237;
    t = t * w + 0.0005889360520074057;
    t = t * w - 0.001455661830100716;
    t = t * w + 0.003592110378689024;
    t = t * w - 0.008863234397814355;
    t = t * w + 0.021869488493666944;
    t = t * w - 0.053968253967434016;
    t = t * w + 0.13333333333332714;
    t = t * w - 0.3333333333333333;
    double small = x + (x * w) * t;
    double a = fabs(x);
    a = ag__clamp_d(a, -1.0, 20.0);
    double e = ag__expm1_kernel_d(2.0 * a);
    double large = e / (e + 2.0);
    return copysign(ag__blend_d(ag__mask_abs_lt_d(x, 0.55), small, large), x);
}

static inline float ag_sigmoidf(float x)
{
    /* sigmoid(|x|) = 1 / (1 + e), sigmoid(-|x|) = e / (1 + e), e = exp(-|x|)
     * never overflows.  Dividing in float64 leaves the error of e (scaled by
     * 1/(1+e)) plus one rounding: 1.5 ulp, against 2.4 for a float32 divide
     * and 0.5 (but 1.5x slower) for a float64 exp.  NaN: 1 / (1 + NaN). */
    float e = ag_expf(-fabsf(x));
    return (float)(ag__sel_f(x < 0.0f, e, 1.0f) / (1.0 + (double)e));
}

static inline double ag_sigmoid(double x)
{
    double e = ag_exp(-fabs(x));
    /* sigmoid(|x|) = 1 / (1 + e), sigmoid(-|x|) = e / (1 + e); NaN: e is NaN */
    return ag__blend_d(ag__mask_neg_d(x), e, 1.0) / (1.0 + e);
}

static inline float ag_softplusf(float x)
{
    float e = ag_expf(-fabsf(x)); /* in [0, 1], or NaN */
    float l = ag__log1p_kernel_f(e);
    return ag__sel_f(x > 0.0f, x, 0.0f) + l; /* NaN: 0 + NaN */
}

static inline double ag_softplus(double x)
{
    double e = ag_exp(-fabs(x));
    double l = ag__log1p_kernel_d(e);
    return ag__blend_d(ag__mask_neg_d(x), 0.0, x) + l; /* NaN: l is NaN */
}

/* ======================================================================
 * erf, erfc
 *
 * |x| < 0.47:  erf(x) = x * E(x^2)     (float64 erf: up to 0.6)
 * |x| >= 0.47: erfc(|x|) = t * exp(-x^2 + P(t)),  t = 2 / (2 + |x|),
 *              P a polynomial in t (smooth on the whole half line);
 *              erf = +-(1 - erfc), erfc(-|x|) = 2 - erfc(|x|).
 * ====================================================================== */

/* erfc(a) for a in [0.46, 10.1] (float accuracy, float64 arithmetic). */
static inline double ag__erfc_tail_lowacc(double a)
{
    double t = 2.0 / (2.0 + a);
    double u = t * 3.087759336099585 - 1.5103734439834025; /* t -> [-1, 1] */
    double p = -3.516558878359358e-09;
    p = p * u + 1.0051156531359717e-05;
    p = p * u - 9.227250025839411e-06;
    p = p * u - 0.00010685740290490564;
    p = p * u + 0.00015625195313859484;
    p = p * u + 0.0009758363539452612;
    p = p * u - 0.0019039876769715084;
    p = p * u - 0.012499231481318818;
    p = p * u + 0.021131288290044868;
    p = p * u + 0.4343100175696177;
    p = p * u - 0.6863694241230999;
    /* a*a is exact for float a; the result is far from the double subnormals */
    return t * ag__exp_lowacc_d(p - a * a);
}

static inline double ag__erf_small_lowacc(double x)
{
    double w = x * x;
    double q = -0.0007788923206860293;
    q = q * w + 0.00520541745439398;
    q = q * w - 0.02686406132583688;
    q = q * w + 0.11283780794933258;
    q = q * w - 0.376126386976614;
    q = q * w + 1.1283791670892094;
    return x * q;
}

static inline float ag_erff(float xf)
{
    double x = xf;
    double a = fabs(x);
    double ac = ag__blend_d(ag__mask_abs_lt_d(a, 0.47), 0.47, ag__clamp_d(a, -1.0, 6.0));
    /* erf(6) rounds to 1 */
    double large = copysign(1.0 - ag__erfc_tail_lowacc(ac), x);
    double small = ag__erf_small_lowacc(x);
    return (float)ag__blend_d(ag__mask_abs_lt_d(x, 0.47), small, large);
}

static inline float ag_erfcf(float xf)
{
    double x = xf;
    double a = fabs(x);
    double ac = ag__blend_d(ag__mask_abs_lt_d(a, 0.47), 0.47, ag__clamp_d(a, -1.0, 10.1));
    /* erfc(10.1) rounds to 0 */
    double tail = ag__erfc_tail_lowacc(ac);
    double large = ag__blend_d(ag__mask_neg_d(x), 2.0 - tail, tail);
    double small = 1.0 - ag__erf_small_lowacc(x);
    return (float)ag__blend_d(ag__mask_abs_lt_d(x, 0.47), small, large);
}

static inline double ag__erf_small_d(double x)
{
    double w = x * x;
    double q = -1.3841125993716643e-07;
    q = q * w + 1.6268305095769894e-06;
    q = q * w - 1.4917288951268716e-05;
    q = q * w + 0.00012055113659195357;
    q = q * w - 0.0008548323451912508;
    q = q * w + 0.0052239775899714964;
    q = q * w - 0.02686617064310549;
    q = q * w + 0.11283791670949246;
    q = q * w - 0.37612638903183687;
    q = q * w + 1.1283791670955126;
    return x * q;
}

/* Chebyshev series (Clenshaw) of P on t in [2/29.3, 2/2.46]; monomial
 * coefficients would be ill-conditioned at this degree.  Written out (not a
 * loop over a table) so the caller's loop stays innermost and vectorizes. */
#define AG__CLENSHAW_STEP(c) (b0 = u2 * b1 - b2 + (c), b2 = b1, b1 = b0)
static inline double ag__erfc_tail_poly_d(double t)
{
    double u = t * 2.6854694485842026 - 1.1833084947839045;
    double u2 = 2.0 * u;
    double b2 = 0.0, b1 = -1.298968189153803e-18, b0;
    AG__CLENSHAW_STEP(2.4102145652539043e-17);
    AG__CLENSHAW_STEP(-8.376946078653873e-17);
    AG__CLENSHAW_STEP(-2.6509787003325053e-16);
    AG__CLENSHAW_STEP(3.1374161552398515e-15);
    AG__CLENSHAW_STEP(-4.045085782323655e-15);
    AG__CLENSHAW_STEP(-6.554480810393948e-14);
    AG__CLENSHAW_STEP(2.848377244930573e-13);
    AG__CLENSHAW_STEP(8.605621890063662e-13);
    AG__CLENSHAW_STEP(-8.91039267804245e-12);
    AG__CLENSHAW_STEP(-1.6161121903820513e-12);
    AG__CLENSHAW_STEP(2.1759133448762998e-10);
    AG__CLENSHAW_STEP(-3.403631682110383e-10);
    AG__CLENSHAW_STEP(-4.7773888363152325e-09);
    AG__CLENSHAW_STEP(1.4828029449369684e-08);
    AG__CLENSHAW_STEP(1.0388051346715768e-07);
    AG__CLENSHAW_STEP(-4.788594575313885e-07);
    AG__CLENSHAW_STEP(-2.5073017116360172e-06);
    AG__CLENSHAW_STEP(1.456554767043856e-05);
    AG__CLENSHAW_STEP(7.815684640026825e-05);
    AG__CLENSHAW_STEP(-0.00046393828842890115);
    AG__CLENSHAW_STEP(-0.003808612146889748);
    AG__CLENSHAW_STEP(0.015496299466504175);
    AG__CLENSHAW_STEP(0.47932075372359095);
    return u * b1 - b2; /* + c0, added by the caller where it rounds least */
}
#define AG__ERFC_TAIL_C0 (-0.7349396398709951)
#undef AG__CLENSHAW_STEP

/* erfc(a) for a in [0.46, 27.3]. */
static inline double ag__erfc_tail_d(double a)
{
    double d = 2.0 + a;
    double t = 2.0 / d;
    double q = ag__erfc_tail_poly_d(t); /* P(t) - c0, |q| < 0.5 */
    /* The rounding of t moves the point where P is evaluated to x' = 2/t - 2,
     * worth up to 2 ulp near a = 0.5.  Undo it to first order: dt is the
     * rounding error of t (TwoSum for d, Dekker's exact product for t*d),
     * and d log(erfc(x) e^(x^2)) / dx ~ x - sqrt(x^2 + 4/pi) is plenty for a
     * correction of order 1e-16. */
    double dv = d - a;
    double d_err = (2.0 - dv) + (a - (d - dv));
    double th = ag__from_bits_d(ag__bits_d(t) & 0xfffffffff8000000u), tl = t - th;
    double dh = ag__from_bits_d(ag__bits_d(d) & 0xfffffffff8000000u), dl = d - dh;
    double resid = (((2.0 - th * dh) - th * dl) - tl * dh) - tl * dl; /* 2 - t*d */
    double dt = (resid - t * d_err) / d;
    double slope = (a - sqrt(a * a + 1.2732395447351628)) * (-2.0 / (t * t));
    /* exp(-a^2 + c0 + q + dt*slope) with a^2 = ah^2 + al*(a + ah), ah^2 exact
     * (ah keeps 26 bits).  Every term of size ~1 is added where the running
     * sum is small, so the argument r keeps ~1e-17 absolute accuracy. */
    double ah = ag__from_bits_d(ag__bits_d(a) & 0xfffffffff8000000u);
    double al = a - ah;
    double hi = -(ah * ah);
    double tiny = dt * slope - al * (a + ah);
    double kf = (hi + (AG__ERFC_TAIL_C0 + q)) * AG__INV_LN2_D + AG__MAGIC_D;
    double kr = kf - AG__MAGIC_D;
    double k1m = kr * 0.5 + AG__MAGIC_D;
    double k1 = k1m - AG__MAGIC_D;
    double s1 = ag__pow2_d(k1m);
    double s2 = ag__pow2_d((kr - k1) + AG__MAGIC_D);
    double r = (((hi - kr * AG__LN2_HI_D) + AG__ERFC_TAIL_C0) + q) + (tiny - kr * AG__LN2_LO_D);
    return ((t * ag__exp_poly_d(r)) * s1) * s2;
}
#undef AG__ERFC_TAIL_C0

static inline double ag_erf(double x)
{
    double a = fabs(x);
    /* the polynomial runs to 0.6, past erf = 0.5, so that 1 - erfc never
     * lands in a finer binade than erfc's own error */
    double ac = ag__blend_d(ag__mask_abs_lt_d(a, 0.6), 0.6, ag__clamp_d(a, -1.0, 6.0));
    double large = copysign(1.0 - ag__erfc_tail_d(ac), x);
    return ag__blend_d(ag__mask_abs_lt_d(x, 0.6), ag__erf_small_d(x), large);
}

static inline double ag_erfc(double x)
{
    double a = fabs(x);
    double ac = ag__blend_d(ag__mask_abs_lt_d(a, 0.47), 0.47, ag__clamp_d(a, -1.0, 27.3));
    double tail = ag__erfc_tail_d(ac);
    double large = ag__blend_d(ag__mask_neg_d(x), 2.0 - tail, tail);
    return ag__blend_d(ag__mask_abs_lt_d(x, 0.47), 1.0 - ag__erf_small_d(x), large);
}

#endif /* AG_MATH_H */
