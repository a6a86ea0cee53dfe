"""Shared pieces of the CUDA emitter: the kernel record, the device
preamble and the expression table.

A CUDA op emitter is a C :class:`~aotgraph.emit.c_common.OpEmitter` whose
``shape`` is the C emitter's (shapes are computed on the host from buffer
metadata) and whose ``body`` is host C that launches kernels through
``ag_cu_launch`` (runtime_c/ag_cuda.h).  Its ``kernels(node, cx)`` returns
the CUDA C sources of the kernels that body launches, as
:class:`CudaKernel` records; kernel names derive from the node's key so a
module's kernel source is deterministic.

Device code uses the same helper names as runtime_c/ag_kernels.h
(``ag_add_i32``, ``ag_f2i64``, ``ag_expf``...) with the same numpy
semantics, so the C expression table is reused: :data:`CUDA_EXPR` is
``{**C_EXPR, ...}`` with only the rows that differ.

>>> CUDA_EXPR["add"] is C_EXPR["add"]
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from aotgraph.emit.c_common import CTYPE, OpEmitter
from aotgraph.emit.c_elemwise import C_EXPR

#: The device preamble below gives every helper C_EXPR names the same
#: numpy semantics, and CUDA's libdevice has the libm names, so no row
#: differs today; a row that needs a device-specific spelling goes here.
CUDA_EXPR = {**C_EXPR}


@dataclass(frozen=True)
class CudaKernel:
    """One ``extern "C" __global__`` kernel: its name, parameter C types
    (in launch order) and full source text."""

    name: str
    params: tuple
    source: str


@dataclass(frozen=True)
class CudaOpEmitter(OpEmitter):
    """An OpEmitter whose body launches the kernels of ``kernels(node, cx)``."""

    kernels: Callable = None


def kernel_base(node) -> str:
    """The stem of a node's kernel names: ``k<node key>_<op>``."""
    key = str(node.get("key", node.get("id", 0))).replace(".", "_")
    return f"agk{key}_{node['op']}"


def emu_trampoline(kernel: CudaKernel) -> str:
    """The emulator's entry of a kernel: unpacks ``void **args`` (the
    cuLaunchKernel convention) into a typed call."""
    args = ", ".join(f"*({t} *)a[{i}]" for i, t in enumerate(kernel.params))
    return f"static void {kernel.name}_emu(void **a) {{ {kernel.name}({args}); }}"


def launch_code(kernel: CudaKernel, args, grid, block, shared="0") -> str:
    """Host C statements launching ``kernel`` with argument lvalues ``args``
    (one per parameter) on a grid of ``grid`` blocks of ``block`` threads
    (3-tuples of C expressions)."""
    assert len(args) == len(kernel.params), (kernel.name, args)
    ptrs = ", ".join(f"(void *)&{a}" for a in args)
    return "\n".join(
        [
            "    {",
            f"        void *kargs_[] = {{{ptrs}}};",
            f"        const uint32_t grid_[3] = {{{', '.join(grid)}}};",
            f"        const uint32_t block_[3] = {{{', '.join(block)}}};",
            f'        int rc_ = ag_cu_launch(AG_CU_IMAGE, "{kernel.name}", grid_, block_, {shared}, '
            "kargs_, err);",
            "        if (rc_) return rc_;",
            "    }",
        ]
    )


def ctype(dtype: str) -> str:
    return CTYPE[dtype]


#: Device helpers with the names and numpy semantics of ag_kernels.h.  The
#: same text compiles under NVRTC and, with ag_cuda_emul.h, as host C++.
CUDA_DEVICE_PREAMBLE = r"""
#include "ag_cuda.h"
#if defined(__CUDACC_RTC__)
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#define INT32_MIN (-2147483647 - 1)
#define INT64_MIN (-9223372036854775807LL - 1)
#define AG_DEV static __device__ __forceinline__
#define AG_NOUNROLL _Pragma("unroll 1")
#else
#define AG_DEV static inline
#define AG_NOUNROLL
#endif
#define AG_FULL_MASK 0xffffffffu

AG_DEV float ag_expf(float x) { return expf(x); }
AG_DEV double ag_exp(double x) { return exp(x); }
AG_DEV float ag_logf(float x) { return logf(x); }
AG_DEV double ag_log(double x) { return log(x); }
AG_DEV float ag_log1pf(float x) { return log1pf(x); }
AG_DEV double ag_log1p(double x) { return log1p(x); }
AG_DEV float ag_expm1f(float x) { return expm1f(x); }
AG_DEV double ag_expm1(double x) { return expm1(x); }
AG_DEV float ag_tanhf(float x) { return tanhf(x); }
AG_DEV double ag_tanh(double x) { return tanh(x); }
AG_DEV float ag_erff(float x) { return erff(x); }
AG_DEV double ag_erf(double x) { return erf(x); }
AG_DEV float ag_erfcf(float x) { return erfcf(x); }
AG_DEV double ag_erfc(double x) { return erfc(x); }
AG_DEV float ag_sigmoidf(float x)
{
    float e = expf(-fabsf(x));
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
AG_DEV double ag_sigmoid(double x)
{
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
AG_DEV float ag_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
AG_DEV double ag_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }

#define AG_DEF_INT_OPS(T, UT, tag)                                                   \
    AG_DEV T ag_add_##tag(T a, T b) { return (T)((UT)a + (UT)b); }                  \
    AG_DEV T ag_sub_##tag(T a, T b) { return (T)((UT)a - (UT)b); }                  \
    AG_DEV T ag_mul_##tag(T a, T b) { return (T)((UT)a * (UT)b); }                  \
    AG_DEV T ag_neg_##tag(T a) { return (T)((UT)0 - (UT)a); }                       \
    AG_DEV T ag_floordiv_##tag(T a, T b)                                            \
    {                                                                               \
        if (b == 0) return 0;                                                       \
        if ((T)-1 < 0 && b == (T)-1) return ag_neg_##tag(a);                        \
        T q = a / b;                                                                \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;                           \
        return q;                                                                   \
    }                                                                               \
    AG_DEV T ag_mod_##tag(T a, T b)                                                 \
    {                                                                               \
        if (b == 0 || ((T)-1 < 0 && b == (T)-1)) return 0;                          \
        T r = a % b;                                                                \
        if (r != 0 && ((r < 0) != (b < 0))) r += b;                                 \
        return r;                                                                   \
    }                                                                               \
    AG_DEV T ag_ipow_##tag(T a, T b, int *bad)                                      \
    {                                                                               \
        if (b < 0) { *bad = 1; return 0; }                                          \
        UT base = (UT)a, r = 1;                                                     \
        uint64_t e = (uint64_t)b;                                                   \
        while (e) { if (e & 1) r *= base; base *= base; e >>= 1; }                  \
        return (T)r;                                                                \
    }                                                                               \
    AG_DEV T ag_abs_##tag(T a) { return a < 0 ? ag_neg_##tag(a) : a; }              \
    AG_DEV T ag_sign_##tag(T a) { return (T)((a > 0) - (a < 0)); }
AG_DEF_INT_OPS(int8_t, uint32_t, i8)
AG_DEF_INT_OPS(int16_t, uint32_t, i16)
AG_DEF_INT_OPS(int32_t, uint32_t, i32)
AG_DEF_INT_OPS(int64_t, uint64_t, i64)
AG_DEF_INT_OPS(uint8_t, uint32_t, u8)
AG_DEF_INT_OPS(uint16_t, uint32_t, u16)
AG_DEF_INT_OPS(uint32_t, uint32_t, u32)
AG_DEF_INT_OPS(uint64_t, uint64_t, u64)

#define AG_DEF_FLOAT_OPS(T, sfx, tag)                                               \
    AG_DEV T ag_mod_##tag(T a, T b)                                                 \
    {                                                                               \
        T m = fmod##sfx(a, b);                                                      \
        if (b == 0) return m;                                                       \
        if (m != 0) { if ((b < 0) != (m < 0)) m += b; }                             \
        else m = copysign##sfx((T)0, b);                                            \
        return m;                                                                   \
    }                                                                               \
    AG_DEV T ag_floordiv_##tag(T a, T b)                                            \
    {                                                                               \
        if (b == 0) return a / b;                                                   \
        T m = fmod##sfx(a, b);                                                      \
        T div = (a - m) / b;                                                        \
        if (m != 0 && ((b < 0) != (m < 0))) div -= (T)1;                            \
        if (div == 0) return copysign##sfx((T)0, a / b);                            \
        T fl = floor##sfx(div);                                                     \
        if (div - fl > (T)0.5) fl += (T)1;                                          \
        return fl;                                                                  \
    }                                                                               \
    AG_DEV T ag_sign_##tag(T a) { return a > 0 ? (T)1 : (a < 0 ? (T)-1 : (a == 0 ? (T)0 : a)); } \
    AG_DEV T ag_max_##tag(T a, T b) { return a != a ? a : (a > b ? a : b); }        \
    AG_DEV T ag_min_##tag(T a, T b) { return a != a ? a : (a < b ? a : b); }
AG_DEF_FLOAT_OPS(float, f, f32)
AG_DEF_FLOAT_OPS(double, , f64)

AG_DEV int32_t ag_cvt32(double x)
{
    return (x > -2147483649.0 && x < 2147483648.0) ? (int32_t)x : INT32_MIN;
}
AG_DEV int64_t ag_cvt64(double x)
{
    return (x >= -9223372036854775808.0 && x < 9223372036854775808.0) ? (int64_t)x : INT64_MIN;
}
AG_DEV int8_t ag_f2i8(double x) { return (int8_t)(uint8_t)(uint32_t)ag_cvt32(x); }
AG_DEV int16_t ag_f2i16(double x) { return (int16_t)(uint16_t)(uint32_t)ag_cvt32(x); }
AG_DEV int32_t ag_f2i32(double x) { return ag_cvt32(x); }
AG_DEV int64_t ag_f2i64(double x) { return ag_cvt64(x); }
AG_DEV uint8_t ag_f2u8(double x) { return (uint8_t)(uint32_t)ag_cvt32(x); }
AG_DEV uint16_t ag_f2u16(double x) { return (uint16_t)(uint32_t)ag_cvt32(x); }
AG_DEV uint32_t ag_f2u32(double x)
{
    if (x >= 2147483648.0) return (uint32_t)ag_cvt32(x - 2147483648.0) ^ 0x80000000u;
    return (uint32_t)ag_cvt32(x);
}
AG_DEV uint64_t ag_f2u64(double x)
{
    if (x >= 9223372036854775808.0)
        return (uint64_t)ag_cvt64(x - 9223372036854775808.0) ^ 0x8000000000000000ull;
    return (uint64_t)ag_cvt64(x);
}

/* Element offset of linear index i over an index's shape, operand k. */
AG_DEV int64_t ag_cu_offset(const ag_cu_index &ix, int k, int64_t i)
{
    int64_t off = 0;
    AG_NOUNROLL
    for (int d = ix.ndim - 1; d >= 0; d--) {
        int64_t q = i / ix.shape[d];
        off += (i - q * ix.shape[d]) * ix.strides[k][d];
        i = q;
    }
    return off;
}

/* Offset of position i over `n` axes of `shape` with `strides`. */
AG_DEV int64_t ag_cu_offset_n(const int64_t *shape, const int64_t *strides, int n, int64_t i)
{
    int64_t off = 0;
    AG_NOUNROLL
    for (int d = n - 1; d >= 0; d--) {
        int64_t q = i / shape[d];
        off += (i - q * shape[d]) * strides[d];
        i = q;
    }
    return off;
}
"""
