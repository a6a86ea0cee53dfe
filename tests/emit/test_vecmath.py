"""runtime_c/ag_math.h: accuracy, special values and auto-vectorization.

The header is compiled into a small cffi extension (once per module and
instruction set) whose array loops are plain vectorizable loops like the ones
the C emitter writes.  Oracles are independent of the code under test: numpy float64
for the float32 functions (glibc's double erf/erfc, which numpy lacks), and
glibc's long double functions (64-bit mantissa) for the float64 ones.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUNTIME_C = Path(__file__).resolve().parents[2] / "runtime_c"
FUNCS = ("exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "erf", "erfc")
# The flags ag_math.h documents; cffi adds Python's own CFLAGS (-O3 -fwrapv ...).
BASE_FLAGS = ["-O3", "-fno-math-errno"]
ISAS = {"sse2": [], "avx2_fma": ["-mavx2", "-mfma"]}

# The bounds documented in ag_math.h (ulps of the exact value; a correctly
# rounded function scores <= 0.5).  Exhaustive runs measured a little less.
BOUND_F32 = {
    "exp": 1.5,
    "log": 1.0,
    "log1p": 1.0,
    "expm1": 2.0,
    "tanh": 2.0,
    "sigmoid": 2.0,
    "softplus": 2.0,
    "erf": 1.0,
    "erfc": 1.0,
}
BOUND_F64 = {
    "exp": 1.5,
    "log": 1.0,
    "log1p": 1.0,
    "expm1": 2.5,
    "tanh": 2.0,
    "sigmoid": 2.5,
    "softplus": 2.0,
    "erf": 2.0,
    "erfc": 3.5,
}

LONG_DOUBLE_NAMES = {
    "exp": "expl",
    "log": "logl",
    "log1p": "log1pl",
    "expm1": "expm1l",
    "tanh": "tanhl",
    "erf": "erfl",
    "erfc": "erfcl",
}


def _loops_source():
    """Array loops over every ag_ function, plus the libm oracles."""
    lines = [
        "#include <float.h>",
        '#include "ag_math.h"',
        "static const int AG_TEST_LDBL_MANT_DIG = LDBL_MANT_DIG;",
    ]
    for name in FUNCS:
        lines.append(
            f"void run_{name}f(const float *restrict x, float *restrict y, size_t n) "
            f"{{ for (size_t i = 0; i < n; i++) y[i] = ag_{name}f(x[i]); }}"
        )
        lines.append(
            f"void run_{name}(const double *restrict x, double *restrict y, size_t n) "
            f"{{ for (size_t i = 0; i < n; i++) y[i] = ag_{name}(x[i]); }}"
        )
    lines.append(
        "static long double sigmoidl_(long double x) "
        "{ return x >= 0 ? 1.0L / (1.0L + expl(-x)) : expl(x) / (1.0L + expl(x)); }"
    )
    lines.append(
        "static long double softplusl_(long double x) "
        "{ return x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x)); }"
    )
    for name in FUNCS:
        fn = LONG_DOUBLE_NAMES.get(name, name + "l_")
        # exact reference split as hi + lo so Python can measure ulps precisely
        lines.append(
            f"void refl_{name}(const double *x, double *hi, double *lo, size_t n) "
            f"{{ for (size_t i = 0; i < n; i++) {{ long double r = {fn}(x[i]); "
            f"hi[i] = (double)r; lo[i] = (double)(r - (long double)hi[i]); }} }}"
        )
    for name in ("erf", "erfc"):
        lines.append(
            f"void ref_{name}(const double *x, double *y, size_t n) "
            f"{{ for (size_t i = 0; i < n; i++) y[i] = {name}(x[i]); }}"
        )
    return "\n".join(lines) + "\n"


def _cdef():
    decls = ["static const int AG_TEST_LDBL_MANT_DIG;"]
    for name in FUNCS:
        decls.append(f"void run_{name}f(const float *, float *, size_t);")
        decls.append(f"void run_{name}(const double *, double *, size_t);")
        decls.append(f"void refl_{name}(const double *, double *, double *, size_t);")
    decls += [
        "void ref_erf(const double *, double *, size_t);",
        "void ref_erfc(const double *, double *, size_t);",
    ]
    return "\n".join(decls)


def _cpu_has(*flags):
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    found = re.search(r"^flags\s*:(.*)$", text, re.M)
    return found is not None and set(flags) <= set(found.group(1).split())


class Lib:
    """Numpy-facing wrapper over the compiled loops."""

    def __init__(self, ffi, lib):
        self.ffi, self.lib = ffi, lib

    def _ptr(self, ctype, arr):
        return self.ffi.cast(ctype, self.ffi.from_buffer(arr))

    def f32(self, name, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.empty_like(x)
        getattr(self.lib, f"run_{name}f")(self._ptr("float *", x), self._ptr("float *", y), x.size)
        return y

    def f64(self, name, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.empty_like(x)
        getattr(self.lib, f"run_{name}")(self._ptr("double *", x), self._ptr("double *", y), x.size)
        return y

    def ref_long_double(self, name, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        hi, lo = np.empty_like(x), np.empty_like(x)
        getattr(self.lib, f"refl_{name}")(
            self._ptr("double *", x), self._ptr("double *", hi), self._ptr("double *", lo), x.size
        )
        return hi, lo

    def ref_libm(self, name, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.empty_like(x)
        getattr(self.lib, f"ref_{name}")(self._ptr("double *", x), self._ptr("double *", y), x.size)
        return y


@pytest.fixture(scope="module", params=sorted(ISAS))
def vm(request, tmp_path_factory):
    cffi = pytest.importorskip("cffi")
    isa = request.param
    if isa == "avx2_fma" and not _cpu_has("avx2", "fma"):
        pytest.skip("this CPU lacks AVX2/FMA, so the -mavx2 -mfma build cannot run here")
    ffi = cffi.FFI()
    ffi.cdef(_cdef())
    module = f"_ag_vecmath_{isa}"
    ffi.set_source(
        module,
        _loops_source(),
        include_dirs=[str(RUNTIME_C)],
        extra_compile_args=BASE_FLAGS + ISAS[isa],
        libraries=["m"],
    )
    tmpdir = tmp_path_factory.mktemp(module)
    path = ffi.compile(tmpdir=str(tmpdir))
    import importlib.util

    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return Lib(mod.ffi, mod.lib)


# ---------------------------------------------------------------- oracles


def _numpy_reference(vm, name, x):
    """float64 values of f at x: numpy, or glibc for erf/erfc (nearly exact for float32)."""
    xd = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name in ("erf", "erfc"):
            return vm.ref_libm(name, xd)
        if name == "sigmoid":
            e = np.exp(-np.abs(xd))
            return np.where(xd >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        if name == "softplus":
            return np.logaddexp(0.0, xd)
        return getattr(np, name)(xd)


def _ulp_error_f32(y, ref):
    """|y - ref| in ulps of ref (float32 grid, subnormal ulp below 2^-126)."""
    with np.errstate(all="ignore"):
        ref_f32 = ref.astype(np.float32)
        _, e = np.frexp(ref)
        ulp = np.ldexp(1.0, np.maximum(e, -125) - 24)
        err = np.abs(y.astype(np.float64) - ref) / ulp
    # values that are NaN or infinite after rounding must match exactly
    nan_ref, inf_ref = np.isnan(ref), np.isinf(ref_f32)
    special = nan_ref | inf_ref | np.isinf(y) | np.isnan(y)
    ok_special = (nan_ref & np.isnan(y)) | (inf_ref & (y == ref_f32))
    return np.where(special, np.where(ok_special, 0.0, np.inf), err)


def _ulp_error_f64(y, hi, lo):
    """|y - (hi + lo)| in ulps of the exact value (float64 grid)."""
    _, e = np.frexp(hi)
    ulp = np.ldexp(1.0, np.maximum(e, -1021) - 53)
    with np.errstate(all="ignore"):
        err = np.abs((y - hi) - lo) / ulp
    nan_ref, inf_ref = np.isnan(hi), np.isinf(hi)
    special = nan_ref | inf_ref | np.isinf(y) | np.isnan(y)
    ok_special = (nan_ref & np.isnan(y)) | (inf_ref & (y == hi))
    return np.where(special, np.where(ok_special, 0.0, np.inf), err)


# ---------------------------------------------------------------- inputs


def _f32_sweep():
    """Every 2048th float32 bit pattern (all binades, both signs, subnormals),
    a dense linear sweep of [-12, 12] where the approximations switch pieces,
    and the special values."""
    bits = np.arange(977, 2**32, 2048, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[~np.isnan(x)]
    dense = np.linspace(-12.0, 12.0, 1 << 20, dtype=np.float32)
    return np.concatenate([x, dense, SPECIAL_F32])


def _f64_sample(n=1 << 17, seed=20261101):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    bits = bits[~np.isnan(bits)]
    wide = rng.uniform(-800.0, 800.0, n)
    core = rng.uniform(-30.0, 30.0, n)
    unit = rng.uniform(-2.0, 2.0, n)
    scales = np.ldexp(1.0 + rng.random(n), rng.integers(-60, 10, n)) * rng.choice([-1.0, 1.0], n)
    return np.concatenate([bits, wide, core, unit, scales, SPECIAL_F64])


def _specials(dtype):
    fi = np.finfo(dtype)
    tiny_sub = fi.smallest_subnormal
    vals = [
        np.nan,
        np.inf,
        -np.inf,
        0.0,
        -0.0,
        fi.max,
        -fi.max,
        tiny_sub,
        -tiny_sub,
        fi.smallest_normal,
        -fi.smallest_normal,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
    ]
    return np.array(vals, dtype=dtype)


SPECIAL_F32 = _specials(np.float32)
SPECIAL_F64 = _specials(np.float64)


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("name", FUNCS)
def test_float32_max_ulp_error(vm, name):
    x = _f32_sweep()
    err = _ulp_error_f32(vm.f32(name, x), _numpy_reference(vm, name, x))
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND_F32[name], (
        f"ag_{name}f: {err[worst]:.3f} ulp at x={float(x[worst])!r} (bound {BOUND_F32[name]})"
    )


def _assert_same_class(y, ref, x, what):
    """nan-ness, infinities and signed zeros identical; finite values close."""
    for xi, yi, ri in zip(x, y, ref):
        label = f"{what}({xi!r}) = {yi!r}, expected {ri!r}"
        if np.isnan(ri):
            assert np.isnan(yi), label
        elif np.isinf(ri) or ri == 0:
            assert yi == ri and np.signbit(yi) == np.signbit(ri), label
        else:
            assert np.isfinite(yi) and yi != 0 and np.signbit(yi) == np.signbit(ri), label


@pytest.mark.parametrize("name", FUNCS)
def test_float32_special_values(vm, name):
    x = SPECIAL_F32
    with np.errstate(all="ignore"):
        if name in ("erf", "erfc", "sigmoid", "softplus"):
            ref = _numpy_reference(vm, name, x).astype(np.float32)
        else:
            ref = getattr(np, name)(x)  # numpy's own float32 loop
    _assert_same_class(vm.f32(name, x), ref, x, f"ag_{name}f")


@pytest.mark.parametrize("name", FUNCS)
def test_float64_special_values(vm, name):
    x = SPECIAL_F64
    with np.errstate(all="ignore"):
        if name in ("erf", "erfc"):
            ref = vm.ref_libm(name, x)
        else:
            ref = _numpy_reference(vm, name, x)  # numpy float64 formulas
    _assert_same_class(vm.f64(name, x), ref, x, f"ag_{name}")


@pytest.mark.parametrize("name", FUNCS)
def test_float64_max_ulp_error(vm, name):
    if vm.lib.AG_TEST_LDBL_MANT_DIG < 64:
        pytest.skip("long double is not wider than double here: no float64 oracle")
    x = _f64_sample()
    hi, lo = vm.ref_long_double(name, x)
    err = _ulp_error_f64(vm.f64(name, x), hi, lo)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND_F64[name], (
        f"ag_{name}: {err[worst]:.3f} ulp at x={float(x[worst])!r} (bound {BOUND_F64[name]})"
    )


def test_float_results_are_exact_at_exact_points(vm):
    """Points where libm's answer is exact: ag_ must hit them exactly."""
    assert vm.f32("exp", np.float32([0.0, -0.0])).tolist() == [1.0, 1.0]
    assert vm.f32("log", np.float32([1.0]))[0] == 0.0
    assert vm.f64("log", np.float64([1.0, 2.0]))[0] == 0.0
    assert vm.f32("sigmoid", np.float32([0.0, -0.0])).tolist() == [0.5, 0.5]
    assert vm.f32("tanh", np.float32([20.0, -20.0])).tolist() == [1.0, -1.0]
    assert vm.f32("erfc", np.float32([-20.0, 20.0])).tolist() == [2.0, 0.0]
    tiny = np.float32([2.0**-149, -(2.0**-149), 1e-30])
    for name in ("expm1", "log1p", "tanh", "erf"):
        y = vm.f32(name, tiny)
        if name == "erf":  # erf(x) ~ 2x/sqrt(pi) for tiny x
            assert np.all(np.sign(y) == np.sign(tiny))
        else:
            assert np.array_equal(y, tiny), name


# ---------------------------------------------------------------- vectorization


@pytest.mark.parametrize("isa", sorted(ISAS))
def test_every_loop_vectorizes(isa, tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH: cannot check gcc's vectorizer report")
    if (
        not sys.platform.startswith("linux")
        or "x86_64"
        not in subprocess.run([gcc, "-dumpmachine"], capture_output=True, text=True).stdout
    ):
        pytest.skip("the flags checked here are for x86-64 gcc")
    lines = ['#include "ag_math.h"']
    where = {}
    for name in FUNCS:
        for suffix, ctype in (("f", "float"), ("", "double")):
            where[len(lines) + 1] = f"ag_{name}{suffix}"
            lines.append(
                f"void loop_{name}{suffix}(const {ctype} *restrict x, "
                f"{ctype} *restrict y, long n) "
                f"{{ for (long i = 0; i < n; i++) y[i] = ag_{name}{suffix}(x[i]); }}"
            )
    src = tmp_path / "vec.c"
    src.write_text("\n".join(lines) + "\n")
    cmd = [
        gcc,
        *BASE_FLAGS,
        *ISAS[isa],
        "-fopt-info-vec-optimized",
        f"-I{RUNTIME_C}",
        "-c",
        str(src),
        "-o",
        str(tmp_path / "vec.o"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    done = {int(m) for m in re.findall(r"vec\.c:(\d+):\d+: optimized: loop vectorized", out.stderr)}
    missing = [fn for line, fn in where.items() if line not in done]
    assert not missing, f"not vectorized with {' '.join(cmd[1:-4])}: {missing}"
